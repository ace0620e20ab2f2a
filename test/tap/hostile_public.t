#!/usr/bin/env bash
# test/tap/hostile_public.t: PostGIS and pgcrypto in a schema that anyone
# may write (public on a cluster upgraded from before PostgreSQL 15), and a
# role that fills it with look-alikes of every PostGIS and pgcrypto function
# the extension uses, before and after CREATE EXTENSION dispatch.  The
# whole API then runs as usual and no look-alike is ever called.  (Release
# 0.1.0 resolved these names at run time through public: its
# export_customer failed once a one-argument st_asgeojson(geometry) made
# the name ambiguous.)  Runs in a database of its own.
set -uo pipefail
db=dispatch_hostile_t
intruder=dispatch_t_intruder
work=$(mktemp -d)
cleanup() {
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS $intruder" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
export PGOPTIONS='-c client_min_messages=warning'
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS $intruder" \
	-c "CREATE DATABASE $db" -c "CREATE ROLE $intruder LOGIN" >/dev/null
export PGDATABASE=$db

echo "1..4"
psql -X -q -v ON_ERROR_STOP=1 >"$work/setup" 2>&1 <<SQL
GRANT CREATE ON SCHEMA public TO PUBLIC;
CREATE EXTENSION postgis;
CREATE EXTENSION pgcrypto;
CREATE TABLE public.hijack_log (fn text, at timestamptz DEFAULT clock_timestamp());
GRANT INSERT, SELECT ON public.hijack_log TO PUBLIC;
SQL

# look-alikes that would win over, or tie with, the real functions for a
# call whose argument types are not exact; each one logs its call
{
	# before CREATE EXTENSION dispatch: signatures that an install-time
	# binding with inexact types could pick
	for f in "st_makepoint(numeric, numeric)->geometry" "st_setsrid(geometry, bigint)->geometry" \
		"st_covers(geometry, text)->boolean" "st_distancesphere(geometry, text)->float8" \
		"st_x(text)->float8" "st_y(text)->float8" "st_multi(text)->geometry" \
		"pgp_sym_encrypt(text, text, varchar)->bytea" "pgp_sym_decrypt(bytea, varchar)->text" \
		"pgp_sym_encrypt_bytea(bytea, text, varchar)->bytea" "pgp_sym_decrypt_bytea(bytea, varchar)->bytea" \
		"gen_random_bytes(bigint)->bytea" "hmac(bytea, bytea, varchar)->bytea"; do
		sig=${f%->*}
		echo "CREATE FUNCTION public.$sig RETURNS ${f#*->} LANGUAGE plpgsql AS \$f\$ BEGIN INSERT INTO public.hijack_log VALUES ('before: ${sig%%(*}'); RETURN NULL; END \$f\$;"
	done
} >"$work/before.sql"
{
	# after: one-argument forms of functions called with defaults, and
	# forms with extra defaulted arguments, which make a run-time lookup
	# ambiguous or capture it
	for f in "st_asgeojson(geometry)->text" "st_covers(geometry, geometry, boolean DEFAULT true)->boolean" \
		"st_distancesphere(geometry, geometry, text DEFAULT '')->float8" \
		"st_makepoint(float8, float8, text DEFAULT '')->geometry" "geometrytype(geometry, text DEFAULT '')->text" \
		"pgp_sym_decrypt(bytea, text, varchar DEFAULT '')->text" \
		"gen_random_bytes(integer, text DEFAULT '')->bytea" "hmac(bytea, bytea, text, text DEFAULT '')->bytea"; do
		sig=${f%->*}
		echo "CREATE FUNCTION public.$sig RETURNS ${f#*->} LANGUAGE plpgsql AS \$f\$ BEGIN INSERT INTO public.hijack_log VALUES ('after: ${sig%%(*}'); RETURN NULL; END \$f\$;"
	done
} >"$work/after.sql"

if psql -X -q -v ON_ERROR_STOP=1 -U "$intruder" -f "$work/before.sql" >>"$work/setup" 2>&1 &&
	psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION dispatch" >>"$work/setup" 2>&1 &&
	psql -X -q -v ON_ERROR_STOP=1 -U "$intruder" -f "$work/after.sql" >>"$work/setup" 2>&1; then
	echo "ok 1 - dispatch installs beside look-alikes in a PUBLIC-writable public"
else
	echo "not ok 1 - dispatch installs beside look-alikes in a PUBLIC-writable public"
	sed 's/^/# /' "$work/setup"
fi

# the whole API, as an application would drive it
if psql -X -q -v ON_ERROR_STOP=1 >"$work/api" 2>&1 <<'SQL'
SET dispatch.clock_override = '2026-03-02 12:00:00+00';
SELECT dispatch.create_zone('H', ST_MakeEnvelope(121.40, 31.15, 121.48, 31.22, 4326));
SELECT dispatch.create_merchant(1, 'M', 121.437, 31.188);
SELECT dispatch.add_item(1, 'noodles', 2800);
SELECT dispatch.register_customer('+8613800000001', 'Hostile Test');
SELECT dispatch.register_rider(1, 'R', '+8613900000001', 2);
SELECT dispatch.rider_online(1, 121.436, 31.187);
SELECT dispatch.update_rider_location(1, 121.4365, 31.1875);
SELECT dispatch.place_order(1, 1, '[{"item_id": 1, "qty": 1}]', 121.445, 31.196, 'Hostile Road 1');
SELECT dispatch.confirm_payment(1099511627777, 'psp');
SELECT dispatch.merchant_accept(1099511627777);
SELECT count(*) FROM dispatch.nearest_riders(1099511627777);
SELECT count(*) FROM dispatch.assign_batch(1);
SELECT dispatch.respond_offer(offer_id, true) FROM dispatch.offers;
SELECT * FROM dispatch.order_contact(1099511627777, 1);
SELECT dispatch.mark_picked_up(1099511627777, 1);
SELECT dispatch.mark_delivered(1099511627777, 1);
SELECT dispatch.submit_feedback(1099511627777, 5, 'fast and hot', 'app');
SELECT dispatch.place_errand(1, 121.44, 31.19, 121.45, 31.20, 'Hostile Road 2', 'a parcel', 900);
SELECT dispatch.find_customer_by_phone('+8613800000001');
SELECT dispatch.export_customer(1) -> 'tables' -> 'orders' -> 0 -> 'dropoff';
SELECT dispatch.rotate_customer_key(1);
SELECT dispatch.cancel_order(o.order_id, 'test') FROM dispatch.orders o WHERE o.status = 'pending_payment';
SELECT dispatch.forget_customer(1);
SQL
then
	echo "ok 2 - every API function works"
else
	echo "not ok 2 - every API function works"
	sed 's/^/# /' "$work/api"
fi
log=$(psql -X -At -c "SELECT string_agg(DISTINCT fn, ', ') FROM public.hijack_log")
[ -z "$log" ] && echo "ok 3 - no look-alike was ever called" || echo "not ok 3 - look-alikes were called: $log"
grep -q '"type": *"Point"' "$work/api" && echo "ok 4 - the export gives drop-off points as GeoJSON" ||
	{ echo "not ok 4 - the export gives drop-off points as GeoJSON"; sed 's/^/# /' "$work/api"; }
