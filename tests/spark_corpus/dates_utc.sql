-- name: du_date_format_year_month
SELECT date_format(TIMESTAMP '2025-01-16 10:05:03', 'yyyy-MM') AS r;
-- name: du_date_format_full
SELECT date_format(TIMESTAMP '2025-01-16 10:05:03', 'yyyy-MM-dd HH:mm:ss') AS r;
-- name: du_date_format_day_names
SELECT date_format(DATE '2025-01-16', 'EEE') AS a, date_format(DATE '2025-01-16', 'EEEE') AS b;
-- name: du_date_format_month_name
SELECT date_format(DATE '2025-01-16', 'MMM dd, yyyy') AS a, date_format(DATE '2025-01-16', 'MMMM') AS b;
-- name: du_date_format_compact
SELECT date_format(sold_on, 'yyyyMMdd') AS d FROM sd.sales WHERE id <= 3;
-- name: du_date_format_ampm
SELECT date_format(TIMESTAMP '2025-01-16 15:05:00', 'hh:mm a') AS r;
-- name: du_date_format_string_input
SELECT date_format('2025-01-16', 'dd/MM/yyyy') AS r;
-- name: du_date_format_group_month
SELECT date_format(sold_on, 'yyyy-MM') AS m, sum(qty) AS q FROM sd.sales
WHERE sold_on IS NOT NULL GROUP BY date_format(sold_on, 'yyyy-MM') ORDER BY m;
-- name: du_from_unixtime_fmt
SELECT from_unixtime(0, 'yyyy-MM-dd') AS r;
-- name: du_from_unixtime_default
SELECT from_unixtime(1700000000) AS r;
-- name: du_unix_timestamp_string
SELECT unix_timestamp('2025-01-16 10:00:00') AS r;
-- name: du_unix_timestamp_fmt
SELECT unix_timestamp('16/01/2025', 'dd/MM/yyyy') AS r;
-- name: du_unix_timestamp_ts
SELECT unix_timestamp(TIMESTAMP '2025-01-16 10:00:00') AS r;
-- name: du_unix_timestamp_column
SELECT user_id, unix_timestamp(ts) AS epoch FROM sd.events WHERE user_id = 1;
-- name: du_to_date_string
SELECT to_date('2025-01-16') AS r;
-- name: du_to_date_fmt
SELECT to_date('16/01/2025', 'dd/MM/yyyy') AS r;
-- name: du_to_date_ts
SELECT to_date(TIMESTAMP '2025-01-16 23:59:59') AS a, to_date('2025-01-16 10:00:00') AS b;
-- name: du_to_date_invalid
SELECT to_date('not a date') AS r;
-- name: du_to_timestamp_string
SELECT to_timestamp('2025-01-16 10:00:00') AS r;
-- name: du_to_timestamp_fmt
SELECT to_timestamp('16/01/2025 10:30', 'dd/MM/yyyy HH:mm') AS r;
-- name: du_date_add_string
SELECT date_add('2025-01-30', 5) AS a, date_sub(DATE '2025-03-01', 1) AS b;
-- name: du_datediff
SELECT datediff('2025-03-01', '2025-01-01') AS a, datediff(DATE '2025-01-01', DATE '2025-01-10') AS b;
-- name: du_months_between
SELECT months_between('2025-03-15', '2025-01-15') AS a, months_between(DATE '2025-03-01', DATE '2025-01-16') AS b;
-- name: du_add_months
SELECT add_months(DATE '2025-01-31', 1) AS a, add_months('2025-03-15', -3) AS b;
-- name: du_last_next_day
SELECT last_day(DATE '2024-02-10') AS l, next_day(DATE '2025-01-16', 'Mon') AS n;
-- name: du_trunc_date
SELECT trunc(DATE '2025-05-17', 'MM') AS m, trunc(DATE '2025-05-17', 'year') AS y;
-- name: du_date_trunc
SELECT date_trunc('month', TIMESTAMP '2025-05-17 10:11:12') AS m, date_trunc('hour', TIMESTAMP '2025-05-17 10:11:12') AS h;
-- name: du_date_trunc_week
SELECT date_trunc('week', TIMESTAMP '2025-05-17 10:11:12') AS w;
-- name: du_parts
SELECT year(ts) AS y, month(ts) AS m, day(ts) AS d, dayofmonth(ts) AS dm, hour(ts) AS h, minute(ts) AS mi, second(ts) AS s
FROM (SELECT TIMESTAMP '2025-01-16 10:05:03' AS ts);
-- name: du_dayofweek
SELECT dayofweek(DATE '2025-01-16') AS a, weekday(DATE '2025-01-16') AS b, dayofweek(DATE '2025-01-19') AS c;
-- name: du_dayofyear
SELECT dayofyear(DATE '2025-02-01') AS r;
-- name: du_weekofyear
SELECT weekofyear(DATE '2025-01-01') AS a, weekofyear(DATE '2024-12-30') AS b, weekofyear(DATE '2021-01-03') AS c;
-- name: du_quarter
SELECT quarter(DATE '2025-05-17') AS r;
-- name: du_extract
SELECT extract(YEAR FROM DATE '2025-05-17') AS y, extract(MONTH FROM TIMESTAMP '2025-05-17 10:00:00') AS m;
-- name: du_date_part
SELECT date_part('day', DATE '2025-05-17') AS r;
-- name: du_make_date
SELECT make_date(2025, 2, 28) AS d, make_timestamp(2025, 1, 16, 10, 0, 0) AS t;
-- name: du_date_vs_string
SELECT DATE '2025-01-16' > '2025-01-01' AS r;
-- name: du_filter_date_string
SELECT count(*) AS n FROM sd.sales WHERE sold_on >= '2025-02-01';
-- name: du_filter_ts_string
SELECT count(*) AS n FROM sd.sales WHERE sold_at < '2025-01-08';
-- name: du_between_dates
SELECT id FROM sd.sales WHERE sold_on BETWEEN '2025-01-07' AND '2025-02-01';
-- name: du_cast_string_date
SELECT CAST('2025-01-16' AS DATE) AS r;
-- name: du_ts_plus_interval
SELECT TIMESTAMP '2025-01-16 10:00:00' + INTERVAL 2 HOURS AS r;
-- name: du_date_plus_interval
SELECT DATE '2025-01-16' + INTERVAL 1 DAY AS r;
-- name: du_date_plus_int
SELECT DATE '2025-01-16' + 1 AS r;
-- name: du_ts_minus_interval_days
SELECT TIMESTAMP '2025-03-01 00:00:00' - INTERVAL '3' DAY AS r;
-- name: du_current_date_structural
SELECT current_date() = current_date() AS a, current_timestamp() IS NOT NULL AS b;
-- name: du_from_utc_timestamp
SELECT from_utc_timestamp(TIMESTAMP '2025-01-16 10:00:00', 'America/New_York') AS a,
  to_utc_timestamp(TIMESTAMP '2025-01-16 10:00:00', 'Europe/Paris') AS b;
-- name: du_timestamp_seconds
SELECT timestamp_seconds(0) AS a, timestamp_millis(1000) AS b;
-- name: du_date_from_unix_date
SELECT date_from_unix_date(1) AS a, unix_date(DATE '1970-01-11') AS b;
-- name: du_cast_ts_to_string
SELECT CAST(TIMESTAMP '2025-01-16 10:00:00' AS STRING) AS a, CAST(DATE '2025-01-16' AS STRING) AS b;
-- name: du_hour_of_string
SELECT hour('2025-01-16 10:05:00') AS r;
-- name: du_session_gap_minutes
SELECT user_id, ts, (unix_timestamp(ts) - unix_timestamp(lag(ts) OVER (PARTITION BY user_id ORDER BY ts))) / 60 AS gap_min
FROM sd.events;
-- name: du_events_per_day
SELECT to_date(ts) AS day, count(*) AS n FROM sd.events GROUP BY to_date(ts) ORDER BY day;
-- name: du_timestampadd_diff
SELECT timestampadd(HOUR, 3, TIMESTAMP '2025-01-16 10:00:00') AS a,
  timestampdiff(MINUTE, TIMESTAMP '2025-01-16 10:00:00', TIMESTAMP '2025-01-16 12:30:00') AS b;
-- name: du_dateadd_alias
SELECT dateadd(DATE '2025-01-16', 10) AS r;
-- name: du_ts_literal_fraction
SELECT TIMESTAMP '2025-01-16 10:00:00.123456' AS r;
-- name: du_date_sequence
SELECT explode(sequence(DATE '2025-01-01', DATE '2025-01-03', INTERVAL 1 DAY)) AS d;
-- name: du_max_min_dates
SELECT min(sold_on) AS first_day, max(sold_at) AS last_ts FROM sd.sales;
