#!/usr/bin/env bash
# test/tap/tls.t: the dev cluster speaks TLS as production should
# (docs/operations.md): a TCP connection without TLS is refused; with
# sslmode=verify-full and the cluster's CA the client connects and the
# server is verified; a host name the certificate does not name, or a CA
# the client does not trust, is refused by the client; and the API works
# over TLS, events reaching a listener that connects the same way.  Runs in
# a database of its own.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
ca=${PGDEV_SSLROOTCERT:-}
[ -n "$ca" ] && [ -r "$ca" ] || { echo "1..0 # SKIP the cluster has no TLS (run through tools/pgdev)"; exit 0; }
db=dispatch_tls_t
work=$(mktemp -d)
trap 'kill "${lpid:-}" 2>/dev/null; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; rm -rf "$work"' EXIT
port=${PGPORT:-5432}
n=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..6"

r=$(psql -X -At "host=127.0.0.1 port=$port dbname=postgres user=postgres sslmode=disable" -c "SELECT 1" 2>&1)
[[ $r == *"pg_hba.conf rejects connection"*"no encryption"* ]]
ok $? "a TCP connection without TLS is refused by the server"

tls="host=localhost port=$port user=postgres sslmode=verify-full sslrootcert=$ca"
r=$(psql -X -At "$tls dbname=postgres" -c "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1)
[[ $r == "t|TLSv1."[23] ]]
ok $? "with verify-full and the cluster's CA the client connects over TLS ($r)"

r=$(psql -X -At "host=127.0.0.1 port=$port dbname=postgres user=postgres sslmode=verify-full sslrootcert=$ca" -c "SELECT 1" 2>&1)
[[ $r == *"does not match host name"* ]]
ok $? "verify-full refuses a host name the certificate does not name"

(cd "$work" && openssl req -new -x509 -days 1 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	-subj "/CN=some other CA" -keyout other.key -out other.crt 2>/dev/null)
r=$(psql -X -At "host=localhost port=$port dbname=postgres user=postgres sslmode=verify-full sslrootcert=$work/other.crt" -c "SELECT 1" 2>&1)
[[ $r == *"certificate verify failed"* ]]
ok $? "a client that trusts another CA refuses the server"

# the API over TLS
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1
export PGHOST=localhost PGSSLMODE=verify-full PGSSLROOTCERT=$ca PGDATABASE=$db PGUSER=postgres PGPORT=$port
psql -X -q -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dispatch CASCADE;
SELECT dispatch.create_zone('T', ST_GeomFromText('POLYGON((121.40 31.15, 121.48 31.15, 121.48 31.22, 121.40 31.22, 121.40 31.15))', 4326));
SELECT dispatch.create_merchant(1, 'M', 121.437, 31.188);
SELECT dispatch.add_item(1, 'noodles', 2800);
SELECT dispatch.register_customer('+8613800000001', 'TLS Customer');
SQL
"$here/tools/listen" -t 2 >"$work/got" 2>"$work/err" &
lpid=$!
for _ in $(seq 100); do grep -q listening "$work/err" 2>/dev/null && break; sleep 0.05; done
o=$(psql -X -At -c "SELECT dispatch.place_order(1, 1, '[{\"item_id\": 1, \"qty\": 1}]', 121.445, 31.196, 'TLS Road 1')" 2>&1)
p=$(psql -X -At -c "SELECT dispatch.confirm_payment($o, 'psp-1')" 2>&1)
[[ $o =~ ^[0-9]+$ ]] && [[ $p != *ERROR* ]] &&
	[ "$(psql -X -At -c "SELECT status FROM dispatch.orders WHERE order_id = $o")" = placed ]
ok $? "an order is placed and paid over TLS ($o)"
wait "$lpid"
[ "$(grep -c '"order_status"' "$work/got")" = 2 ]
ok $? "a listener connected over TLS hears both of its events"
