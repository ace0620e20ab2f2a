/*-------------------------------------------------------------------------
 *
 * sentiment_fuzz.c
 *		libFuzzer harness for the sentiment core (src/sentiment_core.c).
 *
 * Each input is scored, tagged and feature-scanned as raw bytes, against a
 * model with the built-in rules and a few learned entries.  Checks beyond
 * the sanitizers: valid UTF-8 is never refused, invalid UTF-8 always is,
 * the score is finite and in [-1, 1], topics use only the defined bits,
 * and every emitted feature is itself accepted by sent_model_set_weight.
 * The first byte, when it is 0x01, asks for the input to be split: the
 * second half is also installed as a lexicon word and a weight, so model
 * building is fuzzed too.
 *
 * IDENTIFICATION
 *		fuzz/sentiment_fuzz.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sentiment_core.h"

static void *
xalloc(void *ctx, size_t n)
{
	(void) ctx;
	return malloc(n);
}

static void
xfree(void *ctx, void *p)
{
	(void) ctx;
	free(p);
}

static sent_model base;
static int	base_ready = 0;

static int
check_feature(void *arg, const char *f, size_t len)
{
	sent_model *scratch = arg;

	if (len == 0 || len > SENT_MAX_KEY_BYTES + 2)
		abort();
	if (!sent_utf8_valid(f, len))
		abort();
	if (sent_model_set_weight(scratch, f, len, 0.5) != SENT_OK)
		abort();
	return 0;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sent_allocator a = {xalloc, xfree, NULL};
	const char *s = (const char *) data;
	double		score = 0;
	uint32_t	topics = 0;
	int			rc,
				valid;
	sent_model	scratch;

	if (!base_ready)
	{
		if (sent_model_init(&base, &a, 1) != SENT_OK)
			abort();
		sent_model_set_weight(&base, "#好吃", strlen("#好吃"), 1.0);
		sent_model_set_weight(&base, "!#好吃", strlen("!#好吃"), -1.0);
		sent_model_set_weight(&base, "!good", 5, -1.0);
		sent_model_set_lexicon(&base, "送得很快", strlen("送得很快"), 2.0);
		base_ready = 1;
	}

	valid = sent_utf8_valid(s, size);
	rc = sent_analyze(&base, s, size, &score, &topics);
	if (valid && rc != SENT_OK)
		abort();
	if (!valid && rc != SENT_ERR_UTF8)
		abort();
	if (!(score >= -1.0 && score <= 1.0) || isnan(score))
		abort();
	if (topics >> SENT_NTOPICS)
		abort();

	if (sent_model_init(&scratch, &a, 0) != SENT_OK)
		abort();
	rc = sent_features(&base, s, size, check_feature, &scratch);
	if (rc != (valid ? SENT_OK : SENT_ERR_UTF8))
		abort();

	/* model building from arbitrary keys */
	if (size > 1 && data[0] == 0x01)
	{
		size_t		half = size / 2;

		rc = sent_model_set_lexicon(&scratch, s + half, size - half, 1.0);
		rc = sent_model_set_weight(&scratch, s + half, size - half, -1.0);
		(void) rc;
		score = sent_score(&scratch, s + 1, half - 1, &rc);
		if (!(score >= -1.0 && score <= 1.0))
			abort();
	}
	sent_model_free(&scratch);
	return 0;
}
