#!/usr/bin/env bash
# test/citus/relay.t: notifications on the Citus cluster of `tools/pgdev
# citus`, after test/citus/10_distribute.sql has distributed the tables.
# Each worker's relay serves the shards of the outbox that the worker holds
# and notifies that worker's listeners (src/relay.c, docs/citus.md).  Two
# zones on the two workers; a listener on each worker and one on the
# coordinator; orders go through their whole life in both zones (calls sent
# to the worker whole, and one order in a transaction that also writes a
# reference table, so that the worker commits it in two phases).  Each
# worker's listener must get exactly its zone's new events, once each, in
# the order of their numbers, and nothing of the other zone; the
# coordinator's nothing.  Then the relay of one worker is terminated while
# orders go on: the postmaster starts it again and it sends what was
# committed meanwhile, from its stored position; and one away while its
# worker's base is raised (prepare_move) sends what its worker numbered
# below the new base.  Last, the query of
# docs/citus.md lists a worker's zones, and a gateway of two zones of one
# worker (--zone A,C), connected to that worker with a poll of a minute,
# forwards a new order's events of each zone within seconds: it was woken
# by the worker's relay, whose notifications name their zone.
set -uo pipefail
: "${PGDEV_WORKER_PORTS:?run through tools/pgdev citus}"
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
cleanup() {
	for p in "${l1:-}" "${l2:-}" "${lc:-}" "${gw:-}" "${subpid:-}" "${mqpid:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
[ -x "$here/tools/listen" ] || { echo "1..0 # SKIP tools/listen is not built (make)"; exit 0; }
. "$here/test/lib/broker.sh"
gateway_test_needs "$here"
echo "1..11"
. "$here/test/lib/tap.sh"
read -r w1 w2 <<<"$PGDEV_WORKER_PORTS"

# each worker's relay ready, the coordinator's not (it holds no shard)
relays() { qp "$1" "SELECT count(*) FILTER (WHERE ready) FROM dispatch.relay_status() WHERE database = current_database() AND pid IS NOT NULL"; }
for _ in $(seq 100); do [ "$(relays "$w1")$(relays "$w2")" = 11 ] && break; sleep 0.1; done
[ "$(relays "$w1")$(relays "$w2")$(relays "$PGPORT")" = 110 ]
ok $? "each worker's relay is ready, the coordinator's is not"

# two zones, one on each worker, each with a merchant, an item and a rider
za="" zb="" zc=""
for i in $(seq 0 15); do
	z=$(q "SELECT dispatch.create_zone('relay$i', ST_MakeEnvelope(100 + $i, 20.0, 100.1 + $i, 20.1, 4326))")
	if [ -z "$za" ]; then za=$z
	elif [ -z "$zb" ] && [ "$(port_of "$z")" != "$(port_of "$za")" ]; then zb=$z
	elif [ -z "$zc" ] && [ "$(port_of "$z")" = "$(port_of "$za")" ]; then zc=$z; fi
	[ -n "$zb" ] && [ -n "$zc" ] && break
done
# (zc: a second zone on za's worker, for the gateway of two zones at the end)
declare -A shop dish rider lon port
for z in "$za" "$zb" "$zc"; do
	port[$z]=$(port_of "$z")
	lon[$z]=$(q "SELECT ST_XMin(area) + 0.05 FROM dispatch.zones WHERE zone_id = $z")
	shop[$z]=$(q "SELECT dispatch.create_merchant($z, 'shop', ${lon[$z]}, 20.05, 10)")
	dish[$z]=$(q "SELECT dispatch.add_item(${shop[$z]}, 'dish', 1500)")
	rider[$z]=$(q "SELECT dispatch.register_rider($z, 'r', '+861390099$z', 20)")
	q "SELECT dispatch.rider_online(${rider[$z]}, ${lon[$z]}, 20.05)" >/dev/null
done
customer=$(q "SELECT dispatch.register_customer('+8613800990001', NULL)")
last() { q "SELECT coalesce(max(seq), 0) FROM dispatch.events_since(0, 100000, $1)"; }
declare -A before
for z in "$za" "$zb"; do before[$z]=$(last "$z"); done

await() { local p; for p; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done; }
listen() {   # port file -> pid; returns once the listener listens
	PGPORT=$1 "$here/tools/listen" -t 4 >"$2" 2>"$2.err" &
	echo $!
	for _ in $(seq 50); do grep -q listening "$2.err" && break; sleep 0.1; done
}
l1=$(listen "${port[$za]}" "$work/a")
l2=$(listen "${port[$zb]}" "$work/b")
lc=$(listen "$PGPORT" "$work/c")

life() {   # zone count: orders of the zone through their whole life, a transaction per call
	local z=$1 r=${rider[$1]}
	for _ in $(seq "$2"); do
		cat <<SQL
SELECT dispatch.place_order($customer, ${shop[$z]}, '[{"item_id": ${dish[$z]}, "qty": 1}]', ${lon[$z]}, 20.06, 'x') AS o \gset
SELECT dispatch.confirm_payment(:o, 'p-' || :o);
SELECT dispatch.merchant_accept(:o);
SELECT dispatch.assign_manually(:o, $r, 'test');
SELECT dispatch.mark_picked_up(:o, $r);
SELECT dispatch.mark_delivered(:o, $r);
SQL
	done | psql -X -q -v ON_ERROR_STOP=1 -o /dev/null
}
two_phase() {   # zone: an order placed in a transaction that also writes a reference table
	psql -X -q -v ON_ERROR_STOP=1 -o /dev/null <<SQL
BEGIN;
SELECT dispatch.place_order($customer, ${shop[$1]}, '[{"item_id": ${dish[$1]}, "qty": 1}]', ${lon[$1]}, 20.06, 'x');
UPDATE dispatch.merchants SET is_open = true WHERE merchant_id = ${shop[$1]};
COMMIT;
SQL
}
life "$za" 3 && life "$zb" 3 && two_phase "$za" && two_phase "$zb"
ok $? "orders go through their whole life in zones $za and $zb (on two workers), and one more each in two phases"
await "$l1" "$l2" "$lc"
l1="" l2="" lc=""

# "zone seq" of each notification received, in the order received
got() { sed -nE 's/^\{"seq":([0-9]+),"kind":"[^"]*","zone":([0-9]+).*/\2 \1/p' "$1"; }
want() { q "SELECT $1 || ' ' || seq FROM dispatch.events_since($2, 100000, $1)"; }
got "$work/a" | grep "^$za " >"$work/a.za"
want "$za" "${before[$za]}" >"$work/want.za"
[ -s "$work/want.za" ] && cmp -s "$work/a.za" "$work/want.za" || { diff "$work/a.za" "$work/want.za" | sed 's/^/# /'; false; }
ok $? "the listener on zone $za's worker got each of its $(wc -l <"$work/want.za") new events once, in order"
got "$work/b" | grep "^$zb " >"$work/b.zb"
want "$zb" "${before[$zb]}" >"$work/want.zb"
[ -s "$work/want.zb" ] && cmp -s "$work/b.zb" "$work/want.zb" || { diff "$work/b.zb" "$work/want.zb" | sed 's/^/# /'; false; }
ok $? "the listener on zone $zb's worker got each of its $(wc -l <"$work/want.zb") new events once, in order"
! got "$work/a" | grep -q "^$zb " && ! got "$work/b" | grep -q "^$za " && [ ! -s "$work/c" ]
ok $? "no listener got the other worker's events; the coordinator's got none"
two_phase_seq=$(q "SELECT seq FROM dispatch.events_since(${before[$za]}, 100000, $za) ORDER BY seq DESC LIMIT 1")
grep -q "^$za $two_phase_seq\$" "$work/a.za"
ok $? "the order committed in two phases was notified too"

# the relay of zone za's worker terminated while orders go on
before[$za]=$(last "$za")
l1=$(listen "${port[$za]}" "$work/a2")
old=$(qp "${port[$za]}" "SELECT pid FROM dispatch.relay_status() WHERE database = current_database()")
qp "${port[$za]}" "SELECT pg_terminate_backend($old)" >/dev/null
life "$za" 2
for _ in $(seq 100); do
	new=$(qp "${port[$za]}" "SELECT pid FROM dispatch.relay_status() WHERE database = current_database() AND ready")
	[ -n "$new" ] && [ "$new" != "$old" ] && break
	sleep 0.1
done
await "$l1"
l1=""
got "$work/a2" | grep "^$za " >"$work/a2.za"
want "$za" "${before[$za]}" >"$work/want2.za"
[ -n "$new" ] && [ "$new" != "$old" ] && [ -s "$work/want2.za" ] && cmp -s "$work/a2.za" "$work/want2.za" ||
	{ echo "# relay $old -> ${new:-none}; received / wanted:"; diff "$work/a2.za" "$work/want2.za" | sed 's/^/# /'
	  q "SELECT seq, relay, kind FROM dispatch.events WHERE zone_id = $za AND seq > ${before[$za]} ORDER BY seq" | sed 's/^/# /'
	  qp "${port[$za]}" "SELECT * FROM dispatch.relay_status()" | sed 's/^/# /'; cat "$work/a2" | sed 's/^/# /'; false; }
ok $? "a relay terminated mid-run is started again and sends the $(wc -l <"$work/want2.za") events committed meanwhile, once each, in order"

# a relay away across a raise of its worker's base (prepare_move) sends
# the events its worker numbered with the old base: a session on the
# worker holds relay_position locked while an order commits (the relay
# cannot move its position, nor send, as that would commit it), the relay
# is terminated, and its successor, held at attaching, finds the base
# raised under its stored position; once the lock goes, every event of
# the order is notified, once, in order
wa=${port[$za]}
before[$za]=$(last "$za")
PGPORT=$wa "$here/tools/listen" -t 30 >"$work/a4" 2>"$work/a4.err" &
l1=$!
for _ in $(seq 50); do grep -q listening "$work/a4.err" && break; sleep 0.1; done
PGPORT=$wa psql -X -q -o /dev/null -c "BEGIN" -c "LOCK TABLE dispatch.relay_position IN ACCESS EXCLUSIVE MODE" \
	-c "SELECT pg_sleep(8)" -c "COMMIT" &
locker=$!
for _ in $(seq 50); do
	[ "$(qp "$wa" "SELECT count(*) FROM pg_locks WHERE relation = 'dispatch.relay_position'::regclass
	                  AND mode = 'AccessExclusiveLock' AND granted")" = 1 ] && break
	sleep 0.1
done
life "$za" 1
old=$(qp "$wa" "SELECT pid FROM dispatch.relay_status() WHERE database = current_database()")
qp "$wa" "SELECT pg_terminate_backend($old)" >/dev/null
held=""
for _ in $(seq 50); do
	held=$(qp "$wa" "SELECT a.pid FROM dispatch.relay_status() r JOIN pg_stat_activity a USING (pid)
	                 WHERE r.database = current_database() AND a.pid <> $old AND a.wait_event_type = 'Lock'")
	[ -n "$held" ] && break
	sleep 0.1
done
raised=$(q "SELECT dispatch.prepare_move('localhost', $wa)" 2>&1)
sent_early=$(wc -l <"$work/a4")
wait "$locker"
want "$za" "${before[$za]}" >"$work/want4.za"
for _ in $(seq 100); do [ "$(got "$work/a4" | grep -c "^$za ")" -ge "$(wc -l <"$work/want4.za")" ] && break; sleep 0.1; done
sleep 0.5   # (a second sending would come within it)
kill "$l1" 2>/dev/null
await "$l1"
l1=""
got "$work/a4" | grep "^$za " >"$work/a4.za"
[ -n "$held" ] && [ "$sent_early" = 0 ] && [ "$raised" -gt 0 ] 2>/dev/null && [ -s "$work/want4.za" ] &&
	[ "$(tail -1 "$work/want4.za" | cut -d' ' -f2)" -lt "$((raised << 20))" ] && cmp -s "$work/a4.za" "$work/want4.za" ||
	{ echo "# held relay ${held:-none}, notified before the lock went: $sent_early, base ${raised}; received / wanted:"
	  diff "$work/a4.za" "$work/want4.za" | sed 's/^/# /'; false; }
ok $? "a relay away while its worker's base was raised (to $raised) sends the $(wc -l <"$work/want4.za") events numbered below it, once each, in order"

# the query of docs/citus.md that gives each worker's zones as a --zone list
list=$(q "WITH z AS MATERIALIZED (SELECT zone_id FROM dispatch.zones)
SELECT n.nodeport || ' ' || string_agg(z.zone_id::text, ',' ORDER BY z.zone_id)
  FROM z JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('dispatch.orders', z.zone_id)
  JOIN pg_dist_node n USING (groupid)
 GROUP BY n.nodename, n.nodeport" | awk -v p="${port[$za]}" '$1 == p { print $2 }')
[[ ",$list," == *",$za,"* && ",$list," == *",$zc,"* && ",$list," != *",$zb,"* ]]
ok $? "the documented query lists zones $za and $zc for their worker, and not zone $zb (${list:-nothing})"

# a gateway of zones za and zc (both on za's worker) connected to that
# worker, polling once a minute only
start_broker
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -t 'dispatch/#' -q 1 -v -i citus-relay-sub >"$work/sub" 2>"$work/sub.err" &
subpid=$!
sleep 0.5
PGPORT=${port[$za]} "$here/tools/gateway" --broker 127.0.0.1 --port "$port" --state "$work/state" --zone "$za,$zc" \
	--poll 60000 --client-id citus-relay-gw >"$work/gateway.log" 2>&1 &
gw=$!
# (it has caught up with both zones' events so far before the new orders)
before[$za]=$(last "$za")
before[$zc]=$(last "$zc")
for _ in $(seq 100); do [ "$(cat "$work/state" 2>/dev/null)" = "$(printf '%s %s\n%s %s' "$za" "${before[$za]}" "$zc" "${before[$zc]}")" ] && break; sleep 0.1; done
life "$zc" 1 && life "$za" 1
{ want "$za" "${before[$za]}"; want "$zc" "${before[$zc]}"; } >"$work/want3.za"
forwarded() {   # every wanted event reached the subscriber
	python3 - "$work/sub" "$work/want3.za" <<'PY'
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
sys.exit(0 if want and want <= got else 1)
PY
}
for _ in $(seq 50); do forwarded && break; sleep 0.1; done
forwarded
ok $? "a gateway of zones $za and $zc on their worker, polling once a minute, forwarded the new orders' $(wc -l <"$work/want3.za") events within 5 s"
[ "$(cat "$work/state")" = "$(printf '%s %s\n%s %s' "$za" "$(last "$za")" "$zc" "$(last "$zc")")" ]
ok $? "its state file holds each zone's last event" || sed 's/^/# state: /' "$work/state"
