-- test/pgtap/90_growth_views.sql: the analyst views of the growth rollup
-- (sql/90_growth.sql) on a small data set whose figures are worked out by
-- hand below, and the analyst reads every view and no base table.  The
-- rollup runs in full here (an incremental run reads the outbox up to the
-- horizon of committed transactions, which a test transaction never passes:
-- test/tap/growth_rollup.t covers it).
\set QUIET on
BEGIN;
SET LOCAL dispatch.clock_override = '2026-03-02 10:00:00+00';
\ir ../fixtures/city.sql
SELECT plan(15);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;

-- the day moves on: the rider takes a break, so that no shift runs long
CREATE FUNCTION pg_temp.at(p_at timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE r bigint := current_setting('t.rider')::bigint;
BEGIN
	PERFORM dispatch.rider_offline(r);
	-- SET LOCAL, not set_config(): on Citus only SET LOCAL reaches the workers
	EXECUTE format('SET LOCAL dispatch.clock_override = %L', p_at);
	PERFORM dispatch.rider_online(r, 121.43, 31.19);
END $$;
-- two noodles (5,600 cents) for a customer, with a code or not, delivered or not
CREATE FUNCTION pg_temp.buy(p_customer bigint, p_code text, p_deliver boolean) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	o bigint;
	r bigint := current_setting('t.rider')::bigint;
BEGIN
	o := dispatch.place_order(p_customer, current_setting('t.merchant')::bigint,
	                          jsonb_build_array(jsonb_build_object('item_id', current_setting('t.noodles')::bigint, 'qty', 2)),
	                          121.445, 31.196, 'somewhere', 'normal', p_code);
	PERFORM dispatch.confirm_payment(o, 'ref-' || o);
	IF p_deliver THEN
		PERFORM dispatch.merchant_accept(o);
		PERFORM dispatch.assign_manually(o, r, 'test');
		PERFORM dispatch.mark_picked_up(o, r);
		PERFORM dispatch.mark_delivered(o, r);
	END IF;
	RETURN o;
END $$;
SELECT set_config('t.merchant', :'merchant', true), set_config('t.noodles', :'noodles', true),
       set_config('t.rider', :'rider', true) \g /dev/null
SELECT dispatch.register_customer('+8613800000301', 'C') AS c3 \gset

-- week of Monday 2 March: A takes SPRING on a first order (delivered, then
-- a one-star review: a ticket, resolved within the day); B orders without
-- a code; C takes SPRING and cancels (nothing counts)
SELECT dispatch.create_campaign('Spring', 'limited_time', '{"amount_off_cents": 500}', NULL, NULL,
                                '2026-03-20 00:00:00+00', NULL, 'SPRING') AS spring \gset
SELECT pg_temp.buy(:customer, 'SPRING', true) AS a1 \gset
SELECT pg_temp.buy(:customer2, NULL, true) \g /dev/null
SELECT dispatch.cancel_order(pg_temp.buy(:c3, 'SPRING', false), 'changed mind') \g /dev/null
SELECT dispatch.submit_feedback(:a1, 1, '太慢了，饭都凉了') \g /dev/null
SELECT pg_temp.at('2026-03-02 18:00:00+00');
SELECT dispatch.resolve_ticket((SELECT ticket_id FROM dispatch.complaint_tickets), 'refunded the fee') \g /dev/null
-- the week after, A again; three weeks after, B again
SELECT pg_temp.at('2026-03-10 12:00:00+00');
SELECT pg_temp.buy(:customer, NULL, true) \g /dev/null
SELECT pg_temp.at('2026-03-23 12:00:00+00');
SELECT pg_temp.buy(:customer2, NULL, true) \g /dev/null
-- the campaign has ended; A answers its survey: 4 stars
SELECT dispatch.answer_survey(dispatch.create_survey('campaign', NULL, :spring), :customer, 4, NULL) \g /dev/null
SELECT pg_temp.at('2026-04-15 12:00:00+00');
SELECT dispatch.rollup_campaigns(true) \g /dev/null
SELECT throws_ok($$ SELECT dispatch.rollup_campaigns(NULL) $$, 'DP025', NULL,
                 'rollup_campaigns without saying whether to rebuild (NULL) is refused (DP025), not a not-null violation after its work');

-- campaign_performance: one redemption held (C's was given back), A
-- acquired by it, 5,900 GMV (5,600 and a 300 delivery fee) at a cost of
-- 500: ROI (5900 - 500) / 500 = 10.8; A was acquired more than 30 days ago and ordered again 8 days later
SELECT results_eq(
	format($$ SELECT campaign, redemptions, new_customers, orders, gmv_cents, cost_cents, cost_per_acquisition_cents,
	                 roi, acquired_30d_ago, repeat_rate_30d
	            FROM dispatch.campaign_performance WHERE campaign_id = %s $$, :spring),
	$$ VALUES ('Spring', 1::bigint, 1::bigint, 1::bigint, 5900::bigint, 500::bigint, 500.00::numeric(14, 2),
	           10.800::numeric(12, 3), 1::bigint, 1.0000::numeric(5, 4)) $$,
	'campaign_performance on the hand-checked set');

-- customer_retention: the cohort of 2 March is A and B (C never counted);
-- A came back in week 1, B in week 3
SELECT results_eq(
	$$ SELECT cohort_week, customers, week_1, week_2, week_3, week_4 FROM dispatch.customer_retention $$,
	$$ VALUES ('2026-03-02'::date, 2::bigint, 0.5000::numeric(5, 4), NULL::numeric(5, 4), 0.5000::numeric(5, 4), NULL::numeric(5, 4)) $$,
	'customer_retention: one cohort, back in weeks 1 and 3');

-- customer_segments on 15 April: A last ordered 36 days ago, twice
-- (hibernating), B 23 days ago, twice (promising); A paid 5,400 + 5,900,
-- B 5,900 + 5,900 (each with a delivery fee of 300)
SELECT results_eq(
	$$ SELECT segment, customers, share, mean_orders, lifetime_value_cents FROM dispatch.customer_segments ORDER BY segment $$,
	$$ VALUES ('hibernating', 1::bigint, 0.5000::numeric(5, 4), 2.00::numeric(10, 2), 11300::numeric),
	          ('promising', 1::bigint, 0.5000::numeric(5, 4), 2.00::numeric(10, 2), 11800::numeric) $$,
	'customer_segments by recency and frequency');

-- monthly_review of March: 4 orders count, 1 cancelled, GMV 4 x 5,900,
-- 500 of discount; the review is negative, late and cold; one ticket,
-- resolved in time; the Spring survey
SELECT results_eq(
	$$ SELECT month, active_customers, orders, delivered, cancelled, gmv_cents, discount_cents, customers_acquired,
	          campaign_cost_cents, campaign_roi, reviews, share_negative, top_complaints,
	          tickets_opened, tickets_resolved_in_24h, tickets_overdue
	     FROM dispatch.monthly_review $$,
	$$ VALUES ('2026-03-01'::date, 2::bigint, 4::bigint, 4::bigint, 1::bigint, 23600::numeric, 500::numeric, 1::bigint,
	           500::numeric, 10.800::numeric(12, 3), 1::bigint, 1.0000::numeric(5, 4), '{cold,late}'::text[],
	           1::bigint, 1.0000::numeric(5, 4), 0::bigint) $$,
	'monthly_review of March');
SELECT ok((SELECT mean_sentiment < 0 FROM dispatch.monthly_review), 'the month''s sentiment is negative');
SELECT is((SELECT campaign_surveys -> 'Spring' ->> 'answers' FROM dispatch.monthly_review), '1',
          'the Spring survey is in the review');
SELECT is((SELECT campaign_surveys -> 'Spring' ->> 'mean_rating' FROM dispatch.monthly_review), '4',
          'with its mean rating');

-- zone_daily by day, as the views read it
SELECT results_eq($$ SELECT day, orders, cancelled FROM dispatch.zone_daily ORDER BY day $$,
                  $$ VALUES ('2026-03-02'::date, 2, 1), ('2026-03-10'::date, 1, 0), ('2026-03-23'::date, 1, 0) $$,
                  'zone_daily: the cancelled order counts as cancelled only');

-- no personal data: no customer id in any view, and the analyst reads
-- every view and no base table of the rollup
SELECT is((SELECT count(*) FROM information_schema.columns
            WHERE table_schema = 'dispatch' AND column_name = 'customer_id'
              AND table_name IN ('campaign_performance', 'experiment_by_day', 'customer_retention', 'customer_segments', 'monthly_review')),
          0::bigint, 'no view shows a customer id');
-- On Citus the coordinator reads the shards over connections it opens as
-- the current role: dispatch_analyst, a group role without LOGIN, cannot
-- open them (its members, who log in, can), and no transaction reads as
-- another role the shards it wrote.  There the read is checked as rights:
-- SELECT on every view and EXECUTE on the definer function it reads
-- (test/citus/20_analysts.sql reads them as a member of the role).
SET LOCAL ROLE dispatch_analyst;
SELECT CASE WHEN NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')
            THEN lives_ok('SELECT * FROM dispatch.campaign_performance, dispatch.experiment_by_day, dispatch.customer_retention, dispatch.customer_segments, dispatch.monthly_review',
                          'the analyst reads the growth views')
            ELSE ok((SELECT bool_and(has_table_privilege('dispatch_analyst', v, 'SELECT'))
                       FROM unnest('{dispatch.campaign_performance, dispatch.experiment_by_day, dispatch.customer_retention,
                                     dispatch.customer_segments, dispatch.monthly_review}'::regclass[]) v)
                    AND (SELECT bool_and(has_function_privilege('dispatch_analyst', f, 'EXECUTE'))
                           FROM unnest('{dispatch._campaign_performance(), dispatch._experiment_by_day(), dispatch._customer_retention(),
                                         dispatch._customer_segments(), dispatch._monthly_review()}'::regprocedure[]) f),
                    'the analyst reads the growth views')
       END;
SELECT throws_ok('SELECT * FROM dispatch.customer_stats', '42501', NULL, 'but not customer_stats');
SELECT throws_ok('SELECT * FROM dispatch.order_facts', '42501', NULL, 'nor order_facts');
SELECT throws_ok('SELECT * FROM dispatch.redemptions', '42501', NULL, 'nor redemptions');
SELECT throws_ok('SELECT * FROM dispatch.points_ledger', '42501', NULL, 'nor the points ledger');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
