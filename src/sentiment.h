/*-------------------------------------------------------------------------
 *
 * sentiment.h
 *		SQLSTATEs of the review scorer (class DP, range DP5xx).
 *
 * Invalid UTF-8 is reported with PostgreSQL's own
 * ERRCODE_CHARACTER_NOT_IN_REPERTOIRE (22021), the code the server itself
 * uses for byte sequences that are invalid in an encoding, so clients
 * handle both alike.  docs/sentiment.md lists these codes.
 *
 * IDENTIFICATION
 *		src/sentiment.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DISPATCH_SENTIMENT_H
#define DISPATCH_SENTIMENT_H

#include "utils/elog.h"

/* text longer than the scorer accepts (1 MB) */
#define ERRCODE_DP_SENTIMENT_TOO_LONG		MAKE_SQLSTATE('D','P','5','0','1')
/* a row of the model tables cannot be used */
#define ERRCODE_DP_SENTIMENT_BAD_MODEL		MAKE_SQLSTATE('D','P','5','0','2')
/* training data unusable (no documents, or only one class) */
#define ERRCODE_DP_SENTIMENT_BAD_TRAINING	MAKE_SQLSTATE('D','P','5','0','3')

#endif							/* DISPATCH_SENTIMENT_H */
