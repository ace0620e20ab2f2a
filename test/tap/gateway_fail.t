#!/usr/bin/env bash
# test/tap/gateway_fail.t: the reference push gateway (tools/gateway) when
# the database or the broker fails, against a real broker (Debian's
# mosquitto) and a database of its own holding a few events.
# - --once (run by cron or a script) gives up, with exit 3 when the
#   database cannot be reached and 4 when the broker cannot, instead of
#   retrying for ever.
# - A broker restarted while the gateway is idle is connected to again at
#   once, not when the next event finds the connection gone.
# - SIGTERM while a broker hangs (connected, acknowledging nothing) stops
#   the gateway within seconds, without saving the unacknowledged batch.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
db=dispatch_gateway_fail_t
role=dispatch_gateway_fail_t
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
	[ -n "${gw:-}" ] && kill -9 "$gw" 2>/dev/null
	[ -n "${mqpid:-}" ] && { kill -CONT "$mqpid"; kill "$mqpid"; } 2>/dev/null
	wait 2>/dev/null
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

. "$here/test/lib/broker.sh"
gateway_test_needs "$here"

echo "1..5"
ok() { if [ "$1" -eq 0 ]; then echo "ok $2"; else echo "not ok $2"; fi; return "$1"; }

start_broker

gateway_test_db "$db" "$role"
psql -X -q -o /dev/null -c "SELECT count(dispatch._emit_event(1, 'fail_t', NULL, 1 + i % 3, NULL, '{}')) FROM generate_series(1, 5) i"
last() { psql -X -At -c "SELECT max(seq) FROM dispatch.events"; }
emit() { psql -X -q -o /dev/null -c "SELECT dispatch._emit_event(1, 'fail_t', NULL, 1, NULL, '{}')"; }
conninfo="host=${PGHOST:-} port=${PGPORT:-5432} dbname=$db user=$role"
# a port nothing listens on
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# 1-2: --once gives up (two attempts, 1 s apart) and says what failed
start=$SECONDS
timeout 10 "$here/tools/gateway" --db "$conninfo" --broker 127.0.0.1 --port "$dead" \
	--state "$work/state1" --client-id gateway-fail-t-1 --once >/dev/null 2>"$work/err1"; r=$?
[ $r = 4 ] && grep -q 'giving up.*broker' "$work/err1" && [ ! -e "$work/state1" ]
ok $? "1 - --once without a broker exits 4, saying so (exit $r after $((SECONDS - start)) s)" || tail -3 "$work/err1" | sed 's/^/# /'
start=$SECONDS
timeout 10 "$here/tools/gateway" --db "host=127.0.0.1 port=$dead dbname=$db user=$role connect_timeout=2" \
	--broker 127.0.0.1 --port "$port" --state "$work/state2" --client-id gateway-fail-t-2 --once \
	>/dev/null 2>"$work/err2"; r=$?
[ $r = 3 ] && grep -q 'giving up.*database' "$work/err2" && [ ! -e "$work/state2" ]
ok $? "2 - --once without the database exits 3, saying so (exit $r after $((SECONDS - start)) s)" || tail -3 "$work/err2" | sed 's/^/# /'

# 3: a broker restarted while the gateway is idle (polling once a minute)
"$here/tools/gateway" --db "$conninfo" --broker 127.0.0.1 --port "$port" --state "$work/state" \
	--client-id gateway-fail-t-3 --poll 60000 >/dev/null 2>"$work/gw.log" &
gw=$!
want=$(last)
for _ in $(seq 50); do [ "$(cat "$work/state" 2>/dev/null)" = "$want" ] && break; sleep 0.1; done
kill "$mqpid"; wait "$mqpid" 2>/dev/null
"$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$work/mosquitto.conf" >>"$work/mosquitto.log" 2>&1 &
mqpid=$!
for _ in $(seq 40); do [ "$(grep -c 'connected to the broker' "$work/gw.log")" -ge 2 ] && break; sleep 0.1; done
n=$(grep -c 'connected to the broker' "$work/gw.log")
emit
want=$(last)
for _ in $(seq 50); do [ "$(cat "$work/state" 2>/dev/null)" = "$want" ] && break; sleep 0.1; done
[ "$n" = 2 ] && [ "$(cat "$work/state")" = "$want" ]
ok $? "3 - a broker restarted while idle is connected to again before the next event ($n connections), which it forwards" ||
	sed 's/^/# gateway: /' "$work/gw.log"

# 4-5: the broker hangs (stopped: the connection stays, nothing is
# acknowledged) with an event in flight; SIGTERM
saved=$(cat "$work/state")
kill -STOP "$mqpid"
emit
sleep 1	# woken by the notification, it has published and waits
kill "$gw"
start=$SECONDS
for _ in $(seq 120); do kill -0 "$gw" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$gw" 2>/dev/null; then
	kill -9 "$gw"; wait "$gw" 2>/dev/null; r=killed
else
	wait "$gw"; r=$?
fi
gw=
took=$((SECONDS - start))
[ "$r" = 0 ] && [ "$took" -le 8 ]
ok $? "4 - SIGTERM while the broker hangs stops the gateway within 8 s (exit $r after $took s)" || tail -3 "$work/gw.log" | sed 's/^/# gateway: /'
[ "$(cat "$work/state")" = "$saved" ] && grep -q 'not saved' "$work/gw.log"
ok $? "5 - and leaves the unacknowledged event unsaved (state $(cat "$work/state"), was $saved)" || tail -3 "$work/gw.log" | sed 's/^/# gateway: /'
kill -CONT "$mqpid"
