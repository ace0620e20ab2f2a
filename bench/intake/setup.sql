-- bench/intake/setup.sql: a zone, a merchant with unlimited items, customers,
-- and the baseline table (the columns of dispatch.orders, no trigger, no checks).
SET client_min_messages = warning;
SELECT dispatch.create_zone('Bench', ST_GeomFromText('POLYGON((121.40 31.15, 121.48 31.15, 121.48 31.22, 121.40 31.22, 121.40 31.15))', 4326));
SELECT dispatch.create_merchant(1, 'Bench kitchen', 121.437, 31.188, 10);
SELECT dispatch.add_item(1, 'noodles', 2800);
SELECT dispatch.add_item(1, 'tea', 900);
SELECT dispatch.register_customer('+86139' || lpad(g::text, 8, '0'), 'Customer ' || g) FROM generate_series(1, :ncust) g;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.plain_orders (LIKE dispatch.orders INCLUDING DEFAULTS);
ALTER TABLE bench.plain_orders ADD PRIMARY KEY (zone_id, order_id);
CREATE SEQUENCE bench.plain_seq;
ANALYZE;
