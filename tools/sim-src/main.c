/*-------------------------------------------------------------------------
 *
 * main.c
 *		tools/sim: choose the mode from the first argument.
 *
 *	tools/sim [city options]                 the synthetic city (city.c)
 *	tools/sim --replay DIR --out SOLDIR      replay one meal-delivery day (mdrp.c)
 *	tools/sim --replay-all [DATADIR]         replay all of them, in parallel
 *	tools/sim --check DIR SOLDIR             check a solution's feasibility
 *	tools/sim --waits DIR SOLDIR             where a solution's food waited
 *
 * Each mode reads the rest of the arguments itself; --help of each mode
 * says which.
 *
 * IDENTIFICATION
 *		tools/sim-src/main.c
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "sim.h"

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--replay") == 0)
		return mdrp_replay_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "--replay-all") == 0)
		return mdrp_replay_all_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "--check") == 0)
		return mdrp_check_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "--waits") == 0)
		return mdrp_waits_main(argc, argv);
	return city_main(argc, argv);
}
