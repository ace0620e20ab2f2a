-- bench/eta_history/run.sql: learn_eta on a year of history (docs/eta.md).
-- 40 orders delivered through the API are cloned, rows and predictions,
-- into 25,000 orders spread over the year before "now" (100,000
-- predictions, about 1,900 orders in learn_eta's 28-day window), the
-- tables analysed, then learn_eta timed three times as planned, three
-- times with no sequential scan.
--   PGDEV_HUGE_PAGES=0 ./tools/pgdev run psql -X -f bench/eta_history/run.sql
\set QUIET on
\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS dispatch CASCADE;
BEGIN;
\ir ../../test/fixtures/city.sql
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../../test/fixtures/order_in.sql
SET LOCAL dispatch.clock_override = '2027-12-30 22:00:00+00';
SELECT dispatch.rider_offline(:rider) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-12-31 09:55:00+00';
SELECT dispatch.rider_online(:rider, 121.437, 31.188) \g /dev/null
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
CREATE TEMP TABLE template AS
SELECT row_number() OVER () AS i, pg_temp.deliver(timestamptz '2027-12-31 10:00:00+00' + make_interval(mins => g), 150 + 5 * ((g * 17) % 40)) AS order_id
  FROM generate_series(0, 39) g;
-- 625 copies of the 40, copy k shifted k * 14 hours back (a year)
SET LOCAL session_replication_role = replica;
CREATE FUNCTION pg_temp.shift(j jsonb, p_cols text[], p_by interval) RETURNS jsonb LANGUAGE sql AS $$
	SELECT j || COALESCE(jsonb_object_agg(c, (j ->> c)::timestamptz - p_by), '{}')
	  FROM unnest(p_cols) c WHERE j ->> c IS NOT NULL
$$;
INSERT INTO dispatch.orders
SELECT (jsonb_populate_record(NULL::dispatch.orders,
        pg_temp.shift(to_jsonb(o), '{promised_at,ready_at,created_at,status_changed_at,placed_at,accepted_at,assigned_at,picked_up_at,delivered_at}',
                      make_interval(hours => 14 * k))
        || jsonb_build_object('order_id', (o.zone_id << 40) + 100000000 + k * 100 + t.i))).*
  FROM template t JOIN dispatch.orders o ON o.zone_id = :zone AND o.order_id = t.order_id,
       generate_series(1, 625) k;
INSERT INTO dispatch.eta_predictions
SELECT (jsonb_populate_record(NULL::dispatch.eta_predictions,
        pg_temp.shift(to_jsonb(p), '{predicted_at,expected_at,earliest,latest,ready_at}', make_interval(hours => 14 * k))
        || jsonb_build_object('order_id', (p.zone_id << 40) + 100000000 + k * 100 + t.i))).*
  FROM template t JOIN dispatch.eta_predictions p ON p.zone_id = :zone AND p.order_id = t.order_id,
       generate_series(1, 625) k;
RESET session_replication_role;
COMMIT;
ANALYZE dispatch.orders;
ANALYZE dispatch.eta_predictions;
SELECT (SELECT count(*) FROM dispatch.orders) AS orders, (SELECT count(*) FROM dispatch.eta_predictions) AS predictions,
       (SELECT count(*) FROM dispatch.orders WHERE status = 'delivered' AND delivered_at >= timestamptz '2027-12-31 11:00+00' - interval '28 days') AS in_window;
SET dispatch.clock_override = '2027-12-31 11:00:00+00';
\timing on
SELECT dispatch.learn_eta();
SELECT dispatch.learn_eta();
SELECT dispatch.learn_eta();
-- the plan a history of millions gets (at 25,000 orders the planner
-- rightly reads the tables whole: a few MB)
SET enable_seqscan = off;
SELECT dispatch.learn_eta();
SELECT dispatch.learn_eta();
SELECT dispatch.learn_eta();
RESET enable_seqscan;
\timing off
SELECT zone_id, stage, samples FROM dispatch.eta_calibration ORDER BY 1, 2;
DROP EXTENSION dispatch CASCADE;
