-- test/pgtap/40_privileges.sql: who may do what.  Nothing of ours is
-- executable by PUBLIC, every SECURITY DEFINER function pins its
-- search_path, the analyst reads no base table, the gateway reads events
-- only through events_since.
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SELECT plan(23);

SELECT is(
	(SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
	  WHERE p.pronamespace = 'dispatch'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')),
	NULL, 'no function of the extension is executable by PUBLIC');
SELECT is(
	(SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
	  WHERE p.pronamespace = 'dispatch'::regnamespace AND p.prosecdef
	    AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=pg_catalog,%pg_temp')),
	NULL, 'every SECURITY DEFINER function pins search_path to pg_catalog first and pg_temp last');
SELECT is(
	(SELECT array_agg(c.relname::text ORDER BY 1) FROM pg_class c
	  WHERE c.relnamespace = 'dispatch'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
	    AND (has_table_privilege('public', c.oid, 'SELECT') OR has_table_privilege('public', c.oid, 'INSERT')
	         OR has_table_privilege('public', c.oid, 'UPDATE') OR has_table_privilege('public', c.oid, 'DELETE'))),
	NULL, 'no table, view or sequence of the extension is open to PUBLIC');
SELECT is(
	(SELECT array_agg(c.relname::text ORDER BY 1) FROM pg_class c
	  WHERE c.relnamespace = 'dispatch'::regnamespace AND c.relkind IN ('r', 'p')
	    AND has_table_privilege('dispatch_analyst', c.oid, 'SELECT')),
	NULL, 'the analyst reads no base table');
SELECT is(
	(SELECT array_agg(c.relname::text ORDER BY 1) FROM pg_class c
	  WHERE c.relnamespace = 'dispatch'::regnamespace AND c.relkind IN ('r', 'p')
	    AND (has_table_privilege('dispatch_app', c.oid, 'SELECT') OR has_table_privilege('dispatch_app', c.oid, 'INSERT')
	         OR has_table_privilege('dispatch_app', c.oid, 'UPDATE') OR has_table_privilege('dispatch_app', c.oid, 'DELETE'))),
	NULL, 'the app touches tables only through the API');
SELECT table_privs_are('dispatch', 'events', 'dispatch_gateway', ARRAY[]::text[], 'the gateway reads events only through events_since');
SELECT table_privs_are('dispatch', 'subject_keys', 'dispatch_admin', ARRAY[]::text[], 'not even the admin role reads wrapped keys');

SELECT function_privs_are('dispatch', 'place_order', ARRAY['bigint','bigint','jsonb','double precision','double precision','text','text','text','integer'],
	'dispatch_app', ARRAY['EXECUTE'], 'the app places orders');
SELECT function_privs_are('dispatch', 'place_order', ARRAY['bigint','bigint','jsonb','double precision','double precision','text','text','text','integer'],
	'dispatch_analyst', ARRAY[]::text[], 'the analyst does not place orders');
SELECT function_privs_are('dispatch', 'place_order', ARRAY['bigint','bigint','jsonb','double precision','double precision','text','text','text','integer'],
	'dispatch_gateway', ARRAY[]::text[], 'the gateway does not place orders');
SELECT function_privs_are('dispatch', 'events_since', ARRAY['bigint','integer','bigint'],
	'dispatch_gateway', ARRAY['EXECUTE'], 'the gateway catches up on events');
SELECT function_privs_are('dispatch', 'events_since', ARRAY['bigint','integer','bigint'],
	'dispatch_analyst', ARRAY[]::text[], 'the analyst does not read the outbox');
SELECT function_privs_are('dispatch', 'pii_open', ARRAY['text','bigint','bytea','text'],
	'dispatch_admin', ARRAY[]::text[], 'nobody opens personal data directly');
SELECT function_privs_are('dispatch', '_master_key', ARRAY['integer'],
	'dispatch_admin', ARRAY[]::text[], 'nobody reads the master key');
SELECT function_privs_are('dispatch', 'create_zone', ARRAY['text','geometry','text'],
	'dispatch_app', ARRAY[]::text[], 'zones are the admin''s');
SELECT is_definer('dispatch', 'place_order', ARRAY['bigint','bigint','jsonb','double precision','double precision','text','text','text','integer'],
	'the API runs with the extension''s rights');

-- the analyst's views: on one server they read the tables (a filter
-- reaches their indexes); on Citus, where the shards of a view's tables are
-- read as the querying role, distribute() makes each read the SECURITY
-- DEFINER function of its rows (_analyst_views(); test/pgtap/41_analyst_views.sql).
-- Those functions, and the heatmap's helpers that demand_heatmap calls as
-- its reader on one server, are all of ours the analyst may call besides
-- the documented API.
SELECT is(
	(SELECT array_agg(p.proname::text ORDER BY p.proname::text) FROM pg_proc p
	  WHERE p.pronamespace = 'dispatch'::regnamespace AND p.proname LIKE '\_%'
	    AND has_function_privilege('dispatch_analyst', p.oid, 'EXECUTE')),
	ARRAY['_campaign_performance', '_cell_size', '_complaint_sla', '_consent_rates', '_customer_retention',
	      '_customer_segments', '_demand_heatmap', '_dispatch_kpis', '_earnings_fairness', '_eta_accuracy',
	      '_experiment_by_day', '_experiment_results', '_feedback_daily', '_feedback_top_issues', '_hex_cell',
	      '_hexagon', '_hour_of_week', '_monthly_review', '_order_anomalies', '_privacy_request_counts',
	      '_refund_reconciliation', '_rider_utilisation', '_stuck_orders', '_survey_results'],
	'the internal functions the analyst may call are those of the analyst views');
SELECT is(
	(SELECT array_agg(p.proname::text ORDER BY p.proname::text) FROM pg_proc p
	  WHERE p.pronamespace = 'dispatch'::regnamespace AND p.proname LIKE '\_%'
	    AND has_function_privilege('dispatch_analyst', p.oid, 'EXECUTE')
	    AND p.oid NOT IN (SELECT a.reader FROM dispatch._analyst_views() a
	                       WHERE has_table_privilege('dispatch_analyst', a.view_name, 'SELECT'))
	    AND position('dispatch.' || p.proname || '(' IN
	                 (SELECT h.prosrc FROM pg_proc h WHERE h.oid = 'dispatch._demand_heatmap(bigint)'::regprocedure)) = 0),
	NULL, 'each is the definer function of an analyst view or a helper of the heatmap''s counts');
SELECT is(
	(SELECT array_agg(DISTINCT v.relname::text ORDER BY v.relname::text) FROM pg_class v
	   JOIN pg_rewrite r ON r.ev_class = v.oid
	   JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
	  WHERE v.relnamespace = 'dispatch'::regnamespace AND v.relkind = 'v'
	    AND has_table_privilege('dispatch_analyst', v.oid, 'SELECT')
	    AND d.refobjid <> v.oid
	    AND EXISTS (SELECT FROM pg_class t WHERE t.oid = d.refobjid AND t.relkind IN ('r', 'p', 'v'))),
	CASE WHEN NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')
	     THEN (SELECT array_agg(c.relname::text ORDER BY c.relname::text) FROM dispatch._analyst_views() a
	             JOIN pg_class c ON c.oid = a.view_name) END,
	'on one server every view the analyst reads names tables (or a view of them); on Citus (distributed) none does');

-- the roles in action
SET LOCAL ROLE dispatch_analyst;
SELECT throws_ok('SELECT count(*) FROM dispatch.orders', '42501', NULL, 'the analyst role is refused the orders table');
RESET ROLE;

-- the tables the admin configures (docs/api.md: matching_settings,
-- vehicle_profiles and pay_models, INSERT and UPDATE; the sentiment
-- tables): a CHECK constraint's function runs as the writing role, so the
-- admin must be able to execute every one they call, or its writes are
-- refused (42501) whatever the values
SELECT is(
	(SELECT array_agg(DISTINCT c.conrelid::regclass::text || ': ' || d.refobjid::regprocedure::text)
	   FROM pg_constraint c
	   JOIN pg_depend d ON d.classid = 'pg_constraint'::regclass AND d.objid = c.oid
	                   AND d.refclassid = 'pg_proc'::regclass
	  WHERE c.connamespace = 'dispatch'::regnamespace AND c.contype = 'c'
	    AND (has_table_privilege('dispatch_admin', c.conrelid, 'INSERT')
	         OR has_table_privilege('dispatch_admin', c.conrelid, 'UPDATE'))
	    AND NOT has_function_privilege('dispatch_admin', d.refobjid, 'EXECUTE')),
	NULL, 'the admin may execute every function a CHECK of a table it writes calls');
-- (on Citus a write of a reference table opens connections to the workers
-- as the writing role, which dispatch_admin, without LOGIN, cannot: there
-- its members write; the privileges are what is checked)
SET LOCAL ROLE dispatch_admin;
SELECT CASE WHEN NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')
            THEN lives_ok($$UPDATE dispatch.vehicle_profiles SET max_pickup_m = 7000 WHERE vehicle = 'ebike';
                            SET CONSTRAINTS ALL IMMEDIATE$$,
                          'the admin edits a vehicle profile (docs/matching.md: "Edit them with UPDATE")')
            ELSE ok(has_table_privilege('dispatch_admin', 'dispatch.vehicle_profiles', 'UPDATE')
                    AND has_function_privilege('dispatch_admin', 'dispatch._vehicle_ok(text)', 'EXECUTE'),
                    'the admin edits a vehicle profile (docs/matching.md: "Edit them with UPDATE")')
       END;
RESET ROLE;
SELECT CASE WHEN NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')
            THEN is((SELECT (max_pickup_m, source)::text FROM dispatch.vehicle_profiles WHERE vehicle = 'ebike'),
                    '(7000,operator)', 'and the profile is the operator''s, kept by pg_dump')
            ELSE pass('and the profile is the operator''s, kept by pg_dump (one server only)')
       END;

SELECT * FROM finish();
ROLLBACK;
