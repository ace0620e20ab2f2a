/*-------------------------------------------------------------------------
 *
 * refusals.c
 *		The ring of refused intake attempts, in shared memory.
 *
 * place_order and place_errand refuse a bad attempt by raising an error,
 * so the caller's transaction rolls back and a row written to a table in
 * it would be lost.  A refused attempt is therefore noted here, outside any
 * transaction: a fixed ring of small entries (no text at all: a sequence
 * number, the time, the database, zone and customer ids and the SQLSTATE)
 * that dispatch.flush_refusals() copies into the table intake_refusals
 * (sql/47_fraud.sql), keyed on (epoch, seq) so that nothing is inserted
 * twice.  The epoch is the time the ring was set up: a new one after every
 * server start and after every crash restart (which resets shared memory
 * and so the sequence).
 *
 * The ring lives in the main shared memory segment, so it exists only when
 * the module is in shared_preload_libraries; without it intake works as
 * before, nothing is noted, and each backend says so once in the server
 * log.  When more attempts are refused between two flushes than the ring
 * holds (dispatch.refusal_ring_size), the oldest are overwritten; the flush
 * counts them as lost.
 *
 * One LWLock guards the ring: an append holds it exclusively for a few
 * stores, a reader shares it while copying out what it asked for.
 *
 * place_order, place_errand and their forms that name the zone are C
 * functions here that call their PL/pgSQL bodies (_place_order,
 * _place_errand) and, when one raises an error of class DP, note it before
 * the error goes on: catching it in PL/pgSQL would cost a subtransaction on
 * every order, refused or not.  The body says which zone the attempt is
 * in (_refusal_zone) as soon as it knows.  Noting takes only the ring's
 * lock, which no code that can raise an error ever holds.  On Citus a call
 * sent whole to a worker notes its refusal in that worker's ring, and the
 * coordinator's flush_refusals() has each worker flush its own.
 *
 * IDENTIFICATION
 *		src/refusals.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "dispatch.h"

/* one refused attempt */
typedef struct RefusalEntry
{
	uint64		seq;			/* 1, 2, ... since the epoch; 0: never written */
	TimestampTz at;				/* dispatch.clock() when refused */
	Oid			dbid;			/* the database it was refused in */
	int			sqlstate;		/* MAKE_SQLSTATE form, class DP */
	int64		zone_id;		/* 0: not known when refused */
	int64		customer_id;	/* 0: none given */
} RefusalEntry;

typedef struct RefusalRing
{
	LWLock	   *lock;
	TimestampTz epoch;			/* when this ring was set up */
	int			capacity;		/* entries */
	uint64		next_seq;		/* the seq of the next append */
	RefusalEntry entries[FLEXIBLE_ARRAY_MEMBER];
} RefusalRing;

#define REFUSAL_TRANCHE "dispatch_refusals"

static RefusalRing *ring = NULL;
static bool warned_no_ring = false;
/* the zone of the intake attempt under way (_refusal_zone); 0: not known */
static int64 attempt_zone = 0;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* the short name of every code of class DP, from src/errcodes.txt */
typedef struct ErrcodeName
{
	int			sqlstate;
	const char *name;
} ErrcodeName;

#define DISPATCH_ERRCODE_NAME_ENTRY(macro, name) {macro, name},
static const ErrcodeName errcode_names[] = {
	DISPATCH_ERRCODE_NAMES(DISPATCH_ERRCODE_NAME_ENTRY)
};

static Size
ring_size(int capacity)
{
	return add_size(offsetof(RefusalRing, entries),
					mul_size(sizeof(RefusalEntry), capacity));
}

static void
refusals_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(ring_size(dispatch_refusal_ring_size));
	RequestNamedLWLockTranche(REFUSAL_TRANCHE, 1);
}

static void
refusals_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ring = ShmemInitStruct("dispatch refusal ring",
						   ring_size(dispatch_refusal_ring_size), &found);
	if (!found)
	{
		memset(ring, 0, ring_size(dispatch_refusal_ring_size));
		ring->lock = &(GetNamedLWLockTranche(REFUSAL_TRANCHE))->lock;
		ring->epoch = GetCurrentTimestamp();
		ring->capacity = dispatch_refusal_ring_size;
		ring->next_seq = 1;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Called from _PG_init: ask for the ring's memory and lock, only while the
 * postmaster loads shared_preload_libraries (later there is no memory to
 * be had).
 */
void
dispatch_refusals_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = refusals_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = refusals_shmem_startup;
}

/* the ring, or NULL (said once per backend in the server log) */
static RefusalRing *
get_ring(void)
{
	if (ring == NULL && !warned_no_ring)
	{
		warned_no_ring = true;
		ereport(LOG,
				errmsg("dispatch is not in shared_preload_libraries: refused intake attempts are not recorded"),
				errhint("Add dispatch to shared_preload_libraries and restart the server (docs/operations.md, fraud signals)."));
	}
	return ring;
}

static int
sqlstate_from_text(const char *s)
{
	if (strlen(s) != 5)
		return 0;
	return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

/* the short reason of a code of class DP ("fraud_distance"), or NULL */
static const char *
refusal_reason(int sqlstate)
{
	int			i;

	for (i = 0; i < lengthof(errcode_names); i++)
		if (errcode_names[i].sqlstate == sqlstate)
			return errcode_names[i].name;
	return NULL;
}

/*
 * Append one refused attempt, at time `at`, to the ring (nothing without
 * the ring).  The caller has checked that sqlstate is a code of class DP.
 * Nothing here can raise an error: it also runs while one is on its way.
 */
static void
note_refusal(TimestampTz at, int64 zone_id, int64 customer_id, int sqlstate)
{
	RefusalRing *r = ring;
	RefusalEntry *e;

	if (r == NULL)
		return;

	LWLockAcquire(r->lock, LW_EXCLUSIVE);
	e = &r->entries[(r->next_seq - 1) % r->capacity];
	e->seq = r->next_seq++;
	e->at = at;
	e->dbid = MyDatabaseId;
	e->sqlstate = sqlstate;
	e->zone_id = zone_id;
	e->customer_id = customer_id;
	LWLockRelease(r->lock);
}

PG_FUNCTION_INFO_V1(dispatch_note_refusal);

/*
 * SQL: dispatch._note_refusal(zone_id bigint, customer_id bigint,
 *                             sqlstate text) -> void
 *
 * Appends one refused attempt to the ring (a NULL id is stored as 0).
 * Only codes listed in src/errcodes.txt are noted (DP732 otherwise): the
 * entry holds no text, and the reason is the code's short name.
 */
Datum
dispatch_note_refusal(PG_FUNCTION_ARGS)
{
	int64		zone_id = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	int64		customer_id = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1);
	int			sqlstate;

	sqlstate = PG_ARGISNULL(2) ? 0 : sqlstate_from_text(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	if (sqlstate == 0 || refusal_reason(sqlstate) == NULL)
		ereport(ERROR,
				errcode(ERRCODE_DP_REFUSAL_NOT_DP),
				errmsg("only a refusal with a SQLSTATE of class DP is noted"));
	if (get_ring() != NULL)
		note_refusal(dispatch_clock_now(), zone_id, customer_id, sqlstate);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dispatch_refusal_zone);

/*
 * SQL: dispatch._refusal_zone(zone_id bigint) -> void
 *
 * The zone of the intake attempt under way, for its refusal if it is
 * refused (place_order and place_errand reset it at each call).
 */
Datum
dispatch_refusal_zone(PG_FUNCTION_ARGS)
{
	dispatch_refusal_set_zone(PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0));
	PG_RETURN_VOID();
}

/* the same for the intake bodies written in C (0: none) */
void
dispatch_refusal_set_zone(int64 zone_id)
{
	attempt_zone = zone_id;
}

/*
 * An intake body, and where it was found (per backend).  The body is named
 * in the caller's schema and takes the caller's arguments, with a NULL zone
 * first when add_zone is set (place_order and place_errand, whose bodies
 * also serve their forms that name the zone).
 */
typedef struct IntakeBody
{
	const char *name;			/* the body's name */
	bool		add_zone;		/* the caller names no zone: pass NULL first */
	int			customer_arg;	/* the caller's argument that is the customer */
	Oid			oid;
	FmgrInfo	flinfo;
} IntakeBody;

/* Find the body of the calling function fn_oid (its arguments, maybe a zone first). */
static void
find_intake_body(IntakeBody *body, Oid fn_oid)
{
	HeapTuple	tp = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	Form_pg_proc proc;
	Oid			types[FUNC_MAX_ARGS];
	List	   *name;
	int			n = 0;

	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	proc = (Form_pg_proc) GETSTRUCT(tp);
	if (proc->pronargs + 1 > FUNC_MAX_ARGS)
		elog(ERROR, "too many arguments for an intake body");
	if (body->add_zone)
		types[n++] = INT8OID;
	memcpy(types + n, proc->proargtypes.values, proc->pronargs * sizeof(Oid));
	n += proc->pronargs;
	name = list_make2(makeString(get_namespace_name(proc->pronamespace)),
					  makeString(pstrdup(body->name)));
	ReleaseSysCache(tp);

	body->oid = LookupFuncName(name, n, types, false);
	fmgr_info_cxt(body->oid, &body->flinfo, TopMemoryContext);
}

/*
 * Call an intake body with the caller's arguments; a refusal (an error of
 * class DP) is noted on its way out.
 */
static Datum
call_noting_refusal(FunctionCallInfo fcinfo, IntakeBody *body)
{
	LOCAL_FCINFO(inner, FUNC_MAX_ARGS);
	MemoryContext cxt = CurrentMemoryContext;
	int64		customer_id = PG_ARGISNULL(body->customer_arg) ? 0 : PG_GETARG_INT64(body->customer_arg);
	/* read now: nothing that can fail runs once an error is on its way */
	TimestampTz at = dispatch_clock_now();
	bool		have_ring = get_ring() != NULL;
	Datum		result = (Datum) 0;
	int			n = 0,
				i;

	/* found once per backend, again if the extension was made anew */
	if (!OidIsValid(body->oid) || !SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(body->oid)))
		find_intake_body(body, fcinfo->flinfo->fn_oid);
	InitFunctionCallInfoData(*inner, &body->flinfo, PG_NARGS() + (body->add_zone ? 1 : 0),
							 fcinfo->fncollation, NULL, NULL);
	if (body->add_zone)
	{
		inner->args[n].value = (Datum) 0;
		inner->args[n++].isnull = true;
	}
	for (i = 0; i < PG_NARGS(); i++)
		inner->args[n++] = fcinfo->args[i];

	attempt_zone = 0;
	PG_TRY();
	{
		result = FunctionCallInvoke(inner);
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		if (have_ring && refusal_reason(e->sqlerrcode) != NULL)
			note_refusal(at, attempt_zone, customer_id, e->sqlerrcode);
		FreeErrorData(e);
		PG_RE_THROW();
	}
	PG_END_TRY();
	fcinfo->isnull = inner->isnull;
	return result;
}

PG_FUNCTION_INFO_V1(dispatch_place_order);

/* SQL: dispatch.place_order(...): _place_order (no zone), its refusals noted. */
Datum
dispatch_place_order(PG_FUNCTION_ARGS)
{
	static IntakeBody body = {"_place_order", true, 0};

	return call_noting_refusal(fcinfo, &body);
}

/*
 * A form that names its zone (argument 0): a NULL zone is refused here,
 * since the body reads NULL as "find the zone".
 */
static void
require_zone(FunctionCallInfo fcinfo, const char *fn, const char *lookup_form)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_DP_ZONE_UNKNOWN),
				errmsg("%s needs a zone", fn),
				errhint("Call %s to let the zone be found.", lookup_form));
}

PG_FUNCTION_INFO_V1(dispatch_place_order_in_zone);

/* SQL: dispatch.place_order_in_zone(zone_id, ...): _place_order with the zone. */
Datum
dispatch_place_order_in_zone(PG_FUNCTION_ARGS)
{
	static IntakeBody body = {"_place_order", false, 1};

	require_zone(fcinfo, "place_order_in_zone", "place_order");
	return call_noting_refusal(fcinfo, &body);
}

PG_FUNCTION_INFO_V1(dispatch_place_errand);

/* SQL: dispatch.place_errand(...): _place_errand (no zone), its refusals noted. */
Datum
dispatch_place_errand(PG_FUNCTION_ARGS)
{
	static IntakeBody body = {"_place_errand", true, 0};

	return call_noting_refusal(fcinfo, &body);
}

PG_FUNCTION_INFO_V1(dispatch_place_errand_in_zone);

/* SQL: dispatch.place_errand_in_zone(zone_id, ...): _place_errand with the zone. */
Datum
dispatch_place_errand_in_zone(PG_FUNCTION_ARGS)
{
	static IntakeBody body = {"_place_errand", false, 1};

	require_zone(fcinfo, "place_errand_in_zone", "place_errand");
	return call_noting_refusal(fcinfo, &body);
}

PG_FUNCTION_INFO_V1(dispatch_refusal_ring);

/*
 * SQL: dispatch._refusal_ring(OUT epoch timestamptz, OUT capacity integer,
 *                             OUT next_seq bigint)
 *
 * The ring's epoch, size and next sequence number; all NULL without the
 * ring (the module not preloaded).
 */
Datum
dispatch_refusal_ring(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {true, true, true};
	RefusalRing *r = get_ring();

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "_refusal_ring must return a row");
	if (r != NULL)
	{
		LWLockAcquire(r->lock, LW_SHARED);
		values[0] = TimestampTzGetDatum(r->epoch);
		values[1] = Int32GetDatum(r->capacity);
		values[2] = Int64GetDatum((int64) r->next_seq);
		LWLockRelease(r->lock);
		nulls[0] = nulls[1] = nulls[2] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

PG_FUNCTION_INFO_V1(dispatch_refusals_after);

/*
 * SQL: dispatch._refusals_after(after_seq bigint)
 *   -> TABLE (seq bigint, at timestamptz, zone_id bigint, customer_id bigint,
 *             sqlstate text, reason text, lost bigint)
 *
 * What the ring holds after after_seq (the newest seq a flush of this
 * database has read): first one summary row (lost not NULL, the other
 * columns but seq NULL) whose seq is the newest seq now in the ring, of
 * any database (the caller's next after_seq), and whose lost counts the
 * entries after after_seq that were overwritten before this read; then the
 * entries of this database, oldest first.  Nothing without the ring.
 */
Datum
dispatch_refusals_after(PG_FUNCTION_ARGS)
{
	int64		after = PG_GETARG_INT64(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RefusalRing *r;
	RefusalEntry *copy;
	uint64		held,
				first,
				last,
				seq;
	int			n = 0,
				i;

	InitMaterializedSRF(fcinfo, 0);
	r = get_ring();
	if (r == NULL)
		return (Datum) 0;
	if (after < 0)
		after = 0;

	/* copy out under the lock, build tuples after releasing it */
	LWLockAcquire(r->lock, LW_SHARED);
	last = r->next_seq - 1;
	held = r->next_seq > (uint64) r->capacity ? r->next_seq - r->capacity : 1;
	first = Max(held, (uint64) after + 1);
	copy = palloc(sizeof(RefusalEntry) * (last >= first ? last - first + 1 : 1));
	for (seq = first; seq <= last; seq++)
	{
		RefusalEntry *e = &r->entries[(seq - 1) % r->capacity];

		Assert(e->seq == seq);
		if (e->dbid == MyDatabaseId)
			copy[n++] = *e;
	}
	LWLockRelease(r->lock);

	{
		Datum		values[7] = {0};
		bool		nulls[7] = {false, true, true, true, true, true, false};

		values[0] = Int64GetDatum((int64) Max(last, (uint64) after));
		values[6] = Int64GetDatum(held > (uint64) after + 1 ? (int64) (held - after - 1) : 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	for (i = 0; i < n; i++)
	{
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, true};

		values[0] = Int64GetDatum((int64) copy[i].seq);
		values[1] = TimestampTzGetDatum(copy[i].at);
		values[2] = Int64GetDatum(copy[i].zone_id);
		if (copy[i].customer_id == 0)
			nulls[3] = true;
		else
			values[3] = Int64GetDatum(copy[i].customer_id);
		values[4] = CStringGetTextDatum(unpack_sql_state(copy[i].sqlstate));
		values[5] = CStringGetTextDatum(refusal_reason(copy[i].sqlstate));
		values[6] = (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
