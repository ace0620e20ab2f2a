-- bench/soak/setup.sql: one zone, five merchants (one item of each with a
-- small stock, so that stock runs out under load), customers, riders with
-- capacities 1 to 3, short retention for rider tracks and order texts, and
-- the soak's own helpers: each step of the workload as a function that
-- counts a refusal of class DP (out of stock, a lost race) instead of
-- failing, so that pgbench's clients run on.
SET client_min_messages = warning;
SELECT dispatch.create_zone('Soak', ST_GeomFromText('POLYGON((121.40 31.15, 121.48 31.15, 121.48 31.22, 121.40 31.22, 121.40 31.15))', 4326));
SELECT dispatch.create_merchant(1, 'Soak kitchen ' || m, 121.42 + m / 100.0, 31.18, 5) FROM generate_series(1, 5) m;
SELECT dispatch.add_item(m, 'noodles', 2800) FROM generate_series(1, 5) m;
SELECT dispatch.add_item(m, 'dumplings', 1800, 400) FROM generate_series(1, 5) m;
SELECT dispatch.register_customer('+86137' || lpad(g::text, 8, '0'), NULL) FROM generate_series(1, :ncust) g;
SELECT dispatch.register_rider(1, 'Soak rider ' || r, '+86136' || lpad(r::text, 8, '0'), 1 + r % 3)
  FROM generate_series(1, :nriders) r;
SELECT dispatch.rider_online(r, 121.40 + random() * 0.08, 31.15 + random() * 0.07) FROM generate_series(1, :nriders) r;
SELECT dispatch.set_retention_policy('rider_tracks', '1 hour');
SELECT dispatch.set_retention_policy('order_text', '1 hour');

DROP SCHEMA IF EXISTS soak CASCADE;
CREATE SCHEMA soak;
CREATE TABLE soak.refusals (step text, sqlstate text, n bigint NOT NULL DEFAULT 0, PRIMARY KEY (step, sqlstate));

CREATE FUNCTION soak.refused(p_step text, p_state text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO soak.refusals AS r VALUES (p_step, p_state, 1)
	ON CONFLICT (step, sqlstate) DO UPDATE SET n = r.n + 1;
$$;

-- a customer orders noodles, one in eight also dumplings (which run out),
-- and pays; one payment in twenty fails
CREATE FUNCTION soak.intake(p_customer bigint, p_dx int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	m int := 1 + p_dx % 5;
	o bigint;
BEGIN
	o := dispatch.place_order(p_customer, m,
	         CASE WHEN p_dx % 8 = 0
	              THEN jsonb_build_array(jsonb_build_object('item_id', m, 'qty', 1),
	                                     jsonb_build_object('item_id', 5 + m, 'qty', 1 + p_dx % 3))
	              ELSE jsonb_build_array(jsonb_build_object('item_id', m, 'qty', 1 + p_dx % 2)) END,
	         121.40 + p_dx / 250000.0, 31.16 + (p_dx % 997) / 20000.0, 'Soak Road ' || p_dx);
	IF p_dx % 20 = 0 THEN
		PERFORM dispatch.fail_payment(o, 'declined');
	ELSE
		PERFORM dispatch.confirm_payment(o, 'psp-' || o);
	END IF;
EXCEPTION WHEN OTHERS THEN
	IF SQLSTATE NOT LIKE 'DP%' THEN RAISE; END IF;
	PERFORM soak.refused('intake', SQLSTATE);
END $$;

-- merchants accept placed orders, food ready in a minute
CREATE FUNCTION soak.merchant() RETURNS void LANGUAGE plpgsql AS $$
DECLARE o bigint;
BEGIN
	FOR o IN SELECT order_id FROM dispatch.orders WHERE zone_id = 1 AND status = 'placed'
	          ORDER BY created_at LIMIT 25 LOOP
		BEGIN
			PERFORM dispatch.merchant_accept(o, dispatch.clock() + interval '1 minute');
		EXCEPTION WHEN OTHERS THEN
			IF SQLSTATE NOT LIKE 'DP%' THEN RAISE; END IF;
			PERFORM soak.refused('merchant', SQLSTATE);
		END;
	END LOOP;
END $$;

-- riders answer their offers (one in ten rejected), pick up, deliver, and
-- now and then release an order; they ping as they go
CREATE FUNCTION soak.rider(p_rider bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	f record;
	o record;
BEGIN
	PERFORM dispatch.update_rider_location(p_rider, 121.40 + random() * 0.08, 31.15 + random() * 0.07);
	FOR f IN SELECT offer_id FROM dispatch.offers WHERE rider_id = p_rider AND status = 'pending' LOOP
		BEGIN
			PERFORM dispatch.respond_offer(f.offer_id, random() > 0.1, 'busy');
		EXCEPTION WHEN OTHERS THEN
			IF SQLSTATE NOT LIKE 'DP%' THEN RAISE; END IF;
			PERFORM soak.refused('offer', SQLSTATE);
		END;
	END LOOP;
	FOR o IN SELECT order_id, status FROM dispatch.orders
	          WHERE zone_id = 1 AND rider_id = p_rider AND status IN ('assigned', 'picked_up') LOOP
		BEGIN
			IF o.status = 'picked_up' THEN
				PERFORM dispatch.mark_delivered(o.order_id, p_rider);
			ELSIF random() < 0.02 THEN
				PERFORM dispatch.release_order(o.order_id, p_rider, 'flat tyre');
			ELSE
				PERFORM dispatch.mark_picked_up(o.order_id, p_rider);
			END IF;
		EXCEPTION WHEN OTHERS THEN
			IF SQLSTATE NOT LIKE 'DP%' THEN RAISE; END IF;
			PERFORM soak.refused('rider', SQLSTATE);
		END;
	END LOOP;
END $$;

-- customers cancel now and then, in whatever state the order is
CREATE FUNCTION soak.cancel() RETURNS void LANGUAGE plpgsql AS $$
DECLARE o bigint;
BEGIN
	SELECT order_id INTO o FROM dispatch.orders
	 WHERE zone_id = 1 AND status IN ('pending_payment', 'placed', 'accepted', 'assigned')
	 ORDER BY random() LIMIT 1;
	IF o IS NOT NULL THEN
		PERFORM dispatch.cancel_order(o, 'changed my mind');
	END IF;
EXCEPTION WHEN OTHERS THEN
	IF SQLSTATE NOT LIKE 'DP%' THEN RAISE; END IF;
	PERFORM soak.refused('cancel', SQLSTATE);
END $$;
ANALYZE;
