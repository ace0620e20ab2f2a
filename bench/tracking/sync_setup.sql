-- bench/tracking/sync_setup.sql: a zone and :nriders riders online, for the
-- sync benchmark.
SET client_min_messages = warning;
SELECT dispatch.create_zone('Sync bench',
       ST_GeomFromText('POLYGON((121.40 31.15, 121.48 31.15, 121.48 31.22, 121.40 31.22, 121.40 31.15))', 4326)) AS zone \gset
SELECT count(dispatch.register_rider(:zone, 'R' || g, '+86139' || lpad(g::text, 8, '0'))) FROM generate_series(1, :nriders) g;
SELECT count(dispatch.rider_online(rider_id, 121.44, 31.18)) FROM dispatch.riders;
