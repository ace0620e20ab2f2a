/*-------------------------------------------------------------------------
 *
 * value_checks.c
 *		The value rules of the rows an order writes at intake and of the
 *		riders every ping updates, one CHECK constraint a table:
 *		orders_values_check, payments_values_check,
 *		eta_predictions_values_check and riders_values_check
 *		(sql/20_schema.sql, sql/63_eta.sql); and the vehicles a rider and a
 *		vehicle profile may name (vehicle_profiles_vehicle_check), matching's
 *		list (match_vehicle_names, src/match.c).
 *
 * PostgreSQL prepares a table's CHECK constraints again for every
 * statement that inserts or updates its rows: each one's stored tree is
 * read back from text, simplified and compiled (ExecRelCheck).  Written as
 * a dozen single-column constraints, orders, payments and eta_predictions
 * carried about 10 kB of such trees, and placing and paying an order spent
 * about a tenth of its backend time preparing them (bench/README.md,
 * "Events at peak, one check a table"); the seven of riders cost a
 * location ping about a fifth of its update.  A call of one of these
 * functions with the columns as arguments is a small tree, and the rules
 * are the same: each holds when its column is NULL (as a column's CHECK
 * does; the columns are NOT NULL anyway), and the comparisons of reals are
 * PostgreSQL's (NaN above every number).
 *
 * IDENTIFICATION
 *		src/value_checks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/float.h"

#include "dispatch.h"
#include "match.h"

/* whether the text argument n is NULL or one of the words */
static bool
one_of(FunctionCallInfo fcinfo, int n, const char *const *words, int nwords)
{
	text	   *t;
	int			len;
	int			i;

	if (PG_ARGISNULL(n))
		return true;
	t = PG_GETARG_TEXT_PP(n);
	len = VARSIZE_ANY_EXHDR(t);
	for (i = 0; i < nwords; i++)
		if (strlen(words[i]) == len && memcmp(VARDATA_ANY(t), words[i], len) == 0)
			return true;
	return false;
}

/* whether the int4 argument n is NULL or at least min */
static bool
at_least(FunctionCallInfo fcinfo, int n, int32 min)
{
	return PG_ARGISNULL(n) || PG_GETARG_INT32(n) >= min;
}

static const char *const order_kinds[] = {"takeaway", "errand"};
static const char *const order_statuses[] = {
	"pending_payment", "payment_failed", "placed", "accepted", "assigned",
	"picked_up", "delivered", "cancelled"
};
static const char *const order_priorities[] = {"normal", "hot", "fresh"};
static const char *const payment_statuses[] = {"pending", "succeeded", "failed"};
static const char *const eta_stages[] = {"placed", "accepted", "assigned", "picked_up"};
static const char *const rider_statuses[] = {"offline", "online"};

PG_FUNCTION_INFO_V1(dispatch_order_values_ok);

/*
 * _order_values_ok(kind, status, priority, subtotal_cents, fee_cents,
 * discount_cents, total_cents, status_version)
 */
Datum
dispatch_order_values_ok(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(one_of(fcinfo, 0, order_kinds, lengthof(order_kinds)) &&
				   one_of(fcinfo, 1, order_statuses, lengthof(order_statuses)) &&
				   one_of(fcinfo, 2, order_priorities, lengthof(order_priorities)) &&
				   at_least(fcinfo, 3, 0) && at_least(fcinfo, 4, 0) &&
				   at_least(fcinfo, 5, 0) && at_least(fcinfo, 6, 0) &&
				   at_least(fcinfo, 7, 1));
}

PG_FUNCTION_INFO_V1(dispatch_payment_values_ok);

/* _payment_values_ok(amount_cents, status) */
Datum
dispatch_payment_values_ok(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(at_least(fcinfo, 0, 0) &&
				   one_of(fcinfo, 1, payment_statuses, lengthof(payment_statuses)));
}

PG_FUNCTION_INFO_V1(dispatch_eta_values_ok);

/* _eta_values_ok(stage, approach_m, trip_m, speed_factor) */
Datum
dispatch_eta_values_ok(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(one_of(fcinfo, 0, eta_stages, lengthof(eta_stages)) &&
				   (PG_ARGISNULL(1) || float8_ge(PG_GETARG_FLOAT4(1), 0.0)) &&
				   (PG_ARGISNULL(2) || float8_ge(PG_GETARG_FLOAT4(2), 0.0)) &&
				   (PG_ARGISNULL(3) || float8_gt(PG_GETARG_FLOAT4(3), 0.0)));
}

PG_FUNCTION_INFO_V1(dispatch_rider_values_ok);

/* _rider_values_ok(capacity, vehicle, status, active_orders, pending_offers) */
Datum
dispatch_rider_values_ok(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL((PG_ARGISNULL(0) || (PG_GETARG_INT32(0) >= 1 && PG_GETARG_INT32(0) <= 20)) &&
				   one_of(fcinfo, 1, match_vehicle_names, MATCH_N_VEHICLES) &&
				   one_of(fcinfo, 2, rider_statuses, lengthof(rider_statuses)) &&
				   at_least(fcinfo, 3, 0) && at_least(fcinfo, 4, 0));
}

PG_FUNCTION_INFO_V1(dispatch_vehicle_ok);

/* _vehicle_ok(vehicle) */
Datum
dispatch_vehicle_ok(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(one_of(fcinfo, 0, match_vehicle_names, MATCH_N_VEHICLES));
}
