/*-------------------------------------------------------------------------
 *
 * assign.c
 *		dispatch.assign_batch(zone_id): one dispatch round for a zone.
 *
 * Steps: lock the zone; expire overdue offers (the order goes back, the
 * rider is excluded for it); lock the zone's dispatchable orders (accepted,
 * no pending offer; FOR UPDATE SKIP LOCKED, so an order being cancelled or
 * assigned by hand right now waits for the next round); find each order's
 * k nearest eligible riders; cost every candidate pair; solve the minimum
 * cost assignment of orders to free rider slots exactly (assign_solver.c),
 * or past the size or time budget by the regret heuristic; widen the
 * candidates of orders the pruning stranded and solve again (below); take
 * the chosen riders' slots (re-checked under row lock); write the offers,
 * their audit rows and the batch row; emit one 'offer' event per offer.
 * dispatch_assign_batch is that list: batch_begin (lock, settings,
 * expiry), batch_gather (orders, exclusions, candidates, costs),
 * batch_solve (instance, solve, widen), take_slots, plan_offers,
 * write_offers, write_audit (one INSERT for all offers), emit_events and
 * record_batch.
 *
 * Candidates come from one of two sources (matching_settings.
 * candidate_source): 'grid' reads every available rider of the zone once
 * and buckets them in an in-memory uniform grid; 'index' asks the partial
 * GiST index once per order.  docs/matching.md has the measurements.
 *
 * Widening.  Keeping only each order's k nearest riders can strand an
 * order: all its candidates go to other orders while a rider a little
 * farther stays idle.  After an exact solve, the held orders with a taken
 * candidate (or none left by the hard limits) and the orders on the riders
 * they compete for, if their fetch was full (more riders may exist), fetch
 * k x 4, then k x 16, then k x 64 candidates (at most 1000),
 * only the new pairs are costed (with the fairness means of the first
 * pass, so costs stay comparable), and the enlarged graph is solved again
 * exactly in what is left of the solver's time budget.  A re-solve that is
 * not exact is dropped, with the new arcs, for the previous exact solution.
 *
 * Locking: a transaction-scoped advisory lock per zone serialises batches
 * of one zone, so two batches never offer one rider's slot or one order
 * twice; row locks on orders and riders guard against the other writers
 * (respond_offer, cancel_order, assign_manually, rider_offline).  Order of
 * locks as everywhere in matching: zone, riders, offers, orders; the
 * orders locked here have no pending offer, so respond_offer never waits
 * for them.
 *
 * Memory: one context per call, deleted at the end; the solver allocates
 * in it.
 *
 * IDENTIFICATION
 *		src/assign.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "assign_grid.h"
#include "assign_solver.h"
#include "dispatch.h"
#include "match.h"

/* Rider rows read per cursor fetch. */
#define ASSIGN_FETCH_CHUNK	10000

/*
 * Largest arc cost or slot penalty given to the solver: far below
 * AS_COST_MAX, so that sums along a path cannot overflow its checks.
 */
#define ASSIGN_COST_CLAMP	1.0e8

/* Most candidates fetched for one pickup or order. */
#define ASSIGN_MAX_WANT		1000

/*
 * Each widening round (at most matching_settings.widen_rounds) multiplies
 * an order's k by ASSIGN_WIDEN_FACTOR.
 */
#define ASSIGN_WIDEN_FACTOR	4

/* The parts of a candidate's cost in offer_audit.candidate_parts. */
#define ASSIGN_AUDIT_PARTS	10

/* Orders or arcs handled between two interrupt checks in a long loop. */
#define ASSIGN_CHECK_EVERY	1024

static SPIPlanPtr lock_riders_plan = NULL;
static SPIPlanPtr expire_plan = NULL;
static SPIPlanPtr orders_plan = NULL;
static SPIPlanPtr all_riders_plan = NULL;
static SPIPlanPtr knn_plan = NULL;
static SPIPlanPtr knn_ties_plan = NULL;
static SPIPlanPtr held_plan = NULL;
static SPIPlanPtr riders_by_id_plan = NULL;
static SPIPlanPtr exclusions_plan = NULL;
static SPIPlanPtr take_slots_plan = NULL;
static SPIPlanPtr lock_chosen_plan = NULL;
static SPIPlanPtr offers_plan = NULL;
static SPIPlanPtr audit_plan = NULL;
static SPIPlanPtr batch_plan = NULL;
static SPIPlanPtr batch_id_plan = NULL;

/* An order's candidate: rider index and the pair's cost. */
typedef struct Arc
{
	int			order;
	int			rider;
	MatchCost	c;
} Arc;

/* Everything one call works on. */
typedef struct Batch
{
	MemoryContext cxt;
	MatchSettings s;
	MatchOrder *orders;
	int			n_orders;
	MatchRider *riders;
	int			n_riders;
	int			cap_riders;
	Arc		   *arcs;
	int			n_arcs;
	int			cap_arcs;
	int64	   *excl;			/* sorted pairs (order id, rider id) */
	int			n_excl;
	int		   *n_excl_of;		/* per order: riders excluded for it */
	int			cur_order;		/* for the grid's accept callback */
	HTAB	   *rider_index;	/* rider id -> index ('index' source) */
	AsGrid	   *grid;			/* the riders, projected ('grid' source) */
	double		lon0,			/* projection centre ('grid' source) */
				lat0;
	bool		joining_read;	/* candidates_joining has read its riders */
	int		   *joining;		/* riders whose plan's next pickup is a */
	int			n_joining;		/* selected order's ('index' source), or */
								/* whose plan names one ('grid' source) */
	AsGrid	   *join_grid;		/* their next pickups ('grid' source) */
	int		   *order_k;		/* per order: candidates kept */
	bool	   *more;			/* per order: its last fetch was full */
	double	   *hold;			/* per order: cost of waiting */
	bool		have_means;		/* the fairness means below are set */
	double		avg_orders;		/* today's means over the riders of the */
	double		avg_earnings;	/* first pass */
	int			widen_rounds;	/* for DEBUG1 */
	int			widened;
	TimestampTz t0;				/* the call's start */
	TimestampTz tp;				/* the last phase's end (DEBUG1) */
	const char *method;			/* how the batch was solved */
	int64	   *ok_riders;		/* riders that kept the slots, sorted */
	int			n_ok;
	int		   *arc_start;		/* per order: its first arc (arc_starts) */
	int64		batch_id;
} Batch;

/* One solver run: its instance, options and solution. */
typedef struct Solve
{
	AsInstance	inst;
	AsOptions	opt;
	AsAllocator alloc;
	AsStats		st;
	int		   *row_rider;
	int		   *row_slot;
	int			rc;
} Solve;

/* The distinct pickup points of a candidates_index call. */
typedef struct Pickups
{
	int			np;
	double	   *lon;
	double	   *lat;
	int32	   *want;			/* riders to fetch there */
	int		   *of_order;		/* per order (selected ones): its pickup */
	int		   *rider;			/* riders fetched, grouped by pickup */
	int		   *got;			/* per pickup: how many of them */
	bool	   *full;			/* per pickup: more riders lie beyond */
} Pickups;

/* The offers of a batch, by ascending order id. */
typedef struct Offers
{
	int			n;
	int64	   *order_id;
	int64	   *rider_id;
	double	   *cost;
	int		   *row;			/* the order's index in the batch */
	int64	   *offer_id;
} Offers;

typedef struct RiderSlot
{
	int64		rider_id;
	int			index;
} RiderSlot;

static void prepare_plans(void);
static void phase(Batch *b, const char *name);
static int64 get_int8(SPITupleTable *tt, uint64 row, const char *name);
static void *solver_alloc(void *ctx, size_t size);
static void solver_free(void *ctx, void *ptr);
static double solver_now_ms(void *ctx);
static int	solver_check(void *ctx);
static void add_arc(Batch *b, int order, int rider, const MatchCost *c);
static int	add_rider(Batch *b, const MatchRider *r);
static void expire_offers(Batch *b);
static void read_orders(Batch *b);
static void read_exclusions(Batch *b);
static bool is_excluded(const Batch *b, int64 order_id, int64 rider_id);
static int	grid_accept(void *ctx, int idx);
static void read_all_riders(Batch *b);
static void candidates_grid(Batch *b, const int *sel, int nsel, int k);
static void candidates_index(Batch *b, const int *sel, int nsel, int k);
static void pickups_group(Batch *b, const int *sel, int nsel, int k, Pickups *p);
static int *pickups_fetch(Batch *b, Pickups *p);
static int	batch_rider(Batch *b, HeapTuple tuple, const MatchColumns *cols);
static void candidates_joining(Batch *b, const int *sel, int nsel, const Pickups *p);
static void pickups_hand_out(Batch *b, const int *sel, int nsel,
							 const Pickups *p, const int *start);
static void candidates(Batch *b, const int *sel, int nsel, int k);
static void cost_arcs(Batch *b, int from);
static void build_instance(Batch *b, Solve *sv);
static void solve(Batch *b, Solve *sv, double budget_ms);
static int	widen_selection(const Batch *b, const Solve *sv, int *sel);
static void widen(Batch *b, Solve *sv, double solved_ms);
static int	cmp_pair(const void *a, const void *b);
static int	cmp_pickup(const void *a, const void *b, void *arg);
static int	cmp_arc(const void *a, const void *b, void *arg);
static int	cmp_int64(const void *a, const void *b);
static Datum float8_array(const double *v, int n);
static int *arc_starts(const Batch *b);
static void batch_begin(Batch *b, int64 zone_id);
static bool batch_gather(Batch *b);
static void batch_solve(Batch *b, Solve *sv);
static void take_slots(Batch *b, const Solve *sv);
static void plan_offers(Batch *b, const Solve *sv, Offers *of);
static int64 new_batch_id(Batch *b);
static void write_offers(Batch *b, Offers *of);
static void write_audit(Batch *b, const Solve *sv, const Offers *of);
static void emit_events(Batch *b, const Offers *of, ReturnSetInfo *rsinfo);
static void record_batch(Batch *b, const Solve *sv, const Offers *of);

/* The statements of a batch, planned once per backend. */
static void
prepare_plans(void)
{
	Oid			t_zone_now[2] = {INT8OID, TIMESTAMPTZOID};
	Oid			t_orders[3] = {INT8OID, TIMESTAMPTZOID, INT4OID};
	Oid			t_riders[5] = {INT8OID, TIMESTAMPTZOID, DATEOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};
	Oid			t_knn[8] = {INT8OID, TIMESTAMPTZOID, DATEOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, INT4ARRAYOID};
	Oid			t_ties[9] = {INT8OID, TIMESTAMPTZOID, DATEOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, INT4ARRAYOID};
	Oid			t_excl[2] = {INT8OID, INT8ARRAYOID};
	Oid			t_by_id[6] = {INT8OID, TIMESTAMPTZOID, DATEOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, INT8ARRAYOID};
	Oid			t_zone[1] = {INT8OID};
	Oid			t_take[3] = {INT8ARRAYOID, INT4ARRAYOID, INT8OID};
	Oid			t_offers[7] = {INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	INT8ARRAYOID, INT8ARRAYOID, FLOAT8ARRAYOID};
	Oid			t_audit[10] = {INT8OID, INT8OID, TEXTOID, INT8ARRAYOID, INT8ARRAYOID,
	INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT8ARRAYOID, FLOAT4ARRAYOID};
	Oid			t_batch[11] = {INT8OID, INT8OID, TIMESTAMPTZOID, INT4OID, INT4OID,
	INT4OID, INT4OID, INT4OID, TEXTOID, FLOAT8OID, FLOAT8OID};

	if (batch_plan != NULL)
		return;

	lock_riders_plan = match_keep_plan(
								 "SELECT r.rider_id FROM dispatch.riders r"
								 " WHERE r.zone_id OPERATOR(pg_catalog.=) $1"
								 " AND r.rider_id IN (SELECT f.rider_id FROM dispatch.offers f"
								 "   WHERE f.zone_id OPERATOR(pg_catalog.=) $1"
								 "   AND f.status OPERATOR(pg_catalog.=) 'pending'"
								 "   AND f.expires_at OPERATOR(pg_catalog.<=) $2)"
								 " ORDER BY r.rider_id FOR UPDATE OF r",
								 2, t_zone_now);
	expire_plan = match_keep_plan(
							"WITH x AS ("
							"  UPDATE dispatch.offers f SET status = 'expired', responded_at = $2"
							"   WHERE f.zone_id OPERATOR(pg_catalog.=) $1"
							"   AND f.status OPERATOR(pg_catalog.=) 'pending'"
							"   AND f.expires_at OPERATOR(pg_catalog.<=) $2"
							"  RETURNING f.offer_id, f.order_id, f.rider_id),"
							" e AS ("
							"  INSERT INTO dispatch.offer_exclusions (zone_id, order_id, rider_id, at, reason)"
							"  SELECT $1, x.order_id, x.rider_id, $2, 'expired' FROM x"
							"  ON CONFLICT DO NOTHING),"
							" u AS ("
							"  UPDATE dispatch.riders r"
							"   SET pending_offers = GREATEST(r.pending_offers OPERATOR(pg_catalog.-) g.n, 0)"
							"  FROM (SELECT x.rider_id, pg_catalog.count(*)::pg_catalog.int4 AS n"
							"        FROM x GROUP BY x.rider_id) g"
							"  WHERE r.zone_id OPERATOR(pg_catalog.=) $1 AND r.rider_id OPERATOR(pg_catalog.=) g.rider_id)"
							" SELECT x.offer_id, x.order_id, x.rider_id FROM x ORDER BY x.offer_id",
							2, t_zone_now);
	orders_plan = match_keep_plan(psprintf(
										   "SELECT %s"
										   " FROM dispatch.orders o"
										   " WHERE o.zone_id OPERATOR(pg_catalog.=) $1"
										   " AND o.status OPERATOR(pg_catalog.=) 'accepted'"
										   " AND NOT EXISTS (SELECT FROM dispatch.offers f"
										   "   WHERE f.zone_id OPERATOR(pg_catalog.=) $1"
										   "   AND f.order_id OPERATOR(pg_catalog.=) o.order_id"
										   "   AND f.status OPERATOR(pg_catalog.=) 'pending')"
										   " ORDER BY o.order_id LIMIT $3"
										   " FOR UPDATE OF o SKIP LOCKED",
										   match_order_select()),
								  3, t_orders);
	all_riders_plan = match_keep_plan(psprintf(
											   "SELECT %s"
											   " FROM dispatch.riders r WHERE" MATCH_RIDER_AVAILABLE,
											   match_rider_select()),
									  5, t_riders);
	/*
	 * One nearest-neighbour scan per distinct pickup, all in one statement,
	 * each one rider past what it wants (to see whether riders lie beyond,
	 * and whether that one is as near as the last one wanted).
	 */
	knn_plan = match_keep_plan(psprintf(
										"SELECT %s, p.i AS pickup, r.knn_d"
										" FROM ROWS FROM (pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8))"
										"   WITH ORDINALITY AS p(lon, lat, want, i)"
										" CROSS JOIN LATERAL (SELECT r.*, r.position OPERATOR(@postgis@.<->)"
										"     pg_catalog.point(p.lon, p.lat)::@postgis@.geometry(Point, 4326) AS knn_d"
										"   FROM dispatch.riders r WHERE" MATCH_RIDER_AVAILABLE
										"   ORDER BY knn_d LIMIT p.want OPERATOR(pg_catalog.+) 1) r",
										match_rider_select()),
							   8, t_knn);
	/*
	 * For each pickup where a scan stopped among riders at one distance
	 * ($8: that distance, in degrees as the scan measures; $9: the places
	 * left), the riders at exactly that distance, lowest ids first: the
	 * scan took those its index walk met first, which follows where their
	 * rows happen to lie.  All such pickups in one statement.
	 */
	knn_ties_plan = match_keep_plan(psprintf(
											 "SELECT %s, t.i AS pickup"
											 " FROM ROWS FROM (pg_catalog.unnest($6), pg_catalog.unnest($7),"
											 "                 pg_catalog.unnest($8), pg_catalog.unnest($9))"
											 "   WITH ORDINALITY AS t(lon, lat, d, places, i)"
											 " CROSS JOIN LATERAL (SELECT r.* FROM dispatch.riders r WHERE" MATCH_RIDER_AVAILABLE
											 "   AND r.position OPERATOR(@postgis@.&&) @postgis@.st_expand("
											 "     pg_catalog.point(t.lon, t.lat)::@postgis@.geometry(Point, 4326),"
											 "     t.d OPERATOR(pg_catalog.*) 1.000001 OPERATOR(pg_catalog.+) 1e-9)"
											 "   AND (r.position OPERATOR(@postgis@.<->)"
											 "     pg_catalog.point(t.lon, t.lat)::@postgis@.geometry(Point, 4326))"
											 "     OPERATOR(pg_catalog.=) t.d"
											 "   ORDER BY r.rider_id LIMIT t.places) r"
											 " ORDER BY t.i, r.rider_id",
											 match_rider_select()),
									9, t_ties);
	/*
	 * The riders whose plan names a next pickup, with that pickup, found
	 * among the riders holding orders (a next pickup lasts no longer), their
	 * ids first (the index of riders' open orders), then their rows by key
	 * (as a semi-join the planner may walk every rider of the zone), and
	 * available riders read by id: the riders
	 * whose plan may name a selected order's pickup as its next
	 * (candidates_joining).  A 0.1.0 catalog has no plans: none.
	 */
	if (!match_catalog_is_010())
		held_plan = match_keep_plan(
								"SELECT r.rider_id, (r.plan_pickup_position::pg_catalog.point)[0] AS lon,"
								" (r.plan_pickup_position::pg_catalog.point)[1] AS lat"
								" FROM dispatch.riders r"
								" WHERE r.zone_id OPERATOR(pg_catalog.=) $1"
								" AND r.plan_pickup_position IS NOT NULL"
								" AND r.rider_id OPERATOR(pg_catalog.=) ANY (ARRAY("
								"   SELECT o.rider_id FROM dispatch.orders o"
								"   WHERE o.zone_id OPERATOR(pg_catalog.=) $1"
								"   AND o.status IN ('assigned', 'picked_up')))",
								1, t_zone);
	riders_by_id_plan = match_keep_plan(psprintf(
												 "SELECT %s FROM dispatch.riders r WHERE" MATCH_RIDER_AVAILABLE
												 " AND r.rider_id OPERATOR(pg_catalog.=) ANY ($6)"
												 " ORDER BY r.rider_id",
												 match_rider_select()),
										6, t_by_id);
	exclusions_plan = match_keep_plan(
								"SELECT e.order_id, e.rider_id FROM dispatch.offer_exclusions e"
								" WHERE e.zone_id OPERATOR(pg_catalog.=) $1"
								" AND e.order_id OPERATOR(pg_catalog.=) ANY ($2)",
								2, t_excl);
	/*
	 * the chosen riders' rows locked in rider id order first (the order of
	 * locks of docs/matching.md: an UPDATE joined to the list locks rows in
	 * whatever order its plan meets them), then each re-checked under lock
	 */
	lock_chosen_plan = match_keep_plan(
								"SELECT FROM dispatch.riders r"
								" WHERE r.zone_id OPERATOR(pg_catalog.=) $3"
								" AND r.rider_id OPERATOR(pg_catalog.=) ANY ($1)"
								" ORDER BY r.rider_id FOR UPDATE OF r",
								3, t_take);
	take_slots_plan = match_keep_plan(
								"UPDATE dispatch.riders r"
								" SET pending_offers = r.pending_offers OPERATOR(pg_catalog.+) u.n"
								" FROM (SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS t(rider_id, n)"
								"       ORDER BY 1) u"
								" WHERE r.rider_id OPERATOR(pg_catalog.=) u.rider_id"
								" AND r.zone_id OPERATOR(pg_catalog.=) $3"
								" AND r.status OPERATOR(pg_catalog.=) 'online'"
								" AND" MATCH_RIDER_HAS_SLOTS("u.n")
								" RETURNING r.rider_id",
								3, t_take);
	offers_plan = match_keep_plan(
							"INSERT INTO dispatch.offers"
							" (zone_id, offer_id, order_id, rider_id, batch_id, status, cost, created_at, expires_at)"
							" SELECT $1, dispatch.zone_scoped_id($1, pg_catalog.nextval('dispatch.offers_id_seq')),"
							"  u.order_id, u.rider_id, $2, 'pending', u.cost, $3, $4"
							" FROM ROWS FROM (pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7))"
							"  AS u(order_id, rider_id, cost)"
							" RETURNING order_id, offer_id",
							7, t_offers);
	/* all offers' audit rows; each slices its candidates out of $9, $10 */
	audit_plan = match_keep_plan(
						   "INSERT INTO dispatch.offer_audit"
						   " (zone_id, offer_id, order_id, batch_id, method, chosen_rider,"
						   "  candidate_ids, candidate_parts)"
						   " SELECT $1, u.offer_id, u.order_id, $2, $3, u.rider_id,"
						   "  $9[u.first:u.last], $10[u.first:u.last][1:10]"
						   " FROM ROWS FROM (pg_catalog.unnest($4), pg_catalog.unnest($5),"
						   "  pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8))"
						   "  WITH ORDINALITY AS u(offer_id, order_id, rider_id, first, last, j)"
						   " ORDER BY u.j",
						   10, t_audit);
	batch_id_plan = match_keep_plan(
							   "SELECT dispatch.zone_scoped_id($1,"
							   " pg_catalog.nextval('dispatch.assign_batches_id_seq')) AS batch_id",
							   1, t_batch);
	batch_plan = match_keep_plan(
						   "INSERT INTO dispatch.assign_batches"
						   " (zone_id, batch_id, at, orders, riders, arcs, offers, held, method,"
						   "  total_cost, elapsed_ms)"
						   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
						   11, t_batch);
}

/* Report a phase's duration at DEBUG1 (for tuning; docs/matching.md). */
static void
phase(Batch *b, const char *name)
{
	TimestampTz now = GetCurrentTimestamp();

	ereport(DEBUG1,
			errmsg_internal("assign_batch %s: %.2f ms", name, (double) (now - b->tp) / 1000.0));
	b->tp = now;
}

/* A non-null bigint column of an SPI result's row, by name. */
static int64
get_int8(SPITupleTable *tt, uint64 row, const char *name)
{
	int			fno = dispatch_column_number(tt->tupdesc, name);
	bool		isnull;
	Datum		d;

	Assert(row < tt->numvals);
	d = SPI_getbinval(tt->vals[row], tt->tupdesc, fno, &isnull);
	if (isnull)
		elog(ERROR, "column \"%s\" is null", name);
	return DatumGetInt64(d);
}

/* Solver allocations: huge-capable, NULL on failure, in the batch context. */
static void *
solver_alloc(void *ctx, size_t size)
{
	return MemoryContextAllocExtended((MemoryContext) ctx, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void
solver_free(void *ctx, void *ptr)
{
	pfree(ptr);
}

static double
solver_now_ms(void *ctx)
{
	return (double) GetCurrentTimestamp() / 1000.0;
}

/*
 * The solver's interrupt hook: statement_timeout and query cancel stop a
 * long solve here.  CHECK_FOR_INTERRUPTS() raises the error by longjmp
 * straight out of the solver; that is safe because the solver holds
 * nothing but memory, all of it from solver_alloc in the batch's memory
 * context, which the error's cleanup deletes with its parent.
 */
static int
solver_check(void *ctx)
{
	CHECK_FOR_INTERRUPTS();
	return 0;
}

static void
add_arc(Batch *b, int order, int rider, const MatchCost *c)
{
	if (b->n_arcs == b->cap_arcs)
	{
		b->cap_arcs = b->cap_arcs ? 2 * b->cap_arcs : 4096;
		b->arcs = b->arcs ? repalloc_huge(b->arcs, sizeof(Arc) * b->cap_arcs)
			: MemoryContextAllocHuge(b->cxt, sizeof(Arc) * b->cap_arcs);
	}
	b->arcs[b->n_arcs].order = order;
	b->arcs[b->n_arcs].rider = rider;
	if (c)
		b->arcs[b->n_arcs].c = *c;
	b->n_arcs++;
}

static int
add_rider(Batch *b, const MatchRider *r)
{
	if (b->n_riders == b->cap_riders)
	{
		b->cap_riders = b->cap_riders ? 2 * b->cap_riders : 4096;
		b->riders = b->riders ? repalloc_huge(b->riders, sizeof(MatchRider) * b->cap_riders)
			: MemoryContextAllocHuge(b->cxt, sizeof(MatchRider) * b->cap_riders);
	}
	b->riders[b->n_riders] = *r;
	return b->n_riders++;
}

/*
 * Offers past their expiry: the order goes back, the rider is excluded for
 * it and gets the slot back; the rider hears it as an 'offer' event.
 */
static void
expire_offers(Batch *b)
{
	Datum		values[2];
	int			ret;
	uint64		i;

	values[0] = Int64GetDatum(b->s.zone_id);
	values[1] = TimestampTzGetDatum(b->s.now);
	ret = SPI_execute_plan(lock_riders_plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not lock riders of expired offers: %s", SPI_result_code_string(ret));
	/* no rider has an offer due: none expires (the zone's lock keeps new ones out) */
	if (SPI_processed == 0)
		return;
	ret = SPI_execute_plan(expire_plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not expire offers: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return;
	{
		SPITupleTable *tt = SPI_tuptable;
		uint64		n = SPI_processed;

		for (i = 0; i < n; i++)
		{
			int64		offer_id = get_int8(tt, i, "offer_id");
			int64		order_id = get_int8(tt, i, "order_id");
			int64		rider_id = get_int8(tt, i, "rider_id");
			char		payload[96];

			snprintf(payload, sizeof(payload),
					 "{\"offer_id\":" INT64_FORMAT ",\"status\":\"expired\"}", offer_id);
			dispatch_event_append(b->s.zone_id, "offer", order_id, 0, rider_id, payload);
		}
	}
}

/* The zone's dispatchable orders, locked, oldest id first. */
static void
read_orders(Batch *b)
{
	MatchColumns cols;
	Datum		values[3];
	int			ret;
	uint64		i;

	values[0] = Int64GetDatum(b->s.zone_id);
	values[1] = TimestampTzGetDatum(b->s.now);
	values[2] = Int32GetDatum(b->s.max_batch_orders);
	ret = SPI_execute_plan(orders_plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read dispatchable orders: %s", SPI_result_code_string(ret));
	b->n_orders = (int) SPI_processed;
	b->orders = MemoryContextAllocHuge(b->cxt, sizeof(MatchOrder) * Max(b->n_orders, 1));
	match_order_columns(SPI_tuptable->tupdesc, &cols);
	for (i = 0; i < SPI_processed; i++)
	{
		match_read_order(SPI_tuptable->vals[i], &cols, &b->orders[i]);
		/* read_exclusions and the offers' ids rely on this order */
		Assert(i == 0 || b->orders[i - 1].order_id < b->orders[i].order_id);
	}
	SPI_freetuptable(SPI_tuptable);
}

static int
cmp_pair(const void *a, const void *b)
{
	const int64 *x = a;
	const int64 *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : (x[1] > y[1]);
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : (x > y);
}

/* Orders by pickup point (then index): orders of one merchant together. */
static int
cmp_pickup(const void *a, const void *b, void *arg)
{
	const Batch *bt = arg;
	const MatchOrder *x = &bt->orders[*(const int *) a];
	const MatchOrder *y = &bt->orders[*(const int *) b];

	if (x->lon != y->lon)
		return x->lon < y->lon ? -1 : 1;
	if (x->lat != y->lat)
		return x->lat < y->lat ? -1 : 1;
	return *(const int *) a - *(const int *) b;
}

/* Arcs by order, then distance, then rider id. */
static int
cmp_arc(const void *a, const void *b, void *arg)
{
	const Batch *bt = arg;
	const Arc  *x = a;
	const Arc  *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	if (x->c.distance_m != y->c.distance_m)
		return x->c.distance_m < y->c.distance_m ? -1 : 1;
	return bt->riders[x->rider].rider_id < bt->riders[y->rider].rider_id ? -1 :
		(bt->riders[x->rider].rider_id > bt->riders[y->rider].rider_id);
}

/*
 * Riders excluded for the batch's orders, as sorted (order, rider) pairs,
 * and how many each order has.
 */
static void
read_exclusions(Batch *b)
{
	int64	   *ids = palloc(sizeof(int64) * Max(b->n_orders, 1));
	Datum		values[2];
	int			ret,
				i;

	for (i = 0; i < b->n_orders; i++)
		ids[i] = b->orders[i].order_id;
	values[0] = Int64GetDatum(b->s.zone_id);
	values[1] = dispatch_int8_array(ids, b->n_orders);
	ret = SPI_execute_plan(exclusions_plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read exclusions: %s", SPI_result_code_string(ret));
	b->n_excl = (int) SPI_processed;
	b->excl = MemoryContextAllocHuge(b->cxt, sizeof(int64) * 2 * Max(b->n_excl, 1));
	for (i = 0; i < b->n_excl; i++)
	{
		b->excl[2 * i] = get_int8(SPI_tuptable, i, "order_id");
		b->excl[2 * i + 1] = get_int8(SPI_tuptable, i, "rider_id");
	}
	qsort(b->excl, b->n_excl, 2 * sizeof(int64), cmp_pair);
	SPI_freetuptable(SPI_tuptable);

	/* per order; orders are sorted by id */
	b->n_excl_of = palloc0(sizeof(int) * Max(b->n_orders, 1));
	for (i = 0; i < b->n_excl; i++)
	{
		int			lo = 0,
					hi = b->n_orders - 1;

		while (lo < hi)
		{
			int			mid = (lo + hi) / 2;

			if (b->orders[mid].order_id < b->excl[2 * i])
				lo = mid + 1;
			else
				hi = mid;
		}
		if (b->n_orders > 0 && b->orders[lo].order_id == b->excl[2 * i])
			b->n_excl_of[lo]++;
	}
}

static bool
is_excluded(const Batch *b, int64 order_id, int64 rider_id)
{
	int64		key[2] = {order_id, rider_id};

	return b->n_excl > 0 &&
		bsearch(key, b->excl, b->n_excl, 2 * sizeof(int64), cmp_pair) != NULL;
}

/*
 * Grid filter: not excluded for the current order, and eligible but for
 * the distance (match.h, "Eligibility"; cost_arcs checks the rest).
 */
static int
grid_accept(void *ctx, int idx)
{
	Batch	   *b = ctx;
	const MatchRider *r = &b->riders[idx];
	const MatchOrder *o = &b->orders[b->cur_order];

	if (match_rider_can_take(&b->s, o, r, true) != MATCH_OK)
		return 0;
	return !is_excluded(b, o->order_id, r->rider_id);
}

/*
 * 'grid' source, once per batch: read every available rider of the zone (a
 * cursor, in chunks), keep those within the radius of the orders' box,
 * project them around the orders' centroid and bucket them in a uniform
 * grid.  The riders whose plan names a next pickup are kept wherever they
 * are (an order of that pickup joins their trip, candidates_joining), and
 * their next pickups bucketed in a grid of their own.
 */
static void
read_all_riders(Batch *b)
{
	Datum		values[5];
	MatchColumns cols;
	Portal		portal;
	AsAllocator alloc = {solver_alloc, solver_free, b->cxt};
	double	   *x = NULL,
			   *y = NULL;
	int			cap_xy = 0;
	double		x0 = 0,
				x1 = 0,
				y0 = 0,
				y1 = 0;
	long long  *tie;
	MatchRider *far = NULL;		/* joinable riders outside the box */
	int			n_far = 0,
				cap_far = 0;
	int			i;

	/*
	 * Read-write, so the cursor takes a fresh snapshot: it must see the
	 * slots freed by expire_offers() and the offers of a batch this one
	 * waited for on the zone lock.
	 */
	/*
	 * The orders' centroid, and the box of their pickups grown by the
	 * radius (projected around it): a rider outside it is farther than the
	 * radius from every order, never a candidate, and is not added, so
	 * that one position far from the zone (a fix at 0, 0) cannot stretch
	 * the grid's cells over the whole box and make every search slow.
	 */
	for (i = 0; i < b->n_orders; i++)
	{
		b->lon0 += b->orders[i].lon;
		b->lat0 += b->orders[i].lat;
	}
	b->lon0 /= Max(b->n_orders, 1);
	b->lat0 /= Max(b->n_orders, 1);
	for (i = 0; i < b->n_orders; i++)
	{
		double		ox,
					oy;

		as_project(b->lon0, b->lat0, b->orders[i].lon, b->orders[i].lat, &ox, &oy);
		if (i == 0 || ox < x0)
			x0 = ox;
		if (i == 0 || ox > x1)
			x1 = ox;
		if (i == 0 || oy < y0)
			y0 = oy;
		if (i == 0 || oy > y1)
			y1 = oy;
	}
	x0 -= b->s.radius_m;
	x1 += b->s.radius_m;
	y0 -= b->s.radius_m;
	y1 += b->s.radius_m;

	match_rider_params(&b->s, values);
	portal = SPI_cursor_open(NULL, all_riders_plan, values, NULL, false);
	for (;;)
	{
		uint64		n;

		SPI_cursor_fetch(portal, true, ASSIGN_FETCH_CHUNK);
		n = SPI_processed;
		if (n > 0)
			match_rider_columns(SPI_tuptable->tupdesc, &cols);
		for (i = 0; (uint64) i < n; i++)
		{
			MatchRider	r;
			double		rx,
						ry;

			match_read_rider(SPI_tuptable->vals[i], &cols, &r);
			as_project(b->lon0, b->lat0, r.lon, r.lat, &rx, &ry);
			if (rx >= x0 && rx <= x1 && ry >= y0 && ry <= y1)
			{
				int			k = add_rider(b, &r);

				/* the grid's points, projected once */
				if (k >= cap_xy)
				{
					cap_xy = Max(2 * cap_xy, k + 4096);
					x = x ? repalloc_huge(x, sizeof(double) * cap_xy)
						: MemoryContextAllocHuge(b->cxt, sizeof(double) * cap_xy);
					y = y ? repalloc_huge(y, sizeof(double) * cap_xy)
						: MemoryContextAllocHuge(b->cxt, sizeof(double) * cap_xy);
				}
				x[k] = rx;
				y[k] = ry;
			}
			else if (r.joinable)
			{
				/* added after the grid is built, so not among its points */
				if (n_far == cap_far)
				{
					cap_far = Max(2 * cap_far, 64);
					far = far ? repalloc_huge(far, sizeof(MatchRider) * cap_far)
						: MemoryContextAllocHuge(b->cxt, sizeof(MatchRider) * cap_far);
				}
				far[n_far++] = r;
			}
		}
		SPI_freetuptable(SPI_tuptable);
		if (n < ASSIGN_FETCH_CHUNK)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);

	if (x == NULL)
	{
		x = MemoryContextAllocHuge(b->cxt, sizeof(double));
		y = MemoryContextAllocHuge(b->cxt, sizeof(double));
	}
	tie = MemoryContextAllocHuge(b->cxt, sizeof(long long) * Max(b->n_riders, 1));
	for (i = 0; i < b->n_riders; i++)
		tie[i] = b->riders[i].rider_id;
	/* riders at one distance by id, not in the order the scan read them */
	b->grid = as_grid_build(x, y, tie, b->n_riders, 0, &alloc);
	if (b->grid == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory building the rider grid"));

	for (i = 0; i < n_far; i++)
		(void) add_rider(b, &far[i]);
	b->joining = MemoryContextAllocHuge(b->cxt, sizeof(int) * Max(b->n_riders, 1));
	for (i = 0; i < b->n_riders; i++)
		if (b->riders[i].joinable)
			b->joining[b->n_joining++] = i;
	if (b->n_joining == 0)
		return;
	x = MemoryContextAllocHuge(b->cxt, sizeof(double) * b->n_joining);
	y = MemoryContextAllocHuge(b->cxt, sizeof(double) * b->n_joining);
	for (i = 0; i < b->n_joining; i++)
		as_project(b->lon0, b->lat0, b->riders[b->joining[i]].join_lon,
				   b->riders[b->joining[i]].join_lat, &x[i], &y[i]);
	b->join_grid = as_grid_build(x, y, NULL, b->n_joining, 0, &alloc);
	if (b->join_grid == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory building the grid of riders' next pickups"));
}

/*
 * 'grid' source: the k nearest accepted riders within the radius of each
 * selected order (the grid is built on the first call), and the riders
 * whose plan names the order's pickup as its next, wherever they are (as
 * candidates_joining finds them for the 'index' source).
 */
static void
candidates_grid(Batch *b, const int *sel, int nsel, int k)
{
	int		   *idx = palloc(sizeof(int) * k);
	double	   *dist = palloc(sizeof(double) * k);
	int		   *jidx;
	double	   *jdist;
	int			t,
				j;

	if (b->grid == NULL)
		read_all_riders(b);
	jidx = palloc(sizeof(int) * Max(b->n_joining, 1));
	jdist = palloc(sizeof(double) * Max(b->n_joining, 1));
	for (t = 0; t < nsel; t++)
	{
		int			i = sel[t];
		double		ox,
					oy;
		int			n;

		if (t % ASSIGN_CHECK_EVERY == ASSIGN_CHECK_EVERY - 1)
			CHECK_FOR_INTERRUPTS();
		as_project(b->lon0, b->lat0, b->orders[i].lon, b->orders[i].lat, &ox, &oy);
		b->cur_order = i;
		n = as_grid_knn(b->grid, ox, oy, k, b->s.radius_m, grid_accept, b, idx, dist);
		for (j = 0; j < n; j++)
			add_arc(b, i, idx[j], NULL);
		b->more[i] = n == k && k < ASSIGN_MAX_WANT;
		if (b->join_grid == NULL)
			continue;
		/* a margin for the projection's centre; match_distance decides */
		n = as_grid_knn(b->join_grid, ox, oy, b->n_joining, MATCH_SAME_PICKUP_M * 1.01 + 1.0,
						NULL, NULL, jidx, jdist);
		for (j = 0; j < n; j++)
		{
			bool		joins;

			(void) match_distance(&b->orders[i], &b->riders[b->joining[jidx[j]]], &joins);
			if (joins)
				add_arc(b, i, b->joining[jidx[j]], NULL);
		}
	}
	pfree(idx);
	pfree(dist);
	pfree(jidx);
	pfree(jdist);
}

/*
 * 'index' source: one nearest-neighbour scan of the partial GiST index per
 * distinct pickup point of the selected orders (orders of one merchant
 * share it), all in one statement; each scan fetches enough riders for
 * every selected order there (k each) plus those excluded and a margin
 * (the index orders by degrees, not metres).
 */
static void
candidates_index(Batch *b, const int *sel, int nsel, int k)
{
	Pickups		p;
	int		   *start;

	pickups_group(b, sel, nsel, k, &p);
	start = pickups_fetch(b, &p);
	pickups_hand_out(b, sel, nsel, &p, start);
	candidates_joining(b, sel, nsel, &p);
}

/*
 * The riders whose plan names a selected order's pickup as its next: the
 * order would join that trip (match_distance: none to go), but the scans
 * rank riders by where they are now, so with k riders nearer there such a
 * rider would not be a candidate, and the trip to share would be missed.
 * Found from the other side, once per batch (the first call's orders are
 * all the batch selects): the riders holding orders whose plan's next
 * pickup is one of the selected orders' (MATCH_SAME_PICKUP_M, on a grid of
 * the pickups), whether or not they still hold an order there (an order
 * taken back by replan_order leaves the trip open), then those riders read
 * by id; each selected order takes as candidates the ones its pickup
 * joins.  cost_arcs drops the pairs the scans found too.
 */
static void
candidates_joining(Batch *b, const int *sel, int nsel, const Pickups *p)
{
	int			t,
				j;

	if (!b->joining_read)
	{
		AsAllocator alloc = {solver_alloc, solver_free, b->cxt};
		AsGrid	   *grid;
		double	   *x = palloc(sizeof(double) * Max(p->np, 1));
		double	   *y = palloc(sizeof(double) * Max(p->np, 1));
		Datum		values[6];
		Datum	   *ids;
		int			n_ids = 0;
		uint64		row;
		int			ret;
		SPITupleTable *tt;

		b->joining_read = true;
		if (p->np == 0 || held_plan == NULL)
			return;
		for (j = 0; j < p->np; j++)
			as_project(p->lon[0], p->lat[0], p->lon[j], p->lat[j], &x[j], &y[j]);
		grid = as_grid_build(x, y, NULL, p->np, 0, &alloc);
		if (grid == NULL)
			ereport(ERROR,
					errcode(ERRCODE_OUT_OF_MEMORY),
					errmsg("out of memory building the grid of pickups"));

		values[0] = Int64GetDatum(b->s.zone_id);
		ret = SPI_execute_plan(held_plan, values, NULL, true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read the riders' next pickups: %s", SPI_result_code_string(ret));
		tt = SPI_tuptable;
		ids = palloc(sizeof(Datum) * Max(SPI_processed, 1));
		for (row = 0; row < SPI_processed; row++)
		{
			bool		isnull;
			double		hx,
						hy,
						dist;
			int			idx;
			Datum		rider = SPI_getbinval(tt->vals[row], tt->tupdesc, 1, &isnull);

			if (isnull)
				continue;
			as_project(p->lon[0], p->lat[0],
					   DatumGetFloat8(SPI_getbinval(tt->vals[row], tt->tupdesc, 2, &isnull)),
					   DatumGetFloat8(SPI_getbinval(tt->vals[row], tt->tupdesc, 3, &isnull)),
					   &hx, &hy);
			/* a margin for the projection's centre; match_distance decides */
			if (as_grid_knn(grid, hx, hy, 1, MATCH_SAME_PICKUP_M * 1.01 + 1.0, NULL, NULL, &idx, &dist) == 1)
				ids[n_ids++] = rider;
		}
		SPI_freetuptable(tt);
		as_grid_free(grid, &alloc);
		if (n_ids == 0)
			return;

		match_rider_params(&b->s, values);
		values[5] = PointerGetDatum(construct_array(ids, n_ids, INT8OID, 8, true, TYPALIGN_DOUBLE));
		ret = SPI_execute_plan(riders_by_id_plan, values, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read the riders whose trips orders may join: %s",
				 SPI_result_code_string(ret));
		tt = SPI_tuptable;
		b->joining = MemoryContextAlloc(b->cxt, sizeof(int) * Max(SPI_processed, 1));
		if (SPI_processed > 0)
		{
			MatchColumns cols;

			match_rider_columns(tt->tupdesc, &cols);
			for (row = 0; row < SPI_processed; row++)
			{
				int			r = batch_rider(b, tt->vals[row], &cols);

				if (b->riders[r].joinable)
					b->joining[b->n_joining++] = r;
			}
		}
		SPI_freetuptable(tt);
	}

	for (t = 0; t < nsel; t++)
	{
		int			i = sel[t];

		for (j = 0; j < b->n_joining; j++)
		{
			bool		joins;

			(void) match_distance(&b->orders[i], &b->riders[b->joining[j]], &joins);
			if (joins)
				add_arc(b, i, b->joining[j], NULL);
		}
	}
}

/*
 * The distinct pickup points of the selected orders, each with how many
 * riders to fetch there, and every selected order's pickup.
 */
static void
pickups_group(Batch *b, const int *sel, int nsel, int k, Pickups *p)
{
	int		   *ord = palloc(sizeof(int) * Max(nsel, 1));
	int			i;

	p->np = 0;
	p->lon = palloc(sizeof(double) * Max(nsel, 1));
	p->lat = palloc(sizeof(double) * Max(nsel, 1));
	p->want = palloc0(sizeof(int32) * Max(nsel, 1));
	p->of_order = palloc(sizeof(int) * Max(b->n_orders, 1));

	/* selected orders sorted by point: one merchant's orders together */
	memcpy(ord, sel, sizeof(int) * nsel);
	qsort_arg(ord, nsel, sizeof(int), cmp_pickup, b);
	for (i = 0; i < nsel; i++)
	{
		const MatchOrder *o = &b->orders[ord[i]];

		if (p->np == 0 || p->lon[p->np - 1] != o->lon || p->lat[p->np - 1] != o->lat)
		{
			p->lon[p->np] = o->lon;
			p->lat[p->np] = o->lat;
			p->want[p->np] = k + 4;
			p->np++;
		}
		else
			p->want[p->np - 1]++;
		p->of_order[ord[i]] = p->np - 1;
		/* room for riders excluded for this order */
		p->want[p->np - 1] += b->n_excl_of[ord[i]];
	}
	for (i = 0; i < p->np; i++)
		p->want[i] = Min(p->want[i], ASSIGN_MAX_WANT);
	pfree(ord);
}

/* A rider of a result row, added to the batch unless it is there already. */
static int
batch_rider(Batch *b, HeapTuple tuple, const MatchColumns *cols)
{
	MatchRider	r;
	RiderSlot  *slot;
	bool		found;

	match_read_rider(tuple, cols, &r);
	slot = hash_search(b->rider_index, &r.rider_id, HASH_ENTER, &found);
	if (!found)
		slot->index = add_rider(b, &r);
	return slot->index;
}

/*
 * Run the scans, add the riders fetched to the batch, and list the riders
 * of each pickup: p->rider[start[q] .. start[q] + p->got[q]) are pickup
 * q's (indexes into b->riders), p->full[q] whether riders lie beyond.
 * Returns start.
 *
 * A pickup's riders are the p->want[q] nearest, and the same ones whatever
 * the order of the rows on disk: where the scan stops among riders at one
 * distance (riders waiting at one restaurant), those strictly nearer are
 * kept and the places left go to the riders at that distance with the
 * lowest ids, read by a second statement for all such pickups at once.
 */
static int *
pickups_fetch(Batch *b, Pickups *p)
{
	Datum		values[9];
	Datum	   *d = palloc(sizeof(Datum) * Max(p->np, 1));
	MatchColumns cols;
	int		   *start,
			   *row_pick,
			   *by_pick,
			   *fill;
	double	   *row_d,
			   *tie_d;
	int		   *keep,
			   *tied_pick;
	int			i,
				q,
				ret,
				tied,
				pickup_col,
				d_col;
	uint64		row,
				n;
	SPITupleTable *tt;

	if (b->rider_index == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(RiderSlot);
		ctl.hcxt = b->cxt;
		b->rider_index = hash_create("dispatch assign riders", 4096, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	match_rider_params(&b->s, values);
	values[5] = float8_array(p->lon, p->np);
	values[6] = float8_array(p->lat, p->np);
	for (i = 0; i < p->np; i++)
		d[i] = Int32GetDatum(p->want[i]);
	values[7] = PointerGetDatum(construct_array(d, p->np, INT4OID, 4, true, TYPALIGN_INT));
	ret = SPI_execute_plan(knn_plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read candidates: %s", SPI_result_code_string(ret));
	tt = SPI_tuptable;
	n = SPI_processed;
	row_pick = MemoryContextAllocHuge(b->cxt, sizeof(int) * Max(n, 1));
	row_d = MemoryContextAllocHuge(b->cxt, sizeof(double) * Max(n, 1));
	by_pick = MemoryContextAllocHuge(b->cxt, sizeof(int) * Max(n, 1));
	match_rider_columns(tt->tupdesc, &cols);
	pickup_col = dispatch_column_number(tt->tupdesc, "pickup");
	d_col = dispatch_column_number(tt->tupdesc, "knn_d");
	for (row = 0; row < n; row++)
	{
		bool		isnull;

		row_pick[row] = (int) DatumGetInt64(SPI_getbinval(tt->vals[row], tt->tupdesc,
														  pickup_col, &isnull)) - 1;
		Assert(!isnull && row_pick[row] >= 0 && row_pick[row] < p->np);
		row_d[row] = DatumGetFloat8(SPI_getbinval(tt->vals[row], tt->tupdesc, d_col, &isnull));
		Assert(!isnull);
	}

	/* the rows by pickup, each pickup's nearest first (a stable counting sort) */
	start = palloc0(sizeof(int) * (p->np + 1));
	for (row = 0; row < n; row++)
		start[row_pick[row] + 1]++;
	for (q = 0; q < p->np; q++)
		start[q + 1] += start[q];
	fill = palloc(sizeof(int) * Max(p->np, 1));
	memcpy(fill, start, sizeof(int) * p->np);
	for (row = 0; row < n; row++)
		by_pick[fill[row_pick[row]]++] = (int) row;

	/*
	 * What each pickup keeps of its rows: all of them when the scan ended
	 * before its extra rider, else its wanted ones, but only those strictly
	 * nearer than the last one wanted when the extra one is as near.
	 */
	keep = palloc(sizeof(int) * Max(p->np, 1));
	tie_d = palloc(sizeof(double) * Max(p->np, 1));
	tied_pick = palloc(sizeof(int) * Max(p->np, 1));
	p->got = palloc0(sizeof(int) * Max(p->np, 1));
	p->full = palloc0(sizeof(bool) * Max(p->np, 1));
	for (q = 0; q < p->np; q++)
	{
		int			got = start[q + 1] - start[q];
		int			w = p->want[q];

		keep[q] = got;
		tie_d[q] = -1;
		if (got <= w)
			continue;
		p->full[q] = true;
		keep[q] = w;
		if (row_d[by_pick[start[q] + w]] == row_d[by_pick[start[q] + w - 1]])
		{
			tie_d[q] = row_d[by_pick[start[q] + w - 1]];
			while (keep[q] > 0 && row_d[by_pick[start[q] + keep[q] - 1]] == tie_d[q])
				keep[q]--;
		}
	}

	/* the riders kept; each pickup's list has room for all it wants */
	p->rider = MemoryContextAllocHuge(b->cxt, sizeof(int) * Max(n, 1));
	for (q = 0; q < p->np; q++)
		for (i = 0; i < keep[q]; i++)
			p->rider[start[q] + p->got[q]++] = batch_rider(b, tt->vals[by_pick[start[q] + i]], &cols);
	SPI_freetuptable(tt);

	/* the places left at a distance where the scan stopped: lowest ids */
	tied = 0;
	for (q = 0; q < p->np; q++)
		if (tie_d[q] >= 0)
			tied_pick[tied++] = q;
	if (tied > 0)
	{
		double	   *t_lon = palloc(sizeof(double) * tied),
				   *t_lat = palloc(sizeof(double) * tied),
				   *t_d = palloc(sizeof(double) * tied);

		for (i = 0; i < tied; i++)
		{
			q = tied_pick[i];
			t_lon[i] = p->lon[q];
			t_lat[i] = p->lat[q];
			t_d[i] = tie_d[q];
			d[i] = Int32GetDatum(p->want[q] - p->got[q]);
		}
		values[5] = float8_array(t_lon, tied);
		values[6] = float8_array(t_lat, tied);
		values[7] = float8_array(t_d, tied);
		values[8] = PointerGetDatum(construct_array(d, tied, INT4OID, 4, true, TYPALIGN_INT));
		ret = SPI_execute_plan(knn_ties_plan, values, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read candidates at one distance: %s", SPI_result_code_string(ret));
		tt = SPI_tuptable;
		if (SPI_processed > 0)
		{
			match_rider_columns(tt->tupdesc, &cols);
			pickup_col = dispatch_column_number(tt->tupdesc, "pickup");
		}
		for (row = 0; row < SPI_processed; row++)
		{
			bool		isnull;

			q = tied_pick[DatumGetInt64(SPI_getbinval(tt->vals[row], tt->tupdesc, pickup_col, &isnull)) - 1];
			Assert(!isnull);
			if (p->got[q] < p->want[q])
				p->rider[start[q] + p->got[q]++] = batch_rider(b, tt->vals[row], &cols);
		}
		SPI_freetuptable(tt);
		pfree(t_lon);
		pfree(t_lat);
		pfree(t_d);
	}
	pfree(fill);
	pfree(keep);
	pfree(tie_d);
	pfree(tied_pick);
	pfree(row_pick);
	pfree(row_d);
	pfree(by_pick);
	return start;
}

/*
 * Every selected order takes its pickup's riders as candidates; its fetch
 * was full (more riders may exist) if the scan returned all it asked for.
 */
static void
pickups_hand_out(Batch *b, const int *sel, int nsel, const Pickups *p,
				 const int *start)
{
	int			i,
				j;

	for (i = 0; i < nsel; i++)
	{
		int			o = sel[i];
		int			q = p->of_order[o];

		Assert(p->got[q] <= p->want[q]);
		for (j = start[q]; j < start[q] + p->got[q]; j++)
			add_arc(b, o, p->rider[j], NULL);
		b->more[o] = p->full[q] && p->want[q] < ASSIGN_MAX_WANT;
	}
}

/* Fetch up to k candidates for each selected order from the zone's source. */
static void
candidates(Batch *b, const int *sel, int nsel, int k)
{
	int			i;

	k = Min(k, ASSIGN_MAX_WANT);
	for (i = 0; i < nsel; i++)
		b->order_k[sel[i]] = k;
	if (b->s.use_grid)
		candidates_grid(b, sel, nsel, k);
	else
		candidates_index(b, sel, nsel, k);
}

/*
 * Cost the arcs from index from on; drop those a hard limit or an
 * exclusion rules out; then, over all arcs, drop repeated pairs and keep
 * each order's order_k nearest (ties by rider id).  Fairness compares with
 * the mean of the riders read by the first pass: later passes reuse it, so
 * that the costs of one batch stay comparable.
 */
static void
cost_arcs(Batch *b, int from)
{
	int			i,
				out = from,
				per_order = 0,
				last = -1;

	if (!b->have_means)
	{
		for (i = 0; i < b->n_riders; i++)
		{
			b->avg_orders += b->riders[i].orders_today;
			b->avg_earnings += (double) b->riders[i].earnings_today;
		}
		if (b->n_riders > 0)
		{
			b->avg_orders /= b->n_riders;
			b->avg_earnings /= b->n_riders;
		}
		b->have_means = true;
	}
	for (i = from; i < b->n_arcs; i++)
	{
		Arc		   *a = &b->arcs[i];

		if ((i - from) % (16 * ASSIGN_CHECK_EVERY) == 16 * ASSIGN_CHECK_EVERY - 1)
			CHECK_FOR_INTERRUPTS();
		if (!match_cost(&b->s, &b->orders[a->order], &b->riders[a->rider],
						b->avg_orders, b->avg_earnings, &a->c))
			continue;
		if (is_excluded(b, b->orders[a->order].order_id, b->riders[a->rider].rider_id))
			continue;
		b->arcs[out++] = *a;
	}
	b->n_arcs = out;
	qsort_arg(b->arcs, b->n_arcs, sizeof(Arc), cmp_arc, b);
	out = 0;
	for (i = 0; i < b->n_arcs; i++)
	{
		if (b->arcs[i].order != last)
		{
			last = b->arcs[i].order;
			per_order = 0;
		}
		else if (b->arcs[i].rider == b->arcs[out - 1].rider)
			continue;			/* a pair fetched again: equal, adjacent */
		if (per_order++ < b->order_k[last])
			b->arcs[out++] = b->arcs[i];
	}
	b->n_arcs = out;
}

/*
 * The solver's instance from the batch: one slot column per free slot of
 * a rider, costs clamped to what the solver takes.
 */
static void
build_instance(Batch *b, Solve *sv)
{
	int64	   *row_id = palloc(sizeof(int64) * b->n_orders);
	int64	   *rider_id = MemoryContextAllocHuge(b->cxt, sizeof(int64) * Max(b->n_riders, 1));
	int		   *slot_start = MemoryContextAllocHuge(b->cxt, sizeof(int) * (b->n_riders + 1));
	double	   *pen;
	AsArc	   *sarcs;
	int			i,
				j;

	for (i = 0; i < b->n_orders; i++)
		row_id[i] = b->orders[i].order_id;
	slot_start[0] = 0;
	for (i = 0; i < b->n_riders; i++)
	{
		const MatchRider *r = &b->riders[i];

		rider_id[i] = r->rider_id;
		slot_start[i + 1] = slot_start[i] + Max(0, r->capacity - r->active - r->pending);
	}
	pen = MemoryContextAllocHuge(b->cxt, sizeof(double) * Max(slot_start[b->n_riders], 1));
	for (i = 0; i < b->n_riders; i++)
		for (j = slot_start[i]; j < slot_start[i + 1]; j++)
			pen[j] = Min(match_slot_penalty(&b->s, &b->riders[i], j - slot_start[i]),
						 ASSIGN_COST_CLAMP);
	sarcs = MemoryContextAllocHuge(b->cxt, sizeof(AsArc) * Max(b->n_arcs, 1));
	for (i = 0; i < b->n_arcs; i++)
	{
		sarcs[i].row = b->arcs[i].order;
		sarcs[i].rider = b->arcs[i].rider;
		sarcs[i].cost = Min(b->arcs[i].c.base, ASSIGN_COST_CLAMP);
	}
	sv->inst.n_rows = b->n_orders;
	sv->inst.row_id = row_id;
	sv->inst.hold_cost = b->hold;
	sv->inst.n_riders = b->n_riders;
	sv->inst.rider_id = rider_id;
	sv->inst.slot_start = slot_start;
	sv->inst.slot_penalty = pen;
	sv->inst.n_arcs = b->n_arcs;
	sv->inst.arcs = sarcs;
}

/*
 * Solve the instance exactly, or past the size budget or budget_ms by the
 * regret heuristic; a solver failure is an error.
 */
static void
solve(Batch *b, Solve *sv, double budget_ms)
{
	memset(&sv->opt, 0, sizeof(sv->opt));
	sv->opt.max_arcs = b->s.max_arcs;
	sv->opt.time_budget_ms = budget_ms;
	sv->opt.now_ms = solver_now_ms;
	sv->opt.check = solver_check;
	sv->alloc.alloc = solver_alloc;
	sv->alloc.free = solver_free;
	sv->alloc.ctx = b->cxt;
	sv->row_rider = palloc(sizeof(int) * b->n_orders);
	sv->row_slot = palloc(sizeof(int) * b->n_orders);
	sv->rc = as_solve_exact(&sv->inst, &sv->opt, &sv->alloc, sv->row_rider,
							sv->row_slot, &sv->st);
	if (sv->rc == AS_ENOMEM)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory in the assignment solver"));
	/* AS_EINVAL or AS_ECANCELED (solver_check never asks): internal */
	if (sv->rc != AS_OK)
		ereport(ERROR,
				errcode(ERRCODE_DP_MATCH_SOLVER),
				errmsg("assignment solver failed: %s", as_strerror(sv->rc)));
}

/*
 * The orders whose candidates a widening round fetches again, wider.
 * Pruning strands a held order when every candidate it has is taken (or
 * limits dropped them all) while a farther rider is free; it can also keep
 * it waiting when the orders that took its candidates could move to a
 * farther free rider, which they do not know of either.  So: the held
 * orders with a taken candidate or none at all, and the orders on the
 * riders they compete for; of these, those whose last fetch was full (the
 * zone may have riders beyond it).  Writes their indexes to sel.
 */
static int
widen_selection(const Batch *b, const Solve *sv, int *sel)
{
	int		   *left = palloc(sizeof(int) * Max(b->n_riders, 1));
	bool	   *contested = palloc0(sizeof(bool) * Max(b->n_riders, 1));
	bool	   *pick = palloc0(sizeof(bool) * Max(b->n_orders, 1));
	int		   *arc_start = palloc0(sizeof(int) * (b->n_orders + 1));
	int			i,
				e,
				n = 0;

	for (i = 0; i < b->n_riders; i++)
		left[i] = Max(0, b->riders[i].capacity - b->riders[i].active - b->riders[i].pending);
	for (i = 0; i < b->n_orders; i++)
		if (sv->row_rider[i] != AS_HELD)
			left[sv->row_rider[i]]--;
	/* arcs are grouped by order */
	for (e = 0; e < b->n_arcs; e++)
		arc_start[b->arcs[e].order + 1]++;
	for (i = 0; i < b->n_orders; i++)
		arc_start[i + 1] += arc_start[i];

	for (i = 0; i < b->n_orders; i++)
	{
		bool		taken = false;

		if (sv->row_rider[i] != AS_HELD)
			continue;
		for (e = arc_start[i]; e < arc_start[i + 1]; e++)
			if (left[b->arcs[e].rider] <= 0)
			{
				taken = true;
				contested[b->arcs[e].rider] = true;
			}
		if (taken || arc_start[i] == arc_start[i + 1])
			pick[i] = true;
	}
	for (i = 0; i < b->n_orders; i++)
		if (sv->row_rider[i] != AS_HELD && contested[sv->row_rider[i]])
			pick[i] = true;
	for (i = 0; i < b->n_orders; i++)
		if (pick[i] && b->more[i])
			sel[n++] = i;
	pfree(left);
	pfree(contested);
	pfree(pick);
	pfree(arc_start);
	return n;
}

/*
 * The widening pass (see the file header): while stranded orders gain
 * candidates, fetch more for just them and solve again exactly in what is
 * left of the solver's time budget (solved_ms of it spent by the first
 * solve; fetching and costing do not count, as for the first solve).
 * Called after an exact solve; sv keeps the last exact solution, and the
 * batch's arcs stay those it was found on.
 */
static void
widen(Batch *b, Solve *sv, double solved_ms)
{
	int		   *sel = palloc(sizeof(int) * b->n_orders);
	int		   *before = palloc(sizeof(int) * b->n_orders);
	int		   *after = palloc(sizeof(int) * b->n_orders);
	int		   *saved_k = palloc(sizeof(int) * b->n_orders);
	int			round,
				k = b->s.k;

	Assert(sv->st.method == AS_METHOD_EXACT);
	for (round = 1; round <= b->s.widen_rounds && k < ASSIGN_MAX_WANT; round++)
	{
		int			nsel = widen_selection(b, sv, sel);
		int			saved_n = b->n_arcs;
		Arc		   *saved;
		int			i,
					gained = 0;
		double		left_ms = b->s.time_budget_ms - solved_ms;
		Solve		next;

		if (nsel == 0 || left_ms <= 0)
			break;
		saved = MemoryContextAllocHuge(b->cxt, sizeof(Arc) * Max(saved_n, 1));
		memcpy(saved, b->arcs, sizeof(Arc) * saved_n);
		memcpy(saved_k, b->order_k, sizeof(int) * b->n_orders);

		k = Min(k * ASSIGN_WIDEN_FACTOR, ASSIGN_MAX_WANT);
		memset(before, 0, sizeof(int) * b->n_orders);
		for (i = 0; i < b->n_arcs; i++)
			before[b->arcs[i].order]++;
		candidates(b, sel, nsel, k);
		cost_arcs(b, saved_n);
		memset(after, 0, sizeof(int) * b->n_orders);
		for (i = 0; i < b->n_arcs; i++)
			after[b->arcs[i].order]++;
		for (i = 0; i < nsel; i++)
			if (after[sel[i]] > before[sel[i]])
				gained++;

		if (gained > 0)
		{
			TimestampTz t = GetCurrentTimestamp();

			memset(&next, 0, sizeof(next));
			build_instance(b, &next);
			solve(b, &next, left_ms);
			solved_ms += (double) (GetCurrentTimestamp() - t) / 1000.0;
			if (next.st.method == AS_METHOD_EXACT)
			{
				*sv = next;
				b->widen_rounds = round;
				b->widened += nsel;
				pfree(saved);
				continue;
			}
		}

		/* nothing gained, or out of budget: back to the kept solution's arcs */
		memcpy(b->arcs, saved, sizeof(Arc) * saved_n);
		b->n_arcs = saved_n;
		memcpy(b->order_k, saved_k, sizeof(int) * b->n_orders);
		break;
	}
	if (b->widen_rounds > 0)
		ereport(DEBUG1,
				errmsg_internal("assign_batch widened the candidates of %d orders in %d rounds",
								b->widened, b->widen_rounds));
}

static Datum
float8_array(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Arcs are grouped by order, in order index order (cost_arcs sorts them):
 * order i's arcs are b->arcs[start[i] .. start[i + 1]).
 */
static int *
arc_starts(const Batch *b)
{
	int		   *start = palloc0(sizeof(int) * (b->n_orders + 1));
	int			i;

	for (i = 0; i < b->n_arcs; i++)
	{
		Assert(i == 0 || b->arcs[i - 1].order <= b->arcs[i].order);
		start[b->arcs[i].order + 1]++;
	}
	for (i = 0; i < b->n_orders; i++)
		start[i + 1] += start[i];
	Assert(start[b->n_orders] == b->n_arcs);
	return start;
}

/*
 * Step 1: connect, plan, take the zone's lock (batches of one zone run one
 * at a time, to the end of the transaction), read the settings and expire
 * overdue offers.
 */
static void
batch_begin(Batch *b, int64 zone_id)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prepare_plans();
	match_lock_zone(zone_id, false);
	match_load_settings(zone_id, &b->s);
	phase(b, "lock and settings");
	expire_offers(b);
	phase(b, "expiry");
}

/*
 * Step 2: the dispatchable orders (false if there are none), the riders
 * excluded for them, every order's k nearest candidates, costed, and each
 * order's cost of waiting.
 */
static bool
batch_gather(Batch *b)
{
	int		   *all;
	int			i;

	read_orders(b);
	phase(b, "orders");
	if (b->n_orders == 0)
		return false;
	read_exclusions(b);
	phase(b, "exclusions");

	b->order_k = palloc(sizeof(int) * b->n_orders);
	b->more = palloc0(sizeof(bool) * b->n_orders);
	all = palloc(sizeof(int) * b->n_orders);
	for (i = 0; i < b->n_orders; i++)
		all[i] = i;
	candidates(b, all, b->n_orders, b->s.k);
	phase(b, "candidates");
	cost_arcs(b, 0);
	b->hold = palloc(sizeof(double) * b->n_orders);
	for (i = 0; i < b->n_orders; i++)
		b->hold[i] = Min(match_hold_cost(&b->s, &b->orders[i]), ASSIGN_COST_CLAMP);
	return true;
}

/*
 * Step 3: build the instance and solve it; after an exact solve, widen the
 * candidates of stranded orders.  Sets b->method; a fallback from the
 * exact solve is reported as a NOTICE.
 */
static void
batch_solve(Batch *b, Solve *sv)
{
	TimestampTz start = GetCurrentTimestamp();
	int			i;

	memset(sv, 0, sizeof(*sv));
	build_instance(b, sv);
	solve(b, sv, b->s.time_budget_ms);
	if (sv->st.method == AS_METHOD_EXACT)
		widen(b, sv, (double) (GetCurrentTimestamp() - start) / 1000.0);
	phase(b, "costs and solve");
	for (i = 0; i < b->n_orders; i++)
		Assert(sv->row_rider[i] == AS_HELD ||
			   (sv->row_rider[i] >= 0 && sv->row_rider[i] < b->n_riders &&
				sv->row_slot[i] >= 0));

	b->method = sv->st.method == AS_METHOD_EXACT ? "exact" :
		sv->st.method == AS_METHOD_REGRET_SIZE ? "regret (size budget)" :
		"exact+regret (time budget)";
	if (sv->st.method != AS_METHOD_EXACT)
		ereport(NOTICE,
				errmsg("assign_batch for zone " INT64_FORMAT " fell back to %s",
					   b->s.zone_id, b->method),
				errdetail("%d orders, %d candidate pairs; the exact solve placed %d orders.",
						  b->n_orders, b->n_arcs, sv->st.n_exact_rows));
}

/*
 * Step 4: take the chosen riders' slots, re-checked under row lock in
 * rider id order.  Sets b->ok_riders (sorted): the riders that still had
 * them.
 */
static void
take_slots(Batch *b, const Solve *sv)
{
	int64	   *ids = palloc(sizeof(int64) * b->n_orders);
	int32	   *n = palloc(sizeof(int32) * b->n_orders);
	int64	   *chosen = palloc(sizeof(int64) * b->n_orders);
	Datum	   *d;
	Datum		values[3];
	int			nc = 0,
				nt = 0,
				ret,
				i;

	for (i = 0; i < b->n_orders; i++)
		if (sv->row_rider[i] != AS_HELD)
			chosen[nc++] = b->riders[sv->row_rider[i]].rider_id;
	qsort(chosen, nc, sizeof(int64), cmp_int64);
	for (i = 0; i < nc; i++)
	{
		if (nt > 0 && ids[nt - 1] == chosen[i])
			n[nt - 1]++;
		else
		{
			ids[nt] = chosen[i];
			n[nt] = 1;
			nt++;
		}
	}
	b->ok_riders = palloc(sizeof(int64) * Max(nt, 1));
	b->n_ok = 0;
	if (nt > 0)
	{
		d = palloc(sizeof(Datum) * nt);
		for (i = 0; i < nt; i++)
			d[i] = Int32GetDatum(n[i]);
		values[0] = dispatch_int8_array(ids, nt);
		values[1] = PointerGetDatum(construct_array(d, nt, INT4OID, 4, true, TYPALIGN_INT));
		values[2] = Int64GetDatum(b->s.zone_id);
		ret = SPI_execute_plan(lock_chosen_plan, values, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not lock the chosen riders: %s", SPI_result_code_string(ret));
		ret = SPI_execute_plan(take_slots_plan, values, NULL, false, 0);
		if (ret != SPI_OK_UPDATE_RETURNING)
			elog(ERROR, "could not take rider slots: %s", SPI_result_code_string(ret));
		Assert(SPI_processed <= (uint64) nt);
		for (i = 0; (uint64) i < SPI_processed; i++)
			b->ok_riders[b->n_ok++] = get_int8(SPI_tuptable, i, "rider_id");
		qsort(b->ok_riders, b->n_ok, sizeof(int64), cmp_int64);
		SPI_freetuptable(SPI_tuptable);
	}
	phase(b, "rider slots");
}

/*
 * Step 5: the offers, in order id order: the orders whose rider kept the
 * slots, each at the cost of the slot it takes (arc plus the penalty of
 * the rider's k-th extra order).
 */
static void
plan_offers(Batch *b, const Solve *sv, Offers *of)
{
	int			i,
				e;

	b->arc_start = arc_starts(b);
	of->n = 0;
	of->order_id = palloc(sizeof(int64) * b->n_orders);
	of->rider_id = palloc(sizeof(int64) * b->n_orders);
	of->cost = palloc(sizeof(double) * b->n_orders);
	of->row = palloc(sizeof(int) * b->n_orders);
	of->offer_id = palloc(sizeof(int64) * b->n_orders);
	for (i = 0; i < b->n_orders; i++)
	{
		int			r = sv->row_rider[i];
		int64		rid;
		double		c = 0;
		bool		found = false;

		if (r == AS_HELD)
			continue;
		rid = b->riders[r].rider_id;
		if (bsearch(&rid, b->ok_riders, b->n_ok, sizeof(int64), cmp_int64) == NULL)
			continue;
		for (e = b->arc_start[i]; e < b->arc_start[i + 1]; e++)
			if (b->arcs[e].rider == r)
			{
				c = b->arcs[e].c.base + match_slot_penalty(&b->s, &b->riders[r], sv->row_slot[i]);
				found = true;
				break;
			}
		/* the solver only places an order on one of its arcs */
		Assert(found);
		(void) found;
		of->order_id[of->n] = b->orders[i].order_id;
		of->rider_id[of->n] = rid;
		of->cost[of->n] = c;
		of->row[of->n] = i;
		of->n++;
	}
}

/* A new batch id in the zone. */
static int64
new_batch_id(Batch *b)
{
	Datum		values[1];
	int			ret;

	values[0] = Int64GetDatum(b->s.zone_id);
	ret = SPI_execute_plan(batch_id_plan, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not allocate a batch id");
	return get_int8(SPI_tuptable, 0, "batch_id");
}

/*
 * Step 6: write the offers in one statement and map the offer ids it
 * returns back to them (by order id, unique in a batch).
 */
static void
write_offers(Batch *b, Offers *of)
{
	Datum		values[7];
	int			ret,
				j;

	if (of->n == 0)
		return;
	values[0] = Int64GetDatum(b->s.zone_id);
	values[1] = Int64GetDatum(b->batch_id);
	values[2] = TimestampTzGetDatum(b->s.now);
	values[3] = TimestampTzGetDatum(b->s.now + (int64) b->s.offer_ttl_s * USECS_PER_SEC);
	values[4] = dispatch_int8_array(of->order_id, of->n);
	values[5] = dispatch_int8_array(of->rider_id, of->n);
	values[6] = float8_array(of->cost, of->n);
	phase(b, "batch id");
	ret = SPI_execute_plan(offers_plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != (uint64) of->n)
		elog(ERROR, "could not write offers: %s", SPI_result_code_string(ret));
	for (j = 0; j < of->n; j++)
	{
		int64		order_id = get_int8(SPI_tuptable, j, "order_id");
		int64	   *at = bsearch(&order_id, of->order_id, of->n, sizeof(int64), cmp_int64);

		Assert(at != NULL);
		of->offer_id[at - of->order_id] = get_int8(SPI_tuptable, j, "offer_id");
	}
	SPI_freetuptable(SPI_tuptable);
	phase(b, "offers");
}

/*
 * Step 7: the audit rows, one per offer, in one statement: each offer's
 * candidates, nearest first, with the parts of their cost; for the chosen
 * rider the cost of the slot it actually gives.  The candidates of all
 * offers go in as one array of ids and one [candidates][10] array of parts,
 * each offer's rows given by its first and last index.
 */
static void
write_audit(Batch *b, const Solve *sv, const Offers *of)
{
	int			total = 0,
				j,
				i;
	int32	   *first = palloc(sizeof(int32) * Max(of->n, 1));
	int32	   *last = palloc(sizeof(int32) * Max(of->n, 1));
	int64	   *ids;
	Datum	   *parts;
	Datum	   *d_first = palloc(sizeof(Datum) * Max(of->n, 1));
	Datum	   *d_last = palloc(sizeof(Datum) * Max(of->n, 1));
	int			dims[2];
	int			lbs[2] = {1, 1};
	Datum		values[10];
	int			ret;

	if (of->n == 0)
		return;
	for (j = 0; j < of->n; j++)
		total += b->arc_start[of->row[j] + 1] - b->arc_start[of->row[j]];
	ids = MemoryContextAllocHuge(b->cxt, sizeof(int64) * total);
	parts = MemoryContextAllocHuge(b->cxt, sizeof(Datum) * total * ASSIGN_AUDIT_PARTS);
	total = 0;
	for (j = 0; j < of->n; j++)
	{
		int			i0 = b->arc_start[of->row[j]];
		int			n = b->arc_start[of->row[j] + 1] - i0;

		Assert(n > 0);			/* the chosen rider is one of them */
		first[j] = total + 1;
		for (i = 0; i < n; i++, total++)
		{
			const Arc  *ac = &b->arcs[i0 + i];
			Datum	   *p = &parts[total * ASSIGN_AUDIT_PARTS];
			double		lp = ac->c.load_penalty;
			double		cost = ac->c.cost;

			if (ac->rider == sv->row_rider[of->row[j]])
			{
				cost = of->cost[j];
				lp = cost - ac->c.base;
			}
			ids[total] = b->riders[ac->rider].rider_id;
			p[0] = Float4GetDatum((float4) ac->c.distance_m);
			p[1] = Float4GetDatum((float4) cost);
			p[2] = Float4GetDatum((float4) ac->c.travel_s);
			p[3] = Float4GetDatum((float4) ac->c.rider_wait_s);
			p[4] = Float4GetDatum((float4) ac->c.food_wait_s);
			p[5] = Float4GetDatum((float4) ac->c.late_s);
			p[6] = Float4GetDatum((float4) ac->c.priority_factor);
			p[7] = Float4GetDatum((float4) lp);
			p[8] = Float4GetDatum((float4) ac->c.fairness);
			p[9] = Float4GetDatum((float4) ac->c.fatigue);
		}
		last[j] = total;
		d_first[j] = Int32GetDatum(first[j]);
		d_last[j] = Int32GetDatum(last[j]);
	}
	dims[0] = total;
	dims[1] = ASSIGN_AUDIT_PARTS;
	values[0] = Int64GetDatum(b->s.zone_id);
	values[1] = Int64GetDatum(b->batch_id);
	values[2] = CStringGetTextDatum(b->method);
	values[3] = dispatch_int8_array(of->offer_id, of->n);
	values[4] = dispatch_int8_array(of->order_id, of->n);
	values[5] = dispatch_int8_array(of->rider_id, of->n);
	values[6] = PointerGetDatum(construct_array(d_first, of->n, INT4OID, 4, true, TYPALIGN_INT));
	values[7] = PointerGetDatum(construct_array(d_last, of->n, INT4OID, 4, true, TYPALIGN_INT));
	values[8] = dispatch_int8_array(ids, total);
	values[9] = PointerGetDatum(construct_md_array(parts, NULL, 2, dims, lbs,
												   FLOAT4OID, 4, true, TYPALIGN_INT));
	ret = SPI_execute_plan(audit_plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT || SPI_processed != (uint64) of->n)
		elog(ERROR, "could not write the offer audit: %s", SPI_result_code_string(ret));
	phase(b, "audit");
}

/* Step 8: one 'offer' event per offer, and the function's result rows. */
static void
emit_events(Batch *b, const Offers *of, ReturnSetInfo *rsinfo)
{
	int			j;

	for (j = 0; j < of->n; j++)
	{
		char		payload[160];
		Datum		row[5];
		bool		nulls[5] = {0};

		snprintf(payload, sizeof(payload),
				 "{\"offer_id\":" INT64_FORMAT ",\"status\":\"pending\","
				 "\"expires_in_s\":%d}", of->offer_id[j], b->s.offer_ttl_s);
		dispatch_event_append(b->s.zone_id, "offer", of->order_id[j], 0, of->rider_id[j], payload);
		row[0] = Int64GetDatum(of->order_id[j]);
		row[1] = Int64GetDatum(of->rider_id[j]);
		row[2] = Int64GetDatum(of->offer_id[j]);
		row[3] = Float8GetDatum(of->cost[j]);
		row[4] = CStringGetTextDatum(b->method);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	phase(b, "events");
}

/* Step 9: the batch's row in assign_batches. */
static void
record_batch(Batch *b, const Solve *sv, const Offers *of)
{
	Datum		values[11];
	int			ret;

	values[0] = Int64GetDatum(b->s.zone_id);
	values[1] = Int64GetDatum(b->batch_id);
	values[2] = TimestampTzGetDatum(b->s.now);
	values[3] = Int32GetDatum(b->n_orders);
	values[4] = Int32GetDatum(b->n_riders);
	values[5] = Int32GetDatum(b->n_arcs);
	values[6] = Int32GetDatum(of->n);
	values[7] = Int32GetDatum(b->n_orders - of->n);
	values[8] = CStringGetTextDatum(b->method);
	values[9] = Float8GetDatum(sv->st.total_cost);
	values[10] = Float8GetDatum((double) (GetCurrentTimestamp() - b->t0) / 1000.0);
	ret = SPI_execute_plan(batch_plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not record the batch: %s", SPI_result_code_string(ret));
}

PG_FUNCTION_INFO_V1(dispatch_assign_batch);

/*
 * SQL: dispatch.assign_batch(zone_id bigint)
 *		-> table(order_id, rider_id, offer_id, cost, method)
 *
 * One dispatch round for the zone (see the file header).  Returns one row
 * per offer written; method is 'exact', 'regret (size budget)' or
 * 'exact+regret (time budget)'.
 */
Datum
dispatch_assign_batch(PG_FUNCTION_ARGS)
{
	int64		zone_id = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcxt;
	Batch		b;
	Solve		sv;
	Offers		of;

	/* not STRICT: no zone is refused as an unknown one, not a batch of nothing */
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_DP_MATCH_ZONE_UNKNOWN),
				errmsg("zone <NULL> does not exist"));
	if (zone_id < 1 || zone_id > 8388607)
		ereport(ERROR,
				errcode(ERRCODE_DP_MATCH_ZONE_UNKNOWN),
				errmsg("zone " INT64_FORMAT " does not exist", zone_id));

	InitMaterializedSRF(fcinfo, 0);
	memset(&b, 0, sizeof(b));
	b.t0 = b.tp = GetCurrentTimestamp();
	b.cxt = AllocSetContextCreate(CurrentMemoryContext, "dispatch assign_batch",
								  ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(b.cxt);

	batch_begin(&b, zone_id);
	if (batch_gather(&b))
	{
		batch_solve(&b, &sv);
		take_slots(&b, &sv);
		plan_offers(&b, &sv, &of);
		b.batch_id = new_batch_id(&b);
		write_offers(&b, &of);
		write_audit(&b, &sv, &of);
		emit_events(&b, &of, rsinfo);
		record_batch(&b, &sv, &of);
	}

	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(b.cxt);
	return (Datum) 0;
}
