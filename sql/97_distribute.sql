-- sql/97_distribute.sql
-- Scale out by zone on Citus (docs/citus.md).
--
-- On a Citus coordinator, distribute() places every table of the extension:
-- a table whose rows belong to one zone (its key begins with zone_id) is
-- distributed by zone_id, all of them co-located with orders, so that a
-- zone's orders, offers, events, tracks and riders lie on one worker; every
-- other table (zones and merchants, the catalogue, settings, customers and
-- what hangs on them, the analysts' rollups of customers) is a reference
-- table, a copy on every node.
--
-- Citus converts a table only when every table it references is placed
-- already, and would convert a whole foreign-key graph of local tables at
-- once (it cannot, as the extension owns their sequences), so the foreign
-- keys are taken off first and put back after: every one of them holds
-- there (a distributed table references reference tables, or a co-located
-- table by a key that begins with zone_id), save one that changes its
-- columns: an order's rider is a rider of the order's zone, (zone_id,
-- rider_id), as riders are keyed by zone once distributed.

CREATE FUNCTION @extschema@._distributed_tables() RETURNS SETOF regclass
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	-- orders first: the others are co-located with it
	SELECT t::regclass FROM pg_catalog.unnest(ARRAY[
		'@extschema@.orders', '@extschema@.order_items', '@extschema@.item_stock',
		'@extschema@.payments', '@extschema@.refunds', '@extschema@.offers', '@extschema@.offer_audit',
		'@extschema@.offer_exclusions', '@extschema@.assign_batches',
		'@extschema@.events', '@extschema@.riders', '@extschema@.rider_tracks',
		'@extschema@.rider_sync_log', '@extschema@.rider_pay',
		'@extschema@.eta_predictions', '@extschema@.eta_calibration',
		'@extschema@.zone_speeds', '@extschema@.feedback',
		'@extschema@.complaint_tickets', '@extschema@.surveys',
		'@extschema@.survey_answers', '@extschema@.redemptions', '@extschema@.campaign_budget', '@extschema@.points_ledger', '@extschema@.coupon_uses',
		'@extschema@.intake_refusals', '@extschema@.order_facts',
		'@extschema@.zone_daily', '@extschema@.campaign_daily',
		'@extschema@.recommend_popularity', '@extschema@.recommend_coorders',
		'@extschema@.recommend_refreshes', '@extschema@.order_access_log',
		'@extschema@.order_disclosures']) WITH ORDINALITY AS u(t, n)
	 ORDER BY u.n
$$;
COMMENT ON FUNCTION @extschema@._distributed_tables() IS
	'Internal: the tables distribute() distributes by zone_id, co-located with orders (the first); every other table of the extension becomes a reference table.';
REVOKE ALL ON FUNCTION @extschema@._distributed_tables() FROM PUBLIC;

-- The API calls that name an order or an offer reach its zone's worker
-- whole: each is an SQL function that PostgreSQL inlines into the caller's
-- SELECT, a call of its routed form with the zone taken from the id
-- (zone_of), and Citus sends a call of a distributed function whose zone
-- argument is a constant to the worker of that zone.
CREATE FUNCTION @extschema@._routed_functions() RETURNS SETOF regprocedure
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT f::regprocedure FROM pg_catalog.unnest(ARRAY[
		'@extschema@._confirm_payment(bigint, bigint, text)',
		'@extschema@._fail_payment(bigint, bigint, text, integer)',
		'@extschema@._merchant_accept(bigint, bigint, timestamptz)',
		'@extschema@._respond_offer(bigint, bigint, boolean, text)',
		'@extschema@._mark_picked_up(bigint, bigint, bigint)',
		'@extschema@._mark_delivered(bigint, bigint, bigint)',
		'@extschema@._cancel_order(bigint, bigint, text)',
		'@extschema@._release_order(bigint, bigint, bigint, text, boolean)',
		'@extschema@._assign_manually(bigint, bigint, bigint, text)',
		'@extschema@._settle_refund(bigint, bigint, boolean, text, text, integer)',
		'@extschema@._retry_refund(bigint, bigint)']) AS u(f)
$$;
COMMENT ON FUNCTION @extschema@._routed_functions() IS
	'Internal: the routed forms of the API calls that name an order, an offer or a refund (their first argument is the zone), which distribute() makes distributed functions of the zone.';
REVOKE ALL ON FUNCTION @extschema@._routed_functions() FROM PUBLIC;

-- The analyst views and, for each, the SECURITY DEFINER function of the
-- same rows.  On one server a view reads the tables, so that a filter on it
-- (a zone, a day) reaches their indexes.  On Citus the shards of a view's
-- tables, distributed and reference alike, are read as the querying role,
-- which holds no right on them (analysts are meant to see views only), so
-- distribute() makes each view read its function instead
-- (_analyst_views_read_definers below).  Most functions get their body
-- there, from the view's own definition, so that each view's query is
-- written once (on one server such a function reads its view); one is
-- written apart, in a form Citus can plan that differs from the view's:
-- demand_heatmap (zone by zone).  This is
-- the one list of the pairs: a later upgrade script that creates or
-- redefines an analyst view (as sql/ has it, over the tables) adds its
-- pair here and, where the tables are distributed already, calls
-- _analyst_views_read_definers() again.
CREATE FUNCTION @extschema@._analyst_views()
RETURNS TABLE (view_name regclass, reader regprocedure, own_body boolean)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT u.v::regclass, u.f::regprocedure,
	       u.v OPERATOR(pg_catalog.=) '@extschema@.demand_heatmap'
	  FROM (VALUES
		('@extschema@.consent_rates', '@extschema@._consent_rates()'),
		('@extschema@.privacy_request_counts', '@extschema@._privacy_request_counts()'),
		('@extschema@.refund_reconciliation', '@extschema@._refund_reconciliation()'),
		('@extschema@.earnings_fairness', '@extschema@._earnings_fairness()'),
		('@extschema@.eta_accuracy', '@extschema@._eta_accuracy()'),
		('@extschema@.demand_heatmap', '@extschema@._demand_heatmap()'),
		('@extschema@.stuck_orders', '@extschema@._stuck_orders()'),
		('@extschema@.rider_utilisation', '@extschema@._rider_utilisation()'),
		('@extschema@.dispatch_kpis', '@extschema@._dispatch_kpis()'),
		('@extschema@.order_anomalies', '@extschema@._order_anomalies()'),
		('@extschema@.feedback_daily', '@extschema@._feedback_daily()'),
		('@extschema@.feedback_top_issues', '@extschema@._feedback_top_issues()'),
		('@extschema@.complaint_sla', '@extschema@._complaint_sla()'),
		('@extschema@.survey_results', '@extschema@._survey_results()'),
		('@extschema@.experiment_results', '@extschema@._experiment_results()'),
		('@extschema@.campaign_performance', '@extschema@._campaign_performance()'),
		('@extschema@.experiment_by_day', '@extschema@._experiment_by_day()'),
		('@extschema@.customer_retention', '@extschema@._customer_retention()'),
		('@extschema@.customer_segments', '@extschema@._customer_segments()'),
		('@extschema@.monthly_review', '@extschema@._monthly_review()')) AS u(v, f)
$$;
COMMENT ON FUNCTION @extschema@._analyst_views() IS
	'Internal: every view granted to dispatch_analyst and the SECURITY DEFINER function of its rows, which the view reads once distribute() ran (on one server it reads the tables); own_body: the function is written apart, not given the view''s query.';
REVOKE ALL ON FUNCTION @extschema@._analyst_views() FROM PUBLIC;

-- <view>_in_zone(zone_id): the rows of one zone of each analyst view that
-- has a zone_id column, the filter outside the view's query.  On one
-- server the query reads the view, through which the filter reaches the
-- tables' indexes; once distributed, _analyst_views_read_definers gives it
-- the view's query as the view's function has it, so that Citus sends it
-- to the zone's worker alone (the views then read their functions, which
-- no filter enters): the other analyst views that query reads inlined,
-- and for demand_heatmap, whose function has a body of its own, that
-- function run for the one zone, which the query names as $1.
CREATE FUNCTION @extschema@._analyst_zone_function(p_view regclass, p_query text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_fn text;
BEGIN
	SELECT pg_catalog.format('%I.%I', n.nspname, c.relname OPERATOR(pg_catalog.||) '_in_zone') INTO v_fn
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.oid OPERATOR(pg_catalog.=) p_view;
	-- the zone as a literal in the statement (PL/pgSQL's EXECUTE): Citus
	-- plans a query over several tables only with its values known; and
	-- as $1, for a query that passes it on to a function
	EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION %s(zone_id bigint) RETURNS SETOF %s'
	                          ' LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER'
	                          ' SET search_path = pg_catalog, pg_temp AS %L',
	                          v_fn, p_view,
	                          pg_catalog.format(E'\nBEGIN\n\tRETURN QUERY EXECUTE %L OPERATOR(pg_catalog.||) zone_id USING zone_id;\nEND\n',
	                                            'SELECT v.* FROM (' OPERATOR(pg_catalog.||)
	                                            pg_catalog.regexp_replace(COALESCE(p_query, pg_catalog.format('SELECT * FROM %s', p_view)),
	                                                                      ';\s*$', '')
	                                            OPERATOR(pg_catalog.||) ') v WHERE v.zone_id OPERATOR(pg_catalog.=) '));
	EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s(bigint) IS %L', v_fn,
	                          pg_catalog.format('The rows of the analyst view %s of one zone (docs/citus.md, "Analysts on Citus": on a distributed install some are read on that zone''s worker alone).',
	                                            p_view));
	EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s(bigint) FROM PUBLIC', v_fn);
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s(bigint) TO dispatch_analyst, dispatch_admin', v_fn);
END
$$;
COMMENT ON FUNCTION @extschema@._analyst_zone_function(regclass, text) IS
	'Internal: creates or replaces <view>_in_zone(zone_id), the rows of the analyst view p_view of one zone, as p_query (the view''s rows, $1 the zone; NULL: the view itself) filtered by zone_id; granted to dispatch_analyst and dispatch_admin.';
REVOKE ALL ON FUNCTION @extschema@._analyst_zone_function(regclass, text) FROM PUBLIC;

CREATE FUNCTION @extschema@._analyst_zone_views() RETURNS SETOF regclass
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT a.view_name FROM @extschema@._analyst_views() a
	 WHERE EXISTS (SELECT FROM pg_catalog.pg_attribute c
	                WHERE c.attrelid OPERATOR(pg_catalog.=) a.view_name
	                  AND c.attname OPERATOR(pg_catalog.=) 'zone_id' AND NOT c.attisdropped)
	 ORDER BY a.view_name::text
$$;
COMMENT ON FUNCTION @extschema@._analyst_zone_views() IS
	'Internal: the analyst views with a zone_id column, each with its function <view>_in_zone(zone_id).';
REVOKE ALL ON FUNCTION @extschema@._analyst_zone_views() FROM PUBLIC;

SELECT @extschema@._analyst_zone_function(v) FROM @extschema@._analyst_zone_views() v;

-- <view>_between(since, until[, zone_id]): the rows of each analyst view
-- with a period column (its local day, hour, week, cohort week or month)
-- from since up to before until (a NULL bound: none), of one zone if one is
-- given (the views with a zone_id).  As with _in_zone, the bounds stand
-- outside the view's query, as literals: on one server they reach the rows
-- before they are grouped, as a filter on the view does; on Citus, where
-- the views read their functions and no filter enters those, Citus sends
-- them with the query to the shards (with a zone, to the zone's worker
-- alone), where they apply before the grouping too.
CREATE FUNCTION @extschema@._analyst_span_views() RETURNS TABLE (view_name regclass, period name, zoned boolean)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT DISTINCT ON (a.view_name::text) a.view_name, c.attname,
	       EXISTS (SELECT FROM pg_catalog.pg_attribute z
	                WHERE z.attrelid OPERATOR(pg_catalog.=) a.view_name
	                  AND z.attname OPERATOR(pg_catalog.=) 'zone_id' AND NOT z.attisdropped)
	  FROM @extschema@._analyst_views() a
	  JOIN pg_catalog.pg_attribute c ON c.attrelid OPERATOR(pg_catalog.=) a.view_name
	 WHERE c.attname OPERATOR(pg_catalog.=) ANY ('{day,hour,week,cohort_week,month}'::pg_catalog.name[])
	   AND NOT c.attisdropped
	 ORDER BY a.view_name::text, c.attnum
$$;
COMMENT ON FUNCTION @extschema@._analyst_span_views() IS
	'Internal: the analyst views with a period column (day, hour, week, cohort_week or month; the first), each with its function <view>_between(since, until), and whether it has a zone_id (then also a zone_id argument).';
REVOKE ALL ON FUNCTION @extschema@._analyst_span_views() FROM PUBLIC;

CREATE FUNCTION @extschema@._analyst_span_function(p_view regclass, p_query text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_span record;
	v_args text;
	v_types text;
	v_body text;
BEGIN
	SELECT s.period, s.zoned,
	       pg_catalog.format('%I.%I', n.nspname, c.relname OPERATOR(pg_catalog.||) '_between') AS fn
	  INTO v_span
	  FROM @extschema@._analyst_span_views() s
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.view_name
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE s.view_name OPERATOR(pg_catalog.=) p_view;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'view % is not an analyst view with a period column', p_view
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_args := 'since date DEFAULT NULL, until date DEFAULT NULL'
	          OPERATOR(pg_catalog.||) CASE WHEN v_span.zoned THEN ', zone_id bigint DEFAULT NULL' ELSE '' END;
	v_types := 'date, date' OPERATOR(pg_catalog.||) CASE WHEN v_span.zoned THEN ', bigint' ELSE '' END;
	-- each bound as a literal in the statement (PL/pgSQL's EXECUTE): Citus
	-- plans a query over several tables only with its values known
	v_body := pg_catalog.format(E'\nDECLARE\n\tq text := %L;\nBEGIN\n'
	                            '\tIF since IS NOT NULL THEN\n\t\tq := q OPERATOR(pg_catalog.||) pg_catalog.format(%L, since);\n\tEND IF;\n'
	                            '\tIF until IS NOT NULL THEN\n\t\tq := q OPERATOR(pg_catalog.||) pg_catalog.format(%L, until);\n\tEND IF;\n'
	                            '%s\tRETURN QUERY EXECUTE q;\nEND\n',
		'SELECT v.* FROM (' OPERATOR(pg_catalog.||)
		pg_catalog.regexp_replace(COALESCE(p_query, pg_catalog.format('SELECT * FROM %s', p_view)), ';\s*$', '')
		OPERATOR(pg_catalog.||) ') v WHERE true',
		pg_catalog.format(' AND v.%I OPERATOR(pg_catalog.>=) %%L::pg_catalog.date', v_span.period),
		pg_catalog.format(' AND v.%I OPERATOR(pg_catalog.<) %%L::pg_catalog.date', v_span.period),
		CASE WHEN v_span.zoned
		     THEN pg_catalog.format(E'\tIF zone_id IS NOT NULL THEN\n\t\tq := q OPERATOR(pg_catalog.||) pg_catalog.format(%L, zone_id);\n\tEND IF;\n',
		                            ' AND v.zone_id OPERATOR(pg_catalog.=) %s')
		     ELSE '' END);
	EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION %s(%s) RETURNS SETOF %s'
	                          ' LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER'
	                          ' SET search_path = pg_catalog, pg_temp AS %L',
	                          v_span.fn, v_args, p_view, v_body);
	EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s(%s) IS %L', v_span.fn, v_types,
	                          pg_catalog.format('The rows of the analyst view %s whose %s lies from since up to before until (a NULL bound: none)%s (docs/citus.md, "Analysts on Citus": on a distributed install the bounds reach the shards, before the rows are grouped).',
	                                            p_view, v_span.period,
	                                            CASE WHEN v_span.zoned THEN ', of one zone if zone_id is given' ELSE '' END));
	EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s(%s) FROM PUBLIC', v_span.fn, v_types);
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s(%s) TO dispatch_analyst, dispatch_admin', v_span.fn, v_types);
END
$$;
COMMENT ON FUNCTION @extschema@._analyst_span_function(regclass, text) IS
	'Internal: creates or replaces <view>_between(since, until[, zone_id]), the rows of the analyst view p_view within a span of its period column (and of one zone), as p_query (the view''s rows; NULL: the view itself) filtered; granted to dispatch_analyst and dispatch_admin.  22023 for a view not in _analyst_span_views().';
REVOKE ALL ON FUNCTION @extschema@._analyst_span_function(regclass, text) FROM PUBLIC;

SELECT @extschema@._analyst_span_function(s.view_name) FROM @extschema@._analyst_span_views() s;

-- Each analyst view's function first gets the view's query as its body
-- (unless it has its own), where each other analyst view the query reads
-- (dispatch_kpis reads rider_utilisation, monthly_review survey_results)
-- is read once, in a MATERIALIZED CTE that Citus runs on the coordinator
-- before the query over the shards (inside a shard's query that view's
-- function would query the cluster from a worker; on one server the view
-- keeps the plain join, through which a zone filter reaches the other
-- view).  Its <view>_in_zone and <view>_between get the same query with
-- that CTE NOT MATERIALIZED over the other view's own query (as sql/ has
-- it: its definition, or its function's body once switched), so that
-- their zone reaches the other view's tables too, and Citus sends the
-- whole to the zone's worker; demand_heatmap_in_zone reads
-- _demand_heatmap(zone_id), its one zone.  Then the view becomes a SELECT of its columns
-- (names, types and order kept, so CREATE OR REPLACE keeps the view, its
-- comment and its grants) from its function.  Repeatable: a view that
-- reads its function already is written again the same, and its function
-- is left as it is (its query is the view's no longer).  Citus carries no change of an
-- extension's view to other nodes, and while it propagates DDL it refuses
-- DDL on a view on a worker ("operation is not allowed on this node"):
-- each node is switched on its own, with DDL propagation off meanwhile.
CREATE FUNCTION @extschema@._analyst_views_read_definers() RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_view record;
	v_read record;
	v_body text;
	v_ctes text;
	v_inline text;
	v_inlined boolean;
	v_query text;
	v_zone_query text;
	v_propagate text := pg_catalog.current_setting('citus.enable_ddl_propagation', true);
BEGIN
	IF v_propagate IS NOT NULL THEN
		PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
	END IF;
	FOR v_view IN
		SELECT a.view_name, a.reader, a.own_body,
		       pg_catalog.string_agg(pg_catalog.format('r.%I::%s AS %I', c.attname,
		                                               pg_catalog.format_type(c.atttypid, c.atttypmod), c.attname),
		                             ', ' ORDER BY c.attnum) AS columns,
		       -- the view reads its function already (a repeat)
		       EXISTS (SELECT FROM pg_catalog.pg_rewrite w
		                 JOIN pg_catalog.pg_depend d
		                   ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
		                  AND d.objid OPERATOR(pg_catalog.=) w.oid
		                WHERE w.ev_class OPERATOR(pg_catalog.=) a.view_name
		                  AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
		                  AND d.refobjid OPERATOR(pg_catalog.=) a.reader) AS switched
		  FROM @extschema@._analyst_views() a
		  JOIN pg_catalog.pg_attribute c ON c.attrelid OPERATOR(pg_catalog.=) a.view_name
		 WHERE c.attnum OPERATOR(pg_catalog.>) 0 AND NOT c.attisdropped
		 GROUP BY a.view_name, a.reader, a.own_body
	LOOP
		IF NOT v_view.own_body AND NOT v_view.switched THEN
			-- the view's query, its names qualified (this function's
			-- search_path), as the body: grants and comment are kept
			v_body := pg_catalog.pg_get_viewdef(v_view.view_name);
			v_ctes := NULL;
			v_inline := NULL;
			v_inlined := true;
			FOR v_read IN
				SELECT DISTINCT a.view_name AS other, n.nspname, c.relname,
				       -- the other view's own query: its definition, or
				       -- once it reads its function, that function's
				       -- body (given it by the switch); none for a
				       -- function with a body of its own
				       CASE WHEN a.own_body THEN NULL
				            WHEN EXISTS (SELECT FROM pg_catalog.pg_rewrite w2
				                           JOIN pg_catalog.pg_depend d2
				                             ON d2.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
				                            AND d2.objid OPERATOR(pg_catalog.=) w2.oid
				                          WHERE w2.ev_class OPERATOR(pg_catalog.=) a.view_name
				                            AND d2.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
				                            AND d2.refobjid OPERATOR(pg_catalog.=) a.reader)
				            THEN (SELECT p.prosrc FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) a.reader)
				            ELSE pg_catalog.pg_get_viewdef(a.view_name) END AS query
				  FROM pg_catalog.pg_rewrite w
				  JOIN pg_catalog.pg_depend d
				    ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
				   AND d.objid OPERATOR(pg_catalog.=) w.oid
				   AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
				  JOIN @extschema@._analyst_views() a ON a.view_name OPERATOR(pg_catalog.=) d.refobjid::pg_catalog.regclass
				  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.view_name
				  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
				 WHERE w.ev_class OPERATOR(pg_catalog.=) v_view.view_name
				   AND a.view_name OPERATOR(pg_catalog.<>) v_view.view_name
				 ORDER BY c.relname
			LOOP
				-- the view's references to the other view (always
				-- qualified here) read the CTE <name>_rows instead
				v_body := pg_catalog.regexp_replace(v_body,
				              '(?<![.\w"])' OPERATOR(pg_catalog.||)
				              pg_catalog.regexp_replace(pg_catalog.quote_ident(v_read.nspname) OPERATOR(pg_catalog.||) '.'
				                                        OPERATOR(pg_catalog.||) pg_catalog.quote_ident(v_read.relname),
				                                        '([^\w])', '\\\1', 'g')
				              OPERATOR(pg_catalog.||) '(?![\w"])',
				              v_read.relname OPERATOR(pg_catalog.||) '_rows', 'g');
				v_ctes := COALESCE(v_ctes OPERATOR(pg_catalog.||) ', ', '')
				          OPERATOR(pg_catalog.||) pg_catalog.format('%I AS MATERIALIZED (SELECT * FROM %s)',
				                                                    v_read.relname OPERATOR(pg_catalog.||) '_rows',
				                                                    v_read.other);
				-- for the rows of a zone or a span: the other view's query
				-- inlined, so that the filter reaches its tables (another
				-- view without one: the view itself, filtered)
				v_inlined := v_inlined AND v_read.query IS NOT NULL;
				v_inline := COALESCE(v_inline OPERATOR(pg_catalog.||) ', ', '')
				            OPERATOR(pg_catalog.||) pg_catalog.format('%I AS NOT MATERIALIZED (%s)',
				                                                      v_read.relname OPERATOR(pg_catalog.||) '_rows',
				                                                      pg_catalog.regexp_replace(v_read.query, ';\s*$', ''));
			END LOOP;
			IF v_ctes IS NOT NULL THEN
				v_query := CASE WHEN NOT v_inlined THEN NULL
				                WHEN v_body ~ '^\s*WITH\s' AND v_body !~ '^\s*WITH\s+RECURSIVE\s'
				                THEN 'WITH ' OPERATOR(pg_catalog.||) v_inline OPERATOR(pg_catalog.||) ', '
				                     OPERATOR(pg_catalog.||) pg_catalog.regexp_replace(v_body, '^\s*WITH\s', '')
				                ELSE 'WITH ' OPERATOR(pg_catalog.||) v_inline OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) v_body END;
				v_body := CASE WHEN v_body ~ '^\s*WITH\s' AND v_body !~ '^\s*WITH\s+RECURSIVE\s'
				               THEN pg_catalog.regexp_replace(v_body, '^\s*WITH\s', 'WITH ' OPERATOR(pg_catalog.||) v_ctes OPERATOR(pg_catalog.||) ', ')
				               ELSE 'WITH ' OPERATOR(pg_catalog.||) v_ctes OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) v_body END;
			ELSE
				v_query := v_body;
			END IF;
			EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION %s RETURNS %s LANGUAGE sql STABLE PARALLEL SAFE'
			                          ' SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS %L',
			                          v_view.reader, pg_catalog.pg_get_function_result(v_view.reader), v_body);
		END IF;
		-- the view's rows of one zone, and of a span of its periods: its
		-- query with the filter outside, another analyst view it reads
		-- inlined (v_query above).  A view with a function of its own:
		-- that function's rows, filtered, of the one zone where the
		-- function has a form of one zone, reader(bigint) (with the zone
		-- as $1 in the statement of <view>_in_zone)
		IF NOT v_view.switched THEN
			IF v_view.own_body THEN
				v_query := pg_catalog.format('SELECT %s FROM %s r', v_view.columns, v_view.reader);
				v_zone_query := CASE WHEN pg_catalog.to_regprocedure(pg_catalog.regexp_replace(v_view.reader::text, '\(\)$', '(bigint)')) IS NOT NULL
				                     THEN pg_catalog.format('SELECT %s FROM %s r', v_view.columns,
				                                            pg_catalog.regexp_replace(v_view.reader::text, '\(\)$', '($1)'))
				                     ELSE v_query END;
			ELSE
				v_zone_query := v_query;
			END IF;
			IF v_view.view_name IN (SELECT z FROM @extschema@._analyst_zone_views() z) THEN
				PERFORM @extschema@._analyst_zone_function(v_view.view_name, v_zone_query);
			END IF;
			IF v_view.view_name IN (SELECT p.view_name FROM @extschema@._analyst_span_views() p) THEN
				PERFORM @extschema@._analyst_span_function(v_view.view_name, v_query);
			END IF;
		END IF;
		EXECUTE pg_catalog.format('CREATE OR REPLACE VIEW %s AS SELECT %s FROM %s r',
		                          v_view.view_name, v_view.columns, v_view.reader);
	END LOOP;
	IF v_propagate IS NOT NULL THEN
		PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', v_propagate, true);
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._analyst_views_read_definers() IS
	'Internal: gives each analyst function of _analyst_views() without a body of its own the view''s query (another analyst view it reads read once, in a MATERIALIZED CTE), and each <view>_in_zone and <view>_between function that query (the other view''s query inlined instead; demand_heatmap_in_zone: _demand_heatmap(zone_id)) filtered by zone or span, then makes each analyst view read its SECURITY DEFINER function, with the same columns, comment and grants (distribute() calls it; Citus reads a view''s shards as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._analyst_views_read_definers() FROM PUBLIC;

CREATE FUNCTION @extschema@._event_shard_seq() RETURNS trigger
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_event_shard_seq';
COMMENT ON FUNCTION @extschema@._event_shard_seq() IS
	'Internal: BEFORE INSERT on the shards of a distributed outbox (distribute() creates the trigger): the row gets the next seq of the worker''s transaction, whichever node numbered it, so that the events of a zone are numbered by one node (src/events.c).';
REVOKE ALL ON FUNCTION @extschema@._event_shard_seq() FROM PUBLIC;

-- Ids a worker hands out (offers and batches of the calls sent to it) must
-- not meet the coordinator's or another worker's: each worker's sequences
-- start at its group id << 36, above the coordinator's (2^36 ids each).
-- Run on each worker when it is placed (distribute(), prepare_worker()),
-- before it hands out an id.  The zone-scoped sequences stop at 2^40 - 1,
-- so only groups 0 to 15 have a range (_check_node_group).
CREATE FUNCTION @extschema@._check_node_group(p_group integer, p_node text) RETURNS void
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_group OPERATOR(pg_catalog.>) 15 THEN
		RAISE EXCEPTION 'the node % is of Citus group %, and dispatch has ids for groups 1 to 15 only', p_node, p_group
			USING ERRCODE = 'DP917',
			      DETAIL = 'Each node hands out ids from its group id << 36, below 2^40; Citus never reuses a group id, so removed and replaced workers use them up too.',
			      HINT = 'A cluster places at most 15 workers over its life (docs/citus.md, "Adding a worker").';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_node_group(integer, text) IS
	'Internal: DP917, naming p_node, for a Citus group id above 15, which has no range of ids (_start_node_sequences: group id << 36, below 2^40).';
REVOKE ALL ON FUNCTION @extschema@._check_node_group(integer, text) FROM PUBLIC;

CREATE FUNCTION @extschema@._start_node_sequences() RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._check_node_group((SELECT g.groupid FROM pg_catalog.pg_dist_local_group g), 'here');
	PERFORM pg_catalog.setval(c.oid::pg_catalog.regclass,
	                          GREATEST((SELECT g.groupid FROM pg_catalog.pg_dist_local_group g)::pg_catalog.int8
	                                   OPERATOR(pg_catalog.<<) 36, 1), false)
	   FROM pg_catalog.pg_class c
	  WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
	    AND c.relkind OPERATOR(pg_catalog.=) 'S';
END
$$;
COMMENT ON FUNCTION @extschema@._start_node_sequences() IS
	'Internal, on a Citus worker: starts each sequence of the extension at the node''s group id << 36, so that the ids the worker hands out meet no other node''s.';
REVOKE ALL ON FUNCTION @extschema@._start_node_sequences() FROM PUBLIC;

-- distribute(), prepare_worker() and prepare_move() run on a Citus
-- coordinator: DP911 elsewhere, naming the caller
CREATE FUNCTION @extschema@._require_coordinator(p_caller text) RETURNS void
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		RAISE EXCEPTION '%() needs Citus', p_caller
			USING ERRCODE = 'DP911',
			      DETAIL = 'The extension citus is not installed in this database.',
			      HINT = 'Run it on a Citus coordinator with its workers added (docs/citus.md).';
	END IF;
	-- (a statement apart: the function exists only where Citus is installed)
	IF NOT pg_catalog.citus_is_coordinator() THEN
		RAISE EXCEPTION '%() runs on the Citus coordinator', p_caller
			USING ERRCODE = 'DP911',
			      DETAIL = 'This node is not the coordinator of its cluster.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._require_coordinator(text) IS
	'Internal: DP911, naming p_caller, unless this database has Citus and this node is its coordinator (distribute(), prepare_worker(), prepare_move()).';
REVOKE ALL ON FUNCTION @extschema@._require_coordinator(text) FROM PUBLIC;

-- A base of event numbers above every number of the cluster: each node's
-- next transaction with its base, and the highest event (rows moved from
-- another node), then 2^32 (an epoch of transaction ids) more, for the
-- transactions the other nodes run before shards move to the node that
-- gets it
CREATE FUNCTION @extschema@._base_above_cluster() RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_result record;
BEGIN
	SELECT pg_catalog.bool_and(r.success) AS success,
	       pg_catalog.min(r.result) FILTER (WHERE NOT r.success) AS result,
	       pg_catalog.max(r.result::bigint) FILTER (WHERE r.success) AS top
	  INTO v_result
	  FROM pg_catalog.run_command_on_all_nodes(
	         'SELECT pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text::bigint '
	         'OPERATOR(pg_catalog.+) @extschema@._event_base()') r;
	IF NOT v_result.success THEN
		RAISE EXCEPTION 'on a node of the cluster: %', v_result.result
			USING ERRCODE = 'DP913';
	END IF;
	RETURN GREATEST(v_result.top, COALESCE((SELECT pg_catalog.max(e.seq) FROM @extschema@.events e)
	                                       OPERATOR(pg_catalog.>>) 20, 0) OPERATOR(pg_catalog.+) 1)
	       OPERATOR(pg_catalog.+) 4294967296;
END
$$;
COMMENT ON FUNCTION @extschema@._base_above_cluster() IS
	'Internal, on a Citus coordinator (distribute(), prepare_worker(), prepare_move()): a base of event numbers above every number the cluster has given or will give before shards move: the highest of each node''s next transaction id plus its base and the highest event, plus 2^32.';
REVOKE ALL ON FUNCTION @extschema@._base_above_cluster() FROM PUBLIC;

CREATE FUNCTION @extschema@._on_every_node(p_command text, p_here boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_failed record;
BEGIN
	IF p_here THEN
		EXECUTE p_command;
	END IF;
	SELECT w.nodename, w.nodeport, w.result INTO v_failed
	  FROM pg_catalog.run_command_on_workers(p_command) w
	 WHERE NOT w.success
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'on the worker %:%: %', v_failed.nodename, v_failed.nodeport, v_failed.result
			USING ERRCODE = 'DP913';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._on_every_node(text, boolean) IS
	'Internal: runs a command of distribute() on every worker, each committing on its own, and on the coordinator unless p_here is false (DP913 with the worker''s error if one fails).';
REVOKE ALL ON FUNCTION @extschema@._on_every_node(text, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.distribute()
RETURNS TABLE (table_name regclass, placement text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
	v_fk record;
	v_t regclass;
	v_trig record;
	v_placed text;
BEGIN
	PERFORM @extschema@._require_coordinator('distribute');
	-- one call at a time: a second waits for the first to end, then finds
	-- its tables placed.  (Run past the check below, it would alter the
	-- tables the first placed, which Citus carries to the workers over the
	-- call's own connections, and then wait on the workers, over
	-- connections of their own, for the locks its own statements hold
	-- there, for ever.)  event_base is local to each node: no other node
	-- sees the lock, and nothing on the coordinator writes it
	LOCK TABLE @extschema@.event_base IN EXCLUSIVE MODE;
	IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
	            WHERE p.logicalrelid OPERATOR(pg_catalog.=) '@extschema@.orders'::regclass) THEN
		RAISE EXCEPTION 'the tables of dispatch are distributed already'
			USING ERRCODE = 'DP912';
	END IF;
	-- a table of the extension that Citus knows already (placed by hand):
	-- distribute() places each table itself, from local tables only
	SELECT pg_catalog.string_agg(p.logicalrelid::regclass::text, ', ' ORDER BY p.logicalrelid::regclass::text)
	  INTO v_placed
	  FROM pg_catalog.pg_dist_partition p
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.logicalrelid
	 WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace;
	IF v_placed IS NOT NULL THEN
		RAISE EXCEPTION 'tables of dispatch are placed by Citus already: %', v_placed
			USING ERRCODE = 'DP912',
			      DETAIL = 'distribute() places every table of the extension itself, from local tables only; nothing is changed.';
	END IF;
	-- every worker it places needs a range of ids, before anything changes
	PERFORM @extschema@._check_node_group(n.groupid, pg_catalog.format('%s:%s', n.nodename, n.nodeport))
	   FROM pg_catalog.pg_dist_node n
	  WHERE n.isactive AND n.noderole OPERATOR(pg_catalog.=) 'primary'
	    AND n.groupid OPERATOR(pg_catalog.<>) 0;

	-- Triggers fire on the shards, where they reach co-located shards of
	-- the same zone and read reference tables (docs/citus.md)
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	-- one connection per worker: every table in one transaction
	PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);

	-- the foreign keys, kept to be put back
	CREATE TEMP TABLE _dispatch_fks ON COMMIT DROP AS
		SELECT c.conrelid::regclass AS rel, c.conname AS name,
		       pg_catalog.pg_get_constraintdef(c.oid) AS def
		  FROM pg_catalog.pg_constraint c
		 WHERE c.contype OPERATOR(pg_catalog.=) 'f'
		   AND c.connamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace;
	-- The workers have the extension's tables too (CREATE EXTENSION reached
	-- them): Citus takes them as the shells of the placed tables, so they
	-- change as the coordinator's do.  A worker commits each change on its
	-- own: if a later step fails, the coordinator rolls back and the
	-- workers' empty tables stay without these keys, which a retry, every
	-- change written to be repeated, puts right.
	FOR v_fk IN SELECT * FROM _dispatch_fks LOOP
		PERFORM @extschema@._on_every_node(pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I',
		                                                     v_fk.rel, v_fk.name));
	END LOOP;
	-- riders are keyed by zone: a distributed table's unique keys hold the
	-- distribution column
	PERFORM @extschema@._on_every_node('ALTER TABLE @extschema@.riders DROP CONSTRAINT IF EXISTS riders_pkey, '
	                                   'ADD CONSTRAINT riders_pkey PRIMARY KEY (zone_id, rider_id)');
	-- each worker's ids apart from the others', and its events numbered
	-- above the coordinator's: the events of a single-node history move
	-- to the workers with their zones, and a zone's numbers must keep
	-- rising there (src/events.c; prepare_worker gives a worker added later
	-- the same).  A worker that has a base from an earlier attempt keeps it
	PERFORM @extschema@._on_every_node(pg_catalog.format('SELECT @extschema@._prepare_this_node(%s)',
	                                                     @extschema@._base_above_cluster()), false);
	UPDATE _dispatch_fks f
	   SET def = 'FOREIGN KEY (zone_id, rider_id) REFERENCES @extschema@.riders(zone_id, rider_id)'
	 WHERE f.rel OPERATOR(pg_catalog.=) '@extschema@.orders'::regclass
	   AND f.name OPERATOR(pg_catalog.=) 'orders_rider_id_fkey';

	-- Copying the rows into shards would fire the row triggers of the
	-- settings (they edit their own table); they are off while the rows
	-- move.  Statement triggers (the sentiment model's cache) stay on:
	-- Citus does not carry a later ENABLE to a reference table's
	-- placements, and they would stay off there
	CREATE TEMP TABLE _dispatch_triggers ON COMMIT DROP AS
		SELECT t.tgrelid::regclass AS rel, t.tgname AS name, t.tgenabled AS enabled
		  FROM pg_catalog.pg_trigger t
		  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.tgrelid
		 WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace
		   AND NOT t.tgisinternal
		   AND (t.tgtype OPERATOR(pg_catalog.&) 1) OPERATOR(pg_catalog.=) 1;
	FOR v_trig IN SELECT * FROM _dispatch_triggers LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE TRIGGER %I', v_trig.rel, v_trig.name);
	END LOOP;

	FOR v_t IN
		SELECT c.oid::regclass
		  FROM pg_catalog.pg_class c
		 WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace
		   AND c.relkind OPERATOR(pg_catalog.=) 'r'
		   AND c.oid NOT IN (SELECT d FROM @extschema@._distributed_tables() d)
		   AND c.oid NOT IN ('@extschema@.relay_position'::regclass, '@extschema@.event_base'::regclass,
		                     '@extschema@.refusal_flushes'::regclass)
		 ORDER BY c.relname
	LOOP
		PERFORM pg_catalog.create_reference_table(v_t);
		table_name := v_t; placement := 'reference';
		RETURN NEXT;
	END LOOP;
	-- each node numbers its events from its own base, its relay keeps
	-- its own place in the shards of the outbox that node holds
	-- (src/events.c, src/relay.c), and its flushes of its own ring of
	-- refused attempts are counted there (src/refusals.c)
	table_name := '@extschema@.event_base'::regclass; placement := 'local to each node';
	RETURN NEXT;
	table_name := '@extschema@.refusal_flushes'::regclass; placement := 'local to each node';
	RETURN NEXT;
	table_name := '@extschema@.relay_position'::regclass; placement := 'local to each node';
	RETURN NEXT;
	FOR v_t IN SELECT d FROM @extschema@._distributed_tables() d LOOP
		IF v_t OPERATOR(pg_catalog.=) '@extschema@.orders'::regclass THEN
			PERFORM pg_catalog.create_distributed_table(v_t, 'zone_id');
		ELSE
			PERFORM pg_catalog.create_distributed_table(v_t, 'zone_id', colocate_with => '@extschema@.orders');
		END IF;
		table_name := v_t; placement := 'distributed by zone_id';
		RETURN NEXT;
	END LOOP;

	FOR v_trig IN SELECT * FROM _dispatch_triggers LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s %s TRIGGER %I', v_trig.rel,
			CASE v_trig.enabled WHEN 'A' THEN 'ENABLE ALWAYS' WHEN 'R' THEN 'ENABLE REPLICA'
			     WHEN 'D' THEN 'DISABLE' ELSE 'ENABLE' END, v_trig.name);
	END LOOP;
	FOR v_fk IN SELECT * FROM _dispatch_fks LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', v_fk.rel, v_fk.name, v_fk.def);
	END LOOP;
	-- the events of a zone numbered on its worker (src/events.c)
	CREATE TRIGGER events_shard_seq BEFORE INSERT ON @extschema@.events
		FOR EACH ROW EXECUTE FUNCTION @extschema@._event_shard_seq();
	-- a zone's batch runs on the zone's worker: the call is sent there
	-- whole (outside a transaction block), its statements run beside the
	-- shards they read and write
	PERFORM pg_catalog.create_distributed_function('@extschema@.assign_batch(bigint)', 'zone_id',
	                                    colocate_with => '@extschema@.orders');
	-- and so is a call that names an order or an offer (through its routed
	-- form, the zone first), outside a transaction block
	PERFORM pg_catalog.create_distributed_function(f, '$1', colocate_with => '@extschema@.orders')
	   FROM @extschema@._routed_functions() f;
	-- and a rider's or an order's call that names the rider's or the
	-- merchant's zone
	PERFORM pg_catalog.create_distributed_function(f, 'zone_id', colocate_with => '@extschema@.orders')
	   FROM pg_catalog.unnest(ARRAY[
		'@extschema@.place_order_in_zone(bigint, bigint, bigint, jsonb, float8, float8, text, text, text, integer)',
		'@extschema@.place_errand_in_zone(bigint, bigint, float8, float8, float8, float8, text, text, integer)',
		'@extschema@.rider_online_in_zone(bigint, bigint, float8, float8, timestamptz)',
		'@extschema@.rider_offline_in_zone(bigint, bigint)',
		'@extschema@.sync_rider_in_zone(bigint, bigint, jsonb)',
		'@extschema@.update_rider_location_in_zone(bigint, bigint, float8, float8, timestamptz)',
		'@extschema@.update_rider_plan_in_zone(bigint, bigint, timestamptz, float8, float8, timestamptz, float8, float8)'
	   ]::pg_catalog.regprocedure[]) f;
	-- the analyst views read their definer functions, on every node (an
	-- analyst may query the cluster from a worker too)
	PERFORM @extschema@._on_every_node('SELECT @extschema@._analyst_views_read_definers()');
END
$$;
COMMENT ON FUNCTION @extschema@.distribute() IS
	'On a Citus coordinator: distributes the tables of a zone by zone_id, co-located with orders, and makes every other table but the base of event numbers, the relay''s position and the flushes of the refusal ring (local to each node) a reference table, keeping every foreign key (an order''s rider becomes (zone_id, rider_id)); numbers a zone''s events on its worker; sends assign_batch, the calls that name an order or an offer, and the calls that name their zone (place_order_in_zone, place_errand_in_zone, rider_online_in_zone, rider_offline_in_zone, sync_rider_in_zone, update_rider_location_in_zone, update_rider_plan_in_zone) to the zone''s worker; makes the analyst views read their definer functions (_analyst_views()); returns each table with its placement.  DP911 elsewhere, DP912 if done already or a table of the extension is placed by Citus already (a second call at the same time waits for the first, then DP912), DP917 if a worker is of a Citus group above 15 (before anything changes), DP913 if a worker refuses (what the workers did is kept, and a second call completes it).';
REVOKE ALL ON FUNCTION @extschema@.distribute() FROM PUBLIC;

-- A worker added after distribute() (docs/citus.md, "Adding a worker").
-- Citus creates the extension there (plain analyst views, sequences from
-- 1, no base of event numbers) and copies the reference tables only at a
-- rebalance.  prepare_worker, after citus_add_node and before any shard
-- moves there, makes it what distribute() makes of a worker, and gives it
-- a base of event numbers above every number of the cluster, so that a
-- zone's events keep rising when its shards move there (src/events.c).

-- The node's own part, run on it: refused once it holds shards of the
-- outbox (its transactions may have numbered events there already); a
-- node that has its base is prepared, and nothing changes.
CREATE FUNCTION @extschema@._prepare_this_node(p_base bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_base bigint;
BEGIN
	-- one at a time (a second waits, then finds the base)
	LOCK TABLE @extschema@.event_base IN EXCLUSIVE MODE;
	SELECT b.base INTO v_base FROM @extschema@.event_base b;
	IF FOUND THEN
		RETURN v_base;
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_dist_shard s
	             JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid
	            WHERE s.logicalrelid OPERATOR(pg_catalog.=) '@extschema@.events'::regclass
	              AND p.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g)) THEN
		RAISE EXCEPTION 'this worker holds shards of the outbox already'
			USING ERRCODE = 'DP914';
	END IF;
	INSERT INTO @extschema@.event_base (base) VALUES (p_base);
	PERFORM @extschema@._start_node_sequences();
	PERFORM @extschema@._analyst_views_read_definers();
	RETURN p_base;
END
$$;
COMMENT ON FUNCTION @extschema@._prepare_this_node(bigint) IS
	'Internal, on a worker, from distribute() (each worker it places) and prepare_worker (a worker added later): stores the node''s base of event numbers, starts its sequences at its group''s ids and makes its analyst views read their definer functions, in one transaction; returns the base (the one stored before, unchanged, if there is one).  DP914 once the node holds shards of the outbox.';
REVOKE ALL ON FUNCTION @extschema@._prepare_this_node(bigint) FROM PUBLIC;

-- The checks of prepare_worker and prepare_move, on the coordinator: the
-- worker's group, or DP911 / DP915
CREATE FUNCTION @extschema@._worker_group(p_caller text, p_nodename text, p_nodeport integer)
RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_group integer;
BEGIN
	PERFORM @extschema@._require_coordinator(p_caller);
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
	                WHERE p.logicalrelid OPERATOR(pg_catalog.=) '@extschema@.events'::regclass) THEN
		RAISE EXCEPTION 'the tables of dispatch are not distributed yet'
			USING ERRCODE = 'DP915',
			      DETAIL = 'distribute() places every worker of the cluster when it runs.';
	END IF;
	SELECT n.groupid INTO v_group
	  FROM pg_catalog.pg_dist_node n
	 WHERE n.nodename OPERATOR(pg_catalog.=) p_nodename
	   AND n.nodeport OPERATOR(pg_catalog.=) p_nodeport
	   AND n.isactive AND n.noderole OPERATOR(pg_catalog.=) 'primary'
	   AND n.groupid OPERATOR(pg_catalog.<>) 0;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no active worker %:% in this cluster', p_nodename, p_nodeport
			USING ERRCODE = 'DP915',
			      HINT = 'Add the node with citus_add_node first.';
	END IF;
	RETURN v_group;
END
$$;
COMMENT ON FUNCTION @extschema@._worker_group(text, text, integer) IS
	'Internal, on a Citus coordinator (prepare_worker, prepare_move, named by p_caller in the errors): the group of an active primary worker of the cluster, once the tables are distributed; DP911 without Citus or off the coordinator, DP915 before distribute() or for a node that is no such worker.';
REVOKE ALL ON FUNCTION @extschema@._worker_group(text, text, integer) FROM PUBLIC;

-- A command run on one worker in a transaction of its own; its one value,
-- or DP913 with the worker's error
CREATE FUNCTION @extschema@._on_worker(p_nodename text, p_nodeport integer, p_command text)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_result record;
BEGIN
	SELECT r.success, r.result INTO v_result
	  FROM pg_catalog.master_run_on_worker(ARRAY[p_nodename], ARRAY[p_nodeport], ARRAY[p_command], false) r;
	IF NOT v_result.success THEN
		RAISE EXCEPTION 'on the worker %:%: %', p_nodename, p_nodeport, v_result.result
			USING ERRCODE = 'DP913';
	END IF;
	RETURN v_result.result;
END
$$;
COMMENT ON FUNCTION @extschema@._on_worker(text, integer, text) IS
	'Internal, on a Citus coordinator: runs a command on one worker in a transaction of its own and returns its value; DP913 with the worker''s error.';
REVOKE ALL ON FUNCTION @extschema@._on_worker(text, integer, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.prepare_worker(nodename text, nodeport integer DEFAULT 5432)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
	v_group integer;
	v_base text;
	v_top bigint;
BEGIN
	v_group := @extschema@._worker_group('prepare_worker', nodename, nodeport);
	PERFORM @extschema@._check_node_group(v_group, pg_catalog.format('%s:%s', nodename, nodeport));
	-- prepared already: nothing changes (the node did its part in one
	-- transaction; the reference tables are copied again only if missing)
	v_base := @extschema@._on_worker(nodename, nodeport,
	                                 'SELECT coalesce((SELECT base::text FROM @extschema@.event_base), '''')');
	IF v_base OPERATOR(pg_catalog.=) '' AND EXISTS (
	       SELECT FROM pg_catalog.pg_dist_shard s
	         JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid
	        WHERE s.logicalrelid OPERATOR(pg_catalog.=) '@extschema@.events'::regclass
	          AND p.groupid OPERATOR(pg_catalog.=) v_group) THEN
		RAISE EXCEPTION 'the worker %:% holds shards of the outbox already', nodename, nodeport
			USING ERRCODE = 'DP914',
			      DETAIL = 'Its transactions may have numbered events of its zones without a base; a base is given only before a worker holds shards.',
			      HINT = 'Prepare a worker after citus_add_node and before moving shards to it (docs/citus.md, "Adding a worker").';
	END IF;

	-- the reference tables on the node (Citus copies them at a rebalance,
	-- not at citus_move_shard_placement, whose foreign keys need them)
	PERFORM pg_catalog.replicate_reference_tables('block_writes');
	IF v_base OPERATOR(pg_catalog.<>) '' THEN
		RETURN v_base::bigint;
	END IF;

	v_top := @extschema@._base_above_cluster();
	RETURN @extschema@._on_worker(nodename, nodeport,
	                              pg_catalog.format('SELECT @extschema@._prepare_this_node(%s)', v_top))::bigint;
END
$$;
COMMENT ON FUNCTION @extschema@.prepare_worker(text, integer) IS
	'On a Citus coordinator, for a worker added with citus_add_node after distribute(), before any shard moves to it: copies the reference tables there and gives the node what distribute() gives a worker (its sequences'' ids, analyst views that read their definer functions) and a base of event numbers above every number of the cluster, so that a zone''s events keep rising when its shards move there.  Returns the base; a second call changes nothing.  DP911 elsewhere, DP915 before distribute() or for a node not in the cluster, DP914 for a worker that holds shards of the outbox and was not prepared, DP917 for a worker of a Citus group above 15 (no range of ids; group ids are never reused), DP913 if the worker refuses.';
REVOKE ALL ON FUNCTION @extschema@.prepare_worker(text, integer) FROM PUBLIC;

-- A zone's shards moved to a worker that has numbered events already
-- (placed by distribute(), or prepared earlier): its numbers may lie below
-- the zone's, whose new events the trigger would then refuse (DP108).
-- prepare_move raises its base above every number of the cluster, plus
-- 2^32 for the transactions the zone's old worker runs until the move
-- (docs/citus.md, "Moving a zone").  Each raise takes about 2^32 of the
-- 2^43 numbers a node has: some two thousand moves to one node.
CREATE FUNCTION @extschema@.prepare_move(nodename text, nodeport integer DEFAULT 5432)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
BEGIN
	PERFORM @extschema@._worker_group('prepare_move', nodename, nodeport);
	IF @extschema@._on_worker(nodename, nodeport,
	                          'SELECT coalesce((SELECT base::text FROM @extschema@.event_base), '''')')
	   OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'the worker %:% has no base of event numbers', nodename, nodeport
			USING ERRCODE = 'DP916',
			      HINT = 'Prepare a worker added after distribute() with prepare_worker() first.';
	END IF;
	RETURN @extschema@._on_worker(nodename, nodeport,
	                              pg_catalog.format('SELECT @extschema@._raise_event_base(%s)',
	                                                @extschema@._base_above_cluster()))::bigint;
END
$$;
COMMENT ON FUNCTION @extschema@.prepare_move(text, integer) IS
	'On a Citus coordinator, before moving a zone''s shards (citus_move_shard_placement, a rebalance or a drain) to a worker: raises that worker''s base of event numbers above every number of the cluster, once its transactions numbering with the old base have ended (new ones wait for the raise), so that each moved zone''s events keep rising there.  Returns the new base.  DP911 elsewhere, DP915 before distribute() or for a node not in the cluster, DP916 for a worker without a base (prepare_worker first), DP913 if the worker refuses.';
REVOKE ALL ON FUNCTION @extschema@.prepare_move(text, integer) FROM PUBLIC;
