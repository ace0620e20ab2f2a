-- test/pgtap/61_matching_ties_grid.sql: test/pgtap/61_matching_ties.sql
-- with matching_settings.candidate_source = 'grid': every available rider
-- of the zone read in the order the scan meets them and bucketed in a grid
-- in memory, whose points at one distance are ordered by the riders' ids.
-- The batch's statements are kept per session and planned at its first
-- batch: with index scans off here, the riders are read in the order their
-- rows lie, the lowest ids among the last.
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
SET LOCAL enable_indexscan = off;
SET LOCAL enable_indexonlyscan = off;
SET LOCAL enable_bitmapscan = off;
UPDATE dispatch.matching_settings SET candidate_source = 'grid' WHERE zone_id = 0;
SELECT plan(6);

\ir ../fixtures/matching_ties.sql

SELECT * FROM finish();
ROLLBACK;
