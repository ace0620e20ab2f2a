/*-------------------------------------------------------------------------
 *
 * clock.c
 *		dispatch.clock(): the one source of "now" for every part.
 *
 * It returns the transaction start time unless the session sets
 * dispatch.clock_override, which tests and the city simulator use to replay
 * a day.  The override is parsed once per distinct value and cached in
 * backend memory.
 *
 * IDENTIFICATION
 *		src/clock.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "dispatch.h"

static char *cached_override = NULL;
static TimestampTz cached_value = 0;

/*
 * Nothing to prepare yet; kept so that _PG_init treats every part alike.
 */
void
dispatch_clock_init(void)
{
}

/*
 * The current dispatch time: the override if one is set, else the
 * transaction start time (so that one transaction sees one "now").
 */
TimestampTz
dispatch_clock_now(void)
{
	const char *ov = dispatch_clock_override;

	if (ov == NULL || ov[0] == '\0')
		return GetCurrentTransactionStartTimestamp();

	if (cached_override == NULL || strcmp(cached_override, ov) != 0)
	{
		TimestampTz value;
		MemoryContext old;

		value = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
														CStringGetDatum(ov),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
		if (TIMESTAMP_NOT_FINITE(value))
			ereport(ERROR,
					errcode(ERRCODE_DP_BAD_CLOCK),
					errmsg("dispatch.clock_override must be a finite time"),
					errdetail("The setting is \"%s\".", ov));

		old = MemoryContextSwitchTo(TopMemoryContext);
		if (cached_override)
			pfree(cached_override);
		cached_override = pstrdup(ov);
		MemoryContextSwitchTo(old);
		cached_value = value;
	}
	return cached_value;
}

PG_FUNCTION_INFO_V1(dispatch_clock);

/*
 * SQL: dispatch.clock() -> timestamptz
 */
Datum
dispatch_clock(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(dispatch_clock_now());
}
