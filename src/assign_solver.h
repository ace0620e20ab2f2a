/*-------------------------------------------------------------------------
 *
 * assign_solver.h
 *	  Minimum-cost batch assignment of orders to rider slots, the greedy
 *	  baseline and the regret heuristic.
 *
 * This header and assign_solver.c are plain C99 with no PostgreSQL
 * dependency, so that the solver can be tested and benchmarked on its own.
 * Every allocation goes through a caller-supplied AsAllocator: the backend
 * passes one that pallocs in a per-batch memory context, the tests pass
 * malloc/free.
 *
 * The model.  Rows are orders, riders offer slots.  A rider r with s_r free
 * slots offers s_r columns; putting the k-th extra order (k = 0, 1, ...) on
 * r costs arc(i, r) + penalty(r, k), penalties non-decreasing in k.  Order i
 * may also stay unassigned at hold(i): it waits for the next batch.  The
 * exact solver minimises the sum over the batch.
 *
 * Costs are doubles at the interface and are quantised to integer units of
 * 1 / AS_COST_SCALE inside, so the solver is exact on the quantised costs.
 *
 * IDENTIFICATION
 *	  src/assign_solver.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ASSIGN_SOLVER_H
#define ASSIGN_SOLVER_H

#include <stddef.h>
#include <stdint.h>

/* Costs are quantised to multiples of 1/AS_COST_SCALE. */
#define AS_COST_SCALE		1000.0
/* Largest absolute cost accepted (arc, penalty or hold). */
#define AS_COST_MAX			1.0e9

/* Return codes. */
#define AS_OK				0
#define AS_ENOMEM			1	/* the allocator returned NULL */
#define AS_EINVAL			2	/* malformed instance, see as_strerror() */
#define AS_ECANCELED		3	/* AsOptions.check asked to stop */

/* Units of work (heap pops, rows placed) between two calls of check. */
#define AS_CHECK_EVERY		4096

/* How a solution was obtained (AsStats.method). */
#define AS_METHOD_EXACT		0	/* proven optimal on the candidate graph */
#define AS_METHOD_REGRET_SIZE 1 /* graph over max_arcs: regret heuristic only */
#define AS_METHOD_PARTIAL_TIME 2	/* time budget hit: first rows exact, rest
									 * by the regret heuristic */
#define AS_METHOD_GREEDY	3	/* the sequential greedy baseline */
#define AS_METHOD_REGRET	4	/* the regret heuristic, asked for directly */

/* Sentinel in AsStats-independent outputs: the order is held. */
#define AS_HELD				(-1)

/*
 * Allocation callbacks.  free may be NULL when the allocator is an arena
 * (a PostgreSQL memory context deleted after the batch).
 */
typedef struct AsAllocator
{
	void	   *(*alloc) (void *ctx, size_t size);
	void		(*free) (void *ctx, void *ptr);
	void	   *ctx;
} AsAllocator;

/* One candidate: order row may go to rider at cost (slot penalty extra). */
typedef struct AsArc
{
	int32_t		row;			/* index into the instance's rows */
	int32_t		rider;			/* index into the instance's riders */
	double		cost;
} AsArc;

/*
 * A batch.  Ties between optimal solutions are resolved by ids, not by the
 * position of rows, riders or arcs in these arrays: the same set of rows,
 * riders and arcs gives the same answer in any order.  Ids must be unique.
 * Riders without any arc are ignored (not even validated), so a caller may
 * pass all eligible riders of a zone at little cost.
 */
typedef struct AsInstance
{
	int			n_rows;
	const int64_t *row_id;		/* order ids */
	const double *hold_cost;	/* per row: cost of waiting */

	int			n_riders;
	const int64_t *rider_id;
	const int  *slot_start;		/* n_riders + 1 offsets into slot_penalty;
								 * rider r has slot_start[r+1]-slot_start[r]
								 * free slots */
	const double *slot_penalty; /* per slot, >= 0, non-decreasing per rider */

	int			n_arcs;
	const AsArc *arcs;			/* duplicates (row, rider) keep the cheapest */
} AsInstance;

typedef struct AsOptions
{
	long		max_arcs;		/* above this, skip the exact solve (0: no
								 * limit) */
	double		time_budget_ms; /* exact solve time budget (<= 0: none) */
	double		(*now_ms) (void *ctx);	/* monotonic clock for the budget */
	void	   *clock_ctx;

	/*
	 * Interrupt hook (NULL: none), called every AS_CHECK_EVERY units of work
	 * in every loop whose length grows with the instance; a nonzero return
	 * stops the solve with AS_ECANCELED.  It may also not return at all
	 * (the backend's raises the query-cancel error): the solver holds no
	 * resource but memory from the caller's allocator.
	 */
	int			(*check) (void *ctx);
	void	   *check_ctx;
} AsOptions;

typedef struct AsStats
{
	int			method;			/* AS_METHOD_* */
	int			n_assigned;
	int			n_held;
	int			n_exact_rows;	/* rows placed by the exact solver */
	double		total_cost;		/* arcs + slot penalties + holds */
	int64_t		total_cost_q;	/* the same in 1/AS_COST_SCALE units */
	long		n_pops;			/* Dijkstra heap pops, a work measure */
} AsStats;

/*
 * Solve.  row_rider[i] receives the rider index of row i or AS_HELD;
 * row_slot[i] (may be NULL) the slot index taken within that rider (rows
 * of one rider take slots 0, 1, ... in ascending row id).
 */
extern int	as_solve_exact(const AsInstance *inst, const AsOptions *opt,
						   const AsAllocator *a, int *row_rider,
						   int *row_slot, AsStats *stats);

/*
 * Sequential greedy baseline: rows in ascending id, each takes its cheapest
 * option still open (a rider's next free slot, or hold).  Of opt (may be
 * NULL) only the interrupt hook is used.
 */
extern int	as_solve_greedy(const AsInstance *inst, const AsOptions *opt,
							const AsAllocator *a, int *row_rider,
							int *row_slot, AsStats *stats);

/*
 * Regret heuristic (the fallback): rows in descending regret, i.e. the gap
 * between their two cheapest options, each takes its cheapest open option.
 * Of opt (may be NULL) only the interrupt hook is used.
 */
extern int	as_solve_regret(const AsInstance *inst, const AsOptions *opt,
							const AsAllocator *a, int *row_rider,
							int *row_slot, AsStats *stats);

/*
 * Check a solution (arcs exist, capacities hold) and compute its quantised
 * cost.  Returns AS_OK or AS_EINVAL.
 */
extern int	as_evaluate(const AsInstance *inst, const AsAllocator *a,
						const int *row_rider, int64_t *cost_q);

/* Quantise a cost as the solver does. */
extern int64_t as_quantise(double cost);

/* Text for a return code. */
extern const char *as_strerror(int rc);

#endif							/* ASSIGN_SOLVER_H */
