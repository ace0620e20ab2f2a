#!/usr/bin/env bash
# test/tap/gateway.t: the reference push gateway (tools/gateway) end to end,
# with a real broker (Debian's mosquitto).  A subscriber listens on
# dispatch/# with QoS 1 while orders go through their whole life in many
# transactions, then a small simulated city (tools/sim) plays; meanwhile
# the gateway is killed with SIGKILL and started
# again, and later its database connection is terminated.  Then every event
# of the outbox must have reached the subscriber on each of its topics (the
# customer's, the rider's), none missing, and each order's status events in
# the order of their versions.  Runs in a database of its own.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
db=dispatch_gateway_t
role=dispatch_gateway_t
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
	for p in "${gwpid:-}" "${subpid:-}" "${mqpid:-}" "${wpid:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

. "$here/test/lib/broker.sh"
gateway_test_needs "$here"

echo "1..10"
ok() { if [ "$1" -eq 0 ]; then echo "ok $2"; else echo "not ok $2"; fi; }

# a broker on a free port, as the user running the test
start_broker

gateway_test_db "$db" "$role"
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT dispatch.create_zone('G', ST_GeomFromText('POLYGON((121.40 31.15, 121.48 31.15, 121.48 31.22, 121.40 31.22, 121.40 31.15))', 4326));
SELECT dispatch.create_merchant(1, 'M', 121.437, 31.188, 5);
SELECT dispatch.add_item(1, 'noodles', 2800);
SELECT dispatch.register_customer('+86138000000' || lpad(i::text, 2, '0'), NULL) FROM generate_series(1, 5) i;
SELECT dispatch.register_rider(1, 'R' || i, '+86139000000' || lpad(i::text, 2, '0'), 20) FROM generate_series(1, 2) i;
SELECT dispatch.rider_online(i, 121.437, 31.188) FROM generate_series(1, 2) i;
SQL

# the subscriber: every message, with its topic
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -t 'dispatch/#' -q 1 -v -i gateway-t-sub >"$work/got" 2>"$work/sub.err" &
subpid=$!
sleep 0.5

conninfo="host=${PGHOST:-} port=${PGPORT:-5432} dbname=$db user=$role"
start_gateway() {
	"$here/tools/gateway" --db "$conninfo" --broker 127.0.0.1 --port "$port" --state "$work/state" \
		--client-id gateway-t --batch 50 >>"$work/gateway.log" 2>&1 &
	gwpid=$!
}
start_gateway

# orders, each step its own transaction: 3 phases of 15 orders
workload() {   # first last
	for i in $(seq "$1" "$2"); do
		c=$(( i % 5 + 1 )); r=$(( i % 2 + 1 ))
		cat <<SQL
SELECT dispatch.place_order($c, 1, '[{"item_id": 1, "qty": 1}]', 121.445, 31.196, 'x') AS o \gset
SELECT dispatch.confirm_payment(:o, 'p-' || :o);
SELECT dispatch.merchant_accept(:o);
SELECT dispatch.update_rider_location($r, 121.437, 31.188);
SELECT dispatch.assign_manually(:o, $r, 'test');
SELECT dispatch.mark_picked_up(:o, $r);
SELECT dispatch.mark_delivered(:o, $r);
SQL
	done | psql -X -q -v ON_ERROR_STOP=1 -o /dev/null
}
workload 1 15
ok $? "1 - the first orders go through"

# a small city plays meanwhile (tools/sim, docs/sim.md): orders, payments,
# batches, offers, riders riding, syncs, feedback, over three connections
"$here/tools/sim" --database "$db" --strategy dispatch --quiet --seed 3 --zones 1 --side-km 6 \
	--merchants 12 --customers 300 --riders 40 --peak 10 --from 11:40 --to 12:10 --connections 3 \
	--json "$work/sim.json" >"$work/sim.out" 2>&1 &
wpid=$!

# the gateway is killed mid-run and started again
sleep 1
kill -0 "$wpid" 2>/dev/null; running=$?
kill -9 "$gwpid"
wait "$gwpid" 2>/dev/null
start_gateway
ok $running "2 - the gateway is killed (SIGKILL) while the city plays, and started again"

# its database connection is terminated mid-run
sleep 1.5
kill -0 "$wpid" 2>/dev/null; running=$?
psql -X -q -At -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'dispatch-gateway'" >"$work/terminated"
wait "$wpid"; r=$?
wpid=
[ $running -eq 0 ] && [ $r -eq 0 ]
ok $? "3 - the city plays on while the gateway's connection is terminated, and ends well (its own listener missed nothing)" ||
	sed 's/^/# /' "$work/sim.out"

# wait until the gateway has forwarded the whole outbox
last=$(psql -X -At -c "SELECT max(seq) FROM dispatch.events")
for _ in $(seq 300); do
	[ -s "$work/state" ] && [ "$(cat "$work/state")" -ge "$last" ] && break
	sleep 0.1
done
[ -s "$work/state" ] && [ "$(cat "$work/state")" -ge "$last" ]
ok $? "4 - the state file reaches the last seq of the outbox ($last)"
# connected three times: at the start, after the SIGKILL, after the termination
for _ in $(seq 100); do
	[ "$(grep -c 'connected to the database' "$work/gateway.log")" -ge 3 ] && break
	sleep 0.1
done
[ "$(cat "$work/terminated")" -ge 1 ] && [ "$(grep -c 'connected to the database' "$work/gateway.log")" -ge 3 ] &&
	grep -Eq 'lost the database|events_since failed' "$work/gateway.log"
ok $? "5 - the gateway saw its database connection go, and came back (terminated: $(cat "$work/terminated"))"

sleep 1
kill "$subpid"; wait "$subpid" 2>/dev/null; subpid=

# what arrived, against the outbox
awk '{ i = index($0, " "); printf "%s\t%s\n", substr($0, 1, i - 1), substr($0, i + 1) }' "$work/got" >"$work/got.tsv"
psql -X -q -At -v ON_ERROR_STOP=1 >"$work/check" 2>&1 <<SQL
CREATE TEMP TABLE got (n serial, topic text, payload jsonb);
\copy got (topic, payload) FROM '$work/got.tsv'
-- each event, on each of its topics
CREATE TEMP TABLE expected AS
SELECT seq, 'dispatch/customer/' || customer_id AS topic FROM dispatch.events WHERE customer_id IS NOT NULL
UNION ALL
SELECT seq, 'dispatch/rider/' || rider_id FROM dispatch.events WHERE rider_id IS NOT NULL
UNION ALL
SELECT seq, 'dispatch/zone/' || zone_id FROM dispatch.events WHERE customer_id IS NULL AND rider_id IS NULL;
SELECT 'missing', count(*) FROM expected x
 WHERE NOT EXISTS (SELECT FROM got g WHERE g.topic = x.topic AND (g.payload ->> 'seq')::bigint = x.seq);
SELECT 'expected', count(*) FROM expected;
SELECT 'strangers', count(*) FROM got g
 WHERE NOT EXISTS (SELECT FROM expected x WHERE g.topic = x.topic AND (g.payload ->> 'seq')::bigint = x.seq);
-- per order, on its customer's topic: the first arrival of each version
-- comes after the first arrival of the version before
SELECT 'out_of_order', count(*) FROM (
	SELECT payload ->> 'order' AS o, (payload ->> 'version')::int AS v, min(n) AS first
	  FROM got WHERE topic LIKE 'dispatch/customer/%' AND payload ->> 'kind' = 'order_status'
	 GROUP BY 1, 2) a
 JOIN (SELECT payload ->> 'order' AS o, (payload ->> 'version')::int AS v, min(n) AS first
	     FROM got WHERE topic LIKE 'dispatch/customer/%' AND payload ->> 'kind' = 'order_status'
	    GROUP BY 1, 2) b ON a.o = b.o AND b.v = a.v + 1
 WHERE b.first < a.first;
SELECT 'personal', count(*) FROM got
 WHERE payload::text ~ '13[89]000000|\\+86 13[67] |Customer [0-9]|Rider [0-9]|Building [0-9]';
SQL
get() { awk -F'|' -v k="$1" '$1 == k { print $2 }' "$work/check"; }
[ "$(get missing)" = 0 ] && [ "$(get expected)" -gt 300 ]
ok $? "6 - every event reached the subscriber on each of its topics (missing $(get missing) of $(get expected))"
[ "$(get strangers)" = 0 ] && [ "$(get out_of_order)" = 0 ]
ok $? "7 - nothing else arrived, and each order's versions arrived in order (out of order: $(get out_of_order))"
[ "$(get personal)" = 0 ]
ok $? "8 - no message carries personal data"
if [ "$(get missing)" != 0 ] || [ "$(get strangers)" != 0 ] || [ "$(get out_of_order)" != 0 ]; then
	sed 's/^/# /' "$work/check" | head -20
	tail -20 "$work/gateway.log" | sed 's/^/# gateway: /'
fi

# A backlog of 3000 messages, far more than the 100 the broker may have in
# flight, caught up by one run: the gateway waits for acknowledgements as
# long as they keep coming, and gives the broker up only after a minute
# without one
kill "$gwpid"; wait "$gwpid" 2>/dev/null; gwpid=
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -t 'dispatch/#' -q 1 -v -i gateway-t-sub2 >"$work/got2" 2>>"$work/sub.err" &
subpid=$!
sleep 0.5
psql -X -q -v ON_ERROR_STOP=1 -o /dev/null \
	-c "SELECT count(dispatch._emit_event(1, 'backlog', NULL, 1 + i % 5, 1 + i % 2, jsonb_build_object('n', i))) FROM generate_series(1, 1500) i"
last=$(psql -X -At -c "SELECT max(seq) FROM dispatch.events")
start=$(date +%s)
timeout 60 "$here/tools/gateway" --db "$conninfo" --broker 127.0.0.1 --port "$port" --state "$work/state" \
	--client-id gateway-t-once --once >"$work/once.log" 2>&1
rc=$?
[ $rc -eq 0 ] && [ "$(cat "$work/state")" = "$last" ]
r=$?
ok $r "9 - a backlog of 1500 events (3000 messages) is caught up by one run with --once (exit $rc, $(( $(date +%s) - start )) s), the state file at its last seq"
[ $r -eq 0 ] || tail -5 "$work/once.log" | sed 's/^/# gateway: /'
for _ in $(seq 100); do
	[ "$(grep '"kind": "backlog"' "$work/got2" | sort -u | wc -l)" -ge 3000 ] && break
	sleep 0.1
done
got=$(grep '"kind": "backlog"' "$work/got2" | sort -u | wc -l)
[ "$got" = 3000 ]
ok $? "10 - each of its 3000 messages reached the subscriber ($got)"
kill "$subpid"; wait "$subpid" 2>/dev/null; subpid=
