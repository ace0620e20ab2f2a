-- test/pgtap/52_campaigns.sql: campaigns, coupons, points and referrals
-- (sql/52_campaigns.sql): every rule of every kind, every refusal with its
-- SQLSTATE, and what a cancellation gives back.  A refusal raises, so
-- PostgreSQL rolls back whatever the call wrote before it; there is no
-- "nothing written" to check after one.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(111);
SET LOCAL dispatch.clock_override = '2026-06-01 11:00:00+00';
SET LOCAL dispatch.fraud_max_bad_orders = 1000;

-- an order of n noodles (2800 each) and n rice (1500 each, stock 10)
CREATE FUNCTION pg_temp.buy(p_customer bigint, p_code text DEFAULT NULL, p_points integer DEFAULT 0,
                            p_noodles integer DEFAULT 2, p_merchant bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	m bigint := coalesce(p_merchant, current_setting('t.merchant')::bigint);
	i bigint := CASE WHEN p_merchant IS NULL THEN current_setting('t.noodles')::bigint
	                 ELSE (SELECT item_id FROM dispatch.items WHERE merchant_id = p_merchant LIMIT 1) END;
BEGIN
	RETURN dispatch.place_order(p_customer, m, jsonb_build_array(jsonb_build_object('item_id', i, 'qty', p_noodles)),
	                            121.445, 31.196, 'somewhere', 'normal', p_code, p_points);
END $$;
CREATE FUNCTION pg_temp.deliver(o bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE r bigint := current_setting('t.rider')::bigint;
BEGIN
	PERFORM dispatch.confirm_payment(o, 'ref-' || o);
	PERFORM dispatch.merchant_accept(o);
	PERFORM dispatch.assign_manually(o, r, 'test');
	PERFORM dispatch.mark_picked_up(o, r);
	PERFORM dispatch.mark_delivered(o, r);
	RETURN o;
END $$;
CREATE FUNCTION pg_temp.refused(p_sql text, p_code text, p_what text) RETURNS SETOF text LANGUAGE sql AS
	$$ SELECT throws_ok(p_sql, p_code, NULL, p_what) $$;
SELECT set_config('t.merchant', :'merchant', true), set_config('t.noodles', :'noodles', true),
       set_config('t.rider', :'rider', true) \g /dev/null
SELECT dispatch.register_customer('+8613800000101', 'C3') AS c3 \gset
SELECT dispatch.register_customer('+8613800000102', 'C4') AS c4 \gset
SELECT dispatch.register_customer('+8613800000103', 'C5') AS c5 \gset
SELECT dispatch.register_customer('+8613800000104', 'C6') AS c6 \gset
SELECT dispatch.register_customer('+8613800000105', 'C7') AS c7 \gset

------------------------------------------------------------------------------
-- create_campaign refuses what it cannot run
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('x', 'flash', '{}') $$, 'DP601', 'unknown kind');
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('x', 'first_order', '{"percent_off": 10, "percnt": 1}') $$, 'DP601', 'unknown rule');
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('x', 'first_order', '{"percent_off": 10, "amount_off_cents": 100}') $$, 'DP601', 'two discounts');
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('x', 'first_order', '{"percent_off": 150}') $$, 'DP601', 'percent above 100');
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('x', 'limited_time', '{"amount_off_cents": 500}') $$, 'DP601', 'limited time without an end');
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('x', 'points', '{"earn_per_yuan": 1, "tiers": [{"name": "gold"}]}') $$, 'DP601', 'a tier without min_points');
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('x', 'points', '{"earn_per_yuan": 1}', code => 'PTS') $$, 'DP601', 'a public code on a points campaign');
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('x', 'first_order', '{"percent_off": 10}', -1) $$, 'DP601', 'negative budget');
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('Forever points', 'points', '{"earn_per_yuan": 1, "expire_days": 999999999}') $$, 'DP601', 'points that expire beyond the range of a time');
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('Forever coupons', 'goodwill', '{"amount_off_cents": 100, "valid_days": 36501}') $$, 'DP601', 'coupons valid for more than 100 years');
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('Forever usual', 'usual', '{"amount_off_cents": 100, "window_days": 36501}') $$, 'DP601', 'a window of more than 100 years');
SELECT is(dispatch._campaign_rules_problem('points', '{"earn_per_yuan": 1, "expire_days": 36500}'), NULL, '100 years is the longest span of days');
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('x', 'first_order', '{"percent_off": 10}', zone_id => 999) $$, 'DP016', 'unknown zone');
-- referrals are matched city-wide (apply_referral): one of a zone would never run
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('Zone referral', 'referral', '{"referrer_points": 100}', zone_id => (SELECT min(zone_id) FROM dispatch.zones)) $$, 'DP601', 'a referral campaign of one zone');

------------------------------------------------------------------------------
-- first order: 20 % off, at most 10 yuan, a budget of 15 yuan
SELECT dispatch.create_campaign('Welcome', 'first_order', '{"percent_off": 20, "max_discount_cents": 1000}', 1500,
                                code => 'WELCOME') AS welcome \gset
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('Welcome', 'first_order', '{"percent_off": 5}') $$, 'DP601', 'a second campaign of the same name');
SELECT pg_temp.refused($$ SELECT dispatch.create_campaign('Again', 'first_order', '{"percent_off": 5}', code => 'welcome') $$, 'DP601', 'a code taken already');

SELECT pg_temp.buy(:customer, ' welcome ') AS o1 \gset
SELECT results_eq(format('SELECT subtotal_cents, discount_cents, total_cents, coupon_code FROM dispatch.orders WHERE order_id = %s', :o1),
                  $$ VALUES (5600, 1000, 4900, 'WELCOME') $$, 'the code is matched without case; 20 % of 56 yuan capped at 10 yuan (and 3 yuan delivery fee)');
SELECT is((SELECT amount_cents FROM dispatch.payments WHERE order_id = :o1), 4900, 'the payment asks for the discounted total');
SELECT is(dispatch.campaign_budget_left(:welcome), 500::bigint, 'the budget is charged');
SELECT results_eq(format('SELECT campaign_id, discount_cents, status FROM dispatch.redemptions WHERE order_id = %s', :o1),
                  format('VALUES (%s::bigint, 1000, %L)', :welcome, 'applied'), 'the redemption is recorded');
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :customer, 'WELCOME'), 'DP605', 'a first-order code twice for one customer');
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :customer2, 'WELCOME'), 'DP606', 'the budget does not cover a second discount');
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :customer2, 'NOSUCHCODE'), 'DP603', 'an unknown code');

-- a cancelled order gives the budget back, and the customer is new again
SELECT dispatch.cancel_order(:o1, 'changed mind') \g /dev/null
SELECT is(dispatch.campaign_budget_left(:welcome), 1500::bigint, 'cancelling returns the budget');
SELECT is((SELECT status FROM dispatch.redemptions WHERE order_id = :o1), 'returned', 'the redemption is marked returned');
SELECT lives_ok(format('SELECT pg_temp.buy(%s, %L)', :customer2, 'WELCOME'), 'the returned budget serves another customer');

-- someone who has ordered is not new
SELECT pg_temp.deliver(pg_temp.buy(:c3)) \g /dev/null
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :c3, 'WELCOME'), 'DP605', 'not a first order');

------------------------------------------------------------------------------
-- limited time: 5 yuan off from 30 yuan, twice per customer, in this zone, for an hour
SELECT dispatch.create_campaign('Lunch', 'limited_time', '{"amount_off_cents": 500, "min_basket_cents": 3000, "per_customer": 2}',
                                NULL, NULL, '2026-06-01 12:00:00+00', :zone, 'LUNCH') AS lunch \gset
SELECT dispatch.create_campaign('Far away', 'limited_time', '{"amount_off_cents": 500}',
                                NULL, NULL, '2026-06-01 12:00:00+00', :other_zone, 'FAR') \g /dev/null
SELECT dispatch.create_campaign('Tomorrow', 'limited_time', '{"amount_off_cents": 500}',
                                NULL, '2026-06-02 00:00:00+00', '2026-06-03 00:00:00+00', NULL, 'TOMORROW') \g /dev/null
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L, 0, 1)', :c4, 'LUNCH'), 'DP605', 'a basket below the minimum');
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :c4, 'FAR'), 'DP605', 'a campaign of another zone');
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :c4, 'TOMORROW'), 'DP604', 'a campaign not started yet');
SELECT pg_temp.buy(:c4, 'LUNCH') AS l1 \gset
SELECT is((SELECT total_cents FROM dispatch.orders WHERE order_id = :l1), 5400, 'an amount off');
SELECT lives_ok(format('SELECT pg_temp.buy(%s, %L)', :c4, 'lunch'), 'a second use');
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :c4, 'LUNCH'), 'DP605', 'a third use over the cap of two');
SET LOCAL dispatch.clock_override = '2026-06-01 12:00:00+00';
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :c5, 'LUNCH'), 'DP604', 'the campaign has ended');
SET LOCAL dispatch.clock_override = '2026-06-01 11:30:00+00';
SELECT dispatch.end_campaign(:lunch) \g /dev/null
SELECT dispatch.end_campaign(:lunch) \g /dev/null
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :c5, 'LUNCH'), 'DP604', 'an ended campaign');
SELECT pg_temp.refused('SELECT dispatch.end_campaign(999999)', 'DP602', 'ending an unknown campaign');
SELECT pg_temp.refused('SELECT dispatch.end_campaign(NULL)', 'DP602', 'ending no campaign (NULL) is refused, not a silent no-op');

------------------------------------------------------------------------------
-- personal one-use coupons (goodwill, usual): for one customer, maybe one merchant
SELECT dispatch.create_campaign('Sorry', 'goodwill', '{"amount_off_cents": 800}') AS sorry \gset
SELECT dispatch._issue_coupon(:sorry, :c5) AS gw \gset
SELECT dispatch._issue_coupon(:sorry, :c5, :other_merchant) AS gw_other \gset
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :c6, :'gw'), 'DP603', 'another customer''s personal code is unknown to them');
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :c5, :'gw_other'), 'DP605', 'a code for another merchant');
SELECT pg_temp.buy(:c5, :'gw') AS g1 \gset
SELECT is((SELECT discount_cents FROM dispatch.orders WHERE order_id = :g1), 800, 'the goodwill coupon applies');
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :c5, :'gw'), 'DP607', 'a one-use coupon used twice');
SELECT dispatch.cancel_order(:g1, 'test') \g /dev/null
SELECT is((SELECT string_agg(zone_id || ':' || cap || ':' || used, ' ' ORDER BY zone_id) FROM dispatch.coupon_uses WHERE code = :'gw'), '0:0:0 ' || :zone || ':1:0',
          'cancelling gives the coupon back, in the order''s zone, where its use moved from zone 0 (the code was issued for no zone)');
SELECT lives_ok(format('SELECT pg_temp.buy(%s, %L)', :c5, :'gw'), 'and it can be used again');
SET LOCAL dispatch.clock_override = '2026-07-15 11:30:00+00';
SELECT dispatch._issue_coupon(:sorry, :c6, NULL, '2026-07-15 12:00:00+00') AS gw6 \gset
SET LOCAL dispatch.clock_override = '2026-07-15 12:30:00+00';
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, %L)', :c6, :'gw6'), 'DP604', 'a coupon past its date');
SELECT pg_temp.refused(format('SELECT dispatch._issue_coupon(%s, %s)', :lunch, :c6), 'DP604', 'no coupons from an ended campaign');
SELECT pg_temp.refused(format('SELECT dispatch._issue_coupon(%s, %s)', 999999, :c6), 'DP602', 'no coupons from an unknown campaign');

------------------------------------------------------------------------------
-- points
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, NULL, 10)', :c6), 'DP608', 'no points campaign running');
SELECT dispatch.create_campaign('Points', 'points',
       '{"earn_per_yuan": 1, "cents_per_point": 2, "max_spend_share": 0.5, "expire_days": 30, "feedback_points": 5,
         "tiers": [{"name": "silver", "min_points": 100, "multiplier": 2}, {"name": "gold", "min_points": 1000, "multiplier": 3}]}') AS pts \gset
SELECT is(dispatch._points_grant(:zone, :c6, 200, 'goodwill', 'ticket:1'), true, 'points credited');
SELECT is(dispatch._points_grant(:zone, :c6, 200, 'goodwill', 'ticket:1'), false, 'the same credit twice writes nothing');
SELECT is(dispatch._points_grant(:zone, :c6, 50, 'goodwill', 'ticket:2', NULL, '2026-07-16 00:00:00+00'), true, 'a lot that expires tomorrow');
SELECT is(dispatch.points_balance(:c6), 250, 'the balance counts both lots');
SELECT is(dispatch.customer_tier(:c6), 'silver', 'tier from points earned over the year');
SELECT is(dispatch.customer_tier(:c7), 'member', 'below every tier');
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, NULL, -1)', :c6), 'DP608', 'negative points');
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, NULL, 251)', :c6), 'DP608', 'more points than the customer has');
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, NULL, 20, 1)', :c7), 'DP608', 'points of a customer without any');
SELECT pg_temp.refused(format('SELECT pg_temp.buy(%s, NULL, 701, 1)', :c6), 'DP608', 'points worth more than half the order');
SELECT pg_temp.buy(:c6, NULL, 100) AS p1 \gset
SELECT results_eq(format('SELECT discount_cents, total_cents FROM dispatch.orders WHERE order_id = %s', :p1),
                  $$ VALUES (200, 5700) $$, '100 points at 2 cents off the total');
SELECT is(dispatch.points_balance(:c6), 150, 'the lot expiring first is spent first');
SELECT is((SELECT remaining FROM dispatch.points_ledger WHERE customer_id = :c6 AND ref = 'ticket:2'), 0, 'the expiring lot is used up');
SELECT dispatch.cancel_order(:p1, 'test') \g /dev/null
SELECT is(dispatch.points_balance(:c6), 250, 'cancelling returns the points to their lots');
SET LOCAL dispatch.clock_override = '2026-07-16 12:30:00+00';
SELECT is(dispatch.points_balance(:c6), 200, 'an expired lot no longer counts');

-- delivery earns points at the rate, times the tier; once
SELECT pg_temp.deliver(pg_temp.buy(:c6)) AS d6 \gset
SELECT is(dispatch._reward_delivery(:zone, :d6), 1, 'a delivered order earns points');
SELECT is((SELECT points FROM dispatch.points_ledger WHERE customer_id = :c6 AND reason = 'delivery'), 118,
          '59 yuan paid (56 and the fee), 1 point a yuan, twice for silver');
SELECT is(dispatch._reward_delivery(:zone, :d6), 0, 'and only once');
SELECT is(dispatch._reward_delivery(:zone, pg_temp.buy(:c6)), 0, 'an order not delivered earns nothing');
SELECT is(dispatch._feedback_points(:c6, :zone, 'feedback:1'), 5, 'a review earns the campaign''s feedback points');
SELECT is(dispatch._feedback_points(:c6, :zone, 'feedback:1'), 0, 'once per review');
-- a zone's own points campaign comes before the city-wide one, for the
-- expiry of what it credits too (this one runs for a minute)
SELECT dispatch.create_campaign('Points far', 'points', '{"earn_per_yuan": 1, "expire_days": 7, "feedback_points": 3}',
                                NULL, NULL, '2026-07-16 12:31:00+00', :other_zone) \g /dev/null
SELECT is(dispatch._feedback_points(:c6, :other_zone, 'feedback:2'), 3, 'a review in a zone with a points campaign of its own earns its feedback points');
SELECT is((SELECT expires_at FROM dispatch.points_ledger WHERE customer_id = :c6 AND ref = 'feedback:2'),
          '2026-07-23 12:30:00+00'::timestamptz, 'which expire after its expire_days, not the city-wide campaign''s');

------------------------------------------------------------------------------
-- automatic offers: the best that applies and fits its budget
SELECT dispatch.create_campaign('Auto small', 'limited_time', '{"percent_off": 5, "auto": true}', NULL, NULL, '2026-08-01 00:00:00+00') \g /dev/null
SELECT dispatch.create_campaign('Auto big', 'limited_time', '{"amount_off_cents": 1200, "auto": true}', 1500, NULL, '2026-08-01 00:00:00+00') AS big \gset
SELECT pg_temp.buy(:c7) AS a1 \gset
SELECT is((SELECT discount_cents FROM dispatch.orders WHERE order_id = :a1), 1200, 'without a code, the biggest automatic offer');
SELECT pg_temp.buy(:c7) AS a2 \gset
SELECT is((SELECT discount_cents FROM dispatch.orders WHERE order_id = :a2), 280, 'when its budget is spent, the next one');

------------------------------------------------------------------------------
-- referrals
SELECT dispatch.create_campaign('Refer', 'referral', '{"referrer_points": 50, "referee_points": 30}', 80) AS refer \gset
SELECT dispatch.referral_code(:c3) AS code3 \gset
SELECT is(dispatch.referral_code(:c3), :'code3', 'a customer keeps their referral code');
SELECT dispatch.register_customer('+8613800000201', 'N1') AS n1 \gset
SELECT dispatch.register_customer('+8613800000202', 'N2') AS n2 \gset
SELECT dispatch.register_customer('+8613800000203', 'N3') AS n3 \gset
SELECT dispatch.register_customer('+8613800000204', 'N4') AS n4 \gset
SELECT pg_temp.refused(format('SELECT dispatch.apply_referral(%s, %L)', :c3, :'code3'), 'DP610', 'self-referral');
SELECT pg_temp.refused(format('SELECT dispatch.apply_referral(%s, %L)', :n1, 'RNOSUCH'), 'DP609', 'an unknown referral code');
SELECT pg_temp.refused(format('SELECT dispatch.apply_referral(%s, %L)', :c6, :'code3'), 'DP612', 'a referee who has ordered');
SELECT lives_ok(format('SELECT dispatch.apply_referral(%s, %L)', :n1, lower(:'code3')), 'a new customer takes a referral');
SELECT lives_ok(format('SELECT dispatch.apply_referral(%s, %L)', :n1, :'code3'), 'the same again is a no-op');
SELECT pg_temp.refused(format('SELECT dispatch.apply_referral(%s, dispatch.referral_code(%s))', :n1, :n2), 'DP613', 'a second referrer');
SELECT lives_ok(format('SELECT dispatch.apply_referral(%s, dispatch.referral_code(%s))', :n2, :n1), 'a chain: c3 -> n1 -> n2');
SELECT pg_temp.refused(format('SELECT dispatch.apply_referral(%s, dispatch.referral_code(%s))', :n3, :n3), 'DP610', 'self again');
SELECT throws_ok(format('SELECT dispatch.apply_referral(%s, dispatch.referral_code(%s))', :c3, :n2), 'DP611', NULL,
                 'a ring: c3 referred n1 who referred n2');
SELECT dispatch.register_customer('+8613800000206', 'N6') AS n6 \gset
SELECT dispatch.referral_code(:n6) AS code6 \gset
SELECT dispatch.forget_customer(:n6) \g /dev/null
-- the code as an erasure made before codes went with it left it
INSERT INTO dispatch.referral_codes (customer_id, code, created_at) VALUES (:n6, :'code6', dispatch.clock())
    ON CONFLICT DO NOTHING;
SELECT pg_temp.refused(format('SELECT dispatch.apply_referral(%s, %L)', :n4, :'code6'), 'DP609', 'the code of an erased customer');

SELECT pg_temp.deliver(pg_temp.buy(:n1)) AS r1 \gset
SELECT is(dispatch._reward_delivery(:zone, :r1), 2, 'the referee''s first delivery: points and the referral reward');
SELECT results_eq(format($$ SELECT customer_id, points FROM dispatch.points_ledger WHERE reason = 'referral' ORDER BY customer_id $$),
                  format('VALUES (%s::bigint, 50), (%s::bigint, 30)', :c3, :n1), 'referrer 50 points, referee 30');
SELECT is(dispatch.campaign_budget_left(:refer), 0::bigint, 'the rewards are charged to the budget');
SELECT is(dispatch._reward_delivery(:zone, pg_temp.deliver(pg_temp.buy(:n1))), 1, 'a second delivery rewards no referral');
SELECT pg_temp.deliver(pg_temp.buy(:n2)) AS r2 \gset
SELECT dispatch._reward_delivery(:zone, :r2) \g /dev/null
SELECT is((SELECT status FROM dispatch.referrals WHERE customer_id = :n2), 'budget_exhausted', 'no reward beyond the budget');
SELECT is((SELECT count(*) FROM dispatch.points_ledger WHERE reason = 'referral' AND customer_id IN (:n1, :n2)), 1::bigint,
          'and no referral points for it');

-- a referral campaign past its scheduled end pays nothing, as one ended early
SELECT dispatch.create_campaign('Refer for an hour', 'referral', '{"referrer_points": 50, "referee_points": 30}', 1000,
                                ends_at => '2026-07-16 13:30:00+00') AS refer_hour \gset
SELECT dispatch.register_customer('+8613800000207', 'N7') AS n7 \gset
SELECT dispatch.apply_referral(:n7, :'code3') \g /dev/null
SET LOCAL dispatch.clock_override = '2026-07-16 14:30:00+00';
SELECT dispatch._reward_delivery(:zone, pg_temp.deliver(pg_temp.buy(:n7))) \g /dev/null
SELECT is((SELECT status FROM dispatch.referrals WHERE customer_id = :n7), 'budget_exhausted',
          'a referee delivered after the referral campaign''s end: the referral is settled unpaid');
SELECT is((SELECT count(*) FROM dispatch.points_ledger WHERE reason = 'referral' AND ref = 'referee:' || :n7), 0::bigint,
          'no referral points for either side');
SELECT is(dispatch.campaign_budget_left(:refer_hour), 1000::bigint, 'and nothing charged');

SELECT throws_ok('SELECT dispatch.credit_rewards(0)', 'DP025', NULL, 'credit_rewards reads at least one event');

------------------------------------------------------------------------------
-- the outbox read with a cursor per zone (growth_cursors): a zone whose
-- events come later with lower numbers (as a Citus worker numbers them),
-- and a zone added later, each event once.  The test writes outbox rows
-- with numbers of its choosing below the snapshot horizon (its own events
-- lie above it until it commits: test/tap/growth_rollup.t commits); on
-- Citus a worker renumbers them, and test/citus/30_jobs.sql shows it there.
SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS on_citus \gset
\if :on_citus
SELECT skip('the outbox rows written with chosen numbers are renumbered on a Citus worker (test/citus/30_jobs.sql)', 18);
\else
SELECT pg_temp.deliver(pg_temp.buy(:c4)) AS da \gset
SELECT pg_temp.deliver(pg_temp.buy(:c4)) AS da2 \gset
SELECT dispatch.create_merchant(:other_zone, 'Far noodles', 120.05, 30.05) AS far \gset
SELECT dispatch.add_item(:far, 'noodles', 2800) AS far_noodles \gset
SELECT dispatch.rider_online(:far_rider, 120.05, 30.05) \g /dev/null
SELECT dispatch.place_order(:c5, :far, jsonb_build_array(jsonb_build_object('item_id', :far_noodles, 'qty', 1)),
                            120.05, 30.06, 'far away', 'normal') AS db \gset
SELECT dispatch.confirm_payment(:db, 'ref-far') \g /dev/null
SELECT dispatch.merchant_accept(:db) \g /dev/null
SELECT dispatch.assign_manually(:db, :far_rider, 'test') \g /dev/null
SELECT dispatch.mark_picked_up(:db, :far_rider) \g /dev/null
SELECT dispatch.mark_delivered(:db, :far_rider) \g /dev/null
CREATE FUNCTION pg_temp.event(p_zone bigint, p_seq bigint, p_order bigint, p_kind text DEFAULT 'order_status') RETURNS void
LANGUAGE sql AS $$
	INSERT INTO dispatch.events (zone_id, seq, at, kind, order_id, payload)
	VALUES (p_zone, p_seq, dispatch.clock(), p_kind,  p_order,
	        CASE WHEN p_order IS NOT NULL THEN '{"status": "delivered"}'::jsonb ELSE '{}' END)
$$;
CREATE FUNCTION pg_temp.cursors(p_consumer text) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(CASE g.zone_id WHEN current_setting('t.zone')::bigint THEN 'zone'
	                                 WHEN current_setting('t.other_zone')::bigint THEN 'other'
	                                 ELSE 'late' END || ':' || g.last_seq, ',' ORDER BY g.zone_id)
	  FROM dispatch.growth_cursors g WHERE g.consumer = p_consumer
$$;
SELECT set_config('t.zone', :'zone', true), set_config('t.other_zone', :'other_zone', true) \g /dev/null

SELECT pg_temp.event(:zone, 5000, :da) \g /dev/null
SELECT is(dispatch.credit_rewards(), 1, 'credit_rewards credits a delivery of one zone');
SELECT is(pg_temp.cursors('credit_rewards'), 'zone:5000,other:0', 'a cursor for each zone: that zone''s at its event, the other''s at 0');
SELECT pg_temp.event(:other_zone, 3000, :db) \g /dev/null
SELECT is(dispatch.credit_rewards(), 1,
          'a delivery of the other zone committed later with a lower number (as on a Citus worker) is read from its own cursor');
SELECT is(dispatch.credit_rewards(), 0, 'each once');
SELECT is(pg_temp.cursors('credit_rewards'), 'zone:5000,other:3000', 'each zone''s cursor at its last event');
SELECT dispatch.create_zone('Late zone', ST_MakeEnvelope(119.0, 30.0, 119.1, 30.1, 4326)) AS late \gset
SELECT pg_temp.event(:late, 1000, NULL, 'rider_status') \g /dev/null
SELECT pg_temp.event(:zone, 6000, :da2) \g /dev/null
SELECT is(dispatch.credit_rewards(1), 0, 'at most max_events, the lowest numbers first: the new zone''s event, from 0');
SELECT is(pg_temp.cursors('credit_rewards'), 'zone:5000,other:3000,late:1000', 'a zone added later gets its cursor');
SELECT is(dispatch.credit_rewards(1), 1, 'then the next');
SELECT is(pg_temp.cursors('credit_rewards'), 'zone:6000,other:3000,late:1000', 'and the cursors stand after every event');
SELECT dispatch.rollup_campaigns() AS run \gset
SELECT is((SELECT events || ' events, ' || orders || ' orders' FROM dispatch.rollup_runs WHERE run_id = :run),
          '4 events, 3 orders', 'the incremental rollup reads the same events from its own cursors, each once');
SELECT is(pg_temp.cursors('rollup_campaigns'), 'zone:6000,other:3000,late:1000', 'and leaves them after the last of each zone');
SELECT dispatch.rollup_campaigns() AS run \gset
SELECT is((SELECT events FROM dispatch.rollup_runs WHERE run_id = :run), 0::bigint, 'a second run reads nothing again');

-- the rollup counts no event that credit_rewards has not handled: a
-- referee's delivery behind more events than credit_rewards reads in one
-- run (100000) is counted by the run that pays its reward, with it
SELECT dispatch.create_campaign('Refer more', 'referral', '{"referrer_points": 50, "referee_points": 30}', 1000) AS refer2 \gset
SELECT dispatch.register_customer('+8613800000205', 'N5') AS n5 \gset
SELECT dispatch.apply_referral(:n5, :'code3') \g /dev/null
SELECT pg_temp.deliver(pg_temp.buy(:n5)) AS dn5 \gset
INSERT INTO dispatch.events (zone_id, seq, at, kind, order_id, payload)
SELECT :zone, g, dispatch.clock(), 'rider_status', NULL, '{}' FROM generate_series(6001, 106000) g;
SELECT pg_temp.event(:zone, 106001, :dn5) \g /dev/null
SELECT dispatch.rollup_campaigns() AS run \gset
SELECT is(pg_temp.cursors('rollup_campaigns'), pg_temp.cursors('credit_rewards'),
          'a run whose credit_rewards stopped short stops where credit_rewards stopped');
SELECT is((SELECT count(*) FROM dispatch.order_facts WHERE order_id = :dn5), 0::bigint,
          'the delivery beyond it is not counted yet');
SELECT dispatch.rollup_campaigns() AS run \gset
SELECT is((SELECT status FROM dispatch.referrals WHERE customer_id = :n5), 'rewarded', 'the next run pays the referral');
SELECT is((SELECT reward_cents FROM dispatch.order_facts WHERE order_id = :dn5), 80::bigint,
          'and counts the delivered order with its reward');
SELECT is((SELECT sum(reward_cents) FROM dispatch.campaign_daily WHERE campaign_id = :refer2), 80::numeric,
          'the campaign''s cost holds the reward');
SELECT is(pg_temp.cursors('rollup_campaigns'), 'zone:106001,other:3000,late:1000', 'the rollup''s cursors past the delivery');
\endif

SELECT * FROM finish();
ROLLBACK;
