-- test/pgtap/63_eta_history.sql: the ETA history stays bounded
-- (sql/63_eta.sql, sql/78_retention.sql).  learn_eta learns from the
-- deliveries of its window (dispatch.eta_learn_days) and reads only those
-- and their predictions (orders_delivered_idx), however long the history;
-- the retention class eta_predictions deletes the predictions of orders
-- finished longer ago than its keep, and nothing else.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(12);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql
SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS on_citus \gset

-- the clock is moved with SET LOCAL (carried to Citus workers: 63_eta.sql)
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
CREATE FUNCTION pg_temp.in_status(p_at timestamptz, p_status text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SET LOCAL dispatch.clock_override = %L', p_at);
	RETURN pg_temp.order_in(p_status);
END $$;

-- the old history, two months back (Monday 4 January 2027): 300 slow
-- deliveries (20 minutes from pickup to door), an order cancelled once
-- accepted, and one accepted then and never finished
SELECT pg_temp.new_shift('2027-01-04 09:55:00+00') \g /dev/null
CREATE TEMP TABLE old_orders AS
SELECT pg_temp.deliver(timestamptz '2027-01-04 10:00:00+00' + make_interval(secs => 30 * i), 1200) AS order_id
  FROM generate_series(0, 299) i;
SELECT pg_temp.in_status('2027-01-04 11:05:00+00', 'accepted') AS old_cancelled \gset
SELECT dispatch.cancel_order(:old_cancelled, 'test') \g /dev/null
SELECT pg_temp.in_status('2027-01-04 11:10:00+00', 'accepted') AS old_open \gset
-- the window: 40 deliveries on Monday 1 March 2027, 150 to 345 s each
SELECT pg_temp.new_shift('2027-03-01 09:55:00+00') \g /dev/null
CREATE TEMP TABLE new_orders AS
SELECT pg_temp.deliver(timestamptz '2027-03-01 10:00:00+00' + make_interval(mins => i), 150 + 5 * ((i * 17) % 40)) AS order_id
  FROM generate_series(0, 39) i;
SET LOCAL dispatch.clock_override = '2027-03-01 11:00:00+00';

-- what each part holds, read before anything is checked (on Citus a
-- statement naming the zone goes whole to its worker, where pgTAP has no plan)
SELECT (SELECT count(*) FROM dispatch.eta_predictions p WHERE p.zone_id = :zone
           AND p.order_id IN (SELECT order_id FROM old_orders)) AS old_predictions,
       (SELECT count(*) FROM dispatch.eta_predictions p WHERE p.zone_id = :zone
           AND p.order_id IN (SELECT order_id FROM new_orders)) AS new_predictions,
       (SELECT count(*) FROM dispatch.eta_predictions p WHERE p.zone_id = :zone AND p.order_id = :old_cancelled) AS cancelled_predictions,
       (SELECT count(*) FROM dispatch.eta_predictions p WHERE p.zone_id = :zone AND p.order_id = :old_open) AS open_predictions,
       (SELECT count(*) FROM dispatch.eta_predictions p) AS all_predictions,
       (SELECT count(*) FROM dispatch.orders o WHERE o.status = 'delivered'
           AND o.delivered_at >= timestamptz '2027-02-01 11:00:00+00') AS window_deliveries  -- eta_learn_days: 28
\gset
SELECT is(ARRAY[:old_predictions, :new_predictions, :cancelled_predictions, :open_predictions]::bigint[], '{1200,160,2,2}',
          'every status of every order left a prediction (placed, accepted, assigned, picked up)');

-- learning: only the window's deliveries count, the slow old ones not at all
SELECT dispatch.learn_eta() \g /dev/null
SELECT (SELECT array_agg(hour_of_week::text || ':' || samples ORDER BY hour_of_week) FROM dispatch.zone_speeds WHERE zone_id = :zone) AS speeds,
       (SELECT abs(observed_mps - (SELECT distance_m FROM dispatch.orders WHERE zone_id = :zone AND order_id = :old_open) / 247.5) < 0.05
          FROM dispatch.zone_speeds WHERE zone_id = :zone) AS median_ok,
       (SELECT array_agg(stage || ':' || samples ORDER BY stage) FROM dispatch.eta_calibration WHERE zone_id = :zone) AS calibration
\gset
SELECT is(:'speeds'::text[], '{10:40}', 'speeds: Monday 10:00 from the 40 deliveries of the window, none of the 300 two months back');
SELECT ok(:'median_ok'::bool, '... whose median trip (247.5 s) is the observed speed, not pulled by the 20-minute ones');
SELECT is(:'calibration'::text[], '{accepted:40,assigned:40,picked_up:40,placed:40}',
          'calibration: the predictions of the window''s deliveries only');

-- and it can read only those: with no sequential scans and every join a
-- nested loop (the plan for a window small beside the history; these
-- tables are too small for the planner to bother), the rows learn_eta
-- fetches from orders are the window's
-- deliveries, once for the speeds and once for the calibration, and from
-- eta_predictions theirs (counted by this transaction's statistics; on
-- Citus they are the workers')
\if :on_citus
SELECT skip('the statistics of the shards are the workers''', 2);
\else
-- with the tables' statistics, as autovacuum keeps them
ANALYZE dispatch.orders;
ANALYZE dispatch.eta_predictions;
CREATE TEMP TABLE reads_before AS
SELECT relname, seq_tup_read + COALESCE(idx_tup_fetch, 0) AS fetched
  FROM pg_stat_xact_user_tables WHERE schemaname = 'dispatch' AND relname IN ('orders', 'eta_predictions');
SET LOCAL enable_seqscan = off;
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off;
SELECT dispatch.learn_eta() \g /dev/null
RESET enable_seqscan;
RESET enable_hashjoin;
RESET enable_mergejoin;
SELECT (SELECT a.seq_tup_read + COALESCE(a.idx_tup_fetch, 0) - b.fetched FROM pg_stat_xact_user_tables a JOIN reads_before b USING (relname)
         WHERE a.schemaname = 'dispatch' AND a.relname = 'orders') AS orders_read,
       (SELECT a.seq_tup_read + COALESCE(a.idx_tup_fetch, 0) - b.fetched FROM pg_stat_xact_user_tables a JOIN reads_before b USING (relname)
         WHERE a.schemaname = 'dispatch' AND a.relname = 'eta_predictions') AS predictions_read
\gset
SELECT cmp_ok(:orders_read::bigint, '<=', 2 * :window_deliveries::bigint,
              format('learn_eta read %s rows of orders: the %s deliveries of the window, twice at most', :orders_read, :window_deliveries));
SELECT cmp_ok(:predictions_read::bigint, '<=', :new_predictions::bigint,
              format('... and %s predictions, theirs (%s), not the %s of the history', :predictions_read, :new_predictions, :all_predictions));
\endif

-- retention: kept 90 days by default, then deleted with their order's age
SELECT results_eq($$ SELECT keep, action, enabled FROM dispatch.retention_effective() WHERE data_class = 'eta_predictions' $$,
                  $$ VALUES (interval '90 days', 'delete'::text, true) $$, 'eta_predictions: kept 90 days after the order ends, then deleted');
SELECT dispatch.purge_expired_step(100000) \g /dev/null
SELECT (SELECT count(*) FROM dispatch.eta_predictions) AS after_default \gset
SELECT is(:after_default::bigint, :all_predictions::bigint, 'nothing is 90 days old: nothing deleted');
-- kept 30 days: the predictions of the orders finished two months ago go
SELECT dispatch.set_retention_policy('eta_predictions', '30 days') \g /dev/null
SELECT dispatch.purge_expired_step(100000) AS purged \gset
SELECT (SELECT (rows ->> 'eta_predictions')::bigint FROM dispatch.purge_runs ORDER BY run_id DESC LIMIT 1) AS purged_logged,
       (SELECT count(*) FROM dispatch.eta_predictions p WHERE p.zone_id = :zone
           AND p.order_id IN (SELECT order_id FROM old_orders)) AS old_left,
       (SELECT count(*) FROM dispatch.eta_predictions p WHERE p.zone_id = :zone AND p.order_id = :old_cancelled) AS cancelled_left,
       (SELECT count(*) FROM dispatch.eta_predictions p WHERE p.zone_id = :zone AND p.order_id = :old_open) AS open_left,
       (SELECT count(*) FROM dispatch.eta_predictions p WHERE p.zone_id = :zone
           AND p.order_id IN (SELECT order_id FROM new_orders)) AS new_left,
       (SELECT count(*) FROM dispatch.orders o WHERE o.zone_id = :zone
           AND o.order_id IN (SELECT order_id FROM old_orders UNION ALL SELECT :old_cancelled UNION ALL SELECT :old_open)) AS old_orders_left
\gset
SELECT is(ARRAY[:old_left, :cancelled_left]::bigint[], '{0,0}',
          'kept 30 days: the predictions of the orders delivered or cancelled two months ago are deleted');
SELECT is(:purged_logged::bigint, :old_predictions::bigint + :cancelled_predictions::bigint, '... counted in purge_runs');
SELECT is(ARRAY[:open_left, :new_left, :old_orders_left]::bigint[], ARRAY[:open_predictions, :new_predictions, 302]::bigint[],
          'nothing else: those of an order not finished and of the recent ones stay, and so do the orders');
-- learning is the same without them
SELECT dispatch.learn_eta() \g /dev/null
SELECT (SELECT array_agg(stage || ':' || samples ORDER BY stage) FROM dispatch.eta_calibration WHERE zone_id = :zone) AS calibration2 \gset
SELECT is(:'calibration2'::text[], :'calibration'::text[], 'and learn_eta learns the same');

SELECT * FROM finish();
ROLLBACK;
