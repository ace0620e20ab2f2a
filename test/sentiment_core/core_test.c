/*-------------------------------------------------------------------------
 *
 * core_test.c
 *		Unit tests of the sentiment core without a database (TAP output).
 *
 * Covers what pgTAP cannot reach: allocation failure while building a
 * model, key validation, UTF-8 edge cases, feature names, and the linear
 * time bound on adversarial 1 MB inputs.
 *
 * IDENTIFICATION
 *		test/sentiment_core/core_test.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sentiment_core.h"

static int	ntest = 0,
			nfail = 0;

static void
ok(int cond, const char *name)
{
	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - %s\n", cond ? "" : "not ", ntest, name);
}

static long alloc_budget = -1;	/* allocations left before failing; -1: none */

static void *
xalloc(void *ctx, size_t n)
{
	(void) ctx;
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	return malloc(n);
}

static void
xfree(void *ctx, void *p)
{
	(void) ctx;
	free(p);
}

static const sent_allocator A = {xalloc, xfree, NULL};

static double
score(const sent_model *m, const char *s)
{
	int			err;
	double		v = sent_score(m, s, strlen(s), &err);

	return err == SENT_OK ? v : 99.0;
}

/* feature collection into one string, separated by spaces */
static int
collect(void *arg, const char *f, size_t len)
{
	char	   *out = arg;
	size_t		n = strlen(out);

	if (n + len + 2 < 1024)
	{
		if (n)
			out[n++] = ' ';
		memcpy(out + n, f, len);
		out[n + len] = '\0';
	}
	return 0;
}

static double
seconds_for(const sent_model *m, const char *s, size_t len)
{
	clock_t		t0 = clock();
	int			err;

	sent_score(m, s, len, &err);
	return (double) (clock() - t0) / CLOCKS_PER_SEC;
}

int
main(void)
{
	sent_model	m;
	int			err,
				i,
				failures_ok = 1;
	char		feats[1024];
	size_t		big = SENT_MAX_INPUT;
	char	   *buf;
	double		t_plain,
				t_hard;

	/* building */
	ok(sent_model_init(&m, &A, 1) == SENT_OK, "model with built-in rules");
	ok(score(&m, "好吃") > 0 && score(&m, "难吃") < 0, "built-in priors are used");
	ok(sent_model_set_weight(&m, "#好吃", strlen("#好吃"), 0.5) == SENT_OK, "bigram weight accepted");
	ok(sent_model_set_weight(&m, "!#好吃", strlen("!#好吃"), -0.5) == SENT_OK, "negated bigram weight accepted");
	ok(sent_model_set_weight(&m, "", 0, 1) == SENT_ERR_KEY, "empty feature refused");
	ok(sent_model_set_weight(&m, "!", 1, 1) == SENT_ERR_KEY, "bare ! refused");
	ok(sent_model_set_weight(&m, "!!x", 3, 1) == SENT_ERR_KEY, "double ! refused");
	ok(sent_model_set_weight(&m, "\xff", 1, 1) == SENT_ERR_KEY, "invalid UTF-8 key refused");
	ok(sent_model_set_lexicon(&m, "#x", 2, 1) == SENT_ERR_KEY, "lexicon term starting with # refused");
	memset(feats, 'a', 70);
	ok(sent_model_set_lexicon(&m, feats, 65, 1) == SENT_ERR_KEY, "key over 64 bytes refused");
	ok(sent_model_set_lexicon(&m, "咕噜咕噜", strlen("咕噜咕噜"), 3) == SENT_OK &&
	   score(&m, "咕噜咕噜") > 0.5, "a new lexicon word joins the segmentation");
	ok(sent_model_set_lexicon(&m, "好吃", strlen("好吃"), -3) == SENT_OK && score(&m, "好吃") < 0,
	   "a lexicon entry overrides a built-in prior");

	/* many entries: the table and the key arena grow */
	for (i = 0; i < 50000; i++)
	{
		char		k[32];
		int			v = i,
					n = 0;

		k[n++] = 'x';
		do
		{
			k[n++] = (char) ('a' + v % 26);
			v /= 26;
		} while (v > 0);
		k[n] = '\0';
		if (sent_model_set_weight(&m, k, strlen(k), i % 2 ? 0.1 : -0.1) != SENT_OK)
			break;
	}
	ok(i == 50000 && m.nused >= 50000, "50,000 weights fit");
	ok(score(&m, "xh") > 0 && score(&m, "xi") < 0, "and are found");
	sent_model_free(&m);

	/* allocation failure at every step of building leaves a usable error */
	for (alloc_budget = 0; alloc_budget < 40; alloc_budget++)
	{
		long		budget = alloc_budget;
		int			rc = sent_model_init(&m, &A, 1);

		if (rc == SENT_OK)
		{
			alloc_budget = -1;
			sent_model_free(&m);
			break;
		}
		if (rc != SENT_ERR_NOMEM)
			failures_ok = 0;
		alloc_budget = -1;
		sent_model_free(&m);
		alloc_budget = budget;
	}
	alloc_budget = -1;
	ok(failures_ok, "every allocation failure while building reports SENT_ERR_NOMEM");

	ok(sent_model_init(&m, &A, 1) == SENT_OK, "model again");

	/* UTF-8 */
	ok(sent_utf8_valid("", 0), "empty is valid");
	ok(sent_utf8_valid("\xf0\x9f\x91\x8d", 4), "4-byte sequence is valid");
	ok(!sent_utf8_valid("\xf0\x9f\x91", 3), "truncated sequence");
	ok(!sent_utf8_valid("\xc0\xaf", 2), "overlong");
	ok(!sent_utf8_valid("\xed\xa0\x80", 3), "surrogate");
	ok(!sent_utf8_valid("\xf4\x90\x80\x80", 4), "above U+10FFFF");
	ok(!sent_utf8_valid("a\0b", 3), "zero byte");
	sent_score(&m, "\xe5\xa5", 2, &err);
	ok(err == SENT_ERR_UTF8, "scoring invalid UTF-8 reports SENT_ERR_UTF8");
	sent_topics(&m, "ok\x80", 3, &err);
	ok(err == SENT_ERR_UTF8, "topics of invalid UTF-8 report SENT_ERR_UTF8");

	/* features, as training sees them */
	feats[0] = '\0';
	sent_features(&m, "不好吃", strlen("不好吃"), collect, feats);
	ok(strcmp(feats, "不 #不好 !好吃 !#好吃") == 0, "features of 不好吃");
	feats[0] = '\0';
	sent_features(&m, "I don't like it", strlen("I don't like it"), collect, feats);
	ok(strcmp(feats, "not !like") == 0, "features of \"I don't like it\"");
	feats[0] = '\0';
	sent_features(&m, "arrived on time", strlen("arrived on time"), collect, feats);
	ok(strcmp(feats, "arrived on time") == 0, "two-word phrases are one feature");

	/* topics */
	ok(sent_topics(&m, "不慢", strlen("不慢"), &err) == 0, "不慢: no topic");
	ok(sent_topics(&m, "太慢了", strlen("太慢了"), &err) == SENT_TOPIC_LATE, "太慢了: late");
	ok(sent_topics(&m, "not on time", 11, &err) == SENT_TOPIC_LATE, "not on time: late");
	ok(strcmp(sent_topic_name(0), "late") == 0 && sent_topic_name(SENT_NTOPICS) == NULL, "topic names");

	/* size limit and linear time */
	buf = malloc(big + 1);
	memset(buf, 'a', big + 1);
	sent_score(&m, buf, big + 1, &err);
	ok(err == SENT_ERR_TOO_LONG, "over 1 MB: SENT_ERR_TOO_LONG");
	t_plain = seconds_for(&m, buf, big);
	/* adversarial: long runs that start many lexicon words, negators, repeats */
	for (i = 0; i + 3 <= (int) big; i += 3)
		memcpy(buf + i, (i / 3) % 3 == 0 ? "不" : (i / 3) % 3 == 1 ? "很" : "一", 3);
	t_hard = seconds_for(&m, buf, big - big % 3);
	ok(t_hard < 1.0, "1 MB of negators and degree words scores in under a second");
	for (i = 0; i < (int) big; i++)
		buf[i] = "so :) !"[i % 7];
	ok(seconds_for(&m, buf, big) < 1.0, "1 MB of words, emoticons and ! in under a second");
	printf("# 1 MB: %.3f s of 'a', %.3f s of 不很一\n", t_plain, t_hard);
	free(buf);
	sent_model_free(&m);

	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}
