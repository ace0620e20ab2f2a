/*-------------------------------------------------------------------------
 *
 * order_state.c
 *		The order state machine: a BEFORE INSERT OR UPDATE OF status row
 *		trigger on dispatch.orders.
 *
 * Allowed transitions (DESIGN.md part 2):
 *
 *		pending_payment -> placed | payment_failed | cancelled
 *		payment_failed	-> pending_payment | cancelled
 *		placed			-> accepted | cancelled
 *		accepted		-> assigned | cancelled
 *		assigned		-> accepted (released) | picked_up | cancelled
 *		picked_up		-> delivered
 *
 * A new order starts in pending_payment.  Each transition stamps its time
 * (from dispatch.clock()), appends one event to the outbox and notifies.
 * An update that leaves the status unchanged passes through silently.
 * Locking is the row lock of the UPDATE itself: two sessions moving one
 * order serialise on it, and the second is checked against the state the
 * first committed.
 *
 * A release (assigned -> accepted) must remove the rider in the same
 * UPDATE (release_order does); a status-only update cannot release, so a
 * caller that merely repeats "accepted" never takes an order from its rider.
 *
 * Status versions.  The trigger stamps status_version: 1 on insert, the old
 * version + 1 on each status change.  It runs under the row lock of the
 * UPDATE, so an order's versions follow the real order of its changes, even
 * where event seqs (taken from transaction ids) do not; each order_status
 * event carries its version.  On a catalog of release 0.1.0, which has no
 * status_version column, the trigger does without (test/upgrade drives the
 * 0.1.0 API with this module).
 *
 * IDENTIFICATION
 *		src/order_state.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/rel.h"

#include "dispatch.h"

typedef struct Transition
{
	const char *from;
	const char *to;
} Transition;

static const Transition transitions[] = {
	{"pending_payment", "placed"},
	{"pending_payment", "payment_failed"},
	{"pending_payment", "cancelled"},
	{"payment_failed", "pending_payment"},
	{"payment_failed", "cancelled"},
	{"placed", "accepted"},
	{"placed", "cancelled"},
	{"accepted", "assigned"},
	{"accepted", "cancelled"},
	{"assigned", "accepted"},
	{"assigned", "picked_up"},
	{"assigned", "cancelled"},
	{"picked_up", "delivered"},
};

/* the column stamped when an order reaches a status, if any */
typedef struct Stamp
{
	const char *status;
	const char *column;
} Stamp;

static const Stamp stamps[] = {
	{"placed", "placed_at"},
	{"accepted", "accepted_at"},
	{"assigned", "assigned_at"},
	{"picked_up", "picked_up_at"},
	{"delivered", "delivered_at"},
	{"cancelled", "cancelled_at"},
};

static bool transition_allowed(const char *from, const char *to);
static int	column_number(TupleDesc tupdesc, const char *name);
static int32 int4_column(HeapTuple tuple, TupleDesc tupdesc, int attnum);
static int64 int8_column(HeapTuple tuple, TupleDesc tupdesc, const char *name);
static char *text_column(HeapTuple tuple, TupleDesc tupdesc, const char *name);

static bool
transition_allowed(const char *from, const char *to)
{
	int			i;

	for (i = 0; i < lengthof(transitions); i++)
		if (strcmp(transitions[i].from, from) == 0 &&
			strcmp(transitions[i].to, to) == 0)
			return true;
	return false;
}

static int
column_number(TupleDesc tupdesc, const char *name)
{
	int			attnum = SPI_fnumber(tupdesc, name);

	if (attnum <= 0)
		elog(ERROR, "dispatch.orders has no column \"%s\"", name);
	return attnum;
}

/* an int8 column's value, 0 when NULL */
static int64
int8_column(HeapTuple tuple, TupleDesc tupdesc, const char *name)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, column_number(tupdesc, name), tupdesc, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/* an int4 column's value by number, 0 when NULL */
static int32
int4_column(HeapTuple tuple, TupleDesc tupdesc, int attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, tupdesc, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

/* a text column's value, NULL when NULL */
static char *
text_column(HeapTuple tuple, TupleDesc tupdesc, const char *name)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, column_number(tupdesc, name), tupdesc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

PG_FUNCTION_INFO_V1(dispatch_order_state);

/*
 * Trigger: check the transition, stamp it and its version, write its event.
 */
Datum
dispatch_order_state(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	newtup;
	char	   *prev = NULL;
	char	   *status;
	int64		order_id;
	int64		rider_id;
	int64		event_rider;
	int			version_attnum;
	int32		version = 0;
	TimestampTz now;
	int			cols[4];
	Datum		vals[4];
	bool		nulls[4];
	int			ncols = 0;
	int			i;
	StringInfoData payload;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "dispatch_order_state must be a BEFORE ROW trigger");

	tupdesc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		newtup = td->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		newtup = td->tg_newtuple;
		prev = text_column(td->tg_trigtuple, tupdesc, "status");
	}
	else
		elog(ERROR, "dispatch_order_state fires on INSERT or UPDATE only");

	status = text_column(newtup, tupdesc, "status");
	order_id = int8_column(newtup, tupdesc, "order_id");
	rider_id = int8_column(newtup, tupdesc, "rider_id");
	/* absent on a 0.1.0 catalog */
	version_attnum = SPI_fnumber(tupdesc, "status_version");
	if (version_attnum <= 0)
		version_attnum = 0;

	if (status == NULL)
		ereport(ERROR,
				errcode(ERRCODE_DP_ORDER_INVARIANT),
				errmsg("order " INT64_FORMAT " must have a status", order_id));

	/* the status stays: so does its version, whatever the update says */
	if (prev != NULL && strcmp(prev, status) == 0)
	{
		if (version_attnum > 0)
		{
			bool		isnull;
			Datum		old_version = heap_getattr(td->tg_trigtuple, version_attnum,
												   tupdesc, &isnull);

			newtup = heap_modify_tuple_by_cols(newtup, tupdesc, 1, &version_attnum,
											   &old_version, &isnull);
		}
		return PointerGetDatum(newtup);
	}

	if (prev == NULL && strcmp(status, "pending_payment") != 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_FORBIDDEN_TRANSITION),
				errmsg("order " INT64_FORMAT " cannot start in status \"%s\"",
					   order_id, status),
				errdetail("Every order starts in \"pending_payment\"."));

	if (prev != NULL && !transition_allowed(prev, status))
		ereport(ERROR,
				errcode(ERRCODE_DP_FORBIDDEN_TRANSITION),
				errmsg("order " INT64_FORMAT " cannot go from \"%s\" to \"%s\"",
					   order_id, prev, status));

	if (rider_id == 0 && (strcmp(status, "assigned") == 0 ||
						  strcmp(status, "picked_up") == 0 ||
						  strcmp(status, "delivered") == 0))
		ereport(ERROR,
				errcode(ERRCODE_DP_ORDER_INVARIANT),
				errmsg("order " INT64_FORMAT " cannot be \"%s\" without a rider",
					   order_id, status));

	/* a release takes the rider away in the same update, or not at all */
	if (prev != NULL && strcmp(prev, "assigned") == 0 &&
		strcmp(status, "accepted") == 0 && rider_id != 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_FORBIDDEN_TRANSITION),
				errmsg("order " INT64_FORMAT " cannot go from \"assigned\" to \"accepted\" and keep its rider",
					   order_id),
				errhint("An order is released with dispatch.release_order(order_id, rider_id, reason)."));

	if (version_attnum > 0)
	{
		version = prev == NULL ? 1 :
			int4_column(td->tg_trigtuple, tupdesc, version_attnum) + 1;
		cols[ncols] = version_attnum;
		vals[ncols] = Int32GetDatum(version);
		nulls[ncols++] = false;
	}

	now = dispatch_clock_now();
	cols[ncols] = column_number(tupdesc, "status_changed_at");
	vals[ncols] = TimestampTzGetDatum(now);
	nulls[ncols++] = false;
	for (i = 0; i < lengthof(stamps); i++)
		if (strcmp(stamps[i].status, status) == 0)
		{
			cols[ncols] = column_number(tupdesc, stamps[i].column);
			vals[ncols] = TimestampTzGetDatum(now);
			nulls[ncols++] = false;
		}

	/*
	 * A released order has lost its assignment stamp; its event names the
	 * rider who released it, so that the gateway can tell them.
	 */
	event_rider = rider_id;
	if (prev != NULL && strcmp(prev, "assigned") == 0 &&
		strcmp(status, "accepted") == 0)
	{
		cols[ncols] = column_number(tupdesc, "assigned_at");
		vals[ncols] = (Datum) 0;
		nulls[ncols++] = true;
		event_rider = int8_column(td->tg_trigtuple, tupdesc, "rider_id");
	}
	Assert(ncols <= lengthof(cols));
	newtup = heap_modify_tuple_by_cols(newtup, tupdesc, ncols, cols, vals, nulls);

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"status\":");
	escape_json(&payload, status);
	appendStringInfoString(&payload, ",\"prev\":");
	if (prev)
		escape_json(&payload, prev);
	else
		appendStringInfoString(&payload, "null");
	if (version_attnum > 0)
		appendStringInfo(&payload, ",\"version\":%d", version);
	if (strcmp(status, "payment_failed") == 0)
		appendStringInfoString(&payload, ",\"action\":\"retry_payment\"");
	appendStringInfoChar(&payload, '}');

	dispatch_event_append(int8_column(newtup, tupdesc, "zone_id"),
						  "order_status", order_id,
						  int8_column(newtup, tupdesc, "customer_id"),
						  event_rider,
						  payload.data);
	pfree(payload.data);

	return PointerGetDatum(newtup);
}
