-- test/pgtap/82_rider_rights.sql: riders are subjects too.  export_rider
-- gives a rider everything stored about them and nothing of their
-- customers; forget_rider is refused while they hold orders, and afterwards
-- their name, phone and tracks are unreadable while their deliveries still
-- count for pay and analytics.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(36);

-- the rider has been on shift for an hour: its pings of the last minutes
-- are recorded (none is before its first shift)
UPDATE dispatch.riders SET online_since = dispatch.clock() - interval '1 hour', first_online_at = dispatch.clock() - interval '1 hour'
 WHERE zone_id = :zone AND rider_id = :rider;
SELECT dispatch.update_rider_location(:rider, 121.431, 31.191, dispatch.clock() - interval '2 minutes') \g /dev/null
SELECT dispatch.update_rider_location(:rider, 121.432, 31.192, dispatch.clock() - interval '1 minute') \g /dev/null
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Customer Secret Road 9') AS o1 \gset
SELECT dispatch.confirm_payment(:o1, 'psp-1') \g /dev/null
SELECT dispatch.merchant_accept(:o1) \g /dev/null
SELECT dispatch.assign_manually(:o1, :rider, 'test dispatcher') \g /dev/null

SELECT dispatch.export_rider(:rider) AS export \gset
SELECT is(:'export'::jsonb #>> '{profile,name}', 'Test Rider Gamma', 'export_rider opens the rider''s name');
SELECT is(:'export'::jsonb #>> '{profile,phone}', '+8613900000003', 'and phone');
SELECT ok(jsonb_array_length(:'export'::jsonb -> 'tracks') >= 2, 'their tracks are in it');
SELECT is(:'export'::jsonb #>> '{orders,0,order_id}', :o1::text, 'their orders, by id and status');
SELECT ok(:'export' !~ 'Customer Secret|Test Customer|8613800000001', 'nothing of the customer: no address, name or phone');
SELECT is((SELECT count(*) FROM dispatch.pii_access_log WHERE subject = 'rider' AND subject_id = :rider AND purpose = 'export'),
	1::bigint, 'the export is logged');

-- what the rider's app synced, an order they released (with their own
-- words) and their shifts' starts and ends are theirs too
SELECT dispatch.place_order(:customer2, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Customer Secret Road 10') AS o0 \gset
SELECT dispatch.confirm_payment(:o0, 'psp-0') \g /dev/null
SELECT dispatch.merchant_accept(:o0) \g /dev/null
SELECT dispatch.assign_manually(:o0, :rider, 'test dispatcher') \g /dev/null
SELECT dispatch.release_order(:o0, :rider, 'Gamma''s own words: a flat tyre') \g /dev/null
SELECT count(*) FROM dispatch.sync_rider(:rider, jsonb_build_array(jsonb_build_object(
       'id', 'gamma-ping-1', 'type', 'ping', 'lon', 121.433, 'lat', 31.193,
       'at', (extract(epoch FROM dispatch.clock() - interval '30 seconds') * 1000)::bigint))) \g /dev/null
SELECT dispatch.export_rider(:rider) AS export2 \gset
SELECT ok(:'export2'::jsonb -> 'sync_log' @> '[{"client_event_id": "gamma-ping-1", "kind": "ping", "outcome": "applied"}]',
	'export_rider has the rider''s sync log');
SELECT ok(:'export2'::jsonb -> 'exclusions' @> jsonb_build_array(jsonb_build_object(
          'order_id', :o0, 'reason', 'released', 'detail', 'Gamma''s own words: a flat tyre')),
	'and the orders they are excluded from, with the words they gave');
SELECT ok(:'export2'::jsonb -> 'status_events' @> '[{"kind": "rider_status", "payload": {"status": "online"}}]',
	'and their rider_status events');

-- offers the rider accepted with words of their own: one delivered, one
-- accepted and then released (rider2 is off, so the batch offers them to
-- the rider)
SELECT dispatch.rider_offline(:rider2) \g /dev/null
CREATE FUNCTION pg_temp.offered(p_address text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	o bigint;
BEGIN
	o := dispatch.place_order(current_setting('t.customer')::bigint, current_setting('t.merchant')::bigint,
	                          format('[{"item_id": %s, "qty": 1}]', current_setting('t.item'))::jsonb,
	                          121.445, 31.196, p_address);
	PERFORM dispatch.confirm_payment(o, 'psp-' || o);
	PERFORM dispatch.merchant_accept(o);
	RETURN (SELECT b.offer_id FROM dispatch.assign_batch(dispatch.zone_of(o)) b WHERE b.order_id = o);
END $$;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true) \g /dev/null
SELECT pg_temp.offered('Customer Secret Road 11') AS f2 \gset
SELECT dispatch.respond_offer(:f2, true, 'Gamma''s own words: near the shop') \g /dev/null
SELECT order_id AS o2 FROM dispatch.offers WHERE offer_id = :f2 \gset
SELECT dispatch.release_order(:o2, :rider, 'Gamma''s own words: the scooter broke') \g /dev/null
SELECT pg_temp.offered('Customer Secret Road 12') AS f3 \gset
SELECT dispatch.respond_offer(:f3, true, 'Gamma''s own words: five minutes') \g /dev/null
SELECT order_id AS o3 FROM dispatch.offers WHERE offer_id = :f3 \gset
SELECT results_eq(format('SELECT status, reason FROM dispatch.offers WHERE offer_id IN (%s, %s) ORDER BY offer_id', :f2, :f3),
	$$VALUES ('released', 'Gamma''s own words: near the shop'), ('accepted', 'Gamma''s own words: five minutes')$$,
	'an accept keeps the rider''s words, released or not');

-- how matching weighed the rider is theirs too (GDPR art. 15(1)(h)): every
-- offer they were a candidate for, from offer_audit, with their own cost
-- components (docs/operations.md: export_customer leaves offer_audit to
-- export_rider)
-- (the count read first: on Citus a statement naming a zone goes whole to
-- its worker, where pgTAP cannot work)
SELECT dispatch.export_rider(:rider) AS export3 \gset
SELECT count(*) AS weighed FROM dispatch.offer_audit WHERE zone_id = :zone AND :rider = ANY (candidate_ids) \gset
SELECT is(jsonb_array_length(:'export3'::jsonb -> 'matching'), :weighed::integer,
	'export_rider has every offer matching weighed the rider for');
SELECT ok(:'export3'::jsonb -> 'matching' @> jsonb_build_array(jsonb_build_object('offer_id', :f2, 'rank', 1, 'chosen', true))
          AND (SELECT bool_and(m ? 'cost' AND m ? 'distance_m' AND m ? 'fairness' AND m ? 'fatigue')
                 FROM jsonb_array_elements(:'export3'::jsonb -> 'matching') m),
	'with their rank, whether they were chosen and their cost components');

SELECT (SELECT count(*) FROM dispatch.rider_tracks WHERE rider_id = :rider) AS tracks_before \gset
SELECT throws_ok(format('SELECT dispatch.forget_rider(%s)', :rider), 'DP413', NULL,
	'a rider holding an order cannot be erased');

SELECT dispatch.mark_picked_up(:o1, :rider) \g /dev/null
SELECT dispatch.mark_delivered(:o1, :rider) \g /dev/null
SELECT dispatch.mark_picked_up(:o3, :rider) \g /dev/null
SELECT dispatch.mark_delivered(:o3, :rider) \g /dev/null
SELECT (SELECT count(*) FROM dispatch.rider_pay WHERE rider_id = :rider) AS pay_before \gset
-- the rider said when the shift ends
SELECT dispatch.rider_online(:rider, 121.43, 31.19, dispatch.clock() + interval '4 hours') \g /dev/null
SELECT is(dispatch.forget_rider(:rider), :tracks_before::bigint + 1, 'delivered, the rider is erased: tracks and profile');
SELECT is((SELECT count(*) FROM dispatch.rider_tracks WHERE rider_id = :rider), 0::bigint, 'the tracks are gone');
SELECT is((SELECT row(name_enc, phone_enc, phone_index, position, status, shift_ends_at)::text FROM dispatch.riders WHERE rider_id = :rider),
	'(,,,,offline,)', 'name, phone, blind index and position are gone; the rider is offline, with no shift end');
SELECT is((SELECT count(*) FROM dispatch.subject_keys WHERE subject = 'rider' AND subject_id = :rider), 0::bigint,
	'the data key is shredded');
SELECT is((SELECT count(*) FROM dispatch.rider_pay WHERE rider_id = :rider), :pay_before::bigint,
	'their deliveries still count for pay');
SELECT ok(:pay_before > 0 AND (SELECT deliveries FROM dispatch.rider_earnings WHERE rider_id = :rider) = :pay_before,
	'and for the earnings view, under the bare id');
SELECT is((SELECT count(*) FROM dispatch.rider_sync_log WHERE rider_id = :rider), 0::bigint,
	'what the rider''s app synced is gone');
SELECT results_eq(format($$SELECT reason, detail IS NULL FROM dispatch.offer_exclusions WHERE order_id = %s AND rider_id = %s$$, :o0, :rider),
	$$VALUES ('released', true)$$, 'the release stays, without the rider''s words');
SELECT is((SELECT count(*) FROM dispatch.offers WHERE rider_id = :rider AND reason IS NOT NULL), 0::bigint,
	'no offer of the rider keeps their words, whatever its status');
SELECT results_eq(format('SELECT status FROM dispatch.offers WHERE offer_id IN (%s, %s) ORDER BY offer_id', :f2, :f3),
	$$VALUES ('released'), ('accepted')$$, 'the offers and their answers stay');
SELECT is(dispatch.forget_rider(:rider), 0::bigint, 'a repeat is a no-op');
SELECT throws_ok(format('SELECT dispatch.rider_online(%s, 121.43, 31.19)', :rider), 'DP015', NULL,
	'an erased rider cannot come back online');
SELECT is((SELECT dispatch.export_rider(:rider) #>> '{profile,name}'), NULL, 'an export after erasure opens nothing');

-- a forgotten rider's pings are refused like an unknown rider's, and
-- nothing of them is stored again: no position, no track, no sync log
SELECT throws_ok(format('SELECT dispatch.update_rider_location(%s, 121.433, 31.193, dispatch.clock() - interval ''5 seconds'')', :rider),
	'DP015', NULL, 'an erased rider''s ping is refused (DP015)');
SELECT throws_ok(format('SELECT dispatch.update_rider_location_in_zone(%s, %s, 121.433, 31.193, dispatch.clock() - interval ''5 seconds'')',
                        :zone, :rider),
	'DP015', NULL, 'and so is its zone form');
SELECT throws_ok(format($$SELECT * FROM dispatch.sync_rider(%s, jsonb_build_array(jsonb_build_object(
                            'id', 'after-erasure', 'type', 'ping', 'lon', 121.434, 'lat', 31.194,
                            'at', (extract(epoch FROM dispatch.clock() - interval '5 seconds') * 1000)::bigint)))$$, :rider),
	'DP015', NULL, 'an erased rider''s offline sync is refused (DP015)');
SELECT is((SELECT count(*) FROM dispatch.rider_tracks WHERE rider_id = :rider)
          + (SELECT count(*) FROM dispatch.rider_sync_log WHERE rider_id = :rider AND client_event_id = 'after-erasure'), 0::bigint,
	'no track row and no sync log row is written after erasure');
SELECT is((SELECT row(position, position_at)::text FROM dispatch.riders WHERE rider_id = :rider), '(,)',
	'and no position');
-- nor a plan: an erased rider is refused as an unknown one, not answered
-- as a rider who holds no orders
SELECT throws_ok(format('SELECT dispatch.update_rider_plan(%s, dispatch.clock() + interval ''5 minutes'', 121.433, 31.193)', :rider),
	'DP015', format('rider %s does not exist', :rider), 'an erased rider''s plan is refused (DP015)');
SELECT throws_ok(format('SELECT dispatch.update_rider_plan_in_zone(%s, %s, dispatch.clock() + interval ''5 minutes'', 121.433, 31.193)',
                        :zone, :rider),
	'DP015', format('rider %s does not exist', :rider), 'and so is its zone form');

-- two riders weighed for one order: each export has their own part of
-- the audit only, never the other candidate
SELECT dispatch.register_rider(:zone, 'Test Rider Epsilon', '+8613900000006', 3) AS r5 \gset
SELECT dispatch.register_rider(:zone, 'Test Rider Zeta', '+8613900000007', 3) AS r6 \gset
SELECT dispatch.rider_online(:r5, 121.436, 31.187) \g /dev/null
SELECT dispatch.rider_online(:r6, 121.441, 31.191) \g /dev/null
SELECT pg_temp.offered('Customer Secret Road 13') AS f5 \gset
SELECT cardinality(candidate_ids) AS f5_candidates FROM dispatch.offer_audit WHERE zone_id = :zone AND offer_id = :f5 \gset
SELECT is(:f5_candidates::integer, 2, 'both riders were candidates of the offer');
SELECT is(ARRAY(SELECT format('%s:%s', m ->> 'rank', m ->> 'chosen')
                  FROM unnest(ARRAY[:r5, :r6]) r, jsonb_array_elements(dispatch.export_rider(r) -> 'matching') m
                 WHERE (m ->> 'offer_id')::bigint = :f5 ORDER BY (m ->> 'rank')::integer),
          ARRAY['1:true', '2:false']::text[],
	'each rider''s export has their own entry for it, the chosen one and the other');
SELECT is((SELECT array_agg(DISTINCT k ORDER BY k)
             FROM unnest(ARRAY[:r5, :r6]) r, jsonb_array_elements(dispatch.export_rider(r) -> 'matching') m, jsonb_object_keys(m) k),
          ARRAY['batch_id', 'chosen', 'cost', 'distance_m', 'fairness', 'fatigue', 'food_wait_s', 'late_s', 'load_penalty',
                'method', 'offer_id', 'order_id', 'priority_factor', 'rank', 'rider_wait_s', 'travel_s'],
	'and nothing of the other candidates (no candidate list)');

SELECT * FROM finish();
ROLLBACK;
