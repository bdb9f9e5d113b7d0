-- name: sq_scalar_subquery
SELECT id, qty - (SELECT avg(qty) FROM sd.sales) AS diff FROM sd.sales WHERE id <= 3;
-- name: sq_in_subquery
SELECT id FROM sd.sales WHERE customer_id IN (SELECT customer_id FROM sd.customers WHERE vip);
-- name: sq_not_in_subquery
SELECT customer_id FROM sd.customers WHERE customer_id NOT IN (SELECT customer_id FROM sd.sales WHERE customer_id IS NOT NULL);
-- name: sq_exists_correlated
SELECT name FROM sd.customers c WHERE EXISTS (SELECT 1 FROM sd.sales s WHERE s.customer_id = c.customer_id AND s.qty > 6);
-- name: sq_not_exists_correlated
SELECT name FROM sd.customers c WHERE NOT EXISTS (SELECT 1 FROM sd.sales s WHERE s.customer_id = c.customer_id);
-- name: sq_correlated_scalar
SELECT c.name, (SELECT sum(s.amount) FROM sd.sales s WHERE s.customer_id = c.customer_id) AS total FROM sd.customers c;
-- name: sq_cte_simple
WITH big AS (SELECT * FROM sd.sales WHERE qty > 5) SELECT count(*) AS n FROM big;
-- name: sq_cte_multiple
WITH a AS (SELECT region, sum(qty) AS q FROM sd.sales GROUP BY region),
     b AS (SELECT max(q) AS m FROM a)
SELECT a.region FROM a JOIN b ON a.q = b.m;
-- name: sq_cte_chain
WITH base AS (SELECT id, qty FROM sd.sales), doubled AS (SELECT id, qty * 2 AS q2 FROM base)
SELECT sum(q2) AS s FROM doubled;
-- name: sq_cte_in_subquery
SELECT * FROM (WITH t AS (SELECT 1 AS x) SELECT x FROM t) sub;
-- name: sq_derived_table
SELECT region, n FROM (SELECT region, count(*) AS n FROM sd.sales GROUP BY region) t WHERE n > 2;
-- name: sq_derived_no_alias
SELECT max(n) AS m FROM (SELECT count(*) AS n FROM sd.sales GROUP BY product);
-- name: sq_union_all
SELECT 1 AS x UNION ALL SELECT 1 UNION ALL SELECT 2;
-- name: sq_union_distinct
SELECT 1 AS x UNION SELECT 1 UNION SELECT 2;
-- name: sq_intersect_except
SELECT product FROM sd.sales WHERE region = 'north' INTERSECT SELECT product FROM sd.sales WHERE region = 'south';
-- name: sq_except
SELECT product FROM sd.sales EXCEPT SELECT product FROM sd.sales WHERE region = 'west';
-- name: sq_except_all
SELECT x FROM VALUES (1), (1), (2) AS t(x) EXCEPT ALL SELECT x FROM VALUES (1) AS u(x);
-- name: sq_inline_table_spark
SELECT * FROM VALUES (1, 'a'), (2, 'b') AS t(id, name);
-- name: sq_inline_table_parenthesized
SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, name);
-- name: sq_values_statement
VALUES (1, 'a'), (2, 'b');
-- name: sq_range
SELECT id FROM range(5);
-- name: sq_range_step
SELECT id FROM range(1, 10, 3);
-- name: sq_limit_order
SELECT id FROM sd.sales ORDER BY amount DESC LIMIT 3;
-- name: sq_offset
SELECT id FROM sd.sales ORDER BY id LIMIT 2 OFFSET 3;
-- name: sq_cte_reused_twice
WITH t AS (SELECT region, sum(qty) AS q FROM sd.sales GROUP BY region)
SELECT a.region, a.q - b.q AS d FROM t a JOIN t b ON a.region = 'north' AND b.region = 'south';
-- name: sq_in_list_strings
SELECT count(*) AS n FROM sd.sales WHERE product IN ('apple', 'pear');
-- name: sq_case_searched
SELECT id, CASE WHEN qty >= 8 THEN 'big' WHEN qty >= 4 THEN 'mid' ELSE 'small' END AS size FROM sd.sales;
-- name: sq_case_simple
SELECT id, CASE product WHEN 'apple' THEN 1 WHEN 'pear' THEN 2 ELSE 0 END AS code FROM sd.sales;
-- name: sq_order_by_alias_expr
SELECT product, sum(qty) AS q FROM sd.sales GROUP BY product ORDER BY q DESC;
-- name: sq_order_by_ordinal
SELECT product, count(*) AS n FROM sd.sales GROUP BY product ORDER BY 2 DESC, 1;
-- name: sq_sort_by
SELECT id FROM sd.sales WHERE id < 4 SORT BY id;
-- name: sq_select_star_except_where
SELECT * FROM sd.customers WHERE country = 'US';
-- name: sq_between_numbers
SELECT id FROM sd.sales WHERE price BETWEEN 1 AND 2;
-- name: sq_tablesample_free_limit
SELECT count(*) AS n FROM (SELECT * FROM sd.sales LIMIT 5);
