#!/usr/bin/env bash
# test/citus/key_rotation.t: on the Citus cluster of `tools/pgdev citus`,
# rotate_master_key and rotate_index_key wait for a registration in flight
# before they return 0, as on one server (test/isolation/specs/key_retire.spec):
# a customer registered in a transaction that read the key file before the
# new version was added, and that commits while the rotation runs, ends
# under the new master and index versions, and master_key_versions counts
# no data key under the old one.  The wait reaches every node
# (_wait_for_writers), and a worker that cannot wait fails the call
# (DP419).  The versions added stay in the cluster's key file (every node
# reads it): the data is wrapped under them afterwards.
set -uo pipefail
: "${PGDEV_WORKER_PORTS:?run through tools/pgdev citus}"
keys=${PGDEV_KEYS:?run through tools/pgdev citus}
echo "1..7"
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2 ($3)"; fi; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "$1"; }
hex() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
q "SELECT dispatch.distribute() WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'dispatch.orders'::regclass)" >/dev/null
master=$(($(q "SELECT max(version) FROM dispatch.master_key_versions()") + 1))
index=$(($(q "SELECT max(v) FROM unnest(dispatch._index_key_versions()) v") + 1))
phone=+86138009$(printf '%05d' $((RANDOM % 100000)))

# rotate until 0, the first call started while the registration is in flight
rotate() {   # rotate FUNCTION: prints the total
	local total=0 r
	while r=$(q "SELECT dispatch.$1(1000)") && [ "$r" -gt 0 ]; do total=$((total + r)); done
	echo "$total"
}
# inflight LINE PHONE FUNCTION: a registration of PHONE in flight (it reads
# the key file first and commits 8 s later) while LINE is added to the key
# file and FUNCTION runs until 0; prints the keys rotated and, as the
# rotation returned 0, the customer registered (none while in flight)
inflight() {
	local r seen
	psql -X -q -At -v ON_ERROR_STOP=1 -c "BEGIN" -c "SELECT dispatch.register_customer('$2', NULL)" \
		-c "SELECT pg_sleep(8)" -c "COMMIT" >/dev/null 2>&1 &
	local bg=$!
	sleep 1.5
	echo "$1" >>"$keys"
	r=$(rotate "$3")
	seen=$(q "SELECT dispatch.find_customer_by_phone('$2')")
	wait "$bg"
	echo "$r ${seen:-none}"
}

read -r r seen < <(inflight "master $master $(hex)" "$phone" rotate_master_key)
c=$(q "SELECT dispatch.find_customer_by_phone('$phone')")
[ -n "$c" ] && [ "$seen" = "$c" ]
ok $? "the master rotation returned 0 only after the registration in flight committed (re-wrapped $r keys)" "customer $c, seen '$seen'"
v=$(q "SELECT key_version FROM dispatch.subject_keys WHERE subject = 'customer' AND subject_id = $c")
[ "$v" = "$master" ]
ok $? "its data key is under the new master version $master" "$v"
v=$(q "SELECT coalesce(sum(data_keys) FILTER (WHERE version < $master), 0) FROM dispatch.master_key_versions()")
[ "$v" = 0 ]
ok $? "master_key_versions counts no data key under an older version" "$v"

phone2=+86138008$(printf '%05d' $((RANDOM % 100000)))
read -r r seen < <(inflight "index $index $(hex)" "$phone2" rotate_index_key)
c2=$(q "SELECT dispatch.find_customer_by_phone('$phone2')")
[ -n "$c2" ] && [ "$seen" = "$c2" ]
ok $? "the index rotation returned 0 only after the registration in flight committed (indexed $r anew)" "customer $c2, seen '$seen'"
v=$(q "SELECT phone_index_version FROM dispatch.customers WHERE customer_id = $c2")
[ "$v" = "$index" ]
ok $? "its blind index is under the new index version $index" "$v"
v=$(q "SELECT (SELECT count(*) FROM dispatch.customers WHERE phone_index IS NOT NULL AND phone_index_version <> $index)
            + (SELECT count(*) FROM dispatch.riders WHERE phone_index IS NOT NULL AND phone_index_version <> $index)")
[ "$v" = 0 ]
ok $? "no customer or rider is left under an older index version" "$v"

# a worker that cannot wait (its function renamed away for the test):
# master_key_versions cannot count, and says so
worker=${PGDEV_WORKER_PORTS%% *}
away() { psql -X -q -p "$worker" -c "SET citus.enable_ddl_propagation = off" -c "ALTER FUNCTION dispatch.$1 RENAME TO $2" >/dev/null 2>&1; }
away "_wait_for_writers_here(regclass[])" _wait_for_writers_here_away
trap 'away "_wait_for_writers_here_away(regclass[])" _wait_for_writers_here' EXIT
r=$(psql -X -At -v VERBOSITY=verbose -c "SELECT * FROM dispatch.master_key_versions()" 2>&1)
away "_wait_for_writers_here_away(regclass[])" _wait_for_writers_here
trap - EXIT
grep -q "ERROR:  DP419: could not wait for the writers of dispatch.subject_keys on the worker localhost:$worker" <<<"$r"
ok $? "a worker that cannot wait for the writers fails master_key_versions (DP419)" "$r"
