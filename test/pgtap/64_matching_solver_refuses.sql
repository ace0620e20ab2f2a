-- test/pgtap/64_matching_solver_refuses.sql: a batch the assignment solver
-- refuses (DP307) fails as a whole and writes nothing.  With the shipped
-- settings only a bug reaches DP307; a load_penalty_s so large that a
-- rider's second slot costs more than the solver's 10^9 seconds does too.
\set QUIET on
BEGIN;
SET LOCAL dispatch.clock_override = '2026-03-01 12:00:00+00';
\ir ../fixtures/city.sql
SELECT plan(3);

SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'x') AS o \gset
SELECT dispatch.confirm_payment(:o, 'psp') \g /dev/null
SELECT dispatch.merchant_accept(:o) \g /dev/null

-- rider (capacity 2) has a second slot, which now costs 10^30 seconds
INSERT INTO dispatch.matching_settings (zone_id, load_penalty_s) VALUES (:zone, 1e30);
SELECT throws_ok(format('SELECT * FROM dispatch.assign_batch(%s)', :zone), 'DP307', NULL,
                 'a batch whose costs the solver cannot take is refused (DP307)');
SELECT is((SELECT count(*) FROM dispatch.offers WHERE zone_id = :zone), 0::bigint,
          'the refused batch wrote no offer');

UPDATE dispatch.matching_settings SET load_penalty_s = 300 WHERE zone_id = :zone;
SELECT is((SELECT count(*) FROM dispatch.assign_batch(:zone) WHERE order_id = :o), 1::bigint,
          'with a penalty in range the same batch offers the order');

SELECT * FROM finish();
ROLLBACK;
