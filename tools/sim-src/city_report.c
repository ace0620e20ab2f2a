/*-------------------------------------------------------------------------
 *
 * city_report.c
 *		tools/sim's default mode: the flags, the runs of both strategies,
 *		and the report as text, JSON and a self-contained HTML page.
 *
 *	tools/sim [--strategy dispatch|greedy|both] [--seed N] [--riders N]
 *			  [--merchants N] [--customers N] [--zones N] [--side-km KM]
 *			  [--peak N] [--from HH:MM] [--to HH:MM] [--tick S] [--batch S]
 *			  [--ping S] [--connections N] [--max-shift MIN]
 *			  [--database NAME] [--json FILE] [--html FILE] [--quiet]
 *
 * IDENTIFICATION
 *		tools/sim-src/city_report.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "city.h"
#include "sim.h"

static void
usage(FILE *f)
{
	fprintf(f,
			"NAME\n"
			"    tools/sim - a synthetic city driven through dispatch's SQL API\n\n"
			"SYNOPSIS\n"
			"    tools/sim [options]                     the city (this page)\n"
			"    tools/sim --replay DIR --out SOLDIR     replay a meal-delivery day (docs/replay.md)\n"
			"    tools/sim --replay-all [DATADIR]        replay all of them\n"
			"    tools/sim --check DIR SOLDIR            check a solution's feasibility\n"
			"    tools/sim --waits DIR SOLDIR            where a solution's food waited\n\n"
			"DESCRIPTION\n"
			"    Builds a city (zones, merchants, customers, riders) in a database of its\n"
			"    own per strategy, from the usual libpq environment, and plays a day part:\n"
			"    orders with lunch and dinner peaks, failed and retried payments, coupons,\n"
			"    cancellations, merchants cooking, riders riding, accepting, rejecting and\n"
			"    releasing orders, losing their signal and syncing, feedback and the\n"
			"    complaint loop.  Simulated time drives dispatch.clock().  Prints a report\n"
			"    with both strategies side by side.\n\n"
			"OPTIONS\n"
			"    --strategy S     dispatch (assign_batch), greedy (nearest rider), both (default)\n"
			"    --seed N         the city and its demand (default 1)\n"
			"    --zones N        N x N zones (default 2)\n"
			"    --side-km KM     the city's side (default 12)\n"
			"    --merchants N    (default 80)    --customers N (default 4000)\n"
			"    --riders N       (default 300, at most 99999)\n"
			"    --peak N         the lunch peak at 12:00, orders a minute above a base of\n"
			"                     0.08 N all day (default 20: 21.6 a minute at 12:00)\n"
			"    --from HH:MM     first order (default 10:45)\n"
			"    --to HH:MM       last order (default 13:15); the run goes on until all\n"
			"                     orders are delivered or cancelled, 90 minutes past it at most\n"
			"    --tick S         simulated seconds per step (default 20)\n"
			"    --batch S        seconds between batches per zone (default 60)\n"
			"    --ping S         seconds between a rider app's pings (default 60)\n"
			"    --connections N  connections (threads) driving the API (default 4)\n"
			"    --max-shift MIN  the zones' max_shift_minutes (default 180)\n"
			"    --database NAME  play in this existing database (the extension is created\n"
			"                     if missing; the database is kept); both strategies play\n"
			"                     there in turn.  A run in a database with zones already\n"
			"                     names its zones and customers apart.  Where dispatch's\n"
			"                     tables are distributed (Citus) every call carries the\n"
			"                     simulated clock and the outbox is polled per zone\n"
			"                     (docs/sim.md)\n"
			"    --json FILE      the figures as JSON\n"
			"    --html FILE      a self-contained report page\n"
			"    --quiet          no progress line\n\n"
			"ENVIRONMENT\n"
			"    PGHOST, PGPORT, PGUSER, PGDATABASE: where to create the city's databases\n"
			"    (dispatch_city_<pid>_<strategy>, dropped at the end; SIM_KEEP_DB=1 keeps\n"
			"    them).  The role must be able to create databases and the extension.\n");
}

static int
hhmm(const char *s)
{
	int			h = 0,
				m = 0;

	if (sscanf(s, "%d:%d", &h, &m) < 1 || h < 0 || h > 23 || m < 0 || m > 59)
	{
		fprintf(stderr, "sim: a time is HH:MM, not \"%s\"\n", s);
		exit(2);
	}
	return h * 60 + m;
}

static int
positive(const char *flag, const char *s)
{
	char	   *end;
	long		v = strtol(s, &end, 10);

	if (*end != '\0' || v <= 0 || v > 10000000)
	{
		fprintf(stderr, "sim: %s takes a positive whole number, not \"%s\"\n", flag, s);
		exit(2);
	}
	return (int) v;
}

int
city_main(int argc, char **argv)
{
	CityConfig	cfg = {
		.seed = 1,.zones_per_side = 2,.side_km = 12,.merchants = 80,.customers = 4000,
		.riders = 300,.peak_per_min = 20,.start_min = 10 * 60 + 45,.end_min = 13 * 60 + 15,
		.tick_s = 20,.batch_s = 60,.ping_s = 60,.connections = 4,.max_shift_minutes = 180,
		.strategy = {true, true},.progress = true
	};
	CityResult	res[CITY_NSTRAT];
	int			i,
				s;
	bool		ok = true;

	for (i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
		{
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--quiet") == 0)
		{
			cfg.progress = false;
			continue;
		}
		if (v == NULL)
		{
			fprintf(stderr, "sim: unknown flag or missing value: %s (see --help)\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--strategy") == 0)
		{
			cfg.strategy[0] = strcmp(v, "dispatch") == 0 || strcmp(v, "both") == 0;
			cfg.strategy[1] = strcmp(v, "greedy") == 0 || strcmp(v, "both") == 0;
			if (!cfg.strategy[0] && !cfg.strategy[1])
			{
				fprintf(stderr, "sim: --strategy is dispatch, greedy or both\n");
				return 2;
			}
		}
		else if (strcmp(a, "--seed") == 0)
			cfg.seed = (uint64_t) positive(a, v);
		else if (strcmp(a, "--zones") == 0)
			cfg.zones_per_side = positive(a, v);
		else if (strcmp(a, "--side-km") == 0)
			cfg.side_km = positive(a, v);
		else if (strcmp(a, "--merchants") == 0)
			cfg.merchants = positive(a, v);
		else if (strcmp(a, "--customers") == 0)
			cfg.customers = positive(a, v);
		else if (strcmp(a, "--riders") == 0)
		{
			cfg.riders = positive(a, v);
			/* each rider's phone number holds its number in five digits */
			if (cfg.riders > 99999)
			{
				fprintf(stderr, "sim: --riders takes at most 99999 riders, not %d\n", cfg.riders);
				exit(2);
			}
		}
		else if (strcmp(a, "--peak") == 0)
			cfg.peak_per_min = positive(a, v);
		else if (strcmp(a, "--from") == 0)
			cfg.start_min = hhmm(v);
		else if (strcmp(a, "--to") == 0)
			cfg.end_min = hhmm(v);
		else if (strcmp(a, "--tick") == 0)
			cfg.tick_s = positive(a, v);
		else if (strcmp(a, "--batch") == 0)
			cfg.batch_s = positive(a, v);
		else if (strcmp(a, "--ping") == 0)
			cfg.ping_s = positive(a, v);
		else if (strcmp(a, "--connections") == 0)
			cfg.connections = positive(a, v);
		else if (strcmp(a, "--max-shift") == 0)
			cfg.max_shift_minutes = positive(a, v);
		else if (strcmp(a, "--database") == 0)
			cfg.database = v;
		else if (strcmp(a, "--json") == 0)
			cfg.json_file = v;
		else if (strcmp(a, "--html") == 0)
			cfg.html_file = v;
		else
		{
			fprintf(stderr, "sim: unknown flag %s (see --help)\n", a);
			return 2;
		}
	}
	if (cfg.end_min <= cfg.start_min || cfg.connections > 64 || cfg.zones_per_side > 16)
	{
		fprintf(stderr, "sim: --to must be after --from, at most 64 connections and 16 x 16 zones\n");
		return 2;
	}
	fprintf(stderr, "sim: %d zones, %d merchants, %d customers, %d riders; orders %02d:%02d-%02d:%02d, "
			"%.1f a minute at the lunch peak; seed %llu\n",
			cfg.zones_per_side * cfg.zones_per_side, cfg.merchants, cfg.customers, cfg.riders,
			cfg.start_min / 60, cfg.start_min % 60, cfg.end_min / 60, cfg.end_min % 60,
			city_demand_rate(&cfg, 12 * 60), (unsigned long long) cfg.seed);
	for (s = 0; s < CITY_NSTRAT; s++)
	{
		char		err[1024];

		memset(&res[s], 0, sizeof(res[s]));
		if (!cfg.strategy[s])
			continue;
		if (!city_run(&cfg, s, &res[s], err, sizeof(err)))
		{
			fprintf(stderr, "\nsim: the %s run failed: %s\n", city_strategy_name[s], err);
			return 1;
		}
	}
	city_report(&cfg, res);
	if (cfg.json_file && !city_json(&cfg, res, cfg.json_file))
		ok = false;
	if (cfg.html_file && !city_html(&cfg, res, cfg.html_file))
		ok = false;
	/* the figures that must hold, whatever the strategy */
	for (s = 0; s < CITY_NSTRAT; s++)
		if (res[s].ran && (res[s].events_missed != 0 || res[s].fatigue_breaches != 0 ||
						   res[s].events_out_of_order != 0 || res[s].below_bound != 0 ||
						   res[s].below_approach != 0))
		{
			fprintf(stderr, "sim: %s: %ld events missed, %ld out of order, %ld fatigue-limit breaches, "
					"%ld orders delivered faster than their lower bound, "
					"%ld picked up sooner than the ride to the merchant\n",
					city_strategy_name[s], res[s].events_missed, res[s].events_out_of_order,
					res[s].fatigue_breaches, res[s].below_bound, res[s].below_approach);
			ok = false;
		}
	return ok ? 0 : 1;
}

/* ------------------------------------------------------------ text */

typedef enum
{
	F_INT, F_MIN, F_SHARE, F_MS, F_NUM
} Fmt;

static void
row(const CityResult *res, const char *label, Fmt fmt, size_t off)
{
	int			s;

	printf("  %-40s", label);
	for (s = 0; s < CITY_NSTRAT; s++)
	{
		const char *p = (const char *) &res[s] + off;

		if (!res[s].ran)
			continue;
		/* NaN: a figure of an empty population (nothing delivered, ...) */
		if (fmt != F_INT && isnan(*(const double *) p))
		{
			printf(" %12s", "-");
			continue;
		}
		switch (fmt)
		{
			case F_INT:
				printf(" %12ld", *(const long *) p);
				break;
			case F_MIN:
				printf(" %12.1f", *(const double *) p);
				break;
			case F_SHARE:
				printf(" %11.1f%%", 100.0 * *(const double *) p);
				break;
			case F_MS:
				printf(" %12.2f", *(const double *) p);
				break;
			case F_NUM:
				printf(" %12.3f", *(const double *) p);
				break;
		}
	}
	printf("\n");
}

/* a row of two counts, "a / b" or "a (b)" as the label says */
static void
row2(const CityResult *res, const char *label, const char *fmt, size_t off1, size_t off2)
{
	int			s;

	printf("  %-40s", label);
	for (s = 0; s < CITY_NSTRAT; s++)
	{
		char		b[64];

		if (!res[s].ran)
			continue;
		snprintf(b, sizeof(b), fmt, *(const long *) ((const char *) &res[s] + off1),
				 *(const long *) ((const char *) &res[s] + off2));
		printf(" %12s", b);
	}
	printf("\n");
}

/*
 * What the event latency is measured from, over the strategies that ran:
 * the commit record, or without track_commit_timestamp the writing call's
 * return.
 */
static const char *
latency_from(const CityResult *res)
{
	int			s,
				commit = 0,
				ret = 0;

	for (s = 0; s < CITY_NSTRAT; s++)
		if (res[s].ran && !res[s].citus)
		{
			if (res[s].event_from_commit)
				commit++;
			else
				ret++;
		}
	return ret == 0 ? "commit" : commit == 0 ? "call's return" : "commit or call's return";
}

#define ROW(label, fmt, field) row(res, label, fmt, offsetof(CityResult, field))
#define ROW2(label, fmt, f1, f2) \
	row2(res, label, fmt, offsetof(CityResult, f1), offsetof(CityResult, f2))

void
city_report(const CityConfig *cfg, const CityResult *res)
{
	int			s,
				k;
	bool		citus = false;

	for (s = 0; s < CITY_NSTRAT; s++)
		citus = citus || (res[s].ran && res[s].citus);
	printf("\n  %-40s", "");
	for (s = 0; s < CITY_NSTRAT; s++)
		if (res[s].ran)
			printf(" %12s", city_strategy_name[s]);
	printf("\n");
	ROW("orders placed", F_INT, placed);
	ROW("  refused at intake", F_INT, refused);
	ROW("  with a coupon", F_INT, coupons);
	ROW2("  payments failed / retried", "%ld / %ld", payment_failed, payment_retried);
	ROW("  delivered", F_INT, delivered);
	ROW("  cancelled", F_INT, cancelled);
	ROW("  open at the end", F_INT, open);
	ROW("click to door, mean (min)", F_MIN, ctd_mean);
	ROW("  median (min)", F_MIN, ctd_median);
	ROW("  p90 (min)", F_MIN, ctd_p90);
	ROW("  lower bound of the mean: ready + ride", F_MIN, ctd_bound);
	ROW("  orders below their bound (must be 0)", F_INT, below_bound);
	ROW("  pickups below their ride (must be 0)", F_INT, below_approach);
	ROW("on time (by the promise)", F_SHARE, on_time);
	ROW("rider waiting at the merchant (min)", F_MIN, pickup_wait);
	ROW("food waiting for a rider (min)", F_MIN, food_wait);
	ROW("rider utilisation (over shifts)", F_SHARE, utilisation);
	ROW("earnings Gini (riders who delivered)", F_NUM, gini);
	ROW("fatigue-limit breaches (must be 0)", F_INT, fatigue_breaches);
	ROW("orders reassigned", F_INT, reassignments);
	ROW("  orders refused by riders", F_INT, rejections);
	ROW("  orders released by riders", F_INT, releases);
	ROW2("offline syncs (items)", "%ld (%ld)", syncs, sync_items);
	ROW("batches", F_INT, batches);
	ROW("  latency p50 (ms)", F_MS, batch_p50);
	ROW("  latency p99 (ms)", F_MS, batch_p99);
	ROW(citus ? "events in the outbox (polled per zone)" : "events in the outbox", F_INT, events_outbox);
	if (citus)
		printf("  %-40s\n", "  latency: not measured (Citus, polled)");
	else
	{
		char		label[64];

		snprintf(label, sizeof(label), "  %s to listener p50 (ms)", latency_from(res));
		ROW(label, F_MS, event_p50);
		snprintf(label, sizeof(label), "  %s to listener p99 (ms)", latency_from(res));
		ROW(label, F_MS, event_p99);
	}
	ROW("  missed (must be 0)", F_INT, events_missed);
	ROW("  out of order per order (must be 0)", F_INT, events_out_of_order);
	ROW("feedback", F_INT, feedback);
	ROW("  sentiment of the comments (-1..1)", F_NUM, sentiment);
	ROW2("  complaint tickets opened / resolved", "%ld / %ld", tickets_opened, tickets_resolved);
	ROW("wall time of the run (s)", F_MIN, wall_s);
	ROW("  orders taken per wall second", F_MIN, orders_per_s);
	for (s = 0; s < CITY_NSTRAT; s++)
		if (res[s].ran)
		{
			printf("  top complaint topics (%s):", city_strategy_name[s]);
			for (k = 0; k < CITY_TOPICS && res[s].topics[k][0]; k++)
				printf(" %s %ld%s", res[s].topics[k], res[s].topic_n[k], k + 1 < CITY_TOPICS && res[s].topics[k + 1][0] ? "," : "");
			printf("\n");
		}
	(void) cfg;
}

/* ------------------------------------------------------------ JSON */

/* a number with prec decimals, or null for NaN (no population) */
static const char *
jnum(char *buf, size_t len, double v, int prec)
{
	if (isnan(v))
		snprintf(buf, len, "null");
	else
		snprintf(buf, len, "%.*f", prec, v);
	return buf;
}

bool
city_json(const CityConfig *cfg, const CityResult *res, const char *file)
{
	FILE	   *f = fopen(file, "w");
	int			s,
				k;
	bool		first = true;
	char		lat[128];

	if (f == NULL)
	{
		perror(file);
		return false;
	}
	fprintf(f, "{\"seed\": %llu, \"zones\": %d, \"merchants\": %d, \"customers\": %d, \"riders\": %d, "
			"\"peak_per_min\": %.1f, \"from_min\": %d, \"to_min\": %d, \"strategies\": {",
			(unsigned long long) cfg->seed, cfg->zones_per_side * cfg->zones_per_side, cfg->merchants,
			cfg->customers, cfg->riders, cfg->peak_per_min, cfg->start_min, cfg->end_min);
	for (s = 0; s < CITY_NSTRAT; s++)
	{
		const CityResult *r = &res[s];
		char		nb[14][32];

		if (!r->ran)
			continue;

/* a figure (k: its own buffer), or null where its population is empty */
#define J(k, v, prec) jnum(nb[k], sizeof(nb[0]), (v), (prec))
		/* on Citus the latency is not measured (events polled): null */
		if (r->citus)
			snprintf(lat, sizeof(lat), "null");
		else
			snprintf(lat, sizeof(lat), "{\"p50\": %s, \"p99\": %s}",
					 J(0, r->event_p50, 3), J(1, r->event_p99, 3));
		fprintf(f, "%s\n  \"%s\": {\"placed\": %ld, \"refused\": %ld, \"coupons\": %ld, \"payments_failed\": %ld, "
				"\"payments_retried\": %ld, \"delivered\": %ld, \"cancelled\": %ld, \"open\": %ld, ",
				first ? "" : ",", city_strategy_name[s], r->placed, r->refused, r->coupons, r->payment_failed,
				r->payment_retried, r->delivered, r->cancelled, r->open);
		fprintf(f, "\"click_to_door_min\": {\"mean\": %s, \"median\": %s, \"p90\": %s, \"lower_bound_mean\": %s}, "
				"\"below_lower_bound\": %ld, \"below_approach_bound\": %ld, \"on_time\": %s, "
				"\"rider_wait_at_merchant_min\": %s, \"food_wait_min\": %s, \"utilisation\": %s, "
				"\"earnings_gini\": %s, ",
				J(2, r->ctd_mean, 3), J(3, r->ctd_median, 3), J(4, r->ctd_p90, 3), J(5, r->ctd_bound, 3),
				r->below_bound, r->below_approach, J(6, r->on_time, 4), J(7, r->pickup_wait, 3), J(8, r->food_wait, 3),
				J(9, r->utilisation, 4), J(10, r->gini, 4));
		fprintf(f, "\"fatigue_breaches\": %ld, \"reassignments\": %ld, \"rejections\": %ld, "
				"\"releases\": %ld, \"syncs\": %ld, \"sync_items\": %ld, "
				"\"batches\": %ld, \"batch_ms\": {\"p50\": %s, \"p99\": %s}, "
				"\"events\": {\"outbox\": %ld, \"received\": %ld, \"missed\": %ld, \"out_of_order\": %ld, "
				"\"latency_ms\": %s, \"latency_from\": \"%s\"}, "
				"\"orders_per_s\": %.2f, \"feedback\": %ld, \"feedback_written\": %ld, \"sentiment\": %s, "
				"\"tickets_opened\": %ld, \"tickets_resolved\": %ld, \"top_complaints\": {",
				r->fatigue_breaches, r->reassignments, r->rejections, r->releases, r->syncs, r->sync_items,
				r->batches, J(11, r->batch_p50, 3), J(12, r->batch_p99, 3),
				r->events_outbox, r->events_received, r->events_missed, r->events_out_of_order,
				lat, r->citus ? "none" : r->event_from_commit ? "commit" : "call_return",
				r->orders_per_s, r->feedback, r->feedback_written, J(13, r->sentiment, 4),
				r->tickets_opened, r->tickets_resolved);
#undef J
		for (k = 0; k < CITY_TOPICS && r->topics[k][0]; k++)
			fprintf(f, "%s\"%s\": %ld", k ? ", " : "", r->topics[k], r->topic_n[k]);
		fprintf(f, "}, \"click_to_door_histogram_5min\": [");
		for (k = 0; k <= CITY_HIST_BINS; k++)
			fprintf(f, "%s%ld", k ? ", " : "", r->hist[k]);
		fprintf(f, "], \"zone_ids\": [");
		for (k = 0; k < r->nzones; k++)
			fprintf(f, "%s%lld", k ? ", " : "", r->zone_ids[k]);
		fprintf(f, "], \"citus\": %s, \"wall_s\": %.2f}", r->citus ? "true" : "false", r->wall_s);
		first = false;
	}
	fprintf(f, "\n}}\n");
	return fclose(f) == 0;
}

/* ------------------------------------------------------------ HTML */

/* a number with prec decimals and its unit, or "-" for NaN (no population) */
static const char *
hnum(char *buf, size_t len, double v, int prec, const char *unit)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f%s", prec, v, unit);
	return buf;
}

static const char *const colour[CITY_NSTRAT] = {"#1f6feb", "#d29922"};

static void
svg_histogram(FILE *f, const CityResult *res)
{
	long		max = 1;
	int			s,
				k,
				n = 0;
	const int	W = 640,
				H = 240,
				L = 40,
				B = 30;

	for (s = 0; s < CITY_NSTRAT; s++)
		if (res[s].ran)
		{
			n++;
			for (k = 0; k <= CITY_HIST_BINS; k++)
				max = res[s].hist[k] > max ? res[s].hist[k] : max;
		}
	fprintf(f, "<svg width='%d' height='%d' role='img' aria-label='click-to-door histogram'>", W, H);
	fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#888'/>", L, H - B, W - 10, H - B);
	for (k = 0; k <= CITY_HIST_BINS; k++)
	{
		double		bw = (W - L - 10.0) / (CITY_HIST_BINS + 1);
		int			j = 0;

		for (s = 0; s < CITY_NSTRAT; s++)
		{
			double		h;
			char		bin[32];

			if (!res[s].ran)
				continue;
			/* the last bin holds every delivery from its start on */
			if (k == CITY_HIST_BINS)
				snprintf(bin, sizeof(bin), "%d+", k * 5);
			else
				snprintf(bin, sizeof(bin), "%d-%d", k * 5, k * 5 + 5);
			h = (H - B - 10.0) * res[s].hist[k] / max;
			fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'><title>%s %s min: %ld</title></rect>",
					L + k * bw + j * bw / n, H - B - h, bw / n - 1, h, colour[s], city_strategy_name[s],
					bin, res[s].hist[k]);
			j++;
		}
		if (k % 2 == 0)
			fprintf(f, "<text x='%.1f' y='%d' font-size='10' text-anchor='middle'>%d%s</text>",
					L + k * bw, H - B + 14, k * 5, k == CITY_HIST_BINS ? "+" : "");
	}
	fprintf(f, "<text x='%d' y='%d' font-size='11'>minutes from click to door</text>", W / 2 - 60, H - 2);
	fprintf(f, "<text x='2' y='12' font-size='10'>%ld</text></svg>\n", max);
}

static void
svg_heatmap(FILE *f, const CityResult *r)
{
	long		max = 1;
	int			i,
				j;
	const int	C = 16;

	for (j = 0; j < CITY_GRID; j++)
		for (i = 0; i < CITY_GRID; i++)
			max = r->heat[j][i] > max ? r->heat[j][i] : max;
	fprintf(f, "<svg width='%d' height='%d' role='img' aria-label='demand heatmap'>", C * CITY_GRID, C * CITY_GRID);
	for (j = 0; j < CITY_GRID; j++)
		for (i = 0; i < CITY_GRID; i++)
		{
			double		v = (double) r->heat[j][i] / max;

			fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='rgb(%d,%d,%d)'><title>%ld orders</title></rect>",
					i * C, (CITY_GRID - 1 - j) * C, C, C,
					(int) (255 - 35 * v), (int) (255 - 200 * v), (int) (255 - 230 * v), r->heat[j][i]);
		}
	fprintf(f, "</svg>\n");
}

static void
svg_earnings(FILE *f, const CityResult *res)
{
	double		max = 1;
	int			s,
				i;
	const int	W = 640,
				H = 200;

	for (s = 0; s < CITY_NSTRAT; s++)
		for (i = 0; res[s].ran && i < res[s].nearn; i++)
			max = fmax(max, res[s].earnings[i]);
	fprintf(f, "<svg width='%d' height='%d' role='img' aria-label='earnings per rider, sorted'>", W, H);
	for (s = 0; s < CITY_NSTRAT; s++)
	{
		if (!res[s].ran || res[s].nearn == 0)
			continue;
		fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2' points='", colour[s]);
		for (i = 0; i < res[s].nearn; i++)
			fprintf(f, "%.1f,%.1f ", 10 + (W - 20.0) * i / fmax(1, res[s].nearn - 1),
					H - 20 - (H - 30.0) * res[s].earnings[i] / max);
		fprintf(f, "'/>");
	}
	fprintf(f, "<text x='10' y='%d' font-size='11'>riders, from the lowest earnings to the highest (max %.0f)</text></svg>\n",
			H - 4, max);
}

bool
city_html(const CityConfig *cfg, const CityResult *res, const char *file)
{
	FILE	   *f = fopen(file, "w");
	int			s,
				shown = -1;
	bool		citus = false;

	if (f == NULL)
	{
		perror(file);
		return false;
	}
	for (s = 0; s < CITY_NSTRAT; s++)
		citus = citus || (res[s].ran && res[s].citus);
	fprintf(f, "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>dispatch: city report</title>\n"
			"<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}"
			"td,th{padding:2px 10px;text-align:right}td:first-child{text-align:left}"
			".k{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}</style></head><body>\n");
	fprintf(f, "<h1>dispatch: a synthetic city</h1>\n<p>%d zones, %d merchants, %d customers, %d riders; "
			"orders from %02d:%02d to %02d:%02d, %.1f a minute at the lunch peak; seed %llu.</p>\n",
			cfg->zones_per_side * cfg->zones_per_side, cfg->merchants, cfg->customers, cfg->riders,
			cfg->start_min / 60, cfg->start_min % 60, cfg->end_min / 60, cfg->end_min % 60,
			city_demand_rate(cfg, 12 * 60), (unsigned long long) cfg->seed);
	fprintf(f, "<p>");
	for (s = 0; s < CITY_NSTRAT; s++)
		if (res[s].ran)
			fprintf(f, "<span class='k' style='background:%s'></span>%s", colour[s], city_strategy_name[s]);
	fprintf(f, "</p>\n<table><tr><th></th>");
	for (s = 0; s < CITY_NSTRAT; s++)
		if (res[s].ran)
			fprintf(f, "<th>%s</th>", city_strategy_name[s]);
	fprintf(f, "</tr>\n");
#define HROW(label, expr) do { fprintf(f, "<tr><td>%s</td>", label); \
		for (s = 0; s < CITY_NSTRAT; s++) if (res[s].ran) fprintf(f, "<td>%s</td>", expr); \
		fprintf(f, "</tr>\n"); } while (0)
	{
		char		b[CITY_NSTRAT][256],
					h[CITY_NSTRAT][3][32];
		char		lat[80];

#define FMT(...) (snprintf(b[s], sizeof(b[s]), __VA_ARGS__), b[s])
/* a figure, or "-" where its population is empty (NaN) */
#define H(k, v, prec, unit) hnum(h[s][k], sizeof(h[s][k]), (v), (prec), (unit))
		HROW("orders placed", FMT("%ld", res[s].placed));
		HROW("delivered", FMT("%ld", res[s].delivered));
		HROW("cancelled", FMT("%ld", res[s].cancelled));
		HROW("open at the end", FMT("%ld", res[s].open));
		HROW("click to door: mean / median / p90 (min)",
			 FMT("%s / %s / %s", H(0, res[s].ctd_mean, 1, ""), H(1, res[s].ctd_median, 1, ""),
				 H(2, res[s].ctd_p90, 1, "")));
		HROW("lower bound of the mean: food ready + direct ride (min)", H(0, res[s].ctd_bound, 1, ""));
		HROW("orders delivered below their own bound (must be 0)", FMT("%ld", res[s].below_bound));
		HROW("orders picked up sooner than the ride to the merchant (must be 0)", FMT("%ld", res[s].below_approach));
		HROW("on time", H(0, 100 * res[s].on_time, 1, "%"));
		HROW("rider waiting at the merchant (min)", H(0, res[s].pickup_wait, 1, ""));
		HROW("food waiting for a rider (min)", H(0, res[s].food_wait, 1, ""));
		HROW("rider utilisation (over the riders' shifts)", H(0, 100 * res[s].utilisation, 1, "%"));
		HROW("earnings Gini", H(0, res[s].gini, 3, ""));
		HROW("fatigue-limit breaches", FMT("%ld", res[s].fatigue_breaches));
		HROW("orders reassigned", FMT("%ld", res[s].reassignments));
		HROW("batch latency p50 / p99 (ms)",
			 FMT("%s / %s", H(0, res[s].batch_p50, 1, ""), H(1, res[s].batch_p99, 1, "")));
		if (citus)
			snprintf(lat, sizeof(lat), "event latency: not measured (Citus, polled)");
		else
			snprintf(lat, sizeof(lat), "event latency, %s to listener, p50 / p99 (ms)", latency_from(res));
		HROW(lat, FMT("%s / %s", H(0, res[s].event_p50, 2, ""), H(1, res[s].event_p99, 2, "")));
		HROW("events missed", FMT("%ld of %ld", res[s].events_missed, res[s].events_outbox));
		HROW("feedback sentiment", FMT("%s (%ld)", H(0, res[s].sentiment, 3, ""), res[s].feedback));
		HROW("complaint tickets opened / resolved", FMT("%ld / %ld", res[s].tickets_opened, res[s].tickets_resolved));
#undef H
#undef FMT
	}
	fprintf(f, "</table>\n<h2>Click to door</h2>\n");
	svg_histogram(f, res);
	for (s = 0; s < CITY_NSTRAT; s++)
		if (res[s].ran && shown < 0)
			shown = s;
	if (shown >= 0)
	{
		fprintf(f, "<h2>Demand over the city</h2>\n<p>Orders delivered under %s by drop-off, %d x %d cells, north up.</p>\n",
				city_strategy_name[shown], CITY_GRID, CITY_GRID);
		svg_heatmap(f, &res[shown]);
	}
	fprintf(f, "<h2>Earnings per rider</h2>\n");
	svg_earnings(f, res);
	fprintf(f, "</body></html>\n");
	return fclose(f) == 0;
}
