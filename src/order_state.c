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
 * Trigger: check the transition, stamp it, write its event.
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

	if (status == NULL)
		ereport(ERROR,
				errcode(ERRCODE_DP_ORDER_INVARIANT),
				errmsg("order " INT64_FORMAT " must have a status", order_id));

	if (prev != NULL && strcmp(prev, status) == 0)
		return PointerGetDatum(newtup);

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

	/* a released order goes back to the pool without its rider */
	if (prev != NULL && strcmp(prev, "assigned") == 0 &&
		strcmp(status, "accepted") == 0)
	{
		cols[ncols] = column_number(tupdesc, "rider_id");
		vals[ncols] = (Datum) 0;
		nulls[ncols++] = true;
		cols[ncols] = column_number(tupdesc, "assigned_at");
		vals[ncols] = (Datum) 0;
		nulls[ncols++] = true;
	}
	newtup = heap_modify_tuple_by_cols(newtup, tupdesc, ncols, cols, vals, nulls);

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"status\":");
	escape_json(&payload, status);
	appendStringInfoString(&payload, ",\"prev\":");
	if (prev)
		escape_json(&payload, prev);
	else
		appendStringInfoString(&payload, "null");
	if (strcmp(status, "payment_failed") == 0)
		appendStringInfoString(&payload, ",\"action\":\"retry_payment\"");
	appendStringInfoChar(&payload, '}');

	dispatch_event_append(int8_column(newtup, tupdesc, "zone_id"),
						  "order_status", order_id,
						  int8_column(newtup, tupdesc, "customer_id"),
						  int8_column(newtup, tupdesc, "rider_id"),
						  payload.data);
	pfree(payload.data);

	return PointerGetDatum(newtup);
}
