-- test/pgtap/67_sync.sql: sync_rider answers every item (sql/67_sync.sql):
-- pings applied, tracked only when older, each before the first action not
-- older than it; actions in the batch's order, applied or rejected with the
-- SQLSTATE of the call; duplicates inside a batch and replayed batches
-- change nothing; malformed items are rejected alone; limits refuse the
-- whole call.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(67);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql
-- an item at a time given as 'HH:MI:SS' on the day of the test
CREATE FUNCTION pg_temp.ms(p text) RETURNS bigint LANGUAGE sql AS $$
	SELECT (extract(epoch FROM ('2027-03-01 ' || p || '+00')::timestamptz) * 1000)::bigint $$;
CREATE FUNCTION pg_temp.answers(p_batch jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(format('%s:%s:%s', item, outcome, coalesce(sqlstate, '-')), ' ' ORDER BY item)
	  FROM dispatch.sync_rider(current_setting('t.rider')::bigint, p_batch) $$;

-- Monday 1 March 2027: the rider starts a shift at 11:50; rider2 is off
SET LOCAL dispatch.clock_override = '2027-02-28 22:00:00+00';
SELECT dispatch.rider_offline(:rider), dispatch.rider_offline(:rider2) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-01 11:50:00+00';
SELECT dispatch.rider_online(:rider, 121.43, 31.19) \g /dev/null

-- pings, out of order: the newest (12:00:30) wins the position, the older
-- one is tracked; a ping from before the shift is tracked only
SET LOCAL dispatch.clock_override = '2027-03-01 12:01:00+00';
SELECT is(pg_temp.answers(format('[{"id": "p2", "at": %s, "type": "ping", "lon": 121.436, "lat": 31.187},
                                   {"id": "p1", "at": %s, "type": "ping", "lon": 121.431, "lat": 31.191}]',
                                  pg_temp.ms('12:00:30'), pg_temp.ms('12:00:10'))::jsonb),
          '1:applied:- 2:applied:-', 'two pings, given newest first, are applied');
SELECT results_eq(format('SELECT round(ST_X(position)::numeric, 3), position_at FROM dispatch.riders WHERE rider_id = %s', :rider),
                  $$ VALUES (121.436, timestamptz '2027-03-01 12:00:30+00') $$, 'the rider is where the newest ping says');
SELECT is((SELECT count(*) FROM dispatch.rider_tracks WHERE rider_id = :rider AND at BETWEEN '2027-03-01 12:00' AND '2027-03-01 12:01'),
          2::bigint, 'both are in the track');
SELECT results_eq(format($$ SELECT outcome, reason FROM dispatch.sync_rider(%s, '[{"id": "p0", "at": %s, "type": "ping", "lon": 121.40, "lat": 31.15}]') $$,
                         :rider, pg_temp.ms('11:59:00')),
                  $$ VALUES ('applied', 'tracked; older than the rider''s newest position, which stays') $$,
                  'an older ping is tracked and says so');
SELECT is((SELECT position_at FROM dispatch.riders WHERE rider_id = :rider), timestamptz '2027-03-01 12:00:30+00',
          '... and does not move the rider back');
SELECT is((SELECT count(*) FROM dispatch.rider_tracks WHERE rider_id = :rider AND at = '2027-03-01 11:59:00+00'), 1::bigint,
          '... but is in the track');

-- duplicates: an id repeated in one batch, and a replayed batch
SELECT is(pg_temp.answers(format('[{"id": "p3", "at": %1$s, "type": "ping", "lon": 121.437, "lat": 31.188},
                                   {"id": "p3", "at": %2$s, "type": "ping", "lon": 121.45, "lat": 31.20}]',
                                  pg_temp.ms('12:00:40'), pg_temp.ms('12:00:45'))::jsonb),
          '1:applied:- 2:duplicate:-', 'an id twice in one batch: the second is a duplicate');
SELECT is((SELECT count(*) FROM dispatch.rider_tracks WHERE rider_id = :rider AND at = '2027-03-01 12:00:45+00'), 0::bigint,
          '... and is not applied');
SELECT count(*) AS tracks_before FROM dispatch.rider_tracks WHERE rider_id = :rider \gset
SELECT is(pg_temp.answers(format('[{"id": "p2", "at": %s, "type": "ping", "lon": 121.436, "lat": 31.187},
                                   {"id": "p1", "at": %s, "type": "ping", "lon": 121.431, "lat": 31.191}]',
                                  pg_temp.ms('12:00:30'), pg_temp.ms('12:00:10'))::jsonb),
          '1:duplicate:- 2:duplicate:-', 'a replayed batch is all duplicates');
SELECT is((SELECT count(*) FROM dispatch.rider_tracks WHERE rider_id = :rider), :tracks_before::bigint, '... and changes nothing');
SELECT is((SELECT count(*) FROM dispatch.rider_sync_log WHERE rider_id = :rider), 4::bigint, 'every applied id is remembered once');

-- the break before this shift (offline from 22:00 the day before to 11:50)
-- is off shift too: a ping made then, synced or live, is refused (DP029);
-- one of the shift before the break is tracked
SELECT results_eq(format($$ SELECT outcome, reason, sqlstate FROM dispatch.sync_rider(%s, '[{"id": "b1", "at": %s, "type": "ping", "lon": 121.40, "lat": 31.15}]') $$,
                         :rider, pg_temp.ms('11:00:00')),
                  format($$ VALUES ('rejected', 'rider %s was offline then: no position is recorded off shift', 'DP029') $$, :rider),
                  'a synced ping made in the break before the shift is rejected (DP029)');
SELECT throws_ok(format($$ SELECT dispatch.update_rider_location(%s, 121.40, 31.15, '2027-03-01 11:00:10+00') $$, :rider),
                 'DP029', format('rider %s was offline at 2027-03-01 11:00:10+00: no position is recorded off shift', :rider),
                 '... and so is a live one');
SELECT lives_ok(format($$ SELECT dispatch.update_rider_location(%s, 121.40, 31.15, '2027-02-28 21:00:00+00') $$, :rider),
                '... not one made before the break');
SELECT count(*) AS break_tracked FROM dispatch.rider_tracks WHERE zone_id = :zone AND rider_id = :rider
   AND at IN ('2027-03-01 11:00:00+00', '2027-03-01 11:00:10+00', '2027-02-28 21:00:00+00') \gset
SELECT is(:break_tracked::bigint, 1::bigint, '... which alone is tracked');

-- before a rider's first shift it was never on shift: a rider registered
-- and online from 11:55 has no position to record before then, live (both
-- forms) or synced; the start of the shift itself is on shift
SET LOCAL dispatch.clock_override = '2027-03-01 11:55:00+00';
SELECT dispatch.register_rider(:zone, 'Test Rider Epsilon', '+8613900000006') AS new_rider \gset
SELECT dispatch.rider_online(:new_rider, 121.43, 31.19) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-01 12:01:00+00';
SELECT throws_ok(format($$ SELECT dispatch.update_rider_location(%s, 121.40, 31.15, '2027-03-01 11:54:00+00') $$, :new_rider),
                 'DP029', format('rider %s was offline at 2027-03-01 11:54:00+00: no position is recorded off shift', :new_rider),
                 'a live ping made before the rider''s first shift is refused (DP029)');
SELECT throws_ok(format($$ SELECT dispatch.update_rider_location_in_zone(%s, %s, 121.40, 31.15, '2027-02-01 08:00:00+00') $$, :zone, :new_rider),
                 'DP029', format('rider %s was offline at 2027-02-01 08:00:00+00: no position is recorded off shift', :new_rider),
                 '... so is one given with its zone');
SELECT results_eq(format($$ SELECT item, outcome, reason, sqlstate FROM dispatch.sync_rider(%s, %L) $$, :new_rider,
                         format('[{"id": "n1", "at": %s, "type": "ping", "lon": 121.40, "lat": 31.15},
                                  {"id": "n2", "at": %s, "type": "ping", "lon": 121.41, "lat": 31.16}]',
                                pg_temp.ms('11:54:59'), pg_temp.ms('11:56:00'))),
                  format($$ VALUES (1, 'rejected', 'rider %s was offline then: no position is recorded off shift', 'DP029'),
                                   (2, 'applied', NULL, NULL) $$, :new_rider),
                  '... and a synced one is rejected (DP029) alone, a ping of the shift applied');
SELECT results_eq(format('SELECT client_event_id, outcome, sqlstate FROM dispatch.rider_sync_log WHERE rider_id = %s ORDER BY 1', :new_rider),
                  $$ VALUES ('n1', 'rejected', 'DP029'), ('n2', 'applied', NULL) $$, '... remembered as rejected');
SELECT lives_ok(format($$ SELECT dispatch.update_rider_location(%s, 121.42, 31.17, '2027-03-01 11:55:00+00') $$, :new_rider),
                '... and a live ping at the start of the shift is recorded');
SELECT results_eq(format('SELECT at FROM dispatch.rider_tracks WHERE zone_id = %s AND rider_id = %s ORDER BY at', :zone, :new_rider),
                  $$ VALUES (timestamptz '2027-03-01 11:55:00+00'), ('2027-03-01 11:56:00+00') $$,
                  '... which with the synced one of the shift alone is tracked');
-- and so it stays once the rider has been offline and online again, and
-- while it is offline: a ping of the first shift is tracked, one from before
-- it is not
SET LOCAL dispatch.clock_override = '2027-03-01 12:02:00+00';
SELECT dispatch.rider_offline(:new_rider) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-01 12:03:00+00';
SELECT dispatch.rider_online(:new_rider, 121.43, 31.19) \g /dev/null
SELECT throws_ok(format($$ SELECT dispatch.update_rider_location(%s, 121.40, 31.15, '2027-03-01 11:50:00+00') $$, :new_rider),
                 'DP029', format('rider %s was offline at 2027-03-01 11:50:00+00: no position is recorded off shift', :new_rider),
                 'a live ping made before the first shift of a rider on its second is refused (DP029)');
SELECT results_eq(format($$ SELECT item, outcome, sqlstate FROM dispatch.sync_rider(%s, %L) $$, :new_rider,
                         format('[{"id": "n3", "at": %s, "type": "ping", "lon": 121.40, "lat": 31.15}]', pg_temp.ms('11:50:00'))),
                  $$ VALUES (1, 'rejected', 'DP029') $$, '... and a synced one');
SELECT dispatch.rider_offline(:new_rider) \g /dev/null
SELECT results_eq(format($$ SELECT item, outcome, reason, sqlstate FROM dispatch.sync_rider(%s, %L) $$, :new_rider,
                         format('[{"id": "n4", "at": %s, "type": "ping", "lon": 121.40, "lat": 31.15},
                                  {"id": "n5", "at": %s, "type": "ping", "lon": 121.41, "lat": 31.16}]',
                                pg_temp.ms('11:00:00'), pg_temp.ms('11:58:00'))),
                  format($$ VALUES (1, 'rejected', 'rider %s was offline then: no position is recorded off shift', 'DP029'),
                                   (2, 'applied', 'tracked; made before the rider went offline, whose position stays', NULL) $$, :new_rider),
                  '... and one synced after it went offline, where one of its first shift is tracked');
SELECT results_eq(format('SELECT at FROM dispatch.rider_tracks WHERE zone_id = %s AND rider_id = %s ORDER BY at', :zone, :new_rider),
                  $$ VALUES (timestamptz '2027-03-01 11:55:00+00'), ('2027-03-01 11:56:00+00'), ('2027-03-01 11:58:00+00') $$,
                  '... so that nothing from before the first shift is in the track');

-- actions in the app's time order: the rider's position is 10 minutes
-- old by 12:11; an offer answer at 12:10:50 comes with a ping of 12:10:40
-- listed after it, which makes the position fresh enough to accept
SET LOCAL dispatch.clock_override = '2027-03-01 12:10:30+00';
SELECT pg_temp.order_in('accepted') AS o1 \gset
SELECT dispatch.update_rider_location(:rider, 121.436, 31.187) \g /dev/null
SELECT offer_id AS f1 FROM dispatch.assign_batch(:zone) WHERE order_id = :o1 \gset
SET LOCAL dispatch.clock_override = '2027-03-01 12:11:00+00';
UPDATE dispatch.riders SET position_at = '2027-03-01 12:00:30+00' WHERE rider_id = :rider;
SELECT is(pg_temp.answers(format('[{"id": "a1", "at": %s, "type": "offer", "offer_id": %s, "accept": true},
                                   {"id": "p4", "at": %s, "type": "ping", "lon": 121.437, "lat": 31.188}]',
                                  pg_temp.ms('12:10:50'), :f1, pg_temp.ms('12:10:40'))::jsonb),
          '1:applied:- 2:applied:-', 'the ping before the answer is applied first: the offer is accepted');
SELECT results_eq(format('SELECT status, rider_id FROM dispatch.orders WHERE order_id = %s', :o1),
                  format('VALUES (%L, %s::bigint)', 'assigned', :rider), '... and the order is the rider''s');

-- picked up and delivered, offline, synced together; the order is stamped
-- with the time of the sync.  Actions go in the batch's order, the order
-- the app recorded them in: the phone's clock set back between the two
-- makes the delivery look older than the pickup, which does not matter
SET LOCAL dispatch.clock_override = '2027-03-01 12:30:00+00';
SELECT is(pg_temp.answers(format('[{"id": "u1", "at": %1$s, "type": "picked_up", "order_id": %3$s},
                                   {"id": "d1", "at": %2$s, "type": "delivered", "order_id": %3$s}]',
                                  pg_temp.ms('12:25:00'), pg_temp.ms('12:15:00'), :o1)::jsonb),
          '1:applied:- 2:applied:-', 'pickup then delivery, applied in the batch''s order whatever their times');
SELECT results_eq(format('SELECT status, picked_up_at, delivered_at FROM dispatch.orders WHERE order_id = %s', :o1),
                  $$ VALUES ('delivered', timestamptz '2027-03-01 12:30:00+00', timestamptz '2027-03-01 12:30:00+00') $$,
                  '... stamped at the sync');

-- actions no longer valid: the order was cancelled meanwhile; the offer
-- expired; an offer of another rider
SELECT dispatch.update_rider_location(:rider, 121.437, 31.188) \g /dev/null
SELECT pg_temp.order_in('assigned') AS o2 \gset
SELECT dispatch.cancel_order(:o2, 'customer left') \g /dev/null
SELECT results_eq(format($$ SELECT outcome, sqlstate FROM dispatch.sync_rider(%s, '[{"id": "u2", "at": %s, "type": "picked_up", "order_id": %s}]') $$,
                         :rider, pg_temp.ms('12:29:00'), :o2),
                  $$ VALUES ('rejected', 'DP104') $$, 'picking up an order cancelled meanwhile is rejected (DP104)');
SELECT pg_temp.order_in('accepted') AS o3 \gset
SELECT dispatch.update_rider_location(:rider, 121.437, 31.188) \g /dev/null
SELECT offer_id AS f3 FROM dispatch.assign_batch(:zone) WHERE order_id = :o3 \gset
SET LOCAL dispatch.clock_override = '2027-03-01 12:35:00+00';
SELECT results_eq(format($$ SELECT outcome, sqlstate FROM dispatch.sync_rider(%s, '[{"id": "a3", "at": %s, "type": "offer", "offer_id": %s, "accept": true}]') $$,
                         :rider, pg_temp.ms('12:30:20'), :f3),
                  $$ VALUES ('rejected', 'DP303') $$, 'answering an offer that expired meanwhile is rejected (DP303)');
SELECT results_eq(format('SELECT outcome, sqlstate FROM dispatch.rider_sync_log WHERE rider_id = %s AND client_event_id = %L', :rider, 'a3'),
                  $$ VALUES ('rejected', 'DP303') $$, 'the log keeps what became of it');
SELECT results_eq(format($$ SELECT outcome, sqlstate FROM dispatch.sync_rider(%s, '[{"id": "a3b", "at": %s, "type": "offer", "offer_id": %s, "accept": false}]') $$,
                         :rider2, pg_temp.ms('12:30:20'), :f3),
                  $$ VALUES ('rejected', 'DP703') $$, 'another rider cannot answer the offer (DP703)');
-- no position is recorded off shift: rider2 is offline, so its ping is
-- rejected (DP029) as that item alone, the others answered as ever; the
-- ping is neither tracked nor moves the rider, and is remembered rejected
SELECT ST_AsText(position) AS off_pos, position_at AS off_at FROM dispatch.riders WHERE rider_id = :rider2 \gset
SELECT results_eq(format($$ SELECT item, outcome, reason, sqlstate FROM dispatch.sync_rider(%s, %L) $$, :rider2,
                         format('[{"id": "q1", "at": %1$s, "type": "ping", "lon": 121.44, "lat": 31.19},
                                  {"id": "q2", "at": %2$s, "type": "offer", "offer_id": %3$s, "accept": false},
                                  {"id": "q3", "at": %2$s, "type": "ping", "lon": 500, "lat": 31.19}]',
                                pg_temp.ms('12:34:00'), pg_temp.ms('12:34:10'), :f3)),
                  format($$ VALUES (1, 'rejected', 'rider %s is offline: no position is recorded off shift', 'DP029'),
                                   (2, 'rejected', 'offer %s was made to another rider', 'DP703'),
                                   (3, 'rejected', 'a ping needs "lon" in [-180, 180] and "lat" in [-90, 90]', 'DP702') $$,
                         :rider2, :f3),
                  'an offline rider''s ping item is rejected (DP029), the others answered item by item');
SELECT count(*) AS off_tracked FROM dispatch.rider_tracks WHERE zone_id = :zone AND rider_id = :rider2 AND at = '2027-03-01 12:34:00+00' \gset
SELECT is(:off_tracked::bigint, 0::bigint, '... it is not tracked');
SELECT ST_AsText(position) AS off_pos2, position_at AS off_at2 FROM dispatch.riders WHERE rider_id = :rider2 \gset
SELECT is(ARRAY[:'off_pos2', :'off_at2'], ARRAY[:'off_pos', :'off_at'], '... nor moves the rider');
SELECT results_eq(format('SELECT outcome, sqlstate FROM dispatch.rider_sync_log WHERE rider_id = %s AND client_event_id = %L', :rider2, 'q1'),
                  $$ VALUES ('rejected', 'DP029') $$, '... and is remembered as rejected');
-- what the app cached before the rider went offline (22:00 the day
-- before) was made on shift: synced late, such a ping is tracked only, and
-- one made after is still refused
SELECT results_eq(format($$ SELECT item, outcome, reason, sqlstate FROM dispatch.sync_rider(%s, %L) $$, :rider2,
                         format('[{"id": "q4", "at": %s, "type": "ping", "lon": 121.45, "lat": 31.20},
                                  {"id": "q5", "at": %s, "type": "ping", "lon": 121.45, "lat": 31.20}]',
                                (extract(epoch FROM timestamptz '2027-02-28 21:59:00+00') * 1000)::bigint,
                                (extract(epoch FROM timestamptz '2027-02-28 22:01:00+00') * 1000)::bigint)),
                  format($$ VALUES (1, 'applied', 'tracked; made before the rider went offline, whose position stays', NULL),
                                   (2, 'rejected', 'rider %s is offline: no position is recorded off shift', 'DP029') $$,
                         :rider2),
                  'a ping cached before the rider went offline is tracked, one made after is rejected (DP029)');
SELECT count(*) AS late_tracked FROM dispatch.rider_tracks WHERE zone_id = :zone AND rider_id = :rider2
   AND at IN ('2027-02-28 21:59:00+00', '2027-02-28 22:01:00+00') \gset
SELECT is(:late_tracked::bigint, 1::bigint, '... the one made on shift is in the track');
SELECT ST_AsText(position) AS off_pos3, position_at AS off_at3 FROM dispatch.riders WHERE rider_id = :rider2 \gset
SELECT is(ARRAY[:'off_pos3', :'off_at3'], ARRAY[:'off_pos', :'off_at'], '... and does not move the offline rider');
SELECT is(pg_temp.answers(format('[{"id": "a3", "at": %s, "type": "offer", "offer_id": %s, "accept": true}]',
                                  pg_temp.ms('12:30:20'), :f3)::jsonb),
          '1:duplicate:-', 'a rejected item sent again is a duplicate');

-- one bad item does not sink the others
SELECT is(pg_temp.answers(format('[{"id": "p5", "at": %1$s, "type": "ping", "lon": 121.44, "lat": 31.19},
                                   {"id": "x1", "at": %1$s, "type": "ping", "lon": 500, "lat": 31.19},
                                   {"at": %1$s, "type": "ping", "lon": 121.44, "lat": 31.19},
                                   {"id": "x2", "at": "yesterday", "type": "ping", "lon": 121.44, "lat": 31.19},
                                   {"id": "x3", "at": %1$s, "type": "teleport"},
                                   {"id": "x4", "at": %1$s, "type": "offer", "offer_id": 1},
                                   "not an object",
                                   {"id": "x5", "at": %2$s, "type": "ping", "lon": 121.44, "lat": 31.19}]',
                                  pg_temp.ms('12:34:00'), pg_temp.ms('12:40:00'))::jsonb),
          '1:applied:- 2:rejected:DP702 3:rejected:DP702 4:rejected:DP702 5:rejected:DP702 6:rejected:DP702 7:rejected:DP702 8:rejected:DP024',
          'malformed items and a ping from the future are rejected alone');
SELECT is((SELECT reason FROM dispatch.sync_rider(:rider, '[{"id": "x6", "at": 1, "type": "offer", "offer_id": 1}]')),
          'an offer item needs "accept": true or false', 'the reason names what is wrong');
-- an offer answer's reason has the limit respond_offer gives it: one
-- past it is malformed, not cut short; one at it goes to the offer (which
-- does not exist here: DP301)
SELECT results_eq(format($$ SELECT outcome, reason, sqlstate FROM dispatch.sync_rider(%s, %L) $$, :rider,
                         jsonb_build_array(jsonb_build_object('id', 'x9', 'at', 1, 'type', 'offer', 'offer_id', 1, 'accept', false,
                                                              'reason', repeat('远', (SELECT max_length FROM dispatch.input_limits() WHERE input = 'reason') + 1)),
                                           jsonb_build_object('id', 'x10', 'at', 2, 'type', 'offer', 'offer_id', 1, 'accept', false,
                                                              'reason', repeat('远', (SELECT max_length FROM dispatch.input_limits() WHERE input = 'reason'))))),
                  format($$ VALUES ('rejected', 'an offer item''s "reason" has at most %s characters', 'DP702'),
                                   ('rejected', 'offer 1 does not exist', 'DP301') $$,
                         (SELECT max_length FROM dispatch.input_limits() WHERE input = 'reason')),
                  'a reason longer than respond_offer takes is malformed, one at the limit is passed on');
-- coordinates beyond float8's range, or below its smallest, are answered
-- item by item too, not by an error of the whole call
SELECT is(pg_temp.answers(format('[{"id": "x7", "at": %1$s, "type": "ping", "lon": 1e400, "lat": 31.19},
                                   {"id": "x8", "at": %1$s, "type": "ping", "lon": 121.44, "lat": -1e400},
                                   {"id": "p6", "at": %1$s, "type": "ping", "lon": 1e-400, "lat": 31.19}]',
                                  pg_temp.ms('12:33:00'))::jsonb),
          '1:rejected:DP702 2:rejected:DP702 3:applied:-',
          'a coordinate out of float8''s range is malformed, one below its smallest is 0');
SELECT is((SELECT position_at FROM dispatch.riders WHERE rider_id = :rider), timestamptz '2027-03-01 12:34:00+00',
          'the good ping of that batch moved the rider');
SELECT is((SELECT count(*) FROM dispatch.rider_sync_log WHERE client_event_id IN ('x1', 'x2', 'x3', 'x4', 'x6')), 0::bigint,
          'malformed items are not remembered: a corrected one can be sent again');
SELECT results_eq(format('SELECT outcome, sqlstate FROM dispatch.rider_sync_log WHERE rider_id = %s AND client_event_id = %L', :rider, 'x5'),
                  $$ VALUES ('rejected', 'DP024') $$, 'a rejected well-formed item is remembered as rejected');

-- an item's id is read from its own field, offer_id for an offer answer and
-- order_id for a pickup or delivery: offer and order ids share one layout,
-- so the other field may hold the id of something else
SELECT dispatch.update_rider_location(:rider, 121.437, 31.188) \g /dev/null
SELECT pg_temp.order_in('assigned') AS o4 \gset
SELECT pg_temp.order_in('assigned') AS o5 \gset
SELECT is(pg_temp.answers(format('[{"id": "u4", "at": %s, "type": "picked_up", "offer_id": %s, "order_id": %s}]',
                                  pg_temp.ms('12:34:10'), :o5, :o4)::jsonb),
          '1:applied:-', 'a pickup carrying an offer_id too acts on its order_id');
SELECT results_eq(format('SELECT order_id, status FROM dispatch.orders WHERE order_id IN (%s, %s) ORDER BY order_id', :o4, :o5),
                  format('VALUES (%s::bigint, %L::text), (%s, %L)', :o4, 'picked_up', :o5, 'assigned'),
                  '... that order is picked up, the one named by offer_id is not');
SELECT results_eq(format($$ SELECT outcome, reason, sqlstate FROM dispatch.sync_rider(%s, '[{"id": "a5", "at": %s, "type": "offer", "order_id": %s, "accept": false}]') $$,
                         :rider, pg_temp.ms('12:34:20'), :o5),
                  $$ VALUES ('rejected', 'an offer item needs "offer_id"', 'DP702') $$,
                  'an offer answer with an order_id but no offer_id is malformed');
SELECT results_eq(format($$ SELECT outcome, reason, sqlstate FROM dispatch.sync_rider(%s, '[{"id": "d5", "at": %s, "type": "delivered", "offer_id": %s}]') $$,
                         :rider, pg_temp.ms('12:34:20'), :o5),
                  $$ VALUES ('rejected', 'a delivered item needs "order_id"', 'DP702') $$,
                  'a delivery with an offer_id but no order_id is malformed');
SELECT is((SELECT status FROM dispatch.orders WHERE order_id = :o5), 'assigned', '... and neither touched the order');

-- a malformed item does not make a good one with its id a duplicate, even
-- when it sorts first (no "at"): it is neither applied nor remembered
SELECT is(pg_temp.answers(format('[{"id": "e1", "type": "delivered", "order_id": %1$s},
                                   {"id": "e1", "at": %2$s, "type": "delivered", "order_id": %1$s}]',
                                  :o4, pg_temp.ms('12:34:30'))::jsonb),
          '1:rejected:DP702 2:applied:-', 'a good item after a malformed one with its id is applied');
SELECT is((SELECT status FROM dispatch.orders WHERE order_id = :o4), 'delivered', '... the order is delivered');
SELECT is(pg_temp.answers(format('[{"id": "e2", "at": %1$s, "type": "picked_up", "order_id": %2$s},
                                   {"id": "e2", "at": %1$s, "type": "picked_up"},
                                   {"id": "e2", "at": %1$s, "type": "picked_up", "order_id": %2$s}]',
                                  pg_temp.ms('12:34:35'), :o5)::jsonb),
          '1:applied:- 2:rejected:DP702 3:duplicate:-', '... and among good items with one id the earliest still counts');

-- the whole call: bad batches and limits refuse it (an error, so nothing
-- of it stays)
SELECT throws_ok(format($$ SELECT * FROM dispatch.sync_rider(%s, '{"id": "p9"}') $$, :rider), 'DP701', NULL, 'a batch is an array');
SELECT throws_ok(format($$ SELECT * FROM dispatch.sync_rider(%s, NULL) $$, :rider), 'DP701', NULL, '... not NULL');
SELECT throws_ok(format($$ SELECT * FROM dispatch.sync_rider(-1, '[]') $$), 'DP015', NULL, 'an unknown rider');
SELECT throws_ok(format($$ SELECT * FROM dispatch.sync_rider(%s, %L) $$, :rider,
                        (SELECT jsonb_agg(jsonb_build_object('id', 'b' || i, 'at', pg_temp.ms('12:34:30'), 'type', 'ping', 'lon', 121.44, 'lat', 31.19))
                           FROM generate_series(1, (SELECT max_length + 1 FROM dispatch.input_limits() WHERE input = 'sync_items')) i)),
                 'DP028', NULL, 'a batch over the limit of items');
SELECT throws_ok(format($$ SELECT * FROM dispatch.sync_rider(%s, %L) $$, :rider,
                        jsonb_build_array(jsonb_build_object('id', 'big', 'at', pg_temp.ms('12:34:30'), 'type', 'ping', 'lon', 121.44, 'lat', 31.19,
                                                             'reason', repeat('x', (SELECT max_length FROM dispatch.input_limits() WHERE input = 'sync_item'))))),
                 'DP028', NULL, 'an item over the size limit');
SELECT throws_ok(format($$ SELECT * FROM dispatch.sync_rider_in_zone(%s, %s, %L) $$, :other_zone, :rider,
                        jsonb_build_array(jsonb_build_object('id', 'z1', 'at', pg_temp.ms('12:34:40'), 'type', 'ping', 'lon', 121.44, 'lat', 31.19))),
                 'DP015', format('rider %s does not exist in zone %s', :rider, :other_zone),
                 'a batch naming a zone not the rider''s is refused');
-- the batch naming the rider's zone: the same answers
SELECT results_eq(format($$ SELECT item, outcome, sqlstate FROM dispatch.sync_rider_in_zone(%s, %s, %L) $$, :zone, :rider,
                         jsonb_build_array(jsonb_build_object('id', 'z2', 'at', pg_temp.ms('12:34:40'), 'type', 'ping', 'lon', 121.441, 'lat', 31.191),
                                           jsonb_build_object('id', 'p2', 'at', pg_temp.ms('12:34:41'), 'type', 'ping', 'lon', 121.44, 'lat', 31.19))),
                  $$ VALUES (1, 'applied', NULL::text), (2, 'duplicate', NULL) $$,
                  'a batch naming the rider''s zone is applied, item by item, as sync_rider applies it');
-- (the zone's rows read first, then asserted: on Citus a statement that
-- names one zone runs on its worker, pgTAP call and all)
SELECT count(*) AS z2_logged FROM dispatch.rider_sync_log WHERE zone_id = :zone AND rider_id = :rider AND client_event_id = 'z2' \gset
SELECT is(:z2_logged::bigint, 1::bigint, '... and remembered');
SELECT is_empty(format($$ SELECT * FROM dispatch.sync_rider(%s, '[]') $$, :rider), 'an empty batch answers nothing');

-- privileges.  SET ROLE, not SET LOCAL ROLE: Citus carries a SET LOCAL to
-- the connections the transaction has open to its workers
-- (citus.propagate_set_commands = local), which would then run the statements
-- of the SECURITY DEFINER sync_rider as dispatch_app there; the transaction
-- is rolled back, which undoes SET ROLE all the same.
SET ROLE dispatch_app;
SELECT lives_ok(format($$ SELECT * FROM dispatch.sync_rider(%s, '[]') $$, :rider), 'the app syncs');
SELECT throws_ok('SELECT * FROM dispatch.rider_sync_log', '42501', NULL, 'but does not read the log');
RESET ROLE;

SELECT * FROM finish();
