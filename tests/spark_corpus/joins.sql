-- name: jo_inner
SELECT s.id, c.name FROM sd.sales s JOIN sd.customers c ON s.customer_id = c.customer_id;
-- name: jo_left
SELECT s.id, c.name FROM sd.sales s LEFT JOIN sd.customers c ON s.customer_id = c.customer_id;
-- name: jo_right
SELECT s.id, c.name FROM sd.sales s RIGHT JOIN sd.customers c ON s.customer_id = c.customer_id;
-- name: jo_full_outer
SELECT s.id, c.customer_id FROM sd.sales s FULL OUTER JOIN sd.customers c ON s.customer_id = c.customer_id;
-- name: jo_cross
SELECT count(*) AS n FROM sd.customers CROSS JOIN sd.words;
-- name: jo_left_semi
SELECT c.name FROM sd.customers c LEFT SEMI JOIN sd.sales s ON s.customer_id = c.customer_id;
-- name: jo_left_anti
SELECT c.name FROM sd.customers c LEFT ANTI JOIN sd.sales s ON s.customer_id = c.customer_id;
-- name: jo_using
SELECT customer_id, name, id FROM sd.sales JOIN sd.customers USING (customer_id);
-- name: jo_natural
SELECT customer_id, name FROM sd.customers NATURAL JOIN (SELECT DISTINCT customer_id FROM sd.sales) s;
-- name: jo_self
SELECT a.id AS a_id, b.id AS b_id FROM sd.sales a JOIN sd.sales b ON a.customer_id = b.customer_id AND a.id < b.id;
-- name: jo_non_equi
SELECT s.id, c.name FROM sd.sales s JOIN sd.customers c ON s.sold_on < c.signup;
-- name: jo_null_keys_never_match
SELECT count(*) AS n FROM sd.sales a JOIN sd.sales b ON a.channel = b.channel;
-- name: jo_null_safe_equal
SELECT count(*) AS n FROM sd.sales a JOIN sd.sales b ON a.channel <=> b.channel;
-- name: jo_three_way
SELECT s.id, c.name, w.line FROM sd.sales s JOIN sd.customers c ON s.customer_id = c.customer_id
JOIN sd.words w ON w.id = c.customer_id;
-- name: jo_aggregate_subquery
SELECT c.name, t.total FROM sd.customers c JOIN (SELECT customer_id, sum(amount) AS total FROM sd.sales GROUP BY customer_id) t
ON c.customer_id = t.customer_id;
-- name: jo_broadcast_hint
SELECT /*+ BROADCAST(c) */ s.id, c.country FROM sd.sales s JOIN sd.customers c ON s.customer_id = c.customer_id;
-- name: jo_expression_key
SELECT s.id, c.name FROM sd.sales s JOIN sd.customers c ON s.customer_id + 1 = c.customer_id;
-- name: jo_left_join_where_null
SELECT c.name FROM sd.customers c LEFT JOIN sd.sales s ON s.customer_id = c.customer_id WHERE s.id IS NULL;
-- name: jo_join_filter_in_on
SELECT c.name, count(s.id) AS n FROM sd.customers c LEFT JOIN sd.sales s ON s.customer_id = c.customer_id AND s.channel = 'web'
GROUP BY c.name;
-- name: jo_comma_join
SELECT s.id, c.name FROM sd.sales s, sd.customers c WHERE s.customer_id = c.customer_id AND c.country = 'US';
-- name: jo_inline_values
SELECT s.id, m.label FROM sd.sales s JOIN VALUES ('apple', 'A'), ('pear', 'P') AS m(product, label) ON s.product = m.product;
-- name: jo_star_duplicate_names
SELECT * FROM (SELECT 1 AS k, 'a' AS v) a JOIN (SELECT 1 AS k, 'b' AS w) b ON a.k = b.k;
