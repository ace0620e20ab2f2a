-- bench/tracking/city/setup.sql: a synthetic city for the ETA benchmark.  A 11 km x 11 km
-- zone, :merchants merchants with menus, :customers customers and :riders
-- riders online at random places.  Seeded: the same city every run.
SET client_min_messages = warning;
SELECT setseed(0.42);
SET dispatch.clock_override = '2026-11-25 11:00:00+08';
SELECT dispatch.create_zone('Synthetic city',
       ST_GeomFromText('POLYGON((121.40 31.17, 121.52 31.17, 121.52 31.27, 121.40 31.27, 121.40 31.17))', 4326),
       'Asia/Shanghai') AS zone \gset
UPDATE dispatch.zones SET speed_mps = 4.5 WHERE zone_id = :zone;
SELECT count(dispatch.create_merchant(:zone, 'Merchant ' || g, 121.41 + random() * 0.10, 31.18 + random() * 0.08,
                                      8 + (random() * 12)::int))
  FROM generate_series(1, :merchants) g \g /dev/null
SELECT count(dispatch.add_item(m.merchant_id, 'dish ' || i, 1200 + (random() * 3000)::int,
                               CASE WHEN i = 1 THEN 40 END))
  FROM dispatch.merchants m, generate_series(1, 5) i \g /dev/null
SELECT count(dispatch.register_customer('+86137' || lpad(g::text, 8, '0'), 'Customer ' || g))
  FROM generate_series(1, :customers) g \g /dev/null
SELECT count(dispatch.register_rider(:zone, 'Rider ' || g, '+86136' || lpad(g::text, 8, '0'),
                                     CASE WHEN g % 5 = 0 THEN 2 ELSE 3 END))
  FROM generate_series(1, :riders) g \g /dev/null
SELECT count(dispatch.rider_online(r.rider_id, 121.41 + random() * 0.10, 31.18 + random() * 0.08))
  FROM dispatch.riders r \g /dev/null
