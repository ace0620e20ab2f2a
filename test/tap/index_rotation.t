#!/usr/bin/env bash
# test/tap/index_rotation.t: the blind-index key is rotated without
# downtime (docs/operations.md).  Customers and riders are indexed under
# index key 1; a key file with "index 2" is put in place; lookups and the
# duplicate check still find every row while rotate_index_key moves them to
# key 2 in batches; afterwards key 1 leaves the file and every phone is
# still found.  Runs in a database of its own, with a key file of its own.
set -uo pipefail
keys=${PGDEV_KEYS:?run through tools/pgdev}
db=dispatch_index_rotation_t
work=$(mktemp -d)
chmod 755 "$work"
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; rm -rf "$work"' EXIT
if [ "$(id -u)" -eq 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi
n=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..8"

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
export PGDATABASE=$db
psql -X -q -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dispatch CASCADE;
SELECT dispatch.create_zone('I', ST_GeomFromText('POLYGON((121.40 31.15, 121.48 31.15, 121.48 31.22, 121.40 31.22, 121.40 31.15))', 4326));
SELECT dispatch.register_customer('+86138' || lpad(g::text, 8, '0'), 'Customer ' || g) FROM generate_series(1, 30) g;
SELECT dispatch.register_rider(1, 'Rider ' || g, '+86139' || lpad(g::text, 8, '0')) FROM generate_series(1, 5) g;
CREATE TABLE before AS SELECT customer_id, phone_index FROM dispatch.customers;
SQL

# a key file of this database: the cluster's, with a second index key
as_pg cp "$keys" "$work/keys"
echo "index 2 $(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" | as_pg tee -a "$work/keys" >/dev/null
as_pg chmod 600 "$work/keys"
psql -X -q -c "ALTER DATABASE $db SET dispatch.master_key_file = '$work/keys'" >/dev/null

found() {   # how many of the 30 first customers' phones are found, and to the right customer
	psql -X -At -c "SELECT count(*) FROM generate_series(1, 30) g
	                 WHERE dispatch.find_customer_by_phone('+86138' || lpad(g::text, 8, '0')) = g"
}
[ "$(found)" = 30 ]
ok $? "with key 2 in the file, every phone indexed under key 1 is still found"
r=$(psql -X -At -c "SELECT dispatch.register_customer('+8613800000007', 'Twin')" 2>&1)
[[ $r == *"exists already"* ]]
ok $? "a phone indexed under key 1 is still taken for a new customer"
new=$(psql -X -At -c "SELECT dispatch.register_customer('+8613700000001', 'New')")
[ "$(psql -X -At -c "SELECT phone_index_version FROM dispatch.customers WHERE customer_id = $new")" = 2 ]
ok $? "a new customer is indexed under key 2"

total=0; batches=0
while :; do
	k=$(psql -X -At -c "SELECT dispatch.rotate_index_key(7)")
	[ "$k" = 0 ] && break
	total=$((total + k)); batches=$((batches + 1))
	[ "$(found)" = 30 ] || { total=-1; break; }
	[ $batches -gt 20 ] && break
done
[ "$total" = 35 ] && [ "$batches" = 5 ]
ok $? "rotate_index_key moves 30 customers and 5 riders in batches of 7, lookups working between them ($total rows, $batches batches)"
r=$(psql -X -At -c "SELECT count(*) FILTER (WHERE phone_index_version <> 2) FROM dispatch.customers WHERE phone_index IS NOT NULL")
r2=$(psql -X -At -c "SELECT count(*) FROM dispatch.customers c JOIN before b USING (customer_id) WHERE c.phone_index = b.phone_index")
[ "$r" = 0 ] && [ "$r2" = 0 ]
ok $? "every index is now under key 2, none left as it was"

# key 1 leaves the file
as_pg sed -i '/^index [0-9a-f]\{64\}$/d' "$work/keys"
grep -q '^index [0-9a-f]\{64\}$' "$work/keys"; gone=$?
[ $gone -ne 0 ] && [ "$(found)" = 30 ]
ok $? "with key 1 gone from the file, every phone is still found"
r=$(psql -X -At -c "SELECT dispatch.register_customer('+8613800000007', 'Twin')" 2>&1)
[[ $r == *"exists already"* ]]
ok $? "and still taken"
r=$(psql -X -At -c "SELECT count(*) FROM dispatch.riders r WHERE r.phone_index = ANY (SELECT dispatch._phone_index('+86139' || lpad(g::text, 8, '0')) FROM generate_series(1, 5) g)")
[ "$r" = 5 ]
ok $? "riders' indexes moved too ($r of 5 match under key 2)"
