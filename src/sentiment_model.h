/*-------------------------------------------------------------------------
 *
 * sentiment_model.h
 *		The default sentiment model, built into the module.
 *
 * The model's one source is src/sentiment_model.tsv, written by
 * tools/sentiment/train.py; the Makefile turns it into C data
 * (src/sentiment_model_data.h), so the weights ship with the tokenizer
 * that produced them and no backend reads them from a table.  Like
 * sentiment_core.c, this knows nothing of PostgreSQL.
 *
 * IDENTIFICATION
 *		src/sentiment_model.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SENTIMENT_MODEL_H
#define SENTIMENT_MODEL_H

#include "sentiment_core.h"

/*
 * Add the default lexicon priors to m (they also join the segmentation).
 * Returns SENT_OK, or the first error of sent_model_set_lexicon().
 */
extern int	sent_model_add_default_lexicon(sent_model *m);

/*
 * Add the default learned weights and bias to m.  Returns SENT_OK, or the
 * first error of sent_model_set_weight().
 */
extern int	sent_model_add_default_weights(sent_model *m);

/* number of default lexicon words and of default weights */
extern size_t sent_default_lexicon_size(void);
extern size_t sent_default_weights_size(void);

#endif							/* SENTIMENT_MODEL_H */
