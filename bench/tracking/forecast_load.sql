-- bench/tracking/forecast_load.sql: ten weeks of demand in one zone, from
-- Monday 4 January 2027 (the zone keeps UTC): 12 places 1 km apart, each
-- with its own level, a lunch and a dinner peak every day, busier Fridays
-- and weekends, and noise (normal, sd the square root of the mean, as
-- Poisson counts have), seeded.  Bulk-loaded as a superuser with triggers
-- off: a history, not traffic.
SET client_min_messages = warning;
SELECT setseed(0.17);
SELECT dispatch.create_zone('Forecast city',
       ST_GeomFromText('POLYGON((121.40 31.15, 121.48 31.15, 121.48 31.22, 121.40 31.22, 121.40 31.15))', 4326)) AS zone \gset
SELECT dispatch.create_merchant(:zone, 'Kitchen', 121.44, 31.185) AS merchant \gset
SELECT dispatch.register_customer('+8613800000001', NULL) AS customer \gset
CREATE TABLE places AS
SELECT p, 121.41 + 0.0105 * (p % 4) AS lon, 31.16 + 0.009 * (p / 4) AS lat, 0.3 + 2.7 * random() AS level
  FROM generate_series(0, 11) p;
CREATE TABLE counts AS
SELECT p.p, h.hour,
       greatest(0, round(m.mean + sqrt(m.mean) * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::integer AS n
  FROM places p
 CROSS JOIN generate_series(timestamptz '2027-01-04 00:00+00', timestamptz '2027-03-14 23:00+00', interval '1 hour') h(hour)
 CROSS JOIN LATERAL (
       SELECT p.level
              * (0.05 + exp(-(((extract(hour FROM h.hour AT TIME ZONE 'UTC') + 0.5 - 12.5) / 1.5) ^ 2))
                 + 1.2 * exp(-(((extract(hour FROM h.hour AT TIME ZONE 'UTC') + 0.5 - 19) / 1.5) ^ 2)))
              * CASE extract(isodow FROM h.hour AT TIME ZONE 'UTC') WHEN 5 THEN 1.15 WHEN 6 THEN 1.3 WHEN 7 THEN 1.3 ELSE 1 END AS mean) m;
SET session_replication_role = replica;
INSERT INTO dispatch.orders (zone_id, order_id, kind, customer_id, merchant_id, status, priority, pickup, dropoff,
                             distance_m, subtotal_cents, fee_cents, discount_cents, total_cents, promised_at,
                             created_at, status_changed_at, status_version, placed_at, delivered_at)
SELECT :zone, dispatch.zone_scoped_id(:zone, row_number() OVER ()), 'takeaway', :customer, :merchant, 'delivered', 'normal',
       dispatch._point(121.44, 31.185), dispatch._point(p.lon, p.lat), 1000, 3000, 300, 0, 3300,
       c.hour + interval '45 minutes', c.hour + make_interval(mins => (k * 7) % 60), c.hour + interval '40 minutes', 3,
       c.hour + make_interval(mins => (k * 7) % 60), c.hour + interval '40 minutes'
  FROM counts c JOIN places p USING (p)
 CROSS JOIN LATERAL generate_series(1, c.n) k;
SELECT setval('dispatch.orders_id_seq', (SELECT count(*) FROM dispatch.orders));
RESET session_replication_role;
ANALYZE;
