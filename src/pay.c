/*-------------------------------------------------------------------------
 *
 * pay.c
 *		The delivery fee of a takeaway order: dispatch._delivery_fee, and
 *		dispatch_fee_cents for place_order (intake.c), which charges it at
 *		every order.
 *
 * The fee is the zone's pay model (sql/53_pay.sql, docs/pay.md): its own
 * row of pay_models, else zone 0's; fee_base_cents plus fee_per_km_cents
 * per started km of the distance beyond fee_free_km.  The arithmetic is
 * PostgreSQL's numeric, as the rule was first written in SQL: the real
 * distance and free km become numerics (six significant digits), so a
 * distance that prints as a whole km starts no new one.  The model is read
 * through a plan kept for the session.
 *
 * IDENTIFICATION
 *		src/pay.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "dispatch.h"
#include "match.h"

static SPIPlanPtr model_plan = NULL;

/*
 * The fee of an order of zone zone_id (zone_null: none, zone 0's model)
 * over dist metres; *isnull when there is no pay model at all.  The caller
 * has connected to SPI; SPI's last result is this function's afterwards.
 */
int32
dispatch_fee_cents(int64 zone_id, bool zone_null, float4 dist, bool *isnull)
{
	Oid			t_zone[1] = {INT8OID};
	Datum		arg = Int64GetDatum(zone_id);
	Datum		base,
				per_km,
				free_km,
				km,
				zero;
	bool		n1,
				n2,
				n3;

	if (model_plan == NULL)
		model_plan = match_keep_plan("SELECT p.fee_base_cents, p.fee_per_km_cents, p.fee_free_km"
									 " FROM dispatch.pay_models p"
									 " WHERE p.zone_id OPERATOR(pg_catalog.=) $1"
									 "    OR p.zone_id OPERATOR(pg_catalog.=) 0"
									 " ORDER BY p.zone_id DESC LIMIT 1",
									 1, t_zone);
	match_run_plan(model_plan, &arg, zone_null ? "n" : NULL, true, 1, SPI_OK_SELECT,
				   "reading the pay model");
	*isnull = SPI_processed == 0;
	if (*isnull)
		return 0;
	base = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &n1);
	per_km = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &n2);
	free_km = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &n3);
	if (n1 || n2 || n3)			/* NOT NULL columns */
	{
		*isnull = true;
		return 0;
	}

	/* greatest(dist / 1000 - free_km, 0), started km counted whole */
	km = DirectFunctionCall2(numeric_div,
							 DirectFunctionCall1(float4_numeric, Float4GetDatum(dist)),
							 NumericGetDatum(int64_to_numeric(1000)));
	km = DirectFunctionCall2(numeric_sub, km, DirectFunctionCall1(float4_numeric, free_km));
	zero = NumericGetDatum(int64_to_numeric(0));
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, km, zero)) < 0)
		km = zero;
	km = DirectFunctionCall1(numeric_int4, DirectFunctionCall1(numeric_ceil, km));
	return DatumGetInt32(DirectFunctionCall2(int4pl, base,
											 DirectFunctionCall2(int4mul, per_km, km)));
}

PG_FUNCTION_INFO_V1(dispatch_delivery_fee_of_zone);

/*
 * SQL: dispatch._delivery_fee(p_zone_id bigint, p_distance_m real) -> integer
 *
 * The fee of a takeaway order of the zone over this distance; NULL for a
 * NULL distance or when no pay model exists.
 */
Datum
dispatch_delivery_fee_of_zone(PG_FUNCTION_ARGS)
{
	int32		fee;
	bool		isnull;

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	SPI_connect();
	fee = dispatch_fee_cents(PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0), PG_ARGISNULL(0),
							 PG_GETARG_FLOAT4(1), &isnull);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_INT32(fee);
}
