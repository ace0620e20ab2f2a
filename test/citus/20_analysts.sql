-- test/citus/20_analysts.sql: analysts on the cluster (docs/citus.md,
-- "Analysts on Citus").  With a day's business in two zones on the two
-- workers (intake, delivery, a review and its ticket, a survey, a
-- cancellation and its refund, a failed payment, an order left stuck, an
-- experiment, a campaign, consents, a privacy request, the growth rollup),
-- a login role in dispatch_analyst reads every view granted to the group
-- and reads exactly what the owner reads; it still reads no table of a
-- zone and calls nothing else.  Run by test/citus/run after
-- 10_distribute.sql (which distributed the tables), outside a transaction;
-- what it adds that test/citus/suite's TRUNCATE does not clear, it removes.
\set QUIET on
\set ON_ERROR_STOP on
SET client_min_messages = error;
SELECT plan(73);

-- ---------------------------------------------------------------------------
-- two zones on two workers, and their business
-- ---------------------------------------------------------------------------

CREATE TEMP TABLE ana_zone (zone_id bigint, nodeport int, lon float8);
CREATE FUNCTION pg_temp.node_of(p_zone bigint) RETURNS int LANGUAGE sql AS $$
	SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
	 WHERE p.shardid = get_shard_id_for_distribution_column('dispatch.orders', p_zone)
$$;
DO $$
DECLARE z bigint;
BEGIN
	FOR i IN 0..5 LOOP
		z := dispatch.create_zone('analysts ' || i, ST_MakeEnvelope(110 + i, 30.0, 110.1 + i, 30.1, 4326));
		INSERT INTO ana_zone VALUES (z, pg_temp.node_of(z), 110 + i);
	END LOOP;
END $$;
SELECT min(zone_id) AS za FROM ana_zone \gset
SELECT min(zone_id) AS zb FROM ana_zone WHERE nodeport <> pg_temp.node_of(:za) \gset
SELECT isnt(pg_temp.node_of(:za), pg_temp.node_of(:zb), 'two zones lie on two workers');
DELETE FROM ana_zone WHERE zone_id NOT IN (:za, :zb);

-- In each zone: an order delivered (its ETA, the rider's pay), reviewed
-- with one star (a complaint ticket) and surveyed; one paid and cancelled
-- (a refund); one whose payment failed; one left unpaid (stuck, an hour
-- on).  The customer of the delivered order consents to marketing and
-- meets an experiment.  One call at a time, as the API is called.
CREATE TEMP TABLE ana_customer (customer_id bigint);
DO $$
DECLARE
	v_zone record;
	m bigint; it bigint; r bigint; c1 bigint; c2 bigint; o bigint; f bigint; s bigint;
	v_items jsonb;
BEGIN
	FOR v_zone IN SELECT * FROM ana_zone ORDER BY zone_id LOOP
		m := dispatch.create_merchant(v_zone.zone_id, 'analysts shop', v_zone.lon + 0.05, 30.05, 10);
		it := dispatch.add_item(m, 'dish', 1500);
		v_items := jsonb_build_array(jsonb_build_object('item_id', it, 'qty', 1));
		r := dispatch.register_rider(v_zone.zone_id, 'analysts rider', '+86139777' || lpad(v_zone.zone_id::text, 5, '0'), 2);
		PERFORM dispatch.rider_online(r, v_zone.lon + 0.05, 30.049);
		c1 := dispatch.register_customer('+86138777' || lpad(v_zone.zone_id::text, 5, '0'), NULL);
		c2 := dispatch.register_customer('+86138778' || lpad(v_zone.zone_id::text, 5, '0'), NULL);
		INSERT INTO ana_customer VALUES (c1), (c2);
		PERFORM dispatch.grant_consent(c1, 'marketing', 'v1');

		o := dispatch.place_order(c1, m, v_items, v_zone.lon + 0.05, 30.06, 'addr', 'normal');
		PERFORM dispatch.confirm_payment(o, 'ref-' || o);
		PERFORM dispatch.merchant_accept(o);
		PERFORM dispatch.assign_batch(v_zone.zone_id);
		SELECT x.offer_id INTO f FROM dispatch.offers x WHERE x.zone_id = v_zone.zone_id AND x.order_id = o;
		PERFORM dispatch.respond_offer(f, true);
		PERFORM dispatch.mark_picked_up(o, r);
		PERFORM dispatch.mark_delivered(o, r);
		PERFORM dispatch.submit_feedback(o, 1, '太慢了，饭都凉了');
		s := dispatch.create_survey('delivery', o);
		PERFORM dispatch.answer_survey(s, c1, 4, '不错');

		o := dispatch.place_order(c2, m, v_items, v_zone.lon + 0.05, 30.06, 'addr', 'normal');
		PERFORM dispatch.confirm_payment(o, 'ref-' || o);
		PERFORM dispatch.cancel_order(o, 'changed mind');
		o := dispatch.place_order(c2, m, v_items, v_zone.lon + 0.05, 30.06, 'addr', 'normal');
		PERFORM dispatch.fail_payment(o, 'declined');
		PERFORM dispatch.place_order(c1, m, v_items, v_zone.lon + 0.05, 30.06, 'addr', 'normal');
	END LOOP;
END $$;
-- (the rollup is empty before: no earlier file rolls up; it is emptied
-- again below)
SELECT COALESCE(max(run_id), 0) AS runs_before FROM dispatch.rollup_runs \gset
SELECT (SELECT count(*) FROM dispatch.order_facts) + (SELECT count(*) FROM dispatch.zone_daily)
       + (SELECT count(*) FROM dispatch.campaign_daily) + (SELECT count(*) FROM dispatch.customer_stats)
       + (SELECT count(*) FROM dispatch.customer_weeks) + (SELECT count(*) FROM dispatch.experiment_facts)
       + (SELECT count(*) FROM dispatch.experiment_daily) AS rollup_before \gset
CREATE TEMP TABLE ana_cursors AS SELECT * FROM dispatch.growth_cursors;
SELECT dispatch.create_experiment('analysts on citus', '[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}]')
       AS experiment \gset
SELECT dispatch.experiment_variant('analysts on citus', customer_id) FROM ana_customer \g /dev/null
SELECT dispatch.create_campaign('analysts on citus', 'limited_time', '{"amount_off_cents": 100}', NULL, NULL,
                                now() + interval '7 days') AS campaign \gset
SELECT dispatch.receive_privacy_request(min(customer_id), 'access') FROM ana_customer \g /dev/null
SELECT dispatch.rollup_campaigns(true) \g /dev/null

-- ---------------------------------------------------------------------------
-- the analyst
-- ---------------------------------------------------------------------------

-- dispatch_analyst cannot log in; its members do (and Citus opens their
-- connections to the workers)
CREATE ROLE dispatch_t_citus_analyst LOGIN IN ROLE dispatch_analyst;

-- Every view the group may read, read the same way by the owner and then by
-- the analyst: its rows, and a hash of them in order.  One transaction per
-- view (a refused view leaves its row out and the others are still read),
-- each on one clock an hour ahead, carried to the workers by SET LOCAL.
SET citus.propagate_set_commands = local;
SELECT (date_trunc('minute', now()) + interval '1 hour')::text AS clock \gset
CREATE TEMP TABLE analyst_view AS
	SELECT c.relname::text AS view_name FROM pg_class c
	 WHERE c.relnamespace = 'dispatch'::regnamespace AND c.relkind = 'v'
	   AND has_table_privilege('dispatch_analyst', c.oid, 'SELECT');
CREATE TEMP TABLE view_read (reader text, view_name text, result jsonb);
GRANT SELECT ON analyst_view TO dispatch_t_citus_analyst;
GRANT INSERT ON view_read TO dispatch_t_citus_analyst;
\set ON_ERROR_STOP off
\set reader owner
\set set_role 'RESET ROLE'
\ir ../fixtures/read_views.sql
-- (SET ROLE, not SET LOCAL ROLE: Citus would carry that to the
-- connections the views' definer functions open to the workers)
\set reader analyst
\set set_role 'SET ROLE dispatch_t_citus_analyst'
\ir ../fixtures/read_views.sql
\set ON_ERROR_STOP on

SELECT is((SELECT array_agg(view_name ORDER BY view_name) FROM analyst_view),
          ARRAY['campaign_performance', 'complaint_sla', 'consent_rates', 'customer_retention', 'customer_segments',
                'demand_heatmap', 'dispatch_kpis', 'earnings_fairness', 'eta_accuracy', 'experiment_by_day',
                'experiment_results', 'feedback_daily', 'feedback_top_issues', 'monthly_review', 'order_anomalies',
                'privacy_request_counts', 'refund_reconciliation', 'rider_utilisation', 'stuck_orders',
                'survey_results'],
          'the analyst views, each read below');
SELECT is(COALESCE(a.result, '"refused"'), COALESCE(o.result, '"refused to the owner"'),
          'the analyst reads ' || v.view_name || ' as its owner does')
  FROM analyst_view v
  LEFT JOIN view_read o ON o.view_name = v.view_name AND o.reader = 'owner'
  LEFT JOIN view_read a ON a.view_name = v.view_name AND a.reader = 'analyst'
 ORDER BY v.view_name;
SELECT cmp_ok(COALESCE((o.result ->> 'rows')::bigint, 0), '>', 0::bigint, v.view_name || ' is not empty')
  FROM analyst_view v
  LEFT JOIN view_read o ON o.view_name = v.view_name AND o.reader = 'owner'
 ORDER BY v.view_name;

-- the rows of zone a of each view with a zone, through its <view>_in_zone
-- (which Citus sends to the zone's worker alone): the analyst reads
-- through the function what the owner reads in the view, filtered
CREATE TEMP TABLE zone_view AS
	SELECT c.relname::text AS view_name FROM dispatch._analyst_zone_views() z JOIN pg_class c ON c.oid = z;
GRANT SELECT ON zone_view TO dispatch_t_citus_analyst;
SELECT 'BEGIN', format('SET LOCAL dispatch.clock_override = %L', :'clock'),
       format($q$INSERT INTO view_read
                 SELECT 'owner', %L, jsonb_build_object('rows', count(*),
                                                        'hash', md5(COALESCE(string_agg(t::text, '|' ORDER BY t::text), '')))
                   FROM dispatch.%I t WHERE t.zone_id = %s$q$, z.view_name || '@zone', z.view_name, :za),
       'COMMIT'
  FROM zone_view z ORDER BY z.view_name \gexec
SELECT 'BEGIN', format('SET LOCAL dispatch.clock_override = %L', :'clock'), 'SET ROLE dispatch_t_citus_analyst',
       format($q$INSERT INTO view_read
                 SELECT 'analyst', %L, jsonb_build_object('rows', count(*),
                                                          'hash', md5(COALESCE(string_agg(t::text, '|' ORDER BY t::text), '')))
                   FROM dispatch.%I(%s) t$q$, z.view_name || '@zone', z.view_name || '_in_zone', :za),
       'COMMIT', 'RESET ROLE'
  FROM zone_view z ORDER BY z.view_name \gexec
SELECT is(COALESCE(a.result, '"refused"'), COALESCE(o.result, '"refused to the owner"'),
          'the analyst reads ' || z.view_name || '_in_zone as the owner reads the view''s rows of the zone')
  FROM zone_view z
  LEFT JOIN view_read o ON o.view_name = z.view_name || '@zone' AND o.reader = 'owner'
  LEFT JOIN view_read a ON a.view_name = z.view_name || '@zone' AND a.reader = 'analyst'
 ORDER BY z.view_name;
SELECT cmp_ok((SELECT count(*) FROM view_read o WHERE o.reader = 'owner' AND o.view_name LIKE '%@zone'
                  AND (o.result ->> 'rows')::bigint > 0), '>=', 10::bigint,
              'at least 10 of the 14 have rows in zone a');

-- the rows of a span of days of each view with a period column, through
-- its <view>_between (in zone a for those with a zone): the analyst reads
-- through the function what the owner reads in the view, filtered; a span
-- from the first of the month before last week (the periods of a week and
-- a month start before today) to three days on has rows, one from three
-- days on none
SELECT date_trunc('month', current_date - 7)::date::text AS since, (current_date + 3)::text AS until,
       (current_date + 3)::text AS later \gset
CREATE TEMP TABLE span_view AS
	SELECT c.relname::text AS view_name, s.period::text AS period, s.zoned
	  FROM dispatch._analyst_span_views() s JOIN pg_class c ON c.oid = s.view_name;
GRANT SELECT ON span_view TO dispatch_t_citus_analyst;
SELECT 'BEGIN', format('SET LOCAL dispatch.clock_override = %L', :'clock'),
       format($q$INSERT INTO view_read
                 SELECT 'owner', %L, jsonb_build_object('rows', count(*),
                                                        'hash', md5(COALESCE(string_agg(t::text, '|' ORDER BY t::text), '')))
                   FROM dispatch.%I t WHERE t.%I >= %L::date AND (%L::date IS NULL OR t.%I < %L::date)%s$q$,
              s.view_name || '@' || b.span, s.view_name, s.period, b.since, b.until, s.period, b.until,
              CASE WHEN s.zoned THEN ' AND t.zone_id = ' || :za ELSE '' END),
       'COMMIT'
  FROM span_view s, (VALUES ('span', :'since', :'until'), ('later', :'later', NULL)) b(span, since, until)
 ORDER BY s.view_name, b.span \gexec
SELECT 'BEGIN', format('SET LOCAL dispatch.clock_override = %L', :'clock'), 'SET ROLE dispatch_t_citus_analyst',
       format($q$INSERT INTO view_read
                 SELECT 'analyst', %L, jsonb_build_object('rows', count(*),
                                                          'hash', md5(COALESCE(string_agg(t::text, '|' ORDER BY t::text), '')))
                   FROM dispatch.%I(%L, %L%s) t$q$,
              s.view_name || '@' || b.span, s.view_name || '_between', b.since, b.until,
              CASE WHEN s.zoned THEN ', ' || :za ELSE '' END),
       'COMMIT', 'RESET ROLE'
  FROM span_view s, (VALUES ('span', :'since', :'until'), ('later', :'later', NULL)) b(span, since, until)
 ORDER BY s.view_name, b.span \gexec
SELECT is((SELECT array_agg(s.view_name || '@' || b.span ORDER BY s.view_name, b.span)
             FROM span_view s CROSS JOIN (VALUES ('span'), ('later')) b(span)
             LEFT JOIN view_read o ON o.view_name = s.view_name || '@' || b.span AND o.reader = 'owner'
             LEFT JOIN view_read a ON a.view_name = s.view_name || '@' || b.span AND a.reader = 'analyst'
            WHERE a.result IS NULL OR o.result IS NULL OR a.result <> o.result),
          NULL, 'the analyst reads each <view>_between (13) as the owner reads the view''s rows of the span (and of zone a)');
SELECT cmp_ok((SELECT count(*) FROM view_read o WHERE o.reader = 'owner' AND o.view_name LIKE '%@span'
                  AND (o.result ->> 'rows')::bigint > 0), '>=', 11::bigint,
              'at least 11 of the 13 have rows in the span');
SELECT is((SELECT sum((o.result ->> 'rows')::bigint) FROM view_read o WHERE o.reader = 'analyst' AND o.view_name LIKE '%@later'),
          0::numeric, 'and none from three days on');
-- the query feedback_daily_between runs, with a bound and zone a: one task,
-- on zone a's worker, the bound applied there below the grouping
CREATE FUNCTION pg_temp.explain_lines(p_query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || p_query;
END $$;
SELECT replace(substring(f.prosrc FROM $r$q text := '(.*)';$r$), '''''', '''')
       || format(' AND v.day OPERATOR(pg_catalog.>=) %L::pg_catalog.date AND v.zone_id OPERATOR(pg_catalog.=) %s', :'since', :za)
       AS span_query
  FROM pg_proc f WHERE f.oid = 'dispatch.feedback_daily_between(date, date, bigint)'::regprocedure \gset
CREATE TEMP TABLE span_plan AS
	SELECT row_number() OVER () AS n, l FROM pg_temp.explain_lines(:'span_query') l;
SELECT ok(EXISTS (SELECT FROM span_plan WHERE l ~ 'Task Count: 1$')
          AND (SELECT min(n) FROM span_plan WHERE l ~ 'Aggregate')
              < (SELECT min(n) FROM span_plan WHERE l ~ ('Filter: .*' || :'since' || '''::date'))
          AND (SELECT min(n) FROM span_plan WHERE l ~ '->  Task') < (SELECT min(n) FROM span_plan WHERE l ~ 'Aggregate'),
          'feedback_daily_between with a zone runs as one task, its bound applied on the worker below the grouping');

-- the rows are the zones' (a sample: the owner's counts in each zone)
SELECT count(*) FILTER (WHERE zone_id = :za) AS heat_a, count(*) FILTER (WHERE zone_id = :zb) AS heat_b
  FROM dispatch.demand_heatmap \gset
BEGIN;
SET LOCAL dispatch.clock_override = :'clock';
SELECT count(*) FILTER (WHERE zone_id = :za) AS stuck_a, count(*) FILTER (WHERE zone_id = :zb) AS stuck_b
  FROM dispatch.stuck_orders WHERE status = 'pending_payment' \gset
COMMIT;
SELECT ok(:heat_a >= 1 AND :heat_b >= 1, 'demand_heatmap is planned on the cluster: the cells of each zone');
SELECT ok(:stuck_a = 1 AND :stuck_b = 1, 'stuck_orders has the unpaid order of each zone, an hour on');

-- ---------------------------------------------------------------------------
-- and nothing else
-- ---------------------------------------------------------------------------

SET ROLE dispatch_t_citus_analyst;
SELECT throws_ok('SELECT count(*) FROM dispatch.orders', '42501', NULL, 'the analyst does not read orders');
SELECT throws_ok('SELECT count(*) FROM dispatch.eta_predictions', '42501', NULL, 'nor ETA predictions');
SELECT throws_ok('SELECT count(*) FROM dispatch.customer_stats', '42501', NULL, 'nor the rollup (a reference table)');
SELECT throws_ok('SELECT count(*) FROM dispatch.rider_earnings', '42501', NULL, 'nor riders'' earnings (a view for admins)');
SELECT throws_ok('SELECT dispatch._zone_cell_size(1)', '42501', NULL,
                 'calls no internal function but those of the views (not the heatmap''s _zone_cell_size)');
SELECT throws_ok('SELECT dispatch._analyst_views_read_definers()', '42501', NULL, 'nor switches the views');
SELECT throws_ok('SELECT count(*) FROM dispatch.zones', '42501', NULL, 'nor reads zones (a reference table)');
SELECT throws_ok('SELECT dispatch.cancel_order(1, ''no'')', '42501', NULL, 'nor cancels an order');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- what test/citus/suite's TRUNCATE of zones and customers leaves goes
-- ---------------------------------------------------------------------------

DROP TABLE analyst_view, zone_view, span_view, span_plan, view_read;
DROP ROLE dispatch_t_citus_analyst;
DELETE FROM dispatch.experiment_exposures WHERE experiment_id = :experiment;
DELETE FROM dispatch.experiment_variants WHERE experiment_id = :experiment;
DELETE FROM dispatch.experiments WHERE experiment_id = :experiment;
-- the rollup (of the zones here and 10_distribute.sql's, whose rows no
-- foreign key ties to zones or customers), its runs and cursors
DELETE FROM dispatch.order_facts;
DELETE FROM dispatch.zone_daily;
DELETE FROM dispatch.campaign_daily;
DELETE FROM dispatch.customer_stats;
DELETE FROM dispatch.customer_weeks;
DELETE FROM dispatch.experiment_facts;
DELETE FROM dispatch.experiment_daily;
DELETE FROM dispatch.rollup_runs WHERE run_id > :runs_before;
-- (row by row: Citus would have to join the local temp table to it)
DO $$
DECLARE g record;
BEGIN
	DELETE FROM dispatch.growth_cursors;
	FOR g IN SELECT * FROM ana_cursors LOOP
		INSERT INTO dispatch.growth_cursors VALUES (g.consumer, g.last_seq, g.updated_at);
	END LOOP;
END $$;
SELECT is((SELECT count(*) FROM dispatch.order_facts) + (SELECT count(*) FROM dispatch.zone_daily)
          + (SELECT count(*) FROM dispatch.campaign_daily) + (SELECT count(*) FROM dispatch.customer_stats)
          + (SELECT count(*) FROM dispatch.customer_weeks) + (SELECT count(*) FROM dispatch.experiment_facts)
          + (SELECT count(*) FROM dispatch.experiment_daily)
          + (SELECT count(*) FROM dispatch.experiments WHERE name = 'analysts on citus'),
          :rollup_before::bigint, 'the rollup is empty again, the experiment gone');
SELECT ok(NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dispatch_t_citus_analyst'), 'and the login role dropped');

SELECT * FROM finish();
