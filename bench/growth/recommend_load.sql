-- bench/growth/recommend_load.sql: the data set of the recommend() benchmark,
-- written in bulk by the superuser (psql variables zones, merchants per
-- zone, customers, orders).  Every customer lives in one zone and has three
-- favourite merchants there: 70% of their orders go to a favourite, the rest
-- to a merchant drawn with a skew towards the zone's popular ones.  Orders
-- are spread over the last 365 days, all delivered.  session_replication_role
-- = replica keeps the state machine and the foreign-key triggers from firing
-- on rows that are consistent by construction (pg_restore does the same).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT setseed(0.42);

-- zones of half a degree on a grid of 50 columns
SELECT dispatch.create_zone(format('Z%s', z),
       ST_MakeEnvelope(100 + (z % 50) * 0.6, 20 + (z / 50) * 0.6, 100.5 + (z % 50) * 0.6, 20.5 + (z / 50) * 0.6, 4326))
  FROM generate_series(1, :zones) z;
SELECT count(*) FROM (
	SELECT dispatch.create_merchant(z.zone_id, format('M%s-%s', z.zone_id, i),
	       ST_XMin(z.area) + 0.01 + 0.48 * random(), ST_YMin(z.area) + 0.01 + 0.48 * random())
	  FROM dispatch.zones z, generate_series(1, :mpz) i
	 ORDER BY z.zone_id, i) s;
-- every tenth merchant is closed
UPDATE dispatch.merchants SET is_open = false WHERE merchant_id % 10 = 0;

INSERT INTO dispatch.customers (created_at)
SELECT now() - interval '400 days' FROM generate_series(1, :customers);

SET session_replication_role = replica;
CREATE TEMP TABLE mz AS
SELECT merchant_id, zone_id, location,
       row_number() OVER (PARTITION BY zone_id ORDER BY merchant_id) - 1 AS idx
  FROM dispatch.merchants;
CREATE UNIQUE INDEX ON mz (zone_id, idx);
ANALYZE mz;

INSERT INTO dispatch.orders (zone_id, order_id, kind, customer_id, merchant_id, status, pickup, dropoff,
                             distance_m, subtotal_cents, total_cents, promised_at, created_at,
                             status_changed_at, status_version, placed_at, delivered_at)
SELECT m.zone_id, dispatch.zone_scoped_id(m.zone_id, nextval('dispatch.orders_id_seq')), 'takeaway',
       g.customer_id, m.merchant_id, 'delivered', m.location, m.location, 0, 2500, 2500,
       g.at + interval '40 minutes', g.at, g.at + interval '35 minutes', 5, g.at, g.at + interval '35 minutes'
  FROM (SELECT c AS customer_id, 1 + c % :zones AS zone_id,
               CASE WHEN random() < 0.7
                    THEN (c * 7919 + (floor(random() * 3)::int) * 104729) % :mpz
                    ELSE floor(:mpz * power(random(), 3))::int END AS idx,
               now() - random() * interval '365 days' AS at
          FROM (SELECT 1 + floor(random() * :customers)::bigint AS c FROM generate_series(1, :orders)) r) g
  JOIN mz m ON m.zone_id = g.zone_id AND m.idx = g.idx
 ORDER BY g.at;
RESET session_replication_role;

-- four customers in five consent to personalisation
INSERT INTO dispatch.consents (customer_id, purpose, policy_version, granted_at)
SELECT customer_id, 'personalisation', 'bench', now() FROM dispatch.customers WHERE customer_id % 5 <> 0;
VACUUM ANALYZE dispatch.orders;
VACUUM ANALYZE dispatch.customers;
VACUUM ANALYZE dispatch.consents;
VACUUM ANALYZE dispatch.merchants;
-- the load's dirty pages written now, not during the measurement
CHECKPOINT;
