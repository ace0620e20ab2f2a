/*
 * mdrp.c: the replay of meal-delivery days.  Placeholder until it lands.
 */
#include <stdio.h>

#include "sim.h"

static int
not_yet(void)
{
	fprintf(stderr, "sim: the replay is not built yet\n");
	return 2;
}

int
mdrp_replay_main(int argc, char **argv)
{
	return not_yet();
}

int
mdrp_replay_all_main(int argc, char **argv)
{
	return not_yet();
}

int
mdrp_check_main(int argc, char **argv)
{
	return not_yet();
}
