-- name: ag_count_distinct_two_columns
SELECT count(DISTINCT region, product) AS r FROM sd.sales;
-- name: ag_count_distinct
SELECT count(DISTINCT region) AS r FROM sd.sales;
-- name: ag_approx_count_distinct
SELECT approx_count_distinct(product) AS r FROM sd.sales;
-- name: ag_basic
SELECT sum(qty) AS s, avg(qty) AS a, min(price) AS mn, max(price) AS mx, count(*) AS n FROM sd.sales;
-- name: ag_avg_int_is_fractional
SELECT region, avg(qty) AS a FROM sd.sales GROUP BY region;
-- name: ag_sum_decimal
SELECT sum(amount) AS s, avg(amount) AS a FROM sd.sales;
-- name: ag_variance
-- tolerance: 1e-9
SELECT variance(qty) AS v, var_samp(qty) AS vs, var_pop(qty) AS vp FROM sd.sales;
-- name: ag_stddev
-- tolerance: 1e-9
SELECT stddev(price) AS s, stddev_samp(price) AS ss, stddev_pop(price) AS sp, std(price) AS st FROM sd.sales;
-- name: ag_variance_single_row
SELECT var_samp(qty) AS v, stddev(qty) AS s FROM sd.sales WHERE id = 1;
-- name: ag_percentile_approx
SELECT percentile_approx(qty, 0.5) AS p FROM sd.sales;
-- name: ag_percentile_approx_array
SELECT percentile_approx(price, array(0.25, 0.5, 0.75)) AS p FROM sd.sales;
-- name: ag_approx_percentile_grouped
SELECT region, approx_percentile(qty, 0.5) AS p FROM sd.sales GROUP BY region;
-- name: ag_percentile_exact
SELECT percentile(qty, 0.5) AS p FROM sd.sales;
-- name: ag_median
SELECT median(price) AS m FROM sd.sales;
-- name: ag_mode
SELECT mode(product) AS m FROM sd.sales;
-- name: ag_max_by_min_by
SELECT max_by(product, qty) AS top, min_by(id, price) AS cheapest FROM sd.sales;
-- name: ag_count_if
SELECT count_if(channel = 'web') AS web, count_if(qty > 5) AS big FROM sd.sales;
-- name: ag_bool_aggs
SELECT bool_and(qty > 0) AS a, bool_or(qty > 9) AS b, every(price > 0) AS c, some(qty > 100) AS d FROM sd.sales;
-- name: ag_corr_covar
-- tolerance: 1e-9
SELECT corr(qty, price) AS c, covar_samp(qty, price) AS cs, covar_pop(qty, price) AS cp FROM sd.sales;
-- name: ag_skew_kurt
-- tolerance: 1e-9
SELECT skewness(qty) AS s, kurtosis(qty) AS k FROM sd.sales;
-- name: ag_having
SELECT product, sum(qty) AS q FROM sd.sales GROUP BY product HAVING sum(qty) > 15;
-- name: ag_having_alias
SELECT product, sum(qty) AS q FROM sd.sales GROUP BY product HAVING q > 15;
-- name: ag_group_by_ordinal
SELECT region, product, count(*) AS n FROM sd.sales GROUP BY 1, 2;
-- name: ag_group_by_alias
SELECT upper(product) AS p, count(*) AS n FROM sd.sales GROUP BY p;
-- name: ag_filter_clause
SELECT count(*) FILTER (WHERE channel = 'store') AS store, sum(qty) FILTER (WHERE region = 'north') AS north FROM sd.sales;
-- name: ag_sum_case
SELECT sum(CASE WHEN channel = 'web' THEN amount ELSE 0 END) AS web_amount FROM sd.sales;
-- name: ag_avg_distinct
SELECT avg(DISTINCT qty) AS a, sum(DISTINCT qty) AS s FROM sd.sales;
-- name: ag_concat_ws_collect
SELECT region, concat_ws(',', sort_array(collect_list(product))) AS products FROM sd.sales GROUP BY region;
-- name: ag_empty_input
SELECT sum(qty) AS s, count(*) AS n, max(region) AS m FROM sd.sales WHERE id > 100;
-- name: ag_empty_input_grouped
SELECT region, count(*) AS n FROM sd.sales WHERE id > 100 GROUP BY region;
-- name: ag_min_max_strings_dates
SELECT min(region) AS a, max(product) AS b, min(sold_on) AS c, max(sold_on) AS d FROM sd.sales;
-- name: ag_round_avg
SELECT product, round(avg(price), 2) AS p FROM sd.sales GROUP BY product;
-- name: ag_first_last_ignore_nulls
SELECT first(qty, true) AS f, last(qty, true) AS l FROM (SELECT qty FROM sd.sales WHERE id IN (9, 10) ORDER BY id);
-- name: ag_any_value
SELECT region, any_value(region) AS r FROM sd.sales WHERE region = 'west' GROUP BY region;
-- name: ag_sum_over_empty_group_by_all
SELECT count(*) AS n FROM (SELECT product FROM sd.sales GROUP BY product);
-- name: ag_distinct_select
SELECT DISTINCT region, product FROM sd.sales WHERE region = 'north';
-- name: ag_count_star_join
SELECT c.country, count(*) AS n FROM sd.sales s JOIN sd.customers c ON s.customer_id = c.customer_id GROUP BY c.country;
-- name: ag_sum_bigint_type
SELECT sum(id) AS s FROM sd.sales;
-- name: ag_avg_integer_division_free
SELECT sum(qty) / count(qty) AS r FROM sd.sales;
-- name: ag_nested_agg_subquery
SELECT max(n) AS m FROM (SELECT product, count(*) AS n FROM sd.sales GROUP BY product);
