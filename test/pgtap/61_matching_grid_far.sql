-- test/pgtap/61_matching_grid_far.sql: the grid source keeps only the
-- riders within the radius of the batch's orders.  A rider whose position
-- lies far from the zone (a fix at 0, 0) is never a candidate, and added
-- to the grid it would stretch its cells over the whole box between them,
-- making every search visit nearly every rider; it is left out.
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
UPDATE dispatch.matching_settings SET candidate_source = 'grid', k_candidates = 2, widen_rounds = 0 WHERE zone_id = 0;
SELECT plan(3);

CREATE TEMP SEQUENCE phone_seq START 31000000;
SELECT dispatch.create_zone('grid far', ST_MakeEnvelope(102.0, 30.0, 102.1, 30.1, 4326)) AS z \gset
SELECT dispatch.create_merchant(:z, 'shop', 102.05, 30.05, 10) AS shop \gset
SELECT dispatch.add_item(:shop, 'dish', 1500) AS dish \gset
\ir ../fixtures/shop_order.sql
SELECT set_config('t.shop', :'shop', true), set_config('t.dish', :'dish', true) \g /dev/null

-- three riders near the shop (the nearest 300 m south), one whose last fix
-- is at 0, 0
CREATE TEMP TABLE near AS
SELECT g, dispatch.register_rider(:z, 'n' || g, '+86139' || nextval('phone_seq'), 1) AS rider_id
  FROM generate_series(1, 3) g;
SELECT count(dispatch.rider_online(rider_id, 102.05, 30.05 - 0.0027 * g)) FROM near \g /dev/null
SELECT dispatch.register_rider(:z, 'far', '+86139' || nextval('phone_seq'), 1) AS far \gset
SELECT dispatch.rider_online(:far, 102.06, 30.06) \g /dev/null
UPDATE dispatch.riders SET position = ST_SetSRID(ST_MakePoint(0, 0), 4326) WHERE rider_id = :far;

SELECT pg_temp.order_() AS o \gset
SELECT is((SELECT array_agg(rider_id) FROM dispatch.assign_batch(:z)),
          (SELECT array_agg(rider_id) FROM near WHERE g = 1),
          'the offer goes to the nearest rider');
-- the zone's row read first: on Citus a statement naming a zone goes whole
-- to its worker, where pgTAP has no plan
SELECT riders AS grid_riders FROM dispatch.assign_batches WHERE zone_id = :z ORDER BY batch_id DESC LIMIT 1 \gset
SELECT is(:grid_riders, 3, 'the grid holds the three riders within the radius, not the one at 0, 0');
SELECT is((SELECT array_agg(c ORDER BY c) FROM dispatch.offer_audit a, unnest(a.candidate_ids) c WHERE a.order_id = :o),
          (SELECT array_agg(rider_id ORDER BY rider_id) FROM near WHERE g <= 2),
          'its candidates are the two nearest');

SELECT * FROM finish();
ROLLBACK;
