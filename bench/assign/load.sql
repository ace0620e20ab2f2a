-- bench/assign/load.sql: one zone about 43 x 39 km with 1,000,000 riders
-- (200,000 online with free slots, 100,000 online and full, 700,000
-- offline), 200 merchants and 1,000 dispatchable (accepted) orders.
-- A rider's status follows its id, so that a ping script can pick online
-- riders only (an offline rider's ping is refused, DP029): ids 10j + 1 to
-- 10j + 3 are online (10j + 3 full), the others offline; an online rider
-- from k in 0..299999 is 10 * (k / 3) + 1 + k % 3.
-- Riders: half uniform over the zone, half around 64 hot spots; merchants
-- and orders around the same hot spots.  Deterministic (setseed).
-- Variables: clock (the dispatch.clock_override of the run).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET synchronous_commit = off;
SELECT set_config('dispatch.clock_override', :'clock', false) \g /dev/null
SET dispatch.fraud_max_bad_orders = 1000;
SELECT setseed(0.1);

SELECT dispatch.create_zone('bench', ST_MakeEnvelope(121.25, 31.05, 121.70, 31.40, 4326)) AS zone \gset
CREATE TEMP TABLE spots AS
SELECT i, 121.30 + random() * 0.35 AS lon, 31.10 + random() * 0.25 AS lat FROM generate_series(0, 63) i;

INSERT INTO dispatch.riders (rider_id, zone_id, capacity, vehicle, status, position, position_at,
                             online_since, shift_started_at, active_orders, created_at)
SELECT id, :zone, 3, 'ebike',
       CASE WHEN (id - 1) % 10 < 3 THEN 'online' ELSE 'offline' END,
       ST_SetSRID(ST_MakePoint(x, y), 4326),
       dispatch.clock() - random() * interval '60 seconds',
       CASE WHEN (id - 1) % 10 < 3 THEN dispatch.clock() - interval '1 hour' END,
       CASE WHEN (id - 1) % 10 < 3 THEN dispatch.clock() - interval '1 hour' END,
       CASE WHEN (id - 1) % 10 = 2 THEN 3 ELSE 0 END,
       dispatch.clock()
  FROM (SELECT pg_catalog.nextval('dispatch.riders_id_seq') AS id, g.i,
               CASE WHEN g.i % 2 = 0 THEN 121.26 + random() * 0.43
                    ELSE s.lon + 0.012 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) END AS x,
               CASE WHEN g.i % 2 = 0 THEN 31.06 + random() * 0.33
                    ELSE s.lat + 0.010 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) END AS y
          FROM generate_series(0, 999999) g(i)
          JOIN spots s ON s.i = (g.i / 2) % 64) r;
-- riders written directly, as register_rider would have: their zones too
INSERT INTO dispatch.rider_zones (rider_id, zone_id) SELECT r.rider_id, r.zone_id FROM dispatch.riders r;

CREATE TEMP TABLE shops AS
SELECT dispatch.create_merchant(:zone, 'shop ' || g.i, s.lon + (random() - 0.5) * 0.01, s.lat + (random() - 0.5) * 0.01,
                                5 + (random() * 15)::int) AS merchant_id
  FROM generate_series(0, 199) g(i) JOIN spots s ON s.i = g.i % 64;
CREATE TEMP TABLE dishes AS
SELECT merchant_id, dispatch.add_item(merchant_id, 'dish', 1500) AS item_id FROM shops;

CREATE TEMP TABLE customers AS
SELECT i, dispatch.register_customer('+86138' || (10000000 + i), NULL) AS customer_id
  FROM generate_series(1, 1000) i;
CREATE TEMP TABLE placed AS
SELECT dispatch.place_order(c.customer_id, d.merchant_id,
                            jsonb_build_array(jsonb_build_object('item_id', d.item_id, 'qty', 1)),
                            ST_X(m.location) + (random() - 0.5) * 0.04, ST_Y(m.location) + (random() - 0.5) * 0.04,
                            'addr', (ARRAY['normal', 'normal', 'hot', 'fresh'])[1 + floor(random() * 4)::int]) AS order_id
  FROM customers c
  JOIN (SELECT row_number() OVER () AS n, * FROM dishes) d ON d.n = 1 + c.i % 200
  JOIN dispatch.merchants m ON m.merchant_id = d.merchant_id;
SELECT count(dispatch.confirm_payment(order_id, 'ref-' || order_id)) FROM placed \g /dev/null
SELECT count(dispatch.merchant_accept(order_id)) FROM placed \g /dev/null

ANALYZE dispatch.riders;
ANALYZE dispatch.orders;
SELECT :zone AS zone,
       (SELECT count(*) FROM dispatch.riders) AS riders,
       (SELECT count(*) FROM dispatch.riders WHERE status = 'online' AND active_orders + pending_offers < capacity) AS idle,
       (SELECT count(*) FROM dispatch.orders WHERE status = 'accepted') AS dispatchable;
