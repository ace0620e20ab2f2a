-- test/pgtap/63_eta.sql: ETA windows on a scripted scenario
-- (sql/63_eta.sql): the window before anything is learned, the window in
-- the status event, learning the zone's speed by hour of the week and the
-- calibration from 40 scripted deliveries, coverage of the next 40 in
-- eta_accuracy, and matching's travel times on the learned speed.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(46);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql

-- the riders start a shift on Monday 1 March 2027, 09:50 (the zone keeps UTC)
SET LOCAL dispatch.clock_override = '2027-02-28 22:00:00+00';
SELECT dispatch.rider_offline(:rider), dispatch.rider_offline(:rider2) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-01 09:50:00+00';
SELECT dispatch.rider_online(:rider, 121.43, 31.19), dispatch.rider_online(:rider2, 121.44, 31.19) \g /dev/null

-- before anything is learned: the zone's configured speed (4 m/s), a
-- typical approach, the merchant's 12 minutes of preparation, and the wide
-- default window (from a quarter to a half of the remaining time plus 5
-- minutes before and after, whole minutes); the ready time of a placed
-- order is an estimate (now plus the preparation time), no floor
SET LOCAL dispatch.clock_override = '2027-03-01 10:00:00+00';
SELECT pg_temp.order_in('placed') AS o1 \gset
SELECT distance_m AS d1 FROM dispatch.orders WHERE order_id = :o1 \gset
SELECT results_eq(format('SELECT status, expected_at, earliest, latest FROM dispatch.eta(%s)', :o1),
                  format($$ VALUES ('placed', timestamptz '2027-03-01 10:12:00+00' + make_interval(secs => floor(%1$s / 4.0)),
                                    date_trunc('minute', timestamptz '2027-03-01 10:12:00+00' + make_interval(secs => %1$s / 4.0 - 0.25 * (720 + %1$s / 4.0 + 300))),
                                    date_trunc('minute', timestamptz '2027-03-01 10:12:00+00' + make_interval(secs => %1$s / 4.0 + 0.5 * (720 + %1$s / 4.0 + 300)) + interval '59.999999 s')) $$,
                         :d1),
                  'eta of a placed order: ready in 12 minutes, then the trip at 4 m/s, a default window');
SELECT results_eq(format('SELECT eta_earliest, eta_latest FROM dispatch.orders WHERE order_id = %s', :o1),
                  format('SELECT earliest, latest FROM dispatch.eta(%s)', :o1), 'the order holds the window of its status');
SELECT results_eq(format($$ SELECT (payload -> 'eta' ->> 'earliest')::timestamptz, (payload -> 'eta' ->> 'latest')::timestamptz
                              FROM dispatch.events WHERE order_id = %s AND kind = 'order_status' AND payload ->> 'status' = 'placed' $$, :o1),
                  format('SELECT eta_earliest, eta_latest FROM dispatch.orders WHERE order_id = %s', :o1),
                  'the status event carries the window');
SELECT is((SELECT count(*) FROM dispatch.eta_predictions WHERE order_id = :o1 AND stage = 'placed'), 1::bigint,
          'the prediction is recorded');
SELECT is((SELECT payload ? 'eta' FROM dispatch.events WHERE order_id = :o1 AND kind = 'order_status' AND payload ->> 'status' = 'pending_payment'),
          false, 'an unpaid order''s event has no window');

-- accepted at 10:00 with the food ready at 10:40 (the merchant's word):
-- the drive of d1 metres (1,171) at 4 m/s, D = d1 / 4 s, ends at 10:44:52,
-- and the window starts at 10:40 + D - a quarter of (D + 5 minutes), the
-- drive's own lower error (10:42:24), not a quarter of the 44:52 to go
-- plus 5 minutes before the expected time (10:32, before the food is ready)
SELECT pg_temp.order_in('placed') AS late_food \gset
SELECT dispatch.merchant_accept(:late_food, '2027-03-01 10:40:00+00') \g /dev/null
SELECT results_eq(format('SELECT expected_at, earliest FROM dispatch.eta(%s)', :late_food),
                  format($$ VALUES (timestamptz '2027-03-01 10:40:00+00' + make_interval(secs => floor(%1$s / 4.0)),
                                    date_trunc('minute', timestamptz '2027-03-01 10:40:00+00'
                                                         + make_interval(secs => %1$s / 4.0 - 0.25 * (%1$s / 4.0 + 300)))) $$, :d1),
                  'food ready at 10:40: the window starts after it, by the drive less its lower error');
SELECT is((SELECT earliest FROM dispatch.eta_predictions WHERE order_id = :late_food AND stage = 'accepted'),
          (SELECT earliest FROM dispatch.eta(:late_food)), '... and so does the recorded prediction');
SELECT is(ARRAY[round(:d1), extract(epoch FROM (SELECT earliest - timestamptz '2027-03-01 10:42:00+00' FROM dispatch.eta(:late_food)))],
          ARRAY[1171, 0]::numeric[], 'a trip of 1,171 m, food ready at 10:40: earliest 10:42');
SELECT ready_at_given AS late_food_given FROM dispatch.orders WHERE zone_id = :late_food >> 40 AND order_id = :late_food \gset
SELECT is(:'late_food_given'::bool, true, 'a ready time the merchant gave is marked as given');
SELECT dispatch.cancel_order(:late_food, 'test') \g /dev/null
-- accepted with no ready time: now plus the preparation time, a guess
SELECT pg_temp.order_in('accepted') AS guessed_food \gset
SELECT ready_at = timestamptz '2027-03-01 10:12:00+00' AND NOT ready_at_given AS guessed_ok
  FROM dispatch.orders WHERE zone_id = :guessed_food >> 40 AND order_id = :guessed_food \gset
SELECT ok(:'guessed_ok'::bool, 'merchant_accept with no ready time: now plus the preparation time, not given');
SELECT results_eq(format('SELECT expected_at, earliest FROM dispatch.eta(%s)', :guessed_food),
                  format($$ VALUES (timestamptz '2027-03-01 10:12:00+00' + make_interval(secs => floor(%1$s / 4.0)),
                                    date_trunc('minute', timestamptz '2027-03-01 10:12:00+00'
                                                         + make_interval(secs => %1$s / 4.0 - 0.25 * (720 + %1$s / 4.0 + 300)))) $$, :d1),
                  'a guessed ready time is no floor: the window of an accepted order starts as a placed one''s');
SELECT dispatch.cancel_order(:guessed_food, 'test') \g /dev/null

-- a ready time more than a day away is a slip (a unit, a year): refused
SELECT pg_temp.order_in('placed') AS far_food \gset
SELECT throws_ok(format($$SELECT dispatch.merchant_accept(%s, '2029-03-01 10:40:00+00')$$, :far_food), 'DP025', NULL,
                 'merchant_accept: a ready time two years away is refused');
SELECT throws_ok(format($$SELECT dispatch.merchant_accept(%s, timestamptz '2027-03-01 10:00:00+00' + interval '1 day 1 second')$$, :far_food),
                 'DP025', NULL, '... as is one a day and a second away');
SELECT lives_ok(format($$SELECT dispatch.merchant_accept(%s, timestamptz '2027-03-01 10:00:00+00' + interval '1 day')$$, :far_food),
                'a day away is accepted');
SELECT dispatch.cancel_order(:far_food, 'test') \g /dev/null
-- and so is one more than a day ago (the year before): the food would
-- count as waiting since then, and matching would take the order for the
-- most urgent of the zone (its hold cost grows with the food's wait)
SELECT pg_temp.order_in('placed') AS old_food \gset
SELECT throws_ok(format($$SELECT dispatch.merchant_accept(%s, '2026-03-01 10:40:00+00')$$, :old_food), 'DP025', NULL,
                 'merchant_accept: a ready time a year ago is refused');
SELECT throws_ok(format($$SELECT dispatch.merchant_accept(%s, timestamptz '2027-03-01 10:00:00+00' - interval '1 day 1 second')$$, :old_food),
                 'DP025', NULL, '... as is one a day and a second ago');
SELECT status || ':' || (ready_at IS NULL) AS old_food_state FROM dispatch.orders
 WHERE zone_id = :old_food >> 40 AND order_id = :old_food \gset
SELECT is(:'old_food_state'::text, 'placed:true', '... leaving the order placed, with no ready time');
SELECT lives_ok(format($$SELECT dispatch.merchant_accept(%s, timestamptz '2027-03-01 10:00:00+00' - interval '1 day')$$, :old_food),
                'a day ago is accepted (the food was ready before the order was accepted)');
SELECT dispatch.cancel_order(:old_food, 'test') \g /dev/null

-- the rider at the merchant: a picked-up order is the ride from there
SELECT dispatch.merchant_accept(:o1) \g /dev/null
SELECT dispatch.update_rider_location(:rider, 121.437, 31.188) \g /dev/null
SELECT dispatch.assign_manually(:o1, :rider, 'test') \g /dev/null
SELECT dispatch.mark_picked_up(:o1, :rider) \g /dev/null
SELECT ok((SELECT abs(extract(epoch FROM expected_at - timestamptz '2027-03-01 10:00:00+00') - :d1 / 4.0) < 30 FROM dispatch.eta(:o1)),
          'eta of a picked-up order: the ride from the rider to the drop-off');
SELECT is((SELECT array_agg(stage ORDER BY stage) FROM dispatch.eta_predictions WHERE order_id = :o1),
          '{accepted,assigned,picked_up,placed}'::text[], 'a prediction at every status on the way');
SELECT dispatch.mark_delivered(:o1, :rider) \g /dev/null
SELECT results_eq(format('SELECT status, expected_at, earliest, latest FROM dispatch.eta(%s)', :o1),
                  format('SELECT status, delivered_at, delivered_at, delivered_at FROM dispatch.orders WHERE order_id = %s', :o1),
                  'a delivered order: its delivery time');
SELECT is((SELECT eta_earliest FROM dispatch.orders WHERE order_id = :o1), NULL, 'and no window any more');
-- a window years wide (recorded before merchant_accept bounded the ready
-- time) is counted in eta_accuracy, not an overflow of its minutes
-- (the new end read first: Citus refuses an UPDATE that calls a STABLE
-- function, timestamptz + interval, on a column)
SELECT latest + interval '3 years' AS far_latest FROM dispatch.eta_predictions WHERE order_id = :o1 AND stage = 'placed' \gset
UPDATE dispatch.eta_predictions SET latest = :'far_latest' WHERE order_id = :o1 AND stage = 'placed';
SELECT ok((SELECT mean_width_minutes > 1000000 FROM dispatch.eta_accuracy
            WHERE zone_id = :zone AND stage = 'placed' AND hour = '2027-03-01 10:00'),
          'eta_accuracy: a window of three years is 1.5 million minutes wide');
SELECT throws_ok(format('SELECT * FROM dispatch.eta(%s)', pg_temp.order_in('pending_payment')), 'DP711', NULL,
                 'an unpaid order has no ETA');
SELECT throws_ok('SELECT * FROM dispatch.eta(1099511627775)', 'DP014', NULL, 'an unknown order');

-- matching before learning: the configured speed
SELECT pg_temp.order_in('accepted') AS probe \gset
SELECT ok((SELECT abs(travel_s - distance_m / 4.0) < 0.01 FROM dispatch.nearest_riders(:probe) WHERE rider_id = :rider),
          'nearest_riders: travel at the configured 4 m/s');
SELECT dispatch.cancel_order(:probe, 'test') \g /dev/null

-- 40 scripted deliveries on Mondays 10:00-11:00 of the last weeks: the
-- rider waits at the merchant, picks up, and is at the door 150 to 345 s
-- later (5 s steps, shuffled)
-- The clock is moved with SET LOCAL, not set_config(): Citus carries a
-- SET LOCAL to the workers (citus.propagate_set_commands = local), so that
-- the statements it sends there read the same clock.
CREATE FUNCTION pg_temp.new_shift(p_at timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SET LOCAL dispatch.clock_override = %L', p_at - interval '12 hours');
	PERFORM dispatch.rider_offline(current_setting('t.rider')::bigint);
	EXECUTE format('SET LOCAL dispatch.clock_override = %L', p_at);
	PERFORM dispatch.rider_online(current_setting('t.rider')::bigint, 121.437, 31.188);
END $$;
CREATE FUNCTION pg_temp.deliver(p_at timestamptz, p_secs integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	o bigint;
	r bigint := current_setting('t.rider')::bigint;
BEGIN
	EXECUTE format('SET LOCAL dispatch.clock_override = %L', p_at);
	PERFORM dispatch.update_rider_location(r, 121.437, 31.188);
	o := pg_temp.order_in('picked_up');
	EXECUTE format('SET LOCAL dispatch.clock_override = %L', p_at + make_interval(secs => p_secs));
	PERFORM dispatch.mark_delivered(o, r);
	RETURN o;
END $$;
SELECT pg_temp.new_shift('2027-03-08 09:55:00+00') \g /dev/null
SELECT count(pg_temp.deliver(timestamptz '2027-03-08 10:00:00+00' + make_interval(mins => i), 150 + 5 * ((i * 17) % 40)))
  FROM generate_series(0, 39) i \g /dev/null

-- three orders the rider picks up and delivers in a dead zone: the app
-- syncs both at 10:50, and both are stamped with the time of the sync
-- (docs/sync.md), the pickup's window predicted at the moment of delivery
CREATE FUNCTION pg_temp.deliver_offline(p_n integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	o bigint := pg_temp.order_in('assigned');
	r bigint := current_setting('t.rider')::bigint;
	ms bigint := (extract(epoch FROM dispatch.clock()) * 1000)::bigint;
BEGIN
	PERFORM dispatch.sync_rider(r, jsonb_build_array(
		jsonb_build_object('id', 'dead-' || p_n || '-p', 'at', ms - 400000, 'type', 'picked_up', 'order_id', o),
		jsonb_build_object('id', 'dead-' || p_n || '-d', 'at', ms - 100000, 'type', 'delivered', 'order_id', o)));
	RETURN o;
END $$;
SET LOCAL dispatch.clock_override = '2027-03-08 10:50:00+00';
SELECT dispatch.update_rider_location(:rider, 121.437, 31.188) \g /dev/null
CREATE TEMP TABLE offline AS SELECT pg_temp.deliver_offline(n) AS order_id FROM generate_series(1, 3) n;
SELECT array_agg(o.status ORDER BY o.order_id) AS offline_statuses
  FROM dispatch.orders o WHERE o.zone_id = :zone AND o.order_id IN (SELECT order_id FROM offline) \gset
SELECT is(:'offline_statuses'::text[], '{delivered,delivered,delivered}', 'three orders delivered through an offline sync');

SET LOCAL dispatch.clock_override = '2027-03-08 11:00:00+00';
SELECT ok((dispatch.learn_eta() ->> 'zone_hours')::integer >= 1, 'learn_eta learns from the deliveries');
SELECT results_eq(format('SELECT hour_of_week, samples FROM dispatch.zone_speeds WHERE zone_id = %s', :zone),
                  'VALUES (10::smallint, 40)', 'one hour of the week learned (Monday 10:00), from 40 deliveries (the first, delivered at once, is no sample)');
-- the median trip took 247.5 s: the observed speed; 30 pseudo-samples of
-- the configured 4 m/s pull the speed that is used towards it
-- the zone's rows are read first, then checked: a statement that names the
-- zone goes whole to its Citus worker, where pgTAP has no plan
SELECT (SELECT abs(observed_mps - :d1 / 247.5) < 0.05 FROM dispatch.zone_speeds WHERE zone_id = :zone) AS v \gset
SELECT ok(:'v'::bool, 'the observed speed is the median trip''s');
SELECT (SELECT abs(speed_mps - (40 * observed_mps + 30 * 4.0) / 70) < 0.01 FROM dispatch.zone_speeds WHERE zone_id = :zone) AS v \gset
SELECT ok(:'v'::bool, 'the speed used is the median pulled towards the configured speed');
SELECT (SELECT samples FROM dispatch.eta_calibration WHERE zone_id = :zone AND stage = 'picked_up') AS v \gset
SELECT is(:'v'::int, 40, 'the picked-up windows are calibrated on the 40 deliveries (not on a window predicted when its order was delivered: the first order, delivered at once, nor the three synced offline)');
SELECT (SELECT array_agg(DISTINCT samples) FROM dispatch.eta_calibration WHERE zone_id = :zone) AS v \gset
SELECT is(:'v'::int[], '{40}', '... and so are the windows of every status');

-- matching now travels at the learned speed of the hour
SELECT pg_temp.new_shift('2027-03-15 09:55:00+00') \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-15 10:05:00+00';
SELECT dispatch.update_rider_location(:rider, 121.43, 31.19), dispatch.update_rider_location(:rider2, 121.44, 31.19) \g /dev/null
SELECT pg_temp.order_in('accepted') AS probe2 \gset
SELECT speed_mps AS learned FROM dispatch.zone_speeds WHERE zone_id = :zone \gset
SELECT ok((SELECT abs(r.travel_s - r.distance_m / :learned) < 0.01
             FROM dispatch.nearest_riders(:probe2) r WHERE r.rider_id = :rider),
          'nearest_riders: travel at the learned speed of Monday 10:00');
SELECT dispatch.cancel_order(:probe2, 'test') \g /dev/null

-- the next Monday: 40 more deliveries of the same kind, predicted with the
-- learned speed and calibration.  eta_accuracy: at least 85 % of them land
-- in their picked-up window (the stated share is 90 %)
SELECT count(pg_temp.deliver(timestamptz '2027-03-15 10:10:00+00' + make_interval(mins => i), 150 + 5 * ((i * 13) % 40)))
  FROM generate_series(0, 39) i \g /dev/null
SELECT (SELECT coverage >= 0.85 FROM dispatch.eta_accuracy
           WHERE zone_id = :zone AND stage = 'picked_up' AND hour = '2027-03-15 10:00') AS v \gset
SELECT ok(:'v'::bool, 'eta_accuracy: the calibrated windows hold at least 85 % of the next deliveries');
SELECT (SELECT deliveries = 40 AND mean_width_minutes < 8 FROM dispatch.eta_accuracy
           WHERE zone_id = :zone AND stage = 'picked_up' AND hour = '2027-03-15 10:00') AS v \gset
SELECT ok(:'v'::bool, '... with windows narrower than the default ones');
-- the orders of this script are picked up as soon as they are paid: the
-- default window of a placed order (the merchant's 12 minutes, then the
-- ride) missed every one of the first Monday; calibrated on them, the next
-- Monday's windows hold them (a placed order's ready time is an estimate,
-- no floor of its window)
SELECT results_eq(format($$ SELECT hour::date, coverage FROM dispatch.eta_accuracy
                             WHERE zone_id = %s AND stage = 'placed' AND hour >= '2027-03-08' ORDER BY hour $$, :zone),
                  $$ VALUES ('2027-03-08'::date, 0.0000::numeric(5, 4)), ('2027-03-15'::date, 1.0000::numeric(5, 4)) $$,
                  'placed windows: none held before calibration, all after');
-- and so are the accepted and assigned windows: merchant_accept gave no
-- ready time, so the order's is the same guess (now plus the preparation
-- time, ready_at_given false), no floor of the window either
SELECT results_eq(format($$ SELECT stage, hour::date, coverage FROM dispatch.eta_accuracy
                             WHERE zone_id = %s AND stage IN ('accepted', 'assigned') AND hour >= '2027-03-08' ORDER BY stage, hour $$, :zone),
                  $$ VALUES ('accepted', '2027-03-08'::date, 0.0000::numeric(5, 4)), ('accepted', '2027-03-15'::date, 1.0000::numeric(5, 4)),
                            ('assigned', '2027-03-08'::date, 0.0000::numeric(5, 4)), ('assigned', '2027-03-15'::date, 1.0000::numeric(5, 4)) $$,
                  'accepted and assigned windows with a guessed ready time: none held before calibration, all after');

-- privileges.  On Citus a transaction cannot read as another role the
-- shards it wrote, and the group role dispatch_analyst cannot log in to the
-- workers: there the read is checked as the right to SELECT the view and
-- call its definer function (see 53_pay.sql)
SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS on_citus \gset
SET LOCAL ROLE dispatch_analyst;
\if :on_citus
SELECT ok(has_table_privilege('dispatch_analyst', 'dispatch.eta_accuracy', 'SELECT')
          AND has_function_privilege('dispatch_analyst', 'dispatch._eta_accuracy()', 'EXECUTE'), 'the analyst reads eta_accuracy');
\else
SELECT lives_ok('SELECT * FROM dispatch.eta_accuracy', 'the analyst reads eta_accuracy');
\endif
SELECT throws_ok('SELECT * FROM dispatch.eta_predictions', '42501', NULL, 'but not the predictions');
RESET ROLE;


-- the expected time of its parts (C: test/pgtap/42_hardening.sql), NULL
-- parts as in an SQL expression
SELECT is(dispatch._eta_expected('2027-03-01 10:00+00', 5, 1000, 3000, '2027-03-01 10:10+00'),
	'2027-03-01 10:20:00+00'::timestamptz,
	'the expected time waits for the food, then drives the trip (600 s at 5 m/s after 10:10)');
SELECT is(dispatch._eta_expected('2027-03-01 10:00+00', 4, 1000, 3000, '2027-03-01 10:01+00'),
	'2027-03-01 10:16:40+00'::timestamptz,
	'food ready before the rider arrives: the ride there (250 s), then the trip (750 s)');
SELECT is(dispatch._eta_expected('2027-03-01 10:00+00', 4, NULL, 3000, NULL),
	'2027-03-01 10:12:30+00'::timestamptz,
	'no approach (picked up) and no ready time: the trip alone');
SELECT is(dispatch._eta_expected('2027-03-01 10:00+00', NULL, 1000, 3000, '2027-03-01 10:10+00'),
	'2027-03-01 10:01:00+00'::timestamptz,
	'no speed: the minute from now, as the SQL expression gave');
SELECT is(dispatch._eta_expected('2027-03-01 10:00+00', 5, 10, 20, NULL),
	'2027-03-01 10:01:00+00'::timestamptz,
	'at least a minute from now');
SELECT is(dispatch._eta_expected(NULL, 5, 10, 20, NULL), NULL, 'no time, no expected time');

SELECT * FROM finish();
