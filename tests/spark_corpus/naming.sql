-- Unaliased expressions: the output column NAMES must be Spark's.
-- name: nm_cast_next_to_column
SELECT qty, CAST(qty AS DOUBLE) FROM sd.sales WHERE id <= 2;
-- name: nm_plus
SELECT a + b FROM VALUES (1, 2) AS t(a, b);
-- name: nm_int_division
SELECT 7 / 2;
-- name: nm_div_keyword
SELECT 7 DIV 2;
-- name: nm_count_star
SELECT count(*) FROM sd.sales;
-- name: nm_count_distinct
SELECT count(DISTINCT region) FROM sd.sales;
-- name: nm_sum_avg
SELECT sum(qty), avg(qty) FROM sd.sales;
-- name: nm_upper_column
SELECT upper(region) FROM sd.sales WHERE id = 1;
-- name: nm_concat_literals
SELECT concat('a', 'b');
-- name: nm_literals
SELECT 1, 'x', true, 2.5;
-- name: nm_null_literal
SELECT NULL;
-- name: nm_coalesce
SELECT coalesce(qty, 0) FROM sd.sales WHERE id = 9;
-- name: nm_case
SELECT CASE WHEN qty > 2 THEN 'big' ELSE 'small' END FROM sd.sales WHERE id = 1;
-- name: nm_comparison
SELECT qty > 2 FROM sd.sales WHERE id = 1;
-- name: nm_alias_case_kept
SELECT max(price) AS Max_Price FROM sd.sales;
-- name: nm_column_alias_upper
SELECT region AS Region FROM sd.sales WHERE id = 1;
-- name: nm_quoted_alias
SELECT qty AS `Mixed Case` FROM sd.sales WHERE id = 1;
-- name: nm_qualified_column
SELECT s.region FROM sd.sales s WHERE s.id = 1;
-- name: nm_date_format
SELECT date_format(sold_on, 'yyyy') FROM sd.sales WHERE id = 1;
-- name: nm_round
SELECT round(price, 1) FROM sd.sales WHERE id = 1;
-- name: nm_negation
SELECT -qty, NOT vip FROM sd.sales JOIN sd.customers USING (customer_id) WHERE id = 1;
-- name: nm_is_null
SELECT qty IS NULL FROM sd.sales WHERE id = 9;
-- name: nm_row_number
SELECT id, row_number() OVER (ORDER BY id) FROM sd.sales WHERE id <= 2;
-- name: nm_split_subscript
SELECT split('a,b', ',')[0];
-- name: nm_function_casts
SELECT int('1'), string(2), double('3');
-- name: nm_cast_string
SELECT CAST(id AS STRING) FROM sd.sales WHERE id = 1;
-- name: nm_group_by_expression
SELECT product, sum(qty) FROM sd.sales GROUP BY product;
-- name: nm_nvl
SELECT nvl(channel, 'none') FROM sd.sales WHERE id = 4;
-- name: nm_to_date
SELECT to_date('2025-01-16');
-- name: nm_multiply_columns
SELECT price * qty FROM sd.sales WHERE id = 1;
-- name: nm_mixed_case_column_ref
SELECT ID, Region FROM sd.sales WHERE id = 1;
-- name: nm_cte_column
WITH t AS (SELECT 1 AS x) SELECT x + 1 FROM t;
-- name: nm_array_fn
SELECT array(1, 2), size(array(1, 2));
-- name: nm_extract
SELECT year(sold_on), month(sold_on) FROM sd.sales WHERE id = 1;
