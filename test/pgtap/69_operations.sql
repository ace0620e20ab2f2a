-- test/pgtap/69_operations.sql: stuck_orders lists orders past the time
-- their status allows; dispatch_kpis on a hand-checked hour
-- (sql/69_operations.sql).
\set QUIET on
BEGIN;
SET LOCAL dispatch.clock_override = '2026-06-01 12:00:00+00';
\ir ../fixtures/city.sql
SELECT plan(24);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
-- SET LOCAL, not set_config(): on Citus only SET LOCAL reaches the workers
CREATE FUNCTION pg_temp.at(p text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SET LOCAL dispatch.clock_override = %L', p);
END $$;
CREATE FUNCTION pg_temp.o(p_customer bigint) RETURNS bigint LANGUAGE sql AS $$
	SELECT dispatch.place_order(p_customer, current_setting('t.merchant')::bigint,
	                            jsonb_build_array(jsonb_build_object('item_id', current_setting('t.item')::bigint, 'qty', 1)),
	                            121.445, 31.196, 'somewhere') $$;
SELECT set_config('t.merchant', :'merchant', true), set_config('t.item', :'noodles', true) \g /dev/null

-- 12:00: A's order is paid and accepted, ready at 12:10; B's is paid
SELECT pg_temp.o(:customer) AS a \gset
SELECT dispatch.confirm_payment(:a, 'p-a') \g /dev/null
SELECT dispatch.merchant_accept(:a, '2026-06-01 12:10:00+00') \g /dev/null
SELECT pg_temp.o(:customer2) AS b \gset
SELECT dispatch.confirm_payment(:b, 'p-b') \g /dev/null
-- 12:05: C's order waits for its payment
SELECT pg_temp.at('2026-06-01 12:05:00+00') \g /dev/null
SELECT pg_temp.o(:customer) AS c \gset

-- at 12:12 nothing is stuck yet: B placed 12 minutes ago is (10 minutes
-- allowed); A's food is ready only since 12:10
SELECT pg_temp.at('2026-06-01 12:12:00+00') \g /dev/null
SELECT results_eq('SELECT order_id, status FROM dispatch.stuck_orders ORDER BY order_id',
                  format('VALUES (%s::bigint, %L)', :b, 'placed'), 'at 12:12 the merchant has left B''s order 12 minutes');
SELECT pg_temp.at('2026-06-01 12:26:00+00') \g /dev/null
SELECT results_eq('SELECT order_id, status, overdue_by FROM dispatch.stuck_orders ORDER BY order_id',
                  format('VALUES (%s::bigint, %L, interval %L), (%s::bigint, %L, interval %L), (%s::bigint, %L, interval %L)',
                         :a, 'accepted', '1 minute', :b, 'placed', '16 minutes', :c, 'pending_payment', '6 minutes'),
                  'at 12:26: A ready 16 minutes without a rider, B, and C''s payment');
SELECT is(dispatch.stuck_after('delivered'), NULL, 'a delivered order is never stuck');

-- the hour of 13:00 (A and B are cancelled first): D placed 13:00, ready
-- 13:05, assigned 13:05, picked up 13:07, delivered 13:15 (on time); E
-- placed 13:00, ready 13:10, assigned 13:10, picked up 13:20, delivered
-- 13:55 (late).  Click-to-door 15 and 55 minutes: median 35, p90 15 + 0.9
-- x 40 = 51; on time 1 of 2; assignment to pickup 2 and 10: median 6;
-- food waiting 2 and 10: median 6
SELECT pg_temp.at('2026-06-01 12:30:00+00') \g /dev/null
SELECT dispatch.cancel_order(:a, 'test'), dispatch.cancel_order(:b, 'test') \g /dev/null
CREATE FUNCTION pg_temp.step(p_at text, p_order bigint, p_what text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE r bigint := current_setting('t.rider')::bigint;
BEGIN
	PERFORM pg_temp.at(p_at);
	PERFORM dispatch.update_rider_location(r, 121.43, 31.19);
	IF p_what = 'assign' THEN PERFORM dispatch.assign_manually(p_order, r, 'test'); END IF;
	IF p_what = 'pickup' THEN PERFORM dispatch.mark_picked_up(p_order, r); END IF;
	IF p_what = 'deliver' THEN PERFORM dispatch.mark_delivered(p_order, r); END IF;
END $$;
SELECT set_config('t.rider', :'rider', true) \g /dev/null
SELECT pg_temp.at('2026-06-01 13:00:00+00') \g /dev/null
SELECT pg_temp.o(:customer) AS d \gset
SELECT pg_temp.o(:customer2) AS e \gset
SELECT dispatch.confirm_payment(:d, 'p-d'), dispatch.confirm_payment(:e, 'p-e') \g /dev/null
SELECT dispatch.merchant_accept(:d, '2026-06-01 13:05:00+00'), dispatch.merchant_accept(:e, '2026-06-01 13:10:00+00') \g /dev/null
SELECT pg_temp.step('2026-06-01 13:05:00+00', :d, 'assign') \g /dev/null
SELECT pg_temp.step('2026-06-01 13:07:00+00', :d, 'pickup') \g /dev/null
SELECT pg_temp.step('2026-06-01 13:10:00+00', :e, 'assign') \g /dev/null
SELECT pg_temp.step('2026-06-01 13:15:00+00', :d, 'deliver') \g /dev/null
SELECT pg_temp.step('2026-06-01 13:20:00+00', :e, 'pickup') \g /dev/null
SELECT pg_temp.step('2026-06-01 13:55:00+00', :e, 'deliver') \g /dev/null
SELECT ok((SELECT delivered_at <= promised_at FROM dispatch.orders WHERE order_id = :d)
          AND (SELECT delivered_at > promised_at FROM dispatch.orders WHERE order_id = :e), 'D on time, E late (the set is as meant)');
SELECT results_eq(
	$$ SELECT orders, delivered, cancelled, median_click_to_door, p90_click_to_door, on_time_share,
	          median_assigned_to_pickup, median_food_waiting, offers_per_assigned_order
	     FROM dispatch.dispatch_kpis WHERE hour = '2026-06-01 13:00:00' $$,
	$$ VALUES (2::bigint, 2::bigint, 0::bigint, interval '35 minutes', interval '51 minutes',
	           0.5000::numeric(5, 4), interval '6 minutes', interval '6 minutes', 0.00::numeric(6, 2)) $$,
	'dispatch_kpis on the hand-checked hour');
SELECT results_eq($$ SELECT orders, delivered, cancelled FROM dispatch.dispatch_kpis WHERE hour = '2026-06-01 12:00:00' $$,
                  $$ VALUES (2::bigint, 0::bigint, 2::bigint) $$, 'the hour of 12:00: A and B paid and cancelled, C still unpaid');
SELECT is((SELECT count(*) FROM dispatch.stuck_orders WHERE order_id IN (:d, :e)), 0::bigint, 'delivered orders are not stuck');

-- rider utilisation of 13:00 (the query runs at 13:55): both riders of the
-- zone online since 12:00, so 2 x 55 minutes online; the rider held D
-- from 13:05 to 13:15 and E from 13:10 to 13:55: busy 13:05-13:55, 50
-- minutes.  3000 / 6600 = 0.4545
SELECT results_eq(format($$ SELECT riders_online, online_rider_hours, busy_rider_hours, utilisation
                       FROM dispatch.rider_utilisation WHERE hour = '2026-06-01 13:00:00' AND zone_id = %s $$, :zone),
                  $$ VALUES (2::bigint, 1.83::numeric(10, 2), 0.83::numeric(10, 2), 0.4545::numeric(5, 4)) $$,
                  'rider_utilisation: overlapping orders of a rider count once');
SELECT is((SELECT rider_utilisation FROM dispatch.dispatch_kpis WHERE hour = '2026-06-01 13:00:00' AND zone_id = :zone), 0.4545::numeric(5, 4),
          'dispatch_kpis carries the hour''s utilisation');
SELECT pg_temp.at('2026-06-01 14:00:00+00') \g /dev/null
-- the riders read first: on Citus a statement naming the zone runs on its
-- worker, which cannot call back into the distributed tables
SELECT coalesce(string_agg(rider_id::text, ','), '') AS online_riders
  FROM dispatch.riders WHERE zone_id = :zone AND status = 'online' \gset
SELECT count(dispatch.rider_offline(r)) FROM unnest(string_to_array(:'online_riders', ',')::bigint[]) r \g /dev/null

-- a zone half an hour off UTC (Asia/Kolkata, +05:30): a shift from 05:30
-- to 06:30 local is half an hour in each of the local hours 05:00 and
-- 06:00 (counted by whole hours of UTC, it was one hour named 05:00)
SELECT dispatch.create_zone('Half hour', ST_MakeEnvelope(77.5, 12.9, 77.7, 13.1, 4326), 'Asia/Kolkata') AS kzone \gset
SELECT dispatch.register_rider(:kzone, 'Test Rider Half', '+8613900000091', 1) AS krider \gset
SELECT pg_temp.at('2026-06-02 00:00:00+00') \g /dev/null
SELECT dispatch.rider_online(:krider, 77.6, 13.0) \g /dev/null
SELECT pg_temp.at('2026-06-02 01:00:00+00') \g /dev/null
SELECT dispatch.rider_offline(:krider) \g /dev/null
SELECT results_eq(format($$ SELECT hour, riders_online, online_rider_hours FROM dispatch.rider_utilisation
                             WHERE zone_id = %s ORDER BY hour $$, :kzone),
                  $$ VALUES ('2026-06-02 05:00:00'::timestamp, 1::bigint, 0.50::numeric(10, 2)),
                            ('2026-06-02 06:00:00'::timestamp, 1::bigint, 0.50::numeric(10, 2)) $$,
                  'rider_utilisation: the hours of a zone half an hour off UTC are its local hours');

-- anomalies: four Mondays at 12:00 with 10 orders each and one of them
-- cancelled; then a Monday at 12:00 with 6 of 10 cancelled and one at
-- 13:00 with 1 of 10.  12:00: k = 6, n = 10 against K = 4, N = 40:
-- p = 5 / 42, z = (6 - 10 p) / sqrt(10 p (1 - p)) = 4.70: flagged.
-- 13:00 has no baseline: p = 1 / 2, z = (1 - 5) / 1.58 < 0: not flagged
CREATE FUNCTION pg_temp.hour_of(p_at text, p_orders integer, p_cancel integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE o bigint;
BEGIN
	PERFORM pg_temp.at(p_at);
	FOR i IN 1 .. p_orders LOOP
		o := pg_temp.o(current_setting('t.customer')::bigint);
		PERFORM dispatch.confirm_payment(o, 'p-' || o);
		IF i <= p_cancel THEN PERFORM dispatch.cancel_order(o, 'test'); END IF;
	END LOOP;
END $$;
SELECT set_config('t.customer', :'customer', true) \g /dev/null
SELECT pg_temp.hour_of(format('2026-06-%s 12:10:00+00', d), 10, 1) FROM unnest('{08,15,22,29}'::text[]) d \g /dev/null
SELECT pg_temp.hour_of('2026-07-06 12:10:00+00', 10, 6) \g /dev/null
SELECT pg_temp.hour_of('2026-07-06 13:10:00+00', 10, 1) \g /dev/null
SELECT pg_temp.at('2026-07-06 14:00:00+00') \g /dev/null
SELECT results_eq($$ SELECT count, base, rate, baseline_count, baseline_base, baseline_rate, z_score, flagged
                       FROM dispatch.order_anomalies WHERE hour = '2026-07-06 12:00:00' AND kind = 'cancelled' $$,
                  $$ VALUES (6::bigint, 10::bigint, 0.6000::numeric(5, 4), 4::bigint, 40::bigint, 0.1000::numeric(5, 4),
                             4.70::numeric(8, 2), true) $$,
                  'order_anomalies: six cancellations of ten against one in ten is flagged');
SELECT results_eq($$ SELECT count, base, flagged FROM dispatch.order_anomalies
                      WHERE hour = '2026-07-06 13:00:00' AND kind = 'cancelled' $$,
                  $$ VALUES (1::bigint, 10::bigint, false) $$, 'one in ten with no history is not');
SELECT results_eq($$ SELECT count, base, flagged FROM dispatch.order_anomalies
                      WHERE hour = '2026-07-06 12:00:00' AND kind = 'refunded' $$,
                  $$ VALUES (6::bigint, 6::bigint, false) $$, 'every paid cancellation was refunded, as in the weeks before');
SELECT is((SELECT count(*) FROM dispatch.order_anomalies WHERE hour < '2026-06-29 14:00:00'), 0::bigint,
          'only the last 7 days are judged');

-- each kind is counted in the hour of its base event, so that an hour can
-- have no more cases than its base.  A week ago two orders were created
-- at 16:55 and 16:56 and cancelled at 17:05 and 17:06; today one is
-- created at 17:10.  Counted by the hour of the cancellation, 17:00 had
-- 2 cancellations of 0 orders as its baseline: p = 3 / 2 (and with one
-- of them, p = 1), and the view failed for every reader
SELECT pg_temp.at('2026-06-29 16:55:00+00') \g /dev/null
SELECT pg_temp.o(:customer) AS b1 \gset
SELECT pg_temp.at('2026-06-29 16:56:00+00') \g /dev/null
SELECT pg_temp.o(:customer2) AS b2 \gset
SELECT pg_temp.at('2026-06-29 17:05:00+00') \g /dev/null
SELECT dispatch.cancel_order(:b1, 'changed my mind') \g /dev/null
SELECT pg_temp.at('2026-07-06 17:10:00+00') \g /dev/null
SELECT pg_temp.o(:customer2) \g /dev/null
SELECT pg_temp.at('2026-07-06 17:30:00+00') \g /dev/null
SELECT lives_ok('SELECT * FROM dispatch.order_anomalies', 'order_anomalies: a baseline hour with one cancellation of an earlier order');
SELECT pg_temp.at('2026-06-29 17:06:00+00') \g /dev/null
SELECT dispatch.cancel_order(:b2, 'changed my mind') \g /dev/null
SELECT pg_temp.at('2026-07-06 17:30:00+00') \g /dev/null
SELECT lives_ok('SELECT * FROM dispatch.order_anomalies', '... and with two');
SELECT results_eq($$ SELECT count, base, rate, baseline_count, baseline_base FROM dispatch.order_anomalies
                      WHERE hour = '2026-07-06 17:00:00' AND kind = 'cancelled' $$,
                  $$ VALUES (0::bigint, 1::bigint, 0::numeric, 0::bigint, 0::bigint) $$,
                  'the cancellations count in the hour their orders were created (16:00), not in 17:00');
-- ten orders created at 18:50 and cancelled at 19:05, and one created at
-- 19:05: by the hour of the cancellation, 10 of 1 (and numeric(5, 4)
-- overflowed); now 10 of the 10 of 18:00, and none of the one of 19:00
SELECT pg_temp.at('2026-07-06 18:50:00+00') \g /dev/null
CREATE TEMP TABLE abandoned AS SELECT pg_temp.o(:customer) AS o FROM generate_series(1, 10);
SELECT pg_temp.at('2026-07-06 19:05:00+00') \g /dev/null
SELECT count(dispatch.cancel_order(o, 'payment abandoned')) FROM abandoned \g /dev/null
SELECT pg_temp.o(:customer2) \g /dev/null
SELECT pg_temp.at('2026-07-06 19:30:00+00') \g /dev/null
SELECT results_eq($$ SELECT hour, count, base, rate FROM dispatch.order_anomalies
                      WHERE hour >= '2026-07-06 18:00:00' AND kind = 'cancelled' ORDER BY hour $$,
                  $$ VALUES ('2026-07-06 18:00:00'::timestamp, 10::bigint, 10::bigint, 1::numeric),
                            ('2026-07-06 19:00:00'::timestamp, 0::bigint, 1::bigint, 0::numeric) $$,
                  'ten orders cancelled in the hour after they were created: 10 of 10 in their own hour');
-- an offer accepted at 19:58 and released at 20:03 counts in 19:00, among
-- the offers accepted then
CREATE FUNCTION pg_temp.accepted_offer(p_zone bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	o bigint;
	f bigint;
BEGIN
	FOR o IN SELECT r.rider_id FROM dispatch.riders r WHERE r.zone_id = p_zone AND r.status = 'online' LOOP
		PERFORM dispatch.update_rider_location(o, 121.435, 31.19);
	END LOOP;
	o := pg_temp.o(current_setting('t.customer')::bigint);
	PERFORM dispatch.confirm_payment(o, 'p-' || o);
	PERFORM dispatch.merchant_accept(o);
	SELECT b.offer_id INTO f FROM dispatch.assign_batch(p_zone) b WHERE b.order_id = o;
	IF f IS NULL THEN
		RAISE EXCEPTION 'no offer for order %', o;
	END IF;
	PERFORM dispatch.respond_offer(f, true);
	RETURN f;
END $$;
-- the riders (offline since 1 June) start a shift; the orders still open
-- (paid, never accepted) would take them first
SELECT pg_temp.at('2026-07-06 19:57:00+00') \g /dev/null
-- (ids read first, as above, for Citus)
SELECT string_agg(rider_id::text, ',') AS zone_riders FROM dispatch.riders WHERE zone_id = :zone \gset
SELECT count(dispatch.rider_online(r, 121.435, 31.19)) FROM unnest(string_to_array(:'zone_riders', ',')::bigint[]) r \g /dev/null
SELECT coalesce(string_agg(order_id::text, ','), '') AS open_orders FROM dispatch.orders
 WHERE zone_id = :zone AND status IN ('pending_payment', 'placed', 'accepted') \gset
SELECT count(dispatch.cancel_order(o, 'test')) FROM unnest(string_to_array(:'open_orders', ',')::bigint[]) o \g /dev/null
SELECT pg_temp.at('2026-07-06 19:58:00+00') \g /dev/null
SELECT pg_temp.accepted_offer(:zone) AS offer \gset
SELECT order_id AS released, rider_id AS releasing FROM dispatch.offers WHERE offer_id = :offer \gset
SELECT pg_temp.at('2026-07-06 20:03:00+00') \g /dev/null
SELECT dispatch.release_order(:released, :releasing, 'flat tyre') \g /dev/null
SELECT pg_temp.at('2026-07-06 20:30:00+00') \g /dev/null
SELECT results_eq($$ SELECT hour, count, base FROM dispatch.order_anomalies
                      WHERE hour >= '2026-07-06 19:00:00' AND kind = 'released' ORDER BY hour $$,
                  $$ VALUES ('2026-07-06 19:00:00'::timestamp, 1::bigint, 1::bigint) $$,
                  'a release counts in the hour its offer was accepted');
SELECT is((SELECT count(*) FROM dispatch.order_anomalies
            WHERE count > base OR rate NOT BETWEEN 0 AND 1 OR baseline_count > baseline_base
               OR baseline_rate NOT BETWEEN 0 AND 1), 0::bigint,
          'no count exceeds its base: every rate lies in [0, 1]');

-- no personal data, and the analyst reads the views
SELECT is((SELECT count(*) FROM information_schema.columns
            WHERE table_schema = 'dispatch' AND table_name IN ('stuck_orders', 'dispatch_kpis')
              AND (column_name ~ '(customer|name|phone|address|_enc)')), 0::bigint, 'no personal column in the views');
-- On Citus the coordinator reads the shards over connections it opens as
-- the current role: dispatch_analyst, a group role without LOGIN, cannot
-- open them (its members, who log in, can), and no transaction reads as
-- another role the shards it wrote.  There the read is checked as rights:
-- SELECT on the view and EXECUTE on the definer function it reads
-- (test/citus/20_analysts.sql reads them as a member of the role).
CREATE FUNCTION pg_temp.analyst_reads(p_view text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
		RETURN lives_ok('SELECT * FROM ' || p_view, 'the analyst reads ' || split_part(p_view, '.', 2));
	END IF;
	RETURN ok(has_table_privilege('dispatch_analyst', p_view, 'SELECT')
	          AND has_function_privilege('dispatch_analyst', 'dispatch._' || split_part(p_view, '.', 2) || '()', 'EXECUTE'),
	          'the analyst reads ' || split_part(p_view, '.', 2));
END $$;
SET LOCAL ROLE dispatch_analyst;
SELECT pg_temp.analyst_reads('dispatch.stuck_orders');
SELECT pg_temp.analyst_reads('dispatch.dispatch_kpis');
SELECT pg_temp.analyst_reads('dispatch.order_anomalies');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
