/*-------------------------------------------------------------------------
 *
 * locks.c
 *		dispatch._lock_key(name): the advisory lock keys of locks.h, for SQL;
 *		the customer's intake lock, for C and SQL (dispatch._lock_intake);
 *		the customer's offers lock (dispatch._lock_offers).
 *
 * IDENTIFICATION
 *		src/locks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "dispatch.h"
#include "locks.h"
#include "match.h"

typedef struct LockKey
{
	const char *name;
	int64		key;
} LockKey;

static const LockKey lock_keys[] = {
	{"zone", DISPATCH_LOCK_ZONE},
	{"customer", DISPATCH_LOCK_CUSTOMER},
	{"rider", DISPATCH_LOCK_RIDER},
	{"purge", DISPATCH_LOCK_PURGE},
	{"numbering", DISPATCH_LOCK_NUMBERING},
	{"offers", DISPATCH_LOCK_OFFERS},
	{"budgets", DISPATCH_LOCK_BUDGETS},
	{"intake", DISPATCH_LOCK_INTAKE},
	{"referrals", DISPATCH_LOCK_REFERRALS},
	{"rollup", DISPATCH_LOCK_ROLLUP},
	{"payref", DISPATCH_LOCK_PAYREF},
	{"riderphone", DISPATCH_LOCK_RIDER_PHONE},
};

PG_FUNCTION_INFO_V1(dispatch_lock_key);

/*
 * SQL: dispatch._lock_key(name text) -> bigint
 *
 * The key of a lock by its name in locks.h: the class (first key) of a
 * two-part lock, or the single key of the purge lock.
 */
Datum
dispatch_lock_key(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			i;

	for (i = 0; i < lengthof(lock_keys); i++)
		if (strcmp(lock_keys[i].name, name) == 0)
			PG_RETURN_INT64(lock_keys[i].key);
	ereport(ERROR,
			errcode(ERRCODE_UNDEFINED_OBJECT),
			errmsg("\"%s\" is not an advisory lock of dispatch", name));
	PG_RETURN_NULL();
}

/*
 * The customer's intake lock (exclusive) to the end of the transaction, on
 * the node that runs the call: one order or errand of a customer at a time
 * counts the customer's unpaid and cancelled orders, so that two placed at
 * once cannot both pass the limit (dispatch.fraud_max_bad_orders) on counts
 * that miss each other.  Taken after the customer's lock (shared) and
 * before any row lock of the order (locks.h).  Its keys: the class
 * 'intake' and the customer id modulo 2^31 - 1.  An intake takes it through
 * dispatch_lock_intake_in_zone.
 */
void
dispatch_lock_intake(int64 customer_id)
{
	DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(DISPATCH_LOCK_INTAKE),
						Int32GetDatum((int32) (customer_id % PG_INT32_MAX)));
}

static SPIPlanPtr intake_routed_plan = NULL;

/*
 * On Citus, the lock SQL function lock_fn (_lock_intake or _lock_offers,
 * called with the customer and a NULL zone: this node only) run on the
 * node that holds zone_id's shards, in the call's distributed transaction,
 * so that node holds the lock to its end: a statement Citus routes to the
 * zone's shard of orders.  The count over no row (an id no order has)
 * returns one row whatever the zone holds, and Citus evaluates no
 * function of a routed SELECT on the coordinator.  *plan keeps the
 * statement.  The caller has connected to SPI.
 */
static void
lock_on_zone_node(SPIPlanPtr *plan, const char *lock_fn, int64 zone_id, int64 customer_id)
{
	Datum		args[2];

	if (*plan == NULL)
	{
		Oid			types[2] = {INT8OID, INT8OID};
		char		sql[256];

		snprintf(sql, sizeof(sql),
				 "SELECT dispatch.%s($2, NULL)"
				 "  FROM (SELECT pg_catalog.count(*) FROM dispatch.orders o"
				 "         WHERE o.zone_id OPERATOR(pg_catalog.=) $1"
				 "           AND o.order_id OPERATOR(pg_catalog.=) 0) AS none",
				 lock_fn);
		*plan = match_keep_plan(sql, 2, types);
	}
	args[0] = Int64GetDatum(zone_id);
	args[1] = Int64GetDatum(customer_id);
	match_run_plan(*plan, args, NULL, false, 1, SPI_OK_SELECT,
				   "taking a customer's lock on a zone's node");
}

/*
 * The customer's intake lock for an intake in zone zone_id.  On Citus
 * first on the node that holds the zone's shards (docs/citus.md, "The
 * customer's intake lock"), then where the call runs.  The counts it
 * guards read the zone's shards, and an intake sent whole to the zone's
 * worker (place_order_in_zone) takes the lock there: one run by the
 * coordinator (place_order, its statements routed) would otherwise take it
 * on the coordinator only, and the two would both pass the limit.  A
 * statement Citus routes to the zone's shard of orders runs _lock_intake
 * there, in the call's distributed transaction, so the worker holds the
 * lock to its end: the count over no row (an id no order has) returns one
 * row whatever the zone holds, and Citus evaluates no function of a routed
 * SELECT on the coordinator.  On the zone's worker itself the statement
 * runs locally and takes the same lock again.  Every intake takes the
 * worker's lock before the local one, so the two make no cycle.
 *
 * Once the tables are distributed, an intake in a repeatable read or
 * serializable transaction is refused here (DP031), before it waits or
 * writes: its counts are statements routed to the workers (or, for a
 * campaign's cap, to every worker), which read the worker's snapshot of the
 * transaction, taken when the transaction first reached that worker, before
 * the wait for this lock; an intake committed during the wait would be
 * missed, and both would pass the limit.  On one server the counts read
 * the latest snapshot after the lock (count_after_intake_lock, intake.c),
 * which a worker's statement cannot.  The caller has connected to SPI.
 */
void
dispatch_lock_intake_in_zone(int64 zone_id, int64 customer_id)
{
	if (dispatch_on_citus())
	{
		if (IsolationUsesXactSnapshot() && dispatch_table_distributed("orders"))
			ereport(ERROR,
					errcode(ERRCODE_DP_INTAKE_NEEDS_READ_COMMITTED),
					errmsg("an order cannot be placed in a %s transaction once the tables are distributed",
						   IsolationIsSerializable() ? "serializable" : "repeatable read"),
					errdetail("Its checks count the customer's orders on the workers, where this transaction's snapshot predates its wait for the customer's intake lock and would miss an order committed meanwhile."),
					errhint("Place orders and errands in a read committed transaction (the default)."));

		lock_on_zone_node(&intake_routed_plan, "_lock_intake", zone_id, customer_id);
	}
	dispatch_lock_intake(customer_id);
}

/*
 * The body of the SQL forms _lock_intake and _lock_offers (p_customer_id
 * bigint, p_zone_id bigint): nothing for a NULL customer, here() on this
 * node for a NULL zone, else in_zone() for the zone.
 */
static Datum
lock_sql(FunctionCallInfo fcinfo, void (*here) (int64), void (*in_zone) (int64, int64))
{
	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	if (PG_ARGISNULL(1))
		here(PG_GETARG_INT64(0));
	else
	{
		SPI_connect();
		in_zone(PG_GETARG_INT64(1), PG_GETARG_INT64(0));
		SPI_finish();
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dispatch_lock_intake_sql);

/*
 * SQL: dispatch._lock_intake(p_customer_id bigint, p_zone_id bigint) -> void
 *
 * The customer's intake lock for an intake in zone p_zone_id
 * (dispatch_lock_intake_in_zone); p_zone_id NULL: on this node only.
 */
Datum
dispatch_lock_intake_sql(PG_FUNCTION_ARGS)
{
	return lock_sql(fcinfo, dispatch_lock_intake, dispatch_lock_intake_in_zone);
}

static SPIPlanPtr offers_nodes_plan = NULL;
static SPIPlanPtr offers_routed_plan = NULL;

/*
 * The customer's offers lock (exclusive) to the end of the transaction, on
 * this node: its keys, the class 'offers' and the customer id modulo
 * 2^31 - 1.
 */
static void
lock_offers_here(int64 customer_id)
{
	DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(DISPATCH_LOCK_OFFERS),
						Int32GetDatum((int32) (customer_id % PG_INT32_MAX)));
}

/*
 * The customer's offers lock for an order in zone zone_id that takes an
 * offer capped per customer, before it counts the customer's uses of the
 * offer (_offer_cap_check).  Those uses lie with the customer's orders, in
 * every zone.  Once the tables are distributed, the lock is taken on every
 * node that holds a zone's shards, in the order of their Citus groups (so
 * that two such orders make no cycle), each through a statement routed to
 * a zone of that node, as the intake lock is (dispatch_lock_intake_in_zone):
 * on the order's own node through its own zone, whose shards its writes
 * reach over the same connection; then on the node that runs the call.  An
 * order counting after these waits for every earlier one on the node where
 * that order's uses lie, and its lock there is released only when that
 * node commits them: a lock on one node chosen for the customer would not
 * do, as Citus commits a node that the transaction only read (the lock's)
 * before the node that runs the call, and the nodes of a call run by the
 * coordinator in no set order (docs/citus.md, "What an order takes of an
 * offer").  Only orders that take a capped offer pay the round trips.  The
 * caller has connected to SPI.
 */
static void
lock_offers_in_zone(int64 zone_id, int64 customer_id)
{
	if (dispatch_on_citus() && dispatch_table_distributed("orders"))
	{
		Datum		arg = Int64GetDatum(zone_id);
		int64	   *zones;
		uint64		n;
		bool		isnull;

		if (offers_nodes_plan == NULL)
		{
			Oid			types[1] = {INT8OID};

			offers_nodes_plan =
				match_keep_plan("WITH z AS MATERIALIZED (SELECT zone_id FROM dispatch.zones)"
								" SELECT CASE WHEN pg_catalog.bool_or(z.zone_id OPERATOR(pg_catalog.=) $1)"
								"             THEN $1 ELSE pg_catalog.min(z.zone_id) END"
								"   FROM z JOIN pg_catalog.pg_dist_placement p"
								"     ON p.shardid OPERATOR(pg_catalog.=) pg_catalog.get_shard_id_for_distribution_column("
								"          'dispatch.orders'::pg_catalog.regclass, z.zone_id)"
								"  GROUP BY p.groupid ORDER BY p.groupid",
								1, types);
		}
		match_run_plan(offers_nodes_plan, &arg, NULL, false, 0, SPI_OK_SELECT,
					   "finding a zone of each node");
		n = SPI_processed;
		zones = palloc(sizeof(int64) * (n + 1));
		for (uint64 i = 0; i < n; i++)
			zones[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		for (uint64 i = 0; i < n; i++)
			lock_on_zone_node(&offers_routed_plan, "_lock_offers", zones[i], customer_id);
		pfree(zones);
	}
	lock_offers_here(customer_id);
}

PG_FUNCTION_INFO_V1(dispatch_lock_offers_sql);

/*
 * SQL: dispatch._lock_offers(p_customer_id bigint, p_zone_id bigint) -> void
 *
 * The customer's offers lock for an order in zone p_zone_id that takes a
 * capped offer (lock_offers_in_zone); p_zone_id NULL: on this node only.
 */
Datum
dispatch_lock_offers_sql(PG_FUNCTION_ARGS)
{
	return lock_sql(fcinfo, lock_offers_here, lock_offers_in_zone);
}
