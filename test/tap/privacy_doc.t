#!/usr/bin/env bash
# test/tap/privacy_doc.t: the inventory of personal data stays complete and
# current.  Every column that holds personal data (named *_enc, a blind
# index, a point of a customer's or rider's table) carries a well-formed
# "Personal data of the ..." comment (sql/95_personal_data.sql); a new
# sealed column without one is caught; and docs/privacy.md is what
# tools/privacy-doc generates from the catalog.  Runs in a database of its own.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
db=dispatch_privacy_doc_t
work=$(mktemp -d)
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; rm -rf "$work"' EXIT
echo "1..5"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
export PGDATABASE=$db
psql -X -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION dispatch CASCADE" >/dev/null 2>&1

"$here/tools/privacy-doc" --check >"$work/check" 2>&1
r=$?
[ $r -eq 0 ] && echo "ok 1 - every column holding personal data has its entry" ||
	{ echo "not ok 1 - columns without an entry"; sed 's/^/# /' "$work/check"; }

n=$(psql -X -At -c "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                    WHERE c.relnamespace = 'dispatch'::regnamespace AND a.attnum > 0
                      AND col_description(c.oid, a.attnum) LIKE 'Personal data of the %'")
[ "$n" -ge 15 ] && echo "ok 2 - the inventory names $n columns" || echo "not ok 2 - the inventory names $n columns"

psql -X -q -c "ALTER TABLE dispatch.orders ADD COLUMN courier_note_enc bytea" >/dev/null
"$here/tools/privacy-doc" --check >"$work/check2" 2>&1
r=$?
[ $r -eq 1 ] && grep -q "orders.courier_note_enc: no personal-data comment" "$work/check2" &&
	echo "ok 3 - a new sealed column without an entry is caught" || echo "not ok 3 - a new sealed column went unnoticed ($r)"
psql -X -q -c "COMMENT ON COLUMN dispatch.orders.courier_note_enc IS 'Personal data of the customer: a note. Purpose: delivery'" >/dev/null
"$here/tools/privacy-doc" --check >"$work/check3" 2>&1
r=$?
[ $r -eq 1 ] && grep -q "orders.courier_note_enc: malformed comment" "$work/check3" &&
	echo "ok 4 - so is an entry that lacks its basis, retention, readers or protection" || echo "not ok 4 - a malformed entry passed ($r)"
psql -X -q -c "ALTER TABLE dispatch.orders DROP COLUMN courier_note_enc" >/dev/null

"$here/tools/privacy-doc" >"$work/privacy.md" 2>&1
if diff -u "$here/docs/privacy.md" "$work/privacy.md" >"$work/diff"; then
	echo "ok 5 - docs/privacy.md is what tools/privacy-doc generates"
else
	echo "not ok 5 - docs/privacy.md is out of date: ./tools/pgdev run tools/privacy-doc > docs/privacy.md"
	head -20 "$work/diff" | sed 's/^/# /'
fi
