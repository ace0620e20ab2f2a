/*-------------------------------------------------------------------------
 *
 * city.c
 *		tools/sim: a synthetic city driven through dispatch's SQL API.
 *
 * The city is a square of zones (polygons) with merchants, customers and
 * riders at seeded random places.  Its demand (who orders what from whom,
 * when, paying or not, with a coupon or not, cancelling or not, and what
 * they will say afterwards) is drawn once from the seed, so both strategies
 * serve the same orders.  Each strategy runs in a database of its own.
 *
 * Simulated time drives dispatch.clock() (dispatch.clock_override) and
 * advances in ticks.  Each tick has three phases, each run in parallel
 * over several connections (threads), with a barrier between them:
 *
 *	orders	  the application servers: orders placed and paid (some payments
 *			  fail, three in five of those are retried), merchants accept with a
 *			  ready time, customers cancel or leave feedback;
 *	dispatch  per zone: assign_batch every batch interval (strategy
 *			  dispatch), or nearest-rider greedy through nearest_riders and
 *			  assign_manually (strategy greedy); the complaint loop (support
 *			  resolving open tickets) every ten minutes;
 *	riders	  the rider apps: shifts start and end, offers are accepted or
 *			  rejected, an accepted order is sometimes released, riders ride
 *			  in straight lines at their vehicle's speed, pick up when the
 *			  food is ready, deliver, ping their position, and sometimes
 *			  lose their signal, caching pings and actions that they send
 *			  with sync_rider when it is back.
 *
 * A listener thread on its own connection LISTENs on dispatch_events and
 * notes every notification; at the end the outbox is compared with what it
 * received (missed, out of order) and the time from a writing call's
 * commit being acknowledged to its notification arriving is measured.
 *
 * IDENTIFICATION
 *		tools/sim-src/city.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"
#include "city.h"
#include "sim.h"

const char *const city_strategy_name[CITY_NSTRAT] = {"dispatch", "greedy"};

/* the city's day; minute 0 is its midnight (Asia/Shanghai) */
#define DAY_EPOCH 1795968000.0	/* 2026-11-30 00:00:00+08 */
#define EARTH_M_PER_DEG 111320.0
#define CITY_LON0 121.40
#define CITY_LAT0 31.17
#define MAX_HELD 8
#define MAX_OFFERS 8

enum
{
	S_NEW, S_PENDING, S_FAILED, S_PLACED, S_ACCEPTED, S_ASSIGNED, S_PICKED,
	S_DELIVERED, S_CANCELLED, S_REFUSED, S_NSTATUS
};
static const char *const status_name[S_NSTATUS] = {
	"new", "pending_payment", "payment_failed", "placed", "accepted", "assigned",
	"picked_up", "delivered", "cancelled", "refused"
};

/* ------------------------------------------------------------ randomness */

static uint64_t
rnd_next(uint64_t *s)
{
	uint64_t	z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static double
rnd(uint64_t *s)
{
	return (double) (rnd_next(s) >> 11) / 9007199254740992.0;
}

static int
rnd_int(uint64_t *s, int n)
{
	return (int) (rnd(s) * n);
}

/* ------------------------------------------------------------ the city */

typedef struct Merchant
{
	long long	id;
	int			zone;
	double		x,
				y;				/* metres from the south-west corner */
	int			prep;			/* minutes */
	long long	item[4];
} Merchant;

typedef struct Demand
{
	double		t;				/* seconds since midnight */
	int			customer;
	int			merchant;
	int			nitems;
	int			item[3];
	int			qty[3];
	double		x,
				y;
	const char *priority;
	bool		coupon;
	int			pay;			/* 0 paid, 1 fails then retried, 2 fails, given up */
	double		cancel_after;	/* seconds after placing, < 0: never */
	double		accept_after;	/* the merchant's reaction, seconds */
	double		prep_noise;		/* factor on the merchant's preparation */
	double		feedback_after; /* seconds after delivery, < 0: none */
	uint64_t	draw;			/* for the feedback's words */
} Demand;

typedef struct Order
{
	long long	id;
	int			status;
	int			zone;
	int			rider;			/* index, -1 */
	double		t_ready,
				t_assigned,		/* given to its rider (the last time) */
				from_x,
				from_y,			/* where that rider was then */
				t_arrived,		/* the rider at the merchant */
				t_picked,
				t_delivered,
				t_failed;
	bool		feedback_done;
	double		ack[S_NSTATUS]; /* wall time the first change to it committed */
} Order;

typedef struct Offer
{
	long long	offer_id;
	int			order;
} Offer;

typedef struct SyncBuf
{
	char	   *buf;
	size_t		len,
				cap;
	int			items;
	int			pending_orders[MAX_HELD * 2];
	int			npending;
} SyncBuf;

typedef struct Rider
{
	long long	id;
	int			zone;
	double		x,
				y;
	double		speed;			/* m/s */
	double		shift_start,
				shift_end;
	bool		online,
				gone;
	int			held[MAX_HELD];
	int			nheld;
	Offer		offers[MAX_OFFERS];
	int			noffers;
	int			release;		/* order to give back, -1 */
	double		release_at;
	double		dark_until;
	double		next_ping;
	double		busy_s;			/* holding orders, within the shift */
	int			client_seq;
	SyncBuf		sync;
	uint64_t	rng;
} Rider;

typedef struct Heard
{
	long long	zone;
	long long	seq;
	long long	order;
	int			status;			/* -1: not an order_status event */
	int			version;
	double		at;				/* monotonic */
	double		at_real;		/* since 1970 */
	long		arrival;		/* its place in what was heard */
} Heard;

typedef struct Run
{
	const CityConfig *cfg;
	int			strategy;
	char		dbname[64];
	bool		citus;			/* dispatch.orders distributed (Citus) */
	int			tag;			/* > 0: the database held zones already */
	int			nthreads;
	PGconn	  **conns;
	double	   *conn_clock;		/* the clock set on it; NaN: not yet */
	pthread_t  *threads;
	pthread_barrier_t start,
				done;
	void		(*phase) (struct Run *, int);
	bool		failed;
	char		err[512];
	pthread_mutex_t lock;

	int			nzones;
	long long  *zone_id;
	char	   *zones;			/* the run's zones, an SQL array literal */
	double		zone_km;
	int			nmerchants;
	Merchant   *merchants;
	int			ncustomers;
	long long  *customer_id;
	double	   *cust_x,
			   *cust_y;
	int			nriders;
	Rider	   *riders;
	int			ndemand;
	Demand	   *demand;
	Order	   *orders;
	int		   *order_hash;
	uint64_t	order_hash_size;
	double		speed_mps;		/* the zones' speed */
	double		now,
				prev;			/* simulated seconds since midnight */

	/* measures */
	double	   *batch_ms;
	long		nbatch,
				batch_cap;
	long		rejections,
				releases,
				fatigue,
				syncs,
				sync_items,
				refused,
				retried,
				coupons,
				feedback_written,
				tickets_resolved;

	/* the listener (on Citus: the poller of each zone's outbox) */
	pthread_t	listener;
	PGconn	   *lconn;
	long long	seq_before;		/* the outbox's last seq before the run */
	long long  *cursor;			/* on Citus: the last seq read, per zone */
	volatile bool listening,
				stop_listening;
	Heard	   *heard;
	long		nheard,
				heard_cap;
	volatile double last_heard;
} Run;

static double
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
fail(Run *run, const char *fmt,...)
{
	va_list		ap;

	pthread_mutex_lock(&run->lock);
	if (!run->failed)
	{
		va_start(ap, fmt);
		vsnprintf(run->err, sizeof(run->err), fmt, ap);
		va_end(ap);
		run->failed = true;
	}
	pthread_mutex_unlock(&run->lock);
}

/* simulated seconds since midnight as a timestamptz literal, in UTC */
static void
clock_text(double now, char *buf, size_t len)
{
	double		t = DAY_EPOCH + now;
	time_t		secs = (time_t) floor(t);
	int			ms = (int) lround((t - (double) secs) * 1000.0);
	struct tm	tm;
	char		day[32];

	if (ms >= 1000)
	{
		secs++;
		ms -= 1000;
	}
	gmtime_r(&secs, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03d+00", day, ms);
}

/*
 * On Citus: the statement in a transaction block of its own that sets the
 * simulated clock with SET LOCAL, which Citus carries to the workers for
 * the statements it sends them (citus.propagate_set_commands = local, set
 * by open_db); a session's setting would reach the coordinator only.  Sent
 * as a pipeline, in one round trip: Citus carries a SET LOCAL by the text
 * of the query message that holds it, so the SET must be a message of its
 * own (in one multi-statement string the workers would run the whole
 * string).  Gives the statement's result, or the first error, the
 * transaction then rolled back.
 */
static PGresult *
at_clock(Run *run, PGconn *c, const char *text)
{
	char		when[48],
				set[96];
	const char *const step[4] = {"BEGIN", set, text, "COMMIT"};
	PGresult   *r,
			   *keep = NULL;
	bool		sent;
	int			i;

	clock_text(run->now, when, sizeof(when));
	snprintf(set, sizeof(set), "SET LOCAL dispatch.clock_override = '%s'", when);
	sent = PQenterPipelineMode(c);
	for (i = 0; sent && i < 4; i++)
		sent = PQsendQueryParams(c, step[i], 0, NULL, NULL, NULL, NULL, 0);
	if (!sent || !PQpipelineSync(c))
		return PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
	for (i = 0; i < 4; i++)
		while ((r = PQgetResult(c)) != NULL)
		{
			ExecStatusType st = PQresultStatus(r);
			bool		bad = st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK &&
				st != PGRES_PIPELINE_ABORTED;
			bool		kept_bad = keep != NULL && PQresultStatus(keep) != PGRES_TUPLES_OK &&
				PQresultStatus(keep) != PGRES_COMMAND_OK;

			/* the third result is the statement's; an error replaces it */
			if ((bad && !kept_bad) || (!bad && !kept_bad && i == 2 && st != PGRES_PIPELINE_ABORTED))
			{
				PQclear(keep);
				keep = r;
			}
			else
				PQclear(r);
		}
	/* the pipeline's end */
	while ((r = PQgetResult(c)) != NULL && PQresultStatus(r) != PGRES_PIPELINE_SYNC)
		PQclear(r);
	PQclear(r);
	PQexitPipelineMode(c);
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	if (keep == NULL)
		keep = PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
	return keep;
}

/*
 * The statement a format and its arguments make, in a buffer of its own
 * size: a rider's offline sync grows with the spell and the pings, so no
 * fixed size fits.  NULL (the run failed) if it cannot be made.
 */
static char *
sql_text(Run *run, const char *fmt, va_list ap)
{
	va_list		again;
	char	   *text;
	int			n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0 || (text = malloc((size_t) n + 1)) == NULL)
	{
		fail(run, "cannot build a statement of %d bytes", n);
		return NULL;
	}
	vsnprintf(text, (size_t) n + 1, fmt, ap);
	return text;
}

/*
 * Run one statement.  An error fails the run and gives NULL, except a
 * refusal by the API (SQLSTATE class DP) where the caller says one may come
 * (refusable): then NULL alone, for the caller to handle.
 */
static PGresult *
vsql(Run *run, PGconn *c, bool refusable, const char *fmt, va_list ap)
{
	char	   *text = sql_text(run, fmt, ap);
	PGresult   *r;
	ExecStatusType st;
	const char *state;

	if (text == NULL)
		return NULL;
	r = run->citus ? at_clock(run, c, text) : PQexec(c, text);
	st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
	{
		free(text);
		return r;
	}
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (!refusable || state == NULL || strncmp(state, "DP", 2) != 0)
		fail(run, "%s(in: %.300s)", PQresultErrorMessage(r), text);
	free(text);
	PQclear(r);
	return NULL;
}

static PGresult *
sql(Run *run, PGconn *c, bool refusable, const char *fmt,...)
{
	va_list		ap;
	PGresult   *r;

	va_start(ap, fmt);
	r = vsql(run, c, refusable, fmt, ap);
	va_end(ap);
	return r;
}

static bool
sql_ok(Run *run, PGconn *c, const char *fmt,...)
{
	va_list		ap;
	PGresult   *r;

	va_start(ap, fmt);
	r = vsql(run, c, false, fmt, ap);
	va_end(ap);
	if (r == NULL)
		return false;
	PQclear(r);
	return true;
}

/*
 * The simulated clock on a connection (on Citus each call carries it).  A
 * connection not set yet holds NaN, equal to no time: else one whose first
 * tick is midnight (0.0) would keep the real clock for it.
 */
static void
clock_on(Run *run, int tid)
{
	if (run->citus || run->conn_clock[tid] == run->now)
		return;
	sql_ok(run, run->conns[tid],
		   "SELECT set_config('dispatch.clock_override', to_timestamp(%.3f)::text, false)",
		   DAY_EPOCH + run->now);
	run->conn_clock[tid] = run->now;
}

static void
to_lonlat(double x, double y, double *lon, double *lat)
{
	*lat = CITY_LAT0 + y / EARTH_M_PER_DEG;
	*lon = CITY_LON0 + x / (EARTH_M_PER_DEG * cos(CITY_LAT0 * M_PI / 180.0));
}

static int
zone_at(const Run *run, double x, double y)
{
	int			n = run->cfg->zones_per_side;
	int			i = (int) (x / (run->zone_km * 1000.0)),
				j = (int) (y / (run->zone_km * 1000.0));

	i = i < 0 ? 0 : i >= n ? n - 1 : i;
	j = j < 0 ? 0 : j >= n ? n - 1 : j;
	return j * n + i;
}

/* ------------------------------------------------------------ the demand */

/*
 * Orders a minute at minute m since midnight: a lunch peak of --peak at
 * 12:00 and a dinner peak of 0.85 of it at 18:30, over a base of 0.08 of
 * it all day (so 1.08 x --peak at 12:00).
 */
double
city_demand_rate(const CityConfig *cfg, double m)
{
	double		lunch = exp(-pow((m - 12 * 60) / 40.0, 2) / 2),
				dinner = exp(-pow((m - 18.5 * 60) / 50.0, 2) / 2);

	return cfg->peak_per_min * (0.08 + lunch + 0.85 * dinner);
}

static void
draw_demand(Run *run)
{
	const CityConfig *cfg = run->cfg;
	uint64_t	s = cfg->seed * 7919 + 17;
	double		m = cfg->start_min;
	int			cap = 1024;

	run->demand = malloc(sizeof(Demand) * cap);
	run->ndemand = 0;
	for (;;)
	{
		Demand	   *d;
		int			k,
					n,
					best = -1;
		double		bestd = 1e18;

		/* a Poisson process, thinned to the rate */
		m += -log(1.0 - rnd(&s)) / (cfg->peak_per_min * 1.93);
		if (m >= cfg->end_min)
			break;
		if (rnd(&s) * cfg->peak_per_min * 1.93 > city_demand_rate(cfg, m))
			continue;
		if (run->ndemand == cap)
			run->demand = realloc(run->demand, sizeof(Demand) * (cap *= 2));
		d = &run->demand[run->ndemand++];
		memset(d, 0, sizeof(*d));
		d->t = m * 60.0;
		d->customer = rnd_int(&s, run->ncustomers);
		/* of three merchants of the customer's zone drawn, the nearest; drop-off at home */
		for (k = 0, n = 0; k < 60 && n < 3; k++)
		{
			int			i = rnd_int(&s, run->nmerchants);
			double		dd = hypot(run->merchants[i].x - run->cust_x[d->customer],
								   run->merchants[i].y - run->cust_y[d->customer]);

			if (run->merchants[i].zone != zone_at(run, run->cust_x[d->customer], run->cust_y[d->customer]))
				continue;
			n++;
			if (dd < bestd)
			{
				bestd = dd;
				best = i;
			}
		}
		if (best < 0)
		{
			run->ndemand--;		/* a zone without merchants: no order */
			continue;
		}
		d->merchant = best;
		d->x = run->cust_x[d->customer];
		d->y = run->cust_y[d->customer];
		/*
		 * one to three distinct dishes of the four, the one with limited
		 * stock (the fourth) among them
		 */
		{
			int			menu[4] = {0, 1, 2, 3};

			d->nitems = 1 + rnd_int(&s, 3);
			for (k = 0; k < d->nitems; k++)
			{
				int			j = k + rnd_int(&s, 4 - k),
							t = menu[k];

				menu[k] = menu[j];
				menu[j] = t;
				d->item[k] = menu[k];
				d->qty[k] = 1 + (rnd(&s) < 0.3);
			}
		}
		k = rnd_int(&s, 10);
		d->priority = k < 7 ? "normal" : k < 9 ? "hot" : "fresh";
		d->coupon = rnd(&s) < 0.15;
		k = rnd_int(&s, 100);
		d->pay = k < 95 ? 0 : k < 98 ? 1 : 2;
		d->cancel_after = rnd(&s) < 0.02 ? 60 + rnd(&s) * 600 : -1;
		d->accept_after = 20 + rnd(&s) * 100;
		d->prep_noise = 0.7 + rnd(&s) * 0.6;
		d->feedback_after = rnd(&s) < 0.35 ? 60 + rnd(&s) * 900 : -1;
		d->draw = rnd_next(&s);
	}
}

/* ------------------------------------------------------------ the threads */

static void *
worker(void *arg)
{
	Run		   *run = ((void **) arg)[0];
	int			tid = (int) (intptr_t) ((void **) arg)[1];

	free(arg);
	for (;;)
	{
		pthread_barrier_wait(&run->start);
		if (run->phase == NULL)
			return NULL;
		if (!run->failed)
			run->phase(run, tid);
		pthread_barrier_wait(&run->done);
	}
}

static void
parallel(Run *run, void (*fn) (Run *, int))
{
	run->phase = fn;
	pthread_barrier_wait(&run->start);
	if (!run->failed)
		fn(run, 0);
	pthread_barrier_wait(&run->done);
}

static void
add_batch_ms(Run *run, double ms)
{
	pthread_mutex_lock(&run->lock);
	if (run->nbatch == run->batch_cap)
	{
		run->batch_cap = run->batch_cap ? run->batch_cap * 2 : 1024;
		run->batch_ms = realloc(run->batch_ms, sizeof(double) * run->batch_cap);
	}
	run->batch_ms[run->nbatch++] = ms;
	pthread_mutex_unlock(&run->lock);
}

static void
count(Run *run, long *counter, long n)
{
	pthread_mutex_lock(&run->lock);
	*counter += n;
	pthread_mutex_unlock(&run->lock);
}

/* the commit of a change to status s of order o was acknowledged now */
static void
acked(Order *o, int s)
{
	if (o->ack[s] == 0)
		o->ack[s] = wall_now();
}

/* ------------------------------------------------------------ the listener */

static int
status_code(const char *s, size_t n)
{
	int			i;

	for (i = 0; i < S_NSTATUS; i++)
		if (strlen(status_name[i]) == n && strncmp(status_name[i], s, n) == 0)
			return i;
	return -1;
}

static long long
json_ll(const char *p, const char *key)
{
	const char *k = strstr(p, key);

	return k ? atoll(k + strlen(key)) : 0;
}

/* an event has arrived (at: monotonic): noted, with the real time */
static void
heard_add(Run *run, Heard *h, double at)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	h->at = at;
	h->at_real = ts.tv_sec + ts.tv_nsec / 1e9;
	h->arrival = run->nheard;
	if (run->nheard == run->heard_cap)
	{
		run->heard_cap = run->heard_cap ? run->heard_cap * 2 : 65536;
		run->heard = realloc(run->heard, sizeof(Heard) * run->heard_cap);
	}
	run->heard[run->nheard++] = *h;
	run->last_heard = at;
}

static void
heard(Run *run, const char *payload, double at)
{
	Heard		h;
	const char *k;

	h.zone = json_ll(payload, "\"zone\":");
	h.seq = json_ll(payload, "\"seq\":");
	h.order = json_ll(payload, "\"order\":");
	h.version = (int) json_ll(payload, "\"version\":");
	h.status = -1;
	/*
	 * the envelope is compact, the kind's own members as jsonb prints them
	 * ("status": "placed"; docs/events.md)
	 */
	if (strstr(payload, "\"kind\":\"order_status\"") && (k = strstr(payload, "\"status\":")) != NULL)
	{
		const char *e;

		k += strlen("\"status\":");
		while (*k == ' ')
			k++;
		if (*k == '"' && (e = strchr(++k, '"')) != NULL)
			h.status = status_code(k, e - k);
	}
	heard_add(run, &h, at);
}

static void *
listener(void *arg)
{
	Run		   *run = arg;
	PGconn	   *c = run->lconn;
	int			sock = PQsocket(c);

	while (!run->stop_listening)
	{
		fd_set		fds;
		struct timeval tv = {0, 50000};
		PGnotify   *n;

		FD_ZERO(&fds);
		FD_SET(sock, &fds);
		if (select(sock + 1, &fds, NULL, NULL, &tv) < 0)
			continue;
		if (!PQconsumeInput(c))
		{
			fail(run, "listener: %s", PQerrorMessage(c));
			return NULL;
		}
		while ((n = PQnotifies(c)) != NULL)
		{
			heard(run, n->extra, wall_now());
			PQfreemem(n);
		}
	}
	return NULL;
}

/*
 * On Citus nothing notifies (docs/citus.md): the outbox of each zone is
 * read on the coordinator with events_since, a cursor per zone, as a
 * gateway with --zone does (tools/gateway.c), every 100 ms.  A zone's
 * events are numbered on its worker, so sequence numbers are compared
 * within a zone only.
 */
static void *
poller(void *arg)
{
	Run		   *run = arg;
	PGconn	   *c = run->lconn;

	while (!run->stop_listening)
	{
		bool		full = false;
		int			z;

		for (z = 0; z < run->nzones && !run->stop_listening; z++)
		{
			char		q[512];
			PGresult   *r;
			double		at;
			int			i,
						n;

			snprintf(q, sizeof(q),
					 "SELECT seq, coalesce(order_id, 0), coalesce(payload->>'version', '0'), "
					 "       CASE WHEN kind = 'order_status' THEN payload->>'status' END "
					 "  FROM dispatch.events_since(%lld, 1000, %lld)",
					 run->cursor[z], run->zone_id[z]);
			r = PQexec(c, q);
			if (PQresultStatus(r) != PGRES_TUPLES_OK)
			{
				fail(run, "poller: %s", PQresultErrorMessage(r));
				PQclear(r);
				return NULL;
			}
			at = wall_now();
			n = PQntuples(r);
			for (i = 0; i < n; i++)
			{
				Heard		h;

				h.zone = run->zone_id[z];
				h.seq = atoll(PQgetvalue(r, i, 0));
				h.order = atoll(PQgetvalue(r, i, 1));
				h.version = atoi(PQgetvalue(r, i, 2));
				h.status = PQgetisnull(r, i, 3) ? -1 :
					status_code(PQgetvalue(r, i, 3), strlen(PQgetvalue(r, i, 3)));
				heard_add(run, &h, at);
			}
			if (n > 0)
			{
				pthread_mutex_lock(&run->lock);
				run->cursor[z] = atoll(PQgetvalue(r, n - 1, 0));
				pthread_mutex_unlock(&run->lock);
			}
			full = full || n == 1000;
			PQclear(r);
		}
		if (!full)
			usleep(100000);
	}
	return NULL;
}

/* orders by id: an open-addressing table, filled as orders are placed */
static void
order_remember(Run *run, int i)
{
	uint64_t	h;

	pthread_mutex_lock(&run->lock);
	for (h = (uint64_t) run->orders[i].id * 0x9E3779B97F4A7C15ULL >> 20;; h++)
	{
		int		   *slot = &run->order_hash[h & (run->order_hash_size - 1)];

		if (*slot < 0)
		{
			*slot = i;
			break;
		}
	}
	pthread_mutex_unlock(&run->lock);
}

static int
order_index(const Run *run, long long id)
{
	uint64_t	h;

	for (h = (uint64_t) id * 0x9E3779B97F4A7C15ULL >> 20;; h++)
	{
		int			i = run->order_hash[h & (run->order_hash_size - 1)];

		if (i < 0 || run->orders[i].id == id)
			return i;
	}
}

/* ------------------------------------------------------------ phase: orders */

static void
order_phase(Run *run, int tid)
{
	PGconn	   *c = run->conns[tid];
	int			i;

	clock_on(run, tid);
	for (i = tid; i < run->ndemand && !run->failed; i += run->nthreads)
	{
		Demand	   *d = &run->demand[i];
		Order	   *o = &run->orders[i];
		Merchant   *m = &run->merchants[d->merchant];
		PGresult   *r;

		if (o->status == S_NEW && d->t <= run->now)
		{
			char		items[256];
			double		lon,
						lat;
			int			k,
						len = 0;

			len += snprintf(items + len, sizeof(items) - len, "[");
			for (k = 0; k < d->nitems; k++)
				len += snprintf(items + len, sizeof(items) - len, "%s{\"item_id\": %lld, \"qty\": %d}",
								k ? ", " : "", m->item[d->item[k]], d->qty[k]);
			snprintf(items + len, sizeof(items) - len, "]");
			to_lonlat(d->x, d->y, &lon, &lat);
			/* the app keeps its merchants' zones: on Citus the call is sent whole */
			r = sql(run, c, true, "SELECT dispatch.place_order_in_zone(%lld, %lld, %lld, '%s', %.7f, %.7f, 'Building %d, room %d', '%s'%s)",
					run->zone_id[m->zone], run->customer_id[d->customer], m->id, items, lon, lat,
					1 + d->customer % 97, 100 + d->customer % 1900, d->priority,
					d->coupon ? ", 'LUNCH10'" : "");
			if (r == NULL && d->coupon && !run->failed)
				/* the coupon refused (used up, budget spent): without it */
				r = sql(run, c, true, "SELECT dispatch.place_order_in_zone(%lld, %lld, %lld, '%s', %.7f, %.7f, 'Building %d, room %d', '%s')",
						run->zone_id[m->zone], run->customer_id[d->customer], m->id, items, lon, lat,
						1 + d->customer % 97, 100 + d->customer % 1900, d->priority);
			else if (r != NULL && d->coupon)
				count(run, &run->coupons, 1);
			if (r == NULL)
			{
				if (run->failed)
					return;
				o->status = S_REFUSED;
				count(run, &run->refused, 1);
				continue;
			}
			o->id = atoll(PQgetvalue(r, 0, 0));
			o->zone = m->zone;
			PQclear(r);
			order_remember(run, i);
			o->status = S_PENDING;
			acked(o, S_PENDING);
			if (d->pay == 0)
			{
				if (!sql_ok(run, c, "SELECT dispatch.confirm_payment(%lld, 'psp-%lld')", o->id, o->id))
					return;
				o->status = S_PLACED;
				acked(o, S_PLACED);
			}
			else
			{
				if (!sql_ok(run, c, "SELECT dispatch.fail_payment(%lld, 'card declined')", o->id))
					return;
				o->status = S_FAILED;
				o->t_failed = run->now;
				acked(o, S_FAILED);
			}
			continue;
		}
		/* a failed payment, a minute later: retried and paid, or given up */
		if (o->status == S_FAILED && run->now >= o->t_failed + 60)
		{
			if (d->pay == 1)
			{
				if (!sql_ok(run, c, "SELECT dispatch.retry_payment(%lld)", o->id) ||
					!sql_ok(run, c, "SELECT dispatch.confirm_payment(%lld, 'psp-retry-%lld')", o->id, o->id))
					return;
				count(run, &run->retried, 1);
				o->status = S_PLACED;
			}
			else
			{
				if (!sql_ok(run, c, "SELECT dispatch.cancel_order(%lld, 'payment abandoned')", o->id))
					return;
				o->status = S_CANCELLED;
				acked(o, S_CANCELLED);
			}
			continue;
		}
		/* the merchant accepts, with a ready time */
		if (o->status == S_PLACED && run->now >= d->t + d->accept_after)
		{
			o->t_ready = run->now + m->prep * 60.0 * d->prep_noise;
			if (!sql_ok(run, c, "SELECT dispatch.merchant_accept(%lld, to_timestamp(%.3f))",
						o->id, DAY_EPOCH + o->t_ready))
				return;
			o->status = S_ACCEPTED;
			acked(o, S_ACCEPTED);
			continue;
		}
		/* the customer cancels, if no rider has the food yet */
		if (d->cancel_after >= 0 && run->now >= d->t + d->cancel_after &&
			(o->status == S_PLACED || o->status == S_ACCEPTED ||
			 (o->status == S_ASSIGNED && run->riders[o->rider].dark_until <= run->now)))
		{
			r = sql(run, c, true, "SELECT dispatch.cancel_order(%lld, 'changed my mind')", o->id);
			if (r == NULL)
			{
				/* picked up meanwhile by a rider whose app was offline */
				if (run->failed)
					return;
				d->cancel_after = -1;
				continue;
			}
			PQclear(r);
			o->status = S_CANCELLED;
			acked(o, S_CANCELLED);
			continue;
		}
		/* feedback, some minutes after delivery */
		if (o->status == S_DELIVERED && d->feedback_after >= 0 && !o->feedback_done &&
			run->now >= o->t_delivered + d->feedback_after && run->riders[o->rider].sync.items == 0)
		{
			static const char *const good[] = {
				"很好吃，送得也快，骑手很有礼貌", "味道不错，包装完好，下次还点",
				"Fast delivery and the food was still hot, thank you!",
				"Great noodles, friendly rider, will order again",
				"准时送达，好评", "Everything arrived on time and well packed"
			};
			static const char *const late[] = {
				"送餐太慢了，等了快一个小时，饭都凉了", "骑手迟到很久，饭菜冰凉",
				"Delivery took forever and the food was cold",
				"Very late, the soup was cold when it arrived",
				"太慢了，送得很晚", "The rider was late and the food arrived cold"
			};
			static const char *const bad[] = {
				"少送了一个菜，包装也破了", "Wrong order, missing the drinks",
				"骑手态度很差，很不礼貌", "The rider was rude and the bag was leaking",
				"菜太咸了，分量也少", "Food was too salty and the portion was small"
			};
			double		ctd = (o->t_delivered - d->t) / 60.0;
			uint64_t	s = d->draw;
			int			rating;
			const char *text;

			if (ctd > 45)
			{
				rating = 1 + rnd_int(&s, 2);
				text = late[rnd_int(&s, 6)];
			}
			else if (rnd(&s) < 0.15)
			{
				rating = 2 + rnd_int(&s, 2);
				text = bad[rnd_int(&s, 6)];
			}
			else
			{
				rating = 4 + rnd_int(&s, 2);
				text = good[rnd_int(&s, 6)];
			}
			if (!sql_ok(run, c, "SELECT dispatch.submit_feedback(%lld, %d, '%s')", o->id, rating, text))
				return;
			o->feedback_done = true;
			count(run, &run->feedback_written, 1);
		}
	}
}

/* ------------------------------------------------------------ phase: dispatch */

static int
rider_index(const Run *run, long long id)
{
	int			lo = 0,
				hi = run->nriders - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (run->riders[mid].id == id)
			return mid;
		if (run->riders[mid].id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static void
fatigue_check(Run *run, Rider *r)
{
	if (run->now - r->shift_start > run->cfg->max_shift_minutes * 60.0)
		count(run, &run->fatigue, 1);
}

/*
 * A rider's answer to an order put to it, whether assign_batch offered it
 * or the greedy dispatcher asks before assigning it, so that both
 * strategies meet the same riders: one draw of the rider's own stream (the
 * demand has its own), yes nine times in ten, never after the shift's end
 * or without room.
 */
static bool
rider_says_yes(Run *run, Rider *r)
{
	return rnd(&r->rng) < 0.9 && run->now < r->shift_end && r->nheld < MAX_HELD;
}

/*
 * An order the rider took, by either strategy: held, and now and then
 * (two in a hundred) to be given back a few minutes later.
 */
static void
rider_takes(Run *run, int ri, int oi)
{
	Rider	   *r = &run->riders[ri];
	Order	   *o = &run->orders[oi];

	o->status = S_ASSIGNED;
	o->rider = ri;
	o->t_assigned = run->now;
	o->from_x = r->x;
	o->from_y = r->y;
	acked(o, S_ASSIGNED);
	r->held[r->nheld++] = oi;
	fatigue_check(run, r);
	if (r->release < 0 && rnd(&r->rng) < 0.02)
	{
		r->release = oi;
		r->release_at = run->now + 60 + rnd(&r->rng) * 120;
	}
}

static void
dispatch_phase(Run *run, int tid)
{
	PGconn	   *c = run->conns[tid];
	bool		batch_now = fmod(run->now, run->cfg->batch_s) < run->cfg->tick_s - 1e-6;
	bool		support_now = fmod(run->now, 600.0) < run->cfg->tick_s - 1e-6;
	int			z;

	if (!batch_now && !support_now)
		return;
	clock_on(run, tid);
	for (z = tid; z < run->nzones && !run->failed; z += run->nthreads)
	{
		PGresult   *r;
		int			i;
		double		t0;

		bool		waiting = false;

		for (i = 0; batch_now && i < run->ndemand && !waiting; i++)
			waiting = run->orders[i].status == S_ACCEPTED && run->orders[i].zone == z;
		if (batch_now && run->strategy == 0)
		{
			t0 = wall_now();
			if ((r = sql(run, c, false, "SELECT order_id, rider_id, offer_id FROM dispatch.assign_batch(%lld)",
						 run->zone_id[z])) == NULL)
				return;
			if (waiting)
				add_batch_ms(run, (wall_now() - t0) * 1000.0);
			for (i = 0; i < PQntuples(r); i++)
			{
				int			ri = rider_index(run, atoll(PQgetvalue(r, i, 1)));
				int			oi = order_index(run, atoll(PQgetvalue(r, i, 0)));
				Rider	   *rd;

				if (ri < 0 || oi < 0)
				{
					fail(run, "assign_batch offered an unknown order or rider");
					break;
				}
				rd = &run->riders[ri];
				if (rd->noffers < MAX_OFFERS)
				{
					rd->offers[rd->noffers].offer_id = atoll(PQgetvalue(r, i, 2));
					rd->offers[rd->noffers++].order = oi;
				}
			}
			PQclear(r);
		}
		else if (batch_now)
		{
			/*
			 * nearest-rider greedy: each waiting order, oldest first, to the
			 * nearest rider with a free slot who says yes (asked as an
			 * offer is answered: a rider without signal cannot be asked);
			 * one who says no is counted as a rejection and the next
			 * nearest is asked.  Nobody: the order waits for the next round.
			 */
			t0 = wall_now();
			for (i = 0; i < run->ndemand && !run->failed; i++)
			{
				Order	   *o = &run->orders[i];
				int			k;

				if (o->status != S_ACCEPTED || o->zone != z)
					continue;
				if ((r = sql(run, c, false, "SELECT rider_id FROM dispatch.nearest_riders(%lld, 10) "
							 "WHERE free_slots > 0 ORDER BY distance_m", o->id)) == NULL)
					return;
				for (k = 0; k < PQntuples(r); k++)
				{
					int			ri = rider_index(run, atoll(PQgetvalue(r, k, 0)));
					PGresult   *a;

					if (ri < 0 || run->riders[ri].dark_until > run->now)
						continue;
					if (!rider_says_yes(run, &run->riders[ri]))
					{
						count(run, &run->rejections, 1);
						continue;
					}
					a = sql(run, c, true, "SELECT dispatch.assign_manually(%lld, %lld, 'greedy')",
							o->id, run->riders[ri].id);
					if (a == NULL)
					{
						if (run->failed)
						{
							PQclear(r);
							return;
						}
						continue;
					}
					PQclear(a);
					rider_takes(run, ri, i);
					break;
				}
				PQclear(r);
			}
			if (waiting)
				add_batch_ms(run, (wall_now() - t0) * 1000.0);
		}
		/* support works through the complaint tickets */
		if (support_now)
		{
			if ((r = sql(run, c, false, "SELECT ticket_id, side FROM dispatch.open_tickets(%lld, NULL, 100)",
						 run->zone_id[z])) == NULL)
				return;
			for (i = 0; i < PQntuples(r); i++)
			{
				if (!sql_ok(run, c, "SELECT dispatch.resolve_ticket(%s, 'apologised, %s side reviewed', 50)",
							PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)))
					break;
				count(run, &run->tickets_resolved, 1);
			}
			PQclear(r);
		}
	}
}

/* ------------------------------------------------------------ phase: riders */

static void
sync_add(SyncBuf *b, const char *fmt,...)
{
	char		item[512];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(item, sizeof(item), fmt, ap);
	va_end(ap);
	if (b->len + n + 4 > b->cap)
	{
		b->cap = (b->cap + n + 4) * 2;
		b->buf = realloc(b->buf, b->cap);
	}
	if (b->len == 0)
		b->buf[b->len++] = '[';
	else
		b->buf[b->len++] = ',';
	memcpy(b->buf + b->len, item, n);
	b->len += n;
	b->buf[b->len] = '\0';
	b->items++;
}

/* where the rider is, now: in the database, or cached while offline */
static bool
ping(Run *run, PGconn *c, Rider *r, double x, double y)
{
	double		lon,
				lat;

	to_lonlat(x, y, &lon, &lat);
	if (r->dark_until > run->now)
	{
		sync_add(&r->sync, "{\"id\":\"%lld-%d\",\"at\":%.0f,\"type\":\"ping\",\"lon\":%.7f,\"lat\":%.7f}",
				 r->id, ++r->client_seq, (DAY_EPOCH + run->now) * 1000.0, lon, lat);
		return true;
	}
	/* the app keeps its riders' zones: on Citus the call is sent whole */
	return sql_ok(run, c, "SELECT dispatch.update_rider_location_in_zone(%lld, %lld, %.7f, %.7f)",
				  run->zone_id[r->zone], r->id, lon, lat);
}

/* an action at the rider's place: the API call, or cached while offline */
static bool
act(Run *run, PGconn *c, Rider *r, int oi, bool pickup)
{
	Order	   *o = &run->orders[oi];

	if (r->dark_until > run->now)
	{
		sync_add(&r->sync, "{\"id\":\"%lld-%d\",\"at\":%.0f,\"type\":\"%s\",\"order_id\":%lld}",
				 r->id, ++r->client_seq, (DAY_EPOCH + run->now) * 1000.0,
				 pickup ? "picked_up" : "delivered", o->id);
		return true;
	}
	if (!sql_ok(run, c, pickup ? "SELECT dispatch.mark_picked_up(%lld, %lld)" : "SELECT dispatch.mark_delivered(%lld, %lld)",
				o->id, r->id))
		return false;
	acked(o, pickup ? S_PICKED : S_DELIVERED);
	return true;
}

static void
drop_held(Rider *r, int k)
{
	r->held[k] = r->held[--r->nheld];
}

static void
rider_phase(Run *run, int tid)
{
	PGconn	   *c = run->conns[tid];
	double		dt = run->cfg->tick_s;
	int			i,
				k;

	clock_on(run, tid);
	for (i = tid; i < run->nriders && !run->failed; i += run->nthreads)
	{
		Rider	   *r = &run->riders[i];
		double		lon,
					lat;

		if (r->gone)
			continue;
		if (!r->online)
		{
			if (run->now < r->shift_start)
				continue;
			to_lonlat(r->x, r->y, &lon, &lat);
			if (!sql_ok(run, c, "SELECT dispatch.rider_online(%lld, %.7f, %.7f)", r->id, lon, lat))
				return;
			r->online = true;
			r->shift_start = run->now;
			r->next_ping = run->now + run->cfg->ping_s;
		}
		/* utilisation counts the shift only: the same window in both runs */
		if (r->nheld > 0 && run->now <= r->shift_end)
			r->busy_s += dt;

		/* back in signal: everything cached, in one call */
		if (r->sync.items > 0 && r->dark_until <= run->now)
		{
			PGresult   *res;

			strcat(r->sync.buf, "]");
			if ((res = sql(run, c, false, "SELECT outcome, reason, sqlstate FROM dispatch.sync_rider_in_zone(%lld, %lld, '%s')",
						   run->zone_id[r->zone], r->id, r->sync.buf)) == NULL)
				return;
			for (k = 0; k < PQntuples(res); k++)
				if (strcmp(PQgetvalue(res, k, 0), "applied") != 0)
				{
					fail(run, "sync_rider_in_zone: an item %s: %s (%s)", PQgetvalue(res, k, 0),
						 PQgetvalue(res, k, 1), PQgetvalue(res, k, 2));
					PQclear(res);
					return;
				}
			count(run, &run->syncs, 1);
			count(run, &run->sync_items, r->sync.items);
			PQclear(res);
			for (k = 0; k < r->sync.npending; k++)
			{
				Order	   *o = &run->orders[r->sync.pending_orders[k]];

				acked(o, o->status);
			}
			r->sync.len = 0;
			r->sync.items = 0;
			r->sync.npending = 0;
		}

		/* offers: most are accepted, unless the shift is over (rider_says_yes) */
		if (r->dark_until <= run->now)
			for (k = 0; k < r->noffers; k++)
			{
				Offer	   *f = &r->offers[k];
				bool		yes = rider_says_yes(run, r);
				PGresult   *res;

				res = sql(run, c, true, "SELECT dispatch.respond_offer(%lld, %s%s)", f->offer_id,
						  yes ? "true" : "false", yes ? "" : ", 'too far'");
				if (res == NULL)
				{
					/* expired, or the order cancelled meanwhile */
					if (run->failed)
						return;
					continue;
				}
				PQclear(res);
				if (!yes)
				{
					count(run, &run->rejections, 1);
					continue;
				}
				rider_takes(run, i, f->order);
			}
		r->noffers = 0;

		/* an order given back before pickup */
		if (r->release >= 0 && run->now >= r->release_at && r->dark_until <= run->now)
		{
			Order	   *o = &run->orders[r->release];

			for (k = 0; k < r->nheld && r->held[k] != r->release; k++)
				;
			if (k < r->nheld && o->status == S_ASSIGNED)
			{
				if (!sql_ok(run, c, "SELECT dispatch.release_order(%lld, %lld, 'flat tyre')", o->id, r->id))
					return;
				o->status = S_ACCEPTED;
				o->t_arrived = 0;
				acked(o, S_ACCEPTED);
				drop_held(r, k);
				count(run, &run->releases, 1);
			}
			r->release = -1;
		}

		/* orders cancelled meanwhile are dropped */
		for (k = r->nheld - 1; k >= 0; k--)
			if (run->orders[r->held[k]].status == S_CANCELLED)
				drop_held(r, k);

		/*
		 * ride: to the nearest pickup still to make, else the nearest
		 * drop-off.  The tick's ride is the time since the last tick, and an
		 * order given to the rider this tick (stamped now) was not yet the
		 * rider's then: the ride to its merchant starts next tick.
		 */
		{
			double		budget = r->speed * dt;
			bool		held_before = false;

			/* orders held since an earlier tick: this tick's ride is theirs */
			for (k = 0; k < r->nheld; k++)
				held_before = held_before || run->orders[r->held[k]].t_assigned < run->now;
			while (r->nheld > 0 && budget > 0 && !run->failed)
			{
				int			best = -1;
				double		bd = 1e18,
							tx = 0,
							ty = 0,
							dist;
				bool		pickup = false;

				for (k = 0; k < r->nheld; k++)
					if (run->orders[r->held[k]].status == S_ASSIGNED &&
						run->orders[r->held[k]].t_assigned < run->now)
					{
						Merchant   *m = &run->merchants[run->demand[r->held[k]].merchant];
						double		dd = hypot(m->x - r->x, m->y - r->y);

						if (dd < bd)
						{
							bd = dd;
							best = k;
							tx = m->x;
							ty = m->y;
							pickup = true;
						}
					}
				if (best < 0)
					for (k = 0; k < r->nheld; k++)
					{
						Demand	   *d = &run->demand[r->held[k]];
						double		dd = hypot(d->x - r->x, d->y - r->y);

						if (run->orders[r->held[k]].status == S_PICKED && dd < bd)
						{
							bd = dd;
							best = k;
							tx = d->x;
							ty = d->y;
						}
					}
				if (best < 0)
					break;		/* only orders given this tick: from next tick */
				dist = hypot(tx - r->x, ty - r->y);
				if (dist > budget)
				{
					r->x += (tx - r->x) * budget / dist;
					r->y += (ty - r->y) * budget / dist;
					break;
				}
				budget -= dist;
				r->x = tx;
				r->y = ty;
				if (pickup)
				{
					int			mi = run->demand[r->held[best]].merchant;
					bool		ready = true,
								pinged = false;

					/* every order of this merchant it holds, once all are ready */
					for (k = 0; k < r->nheld; k++)
					{
						Order	   *o = &run->orders[r->held[k]];

						if (o->status == S_ASSIGNED && run->demand[r->held[k]].merchant == mi)
						{
							/* here already when an order was given: from then */
							if (o->t_arrived == 0)
								o->t_arrived = fmax(run->now - budget / r->speed, o->t_assigned);
							ready = ready && o->t_ready <= run->now;
						}
					}
					if (!ready)
						break;	/* waits for the food */
					for (k = 0; k < r->nheld; k++)
					{
						Order	   *o = &run->orders[r->held[k]];

						if (o->status != S_ASSIGNED || run->demand[r->held[k]].merchant != mi)
							continue;
						if (!pinged && !ping(run, c, r, r->x, r->y))
							return;
						pinged = true;
						if (!act(run, c, r, r->held[k], true))
							return;
						o->status = S_PICKED;
						o->t_picked = run->now;
						if (r->dark_until > run->now && r->sync.npending < MAX_HELD * 2)
							r->sync.pending_orders[r->sync.npending++] = r->held[k];
					}

					/*
					 * The pickup is stamped at the tick's end, and the food
					 * had only to be ready by then: the ride on starts next
					 * tick, else the budget left, time before the pickup,
					 * would carry the food towards the door before it left.
					 */
					break;
				}
				else
				{
					Order	   *o = &run->orders[r->held[best]];

					if (!ping(run, c, r, r->x, r->y) || !act(run, c, r, r->held[best], false))
						return;
					o->status = S_DELIVERED;
					o->t_delivered = run->now - budget / r->speed;
					if (r->dark_until > run->now && r->sync.npending < MAX_HELD * 2)
						r->sync.pending_orders[r->sync.npending++] = r->held[best];
					drop_held(r, best);
				}
			}

			/*
			 * Where the rider was when given an order this tick (for the
			 * check of its pickup, measure()): where this tick's ride for
			 * the orders it held before took it; a rider that held none
			 * stood still.
			 */
			for (k = 0; held_before && k < r->nheld; k++)
				if (run->orders[r->held[k]].t_assigned == run->now)
				{
					run->orders[r->held[k]].from_x = r->x;
					run->orders[r->held[k]].from_y = r->y;
				}
		}

		/* the app's periodic ping */
		if (run->now >= r->next_ping)
		{
			if (!ping(run, c, r, r->x, r->y))
				return;
			r->next_ping = run->now + run->cfg->ping_s;
		}

		/* a lift, a tunnel: the signal is lost for a few minutes */
		if (r->dark_until <= run->now && r->sync.items == 0 && r->nheld > 0 && rnd(&r->rng) < 0.002)
			r->dark_until = run->now + 90 + rnd(&r->rng) * 240;

		/* the shift ends once nothing is held */
		if (run->now >= r->shift_end && r->nheld == 0 && r->sync.items == 0 && r->dark_until <= run->now)
		{
			if (!sql_ok(run, c, "SELECT dispatch.rider_offline(%lld)", r->id))
				return;
			r->online = false;
			r->gone = true;
		}
	}
}

/* ------------------------------------------------------------ set-up */

/*
 * Whether dispatch's tables are distributed (Citus, docs/citus.md): then
 * every call carries the simulated clock (at_clock), each session has
 * Citus carry SET LOCAL to the workers, and the outbox is polled per zone.
 */
static bool
on_citus(Run *run, char *err, int errlen)
{
	PGresult   *r;
	int			t;

	r = PQexec(run->lconn, "SELECT count(*) FROM pg_extension WHERE extname = 'citus'");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "%s", PQerrorMessage(run->lconn));
		PQclear(r);
		return false;
	}
	run->citus = atoi(PQgetvalue(r, 0, 0)) > 0;
	PQclear(r);
	if (!run->citus)
		return true;
	r = PQexec(run->lconn, "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'dispatch.orders'::regclass");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "%s", PQerrorMessage(run->lconn));
		PQclear(r);
		return false;
	}
	run->citus = atoi(PQgetvalue(r, 0, 0)) > 0;
	PQclear(r);
	for (t = 0; run->citus && t < run->nthreads; t++)
	{
		r = PQexec(run->conns[t], "SET citus.propagate_set_commands = local");
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
		{
			snprintf(err, errlen, "%s", PQerrorMessage(run->conns[t]));
			PQclear(r);
			return false;
		}
		PQclear(r);
	}
	return true;
}

/*
 * The run's database (simdb.c): its own, created afresh, or the one given
 * with --database; a connection per thread and the listener's.
 */
static bool
open_db(Run *run, char *err, int errlen)
{
	PGresult   *r;
	int			t;

	if (run->cfg->database)
		snprintf(run->dbname, sizeof(run->dbname), "%s", run->cfg->database);
	else
	{
		snprintf(run->dbname, sizeof(run->dbname), "dispatch_city_%d_%s", (int) getpid(),
				 city_strategy_name[run->strategy]);
		if (!sim_create_db(run->dbname, err, errlen))
			return false;
	}
	run->conns = calloc(run->nthreads, sizeof(PGconn *));
	run->conn_clock = malloc(sizeof(double) * run->nthreads);
	for (t = 0; t < run->nthreads; t++)
		run->conn_clock[t] = NAN;
	for (t = 0; t < run->nthreads; t++)
		if ((run->conns[t] = sim_connect(run->dbname, "dispatch-sim", err, errlen)) == NULL)
			return false;
	if ((run->lconn = sim_connect(run->dbname, "dispatch-sim", err, errlen)) == NULL)
		return false;
	if (!on_citus(run, err, errlen))
		return false;
	if (!run->citus)
		PQclear(PQexec(run->lconn, "LISTEN dispatch_events"));
	/* a database that holds zones already: this run's names are tagged */
	r = PQexec(run->lconn, "SELECT coalesce(max(zone_id), 0) FROM dispatch.zones");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "%s", PQerrorMessage(run->lconn));
		PQclear(r);
		return false;
	}
	run->tag = atoll(PQgetvalue(r, 0, 0)) > 0 ? (int) ((atoll(PQgetvalue(r, 0, 0)) + 1) % 10000) : 0;
	PQclear(r);
	/* what the outbox held before (a database given with --database) */
	r = PQexec(run->lconn, "SELECT coalesce(max(seq), 0) FROM dispatch.events");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "%s", PQerrorMessage(run->lconn));
		PQclear(r);
		return false;
	}
	run->seq_before = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return true;
}

static void
close_db(Run *run)
{
	int			t;

	for (t = 0; t < run->nthreads; t++)
		if (run->conns && run->conns[t])
			PQfinish(run->conns[t]);
	if (run->lconn)
		PQfinish(run->lconn);
	if (getenv("SIM_KEEP_DB") || run->cfg->database)
		return;
	sim_drop_db(run->dbname);
}

/* ids of a column of a result, in order */
static long long *
ids_of(PGresult *r, int n)
{
	long long  *ids = malloc(sizeof(long long) * (n > 0 ? n : 1));
	int			i;

	for (i = 0; i < n && i < PQntuples(r); i++)
		ids[i] = atoll(PQgetvalue(r, i, 0));
	return ids;
}

static int
cmp_rider(const void *a, const void *b)
{
	const Rider *x = a,
			   *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static bool
build_city(Run *run)
{
	const CityConfig *cfg = run->cfg;
	PGconn	   *c = run->conns[0];
	uint64_t	s = cfg->seed * 104729 + 3;
	double		side = cfg->side_km * 1000.0;
	int			n = cfg->zones_per_side,
				i,
				j;
	PGresult   *r;
	char		name[64],
				phone[64];

	run->now = cfg->start_min * 60.0 - 1800;
	clock_on(run, 0);
	run->zone_km = cfg->side_km / n;
	run->nzones = n * n;
	run->zone_id = calloc(run->nzones, sizeof(long long));
	for (j = 0; j < n; j++)
		for (i = 0; i < n; i++)
		{
			double		lon1,
						lat1,
						lon2,
						lat2;

			to_lonlat(i * run->zone_km * 1000.0, j * run->zone_km * 1000.0, &lon1, &lat1);
			to_lonlat((i + 1) * run->zone_km * 1000.0, (j + 1) * run->zone_km * 1000.0, &lon2, &lat2);
			snprintf(name, sizeof(name), run->tag ? "District %c%d, run %d" : "District %c%d",
					 'A' + j, i + 1, run->tag);
			if ((r = sql(run, c, false, "SELECT dispatch.create_zone('%s', "
						 "ST_GeomFromText('POLYGON((%.7f %.7f, %.7f %.7f, %.7f %.7f, %.7f %.7f, %.7f %.7f))', 4326), "
						 "'Asia/Shanghai')",
						 name, lon1, lat1, lon2, lat1, lon2, lat2, lon1, lat2, lon1, lat1)) == NULL)
				return false;
			run->zone_id[j * n + i] = atoll(PQgetvalue(r, 0, 0));
			PQclear(r);
			/* the operator's matching settings: a shift of at most max_shift_minutes */
			if (!sql_ok(run, c, "INSERT INTO dispatch.matching_settings (zone_id, max_shift_minutes) VALUES (%lld, %d)",
						run->zone_id[j * n + i], cfg->max_shift_minutes))
				return false;
		}
	run->zones = malloc(24 * run->nzones + 32);
	j = sprintf(run->zones, "'{");
	for (i = 0; i < run->nzones; i++)
		j += sprintf(run->zones + j, "%s%lld", i ? "," : "", run->zone_id[i]);
	sprintf(run->zones + j, "}'::bigint[]");
	if ((r = sql(run, c, false, "SELECT z.speed_mps * p.speed_factor FROM dispatch.zones z, dispatch.vehicle_profiles p "
				 "WHERE z.zone_id = %lld AND p.vehicle = 'ebike'", run->zone_id[0])) == NULL)
		return false;
	run->speed_mps = PQntuples(r) ? atof(PQgetvalue(r, 0, 0)) : 4.0;
	PQclear(r);

	/* merchants, in clusters around a few streets of restaurants */
	run->nmerchants = cfg->merchants;
	run->merchants = calloc(run->nmerchants, sizeof(Merchant));
	for (i = 0; i < run->nmerchants; i++)
	{
		Merchant   *m = &run->merchants[i];
		double		lon,
					lat;
		int			k;

		m->x = side * (0.08 + 0.84 * rnd(&s));
		m->y = side * (0.08 + 0.84 * rnd(&s));
		m->zone = zone_at(run, m->x, m->y);
		m->prep = 6 + rnd_int(&s, 12);
		to_lonlat(m->x, m->y, &lon, &lat);
		if ((r = sql(run, c, false, "SELECT dispatch.create_merchant(%lld, 'Merchant %d', %.7f, %.7f, %d)",
					 run->zone_id[m->zone], i + 1, lon, lat, m->prep)) == NULL)
			return false;
		m->id = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		for (k = 0; k < 4; k++)
		{
			if ((r = sql(run, c, false, "SELECT dispatch.add_item(%lld, 'dish %d', %d%s)", m->id, k + 1,
						 1500 + rnd_int(&s, 3500), k == 3 ? ", 60" : "")) == NULL)
				return false;
			m->item[k] = atoll(PQgetvalue(r, 0, 0));
			PQclear(r);
		}
	}

	/* customers: denser towards the centre */
	run->ncustomers = cfg->customers;
	run->cust_x = malloc(sizeof(double) * run->ncustomers);
	run->cust_y = malloc(sizeof(double) * run->ncustomers);
	for (i = 0; i < run->ncustomers; i++)
	{
		run->cust_x[i] = side * (0.02 + 0.96 * (rnd(&s) + rnd(&s)) / 2);
		run->cust_y[i] = side * (0.02 + 0.96 * (rnd(&s) + rnd(&s)) / 2);
	}
	/*
	 * in chunks: each registration locks its subject until commit; a run
	 * tagged (a database with zones already) has numbers of its own
	 */
	snprintf(phone, sizeof(phone), run->tag ? "+86 7%04d " : "+86 137 ", run->tag);
	run->customer_id = malloc(sizeof(long long) * run->ncustomers);
	for (i = 0; i < run->ncustomers; i += 500)
	{
		int			k,
					last = i + 500 < run->ncustomers ? i + 500 : run->ncustomers;

		if ((r = sql(run, c, false, "SELECT dispatch.register_customer('%s' || lpad(g::text, 8, '0'), 'Customer ' || g) "
					 "FROM generate_series(%d, %d) g ORDER BY g", phone, i + 1, last)) == NULL)
			return false;
		for (k = 0; k < PQntuples(r); k++)
			run->customer_id[i + k] = atoll(PQgetvalue(r, k, 0));
		PQclear(r);
	}

	/* a lunch campaign with a coupon code (a tagged run: unless made already) */
	if (!sql_ok(run, c, "SELECT dispatch.create_campaign('Lunch 10%%', 'limited_time', "
				"'{\"percent_off\": 10, \"max_discount_cents\": 800, \"per_customer\": 1}', 5000000, NULL, "
				"to_timestamp(%.0f), NULL, 'LUNCH10')%s", DAY_EPOCH + 86400,
				run->tag ? " WHERE NOT EXISTS (SELECT FROM dispatch.coupons WHERE code = 'LUNCH10')" : ""))
		return false;

	/* riders: shifts staggered around the peak */
	run->nriders = cfg->riders;
	run->riders = calloc(run->nriders, sizeof(Rider));
	for (i = 0; i < run->nriders; i++)
	{
		Rider	   *rd = &run->riders[i];

		rd->x = side * (0.05 + 0.9 * rnd(&s));
		rd->y = side * (0.05 + 0.9 * rnd(&s));
		rd->zone = zone_at(run, rd->x, rd->y);
		rd->speed = run->speed_mps;
		rd->shift_start = cfg->start_min * 60.0 + (i % 4) * 900.0 * rnd(&s);
		rd->shift_end = rd->shift_start + (150 + rnd_int(&s, 90)) * 60.0;
		rd->release = -1;
		rd->rng = cfg->seed * 31 + i + 1;
		/*
		 * A phone no other rider has (DP026): the numbers of this city's
		 * riders follow its first zone's id, so that two cities in one
		 * database (both strategies on the Citus cluster, test/citus/city.t)
		 * never share one.
		 */
		if ((r = sql(run, c, false, "SELECT dispatch.register_rider(%lld, 'Rider %d', '+86 136 %08lld', %d)",
					 run->zone_id[rd->zone], i + 1,
					 (run->zone_id[0] % 1000) * 100000 + i + 1, i % 5 == 0 ? 2 : 3)) == NULL)
			return false;
		rd->id = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	qsort(run->riders, run->nriders, sizeof(Rider), cmp_rider);

	draw_demand(run);
	run->orders = calloc(run->ndemand, sizeof(Order));
	for (i = 0; i < run->ndemand; i++)
		run->orders[i].rider = -1;
	for (run->order_hash_size = 1024; run->order_hash_size < 2 * (uint64_t) run->ndemand;)
		run->order_hash_size *= 2;
	run->order_hash = malloc(sizeof(int) * run->order_hash_size);
	memset(run->order_hash, 0xff, sizeof(int) * run->order_hash_size);
	return true;
}

/* ------------------------------------------------------------ the figures */

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static double
quantile(double *v, long n, double q)
{
	double		pos;
	long		lo;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(double), cmp_double);
	pos = q * (n - 1);
	lo = (long) pos;
	if (lo + 1 >= n)
		return v[n - 1];
	return v[lo] + (v[lo + 1] - v[lo]) * (pos - lo);
}

static int
cmp_ll(const void *a, const void *b)
{
	long long	x = *(const long long *) a,
				y = *(const long long *) b;

	return x < y ? -1 : x > y;
}

/* by zone, then seq: on Citus a zone's events are numbered on its worker */
static int
cmp_heard_seq(const void *a, const void *b)
{
	const Heard *x = a,
			   *y = b;

	if (x->zone != y->zone)
		return x->zone < y->zone ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
cmp_heard_order(const void *a, const void *b)
{
	const Heard *x = a,
			   *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
}

static bool
measure(Run *run, CityResult *res)
{
	PGconn	   *c = run->conns[0];
	PGresult   *r;
	long		i,
				n;
	double	   *v;
	long		sim_delivered = 0,
				sim_cancelled = 0,
				db_orders;
	bool	   *cached = calloc(run->ndemand + 1, sizeof(bool));

	/*
	 * orders whose delivery a rider's app still holds (a run stopped with
	 * the app offline): delivered for the simulator, not yet for the
	 * database
	 */
	for (i = 0; i < run->nriders; i++)
		for (n = 0; run->riders[i].sync.items > 0 && n < run->riders[i].sync.npending; n++)
			cached[run->riders[i].sync.pending_orders[n]] = true;
	res->placed = 0;
	for (i = 0; i < run->ndemand; i++)
	{
		Order	   *o = &run->orders[i];

		if (o->status == S_NEW)
			continue;
		if (o->status == S_REFUSED)
			continue;
		res->placed++;
		sim_delivered += o->status == S_DELIVERED && !cached[i];
		sim_cancelled += o->status == S_CANCELLED;
	}
	free(cached);
	res->refused = run->refused;
	res->orders_per_s = res->intake_wall_s > 0 ? (res->placed + res->refused) / res->intake_wall_s : 0;
	res->coupons = run->coupons;
	res->payment_retried = run->retried;
	res->rejections = run->rejections;
	res->releases = run->releases;
	res->fatigue_breaches = run->fatigue;
	res->syncs = run->syncs;
	res->sync_items = run->sync_items;
	res->feedback_written = run->feedback_written;
	res->tickets_resolved = run->tickets_resolved;
	res->nzones = run->nzones;
	res->zone_ids = malloc(sizeof(long long) * (run->nzones + 1));
	memcpy(res->zone_ids, run->zone_id, sizeof(long long) * run->nzones);

	/*
	 * what the database says of the orders (simulated time), and of the
	 * payments apart (Citus pushes no subquery of the SELECT list down)
	 */
	if ((r = sql(run, c, false,
				 "SELECT count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status = 'cancelled'), "
				 "       avg((delivered_at <= promised_at)::int) FILTER (WHERE status = 'delivered'), "
				 "       avg(greatest(0, extract(epoch FROM picked_up_at - ready_at))) FILTER (WHERE status = 'delivered') / 60, "
				 "       count(*) "
				 "  FROM dispatch.orders WHERE zone_id = ANY (%s)", run->zones)) == NULL)
		return false;
	res->delivered = atol(PQgetvalue(r, 0, 0));
	res->cancelled = atol(PQgetvalue(r, 0, 1));
	db_orders = atol(PQgetvalue(r, 0, 4));
	res->open = db_orders - res->delivered - res->cancelled;
	/* NaN where nothing was delivered: the report then shows no figure */
	res->on_time = PQgetisnull(r, 0, 2) ? NAN : atof(PQgetvalue(r, 0, 2));
	res->food_wait = PQgetisnull(r, 0, 3) ? NAN : atof(PQgetvalue(r, 0, 3));
	PQclear(r);

	/*
	 * The counts are the database's; the simulator's own must agree with
	 * them, else a figure of the report is of other orders than it played
	 */
	if (db_orders != res->placed || res->delivered != sim_delivered || res->cancelled != sim_cancelled)
	{
		fail(run, "the database holds %ld orders of the run's zones, %ld delivered and %ld cancelled; "
			 "the simulator placed %ld, delivered %ld and cancelled %ld",
			 db_orders, res->delivered, res->cancelled, res->placed, sim_delivered, sim_cancelled);
		return false;
	}
	if ((r = sql(run, c, false,
				 "SELECT count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'succeeded') "
				 "  FROM dispatch.payments WHERE zone_id = ANY (%s)", run->zones)) == NULL)
		return false;
	res->payment_failed = atol(PQgetvalue(r, 0, 0));
	res->paid = atol(PQgetvalue(r, 0, 1));
	PQclear(r);
	/*
	 * Click to door of each delivered order, and its physical lower bound:
	 * from the click (created_at) to its food being ready, then the direct
	 * ride to the door at the riders' speed, as if a rider always waited at
	 * the merchant.  Times are the database's, the ride the simulator's
	 * straight line (the riders ride in its plane).  An order below its own
	 * bound went faster than the riders can: counted, and it must be none.
	 */
	if ((r = sql(run, c, false, "SELECT extract(epoch FROM delivered_at - created_at) / 60, "
				 "       (st_x(dropoff) - %.7f), (st_y(dropoff) - %.7f), order_id, "
				 "       extract(epoch FROM ready_at - created_at), "
				 "       extract(epoch FROM picked_up_at - assigned_at) "
				 "  FROM dispatch.orders WHERE zone_id = ANY (%s) AND status = 'delivered'",
				 CITY_LON0, CITY_LAT0, run->zones)) == NULL)
		return false;
	n = PQntuples(r);
	v = malloc(sizeof(double) * (n + 1));
	memset(res->hist, 0, sizeof(res->hist));
	memset(res->heat, 0, sizeof(res->heat));
	res->ctd_mean = 0;
	res->ctd_bound = 0;
	res->below_bound = 0;
	res->below_approach = 0;
	for (i = 0; i < n; i++)
	{
		double		lonm = EARTH_M_PER_DEG * cos(CITY_LAT0 * M_PI / 180.0);
		int			b,
					gx,
					gy,
					oi = order_index(run, atoll(PQgetvalue(r, i, 3)));
		double		bound;

		if (oi < 0)
		{
			fail(run, "order %s delivered but not placed by this run", PQgetvalue(r, i, 3));
			PQclear(r);
			free(v);
			return false;
		}
		v[i] = atof(PQgetvalue(r, i, 0));
		res->ctd_mean += v[i] / n;
		{
			Demand	   *d = &run->demand[oi];
			Merchant   *m = &run->merchants[d->merchant];
			Order	   *o = &run->orders[oi];

			bound = (atof(PQgetvalue(r, i, 4)) +
					 hypot(m->x - d->x, m->y - d->y) / run->speed_mps) / 60.0;

			/*
			 * From its (last) assignment to its pickup the rider rode at
			 * least from where it was then to the merchant: a pickup sooner
			 * is a ride faster than the riders can, or one begun before the
			 * order was the rider's.
			 */
			if (atof(PQgetvalue(r, i, 5)) <
				hypot(m->x - o->from_x, m->y - o->from_y) / run->speed_mps - 0.001)
				res->below_approach++;
		}
		res->ctd_bound += bound / n;
		/* a millisecond of slack: times travel as text rounded to it */
		if (v[i] < bound - 0.001 / 60.0)
			res->below_bound++;
		b = (int) (v[i] / 5.0);
		res->hist[b < CITY_HIST_BINS ? b : CITY_HIST_BINS]++;
		gx = (int) (atof(PQgetvalue(r, i, 1)) * lonm / (run->cfg->side_km * 1000.0) * CITY_GRID);
		gy = (int) (atof(PQgetvalue(r, i, 2)) * EARTH_M_PER_DEG / (run->cfg->side_km * 1000.0) * CITY_GRID);
		if (gx >= 0 && gx < CITY_GRID && gy >= 0 && gy < CITY_GRID)
			res->heat[gy][gx]++;
	}
	PQclear(r);
	if (n == 0)
		res->ctd_mean = res->ctd_bound = NAN;
	res->ctd_median = quantile(v, n, 0.5);
	res->ctd_p90 = quantile(v, n, 0.9);
	free(v);

	/* the rider at the merchant waiting for the food (simulator's clock) */
	{
		double		sum = 0;
		long		k = 0;

		for (i = 0; i < run->ndemand; i++)
		{
			Order	   *o = &run->orders[i];

			if (o->t_picked > 0 && o->t_arrived > 0)
			{
				sum += fmax(0, o->t_picked - o->t_arrived);
				k++;
			}
		}
		res->pickup_wait = k ? sum / k / 60.0 : NAN;
	}
	/*
	 * Utilisation: time holding orders within the riders' shifts, over the
	 * shifts (from the tick the rider came online, else the planned start,
	 * to the shift's end).  Both strategies thus share the window; counting
	 * the time online instead would add the idle minutes of riders waiting
	 * for the run's last delivery, more for the strategy that ends later.
	 */
	{
		double		busy = 0,
					online = 0;

		for (i = 0; i < run->nriders; i++)
		{
			busy += run->riders[i].busy_s;
			online += run->riders[i].shift_end - run->riders[i].shift_start;
		}
		res->utilisation = online > 0 ? busy / online : NAN;
	}
	/* orders assigned more than once */
	if ((r = sql(run, c, false, "SELECT count(*) - count(DISTINCT order_id) FROM dispatch.events "
				 "WHERE zone_id = ANY (%s) AND kind = 'order_status' AND payload->>'status' = 'assigned'",
				 run->zones)) == NULL)
		return false;
	res->reassignments = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	/* earnings of the riders who worked, and their Gini */
	if ((r = sql(run, c, false, "SELECT sum(total_cents) / 100.0 FROM dispatch.rider_earnings "
				 "WHERE zone_id = ANY (%s) GROUP BY rider_id ORDER BY 1", run->zones)) == NULL)
		return false;
	res->nearn = PQntuples(r);
	res->earnings = malloc(sizeof(double) * (res->nearn + 1));
	{
		double		sum = 0,
					wsum = 0;

		for (i = 0; i < res->nearn; i++)
		{
			res->earnings[i] = atof(PQgetvalue(r, i, 0));
			sum += res->earnings[i];
			wsum += (i + 1) * res->earnings[i];
		}
		res->gini = sum > 0 ? 2 * wsum / (res->nearn * sum) - (res->nearn + 1.0) / res->nearn : NAN;
	}
	PQclear(r);
	/* feedback: sentiment and complaint topics */
	if ((r = sql(run, c, false, "SELECT count(*), avg(text_score) FROM dispatch.feedback "
				 "WHERE zone_id = ANY (%s)", run->zones)) == NULL)
		return false;
	res->feedback = atol(PQgetvalue(r, 0, 0));
	res->sentiment = PQgetisnull(r, 0, 1) ? NAN : atof(PQgetvalue(r, 0, 1));
	PQclear(r);
	if (res->feedback != res->feedback_written)
	{
		fail(run, "the database holds %ld reviews of the run's zones, the simulator wrote %ld",
			 res->feedback, res->feedback_written);
		return false;
	}
	/* the tickets the reviews opened, resolved by support or still open */
	if ((r = sql(run, c, false, "SELECT count(*) FROM dispatch.complaint_tickets WHERE zone_id = ANY (%s)",
				 run->zones)) == NULL)
		return false;
	res->tickets_opened = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	if ((r = sql(run, c, false, "SELECT t, count(*) FROM dispatch.feedback, unnest(topics) t "
				 "WHERE zone_id = ANY (%s) GROUP BY t ORDER BY 2 DESC, 1 LIMIT %d", run->zones, CITY_TOPICS)) == NULL)
		return false;
	memset(res->topics, 0, sizeof(res->topics));
	memset(res->topic_n, 0, sizeof(res->topic_n));
	for (i = 0; i < PQntuples(r); i++)
	{
		snprintf(res->topics[i], sizeof(res->topics[i]), "%s", PQgetvalue(r, i, 0));
		res->topic_n[i] = atol(PQgetvalue(r, i, 1));
	}
	PQclear(r);

	/* batches */
	res->batches = run->nbatch;
	res->batch_p50 = quantile(run->batch_ms, run->nbatch, 0.5);
	res->batch_p99 = quantile(run->batch_ms, run->nbatch, 0.99);

	/* events: the outbox against what the listener heard */
	{
		long long  *seqs;
		long		nout,
					a,
					b,
					missed = 0,
					disorder = 0;
		double	   *lat;
		long		nlat = 0;
		bool		committed = false;

		/*
		 * With track_commit_timestamp (tools/pgdev sets it), the latency of
		 * every event is from its transaction's commit record to the
		 * listener; without, from the writing call's acknowledgement, for
		 * the first notice of each status of each order (below).  On Citus
		 * the outbox of the run's zones, and no latency: the commit lies on
		 * a worker and the poller's interval would be most of the figure.
		 */
		if (run->citus)
			r = sql(run, c, false, "SELECT seq, NULL, zone_id FROM dispatch.events "
					"WHERE zone_id = ANY (%s) ORDER BY zone_id, seq", run->zones);
		else
			r = sql(run, c, false, "SELECT seq, CASE WHEN current_setting('track_commit_timestamp')::bool "
					"THEN extract(epoch FROM pg_xact_commit_timestamp(((seq >> 20) & 4294967295)::text::xid)) END, "
					"zone_id FROM dispatch.events WHERE seq > %lld ORDER BY zone_id, seq", run->seq_before);
		if (r == NULL)
			return false;
		nout = PQntuples(r);
		seqs = ids_of(r, nout);
		lat = malloc(sizeof(double) * (nout + run->nheard + 1));
		qsort(run->heard, run->nheard, sizeof(Heard), cmp_heard_seq);
		for (a = 0, b = 0; a < nout; a++)
		{
			Heard		want = {.zone = atoll(PQgetvalue(r, a, 2)),.seq = seqs[a]};

			while (b < run->nheard && cmp_heard_seq(&run->heard[b], &want) < 0)
				b++;
			if (b >= run->nheard || cmp_heard_seq(&run->heard[b], &want) != 0)
				missed++;
			else if (!PQgetisnull(r, a, 1))
			{
				committed = true;
				lat[nlat++] = (run->heard[b].at_real - atof(PQgetvalue(r, a, 1))) * 1000.0;
			}
		}
		PQclear(r);
		res->events_outbox = nout;
		res->citus = run->citus;
		res->events_received = run->nheard;
		res->events_missed = missed;
		res->event_from_commit = committed;
		free(seqs);

		/* per order, in arrival order: versions rise; latency of first arrivals */
		qsort(run->heard, run->nheard, sizeof(Heard), cmp_heard_order);
		{
			long long	cur = -1;
			int			last_version = 0,
						oi = -1;
			bool		seen[S_NSTATUS];

			/* orders by id, for the acknowledgement times */
			long long  *ids = malloc(sizeof(long long) * (run->ndemand + 1));
			int		   *idx = malloc(sizeof(int) * (run->ndemand + 1));
			long		nid = 0;

			for (i = 0; i < run->ndemand; i++)
				if (run->orders[i].id != 0)
					ids[nid++] = run->orders[i].id;
			qsort(ids, nid, sizeof(long long), cmp_ll);
			for (i = 0; i < nid; i++)
				idx[i] = order_index(run, ids[i]);

			for (a = 0; a < run->nheard; a++)
			{
				Heard	   *h = &run->heard[a];

				if (h->status < 0 || h->order == 0)
					continue;
				if (h->order != cur)
				{
					long long  *f = bsearch(&h->order, ids, nid, sizeof(long long), cmp_ll);

					cur = h->order;
					last_version = 0;
					oi = f ? idx[f - ids] : -1;
					memset(seen, 0, sizeof(seen));
				}
				if (h->version <= last_version)
					disorder++;
				last_version = h->version;
				if (!committed && !run->citus && oi >= 0 && !seen[h->status] && run->orders[oi].ack[h->status] > 0)
					lat[nlat++] = fmax(0.0, h->at - run->orders[oi].ack[h->status]) * 1000.0;
				seen[h->status] = true;
			}
			free(ids);
			free(idx);
		}
		res->events_out_of_order = disorder;
		res->event_p50 = quantile(lat, nlat, 0.5);
		res->event_p99 = quantile(lat, nlat, 0.99);
		free(lat);
	}
	return true;
}

/* ------------------------------------------------------------ a run */

/* on Citus: wait until the poller has read each zone's outbox to its end */
static bool
drain_polls(Run *run)
{
	PGresult   *r;
	long long  *last = calloc(run->nzones, sizeof(long long));
	double		w = wall_now();
	int			i,
				z;
	bool		done = false;

	if ((r = sql(run, run->conns[0], false, "SELECT zone_id, max(seq) FROM dispatch.events "
				 "WHERE zone_id = ANY (%s) GROUP BY zone_id", run->zones)) == NULL)
	{
		free(last);
		return false;
	}
	for (i = 0; i < PQntuples(r); i++)
		for (z = 0; z < run->nzones; z++)
			if (run->zone_id[z] == atoll(PQgetvalue(r, i, 0)))
				last[z] = atoll(PQgetvalue(r, i, 1));
	PQclear(r);
	while (!done && !run->failed && wall_now() - w < 10)
	{
		usleep(50000);
		pthread_mutex_lock(&run->lock);
		for (z = 0, done = true; z < run->nzones; z++)
			done = done && run->cursor[z] >= last[z];
		pthread_mutex_unlock(&run->lock);
	}
	free(last);
	return !run->failed;
}

static void
progress(const Run *run, bool last)
{
	long		placed = 0,
				delivered = 0,
				road = 0;
	int			i;

	for (i = 0; i < run->ndemand; i++)
	{
		int			s = run->orders[i].status;

		placed += s != S_NEW && s != S_REFUSED;
		delivered += s == S_DELIVERED;
		road += s == S_ASSIGNED || s == S_PICKED;
	}
	fprintf(stderr, "%s  %-8s %02d:%02d  placed %5ld  delivered %5ld  on the road %4ld  batches %5ld%s",
			isatty(2) ? "\r" : "", city_strategy_name[run->strategy], (int) (run->now / 3600) % 24,
			(int) fmod(run->now / 60, 60), placed, delivered, road, run->nbatch, last ? "\n" : "");
	fflush(stderr);
}

bool
city_run(const CityConfig *cfg, int strategy, CityResult *res, char *err, int errlen)
{
	Run		   *run = calloc(1, sizeof(Run));
	double		w0 = wall_now(),
				w_start = 0,
				drain_end;
	int			t;
	bool		ok = false,
				started = false;

	memset(res, 0, sizeof(*res));
	run->cfg = cfg;
	run->strategy = strategy;
	run->nthreads = cfg->connections;
	pthread_mutex_init(&run->lock, NULL);
	if (!open_db(run, err, errlen))
		goto out;
	if (run->citus)
		fprintf(stderr, "sim: %s: dispatch's tables are distributed (Citus): each call carries the "
				"simulated clock, the outbox is polled per zone%s\n", city_strategy_name[strategy],
				run->tag ? ", the city's names are tagged" : "");
	/* the listener from before the city is built; on Citus, once its zones are */
	if (!run->citus && pthread_create(&run->listener, NULL, listener, run) != 0)
	{
		snprintf(err, errlen, "cannot start the listener thread");
		goto out;
	}
	run->listening = !run->citus;
	if (!build_city(run))
		goto out;
	if (run->citus)
	{
		run->cursor = calloc(run->nzones, sizeof(long long));
		if (pthread_create(&run->listener, NULL, poller, run) != 0)
		{
			snprintf(err, errlen, "cannot start the poller thread");
			goto out;
		}
		run->listening = true;
	}

	pthread_barrier_init(&run->start, NULL, run->nthreads);
	pthread_barrier_init(&run->done, NULL, run->nthreads);
	run->threads = calloc(run->nthreads, sizeof(pthread_t));
	for (t = 1; t < run->nthreads; t++)
	{
		void	  **arg = malloc(sizeof(void *) * 2);

		arg[0] = run;
		arg[1] = (void *) (intptr_t) t;
		pthread_create(&run->threads[t], NULL, worker, arg);
	}
	started = true;

	/* the day, tick by tick, until the last order is delivered */
	w_start = wall_now();
	drain_end = cfg->end_min * 60.0 + 5400;
	for (run->now = cfg->start_min * 60.0; run->now <= drain_end && !run->failed; run->now += cfg->tick_s)
	{
		bool		open = false;
		int			i;

		parallel(run, order_phase);
		parallel(run, dispatch_phase);
		parallel(run, rider_phase);
		if (cfg->progress && fmod(run->now, isatty(2) ? 60.0 : 1800.0) < cfg->tick_s - 1e-6)
			progress(run, !isatty(2));
		if (run->now < cfg->end_min * 60.0)
			continue;
		if (res->intake_wall_s == 0)
			res->intake_wall_s = wall_now() - w_start;
		for (i = 0; i < run->ndemand && !open; i++)
			open = run->orders[i].status != S_DELIVERED && run->orders[i].status != S_CANCELLED &&
				run->orders[i].status != S_REFUSED && run->orders[i].status != S_NEW;
		for (i = 0; i < run->ndemand && !open; i++)
			open = run->orders[i].status == S_DELIVERED && run->demand[i].feedback_after >= 0 &&
				!run->orders[i].feedback_done;
		for (i = 0; i < run->nriders && !open; i++)
			open = run->riders[i].sync.items > 0;
		if (!open)
			break;
	}
	if (cfg->progress && isatty(2))
		progress(run, true);
	if (run->failed)
	{
		snprintf(err, errlen, "%s", run->err);
		goto out;
	}
	/*
	 * The listener drains: until it heard the outbox, or a quiet second.
	 * On Citus the poller, until its cursor of each zone reaches the zone's
	 * last event (or 10 s).
	 */
	if (run->citus && !drain_polls(run))
	{
		snprintf(err, errlen, "%s", run->err);
		goto out;
	}
	else if (!run->citus)
	{
		double		w = wall_now();

		while (wall_now() - w < 10 && wall_now() - run->last_heard < 1.0)
			usleep(50000);
	}
	run->stop_listening = true;
	pthread_join(run->listener, NULL);
	run->listening = false;
	res->wall_s = wall_now() - w0;
	if (!measure(run, res))
	{
		snprintf(err, errlen, "%s", run->err);
		goto out;
	}
	res->ran = true;
	ok = true;
out:
	if (!ok && run->failed)
		snprintf(err, errlen, "%s", run->err);
	if (started)
	{
		run->phase = NULL;
		pthread_barrier_wait(&run->start);
		for (t = 1; t < run->nthreads; t++)
			pthread_join(run->threads[t], NULL);
	}
	if (run->listening)
	{
		run->stop_listening = true;
		pthread_join(run->listener, NULL);
	}
	close_db(run);
	return ok;
}
