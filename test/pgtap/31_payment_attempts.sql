-- test/pgtap/31_payment_attempts.sql: retry_payment and fail_payment tell
-- an order's attempts apart by what happened to them, not by the order of
-- their payment ids.  On Citus each node numbers from its own range (its
-- group id << 36, docs/citus.md): an order placed on the zone's worker
-- (place_order_in_zone) has its first attempt numbered there, its retry
-- (retry_payment, run by the coordinator) from the coordinator's lower
-- range, and a zone moved to another worker numbers lower or higher again.
-- Here the payments' sequence is moved as those nodes number: the first
-- attempt from far above the retry's.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(7);
SET LOCAL dispatch.clock_override = '2031-05-06 12:00:00+00';
-- what a call returns, or the SQLSTATE it is refused with
CREATE FUNCTION pg_temp.outcome(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE r text;
BEGIN
	EXECUTE q INTO r;
	RETURN r;
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$f$;

SELECT pg_catalog.nextval('dispatch.payments_id_seq') AS low \gset
SELECT pg_catalog.setval('dispatch.payments_id_seq', :low + 1000000) \g /dev/null
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
                            121.445, 31.196, 'x') AS o \gset
SELECT dispatch.fail_payment(:o, 'card declined') \g /dev/null
-- the retry numbered below the first attempt, as by another node
SELECT pg_catalog.setval('dispatch.payments_id_seq', :low) \g /dev/null
SET LOCAL dispatch.clock_override = '2031-05-06 12:01:00+00';
SELECT dispatch.retry_payment(:o) AS p2 \gset
SELECT ok(:p2 < (SELECT min(payment_id) FROM dispatch.payments WHERE order_id = :o AND status = 'failed'),
          'the retry''s payment is numbered below the first attempt''s');

-- retry_payment again while the retry is pending: the same attempt
SELECT is(pg_temp.outcome(format('SELECT dispatch.retry_payment(%s)', :o)), :'p2',
          'retry_payment repeated returns the pending attempt again');
SELECT is((SELECT payment_attempt FROM dispatch.orders WHERE order_id = :o), 2, '... and the order stays at attempt 2');

-- the second attempt fails too, for another reason; the webhook repeats it
SET LOCAL dispatch.clock_override = '2031-05-06 12:02:00+00';
SELECT dispatch.fail_payment(:o, 'insufficient funds') \g /dev/null
SET LOCAL dispatch.clock_override = '2031-05-06 12:03:00+00';
SELECT lives_ok(format($$ SELECT dispatch.fail_payment(%s, 'insufficient funds') $$, :o),
                'the last failure repeated is a no-op');
SELECT throws_ok(format($$ SELECT dispatch.fail_payment(%s, 'card declined') $$, :o), 'DP018', NULL,
                 'the first attempt''s failure, not named as attempt 1, is no repeat of the last');
SELECT is((SELECT count(*) FROM dispatch.events WHERE order_id = :o AND payload->>'status' = 'payment_failed'), 2::bigint,
          'two failures, two events');
SELECT results_eq(format($$ SELECT status, failure_reason FROM dispatch.payments WHERE order_id = %s ORDER BY settled_at $$, :o),
                  $$ VALUES ('failed', 'card declined'), ('failed', 'insufficient funds') $$,
                  'each attempt keeps its own failure');

-- the sequence back above every id this file took
SELECT pg_catalog.setval('dispatch.payments_id_seq', :low + 1000001) \g /dev/null

SELECT * FROM finish();
ROLLBACK;
