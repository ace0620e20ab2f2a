/*-------------------------------------------------------------------------
 *
 * dispatch.c
 *		The settings (GUCs) of the dispatch extension, defined when the
 *		module loads (init.c), and the helpers every part shares (a row's
 *		column by name, whether Citus is installed).
 *
 * Every dispatch.* setting is defined here and nowhere else; the files
 * that use one read its variable (dispatch.h), and the SQL parts read the
 * integer ones through dispatch._setting_int().  docs/api.md lists them,
 * and test/tap/settings.t checks that list against pg_settings.  No key
 * is read at load time: a backend that never touches personal data never
 * reads the key file.
 *
 * IDENTIFICATION
 *		src/dispatch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "dispatch.h"

char	   *dispatch_clock_override = NULL;
char	   *dispatch_master_key_file = NULL;
int			dispatch_notify_mode = DISPATCH_NOTIFY_RELAY;
char	   *dispatch_relay_databases = NULL;
int			dispatch_relay_round_ms = 1;
int			dispatch_fraud_window_minutes = 60;
int			dispatch_fraud_max_bad_orders = 5;
int			dispatch_fraud_max_distance_m = 30000;
int			dispatch_fraud_refusal_window_minutes = 60;
int			dispatch_fraud_max_refusals = 10;
int			dispatch_refusal_ring_size = 4096;
int			dispatch_max_order_cents = 10000000;
int			dispatch_max_item_qty = 99;
int			dispatch_eta_coverage_percent = 90;
int			dispatch_eta_min_samples = 30;
int			dispatch_eta_learn_days = 28;
int			dispatch_demand_cell_m = 300;
int			dispatch_privacy_request_days = 30;
int			dispatch_unpaid_order_minutes = 1440;
int			dispatch_cipher = DISPATCH_CIPHER_PGP;

static const struct config_enum_entry cipher_options[] = {
	{"pgp", DISPATCH_CIPHER_PGP, false},
	{"none", DISPATCH_CIPHER_NONE, false},
	{NULL, 0, false}
};

/* on, true, off, false: the values of the boolean this setting once was */
static const struct config_enum_entry notify_options[] = {
	{"commit", DISPATCH_NOTIFY_COMMIT, false},
	{"relay", DISPATCH_NOTIFY_RELAY, false},
	{"off", DISPATCH_NOTIFY_OFF, false},
	{"on", DISPATCH_NOTIFY_COMMIT, true},
	{"true", DISPATCH_NOTIFY_COMMIT, true},
	{"false", DISPATCH_NOTIFY_OFF, true},
	{NULL, 0, false}
};

static bool check_cipher(int *newval, void **extra, GucSource source);

/*
 * dispatch.cipher = none stores personal data unencrypted (benchmarks
 * only), so it is taken only from the server's configuration file
 * (postgresql.conf, ALTER SYSTEM), whose change its administrator makes and
 * sees: never from a role's or database's settings, a client's startup
 * options, SET or a function's SET clause, where one superuser's setting
 * could leave a role's next customers unencrypted unnoticed.  pgp may be
 * set anywhere.
 */
static bool
check_cipher(int *newval, void **extra, GucSource source)
{
	if (*newval != DISPATCH_CIPHER_NONE || source <= PGC_S_FILE)
		return true;
	GUC_check_errcode(ERRCODE_CANT_CHANGE_RUNTIME_PARAM);
	GUC_check_errmsg("dispatch.cipher can be set to none only in the server's configuration file");
	GUC_check_errdetail("none stores personal data unencrypted; it exists to measure what encryption costs.");
	return false;
}

/*
 * Define the settings; init.c's _PG_init calls it first, before any part
 * prepares itself.
 */
void
dispatch_define_settings(void)
{
	DefineCustomStringVariable("dispatch.clock_override",
							   "Time that dispatch.clock() returns instead of now().",
							   "Empty means the real transaction time.  Tests and the city "
							   "simulator set it to replay a day.  Superuser only: the clock "
							   "decides fraud windows, offer expiry and retention.",
							   &dispatch_clock_override,
							   "",
							   PGC_SUSET,
							   0,
							   dispatch_clock_check_override,
							   dispatch_clock_assign_override,
							   NULL);

	DefineCustomStringVariable("dispatch.master_key_file",
							   "File that holds the master key for personal data.",
							   "Only the server's operating-system user should be able to read it.",
							   &dispatch_master_key_file,
							   "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);

	DefineCustomEnumVariable("dispatch.notify",
							 "Who sends NOTIFY dispatch_events for an event: commit, relay or off.",
							 "commit: the writing transaction, at its commit; relay: the relay "
							 "background worker, after the commit (commit where no relay serves "
							 "the database); off: nobody.  The outbox row is written either way.",
							 &dispatch_notify_mode,
							 DISPATCH_NOTIFY_RELAY,
							 notify_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.fraud_window_minutes",
							"Window in which a customer's unpaid and cancelled orders are counted.",
							NULL,
							&dispatch_fraud_window_minutes,
							60, 1, 7 * 24 * 60,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.fraud_max_bad_orders",
							"Unpaid or cancelled orders within the window after which a customer's next order is refused.",
							NULL,
							&dispatch_fraud_max_bad_orders,
							5, 1, 1000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.fraud_max_distance_m",
							"Longest plausible distance in metres between a merchant and an order's drop-off.",
							NULL,
							&dispatch_fraud_max_distance_m,
							30000, 100, 1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.fraud_refusal_window_minutes",
							"Window in which a customer's refused intake attempts are counted for the automatic flag.",
							NULL,
							&dispatch_fraud_refusal_window_minutes,
							60, 1, 7 * 24 * 60,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.fraud_max_refusals",
							"Refused intake attempts within the window at which flush_refusals() flags a customer.",
							"Attempts refused for the merchant's sake (closed, out of stock), of an unknown "
							"customer or of one flagged already do not count (docs/operations.md).",
							&dispatch_fraud_max_refusals,
							10, 1, 1000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.max_order_cents",
							"Largest amount in cents that one order or errand may carry.",
							NULL,
							&dispatch_max_order_cents,
							10000000, 1, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.max_item_qty",
							"Largest quantity of one item in one order.",
							NULL,
							&dispatch_max_item_qty,
							99, 1, 100000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.eta_coverage_percent",
							"Share of deliveries, in percent, that ETA windows are sized to hold.",
							NULL,
							&dispatch_eta_coverage_percent,
							90, 50, 99,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.eta_min_samples",
							"Deliveries a zone needs before its learned ETA calibration is used; also the weight of the configured speed in learned speeds.",
							NULL,
							&dispatch_eta_min_samples,
							30, 1, 100000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.eta_learn_days",
							"Days of deliveries that speeds and ETA calibration are learned from.",
							NULL,
							&dispatch_eta_learn_days,
							28, 1, 366,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.demand_cell_m",
							"Side in metres of the hexagon cells of demand (demand_heatmap, forecast_demand, reposition_hints).",
							NULL,
							&dispatch_demand_cell_m,
							300, 50, 5000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.privacy_request_days",
							"Days within which a data subject's request is due (receive_privacy_request).",
							NULL,
							&dispatch_privacy_request_days,
							30, 1, 90,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dispatch.unpaid_order_minutes",
							"Minutes an order may wait for its payment before the purge cancels it.",
							"An order pending its payment, or whose payment failed, that long "
							"(since its last change) is cancelled by purge_expired_step, so that "
							"the retention of its personal data starts (docs/operations.md).",
							&dispatch_unpaid_order_minutes,
							1440, 15, 30 * 24 * 60,
							PGC_SUSET,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("dispatch.cipher",
							 "How personal fields are sealed: pgp, or none for benchmarks only.",
							 "none stores personal data unencrypted and exists only to measure "
							 "the cost of encryption; never use it with real data.  none is "
							 "taken only from the server's configuration file.",
							 &dispatch_cipher,
							 DISPATCH_CIPHER_PGP,
							 cipher_options,
							 PGC_SUSET,
							 GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							 check_cipher, NULL, NULL);

	DefineCustomIntVariable("dispatch.relay_round_ms",
							"Least time between the starts of two rounds of the relay, in milliseconds.",
							"Commits within it share one round (one transaction of the relay); "
							"0: a round for every wake-up.",
							&dispatch_relay_round_ms,
							1, 0, 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * The settings that size shared memory or start workers exist only
	 * when the postmaster loads the module: defined later, a value in the
	 * configuration file would be fatal for the session (PostgreSQL allows
	 * no PGC_POSTMASTER setting to be created after startup).
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("dispatch.refusal_ring_size",
								"Refused intake attempts the shared-memory ring holds between two flushes.",
								"Takes effect when dispatch is in shared_preload_libraries; older entries "
								"are overwritten and counted as lost by flush_refusals().",
								&dispatch_refusal_ring_size,
								4096, 16, 1048576,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

		DefineCustomStringVariable("dispatch.relay_databases",
								   "Databases in which a relay sends the notifications of events (comma-separated).",
								   "Takes effect when dispatch is in shared_preload_libraries: one "
								   "relay background worker per database; empty: none.",
								   &dispatch_relay_databases,
								   "postgres",
								   PGC_POSTMASTER,
								   GUC_LIST_INPUT,
								   NULL, NULL, NULL);
	}

	MarkGUCPrefixReserved("dispatch");
}

/* The integer settings that the SQL parts read, by name. */
typedef struct IntSetting
{
	const char *name;
	const int  *value;
} IntSetting;

static const IntSetting int_settings[] = {
	{"dispatch.fraud_window_minutes", &dispatch_fraud_window_minutes},
	{"dispatch.fraud_max_bad_orders", &dispatch_fraud_max_bad_orders},
	{"dispatch.fraud_max_distance_m", &dispatch_fraud_max_distance_m},
	{"dispatch.fraud_refusal_window_minutes", &dispatch_fraud_refusal_window_minutes},
	{"dispatch.fraud_max_refusals", &dispatch_fraud_max_refusals},
	{"dispatch.max_order_cents", &dispatch_max_order_cents},
	{"dispatch.max_item_qty", &dispatch_max_item_qty},
	{"dispatch.eta_coverage_percent", &dispatch_eta_coverage_percent},
	{"dispatch.eta_min_samples", &dispatch_eta_min_samples},
	{"dispatch.eta_learn_days", &dispatch_eta_learn_days},
	{"dispatch.demand_cell_m", &dispatch_demand_cell_m},
	{"dispatch.privacy_request_days", &dispatch_privacy_request_days},
	{"dispatch.unpaid_order_minutes", &dispatch_unpaid_order_minutes},
};

PG_FUNCTION_INFO_V1(dispatch_setting_int);

/*
 * SQL: dispatch._setting_int(name text) -> int
 *
 * The value of one of the integer settings above, for the SQL parts.
 * current_setting() would fail in a session that has not loaded this
 * module yet (the settings do not exist before _PG_init runs); calling
 * into the module loads it first.
 */
Datum
dispatch_setting_int(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			i;

	for (i = 0; i < lengthof(int_settings); i++)
		if (strcmp(int_settings[i].name, name) == 0)
			PG_RETURN_INT32(*int_settings[i].value);
	ereport(ERROR,
			errcode(ERRCODE_UNDEFINED_OBJECT),
			errmsg("\"%s\" is not an integer setting of dispatch", name));
	PG_RETURN_NULL();
}

/*
 * A bigint argument of the calling function, for a message: the number,
 * or <NULL> as PL/pgSQL's RAISE prints a NULL (the API's words did not
 * change when its bodies moved to C).
 */
char *
dispatch_id_arg_text(FunctionCallInfo fcinfo, int arg)
{
	return PG_ARGISNULL(arg) ? "<NULL>" : psprintf(INT64_FORMAT, PG_GETARG_INT64(arg));
}

/* a bigint[] of n values */
Datum
dispatch_int8_array(const int64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

/* an integer[] of n values */
Datum
dispatch_int4_array(const int32 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int32GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/*
 * The attribute number of a named column of a row that SPI or a trigger
 * hands over; a row that lacks it is a bug here, not a user's error.
 */
int
dispatch_column_number(TupleDesc desc, const char *name)
{
	int			fno = SPI_fnumber(desc, name);

	if (fno <= 0)
		elog(ERROR, "row has no column \"%s\"", name);
	return fno;
}

/*
 * The schema an extension the dispatch extension depends on was installed
 * in (PostGIS, pgcrypto: PostgreSQL 15 has no @extschema:name@), as a
 * palloc'd name, not quoted; an error if it is not installed.  The caller
 * has connected to SPI and keeps what it derives from it.
 */
char *
dispatch_extension_schema(const char *extname)
{
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(extname);
	char	   *schema;
	int			ret = SPI_execute_with_args("SELECT n.nspname FROM pg_catalog.pg_extension e"
											" JOIN pg_catalog.pg_namespace n"
											"   ON n.oid OPERATOR(pg_catalog.=) e.extnamespace"
											" WHERE e.extname OPERATOR(pg_catalog.=) $1",
											1, &argtype, &arg, NULL, true, 1);

	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "extension %s is not installed", extname);
	schema = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	SPI_freetuptable(SPI_tuptable);
	return schema;
}

/*
 * Whether Citus is installed in this database (docs/citus.md): the
 * intake lock, matching's parallel setting and the relay take their
 * distributed path only then.
 */
bool
dispatch_on_citus(void)
{
	return OidIsValid(get_extension_oid("citus", true));
}

static SPIPlanPtr distributed_plan = NULL;

/*
 * Whether dispatch's table named table (orders, events) is a distributed
 * table of Citus (distribute() has run), read from Citus's catalog now;
 * false where Citus is not installed.  Within a transaction; connects to
 * SPI itself (nested, where the caller has).
 */
bool
dispatch_table_distributed(const char *table)
{
	Datum		relid;
	bool		distributed;

	if (!dispatch_on_citus())
		return false;
	relid = ObjectIdGetDatum(get_relname_relid(table, get_namespace_oid("dispatch", false)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (distributed_plan == NULL)
	{
		Oid			types[1] = {REGCLASSOID};
		SPIPlanPtr	plan = SPI_prepare("SELECT FROM pg_catalog.pg_dist_partition p"
									   " WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1",
									   1, types);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the read of Citus's placements: %s",
				 SPI_result_code_string(SPI_result));
		distributed_plan = plan;
	}
	if (SPI_execute_plan(distributed_plan, &relid, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the placement of dispatch.%s", table);
	distributed = SPI_processed > 0;
	SPI_finish();
	return distributed;
}
