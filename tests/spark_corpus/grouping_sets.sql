-- name: gs_rollup
SELECT region, product, sum(qty) AS q FROM sd.sales GROUP BY ROLLUP(region, product);
-- name: gs_cube
SELECT region, channel, count(*) AS n FROM sd.sales GROUP BY CUBE(region, channel);
-- name: gs_grouping_sets
SELECT region, product, count(*) AS n FROM sd.sales GROUP BY GROUPING SETS ((region), (product), ());
-- name: gs_grouping_fn
SELECT region, grouping(region) AS g, sum(qty) AS q FROM sd.sales GROUP BY ROLLUP(region);
-- name: gs_grouping_id
SELECT region, product, grouping_id() AS gid, count(*) AS n FROM sd.sales GROUP BY CUBE(region, product);
-- name: gs_with_rollup
SELECT product, channel, sum(qty) AS q FROM sd.sales GROUP BY product, channel WITH ROLLUP;
-- name: gs_with_cube
SELECT product, channel, count(*) AS n FROM sd.sales GROUP BY product, channel WITH CUBE;
-- name: gs_rollup_ordered
SELECT product, sum(amount) AS total FROM sd.sales GROUP BY ROLLUP(product) ORDER BY product;
-- name: gs_rollup_label_all
SELECT CASE WHEN grouping(product) = 1 THEN 'ALL' ELSE product END AS product, sum(qty) AS q
FROM sd.sales GROUP BY ROLLUP(product);
-- name: gs_rollup_having
SELECT region, product, sum(qty) AS q FROM sd.sales GROUP BY ROLLUP(region, product) HAVING sum(qty) > 10;
-- name: gs_grouping_sets_with_expr
SELECT year(sold_on) AS y, month(sold_on) AS m, count(*) AS n FROM sd.sales
GROUP BY GROUPING SETS ((year(sold_on), month(sold_on)), (year(sold_on)));
-- name: gs_partial_rollup
SELECT channel, region, product, count(*) AS n FROM sd.sales GROUP BY channel, ROLLUP(region, product);
-- name: gs_cube_ordinal
SELECT product, channel, count(*) AS n FROM sd.sales GROUP BY CUBE(1, 2);
