#!/usr/bin/env bash
# test/tap/purge_cancel.t: a long purge (CALL dispatch.purge_expired() over
# 6,000 expired orders and pings, one row per class and batch) stops on
# statement_timeout and on pg_cancel_backend with SQLSTATE 57014.  What it
# committed stays done and counted (its purge_runs row counts exactly the
# batches it committed), it holds no lock afterwards, so a run from another
# session goes ahead while the cancelled session is still connected, and
# its row ends 'aborted': closed by the run itself, or, when the cancel
# struck between two batches, by the next run.  Finally an uninterrupted run
# finishes the work, and the rows counted by all runs add up to exactly what
# was purged.  Runs in a database of its own.
set -euo pipefail
db=dispatch_purge_cancel_t
work=$(mktemp -d)
cleanup() {
	kill "${bg:-}" 2>/dev/null || true
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
export PGDATABASE=$db
N=6000
psql -X -q -v ON_ERROR_STOP=1 -v n=$N >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dispatch CASCADE;
SELECT dispatch.create_zone('P', ST_GeomFromText('POLYGON((121.40 31.15, 121.48 31.15, 121.48 31.22, 121.40 31.22, 121.40 31.15))', 4326));
SELECT dispatch.create_merchant(1, 'M', 121.437, 31.188);
SELECT dispatch.add_item(1, 'noodles', 2800);
SELECT dispatch.register_customer('+8613800000001', 'Purge Customer');
SELECT dispatch.register_rider(1, 'Purge Rider', '+8613900000001');
SELECT set_config('dispatch.clock_override', (now() - interval '40 days')::text, false);
SELECT dispatch.cancel_order(dispatch.place_order(1, 1, '[{"item_id": 1, "qty": 1}]', 121.445, 31.196, 'Purge Road'), 'test');
-- copies of that finished order, 40 days old, and old pings and events:
-- written as restored rows (replica: the state machine does not fire)
SET session_replication_role = replica;
SELECT set_config('t.n', :'n', false);
DO $$
DECLARE
	cols text;
BEGIN
	SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
	  FROM pg_attribute
	 WHERE attrelid = 'dispatch.orders'::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'order_id';
	EXECUTE format('INSERT INTO dispatch.orders (order_id, %s)
	                SELECT dispatch.zone_scoped_id(1, nextval(''dispatch.orders_id_seq'')), %s
	                  FROM dispatch.orders o, generate_series(2, %s)', cols, cols, current_setting('t.n'));
END $$;
INSERT INTO dispatch.rider_tracks (zone_id, rider_id, at, position)
SELECT 1, 1, now() - interval '40 days' + i * interval '1 second', ST_SetSRID(ST_MakePoint(121.43, 31.19), 4326)
  FROM generate_series(1, :n) i;
SQL

echo "1..13"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() {   # check description sql-returning-boolean
	local r
	r=$(psql -X -At -c "$2" 2>&1 || true)
	[ "$r" = t ] && ok "$1" || notok "$1 ($r)"
}
# the rows counted by the runs are exactly the rows purged
consistent="SELECT (SELECT sum((rows->>'order_text')::int) FROM dispatch.purge_runs) = (SELECT count(*) FROM dispatch.orders WHERE dropoff_address_enc IS NULL)
               AND (SELECT sum((rows->>'dropoff_point')::int) FROM dispatch.purge_runs) = (SELECT count(*) FROM dispatch.orders WHERE dropoff_coarsened_at IS NOT NULL)
               AND (SELECT sum((rows->>'rider_tracks')::int) FROM dispatch.purge_runs) = $N - (SELECT count(*) FROM dispatch.rider_tracks)"

# 1. statement_timeout; the session stays connected, and another one runs a batch meanwhile
psql -X -At >"$work/a" 2>&1 <<'SQL' || true
\set VERBOSITY verbose
SET statement_timeout = '500ms';
CALL dispatch.purge_expired(batch_size => 1);
RESET statement_timeout;
SELECT 'locks held: ' || count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
SELECT 'counted = done: ' || ((rows->>'order_text')::int = (SELECT count(*) FROM dispatch.orders WHERE dropoff_address_enc IS NULL))
  FROM dispatch.purge_runs WHERE run_id = 1;
\! psql -X -At -c "SELECT 'another session: ' || coalesce(dispatch.purge_expired_step(1)::text, 'skipped')"
SQL
grep -q "ERROR:  57014: canceling statement due to statement timeout" "$work/a" \
	&& ok "statement_timeout stops the purge with 57014" || notok "statement_timeout stops the purge with 57014 ($(cat "$work/a"))"
check "the run stopped half-way; its purge_runs row counts the batches it committed" \
	"SELECT status IN ('aborted', 'running') AND batches > 0
	        AND (rows->>'order_text')::int BETWEEN 1 AND $N - 1 AND batches = (rows->>'order_text')::int
	   FROM dispatch.purge_runs WHERE run_id = 1"
grep -q "^counted = done: true$" "$work/a" \
	&& ok "what the row counts is what was committed" || notok "what the row counts is what was committed ($(cat "$work/a"))"
grep -q "^locks held: 0$" "$work/a" \
	&& ok "the cancelled session no longer holds the run lock" || notok "the cancelled session no longer holds the run lock ($(cat "$work/a"))"
grep -q "^another session: [1-9]" "$work/a" \
	&& ok "another session's run goes ahead while the cancelled session is connected" \
	|| notok "another session's run goes ahead while the cancelled session is connected ($(cat "$work/a"))"
check "the stopped run's row is closed as aborted (by the run, or by the next run when the cancel struck between two batches)" \
	"SELECT status = 'aborted' AND finished_at IS NOT NULL FROM dispatch.purge_runs WHERE run_id = 1"

# 2. pg_cancel_backend, from another session, once the run has committed 100 batches
psql -X -At >"$work/b" 2>&1 <<'SQL' &
\set VERBOSITY verbose
CALL dispatch.purge_expired(batch_size => 1);
SELECT 'locks held: ' || count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
SQL
bg=$!
cancelled=f
for _ in $(seq 1 200); do
	cancelled=$(psql -X -At -c "SELECT pg_cancel_backend(pid) FROM dispatch.purge_runs WHERE status = 'running' AND batches >= 100")
	[ "$cancelled" = t ] && break
	sleep 0.05
done
wait "$bg" || true
bg=
grep -q "ERROR:  57014: canceling statement due to user request" "$work/b" \
	&& ok "pg_cancel_backend stops the purge with 57014" || notok "pg_cancel_backend stops the purge with 57014 ($cancelled: $(cat "$work/b"))"
check "its row counts the batches it committed, and the work is not finished" \
	"SELECT status IN ('aborted', 'running') AND batches >= 100 AND batches = (rows->>'order_text')::int
	        AND (SELECT count(*) FROM dispatch.orders WHERE dropoff_address_enc IS NOT NULL) > 0
	   FROM dispatch.purge_runs WHERE run_id = 3"
grep -q "^locks held: 0$" "$work/b" \
	&& ok "the cancelled session gives the run lock back" || notok "the cancelled session gives the run lock back ($(cat "$work/b"))"
check "the rows counted by all runs are exactly the rows purged" "$consistent"

# 3. an uninterrupted run finishes the work
start=$(date +%s%N)
psql -X -q -c "CALL dispatch.purge_expired(batch_size => 100)" >/dev/null 2>&1
echo "# the last run: $((($(date +%s%N) - start) / 1000000)) ms"
check "a run without interruption finishes: every expired order, point and ping is purged" \
	"SELECT (SELECT status FROM dispatch.purge_runs ORDER BY run_id DESC LIMIT 1) = 'done'
	    AND (SELECT count(*) FROM dispatch.orders WHERE dropoff_address_enc IS NOT NULL OR dropoff_coarsened_at IS NULL) = 0
	    AND (SELECT count(*) FROM dispatch.rider_tracks) = 0"
check "the rows counted by all runs are exactly the rows purged" "$consistent"
check "no run is left open; the two stopped runs are aborted, the others done" \
	"SELECT array_agg(status ORDER BY run_id) = '{aborted,done,aborted,done}' AND bool_and(finished_at IS NOT NULL) FROM dispatch.purge_runs"
