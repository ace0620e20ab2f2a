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
 * session's TimeZone of that moment, and kept as a timestamp and as UTC
 * text: a bad value is refused by SET with SQLSTATE DP023, never later by
 * a call that reads the clock, and SHOW gives the instant in UTC.
 *
 * IDENTIFICATION
 *		src/clock.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "dispatch.h"

/*
 * The override as the GUC machinery keeps it: the "extra" of the setting.
 * In a parallel worker the value is parsed at its first use (see the check
 * hook), so parsed may be false there.
 */
typedef struct ClockOverride
{
	bool		parsed;
	TimestampTz value;
} ClockOverride;

/* the current override, NULL when none (owned by the GUC machinery) */
static ClockOverride *override = NULL;

typedef enum ClockParse
{
	CLOCK_OK,
	CLOCK_NOT_A_TIME,
	CLOCK_NOT_FINITE,
	CLOCK_OUT_OF_RANGE,
	CLOCK_BAD_INPUT
} ClockParse;

/* why the last parse_clock returned CLOCK_BAD_INPUT: PostgreSQL's words */
static char clock_bad_input[256];

/*
 * Parse a time as timestamptz input does, without raising errors (a check
 * hook must not), in the session's TimeZone.
 *
 * PostgreSQL 15's DecodeDateTime returns a code for most bad input but
 * raises an error of its own for a time zone name it does not know
 * ("2026-03-02 12:00 Europe/Nowhere", 22023).  Such an error (a data
 * exception) is caught here and becomes CLOCK_BAD_INPUT, its message kept
 * in clock_bad_input: escaping the check hook it would refuse SET with the
 * wrong SQLSTATE, and in the postmaster, which checks the value when it
 * reloads its configuration file, it would be FATAL and stop the server.
 * Nothing is acquired in between that an error would need to release.
 */
static ClockParse
parse_clock(const char *str, TimestampTz *value)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz;
	struct pg_tm tt,
			   *tm = &tt;
	fsec_t		fsec;
	volatile int dterr = 0;
	volatile bool raised = false;
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		dterr = ParseDateTime(str, workbuf, sizeof(workbuf), field, ftype,
							  MAXDATEFIELDS, &nf);
		if (dterr == 0)
			dterr = DecodeDateTime(field, ftype, nf, &dtype, tm, &fsec, &tz);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			PG_RE_THROW();
		FlushErrorState();
		strlcpy(clock_bad_input, edata->message ? edata->message : "bad input",
				sizeof(clock_bad_input));
		FreeErrorData(edata);
		raised = true;
	}
	PG_END_TRY();
	if (raised)
		return CLOCK_BAD_INPUT;
	if (dterr != 0)
		return CLOCK_NOT_A_TIME;
	if (dtype != DTK_DATE)
		return CLOCK_NOT_FINITE;
	if (tm2timestamp(tm, fsec, &tz, value) != 0 || !IS_VALID_TIMESTAMP(*value))
		return CLOCK_OUT_OF_RANGE;
	return CLOCK_OK;
}

/*
 * Check hook of dispatch.clock_override: empty (no override) or a finite
 * time that timestamptz input accepts.  The value is rewritten in UTC with
 * an explicit offset ("2026-03-02 12:00:00+00"), so that it means the same
 * instant whatever TimeZone reads it later, and handed to the assign hook
 * parsed, in a malloc'd *extra, as the GUC machinery requires.
 *
 * A parallel worker receives the leader's settings while it starts, at a
 * moment when the time zone abbreviations it would need to parse are not
 * restored yet (parsing then reads freed memory): the leader has checked
 * and rewritten the value already, so the worker takes it unparsed and
 * parses it at its first use (dispatch_clock_now).
 */
bool
dispatch_clock_check_override(char **newval, void **extra, GucSource source)
{
	const char *str = *newval;
	ClockOverride *result;
	TimestampTz value;
	struct pg_tm tm;
	fsec_t		fsec;
	char		buf[MAXDATELEN + 4];
	char	   *canonical;

	if (str == NULL || str[0] == '\0')
	{
		*extra = NULL;
		return true;
	}
	if (InitializingParallelWorker)
	{
		result = malloc(sizeof(ClockOverride));
		if (result == NULL)
			return false;
		result->parsed = false;
		result->value = 0;
		*extra = result;
		return true;
	}
	if (session_timezone == NULL)
	{
		/* only before TimeZone is set up, e.g. from postgresql.conf */
		GUC_check_errcode(ERRCODE_DP_BAD_CLOCK);
		GUC_check_errdetail("The clock can be overridden only in a session.");
		return false;
	}

	switch (parse_clock(str, &value))
	{
		case CLOCK_OK:
			break;
		case CLOCK_NOT_A_TIME:
			GUC_check_errcode(ERRCODE_DP_BAD_CLOCK);
			GUC_check_errdetail("\"%s\" is not a time.", str);
			return false;
		case CLOCK_NOT_FINITE:
			GUC_check_errcode(ERRCODE_DP_BAD_CLOCK);
			GUC_check_errdetail("The clock must be a finite time, not \"%s\".", str);
			return false;
		case CLOCK_OUT_OF_RANGE:
			GUC_check_errcode(ERRCODE_DP_BAD_CLOCK);
			GUC_check_errdetail("\"%s\" is out of range.", str);
			return false;
		case CLOCK_BAD_INPUT:
			GUC_check_errcode(ERRCODE_DP_BAD_CLOCK);
			GUC_check_errdetail("\"%s\" is not a time: %s.", str, clock_bad_input);
			return false;
	}

	/* the same instant in UTC, with its offset */
	if (timestamp2tm(value, NULL, &tm, &fsec, NULL, NULL) != 0)
	{
		GUC_check_errcode(ERRCODE_DP_BAD_CLOCK);
		GUC_check_errdetail("\"%s\" is out of range.", str);
		return false;
	}
	EncodeDateTime(&tm, fsec, false, 0, NULL, USE_ISO_DATES, buf);
	strlcat(buf, "+00", sizeof(buf));
	canonical = strdup(buf);
	result = malloc(sizeof(ClockOverride));
	if (canonical == NULL || result == NULL)
	{
		free(canonical);
		free(result);
		return false;
	}
	free(*newval);
	*newval = canonical;
	result->parsed = true;
	result->value = value;
	*extra = result;
	return true;
}

/*
 * Assign hook: take the value of the check hook (NULL: no override).  Runs
 * also when a SET LOCAL is rolled back, with the old value's extra.
 */
void
dispatch_clock_assign_override(const char *newval, void *extra)
{
	override = (ClockOverride *) extra;
}

/*
 * The current dispatch time: the override if one is set, else the
 * transaction start time (so that one transaction sees one "now").
 */
TimestampTz
dispatch_clock_now(void)
{
	if (override == NULL)
		return GetCurrentTransactionStartTimestamp();
	if (!override->parsed)
	{
		/* a parallel worker: the leader checked the value already */
		if (parse_clock(dispatch_clock_override, &override->value) != CLOCK_OK)
			elog(ERROR, "could not parse dispatch.clock_override \"%s\"",
				 dispatch_clock_override);
		override->parsed = true;
	}
	return override->value;
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

/*
 * t + make_interval(mins => mins, secs => secs), as SQL computes it (the
 * ETA's times, intake's promise and fraud window).
 */
TimestampTz
dispatch_clock_plus(TimestampTz t, int32 mins, float8 secs)
{
	Datum		iv = DirectFunctionCall7(make_interval,
										 Int32GetDatum(0), Int32GetDatum(0), Int32GetDatum(0),
										 Int32GetDatum(0), Int32GetDatum(0), Int32GetDatum(mins),
										 Float8GetDatum(secs));

	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(t), iv));
}
