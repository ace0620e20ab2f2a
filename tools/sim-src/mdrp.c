/*-------------------------------------------------------------------------
 *
 * mdrp.c
 *		Meal-delivery instances: reading instances and solutions, the
 *		feasibility checker (written from the rules of the data's README),
 *		the measures, and the entry points --check, --replay, --replay-all.
 *
 * The rules checked, each refused with its reason:
 *	 1. every order, courier, restaurant named exists; every order is in at
 *		most one trip, and a delivered order in exactly the trip that says so;
 *	 2. no trip is assigned before the placement of any of its orders;
 *	 3. one restaurant per trip;
 *	 4. the pickup is within the courier's duty (on time .. off time);
 *	 5. the pickup is not before the latest ready time of the trip;
 *	 6. the courier's moves chain in place (each starts where the last
 *		ended, the first at the start point) and in time (no departure
 *		before the courier is free there, nor for a trip's restaurant
 *		before the trip is assigned; whole-minute ceil travel times);
 *	 7. each trip: to the restaurant, pickup not before arrival plus the
 *		first half of the pickup service, departure at pickup plus the
 *		second half, then to its orders in the assigned sequence, each
 *		drop-off at arrival plus the first half of the drop-off service,
 *		the next departure at drop-off plus the second half;
 *	 8. the orders file agrees with the instance and the trips (placement,
 *		ready, pickup, drop-off times, courier).
 * A row with fewer or more columns than the README's format is malformed;
 * an instance whose order names a restaurant without a row is refused when
 * it is read.
 *
 * IDENTIFICATION
 *		tools/sim-src/mdrp.c
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mdrp.h"
#include "sim.h"

#define MAX_LINE 65536

static bool
fail(char *err, int errlen, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

/* "o12" -> 12 when the letter is as expected; -1 otherwise; "0" -> 0 */
static int
parse_id(const char *tok, char letter)
{
	char	   *end;
	long		v;

	if (strcmp(tok, "0") == 0)
		return 0;
	if (tok[0] != letter || !isdigit((unsigned char) tok[1]))
		return -1;
	v = strtol(tok + 1, &end, 10);
	return (*end == '\0' && v > 0 && v < 10000000) ? (int) v : -1;
}

/*
 * A whole number of minutes: the whole token, as the data's README has
 * them; "17.9" or "17x" is refused, not read as 17.  Within a billion
 * either way, so that sums of times cannot overflow.
 */
static bool
parse_int(const char *tok, int *v)
{
	char	   *end;
	long		l;

	errno = 0;
	l = strtol(tok, &end, 10);
	if (end == tok || *end != '\0' || errno != 0 || l < -1000000000L || l > 1000000000L)
		return false;
	*v = (int) l;
	return true;
}

/* split a line on tabs or spaces; returns the number of fields */
static int
split(char *line, char **f, int max)
{
	int			n = 0;
	char	   *p = strtok(line, " \t\r\n");

	while (p && n < max)
	{
		f[n++] = p;
		p = strtok(NULL, " \t\r\n");
	}
	return n;
}

static FILE *
open_in(const char *dir, const char *name, char *err, int errlen)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f == NULL)
		fail(err, errlen, "%s: %s", path, strerror(errno));
	return f;
}

bool
mdrp_read_instance(const char *dir, MdrpInstance *in, char *err, int errlen)
{
	char		line[MAX_LINE];
	char	   *f[16];
	FILE	   *fp;
	int			pass;
	bool	   *has_restaurant = NULL;	/* [1..nrestaurants]: a row for it */
	const char *slash = strrchr(dir, '/');

	memset(in, 0, sizeof(*in));
	snprintf(in->name, sizeof(in->name), "%s", slash && slash[1] ? slash + 1 : dir);

	/* parameters */
	if ((fp = open_in(dir, "instance_parameters.txt", err, errlen)) == NULL)
		return false;
	if (!fgets(line, sizeof(line), fp) || !fgets(line, sizeof(line), fp) || split(line, f, 16) < 7)
	{
		fclose(fp);
		return fail(err, errlen, "%s: instance_parameters.txt has no values", dir);
	}
	fclose(fp);
	in->mpm = atof(f[0]);
	if (!parse_int(f[1], &in->pickup_service) || !parse_int(f[2], &in->dropoff_service) ||
		!parse_int(f[3], &in->target_ctd) || !parse_int(f[4], &in->max_ctd))
		return fail(err, errlen, "%s/instance_parameters.txt line 2: malformed (a time that is not a whole number of minutes)", dir);
	in->pay_per_order = atof(f[5]);
	in->pay_per_hour = atof(f[6]);
	if (!(in->mpm > 0))
		return fail(err, errlen, "%s: metres per minute must be positive", dir);

	/* each file twice: the highest id, then the rows */
	for (pass = 0; pass < 2; pass++)
	{
		static const char *files[3] = {"restaurants.txt", "couriers.txt", "orders.txt"};
		static const char letters[3] = {'r', 'c', 'o'};
		static const int fields[3] = {3, 5, 6};
		int			k;

		for (k = 0; k < 3; k++)
		{
			int			lineno = 0;

			if ((fp = open_in(dir, files[k], err, errlen)) == NULL)
			{
				free(has_restaurant);
				return false;
			}
			while (fgets(line, sizeof(line), fp))
			{
				int			id;

				if (lineno++ == 0)
					continue;	/* the header */
				if (split(line, f, 16) < fields[k] || (id = parse_id(f[0], letters[k])) <= 0)
				{
					fclose(fp);
					free(has_restaurant);
					return fail(err, errlen, "%s/%s line %d: malformed", dir, files[k], lineno);
				}
				if (pass == 0)
				{
					int		   *n = k == 0 ? &in->nrestaurants : k == 1 ? &in->ncouriers : &in->norders;

					if (id > *n)
						*n = id;
					continue;
				}
				if (k == 0)
				{
					in->restaurants[id].x = atof(f[1]);
					in->restaurants[id].y = atof(f[2]);
					has_restaurant[id] = true;
				}
				else if (k == 1)
				{
					in->couriers[id].x = atof(f[1]);
					in->couriers[id].y = atof(f[2]);
					if (!parse_int(f[3], &in->couriers[id].on) || !parse_int(f[4], &in->couriers[id].off))
					{
						fclose(fp);
						free(has_restaurant);
						return fail(err, errlen, "%s/couriers.txt line %d: malformed (a time that is not a whole number of minutes)",
									dir, lineno);
					}
				}
				else
				{
					in->orders[id].x = atof(f[1]);
					in->orders[id].y = atof(f[2]);
					in->orders[id].restaurant = parse_id(f[4], 'r');
					if (!parse_int(f[3], &in->orders[id].placed) || !parse_int(f[5], &in->orders[id].ready))
					{
						fclose(fp);
						free(has_restaurant);
						return fail(err, errlen, "%s/orders.txt line %d: malformed (a time that is not a whole number of minutes)",
									dir, lineno);
					}
					if (in->orders[id].restaurant <= 0)
					{
						fclose(fp);
						free(has_restaurant);
						return fail(err, errlen, "%s/orders.txt line %d: bad restaurant", dir, lineno);
					}
					/* every place is looked up by id: no order of a restaurant without a row */
					if (in->orders[id].restaurant > in->nrestaurants || !has_restaurant[in->orders[id].restaurant])
					{
						fclose(fp);
						free(has_restaurant);
						return fail(err, errlen, "%s/orders.txt line %d: unknown restaurant r%d (not in restaurants.txt)",
									dir, lineno, in->orders[id].restaurant);
					}
				}
			}
			fclose(fp);
		}
		if (pass == 0)
		{
			int			i;

			in->restaurants = calloc(in->nrestaurants + 1, sizeof(MdrpRestaurant));
			in->couriers = calloc(in->ncouriers + 1, sizeof(MdrpCourier));
			in->orders = calloc(in->norders + 1, sizeof(MdrpOrder));
			has_restaurant = calloc(in->nrestaurants + 1, sizeof(bool));
			for (i = 0; i <= in->norders; i++)
				in->orders[i].placed = -1;
			for (i = 0; i <= in->ncouriers; i++)
				in->couriers[i].on = -1;
		}
	}
	free(has_restaurant);
	return true;
}

void
mdrp_free_instance(MdrpInstance *in)
{
	free(in->orders);
	free(in->couriers);
	free(in->restaurants);
}

static void
place_xy(const MdrpInstance *in, MdrpPlace p, int courier, double *x, double *y)
{
	if (p.kind == 'r')
	{
		*x = in->restaurants[p.id].x;
		*y = in->restaurants[p.id].y;
	}
	else if (p.kind == 'o')
	{
		*x = in->orders[p.id].x;
		*y = in->orders[p.id].y;
	}
	else
	{
		*x = in->couriers[courier].x;
		*y = in->couriers[courier].y;
	}
}

int
mdrp_travel(const MdrpInstance *in, MdrpPlace a, MdrpPlace b, int courier)
{
	double		ax, ay, bx, by;

	place_xy(in, a, courier, &ax, &ay);
	place_xy(in, b, courier, &bx, &by);
	return (int) ceil(hypot(ax - bx, ay - by) / in->mpm - 1e-9);
}

int
mdrp_first_half(int service)
{
	return service / 2;
}

/* ------------------------------------------------------------ solutions */

static bool
parse_place(const char *tok, MdrpPlace *p)
{
	if (strcmp(tok, "0") == 0)
	{
		p->kind = 's';
		p->id = 0;
		return true;
	}
	p->kind = tok[0];
	p->id = parse_id(tok, tok[0]);
	return (p->kind == 'r' || p->kind == 'o') && p->id > 0;
}

bool
mdrp_read_solution(const char *dir, MdrpSolution *s, char *err, int errlen)
{
	char		line[MAX_LINE];
	char	   *f[4096];
	FILE	   *fp;
	int			n,
				lineno;

	memset(s, 0, sizeof(*s));
	/* trips */
	if ((fp = open_in(dir, "solution_info_assignments.txt", err, errlen)) == NULL)
		return false;
	for (lineno = 1; fgets(line, sizeof(line), fp); lineno++)
	{
		MdrpTrip   *t;
		int			i,
					assigned,
					pickup;

		if (lineno == 1)
			continue;
		n = split(line, f, 4096);
		if (n == 0)
			continue;
		if (n < 4)
		{
			fclose(fp);
			return fail(err, errlen, "solution_info_assignments.txt line %d: a trip needs assignment time, pickup time, courier and an order", lineno);
		}
		if (!parse_int(f[0], &assigned) || !parse_int(f[1], &pickup))
		{
			fclose(fp);
			return fail(err, errlen, "solution_info_assignments.txt line %d: malformed (a time that is not a whole number of minutes)", lineno);
		}
		s->trips = realloc(s->trips, sizeof(MdrpTrip) * (s->ntrips + 1));
		t = &s->trips[s->ntrips++];
		t->assigned = assigned;
		t->pickup = pickup;
		t->courier = parse_id(f[2], 'c');
		t->norders = n - 3;
		t->orders = malloc(sizeof(int) * t->norders);
		for (i = 0; i < t->norders; i++)
			t->orders[i] = parse_id(f[3 + i], 'o');
	}
	fclose(fp);
	/* deliveries */
	if ((fp = open_in(dir, "solution_info_orders.txt", err, errlen)) == NULL)
		return false;
	for (lineno = 1; fgets(line, sizeof(line), fp); lineno++)
	{
		MdrpDelivery *d;

		if (lineno == 1)
			continue;
		n = split(line, f, 16);
		if (n == 0)
			continue;
		if (n < 6)
		{
			fclose(fp);
			return fail(err, errlen, "solution_info_orders.txt line %d: malformed", lineno);
		}
		/* a column more is a writer's mistake, not something to skip */
		if (n > 6)
		{
			fclose(fp);
			return fail(err, errlen, "solution_info_orders.txt line %d: malformed (%s%d columns, the format has 6)",
						lineno, n == 16 ? "at least " : "", n);
		}
		s->deliveries = realloc(s->deliveries, sizeof(MdrpDelivery) * (s->ndeliveries + 1));
		d = &s->deliveries[s->ndeliveries++];
		if (!parse_int(f[1], &d->placed) || !parse_int(f[2], &d->ready) ||
			!parse_int(f[3], &d->pickup) || !parse_int(f[4], &d->dropoff))
		{
			fclose(fp);
			return fail(err, errlen, "solution_info_orders.txt line %d: malformed (a time that is not a whole number of minutes)", lineno);
		}
		d->order = parse_id(f[0], 'o');
		d->courier = parse_id(f[5], 'c');
	}
	fclose(fp);
	/* moves */
	if ((fp = open_in(dir, "solution_info_couriers.txt", err, errlen)) == NULL)
		return false;
	for (lineno = 1; fgets(line, sizeof(line), fp); lineno++)
	{
		MdrpMove   *m;

		if (lineno == 1)
			continue;
		n = split(line, f, 16);
		if (n == 0)
			continue;
		s->moves = realloc(s->moves, sizeof(MdrpMove) * (s->nmoves + 1));
		m = &s->moves[s->nmoves++];
		if (n < 4 || !parse_place(f[2], &m->from) || !parse_place(f[3], &m->to) || m->to.kind == 's')
		{
			fclose(fp);
			return fail(err, errlen, "solution_info_couriers.txt line %d: malformed move", lineno);
		}
		if (n > 4)
		{
			fclose(fp);
			return fail(err, errlen, "solution_info_couriers.txt line %d: malformed move (%s%d columns, the format has 4)",
						lineno, n == 16 ? "at least " : "", n);
		}
		if (!parse_int(f[1], &m->departure))
		{
			fclose(fp);
			return fail(err, errlen, "solution_info_couriers.txt line %d: malformed move (a time that is not a whole number of minutes)", lineno);
		}
		m->courier = parse_id(f[0], 'c');
	}
	fclose(fp);
	return true;
}

void
mdrp_free_solution(MdrpSolution *s)
{
	int			i;

	for (i = 0; i < s->ntrips; i++)
		free(s->trips[i].orders);
	free(s->trips);
	free(s->moves);
	free(s->deliveries);
	memset(s, 0, sizeof(*s));
}

static const char *
place_name(MdrpPlace p, char *buf, int len)
{
	if (p.kind == 's')
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "%c%d", p.kind, p.id);
	return buf;
}

bool
mdrp_write_solution(const char *dir, const MdrpInstance *in, const MdrpSolution *s, char *err, int errlen)
{
	char		path[4096],
				a[32],
				b[32];
	FILE	   *fp;
	int			i,
				j;

	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/solution_info_assignments.txt", dir);
	if ((fp = fopen(path, "w")) == NULL)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	fprintf(fp, "assignment_time pickup_time courier orders\n");
	for (i = 0; i < s->ntrips; i++)
	{
		fprintf(fp, "%d %d c%d", s->trips[i].assigned, s->trips[i].pickup, s->trips[i].courier);
		for (j = 0; j < s->trips[i].norders; j++)
			fprintf(fp, " o%d", s->trips[i].orders[j]);
		fputc('\n', fp);
	}
	fclose(fp);
	snprintf(path, sizeof(path), "%s/solution_info_orders.txt", dir);
	if ((fp = fopen(path, "w")) == NULL)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	fprintf(fp, "order placement_time ready_time pickup_time dropoff_time courier\n");
	for (i = 0; i < s->ndeliveries; i++)
	{
		const MdrpDelivery *d = &s->deliveries[i];

		fprintf(fp, "o%d %d %d %d %d c%d\n", d->order, d->placed, d->ready, d->pickup, d->dropoff, d->courier);
	}
	fclose(fp);
	snprintf(path, sizeof(path), "%s/solution_info_couriers.txt", dir);
	if ((fp = fopen(path, "w")) == NULL)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	fprintf(fp, "courier departure_time origin destination\n");
	for (i = 0; i < s->nmoves; i++)
		fprintf(fp, "c%d %d %s %s\n", s->moves[i].courier, s->moves[i].departure,
				place_name(s->moves[i].from, a, sizeof(a)), place_name(s->moves[i].to, b, sizeof(b)));
	fclose(fp);
	(void) in;
	return true;
}

/* -------------------------------------------------------------- checker */

static int
cmp_trip_by_courier(const void *a, const void *b)
{
	const MdrpTrip *x = *(MdrpTrip *const *) a,
			   *y = *(MdrpTrip *const *) b;

	if (x->courier != y->courier)
		return x->courier - y->courier;
	return x->pickup - y->pickup;
}

bool
mdrp_check(const MdrpInstance *in, const MdrpSolution *s, char *err, int errlen)
{
	int		   *trip_of = calloc(in->norders + 1, sizeof(int));	/* trip index + 1 */
	int		   *drop_at = calloc(in->norders + 1, sizeof(int));
	int		   *pick_at = calloc(in->norders + 1, sizeof(int));
	int		   *drop_by = calloc(in->norders + 1, sizeof(int));
	MdrpTrip  **sorted = malloc(sizeof(MdrpTrip *) * (s->ntrips + 1));
	int			sp1 = mdrp_first_half(in->pickup_service),
				sp2 = in->pickup_service - sp1,
				sd1 = mdrp_first_half(in->dropoff_service),
				sd2 = in->dropoff_service - sd1;
	int		   *first_move = malloc(sizeof(int) * (in->ncouriers + 1));
	int		   *used_moves = calloc(in->ncouriers + 1, sizeof(int));
	int			i,
				j,
				mv = 0;
	bool		ok = false;

	/* each courier's moves are one group in the file, in execution order */
	for (i = 0; i <= in->ncouriers; i++)
		first_move[i] = -1;
	for (i = 0; i < s->nmoves; i++)
	{
		int			c = s->moves[i].courier;

		if (c <= 0 || c > in->ncouriers || in->couriers[c].on < 0)
		{
			fail(err, errlen, "couriers file, move %d: unknown courier", i + 1);
			goto done;
		}
		if (first_move[c] >= 0 && s->moves[i - 1].courier != c)
		{
			fail(err, errlen, "c%d: its moves are not grouped together", c);
			goto done;
		}
		if (first_move[c] < 0)
			first_move[c] = i;
	}

	/* rules 1 to 5, trip by trip */
	for (i = 0; i < s->ntrips; i++)
	{
		const MdrpTrip *t = &s->trips[i];
		int			latest_ready = 0;

		if (t->courier <= 0 || t->courier > in->ncouriers || in->couriers[t->courier].on < 0)
		{
			fail(err, errlen, "trip %d: unknown courier", i + 1);
			goto done;
		}
		for (j = 0; j < t->norders; j++)
		{
			int			o = t->orders[j];

			if (o <= 0 || o > in->norders || in->orders[o].placed < 0)
			{
				fail(err, errlen, "trip %d: unknown order", i + 1);
				goto done;
			}
			if (trip_of[o])
			{
				fail(err, errlen, "order o%d is assigned twice (trips %d and %d)", o, trip_of[o], i + 1);
				goto done;
			}
			trip_of[o] = i + 1;
			if (t->assigned < in->orders[o].placed)
			{
				fail(err, errlen, "trip %d is assigned at %d, before order o%d is placed (%d)",
					 i + 1, t->assigned, o, in->orders[o].placed);
				goto done;
			}
			if (in->orders[o].restaurant != in->orders[t->orders[0]].restaurant)
			{
				fail(err, errlen, "trip %d picks up at two restaurants (r%d and r%d)", i + 1,
					 in->orders[t->orders[0]].restaurant, in->orders[o].restaurant);
				goto done;
			}
			if (in->orders[o].ready > latest_ready)
				latest_ready = in->orders[o].ready;
		}
		if (t->pickup < in->couriers[t->courier].on || t->pickup > in->couriers[t->courier].off)
		{
			fail(err, errlen, "trip %d: pickup at %d outside the duty of c%d (%d to %d)", i + 1, t->pickup,
				 t->courier, in->couriers[t->courier].on, in->couriers[t->courier].off);
			goto done;
		}
		if (t->pickup < latest_ready)
		{
			fail(err, errlen, "trip %d: pickup at %d before its orders are ready (%d)", i + 1, t->pickup, latest_ready);
			goto done;
		}
		sorted[i] = (MdrpTrip *) t;
	}

	/* rules 6 and 7: replay each courier's moves against its trips */
	qsort(sorted, s->ntrips, sizeof(MdrpTrip *), cmp_trip_by_courier);
	for (i = 0; i < s->ntrips;)
	{
		int			c = sorted[i]->courier;
		MdrpPlace	at = {'s', 0};
		int			free_at = in->couriers[c].on;

		for (; i < s->ntrips && sorted[i]->courier == c; i++)
		{
			const MdrpTrip *t = sorted[i];
			MdrpPlace	r = {'r', in->orders[t->orders[0]].restaurant};
			int			leave;

			/* to the restaurant */
			mv = first_move[c] < 0 ? s->nmoves : first_move[c] + used_moves[c];
			if (mv >= s->nmoves || s->moves[mv].courier != c || s->moves[mv].to.kind != 'r' ||
				s->moves[mv].to.id != r.id)
			{
				fail(err, errlen, "c%d: no move to r%d for the trip picked up at %d (moves must be grouped by courier, in order)",
					 c, r.id, t->pickup);
				goto done;
			}
			if (s->moves[mv].from.kind != at.kind || s->moves[mv].from.id != at.id)
			{
				fail(err, errlen, "c%d: the move to r%d starts where the courier is not", c, r.id);
				goto done;
			}
			if (s->moves[mv].departure < free_at)
			{
				fail(err, errlen, "c%d: leaves for r%d at %d, before it is free (%d)", c, r.id,
					 s->moves[mv].departure, free_at);
				goto done;
			}
			/* it waits where it is until it is given the trip */
			if (s->moves[mv].departure < t->assigned)
			{
				fail(err, errlen, "c%d: leaves for r%d at %d, before its trip is assigned (%d)", c, r.id,
					 s->moves[mv].departure, t->assigned);
				goto done;
			}
			if (t->pickup < s->moves[mv].departure + mdrp_travel(in, at, r, c) + sp1)
			{
				fail(err, errlen, "c%d: picks up at r%d at %d, before arriving there plus half the service (%d)",
					 c, r.id, t->pickup, s->moves[mv].departure + mdrp_travel(in, at, r, c) + sp1);
				goto done;
			}
			at = r;
			leave = t->pickup + sp2;
			mv++;
			used_moves[c]++;
			/* to each order, in sequence */
			for (j = 0; j < t->norders; j++)
			{
				MdrpPlace	o = {'o', t->orders[j]};
				int			drop;

				if (mv >= s->nmoves || s->moves[mv].courier != c || s->moves[mv].to.kind != 'o' ||
					s->moves[mv].to.id != o.id || s->moves[mv].from.kind != at.kind || s->moves[mv].from.id != at.id)
				{
					fail(err, errlen, "c%d: the moves do not drop off o%d in the assigned sequence", c, o.id);
					goto done;
				}
				if (s->moves[mv].departure != leave)
				{
					fail(err, errlen, "c%d: leaves for o%d at %d, not when it is done at the last stop (%d): a trip is never interrupted",
						 c, o.id, s->moves[mv].departure, leave);
					goto done;
				}
				drop = leave + mdrp_travel(in, at, o, c) + sd1;
				drop_at[o.id] = drop;
				pick_at[o.id] = t->pickup;
				drop_by[o.id] = c;
				leave = drop + sd2;
				at = o;
				mv++;
				used_moves[c]++;
			}
			free_at = leave;
		}
	}
	/* every move belongs to a trip */
	for (i = 0; i < s->nmoves; i++)
	{
		int			c = s->moves[i].courier;

		if (i >= first_move[c] + used_moves[c])
		{
			fail(err, errlen, "c%d: a move (to %c%d at %d) that belongs to no trip", c,
				 s->moves[i].to.kind, s->moves[i].to.id, s->moves[i].departure);
			goto done;
		}
	}

	/* rule 8: the orders file */
	for (i = 0; i < s->ndeliveries; i++)
	{
		const MdrpDelivery *d = &s->deliveries[i];

		if (d->order <= 0 || d->order > in->norders || !trip_of[d->order])
		{
			fail(err, errlen, "orders file, line %d: o%d is in no trip", i + 2, d->order);
			goto done;
		}
		if (d->placed != in->orders[d->order].placed || d->ready != in->orders[d->order].ready)
		{
			fail(err, errlen, "orders file: o%d's placement or ready time differs from the instance", d->order);
			goto done;
		}
		/* a listed order's drop_by is negated below */
		if (drop_by[d->order] < 0)
		{
			fail(err, errlen, "orders file: o%d is listed twice", d->order);
			goto done;
		}
		if (d->pickup != pick_at[d->order] || d->dropoff != drop_at[d->order] || d->courier != drop_by[d->order])
		{
			fail(err, errlen, "orders file: o%d says pickup %d, drop-off %d by c%d; its trip gives %d, %d by c%d",
				 d->order, d->pickup, d->dropoff, d->courier, pick_at[d->order], drop_at[d->order], drop_by[d->order]);
			goto done;
		}
		drop_by[d->order] = -drop_by[d->order];
	}
	for (i = 1; i <= in->norders; i++)
		if (trip_of[i] && drop_by[i] > 0)
		{
			fail(err, errlen, "orders file: o%d is in a trip but not listed", i);
			goto done;
		}
	ok = true;
done:
	free(trip_of);
	free(drop_at);
	free(pick_at);
	free(drop_by);
	free(sorted);
	free(first_move);
	free(used_moves);
	return ok;
}

/* ------------------------------------------------------------- measures */

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

void
mdrp_measure(const MdrpInstance *in, const MdrpSolution *s, MdrpMeasures *m)
{
	double	   *ctd = malloc(sizeof(double) * (s->ndeliveries + 1));
	double		sum = 0,
				ready_wait = 0,
				work = 0,
				duty = 0,
				pay = 0,
				bound = 0;
	int		   *per_courier = calloc(in->ncouriers + 1, sizeof(int));
	int			i,
				past = 0,
				n = 0;

	memset(m, 0, sizeof(*m));
	for (i = 1; i <= in->norders; i++)
		if (in->orders[i].placed >= 0)
			m->orders++;
	for (i = 0; i < s->ndeliveries; i++)
	{
		const MdrpDelivery *d = &s->deliveries[i];

		/*
		 * the bound of the mean, over the same orders as the mean: a
		 * courier waiting at the restaurant, pickup when the order is
		 * placed and ready, leave after the second half of the service,
		 * drive, drop off after the first half
		 */
		if (d->order >= 1 && d->order <= in->norders && in->orders[d->order].placed >= 0)
		{
			const MdrpOrder *o = &in->orders[d->order];
			MdrpPlace	r = {'r', o->restaurant},
						to = {'o', d->order};
			int			start = o->ready > o->placed ? o->ready : o->placed;

			bound += start + (in->pickup_service - mdrp_first_half(in->pickup_service)) +
				mdrp_travel(in, r, to, 0) + mdrp_first_half(in->dropoff_service) - o->placed;
		}
		ctd[n++] = d->dropoff - d->placed;
		sum += d->dropoff - d->placed;
		past += (d->dropoff - d->placed) > in->target_ctd;
		m->past_max += (d->dropoff - d->placed) > in->max_ctd;
		ready_wait += d->pickup - d->ready;
		if (d->courier > 0 && d->courier <= in->ncouriers)
			per_courier[d->courier]++;
	}
	for (i = 0; i < s->nmoves; i++)
		work += mdrp_travel(in, s->moves[i].from, s->moves[i].to, s->moves[i].courier) +
			(s->moves[i].to.kind == 'r' ? in->pickup_service : in->dropoff_service);
	for (i = 1; i <= in->ncouriers; i++)
		if (in->couriers[i].on >= 0)
		{
			double		hours = (in->couriers[i].off - in->couriers[i].on) / 60.0;
			double		by_order = in->pay_per_order * per_courier[i];
			double		by_hour = in->pay_per_hour * hours;

			duty += hours;
			pay += by_order > by_hour ? by_order : by_hour;
		}
	qsort(ctd, n, sizeof(double), cmp_double);
	m->delivered = n;
	m->max_ctd = in->max_ctd;
	m->ctd_mean = n ? sum / n : 0;
	m->ctd_p90 = n ? ctd[(int) ceil(0.9 * n) - 1] : 0;
	m->share_past_target = n ? (double) past / n : 0;
	m->ready_to_pickup_mean = n ? ready_wait / n : 0;
	m->utilisation = duty > 0 ? work / (duty * 60) : 0;
	m->orders_per_courier_hour = duty > 0 ? n / duty : 0;
	m->cost_per_order = n ? pay / n : 0;
	m->undelivered_share = m->orders ? (double) (m->orders - n) / m->orders : 0;
	m->bound_mean = n ? bound / n : 0;
	free(ctd);
	free(per_courier);
}

void
mdrp_print_measures(const char *label, const MdrpMeasures *m)
{
	printf("%s: %d of %d orders delivered (%.2f %% undelivered); click-to-door mean %.2f min, p90 %.1f, "
		   "past the target %.1f %%; ready-to-pickup %.2f min; courier utilisation %.1f %%; "
		   "%.2f orders per courier hour; cost per order %.2f; lower bound of the mean %.2f min; "
		   "%d delivered past the maximum click-to-door of %d min\n",
		   label, m->delivered, m->orders, 100 * m->undelivered_share, m->ctd_mean, m->ctd_p90,
		   100 * m->share_past_target, m->ready_to_pickup_mean, 100 * m->utilisation,
		   m->orders_per_courier_hour, m->cost_per_order, m->bound_mean, m->past_max, m->max_ctd);
}

/* ---------------------------------------------------------- entry points */

int
mdrp_check_main(int argc, char **argv)
{
	MdrpInstance in;
	MdrpSolution s;
	MdrpMeasures m;
	char		err[1024];

	if (argc != 4)
	{
		fprintf(stderr, "usage: sim --check INSTANCE_DIR SOLUTION_DIR\n");
		return 2;
	}
	if (!mdrp_read_instance(argv[2], &in, err, sizeof(err)))
	{
		fprintf(stderr, "sim: %s\n", err);
		return 2;
	}
	if (!mdrp_read_solution(argv[3], &s, err, sizeof(err)) || !mdrp_check(&in, &s, err, sizeof(err)))
	{
		printf("infeasible: %s\n", err);
		return 1;
	}
	mdrp_measure(&in, &s, &m);
	mdrp_print_measures("feasible", &m);
	mdrp_free_solution(&s);
	mdrp_free_instance(&in);
	return 0;
}

/*
 * Where the food of a solution waited: each delivered order's wait (pickup
 * - ready), split by whether its courier was given it only after the food
 * was ready or before it and arrived late, and the detour of a shared trip
 * (drop-off - the direct drop-off from the pickup).  Of the orders given
 * after their food was ready, the share that had a courier idle (on duty,
 * its last trip done, its next not yet given) at some moment between
 * placement and that assignment who could have picked the food up sooner.
 */
typedef struct WaitSpell
{
	int			courier;
	double		from, to;		/* idle from, until given its next trip */
	MdrpPlace	at;
} WaitSpell;

int
mdrp_waits_main(int argc, char **argv)
{
	MdrpInstance in;
	MdrpSolution s;
	char		err[1024];
	int		   *given,
			   *drop;
	const MdrpTrip **by_courier;
	WaitSpell  *spell;
	int			nspell = 0,
				i,
				j,
				n = 0,
				after = 0,
				after_idle = 0,
				before = 0;
	double		wait = 0,
				wait_after = 0,
				wait_before = 0,
				detour = 0;
	int			sp1,
				sp2,
				sd1,
				sd2;

	if (argc != 4)
	{
		fprintf(stderr, "usage: sim --waits INSTANCE_DIR SOLUTION_DIR\n");
		return 2;
	}
	if (!mdrp_read_instance(argv[2], &in, err, sizeof(err)) ||
		!mdrp_read_solution(argv[3], &s, err, sizeof(err)))
	{
		fprintf(stderr, "sim: %s\n", err);
		return 2;
	}
	sp1 = mdrp_first_half(in.pickup_service);
	sp2 = in.pickup_service - sp1;
	sd1 = mdrp_first_half(in.dropoff_service);
	sd2 = in.dropoff_service - sd1;
	given = calloc(in.norders + 1, sizeof(int));
	drop = calloc(in.norders + 1, sizeof(int));
	for (i = 0; i < s.ntrips; i++)
		for (j = 0; j < s.trips[i].norders; j++)
			if (s.trips[i].orders[j] >= 1 && s.trips[i].orders[j] <= in.norders)
				given[s.trips[i].orders[j]] = s.trips[i].assigned;
	for (i = 0; i < s.ndeliveries; i++)
		if (s.deliveries[i].order >= 1 && s.deliveries[i].order <= in.norders)
			drop[s.deliveries[i].order] = s.deliveries[i].dropoff;

	/* each courier's idle spells, its trips in pickup order (as the checker sorts them) */
	by_courier = malloc(sizeof(MdrpTrip *) * (s.ntrips + 1));
	for (i = 0; i < s.ntrips; i++)
		by_courier[i] = &s.trips[i];
	qsort(by_courier, s.ntrips, sizeof(MdrpTrip *), cmp_trip_by_courier);
	spell = malloc(sizeof(WaitSpell) * (s.ntrips + in.ncouriers + 1));
	for (i = 1, j = 0; i <= in.ncouriers; i++)
	{
		double		t = in.couriers[i].on;
		MdrpPlace	at = {'s', 0};

		if (in.couriers[i].on < 0)
			continue;
		for (; j < s.ntrips && by_courier[j]->courier < i; j++)
			;
		for (; j < s.ntrips && by_courier[j]->courier == i; j++)
		{
			const MdrpTrip *tr = by_courier[j];
			int			last = tr->orders[tr->norders - 1];

			if (tr->assigned > t)
				spell[nspell++] = (WaitSpell) {i, t, tr->assigned, at};
			t = drop[last] + sd2;
			if (t < tr->assigned)
				t = tr->assigned;
			at = (MdrpPlace) {'o', last};
		}
		spell[nspell++] = (WaitSpell) {i, t, INFINITY, at};
	}

	for (i = 0; i < s.ndeliveries; i++)
	{
		const MdrpDelivery *d = &s.deliveries[i];
		const MdrpOrder *o = &in.orders[d->order];
		MdrpPlace	r = {'r', o->restaurant},
					to = {'o', d->order};
		int			w = d->pickup - o->ready;

		n++;
		wait += w;
		detour += d->dropoff - (d->pickup + sp2 + mdrp_travel(&in, r, to, 0) + sd1);
		if (w <= 0)
			continue;
		if (given[d->order] > o->ready)
		{
			after++;
			wait_after += w;
			for (j = 0; j < nspell; j++)
			{
				double		t = spell[j].from > o->placed ? spell[j].from : o->placed;
				double		q = t + mdrp_travel(&in, spell[j].at, r, spell[j].courier) + sp1;

				if (q < o->ready)
					q = o->ready;
				if (t < spell[j].to && t < given[d->order] &&
					q <= in.couriers[spell[j].courier].off && q < d->pickup)
				{
					after_idle++;
					break;
				}
			}
		}
		else
		{
			before++;
			wait_before += w;
		}
	}
	printf("%s: food wait %.3f min; given after ready: share %.3f, wait %.3f, an idle courier sooner %.3f;"
		   " given before, late: share %.3f, wait %.3f; detour %.3f\n",
		   in.name, n ? wait / n : 0, n ? (double) after / n : 0, n ? wait_after / n : 0,
		   after ? (double) after_idle / after : 0, n ? (double) before / n : 0,
		   n ? wait_before / n : 0, n ? detour / n : 0);
	free(given);
	free(drop);
	free(by_courier);
	free(spell);
	mdrp_free_solution(&s);
	mdrp_free_instance(&in);
	return 0;
}
