#!/usr/bin/env bash
# test/tap/gateway_start.t: what the reference push gateway (tools/gateway)
# settles before it publishes anything, against a real broker (Debian's
# mosquitto) and a database of its own holding a few events.
# - A state file it could not save (its directory missing): exit 2 before
#   publishing, not a batch from seq 0 published and then exit 1, again at
#   every restart.
# - Its default MQTT client id differs between two gateways whose process
#   ids are the same (each the first process of its own PID namespace, as
#   in two containers): the same id makes the broker close one gateway's
#   connection whenever the other connects.
# - A topic prefix is published whole, however long, and one that no MQTT
#   topic may have exits 2 at the start.
# - A numeric flag that is not a number in its range (100k, 5000ms, a port
#   with a letter, a number beyond an int) exits 2 naming the flag, not
#   the number atoi() made of it.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
db=dispatch_gateway_start_t
role=dispatch_gateway_start_t
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
	for p in "${g1:-}" "${g2:-}"; do [ -n "$p" ] && stop_ns "$p"; done
	for p in "${subpid:-}" "${sub4:-}" "${mqpid:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

. "$here/test/lib/broker.sh"
gateway_test_needs "$here"

echo "1..6"
ok() { if [ "$1" -eq 0 ]; then echo "ok $2"; else echo "not ok $2"; fi; return "$1"; }
# unshare ignores SIGTERM while it waits: stop the gateway it started
stop_ns() { local c; for c in $(ps -o pid= --ppid "$1"); do kill "$c" 2>/dev/null; done; }

start_broker

gateway_test_db "$db" "$role"
psql -X -q -o /dev/null -c "SELECT count(dispatch._emit_event(1, 'start_t', NULL, 1 + i % 3, NULL, '{}')) FROM generate_series(1, 20) i"
last=$(psql -X -At -c "SELECT max(seq) FROM dispatch.events")
conninfo="host=${PGHOST:-} port=${PGPORT:-5432} dbname=$db user=$role"

stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -t 'dispatch/#' -q 1 -v -i gateway-start-t-sub >"$work/got" 2>"$work/sub.err" &
subpid=$!
sleep 0.3

# 1: a state file in a directory that does not exist
timeout 20 "$here/tools/gateway" --db "$conninfo" --broker 127.0.0.1 --port "$port" \
	--state "$work/no-such-dir/state" --client-id gateway-start-t-1 --once >/dev/null 2>"$work/err1"; r=$?
sleep 0.3
sent=$(wc -l <"$work/got")
[ $r = 2 ] && [ "$sent" = 0 ] && grep -q "no-such-dir/state" "$work/err1"
ok $? "1 - a state file it cannot save (no directory) exits 2 before publishing anything (exit $r, $sent messages published)" ||
	sed 's/^/# /' "$work/err1"

# 2-3: two gateways with the default client id, each process 1 of its own
# PID namespace (unshare needs root, or else user namespaces)
ns=
for try in "unshare -pf --kill-child" "unshare -Urpf --kill-child"; do
	$try true 2>/dev/null && { ns=$try; break; }
done
if [ -n "$ns" ]; then
	for i in 1 2; do
		$ns "$here/tools/gateway" --db "$conninfo" --broker 127.0.0.1 --port "$port" \
			--state "$work/state$i" --poll 200 >"$work/gw$i.log" 2>&1 &
		eval "g$i=\$!"
	done
	for _ in $(seq 100); do
		[ "$(cat "$work/state1" 2>/dev/null)" = "$last" ] && [ "$(cat "$work/state2" 2>/dev/null)" = "$last" ] && break
		sleep 0.1
	done
	# each connection they make stays up a while: the broker must not close
	# one for the other's
	sleep 1.5
	psql -X -q -o /dev/null -c "SELECT dispatch._emit_event(1, 'start_t', NULL, 1, NULL, '{}')"
	last=$(psql -X -At -c "SELECT max(seq) FROM dispatch.events")
	for _ in $(seq 50); do
		[ "$(cat "$work/state1" 2>/dev/null)" = "$last" ] && [ "$(cat "$work/state2" 2>/dev/null)" = "$last" ] && break
		sleep 0.1
	done
	ids=$(grep -o 'New client connected from .* as dispatch-gateway-[^ ]*' "$work/mosquitto.log" | sed 's/.* as //' | sort -u | wc -l)
	[ "$ids" = 2 ] && ! grep -q 'already connected' "$work/mosquitto.log"
	ok $? "2 - two gateways whose process ids are the same get two client ids, and the broker closes neither ($ids ids)" ||
		grep -E 'connected|Client' "$work/mosquitto.log" | head -10 | sed 's/^/# broker: /'
	[ "$(cat "$work/state1" 2>/dev/null)" = "$last" ] && [ "$(cat "$work/state2" 2>/dev/null)" = "$last" ] &&
		! grep -q 'lost the broker' "$work/gw1.log" "$work/gw2.log"
	ok $? "3 - both forward every event without losing the broker" || cat "$work/gw1.log" "$work/gw2.log" | sed 's/^/# gateway: /'
	stop_ns "$g1"; stop_ns "$g2"; wait "$g1" "$g2" 2>/dev/null; g1= g2=
else
	echo "ok 2 # SKIP unshare cannot make a PID namespace here"
	echo "ok 3 # SKIP unshare cannot make a PID namespace here"
fi

# 4-5: the topic prefix.  A long one (MQTT allows topics of 65535 bytes)
# is published whole, not cut so that another customer's topic is hit
# (dispatch's customers 1, 12 and 123 would share one); one that no topic
# may have (not UTF-8) exits 2 at the start, instead of a publish refused
# by the client library taken for a lost broker, for ever.
long=$(printf 'p%.0s' $(seq 600))
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -t "$long/#" -q 1 -v -i gateway-start-t-sub4 >"$work/got4" 2>>"$work/sub.err" &
sub4=$!
sleep 0.3
timeout 20 "$here/tools/gateway" --db "$conninfo" --broker 127.0.0.1 --port "$port" --prefix "$long" \
	--state "$work/state4" --client-id gateway-start-t-4 --once >/dev/null 2>"$work/err4"; r=$?
want=$(psql -X -At -c "SELECT count(*) FROM dispatch.events")
for _ in $(seq 30); do [ "$(wc -l <"$work/got4")" -ge "$want" ] && break; sleep 0.1; done
kill "$sub4"; wait "$sub4" 2>/dev/null; sub4=
right=$(awk -v p="$long" '{ t = $1; c = $0; sub(/.*"customer": /, "", c); sub(/[,}].*/, "", c);
	if (t == p "/customer/" c) n++ } END { print n + 0 }' "$work/got4")
[ $r = 0 ] && [ "$right" = "$want" ]
ok $? "4 - a prefix of 600 bytes: each of the $want events on its customer's whole topic ($right, exit $r)" ||
	{ sed 's/^/# /' "$work/err4"; cut -c 590-640 "$work/got4" | head -3 | sed 's/^/# got: /'; }
timeout 10 "$here/tools/gateway" --db "$conninfo" --broker 127.0.0.1 --port "$port" --prefix $'dispatch\xff' \
	--state "$work/state5" --client-id gateway-start-t-5 --once >/dev/null 2>"$work/err5"; r=$?
[ $r = 2 ] && grep -q -- '--prefix' "$work/err5" && [ ! -e "$work/state5" ]
ok $? "5 - a prefix that is not UTF-8 exits 2 at the start, saying so (exit $r)" || tail -3 "$work/err5" | sed 's/^/# /'

# 6: numeric flags are numbers, whole, in range: atoi() took 100k for 100,
# 5000ms for 5000, ${port}x for $port and 4294967297 for 1
bad=
for flag in "--batch 100k" "--poll 5000ms" "--port ${port}x" "--batch 4294967297" "--poll -20"; do
	set -- $flag
	a=(--db "$conninfo" --broker 127.0.0.1 --port "$port" --prefix numflag --state "$work/state6"
		--client-id gateway-start-t-6 --once "$1" "$2")
	timeout 10 "$here/tools/gateway" "${a[@]}" >/dev/null 2>"$work/err6"; r=$?
	{ [ $r = 2 ] && grep -q -- "$1" "$work/err6" && [ ! -e "$work/state6" ]; } ||
		bad="$bad [$flag: exit $r$(head -c 300 "$work/err6" | tr '\n' ' ')]"
	rm -f "$work/state6"
done
[ -z "$bad" ]
ok $? "6 - a numeric flag that is not a whole number in its range exits 2 naming the flag" || echo "# $bad"
