/*-------------------------------------------------------------------------
 *
 * match.h
 *		Candidates and costs of matching, shared by nearest_riders (match.c)
 *		and assign_batch (assign.c).
 *
 * A cost is in seconds of delay: docs/matching.md gives the model, the
 * settings (dispatch.matching_settings, dispatch.vehicle_profiles) and how
 * to tune them.  Everything here needs an open SPI connection.
 *
 * Statements reach PostGIS without looking up a function by name (the
 * schema of PostGIS may be writable by others, see
 * sql/15_dependencies.sql): coordinates through PostGIS's casts between
 * geometry and the built-in point type, and the distance operator and the
 * geometry type qualified as @postgis@.<->, @postgis@.geometry, which
 * match_keep_plan replaces with the schema PostGIS was installed in.
 * Casts and operators have no defaulted arguments, so no look-alike can
 * tie with or outmatch them.
 *
 * IDENTIFICATION
 *		src/match.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DISPATCH_MATCH_H
#define DISPATCH_MATCH_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/elog.h"
#include "utils/timestamp.h"

#include "locks.h"


#define MATCH_N_VEHICLES	5

/* their names (match.c), the one list of the vehicles a rider may use */
extern const char *const match_vehicle_names[MATCH_N_VEHICLES];

/* Two pickups this close are one (a merchant's door): an order may join a trip there. */
#define MATCH_SAME_PICKUP_M 30.0

/* A time column that is NULL (no plan, no next pickup), decoded. */
#define MATCH_NO_TIME (-1.0e12)

/* The settings of one zone, with the zone's clock facts. */
typedef struct MatchSettings
{
	int64		zone_id;
	TimestampTz now;
	TimestampTz day_start;		/* midnight of today, zone time */
	Datum		today;			/* date, zone time */
	double		speed_mps;		/* the zone's speed */
	int			k;
	double		radius_m;
	int			stale_after_s;
	int			offer_ttl_s;
	double		hold_cost;
	double		w_travel;
	double		w_rider_wait;
	double		w_food_wait;
	double		w_late;
	double		priority_hot;
	double		priority_fresh;
	double		load_penalty_s;
	double		w_fair_orders;
	double		w_fair_earnings;
	double		w_shift_hour;
	int			max_shift_minutes;
	int			max_daily_minutes;
	int			max_batch_orders;
	int			max_arcs;
	double		time_budget_ms;
	bool		use_grid;
	int			widen_rounds;	/* rounds of the widening pass (assign.c) */
	double		max_rider_wait_s;	/* longest wait for food (< 0: none) */
	double		veh_speed[MATCH_N_VEHICLES];
	double		veh_max_pickup_m[MATCH_N_VEHICLES];
	double		veh_max_trip_m[MATCH_N_VEHICLES];
} MatchSettings;

typedef struct MatchOrder
{
	int64		order_id;
	double		lon;
	double		lat;
	int			priority;		/* 0 normal, 1 hot, 2 fresh */
	double		ready_in_s;		/* food ready, from now (<= 0: ready) */
	double		promise_in_s;	/* promised delivery, from now */
	double		trip_m;			/* pickup to drop-off */
} MatchOrder;

typedef struct MatchRider
{
	int64		rider_id;
	double		lon;			/* where its next order starts (its plan's */
	double		lat;			/* end, else its position) */
	double		free_in_s;		/* its plan is done, from now (MATCH_NO_TIME: none) */
	double		free_lon;		/* where the plan ends */
	double		free_lat;
	double		join_in_s;		/* it reaches its plan's next pickup, from now */
	double		join_lon;		/* where that pickup is */
	double		join_lat;
	double		ends_in_s;		/* its shift ends, from now (1e12: unknown) */
	/* derived by match_read_rider */
	bool		planned;		/* holds orders, and a plan not yet past */
	double		busy_s;			/* until that plan is done (0: none) */
	bool		joinable;		/* the plan names a next pickup (join_*) */
	int			capacity;
	int			active;			/* assigned or carried orders */
	int			pending;		/* unanswered offers */
	int			vehicle;		/* index into the vehicle tables */
	double		age_s;			/* age of the position */
	int			orders_today;
	int64		earnings_today;	/* cents */
	double		online_today_s;
	double		shift_s;		/* length of the current continuous shift */
} MatchRider;

/* One candidate's cost and its parts (seconds of delay). */
typedef struct MatchCost
{
	double		distance_m;
	double		travel_s;
	double		rider_wait_s;
	double		food_wait_s;
	double		late_s;
	bool		joins;			/* joins the trip to the rider's next pickup */
	double		priority_factor;
	double		load_penalty;	/* of the rider's next free slot */
	double		fairness;
	double		fatigue;
	double		base;			/* everything but the load penalty */
	double		cost;			/* base + load_penalty */
} MatchCost;

/*
 * Where the columns of match_rider_select() or match_order_select() are in
 * a result, found by name once per result (match_rider_columns,
 * match_order_columns) and used to decode each of its rows.
 */
#define MATCH_MAX_COLUMNS 24
typedef struct MatchColumns
{
	TupleDesc	desc;
	int			fno[MATCH_MAX_COLUMNS];
} MatchColumns;

/*
 * Eligibility.  The rule "rider r can take order o" has one owner: the C
 * functions match_rider_can_take and match_rider_in_reach below (match.c),
 * with the zone, being online, having a position and exclusions checked
 * where the rider row is read.  Every caller goes through them:
 * nearest_riders and assign_batch (through match_cost, and the grid's
 * filter), respond_offer and assign_manually (through the SQL wrapper
 * dispatch._rider_can_take, which raises DP020 naming the reason).
 *
 * What stays in SQL is a pre-filter, so that candidates are found through
 * an index: MATCH_RIDER_AVAILABLE is the part of the rule that a rider row
 * alone decides (zone, online, a free slot, a fresh position); the C rule
 * checks all of it again.  MATCH_RIDER_INDEXED is the part that the partial
 * index riders_available_idx holds: its predicate in sql/60_matching.sql is
 * this text without "r.", and test/pgtap/63_matching_eligibility.sql checks
 * that they agree (dispatch._rider_index_predicate).
 */
#define MATCH_RIDER_INDEXED_AS(r) \
	" " r "status OPERATOR(pg_catalog.=) 'online'" \
	" AND " r "active_orders OPERATOR(pg_catalog.<) " r "capacity"
#define MATCH_RIDER_INDEXED MATCH_RIDER_INDEXED_AS("r.")

/* The slot part of the rule, for n more orders (assign_batch re-checks it under lock). */
#define MATCH_RIDER_HAS_SLOTS(n) \
	" r.active_orders OPERATOR(pg_catalog.+) r.pending_offers" \
	" OPERATOR(pg_catalog.+) " n " OPERATOR(pg_catalog.<=) r.capacity"

/* Parameters as match_rider_params sets them: $1 zone, $5 oldest position time. */
#define MATCH_RIDER_AVAILABLE \
	" r.zone_id OPERATOR(pg_catalog.=) $1 AND" MATCH_RIDER_INDEXED \
	" AND" MATCH_RIDER_HAS_SLOTS("1") \
	" AND r.position IS NOT NULL" \
	" AND r.position_at OPERATOR(pg_catalog.>=) $5"

/* Why a rider cannot take an order (MATCH_OK: it can). */
typedef enum MatchRefusal
{
	MATCH_OK = 0,
	MATCH_FULL,					/* no free slot */
	MATCH_STALE,				/* position older than stale_after_s */
	MATCH_SHIFT,				/* on shift longer than max_shift_minutes */
	MATCH_DAILY,				/* online longer than max_daily_minutes today */
	MATCH_TRIP,					/* order longer than the vehicle's max_trip_m */
	MATCH_PICKUP				/* pickup beyond the vehicle's max_pickup_m */
} MatchRefusal;

extern bool match_catalog_is_010(void);
extern void match_load_settings(int64 zone_id, MatchSettings *s);
extern void match_rider_params(const MatchSettings *s, Datum *values);
extern const char *match_rider_select(void);
extern const char *match_order_select(void);
extern void match_rider_columns(TupleDesc desc, MatchColumns *cols);
extern void match_order_columns(TupleDesc desc, MatchColumns *cols);
extern void match_read_rider(HeapTuple tup, const MatchColumns *cols, MatchRider *r);
extern void match_read_order(HeapTuple tup, const MatchColumns *cols, MatchOrder *o);
extern SPIPlanPtr match_keep_plan(const char *sql, int nargs, Oid *types);
extern void match_run_plan(SPIPlanPtr plan, Datum *args, const char *nulls, bool read_only,
						   long count, int expected, const char *what);
extern void match_run_plan_after_lock(SPIPlanPtr plan, Datum *args, bool read_only, long count,
									  const char *what);
extern MatchRefusal match_rider_can_take(const MatchSettings *s,
										 const MatchOrder *o,
										 const MatchRider *r,
										 bool count_offers);
extern MatchRefusal match_rider_in_reach(const MatchSettings *s,
										 const MatchRider *r,
										 double distance_m);
extern double match_distance(const MatchOrder *o, const MatchRider *r, bool *joins);
extern void match_lock_zone(int64 zone_id, bool shared);
extern double match_hold_cost(const MatchSettings *s, const MatchOrder *o);
extern bool match_cost(const MatchSettings *s, const MatchOrder *o,
					   const MatchRider *r, double avg_orders,
					   double avg_earnings, MatchCost *c);
extern double match_slot_penalty(const MatchSettings *s, const MatchRider *r,
								 int k);
extern void match_cost_json(StringInfo buf, int64 rider_id,
							const MatchCost *c);
extern const char *match_vehicle_name(int vehicle);

#endif							/* DISPATCH_MATCH_H */
