-- test/pgtap/62_matching_late.sql: an order that is already late is still
-- dispatched when a rider is near; waiting would only make it later.
\set QUIET on
BEGIN;
SET LOCAL dispatch.clock_override = '2026-03-01 12:00:00+00';
\ir ../fixtures/city.sql
SELECT plan(3);

SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'x') AS o \gset
SELECT dispatch.confirm_payment(:o, 'psp') \g /dev/null
SELECT dispatch.merchant_accept(:o, '2026-03-01 12:10:00+00') \g /dev/null

-- an hour after its promise, a rider 300 m from the merchant pings
SET LOCAL dispatch.clock_override = '2026-03-01 13:30:00+00';
SELECT dispatch.update_rider_location(:rider2, 121.440, 31.188) \g /dev/null
SELECT ok((SELECT late_s > 3000 FROM dispatch.nearest_riders(:o, 1)), 'the order is far past its promise');
SELECT is((SELECT count(*) FROM dispatch.assign_batch(:zone) WHERE order_id = :o), 1::bigint,
	'the late order gets an offer instead of being held');
-- read first: a statement naming the zone goes whole to its Citus worker,
-- where pgTAP has no plan
SELECT (SELECT rider_id FROM dispatch.offers WHERE zone_id = :zone AND order_id = :o AND status = 'pending') AS v \gset
SELECT is(:'v'::bigint, :rider2::bigint, 'to the rider who can come');

SELECT * FROM finish();
ROLLBACK;
