-- test/pgtap/65_lifecycle_args.sql: the calls of an order's life after
-- payment and of a rider's shift refuse a missing or blank argument, a
-- time not finite and a point not on the map with their DP SQLSTATE,
-- before changing anything (sql/65_lifecycle.sql).  A reason or a
-- dispatcher's name of white space only (a tab, a line break) is as
-- missing as an empty one.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(26);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql

SELECT pg_temp.order_in('placed') AS placed \gset
SELECT pg_temp.order_in('accepted') AS accepted \gset
SELECT pg_temp.order_in('assigned') AS assigned \gset

-- a cancellation, a release and a manual assignment say why, and who
SELECT throws_ok(format('SELECT dispatch.cancel_order(%s, NULL)', :placed), 'DP025', 'a cancellation needs a reason',
                 'cancel_order: no reason');
SELECT throws_ok(format('SELECT dispatch.cancel_order(%s, %L)', :placed, '   '), 'DP025', 'a cancellation needs a reason',
                 'cancel_order: a reason of spaces');
SELECT throws_ok(format('SELECT dispatch.cancel_order(%s, %L)', :placed, E'\t\n'), 'DP025', 'a cancellation needs a reason',
                 'cancel_order: a reason of a tab and a line break');
SELECT throws_ok(format('SELECT dispatch.release_order(%s, %s, %L)', :assigned, :rider, ''), 'DP025', 'a release needs a reason',
                 'release_order: an empty reason');
SELECT throws_ok(format('SELECT dispatch.release_order(%s, %s, %L)', :assigned, :rider, E'\r\n'), 'DP025', 'a release needs a reason',
                 'release_order: a reason of a line break');
SELECT throws_ok(format('SELECT dispatch.assign_manually(%s, %s, %L)', :accepted, :rider, E'\t'), 'DP025',
                 'a manual assignment names the dispatcher who made it', 'assign_manually: a dispatcher of a tab');

-- orders and riders that are not there, or not given
SELECT throws_ok(format('SELECT dispatch.mark_picked_up(NULL, %s)', :rider), 'DP014', NULL, 'mark_picked_up: no order');
SELECT throws_ok(format('SELECT dispatch.mark_picked_up(%s, NULL)', :assigned), 'DP019', NULL, 'mark_picked_up: no rider');
SELECT throws_ok(format('SELECT dispatch.mark_delivered(%s, %s)', :assigned, :rider2), 'DP019', NULL,
                 'mark_delivered: another rider''s order');
SELECT throws_ok(format('SELECT dispatch.mark_delivered(%s, %s)', :assigned, :rider), 'DP104', NULL,
                 'mark_delivered: an order not picked up');
SELECT throws_ok('SELECT dispatch.merchant_accept(NULL)', 'DP014', NULL, 'merchant_accept: no order');
SELECT throws_ok(format('SELECT dispatch.assign_manually(%s, NULL, %L)', :accepted, 'ops'), 'DP015', 'rider <NULL> does not exist',
                 'assign_manually: no rider');
SELECT throws_ok('SELECT dispatch.rider_offline(NULL)', 'DP015', NULL, 'rider_offline: no rider');

-- times not finite, points not on the map
SELECT throws_ok(format('SELECT dispatch.merchant_accept(%s, %L)', :placed, 'infinity'), 'DP025', NULL,
                 'merchant_accept: a ready time of infinity');
SELECT throws_ok(format('SELECT dispatch.merchant_accept(%s, %L)', :placed, '-infinity'), 'DP025', NULL,
                 'merchant_accept: a ready time of -infinity');
SELECT throws_ok(format('SELECT dispatch.rider_online(%s, 121.44, 31.19, %L)', :rider2, 'infinity'), 'DP025', NULL,
                 'rider_online: a shift end of infinity');
SELECT throws_ok(format('SELECT dispatch.rider_online(%s, %L, 31.19)', :rider2, 'NaN'), 'DP001', NULL,
                 'rider_online: a longitude NaN');
SELECT throws_ok(format('SELECT dispatch.update_rider_location(%s, 121.44, 31.19, %L)', :rider, '-infinity'), 'DP024', NULL,
                 'update_rider_location: a ping at -infinity');

-- nothing of it was written (the zone's rows read first, then asserted:
-- on Citus a statement that names one zone runs on its worker)
SELECT pg_catalog.string_agg(status, ',' ORDER BY order_id) AS statuses
  FROM dispatch.orders WHERE zone_id = :zone AND order_id IN (:placed, :accepted, :assigned) \gset
SELECT is(:'statuses'::text, 'placed,accepted,assigned', 'every order is where it was');
SELECT count(*) AS after_events FROM dispatch.events
 WHERE zone_id = :zone AND order_id IN (:placed, :accepted, :assigned)
   AND payload->>'status' IN ('cancelled', 'delivered', 'picked_up') \gset
SELECT is(:after_events::bigint, 0::bigint, '... and no event says otherwise');

-- every required text of the API follows the same rule (_is_blank): a
-- name, a description or a version of white space only is missing
SELECT throws_ok($$ SELECT dispatch.create_zone(E'\t', ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))', 4326)) $$,
                 'DP017', NULL, 'create_zone: a name of a tab');
SELECT throws_ok(format($$ SELECT dispatch.create_merchant(%s, E'\n', 121.44, 31.19) $$, :zone), 'DP025', NULL,
                 'create_merchant: a name of a line break');
SELECT throws_ok(format($$ SELECT dispatch.add_item(%s, E'\r\n', 100) $$, :merchant), 'DP025', NULL,
                 'add_item: a name of a line break');
SELECT throws_ok(format($$ SELECT dispatch.grant_consent(%s, 'marketing', E'\t') $$, :customer), 'DP406', NULL,
                 'grant_consent: a policy version of a tab');
SELECT throws_ok(format($$ SELECT dispatch.place_errand(%s, 121.44, 31.19, 121.441, 31.191, 'Gate 2', E'\f\x0B', 900) $$, :customer),
                 'DP025', NULL, 'place_errand: a description of a form feed and a vertical tab');
SELECT lives_ok(format($$ SELECT dispatch.cancel_order(%s, 'v') $$, :placed),
                'a reason of one letter v is a reason (the blank test trims white space only)');

SELECT * FROM finish();
ROLLBACK;
