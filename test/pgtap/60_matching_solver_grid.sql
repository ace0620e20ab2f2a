-- test/pgtap/60_matching_solver_grid.sql: test/pgtap/60_matching_solver.sql with
-- matching_settings.candidate_source = 'grid' (every available rider read
-- once and bucketed in memory) instead of the index: the body,
-- test/fixtures/matching_solver.sql, must pass with either source.
\set QUIET on
BEGIN;
UPDATE dispatch.matching_settings SET candidate_source = 'grid' WHERE zone_id = 0;
\ir ../fixtures/matching_solver.sql
SELECT * FROM finish();
ROLLBACK;
