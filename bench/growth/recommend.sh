#!/usr/bin/env bash
# bench/growth/recommend.sh: recommend() at scale (part of `tools/pgdev bench
# growth`, or alone: `tools/pgdev bench growth recommend`).  Loads
# BENCH_CUSTOMERS customers (default 100000) and BENCH_ORDERS past orders
# (default 1000000) over BENCH_ZONES zones (default 10) of BENCH_MERCHANTS
# merchants each (default 200) in bulk (recommend_load.sql), then times
# refresh_recommendations() and BENCH_ROUNDS rounds (default 3) of
# BENCH_CALLS calls (default 2000) of recommend() against a baseline
# (recommend.sql).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
echo "recommend benchmark: $(date -u +%F), $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg)"
t0=$(date +%s)
psql -X -q -v zones="${BENCH_ZONES:-10}" -v mpz="${BENCH_MERCHANTS:-200}" \
	-v customers="${BENCH_CUSTOMERS:-100000}" -v orders="${BENCH_ORDERS:-1000000}" \
	-f "$here/recommend_load.sql" >/dev/null
echo "load: $(($(date +%s) - t0)) s"
PGOPTIONS="-c bench.calls=${BENCH_CALLS:-2000} -c bench.rounds=${BENCH_ROUNDS:-3}" psql -X -q -At -f "$here/recommend.sql"
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
