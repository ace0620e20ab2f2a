#!/usr/bin/env bash
# test/tap/listener.t: NOTIFY delivery as a push gateway sees it, outside any
# rolled-back test transaction.  A committed change reaches a LISTENing
# client with the right payload; a rolled-back one never does; every
# notification matches its outbox row.  Runs in a database of its own.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
db=dispatch_listener_t
work=$(mktemp -d)
trap 'kill "${lpid:-}" 2>/dev/null || true; rm -rf "$work"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
export PGDATABASE=$db
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dispatch CASCADE;
SELECT dispatch.create_zone('L', ST_GeomFromText('POLYGON((121.40 31.15, 121.48 31.15, 121.48 31.22, 121.40 31.22, 121.40 31.15))', 4326));
SELECT dispatch.create_merchant(1, 'M', 121.437, 31.188);
SELECT dispatch.add_item(1, 'noodles', 2800);
SELECT dispatch.register_customer('+8613800000001', 'Listener Customer');
SQL

echo "1..12"
"$here/tools/listen" -t 2 >"$work/got" 2>"$work/err" &
lpid=$!
for _ in $(seq 100); do grep -q listening "$work/err" 2>/dev/null && break; sleep 0.05; done

# committed: placed (pending_payment), then paid (placed)
order=$(psql -X -At -c "SELECT dispatch.place_order(1, 1, '[{\"item_id\": 1, \"qty\": 1}]', 121.445, 31.196, 'Listener Road 1')")
# rolled back: a payment failure that never happened
psql -X -q -c "BEGIN" -c "SELECT dispatch.fail_payment($order, 'declined')" -c "ROLLBACK" >/dev/null
psql -X -q -c "SELECT dispatch.confirm_payment($order, 'psp-1')" >/dev/null
wait "$lpid" || true

n=$(grep -c . "$work/got" || true)
[ "$n" -eq 2 ] && echo "ok 1 - two committed changes, two notifications" || echo "not ok 1 - expected 2 notifications, got $n"
grep -q '"payment_failed"' "$work/got" && echo "not ok 2 - a rolled-back change was notified" || echo "ok 2 - a rolled-back change is never notified"

# load the payloads and compare them with the outbox
psql -X -q -c "CREATE TABLE got (n serial, payload text)" >/dev/null
psql -X -q -c "\\copy got (payload) FROM '$work/got' WITH (FORMAT text)" >/dev/null
check() {   # check N description sql-returning-boolean
	local r
	r=$(psql -X -At -c "$3" 2>&1 || true)
	[ "$r" = t ] && echo "ok $1 - $2" || echo "not ok $1 - $2 ($r)"
}
check 3 "payloads are JSON with seq, kind, zone, order, customer, status, prev and time" \
	"SELECT bool_and(p::jsonb ?& array['seq','kind','zone','order','customer','status','prev','at']) FROM (SELECT payload AS p FROM got) s"
check 4 "the first notification says pending_payment, the second placed after pending_payment" \
	"SELECT array_agg(payload::jsonb->>'status' ORDER BY n) = '{pending_payment,placed}' AND (SELECT payload::jsonb->>'prev' FROM got WHERE n = 2) = 'pending_payment' FROM got"
check 5 "every notification carries the seq of its outbox row, in commit order" \
	"SELECT array_agg((payload::jsonb->>'seq')::bigint ORDER BY n) = (SELECT array_agg(seq ORDER BY seq) FROM dispatch.events) FROM got"
check 6 "payload ids match the order" \
	"SELECT bool_and((payload::jsonb->>'order')::bigint = $order AND (payload::jsonb->>'zone')::bigint = 1 AND (payload::jsonb->>'customer')::bigint = 1) FROM got"
check 7 "no personal data and far below the 8000-byte limit" \
	"SELECT bool_and(payload !~ 'Listener' AND octet_length(payload) < 1000) FROM got"
check 8 "events_since hands the same events to a gateway catching up" \
	"SELECT array_agg(seq ORDER BY seq) = (SELECT array_agg((payload::jsonb->>'seq')::bigint ORDER BY n) FROM got) FROM dispatch.events_since(0)"
check 9 "notifications carry the order's status versions, 1 then 2, as its outbox rows do" \
	"SELECT array_agg((payload::jsonb->>'version')::int ORDER BY n) = '{1,2}' AND array_agg(payload::jsonb->'version' ORDER BY n) = (SELECT array_agg(payload->'version' ORDER BY seq) FROM dispatch.events) FROM got"

# an event whose payload is far larger than NOTIFY takes: the writer's
# transaction commits, the notification announces it truncated, and the
# outbox holds it whole
"$here/tools/listen" -t 2 >"$work/big" 2>"$work/err" &
lpid=$!
for _ in $(seq 100); do grep -q listening "$work/err" 2>/dev/null && break; sleep 0.05; done
big=$(psql -X -At -c "SELECT dispatch._emit_event(1, 'offer', $order, NULL, NULL, jsonb_build_object('note', repeat('x', 20000)))" 2>&1)
wait "$lpid" || true
if [[ "$big" =~ ^[0-9]+$ ]] && [ "$(grep -c . "$work/big")" -eq 1 ]; then
	echo "ok 10 - a 20 kB event payload commits and is notified once"
else
	echo "not ok 10 - a 20 kB event payload commits and is notified once ($big)"
fi
psql -X -q -c "TRUNCATE got" -c "\\copy got (payload) FROM '$work/big' WITH (FORMAT text)" >/dev/null
check 11 "its notification is short, says truncated, and carries the seq of the whole row in the outbox" \
	"SELECT (payload::jsonb->>'truncated')::boolean AND octet_length(payload) < 1000
	        AND (payload::jsonb->>'seq')::bigint = $big
	        AND (SELECT length(e.payload->>'note') FROM dispatch.events e WHERE e.seq = $big) = 20000 FROM got"
psql -X -q -c "TRUNCATE got" -c "\\copy got (payload) FROM '$work/got' WITH (FORMAT text)" >/dev/null
check 12 "a notification ends with its event's members as the outbox holds them, byte for byte, as the relay sends them" \
	"SELECT bool_and(right(g.payload, length(e.payload::text)) = ',' || substr(e.payload::text, 2)) AND count(*) = 2
	   FROM got g JOIN dispatch.events e ON e.seq = (g.payload::jsonb->>'seq')::bigint"
