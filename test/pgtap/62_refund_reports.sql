-- test/pgtap/62_refund_reports.sql: what the payment service reports about
-- a refund is taken as money moved: a success after the same attempt was
-- reported failed (a timeout at the bank that paid after all) marks the
-- refund paid back, so that no retry pays it twice; and a reference names
-- one payout, so a success with the reference that paid another refund
-- back is refused (sql/62_refunds.sql).
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(15);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql
-- a refund as stored, with the count of its order's refund events
-- (plpgsql, so that on Citus the reads run from the coordinator, one
-- zone's rows each)
CREATE FUNCTION pg_temp.refund_state(p_refund bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v jsonb;
	n bigint;
BEGIN
	SELECT to_jsonb(r) INTO v FROM dispatch.refunds r WHERE r.zone_id = p_refund >> 40 AND r.refund_id = p_refund;
	SELECT count(*) INTO n FROM dispatch.events e
	 WHERE e.zone_id = p_refund >> 40 AND e.order_id = (v ->> 'order_id')::bigint AND e.kind = 'refund';
	RETURN v || jsonb_build_object('refund_events', n);
END $$;
-- a paid order, cancelled: its refund's id
CREATE FUNCTION pg_temp.cancelled_refund() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	o bigint := pg_temp.order_in('accepted');
	r bigint;
BEGIN
	PERFORM dispatch.cancel_order(o, 'changed mind');
	SELECT x.refund_id INTO r FROM dispatch.refunds x WHERE x.zone_id = o >> 40 AND x.order_id = o;
	RETURN r;
END $$;
CREATE FUNCTION pg_temp.refund_row(p_refund bigint) RETURNS text LANGUAGE sql AS $$
	SELECT format('%s %s %s %s', pg_temp.refund_state(p_refund) ->> 'status', pg_temp.refund_state(p_refund) ->> 'provider_ref',
	              COALESCE(pg_temp.refund_state(p_refund) ->> 'failure_reason', '-'), pg_temp.refund_state(p_refund) ->> 'attempt')
$$;

-- failed, then paid after all: the same attempt's success is money paid back
SELECT pg_temp.cancelled_refund() AS rf1 \gset
SELECT dispatch.settle_refund(:rf1, false, NULL, 'bank timeout', 1) \g /dev/null
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, true, %L, NULL, 1)', :rf1, 'RF-1'),
                'a success reported after the same attempt''s failure is taken');
SELECT is(pg_temp.refund_row(:rf1), 'succeeded RF-1 - 1', '... the refund paid back with its reference, the failure cleared');
SELECT throws_ok(format('SELECT dispatch.retry_refund(%s)', :rf1), 'DP107', NULL,
                 '... so that it is not tried (and paid) again');
SELECT pg_temp.refund_state(:rf1) AS rf1_before \gset
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, true, %L, NULL, 1)', :rf1, 'RF-1'), 'the success again');
SELECT is(pg_temp.refund_state(:rf1), :'rf1_before'::jsonb, '... is a no-op');
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, false, NULL, %L, 1)', :rf1, 'bank timeout'), 'DP107', NULL,
                 'a failure after the success is refused, as before');
-- the same without naming the attempt (the current one)
SELECT pg_temp.cancelled_refund() AS rf2 \gset
SELECT dispatch.settle_refund(:rf2, false, NULL, 'bank timeout') \g /dev/null
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, true, %L)', :rf2, 'RF-2'),
                'a success after a failure, the attempt not named');
SELECT is(pg_temp.refund_row(:rf2), 'succeeded RF-2 - 1', '... marks the refund paid back');
SELECT order_id AS o2 FROM dispatch.refunds WHERE zone_id = :rf2 >> 40 AND refund_id = :rf2 \gset
SELECT is((SELECT problem FROM dispatch.refund_reconciliation WHERE order_id = :o2), NULL::text, '... and its money adds up');

-- a reference names one payout: the one that paid another refund of the
-- zone back does not pay this one
SELECT pg_temp.cancelled_refund() AS rf3 \gset
SELECT pg_temp.refund_state(:rf3) AS rf3_before \gset
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, true, %L)', :rf3, 'RF-1'), 'DP110', NULL,
                 'a success with the reference that paid another refund back is refused');
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, true, %L)', :rf3, E' RF-1\t'), 'DP110', NULL,
                 '... with white space around it too');
SELECT is(pg_temp.refund_state(:rf3), :'rf3_before'::jsonb, '... leaving the refund pending, as it was');
SELECT dispatch.settle_refund(:rf3, false, NULL, 'bank timeout') \g /dev/null
SELECT dispatch.retry_refund(:rf3) \g /dev/null
SELECT pg_temp.refund_state(:rf3) AS rf3_before \gset
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, true, %L, NULL, 1)', :rf3, 'RF-2'), 'DP110', NULL,
                 '... and so is a late success of an earlier attempt with it');
SELECT is(pg_temp.refund_state(:rf3), :'rf3_before'::jsonb, '... which leaves attempt 2 pending');
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, true, %L, NULL, 2)', :rf3, 'RF-3'),
                'its own reference pays it back');

SELECT * FROM finish();
ROLLBACK;
