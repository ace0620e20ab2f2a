-- the floor: the plain INSERT of baseline.sql, without the NOTIFY
\set c random(1, :ncust)
\set dx random(0, 20000)
INSERT INTO bench.plain_orders (zone_id, order_id, kind, customer_id, merchant_id, status, priority,
       pickup, dropoff, dropoff_address_enc, distance_m, subtotal_cents, total_cents, promised_at, created_at, status_changed_at,
       status_version)
VALUES (1, (1::bigint << 40) | nextval('bench.plain_seq'), 'takeaway', :c, 1, 'placed', 'hot',
       ST_SetSRID(ST_MakePoint(121.437, 31.188), 4326), ST_SetSRID(ST_MakePoint(121.44 + :dx / 1000000.0, 31.19), 4326),
       convert_to('Room 1201, Building 5, Lane 100', 'UTF8'), 1000, 4600, 4600, now() + interval '30 min', now(), now(), 1);
