-- sql/55_orders.sql
-- Order intake (place_order, place_errand) and payment.  Read-only checks
-- come first, in the order docs/api.md ("Intake checks") gives, then stock
-- is taken row by row in item order (so two orders never deadlock on
-- items), then the order, its lines and its pending payment are written.
-- Any failure aborts the call and leaves nothing behind; a refusal (a DP
-- error) is first noted in the ring of refused attempts (sql/47_fraud.sql)
-- by the C functions place_order and place_errand around their bodies.

-- C (src/intake.c), shared with the body of place_order
CREATE FUNCTION @extschema@._check_customer(p_customer_id bigint, p_zone_id bigint) RETURNS void
LANGUAGE C STABLE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_check_customer';
COMMENT ON FUNCTION @extschema@._check_customer(bigint, bigint) IS
	'Internal: the customer exists, is not flagged, and has fewer than dispatch.fraud_max_bad_orders unpaid or cancelled orders in the zone within dispatch.fraud_window_minutes.';
REVOKE ALL ON FUNCTION @extschema@._check_customer(bigint, bigint) FROM PUBLIC;

-- C (src/locks.c), as place_order takes the lock
CREATE FUNCTION @extschema@._lock_intake(p_customer_id bigint, p_zone_id bigint) RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_lock_intake_sql';
COMMENT ON FUNCTION @extschema@._lock_intake(bigint, bigint) IS
	'Internal: the customer''s intake lock (advisory, exclusive, to the end of the transaction) for an intake in zone p_zone_id: on Citus first on the node that holds the zone''s shards, through a statement routed there, then on the node that runs the call; p_zone_id NULL: on this node only.  One intake of the customer at a time counts the customer''s orders (DP009) and a campaign''s uses.';
REVOKE ALL ON FUNCTION @extschema@._lock_intake(bigint, bigint) FROM PUBLIC;

-- C (src/order_lines.c): an item list's lines, one per item by id, in one
-- pass over the jsonb; DP007 for any other shape or quantity
CREATE FUNCTION @extschema@._order_lines(items jsonb, max_qty integer,
                                        OUT item_ids bigint[], OUT qtys integer[])
RETURNS record
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_order_lines';
COMMENT ON FUNCTION @extschema@._order_lines(jsonb, integer) IS
	'Internal: the lines of an item list (a non-empty array of flat {"item_id": n, "qty": n}), the quantities of an item summed, by item id; DP007 for another shape or a quantity outside 1..max_qty.';
REVOKE ALL ON FUNCTION @extschema@._order_lines(jsonb, integer) FROM PUBLIC;

-- C (src/intake.c): the checks, the stock, the order, its lines, its offer
-- and its pending payment in statements with kept plans (every order runs it)
CREATE FUNCTION @extschema@._place_order(p_zone bigint, customer_id bigint, merchant_id bigint, items jsonb,
                                        dropoff_lon float8, dropoff_lat float8, dropoff_address text,
                                        priority text, coupon_code text, spend_points integer)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_place_order_body';
COMMENT ON FUNCTION @extschema@._place_order(bigint, bigint, bigint, jsonb, float8, float8, text, text, text, integer) IS
	'Internal: the body of place_order (p_zone NULL: the merchant''s zone) and place_order_in_zone (p_zone the merchant''s zone, DP013 otherwise), which call it and note its refusals.';
REVOKE ALL ON FUNCTION @extschema@._place_order(bigint, bigint, bigint, jsonb, float8, float8, text, text, text, integer) FROM PUBLIC;

-- place_order and place_order_in_zone are C (src/refusals.c): each calls
-- _place_order and notes a refusal (an error of class DP) on its way out,
-- without the cost of a subtransaction on every order
CREATE FUNCTION @extschema@.place_order(customer_id bigint, merchant_id bigint, items jsonb,
                                       dropoff_lon float8, dropoff_lat float8, dropoff_address text,
                                       priority text DEFAULT 'normal', coupon_code text DEFAULT NULL,
                                       spend_points integer DEFAULT 0)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_place_order';
COMMENT ON FUNCTION @extschema@.place_order(bigint, bigint, jsonb, float8, float8, text, text, text, integer) IS
	'Validates and places a takeaway order in pending_payment, taking stock, at most one offer (coupon_code, or the best automatic one) and the points asked for (spend_points) atomically; returns the order id (zone in its high bits).  Errors: docs/errors.md.';

CREATE FUNCTION @extschema@.place_order_in_zone(zone_id bigint, customer_id bigint, merchant_id bigint, items jsonb,
                                               dropoff_lon float8, dropoff_lat float8, dropoff_address text,
                                               priority text DEFAULT 'normal', coupon_code text DEFAULT NULL,
                                               spend_points integer DEFAULT 0)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_place_order_in_zone';
COMMENT ON FUNCTION @extschema@.place_order_in_zone(bigint, bigint, bigint, jsonb, float8, float8, text, text, text, integer) IS
	'place_order for a caller that knows the merchant''s zone (the zone given to create_merchant; a merchant never changes zone): the same checks and effects, and a zone that is not the merchant''s is refused (DP013), nothing written.  On Citus the call is sent whole to the zone''s worker (distribute()).  Errors: docs/errors.md.';

CREATE FUNCTION @extschema@._place_errand(p_zone bigint, customer_id bigint, pickup_lon float8, pickup_lat float8,
                                         dropoff_lon float8, dropoff_lat float8, dropoff_address text,
                                         description text, fee_cents integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_pickup @extschema@.orders.pickup%TYPE;
	v_drop @extschema@.orders.dropoff%TYPE;
	v_zone bigint;
	v_area @extschema@.zones.area%TYPE;
	v_speed real;
	v_dist real;
	v_order bigint;
	v_now timestamptz := @extschema@.clock();
BEGIN
	v_pickup := @extschema@._check_point(pickup_lon, pickup_lat, 'pickup');
	v_drop := @extschema@._check_point(dropoff_lon, dropoff_lat, 'drop-off');
	IF _place_errand.customer_id IS NULL THEN
		RAISE EXCEPTION 'an errand needs a customer' USING ERRCODE = 'DP012';
	END IF;
	PERFORM @extschema@._check_length('dropoff_address', dropoff_address);
	PERFORM @extschema@._check_length('errand_description', description);
	-- the zone given (place_errand_in_zone) must cover the pickup; else
	-- the first that does and covers the drop-off too, or the first that
	-- does (refused below): a pickup on the border of two zones that touch,
	-- or where they overlap, lies in both, and the errand goes to the one
	-- it can be delivered in
	SELECT z.zone_id, z.area, z.speed_mps INTO v_zone, v_area, v_speed
	  FROM @extschema@.zones z
	 WHERE (p_zone IS NULL OR z.zone_id OPERATOR(pg_catalog.=) p_zone)
	   AND @extschema@._covers(z.area, v_pickup)
	 ORDER BY @extschema@._covers(z.area, v_drop) DESC, z.zone_id
	 LIMIT 1;
	IF NOT FOUND AND p_zone IS NOT NULL THEN
		PERFORM @extschema@._refusal_zone(p_zone);
		RAISE EXCEPTION 'pickup lies outside the service area of zone %', p_zone USING ERRCODE = 'DP002';
	ELSIF NOT FOUND THEN
		RAISE EXCEPTION 'pickup lies outside every service area' USING ERRCODE = 'DP002';
	END IF;
	PERFORM @extschema@._refusal_zone(v_zone);
	IF NOT @extschema@._covers(v_area, v_drop) THEN
		RAISE EXCEPTION 'drop-off lies outside the service area of zone %', v_zone USING ERRCODE = 'DP002';
	END IF;
	v_dist := @extschema@._check_distance(v_pickup, v_drop);
	IF @extschema@._is_blank(description) THEN
		RAISE EXCEPTION 'an errand needs a description' USING ERRCODE = 'DP025';
	END IF;
	IF fee_cents IS NULL OR fee_cents OPERATOR(pg_catalog.<=) 0
	   OR fee_cents OPERATOR(pg_catalog.>) @extschema@._setting_int('dispatch.max_order_cents') THEN
		RAISE EXCEPTION 'invalid errand fee % cents', fee_cents USING ERRCODE = 'DP008';
	END IF;
	-- the customer's lock from before its check, as place_order takes it:
	-- an erasure committed first is seen, a later one waits for the errand;
	-- then the customer's intake lock (src/locks.h; on Citus on the zone's
	-- worker too), so that the check, a statement after it, counts an order
	-- or errand of the customer placed at the same time once that commits
	-- (two cannot both pass the limit)
	PERFORM @extschema@._lock_subject('customer', _place_errand.customer_id, false);
	PERFORM @extschema@._lock_intake(_place_errand.customer_id, v_zone);
	PERFORM @extschema@._check_customer(_place_errand.customer_id, v_zone);

	v_order := @extschema@.zone_scoped_id(v_zone, pg_catalog.nextval('@extschema@.orders_id_seq'));
	INSERT INTO @extschema@.orders
	       (zone_id, order_id, kind, customer_id, status, pickup, dropoff, dropoff_address_enc,
	        description_enc, distance_m, fee_cents, total_cents, promised_at, created_at, status_changed_at)
	VALUES (v_zone, v_order, 'errand', _place_errand.customer_id, 'pending_payment', v_pickup, v_drop,
	        @extschema@.pii_seal('customer', _place_errand.customer_id, dropoff_address),
	        @extschema@.pii_seal('customer', _place_errand.customer_id, description),
	        v_dist, fee_cents, fee_cents,
	        v_now OPERATOR(pg_catalog.+) pg_catalog.make_interval(mins => 15,
	                                                             secs => v_dist OPERATOR(pg_catalog./) v_speed),
	        v_now, v_now);
	INSERT INTO @extschema@.payments (zone_id, payment_id, order_id, amount_cents, created_at)
	VALUES (v_zone, @extschema@.zone_scoped_id(v_zone, pg_catalog.nextval('@extschema@.payments_id_seq')),
	        v_order, fee_cents, v_now);
	RETURN v_order;
END
$$;
COMMENT ON FUNCTION @extschema@._place_errand(bigint, bigint, float8, float8, float8, float8, text, text, integer) IS
	'Internal: the body of place_errand (p_zone NULL: the first zone covering the pickup and the drop-off, else the first covering the pickup) and place_errand_in_zone (p_zone a zone covering the pickup, DP002 otherwise), which call it and note its refusals.';
REVOKE ALL ON FUNCTION @extschema@._place_errand(bigint, bigint, float8, float8, float8, float8, text, text, integer) FROM PUBLIC;

-- C, as place_order
CREATE FUNCTION @extschema@.place_errand(customer_id bigint, pickup_lon float8, pickup_lat float8,
                                        dropoff_lon float8, dropoff_lat float8, dropoff_address text,
                                        description text, fee_cents integer)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_place_errand';
COMMENT ON FUNCTION @extschema@.place_errand(bigint, float8, float8, float8, float8, text, text, integer) IS
	'Validates and places an errand (pick up anything, bring it to the drop-off) in pending_payment; the zone is the one covering the pickup (where several do, the first that covers the drop-off too).';

CREATE FUNCTION @extschema@.place_errand_in_zone(zone_id bigint, customer_id bigint, pickup_lon float8, pickup_lat float8,
                                                dropoff_lon float8, dropoff_lat float8, dropoff_address text,
                                                description text, fee_cents integer)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_place_errand_in_zone';
COMMENT ON FUNCTION @extschema@.place_errand_in_zone(bigint, bigint, float8, float8, float8, float8, text, text, integer) IS
	'place_errand in the zone given, which must cover the pickup (DP002 otherwise, nothing written; where zones overlap, the caller chooses): the same checks and effects.  On Citus the call is sent whole to the zone''s worker (distribute()).';

-- The routed forms of the calls that take an order id (_confirm_payment,
-- _cancel_order, ...) carry the zone as their first argument, by which
-- Citus sends the call to the zone's worker; it must be the zone in the id.
CREATE FUNCTION @extschema@._check_order_zone(p_zone bigint, p_order_id bigint) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_zone IS DISTINCT FROM @extschema@.zone_of(p_order_id) THEN
		RAISE EXCEPTION 'order % does not lie in zone %', p_order_id, p_zone USING ERRCODE = 'DP014';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_order_zone(bigint, bigint) IS
	'Internal: DP014 unless p_zone is the zone in the order id p_order_id (the check of every routed form of a call on an order).';
REVOKE ALL ON FUNCTION @extschema@._check_order_zone(bigint, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._lock_order(p_order_id bigint) RETURNS @extschema@.orders
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v @extschema@.orders;
BEGIN
	SELECT * INTO v FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(p_order_id)
	   AND o.order_id OPERATOR(pg_catalog.=) p_order_id
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', p_order_id USING ERRCODE = 'DP014';
	END IF;
	RETURN v;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_order(bigint) IS
	'Internal: the order row, locked FOR UPDATE, found through the zone in its id; DP014 if there is none.';
REVOKE ALL ON FUNCTION @extschema@._lock_order(bigint) FROM PUBLIC;

-- C (src/payments.c): the order locked, its pending payment settled, the
-- order moved on, in a few statements with kept plans (every order placed
-- and paid runs it)
CREATE FUNCTION @extschema@._confirm_payment(p_zone bigint, order_id bigint, provider_ref text) RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_confirm_payment';
COMMENT ON FUNCTION @extschema@._confirm_payment(bigint, bigint, text) IS
	'Internal: confirm_payment in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
CREATE FUNCTION @extschema@.confirm_payment(order_id bigint, provider_ref text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._confirm_payment(@extschema@.zone_of(order_id), order_id, provider_ref);
COMMENT ON FUNCTION @extschema@.confirm_payment(bigint, text) IS
	'Records a successful payment and moves the order from pending_payment to placed (an errand on to accepted).  Repeating the same confirmation (same provider reference) is a no-op; a success for an order cancelled before any payment succeeded, or in payment_failed (not retried), is recorded and refunded (a refund event), the order keeping its status; anything else without a pending payment is refused (DP018), a reference that paid another order of the zone DP030 (the reference taken without the white space around it), a missing reference (NULL, empty or white space only) DP025.';

CREATE FUNCTION @extschema@._fail_payment(p_zone bigint, order_id bigint, reason text, attempt integer DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_fail_payment';
COMMENT ON FUNCTION @extschema@._fail_payment(bigint, bigint, text, integer) IS
	'Internal: fail_payment in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
CREATE FUNCTION @extschema@.fail_payment(order_id bigint, reason text, attempt integer DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._fail_payment(@extschema@.zone_of(order_id), order_id, reason, attempt);
COMMENT ON FUNCTION @extschema@.fail_payment(bigint, text, integer) IS
	'Records a failed payment attempt; the order goes from pending_payment to payment_failed and its event tells the customer to retry.  attempt names the payment attempt reported on (the "attempt" of the order_status event that asked for it; NULL: the current one): a failure of an attempt retried since changes nothing and returns as a no-op does, an attempt the order never had is DP025.  Repeated with the same reason it is a no-op; otherwise refused without a pending payment (DP018).  A missing reason (NULL, empty or white space only) is DP025.';

-- Not STRICT: a missing order id is an unknown order (DP014, _lock_order),
-- as for every other call on an order, not a silent NULL.
CREATE FUNCTION @extschema@.retry_payment(order_id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders := @extschema@._lock_order(order_id);
	v_payment bigint;
BEGIN
	-- a repeat: the pending attempt is a retry (the order's attempt past
	-- its first, which only a retry after a failure begins); it is the
	-- answer again.  (Not told by payment ids: on Citus each node numbers
	-- from its own range, docs/citus.md, and this call, run by the
	-- coordinator, may number the retry below the attempt it follows.)
	IF v_order.status OPERATOR(pg_catalog.=) 'pending_payment'
	   AND v_order.payment_attempt OPERATOR(pg_catalog.>) 1 THEN
		SELECT p.payment_id INTO v_payment FROM @extschema@.payments p
		 WHERE p.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
		   AND p.order_id OPERATOR(pg_catalog.=) v_order.order_id
		   AND p.status OPERATOR(pg_catalog.=) 'pending';
		IF FOUND THEN
			RETURN v_payment;
		END IF;
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) 'payment_failed' THEN
		RAISE EXCEPTION 'order % is not awaiting a payment retry (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP018';
	END IF;
	UPDATE @extschema@.orders o SET status = 'pending_payment'
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
	v_payment := @extschema@.zone_scoped_id(v_order.zone_id, pg_catalog.nextval('@extschema@.payments_id_seq'));
	INSERT INTO @extschema@.payments (zone_id, payment_id, order_id, amount_cents, created_at)
	VALUES (v_order.zone_id, v_payment, v_order.order_id, v_order.total_cents, @extschema@.clock());
	RETURN v_payment;
END
$$;
COMMENT ON FUNCTION @extschema@.retry_payment(bigint) IS
	'After a failed payment: back to pending_payment with a new pending payment attempt (orders.payment_attempt one more, carried as "attempt" by its order_status event); returns its payment id.  Repeated while that attempt is pending, returns it again; refused (DP018) on an order not awaiting a retry, DP014 for an unknown or missing order.';

-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON FUNCTION @extschema@.place_order(bigint, bigint, jsonb, float8, float8, text, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.place_order(bigint, bigint, jsonb, float8, float8, text, text, text, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.place_order_in_zone(bigint, bigint, bigint, jsonb, float8, float8, text, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.place_order_in_zone(bigint, bigint, bigint, jsonb, float8, float8, text, text, text, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.place_errand(bigint, float8, float8, float8, float8, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.place_errand(bigint, float8, float8, float8, float8, text, text, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.place_errand_in_zone(bigint, bigint, float8, float8, float8, float8, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.place_errand_in_zone(bigint, bigint, float8, float8, float8, float8, text, text, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.confirm_payment(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.confirm_payment(bigint, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._confirm_payment(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._confirm_payment(bigint, bigint, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.fail_payment(bigint, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.fail_payment(bigint, text, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._fail_payment(bigint, bigint, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._fail_payment(bigint, bigint, text, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.retry_payment(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.retry_payment(bigint) TO dispatch_app, dispatch_admin;
