-- The shared tables of the corpus, written once by Spark on its own Nessie branch before the
-- kernel branches off it, so both engines read the very same Iceberg files.
CREATE NAMESPACE IF NOT EXISTS sd;
DROP TABLE IF EXISTS sd.sales;
CREATE TABLE sd.sales (id BIGINT, region STRING, product STRING, qty INT, price DOUBLE,
  amount DECIMAL(10,2), sold_on DATE, sold_at TIMESTAMP, customer_id BIGINT, channel STRING) USING iceberg;
INSERT INTO sd.sales VALUES
  (1, 'north', 'apple', 3, 1.5, 4.50, DATE '2025-01-05', TIMESTAMP '2025-01-05 09:15:00', 1, 'web'),
  (2, 'north', 'pear', 5, 2.25, 11.25, DATE '2025-01-07', TIMESTAMP '2025-01-07 18:40:10', 2, 'store'),
  (3, 'south', 'apple', 2, 1.5, 3.00, DATE '2025-01-07', TIMESTAMP '2025-01-07 23:59:59', 3, 'web'),
  (4, 'south', 'banana', 10, 0.5, 5.00, DATE '2025-01-12', TIMESTAMP '2025-01-12 00:00:01', 1, NULL),
  (5, 'east', 'apple', 7, 1.75, 12.25, DATE '2025-02-01', TIMESTAMP '2025-02-01 12:00:00', 4, 'web'),
  (6, 'east', 'pear', 1, 2.5, 2.50, DATE '2025-02-03', TIMESTAMP '2025-02-03 03:30:00', NULL, 'store'),
  (7, 'west', 'banana', 4, 0.55, 2.20, DATE '2025-02-14', TIMESTAMP '2025-02-14 14:14:14', 2, 'web'),
  (8, 'north', 'banana', 6, 0.45, 2.70, DATE '2025-03-01', TIMESTAMP '2025-03-01 08:00:00', 5, 'store'),
  (9, 'south', 'pear', NULL, 2.0, NULL, DATE '2025-03-09', TIMESTAMP '2025-03-09 07:30:00', 3, 'web'),
  (10, NULL, 'apple', 8, 1.25, 10.00, DATE '2025-03-15', TIMESTAMP '2025-03-15 20:45:30', 6, 'store'),
  (11, 'west', 'apple', 9, 1.6, 14.40, DATE '2025-03-30', TIMESTAMP '2025-03-30 11:11:11', 4, 'web'),
  (12, 'east', 'banana', 2, 0.6, 1.20, NULL, NULL, 5, 'web');
DROP TABLE IF EXISTS sd.customers;
CREATE TABLE sd.customers (customer_id BIGINT, name STRING, country STRING, signup DATE, vip BOOLEAN) USING iceberg;
INSERT INTO sd.customers VALUES
  (1, 'Ann', 'US', DATE '2024-01-10', true),
  (2, 'Bob', 'DE', DATE '2024-03-05', false),
  (3, 'Chloé', 'FR', DATE '2024-06-30', NULL),
  (4, 'Dev', 'US', DATE '2024-11-11', true),
  (5, 'Eve', NULL, DATE '2025-01-02', false),
  (7, 'Gus', 'UK', DATE '2023-12-31', false);
DROP TABLE IF EXISTS sd.events;
CREATE TABLE sd.events (user_id BIGINT, event_type STRING, ts TIMESTAMP) USING iceberg;
INSERT INTO sd.events VALUES
  (1, 'view', TIMESTAMP '2025-01-16 10:00:00'),
  (1, 'cart', TIMESTAMP '2025-01-16 10:05:00'),
  (1, 'purchase', TIMESTAMP '2025-01-16 10:07:30'),
  (1, 'view', TIMESTAMP '2025-01-16 12:00:00'),
  (2, 'view', TIMESTAMP '2025-01-16 09:00:00'),
  (2, 'cart', TIMESTAMP '2025-01-16 09:30:00'),
  (2, 'view', TIMESTAMP '2025-01-17 09:00:00'),
  (3, 'view', TIMESTAMP '2025-01-17 23:59:59'),
  (3, 'purchase', TIMESTAMP '2025-01-18 00:10:00'),
  (4, 'cart', TIMESTAMP '2025-01-18 08:00:00');
DROP TABLE IF EXISTS sd.words;
CREATE TABLE sd.words (id BIGINT, line STRING, tags STRING) USING iceberg;
INSERT INTO sd.words VALUES
  (1, 'the quick brown fox', 'a,b'),
  (2, 'the lazy dog', 'b'),
  (3, 'quick quick', NULL),
  (4, '', 'c,a,b');
DROP TABLE IF EXISTS sd.nums;
CREATE TABLE sd.nums (id BIGINT, s STRING, x DOUBLE) USING iceberg;
INSERT INTO sd.nums VALUES
  (1, '10', 1.5),
  (2, ' 7 ', -2.25),
  (3, 'abc', NULL),
  (4, '3.9', 1e10),
  (5, NULL, 0.0),
  (6, '-4', CAST('NaN' AS DOUBLE));
