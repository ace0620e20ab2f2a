/*-------------------------------------------------------------------------
 *
 * intake.c
 *		The body of place_order (dispatch._place_order), the customer's
 *		checks of every intake (dispatch._check_customer) and the count of a
 *		campaign's per-customer cap (dispatch._campaign_uses).
 *
 * place_order runs on every order, so its body is a sequence of statements
 * with kept plans rather than PL/pgSQL: the checks in the order the API
 * documents (docs/api.md, "Intake checks"; the first one failing is the one
 * reported), stock taken row by row in item order (so two orders never
 * deadlock on the counts of dispatch.item_stock), then the order, its
 * lines, what it took of an offer and its pending payment written.  What
 * other parts own is called, not repeated: the point and its area
 * (_check_point, _covers, _check_distance), the offer (_offer_take,
 * _offer_record), the fee (dispatch_fee_cents, src/pay.c) and the sealing
 * of the address (pii_seal).  Any failure aborts the call and leaves
 * nothing behind; place_order (src/refusals.c) notes a refusal.  Each
 * statement reads or writes one table besides reference tables (on Citus,
 * one shard of the zone).
 *
 * IDENTIFICATION
 *		src/intake.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/timestamp.h"

#include "dispatch.h"
#include "locks.h"
#include "match.h"

static SPIPlanPtr merchant_plan = NULL;
static SPIPlanPtr point_plan = NULL;
static SPIPlanPtr area_plan = NULL;
static SPIPlanPtr customer_plan = NULL;
static SPIPlanPtr bad_orders_plan = NULL;
static SPIPlanPtr item_plan = NULL;
static SPIPlanPtr take_stock_plan = NULL;
static SPIPlanPtr stock_plan = NULL;
static SPIPlanPtr id_plan = NULL;
static SPIPlanPtr offer_plan = NULL;
static SPIPlanPtr order_plan = NULL;
static SPIPlanPtr lines_plan = NULL;
static SPIPlanPtr record_plan = NULL;
static SPIPlanPtr payment_plan = NULL;
static SPIPlanPtr uses_plan = NULL;

/* the statements that take no geometry */
static void
prepare_plans(void)
{
	Oid			t_id[1] = {INT8OID};
	Oid			t_point[2] = {FLOAT8OID, FLOAT8OID};
	Oid			t_bad[3] = {INT8OID, INT8OID, TIMESTAMPTZOID};
	Oid			t_item[2] = {INT8OID, INT8OID};
	Oid			t_stock[3] = {INT8OID, INT8OID, INT4OID};
	Oid			t_id_now[2] = {INT8OID, TIMESTAMPTZOID};
	Oid			t_offer[7] = {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, INT4OID};
	Oid			t_lines[6] = {INT8OID, INT8OID, INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, BOOLARRAYOID};
	Oid			t_record[9] = {INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, INT4OID, INT4OID,
	INT4OID, JSONBOID};
	Oid			t_payment[4] = {INT8OID, INT8OID, INT4OID, TIMESTAMPTZOID};

	if (payment_plan != NULL)
		return;
	merchant_plan = match_keep_plan(
									"SELECT m.zone_id, m.location, m.prep_minutes, m.is_open, z.area, z.speed_mps"
									" FROM dispatch.merchants m"
									" JOIN dispatch.zones z ON z.zone_id OPERATOR(pg_catalog.=) m.zone_id"
									" WHERE m.merchant_id OPERATOR(pg_catalog.=) $1",
									1, t_id);
	point_plan = match_keep_plan("SELECT dispatch._check_point($1, $2, 'drop-off')", 2, t_point);
	customer_plan = match_keep_plan(
									"SELECT c.flagged, c.forgotten_at IS NOT NULL FROM dispatch.customers c"
									" WHERE c.customer_id OPERATOR(pg_catalog.=) $1",
									1, t_id);
	bad_orders_plan = match_keep_plan(
									  "SELECT pg_catalog.count(*) FROM dispatch.orders o"
									  " WHERE o.zone_id OPERATOR(pg_catalog.=) $1"
									  "   AND o.customer_id OPERATOR(pg_catalog.=) $2"
									  "   AND o.created_at OPERATOR(pg_catalog.>) $3"
									  "   AND o.status OPERATOR(pg_catalog.=) ANY"
									  "       ('{pending_payment,payment_failed,cancelled}'::pg_catalog.text[])",
									  3, t_bad);
	item_plan = match_keep_plan(
								"SELECT i.merchant_id, i.available, s.stock, i.price_cents FROM dispatch.items i"
								" LEFT JOIN dispatch.item_stock s ON s.zone_id OPERATOR(pg_catalog.=) $2"
								"  AND s.item_id OPERATOR(pg_catalog.=) i.item_id"
								" WHERE i.item_id OPERATOR(pg_catalog.=) $1",
								2, t_item);
	take_stock_plan = match_keep_plan(
									  "UPDATE dispatch.item_stock s SET stock = s.stock OPERATOR(pg_catalog.-) $3"
									  " WHERE s.zone_id OPERATOR(pg_catalog.=) $2 AND s.item_id OPERATOR(pg_catalog.=) $1"
									  "   AND s.stock OPERATOR(pg_catalog.>=) $3",
									  3, t_stock);
	stock_plan = match_keep_plan("SELECT s.stock FROM dispatch.item_stock s"
								 " WHERE s.zone_id OPERATOR(pg_catalog.=) $2 AND s.item_id OPERATOR(pg_catalog.=) $1",
								 2, t_item);
	/*
	 * The order's id and whether an offer applies without a code; then,
	 * when there is a code, points or such an offer, what the order takes.
	 */
	id_plan = match_keep_plan(
							  "SELECT dispatch.zone_scoped_id($1, pg_catalog.nextval('dispatch.orders_id_seq')),"
							  " EXISTS (SELECT FROM dispatch.campaigns c"
							  "         WHERE dispatch._offer_is_automatic(c.kind, c.rules, c.zone_id, c.starts_at,"
							  "                                            c.ends_at, c.ended_at, $1, $2))",
							  2, t_id_now);
	offer_plan = match_keep_plan(
								 "SELECT t.campaign_id, t.coupon_code, t.discount_cents, t.points_spent,"
								 "  t.points_cents, t.points_lots"
								 " FROM dispatch._offer_take($1, $2, $3, $4, $5, $6, $7) t",
								 7, t_offer);
	lines_plan = match_keep_plan(
								 "INSERT INTO dispatch.order_items (zone_id, order_id, item_id, qty, price_cents,"
								 "                                  stock_taken)"
								 " SELECT $1, $2, l.item_id, l.qty, l.price_cents, l.stock_taken"
								 " FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4),"
								 "                 pg_catalog.unnest($5), pg_catalog.unnest($6))"
								 "      l(item_id, qty, price_cents, stock_taken)",
								 6, t_lines);
	record_plan = match_keep_plan("SELECT dispatch._offer_record($1, $2, $3, $4, $5, $6, $7, $8, $9)",
								  9, t_record);
	payment_plan = match_keep_plan(
								   "INSERT INTO dispatch.payments (zone_id, payment_id, order_id, amount_cents, created_at)"
								   " VALUES ($1, dispatch.zone_scoped_id($1, pg_catalog.nextval('dispatch.payments_id_seq')),"
								   "         $2, $3, $4)",
								   4, t_payment);
}

/* the statements that take geometry, of PostGIS's type point_type */
static void
prepare_geometry_plans(Oid point_type)
{
	Oid			t_area[3] = {point_type, point_type, point_type};
	Oid			t_order[17] = {INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, point_type, point_type,
		TEXTOID, FLOAT4OID, INT4OID, INT4OID, INT4OID, INT4OID, TEXTOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, TIMESTAMPTZOID};

	if (order_plan != NULL)
		return;
	/* DP010 (_check_distance) only for a drop-off inside the area (DP002 first) */
	area_plan = match_keep_plan(
								"SELECT s.covered, CASE WHEN s.covered THEN dispatch._check_distance($3, $2) END"
								" FROM (SELECT dispatch._covers($1, $2) AS covered OFFSET 0) s",
								3, t_area);
	order_plan = match_keep_plan(
								 "INSERT INTO dispatch.orders"
								 " (zone_id, order_id, kind, customer_id, merchant_id, status, priority, pickup, dropoff,"
								 "  dropoff_address_enc, distance_m, subtotal_cents, fee_cents, discount_cents, total_cents,"
								 "  coupon_code, promised_at, created_at, status_changed_at)"
								 " VALUES ($1, $2, 'takeaway', $3, $4, 'pending_payment', $5, $6, $7,"
								 "  dispatch.pii_seal('customer', $3, $8), $9, $10, $11, $12, $13, $14, $15, $16, $17)",
								 17, t_order);
}

/* the value of column col of the last row SPI returned; isnull set */
static Datum
spi_value(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

/*
 * The count plan returns (one row, one bigint) for args, run after the
 * customer's intake lock so that it counts what the intakes of the customer
 * before this one committed.  In read committed a statement after the lock
 * sees them; a transaction snapshot (repeatable read, serializable) is older
 * than the wait for the lock, or than an intake that committed before it was
 * asked for, and would miss them: two orders would both pass a limit.  There
 * the count reads the latest snapshot, as a foreign key check does.
 * read_only as the caller's volatility asks.  The caller has connected to SPI.
 */
static int64
count_after_intake_lock(SPIPlanPtr plan, Datum *args, bool read_only, const char *what)
{
	bool		isnull;

	match_run_plan_after_lock(plan, args, read_only, 1, what);
	if (SPI_processed != 1)
		elog(ERROR, "%s returned " UINT64_FORMAT " rows", what, SPI_processed);
	return DatumGetInt64(spi_value(1, &isnull));
}

/*
 * The customer may order in the zone: it exists, is not flagged, and has
 * fewer than dispatch.fraud_max_bad_orders unpaid or cancelled orders in
 * the zone within dispatch.fraud_window_minutes.  customer_text names it in
 * messages; read_only as the caller's volatility asks (a read-only caller
 * has taken the customer's locks itself, in a statement before this one, so
 * that its snapshot sees what an intake before it committed; a transaction
 * snapshot is older, and the count reads past it, count_after_intake_lock).
 * The caller has connected to SPI.
 */
static void
check_customer(bool has_customer, int64 customer_id, const char *customer_text, int64 zone_id,
			   bool read_only)
{
	Datum		args[3];
	bool		isnull;
	bool		flagged;
	bool		forgotten;
	int64		bad;

	prepare_plans();
	if (!has_customer)
		ereport(ERROR,
				errcode(ERRCODE_DP_CUSTOMER_UNKNOWN),
				errmsg("customer %s does not exist", customer_text));
	/*
	 * An order being written holds the customer's lock (shared) from before
	 * it reads the customer: an erasure committed first is seen below, one
	 * that comes later waits for the order (and then finds it active).
	 * Sealing the address takes the same lock; an order without one needs
	 * it as much.  Then the customer's intake lock (on Citus first on the
	 * zone's worker, dispatch_lock_intake_in_zone), before the count below
	 * and before any row of the order: an order or errand of the customer
	 * placed meanwhile is counted once it commits, or, rolled back, not at
	 * all, so that two at once cannot both pass the limit (locks.h).  An
	 * errand takes both in SQL before it calls this read-only.
	 */
	if (!read_only)
	{
		dispatch_lock_customer(customer_id, false);
		dispatch_lock_intake_in_zone(zone_id, customer_id);
	}
	args[0] = Int64GetDatum(customer_id);
	match_run_plan(customer_plan, args, NULL, read_only, 1, SPI_OK_SELECT, "reading the customer");
	if (SPI_processed == 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_CUSTOMER_UNKNOWN),
				errmsg("customer %s does not exist", customer_text));
	flagged = DatumGetBool(spi_value(1, &isnull)) && !isnull;
	forgotten = DatumGetBool(spi_value(2, &isnull));
	if (forgotten)
		ereport(ERROR,
				errcode(ERRCODE_DP_CUSTOMER_UNKNOWN),
				errmsg("customer %s does not exist", customer_text));
	if (flagged)
		ereport(ERROR,
				errcode(ERRCODE_DP_FRAUD_FLAGGED),
				errmsg("customer %s is flagged for review and cannot order", customer_text),
				errhint("A dispatcher can lift the flag with unflag_customer(id, by, reason)."));

	args[0] = Int64GetDatum(zone_id);
	args[1] = Int64GetDatum(customer_id);
	args[2] = TimestampTzGetDatum(dispatch_clock_plus(dispatch_clock_now(),
													  -dispatch_fraud_window_minutes, 0.0));
	bad = count_after_intake_lock(bad_orders_plan, args, read_only,
								  "counting the customer's unpaid and cancelled orders");
	if (bad >= dispatch_fraud_max_bad_orders)
		ereport(ERROR,
				errcode(ERRCODE_DP_FRAUD_BAD_ORDERS),
				errmsg("customer %s has too many unpaid or cancelled orders", customer_text),
				errdetail(INT64_FORMAT " such orders in the last %d minutes.",
						  bad, dispatch_fraud_window_minutes),
				errhint("Pay or cancel the open orders first."));
}

PG_FUNCTION_INFO_V1(dispatch_check_customer);

/*
 * SQL: dispatch._check_customer(p_customer_id bigint, p_zone_id bigint)
 * -> void
 *
 * check_customer above, for place_errand (STABLE: it reads with the
 * calling statement's snapshot).
 */
Datum
dispatch_check_customer(PG_FUNCTION_ARGS)
{
	SPI_connect();
	check_customer(!PG_ARGISNULL(0), PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0), dispatch_id_arg_text(fcinfo, 0),
				   PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1), true);
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dispatch_campaign_uses);

/*
 * SQL: dispatch._campaign_uses(p_campaign_id bigint, p_customer_id bigint)
 * -> bigint
 *
 * The discounts of a campaign the customer's orders hold (redemptions
 * applied), for the cap's check of an intake (_offer_cap_check), which
 * holds the customer's intake and offers locks: it counts what an order of
 * the customer placed before committed, even from a transaction snapshot
 * (count_after_intake_lock).
 */
Datum
dispatch_campaign_uses(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2];
	int64		uses;

	SPI_connect();
	if (uses_plan == NULL)
		uses_plan = match_keep_plan("SELECT pg_catalog.count(*) FROM dispatch.redemptions r"
									" WHERE r.campaign_id OPERATOR(pg_catalog.=) $1"
									"   AND r.customer_id OPERATOR(pg_catalog.=) $2"
									"   AND r.status OPERATOR(pg_catalog.=) 'applied'",
									2, types);
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_GETARG_DATUM(1);
	uses = count_after_intake_lock(uses_plan, args, false,
								   "counting the customer's discounts of a campaign");
	SPI_finish();
	PG_RETURN_INT64(uses);
}

/* an integer result of SQL arithmetic, refused as SQL refuses it */
static int32
to_int32(int64 v)
{
	if (v < PG_INT32_MIN || v > PG_INT32_MAX)
		ereport(ERROR,
				errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				errmsg("integer out of range"));
	return (int32) v;
}

PG_FUNCTION_INFO_V1(dispatch_place_order_body);

/*
 * SQL: dispatch._place_order(p_zone bigint, customer_id bigint,
 * merchant_id bigint, items jsonb, dropoff_lon float8, dropoff_lat float8,
 * dropoff_address text, priority text, coupon_code text, spend_points
 * integer) -> bigint
 *
 * The body of place_order (p_zone NULL: the merchant's zone) and
 * place_order_in_zone (p_zone the merchant's zone, DP013 otherwise).
 */
Datum
dispatch_place_order_body(PG_FUNCTION_ARGS)
{
	bool		has_customer = !PG_ARGISNULL(1);
	int64		customer_id = has_customer ? PG_GETARG_INT64(1) : 0;
	int64		merchant_id = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2);
	Jsonb	   *items = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	text	   *address = PG_ARGISNULL(6) ? NULL : PG_GETARG_TEXT_PP(6);
	char	   *priority = PG_ARGISNULL(7) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(7));
	text	   *coupon_code = PG_ARGISNULL(8) ? NULL : PG_GETARG_TEXT_PP(8);
	int32		spend_points = PG_ARGISNULL(9) ? 0 : PG_GETARG_INT32(9);
	TimestampTz now = dispatch_clock_now();
	Datum		args[17];
	char		nulls[17];
	bool		isnull;
	bool		found;
	bool		elsewhere = false;
	int64		zone_id = 0;
	bool		has_zone;
	Datum		pickup = 0;
	Datum		area = 0;
	Datum		drop;
	Oid			point_type = InvalidOid;
	int32		prep = 0;
	bool		is_open = false;
	float4		speed = 0;
	float4		dist;
	int64	   *item_ids;
	int32	   *qtys;
	int32	   *prices;
	int			nlines;
	Datum	   *taken;
	int64		subtotal = 0;
	int64		order_id;
	int32		discount,
				points_cents,
				points_spent,
				fee;
	int64		total;
	Datum		campaign_id,
				offer_code,
				points_lots;
	bool		fee_null;
	bool		offered;
	bool		campaign_null,
				code_null,
				lots_null;

	SPI_connect();
	prepare_plans();
	memset(nulls, ' ', sizeof(nulls));

	/*
	 * The merchant first, so that a refusal is noted with its zone; a
	 * missing merchant is refused below, in turn.  A zone given must be the
	 * merchant's: the call runs where that zone's orders are, and a
	 * merchant never moves zone.
	 */
	found = false;
	if (!PG_ARGISNULL(2))
	{
		args[0] = Int64GetDatum(merchant_id);
		match_run_plan(merchant_plan, args, NULL, false, 1, SPI_OK_SELECT, "reading the merchant");
		found = SPI_processed == 1;
	}
	has_zone = found;
	if (found)
	{
		zone_id = DatumGetInt64(spi_value(1, &isnull));
		pickup = spi_value(2, &isnull);
		point_type = SPI_gettypeid(SPI_tuptable->tupdesc, 2);
		prep = DatumGetInt32(spi_value(3, &isnull));
		is_open = DatumGetBool(spi_value(4, &isnull));
		area = spi_value(5, &isnull);
		speed = DatumGetFloat4(spi_value(6, &isnull));
	}
	if (!PG_ARGISNULL(0) && (!found || zone_id != PG_GETARG_INT64(0)))
	{
		elsewhere = found;
		found = false;
		zone_id = PG_GETARG_INT64(0);
		has_zone = true;
	}
	dispatch_refusal_set_zone(has_zone ? zone_id : 0);

	args[0] = PG_GETARG_DATUM(4);
	nulls[0] = PG_ARGISNULL(4) ? 'n' : ' ';
	args[1] = PG_GETARG_DATUM(5);
	nulls[1] = PG_ARGISNULL(5) ? 'n' : ' ';
	match_run_plan(point_plan, args, nulls, false, 1, SPI_OK_SELECT, "building the drop-off point");
	drop = spi_value(1, &isnull);
	nulls[0] = nulls[1] = ' ';

	if (priority == NULL ||
		(strcmp(priority, "normal") != 0 && strcmp(priority, "hot") != 0 &&
		 strcmp(priority, "fresh") != 0))
		ereport(ERROR,
				errcode(ERRCODE_DP_PRIORITY_UNKNOWN),
				errmsg("invalid priority \"%s\"", priority ? priority : "<NULL>"),
				errhint("Priorities are normal, hot and fresh."));
	if (!has_customer)
		ereport(ERROR,
				errcode(ERRCODE_DP_CUSTOMER_UNKNOWN),
				errmsg("an order needs a customer"));
	/* the sizes: every text, and the item list's text and lines */
	dispatch_check_text_length("dropoff_address", address);
	dispatch_check_text_length("coupon_code", coupon_code);
	dispatch_check_value_length("items_text", PointerGetDatum(items), items == NULL, JSONBOID);
	dispatch_check_value_length("items", PointerGetDatum(items), items == NULL, JSONBOID);

	if (elsewhere)
		ereport(ERROR,
				errcode(ERRCODE_DP_MERCHANT_UNKNOWN),
				errmsg("merchant %s does not exist in zone %s", dispatch_id_arg_text(fcinfo, 2), dispatch_id_arg_text(fcinfo, 0)),
				errhint("A merchant stays in the zone it was created in."));
	if (!found)
		ereport(ERROR,
				errcode(ERRCODE_DP_MERCHANT_UNKNOWN),
				errmsg("merchant %s does not exist", dispatch_id_arg_text(fcinfo, 2)));
	if (!is_open)
		ereport(ERROR,
				errcode(ERRCODE_DP_MERCHANT_CLOSED),
				errmsg("merchant " INT64_FORMAT " is closed", merchant_id));

	prepare_geometry_plans(point_type);
	args[0] = area;
	args[1] = drop;
	args[2] = pickup;
	match_run_plan(area_plan, args, NULL, false, 1, SPI_OK_SELECT, "placing the drop-off in the zone");
	if (!DatumGetBool(spi_value(1, &isnull)))
		ereport(ERROR,
				errcode(ERRCODE_DP_OUTSIDE_SERVICE_AREA),
				errmsg("drop-off lies outside the service area of zone " INT64_FORMAT, zone_id));
	dist = DatumGetFloat4(spi_value(2, &isnull));

	/*
	 * items: a non-empty array of flat {"item_id": n, "qty": n} (its lines
	 * counted above); repeated ids are summed
	 */
	nlines = dispatch_order_lines_of(items, dispatch_max_item_qty, &item_ids, &qtys);

	check_customer(true, customer_id, dispatch_id_arg_text(fcinfo, 1), zone_id, false);

	/*
	 * Take stock, in item order.  Items with unlimited stock have no count
	 * and are only read: locking a row would serialise every order of a
	 * popular dish.  The count is the zone's (the merchant's), on Citus on
	 * the zone's worker: the menu, a reference table, is only read.
	 */
	prices = palloc(sizeof(int32) * nlines);
	taken = palloc(sizeof(Datum) * nlines);
	for (int i = 0; i < nlines; i++)
	{
		int64		item_merchant;
		bool		available;
		bool		stock_null;
		int32		stock;

		args[0] = Int64GetDatum(item_ids[i]);
		args[1] = Int64GetDatum(zone_id);
		match_run_plan(item_plan, args, NULL, false, 1, SPI_OK_SELECT, "reading an item");
		if (SPI_processed == 0)
			ereport(ERROR,
					errcode(ERRCODE_DP_ITEM_UNKNOWN),
					errmsg("item " INT64_FORMAT " does not exist", item_ids[i]));
		item_merchant = DatumGetInt64(spi_value(1, &isnull));
		available = DatumGetBool(spi_value(2, &isnull));
		stock = DatumGetInt32(spi_value(3, &stock_null));
		prices[i] = DatumGetInt32(spi_value(4, &isnull));
		taken[i] = BoolGetDatum(false);
		if (item_merchant != merchant_id)
			ereport(ERROR,
					errcode(ERRCODE_DP_ITEM_OF_OTHER_MERCHANT),
					errmsg("item " INT64_FORMAT " is not sold by merchant " INT64_FORMAT,
						   item_ids[i], merchant_id));
		if (available && !stock_null)
		{
			args[2] = Int32GetDatum(qtys[i]);
			match_run_plan(take_stock_plan, args, NULL, false, 1, SPI_OK_UPDATE, "taking stock");
			if (SPI_processed == 1)
				taken[i] = BoolGetDatum(true);
			else
			{
				/* too little left; no row: made unlimited meanwhile */
				match_run_plan(stock_plan, args, NULL, false, 1, SPI_OK_SELECT, "reading the stock of an item");
				if (SPI_processed == 1)
				{
					stock = DatumGetInt32(spi_value(1, &stock_null));
					available = false;
				}
			}
		}
		if (!available)
			ereport(ERROR,
					errcode(ERRCODE_DP_ITEM_UNAVAILABLE),
					errmsg("item " INT64_FORMAT " is out of stock", item_ids[i]),
					errdetail("Asked for %d, %d left.", qtys[i], stock_null ? 0 : stock));
		subtotal += (int64) prices[i] * qtys[i];
	}
	if (subtotal > dispatch_max_order_cents)
		ereport(ERROR,
				errcode(ERRCODE_DP_AMOUNT_OUT_OF_RANGE),
				errmsg("order amount " INT64_FORMAT " cents exceeds the limit", subtotal),
				errdetail("The limit is %d cents (dispatch.max_order_cents).",
						  dispatch_max_order_cents));

	/*
	 * The order's id and the delivery fee of the zone's pay model
	 * (sql/53_pay.sql); then at most one offer (a code's, or the best
	 * automatic one) and the points asked for, against their budgets
	 * (sql/52_campaigns.sql): an unusable code or too many points is an
	 * error that takes the stock back with the rest.  Without a code, points
	 * or an automatic offer, the order takes nothing.
	 */
	args[0] = Int64GetDatum(zone_id);
	args[1] = TimestampTzGetDatum(now);
	match_run_plan(id_plan, args, NULL, false, 1, SPI_OK_SELECT, "numbering the order");
	order_id = DatumGetInt64(spi_value(1, &isnull));
	offered = coupon_code != NULL || spend_points != 0 || DatumGetBool(spi_value(2, &isnull));
	fee = dispatch_fee_cents(zone_id, false, dist, &fee_null);
	campaign_id = offer_code = points_lots = (Datum) 0;
	campaign_null = code_null = lots_null = true;
	discount = points_spent = points_cents = 0;
	if (offered)
	{
		args[0] = Int64GetDatum(order_id);
		args[1] = Int64GetDatum(customer_id);
		args[2] = Int64GetDatum(zone_id);
		args[3] = Int64GetDatum(merchant_id);
		args[4] = Int64GetDatum(subtotal);
		args[5] = PointerGetDatum(coupon_code);
		nulls[5] = coupon_code ? ' ' : 'n';
		args[6] = Int32GetDatum(spend_points);
		match_run_plan(offer_plan, args, nulls, false, 1, SPI_OK_SELECT, "taking the order's offer");
		nulls[5] = ' ';
		campaign_id = spi_value(1, &campaign_null);
		offer_code = spi_value(2, &code_null);
		discount = DatumGetInt32(spi_value(3, &isnull));
		points_spent = DatumGetInt32(spi_value(4, &isnull));
		points_cents = DatumGetInt32(spi_value(5, &isnull));
		points_lots = spi_value(6, &lots_null);
	}
	/*
	 * Discounts and points come off the basket and the fee together; what
	 * the customer pays is held to the limit as the basket is (a fee can
	 * take a basket under it over it, past the range of integer even).
	 */
	total = subtotal + fee - discount - points_cents;
	if (total > dispatch_max_order_cents)
		ereport(ERROR,
				errcode(ERRCODE_DP_AMOUNT_OUT_OF_RANGE),
				errmsg("order total " INT64_FORMAT " cents exceeds the limit", total),
				errdetail("The total is " INT64_FORMAT " cents of items and %d cents of delivery, less " INT64_FORMAT " cents of discount and points; the limit is %d cents (dispatch.max_order_cents).",
						  subtotal, fee, (int64) discount + points_cents, dispatch_max_order_cents));

	args[0] = Int64GetDatum(zone_id);
	args[1] = Int64GetDatum(order_id);
	args[2] = Int64GetDatum(customer_id);
	args[3] = Int64GetDatum(merchant_id);
	args[4] = CStringGetTextDatum(priority);
	args[5] = pickup;
	args[6] = drop;
	args[7] = PointerGetDatum(address);
	nulls[7] = address ? ' ' : 'n';
	args[8] = Float4GetDatum(dist);
	args[9] = Int32GetDatum(to_int32(subtotal));
	/* no pay model: no fee, refused as NOT NULL */
	args[10] = Int32GetDatum(fee);
	nulls[10] = fee_null ? 'n' : ' ';
	args[11] = Int32GetDatum(to_int32((int64) discount + points_cents));
	args[12] = Int32GetDatum(to_int32(total));
	nulls[12] = fee_null ? 'n' : ' ';
	args[13] = offer_code;
	nulls[13] = code_null ? 'n' : ' ';
	args[14] = TimestampTzGetDatum(dispatch_clock_plus(now, to_int32((int64) prep + 10),
													   (float8) float4_div(dist, speed)));
	args[15] = TimestampTzGetDatum(now);
	args[16] = TimestampTzGetDatum(now);
	match_run_plan(order_plan, args, nulls, false, 0, SPI_OK_INSERT, "writing the order");
	memset(nulls, ' ', sizeof(nulls));

	/*
	 * The lines at the prices charged above (the catalogue is not read
	 * again: a price changed meanwhile would not be the one charged), each
	 * saying whether it took stock, which a cancellation gives back.
	 */
	args[2] = dispatch_int8_array(item_ids, nlines);
	args[3] = dispatch_int4_array(qtys, nlines);
	args[4] = dispatch_int4_array(prices, nlines);
	args[5] = PointerGetDatum(construct_array(taken, nlines, BOOLOID, 1, true, TYPALIGN_CHAR));
	match_run_plan(lines_plan, args, NULL, false, 0, SPI_OK_INSERT, "writing the order's lines");

	/* what the order took, once it exists; an order offered nothing took nothing */
	if (offered)
	{
		args[2] = Int64GetDatum(customer_id);
		args[3] = campaign_id;
		nulls[3] = campaign_null ? 'n' : ' ';
		args[4] = offer_code;
		nulls[4] = code_null ? 'n' : ' ';
		args[5] = Int32GetDatum(discount);
		args[6] = Int32GetDatum(points_spent);
		args[7] = Int32GetDatum(points_cents);
		args[8] = points_lots;
		nulls[8] = lots_null ? 'n' : ' ';
		match_run_plan(record_plan, args, nulls, false, 1, SPI_OK_SELECT, "recording the order's offer");
	}

	args[2] = Int32GetDatum(to_int32(total));
	args[3] = TimestampTzGetDatum(now);
	match_run_plan(payment_plan, args, NULL, false, 0, SPI_OK_INSERT, "writing the order's payment");

	SPI_finish();
	PG_RETURN_INT64(order_id);
}
