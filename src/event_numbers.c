/*-------------------------------------------------------------------------
 *
 * event_numbers.c
 *		What readers of the outbox may hand out: this node's base of event
 *		numbers, the horizon of a snapshot and the floor of its base.
 *
 * An event's seq is ((base + full xid of the writing transaction) << 20) |
 * ordinal (events.c numbers it).  A reader (events_since, the relay)
 * hands out only events below the horizon of its snapshot: the snapshot's
 * xmin widened to 64 bits, plus the base that snapshot sees, shifted.
 * Every transaction below xmin has ended, so no event can appear below the
 * horizon later, and every later event has a larger seq: reading
 * events_since(last) again and again sees each committed event exactly
 * once, in one stable order.  While a writing transaction is open,
 * catch-up waits for it (NOTIFY is not delayed).
 *
 * The base is dispatch.event_base's one row (none: 0).  It is not 0 only
 * on a Citus worker added later or about to receive a zone's shards
 * (events.c, sql/97_distribute.sql) and on a node that an outbox was
 * restored into (after_restore, sql/40_events.sql), and it is raised only
 * between writers: a snapshot that sees the raise sees every event numbered with
 * the old base.  Writers read it through a cache each backend keeps until
 * the table changes (its statement trigger, _event_base_changed); the
 * horizon reads it once a snapshot.
 *
 * This file reads the outbox's numbers and writes none, so that writers
 * (events.c) and the relay (relay.c) both stand on it.
 *
 * IDENTIFICATION
 *		src/event_numbers.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "dispatch.h"

static int64 read_base(Snapshot snap);
static int64 base_in_snapshot(Snapshot snap);

/* the plan that reads the base, kept for the session */
static SPIPlanPtr base_plan = NULL;

/* the node's base, cached by each backend until event_base changes */
static bool base_valid = false;
static int64 base_value = 0;
static Oid	base_relid = InvalidOid;
static bool base_callback = false;

/*
 * The base the last snapshot read by the horizon sees, and that snapshot:
 * a query that computes the horizon for each row (a sequential scan of the
 * outbox) reads the table once.  Two snapshots with the same xmin, xmax,
 * command id and count of completed transactions see the same rows.
 */
static struct
{
	bool		valid;
	Snapshot	snap;
	TransactionId xmin;
	TransactionId xmax;
	CommandId	curcid;
	uint64		completions;
	int64		base;
}			seen_base;

/*
 * Relcache callback: a change of event_base (its statement trigger,
 * _event_base_changed) or a reset of the whole cache makes the cached base
 * stale.
 */
static void
base_inval_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == base_relid)
	{
		base_valid = false;
		seen_base.valid = false;
	}
}

/* the base a snapshot sees (read_base), read again only for another one */
static int64
base_in_snapshot(Snapshot snap)
{
	if (seen_base.valid && seen_base.snap == snap && snap->snapXactCompletionCount != 0 &&
		seen_base.xmin == snap->xmin && seen_base.xmax == snap->xmax &&
		seen_base.curcid == snap->curcid &&
		seen_base.completions == snap->snapXactCompletionCount)
		return seen_base.base;
	seen_base.base = read_base(snap);
	seen_base.snap = snap;
	seen_base.xmin = snap->xmin;
	seen_base.xmax = snap->xmax;
	seen_base.curcid = snap->curcid;
	seen_base.completions = snap->snapXactCompletionCount;
	seen_base.valid = true;
	return seen_base.base;
}

/*
 * This node's base of event numbers in a snapshot, as dispatch._event_base()
 * reads it (the table's one row; no row, or a catalog that predates the
 * table, 0.1.0 before ALTER EXTENSION UPDATE: 0).  Writers and the horizon
 * both read it here.  The table itself, not the SQL function, which is
 * planned again at every call (a pinned search_path): the horizon reads it
 * at every call of events_since and every round of the relay.
 */
static int64
read_base(Snapshot snap)
{
	Oid			nsp = get_namespace_oid("dispatch", true);	/* not relocatable */
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("event_base", nsp) : InvalidOid;
	int64		base;
	bool		isnull;
	int			ret;

	if (!OidIsValid(relid))
		return 0;
	if (!base_callback)
	{
		CacheRegisterRelcacheCallback(base_inval_callback, (Datum) 0);
		base_callback = true;
	}
	base_relid = relid;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (base_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare("SELECT b.base FROM dispatch.event_base b", 0, NULL);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		base_plan = plan;
	}
	ret = SPI_execute_snapshot(base_plan, NULL, NULL, snap, InvalidSnapshot, true, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the base of event numbers: %s", SPI_result_code_string(ret));
	base = 0;
	if (SPI_processed == 1)
	{
		base = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (isnull)
			base = 0;
	}
	SPI_finish();
	return base;
}

/*
 * The base that numbers this node's events from now on: the latest
 * committed one.  Kept by each backend until event_base changes (its
 * statement trigger, _event_base_changed, sends the invalidation at
 * commit).  A writer reads it under the numbering lock (next_seq), after
 * taking in the invalidations of every base raised before the lock was
 * granted.
 */
int64
dispatch_event_base(void)
{
	if (!base_valid)
	{
		base_value = read_base(GetLatestSnapshot());
		base_valid = true;
	}
	return base_value;
}

/*
 * The horizon of event numbers at the active snapshot: the first seq that a
 * transaction still running, or starting later, could write.  Its
 * transaction id part is the snapshot's xmin, widened to 64 bits (an xid in
 * a snapshot is of the epoch of the next xid to be assigned, or of the one
 * before if it is above it), plus the node's base as that snapshot sees it.
 * Not the latest base: a snapshot taken before a base was raised
 * (_raise_event_base) may not see the commits of the last writers that
 * numbered with the old one, and must not reach above their numbers; a
 * snapshot that sees the raise sees them all (the raise waited for them).
 * The relay reads it each round and events_since at each call (the base
 * read once a snapshot).
 */
int64
dispatch_event_horizon(void)
{
	Snapshot	snap = GetActiveSnapshot();
	FullTransactionId next = ReadNextFullTransactionId();
	uint64		epoch = EpochFromFullTransactionId(next);
	TransactionId xmin = snap->xmin;

	if (TransactionIdIsNormal(xmin) && xmin > XidFromFullTransactionId(next))
		epoch--;
	if (!TransactionIdIsNormal(xmin))
		epoch = 0;
	return (int64) (((epoch << 32) | xmin) + base_in_snapshot(snap)) << DISPATCH_EVENT_ORDINAL_BITS;
}

/*
 * The highest number below this node's base as the active snapshot sees
 * it (-1 with base 0).  Every event this node numbered with an earlier base
 * lies at or below it, and a snapshot that sees the base sees them all
 * committed (the raise waited for their writers); above it come only the
 * numbers of this base.  The relay moves its position up to it once it has
 * read every event the snapshot shows (relay.c).
 */
int64
dispatch_event_floor(void)
{
	return (base_in_snapshot(GetActiveSnapshot()) << DISPATCH_EVENT_ORDINAL_BITS) - 1;
}

PG_FUNCTION_INFO_V1(dispatch_event_horizon_sql);

/* dispatch._event_horizon() */
Datum
dispatch_event_horizon_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(dispatch_event_horizon());
}

PG_FUNCTION_INFO_V1(dispatch_event_base_changed);

/*
 * Statement trigger on event_base: every backend's cached base is stale
 * once the change commits.
 */
Datum
dispatch_event_base_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("_event_base_changed() must be called as a trigger"));
	CacheInvalidateRelcache(td->tg_relation);
	return PointerGetDatum(NULL);
}
