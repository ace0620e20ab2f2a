/*-------------------------------------------------------------------------
 *
 * mdrp_replay.c
 *		Replay a meal-delivery day through dispatch's SQL API, online, and
 *		the simple online rule beside it.
 *
 * The replay runs in a database of its own (created from the connection's
 * database name plus a suffix, dropped at the end): restaurants become
 * merchants, couriers riders, orders are placed, paid and accepted (ready
 * at their ready time) at their placement minute, and every minute
 * assign_batch decides who takes what; couriers always accept.  This
 * program plays the couriers by the instance's rules (mdrp.c): a courier
 * free with orders waiting leaves for the restaurant of the oldest, takes
 * every order it holds from that restaurant (one restaurant per trip),
 * picks up when it has arrived and they are all ready, and drops them off
 * in the sequence that delivers them soonest in sum; an order it could
 * only pick up after its off time is released (release_order) for the
 * next batch.  Couriers report their
 * position where they are (set out, pick up, drop off) and, when a trip
 * starts, their plan (update_rider_plan): where and when they will be done,
 * which matching costs their next order from; a courier on a trip can be
 * given its next one.  A trip not started yet is not a promise: every
 * minute, before the batch, its orders go back to the batch (replan_order),
 * which gives them to whoever can fetch them soonest then, often the same
 * courier.  Simulated time drives dispatch.clock().
 *
 * The simple rule (--strategy greedy, and the baseline of --replay-all):
 * each order, in placement order, to the courier who can drop it off
 * first, one order per trip; computed in this program, no database.
 *
 * Both write the three solution files and pass them to the checker.
 *
 * IDENTIFICATION
 *		tools/sim-src/mdrp_replay.c
 *
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"
#include "mdrp.h"
#include "sim.h"

/* ------------------------------------------------------ building blocks */

static void
add_trip(MdrpSolution *s, int assigned, int pickup, int courier, const int *orders, int n)
{
	MdrpTrip   *t;

	s->trips = realloc(s->trips, sizeof(MdrpTrip) * (s->ntrips + 1));
	t = &s->trips[s->ntrips++];
	t->assigned = assigned;
	t->pickup = pickup;
	t->courier = courier;
	t->norders = n;
	t->orders = malloc(sizeof(int) * n);
	memcpy(t->orders, orders, sizeof(int) * n);
}

static void
add_move(MdrpSolution *s, int courier, int departure, MdrpPlace from, MdrpPlace to)
{
	s->moves = realloc(s->moves, sizeof(MdrpMove) * (s->nmoves + 1));
	s->moves[s->nmoves].courier = courier;
	s->moves[s->nmoves].departure = departure;
	s->moves[s->nmoves].from = from;
	s->moves[s->nmoves].to = to;
	s->nmoves++;
}

static void
add_delivery(MdrpSolution *s, const MdrpInstance *in, int order, int pickup, int dropoff, int courier)
{
	MdrpDelivery *d;

	s->deliveries = realloc(s->deliveries, sizeof(MdrpDelivery) * (s->ndeliveries + 1));
	d = &s->deliveries[s->ndeliveries++];
	d->order = order;
	d->placed = in->orders[order].placed;
	d->ready = in->orders[order].ready;
	d->pickup = pickup;
	d->dropoff = dropoff;
	d->courier = courier;
}

/* the moves of a courier are grouped in the file: sort them, stably */
static int
cmp_move(const void *a, const void *b)
{
	const MdrpMove *x = a,
			   *y = b;

	if (x->courier != y->courier)
		return x->courier - y->courier;
	return x->departure - y->departure;
}

static void
sort_moves(MdrpSolution *s)
{
	/* a courier's departures strictly increase, so the order is total */
	qsort(s->moves, s->nmoves, sizeof(MdrpMove), cmp_move);
}

#define MAX_EXACT_DROPS 5

/* sum of drop-off times and the end, leaving `from` at `leave` */
static void
drop_times(const MdrpInstance *in, int c, MdrpPlace from, int leave, const int *orders, int n,
		   long *sum, int *end)
{
	int			sd1 = mdrp_first_half(in->dropoff_service),
				sd2 = in->dropoff_service - sd1,
				i;

	*sum = 0;
	for (i = 0; i < n; i++)
	{
		MdrpPlace	o = {'o', orders[i]};
		int			drop = leave + mdrp_travel(in, from, o, c) + sd1;

		*sum += drop;
		leave = drop + sd2;
		from = o;
	}
	*end = leave;
}

/* permute orders[k..n-1]; keep the best sequence in best[] */
static void
try_sequences(const MdrpInstance *in, int c, MdrpPlace from, int leave, int *orders, int k, int n,
			  int *best, long *best_sum, int *best_end)
{
	int			i;

	if (k == n)
	{
		long		sum;
		int			end;

		drop_times(in, c, from, leave, orders, n, &sum, &end);
		if (*best_sum < 0 || sum < *best_sum || (sum == *best_sum && end < *best_end))
		{
			*best_sum = sum;
			*best_end = end;
			memcpy(best, orders, sizeof(int) * n);
		}
		return;
	}
	for (i = k; i < n; i++)
	{
		int			t = orders[k];

		orders[k] = orders[i];
		orders[i] = t;
		try_sequences(in, c, from, leave, orders, k + 1, n, best, best_sum, best_end);
		orders[i] = orders[k];
		orders[k] = t;
	}
}

static void
best_drop_sequence(const MdrpInstance *in, int c, MdrpPlace from, int leave, int *orders, int n)
{
	int			best[MAX_EXACT_DROPS],
				best_end = 0;
	long		best_sum = -1;

	try_sequences(in, c, from, leave, orders, 0, n, best, &best_sum, &best_end);
	memcpy(orders, best, sizeof(int) * n);
}

/*
 * Plan a trip: courier c, at place `at` and free at `free_at`, leaves at
 * `depart` for restaurant r with orders[0..n-1], drops them in the sequence
 * that delivers them soonest in sum (nearest first for more than
 * MAX_EXACT_DROPS).
 * Returns the pickup time, or -1 if it would be after the courier's off
 * time; fills the drop-off sequence and times.
 */
static int
plan_trip(const MdrpInstance *in, int c, MdrpPlace at, int depart, int *orders, int n,
		  int *drops, MdrpPlace *end, int *end_free)
{
	int			r = in->orders[orders[0]].restaurant;
	MdrpPlace	rp = {'r', r};
	int			sp1 = mdrp_first_half(in->pickup_service),
				sp2 = in->pickup_service - sp1,
				sd1 = mdrp_first_half(in->dropoff_service),
				sd2 = in->dropoff_service - sd1;
	int			pickup = depart + mdrp_travel(in, at, rp, c) + sp1;
	int			i,
				j,
				leave;
	MdrpPlace	cur = rp;

	for (i = 0; i < n; i++)
		if (in->orders[orders[i]].ready > pickup)
			pickup = in->orders[orders[i]].ready;
	if (pickup > in->couriers[c].off || pickup < in->couriers[c].on)
		return -1;
	/*
	 * The drop-off sequence: of up to MAX_EXACT_DROPS orders, the one that
	 * delivers them soonest in sum (what their click-to-door adds up to),
	 * ties to the one done soonest; of more, nearest first.
	 */
	if (n > 1 && n <= MAX_EXACT_DROPS)
		best_drop_sequence(in, c, rp, pickup + sp2, orders, n);
	else
		for (i = 0; i < n; i++)
		{
			int			best = i;

			for (j = i + 1; j < n; j++)
			{
				MdrpPlace	a = {'o', orders[j]},
							b = {'o', orders[best]};

				if (mdrp_travel(in, cur, a, c) < mdrp_travel(in, cur, b, c))
					best = j;
			}
			if (best != i)
			{
				int			t = orders[i];

				orders[i] = orders[best];
				orders[best] = t;
			}
			cur.kind = 'o';
			cur.id = orders[i];
		}
	leave = pickup + sp2;
	cur = rp;
	for (i = 0; i < n; i++)
	{
		MdrpPlace	o = {'o', orders[i]};

		drops[i] = leave + mdrp_travel(in, cur, o, c) + sd1;
		leave = drops[i] + sd2;
		cur = o;
	}
	*end = cur;
	*end_free = leave;
	return pickup;
}

/* record a planned trip in the solution */
static void
record_trip(MdrpSolution *s, const MdrpInstance *in, int c, MdrpPlace at, int depart, int assigned,
			int pickup, const int *orders, const int *drops, int n)
{
	int			sp2 = in->pickup_service - mdrp_first_half(in->pickup_service),
				sd2 = in->dropoff_service - mdrp_first_half(in->dropoff_service);
	MdrpPlace	rp = {'r', in->orders[orders[0]].restaurant};
	MdrpPlace	cur = rp;
	int			leave = pickup + sp2;
	int			i;

	add_trip(s, assigned, pickup, c, orders, n);
	add_move(s, c, depart, at, rp);
	for (i = 0; i < n; i++)
	{
		MdrpPlace	o = {'o', orders[i]};

		add_move(s, c, leave, cur, o);
		add_delivery(s, in, orders[i], pickup, drops[i], c);
		leave = drops[i] + sd2;
		cur = o;
	}
}

/* ------------------------------------------------------ the simple rule */

static const MdrpInstance *sort_instance;

static int
cmp_order_placed(const void *a, const void *b)
{
	int			x = *(const int *) a,
				y = *(const int *) b;

	if (sort_instance->orders[x].placed != sort_instance->orders[y].placed)
		return sort_instance->orders[x].placed - sort_instance->orders[y].placed;
	return x - y;
}

void
mdrp_greedy(const MdrpInstance *in, MdrpSolution *s)
{
	int		   *ids = malloc(sizeof(int) * (in->norders + 1));
	int		   *free_at = malloc(sizeof(int) * (in->ncouriers + 1));
	MdrpPlace  *at = malloc(sizeof(MdrpPlace) * (in->ncouriers + 1));
	int			n = 0,
				i,
				c;

	memset(s, 0, sizeof(*s));
	for (i = 1; i <= in->norders; i++)
		if (in->orders[i].placed >= 0)
			ids[n++] = i;
	sort_instance = in;
	qsort(ids, n, sizeof(int), cmp_order_placed);
	for (c = 1; c <= in->ncouriers; c++)
	{
		free_at[c] = in->couriers[c].on;
		at[c].kind = 's';
		at[c].id = 0;
	}
	for (i = 0; i < n; i++)
	{
		int			o = ids[i];
		int			best = -1,
					best_drop = 0,
					best_pick = 0,
					best_depart = 0,
					best_free = 0;
		MdrpPlace	best_end = {0, 0};

		for (c = 1; c <= in->ncouriers; c++)
		{
			int			depart,
						pick,
						drop,
						end_free;
			int			one[1] = {o};
			MdrpPlace	end;

			if (in->couriers[c].on < 0 || in->couriers[c].off < in->orders[o].placed)
				continue;
			depart = free_at[c] > in->orders[o].placed ? free_at[c] : in->orders[o].placed;
			pick = plan_trip(in, c, at[c], depart, one, 1, &drop, &end, &end_free);
			if (pick < 0)
				continue;
			if (best < 0 || drop < best_drop)
			{
				best = c;
				best_drop = drop;
				best_pick = pick;
				best_depart = depart;
				best_end = end;
				best_free = end_free;
			}
		}
		if (best < 0)
			continue;			/* undelivered */
		record_trip(s, in, best, at[best], best_depart, in->orders[o].placed, best_pick, &o, &best_drop, 1);
		at[best] = best_end;
		free_at[best] = best_free;
	}
	sort_moves(s);
	free(ids);
	free(free_at);
	free(at);
}

/* -------------------------------------------------- the replay through SQL */

typedef struct Courier
{
	bool		online;
	bool		gone;			/* offline for good */
	MdrpPlace	at;				/* where it is, or will be when free */
	int			free_at;
	int		   *held;			/* orders assigned, not yet on a trip */
	int		   *held_at;		/* their assignment minutes */
	int			nheld;
	bool		replan;			/* its orders changed: tell the plan */
} Courier;

typedef struct Event
{
	int			at;				/* minute */
	int			kind;			/* 0 pickup, 1 drop-off */
	int			order;
	int			courier;
	MdrpPlace	where;
} Event;

static PGconn *conn;
/*
 * The settings of the replay's zone (SIM_CAPACITY, SIM_HOLD_COST,
 * SIM_LOAD_PENALTY, SIM_MAX_WAIT override them), chosen on every twelfth
 * day (docs/replay.md): room for three orders, a load term of 450 s an
 * order held (a courier on a trip may be given its next one, at a price);
 * no courier sent more than ten minutes before the food is ready; a hold
 * cost of 20000 s, so that an order waits for a later batch only when no
 * courier can take it (a trip not started is planned again each minute,
 * so committing early costs little).  Trips
 * of up to replay_replan orders not started yet are planned again every
 * minute (SIM_REPLAN; 0: never).  The replay runs a day in a minute or two,
 * hundreds of times faster than the day went: autovacuum, which wakes once a
 * minute, cannot keep up with the riders' rows it rewrites, so it vacuums
 * them itself every replay_vacuum simulated minutes (SIM_VACUUM; 0: never),
 * as autovacuum would in a real day's time.
 */
static int replay_capacity = 3,
			replay_hold = 20000,
			replay_load = 450,
			replay_max_wait = 600,
			replay_replan = 3,
			replay_vacuum = 5;
static bool replay_wait = true;	/* couriers leave just in time (SIM_NO_WAIT) */
static char sqlerr[512];

static PGresult *
q(const char *fmt,...)
{
	char		sql[8192];
	va_list		ap;
	PGresult   *r;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
	{
		snprintf(sqlerr, sizeof(sqlerr), "%s (%.200s)", PQerrorMessage(conn), sql);
		PQclear(r);
		return NULL;
	}
	return r;
}

static bool
qok(PGresult *r)
{
	if (r == NULL)
		return false;
	PQclear(r);
	return true;
}

/* ids gathered for one statement: a text array literal that grows */
typedef struct IdList
{
	char	   *text;
	size_t		len,
				cap;
	int			n;
} IdList;

static void
ids_add(IdList *l, long long id)
{
	if (l->cap < l->len + 24)
	{
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->text = realloc(l->text, l->cap);
	}
	l->len += sprintf(l->text + l->len, "%s%lld", l->n++ ? "," : "{", id);
}

/*
 * The statement sql over the lists (its parameters $1, $2, ... as arrays),
 * if they hold anything; the lists are emptied.  One statement, one
 * transaction, for what the app would send one by one: the replay spends
 * its time in the server, not in round trips.
 */
static bool
ids_exec(const char *sql, IdList *lists, int nlists)
{
	const char *values[4];
	PGresult   *r;
	bool		ok = true;
	int			i;

	if (lists[0].n > 0)
	{
		for (i = 0; i < nlists; i++)
		{
			lists[i].text[lists[i].len] = '}';
			lists[i].text[lists[i].len + 1] = '\0';
			values[i] = lists[i].text;
		}
		r = PQexecParams(conn, sql, nlists, NULL, values, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
		{
			snprintf(sqlerr, sizeof(sqlerr), "%s (%.200s)", PQerrorMessage(conn), sql);
			ok = false;
		}
		PQclear(r);
	}
	for (i = 0; i < nlists; i++)
		lists[i].len = lists[i].n = 0;
	return ok;
}

/* planar metres to lon/lat: inverse transverse Mercator of a sphere, scale
 * 1, centred on (lon0, lat0) at the middle of the instance */
static double lon0 = 121.47,
			lat0 = 31.23,
			xmid,
			ymid;

static void
to_lonlat(double x, double y, double *lon, double *lat)
{
	const double R = 6371008.8;
	double		xr = (x - xmid) / R,
				d = (y - ymid) / R + lat0 * M_PI / 180.0;

	*lat = asin(sin(d) / cosh(xr)) * 180.0 / M_PI;
	*lon = lon0 + atan2(sinh(xr), cos(d)) * 180.0 / M_PI;
}

static void
place_lonlat(const MdrpInstance *in, MdrpPlace p, int c, double *lon, double *lat)
{
	if (p.kind == 'r')
		to_lonlat(in->restaurants[p.id].x, in->restaurants[p.id].y, lon, lat);
	else if (p.kind == 'o')
		to_lonlat(in->orders[p.id].x, in->orders[p.id].y, lon, lat);
	else
		to_lonlat(in->couriers[c].x, in->couriers[c].y, lon, lat);
}

static bool
set_clock(int minute)
{
	return qok(q("SELECT set_config('dispatch.clock_override', "
				 "(timestamptz '2026-06-01 00:00:00+00' + make_interval(mins => %d))::text, false)", minute));
}

static int
cmp_event(const void *a, const void *b)
{
	const Event *x = a,
			   *y = b;

	if (x->at != y->at)
		return x->at - y->at;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	return x->order - y->order;
}

/*
 * Of a courier's held orders, the one whose food it can pick up soonest,
 * setting out from `at` at minute `t`: its restaurant is the next trip's.
 */
static int
soonest_held(const MdrpInstance *in, int c, MdrpPlace at, int t, const int *held, int nheld)
{
	int			first = 0,
				soonest = 0,
				k;

	for (k = 0; k < nheld; k++)
	{
		MdrpPlace	rp = {'r', in->orders[held[k]].restaurant};
		int			at_r = t + mdrp_travel(in, at, rp, c);
		int			pick = at_r > in->orders[held[k]].ready ? at_r : in->orders[held[k]].ready;

		if (k == 0 || pick < soonest)
		{
			soonest = pick;
			first = k;
		}
	}
	return first;
}

/*
 * A courier's plan, as its app would work it out: the trip it is on, then
 * its held orders, a restaurant at a time in the order the replay takes
 * them; where and when it will be done with all.  Orders it could not pick
 * up before its off time are left out (they will be released).
 */
static bool
report_plan(const MdrpInstance *in, int c, int rider, const Courier *cc, int t)
{
	int		   *left = malloc(sizeof(int) * (cc->nheld + 1));
	int			nleft = cc->nheld,
				free_at = cc->free_at > t ? cc->free_at : t,
				pickup_at = -1;
	MdrpPlace	at = cc->at,
				pickup = {0, 0};
	double		lon,
				lat,
				plon = 0,
				plat = 0;
	bool		ok;

	memcpy(left, cc->held, sizeof(int) * cc->nheld);
	while (nleft > 0)
	{
		int			trip[512],
					drops[512],
					n = 0,
					k,
					i,
					r0 = in->orders[left[soonest_held(in, c, at, free_at, left, nleft)]].restaurant,
					end_free;
		MdrpPlace	end;

		for (k = 0, i = 0; k < nleft; k++)
			if (in->orders[left[k]].restaurant == r0 && n < 512)
				trip[n++] = left[k];
			else
				left[i++] = left[k];
		nleft = i;
		if ((k = plan_trip(in, c, at, free_at, trip, n, drops, &end, &end_free)) >= 0)
		{
			/* the first trip has not started: others of its restaurant may join */
			if (pickup_at < 0)
			{
				pickup_at = k;
				pickup.kind = 'r';
				pickup.id = r0;
			}
			at = end;
			free_at = end_free;
		}
	}
	free(left);
	place_lonlat(in, at, c, &lon, &lat);
	if (pickup_at < 0)
		return qok(q("SELECT dispatch.update_rider_plan(%d, timestamptz '2026-06-01 00:00:00+00' + "
					 "make_interval(mins => %d), %.7f, %.7f)", rider, free_at, lon, lat));
	place_lonlat(in, pickup, c, &plon, &plat);
	ok = qok(q("SELECT dispatch.update_rider_plan(%d, timestamptz '2026-06-01 00:00:00+00' + "
			   "make_interval(mins => %d), %.7f, %.7f, timestamptz '2026-06-01 00:00:00+00' + "
			   "make_interval(mins => %d), %.7f, %.7f)", rider, free_at, lon, lat, pickup_at, plon, plat));
	return ok;
}

bool
mdrp_replay(const MdrpInstance *in, MdrpSolution *s, char *err, int errlen)
{
	int		   *rid = calloc(in->ncouriers + 1, sizeof(int));
	int		   *courier_of = NULL;
	int			maxrid = 0;
	Courier    *cs = calloc(in->ncouriers + 1, sizeof(Courier));
	long long  *dispatch_id = calloc(in->norders + 1, sizeof(long long));
	int		   *merchant = calloc(in->nrestaurants + 1, sizeof(int));
	int		   *item = calloc(in->nrestaurants + 1, sizeof(int));
	Event	   *ev = NULL;
	IdList		back[2] = {{0}},	/* orders planned again, and their riders */
				accept = {0};	/* offers the couriers accept */
	int			nev = 0,
				evcap = 0;
	double		xmax = 0,
				ymax = 0,
				lon,
				lat,
				lon1,
				lat1,
				lon2,
				lat2;
	int			i,
				c,
				t,
				zone,
				first = 1 << 30,
				last = 0;
	PGresult   *r;
	bool		ok = false;

	memset(s, 0, sizeof(*s));
	if (getenv("SIM_CAPACITY"))
		replay_capacity = atoi(getenv("SIM_CAPACITY"));
	if (getenv("SIM_HOLD_COST"))
		replay_hold = atoi(getenv("SIM_HOLD_COST"));
	if (getenv("SIM_LOAD_PENALTY"))
		replay_load = atoi(getenv("SIM_LOAD_PENALTY"));
	if (getenv("SIM_NO_WAIT"))
		replay_wait = false;
	if (getenv("SIM_MAX_WAIT"))
		replay_max_wait = atoi(getenv("SIM_MAX_WAIT"));
	if (getenv("SIM_REPLAN"))
		replay_replan = atoi(getenv("SIM_REPLAN"));
	if (getenv("SIM_VACUUM"))
		replay_vacuum = atoi(getenv("SIM_VACUUM"));
	/* the area */
	for (i = 1; i <= in->nrestaurants; i++)
	{
		xmax = fmax(xmax, in->restaurants[i].x);
		ymax = fmax(ymax, in->restaurants[i].y);
	}
	for (i = 1; i <= in->norders; i++)
		if (in->orders[i].placed >= 0)
		{
			xmax = fmax(xmax, in->orders[i].x);
			ymax = fmax(ymax, in->orders[i].y);
			first = in->orders[i].placed < first ? in->orders[i].placed : first;
		}
	for (c = 1; c <= in->ncouriers; c++)
		if (in->couriers[c].on >= 0)
		{
			xmax = fmax(xmax, in->couriers[c].x);
			ymax = fmax(ymax, in->couriers[c].y);
			first = in->couriers[c].on < first ? in->couriers[c].on : first;
			last = in->couriers[c].off > last ? in->couriers[c].off : last;
		}
	xmid = xmax / 2;
	ymid = ymax / 2;
	to_lonlat(-1000, -1000, &lon1, &lat1);
	to_lonlat(xmax + 1000, ymax + 1000, &lon2, &lat2);

	/* the city */
	if (!qok(q("SET client_min_messages = warning")) ||
		!qok(q("SET dispatch.fraud_max_distance_m = 1000000")) ||
		!qok(q("SET dispatch.fraud_max_bad_orders = 1000")) ||
		!set_clock(first - 10))
		goto done;
	if ((r = q("SELECT dispatch.create_zone('replay', ST_MakeEnvelope(%.7f, %.7f, %.7f, %.7f, 4326))",
			   lon1, lat1, lon2, lat2)) == NULL)
		goto done;
	zone = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	/* the instance's speed, its couriers' shifts, its distances */
	if (!qok(q("UPDATE dispatch.zones SET speed_mps = %.6f WHERE zone_id = %d", in->mpm / 60.0, zone)) ||
		!qok(q("INSERT INTO dispatch.matching_settings (zone_id, radius_m, stale_after_s, offer_ttl_s, "
			   "max_shift_minutes, min_break_minutes, max_daily_minutes, k_candidates, hold_cost, w_fair_orders, "
			   "w_fair_earnings, w_shift_hour, load_penalty_s, max_rider_wait_s) "
			   "VALUES (%d, 100000, 86400, 3600, 1440, 0, 1440, 30, %d, 0, 0, 0, %d, NULLIF(%d, -1))",
			   zone, replay_hold, replay_load, replay_max_wait < 0 ? -1 : replay_max_wait)) ||
		!qok(q("UPDATE dispatch.vehicle_profiles SET max_pickup_m = 1000000, max_trip_m = 1000000")))
		goto done;
	/* SIM_SETTINGS: more of the zone's matching settings, "w_food_wait = 2, ..." */
	if (getenv("SIM_SETTINGS") && *getenv("SIM_SETTINGS") &&
		!qok(q("UPDATE dispatch.matching_settings SET %s WHERE zone_id = %d", getenv("SIM_SETTINGS"), zone)))
		goto done;
	for (i = 1; i <= in->nrestaurants; i++)
	{
		to_lonlat(in->restaurants[i].x, in->restaurants[i].y, &lon, &lat);
		if ((r = q("SELECT dispatch.create_merchant(%d, 'r%d', %.7f, %.7f, 0)", zone, i, lon, lat)) == NULL)
			goto done;
		merchant[i] = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
		if ((r = q("SELECT dispatch.add_item(%d, 'meal', 1000)", merchant[i])) == NULL)
			goto done;
		item[i] = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	if (!qok(q("SELECT count(dispatch.register_customer('+861380' || lpad(g::text, 5, '0'), NULL)) "
			   "FROM generate_series(1, 200) g")))
		goto done;
	for (c = 1; c <= in->ncouriers; c++)
		if (in->couriers[c].on >= 0)
		{
			if ((r = q("SELECT dispatch.register_rider(%d, 'c%d', '+861390' || lpad('%d', 5, '0'), %d)", zone, c, c, replay_capacity)) == NULL)
				goto done;
			rid[c] = atoi(PQgetvalue(r, 0, 0));
			PQclear(r);
			maxrid = rid[c] > maxrid ? rid[c] : maxrid;
		}
	courier_of = calloc(maxrid + 1, sizeof(int));
	for (c = 1; c <= in->ncouriers; c++)
		if (rid[c] > 0)
			courier_of[rid[c]] = c;

	for (t = first; t <= last + 200; t++)
	{
		int			done_events = 0;

		if (!set_clock(t))
			goto done;
		if (replay_vacuum > 0 && t % replay_vacuum == 0 &&
			!qok(q("VACUUM dispatch.riders, dispatch.orders, dispatch.offers")))
			goto done;
		/* couriers start */
		for (c = 1; c <= in->ncouriers; c++)
			if (in->couriers[c].on == t)
			{
				cs[c].online = true;
				cs[c].at.kind = 's';
				cs[c].at.id = 0;
				cs[c].free_at = t;
				place_lonlat(in, cs[c].at, c, &lon, &lat);
				if (!qok(q("SELECT dispatch.rider_online(%d, %.7f, %.7f, timestamptz '2026-06-01 00:00:00+00' + "
						   "make_interval(mins => %d))", rid[c], lon, lat, in->couriers[c].off)))
					goto done;
			}
		/* pickups and drop-offs due by now, in time order */
		qsort(ev, nev, sizeof(Event), cmp_event);
		for (i = 0; i < nev && ev[i].at <= t; i++)
		{
			if (!qok(q("SELECT set_config('dispatch.clock_override', "
					   "(timestamptz '2026-06-01 00:00:00+00' + make_interval(mins => %d))::text, false)", ev[i].at)))
				goto done;
			place_lonlat(in, ev[i].where, ev[i].courier, &lon, &lat);
			if (!qok(q("SELECT dispatch.update_rider_location(%d, %.7f, %.7f)", rid[ev[i].courier], lon, lat)) ||
				!qok(q(ev[i].kind == 0 ? "SELECT dispatch.mark_picked_up(%lld, %d)" : "SELECT dispatch.mark_delivered(%lld, %d)",
					   dispatch_id[ev[i].order], rid[ev[i].courier])))
				goto done;
			done_events++;
		}
		if (done_events)
		{
			memmove(ev, ev + done_events, sizeof(Event) * (nev - done_events));
			nev -= done_events;
			if (!set_clock(t))
				goto done;
		}
		/* orders placed now */
		for (i = 1; i <= in->norders; i++)
			if (in->orders[i].placed == t)
			{
				MdrpPlace	o = {'o', i};

				place_lonlat(in, o, 0, &lon, &lat);
				r = q("SELECT dispatch.place_order(%d, %d, '[{\"item_id\": %d, \"qty\": 1}]', %.7f, %.7f, 'x')",
					  1 + i % 200, merchant[in->orders[i].restaurant], item[in->orders[i].restaurant], lon, lat);
				if (r == NULL)
					goto done;
				dispatch_id[i] = atoll(PQgetvalue(r, 0, 0));
				PQclear(r);
				if (!qok(q("SELECT dispatch.confirm_payment(%lld, 'p-%lld')", dispatch_id[i], dispatch_id[i])) ||
					!qok(q("SELECT dispatch.merchant_accept(%lld, timestamptz '2026-06-01 00:00:00+00' + make_interval(mins => %d))",
						   dispatch_id[i], in->orders[i].ready > t ? in->orders[i].ready : t)))
					goto done;
			}
		/* couriers past their off time, with nothing left, go home */
		for (c = 1; c <= in->ncouriers; c++)
			if (cs[c].online && t >= in->couriers[c].off && cs[c].nheld == 0 && cs[c].free_at <= t)
			{
				bool		busy = false;

				for (i = 0; i < nev; i++)
					busy = busy || ev[i].courier == c;
				if (busy)
					continue;
				if (!qok(q("SELECT dispatch.rider_offline(%d)", rid[c])))
					goto done;
				cs[c].online = false;
				cs[c].gone = true;
			}
		/*
		 * Couriers free with orders waiting start a trip, and tell their plan,
		 * before the batch (which then sees no stale plan) and after it (for
		 * the orders it gave to free couriers).
		 */
		for (int pass = 0; pass < 2; pass++)
		{
			if (pass == 1)
			{
				/*
				 * Trips not started go back to the batch, which gives their
				 * orders to whoever can fetch them soonest now: a courier
				 * committed to them may be far, or busy with a trip that
				 * ends later than another's.
				 */
				for (c = 1; replay_replan > 0 && c <= in->ncouriers; c++)
				{
					if (!cs[c].online || cs[c].nheld == 0 || cs[c].nheld > replay_replan)
						continue;
					for (i = 0; i < cs[c].nheld; i++)
					{
						ids_add(&back[0], dispatch_id[cs[c].held[i]]);
						ids_add(&back[1], rid[c]);
					}
					cs[c].nheld = 0;
					cs[c].replan = true;
				}
				if (!ids_exec("SELECT count(dispatch.replan_order(u.o, u.r)) "
							  "FROM unnest($1::bigint[], $2::bigint[]) u(o, r)", back, 2))
					goto done;
				for (c = 1; c <= in->ncouriers; c++)
					if (cs[c].replan)
					{
						cs[c].replan = false;
						if (!report_plan(in, c, rid[c], &cs[c], t))
							goto done;
					}
				/* the batch */
				if ((r = q("SELECT b.order_id, b.rider_id, b.offer_id FROM dispatch.assign_batch(%d) b", zone)) == NULL)
					goto done;
				for (i = 0; i < PQntuples(r); i++)
				{
					long long	oid = atoll(PQgetvalue(r, i, 0));
					int			rider = courier_of[atoi(PQgetvalue(r, i, 1))];
					int			o;

					ids_add(&accept, atoll(PQgetvalue(r, i, 2)));
					for (o = 1; o <= in->norders && dispatch_id[o] != oid; o++)
						;
					cs[rider].held = realloc(cs[rider].held, sizeof(int) * (cs[rider].nheld + 1));
					cs[rider].held_at = realloc(cs[rider].held_at, sizeof(int) * (cs[rider].nheld + 1));
					cs[rider].held[cs[rider].nheld] = o;
					cs[rider].held_at[cs[rider].nheld++] = t;
					cs[rider].replan = true;
				}
				PQclear(r);
				/* couriers always accept */
				if (!ids_exec("SELECT count(dispatch.respond_offer(f, true)) FROM unnest($1::bigint[]) f",
							  &accept, 1))
					goto done;
			}
			/* couriers free with orders waiting start a trip */
			for (c = 1; c <= in->ncouriers; c++)
			{
				int			trip[512],
							drops[512],
							n = 0,
							k,
							assigned = 0,
							depart,
							pick,
							end_free;
				MdrpPlace	end;

				if (!cs[c].online || cs[c].nheld == 0 || cs[c].free_at > t)
					continue;
				/* first the restaurant whose food it can pick up soonest */
				{
					int			first_k = soonest_held(in, c, cs[c].at, t, cs[c].held, cs[c].nheld);

					if (first_k != 0)
					{
						int			o0 = cs[c].held[0],
									a0 = cs[c].held_at[0];

						cs[c].held[0] = cs[c].held[first_k];
						cs[c].held_at[0] = cs[c].held_at[first_k];
						cs[c].held[first_k] = o0;
						cs[c].held_at[first_k] = a0;
					}
				}
				for (k = 0; k < cs[c].nheld && n < 512; k++)
					if (in->orders[cs[c].held[k]].restaurant == in->orders[cs[c].held[0]].restaurant)
					{
						trip[n++] = cs[c].held[k];
						assigned = cs[c].held_at[k] > assigned ? cs[c].held_at[k] : assigned;
					}
				depart = t;
				pick = plan_trip(in, c, cs[c].at, depart, trip, n, drops, &end, &end_free);
				if (pick >= 0 && replay_wait)
				{
					/*
					 * It would wait at the restaurant for the food: it waits
					 * where it is instead, until it must leave, so that more
					 * orders of the restaurant can join the trip meanwhile.
					 */
					MdrpPlace	rp = {'r', in->orders[trip[0]].restaurant};

					if (pick > t + mdrp_travel(in, cs[c].at, rp, c) + mdrp_first_half(in->pickup_service))
						continue;
				}
				if (pick < 0)
				{
					/* past its off time: give them back, for another courier */
					for (k = 0; k < n; k++)
						if (!qok(q("SELECT dispatch.release_order(%lld, %d, 'off duty before pickup')",
								   dispatch_id[trip[k]], rid[c])))
							goto done;
				}
				else
				{
					record_trip(s, in, c, cs[c].at, depart, assigned, pick, trip, drops, n);
					/* where it sets out from; its plan follows below */
					place_lonlat(in, cs[c].at, c, &lon, &lat);
					if (!qok(q("SELECT dispatch.update_rider_location(%d, %.7f, %.7f)", rid[c], lon, lat)))
						goto done;
					cs[c].replan = true;
					for (k = 0; k < n; k++)
					{
						if (nev + 2 > evcap)
						{
							evcap = evcap ? evcap * 2 : 1024;
							ev = realloc(ev, sizeof(Event) * evcap);
						}
						ev[nev].at = pick;
						ev[nev].kind = 0;
						ev[nev].order = trip[k];
						ev[nev].courier = c;
						ev[nev].where.kind = 'r';
						ev[nev].where.id = in->orders[trip[k]].restaurant;
						nev++;
						ev[nev].at = drops[k];
						ev[nev].kind = 1;
						ev[nev].order = trip[k];
						ev[nev].courier = c;
						ev[nev].where.kind = 'o';
						ev[nev].where.id = trip[k];
						nev++;
					}
					cs[c].at = end;
					cs[c].free_at = end_free;
				}
				/* what is left of its orders: other restaurants */
				{
					int			r0 = in->orders[trip[0]].restaurant;

					for (k = 0, i = 0; k < cs[c].nheld; k++)
						if (in->orders[cs[c].held[k]].restaurant != r0)
						{
							cs[c].held_at[i] = cs[c].held_at[k];
							cs[c].held[i++] = cs[c].held[k];
						}
					cs[c].nheld = i;
				}
			}
			/* couriers whose orders changed tell their plan */
			for (c = 1; c <= in->ncouriers; c++)
				if (cs[c].replan)
				{
					cs[c].replan = false;
					if (!report_plan(in, c, rid[c], &cs[c], t))
						goto done;
				}
		}
		if (t > last && nev == 0)
			break;
	}
	sort_moves(s);
	ok = true;
done:
	if (!ok)
		snprintf(err, errlen, "%s", sqlerr);
	for (c = 0; c <= in->ncouriers; c++)
	{
		free(cs[c].held);
		free(cs[c].held_at);
	}
	free(cs);
	free(rid);
	free(courier_of);
	free(dispatch_id);
	free(merchant);
	free(item);
	free(ev);
	free(back[0].text);
	free(back[1].text);
	free(accept.text);
	return ok;
}

/* a database of its own, from the usual environment (simdb.c) */
static bool
open_replay_db(char *dbname, int len, char *err, int errlen)
{
	snprintf(dbname, len, "dispatch_replay_%d", (int) getpid());
	if (!sim_create_db(dbname, err, errlen))
		return false;
	conn = sim_connect(dbname, "dispatch-sim-replay", err, errlen);
	return conn != NULL;
}

static void
close_replay_db(const char *dbname)
{
	if (conn)
		PQfinish(conn);
	conn = NULL;
	sim_drop_db(dbname);
}

/* replay one instance with a strategy; write, check, measure */
static int
replay_one(const char *dir, const char *out, bool greedy, MdrpMeasures *m, bool quiet)
{
	MdrpInstance in;
	MdrpSolution s;
	char		err[1024],
				dbname[128];

	if (!mdrp_read_instance(dir, &in, err, sizeof(err)))
	{
		fprintf(stderr, "sim: %s\n", err);
		return 2;
	}
	if (greedy)
		mdrp_greedy(&in, &s);
	else
	{
		if (!open_replay_db(dbname, sizeof(dbname), err, sizeof(err)))
		{
			fprintf(stderr, "sim: %s\n", err);
			return 2;
		}
		if (!mdrp_replay(&in, &s, err, sizeof(err)))
		{
			fprintf(stderr, "sim: replay of %s failed: %s\n", in.name, err);
			close_replay_db(dbname);
			return 2;
		}
		close_replay_db(dbname);
	}
	if (out && !mdrp_write_solution(out, &in, &s, err, sizeof(err)))
	{
		fprintf(stderr, "sim: %s\n", err);
		return 2;
	}
	if (!mdrp_check(&in, &s, err, sizeof(err)))
	{
		fprintf(stderr, "sim: the %s solution of %s is infeasible: %s\n", greedy ? "greedy" : "replay", in.name, err);
		return 1;
	}
	mdrp_measure(&in, &s, m);
	if (!quiet)
	{
		char		label[512];

		snprintf(label, sizeof(label), "%s (%s, checked)", in.name, greedy ? "simple online rule" : "dispatch");
		mdrp_print_measures(label, m);
	}
	mdrp_free_solution(&s);
	mdrp_free_instance(&in);
	return 0;
}

int
mdrp_replay_main(int argc, char **argv)
{
	const char *dir = NULL,
			   *out = NULL;
	bool		greedy = false;
	MdrpMeasures m;
	int			i;

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--replay") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--strategy") == 0 && i + 1 < argc)
			greedy = strcmp(argv[++i], "greedy") == 0;
		else
		{
			fprintf(stderr, "usage: sim --replay INSTANCE_DIR --out SOLUTION_DIR [--strategy dispatch|greedy]\n");
			return 2;
		}
	}
	if (dir == NULL || out == NULL)
	{
		fprintf(stderr, "usage: sim --replay INSTANCE_DIR --out SOLUTION_DIR [--strategy dispatch|greedy]\n");
		return 2;
	}
	return replay_one(dir, out, greedy, &m, false);
}

/* ------------------------------------------------------ all the instances */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

int
mdrp_replay_all_main(int argc, char **argv)
{
	const char *data = argc > 2 ? argv[2] : "../shared/data/mdrp";
	int			jobs = (int) sysconf(_SC_NPROCESSORS_ONLN);
	DIR		   *d = opendir(data);
	struct dirent *e;
	char	  **names = NULL;
	int			n = 0,
				i,
				running = 0;
	char		tmp[] = "/tmp/sim-replay-XXXXXX";
	double		sums[2][7] = {{0}};
	int			counts[2] = {0},
				infeasible[2] = {0},
				past_max[2] = {0};

	if (d == NULL)
	{
		fprintf(stderr, "sim: %s: %s\n", data, strerror(errno));
		return 2;
	}
	while ((e = readdir(d)) != NULL)
	{
		char		probe[4096];

		snprintf(probe, sizeof(probe), "%s/%s/orders.txt", data, e->d_name);
		if (e->d_name[0] != '.' && access(probe, R_OK) == 0)
		{
			names = realloc(names, sizeof(char *) * (n + 1));
			names[n++] = strdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(char *), cmp_str);
	if (jobs < 1)
		jobs = 1;
	if (mkdtemp(tmp) == NULL)
		return 2;
	printf("replaying %d instances of %s, %d at a time\n", n, data, jobs);
	fflush(stdout);
	/* each instance in a child: both strategies, figures into a file */
	for (i = 0; i < n; i++)
	{
		pid_t		pid;

		while (running >= jobs)
		{
			wait(NULL);
			running--;
		}
		pid = fork();
		if (pid == 0)
		{
			char		dir[4096],
						path[4096];
			MdrpMeasures m[2];
			int			rc[2],
						k;
			FILE	   *f;

			snprintf(dir, sizeof(dir), "%s/%s", data, names[i]);
			rc[0] = replay_one(dir, NULL, false, &m[0], true);
			rc[1] = replay_one(dir, NULL, true, &m[1], true);
			snprintf(path, sizeof(path), "%s/%s", tmp, names[i]);
			f = fopen(path, "w");
			for (k = 0; k < 2; k++)
				fprintf(f, "%d %.4f %.4f %.6f %.4f %.4f %.6f %.4f %d %d\n", rc[k], m[k].ctd_mean,
						m[k].ctd_p90, m[k].share_past_target, m[k].ready_to_pickup_mean,
						m[k].cost_per_order, m[k].undelivered_share, m[k].bound_mean, m[k].past_max,
						m[k].orders);
			fclose(f);
			_exit(0);
		}
		running++;
	}
	while (running-- > 0)
		wait(NULL);
	for (i = 0; i < n; i++)
	{
		char		path[4096];
		FILE	   *f;
		int			k;

		snprintf(path, sizeof(path), "%s/%s", tmp, names[i]);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		for (k = 0; k < 2; k++)
		{
			int			rc,
						past,
						orders;
			double		v[7];

			if (fscanf(f, "%d %lf %lf %lf %lf %lf %lf %lf %d %d", &rc, &v[0], &v[1], &v[2], &v[3], &v[4],
					   &v[5], &v[6], &past, &orders) != 10)
				continue;
			if (rc != 0)
			{
				infeasible[k]++;
				continue;
			}
			for (int j = 0; j < 7; j++)
				sums[k][j] += v[j];
			past_max[k] += past;
			counts[k]++;
		}
		fclose(f);
		unlink(path);
	}
	rmdir(tmp);
	/*
	 * past 90 min: the orders delivered past the instances' maximum
	 * click-to-door (90 minutes in every instance), summed over the days;
	 * bound: the mean of the days' physical lower bounds, over the orders
	 * each side delivered (docs/replay.md, "The checker")
	 */
	printf("\n%-26s %10s %8s %10s %14s %15s %12s %11s %12s %8s\n", "", "instances", "mean", "p90", "past 40 min",
		   "ready-to-pickup", "cost/order", "undelivered", "past 90 min", "bound");
	for (i = 0; i < 2; i++)
		if (counts[i])
			printf("%-26s %10d %8.2f %10.1f %13.1f%% %15.2f %12.2f %10.2f%% %12d %8.2f\n",
				   i == 0 ? "dispatch (assign_batch)" : "simple online rule", counts[i],
				   sums[i][0] / counts[i], sums[i][1] / counts[i], 100 * sums[i][2] / counts[i],
				   sums[i][3] / counts[i], sums[i][4] / counts[i], 100 * sums[i][5] / counts[i],
				   past_max[i], sums[i][6] / counts[i]);
	printf("%-26s %10s %8.2f %10.1f %14s %15.2f %12.2f %10.2f%% %12s %8s\n", "published (Reyes 2018)", "240", 32.74,
		   49.3, "-", 1.93, 11.42, 0.25, "-", "-");
	printf("%-26s %10s %8.2f %10.1f %14s %15.2f %12.2f %10.2f%% %12s %8s\n", "published simple rule", "240", 35.2,
		   51.5, "-", 5.4, 10.99, 0.37, "-", "-");
	printf("infeasible solutions: dispatch %d, simple rule %d (figures are means of the days' figures)\n",
		   infeasible[0], infeasible[1]);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return infeasible[0] + infeasible[1] ? 1 : 0;
}
