-- test/pgtap/62_refund_failure_reason.sql: settle_refund reports a failed
-- refund with a reason, as fail_payment reports a failed payment: none
-- (NULL, empty or white space only) is DP025 and writes nothing
-- (sql/62_refunds.sql).
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(6);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql
-- a refund as stored (plpgsql, so that on Citus the read runs from the
-- coordinator, in the refund's zone)
CREATE FUNCTION pg_temp.refund_state(p_refund bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN (SELECT to_jsonb(r) FROM dispatch.refunds r WHERE r.zone_id = p_refund >> 40 AND r.refund_id = p_refund);
END $$;

SELECT pg_temp.order_in('accepted') AS paid \gset
SELECT dispatch.cancel_order(:paid, 'customer changed mind') \g /dev/null
SELECT refund_id AS rf FROM dispatch.refunds WHERE order_id = :paid \gset
SELECT pg_temp.refund_state(:rf) AS before \gset

SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, false)', :rf), 'DP025', NULL,
                 'a failure without a reason is refused');
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, false, failure_reason => %L)', :rf, ''), 'DP025', NULL,
                 '... with an empty one');
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, false, failure_reason => %L)', :rf, E' \t '), 'DP025', NULL,
                 '... or one of white space');
SELECT is(pg_temp.refund_state(:rf), :'before'::jsonb, 'the refund is left pending, as it was');
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, false, failure_reason => %L)', :rf, 'card closed'),
                'a failure with its reason is taken');
SELECT is(pg_temp.refund_state(:rf) ->> 'failure_reason', 'card closed', '... and kept');

SELECT * FROM finish();
ROLLBACK;
