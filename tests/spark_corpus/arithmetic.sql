-- name: ar_int_slash_int
-- note: Spark's / is always fractional division (issue 16: 7 / 2 gave 3)
SELECT 7 / 2 AS r;
-- name: ar_div_keyword
SELECT 7 DIV 2 AS r;
-- name: ar_div_keyword_negative
SELECT -7 DIV 2 AS r;
-- name: ar_slash_exact
SELECT 8 / 2 AS r;
-- name: ar_column_ratio
-- note: the seed's conversion_rate = purchases / cart_adds on integer counts
SELECT region, sum(CASE WHEN channel = 'web' THEN 1 ELSE 0 END) / count(*) AS web_share
FROM sd.sales WHERE region IS NOT NULL GROUP BY region;
-- name: ar_conversion_rate
SELECT user_id, count_if(event_type = 'purchase') / count_if(event_type = 'cart') AS conversion_rate
FROM sd.events GROUP BY user_id;
-- name: ar_div_by_zero_null
SELECT 1 / 0 AS r;
-- name: ar_mod_by_zero_null
SELECT 5 % 0 AS r;
-- name: ar_mod_negative
SELECT -7 % 3 AS r;
-- name: ar_pmod
SELECT pmod(-7, 3) AS r;
-- name: ar_mod_function
SELECT mod(17, 5) AS r;
-- name: ar_int_by_decimal
SELECT 10 / 4.0 AS r;
-- name: ar_decimal_add
SELECT 0.1 + 0.2 AS r;
-- name: ar_double_div
SELECT CAST(1 AS DOUBLE) / 3 AS r;
-- name: ar_power
SELECT power(2, 10) AS a, pow(2, 0.5) AS b;
-- name: ar_sqrt_exp_ln
SELECT sqrt(16) AS a, exp(0) AS b, ln(1) AS c, log10(1000) AS d, log2(8) AS e;
-- name: ar_log_base
SELECT log(2, 8) AS r;
-- name: ar_round_half_up
SELECT round(2.5) AS a, round(-2.5) AS b, round(3.14159, 2) AS c;
-- name: ar_round_double
SELECT round(CAST(2.675 AS DOUBLE), 2) AS r;
-- name: ar_round_negative_scale
SELECT round(1234.5, -2) AS r;
-- name: ar_bround
SELECT bround(2.5) AS a, bround(3.5) AS b;
-- name: ar_ceil_floor
SELECT ceil(2.1) AS a, floor(-2.1) AS b, ceiling(2.0) AS c;
-- name: ar_abs_sign
SELECT abs(-3) AS a, signum(-5) AS b, sign(2.5) AS c;
-- name: ar_greatest_least
SELECT greatest(1, 5, 3) AS g, least(1, 5, 3) AS l;
-- name: ar_greatest_null
SELECT greatest(1, NULL, 3) AS g, least(NULL, 2) AS l;
-- name: ar_int_overflow_wraps
SELECT CAST(2147483647 AS INT) + 1 AS r;
-- name: ar_bigint_literal
SELECT 10000000000 * 3 AS r;
-- name: ar_precedence
SELECT 2 + 3 * 4 AS a, (2 + 3) * 4 AS b, 10 - 2 - 3 AS c;
-- name: ar_string_plus_int
SELECT '5' + 3 AS r;
-- name: ar_string_div_string
SELECT '10' / '4' AS r;
-- name: ar_bitwise
SELECT 5 & 3 AS a, 5 | 3 AS b, 5 ^ 3 AS c, ~5 AS d, shiftleft(1, 4) AS e;
-- name: ar_hex_conv
SELECT hex(255) AS h, conv('ff', 16, 10) AS c;
-- name: ar_isnan
SELECT isnan(CAST('NaN' AS DOUBLE)) AS a, isnan(1.0) AS b;
-- name: ar_width_bucket
SELECT width_bucket(5.3, 0.2, 10.6, 5) AS r;
-- name: ar_try_divide
SELECT try_divide(1, 0) AS a, try_divide(6, 4) AS b;
-- name: ar_avg_of_ratio_table
SELECT product, round(sum(amount) / sum(qty), 4) AS unit_price FROM sd.sales GROUP BY product;
-- name: ar_price_times_qty
SELECT id, price * qty AS total FROM sd.sales WHERE qty IS NOT NULL;
-- name: ar_int_times_decimal
SELECT id, qty * amount AS r FROM sd.sales WHERE id <= 4;
-- name: ar_unary_minus_column
SELECT id, -qty AS neg FROM sd.sales WHERE id <= 3;
-- name: ar_e_pi
-- tolerance: 1e-12
SELECT e() AS e, pi() AS p;
-- name: ar_trig
-- tolerance: 1e-9
SELECT sin(0) AS a, cos(0) AS b, atan2(1, 1) AS c, degrees(pi()) AS d, radians(180) AS f;
