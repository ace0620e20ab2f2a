-- test/pgtap/61_matching_rules.sql: who may be offered an order and what
-- happens to offers: capacity, staleness, fatigue, vehicle limits, holding,
-- answers, expiry, exclusions, riders going offline, cancelled orders,
-- audit, errors and privileges.
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
SELECT plan(36);

CREATE TEMP SEQUENCE phone_seq START 20000000;
SELECT dispatch.create_zone('rules', ST_MakeEnvelope(102.0, 30.0, 102.1, 30.1, 4326)) AS z \gset
SELECT dispatch.create_merchant(:z, 'shop', 102.05, 30.05, 10) AS shop \gset
SELECT dispatch.add_item(:shop, 'dish', 1500) AS dish \gset
SELECT set_config('t.shop', :'shop', true), set_config('t.dish', :'dish', true) \g /dev/null

-- an accepted order of the shop, its drop-off 1 km north
CREATE FUNCTION pg_temp.order_() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE o bigint;
BEGIN
	o := dispatch.place_order(dispatch.register_customer('+86139' || nextval('phone_seq'), NULL),
	                          current_setting('t.shop')::bigint,
	                          jsonb_build_array(jsonb_build_object('item_id', current_setting('t.dish')::bigint, 'qty', 1)),
	                          102.05, 30.06, 'addr', 'normal');
	PERFORM dispatch.confirm_payment(o, 'ref-' || o);
	PERFORM dispatch.merchant_accept(o);
	RETURN o;
END $$;
CREATE FUNCTION pg_temp.rider_(p_lon float8, p_lat float8, p_cap int DEFAULT 1) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE r bigint;
BEGIN
	r := dispatch.register_rider(current_setting('t.z')::bigint, 'r', '+86139' || nextval('phone_seq'), p_cap);
	PERFORM dispatch.rider_online(r, p_lon, p_lat);
	RETURN r;
END $$;
SELECT set_config('t.z', :'z', true) \g /dev/null

-- riders: near (500 m), stale, fatigued, tired today, on foot too far, far away
SELECT pg_temp.rider_(102.05, 30.0455, 2) AS near \gset
SELECT pg_temp.rider_(102.051, 30.0455) AS stale \gset
SELECT pg_temp.rider_(102.052, 30.0455) AS tired \gset
SELECT pg_temp.rider_(102.053, 30.0455) AS daily \gset
SELECT pg_temp.rider_(102.05, 30.032) AS walker \gset
UPDATE dispatch.riders SET position_at = dispatch.clock() - interval '10 minutes' WHERE rider_id = :stale;
UPDATE dispatch.riders SET shift_started_at = dispatch.clock() - interval '5 hours' WHERE rider_id = :tired;
UPDATE dispatch.riders SET stats_day = '2026-03-02', online_seconds_today = 11 * 3600 WHERE rider_id = :daily;
UPDATE dispatch.riders SET vehicle = 'foot' WHERE rider_id = :walker;

SELECT pg_temp.order_() AS o1 \gset

-- nearest_riders
SELECT is((SELECT array_agg(rider_id ORDER BY distance_m) FROM dispatch.nearest_riders(:o1, 10)),
          ARRAY[:near]::bigint[], 'only the fresh, rested rider within the vehicle limits is a candidate');
SELECT ok((SELECT bool_and(distance_m BETWEEN 400 AND 600 AND travel_s > 0 AND cost >= travel_s
                           AND free_slots = 2 AND vehicle = 'ebike')
             FROM dispatch.nearest_riders(:o1)), 'nearest_riders reports distance, cost and its parts');
SELECT ok(NOT EXISTS (SELECT FROM dispatch.nearest_riders(:o1) WHERE rider_id = :stale),
          'a stale position never produces a candidate');
SELECT ok(NOT EXISTS (SELECT FROM dispatch.nearest_riders(:o1) WHERE rider_id IN (:tired, :daily)),
          'a rider past the shift or daily limit is not a candidate');
SELECT ok(NOT EXISTS (SELECT FROM dispatch.nearest_riders(:o1) WHERE rider_id = :walker),
          'a rider on foot is not sent beyond the vehicle''s pickup distance');
SELECT throws_ok(format('SELECT * FROM dispatch.nearest_riders(%s, 0)', :o1), 'DP304', NULL,
                 'k below 1 is refused (DP304)');
SELECT throws_ok('SELECT * FROM dispatch.nearest_riders(999, 5)', 'DP306', NULL,
                 'an unknown order is refused (DP306)');
SELECT throws_ok('SELECT * FROM dispatch.assign_batch(8000000)', 'DP305', NULL,
                 'an unknown zone is refused (DP305)');

-- capacity: three orders, one rider with two slots; the third waits
SELECT pg_temp.order_() AS o2 \gset
SELECT pg_temp.order_() AS o3 \gset
CREATE TEMP TABLE b1 AS SELECT * FROM dispatch.assign_batch(:z);
SELECT is((SELECT count(*) FROM b1 WHERE rider_id = :near), 2::bigint,
          'a rider with two free slots gets two offers, no more');
SELECT is((SELECT array_agg(order_id ORDER BY order_id) FROM b1), ARRAY[:o1, :o2]::bigint[],
          'the third order waits for the next batch (the oldest go first on a tie)');
SELECT is((SELECT pending_offers FROM dispatch.riders WHERE rider_id = :near), 2,
          'the rider''s slots are held by the pending offers');
SELECT ok((SELECT cost FROM b1 WHERE order_id = :o2) > (SELECT cost FROM b1 WHERE order_id = :o1),
          'the second order on one rider costs its load penalty more');
SELECT is((SELECT method FROM b1 LIMIT 1), 'exact', 'the batch is solved exactly');
SELECT is((SELECT count(*) FROM dispatch.offer_candidates c JOIN b1 USING (offer_id)
            WHERE c.chosen AND c.rider_id = b1.rider_id AND c.fairness IS NOT NULL
              AND abs(c.cost - b1.cost) < 0.01),
          2::bigint, 'each offer keeps its candidates and their cost parts for audit');
SELECT is((SELECT count(*) FROM dispatch.events WHERE zone_id = :z AND kind = 'offer'), 2::bigint,
          'one offer event per offer');
SELECT is((SELECT held FROM dispatch.assign_batches WHERE zone_id = :z), 1,
          'the batch row counts the waiting order');
SELECT is((SELECT count(*) FROM dispatch.assign_batch(:z)), 0::bigint,
          'a second batch neither re-offers pending orders nor overbooks the rider');

-- answers
SELECT offer_id AS f1 FROM b1 WHERE order_id = :o1 \gset
SELECT offer_id AS f2 FROM b1 WHERE order_id = :o2 \gset
SELECT lives_ok(format('SELECT dispatch.respond_offer(%s, true)', :f1), 'a rider accepts an offer');
SELECT is((SELECT status || ' ' || rider_id FROM dispatch.orders WHERE zone_id = :z AND order_id = :o1),
          'assigned ' || :near, 'accepting assigns the order to the rider');
SELECT is((SELECT active_orders || '/' || pending_offers FROM dispatch.riders WHERE rider_id = :near), '1/1',
          'the accepted offer''s slot becomes an active order');
SELECT throws_ok(format('SELECT dispatch.respond_offer(%s, false)', :f1), 'DP302', NULL,
                 'an offer is answered once (DP302)');
SELECT throws_ok('SELECT dispatch.respond_offer(1, true)', 'DP301', NULL, 'an unknown offer is refused (DP301)');
SELECT lives_ok(format('SELECT dispatch.respond_offer(%s, false, %L)', :f2, 'too heavy'), 'a rider rejects an offer');
SELECT is((SELECT count(*) FROM dispatch.offer_exclusions WHERE zone_id = :z AND order_id = :o2 AND rider_id = :near),
          1::bigint, 'the rejecting rider is excluded for that order');
CREATE TEMP TABLE b2 AS SELECT * FROM dispatch.assign_batch(:z);
SELECT is((SELECT array_agg(order_id || ':' || rider_id) FROM b2), ARRAY[:o3 || ':' || :near],
          'the next batch offers the waiting order, never the rejected one to the same rider');
SELECT ok(NOT EXISTS (SELECT FROM dispatch.nearest_riders(:o2) WHERE rider_id = :near),
          'nearest_riders leaves out a rider excluded for the order');

-- expiry: after the offer's time, respond fails and the next batch frees the slot
SELECT offer_id AS f3 FROM b2 \gset
SET LOCAL dispatch.clock_override = '2026-03-02 12:01:00+00';
SELECT throws_ok(format('SELECT dispatch.respond_offer(%s, true)', :f3), 'DP303', NULL,
                 'an answer after expiry is refused (DP303)');
UPDATE dispatch.riders SET position_at = dispatch.clock() WHERE rider_id = :near;
SELECT is((SELECT count(*) FROM dispatch.assign_batch(:z)), 0::bigint,
          'an expired offer''s order is not offered again to that rider');
SELECT is((SELECT status FROM dispatch.offers WHERE zone_id = :z AND offer_id = :f3), 'expired',
          'the batch marks the overdue offer expired');
SELECT is((SELECT pending_offers FROM dispatch.riders WHERE rider_id = :near), 0,
          'the expired offer gives the slot back');
SELECT ok(EXISTS (SELECT FROM dispatch.offer_exclusions WHERE zone_id = :z AND order_id = :o3 AND rider_id = :near AND reason = 'expired'),
          'letting an offer expire excludes the rider for the order');

-- a new rider comes online: considered at the next batch; then goes offline
SELECT pg_temp.rider_(102.049, 30.046) AS fresh \gset
CREATE TEMP TABLE b3 AS SELECT * FROM dispatch.assign_batch(:z);
SELECT is((SELECT count(*) FROM b3 WHERE rider_id = :fresh), 1::bigint,
          'a rider who comes online is considered at the next batch');
SELECT dispatch.rider_offline(:fresh) \g /dev/null
SELECT is((SELECT status FROM dispatch.offers WHERE zone_id = :z AND offer_id = (SELECT offer_id FROM b3)),
          'cancelled', 'going offline cancels the rider''s pending offers');

-- a cancelled order takes its pending offer with it
SELECT pg_temp.rider_(102.048, 30.046) AS other \gset
CREATE TEMP TABLE b4 AS SELECT * FROM dispatch.assign_batch(:z);
SELECT order_id AS o4 FROM b4 LIMIT 1 \gset
SELECT dispatch.cancel_order(:o4, 'changed my mind') \g /dev/null
SELECT is((SELECT f.status || ' ' || r.pending_offers FROM dispatch.offers f JOIN dispatch.riders r USING (rider_id)
            WHERE f.zone_id = :z AND f.offer_id = (SELECT offer_id FROM b4 WHERE order_id = :o4)), 'cancelled 0',
          'cancelling an order cancels its offer and frees the slot');

SELECT function_privs_are('dispatch', 'assign_batch', ARRAY['bigint'], 'dispatch_app', ARRAY['EXECUTE'],
                          'the app may run batches');
SELECT function_privs_are('dispatch', 'respond_offer', ARRAY['bigint', 'boolean', 'text'], 'dispatch_analyst', ARRAY[]::text[],
                          'an analyst may not answer offers');

SELECT * FROM finish();
ROLLBACK;
