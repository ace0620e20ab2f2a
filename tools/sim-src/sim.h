/*-------------------------------------------------------------------------
 *
 * sim.h
 *		tools/sim: the city simulator, the replay of meal-delivery days and
 *		their feasibility checker.  One program, a mode per entry point.
 *
 * Every mode drives only the public SQL API of dispatch, through libpq
 * and the usual environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
 *
 * IDENTIFICATION
 *		tools/sim-src/sim.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DISPATCH_SIM_H
#define DISPATCH_SIM_H

/* city.c: the synthetic city (the default mode) */
extern int	city_main(int argc, char **argv);

/* mdrp.c: --replay DIR --out SOLDIR, --replay-all, --check DIR SOLDIR */
extern int	mdrp_replay_main(int argc, char **argv);
extern int	mdrp_replay_all_main(int argc, char **argv);
extern int	mdrp_check_main(int argc, char **argv);

#endif							/* DISPATCH_SIM_H */
