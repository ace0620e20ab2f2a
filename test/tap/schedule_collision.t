#!/usr/bin/env bash
# test/tap/schedule_collision.t: pg_cron keys a job by its name and its
# user, not by its database.  With the jobs of another database
# (dispatch_collide_t, registered from the cron database with the
# statements of maintenance_commands()) scheduled by the same user,
# schedule_maintenance() in the cron database would "update" those jobs by
# name, leave them running in the other database, and report them as
# registered here: it raises DP421 naming that database instead, and
# changes nothing.
set -euo pipefail
db=dispatch_collide_t
crondb=$(psql -X -At -d postgres -c "SHOW cron.database_name")
cleanup() {
	psql -X -q -d "$crondb" -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE database = '$db'" >/dev/null 2>&1 || true
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -d $db -c "CREATE EXTENSION dispatch CASCADE" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$crondb" -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE 'dispatch-%'" >/dev/null
psql -X -At -d $db -c "SELECT * FROM dispatch.maintenance_commands()" | psql -X -q -v ON_ERROR_STOP=1 -d "$crondb" >/dev/null

echo "1..4"
before=$(psql -X -At -d "$crondb" -c "SELECT string_agg(jobid || jobname || database || schedule || command, ',' ORDER BY jobid) FROM cron.job")
n=$(psql -X -At -d "$crondb" -c "SELECT count(*) FROM cron.job WHERE database = '$db'")
[ "$n" -ge 7 ] \
	&& echo "ok 1 - the jobs of $db are registered from the cron database" \
	|| echo "not ok 1 - $n jobs of $db registered"

r=$(psql -X -At -d "$crondb" -c "\\set VERBOSITY verbose" -c "SELECT * FROM dispatch.schedule_maintenance()" 2>&1 || true)
grep -q "ERROR:  DP421: .*\"$db\"" <<<"$r" \
	&& echo "ok 2 - schedule_maintenance refuses (DP421) and names the database the jobs run in" \
	|| echo "not ok 2 - schedule_maintenance with the same user's jobs in $db: DP421 ($r)"
grep -q "HINT:  " <<<"$r" \
	&& echo "ok 3 - the error has a hint" \
	|| echo "not ok 3 - no hint ($r)"
after=$(psql -X -At -d "$crondb" -c "SELECT string_agg(jobid || jobname || database || schedule || command, ',' ORDER BY jobid) FROM cron.job")
[ "$before" = "$after" ] \
	&& echo "ok 4 - no job was changed" \
	|| echo "not ok 4 - cron.job changed: $before -> $after"
