-- bench/assign/stranded.sql: orders stranded by candidate pruning.
-- Builds the city of test/fixtures/stranded.sql (240 idle riders
-- of capacity 1, 200 orders in 25 quarters of a 15 x 10 km zone) and runs
-- assign_batch with k_candidates = 12 without widening (widen_rounds = 0,
-- the baseline: candidate pruning alone), 12 with the default widening
-- (3 rounds) and 200 (the optimum on this city), both candidate sources,
-- BENCH_RUNS times each (psql variable runs), every batch rolled back;
-- prints held orders, total cost, candidate pairs and the median time.
-- Run: ./tools/pgdev bench assign stranded   (or psql -v runs=11 -f this)
\set ON_ERROR_STOP 1
\set QUIET on
\if :{?runs}
\else
\set runs 11
\endif
BEGIN;
SET client_min_messages = warning;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
\ir ../../test/fixtures/stranded.sql
CREATE TEMP TABLE bench_runs (source text, k int, widen int, held int, total float8, arcs int, method text, ms float8);
CREATE FUNCTION pg_temp.run(p_zone bigint, p_source text, p_k int, p_widen int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	r bench_runs;
	t0 timestamptz;
BEGIN
	UPDATE dispatch.matching_settings SET candidate_source = p_source, k_candidates = p_k, widen_rounds = p_widen
	 WHERE zone_id = 0;
	t0 := clock_timestamp();
	PERFORM count(*) FROM dispatch.assign_batch(p_zone);
	SELECT p_source, p_k, p_widen, b.held, b.total_cost, b.arcs, b.method,
	       extract(epoch FROM clock_timestamp() - t0) * 1000
	  INTO r FROM dispatch.assign_batches b WHERE b.zone_id = p_zone ORDER BY b.batch_id DESC LIMIT 1;
	RAISE EXCEPTION USING ERRCODE = 'P0099', MESSAGE = row_to_json(r)::text;
EXCEPTION WHEN SQLSTATE 'P0099' THEN
	INSERT INTO bench_runs SELECT * FROM json_populate_record(NULL::bench_runs, SQLERRM::json);
END $$;
SELECT pg_temp.run(:stranded_zone, s, k, w)
  FROM generate_series(1, :runs) i, (VALUES ('index'), ('grid')) v(s),
       (VALUES (12, 0), (12, 3), (200, 3)) c(k, w) \g /dev/null
\pset footer off
\unset QUIET
SELECT source, k AS k_candidates, widen AS widen_rounds, min(held) AS held, max(held) AS held_max,
       round(min(total)::numeric, 1) AS total_cost, min(arcs) AS candidate_pairs, min(method) AS method,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 1) AS median_ms, count(*) AS runs
  FROM bench_runs GROUP BY 1, 2, 3 ORDER BY 1 DESC, 2, 3;
ROLLBACK;
