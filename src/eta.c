/*-------------------------------------------------------------------------
 *
 * eta.c
 *		An order's expected delivery time and window (docs/eta.md): the
 *		function _eta_window and the trigger order_eta, which refreshes the
 *		window at each status change.
 *
 * The window of an order in a status at a time.  Its parts: before there
 * is a rider, a typical approach of ETA_APPROACH_M; an assigned order, the
 * rider's ride from their last position; the food ready at ready_at (or
 * now plus the merchant's preparation time); a picked-up order, the ride
 * from the rider's position to the drop-off.  All at the zone's speed at
 * this hour of the week (learned in zone_speeds, else the zone's own)
 * times the rider's vehicle's speed factor.  The expected time is
 * _eta_expected's (below); the remaining time R plus five minutes, times
 * the zone's calibrated error quantiles of the status (eta_calibration,
 * once it has dispatch.eta_min_samples, else -0.25 and +0.5), on either
 * side of it gives the window, in whole minutes outwards, never starting
 * before now nor, before pickup, before the ready time the merchant gave
 * (ready_at_given; not one guessed from the preparation time) plus the
 * drive less its own lower error.
 *
 * The trigger fires at every status change of every order, so the window
 * is computed here rather than in PL/pgSQL: three reads with kept plans,
 * each of one table besides reference tables (on Citus the trigger fires
 * on a shard of orders, where Citus refuses a statement that joins two
 * distributed tables; sql/97_distribute.sql), and the arithmetic through
 * the server's own timestamp functions, so that every value is the one
 * SQL would compute (time zone of the session included, for the
 * truncation to the minute).
 *
 * IDENTIFICATION
 *		src/eta.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "dispatch.h"
#include "match.h"

/* the approach assumed before there is a rider, in metres */
#define ETA_APPROACH_M		1500.0
/* error quantiles before a zone's calibration has enough samples */
#define ETA_DEFAULT_LO		(-0.25)
#define ETA_DEFAULT_HI		0.5
/* seconds added to the remaining time for what does not scale with it */
#define ETA_FIXED_S			300.0

/* what the window is computed from: one order's columns */
typedef struct EtaOrder
{
	int64		zone_id;
	bool		has_merchant;
	int64		merchant_id;
	bool		has_rider;
	int64		rider_id;
	bool		has_ready;
	TimestampTz ready_at;
	bool		ready_given;	/* the merchant gave ready_at, not a guess */
	Datum		pickup;
	Datum		dropoff;
	Oid			point_type;		/* PostGIS geometry */
	float8		distance_m;
} EtaOrder;

/* the window and its parts; a has_ flag false is SQL's NULL */
typedef struct EtaWindow
{
	bool		has_window;		/* expected_at, earliest, latest */
	TimestampTz expected_at;
	TimestampTz earliest;
	TimestampTz latest;
	bool		has_approach;
	float8		approach_m;
	bool		has_trip;
	float8		trip_m;
	bool		has_ready;
	TimestampTz ready_at;
	bool		has_speed_factor;
	float8		speed_factor;
} EtaWindow;

static SPIPlanPtr speed_plan = NULL;
static SPIPlanPtr rider_plan = NULL;
static SPIPlanPtr calibration_plan = NULL;
static SPIPlanPtr prediction_plan = NULL;

static bool eta_status(const char *status);
static void prepare_plans(Oid point_type);
static TimestampTz truncate_to(const char *unit, TimestampTz t);
static TimestampTz eta_expected(TimestampTz at, bool has_speed, float8 speed,
								bool has_approach, float8 approach_m,
								bool has_trip, float8 trip_m,
								bool has_ready, TimestampTz ready);
static void eta_window(const EtaOrder *o, const char *status, TimestampTz now,
					   bool read_only, EtaWindow *w);
static void read_order(HeapTuple tuple, TupleDesc desc, EtaOrder *o);

/* the statuses with an expected delivery (eta_predictions.stage) */
static bool
eta_status(const char *status)
{
	return strcmp(status, "placed") == 0 || strcmp(status, "accepted") == 0 ||
		strcmp(status, "assigned") == 0 || strcmp(status, "picked_up") == 0;
}

static void
prepare_plans(Oid point_type)
{
	Oid			t_speed[3] = {INT8OID, INT8OID, TIMESTAMPTZOID};
	Oid			t_rider[4] = {INT8OID, INT8OID, point_type, point_type};
	Oid			t_calibration[2] = {INT8OID, TEXTOID};
	Oid			t_prediction[11] = {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID,
		TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, FLOAT8OID, FLOAT8OID,
	TIMESTAMPTZOID, FLOAT8OID};

	if (prediction_plan != NULL)
		return;
	speed_plan = match_keep_plan(
								 "SELECT pg_catalog.float8(COALESCE(s.speed_mps, z.speed_mps)), m.prep_minutes"
								 " FROM dispatch.zones z"
								 " LEFT JOIN dispatch.zone_speeds s"
								 "   ON s.zone_id OPERATOR(pg_catalog.=) z.zone_id"
								 "  AND s.hour_of_week OPERATOR(pg_catalog.=) dispatch._hour_of_week($3, z.timezone)"
								 " LEFT JOIN dispatch.merchants m ON m.merchant_id OPERATOR(pg_catalog.=) $2"
								 " WHERE z.zone_id OPERATOR(pg_catalog.=) $1",
								 3, t_speed);
	rider_plan = match_keep_plan(
								 "SELECT dispatch._distance_m(r.position, $3), dispatch._distance_m(r.position, $4),"
								 " pg_catalog.float8(COALESCE(v.speed_factor, 1))"
								 " FROM dispatch.riders r"
								 " LEFT JOIN dispatch.vehicle_profiles v ON v.vehicle OPERATOR(pg_catalog.=) r.vehicle"
								 " WHERE r.zone_id OPERATOR(pg_catalog.=) $1 AND r.rider_id OPERATOR(pg_catalog.=) $2",
								 4, t_rider);
	calibration_plan = match_keep_plan(
									   "SELECT c.samples OPERATOR(pg_catalog.>=) dispatch._setting_int('dispatch.eta_min_samples'),"
									   " pg_catalog.float8(c.lo_error), pg_catalog.float8(c.hi_error)"
									   " FROM dispatch.eta_calibration c"
									   " WHERE c.zone_id OPERATOR(pg_catalog.=) $1 AND c.stage OPERATOR(pg_catalog.=) $2",
									   2, t_calibration);
	prediction_plan = match_keep_plan(
									  "INSERT INTO dispatch.eta_predictions AS p"
									  " (zone_id, order_id, stage, predicted_at, expected_at, earliest, latest,"
									  "  approach_m, trip_m, ready_at, speed_factor)"
									  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
									  " ON CONFLICT (zone_id, order_id, stage) DO UPDATE"
									  " SET predicted_at = EXCLUDED.predicted_at, expected_at = EXCLUDED.expected_at,"
									  "  earliest = EXCLUDED.earliest, latest = EXCLUDED.latest,"
									  "  approach_m = EXCLUDED.approach_m, trip_m = EXCLUDED.trip_m,"
									  "  ready_at = EXCLUDED.ready_at, speed_factor = EXCLUDED.speed_factor",
									  11, t_prediction);
}

/* date_trunc(unit, t) in the session's time zone */
static TimestampTz
truncate_to(const char *unit, TimestampTz t)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_trunc,
												   CStringGetTextDatum(unit),
												   TimestampTzGetDatum(t)));
}

/*
 * The expected delivery time at "at" from its parts: at "speed" metres a
 * second, the ride to the pickup (none once picked up), not before the
 * food is ready, then the trip; at least a minute after "at".  NULL parts
 * as in SQL: GREATEST skips them, arithmetic with them gives NULL.  Never
 * NULL.  The one definition: SQL's _eta_expected (learn_eta recomputes
 * past predictions with it) is this function.
 */
static TimestampTz
eta_expected(TimestampTz at, bool has_speed, float8 speed,
			 bool has_approach, float8 approach_m, bool has_trip, float8 trip_m,
			 bool has_ready, TimestampTz ready)
{
	TimestampTz at_least = dispatch_clock_plus(at, 0, 60.0);
	bool		has_start = has_ready;
	TimestampTz start = ready;

	if (has_speed)
	{
		TimestampTz reached = dispatch_clock_plus(at, 0,
											float8_div(has_approach ? approach_m : 0.0, speed));

		start = has_ready ? Max(reached, ready) : reached;
		has_start = true;
	}
	if (has_start && has_trip && has_speed)
		return Max(dispatch_clock_plus(start, 0, float8_div(trip_m, speed)), at_least);
	return at_least;
}

PG_FUNCTION_INFO_V1(dispatch_eta_expected);

/*
 * SQL: dispatch._eta_expected(at timestamptz, speed float8, approach_m
 * float8, trip_m float8, ready timestamptz) -> timestamptz
 */
Datum
dispatch_eta_expected(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(eta_expected(PG_GETARG_TIMESTAMPTZ(0),
									   !PG_ARGISNULL(1), PG_ARGISNULL(1) ? 0 : PG_GETARG_FLOAT8(1),
									   !PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_FLOAT8(2),
									   !PG_ARGISNULL(3), PG_ARGISNULL(3) ? 0 : PG_GETARG_FLOAT8(3),
									   !PG_ARGISNULL(4), PG_ARGISNULL(4) ? 0 : PG_GETARG_TIMESTAMPTZ(4)));
}

/*
 * The window of order o in status at now (the caller has connected to
 * SPI).  No window (has_window false, every part NULL) when the status has
 * none or the order's zone does not exist.
 */
static void
eta_window(const EtaOrder *o, const char *status, TimestampTz now,
		   bool read_only, EtaWindow *w)
{
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		isnull;
	float8		speed;
	bool		has_prep;
	int32		prep = 0;
	bool		has_position_pickup = false,
				has_position_dropoff = false;
	float8		to_pickup = 0,
				to_dropoff = 0;
	float8		lo = ETA_DEFAULT_LO,
				hi = ETA_DEFAULT_HI;
	float8		scale;
	TimestampTz expected;
	TimestampTz earliest;
	int			ret;

	memset(w, 0, sizeof(EtaWindow));
	if (!eta_status(status))
		return;
	prepare_plans(o->point_type);

	/* the zone's speed at this hour of the week, the merchant's preparation */
	args[0] = Int64GetDatum(o->zone_id);
	args[1] = Int64GetDatum(o->merchant_id);
	nulls[1] = o->has_merchant ? ' ' : 'n';
	args[2] = TimestampTzGetDatum(now);
	ret = SPI_execute_plan(speed_plan, args, nulls, read_only, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the speed of zone " INT64_FORMAT " failed: %s",
			 o->zone_id, SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return;
	speed = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		return;
	prep = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	has_prep = !isnull;

	/* the rider's ride from their last position, and their vehicle */
	w->has_speed_factor = true;
	w->speed_factor = 1.0;
	if (o->has_rider)
	{
		args[1] = Int64GetDatum(o->rider_id);
		nulls[1] = ' ';
		args[2] = o->pickup;
		args[3] = o->dropoff;
		ret = SPI_execute_plan(rider_plan, args, nulls, read_only, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "reading rider " INT64_FORMAT " failed: %s",
				 o->rider_id, SPI_result_code_string(ret));
		/* no such rider in the zone: no position and no speed factor */
		w->has_speed_factor = false;
		if (SPI_processed == 1)
		{
			HeapTuple	t = SPI_tuptable->vals[0];
			TupleDesc	d = SPI_tuptable->tupdesc;

			to_pickup = DatumGetFloat8(SPI_getbinval(t, d, 1, &isnull));
			has_position_pickup = !isnull;
			to_dropoff = DatumGetFloat8(SPI_getbinval(t, d, 2, &isnull));
			has_position_dropoff = !isnull;
			w->speed_factor = DatumGetFloat8(SPI_getbinval(t, d, 3, &isnull));
			w->has_speed_factor = !isnull;
		}
	}

	/* the zone's calibration of the status */
	args[1] = CStringGetTextDatum(status);
	nulls[1] = ' ';
	ret = SPI_execute_plan(calibration_plan, args, nulls, read_only, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the calibration of zone " INT64_FORMAT " failed: %s",
			 o->zone_id, SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		enough = DatumGetBool(SPI_getbinval(t, d, 1, &isnull));

		if (!isnull && enough)
		{
			lo = DatumGetFloat8(SPI_getbinval(t, d, 2, &isnull));
			hi = DatumGetFloat8(SPI_getbinval(t, d, 3, &isnull));
		}
	}

	if (strcmp(status, "picked_up") == 0)
	{
		w->has_trip = true;
		w->trip_m = has_position_dropoff ? to_dropoff : o->distance_m;
	}
	else
	{
		w->has_ready = o->has_ready;
		w->ready_at = o->ready_at;
		if (!o->has_ready && has_prep)
		{
			w->ready_at = dispatch_clock_plus(now, prep, 0.0);
			w->has_ready = true;
		}
		w->has_approach = true;
		w->approach_m = strcmp(status, "assigned") == 0 && has_position_pickup ?
			to_pickup : ETA_APPROACH_M;
		w->has_trip = true;
		w->trip_m = o->distance_m;
	}
	expected = eta_expected(now, w->has_speed_factor, speed * w->speed_factor,
							w->has_approach, w->approach_m, w->has_trip, w->trip_m,
							w->has_ready, w->ready_at);

	/*
	 * Errors scale with the remaining time, plus five minutes for what does
	 * not (a lift, a door); the window is in whole minutes, outwards, as a
	 * customer is told them.  It never starts before now, nor, before
	 * pickup of an order whose merchant said when the food is ready, before
	 * that time plus the drive to the door with the lower error of the
	 * drive alone (the lower quantile times the drive plus the fixed five
	 * minutes, as for a picked-up order): the wait for food the merchant
	 * promised is a time the order knows, not an error that grows with it.
	 * A ready time guessed from the preparation time (a placed order's, or
	 * merchant_accept's without one: ready_at_given false) is no floor:
	 * food is often ready before it.  Both floors are at most the expected
	 * time, so the window holds it.
	 */
	scale = DatumGetFloat8(DirectFunctionCall2(interval_part, CStringGetTextDatum("epoch"),
											   DirectFunctionCall2(timestamp_mi,
																   TimestampTzGetDatum(expected),
																   TimestampTzGetDatum(now)))) +
		ETA_FIXED_S;
	earliest = Max(now, dispatch_clock_plus(expected, 0, Min(lo, 0.0) * scale));
	if (w->has_approach && o->ready_given && w->has_speed_factor)
	{
		float8		drive = float8_div(w->trip_m, speed * w->speed_factor);

		earliest = Max(earliest,
					   dispatch_clock_plus(o->ready_at, 0,
										   Max(drive + Min(lo, 0.0) * (drive + ETA_FIXED_S), 0.0)));
	}
	w->earliest = truncate_to("minute", earliest);
	w->latest = truncate_to("minute",
							dispatch_clock_plus(dispatch_clock_plus(expected, 0, Max(hi, 0.0) * scale), 0, 59.999999));
	w->expected_at = truncate_to("second", expected);
	w->has_window = true;
}

/* the columns of an order (or of a shard's row) the window is computed from */
static void
read_order(HeapTuple tuple, TupleDesc desc, EtaOrder *o)
{
	bool		isnull;
	int			att;
	Datum		d;

	o->zone_id = DatumGetInt64(heap_getattr(tuple, dispatch_column_number(desc, "zone_id"), desc, &isnull));
	d = heap_getattr(tuple, dispatch_column_number(desc, "merchant_id"), desc, &isnull);
	o->has_merchant = !isnull;
	o->merchant_id = isnull ? 0 : DatumGetInt64(d);
	d = heap_getattr(tuple, dispatch_column_number(desc, "rider_id"), desc, &isnull);
	o->has_rider = !isnull;
	o->rider_id = isnull ? 0 : DatumGetInt64(d);
	d = heap_getattr(tuple, dispatch_column_number(desc, "ready_at"), desc, &isnull);
	o->has_ready = !isnull;
	o->ready_at = isnull ? 0 : DatumGetTimestampTz(d);
	d = heap_getattr(tuple, dispatch_column_number(desc, "ready_at_given"), desc, &isnull);
	o->ready_given = o->has_ready && !isnull && DatumGetBool(d);
	att = dispatch_column_number(desc, "pickup");
	o->point_type = TupleDescAttr(desc, att - 1)->atttypid;
	o->pickup = heap_getattr(tuple, att, desc, &isnull);
	if (isnull)
		elog(ERROR, "order has no pickup");
	o->dropoff = heap_getattr(tuple, dispatch_column_number(desc, "dropoff"), desc, &isnull);
	if (isnull)
		elog(ERROR, "order has no drop-off");
	d = heap_getattr(tuple, dispatch_column_number(desc, "distance_m"), desc, &isnull);
	if (isnull)
		elog(ERROR, "order has no distance");
	o->distance_m = DatumGetFloat4(d);
}

PG_FUNCTION_INFO_V1(dispatch_eta_window);

/*
 * SQL: dispatch._eta_window(p_order orders, p_status text, p_now
 * timestamptz, OUT expected_at, OUT earliest, OUT latest, OUT approach_m,
 * OUT trip_m, OUT ready_at, OUT speed_factor) -> record
 *
 * The window of an order in a status at a time (for eta()); every part
 * NULL in a status without one.
 */
Datum
dispatch_eta_window(PG_FUNCTION_ARGS)
{
	HeapTupleHeader rec = PG_GETARG_HEAPTUPLEHEADER(0);
	char	   *status = text_to_cstring(PG_GETARG_TEXT_PP(1));
	TimestampTz now = PG_GETARG_TIMESTAMPTZ(2);
	TupleDesc	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(rec),
											  HeapTupleHeaderGetTypMod(rec));
	TupleDesc	result_desc;
	HeapTupleData tuple;
	EtaOrder	o;
	EtaWindow	w;
	Datum		values[7];
	bool		nulls[7];

	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tuple.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = rec;
	read_order(&tuple, desc, &o);
	ReleaseTupleDesc(desc);

	SPI_connect();
	eta_window(&o, status, now, true, &w);
	SPI_finish();

	values[0] = TimestampTzGetDatum(w.expected_at);
	values[1] = TimestampTzGetDatum(w.earliest);
	values[2] = TimestampTzGetDatum(w.latest);
	nulls[0] = nulls[1] = nulls[2] = !w.has_window;
	values[3] = Float8GetDatum(w.approach_m);
	nulls[3] = !w.has_approach;
	values[4] = Float8GetDatum(w.trip_m);
	nulls[4] = !w.has_trip;
	values[5] = TimestampTzGetDatum(w.ready_at);
	nulls[5] = !w.has_ready;
	values[6] = Float8GetDatum(w.speed_factor);
	nulls[6] = !w.has_speed_factor;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(result_desc), values, nulls)));
}

PG_FUNCTION_INFO_V1(dispatch_order_eta);

/*
 * Trigger: BEFORE UPDATE OF status on orders (WHEN the status changes),
 * before the state machine: the order's new window on the order, and in
 * eta_predictions with what it was computed from; none once delivered,
 * cancelled or unpaid.
 */
Datum
dispatch_order_eta(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tuple;
	char	   *status;
	int			cols[2];
	Datum		values[2] = {0, 0};
	bool		nulls[2] = {true, true};
	bool		isnull;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		elog(ERROR, "dispatch_order_eta: must be fired BEFORE UPDATE FOR EACH ROW");

	desc = RelationGetDescr(td->tg_relation);
	tuple = td->tg_newtuple;
	status = TextDatumGetCString(heap_getattr(tuple, dispatch_column_number(desc, "status"),
											  desc, &isnull));
	if (eta_status(status))
	{
		TimestampTz now = dispatch_clock_now();
		EtaOrder	o;
		EtaWindow	w;

		read_order(tuple, desc, &o);
		SPI_connect();
		eta_window(&o, status, now, false, &w);
		if (w.has_window)
		{
			int			order_id_att = dispatch_column_number(desc, "order_id");
			Datum		args[11];
			char		argnulls[11];
			int			ret;

			memset(argnulls, ' ', sizeof(argnulls));
			args[0] = Int64GetDatum(o.zone_id);
			args[1] = heap_getattr(tuple, order_id_att, desc, &isnull);
			args[2] = CStringGetTextDatum(status);
			args[3] = TimestampTzGetDatum(now);
			args[4] = TimestampTzGetDatum(w.expected_at);
			args[5] = TimestampTzGetDatum(w.earliest);
			args[6] = TimestampTzGetDatum(w.latest);
			args[7] = Float8GetDatum(w.approach_m);
			argnulls[7] = w.has_approach ? ' ' : 'n';
			args[8] = Float8GetDatum(w.trip_m);
			argnulls[8] = w.has_trip ? ' ' : 'n';
			args[9] = TimestampTzGetDatum(w.ready_at);
			argnulls[9] = w.has_ready ? ' ' : 'n';
			args[10] = Float8GetDatum(w.speed_factor);
			argnulls[10] = w.has_speed_factor ? ' ' : 'n';
			ret = SPI_execute_plan(prediction_plan, args, argnulls, false, 0);
			if (ret != SPI_OK_INSERT)
				elog(ERROR, "recording the prediction of an order failed: %s",
					 SPI_result_code_string(ret));
			values[0] = TimestampTzGetDatum(w.earliest);
			values[1] = TimestampTzGetDatum(w.latest);
			nulls[0] = nulls[1] = false;
		}
		SPI_finish();
	}
	/* delivered, cancelled, unpaid: no delivery to expect */
	cols[0] = dispatch_column_number(desc, "eta_earliest");
	cols[1] = dispatch_column_number(desc, "eta_latest");
	PG_RETURN_POINTER(heap_modify_tuple_by_cols(tuple, desc, 2, cols, values, nulls));
}
