/*-------------------------------------------------------------------------
 *
 * test_solver.c
 *	  Checks of the assignment solver against brute force and an
 *	  independent dense Hungarian method; prints TAP.
 *
 * Built and run by test/solver/run, without PostgreSQL.
 *
 * IDENTIFICATION
 *	  test/solver/test_solver.c
 *
 *-------------------------------------------------------------------------
 */
#include "assign_grid.h"
#include "assign_solver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXR 64
#define MAXD 64
#define MAXS 256
#define MAXE 8192

static int	n_test = 0;
static int	n_fail = 0;
static long live_blocks = 0;
static long fail_after = -1;	/* failing allocator: NULL after this many */

static void
ok(int cond, const char *fmt, const char *what)
{
	n_test++;
	if (!cond)
		n_fail++;
	printf("%sok %d - ", cond ? "" : "not ", n_test);
	printf(fmt, what);
	printf("\n");
	fflush(stdout);
}

static void *
t_alloc(void *ctx, size_t size)
{
	(void) ctx;
	if (fail_after == 0)
		return NULL;
	if (fail_after > 0)
		fail_after--;
	live_blocks++;
	return malloc(size);
}

static void
t_free(void *ctx, void *p)
{
	(void) ctx;
	live_blocks--;
	free(p);
}

static AsAllocator A = {t_alloc, t_free, NULL};

/* xorshift64*: reproducible across platforms */
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static int
rint_(int lo, int hi)
{
	return lo + (int) (rnd() % (uint64_t) (hi - lo + 1));
}

/* A random instance with its own storage. */
typedef struct Inst
{
	int			n,
				m,
				E;
	int64_t		row_id[MAXR];
	double		hold[MAXR];
	int64_t		rider_id[MAXD];
	int			slot_start[MAXD + 1];
	double		pen[MAXS];
	AsArc		arcs[MAXE];
} Inst;

static AsInstance
view(const Inst *t)
{
	AsInstance	v;

	v.n_rows = t->n;
	v.row_id = t->row_id;
	v.hold_cost = t->hold;
	v.n_riders = t->m;
	v.rider_id = t->rider_id;
	v.slot_start = t->slot_start;
	v.slot_penalty = t->pen;
	v.n_arcs = t->E;
	v.arcs = t->arcs;
	return v;
}

/*
 * Random instance: n rows, riders with 1..3 slots, total slots <= maxslots;
 * small integer costs (many ties) or fractional ones.
 */
static void
make_random(Inst *t, int n, int maxslots, int ties)
{
	int			i,
				r,
				slots = 0;
	int			used[1000] = {0};

	t->n = n;
	for (i = 0; i < n; i++)
	{
		int64_t		id;

		do
			id = rint_(1, 999);
		while (used[id]);
		used[id] = 1;
		t->row_id[i] = id;
		t->hold[i] = ties ? rint_(3, 12) : rint_(300, 1200) / 100.0;
	}
	memset(used, 0, sizeof(used));
	t->m = 0;
	t->slot_start[0] = 0;
	while (slots < maxslots && t->m < MAXD)
	{
		int			cap = rint_(1, 3);
		int64_t		id;
		double		p = 0;
		int			k;

		if (cap > maxslots - slots)
			cap = maxslots - slots;
		do
			id = rint_(1, 999);
		while (used[id]);
		used[id] = 1;
		t->rider_id[t->m] = id;
		for (k = 0; k < cap; k++)
		{
			p += ties ? rint_(0, 2) : rint_(0, 250) / 100.0;
			t->pen[slots + k] = (k == 0 && rint_(0, 1)) ? 0 : p;
			if (k > 0 && t->pen[slots + k] < t->pen[slots + k - 1])
				t->pen[slots + k] = t->pen[slots + k - 1];
		}
		slots += cap;
		t->m++;
		t->slot_start[t->m] = slots;
	}
	t->E = 0;
	for (i = 0; i < n; i++)
		for (r = 0; r < t->m; r++)
			if (rint_(0, 99) < 70)
			{
				t->arcs[t->E].row = i;
				t->arcs[t->E].rider = r;
				t->arcs[t->E].cost = ties ? rint_(1, 9) : rint_(100, 1100) / 100.0;
				t->E++;
				/* occasionally a duplicate at a higher cost */
				if (rint_(0, 99) < 5)
				{
					t->arcs[t->E] = t->arcs[t->E - 1];
					t->arcs[t->E].cost += 1;
					t->E++;
				}
			}
}

/* Brute force: every injective map of rows to slot columns or hold. */
static int64_t bf_c[MAXR][MAXS];	/* row x column cost, INT64_MAX: none */
static int	bf_ncol;
static int	bf_used[MAXS];
static int64_t bf_best;

static void
bf_rec(int i, int n, int64_t acc, const int64_t *hold)
{
	int			c;

	if (acc >= bf_best)
		return;					/* all costs here are >= 0 */
	if (i == n)
	{
		bf_best = acc;
		return;
	}
	bf_rec(i + 1, n, acc + hold[i], hold);
	for (c = 0; c < bf_ncol; c++)
		if (!bf_used[c] && bf_c[i][c] != INT64_MAX)
		{
			bf_used[c] = 1;
			bf_rec(i + 1, n, acc + bf_c[i][c], hold);
			bf_used[c] = 0;
		}
}

static int64_t
brute_force(const Inst *t)
{
	int			i,
				r,
				e,
				k;
	int64_t		hold[MAXR];

	bf_ncol = t->slot_start[t->m];
	for (i = 0; i < t->n; i++)
	{
		hold[i] = as_quantise(t->hold[i]);
		for (k = 0; k < bf_ncol; k++)
			bf_c[i][k] = INT64_MAX;
	}
	for (e = 0; e < t->E; e++)
	{
		i = t->arcs[e].row;
		r = t->arcs[e].rider;
		for (k = t->slot_start[r]; k < t->slot_start[r + 1]; k++)
		{
			int64_t		c = as_quantise(t->arcs[e].cost) + as_quantise(t->pen[k]);

			if (c < bf_c[i][k])
				bf_c[i][k] = c;
		}
	}
	memset(bf_used, 0, sizeof(bf_used));
	bf_best = INT64_MAX;
	bf_rec(0, t->n, 0, hold);
	return bf_best;
}

/*
 * Dense Hungarian method (O(n^2 m), potentials) on rows x (slot columns +
 * one hold column per row): an independent check for larger instances.
 */
static int64_t
hungarian(const Inst *t)
{
	int			n = t->n;
	int			S = t->slot_start[t->m];
	int			M = S + n;
	const int64_t BIG = (int64_t) 1 << 50;
	int64_t    *a = calloc((size_t) (n + 1) * (M + 1), sizeof(int64_t));
	int64_t    *u = calloc(n + 1, sizeof(int64_t));
	int64_t    *v = calloc(M + 1, sizeof(int64_t));
	int64_t    *minv = calloc(M + 1, sizeof(int64_t));
	int		   *p = calloc(M + 1, sizeof(int));
	int		   *way = calloc(M + 1, sizeof(int));
	char	   *used = calloc(M + 1, 1);
	int64_t		total = 0;
	int			i,
				j,
				e,
				k;

#define A_(i_, j_) a[(size_t) (i_) * (M + 1) + (j_)]
	for (i = 1; i <= n; i++)
		for (j = 1; j <= M; j++)
			A_(i, j) = BIG;
	for (e = 0; e < t->E; e++)
	{
		int			r = t->arcs[e].rider;

		i = t->arcs[e].row + 1;
		for (k = t->slot_start[r]; k < t->slot_start[r + 1]; k++)
		{
			int64_t		c = as_quantise(t->arcs[e].cost) + as_quantise(t->pen[k]);

			if (c < A_(i, k + 1))
				A_(i, k + 1) = c;
		}
	}
	for (i = 1; i <= n; i++)
		A_(i, S + i) = as_quantise(t->hold[i - 1]);

	for (i = 1; i <= n; i++)
	{
		int			j0 = 0;

		p[0] = i;
		for (j = 0; j <= M; j++)
		{
			minv[j] = INT64_MAX;
			used[j] = 0;
		}
		do
		{
			int			i0 = p[j0],
						j1 = 0;
			int64_t		delta = INT64_MAX;

			used[j0] = 1;
			for (j = 1; j <= M; j++)
				if (!used[j])
				{
					int64_t		cur = A_(i0, j) - u[i0] - v[j];

					if (cur < minv[j])
					{
						minv[j] = cur;
						way[j] = j0;
					}
					if (minv[j] < delta)
					{
						delta = minv[j];
						j1 = j;
					}
				}
			for (j = 0; j <= M; j++)
				if (used[j])
				{
					u[p[j]] += delta;
					v[j] -= delta;
				}
				else
					minv[j] -= delta;
			j0 = j1;
		} while (p[j0] != 0);
		do
		{
			int			j1 = way[j0];

			p[j0] = p[j1];
			j0 = j1;
		} while (j0);
	}
	for (j = 1; j <= M; j++)
		if (p[j])
			total += A_(p[j], j);
#undef A_
	free(a);
	free(u);
	free(v);
	free(minv);
	free(p);
	free(way);
	free(used);
	return total;
}

/* A copy of t with rows, riders and arcs in a random order. */
static void
shuffle(const Inst *t, Inst *s, int *row_map, int *rider_map)
{
	int			i,
				e;
	int			inv_r[MAXR],
				inv_d[MAXD];

	*s = *t;
	for (i = 0; i < t->n; i++)
		row_map[i] = i;
	for (i = t->n - 1; i > 0; i--)
	{
		int			j = rint_(0, i),
					x = row_map[i];

		row_map[i] = row_map[j];
		row_map[j] = x;
	}
	for (i = 0; i < t->m; i++)
		rider_map[i] = i;
	for (i = t->m - 1; i > 0; i--)
	{
		int			j = rint_(0, i),
					x = rider_map[i];

		rider_map[i] = rider_map[j];
		rider_map[j] = x;
	}
	/* new position p holds old row row_map[p] */
	for (i = 0; i < t->n; i++)
	{
		s->row_id[i] = t->row_id[row_map[i]];
		s->hold[i] = t->hold[row_map[i]];
		inv_r[row_map[i]] = i;
	}
	s->slot_start[0] = 0;
	for (i = 0; i < t->m; i++)
	{
		int			o = rider_map[i],
					cnt = t->slot_start[o + 1] - t->slot_start[o];

		s->rider_id[i] = t->rider_id[o];
		memcpy(&s->pen[s->slot_start[i]], &t->pen[t->slot_start[o]],
			   sizeof(double) * cnt);
		s->slot_start[i + 1] = s->slot_start[i] + cnt;
		inv_d[o] = i;
	}
	for (e = 0; e < t->E; e++)
	{
		s->arcs[e].row = inv_r[t->arcs[e].row];
		s->arcs[e].rider = inv_d[t->arcs[e].rider];
		s->arcs[e].cost = t->arcs[e].cost;
	}
	for (e = t->E - 1; e > 0; e--)
	{
		int			j = rint_(0, e);
		AsArc		x = s->arcs[e];

		s->arcs[e] = s->arcs[j];
		s->arcs[j] = x;
	}
}

/* Grid filter: the accept flags of the points. */
static int
accept_cb(void *ctx, int idx)
{
	return ((int *) ctx)[idx];
}

static double fake_now = 0;

/* Interrupt hook: counts its calls, asks to stop from call stop_at on. */
static long hook_calls = 0;
static long hook_stop_at = -1;

static int
hook(void *ctx)
{
	(void) ctx;
	hook_calls++;
	return hook_stop_at >= 0 && hook_calls >= hook_stop_at;
}

/*
 * A large instance on the heap: n rows, as many riders of one slot, each
 * row with arcs to its 6 neighbouring riders on a ring.
 */
typedef struct Big
{
	AsInstance	v;
	int64_t    *row_id,
			   *rider_id;
	double	   *hold,
			   *pen;
	int		   *slot_start;
	AsArc	   *arcs;
} Big;

static void
make_big(Big *g, int n)
{
	int			i,
				j,
				e = 0;

	g->row_id = malloc(sizeof(int64_t) * n);
	g->rider_id = malloc(sizeof(int64_t) * n);
	g->hold = malloc(sizeof(double) * n);
	g->pen = malloc(sizeof(double) * n);
	g->slot_start = malloc(sizeof(int) * (n + 1));
	g->arcs = malloc(sizeof(AsArc) * n * 6);
	for (i = 0; i < n; i++)
	{
		g->row_id[i] = i + 1;
		g->rider_id[i] = 1000000 + i;
		g->hold[i] = 5000;
		g->pen[i] = 0;
		g->slot_start[i] = i;
		for (j = 0; j < 6; j++)
		{
			g->arcs[e].row = i;
			g->arcs[e].rider = (i + j * 7) % n;
			g->arcs[e].cost = rint_(1, 4000);
			e++;
		}
	}
	g->slot_start[n] = n;
	g->v.n_rows = n;
	g->v.row_id = g->row_id;
	g->v.hold_cost = g->hold;
	g->v.n_riders = n;
	g->v.rider_id = g->rider_id;
	g->v.slot_start = g->slot_start;
	g->v.slot_penalty = g->pen;
	g->v.n_arcs = e;
	g->v.arcs = g->arcs;
}

static void
free_big(Big *g)
{
	free(g->row_id);
	free(g->rider_id);
	free(g->hold);
	free(g->pen);
	free(g->slot_start);
	free(g->arcs);
}

static double
fake_clock(void *ctx)
{
	(void) ctx;
	fake_now += 1.0;
	return fake_now;
}

/* Solve exactly, check the solution, compare with brute force. */
static int
check_exact(const Inst *t, int use_bf, int64_t *opt_out)
{
	AsInstance	v = view(t);
	int			rr[MAXR],
				rs[MAXR];
	AsStats		st;
	int64_t		ev;
	int64_t		ref;

	if (as_solve_exact(&v, NULL, &A, rr, rs, &st) != AS_OK)
		return 0;
	if (st.method != AS_METHOD_EXACT || st.n_exact_rows != t->n)
		return 0;
	if (as_evaluate(&v, &A, rr, &ev) != AS_OK || ev != st.total_cost_q)
		return 0;
	ref = use_bf ? brute_force(t) : hungarian(t);
	if (ref != st.total_cost_q)
	{
		fprintf(stderr, "# n=%d m=%d E=%d solver=%lld ref=%lld\n", t->n, t->m,
				t->E, (long long) st.total_cost_q, (long long) ref);
		return 0;
	}
	*opt_out = st.total_cost_q;
	return 1;
}

static int
check_heuristics(const Inst *t, int64_t opt)
{
	AsInstance	v = view(t);
	int			rr[MAXR];
	AsStats		st;
	int64_t		ev;

	if (as_solve_greedy(&v, NULL, &A, rr, NULL, &st) != AS_OK ||
		as_evaluate(&v, &A, rr, &ev) != AS_OK || ev != st.total_cost_q ||
		st.total_cost_q < opt)
		return 0;
	if (as_solve_regret(&v, NULL, &A, rr, NULL, &st) != AS_OK ||
		as_evaluate(&v, &A, rr, &ev) != AS_OK || ev != st.total_cost_q ||
		st.total_cost_q < opt)
		return 0;
	return 1;
}

/* Same answer (by ids) whatever the order of the input arrays. */
static int
check_determinism(const Inst *t)
{
	static Inst s;
	int			row_map[MAXR],
				rider_map[MAXD];
	int			r1[MAXR],
				r2[MAXR],
				s1[MAXR],
				s2[MAXR];
	AsInstance	v = view(t),
				w;
	int			i;

	shuffle(t, &s, row_map, rider_map);
	w = view(&s);
	if (as_solve_exact(&v, NULL, &A, r1, s1, NULL) != AS_OK ||
		as_solve_exact(&w, NULL, &A, r2, s2, NULL) != AS_OK)
		return 0;
	for (i = 0; i < s.n; i++)
	{
		int			o = row_map[i];
		int64_t		a = r1[o] == AS_HELD ? -1 : t->rider_id[r1[o]];
		int64_t		b = r2[i] == AS_HELD ? -1 : s.rider_id[r2[i]];

		if (a != b || s1[o] != s2[i])
			return 0;
	}
	return 1;
}

/*
 * The grid's k nearest against brute force.  ties: points on a coarse
 * lattice, so that many lie at one distance; keyed: those are ordered by a
 * key of each point (a permutation of the indexes, as rider ids read in
 * any order), else by index.
 */
static int
check_grid(int npts, int ties, int keyed)
{
	static double x[4000],
				y[4000];
	static int	acc[4000];
	static long long key[4000];
	int			i,
				q;
	AsGrid	   *g;

	for (i = 0; i < npts; i++)
	{
		x[i] = ties ? rint_(0, 20) * 50.0 : rint_(0, 1000000) / 100.0;
		y[i] = ties ? rint_(0, 20) * 50.0 : rint_(0, 1000000) / 100.0;
		acc[i] = rint_(0, 3) != 0;
		key[i] = i;
	}
	/* shuffle the keys: the nearest by key differ from those by index */
	for (i = npts - 1; i > 0; i--)
	{
		int			j = rint_(0, i);
		long long	t = key[i];

		key[i] = key[j];
		key[j] = t;
	}
	g = as_grid_build(x, y, keyed ? key : NULL, npts, ties ? 75.0 : 0, &A);
	if (g == NULL)
		return 0;
	for (q = 0; q < 200; q++)
	{
		double		qx = rint_(-2000, 12000),
					qy = rint_(-2000, 12000);
		int			k = rint_(1, 12);
		double		rad = rint_(0, 3) == 0 ? 1e18 : rint_(100, 4000);
		int			useacc = rint_(0, 1);
		int			gi[16],
					bi[16];
		double		gd[16],
					bd[16];
		int			gn,
					bn = 0,
					j;

		gn = as_grid_knn(g, qx, qy, k, rad, useacc ? accept_cb : NULL, acc,
						 gi, gd);
		/* brute force: sort by (distance, key or index) */
		for (i = 0; i < npts; i++)
		{
			double		d2 = (x[i] - qx) * (x[i] - qx) + (y[i] - qy) * (y[i] - qy);
			long long	ki = keyed ? key[i] : i;

			if (d2 > rad * rad || (useacc && !acc[i]))
				continue;
			if (bn == k && (d2 > bd[k - 1] ||
							(d2 == bd[k - 1] && ki > (keyed ? key[bi[k - 1]] : bi[k - 1]))))
				continue;
			j = bn < k ? bn++ : k - 1;
			while (j > 0 && (bd[j - 1] > d2 ||
							 (bd[j - 1] == d2 && (keyed ? key[bi[j - 1]] : bi[j - 1]) > ki)))
			{
				bd[j] = bd[j - 1];
				bi[j] = bi[j - 1];
				j--;
			}
			bd[j] = d2;
			bi[j] = i;
		}
		if (gn != bn)
		{
			as_grid_free(g, &A);
			return 0;
		}
		for (j = 0; j < gn; j++)
			if (gi[j] != bi[j])
			{
				as_grid_free(g, &A);
				return 0;
			}
	}
	as_grid_free(g, &A);
	return 1;
}

int
main(void)
{
	static Inst t;
	int			n,
				it,
				good;
	char		label[128];

	/* exact = brute force, greedy and regret >= exact, determinism */
	for (n = 1; n <= 7; n++)
	{
		int			ex = 1,
					he = 1,
					de = 1;

		for (it = 0; it < 400; it++)
		{
			int64_t		opt = 0;

			make_random(&t, n, rint_(1, 7), it % 2);
			if (!check_exact(&t, 1, &opt))
				ex = 0;
			if (!check_heuristics(&t, opt))
				he = 0;
			if (!check_determinism(&t))
				de = 0;
		}
		snprintf(label, sizeof(label), "%d orders x up to 7 slot columns", n);
		ok(ex, "exact equals brute force on 400 random instances, %s", label);
		ok(he, "greedy and regret never below optimal, %s", label);
		ok(de, "same solution under any input order, %s", label);
	}

	/* larger: against a dense Hungarian method */
	good = 1;
	for (it = 0; it < 60; it++)
	{
		int64_t		opt = 0;

		make_random(&t, rint_(20, 60), rint_(10, 120), it % 2);
		if (!check_exact(&t, 0, &opt) || !check_heuristics(&t, opt) ||
			!check_determinism(&t))
			good = 0;
	}
	ok(good, "%s", "exact equals a dense Hungarian solve on 60 instances up to 60 orders");

	/* ties: lowest order id takes the lowest rider id */
	{
		int			rr[3];
		AsInstance	v;
		int			i,
					r;

		memset(&t, 0, sizeof(t));
		t.n = 3;
		t.m = 3;
		t.row_id[0] = 30;
		t.row_id[1] = 10;
		t.row_id[2] = 20;
		t.rider_id[0] = 7;
		t.rider_id[1] = 5;
		t.rider_id[2] = 6;
		for (i = 0; i < 3; i++)
		{
			t.hold[i] = 100;
			t.slot_start[i + 1] = i + 1;
			t.pen[i] = 0;
			for (r = 0; r < 3; r++)
			{
				t.arcs[t.E].row = i;
				t.arcs[t.E].rider = r;
				t.arcs[t.E].cost = 5;
				t.E++;
			}
		}
		v = view(&t);
		good = as_solve_exact(&v, NULL, &A, rr, NULL, NULL) == AS_OK &&
			rr[1] == 1 && rr[2] == 2 && rr[0] == 0;
		ok(good, "%s", "all-equal costs: order 10 -> rider 5, 20 -> 6, 30 -> 7");

		/* one rider, two equal orders: the lower order id gets it */
		t.n = 2;
		t.m = 1;
		t.E = 0;
		t.row_id[0] = 9;
		t.row_id[1] = 4;
		t.slot_start[1] = 1;
		for (i = 0; i < 2; i++)
		{
			t.hold[i] = 10;
			t.arcs[t.E].row = i;
			t.arcs[t.E].rider = 0;
			t.arcs[t.E].cost = 3;
			t.E++;
		}
		v = view(&t);
		good = as_solve_exact(&v, NULL, &A, rr, NULL, NULL) == AS_OK &&
			rr[1] == 0 && rr[0] == AS_HELD;
		ok(good, "%s", "two orders tie for one rider: the lower order id gets it");
	}

	/* holds: an order whose every option costs more than its hold waits */
	{
		int			rr[2];
		AsInstance	v;

		memset(&t, 0, sizeof(t));
		t.n = 2;
		t.m = 1;
		t.row_id[0] = 1;
		t.row_id[1] = 2;
		t.hold[0] = 5;
		t.hold[1] = 5;
		t.rider_id[0] = 1;
		t.slot_start[1] = 2;
		t.pen[0] = 0;
		t.pen[1] = 4;
		t.arcs[0].row = 0;
		t.arcs[0].rider = 0;
		t.arcs[0].cost = 2;
		t.arcs[1].row = 1;
		t.arcs[1].rider = 0;
		t.arcs[1].cost = 3;
		t.E = 2;
		v = view(&t);
		/* second slot costs 3 + 4 = 7 > hold 5: order 2 waits */
		good = as_solve_exact(&v, NULL, &A, rr, NULL, NULL) == AS_OK &&
			rr[0] == 0 && rr[1] == AS_HELD;
		ok(good, "%s", "the load penalty of a second slot above the hold makes an order wait");
		t.pen[1] = 1;
		good = as_solve_exact(&v, NULL, &A, rr, NULL, NULL) == AS_OK &&
			rr[0] == 0 && rr[1] == 0;
		ok(good, "%s", "a cheap second slot takes a second order on one rider");
	}

	/* budgets */
	{
		int			rr[MAXR];
		AsStats		st;
		AsOptions	o;
		AsInstance	v;
		int64_t		ev,
					opt = 0;

		make_random(&t, 50, 80, 0);
		v = view(&t);
		check_exact(&t, 0, &opt);
		memset(&o, 0, sizeof(o));
		o.max_arcs = 10;
		good = as_solve_exact(&v, &o, &A, rr, NULL, &st) == AS_OK &&
			st.method == AS_METHOD_REGRET_SIZE && st.n_exact_rows == 0 &&
			as_evaluate(&v, &A, rr, &ev) == AS_OK && ev == st.total_cost_q &&
			ev >= opt;
		ok(good, "%s", "over the size budget: regret heuristic, feasible, reported");
		memset(&o, 0, sizeof(o));
		o.time_budget_ms = 2.5;
		o.now_ms = fake_clock;
		good = as_solve_exact(&v, &o, &A, rr, NULL, &st) == AS_OK &&
			st.method == AS_METHOD_PARTIAL_TIME && st.n_exact_rows > 0 &&
			st.n_exact_rows < t.n &&
			as_evaluate(&v, &A, rr, &ev) == AS_OK && ev == st.total_cost_q &&
			ev >= opt;
		ok(good, "%s", "over the time budget: exact prefix, regret rest, feasible, reported");
	}

	/* bad input */
	{
		int			rr[MAXR];
		AsInstance	v;

		make_random(&t, 5, 5, 1);
		t.row_id[1] = t.row_id[0];
		v = view(&t);
		ok(as_solve_exact(&v, NULL, &A, rr, NULL, NULL) == AS_EINVAL,
		   "%s", "duplicate order ids are rejected");
		make_random(&t, 5, 5, 1);
		if (t.slot_start[1] >= 2)
			t.pen[1] = t.pen[0] - 1;
		else
			t.pen[0] = -1;
		t.arcs[t.E].row = 0;
		t.arcs[t.E].rider = 0;
		t.arcs[t.E].cost = 1;
		t.E++;
		v = view(&t);
		ok(as_solve_exact(&v, NULL, &A, rr, NULL, NULL) == AS_EINVAL,
		   "%s", "decreasing or negative slot penalties are rejected");
	}

	/* allocation failure at every step: clean error, nothing leaked */
	{
		int			rr[MAXR];
		AsInstance	v;
		long		k;

		make_random(&t, 7, 7, 1);
		v = view(&t);
		good = 1;
		for (k = 0; k < 30; k++)
		{
			int			rc;

			fail_after = k;
			rc = as_solve_exact(&v, NULL, &A, rr, NULL, NULL);
			fail_after = -1;
			if (rc != AS_ENOMEM && rc != AS_OK)
				good = 0;
		}
		ok(good && live_blocks == 0, "%s",
		   "allocation failures give AS_ENOMEM and release everything");
	}

	/* the interrupt hook stops every long solve, and leaves nothing behind */
	{
		static int	rr[20000],
					r2[20000];
		Big			g;
		AsOptions	o;
		AsStats		st,
					st2;
		int			rc;

		make_big(&g, 20000);
		memset(&o, 0, sizeof(o));
		o.check = hook;

		hook_calls = 0;
		hook_stop_at = -1;
		rc = as_solve_exact(&g.v, &o, &A, rr, NULL, &st);
		good = rc == AS_OK && hook_calls > 0 &&
			as_solve_exact(&g.v, NULL, &A, r2, NULL, &st2) == AS_OK &&
			st.total_cost_q == st2.total_cost_q &&
			memcmp(rr, r2, sizeof(rr)) == 0;
		ok(good, "%s", "a hook that returns 0 is called and changes nothing (exact)");

		hook_calls = 0;
		hook_stop_at = 1;
		ok(as_solve_exact(&g.v, &o, &A, rr, NULL, &st) == AS_ECANCELED &&
		   hook_calls == 1 && live_blocks == 0,
		   "%s", "the hook stops the exact solve with AS_ECANCELED, nothing leaked");

		hook_calls = 0;
		hook_stop_at = 3;
		ok(as_solve_exact(&g.v, &o, &A, rr, NULL, &st) == AS_ECANCELED &&
		   hook_calls == 3 && live_blocks == 0,
		   "%s", "... also when it asks only on a later call");

		hook_calls = 0;
		hook_stop_at = 1;
		ok(as_solve_regret(&g.v, &o, &A, rr, NULL, &st) == AS_ECANCELED &&
		   hook_calls == 1 && live_blocks == 0,
		   "%s", "the hook stops the regret heuristic with AS_ECANCELED");
		hook_calls = 0;
		ok(as_solve_greedy(&g.v, &o, &A, rr, NULL, &st) == AS_ECANCELED &&
		   hook_calls == 1 && live_blocks == 0,
		   "%s", "the hook stops the greedy baseline with AS_ECANCELED");

		/* the size-budget fallback runs the regret heuristic: stoppable too */
		hook_calls = 0;
		o.max_arcs = 10;
		ok(as_solve_exact(&g.v, &o, &A, rr, NULL, &st) == AS_ECANCELED &&
		   hook_calls == 1 && live_blocks == 0,
		   "%s", "the hook stops the size-budget fallback with AS_ECANCELED");
		hook_stop_at = -1;
		hook_calls = 0;
		ok(as_solve_regret(&g.v, &o, &A, rr, NULL, &st) == AS_OK && hook_calls > 0,
		   "%s", "a hook that returns 0 lets the regret heuristic finish");
		free_big(&g);
	}

	/*
	 * What the backend reports as DP307 ("the solver failed"): a return code
	 * other than AS_OK and AS_ENOMEM.  Non-finite or out-of-range costs are
	 * AS_EINVAL; the backend rules them out (matching_settings_finite, the
	 * clamps in assign.c), so DP307 only marks an internal failure.
	 */
	{
		int			rr[MAXR];
		AsInstance	v;
		double		bad[4] = {1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0, AS_COST_MAX * 2};
		int			b,
					all = 1;

		for (b = 0; b < 4; b++)
		{
			make_random(&t, 5, 5, 1);
			t.hold[2] = bad[b];
			v = view(&t);
			if (as_solve_exact(&v, NULL, &A, rr, NULL, NULL) != AS_EINVAL)
				all = 0;
			make_random(&t, 5, 5, 1);
			if (t.E > 0)
				t.arcs[0].cost = bad[b];
			v = view(&t);
			if (t.E > 0 && as_solve_exact(&v, NULL, &A, rr, NULL, NULL) != AS_EINVAL)
				all = 0;
		}
		ok(all, "%s", "infinite, NaN and out-of-range costs are rejected with AS_EINVAL");
		ok(strcmp(as_strerror(AS_EINVAL), as_strerror(AS_ECANCELED)) != 0 &&
		   strcmp(as_strerror(AS_ECANCELED), "unknown error") != 0 &&
		   strcmp(as_strerror(99), "unknown error") == 0,
		   "%s", "every return code has its own text");
	}

	/* grid */
	ok(check_grid(3000, 0, 0), "%s", "grid k-nearest equals brute force (radius, filter)");
	ok(check_grid(2000, 1, 0), "%s", "grid k-nearest equals brute force with ties (lower index first)");
	ok(check_grid(2000, 1, 1), "%s", "grid k-nearest equals brute force with ties by key (lower key first, keys shuffled)");
	ok(live_blocks == 0, "%s", "no allocation left behind");

	printf("1..%d\n", n_test);
	return n_fail ? 1 : 0;
}
