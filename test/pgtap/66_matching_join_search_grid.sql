-- test/pgtap/66_matching_join_search_grid.sql:
-- test/pgtap/66_matching_join_search.sql with the zone's
-- matching_settings.candidate_source = 'grid' (every available rider read
-- once and bucketed in memory) instead of the index: the body,
-- test/fixtures/matching_join_search.sql, must pass with either source.
\set QUIET on
BEGIN;
\set source grid
\ir ../fixtures/matching_join_search.sql
SELECT * FROM finish();
ROLLBACK;
