-- test/pgtap/21_value_rules.sql: the value rules of orders, payments,
-- eta_predictions and riders, one CHECK a table calling a C function
-- (src/value_checks.c): each rule refuses what it did as a column
-- constraint and lets through the same values (NULL, NaN, the edges).
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-01 12:00:00+00';
SELECT plan(42);

SELECT dispatch.register_rider(:zone, 'Rules', '+8613900000098', 5) AS rider \gset
SELECT dispatch.rider_online(:rider, 121.43, 31.19) \g /dev/null
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql
SELECT pg_temp.order_in('placed') AS o \gset
SELECT payment_id AS p FROM dispatch.payments WHERE zone_id = :zone AND order_id = :o \gset

-- the words each rule knows, and words it must not take (case, spaces,
-- another rule's words, the empty string)
CREATE TEMP TABLE words (w text);
INSERT INTO words VALUES ('takeaway'), ('errand'), ('pending_payment'), ('payment_failed'),
	('placed'), ('accepted'), ('assigned'), ('picked_up'), ('delivered'), ('cancelled'),
	('normal'), ('hot'), ('fresh'), ('pending'), ('succeeded'), ('failed'),
	('Placed'), ('placed '), (' hot'), ('HOT'), (''), ('picked up'), ('takeaway2'), (NULL),
	('foot'), ('bicycle'), ('ebike'), ('motorbike'), ('car'), ('offline'), ('online'),
	('Car'), ('e-bike'), ('scooter'), ('online ');

SELECT is_empty($$
	SELECT w FROM words
	 WHERE dispatch._order_values_ok(w, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
	       IS DISTINCT FROM coalesce(w IN ('takeaway', 'errand'), true)
	    OR dispatch._order_values_ok(NULL, w, NULL, NULL, NULL, NULL, NULL, NULL)
	       IS DISTINCT FROM coalesce(w IN ('pending_payment', 'payment_failed', 'placed', 'accepted',
	                                       'assigned', 'picked_up', 'delivered', 'cancelled'), true)
	    OR dispatch._order_values_ok(NULL, NULL, w, NULL, NULL, NULL, NULL, NULL)
	       IS DISTINCT FROM coalesce(w IN ('normal', 'hot', 'fresh'), true)
	    OR dispatch._payment_values_ok(NULL, w)
	       IS DISTINCT FROM coalesce(w IN ('pending', 'succeeded', 'failed'), true)
	    OR dispatch._eta_values_ok(w, NULL, NULL, NULL)
	       IS DISTINCT FROM coalesce(w IN ('placed', 'accepted', 'assigned', 'picked_up'), true)
	    OR dispatch._rider_values_ok(NULL, w, NULL, NULL, NULL)
	       IS DISTINCT FROM coalesce(w IN ('foot', 'bicycle', 'ebike', 'motorbike', 'car'), true)
	    OR dispatch._vehicle_ok(w) IS DISTINCT FROM coalesce(w IN ('foot', 'bicycle', 'ebike', 'motorbike', 'car'), true)
	    OR dispatch._rider_values_ok(NULL, NULL, w, NULL, NULL)
	       IS DISTINCT FROM coalesce(w IN ('offline', 'online'), true) $$,
	'each word rule takes exactly its words, and NULL');

SELECT is_empty($$
	SELECT n FROM unnest(ARRAY[-2147483648, -1, 0, 1, 2147483647, NULL]) n
	 WHERE dispatch._order_values_ok(NULL, NULL, NULL, n, NULL, NULL, NULL, NULL) IS DISTINCT FROM coalesce(n >= 0, true)
	    OR dispatch._order_values_ok(NULL, NULL, NULL, NULL, n, NULL, NULL, NULL) IS DISTINCT FROM coalesce(n >= 0, true)
	    OR dispatch._order_values_ok(NULL, NULL, NULL, NULL, NULL, n, NULL, NULL) IS DISTINCT FROM coalesce(n >= 0, true)
	    OR dispatch._order_values_ok(NULL, NULL, NULL, NULL, NULL, NULL, n, NULL) IS DISTINCT FROM coalesce(n >= 0, true)
	    OR dispatch._order_values_ok(NULL, NULL, NULL, NULL, NULL, NULL, NULL, n) IS DISTINCT FROM coalesce(n >= 1, true)
	    OR dispatch._payment_values_ok(n, NULL) IS DISTINCT FROM coalesce(n >= 0, true)
	    OR dispatch._rider_values_ok(NULL, NULL, NULL, n, NULL) IS DISTINCT FROM coalesce(n >= 0, true)
	    OR dispatch._rider_values_ok(NULL, NULL, NULL, NULL, n) IS DISTINCT FROM coalesce(n >= 0, true) $$,
	'each amount rule takes at least 0 (a status version at least 1), and NULL');
SELECT is_empty($$
	SELECT n FROM unnest(ARRAY[-2147483648, -1, 0, 1, 2, 19, 20, 21, 2147483647, NULL]) n
	 WHERE dispatch._rider_values_ok(n, NULL, NULL, NULL, NULL) IS DISTINCT FROM coalesce(n BETWEEN 1 AND 20, true) $$,
	'a rider''s capacity is 1 to 20, or NULL');

SELECT is_empty($$
	SELECT x FROM unnest(ARRAY['-Infinity', -1, '-0', 0, 1e-30, 1, 'Infinity', 'NaN', NULL]::real[]) x
	 WHERE dispatch._eta_values_ok(NULL, x, NULL, NULL) IS DISTINCT FROM coalesce(x >= 0, true)
	    OR dispatch._eta_values_ok(NULL, NULL, x, NULL) IS DISTINCT FROM coalesce(x >= 0, true)
	    OR dispatch._eta_values_ok(NULL, NULL, NULL, x) IS DISTINCT FROM coalesce(x > 0, true) $$,
	'the rules of reals compare as SQL does (NaN above every number, -0 equal to 0)');

SELECT ok(dispatch._order_values_ok('errand', 'delivered', 'fresh', 0, 0, 0, 0, 1)
          AND NOT dispatch._order_values_ok('errand', 'delivered', 'fresh', 0, 0, 0, 0, 0),
          'one broken rule among kept ones is enough to refuse');

-- the constraints refuse a row that breaks any rule (direct writes, as only
-- the extension's owner may make them), and keep what was there
SELECT throws_like(format('UPDATE dispatch.orders SET kind = %L WHERE zone_id = %s AND order_id = %s', 'parcel', :zone, :o),
                   '%orders_values_check%', 'an order of an unknown kind is refused');
SELECT throws_ok(format('UPDATE dispatch.orders SET kind = %L WHERE zone_id = %s AND order_id = %s', 'parcel', :zone, :o),
                 '23514', NULL, '... as a check violation');
SELECT throws_like(format('UPDATE dispatch.orders SET priority = %L WHERE zone_id = %s AND order_id = %s', 'urgent', :zone, :o),
                   '%orders_values_check%', 'an unknown priority is refused');
SELECT throws_like(format('UPDATE dispatch.orders SET subtotal_cents = -1 WHERE zone_id = %s AND order_id = %s', :zone, :o),
                   '%orders_values_check%', 'a negative subtotal is refused');
SELECT throws_like(format('UPDATE dispatch.orders SET fee_cents = -1 WHERE zone_id = %s AND order_id = %s', :zone, :o),
                   '%orders_values_check%', 'a negative fee is refused');
SELECT throws_like(format('UPDATE dispatch.orders SET discount_cents = -1 WHERE zone_id = %s AND order_id = %s', :zone, :o),
                   '%orders_values_check%', 'a negative discount is refused');
SELECT throws_like(format('UPDATE dispatch.orders SET total_cents = -1 WHERE zone_id = %s AND order_id = %s', :zone, :o),
                   '%orders_values_check%', 'a negative total is refused');
SELECT throws_like(format('UPDATE dispatch.orders SET status_version = 0 WHERE zone_id = %s AND order_id = %s', :zone, :o),
                   '%orders_values_check%', 'a status version below 1 is refused');
-- a status outside the list: the state machine refuses it first; with the
-- triggers off, as a replica applies rows, the constraint still holds
SELECT throws_ok(format('UPDATE dispatch.orders SET status = %L WHERE zone_id = %s AND order_id = %s', 'lost', :zone, :o),
                 'DP101', NULL, 'an unknown status is a forbidden transition to the state machine');
SET LOCAL session_replication_role = replica;
SELECT throws_like(format('UPDATE dispatch.orders SET status = %L WHERE zone_id = %s AND order_id = %s', 'lost', :zone, :o),
                   '%orders_values_check%', 'an unknown status is refused with the triggers off');
SET LOCAL session_replication_role = origin;
SELECT lives_ok(format('UPDATE dispatch.orders SET priority = %L, fee_cents = 0, discount_cents = 0 WHERE zone_id = %s AND order_id = %s',
                       'fresh', :zone, :o),
                'the edges of the rules pass (fresh, 0 cents)');
-- (values read first: on Citus a routable SELECT goes whole, pgTAP's call
-- in it too, to the worker)
SELECT kind || ' ' || priority || ' ' || fee_cents AS order_now FROM dispatch.orders WHERE zone_id = :zone AND order_id = :o \gset
SELECT is(:'order_now'::text, 'takeaway fresh 0', 'and the update at the edges is stored');

SELECT throws_like(format('UPDATE dispatch.payments SET status = %L WHERE zone_id = %s AND payment_id = %s', 'refunded', :zone, :p),
                   '%payments_values_check%', 'a payment of an unknown status is refused');
SELECT throws_ok(format('UPDATE dispatch.payments SET status = %L WHERE zone_id = %s AND payment_id = %s', 'refunded', :zone, :p),
                 '23514', NULL, '... as a check violation');
SELECT throws_like(format('UPDATE dispatch.payments SET amount_cents = -1 WHERE zone_id = %s AND payment_id = %s', :zone, :p),
                   '%payments_values_check%', 'a negative payment is refused');

-- eta_predictions: the order's prediction of its payment, written again
SELECT count(*) AS predictions FROM dispatch.eta_predictions WHERE zone_id = :zone AND order_id = :o \gset
SELECT is(:predictions::bigint, 1::bigint, 'the paid order has its prediction');
SELECT throws_like(format('UPDATE dispatch.eta_predictions SET stage = %L WHERE zone_id = %s AND order_id = %s', 'cooked', :zone, :o),
                   '%eta_predictions_values_check%', 'a prediction of an unknown stage is refused');
SELECT throws_ok(format('UPDATE dispatch.eta_predictions SET stage = %L WHERE zone_id = %s AND order_id = %s', 'cooked', :zone, :o),
                 '23514', NULL, '... as a check violation');
SELECT throws_like(format('UPDATE dispatch.eta_predictions SET approach_m = -1 WHERE zone_id = %s AND order_id = %s', :zone, :o),
                   '%eta_predictions_values_check%', 'a negative approach is refused');
SELECT throws_like(format('UPDATE dispatch.eta_predictions SET trip_m = -0.5 WHERE zone_id = %s AND order_id = %s', :zone, :o),
                   '%eta_predictions_values_check%', 'a negative trip is refused');
SELECT throws_like(format('UPDATE dispatch.eta_predictions SET speed_factor = 0 WHERE zone_id = %s AND order_id = %s', :zone, :o),
                   '%eta_predictions_values_check%', 'a speed factor of 0 is refused');
SELECT lives_ok(format('UPDATE dispatch.eta_predictions SET approach_m = NULL, trip_m = 0 WHERE zone_id = %s AND order_id = %s', :zone, :o),
                'no approach and a trip of 0 pass');

-- riders: written by the extension's calls only, which check first
SELECT throws_like(format('UPDATE dispatch.riders SET vehicle = %L WHERE rider_id = %s', 'scooter', :rider),
                   '%riders_values_check%', 'a rider of an unknown vehicle is refused');
SELECT throws_ok(format('UPDATE dispatch.riders SET vehicle = %L WHERE rider_id = %s', 'scooter', :rider),
                 '23514', NULL, '... as a check violation');
SELECT throws_like(format('UPDATE dispatch.riders SET capacity = 21 WHERE rider_id = %s', :rider),
                   '%riders_values_check%', 'a capacity above 20 is refused');
SELECT throws_like(format('UPDATE dispatch.riders SET capacity = 0 WHERE rider_id = %s', :rider),
                   '%riders_values_check%', 'a capacity of 0 is refused');
SELECT throws_like(format('UPDATE dispatch.riders SET active_orders = -1 WHERE rider_id = %s', :rider),
                   '%riders_values_check%', 'a negative count of active orders is refused');
SELECT throws_like(format('UPDATE dispatch.riders SET pending_offers = -1 WHERE rider_id = %s', :rider),
                   '%riders_values_check%', 'a negative count of pending offers is refused');
SET LOCAL session_replication_role = replica;
SELECT throws_like(format('UPDATE dispatch.riders SET status = %L WHERE rider_id = %s', 'resting', :rider),
                   '%riders_values_check%', 'an unknown rider status is refused, the triggers off too');
SET LOCAL session_replication_role = origin;
SELECT lives_ok(format('UPDATE dispatch.riders SET capacity = 20, vehicle = %L WHERE rider_id = %s', 'car', :rider),
                'the edges of the rider rules pass (capacity 20, a car)');
SELECT capacity || ' ' || vehicle || ' ' || status AS rider_now FROM dispatch.riders WHERE rider_id = :rider \gset
SELECT is(:'rider_now'::text, '20 car online', 'and the update at the edges is stored');
SELECT throws_like($$INSERT INTO dispatch.vehicle_profiles (vehicle, speed_factor, max_pickup_m, max_trip_m)
                     VALUES ('scooter', 1, 1000, 2000)$$,
                   '%vehicle_profiles_vehicle_check%', 'a vehicle profile names a vehicle a rider may have');
SELECT throws_like($$UPDATE dispatch.vehicle_profiles SET max_pickup_m = 'NaN' WHERE vehicle = 'ebike'$$,
                   '%vehicle_profiles_finite%', 'a vehicle''s limits are finite (NaN would let every pair through)');
SELECT throws_like($$UPDATE dispatch.vehicle_profiles SET speed_factor = 'Infinity' WHERE vehicle = 'ebike'$$,
                   '%vehicle_profiles_finite%', 'and so is its speed');
SELECT throws_like(format($$UPDATE dispatch.zones SET speed_mps = 'NaN' WHERE zone_id = %s$$, :zone),
                   '%zones_speed_finite%', 'a zone''s speed is finite');

-- the old column constraints are gone; these are the rules
SELECT is_empty($$
	SELECT conrelid::regclass, conname FROM pg_constraint
	 WHERE contype = 'c' AND conrelid IN ('dispatch.orders'::regclass, 'dispatch.payments'::regclass,
	                                      'dispatch.eta_predictions'::regclass, 'dispatch.riders'::regclass)
	   AND conname NOT IN ('orders_values_check', 'orders_check', 'orders_check1',
	                       'payments_values_check', 'eta_predictions_values_check', 'eta_predictions_check',
	                       'riders_values_check', 'riders_plan_check', 'riders_plan_pickup_check') $$,
	'orders, payments, eta_predictions and riders have one constraint of value rules each, beside their row rules');
SELECT ok(NOT has_function_privilege('public', 'dispatch._order_values_ok(text, text, text, integer, integer, integer, integer, integer)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'dispatch._payment_values_ok(integer, text)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'dispatch._eta_values_ok(text, real, real, real)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'dispatch._rider_values_ok(integer, text, text, integer, integer)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'dispatch._vehicle_ok(text)', 'EXECUTE'),
          'the rules are not PUBLIC''s to call');

SELECT * FROM finish();
ROLLBACK;
