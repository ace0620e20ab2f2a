-- test/pgtap/61_matching_rules_grid.sql: test/pgtap/61_matching_rules.sql with
-- matching_settings.candidate_source = 'grid' (every available rider read
-- once and bucketed in memory) instead of the index: the body,
-- test/fixtures/matching_rules.sql, must pass with either source.
\set QUIET on
BEGIN;
UPDATE dispatch.matching_settings SET candidate_source = 'grid' WHERE zone_id = 0;
\ir ../fixtures/matching_rules.sql
SELECT * FROM finish();
ROLLBACK;
