#!/usr/bin/env bash
# test/tap/install_schema.t: CREATE EXTENSION dispatch refuses a schema
# "dispatch" that another role prepared (the class of CVE-2022-2625): one
# it owns, one where others may create objects, one holding another role's
# objects; each refusal says why (SQLSTATE DP901) and leaves nothing
# installed.  A schema the installing superuser prepared itself is used.
# Runs in databases of its own.
set -uo pipefail
db=dispatch_install_schema_t
intruder=dispatch_t_squatter
work=$(mktemp -d)
cleanup() {
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS $intruder" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
export PGOPTIONS='-c client_min_messages=warning'
psql -X -q -d postgres -c "DROP ROLE IF EXISTS $intruder" -c "CREATE ROLE $intruder LOGIN" >/dev/null

fresh() {   # a new database where the intruder may create schemas
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" \
		-c "GRANT CREATE ON DATABASE $db TO $intruder" >/dev/null
}
refused() {   # refused N description: CREATE EXTENSION fails with DP901 and installs nothing
	local out left
	out=$(psql -X -q -d "$db" -v VERBOSITY=verbose -c "CREATE EXTENSION dispatch CASCADE" 2>&1)
	left=$(psql -X -At -d "$db" -c "SELECT count(*) FROM pg_extension WHERE extname IN ('dispatch', 'postgis', 'pgcrypto')")
	if grep -q 'ERROR:  DP901' <<<"$out" && [ "$left" = 0 ]; then
		echo "ok $1 - $2"
		echo "$out" | grep -E '^(ERROR|HINT)' | sed 's/^/# /'
	else
		echo "not ok $1 - $2 (extensions left: $left)"
		echo "$out" | sed 's/^/# /'
	fi
}

echo "1..5"

fresh
psql -X -q -d "$db" -U "$intruder" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE SCHEMA dispatch;
CREATE FUNCTION dispatch.clock() RETURNS timestamptz LANGUAGE sql AS 'SELECT timestamptz ''2000-01-01''';
SQL
refused 1 "a schema dispatch owned by another role is refused"

fresh
psql -X -q -d "$db" -c "CREATE SCHEMA dispatch" -c "GRANT CREATE ON SCHEMA dispatch TO PUBLIC" >/dev/null
refused 2 "a schema dispatch where PUBLIC may create objects is refused"

fresh
psql -X -q -d "$db" -c "CREATE SCHEMA dispatch" -c "GRANT CREATE ON SCHEMA dispatch TO $intruder" >/dev/null
psql -X -q -d "$db" -U "$intruder" -c "CREATE TABLE dispatch.orders (x int)" >/dev/null
psql -X -q -d "$db" -c "REVOKE CREATE ON SCHEMA dispatch FROM $intruder" >/dev/null
refused 3 "a schema dispatch holding another role's table is refused"

fresh
psql -X -q -d "$db" -c "CREATE SCHEMA dispatch" >/dev/null
if psql -X -q -d "$db" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION dispatch CASCADE" >"$work/out" 2>&1 &&
	[ "$(psql -X -At -d "$db" -c "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'dispatch'")" = dispatch ]; then
	echo "ok 4 - a schema dispatch the installing superuser made is used"
else
	echo "not ok 4 - a schema dispatch the installing superuser made is used"
	sed 's/^/# /' "$work/out"
fi

fresh
if psql -X -q -d "$db" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION dispatch CASCADE" >"$work/out" 2>&1 &&
	[ "$(psql -X -At -d "$db" -c "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'dispatch'")" = "$(psql -X -At -d "$db" -c "SELECT current_user")" ]; then
	echo "ok 5 - without a schema, CREATE EXTENSION makes one owned by the installing role"
else
	echo "not ok 5 - without a schema, CREATE EXTENSION makes one owned by the installing role"
	sed 's/^/# /' "$work/out"
fi
