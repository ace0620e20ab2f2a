#!/usr/bin/env bash
# test/tap/event_base.t: a writer keeps the node's base of event numbers
# (dispatch.event_base, set by prepare_worker on a worker added to a Citus
# cluster: docs/citus.md) from its first event on, and reads it again once
# a change of the base commits elsewhere: an event of the session's next
# transaction carries the new base, as the horizon of events_since does.
# Runs in a database of its own.
set -uo pipefail
db=dispatch_event_base_t
cleanup() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
export PGOPTIONS='-c client_min_messages=warning'
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
psql -X -q -d "$db" -c "CREATE EXTENSION dispatch CASCADE" >/dev/null

echo "1..3"
# one session: an event (its base read and kept), the base changed and
# committed by another session, then an event of the next transaction
out=$(psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 2>&1 <<SQL
SELECT dispatch.create_zone('zbase', ST_MakeEnvelope(103.0, 30.0, 103.1, 30.1, 4326)) AS z \gset
BEGIN;
SELECT 'first ' || ((dispatch._emit_event(:z, 'test', NULL, NULL, NULL, NULL) >> 20)
                    - pg_current_xact_id()::text::bigint);
COMMIT;
\! psql -X -q -d $db -c "INSERT INTO dispatch.event_base (base) VALUES (1000000)"
BEGIN;
SELECT 'second ' || ((dispatch._emit_event(:z, 'test', NULL, NULL, NULL, NULL) >> 20)
                     - pg_current_xact_id()::text::bigint);
SELECT 'horizon ' || ((dispatch._event_horizon() >> 20) - pg_snapshot_xmin(pg_current_snapshot())::text::bigint);
COMMIT;
SQL
)
grep -qx 'first 0' <<<"$out"
r=$?; [ $r -eq 0 ] && echo "ok 1 - without a base an event's seq is its transaction id << 20" || { echo "not ok 1 - without a base an event's seq is its transaction id << 20"; sed 's/^/# /' <<<"$out"; }
grep -qx 'second 1000000' <<<"$out"
r=$?; [ $r -eq 0 ] && echo "ok 2 - the session's next transaction numbers its event with the base another session committed" || { echo "not ok 2 - the session's next transaction numbers its event with the base another session committed"; sed 's/^/# /' <<<"$out"; }
grep -qx 'horizon 1000000' <<<"$out"
r=$?; [ $r -eq 0 ] && echo "ok 3 - as the horizon of events_since does" || { echo "not ok 3 - as the horizon of events_since does"; sed 's/^/# /' <<<"$out"; }
