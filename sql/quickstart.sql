-- A tour of Sluice's tables: run with
--   psql -h 127.0.0.1 -p 6875 -d sluice -f sql/quickstart.sql
DROP TABLE IF EXISTS quickstart_orders;
CREATE TABLE quickstart_orders (
    id BIGINT PRIMARY KEY,
    customer TEXT NOT NULL,
    amount NUMERIC(10, 2),
    placed_at TIMESTAMP DEFAULT TIMESTAMP '2026-01-01 00:00:00',
    tags TEXT[]
);
INSERT INTO quickstart_orders (id, customer, amount, tags) VALUES
    (1, 'ada', 19.99, ARRAY['new']),
    (2, 'grace', 5.00, ARRAY['repeat', 'gift']),
    (3, 'ada', 42.50, NULL);
UPDATE quickstart_orders SET amount = amount * 2 WHERE customer = 'grace';
DELETE FROM quickstart_orders WHERE id = 3;
SELECT customer, count(*) AS orders, sum(amount) AS total
FROM quickstart_orders GROUP BY customer ORDER BY customer;
SHOW TABLES;
DESCRIBE quickstart_orders;
