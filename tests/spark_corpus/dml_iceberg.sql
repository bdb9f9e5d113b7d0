-- Every idiom writes its own sd.d_* table (each engine on its own Nessie branch), then shows it.
-- name: dml_create_insert_values
CREATE TABLE sd.d_basic (id BIGINT, name STRING, amount DOUBLE) USING iceberg;
INSERT INTO sd.d_basic VALUES (1, 'a', 1.5), (2, NULL, NULL), (3, 'c', -2.0);
SELECT * FROM sd.d_basic ORDER BY id;
-- name: dml_insert_from_values_alias
CREATE TABLE sd.d_vals (d INT) USING iceberg;
INSERT INTO sd.d_vals SELECT d FROM (VALUES (1), (2)) AS v(d);
SELECT * FROM sd.d_vals ORDER BY d;
-- name: dml_insert_from_values_two_cols
CREATE TABLE sd.d_vals2 (id BIGINT, label STRING) USING iceberg;
INSERT INTO sd.d_vals2 SELECT id * 10, upper(label) FROM VALUES (1, 'x'), (2, 'y') AS v(id, label);
SELECT * FROM sd.d_vals2 ORDER BY id;
-- name: dml_with_insert
CREATE TABLE sd.d_with (region STRING, q BIGINT) USING iceberg;
WITH agg AS (SELECT region, sum(qty) AS q FROM sd.sales WHERE region IS NOT NULL GROUP BY region)
INSERT INTO sd.d_with SELECT region, q FROM agg;
SELECT * FROM sd.d_with ORDER BY region;
-- name: dml_insert_select_agg
CREATE TABLE sd.d_agg (product STRING, n BIGINT) USING iceberg;
INSERT INTO sd.d_agg SELECT product, count(*) FROM sd.sales GROUP BY product;
SELECT * FROM sd.d_agg ORDER BY product;
-- name: dml_insert_column_list
CREATE TABLE sd.d_cols (id BIGINT, name STRING, note STRING) USING iceberg;
INSERT INTO sd.d_cols (name, note, id) VALUES ('a', NULL, 1);
SELECT * FROM sd.d_cols;
-- name: dml_insert_int_into_double
CREATE TABLE sd.d_widen (x DOUBLE) USING iceberg;
INSERT INTO sd.d_widen VALUES (1), (2);
SELECT * FROM sd.d_widen ORDER BY x;
-- name: dml_ctas
CREATE TABLE sd.d_ctas USING iceberg AS SELECT region, sum(amount) AS total FROM sd.sales GROUP BY region;
SELECT * FROM sd.d_ctas;
-- name: dml_create_or_replace_as
CREATE TABLE sd.d_cor (x INT) USING iceberg;
CREATE OR REPLACE TABLE sd.d_cor USING iceberg AS SELECT 42 AS y;
SELECT * FROM sd.d_cor;
-- name: dml_partitioned_days
CREATE TABLE sd.d_part (id BIGINT, ts TIMESTAMP) USING iceberg PARTITIONED BY (days(ts));
INSERT INTO sd.d_part SELECT id, sold_at FROM sd.sales WHERE id <= 4;
SELECT * FROM sd.d_part ORDER BY id;
-- name: dml_insert_overwrite
CREATE TABLE sd.d_over (id BIGINT) USING iceberg;
INSERT INTO sd.d_over VALUES (1), (2), (3);
INSERT OVERWRITE sd.d_over SELECT id * 100 FROM sd.d_over WHERE id > 1;
SELECT * FROM sd.d_over ORDER BY id;
-- name: dml_insert_overwrite_table_keyword
CREATE TABLE sd.d_over2 (id BIGINT, k STRING) USING iceberg;
INSERT INTO sd.d_over2 VALUES (1, 'a');
INSERT OVERWRITE TABLE sd.d_over2 VALUES (2, 'b');
SELECT * FROM sd.d_over2;
-- name: dml_insert_overwrite_partitions
CREATE TABLE sd.d_over_part (k STRING, v BIGINT) USING iceberg PARTITIONED BY (k);
INSERT INTO sd.d_over_part VALUES ('a', 1), ('b', 2);
INSERT OVERWRITE sd.d_over_part VALUES ('a', 10);
SELECT * FROM sd.d_over_part ORDER BY k;
-- name: dml_delete_where
CREATE TABLE sd.d_del (id BIGINT, flag BOOLEAN) USING iceberg;
INSERT INTO sd.d_del VALUES (1, true), (2, false), (3, true);
DELETE FROM sd.d_del WHERE flag;
SELECT * FROM sd.d_del ORDER BY id;
-- name: dml_delete_subquery
CREATE TABLE sd.d_del_sub (customer_id BIGINT) USING iceberg;
INSERT INTO sd.d_del_sub VALUES (1), (2), (3), (99);
DELETE FROM sd.d_del_sub WHERE customer_id IN (SELECT customer_id FROM sd.customers WHERE vip);
SELECT * FROM sd.d_del_sub ORDER BY customer_id;
-- name: dml_delete_all
CREATE TABLE sd.d_del_all (id BIGINT) USING iceberg;
INSERT INTO sd.d_del_all VALUES (1), (2);
DELETE FROM sd.d_del_all;
SELECT count(*) AS n FROM sd.d_del_all;
-- name: dml_update_where
CREATE TABLE sd.d_upd (id BIGINT, qty INT) USING iceberg;
INSERT INTO sd.d_upd VALUES (1, 10), (2, 20), (3, 30);
UPDATE sd.d_upd SET qty = qty + 1 WHERE id >= 2;
SELECT * FROM sd.d_upd ORDER BY id;
-- name: dml_update_two_columns
CREATE TABLE sd.d_upd2 (id BIGINT, status STRING, amount DOUBLE) USING iceberg;
INSERT INTO sd.d_upd2 VALUES (1, 'new', 1.0), (2, 'new', 2.0);
UPDATE sd.d_upd2 SET status = 'done', amount = amount * 2 WHERE id = 2;
SELECT * FROM sd.d_upd2 ORDER BY id;
-- name: dml_update_all_rows
CREATE TABLE sd.d_upd3 (id BIGINT, name STRING) USING iceberg;
INSERT INTO sd.d_upd3 VALUES (1, 'a'), (2, 'b');
UPDATE sd.d_upd3 SET name = upper(name);
SELECT * FROM sd.d_upd3 ORDER BY id;
-- name: dml_update_subquery_condition
CREATE TABLE sd.d_upd4 (customer_id BIGINT, tier STRING) USING iceberg;
INSERT INTO sd.d_upd4 VALUES (1, 'std'), (2, 'std'), (4, 'std');
UPDATE sd.d_upd4 SET tier = 'vip' WHERE customer_id IN (SELECT customer_id FROM sd.customers WHERE vip);
SELECT * FROM sd.d_upd4 ORDER BY customer_id;
-- name: dml_merge_upsert
CREATE TABLE sd.d_merge (id BIGINT, v STRING) USING iceberg;
INSERT INTO sd.d_merge VALUES (1, 'old'), (2, 'old');
MERGE INTO sd.d_merge t USING (SELECT * FROM VALUES (2, 'new'), (3, 'new') AS s(id, v)) s ON t.id = s.id
WHEN MATCHED THEN UPDATE SET v = s.v
WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v);
SELECT * FROM sd.d_merge ORDER BY id;
-- name: dml_merge_star
CREATE TABLE sd.d_merge_star (id BIGINT, v STRING) USING iceberg;
INSERT INTO sd.d_merge_star VALUES (1, 'old');
CREATE TABLE sd.d_merge_star_src (id BIGINT, v STRING) USING iceberg;
INSERT INTO sd.d_merge_star_src VALUES (1, 'upd'), (5, 'ins');
MERGE INTO sd.d_merge_star t USING sd.d_merge_star_src s ON t.id = s.id
WHEN MATCHED THEN UPDATE SET *
WHEN NOT MATCHED THEN INSERT *;
SELECT * FROM sd.d_merge_star ORDER BY id;
-- name: dml_merge_conditional_delete
CREATE TABLE sd.d_merge_del (id BIGINT, qty INT) USING iceberg;
INSERT INTO sd.d_merge_del VALUES (1, 5), (2, 5), (3, 5);
MERGE INTO sd.d_merge_del t USING (SELECT * FROM VALUES (1, 0), (2, 7) AS s(id, qty)) s ON t.id = s.id
WHEN MATCHED AND s.qty = 0 THEN DELETE
WHEN MATCHED THEN UPDATE SET qty = t.qty + s.qty;
SELECT * FROM sd.d_merge_del ORDER BY id;
-- name: dml_merge_not_matched_by_source
CREATE TABLE sd.d_merge_nmbs (id BIGINT) USING iceberg;
INSERT INTO sd.d_merge_nmbs VALUES (1), (2), (3);
MERGE INTO sd.d_merge_nmbs t USING (SELECT * FROM VALUES (2), (4) AS s(id)) s ON t.id = s.id
WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)
WHEN NOT MATCHED BY SOURCE THEN DELETE;
SELECT * FROM sd.d_merge_nmbs ORDER BY id;
-- name: dml_merge_insert_only
CREATE TABLE sd.d_merge_ins (id BIGINT, v STRING) USING iceberg;
INSERT INTO sd.d_merge_ins VALUES (1, 'a');
MERGE INTO sd.d_merge_ins t USING (SELECT 1 AS id, 'x' AS v UNION ALL SELECT 2, 'b') s ON t.id = s.id
WHEN NOT MATCHED THEN INSERT *;
SELECT * FROM sd.d_merge_ins ORDER BY id;
-- name: dml_merge_duplicate_source_keys
-- expect: spark-error
-- note: two source rows match one target row: Spark refuses (MERGE_CARDINALITY_VIOLATION), so must the kernel
CREATE TABLE sd.d_merge_dup (id BIGINT, v STRING) USING iceberg;
INSERT INTO sd.d_merge_dup VALUES (1, 'old');
MERGE INTO sd.d_merge_dup t USING (SELECT * FROM VALUES (1, 'a'), (1, 'b') AS s(id, v)) s ON t.id = s.id
WHEN MATCHED THEN UPDATE SET v = s.v;
SELECT * FROM sd.d_merge_dup;
-- name: dml_merge_partitioned_move
CREATE TABLE sd.d_merge_part (id BIGINT, region STRING, qty INT) USING iceberg PARTITIONED BY (region);
INSERT INTO sd.d_merge_part VALUES (1, 'eu', 1), (2, 'eu', 2), (3, 'us', 3);
MERGE INTO sd.d_merge_part t USING (SELECT 1 AS id, 'us' AS region, 10 AS qty UNION ALL SELECT 4, 'eu', 40) s ON t.id = s.id
WHEN MATCHED THEN UPDATE SET region = s.region, qty = s.qty
WHEN NOT MATCHED THEN INSERT *;
SELECT * FROM sd.d_merge_part ORDER BY id;
-- name: dml_merge_not_matched_condition
CREATE TABLE sd.d_merge_nmc (id BIGINT, v STRING) USING iceberg;
INSERT INTO sd.d_merge_nmc VALUES (1, 'a');
MERGE INTO sd.d_merge_nmc t USING (SELECT 2 AS id, 'skip' AS v UNION ALL SELECT 3, 'keep') s ON t.id = s.id
WHEN NOT MATCHED AND s.v <> 'skip' THEN INSERT (id, v) VALUES (s.id, upper(s.v));
SELECT * FROM sd.d_merge_nmc ORDER BY id;
-- name: dml_merge_by_source_update
CREATE TABLE sd.d_merge_bsu (id BIGINT, v STRING) USING iceberg;
INSERT INTO sd.d_merge_bsu VALUES (1, 'a'), (2, 'b'), (3, 'c');
MERGE INTO sd.d_merge_bsu t USING (SELECT 1 AS id) s ON t.id = s.id
WHEN MATCHED THEN UPDATE SET v = concat(t.v, '!')
WHEN NOT MATCHED BY SOURCE AND t.id > 2 THEN UPDATE SET v = 'gone'
WHEN NOT MATCHED BY SOURCE THEN DELETE;
SELECT * FROM sd.d_merge_bsu ORDER BY id;
-- name: dml_merge_aggregated_source
CREATE TABLE sd.d_merge_agg (product STRING, total BIGINT) USING iceberg;
INSERT INTO sd.d_merge_agg VALUES ('zzz', 0);
MERGE INTO sd.d_merge_agg t
USING (SELECT product, sum(qty) AS total FROM sd.sales WHERE product IS NOT NULL GROUP BY product) s
ON t.product = s.product
WHEN MATCHED THEN UPDATE SET total = t.total + s.total
WHEN NOT MATCHED THEN INSERT (product, total) VALUES (s.product, s.total);
SELECT * FROM sd.d_merge_agg ORDER BY product;
-- name: dml_merge_insert_positional
-- expect: spark-error
-- note: Spark's MERGE INSERT needs its column list (or INSERT *); so does the kernel's
CREATE TABLE sd.d_merge_pos (id BIGINT, v STRING, n INT) USING iceberg;
MERGE INTO sd.d_merge_pos t USING (SELECT 7 AS id, 'x' AS v) s ON t.id = s.id
WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v, 1);
SELECT * FROM sd.d_merge_pos;
-- name: dml_merge_null_key_inserts
CREATE TABLE sd.d_merge_null (id BIGINT, v STRING) USING iceberg;
INSERT INTO sd.d_merge_null VALUES (1, 'a');
MERGE INTO sd.d_merge_null t USING (SELECT CAST(NULL AS BIGINT) AS id, 'n' AS v UNION ALL SELECT 1, 'b') s ON t.id = s.id
WHEN MATCHED THEN UPDATE SET v = s.v
WHEN NOT MATCHED THEN INSERT *;
SELECT * FROM sd.d_merge_null ORDER BY id;
-- name: dml_merge_matched_twice_by_condition
-- expect: spark-error
-- note: the cardinality check holds even when a condition would pick one of the two source rows
CREATE TABLE sd.d_merge_dup2 (id BIGINT, v STRING) USING iceberg;
INSERT INTO sd.d_merge_dup2 VALUES (1, 'old');
MERGE INTO sd.d_merge_dup2 t USING (SELECT 1 AS id, 'a' AS v UNION ALL SELECT 1, 'b') s ON t.id = s.id
WHEN MATCHED AND s.v = 'a' THEN UPDATE SET v = s.v;
SELECT * FROM sd.d_merge_dup2;
-- name: dml_add_column
CREATE TABLE sd.d_alter (id BIGINT) USING iceberg;
INSERT INTO sd.d_alter VALUES (1);
ALTER TABLE sd.d_alter ADD COLUMN note STRING;
INSERT INTO sd.d_alter VALUES (2, 'n');
SELECT * FROM sd.d_alter ORDER BY id;
-- name: dml_add_columns_plural
CREATE TABLE sd.d_alter2 (id BIGINT) USING iceberg;
ALTER TABLE sd.d_alter2 ADD COLUMNS (a STRING, b INT);
INSERT INTO sd.d_alter2 VALUES (1, 'x', 2);
SELECT * FROM sd.d_alter2;
-- name: dml_rename_column
CREATE TABLE sd.d_rename (id BIGINT, old_name STRING) USING iceberg;
INSERT INTO sd.d_rename VALUES (1, 'v');
ALTER TABLE sd.d_rename RENAME COLUMN old_name TO new_name;
SELECT * FROM sd.d_rename;
-- name: dml_drop_recreate
CREATE TABLE sd.d_drop (id BIGINT) USING iceberg;
DROP TABLE sd.d_drop;
CREATE TABLE sd.d_drop (name STRING) USING iceberg;
INSERT INTO sd.d_drop VALUES ('again');
SELECT * FROM sd.d_drop;
-- name: dml_create_if_not_exists
CREATE TABLE IF NOT EXISTS sd.d_ine (id BIGINT) USING iceberg;
CREATE TABLE IF NOT EXISTS sd.d_ine (id BIGINT) USING iceberg;
INSERT INTO sd.d_ine VALUES (7);
SELECT * FROM sd.d_ine;
-- name: dml_snapshots_count
CREATE TABLE sd.d_snaps (id BIGINT) USING iceberg;
INSERT INTO sd.d_snaps VALUES (1);
INSERT INTO sd.d_snaps VALUES (2);
SELECT count(*) AS n FROM sd.d_snaps.snapshots;
-- name: dml_tblproperties
CREATE TABLE sd.d_props (id BIGINT) USING iceberg TBLPROPERTIES ('format-version' = '2');
INSERT INTO sd.d_props VALUES (1);
SELECT * FROM sd.d_props;
-- name: dml_insert_select_star_join
CREATE TABLE sd.d_join (id BIGINT, name STRING) USING iceberg;
INSERT INTO sd.d_join SELECT s.id, c.name FROM sd.sales s JOIN sd.customers c ON s.customer_id = c.customer_id WHERE s.id <= 3;
SELECT * FROM sd.d_join ORDER BY id;
-- name: dml_truncate
CREATE TABLE sd.d_trunc (id BIGINT) USING iceberg;
INSERT INTO sd.d_trunc VALUES (1);
TRUNCATE TABLE sd.d_trunc;
SELECT count(*) AS n FROM sd.d_trunc;
