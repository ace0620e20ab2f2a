#!/usr/bin/env bash
# test/tap/relay.t: the relay (src/relay.c) on servers of its own: a primary
# with dispatch preloaded and a relay for the database relay_t, and a
# streaming standby of it.
#
#   - under a 4-client intake load every event is notified once, by the
#     relay, in seq order; a relay terminated mid-load is restarted and
#     nothing is lost or sent twice (writers notify at commit meanwhile);
#   - the server is killed with SIGKILL mid-load and restarted: every
#     committed order has its events with gap-free versions, events_since
#     from 0 returns each committed event once, the reference gateway that
#     was listening (tools/gateway, mosquitto) catches up with nothing
#     missing, and the relay relays again;
#   - the standby runs no relay, answers analyst views, purges nothing,
#     and its events_since reaches what the primary committed; the
#     reference gateway connected to it does not LISTEN (a standby refuses
#     it) and forwards what replay brings by reading every --poll ms;
#     promoted, it starts its relay, a gateway continues from its last seq
#     with no gap, and the standby's gateway LISTENs from its next read;
#   - a server without dispatch preloaded notifies at commit and says so
#     once in its log;
#   - the extension dropped and created again while the relay runs: the
#     events of the new one are all notified, also those marked while the
#     relay still served the dropped one;
#   - a database of dispatch.relay_databases that does not exist: its relay
#     says so once and waits quietly, serves it once it is created, and
#     waits quietly again after a DROP DATABASE ... WITH (FORCE).
#
# Needs the server binaries in PATH (tools/pgdev puts them there) and the
# key file of the dev cluster ($PGDEV_KEYS).
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
keys=${PGDEV_KEYS:?run through tools/pgdev}
command -v initdb >/dev/null || { echo "1..0 # SKIP initdb is not in PATH"; exit 0; }
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$mosquitto" ] || { echo "1..0 # SKIP mosquitto is not installed (tools/pgdev installs it)"; exit 0; }
[ -x "$here/tools/gateway" ] && [ -x "$here/tools/listen" ] || { echo "1..0 # SKIP tools are not built (make)"; exit 0; }

if [ "$(id -u)" -eq 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi
work=$(mktemp -d)
chmod 755 "$work"
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for d in "$work"/p "$work"/s "$work"/n "$work"/d "$work"/m; do
		[ -f "$d/postmaster.pid" ] && (cd / && as_pg pg_ctl -D "$d" -m immediate stop >/dev/null 2>&1)
	done
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
n=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

as_pg cp "$keys" "$work/keys"
as_pg chmod 600 "$work/keys"

# init DIR PORT PRELOAD
init() {
	(cd / && as_pg initdb -D "$1" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null)
	as_pg tee -a "$1/postgresql.conf" >/dev/null <<CONF
port = $2
listen_addresses = ''
unix_socket_directories = '$work'
shared_preload_libraries = '$3'
dispatch.relay_databases = 'relay_t'
dispatch.master_key_file = '$work/keys'
fsync = off
wal_level = replica
max_wal_senders = 4
hot_standby = on
CONF
}
start() { (cd / && as_pg pg_ctl -D "$1" -l "$1.log" -w start >/dev/null); }
q() { psql -X -q -At -h "$work" -p "$1" -d relay_t -c "$2" 2>&1; }

pp=$(free_port)
init "$work/p" "$pp" dispatch
start "$work/p"
export PGHOST=$work PGPORT=$pp PGUSER=postgres PGDATABASE=relay_t
psql -X -q -d postgres -c "CREATE DATABASE relay_t" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -v ncust=200 >/dev/null 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dispatch CASCADE;
SQL
psql -X -q -v ON_ERROR_STOP=1 -v ncust=200 -f "$here/bench/intake/setup.sql" >/dev/null 2>&1
psql -X -q -c "CREATE ROLE relay_gw LOGIN IN ROLE dispatch_gateway" >/dev/null

echo "1..24"

# 1: the relay of relay_t is up and ready
ready() {   # port: wait up to 15 s for a ready relay
	for _ in $(seq 150); do [ "$(q "$1" "SELECT ready FROM dispatch.relay_status()")" = t ] && return 0; sleep 0.1; done
	return 1
}
ready "$pp"
ok $? "the relay of relay_t is running and ready after CREATE EXTENSION ($(q "$pp" "SELECT pid FROM dispatch.relay_status()"))"

load() {   # seconds clients
	pgbench -n -f "$here/bench/intake/intake.sql" -D ncust=200 -c "$2" -j "$2" -T "$1" >"$work/pgbench.out" 2>&1
}
listen_until_quiet() { "$here/tools/listen" -t 2 >"$1" 2>/dev/null & lpid=$!; pids+=("$lpid"); sleep 0.3; }
heard_check() {   # file where: heard once each, against the outbox after the seq before
	psql -X -q -At -v ON_ERROR_STOP=1 <<SQL 2>&1
CREATE TEMP TABLE heard (n serial, raw text, payload jsonb GENERATED ALWAYS AS (raw::jsonb) STORED);
\\copy heard (raw) FROM '$1'
SELECT format('%s %s %s %s %s',
  (SELECT count(*) FROM dispatch.events e WHERE $2 AND NOT EXISTS (SELECT FROM heard h WHERE (h.payload->>'seq')::bigint = e.seq)),
  (SELECT count(*) - count(DISTINCT payload->>'seq') FROM heard),
  (SELECT count(*) FROM dispatch.events e WHERE $2),
  (SELECT count(*) FROM (SELECT (payload->>'seq')::bigint < lag((payload->>'seq')::bigint) OVER (ORDER BY n) AS back FROM heard) b WHERE back),
  -- the event's members as the outbox holds them, byte for byte, end the
  -- payload, as they end a writer's at commit (listener.t)
  (SELECT count(*) FROM heard h JOIN dispatch.events e ON e.seq = (h.payload->>'seq')::bigint
    WHERE e.payload::text <> '{}' AND NOT h.payload ? 'truncated'
      AND right(h.raw, length(e.payload::text)) <> ',' || substr(e.payload::text, 2)));
SQL
}

# 2-3: 4 clients for 3 s, everything heard once, in seq order, all by the relay
listen_until_quiet "$work/heard1"
load 3 4
wait "$lpid"
read -r missing twice total back differ < <(heard_check "$work/heard1" true)
[ "${missing:-x}" = 0 ] && [ "$twice" = 0 ] && [ "$total" -gt 100 ]
ok $? "4 clients: each of $total events heard once (missing $missing, twice $twice)"
[ "$back" = 0 ] && [ "$differ" = 0 ] && [ "$(q "$pp" "SELECT count(*) FROM dispatch.events WHERE NOT relay")" = 0 ] &&
	[ "$(q "$pp" "SELECT relayed FROM dispatch.relay_status()")" -ge "$total" ]
ok $? "the relay sent them all, in seq order (backwards: $back), each payload as a writer sends it (differing: $differ)"

# 4-5: the relay is terminated mid-load and comes back; nothing lost or doubled
before=$(q "$pp" "SELECT max(seq) FROM dispatch.events")
oldpid=$(q "$pp" "SELECT pid FROM dispatch.relay_status()")
listen_until_quiet "$work/heard2"
load 4 4 &
bpid=$!
sleep 1.5
q "$pp" "SELECT pg_terminate_backend($oldpid)" >/dev/null
wait "$bpid"
wait "$lpid"
ready "$pp"
newpid=$(q "$pp" "SELECT pid FROM dispatch.relay_status()")
[ -n "$newpid" ] && [ "$newpid" != "$oldpid" ]
ok $? "a terminated relay is restarted by the postmaster ($oldpid, then $newpid)"
read -r missing twice total back _ < <(heard_check "$work/heard2" "e.seq > $before")
[ "${missing:-x}" = 0 ] && [ "$twice" = 0 ] && [ "$total" -gt 100 ] &&
	[ "$(q "$pp" "SELECT count(*) FILTER (WHERE relay) > 0 AND count(*) FILTER (WHERE NOT relay) > 0 FROM dispatch.events WHERE seq > $before")" = t ]
ok $? "meanwhile writers notified at commit: each of $total events heard once (missing $missing, twice $twice)"

# 6: the relay runs as the bootstrap superuser: a database's search_path
# that puts an owner's schema first does not reach its statements (an
# operator there would run as superuser)
psql -X -q -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<'SQL'
CREATE SCHEMA evil;
CREATE FUNCTION evil.gt(bigint, bigint) RETURNS boolean LANGUAGE plpgsql
	AS $$ BEGIN RAISE EXCEPTION 'evil operator called'; END $$;
CREATE OPERATOR evil.> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.gt);
ALTER DATABASE relay_t SET search_path = evil, pg_catalog;
SQL
before=$(q "$pp" "SELECT max(seq) FROM dispatch.events")
oldpid=$(q "$pp" "SELECT pid FROM dispatch.relay_status()")
q "$pp" "SELECT pg_terminate_backend($oldpid)" >/dev/null
sleep 0.5
ready "$pp"
relayed=$(q "$pp" "SELECT relayed FROM dispatch.relay_status()")
load 1 2
for _ in $(seq 50); do
	[ "$(q "$pp" "SELECT relayed FROM dispatch.relay_status()")" -gt "${relayed:-0}" ] && break; sleep 0.1
done
sent=$(q "$pp" "SELECT relayed FROM dispatch.relay_status()")
psql -X -q -c "ALTER DATABASE relay_t RESET search_path" -c "DROP SCHEMA evil CASCADE" >/dev/null 2>&1
[ "${sent:-0}" -gt "${relayed:-0}" ] && ! grep -q "evil operator called" "$work/p.log"
ok $? "with the database's search_path naming another schema first the relay relays ($relayed, then $sent) and calls nothing of it"

# 7-11: SIGKILL mid-load, with the reference gateway listening
mq=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mq" >"$work/mq.conf"
[ "$(id -u)" -eq 0 ] && echo "user root" >>"$work/mq.conf"
"$mosquitto" -c "$work/mq.conf" >"$work/mq.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$mq") 2>/dev/null && break; sleep 0.1; done
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$mq" -t 'dispatch/#' -q 1 -v -i relay-t-sub >"$work/got" 2>/dev/null & pids+=($!)
subpid=$!
"$here/tools/gateway" --db "host=$work port=$pp dbname=relay_t user=relay_gw" --broker 127.0.0.1 --port "$mq" \
	--state "$work/gw.state" --client-id relay-t-gw --batch 200 >"$work/gw.log" 2>&1 & pids+=($!)
sleep 1
load 6 4 &
bpid=$!
sleep 2
pm=$(head -1 "$work/p/postmaster.pid")
pkill -9 -P "$pm"; kill -9 "$pm"
wait "$bpid"
for _ in $(seq 50); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
start "$work/p"
grep -q "aborted\|terminated\|connection" "$work/pgbench.out"
ok $? "the server is killed with SIGKILL under a 4-client load and restarts"
r=$(q "$pp" "SELECT count(*) FROM (SELECT o.order_id, o.status_version,
        array_agg((e.payload->>'version')::int ORDER BY e.seq) AS v
   FROM dispatch.orders o JOIN dispatch.events e ON e.order_id = o.order_id AND e.kind = 'order_status'
  GROUP BY 1, 2) x
 WHERE x.v <> (SELECT array_agg(g ORDER BY g) FROM generate_series(1, x.status_version) g)")
orders=$(q "$pp" "SELECT count(*) FROM dispatch.orders")
[ "$r" = 0 ] && [ "$orders" -gt 100 ]
ok $? "each of $orders committed orders has its status events, versions 1.. without a gap, in seq order (wrong: $r)"
r=$(psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<'SQL'
CREATE TEMP TABLE seen (seq bigint);
DO $$
DECLARE last bigint := 0; got int;
BEGIN
	LOOP
		INSERT INTO seen SELECT seq FROM dispatch.events_since(last, 500);
		GET DIAGNOSTICS got = ROW_COUNT;
		EXIT WHEN got = 0;
		SELECT max(seq) INTO last FROM seen;
	END LOOP;
END $$;
SELECT format('%s %s %s', (SELECT count(*) FROM seen), (SELECT count(DISTINCT seq) FROM seen),
              (SELECT count(*) FROM dispatch.events e WHERE NOT EXISTS (SELECT FROM seen s WHERE s.seq = e.seq)));
SQL
)
read -r got distinct missing <<<"$r"
[ "${missing:-x}" = 0 ] && [ "$got" = "$distinct" ]
ok $? "events_since from 0, page by page, returns each of $got committed events exactly once"
# (the gateway reconnects with a back-off and catches up; on a loaded
# machine that takes a while: up to 90 s, looked at each second)
gw_missing() {
	awk '{ i = index($0, " "); printf "%s\t%s\n", substr($0, 1, i - 1), substr($0, i + 1) }' "$work/got" >"$work/got.tsv"
	psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<SQL
CREATE TEMP TABLE got (topic text, payload jsonb);
\\copy got FROM '$work/got.tsv'
SELECT count(*) FROM dispatch.events e
 WHERE e.customer_id IS NOT NULL
   AND NOT EXISTS (SELECT FROM got g WHERE g.topic = 'dispatch/customer/' || e.customer_id AND (g.payload->>'seq')::bigint = e.seq);
SQL
}
for _ in $(seq 90); do
	r=$(gw_missing)
	[ "$r" = 0 ] && break
	sleep 1
done
[ "$r" = 0 ] && grep -q "lost the database\|events_since failed\|connected to the database" "$work/gw.log"
ok $? "the gateway that was listening came back and caught up: every event reached its customer's topic (missing $r)"
ready "$pp"
listen_until_quiet "$work/heard3"
before=$(q "$pp" "SELECT max(seq) FROM dispatch.events")
load 1 2
wait "$lpid"
read -r missing twice total back _ < <(heard_check "$work/heard3" "e.seq > $before")
[ "${missing:-x}" = 0 ] && [ "$twice" = 0 ] && [ "$total" -gt 0 ] &&
	[ "$(q "$pp" "SELECT count(*) FROM dispatch.events WHERE seq > $before AND NOT relay")" = 0 ]
ok $? "after the restart the relay relays again ($total events, missing $missing)"

# 12-17: a streaming standby (its base backup asks for an immediate checkpoint,
# not a spread one of a minute and more)
sp=$(free_port)
(cd / && as_pg pg_basebackup -h "$work" -p "$pp" -U postgres -D "$work/s" -R -X stream -c fast >/dev/null 2>&1)
as_pg sed -i "s/^port = .*/port = $sp/" "$work/s/postgresql.conf"
start "$work/s"
sleep 2
[ "$(q "$sp" "SELECT pg_is_in_recovery()")" = t ] &&
	[ "$(q "$sp" "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'dispatch relay'")" = 0 ] &&
	[ -z "$(q "$sp" "SELECT pid FROM dispatch.relay_status()")" ]
ok $? "the standby runs no relay"
r=$(q "$sp" "SET ROLE dispatch_analyst; SELECT count(*) >= 0 FROM dispatch.earnings_fairness; SELECT count(*) >= 0 FROM dispatch.eta_accuracy")
[ "$r" = "t
t" ] || [ "$r" = t ]
ok $? "analyst views answer on the standby ($r)"
before=$(q "$sp" "SELECT count(*) FROM dispatch.events")
runs=$(q "$sp" "SELECT count(*) FROM dispatch.purge_runs")
r=$(q "$sp" "SET dispatch.clock_override = '2099-01-01 00:00+00'; CALL dispatch.purge_expired()")
[ "$r" = "NOTICE:  standby: nothing to purge here" ] && [ "$(q "$sp" "SELECT count(*) FROM dispatch.events")" = "$before" ] &&
	[ "$(q "$sp" "SELECT count(*) FROM dispatch.purge_runs")" = "$runs" ]
ok $? "purge_expired is a no-op on the standby ($r)"
# the reference gateway on the standby, from the last event replayed
q "$sp" "SELECT coalesce(max(seq), 0) FROM dispatch.events_since(0, 100000)" >"$work/sgw.state"
"$here/tools/gateway" --db "host=$work port=$sp dbname=relay_t user=relay_gw" --broker 127.0.0.1 --port "$mq" \
	--state "$work/sgw.state" --client-id relay-t-sgw --poll 200 >"$work/sgw.log" 2>&1 & pids+=($!)
load 2 4
lsn=$(q "$pp" "SELECT pg_current_wal_lsn()")
for _ in $(seq 100); do [ "$(q "$sp" "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && break; sleep 0.1; done
pe=$(q "$pp" "SELECT md5(string_agg(seq::text, ',' ORDER BY seq)) FROM dispatch.events")
se=$(q "$sp" "SELECT md5(string_agg(seq::text, ',' ORDER BY seq)) FROM dispatch.events_since(0, 100000)")
[ -n "$pe" ] && [ "$pe" = "$se" ]
ok $? "a gateway reading events_since from the standby reaches what the primary committed once replay does"
glast=$(q "$sp" "SELECT max(seq) FROM dispatch.events_since(0, 100000)")
for _ in $(seq 100); do [ "$(cat "$work/sgw.state")" -ge "$glast" ] && break; sleep 0.1; done
[ "$(cat "$work/sgw.state")" -ge "$glast" ] && ! grep -q "cannot LISTEN" "$work/sgw.log" &&
	grep -q "connected to the database, a standby: it sends no notifications, reading every 200 ms" "$work/sgw.log"
ok $? "a gateway connected to the standby does not LISTEN there, says so, and forwards what replay brings every --poll ms ($(cat "$work/sgw.state") of $glast)"
ppos=$(q "$pp" "SELECT position FROM dispatch.relay_status()")
(cd / && as_pg pg_ctl -D "$work/p" -m fast -w stop >/dev/null)
(cd / && as_pg pg_ctl -D "$work/s" -w promote >/dev/null)
ready "$sp"
spos=$(q "$sp" "SELECT position FROM dispatch.relay_status()")
[ -n "$spos" ] && [ "$spos" -ge "$ppos" ]
ok $? "promoted, the standby starts its relay, from the position it replicated ($spos, primary $ppos)"
PGPORT=$sp listen_until_quiet "$work/heard4"
PGPORT=$sp load 2 2
wait "$lpid"
r=$(q "$sp" "SELECT format('%s %s', (SELECT count(*) FROM dispatch.events_since($glast, 100000)), (SELECT count(*) FROM dispatch.events WHERE seq > $glast))")
read -r a b <<<"$r"
read -r missing twice total back _ < <(PGPORT=$sp heard_check "$work/heard4" "e.seq > $glast")
[ "$a" = "$b" ] && [ "$a" -gt 0 ] && [ "${missing:-x}" = 0 ] && [ "$twice" = 0 ]
ok $? "a gateway continues on the promoted server from its last seq with no gap ($a events; heard $total, missing $missing)"
slast=$(q "$sp" "SELECT max(seq) FROM dispatch.events")
for _ in $(seq 100); do [ "$(cat "$work/sgw.state")" -ge "$slast" ] && break; sleep 0.1; done
[ "$(cat "$work/sgw.state")" -ge "$slast" ] && grep -q "the server left recovery: listening on dispatch_events" "$work/sgw.log"
ok $? "the standby's gateway, on the same connection, finds the server promoted, LISTENs, and forwards its new events ($(cat "$work/sgw.state") of $slast)"

# 18: a server without dispatch preloaded notifies at commit, and says so once
np=$(free_port)
init "$work/n" "$np" ""
start "$work/n"
psql -X -q -p "$np" -d postgres -c "CREATE DATABASE relay_t" >/dev/null
PGPORT=$np psql -X -q -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dispatch CASCADE;
SQL
PGPORT=$np psql -X -q -v ON_ERROR_STOP=1 -v ncust=5 -f "$here/bench/intake/setup.sql" >/dev/null 2>&1
PGPORT=$np listen_until_quiet "$work/heard5"
PGPORT=$np pgbench -n -f "$here/bench/intake/intake.sql" -D ncust=5 -c 1 -t 3 >/dev/null 2>&1
wait "$lpid"
said=$(grep -c "no relay serves database \"relay_t\"" "$work/n.log")
[ "$(grep -c . "$work/heard5")" = 6 ] && [ "$said" = 1 ] &&
	[ "$(q "$np" "SELECT count(*) FILTER (WHERE NOT relay) FROM dispatch.events")" = 6 ]
ok $? "without the module preloaded: six events notified at commit, said once in the log ($said)"

# 19: a database named twice in dispatch.relay_databases stops the server at
# start (two relays would share one position)
dp=$(free_port)
init "$work/d" "$dp" dispatch
echo "dispatch.relay_databases = 'relay_t, relay_t'" | as_pg tee -a "$work/d/postgresql.conf" >/dev/null
! (cd / && as_pg pg_ctl -D "$work/d" -l "$work/d.log" -w -t 20 start >/dev/null 2>&1) &&
	grep -q 'names database "relay_t" twice' "$work/d.log"
ok $? "a database named twice in dispatch.relay_databases: the server does not start, and says why"

# 22: the extension dropped and created again under a running relay (the
# promoted server's): an event written in the same transaction is marked for
# the relay, which still says it is ready, and must be sent by it
ready "$sp"
# (until both are heard: creating the extension takes seconds on a loaded
# machine, longer than listen_until_quiet's two quiet seconds)
PGPORT=$sp "$here/tools/listen" -n 2 -t 60 >"$work/heard6" 2>/dev/null & lpid=$!; pids+=("$lpid"); sleep 0.3
PGPORT=$sp psql -X -q -v ON_ERROR_STOP=1 -v ncust=1 >"$work/recreate.out" 2>&1 <<SQL
BEGIN;
SET client_min_messages = warning;
DROP EXTENSION dispatch CASCADE;
CREATE EXTENSION dispatch CASCADE;
\\i $here/bench/intake/setup.sql
SELECT dispatch.place_order(1, 1, '[{"item_id": 1, "qty": 1}]', 121.44, 31.19, 'Room 1', 'hot') AS o \\gset
SELECT dispatch.confirm_payment(:o, 'psp-' || :o);
COMMIT;
SQL
rc=$?
[ "$rc" = 0 ] || sed "s/^/# /" "$work/recreate.out"
wait "$lpid"
read -r missing twice total back _ < <(PGPORT=$sp heard_check "$work/heard6" true)
[ "$rc" = 0 ] && [ "${missing:-x}" = 0 ] && [ "$twice" = 0 ] && [ "$total" = 2 ]
ok $? "the extension dropped and created again while the relay runs: its $total new events are each heard once (missing $missing, twice $twice; marked for the relay: $(q "$sp" "SELECT count(*) FILTER (WHERE relay) FROM dispatch.events"))"

# 23-24: a database of dispatch.relay_databases that does not exist: the
# postmaster would start its relay again every second, each failing to
# connect with a FATAL in the log, for as long as the name is there
mp=$(free_port)
init "$work/m" "$mp" dispatch
echo "dispatch.relay_databases = 'relay_m'" | as_pg tee -a "$work/m/postgresql.conf" >/dev/null
start "$work/m"
sleep 5
fatal() { grep -c 'database "relay_m" does not exist' "$work/m.log"; }
f1=$(fatal)
[ "$f1" -le 1 ] && [ "$(grep -c 'relay waits for database "relay_m"' "$work/m.log")" = 1 ]
ok $? "a relay of a database that does not exist says so once and waits ($f1 failed connection in 5 s)"
relay_in() { psql -X -q -At -h "$work" -p "$mp" -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'dispatch relay' AND datname = 'relay_m'"; }
psql -X -q -h "$work" -p "$mp" -d postgres -c "CREATE DATABASE relay_m" >/dev/null
for _ in $(seq 100); do [ "$(relay_in)" = 1 ] && break; sleep 0.1; done
served=$(relay_in)
psql -X -q -h "$work" -p "$mp" -d postgres -c "DROP DATABASE relay_m WITH (FORCE)" >/dev/null
sleep 5
f2=$(fatal)
[ "$served" = 1 ] && [ $((f2 - f1)) -le 1 ] &&
	[ "$(grep -c 'relay waits for database "relay_m"' "$work/m.log")" = 2 ]
ok $? "created, the database has its relay within 10 s; dropped WITH (FORCE), the relay waits quietly again ($((f2 - f1)) failed connection in 5 s)"
