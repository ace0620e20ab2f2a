/*-------------------------------------------------------------------------
 *
 * init.c
 *		Module entry point of the dispatch extension: PG_MODULE_MAGIC and
 *		_PG_init, which defines the settings (dispatch.c) and then lets
 *		the parts that need the postmaster prepare themselves: the refusal
 *		ring's shared memory (refusals.c) and the relay's workers
 *		(relay.c).
 *
 * The entry point has a file of its own so that the parts it starts may
 * read the settings and helpers of dispatch.c without dispatch.c calling
 * back into them.
 *
 * IDENTIFICATION
 *		src/init.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "dispatch.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	dispatch_define_settings();
	dispatch_refusals_init();
	dispatch_relay_init();
}
