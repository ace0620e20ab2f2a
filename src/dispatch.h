/*-------------------------------------------------------------------------
 *
 * dispatch.h
 *		Declarations shared by the C parts of the dispatch extension:
 *		SQLSTATEs of class DP, settings, and each part's init hook.
 *
 * Every condition a caller can reach has its own SQLSTATE in class DP.
 * Their one list is src/errcodes.txt; the build generates errcodes.h (the
 * ERRCODE_DP_* macros, included here) and docs/errors.md from it.
 *
 * IDENTIFICATION
 *		src/dispatch.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DISPATCH_H
#define DISPATCH_H

#include "access/tupdesc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "errcodes.h"

/*
 * Zone-scoped ids (orders, payments, offers, feedback): the zone in the
 * bits above DISPATCH_ZONE_SHIFT, as dispatch.zone_of() and
 * dispatch.zone_scoped_id() in sql/20_schema.sql.
 */
#define DISPATCH_ZONE_SHIFT				40
#define DISPATCH_ZONE_OF(id)			((int64) (id) >> DISPATCH_ZONE_SHIFT)

/*
 * Event sequence layout: the writing transaction's full xid in the high
 * bits, the event's ordinal within that transaction in the low bits.
 */
#define DISPATCH_EVENT_ORDINAL_BITS		20
#define DISPATCH_EVENT_ORDINAL_MAX		((1 << DISPATCH_EVENT_ORDINAL_BITS) - 1)

/* the channel every event is announced on, by its writer or the relay */
#define DISPATCH_EVENT_CHANNEL			"dispatch_events"

/* settings (dispatch.c, the one place that defines them) */
typedef enum DispatchNotify
{
	DISPATCH_NOTIFY_COMMIT,		/* the writing transaction notifies */
	DISPATCH_NOTIFY_RELAY,		/* the relay notifies after the commit */
	DISPATCH_NOTIFY_OFF			/* the outbox only */
} DispatchNotify;

typedef enum DispatchCipher
{
	DISPATCH_CIPHER_PGP,		/* pgcrypto OpenPGP messages */
	DISPATCH_CIPHER_NONE		/* no-op, to measure what encryption costs */
} DispatchCipher;

extern char *dispatch_clock_override;
extern char *dispatch_master_key_file;
extern int	dispatch_notify_mode;
extern char *dispatch_relay_databases;
extern int	dispatch_relay_round_ms;
extern int	dispatch_cipher;
extern int	dispatch_refusal_ring_size;
extern int	dispatch_fraud_window_minutes;
extern int	dispatch_unpaid_order_minutes;
extern int	dispatch_fraud_max_bad_orders;
extern int	dispatch_fraud_max_distance_m;
extern int	dispatch_max_order_cents;
extern int	dispatch_max_item_qty;

/* dispatch.c: the settings defined (init.c calls it first), shared helpers */
extern void dispatch_define_settings(void);
extern int	dispatch_column_number(TupleDesc desc, const char *name);
extern char *dispatch_extension_schema(const char *extname);
extern bool dispatch_on_citus(void);
extern bool dispatch_table_distributed(const char *table);
extern char *dispatch_id_arg_text(FunctionCallInfo fcinfo, int arg);
extern Datum dispatch_int8_array(const int64 *v, int n);
extern Datum dispatch_int4_array(const int32 *v, int n);

/* limits.c */
extern void dispatch_check_value_length(const char *name, Datum value, bool isnull, Oid type);
extern void dispatch_check_text_length(const char *name, text *value);
extern bool dispatch_text_is_blank(text *value);
extern text *dispatch_text_trim_blanks(text *value);

/* order_lines.c */
extern int	dispatch_order_lines_of(Jsonb *items, int32 max_qty,
									int64 **item_ids, int32 **qtys);

/* pay.c */
extern int32 dispatch_fee_cents(int64 zone_id, bool zone_null, float4 dist, bool *isnull);

/* clock.c */
extern TimestampTz dispatch_clock_now(void);
extern TimestampTz dispatch_clock_plus(TimestampTz t, int32 mins, float8 secs);
extern bool dispatch_clock_check_override(char **newval, void **extra,
										  GucSource source);
extern void dispatch_clock_assign_override(const char *newval, void *extra);

/* refusals.c */
extern void dispatch_refusals_init(void);
extern void dispatch_refusal_set_zone(int64 zone_id);

/* event_numbers.c */
extern int64 dispatch_event_base(void);
extern int64 dispatch_event_horizon(void);
extern int64 dispatch_event_floor(void);

/* events.c */
extern int64 dispatch_event_append(int64 zone_id, const char *kind,
								   int64 order_id, int64 customer_id,
								   int64 rider_id, const char *payload_json);
extern void dispatch_event_payload(StringInfo buf, int64 seq, const char *kind,
								   int64 zone_id, int64 order_id,
								   int64 customer_id, int64 rider_id,
								   TimestampTz at, const char *payload_json);

/* relay.c */
extern void dispatch_relay_init(void);
extern bool dispatch_relay_serves_this_database(void);
extern bool dispatch_relay_ready_here(void);
extern void dispatch_relay_wake_at_commit(void);

#endif							/* DISPATCH_H */
