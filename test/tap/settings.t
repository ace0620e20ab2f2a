#!/usr/bin/env bash
# test/tap/settings.t: the settings table of docs/api.md says what the
# module defines: every dispatch.* setting of pg_settings is listed with its
# default and range, only superusers (context superuser) may set it, and
# the table lists nothing else.  A new session loads the module first.
set -euo pipefail
cd "$(dirname "$0")/../.."

doc=$(awk '/^## Settings/{on=1; next} /^## /{on=0} on && /^\| `dispatch\./' docs/api.md |
	awk -F'|' '{ for (i = 2; i <= 5; i++) { gsub(/^ +| +$/, "", $i) } gsub(/`/, "", $2);
	             split($5, who, /[ ,]/); print $2 "|" $3 "|" $4 "|" who[1] }' | sort)

cat=$(psql -X -q -At -c "LOAD 'dispatch'" -c "
	SELECT name || '|' ||
	       CASE WHEN boot_val = '' THEN 'empty' ELSE boot_val END || '|' ||
	       CASE vartype
	         WHEN 'integer' THEN min_val || '..' || max_val
	         WHEN 'bool' THEN 'on, off'
	         WHEN 'enum' THEN pg_catalog.array_to_string(enumvals, ', ')
	         ELSE '?' END || '|' || context
	  FROM pg_catalog.pg_settings WHERE name LIKE 'dispatch.%' ORDER BY 1" | sort)

# strings: the documented range is prose; compare name, default, context
norm() { awk -F'|' '{ r = $3; if ($3 !~ /\.\.|, /) r = "-"; print $1 "|" $2 "|" r "|" $4 }'; }
echo "1..3"
if [ "$(echo "$doc" | norm)" = "$(echo "$cat" | norm)" ]; then
	echo "ok 1 - docs/api.md lists every dispatch.* setting with its default, range and context"
else
	echo "not ok 1 - docs/api.md lists every dispatch.* setting with its default, range and context"
	diff <(echo "$doc" | norm) <(echo "$cat" | norm) | sed 's/^/# /'
fi
n=$(echo "$cat" | grep -c .)
[ "$n" -ge 9 ] && echo "ok 2 - the module defines $n settings" || echo "not ok 2 - the module defines $n settings"
# (with dispatch in shared_preload_libraries, as tools/pgdev runs it, every
# session has the settings from its start; without it, not before the call)
if { psql -X -At -c "SHOW shared_preload_libraries" | grep -qw dispatch ||
     psql -X -At -c "SELECT current_setting('dispatch.cipher', true) IS NULL" | grep -qx t; } &&
   psql -X -At -c "SELECT dispatch.clock() IS NOT NULL" -c "SHOW dispatch.cipher" | tail -1 | grep -qx pgp; then
	echo "ok 3 - a session that calls into the extension has the settings defined"
else
	echo "not ok 3 - a session that calls into the extension has the settings defined"
fi
