/*-------------------------------------------------------------------------
 *
 * payments.c
 *		The outcome of an order's pending payment: the bodies of
 *		confirm_payment and fail_payment (dispatch._confirm_payment and
 *		dispatch._fail_payment, the forms Citus sends whole to the zone's
 *		worker; sql/55_orders.sql).
 *
 * Every order placed and paid runs confirm_payment, so it is a handful of
 * statements with kept plans rather than PL/pgSQL calling helpers: the
 * order locked, the pending payment settled, the order moved on.  The
 * state machine (order_state), the ETA window and the event are the
 * triggers' on that last UPDATE, as for any status change.  Each
 * statement reads or writes one table (on Citus, one shard of the zone).
 *
 * IDENTIFICATION
 *		src/payments.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "dispatch.h"
#include "locks.h"
#include "match.h"

static SPIPlanPtr lock_plan = NULL;
static SPIPlanPtr succeeded_plan = NULL;
static SPIPlanPtr ref_used_plan = NULL;
static SPIPlanPtr last_reason_plan = NULL;
static SPIPlanPtr settle_plan = NULL;
static SPIPlanPtr move_plan = NULL;
static SPIPlanPtr move_ready_plan = NULL;
static SPIPlanPtr late_plan = NULL;

/* the order a payment outcome is for, locked */
typedef struct PaidOrder
{
	int64		zone_id;
	int64		order_id;
	char	   *status;
	bool		errand;
	int32		attempt;		/* its current payment attempt */
} PaidOrder;

static void
prepare_plans(void)
{
	Oid			t_order[2] = {INT8OID, INT8OID};
	Oid			t_ref[3] = {INT8OID, INT8OID, TEXTOID};
	Oid			t_settle[6] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Oid			t_move[4] = {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID};

	if (late_plan != NULL)
		return;
	lock_plan = match_keep_plan("SELECT o.status, o.kind OPERATOR(pg_catalog.=) 'errand', o.payment_attempt"
								" FROM dispatch.orders o"
								" WHERE o.zone_id OPERATOR(pg_catalog.=) $1"
								"   AND o.order_id OPERATOR(pg_catalog.=) $2"
								" FOR UPDATE",
								2, t_order);
	succeeded_plan = match_keep_plan("SELECT FROM dispatch.payments p"
									 " WHERE p.zone_id OPERATOR(pg_catalog.=) $1"
									 "   AND p.order_id OPERATOR(pg_catalog.=) $2"
									 "   AND p.status OPERATOR(pg_catalog.=) 'succeeded'"
									 "   AND p.provider_ref OPERATOR(pg_catalog.=) $3",
									 3, t_ref);
	ref_used_plan = match_keep_plan("SELECT p.order_id FROM dispatch.payments p"
									" WHERE p.zone_id OPERATOR(pg_catalog.=) $1"
									"   AND p.status OPERATOR(pg_catalog.=) 'succeeded'"
									"   AND p.provider_ref OPERATOR(pg_catalog.=) $3"
									"   AND p.order_id OPERATOR(pg_catalog.<>) $2"
									" LIMIT 1",
									3, t_ref);
	/*
	 * The last failure (a late success refunded since may follow it): the
	 * one settled last.  Not the highest payment id: on Citus each node
	 * numbers from its own range (docs/citus.md), so a retry made by the
	 * coordinator, or after the zone moved, may be numbered below the
	 * attempt it follows.  The id only breaks a tie of one transaction's
	 * time, where one node numbered both.
	 */
	last_reason_plan = match_keep_plan("SELECT p.failure_reason FROM dispatch.payments p"
									   " WHERE p.zone_id OPERATOR(pg_catalog.=) $1"
									   "   AND p.order_id OPERATOR(pg_catalog.=) $2"
									   "   AND p.status OPERATOR(pg_catalog.=) 'failed'"
									   " ORDER BY p.settled_at DESC NULLS LAST, p.payment_id DESC LIMIT 1",
									   2, t_order);
	settle_plan = match_keep_plan("UPDATE dispatch.payments p"
								  " SET status = $3, provider_ref = COALESCE($4, p.provider_ref),"
								  "     failure_reason = $5, settled_at = $6"
								  " WHERE p.zone_id OPERATOR(pg_catalog.=) $1"
								  "   AND p.order_id OPERATOR(pg_catalog.=) $2"
								  "   AND p.status OPERATOR(pg_catalog.=) 'pending'",
								  6, t_settle);
	move_plan = match_keep_plan("UPDATE dispatch.orders o SET status = $3"
								" WHERE o.zone_id OPERATOR(pg_catalog.=) $1"
								"   AND o.order_id OPERATOR(pg_catalog.=) $2",
								3, t_move);
	move_ready_plan = match_keep_plan("UPDATE dispatch.orders o SET status = $3, ready_at = $4"
									  " WHERE o.zone_id OPERATOR(pg_catalog.=) $1"
									  "   AND o.order_id OPERATOR(pg_catalog.=) $2",
									  4, t_move);
	late_plan = match_keep_plan("SELECT dispatch._refund_late_payment($1, $2, $3, $4)",
								4, t_move);
}

/*
 * The order named by argument 1, locked FOR UPDATE (as _lock_order does):
 * DP014 when there is none, then DP014 unless argument 0 is the zone in
 * its id (as _check_order_zone does).  The caller has connected to SPI.
 */
static void
lock_order(FunctionCallInfo fcinfo, PaidOrder *o)
{
	Datum		args[2];
	bool		isnull;
	int			ret;

	if (!PG_ARGISNULL(1))
	{
		o->order_id = PG_GETARG_INT64(1);
		o->zone_id = DISPATCH_ZONE_OF(o->order_id);
		args[0] = Int64GetDatum(o->zone_id);
		args[1] = Int64GetDatum(o->order_id);
		ret = SPI_execute_plan(lock_plan, args, NULL, false, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "locking order " INT64_FORMAT " failed: %s",
				 o->order_id, SPI_result_code_string(ret));
	}
	if (PG_ARGISNULL(1) || SPI_processed == 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_ORDER_UNKNOWN),
				errmsg("order %s does not exist", dispatch_id_arg_text(fcinfo, 1)));
	o->status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	o->errand = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	o->attempt = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));

	if (PG_ARGISNULL(0) || PG_GETARG_INT64(0) != o->zone_id)
		ereport(ERROR,
				errcode(ERRCODE_DP_ORDER_UNKNOWN),
				errmsg("order %s does not lie in zone %s",
					   dispatch_id_arg_text(fcinfo, 1), dispatch_id_arg_text(fcinfo, 0)));
}

/*
 * The start of either call: SPI connected, the order of arguments 0 and 1
 * locked and checked (lock_order).
 */
static void
open_order(FunctionCallInfo fcinfo, PaidOrder *o)
{
	SPI_connect();
	prepare_plans();
	lock_order(fcinfo, o);
}

/*
 * What a repeat of the call finds in the order's payments: plan run with
 * the order's zone and id, and then arg when there is one; true when it
 * returned a row.
 */
static bool
read_payments(SPIPlanPtr plan, const PaidOrder *o, text *arg)
{
	Datum		args[3];
	int			ret;

	args[0] = Int64GetDatum(o->zone_id);
	args[1] = Int64GetDatum(o->order_id);
	args[2] = PointerGetDatum(arg);
	ret = SPI_execute_plan(plan, args, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the payments of order " INT64_FORMAT " failed: %s",
			 o->order_id, SPI_result_code_string(ret));
	return SPI_processed > 0;
}

/*
 * The order that provider_ref paid already, other than o; 0 when none.
 * Run under the reference's lock (payref in locks.h: the zone and a hash
 * of the reference, to the end of the transaction), so that two
 * confirmations of two orders with one reference take turns and the
 * second sees the first's payment once it committed: DP030, not the
 * unique index's 23505 (the lookup reads past a repeatable read
 * transaction's snapshot, match_run_plan_after_lock).  On Citus the lock is the node's
 * that runs the call: the zone's worker for a call sent whole.
 */
static int64
ref_paid_order(const PaidOrder *o, text *provider_ref)
{
	uint32		h;
	Datum		args[3];
	bool		isnull;

	h = hash_bytes((const unsigned char *) VARDATA_ANY(provider_ref),
				   VARSIZE_ANY_EXHDR(provider_ref));
	h = hash_combine(h, (uint32) o->zone_id);
	DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(DISPATCH_LOCK_PAYREF),
						Int32GetDatum((int32) h));

	args[0] = Int64GetDatum(o->zone_id);
	args[1] = Int64GetDatum(o->order_id);
	args[2] = PointerGetDatum(provider_ref);
	match_run_plan_after_lock(ref_used_plan, args, false, 1, "looking up a provider reference");
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The pending payment of an order waiting for it gets its outcome; DP018
 * when there is none to settle.  provider_ref and reason may be NULL.
 */
static void
settle_payment(const PaidOrder *o, const char *outcome, text *provider_ref,
			   text *reason, TimestampTz now)
{
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	int			ret;

	if (strcmp(o->status, "pending_payment") == 0)
	{
		args[0] = Int64GetDatum(o->zone_id);
		args[1] = Int64GetDatum(o->order_id);
		args[2] = CStringGetTextDatum(outcome);
		args[3] = PointerGetDatum(provider_ref);
		nulls[3] = provider_ref ? ' ' : 'n';
		args[4] = PointerGetDatum(reason);
		nulls[4] = reason ? ' ' : 'n';
		args[5] = TimestampTzGetDatum(now);
		ret = SPI_execute_plan(settle_plan, args, nulls, false, 0);
		if (ret != SPI_OK_UPDATE)
			elog(ERROR, "settling the payment of order " INT64_FORMAT " failed: %s",
				 o->order_id, SPI_result_code_string(ret));
		if (SPI_processed > 0)
			return;
	}
	ereport(ERROR,
			errcode(ERRCODE_DP_NO_PENDING_PAYMENT),
			errmsg("order " INT64_FORMAT " has no pending payment (status \"%s\")",
				   o->order_id, o->status));
}

/* the order moves to status; ready at ready_at unless that is 0 */
static void
move_order(const PaidOrder *o, const char *status, TimestampTz ready_at)
{
	Datum		args[4];
	int			ret;

	args[0] = Int64GetDatum(o->zone_id);
	args[1] = Int64GetDatum(o->order_id);
	args[2] = CStringGetTextDatum(status);
	args[3] = TimestampTzGetDatum(ready_at);
	ret = SPI_execute_plan(ready_at ? move_ready_plan : move_plan, args, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "moving order " INT64_FORMAT " to %s failed: %s",
			 o->order_id, status, SPI_result_code_string(ret));
}

PG_FUNCTION_INFO_V1(dispatch_confirm_payment);

/*
 * SQL: dispatch._confirm_payment(p_zone bigint, order_id bigint,
 * provider_ref text) -> void
 *
 * The pending payment succeeded with the provider's reference; the order
 * moves to placed (an errand, which no merchant accepts, on to accepted,
 * ready at once).  The same confirmation again is a no-op, whatever
 * happened to the order since, so that app servers may retry; a reference
 * that paid another order of the zone is DP030.  The reference is taken
 * without the white space around it.  A success for an order
 * cancelled unpaid, or whose payment failed and was not retried, is
 * recorded and refunded.
 */
Datum
dispatch_confirm_payment(PG_FUNCTION_ARGS)
{
	TimestampTz now = dispatch_clock_now();
	text	   *provider_ref = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2);
	PaidOrder	o;
	int64		paid;

	/* a bad argument, said before the order is locked or its state read */
	if (dispatch_text_is_blank(provider_ref))
		ereport(ERROR,
				errcode(ERRCODE_DP_INVALID_ARGUMENT),
				errmsg("a payment confirmation needs the provider's reference"));
	dispatch_check_text_length("provider_ref", provider_ref);
	provider_ref = dispatch_text_trim_blanks(provider_ref);
	open_order(fcinfo, &o);

	/*
	 * A repeat: a payment succeeded with this reference already.  An order
	 * waiting for its first attempt has no such payment; one retried since
	 * may have (a late success of an earlier attempt, recorded and refunded
	 * while the order waited for the retry), and its repeat must not pay
	 * the attempt under way with money given back.
	 */
	if ((strcmp(o.status, "pending_payment") != 0 || o.attempt > 1) &&
		read_payments(succeeded_plan, &o, provider_ref))
	{
		SPI_finish();
		PG_RETURN_VOID();
	}

	/*
	 * A provider's reference names one charge: confirming a second order
	 * of the zone with it is a replay or a mix-up, refused before anything
	 * is written (payments_provider_ref_idx holds the rule per zone).
	 */
	paid = ref_paid_order(&o, provider_ref);
	if (paid != 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_PROVIDER_REF_USED),
				errmsg("provider reference \"%s\" confirmed another order already",
					   text_to_cstring(provider_ref)),
				errdetail("It paid order " INT64_FORMAT ".", paid),
				errhint("A charge pays one order; confirm each order with the reference of its own charge."));

	/*
	 * The provider's success arrived for an order that cannot take it:
	 * cancelled unpaid (its pending payment voided here), or failed and not
	 * retried (the customer was told to retry, and payment_failed leads to
	 * a new attempt or a cancellation only).  The money was taken all the
	 * same, so it is recorded and refunded, a refund event telling the
	 * payment service (sql/62_refunds.sql); a failed order stays failed,
	 * for its retry.
	 */
	if (strcmp(o.status, "cancelled") == 0 || strcmp(o.status, "payment_failed") == 0)
	{
		Datum		args[4];
		bool		isnull;

		args[0] = Int64GetDatum(o.zone_id);
		args[1] = Int64GetDatum(o.order_id);
		args[2] = PointerGetDatum(provider_ref);
		args[3] = TimestampTzGetDatum(now);
		match_run_plan(late_plan, args, NULL, false, 1, SPI_OK_SELECT, "refunding a payment the order cannot take");
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		{
			SPI_finish();
			PG_RETURN_VOID();
		}
	}
	settle_payment(&o, "succeeded", provider_ref, NULL, now);
	move_order(&o, "placed", 0);
	if (o.errand)
		move_order(&o, "accepted", now);
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dispatch_fail_payment);

/*
 * SQL: dispatch._fail_payment(p_zone bigint, order_id bigint, reason text,
 * attempt integer DEFAULT NULL) -> void
 *
 * The pending payment failed for a reason (DP025 without one: NULL, empty
 * or white space only); the order moves to payment_failed (its event tells
 * the customer to retry).  Repeated with
 * the reason of the last failure, a no-op.  attempt names the payment
 * attempt the report is about (the "attempt" of the order_status event
 * that asked for it; NULL: the current one): the failure of an attempt
 * retried since is past and changes nothing, so that a late or repeated
 * report can never fail the attempt under way (as settle_refund's
 * attempt); an attempt the order never had is DP025.
 */
Datum
dispatch_fail_payment(PG_FUNCTION_ARGS)
{
	TimestampTz now = dispatch_clock_now();
	text	   *reason = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2);
	bool		named = PG_NARGS() > 3 && !PG_ARGISNULL(3);
	int32		attempt = named ? PG_GETARG_INT32(3) : 0;
	PaidOrder	o;

	/*
	 * A bad argument, said before the order is locked or its state read: a
	 * failure needs its reason, as a cancellation does, so that a repeat is
	 * told from another report and an operator reads why.
	 */
	if (dispatch_text_is_blank(reason))
		ereport(ERROR,
				errcode(ERRCODE_DP_INVALID_ARGUMENT),
				errmsg("a payment failure needs a reason"));
	dispatch_check_text_length("reason", reason);
	open_order(fcinfo, &o);

	/* the report of an earlier attempt: past, a no-op */
	if (named)
	{
		if (attempt < 1 || attempt > o.attempt)
			ereport(ERROR,
					errcode(ERRCODE_DP_INVALID_ARGUMENT),
					errmsg("order " INT64_FORMAT " has no payment attempt %d", o.order_id, attempt),
					errdetail("Its payment attempts are numbered 1 to %d.", o.attempt));
		if (attempt < o.attempt)
		{
			SPI_finish();
			PG_RETURN_VOID();
		}
	}

	/* a repeat: the payment failed already, for this reason */
	if (strcmp(o.status, "payment_failed") == 0)
	{
		bool		isnull = true;
		bool		same;

		if (read_payments(last_reason_plan, &o, NULL))
			(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		same = !isnull &&
			strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
				   text_to_cstring(reason)) == 0;
		if (same)
		{
			SPI_finish();
			PG_RETURN_VOID();
		}
	}
	settle_payment(&o, "failed", NULL, reason, now);
	move_order(&o, "payment_failed", 0);
	SPI_finish();
	PG_RETURN_VOID();
}
