-- extension/dispatch--0.1.0--0.2.0.sql
-- Upgrade from release 0.1.0 to 0.2.0: every change of the catalog since
-- 0.1.0, in the order the parts changed it.  test/upgrade checks that
-- installing 0.1.0 and running this script gives the catalog of a fresh
-- install of 0.2.0.  It is run by ALTER EXTENSION dispatch UPDATE, with
-- search_path set to the extension's schema and those of postgis and
-- pgcrypto, like the install script.

\echo Use "ALTER EXTENSION dispatch UPDATE TO '0.2.0'" to load this file. \quit

-- ===========================================================================
-- Issue 8, items 9 and 10 (order lifecycle): a retried call never undoes
-- work, and status versions.
--
-- Item 9: every API call that changes an order, offer or rider checks the
-- status it starts from (a repeat with the same effect is a no-op, anything
-- else a DP error naming the status: DP104, DP105); the release of an
-- assigned order is an explicit call, release_order, which marks the offer
-- that gave the order 'released' and excludes the rider, and the state
-- machine (C) allows assigned -> accepted only when the same update removes
-- the rider.  Item 10: orders.status_version, stamped by the state machine
-- under the order's row lock and carried by every order_status event.
-- ===========================================================================

-- status versions: an existing order continues from the number of its
-- order_status events still in the outbox, at least 1 (docs/events.md)
ALTER TABLE @extschema@.orders ADD COLUMN status_version integer NOT NULL DEFAULT 1;
UPDATE @extschema@.orders o
   SET status_version = n.events
  FROM (SELECT e.zone_id, e.order_id, pg_catalog.count(*)::integer AS events
          FROM @extschema@.events e
         WHERE e.kind OPERATOR(pg_catalog.=) 'order_status' AND e.order_id IS NOT NULL
         GROUP BY e.zone_id, e.order_id) n
 WHERE o.zone_id OPERATOR(pg_catalog.=) n.zone_id
   AND o.order_id OPERATOR(pg_catalog.=) n.order_id
   AND n.events OPERATOR(pg_catalog.>) 1;
ALTER TABLE @extschema@.orders ALTER COLUMN status_version DROP DEFAULT;
ALTER TABLE @extschema@.orders ADD CONSTRAINT orders_status_version_check CHECK (status_version >= 1);
COMMENT ON COLUMN @extschema@.orders.status_version IS
	'1 for a new order, one more at each status change, stamped by the state machine under the order''s row lock; each order_status event carries it as "version" (docs/events.md).';
COMMENT ON FUNCTION @extschema@.order_state_trigger() IS
	'The order state machine (C): allows only the transitions of DESIGN.md (a release must remove the rider in the same update), stamps each with its time and the next status_version, writes its event and notifies dispatch_events.';

-- released offers, and what a releasing rider said
ALTER TABLE @extschema@.offers DROP CONSTRAINT offers_status_check;
ALTER TABLE @extschema@.offers ADD CONSTRAINT offers_status_check
	CHECK (status IN ('pending', 'accepted', 'rejected', 'expired', 'cancelled', 'released'));
COMMENT ON TABLE @extschema@.offers IS
	'Offers of an order to a rider, written by assign_batch and answered with respond_offer; at most one is pending per order.  An accepted offer becomes released when its rider gives the order back (release_order).';
ALTER TABLE @extschema@.offer_exclusions ADD COLUMN detail text;
COMMENT ON TABLE @extschema@.offer_exclusions IS
	'A rider who rejected or let expire an offer of an order, or released the order (reason rejected, expired, released), is never offered that order again.';
COMMENT ON COLUMN @extschema@.offer_exclusions.detail IS
	'For a release: the reason given to release_order (at most 200 characters).';

-- every call checks the status it starts from
CREATE OR REPLACE FUNCTION @extschema@.confirm_payment(order_id bigint, provider_ref text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders := @extschema@._lock_order(order_id);
	v_now timestamptz := @extschema@.clock();
BEGIN
	IF provider_ref IS NULL OR provider_ref OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'a payment confirmation needs the provider''s reference' USING ERRCODE = 'DP018';
	END IF;
	-- the same confirmation twice is a no-op, so that app servers may retry
	-- (whatever happened to the order since)
	IF v_order.status OPERATOR(pg_catalog.<>) 'pending_payment'
	   AND EXISTS (SELECT FROM @extschema@.payments p
	                WHERE p.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	                  AND p.order_id OPERATOR(pg_catalog.=) v_order.order_id
	                  AND p.status OPERATOR(pg_catalog.=) 'succeeded'
	                  AND p.provider_ref OPERATOR(pg_catalog.=) confirm_payment.provider_ref) THEN
		RETURN;
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) 'pending_payment' THEN
		RAISE EXCEPTION 'order % has no pending payment (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP018';
	END IF;
	UPDATE @extschema@.payments p
	   SET status = 'succeeded', provider_ref = confirm_payment.provider_ref, settled_at = v_now
	 WHERE p.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND p.order_id OPERATOR(pg_catalog.=) v_order.order_id
	   AND p.status OPERATOR(pg_catalog.=) 'pending';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % has no pending payment (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP018';
	END IF;
	UPDATE @extschema@.orders o SET status = 'placed'
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
	-- an errand has no merchant to accept it: it is ready at once
	IF v_order.kind OPERATOR(pg_catalog.=) 'errand' THEN
		UPDATE @extschema@.orders o SET status = 'accepted', ready_at = v_now
		 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.confirm_payment(bigint, text) IS
	'Records a successful payment and moves the order from pending_payment to placed (an errand on to accepted).  Repeating the same confirmation (same provider reference) is a no-op; anything else without a pending payment is refused (DP018).';

CREATE OR REPLACE FUNCTION @extschema@.fail_payment(order_id bigint, reason text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders := @extschema@._lock_order(order_id);
BEGIN
	-- a repeat: the payment failed already, for this reason
	IF v_order.status OPERATOR(pg_catalog.=) 'payment_failed'
	   AND (SELECT p.failure_reason FROM @extschema@.payments p
	         WHERE p.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	           AND p.order_id OPERATOR(pg_catalog.=) v_order.order_id
	         ORDER BY p.payment_id DESC LIMIT 1) IS NOT DISTINCT FROM pg_catalog.left(reason, 200) THEN
		RETURN;
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) 'pending_payment' THEN
		RAISE EXCEPTION 'order % has no pending payment (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP018';
	END IF;
	UPDATE @extschema@.payments p
	   SET status = 'failed', failure_reason = pg_catalog.left(reason, 200), settled_at = @extschema@.clock()
	 WHERE p.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND p.order_id OPERATOR(pg_catalog.=) v_order.order_id
	   AND p.status OPERATOR(pg_catalog.=) 'pending';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % has no pending payment (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP018';
	END IF;
	-- the state machine's event carries "action": "retry_payment"
	UPDATE @extschema@.orders o SET status = 'payment_failed'
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
END
$$;
COMMENT ON FUNCTION @extschema@.fail_payment(bigint, text) IS
	'Records a failed payment; the order goes from pending_payment to payment_failed and its event tells the customer to retry.  Repeated with the same reason it is a no-op; otherwise refused without a pending payment (DP018).';

CREATE OR REPLACE FUNCTION @extschema@.retry_payment(order_id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders := @extschema@._lock_order(order_id);
	v_payment bigint;
BEGIN
	-- a repeat: the pending attempt follows a failed one; it is the answer again
	IF v_order.status OPERATOR(pg_catalog.=) 'pending_payment' THEN
		SELECT p.payment_id INTO v_payment FROM @extschema@.payments p
		 WHERE p.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
		   AND p.order_id OPERATOR(pg_catalog.=) v_order.order_id
		   AND p.status OPERATOR(pg_catalog.=) 'pending'
		   AND EXISTS (SELECT FROM @extschema@.payments q
		                WHERE q.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
		                  AND q.order_id OPERATOR(pg_catalog.=) v_order.order_id
		                  AND q.status OPERATOR(pg_catalog.=) 'failed'
		                  AND q.payment_id OPERATOR(pg_catalog.<) p.payment_id);
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
	'After a failed payment: back to pending_payment with a new pending payment attempt; returns its id.  Repeated while that attempt is pending, returns it again; refused (DP018) on an order not awaiting a retry.';

CREATE OR REPLACE FUNCTION @extschema@.rider_online(rider_id bigint, lon float8, lat float8) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_point geometry := @extschema@._check_point(lon, lat, 'rider');
	v_now timestamptz := @extschema@.clock();
	v_zone bigint;
	v_was text;
BEGIN
	SELECT r.zone_id, r.status INTO v_zone, v_was
	  FROM @extschema@.riders r WHERE r.rider_id OPERATOR(pg_catalog.=) rider_online.rider_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rider % does not exist', rider_id USING ERRCODE = 'DP015';
	END IF;
	-- a repeat: the rider is online already (positions come with update_rider_location)
	IF v_was OPERATOR(pg_catalog.=) 'online' THEN
		RETURN;
	END IF;
	UPDATE @extschema@.riders r
	   SET status = 'online', position = v_point, position_at = v_now, online_since = v_now
	 WHERE r.rider_id OPERATOR(pg_catalog.=) rider_online.rider_id;
	PERFORM @extschema@._emit_event(v_zone, 'rider_status', NULL, NULL, rider_id,
	                                '{"status": "online"}'::jsonb);
END
$$;
COMMENT ON FUNCTION @extschema@.rider_online(bigint, float8, float8) IS
	'A rider starts a shift at a position; the next dispatch batch considers them.  On a rider online already it is a no-op (positions come with update_rider_location).';

CREATE OR REPLACE FUNCTION @extschema@.rider_offline(rider_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
	v_was text;
	v_load integer;
BEGIN
	SELECT r.zone_id, r.status INTO v_zone, v_was
	  FROM @extschema@.riders r WHERE r.rider_id OPERATOR(pg_catalog.=) rider_offline.rider_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rider % does not exist', rider_id USING ERRCODE = 'DP015';
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
	UPDATE @extschema@.riders r SET status = 'offline', online_since = NULL
	 WHERE r.rider_id OPERATOR(pg_catalog.=) rider_offline.rider_id;
	PERFORM @extschema@._emit_event(v_zone, 'rider_status', NULL, NULL, rider_id,
	                                '{"status": "offline"}'::jsonb);
END
$$;
COMMENT ON FUNCTION @extschema@.rider_offline(bigint) IS
	'A rider ends a shift; refused (DP021) while they hold orders (release_order gives back an assigned one).  On a rider offline already it is a no-op.';

CREATE OR REPLACE FUNCTION @extschema@.merchant_accept(order_id bigint, ready_at timestamptz DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders := @extschema@._lock_order(order_id);
	v_prep integer;
BEGIN
	IF v_order.kind OPERATOR(pg_catalog.<>) 'takeaway' THEN
		RAISE EXCEPTION 'order % is an errand: it has no merchant to accept it', order_id USING ERRCODE = 'DP025';
	END IF;
	IF ready_at IS NOT NULL AND NOT pg_catalog.isfinite(ready_at) THEN
		RAISE EXCEPTION 'ready time must be finite' USING ERRCODE = 'DP025';
	END IF;
	-- a repeat: the merchant accepted already, and the order may have moved
	-- on since (assigned, picked up, delivered); it is never taken back
	IF v_order.status IN ('accepted', 'assigned', 'picked_up', 'delivered') THEN
		IF merchant_accept.ready_at IS NULL OR merchant_accept.ready_at OPERATOR(pg_catalog.=) v_order.ready_at THEN
			RETURN;
		END IF;
		RAISE EXCEPTION 'order % was accepted already with another ready time (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP105',
			      DETAIL = pg_catalog.format('It is ready at %s; this call says %s.', v_order.ready_at, merchant_accept.ready_at),
			      HINT = 'merchant_accept does not move the ready time of an accepted order.';
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) 'placed' THEN
		RAISE EXCEPTION 'order % cannot be accepted by the merchant (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP104', DETAIL = 'A merchant accepts a placed (paid) order.';
	END IF;
	SELECT m.prep_minutes INTO v_prep FROM @extschema@.merchants m
	 WHERE m.merchant_id OPERATOR(pg_catalog.=) v_order.merchant_id;
	UPDATE @extschema@.orders o
	   SET status = 'accepted',
	       ready_at = COALESCE(merchant_accept.ready_at,
	                           @extschema@.clock() OPERATOR(pg_catalog.+) pg_catalog.make_interval(mins => v_prep))
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
END
$$;
COMMENT ON FUNCTION @extschema@.merchant_accept(bigint, timestamptz) IS
	'The merchant accepts a placed order; ready_at (default now + prep time) is when the food will be ready.  Repeated once the order is accepted (or has moved on), a no-op with the same or no ready time, DP105 with another; DP104 on an order not paid or cancelled.';

CREATE OR REPLACE FUNCTION @extschema@.assign_manually(order_id bigint, rider_id bigint, by text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders := @extschema@._lock_order(order_id);
BEGIN
	IF by IS NULL OR pg_catalog.btrim(by) OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'a manual assignment names the dispatcher who made it' USING ERRCODE = 'DP025';
	END IF;
	-- a repeat: the order is this rider's already (and may have moved on)
	IF v_order.status IN ('assigned', 'picked_up', 'delivered')
	   AND v_order.rider_id OPERATOR(pg_catalog.=) assign_manually.rider_id THEN
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
	PERFORM @extschema@._check_rider_for(v_order, rider_id);
	UPDATE @extschema@.orders o
	   SET status = 'assigned', rider_id = assign_manually.rider_id, assigned_by = by
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
END
$$;
COMMENT ON FUNCTION @extschema@.assign_manually(bigint, bigint, text) IS
	'A dispatcher''s override: assigns an accepted order to an online rider of its zone with a free slot.  A no-op on an order that is this rider''s already; DP104 on any other status (never takes an order from its rider).';

CREATE OR REPLACE FUNCTION @extschema@._rider_step(p_order_id bigint, p_rider_id bigint, p_from text, p_to text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders := @extschema@._lock_order(p_order_id);
BEGIN
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

CREATE OR REPLACE FUNCTION @extschema@.cancel_order(order_id bigint, reason text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders := @extschema@._lock_order(order_id);
BEGIN
	IF reason IS NULL OR pg_catalog.btrim(reason) OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'a cancellation needs a reason' USING ERRCODE = 'DP025';
	END IF;
	-- a repeat: cancelled already
	IF v_order.status OPERATOR(pg_catalog.=) 'cancelled' THEN
		RETURN;
	END IF;
	IF v_order.status NOT IN ('pending_payment', 'payment_failed', 'placed', 'accepted', 'assigned') THEN
		RAISE EXCEPTION 'order % cannot be cancelled (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP104', DETAIL = 'An order is cancelled before pickup only.';
	END IF;
	UPDATE @extschema@.orders o
	   SET status = 'cancelled', cancel_reason = pg_catalog.left(reason, 200)
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
	UPDATE @extschema@.payments p
	   SET status = 'failed', failure_reason = 'order cancelled', settled_at = @extschema@.clock()
	 WHERE p.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND p.order_id OPERATOR(pg_catalog.=) v_order.order_id
	   AND p.status OPERATOR(pg_catalog.=) 'pending';
	-- what was taken from stock goes back, in item order
	UPDATE @extschema@.items i
	   SET stock = i.stock OPERATOR(pg_catalog.+) l.qty
	  FROM (SELECT oi.item_id, oi.qty FROM @extschema@.order_items oi
	         WHERE oi.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	           AND oi.order_id OPERATOR(pg_catalog.=) v_order.order_id
	         ORDER BY oi.item_id) l
	 WHERE i.item_id OPERATOR(pg_catalog.=) l.item_id AND i.stock IS NOT NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.cancel_order(bigint, text) IS
	'Cancels an order before pickup: a pending payment is voided and the stock it took is returned.  A no-op on a cancelled order; DP104 once picked up.';

CREATE OR REPLACE FUNCTION @extschema@.respond_offer(offer_id bigint, accept boolean, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint := offer_id OPERATOR(pg_catalog.>>) 40;
	v_now timestamptz := @extschema@.clock();
	v_rider bigint;
	v_offer @extschema@.offers;
	v_order @extschema@.orders;
BEGIN
	IF accept IS NULL THEN
		RAISE EXCEPTION 'an answer to an offer is accept or reject' USING ERRCODE = 'DP304';
	END IF;
	SELECT f.rider_id INTO v_rider FROM @extschema@.offers f
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone AND f.offer_id OPERATOR(pg_catalog.=) respond_offer.offer_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'offer % does not exist', offer_id USING ERRCODE = 'DP301';
	END IF;
	-- lock order: rider, offer, order (as rider_offline and assign_batch)
	PERFORM FROM @extschema@.riders r WHERE r.rider_id OPERATOR(pg_catalog.=) v_rider FOR UPDATE;
	SELECT * INTO v_offer FROM @extschema@.offers f
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone AND f.offer_id OPERATOR(pg_catalog.=) respond_offer.offer_id
	   FOR UPDATE;
	-- a repeat of the answer given is a no-op; an accepted offer whose order
	-- was released since is not taken back
	IF (accept AND v_offer.status IN ('accepted', 'released'))
	   OR (NOT accept AND v_offer.status OPERATOR(pg_catalog.=) 'rejected') THEN
		RETURN;
	END IF;
	IF v_offer.status OPERATOR(pg_catalog.<>) 'pending' THEN
		RAISE EXCEPTION 'offer % is already %', offer_id, v_offer.status USING ERRCODE = 'DP302';
	END IF;
	IF v_offer.expires_at OPERATOR(pg_catalog.<=) v_now THEN
		RAISE EXCEPTION 'offer % expired at %', offer_id, v_offer.expires_at
			USING ERRCODE = 'DP303', HINT = 'The next dispatch batch offers the order to another rider.';
	END IF;
	v_order := @extschema@._lock_order(v_offer.order_id);
	-- a pending offer's order waits for a rider (the order's trigger cancels
	-- the offer when the order moves on otherwise)
	IF v_order.status OPERATOR(pg_catalog.<>) 'accepted' THEN
		RAISE EXCEPTION 'order % of offer % does not wait for a rider (status "%")', v_offer.order_id, offer_id, v_order.status
			USING ERRCODE = 'DP104';
	END IF;

	UPDATE @extschema@.riders r
	   SET pending_offers = GREATEST(r.pending_offers OPERATOR(pg_catalog.-) 1, 0)
	 WHERE r.rider_id OPERATOR(pg_catalog.=) v_rider;
	IF accept THEN
		-- validated like a manual assignment: online, same zone, a free slot
		PERFORM @extschema@._check_rider_for(v_order, v_rider);
		UPDATE @extschema@.offers f
		   SET status = 'accepted', responded_at = v_now, reason = respond_offer.reason
		 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone AND f.offer_id OPERATOR(pg_catalog.=) respond_offer.offer_id;
		UPDATE @extschema@.orders o
		   SET status = 'assigned', rider_id = v_rider,
		       assigned_by = 'offer ' OPERATOR(pg_catalog.||) respond_offer.offer_id::text
		 WHERE o.zone_id OPERATOR(pg_catalog.=) v_zone AND o.order_id OPERATOR(pg_catalog.=) v_offer.order_id;
	ELSE
		UPDATE @extschema@.offers f
		   SET status = 'rejected', responded_at = v_now, reason = pg_catalog.left(respond_offer.reason, 200)
		 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone AND f.offer_id OPERATOR(pg_catalog.=) respond_offer.offer_id;
		INSERT INTO @extschema@.offer_exclusions (zone_id, order_id, rider_id, at, reason)
		VALUES (v_zone, v_offer.order_id, v_rider, v_now, 'rejected')
		ON CONFLICT DO NOTHING;
	END IF;
	PERFORM @extschema@._emit_event(v_zone, 'offer', v_offer.order_id, NULL, v_rider,
	                                pg_catalog.jsonb_build_object('offer_id', offer_id,
	                                    'status', CASE WHEN accept THEN 'accepted' ELSE 'rejected' END));
END
$$;
COMMENT ON FUNCTION @extschema@.respond_offer(bigint, boolean, text) IS
	'A rider answers an offer.  Accept assigns the order (validated like a manual assignment); reject puts the order back for the next batch and never offers it to this rider again.  The same answer again is a no-op.  DP301 unknown offer, DP302 answered otherwise, expired, cancelled or released, DP303 expired.';

CREATE OR REPLACE FUNCTION @extschema@.submit_feedback(order_id bigint, rating integer, comment text,
                                            channel text DEFAULT 'app')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order      @extschema@.orders;
	v_id         bigint;
	v_rating     smallint;
	v_sealed     bytea;
	v_comment    text := NULLIF(pg_catalog.btrim(comment), '');
	v_text_score real;
	v_topics     text[] := '{}';
BEGIN
	IF order_id IS NULL OR channel IS NULL THEN
		RAISE EXCEPTION 'feedback needs an order and a channel' USING ERRCODE = 'DP504';
	END IF;
	IF rating IS NOT NULL AND (rating OPERATOR(pg_catalog.<) 1 OR rating OPERATOR(pg_catalog.>) 5) THEN
		RAISE EXCEPTION 'rating % is out of range', rating
			USING ERRCODE = 'DP504', DETAIL = 'A rating is 1 to 5 stars, or NULL with a comment.';
	END IF;
	IF rating IS NULL AND v_comment IS NULL THEN
		RAISE EXCEPTION 'feedback needs a rating or a comment' USING ERRCODE = 'DP504';
	END IF;
	IF channel OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]{0,31}$' THEN
		RAISE EXCEPTION 'invalid feedback channel "%"', channel
			USING ERRCODE = 'DP504', DETAIL = 'A channel is a lower-case name such as app, web or phone.';
	END IF;

	-- the order's row lock makes two submissions of one review take turns
	v_order := @extschema@._lock_order(submit_feedback.order_id);
	IF v_order.status OPERATOR(pg_catalog.<>) 'delivered' THEN
		RAISE EXCEPTION 'order % has not been delivered (status "%")', submit_feedback.order_id, v_order.status
			USING ERRCODE = 'DP506';
	END IF;

	-- a repeat of the same review is a no-op that returns it; the stored
	-- text is opened only to compare it, so the access is not logged
	SELECT f.feedback_id, f.rating, f.comment_enc INTO v_id, v_rating, v_sealed
	  FROM @extschema@.feedback f
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND f.order_id OPERATOR(pg_catalog.=) v_order.order_id
	   AND f.channel OPERATOR(pg_catalog.=) submit_feedback.channel;
	IF FOUND THEN
		IF v_rating IS NOT DISTINCT FROM rating
		   AND (v_sealed IS NULL) OPERATOR(pg_catalog.=) (v_comment IS NULL)
		   AND (v_sealed IS NULL
		        OR @extschema@._unseal(v_sealed, @extschema@._data_key('customer', v_order.customer_id, false))
		           OPERATOR(pg_catalog.=) v_comment) THEN
			RETURN v_id;
		END IF;
		RAISE EXCEPTION 'order % already has feedback from channel "%"', submit_feedback.order_id,
			submit_feedback.channel USING ERRCODE = 'DP505';
	END IF;

	IF v_comment IS NOT NULL THEN
		v_text_score := @extschema@.sentiment(v_comment);
		v_topics := @extschema@.feedback_topics(v_comment);
	END IF;

	v_id := @extschema@.zone_scoped_id(v_order.zone_id, pg_catalog.nextval('@extschema@.feedback_id_seq'));
	BEGIN
		INSERT INTO @extschema@.feedback
		       (zone_id, feedback_id, order_id, customer_id, merchant_id, rider_id, channel, rating,
		        comment_enc, text_score, score, topics, created_at)
		VALUES (v_order.zone_id, v_id, v_order.order_id, v_order.customer_id, v_order.merchant_id,
		        v_order.rider_id, submit_feedback.channel, rating,
		        @extschema@.pii_seal('customer', v_order.customer_id, v_comment),
		        v_text_score, @extschema@.feedback_score(rating, v_text_score), v_topics,
		        @extschema@.clock());
	EXCEPTION WHEN unique_violation THEN
		RAISE EXCEPTION 'order % already has feedback from channel "%"', submit_feedback.order_id,
			submit_feedback.channel USING ERRCODE = 'DP505';
	END;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.submit_feedback(bigint, integer, text, text) IS
	'Records a review of a delivered order (one per order and channel): rating 1-5 and/or a comment, scored with sentiment() and tagged with feedback_topics() on the way in; the comment is stored sealed with the customer''s key.  Returns the feedback id.  The same review again is a no-op that returns its id; another one from the same channel is refused (DP505).';

-- the explicit release
CREATE FUNCTION @extschema@.release_order(order_id bigint, rider_id bigint, reason text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders := @extschema@._lock_order(order_id);
	v_now timestamptz := @extschema@.clock();
	v_offer bigint;
BEGIN
	IF reason IS NULL OR pg_catalog.btrim(reason) OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'a release needs a reason' USING ERRCODE = 'DP025';
	END IF;
	-- a repeat: this rider released the order already and nobody holds it since
	IF v_order.rider_id IS NULL
	   AND EXISTS (SELECT FROM @extschema@.offer_exclusions e
	                WHERE e.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	                  AND e.order_id OPERATOR(pg_catalog.=) v_order.order_id
	                  AND e.rider_id OPERATOR(pg_catalog.=) release_order.rider_id
	                  AND e.reason OPERATOR(pg_catalog.=) 'released') THEN
		RETURN;
	END IF;
	IF v_order.rider_id IS DISTINCT FROM release_order.rider_id AND v_order.rider_id IS NOT NULL THEN
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
	-- the batch never offers it to this rider again
	INSERT INTO @extschema@.offer_exclusions (zone_id, order_id, rider_id, at, reason, detail)
	VALUES (v_order.zone_id, v_order.order_id, release_order.rider_id, v_now, 'released', pg_catalog.left(reason, 200))
	ON CONFLICT ON CONSTRAINT offer_exclusions_pkey
	DO UPDATE SET at = EXCLUDED.at, reason = EXCLUDED.reason, detail = EXCLUDED.detail;
	-- the accepted offer that gave the rider the order, if any
	UPDATE @extschema@.offers f SET status = 'released'
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND f.order_id OPERATOR(pg_catalog.=) v_order.order_id
	   AND f.rider_id OPERATOR(pg_catalog.=) release_order.rider_id
	   AND f.status OPERATOR(pg_catalog.=) 'accepted'
	RETURNING f.offer_id INTO v_offer;
	IF v_offer IS NOT NULL THEN
		PERFORM @extschema@._emit_event(v_order.zone_id, 'offer', v_order.order_id, NULL, rider_id,
		                                pg_catalog.jsonb_build_object('offer_id', v_offer, 'status', 'released'));
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.release_order(bigint, bigint, text) IS
	'The order''s rider gives back an assigned order (not yet picked up): it is accepted again without a rider, the offer that gave it is released, and the rider is excluded for it, so the next batch offers it to someone else.  A no-op once this rider released it; DP019 if another rider holds it, DP104 on any other status.';
REVOKE ALL ON FUNCTION @extschema@.release_order(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.release_order(bigint, bigint, text) TO dispatch_app, dispatch_admin;

-- pin the dependencies' schemas into the search_path of the functions
-- above, as sql/99_finish.sql does at install
DO $lifecycle$
DECLARE
	v_path text := 'pg_catalog';
	v_schema name;
	v_fn regprocedure;
BEGIN
	FOR v_schema IN
		SELECT DISTINCT n.nspname
		  FROM pg_catalog.pg_extension e
		  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
		 WHERE e.extname IN ('postgis', 'pgcrypto')
		 ORDER BY n.nspname
	LOOP
		IF v_schema OPERATOR(pg_catalog.<>) 'pg_catalog' THEN
			v_path := v_path OPERATOR(pg_catalog.||) ', ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(v_schema);
		END IF;
	END LOOP;
	v_path := v_path OPERATOR(pg_catalog.||) ', pg_temp';

	FOREACH v_fn IN ARRAY ARRAY[
		'@extschema@.confirm_payment(bigint, text)', '@extschema@.fail_payment(bigint, text)',
		'@extschema@.retry_payment(bigint)', '@extschema@.rider_online(bigint, float8, float8)',
		'@extschema@.rider_offline(bigint)', '@extschema@.merchant_accept(bigint, timestamptz)',
		'@extschema@.assign_manually(bigint, bigint, text)', '@extschema@._rider_step(bigint, bigint, text, text)',
		'@extschema@.cancel_order(bigint, text)', '@extschema@.respond_offer(bigint, boolean, text)',
		'@extschema@.submit_feedback(bigint, integer, text, text)',
		'@extschema@.release_order(bigint, bigint, text)']::regprocedure[]
	LOOP
		EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = %s', v_fn, v_path);
	END LOOP;
END
$lifecycle$;
