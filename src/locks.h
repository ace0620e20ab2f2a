/*-------------------------------------------------------------------------
 *
 * locks.h
 *		Every advisory lock key of the dispatch extension, in one place.
 *
 * C uses these names; SQL reads the same values through
 * dispatch._lock_key(name) (src/locks.c).  Keys of two-part locks are a
 * class (the first key, below) and an object id (the second); each class
 * is four ASCII bytes so that pg_locks shows whose lock it is.
 *
 *		name		key								second key		held by
 *		zone		'DPas' 0x44506173				zone id			assign_batch, assign_manually: one
 *																at a time per zone (match_lock_zone)
 *		customer	'disq' 0x64697371				id % (2^31-1)	sealing, place_order (shared); key rotation
 *		rider		'disr' 0x64697372				id % (2^31-1)	  and erasure (exclusive)
 *		purge		'dispatch' 0x6469737061746368	(one bigint)	purge runs never overlap
 *		numbering	'DPev' 0x44506576				0				writers of events (shared, from
 *																their first event to commit); a
 *																raise of the node's base of event
 *																numbers (exclusive)
 *		offers		'DPof' 0x44506f66				customer id		an order checking the customer's
 *											% (2^31-1)		cap of a campaign (_offer_cap_check);
 *																on Citus on every node holding
 *																zones, then where the call runs
 *																(_lock_offers, locks.c)
 *		budgets		'DPbu' 0x44506275				campaign id		a run moving a campaign's budget
 *											% (2^31-1)		between zones (_budget_balance)
 *		intake		'DPin' 0x4450696e				customer id		place_order, place_errand: one
 *											% (2^31-1)		intake of a customer at a time,
 *																from its check of the customer
 *																to commit (exclusive); on Citus
 *																on the zone's worker, then where
 *																the call runs (locks.c)
 *		referrals	'DPrf' 0x44507266				0				apply_referral: one referral
 *																checked and written at a time
 *		rollup		'DPru' 0x44507275				0				rollup_campaigns, from its count
 *																of the orders and exposures to
 *																commit; forget_customer moving
 *																the exposures (exclusive)
 *		payref		'DPpr' 0x44507072				hash of zone	confirm_payment, from before it
 *											and reference	looks the provider's reference
 *																up to commit: one confirmation
 *																with a reference at a time
 *		riderphone	'DPrp' 0x44507270				hash of the		register_rider, update_rider:
 *											phone's blind	from before they look the phone
 *											index			up among riders to commit: one
 *																rider given a phone at a time
 *
 * Order: a customer's intake lock is taken after the customer's lock
 * (shared) and before any row lock of the order (stock, coupon, budget,
 * points): an intake waiting for it has locked no row of its order yet.
 * confirm_payment takes the reference's lock (payref) after the order's
 * row lock and before it writes the order's payment; nothing else takes it.
 * docs/architecture.md lists them with the lock order.
 *
 * IDENTIFICATION
 *		src/locks.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DISPATCH_LOCKS_H
#define DISPATCH_LOCKS_H

#define DISPATCH_LOCK_ZONE			0x44506173
#define DISPATCH_LOCK_CUSTOMER		0x64697371
#define DISPATCH_LOCK_RIDER			0x64697372
#define DISPATCH_LOCK_PURGE			INT64CONST(0x6469737061746368)
#define DISPATCH_LOCK_NUMBERING		0x44506576
#define DISPATCH_LOCK_OFFERS		0x44506f66
#define DISPATCH_LOCK_BUDGETS		0x44506275
#define DISPATCH_LOCK_INTAKE		0x4450696e
#define DISPATCH_LOCK_REFERRALS		0x44507266
#define DISPATCH_LOCK_ROLLUP		0x44507275
#define DISPATCH_LOCK_PAYREF		0x44507072
#define DISPATCH_LOCK_RIDER_PHONE	0x44507270

#include "fmgr.h"

/* locks.c: SQL's _lock_key(name), for C that takes a lock by its name */
extern Datum dispatch_lock_key(PG_FUNCTION_ARGS);
extern void dispatch_lock_customer(int64 customer_id, bool exclusive);
extern void dispatch_lock_intake(int64 customer_id);
extern Datum dispatch_lock_intake_sql(PG_FUNCTION_ARGS);
extern void dispatch_lock_intake_in_zone(int64 zone_id, int64 customer_id);
extern Datum dispatch_lock_offers_sql(PG_FUNCTION_ARGS);

#endif							/* DISPATCH_LOCKS_H */
