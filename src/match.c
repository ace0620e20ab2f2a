/*-------------------------------------------------------------------------
 *
 * match.c
 *		Candidates and costs of matching; dispatch.nearest_riders().
 *
 * The cost of giving order o to rider r is a sum of delays in seconds,
 * weighted by the zone's settings (docs/matching.md): travel to the pickup,
 * the rider waiting for food, the food waiting for the rider and lateness
 * against the promise (both scaled up for hot and fresh orders), fairness
 * (more of today's orders or earnings than the zone's other candidates),
 * fatigue (hours on the current shift), and a load penalty per order the
 * rider already holds.  Hard limits drop a candidate instead: the
 * eligibility rule (match_rider_can_take, match_rider_in_reach: stale
 * position, no free slot, too long on shift or today, beyond what the
 * rider's vehicle may ride) and the search radius.  The rule is the one
 * respond_offer and assign_manually apply too, through
 * dispatch._rider_can_take (match.h, "Eligibility").  Matching alone also
 * drops a pair whose pickup would come after the end of the rider's shift
 * or in which the rider would wait longer than max_rider_wait_s for the
 * food.  A busy rider with a plan (update_rider_plan) is costed from where
 * and when the plan says it will be done.
 *
 * nearest_riders finds candidates through the partial GiST index on the
 * positions of available riders (riders_available_idx); assign_batch
 * (assign.c) uses the same cost through this file's helpers.
 *
 * Memory: callers are inside SPI; everything here is allocated in the
 * current (SPI procedure) context, freed at SPI_finish.
 *
 * IDENTIFICATION
 *		src/match.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

#include "assign_grid.h"
#include "dispatch.h"
#include "match.h"

/* Hard cap on k for nearest_riders. */
#define MATCH_MAX_K 1000

static SPIPlanPtr settings_plan = NULL;
static SPIPlanPtr order_plan = NULL;
static SPIPlanPtr knn_plan = NULL;
static SPIPlanPtr can_take_plan = NULL;
static SPIPlanPtr rider_zone_plan = NULL;

/* the vehicles, in the order of their index; riders' and profiles' one list */
const char *const match_vehicle_names[MATCH_N_VEHICLES] = {
	"foot", "bicycle", "ebike", "motorbike", "car"
};

/* How a column of a select list is decoded into a C struct's field. */
typedef enum ColumnKind
{
	COL_INT4,
	COL_INT8,
	COL_FLOAT8,
	COL_BOOL,
	COL_DATUM,					/* pass-by-value Datum kept as is (a date) */
	COL_TIMESTAMPTZ,
	COL_VEHICLE,				/* text -> vehicle index (NULL: ebike) */
	COL_PRIORITY				/* text -> 0 normal, 1 hot, 2 fresh */
} ColumnKind;

/*
 * One column of a select list: its name (the alias it is selected as and
 * looked up by), its SQL expression, and where and how it is decoded.  A
 * table of these builds both the select list and the decoder, so the two
 * cannot drift apart.
 */
typedef struct Column
{
	const char *name;
	const char *expr;
	ColumnKind	kind;
	size_t		offset;
	double		dflt;			/* for a NULL (numeric kinds) */
	const char *expr_010;		/* on a 0.1.0 catalog, if not expr */
} Column;

#define COLUMN(type, field, expr, kind, dflt) \
	{#field, expr, kind, offsetof(type, field), dflt, NULL}
#define COLUMN_SINCE_020(type, field, expr, expr_010, kind, dflt) \
	{#field, expr, kind, offsetof(type, field), dflt, expr_010}

/*
 * Orders; parameter $2 now.
 */
static const Column order_columns[] = {
	COLUMN(MatchOrder, order_id, "o.order_id", COL_INT8, 0),
	COLUMN(MatchOrder, lon, "(o.pickup::pg_catalog.point)[0]", COL_FLOAT8, 0),
	COLUMN(MatchOrder, lat, "(o.pickup::pg_catalog.point)[1]", COL_FLOAT8, 0),
	COLUMN(MatchOrder, priority, "o.priority", COL_PRIORITY, 0),
	COLUMN(MatchOrder, ready_in_s,
		   "pg_catalog.date_part('epoch', COALESCE(o.ready_at, $2) OPERATOR(pg_catalog.-) $2)",
		   COL_FLOAT8, 0),
	COLUMN(MatchOrder, promise_in_s,
		   "pg_catalog.date_part('epoch', o.promised_at OPERATOR(pg_catalog.-) $2)",
		   COL_FLOAT8, 0),
	COLUMN(MatchOrder, trip_m, "o.distance_m::pg_catalog.float8", COL_FLOAT8, 0),
};

/*
 * Riders; parameters as match_rider_params sets them: $1 zone, $2 now,
 * $3 today (date), $4 day start, $5 oldest acceptable position time.
 */
static const Column rider_columns[] = {
	COLUMN(MatchRider, rider_id, "r.rider_id", COL_INT8, 0),
	COLUMN(MatchRider, lon, "(r.position::pg_catalog.point)[0]", COL_FLOAT8, 0),
	COLUMN(MatchRider, lat, "(r.position::pg_catalog.point)[1]", COL_FLOAT8, 0),
	COLUMN_SINCE_020(MatchRider, free_in_s,
					 "pg_catalog.date_part('epoch', r.free_at OPERATOR(pg_catalog.-) $2)",
					 "NULL::pg_catalog.float8", COL_FLOAT8, MATCH_NO_TIME),
	COLUMN_SINCE_020(MatchRider, free_lon, "(r.free_position::pg_catalog.point)[0]",
					 "NULL::pg_catalog.float8", COL_FLOAT8, 0),
	COLUMN_SINCE_020(MatchRider, free_lat, "(r.free_position::pg_catalog.point)[1]",
					 "NULL::pg_catalog.float8", COL_FLOAT8, 0),
	COLUMN_SINCE_020(MatchRider, join_in_s,
					 "pg_catalog.date_part('epoch', r.plan_pickup_at OPERATOR(pg_catalog.-) $2)",
					 "NULL::pg_catalog.float8", COL_FLOAT8, MATCH_NO_TIME),
	COLUMN_SINCE_020(MatchRider, join_lon, "(r.plan_pickup_position::pg_catalog.point)[0]",
					 "NULL::pg_catalog.float8", COL_FLOAT8, 0),
	COLUMN_SINCE_020(MatchRider, join_lat, "(r.plan_pickup_position::pg_catalog.point)[1]",
					 "NULL::pg_catalog.float8", COL_FLOAT8, 0),
	COLUMN_SINCE_020(MatchRider, ends_in_s,
					 "pg_catalog.date_part('epoch', r.shift_ends_at OPERATOR(pg_catalog.-) $2)",
					 "NULL::pg_catalog.float8", COL_FLOAT8, 1.0e12),
	COLUMN(MatchRider, capacity, "r.capacity", COL_INT4, 0),
	COLUMN(MatchRider, active, "r.active_orders", COL_INT4, 0),
	COLUMN(MatchRider, pending, "r.pending_offers", COL_INT4, 0),
	COLUMN(MatchRider, vehicle, "r.vehicle", COL_VEHICLE, 0),
	COLUMN(MatchRider, age_s,
		   "pg_catalog.date_part('epoch', $2 OPERATOR(pg_catalog.-) r.position_at)",
		   COL_FLOAT8, 0),
	COLUMN(MatchRider, orders_today,
		   "CASE WHEN r.stats_day OPERATOR(pg_catalog.=) $3 THEN r.orders_today ELSE 0 END",
		   COL_INT4, 0),
	COLUMN(MatchRider, earnings_today,
		   "CASE WHEN r.stats_day OPERATOR(pg_catalog.=) $3 THEN r.earnings_today_cents ELSE 0 END",
		   COL_INT8, 0),
	COLUMN(MatchRider, online_today_s,
		   "(CASE WHEN r.stats_day OPERATOR(pg_catalog.=) $3 THEN r.online_seconds_today ELSE 0 END)"
		   " OPERATOR(pg_catalog.+) pg_catalog.date_part('epoch', $2 OPERATOR(pg_catalog.-)"
		   " GREATEST(COALESCE(r.online_since, $2), $4))",
		   COL_FLOAT8, 0),
	COLUMN(MatchRider, shift_s,
		   "pg_catalog.date_part('epoch', $2 OPERATOR(pg_catalog.-)"
		   " COALESCE(r.shift_started_at, r.online_since, $2))",
		   COL_FLOAT8, 0),
};

/*
 * A zone's settings: z is the zone, s its row of matching_settings (or
 * zone 0's); $2 now.  A 0.1.0 catalog has no widen_rounds and
 * max_rider_wait_s: 0.1.0 did not widen or limit the wait, which is what
 * their expressions there say.
 */
static const Column settings_columns[] = {
	COLUMN(MatchSettings, speed_mps, "COALESCE(zs.speed_mps, z.speed_mps)::pg_catalog.float8", COL_FLOAT8, 4.0),
	COLUMN(MatchSettings, today, "pg_catalog.timezone(z.timezone, $2)::pg_catalog.date",
		   COL_DATUM, 0),
	COLUMN(MatchSettings, day_start, "pg_catalog.date_trunc('day', $2, z.timezone)",
		   COL_TIMESTAMPTZ, 0),
	COLUMN(MatchSettings, k, "s.k_candidates", COL_INT4, 0),
	COLUMN(MatchSettings, radius_m, "s.radius_m::pg_catalog.float8", COL_FLOAT8, 5000),
	COLUMN(MatchSettings, stale_after_s, "s.stale_after_s", COL_INT4, 0),
	COLUMN(MatchSettings, offer_ttl_s, "s.offer_ttl_s", COL_INT4, 0),
	COLUMN(MatchSettings, hold_cost, "s.hold_cost::pg_catalog.float8", COL_FLOAT8, 1800),
	COLUMN(MatchSettings, w_travel, "s.w_travel::pg_catalog.float8", COL_FLOAT8, 1),
	COLUMN(MatchSettings, w_rider_wait, "s.w_rider_wait::pg_catalog.float8", COL_FLOAT8, 0),
	COLUMN(MatchSettings, w_food_wait, "s.w_food_wait::pg_catalog.float8", COL_FLOAT8, 0),
	COLUMN(MatchSettings, w_late, "s.w_late::pg_catalog.float8", COL_FLOAT8, 0),
	COLUMN(MatchSettings, priority_hot, "s.priority_hot::pg_catalog.float8", COL_FLOAT8, 1),
	COLUMN(MatchSettings, priority_fresh, "s.priority_fresh::pg_catalog.float8", COL_FLOAT8, 1),
	COLUMN(MatchSettings, load_penalty_s, "s.load_penalty_s::pg_catalog.float8", COL_FLOAT8, 0),
	COLUMN(MatchSettings, w_fair_orders, "s.w_fair_orders::pg_catalog.float8", COL_FLOAT8, 0),
	COLUMN(MatchSettings, w_fair_earnings, "s.w_fair_earnings::pg_catalog.float8", COL_FLOAT8, 0),
	COLUMN(MatchSettings, w_shift_hour, "s.w_shift_hour::pg_catalog.float8", COL_FLOAT8, 0),
	COLUMN(MatchSettings, max_shift_minutes, "s.max_shift_minutes", COL_INT4, 0),
	COLUMN(MatchSettings, max_daily_minutes, "s.max_daily_minutes", COL_INT4, 0),
	COLUMN(MatchSettings, max_batch_orders, "s.max_batch_orders", COL_INT4, 0),
	COLUMN(MatchSettings, max_arcs, "s.max_arcs", COL_INT4, 0),
	COLUMN(MatchSettings, time_budget_ms, "s.time_budget_ms::pg_catalog.float8", COL_FLOAT8, 100),
	COLUMN(MatchSettings, use_grid, "s.candidate_source OPERATOR(pg_catalog.=) 'grid'",
		   COL_BOOL, 0),
	COLUMN_SINCE_020(MatchSettings, max_rider_wait_s, "s.max_rider_wait_s::pg_catalog.float8",
					 "NULL::pg_catalog.float8", COL_FLOAT8, -1),
	COLUMN_SINCE_020(MatchSettings, widen_rounds, "s.widen_rounds", "0", COL_INT4, 0),
};

static char *columns_select(const Column *cols, int n, bool catalog_010);
static void columns_find(TupleDesc desc, const Column *cols, int n, int *fno);
static void columns_decode(HeapTuple tup, TupleDesc desc, const Column *cols, int n,
						   const int *fno, void *dst);
static void load_vehicles(HeapTuple tup, TupleDesc desc, MatchSettings *s);
static int	vehicle_index(const char *name);
static int	cmp_by_distance(const void *a, const void *b);
static bool read_order(int64 order_id, TimestampTz now, MatchOrder *o);

/*
 * The schema PostGIS was installed in, quoted, looked up once per backend:
 * PostGIS is not relocatable, and cannot be dropped while dispatch
 * depends on it.
 */
static const char *
postgis_schema(void)
{
	static char *schema = NULL;

	if (schema == NULL)
		schema = MemoryContextStrdup(TopMemoryContext,
									 quote_identifier(dispatch_extension_schema("postgis")));
	return schema;
}

/*
 * Prepare a statement once per backend and keep it (for match.c and
 * assign.c).  Every "@postgis@" in the text becomes the quoted schema of
 * PostGIS (match.h): the functions calling these statements pin
 * search_path to pg_catalog, pg_temp.
 */
SPIPlanPtr
match_keep_plan(const char *sql, int nargs, Oid *types)
{
	StringInfoData text;
	const char *p = sql;
	const char *at;
	SPIPlanPtr	plan;

	initStringInfo(&text);
	while ((at = strstr(p, "@postgis@")) != NULL)
	{
		appendBinaryStringInfo(&text, p, at - p);
		appendStringInfoString(&text, postgis_schema());
		p = at + strlen("@postgis@");
	}
	appendStringInfoString(&text, p);

	/*
	 * Generic plans: every statement here is planned once per backend, not
	 * on each call (the plans are index-driven whatever the parameters).
	 * With Citus in the database (docs/citus.md), the server's own choice
	 * (plan_cache_mode): custom plans for the first five runs, then the
	 * generic plan unless it costs more.  Citus gives a generic plan it
	 * cannot route without the parameters' values a prohibitive cost, so
	 * such a statement stays planned per call, while a statement on tables
	 * that are not distributed, or one Citus prunes to its shard at run
	 * time, keeps its generic plan.  A kept plan is planned again when a
	 * table it reads is distributed, and chosen again the same way.
	 */
	plan = SPI_prepare_cursor(text.data, nargs, types,
							  dispatch_on_citus() ?
							  0 : CURSOR_OPT_GENERIC_PLAN);
	pfree(text.data);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

/*
 * Run a kept plan (match_keep_plan) with SPI_execute_plan's arguments; an
 * internal error naming what was done unless SPI answered expected.
 */
void
match_run_plan(SPIPlanPtr plan, Datum *args, const char *nulls, bool read_only, long count,
			   int expected, const char *what)
{
	int			ret = SPI_execute_plan(plan, args, nulls, read_only, count);

	if (ret != expected)
		elog(ERROR, "%s failed: %s", what, SPI_result_code_string(ret));
}

/*
 * match_run_plan for a read (a SELECT) made after a lock that orders the
 * caller after other transactions (a customer's intake lock, a provider
 * reference's), which must see what they committed.  In read committed a
 * statement after the lock does; a transaction snapshot (repeatable read,
 * serializable) is older than the wait and would miss it, so there the
 * plan reads the latest snapshot, as a foreign key check does.
 */
void
match_run_plan_after_lock(SPIPlanPtr plan, Datum *args, bool read_only, long count,
						  const char *what)
{
	int			ret;

	if (IsolationUsesXactSnapshot())
		ret = SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(), InvalidSnapshot,
								   true, false, count);
	else
		ret = SPI_execute_plan(plan, args, NULL, read_only, count);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "%s failed: %s", what, SPI_result_code_string(ret));
}

/*
 * "expr AS name, ..." for a table of columns, kept for the backend; on a
 * 0.1.0 catalog (the module updated, the extension not yet) the
 * expressions of columns added since.
 */
static char *
columns_select(const Column *cols, int n, bool catalog_010)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s AS %s", i > 0 ? ", " : "",
						 catalog_010 && cols[i].expr_010 ? cols[i].expr_010 : cols[i].expr,
						 cols[i].name);
	return MemoryContextStrdup(TopMemoryContext, buf.data);
}

/* Look up every column of a table by name, once per result. */
static void
columns_find(TupleDesc desc, const Column *cols, int n, int *fno)
{
	int			i;

	for (i = 0; i < n; i++)
		fno[i] = dispatch_column_number(desc, cols[i].name);
}

/* Decode one row into dst by the column table (NULL: the default). */
static void
columns_decode(HeapTuple tup, TupleDesc desc, const Column *cols, int n,
			   const int *fno, void *dst)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(tup, desc, fno[i], &isnull);
		char	   *field = (char *) dst + cols[i].offset;

		Assert(fno[i] > 0 && fno[i] <= desc->natts);
		switch (cols[i].kind)
		{
			case COL_INT4:
				*(int *) field = isnull ? (int) cols[i].dflt : DatumGetInt32(d);
				break;
			case COL_INT8:
				*(int64 *) field = isnull ? (int64) cols[i].dflt : DatumGetInt64(d);
				break;
			case COL_FLOAT8:
				*(double *) field = isnull ? cols[i].dflt : DatumGetFloat8(d);
				break;
			case COL_BOOL:
				*(bool *) field = !isnull && DatumGetBool(d);
				break;
			case COL_DATUM:
				*(Datum *) field = d;
				break;
			case COL_TIMESTAMPTZ:
				*(TimestampTz *) field = isnull ? 0 : DatumGetTimestampTz(d);
				break;
			case COL_VEHICLE:
				*(int *) field = isnull ? 2 : vehicle_index(TextDatumGetCString(d));
				break;
			case COL_PRIORITY:
				{
					const char *p = isnull ? "normal" : TextDatumGetCString(d);

					*(int *) field = strcmp(p, "fresh") == 0 ? 2 : strcmp(p, "hot") == 0 ? 1 : 0;
				}
				break;
		}
	}
}

/*
 * Whether the catalog is 0.1.0's: the module updated, ALTER EXTENSION
 * UPDATE not yet run.  riders.shift_ends_at, riders' plans, the settings'
 * max_rider_wait_s and widen_rounds and the learned zone_speeds all came
 * with 0.2.0, so one column answers for all of them.  Asked once per
 * backend, like the select lists and plans built from the answer.
 */
bool
match_catalog_is_010(void)
{
	static int	is_010 = -1;

	if (is_010 < 0)
	{
		Oid			nsp = get_namespace_oid("dispatch", true);
		Oid			riders = OidIsValid(nsp) ? get_relname_relid("riders", nsp) : InvalidOid;

		is_010 = !OidIsValid(riders) || get_attnum(riders, "shift_ends_at") == InvalidAttrNumber;
	}
	return is_010 != 0;
}

/*
 * The select lists of riders and orders, "expr AS name, ...", for
 * statements that decode them with match_read_rider / match_read_order.
 */
const char *
match_rider_select(void)
{
	static char *sel = NULL;

	if (sel == NULL)
		sel = columns_select(rider_columns, lengthof(rider_columns), match_catalog_is_010());
	return sel;
}

const char *
match_order_select(void)
{
	static char *sel = NULL;

	if (sel == NULL)
		sel = columns_select(order_columns, lengthof(order_columns), false);
	return sel;
}

/* Where a result's rider (or order) columns are; once per result. */
void
match_rider_columns(TupleDesc desc, MatchColumns *cols)
{
	StaticAssertStmt(lengthof(rider_columns) <= MATCH_MAX_COLUMNS, "MATCH_MAX_COLUMNS");
	cols->desc = desc;
	columns_find(desc, rider_columns, lengthof(rider_columns), cols->fno);
}

void
match_order_columns(TupleDesc desc, MatchColumns *cols)
{
	StaticAssertStmt(lengthof(order_columns) <= MATCH_MAX_COLUMNS, "MATCH_MAX_COLUMNS");
	cols->desc = desc;
	columns_find(desc, order_columns, lengthof(order_columns), cols->fno);
}

static int
vehicle_index(const char *name)
{
	int			i;

	for (i = 0; i < MATCH_N_VEHICLES; i++)
		if (strcmp(name, match_vehicle_names[i]) == 0)
			return i;
	return 2;					/* ebike, the schema's default */
}

/* Name of a vehicle index. */
const char *
match_vehicle_name(int vehicle)
{
	return match_vehicle_names[vehicle];
}

/*
 * The settings row of zone z (an alias in the enclosing statement): its own
 * row of matching_settings, else zone 0's, which holds the defaults.  The
 * one place that says so: match_load_settings and _zone_setting_int (the
 * rider trigger) both use it.
 */
#define MATCH_ZONE_SETTINGS \
	" (SELECT * FROM dispatch.matching_settings m" \
	"   WHERE m.zone_id OPERATOR(pg_catalog.=) z.zone_id" \
	"      OR m.zone_id OPERATOR(pg_catalog.=) 0" \
	"   ORDER BY m.zone_id DESC LIMIT 1)"

/*
 * Read a zone's settings (its own row of matching_settings, else zone 0's),
 * its speed and today's date in its time zone, and the vehicle profiles,
 * in one statement.
 * Raises DP305 if the zone does not exist.
 */
void
match_load_settings(int64 zone_id, MatchSettings *s)
{
	Datum		values[2];
	HeapTuple	tup;
	TupleDesc	desc;
	int			fno[lengthof(settings_columns)];
	int			ret;

	if (settings_plan == NULL)
	{
		Oid			types[2] = {INT8OID, TIMESTAMPTZOID};

		/*
		 * The speed of the zone's hour of the week as learned from its
		 * deliveries (sql/63_eta.sql), else its configured speed.  A 0.1.0
		 * catalog (the module updated, the extension not yet) has no
		 * learned speeds, and its settings no max_rider_wait_s and
		 * widen_rounds (their 0.1.0 meanings then: no limit, no widening).
		 */
		const char *speeds = !match_catalog_is_010() ?
			" LEFT JOIN dispatch.zone_speeds zs ON zs.zone_id OPERATOR(pg_catalog.=) $1"
			"  AND zs.hour_of_week OPERATOR(pg_catalog.=) dispatch._hour_of_week($2, z.timezone)" :
			" CROSS JOIN (SELECT NULL::pg_catalog.float4 AS speed_mps) zs";

		settings_plan = match_keep_plan(psprintf(
												 "SELECT %s,"
												 " v.names AS vehicle_names, v.speeds AS vehicle_speeds,"
												 " v.pickups AS vehicle_pickups, v.trips AS vehicle_trips"
												 " FROM dispatch.zones z%s CROSS JOIN LATERAL"
												 MATCH_ZONE_SETTINGS " s"
												 " CROSS JOIN (SELECT pg_catalog.array_agg(p.vehicle) AS names,"
												 "   pg_catalog.array_agg(p.speed_factor::pg_catalog.float8) AS speeds,"
												 "   pg_catalog.array_agg(p.max_pickup_m::pg_catalog.float8) AS pickups,"
												 "   pg_catalog.array_agg(p.max_trip_m::pg_catalog.float8) AS trips"
												 "   FROM dispatch.vehicle_profiles p) v"
												 " WHERE z.zone_id OPERATOR(pg_catalog.=) $1",
												 columns_select(settings_columns,
																lengthof(settings_columns),
																match_catalog_is_010()),
												 speeds),
										2, types);
	}

	memset(s, 0, sizeof(MatchSettings));
	s->zone_id = zone_id;
	s->now = dispatch_clock_now();
	values[0] = Int64GetDatum(zone_id);
	values[1] = TimestampTzGetDatum(s->now);
	ret = SPI_execute_plan(settings_plan, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read matching settings: %s", SPI_result_code_string(ret));
	if (SPI_processed != 1)
		ereport(ERROR,
				errcode(ERRCODE_DP_MATCH_ZONE_UNKNOWN),
				errmsg("zone " INT64_FORMAT " does not exist", zone_id));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	columns_find(desc, settings_columns, lengthof(settings_columns), fno);
	columns_decode(tup, desc, settings_columns, lengthof(settings_columns), fno, s);
	Assert(s->zone_id == zone_id);
	load_vehicles(tup, desc, s);
}

/*
 * The vehicle profiles from the settings row's arrays (vehicle_names,
 * vehicle_speeds, vehicle_pickups, vehicle_trips, one entry per profile);
 * a vehicle without a profile is unlimited at speed factor 1.
 */
static void
load_vehicles(HeapTuple tup, TupleDesc desc, MatchSettings *s)
{
	int			i;

	for (i = 0; i < MATCH_N_VEHICLES; i++)
	{
		s->veh_speed[i] = 1.0;
		s->veh_max_pickup_m[i] = HUGE_VAL;
		s->veh_max_trip_m[i] = HUGE_VAL;
	}
	{
		Datum	   *names,
				   *speeds,
				   *pickups,
				   *trips;
		int			n,
					n2,
					row;
		bool		isnull;
		Datum		d = SPI_getbinval(tup, desc, dispatch_column_number(desc, "vehicle_names"), &isnull);

		if (!isnull)
		{
			deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
							  &names, NULL, &n);
			deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc,
															   dispatch_column_number(desc, "vehicle_speeds"),
															   &isnull)),
							  FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &speeds, NULL, &n2);
			Assert(n2 == n);
			deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc,
															   dispatch_column_number(desc, "vehicle_pickups"),
															   &isnull)),
							  FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &pickups, NULL, &n2);
			Assert(n2 == n);
			deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc,
															   dispatch_column_number(desc, "vehicle_trips"),
															   &isnull)),
							  FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &trips, NULL, &n2);
			Assert(n2 == n);
			for (row = 0; row < n; row++)
			{
				i = vehicle_index(TextDatumGetCString(names[row]));
				s->veh_speed[i] = DatumGetFloat8(speeds[row]);
				s->veh_max_pickup_m[i] = DatumGetFloat8(pickups[row]);
				s->veh_max_trip_m[i] = DatumGetFloat8(trips[row]);
			}
		}
	}
}

/* The five parameters of match_rider_select() and MATCH_RIDER_AVAILABLE. */
void
match_rider_params(const MatchSettings *s, Datum *values)
{
	values[0] = Int64GetDatum(s->zone_id);
	values[1] = TimestampTzGetDatum(s->now);
	values[2] = s->today;
	values[3] = TimestampTzGetDatum(s->day_start);
	values[4] = TimestampTzGetDatum(s->now - (int64) s->stale_after_s * USECS_PER_SEC);
}

/*
 * Decode a row whose select list includes match_rider_select(), its
 * columns found by match_rider_columns on the row's descriptor.
 */
void
match_read_rider(HeapTuple tup, const MatchColumns *cols, MatchRider *r)
{
	columns_decode(tup, cols->desc, rider_columns, lengthof(rider_columns), cols->fno, r);
	r->age_s = Max(0.0, r->age_s);	/* a ping from ahead: fresh */

	/*
	 * A plan (update_rider_plan) counts while its time has not passed; a
	 * passed one is not trusted until the next.  A rider holds one while it
	 * holds orders, and after its last delivery until the plan's end (the
	 * orders_rider_load trigger keeps only that).  With one, the rider's
	 * next order starts where and when it ends.
	 */
	r->planned = r->free_in_s >= 0;
	r->busy_s = r->planned ? r->free_in_s : 0;
	if (r->planned)
	{
		r->lon = r->free_lon;
		r->lat = r->free_lat;
	}
	r->joinable = r->planned && r->join_in_s > MATCH_NO_TIME;
	Assert(r->vehicle >= 0 && r->vehicle < MATCH_N_VEHICLES);
}

/* Decode a row whose select list includes match_order_select(). */
void
match_read_order(HeapTuple tup, const MatchColumns *cols, MatchOrder *o)
{
	columns_decode(tup, cols->desc, order_columns, lengthof(order_columns), cols->fno, o);
	Assert(o->priority >= 0 && o->priority <= 2);
}

/*
 * The eligibility rule, all of it that does not depend on where the rider
 * is: a free slot (counting pending offers unless count_offers is false),
 * a fresh position, within the shift and daily limits, and the order
 * within the vehicle's longest trip.  The zone, being online and not being
 * excluded for the order are facts of the rows, checked where they are
 * read (MATCH_RIDER_AVAILABLE and the exclusions in nearest_riders and
 * assign_batch, dispatch_rider_can_take for a single pair).
 */
MatchRefusal
match_rider_can_take(const MatchSettings *s, const MatchOrder *o,
					 const MatchRider *r, bool count_offers)
{
	int			held = r->active + (count_offers ? r->pending : 0);

	if (held >= r->capacity)
		return MATCH_FULL;
	if (r->age_s > s->stale_after_s)
		return MATCH_STALE;
	if (r->shift_s > s->max_shift_minutes * 60.0)
		return MATCH_SHIFT;
	if (r->online_today_s > s->max_daily_minutes * 60.0)
		return MATCH_DAILY;
	if (o->trip_m > s->veh_max_trip_m[r->vehicle])
		return MATCH_TRIP;
	return MATCH_OK;
}

/*
 * The part of the eligibility rule that depends on the rider's distance to
 * the pickup: the vehicle's longest ride to a pickup.  (The zone's
 * radius_m bounds the candidate search, not who may take an order.)
 */
MatchRefusal
match_rider_in_reach(const MatchSettings *s, const MatchRider *r,
					 double distance_m)
{
	if (distance_m > s->veh_max_pickup_m[r->vehicle])
		return MATCH_PICKUP;
	return MATCH_OK;
}

/*
 * Whether the order's pickup is the place at (lon, lat): within
 * MATCH_SAME_PICKUP_M, one merchant's door.
 */
static bool
match_same_pickup(const MatchOrder *o, double lon, double lat)
{
	double		x,
				y;

	as_project(o->lon, o->lat, lon, lat, &x, &y);
	return x * x + y * y <= MATCH_SAME_PICKUP_M * MATCH_SAME_PICKUP_M;
}

/*
 * Metres from the rider to the order's pickup (as the cost measures it),
 * none when the order joins the trip the rider's plan names next (its
 * pickup is that trip's, *joins set): the radius and the vehicle's pickup
 * limit measure the way to the pickup, and a joining rider is going there
 * already, wherever its current trip ends.
 */
double
match_distance(const MatchOrder *o, const MatchRider *r, bool *joins)
{
	double		x,
				y;

	*joins = r->joinable && match_same_pickup(o, r->join_lon, r->join_lat);
	if (*joins)
		return 0.0;
	as_project(o->lon, o->lat, r->lon, r->lat, &x, &y);
	return sqrt(x * x + y * y);
}

/*
 * Take the zone's matching lock to the end of the transaction, exclusive:
 * batches of one zone and manual assignments in it run one at a time, and
 * it comes first in the order of locks (docs/matching.md).  Shared (what
 * cancel_order takes): no batch or manual assignment runs in the zone
 * meanwhile, but shared holders do not wait for each other.
 */
void
match_lock_zone(int64 zone_id, bool shared)
{
	Datum		class = Int32GetDatum(DISPATCH_LOCK_ZONE);
	Datum		zone = Int32GetDatum((int32) zone_id);

	if (shared)
		DirectFunctionCall2(pg_advisory_xact_lock_shared_int4, class, zone);
	else
		DirectFunctionCall2(pg_advisory_xact_lock_int4, class, zone);
}

/*
 * The cost of order o on rider r's next free slot, with its parts.  Returns
 * false when the eligibility rule or the search radius rules the pair out.
 * avg_orders and avg_earnings (cents) are today's means over the riders
 * being compared.
 */
bool
match_cost(const MatchSettings *s, const MatchOrder *o, const MatchRider *r,
		   double avg_orders, double avg_earnings, MatchCost *c)
{
	double		speed,
				pickup,
				deliver;
	int			v = r->vehicle;
	bool		joins;

	memset(c, 0, sizeof(MatchCost));
	c->distance_m = match_distance(o, r, &joins);

	if (c->distance_m > s->radius_m ||
		match_rider_can_take(s, o, r, true) != MATCH_OK ||
		match_rider_in_reach(s, r, c->distance_m) != MATCH_OK)
		return false;

	speed = s->speed_mps * s->veh_speed[v];
	if (!(speed > 0))
		speed = 1.0;
	if (joins)
	{
		/*
		 * The rider's next pickup is this order's, for a trip not yet
		 * started: the order joins that trip.  The rider is there at
		 * join_in_s; if this food is ready later, the trip's other food
		 * waits for it as well as the rider.
		 */
		c->joins = true;
		c->travel_s = Max(0.0, r->join_in_s);
		c->rider_wait_s = Max(0.0, o->ready_in_s - c->travel_s);
		c->food_wait_s = Max(0.0, c->travel_s - Max(o->ready_in_s, 0.0)) + c->rider_wait_s;
	}
	else
	{
		/* a busy rider with a plan sets out when it is done (busy_s from now) */
		c->travel_s = Max(0.0, r->busy_s) + c->distance_m / speed;
		c->rider_wait_s = Max(0.0, o->ready_in_s - c->travel_s);
		c->food_wait_s = Max(0.0, c->travel_s - Max(o->ready_in_s, 0.0));
	}
	pickup = Max(c->travel_s, o->ready_in_s);
	/* no pickup after the end of the rider's shift */
	if (pickup > r->ends_in_s)
		return false;
	/* no rider sent this early: the order waits for a later batch */
	if (s->max_rider_wait_s >= 0 && c->rider_wait_s > s->max_rider_wait_s)
		return false;
	deliver = pickup + o->trip_m / speed;
	c->late_s = Max(0.0, deliver - o->promise_in_s);
	c->priority_factor = o->priority == 2 ? s->priority_fresh :
		o->priority == 1 ? s->priority_hot : 1.0;
	c->load_penalty = match_slot_penalty(s, r, 0);
	c->fairness = s->w_fair_orders * Max(0.0, r->orders_today - avg_orders) +
		s->w_fair_earnings * Max(0.0, (r->earnings_today - avg_earnings) / 100.0);
	c->fatigue = s->w_shift_hour * Max(0.0, r->shift_s) / 3600.0;
	c->base = s->w_travel * c->travel_s +
		s->w_rider_wait * c->rider_wait_s +
		c->priority_factor * (s->w_food_wait * c->food_wait_s +
							  s->w_late * c->late_s) +
		c->fairness + c->fatigue;

	/*
	 * A trip queued after a plan's end carries the load term of the orders
	 * the rider holds, in the pair's own cost (the slot penalty leaves them
	 * out for a rider with a plan): only an order joining a trip rides
	 * along without it.
	 */
	if (r->planned && !c->joins)
		c->base += s->load_penalty_s * r->active;
	/* the solver takes costs up to AS_COST_MAX */
	if (c->base > 1.0e8)
		c->base = 1.0e8;
	c->cost = c->base + c->load_penalty;
	return true;
}

/*
 * What letting an order wait one more batch costs: the zone's hold_cost on
 * top of what the order has already lost and no rider can give back, both
 * weighted by its priority: the lateness that remains even with a rider at
 * the door (its own trip at the fastest vehicle's speed from when its food
 * is ready), and the time its food has already waited.  The comparison
 * with holding is thus on the part of a cost that a better rider could
 * save, and the longer ready food waits, the less an order is held back:
 * no order waits for ever because only far or busy riders are left.
 */
double
match_hold_cost(const MatchSettings *s, const MatchOrder *o)
{
	double		fastest = 0.0;
	double		late = 0.0;
	double		waited = Max(0.0, -o->ready_in_s);
	double		priority;
	int			v;

	for (v = 0; v < MATCH_N_VEHICLES; v++)
		fastest = Max(fastest, s->veh_speed[v]);
	fastest *= s->speed_mps;
	if (fastest > 0)
		late = Max(0.0, Max(o->ready_in_s, 0.0) + o->trip_m / fastest - o->promise_in_s);
	priority = o->priority == 2 ? s->priority_fresh :
		o->priority == 1 ? s->priority_hot : 1.0;
	return Min(s->hold_cost + priority * (s->w_late * late + s->w_food_wait * waited),
			   1.0e8);
}

/*
 * Penalty of the k-th extra order (k = 0 for the next free slot) of a
 * rider: load_penalty_s per order it would then already hold, not counting
 * the orders of its plan, whose time the cost has already (busy_s).
 * Rising in k, as the solver requires.
 */
double
match_slot_penalty(const MatchSettings *s, const MatchRider *r, int k)
{
	return s->load_penalty_s * (double) ((r->planned ? 0 : r->active) + r->pending + k);
}

/* Append one candidate as a JSON object (for offer_audit). */
void
match_cost_json(StringInfo buf, int64 rider_id, const MatchCost *c)
{
	appendStringInfo(buf,
					 "{\"rider_id\":" INT64_FORMAT ",\"distance_m\":%.1f,\"cost\":%.2f,"
					 "\"travel_s\":%.1f,\"rider_wait_s\":%.1f,\"food_wait_s\":%.1f,"
					 "\"late_s\":%.1f,\"priority_factor\":%.2f,\"load_penalty\":%.1f,"
					 "\"fairness\":%.1f,\"fatigue\":%.1f}",
					 rider_id, c->distance_m, c->cost, c->travel_s,
					 c->rider_wait_s, c->food_wait_s, c->late_s,
					 c->priority_factor, c->load_penalty, c->fairness,
					 c->fatigue);
}

/*
 * Read an order (through the zone in its id) as match_order_select()
 * selects it; false if there is none.
 */
static bool
read_order(int64 order_id, TimestampTz now, MatchOrder *o)
{
	MatchColumns cols;
	Datum		values[3];
	int			ret;

	if (order_plan == NULL)
	{
		Oid			types[3] = {INT8OID, TIMESTAMPTZOID, INT8OID};

		order_plan = match_keep_plan(psprintf("SELECT %s"
											  " FROM dispatch.orders o"
											  " WHERE o.zone_id OPERATOR(pg_catalog.=) $1"
											  " AND o.order_id OPERATOR(pg_catalog.=) $3",
											  match_order_select()),
									 3, types);
	}
	values[0] = Int64GetDatum(DISPATCH_ZONE_OF(order_id));
	values[1] = TimestampTzGetDatum(now);
	values[2] = Int64GetDatum(order_id);
	ret = SPI_execute_plan(order_plan, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the order: %s", SPI_result_code_string(ret));
	if (SPI_processed != 1)
		return false;
	match_order_columns(SPI_tuptable->tupdesc, &cols);
	match_read_order(SPI_tuptable->vals[0], &cols, o);
	SPI_freetuptable(SPI_tuptable);
	return true;
}

typedef struct Cand
{
	MatchRider	r;
	MatchCost	c;
	bool		ok;
} Cand;

static int
cmp_by_distance(const void *a, const void *b)
{
	const Cand *x = a;
	const Cand *y = b;

	if (x->c.distance_m != y->c.distance_m)
		return x->c.distance_m < y->c.distance_m ? -1 : 1;
	return x->r.rider_id < y->r.rider_id ? -1 : (x->r.rider_id > y->r.rider_id);
}

PG_FUNCTION_INFO_V1(dispatch_nearest_riders);

/*
 * SQL: dispatch.nearest_riders(order_id bigint, k int DEFAULT 10)
 *		-> table(rider_id, distance_m, cost, <cost parts>, ...)
 *
 * The k nearest riders that could take the order now, by distance (ties
 * by rider id), each with the cost assign_batch would give it.  Reads
 * through the partial GiST index: a few more than k rows are fetched since
 * the index orders by degrees and hard limits drop some.  The riders
 * excluded for the order are read once, before the scan (an array the
 * scan's filter compares with), not for each rider read: a scan of the
 * exclusions started again per rider asked the kernel for the table's
 * size each time.
 */
Datum
dispatch_nearest_riders(PG_FUNCTION_ARGS)
{
	int64		order_id = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	int32		k = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcxt;
	MemoryContext opcxt;
	MatchSettings s;
	MatchOrder	o;
	MatchColumns cols;
	Datum		values[10];
	int			ret,
				fetch,
				n,
				i,
				out;
	Cand	   *cands;
	double		avg_o = 0,
				avg_e = 0;

	/*
	 * Not STRICT: a NULL order or k is a caller's mistake, refused as an
	 * unknown order or a k out of range, not answered with no riders
	 */
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_DP_MATCH_ORDER_UNKNOWN),
				errmsg("order <NULL> does not exist"));
	if (PG_ARGISNULL(1) || k < 1 || k > MATCH_MAX_K)
		ereport(ERROR,
				errcode(ERRCODE_DP_MATCH_ARGUMENT),
				errmsg("k must be between 1 and %d", MATCH_MAX_K));

	InitMaterializedSRF(fcinfo, 0);

	opcxt = AllocSetContextCreate(CurrentMemoryContext, "dispatch nearest_riders",
								  ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(opcxt);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (knn_plan == NULL)
	{
		Oid			ktypes[9] = {INT8OID, TIMESTAMPTZOID, DATEOID, TIMESTAMPTZOID,
		TIMESTAMPTZOID, INT8OID, FLOAT8OID, FLOAT8OID, INT4OID};

		knn_plan = match_keep_plan(psprintf("SELECT %s"
											" FROM dispatch.riders r WHERE" MATCH_RIDER_AVAILABLE
											" AND r.rider_id OPERATOR(pg_catalog.<>) ALL (ARRAY("
											"   SELECT e.rider_id FROM dispatch.offer_exclusions e"
											"   WHERE e.zone_id OPERATOR(pg_catalog.=) $1"
											"   AND e.order_id OPERATOR(pg_catalog.=) $6))"
											" ORDER BY r.position OPERATOR(@postgis@.<->)"
											"   pg_catalog.point($7, $8)::@postgis@.geometry(Point, 4326)"
											" LIMIT $9",
											match_rider_select()),
								   9, ktypes);
	}

	if (!read_order(order_id, dispatch_clock_now(), &o))
		ereport(ERROR,
				errcode(ERRCODE_DP_MATCH_ORDER_UNKNOWN),
				errmsg("order " INT64_FORMAT " does not exist", order_id));

	match_load_settings(DISPATCH_ZONE_OF(order_id), &s);

	/* oversample: degree order differs from metre order, limits drop some */
	fetch = Min(3 * k + 10, 3 * MATCH_MAX_K);
	match_rider_params(&s, values);
	values[5] = Int64GetDatum(order_id);
	values[6] = Float8GetDatum(o.lon);
	values[7] = Float8GetDatum(o.lat);
	values[8] = Int32GetDatum(fetch);
	ret = SPI_execute_plan(knn_plan, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read candidates: %s", SPI_result_code_string(ret));

	n = (int) SPI_processed;
	cands = palloc0(sizeof(Cand) * Max(n, 1));
	match_rider_columns(SPI_tuptable->tupdesc, &cols);
	for (i = 0; i < n; i++)
	{
		match_read_rider(SPI_tuptable->vals[i], &cols, &cands[i].r);
		avg_o += cands[i].r.orders_today;
		avg_e += (double) cands[i].r.earnings_today;
	}
	if (n > 0)
	{
		avg_o /= n;
		avg_e /= n;
	}
	out = 0;
	for (i = 0; i < n; i++)
		if (match_cost(&s, &o, &cands[i].r, avg_o, avg_e, &cands[i].c))
			cands[out++] = cands[i];
	qsort(cands, out, sizeof(Cand), cmp_by_distance);

	for (i = 0; i < out && i < k; i++)
	{
		Datum		row[15];
		bool		nulls[15] = {0};
		const Cand *cd = &cands[i];

		row[0] = Int64GetDatum(cd->r.rider_id);
		row[1] = Float8GetDatum(cd->c.distance_m);
		row[2] = Float8GetDatum(cd->c.cost);
		row[3] = Float8GetDatum(cd->c.travel_s);
		row[4] = Float8GetDatum(cd->c.rider_wait_s);
		row[5] = Float8GetDatum(cd->c.food_wait_s);
		row[6] = Float8GetDatum(cd->c.late_s);
		row[7] = Float8GetDatum(cd->c.priority_factor);
		row[8] = Float8GetDatum(cd->c.load_penalty);
		row[9] = Float8GetDatum(cd->c.fairness);
		row[10] = Float8GetDatum(cd->c.fatigue);
		row[11] = Int32GetDatum(cd->r.active);
		row[12] = Int32GetDatum(cd->r.capacity - cd->r.active - cd->r.pending);
		row[13] = CStringGetTextDatum(match_vehicle_name(cd->r.vehicle));
		row[14] = Float8GetDatum(cd->r.age_s);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}

	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(opcxt);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(dispatch_rider_can_take);

/*
 * SQL: dispatch._rider_can_take(order_id bigint, rider_id bigint,
 *								 count_offers boolean DEFAULT true) -> void
 *
 * The eligibility rule for one pair, as an error: returns if the rider can
 * take the order now, else raises DP020 naming the first reason (another
 * zone, offline, excluded for the order, full, stale position, shift or
 * daily limit, the vehicle's trip or pickup limit); DP014 for an unknown
 * order, DP015 for an unknown rider.  count_offers false leaves the rider's
 * pending offers out of the slot count (assign_manually withdraws offers
 * that would overfill the rider).  Locks nothing: callers lock the rider
 * row first, so what was checked holds until they commit.
 */
Datum
dispatch_rider_can_take(PG_FUNCTION_ARGS)
{
	int64		order_id = PG_GETARG_INT64(0);
	int64		rider_id = PG_GETARG_INT64(1);
	bool		count_offers = PG_GETARG_BOOL(2);
	MemoryContext oldcxt;
	MemoryContext opcxt;
	MatchSettings s;
	MatchOrder	o;
	MatchRider	r;
	MatchColumns cols;
	Datum		values[8];
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int64		zone_id;
	char	   *status;
	bool		has_position;
	bool		excluded;
	double		distance_m = 0;
	MatchRefusal why;
	int			ret;

	opcxt = AllocSetContextCreate(CurrentMemoryContext, "dispatch _rider_can_take",
								  ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(opcxt);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (can_take_plan == NULL)
	{
		Oid			types[8] = {INT8OID, TIMESTAMPTZOID, DATEOID, TIMESTAMPTZOID,
		TIMESTAMPTZOID, INT8OID, INT8OID, INT8OID};

		can_take_plan = match_keep_plan(psprintf("SELECT %s,"
												 " r.status AS rider_status,"
												 " r.position IS NOT NULL AS has_position,"
												 " EXISTS (SELECT FROM dispatch.offer_exclusions e"
												 "   WHERE e.zone_id OPERATOR(pg_catalog.=) $1"
												 "   AND e.order_id OPERATOR(pg_catalog.=) $6"
												 "   AND e.rider_id OPERATOR(pg_catalog.=) r.rider_id) AS excluded"
												 " FROM dispatch.riders r"
												 " WHERE r.zone_id OPERATOR(pg_catalog.=) $8"
												 " AND r.rider_id OPERATOR(pg_catalog.=) $7",
												 match_rider_select()),
										8, types);
		rider_zone_plan = match_keep_plan("SELECT dispatch._rider_zone($1)", 1, types + 7);
	}

	/* step 1: the order, and its zone's settings */
	if (!read_order(order_id, dispatch_clock_now(), &o))
		ereport(ERROR,
				errcode(ERRCODE_DP_ORDER_UNKNOWN),
				errmsg("order " INT64_FORMAT " does not exist", order_id));
	match_load_settings(DISPATCH_ZONE_OF(order_id), &s);

	/*
	 * step 2: the rider as the batch reads it, with the facts of its row,
	 * read in the order's zone (on Citus, the one shard that holds both);
	 * not found there, the rider's own zone (sql/20_schema.sql) tells an
	 * unknown rider from one of another zone
	 */
	match_rider_params(&s, values);
	values[5] = Int64GetDatum(order_id);
	values[6] = Int64GetDatum(rider_id);
	values[7] = Int64GetDatum(s.zone_id);
	ret = SPI_execute_plan(can_take_plan, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the rider: %s", SPI_result_code_string(ret));
	if (SPI_processed != 1)
	{
		values[0] = Int64GetDatum(rider_id);
		ret = SPI_execute_plan(rider_zone_plan, values, NULL, true, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read the rider's zone: %s", SPI_result_code_string(ret));
		zone_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (!isnull && zone_id != s.zone_id)
			ereport(ERROR,
					errcode(ERRCODE_DP_RIDER_CANNOT_TAKE),
					errmsg("rider " INT64_FORMAT " works in zone " INT64_FORMAT ", not in zone " INT64_FORMAT,
						   rider_id, zone_id, s.zone_id));
		ereport(ERROR,
				errcode(ERRCODE_DP_RIDER_UNKNOWN),
				errmsg("rider " INT64_FORMAT " does not exist", rider_id));
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	match_rider_columns(desc, &cols);
	match_read_rider(tup, &cols, &r);
	status = SPI_getvalue(tup, desc, dispatch_column_number(desc, "rider_status"));
	has_position = DatumGetBool(SPI_getbinval(tup, desc, dispatch_column_number(desc, "has_position"), &isnull));
	excluded = DatumGetBool(SPI_getbinval(tup, desc, dispatch_column_number(desc, "excluded"), &isnull));

	/* step 3: the facts of the rows, then the rule */
	if (status == NULL || strcmp(status, "online") != 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_RIDER_CANNOT_TAKE),
				errmsg("rider " INT64_FORMAT " is offline", rider_id));
	if (excluded)
		ereport(ERROR,
				errcode(ERRCODE_DP_RIDER_CANNOT_TAKE),
				errmsg("rider " INT64_FORMAT " is excluded for order " INT64_FORMAT, rider_id, order_id),
				errdetail("The rider rejected the order, let an offer of it expire, or released it."));
	why = has_position ? match_rider_can_take(&s, &o, &r, count_offers) : MATCH_STALE;
	if (why == MATCH_OK)
	{
		bool		joins;

		distance_m = match_distance(&o, &r, &joins);
		why = match_rider_in_reach(&s, &r, distance_m);
	}
	switch (why)
	{
		case MATCH_OK:
			break;
		case MATCH_FULL:
			if (count_offers && r.pending > 0)
				ereport(ERROR,
						errcode(ERRCODE_DP_RIDER_CANNOT_TAKE),
						errmsg("rider " INT64_FORMAT " is full (%d of %d orders, %d offers pending)",
							   rider_id, r.active, r.capacity, r.pending),
						errdetail("Each pending offer holds one of the rider's slots until it is answered or expires."));
			ereport(ERROR,
					errcode(ERRCODE_DP_RIDER_CANNOT_TAKE),
					errmsg("rider " INT64_FORMAT " is full (%d of %d orders)",
						   rider_id, r.active, r.capacity));
			break;
		case MATCH_STALE:
			ereport(ERROR,
					errcode(ERRCODE_DP_RIDER_CANNOT_TAKE),
					errmsg("rider " INT64_FORMAT " has no recent position", rider_id),
					has_position ?
					errdetail("The last position is %.0f s old; matching trusts one for %d s (stale_after_s).",
							  r.age_s, s.stale_after_s) :
					errdetail("The rider has sent no position."));
			break;
		case MATCH_SHIFT:
			ereport(ERROR,
					errcode(ERRCODE_DP_RIDER_CANNOT_TAKE),
					errmsg("rider " INT64_FORMAT " has been on shift longer than %d minutes",
						   rider_id, s.max_shift_minutes),
					errhint("A break of min_break_minutes offline starts a new shift."));
			break;
		case MATCH_DAILY:
			ereport(ERROR,
					errcode(ERRCODE_DP_RIDER_CANNOT_TAKE),
					errmsg("rider " INT64_FORMAT " has been online longer than %d minutes today",
						   rider_id, s.max_daily_minutes));
			break;
		case MATCH_TRIP:
			ereport(ERROR,
					errcode(ERRCODE_DP_RIDER_CANNOT_TAKE),
					errmsg("order " INT64_FORMAT " is too long a trip for rider " INT64_FORMAT "'s %s",
						   order_id, rider_id, match_vehicle_name(r.vehicle)),
					errdetail("It runs %.0f m from pickup to drop-off; a %s takes orders of at most %.0f m (vehicle_profiles.max_trip_m).",
							  o.trip_m, match_vehicle_name(r.vehicle), s.veh_max_trip_m[r.vehicle]));
			break;
		case MATCH_PICKUP:
			ereport(ERROR,
					errcode(ERRCODE_DP_RIDER_CANNOT_TAKE),
					errmsg("rider " INT64_FORMAT " is too far from the pickup of order " INT64_FORMAT,
						   rider_id, order_id),
					errdetail("The rider is %.0f m away; a %s rides at most %.0f m to a pickup (vehicle_profiles.max_pickup_m).",
							  distance_m, match_vehicle_name(r.vehicle), s.veh_max_pickup_m[r.vehicle]));
			break;
	}

	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(opcxt);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dispatch_lock_zone);

/*
 * SQL: dispatch._lock_zone(zone_id bigint, shared boolean) -> void
 *
 * The zone's matching lock, held to the end of the transaction
 * (match_lock_zone): exclusive for assign_manually, as assign_batch takes
 * it; shared for cancel_order.
 */
Datum
dispatch_lock_zone(PG_FUNCTION_ARGS)
{
	match_lock_zone(PG_GETARG_INT64(0), PG_GETARG_BOOL(1));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dispatch_zone_setting_int);

/*
 * SQL: dispatch._zone_setting_int(zone_id bigint, name text) -> integer
 *
 * One integer column of the zone's matching settings (MATCH_ZONE_SETTINGS:
 * the zone's row, else zone 0's); NULL if the zone does not exist.
 */
Datum
dispatch_zone_setting_int(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[2];
	Datum		d = (Datum) 0;
	bool		isnull = true;
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (plan == NULL)
	{
		Oid			types[2] = {INT8OID, TEXTOID};

		plan = match_keep_plan("SELECT (pg_catalog.to_jsonb(s) OPERATOR(pg_catalog.->>) $2)::pg_catalog.int4"
							   " FROM dispatch.zones z CROSS JOIN LATERAL" MATCH_ZONE_SETTINGS " s"
							   " WHERE z.zone_id OPERATOR(pg_catalog.=) $1",
							   2, types);
	}
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	ret = SPI_execute_plan(plan, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read matching settings: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(d);
}

PG_FUNCTION_INFO_V1(dispatch_rider_index_predicate);

/*
 * SQL: dispatch._rider_index_predicate() -> text
 *
 * MATCH_RIDER_INDEXED without the table alias: the predicate that the
 * partial index riders_available_idx must have for the candidate searches
 * to use it (checked by a test).
 */
Datum
dispatch_rider_index_predicate(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(MATCH_RIDER_INDEXED_AS("")));
}
