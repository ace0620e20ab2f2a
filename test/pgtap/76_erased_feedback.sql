-- test/pgtap/76_erased_feedback.sql: an erased customer (forget_customer)
-- gives no more feedback.  submit_feedback and answer_survey refuse them
-- with DP012, as the other calls naming an erased customer do, with or
-- without a comment, and write nothing: no review, no answer, no complaint
-- ticket (a rating of 1 would open one), no points.  A review given before
-- the erasure stays one.  Values of one zone's rows are read into psql
-- variables first (on Citus a SELECT naming one zone is sent whole to the
-- zone's worker).
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(12);

\ir ../fixtures/order_in.sql
SELECT dispatch.create_campaign('Points for reviews', 'points', '{"earn_per_yuan": 0, "feedback_points": 10}') \g /dev/null
SELECT dispatch.register_customer('+8613800000094', 'Test Customer Erased') AS gone \gset
SELECT set_config('t.customer', :'gone', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
SELECT pg_temp.order_in('delivered') AS reviewed \gset
SELECT pg_temp.order_in('delivered') AS o1 \gset
SELECT pg_temp.order_in('delivered') AS o2 \gset
SELECT pg_temp.order_in('delivered') AS o3 \gset
SELECT dispatch.submit_feedback(:reviewed, 4, NULL) AS before_review \gset
SELECT dispatch.create_survey('delivery', :o3) AS survey \gset
SELECT dispatch.forget_customer(:gone) \g /dev/null

-- what the customer has in the zone, after the erasure (PL/pgSQL, one
-- statement per table: on Citus each is sent to the zone's worker)
CREATE FUNCTION pg_temp.written(p_zone bigint, p_customer bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_reviews bigint;
	v_tickets bigint;
	v_answers bigint;
	v_points bigint;
BEGIN
	SELECT count(*) INTO v_reviews FROM dispatch.feedback f WHERE f.zone_id = p_zone AND f.customer_id = p_customer;
	SELECT count(*) INTO v_tickets FROM dispatch.complaint_tickets t
	  JOIN dispatch.orders o ON o.zone_id = t.zone_id AND o.order_id = t.order_id
	 WHERE t.zone_id = p_zone AND o.zone_id = p_zone AND o.customer_id = p_customer;
	SELECT count(*) INTO v_answers FROM dispatch.survey_answers a WHERE a.zone_id = p_zone AND a.customer_id = p_customer;
	SELECT count(*) INTO v_points FROM dispatch.points_ledger l WHERE l.zone_id = p_zone AND l.customer_id = p_customer;
	RETURN format('reviews %s, tickets %s, answers %s, points %s', v_reviews, v_tickets, v_answers, v_points);
END
$$;
SELECT pg_temp.written(:zone, :gone) AS before \gset

------------------------------------------------------------------------------
-- submit_feedback

SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, 1, NULL)', :o1), 'DP012', NULL,
	'a rating of 1 without a comment from an erased customer is refused (DP012)');
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, 5, NULL, %L)', :o2, 'web'), 'DP012', NULL,
	'so is any rating without a comment');
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, 2, %L)', :o1, 'cold and late'), 'DP012', NULL,
	'and a review with a comment, the same way');
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, NULL, %L)', :o2, 'spilled everywhere'), 'DP012', NULL,
	'and a comment alone');
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, 4, NULL)', :reviewed), 'DP012', NULL,
	'a review given before the erasure, sent again, is refused too');
SELECT pg_temp.written(:zone, :gone) AS after_feedback \gset
SELECT is(:'after_feedback'::text, :'before'::text, 'nothing was written: no review, no complaint ticket, no points');
SELECT is(:'before'::text, 'reviews 1, tickets 0, answers 0, points 1',
	'(the one review of before the erasure, which opened no ticket, and its points)');

------------------------------------------------------------------------------
-- answer_survey

SELECT throws_ok(format('SELECT dispatch.answer_survey(%s, %s, 1)', :survey, :gone), 'DP012', NULL,
	'a survey answer of 1 star without a comment from an erased customer is refused (DP012)');
SELECT throws_ok(format('SELECT dispatch.answer_survey(%s, %s, 3, %L)', :survey, :gone, 'ok I guess'), 'DP012', NULL,
	'and one with a comment, the same way');
SELECT pg_temp.written(:zone, :gone) AS after_answer \gset
SELECT is(:'after_answer'::text, :'before'::text, 'nothing was written: no answer, no points');

------------------------------------------------------------------------------
-- a customer not erased still reviews and answers

SELECT set_config('t.customer', :'customer', true) \g /dev/null
SELECT pg_temp.order_in('delivered') AS live \gset
SELECT ok(dispatch.submit_feedback(:live, 1, NULL) > 0, 'a live customer''s rating of 1 is recorded');
SELECT dispatch.create_survey('delivery', :live) AS live_survey \gset
SELECT ok(dispatch.answer_survey(:live_survey, :customer, 2) > 0, 'and their survey answer');

SELECT * FROM finish();
ROLLBACK;
