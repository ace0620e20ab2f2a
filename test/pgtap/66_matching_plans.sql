-- test/pgtap/66_matching_plans.sql: what riders tell matching about the
-- future.  A busy rider's plan (update_rider_plan: when and where it will be
-- done with the orders it holds) makes it a candidate for its next order,
-- costed from there and then; the end of a shift (rider_online's until)
-- rules out orders the rider could only pick up later; max_rider_wait_s
-- keeps a rider from being sent long before the food is ready.
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
SELECT plan(50);

CREATE TEMP SEQUENCE phone_seq START 41000000;
SELECT dispatch.create_zone('plans', ST_MakeEnvelope(103.0, 30.0, 103.1, 30.1, 4326)) AS z \gset
SELECT dispatch.create_merchant(:z, 'shop', 103.05, 30.05, 10) AS shop \gset
SELECT dispatch.add_item(:shop, 'dish', 1500) AS dish \gset
SELECT set_config('t.shop', :'shop', true), set_config('t.dish', :'dish', true),
       set_config('t.z', :'z', true) \g /dev/null
-- no fairness or fatigue terms: costs are travel and waiting only
INSERT INTO dispatch.matching_settings (zone_id, w_fair_orders, w_fair_earnings, w_shift_hour, load_penalty_s, stale_after_s)
VALUES (:z, 0, 0, 0, 300, 3600);

-- an accepted order of the shop, ready p_ready_min minutes from now
\ir ../fixtures/shop_order.sql
CREATE FUNCTION pg_temp.rider_(p_lon float8, p_lat float8, p_cap int DEFAULT 2,
                               p_until timestamptz DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE r bigint;
BEGIN
	r := dispatch.register_rider(current_setting('t.z')::bigint, 'r', '+86139' || nextval('phone_seq'), p_cap);
	PERFORM dispatch.rider_online(r, p_lon, p_lat, p_until);
	RETURN r;
END $$;

-- ---------------------------------------------------------------------------
-- a plan: refused when invalid, ignored for a rider holding nothing
-- ---------------------------------------------------------------------------

SELECT pg_temp.rider_(103.05, 30.049) AS busy \gset
SELECT throws_ok(format('SELECT dispatch.update_rider_plan(%s, NULL, 103.05, 30.06)', :busy),
                 'DP025', NULL, 'a plan without a time is refused (DP025)');
SELECT throws_ok(format($$SELECT dispatch.update_rider_plan(%s, 'infinity', 103.05, 30.06)$$, :busy),
                 'DP025', NULL, 'a plan at an infinite time is refused (DP025)');
SELECT throws_ok($$SELECT dispatch.update_rider_plan(999999999, dispatch.clock(), 103.05, 30.06)$$,
                 'DP015', NULL, 'a plan of a rider who does not exist is refused (DP015)');
SELECT throws_ok(format('SELECT dispatch.update_rider_plan(%s, dispatch.clock(), 200, 30.06)', :busy),
                 'DP001', NULL, 'a plan at an impossible point is refused (DP001)');
SELECT is(dispatch.update_rider_plan(:busy, dispatch.clock() + interval '10 minutes', 103.05, 30.06), false,
          'a rider holding no orders has nothing to plan: false');
SELECT is((SELECT free_at FROM dispatch.riders WHERE rider_id = :busy), NULL,
          '... and nothing is recorded');

-- the rider takes an order
SELECT pg_temp.order_(0) AS o1 \gset
SELECT offer_id AS f1 FROM dispatch.assign_batch(:z) WHERE order_id = :o1 AND rider_id = :busy \gset
SELECT ok(:'f1' IS NOT NULL AND :'f1' <> '', 'the only rider is offered the first order');
SELECT dispatch.respond_offer(:f1, true) \g /dev/null

-- a second order; without a plan the busy rider is costed from its position, now
SELECT pg_temp.order_(0) AS o2 \gset
SELECT is(round((SELECT travel_s FROM dispatch.nearest_riders(:o2) WHERE rider_id = :busy)::numeric, 0),
          round((SELECT distance_m / z.speed_mps FROM dispatch.nearest_riders(:o2) n, dispatch.zones z
                  WHERE n.rider_id = :busy AND z.zone_id = :z)::numeric, 0),
          'without a plan: travel from the position, at once (at the zone speed)');
SELECT is((SELECT load_penalty FROM dispatch.nearest_riders(:o2) WHERE rider_id = :busy), 300::float8,
          'without a plan: the load penalty counts the order it holds');

-- the plan: done in 10 minutes, 0.01 degrees north of the shop
SELECT is(dispatch.update_rider_plan(:busy, dispatch.clock() + interval '10 minutes', 103.05, 30.06), true,
          'a rider holding an order records its plan: true');
SELECT is((SELECT (free_at, ST_AsText(free_position))::text FROM dispatch.riders WHERE rider_id = :busy),
          ('2026-03-02 12:10:00+00'::timestamptz, 'POINT(103.05 30.06)')::text,
          '... when and where it will be done');
-- the same plan from an app that names the rider's zone; another zone is
-- refused
SELECT is(dispatch.update_rider_plan_in_zone(:z, :busy, dispatch.clock() + interval '10 minutes', 103.05, 30.06), true,
          'the plan naming the rider''s zone is recorded: true');
SELECT throws_ok(format($$SELECT dispatch.update_rider_plan_in_zone(%s, %s, dispatch.clock() + interval '20 minutes', 103.05, 30.07)$$,
                        :z + 1000, :busy),
                 'DP015', format('rider %s does not exist in zone %s', :busy, :z + 1000),
                 'a plan naming another zone is refused (DP015)');
SELECT cmp_ok((SELECT distance_m FROM dispatch.nearest_riders(:o2) WHERE rider_id = :busy), '>', 1000::float8,
              'with a plan: the distance is measured from where the rider will be done');
SELECT is(round((SELECT travel_s FROM dispatch.nearest_riders(:o2) WHERE rider_id = :busy)::numeric, 0),
          round((SELECT 600 + distance_m / z.speed_mps FROM dispatch.nearest_riders(:o2) n, dispatch.zones z
                  WHERE n.rider_id = :busy AND z.zone_id = :z)::numeric, 0),
          'with a plan: travel starts when the rider is done (600 s) and runs from there');
SELECT is((SELECT (load_penalty, round(cost - travel_s - food_wait_s - fatigue))::text
             FROM dispatch.nearest_riders(:o2) WHERE rider_id = :busy), '(0,300)',
          'with a plan: a trip queued after it pays the load term of the order held in its own cost, not in the slot''s');
SELECT is((dispatch.export_rider(:busy) -> 'profile' -> 'plan' ->> 'free_at')::timestamptz,
          '2026-03-02 12:10:00+00'::timestamptz, 'export_rider shows the rider its plan');

-- the plan's next pickup: the shop, in 4 minutes (a trip not yet started)
SELECT throws_ok(format($$SELECT dispatch.update_rider_plan(%s, dispatch.clock() + interval '10 minutes', 103.05, 30.06,
                                                            dispatch.clock(), 103.05, NULL)$$, :busy),
                 'DP025', NULL, 'a next pickup without both coordinates is refused (DP025)');
SELECT throws_ok(format($$SELECT dispatch.update_rider_plan(%s, dispatch.clock() + interval '10 minutes', 103.05, 30.06,
                                                            dispatch.clock() + interval '11 minutes', 103.05, 30.05)$$, :busy),
                 'DP025', NULL, 'a next pickup after the plan is done is refused (DP025)');
SELECT is(dispatch.update_rider_plan(:busy, dispatch.clock() + interval '10 minutes', 103.05, 30.06,
                                     dispatch.clock() + interval '4 minutes', 103.05, 30.05), true,
          'a plan with its next pickup is recorded');
SELECT is((SELECT (round(distance_m), round(travel_s), round(food_wait_s), load_penalty, round(cost - fatigue))::text
             FROM dispatch.nearest_riders(:o2) WHERE rider_id = :busy), '(0,240,240,0,480)',
          'an order of that pickup joins the trip: costed from the pickup at 240 s, no load term');
-- the plan ends 1.1 km from the shop: with a search radius of 800 m the
-- order joins all the same (the radius and the vehicle's pickup limit
-- measure the way to the pickup, where the rider is going anyway)
SELECT radius_m AS radius_before FROM dispatch.matching_settings WHERE zone_id = :z \gset
UPDATE dispatch.matching_settings SET radius_m = 800 WHERE zone_id = :z;
SELECT is((SELECT round(distance_m)::int FROM dispatch.nearest_riders(:o2) WHERE rider_id = :busy), 0,
          '... also where its current trip ends beyond the search radius');
UPDATE dispatch.matching_settings SET radius_m = :radius_before WHERE zone_id = :z;
SELECT dispatch.create_merchant(:z, 'next door', 103.051, 30.05, 10) AS shop2 \gset
SELECT dispatch.add_item(:shop2, 'dish', 1500) AS dish2 \gset
SELECT dispatch.place_order(dispatch.register_customer('+86139' || nextval('phone_seq'), NULL), :shop2,
                            jsonb_build_array(jsonb_build_object('item_id', :dish2, 'qty', 1)),
                            103.05, 30.06, 'addr', 'normal') AS o_next_door \gset
SELECT dispatch.confirm_payment(:o_next_door, 'ref-nd') \g /dev/null
SELECT dispatch.merchant_accept(:o_next_door) \g /dev/null
SELECT cmp_ok((SELECT travel_s FROM dispatch.nearest_riders(:o_next_door) WHERE rider_id = :busy), '>', 600::float8,
              'an order of a shop 100 m away does not join: it queues after the plan');
SELECT dispatch.cancel_order(:o_next_door, 'test') \g /dev/null
SELECT is((dispatch.export_rider(:busy) -> 'profile' -> 'plan' ->> 'pickup_at')::timestamptz,
          '2026-03-02 12:04:00+00'::timestamptz, 'export_rider shows the plan''s next pickup');
-- the plan again without a next pickup
SELECT dispatch.update_rider_plan(:busy, dispatch.clock() + interval '10 minutes', 103.05, 30.06) \g /dev/null
SELECT is((SELECT plan_pickup_at FROM dispatch.riders WHERE rider_id = :busy), NULL,
          'a plan without a next pickup replaces one with');

-- a plan whose time has passed is not trusted
SET LOCAL dispatch.clock_override = '2026-03-02 12:11:00+00';
SELECT is((SELECT (load_penalty, round(distance_m))::text FROM dispatch.nearest_riders(:o2) WHERE rider_id = :busy),
          '(300,111)', 'a plan past its time: costed from the position, with the load penalty');
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';

-- a free rider nearer the shop than the plan's end, but farther than the
-- busy rider will be in 1 minute: the batch weighs the two
SELECT pg_temp.rider_(103.05, 30.035, 2) AS free \gset
SELECT is((SELECT rider_id FROM dispatch.assign_batch(:z) WHERE order_id = :o2), :free::bigint,
          'a free rider 1.7 km away beats a rider busy for 10 more minutes');
-- the plan moves: done in a minute, at the shop
SELECT dispatch.update_rider_plan(:busy, dispatch.clock() + interval '1 minute', 103.05, 30.05) \g /dev/null
SELECT pg_temp.order_(5) AS o3 \gset
SELECT is((SELECT rider_id FROM dispatch.assign_batch(:z) WHERE order_id = :o3), :busy::bigint,
          'a rider done in a minute at the shop beats a free rider 1.7 km away');

-- the plan lasts while the rider holds orders, and goes with the last
SELECT f.offer_id AS f3 FROM dispatch.offers f WHERE f.order_id = :o3 AND f.status = 'pending' \gset
SELECT dispatch.respond_offer(:f3, true) \g /dev/null
SELECT dispatch.mark_picked_up(:o1, :busy) \g /dev/null
SELECT dispatch.mark_delivered(:o1, :busy) \g /dev/null
SELECT isnt((SELECT free_at FROM dispatch.riders WHERE rider_id = :busy), NULL,
            'delivering one order of two keeps the plan');
SELECT dispatch.mark_picked_up(:o3, :busy) \g /dev/null
-- the last order, delivered before the plan's end (12:01): the end stays,
-- the rider is still at the door until then
SELECT dispatch.mark_delivered(:o3, :busy) \g /dev/null
SELECT is((SELECT (active_orders, free_at, ST_AsText(free_position), plan_pickup_at)::text
             FROM dispatch.riders WHERE rider_id = :busy),
          (0, '2026-03-02 12:01:00+00'::timestamptz, 'POINT(103.05 30.05)', NULL::timestamptz)::text,
          'a last order delivered before the plan''s end leaves its end (when and where), nothing else');
SELECT pg_temp.order_(0) AS o6 \gset
SELECT is((SELECT (round(travel_s), load_penalty)::text FROM dispatch.nearest_riders(:o6) WHERE rider_id = :busy),
          '(60,0)', '... so its next order starts there, then, with no load term (it holds none)');
SET LOCAL dispatch.clock_override = '2026-03-02 12:02:00+00';
SELECT is((SELECT (round(travel_s), load_penalty)::text FROM dispatch.nearest_riders(:o6) WHERE rider_id = :busy),
          (round((SELECT distance_m / z.speed_mps FROM dispatch.nearest_riders(:o6) n, dispatch.zones z
                   WHERE n.rider_id = :busy AND z.zone_id = :z)), 0)::text,
          '... and once that end has passed, from its position, at once');
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
-- a rider that goes offline before that end and comes back online leaves
-- it behind: it is costed from where it is, now
SELECT dispatch.rider_offline(:busy) \g /dev/null
SELECT is((SELECT (free_at, free_position)::text FROM dispatch.riders WHERE rider_id = :busy), '(,)',
          'going offline clears what is left of the plan');
SELECT dispatch.rider_online(:busy, 103.05, 30.049) \g /dev/null
SELECT is((SELECT (round(travel_s), load_penalty)::text FROM dispatch.nearest_riders(:o6) WHERE rider_id = :busy),
          (round((SELECT distance_m / z.speed_mps FROM dispatch.nearest_riders(:o6) n, dispatch.zones z
                   WHERE n.rider_id = :busy AND z.zone_id = :z)), 0)::text,
          '... so back online it is costed from its position, at once');
-- a last order that goes otherwise (released, cancelled) takes the plan along
SELECT offer_id AS f6 FROM dispatch.assign_batch(:z) WHERE order_id = :o6 AND rider_id = :busy \gset
SELECT dispatch.respond_offer(:f6, true) \g /dev/null
SELECT dispatch.update_rider_plan(:busy, dispatch.clock() + interval '5 minutes', 103.05, 30.06) \g /dev/null
SELECT dispatch.release_order(:o6, :busy, 'flat tyre') \g /dev/null
SELECT is((SELECT (free_at, free_position)::text FROM dispatch.riders WHERE rider_id = :busy), '(,)',
          'releasing the last order clears the plan, its end too');
-- the end kept after a last delivery is no plan of the next order taken
SELECT pg_temp.order_(0) AS o7 \gset
SELECT dispatch.assign_manually(:o7, :busy, 'ops') \g /dev/null
SELECT dispatch.update_rider_plan(:busy, dispatch.clock() + interval '5 minutes', 103.05, 30.06) \g /dev/null
SELECT dispatch.mark_picked_up(:o7, :busy) \g /dev/null
SELECT dispatch.mark_delivered(:o7, :busy) \g /dev/null
SELECT pg_temp.order_(0) AS o8 \gset
SELECT dispatch.assign_manually(:o8, :busy, 'ops') \g /dev/null
SELECT is((SELECT (active_orders, free_at, free_position)::text FROM dispatch.riders WHERE rider_id = :busy), '(1,,)',
          'a rider taking an order after its last delivery leaves that plan''s end behind');
SELECT dispatch.release_order(:o8, :busy, 'test') \g /dev/null

-- ---------------------------------------------------------------------------
-- the end of a shift
-- ---------------------------------------------------------------------------

SELECT throws_ok(format($$SELECT dispatch.rider_online(%s, 103.05, 30.05, dispatch.clock() - interval '1 minute')$$,
                        pg_temp.rider_(103.0, 30.0, 1)),
                 'DP025', NULL, 'a shift that ends in the past is refused (DP025)');
SELECT throws_ok($$SELECT dispatch.rider_online(1, 103.05, 30.05, 'infinity')$$,
                 'DP025', NULL, 'a shift that never ends is refused (DP025)');
SELECT pg_temp.rider_(103.05, 30.049, 1, dispatch.clock() + interval '20 minutes') AS ending \gset
SELECT is((SELECT shift_ends_at FROM dispatch.riders WHERE rider_id = :ending), '2026-03-02 12:20:00+00'::timestamptz,
          'rider_online records the end of the shift');
SELECT pg_temp.order_(30) AS o4 \gset
SELECT pg_temp.order_(10) AS o5 \gset
SELECT is((SELECT count(*) FROM dispatch.nearest_riders(:o4) WHERE rider_id = :ending), 0::bigint,
          'a rider is no candidate for food ready after its shift ends');
SELECT is((SELECT count(*) FROM dispatch.nearest_riders(:o5) WHERE rider_id = :ending), 1::bigint,
          '... and is one for food ready before');
SELECT dispatch.rider_online(:ending, 103.0, 30.0, dispatch.clock() + interval '45 minutes') \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.nearest_riders(:o4) WHERE rider_id = :ending), 1::bigint,
          'a repeat of rider_online moves the end of the shift');
SELECT is((SELECT ST_AsText(position) FROM dispatch.riders WHERE rider_id = :ending), 'POINT(103.05 30.049)',
          '... and leaves the position alone');
SELECT dispatch.rider_offline(:ending) \g /dev/null
SELECT is((SELECT shift_ends_at FROM dispatch.riders WHERE rider_id = :ending), NULL,
          'going offline forgets the end of the shift');
SELECT dispatch.rider_online(:ending, 103.05, 30.049) \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.nearest_riders(:o4) WHERE rider_id = :ending), 1::bigint,
          'a shift with no end said takes any order');

-- ---------------------------------------------------------------------------
-- max_rider_wait_s
-- ---------------------------------------------------------------------------

SELECT is((SELECT count(*) FROM dispatch.nearest_riders(:o4) WHERE rider_wait_s > 600), 3::bigint,
          'without a limit, riders who would wait over 10 minutes for the food are candidates');
UPDATE dispatch.matching_settings SET max_rider_wait_s = 600 WHERE zone_id = :z;
SELECT is((SELECT count(*) FROM dispatch.nearest_riders(:o4) WHERE rider_wait_s > 600), 0::bigint,
          'with max_rider_wait_s 600, none who would wait longer');
SELECT is((SELECT count(*) FROM dispatch.assign_batch(:z) WHERE order_id = :o4), 0::bigint,
          '... and the batch leaves the order for later');
SELECT cmp_ok((SELECT count(*) FROM dispatch.nearest_riders(:o5)), '>', 0::bigint,
              '... while food ready sooner still finds riders');
SELECT throws_ok(format('UPDATE dispatch.matching_settings SET max_rider_wait_s = -1 WHERE zone_id = %s', :z),
                 '23514', NULL, 'a negative max_rider_wait_s is refused');

SELECT * FROM finish();
ROLLBACK;
