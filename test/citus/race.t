#!/usr/bin/env bash
# test/citus/race.t: on the Citus cluster of `tools/pgdev citus` (tables
# distributed by test/citus/10_distribute.sql), a rider's accept and a
# customer's cancellation of the same order race, both sent whole to the
# zone's worker, round after round, with a batch of the zone between.
# Whichever wins, the zone stays consistent: every order ends cancelled,
# no rider keeps a slot or an offer for it (the load the triggers keep on
# the riders' shard equals what the orders and offers say), and each
# order's status events carry versions 1, 2, 3, ... in commit order.
set -uo pipefail
: "${PGDEV_WORKER_PORTS:?run through tools/pgdev citus}"
rounds=${RACE_ROUNDS:-15}
echo "1..5"
. "$(dirname "$0")/../lib/tap.sh"

z=$(q "SELECT dispatch.create_zone('race', ST_MakeEnvelope(80, 30.0, 80.1, 30.1, 4326))")
shop=$(q "SELECT dispatch.create_merchant($z, 'shop', 80.05, 30.05, 10)")
dish=$(q "SELECT dispatch.add_item($shop, 'dish', 1500)")
for i in 1 2 3; do
	r=$(q "SELECT dispatch.register_rider($z, 'r$i', '+861390088$z$i', 2)")
	q "SELECT dispatch.rider_online($r, 80.05, 30.05)" >/dev/null
done

accepted=0 refused=0 offered=0
for i in $(seq "$rounds"); do
	c=$(q "SELECT dispatch.register_customer('+86138008800' || lpad('$i', 2, '0'), NULL)")
	o=$(q "SELECT dispatch.place_order($c, $shop, '[{\"item_id\": $dish, \"qty\": 1}]', 80.05, 30.06, 'x')")
	q "SELECT dispatch.confirm_payment($o, 'p$i')" >/dev/null
	q "SELECT dispatch.merchant_accept($o)" >/dev/null
	q "SELECT count(*) FROM dispatch.assign_batch($z)" >/dev/null
	f=$(q "SELECT offer_id FROM dispatch.offers WHERE zone_id = $z AND order_id = $o AND status = 'pending'")
	[ -n "$f" ] || continue
	offered=$((offered + 1))
	psql -X -q -At -c "SELECT dispatch.respond_offer($f, true)" >/dev/null 2>&1 &
	a=$!
	psql -X -q -At -c "SELECT dispatch.cancel_order($o, 'race')" >/dev/null 2>&1 &
	b=$!
	if wait "$a"; then accepted=$((accepted + 1)); else refused=$((refused + 1)); fi
	wait "$b"
done
[ "$offered" -ge $((rounds / 2)) ]
ok $? "$offered of $rounds orders were offered and raced (accept first in $accepted, refused in $refused)"
[ "$(q "SELECT count(*) FILTER (WHERE status <> 'cancelled') || '/' || count(*) FROM dispatch.orders WHERE zone_id = $z")" = "0/$rounds" ]
ok $? "every order ends cancelled"
[ "$(q "SELECT count(*) FROM dispatch.riders r WHERE r.zone_id = $z
         AND (r.active_orders <> (SELECT count(*) FROM dispatch.orders o WHERE o.zone_id = $z AND o.rider_id = r.rider_id
                                   AND o.status IN ('assigned', 'picked_up'))
              OR r.pending_offers <> (SELECT count(*) FROM dispatch.offers f WHERE f.zone_id = $z AND f.rider_id = r.rider_id
                                       AND f.status = 'pending'))")" = 0 ]
ok $? "each rider's load equals the orders and offers it holds (none)"
[ "$(q "SELECT count(*) FROM dispatch.offers WHERE zone_id = $z AND status = 'pending'")" = 0 ]
ok $? "no offer is left pending for a cancelled order"
bad=$(q "SELECT count(*) FROM (
           SELECT e.order_id, array_agg((e.payload ->> 'version')::int ORDER BY e.seq) AS v
             FROM dispatch.events_since(0, 100000, $z) e
            WHERE e.kind = 'order_status'
            GROUP BY e.order_id) t
          WHERE v <> (SELECT array_agg(g ORDER BY g) FROM generate_series(1, cardinality(t.v)) g)")
[ "$bad" = 0 ]
ok $? "each order's status events carry versions 1, 2, 3, ... in the zone's order"
