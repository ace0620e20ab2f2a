/*-------------------------------------------------------------------------
 *
 * solver_bench.c
 *	  Speed and quality of the assignment solver on synthetic batches, and
 *	  a replay of Meal Delivery Routing Problem instances.
 *
 * Three parts, each printing its figures:
 *	  scale    1,000,000 riders (200,000 idle) and 1,000 orders in one zone:
 *			   projection + grid build, candidates, exact solve (median)
 *	  quality  riders/orders = 1.0, 1.2, 2.0: total pickup time of the exact
 *			   solve against sequential nearest-idle-rider greedy
 *	  mdrp     day-long replays of MDRP instances (read at run time from the
 *			   directory given with -m), batch every few minutes, exact
 *			   versus greedy: click-to-door time and lateness
 *
 * Usage: solver_bench [-r runs] [-m mdrp_dir] [-n max_instances]
 *
 * IDENTIFICATION
 *	  bench/assign/solver_bench.c
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include "assign_solver.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *
b_alloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size);
}

static void
b_free(void *ctx, void *p)
{
	(void) ctx;
	free(p);
}

static AsAllocator A = {b_alloc, b_free, NULL};

static double
now_ms(void *ctx)
{
	struct timespec ts;

	(void) ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1.0e6;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static double
urand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return ((rng * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

static double
nrand(void)
{
	double		u = urand(),
				v = urand();

	return sqrt(-2.0 * log(u + 1e-300)) * cos(2 * 3.14159265358979 * v);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : (x > y);
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Growable arc list. */
typedef struct Arcs
{
	AsArc	   *a;
	int			n,
				cap;
} Arcs;

static void
arcs_add(Arcs *l, int row, int rider, double cost)
{
	if (l->n == l->cap)
	{
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->a = realloc(l->a, sizeof(AsArc) * l->cap);
	}
	l->a[l->n].row = row;
	l->a[l->n].rider = rider;
	l->a[l->n].cost = cost;
	l->n++;
}

/* ---------------------------------------------------------------- scale */

#define CITY_LON 121.47
#define CITY_LAT 31.23
#define SPEED_MS 5.0			/* rider speed, metres per second */
#define HOLD_S 1800.0			/* an order waits rather than cost more */

/*
 * One zone about 40 km across; riders cluster around hot spots, pickups at
 * merchants in the same hot spots.
 */
static void
scale_bench(int runs)
{
	const int	NR = 1000000,
				NI = 200000,
				NO = 1000,
				K = 16,
				CAP = 3;
	const double RADIUS = 5000;
	double	   *lon = malloc(sizeof(double) * NR),
			   *lat = malloc(sizeof(double) * NR);
	char	   *idle = calloc(NR, 1);
	double	   *olon = malloc(sizeof(double) * NO),
			   *olat = malloc(sizeof(double) * NO);
	double	   *t_grid = malloc(sizeof(double) * runs),
			   *t_cand = malloc(sizeof(double) * runs),
			   *t_solve = malloc(sizeof(double) * runs),
			   *t_total = malloc(sizeof(double) * runs);
	double		hx[64],
				hy[64];
	int			i,
				run,
				h;
	double		mlon = 0,
				mlat = 0;
	AsStats		st = {0};
	int			narcs = 0;

	for (h = 0; h < 64; h++)
	{
		hx[h] = CITY_LON + (urand() - 0.5) * 0.36;
		hy[h] = CITY_LAT + (urand() - 0.5) * 0.30;
	}
	for (i = 0; i < NR; i++)
	{
		if (urand() < 0.5)
		{
			lon[i] = CITY_LON + (urand() - 0.5) * 0.42;
			lat[i] = CITY_LAT + (urand() - 0.5) * 0.36;
		}
		else
		{
			h = (int) (urand() * 64);
			lon[i] = hx[h] + nrand() * 0.012;
			lat[i] = hy[h] + nrand() * 0.010;
		}
	}
	/* exactly NI idle riders */
	for (i = 0; i < NI;)
	{
		int			r = (int) (urand() * NR);

		if (!idle[r])
		{
			idle[r] = 1;
			i++;
		}
	}
	for (i = 0; i < NO; i++)
	{
		h = (int) (urand() * 64);
		olon[i] = hx[h] + nrand() * 0.008;
		olat[i] = hy[h] + nrand() * 0.007;
		mlon += olon[i];
		mlat += olat[i];
	}
	mlon /= NO;
	mlat /= NO;

	for (run = 0; run < runs; run++)
	{
		double		t0 = now_ms(NULL),
					t1,
					t2,
					t3;
		double	   *x = malloc(sizeof(double) * NI),
				   *y = malloc(sizeof(double) * NI);
		int		   *map = malloc(sizeof(int) * NI);
		int64_t    *rid = malloc(sizeof(int64_t) * NI);
		int		   *slot_start = malloc(sizeof(int) * (NI + 1));
		double	   *pen = malloc(sizeof(double) * NI * CAP);
		int64_t    *oid = malloc(sizeof(int64_t) * NO);
		double	   *hold = malloc(sizeof(double) * NO);
		int		   *rr = malloc(sizeof(int) * NO);
		int			n = 0,
					o,
					k;
		AsGrid	   *g;
		Arcs		arcs = {0};
		AsInstance	inst;
		AsOptions	opt = {0};

		/* eligible riders, projected around the zone's centroid */
		for (i = 0; i < NR; i++)
			if (idle[i])
			{
				as_project(mlon, mlat, lon[i], lat[i], &x[n], &y[n]);
				map[n] = i;
				rid[n] = i + 1;
				slot_start[n] = n * CAP;
				for (k = 0; k < CAP; k++)
					pen[n * CAP + k] = k == 0 ? 0 : 120.0 * k * k;
				n++;
			}
		slot_start[n] = n * CAP;
		g = as_grid_build(x, y, n, 0, &A);
		t1 = now_ms(NULL);

		for (o = 0; o < NO; o++)
		{
			int			idx[64];
			double		d[64],
						ox,
						oy;
			int			c;

			as_project(mlon, mlat, olon[o], olat[o], &ox, &oy);
			c = as_grid_knn(g, ox, oy, K, RADIUS, NULL, NULL, idx, d);
			for (k = 0; k < c; k++)
				arcs_add(&arcs, o, idx[k], d[k] / SPEED_MS);
			oid[o] = o + 1;
			hold[o] = HOLD_S;
		}
		t2 = now_ms(NULL);

		inst.n_rows = NO;
		inst.row_id = oid;
		inst.hold_cost = hold;
		inst.n_riders = n;
		inst.rider_id = rid;
		inst.slot_start = slot_start;
		inst.slot_penalty = pen;
		inst.n_arcs = arcs.n;
		inst.arcs = arcs.a;
		opt.time_budget_ms = 50;
		opt.now_ms = now_ms;
		if (as_solve_exact(&inst, &opt, &A, rr, NULL, &st) != AS_OK)
		{
			fprintf(stderr, "solve failed\n");
			exit(1);
		}
		t3 = now_ms(NULL);
		t_grid[run] = t1 - t0;
		t_cand[run] = t2 - t1;
		t_solve[run] = t3 - t2;
		t_total[run] = t3 - t0;
		narcs = arcs.n;
		as_grid_free(g, &A);
		free(arcs.a);
		free(x);
		free(y);
		free(map);
		free(rid);
		free(slot_start);
		free(pen);
		free(oid);
		free(hold);
		free(rr);
	}
	printf("scale: %d riders, %d idle (cap %d), %d orders, k=%d, radius %.0f m, %d runs\n",
		   NR, NI, CAP, NO, K, RADIUS, runs);
	printf("  project+grid build  median %8.2f ms\n", median(t_grid, runs));
	printf("  candidates (%5d)  median %8.2f ms\n", narcs, median(t_cand, runs));
	printf("  exact solve         median %8.2f ms  (method %d, %d assigned, %d held, %ld pops)\n",
		   median(t_solve, runs), st.method, st.n_assigned, st.n_held, st.n_pops);
	printf("  total               median %8.2f ms\n", median(t_total, runs));
	free(lon);
	free(lat);
	free(idle);
	free(olon);
	free(olat);
	free(t_grid);
	free(t_cand);
	free(t_solve);
	free(t_total);
}

/* -------------------------------------------------------------- quality */

static char *q_taken;

static int
q_free(void *ctx, int idx)
{
	(void) ctx;
	return !q_taken[idx];
}

/*
 * One quality instance: no orders, nr idle riders taking one order each,
 * laid out over a 10 km square as q_layout says.  Greedy takes orders in id order,
 * each the nearest rider still free (exhaustive search through the grid).
 * The exact solve runs on the k nearest candidates plus greedy's own
 * choice for each order, so it can never do worse than greedy.
 */
static int q_layout = 0;		/* 0: hot-spot orders, 1: uniform, 2: both\n\t\t\t\t\t\t\t\t * around hot spots */

static void
quality_one(int no, int nr, int K, double *c_exact, double *c_greedy,
			double *c_exact_knn, int *held_knn)
{
	double	   *x = malloc(sizeof(double) * nr),
			   *y = malloc(sizeof(double) * nr),
			   *ox = malloc(sizeof(double) * no),
			   *oy = malloc(sizeof(double) * no);
	int64_t    *rid = malloc(sizeof(int64_t) * nr),
			   *oid = malloc(sizeof(int64_t) * no);
	int		   *slot_start = malloc(sizeof(int) * (nr + 1));
	double	   *pen = calloc(nr, sizeof(double));
	double	   *hold = malloc(sizeof(double) * no);
	int		   *rr = malloc(sizeof(int) * no);
	double		hx[20],
				hy[20];
	int			i,
				h,
				k;
	AsGrid	   *g;
	Arcs		arcs = {0};
	AsInstance	inst;
	AsStats		st;
	double		greedy = 0;

	for (h = 0; h < 20; h++)
	{
		hx[h] = urand() * 10000;
		hy[h] = urand() * 10000;
	}
	for (i = 0; i < nr; i++)
	{
		if (q_layout == 2 && urand() < 0.7)
		{
			h = (int) (urand() * 20);
			x[i] = hx[h] + nrand() * 800;
			y[i] = hy[h] + nrand() * 800;
		}
		else
		{
			x[i] = urand() * 10000;
			y[i] = urand() * 10000;
		}
		rid[i] = i + 1;
		slot_start[i] = i;
	}
	slot_start[nr] = nr;
	for (i = 0; i < no; i++)
	{
		h = (int) (urand() * 20);
		ox[i] = q_layout == 1 ? urand() * 10000 : hx[h] + nrand() * 600;
		oy[i] = q_layout == 1 ? urand() * 10000 : hy[h] + nrand() * 600;
		oid[i] = i + 1;
		hold[i] = 1.0e6;		/* assign whenever a rider is left */
	}
	g = as_grid_build(x, y, nr, 0, &A);
	q_taken = calloc(nr, 1);
	for (i = 0; i < no; i++)
	{
		int			idx[64];
		double		d[64];
		int			c = as_grid_knn(g, ox[i], oy[i], K, 1e18, NULL, NULL, idx, d);

		for (k = 0; k < c; k++)
			arcs_add(&arcs, i, idx[k], d[k] / SPEED_MS);
	}
	inst.n_rows = no;
	inst.row_id = oid;
	inst.hold_cost = hold;
	inst.n_riders = nr;
	inst.rider_id = rid;
	inst.slot_start = slot_start;
	inst.slot_penalty = pen;
	inst.n_arcs = arcs.n;
	inst.arcs = arcs.a;
	as_solve_exact(&inst, NULL, &A, rr, NULL, &st);
	*c_exact_knn = st.total_cost;
	*held_knn = st.n_held;

	/* greedy, and its choices added to the candidates */
	for (i = 0; i < no; i++)
	{
		int			idx[1];
		double		d[1];

		if (as_grid_knn(g, ox[i], oy[i], 1, 1e18, q_free, NULL, idx, d) == 1)
		{
			q_taken[idx[0]] = 1;
			greedy += d[0] / SPEED_MS;
			arcs_add(&arcs, i, idx[0], d[0] / SPEED_MS);
		}
		else
			greedy += hold[i];
	}
	inst.n_arcs = arcs.n;
	inst.arcs = arcs.a;
	as_solve_exact(&inst, NULL, &A, rr, NULL, &st);
	*c_exact = st.total_cost;
	*c_greedy = greedy;

	as_grid_free(g, &A);
	free(q_taken);
	free(arcs.a);
	free(x);
	free(y);
	free(ox);
	free(oy);
	free(rid);
	free(oid);
	free(slot_start);
	free(pen);
	free(hold);
	free(rr);
}

static int q_k = 16;			/* candidates per order in the quality runs */

static void
quality_bench(int seeds, int layout)
{
	const double ratios[] = {1.0, 1.2, 2.0};
	const char *names[] = {
		"orders in 20 hot spots, riders uniform",
		"orders and riders uniform",
		"orders in 20 hot spots, 70% of riders around them"
	};
	const int	NO = 1000;
	int			q,
				s,
				l;

	printf("quality: %d orders, idle riders of capacity 1, 10 x 10 km, cost = pickup seconds at %.0f m/s,\n"
		   "  every order assigned while riders last; exact on the %d nearest riders plus greedy's choice;\n"
		   "  mean of %d seeds per line (the same seeds every run)\n", NO, SPEED_MS, q_k, seeds);
	printf("  %-50s %-5s %9s %9s %8s %8s %8s %s\n", "layout", "ratio",
		   "greedy s", "exact s", "saving", "min", "max", "unmatched(k only)");
	for (l = 0; l < 3; l++)
	{
		if (layout >= 0 && l != layout)
			continue;
		q_layout = l;
		for (q = 0; q < 3; q++)
		{
			double		sg = 0,
						se = 0,
						mn = 1e9,
						mx = -1e9;
			int			held = 0;

			for (s = 0; s < seeds; s++)
			{
				double		ce,
							cg,
							ck,
							sav;
				int			hk;

				/* the same instances whatever else runs */
				rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t) (l * 100 + q * 10 + s + 1) << 32);

				quality_one(NO, (int) (NO * ratios[q] + 0.5), q_k, &ce, &cg, &ck, &hk);
				sg += cg;
				se += ce;
				held += hk;
				sav = 1 - ce / cg;
				if (sav < mn)
					mn = sav;
				if (sav > mx)
					mx = sav;
			}
			printf("  %-50s %-5.1f %9.1f %9.1f %7.1f%% %7.1f%% %7.1f%% %.1f\n",
				   names[l], ratios[q], sg / seeds / NO, se / seeds / NO,
				   100 * (1 - se / sg), 100 * mn, 100 * mx, (double) held / seeds);
		}
	}
}

/* ----------------------------------------------------------------- mdrp */

typedef struct Mdrp
{
	int			no,
				nc,
				nrest;
	double	   *ox,
			   *oy;
	int		   *place,
			   *rest,
			   *ready;
	double	   *cx,
			   *cy;
	int		   *on,
			   *off;
	double	   *rx,
			   *ry;
	int			mpm,
				svc_pick,
				svc_drop;
} Mdrp;

/* Read a tab-separated MDRP table: skip the header, then rows of ncol. */
static int
read_table(const char *dir, const char *name, int ncol, long **out)
{
	char		path[1024],
				line[512];
	FILE	   *f;
	int			n = 0,
				cap = 256;
	long	   *v = malloc(sizeof(long) * cap * ncol);

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f == NULL)
	{
		free(v);
		return -1;
	}
	if (fgets(line, sizeof(line), f) == NULL)
	{
		fclose(f);
		free(v);
		return -1;
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *p = line;
		int			c;

		if (n == cap)
		{
			cap *= 2;
			v = realloc(v, sizeof(long) * cap * ncol);
		}
		for (c = 0; c < ncol; c++)
		{
			while (*p && (*p < '0' || *p > '9') && *p != '-')
				p++;			/* ids carry a letter prefix: o1, c1, r1 */
			v[n * ncol + c] = strtol(p, &p, 10);
		}
		n++;
	}
	fclose(f);
	*out = v;
	return n;
}

static int
mdrp_load(const char *dir, Mdrp *m)
{
	long	   *o,
			   *c,
			   *r,
			   *p;
	int			i;

	m->no = read_table(dir, "orders.txt", 6, &o);
	m->nc = read_table(dir, "couriers.txt", 5, &c);
	m->nrest = read_table(dir, "restaurants.txt", 3, &r);
	if (m->no <= 0 || m->nc <= 0 || m->nrest <= 0 ||
		read_table(dir, "instance_parameters.txt", 7, &p) != 1)
		return -1;
	m->mpm = (int) p[0];
	m->svc_pick = (int) p[1];
	m->svc_drop = (int) p[2];
	free(p);
	m->ox = malloc(sizeof(double) * m->no);
	m->oy = malloc(sizeof(double) * m->no);
	m->place = malloc(sizeof(int) * m->no);
	m->rest = malloc(sizeof(int) * m->no);
	m->ready = malloc(sizeof(int) * m->no);
	for (i = 0; i < m->no; i++)
	{
		/* ids are 1..n in file order in these instances; index by row */
		m->ox[i] = o[i * 6 + 1];
		m->oy[i] = o[i * 6 + 2];
		m->place[i] = (int) o[i * 6 + 3];
		m->rest[i] = (int) o[i * 6 + 4] - 1;
		m->ready[i] = (int) o[i * 6 + 5];
	}
	m->cx = malloc(sizeof(double) * m->nc);
	m->cy = malloc(sizeof(double) * m->nc);
	m->on = malloc(sizeof(int) * m->nc);
	m->off = malloc(sizeof(int) * m->nc);
	for (i = 0; i < m->nc; i++)
	{
		m->cx[i] = c[i * 5 + 1];
		m->cy[i] = c[i * 5 + 2];
		m->on[i] = (int) c[i * 5 + 3];
		m->off[i] = (int) c[i * 5 + 4];
	}
	m->rx = malloc(sizeof(double) * m->nrest);
	m->ry = malloc(sizeof(double) * m->nrest);
	for (i = 0; i < m->nrest; i++)
	{
		int			id = (int) r[i * 3] - 1;

		if (id < 0 || id >= m->nrest)
			return -1;
		m->rx[id] = r[i * 3 + 1];
		m->ry[id] = r[i * 3 + 2];
	}
	for (i = 0; i < m->no; i++)
		if (m->rest[i] < 0 || m->rest[i] >= m->nrest)
			return -1;
	free(o);
	free(c);
	free(r);
	return 0;
}

static void
mdrp_free(Mdrp *m)
{
	free(m->ox);
	free(m->oy);
	free(m->place);
	free(m->rest);
	free(m->ready);
	free(m->cx);
	free(m->cy);
	free(m->on);
	free(m->off);
	free(m->rx);
	free(m->ry);
}

static int
travel(const Mdrp *m, double ax, double ay, double bx, double by)
{
	return (int) ceil(hypot(ax - bx, ay - by) / m->mpm);
}

typedef struct MdrpResult
{
	int			delivered;
	double		mean_ctd;
	double		p90_ctd;
	double		late_share;		/* click-to-door over 40 minutes */
	double		mean_ready_to_pickup;
} MdrpResult;

/*
 * Replay a day: every `step` minutes a batch takes the placed, unassigned
 * orders and the on-duty, free couriers (where their last trip ended), and
 * assigns single-order trips.  Cost of order o on courier c: the minutes
 * from the batch to the pickup (travel, service, waiting for the food),
 * which is what click-to-door depends on.  A courier is free again at its
 * drop-off.  exact = 1: minimum total cost; exact = 0: orders in placement
 * order take the courier with the earliest pickup.
 */
static void
mdrp_replay(const Mdrp *m, int exact, int step, MdrpResult *res)
{
	double	   *px = malloc(sizeof(double) * m->nc),
			   *py = malloc(sizeof(double) * m->nc);
	int		   *free_at = malloc(sizeof(int) * m->nc);
	int		   *done = calloc(m->no, sizeof(int));
	double	   *ctd = malloc(sizeof(double) * m->no);
	int		   *orows = malloc(sizeof(int) * m->no);
	int		   *crows = malloc(sizeof(int) * m->nc);
	int64_t    *oid = malloc(sizeof(int64_t) * m->no),
			   *cid = malloc(sizeof(int64_t) * m->nc);
	double	   *hold = malloc(sizeof(double) * m->no);
	int		   *slot_start = malloc(sizeof(int) * (m->nc + 1));
	double	   *pen = calloc(m->nc, sizeof(double));
	int		   *rr = malloc(sizeof(int) * m->no);
	char	   *taken = malloc(m->nc);
	int			i,
				t,
				tmax = 0,
				nd = 0,
				late = 0;
	double		sum = 0,
				r2p = 0;

	for (i = 0; i < m->nc; i++)
	{
		px[i] = m->cx[i];
		py[i] = m->cy[i];
		free_at[i] = m->on[i];
		if (m->off[i] > tmax)
			tmax = m->off[i];
	}
	for (t = 0; t <= tmax + 120; t += step)
	{
		int			no = 0,
					nc = 0,
					a,
					b;
		Arcs		arcs = {0};

		for (i = 0; i < m->no; i++)
			if (!done[i] && m->place[i] <= t)
				orows[no++] = i;
		for (i = 0; i < m->nc; i++)
			if (m->on[i] <= t && t < m->off[i] && free_at[i] <= t)
				crows[nc++] = i;
		if (no == 0 || nc == 0)
			continue;
		for (a = 0; a < no; a++)
		{
			int			o = orows[a];
			double		rx = m->rx[m->rest[o]],
						ry = m->ry[m->rest[o]];

			for (b = 0; b < nc; b++)
			{
				int			c = crows[b];
				int			pick = t + travel(m, px[c], py[c], rx, ry) + m->svc_pick / 2;

				int			tt = travel(m, px[c], py[c], rx, ry);

				if (pick < m->ready[o])
					pick = m->ready[o];
				/* minutes to pickup, and a quarter of the courier's drive */
				arcs_add(&arcs, a, b, pick - t + 0.25 * tt);
			}
			oid[a] = o + 1;
			hold[a] = 1000;		/* assign while couriers are free */
		}
		for (b = 0; b < nc; b++)
		{
			cid[b] = crows[b] + 1;
			slot_start[b] = b;
		}
		slot_start[nc] = nc;

		if (exact)
		{
			AsInstance	inst = {no, oid, hold, nc, cid, slot_start, pen,
			arcs.n, arcs.a};

			as_solve_exact(&inst, NULL, &A, rr, NULL, NULL);
		}
		else
		{
			/* placement order, each the nearest free courier */
			memset(taken, 0, nc);
			for (a = 0; a < no; a++)
			{
				int			o = orows[a];
				double		best = 1e18;

				rr[a] = AS_HELD;
				for (b = 0; b < nc; b++)
				{
					double		dd = hypot(px[crows[b]] - m->rx[m->rest[o]],
										   py[crows[b]] - m->ry[m->rest[o]]);

					if (!taken[b] && dd < best)
					{
						best = dd;
						rr[a] = b;
					}
				}
				if (rr[a] != AS_HELD)
					taken[rr[a]] = 1;
			}
		}
		for (a = 0; a < no; a++)
			if (rr[a] != AS_HELD)
			{
				int			o = orows[a],
							c = crows[rr[a]];
				int			pick = t + travel(m, px[c], py[c], m->rx[m->rest[o]],
											  m->ry[m->rest[o]]) + m->svc_pick / 2;
				int			drop = pick + m->svc_pick - m->svc_pick / 2 +
					travel(m, m->rx[m->rest[o]], m->ry[m->rest[o]], m->ox[o], m->oy[o]) +
					m->svc_drop / 2;

				if (pick < m->ready[o])
					pick = m->ready[o];
				done[o] = 1;
				ctd[nd] = drop - m->place[o];
				sum += ctd[nd];
				r2p += pick - m->ready[o];
				if (ctd[nd] > 40)
					late++;
				nd++;
				px[c] = m->ox[o];
				py[c] = m->oy[o];
				free_at[c] = drop + m->svc_drop - m->svc_drop / 2;
			}
		free(arcs.a);
	}
	res->delivered = nd;
	res->mean_ctd = nd ? sum / nd : 0;
	if (nd)
	{
		qsort(ctd, nd, sizeof(double), cmp_double);
		res->p90_ctd = ctd[(int) (0.9 * (nd - 1))];
	}
	else
		res->p90_ctd = 0;
	res->late_share = nd ? (double) late / nd : 0;
	res->mean_ready_to_pickup = nd ? r2p / nd : 0;
	free(px);
	free(py);
	free(free_at);
	free(done);
	free(ctd);
	free(orows);
	free(crows);
	free(oid);
	free(cid);
	free(hold);
	free(slot_start);
	free(pen);
	free(rr);
	free(taken);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
mdrp_bench(const char *root, int max_inst)
{
	DIR		   *d = opendir(root);
	struct dirent *e;
	char	   *names[512];
	int			n = 0,
				i,
				j,
				used = 0;
	double		tot_g = 0,
				tot_e = 0,
				late_g = 0,
				late_e = 0;
	int			del_g = 0,
				del_e = 0;

	if (d == NULL)
	{
		printf("mdrp: %s not readable, skipped\n", root);
		return;
	}
	while ((e = readdir(d)) != NULL && n < 512)
		if (e->d_name[0] != '.' && strcmp(e->d_name, "README.md") != 0)
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(char *), cmp_str);
	printf("mdrp: single-order trips, batch every 2 min; exact cost = minutes to pickup + 0.25 x drive;\n"
		   "  greedy = orders in placement order, each the nearest free courier\n");
	printf("  %-18s %6s | %-28s | %-28s\n", "instance", "orders",
		   "greedy: deliv  mean  p90 >40", "exact:  deliv  mean  p90 >40");
	/* spread the sample over the seeds and densities */
	for (j = 0; j < n && used < max_inst; j++)
	{
		char		path[1024];
		Mdrp		m;
		MdrpResult g,
					x;

		i = (int) (((long) j * 37) % n);	/* a spread of seeds and variants */
		snprintf(path, sizeof(path), "%s/%s", root, names[i]);
		if (mdrp_load(path, &m) != 0)
			continue;
		mdrp_replay(&m, 0, 2, &g);
		mdrp_replay(&m, 1, 2, &x);
		printf("  %-18s %6d | %11d %5.1f %4.0f %4.0f%% | %11d %5.1f %4.0f %4.0f%%\n",
			   names[i], m.no, g.delivered, g.mean_ctd, g.p90_ctd,
			   100 * g.late_share, x.delivered, x.mean_ctd, x.p90_ctd,
			   100 * x.late_share);
		tot_g += g.mean_ctd * g.delivered;
		tot_e += x.mean_ctd * x.delivered;
		late_g += g.late_share * g.delivered;
		late_e += x.late_share * x.delivered;
		del_g += g.delivered;
		del_e += x.delivered;
		used++;
		mdrp_free(&m);
	}
	if (used)
		printf("  all %d instances: greedy %d delivered, mean click-to-door %.2f min, %.1f%% over 40; "
			   "exact %d delivered, %.2f min, %.1f%% over 40\n",
			   used, del_g, tot_g / del_g, 100 * late_g / del_g,
			   del_e, tot_e / del_e, 100 * late_e / del_e);
	for (i = 0; i < n; i++)
		free(names[i]);
}

int
main(int argc, char **argv)
{
	int			runs = 7,
				max_inst = 12,
				layout = -1,
				i;
	const char *mdrp = NULL;
	const char *only = NULL;

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
			mdrp = argv[++i];
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			max_inst = atoi(argv[++i]);
		else if (strcmp(argv[i], "-l") == 0 && i + 1 < argc)
			layout = atoi(argv[++i]);
		else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc)
			q_k = atoi(argv[++i]);
		else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
			only = argv[++i];
		else
		{
			fprintf(stderr, "usage: %s [-r runs] [-m mdrp_dir] [-n instances] [-p scale|quality|mdrp] [-l layout] [-k candidates]\n",
					argv[0]);
			return 2;
		}
	}
	if (runs < 1)
		runs = 1;
	if (!only || strcmp(only, "scale") == 0)
		scale_bench(runs);
	if (!only || strcmp(only, "quality") == 0)
		quality_bench(5, layout);
	if (mdrp && (!only || strcmp(only, "mdrp") == 0))
		mdrp_bench(mdrp, max_inst);
	return 0;
}
