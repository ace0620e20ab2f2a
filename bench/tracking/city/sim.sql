-- bench/tracking/city/sim.sql: the simulation step, one simulated minute per call of
-- city.tick(minute, rate).  Customers order (some payments fail and are
-- retried or given up), merchants accept, a dispatch batch runs, riders
-- answer offers (most accept), ride to the merchant, wait for the food,
-- ride to the customer and deliver.  Riders move in straight lines at the
-- zone's speed.  Everything goes through the public API.
SET client_min_messages = warning;

CREATE SCHEMA city;
CREATE TABLE city.stats (minute int, placed int, refused int, batch_ms float8, offers int,
                             accepted int, rejected int, picked int, delivered int);
CREATE TABLE city.assign (order_id bigint PRIMARY KEY, rider_id bigint, pickup_m float8, at timestamptz);

CREATE FUNCTION city.tick(p_minute int, p_rate int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_zone bigint := (SELECT zone_id FROM dispatch.zones WHERE name = 'Synthetic city');
	v_now timestamptz := '2026-11-25 11:00:00+08'::timestamptz + make_interval(mins => p_minute);
	v_speed real := (SELECT speed_mps FROM dispatch.zones WHERE zone_id = v_zone);
	v_ncust bigint := (SELECT max(customer_id) FROM dispatch.customers);
	v_nmerch bigint := (SELECT count(*) FROM dispatch.merchants WHERE zone_id = v_zone);
	-- demand rises towards the lunch peak in the middle of the run
	v_n int := CASE WHEN p_rate = 0 THEN 0 ELSE greatest(1, round(p_rate * (0.6 + 0.8 * sin(pi() * p_minute / 60.0)) * (0.7 + random() * 0.6)))::int END;
	v_placed int := 0; v_refused int := 0; v_acc int := 0; v_rej int := 0; v_pick int := 0; v_del int := 0;
	v_offers int := 0; v_t0 timestamptz; v_ms float8 := NULL;
	o record; m record; v_order bigint; v_items jsonb;
BEGIN
	PERFORM set_config('dispatch.clock_override', v_now::text, false);

	-- every rider's app pings its position once a minute
	PERFORM dispatch.update_rider_location(r.rider_id, ST_X(r.position), ST_Y(r.position))
	   FROM dispatch.riders r WHERE r.zone_id = v_zone AND r.status = 'online';

	-- customers order
	FOR i IN 1..v_n LOOP
		SELECT * INTO m FROM dispatch.merchants WHERE zone_id = v_zone ORDER BY merchant_id OFFSET floor(random() * v_nmerch)::int LIMIT 1;
		SELECT jsonb_agg(jsonb_build_object('item_id', item_id, 'qty', 1 + (random() * 1.5)::int)) INTO v_items
		  FROM (SELECT item_id FROM dispatch.items WHERE merchant_id = m.merchant_id ORDER BY random() LIMIT 1 + (random() * 2)::int) s;
		BEGIN
			v_order := dispatch.place_order(1 + floor(random() * v_ncust)::bigint, m.merchant_id, v_items,
			               least(121.519, greatest(121.401, ST_X(m.location) + (random() - 0.5) * 0.05)),
			               least(31.269, greatest(31.171, ST_Y(m.location) + (random() - 0.5) * 0.04)),
			               'Building ' || (random() * 100)::int,
			               (ARRAY['normal','normal','normal','normal','normal','normal','hot','hot','fresh'])[1 + floor(random() * 9)::int]);
			IF random() < 0.04 THEN
				PERFORM dispatch.fail_payment(v_order, 'card declined');
			ELSE
				PERFORM dispatch.confirm_payment(v_order, 'psp-' || v_order);
			END IF;
			v_placed := v_placed + 1;
		EXCEPTION WHEN SQLSTATE 'DP006' OR SQLSTATE 'DP009' OR SQLSTATE 'DP010' THEN
			v_refused := v_refused + 1;      -- sold out, too many unpaid orders, too far
		END;
	END LOOP;

	-- failed payments: half are retried and paid, the rest given up
	FOR o IN SELECT order_id FROM dispatch.orders WHERE zone_id = v_zone AND status = 'payment_failed' LOOP
		IF random() < 0.5 THEN
			PERFORM dispatch.retry_payment(o.order_id);
			PERFORM dispatch.confirm_payment(o.order_id, 'psp-retry-' || o.order_id);
		ELSE
			PERFORM dispatch.cancel_order(o.order_id, 'payment abandoned');
		END IF;
	END LOOP;

	-- merchants accept
	FOR o IN SELECT order_id FROM dispatch.orders WHERE zone_id = v_zone AND status = 'placed' LOOP
		PERFORM dispatch.merchant_accept(o.order_id);
	END LOOP;

	-- one dispatch batch, then riders answer their offers
	v_t0 := clock_timestamp();
	SELECT count(*) INTO v_offers FROM dispatch.assign_batch(v_zone);
	v_ms := extract(epoch FROM clock_timestamp() - v_t0) * 1000;
	FOR o IN SELECT f.offer_id, f.order_id, f.rider_id,
	                ST_DistanceSphere(r.position, d.pickup) AS pickup_m
	           FROM dispatch.offers f
	           JOIN dispatch.riders r ON r.rider_id = f.rider_id
	           JOIN dispatch.orders d ON d.zone_id = f.zone_id AND d.order_id = f.order_id
	          WHERE f.zone_id = v_zone AND f.status = 'pending' ORDER BY f.offer_id LOOP
		IF random() < 0.92 THEN
			PERFORM dispatch.respond_offer(o.offer_id, true);
			INSERT INTO city.assign VALUES (o.order_id, o.rider_id, o.pickup_m, v_now)
			ON CONFLICT (order_id) DO UPDATE SET rider_id = excluded.rider_id, pickup_m = excluded.pickup_m, at = excluded.at;
			v_acc := v_acc + 1;
		ELSE
			PERFORM dispatch.respond_offer(o.offer_id, false, 'too far');
			v_rej := v_rej + 1;
		END IF;
	END LOOP;

	-- riders ride: to the merchant (and wait for the food), then to the customer;
	-- their apps report the arrival a second after the tick's own ping, which
	-- would otherwise hold the rider where the tick began
	FOR o IN SELECT d.order_id, d.rider_id, d.status, d.pickup, d.dropoff, d.ready_at, d.distance_m,
	                d.picked_up_at, a.pickup_m, a.at
	           FROM dispatch.orders d JOIN city.assign a ON a.order_id = d.order_id
	          WHERE d.zone_id = v_zone AND d.status IN ('assigned', 'picked_up') ORDER BY d.order_id LOOP
		IF o.status = 'assigned'
		   AND v_now >= greatest(o.ready_at, o.at + make_interval(secs => o.pickup_m / v_speed)) THEN
			PERFORM dispatch.update_rider_location(o.rider_id, ST_X(o.pickup), ST_Y(o.pickup), v_now + interval '1 second');
			PERFORM dispatch.mark_picked_up(o.order_id, o.rider_id);
			v_pick := v_pick + 1;
		ELSIF o.status = 'picked_up'
		   AND v_now >= o.picked_up_at + make_interval(secs => 1.3 * o.distance_m / v_speed) THEN
			PERFORM dispatch.update_rider_location(o.rider_id, ST_X(o.dropoff), ST_Y(o.dropoff), v_now + interval '1 second');
			PERFORM dispatch.mark_delivered(o.order_id, o.rider_id);
			v_del := v_del + 1;
		END IF;
	END LOOP;

	INSERT INTO city.stats VALUES (p_minute, v_placed, v_refused, v_ms, v_offers, v_acc, v_rej, v_pick, v_del);
END $$;
