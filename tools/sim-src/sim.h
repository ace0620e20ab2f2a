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

#include <stdbool.h>

#include "libpq-fe.h"

/* simdb.c: the databases runs play in */
extern bool sim_create_db(const char *dbname, char *err, int errlen);
extern void sim_drop_db(const char *dbname);
extern PGconn *sim_connect(const char *dbname, const char *application, char *err, int errlen);

/* city.c: the synthetic city (the default mode) */
extern int	city_main(int argc, char **argv);

/* mdrp.c: --replay DIR --out SOLDIR, --replay-all, --check DIR SOLDIR */
extern int	mdrp_replay_main(int argc, char **argv);
extern int	mdrp_replay_all_main(int argc, char **argv);
extern int	mdrp_check_main(int argc, char **argv);
extern int	mdrp_waits_main(int argc, char **argv);

#endif							/* DISPATCH_SIM_H */
