#!/usr/bin/env bash
# test/tap/restore_cluster.t: an outbox restored into another cluster.  The
# source, in the shared cluster, numbers its events after some 30000
# transactions; pg_dump -Fc, then pg_restore into a new cluster of the
# test's own (dispatch preloaded, its relay serving the database), whose
# transaction ids lag far behind.  Before dispatch.after_restore() a
# backend's first event is refused (DP109), nothing written; after it (as
# dispatch_admin) the same session's next event, and every new event, is
# numbered above the restored outbox by the margin, events_since from the
# last seq a gateway had read hands out exactly the new events, and a
# second call changes nothing; the relay goes past the restored outbox to
# the new events.  Needs the server binaries in PATH and the
# key file of the dev cluster ($PGDEV_KEYS): run it through tools/pgdev.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
keys=${PGDEV_KEYS:?run through tools/pgdev}
command -v initdb >/dev/null || { echo "1..0 # SKIP initdb is not in PATH"; exit 0; }

if [ "$(id -u)" -eq 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi
src=dispatch_restore_src_t
dst=restored
work=$(mktemp -d)
chmod 755 "$work"
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
cleanup() {
	[ -f "$work/t/postmaster.pid" ] && (cd / && as_pg pg_ctl -D "$work/t" -m immediate stop >/dev/null 2>&1)
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $src WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
export PGOPTIONS='-c client_min_messages=warning'

n=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

# the source: a small city whose events are numbered after 30000 transactions
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $src WITH (FORCE)" -c "CREATE DATABASE $src" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d $src >/dev/null <<'SQL'
CREATE EXTENSION dispatch CASCADE;
SELECT dispatch.create_zone('R', ST_MakeEnvelope(121.40, 31.15, 121.48, 31.22, 4326));
SELECT dispatch.create_merchant(1, 'M', 121.437, 31.188);
SELECT dispatch.add_item(1, 'noodles', 2800);
SELECT dispatch.register_customer(format('+861380000000%s', i), format('C%s', i)) FROM generate_series(1, 4) i;
DO $$ BEGIN FOR i IN 1..30000 LOOP PERFORM pg_catalog.pg_current_xact_id(); COMMIT; END LOOP; END $$;
SELECT dispatch.confirm_payment(dispatch.place_order(1 + i % 4, 1, '[{"item_id": 1, "qty": 1}]', 121.445, 31.196, 'Source Road'),
                                'src-' || i)
  FROM generate_series(1, 5) i;
SELECT dispatch.place_order(1, 1, '[{"item_id": 1, "qty": 1}]', 121.445, 31.196, 'Source Road');
SQL
# what a gateway had read: the whole outbox
last=$(psql -X -At -d $src -c "SELECT max(seq) FROM dispatch.events_since(0, 100000)")
pg_dump -Fc -f "$work/dump" $src

# the new cluster
as_pg cp "$keys" "$work/keys"
as_pg chmod 600 "$work/keys"
tp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd / && as_pg initdb -D "$work/t" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null)
as_pg tee -a "$work/t/postgresql.conf" >/dev/null <<CONF
port = $tp
listen_addresses = ''
unix_socket_directories = '$work'
shared_preload_libraries = 'dispatch'
dispatch.relay_databases = '$dst'
dispatch.master_key_file = '$work/keys'
fsync = off
CONF
(cd / && as_pg pg_ctl -D "$work/t" -l "$work/t.log" -w start >/dev/null)
export PGHOST=$work PGPORT=$tp PGUSER=postgres PGDATABASE=$dst
psql -X -q -d postgres -c "CREATE DATABASE $dst" >/dev/null
q() { psql -X -q -At -c "$1" 2>&1; }

echo "1..8"

PGOPTIONS="$PGOPTIONS -c session_replication_role=replica" pg_restore --exit-on-error -d $dst "$work/dump" 2>"$work/restore.err"
r=$?
restored=$(q "SELECT count(*) FROM dispatch.events")
[ $r -eq 0 ] && [ "$(q "SELECT max(seq) FROM dispatch.events")" = "$last" ] &&
	[ "$(q "SELECT (max(seq) >> 20) > pg_current_xact_id()::text::bigint + 20000 FROM dispatch.events")" = t ]
ok $? "restored into a new cluster: $restored events, numbered far above its transaction ids"
[ $r -eq 0 ] || sed 's/^/# /' "$work/restore.err"

# one session: a new event refused; after_restore() committed by another
# session; the same session's next event numbered above the restored ones
out=$(psql -X -q -At -v VERBOSITY=verbose 2>&1 <<SQL
SELECT dispatch.confirm_payment((SELECT max(order_id) FROM dispatch.orders WHERE status = 'pending_payment'), 'dst-1');
SELECT 'count ' || count(*) FROM dispatch.events;
\! psql -X -q -At -c "SET ROLE dispatch_admin" -c "SELECT 'base ' || dispatch.after_restore()" >"$work/base"
SELECT dispatch.confirm_payment((SELECT max(order_id) FROM dispatch.orders WHERE status = 'pending_payment'), 'dst-1');
SELECT 'count ' || count(*) FROM dispatch.events;
SQL
)
grep -q '^ERROR:  DP109: this node would number events below the last event of the outbox' <<<"$out" &&
	grep -q 'dispatch.after_restore()' <<<"$out" && [ "$(grep '^count ' <<<"$out" | head -1)" = "count $restored" ]
r2=$?
ok $r2 "before after_restore() a backend's first event is refused with DP109, naming after_restore(), nothing written"
after=$(grep '^count ' <<<"$out" | tail -1 | cut -d' ' -f2)
grep -q '^base [1-9]' "$work/base" && [ "${after:-0}" -gt "$restored" ] &&
	[ "$(q "SELECT status FROM dispatch.orders WHERE order_id = (SELECT max(order_id) FROM dispatch.orders)")" = placed ]
r3=$?
ok $r3 "after_restore() as dispatch_admin raises the base ($(cat "$work/base")), and the refused session's next event is written"
[ $r2 -eq 0 ] && [ $r3 -eq 0 ] || sed 's/^/# /' <<<"$out"

# new orders, each step its own transaction, each order a new session
for i in 1 2 3; do
	psql -X -q -v ON_ERROR_STOP=1 >/dev/null 2>>"$work/orders.err" <<SQL
SELECT dispatch.place_order($i, 1, '[{"item_id": 1, "qty": 2}]', 121.445, 31.196, 'New Road') AS o \gset
SELECT dispatch.confirm_payment(:o, 'dst-n$i');
SELECT dispatch.merchant_accept(:o);
SQL
done
new=$(q "SELECT count(*) FROM dispatch.events WHERE seq > $last")
[ "$new" -ge 10 ] && [ "$(q "SELECT count(*) FROM dispatch.events")" = "$((restored + new))" ] &&
	[ "$(q "SELECT min(seq) >> 20 > ($last >> 20) + 4294967296 FROM dispatch.events WHERE seq > $last")" = t ]
ok $? "every new event ($new) is numbered above the restored outbox, by the default margin of 2^32 transactions"
r=$(q "SELECT format('%s %s', (SELECT count(*) FROM dispatch.events_since($last, 1000)),
                              (SELECT count(*) FROM dispatch.events_since($last, 1000) s
                                WHERE NOT EXISTS (SELECT FROM dispatch.events e WHERE e.seq = s.seq AND e.seq > $last)))")
[ "$new" -ge 10 ] && [ "$r" = "$new 0" ]
ok $? "events_since from the last seq a gateway read on the old cluster hands out exactly the new events ($r)"
base=$(sed -n 's/^base //p' "$work/base")
[ "$(q "SET ROLE dispatch_admin; SELECT dispatch.after_restore()")" = "$base" ] &&
	[ "$(q "SELECT base FROM dispatch.event_base")" = "$base" ]
ok $? "a second after_restore() changes nothing and returns the base ($base)"
r=$(psql -X -q -At -v VERBOSITY=verbose -c "SET ROLE dispatch_admin" -c "SELECT dispatch.after_restore(-1)" \
	-c "SELECT dispatch.after_restore(NULL)" 2>&1)
[ "$(grep -c '^ERROR:  DP025: after_restore needs a margin between 0 and 2^40 transactions' <<<"$r")" = 2 ]
ok $? "a margin below 0, or NULL, is refused with DP025"
max=$(q "SELECT max(seq) FROM dispatch.events")
for _ in $(seq 100); do [ "$(q "SELECT position >= $max FROM dispatch.relay_status()")" = t ] && break; sleep 0.1; done
[ "$(q "SELECT ready AND position >= $max FROM dispatch.relay_status()")" = t ]
ok $? "the database's relay has gone past the restored outbox and the new events ($(q "SELECT position FROM dispatch.relay_status()"), last $max)"
