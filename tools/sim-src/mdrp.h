/*-------------------------------------------------------------------------
 *
 * mdrp.h
 *		Meal-delivery instances (the MDRP data of Reyes et al.): the
 *		instance, a solution, the rules a solution must keep and the
 *		measures of a solution.
 *
 * Ids in the files are a letter and a number (o12, c3, r7); they are kept
 * by number, from 1.  Times are whole minutes; travel between two points is
 * ceil(Euclidean metres / metres per minute).  A service time is split in
 * two halves, the first floor(s / 2), the second the rest.
 *
 * IDENTIFICATION
 *		tools/sim-src/mdrp.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DISPATCH_MDRP_H
#define DISPATCH_MDRP_H

#include <stdbool.h>

typedef struct MdrpOrder
{
	double		x, y;			/* drop-off */
	int			placed;			/* placement time */
	int			restaurant;
	int			ready;
} MdrpOrder;

typedef struct MdrpCourier
{
	double		x, y;			/* start */
	int			on, off;
} MdrpCourier;

typedef struct MdrpRestaurant
{
	double		x, y;
} MdrpRestaurant;

typedef struct MdrpInstance
{
	char		name[256];
	int			norders, ncouriers, nrestaurants;	/* highest id of each */
	MdrpOrder  *orders;			/* [1..norders]; placed < 0: no such id */
	MdrpCourier *couriers;		/* [1..ncouriers] */
	MdrpRestaurant *restaurants;	/* [1..nrestaurants] */
	double		mpm;			/* metres per minute */
	int			pickup_service, dropoff_service;
	int			target_ctd, max_ctd;
	double		pay_per_order, pay_per_hour;
} MdrpInstance;

/* a place: kind 's' start point of a courier, 'r' restaurant, 'o' order */
typedef struct MdrpPlace
{
	char		kind;
	int			id;
} MdrpPlace;

typedef struct MdrpTrip
{
	int			assigned;		/* assignment time */
	int			pickup;			/* pickup time */
	int			courier;
	int			norders;
	int		   *orders;			/* in drop-off sequence */
} MdrpTrip;

typedef struct MdrpMove
{
	int			courier;
	int			departure;
	MdrpPlace	from, to;
} MdrpMove;

typedef struct MdrpDelivery
{
	int			order;
	int			placed, ready, pickup, dropoff, courier;
} MdrpDelivery;

typedef struct MdrpSolution
{
	int			ntrips, nmoves, ndeliveries;
	MdrpTrip   *trips;
	MdrpMove   *moves;
	MdrpDelivery *deliveries;
} MdrpSolution;

typedef struct MdrpMeasures
{
	int			orders, delivered;
	double		ctd_mean, ctd_p90, share_past_target;
	double		ready_to_pickup_mean;
	double		utilisation;	/* (driving + service) / duty */
	double		orders_per_courier_hour;
	double		cost_per_order;
	double		undelivered_share;
	double		bound_mean;		/* the physical lower bound of the mean
								 * click-to-door, over the delivered orders */
	int			past_max;		/* orders delivered past the maximum
								 * click-to-door (a target, not a rule) */
	int			max_ctd;		/* that maximum, of the instance */
} MdrpMeasures;

extern bool mdrp_read_instance(const char *dir, MdrpInstance *in, char *err, int errlen);
extern bool mdrp_read_solution(const char *dir, MdrpSolution *s, char *err, int errlen);
extern bool mdrp_write_solution(const char *dir, const MdrpInstance *in, const MdrpSolution *s,
								char *err, int errlen);
extern int	mdrp_travel(const MdrpInstance *in, MdrpPlace a, MdrpPlace b, int courier);
extern int	mdrp_first_half(int service);
extern bool mdrp_check(const MdrpInstance *in, const MdrpSolution *s, char *err, int errlen);
extern void mdrp_measure(const MdrpInstance *in, const MdrpSolution *s, MdrpMeasures *m);
extern void mdrp_print_measures(const char *label, const MdrpMeasures *m);
extern void mdrp_free_solution(MdrpSolution *s);
extern void mdrp_free_instance(MdrpInstance *in);

/* mdrp_replay.c */
extern bool mdrp_replay(const MdrpInstance *in, MdrpSolution *s, char *err, int errlen);
extern void mdrp_greedy(const MdrpInstance *in, MdrpSolution *s);

#endif							/* DISPATCH_MDRP_H */
