#!/usr/bin/env bash
# test/citus/intake_lock.t: on the Citus cluster of `tools/pgdev citus`
# (tables distributed by test/citus/10_distribute.sql), two intakes of one
# customer in one zone, one run by the coordinator (place_order or
# place_errand, each statement routed) and one sent whole to the zone's
# worker (place_order_in_zone), take turns: the customer's intake lock is
# taken on the zone's worker in both (docs/citus.md, "The customer's intake
# lock"), so the second counts the first against the limit of unpaid and
# cancelled orders (dispatch.fraud_max_bad_orders, DP009) and against a
# campaign's per-customer cap.  Before, the coordinator's intake held the
# lock on the coordinator only, and both passed.  One intake is held open
# in a transaction block for three seconds while the other is made.  An
# intake in a repeatable read or serializable transaction is refused
# (DP031) before it waits: its counts on the worker would read a snapshot
# older than the wait.
set -uo pipefail
: "${PGDEV_WORKER_PORTS:?run through tools/pgdev citus}"
echo "1..14"
. "$(dirname "$0")/../lib/tap.sh"

z=$(q "SELECT dispatch.create_zone('intake_lock', ST_MakeEnvelope(83, 30.0, 83.1, 30.1, 4326))")
shop=$(q "SELECT dispatch.create_merchant($z, 'shop', 83.05, 30.05, 10)")
dish=$(q "SELECT dispatch.add_item($shop, 'dish', 1500)")
items="[{\"item_id\": $dish, \"qty\": 1}]"
wport=$(port_of "$z")
case " ${PGDEV_WORKER_PORTS//,/ } " in
*" $wport "*) ok 0 "the zone lies on a worker ($wport)" ;;
*) ok 1 "the zone lies on a worker ($wport; workers $PGDEV_WORKER_PORTS)" ;;
esac
max=$(q "SELECT dispatch._setting_int('dispatch.fraud_max_bad_orders')")

order() { echo "SELECT dispatch.place_order($1, $shop, '$items', 83.05, 30.06, 'x')"; }
in_zone() { echo "SELECT dispatch.place_order_in_zone($z, $1, $shop, '$items', 83.05, 30.06, 'x')"; }
errand() { echo "SELECT dispatch.place_errand($1, 83.05, 30.05, 83.06, 30.06, 'x', 'a parcel', 500)"; }
# a customer one unpaid order short of the limit
customer() {
	local c
	c=$(q "SELECT dispatch.register_customer('+86138007720' || lpad('$1', 2, '0'), NULL)")
	for _ in $(seq $((max - 1))); do q "$(order "$c")" >/dev/null; done
	echo "$c"
}
# held PORT SQL: SQL in a transaction block on the node at PORT, held open
# three seconds, in the background; it returns once the customer's intake
# lock is held on that node
held() {
	psql -X -q -At -v ON_ERROR_STOP=1 -p "$1" -c "BEGIN" -c "$2" -c "SELECT pg_sleep(3)" -c "COMMIT" \
		>/dev/null 2>/tmp/intake_lock.held.$$ &
	h=$!
	for _ in $(seq 40); do
		[ "$(locks "$1")" = 1 ] && return
		sleep 0.1
	done
}
# locks PORT: the customer $c's intake locks held, exclusive, on the node at PORT
locks() {
	qp "$1" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND mode = 'ExclusiveLock'
	          AND classid = dispatch._lock_key('intake') AND objid = $c AND objsubid = 2"
}
bad() { q "SELECT count(*) FROM dispatch.orders WHERE zone_id = $z AND customer_id = $1 AND status = 'pending_payment'"; }

# limit N PORT FIRST SECOND WHAT: a customer one unpaid order short of the
# limit; FIRST (order, in_zone or errand) held open on the node at PORT,
# SECOND made meanwhile elsewhere: it waits and is refused, DP009
limit() {
	c=$(customer "$1")
	held "$2" "$($3 "$c")"
	got=$(state "$($4 "$c")")
	wait "$h"
	hrc=$?
	[ "$hrc" = 0 ] && [ "$got" = DP009 ] && [ "$(bad "$c")" = "$max" ]
	ok $? "$5 and is refused, DP009 (got: '$got', $(bad "$c") unpaid orders of $max at most$( [ "$hrc" = 0 ] || echo "; $(tr '\n' ' ' </tmp/intake_lock.held.$$)"))"
}
limit 1 "$PGPORT" order in_zone "an order sent whole to the worker waits for the coordinator's place_order"
limit 2 "$wport" in_zone order "place_order on the coordinator waits for an order on the worker"
limit 3 "$PGPORT" errand in_zone "an order sent whole to the worker waits for the coordinator's place_errand"

# snapshot N LEVEL SECOND WHAT: a customer one unpaid order short of the
# limit; an order sent whole to the worker held open there, SECOND made
# meanwhile on the coordinator in a LEVEL transaction: refused at once,
# DP031, while the first is still open (the worker's snapshot of the
# transaction predates the wait, and its count would miss the first:
# before, both were placed, one unpaid order over the limit)
snapshot() {
	c=$(customer "$1")
	held "$wport" "$(in_zone "$c")"
	got=$(state "BEGIN ISOLATION LEVEL $2; $($3 "$c"); COMMIT")
	kill -0 "$h" 2>/dev/null
	open=$?
	wait "$h"
	hrc=$?
	[ "$hrc" = 0 ] && [ "$got" = DP031 ] && [ "$open" = 0 ] && [ "$(bad "$c")" = "$max" ]
	ok $? "$4 is refused, DP031, without waiting (got: '$got', first still open: $([ "$open" = 0 ] && echo yes || echo no), $(bad "$c") unpaid orders of $max at most$( [ "$hrc" = 0 ] || echo "; $(tr '\n' ' ' </tmp/intake_lock.held.$$)"))"
}
snapshot 4 "REPEATABLE READ" order "place_order on the coordinator in a repeatable read transaction"
snapshot 5 SERIALIZABLE errand "place_errand on the coordinator in a serializable transaction"
snapshot 6 "REPEATABLE READ" in_zone "place_order_in_zone in a repeatable read transaction block, run by the coordinator,"

# a coordinator's intake holds the lock on the zone's worker to its end,
# and on the coordinator
c=$(q "SELECT dispatch.register_customer('+8613800772099', NULL)")
held "$PGPORT" "$(order "$c")"
on_worker=$(locks "$wport")
on_coordinator=$(locks "$PGPORT")
wait "$h"
[ "$on_worker $on_coordinator" = "1 1" ]
ok $? "place_order in a transaction block holds the customer's intake lock on the zone's worker and on the coordinator (got: $on_worker $on_coordinator)"

# a campaign's cap of one discount per customer, the two forms at once
camp=$(q "SELECT dispatch.create_campaign('Once $z', 'limited_time', '{\"amount_off_cents\": 100, \"auto\": true, \"per_customer\": 1}',
           NULL, NULL, now() + interval '1 day', $z)")
# cap PHONE PORT FIRST SECOND WHAT [ZONES]: FIRST held open on the node at
# PORT, SECOND made meanwhile elsewhere: one of the two orders (in ZONES,
# default $z) takes the discount
cap() {
	c=$(q "SELECT dispatch.register_customer('$1', NULL)")
	held "$2" "$($3 "$c")"
	second=$(q "$($4 "$c")" 2>&1)
	wait "$h"
	hrc=$?
	discounts=$(q "SELECT string_agg(discount_cents::text, ' ' ORDER BY discount_cents) FROM dispatch.orders
	                WHERE zone_id IN (${6:-$z}) AND customer_id = $c")
	[ "$hrc" = 0 ] && [ "$discounts" = "0 100" ]
	ok $? "$5 (discounts: $discounts; $second)"
}
cap +8613800772098 "$PGPORT" order in_zone \
	"of two orders of one customer in the zone, the coordinator's and the worker's at once, one takes a campaign capped at one per customer"
cap +8613800772097 "$wport" in_zone order "and so when the worker's comes first"
q "SELECT dispatch.end_campaign($camp)" >/dev/null

# two intakes of one customer in zones on two workers do not wait for each
# other (each holds its zone's worker's lock, and the coordinator's only
# where it runs)
z2=""
for i in 1 2 3 4 5 6 7 8; do
	zi=$(q "SELECT dispatch.create_zone('intake_lock $i', ST_MakeEnvelope(70 + $i, 30.0, 70.1 + $i, 30.1, 4326))")
	pi=$(port_of "$zi")
	if [ "$pi" != "$wport" ]; then z2=$zi; break; fi
done
shop2=$(q "SELECT dispatch.create_merchant($z2, 'shop', 70.05 + $i, 30.05, 10)")
dish2=$(q "SELECT dispatch.add_item($shop2, 'dish', 1500)")
c=$(q "SELECT dispatch.register_customer('+8613800772096', NULL)")
held "$wport" "$(in_zone "$c")"
other=$(q "SELECT dispatch.place_order_in_zone($z2, $c, $shop2, '[{\"item_id\": $dish2, \"qty\": 1}]', 70.05 + $i, 30.06, 'x')" 2>&1)
kill -0 "$h" 2>/dev/null
open=$?
wait "$h"
[ -n "$z2" ] && [ "$open" = 0 ] && [ "$other" -gt 0 ] 2>/dev/null
ok $? "an order of the customer in a zone on the other worker does not wait: placed while the first is open (zone $z2: $other)"

# a city-wide campaign capped at one per customer: two orders of a new
# customer at once in zones on the two workers, one held open on one
# worker while the other is made: one takes it (before, both did: each
# took the customer's locks on its own zone's worker only)
city=$(q "SELECT dispatch.create_campaign('Once in the city', 'limited_time', '{\"amount_off_cents\": 100, \"auto\": true, \"per_customer\": 1}',
           NULL, NULL, now() + interval '1 day')")
in_z2() { echo "SELECT dispatch.place_order_in_zone($z2, $1, $shop2, '[{\"item_id\": $dish2, \"qty\": 1}]', 70.05 + $i, 30.06, 'x')"; }
cap +8613800772095 "$wport" in_zone in_z2 \
	"of two orders of one customer sent whole to zones on the two workers at once, one takes a city-wide campaign capped at one per customer" "$z, $z2"
cap +8613800772094 "$PGPORT" order in_z2 "and so when the first is place_order, run by the coordinator" "$z, $z2"
q "SELECT dispatch.end_campaign($city)" >/dev/null
# an order of a customer whose offer has no cap reaches its zone's worker
# only, and so waits for nothing on the other (test 11; routing.t counts
# the workers of such an order)
c=$(q "SELECT dispatch.register_customer('+8613800772093', NULL)")
free=$(q "SELECT dispatch.create_campaign('Free in the city', 'limited_time', '{\"amount_off_cents\": 100, \"auto\": true}',
           NULL, NULL, now() + interval '1 day')")
held "$wport" "$(in_zone "$c")"
other=$(q "$(in_z2 "$c")" 2>&1)
kill -0 "$h" 2>/dev/null
open=$?
wait "$h"
discounts=$(q "SELECT string_agg(discount_cents::text, ' ' ORDER BY discount_cents) FROM dispatch.orders
                WHERE zone_id IN ($z, $z2) AND customer_id = $c")
[ "$open" = 0 ] && [ "$discounts" = "100 100" ]
ok $? "an order taking an offer with no cap per customer does not wait for the customer's order on the other worker (discounts: $discounts; $other)"
q "SELECT dispatch.end_campaign($free)" >/dev/null
rm -f /tmp/intake_lock.held.$$
# the refusals noted meanwhile (DP009, in the rings of the coordinator and
# the worker) are flushed and dropped, as routing.t does before its own
q "SELECT flushed FROM dispatch.flush_refusals()" >/dev/null
q "TRUNCATE dispatch.intake_refusals" >/dev/null
