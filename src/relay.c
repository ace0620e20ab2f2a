/*-------------------------------------------------------------------------
 *
 * relay.c
 *		The relay: a background worker per database that sends the
 *		notifications of events after their transactions commit, so that
 *		writers do not take NOTIFY's lock.
 *
 * PostgreSQL's NOTIFY takes one database-wide lock from pre-commit until
 * the commit record is flushed, so every notifying transaction queues
 * behind every other.  With dispatch.notify = relay a writer appends its
 * event rows marked "relay" and sends nothing; at commit it sets the
 * relay's latch (no lock: a store into shared memory).  The relay wakes,
 * reads the committed events after its position in seq order under the
 * horizon rule of events_since (only events of transactions older than its
 * snapshot's xmin: nothing can appear below that later), and sends the
 * notifications of the marked ones in one transaction per round, with the
 * same payload a writer would send (events.c): one lock acquisition for
 * many events.  The same transaction moves its position in
 * dispatch.relay_position, so a round's notifications go out if and only
 * if its position moves: no event is sent twice by one relay or skipped.
 * Its commits are asynchronous (they carry no data); after a crash of the
 * server the last rounds may be sent again, which a gateway already
 * tolerates (delivery is at least once, docs/events.md).
 *
 * Rounds start at least dispatch.relay_round_ms apart: at a low rate of
 * commits every commit would otherwise cost a round (a transaction of the
 * relay's own), while within that time several commits share one.
 *
 * Events committed above the horizon wait until the older transactions end:
 * the relay then retries every RELAY_HELD_MS instead of sleeping.  Without
 * a wake-up it looks every RELAY_IDLE_MS (a prepared transaction committed
 * elsewhere, an extension created later).
 *
 * Once the outbox is distributed by Citus (docs/citus.md), each node's
 * relay serves the shards of the outbox that node holds: it reads them
 * directly, as local tables (reading the distributed table would fan out
 * to every shard on every node, every round), with the same horizon rule,
 * which holds there because a shard's rows are numbered by the node's own
 * transactions (events.c), and notifies that node's listeners: a gateway
 * connects to the worker of its zones.  The trigger that numbers a shard's
 * rows marks them for the relay in relay mode, running or not (nothing
 * else notifies there: a relay that was down sends them when it is back),
 * and wakes it at commit,
 * or at PREPARE TRANSACTION for Citus's two-phase commit (the COMMIT
 * PREPARED comes from another session; until it does the events lie above
 * the horizon and the relay retries).  The set of shards is read again
 * every round, so shards added later are served; a node holding none (the
 * coordinator, as a rule) is not ready and looks again every second.
 * Shards moved to a worker hold events numbered on their former node,
 * below this node's base (event_numbers.c: a worker added later, or one whose
 * base prepare_move raised), which their former node's relay sent: once a
 * round has read every event its snapshot shows, the relay moves its
 * position up to the base that snapshot sees, having sent every event this
 * node numbered below it.  A relay that first attaches on a node starts
 * at the horizon, above the base.
 *
 * The relay of a database starts when the server leaves recovery (a
 * standby runs none; a promoted one starts its relay, which continues from
 * the position it replicated), is restarted by the postmaster a second
 * after it dies, and stops on SIGTERM.  Writers mark events for it only
 * while it says it is ready (shared memory) for the extension they see (the
 * relay_position it attached to: an extension dropped and created again is
 * served from the relay's next round on, which starts at the horizon, above
 * anything written before): elsewhere, such as a database
 * not named in dispatch.relay_databases or a server without dispatch in
 * shared_preload_libraries, the writer notifies at commit and says so once
 * in the server log.  An event marked while the relay was ready is sent by
 * it, or by its successor from the stored position.
 *
 * IDENTIFICATION
 *		src/relay.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "dispatch.h"

#define RELAY_MAX_DATABASES		16
#define RELAY_BATCH				5000	/* events read per round at most */
#define RELAY_IDLE_MS			1000
#define RELAY_HELD_MS			1
#define RELAY_DB_CHECK_MS		2000	/* a missing database, looked for */

/* one database's relay */
typedef struct RelaySlot
{
	char		dbname[NAMEDATALEN];
	Oid			dbid;			/* once connected */
	pid_t		pid;			/* 0: not running */
	Latch	   *latch;			/* the running relay's latch */
	bool		ready;			/* writers of dbid may mark events for it */
	Oid			position_rel;	/* its dispatch.relay_position, while ready */
	int64		position;		/* last seq handled */
	uint64		rounds;			/* rounds that sent something */
	uint64		relayed;		/* notifications sent */
	TimestampTz last_round;
	bool		connecting;		/* a relay is connecting (still set: it died
								 * trying, and its successor waits) */
} RelaySlot;

typedef struct RelayShared
{
	slock_t		mutex;
	int			nslots;
	RelaySlot	slots[RELAY_MAX_DATABASES];
} RelayShared;

static RelayShared *relay = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static List *relay_dbnames = NIL;	/* parsed in the postmaster */

/* a writer's state */
static int	my_slot = -1;		/* the slot serving this database, or -1 */
static bool said_no_relay = false;
static bool wake_pending = false;
static bool callback_registered = false;

PGDLLEXPORT void dispatch_relay_main(Datum main_arg);

static void
relay_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(RelayShared));
}

static void
relay_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	relay = ShmemInitStruct("dispatch relay", sizeof(RelayShared), &found);
	if (!found)
	{
		ListCell   *lc;
		int			i = 0;

		memset(relay, 0, sizeof(RelayShared));
		SpinLockInit(&relay->mutex);
		foreach(lc, relay_dbnames)
			strlcpy(relay->slots[i++].dbname, (char *) lfirst(lc), NAMEDATALEN);
		relay->nslots = i;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Called from _PG_init: in the postmaster only, register one relay per
 * database of dispatch.relay_databases and ask for their shared memory.
 */
void
dispatch_relay_init(void)
{
	char	   *raw;
	ListCell   *lc;
	int			i = 0;

	if (!process_shared_preload_libraries_in_progress)
		return;

	raw = pstrdup(dispatch_relay_databases ? dispatch_relay_databases : "");
	if (!SplitIdentifierString(raw, ',', &relay_dbnames))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid list syntax in dispatch.relay_databases"));
	/* a database named twice would get two relays sharing one position */
	for (int a = 0; a < list_length(relay_dbnames); a++)
		for (int b = a + 1; b < list_length(relay_dbnames); b++)
			if (strcmp(list_nth(relay_dbnames, a), list_nth(relay_dbnames, b)) == 0)
				ereport(ERROR,
						errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("dispatch.relay_databases names database \"%s\" twice",
							   (char *) list_nth(relay_dbnames, a)));
	if (list_length(relay_dbnames) > RELAY_MAX_DATABASES)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("dispatch.relay_databases names %d databases, at most %d are allowed",
					   list_length(relay_dbnames), RELAY_MAX_DATABASES));

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = relay_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = relay_shmem_startup;

	foreach(lc, relay_dbnames)
	{
		BackgroundWorker worker;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 1;
		strlcpy(worker.bgw_library_name, "dispatch", BGW_MAXLEN);
		strlcpy(worker.bgw_function_name, "dispatch_relay_main", BGW_MAXLEN);
		snprintf(worker.bgw_name, BGW_MAXLEN, "dispatch relay for %s",
				 (char *) lfirst(lc));
		strlcpy(worker.bgw_type, "dispatch relay", BGW_MAXLEN);
		worker.bgw_main_arg = Int32GetDatum(i++);
		RegisterBackgroundWorker(&worker);
	}
}

/* ---------------------------------------------------------------------
 * The writer's side
 * ---------------------------------------------------------------------
 */

static void
relay_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			if (wake_pending && my_slot >= 0)
			{
				Latch	   *latch = relay->slots[my_slot].latch;

				/* a stale latch only wakes some process for nothing */
				if (latch != NULL)
					SetLatch(latch);
			}
			wake_pending = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_pending = false;
			break;
		default:
			break;
	}
}

/*
 * The dispatch.relay_position that this transaction sees (InvalidOid:
 * none), two syscache look-ups.  A relay serves the extension whose table
 * it attached to: one dropped and created again while it runs (even in
 * the writer's own transaction) is not served until the relay attaches to
 * it, and would start above the events marked meanwhile.
 */
static Oid
relay_position_rel(void)
{
	Oid			nsp = get_namespace_oid("dispatch", true);

	return OidIsValid(nsp) ? get_relname_relid("relay_position", nsp) : InvalidOid;
}

/*
 * Whether a relay is ready for this database's events now.  A stale answer
 * is harmless both ways: a marked event waits for the relay's successor,
 * an unmarked one is notified by its writer.
 */
bool
dispatch_relay_ready_here(void)
{
	if (relay != NULL)
	{
		int			i;
		Oid			rel = relay_position_rel();

		if (!OidIsValid(rel))
			return false;
		if (my_slot >= 0 && relay->slots[my_slot].dbid == MyDatabaseId &&
			relay->slots[my_slot].ready &&
			relay->slots[my_slot].position_rel == rel)
			return true;
		for (i = 0; i < relay->nslots; i++)
		{
			volatile RelaySlot *s = &relay->slots[i];

			if (s->dbid == MyDatabaseId && s->ready && s->latch != NULL &&
				s->position_rel == rel)
			{
				my_slot = i;
				return true;
			}
		}
	}
	return false;
}

/* the same, saying once in the server log when none is */
bool
dispatch_relay_serves_this_database(void)
{
	if (dispatch_relay_ready_here())
		return true;
	if (!said_no_relay)
	{
		said_no_relay = true;
		ereport(LOG,
				errmsg("dispatch.notify is relay, but no relay serves database \"%s\": events are notified at commit",
					   get_database_name(MyDatabaseId)),
				errhint(relay == NULL ?
						"Add dispatch to shared_preload_libraries." :
						"Name the database in dispatch.relay_databases, or wait for its relay to start."));
	}
	return false;
}

/* the relay is to be woken when the current transaction commits */
void
dispatch_relay_wake_at_commit(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(relay_xact_callback, NULL);
		callback_registered = true;
	}
	wake_pending = true;
}

/* ---------------------------------------------------------------------
 * The relay
 * ---------------------------------------------------------------------
 */

static RelaySlot *me = NULL;
static Oid	plans_for = InvalidOid;	/* the extension the plans were made for */
static char *plans_read = NULL;	/* and what they read: NULL, dispatch.events */
static SPIPlanPtr read_plan = NULL;
static SPIPlanPtr move_plan = NULL;
static int64 position = 0;
static Oid	attached_rel = InvalidOid;	/* the relay_position of plans_for */

/*
 * The horizon at which the last round stopped at an event of a transaction
 * still running (-1: none): while it stands, no event below it is unsent,
 * and a round does not read the outbox again (a long transaction would
 * otherwise have each writer's commit wake a round that reads the same
 * waiting events and stops at the same one).
 */
static int64 held_horizon = -1;
static TimestampTz last_start = 0;	/* when the last round started */

static void
relay_detach(int code, Datum arg)
{
	SpinLockAcquire(&relay->mutex);
	me->ready = false;
	me->position_rel = InvalidOid;
	me->latch = NULL;
	me->pid = 0;
	SpinLockRelease(&relay->mutex);
}

static SPIPlanPtr
keep(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

static int64
int64_result(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * The extension's schema holds relay_position (0.2.0 on): prepare the
 * plans, reading the outbox (shards NULL) or the union of the given shards
 * of it, and take the stored position, or start at the horizon.  Returns
 * false when the extension or its table is missing.
 */
static bool
relay_attach(Oid ext, const char *shards)
{
	Oid			nsp = get_namespace_oid("dispatch", true);	/* not relocatable */
	Oid			int8 = INT8OID;
	Oid			read_types[2] = {INT8OID, INT4OID};
	int64		horizon;

	held_horizon = -1;
	attached_rel = OidIsValid(nsp) ? get_relname_relid("relay_position", nsp) : InvalidOid;
	if (!OidIsValid(attached_rel))
		return false;

	if (read_plan)
		SPI_freeplan(read_plan);
	if (move_plan)
		SPI_freeplan(move_plan);
	if (shards == NULL)
		read_plan = keep("SELECT seq, zone_id, kind, order_id, customer_id, rider_id, at,"
						 " payload::pg_catalog.text, relay FROM dispatch.events"
						 " WHERE seq OPERATOR(pg_catalog.>) $1 ORDER BY seq LIMIT $2", 2, read_types);
	else
	{
		StringInfoData q;

		initStringInfo(&q);
		appendStringInfoString(&q, "SELECT seq, zone_id, kind, order_id, customer_id, rider_id, at,"
							   " payload::pg_catalog.text, relay FROM (");
		appendStringInfoString(&q, shards);
		appendStringInfoString(&q, ") e ORDER BY seq LIMIT $2");
		read_plan = keep(q.data, 2, read_types);
		pfree(q.data);
	}
	move_plan = keep("UPDATE dispatch.relay_position SET seq = $1, at = pg_catalog.now()",
					 1, &int8);

	horizon = dispatch_event_horizon();

	if (SPI_execute("SELECT seq FROM dispatch.relay_position", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the relay's position");
	if (SPI_processed == 0)
	{
		Datum		v = Int64GetDatum(horizon - 1);

		position = horizon - 1;
		if (SPI_execute_with_args("INSERT INTO dispatch.relay_position (seq) VALUES ($1)",
								  1, &int8, &v, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not store the relay's position");
	}
	else
	{
		position = int64_result(0, 1);
		/* a position from another cluster's transaction ids (a restore) */
		if (position >= horizon + ((int64) 1 << 40))
		{
			ereport(LOG,
					errmsg("dispatch relay: stored position " INT64_FORMAT " lies beyond this server's transactions; starting at " INT64_FORMAT,
						   position, horizon - 1));
			position = horizon - 1;
		}

		/*
		 * A position below this node's base is kept: events this node
		 * numbered with an earlier base may lie above it unsent (the base
		 * was raised while the relay was away); the first round sends
		 * them and then moves above the base (relay_round).
		 */
	}
	plans_for = ext;
	if (plans_read)
		pfree(plans_read);
	plans_read = shards ? MemoryContextStrdup(TopMemoryContext, shards) : NULL;
	return true;
}

/*
 * Whether the outbox is a distributed table of Citus, and if so the shards
 * of it that this node holds, as the body of the relay's read (one SELECT
 * of each, in shard order, joined by UNION ALL; NULL when it holds none),
 * their number in *count.  One read of Citus's catalog, within the round's
 * transaction (SPI connected); false where Citus is not installed.
 */
static bool
local_outbox_shards(char **shards, int *count)
{
	StringInfoData q;
	Datum		names;
	bool		isnull;
	ArrayType  *array;
	Datum	   *elems;
	int			n;
	int			i;
	int			ret;

	*shards = NULL;
	*count = 0;
	if (!dispatch_on_citus())
		return false;
	/* no row: not distributed; a row: this node's shards (NULL: none) */
	ret = SPI_execute("SELECT (SELECT pg_catalog.array_agg(pg_catalog.shard_name(d.logicalrelid, s.shardid)::text"
					  "                                  ORDER BY s.shardid)"
					  "          FROM pg_catalog.pg_dist_shard s"
					  "          JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid"
					  "         WHERE s.logicalrelid OPERATOR(pg_catalog.=) d.logicalrelid"
					  "           AND p.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g))"
					  "  FROM pg_catalog.pg_dist_partition d"
					  " WHERE d.logicalrelid OPERATOR(pg_catalog.=) 'dispatch.events'::pg_catalog.regclass",
					  true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the placement of the outbox: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;
	names = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return true;
	array = DatumGetArrayTypeP(names);
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &n);
	initStringInfo(&q);
	for (i = 0; i < n; i++)
		appendStringInfo(&q, "%sSELECT seq, zone_id, kind, order_id, customer_id, rider_id, at, payload, relay"
						 " FROM %s WHERE seq OPERATOR(pg_catalog.>) $1", i > 0 ? " UNION ALL " : "",
						 TextDatumGetCString(elems[i]));
	*shards = q.data;
	*count = n;
	return true;
}

/* shards of a distributed outbox last said in the server log; -1: none said */
static int	said_shards = -1;

/*
 * One round in its own transaction.  Returns the wait before the next:
 * 0 when more events wait, RELAY_HELD_MS when events wait for older
 * transactions, RELAY_IDLE_MS otherwise.
 */
static long
relay_round(void)
{
	Oid			ext;
	long		wait = RELAY_IDLE_MS;
	bool		was_ready = me->ready;
	bool		ready = true;
	int64		start = position;
	int64		horizon;
	uint64		sent = 0;
	uint64		i;
	Datum		args[2];

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pgstat_report_activity(STATE_RUNNING, "relaying events");

	ext = get_extension_oid("dispatch", true);
	if (!OidIsValid(ext))
		ready = false;
	else
	{
		char	   *shards = NULL;	/* NULL: the outbox itself */
		int			count;

		if (local_outbox_shards(&shards, &count))
		{
			if (count != said_shards)
			{
				said_shards = count;
				ereport(LOG,
						count > 0 ?
						errmsg("dispatch relay for database \"%s\" serves the %d shards of the distributed outbox on this node",
							   me->dbname, count) :
						errmsg("dispatch relay for database \"%s\" has nothing to relay: this node holds no shard of the distributed outbox",
							   me->dbname),
						errdetail("Gateways connect to the worker of their zones (docs/citus.md)."));
			}
			if (shards == NULL)
			{
				/*
				 * Holding no shard, this node has no event to send: a
				 * stored position below its base goes up to it, so that
				 * events moved here later, numbered below it on other
				 * nodes (whose relays sent them), are not sent again
				 */
				Oid			int8 = INT8OID;
				Datum		v = Int64GetDatum(dispatch_event_floor());

				if (SPI_execute_with_args("UPDATE dispatch.relay_position SET seq = $1, at = pg_catalog.now()"
										  " WHERE seq OPERATOR(pg_catalog.<) $1",
										  1, &int8, &v, NULL, false, 0) != SPI_OK_UPDATE)
					elog(ERROR, "could not move the relay's position");
				ready = false;
			}
		}
		if (ready &&
			(ext != plans_for ||
			 (shards == NULL) != (plans_read == NULL) ||
			 (shards != NULL && strcmp(shards, plans_read) != 0)) &&
			!relay_attach(ext, shards))
			ready = false;
	}

	horizon = ready && was_ready ? dispatch_event_horizon() : -1;
	if (ready && was_ready && horizon == held_horizon)
		wait = RELAY_HELD_MS;	/* the same older transaction still runs */
	else if (ready && was_ready)
	{
		held_horizon = -1;

		args[0] = Int64GetDatum(position);
		args[1] = Int32GetDatum(RELAY_BATCH);
		if (SPI_execute_plan(read_plan, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the outbox");
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			int64		seq = int64_result(i, 1);
			bool		isnull;
			bool		marked;

			if (seq >= horizon)
			{
				wait = RELAY_HELD_MS;	/* an older transaction is running */
				held_horizon = horizon;
				break;
			}
			marked = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
			if (marked && !isnull)
			{
				StringInfoData buf;
				char	   *kind = SPI_getvalue(tup, desc, 3);
				char	   *payload = SPI_getvalue(tup, desc, 8);

				initStringInfo(&buf);
				dispatch_event_payload(&buf, seq, kind,
									   int64_result(i, 2), int64_result(i, 4),
									   int64_result(i, 5), int64_result(i, 6),
									   DatumGetTimestampTz(SPI_getbinval(tup, desc, 7, &isnull)),
									   payload);
				Async_Notify(DISPATCH_EVENT_CHANNEL, buf.data);
				pfree(buf.data);
				pfree(kind);
				pfree(payload);
				sent++;
			}
			position = seq;
		}
		if (i == RELAY_BATCH)
			wait = 0;
		else
		{
			/*
			 * Every event below the horizon was read.  Below this node's
			 * base as the snapshot sees it, every event numbered here is
			 * committed and now sent; what else lies there was numbered on
			 * other nodes, in shards that moved here or will, and their
			 * relays sent it: go above it (a worker added or prepared for
			 * a move, docs/citus.md).
			 */
			int64		floor = dispatch_event_floor();

			if (position < floor)
				position = floor;
		}
		if (position != start)
		{
			args[0] = Int64GetDatum(position);
			if (SPI_execute_plan(move_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not move the relay's position");
		}
	}
	else if (ready)
		wait = 0;				/* attached: relay from the next round on */

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);

	if (!ready)
		plans_for = InvalidOid;
	SpinLockAcquire(&relay->mutex);
	me->ready = ready;
	me->position_rel = ready ? attached_rel : InvalidOid;
	me->position = position;
	if (sent > 0)
	{
		me->rounds++;
		me->relayed += sent;
		me->last_round = GetCurrentTimestamp();
	}
	SpinLockRelease(&relay->mutex);
	return wait;
}

/*
 * The relay before this one died connecting to its database: the database
 * does not exist (yet, or any more: DROP DATABASE ... WITH (FORCE) ends
 * the relay in it), or takes no connections.  Restarted every second,
 * each failing with a FATAL, the relays would fill the server log for as
 * long as the name stays in dispatch.relay_databases, which only a restart
 * changes.  This one says so once, connected to no database, looks for
 * the database every RELAY_DB_CHECK_MS, and exits to be restarted, to
 * connect, once it is there and takes connections.  Writers notify at
 * commit meanwhile (no relay is ready for them).
 */
static void
relay_wait_for_database(void)
{
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	ereport(LOG,
			errmsg("dispatch relay waits for database \"%s\", which it cannot connect to",
				   me->dbname),
			errdetail("The database is named in dispatch.relay_databases; the relay looks for it every %d seconds.",
					  RELAY_DB_CHECK_MS / 1000));
	for (;;)
	{
		bool		there = false;
		Relation	rel;
		TableScanDesc scan;
		HeapTuple	tup;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 RELAY_DB_CHECK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		/*
		 * Connected to no database, only a heap scan of pg_database reads
		 * it (its indexes and caches need a database's relcache).
		 */
		StartTransactionCommand();
		rel = table_open(DatabaseRelationId, AccessShareLock);
		scan = table_beginscan_catalog(rel, 0, NULL);
		while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
		{
			Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

			if (strcmp(NameStr(db->datname), me->dbname) != 0)
				continue;
			there = db->datallowconn;
#ifdef DATCONNLIMIT_INVALID_DB
			there = there && db->datconnlimit != DATCONNLIMIT_INVALID_DB;
#endif
			break;
		}
		table_endscan(scan);
		table_close(rel, AccessShareLock);
		CommitTransactionCommand();
		if (there)
		{
			me->connecting = false;
			proc_exit(1);		/* restarted by the postmaster */
		}
	}
}

void
dispatch_relay_main(Datum main_arg)
{
	int			i = DatumGetInt32(main_arg);

	if (relay == NULL || i < 0 || i >= relay->nslots)
		elog(ERROR, "dispatch relay: no slot %d", i);
	me = &relay->slots[i];

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	if (me->connecting)
		relay_wait_for_database();	/* does not return */
	me->connecting = true;
	BackgroundWorkerInitializeConnection(me->dbname, NULL, 0);
	me->connecting = false;

	/* its commits carry no data; see the head of this file */
	/*
	 * The relay runs as the bootstrap superuser: names in its statements
	 * resolve in pg_catalog first whatever a database's or role's settings
	 * say, and its own statements name every other object by schema.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_OVERRIDE);
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("application_name", "dispatch relay", PGC_USERSET, PGC_S_OVERRIDE);

	/*
	 * Its plans are kept for its life, and are mostly made while the outbox
	 * is new and nearly empty: planned for that, the read of new events
	 * would scan the whole outbox, and its shards, every round as it fills,
	 * until an ANALYZE has them planned again.  Every read it makes has an
	 * index on seq to go by.  A scan that has no other way (its one-row
	 * position) then costs the planner's penalty for a disabled path,
	 * which would make every round compile its UPDATE with JIT (27 ms and
	 * more a round, measured): its statements are all small, JIT is off.
	 */
	SetConfigOption("enable_seqscan", "off", PGC_USERSET, PGC_S_OVERRIDE);
	SetConfigOption("jit", "off", PGC_USERSET, PGC_S_OVERRIDE);

	SpinLockAcquire(&relay->mutex);
	me->dbid = MyDatabaseId;
	me->pid = MyProcPid;
	me->ready = false;
	me->latch = MyLatch;
	SpinLockRelease(&relay->mutex);
	before_shmem_exit(relay_detach, 0);
	last_start = 0;

	for (;;)
	{
		long		wait;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		/* at most one round per dispatch.relay_round_ms: commits coalesce */
		now = GetCurrentTimestamp();
		if (dispatch_relay_round_ms > 0 &&
			!TimestampDifferenceExceeds(last_start, now, dispatch_relay_round_ms))
		{
			long		left = dispatch_relay_round_ms -
				TimestampDifferenceMilliseconds(last_start, now);

			/*
			 * Commits set the latch meanwhile: the round that follows reads
			 * their events, so the wake-up is let go; a SIGTERM sets it too,
			 * and stops the relay at once, not at the end of the spacing.
			 */
			while (left > 0)
			{
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 left, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
				now = GetCurrentTimestamp();
				left = dispatch_relay_round_ms - TimestampDifferenceMilliseconds(last_start, now);
			}
			CHECK_FOR_INTERRUPTS();
		}
		last_start = now;
		ResetLatch(MyLatch);
		wait = relay_round();
		if (wait > 0)
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 wait, PG_WAIT_EXTENSION);
	}
}

PG_FUNCTION_INFO_V1(dispatch_relay_status);

/*
 * SQL: dispatch.relay_status() -> setof (database name, pid integer,
 *		ready boolean, position bigint, rounds bigint, relayed bigint,
 *		last_round timestamptz)
 *
 * One row per relay of dispatch.relay_databases; none without the module
 * in shared_preload_libraries.
 */
Datum
dispatch_relay_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (relay == NULL)
		PG_RETURN_VOID();
	for (i = 0; i < relay->nslots; i++)
	{
		RelaySlot	s;
		Datum		values[7];
		bool		nulls[7] = {false};

		SpinLockAcquire(&relay->mutex);
		s = relay->slots[i];
		SpinLockRelease(&relay->mutex);

		values[0] = DirectFunctionCall1(namein, CStringGetDatum(s.dbname));
		values[1] = Int32GetDatum((int32) s.pid);
		nulls[1] = (s.pid == 0);
		values[2] = BoolGetDatum(s.ready);
		values[3] = Int64GetDatum(s.position);
		nulls[3] = (s.position == 0);
		values[4] = Int64GetDatum((int64) s.rounds);
		values[5] = Int64GetDatum((int64) s.relayed);
		values[6] = TimestampTzGetDatum(s.last_round);
		nulls[6] = (s.last_round == 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}
