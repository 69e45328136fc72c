-- A sqlite3 workload with deterministic output: a few hundred thousand rows
-- built by recursive CTEs, indexes, aggregates, joins, window functions,
-- updates, deletes and a VACUUM.  run_sqlite.sh runs it with and without
-- hakmem preloaded and compares the outputs byte for byte.
.bail on
PRAGMA journal_mode = WAL;
PRAGMA cache_size = -32000;

CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, region INTEGER NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, amount INTEGER NOT NULL,
                     day INTEGER NOT NULL, note TEXT);

BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000)
INSERT INTO customer
SELECT i, 'customer-' || printf('%05d', (i * 7919) % 20011) || '-' || substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 26, 1 + i % 7),
       i % 17
FROM c;

-- 300,000 orders; amounts and days from a linear congruential sequence
WITH RECURSIVE o(i, x) AS (
  SELECT 1, 12345
  UNION ALL
  SELECT i + 1, (x * 1103515245 + 12345) % 2147483648 FROM o WHERE i < 300000)
INSERT INTO orders
SELECT i, 1 + x % 20000, x % 100000, (x / 7) % 3650,
       CASE WHEN i % 5 = 0 THEN printf('%08x', x) || printf('%.*c', 1 + x % 200, 'n') ELSE NULL END
FROM o;
COMMIT;

CREATE INDEX orders_customer ON orders (customer);
CREATE INDEX orders_day_amount ON orders (day, amount);
CREATE INDEX customer_region ON customer (region, name);

SELECT 'counts', (SELECT count(*) FROM customer), (SELECT count(*) FROM orders),
       (SELECT count(note) FROM orders), (SELECT sum(length(note)) FROM orders);

SELECT 'by region', c.region, count(*), sum(o.amount), min(o.amount), max(o.amount),
       round(avg(o.amount), 3)
FROM orders o JOIN customer c ON c.id = o.customer
GROUP BY c.region ORDER BY c.region;

SELECT 'top customers', c.name, count(*) AS n, sum(o.amount) AS total
FROM orders o JOIN customer c ON c.id = o.customer
GROUP BY c.id ORDER BY total DESC, c.id LIMIT 10;

SELECT 'busy days', day, count(*) AS n FROM orders GROUP BY day ORDER BY n DESC, day LIMIT 5;

SELECT 'range', count(*), sum(amount) FROM orders WHERE day BETWEEN 100 AND 200 AND amount > 50000;

SELECT 'window', customer, day, amount, running
FROM (SELECT customer, day, amount,
             sum(amount) OVER (PARTITION BY customer ORDER BY day, id) AS running,
             row_number() OVER (PARTITION BY customer ORDER BY day, id) AS rn
      FROM orders WHERE customer <= 3)
WHERE rn <= 3 ORDER BY customer, day;

SELECT 'distinct', count(DISTINCT customer), count(DISTINCT day), count(DISTINCT amount / 1000)
FROM orders;

SELECT 'group_concat', region, length(group_concat(name, ',')), substr(group_concat(name, ','), 1, 60)
FROM (SELECT region, name FROM customer ORDER BY region, name) GROUP BY region ORDER BY region LIMIT 4;

-- a sort that does not fit an index, and string work
SELECT 'sorted notes', id, length(note), upper(substr(note, 1, 8))
FROM orders WHERE note IS NOT NULL ORDER BY length(note) DESC, id LIMIT 5;

-- a correlated subquery and EXISTS
SELECT 'no orders', count(*) FROM customer c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer = c.id);
SELECT 'above average', count(*) FROM customer c
WHERE (SELECT sum(amount) FROM orders o WHERE o.customer = c.id) >
      (SELECT avg(t) FROM (SELECT sum(amount) AS t FROM orders GROUP BY customer));

-- churn: update, delete, insert again, then VACUUM rebuilds the file
BEGIN;
UPDATE orders SET amount = amount + 1, note = coalesce(note, '') || 'u' WHERE id % 7 = 0;
DELETE FROM orders WHERE id % 3 = 0;
WITH RECURSIVE o(i) AS (SELECT 300001 UNION ALL SELECT i + 1 FROM o WHERE i < 350000)
INSERT INTO orders SELECT i, 1 + i % 20000, i % 997, i % 3650, printf('late-%d', i) FROM o;
COMMIT;
VACUUM;
PRAGMA integrity_check;

SELECT 'after churn', count(*), sum(amount), count(note), sum(length(note)) FROM orders;
SELECT 'after churn by region', c.region, count(*), sum(o.amount)
FROM orders o JOIN customer c ON c.id = o.customer GROUP BY c.region ORDER BY c.region LIMIT 5;

-- a temporary table built from a self-join
CREATE TEMP TABLE pairs AS
SELECT a.customer AS x, b.customer AS y, count(*) AS n
FROM orders a JOIN orders b ON a.day = b.day AND a.customer < b.customer
WHERE a.day < 40 GROUP BY a.customer, b.customer;
SELECT 'pairs', count(*), sum(n), max(n) FROM pairs;
