-- test/pgtap/20_state_machine.sql: the C state machine allows exactly the
-- transitions of DESIGN.md, stamps each one and writes one event for it.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-01 12:00:00+00';
SELECT plan(19);

SELECT dispatch.register_rider(:zone, 'Big Bag', '+8613900000099', 20) AS bigbag \gset
SELECT dispatch.rider_online(:bigbag, 121.43, 31.19) \g /dev/null
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'bigbag', true) \g /dev/null

\ir ../fixtures/order_in.sql

-- try every pair of distinct statuses with a direct UPDATE (the rider is set
-- where a status needs one and removed where it goes back to accepted, so
-- only the transition itself can fail)
CREATE TEMP TABLE tried (f text, t text, sqlstate text, msg text, events bigint, stamped boolean);
DO $$
DECLARE
	s text[] := ARRAY['pending_payment','payment_failed','placed','accepted','assigned','picked_up','delivered','cancelled'];
	f text; t text; o bigint; n0 bigint; st text; m text;
	-- a value, not a call in the CASE: Citus refuses a non-immutable
	-- function there in an UPDATE it sends to a worker
	rider bigint := current_setting('t.rider')::bigint;
BEGIN
	FOREACH f IN ARRAY s LOOP
		FOREACH t IN ARRAY s LOOP
			CONTINUE WHEN f = t;
			o := pg_temp.order_in(f);
			SELECT count(*) INTO n0 FROM dispatch.events WHERE zone_id = o >> 40 AND order_id = o;
			st := 'ok'; m := NULL;
			BEGIN
				UPDATE dispatch.orders
				   SET status = t, rider_id = CASE WHEN t = 'accepted' THEN NULL
				                                   ELSE COALESCE(rider_id, rider) END
				 WHERE zone_id = o >> 40 AND order_id = o;
			EXCEPTION WHEN OTHERS THEN
				GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
			END;
			INSERT INTO tried
			SELECT f, t, st, m,
			       (SELECT count(*) FROM dispatch.events WHERE zone_id = o >> 40 AND order_id = o) - n0,
			       (SELECT status_changed_at = dispatch.clock() FROM dispatch.orders WHERE zone_id = o >> 40 AND order_id = o);
			-- let the rider go again
			UPDATE dispatch.orders SET status = 'cancelled'
			 WHERE zone_id = o >> 40 AND order_id = o AND status IN ('assigned', 'accepted', 'placed');
			UPDATE dispatch.orders SET status = 'delivered'
			 WHERE zone_id = o >> 40 AND order_id = o AND status = 'picked_up';
		END LOOP;
	END LOOP;
END $$;

SELECT results_eq(
	$$ SELECT f, t FROM tried WHERE sqlstate = 'ok' ORDER BY 1, 2 $$,
	$$ VALUES ('accepted','assigned'), ('accepted','cancelled'), ('assigned','accepted'),
	          ('assigned','cancelled'), ('assigned','picked_up'), ('payment_failed','cancelled'),
	          ('payment_failed','pending_payment'), ('pending_payment','cancelled'),
	          ('pending_payment','payment_failed'), ('pending_payment','placed'),
	          ('picked_up','delivered'), ('placed','accepted'), ('placed','cancelled') $$,
	'exactly the transitions of the design are allowed');
SELECT is((SELECT count(*) FROM tried WHERE sqlstate <> 'ok' AND sqlstate <> 'DP101'), 0::bigint,
	'every forbidden transition raises DP101');
SELECT is((SELECT count(*) FROM tried WHERE sqlstate <> 'ok' AND msg <> format('order %s cannot go from "%s" to "%s"',
	(regexp_match(msg, '^order (\d+)'))[1], f, t)), 0::bigint,
	'every refusal names both states');
SELECT is((SELECT count(*) FROM tried WHERE sqlstate = 'ok' AND events <> 1), 0::bigint,
	'every allowed transition writes exactly one event');
SELECT ok((SELECT bool_and(stamped) FROM tried WHERE sqlstate = 'ok'),
	'every allowed transition stamps status_changed_at from dispatch.clock()');

-- a delivered order carries a stamp for every step
SELECT pg_temp.order_in('delivered') AS done \gset
-- (values are read first, then asserted: on Citus a statement that names
-- one zone's rows runs on its worker, pgTAP call and all)
SELECT placed_at IS NOT NULL AND accepted_at IS NOT NULL AND assigned_at IS NOT NULL
       AND picked_up_at IS NOT NULL AND delivered_at IS NOT NULL AND cancelled_at IS NULL AS stamped
  FROM dispatch.orders WHERE zone_id = :done >> 40 AND order_id = :done \gset
SELECT ok(:'stamped'::boolean, 'a delivered order has every step stamped');
SELECT results_eq(
	format($$ SELECT payload->>'prev', payload->>'status', (payload->>'version')::int FROM dispatch.events
	           WHERE zone_id = %1$s >> 40 AND order_id = %1$s ORDER BY seq $$, :done),
	$$ VALUES (NULL, 'pending_payment', 1), ('pending_payment', 'placed', 2), ('placed', 'accepted', 3),
	          ('accepted', 'assigned', 4), ('assigned', 'picked_up', 5), ('picked_up', 'delivered', 6) $$,
	'the outbox tells the order''s story in order, each status event with the next version');
SELECT status_version AS v FROM dispatch.orders WHERE zone_id = :done >> 40 AND order_id = :done \gset
SELECT is(:v, 6, 'the order carries the version of its last status event');

-- every order starts in pending_payment
SELECT throws_ok(
	format($$ INSERT INTO dispatch.orders (zone_id, order_id, kind, customer_id, merchant_id, status, pickup, dropoff,
	          distance_m, total_cents, promised_at, created_at, status_changed_at)
	          VALUES (%1$s, (%1$s::bigint << 40) | 999999, 'takeaway', %2$s, %3$s, 'placed',
	                  ST_SetSRID(ST_MakePoint(121.43, 31.19), 4326), ST_SetSRID(ST_MakePoint(121.44, 31.19), 4326),
	                  100, 100, now(), now(), now()) $$, :zone, :customer, :merchant),
	'DP101', NULL, 'a new order must start in pending_payment');

-- assigned needs a rider
SELECT pg_temp.order_in('accepted') AS acc \gset
SELECT throws_ok(format($$ UPDATE dispatch.orders SET status = 'assigned' WHERE zone_id = %1$s >> 40 AND order_id = %1$s $$, :acc),
	'DP102', format('order %s cannot be "assigned" without a rider', :acc), 'assigned needs a rider');

-- a release removes the rider in the same update; a status-only update
-- cannot release
SELECT pg_temp.order_in('assigned') AS asg \gset
SELECT throws_ok(format($$ UPDATE dispatch.orders SET status = 'accepted' WHERE zone_id = %1$s >> 40 AND order_id = %1$s $$, :asg),
	'DP101', format('order %s cannot go from "assigned" to "accepted" and keep its rider', :asg),
	'going back to accepted without removing the rider is refused');
UPDATE dispatch.orders SET status = 'accepted', rider_id = NULL WHERE zone_id = :asg >> 40 AND order_id = :asg;
SELECT rider_id IS NULL AND assigned_at IS NULL AND status_version = 5 AS released
  FROM dispatch.orders WHERE zone_id = :asg >> 40 AND order_id = :asg \gset
SELECT ok(:'released'::boolean,
	'a released order loses its rider and its assignment stamp, and takes the next version');
SELECT rider_id AS named FROM dispatch.events WHERE zone_id = :asg >> 40 AND order_id = :asg ORDER BY seq DESC LIMIT 1 \gset
SELECT is(:named::bigint, :bigbag::bigint, 'the release event names the rider who had the order');

-- an update that keeps the status writes nothing, and keeps the version
SELECT count(*) AS n0 FROM dispatch.events \gset
UPDATE dispatch.orders SET status = status, priority = 'hot', status_version = 99 WHERE zone_id = :asg >> 40 AND order_id = :asg;
SELECT is((SELECT count(*) FROM dispatch.events), :n0::bigint, 'an update that keeps the status writes no event');
SELECT status_version AS v FROM dispatch.orders WHERE zone_id = :asg >> 40 AND order_id = :asg \gset
SELECT is(:v, 5, 'an update that keeps the status keeps the version');

-- the API refuses before the state machine would (test/pgtap/25_retry.sql
-- tries every call on every status)
SELECT pg_temp.order_in('picked_up') AS pkd \gset
SELECT throws_ok(format('SELECT dispatch.mark_delivered(%s, %s)', :pkd, :rider), 'DP019', NULL,
	'only the assigned rider moves an order on');
SELECT pg_temp.order_in('delivered') AS done2 \gset
SELECT throws_ok(format($$ SELECT dispatch.cancel_order(%s, 'too late') $$, :done2), 'DP104',
	format('order %s cannot be cancelled (status "delivered")', :done2), 'a delivered order cannot be cancelled');

-- event numbers: the writing transaction in the high bits, plus the
-- node's base (txid_current() and the base read with the rows: on Citus,
-- the id of this transaction on the zone's worker, which numbered the
-- event, and that worker's base, which distribute() set)
SELECT DISTINCT seq >> 20 AS xid, txid_current() + dispatch._event_base() AS mine
  FROM dispatch.events WHERE zone_id = :done2 >> 40 AND order_id = :done2 \gset
SELECT is(:xid::bigint, :mine::bigint, 'an event''s seq carries its transaction id above bit 20');

-- an errand is accepted as soon as it is paid
SELECT dispatch.place_errand(:customer, 121.43, 31.19, 121.44, 31.20, 'gate 3', 'buy a charger', 1500) AS errand \gset
SELECT dispatch.confirm_payment(:errand, 'ref-errand') \g /dev/null
SELECT status AS st FROM dispatch.orders WHERE zone_id = :errand >> 40 AND order_id = :errand \gset
SELECT is(:'st'::text, 'accepted', 'a paid errand is ready for dispatch at once');

SELECT * FROM finish();
ROLLBACK;
