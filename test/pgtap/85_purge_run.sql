-- test/pgtap/85_purge_run.sql: purge_expired_step(batch_size, run_id) counts
-- its batch into the run named, which purge_expired began in the same
-- session (sql/78_retention.sql).  A run_id that names no run, a run that
-- is over, or another session's run is refused (DP411) with nothing
-- purged: its batch would be logged in no run, or in a run that does not
-- own it, and purge_runs would no longer say what the purge did.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(8);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;

-- something to purge: an order left unpaid for two days, which a batch
-- cancels as abandoned (dispatch.unpaid_order_minutes, a day)
SELECT (now() - interval '2 days')::text AS old \gset
SET LOCAL dispatch.clock_override = :'old';
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Unpaid Road 1') AS o \gset
RESET dispatch.clock_override;

SELECT COALESCE(max(run_id), 0) + 1000 AS no_run FROM dispatch.purge_runs \gset
SELECT throws_ok(format('SELECT dispatch.purge_expired_step(10, %s)', :no_run), 'DP411', NULL,
                 'a run_id that names no purge run is refused (DP411)');
SELECT is((SELECT status FROM dispatch.orders WHERE order_id = :o), 'pending_payment',
          '... and nothing is purged: the unpaid order is still waiting');

-- a run that is over, and a run of another session
INSERT INTO dispatch.purge_runs (status, finished_at) VALUES ('done', now()) RETURNING run_id AS done_run \gset
SELECT throws_ok(format('SELECT dispatch.purge_expired_step(10, %s)', :done_run), 'DP411', NULL,
                 'a run that is over is refused (DP411)');
INSERT INTO dispatch.purge_runs (status, pid) VALUES ('running', pg_backend_pid() + 100000) RETURNING run_id AS other_run \gset
SELECT throws_ok(format('SELECT dispatch.purge_expired_step(10, %s)', :other_run), 'DP411', NULL,
                 'another session''s run is refused (DP411)');
SELECT is((SELECT sum(batches) FROM dispatch.purge_runs WHERE run_id IN (:done_run, :other_run)),
          0::bigint, '... neither counts a batch');
SELECT is((SELECT status FROM dispatch.orders WHERE order_id = :o), 'pending_payment',
          '... and nothing is purged');

-- the run this session began, as purge_expired does
UPDATE dispatch.purge_runs SET status = 'aborted', finished_at = now() WHERE run_id = :other_run;
SELECT dispatch._purge_begin('running') AS run \gset
SELECT is(dispatch.purge_expired_step(10, :run) >= 1, true, 'the run this session began takes the batch');
SELECT results_eq(format($$ SELECT o.status, r.batches, (r.rows ->> 'unpaid_orders')::int
                              FROM dispatch.orders o, dispatch.purge_runs r
                             WHERE o.order_id = %s AND r.run_id = %s $$, :o, :run),
                  $$ VALUES ('cancelled', 1, 1) $$,
                  '... cancels the unpaid order and logs it in that run');

SELECT * FROM finish();
ROLLBACK;
