/*-------------------------------------------------------------------------
 *
 * clock.c
 *		dispatch.clock(): the one source of "now" for every part.
 *
 * It returns the transaction start time unless dispatch.clock_override is
 * set, which tests and the city simulator use to replay a day.  The clock
 * feeds the fraud window, offer expiry, ping times, event times and
 * retention, so the override is a superuser setting (PGC_SUSET; a
 * superuser may GRANT SET ON PARAMETER dispatch.clock_override to a
 * simulation role): an application role that could move it would dodge
 * the fraud window, accept expired offers or back-date pings.
 *
 * The value is checked and parsed when it is set (the check hook), in the
 * session's TimeZone of that moment, and kept as a timestamp: a bad value
 * is refused by SET with SQLSTATE DP023, never later by a call that reads
 * the clock.
 *
 * IDENTIFICATION
 *		src/clock.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "dispatch.h"

/* the parsed override, valid while override_set */
static bool override_set = false;
static TimestampTz override_value = 0;

/*
 * Check hook of dispatch.clock_override: empty (no override) or a finite
 * time that timestamptz input accepts.  Parses without raising errors
 * (a check hook must not), and hands the value to the assign hook in a
 * malloc'd *extra, as the GUC machinery requires.
 */
bool
dispatch_clock_check_override(char **newval, void **extra, GucSource source)
{
	const char *str = *newval;
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz;
	struct pg_tm tt,
			   *tm = &tt;
	fsec_t		fsec;
	TimestampTz value;
	TimestampTz *result;

	if (str == NULL || str[0] == '\0')
	{
		*extra = NULL;
		return true;
	}
	if (session_timezone == NULL)
	{
		/* only before TimeZone is set up, e.g. from postgresql.conf */
		GUC_check_errcode(ERRCODE_DP_BAD_CLOCK);
		GUC_check_errdetail("The clock can be overridden only in a session.");
		return false;
	}

	if (ParseDateTime(str, workbuf, sizeof(workbuf), field, ftype,
					  MAXDATEFIELDS, &nf) != 0 ||
		DecodeDateTime(field, ftype, nf, &dtype, tm, &fsec, &tz) != 0)
	{
		GUC_check_errcode(ERRCODE_DP_BAD_CLOCK);
		GUC_check_errdetail("\"%s\" is not a time.", str);
		return false;
	}
	if (dtype != DTK_DATE)
	{
		GUC_check_errcode(ERRCODE_DP_BAD_CLOCK);
		GUC_check_errdetail("The clock must be a finite time, not \"%s\".", str);
		return false;
	}
	if (tm2timestamp(tm, fsec, &tz, &value) != 0 || !IS_VALID_TIMESTAMP(value))
	{
		GUC_check_errcode(ERRCODE_DP_BAD_CLOCK);
		GUC_check_errdetail("\"%s\" is out of range.", str);
		return false;
	}

	result = malloc(sizeof(TimestampTz));
	if (result == NULL)
		return false;
	*result = value;
	*extra = result;
	return true;
}

/*
 * Assign hook: take the value parsed by the check hook (NULL: no
 * override).  Runs also when a SET LOCAL is rolled back, with the old
 * value's extra.
 */
void
dispatch_clock_assign_override(const char *newval, void *extra)
{
	override_set = extra != NULL;
	override_value = extra != NULL ? *(TimestampTz *) extra : 0;
}

/*
 * The current dispatch time: the override if one is set, else the
 * transaction start time (so that one transaction sees one "now").
 */
TimestampTz
dispatch_clock_now(void)
{
	if (override_set)
		return override_value;
	return GetCurrentTransactionStartTimestamp();
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
