-- bench/growth/rollup_load.sql: :ncust customers and :norders past orders
-- over 60 days in 4 zones (85 % delivered, 10 % cancelled, 5 % placed; a
-- fifth of them with a campaign discount), bulk-loaded as a superuser with
-- triggers off: a history, not traffic.
SET client_min_messages = warning;
SET session_replication_role = replica;
SELECT dispatch.create_zone('Z' || z, ST_MakeEnvelope(121.0 + z * 0.1, 31.0, 121.09 + z * 0.1, 31.09, 4326), 'Asia/Shanghai')
  FROM generate_series(1, 4) z;
INSERT INTO dispatch.merchants (zone_id, name, location, prep_minutes, created_at)
SELECT 1 + (m % 4), 'M' || m, dispatch._point(121.045 + (m % 4 + 1) * 0.1, 31.045), 10, now() - interval '90 days'
  FROM generate_series(0, 199) m;
INSERT INTO dispatch.customers (customer_id, phone_index, phone_enc, name_enc, created_at)
SELECT c, dispatch._hmac_sha256(int8send(c), '\x00'::bytea), NULL, NULL, now() - interval '90 days'
  FROM generate_series(1, :ncust) c;
SELECT setval('dispatch.customers_id_seq', :ncust);
SELECT dispatch.create_campaign('Welcome', 'first_order', '{"percent_off": 20, "auto": true}', NULL, now() - interval '90 days');
SELECT dispatch.create_campaign('Lunch', 'limited_time', '{"amount_off_cents": 500}', NULL, now() - interval '90 days', now() + interval '30 days', NULL, 'LUNCH');
CREATE TEMP TABLE gen AS
SELECT g, 1 + (g % 4) AS zone_id, dispatch.zone_scoped_id(1 + (g % 4), g) AS order_id,
       1 + ((g::bigint * 7919) % :ncust) AS customer_id,
       now() - interval '61 days' + (g::float8 / :norders) * interval '60 days' AS at,
       CASE WHEN g % 20 = 0 THEN 'placed' WHEN g % 10 = 1 THEN 'cancelled' ELSE 'delivered' END AS status,
       CASE WHEN g % 5 = 0 THEN 1 + (g / 5) % 2 END AS campaign_id
  FROM generate_series(1, :norders) g;
INSERT INTO dispatch.orders (zone_id, order_id, kind, customer_id, merchant_id, status, priority, pickup, dropoff,
                             distance_m, subtotal_cents, fee_cents, discount_cents, total_cents, promised_at,
                             created_at, status_changed_at, status_version, placed_at, delivered_at, cancelled_at)
SELECT zone_id, order_id, 'takeaway', customer_id, zone_id, status, 'normal',
       dispatch._point(121.045 + zone_id * 0.1, 31.045), dispatch._point(121.05 + zone_id * 0.1, 31.05),
       700, 3000, 0, CASE WHEN campaign_id IS NOT NULL THEN 500 ELSE 0 END,
       3000 - CASE WHEN campaign_id IS NOT NULL THEN 500 ELSE 0 END,
       at + interval '30 minutes', at, at + interval '25 minutes', 3, at,
       CASE WHEN status = 'delivered' THEN at + interval '25 minutes' END,
       CASE WHEN status = 'cancelled' THEN at + interval '5 minutes' END
  FROM gen;
INSERT INTO dispatch.redemptions (zone_id, order_id, customer_id, campaign_id, discount_cents, status, created_at)
SELECT zone_id, order_id, customer_id, campaign_id, 500, CASE WHEN status = 'cancelled' THEN 'returned' ELSE 'applied' END, at
  FROM gen WHERE campaign_id IS NOT NULL;
SELECT setval('dispatch.orders_id_seq', :norders);
RESET session_replication_role;
VACUUM ANALYZE;
