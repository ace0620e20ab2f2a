#!/usr/bin/env bash
# test/citus/group_limit.t: on the Citus cluster of `tools/pgdev citus`
# (tables distributed by test/citus/10_distribute.sql), a node of Citus
# group 16 or above has no range of ids (each node's sequences start at its
# group id << 36, below 2^40: docs/citus.md, "Adding a worker"), and Citus
# never reuses a group id.  Citus's group numbers are pushed to 15, as if
# workers had come and gone, and one more node is started as the workers
# are (tools/pgdev node) and added: it is of group 16.  prepare_worker
# refuses it (DP917) before it changes anything there (no base of event
# numbers, its sequences below the ids of group 1).  The node then leaves
# the cluster.
# test/citus/run runs this script after add_worker.t: the group numbers
# it uses up are gone for good.
set -uo pipefail
: "${PGDEV_WORKER_PORTS:?run through tools/pgdev citus}"
here=$(cd "$(dirname "$0")/../.." && pwd)
echo "1..3"
. "$here/test/lib/tap.sh"

q "SELECT setval('pg_catalog.pg_dist_groupid_seq', greatest(15, (SELECT max(groupid) FROM pg_dist_node)))" >/dev/null
w=$("$here/tools/pgdev" node worker16) || { echo "Bail out! could not start a node"; exit 1; }
q "SELECT citus_add_node('localhost', $w)" >/dev/null
g=$(qp "$w" "SELECT groupid FROM pg_dist_local_group")
[ "$g" -ge 16 ]
ok $? "the node added is of group $g"

refused=$(state "SELECT dispatch.prepare_worker('localhost', $w)")
msg=$(q "SELECT dispatch.prepare_worker('localhost', $w)" 2>&1)
moved=$(qp "$w" "SELECT count(*) FROM pg_class c
                  WHERE c.relnamespace = 'dispatch'::regnamespace AND c.relkind = 'S'
                    AND (xpath('/row/last_value/text()', query_to_xml(format('SELECT last_value FROM %s', c.oid::regclass),
                                                                   false, true, '')))[1]::text::bigint >= (1::bigint << 36)")
[ "$refused" = DP917 ] && [ "$(qp "$w" "SELECT count(*) FROM dispatch.event_base")" = 0 ] && [ "$moved" = 0 ]
ok $? "prepare_worker refuses it (${refused:-no error}: ${msg#ERROR:  }), nothing changed there (no base, no sequence moved: $moved)"

q "SELECT citus_remove_node('localhost', $w)" >/dev/null &&
	[ "$(q "SELECT count(*) FROM pg_dist_node WHERE nodeport = $w")" = 0 ]
ok $? "the node leaves the cluster"
