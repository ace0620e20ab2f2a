-- test/pgtap/97_distribute.sql: distribute() refused without Citus (and a
-- second time on a cluster), the list of tables it distributes, the routed
-- forms of the calls that name an order or an offer; prepare_worker() and
-- prepare_move() refused without Citus (or for a node not in the
-- cluster), and on one server a node's base of event numbers carried by
-- the events and their horizon, and raised (test/citus/add_worker.t adds a
-- worker on the cluster and moves a zone there and back).
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SELECT plan(23);

-- (test/citus/suite runs this file on a cluster distributed already)
SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS on_citus \gset
\if :on_citus
SELECT throws_ok('SELECT dispatch.distribute()', 'DP912', 'the tables of dispatch are distributed already',
                 'distributed once, distribute() is refused a second time (DP912)');
\else
SELECT throws_ok('SELECT dispatch.distribute()', 'DP911', 'distribute() needs Citus',
                 'without Citus, distribute() is refused (DP911)');
\endif

-- A node's base of event numbers (docs/citus.md, "Adding a worker"): 0
-- without a row; with one, an event's seq and the horizon of events_since
-- add it to the transaction ids.  Read at a transaction's first event, so
-- this comes before any other event of the file's transaction.
\if :on_citus
-- (on the cluster the coordinator's events are numbered on the workers)
SELECT pass('a base of event numbers: checked on one server') FROM generate_series(1, 7);
\else
SELECT is(dispatch._event_base(), 0::bigint, 'without a row the base of event numbers is 0');
SELECT throws_ok('SELECT dispatch._raise_event_base(10)', 'DP916', 'this node has no base of event numbers',
                 'a node without a base has none to raise (DP916)');
INSERT INTO dispatch.event_base (base) VALUES (1000000);
SELECT dispatch._emit_event(dispatch.create_zone('zbase', ST_MakeEnvelope(103.0, 30.0, 103.1, 30.1, 4326)),
                            'test', NULL, NULL, NULL, NULL) AS based_seq \gset
SELECT is(:based_seq::bigint >> 20, 1000000 + pg_current_xact_id()::text::bigint,
          'an event''s seq carries the base plus its transaction id');
SELECT is(dispatch._event_horizon() >> 20, 1000000 + pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
          'and so does the horizon of events_since');
-- a raise (prepare_move's part on a worker; the waiting for writers:
-- test/isolation/specs/event_base_raise.spec)
SELECT is(dispatch._raise_event_base(3000000), 3000000::bigint, 'a raise stores the new base');
SELECT is(dispatch._raise_event_base(5), 3000000::bigint, 'and never lowers it');
SELECT is(dispatch._event_horizon() >> 20, 3000000 + pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
          'a snapshot that sees the raise has its horizon above the new base');
\endif
SELECT ok(NOT has_function_privilege('dispatch_admin', 'dispatch.prepare_worker(text, integer)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'dispatch.prepare_worker(text, integer)', 'EXECUTE'),
          'only a superuser prepares a worker');
\if :on_citus
SELECT throws_ok($$SELECT dispatch.prepare_worker('localhost', 1)$$, 'DP915', 'no active worker localhost:1 in this cluster',
                 'prepare_worker refuses a node that is not a worker of the cluster (DP915)');
SELECT throws_ok($$SELECT dispatch.prepare_move('localhost', 1)$$, 'DP915', 'no active worker localhost:1 in this cluster',
                 'so does prepare_move (DP915)');
\else
SELECT throws_ok($$SELECT dispatch.prepare_worker('localhost', 1)$$, 'DP911', 'prepare_worker() needs Citus',
                 'without Citus, prepare_worker is refused (DP911)');
SELECT throws_ok($$SELECT dispatch.prepare_move('localhost', 1)$$, 'DP911', 'prepare_move() needs Citus',
                 'and so is prepare_move (DP911)');
\endif
SELECT ok(NOT has_function_privilege('dispatch_admin', 'dispatch.prepare_move(text, integer)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'dispatch.prepare_move(text, integer)', 'EXECUTE'),
          'only a superuser prepares a move');

-- the tables of a zone are those keyed by zone first, save the zones and
-- the settings (zone 0 holds the defaults every node reads), and riders,
-- which distribute() keys by zone
CREATE TEMP VIEW zone_keyed AS
	SELECT c.oid::regclass AS t
	  FROM pg_class c JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p'
	 WHERE c.relnamespace = 'dispatch'::regnamespace
	   AND (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = k.conkey[1]) = 'zone_id';
SELECT set_eq('SELECT d FROM dispatch._distributed_tables() d',
              $$SELECT t FROM zone_keyed
                 WHERE t NOT IN ('dispatch.zones'::regclass, 'dispatch.matching_settings'::regclass,
                                 'dispatch.pay_models'::regclass)
                UNION ALL SELECT 'dispatch.riders'::regclass$$,
              'distribute() distributes exactly the tables keyed by zone, and riders');
SELECT is((SELECT d FROM dispatch._distributed_tables() d LIMIT 1), 'dispatch.orders'::regclass,
          'orders first: the others are co-located with it');
SELECT ok(NOT has_function_privilege('dispatch_admin', 'dispatch.distribute()', 'EXECUTE')
          AND NOT has_function_privilege('public', 'dispatch.distribute()', 'EXECUTE'),
          'only a superuser distributes');

-- a call naming a rider finds its zone in rider_zones; a rider of another
-- zone than the order's is refused as such, an unknown one as unknown
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT dispatch.create_zone('za', ST_MakeEnvelope(104.0, 30.0, 104.1, 30.1, 4326)) AS za \gset
SELECT dispatch.create_zone('zb', ST_MakeEnvelope(105.0, 30.0, 105.1, 30.1, 4326)) AS zb \gset
SELECT dispatch.create_merchant(:za, 'shop', 104.05, 30.05, 10) AS shop \gset
SELECT dispatch.add_item(:shop, 'dish', 1500) AS dish \gset
SELECT dispatch.place_order(dispatch.register_customer('+8613912340001', NULL), :shop,
       jsonb_build_array(jsonb_build_object('item_id', :dish, 'qty', 1)), 104.05, 30.06, 'addr', 'normal') AS o \gset
SELECT dispatch.confirm_payment(:o, 'ref'), dispatch.merchant_accept(:o) \g /dev/null
SELECT dispatch.register_rider(:zb, 'r', '+8613912340002') AS rb \gset
SELECT dispatch.rider_online(:rb, 105.05, 30.05) \g /dev/null
SELECT throws_like(format('SELECT dispatch.assign_manually(%s, %s, ''ops'')', :o, :rb),
                   format('%%works in zone %s, not in zone %s%%', :zb, :za),
                   'a rider of another zone is refused as such (DP020)');
SELECT throws_ok(format('SELECT dispatch.assign_manually(%s, 999999999, ''ops'')', :o), 'DP015', NULL,
                 'an unknown rider is refused as unknown (DP015)');

-- the calls that name an order or an offer: each public form is inlined
-- into the caller's query as a call of its routed form, the zone a
-- constant (what Citus needs to send the call to the zone's worker)
CREATE FUNCTION pg_temp.plan_of(f regprocedure, p_public name DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_public name := COALESCE(p_public, substr((SELECT proname FROM pg_proc WHERE oid = f), 2));
	v_args text;
	v_plan text := '';
	v_line text;
BEGIN
	-- the public form's arguments: the routed form's after the zone
	SELECT string_agg(CASE WHEN n = 2 THEN '1099511627777::bigint' ELSE 'NULL::' || format_type(t, NULL) END, ', ' ORDER BY n)
	  INTO v_args
	  FROM unnest((SELECT proargtypes::oid[] FROM pg_proc WHERE oid = f)) WITH ORDINALITY AS a(t, n)
	 WHERE n > 1
	   AND n <= 1 + (SELECT p.pronargs FROM pg_proc p
	                  WHERE p.proname = v_public AND p.pronamespace = 'dispatch'::regnamespace);
	FOR v_line IN EXECUTE format('EXPLAIN (VERBOSE, COSTS OFF) SELECT dispatch.%I(%s)', v_public, v_args) LOOP
		v_plan := v_plan || v_line;
	END LOOP;
	RETURN v_plan;
END
$$;
SELECT is((SELECT count(*) FROM dispatch._routed_functions()), 11::bigint, 'eleven calls have a routed form');
SELECT is((SELECT array_agg(f::text ORDER BY f::text) FROM dispatch._routed_functions() f
            WHERE pg_temp.plan_of(f) NOT LIKE '%dispatch.' || (SELECT proname FROM pg_proc WHERE oid = f) || '(''1''::bigint, ''1099511627777''::bigint%'),
          NULL, 'each public form becomes a call of its routed form with the zone of the id, a constant');
SELECT ok(pg_temp.plan_of('dispatch._release_order(bigint, bigint, bigint, text, boolean)', 'replan_order')
          LIKE '%dispatch._release_order(''1''::bigint, ''1099511627777''::bigint, NULL::bigint, ''replanned''::text, false)%',
          'replan_order too, not excluding the rider');
SELECT is((SELECT array_agg(f::text ORDER BY f::text) FROM dispatch._routed_functions() f
            WHERE NOT has_function_privilege('dispatch_app', f, 'EXECUTE')
               OR has_function_privilege('dispatch_analyst', f, 'EXECUTE')),
          NULL, 'the app may call the routed forms, which its calls become; the analyst may not');
SELECT throws_ok(format('SELECT dispatch._confirm_payment(%s, %s, ''ref'')', :zb, :o), 'DP014',
                 format('order %s does not lie in zone %s', :o, :zb),
                 'a routed form refuses a zone that is not the order''s (DP014)');
SELECT throws_ok(format('SELECT dispatch._respond_offer(%s, %s, true)', :za, (:zb::bigint << 40) + 1), 'DP301', NULL,
                 'and one that is not the offer''s (DP301)');

SELECT * FROM finish();
ROLLBACK;
