-- name: nu_nvl
SELECT nvl(NULL, 'x') AS a, nvl('y', 'x') AS b;
-- name: nu_nvl2
SELECT nvl2(NULL, 'a', 'b') AS a, nvl2(1, 'a', 'b') AS b;
-- name: nu_ifnull_coalesce
SELECT ifnull(NULL, 2) AS a, coalesce(NULL, NULL, 3) AS b;
-- name: nu_nullif
SELECT nullif(1, 1) AS a, nullif(1, 2) AS b;
-- name: nu_isnull_fns
SELECT isnull(NULL) AS a, isnotnull(1) AS b;
-- name: nu_null_eq_null
SELECT NULL = NULL AS a, NULL <=> NULL AS b, 1 <=> NULL AS c;
-- name: nu_equal_null
SELECT equal_null(NULL, NULL) AS r;
-- name: nu_count_col_vs_star
SELECT count(*) AS a, count(qty) AS b, count(region) AS c FROM sd.sales;
-- name: nu_sum_all_null
SELECT sum(qty) AS s, avg(qty) AS a FROM sd.sales WHERE qty IS NULL;
-- name: nu_in_list_with_null
SELECT 1 IN (2, NULL) AS a, 2 IN (2, NULL) AS b;
-- name: nu_not_in_subquery_with_null
SELECT count(*) AS n FROM sd.sales WHERE customer_id NOT IN (SELECT customer_id FROM sd.sales WHERE id = 6);
-- name: nu_order_asc_nulls
SELECT region FROM sd.sales ORDER BY region, id;
-- name: nu_order_desc_nulls
SELECT id, qty FROM sd.sales ORDER BY qty DESC, id;
-- name: nu_order_nulls_last_explicit
SELECT id, qty FROM sd.sales ORDER BY qty ASC NULLS LAST, id;
-- name: nu_nanvl
SELECT nanvl(CAST('NaN' AS DOUBLE), 0.0) AS a, nanvl(1.5, 0.0) AS b;
-- name: nu_if_null_condition
SELECT if(NULL, 1, 2) AS r;
-- name: nu_case_null
SELECT CASE WHEN CAST(NULL AS BOOLEAN) THEN 'yes' ELSE 'no' END AS r;
-- name: nu_null_plus
SELECT NULL + 1 AS r;
-- name: nu_group_by_null_key
SELECT region, count(*) AS n FROM sd.sales GROUP BY region;
-- name: nu_distinct_nulls
SELECT DISTINCT channel FROM sd.sales;
-- name: nu_coalesce_columns
SELECT id, coalesce(channel, region, 'none') AS c FROM sd.sales WHERE id IN (4, 10);
-- name: nu_string_null_text
SELECT 'NULL' AS s, NULL AS n;
-- name: nu_count_distinct_nulls
SELECT count(DISTINCT channel) AS r FROM sd.sales;
-- name: nu_max_of_null_group
SELECT product, max(qty) AS m FROM sd.sales WHERE region = 'south' GROUP BY product;
-- name: nu_where_null_compare
SELECT count(*) AS n FROM sd.sales WHERE channel <> 'web';
-- name: nu_isnull_operator
SELECT id FROM sd.sales WHERE channel IS NULL OR region IS NULL;
-- name: nu_nulls_in_window_order
SELECT id, row_number() OVER (ORDER BY region, id) AS rn FROM sd.sales;
-- name: nu_zero_divide_in_agg
SELECT sum(qty) / sum(CASE WHEN 1 = 0 THEN 1 END) AS r FROM sd.sales;
-- name: nu_boolean_null_logic
SELECT NULL AND false AS a, NULL OR true AS b, NOT NULL AS c;
