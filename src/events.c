/*-------------------------------------------------------------------------
 *
 * events.c
 *		The event outbox: one row in dispatch.events per event, written in
 *		the transaction that caused it, and its NOTIFY on dispatch_events.
 *
 * Sequence numbers.  A plain sequence hands out numbers in call order but
 * transactions commit in another order, so a reader that asks for
 * "seq > last seen" would skip an event whose transaction commits after a
 * later number became visible.  Instead an event's seq is
 *
 *		((base + full xid of the writing top-level transaction) << 20) | ordinal
 *
 * where the ordinal counts the events of that transaction and base is the
 * node's (dispatch.event_base: 0 but on a worker added to a Citus cluster
 * later, below).  Readers hand out only events below the horizon of their
 * snapshot, where no event can appear later (event_numbers.c, which also
 * keeps the base).  Limits: 2^20 events per transaction and 2^43 for base
 * plus transaction ids, both far beyond use.  The base is read once per
 * transaction that writes events, under the node's numbering lock in share
 * mode, held to the transaction's end.
 *
 * Who notifies (dispatch.notify): in relay mode, with a relay serving the
 * database, the row is marked for the relay and the writer only wakes it at
 * commit (relay.c); in commit mode, or where no relay serves, the writer
 * sends the NOTIFY itself; off sends nothing.  The payload is the same
 * either way (event_payload.c).
 *
 * On Citus (sql/97_distribute.sql), with the outbox distributed by zone,
 * an event row is written on its zone's worker, whatever node the writer
 * runs on.  Its seq must come from that worker's transaction, as every
 * other event of the zone's: a trigger on the shards (distribute() creates
 * it) numbers a row that another node numbered.  No writer notifies there:
 * a transaction that notifies cannot take part in Citus's two-phase
 * commit.  In relay mode the same trigger marks the row for the worker's
 * relay, which serves that worker's shards and notifies its listeners
 * (relay.c); gateways connect to the worker of their zones and catch up per
 * zone with events_since (docs/citus.md).
 *
 * A worker added to the cluster later starts its transaction ids low, far
 * below an old worker's: a zone whose shards move there would get numbers
 * below its gateways' cursors.  prepare_worker (sql/97_distribute.sql) gives
 * such a node, before any shard moves to it, a base above every number of
 * the cluster.  A worker that has numbered events already and is about to
 * receive a zone's shards gets the same from prepare_move: its base is
 * raised (_raise_event_base) while no transaction numbers with the old one
 * (the numbering lock in exclusive mode waits for them and holds new ones
 * back), so that every event numbered with the old base is committed, or
 * gone, before the first with the new one; the horizon of a snapshot adds
 * the base that snapshot sees, so that a reader whose snapshot predates
 * the raise never reaches above the old base's numbers it cannot see yet.
 * The trigger refuses (DP108) the first event of a zone, in a
 * transaction, whose shard holds a number this node cannot have given yet
 * (rows moved from a node ahead, to a node not prepared): an error rather
 * than numbers that a zone's cursor would pass over.
 *
 * An outbox restored into another cluster (pg_dump, pg_restore) comes with
 * the numbers of the cluster it was dumped from, and the base, which
 * belongs to the node, is not dumped: where that cluster's transaction ids
 * ran ahead of this one's, this node would number its events below the
 * restored ones, below every gateway's cursor.  dispatch.after_restore()
 * (sql/40_events.sql) raises the base above them, between writers, as
 * prepare_move does.  Until then a backend's first event is refused
 * (DP109, check_outbox_below), so that the failure is loud.
 *
 * IDENTIFICATION
 *		src/events.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "dispatch.h"
#include "locks.h"

/* longest event kind */
#define EVENT_KIND_MAX			32

/* base plus transaction id: below 2^43, so that a seq stays positive */
#define EVENT_XID_PART_MAX		((UINT64CONST(1) << (63 - DISPATCH_EVENT_ORDINAL_BITS)) - 1)

/* shards whose plan of the zone's highest seq is kept */
#define SHARD_PLANS				32

typedef struct ShardPlan
{
	Oid			relid;
	NameData	relname;		/* an OID used again names another table */
	SPIPlanPtr	plan;
} ShardPlan;

static SPIPlanPtr insert_plan[2] = {NULL, NULL};	/* [relay] */
static FullTransactionId ordinal_xid = {0};
static uint32 ordinal_next = 0;
static int64 ordinal_base = 0;	/* the node's base, read for ordinal_xid */
static ShardPlan shard_plans[SHARD_PLANS];
static int	shard_plan_count = 0;

/* the last zone checked by the shard trigger, in ordinal_xid */
static Oid	checked_relid = InvalidOid;
static int64 checked_zone = 0;

/* the outbox lies below this node's numbers (check_outbox_below) */
static bool outbox_checked = false;

static int64 next_seq(void);
static void lock_numbering(void);
static bool outbox_distributed(void);
static void check_zone_below(Relation rel, int64 zone_id, int64 base);
static void check_outbox_below(int64 base);
static bool last_event_ahead(int64 base, int64 *top, int64 *limit);


/*
 * The numbering lock of this node in share mode, to the end of the top
 * transaction (held by its resource owner, so that a subtransaction rolled
 * back does not release it while the transaction's base is kept), then the
 * invalidations that arrived meanwhile: a base raised before the lock was
 * granted is read below.  _raise_event_base takes it in exclusive mode,
 * and so waits for every transaction numbering with the old base.
 */
static void
lock_numbering(void)
{
	LOCKTAG		tag;
	ResourceOwner owner = CurrentResourceOwner;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, DISPATCH_LOCK_NUMBERING, 0, 2);
	CurrentResourceOwner = TopTransactionResourceOwner;
	(void) LockAcquire(&tag, ShareLock, false, false);
	CurrentResourceOwner = owner;
	AcceptInvalidationMessages();
}

/*
 * The next event number of the current transaction (assigning it an xid if
 * it has none yet: an event is a write).  The node's base is read at the
 * transaction's first event and kept for the others: one transaction's
 * numbers share it.
 */
static int64
next_seq(void)
{
	FullTransactionId fxid = GetTopFullTransactionId();

	if (!FullTransactionIdEquals(fxid, ordinal_xid))
	{
		lock_numbering();
		ordinal_base = dispatch_event_base();
		ordinal_xid = fxid;
		ordinal_next = 0;
		checked_relid = InvalidOid;
		if (U64FromFullTransactionId(fxid) > EVENT_XID_PART_MAX - (uint64) ordinal_base)
			elog(ERROR, "event numbers are exhausted: base " INT64_FORMAT " and transaction id " UINT64_FORMAT,
				 ordinal_base, U64FromFullTransactionId(fxid));
	}
	if (ordinal_next > DISPATCH_EVENT_ORDINAL_MAX)
		ereport(ERROR,
				errcode(ERRCODE_DP_EVENT_LIMIT),
				errmsg("too many events in one transaction"),
				errdetail("One transaction may write at most %d events.",
						  DISPATCH_EVENT_ORDINAL_MAX + 1),
				errhint("Split the work into several transactions."));

	return (int64) (((U64FromFullTransactionId(fxid) + (uint64) ordinal_base) << DISPATCH_EVENT_ORDINAL_BITS) |
					ordinal_next++);
}

/*
 * After a statement that read the last event of a shard or of the outbox
 * (one row, its seq, or none): whether that event is numbered at or above
 * (base + next transaction id) << 20, the least number this node can give
 * from now on (read after the lookup, so that every row it saw was
 * numbered before).  *top and *limit are set for the caller's message.
 */
static bool
last_event_ahead(int64 base, int64 *top, int64 *limit)
{
	bool		isnull;

	*limit = (int64) ((U64FromFullTransactionId(ReadNextFullTransactionId()) + (uint64) base)
					  << DISPATCH_EVENT_ORDINAL_BITS);
	if (SPI_processed != 1)
		return false;
	*top = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return !isnull && *top >= *limit;
}

/*
 * The guard of the shard trigger: the zone's events on this shard must lie
 * below every number this node can give from now on, (base + next xid) <<
 * 20; a row above came from a node ahead of this one (its shards moved here
 * without prepare_worker), and the zone's new events would be numbered
 * below it, under the cursors of its gateways.  Refused instead (DP108).
 * Checked at a zone's first event of a transaction on a shard: one lookup
 * of the shard's primary key (zone_id, seq), its plan kept per shard.
 */
static void
check_zone_below(Relation rel, int64 zone_id, int64 base)
{
	SPIPlanPtr	plan = NULL;
	Oid			relid = RelationGetRelid(rel);
	const char *relname = RelationGetRelationName(rel);
	int64		top,
				limit;
	Datum		arg = Int64GetDatum(zone_id);
	Oid			argtype = INT8OID;
	int			i;
	int			ret;

	if (relid == checked_relid && zone_id == checked_zone)
		return;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (i = 0; i < shard_plan_count; i++)
		if (shard_plans[i].relid == relid &&
			strcmp(NameStr(shard_plans[i].relname), relname) == 0)
			plan = shard_plans[i].plan;
	if (plan == NULL)
	{
		char	   *sql = psprintf("SELECT seq FROM %s WHERE zone_id = $1 ORDER BY seq DESC LIMIT 1",
								   quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
															  relname));

		if (shard_plan_count == SHARD_PLANS)
		{
			for (i = 0; i < shard_plan_count; i++)
				SPI_freeplan(shard_plans[i].plan);
			shard_plan_count = 0;
		}
		plan = SPI_prepare(sql, 1, &argtype);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		shard_plans[shard_plan_count].relid = relid;
		namestrcpy(&shard_plans[shard_plan_count].relname, relname);
		shard_plans[shard_plan_count].plan = plan;
		shard_plan_count++;
		pfree(sql);
	}
	ret = SPI_execute_plan(plan, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the zone's last event: %s", SPI_result_code_string(ret));
	if (last_event_ahead(base, &top, &limit))
		ereport(ERROR,
				errcode(ERRCODE_DP_EVENT_ORDER),
				errmsg("the events of zone " INT64_FORMAT " would be numbered below its last event on this node",
					   zone_id),
				errdetail("Its last event is numbered " INT64_FORMAT ", this node's next number is " INT64_FORMAT ": the zone's shards came from a node ahead of this one.",
						  top, limit),
				errhint("Before moving shards to a worker added later, run dispatch.prepare_worker() for it (docs/citus.md, \"Adding a worker\"); move the zone's shards back to its former worker meanwhile."));
	SPI_finish();
	checked_relid = relid;
	checked_zone = zone_id;
}

/*
 * The guard of a backend's first event on one server: the outbox must lie
 * below every number this node can give from now on, (base + next xid) <<
 * 20.  A row at or above it was numbered by another cluster whose
 * transaction ids ran ahead of this one's (an outbox restored here before
 * dispatch.after_restore() raised the base): this node's events would be
 * numbered below it, and events_since(cursor) would never hand them out.
 * Refused instead (DP109).  One lookup of events_seq_idx, once per backend
 * while it passes: the base never goes down, transaction ids only up.
 */
static void
check_outbox_below(int64 base)
{
	int64		top,
				limit;
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute("SELECT e.seq FROM dispatch.events e ORDER BY e.seq DESC LIMIT 1", true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the outbox's last event: %s", SPI_result_code_string(ret));
	if (last_event_ahead(base, &top, &limit))
		ereport(ERROR,
				errcode(ERRCODE_DP_OUTBOX_AHEAD),
				errmsg("this node would number events below the last event of the outbox"),
				errdetail("The outbox's last event is numbered " INT64_FORMAT ", this node's next number is " INT64_FORMAT ": the outbox was restored from a cluster whose transaction ids ran ahead of this one's.",
						  top, limit),
				errhint("Run SELECT dispatch.after_restore(); once, as dispatch_admin, after the restore and before writers start (docs/operations.md, \"Dump and restore\")."));
	SPI_finish();
	outbox_checked = true;
}

/*
 * Append one event to the outbox and notify listeners.  payload_json is a
 * JSON object (or NULL) with the kind-specific fields; its members are
 * stored in the row and copied into the NOTIFY payload.  Ids of 0 or less
 * mean "none".  Returns the event's seq.
 */
int64
dispatch_event_append(int64 zone_id, const char *kind, int64 order_id,
					  int64 customer_id, int64 rider_id,
					  const char *payload_json)
{
	int64		seq;
	TimestampTz at = dispatch_clock_now();
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	const char *payload = payload_json ? payload_json : "{}";
	int			ret;
	const char *k;
	bool		relay;
	Datum		stored;

	/* kinds are the extension's own words: short, lower case */
	for (k = kind; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || *k == '_'))
			break;
	if (*k != '\0' || k == kind || k - kind > EVENT_KIND_MAX)
		elog(ERROR, "invalid event kind \"%s\"", kind);
	seq = next_seq();
	/* on Citus the trigger of the shards guards each zone (DP108) */
	if (!outbox_checked && !outbox_distributed())
		check_outbox_below(ordinal_base);
	/* parsed once, in the caller's memory: the row's, and the payload's text */
	stored = DirectFunctionCall1(jsonb_in, CStringGetDatum(payload));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * Who notifies: in relay mode, with a relay serving this database, the
	 * row is marked for it and the writer only wakes it at commit; the plan
	 * without the column serves every other case (and the catalog of 0.1.0,
	 * which has no such column, before ALTER EXTENSION UPDATE).
	 */
	relay = (dispatch_notify_mode == DISPATCH_NOTIFY_RELAY &&
			 !outbox_distributed() &&
			 dispatch_relay_serves_this_database());
	if (insert_plan[relay] == NULL)
	{
		Oid			types[8] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID,
		INT8OID, INT8OID, INT8OID, JSONBOID};
		SPIPlanPtr	plan;

		plan = SPI_prepare(relay ?
						   "INSERT INTO dispatch.events"
						   " (zone_id, seq, at, kind, order_id, customer_id, rider_id, payload, relay)"
						   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true)" :
						   "INSERT INTO dispatch.events"
						   " (zone_id, seq, at, kind, order_id, customer_id, rider_id, payload)"
						   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
						   8, types);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		insert_plan[relay] = plan;
	}

	values[0] = Int64GetDatum(zone_id);
	values[1] = Int64GetDatum(seq);
	values[2] = TimestampTzGetDatum(at);
	values[3] = CStringGetTextDatum(kind);
	values[4] = Int64GetDatum(order_id);
	values[5] = Int64GetDatum(customer_id);
	values[6] = Int64GetDatum(rider_id);
	values[7] = stored;
	if (order_id <= 0)
		nulls[4] = 'n';
	if (customer_id <= 0)
		nulls[5] = 'n';
	if (rider_id <= 0)
		nulls[6] = 'n';

	ret = SPI_execute_plan(insert_plan[relay], values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not append event: %s", SPI_result_code_string(ret));
	SPI_finish();

	if (relay)
		dispatch_relay_wake_at_commit();
	else if (dispatch_notify_mode != DISPATCH_NOTIFY_OFF && !outbox_distributed())
	{
		StringInfoData buf;
		char	   *members;

		/*
		 * The members as the outbox holds them (jsonb's text: its key order
		 * and spacing), which is what the relay reads back: a payload is the
		 * same bytes in either mode, and truncated at the same size.
		 */
		members = DatumGetCString(DirectFunctionCall1(jsonb_out, stored));
		initStringInfo(&buf);
		dispatch_event_payload(&buf, seq, kind, zone_id, order_id,
							   customer_id, rider_id, at, members);
		pfree(members);
		Async_Notify(DISPATCH_EVENT_CHANNEL, buf.data);
		pfree(buf.data);
	}
	pfree(DatumGetPointer(stored));
	return seq;
}

/*
 * Whether the outbox is distributed (dispatch_table_distributed, dispatch.c),
 * read once per session, so sessions opened before distribute()
 * keep notifying until they end.
 */
static bool
outbox_distributed(void)
{
	static int	known = -1;

	if (known < 0)
		known = dispatch_table_distributed("events") ? 1 : 0;
	return known == 1;
}

PG_FUNCTION_INFO_V1(dispatch_event_shard_seq);

/*
 * Trigger on the shards of a distributed outbox, BEFORE INSERT, each row:
 * the row gets the next seq of this worker's transaction, whichever node
 * numbered it (the coordinator's numbers come from its own transactions),
 * so that the events of a zone are numbered by one node's transactions and
 * the horizon of events_since holds for them; a zone's first event of the
 * transaction here is refused if the shard holds a number above this
 * node's (check_zone_below).  Nothing has notified the
 * number given first (see outbox_distributed).  In relay mode the row is
 * marked for this node's relay, which is woken when the transaction
 * commits (or is prepared) if it is running: no writer notifies on Citus,
 * so a relay that was down sends the rows from its stored position when it
 * is back (and none is sent where no relay is configured).
 */
Datum
dispatch_event_shard_seq(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	int			attnums[2];
	bool		isnull[2] = {false, false};
	Datum		values[2];
	int			n = 1;
	Datum		zone;
	bool		zone_isnull;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		elog(ERROR, "dispatch_event_shard_seq fires BEFORE INSERT FOR EACH ROW only");
	desc = RelationGetDescr(td->tg_relation);
	zone = heap_getattr(td->tg_trigtuple, dispatch_column_number(desc, "zone_id"), desc, &zone_isnull);
	attnums[0] = dispatch_column_number(desc, "seq");
	values[0] = Int64GetDatum(next_seq());
	if (!zone_isnull)
		check_zone_below(td->tg_relation, DatumGetInt64(zone), ordinal_base);
	if (dispatch_notify_mode == DISPATCH_NOTIFY_RELAY)
	{
		attnums[1] = dispatch_column_number(desc, "relay");
		values[1] = BoolGetDatum(true);
		n = 2;
		if (dispatch_relay_ready_here())
			dispatch_relay_wake_at_commit();
	}
	return PointerGetDatum(heap_modify_tuple_by_cols(td->tg_trigtuple, desc, n, attnums, values, isnull));
}

PG_FUNCTION_INFO_V1(dispatch_emit_event);

/*
 * SQL: dispatch._emit_event(zone_id bigint, kind text, order_id bigint,
 *		customer_id bigint, rider_id bigint, payload jsonb) -> bigint
 *
 * For the SQL parts (offers, payment notices): the same outbox path as the
 * state machine.  Only the extension's own functions may call it.
 */
Datum
dispatch_emit_event(PG_FUNCTION_ARGS)
{
	int64		zone_id;
	char	   *kind;
	char	   *payload = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("an event needs a zone and a kind"));
	zone_id = PG_GETARG_INT64(0);
	kind = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!PG_ARGISNULL(5))
		payload = DatumGetCString(DirectFunctionCall1(jsonb_out,
													  PG_GETARG_DATUM(5)));

	PG_RETURN_INT64(dispatch_event_append(zone_id, kind,
										  PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2),
										  PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3),
										  PG_ARGISNULL(4) ? 0 : PG_GETARG_INT64(4),
										  payload));
}
