/*-------------------------------------------------------------------------
 *
 * dispatch.c
 *		Module entry point of the dispatch extension: PG_MODULE_MAGIC,
 *		_PG_init and the settings (GUCs).
 *
 * Every other concern lives in its own file and is initialised from here.
 *
 * IDENTIFICATION
 *		src/dispatch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/guc.h"

#include "dispatch.h"

PG_MODULE_MAGIC;

char	   *dispatch_clock_override = NULL;
char	   *dispatch_master_key_file = NULL;
bool		dispatch_notify_enabled = true;
int			dispatch_fraud_window_minutes = 60;
int			dispatch_fraud_max_bad_orders = 5;
int			dispatch_fraud_max_distance_m = 30000;
int			dispatch_max_order_cents = 10000000;
int			dispatch_max_item_qty = 99;

void		_PG_init(void);

/*
 * Define the settings and let each part prepare itself.
 */
void
_PG_init(void)
{
	DefineCustomStringVariable("dispatch.clock_override",
							   "Time that dispatch.clock() returns instead of now().",
							   "Empty means the real transaction time.  Tests and the city "
							   "simulator set it to replay a day.",
							   &dispatch_clock_override,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("dispatch.master_key_file",
							   "File that holds the master key for personal data.",
							   "Only the server's operating-system user should be able to read it.",
							   &dispatch_master_key_file,
							   "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);

	DefineCustomBoolVariable("dispatch.notify",
							 "Send NOTIFY dispatch_events for every event written to the outbox.",
							 "The outbox row is written either way.",
							 &dispatch_notify_enabled,
							 true,
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

	/* parts define their own settings before the prefix is reserved */
	dispatch_clock_init();
	dispatch_keys_init();

	MarkGUCPrefixReserved("dispatch");
}
