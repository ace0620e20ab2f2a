#!/usr/bin/env bash
# test/tap/dump_restore.t: a database with data and the operator's
# configuration survives pg_dump -Fc and pg_restore into a new database.
# The city of test/upgrade/before.sql (orders in every status, payments,
# events, offers, feedback, consents, the growth rollup) plus the operator's settings:
# retention policies set with set_retention_policy, matching_settings of
# zone 0 and of a zone, edited vehicle profiles.  Every table of the
# extension and every sequence is compared row by row (md5 of the ordered
# rows); only the install time of the shipped retention policies may differ.
# Then dispatch.after_restore() changes nothing (the cluster's transaction
# ids kept rising; test/tap/restore_cluster.t restores into another
# cluster).  Last the shipped rows: deleting them is refused (DP308),
# inserting over an operator's row is a unique violation, over a shipped
# one a replacement.
# Runs in databases of its own.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
src=dispatch_dump_src_t
dst=dispatch_dump_dst_t
work=$(mktemp -d)
cleanup() {
	for db in $src $dst; do
		psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

for db in $src $dst; do
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
done
export PGOPTIONS='-c client_min_messages=warning'
psql -X -q -v ON_ERROR_STOP=1 -d $src -c "CREATE EXTENSION dispatch CASCADE" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d $src -f "$here/test/upgrade/before.sql" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d $src >/dev/null <<'SQL'
SET dispatch.clock_override = '2026-03-02 12:10:00+00';
-- more of the operator's configuration
SELECT dispatch.set_retention_policy('order_text', '14 days');
SELECT dispatch.set_retention_policy('dropoff_point', '60 days', true, 0.05);
SELECT dispatch.set_retention_policy('events', '90 days', false);
UPDATE dispatch.matching_settings SET hold_cost = 1200, candidate_source = 'grid' WHERE zone_id = 0;
UPDATE dispatch.vehicle_profiles SET speed_factor = 0.9, max_pickup_m = 5000 WHERE vehicle = 'bicycle';
UPDATE dispatch.vehicle_profiles SET max_pickup_m = 8000 WHERE vehicle = 'ebike';
INSERT INTO dispatch.sentiment_lexicon (term, weight, note) VALUES ('坨了', -2, 'noodles gone soggy');
-- and more data: an errand, pings, an erased customer, a rotated key
SELECT dispatch.place_errand(3, 121.43, 31.19, 121.44, 31.20, 'Errand Gate 1', 'buy medicine', 900);
SELECT dispatch.update_rider_location(1, 121.431, 31.191);
SELECT dispatch.rotate_customer_key(4);
SELECT dispatch.forget_customer(2);
SELECT dispatch.export_customer(1) IS NOT NULL;
SQL
# the growth rollup, counted up to its cursors: a restore brings back both,
# so that the next incremental run goes on from where it stopped
psql -X -q -v ON_ERROR_STOP=1 -d $src -c "SELECT dispatch.rollup_campaigns()" >/dev/null

# every table of the extension, row by row, and every sequence
digest() {   # digest DB OUT
	psql -X -At -v ON_ERROR_STOP=1 -d "$1" >"$2" <<'SQL'
SET search_path = pg_catalog;
CREATE TEMP TABLE d (line text);
DO $$
DECLARE
	r record;
	v text;
BEGIN
	FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c
	          WHERE c.relnamespace = 'dispatch'::regnamespace AND c.relkind IN ('r', 'S') ORDER BY c.relname LOOP
		IF r.relkind = 'S' THEN
			EXECUTE format('SELECT format(''sequence %%s %%s %%s'', %L, last_value, is_called) FROM %s', r.rel, r.rel) INTO v;
		ELSIF r.rel = 'dispatch.retention_policies'::regclass THEN
			-- the shipped policies carry the time CREATE EXTENSION wrote them
			EXECUTE 'SELECT format(''table dispatch.retention_policies %s %s'', count(*), md5(string_agg(
			             CASE WHEN p.source = ''default'' THEN (p.policy_id, p.data_class, p.keep, p.action, p.cell_deg, p.enabled, p.source)::text
			                  ELSE p::text END, E''\n'' ORDER BY p.policy_id)))
			           FROM dispatch.retention_policies p' INTO v;
		ELSE
			EXECUTE format('SELECT format(''table %%s %%s %%s'', %L, count(*), md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text COLLATE "C"), ''''))) FROM %s t',
			               r.rel, r.rel) INTO v;
		END IF;
		INSERT INTO d VALUES (v);
	END LOOP;
END $$;
SELECT line FROM d ORDER BY line COLLATE "C";
SQL
}

echo "1..14"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() {   # check DB description sql-returning-boolean
	local r
	r=$(psql -X -q -At -d "$1" -c "$3" 2>&1 || true)
	[ "$r" = t ] && ok "$2" || notok "$2 ($r)"
}

start=$(date +%s%N)
# restored rows are applied as they were: no trigger of the order state
# machine fires (docs/operations.md)
if pg_dump -Fc -f "$work/dump" $src 2>"$work/err" &&
	PGOPTIONS='-c session_replication_role=replica' pg_restore --exit-on-error -d $dst "$work/dump" 2>>"$work/err"; then
	ok "pg_dump -Fc and pg_restore (session_replication_role = replica) into a new database run without an error"
else
	notok "pg_dump -Fc and pg_restore (session_replication_role = replica) into a new database run without an error"
	sed 's/^/# /' "$work/err"
fi
echo "# dump and restore: $((($(date +%s%N) - start) / 1000000)) ms"

digest $src "$work/src"
digest $dst "$work/dst"
if diff -U0 "$work/src" "$work/dst" >"$work/diff"; then
	ok "every table and sequence of the extension is the same after the restore"
else
	notok "every table and sequence of the extension is the same after the restore"
	sed 's/^/# /' "$work/diff"
fi
for t in orders matching_settings vehicle_profiles; do
	if grep "^table dispatch.$t " "$work/src" | diff -q - <(grep "^table dispatch.$t " "$work/dst") >/dev/null; then
		ok "dispatch.$t is the same after the restore"
	else
		notok "dispatch.$t is the same after the restore"
	fi
done
check $dst "the operator's settings are in force: zone 0, zone 1, vehicles, retention" \
	"SELECT (SELECT offer_ttl_s = 60 AND hold_cost = 1200 AND candidate_source = 'grid' FROM dispatch.matching_settings WHERE zone_id = 0)
	    AND (SELECT k_candidates = 20 AND hold_cost = 1500 FROM dispatch.matching_settings WHERE zone_id = 1)
	    AND (SELECT array_agg(format('%s:%s:%s:%s', vehicle, speed_factor, max_pickup_m, max_trip_m) ORDER BY vehicle)
	           FROM dispatch.vehicle_profiles WHERE source = 'operator') = '{bicycle:0.9:5000:9000,ebike:1:8000:12000}'
	    AND (SELECT array_agg(format('%s:%s:%s', data_class, keep, enabled) ORDER BY data_class) FROM dispatch.retention_effective())
	        = '{dropoff_point:60 days:t,eta_predictions:90 days:t,events:90 days:f,feedback_text:30 days:t,intake_refusals:30 days:t,order_text:14 days:t,rider_tracks:14 days:t}'"
check $dst "sealed names open after the restore (same key file), the erased customer stays erased" \
	"SELECT bool_and(CASE WHEN forgotten_at IS NULL
	                      THEN dispatch.pii_open('customer', customer_id, name_enc, 'restore test') = format('Upgrade Customer %s', customer_id)
	                      ELSE name_enc IS NULL AND NOT EXISTS (SELECT FROM dispatch.subject_keys k WHERE k.subject = 'customer' AND k.subject_id = c.customer_id) END)
	   FROM dispatch.customers c"
check $dst "the restored database takes new orders and runs a batch" \
	"SET dispatch.clock_override = '2026-03-02 12:20:00+00';
	 DO \$\$ BEGIN PERFORM dispatch.confirm_payment(dispatch.place_order(5, 1, '[{\"item_id\": 2, \"qty\": 1}]',
	                                                                     121.445, 31.196, 'After Restore Road'), 'psp-r'); END \$\$;
	 SELECT (SELECT status FROM dispatch.orders WHERE zone_id = 1 ORDER BY order_id DESC LIMIT 1) = 'placed'
	    AND (SELECT count(*) FROM dispatch.assign_batch(1)) >= 0"

check $dst "after a restore into the same cluster the outbox lies below its numbers: after_restore() changes nothing" \
	"SET ROLE dispatch_admin;
	 SELECT WHERE set_config('t.base', dispatch.after_restore()::text, false) IS NULL;
	 RESET ROLE;
	 SELECT current_setting('t.base') = '0' AND NOT EXISTS (SELECT FROM dispatch.event_base)"

# the shipped rows
r=$(psql -X -At -d $dst -c "\\set VERBOSITY verbose" -c "DELETE FROM dispatch.matching_settings WHERE zone_id = 0" 2>&1 || true)
if grep -q 'DP308' <<<"$r" && [ "$(psql -X -At -d $dst -c "SELECT count(*) FROM dispatch.matching_settings WHERE zone_id = 0")" = 1 ]; then
	ok "deleting zone 0's matching settings is refused with DP308"
else
	notok "deleting zone 0's matching settings is refused with DP308 ($r)"
fi
r=$(psql -X -At -d $dst -c "\\set VERBOSITY verbose" -c "DELETE FROM dispatch.vehicle_profiles WHERE vehicle = 'car'" 2>&1 || true)
if grep -q 'DP308' <<<"$r" && [ "$(psql -X -At -d $dst -c "SELECT count(*) FROM dispatch.vehicle_profiles")" = 5 ]; then
	ok "deleting a vehicle profile is refused with DP308"
else
	notok "deleting a vehicle profile is refused with DP308 ($r)"
fi
r=$(psql -X -At -d $dst -c "\\set VERBOSITY verbose" -c "INSERT INTO dispatch.vehicle_profiles VALUES ('bicycle', 1, 1, 1)" 2>&1 || true)
if grep -q '23505' <<<"$r"; then
	ok "inserting over an operator's row is a unique violation"
else
	notok "inserting over an operator's row is a unique violation ($r)"
fi
check $dst "inserting over a shipped row replaces it, as the operator's" \
	"INSERT INTO dispatch.vehicle_profiles VALUES ('car', 1.1, 14000, 30000);
	 SELECT (SELECT format('%s:%s:%s', speed_factor, max_trip_m, source) FROM dispatch.vehicle_profiles WHERE vehicle = 'car') = '1.1:30000:operator'"
check $dst "an unchanged update keeps a row shipped, a change makes it the operator's" \
	"UPDATE dispatch.vehicle_profiles SET max_trip_m = max_trip_m WHERE vehicle = 'foot';
	 UPDATE dispatch.vehicle_profiles SET max_trip_m = max_trip_m + 1 WHERE vehicle = 'motorbike';
	 SELECT (SELECT source FROM dispatch.vehicle_profiles WHERE vehicle = 'foot') = 'default'
	    AND (SELECT source FROM dispatch.vehicle_profiles WHERE vehicle = 'motorbike') = 'operator'"
