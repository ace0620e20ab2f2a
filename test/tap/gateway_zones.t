#!/usr/bin/env bash
# test/tap/gateway_zones.t: the reference gateway (tools/gateway) with a
# list of zones, --zone A,B: one cursor per zone, against a real broker
# (Debian's mosquitto).  Three zones A, B and C; orders go through their
# whole life in each.  The gateway must forward exactly the events of A and
# B (each on each of its topics), none of C's, each zone's in the order of
# its numbers, woken by notifications (its --poll is a minute), and keep
# both cursors in its state file ("zone seq" lines).  Stopped with SIGTERM,
# it resumes from each zone's cursor without sending anything twice; a
# backlog of A does not hold up B (a batch of each zone per round); killed
# with SIGKILL mid-run and started again, it misses nothing and sends
# nothing again at or below the cursors it had saved (at least once: only
# the batch in flight may come twice).  Bad lists and state files exit 2,
# and so does a list naming a zone the database does not have.
# Runs in a database of its own.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
db=dispatch_gateway_zones_t
role=dispatch_gateway_zones_t
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

echo "1..13"
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "$1"; }

# 1-2: bad lists and state files exit 2 with a message, before connecting
bad=0
for z in "" "3,,7" "3," ",3" "3,x" "x" "-3" "3,7,3"; do
	"$here/tools/gateway" --zone "$z" --state "$work/none" --once >/dev/null 2>"$work/err"; r=$?
	[ $r = 2 ] && grep -q -- '--zone' "$work/err" || { bad=1; echo "# --zone '$z': exit $r: $(cat "$work/err")"; }
done
ok $bad "a list with an empty item, a non-number or a zone twice exits 2, naming --zone"
bad=0
state_case() {   # zones file-content: must exit 2, naming the state file
	printf '%b' "$2" >"$work/bad.state"
	"$here/tools/gateway" ${1:+--zone "$1"} --state "$work/bad.state" --once >/dev/null 2>"$work/err"; r=$?
	[ $r = 2 ] && grep -q 'state file' "$work/err" || { bad=1; echo "# --zone '$1', state '$2': exit $r: $(cat "$work/err")"; }
}
state_case 3,7 '120\n'              # a bare seq: whose?
state_case 3,7 '3 120\n9 5\n'       # zone 9 not listed
state_case 3 '9 5\n'
state_case 3,7 '3 120\n3 130\n'     # a zone twice
state_case 3,7 '3 x\n'
state_case 3,7 ''
state_case '' '3 120\n'             # zone lines without --zone
ok $bad "a state file that names a zone not listed, a zone twice, a bare seq for two zones or no seq exits 2"

start_broker
gateway_test_db "$db" "$role"

# three zones, each with a merchant, an item and a rider
declare -A shop dish rider lon
zones=()
for i in 0 1 2; do
	z=$(q "SELECT dispatch.create_zone('zones$i', ST_MakeEnvelope(110 + $i, 30.0, 110.1 + $i, 30.1, 4326))")
	zones+=("$z")
	lon[$z]=$((110 + i)).05
	shop[$z]=$(q "SELECT dispatch.create_merchant($z, 'shop', ${lon[$z]}, 30.05, 10)")
	dish[$z]=$(q "SELECT dispatch.add_item(${shop[$z]}, 'dish', 1500)")
	rider[$z]=$(q "SELECT dispatch.register_rider($z, 'r', '+86139005500$i', 20)")
	q "SELECT dispatch.rider_online(${rider[$z]}, ${lon[$z]}, 30.05)" >/dev/null
done
za=${zones[0]} zb=${zones[1]} zc=${zones[2]}
customer=$(q "SELECT dispatch.register_customer('+8613800550001', NULL)")

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

# the subscriber: every message, with its topic
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -t 'dispatch/#' -q 1 -v -i gateway-zones-sub >"$work/got" 2>"$work/sub.err" &
subpid=$!
sleep 0.5

conninfo="host=${PGHOST:-} port=${PGPORT:-5432} dbname=$db user=$role"
# zone A first in the list: a gateway that read a zone to its end before the
# next would send A's backlog before any of B
start_gateway() {
	"$here/tools/gateway" --db "$conninfo" --broker 127.0.0.1 --port "$port" --state "$work/state" \
		--zone "$za,$zb" --poll 60000 --batch 5 --client-id gateway-zones-t >>"$work/gateway.log" 2>&1 &
	gwpid=$!
}
# what the state file must hold once the gateway has caught up
want_state() { printf '%s %s\n%s %s\n' "$za" "$(last "$za")" "$zb" "$(last "$zb")"; }
last() { q "SELECT coalesce(max(seq), 0) FROM dispatch.events WHERE zone_id = $1"; }
caught_up() {   # seconds
	local want
	want=$(want_state)
	for _ in $(seq $(($1 * 10))); do [ "$(cat "$work/state" 2>/dev/null)" = "$want" ] && return 0; sleep 0.1; done
	return 1
}

# what arrived, as SQL over the outbox: run after each phase
check() {
	awk '{ i = index($0, " "); printf "%s\t%s\n", substr($0, 1, i - 1), substr($0, i + 1) }' "$work/got" >"$work/got.tsv"
	psql -X -q -At -v ON_ERROR_STOP=1 >"$work/check" 2>&1 <<SQL
CREATE TEMP TABLE got (n serial, topic text, payload jsonb);
\copy got (topic, payload) FROM '$work/got.tsv'
CREATE TEMP TABLE expected AS
SELECT seq, zone_id, 'dispatch/customer/' || customer_id AS topic FROM dispatch.events WHERE customer_id IS NOT NULL
UNION ALL
SELECT seq, zone_id, 'dispatch/rider/' || rider_id FROM dispatch.events WHERE rider_id IS NOT NULL
UNION ALL
SELECT seq, zone_id, 'dispatch/zone/' || zone_id FROM dispatch.events WHERE customer_id IS NULL AND rider_id IS NULL;
DELETE FROM expected WHERE zone_id NOT IN ($za, $zb);
SELECT 'expected', count(*) FROM expected;
SELECT 'missing', count(*) FROM expected x
 WHERE NOT EXISTS (SELECT FROM got g WHERE g.topic = x.topic AND (g.payload ->> 'seq')::bigint = x.seq);
SELECT 'strangers', count(*) FROM got g
 WHERE NOT EXISTS (SELECT FROM expected x WHERE g.topic = x.topic AND (g.payload ->> 'seq')::bigint = x.seq);
SELECT 'zone_c', count(*) FROM got WHERE (payload ->> 'zone')::bigint = $zc;
SELECT 'twice', count(*) FROM (SELECT FROM got GROUP BY topic, payload ->> 'seq' HAVING count(*) > 1) d;
-- the same message twice at or below a cursor saved when the gateway was killed
SELECT 'twice_below', count(*) FROM (
	SELECT FROM got
	 WHERE (payload ->> 'seq')::bigint <= CASE (payload ->> 'zone')::bigint WHEN $za THEN ${kill_a:-0} ELSE ${kill_b:-0} END
	 GROUP BY topic, payload ->> 'seq' HAVING count(*) > 1) d;
-- per zone, the first arrivals in the order of the numbers
SELECT 'out_of_order', count(*) FROM (
	SELECT first < lag(first) OVER (PARTITION BY zone ORDER BY seq) AS back
	  FROM (SELECT payload ->> 'zone' AS zone, (payload ->> 'seq')::bigint AS seq, min(n) AS first
	          FROM got GROUP BY 1, 2) f) b
 WHERE back;
-- the backlog phase: where B's last event and A's middle one first arrived
SELECT 'b_last', coalesce(max(first), 0) FROM (SELECT min(n) AS first FROM got
 WHERE (payload ->> 'zone')::bigint = $zb AND (payload ->> 'seq')::bigint > ${backlog_b:-0} GROUP BY payload ->> 'seq') f;
SELECT 'a_middle', coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY first), 0) FROM (SELECT min(n) AS first FROM got
 WHERE (payload ->> 'zone')::bigint = $za AND (payload ->> 'seq')::bigint > ${backlog_a:-0} GROUP BY payload ->> 'seq') f;
SQL
}
get() { awk -F'|' -v k="$1" '$1 == k { print $2 }' "$work/check"; }
show() { sed 's/^/# /' "$work/check" | head -20; tail -20 "$work/gateway.log" | sed 's/^/# gateway: /'; }

# 3-5: the first orders in the three zones, the gateway woken by notifications
start_gateway
sleep 0.5
life "$za" 3 && life "$zc" 3 && life "$zb" 3
caught_up 20
ok $? "the gateway of zones $za and $zb, polling once a minute, is woken and catches up: its state file holds both cursors"
sed 's/^/# state: /' "$work/state"
kill -TERM "$gwpid"; wait "$gwpid"; r=$?; gwpid=
sleep 0.5
check
[ $r = 0 ] && [ "$(get expected)" -gt 30 ] && [ "$(get missing)" = 0 ] && [ "$(get strangers)" = 0 ] && [ "$(get zone_c)" = 0 ]
ok $? "every event of zones $za and $zb reached the subscriber on each of its topics, none of zone $zc (missing $(get missing) of $(get expected))" || show
[ "$(get twice)" = 0 ] && [ "$(get out_of_order)" = 0 ]
ok $? "each once, each zone's in the order of its numbers; SIGTERM stopped it with exit 0 ($r)" || show

# 6-8: a backlog in zone A while it is stopped; started again
backlog_a=$(last "$za") backlog_b=$(last "$zb")
life "$za" 20 && life "$zb" 2 && life "$zc" 2
start_gateway
caught_up 30
ok $? "started again after SIGTERM, it catches up both zones: the state file holds both zones' last events"
sleep 0.5
check
[ "$(get missing)" = 0 ] && [ "$(get strangers)" = 0 ] && [ "$(get twice)" = 0 ] && [ "$(get out_of_order)" = 0 ] &&
	grep -q "starting after seq $backlog_a of zone $za " "$work/gateway.log" &&
	grep -q "starting after seq $backlog_b of zone $zb " "$work/gateway.log"
ok $? "it resumed from each zone's cursor: every new event once, none of the old sent again, in order" || show
[ "$(get b_last)" -gt 0 ] && [ "$(get b_last)" -lt "$(get a_middle)" ]
ok $? "zone $za's backlog did not hold up zone $zb: B's events all arrived before half of A's (message $(get b_last) < $(get a_middle))" || show

# 9-12: killed with SIGKILL while orders go on, started again
cp "$work/state" "$work/state.before"
(life "$za" 30 & life "$zb" 30 & life "$zc" 3 & wait) &
wpid=$!
# (once it has forwarded some of the new events)
t0=$(date +%s%N)
for _ in $(seq 100); do cmp -s "$work/state" "$work/state.before" || break; sleep 0.1; done
moved_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -0 "$wpid" 2>/dev/null; running=$?
kill -9 "$gwpid"; wait "$gwpid" 2>/dev/null; gwpid=
cp "$work/state" "$work/state.killed"
kill_a=$(awk -v z="$za" '$1 == z { print $2 }' "$work/state.killed")
kill_b=$(awk -v z="$zb" '$1 == z { print $2 }' "$work/state.killed")
start_gateway
wait "$wpid"; r=$?; wpid=
[ $running = 0 ] && [ $r = 0 ]
ok $? "the gateway is killed (SIGKILL) while orders go on in the three zones, and started again" ||
	echo "# orders still going on when killed: $([ $running = 0 ] && echo yes || echo no); their run's exit status $r; state file moved after $moved_ms ms"

caught_up 30
ok $? "it catches up both zones after the SIGKILL"
sleep 0.5
check
[ "$(get missing)" = 0 ] && [ "$(get strangers)" = 0 ] && [ "$(get zone_c)" = 0 ] && [ "$(get out_of_order)" = 0 ] &&
	grep -q "starting after seq $kill_a of zone $za " "$work/gateway.log" &&
	grep -q "starting after seq $kill_b of zone $zb " "$work/gateway.log"
ok $? "it resumed from the cursors it had saved: every event of both zones arrived (missing $(get missing) of $(get expected)), none of $zc, in order" || show
[ -n "$kill_a" ] && [ -n "$kill_b" ] && [ "$(get twice_below)" = 0 ]
ok $? "nothing at or below the saved cursors ($za: $kill_a, $zb: $kill_b) was sent twice ($(get twice) messages twice above them)" || show

# 13: a zone of --zone that the database does not have: events_since refuses
# it (DP016), and the gateway exits 2 naming it, instead of reading an empty
# outbox for ever.  Its state file is left alone.
kill -TERM "$gwpid"; wait "$gwpid"; gwpid=
no_zone=$(q "SELECT max(zone_id) + 1000 FROM dispatch.zones")
printf '%s %s\n' "$za" "$(last "$za")" >"$work/state.bad"
cp "$work/state.bad" "$work/state.kept"
timeout 20 "$here/tools/gateway" --db "$conninfo" --broker 127.0.0.1 --port "$port" --state "$work/state.bad" \
	--zone "$no_zone,$za" --poll 60000 --client-id gateway-zones-t-bad >/dev/null 2>"$work/err"; r=$?
[ $r = 2 ] && grep -q -- "--zone lists zone $no_zone, which does not exist" "$work/err" && cmp -s "$work/state.bad" "$work/state.kept"
ok $? "a zone the database does not have ($no_zone) exits 2, naming it, the state file unchanged (exit $r)" || sed 's/^/# /' "$work/err"
