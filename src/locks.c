/*-------------------------------------------------------------------------
 *
 * locks.c
 *		dispatch._lock_key(name): the advisory lock keys of locks.h, for SQL;
 *		the customer's intake lock, for C.
 *
 * IDENTIFICATION
 *		src/locks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "locks.h"

typedef struct LockKey
{
	const char *name;
	int64		key;
} LockKey;

static const LockKey lock_keys[] = {
	{"zone", DISPATCH_LOCK_ZONE},
	{"customer", DISPATCH_LOCK_CUSTOMER},
	{"rider", DISPATCH_LOCK_RIDER},
	{"purge", DISPATCH_LOCK_PURGE},
	{"numbering", DISPATCH_LOCK_NUMBERING},
	{"offers", DISPATCH_LOCK_OFFERS},
	{"budgets", DISPATCH_LOCK_BUDGETS},
	{"intake", DISPATCH_LOCK_INTAKE},
	{"referrals", DISPATCH_LOCK_REFERRALS},
	{"rollup", DISPATCH_LOCK_ROLLUP},
};

PG_FUNCTION_INFO_V1(dispatch_lock_key);

/*
 * SQL: dispatch._lock_key(name text) -> bigint
 *
 * The key of a lock by its name in locks.h: the class (first key) of a
 * two-part lock, or the single key of the purge lock.
 */
Datum
dispatch_lock_key(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			i;

	for (i = 0; i < lengthof(lock_keys); i++)
		if (strcmp(lock_keys[i].name, name) == 0)
			PG_RETURN_INT64(lock_keys[i].key);
	ereport(ERROR,
			errcode(ERRCODE_UNDEFINED_OBJECT),
			errmsg("\"%s\" is not an advisory lock of dispatch", name));
	PG_RETURN_NULL();
}

/*
 * The customer's intake lock (exclusive) to the end of the transaction:
 * one order or errand of a customer at a time counts the customer's unpaid
 * and cancelled orders, so that two placed at once cannot both pass the
 * limit (dispatch.fraud_max_bad_orders) on counts that miss each other.
 * Taken after the customer's lock (shared) and before any row lock of the
 * order (locks.h).  Its keys: the class 'intake' and the customer id modulo
 * 2^31 - 1; place_errand takes the same lock in SQL by _lock_key('intake').
 */
void
dispatch_lock_intake(int64 customer_id)
{
	DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(DISPATCH_LOCK_INTAKE),
						Int32GetDatum((int32) (customer_id % PG_INT32_MAX)));
}
