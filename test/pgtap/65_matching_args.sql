-- test/pgtap/65_matching_args.sql: matching's calls refuse a missing
-- argument with their SQLSTATE instead of answering "nothing" (a call
-- with a NULL order, k or zone is a caller's bug, not an empty zone), and
-- a rider's plan refuses a time more than a day from now (a slip of the
-- app: a unit, a year), which would otherwise keep the rider out of
-- matching until then, even after its last delivery, when no new plan can
-- replace it (sql/60_matching.sql, sql/65_lifecycle.sql).
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(16);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql

-- ---------------------------------------------------------------------------
-- a missing order, k or zone
-- ---------------------------------------------------------------------------

SELECT pg_temp.order_in('accepted') AS accepted \gset
SELECT throws_ok('SELECT * FROM dispatch.nearest_riders(NULL)', 'DP306', 'order <NULL> does not exist',
                 'nearest_riders: no order (DP306, as an unknown one)');
SELECT throws_ok(format('SELECT * FROM dispatch.nearest_riders(%s, NULL)', :accepted), 'DP304',
                 'k must be between 1 and 1000', 'nearest_riders: no k (DP304, as one out of range)');
SELECT throws_ok('SELECT * FROM dispatch.assign_batch(NULL)', 'DP305', 'zone <NULL> does not exist',
                 'assign_batch: no zone (DP305, as an unknown one)');
SELECT is((SELECT count(*) FROM dispatch.offers WHERE order_id = :accepted), 0::bigint,
          '... and no offer was written');

-- ---------------------------------------------------------------------------
-- a plan's times: within a day of now
-- ---------------------------------------------------------------------------

SELECT pg_temp.order_in('picked_up') AS carried \gset
SELECT throws_ok(format($$SELECT dispatch.update_rider_plan(%s, dispatch.clock() + interval '30 days', 121.44, 31.19)$$, :rider),
                 'DP025', NULL, 'a plan done 30 days from now is refused (DP025)');
SELECT throws_ok(format($$SELECT dispatch.update_rider_plan(%s, dispatch.clock() + interval '1 day 1 minute', 121.44, 31.19)$$, :rider),
                 'DP025', NULL, 'a plan done just over a day from now is refused (DP025)');
SELECT throws_ok(format($$SELECT dispatch.update_rider_plan_in_zone(%s, %s, dispatch.clock() + interval '1 year', 121.44, 31.19)$$,
                        :zone, :rider),
                 'DP025', NULL, 'update_rider_plan_in_zone: a plan done a year from now is refused (DP025)');
SELECT throws_ok(format($$SELECT dispatch.update_rider_plan(%s, dispatch.clock() - interval '2 days', 121.44, 31.19)$$, :rider),
                 'DP025', NULL, 'a plan done two days ago is refused (DP025)');
SELECT throws_ok(format($$SELECT dispatch.update_rider_plan(%s, dispatch.clock() + interval '10 minutes', 121.44, 31.19,
                                                            dispatch.clock() - interval '1 year', 121.437, 31.188)$$, :rider),
                 'DP025', NULL, 'a next pickup a year ago is refused (DP025)');
SELECT is((SELECT (free_at, free_position, plan_pickup_at)::text FROM dispatch.riders WHERE rider_id = :rider),
          (NULL::timestamptz, NULL::geometry, NULL::timestamptz)::text, '... and no plan was recorded');
SELECT is(dispatch.update_rider_plan(:rider, dispatch.clock() + interval '23 hours', 121.44, 31.19), true,
          'a plan done within a day is recorded');
SELECT is(dispatch.update_rider_plan(:rider, dispatch.clock() - interval '23 hours', 121.44, 31.19), true,
          'a plan done within the last day is recorded (and not trusted, being past)');
SELECT is(dispatch.update_rider_plan(:rider, dispatch.clock() + interval '10 minutes', 121.44, 31.19), true,
          'the rider''s real plan: done in 10 minutes');

-- the order is delivered: the rider, free again, is a candidate for the
-- next order, costed from the plan's end, at most 10 minutes away
SELECT dispatch.mark_delivered(:carried, :rider) \g /dev/null
SELECT dispatch.rider_offline(:rider2) \g /dev/null
SELECT pg_temp.order_in('accepted') AS next \gset
SELECT cmp_ok((SELECT travel_s FROM dispatch.nearest_riders(:next) WHERE rider_id = :rider), '<=', 600 + 1000 / 4.0::float8,
              'after the delivery the rider is costed from the end of its plan, minutes away');
SELECT is((SELECT rider_id FROM dispatch.assign_batch(:zone) WHERE order_id = :next), :rider::bigint,
          '... and the batch offers it the next order');
SELECT is((SELECT count(*) FROM dispatch.offers WHERE order_id = :next AND status = 'pending'), 1::bigint,
          'one offer, pending');

SELECT * FROM finish();
ROLLBACK;
