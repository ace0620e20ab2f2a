-- test/pgtap/52_points_tiers.sql: the tier multiplier of a delivery's points
-- (sql/52_campaigns.sql, _tier_multiplier).  A delivery earns at the rate of
-- the points campaign running in its zone, times the multiplier of the tier
-- the customer reaches among that campaign's tiers (docs/growth.md,
-- "Points"): a zone's own campaign's tiers count there, a tier is reached
-- by its min_points and not by its name, and two tiers of one name are
-- refused when the campaign is made, and never stop the rewards job.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(8);
SET LOCAL dispatch.clock_override = '2026-06-01 11:00:00+00';
SET LOCAL dispatch.fraud_max_bad_orders = 1000;

-- a delivered order of 2 noodles: 56 yuan and the 3 yuan fee paid
CREATE FUNCTION pg_temp.delivered(p_customer bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	r bigint := current_setting('t.rider')::bigint;
	o bigint := dispatch.place_order(p_customer, current_setting('t.merchant')::bigint,
	                                 jsonb_build_array(jsonb_build_object('item_id', current_setting('t.noodles')::bigint, 'qty', 2)),
	                                 121.445, 31.196, 'somewhere');
BEGIN
	PERFORM dispatch.confirm_payment(o, 'ref-' || o);
	PERFORM dispatch.merchant_accept(o);
	PERFORM dispatch.assign_manually(o, r, 'test');
	PERFORM dispatch.mark_picked_up(o, r);
	PERFORM dispatch.mark_delivered(o, r);
	RETURN o;
END $$;
SELECT set_config('t.merchant', :'merchant', true), set_config('t.noodles', :'noodles', true),
       set_config('t.rider', :'rider', true) \g /dev/null
SELECT dispatch.register_customer('+8613800000301', 'T1') AS t1 \gset
SELECT dispatch.register_customer('+8613800000302', 'T2') AS t2 \gset

-- two tiers of one name: which multiplier would apply?
SELECT throws_ok($$ SELECT dispatch.create_campaign('Twice gold', 'points',
                      '{"earn_per_yuan": 1, "tiers": [{"name": "gold", "min_points": 100, "multiplier": 2},
                                                      {"name": "gold", "min_points": 500, "multiplier": 3}]}') $$,
                 'DP601', NULL, 'two tiers of one name are refused');

-- the zone's own points campaign, with tiers; none city-wide
SELECT dispatch.create_campaign('Zone points', 'points',
       '{"earn_per_yuan": 1, "tiers": [{"name": "silver", "min_points": 100, "multiplier": 2}]}',
       zone_id => :zone) AS zp \gset
SELECT is(dispatch._points_grant(:zone, :t1, 200, 'goodwill', 'ticket:1'), true, 'T1 has earned 200 points');
SELECT pg_temp.delivered(:t1) AS d1 \gset
SELECT is(dispatch._reward_delivery(:zone, :d1), 1, 'the delivery earns points');
SELECT is((SELECT points FROM dispatch.points_ledger WHERE customer_id = :t1 AND reason = 'delivery'), 118,
          '59 yuan paid, 1 point a yuan, twice for silver in the zone''s own campaign');

-- a tier is reached by its min_points, whatever its name: one named like the
-- level below every tier is not everybody's
SELECT is(dispatch._tier_multiplier(:t2, '{"earn_per_yuan": 1, "tiers": [{"name": "member", "min_points": 100, "multiplier": 2}]}'),
          1::numeric, 'a customer without points earns at the base rate, even under a tier named member');
SELECT is(dispatch._tier_multiplier(:t1, '{"earn_per_yuan": 1, "tiers": [{"name": "member", "min_points": 100, "multiplier": 2}]}'),
          2::numeric, 'and one who reaches it at its multiplier');

-- a campaign holding two tiers of one name (made before they were refused)
-- still pays: the tier reached decides, and the rewards job goes on
UPDATE dispatch.campaigns
   SET rules = '{"earn_per_yuan": 1, "tiers": [{"name": "gold", "min_points": 100, "multiplier": 2},
                                               {"name": "gold", "min_points": 5000, "multiplier": 3}]}'
 WHERE campaign_id = :zp;
SELECT pg_temp.delivered(:t1) AS d2 \gset
SELECT lives_ok(format('SELECT dispatch._reward_delivery(%s, %s)', :zone, :d2),
                'a delivery under a campaign with two tiers of one name is credited');
SELECT is((SELECT points FROM dispatch.points_ledger WHERE customer_id = :t1 AND ref = 'order:' || :d2), 118,
          'at the multiplier of the tier the customer reaches');

SELECT * FROM finish();
ROLLBACK;
