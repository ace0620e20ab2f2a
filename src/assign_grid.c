/*-------------------------------------------------------------------------
 *
 * assign_grid.c
 *	  Uniform grid over planar points (k nearest within a radius) and the
 *	  equirectangular projection from degrees to metres.
 *
 * Plain C99, no PostgreSQL headers; see assign_grid.h.  assign.c builds one
 * grid per batch over the zone's available riders and one over the next
 * pickups their plans name ('grid' candidate source), and one over the
 * batch's pickups ('index' source); match.c uses the projection for
 * distances.
 *
 * Memory: a grid lives until as_grid_free, in the caller's allocator.
 *
 * IDENTIFICATION
 *	  src/assign_grid.c
 *
 *-------------------------------------------------------------------------
 */
#include "assign_grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void *grid_take(const AsAllocator *a, size_t size);

/*
 * The grid: points bucketed by cell (counting sort), with their coordinates
 * copied in cell order so a query reads memory sequentially.
 */
struct AsGrid
{
	double		x0,
				y0,
				cell;
	int			w,
				h;
	int		   *start;			/* w * h + 1 */
	int		   *idx;			/* point index, cell order */
	double	   *px;
	double	   *py;
	const long long *tie;		/* tie key of each point (NULL: its index) */
};

/* the key that orders points at one distance */
#define GRID_TIE(g, i) ((g)->tie ? (g)->tie[i] : (long long) (i))

/* Grid memory lives until as_grid_free (not released with a solve). */
static void *
grid_take(const AsAllocator *a, size_t size)
{
	return a->alloc(a->ctx, size == 0 ? 1 : size);
}

/* Release a grid (no-op for arena allocators). */
void
as_grid_free(AsGrid *g, const AsAllocator *a)
{
	if (g == NULL || a->free == NULL)
		return;
	if (g->start)
		a->free(a->ctx, g->start);
	if (g->idx)
		a->free(a->ctx, g->idx);
	if (g->px)
		a->free(a->ctx, g->px);
	if (g->py)
		a->free(a->ctx, g->py);
	a->free(a->ctx, g);
}

double
as_grid_cell_size(const AsGrid *g)
{
	return g->cell;
}

/*
 * Bucket the points into square cells; cell_m <= 0 picks about two points
 * per cell over the points' bounding box.  tie (NULL: none) is kept, not
 * copied: the caller keeps it as long as the grid.
 */
AsGrid *
as_grid_build(const double *x, const double *y, const long long *tie, int n,
			  double cell_m, const AsAllocator *a)
{
	AsGrid	   *g;
	double		minx = 0,
				miny = 0,
				maxx = 0,
				maxy = 0;
	double		dx,
				dy;
	int			i;
	size_t		ncell;
	int		   *cellof;

	g = grid_take(a, sizeof(AsGrid));
	if (g == NULL)
		return NULL;
	memset(g, 0, sizeof(AsGrid));
	g->tie = tie;
	for (i = 0; i < n; i++)
	{
		if (i == 0 || x[i] < minx)
			minx = x[i];
		if (i == 0 || x[i] > maxx)
			maxx = x[i];
		if (i == 0 || y[i] < miny)
			miny = y[i];
		if (i == 0 || y[i] > maxy)
			maxy = y[i];
	}
	dx = maxx - minx;
	dy = maxy - miny;
	if (cell_m <= 0)
		cell_m = sqrt((dx + 1.0) * (dy + 1.0) * 2.0 / (n > 0 ? n : 1));
	if (cell_m < 1.0)
		cell_m = 1.0;
	/* at most about 4 cells per point */
	for (;;)
	{
		double		w = floor(dx / cell_m) + 1;
		double		hh = floor(dy / cell_m) + 1;

		if (w * hh <= 4.0 * n + 16.0)
			break;
		cell_m *= 1.5;
	}
	g->x0 = minx;
	g->y0 = miny;
	g->cell = cell_m;
	g->w = (int) (floor(dx / cell_m) + 1);
	g->h = (int) (floor(dy / cell_m) + 1);
	ncell = (size_t) g->w * (size_t) g->h;

	g->start = grid_take(a, sizeof(int) * (ncell + 1));
	g->idx = grid_take(a, sizeof(int) * n);
	g->px = grid_take(a, sizeof(double) * n);
	g->py = grid_take(a, sizeof(double) * n);
	cellof = grid_take(a, sizeof(int) * n);
	if (!g->start || !g->idx || !g->px || !g->py || !cellof)
	{
		if (cellof && a->free)
			a->free(a->ctx, cellof);
		as_grid_free(g, a);
		return NULL;
	}
	memset(g->start, 0, sizeof(int) * (ncell + 1));
	for (i = 0; i < n; i++)
	{
		int			cx = (int) ((x[i] - minx) / cell_m);
		int			cy = (int) ((y[i] - miny) / cell_m);

		if (cx >= g->w)
			cx = g->w - 1;
		if (cy >= g->h)
			cy = g->h - 1;
		cellof[i] = cy * g->w + cx;
		g->start[cellof[i] + 1]++;
	}
	for (i = 0; (size_t) i < ncell; i++)
		g->start[i + 1] += g->start[i];
	for (i = 0; i < n; i++)
	{
		int			p = g->start[cellof[i]]++;

		g->idx[p] = i;
		g->px[p] = x[i];
		g->py[p] = y[i];
	}
	/* the fill advanced each start to the next cell's; shift back */
	for (i = (int) ncell; i > 0; i--)
		g->start[i] = g->start[i - 1];
	g->start[0] = 0;
	if (a->free)
		a->free(a->ctx, cellof);
	return g;
}

/*
 * k nearest accepted points within radius_m: rings of cells around the
 * query's cell, stopping once no unvisited cell can hold a nearer point.
 *
 * Long on purpose: the ring walk, the cell scan and the insertion into the
 * sorted result are one loop nest run for every order of a batch, and the
 * stopping test needs the current k-th distance at hand; it reads best,
 * and runs fastest, as one function.
 */
int
as_grid_knn(const AsGrid *g, double x, double y, int k, double radius_m,
			int (*accept) (void *ctx, int idx), void *accept_ctx,
			int *out_idx, double *out_dist)
{
	double		fx = floor((x - g->x0) / g->cell);
	double		fy = floor((y - g->y0) / g->cell);
	long		cx,
				cy,
				r;
	double		r2 = radius_m * radius_m;
	int			cnt = 0;
	int			t;

	if (k <= 0 || !(radius_m >= 0))
		return 0;
	/* clamp far-away queries; the distance bounds below stay valid */
	if (fx < -1.0e8)
		fx = -1.0e8;
	if (fx > 1.0e8)
		fx = 1.0e8;
	if (fy < -1.0e8)
		fy = -1.0e8;
	if (fy > 1.0e8)
		fy = 1.0e8;
	cx = (long) fx;
	cy = (long) fy;

	for (r = 0;; r++)
	{
		long		ys[2],
					xs[2];
		long		lx,
					hx,
					ly,
					hy,
					gx,
					gy;
		int			side;

		if (r > 0)
		{
			/* nearest possible point of ring r: outside the inner block */
			double		lb = x - (g->x0 + (double) (cx - r + 1) * g->cell);
			double		v;

			v = g->x0 + (double) (cx + r) * g->cell - x;
			if (v < lb)
				lb = v;
			v = y - (g->y0 + (double) (cy - r + 1) * g->cell);
			if (v < lb)
				lb = v;
			v = g->y0 + (double) (cy + r) * g->cell - y;
			if (v < lb)
				lb = v;
			if (lb > 0 && lb * lb > r2)
				break;
			if (cnt == k && lb > 0 && lb * lb > out_dist[k - 1])
				break;
			/* the inner block already covered the whole grid */
			if (cx - r + 1 <= 0 && cx + r - 1 >= g->w - 1 &&
				cy - r + 1 <= 0 && cy + r - 1 >= g->h - 1)
				break;
		}

		/* ring r: top and bottom rows whole, then left and right columns */
		ys[0] = cy - r;
		ys[1] = cy + r;
		xs[0] = cx - r;
		xs[1] = cx + r;
		for (side = 0; side < 4; side++)
		{
			if (side < 2)
			{
				if (side == 1 && r == 0)
					continue;
				ly = hy = ys[side];
				lx = cx - r;
				hx = cx + r;
			}
			else
			{
				if (r == 0)
					continue;
				lx = hx = xs[side - 2];
				ly = cy - r + 1;
				hy = cy + r - 1;
			}
			if (lx < 0)
				lx = 0;
			if (hx > g->w - 1)
				hx = g->w - 1;
			if (ly < 0)
				ly = 0;
			if (hy > g->h - 1)
				hy = g->h - 1;
			for (gy = ly; gy <= hy; gy++)
				for (gx = lx; gx <= hx; gx++)
				{
					long		c = gy * g->w + gx;
					int			p;

					for (p = g->start[c]; p < g->start[c + 1]; p++)
					{
						double		ddx = g->px[p] - x;
						double		ddy = g->py[p] - y;
						double		d2 = ddx * ddx + ddy * ddy;
						int			id = g->idx[p];
						int			pos;

						if (d2 > r2)
							continue;
						if (cnt == k &&
							(d2 > out_dist[k - 1] ||
							 (d2 == out_dist[k - 1] &&
							  GRID_TIE(g, id) > GRID_TIE(g, out_idx[k - 1]))))
							continue;
						if (accept && !accept(accept_ctx, id))
							continue;
						/* insert in (distance, tie key) order */
						pos = (cnt < k) ? cnt++ : k - 1;
						while (pos > 0 &&
							   (out_dist[pos - 1] > d2 ||
								(out_dist[pos - 1] == d2 &&
								 GRID_TIE(g, out_idx[pos - 1]) > GRID_TIE(g, id))))
						{
							out_dist[pos] = out_dist[pos - 1];
							out_idx[pos] = out_idx[pos - 1];
							pos--;
						}
						out_dist[pos] = d2;
						out_idx[pos] = id;
					}
				}
		}
	}
	for (t = 0; t < cnt; t++)
		out_dist[t] = sqrt(out_dist[t]);
	return cnt;
}

/* Equirectangular projection to metres around (lon0, lat0). */
void
as_project(double lon0, double lat0, double lon, double lat,
		   double *x, double *y)
{
	const double R = 6371008.8;
	const double rad = 3.14159265358979323846 / 180.0;

	*x = R * (lon - lon0) * rad * cos(lat0 * rad);
	*y = R * (lat - lat0) * rad;
}
