-- test/pgtap/85_retention.sql: the purge removes exactly what its policy
-- says, in batches, and nothing of unfinished orders; policies change by
-- new rows; the pg_cron jobs are registered once.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(45);

SELECT (now() - interval '40 days')::text AS old, (now() - interval '10 days')::text AS recent \gset
-- the riders' shift started a few minutes before then: their pings of 40
-- days ago are recorded (none is before a rider's first shift)
UPDATE dispatch.riders SET online_since = now() - interval '40 days 5 minutes', first_online_at = now() - interval '40 days 5 minutes'
 WHERE zone_id = :zone AND status = 'online';

-- 40 days ago: a cancelled order (A), one placed with no address and
-- cancelled with a reason (G), a delivered one (D), a paid one still
-- waiting (B), an unpaid errand (E), three pings
SET LOCAL dispatch.clock_override = :'old';
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Old Cancelled Road 1') AS a \gset
SELECT dispatch.confirm_payment(:a, 'psp-a') \g /dev/null
SELECT dispatch.cancel_order(:a, 'test') \g /dev/null
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, NULL) AS g \gset
SELECT dispatch.confirm_payment(:g, 'psp-g') \g /dev/null
SELECT dispatch.cancel_order(:g, 'my sister is in hospital') \g /dev/null
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.446, 31.197, 'Old Delivered Road 2') AS d \gset
SELECT dispatch.confirm_payment(:d, 'psp-d') \g /dev/null
SELECT dispatch.merchant_accept(:d) \g /dev/null
SELECT dispatch.assign_manually(:d, :rider, 'test') \g /dev/null
SELECT dispatch.mark_picked_up(:d, :rider) \g /dev/null
SELECT dispatch.mark_delivered(:d, :rider) \g /dev/null
SELECT dispatch.place_order(:customer2, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.447, 31.198, 'Old Waiting Road 3') AS b \gset
SELECT dispatch.confirm_payment(:b, 'psp-b') \g /dev/null
SELECT dispatch.place_errand(:customer2, 121.43, 31.19, 121.44, 31.20, 'Old Errand Gate 4', 'Old errand text', 900) AS e \gset
SELECT dispatch.update_rider_location(:rider, 121.43, 31.19, dispatch.clock() - interval '2 minutes') \g /dev/null
SELECT dispatch.update_rider_location(:rider, 121.431, 31.19, dispatch.clock() - interval '1 minute') \g /dev/null
SELECT dispatch.update_rider_location(:rider2, 121.432, 31.19, dispatch.clock()) \g /dev/null
SELECT dispatch.submit_feedback(:d, 2, 'Old feedback text, cold noodles') \g /dev/null

-- 10 days ago: a cancelled order (C)
SET LOCAL dispatch.clock_override = :'recent';
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.448, 31.199, 'Recent Road 5') AS c \gset
SELECT dispatch.confirm_payment(:c, 'psp-c') \g /dev/null
SELECT dispatch.cancel_order(:c, 'test') \g /dev/null

-- now
SET LOCAL dispatch.clock_override = '';
SELECT dispatch.update_rider_location(:rider, 121.433, 31.19) \g /dev/null
-- an order just placed, not paid yet (F)
SELECT dispatch.place_order(:customer2, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.447, 31.198, 'Fresh Road 6') AS f \gset
SELECT count(*) AS events_new FROM dispatch.events WHERE zone_id = :zone AND at > now() - interval '30 days' \gset
SELECT count(*) AS events_old FROM dispatch.events WHERE zone_id = :zone AND at < now() - interval '30 days' \gset
SELECT dropoff_address_enc AS b_addr, dropoff AS b_point FROM dispatch.orders WHERE zone_id = :zone AND order_id = :b \gset
SELECT COALESCE(max(run_id), 0) AS runs_before FROM dispatch.purge_runs \gset

-- purge in batches of one row per class and zone, until nothing is left
CREATE TEMP TABLE steps (n bigint);
DO $$
DECLARE n bigint;
BEGIN
	LOOP
		n := dispatch.purge_expired_step(1);
		INSERT INTO steps VALUES (n);
		EXIT WHEN n = 0 OR (SELECT count(*) FROM steps) > 50;
	END LOOP;
END $$;

SELECT cmp_ok((SELECT count(*) FROM steps), '>', 2::bigint, 'the purge went in several small batches');
SELECT is((SELECT n FROM steps ORDER BY ctid DESC LIMIT 1), 0::bigint, 'and ended when nothing was left');
SELECT results_eq(
	format($$ SELECT order_id, dropoff_address_enc IS NULL, dropoff_coarsened_at IS NOT NULL FROM dispatch.orders
	           WHERE zone_id = %s ORDER BY order_id $$, :zone),
	format($$ VALUES (%s::bigint, true, true), (%s, true, true), (%s, true, true), (%s, false, false), (%s, false, false),
	                 (%s, false, false), (%s, false, false) $$,
	       :a, :g, :d, :b, :e, :c, :f),
	'addresses and points go for the finished orders past 30 days (A, G, D), not for the waiting ones (B; E, cancelled by this purge as abandoned) nor the recent ones (C, F)');
SELECT coalesce(cancel_reason, '-') AS a_reason FROM dispatch.orders WHERE zone_id = :zone AND order_id = :a \gset
SELECT cancel_reason AS c_reason FROM dispatch.orders WHERE zone_id = :zone AND order_id = :c \gset
SELECT is(format('%s / %s', :'a_reason', :'c_reason'), '- / test',
	'the reason of a cancellation past 30 days goes with the address; a recent one stays');
SELECT coalesce(cancel_reason, '-') AS g_reason FROM dispatch.orders WHERE zone_id = :zone AND order_id = :g \gset
SELECT is(:'g_reason'::text, '-',
	'so does the reason of an order that had no address nor description');
SELECT reason AS a_refund_reason FROM dispatch.refunds WHERE zone_id = :zone AND order_id = :a \gset
SELECT reason AS c_refund_reason FROM dispatch.refunds WHERE zone_id = :zone AND order_id = :c \gset
SELECT is(format('%s / %s', :'a_refund_reason', :'c_refund_reason'), 'expired / test',
	'so does the copy of it the refund carries');
-- the zone's values read first: on Citus a statement naming a zone goes
-- whole to its worker, where pgTAP has no plan
SELECT dropoff_address_enc AS b_addr_after, ST_Equals(dropoff, :'b_point'::geometry) AS b_exact
  FROM dispatch.orders WHERE zone_id = :zone AND order_id = :b \gset
SELECT description_enc AS e_desc FROM dispatch.orders WHERE zone_id = :zone AND order_id = :e \gset
SELECT abs(ST_X(dropoff) - 121.445) < 1e-9 AND abs(ST_Y(dropoff) - 31.195) < 1e-9 AS a_cell
  FROM dispatch.orders WHERE zone_id = :zone AND order_id = :a \gset
SELECT total_cents AS d_total FROM dispatch.orders WHERE zone_id = :zone AND order_id = :d \gset
SELECT count(*) FILTER (WHERE at < now() - interval '30 days') AS tracks_old,
       count(*) FILTER (WHERE at > now() - interval '1 day') AS tracks_fresh
  FROM dispatch.rider_tracks WHERE zone_id = :zone \gset
SELECT count(*) FILTER (WHERE at < now() - interval '30 days') AS events_old_after,
       count(*) FILTER (WHERE at > now() - interval '30 days') AS events_new_after
  FROM dispatch.events WHERE zone_id = :zone \gset
SELECT is(:'b_addr_after'::bytea, :'b_addr'::bytea,
	'the waiting order''s address is untouched');
SELECT is(dispatch.pii_open('customer', :customer2, :'e_desc'::bytea, 'test'),
	'Old errand text', 'the unpaid errand''s description still opens');
SELECT ok(:'b_exact'::boolean,
	'the waiting order''s drop-off point is exact');
SELECT ok(:'a_cell'::boolean, 'a purged drop-off is the centre of its grid cell');
SELECT is(:'d_total'::integer, 3100, 'amounts stay');
SELECT is(:'tracks_old'::bigint, 0::bigint,
	'old pings are deleted');
SELECT is(:'tracks_fresh'::bigint, 1::bigint,
	'the fresh ping stays');
SELECT is(:'events_old_after'::bigint, 0::bigint,
	'old outbox events are deleted');
SELECT is(:'events_new_after'::bigint, :events_new::bigint + 1,
	'recent events stay (one more: the abandoned errand''s cancellation)');
-- an order left unpaid longer than dispatch.unpaid_order_minutes (a day)
-- is cancelled by the purge, its payment voided; one placed now waits
SELECT results_eq(format($$ SELECT o.order_id, o.status::text, o.cancel_reason, p.status, p.failure_reason
                              FROM dispatch.orders o JOIN dispatch.payments p USING (zone_id, order_id)
                             WHERE o.zone_id = %s AND o.order_id IN (%s, %s) ORDER BY o.order_id $$, :zone, :e, :f),
                  format($$ VALUES (%s::bigint, 'cancelled', 'payment abandoned', 'failed', 'order cancelled'),
                                   (%s::bigint, 'pending_payment', NULL, 'pending', NULL) $$, :e, :f),
                  'an order left unpaid for a day is cancelled by the purge, its payment voided; a fresh one waits');
SELECT bool_and(comment_enc IS NULL AND text_purged_at IS NOT NULL AND score IS NOT NULL) AS d_feedback_purged
  FROM dispatch.feedback WHERE zone_id = :zone AND order_id = :d \gset
SELECT ok(:'d_feedback_purged'::boolean, 'old feedback loses its text and keeps its score');

-- the log: one row per step, counts that add up to what happened
SELECT is((SELECT count(*) FROM dispatch.purge_runs WHERE run_id > :runs_before AND status = 'done'),
	(SELECT count(*) FROM steps), 'every step is logged as a done run');
SELECT results_eq(
	format($$ SELECT sum((rows->>'order_text')::bigint), sum((rows->>'dropoff_point')::bigint), sum((rows->>'rider_tracks')::bigint),
	                 sum((rows->>'events')::bigint), sum((rows->>'feedback_text')::bigint)
	            FROM dispatch.purge_runs WHERE run_id > %s $$, :runs_before),
	format('VALUES (3::numeric, 3::numeric, 3::numeric, %s::numeric, 1::numeric)', :events_old),
	'the log counts 3 orders'' texts (two addresses, a cancel reason alone), 3 points, 3 pings, every old event and the old feedback''s text');

-- policies change by new rows; a disabled class is left alone
SELECT dispatch.set_retention_policy('order_text', '5 days') \g /dev/null
SELECT dispatch.set_retention_policy('dropoff_point', '5 days', false) \g /dev/null
SELECT is(dispatch.purge_expired_step(100), 1::bigint, 'a shorter keep takes the recent order''s address on the next run');
SELECT dropoff_address_enc IS NULL AND dropoff_coarsened_at IS NULL AS c_text_only
  FROM dispatch.orders WHERE zone_id = :zone AND order_id = :c \gset
SELECT ok(:'c_text_only'::boolean,
	'but not its point, whose policy is disabled');
SELECT results_eq($$ SELECT data_class, keep, enabled FROM dispatch.retention_effective() WHERE data_class IN ('order_text', 'dropoff_point') ORDER BY 1 $$,
	$$ VALUES ('dropoff_point', '5 days'::interval, false), ('order_text', '5 days'::interval, true) $$, 'the latest policy row is in force');
SELECT is((SELECT count(*) FROM dispatch.retention_policies WHERE data_class = 'order_text'), 2::bigint, 'and the history is kept');
SELECT throws_ok($$ SELECT dispatch.set_retention_policy('order_text', '1 minute') $$, 'DP411', NULL, 'a keep under an hour is refused');
SELECT throws_ok($$ SELECT dispatch.set_retention_policy('secrets', '1 day') $$, 'DP411', NULL, 'unknown classes are refused');
SELECT throws_ok($$ SELECT dispatch.purge_expired_step(0) $$, 'DP411', NULL, 'a purge batch below 1 is refused');
SELECT is(dispatch.purge_expired_step(100), 0::bigint, 'a run right after finds nothing');

-- the procedure commits, so it cannot run inside a transaction block
SELECT throws_ok('CALL dispatch.purge_expired()', '2D000', NULL, 'purge_expired() refuses to run inside a transaction block');

-- pg_cron jobs, registered once however often schedule_maintenance runs
SELECT dispatch.schedule_maintenance() \g /dev/null
SELECT dispatch.schedule_maintenance() \g /dev/null
SELECT is((SELECT string_agg(format('%s|%s|%s', jobname, command, database), ';' ORDER BY jobname::text) FROM cron.job WHERE jobname LIKE 'dispatch-%'),
	format('dispatch-budgets|SELECT dispatch.balance_budgets()|%s;dispatch-cron-history|%s|%s;dispatch-eta|SELECT dispatch.learn_eta()|%s;dispatch-growth|SELECT dispatch.rollup_campaigns()|%s;dispatch-privacy|SELECT dispatch.process_privacy_requests()|%s;dispatch-purge|CALL dispatch.purge_expired()|%s;dispatch-recommend|SELECT dispatch.refresh_recommendations()|%s;dispatch-refusals|SELECT dispatch.flush_refusals()|%s',
	       current_database(), (SELECT command FROM dispatch.maintenance_jobs WHERE jobname = 'dispatch-cron-history'), current_database(), current_database(), current_database(), current_database(), current_database(), current_database(), current_database()),
	'schedule_maintenance registers the purge, the pruning of the cron history, the balancing of budgets, the growth rollup, the refresh of recommendations and the waiting erasures, once each');
-- pg_cron keys a job by name and user: a second role, with the rights to
-- schedule jobs in this database, is refused rather than scheduling each
-- job a second time, and is told whose the jobs are
SELECT quote_ident(current_user) AS cron_owner, count(*) AS cron_jobs FROM cron.job WHERE jobname LIKE 'dispatch-%' \gset
CREATE ROLE dispatch_t_cron2 NOLOGIN;
GRANT dispatch_admin TO dispatch_t_cron2;
GRANT USAGE ON SCHEMA cron TO dispatch_t_cron2;
GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) TO dispatch_t_cron2;
SET LOCAL ROLE dispatch_t_cron2;
SELECT throws_ok($$ SELECT dispatch.schedule_maintenance() $$, 'DP420',
	format('the maintenance jobs of database "%s" are scheduled by %s', current_database(), :'cron_owner'),
	'schedule_maintenance as a second role is refused, naming the role whose jobs they are (DP420)');
RESET ROLE;
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'dispatch-%'), :cron_jobs::bigint,
	'and schedules no job twice');
-- a job disabled, or no longer listed, is unscheduled by the next run
UPDATE dispatch.maintenance_jobs SET enabled = false WHERE jobname = 'dispatch-recommend';
DELETE FROM dispatch.maintenance_jobs WHERE jobname = 'dispatch-eta';
SELECT dispatch.schedule_maintenance() \g /dev/null
SELECT is((SELECT count(*) FROM cron.job WHERE jobname IN ('dispatch-recommend', 'dispatch-eta')), 0::bigint,
	'a job disabled in maintenance_jobs, or removed from it, is unscheduled');
SELECT is((SELECT array_agg(jobname::text ORDER BY jobname) FROM cron.job WHERE jobname LIKE 'dispatch-%'),
	(SELECT array_agg(jobname ORDER BY jobname) FROM dispatch.maintenance_jobs WHERE enabled),
	'the enabled ones stay, once each');
SELECT ok((SELECT bool_and(s ~ '^SELECT cron\.schedule') AND bool_or(s ~ 'schedule_in_database\(''dispatch-purge'', .*''otherdb''\)')
             FROM dispatch.maintenance_commands('otherdb') s), 'maintenance_commands gives the statements for a cron database elsewhere');

-- an order's events that a growth job has not read yet wait for it (up to
-- twice the retention), without their customer and rider ids; other kinds
-- and older ones go on time.  The job stopped before them: its cursor
SELECT max(seq) AS cursor FROM dispatch.events WHERE zone_id = :zone \gset
INSERT INTO dispatch.growth_cursors (consumer, zone_id, last_seq) VALUES ('credit_rewards', :zone, :cursor)
ON CONFLICT (consumer, zone_id) DO UPDATE SET last_seq = EXCLUDED.last_seq;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT (now() - interval '70 days')::text AS older \gset
SET LOCAL dispatch.clock_override = :'older';
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, NULL) AS k \gset
SELECT dispatch.cancel_order(:k, 'test') \g /dev/null
SET LOCAL dispatch.clock_override = :'old';
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, NULL) AS h \gset
SELECT dispatch.confirm_payment(:h, 'psp-h') \g /dev/null
SELECT dispatch.merchant_accept(:h) \g /dev/null
SELECT dispatch.assign_manually(:h, :rider, 'test') \g /dev/null
SELECT dispatch.mark_picked_up(:h, :rider) \g /dev/null
SELECT dispatch.mark_delivered(:h, :rider) \g /dev/null
SELECT dispatch.rider_offline(:rider2) \g /dev/null
SET LOCAL dispatch.clock_override = '';
SELECT count(*) AS h_events FROM dispatch.events WHERE zone_id = :zone AND order_id = :h AND kind = 'order_status' \gset
DO $$ BEGIN WHILE dispatch.purge_expired_step(1) > 0 LOOP END LOOP; END $$;
SELECT results_eq(format($$ SELECT count(*), count(customer_id), count(rider_id) FROM dispatch.events
                             WHERE zone_id = %s AND order_id = %s AND kind = 'order_status' $$, :zone, :h),
	format('VALUES (%s::bigint, 0::bigint, 0::bigint)', :h_events),
	'an order''s events past retention that credit_rewards has not read stay, without customer and rider ids');
-- (counted apart: on Citus a statement naming its zone goes to the worker)
SELECT count(*) AS others_old FROM dispatch.events WHERE zone_id = :zone AND at < now() - interval '30 days'
   AND (kind <> 'order_status' OR order_id IS DISTINCT FROM :h) \gset
SELECT is(:'others_old'::bigint, 0::bigint,
	'events of other kinds, and those past twice the retention, go unread or not');
SELECT max(seq) AS last_seq FROM dispatch.events WHERE zone_id = :zone \gset
UPDATE dispatch.growth_cursors SET last_seq = :last_seq WHERE consumer = 'credit_rewards' AND zone_id = :zone;
DO $$ BEGIN WHILE dispatch.purge_expired_step(1) > 0 LOOP END LOOP; END $$;
SELECT count(*) AS read_old FROM dispatch.events WHERE zone_id = :zone AND at < now() - interval '30 days' \gset
SELECT is(:'read_old'::bigint, 0::bigint, 'once read, they go');

-- an errand's pickup is a place its customer named: coarsened with the
-- drop-off; a takeaway's pickup (H), the merchant's location, stays
SELECT dispatch.set_retention_policy('dropoff_point', '30 days', true, 0.01) \g /dev/null
SET LOCAL dispatch.clock_override = :'old';
SELECT dispatch.place_errand(:customer, 121.432, 31.192, 121.44, 31.20, NULL, 'Old errand from home', 900) AS j \gset
SELECT dispatch.confirm_payment(:j, 'psp-j') \g /dev/null
SELECT dispatch.cancel_order(:j, 'test') \g /dev/null
SET LOCAL dispatch.clock_override = '';
DO $$ BEGIN WHILE dispatch.purge_expired_step(100) > 0 LOOP END LOOP; END $$;
SELECT abs(ST_X(pickup) - 121.435) < 1e-9 AND abs(ST_Y(pickup) - 31.195) < 1e-9
       AND dropoff_coarsened_at IS NOT NULL AS j_pickup_cell
  FROM dispatch.orders WHERE zone_id = :zone AND order_id = :j \gset
SELECT abs(ST_X(pickup) - 121.437) < 1e-9 AND abs(ST_Y(pickup) - 31.188) < 1e-9
       AND dropoff_coarsened_at IS NOT NULL AS h_pickup_exact
  FROM dispatch.orders WHERE zone_id = :zone AND order_id = :h \gset
SELECT ok(:'j_pickup_cell'::boolean, 'an old errand''s pickup point becomes the centre of its grid cell, as its drop-off');
SELECT ok(:'h_pickup_exact'::boolean, 'an old takeaway''s pickup, the merchant''s location, stays as it is');

-- privileges
SELECT function_privs_are('dispatch', 'purge_expired_step', ARRAY['integer', 'bigint'], 'dispatch_admin', ARRAY['EXECUTE'], 'the admin purges');
SELECT function_privs_are('dispatch', 'purge_expired_step', ARRAY['integer', 'bigint'], 'dispatch_app', ARRAY[]::text[], 'the app does not purge');
SELECT function_privs_are('dispatch', 'set_retention_policy', ARRAY['text', 'interval', 'boolean', 'double precision'], 'dispatch_app', ARRAY[]::text[],
	'the app does not change retention');
SELECT function_privs_are('dispatch', 'schedule_maintenance', ARRAY[]::text[], 'dispatch_analyst', ARRAY[]::text[], 'the analyst schedules nothing');
SELECT ok(NOT has_table_privilege('dispatch_admin', 'dispatch.maintenance_jobs', 'INSERT'),
	'nobody but the owner adds commands for pg_cron to run');
SELECT ok(NOT (SELECT prosecdef OR proconfig IS NOT NULL FROM pg_proc WHERE oid = 'dispatch.purge_expired(integer)'::regprocedure),
	'the committing procedure runs as its caller without a SET clause (it qualifies every name instead)');

SELECT * FROM finish();
ROLLBACK;
