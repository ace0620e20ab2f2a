#!/usr/bin/env bash
# test/citus/sync_lock.t: on the Citus cluster of `tools/pgdev citus`
# (tables distributed by test/citus/10_distribute.sql), sync_rider, the
# form that names only the rider and runs on the coordinator, takes the
# zone's matching lock where the zone's batch takes it: on the zone's
# worker (docs/citus.md, "Calls that take the zone's lock").  A batch
# stands in as batch_rider_lock.spec's session b does on one server, on
# the zone's worker: the zone's lock, an accepted order (FOR UPDATE SKIP
# LOCKED), then, a while later, a rider's row.  A sync of that rider with
# a pickup of that order, started meanwhile on the coordinator, waits for
# the batch instead of locking the rider's row first and deadlocking with
# it (40P01).  Then the same for cancel_order called inside a transaction
# block on the coordinator, holding the row of the rider with the order's
# pending offer, which the batch then wants.
set -uo pipefail
: "${PGDEV_WORKER_PORTS:?run through tools/pgdev citus}"
echo "1..6"
. "$(dirname "$0")/../lib/tap.sh"

z=$(q "SELECT dispatch.create_zone('sync_lock', ST_MakeEnvelope(81, 30.0, 81.1, 30.1, 4326))")
shop=$(q "SELECT dispatch.create_merchant($z, 'shop', 81.05, 30.05, 10)")
dish=$(q "SELECT dispatch.add_item($shop, 'dish', 1500)")
r=$(q "SELECT dispatch.register_rider($z, 'r', '+8613900771001', 2)")
q "SELECT dispatch.rider_online($r, 81.05, 30.05)" >/dev/null
c=$(q "SELECT dispatch.register_customer('+8613800771001', NULL)")
o=$(q "SELECT dispatch.place_order($c, $shop, '[{\"item_id\": $dish, \"qty\": 1}]', 81.05, 30.06, 'x')")
q "SELECT dispatch.confirm_payment($o, 'p-$o')" >/dev/null
q "SELECT dispatch.merchant_accept($o)" >/dev/null
# the rider had it and gave it back: accepted again, and the rider's app,
# offline meanwhile, still has a pickup of it to sync
q "SELECT dispatch.assign_manually($o, $r, 'test')" >/dev/null
q "SELECT dispatch.release_order($o, $r, 'test')" >/dev/null
wport=$(q "SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
            WHERE p.shardid = get_shard_id_for_distribution_column('dispatch.orders', $z)")
case " ${PGDEV_WORKER_PORTS//,/ } " in
*" $wport "*) ok 0 "the zone lies on a worker ($wport)" ;;
*) ok 1 "the zone lies on a worker ($wport; workers $PGDEV_WORKER_PORTS)" ;;
esac

# the batch, on the zone's worker
psql -X -q -At -v ON_ERROR_STOP=1 -p "$wport" \
	-c "BEGIN" \
	-c "SELECT dispatch._lock_zone($z, false)" \
	-c "SELECT o.order_id FROM dispatch.orders o WHERE o.zone_id = $z AND o.order_id = $o FOR UPDATE SKIP LOCKED" \
	-c "SELECT pg_sleep(3)" \
	-c "UPDATE dispatch.riders SET capacity = capacity WHERE zone_id = $z AND rider_id = $r" \
	-c "COMMIT" >/dev/null 2>/tmp/sync_lock.batch.$$ &
b=$!
sleep 1
at=$(q "SELECT (extract(epoch FROM now()) * 1000)::bigint")
answer=$(q "SELECT outcome || ' ' || coalesce(sqlstate, '') FROM dispatch.sync_rider($r,
              '[{\"id\": \"p1\", \"at\": $at, \"type\": \"picked_up\", \"order_id\": $o}]')" 2>&1)
wait "$b"
brc=$?
ok "$brc" "the batch holding the zone's lock and the order gets the rider's row and commits$( [ "$brc" = 0 ] || echo ": $(tr '\n' ' ' </tmp/sync_lock.batch.$$)")"
rm -f /tmp/sync_lock.batch.$$
[ "$answer" = "rejected DP104" ]
ok $? "the sync answers the pickup of an order no longer the rider's: rejected DP104 (got: $answer)"

# inside a transaction block on the coordinator, the sync holds the zone's
# lock, shared, on the zone's worker to its end
psql -X -q -At -v ON_ERROR_STOP=1 \
	-c "BEGIN" -c "SELECT count(*) FROM dispatch.sync_rider($r, '[]')" -c "SELECT pg_sleep(3)" -c "COMMIT" >/dev/null 2>&1 &
a=$!
held=""
for _ in $(seq 40); do
	held=$(psql -X -q -At -p "$wport" -c "SELECT count(*) FROM pg_locks
	         WHERE locktype = 'advisory' AND objid = $z AND objsubid = 2 AND mode = 'ShareLock' AND granted")
	[ "$held" = 1 ] && break
	sleep 0.1
done
wait "$a"
[ "$held" = 1 ]
ok $? "a sync in a transaction block holds the zone's lock, shared, on the zone's worker"

# cancel_order in a transaction block on the coordinator: the order gets a
# pending offer to a second rider (the first released it and is excluded),
# the batch on the worker holds the zone's lock and the order and then
# wants that rider's row, which a cancellation locks (the holder of the
# order's pending offer) before it waits for the order
r2=$(q "SELECT dispatch.register_rider($z, 'r2', '+8613900771002', 2)")
q "SELECT dispatch.rider_online($r2, 81.05, 30.05)" >/dev/null
offered=$(q "SELECT count(*) FROM dispatch.assign_batch($z) WHERE order_id = $o AND rider_id = $r2")
psql -X -q -At -v ON_ERROR_STOP=1 -p "$wport" \
	-c "BEGIN" \
	-c "SELECT dispatch._lock_zone($z, false)" \
	-c "SELECT o.order_id FROM dispatch.orders o WHERE o.zone_id = $z AND o.order_id = $o FOR UPDATE SKIP LOCKED" \
	-c "SELECT pg_sleep(3)" \
	-c "UPDATE dispatch.riders SET capacity = capacity WHERE zone_id = $z AND rider_id = $r2" \
	-c "COMMIT" >/dev/null 2>/tmp/sync_lock.batch.$$ &
b=$!
sleep 1
cancel=$(psql -X -q -At -v ON_ERROR_STOP=1 -c "BEGIN" -c "SELECT dispatch.cancel_order($o, 'test')" -c "COMMIT" 2>&1)
crc=$?
wait "$b"
brc=$?
[ "$brc" = 0 ] && [ "$offered" = 1 ]
ok $? "with an offer pending (offers to the second rider: $offered), the batch holding the zone's lock and the order gets the rider's row and commits$( [ "$brc" = 0 ] || echo ": $(tr '\n' ' ' </tmp/sync_lock.batch.$$)")"
rm -f /tmp/sync_lock.batch.$$
status=$(q "SELECT status FROM dispatch.orders WHERE zone_id = $z AND order_id = $o")
[ "$crc" = 0 ] && [ "$status" = cancelled ]
ok $? "cancel_order in a transaction block waits for the batch on the zone's worker, then cancels (got: $status $(echo "$cancel" | tr '\n' ' '))"
