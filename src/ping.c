/*-------------------------------------------------------------------------
 *
 * ping.c
 *		A rider's location ping: update_rider_location and
 *		update_rider_location_in_zone.
 *
 * The ping is the most frequent call of the platform (every rider, every
 * few seconds), so, like intake, it is a few statements with kept plans
 * rather than PL/pgSQL, and the form that names only the rider looks its
 * zone up itself instead of calling the other form.  A ping moves the
 * rider (unless a newer ping moved it already: the older one goes to the
 * track only) and adds the point to the rider's track; a rider with no row
 * in the zone, or one forgotten (forget_rider), is refused (_refuse_rider:
 * DP015), and so is an offline one, or a ping whose time lies in the break
 * before the rider's current shift, or before its first shift (DP029: no
 * position is recorded off shift, docs/privacy.md), nothing written.  The online check is part of
 * the update's WHERE, so an online rider's ping runs no more statements
 * than before: only a ping that moved no one reads the rider to tell why.
 * Each statement names the zone, so on Citus it reaches the zone's shard
 * only.
 *
 * IDENTIFICATION
 *		src/ping.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "dispatch.h"
#include "match.h"

static SPIPlanPtr point_plan = NULL;
static SPIPlanPtr zone_plan = NULL;
static SPIPlanPtr exists_plan = NULL;	/* prepared with the point's plans */
static SPIPlanPtr refuse_plan = NULL;
static SPIPlanPtr move_plan = NULL;
static SPIPlanPtr track_plan = NULL;

static void
prepare_plans(void)
{
	Oid			t_point[2] = {FLOAT8OID, FLOAT8OID};
	Oid			t_id[1] = {INT8OID};
	Oid			t_rider[2] = {INT8OID, INT8OID};

	if (refuse_plan != NULL)
		return;
	point_plan = match_keep_plan("SELECT dispatch._check_point($1, $2, 'rider')", 2, t_point);
	zone_plan = match_keep_plan("SELECT z.zone_id FROM dispatch.rider_zones z"
								" WHERE z.rider_id OPERATOR(pg_catalog.=) $1",
								1, t_id);
	refuse_plan = match_keep_plan("SELECT dispatch._refuse_rider($1, $2)", 2, t_rider);
}

/* the statements that take the point, of PostGIS's type point_type */
static void
prepare_point_plans(Oid point_type)
{
	Oid			t_move[4] = {INT8OID, INT8OID, point_type, TIMESTAMPTZOID};

	if (track_plan != NULL)
		return;
	/*
	 * a ping older than the known position goes to the track only; a
	 * forgotten or offline rider is not moved (and then refused after
	 * exists_plan)
	 */
	move_plan = match_keep_plan("UPDATE dispatch.riders r SET position = $3, position_at = $4"
								" WHERE r.zone_id OPERATOR(pg_catalog.=) $1"
								"   AND r.rider_id OPERATOR(pg_catalog.=) $2"
								"   AND r.forgotten_at IS NULL"
								"   AND r.status OPERATOR(pg_catalog.=) 'online'"
								"   AND (r.position_at IS NULL OR r.position_at OPERATOR(pg_catalog.<) $4)",
								4, t_move);
	track_plan = match_keep_plan("INSERT INTO dispatch.rider_tracks (zone_id, rider_id, at, position)"
								 " VALUES ($1, $2, $4, $3) ON CONFLICT DO NOTHING",
								 4, t_move);
	/*
	 * a ping older than the rider's position (or one refused) reads the
	 * rider under a share lock: an erasure or a shift's end in flight holds
	 * the row, and its end is seen, so that no track is added after it.
	 * Whether the rider is online, and whether the ping's time falls in the
	 * break before the current shift (off shift, though the rider is on
	 * one now), or before the rider's first shift (never on shift then).
	 */
	exists_plan = match_keep_plan("SELECT r.status OPERATOR(pg_catalog.=) 'online' AS online,"
								  " COALESCE(r.last_offline_at OPERATOR(pg_catalog.<) $4"
								  "          AND $4 OPERATOR(pg_catalog.<) r.online_since, false) AS in_break,"
								  " COALESCE($4 OPERATOR(pg_catalog.<) r.first_online_at, false) AS before_first"
								  " FROM dispatch.riders r"
								  " WHERE r.zone_id OPERATOR(pg_catalog.=) $1"
								  "   AND r.rider_id OPERATOR(pg_catalog.=) $2"
								  "   AND r.forgotten_at IS NULL"
								  " FOR SHARE OF r",
								  4, t_move);
}

/*
 * The ping of rider rider_id in zone zone_id (zone_null: no zone known, a
 * rider without one) at lon, lat and time at.  Arguments are the SQL
 * functions', from argument first on (lon, lat, at); the caller has
 * connected to SPI.
 */
static void
ping(FunctionCallInfo fcinfo, int first, int64 zone_id, bool zone_null,
	 Datum rider_id, bool rider_null)
{
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		isnull;
	bool		before_first;
	bool		at_null = PG_ARGISNULL(first + 2);
	TimestampTz at = at_null ? 0 : PG_GETARG_TIMESTAMPTZ(first + 2);
	Datum		point;
	Oid			point_type;

	prepare_plans();
	/* the point first, then the time */
	args[0] = PG_GETARG_DATUM(first);
	nulls[0] = PG_ARGISNULL(first) ? 'n' : ' ';
	args[1] = PG_GETARG_DATUM(first + 1);
	nulls[1] = PG_ARGISNULL(first + 1) ? 'n' : ' ';
	match_run_plan(point_plan, args, nulls, false, 1, SPI_OK_SELECT, "building the rider's point");
	point = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	point_type = SPI_gettypeid(SPI_tuptable->tupdesc, 1);

	if (at_null || TIMESTAMP_NOT_FINITE(at) || at > dispatch_clock_plus(dispatch_clock_now(), 1, 0.0))
		ereport(ERROR,
				errcode(ERRCODE_DP_PING_IN_FUTURE),
				errmsg("invalid ping time %s",
					   at_null ? "<NULL>" :
					   DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(at)))),
				errdetail("A ping may not lie more than a minute in the future."));

	prepare_point_plans(point_type);
	args[0] = Int64GetDatum(zone_id);
	nulls[0] = zone_null ? 'n' : ' ';
	args[1] = rider_id;
	nulls[1] = rider_null ? 'n' : ' ';
	args[2] = point;
	nulls[2] = ' ';
	args[3] = TimestampTzGetDatum(at);
	nulls[3] = ' ';
	match_run_plan(move_plan, args, nulls, false, 0, SPI_OK_UPDATE, "moving the rider");
	if (SPI_processed == 0)
	{
		match_run_plan(exists_plan, args, nulls, false, 1, SPI_OK_SELECT, "reading the rider");
		/* nothing was written: refused, with the rider's zone if another */
		if (SPI_processed == 0)
			match_run_plan(refuse_plan, args, nulls, false, 1, SPI_OK_SELECT, "refusing the rider");
		/* off shift: nothing is dispatched to the rider, nothing recorded */
		if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
			ereport(ERROR,
					errcode(ERRCODE_DP_RIDER_OFFLINE),
					errmsg("rider " INT64_FORMAT " is offline: no position is recorded off shift",
						   DatumGetInt64(rider_id)),
					errhint("A rider goes online with rider_online(rider_id, lon, lat) first, which records where the shift starts."));
		/* a time in the break before this shift, or before the first: off shift too */
		before_first = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		if (before_first || DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
			ereport(ERROR,
					errcode(ERRCODE_DP_RIDER_OFFLINE),
					errmsg("rider " INT64_FORMAT " was offline at %s: no position is recorded off shift",
						   DatumGetInt64(rider_id),
						   DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(at)))),
					before_first ?
					errdetail("The ping's time lies before the start of the rider's first shift.") :
					errdetail("The ping's time lies between the rider's last rider_offline and the start of the current shift."));
	}
	match_run_plan(track_plan, args, nulls, false, 0, SPI_OK_INSERT, "adding to the rider's track");
}

PG_FUNCTION_INFO_V1(dispatch_update_rider_location);

/*
 * SQL: dispatch.update_rider_location(rider_id bigint, lon float8,
 * lat float8, at timestamptz) -> void
 *
 * The rider's zone from rider_zones (a rider never changes zone), then the
 * ping there.
 */
Datum
dispatch_update_rider_location(PG_FUNCTION_ARGS)
{
	int64		zone_id = 0;
	bool		zone_null = true;

	SPI_connect();
	prepare_plans();
	if (!PG_ARGISNULL(0))
	{
		Datum		args[1] = {PG_GETARG_DATUM(0)};

		match_run_plan(zone_plan, args, NULL, false, 1, SPI_OK_SELECT, "reading the rider's zone");
		if (SPI_processed == 1)
			zone_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
												  &zone_null));
	}
	ping(fcinfo, 1, zone_id, zone_null, PG_GETARG_DATUM(0), PG_ARGISNULL(0));
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dispatch_update_rider_location_in_zone);

/*
 * SQL: dispatch.update_rider_location_in_zone(zone_id bigint,
 * rider_id bigint, lon float8, lat float8, at timestamptz) -> void
 *
 * The ping of a rider of the zone named (any other zone is refused).
 */
Datum
dispatch_update_rider_location_in_zone(PG_FUNCTION_ARGS)
{
	SPI_connect();
	ping(fcinfo, 2, PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0), PG_ARGISNULL(0),
		 PG_GETARG_DATUM(1), PG_ARGISNULL(1));
	SPI_finish();
	PG_RETURN_VOID();
}
