-- timezone: America/New_York
-- Both sessions in America/New_York (Spark: SET TIME ZONE; the kernel:
-- SET datafusion.execution.time_zone). Timestamps compare as wall-clock text in that zone.
-- name: dz_hour_of_literal
SELECT hour(TIMESTAMP '2025-01-16 10:00:00') AS h;
-- name: dz_literal_wall_clock
SELECT TIMESTAMP '2025-07-01 12:00:00' AS t;
-- name: dz_date_format_literal
SELECT date_format(TIMESTAMP '2025-01-16 10:00:00', 'yyyy-MM-dd HH:mm') AS r;
-- name: dz_from_unixtime_zero
SELECT from_unixtime(0) AS r;
-- name: dz_unix_timestamp_string
SELECT unix_timestamp('2025-01-16 10:00:00') AS r;
-- name: dz_timestamp_seconds
SELECT timestamp_seconds(0) AS r;
-- name: dz_cast_ts_to_date
SELECT CAST(TIMESTAMP '2025-01-16 23:30:00' AS DATE) AS r;
-- name: dz_stored_instants_hour
SELECT id, hour(sold_at) AS h FROM sd.sales WHERE id IN (1, 3, 4);
-- name: dz_stored_instants_to_date
SELECT id, to_date(sold_at) AS d FROM sd.sales WHERE id IN (3, 4, 6);
-- name: dz_stored_instants_format
SELECT id, date_format(sold_at, 'yyyy-MM-dd HH:mm') AS f FROM sd.sales WHERE id IN (1, 3);
-- name: dz_stored_instants_raw
SELECT id, sold_at FROM sd.sales WHERE id IN (1, 3, 4);
-- name: dz_date_trunc_day
SELECT date_trunc('day', TIMESTAMP '2025-01-16 02:00:00') AS r;
-- name: dz_dst_gap
SELECT unix_timestamp('2025-03-09 03:30:00') - unix_timestamp('2025-03-09 01:30:00') AS seconds;
-- name: dz_current_timezone
SELECT current_timezone() AS tz;
-- name: dz_cast_string_to_ts
SELECT CAST('2025-01-16 10:00:00' AS TIMESTAMP) AS t;
-- name: dz_events_per_local_day
SELECT to_date(ts) AS day, count(*) AS n FROM sd.events GROUP BY to_date(ts) ORDER BY day;
-- name: dz_to_utc
SELECT to_utc_timestamp(TIMESTAMP '2025-01-16 10:00:00', 'America/New_York') AS r;
-- name: dz_unix_timestamp_column
SELECT user_id, unix_timestamp(ts) AS epoch FROM sd.events WHERE user_id = 3;
