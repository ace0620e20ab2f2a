#!/usr/bin/env bash
# test/tap/schedule_maintenance.t: schedule_maintenance() without pg_cron.
#   DP410: dispatch in a database of its own, pg_cron in cron.database_name
#          (the test database "dispatch"): the error says where pg_cron
#          lives and the hint gives the command.
#   DP409: no pg_cron in the cron database itself.  pg_cron is dropped in
#          the cron database inside a transaction that is rolled back, so
#          the cluster keeps it.
# Neither registers a job.
set -euo pipefail
db=dispatch_schedule_t
crondb=$(psql -X -At -d postgres -c "SHOW cron.database_name")
cleanup() {
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -d $db -c "CREATE EXTENSION dispatch CASCADE" >/dev/null

echo "1..6"
jobs_before=$(psql -X -At -d "$crondb" -c "SELECT count(*) FROM cron.job")

r=$(psql -X -At -d $db -c "\\set VERBOSITY verbose" -c "SELECT * FROM dispatch.schedule_maintenance()" 2>&1 || true)
grep -q "ERROR:  DP410: pg_cron lives in database \"$crondb\", not in \"$db\"" <<<"$r" \
	&& echo "ok 1 - with pg_cron in another database: DP410 naming both databases" \
	|| echo "not ok 1 - with pg_cron in another database: DP410 ($r)"
grep -q "HINT:  Run the statements of dispatch.maintenance_commands() in database $crondb" <<<"$r" \
	&& echo "ok 2 - the hint tells how to register the jobs from the cron database" \
	|| echo "not ok 2 - the hint of DP410 ($r)"

# DP409 in the cron database: pg_cron dropped in a transaction that is rolled back
r=$(psql -X -At -d "$crondb" 2>&1 <<'SQL' || true
\set VERBOSITY verbose
BEGIN;
SET LOCAL client_min_messages = warning;
DROP EXTENSION pg_cron;
SELECT * FROM dispatch.schedule_maintenance();
ROLLBACK;
SQL
)
grep -q "ERROR:  DP409: pg_cron is not installed in this database" <<<"$r" \
	&& echo "ok 3 - without pg_cron in the cron database: DP409" \
	|| echo "not ok 3 - without pg_cron in the cron database: DP409 ($r)"
grep -q "HINT:  Add pg_cron to shared_preload_libraries" <<<"$r" \
	&& echo "ok 4 - the hint of DP409 says how to install pg_cron" \
	|| echo "not ok 4 - the hint of DP409 ($r)"

[ "$(psql -X -At -d "$crondb" -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")" = 1 ] \
	&& echo "ok 5 - pg_cron is back in the cron database after the rollback" \
	|| echo "not ok 5 - pg_cron is missing from the cron database"
jobs_after=$(psql -X -At -d "$crondb" -c "SELECT count(*) FROM cron.job")
[ "$jobs_before" = "$jobs_after" ] \
	&& echo "ok 6 - neither call registered a job" \
	|| echo "not ok 6 - cron.job had $jobs_before jobs and has $jobs_after"
