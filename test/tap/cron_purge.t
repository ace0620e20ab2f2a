#!/usr/bin/env bash
# test/tap/cron_purge.t: the purge as pg_cron runs it.  dispatch lives in a
# database of its own here, not in cron.database_name (the test database
# "dispatch"), so schedule_maintenance() there points to
# maintenance_commands(), and the job is registered from the cron database
# with cron.schedule_in_database.  The one test that waits for a real
# pg_cron run (minute granularity, at most about 70 s).  Also: a second run
# while one holds the lock is skipped and logged as such.
set -euo pipefail
db=dispatch_cron_t
crondb=$(psql -X -At -d postgres -c "SHOW cron.database_name")
job=dispatch-purge-test
cleanup() {
	psql -X -q -d "$crondb" -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = '$job'" >/dev/null 2>&1 || true
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
export PGDATABASE=$db
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dispatch CASCADE;
SELECT dispatch.create_zone('C', ST_GeomFromText('POLYGON((121.40 31.15, 121.48 31.15, 121.48 31.22, 121.40 31.22, 121.40 31.15))', 4326));
SELECT dispatch.create_merchant(1, 'M', 121.437, 31.188);
SELECT dispatch.add_item(1, 'noodles', 2800);
SELECT dispatch.register_customer('+8613800000001', 'Cron Customer');
SELECT set_config('dispatch.clock_override', (now() - interval '40 days')::text, false);
SELECT dispatch.cancel_order(dispatch.place_order(1, 1, '[{"item_id": 1, "qty": 1}]', 121.445, 31.196, 'Cron Road 1'), 'test');
SELECT dispatch.place_order(1, 1, '[{"item_id": 1, "qty": 1}]', 121.445, 31.196, 'Cron Road 2');
SQL

echo "1..7"
check() {   # check N description sql-returning-boolean [database]
	local r
	r=$(psql -X -At -d "${4:-$db}" -c "$3" 2>&1 || true)
	[ "$r" = t ] && echo "ok $1 - $2" || echo "not ok $1 - $2 ($r)"
}

r=$(psql -X -At -c "SELECT dispatch.schedule_maintenance()" 2>&1 || true)
grep -q "pg_cron lives in database \"$crondb\"" <<<"$r" \
	&& echo "ok 1 - outside the cron database schedule_maintenance says where pg_cron lives" \
	|| echo "not ok 1 - schedule_maintenance outside the cron database ($r)"
check 2 "maintenance_commands registers the purge in this database" \
	"SELECT bool_or(s = 'SELECT cron.schedule_in_database(''dispatch-purge'', ''17 3 * * *'', ''CALL dispatch.purge_expired()'', ''$db'');') FROM dispatch.maintenance_commands() s"

# a second run while one holds the lock is skipped and says so
psql -X -q -c "SELECT pg_advisory_lock(dispatch._lock_key('purge')), pg_sleep(2)" >/dev/null &
holder=$!
sleep 0.5
psql -X -q -c "CALL dispatch.purge_expired()" >/dev/null 2>&1
wait "$holder"
check 3 "a run that finds the lock taken does nothing and is logged as skipped" \
	"SELECT array_agg(status) = '{skipped}' FROM dispatch.purge_runs"

# every minute, from the cron database, in this one
psql -X -q -d "$crondb" -c "SELECT cron.schedule_in_database('$job', '* * * * *', 'CALL dispatch.purge_expired()', '$db')" >/dev/null
ran=f
for _ in $(seq 1 40); do
	ran=$(psql -X -At -c "SELECT EXISTS (SELECT FROM dispatch.purge_runs WHERE application = 'pg_cron' AND status = 'done')")
	[ "$ran" = t ] && break
	sleep 2
done
[ "$ran" = t ] && echo "ok 4 - pg_cron ran the purge within the minute and it logged a done run" \
	|| echo "not ok 4 - no purge run by pg_cron after 80 s"
check 5 "the run erased the finished order's address and nothing of the open one" \
	"SELECT array_agg(dropoff_address_enc IS NULL ORDER BY order_id) = '{t,f}' FROM dispatch.orders WHERE zone_id = 1"
check 6 "the log row counts what it did" \
	"SELECT (rows->>'order_text')::int = 1 AND (rows->>'dropoff_point')::int = 1 AND batches >= 1 AND finished_at IS NOT NULL FROM dispatch.purge_runs WHERE application = 'pg_cron' ORDER BY run_id LIMIT 1"
check 7 "pg_cron recorded the job as succeeded" \
	"SELECT bool_or(d.status = 'succeeded') FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = '$job'" "$crondb"
