#!/usr/bin/env bash
# test/tap/cipher_none.t: dispatch.cipher = none, which stores personal
# data unencrypted (benchmarks only), is taken from the server's
# configuration file alone.  A superuser cannot give it to a role or a
# database (ALTER ROLE / ALTER DATABASE ... SET), a client cannot ask for
# it at connection start (PGOPTIONS), and a role's sessions go on sealing.
# From the configuration file (here ALTER SYSTEM and a reload) it works:
# a value is stored with the zero byte of the no-op cipher and opens while
# the setting is none; back on pgp it is refused (DP404), and a key
# rotation leaves it as it is.  Runs in a database of its own; the
# configuration is restored afterwards.
set -uo pipefail
db=dispatch_cipher_none_t
role=dispatch_cipher_none_t
restore() {
	psql -X -q -d postgres -c "ALTER SYSTEM RESET dispatch.cipher" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
}
trap restore EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS $role" \
	-c "CREATE DATABASE $db" -c "CREATE ROLE $role LOGIN SUPERUSER" >/dev/null 2>&1
export PGDATABASE=$db
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || { echo "Bail out! could not set up $db"; exit 1; }
SET client_min_messages = warning;
CREATE EXTENSION dispatch CASCADE;
SELECT dispatch.register_customer('+8613800000001', 'Cipher Customer');
SQL

echo "1..9"
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2 ($3)"; fi; }
refusal="dispatch.cipher can be set to none only in the server's configuration file"
# the first byte of a value sealed now, in a session of the arguments given
first_byte() { psql -X -At "$@" -c "SELECT get_byte(dispatch.pii_seal('customer', 1, 'Bench Street 1'), 0)" 2>&1; }

r=$(psql -X -At -c "ALTER ROLE $role SET dispatch.cipher = 'none'" 2>&1 || true)
grep -q "ERROR:  $refusal" <<<"$r"
ok $? "ALTER ROLE ... SET dispatch.cipher = none is refused" "$r"
r=$(psql -X -At -c "ALTER DATABASE $db SET dispatch.cipher = 'none'" 2>&1 || true)
grep -q "ERROR:  $refusal" <<<"$r"
ok $? "ALTER DATABASE ... SET dispatch.cipher = none is refused" "$r"
r=$(psql -X -At -U "$role" -c "SHOW dispatch.cipher" 2>&1 || true)
b=$(first_byte -U "$role")
[ "$r" = pgp ] && [ "$b" != 0 ]
ok $? "a session of the role seals (pgp)" "$r, first byte $b"
r=$(PGOPTIONS="-c dispatch.cipher=none" psql -X -At -c "SHOW dispatch.cipher" 2>&1 || true)
[ "$r" != none ] && grep -q "$refusal" <<<"$r"
ok $? "a client asking for none at connection start is refused" "$r"

# from the configuration file
psql -X -q -d postgres -c "ALTER SYSTEM SET dispatch.cipher = 'none'" -c "SELECT pg_reload_conf()" >/dev/null
for i in $(seq 100); do
	[ "$(psql -X -At -c 'SHOW dispatch.cipher')" = none ] && break
	sleep 0.1
done
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE TABLE clear AS SELECT dispatch.pii_seal('customer', 1, 'Bench Street 1') AS v" >/dev/null
r=$(psql -X -At -c "SELECT get_byte(v, 0) FROM clear")
[ "$r" = 0 ]
ok $? "none from the configuration file: a value is stored with the zero byte of the no-op cipher" "$r"
r=$(psql -X -At -c "SELECT dispatch.pii_open('customer', 1, v, 'test') FROM clear" 2>&1 || true)
[ "$r" = "Bench Street 1" ]
ok $? "it opens while the setting is none" "$r"

psql -X -q -d postgres -c "ALTER SYSTEM RESET dispatch.cipher" -c "SELECT pg_reload_conf()" >/dev/null
for i in $(seq 100); do
	[ "$(psql -X -At -c 'SHOW dispatch.cipher')" = pgp ] && break
	sleep 0.1
done
r=$(psql -X -At -v VERBOSITY=verbose -c "SELECT dispatch.pii_open('customer', 1, v, 'test') FROM clear" 2>&1 || true)
grep -q "ERROR:  DP404: a personal value is not sealed" <<<"$r"
ok $? "back on pgp, pii_open refuses the unsealed value (DP404)" "$r"
r=$(psql -X -At -v VERBOSITY=verbose -c "SELECT dispatch._unseal(v, '\\x01'::bytea) FROM clear" 2>&1 || true)
grep -q "ERROR:  DP404: a personal value is not sealed" <<<"$r"
ok $? "and so does the internal opener" "$r"
r=$(psql -X -At -c "SELECT dispatch._reseal(v, '\\x01'::bytea, '\\x02'::bytea) = v FROM clear" 2>&1 || true)
[ "$r" = t ]
ok $? "a key rotation leaves the unsealed value as it is" "$r"
