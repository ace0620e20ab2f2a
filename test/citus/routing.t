#!/usr/bin/env bash
# test/citus/routing.t: on the Citus cluster of `tools/pgdev citus` (after
# test/citus/10_distribute.sql has distributed the tables), each call of an
# order's life reaches exactly one worker, the one that holds the order's
# zone: the coordinator logs every command it sends to a worker
# (citus.log_remote_commands), and the servers named are counted per call.
# The calls that name an order or an offer, and the calls that name the
# rider's or the merchant's zone, are sent whole, as one command; a rider's
# read of their order's contact is logged on the zone's worker alone, and
# so is its disclosure when the contact goes on to a relay.
# Then two zones on the two workers run their batches at the same time: a
# batch of one zone, its transaction held open, does not hold up the batch
# of the other.
set -uo pipefail
: "${PGDEV_WORKER_PORTS:?run through tools/pgdev citus}"
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/test/lib/tap.sh"

# refused intake attempts noted by earlier tests stay in the rings (which
# are not transactional) under customer ids that the tests clearing the
# tables hand out again: flushed and cleared first, so that this script's
# customers start with none
q "SELECT flushed FROM dispatch.flush_refusals()" >/dev/null
q "TRUNCATE dispatch.intake_refusals" >/dev/null

# two zones, one on each worker
za="" zb=""
for i in 0 1 2 3 4 5 6 7; do
	z=$(q "SELECT dispatch.create_zone('routing$i', ST_MakeEnvelope(110 + $i, 30.0, 110.1 + $i, 30.1, 4326))")
	if [ -z "$za" ]; then za=$z; elif [ -z "$zb" ] && [ "$(port_of "$z")" != "$(port_of "$za")" ]; then zb=$z; fi
done
pa=$(port_of "$za")
pb=$(port_of "$zb")
[ -n "$zb" ] && [ "$pa" != "$pb" ]; ok $? "zones $za and $zb lie on the workers $pa and $pb"

# the workers a call reached, as "port port ..." (sorted, distinct)
reached() {
	psql -X -q -At -v ON_ERROR_STOP=1 -c "SET citus.log_remote_commands = on" \
		-c "SET client_min_messages = notice" -c "$1" 2>&1 >/dev/null |
		sed -n 's/.*on server [^@]*@[^:]*:\([0-9]*\).*/\1/p' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
one_worker() {
	local got
	got=$(reached "$2")
	[ "$got" = "$pa" ]; ok $? "$1 reaches only the worker of its zone ($pa; reached: ${got:-none})"
}
# sent_whole NAME FUNCTION STATEMENT: STATEMENT sends one command, the call
# of FUNCTION with the zone first, to the worker of the zone
sent_whole() {
	local log cmds
	log=$(psql -X -q -At -v ON_ERROR_STOP=1 -c "SET citus.log_remote_commands = on" \
		-c "SET client_min_messages = notice" -c "$3" 2>&1 >/dev/null)
	cmds=$(printf '%s\n' "$log" | grep -c "issuing")
	printf '%s\n' "$log" | grep -q "issuing SELECT dispatch.$2('$za'::bigint" &&
		[ "$cmds" = 1 ] && [ "$(printf '%s\n' "$log" | sed -n 's/.*on server [^@]*@[^:]*:\([0-9]*\).*/\1/p')" = "$pa" ]
	ok $? "$1 is sent whole to the worker of its zone ($pa): one command ($cmds)"
}
# a call that names an order or an offer: the call of its routed form
one_call() { sent_whole "$1" "_$1" "$2"; }
# a rider call that names its rider's zone: the call itself
zoned_call() { sent_whole "$1" "$1" "$2"; }

setup() {
	shop=$(q "SELECT dispatch.create_merchant($1, 'shop', $2 + 0.05, 30.05, 10)")
	dish=$(q "SELECT dispatch.add_item($shop, 'dish', 1500)")
	rider=$(q "SELECT dispatch.register_rider($1, 'r', '+86139000$1$3', 2)")
	q "SELECT dispatch.rider_online($rider, $2 + 0.05, 30.049)" >/dev/null
}
# order PHONE SHOP DISH LON: an accepted order
order() {
	local o
	o=$(q "SELECT dispatch.place_order(dispatch.register_customer('+86138000$1', NULL), $2,
	         jsonb_build_array(jsonb_build_object('item_id', $3, 'qty', 1)), $4 + 0.05, 30.06, 'addr', 'normal')")
	q "SELECT dispatch.confirm_payment($o, 'ref-$o'), dispatch.merchant_accept($o)" >/dev/null
	echo "$o"
}
lon_a=$(q "SELECT ST_XMin(area) FROM dispatch.zones WHERE zone_id = $za")
lon_b=$(q "SELECT ST_XMin(area) FROM dispatch.zones WHERE zone_id = $zb")
setup "$za" "$lon_a" 11
rider_a=$rider shop_a=$shop dish_a=$dish
customer=$(q "SELECT dispatch.register_customer('+8615900000001', NULL)")

one_worker rider_online "SELECT dispatch.rider_online($rider_a, $lon_a + 0.05, 30.05)"
zoned_call rider_offline_in_zone "SELECT dispatch.rider_offline_in_zone($za, $rider_a)"
[ "$(q "SELECT status FROM dispatch.riders WHERE zone_id = $za AND rider_id = $rider_a")" = offline ]
ok $? "the shift ended by the call sent whole"
zoned_call rider_online_in_zone "SELECT dispatch.rider_online_in_zone($za, $rider_a, $lon_a + 0.05, 30.05)"
[ "$(q "SELECT status FROM dispatch.riders WHERE zone_id = $za AND rider_id = $rider_a")" = online ]
ok $? "the shift started by the call sent whole"
one_worker update_rider_location "SELECT dispatch.update_rider_location($rider_a, $lon_a + 0.05, 30.049)"
zoned_call update_rider_location_in_zone \
	"SELECT dispatch.update_rider_location_in_zone($za, $rider_a, $lon_a + 0.051, 30.048)"
[ "$(q "SELECT round(ST_X(position)::numeric, 3) = round(($lon_a + 0.051)::numeric, 3) FROM dispatch.riders
         WHERE zone_id = $za AND rider_id = $rider_a")" = t ]
ok $? "the ping sent whole moved the rider"
plan=$(psql -X -q -At -c "EXPLAIN SELECT dispatch.update_rider_location_in_zone($za, $rider_a, $lon_a + 0.05, 30.049)")
printf '%s\n' "$plan" | grep -q "Task Count: 1" && printf '%s\n' "$plan" | grep -q "port=$pa"
ok $? "EXPLAIN of a ping naming its zone shows one task, on the zone's worker"
err=$(psql -X -q -At -c "SELECT dispatch.update_rider_location_in_zone($zb, $rider_a, $lon_a + 0.05, 30.049)" 2>&1)
printf '%s\n' "$err" | grep -q "rider $rider_a does not exist in zone $zb"
ok $? "a ping naming another zone is refused on that zone's worker (${err%%$'\n'*})"
# a sync naming the rider's zone: sent whole, its ping applied and its
# refused action answered, in a subtransaction on the worker
lonp=$(q "SELECT round(($lon_a + 0.052)::numeric, 6)")
ms=$(q "SELECT (extract(epoch FROM now()) * 1000)::bigint")
batch="'[{\"id\": \"s1\", \"at\": $ms, \"type\": \"ping\", \"lon\": $lonp, \"lat\": 30.047},
         {\"id\": \"s2\", \"at\": $((ms + 1)), \"type\": \"delivered\", \"order_id\": 1}]'"
zoned_call sync_rider_in_zone "SELECT dispatch.sync_rider_in_zone($za, $rider_a, $batch)"
[ "$(q "SELECT string_agg(client_event_id || ':' || outcome || ':' || coalesce(sqlstate, '-'), ' ' ORDER BY client_event_id)
         FROM dispatch.rider_sync_log WHERE zone_id = $za AND rider_id = $rider_a")" = "s1:applied:- s2:rejected:DP014" ] &&
	[ "$(q "SELECT round(ST_X(position)::numeric, 6) = $lonp FROM dispatch.riders WHERE zone_id = $za AND rider_id = $rider_a")" = t ]
ok $? "the sync sent whole moved the rider and answered its refused action (DP014), the batch going on"
o=$(q "SELECT dispatch.place_order($customer, $shop, jsonb_build_array(jsonb_build_object('item_id', $dish, 'qty', 1)),
         $lon_a + 0.05, 30.06, 'addr', 'normal')")
one_worker place_order "SELECT dispatch.place_order($customer, $shop, jsonb_build_array(jsonb_build_object('item_id', $dish, 'qty', 1)), $lon_a + 0.05, 30.06, 'addr', 'normal')"
# an order that names its merchant's zone: sent whole, numbered on the
# worker from the worker's own range of ids (its group id << 36), apart
# from the coordinator's; refused on another zone's worker, and the
# refusal, noted there, is flushed by the coordinator's flush_refusals
items="'[{\"item_id\": $dish, \"qty\": 1}]'"
zoned_call place_order_in_zone "SELECT dispatch.place_order_in_zone($za, $customer, $shop, $items, $lon_a + 0.05, 30.06, 'addr')"
w=$(q "SELECT dispatch.place_order_in_zone($za, $customer, $shop, $items, $lon_a + 0.05, 30.06, 'addr')")
[ "$(q "SELECT (SELECT dispatch.zone_of($w)) = $za
               AND ($w & 1099511627775) >> 36 = (SELECT groupid FROM pg_dist_node WHERE nodeport = $pa)
               AND ($o & 1099511627775) >> 36 = 0
               AND (SELECT status FROM dispatch.orders WHERE zone_id = $za AND order_id = $w) = 'pending_payment'
               AND (SELECT p.zone_id = $za AND p.payment_id >> 40 = $za AND (p.payment_id & 1099511627775) >> 36 = ($w & 1099511627775) >> 36
                      FROM dispatch.payments p WHERE p.zone_id = $za AND p.order_id = $w)")" = t ]
ok $? "the order placed whole ($w) is in its zone, numbered from the worker's range (the coordinator's: $o), its payment too"
err=$(psql -X -q -At -c "SELECT dispatch.place_order_in_zone($zb, $customer, $shop, $items, $lon_a + 0.05, 30.06, 'addr')" 2>&1)
printf '%s\n' "$err" | grep -q "merchant $shop does not exist in zone $zb"
ok $? "an order naming another zone is refused on that zone's worker (${err%%$'\n'*})"
# an errand naming its zone too (a customer of its own: the fraud limit
# counts a customer's unpaid orders)
errand_customer=$(q "SELECT dispatch.register_customer('+8615900000002', NULL)")
zoned_call place_errand_in_zone \
	"SELECT dispatch.place_errand_in_zone($za, $errand_customer, $lon_a + 0.05, 30.05, $lon_a + 0.05, 30.06, 'addr', 'keys', 500)"
# a customer refused twice on that worker, with dispatch.fraud_max_refusals
# 2 for the flush: the coordinator's flush flags the customer
flagme=$(q "SELECT dispatch.register_customer('+8615900000003', NULL)")
for k in 1 2; do
	psql -X -q -At -c "SELECT dispatch.place_order_in_zone($zb, $flagme, $shop, $items, $lon_a + 0.05, 30.06, 'addr')" >/dev/null 2>&1
done
flagged=$(psql -X -q -At -v ON_ERROR_STOP=1 -c "SET dispatch.fraud_max_refusals = 2" \
	-c "SELECT flagged FROM dispatch.flush_refusals()" 2>&1)
[ "$(q "SELECT count(*) FROM dispatch.intake_refusals WHERE zone_id = $zb AND customer_id = $customer AND sqlstate = 'DP013'")" = 1 ]
ok $? "its refusal, noted on that worker, is flushed once by the coordinator's flush_refusals"
[ "$flagged" = 1 ] && [ "$(q "SELECT flagged FROM dispatch.customers WHERE customer_id = $flagme")" = t ]
ok $? "a customer refused twice there is flagged by it (flagged: $flagged), one connection per node for the flag"
one_call confirm_payment "SELECT dispatch.confirm_payment($o, 'ref-$o')"
one_call merchant_accept "SELECT dispatch.merchant_accept($o)"
one_worker assign_batch "SELECT * FROM dispatch.assign_batch($za)"
sent=$(psql -X -q -At -c "SET citus.log_remote_commands = on" -c "SET client_min_messages = notice" \
	-c "SELECT count(*) FROM dispatch.assign_batch($za)" 2>&1 >/dev/null | grep -c "issuing")
[ "$sent" = 1 ]; ok $? "a zone's batch is sent to its worker whole: one command ($sent)"
f=$(q "SELECT offer_id FROM dispatch.offers WHERE zone_id = $za AND order_id = $o")
[ -n "$f" ]; ok $? "the batch made an offer of order $o"
one_call respond_offer "SELECT dispatch.respond_offer($f, true)"
one_worker update_rider_plan "SELECT dispatch.update_rider_plan($rider_a, dispatch.clock() + interval '10 minutes', $lon_a + 0.05, 30.06)"
zoned_call update_rider_plan_in_zone \
	"SELECT dispatch.update_rider_plan_in_zone($za, $rider_a, dispatch.clock() + interval '12 minutes', $lon_a + 0.05, 30.06)"
[ "$(q "SELECT free_at > dispatch.clock() + interval '11 minutes' FROM dispatch.riders WHERE zone_id = $za AND rider_id = $rider_a")" = t ]
ok $? "the plan sent whole is recorded"
# an analyst's rows of one zone (as the owner, who may read them too)
one_worker eta_accuracy_in_zone "SELECT count(*) FROM dispatch.eta_accuracy_in_zone($za)"
one_worker feedback_daily_in_zone "SELECT count(*) FROM dispatch.feedback_daily_in_zone($za)"
# and the others docs/citus.md names as read on the zone's worker alone
# ("The rows of one zone", "The rows of a span of days")
for v in campaign_performance complaint_sla demand_heatmap dispatch_kpis earnings_fairness feedback_top_issues \
         monthly_review order_anomalies refund_reconciliation rider_utilisation stuck_orders survey_results; do
	one_worker ${v}_in_zone "SELECT count(*) FROM dispatch.${v}_in_zone($za)"
done
for v in complaint_sla dispatch_kpis earnings_fairness eta_accuracy feedback_daily feedback_top_issues \
         monthly_review order_anomalies rider_utilisation survey_results; do
	one_worker "${v}_between with a zone" "SELECT count(*) FROM dispatch.${v}_between('2026-01-01', '2027-01-01', $za)"
done
# the rider app reads its order's contact, for every order it carries: the
# opening is logged in the order's zone (order_access_log), on that worker
# only, not in pii_access_log, a reference table written on every node
one_worker order_contact "SELECT * FROM dispatch.order_contact($o, $rider_a)"
[ "$(q "SELECT count(*) FROM dispatch.order_access_log WHERE zone_id = $za AND subject = 'customer' AND subject_id = $customer
         AND detail = 'order $o, rider $rider_a: masked phone, drop-off address'")" = 1 ] &&
	[ "$(q "SELECT count(*) FROM dispatch.pii_access_log WHERE purpose = 'rider_contact' AND detail ~ '^order $o,'")" = 0 ] &&
	[ "$(q "SELECT string_agg(n.nodeport::text, ' ') FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
             WHERE p.shardid = get_shard_id_for_distribution_column('dispatch.order_access_log', $za)")" = "$pa" ]
ok $? "the contact's opening is logged in the zone's log, on the zone's worker ($pa) only"
[ "$(q "SELECT e ->> 'detail' FROM jsonb_array_elements(dispatch.export_customer($customer) -> 'access_log') e
         WHERE e ->> 'purpose' = 'rider_contact'")" = "order $o, rider $rider_a: masked phone, drop-off address" ]
ok $? "the customer's export lists it"
# and through a relay (riders call customers through one): the disclosure
# to the relay is recorded in the order's zone too (order_disclosures), on
# that worker only, not in disclosures, a reference table written on every
# node
q "SELECT dispatch.register_processor('routing-relay', 'masked calls between rider and customer', 'contract')" >/dev/null
one_worker "order_contact via a processor" "SELECT * FROM dispatch.order_contact($o, $rider_a, 'routing-relay')"
[ "$(q "SELECT count(*) FROM dispatch.order_disclosures WHERE zone_id = $za AND order_id = $o AND customer_id = $customer
         AND fields = '{masked_phone,dropoff_address}'")" = 1 ] &&
	[ "$(q "SELECT count(*) FROM dispatch.disclosures WHERE order_id = $o")" = 0 ] &&
	[ "$(q "SELECT string_agg(n.nodeport::text, ' ') FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
             WHERE p.shardid = get_shard_id_for_distribution_column('dispatch.order_disclosures', $za)")" = "$pa" ]
ok $? "the disclosure is recorded in the zone's table, on the zone's worker ($pa) only"
[ "$(q "SELECT string_agg(d.processor || ' ' || d.order_id, ',') FROM dispatch.disclosures($customer) d")" = "routing-relay $o" ] &&
	[ "$(q "SELECT string_agg((e ->> 'processor') || ' ' || (e ->> 'order_id'), ',')
	         FROM jsonb_array_elements(dispatch.export_customer($customer) -> 'disclosures') e")" = "routing-relay $o" ]
ok $? "disclosures() and the customer's export list it"
one_call mark_picked_up "SELECT dispatch.mark_picked_up($o, $rider_a)"
one_call mark_delivered "SELECT dispatch.mark_delivered($o, $rider_a)"
[ "$(q "SELECT status FROM dispatch.orders WHERE zone_id = $za AND order_id = $o")" = delivered ]
ok $? "order $o is delivered"
plan=$(psql -X -q -At -c "EXPLAIN SELECT dispatch.mark_delivered($o, $rider_a)")
printf '%s\n' "$plan" | grep -q "Task Count: 1" && printf '%s\n' "$plan" | grep -q "port=$pa"
ok $? "EXPLAIN of a call naming an order shows one task, on the zone's worker"

# counted stock: an item's count (dispatch.item_stock) lies with its
# zone's orders on the zone's worker, so an order taking it, in either
# form, and a cancellation giving it back reach that worker only (the
# menu, a reference table, is only read); a failed payment too
tracked=$(q "SELECT dispatch.add_item($shop_a, 'tracked', 900, 10)")
[ "$(q "SELECT string_agg(n.nodeport::text, ' ') FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
         WHERE p.shardid = get_shard_id_for_distribution_column('dispatch.item_stock', $za)")" = "$pa" ]
ok $? "the item's count lies on the zone's worker ($pa) only"
stock_customer=$(q "SELECT dispatch.register_customer('+8615900000004', NULL)")
titems="'[{\"item_id\": $tracked, \"qty\": 2}]'"
one_worker "place_order taking counted stock" \
	"SELECT dispatch.place_order($stock_customer, $shop_a, $titems, $lon_a + 0.05, 30.06, 'addr', 'normal')"
zoned_call place_order_in_zone "SELECT dispatch.place_order_in_zone($za, $stock_customer, $shop_a, $titems, $lon_a + 0.05, 30.06, 'addr')"
[ "$(q "SELECT stock FROM dispatch.item_stock WHERE zone_id = $za AND item_id = $tracked")" = 6 ]
ok $? "the two orders took 2 each of the item's stock"
taken=$(q "SELECT string_agg(order_id::text, ' ' ORDER BY order_id) FROM dispatch.orders WHERE zone_id = $za AND customer_id = $stock_customer")
c=${taken%% *}
one_call fail_payment "SELECT dispatch.fail_payment($c, 'card declined')"
for c in $taken; do
	one_call cancel_order "SELECT dispatch.cancel_order($c, 'changed my mind')"
done
[ "$(q "SELECT string_agg(o.status, ' ') || ' ' || (SELECT stock FROM dispatch.item_stock WHERE zone_id = $za AND item_id = $tracked)
         FROM dispatch.orders o WHERE o.zone_id = $za AND o.customer_id = $stock_customer")" = "cancelled cancelled 10" ]
ok $? "the cancelled orders' stock is back"

# an order taking a budgeted offer: the budget's slots of the zone lie on
# its worker (campaign_budget is distributed by zone), so the order, in
# either form, and its cancellation charge and give back there only; the
# offer is read from campaigns, a reference table, locally
camp=$(q "SELECT dispatch.create_campaign('Routed offer $za', 'limited_time', '{\"amount_off_cents\": 100, \"auto\": true}',
           100000, NULL, now() + interval '1 day')")
[ "$(q "SELECT string_agg(DISTINCT n.nodeport::text, ' ') FROM dispatch.campaign_budget b
         JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('dispatch.campaign_budget', b.zone_id)
         JOIN pg_dist_node n USING (groupid) WHERE b.campaign_id = $camp AND b.zone_id = $za")" = "$pa" ]
ok $? "the campaign's slots of zone $za lie on its worker ($pa)"
offer_customer=$(q "SELECT dispatch.register_customer('+8615900000005', NULL)")
one_worker "place_order taking a budgeted offer" \
	"SELECT dispatch.place_order($offer_customer, $shop_a, $items, $lon_a + 0.05, 30.06, 'addr', 'normal')"
zoned_call place_order_in_zone "SELECT dispatch.place_order_in_zone($za, $offer_customer, $shop_a, $items, $lon_a + 0.05, 30.06, 'addr')"
[ "$(q "SELECT string_agg(o.discount_cents::text, ' ') || ' ' ||
               (SELECT sum(spent_cents) FROM dispatch.campaign_budget WHERE campaign_id = $camp AND zone_id = $za)
         FROM dispatch.orders o WHERE o.zone_id = $za AND o.customer_id = $offer_customer")" = "100 100 200" ]
ok $? "both orders took the offer, charged to the zone's slots"
for c in $(q "SELECT order_id FROM dispatch.orders WHERE zone_id = $za AND customer_id = $offer_customer"); do
	one_call cancel_order "SELECT dispatch.cancel_order($c, 'changed my mind')"
done
[ "$(q "SELECT sum(spent_cents) FROM dispatch.campaign_budget WHERE campaign_id = $camp")" = 0 ]
ok $? "the cancellations gave the budget back"
q "SELECT dispatch.end_campaign($camp)" >/dev/null
# a zone whose share is spent takes the rest from other zones' slots, on
# their workers, in either form (the form sent whole reaches them from the
# zone's worker), and that room moves to the zone
nz=$(q "SELECT count(*) FROM dispatch.zones")
borrow_customer=$(q "SELECT dispatch.register_customer('+8615900000006', NULL)")
camp=$(q "SELECT dispatch.create_campaign('Borrowed $za', 'limited_time', '{\"amount_off_cents\": 100, \"auto\": true}',
           100 * $nz, NULL, now() + interval '1 day')")
for f in place_order place_order place_order_in_zone; do
	if [ "$f" = place_order ]; then
		q "SELECT dispatch.place_order($borrow_customer, $shop_a, $items, $lon_a + 0.05, 30.06, 'addr', 'normal')" >/dev/null
	else
		q "SELECT dispatch.place_order_in_zone($za, $borrow_customer, $shop_a, $items, $lon_a + 0.05, 30.06, 'addr')" >/dev/null
	fi
done
[ "$(q "SELECT (SELECT string_agg(o.discount_cents::text, ' ' ORDER BY o.order_id) FROM dispatch.orders o
                 WHERE o.zone_id = $za AND o.customer_id = $borrow_customer AND o.status <> 'cancelled') || ' ' ||
               (SELECT sum(spent_cents) || ':' || sum(cap_cents) FROM dispatch.campaign_budget WHERE campaign_id = $camp AND zone_id = $za) || ' ' ||
               (SELECT sum(cap_cents) FROM dispatch.campaign_budget WHERE campaign_id = $camp)")" = "100 100 100 300:300 $((100 * nz))" ]
ok $? "a zone's share of 100 spent, two more orders (one sent whole) took 100 each from other zones' slots, moved to the zone"
q "SELECT dispatch.end_campaign($camp)" >/dev/null
# a personal code for a merchant of the zone: its use lies on the zone's
# worker, taken and given back there
sorry=$(q "SELECT dispatch.create_campaign('Sorry $za', 'goodwill', '{\"amount_off_cents\": 50}')")
coded_customer=$(q "SELECT dispatch.register_customer('+8615900000007', NULL)")
code=$(q "SELECT dispatch._issue_coupon($sorry, $coded_customer, $shop_a)")
one_worker "place_order redeeming a personal code" \
	"SELECT dispatch.place_order($coded_customer, $shop_a, $items, $lon_a + 0.05, 30.06, 'addr', 'normal', '$code')"
c=$(q "SELECT order_id FROM dispatch.orders WHERE zone_id = $za AND customer_id = $coded_customer")
[ "$(q "SELECT (SELECT discount_cents FROM dispatch.orders WHERE zone_id = $za AND order_id = $c) || ' ' ||
               (SELECT string_agg(zone_id || ':' || cap || ':' || used, ' ') FROM dispatch.coupon_uses WHERE code = '$code')")" = "50 $za:1:1" ]
ok $? "the code took 50 off, its use taken in the zone"
one_call cancel_order "SELECT dispatch.cancel_order($c, 'changed my mind')"
[ "$(q "SELECT used FROM dispatch.coupon_uses WHERE code = '$code'")" = 0 ]
ok $? "the cancellation gave the use back"

# a paid order cancelled is refunded; the payment service settles the
# refund, a call naming the refund (whose id carries the zone)
paid=$(order 42 "$shop_a" "$dish_a" "$lon_a")
q "SELECT dispatch.cancel_order($paid, 'closing early')" >/dev/null
rf=$(q "SELECT refund_id FROM dispatch.refunds WHERE zone_id = $za AND order_id = $paid")
one_call settle_refund "SELECT dispatch.settle_refund($rf, true, 'psp-refund-1')"
[ "$(q "SELECT status FROM dispatch.refunds WHERE zone_id = $za AND refund_id = $rf")" = succeeded ]
ok $? "the refund of the cancelled order is settled"

# a released order: accepted again, its rider excluded
r=$(order 41 "$shop_a" "$dish_a" "$lon_a")
q "SELECT count(*) FROM dispatch.assign_batch($za)" >/dev/null
f=$(q "SELECT offer_id FROM dispatch.offers WHERE zone_id = $za AND order_id = $r AND status = 'pending'")
q "SELECT dispatch.respond_offer($f, true)" >/dev/null
one_call release_order "SELECT dispatch.release_order($r, $rider_a, 'flat tyre')"
[ "$(q "SELECT status FROM dispatch.orders WHERE zone_id = $za AND order_id = $r")" = accepted ]
ok $? "the released order waits for another rider"
other=$(q "SELECT dispatch.register_rider($za, 'r2', '+8613900099001', 2)")
q "SELECT dispatch.rider_online($other, $lon_a + 0.05, 30.05)" >/dev/null
one_call assign_manually "SELECT dispatch.assign_manually($r, $other, 'ops')"
[ "$(q "SELECT status || ' ' || (rider_id = $other) FROM dispatch.orders WHERE zone_id = $za AND order_id = $r")" = "assigned true" ]
ok $? "a dispatcher gave it to another rider of the zone"
# taken back to be planned again: accepted, that rider not excluded
sent_whole replan_order _release_order "SELECT dispatch.replan_order($r, $other)"
one_call assign_manually "SELECT dispatch.assign_manually($r, $other, 'ops')"
[ "$(q "SELECT status || ' ' || (rider_id = $other) FROM dispatch.orders WHERE zone_id = $za AND order_id = $r")" = "assigned true" ]
ok $? "an order planned again may go back to the same rider"

# two zones' batches at once: zone a's batch holds its transaction open
setup "$zb" "$lon_b" 12
for i in 1 2 3; do
	order "2$i" "$shop_a" "$dish_a" "$lon_a" >/dev/null
	order "3$i" "$shop" "$dish" "$lon_b" >/dev/null
done
q "SELECT dispatch.rider_online(dispatch.register_rider($za, 'r', '+8613600000001', 3), $lon_a + 0.05, 30.049)" >/dev/null
q "SELECT dispatch.rider_online(dispatch.register_rider($zb, 'r', '+8613600000002', 3), $lon_b + 0.05, 30.049)" >/dev/null
hold=$(mktemp)
psql -X -q -At -c "BEGIN" -c "SELECT count(*) FROM dispatch.assign_batch($za)" \
	-c "SELECT pg_sleep(4)" -c "COMMIT" >"$hold" 2>&1 &
held=$!
sleep 1
start=$(date +%s%N)
got=$(psql -X -q -At -c "SET statement_timeout = '3s'" -c "SELECT count(*) FROM dispatch.assign_batch($zb)" 2>&1)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill -0 "$held" 2>/dev/null; still=$?
[ "$got" -ge 1 ] 2>/dev/null && [ "$still" = 0 ]
ok $? "zone $zb's batch ($got offers, $ms ms) ran while zone $za's batch held its transaction open"
wait "$held"
[ "$(sed -n 1p "$hold")" -ge 1 ] 2>/dev/null; ok $? "zone $za's batch made its offers too ($(head -c 200 "$hold"))"
rm -f "$hold"

echo "1..$n"
