/*
 * city.c: the synthetic city.  Placeholder until the simulator lands.
 */
#include <stdio.h>

#include "sim.h"

int
city_main(int argc, char **argv)
{
	fprintf(stderr, "sim: the city simulator is not built yet; tools/demo runs tools/city\n");
	return 2;
}
