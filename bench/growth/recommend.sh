#!/usr/bin/env bash
# bench/growth/recommend.sh: recommend() at scale, in a database of its own
# (growth_recommend) on the cluster of `tools/pgdev bench growth`, which runs
# it after its other parts; alone:
#   PGDEV_DURABLE=1 tools/pgdev run bench/growth/recommend.sh
# Loads BENCH_REC_CUSTOMERS customers (default 100000) and BENCH_REC_ORDERS
# past orders (default 1000000) over BENCH_REC_ZONES zones (default 10) of
# BENCH_REC_MERCHANTS merchants each (default 200) in bulk
# (recommend_load.sql), then times refresh_recommendations() and
# BENCH_REC_ROUNDS rounds (default 3) of BENCH_REC_CALLS calls (default
# 2000) of recommend() against a baseline (recommend.sql).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db=growth_recommend
echo "recommend benchmark: $(date -u +%F), $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg)"
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
export PGDATABASE=$db
PGOPTIONS="-c client_min_messages=warning" psql -X -q -c "CREATE EXTENSION dispatch CASCADE" >/dev/null
t0=$(date +%s)
psql -X -q -v zones="${BENCH_REC_ZONES:-10}" -v mpz="${BENCH_REC_MERCHANTS:-200}" \
	-v customers="${BENCH_REC_CUSTOMERS:-100000}" -v orders="${BENCH_REC_ORDERS:-1000000}" \
	-f "$here/recommend_load.sql" >/dev/null
echo "load: $(($(date +%s) - t0)) s"
PGOPTIONS="-c bench.calls=${BENCH_REC_CALLS:-2000} -c bench.rounds=${BENCH_REC_ROUNDS:-3}" \
	psql -X -q -At -f "$here/recommend.sql"
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
psql -X -q -d postgres -c "DROP DATABASE $db" >/dev/null
