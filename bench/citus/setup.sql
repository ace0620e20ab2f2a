-- bench/citus/setup.sql: :nzones zones side by side, each with a merchant
-- and an item, and :ncust customers.
SET client_min_messages = warning;
SELECT dispatch.create_zone('bench' || z,
       ST_MakeEnvelope(100 + z * 0.2, 30.0, 100.1 + z * 0.2, 30.1, 4326)) FROM generate_series(1, :nzones) z;
SELECT dispatch.create_merchant(z, 'kitchen ' || z, 100.05 + z * 0.2, 30.05, 10) FROM generate_series(1, :nzones) z;
SELECT dispatch.add_item(z, 'noodles', 2800) FROM generate_series(1, :nzones) z;
SELECT dispatch.register_customer('+86139' || lpad(g::text, 8, '0'), NULL) FROM generate_series(1, :ncust) g;
