#!/usr/bin/env bash
# test/citus/add_worker.t: a worker added to the Citus cluster of
# `tools/pgdev citus` after test/citus/10_distribute.sql has distributed the
# tables, and a zone's shards moved to it (docs/citus.md, "Adding a
# worker").  A third node is started as the workers are (tools/pgdev node),
# added with citus_add_node and prepared with dispatch.prepare_worker (the
# reference tables copied there, its event numbers above the cluster's, its
# sequences, its analyst views), and the shards of a zone A, which has had
# orders on its worker, are moved there with citus_move_shard_placement.
# Then: the new worker's analyst views read their definer functions and its
# sequences start at its group's ids; the calls of zone A reach the new
# worker; A's orders go on, and a per-zone cursor taken before the move
# (events_since, and a gateway of zone A polling the coordinator) gets each
# of A's new events once, numbered above it; the new worker's relay serves
# the moved shards and its listener gets exactly A's new events, once, in
# order, none of the moved ones again.  Misuse: prepare_worker of a
# worker that holds shards of the outbox and has no base is refused
# (DP914), of a node not in the cluster too (DP915), a second call changes
# nothing (nor one for a worker distribute() placed), and a zone whose rows
# are numbered above its worker's (as a move to a worker not prepared
# leaves them) refuses new events (DP108) rather than number them lower.
# Then zone A moves back to its old worker, prepared by prepare_move (its
# base raised above the new worker's), and its orders and their cursor go
# on there; zone D moved to the new worker unprepared refuses its orders
# (DP108) until prepare_move there, after the fact, and D moves back.
# Then the rebalancer spreads the shard groups over the three workers
# (prepare_move of the new one first) and citus_drain_node empties the new
# worker again (prepare_move of the old ones first): a zone of every group
# goes on through both, its cursor getting each new event once; the
# emptied worker's relay moves its position up to its base, so that given
# a group back after a raise it notifies none of the moved events; the new
# worker, emptied again, leaves the cluster (citus_remove_node).
# test/citus/run runs this script last, and the cluster's exit stops the
# node.
set -uo pipefail
: "${PGDEV_WORKER_PORTS:?run through tools/pgdev citus}"
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
cleanup() {
	for p in "${l3:-}" "${lg:-}" "${gw:-}" "${subpid:-}" "${mqpid:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
[ -x "$here/tools/listen" ] || { echo "1..0 # SKIP tools/listen is not built (make)"; exit 0; }
. "$here/test/lib/broker.sh"
gateway_test_needs "$here"
echo "1..22"
. "$here/test/lib/tap.sh"
# citus_move_shard_placement of a zone's shard group.  Moving a group
# back to a node it left first drops the placements orphaned there, and at
# times Citus cannot yet ("could not be cleaned up"): the move is then
# tried again, up to five times, a second apart.
move() {   # zone from to
	local i err
	for i in 1 2 3 4 5; do
		err=$(q "SELECT citus_move_shard_placement(get_shard_id_for_distribution_column('dispatch.orders', $1),
		                                           'localhost', $2, 'localhost', $3, shard_transfer_mode := 'block_writes')" 2>&1 >/dev/null) &&
			return 0
		case "$err" in
			*"could not be cleaned up"*) sleep 1 ;;
			*) echo "$err" >&2; return 1 ;;
		esac
	done
	echo "$err" >&2
	return 1
}
started=$(date +%s)
step() { echo "# $1: $(($(date +%s) - started)) s"; }

# zone A (and a second zone D beside it) on an old worker
za=$(q "SELECT dispatch.create_zone('grow0', ST_MakeEnvelope(60.0, 20.0, 60.1, 20.1, 4326))")
wa=$(port_of "$za")
zd=""
for i in $(seq 1 15); do
	z=$(q "SELECT dispatch.create_zone('grow$i', ST_MakeEnvelope(60 + $i, 20.0, 60.1 + $i, 20.1, 4326))")
	if [ "$(port_of "$z")" = "$wa" ] && [ "$(q "SELECT get_shard_id_for_distribution_column('dispatch.orders', $z)
	     <> get_shard_id_for_distribution_column('dispatch.orders', $za)")" = t ]; then zd=$z; break; fi
done
declare -A shop dish rider lon
open_zone() {   # zone: a shop with a dish and a rider online in it (once)
	local z=$1
	[ -n "${shop[$z]:-}" ] && return
	lon[$z]=$(q "SELECT ST_XMin(area) + 0.05 FROM dispatch.zones WHERE zone_id = $z")
	shop[$z]=$(q "SELECT dispatch.create_merchant($z, 'shop', ${lon[$z]}, 20.05, 10)")
	dish[$z]=$(q "SELECT dispatch.add_item(${shop[$z]}, 'dish', 1500)")
	rider[$z]=$(q "SELECT dispatch.register_rider($z, 'r', '+861390055$z', 20)")
	q "SELECT dispatch.rider_online(${rider[$z]}, ${lon[$z]}, 20.05)" >/dev/null
}
open_zone "$za"
open_zone "$zd"
customer=$(q "SELECT dispatch.register_customer('+8613800550001', NULL)")
life() {   # zone count: orders of the zone through their whole life, a transaction per call
	local z=$1 r=${rider[$1]}
	for _ in $(seq "$2"); do
		cat <<SQL
SELECT dispatch.update_rider_location($r, ${lon[$z]}, 20.05);
SELECT dispatch.place_order($customer, ${shop[$z]}, '[{"item_id": ${dish[$z]}, "qty": 1}]', ${lon[$z]}, 20.06, 'x') AS o \gset
SELECT dispatch.confirm_payment(:o, 'p-' || :o);
SELECT dispatch.merchant_accept(:o);
SELECT dispatch.assign_manually(:o, $r, 'test');
SELECT dispatch.mark_picked_up(:o, $r);
SELECT dispatch.mark_delivered(:o, $r);
SQL
	done | psql -X -q -v ON_ERROR_STOP=1 -o /dev/null
}
step "zones"
# zone A's worker some thousands of transactions on (as a worker in use
# is), then orders in A
for _ in $(seq 3000); do echo "SELECT pg_catalog.pg_current_xact_id();"; done | PGPORT=$wa psql -X -q -o /dev/null
life "$za" 2
step "orders before"
seqs() { q "SELECT seq FROM dispatch.events_since($2, 100000, $1)"; }
seqs "$za" 0 >"$work/before"
cursor=$(tail -1 "$work/before")

# a gateway of zone A against the coordinator, polling (it keeps A's
# cursor across the move)
start_broker
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -t 'dispatch/#' -q 1 -v -i citus-grow-sub >"$work/sub" 2>"$work/sub.err" &
subpid=$!
sleep 0.5
"$here/tools/gateway" --broker 127.0.0.1 --port "$port" --state "$work/state" --zone "$za" \
	--poll 100 --client-id citus-grow-gw >"$work/gateway.log" 2>&1 &
gw=$!
# (its state file: the zone's cursor, a bare seq for a gateway of one zone)
for _ in $(seq 100); do [ "$(cat "$work/state" 2>/dev/null)" = "$cursor" ] && break; sleep 0.1; done

# the third node, added by Citus, then prepared by dispatch
step "set-up"
w3=$("$here/tools/pgdev" node worker3) || { echo "Bail out! could not start a third node"; exit 1; }
step "node started"
q "SELECT citus_add_node('localhost', $w3)" >/dev/null
step "citus_add_node"
out=$(q "SELECT dispatch.prepare_worker('localhost', $w3)" 2>&1)
ok $? "dispatch.prepare_worker prepares the node added by citus_add_node (${out:-nothing})"
step "prepare_worker"
base() { qp "$1" "SELECT coalesce((SELECT base FROM dispatch.event_base), 0)" 2>/dev/null; }
b3=$(base "$w3")
again=$(q "SELECT dispatch.prepare_worker('localhost', $w3)" 2>&1)
# an old worker has the base distribute() gave it, below the new one's;
# one that holds shards of the outbox without a base (given shards before
# it was prepared) is refused
ba=$(base "$wa")
olda=$(q "SELECT dispatch.prepare_worker('localhost', $wa)" 2>&1)
qp "$wa" "DELETE FROM dispatch.event_base" >/dev/null
old=$(state "SELECT dispatch.prepare_worker('localhost', $wa)")
qp "$wa" "INSERT INTO dispatch.event_base (base) VALUES ($ba)" >/dev/null
none=$(state "SELECT dispatch.prepare_worker('localhost', 1)")
[ -n "$b3" ] && [ "$b3" = "$out" ] && [ "$again" = "$b3" ] && [ "$(base "$w3")" = "$b3" ] &&
	[ "$ba" -gt 0 ] && [ "$ba" -lt "$b3" ] && [ "$olda" = "$ba" ] && [ "$(base "$wa")" = "$ba" ] &&
	[ "$old" = DP914 ] && [ "$none" = DP915 ]
ok $? "a second call changes nothing (base ${b3:-none}, then ${again:-none}), nor one for an old worker (its base from distribute(), ${ba:-none}, then ${olda:-none}); refused for a worker with shards of the outbox and no base (${old:-no error}) and a node not in the cluster (${none:-no error})"

# the new node's analyst views read their definer functions, as the
# others' do; its sequences start at its group's ids
[ "$(qp "$w3" "SELECT count(*) FROM dispatch._analyst_views() a JOIN pg_proc f ON f.oid = a.reader
               WHERE pg_get_viewdef(a.view_name) !~ ('FROM dispatch\.' || f.proname || '\(\)')")" = 0 ]
ok $? "the new worker's analyst views read their definer functions"
g3=$(qp "$w3" "SELECT groupid FROM pg_dist_local_group")
low=$(qp "$w3" "SELECT count(*) FROM pg_class c
                 WHERE c.relnamespace = 'dispatch'::regnamespace AND c.relkind = 'S'
                   AND (xpath('/row/last_value/text()', query_to_xml(format('SELECT last_value FROM %s', c.oid::regclass),
                                                                  false, true, '')))[1]::text::bigint < ($g3::bigint << 36)")
[ "$low" = 0 ]
ok $? "the new worker's sequences start at its group's ids ($low below $g3 << 36)"

# zone A's shards moved to the new worker
listen() {   # port file -> pid; returns once the listener listens
	PGPORT=$1 "$here/tools/listen" -t 4 >"$2" 2>"$2.err" &
	echo $!
	for _ in $(seq 50); do grep -q listening "$2.err" && break; sleep 0.1; done
}
t=$(date +%s)
move "$za" "$wa" "$w3"
[ "$(port_of "$za")" = "$w3" ]
ok $? "zone $za's shards moved from the worker $wa to the new worker $w3 ($(($(date +%s) - t)) s)"
step "moved"
# the new worker's relay serves the shards from the round that finds them
# (it reads the catalog each round, at most a second apart): an event
# committed before then reaches gateways by their catch-up, not by a
# notification, so the listener starts once the relay is ready
for _ in $(seq 100); do
	[ "$(qp "$w3" "SELECT ready FROM dispatch.relay_status() WHERE database = current_database()")" = t ] && break
	sleep 0.1
done
l3=$(listen "$w3" "$work/l3")

# the calls of zone A reach the new worker
reached() {
	psql -X -q -At -v ON_ERROR_STOP=1 -c "SET citus.log_remote_commands = on" \
		-c "SET client_min_messages = notice" -c "$1" 2>&1 >/dev/null |
		sed -n 's/.*on server [^@]*@[^:]*:\([0-9]*\).*/\1/p' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
p=$(reached "SELECT dispatch.place_order($customer, ${shop[$za]}, '[{\"item_id\": ${dish[$za]}, \"qty\": 1}]', ${lon[$za]}, 20.06, 'x')")
o=$(q "SELECT order_id FROM dispatch.orders WHERE zone_id = $za AND status = 'pending_payment'")
q "SELECT dispatch.confirm_payment($o, 'p-$o'); SELECT dispatch.merchant_accept($o);
   SELECT dispatch.update_rider_location(${rider[$za]}, ${lon[$za]}, 20.05)" >/dev/null
b=$(reached "SELECT * FROM dispatch.assign_batch($za)")
[ "$p" = "$w3" ] && [ "$b" = "$w3" ]
ok $? "place_order and assign_batch of zone $za reach only the new worker (reached: ${p:-none}; ${b:-none})"
offer=$(q "SELECT offer_id FROM dispatch.offers WHERE zone_id = $za AND order_id = $o")
[ -n "$offer" ] && [ $(((offer & ((1 << 40) - 1)) >> 36)) = "$g3" ]
ok $? "the offer the batch made on the new worker has an id of its group ($offer)"
q "SELECT dispatch.respond_offer($offer, true)" >/dev/null
q "SELECT dispatch.mark_picked_up($o, ${rider[$za]}); SELECT dispatch.mark_delivered($o, ${rider[$za]})" >/dev/null

# A's orders go on: a cursor taken before the move gets each new event
life "$za" 2
seqs "$za" 0 >"$work/all"
grep -vxF -f "$work/before" "$work/all" >"$work/new"
seqs "$za" "$cursor" >"$work/after"
[ -s "$work/new" ] && cmp -s "$work/new" "$work/after" ||
	{ echo "# cursor $cursor; new events / read after the cursor:"; diff "$work/new" "$work/after" | sed 's/^/# /'; false; }
ok $? "events_since from the cursor taken before the move ($cursor) returns each of the $(wc -l <"$work/new") new events of zone $za once"
[ "$(head -1 "$work/new")" -gt "$cursor" ] 2>/dev/null
ok $? "they are numbered above it"

# the gateway of zone A forwarded them all
forwarded() {
	python3 - "$work/sub" "$work/new" "$za" <<'PY'
import json, sys
got = []
for line in open(sys.argv[1]):
    topic, _, body = line.rstrip("\n").partition(" ")
    try:
        e = json.loads(body)
    except ValueError:
        continue
    got.append("%s" % e["seq"])
want = [l.strip() for l in open(sys.argv[2]) if l.strip()]
sys.exit(0 if want and set(want) <= set(got) else 1)
PY
}
for _ in $(seq 50); do forwarded && [ "$(cat "$work/state")" = "$(tail -1 "$work/new")" ] && break; sleep 0.1; done
forwarded && [ "$(cat "$work/state")" = "$(tail -1 "$work/new")" ]
ok $? "the gateway of zone $za, polling the coordinator across the move, forwarded each new event; its cursor is the last ($(cat "$work/state"))"

# the new worker's relay serves the moved shards: its listener gets A's new
# events, once each, in order, and none of the moved ones
while kill -0 "$l3" 2>/dev/null; do sleep 0.1; done
l3=""
sed -nE 's/^\{"seq":([0-9]+),"kind":"[^"]*","zone":([0-9]+).*/\1/p' "$work/l3" >"$work/l3.seqs"
ready=$(qp "$w3" "SELECT ready FROM dispatch.relay_status() WHERE database = current_database()")
[ "$ready" = t ] && [ -s "$work/new" ] && cmp -s "$work/l3.seqs" "$work/new" ||
	{ echo "# relay ready: ${ready:-none}; received / wanted:"; diff "$work/l3.seqs" "$work/new" | sed 's/^/# /'; false; }
ok $? "the new worker's relay serves the moved shards: its listener got the $(wc -l <"$work/new") new events of zone $za once each, in order, and no moved one"

# a zone whose rows lie above its worker's numbers (as a move to a worker
# not prepared leaves them: here a row written past the trigger) refuses
# new events, and nothing is written
life "$zd" 1
wd=$(port_of "$zd")
shard=$(q "SELECT shard_name('dispatch.events', get_shard_id_for_distribution_column('dispatch.events', $zd))")
top=$(qp "$wd" "SELECT (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + dispatch._event_base() + 1000000) << 20")
qp "$wd" "SET session_replication_role = replica; INSERT INTO $shard (zone_id, seq, at, kind) VALUES ($zd, $top, now(), 'test')" >/dev/null
orders=$(q "SELECT count(*) FROM dispatch.orders WHERE zone_id = $zd")
got=$(state "SELECT dispatch.place_order($customer, ${shop[$zd]}, '[{\"item_id\": ${dish[$zd]}, \"qty\": 1}]', ${lon[$zd]}, 20.06, 'x')")
[ "$got" = DP108 ] && [ "$(q "SELECT count(*) FROM dispatch.orders WHERE zone_id = $zd")" = "$orders" ]
ok $? "an order of a zone whose events lie above its worker's numbers is refused (${got:-no error}), nothing written"
qp "$wd" "SET session_replication_role = replica; DELETE FROM $shard WHERE zone_id = $zd AND seq = $top" >/dev/null
life "$zd" 1
ok $? "with that row gone, the zone's orders go on"

# zone A back to its old worker, which has numbered events since
# distribute(), below the new worker's: prepare_move raises its base above
# every number of the cluster first (docs/citus.md, "Moving a zone")
life "$za" 1
seqs "$za" 0 >"$work/before2"
cursor2=$(tail -1 "$work/before2")
ba2=$(q "SELECT dispatch.prepare_move('localhost', $wa)" 2>&1)
unprepared=$(qp "$w3" "SELECT base FROM dispatch.event_base")
[ -n "$ba2" ] && [ "$ba2" -gt "$b3" ] 2>/dev/null && [ "$ba2" -gt "$ba" ] && [ "$(base "$wa")" = "$ba2" ] &&
	[ "$unprepared" = "$b3" ]
ok $? "prepare_move raises the old worker's base above the cluster's (${ba:-?} -> ${ba2:-none}; the new worker's ${b3:-?}, unchanged)"
t=$(date +%s)
move "$za" "$w3" "$wa"
[ "$(port_of "$za")" = "$wa" ]
ok $? "zone $za's shards moved back from the new worker to $wa ($(($(date +%s) - t)) s)"
step "moved back"
life "$za" 2
seqs "$za" 0 >"$work/all2"
grep -vxF -f "$work/before2" "$work/all2" >"$work/new2"
seqs "$za" "$cursor2" >"$work/after2"
[ -s "$work/new2" ] && cmp -s "$work/new2" "$work/after2" && [ "$(head -1 "$work/new2")" -gt "$cursor2" ] &&
	[ "$(($(head -1 "$work/new2") >> 20))" -gt "$ba2" ] ||
	{ echo "# cursor $cursor2; new events / read after the cursor:"; diff "$work/new2" "$work/after2" | sed 's/^/# /'; false; }
ok $? "zone $za's orders go on there: events_since from the cursor taken before the move returns each of the $(wc -l <"$work/new2") new events once, numbered above it and the raised base"

# zone D, numbered above the new worker since the raise, moved there
# without prepare_move: its calls are refused (DP108), nothing written,
# until prepare_move of that worker, after the fact; then D moves back
# (prepared again) and the new worker, with no shards left, leaves the
# cluster; A and D go on
life "$zd" 1
wd=$(port_of "$zd")
move "$zd" "$wd" "$w3"
orders=$(q "SELECT count(*) FROM dispatch.orders WHERE zone_id = $zd")
got=$(state "SELECT dispatch.place_order($customer, ${shop[$zd]}, '[{\"item_id\": ${dish[$zd]}, \"qty\": 1}]', ${lon[$zd]}, 20.06, 'x')")
b3b=$(q "SELECT dispatch.prepare_move('localhost', $w3)" 2>&1)
[ "$(port_of "$zd")" = "$w3" ] && [ "$got" = DP108 ] && [ "$(q "SELECT count(*) FROM dispatch.orders WHERE zone_id = $zd")" = "$orders" ] &&
	[ "$b3b" -gt "$ba2" ] 2>/dev/null && life "$zd" 1
ok $? "zone $zd moved to the new worker unprepared refuses its orders (${got:-no error}), nothing written; after prepare_move there (base ${b3b:-none}) they go on"
q "SELECT dispatch.prepare_move('localhost', $wd)" >/dev/null && move "$zd" "$w3" "$wd" && life "$zd" 1 &&
	[ "$(q "SELECT count(*) FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) JOIN pg_dist_shard s USING (shardid)
	    JOIN pg_dist_partition t USING (logicalrelid) WHERE n.nodeport = $w3 AND t.partmethod = 'h'")" = 0 ]
ok $? "zone $zd back on its worker after prepare_move, its orders go on; the new worker holds no shards"
step "D moved back"

# the rebalancer, then a drain (docs/citus.md, "Moving a zone"): a zone of
# every shard group with orders and a cursor; prepare_move of the node
# that receives, citus_rebalance_start spreads the groups over the three
# workers; prepare_move of the two old ones, citus_drain_node empties the
# new one; after each, every zone's orders go on and its cursor gets each
# new event once, numbered above it
declare -A zone_of_shard
for z in $(q "SELECT zone_id FROM dispatch.zones WHERE name LIKE 'grow%' ORDER BY zone_id"); do
	sh=$(q "SELECT get_shard_id_for_distribution_column('dispatch.orders', $z)")
	[ -z "${zone_of_shard[$sh]:-}" ] && zone_of_shard[$sh]=$z
done
for i in $(seq 20 60); do
	[ "${#zone_of_shard[@]}" -ge "$(q "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'dispatch.orders'::regclass")" ] && break
	z=$(q "SELECT dispatch.create_zone('grow$i', ST_MakeEnvelope(60 + $i, 20.0, 60.1 + $i, 20.1, 4326))")
	sh=$(q "SELECT get_shard_id_for_distribution_column('dispatch.orders', $z)")
	[ -z "${zone_of_shard[$sh]:-}" ] && zone_of_shard[$sh]=$z
done
every=$(printf '%s\n' "${zone_of_shard[@]}" | sort -n | tr '\n' ' ')
for z in $every; do open_zone "$z"; done
declare -A cur
mark() { for z in $every; do life "$z" 1; seqs "$z" 0 >"$work/b$z"; cur[$z]=$(tail -1 "$work/b$z"); done; }
went_on() {   # every zone's orders go on, each new event once, above its cursor
	local z bad=""
	for z in $every; do
		life "$z" 1 || { bad="$bad $z(orders)"; continue; }
		seqs "$z" 0 | grep -vxF -f "$work/b$z" >"$work/n$z"
		seqs "$z" "${cur[$z]}" >"$work/a$z"
		{ [ -s "$work/n$z" ] && cmp -s "$work/n$z" "$work/a$z" && [ "$(head -1 "$work/n$z")" -gt "${cur[$z]}" ]; } ||
			bad="$bad $z"
	done
	[ -z "$bad" ] || { echo "# zones whose orders or events did not go on:$bad"; false; }
}
nodes_of_groups() { q "SELECT string_agg(n.nodeport || ':' || c, ' ' ORDER BY n.nodeport) FROM (
	SELECT groupid, count(*) AS c FROM pg_dist_placement p JOIN pg_dist_shard s USING (shardid)
	 WHERE s.logicalrelid = 'dispatch.orders'::regclass GROUP BY groupid) g JOIN pg_dist_node n USING (groupid)"; }
mark
step "zones of every group"
t=$(date +%s)
q "SELECT dispatch.prepare_move('localhost', $w3)" >/dev/null &&
	q "SELECT citus_rebalance_start(shard_transfer_mode := 'block_writes')" >/dev/null &&
	q "SELECT citus_rebalance_wait()" >/dev/null
spread=$(nodes_of_groups)
printf '%s\n' "$spread" | grep -q "$w3:" && went_on
ok $? "citus_rebalance_start after prepare_move of the new worker moves shard groups there (shards of orders per worker: $spread; $(($(date +%s) - t)) s), and the orders of a zone of each group go on, its cursor getting each new event once"
step "rebalanced"
mark
wb=$(printf '%s\n' $PGDEV_WORKER_PORTS | grep -vx "$wa" | head -1)
t=$(date +%s)
q "SELECT dispatch.prepare_move('localhost', $wa)" >/dev/null &&
	q "SELECT dispatch.prepare_move('localhost', $wb)" >/dev/null &&
	q "SELECT citus_drain_node('localhost', $w3, shard_transfer_mode := 'block_writes')" >/dev/null
drained=$(nodes_of_groups)
[ "$(q "SELECT count(*) FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) JOIN pg_dist_shard s USING (shardid)
	    JOIN pg_dist_partition t USING (logicalrelid) WHERE n.nodeport = $w3 AND t.partmethod = 'h'")" = 0 ] && went_on
ok $? "citus_drain_node after prepare_move of the old workers empties the new one (shards of orders per worker: $drained; $(($(date +%s) - t)) s), and the zones' orders go on, each new event once above its cursor"
step "drained"

# a worker holding no shard moves its relay's position up to its base:
# raised again and given a group back, its relay notifies that group's
# new events only, none of those moved there
b3c=$(q "SELECT dispatch.prepare_move('localhost', $w3)" 2>&1)
for _ in $(seq 50); do
	[ "$(qp "$w3" "SELECT seq >= ($b3c::bigint << 20) - 1 FROM dispatch.relay_position")" = t ] && break
	sleep 0.1
done
lifted=$(qp "$w3" "SELECT seq >= ($b3c::bigint << 20) - 1 FROM dispatch.relay_position")
zg=${every%% *}
wg=$(port_of "$zg")
seqs "$zg" 0 >"$work/bg"
# (citus_drain_node marked the node to hold no shards)
q "SELECT citus_set_node_property('localhost', $w3, 'shouldhaveshards', true)" >/dev/null
# listening from before the move: a moved event notified again would come
# first.  The listener stops at the six events of the order's life below
# (a moved one among them leaves one of those out) or after 30 s without
# one: the move and the relay's start fall in that wait, and took over 8 s
# on a loaded machine
PGPORT=$w3 "$here/tools/listen" -n 6 -t 30 >"$work/lg" 2>"$work/lg.err" &
lg=$!
for _ in $(seq 50); do grep -q listening "$work/lg.err" && break; sleep 0.1; done
move "$zg" "$wg" "$w3"
for _ in $(seq 100); do
	[ "$(qp "$w3" "SELECT ready FROM dispatch.relay_status() WHERE database = current_database()")" = t ] && break
	sleep 0.1
done
sleep 1.5   # (the ready relay's first rounds)
life "$zg" 1
while kill -0 "$lg" 2>/dev/null; do sleep 0.1; done
lg=""
seqs "$zg" 0 | grep -vxF -f "$work/bg" >"$work/ng"
sed -nE 's/^\{"seq":([0-9]+),"kind":"[^"]*","zone":([0-9]+).*/\1/p' "$work/lg" >"$work/lg.seqs"
[ "$lifted" = t ] && [ "$(port_of "$zg")" = "$w3" ] && [ -s "$work/ng" ] && cmp -s "$work/lg.seqs" "$work/ng" ||
	{ echo "# position lifted: ${lifted:-?}; received / wanted:"; diff "$work/lg.seqs" "$work/ng" | sed 's/^/# /'; false; }
ok $? "the drained worker's relay moved its position up to the raised base (${b3c:-none}); given zone $zg's group back, it notified the $(wc -l <"$work/ng") new events once each, in order, and none of the moved ones"
q "SELECT dispatch.prepare_move('localhost', $wg)" >/dev/null && move "$zg" "$w3" "$wg"
q "SELECT citus_remove_node('localhost', $w3)" >/dev/null && life "$za" 1 && life "$zd" 1 &&
	[ "$(q "SELECT count(*) FROM pg_dist_node WHERE nodeport = $w3")" = 0 ]
ok $? "the new worker, drained, leaves the cluster (citus_remove_node), and the zones' orders go on"
step "done"
