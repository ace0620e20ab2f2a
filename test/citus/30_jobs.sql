-- test/citus/30_jobs.sql: the pg_cron jobs of dispatch on the Citus
-- coordinator (docs/citus.md), and the outbox consumers of growth with a
-- cursor per zone.  schedule_maintenance() registers the jobs in cron.job
-- of the coordinator, where pg_cron runs; each job's command, run as pg_cron
-- would run it (a statement of its own, outside a transaction block), does
-- its work on the distributed tables: credit_rewards credits deliveries of
-- two zones on two workers once, the incremental rollup equals a full run.
-- And a zone whose worker numbers its events far below another worker's is
-- read all the same: each zone has its own cursor.  Runs after
-- 10_distribute.sql in the same cluster (test/citus/run).
\set QUIET on
\set ON_ERROR_STOP on
SET client_min_messages = error;
SELECT plan(37);

-- ---------------------------------------------------------------------------
-- two zones on two workers, a points campaign and a referral
-- ---------------------------------------------------------------------------

CREATE TEMP TABLE zone_node (i int, zone_id bigint, nodeport int);
CREATE FUNCTION pg_temp.node_of(p_zone bigint) RETURNS int LANGUAGE sql AS $$
	SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
	 WHERE p.shardid = get_shard_id_for_distribution_column('dispatch.orders', p_zone)
$$;
DO $$
DECLARE z bigint;
BEGIN
	FOR i IN 0..7 LOOP
		z := dispatch.create_zone('jobs' || i, ST_MakeEnvelope(110 + i, 30.0, 110.1 + i, 30.1, 4326));
		INSERT INTO zone_node VALUES (i, z, pg_temp.node_of(z));
	END LOOP;
END $$;
SELECT min(zone_id) AS za FROM zone_node \gset
SELECT min(zone_id) AS zb FROM zone_node WHERE nodeport <> pg_temp.node_of(:za) \gset
-- (zone i spans longitudes 110 + i to 110.1 + i)
SELECT i AS dx FROM zone_node WHERE zone_id = :zb \gset
SELECT pg_temp.node_of(:za) AS porta, pg_temp.node_of(:zb) AS portb \gset
SELECT isnt(:porta, :portb, 'two zones lie on two workers');

SELECT dispatch.create_campaign('Jobs points', 'points', '{"earn_per_yuan": 1}') \g /dev/null
SELECT dispatch.create_campaign('Jobs refer', 'referral', '{"referrer_points": 50, "referee_points": 30}') \g /dev/null
SELECT dispatch.create_merchant(:za, 'shop a', 110.05, 30.05, 10) AS shopa \gset
SELECT dispatch.create_merchant(:zb, 'shop b', 110.05 + :dx, 30.05, 10) AS shopb \gset
SELECT dispatch.add_item(:shopa, 'dish', 1500) AS dish_a \gset
SELECT dispatch.add_item(:shopb, 'dish', 2500) AS dish_b \gset
SELECT dispatch.register_customer('+8613900003001', NULL) AS referrer \gset
SELECT dispatch.register_customer('+8613900003002', NULL) AS referee \gset
SELECT dispatch.register_customer('+8613900003003', NULL) AS cb \gset
SELECT dispatch.apply_referral(:referee, dispatch.referral_code(:referrer)) \g /dev/null
SELECT dispatch.register_rider(:za, 'ra', '+8613900003101', 3) AS ra \gset
SELECT dispatch.register_rider(:zb, 'rb', '+8613900003102', 3) AS rb \gset
SELECT dispatch.rider_online(:ra, 110.05, 30.049) \g /dev/null
SELECT dispatch.rider_online(:rb, 110.05 + :dx, 30.049) \g /dev/null

-- an order's whole life, each call a statement of its own (a call naming
-- the order is sent whole to its zone's worker, which numbers its events)
CREATE FUNCTION pg_temp.buy(p_customer bigint, p_shop bigint, p_dish bigint, p_lon float8) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE o bigint;
BEGIN
	o := dispatch.place_order(p_customer, p_shop, jsonb_build_array(jsonb_build_object('item_id', p_dish, 'qty', 1)),
	                          p_lon, 30.06, 'addr', 'normal');
	RETURN o;
END $$;

SELECT pg_temp.buy(:referee, :shopa, :dish_a, 110.05) AS oa \gset
SELECT dispatch.confirm_payment(:oa, 'pa') \g /dev/null
SELECT dispatch.merchant_accept(:oa) \g /dev/null
SELECT dispatch.assign_manually(:oa, :ra, 'test') \g /dev/null
SELECT dispatch.mark_picked_up(:oa, :ra) \g /dev/null
SELECT dispatch.mark_delivered(:oa, :ra) \g /dev/null
SELECT pg_temp.buy(:cb, :shopb, :dish_b, 110.05 + :dx) AS ob \gset
SELECT dispatch.confirm_payment(:ob, 'pb') \g /dev/null
SELECT dispatch.merchant_accept(:ob) \g /dev/null
SELECT dispatch.assign_manually(:ob, :rb, 'test') \g /dev/null
SELECT dispatch.mark_picked_up(:ob, :rb) \g /dev/null
SELECT dispatch.mark_delivered(:ob, :rb) \g /dev/null
SELECT status AS status_a FROM dispatch.orders WHERE zone_id = :za AND order_id = :oa \gset
SELECT status AS status_b FROM dispatch.orders WHERE zone_id = :zb AND order_id = :ob \gset
SELECT is(:'status_a' || ' ' || :'status_b', 'delivered delivered', 'an order delivered in each zone');

-- ---------------------------------------------------------------------------
-- the jobs, scheduled on the coordinator
-- ---------------------------------------------------------------------------

SELECT citus_is_coordinator() AS coordinator, current_setting('cron.database_name') = current_database() AS cron_here \gset
SELECT ok(:'coordinator' AND :'cron_here', 'pg_cron runs on the coordinator, in this database (cron.database_name)');
CREATE TEMP TABLE scheduled AS SELECT * FROM dispatch.schedule_maintenance();
SELECT is((SELECT string_agg(jobname || '|' || database, ',' ORDER BY jobname) FROM scheduled),
          (SELECT string_agg(jobname || '|' || current_database(), ',' ORDER BY jobname)
             FROM dispatch.maintenance_jobs WHERE enabled),
          'schedule_maintenance() schedules every enabled job of maintenance_jobs (a reference table) here');
SELECT is((SELECT string_agg(j.jobname || '|' || j.schedule || '|' || j.command || '|' || j.database || '|' || j.active,
                             ',' ORDER BY j.jobname)
             FROM cron.job j WHERE j.jobname LIKE 'dispatch-%'),
          (SELECT string_agg(m.jobname || '|' || m.schedule || '|' || m.command || '|' || current_database() || '|true',
                             ',' ORDER BY m.jobname)
             FROM dispatch.maintenance_jobs m WHERE m.enabled),
          'cron.job on the coordinator holds each job: its schedule, its command, this database, active');
SELECT is((SELECT count(*) FROM scheduled s JOIN cron.job j ON j.jobid = s.jobid AND j.jobname = s.jobname),
          (SELECT count(*) FROM scheduled), 'with the job ids schedule_maintenance() returned');
SELECT dispatch.schedule_maintenance() \g /dev/null
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'dispatch-%'), (SELECT count(*) FROM scheduled),
          'scheduling again changes nothing');
SELECT ok(bool_and(success AND result = '0'), 'no worker has a job of dispatch in its cron.job: they run once, on the coordinator')
  FROM run_command_on_workers($$SELECT count(*) FROM cron.job WHERE jobname LIKE 'dispatch-%'$$);
SELECT ok(bool_and(NOT success AND result LIKE '%the maintenance jobs are scheduled on the Citus coordinator%'),
          'schedule_maintenance() on a worker is refused (DP911)')
  FROM run_command_on_workers('SELECT count(*) FROM dispatch.schedule_maintenance()');

-- each job's command, as pg_cron runs it: a statement of its own in this
-- database (CALL purge_expired() commits its batches)
SELECT count(*) AS events_before FROM dispatch.events \gset
\o /dev/null
SELECT command FROM cron.job WHERE jobname LIKE 'dispatch-%' ORDER BY jobname \gexec
\o
SELECT pass('every job''s command runs on the coordinator');

-- growth: rewards of both zones, each once, and the referral
SELECT string_agg(ref, ',' ORDER BY ref) AS delivery_refs FROM dispatch.points_ledger WHERE reason = 'delivery' \gset
SELECT count(*) AS referral_rows, string_agg(customer_id::text || ':' || points, ',' ORDER BY customer_id) AS referral_points
  FROM dispatch.points_ledger WHERE reason = 'referral' \gset
SELECT status AS referral_status, order_id AS referral_order FROM dispatch.referrals WHERE customer_id = :referee \gset
SELECT is(:'delivery_refs'::text, (SELECT string_agg(r, ',' ORDER BY r) FROM unnest(ARRAY[format('order:%s', :oa), format('order:%s', :ob)]) r),
          'dispatch-growth credited the delivery in each zone, on each worker, once');
SELECT is(:'referral_points'::text, :referrer || ':50,' || :referee || ':30', 'and the referral, both sides');
SELECT is(:'referral_status' || ' ' || :referral_order, 'rewarded ' || :oa, 'the referral is rewarded by the referee''s delivery');
-- the rollup's run read every event of the outbox once: no zone skipped,
-- none counted twice
SELECT events, orders, full_run AS run_full FROM dispatch.rollup_runs ORDER BY run_id DESC LIMIT 1 \gset
SELECT count(DISTINCT (zone_id, order_id)) FILTER (WHERE kind = 'order_status') AS orders_with_events FROM dispatch.events \gset
SELECT is(:events::bigint, :events_before::bigint, 'the incremental rollup read each event of the outbox once');
SELECT is(:orders::bigint, :orders_with_events::bigint, 'and each order they touched');
-- each zone's cursor of each consumer stands at the zone's last event
SELECT string_agg(zone_id || ':' || s, ',' ORDER BY zone_id) AS zone_last
  FROM (SELECT zone_id, max(seq) AS s FROM dispatch.events GROUP BY zone_id) e \gset
SELECT string_agg(zone_id || ':' || last_seq, ',' ORDER BY zone_id) FILTER (WHERE consumer = 'credit_rewards') AS credit_cursors,
       string_agg(zone_id || ':' || last_seq, ',' ORDER BY zone_id) FILTER (WHERE consumer = 'rollup_campaigns') AS rollup_cursors,
       count(*) FILTER (WHERE consumer = 'credit_rewards') AS credit_zones
  FROM dispatch.growth_cursors WHERE last_seq > 0 \gset
SELECT is(:'credit_cursors'::text, :'zone_last', 'credit_rewards has a cursor per zone, at the zone''s last event');
SELECT is(:'rollup_cursors'::text, :'zone_last', 'and so has rollup_campaigns');
SELECT is((SELECT count(*) FROM dispatch.growth_cursors WHERE consumer = 'credit_rewards'), (SELECT count(*) FROM dispatch.zones),
          'a cursor for every zone, those without events at 0');
-- the other jobs did their work on the distributed tables
SELECT count(*) AS refreshed FROM dispatch.recommend_refreshes \gset
SELECT is(:refreshed::bigint, (SELECT count(*) FROM dispatch.zones), 'dispatch-recommend refreshed every zone''s signals');
SELECT status AS purge_status FROM dispatch.purge_runs ORDER BY run_id DESC LIMIT 1 \gset
SELECT is(:'purge_status'::text, 'done', 'dispatch-purge ran its batches to the end');

-- again: nothing more
SELECT dispatch.credit_rewards() AS again \gset
SELECT is(:again, 0, 'a second credit_rewards credits nothing more');
SELECT dispatch.rollup_campaigns() AS run \gset
SELECT events AS events_again FROM dispatch.rollup_runs WHERE run_id = :run \gset
SELECT is(:events_again::bigint, 0::bigint, 'a second incremental rollup reads no event again');
SELECT count(*) AS delivery_rows FROM dispatch.points_ledger WHERE reason IN ('delivery', 'referral') \gset
SELECT is(:delivery_rows::bigint, 4::bigint, 'two deliveries and a referral of two sides: four rows of points');

-- the incremental rollup equals a full run
CREATE FUNCTION pg_temp.rollup_state() RETURNS text LANGUAGE plpgsql AS $$
DECLARE t text; u text; v text;
BEGIN
	SELECT string_agg(concat_ws('/', zone_id, day, orders, delivered, cancelled, gmv_cents, discount_cents), ',' ORDER BY zone_id, day)
	  INTO t FROM dispatch.zone_daily;
	SELECT string_agg(concat_ws('/', zone_id, day, campaign_id, redemptions, orders, new_customers, gmv_cents, discount_cents, reward_cents),
	                  ',' ORDER BY zone_id, day, campaign_id)
	  INTO u FROM dispatch.campaign_daily;
	SELECT string_agg(s::text, ',' ORDER BY s.customer_id) INTO v FROM dispatch.customer_stats s;
	RETURN concat_ws(' | ', t, u, v);
END $$;
SELECT pg_temp.rollup_state() AS incremental \gset
SELECT dispatch.rollup_campaigns(true) \g /dev/null
SELECT pg_temp.rollup_state() AS full \gset
SELECT is(:'incremental'::text, :'full', 'the incremental rollup on the cluster equals a full run');

-- ---------------------------------------------------------------------------
-- a cursor per zone: zone a's worker numbers its events far above zone
-- b's, and b's events are read all the same, each once
-- ---------------------------------------------------------------------------

-- zone a's worker takes transaction ids until it is far ahead (the seq of
-- an event is its transaction id << 20)
SELECT max(result::bigint) FILTER (WHERE nodeport = :porta) AS xid_a,
       max(result::bigint) FILTER (WHERE nodeport = :portb) AS xid_b
  FROM run_command_on_workers('SELECT txid_current()') \gset
SELECT greatest(:xid_b - :xid_a, 0) + 3000 AS ahead \gset
SELECT success AS advanced FROM run_command_on_workers(format(
	'DO $d$ BEGIN IF current_setting(''port'')::int = %s THEN '
	'FOR i IN 1..%s LOOP PERFORM txid_current(); COMMIT; END LOOP; END IF; END $d$', :porta, :ahead))
 WHERE nodeport = :porta \gset
SELECT ok(:'advanced', 'zone a''s worker moved on ' || :ahead || ' transactions');

SELECT pg_temp.buy(:referee, :shopa, :dish_a, 110.05) AS oa2 \gset
SELECT dispatch.confirm_payment(:oa2, 'pa2') \g /dev/null
SELECT dispatch.merchant_accept(:oa2) \g /dev/null
SELECT dispatch.assign_manually(:oa2, :ra, 'test') \g /dev/null
SELECT dispatch.mark_picked_up(:oa2, :ra) \g /dev/null
SELECT dispatch.mark_delivered(:oa2, :ra) \g /dev/null
SELECT dispatch.credit_rewards() AS credited_a \gset
SELECT is(:credited_a, 1, 'zone a''s new delivery is credited');
SELECT last_seq AS cursor_a FROM dispatch.growth_cursors WHERE consumer = 'credit_rewards' AND zone_id = :za \gset

SELECT pg_temp.buy(:cb, :shopb, :dish_b, 110.05 + :dx) AS ob2 \gset
SELECT dispatch.confirm_payment(:ob2, 'pb2') \g /dev/null
SELECT dispatch.merchant_accept(:ob2) \g /dev/null
SELECT dispatch.assign_manually(:ob2, :rb, 'test') \g /dev/null
SELECT dispatch.mark_picked_up(:ob2, :rb) \g /dev/null
SELECT dispatch.mark_delivered(:ob2, :rb) \g /dev/null
SELECT seq AS seq_b FROM dispatch.events
 WHERE zone_id = :zb AND order_id = :ob2 AND kind = 'order_status' AND payload->>'status' = 'delivered' \gset
SELECT cmp_ok(:seq_b::bigint, '<', :cursor_a::bigint,
              'zone b''s delivery, committed later, has a number below zone a''s cursor (one cursor over all zones would skip it)');
SELECT dispatch.credit_rewards() AS credited_b \gset
SELECT is(:credited_b, 1, 'zone b''s cursor reads it: credited');
SELECT dispatch.credit_rewards() AS credited_again \gset
SELECT is(:credited_again, 0, 'and once');
SELECT count(*) AS ob2_rows FROM dispatch.points_ledger WHERE reason = 'delivery' AND ref = 'order:' || :ob2 \gset
SELECT is(:ob2_rows::bigint, 1::bigint, 'one row of points for it');
SELECT last_seq AS cursor_b FROM dispatch.growth_cursors WHERE consumer = 'credit_rewards' AND zone_id = :zb \gset
SELECT max(seq) AS last_b FROM dispatch.events WHERE zone_id = :zb \gset
SELECT is(:cursor_b::bigint, :last_b::bigint, 'zone b''s cursor stands at its last event');

-- the rollup too: each new event of both zones read once
SELECT count(*) AS new_events FROM dispatch.events
 WHERE (zone_id = :za AND order_id = :oa2) OR (zone_id = :zb AND order_id = :ob2) \gset
SELECT count(*) AS all_events FROM dispatch.events \gset
SELECT dispatch.rollup_campaigns() AS run2 \gset
SELECT events AS events2, orders AS orders2 FROM dispatch.rollup_runs WHERE run_id = :run2 \gset
SELECT is(:events2::bigint, :all_events::bigint - :events_before, 'the incremental rollup reads the events of both zones since its last run');
SELECT is(:orders2::bigint, 2::bigint, 'of the two new orders');
SELECT is(:new_events::bigint, :events2::bigint, 'and no others');
SELECT pg_temp.rollup_state() AS incremental2 \gset
SELECT dispatch.rollup_campaigns(true) \g /dev/null
SELECT pg_temp.rollup_state() AS full2 \gset
SELECT is(:'incremental2'::text, :'full2', 'and equals a full run');
SELECT isnt(:'incremental2'::text, :'incremental', 'which counts the new orders');

-- the jobs go again: pg_cron would run them on the minute while the
-- suites that follow in this cluster check what their calls wrote
SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE 'dispatch-%' \g /dev/null
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'dispatch-%'), 0::bigint, 'the jobs are unscheduled again');

SELECT * FROM finish();
