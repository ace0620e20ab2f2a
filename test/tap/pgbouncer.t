#!/usr/bin/env bash
# test/tap/pgbouncer.t: the API through PgBouncer (Debian's pgbouncer), as
# application servers use it at a peak (docs/operations.md).  Eight pgbench
# clients share four server connections in transaction pooling mode:
# intake (placing and paying as two transactions, which may run on two
# server connections), merchants accepting, batches, riders answering
# offers, picking up and delivering; meanwhile the reference gateway
# listens through a session-mode pool and forwards every event to MQTT.
# Nothing may fail or be lost.  Runs in a database of its own.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
pgbouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[ -x "$pgbouncer" ] || { echo "1..0 # SKIP pgbouncer is not installed (tools/pgdev installs it)"; exit 0; }
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$mosquitto" ] || { echo "1..0 # SKIP mosquitto is not installed"; exit 0; }
[ -x "$here/tools/gateway" ] || { echo "1..0 # SKIP tools/gateway is not built (make)"; exit 0; }
if [ "$(id -u)" -eq 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi

db=dispatch_pgbouncer_t
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -f "$work/pgbouncer.pid" ] && kill "$(cat "$work/pgbouncer.pid")" 2>/dev/null
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
n=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
export PGDATABASE=$db
psql -X -q -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dispatch CASCADE;
SQL
psql -X -q -v ON_ERROR_STOP=1 -v ncust=500 -v nriders=60 -f "$here/bench/soak/setup.sql" >/dev/null 2>&1

# PgBouncer: one transaction pool and one session pool of the same database
bport=$(free_port)
sock=${PGHOST:-/tmp}
cat >"$work/pgbouncer.ini" <<INI
[databases]
tx = host=$sock port=${PGPORT:-5432} dbname=$db pool_mode=transaction pool_size=4
sess = host=$sock port=${PGPORT:-5432} dbname=$db pool_mode=session pool_size=2
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $work/users.txt
max_client_conn = 100
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
admin_users = postgres
ignore_startup_parameters = extra_float_digits
INI
echo '"postgres" ""' >"$work/users.txt"
[ "$(id -u)" -eq 0 ] && chown -R postgres "$work"
as_pg "$pgbouncer" -d "$work/pgbouncer.ini" >/dev/null 2>&1
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$bport") 2>/dev/null && break; sleep 0.1; done
echo "1..5"
tx="host=127.0.0.1 port=$bport user=postgres dbname=tx sslmode=disable"
[ "$(psql -X -At "$tx" -c "SELECT count(*) FROM dispatch.riders" 2>&1)" = 60 ]
ok $? "PgBouncer serves the database in transaction and session pools"

# the gateway through the session pool, a subscriber on the broker
mq=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mq" >"$work/mq.conf"
[ "$(id -u)" -eq 0 ] && echo "user root" >>"$work/mq.conf"
"$mosquitto" -c "$work/mq.conf" >"$work/mq.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$mq") 2>/dev/null && break; sleep 0.1; done
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$mq" -t 'dispatch/#' -q 1 -v -i pgbouncer-t-sub >"$work/got" 2>/dev/null & pids+=($!)
"$here/tools/gateway" --db "host=127.0.0.1 port=$bport user=postgres dbname=sess sslmode=disable" --broker 127.0.0.1 \
	--port "$mq" --state "$work/gw.state" --client-id pgbouncer-t-gw --batch 200 >"$work/gw.log" 2>&1 & pids+=($!)
sleep 1

# the load, all through the transaction pool: 8 clients on 4 connections;
# placing and paying are two transactions, as an app server calls them
cat >"$work/intake.sql" <<'SQL'
\set c random(1, :ncust)
\set m random(1, 5)
\set dx random(0, 20000)
SELECT dispatch.place_order(:c, :m, format('[{"item_id": %s, "qty": 1}]', :m)::jsonb,
       121.40 + :dx / 250000.0, 31.17, 'Pool Road 1') AS o \gset
SELECT dispatch.confirm_payment(:o, 'psp-' || :o);
SQL
run() {   # name clients script
	pgbench -n "$tx" -f "$3" -D ncust=500 -D nriders=60 -c "$2" -j "$2" -T 8 >"$work/$1.out" 2>&1
	echo $? >"$work/$1.rc"
}
load=()
run intake 4 "$work/intake.sql" & load+=($!)
run merchant 1 "$here/bench/soak/merchant.sql" & load+=($!)
run batch 1 "$here/bench/soak/batch.sql" & load+=($!)
run rider 2 "$here/bench/soak/rider.sql" & load+=($!)
wait "${load[@]}"
fails=""
for s in intake merchant batch rider; do
	[ "$(cat "$work/$s.rc")" = 0 ] && ! grep -q "aborted\|ERROR" "$work/$s.out" || fails="$fails $s"
done
[ -z "$fails" ]
ok $? "intake, merchants, batches and riders ran through transaction pooling with no error (failed:${fails:- none})" ||
	for s in $fails; do grep -m2 "ERROR\|abort" "$work/$s.out" | sed 's/^/# /'; done
servers=$(psql -X -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
[ "$servers" -le 6 ]
ok $? "eight clients and the gateway were served by at most 6 server connections ($servers)"

placed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/intake.out")
r=$(psql -X -At -c "SELECT format('%s %s %s', count(*), count(*) FILTER (WHERE status <> 'pending_payment'), count(*) FILTER (WHERE status = 'delivered')) FROM dispatch.orders")
read -r orders paid delivered <<<"$r"
[ "$orders" = "$placed" ] && [ "$paid" = "$orders" ] && [ "$delivered" -gt 0 ]
ok $? "every order placed was paid in its next transaction, and deliveries happened ($orders orders, $paid paid, $delivered delivered)"

last=$(psql -X -At -c "SELECT max(seq) FROM dispatch.events")
for _ in $(seq 200); do
	[ -s "$work/gw.state" ] && [ "$(cat "$work/gw.state")" -ge "$last" ] && break
	sleep 0.1
done
sleep 0.5
awk '{ i = index($0, " "); printf "%s\t%s\n", substr($0, 1, i - 1), substr($0, i + 1) }' "$work/got" >"$work/got.tsv"
r=$(psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<SQL
CREATE TEMP TABLE got (topic text, payload jsonb);
\\copy got FROM '$work/got.tsv'
SELECT format('%s %s', count(*) FILTER (WHERE NOT EXISTS (SELECT FROM got g WHERE g.topic = 'dispatch/customer/' || e.customer_id AND (g.payload->>'seq')::bigint = e.seq)), count(*))
  FROM dispatch.events e WHERE e.customer_id IS NOT NULL;
SQL
)
read -r missing total <<<"$r"
[ "${missing:-x}" = 0 ] && [ "$total" -gt 100 ]
ok $? "the gateway in the session pool forwarded every event to its customer's topic (missing $missing of $total)"
