/*-------------------------------------------------------------------------
 *
 * locks.c
 *		dispatch._lock_key(name): the advisory lock keys of locks.h, for SQL.
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
	{"referrals", DISPATCH_LOCK_REFERRALS},
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
