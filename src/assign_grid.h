/*-------------------------------------------------------------------------
 *
 * assign_grid.h
 *	  A uniform grid over planar points for k-nearest candidate queries, and
 *	  the map projection that puts riders and orders on the plane.
 *
 * Plain C99 with no PostgreSQL dependency, like assign_solver.h (whose
 * AsAllocator it uses), so that the solver's tests and benchmark compile it
 * on their own.
 *
 * IDENTIFICATION
 *	  src/assign_grid.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ASSIGN_GRID_H
#define ASSIGN_GRID_H

#include "assign_solver.h"

/*
 * Uniform grid over planar points (metres).  Built once per batch over the
 * eligible riders; k-nearest queries visit cells ring by ring.
 */
typedef struct AsGrid AsGrid;

/*
 * cell_m <= 0 picks a size from the points' density.  tie (NULL: none)
 * gives each point the key that orders points at one distance (riders:
 * their ids), so that a query's answer does not follow the order of the
 * points; the grid keeps the pointer, not a copy.
 */
extern AsGrid *as_grid_build(const double *x, const double *y,
							 const long long *tie, int n,
							 double cell_m, const AsAllocator *a);
extern void as_grid_free(AsGrid *g, const AsAllocator *a);
extern double as_grid_cell_size(const AsGrid *g);

/*
 * The k nearest points within radius_m of (x, y) accepted by accept (NULL:
 * all), nearest first, ties by lower tie key (without keys, by lower
 * index).  Writes up to k indexes and distances; returns how many.  Cost:
 * the cells within the k-th distance.
 */
extern int	as_grid_knn(const AsGrid *g, double x, double y, int k,
						double radius_m,
						int (*accept) (void *ctx, int idx), void *accept_ctx,
						int *out_idx, double *out_dist);

/*
 * Equirectangular projection around (lon0, lat0) in degrees to metres.
 * Good to a fraction of a percent across a city-sized zone.
 */
extern void as_project(double lon0, double lat0, double lon, double lat,
					   double *x, double *y);

#endif							/* ASSIGN_GRID_H */
