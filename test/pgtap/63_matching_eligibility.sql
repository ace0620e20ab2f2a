-- test/pgtap/63_matching_eligibility.sql: one eligibility rule.  Whether a
-- rider can take an order is decided the same way by nearest_riders,
-- assign_batch, respond_offer and assign_manually (src/match.c,
-- match_rider_can_take); a manual assignment counts the rider's pending
-- offers and withdraws those that would overfill the rider.
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
SELECT plan(50);

CREATE TEMP SEQUENCE phone_seq START 30000000;
SELECT dispatch.create_zone('eligibility', ST_MakeEnvelope(102.0, 30.0, 102.1, 30.1, 4326)) AS z \gset
SELECT dispatch.create_merchant(:z, 'shop', 102.05, 30.05, 10) AS shop \gset
SELECT dispatch.add_item(:shop, 'dish', 1500) AS dish \gset
SELECT set_config('t.shop', :'shop', true), set_config('t.dish', :'dish', true),
       set_config('t.z', :'z', true) \g /dev/null

-- an accepted order of the shop, its drop-off p_north degrees north
CREATE FUNCTION pg_temp.order_(p_north float8 DEFAULT 0.01) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE o bigint;
BEGIN
	o := dispatch.place_order(dispatch.register_customer('+86139' || nextval('phone_seq'), NULL),
	                          current_setting('t.shop')::bigint,
	                          jsonb_build_array(jsonb_build_object('item_id', current_setting('t.dish')::bigint, 'qty', 1)),
	                          102.05, 30.05 + p_north, 'addr', 'normal');
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
-- every rider of the zone but p_keep goes offline (a batch then has one
-- choice).  A loop, not the call in the SELECT: a statement on the zone's
-- rows goes whole to its Citus worker, and the call there could not reach
-- the distributed tables it works on; the zone is read here, as the
-- worker has no t.z.
CREATE FUNCTION pg_temp.only_(p_keep bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	z bigint := current_setting('t.z')::bigint;
	r bigint;
BEGIN
	FOR r IN SELECT x.rider_id FROM dispatch.riders x
	          WHERE x.zone_id = z AND x.status = 'online'
	            AND x.rider_id <> p_keep AND x.active_orders = 0 LOOP
		PERFORM dispatch.rider_offline(r);
	END LOOP;
END $$;

-- cancel every accepted order of the zone, so that the next batch has one
-- only (a loop, as above)
CREATE FUNCTION pg_temp.clear_orders() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	z bigint := current_setting('t.z')::bigint;
	o bigint;
BEGIN
	FOR o IN SELECT x.order_id FROM dispatch.orders x
	          WHERE x.zone_id = z AND x.status = 'accepted' LOOP
		PERFORM dispatch.cancel_order(o, 'test');
	END LOOP;
END $$;

-- ---------------------------------------------------------------------------
-- a manual assignment counts the rider's pending offers
-- ---------------------------------------------------------------------------

SELECT pg_temp.rider_(102.05, 30.0455, 1) AS solo \gset
SELECT pg_temp.order_() AS o1 \gset
SELECT pg_temp.order_() AS o2 \gset
CREATE TEMP TABLE b1 AS SELECT * FROM dispatch.assign_batch(:z);
SELECT offer_id AS f1 FROM b1 WHERE order_id = :o1 \gset
SELECT is((SELECT array_agg(order_id || ':' || rider_id) FROM b1), ARRAY[:o1 || ':' || :solo],
          'a rider of capacity 1 is offered one order');
SELECT lives_ok(format($$SELECT dispatch.assign_manually(%s, %s, 'ops')$$, :o2, :solo),
                'a dispatcher gives the rider another order by hand');
SELECT is((SELECT active_orders || '/' || pending_offers || '/' || capacity FROM dispatch.riders WHERE rider_id = :solo),
          '1/0/1', 'the rider is not overfilled: the pending offer gave its slot to the manual order');
-- the zone's rows are read first, then checked: a statement that names the
-- zone goes whole to its Citus worker, where pgTAP has no plan
SELECT (SELECT status || ' ' || reason FROM dispatch.offers WHERE zone_id = :z AND offer_id = :f1) AS v \gset
SELECT is(:'v'::text, 'cancelled withdrawn: rider assigned order ' || :o2 || ' by hand',
          'the offer that would overfill the rider is withdrawn (cancelled, with the reason)');
SELECT (SELECT payload ->> 'status' || ' ' || (payload ->> 'reason') FROM dispatch.events
         WHERE zone_id = :z AND kind = 'offer' AND order_id = :o1 AND (payload ->> 'offer_id')::bigint = :f1
         ORDER BY seq DESC LIMIT 1) AS v \gset
SELECT is(:'v'::text, 'cancelled withdrawn', 'the rider is told by an offer event');
SELECT throws_ok(format('SELECT dispatch.respond_offer(%s, true)', :f1), 'DP302', NULL,
                 'accepting the withdrawn offer says it was cancelled (DP302), not that the rider is full');
SELECT (SELECT status FROM dispatch.orders WHERE zone_id = :z AND order_id = :o1) AS v \gset
SELECT is(:'v'::text, 'accepted', 'the withdrawn offer''s order waits for a rider again');
SELECT pg_temp.rider_(102.051, 30.0455, 1) AS second \gset
SELECT is((SELECT array_agg(order_id || ':' || rider_id) FROM dispatch.assign_batch(:z)), ARRAY[:o1 || ':' || :second],
          'the next batch offers the withdrawn offer''s order again, without waiting for expiry');
SELECT NOT EXISTS (SELECT FROM dispatch.offer_exclusions WHERE zone_id = :z AND order_id = :o1 AND rider_id = :solo) AS v \gset
SELECT ok(:'v'::bool, 'a withdrawn offer does not exclude its rider');

-- a rider with room for both keeps the offer
SELECT pg_temp.rider_(102.052, 30.0455, 2) AS duo \gset
SELECT pg_temp.only_(:duo) \g /dev/null
SELECT pg_temp.clear_orders() \g /dev/null
SELECT pg_temp.order_() AS o3 \gset
CREATE TEMP TABLE b2 AS SELECT * FROM dispatch.assign_batch(:z);
SELECT offer_id AS f3 FROM b2 \gset
SELECT is((SELECT array_agg(order_id || ':' || rider_id) FROM b2), ARRAY[:o3 || ':' || :duo],
          'a rider of capacity 2 is offered an order');
SELECT pg_temp.order_() AS o4 \gset
SELECT lives_ok(format($$SELECT dispatch.assign_manually(%s, %s, 'ops')$$, :o4, :duo),
                'a second order by hand fits beside the pending offer');
SELECT (SELECT status FROM dispatch.offers WHERE zone_id = :z AND offer_id = :f3) AS v \gset
SELECT is(:'v'::text, 'pending', 'an offer that still fits is not withdrawn');
SELECT lives_ok(format('SELECT dispatch.respond_offer(%s, true)', :f3), 'and the rider can still accept it');
SELECT is((SELECT active_orders || '/' || pending_offers FROM dispatch.riders WHERE rider_id = :duo), '2/0',
          'the rider holds both orders');

-- the order's own offer to the same rider is not counted against them
SELECT pg_temp.rider_(102.053, 30.0455, 1) AS own \gset
SELECT pg_temp.only_(:own) \g /dev/null
SELECT pg_temp.clear_orders() \g /dev/null
SELECT pg_temp.order_() AS o5 \gset
CREATE TEMP TABLE b3 AS SELECT * FROM dispatch.assign_batch(:z);
SELECT offer_id AS f5 FROM b3 \gset
SELECT is((SELECT rider_id FROM b3), :own::bigint, 'the order is offered to the rider');
SELECT lives_ok(format($$SELECT dispatch.assign_manually(%s, %s, 'ops')$$, :o5, :own),
                'a dispatcher assigns the offered order to its rider by hand');
SELECT (SELECT f.status || ' ' || f.reason || ' ' || r.active_orders || '/' || r.pending_offers
          FROM dispatch.offers f JOIN dispatch.riders r ON r.zone_id = f.zone_id AND r.rider_id = f.rider_id
         WHERE f.zone_id = :z AND f.offer_id = :f5) AS v \gset
SELECT is(:'v'::text, 'cancelled order assigned 1/0', 'the order''s own offer goes with the assignment, the slot is the order''s');
SELECT string_agg(e.payload->>'status' || ' ' || (e.payload->>'reason') || ' ' || e.rider_id, ',') AS ev
  FROM dispatch.events e
 WHERE e.zone_id = :z AND e.kind = 'offer' AND (e.payload->>'offer_id')::bigint = :f5 AND e.payload->>'status' = 'cancelled' \gset
SELECT is(:'ev'::text, 'cancelled order assigned ' || :own, '... and its rider is told: an offer event, cancelled, names the rider');

-- a rider full with orders is refused, offers or not
SELECT pg_temp.order_() AS o6 \gset
SELECT throws_ok(format($$SELECT dispatch.assign_manually(%s, %s, 'ops')$$, :o6, :own), 'DP020',
                 format('rider %s is full (1 of 1 orders)', :own), 'a rider full with orders is refused (DP020)');

-- ---------------------------------------------------------------------------
-- hard limits: refused identically everywhere
-- ---------------------------------------------------------------------------

-- each rider first gets an offer (alone online), then crosses a limit
CREATE FUNCTION pg_temp.offer_to(p_rider bigint, p_order bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE f bigint;
BEGIN
	PERFORM pg_temp.only_(p_rider);
	SELECT b.offer_id INTO f FROM dispatch.assign_batch(current_setting('t.z')::bigint) b
	 WHERE b.order_id = p_order AND b.rider_id = p_rider;
	RETURN f;
END $$;
-- what assign_manually and respond_offer say, as 'SQLSTATE: message'
CREATE FUNCTION pg_temp.refusal(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE p_sql;
	RETURN 'ok';
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- fatigue: on shift too long
SELECT pg_temp.clear_orders() \g /dev/null
SELECT pg_temp.rider_(102.05, 30.046) AS tired \gset
SELECT pg_temp.order_() AS o7 \gset
SELECT pg_temp.offer_to(:tired, :o7) AS f7 \gset
SELECT pg_temp.order_() AS o8 \gset
UPDATE dispatch.riders SET shift_started_at = dispatch.clock() - interval '5 hours' WHERE rider_id = :tired;
SELECT is(pg_temp.refusal(format('SELECT dispatch.respond_offer(%s, true)', :f7)),
          'DP020: rider ' || :tired || ' has been on shift longer than 240 minutes',
          'shift limit: respond_offer refuses to accept (DP020)');
SELECT is(pg_temp.refusal(format($$SELECT dispatch.assign_manually(%s, %s, 'ops')$$, :o8, :tired)),
          'DP020: rider ' || :tired || ' has been on shift longer than 240 minutes',
          'shift limit: assign_manually refuses with the same error');
SELECT ok(NOT EXISTS (SELECT FROM dispatch.nearest_riders(:o8) WHERE rider_id = :tired),
          'shift limit: nearest_riders leaves the rider out');
SELECT is((SELECT count(*) FROM dispatch.assign_batch(:z) WHERE rider_id = :tired), 0::bigint,
          'shift limit: assign_batch offers the rider nothing');

-- fatigue: online too long today
SELECT pg_temp.clear_orders() \g /dev/null
SELECT pg_temp.rider_(102.05, 30.046) AS daily \gset
SELECT pg_temp.order_() AS o9 \gset
SELECT pg_temp.offer_to(:daily, :o9) AS f9 \gset
SELECT pg_temp.order_() AS o10 \gset
UPDATE dispatch.riders SET stats_day = '2026-03-02', online_seconds_today = 11 * 3600 WHERE rider_id = :daily;
SELECT is(pg_temp.refusal(format('SELECT dispatch.respond_offer(%s, true)', :f9)),
          'DP020: rider ' || :daily || ' has been online longer than 600 minutes today',
          'daily limit: respond_offer refuses to accept (DP020)');
SELECT is(pg_temp.refusal(format($$SELECT dispatch.assign_manually(%s, %s, 'ops')$$, :o10, :daily)),
          'DP020: rider ' || :daily || ' has been online longer than 600 minutes today',
          'daily limit: assign_manually refuses with the same error');
SELECT ok(NOT EXISTS (SELECT FROM dispatch.nearest_riders(:o10) WHERE rider_id = :daily),
          'daily limit: nearest_riders leaves the rider out');
SELECT is((SELECT count(*) FROM dispatch.assign_batch(:z) WHERE rider_id = :daily), 0::bigint,
          'daily limit: assign_batch offers the rider nothing');

-- vehicle: the order is too long a trip for a rider on foot (2.5 km)
SELECT pg_temp.clear_orders() \g /dev/null
SELECT pg_temp.rider_(102.05, 30.046) AS walker \gset
SELECT pg_temp.order_(0.01) AS o11 \gset
SELECT pg_temp.offer_to(:walker, :o11) AS f11 \gset
SELECT pg_temp.order_(0.03) AS o12 \gset
UPDATE dispatch.riders SET vehicle = 'foot' WHERE rider_id = :walker;
UPDATE dispatch.orders SET distance_m = 3300 WHERE zone_id = :z AND order_id = :o11;
SELECT is(pg_temp.refusal(format('SELECT dispatch.respond_offer(%s, true)', :f11)),
          'DP020: order ' || :o11 || ' is too long a trip for rider ' || :walker || '''s foot',
          'trip limit: respond_offer refuses to accept (DP020)');
SELECT is(pg_temp.refusal(format($$SELECT dispatch.assign_manually(%s, %s, 'ops')$$, :o12, :walker)),
          'DP020: order ' || :o12 || ' is too long a trip for rider ' || :walker || '''s foot',
          'trip limit: assign_manually refuses with the same error');
SELECT ok(NOT EXISTS (SELECT FROM dispatch.nearest_riders(:o12) WHERE rider_id = :walker),
          'trip limit: nearest_riders leaves the rider out');
SELECT is((SELECT count(*) FROM dispatch.assign_batch(:z) WHERE rider_id = :walker), 0::bigint,
          'trip limit: assign_batch offers the rider nothing');

-- vehicle: the pickup is beyond a walker's 1.5 km
SELECT pg_temp.clear_orders() \g /dev/null
SELECT pg_temp.rider_(102.05, 30.046) AS stroller \gset
SELECT pg_temp.order_() AS o13 \gset
SELECT pg_temp.offer_to(:stroller, :o13) AS f13 \gset
SELECT pg_temp.order_() AS o14 \gset
UPDATE dispatch.riders SET vehicle = 'foot' WHERE rider_id = :stroller;
UPDATE dispatch.riders SET position = ST_SetSRID(ST_MakePoint(102.05, 30.032), 4326) WHERE rider_id = :stroller;
SELECT matches(pg_temp.refusal(format('SELECT dispatch.respond_offer(%s, true)', :f13)),
               '^DP020: rider ' || :stroller || ' is too far from the pickup of order ' || :o13 || '$',
               'pickup limit: respond_offer refuses to accept (DP020)');
SELECT matches(pg_temp.refusal(format($$SELECT dispatch.assign_manually(%s, %s, 'ops')$$, :o14, :stroller)),
               '^DP020: rider ' || :stroller || ' is too far from the pickup of order ' || :o14 || '$',
               'pickup limit: assign_manually refuses with the same error');
SELECT ok(NOT EXISTS (SELECT FROM dispatch.nearest_riders(:o14) WHERE rider_id = :stroller),
          'pickup limit: nearest_riders leaves the rider out');
SELECT is((SELECT count(*) FROM dispatch.assign_batch(:z) WHERE rider_id = :stroller), 0::bigint,
          'pickup limit: assign_batch offers the rider nothing');

-- a stale position
SELECT pg_temp.clear_orders() \g /dev/null
SELECT pg_temp.rider_(102.05, 30.046) AS quiet \gset
SELECT pg_temp.order_() AS o15 \gset
SELECT pg_temp.offer_to(:quiet, :o15) AS f15 \gset
SELECT pg_temp.order_() AS o16 \gset
UPDATE dispatch.riders SET position_at = dispatch.clock() - interval '10 minutes' WHERE rider_id = :quiet;
SELECT is(pg_temp.refusal(format('SELECT dispatch.respond_offer(%s, true)', :f15)),
          'DP020: rider ' || :quiet || ' has no recent position',
          'stale position: respond_offer refuses to accept (DP020)');
SELECT is(pg_temp.refusal(format($$SELECT dispatch.assign_manually(%s, %s, 'ops')$$, :o16, :quiet)),
          'DP020: rider ' || :quiet || ' has no recent position',
          'stale position: assign_manually refuses with the same error');
SELECT is((SELECT count(*) FROM dispatch.assign_batch(:z) WHERE rider_id = :quiet), 0::bigint,
          'stale position: assign_batch offers the rider nothing');

-- excluded for the order: it rejected an offer of it
SELECT pg_temp.clear_orders() \g /dev/null
SELECT pg_temp.rider_(102.05, 30.046, 2) AS picky \gset
SELECT pg_temp.order_() AS o17 \gset
SELECT pg_temp.offer_to(:picky, :o17) AS f17 \gset
SELECT dispatch.respond_offer(:f17, false, 'no') \g /dev/null
SELECT is(pg_temp.refusal(format($$SELECT dispatch.assign_manually(%s, %s, 'ops')$$, :o17, :picky)),
          'DP020: rider ' || :picky || ' is excluded for order ' || :o17,
          'an excluded rider: assign_manually refuses (DP020)');
SELECT pg_temp.rider_(102.05, 30.047, 2) AS keen \gset
SELECT is(ARRAY(SELECT n.rider_id FROM dispatch.nearest_riders(:o17) n WHERE n.rider_id IN (:picky, :keen)),
          ARRAY[:keen]::bigint[], 'an excluded rider: nearest_riders leaves it out, and lists the rider beside it');

-- ---------------------------------------------------------------------------
-- one rule: the index's predicate is the C text
-- ---------------------------------------------------------------------------

SELECT format('CREATE INDEX riders_rule_check ON dispatch.riders USING gist (position) WHERE %s',
              dispatch._rider_index_predicate()) AS ddl \gset
SELECT lives_ok(:'ddl', 'the predicate the C searches select on makes an index');
SELECT is((SELECT pg_get_expr(i.indpred, i.indrelid) FROM pg_index i WHERE i.indexrelid = 'dispatch.riders_rule_check'::regclass),
          (SELECT pg_get_expr(i.indpred, i.indrelid) FROM pg_index i WHERE i.indexrelid = 'dispatch.riders_available_idx'::regclass),
          'riders_available_idx has the predicate of MATCH_RIDER_INDEXED (src/match.h)');

SELECT function_privs_are('dispatch', '_rider_can_take', ARRAY['bigint', 'bigint', 'boolean'], 'dispatch_app', ARRAY[]::text[],
                          'the rule is internal: the app reaches it through the API only');

-- a cancelled order takes its pending offer with it, and tells the offer's
-- rider (an offer event, as every change of an offer writes)
SELECT pg_temp.rider_(102.05, 30.0455, 1) AS other \gset
SELECT pg_temp.only_(:other) \g /dev/null
SELECT pg_temp.clear_orders() \g /dev/null
SELECT pg_temp.order_() AS o_c \gset
CREATE TEMP TABLE b_c AS SELECT * FROM dispatch.assign_batch(:z);
SELECT offer_id AS f_c, rider_id AS r_c FROM b_c \gset
SELECT dispatch.cancel_order(:o_c, 'test') \g /dev/null
SELECT string_agg(e.payload->>'status' || ' ' || (e.payload->>'reason') || ' ' || e.rider_id, ',') AS ev
  FROM dispatch.events e
 WHERE e.zone_id = :z AND e.kind = 'offer' AND (e.payload->>'offer_id')::bigint = :f_c AND e.payload->>'status' = 'cancelled' \gset
SELECT is(:'ev'::text, 'cancelled order cancelled ' || :r_c, 'a cancelled order''s pending offer is cancelled, and its rider told');

-- a rider going offline lets its pending offer lapse, told to it too
SELECT pg_temp.order_() AS o_off \gset
CREATE TEMP TABLE b_off AS SELECT * FROM dispatch.assign_batch(:z);
SELECT offer_id AS f_off, rider_id AS r_off FROM b_off \gset
SELECT dispatch.rider_offline(:r_off) \g /dev/null
SELECT string_agg(e.payload->>'status' || ' ' || (e.payload->>'reason') || ' ' || e.rider_id, ',') AS ev
  FROM dispatch.events e
 WHERE e.zone_id = :z AND e.kind = 'offer' AND (e.payload->>'offer_id')::bigint = :f_off AND e.payload->>'status' = 'cancelled' \gset
SELECT is(:'ev'::text, 'cancelled rider went offline ' || :r_off, 'an offline rider''s pending offer lapses, and the rider is told');

-- a new day starts the daily counters again, in one place (the riders_shift
-- trigger), whether the day rolls at a status change or at a delivery
UPDATE dispatch.riders SET stats_day = '2026-03-01', orders_today = 7, earnings_today_cents = 900,
       online_seconds_today = 50 WHERE rider_id = :daily;
SELECT is((SELECT (orders_today, online_seconds_today)::text FROM dispatch.riders WHERE rider_id = :daily),
          '(7,50)', 'an edit of the counters on the same day stands');
SELECT dispatch._rider_day_roll(dispatch._rider_zone(:daily), :daily, dispatch.clock()) \g /dev/null
SELECT is((SELECT (stats_day, orders_today, earnings_today_cents, online_seconds_today)::text
             FROM dispatch.riders WHERE rider_id = :daily),
          '(2026-03-02,0,0,0)', 'the day roll starts today''s counters');

-- a zone's settings are its own row, else zone 0's: one rule for the batch
-- and for the rider trigger (_zone_setting_int)
DELETE FROM dispatch.matching_settings WHERE zone_id = :z;
SELECT is(dispatch._zone_setting_int(:z, 'min_break_minutes'),
          (SELECT min_break_minutes FROM dispatch.matching_settings WHERE zone_id = 0),
          'a zone without settings of its own has zone 0''s');
INSERT INTO dispatch.matching_settings (zone_id, min_break_minutes) VALUES (:z, 42);
SELECT is(dispatch._zone_setting_int(:z, 'min_break_minutes'), 42, 'a zone''s own row wins');
SELECT is(dispatch._zone_setting_int(987654, 'min_break_minutes'), NULL, 'an unknown zone has no settings');

SELECT * FROM finish();
ROLLBACK;
