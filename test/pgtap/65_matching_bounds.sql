-- test/pgtap/65_matching_bounds.sql: matching settings cannot make a cost
-- the solver rejects.  Every real column of matching_settings is finite
-- and at most 1e6 (matching_settings_finite): Infinity, NaN and larger
-- values are refused when written (23514), where before they were stored
-- and the next batch failed with DP307.  A batch with every real setting
-- at the bound solves, with a finite total cost.  DP307 itself is left for
-- internal failures only (docs/matching.md).
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
SELECT plan(9);

\ir ../fixtures/city.sql
SELECT dispatch.place_order(:customer, :merchant, jsonb_build_array(jsonb_build_object('item_id', :noodles, 'qty', 1)),
                            121.445, 31.196, 'Bound Road') AS o1 \gset
SELECT dispatch.confirm_payment(:o1, 'ref-1') \g /dev/null
SELECT dispatch.merchant_accept(:o1) \g /dev/null
SELECT dispatch.place_order(:customer2, :merchant, jsonb_build_array(jsonb_build_object('item_id', :noodles, 'qty', 1)),
                            121.441, 31.193, 'Bound Lane', 'fresh') AS o2 \gset
SELECT dispatch.confirm_payment(:o2, 'ref-2') \g /dev/null
SELECT dispatch.merchant_accept(:o2) \g /dev/null

SELECT throws_ok($$UPDATE dispatch.matching_settings SET load_penalty_s = 'Infinity' WHERE zone_id = 0$$,
                 '23514', NULL, 'an infinite load penalty is refused (it made every slot penalty infinite: DP307)');
SELECT throws_ok($$UPDATE dispatch.matching_settings SET w_travel = 'NaN' WHERE zone_id = 0$$,
                 '23514', NULL, 'a NaN weight is refused (it made every cost NaN: DP307)');
SELECT throws_ok($$UPDATE dispatch.matching_settings SET hold_cost = 'Infinity' WHERE zone_id = 0$$,
                 '23514', NULL, 'an infinite hold cost is refused');
SELECT throws_ok($$UPDATE dispatch.matching_settings SET radius_m = 'NaN' WHERE zone_id = 0$$,
                 '23514', NULL, 'a NaN radius is refused');
SELECT throws_ok($$INSERT INTO dispatch.matching_settings (zone_id, w_fair_earnings) VALUES ($$ || :zone || $$, 1.5e6)$$,
                 '23514', NULL, 'a zone row with a weight above 1e6 is refused');
SELECT is((SELECT count(*)::int FROM pg_constraint
            WHERE conrelid = 'dispatch.matching_settings'::regclass AND conname = 'matching_settings_finite'), 1,
          'the bound is the named constraint matching_settings_finite');

-- every real setting at the bound: costs are huge, but the batch solves
UPDATE dispatch.matching_settings
   SET radius_m = 1e6, hold_cost = 1e6, w_travel = 1e6, w_rider_wait = 1e6, w_food_wait = 1e6, w_late = 1e6,
       priority_hot = 1e6, priority_fresh = 1e6, load_penalty_s = 1e6, w_fair_orders = 1e6,
       w_fair_earnings = 1e6, w_shift_hour = 1e6, time_budget_ms = 1e6
 WHERE zone_id = 0;
SELECT lives_ok($$CREATE TEMP TABLE got AS SELECT * FROM dispatch.assign_batch($$ || :zone || $$)$$,
                'a batch with every real setting at 1e6 solves (no DP307)');
-- the zone's batch row is read first, then checked: a statement that names
-- the zone goes whole to its Citus worker, where pgTAP has no plan
SELECT (SELECT method FROM dispatch.assign_batches WHERE zone_id = :zone ORDER BY batch_id DESC LIMIT 1) AS v \gset
SELECT is(:'v'::text, 'exact', '... exactly');
SELECT (SELECT total_cost < 'Infinity' AND total_cost = total_cost
          FROM dispatch.assign_batches WHERE zone_id = :zone ORDER BY batch_id DESC LIMIT 1) AS v \gset
SELECT ok(:'v'::bool, '... with a finite total cost');

SELECT * FROM finish();
ROLLBACK;
