-- test/pgtap/61_matching_ties.sql: riders at one distance from a pickup
-- (waiting at one spot) are taken by id, not by where their rows lie.  The
-- batch's nearest-neighbour scan fetches a fixed number of riders per
-- pickup (k_candidates + 4); where it stops among riders at one distance,
-- it keeps those strictly nearer and fills the places left with the riders
-- at that distance with the lowest ids, so the same state always gives the
-- same candidates and the same offers (docs/matching.md, "Candidates").
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
SELECT plan(6);

\ir ../fixtures/matching_ties.sql

SELECT * FROM finish();
ROLLBACK;
