#!/usr/bin/env bash
# test/tap/assign_cancel.t: a long assign_batch (20,000 orders, 15,000 riders
# of capacity 1, 200 candidates each and no time budget to speak of: about
# 15 s of costing and exact solving, which once ran without interrupt checks
# to the end) stops within moments on statement_timeout and on
# pg_cancel_backend, with SQLSTATE 57014: the solver's interrupt hook and
# the candidate and cost loops run CHECK_FOR_INTERRUPTS.  Nothing of the
# stopped batch is written (no offer, no assign_batches row, no event, no
# rider slot taken), and a normal batch afterwards succeeds.  Runs in a
# database of its own.
set -euo pipefail
db=dispatch_assign_cancel_t
work=$(mktemp -d)
cleanup() {
	kill "${bg:-}" 2>/dev/null || true
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
export PGDATABASE=$db
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dispatch CASCADE;
SET dispatch.fraud_max_bad_orders = 1000;
SELECT dispatch.create_zone('C', ST_MakeEnvelope(121.40, 31.15, 121.48, 31.22, 4326));
SELECT dispatch.create_merchant(1, 'M', 121.437, 31.188);
SELECT dispatch.add_item(1, 'noodles', 2800);
SELECT dispatch.register_customer('+8613800000001', 'Cancel Customer');
SELECT dispatch.place_order(1, 1, '[{"item_id": 1, "qty": 1}]', 121.445, 31.196, 'Cancel Road') AS o \gset
SELECT dispatch.confirm_payment(:o, 'ref');
SELECT dispatch.merchant_accept(:o);
SELECT setseed(0.5);
-- copies of that accepted order with pickups spread over 3 x 3 km, and
-- riders of capacity 1 among them (written as restored rows: no triggers)
SET session_replication_role = replica;
DO $$
DECLARE
	cols text;
BEGIN
	SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
	  FROM pg_attribute
	 WHERE attrelid = 'dispatch.orders'::regclass AND attnum > 0 AND NOT attisdropped
	   AND attname NOT IN ('order_id', 'pickup');
	EXECUTE format('INSERT INTO dispatch.orders (order_id, pickup, %s)
	                SELECT dispatch.zone_scoped_id(1, nextval(''dispatch.orders_id_seq'')),
	                       ST_SetSRID(ST_MakePoint(121.41 + random() * 0.06, 31.16 + random() * 0.054), 4326), %s
	                  FROM dispatch.orders o, generate_series(2, 20000)', cols, cols);
END $$;
INSERT INTO dispatch.riders (rider_id, zone_id, capacity, vehicle, status, position, position_at,
                             online_since, shift_started_at, active_orders, created_at)
SELECT nextval('dispatch.riders_id_seq'), 1, 1, 'ebike', 'online',
       ST_SetSRID(ST_MakePoint(121.41 + random() * 0.06, 31.16 + random() * 0.054), 4326),
       now(), now() - interval '1 hour', now() - interval '1 hour', 0, now()
  FROM generate_series(1, 15000);
SET session_replication_role = origin;
-- the long batch: every pair of 200 candidates, solved exactly however long
UPDATE dispatch.matching_settings
   SET candidate_source = 'grid', k_candidates = 200, max_arcs = 2000000000, time_budget_ms = 1e6, max_batch_orders = 20000
 WHERE zone_id = 0;
ANALYZE;
SQL

echo "1..8"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() {   # check description sql-returning-boolean
	local r
	r=$(psql -X -At -c "$2" 2>&1 || true)
	[ "$r" = t ] && ok "$1" || notok "$1 ($r)"
}
nothing_written="SELECT (SELECT count(*) FROM dispatch.offers) = 0
                    AND (SELECT count(*) FROM dispatch.assign_batches) = 0
                    AND (SELECT count(*) FROM dispatch.events WHERE kind = 'offer') = 0
                    AND (SELECT sum(pending_offers) FROM dispatch.riders) = 0"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# 1. statement_timeout
start=$(date +%s%N)
psql -X -At >"$work/a" 2>&1 <<'SQL' || true
\set VERBOSITY verbose
SET statement_timeout = '1s';
SELECT count(*) FROM dispatch.assign_batch(1);
SQL
took=$(ms "$start")
echo "# statement_timeout 1 s: the batch returned after $took ms"
grep -q "ERROR:  57014: canceling statement due to statement timeout" "$work/a" \
	&& ok "statement_timeout stops the batch with 57014" || notok "statement_timeout stops the batch with 57014 ($(cat "$work/a"))"
[ "$took" -lt 4000 ] && ok "... within 3 s of the timeout, in the middle of the solve" \
	|| notok "... within 3 s of the timeout, in the middle of the solve (took $took ms)"
check "the timed-out batch wrote nothing: no offer, batch row, event or slot" "$nothing_written"

# 2. pg_cancel_backend, from another session, once the batch has run 1 s
psql -X -At >"$work/b" 2>&1 <<'SQL' &
\set VERBOSITY verbose
SELECT count(*) FROM dispatch.assign_batch(1);
SQL
bg=$!
pid=""
for _ in $(seq 1 100); do
	pid=$(psql -X -At -c "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%assign_batch(1)%' AND pid <> pg_backend_pid() AND state = 'active'")
	[ -n "$pid" ] && break
	sleep 0.05
done
sleep 1
start=$(date +%s%N)
cancelled=$(psql -X -At -c "SELECT pg_cancel_backend($pid)" 2>&1 || true)
wait "$bg" || true
bg=
took=$(ms "$start")
echo "# pg_cancel_backend: the batch returned $took ms after the cancel"
grep -q "ERROR:  57014: canceling statement due to user request" "$work/b" \
	&& ok "pg_cancel_backend stops the batch with 57014" || notok "pg_cancel_backend stops the batch with 57014 ($cancelled: $(cat "$work/b"))"
[ "$took" -lt 3000 ] && ok "... within 3 s of the cancel" || notok "... within 3 s of the cancel (took $took ms)"
check "the cancelled batch wrote nothing: no offer, batch row, event or slot" "$nothing_written"

# 3. a normal batch (the shipped settings) succeeds
psql -X -q -c "UPDATE dispatch.matching_settings SET candidate_source = 'index', k_candidates = 12, max_arcs = 500000, time_budget_ms = 100, max_batch_orders = 5000 WHERE zone_id = 0"
r=$(psql -X -At -c "SELECT count(*) FROM dispatch.assign_batch(1)" 2>&1 || true)
[ "$r" -gt 0 ] 2>/dev/null && ok "a normal batch afterwards writes offers ($r)" || notok "a normal batch afterwards writes offers ($r)"
check "... and records itself" \
	"SELECT count(*) = 1 AND sum(offers) = (SELECT count(*) FROM dispatch.offers) FROM dispatch.assign_batches"
