/*-------------------------------------------------------------------------
 *
 * sentiment_core.h
 *		Review sentiment and complaint-topic scorer, free of PostgreSQL.
 *
 * The scorer reads UTF-8 text once, left to right, and keeps only a
 * bounded amount of state, so any input is scored in time linear in its
 * length.  Chinese runs are segmented by forward maximum matching against
 * the model's words (at most SENT_MAX_WORD_CP code points per word),
 * English words are split on non-letters.  Each token contributes its
 * lexicon prior and its learned weight; negation, degree words, contrast,
 * concession and emphasis change that contribution.  Character bigrams of
 * Chinese runs add their learned weights too.
 *
 * The model is a hash table built from arrays of (key, value) pairs; all
 * its memory comes from a caller-supplied allocator, so the PostgreSQL
 * wrapper can build it in a memory context and drop it whole.  Scoring
 * allocates nothing.
 *
 * Feature names, shared by training and scoring (see docs/sentiment.md):
 *		word		a lexicon word, a single Chinese character, an English word
 *		#xy			the Chinese character bigram xy
 *		!f			feature f seen inside the scope of a negation
 *
 * IDENTIFICATION
 *		src/sentiment_core.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SENTIMENT_CORE_H
#define SENTIMENT_CORE_H

#include <stddef.h>
#include <stdint.h>

/* longest lexicon word, in code points, tried by maximum matching */
#define SENT_MAX_WORD_CP	8
/* longest key, in bytes, stored in a model */
#define SENT_MAX_KEY_BYTES	64

/* error codes returned through the err argument */
#define SENT_OK				0
#define SENT_ERR_UTF8		1	/* input is not valid UTF-8 */
#define SENT_ERR_TOO_LONG	2	/* input longer than SENT_MAX_INPUT */
#define SENT_ERR_NOMEM		3	/* the allocator returned NULL */
#define SENT_ERR_KEY		4	/* key empty, too long or not valid UTF-8 */

/* inputs longer than this are refused (1 MB, as documented) */
#define SENT_MAX_INPUT		(1024 * 1024)

/* complaint topics, one bit each; names in sent_topic_name() */
#define SENT_TOPIC_LATE			(1u << 0)
#define SENT_TOPIC_COLD			(1u << 1)
#define SENT_TOPIC_SPILLED		(1u << 2)
#define SENT_TOPIC_WRONG_ITEM	(1u << 3)
#define SENT_TOPIC_MISSING_ITEM (1u << 4)
#define SENT_TOPIC_RIDER		(1u << 5)
#define SENT_TOPIC_TASTE		(1u << 6)
#define SENT_TOPIC_PORTION		(1u << 7)
#define SENT_TOPIC_PRICE		(1u << 8)
#define SENT_TOPIC_HYGIENE		(1u << 9)
#define SENT_NTOPICS			10

/*
 * Training: how the naive-Bayes log-odds of a feature becomes its learned
 * weight.  One definition for both trainers: train_sentiment() in SQL calls
 * sent_learned_weight() (through _sentiment_weight()), tools/sentiment/
 * train.py reads these values from "sentcli params".  A log-odds below
 * SENT_TRAIN_MIN_LOG_ODDS in magnitude is dropped; the rest is clipped to
 * +-SENT_TRAIN_MAX_LOG_ODDS and scaled, less for Chinese bigrams, which
 * overlap the words they are made of.
 */
#define SENT_TRAIN_MIN_LOG_ODDS		0.25
#define SENT_TRAIN_MAX_LOG_ODDS		3.0
#define SENT_TRAIN_WORD_SCALE		0.6
#define SENT_TRAIN_BIGRAM_SCALE		0.35

/* allocator: alloc(ctx, size) returns zeroed or unzeroed memory or NULL */
typedef struct sent_allocator
{
	void	   *(*alloc) (void *ctx, size_t size);
	void		(*release) (void *ctx, void *ptr);	/* may be NULL */
	void	   *ctx;
} sent_allocator;

typedef struct sent_entry sent_entry;

typedef struct sent_model
{
	sent_allocator allocator;
	sent_entry *slots;			/* open addressing, size a power of two */
	void	   *arena;			/* blocks holding the keys */
	uint32_t	nslots;
	uint32_t	nused;
	float		bias;			/* added once to any text with a feature */
	float		learned_scale;	/* multiplies every learned weight */
	float		scale;			/* score = tanh(sum / scale) */
} sent_model;

/*
 * Build a model holding the built-in rules (negators, degree words,
 * contrast words, emoji, delivery vocabulary, topic words).  Returns
 * SENT_OK or SENT_ERR_NOMEM.  builtin = 0 leaves the table empty.
 */
extern int	sent_model_init(sent_model *m, const sent_allocator *a, int builtin);

/* free the table through allocator.release, when there is one */
extern void sent_model_free(sent_model *m);

/*
 * Set the lexicon prior of a word (overrides a built-in prior).
 * Returns SENT_OK, SENT_ERR_KEY or SENT_ERR_NOMEM.
 */
extern int	sent_model_set_lexicon(sent_model *m, const char *word, size_t len,
								   double weight);

/*
 * Set a learned weight for a feature name as described above ("好吃",
 * "#好吃", "!好吃", "!#好吃", "good").  Returns SENT_OK, SENT_ERR_KEY or
 * SENT_ERR_NOMEM.
 */
extern int	sent_model_set_weight(sent_model *m, const char *feature, size_t len,
								  double weight);

/*
 * 1 if sent_model_set_weight() accepts this feature name, else 0: an
 * optional "!", an optional "#", then 1 to SENT_MAX_KEY_BYTES bytes of
 * valid UTF-8 that do not start with "!" or "#".  The CHECK of the table
 * sentiment_weights calls it (_sentiment_feature_ok()), so that a row the
 * model could not load is refused when it is written.
 */
extern int	sent_weight_key_ok(const char *feature, size_t len);

/* score in [-1, 1]; 0 for empty or featureless text, and on error */
extern double sent_score(const sent_model *m, const char *s, size_t len,
						 int *err);

/* bitmask of SENT_TOPIC_* complained about in the text; 0 on error */
extern uint32_t sent_topics(const sent_model *m, const char *s, size_t len,
							int *err);

/* score and topics in one pass; returns the error code */
extern int	sent_analyze(const sent_model *m, const char *s, size_t len,
						 double *score, uint32_t *topics);

/*
 * Feature callback for training: called once per feature occurrence with
 * the feature name (not NUL-terminated).  A non-zero return stops the scan.
 */
typedef int (*sent_feature_cb) (void *arg, const char *feature, size_t len);

/* emit the features of a text, as scoring sees them; returns error code */
extern int	sent_features(const sent_model *m, const char *s, size_t len,
						  sent_feature_cb cb, void *arg);

/*
 * The learned weight of feature f[0..len) whose naive-Bayes log-odds is
 * log_odds, in *weight; returns 0 (and leaves *weight alone) when the
 * feature is too weak to keep.
 */
extern int	sent_learned_weight(const char *f, size_t len, double log_odds,
								double *weight);

/* name of topic bit i (0 .. SENT_NTOPICS - 1), e.g. "late" */
extern const char *sent_topic_name(int i);

/* key of built-in word i, NULL past the last one (for training tools) */
extern const char *sent_builtin_word(size_t i);

/* 1 if s[0..len) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF) */
extern int	sent_utf8_valid(const char *s, size_t len);

#endif							/* SENTIMENT_CORE_H */
