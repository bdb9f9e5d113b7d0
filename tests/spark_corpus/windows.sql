-- name: wi_row_number
SELECT id, region, row_number() OVER (PARTITION BY region ORDER BY amount DESC, id) AS rn FROM sd.sales;
-- name: wi_rank_dense_rank
SELECT id, product, rank() OVER (PARTITION BY product ORDER BY price) AS r,
  dense_rank() OVER (PARTITION BY product ORDER BY price) AS dr FROM sd.sales;
-- name: wi_percent_rank_cume_dist
SELECT id, percent_rank() OVER (ORDER BY id) AS pr, cume_dist() OVER (ORDER BY id) AS cd FROM sd.sales;
-- name: wi_ntile
SELECT id, ntile(3) OVER (ORDER BY id) AS t FROM sd.sales;
-- name: wi_lag_lead
SELECT id, lag(qty) OVER (ORDER BY id) AS prev, lead(qty, 1, 0) OVER (ORDER BY id) AS nxt FROM sd.sales;
-- name: wi_lag_two
SELECT id, lag(id, 2) OVER (ORDER BY id) AS r FROM sd.sales;
-- name: wi_running_sum_rows
SELECT id, region, sum(qty) OVER (PARTITION BY region ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run
FROM sd.sales;
-- name: wi_running_sum_default_frame
SELECT id, sold_on, sum(qty) OVER (ORDER BY sold_on) AS run FROM sd.sales;
-- name: wi_moving_avg
SELECT id, avg(price) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS ma FROM sd.sales;
-- name: wi_first_last_value
SELECT id, region, first_value(product) OVER (PARTITION BY region ORDER BY id) AS f,
  last_value(product) OVER (PARTITION BY region ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS l
FROM sd.sales;
-- name: wi_last_value_default_frame
SELECT id, last_value(id) OVER (ORDER BY id) AS l FROM sd.sales;
-- name: wi_nth_value
SELECT id, nth_value(id, 2) OVER (ORDER BY id) AS n FROM sd.sales;
-- name: wi_count_over_all
SELECT id, count(*) OVER () AS total FROM sd.sales;
-- name: wi_sum_over_partition
SELECT id, region, sum(qty) OVER (PARTITION BY region) AS region_qty FROM sd.sales;
-- name: wi_top_n_per_group
SELECT region, product, amount FROM (
  SELECT region, product, amount, row_number() OVER (PARTITION BY region ORDER BY amount DESC, id) AS rn FROM sd.sales
) WHERE rn = 1;
-- name: wi_named_window
SELECT id, sum(qty) OVER w AS s, max(qty) OVER w AS m FROM sd.sales WINDOW w AS (PARTITION BY product ORDER BY id);
-- name: wi_share_of_total
SELECT id, round(qty / sum(qty) OVER (PARTITION BY region), 4) AS share FROM sd.sales WHERE region IS NOT NULL;
-- name: wi_avg_over_partition
SELECT id, avg(qty) OVER (PARTITION BY product) AS a FROM sd.sales;
-- name: wi_session_start_flag
SELECT user_id, ts, CASE WHEN lag(ts) OVER (PARTITION BY user_id ORDER BY ts) IS NULL
  OR unix_timestamp(ts) - unix_timestamp(lag(ts) OVER (PARTITION BY user_id ORDER BY ts)) > 1800 THEN 1 ELSE 0 END AS new_session
FROM sd.events;
-- name: wi_sessionize
SELECT user_id, ts, sum(new_session) OVER (PARTITION BY user_id ORDER BY ts) AS session_id FROM (
  SELECT user_id, ts, CASE WHEN unix_timestamp(ts) - unix_timestamp(lag(ts) OVER (PARTITION BY user_id ORDER BY ts)) <= 1800
    THEN 0 ELSE 1 END AS new_session FROM sd.events);
-- name: wi_row_number_nulls_order
SELECT id, qty, row_number() OVER (ORDER BY qty, id) AS rn FROM sd.sales;
-- name: wi_range_frame
SELECT id, sum(id) OVER (ORDER BY id RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM sd.sales;
-- name: wi_dedupe_latest
SELECT user_id, event_type, ts FROM (
  SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY ts DESC) AS rn FROM sd.events) WHERE rn = 1;
-- name: wi_diff_from_previous
SELECT id, amount - lag(amount) OVER (ORDER BY id) AS delta FROM sd.sales;
-- name: wi_max_per_partition_filter
SELECT id, region, qty FROM (SELECT *, max(qty) OVER (PARTITION BY region) AS mq FROM sd.sales) WHERE qty = mq;
-- name: wi_cumulative_count_distinct_days
SELECT user_id, count(*) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n, ts
FROM sd.events;
