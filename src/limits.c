/*-------------------------------------------------------------------------
 *
 * limits.c
 *		The input limits of the API: their one table, dispatch.input_limits()
 *		and the check every API function makes, dispatch._check_length();
 *		the check of a point's coordinates, dispatch._check_coordinates();
 *		the fraud check of a drop-off's distance, dispatch._check_distance_m();
 *		and the C form of the rule for a missing required text (_is_blank)
 *		and of the trim of the blanks around a text (_trim_blanks).
 *
 * Every free-text argument of the API and the item list of place_order
 * have a maximum size (sql/25_limits.sql says which and why).  The check
 * runs several times in every call that takes an order, so it is a plain
 * lookup in C rather than a query of the list.  Text is measured in
 * characters of the database encoding (as pg_catalog.length does); a
 * jsonb array in lines (elements).
 *
 * IDENTIFICATION
 *		src/limits.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "dispatch.h"

typedef struct InputLimit
{
	const char *input;
	int			max_length;
	bool		lines;			/* elements of a jsonb array, else characters */
} InputLimit;

/* sorted by name, as input_limits() lists them */
static const InputLimit input_limits[] = {
	{"client_event_id", 100, false},
	{"coupon_code", 64, false},
	{"customer_name", 100, false},
	{"database_name", 63, false},
	{"dispatcher", 100, false},
	{"dropoff_address", 500, false},
	{"errand_description", 2000, false},
	{"feedback_comment", 2000, false},
	{"item_name", 200, false},
	{"items", 100, true},
	{"items_text", 8192, false},
	{"merchant_name", 200, false},
	{"phone", 32, false},
	{"policy_version", 64, false},
	{"provider_ref", 200, false},
	{"reason", 200, false},
	{"rider_name", 100, false},
	{"sync_item", 1024, false},
	{"sync_items", 1000, true},
	{"training_query", 10000, false},
	{"zone_name", 100, false},
};

#define UNIT(l) ((l)->lines ? "lines" : "characters")

static int
cmp_limit(const void *key, const void *elem)
{
	return strcmp((const char *) key, ((const InputLimit *) elem)->input);
}

PG_FUNCTION_INFO_V1(dispatch_input_limits);

/*
 * SQL: dispatch.input_limits() -> table (input text, max_length integer,
 *		unit text)
 */
Datum
dispatch_input_limits(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	size_t		i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < lengthof(input_limits); i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(input_limits[i].input);
		values[1] = Int32GetDatum(input_limits[i].max_length);
		values[2] = CStringGetTextDatum(UNIT(&input_limits[i]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

/* the limit named name; an unknown name is the extension's own bug */
static const InputLimit *
find_limit(const char *name)
{
	const InputLimit *limit = bsearch(name, input_limits, lengthof(input_limits),
									  sizeof(InputLimit), cmp_limit);

	if (limit == NULL)
		elog(ERROR, "no input limit is named \"%s\"", name);
	return limit;
}

/* DP028 when size is past limit */
static void
refuse_past(const InputLimit *limit, int64 size)
{
	if (size > limit->max_length)
		ereport(ERROR,
				errcode(ERRCODE_DP_INPUT_TOO_LONG),
				errmsg("input too long: %s has more than %d %s",
					   limit->input, limit->max_length, UNIT(limit)),
				errdetail("It has " INT64_FORMAT " %s.", size, UNIT(limit)),
				errhint("SELECT * FROM dispatch.input_limits() lists every limit."));
}

/*
 * The check of _check_length, for the API functions written in C: DP028
 * when value (of type type; NULL passes) is past the limit named name.
 */
void
dispatch_check_value_length(const char *name, Datum value, bool isnull, Oid type)
{
	const InputLimit *limit = find_limit(name);
	int64		size;

	if (isnull)
		return;
	if (limit->lines)
	{
		Jsonb	   *j;

		if (type != JSONBOID)
			elog(ERROR, "input limit \"%s\" counts the elements of a jsonb array", name);
		j = DatumGetJsonbP(value);
		if (!JB_ROOT_IS_ARRAY(j) || JB_ROOT_IS_SCALAR(j))
			return;
		size = JB_ROOT_COUNT(j);
	}
	else if (type == TEXTOID || type == VARCHAROID)
	{
		text	   *t = DatumGetTextPP(value);

		size = pg_mbstrlen_with_len(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	else
	{
		Oid			out;
		bool		varlena;

		if (!OidIsValid(type))
			elog(ERROR, "could not determine the type of input \"%s\"", name);
		getTypeOutputInfo(type, &out, &varlena);
		size = pg_mbstrlen(OidOutputFunctionCall(out, value));
	}
	refuse_past(limit, size);
}

/* the same for a text argument (NULL passes) */
void
dispatch_check_text_length(const char *name, text *value)
{
	dispatch_check_value_length(name, PointerGetDatum(value), value == NULL, TEXTOID);
}

/* ASCII white space: space, tab, line feed, carriage return, form feed, vertical tab */
static inline bool
is_blank_char(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/*
 * Whether a required text is missing: NULL, empty, or only ASCII white
 * space (space, tab, line feed, carriage return, form feed, vertical tab).
 * The one rule for every required text of the API: C callers check their
 * arguments with it before they run SQL, and SQL callers through
 * dispatch._is_blank (below).
 */
bool
dispatch_text_is_blank(text *value)
{
	const char *p;
	const char *end;

	if (value == NULL)
		return true;
	p = VARDATA_ANY(value);
	end = p + VARSIZE_ANY_EXHDR(value);
	for (; p < end; p++)
		if (!is_blank_char(*p))
			return false;
	return true;
}

/*
 * value without the blanks around it (the ASCII white space of
 * dispatch_text_is_blank), value itself when it has none: a provider's
 * reference padded by its caller names the same charge (confirm_payment,
 * settle_refund).
 */
text *
dispatch_text_trim_blanks(text *value)
{
	const char *start = VARDATA_ANY(value);
	const char *p = start;
	const char *end = start + VARSIZE_ANY_EXHDR(value);

	while (p < end && is_blank_char(*p))
		p++;
	while (end > p && is_blank_char(end[-1]))
		end--;
	if (p == start && end == start + VARSIZE_ANY_EXHDR(value))
		return value;
	return cstring_to_text_with_len(p, end - p);
}

PG_FUNCTION_INFO_V1(dispatch_trim_blanks);

/*
 * SQL: dispatch._trim_blanks(value text) -> text
 *
 * dispatch_text_trim_blanks for SQL callers.
 */
Datum
dispatch_trim_blanks(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(dispatch_text_trim_blanks(PG_GETARG_TEXT_PP(0)));
}

PG_FUNCTION_INFO_V1(dispatch_is_blank);

/*
 * SQL: dispatch._is_blank(value text) -> boolean
 *
 * dispatch_text_is_blank for SQL callers: NULL is missing too.
 */
Datum
dispatch_is_blank(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_ARGISNULL(0) || dispatch_text_is_blank(PG_GETARG_TEXT_PP(0)));
}

PG_FUNCTION_INFO_V1(dispatch_check_length);

/*
 * SQL: dispatch._check_length(input text, value anyelement) -> void
 *
 * DP028 when value is past the limit named input; NULL passes, and so does
 * a jsonb value that is no array where lines are counted (the caller checks
 * its shape).  An unknown name is the extension's own bug.
 */
Datum
dispatch_check_length(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		elog(ERROR, "an input limit needs a name");
	dispatch_check_value_length(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_DATUM(1),
								PG_ARGISNULL(1), get_fn_expr_argtype(fcinfo->flinfo, 1));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dispatch_check_coordinates);

/*
 * SQL: dispatch._check_coordinates(lon float8, lat float8, what text) -> bool
 *
 * True when both coordinates are given, finite and in range (longitude in
 * [-180, 180], latitude in [-90, 90]); else DP001, naming what the point
 * is and what is wrong with it, not its values (a place).  Not strict: a missing coordinate is refused like a bad one.  The
 * SQL function _check_point builds the point once this returned, and is
 * inlined where it is called (an API call with a point, a location ping).
 */
Datum
dispatch_check_coordinates(PG_FUNCTION_ARGS)
{
	const char *bad = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		bad = "a coordinate is missing";
	else
	{
		float8		lon = PG_GETARG_FLOAT8(0);
		float8		lat = PG_GETARG_FLOAT8(1);

		/* NaN fails every comparison, infinities the ranges */
		bool		lon_ok = lon >= -180.0 && lon <= 180.0;
		bool		lat_ok = lat >= -90.0 && lat <= 90.0;

		if (!lon_ok && !lat_ok)
			bad = "longitude and latitude out of range";
		else if (!lon_ok)
			bad = "longitude out of range";
		else if (!lat_ok)
			bad = "latitude out of range";
	}
	/* the values are not named: a point swapped or mistyped is still a place */
	if (bad)
		ereport(ERROR,
				errcode(ERRCODE_DP_BAD_COORDINATES),
				errmsg("invalid %s coordinates: %s",
					   PG_ARGISNULL(2) ? "<NULL>" : text_to_cstring(PG_GETARG_TEXT_PP(2)), bad),
				errhint("Longitude must lie in [-180, 180] and latitude in [-90, 90], both finite."));
	PG_RETURN_BOOL(true);
}

PG_FUNCTION_INFO_V1(dispatch_check_distance_m);

/*
 * SQL: dispatch._check_distance_m(m real) -> real
 *
 * m, the great-circle metres from the pickup to the drop-off, unless it is
 * above dispatch.fraud_max_distance_m: then DP010, a fraud signal.  The
 * SQL function _check_distance measures the distance and calls this; it
 * is inlined where it is called (place_order at every order, place_errand,
 * delivery_fee's quote).  The words are those of the PL/pgSQL it replaces:
 * the metres as round(m::numeric) prints them, and the real is compared
 * with the setting as a double (the operator real > integer resolves to).
 */
Datum
dispatch_check_distance_m(PG_FUNCTION_ARGS)
{
	float4		m = PG_GETARG_FLOAT4(0);

	if ((float8) m > (float8) dispatch_fraud_max_distance_m)
	{
		Datum		rounded = DirectFunctionCall2(numeric_round,
												  DirectFunctionCall1(float4_numeric, Float4GetDatum(m)),
												  Int32GetDatum(0));

		ereport(ERROR,
				errcode(ERRCODE_DP_FRAUD_DISTANCE),
				errmsg("drop-off is implausibly far from the pickup (%s m)",
					   DatumGetCString(DirectFunctionCall1(numeric_out, rounded))),
				errdetail("The limit is %d m (dispatch.fraud_max_distance_m).",
						  dispatch_fraud_max_distance_m));
	}
	PG_RETURN_FLOAT4(m);
}
