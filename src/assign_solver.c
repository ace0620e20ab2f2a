/*-------------------------------------------------------------------------
 *
 * assign_solver.c
 *	  Exact minimum-cost assignment of orders to rider slots, with the
 *	  greedy baseline and the regret fallback (the candidates' grid and
 *	  projection are in assign_grid.c).
 *
 * Plain C99, no PostgreSQL headers; see assign_solver.h for the model.
 *
 * The exact solver is min-cost flow by successive shortest paths on the
 * sparse graph  order -> rider (candidate arcs), rider -> sink (one arc per
 * free slot, rising penalty), order -> sink (hold).  Orders are added one at
 * a time in ascending id; each addition is one Dijkstra on reduced costs
 * (node potentials keep them non-negative) stopped as soon as the sink is
 * settled, then one augmentation.  Since penalties rise per rider, only a
 * rider's next free slot needs to be looked at.  Costs are integers, so the
 * result is exactly optimal on the quantised costs, and ties are decided
 * by fixed rules (heap ties: sink first, then lower rider id, then lower
 * order id; earlier orders keep their rider on a tie), independent of the
 * order of the input arrays.
 *
 * Memory: everything is taken from the caller's allocator and given back
 * before returning (when the allocator has a free function).
 *
 * IDENTIFICATION
 *	  src/assign_solver.c
 *
 *-------------------------------------------------------------------------
 */
#include "assign_solver.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NODE_SINK	0
#define ROW_UNSEEN	(-2)
#define MAX_BLOCKS	48

/* Allocations of one call, released together. */
typedef struct Mem
{
	const AsAllocator *a;
	void	   *blocks[MAX_BLOCKS];
	int			n;
	int			failed;
} Mem;

/* The instance, validated, sorted by id and quantised. */
typedef struct Prep
{
	int			n;				/* rows */
	int			m;				/* riders */
	int			E;				/* distinct arcs */
	int		   *row_in;			/* sorted row -> input row */
	int		   *rider_in;		/* sorted rider -> input rider */
	int		   *arc_start;		/* n + 1 */
	int		   *arc_rider;		/* sorted rider of each arc */
	int64_t    *arc_cost;
	int64_t    *hold;			/* per sorted row */
	int		   *slot_start;		/* m + 1, per sorted rider */
	int64_t    *pen;			/* per slot */
} Prep;

/* Mutable state of a solution under construction (sorted indexes). */
typedef struct Sol
{
	int		   *row_rider;		/* rider, AS_HELD or ROW_UNSEEN */
	int64_t    *row_cost;		/* arc cost of the current assignment */
	int		   *load;			/* per rider */
	int		   *rider_rows;		/* rows on rider r at slot_start[r] + j */
} Sol;

typedef struct IdPos
{
	int64_t		id;
	int			pos;
} IdPos;

typedef struct ArcTmp
{
	int			row;
	int			rider;
	int64_t		cost;
} ArcTmp;

static void *mem_alloc(Mem *mem, size_t size);
static void mem_release(Mem *mem);
static int	cmp_idpos(const void *a, const void *b);
static int	cmp_arctmp(const void *a, const void *b);
static int	prepare(const AsInstance *inst, Mem *mem, Prep *P);
static int	cost_ok(double c);
static int64_t arc_next_slot_cost(const Prep *P, const Sol *S, int e);
static int	sol_init(const Prep *P, Mem *mem, Sol *S);
static void sol_put(const Prep *P, Sol *S, int i, int r, int64_t cost);
static int	stop_asked(const AsOptions *opt, long work);
static int	fill_heuristic(const Prep *P, Sol *S, const int *rows, int nrows,
						   Mem *mem, int by_regret, const AsOptions *opt);
static int	exact_core(const Prep *P, Sol *S, Mem *mem, const AsOptions *opt,
					   int *n_exact, long *n_pops);
static void finish(const Prep *P, const Sol *S, int method, int n_exact,
				   long n_pops, int *row_rider, int *row_slot, AsStats *st);
static int	run_heuristic(const AsInstance *inst, const AsOptions *opt,
						  const AsAllocator *a, int *row_rider,
						  int *row_slot, AsStats *stats, int by_regret);

/* Take zeroed memory from the caller's allocator and remember it. */
static void *
mem_alloc(Mem *mem, size_t size)
{
	void	   *p;

	if (mem->failed || mem->n >= MAX_BLOCKS)
	{
		mem->failed = 1;
		return NULL;
	}
	if (size == 0)
		size = 1;
	p = mem->a->alloc(mem->a->ctx, size);
	if (p == NULL)
	{
		mem->failed = 1;
		return NULL;
	}
	memset(p, 0, size);
	mem->blocks[mem->n++] = p;
	return p;
}

/* Give back everything taken by this call. */
static void
mem_release(Mem *mem)
{
	int			i;

	if (mem->a->free != NULL)
		for (i = mem->n - 1; i >= 0; i--)
			mem->a->free(mem->a->ctx, mem->blocks[i]);
	mem->n = 0;
}

/* Order by id, then position (also used for regret keys). */
static int
cmp_idpos(const void *a, const void *b)
{
	const IdPos *x = a;
	const IdPos *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

/* Order arcs by row, rider, cost: duplicates end up cheapest first. */
static int
cmp_arctmp(const void *a, const void *b)
{
	const ArcTmp *x = a;
	const ArcTmp *y = b;

	if (x->row != y->row)
		return x->row < y->row ? -1 : 1;
	if (x->rider != y->rider)
		return x->rider < y->rider ? -1 : 1;
	if (x->cost != y->cost)
		return x->cost < y->cost ? -1 : 1;
	return 0;
}

/* Quantise a cost to the solver's integer unit. */
int64_t
as_quantise(double cost)
{
	return (int64_t) llround(cost * AS_COST_SCALE);
}

/* A cost the solver accepts: finite and within AS_COST_MAX. */
static int
cost_ok(double c)
{
	return isfinite(c) && fabs(c) <= AS_COST_MAX;
}

/* Text for a return code. */
const char *
as_strerror(int rc)
{
	switch (rc)
	{
		case AS_OK:
			return "success";
		case AS_ENOMEM:
			return "out of memory";
		case AS_EINVAL:
			return "invalid assignment instance (bad index, duplicate id, "
				"non-finite cost, or slot penalties not non-decreasing)";
		case AS_ECANCELED:
			return "canceled by the interrupt hook";
	}
	return "unknown error";
}

/*
 * Validate the instance and build the sorted, quantised, deduplicated
 * form every solver works on.
 */
static int
prepare(const AsInstance *inst, Mem *mem, Prep *P)
{
	int			n = inst->n_rows;
	int			m = inst->n_riders;
	int			i,
				r,
				e,
				k = 0;
	IdPos	   *ip;
	int		   *row_pos;
	int		   *rider_pos;
	ArcTmp	   *tmp;

	if (n < 0 || m < 0 || inst->n_arcs < 0 ||
		(n > 0 && (inst->row_id == NULL || inst->hold_cost == NULL)) ||
		(m > 0 && (inst->rider_id == NULL || inst->slot_start == NULL)) ||
		(inst->n_arcs > 0 && inst->arcs == NULL))
		return AS_EINVAL;

	P->n = n;
	P->row_in = mem_alloc(mem, sizeof(int) * (n + 1));
	row_pos = mem_alloc(mem, sizeof(int) * (n + 1));
	rider_pos = mem_alloc(mem, sizeof(int) * (m + 1));
	P->hold = mem_alloc(mem, sizeof(int64_t) * (n + 1));
	P->arc_start = mem_alloc(mem, sizeof(int) * (n + 1));
	if (mem->failed)
		return AS_ENOMEM;

	/* riders that appear in some arc; only they take part */
	for (e = 0; e < inst->n_arcs; e++)
	{
		int			d = inst->arcs[e].rider;

		if (d < 0 || d >= m)
			return AS_EINVAL;
		if (!rider_pos[d])
		{
			rider_pos[d] = 1;
			k++;
		}
	}
	ip = mem_alloc(mem, sizeof(IdPos) * ((n > k ? n : k) + 1));
	P->rider_in = mem_alloc(mem, sizeof(int) * (k + 1));
	P->slot_start = mem_alloc(mem, sizeof(int) * (k + 1));
	if (mem->failed)
		return AS_ENOMEM;

	/* rows in ascending id */
	for (i = 0; i < n; i++)
	{
		ip[i].id = inst->row_id[i];
		ip[i].pos = i;
		if (!cost_ok(inst->hold_cost[i]))
			return AS_EINVAL;
	}
	qsort(ip, n, sizeof(IdPos), cmp_idpos);
	for (i = 0; i < n; i++)
	{
		if (i > 0 && ip[i].id == ip[i - 1].id)
			return AS_EINVAL;
		P->row_in[i] = ip[i].pos;
		row_pos[ip[i].pos] = i;
		P->hold[i] = as_quantise(inst->hold_cost[ip[i].pos]);
	}

	/*
	 * Riders in ascending id, with their slots.  Only riders that appear in
	 * some arc take part, so a batch may pass every eligible rider of a zone.
	 */
	for (r = 0; r < m; r++)
		if (inst->slot_start[r + 1] < inst->slot_start[r])
			return AS_EINVAL;
	if (m > 0 && inst->slot_start[0] != 0)
		return AS_EINVAL;
	k = 0;
	for (r = 0; r < m; r++)
		if (rider_pos[r])
		{
			ip[k].id = inst->rider_id[r];
			ip[k].pos = r;
			k++;
		}
	P->m = m = k;
	qsort(ip, m, sizeof(IdPos), cmp_idpos);
	P->slot_start[0] = 0;
	for (r = 0; r < m; r++)
	{
		int			in = ip[r].pos;

		if (r > 0 && ip[r].id == ip[r - 1].id)
			return AS_EINVAL;
		P->rider_in[r] = in;
		rider_pos[in] = r;
		P->slot_start[r + 1] = P->slot_start[r] +
			(inst->slot_start[in + 1] - inst->slot_start[in]);
	}
	P->pen = mem_alloc(mem, sizeof(int64_t) * (m > 0 ? P->slot_start[m] + 1 : 1));
	if (mem->failed)
		return AS_ENOMEM;
	if (m > 0 && P->slot_start[m] > 0 && inst->slot_penalty == NULL)
		return AS_EINVAL;
	for (r = 0; r < m; r++)
	{
		int			in = P->rider_in[r];
		int			s0 = inst->slot_start[in];
		int			cnt = inst->slot_start[in + 1] - s0;

		for (k = 0; k < cnt; k++)
		{
			double		c = inst->slot_penalty[s0 + k];

			if (!cost_ok(c) || c < 0 ||
				(k > 0 && c < inst->slot_penalty[s0 + k - 1]))
				return AS_EINVAL;
			P->pen[P->slot_start[r] + k] = as_quantise(c);
		}
	}

	/* arcs: sorted by (row, rider), cheapest of duplicates kept */
	tmp = mem_alloc(mem, sizeof(ArcTmp) * (inst->n_arcs + 1));
	if (mem->failed)
		return AS_ENOMEM;
	for (e = 0; e < inst->n_arcs; e++)
	{
		const AsArc *arc = &inst->arcs[e];

		if (arc->row < 0 || arc->row >= n || !cost_ok(arc->cost))
			return AS_EINVAL;
		tmp[e].row = row_pos[arc->row];
		tmp[e].rider = rider_pos[arc->rider];
		tmp[e].cost = as_quantise(arc->cost);
	}
	qsort(tmp, inst->n_arcs, sizeof(ArcTmp), cmp_arctmp);
	k = 0;
	for (e = 0; e < inst->n_arcs; e++)
	{
		if (k > 0 && tmp[k - 1].row == tmp[e].row &&
			tmp[k - 1].rider == tmp[e].rider)
			continue;			/* sorted by cost within a pair: keep first */
		tmp[k++] = tmp[e];
	}
	P->E = k;
	P->arc_rider = mem_alloc(mem, sizeof(int) * (k + 1));
	P->arc_cost = mem_alloc(mem, sizeof(int64_t) * (k + 1));
	if (mem->failed)
		return AS_ENOMEM;
	e = 0;
	for (i = 0; i < n; i++)
	{
		P->arc_start[i] = e;
		while (e < k && tmp[e].row == i)
		{
			P->arc_rider[e] = tmp[e].rider;
			P->arc_cost[e] = tmp[e].cost;
			e++;
		}
	}
	P->arc_start[n] = k;
	return AS_OK;
}

/* An empty solution: every row unseen, every rider empty. */
static int
sol_init(const Prep *P, Mem *mem, Sol *S)
{
	int			i;

	S->row_rider = mem_alloc(mem, sizeof(int) * (P->n + 1));
	S->row_cost = mem_alloc(mem, sizeof(int64_t) * (P->n + 1));
	S->load = mem_alloc(mem, sizeof(int) * (P->m + 1));
	S->rider_rows = mem_alloc(mem, sizeof(int) * (P->slot_start[P->m] + 1));
	if (mem->failed)
		return AS_ENOMEM;
	for (i = 0; i < P->n; i++)
		S->row_rider[i] = ROW_UNSEEN;
	return AS_OK;
}

/* Place row i on rider r's next slot. */
static void
sol_put(const Prep *P, Sol *S, int i, int r, int64_t cost)
{
	S->rider_rows[P->slot_start[r] + S->load[r]] = i;
	S->load[r]++;
	S->row_rider[i] = r;
	S->row_cost[i] = cost;
}

/*
 * Cost of arc e if its order took the rider's next free slot now (arc cost
 * plus that slot's penalty); -1 when the rider has no free slot left.
 */
static int64_t
arc_next_slot_cost(const Prep *P, const Sol *S, int e)
{
	int			r = P->arc_rider[e];

	if (S->load[r] >= P->slot_start[r + 1] - P->slot_start[r])
		return -1;
	return P->arc_cost[e] + P->pen[P->slot_start[r] + S->load[r]];
}

/*
 * Whether the interrupt hook, due after every AS_CHECK_EVERY units of
 * work, asks to stop.
 */
static int
stop_asked(const AsOptions *opt, long work)
{
	return opt != NULL && opt->check != NULL &&
		work % AS_CHECK_EVERY == AS_CHECK_EVERY - 1 &&
		opt->check(opt->check_ctx) != 0;
}

/*
 * Give each listed (unseen) row its cheapest open option, one row at a
 * time: in list order (greedy) or by descending regret, the gap between a
 * row's two cheapest options when the pass starts.  AS_OK, or AS_ECANCELED
 * when the interrupt hook asks to stop.
 */
static int
fill_heuristic(const Prep *P, Sol *S, const int *rows, int nrows, Mem *mem,
			   int by_regret, const AsOptions *opt)
{
	IdPos	   *order = NULL;
	int			t,
				e;

	if (by_regret)
	{
		order = mem_alloc(mem, sizeof(IdPos) * (nrows + 1));
		if (order == NULL)
			by_regret = 0;		/* still give an answer: greedy order */
	}
	if (by_regret)
	{
		for (t = 0; t < nrows; t++)
		{
			int			i = rows[t];
			int64_t		b1 = P->hold[i];
			int64_t		b2 = INT64_MAX;

			if (stop_asked(opt, t))
				return AS_ECANCELED;
			for (e = P->arc_start[i]; e < P->arc_start[i + 1]; e++)
			{
				int64_t		c = arc_next_slot_cost(P, S, e);

				if (c < 0)
					continue;
				if (c < b1)
				{
					b2 = b1;
					b1 = c;
				}
				else if (c < b2)
					b2 = c;
			}
			/* sort key: descending regret, then ascending row */
			order[t].id = (b2 == INT64_MAX) ? INT64_MIN : -(b2 - b1);
			order[t].pos = i;
		}
		qsort(order, nrows, sizeof(IdPos), cmp_idpos);
	}

	for (t = 0; t < nrows; t++)
	{
		int			i = by_regret ? order[t].pos : rows[t];
		int64_t		best = P->hold[i];
		int64_t		best_arc = 0;
		int			best_r = AS_HELD;

		if (stop_asked(opt, t))
			return AS_ECANCELED;
		for (e = P->arc_start[i]; e < P->arc_start[i + 1]; e++)
		{
			int			r = P->arc_rider[e];
			int64_t		c = arc_next_slot_cost(P, S, e);

			if (c < 0)
				continue;
			if (c < best)
			{
				best = c;
				best_r = r;
				best_arc = P->arc_cost[e];
			}
		}
		if (best_r == AS_HELD)
			S->row_rider[i] = AS_HELD;
		else
			sol_put(P, S, i, best_r, best_arc);
	}
	return AS_OK;
}

/* Binary heap of (key, node), ties to the lower node. */
typedef struct Heap
{
	int64_t    *key;
	int		   *node;
	int			n;
} Heap;

static inline int
heap_less(const Heap *h, int a, int b)
{
	return h->key[a] < h->key[b] ||
		(h->key[a] == h->key[b] && h->node[a] < h->node[b]);
}

static inline void
heap_swap(Heap *h, int a, int b)
{
	int64_t		k = h->key[a];
	int			v = h->node[a];

	h->key[a] = h->key[b];
	h->node[a] = h->node[b];
	h->key[b] = k;
	h->node[b] = v;
}

static inline void
heap_push(Heap *h, int64_t key, int node)
{
	int			c = h->n++;

	h->key[c] = key;
	h->node[c] = node;
	while (c > 0)
	{
		int			p = (c - 1) / 2;

		if (!heap_less(h, c, p))
			break;
		heap_swap(h, c, p);
		c = p;
	}
}

static inline void
heap_pop(Heap *h, int64_t *key, int *node)
{
	int			c = 0;

	*key = h->key[0];
	*node = h->node[0];
	h->n--;
	h->key[0] = h->key[h->n];
	h->node[0] = h->node[h->n];
	for (;;)
	{
		int			l = 2 * c + 1;
		int			s = c;

		if (l < h->n && heap_less(h, l, s))
			s = l;
		if (l + 1 < h->n && heap_less(h, l + 1, s))
			s = l + 1;
		if (s == c)
			break;
		heap_swap(h, c, s);
		c = s;
	}
}

/*
 * Successive shortest paths.  Nodes: 0 the sink, 1..m riders, m+1..m+n
 * rows, so heap ties go to the sink, then riders, then rows, each by id.
 * Stops early if the time budget runs out; the caller fills the rest.
 * Returns AS_ECANCELED when the interrupt hook asks to stop: it is asked
 * every AS_CHECK_EVERY heap pops and rows.
 *
 * Long on purpose: the Dijkstra, the augmentation along its path and the
 * potential update share the same arrays and loop indexes, and are the
 * hot loop of every batch; split into functions they would pass half a
 * dozen arrays each and hide that one pass is one row added.  Each phase
 * is marked by a comment instead.
 */
static int
exact_core(const Prep *P, Sol *S, Mem *mem, const AsOptions *opt,
		   int *n_exact, long *n_pops)
{
	int			n = P->n,
				m = P->m;
	int			N = 1 + m + n;
	int64_t    *pot = mem_alloc(mem, sizeof(int64_t) * N);
	int64_t    *dist = mem_alloc(mem, sizeof(int64_t) * N);
	int64_t    *pcost = mem_alloc(mem, sizeof(int64_t) * N);
	int		   *stamp = mem_alloc(mem, sizeof(int) * N);
	int		   *done = mem_alloc(mem, sizeof(int) * N);
	int		   *pred = mem_alloc(mem, sizeof(int) * N);
	int		   *settled = mem_alloc(mem, sizeof(int) * N);
	size_t		hcap = (size_t) P->E + (size_t) n + (size_t) m + 8;
	Heap		h;
	int			i,
				r,
				e,
				gen = 0;
	long		pops = 0;
	double		t0 = 0;
	int			timed = (opt != NULL && opt->time_budget_ms > 0 &&
						 opt->now_ms != NULL);

	h.key = mem_alloc(mem, sizeof(int64_t) * hcap);
	h.node = mem_alloc(mem, sizeof(int) * hcap);
	h.n = 0;
	if (mem->failed)
		return AS_ENOMEM;

	/* sink potential: keeps every slot arc's reduced cost >= 0 at start */
	pot[NODE_SINK] = 0;
	for (r = 0; r < m; r++)
		if (P->slot_start[r + 1] > P->slot_start[r] &&
			P->pen[P->slot_start[r]] < pot[NODE_SINK])
			pot[NODE_SINK] = P->pen[P->slot_start[r]];

	if (timed)
		t0 = opt->now_ms(opt->clock_ctx);

	for (i = 0; i < n; i++)
	{
		int			src = 1 + m + i;
		int			nsettled = 0;
		int64_t		D = 0;
		int64_t		pi;
		int			j,
					x;

		if (timed && (i & 7) == 7 &&
			opt->now_ms(opt->clock_ctx) - t0 > opt->time_budget_ms)
			break;
		if (stop_asked(opt, i))
			return AS_ECANCELED;

		/* a potential for the new row that makes its arcs non-negative */
		pi = pot[NODE_SINK] - P->hold[i];
		for (e = P->arc_start[i]; e < P->arc_start[i + 1]; e++)
		{
			int64_t		v = pot[1 + P->arc_rider[e]] - P->arc_cost[e];

			if (v > pi)
				pi = v;
		}
		pot[src] = pi;

		gen++;
		h.n = 0;
		stamp[src] = gen;
		dist[src] = 0;
		pred[src] = -1;
		heap_push(&h, 0, src);

		while (h.n > 0)
		{
			int64_t		d;
			int			u;

			heap_pop(&h, &d, &u);
			if (done[u] == gen || d > dist[u])
				continue;
			done[u] = gen;
			if (stop_asked(opt, pops))
				return AS_ECANCELED;
			pops++;
			if (u == NODE_SINK)
			{
				D = d;
				break;
			}
			settled[nsettled++] = u;

#define RELAX(v_, nd_, c_) \
			do { \
				int		vv = (v_); \
				int64_t ndd = (nd_); \
				if (done[vv] != gen && (stamp[vv] != gen || ndd < dist[vv])) \
				{ \
					stamp[vv] = gen; \
					dist[vv] = ndd; \
					pred[vv] = u; \
					pcost[vv] = (c_); \
					heap_push(&h, ndd, vv); \
				} \
			} while (0)

			if (u > m)
			{
				/* a row: forward arcs to riders other than its own, hold */
				int			row = u - 1 - m;
				int			cur = S->row_rider[row];

				for (e = P->arc_start[row]; e < P->arc_start[row + 1]; e++)
				{
					int			rr = P->arc_rider[e];

					if (rr == cur)
						continue;
					RELAX(1 + rr, d + P->arc_cost[e] + pot[u] - pot[1 + rr],
						  P->arc_cost[e]);
				}
				if (cur != AS_HELD)
					RELAX(NODE_SINK, d + P->hold[row] + pot[u] - pot[NODE_SINK],
						  P->hold[row]);
			}
			else
			{
				/* a rider: back to the rows it holds, or its next slot */
				int			rr = u - 1;
				int			s0 = P->slot_start[rr];
				int			k;

				for (k = 0; k < S->load[rr]; k++)
				{
					int			row = S->rider_rows[s0 + k];

					RELAX(1 + m + row,
						  d - S->row_cost[row] + pot[u] - pot[1 + m + row], 0);
				}
				if (S->load[rr] < P->slot_start[rr + 1] - s0)
					RELAX(NODE_SINK,
						  d + P->pen[s0 + S->load[rr]] + pot[u] - pot[NODE_SINK],
						  P->pen[s0 + S->load[rr]]);
			}
#undef RELAX
		}

		/* the sink is always reached: every row can be held */
		for (j = 0; j < nsettled; j++)
			pot[settled[j]] += dist[settled[j]] - D;

		/* augment along the path, walking back from the sink */
		x = pred[NODE_SINK];
		if (x > m)
		{
			j = x - 1 - m;
			S->row_rider[j] = AS_HELD;
		}
		else
		{
			int			u = pred[x];

			j = u - 1 - m;
			sol_put(P, S, j, x - 1, pcost[x]);
		}
		while (1 + m + j != src)
		{
			int			rnode = pred[1 + m + j];	/* j left this rider */
			int			rr = rnode - 1;
			int			u = pred[rnode];	/* and this row took it */
			int			s0 = P->slot_start[rr];
			int			k;

			for (k = 0; k < S->load[rr]; k++)
				if (S->rider_rows[s0 + k] == j)
				{
					S->rider_rows[s0 + k] = u - 1 - m;
					break;
				}
			S->row_rider[u - 1 - m] = rr;
			S->row_cost[u - 1 - m] = pcost[rnode];
			j = u - 1 - m;
		}
	}
	*n_exact = i;
	*n_pops = pops;
	return AS_OK;
}

/*
 * Translate a solution back to input indexes, number the slots of each
 * rider by ascending row id, and total the cost.
 */
static void
finish(const Prep *P, const Sol *S, int method, int n_exact, long n_pops,
	   int *row_rider, int *row_slot, AsStats *st)
{
	int			i,
				r,
				k;
	int64_t		total = 0;
	int			na = 0,
				nh = 0;

	for (r = 0; r < P->m; r++)
		for (k = 0; k < S->load[r]; k++)
			total += P->pen[P->slot_start[r] + k];
	/* slot numbers: reuse load as a counter by counting up again */
	for (i = 0; i < P->n; i++)
	{
		int			in = P->row_in[i];
		int			rr = S->row_rider[i];

		if (rr < 0)
		{
			row_rider[in] = AS_HELD;
			if (row_slot)
				row_slot[in] = -1;
			total += P->hold[i];
			nh++;
		}
		else
		{
			row_rider[in] = P->rider_in[rr];
			total += S->row_cost[i];
			na++;
		}
	}
	if (row_slot)
	{
		for (r = 0; r < P->m; r++)
			S->load[r] = 0;
		for (i = 0; i < P->n; i++)
		{
			int			rr = S->row_rider[i];

			if (rr >= 0)
				row_slot[P->row_in[i]] = S->load[rr]++;
		}
	}
	if (st)
	{
		st->method = method;
		st->n_assigned = na;
		st->n_held = nh;
		st->n_exact_rows = n_exact;
		st->total_cost_q = total;
		st->total_cost = (double) total / AS_COST_SCALE;
		st->n_pops = n_pops;
	}
}

/*
 * The exact solve, with the size and time budgets of opt (may be NULL).
 */
int
as_solve_exact(const AsInstance *inst, const AsOptions *opt,
			   const AsAllocator *a, int *row_rider, int *row_slot,
			   AsStats *stats)
{
	Mem			mem = {a, {0}, 0, 0};
	Prep		P;
	Sol			S;
	int			rc;
	int			n_exact = 0;
	long		pops = 0;
	int			method = AS_METHOD_EXACT;

	rc = prepare(inst, &mem, &P);
	if (rc == AS_OK)
		rc = sol_init(&P, &mem, &S);
	if (rc != AS_OK)
	{
		mem_release(&mem);
		return rc;
	}

	if (opt != NULL && opt->max_arcs > 0 && P.E > opt->max_arcs)
		method = AS_METHOD_REGRET_SIZE;
	else
	{
		rc = exact_core(&P, &S, &mem, opt, &n_exact, &pops);
		if (rc != AS_OK)
		{
			mem_release(&mem);
			return rc;
		}
		if (n_exact < P.n)
			method = AS_METHOD_PARTIAL_TIME;
	}

	if (n_exact < P.n)
	{
		int		   *rows = mem_alloc(&mem, sizeof(int) * (P.n - n_exact));
		int			i;

		if (rows == NULL)
		{
			mem_release(&mem);
			return AS_ENOMEM;
		}
		for (i = n_exact; i < P.n; i++)
			rows[i - n_exact] = i;
		rc = fill_heuristic(&P, &S, rows, P.n - n_exact, &mem, 1, opt);
		if (rc != AS_OK)
		{
			mem_release(&mem);
			return rc;
		}
	}
	finish(&P, &S, method, n_exact, pops, row_rider, row_slot, stats);
	rc = mem.failed ? AS_ENOMEM : AS_OK;
	mem_release(&mem);
	return rc;
}

/* Shared body of the greedy baseline and the regret heuristic. */
static int
run_heuristic(const AsInstance *inst, const AsOptions *opt,
			  const AsAllocator *a, int *row_rider, int *row_slot,
			  AsStats *stats, int by_regret)
{
	Mem			mem = {a, {0}, 0, 0};
	Prep		P;
	Sol			S;
	int			rc;
	int		   *rows;
	int			i;

	rc = prepare(inst, &mem, &P);
	if (rc == AS_OK)
		rc = sol_init(&P, &mem, &S);
	if (rc != AS_OK)
	{
		mem_release(&mem);
		return rc;
	}
	rows = mem_alloc(&mem, sizeof(int) * (P.n + 1));
	if (rows == NULL)
	{
		mem_release(&mem);
		return AS_ENOMEM;
	}
	for (i = 0; i < P.n; i++)
		rows[i] = i;
	rc = fill_heuristic(&P, &S, rows, P.n, &mem, by_regret, opt);
	if (rc != AS_OK)
	{
		mem_release(&mem);
		return rc;
	}
	finish(&P, &S, by_regret ? AS_METHOD_REGRET : AS_METHOD_GREEDY, 0, 0,
		   row_rider, row_slot, stats);
	rc = mem.failed ? AS_ENOMEM : AS_OK;
	mem_release(&mem);
	return rc;
}

/* The sequential greedy baseline. */
int
as_solve_greedy(const AsInstance *inst, const AsOptions *opt,
				const AsAllocator *a, int *row_rider, int *row_slot,
				AsStats *stats)
{
	return run_heuristic(inst, opt, a, row_rider, row_slot, stats, 0);
}

/* The regret heuristic on the whole batch. */
int
as_solve_regret(const AsInstance *inst, const AsOptions *opt,
				const AsAllocator *a, int *row_rider, int *row_slot,
				AsStats *stats)
{
	return run_heuristic(inst, opt, a, row_rider, row_slot, stats, 1);
}

/*
 * Check that a solution only uses candidate arcs and respects capacities,
 * and compute its cost as the solvers do (cheapest duplicate arc, a
 * rider's orders on its cheapest slots).
 */
int
as_evaluate(const AsInstance *inst, const AsAllocator *a,
			const int *row_rider, int64_t *cost_q)
{
	Mem			mem = {a, {0}, 0, 0};
	Prep		P;
	int		   *rider_pos;
	int		   *load;
	int			rc,
				i,
				r,
				e;
	int64_t		total = 0;

	rc = prepare(inst, &mem, &P);
	if (rc != AS_OK)
	{
		mem_release(&mem);
		return rc;
	}
	rider_pos = mem_alloc(&mem, sizeof(int) * (inst->n_riders + 1));
	load = mem_alloc(&mem, sizeof(int) * (P.m + 1));
	if (mem.failed)
	{
		mem_release(&mem);
		return AS_ENOMEM;
	}
	for (r = 0; r < inst->n_riders; r++)
		rider_pos[r] = -1;
	for (r = 0; r < P.m; r++)
		rider_pos[P.rider_in[r]] = r;
	for (i = 0; i < P.n; i++)
	{
		int			in = P.row_in[i];
		int			ri = row_rider[in];
		int			found = 0;

		if (ri == AS_HELD)
		{
			total += P.hold[i];
			continue;
		}
		if (ri < 0 || ri >= inst->n_riders || rider_pos[ri] < 0)
		{
			rc = AS_EINVAL;
			break;
		}
		r = rider_pos[ri];
		for (e = P.arc_start[i]; e < P.arc_start[i + 1]; e++)
			if (P.arc_rider[e] == r)
			{
				total += P.arc_cost[e];
				found = 1;
				break;
			}
		if (!found ||
			load[r] >= P.slot_start[r + 1] - P.slot_start[r])
		{
			rc = AS_EINVAL;
			break;
		}
		total += P.pen[P.slot_start[r] + load[r]];
		load[r]++;
	}
	if (rc == AS_OK && cost_q)
		*cost_q = total;
	mem_release(&mem);
	return rc;
}
