-- test/pgtap/62_refunds.sql: cancelling a paid order refunds what was paid
-- (a record and a refund event), once; the payment service settles it;
-- refund_reconciliation shows the money adds up (sql/62_refunds.sql).
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(75);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql
-- a refund as stored, with the count of its order's refund events: what a
-- repeated report must leave as it was (plpgsql, so that on Citus the reads
-- run from the coordinator, one zone's rows each)
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

SELECT pg_temp.order_in('accepted') AS paid \gset
SELECT pg_temp.order_in('pending_payment') AS unpaid \gset
SELECT dispatch.cancel_order(:paid, 'customer changed mind') \g /dev/null
SELECT dispatch.cancel_order(:unpaid, 'customer changed mind') \g /dev/null

SELECT results_eq(format($$ SELECT amount_cents, status, reason FROM dispatch.refunds WHERE order_id = %s $$, :paid),
                  $$ VALUES (3100, 'pending', 'customer changed mind') $$, 'a cancelled paid order has a pending refund of what was paid');
SELECT is((SELECT count(*) FROM dispatch.refunds WHERE order_id = :unpaid), 0::bigint, 'an unpaid order is not refunded');
SELECT refund_id AS rf FROM dispatch.refunds WHERE order_id = :paid \gset
SELECT is(dispatch.zone_of(:rf), :zone::bigint, 'the refund id carries the zone');
SELECT results_eq(format($$ SELECT kind, (payload ->> 'refund_id')::bigint, (payload ->> 'amount_cents')::integer,
                                      (payload ->> 'attempt')::integer
                               FROM dispatch.events WHERE order_id = %s AND kind = 'refund' $$, :paid),
                  format('VALUES (%L, %s::bigint, 3100, 1)', 'refund', :rf), 'a refund event tells the payment service, attempt 1');
SELECT ok((SELECT NOT (payload ? 'reason') FROM dispatch.events WHERE order_id = :paid AND kind = 'refund'),
          'the event carries no free text');
SELECT lives_ok(format('SELECT dispatch.cancel_order(%s, %L)', :paid, 'again'), 'cancelling again is a no-op');
SELECT is((SELECT count(*) FROM dispatch.refunds WHERE order_id = :paid), 1::bigint, '... that refunds nothing more');
SELECT is((SELECT count(*) FROM dispatch.events WHERE order_id = :paid AND kind = 'refund'), 1::bigint, '... and sends no second event');

-- reconciliation: a pending refund counts; nothing is wrong
SELECT results_eq(format($$ SELECT paid_cents, refund_cents, problem FROM dispatch.refund_reconciliation WHERE order_id = %s $$, :paid),
                  $$ VALUES (3100::bigint, 3100::bigint, NULL::text) $$, 'paid and refunded add up');
SELECT is((SELECT count(*) FROM dispatch.refund_reconciliation WHERE problem IS NOT NULL), 0::bigint, 'no order''s money is out of line');

-- the payment service settles it, once
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, true, %L)', :rf, 'psp-r1'), 'the refund is paid back');
SELECT pg_temp.refund_state(:rf) AS rf_before \gset
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, true, %L)', :rf, 'psp-r1'), 'the same report again');
SELECT is(pg_temp.refund_state(:rf), :'rf_before'::jsonb, '... is a no-op: the refund and its events as they were');
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, true, %L)', :rf, E' psp-r1\t'),
                'the same report with white space around the reference (as confirm_payment takes it)');
SELECT is(pg_temp.refund_state(:rf), :'rf_before'::jsonb, '... is the same report: a no-op');
SELECT results_eq(format($$ SELECT status, provider_ref FROM dispatch.refunds WHERE refund_id = %s $$, :rf),
                  $$ VALUES ('succeeded', 'psp-r1') $$, 'settled with its reference');
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, false, NULL, %L)', :rf, 'card closed'), 'DP107', NULL,
                 'a settled refund is not settled otherwise');
SELECT throws_ok('SELECT dispatch.settle_refund(1099511627775, true, ''psp-x'')', 'DP106', NULL, 'an unknown refund');
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, NULL)', :rf), 'DP025', NULL, 'succeeded must be said');

-- a failed refund no longer counts: the order shows as not refunded
SELECT pg_temp.order_in('placed') AS paid2 \gset
SELECT dispatch.cancel_order(:paid2, 'out of stock') \g /dev/null
-- the refund's id read first: on Citus a call per row of a statement over
-- the refunds would run on their shards, where it cannot reach other tables
SELECT refund_id AS rf2 FROM dispatch.refunds WHERE order_id = :paid2 \gset
SELECT dispatch.settle_refund(:rf2, false, NULL, 'card closed') \g /dev/null
SELECT is((SELECT problem FROM dispatch.refund_reconciliation WHERE order_id = :paid2), 'cancelled, not refunded in full',
          'a failed refund leaves the order to be looked at');
-- ... and is tried again: pending, told again, then paid back
SELECT throws_ok(format('SELECT dispatch.retry_refund(%s)', :rf), 'DP107', NULL, 'a refund paid back is not tried again');
SELECT throws_ok('SELECT dispatch.retry_refund(1099511627775)', 'DP106', NULL, 'nor an unknown one');
SELECT lives_ok(format('SELECT dispatch.retry_refund(%s)', :rf2), 'a failed refund is tried again');
SELECT lives_ok(format('SELECT dispatch.retry_refund(%s)', :rf2), '... and again is a no-op while it is pending');
SELECT results_eq(format($$ SELECT status, provider_ref, failure_reason, settled_at, attempt FROM dispatch.refunds WHERE refund_id = %s $$, :rf2),
                  $$ VALUES ('pending', NULL::text, NULL::text, NULL::timestamptz, 2) $$, 'pending again, its failure cleared, attempt 2');
SELECT results_eq(format($$ SELECT (payload ->> 'refund_id')::bigint, (payload ->> 'amount_cents')::integer,
                                   (payload ->> 'attempt')::integer
                               FROM dispatch.events WHERE order_id = %s AND kind = 'refund' ORDER BY seq $$, :paid2),
                  format('VALUES (%s::bigint, 3100, 1), (%s::bigint, 3100, 2)', :rf2, :rf2),
                  'the payment service is told again, once: the same refund and amount, the next attempt');
SELECT is((SELECT problem FROM dispatch.refund_reconciliation WHERE order_id = :paid2), NULL::text,
          'a refund pending again counts');
SELECT dispatch.settle_refund(:rf2, true, 'psp-r2') \g /dev/null
SELECT is((SELECT status FROM dispatch.refunds WHERE refund_id = :rf2), 'succeeded', 'and is paid back');

-- a late repeat of an earlier attempt's report changes nothing: it cannot
-- fail the attempt under way, whose success would then be refused and a
-- further retry pay the customer twice
SELECT pg_temp.order_in('accepted') AS paid3 \gset
SELECT dispatch.cancel_order(:paid3, 'changed mind') \g /dev/null
SELECT refund_id AS rf3 FROM dispatch.refunds WHERE order_id = :paid3 \gset
SELECT dispatch.settle_refund(:rf3, false, NULL, 'bank timeout', 1) \g /dev/null
SELECT pg_temp.refund_state(:rf3) AS rf_before \gset
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, false, NULL, %L)', :rf3, 'timed out at the bank'),
                'a failure report again, with another reason');
SELECT is(pg_temp.refund_state(:rf3), :'rf_before'::jsonb,
          '... is a repeat whatever its reason: the refund (its first reason too) and its events as they were');
SELECT dispatch.retry_refund(:rf3) \g /dev/null
SELECT pg_temp.refund_state(:rf3) AS rf_before \gset
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, false, NULL, %L, 1)', :rf3, 'bank timeout'),
                'a late repeat of attempt 1''s failure after the retry');
SELECT is(pg_temp.refund_state(:rf3), :'rf_before'::jsonb, '... is a no-op: the refund and its events as they were');
SELECT results_eq(format($$ SELECT status, failure_reason, attempt FROM dispatch.refunds WHERE refund_id = %s $$, :rf3),
                  $$ VALUES ('pending', NULL::text, 2) $$, '... that leaves attempt 2 pending');
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, true, %L, attempt => 3)', :rf3, 'RF-3'), 'DP025', NULL,
                 'an attempt not yet made is refused');
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, true, %L, attempt => 0)', :rf3, 'RF-0'), 'DP025', NULL,
                 '... and so is attempt 0');
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, true, %L, attempt => 2)', :rf3, 'RF-2'),
                'attempt 2''s success is taken');
SELECT results_eq(format($$ SELECT status, provider_ref, attempt FROM dispatch.refunds WHERE refund_id = %s $$, :rf3),
                  $$ VALUES ('succeeded', 'RF-2', 2) $$, '... and the refund is paid back');
SELECT pg_temp.refund_state(:rf3) AS rf_before \gset
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, false, NULL, %L, 1)', :rf3, 'bank timeout'),
                'attempt 1''s failure repeated now');
SELECT is(pg_temp.refund_state(:rf3), :'rf_before'::jsonb,
          '... still changes nothing: the refund stays paid back, its events as they were');
SELECT throws_ok(format('SELECT dispatch.retry_refund(%s)', :rf3), 'DP107', NULL, 'and is not paid a second time');
SELECT is((SELECT problem FROM dispatch.refund_reconciliation WHERE order_id = :paid3), NULL::text, 'its money adds up');
-- a success of attempt 1 reported after the retry is money paid back: the
-- refund is paid, and attempt 2's success then is a second payment (DP107)
SELECT pg_temp.order_in('accepted') AS paid4 \gset
SELECT dispatch.cancel_order(:paid4, 'changed mind') \g /dev/null
SELECT refund_id AS rf4 FROM dispatch.refunds WHERE order_id = :paid4 \gset
SELECT dispatch.settle_refund(:rf4, false, NULL, 'bank timeout', 1) \g /dev/null
SELECT dispatch.retry_refund(:rf4) \g /dev/null
SELECT dispatch.settle_refund(:rf4, true, 'RF-late-1', NULL, 1) \g /dev/null
SELECT results_eq(format($$ SELECT status, provider_ref, attempt FROM dispatch.refunds WHERE refund_id = %s $$, :rf4),
                  $$ VALUES ('succeeded', 'RF-late-1', 2) $$, 'a late success of attempt 1 marks the refund paid back');
SELECT pg_temp.refund_state(:rf4) AS rf_before \gset
SELECT lives_ok(format('SELECT dispatch.settle_refund(%s, true, %L, attempt => 1)', :rf4, 'RF-late-1'),
                '... and repeated');
SELECT is(pg_temp.refund_state(:rf4), :'rf_before'::jsonb, '... is a no-op: the refund and its events as they were');
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, true, %L, attempt => 2)', :rf4, 'RF-4b'), 'DP107', NULL,
                 'attempt 2''s success then is refused: the customer was paid twice');
-- a success names the payment service's reference, as confirm_payment's
-- does: without one, two attempts that each paid the refund back would
-- read as the same report again, and the second payment go unseen
SELECT pg_temp.order_in('accepted') AS paid5 \gset
SELECT dispatch.cancel_order(:paid5, 'changed mind') \g /dev/null
SELECT refund_id AS rf5 FROM dispatch.refunds WHERE order_id = :paid5 \gset
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, true)', :rf5), 'DP025', NULL,
                 'a refund is not paid back without the payment service''s reference');
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, true, %L)', :rf5, E' \t'), 'DP025', NULL,
                 '... nor with a blank one');
SELECT dispatch.settle_refund(:rf5, false, NULL, 'bank timeout', 1) \g /dev/null
SELECT dispatch.retry_refund(:rf5) \g /dev/null
SELECT throws_ok(format('SELECT dispatch.settle_refund(%s, true, NULL, NULL, 1)', :rf5), 'DP025', NULL,
                 '... nor by the late report of an earlier attempt');
SELECT results_eq(format($$ SELECT status, provider_ref, attempt FROM dispatch.refunds WHERE refund_id = %s $$, :rf5),
                  $$ VALUES ('pending', NULL::text, 2) $$, '... which leave the refund pending');
-- a refund above what was paid (only a direct write can make one) is
-- labelled as such, not as a refund short of the payment
UPDATE dispatch.refunds SET amount_cents = 99999 WHERE zone_id = :rf3 >> 40 AND refund_id = :rf3;
SELECT is((SELECT problem FROM dispatch.refund_reconciliation WHERE order_id = :paid3), 'refunded more than paid',
          'a cancelled order refunded more than it paid is reported so');
UPDATE dispatch.refunds SET amount_cents = 3100 WHERE zone_id = :rf3 >> 40 AND refund_id = :rf3;

-- the provider's success for the unpaid order arrives after its
-- cancellation voided the payment: recorded, and refunded
SELECT lives_ok(format('SELECT dispatch.confirm_payment(%s, %L)', :unpaid, 'psp-late'),
                'a payment that succeeded after the order was cancelled is taken in');
-- (the zone's rows read first, then asserted: on Citus a statement naming
-- one zone runs on its worker)
SELECT total_cents AS u_total, status AS u_status FROM dispatch.orders WHERE zone_id = :unpaid >> 40 AND order_id = :unpaid \gset
SELECT status AS u_pay, provider_ref AS u_ref, amount_cents AS u_paid FROM dispatch.payments
 WHERE zone_id = :unpaid >> 40 AND order_id = :unpaid AND status = 'succeeded' \gset
SELECT status AS u_refund, reason AS u_reason, amount_cents AS u_refunded FROM dispatch.refunds
 WHERE zone_id = :unpaid >> 40 AND order_id = :unpaid \gset
SELECT count(*) AS u_told FROM dispatch.events WHERE zone_id = :unpaid >> 40 AND order_id = :unpaid AND kind = 'refund' \gset
SELECT is(format('%s %s %s %s', :'u_pay', :'u_ref', :u_paid = :u_total, :'u_status'), 'succeeded psp-late t cancelled',
          '... recorded as paid, of the order''s total, the order staying cancelled');
SELECT is(format('%s %s %s %s', :'u_refund', :'u_reason', :u_refunded = :u_total, :u_told), 'pending paid after cancellation t 1',
          '... and refunded in full, the payment service told');
SELECT lives_ok(format('SELECT dispatch.confirm_payment(%s, %L)', :unpaid, 'psp-late'), 'the same confirmation again is a no-op');
SELECT count(*) AS u_pays FROM dispatch.payments WHERE zone_id = :unpaid >> 40 AND order_id = :unpaid AND status = 'succeeded' \gset
SELECT count(*) AS u_refunds FROM dispatch.refunds WHERE zone_id = :unpaid >> 40 AND order_id = :unpaid \gset
SELECT is(:u_pays + :u_refunds, 2, '... that records and refunds nothing more');
SELECT throws_ok(format('SELECT dispatch.confirm_payment(%s, %L)', :unpaid, 'psp-other'), 'DP018', NULL,
                 'another success for it is refused, as for any paid order');
SELECT is((SELECT problem FROM dispatch.refund_reconciliation WHERE order_id = :unpaid), NULL::text, 'its money adds up');

-- the provider's success for an order whose payment failed, before the
-- customer retried: the order stays failed (the state machine leads from
-- there to a retry or a cancellation only); the money is recorded, and
-- refunded
SELECT pg_temp.order_in('payment_failed') AS failed \gset
SELECT lives_ok(format('SELECT dispatch.confirm_payment(%s, %L)', :failed, 'psp-after-fail'),
                'a payment that succeeded after the order''s payment failed is taken in');
SELECT total_cents AS f_total, status AS f_status FROM dispatch.orders WHERE zone_id = :failed >> 40 AND order_id = :failed \gset
SELECT payment_id AS f_pay, provider_ref AS f_ref, amount_cents AS f_paid FROM dispatch.payments
 WHERE zone_id = :failed >> 40 AND order_id = :failed AND status = 'succeeded' \gset
SELECT refund_id AS f_rf, payment_id AS f_rf_pay, status AS f_refund, reason AS f_reason, amount_cents AS f_refunded
  FROM dispatch.refunds WHERE zone_id = :failed >> 40 AND order_id = :failed \gset
SELECT count(*) AS f_told FROM dispatch.events WHERE zone_id = :failed >> 40 AND order_id = :failed AND kind = 'refund' \gset
SELECT is(format('%s %s %s', :'f_ref', :f_paid = :f_total, :'f_status'), 'psp-after-fail t payment_failed',
          '... recorded as paid, of the order''s total, the order staying in payment_failed');
SELECT is(format('%s %s %s %s %s', :'f_refund', :'f_reason', :f_refunded = :f_total, :f_rf_pay = :f_pay, :f_told),
          'pending paid after the payment failed t t 1', '... and that payment refunded in full, the payment service told');
SELECT pg_temp.refund_state(:f_rf) AS f_before \gset
SELECT lives_ok(format('SELECT dispatch.confirm_payment(%s, %L)', :failed, 'psp-after-fail'), 'the same confirmation again');
SELECT lives_ok(format('SELECT dispatch.fail_payment(%s, %L)', :failed, 'declined'), 'and the failure reported again');
SELECT count(*) AS f_pays FROM dispatch.payments WHERE zone_id = :failed >> 40 AND order_id = :failed \gset
SELECT is(format('%s %s', :f_pays, pg_temp.refund_state(:f_rf) = :'f_before'::jsonb), '2 t',
          '... are no-ops: no payment, refund or event more');
SELECT throws_ok(format('SELECT dispatch.confirm_payment(%s, %L)', :failed, 'psp-after-fail-2'), 'DP018', NULL,
                 'a second success while no attempt is pending is refused, as for a paid order');
SELECT is((SELECT problem FROM dispatch.refund_reconciliation WHERE order_id = :failed), NULL::text,
          'its money adds up: an order waiting for its payment keeps nothing');
-- the customer retries: the late success reported once more does not pay
-- the new attempt with money given back; the new attempt's own does
SELECT dispatch.retry_payment(:failed) \g /dev/null
SELECT lives_ok(format('SELECT dispatch.confirm_payment(%s, %L)', :failed, 'psp-after-fail'),
                'after the retry, the late success reported again');
SELECT status AS f_status FROM dispatch.orders WHERE zone_id = :failed >> 40 AND order_id = :failed \gset
SELECT is(:'f_status'::text, 'pending_payment', '... is a no-op: the new attempt still waits');
SELECT dispatch.confirm_payment(:failed, 'psp-attempt-2') \g /dev/null
SELECT status AS f_status FROM dispatch.orders WHERE zone_id = :failed >> 40 AND order_id = :failed \gset
SELECT is(:'f_status'::text, 'placed', 'the new attempt''s success pays the order');
SELECT results_eq(format($$ SELECT paid_cents, refund_cents, problem FROM dispatch.refund_reconciliation WHERE order_id = %s $$, :failed),
                  format('VALUES (%s::bigint, %s::bigint, NULL::text)', 2 * :f_total, :f_total),
                  '... which keeps its total, the late success refunded');
-- cancelled now, it refunds the payment that paid it as well
SELECT dispatch.cancel_order(:failed, 'customer changed mind') \g /dev/null
SELECT count(*) AS f_refunds, sum(amount_cents) AS f_refunded FROM dispatch.refunds
 WHERE zone_id = :failed >> 40 AND order_id = :failed \gset
SELECT count(*) AS f_told FROM dispatch.events WHERE zone_id = :failed >> 40 AND order_id = :failed AND kind = 'refund' \gset
SELECT is(format('%s %s %s', :f_refunds, :f_refunded = 2 * :f_total, :f_told), '2 t 2',
          'cancelling it refunds its second payment too (a refund per payment), the payment service told');
SELECT is((SELECT problem FROM dispatch.refund_reconciliation WHERE order_id = :failed), NULL::text, '... and its money adds up');
SELECT count(DISTINCT r.order_id) AS refunded_orders FROM dispatch.refunds r
  JOIN dispatch.orders o ON o.zone_id = r.zone_id AND o.order_id = r.order_id
 WHERE r.zone_id = :zone AND o.status = 'cancelled' \gset
SELECT sum(count) AS anomalies_refunded FROM dispatch.order_anomalies WHERE zone_id = :zone AND kind = 'refunded' \gset
SELECT is(:anomalies_refunded::bigint, :refunded_orders::bigint,
          '... counted once among the refunded orders of order_anomalies, whatever its refunds');
-- a refund of such a success that failed leaves money with an order that
-- waits for its payment: reported
SELECT pg_temp.order_in('payment_failed') AS failed2 \gset
SELECT dispatch.confirm_payment(:failed2, 'psp-after-fail-3') \g /dev/null
SELECT refund_id AS f2_rf FROM dispatch.refunds WHERE zone_id = :failed2 >> 40 AND order_id = :failed2 \gset
SELECT dispatch.settle_refund(:f2_rf, false, NULL, 'card closed') \g /dev/null
SELECT is((SELECT problem FROM dispatch.refund_reconciliation WHERE order_id = :failed2), 'paid while unpaid, not refunded in full',
          'a failed refund of a success after the payment failed is reported');

-- privileges.  The role is taken with set_config, as an analyst's own
-- session has it: on Citus the suite carries SET LOCAL to the workers, where
-- it would also switch the connections that the view's SECURITY DEFINER
-- function opens as the extension's owner (the same on one server).
SELECT set_config('role', 'dispatch_analyst', true) \g /dev/null
SELECT lives_ok('SELECT * FROM dispatch.refund_reconciliation', 'the analyst reads the reconciliation');
SELECT throws_ok('SELECT * FROM dispatch.refunds', '42501', NULL, 'but not the refunds table');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
