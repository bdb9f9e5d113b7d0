-- name: ca_function_style
SELECT int('42') AS a, string(42) AS b, double('1.5') AS c;
-- name: ca_function_style_more
SELECT bigint('7') AS a, boolean('true') AS b, float('1.5') AS c, smallint('3') AS d;
-- name: ca_function_style_dates
SELECT date('2025-01-16') AS d, timestamp('2025-01-16 10:00:00') AS t;
-- name: ca_function_style_column
SELECT id, int(price) AS p, string(qty) AS q FROM sd.sales WHERE id <= 3;
-- name: ca_bad_string_to_int_null
SELECT CAST('abc' AS INT) AS r;
-- name: ca_decimal_string_to_int
SELECT CAST('3.7' AS INT) AS r;
-- name: ca_double_to_int_truncates
SELECT CAST(3.7 AS INT) AS a, CAST(-3.7 AS INT) AS b;
-- name: ca_padded_string_to_int
SELECT CAST(' 42 ' AS INT) AS r;
-- name: ca_blank_string_to_int
SELECT CAST('  ' AS INT) AS r;
-- name: ca_double_overflow_int
SELECT CAST(1.5e10 AS INT) AS r;
-- name: ca_string_to_boolean
SELECT CAST('true' AS BOOLEAN) AS a, CAST('yes' AS BOOLEAN) AS b, CAST('0' AS BOOLEAN) AS c, CAST('maybe' AS BOOLEAN) AS d;
-- name: ca_int_to_boolean
SELECT CAST(0 AS BOOLEAN) AS a, CAST(2 AS BOOLEAN) AS b;
-- name: ca_boolean_to_int
SELECT CAST(true AS INT) AS r;
-- name: ca_decimal_scale
SELECT CAST(1.23456 AS DECIMAL(5,2)) AS a, CAST(1.235 AS DECIMAL(5,2)) AS b;
-- name: ca_decimal_overflow_null
SELECT CAST(123456.7 AS DECIMAL(5,2)) AS r;
-- name: ca_int_to_string
SELECT CAST(12 AS STRING) AS r;
-- name: ca_decimal_to_string
SELECT CAST(1.50 AS STRING) AS r;
-- name: ca_double_to_string
SELECT CAST(CAST(1 AS DOUBLE) AS STRING) AS a, CAST(CAST(0.1 AS DOUBLE) AS STRING) AS b;
-- name: ca_big_double_to_string
SELECT CAST(CAST(1e20 AS DOUBLE) AS STRING) AS r;
-- name: ca_date_to_timestamp
SELECT CAST(DATE '2025-01-16' AS TIMESTAMP) AS r;
-- name: ca_timestamp_to_date
SELECT CAST(TIMESTAMP '2025-01-16 10:00:00' AS DATE) AS r;
-- name: ca_iso_string_to_timestamp
SELECT CAST('2025-01-16T10:00:00' AS TIMESTAMP) AS r;
-- name: ca_epoch_to_timestamp
SELECT CAST(1737021600 AS TIMESTAMP) AS r;
-- name: ca_timestamp_to_bigint
SELECT CAST(TIMESTAMP '2025-01-16 10:00:00' AS BIGINT) AS r;
-- name: ca_qty_to_double
SELECT id, CAST(qty AS DOUBLE) AS q FROM sd.sales WHERE id <= 3;
-- name: ca_implicit_string_eq_int
SELECT 1 = '1' AS a, '1.0' = 1 AS b;
-- name: ca_implicit_column_vs_string
SELECT count(*) AS n FROM sd.sales WHERE qty > '4';
-- name: ca_cast_null
SELECT CAST(NULL AS INT) AS r;
-- name: ca_typeof
SELECT typeof(1) AS a, typeof(1.5) AS b, typeof('x') AS c;
-- name: ca_array_cast
SELECT CAST(array(1, 2) AS ARRAY<STRING>) AS r;
-- name: ca_sci_string_to_double
SELECT CAST('1e3' AS DOUBLE) AS r;
-- name: ca_invalid_date_null
SELECT CAST('2025-02-30' AS DATE) AS r;
-- name: ca_double_to_bigint
SELECT CAST(3.99 AS BIGINT) AS r;
-- name: ca_sum_string_column
SELECT sum(CAST(s AS INT)) AS total FROM sd.nums;
-- name: ca_string_column_to_double
SELECT id, CAST(s AS DOUBLE) AS d FROM sd.nums;
-- name: ca_decimal_arith_type
SELECT CAST(10 AS DECIMAL(10,2)) / 3 AS r;
-- name: ca_string_number_in_sum
SELECT sum(s) AS r FROM sd.nums WHERE id IN (1, 4);
-- name: ca_timestamp_ntz
SELECT CAST('2025-01-16 10:00:00' AS TIMESTAMP_NTZ) AS r;
-- name: ca_binary_string
SELECT CAST(CAST('abc' AS BINARY) AS STRING) AS r;
-- name: ca_tinyint_overflow
SELECT CAST(300 AS TINYINT) AS r;
