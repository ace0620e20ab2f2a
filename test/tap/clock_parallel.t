#!/usr/bin/env bash
# test/tap/clock_parallel.t: parallel workers read the overridden clock.
# A parallel worker receives the leader's settings at start-up, before its
# time zone abbreviations are restored; parsing dispatch.clock_override
# then read freed memory and the worker died with signal 11 (seen at the
# end of bench/assign/load.sql).  The worker now takes the value the
# leader checked and parses it at first use (src/clock.c).  Each check
# runs in a new session with the override set before the module loads,
# PostGIS in use and every query forced into a parallel worker.
set -euo pipefail
db=dispatch_clock_parallel_t
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
export PGDATABASE=$db
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dispatch CASCADE;
CREATE TABLE spots AS
SELECT g AS id, ST_SetSRID(ST_MakePoint(121 + g / 1e5, 31 + g / 1e5), 4326) AS pos
  FROM generate_series(1, 200000) g;
ANALYZE spots;
SQL

echo "1..3"
run() {   # the session of the benchmark's load, cut down
	psql -X -At 2>&1 <<SQL
SET client_min_messages = warning;
SET synchronous_commit = off;
SELECT set_config('dispatch.clock_override', '$1', false) \g /dev/null
SELECT dispatch.clock() \g /dev/null
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET force_parallel_mode = on;
SELECT count(*) FROM spots WHERE ST_X(pos) > 121;
SELECT dispatch.clock();
SQL
}

out=$(for i in 1 2 3 4 5; do run '2026-03-02T12:00:00+00'; done)
if [ "$(echo "$out" | grep -c '^200000$')" = 5 ]; then
	echo "ok 1 - five sessions with an overridden clock run parallel queries"
else
	echo "not ok 1 - five sessions with an overridden clock run parallel queries ($out)"
fi
if [ "$(echo "$out" | grep -c '^2026-03-02 12:00:00+00$')" = 5 ]; then
	echo "ok 2 - a parallel worker reads the overridden clock"
else
	echo "not ok 2 - a parallel worker reads the overridden clock ($out)"
fi
# a local time read in Shanghai is the same instant in the worker, whose
# TimeZone is restored after the clock
out=$(PGTZ=Asia/Shanghai run '2026-03-02 20:00:00' | tail -1)
if [ "$out" = "2026-03-02 20:00:00+08" ]; then
	echo "ok 3 - a worker reads the instant the leader set, whatever its TimeZone"
else
	echo "not ok 3 - a worker reads the instant the leader set, whatever its TimeZone ($out)"
fi
