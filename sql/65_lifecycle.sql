-- sql/65_lifecycle.sql
-- Riders coming and going, their positions, and the order lifecycle after
-- payment: merchant acceptance, manual assignment, pickup, delivery,
-- cancellation and release.  Status changes go through the state machine
-- trigger.
--
-- Every call locks what it changes and then checks the status it starts
-- from, so that a retry never undoes work: repeated with the same effect it
-- is a no-op (even when the order has moved on since), on any other status
-- it is refused with a DP error naming the status, before writing anything.

CREATE FUNCTION @extschema@._rider_load(p_zone_id bigint, p_rider_id bigint) RETURNS integer
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.count(*)::integer FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) p_zone_id
	   AND o.rider_id OPERATOR(pg_catalog.=) p_rider_id
	   AND o.status IN ('assigned', 'picked_up');
END;
COMMENT ON FUNCTION @extschema@._rider_load(bigint, bigint) IS
	'Internal: orders a rider carries or is assigned in the zone.';
REVOKE ALL ON FUNCTION @extschema@._rider_load(bigint, bigint) FROM PUBLIC;

-- The refusal of a rider call's zone form when the rider has no row in the
-- zone named: a rider of another zone (any zone but the one it was
-- registered in), or no rider there at all (none, or one forgotten).
-- Always raises DP015.
CREATE FUNCTION @extschema@._refuse_rider(p_zone bigint, p_rider_id bigint) RETURNS void
LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT FROM @extschema@.rider_zones z
	            WHERE z.rider_id OPERATOR(pg_catalog.=) p_rider_id
	              AND z.zone_id IS DISTINCT FROM p_zone) THEN
		RAISE EXCEPTION 'rider % does not exist in zone %', p_rider_id, p_zone
			USING ERRCODE = 'DP015', HINT = 'A rider stays in the zone it was registered in.';
	END IF;
	RAISE EXCEPTION 'rider % does not exist', p_rider_id USING ERRCODE = 'DP015';
END
$$;
COMMENT ON FUNCTION @extschema@._refuse_rider(bigint, bigint) IS
	'Internal: raises DP015 for a rider with no row in zone p_zone, naming the zone when the rider belongs to another.';
REVOKE ALL ON FUNCTION @extschema@._refuse_rider(bigint, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.rider_online_in_zone(zone_id bigint, rider_id bigint, lon float8, lat float8,
                                                 until timestamptz DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_point @extschema@.riders.position%TYPE := @extschema@._check_point(lon, lat, 'rider');
	v_now timestamptz := @extschema@.clock();
	v_zone bigint := rider_online_in_zone.zone_id;
	v_was text;
BEGIN
	IF until IS NOT NULL AND (NOT pg_catalog.isfinite(until) OR until OPERATOR(pg_catalog.<=) v_now) THEN
		RAISE EXCEPTION 'invalid shift end %', until
			USING ERRCODE = 'DP025', DETAIL = 'The end of a shift must lie in the future.';
	END IF;
	SELECT r.status INTO v_was
	  FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) rider_online_in_zone.rider_id AND r.forgotten_at IS NULL
	   FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM @extschema@._refuse_rider(v_zone, rider_id);
	END IF;
	-- a repeat: the rider is online already (positions come with
	-- update_rider_location); a shift end given moves the one known
	IF v_was OPERATOR(pg_catalog.=) 'online' THEN
		IF until IS NOT NULL THEN
			UPDATE @extschema@.riders r SET shift_ends_at = until
			 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
			   AND r.rider_id OPERATOR(pg_catalog.=) rider_online_in_zone.rider_id;
		END IF;
		RETURN;
	END IF;
	UPDATE @extschema@.riders r
	   SET status = 'online', position = v_point, position_at = v_now, online_since = v_now,
	       shift_ends_at = until, first_online_at = COALESCE(r.first_online_at, v_now)
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) rider_online_in_zone.rider_id;
	PERFORM @extschema@._emit_event(v_zone, 'rider_status', NULL, NULL, rider_id,
	                                '{"status": "online"}'::jsonb);
END
$$;
COMMENT ON FUNCTION @extschema@.rider_online_in_zone(bigint, bigint, float8, float8, timestamptz) IS
	'rider_online for a rider of the zone (the zone it was registered in; any other is refused, DP015, nothing written); on Citus the call is sent whole to the zone''s worker.';

CREATE FUNCTION @extschema@.rider_online(rider_id bigint, lon float8, lat float8,
                                         until timestamptz DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@.rider_online_in_zone(@extschema@._rider_zone(rider_id), rider_id, lon, lat, until);
END
$$;
COMMENT ON FUNCTION @extschema@.rider_online(bigint, float8, float8, timestamptz) IS
	'A rider starts a shift at a position, and says when it ends if it knows (until): matching then offers no order the rider could only pick up after that.  On a rider online already it only moves a given shift end (positions come with update_rider_location).';

CREATE FUNCTION @extschema@.rider_offline_in_zone(zone_id bigint, rider_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_zone bigint := rider_offline_in_zone.zone_id;
	v_was text;
	v_load integer;
BEGIN
	SELECT r.status INTO v_was
	  FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) rider_offline_in_zone.rider_id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM @extschema@._refuse_rider(v_zone, rider_id);
	END IF;
	-- a repeat: the rider is offline already
	IF v_was OPERATOR(pg_catalog.=) 'offline' THEN
		RETURN;
	END IF;
	v_load := @extschema@._rider_load(v_zone, rider_id);
	IF v_load OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION 'rider % still has % active orders', rider_id, v_load
			USING ERRCODE = 'DP021',
			      HINT = 'Deliver the orders, or release the assigned ones with release_order(order_id, rider_id, reason), first.';
	END IF;
	-- the time is stamped here, the caller's clock: the riders_shift trigger
	-- takes it from the row (on Citus it fires on the zone's worker); what
	-- is left of a plan (the end of one whose last order was delivered
	-- before it) goes with the shift: a rider back online is where it says
	UPDATE @extschema@.riders r
	   SET status = 'offline', online_since = NULL, shift_ends_at = NULL, last_offline_at = v_now,
	       free_at = NULL, free_position = NULL, plan_pickup_at = NULL, plan_pickup_position = NULL
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) rider_offline_in_zone.rider_id;
	PERFORM @extschema@._emit_event(v_zone, 'rider_status', NULL, NULL, rider_id,
	                                '{"status": "offline"}'::jsonb);
END
$$;
COMMENT ON FUNCTION @extschema@.rider_offline_in_zone(bigint, bigint) IS
	'rider_offline for a rider of the zone (the zone it was registered in; any other is refused, DP015, nothing written); on Citus the call is sent whole to the zone''s worker.';

CREATE FUNCTION @extschema@.rider_offline(rider_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@.rider_offline_in_zone(@extschema@._rider_zone(rider_id), rider_id);
END
$$;
COMMENT ON FUNCTION @extschema@.rider_offline(bigint) IS
	'A rider ends a shift; refused (DP021) while they hold orders (release_order gives back an assigned one).  On a rider offline already it is a no-op.  From then on the rider''s pings are refused (DP029) until rider_online.';

-- A ping names its rider, whose zone (rider_zones, never changing) says
-- where the rider's rows are.  An app that keeps its riders' zones (given
-- to register_rider) names the zone too: update_rider_location_in_zone
-- then reads nothing to find them, and on Citus, where it is a distributed
-- function of its zone, the whole call is sent to the zone's worker
-- (docs/citus.md).  One body serves both (in C, src/ping.c: the ping is
-- the most frequent call); so for a shift's start and end (above) and a
-- rider's plan (below).
CREATE FUNCTION @extschema@.update_rider_location_in_zone(zone_id bigint, rider_id bigint, lon float8, lat float8,
                                                         at timestamptz DEFAULT @extschema@.clock())
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_update_rider_location_in_zone';
COMMENT ON FUNCTION @extschema@.update_rider_location_in_zone(bigint, bigint, float8, float8, timestamptz) IS
	'Records a position ping of a rider of the zone (the zone it was registered in; any other is refused, DP015, nothing written), as update_rider_location does (an offline rider''s is refused, DP029); on Citus the call is sent whole to the zone''s worker.';

CREATE FUNCTION @extschema@.update_rider_location(rider_id bigint, lon float8, lat float8,
                                                 at timestamptz DEFAULT @extschema@.clock())
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_update_rider_location';
COMMENT ON FUNCTION @extschema@.update_rider_location(bigint, float8, float8, timestamptz) IS
	'Records a rider''s position ping; out-of-order pings are kept in the track but do not move the rider back.  An offline rider''s ping is refused (DP029), nothing written: no position is recorded off shift; so is one whose time lies in the break before the rider''s current shift, or before the rider''s first shift.';

-- A busy rider's plan: the rider app, which knows the route through the
-- orders the rider holds, says when and where it will be done with them.
-- Matching then costs a next order from there and then (src/match.c), so a
-- rider about to finish is a candidate for the next trip before it is
-- free; a rider without a plan is costed from its position, now.  A plan
-- may also name its next pickup, of a trip not yet started, and when the
-- rider will be there: an order of that pickup can then join the trip
-- (matching costs it from the pickup).  The plan lasts until the rider
-- holds no orders (the orders_rider_load trigger clears it; the end of a
-- plan whose last order was delivered before it stays until its time) or
-- the next plan replaces it.
CREATE FUNCTION @extschema@.update_rider_plan_in_zone(zone_id bigint, rider_id bigint, free_at timestamptz,
                                                      lon float8, lat float8,
                                                      pickup_at timestamptz DEFAULT NULL,
                                                      pickup_lon float8 DEFAULT NULL, pickup_lat float8 DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_point @extschema@.riders.free_position%TYPE := @extschema@._check_point(lon, lat, 'rider');
	v_pickup @extschema@.riders.plan_pickup_position%TYPE;
	v_now timestamptz := @extschema@.clock();
BEGIN
	IF free_at IS NULL OR NOT pg_catalog.isfinite(free_at) THEN
		RAISE EXCEPTION 'invalid plan time %', free_at
			USING ERRCODE = 'DP025', DETAIL = 'A plan needs a finite time at which the rider will be free.';
	END IF;
	-- a time days or years from now is a slip of the rider's app (a unit, a
	-- year), as merchant_accept takes a ready time: the end of such a plan
	-- would outlive the rider's last delivery (the orders_rider_load
	-- trigger keeps a plan's end until its time), and a rider holding no
	-- orders can send no plan to replace it, so matching would cost the
	-- rider as busy until then
	IF free_at OPERATOR(pg_catalog.>) (v_now OPERATOR(pg_catalog.+) interval '1 day')
	   OR free_at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) interval '1 day') THEN
		RAISE EXCEPTION 'plan time % is more than a day from now', free_at
			USING ERRCODE = 'DP025', DETAIL = 'A plan says when the rider will be done with the orders it holds.';
	END IF;
	IF (pickup_at IS NULL) <> (pickup_lon IS NULL) OR (pickup_at IS NULL) <> (pickup_lat IS NULL) THEN
		RAISE EXCEPTION 'a plan''s next pickup needs its time and both coordinates'
			USING ERRCODE = 'DP025';
	END IF;
	IF pickup_at IS NOT NULL THEN
		IF NOT pg_catalog.isfinite(pickup_at) OR pickup_at OPERATOR(pg_catalog.>) free_at THEN
			RAISE EXCEPTION 'invalid pickup time % of a plan done at %', pickup_at, free_at
				USING ERRCODE = 'DP025', DETAIL = 'The next pickup comes before the plan is done.';
		END IF;
		-- not after free_at, so at most a day ahead; a day or more ago is
		-- the same slip as above (the trip would be costed as reached)
		IF pickup_at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) interval '1 day') THEN
			RAISE EXCEPTION 'pickup time % of a plan is more than a day ago', pickup_at
				USING ERRCODE = 'DP025';
		END IF;
		v_pickup := @extschema@._check_point(pickup_lon, pickup_lat, 'pickup');
	END IF;
	UPDATE @extschema@.riders r
	   SET free_at = update_rider_plan_in_zone.free_at, free_position = v_point,
	       plan_pickup_at = update_rider_plan_in_zone.pickup_at, plan_pickup_position = v_pickup
	 WHERE r.zone_id OPERATOR(pg_catalog.=) update_rider_plan_in_zone.zone_id
	   AND r.rider_id OPERATOR(pg_catalog.=) update_rider_plan_in_zone.rider_id
	   AND r.active_orders OPERATOR(pg_catalog.>) 0;
	IF FOUND THEN
		RETURN true;
	END IF;
	-- an erased rider (forget_rider) is refused as an unknown one
	PERFORM FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) update_rider_plan_in_zone.zone_id
	   AND r.rider_id OPERATOR(pg_catalog.=) update_rider_plan_in_zone.rider_id
	   AND r.forgotten_at IS NULL;
	IF NOT FOUND THEN
		PERFORM @extschema@._refuse_rider(update_rider_plan_in_zone.zone_id, rider_id);
	END IF;
	-- holding no orders, the rider is free now: nothing to plan
	RETURN false;
END
$$;
COMMENT ON FUNCTION @extschema@.update_rider_plan_in_zone(bigint, bigint, timestamptz, float8, float8, timestamptz, float8, float8) IS
	'The plan of a rider of the zone (the zone it was registered in; any other is refused, DP015, nothing written), as update_rider_plan records it; on Citus the call is sent whole to the zone''s worker.';

CREATE FUNCTION @extschema@.update_rider_plan(rider_id bigint, free_at timestamptz, lon float8, lat float8,
                                              pickup_at timestamptz DEFAULT NULL,
                                              pickup_lon float8 DEFAULT NULL, pickup_lat float8 DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN @extschema@.update_rider_plan_in_zone(@extschema@._rider_zone(rider_id), rider_id, free_at, lon, lat,
	                                             pickup_at, pickup_lon, pickup_lat);
END
$$;
COMMENT ON FUNCTION @extschema@.update_rider_plan(bigint, timestamptz, float8, float8, timestamptz, float8, float8) IS
	'A rider holding orders says when and where it will be done with them, and optionally when it reaches its next pickup of a trip not yet started; matching costs its next order from there, or from that pickup for an order that can join the trip (docs/matching.md).  Returns false, recording nothing, when the rider holds no orders; an unknown or erased rider is refused (DP015); a time not finite or more than a day from now (after or before) DP025.';

CREATE FUNCTION @extschema@._merchant_accept(p_zone bigint, order_id bigint, ready_at timestamptz DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders := @extschema@._lock_order(order_id);
	v_prep integer;
	v_ready timestamptz;
BEGIN
	PERFORM @extschema@._check_order_zone(p_zone, order_id);
	IF v_order.kind OPERATOR(pg_catalog.<>) 'takeaway' THEN
		RAISE EXCEPTION 'order % is an errand: it has no merchant to accept it', order_id USING ERRCODE = 'DP025';
	END IF;
	IF ready_at IS NOT NULL AND NOT pg_catalog.isfinite(ready_at) THEN
		RAISE EXCEPTION 'ready time must be finite' USING ERRCODE = 'DP025';
	END IF;
	-- a repeat: the merchant accepted already, and the order may have moved
	-- on since (assigned, picked up, delivered); it is never taken back
	IF v_order.status IN ('accepted', 'assigned', 'picked_up', 'delivered') THEN
		IF _merchant_accept.ready_at IS NULL OR _merchant_accept.ready_at OPERATOR(pg_catalog.=) v_order.ready_at THEN
			RETURN;
		END IF;
		RAISE EXCEPTION 'order % was accepted already with another ready time (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP105',
			      DETAIL = pg_catalog.format('It is ready at %s; this call says %s.', v_order.ready_at, _merchant_accept.ready_at),
			      HINT = 'merchant_accept does not move the ready time of an accepted order.';
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) 'placed' THEN
		RAISE EXCEPTION 'order % cannot be accepted by the merchant (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP104', DETAIL = 'A merchant accepts a placed (paid) order.';
	END IF;
	-- a ready time days or years out is a slip of the merchant's app (a
	-- unit, a year), and would give the order an ETA window as wide; so is
	-- one days or years ago, whose food would count as waiting since then
	-- (matching would take the order for the most urgent of the zone);
	-- checked after the repeat above, so that a retry stays a no-op
	IF _merchant_accept.ready_at OPERATOR(pg_catalog.>) (@extschema@.clock() OPERATOR(pg_catalog.+) interval '1 day') THEN
		RAISE EXCEPTION 'ready time % is more than a day away', _merchant_accept.ready_at USING ERRCODE = 'DP025',
			HINT = 'Give the time the food will be ready today, or NULL for now plus the merchant''s preparation time.';
	END IF;
	IF _merchant_accept.ready_at OPERATOR(pg_catalog.<) (@extschema@.clock() OPERATOR(pg_catalog.-) interval '1 day') THEN
		RAISE EXCEPTION 'ready time % is more than a day ago', _merchant_accept.ready_at USING ERRCODE = 'DP025',
			HINT = 'Give the time the food will be (or was) ready today, or NULL for now plus the merchant''s preparation time.';
	END IF;
	SELECT m.prep_minutes INTO v_prep FROM @extschema@.merchants m
	 WHERE m.merchant_id OPERATOR(pg_catalog.=) v_order.merchant_id;
	-- computed before the UPDATE: Citus evaluates no volatile function
	-- within a COALESCE of a distributed UPDATE
	v_ready := COALESCE(_merchant_accept.ready_at,
	                    @extschema@.clock() OPERATOR(pg_catalog.+) pg_catalog.make_interval(mins => v_prep));
	UPDATE @extschema@.orders o
	   SET status = 'accepted', ready_at = v_ready,
	       ready_at_given = _merchant_accept.ready_at IS NOT NULL     -- else a guess, no ETA floor
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
END
$$;
COMMENT ON FUNCTION @extschema@._merchant_accept(bigint, bigint, timestamptz) IS
	'Internal: merchant_accept in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
CREATE FUNCTION @extschema@.merchant_accept(order_id bigint, ready_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._merchant_accept(@extschema@.zone_of(order_id), order_id, ready_at);
COMMENT ON FUNCTION @extschema@.merchant_accept(bigint, timestamptz) IS
	'The merchant accepts a placed order; ready_at (default now + prep time) is when the food will be ready.  Repeated once the order is accepted (or has moved on), a no-op with the same or no ready time, DP105 with another; DP104 on an order not paid or cancelled; DP025 for a ready time not finite or more than a day from now (after or before).';

CREATE FUNCTION @extschema@._assign_manually(p_zone bigint, order_id bigint, rider_id bigint, by text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint := @extschema@.zone_of(order_id);
	v_now timestamptz := @extschema@.clock();
	v_order @extschema@.orders;
	v_over integer;
	v_w record;
BEGIN
	PERFORM @extschema@._check_order_zone(p_zone, order_id);
	IF @extschema@._is_blank(by) THEN
		RAISE EXCEPTION 'a manual assignment names the dispatcher who made it' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('dispatcher', by);
	-- no rider given is no rider known (the eligibility rule below, STRICT,
	-- would let it through to the state machine's invariant, DP102)
	IF rider_id IS NULL THEN
		PERFORM @extschema@._refuse_rider(v_zone, rider_id);
	END IF;

	-- Locks in the order of matching (docs/matching.md): the zone (no batch
	-- runs meanwhile, so no offer appears), the riders (ours, and the one
	-- holding the order's pending offer, whose slot the assignment gives
	-- back) with the order's offer, our rider's other pending offers (they
	-- may be withdrawn), then the order.
	PERFORM @extschema@._lock_zone_routed(v_zone, order_id, NULL, false);
	PERFORM @extschema@._lock_order_riders(order_id, rider_id);
	PERFORM FROM @extschema@.offers f
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND f.status OPERATOR(pg_catalog.=) 'pending'
	   AND f.rider_id OPERATOR(pg_catalog.=) _assign_manually.rider_id
	 ORDER BY f.offer_id FOR UPDATE;
	v_order := @extschema@._lock_order(order_id);

	-- a repeat: the order is this rider's already (and may have moved on)
	IF v_order.status IN ('assigned', 'picked_up', 'delivered')
	   AND v_order.rider_id OPERATOR(pg_catalog.=) _assign_manually.rider_id THEN
		RETURN;
	END IF;
	IF v_order.status OPERATOR(pg_catalog.=) 'assigned' THEN
		RAISE EXCEPTION 'order % cannot be assigned (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP104', DETAIL = pg_catalog.format('It is rider %s''s order.', v_order.rider_id),
			      HINT = 'Its rider can give it back with release_order.';
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) 'accepted' THEN
		RAISE EXCEPTION 'order % cannot be assigned (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP104', DETAIL = 'Only an accepted order is assigned.';
	END IF;

	-- the eligibility rule, the rider's pending offers aside: a dispatcher
	-- overrides the batch's offers, not the rider's limits
	PERFORM @extschema@._rider_can_take(order_id, rider_id, false);

	-- the order's own pending offer goes with the assignment (as the order's
	-- trigger would do, and told its rider as the trigger tells it), so that
	-- its slot counts as free if it is this rider's
	PERFORM @extschema@._cancel_pending_offer(v_zone, _assign_manually.order_id, 'order assigned', v_now);

	-- offers that would overfill the rider are withdrawn, newest first: they
	-- are cancelled, their orders wait for the next batch (the rider is not
	-- excluded for them), and the rider is told by an offer event
	SELECT r.active_orders OPERATOR(pg_catalog.+) r.pending_offers OPERATOR(pg_catalog.+) 1
	       OPERATOR(pg_catalog.-) r.capacity
	  INTO v_over
	  FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone AND r.rider_id OPERATOR(pg_catalog.=) _assign_manually.rider_id;
	IF v_over OPERATOR(pg_catalog.>) 0 THEN
		FOR v_w IN
			UPDATE @extschema@.offers f
			   SET status = 'cancelled', responded_at = v_now,
			       reason = 'withdrawn: rider assigned order ' OPERATOR(pg_catalog.||) _assign_manually.order_id::text
			                OPERATOR(pg_catalog.||) ' by hand'
			 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone
			   AND f.offer_id IN (SELECT p.offer_id FROM @extschema@.offers p
			                       WHERE p.zone_id OPERATOR(pg_catalog.=) v_zone
			                         AND p.rider_id OPERATOR(pg_catalog.=) _assign_manually.rider_id
			                         AND p.status OPERATOR(pg_catalog.=) 'pending'
			                       ORDER BY p.created_at DESC, p.offer_id DESC
			                       LIMIT v_over)
			RETURNING f.offer_id, f.order_id
		LOOP
			PERFORM @extschema@._offer_cancelled_event(v_zone, v_w.order_id, _assign_manually.rider_id, v_w.offer_id,
			                                           'withdrawn');
		END LOOP;
		UPDATE @extschema@.riders r
		   SET pending_offers = GREATEST(r.pending_offers OPERATOR(pg_catalog.-) v_over, 0)
		 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone AND r.rider_id OPERATOR(pg_catalog.=) _assign_manually.rider_id;
	END IF;

	UPDATE @extschema@.orders o
	   SET status = 'assigned', rider_id = _assign_manually.rider_id, assigned_by = by
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
END
$$;
COMMENT ON FUNCTION @extschema@._assign_manually(bigint, bigint, bigint, text) IS
	'Internal: assign_manually in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
CREATE FUNCTION @extschema@.assign_manually(order_id bigint, rider_id bigint, by text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._assign_manually(@extschema@.zone_of(order_id), order_id, rider_id, by);
COMMENT ON FUNCTION @extschema@.assign_manually(bigint, bigint, text) IS
	'A dispatcher''s override: assigns an accepted order to a rider who can take it (the eligibility rule of matching, DP020 naming the reason), its pending offers aside: the order''s own pending offer is cancelled, and the rider''s newest pending offers that would overfill them are withdrawn (cancelled, with an offer event; their orders go to the next batch).  A no-op on an order that is this rider''s already; DP104 on any other status (never takes an order from its rider).';

-- Riders before orders.  A change of an order that moves riders' counters
-- (the order's trigger: active orders, pending offers, daily counts) locks
-- those riders and the order's pending offer first, in the order of
-- matching (riders, offers, orders), as respond_offer and assign_batch do;
-- locking the order first would deadlock with an accept of its offer.
CREATE FUNCTION @extschema@._lock_order_riders(p_order_id bigint, p_rider_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint := @extschema@.zone_of(p_order_id);
	v_riders bigint[];
BEGIN
	-- the riders' ids first, then their rows by key: as one semi-join the
	-- planner may walk every rider of the zone and look up the order and
	-- its offer once for each
	SELECT pg_catalog.array_agg(x.rider_id) INTO v_riders
	  FROM (SELECT p_rider_id
	        UNION ALL
	        SELECT o.rider_id FROM @extschema@.orders o
	         WHERE o.zone_id OPERATOR(pg_catalog.=) v_zone
	           AND o.order_id OPERATOR(pg_catalog.=) p_order_id
	        UNION ALL
	        SELECT f.rider_id FROM @extschema@.offers f
	         WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone
	           AND f.order_id OPERATOR(pg_catalog.=) p_order_id
	           AND f.status OPERATOR(pg_catalog.=) 'pending') x(rider_id)
	 WHERE x.rider_id IS NOT NULL;
	PERFORM FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) ANY (v_riders)
	 ORDER BY r.rider_id FOR UPDATE;
	PERFORM FROM @extschema@.offers f
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND f.order_id OPERATOR(pg_catalog.=) p_order_id
	   AND f.status OPERATOR(pg_catalog.=) 'pending'
	 ORDER BY f.offer_id FOR UPDATE;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_order_riders(bigint, bigint) IS
	'Internal: locks, before the order, the riders a change of the order may touch (p_rider_id, the order''s rider, the rider of its pending offer) in id order, then its pending offer.';
REVOKE ALL ON FUNCTION @extschema@._lock_order_riders(bigint, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._rider_step(p_order_id bigint, p_rider_id bigint, p_from text, p_to text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders;
	v_zone_locked boolean := false;
BEGIN
	-- a batch holds its zone's accepted orders while it waits for riders'
	-- rows: a step that would wait for an accepted order (refused then,
	-- DP104) takes the zone's lock first, shared, as cancel_order does, so
	-- that it never holds a rider such a batch waits for (a pickup or a
	-- delivery of the rider's own order, the hot path, takes none)
	IF (SELECT o.status FROM @extschema@.orders o
	     WHERE o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(p_order_id)
	       AND o.order_id OPERATOR(pg_catalog.=) p_order_id) OPERATOR(pg_catalog.=) 'accepted' THEN
		PERFORM @extschema@._lock_zone_routed(@extschema@.zone_of(p_order_id), p_order_id, NULL, true);
		v_zone_locked := true;
	END IF;
	PERFORM @extschema@._lock_order_riders(p_order_id, p_rider_id);
	-- taken back meanwhile (a replan or a release committed between the
	-- read above and the riders' locks, which now keep it from changing
	-- so): refused without waiting for the order, which a batch may hold
	IF NOT v_zone_locked
	   AND (SELECT o.status FROM @extschema@.orders o
	         WHERE o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(p_order_id)
	           AND o.order_id OPERATOR(pg_catalog.=) p_order_id) OPERATOR(pg_catalog.=) 'accepted' THEN
		RAISE EXCEPTION 'order % cannot be marked % (status "accepted")', p_order_id, p_to
			USING ERRCODE = 'DP104', DETAIL = pg_catalog.format('Only an order in status "%s" can.', p_from);
	END IF;
	v_order := @extschema@._lock_order(p_order_id);
	-- a repeat: this rider took the order there already (or beyond)
	IF v_order.rider_id OPERATOR(pg_catalog.=) p_rider_id
	   AND (v_order.status OPERATOR(pg_catalog.=) p_to
	        OR (p_to OPERATOR(pg_catalog.=) 'picked_up' AND v_order.status OPERATOR(pg_catalog.=) 'delivered')) THEN
		RETURN;
	END IF;
	IF v_order.status IN ('assigned', 'picked_up', 'delivered')
	   AND v_order.rider_id IS DISTINCT FROM p_rider_id THEN
		RAISE EXCEPTION 'rider % is not the rider of order % (status "%")', p_rider_id, p_order_id, v_order.status
			USING ERRCODE = 'DP019';
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) p_from THEN
		RAISE EXCEPTION 'order % cannot be marked % (status "%")', p_order_id, p_to, v_order.status
			USING ERRCODE = 'DP104', DETAIL = pg_catalog.format('Only an order in status "%s" can.', p_from);
	END IF;
	UPDATE @extschema@.orders o SET status = p_to
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) p_order_id;
END
$$;
COMMENT ON FUNCTION @extschema@._rider_step(bigint, bigint, text, text) IS
	'Internal: a rider moves their own order from p_from to p_to (pickup, delivery); a no-op when they took it there already, DP019 for another rider''s order, DP104 from any other status.';
REVOKE ALL ON FUNCTION @extschema@._rider_step(bigint, bigint, text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@._mark_picked_up(p_zone bigint, order_id bigint, rider_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._check_order_zone(p_zone, order_id);
	PERFORM @extschema@._rider_step(order_id, rider_id, 'assigned', 'picked_up');
END
$$;
COMMENT ON FUNCTION @extschema@._mark_picked_up(bigint, bigint, bigint) IS
	'Internal: mark_picked_up in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
CREATE FUNCTION @extschema@.mark_picked_up(order_id bigint, rider_id bigint)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._mark_picked_up(@extschema@.zone_of(order_id), order_id, rider_id);
COMMENT ON FUNCTION @extschema@.mark_picked_up(bigint, bigint) IS
	'The assigned rider has picked the order up.';

CREATE FUNCTION @extschema@._mark_delivered(p_zone bigint, order_id bigint, rider_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._check_order_zone(p_zone, order_id);
	PERFORM @extschema@._rider_step(order_id, rider_id, 'picked_up', 'delivered');
END
$$;
COMMENT ON FUNCTION @extschema@._mark_delivered(bigint, bigint, bigint) IS
	'Internal: mark_delivered in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
CREATE FUNCTION @extschema@.mark_delivered(order_id bigint, rider_id bigint)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._mark_delivered(@extschema@.zone_of(order_id), order_id, rider_id);
COMMENT ON FUNCTION @extschema@.mark_delivered(bigint, bigint) IS
	'The assigned rider has delivered the order.';

CREATE FUNCTION @extschema@._cancel_order(p_zone bigint, order_id bigint, reason text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders;
	v_items bigint[];
	v_qtys integer[];
	v_line integer;
BEGIN
	PERFORM @extschema@._check_order_zone(p_zone, order_id);
	IF @extschema@._is_blank(reason) THEN
		RAISE EXCEPTION 'a cancellation needs a reason' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('reason', reason);
	-- the zone's lock, shared: no batch offers the order while its riders
	-- are locked; then riders, offer, order
	PERFORM @extschema@._lock_zone_routed(@extschema@.zone_of(order_id), order_id, NULL, true);
	PERFORM @extschema@._lock_order_riders(order_id, NULL);
	v_order := @extschema@._lock_order(order_id);
	-- a repeat: cancelled already
	IF v_order.status OPERATOR(pg_catalog.=) 'cancelled' THEN
		RETURN;
	END IF;
	IF v_order.status NOT IN ('pending_payment', 'payment_failed', 'placed', 'accepted', 'assigned') THEN
		RAISE EXCEPTION 'order % cannot be cancelled (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP104', DETAIL = 'An order is cancelled before pickup only.';
	END IF;
	UPDATE @extschema@.orders o
	   SET status = 'cancelled', cancel_reason = reason
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
	UPDATE @extschema@.payments p
	   SET status = 'failed', failure_reason = 'order cancelled', settled_at = @extschema@.clock()
	 WHERE p.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND p.order_id OPERATOR(pg_catalog.=) v_order.order_id
	   AND p.status OPERATOR(pg_catalog.=) 'pending';
	-- what was taken from stock goes back to the zone's counts, in item
	-- order as intake takes it (the lines read first, for that order);
	-- a line of an item unlimited when ordered took nothing; a count set
	-- since near the largest integer stays at it (an overflow here would
	-- leave the order impossible to cancel)
	SELECT pg_catalog.array_agg(oi.item_id ORDER BY oi.item_id), pg_catalog.array_agg(oi.qty ORDER BY oi.item_id)
	  INTO v_items, v_qtys
	  FROM @extschema@.order_items oi
	 WHERE oi.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND oi.order_id OPERATOR(pg_catalog.=) v_order.order_id
	   AND oi.stock_taken;
	FOR v_line IN 1 .. COALESCE(pg_catalog.cardinality(v_items), 0) LOOP
		UPDATE @extschema@.item_stock s
		   SET stock = LEAST(s.stock::bigint OPERATOR(pg_catalog.+) v_qtys[v_line], 2147483647)::integer
		 WHERE s.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND s.item_id OPERATOR(pg_catalog.=) v_items[v_line];
	END LOOP;
	-- and what it took of a campaign, a coupon and points (sql/52_campaigns.sql)
	PERFORM @extschema@._offer_return(v_order.zone_id, v_order.order_id);
	-- a paid order is refunded (sql/62_refunds.sql)
	PERFORM @extschema@._refund_cancelled(v_order, reason);
END
$$;
COMMENT ON FUNCTION @extschema@._cancel_order(bigint, bigint, text) IS
	'Internal: cancel_order in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
CREATE FUNCTION @extschema@.cancel_order(order_id bigint, reason text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._cancel_order(@extschema@.zone_of(order_id), order_id, reason);
COMMENT ON FUNCTION @extschema@.cancel_order(bigint, text) IS
	'Cancels an order before pickup: a pending payment is voided, a succeeded one is refunded (a refund record and a refund event), the stock it took is returned (an item unlimited when ordered took none), and so are its campaign discount (to the budget), its coupon use and its points.  A no-op on a cancelled order; DP104 once picked up.';

CREATE FUNCTION @extschema@._release_order(p_zone bigint, order_id bigint, rider_id bigint, reason text,
                                           p_exclude boolean) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders;
	v_now timestamptz := @extschema@.clock();
	v_offer bigint;
BEGIN
	PERFORM @extschema@._check_order_zone(p_zone, order_id);
	IF @extschema@._is_blank(reason) THEN
		RAISE EXCEPTION 'a release needs a reason' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('reason', reason);
	-- the zone's lock, shared, before the riders: the order may be accepted
	-- (a repeat, a replan of an order taken back already), and a batch
	-- holding it waits for riders' rows (as cancel_order)
	PERFORM @extschema@._lock_zone_routed(p_zone, order_id, NULL, true);
	PERFORM @extschema@._lock_order_riders(order_id, rider_id);
	v_order := @extschema@._lock_order(order_id);
	-- a repeat: this rider released the order already and nobody holds it
	-- since; a replan: the order waits for a batch already, held by nobody
	IF v_order.rider_id IS NULL
	   AND ((p_exclude AND EXISTS (SELECT FROM @extschema@.offer_exclusions e
	                                WHERE e.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	                                  AND e.order_id OPERATOR(pg_catalog.=) v_order.order_id
	                                  AND e.rider_id OPERATOR(pg_catalog.=) _release_order.rider_id
	                                  AND e.reason OPERATOR(pg_catalog.=) 'released'))
	        OR (NOT p_exclude AND v_order.status OPERATOR(pg_catalog.=) 'accepted')) THEN
		RETURN;
	END IF;
	IF v_order.rider_id IS DISTINCT FROM _release_order.rider_id AND v_order.rider_id IS NOT NULL THEN
		RAISE EXCEPTION 'rider % is not the rider of order % (status "%")', rider_id, order_id, v_order.status
			USING ERRCODE = 'DP019';
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) 'assigned' THEN
		RAISE EXCEPTION 'order % cannot be released (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP104', DETAIL = 'Only an assigned order that is not picked up yet is released.';
	END IF;

	-- the rider goes in the same update: the state machine allows no other release
	UPDATE @extschema@.orders o SET status = 'accepted', rider_id = NULL, assigned_by = NULL
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
	-- the batch never offers it to this rider again (a release), or may (a
	-- replan)
	IF p_exclude THEN
		INSERT INTO @extschema@.offer_exclusions (zone_id, order_id, rider_id, at, reason, detail)
		VALUES (v_order.zone_id, v_order.order_id, _release_order.rider_id, v_now, 'released', reason)
		ON CONFLICT ON CONSTRAINT offer_exclusions_pkey
		DO UPDATE SET at = EXCLUDED.at, reason = EXCLUDED.reason, detail = EXCLUDED.detail;
	END IF;
	-- the accepted offer that gave the rider the order, if any
	UPDATE @extschema@.offers f SET status = 'released'
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND f.order_id OPERATOR(pg_catalog.=) v_order.order_id
	   AND f.rider_id OPERATOR(pg_catalog.=) _release_order.rider_id
	   AND f.status OPERATOR(pg_catalog.=) 'accepted'
	RETURNING f.offer_id INTO v_offer;
	IF v_offer IS NOT NULL THEN
		PERFORM @extschema@._emit_event(v_order.zone_id, 'offer', v_order.order_id, NULL, rider_id,
		                                pg_catalog.jsonb_build_object('offer_id', v_offer, 'status', 'released'));
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._release_order(bigint, bigint, bigint, text, boolean) IS
	'Internal: release_order (p_exclude true) and replan_order (false) in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
CREATE FUNCTION @extschema@.release_order(order_id bigint, rider_id bigint, reason text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._release_order(@extschema@.zone_of(order_id), order_id, rider_id, reason, true);
COMMENT ON FUNCTION @extschema@.release_order(bigint, bigint, text) IS
	'The order''s rider gives back an assigned order (not yet picked up): it is accepted again without a rider, the offer that gave it is released, and the rider is excluded for it, so the next batch offers it to someone else.  A no-op once this rider released it; DP019 if another rider holds it, DP104 on any other status.';
-- The dispatcher takes an order back to plan it again: an order given to a
-- rider who has not set out for it yet (the rider's plan names its pickup
-- as a trip not started) goes back to the next batch, which may give it to
-- a rider who can fetch it sooner than the one it was committed to (a
-- busy rider given a trip to start once free, a rider far away), or to the
-- same one.  The app decides when (docs/matching.md, "Planning again").
CREATE FUNCTION @extschema@.replan_order(order_id bigint, rider_id bigint)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._release_order(@extschema@.zone_of(order_id), order_id, rider_id, 'replanned', false);
COMMENT ON FUNCTION @extschema@.replan_order(bigint, bigint) IS
	'The dispatcher takes back an assigned order its rider has not picked up, to plan it again: it is accepted again without a rider and the offer that gave it is released, as release_order does, but the rider is not excluded: the next batch may give it to the same rider or to another.  A no-op on an order accepted and held by nobody (taken back already, or not given yet); DP019 if another rider holds it, DP104 on any other status.';

-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON FUNCTION @extschema@.rider_online(bigint, float8, float8, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rider_online(bigint, float8, float8, timestamptz) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.rider_offline(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rider_offline(bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.rider_online_in_zone(bigint, bigint, float8, float8, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rider_online_in_zone(bigint, bigint, float8, float8, timestamptz) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.rider_offline_in_zone(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rider_offline_in_zone(bigint, bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.update_rider_location(bigint, float8, float8, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.update_rider_location(bigint, float8, float8, timestamptz) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.update_rider_location_in_zone(bigint, bigint, float8, float8, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.update_rider_location_in_zone(bigint, bigint, float8, float8, timestamptz) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.update_rider_plan(bigint, timestamptz, float8, float8, timestamptz, float8, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.update_rider_plan(bigint, timestamptz, float8, float8, timestamptz, float8, float8) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.update_rider_plan_in_zone(bigint, bigint, timestamptz, float8, float8, timestamptz, float8, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.update_rider_plan_in_zone(bigint, bigint, timestamptz, float8, float8, timestamptz, float8, float8) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.merchant_accept(bigint, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.merchant_accept(bigint, timestamptz) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._merchant_accept(bigint, bigint, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._merchant_accept(bigint, bigint, timestamptz) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.assign_manually(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.assign_manually(bigint, bigint, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._assign_manually(bigint, bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._assign_manually(bigint, bigint, bigint, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.mark_picked_up(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.mark_picked_up(bigint, bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._mark_picked_up(bigint, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._mark_picked_up(bigint, bigint, bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.mark_delivered(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.mark_delivered(bigint, bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._mark_delivered(bigint, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._mark_delivered(bigint, bigint, bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.cancel_order(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.cancel_order(bigint, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._cancel_order(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._cancel_order(bigint, bigint, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.release_order(bigint, bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.replan_order(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.release_order(bigint, bigint, text) TO dispatch_app, dispatch_admin;
GRANT EXECUTE ON FUNCTION @extschema@.replan_order(bigint, bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._release_order(bigint, bigint, bigint, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._release_order(bigint, bigint, bigint, text, boolean) TO dispatch_app, dispatch_admin;
