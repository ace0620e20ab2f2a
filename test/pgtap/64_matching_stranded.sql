-- test/pgtap/64_matching_stranded.sql: pruning candidates to the k nearest
-- strands no order.  In the city of
-- test/fixtures/stranded.sql (240 idle riders of capacity 1, 200 orders in
-- 25 quarters of a 15 x 10 km zone), assign_batch with the default
-- k_candidates = 12 leaves no order waiting while a rider still free after
-- the batch could take it below the hold cost, places as many orders as
-- with k_candidates = 200, and comes within 5 % of that batch's total
-- cost, for both candidate sources.  Without the widening pass
-- (widen_rounds = 0), about a quarter of the orders wait so.
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
SELECT plan(10);

\ir ../fixtures/stranded.sql

-- one batch with the given source and k; rolled back, its figures kept
CREATE TEMP TABLE runs (source text, k int, widen int, held int, total float8, method text, stranded int);
CREATE FUNCTION pg_temp.run(p_zone bigint, p_source text, p_k int, p_widen int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	r runs;
	v_hold float8;
	o bigint;
BEGIN
	UPDATE dispatch.matching_settings SET candidate_source = p_source, k_candidates = p_k, widen_rounds = p_widen
	 WHERE zone_id = 0;
	PERFORM count(*) FROM dispatch.assign_batch(p_zone);
	SELECT p_source, p_k, p_widen, b.held, b.total_cost, b.method, 0
	  INTO r
	  FROM dispatch.assign_batches b WHERE b.zone_id = p_zone ORDER BY b.batch_id DESC LIMIT 1;
	-- held orders that a rider still free could take below the hold cost,
	-- looked at one by one: nearest_riders is called from here, not in a
	-- statement on the zone's rows (on Citus that statement goes whole to the
	-- zone's worker, where nearest_riders cannot query the distributed tables)
	SELECT s.hold_cost INTO v_hold FROM dispatch.matching_settings s WHERE s.zone_id = 0;
	FOR o IN SELECT x.order_id FROM dispatch.orders x
	          WHERE x.zone_id = p_zone AND x.status = 'accepted'
	            AND NOT EXISTS (SELECT FROM dispatch.offers f
	                             WHERE f.zone_id = x.zone_id AND f.order_id = x.order_id AND f.status = 'pending') LOOP
		IF EXISTS (SELECT FROM dispatch.nearest_riders(o, 200) n WHERE n.cost < v_hold) THEN
			r.stranded := r.stranded + 1;
		END IF;
	END LOOP;
	RAISE EXCEPTION USING ERRCODE = 'P0099', MESSAGE = row_to_json(r)::text;
EXCEPTION WHEN SQLSTATE 'P0099' THEN
	INSERT INTO runs SELECT * FROM json_populate_record(NULL::runs, SQLERRM::json);
END $$;
SELECT pg_temp.run(:stranded_zone, s, k, w)
  FROM (VALUES ('index'), ('grid')) v(s), (VALUES (12, 0), (12, 3), (200, 3)) c(k, w);

SELECT cmp_ok((SELECT stranded FROM runs WHERE source = 'index' AND k = 12 AND widen = 0), '>', 20,
              'index, k = 12 without widening: pruning strands orders a free rider could take');
SELECT cmp_ok((SELECT stranded FROM runs WHERE source = 'grid' AND k = 12 AND widen = 0), '>', 20,
              'grid, k = 12 without widening: pruning strands orders a free rider could take');
DELETE FROM runs WHERE widen = 0;

SELECT is((SELECT held FROM runs WHERE source = 'index' AND k = 200), 0,
          'the fixture: with k_candidates = 200 every order is placed');

SELECT is((SELECT stranded FROM runs WHERE source = 'index' AND k = 12), 0,
          'index, k = 12: no held order has a free rider below its hold cost');
SELECT is((SELECT held FROM runs WHERE source = 'index' AND k = 12),
          (SELECT held FROM runs WHERE source = 'index' AND k = 200),
          'index, k = 12: as many orders wait as with k = 200');
SELECT cmp_ok((SELECT total FROM runs WHERE source = 'index' AND k = 12), '<=',
              1.05 * (SELECT total FROM runs WHERE source = 'index' AND k = 200),
              'index, k = 12: total cost within 5 % of the k = 200 batch');

SELECT is((SELECT stranded FROM runs WHERE source = 'grid' AND k = 12), 0,
          'grid, k = 12: no held order has a free rider below its hold cost');
SELECT is((SELECT held FROM runs WHERE source = 'grid' AND k = 12),
          (SELECT held FROM runs WHERE source = 'grid' AND k = 200),
          'grid, k = 12: as many orders wait as with k = 200');
SELECT cmp_ok((SELECT total FROM runs WHERE source = 'grid' AND k = 12), '<=',
              1.05 * (SELECT total FROM runs WHERE source = 'grid' AND k = 200),
              'grid, k = 12: total cost within 5 % of the k = 200 batch');

SELECT is((SELECT array_agg(DISTINCT method) FROM runs), '{exact}',
          'every batch was solved exactly');

SELECT * FROM finish();
ROLLBACK;
