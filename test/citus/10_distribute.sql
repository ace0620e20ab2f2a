-- test/citus/10_distribute.sql: dispatch on a Citus coordinator and two
-- workers (docs/citus.md).  distribute() places every table; an order's
-- whole life (intake, batch, offer, pickup, delivery) runs with its zone's
-- rows on one worker and writes nothing to the other; the events of the
-- order come in transition order.  Run by test/citus/run against the
-- cluster of `tools/pgdev citus`, outside a transaction (the cluster is
-- thrown away).
\set QUIET on
\set ON_ERROR_STOP on
SET client_min_messages = error;
SELECT plan(45);

-- ---------------------------------------------------------------------------
-- placement
-- ---------------------------------------------------------------------------

SELECT count(*) AS fks FROM pg_constraint
 WHERE contype = 'f' AND connamespace = 'dispatch'::regnamespace \gset
-- (the coordinator holds a copy of each reference table, a shard with its
-- own constraints: the tables Citus knows are counted after)

-- a worker that refuses a change: DP913 with its error, nothing placed,
-- and a retry once it agrees places everything
-- (the function from the coordinator, which Citus carries to the workers;
-- the event trigger on each worker)
CREATE FUNCTION public.refuse_ddl() RETURNS event_trigger LANGUAGE plpgsql AS
	'BEGIN RAISE EXCEPTION ''this worker takes no DDL now''; END';
SELECT bool_and(success) AS refusing FROM run_command_on_workers(
	'CREATE EVENT TRIGGER refuse_ddl ON ddl_command_start EXECUTE FUNCTION public.refuse_ddl()') \gset
SELECT throws_like('SELECT dispatch.distribute()', '%this worker takes no DDL now%',
                   'a worker''s refusal is passed on');
SELECT throws_ok('SELECT dispatch.distribute()', 'DP913', NULL, 'with DP913');
SELECT is((SELECT count(*) FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid
            WHERE c.relnamespace = 'dispatch'::regnamespace), 0::bigint, 'and nothing is placed');
SELECT bool_and(success) AS agreeing FROM run_command_on_workers('DROP EVENT TRIGGER refuse_ddl') \gset
DROP FUNCTION public.refuse_ddl();
SELECT ok(:'refusing' AND :'agreeing', 'the workers took the refusing trigger and dropped it');

-- a single-node history: an order placed before distribute(), its event
-- numbered by the coordinator's transactions, which have run ahead of the
-- workers' (here by 5,000 subtransactions' ids)
SELECT dispatch.create_zone('history', ST_MakeEnvelope(99, 30.0, 99.1, 30.1, 4326)) AS zh \gset
SELECT dispatch.create_merchant(:zh, 'old shop', 99.05, 30.05, 10) AS hshop \gset
SELECT dispatch.add_item(:hshop, 'dish', 1500) AS hdish \gset
SELECT dispatch.register_customer('+8613900000009', NULL) AS hcu \gset
CREATE TEMP TABLE burn (i int);
DO $$ BEGIN FOR i IN 1..5000 LOOP BEGIN INSERT INTO burn VALUES (i); EXCEPTION WHEN OTHERS THEN NULL; END; END LOOP; END $$;
-- (five orders first: this session's kept plans of intake, past their
-- five custom runs, are generic when distribute() comes, and must be
-- planned again for the orders placed after it, below)
SELECT count(dispatch.place_order(dispatch.register_customer('+861390000001' || g, NULL), :hshop, jsonb_build_array(jsonb_build_object('item_id', :hdish, 'qty', 1)),
                                  99.05, 30.06, 'addr', 'normal')) AS early FROM generate_series(1, 5) g \gset
SELECT dispatch.place_order(:hcu, :hshop, jsonb_build_array(jsonb_build_object('item_id', :hdish, 'qty', 1)),
                            99.05, 30.06, 'addr', 'normal') AS ho \gset

-- a table of the extension that Citus knows already (placed by hand):
-- refused before anything changes (before, the workers' steps were done
-- and committed, then Citus refused to place the table a second time)
BEGIN;
SELECT create_reference_table('dispatch.maintenance_jobs') \g /dev/null
SELECT throws_ok('SELECT dispatch.distribute()', 'DP912',
                 'tables of dispatch are placed by Citus already: dispatch.maintenance_jobs',
                 'distribute() with a table of the extension placed by hand is refused (DP912)');
ROLLBACK;

-- a second distribute() while the first runs (a retry after a client's
-- timeout, say): it waits for the first, then is refused (DP912) and
-- changes nothing; it must not drop, through the tables the first placed,
-- what it then waits for on the workers (before, it hung there, holding
-- the tables' locks on every node until cancelled).  The second call runs
-- over dblink, with a statement timeout as a bound.
CREATE SCHEMA t_dblink;
CREATE EXTENSION dblink SCHEMA t_dblink;
SELECT t_dblink.dblink_connect('second',
         format('host=%s port=%s dbname=%s user=%s options=-cstatement_timeout=60s',
                split_part(current_setting('unix_socket_directories'), ',', 1),
                current_setting('port'), current_database(), current_user)) \g /dev/null
BEGIN;
CREATE TEMP TABLE placed AS SELECT * FROM dispatch.distribute();
SELECT t_dblink.dblink_send_query('second', 'SELECT count(*) FROM dispatch.distribute()') \g /dev/null
-- (until the second call waits for a lock this transaction holds)
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN EXISTS (SELECT FROM pg_locks l
		                   WHERE NOT l.granted AND pg_backend_pid() = ANY (pg_blocking_pids(l.pid)));
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
COMMIT;
SELECT throws_ok($$SELECT n FROM t_dblink.dblink_get_result('second') AS r(n bigint)$$, 'DP912', NULL,
                 'a second distribute() at the same time waits for the first and is refused (DP912)');
SELECT t_dblink.dblink_disconnect('second') \g /dev/null
DROP EXTENSION dblink;
DROP SCHEMA t_dblink;
SELECT ok(bool_and(success AND result::bigint > (SELECT max(seq) >> 20 FROM dispatch.events)), 'each worker numbers its events above the coordinator''s')
  FROM run_command_on_workers('SELECT dispatch._event_base()');
SELECT lives_ok(format('SELECT dispatch.confirm_payment(%s, %L)', :ho, 'ref-history'),
                'an order of the single-node history goes on once its zone is on a worker');
SELECT results_eq(format($$ SELECT payload->>'status' FROM dispatch.events
                             WHERE zone_id = %s AND order_id = %s AND kind = 'order_status' ORDER BY seq $$, :zh, :ho),
                  $$ VALUES ('pending_payment'), ('placed') $$,
                  '... its new event numbered after the one moved there');

SELECT is((SELECT count(*) FROM placed),
          (SELECT count(*) FROM pg_class WHERE relnamespace = 'dispatch'::regnamespace AND relkind = 'r'),
          'distribute() places every table of the extension');
SELECT is((SELECT count(*) FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid
            WHERE c.relnamespace = 'dispatch'::regnamespace),
          (SELECT count(*) FROM placed WHERE placement <> 'local to each node'),
          'Citus knows every one of them but three');
SELECT is((SELECT string_agg(table_name::text, ',' ORDER BY table_name::text) FROM placed WHERE placement = 'local to each node'),
          'dispatch.event_base,dispatch.refusal_flushes,dispatch.relay_position',
          'the three are the base of event numbers, the relay''s position and the flushes of the ring of refused attempts, which each node keeps for itself');
SELECT is((SELECT count(*) FROM placed WHERE placement = 'distributed by zone_id'),
          (SELECT count(*) FROM dispatch._distributed_tables()), 'the zone''s tables are distributed');
SELECT is((SELECT count(DISTINCT p.colocationid) FROM pg_dist_partition p
            WHERE p.logicalrelid IN (SELECT d FROM dispatch._distributed_tables() d)),
          1::bigint, 'all of them co-located with orders');
SELECT is((SELECT count(*) FROM pg_dist_partition p
            WHERE p.logicalrelid IN (SELECT d FROM dispatch._distributed_tables() d)
              AND p.partmethod = 'h'
              AND p.partkey IS NOT NULL
              AND column_to_column_name(p.logicalrelid, p.partkey) = 'zone_id'),
          (SELECT count(*) FROM dispatch._distributed_tables()), 'each by zone_id');
SELECT is((SELECT partmethod FROM pg_dist_partition WHERE logicalrelid = 'dispatch.zones'::regclass),
          'n', 'zones is a reference table');
SELECT is((SELECT partmethod FROM pg_dist_partition WHERE logicalrelid = 'dispatch.customers'::regclass),
          'n', 'customers is a reference table: no order write crosses shards for it');
SELECT is((SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'dispatch'::regnamespace
             AND conrelid IN (SELECT logicalrelid FROM pg_dist_partition)),
          :fks::bigint, 'every foreign key is back');
SELECT is((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'orders_rider_id_fkey'
            AND conrelid = 'dispatch.orders'::regclass),
          'FOREIGN KEY (zone_id, rider_id) REFERENCES dispatch.riders(zone_id, rider_id)',
          'an order''s rider is a rider of its zone');
SELECT throws_ok('SELECT dispatch.distribute()', 'DP912', NULL, 'a second distribute() is refused (DP912)');
SELECT ok(bool_and(success AND result = 't'), 'each worker hands out ids from its own range, above the coordinator''s')
  FROM run_command_on_workers($$SELECT last_value = (SELECT groupid FROM pg_dist_local_group)::int8 << 36
                                 FROM dispatch.offers_id_seq$$);
SELECT is((SELECT distribution_argument_index || ' ' || (colocationid = (SELECT colocationid FROM pg_dist_partition
                                                                          WHERE logicalrelid = 'dispatch.orders'::regclass))
             FROM pg_dist_object WHERE objid = 'dispatch.assign_batch(bigint)'::regprocedure),
          '0 true', 'assign_batch is sent to the worker of its zone (argument 1, co-located with orders)');
SELECT is((SELECT count(*) FROM pg_dist_object o JOIN dispatch._routed_functions() f ON o.objid = f
            WHERE o.distribution_argument_index = 0
              AND o.colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'dispatch.orders'::regclass)),
          (SELECT count(*) FROM dispatch._routed_functions()),
          'so is each routed form of a call naming an order or an offer');
-- the analyst views read their definer functions (docs/citus.md, "Analysts
-- on Citus"), on the coordinator and on each worker
SELECT is((SELECT array_agg(c.relname::text ORDER BY c.relname::text) FROM dispatch._analyst_views() a
             JOIN pg_class c ON c.oid = a.view_name JOIN pg_rewrite w ON w.ev_class = a.view_name
            WHERE NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                                 AND d.refclassid = 'pg_proc'::regclass AND d.refobjid = a.reader)
               OR EXISTS (SELECT FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                           WHERE d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                             AND d.refclassid = 'pg_class'::regclass AND t.relkind IN ('r', 'p'))),
          NULL, 'every analyst view reads its definer function and names no table');
SELECT ok(bool_and(success AND result = '0'), 'on every worker too')
  FROM run_command_on_workers($$SELECT count(*) FROM dispatch._analyst_views() a JOIN pg_proc f ON f.oid = a.reader
                                 WHERE pg_get_viewdef(a.view_name) !~ ('FROM dispatch\.' || f.proname || '\(\)')$$);

-- ---------------------------------------------------------------------------
-- two zones on two workers
-- ---------------------------------------------------------------------------

CREATE TEMP TABLE zone_node (zone_id bigint, nodeport int);
CREATE FUNCTION pg_temp.node_of(p_zone bigint) RETURNS int LANGUAGE sql AS $$
	SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
	 WHERE p.shardid = get_shard_id_for_distribution_column('dispatch.orders', p_zone)
$$;
DO $$
DECLARE z bigint;
BEGIN
	FOR i IN 0..7 LOOP
		z := dispatch.create_zone('z' || i, ST_MakeEnvelope(100 + i, 30.0, 100.1 + i, 30.1, 4326));
		INSERT INTO zone_node VALUES (z, pg_temp.node_of(z));
	END LOOP;
END $$;
SELECT min(zone_id) AS za FROM zone_node \gset
SELECT min(zone_id) AS zb FROM zone_node WHERE nodeport <> pg_temp.node_of(:za) \gset
SELECT pg_temp.node_of(:za) AS porta, pg_temp.node_of(:zb) AS portb \gset
SELECT isnt(:porta, :portb, 'two zones lie on two workers');

-- an order's life in zone a (test/citus/routing.t checks which nodes each
-- call reaches)
SELECT dispatch.create_merchant(:za, 'shop', 100.05, 30.05, 10) AS shop \gset
SELECT dispatch.add_item(:shop, 'dish', 1500) AS dish \gset
SELECT dispatch.register_customer('+8613900000001', NULL) AS cu \gset
SELECT dispatch.register_rider(:za, 'r', '+8613900000002', 2) AS r \gset
SELECT zone_id AS rider_zone FROM dispatch.rider_zones WHERE rider_id = :r \gset
SELECT is(:rider_zone, :za, 'the directory of riders, a reference table, knows the rider''s zone');
SELECT dispatch.rider_online(:r, 100.05, 30.049) \g /dev/null
SELECT dispatch.place_order(:cu, :shop, jsonb_build_array(jsonb_build_object('item_id', :dish, 'qty', 1)),
                            100.05, 30.06, 'addr', 'normal') AS o \gset
SELECT dispatch.confirm_payment(:o, 'ref-' || :o) \g /dev/null
SELECT dispatch.merchant_accept(:o) \g /dev/null
SELECT count(*) AS offered FROM dispatch.assign_batch(:za) b WHERE b.order_id = :o AND b.rider_id = :r \gset
SELECT is(:offered, 1, 'the batch of zone a offers the order to its rider');
SELECT offer_id AS f FROM dispatch.offers WHERE zone_id = :za AND order_id = :o \gset
SELECT dispatch.respond_offer(:f, true) \g /dev/null
SELECT dispatch.update_rider_location(:r, 100.0501, 30.0501) \g /dev/null
SELECT dispatch.update_rider_plan(:r, dispatch.clock() + interval '10 minutes', 100.05, 30.06) \g /dev/null
SELECT dispatch.mark_picked_up(:o, :r) \g /dev/null
SELECT dispatch.mark_delivered(:o, :r) \g /dev/null
-- (values are read first: Citus would push a whole routable SELECT, the
-- pgTAP call in it too, down to the worker)
SELECT status FROM dispatch.orders WHERE zone_id = :za AND order_id = :o \gset
SELECT active_orders, orders_today FROM dispatch.riders WHERE zone_id = :za AND rider_id = :r \gset
SELECT array_agg(e.payload->>'status' ORDER BY e.seq) AS statuses,
       array_agg((e.payload->>'version')::int ORDER BY e.seq) AS versions
  FROM dispatch.events e
 WHERE e.zone_id = :za AND e.order_id = :o AND e.kind = 'order_status' \gset
SELECT count(*) AS etas FROM dispatch.eta_predictions WHERE zone_id = :za AND order_id = :o \gset
-- a gateway of zone a catches up from 0, then from the last seq it saw
SELECT array_agg(e.payload->>'status' ORDER BY e.seq) FILTER (WHERE e.kind = 'order_status' AND e.order_id = :o) AS caught,
       count(*) AS caught_n, count(DISTINCT e.seq) AS caught_distinct, max(e.seq) AS last_seq
  FROM dispatch.events_since(0, 1000, :za) e \gset
SELECT count(*) AS zone_events FROM dispatch.events WHERE zone_id = :za \gset
SELECT count(*) AS after_last FROM dispatch.events_since(:last_seq, 1000, :za) \gset
SELECT is(:'status'::text, 'delivered', 'the order is delivered');
SELECT is(:active_orders, 0, 'the rider''s load follows the order (the trigger on the shard reached the rider''s row)');
SELECT is(:orders_today, 1, 'and its day''s count');
SELECT is(:'statuses'::text[], ARRAY['pending_payment', 'placed', 'accepted', 'assigned', 'picked_up', 'delivered'],
          'the order''s events, in transition order, on its zone''s worker');
SELECT is(:'versions'::int[], ARRAY[1, 2, 3, 4, 5, 6], 'with their versions');
SELECT cmp_ok(:etas, '>', 0, 'the ETA trigger wrote its predictions on the shard');
SELECT is(:'caught'::text[], ARRAY['pending_payment', 'placed', 'accepted', 'assigned', 'picked_up', 'delivered'],
          'events_since of the zone from 0 gives the order''s events in order');
SELECT is(:caught_n, :zone_events, 'and every event of the zone');
SELECT is(:caught_distinct, :caught_n, 'each once (the zone''s events are numbered on its worker)');
SELECT is(:after_last, 0, 'from the last seq seen, nothing more');

-- a statement of the API on a zone's rows is one task on one worker
CREATE FUNCTION pg_temp.explain_lines(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
	FOR l IN EXECUTE 'EXPLAIN ' || q LOOP
		RETURN NEXT l;
	END LOOP;
END $$;
SELECT ok((SELECT string_agg(x, E'\n') FROM (SELECT * FROM pg_temp.explain_lines(
               format('SELECT * FROM dispatch.orders WHERE zone_id = %s AND order_id = %s', :za, :o))) t(x))
          ~ 'Task Count: 1', 'a read of an order by its zone is one task');
SELECT ok((SELECT string_agg(x, E'\n') FROM (SELECT * FROM pg_temp.explain_lines(
               format('UPDATE dispatch.riders SET capacity = capacity WHERE zone_id = %s AND rider_id = %s', :za, :r))) t(x))
          ~ 'Task Count: 1', 'a write of a rider by its zone is one task');

-- once the outbox is distributed, each node's relay serves the shards of
-- it that the node holds (it looks each second): each worker's is ready,
-- the coordinator's, which holds none, is not (test/citus/relay.t)
DO $$
BEGIN
	FOR i IN 1 .. 100 LOOP
		EXIT WHEN (SELECT bool_and(success AND result = '1 running, 1 ready')
		             FROM run_command_on_workers($q$SELECT count(*) || ' running, ' || count(*) FILTER (WHERE ready) || ' ready'
		                                           FROM dispatch.relay_status() WHERE database = 'dispatch' AND pid IS NOT NULL$q$));
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT is((SELECT count(*) || ' running, ' || count(*) FILTER (WHERE ready) || ' ready'
             FROM dispatch.relay_status() WHERE database = 'dispatch' AND pid IS NOT NULL),
          '1 running, 0 ready', 'the coordinator''s relay has nothing to relay: it holds no shard of the outbox');
SELECT ok(bool_and(success AND result = '1 running, 1 ready'), 'each worker''s relay is ready for the shards it holds')
  FROM run_command_on_workers($$SELECT count(*) || ' running, ' || count(*) FILTER (WHERE ready) || ' ready'
                                  FROM dispatch.relay_status() WHERE database = 'dispatch' AND pid IS NOT NULL$$);

-- settings (reference tables): an operator's row replaces the shipped one
-- on every node, and zone 0's row stays (the triggers fire on each node's
-- placement and work on it)
CREATE TEMP TABLE car AS SELECT * FROM dispatch.vehicle_profiles WHERE vehicle = 'car';
INSERT INTO dispatch.vehicle_profiles SELECT * FROM car;
SELECT ok(bool_and(success AND result = '5 car:operator'), 'an inserted vehicle profile replaces the shipped one, on every node')
  FROM run_command_on_all_nodes($$SELECT count(*) || ' ' || (SELECT string_agg(vehicle || ':' || source, ',')
                                    FROM dispatch.vehicle_profiles WHERE vehicle = 'car')
                                   FROM dispatch.vehicle_profiles$$);
-- no trigger of dispatch is left off on any node (distribute() turns the
-- row triggers off while rows move, and on again)
SELECT ok(bool_and(success AND result = '0'), 'every trigger of dispatch is on, on every node and placement')
  FROM run_command_on_all_nodes($$SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                                   WHERE c.relnamespace = 'dispatch'::regnamespace AND NOT t.tgisinternal
                                     AND t.tgenabled = 'D'$$);
BEGIN;
SET CONSTRAINTS ALL IMMEDIATE;
SELECT throws_ok('DELETE FROM dispatch.matching_settings WHERE zone_id = 0', 'DP308', NULL,
                 'zone 0''s matching settings cannot be deleted (DP308)');
COMMIT;

SELECT * FROM finish();
