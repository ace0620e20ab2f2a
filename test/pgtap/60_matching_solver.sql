-- test/pgtap/60_matching_solver.sql: assign_batch finds the minimum total
-- cost: on small random zones its total equals a brute force over every
-- assignment of orders to rider slots (or waiting), computed in SQL from
-- the costs nearest_riders reports; ties are decided the same way each time.
-- Candidates from the index (the default); 60_matching_solver_grid.sql runs the same
-- body (test/fixtures/matching_solver.sql) with the grid.
\set QUIET on
BEGIN;
\ir ../fixtures/matching_solver.sql
SELECT * FROM finish();
ROLLBACK;
