-- test/pgtap/66_matching_join_search.sql: a rider whose plan names an
-- order's pickup as its next is a candidate for the order however many
-- riders stand nearer: the order joins its trip (no way to go), and the
-- batch finds such riders from the orders they hold, not by where they are
-- now (the index source; docs/matching.md, "Candidates: index or grid").
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
SELECT plan(7);

CREATE TEMP SEQUENCE phone_seq START 42000000;
SELECT dispatch.create_zone('join search', ST_MakeEnvelope(104.0, 30.0, 104.1, 30.1, 4326)) AS z \gset
SELECT dispatch.create_merchant(:z, 'shop', 104.05, 30.05, 10) AS shop \gset
SELECT dispatch.add_item(:shop, 'dish', 1500) AS dish \gset
SELECT set_config('t.shop', :'shop', true), set_config('t.dish', :'dish', true) \g /dev/null
-- two candidates an order, no widening; no fairness or fatigue terms
INSERT INTO dispatch.matching_settings (zone_id, k_candidates, widen_rounds, w_fair_orders, w_fair_earnings,
                                        w_shift_hour, load_penalty_s, stale_after_s)
VALUES (:z, 2, 0, 0, 0, 0, 300, 3600);
\ir ../fixtures/shop_order.sql

-- the rider with a trip: it holds an order of the shop and plans to pick it
-- up in 4 minutes; it is 2 km away now
SELECT dispatch.register_rider(:z, 'tripper', '+86139' || nextval('phone_seq'), 3) AS tripper \gset
SELECT dispatch.rider_online(:tripper, 104.05, 30.068) \g /dev/null
SELECT pg_temp.order_(4) AS o1 \gset
SELECT offer_id AS f1 FROM dispatch.assign_batch(:z) WHERE order_id = :o1 \gset
SELECT dispatch.respond_offer(:f1, true) \g /dev/null
SELECT dispatch.update_rider_plan(:tripper, dispatch.clock() + interval '20 minutes', 104.05, 30.068,
                                  dispatch.clock() + interval '4 minutes', 104.05, 30.05) \g /dev/null

-- then eight idle riders come online 1 km from the shop, all nearer than
-- the tripper is now (a batch's scan fetches seven riders for one order)
CREATE TEMP TABLE idle AS
SELECT g, dispatch.register_rider(:z, 'idle' || g, '+86139' || nextval('phone_seq'), 1) AS rider_id
  FROM generate_series(1, 8) g;
SELECT count(dispatch.rider_online(rider_id, 104.05, 30.05 - 0.009 - 0.0001 * g)) FROM idle \g /dev/null

-- a second order of the shop, ready in 4 minutes: joining the trip costs
-- the tripper its 240 s to the shop; an idle rider rides 250 s or more
SELECT pg_temp.order_(4) AS o2 \gset
SELECT is((SELECT rider_id FROM dispatch.assign_batch(:z) WHERE order_id = :o2), :tripper::bigint,
          'the order joins the trip of the rider whose plan names its pickup next');
SELECT ok(:tripper::bigint = ANY ((SELECT candidate_ids FROM dispatch.offer_audit WHERE order_id = :o2)::bigint[]),
          'that rider was a candidate, eight riders nearer notwithstanding');
SELECT is((SELECT cardinality(candidate_ids) FROM dispatch.offer_audit WHERE order_id = :o2), 2,
          'and the order kept two candidates, as k_candidates says');
SELECT is((SELECT candidate_ids FROM dispatch.offer_audit WHERE order_id = :o2),
          ARRAY[:tripper::bigint, (SELECT rider_id FROM idle WHERE g = 1)],
          'the other is the nearest idle rider');

-- an order taken back to plan again (replan_order) leaves the trip open:
-- the rider, carrying an order of another shop meanwhile, holds none of
-- this shop any more, and its plan still names the shop next; the next
-- batch finds it all the same
SELECT dispatch.cancel_order(:o2, 'test') \g /dev/null
SELECT dispatch.create_merchant(:z, 'on the way', 104.05, 30.068, 10) AS shop2 \gset
SELECT dispatch.add_item(:shop2, 'dish', 1500) AS dish2 \gset
SELECT set_config('t.shop', :'shop2', true), set_config('t.dish', :'dish2', true) \g /dev/null
SELECT pg_temp.order_(0) AS carried \gset
SELECT set_config('t.shop', :'shop', true), set_config('t.dish', :'dish', true) \g /dev/null
SELECT dispatch.assign_manually(:carried, :tripper, 'ops') \g /dev/null
SELECT dispatch.mark_picked_up(:carried, :tripper) \g /dev/null
SELECT dispatch.replan_order(:o1, :tripper) \g /dev/null
SELECT is((SELECT (active_orders, plan_pickup_at)::text FROM dispatch.riders WHERE rider_id = :tripper),
          (1, '2026-03-02 12:04:00+00'::timestamptz)::text,
          'the rider holds the carried order only, its plan still names the shop next');
SELECT is((SELECT rider_id FROM dispatch.assign_batch(:z) WHERE order_id = :o1), :tripper::bigint,
          'the order taken back joins the trip again');
SELECT ok(:tripper::bigint = ANY ((SELECT candidate_ids FROM dispatch.offer_audit WHERE order_id = :o1
                                    ORDER BY offer_id DESC LIMIT 1)::bigint[]),
          '... its rider a candidate, eight riders nearer notwithstanding');

SELECT * FROM finish();
ROLLBACK;
