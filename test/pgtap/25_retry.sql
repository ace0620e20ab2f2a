-- test/pgtap/25_retry.sql: a retried call never undoes work.
-- Every API call that changes an order, an offer or a rider checks the
-- status it starts from: repeated with the same effect it is a no-op (no
-- event, no row changed), on any other status it is refused with a DP
-- error whose message names the status (PostgreSQL rolls back what a call
-- that raises wrote, so that needs no check of its own).  Releasing an
-- order is a call of its own (release_order); merchant_accept on an
-- assigned order no longer takes it away from its rider.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-01 12:00:00+00';
SELECT plan(69);

SELECT dispatch.register_rider(:zone, 'Big Bag', '+8613900000099', 20) AS bigbag \gset
SELECT dispatch.register_rider(:zone, 'Other Bag', '+8613900000098', 20) AS otherbag \gset
SELECT dispatch.rider_online(:bigbag, 121.43, 31.19) \g /dev/null
SELECT dispatch.rider_online(:otherbag, 121.431, 31.19) \g /dev/null
-- the fixture's riders came online at the real time: their shift starts
-- now too, so that their pings below are of the shift
UPDATE dispatch.riders SET online_since = dispatch.clock(), first_online_at = dispatch.clock()
 WHERE zone_id = :zone AND status = 'online';
-- every call below moves the clock on and the riders never ping again: their
-- positions stay fresh enough for a manual assignment (the eligibility rule)
INSERT INTO dispatch.matching_settings (zone_id, stale_after_s) VALUES (:zone, 86400);
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'bigbag', true),
       set_config('t.other', :'otherbag', true), set_config('t.zone', :'zone', true) \g /dev/null

\ir ../fixtures/order_in.sql

-- everything the API writes, as one digest: a call that leaves it unchanged
-- wrote nothing (no row changed, no event)
CREATE FUNCTION pg_temp.snap() RETURNS text LANGUAGE sql AS $$
SELECT md5(concat_ws('|',
	(SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.order_id) FROM dispatch.orders x),
	(SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.payment_id) FROM dispatch.payments x),
	(SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.offer_id) FROM dispatch.offers x),
	(SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.order_id, x.rider_id) FROM dispatch.offer_exclusions x),
	(SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.rider_id) FROM dispatch.riders x),
	(SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.item_id) FROM dispatch.items x),
	(SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.feedback_id) FROM dispatch.feedback x),
	(SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.rider_id, x.at) FROM dispatch.rider_tracks x),
	(SELECT count(*)::text FROM dispatch.events)))
$$;

-- one call, a second after the last one (so that work done again would
-- stamp another time): 'done' if it wrote, 'no-op' if it did not, else its
-- SQLSTATE, flagged when its message does not name the status p_status
-- (quoted) it refused
CREATE FUNCTION pg_temp.attempt(p_call text, p_status text DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	s0 text;
	st text := 'ok';
	m text;
BEGIN
	-- SET LOCAL, which Citus carries to the workers (set_config is not)
	EXECUTE format('SET LOCAL dispatch.clock_override = %L', dispatch.clock() + interval '1 second');
	s0 := pg_temp.snap();
	BEGIN
		EXECUTE p_call;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
	END;
	IF st = 'ok' THEN
		RETURN CASE WHEN pg_temp.snap() = s0 THEN 'no-op' ELSE 'done' END;
	END IF;
	-- (DP020 refuses the rider, not the order's status)
	RETURN st || CASE WHEN p_status IS NOT NULL AND st <> 'DP020' AND strpos(m, format('"%s"', p_status)) = 0
	                  THEN format(' without naming "%s": %s', p_status, m) ELSE '' END;
END $$;

-- a call made twice: the second call's outcome
CREATE FUNCTION pg_temp.twice(p_call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
BEGIN
	BEGIN
		EXECUTE p_call;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
		RETURN 'the first call failed: ' || st;
	END;
	RETURN pg_temp.attempt(p_call);
END $$;

-- an order in one of the statuses, or 'released': assigned, then released
-- by its rider
CREATE FUNCTION pg_temp.order_as(p_status text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	o bigint;
BEGIN
	IF p_status <> 'released' THEN
		RETURN pg_temp.order_in(p_status);
	END IF;
	o := pg_temp.order_in('assigned');
	PERFORM dispatch.release_order(o, current_setting('t.rider')::bigint, 'test');
	RETURN o;
END $$;

-- orders left open are closed, so that riders keep their slots
CREATE FUNCTION pg_temp.close_all() RETURNS void LANGUAGE sql AS $$
	UPDATE dispatch.orders SET status = 'cancelled'
	 WHERE status IN ('pending_payment', 'payment_failed', 'placed', 'accepted', 'assigned');
	UPDATE dispatch.orders SET status = 'delivered' WHERE status = 'picked_up';
$$;

-- ------------------------------------------------ every call on every status
-- %1$s the order, %2$s its rider (t.rider, who moves every order of
-- order_in), %3$s another rider.  The arguments are those order_in uses, so
-- a call on an order that order_in took past it repeats what was done.
CREATE TEMP TABLE calls (fn text PRIMARY KEY, call text);
INSERT INTO calls VALUES
	('confirm_payment',       $$SELECT dispatch.confirm_payment(%1$s, 'ref-' || %1$s)$$),
	('fail_payment',          $$SELECT dispatch.fail_payment(%1$s, 'declined')$$),
	('retry_payment',         $$SELECT dispatch.retry_payment(%1$s)$$),
	('merchant_accept',       $$SELECT dispatch.merchant_accept(%1$s)$$),
	('assign_manually',       $$SELECT dispatch.assign_manually(%1$s, %2$s, 'test')$$),
	('assign_manually other', $$SELECT dispatch.assign_manually(%1$s, %3$s, 'test')$$),
	('mark_picked_up',        $$SELECT dispatch.mark_picked_up(%1$s, %2$s)$$),
	('mark_picked_up other',  $$SELECT dispatch.mark_picked_up(%1$s, %3$s)$$),
	('mark_delivered',        $$SELECT dispatch.mark_delivered(%1$s, %2$s)$$),
	('mark_delivered other',  $$SELECT dispatch.mark_delivered(%1$s, %3$s)$$),
	('cancel_order',          $$SELECT dispatch.cancel_order(%1$s, 'test')$$),
	('release_order',         $$SELECT dispatch.release_order(%1$s, %2$s, 'test')$$),
	('release_order other',   $$SELECT dispatch.release_order(%1$s, %3$s, 'test')$$),
	('replan_order',          $$SELECT dispatch.replan_order(%1$s, %2$s)$$),
	('replan_order other',    $$SELECT dispatch.replan_order(%1$s, %3$s)$$),
	('submit_feedback',       $$SELECT dispatch.submit_feedback(%1$s, 4, 'fine')$$);

CREATE TEMP TABLE tried (fn text, ord int, status text, outcome text);
DO $$
DECLARE
	s text[] := ARRAY['pending_payment', 'payment_failed', 'placed', 'accepted', 'assigned',
	                  'picked_up', 'delivered', 'cancelled', 'released'];
	c record;
	i int;
	o bigint;
	now_status text;
	v_out text;
BEGIN
	FOR c IN SELECT * FROM calls ORDER BY fn LOOP
		FOR i IN 1 .. array_length(s, 1) LOOP
			BEGIN
				o := pg_temp.order_as(s[i]);
				SELECT x.status INTO now_status FROM dispatch.orders x WHERE x.zone_id = o >> 40 AND x.order_id = o;
				v_out := pg_temp.attempt(format(c.call, o, current_setting('t.rider'), current_setting('t.other')),
				                         now_status);
			EXCEPTION WHEN OTHERS THEN
				GET STACKED DIAGNOSTICS v_out = MESSAGE_TEXT;
				v_out := 'could not try: ' || v_out;
			END;
			INSERT INTO tried VALUES (c.fn, i, s[i], v_out);
			PERFORM pg_temp.close_all();
		END LOOP;
	END LOOP;
END $$;

-- outcomes in the order pending_payment, payment_failed, placed, accepted,
-- assigned, picked_up, delivered, cancelled, released
CREATE FUNCTION pg_temp.outcomes(p_fn text) RETURNS text[] LANGUAGE sql AS $$
	SELECT array_agg(status || ': ' || outcome ORDER BY ord) FROM tried WHERE fn = p_fn
$$;
CREATE FUNCTION pg_temp.want(VARIADIC p text[]) RETURNS text[] LANGUAGE sql AS $$
	SELECT array_agg(s.status || ': ' || p[s.i] ORDER BY s.i)
	  FROM unnest(ARRAY['pending_payment', 'payment_failed', 'placed', 'accepted', 'assigned',
	                    'picked_up', 'delivered', 'cancelled', 'released']) WITH ORDINALITY s(status, i)
$$;

SELECT is(pg_temp.outcomes('confirm_payment'),
	pg_temp.want('done', 'done', 'no-op', 'no-op', 'no-op', 'no-op', 'no-op', 'done', 'no-op'),
	'confirm_payment: pays a pending order; the same confirmation again is a no-op; on an order cancelled unpaid or failed and not retried, the money is recorded and refunded');
SELECT is(pg_temp.outcomes('fail_payment'),
	pg_temp.want('done', 'no-op', 'DP018', 'DP018', 'DP018', 'DP018', 'DP018', 'DP018', 'DP018'),
	'fail_payment: fails a pending payment; again on a failed one is a no-op; refused (DP018) otherwise');
SELECT is(pg_temp.outcomes('retry_payment'),
	pg_temp.want('DP018', 'done', 'DP018', 'DP018', 'DP018', 'DP018', 'DP018', 'DP018', 'DP018'),
	'retry_payment: only after a failed payment (DP018 otherwise)');
SELECT is(pg_temp.outcomes('merchant_accept'),
	pg_temp.want('DP104', 'DP104', 'done', 'no-op', 'no-op', 'no-op', 'no-op', 'DP104', 'no-op'),
	'merchant_accept: accepts a placed order; a no-op once accepted, whatever happened since; DP104 before payment or after cancellation');
SELECT is(pg_temp.outcomes('assign_manually'),
	pg_temp.want('DP104', 'DP104', 'DP104', 'done', 'no-op', 'no-op', 'no-op', 'DP104', 'DP020'),
	'assign_manually: assigns an accepted order; a no-op for the rider who has it; DP104 otherwise; DP020 to the rider who released it (excluded for it)');
SELECT is(pg_temp.outcomes('assign_manually other'),
	pg_temp.want('DP104', 'DP104', 'DP104', 'done', 'DP104', 'DP104', 'DP104', 'DP104', 'done'),
	'assign_manually: never takes an order from the rider who has it (DP104)');
SELECT is(pg_temp.outcomes('mark_picked_up'),
	pg_temp.want('DP104', 'DP104', 'DP104', 'DP104', 'done', 'no-op', 'no-op', 'DP104', 'DP104'),
	'mark_picked_up: picks up an assigned order; a no-op once picked up; DP104 otherwise');
SELECT is(pg_temp.outcomes('mark_picked_up other'),
	pg_temp.want('DP104', 'DP104', 'DP104', 'DP104', 'DP019', 'DP019', 'DP019', 'DP104', 'DP104'),
	'mark_picked_up: another rider is refused (DP019)');
SELECT is(pg_temp.outcomes('mark_delivered'),
	pg_temp.want('DP104', 'DP104', 'DP104', 'DP104', 'DP104', 'done', 'no-op', 'DP104', 'DP104'),
	'mark_delivered: delivers a picked-up order; a no-op once delivered; DP104 otherwise');
SELECT is(pg_temp.outcomes('mark_delivered other'),
	pg_temp.want('DP104', 'DP104', 'DP104', 'DP104', 'DP019', 'DP019', 'DP019', 'DP104', 'DP104'),
	'mark_delivered: another rider is refused (DP019)');
SELECT is(pg_temp.outcomes('cancel_order'),
	pg_temp.want('done', 'done', 'done', 'done', 'done', 'DP104', 'DP104', 'no-op', 'done'),
	'cancel_order: cancels before pickup; a no-op once cancelled; DP104 after pickup');
SELECT is(pg_temp.outcomes('release_order'),
	pg_temp.want('DP104', 'DP104', 'DP104', 'DP104', 'done', 'DP104', 'DP104', 'DP104', 'no-op'),
	'release_order: releases an assigned order; a no-op once released; DP104 otherwise (not after pickup)');
SELECT is(pg_temp.outcomes('release_order other'),
	pg_temp.want('DP104', 'DP104', 'DP104', 'DP104', 'DP019', 'DP019', 'DP019', 'DP104', 'DP104'),
	'release_order: only the order''s rider releases it (DP019)');
SELECT is(pg_temp.outcomes('replan_order'),
	pg_temp.want('DP104', 'DP104', 'DP104', 'no-op', 'done', 'DP104', 'DP104', 'DP104', 'no-op'),
	'replan_order: takes back an assigned order; a no-op on one that waits for a batch; DP104 otherwise (not after pickup)');
SELECT is(pg_temp.outcomes('replan_order other'),
	pg_temp.want('DP104', 'DP104', 'DP104', 'no-op', 'DP019', 'DP019', 'DP019', 'DP104', 'no-op'),
	'replan_order: from the order''s rider only (DP019)');
SELECT is(pg_temp.outcomes('submit_feedback'),
	pg_temp.want('DP506', 'DP506', 'DP506', 'DP506', 'DP506', 'DP506', 'done', 'DP506', 'DP506'),
	'submit_feedback: only on a delivered order (DP506)');

-- ----------------------------------------------------------- called twice
SELECT is(pg_temp.twice(format($$SELECT dispatch.confirm_payment(%s, 'psp-1')$$, pg_temp.order_in('pending_payment'))),
	'no-op', 'confirm_payment twice: the second is a no-op');
SELECT is(pg_temp.twice(format($$SELECT dispatch.fail_payment(%s, 'card declined')$$, pg_temp.order_in('pending_payment'))),
	'no-op', 'fail_payment twice: the second is a no-op');
SELECT is(pg_temp.twice(format($$SELECT dispatch.merchant_accept(%s)$$, pg_temp.order_in('placed'))),
	'no-op', 'merchant_accept twice: the second is a no-op');
SELECT is(pg_temp.twice(format($$SELECT dispatch.assign_manually(%s, %s, 'ops')$$, pg_temp.order_in('accepted'), :otherbag)),
	'no-op', 'assign_manually twice: the second is a no-op');
SELECT is(pg_temp.twice(format($$SELECT dispatch.mark_picked_up(%s, %s)$$, pg_temp.order_in('assigned'), :bigbag)),
	'no-op', 'mark_picked_up twice: the second is a no-op');
SELECT is(pg_temp.twice(format($$SELECT dispatch.mark_delivered(%s, %s)$$, pg_temp.order_in('picked_up'), :bigbag)),
	'no-op', 'mark_delivered twice: the second is a no-op');
SELECT is(pg_temp.twice(format($$SELECT dispatch.cancel_order(%s, 'changed my mind')$$, pg_temp.order_in('accepted'))),
	'no-op', 'cancel_order twice: the second is a no-op');
SELECT is(pg_temp.twice(format($$SELECT dispatch.release_order(%s, %s, 'flat tyre')$$, pg_temp.order_in('assigned'), :bigbag)),
	'no-op', 'release_order twice: the second is a no-op');
SELECT is(pg_temp.twice(format($$SELECT dispatch.replan_order(%s, %s)$$, pg_temp.order_in('assigned'), :bigbag)),
	'no-op', 'replan_order twice: the second is a no-op');
SELECT pg_temp.close_all() \g /dev/null

-- retry_payment twice gives the same new attempt
SELECT pg_temp.order_in('payment_failed') AS failed \gset
SELECT dispatch.retry_payment(:failed) AS attempt1 \gset
SELECT is(pg_temp.attempt(format('SELECT dispatch.retry_payment(%s)', :failed)), 'no-op',
	'retry_payment twice: the second is a no-op');
SELECT is(dispatch.retry_payment(:failed), :attempt1::bigint, 'retry_payment twice: both return the same payment attempt');

-- payment attempts: the events that ask for a payment name its attempt, and
-- a failure reported for an attempt retried since (a late or repeated
-- webhook) changes nothing; NULL is the current attempt
SELECT array_agg(concat_ws(' ', payload->>'status', payload->>'attempt') ORDER BY (payload->>'version')::int) AS attempts
  FROM dispatch.events WHERE zone_id = :failed >> 40 AND order_id = :failed AND kind = 'order_status' \gset
SELECT is(:'attempts'::text, '{"pending_payment 1","payment_failed 1","pending_payment 2"}',
	'the order_status events of a payment attempt carry its number (attempt), one more for the retry');
SELECT is(pg_temp.attempt(format($$SELECT dispatch.fail_payment(%s, 'declined', 1)$$, :failed)), 'no-op',
	'fail_payment of attempt 1 after the retry started attempt 2 changes nothing (no row, no event)');
SELECT is(pg_temp.attempt(format($$SELECT dispatch.fail_payment(%s, 'declined', 3)$$, :failed)), 'DP025',
	'fail_payment of an attempt the order never had is refused (DP025)');
SELECT is(pg_temp.attempt(format($$SELECT dispatch.fail_payment(%s, 'declined', 0)$$, :failed)), 'DP025',
	'... attempt 0 as well');
SELECT is(pg_temp.attempt(format($$SELECT dispatch.fail_payment(%s, 'declined', 2)$$, :failed)), 'done',
	'fail_payment of the current attempt fails it');
SELECT is(pg_temp.attempt(format($$SELECT dispatch.fail_payment(%s, 'declined', 2)$$, :failed)), 'no-op',
	'... and the same report again is a no-op');
SELECT dispatch.retry_payment(:failed) \g /dev/null
SELECT is(pg_temp.attempt(format($$SELECT dispatch.fail_payment(%s, 'declined')$$, :failed)), 'done',
	'fail_payment without an attempt fails the current one, as before attempts were named');
-- a success reported for an attempt that failed, while a later one is
-- pending: money taken, so the order is paid (the pending row records it);
-- the later attempt's own success is then a second charge, refused (DP018)
-- so that the payment service sees it and gives it back
SELECT dispatch.retry_payment(:failed) \g /dev/null
SELECT is(pg_temp.attempt(format($$SELECT dispatch.confirm_payment(%s, 'psp-attempt-1')$$, :failed)), 'done',
	'a late success of an earlier attempt pays the order');
SELECT is(pg_temp.attempt(format($$SELECT dispatch.confirm_payment(%s, 'psp-attempt-4')$$, :failed), 'placed'), 'DP018',
	'... and a second success is refused (DP018), not recorded');

-- merchant_accept with a ready time: the same again is a no-op, another is refused
SELECT pg_temp.order_in('placed') AS ready \gset
SELECT is(pg_temp.twice(format($$SELECT dispatch.merchant_accept(%s, '2026-03-01 13:00+00')$$, :ready)), 'no-op',
	'merchant_accept twice with the same ready time: the second is a no-op');
SELECT is(pg_temp.attempt(format($$SELECT dispatch.merchant_accept(%s, '2026-03-01 13:30+00')$$, :ready), 'accepted'), 'DP105',
	'merchant_accept with another ready time is refused (DP105)');
SELECT is(pg_temp.attempt(format($$SELECT dispatch.merchant_accept(%s)$$, :ready)), 'no-op',
	'merchant_accept without a ready time on an accepted order is a no-op');

-- confirm_payment with another reference is refused
SELECT is(pg_temp.attempt(format($$SELECT dispatch.confirm_payment(%s, 'another-ref')$$, :ready), 'accepted'), 'DP018',
	'confirm_payment with another provider reference is refused (DP018)');

-- feedback twice: the same review again is a no-op and returns its id
SELECT pg_temp.order_in('delivered') AS fed \gset
SELECT dispatch.submit_feedback(:fed, 4, '很好') AS review \gset
SELECT is(pg_temp.attempt(format($$SELECT dispatch.submit_feedback(%s, 4, '很好')$$, :fed)), 'no-op',
	'submit_feedback twice: the second is a no-op');
SELECT is(dispatch.submit_feedback(:fed, 4, '很好'), :review::bigint, 'submit_feedback twice: both return the same review');
SELECT is(pg_temp.attempt(format($$SELECT dispatch.submit_feedback(%s, 4, '一般')$$, :fed)), 'DP505',
	'another review from the same channel is refused (DP505)');

-- riders
SELECT dispatch.register_rider(:zone, 'New Rider', '+8613900000097', 2) AS newbie \gset
SELECT is(pg_temp.twice(format('SELECT dispatch.rider_online(%s, 121.43, 31.19)', :newbie)), 'no-op',
	'rider_online twice: the second is a no-op');
-- (a ping of the shift: the clock has moved on since 12:00)
SELECT is(pg_temp.twice(format($$SELECT dispatch.update_rider_location(%s, 121.431, 31.191, %L)$$, :newbie, dispatch.clock())), 'no-op',
	'update_rider_location twice: the second is a no-op');
SELECT is(pg_temp.twice(format('SELECT dispatch.rider_offline(%s)', :newbie)), 'no-op',
	'rider_offline twice: the second is a no-op');
SELECT pg_temp.order_in('assigned') AS held \gset
CREATE FUNCTION pg_temp.hint_of(p_call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
	EXECUTE p_call;
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
	RETURN h;
END $$;
SELECT matches(pg_temp.hint_of(format('SELECT dispatch.rider_offline(%s)', :bigbag)), 'release_order',
	'a rider holding orders is pointed to release_order');
SELECT pg_temp.close_all() \g /dev/null

-- ------------------------------------------------------------------- offers
-- an accepted order offered by a batch; returns the offer
CREATE FUNCTION pg_temp.offered() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	z bigint := current_setting('t.zone')::bigint;
	o bigint;
	f bigint;
BEGIN
	-- one call at a time from here: on Citus a call per row of a zone's
	-- riders would run on the worker, where the call cannot query the
	-- cluster
	FOR o IN SELECT r.rider_id FROM dispatch.riders r WHERE r.zone_id = z AND r.status = 'online' LOOP
		PERFORM dispatch.update_rider_location(o, 121.435, 31.19);
	END LOOP;
	o := pg_temp.order_in('accepted');
	SELECT b.offer_id INTO f FROM dispatch.assign_batch(z) b WHERE b.order_id = o;
	IF f IS NULL THEN
		RAISE EXCEPTION 'no offer for order %', o;
	END IF;
	RETURN f;
END $$;
-- (PL/pgSQL: Citus plans an SQL function's parameter in a query only when
-- the function is inlined)
CREATE FUNCTION pg_temp.offer_status(p_offer bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RETURN (SELECT status FROM dispatch.offers WHERE zone_id = p_offer >> 40 AND offer_id = p_offer);
END $$;

SELECT pg_temp.offered() AS f1 \gset
SELECT is(pg_temp.twice(format('SELECT dispatch.respond_offer(%s, true)', :f1)), 'no-op',
	'respond_offer accepting twice: the second is a no-op');
SELECT is(pg_temp.attempt(format('SELECT dispatch.respond_offer(%s, false)', :f1)), 'DP302',
	'rejecting an accepted offer is refused (DP302)');
SELECT pg_temp.close_all() \g /dev/null

SELECT pg_temp.offered() AS f2 \gset
SELECT is(pg_temp.twice(format($$SELECT dispatch.respond_offer(%s, false, 'too far')$$, :f2)), 'no-op',
	'respond_offer rejecting twice: the second is a no-op');
SELECT is(pg_temp.attempt(format('SELECT dispatch.respond_offer(%s, true)', :f2)), 'DP302',
	'accepting a rejected offer is refused (DP302)');
SELECT pg_temp.close_all() \g /dev/null

SELECT pg_temp.offered() AS f3 \gset
SELECT order_id AS o3 FROM dispatch.offers WHERE zone_id = :zone AND offer_id = :f3 \gset
SELECT dispatch.cancel_order(:o3, 'test') \g /dev/null
SELECT is(pg_temp.attempt(format('SELECT dispatch.respond_offer(%s, true)', :f3)), 'DP302',
	'accepting a cancelled offer is refused (DP302)');

SELECT pg_temp.offered() AS f5 \gset
SELECT dispatch.clock() + interval '2 minutes' AS later \gset
SET LOCAL dispatch.clock_override = :'later';
SELECT is(pg_temp.attempt(format('SELECT dispatch.respond_offer(%s, true)', :f5)), 'DP303',
	'accepting an offer past its time is refused (DP303)');
SELECT count(*) FROM dispatch.assign_batch(:zone) \g /dev/null
SELECT is(pg_temp.attempt(format('SELECT dispatch.respond_offer(%s, true)', :f5)), 'DP302',
	'accepting an offer the batch expired is refused (DP302)');
SELECT pg_temp.close_all() \g /dev/null

-- the bug: a merchant app retries merchant_accept after the order was assigned
SELECT pg_temp.offered() AS f4 \gset
SELECT order_id AS bug, rider_id AS bug_rider FROM dispatch.offers WHERE zone_id = :zone AND offer_id = :f4 \gset
SELECT dispatch.respond_offer(:f4, true) \g /dev/null
SELECT is(pg_temp.attempt(format('SELECT dispatch.merchant_accept(%s)', :bug)), 'no-op',
	'merchant_accept on an assigned order is a no-op');
-- (the order read first: on Citus a statement on one zone's rows runs on
-- its worker, with whatever it calls)
SELECT status || ' ' || rider_id AS got FROM dispatch.orders WHERE zone_id = :zone AND order_id = :bug \gset
SELECT is(:'got' || ' ' || pg_temp.offer_status(:f4),
	'assigned ' || :bug_rider || ' accepted',
	'the order stays assigned to its rider, with its offer accepted');
SELECT is((SELECT count(*) FROM dispatch.assign_batch(:zone) WHERE order_id = :bug), 0::bigint,
	'and the next batch does not offer it again');
SELECT throws_ok(format($$ UPDATE dispatch.orders SET status = 'accepted' WHERE zone_id = %s AND order_id = %s $$, :zone, :bug),
	'DP101', NULL, 'the state machine refuses a release that keeps the rider');

-- release: the offer is released, the rider excluded, the order back in the pool
SELECT count(*) AS events0 FROM dispatch.events \gset
SELECT dispatch.release_order(:bug, :bug_rider, 'flat tyre') \g /dev/null
SELECT status || ' ' || coalesce(rider_id::text, '-') || ' ' || coalesce(assigned_at::text, '-')
       || ' ' || coalesce(assigned_by, '-') AS got
  FROM dispatch.orders WHERE zone_id = :zone AND order_id = :bug \gset
SELECT is(:'got' || ' ' || pg_temp.offer_status(:f4), 'accepted - - - released', 'a released order is accepted again without rider, and its offer is released');
SELECT reason || ': ' || detail AS got FROM dispatch.offer_exclusions
 WHERE zone_id = :zone AND order_id = :bug AND rider_id = :bug_rider \gset
SELECT is(:'got'::text, 'released: flat tyre', 'the releasing rider is excluded for the order, with the reason');
SELECT results_eq(
	format($$ SELECT kind, rider_id, payload->>'prev', payload->>'status' FROM dispatch.events
	           WHERE zone_id = %s AND order_id = %s ORDER BY seq DESC LIMIT 2 $$, :zone, :bug),
	format($$ VALUES ('offer', %1$s::bigint, NULL, 'released'), ('order_status', %1$s::bigint, 'assigned', 'accepted') $$, :bug_rider),
	'a release writes the order''s status event and the offer''s, both naming the rider');
SELECT is((SELECT count(*) FROM dispatch.events), :events0 + 2::bigint, 'and no other event');
SELECT is((SELECT active_orders FROM dispatch.riders WHERE rider_id = :bug_rider), 0, 'the rider''s slot is free again');
SELECT is((SELECT array_agg(rider_id = :bug_rider) FROM dispatch.assign_batch(:zone) WHERE order_id = :bug), ARRAY[false],
	'the next batch offers the order again, to another rider');
SELECT is(pg_temp.attempt(format('SELECT dispatch.respond_offer(%s, true)', :f4)), 'no-op',
	'accepting the released offer again is a no-op: it does not take the order back');


-- replan: the same, but the rider is not excluded: the order may go back
-- to it
SELECT pg_temp.order_in('assigned') AS replanned \gset
SELECT rider_id AS replanned_rider FROM dispatch.orders WHERE zone_id = :zone AND order_id = :replanned \gset
SELECT dispatch.replan_order(:replanned, :replanned_rider) \g /dev/null
-- (read first, then compared: on Citus a query of a zone's rows runs on
-- its worker, where pgTAP has no plan)
SELECT status || ' ' || coalesce(rider_id::text, '-') AS got FROM dispatch.orders WHERE zone_id = :zone AND order_id = :replanned \gset
SELECT count(*) AS excluded FROM dispatch.offer_exclusions WHERE zone_id = :zone AND order_id = :replanned \gset
SELECT is(:'got' || ' ' || :excluded, 'accepted - 0', 'a replanned order is accepted again without rider, and nobody is excluded for it');
SELECT is(pg_temp.attempt(format('SELECT dispatch.assign_manually(%s, %s, ''ops'')', :replanned, :replanned_rider)), 'done',
	'so it may go back to the same rider (a released one may not: DP020)');
SELECT function_privs_are('dispatch', 'release_order', ARRAY['bigint', 'bigint', 'text'], 'dispatch_app', ARRAY['EXECUTE'],
	'the app may release orders');
SELECT function_privs_are('dispatch', 'replan_order', ARRAY['bigint', 'bigint'], 'dispatch_app', ARRAY['EXECUTE'],
	'and take them back to plan them again');

SELECT * FROM finish();
ROLLBACK;
