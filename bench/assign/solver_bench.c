/*-------------------------------------------------------------------------
 *
 * solver_bench.c
 *	  Speed and quality of the assignment solver on synthetic batches.
 *
 * Two parts, each printing its figures:
 *	  scale    1,000,000 riders (200,000 idle) and 1,000 orders in one zone:
 *			   projection + grid build, candidates, exact solve (median)
 *	  quality  riders/orders = 1.0, 1.2, 2.0: total pickup time of the exact
 *			   solve against sequential nearest-idle-rider greedy
 *
 * Usage: solver_bench [-r runs] [-p scale|quality] [-l layout] [-k candidates]
 *
 * IDENTIFICATION
 *	  bench/assign/solver_bench.c
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include "assign_grid.h"
#include "assign_solver.h"

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
		g = as_grid_build(x, y, NULL, n, 0, &A);
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
	g = as_grid_build(x, y, NULL, nr, 0, &A);
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

int
main(int argc, char **argv)
{
	int			runs = 7,
				layout = -1,
				i;
	const char *only = NULL;

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-l") == 0 && i + 1 < argc)
			layout = atoi(argv[++i]);
		else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc)
			q_k = atoi(argv[++i]);
		else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
			only = argv[++i];
		else
		{
			fprintf(stderr, "usage: %s [-r runs] [-p scale|quality] [-l layout] [-k candidates]\n",
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
	return 0;
}
