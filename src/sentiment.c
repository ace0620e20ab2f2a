/*-------------------------------------------------------------------------
 *
 * sentiment.c
 *		SQL interface of the review scorer: sentiment(), feedback_topics(),
 *		the training feature extractor and the model cache.
 *
 * The scoring itself is in sentiment_core.c, which knows nothing of
 * PostgreSQL.  This file builds the model in backend memory and keeps it
 * there: the built-in rules and the default model, both compiled into the
 * module (sentiment_model.c, generated from src/sentiment_model.tsv), plus
 * what an operator keeps in the model tables: word priors of their own
 * (sentiment_lexicon) and weights learned by train_sentiment()
 * (sentiment_weights), which replace the default weights as a whole.  Only
 * those two tables are read, and they are usually empty, so a new backend
 * or parallel worker builds its model without reading the default model
 * from anywhere but its own text segment.
 *
 * Model cache: the model is built once per backend, on first use, in its
 * own memory context under TopMemoryContext.  Every model table carries a
 * statement-level trigger (dispatch_sentiment_model_changed) that sends a
 * relcache invalidation for that table; it reaches every backend at its
 * next transaction start, and the writing backend at its next command.  A
 * relcache callback registered on first use marks the cached model stale
 * when one of the model tables (or everything, relid 0) is invalidated.
 * The per-call cost of the check is a comparison of two counters, no
 * catalog or table access; a rolled-back change invalidates again, so no
 * backend keeps a model that never committed.
 *
 * Privileges: the model tables are not readable by the app or analyst
 * roles; while it reads them, the loader runs as the owner of the calling
 * function (the extension's owner), with a fixed query, as a SECURITY
 * DEFINER function would, but only for the load and not on every call.
 *
 * Memory: a new model is built in a context parented to the caller's
 * context and moved under TopMemoryContext only when complete, so an error
 * while loading leaks nothing and leaves the previous model in use.
 *
 * Errors: our own SQLSTATEs DP501-DP503 (src/errcodes.txt).  Invalid UTF-8
 * is reported with PostgreSQL's own ERRCODE_CHARACTER_NOT_IN_REPERTOIRE
 * (22021), the code the server itself uses for byte sequences that are
 * invalid in an encoding, so clients handle both alike.
 *
 * IDENTIFICATION
 *		src/sentiment.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "dispatch.h"
#include "sentiment_core.h"
#include "sentiment_model.h"

/* the model tables of an operator, in load order */
#define NMODEL_TABLES 2
static const char *const model_tables[NMODEL_TABLES] = {
	"sentiment_lexicon",
	"sentiment_weights"
};

static sent_model cached_model;
static MemoryContext model_cxt = NULL;
static bool model_loaded = false;
static bool callback_registered = false;
static uint64 inval_count = 0;	/* bumped by the relcache callback */
static uint64 loaded_at = 0;	/* inval_count when the model was read */
static Oid	model_relids[NMODEL_TABLES];

static void model_inval_callback(Datum arg, Oid relid);
static void *model_alloc(void *ctx, size_t size);
static void model_release(void *ctx, void *ptr);
static int	load_rows(sent_model *m, const char *nspname, const char *table,
					  bool lexicon);
static const sent_model *get_model(Oid fn_oid);
static void report_error(int err);
static void check_default_model(int err);
static const char *utf8_of(text *t, size_t *len);

/*
 * Relcache callback: any change to a model table makes the cache stale.
 */
static void
model_inval_callback(Datum arg, Oid relid)
{
	int			i;

	if (relid == InvalidOid)
	{
		inval_count++;
		return;
	}
	for (i = 0; i < NMODEL_TABLES; i++)
		if (model_relids[i] == relid)
		{
			inval_count++;
			return;
		}
}

/* allocator handed to the core: the model's own memory context */
static void *
model_alloc(void *ctx, size_t size)
{
	return MemoryContextAllocHuge((MemoryContext) ctx, size);
}

static void
model_release(void *ctx, void *ptr)
{
	pfree(ptr);
}

/*
 * Read one model table into m; returns the number of rows.  The table name
 * is ours, never user input; values are read as text and float8.
 */
static int
load_rows(sent_model *m, const char *nspname, const char *table, bool lexicon)
{
	StringInfoData sql;
	uint64		i;
	int			rc;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s, weight::pg_catalog.float8 FROM %s ORDER BY 1",
					 lexicon ? "term" : "feature",
					 quote_qualified_identifier(nspname, table));
	rc = SPI_execute(sql.data, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading %s failed: %s", table, SPI_result_code_string(rc));

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull1,
					isnull2;
		Datum		k = SPI_getbinval(tup, desc, 1, &isnull1);
		Datum		w = SPI_getbinval(tup, desc, 2, &isnull2);
		text	   *kt;
		int			err;

		if (isnull1 || isnull2)
			continue;
		kt = DatumGetTextPP(k);
		if (lexicon)
			err = sent_model_set_lexicon(m, VARDATA_ANY(kt), VARSIZE_ANY_EXHDR(kt),
										 DatumGetFloat8(w));
		else
			err = sent_model_set_weight(m, VARDATA_ANY(kt), VARSIZE_ANY_EXHDR(kt),
										DatumGetFloat8(w));
		if (err != SENT_OK)
			ereport(ERROR,
					errcode(ERRCODE_DP_SENTIMENT_BAD_MODEL),
					errmsg("invalid entry \"%s\" in %s.%s",
						   text_to_cstring(kt), nspname, table),
					lexicon ?
					errdetail("A term is 1 to %d bytes of UTF-8 that do not start with \"!\" or \"#\".",
							  SENT_MAX_KEY_BYTES) :
					errdetail("A feature is an optional \"!\", an optional \"#\", then 1 to %d bytes of UTF-8 that do not start with \"!\" or \"#\".",
							  SENT_MAX_KEY_BYTES),
					errhint("Correct or delete the row."));
	}
	return (int) SPI_processed;
}

/*
 * Return the cached model, loading it first if it is missing or stale.
 * fn_oid is the calling function: the model tables live in its schema.
 */
static const sent_model *
get_model(Oid fn_oid)
{
	MemoryContext cxt;
	sent_model	m;
	sent_allocator a;
	Oid			nsp;
	char	   *nspname;
	uint64		seen;
	int			i,
				rc,
				n_learned;
	HeapTuple	proctup;
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;

	if (model_loaded && loaded_at == inval_count)
		return &cached_model;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(model_inval_callback, (Datum) 0);
		callback_registered = true;
	}
	seen = inval_count;

	nsp = get_func_namespace(fn_oid);
	nspname = get_namespace_name(nsp);
	if (nspname == NULL)
		elog(ERROR, "schema of function %u not found", fn_oid);
	for (i = 0; i < NMODEL_TABLES; i++)
	{
		model_relids[i] = get_relname_relid(model_tables[i], nsp);
		if (!OidIsValid(model_relids[i]))
			ereport(ERROR,
					errcode(ERRCODE_UNDEFINED_TABLE),
					errmsg("sentiment model table %s.%s does not exist",
						   nspname, model_tables[i]),
					errhint("Reinstall the dispatch extension."));
	}

	cxt = AllocSetContextCreate(CurrentMemoryContext,
								"dispatch sentiment model",
								ALLOCSET_DEFAULT_SIZES);
	a.alloc = model_alloc;
	a.release = model_release;
	a.ctx = cxt;
	if (sent_model_init(&m, &a, 1) != SENT_OK)
		elog(ERROR, "could not initialise the sentiment model");
	/* the default priors come first: an operator's own override them */
	check_default_model(sent_model_add_default_lexicon(&m));

	/* read as the function's owner; an error restores the user at abort */
	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	owner = ((Form_pg_proc) GETSTRUCT(proctup))->proowner;
	ReleaseSysCache(proctup);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	load_rows(&m, nspname, "sentiment_lexicon", true);
	/* trained weights replace the default ones as a whole */
	n_learned = load_rows(&m, nspname, "sentiment_weights", false);
	if ((rc = SPI_finish()) != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(rc));

	SetUserIdAndSecContext(save_userid, save_sec_context);

	if (n_learned == 0)
		check_default_model(sent_model_add_default_weights(&m));

	/* complete: keep it, drop the previous one */
	MemoryContextSetParent(cxt, TopMemoryContext);
	if (model_cxt != NULL)
		MemoryContextDelete(model_cxt);
	model_cxt = cxt;
	cached_model = m;
	model_loaded = true;
	/* an invalidation that arrived while reading leaves the model stale */
	loaded_at = seen;
	return &cached_model;
}

/*
 * The default model is checked when it is generated (gen_model_header.pl),
 * so only memory can run out here; anything else is a build that went wrong.
 */
static void
check_default_model(int err)
{
	if (err == SENT_ERR_NOMEM)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory"),
				errdetail("Building the default sentiment model failed."));
	if (err != SENT_OK)
		elog(ERROR, "the default sentiment model built into the module is invalid (code %d)", err);
}

/* turn a core error code into an ereport */
static void
report_error(int err)
{
	switch (err)
	{
		case SENT_OK:
			return;
		case SENT_ERR_UTF8:
			ereport(ERROR,
					errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
					errmsg("review text is not valid UTF-8"),
					errdetail("The scorer reads UTF-8; the bytes given contain an invalid or incomplete sequence, or a zero byte."));
			break;
		case SENT_ERR_TOO_LONG:
			ereport(ERROR,
					errcode(ERRCODE_DP_SENTIMENT_TOO_LONG),
					errmsg("review text is too long to score"),
					errdetail("Texts of at most %d bytes are scored.", SENT_MAX_INPUT));
			break;
		default:
			elog(ERROR, "sentiment scorer failed with code %d", err);
	}
}

/*
 * The UTF-8 bytes of a text datum: as stored in a UTF-8 or SQL_ASCII
 * database (SQL_ASCII bytes are taken to be UTF-8 and checked), converted
 * from any other server encoding.
 */
static const char *
utf8_of(text *t, size_t *len)
{
	const char *s = VARDATA_ANY(t);
	int			n = VARSIZE_ANY_EXHDR(t);
	int			enc = GetDatabaseEncoding();

	if (enc != PG_UTF8 && enc != PG_SQL_ASCII && n <= SENT_MAX_INPUT)
	{
		char	   *c = pg_server_to_any(s, n, PG_UTF8);

		if (c != s)
			n = strlen(c);
		s = c;
	}
	*len = (size_t) n;
	return s;
}

/*
 * sentiment(text) -> real: the review's sentiment in [-1, 1].
 */
PG_FUNCTION_INFO_V1(dispatch_sentiment);
Datum
dispatch_sentiment(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const sent_model *m = get_model(fcinfo->flinfo->fn_oid);
	size_t		len;
	const char *s = utf8_of(t, &len);
	int			err;
	double		score = sent_score(m, s, len, &err);

	report_error(err);
	PG_RETURN_FLOAT4((float4) score);
}

/*
 * sentiment(bytea) -> real: the same for raw bytes that claim to be UTF-8,
 * e.g. from a client or file whose encoding was not declared.  Invalid
 * UTF-8 raises SQLSTATE 22021.
 */
PG_FUNCTION_INFO_V1(dispatch_sentiment_bytea);
Datum
dispatch_sentiment_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	const sent_model *m = get_model(fcinfo->flinfo->fn_oid);
	int			err;
	double		score = sent_score(m, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), &err);

	report_error(err);
	PG_RETURN_FLOAT4((float4) score);
}

/*
 * feedback_topics(text) -> text[]: the complaint topics a review raises,
 * in a fixed order; an empty array when there is none.
 */
PG_FUNCTION_INFO_V1(dispatch_feedback_topics);
Datum
dispatch_feedback_topics(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const sent_model *m = get_model(fcinfo->flinfo->fn_oid);
	size_t		len;
	const char *s = utf8_of(t, &len);
	int			err,
				i,
				n = 0;
	uint32		topics = sent_topics(m, s, len, &err);
	Datum		elems[SENT_NTOPICS];

	report_error(err);
	for (i = 0; i < SENT_NTOPICS; i++)
		if (topics & (1u << i))
			elems[n++] = CStringGetTextDatum(sent_topic_name(i));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false,
										  TYPALIGN_INT));
}

/* collects feature names for dispatch_sentiment_features */
typedef struct feature_list
{
	Datum	   *elems;
	int			n;
	int			cap;
} feature_list;

static int
collect_feature(void *arg, const char *f, size_t len)
{
	feature_list *fl = arg;

	if (fl->n == fl->cap)
	{
		fl->cap *= 2;
		fl->elems = repalloc_huge(fl->elems, sizeof(Datum) * fl->cap);
	}
	fl->elems[fl->n++] = PointerGetDatum(cstring_to_text_with_len(f, (int) len));
	return 0;
}

/*
 * sentiment_features(text) -> text[]: the features the scorer sees in a
 * text, in order, with repeats; train_sentiment() counts them.
 */
PG_FUNCTION_INFO_V1(dispatch_sentiment_features);
Datum
dispatch_sentiment_features(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const sent_model *m = get_model(fcinfo->flinfo->fn_oid);
	size_t		len;
	const char *s = utf8_of(t, &len);
	feature_list fl;
	int			err;

	fl.cap = 64;
	fl.n = 0;
	fl.elems = palloc(sizeof(Datum) * fl.cap);
	err = sent_features(m, s, len, collect_feature, &fl);
	report_error(err);
	PG_RETURN_ARRAYTYPE_P(construct_array(fl.elems, fl.n, TEXTOID, -1, false,
										  TYPALIGN_INT));
}

/*
 * _sentiment_weight(feature text, log_odds float8) -> float8: the learned
 * weight train_sentiment() stores for a feature with this naive-Bayes
 * log-odds, NULL when it is too weak to keep.  The rule and its constants
 * are the C core's (sent_learned_weight), which tools/sentiment/train.py
 * uses too, so the two trainers cannot drift apart.
 */
PG_FUNCTION_INFO_V1(dispatch_sentiment_weight);
Datum
dispatch_sentiment_weight(PG_FUNCTION_ARGS)
{
	text	   *f = PG_GETARG_TEXT_PP(0);
	double		log_odds = PG_GETARG_FLOAT8(1);
	double		weight;

	if (!sent_learned_weight(VARDATA_ANY(f), VARSIZE_ANY_EXHDR(f), log_odds, &weight))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(weight);
}

/*
 * _sentiment_feature_ok(feature text) -> boolean: whether the model loader
 * accepts this learned feature name (sent_weight_key_ok, the rule of
 * sent_model_set_weight).  The CHECK of sentiment_weights calls it, so a
 * row that would make every backend's next model load fail (DP502) is
 * refused when it is written, and the rule lives in the C core alone.
 */
PG_FUNCTION_INFO_V1(dispatch_sentiment_feature_ok);
Datum
dispatch_sentiment_feature_ok(PG_FUNCTION_ARGS)
{
	text	   *f = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(sent_weight_key_ok(VARDATA_ANY(f), VARSIZE_ANY_EXHDR(f)) != 0);
}

/*
 * Statement-level trigger on the model tables: tell every backend that its
 * cached model is stale (through a relcache invalidation of the model
 * tables).  The tables are invalidated by name, in the trigger function's
 * schema, not as the relation the trigger fired on: on Citus the model
 * tables are reference tables, and the trigger fires on each node's
 * placement (a table of another name and OID), which the model cache does
 * not watch.
 */
PG_FUNCTION_INFO_V1(dispatch_sentiment_model_changed);
Datum
dispatch_sentiment_model_changed(PG_FUNCTION_ARGS)
{
	Oid			nsp;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("sentiment_model_changed() must be called as a trigger"));
	nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	for (i = 0; i < NMODEL_TABLES; i++)
	{
		Oid			relid = get_relname_relid(model_tables[i], nsp);

		if (OidIsValid(relid))
			CacheInvalidateRelcacheByRelid(relid);
	}
	return PointerGetDatum(NULL);
}
