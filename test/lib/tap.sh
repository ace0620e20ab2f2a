# test/lib/tap.sh: the helpers of the shell TAP scripts, sourced after the
# plan line ("1..N"):
#   ok RC DESCRIPTION     "ok N - ..." when RC is 0, else "not ok N - ..."
#   q SQL                 run SQL (unaligned, tuples only; notices off;
#                         stops at the first error) on PGHOST/PGPORT
#   qp PORT SQL           the same on the node listening on PORT
#   state SQL             the SQLSTATE of SQL's error, nothing if it succeeds
#   port_of ZONE          on Citus, the port of the node that holds the zone's
#                         shards (of orders, and so of every co-located table)
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "$1"; }
qp() { local p=$1; shift; PGPORT=$p q "$@"; }
state() { psql -X -q -At -v VERBOSITY=verbose -c "SET client_min_messages = warning" -c "$1" 2>&1 >/dev/null |
	sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' | head -1; }
port_of() {
	q "SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
	    WHERE p.shardid = get_shard_id_for_distribution_column('dispatch.orders', $1)"
}
