-- test/pgtap/61_matching_rules.sql: who may be offered an order and what
-- happens to offers: capacity, staleness, fatigue, vehicle limits, holding,
-- answers, expiry, exclusions, riders going offline, cancelled orders,
-- audit, errors and privileges.
-- Candidates from the index (the default); 61_matching_rules_grid.sql runs the same
-- body (test/fixtures/matching_rules.sql) with the grid.
\set QUIET on
BEGIN;
\ir ../fixtures/matching_rules.sql
SELECT * FROM finish();
ROLLBACK;
