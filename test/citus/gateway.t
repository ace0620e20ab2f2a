#!/usr/bin/env bash
# test/citus/gateway.t: the reference gateway (tools/gateway) on the Citus
# cluster of `tools/pgdev citus`, after test/citus/10_distribute.sql has
# distributed the tables.  Nothing notifies on the coordinator (the
# workers' relays notify their own listeners: test/citus/relay.t): one
# gateway per zone, against the coordinator, polls events_since for its
# zone (--zone, --poll) and keeps that zone's cursor; beside them one
# gateway of both zones (--zone A,B, topic prefix "multi") keeps a cursor
# for each.  Two zones on the two workers; orders go through their whole
# life in each; one single-zone gateway and the gateway of both zones are
# killed (SIGKILL) mid-run and started again.  Then every event of each
# zone must have reached a subscriber of the broker (Debian's mosquitto)
# through both kinds, and each order's status events in the order of their
# versions.
set -uo pipefail
: "${PGDEV_WORKER_PORTS:?run through tools/pgdev citus}"
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
cleanup() {
	for p in "${gwa:-}" "${gwb:-}" "${gwm:-}" "${subpid:-}" "${msubpid:-}" "${mqpid:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
. "$here/test/lib/broker.sh"
gateway_test_needs "$here"
echo "1..9"
. "$here/test/lib/tap.sh"

start_broker
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -t 'dispatch/#' -q 1 -v -i citus-gw-sub >"$work/got" 2>"$work/sub.err" &
subpid=$!
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -t 'multi/#' -q 1 -v -i citus-gw-msub >"$work/mgot" 2>"$work/msub.err" &
msubpid=$!
sleep 0.5

# two zones, one on each worker, each with a merchant, an item and a rider
za="" zb=""
for i in 0 1 2 3 4 5 6 7; do
	z=$(q "SELECT dispatch.create_zone('gateway$i', ST_MakeEnvelope(90 + $i, 30.0, 90.1 + $i, 30.1, 4326))")
	if [ -z "$za" ]; then za=$z; elif [ -z "$zb" ] && [ "$(port_of "$z")" != "$(port_of "$za")" ]; then zb=$z; fi
done
declare -A shop dish rider lon
for z in "$za" "$zb"; do
	lon[$z]=$(q "SELECT ST_XMin(area) + 0.05 FROM dispatch.zones WHERE zone_id = $z")
	shop[$z]=$(q "SELECT dispatch.create_merchant($z, 'shop', ${lon[$z]}, 30.05, 10)")
	dish[$z]=$(q "SELECT dispatch.add_item(${shop[$z]}, 'dish', 1500)")
	rider[$z]=$(q "SELECT dispatch.register_rider($z, 'r', '+861390077$z', 20)")
	q "SELECT dispatch.rider_online(${rider[$z]}, ${lon[$z]}, 30.05)" >/dev/null
done
customer=$(q "SELECT dispatch.register_customer('+8613800770001', NULL)")

gateway() {   # zone -> pid
	"$here/tools/gateway" --broker 127.0.0.1 --port "$port" --state "$work/state.$1" --zone "$1" \
		--poll 100 --batch 7 --client-id "citus-gw-$1" >>"$work/gateway.$1.log" 2>&1 &
	echo $!
}
gwa=$(gateway "$za")
gwb=$(gateway "$zb")
multi() {   # -> pid: one gateway of both zones, a cursor each
	"$here/tools/gateway" --broker 127.0.0.1 --port "$port" --state "$work/state.multi" --zone "$za,$zb" \
		--prefix multi --poll 100 --batch 7 --client-id citus-gw-multi >>"$work/gateway.multi.log" 2>&1 &
	echo $!
}
gwm=$(multi)

life() {   # zone count: orders of the zone through their whole life, a transaction per call
	local z=$1 r=${rider[$1]}
	for _ in $(seq "$2"); do
		cat <<SQL
SELECT dispatch.place_order($customer, ${shop[$z]}, '[{"item_id": ${dish[$z]}, "qty": 1}]', ${lon[$z]}, 30.06, 'x') AS o \gset
SELECT dispatch.confirm_payment(:o, 'p-' || :o);
SELECT dispatch.merchant_accept(:o);
SELECT dispatch.update_rider_location($r, ${lon[$z]}, 30.05);
SELECT dispatch.assign_manually(:o, $r, 'test');
SELECT dispatch.mark_picked_up(:o, $r);
SELECT dispatch.mark_delivered(:o, $r);
SQL
	done | psql -X -q -v ON_ERROR_STOP=1 -o /dev/null
}
life "$za" 3 && life "$zb" 3
ok $? "orders go through their whole life in zones $za and $zb (on two workers)"
# (a few polls first, so that the killed gateway has saved a cursor)
for _ in $(seq 50); do [ -s "$work/state.$za" ] && break; sleep 0.1; done
for _ in $(seq 50); do [ "$(awk '$2 > 0' "$work/state.multi" 2>/dev/null | wc -l)" = 2 ] && break; sleep 0.1; done
kill -9 "$gwa" "$gwm"
wait "$gwa" "$gwm" 2>/dev/null
cp "$work/state.multi" "$work/state.multi.killed"
life "$za" 3 && life "$zb" 3
gwa=$(gateway "$za")
gwm=$(multi)
life "$za" 2 && life "$zb" 2
ok $? "more orders, while zone $za's gateway and the gateway of both zones are killed (SIGKILL) and started again"

# what each zone's outbox holds, as "zone seq" lines
for z in "$za" "$zb"; do q "SELECT $z || ' ' || seq FROM dispatch.events_since(0, 100000, $z)"; done | sort -u >"$work/want"
# every event reaches the subscriber (at least once), within 20 s
check() {   # [file of messages]
	python3 - "${1:-$work/got}" "$work/want" <<'PY'
import json, sys
got = set()
for line in open(sys.argv[1]):
    topic, _, body = line.rstrip("\n").partition(" ")
    try:
        e = json.loads(body)
    except ValueError:
        continue
    got.add("%s %s" % (e["zone"], e["seq"]))
want = set(l.strip() for l in open(sys.argv[2]) if l.strip())
sys.exit(0 if want <= got else 1)
PY
}
for _ in $(seq 200); do check && break; sleep 0.1; done
check
ok $? "every event of both zones ($(wc -l <"$work/want") in all) reached the subscriber"
python3 - "$work/got" <<'PY'
import json, sys
seen = {}
for line in open(sys.argv[1]):
    topic, _, body = line.rstrip("\n").partition(" ")
    if "/customer/" not in topic:
        continue
    e = json.loads(body)
    if e.get("kind") != "order_status":
        continue
    v = seen.setdefault(e["order"], [])
    if e["version"] not in v:
        v.append(e["version"])
bad = [o for o, v in seen.items() if v != sorted(v) or v != list(range(1, len(v) + 1))]
sys.exit(1 if bad or len(seen) != 16 else 0)
PY
ok $? "each of the 16 orders' status events came in the order of their versions, none missing"
[ "$(cat "$work/state.$za")" = "$(q "SELECT max(seq) FROM dispatch.events_since(0, 100000, $za)")" ]
ok $? "zone $za's state file holds the zone's last event"
grep -q "starting after seq [1-9][0-9]* of zone $za" "$work/gateway.$za.log"
ok $? "the restarted gateway caught up from its saved cursor"

# the gateway of both zones: every event of each, its two cursors
for _ in $(seq 200); do check "$work/mgot" && break; sleep 0.1; done
check "$work/mgot"
ok $? "the gateway of zones $za and $zb (on two workers) forwarded every event of both"
want_state=$(printf '%s %s\n%s %s' "$za" "$(q "SELECT max(seq) FROM dispatch.events_since(0, 100000, $za)")" \
	"$zb" "$(q "SELECT max(seq) FROM dispatch.events_since(0, 100000, $zb)")")
for _ in $(seq 50); do [ "$(cat "$work/state.multi")" = "$want_state" ] && break; sleep 0.1; done
[ "$(cat "$work/state.multi")" = "$want_state" ]
ok $? "its state file holds each zone's last event, a line per zone" ||
	{ sed 's/^/# state: /' "$work/state.multi"; echo "$want_state" | sed 's/^/# want: /'; }
killed_a=$(awk -v z="$za" '$1 == z { print $2 }' "$work/state.multi.killed")
killed_b=$(awk -v z="$zb" '$1 == z { print $2 }' "$work/state.multi.killed")
[ "${killed_a:-0}" -gt 0 ] && [ "${killed_b:-0}" -gt 0 ] &&
	grep -q "starting after seq $killed_a of zone $za " "$work/gateway.multi.log" &&
	grep -q "starting after seq $killed_b of zone $zb " "$work/gateway.multi.log"
ok $? "restarted after the SIGKILL, it caught up from both cursors it had saved ($za: ${killed_a:-none}, $zb: ${killed_b:-none})"
