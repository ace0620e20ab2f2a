-- bench/privacy/setup.sql: a zone, a merchant with unlimited items, :ncust
-- customers (sealed under the real cipher), three customers with 1,000
-- orders each for export and erasure, and :nold finished orders plus
-- :npings rider pings from 40 days ago for the purge.
SET client_min_messages = warning;
SELECT dispatch.create_zone('Bench', ST_GeomFromText('POLYGON((121.40 31.15, 121.48 31.15, 121.48 31.22, 121.40 31.22, 121.40 31.15))', 4326));
SELECT dispatch.create_merchant(1, 'Bench kitchen', 121.437, 31.188, 10);
SELECT dispatch.add_item(1, 'noodles', 2800);
SELECT dispatch.add_item(1, 'tea', 900);
SELECT dispatch.register_customer('+86139' || lpad(g::text, 8, '0'), 'Customer ' || g) FROM generate_series(1, :ncust) g;
SELECT dispatch.register_rider(1, 'Bench rider ' || g, '+86137' || lpad(g::text, 8, '0')) FROM generate_series(1, 50) g;

-- heavy customers: 1,000 cancelled orders each, two hours apart (below the fraud limits)
DO $$
DECLARE
	c bigint;
	i integer;
	o bigint;
	t0 timestamptz := now() - interval '90 days';
BEGIN
	FOR c IN SELECT dispatch.register_customer('+86136' || lpad(g::text, 8, '0'), 'Heavy customer ' || g)
	           FROM generate_series(1, 3) g LOOP
		FOR i IN 1..1000 LOOP
			PERFORM set_config('dispatch.clock_override', (t0 + i * interval '2 hours')::text, true);
			o := dispatch.place_order(c, 1, '[{"item_id": 1, "qty": 1}]', 121.44, 31.19,
			                          format('Heavy Lane %s, door %s', c, i));
			PERFORM dispatch.confirm_payment(o, 'psp-' || o);
			PERFORM dispatch.cancel_order(o, 'bench');
		END LOOP;
	END LOOP;
END $$;

-- old finished orders (40 days ago, one a minute) for the purge
DO $$
DECLARE
	i integer;
	o bigint;
	n integer := current_setting('bench.nold')::integer;
	nc integer := current_setting('bench.ncust')::integer;
	t0 timestamptz := now() - interval '40 days' - n * interval '1 minute';
BEGIN
	FOR i IN 1..n LOOP
		PERFORM set_config('dispatch.clock_override', (t0 + i * interval '1 minute')::text, true);
		o := dispatch.place_order(1 + i % nc, 1, '[{"item_id": 2, "qty": 1}]', 121.44 + (i % 100) / 10000.0, 31.19,
		                          format('Old Road %s', i));
		PERFORM dispatch.cancel_order(o, 'bench');
	END LOOP;
END $$;
INSERT INTO dispatch.rider_tracks (zone_id, rider_id, at, position)
SELECT 1, 1 + g % 50, now() - interval '40 days' - g * interval '1 second', ST_SetSRID(ST_MakePoint(121.44, 31.19), 4326)
  FROM generate_series(1, :npings) g;
ANALYZE;
