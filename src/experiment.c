/*-------------------------------------------------------------------------
 *
 * experiment.c
 *		A/B experiments: the bucket of a customer and the two-proportion
 *		z-test behind experiment_results (sql/86_experiments.sql).
 *
 * The bucket is a pure function of the experiment's name and the customer
 * id, specified here bit for bit (docs/experiments.md), so that it stays
 * the same across sessions, platforms and releases, and so that another
 * implementation (an app server, an analyst's notebook) can reproduce it.
 * It deliberately does not use PostgreSQL's hash_any, whose results may
 * change between major versions.  Changing anything below reassigns
 * customers of running experiments: the golden values of
 * test/pgtap/86_experiments.sql fail first.
 *
 * Neither function touches tables or keeps state.
 *
 * IDENTIFICATION
 *		src/experiment.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "dispatch.h"

/* 64-bit FNV-1a */
#define FNV64_OFFSET_BASIS	UINT64CONST(0xcbf29ce484222325)
#define FNV64_PRIME			UINT64CONST(0x00000100000001b3)

/* 2^53: a bucket is the top 53 bits of the hash as a fraction of this */
#define BUCKET_DENOMINATOR	9007199254740992.0

static uint64 fnv1a64(uint64 h, const unsigned char *p, size_t len);
static uint64 splitmix64_final(uint64 z);

/*
 * FNV-1a over len bytes, continuing from h.
 */
static uint64
fnv1a64(uint64 h, const unsigned char *p, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= (uint64) p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

/*
 * The finaliser of splitmix64 (Steele, Lea and Flood): FNV-1a alone mixes
 * the last bytes (the customer id) poorly into the high bits, which the
 * bucket reads.
 */
static uint64
splitmix64_final(uint64 z)
{
	z = (z ^ (z >> 30)) * UINT64CONST(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/*
 * experiment_bucket(experiment text, customer_id bigint) -> float8
 *
 * The customer's bucket in [0, 1) for the experiment: FNV-1a 64 over the
 * UTF-8 bytes of the name, one 0x00 byte, and the id as 8 bytes little
 * endian (two's complement); then the splitmix64 finaliser; the top 53
 * bits divided by 2^53.  The result is exact in a float8.  The name is
 * converted from the database encoding to UTF-8, so that a database in
 * another encoding buckets alike.
 */
PG_FUNCTION_INFO_V1(dispatch_experiment_bucket);
Datum
dispatch_experiment_bucket(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	uint64		id = (uint64) PG_GETARG_INT64(1);
	const char *utf8;
	int			len = VARSIZE_ANY_EXHDR(name);
	unsigned char sep = 0x00;
	unsigned char idbytes[8];
	uint64		h;
	int			i;

	utf8 = pg_server_to_any(VARDATA_ANY(name), len, PG_UTF8);
	if (utf8 != VARDATA_ANY(name))
		len = strlen(utf8);

	for (i = 0; i < 8; i++)
		idbytes[i] = (unsigned char) ((id >> (8 * i)) & 0xff);

	h = fnv1a64(FNV64_OFFSET_BASIS, (const unsigned char *) utf8, (size_t) len);
	h = fnv1a64(h, &sep, 1);
	h = fnv1a64(h, idbytes, sizeof(idbytes));
	h = splitmix64_final(h);

	PG_RETURN_FLOAT8((double) (h >> 11) / BUCKET_DENOMINATOR);
}

/*
 * two_proportion_p(conv_a, n_a, conv_b, n_b) -> float8
 *
 * The two-sided p-value of the two-proportion z-test with pooled variance:
 * z = (p_a - p_b) / sqrt(p (1 - p) (1/n_a + 1/n_b)), p the pooled rate,
 * p-value = erfc(|z| / sqrt 2).  NULL when the test is undefined: a group
 * without exposures, or a pooled rate of 0 or 1 (no variance).  Counts
 * that cannot be (negative, more conversions than exposures) are an error,
 * not a number.
 */
PG_FUNCTION_INFO_V1(dispatch_two_proportion_p);
Datum
dispatch_two_proportion_p(PG_FUNCTION_ARGS)
{
	int64		conv_a = PG_GETARG_INT64(0);
	int64		n_a = PG_GETARG_INT64(1);
	int64		conv_b = PG_GETARG_INT64(2);
	int64		n_b = PG_GETARG_INT64(3);
	double		pa,
				pb,
				pooled,
				se,
				z;

	if (conv_a < 0 || n_a < 0 || conv_b < 0 || n_b < 0 ||
		conv_a > n_a || conv_b > n_b)
		ereport(ERROR,
				errcode(ERRCODE_DP_EXPERIMENT_BAD_COUNTS),
				errmsg("conversions and exposures must satisfy 0 <= conversions <= exposures"),
				errdetail("Got " INT64_FORMAT " of " INT64_FORMAT " and " INT64_FORMAT " of " INT64_FORMAT ".",
						  conv_a, n_a, conv_b, n_b));

	if (n_a == 0 || n_b == 0)
		PG_RETURN_NULL();

	pa = (double) conv_a / (double) n_a;
	pb = (double) conv_b / (double) n_b;
	pooled = ((double) conv_a + (double) conv_b) / ((double) n_a + (double) n_b);
	se = sqrt(pooled * (1.0 - pooled) * (1.0 / (double) n_a + 1.0 / (double) n_b));
	if (!(se > 0.0))
		PG_RETURN_NULL();

	z = (pa - pb) / se;
	PG_RETURN_FLOAT8(erfc(fabs(z) / M_SQRT2));
}
