-- test/pgtap/66_matching_join_search.sql: a rider whose plan names an
-- order's pickup as its next is a candidate for the order however many
-- riders stand nearer (the order joins its trip).  Candidates from the
-- index (the default); 66_matching_join_search_grid.sql runs the same body
-- (test/fixtures/matching_join_search.sql) with the grid.
\set QUIET on
BEGIN;
\set source index
\ir ../fixtures/matching_join_search.sql
SELECT * FROM finish();
ROLLBACK;
