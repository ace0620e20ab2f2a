-- test/pgtap/61_matching_ties.sql: riders at one distance from a pickup
-- (waiting at one spot) are taken by id, not by where their rows lie.  The
-- batch's nearest-neighbour scan fetches a fixed number of riders per
-- pickup (k_candidates + 4); where it stops among riders at one distance,
-- it keeps those strictly nearer and fills the places left with the riders
-- at that distance with the lowest ids, so the same state always gives the
-- same candidates and the same offers (docs/matching.md, "Candidates").
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
SELECT plan(5);

CREATE TEMP SEQUENCE phone_seq START 30000000;
SELECT dispatch.create_zone('ties', ST_MakeEnvelope(102.0, 30.0, 102.1, 30.1, 4326)) AS z \gset
SELECT dispatch.create_merchant(:z, 'shop', 102.05, 30.05, 10) AS shop \gset
SELECT dispatch.add_item(:shop, 'dish', 1500) AS dish \gset
-- two candidates an order: the scan fetches six riders a pickup (and one more)
UPDATE dispatch.matching_settings SET k_candidates = 2, widen_rounds = 0 WHERE zone_id = 0;

\ir ../fixtures/shop_order.sql
SELECT set_config('t.shop', :'shop', true), set_config('t.dish', :'dish', true) \g /dev/null

-- twelve riders waiting at one spot 500 m south of the shop, registered in
-- id order; then the six with the lowest ids report the same spot again, so
-- that their rows (and index entries) now lie after the others'
CREATE TEMP TABLE spot AS
SELECT dispatch.register_rider(:z, 'r' || g, '+86139' || nextval('phone_seq'), 1) AS rider_id
  FROM generate_series(1, 12) g;
SELECT count(dispatch.rider_online(rider_id, 102.05, 30.0455)) FROM spot \g /dev/null
SELECT count(dispatch.update_rider_location(rider_id, 102.05, 30.0455))
  FROM (SELECT rider_id FROM spot ORDER BY rider_id LIMIT 6) s \g /dev/null

SELECT pg_temp.order_() AS o1 \gset
SELECT is((SELECT array_agg(rider_id ORDER BY rider_id) FROM dispatch.assign_batch(:z)),
          (SELECT array_agg(rider_id ORDER BY rider_id) FROM (SELECT rider_id FROM spot ORDER BY rider_id LIMIT 1) s),
          'of twelve riders at one distance, the offer goes to the lowest id');
SELECT is((SELECT array_agg(c ORDER BY c) FROM dispatch.offer_audit a, unnest(a.candidate_ids) c WHERE a.order_id = :o1),
          (SELECT array_agg(rider_id ORDER BY rider_id) FROM (SELECT rider_id FROM spot ORDER BY rider_id LIMIT 2) s),
          'its candidates are the two lowest ids at that distance');

-- one more rider, strictly nearer (200 m), registered last: it is kept
-- before any rider of the spot, and the place left goes to the spot's
-- lowest id with a free slot
SELECT dispatch.register_rider(:z, 'near', '+86139' || nextval('phone_seq'), 1) AS near \gset
SELECT dispatch.rider_online(:near, 102.05, 30.0482) \g /dev/null
SELECT pg_temp.order_() AS o2 \gset
SELECT is((SELECT array_agg(rider_id) FROM dispatch.assign_batch(:z)), ARRAY[:near]::bigint[],
          'the strictly nearer rider gets the next order');
SELECT is((SELECT array_agg(c ORDER BY c) FROM dispatch.offer_audit a, unnest(a.candidate_ids) c WHERE a.order_id = :o2),
          (SELECT array_agg(r ORDER BY r)
             FROM (SELECT :near::bigint AS r
                   UNION ALL (SELECT rider_id FROM spot ORDER BY rider_id OFFSET 1 LIMIT 1)) s),
          'its candidates: the nearer rider and the lowest id at the spot with a free slot');

-- the same state gives the same candidates: a third order, batched twice
-- (the first batch rolled back)
SELECT pg_temp.order_() AS o3 \gset
SAVEPOINT again;
CREATE TEMP TABLE first_try AS SELECT rider_id FROM dispatch.assign_batch(:z);
CREATE TEMP TABLE first_audit AS SELECT candidate_ids FROM dispatch.offer_audit WHERE order_id = :o3;
SELECT array_agg(rider_id) AS r FROM first_try \gset first_
SELECT candidate_ids::text AS c FROM first_audit \gset first_
ROLLBACK TO SAVEPOINT again;
UPDATE dispatch.riders SET position = position WHERE rider_id IN (SELECT rider_id FROM spot ORDER BY rider_id DESC LIMIT 6);
CREATE TEMP TABLE second_try AS SELECT rider_id FROM dispatch.assign_batch(:z);
SELECT is(format('%s %s', (SELECT array_agg(rider_id) FROM second_try),
                 (SELECT candidate_ids::text FROM dispatch.offer_audit WHERE order_id = :o3)),
          format('%s %s', :'first_r', :'first_c'),
          'a batch on the same riders, their rows moved, makes the same offer from the same candidates');

SELECT * FROM finish();
ROLLBACK;
