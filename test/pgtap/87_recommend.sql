-- test/pgtap/87_recommend.sql: recommend() ranks a customer's usual
-- merchants, merchants often ordered with them and popular ones nearby, each
-- with its reason; closed merchants never appear; without consent to
-- personalisation only popularity near the last drop-off zone counts;
-- refresh_recommendations() is idempotent and keeps no personal data;
-- usual_offer() issues one code at a time to frequent customers who consent
-- to personalisation and marketing; arguments are checked; roles get what
-- they need.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(60);
SET dispatch.fraud_max_bad_orders = 1000;

-- the hand-built city: zone 1 has Noodle house (:merchant), Dumplings
-- (:other_merchant), Tea, Pizza and Sushi; the other zone has Far noodles
SELECT dispatch.create_merchant(:zone, 'Tea', 121.446, 31.199) AS tea \gset
SELECT dispatch.create_merchant(:zone, 'Pizza', 121.447, 31.198) AS pizza \gset
SELECT dispatch.create_merchant(:zone, 'Sushi', 121.448, 31.197) AS sushi \gset
SELECT dispatch.create_merchant(:other_zone, 'Far noodles', 120.05, 30.05) AS far \gset
SELECT dispatch.add_item(:tea, 'tea', 500) AS tea_item \gset
SELECT dispatch.add_item(:pizza, 'pizza', 4000) AS pizza_item \gset
SELECT dispatch.add_item(:sushi, 'sushi', 6000) AS sushi_item \gset
SELECT dispatch.add_item(:far, 'far noodles', 2000) AS far_item \gset
SELECT dispatch.register_customer('+8613800000110', 'Customer 10') AS c_10,
       dispatch.register_customer('+8613800000111', 'Customer 11') AS c_11,
       dispatch.register_customer('+8613800000112', 'Customer 12') AS c_12,
       dispatch.register_customer('+8613800000113', 'Customer 13') AS c_13,
       dispatch.register_customer('+8613800000114', 'Customer 14') AS c_14,
       dispatch.register_customer('+8613800000115', 'Customer 15') AS c_15,
       dispatch.register_customer('+8613800000116', 'Customer 16') AS c_16,
       dispatch.register_customer('+8613800000117', 'Customer 17') AS c_17 \gset
\set a :customer
\set b :customer2

-- an order of one item, placed and paid at a given dispatch time
CREATE FUNCTION pg_temp.buy(p_customer bigint, p_item bigint, p_days_ago float8,
                            p_lon float8 DEFAULT 121.445, p_lat float8 DEFAULT 31.196) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_order bigint;
BEGIN
	PERFORM set_config('dispatch.clock_override',
	                   ('2026-12-01 12:00:00+00'::timestamptz - p_days_ago * interval '1 day')::text, true);
	v_order := dispatch.place_order(p_customer, (SELECT merchant_id FROM dispatch.items WHERE item_id = p_item),
	                                jsonb_build_array(jsonb_build_object('item_id', p_item, 'qty', 1)),
	                                p_lon, p_lat, 'Street 1');
	PERFORM dispatch.confirm_payment(v_order, 'psp-' || v_order);
	RETURN v_order;
END $$;

-- A: noodles three times lately, pizza once 100 days ago, sushi once
SELECT count(pg_temp.buy(:a, :noodles, d)) FROM (VALUES (1), (2), (3)) v(d) \g /dev/null
SELECT pg_temp.buy(:a, :pizza_item, 100) \g /dev/null
SELECT pg_temp.buy(:a, :sushi_item, 5) \g /dev/null
-- B, C, D order noodles and tea: tea is often ordered with noodles
SELECT count(pg_temp.buy(c, i, 4)) FROM (VALUES (:b), (:c_10), (:c_11)) u(c), (VALUES (:noodles), (:tea_item)) x(i) \g /dev/null
-- B and four others order dumplings: the most popular merchant of zone 1
SELECT count(pg_temp.buy(c, :other_item, 6)) FROM (VALUES (:b), (:c_12), (:c_13), (:c_14), (:c_15)) u(c) \g /dev/null
-- X ordered noodles, then last from Far noodles in the other zone
SELECT pg_temp.buy(:c_16, :noodles, 10) \g /dev/null
SELECT pg_temp.buy(:c_16, :far_item, 2, 120.06, 30.06) \g /dev/null
-- a cancelled order does not count
SELECT dispatch.cancel_order(pg_temp.buy(:c_13, :pizza_item, 1), 'changed mind') \g /dev/null
SET dispatch.clock_override = '2026-12-01 12:00:00+00';
SELECT dispatch.set_merchant_open(:sushi, false) \g /dev/null
SELECT dispatch.grant_consent(:a, 'personalisation', 'v1') \g /dev/null

------------------------------------------------------------------------------
-- before any refresh: the customer's own history, read live

SELECT results_eq(
	format('SELECT merchant_id, reason FROM dispatch.recommend(%s)', :a),
	format('VALUES (%s::bigint, %L::text), (%s, %L)', :merchant, 'usual', :pizza, 'usual'),
	'before a refresh only the customer''s own history counts: frequent and recent first, the closed sushi bar left out');
SELECT is((SELECT count(*) FROM dispatch.recommend(:c_16)), 0::bigint,
	'a customer without consent gets nothing before popularity has been computed');

------------------------------------------------------------------------------
-- refresh

SELECT is(dispatch.refresh_recommendations(), (SELECT count(*)::int FROM dispatch.zones), 'refresh_recommendations() refreshes every zone');
SELECT results_eq(
	'SELECT merchant_id, customers, orders FROM dispatch.recommend_popularity WHERE zone_id = ' || :zone || ' ORDER BY score DESC, merchant_id',
	format('VALUES (%s::bigint, 5, 7), (%s, 5, 5), (%s, 3, 3), (%s, 1, 1)', :merchant, :other_merchant, :tea, :sushi),
	'popularity counts the distinct customers of the last 28 days (pizza 100 days ago and the cancelled order left out)');
SELECT results_eq(
	'SELECT score FROM dispatch.recommend_popularity WHERE zone_id = ' || :zone || ' ORDER BY score DESC, merchant_id',
	'VALUES (1.0::float8), (1.0), (0.6), (0.2)',
	'the popularity score is customers over the zone''s best');
SELECT results_eq(
	'SELECT merchant_id, other_id, customers, round(score::numeric, 4) FROM dispatch.recommend_coorders ORDER BY 1, 2',
	format('VALUES (%s::bigint, %s::bigint, 3, %s::numeric), (%s, %s, 3, %s)',
	       :merchant, :tea, round(3 / sqrt(5 * 3)::numeric, 4), :tea, :merchant, round(3 / sqrt(5 * 3)::numeric, 4)),
	'co-ordering: noodles and tea, 3 customers of both, cosine 3 / sqrt(5 * 3); pairs of a single customer are not kept');
SELECT ok((SELECT bool_and(refreshed_at = '2026-12-01 12:00:00+00' AND duration_ms >= 0) FROM dispatch.recommend_refreshes)
          AND (SELECT popular_merchants FROM dispatch.recommend_refreshes WHERE zone_id = :zone) = 4
          AND (SELECT coorder_pairs FROM dispatch.recommend_refreshes WHERE zone_id = :zone) = 2,
	'each zone''s refresh is recorded with its time and counts');
CREATE TEMP TABLE before_pop AS SELECT * FROM dispatch.recommend_popularity;
CREATE TEMP TABLE before_co AS SELECT * FROM dispatch.recommend_coorders;
SELECT is(dispatch.refresh_recommendations(:zone), 1, 'a refresh of one zone');
SELECT is(dispatch.refresh_recommendations(), (SELECT count(*)::int FROM dispatch.zones), 'and of every zone again');
SELECT set_eq('SELECT * FROM dispatch.recommend_popularity', 'SELECT * FROM before_pop', 'a second refresh gives the same popularity');
SELECT set_eq('SELECT * FROM dispatch.recommend_coorders', 'SELECT * FROM before_co', 'and the same co-ordering');
SELECT throws_ok('SELECT dispatch.refresh_recommendations(999)', 'DP016', 'zone 999 does not exist', 'an unknown zone is refused');
SELECT is((SELECT count(*) FROM dispatch.recommend_refreshes), (SELECT count(*) FROM dispatch.zones), 'and nothing is recorded for it');
SELECT is(
	(SELECT array_agg(a.attrelid::regclass::text || '.' || a.attname ORDER BY 1) FROM pg_attribute a
	  WHERE a.attrelid IN ('dispatch.recommend_popularity'::regclass, 'dispatch.recommend_coorders'::regclass,
	                       'dispatch.recommend_refreshes'::regclass)
	    AND a.attnum > 0 AND NOT a.attisdropped AND a.attname LIKE '%customer_id%'),
	NULL, 'the signal tables hold no customer id');

------------------------------------------------------------------------------
-- a consenting customer: usual, often ordered with, popular nearby

SELECT results_eq(
	format('SELECT merchant_id, reason FROM dispatch.recommend(%s)', :a),
	format('VALUES (%s::bigint, %L::text), (%s, %L), (%s, %L), (%s, %L)',
	       :merchant, 'usual', :tea, 'often_with', :other_merchant, 'popular_nearby', :pizza, 'usual'),
	'usual noodles first, then tea (often ordered with noodles), dumplings (popular nearby), pizza (long ago)');
SELECT is((SELECT round(score::numeric, 4) FROM dispatch.recommend(:a) WHERE merchant_id = :merchant),
	round((1.0 + 0.3 * 1.0)::numeric, 4), 'noodles: usual 1 (the best own merchant) + 0.3 x popularity 1');
SELECT is((SELECT round(score::numeric, 4) FROM dispatch.recommend(:a) WHERE merchant_id = :tea),
	round((0.6 * 3 / sqrt(15) + 0.3 * 0.6)::numeric, 4), 'tea: 0.6 x cosine x usual of noodles + 0.3 x popularity 0.6');
SELECT is((SELECT round(score::numeric, 4) FROM dispatch.recommend(:a) WHERE merchant_id = :pizza),
	(SELECT round((0.5 ^ (100 / 30.0) / (0.5 ^ (1 / 30.0) + 0.5 ^ (2 / 30.0) + 0.5 ^ (3 / 30.0)))::numeric, 4)),
	'pizza: its weight 0.5^(100/30) over the noodles'' sum of weights (half-life 30 days)');
SELECT results_eq(format('SELECT merchant_id FROM dispatch.recommend(%s, 2)', :a),
	format('VALUES (%s::bigint), (%s)', :merchant, :tea), 'k limits the list to the best k');
SELECT is((SELECT count(*) FROM dispatch.recommend(:a, 100) WHERE merchant_id IN (:sushi, :closed)), 0::bigint,
	'closed merchants never appear, not even when popular or usual');
SELECT dispatch.set_merchant_open(:sushi, true) \g /dev/null
SELECT is((SELECT reason FROM dispatch.recommend(:a, 100) WHERE merchant_id = :sushi), 'usual',
	'once open again, the sushi bar comes back as usual');
SELECT dispatch.set_merchant_open(:tea, false) \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.recommend(:a, 100) WHERE merchant_id = :tea), 0::bigint,
	'a merchant closed after the refresh is left out at once');
SELECT dispatch.set_merchant_open(:tea, true) \g /dev/null

------------------------------------------------------------------------------
-- the consent gate

SELECT dispatch.revoke_consent(:a, 'personalisation') \g /dev/null
SELECT results_eq(
	format('SELECT merchant_id, reason, score FROM dispatch.recommend(%s)', :a),
	format('VALUES (%s::bigint, %L::text, 0.3::float8), (%s, %L, 0.3), (%s, %L, 0.18), (%s, %L, 0.06)',
	       :merchant, 'popular_nearby', :other_merchant, 'popular_nearby', :tea, 'popular_nearby', :sushi, 'popular_nearby'),
	'without consent: popularity in the last drop-off zone only, no usual pizza, every reason popular_nearby');
SELECT results_eq(
	format('SELECT merchant_id, reason FROM dispatch.recommend(%s)', :c_16),
	format('VALUES (%s::bigint, %L::text)', :far, 'popular_nearby'),
	'the last drop-off zone is the zone of the latest order: the other zone''s popular merchant, not zone 1''s');
SELECT dispatch.grant_consent(:c_16, 'personalisation', 'v1') \g /dev/null
SELECT set_eq(
	format('SELECT merchant_id, reason FROM dispatch.recommend(%s)', :c_16),
	format('VALUES (%s::bigint, %L::text), (%s, %L), (%s, %L)', :far, 'usual', :merchant, 'usual', :tea, 'often_with'),
	'with consent, the history of every zone counts, and popularity of the last zone');
SELECT is((SELECT count(*) FROM dispatch.recommend(:c_17)), 0::bigint, 'a customer without orders gets no rows');

------------------------------------------------------------------------------
-- refusals

SELECT throws_ok(format('SELECT * FROM dispatch.recommend(%s, 0)', :a), 'DP641', NULL, 'k = 0 is refused');
SELECT throws_ok(format('SELECT * FROM dispatch.recommend(%s, 101)', :a), 'DP641', NULL, 'k = 101 is refused');
SELECT throws_ok(format('SELECT * FROM dispatch.recommend(%s, NULL)', :a), 'DP641', NULL, 'k NULL is refused');
SELECT throws_ok('SELECT * FROM dispatch.recommend(987654)', 'DP012', NULL, 'an unknown customer is refused');
SELECT dispatch.forget_customer(:c_17) \g /dev/null
SELECT throws_ok(format('SELECT * FROM dispatch.recommend(%s)', :c_17), 'DP012', NULL, 'a forgotten customer is refused');

------------------------------------------------------------------------------
-- privileges

SELECT function_privs_are('dispatch', 'recommend', ARRAY['bigint', 'integer'], 'dispatch_app', ARRAY['EXECUTE'],
	'the app asks for recommendations');
SELECT function_privs_are('dispatch', 'recommend', ARRAY['bigint', 'integer'], 'dispatch_analyst', ARRAY[]::text[],
	'the analyst does not');
SELECT function_privs_are('dispatch', 'refresh_recommendations', ARRAY['bigint'], 'dispatch_app', ARRAY[]::text[],
	'the refresh is not the app''s');
SELECT function_privs_are('dispatch', 'refresh_recommendations', ARRAY['bigint'], 'dispatch_admin', ARRAY['EXECUTE'],
	'the admin (and the rollup job) refreshes');
SELECT table_privs_are('dispatch', 'recommend_popularity', 'dispatch_analyst', ARRAY[]::text[], 'the analyst reads no signal table');
SELECT is_definer('dispatch', 'recommend', ARRAY['bigint', 'integer'], 'recommend runs with the extension''s rights');

------------------------------------------------------------------------------
-- "your usual, 10% off"

SELECT dispatch.grant_consent(:a, 'personalisation', 'v2') \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.usual_offer(:a)), 0::bigint, 'no usual campaign running: no offer');
SELECT dispatch.create_campaign('Your usual', 'usual',
       '{"percent_off": 10, "min_orders": 3, "window_days": 30, "valid_days": 7}') AS usual \gset
SELECT is((SELECT count(*) FROM dispatch.usual_offer(:a)), 0::bigint,
	'consent to personalisation alone gives no offer: an offer is marketing');
SELECT dispatch.grant_consent(:a, 'marketing', 'v1') \g /dev/null
SELECT dispatch.set_merchant_open(:merchant, false) \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.usual_offer(:a)), 0::bigint,
	'the usual merchant closed, and pizza (one order in 30 days) is not frequent enough: no offer');
SELECT dispatch.set_merchant_open(:merchant, true) \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.coupons), 0::bigint, 'and nothing was written');
SELECT merchant_id AS offer_merchant, coupon_code AS code1, valid_until AS until1 FROM dispatch.usual_offer(:a) \gset
SELECT is(:offer_merchant::bigint, :merchant::bigint, 'with both consents: an offer for the usual noodles (3 orders in 30 days)');
SELECT is(:'until1'::timestamptz, '2026-12-08 12:00:00+00'::timestamptz, 'valid for the campaign''s valid_days');
SELECT results_eq(format('SELECT campaign_id, customer_id, merchant_id, max_uses, u.zone_id, u.cap, u.used FROM dispatch.coupons k JOIN dispatch.coupon_uses u USING (code) WHERE code = %L', :'code1'),
	format('VALUES (%s::bigint, %s::bigint, %s::bigint, 1, %s::bigint, 1, 0)', :usual, :a, :merchant, :zone),
	'a personal one-use coupon of the usual campaign for that merchant, its use in the merchant''s zone');
SELECT results_eq(format('SELECT merchant_id, coupon_code, valid_until FROM dispatch.usual_offer(%s)', :a),
	format('VALUES (%s::bigint, %L::text, %L::timestamptz)', :merchant, :'code1', :'until1'),
	'asked again, the same code while it is unused and valid');
SELECT is((SELECT count(*) FROM dispatch.coupons), 1::bigint, 'and no second coupon');
SELECT dispatch.place_order(:a, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Street 1', 'normal', :'code1') AS used_order \gset
SELECT is((SELECT discount_cents FROM dispatch.orders WHERE order_id = :used_order), 280, 'the code gives 10% off the noodles');
SELECT isnt((SELECT coupon_code FROM dispatch.usual_offer(:a)), :'code1', 'once used, the next call issues a new code');
SELECT is((SELECT count(*) FROM dispatch.coupons WHERE customer_id = :a), 2::bigint, 'one new coupon');
SET dispatch.clock_override = '2026-12-09 12:00:00+00';
SELECT is((SELECT count(*) FROM dispatch.usual_offer(:a) WHERE coupon_code NOT IN (SELECT code FROM dispatch.coupons WHERE created_at < '2026-12-09')),
	1::bigint, 'past its valid_until, a code is replaced by a new one');
SELECT is((SELECT count(*) FROM dispatch.usual_offer(:b)), 0::bigint, 'a customer with one order per merchant gets no offer');
SELECT is((SELECT count(*) FROM dispatch.coupons WHERE customer_id = :b), 0::bigint, 'and nothing is written for them');
-- three orders, but 48 days ago: outside the campaign's window of 30 days
SELECT count(pg_temp.buy(:c_14, :other_item, 40)) FROM generate_series(1, 3) \g /dev/null
SET dispatch.clock_override = '2026-12-09 12:00:00+00';
SELECT dispatch.grant_consent(:c_14, 'personalisation', 'v1') \g /dev/null
SELECT dispatch.grant_consent(:c_14, 'marketing', 'v1') \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.usual_offer(:c_14)), 0::bigint,
	'orders older than the campaign''s window_days do not make a customer frequent');
SELECT dispatch.end_campaign(:usual) \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.usual_offer(:a)), 0::bigint, 'an ended campaign offers nothing, not even its unused code');
SELECT dispatch.create_campaign('Your usual again', 'usual', '{"percent_off": 10, "min_orders": 3}', 1000) AS usual2 \gset
UPDATE dispatch.campaign_budget SET spent_cents = cap_cents WHERE campaign_id = :usual2;
SELECT is((SELECT count(*) FROM dispatch.usual_offer(:a)), 0::bigint, 'a campaign whose budget is spent offers nothing');
UPDATE dispatch.campaign_budget SET spent_cents = 0 WHERE campaign_id = :usual2;
SELECT is((SELECT merchant_id FROM dispatch.usual_offer(:a)), :merchant::bigint,
	'with budget left it offers again (rules by default: 3 orders in 30 days)');
SET dispatch.clock_override = '2026-12-01 12:00:00+00';
SELECT throws_ok('SELECT * FROM dispatch.usual_offer(987654)', 'DP012', NULL, 'usual_offer: an unknown customer is refused');
SELECT throws_ok(format('SELECT * FROM dispatch.usual_offer(%s)', :c_17), 'DP012', NULL, 'usual_offer: a forgotten customer is refused');
SELECT function_privs_are('dispatch', 'usual_offer', ARRAY['bigint'], 'dispatch_app', ARRAY['EXECUTE'], 'the app asks for the usual offer');
SELECT function_privs_are('dispatch', 'usual_offer', ARRAY['bigint'], 'dispatch_analyst', ARRAY[]::text[], 'the analyst does not');

SELECT * FROM finish();
ROLLBACK;
