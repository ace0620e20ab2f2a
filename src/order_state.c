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
 * Payment attempts.  The trigger stamps payment_attempt too: 1 on insert,
 * one more when a failed payment is retried (payment_failed ->
 * pending_payment); the events of pending_payment and payment_failed carry
 * it as "attempt", so that the payment service can name the attempt it
 * reports on (fail_payment, src/payments.c).  Absent from catalogs before
 * the column, like status_version.
 *
 * IDENTIFICATION
 *		src/order_state.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
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

/* an int8 column's value, 0 when NULL */
static int64
int8_column(HeapTuple tuple, TupleDesc tupdesc, const char *name)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, dispatch_column_number(tupdesc, name), tupdesc, &isnull);

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
	Datum		d = heap_getattr(tuple, dispatch_column_number(tupdesc, name), tupdesc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* One change of an order's status, as the trigger sees it. */
typedef struct OrderChange
{
	HeapTuple	oldtup;			/* NULL for an INSERT */
	HeapTuple	newtup;
	TupleDesc	tupdesc;
	const char *prev;			/* NULL for an INSERT */
	const char *status;
	int64		order_id;
	int64		rider_id;		/* 0 when NULL */
	int			version_attnum; /* 0 on a 0.1.0 catalog */
	int			eta_earliest_attnum;	/* 0 on a 0.1.0 catalog */
	int			eta_latest_attnum;
	int			attempt_attnum; /* 0 on a catalog without payment_attempt */
	int32		version;		/* the new version, once stamped */
	int32		attempt;		/* the payment attempt, once stamped */
	int64		event_rider;	/* the rider the event names */
} OrderChange;

/* assigned -> accepted: the order's rider gives it back */
static bool
is_release(const OrderChange *c)
{
	return c->prev != NULL && strcmp(c->prev, "assigned") == 0 &&
		strcmp(c->status, "accepted") == 0;
}

/* Read the change a trigger call makes. */
static void
read_change(TriggerData *td, OrderChange *c)
{
	memset(c, 0, sizeof(OrderChange));
	c->tupdesc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		c->newtup = td->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		c->oldtup = td->tg_trigtuple;
		c->newtup = td->tg_newtuple;
		c->prev = text_column(c->oldtup, c->tupdesc, "status");
	}
	else
		elog(ERROR, "dispatch_order_state fires on INSERT or UPDATE only");

	c->status = text_column(c->newtup, c->tupdesc, "status");
	c->order_id = int8_column(c->newtup, c->tupdesc, "order_id");
	c->rider_id = int8_column(c->newtup, c->tupdesc, "rider_id");
	c->event_rider = c->rider_id;
	/* absent on a 0.1.0 catalog */
	c->version_attnum = Max(SPI_fnumber(c->tupdesc, "status_version"), 0);
	c->eta_earliest_attnum = Max(SPI_fnumber(c->tupdesc, "eta_earliest"), 0);
	c->eta_latest_attnum = Max(SPI_fnumber(c->tupdesc, "eta_latest"), 0);
	c->attempt_attnum = Max(SPI_fnumber(c->tupdesc, "payment_attempt"), 0);

	if (c->status == NULL)
		ereport(ERROR,
				errcode(ERRCODE_DP_ORDER_INVARIANT),
				errmsg("order " INT64_FORMAT " must have a status", c->order_id));
}

/* The status stays: so does its version, whatever the update says. */
static HeapTuple
keep_version(const OrderChange *c)
{
	bool		isnull;
	Datum		old_version;
	int			attnum = c->version_attnum;

	if (attnum == 0)
		return c->newtup;
	old_version = heap_getattr(c->oldtup, attnum, c->tupdesc, &isnull);
	return heap_modify_tuple_by_cols(c->newtup, c->tupdesc, 1, &attnum,
									 &old_version, &isnull);
}

/* Refuse a transition the state machine does not allow (DP101, DP102). */
static void
check_transition(const OrderChange *c)
{
	if (c->prev == NULL && strcmp(c->status, "pending_payment") != 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_FORBIDDEN_TRANSITION),
				errmsg("order " INT64_FORMAT " cannot start in status \"%s\"",
					   c->order_id, c->status),
				errdetail("Every order starts in \"pending_payment\"."));

	if (c->prev != NULL && !transition_allowed(c->prev, c->status))
		ereport(ERROR,
				errcode(ERRCODE_DP_FORBIDDEN_TRANSITION),
				errmsg("order " INT64_FORMAT " cannot go from \"%s\" to \"%s\"",
					   c->order_id, c->prev, c->status));

	if (c->rider_id == 0 && (strcmp(c->status, "assigned") == 0 ||
							 strcmp(c->status, "picked_up") == 0 ||
							 strcmp(c->status, "delivered") == 0))
		ereport(ERROR,
				errcode(ERRCODE_DP_ORDER_INVARIANT),
				errmsg("order " INT64_FORMAT " cannot be \"%s\" without a rider",
					   c->order_id, c->status));

	/* a release takes the rider away in the same update, or not at all */
	if (is_release(c) && c->rider_id != 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_FORBIDDEN_TRANSITION),
				errmsg("order " INT64_FORMAT " cannot go from \"assigned\" to \"accepted\" and keep its rider",
					   c->order_id),
				errhint("An order is released with dispatch.release_order(order_id, rider_id, reason)."));
}

/*
 * Stamp the change: the next status version, the payment attempt, the time
 * of the change and of the status reached.  A released order loses its
 * assignment stamp, and its event names the rider who released it, so that
 * the gateway can tell them.
 */
static HeapTuple
stamp_change(OrderChange *c)
{
	int			cols[5];
	Datum		vals[5];
	bool		nulls[5];
	int			ncols = 0;
	int			i;
	TimestampTz now = dispatch_clock_now();

	if (c->version_attnum > 0)
	{
		c->version = c->prev == NULL ? 1 :
			int4_column(c->oldtup, c->tupdesc, c->version_attnum) + 1;
		cols[ncols] = c->version_attnum;
		vals[ncols] = Int32GetDatum(c->version);
		nulls[ncols++] = false;
	}

	if (c->attempt_attnum > 0)
	{
		c->attempt = c->prev == NULL ? 1 :
			int4_column(c->oldtup, c->tupdesc, c->attempt_attnum);
		if (c->prev != NULL && strcmp(c->prev, "payment_failed") == 0 &&
			strcmp(c->status, "pending_payment") == 0)
			c->attempt++;
		cols[ncols] = c->attempt_attnum;
		vals[ncols] = Int32GetDatum(c->attempt);
		nulls[ncols++] = false;
	}

	cols[ncols] = dispatch_column_number(c->tupdesc, "status_changed_at");
	vals[ncols] = TimestampTzGetDatum(now);
	nulls[ncols++] = false;
	for (i = 0; i < lengthof(stamps); i++)
		if (strcmp(stamps[i].status, c->status) == 0)
		{
			cols[ncols] = dispatch_column_number(c->tupdesc, stamps[i].column);
			vals[ncols] = TimestampTzGetDatum(now);
			nulls[ncols++] = false;
		}

	if (is_release(c))
	{
		cols[ncols] = dispatch_column_number(c->tupdesc, "assigned_at");
		vals[ncols] = (Datum) 0;
		nulls[ncols++] = true;
		c->event_rider = int8_column(c->oldtup, c->tupdesc, "rider_id");
	}
	Assert(ncols <= lengthof(cols));
	return heap_modify_tuple_by_cols(c->newtup, c->tupdesc, ncols, cols, vals, nulls);
}

/*
 * The delivery window the order_eta trigger (sql/63_eta.sql) set on the new
 * row, if any: "eta":{"earliest":..., "latest":...} in JSON's time format.
 */
static void
append_eta(StringInfo payload, const OrderChange *c, HeapTuple newtup)
{
	bool		null_earliest,
				null_latest;
	Datum		earliest,
				latest;
	char		buf[MAXDATELEN + 1];

	if (c->eta_earliest_attnum == 0 || c->eta_latest_attnum == 0)
		return;
	earliest = heap_getattr(newtup, c->eta_earliest_attnum, c->tupdesc, &null_earliest);
	latest = heap_getattr(newtup, c->eta_latest_attnum, c->tupdesc, &null_latest);
	if (null_earliest || null_latest)
		return;
	appendStringInfoString(payload, ",\"eta\":{\"earliest\":\"");
	appendStringInfoString(payload, JsonEncodeDateTime(buf, earliest, TIMESTAMPTZOID, NULL));
	appendStringInfoString(payload, "\",\"latest\":\"");
	appendStringInfoString(payload, JsonEncodeDateTime(buf, latest, TIMESTAMPTZOID, NULL));
	appendStringInfoString(payload, "\"}");
}

/* The order_status event of the change (docs/events.md). */
static void
emit_status_event(const OrderChange *c, HeapTuple newtup)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"status\":");
	escape_json(&payload, c->status);
	appendStringInfoString(&payload, ",\"prev\":");
	if (c->prev)
		escape_json(&payload, c->prev);
	else
		appendStringInfoString(&payload, "null");
	if (c->version_attnum > 0)
		appendStringInfo(&payload, ",\"version\":%d", c->version);
	if (c->attempt_attnum > 0 && (strcmp(c->status, "pending_payment") == 0 ||
								  strcmp(c->status, "payment_failed") == 0))
		appendStringInfo(&payload, ",\"attempt\":%d", c->attempt);
	if (strcmp(c->status, "payment_failed") == 0)
		appendStringInfoString(&payload, ",\"action\":\"retry_payment\"");
	append_eta(&payload, c, newtup);
	appendStringInfoChar(&payload, '}');

	dispatch_event_append(int8_column(newtup, c->tupdesc, "zone_id"),
						  "order_status", c->order_id,
						  int8_column(newtup, c->tupdesc, "customer_id"),
						  c->event_rider,
						  payload.data);
	pfree(payload.data);
}

PG_FUNCTION_INFO_V1(dispatch_order_state);

/*
 * Trigger: check the transition, stamp it and its version, write its event.
 */
Datum
dispatch_order_state(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	OrderChange c;
	HeapTuple	newtup;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "dispatch_order_state must be a BEFORE ROW trigger");

	read_change(td, &c);
	if (c.prev != NULL && strcmp(c.prev, c.status) == 0)
		return PointerGetDatum(keep_version(&c));
	check_transition(&c);
	newtup = stamp_change(&c);
	emit_status_event(&c, newtup);
	return PointerGetDatum(newtup);
}
