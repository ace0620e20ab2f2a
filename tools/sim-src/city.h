/*-------------------------------------------------------------------------
 *
 * city.h
 *		tools/sim: the synthetic city, its run through the SQL API and its
 *		report.
 *
 * IDENTIFICATION
 *		tools/sim-src/city.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DISPATCH_SIM_CITY_H
#define DISPATCH_SIM_CITY_H

#include <stdbool.h>
#include <stdint.h>

#define CITY_NSTRAT 2			/* 0 dispatch (assign_batch), 1 greedy */
#define CITY_HIST_BINS 24		/* click-to-door histogram: 5-minute bins */
#define CITY_GRID 20			/* demand heatmap: cells per side */
#define CITY_TOPICS 5

/* What the city is, from the flags. */
typedef struct CityConfig
{
	uint64_t	seed;
	int			zones_per_side; /* the city is a square of zones */
	double		side_km;
	int			merchants;
	int			customers;
	int			riders;
	double		peak_per_min;	/* orders a minute at a peak */
	int			start_min;		/* simulated minutes since midnight */
	int			end_min;		/* orders stop arriving */
	double		tick_s;
	double		batch_s;
	double		ping_s;
	int			connections;
	int			max_shift_minutes;
	bool		strategy[CITY_NSTRAT];
	const char *database;		/* --database: an existing one, kept */
	const char *json_file;
	const char *html_file;
	bool		progress;
} CityConfig;

/* What a run measured. */
typedef struct CityResult
{
	bool		ran;
	double		wall_s;
	double		intake_wall_s;	/* wall time until the last order arrived */
	double		orders_per_s;	/* orders taken per wall second meanwhile */
	long		placed,
				refused,
				paid,
				payment_failed,
				payment_retried,
				delivered,
				cancelled,
				open,			/* neither delivered nor cancelled at the end */
				coupons;
	double		ctd_mean,
				ctd_median,
				ctd_p90,		/* click to door, minutes */
				ctd_bound,		/* its mean's lower bound: ready + ride */
				on_time,		/* share delivered by the promise */
				pickup_wait,	/* rider at the merchant until pickup, min */
				food_wait,		/* food ready until pickup, min */
				utilisation,	/* share of shift time holding orders */
				gini;			/* of earnings over riders who worked */
	long		below_bound,	/* delivered faster than physics allows */
				below_approach, /* picked up sooner than the ride there */
				fatigue_breaches,
				reassignments,
				rejections,
				releases,
				syncs,
				sync_items,
				batches;
	double		batch_p50,
				batch_p99,		/* ms */
				event_p50,
				event_p99;		/* ms, commit acknowledged to listener */
	bool		event_from_commit;	/* latency from the commit record */
	bool		citus;			/* tables distributed: events polled per
								 * zone, no latency measured */
	long		events_outbox,
				events_received,
				events_missed,
				events_out_of_order;
	long		feedback,
				feedback_written,	/* reviews the simulator submitted */
				tickets_opened, /* complaint tickets in the database */
				tickets_resolved;
	double		sentiment;		/* mean text score of feedback */
	char		topics[CITY_TOPICS][32];
	long		topic_n[CITY_TOPICS];
	long		hist[CITY_HIST_BINS + 1];	/* last bin: beyond */
	long		heat[CITY_GRID][CITY_GRID];
	int			nearn;
	double	   *earnings;		/* per rider who worked, currency units */
	int			nzones;
	long long  *zone_ids;		/* the run's zones */
} CityResult;

extern double city_demand_rate(const CityConfig *cfg, double minute);
extern bool city_run(const CityConfig *cfg, int strategy, CityResult *res, char *err, int errlen);
extern void city_report(const CityConfig *cfg, const CityResult *res);
extern bool city_json(const CityConfig *cfg, const CityResult *res, const char *file);
extern bool city_html(const CityConfig *cfg, const CityResult *res, const char *file);

extern const char *const city_strategy_name[CITY_NSTRAT];

#endif							/* DISPATCH_SIM_CITY_H */
