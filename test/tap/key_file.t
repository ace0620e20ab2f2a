#!/usr/bin/env bash
# test/tap/key_file.t: every way the key file can be wrong raises DP401 and
# writes nothing (src/keys.c): no key file configured, the file missing,
# readable by its group or by others (also for a session that had already
# read it), a directory or a pipe in its place, a malformed line, a master
# version given twice, no index key, no master key, and a data key wrapped
# by a master version that is no longer in the file.  Every case changes the cluster's key file
# ($PGDEV_KEYS) and restores it; each call is a new session unless said
# otherwise.  Runs in a database of its own.
set -euo pipefail
db=dispatch_key_file_t
keys=${PGDEV_KEYS:?run through tools/pgdev}
work=$(mktemp -d)
cp -p "$keys" "$work/keys.orig"
# a directory and a pipe, each the server's and closed to others as a key
# file is, where the server can reach them
notfile=$(dirname "$keys")/key_file_t
if [ "$(id -u)" -eq 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi
restore() {
	# a server that opened the pipe waits for a writer: give it one
	if [ -p "$notfile.fifo" ]; then timeout 2 sh -c ": >'$notfile.fifo'" 2>/dev/null || true; fi
	rm -rf "$notfile.dir" "$notfile.fifo"
	[ -e "$keys" ] || mv "$keys.away" "$keys" 2>/dev/null || true
	cat "$work/keys.orig" >"$keys"
	chmod 600 "$keys"
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap restore EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
export PGDATABASE=$db
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dispatch CASCADE;
SELECT dispatch.register_customer('+8613800000001', 'Key Customer 1');
SQL

echo "1..17"
n=0
footprint="SELECT format('%s/%s/%s/%s', (SELECT count(*) FROM dispatch.customers), (SELECT count(*) FROM dispatch.subject_keys),
                     (SELECT count(*) FROM dispatch.pii_access_log), (SELECT count(*) FROM dispatch.privacy_requests))"
refused() {   # refused description message-pattern [psql args...]: DP401 with the message, nothing written (in 20 s)
	local what=$1 pattern=$2 r before after
	shift 2
	before=$(psql -X -At -c "$footprint")
	r=$(timeout 20 psql -X -At -c "\\set VERBOSITY verbose" "$@" 2>&1 || true)
	after=$(psql -X -At -c "$footprint")
	n=$((n + 1))
	if grep -q "ERROR:  DP401: $pattern" <<<"$r" && [ "$before" = "$after" ]; then
		echo "ok $n - $what: DP401, nothing written"
	else
		echo "not ok $n - $what: DP401, nothing written ($before -> $after: $r)"
	fi
}
register=(-c "SELECT dispatch.register_customer('+8613800000077', 'Key Customer X')")
hex() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

refused "no key file configured" "no master key is configured" \
	-c "SET dispatch.master_key_file = ''" "${register[@]}"

mv "$keys" "$keys.away"
refused "the key file is missing" "could not read master key file \"$keys\": No such file or directory" "${register[@]}"
mv "$keys.away" "$keys"

chmod 640 "$keys"
refused "the key file is readable by its group" "master key file \"$keys\" is accessible to other users" "${register[@]}"
chmod 604 "$keys"
refused "the key file is readable by others" "master key file \"$keys\" is accessible to other users" "${register[@]}"
chmod 600 "$keys"

# not a file: read as one, a directory looked empty ("lacks a master or an
# index key") and a pipe stopped the session until something wrote to it
as_pg mkdir -m 700 "$notfile.dir"
refused "the key file is a directory" "master key file \"$notfile.dir\" is not a regular file" \
	-c "SET dispatch.master_key_file = '$notfile.dir'" "${register[@]}"
as_pg mkfifo -m 600 "$notfile.fifo"
refused "the key file is a pipe" "master key file \"$notfile.fifo\" is not a regular file" \
	-c "SET dispatch.master_key_file = '$notfile.fifo'" "${register[@]}"

# a session that read the file before it became readable by others
r=$(psql -X -At -c "\\set VERBOSITY verbose" -c "SELECT dispatch.find_customer_by_phone('+8613800000001')" \
	-c "\\! chmod 644 $keys" -c "SELECT dispatch.find_customer_by_phone('+8613800000001')" 2>&1 || true)
chmod 600 "$keys"
n=$((n + 1))
if [ "$(echo "$r" | head -1)" = 1 ] && grep -q "ERROR:  DP401: master key file \"$keys\" is accessible to other users" <<<"$r"; then
	echo "ok $n - a session that had read the key file refuses it once it is readable by others"
else
	echo "not ok $n - a session that had read the key file refuses it once it is readable by others ($r)"
fi

{ cat "$work/keys.orig"; echo "master 2 $(hex | cut -c1-63)"; } >"$keys"
refused "a key of 63 hex digits" "invalid line 4 in master key file" "${register[@]}"
{ cat "$work/keys.orig"; echo "master 2 $(hex | cut -c1-62)zz"; } >"$keys"
refused "a key that is not hexadecimal" "invalid line 4 in master key file" "${register[@]}"
{ cat "$work/keys.orig"; echo "mastre 2 $(hex)"; } >"$keys"
refused "an unknown keyword" "invalid line 4 in master key file" "${register[@]}"
{ cat "$work/keys.orig"; echo "master 1 $(hex)"; } >"$keys"
refused "a master version given twice" "invalid line 4 in master key file" "${register[@]}"
grep -v '^index ' "$work/keys.orig" >"$keys"
refused "no index key" "master key file \"$keys\" lacks a master or an index key" "${register[@]}"
grep -v '^master ' "$work/keys.orig" >"$keys"
refused "no master key" "master key file \"$keys\" lacks a master or an index key" "${register[@]}"

# a data key wrapped by version 2, and version 2 destroyed
{ cat "$work/keys.orig"; echo "master 2 $(hex)"; } >"$keys"
psql -X -q -v ON_ERROR_STOP=1 -c "SELECT dispatch.register_customer('+8613800000002', 'Key Customer 2')" >/dev/null
cat "$work/keys.orig" >"$keys"
refused "the master version of a data key is no longer in the file" "master key version 2 is not in the key file" \
	-c "SELECT dispatch.export_customer(2)"

cat "$work/keys.orig" >"$keys"
r=$(psql -X -At -c "SELECT dispatch.pii_open('customer', 1, name_enc, 'test') FROM dispatch.customers WHERE customer_id = 1" 2>&1 || true)
n=$((n + 1))
[ "$r" = "Key Customer 1" ] && echo "ok $n - with the key file restored, the data opens again" \
	|| echo "not ok $n - with the key file restored, the data opens again ($r)"

# a transaction keeps each data key it unwrapped (src/keys.c), but not
# across a change of the key file: master version 1 replaced by another key
# in the middle of a transaction, the customer's key is unwrapped again and
# fails (pgcrypto's 39000), where a kept key would have opened the name
sed "s/^master 1 .*/master 1 $(hex)/" "$work/keys.orig" >"$work/keys.other"
r=$(psql -X -At -v VERBOSITY=verbose 2>&1 <<SQL || true
BEGIN;
SELECT 'first ' || dispatch.pii_open('customer', 1, name_enc, 'test') FROM dispatch.customers WHERE customer_id = 1;
SELECT 'again ' || dispatch.pii_open('customer', 1, name_enc, 'test') FROM dispatch.customers WHERE customer_id = 1;
\! cat "$work/keys.other" >"$keys"; touch -d "@\$((\$(stat -c %Y "$keys") + 5))" "$keys"
SELECT 'changed ' || dispatch.pii_open('customer', 1, name_enc, 'test') FROM dispatch.customers WHERE customer_id = 1;
ROLLBACK;
SQL
)
cat "$work/keys.orig" >"$keys"
n=$((n + 1))
if grep -qx 'first Key Customer 1' <<<"$r" && grep -qx 'again Key Customer 1' <<<"$r" &&
	grep -q 'ERROR:  39000' <<<"$r" && ! grep -q '^changed ' <<<"$r"; then
	echo "ok $n - a key kept in a transaction is unwrapped again once the key file changes (and fails under another master key)"
else
	echo "not ok $n - a key kept in a transaction is unwrapped again once the key file changes ($r)"
fi

# the same within one second and at the same length: the file's time to
# the nanosecond (and its inode and status change) tell the change, where
# seconds and size would not (the new file gets the old one's second)
m=$(stat -c %Y "$keys")
r=$(psql -X -At -v VERBOSITY=verbose 2>&1 <<SQL || true
BEGIN;
SELECT 'first ' || dispatch.pii_open('customer', 1, name_enc, 'test') FROM dispatch.customers WHERE customer_id = 1;
\! cat "$work/keys.other" >"$keys"; touch -d "@$m" "$keys"
SELECT 'changed ' || dispatch.pii_open('customer', 1, name_enc, 'test') FROM dispatch.customers WHERE customer_id = 1;
ROLLBACK;
SQL
)
cat "$work/keys.orig" >"$keys"
n=$((n + 1))
if grep -qx 'first Key Customer 1' <<<"$r" && grep -q 'ERROR:  39000' <<<"$r" && ! grep -q '^changed ' <<<"$r"; then
	echo "ok $n - a key file replaced by one of the same length within the same second is read again"
else
	echo "not ok $n - a key file replaced by one of the same length within the same second is read again ($r)"
fi
