-- sql/70_sentiment.sql
-- Review sentiment and complaint topics (src/sentiment.c, src/sentiment_core.c).
--
-- The model is the built-in hand rules of the C core (negators, degree
-- words, contrast, emoji, delivery vocabulary, topic words) and the default
-- model (word priors and learned weights), both compiled into the module:
-- the default model is generated from src/sentiment_model.tsv, so it ships
-- with the tokenizer that learned it.  The tables hold only what an
-- operator adds:
--
--   sentiment_lexicon          an operator's own word priors (override)
--   sentiment_weights          weights learned by train_sentiment(); when it
--                              has rows they replace the default weights
--
-- Each backend caches the model; a statement trigger on every model table
-- sends an invalidation, so a change is seen by other sessions from their
-- next transaction.  The tables hold user data and are dumped by pg_dump.
-- See docs/sentiment.md.

CREATE TABLE @extschema@.sentiment_lexicon (
	term        text PRIMARY KEY
	            CHECK (pg_catalog.octet_length(term) BETWEEN 1 AND 64
	                   AND pg_catalog."left"(term, 1) NOT IN ('!', '#')),
	weight      real NOT NULL CHECK (weight BETWEEN -100 AND 100),
	note        text
);
COMMENT ON TABLE @extschema@.sentiment_lexicon IS
	'Word priors added by operators; they override the default and built-in priors.  Chinese words of up to 8 characters also join the segmentation.';

-- the model loader's own rule for a learned feature name, from the C core
-- (sent_weight_key_ok): a row the loader would refuse is refused at once,
-- instead of failing every backend's next model load (DP502)
CREATE FUNCTION @extschema@._sentiment_feature_ok(feature text) RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_sentiment_feature_ok';
COMMENT ON FUNCTION @extschema@._sentiment_feature_ok(text) IS
	'Internal: whether the sentiment model loader accepts a learned feature name (sentiment_weights_feature_check): an optional "!" (negated), an optional "#" (Chinese bigram), then 1 to 64 bytes of UTF-8 that do not start with "!" or "#".  The rule is the C core''s (src/sentiment_core.c), the one the loader applies.';
REVOKE ALL ON FUNCTION @extschema@._sentiment_feature_ok(text) FROM PUBLIC;
-- the CHECK runs as whoever writes the table: admins, and train_sentiment
-- (not SECURITY DEFINER) for them
GRANT EXECUTE ON FUNCTION @extschema@._sentiment_feature_ok(text) TO dispatch_admin;

CREATE TABLE @extschema@.sentiment_weights (
	feature     text PRIMARY KEY
	            CONSTRAINT sentiment_weights_feature_check CHECK (@extschema@._sentiment_feature_ok(feature)),
	weight      real NOT NULL CHECK (weight BETWEEN -100 AND 100)
);
COMMENT ON TABLE @extschema@.sentiment_weights IS
	'Weights learned by train_sentiment().  When this table has rows, they replace the default weights built into the module as a whole; empty it to go back to the default model.';

CREATE TABLE @extschema@.sentiment_training (
	trained_at  timestamptz PRIMARY KEY DEFAULT pg_catalog.clock_timestamp(),
	trained_by  name NOT NULL DEFAULT CURRENT_USER,
	query       text NOT NULL,
	documents   bigint NOT NULL,
	positives   bigint NOT NULL,
	features    integer NOT NULL
);
COMMENT ON TABLE @extschema@.sentiment_training IS
	'One row per train_sentiment() run: who, when, on which query, with how many documents and features.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.sentiment_lexicon', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sentiment_weights', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sentiment_training', '');

-- the scorer reads the model as the extension's owner (src/sentiment.c):
-- app and analysts need no access to these tables
GRANT SELECT ON @extschema@.sentiment_lexicon, @extschema@.sentiment_weights,
	@extschema@.sentiment_training TO dispatch_admin;
GRANT INSERT, UPDATE, DELETE, TRUNCATE ON @extschema@.sentiment_lexicon,
	@extschema@.sentiment_weights, @extschema@.sentiment_training TO dispatch_admin;

-- cache invalidation: any change to a model table reaches every backend
CREATE FUNCTION @extschema@.sentiment_model_changed() RETURNS trigger
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_sentiment_model_changed';
COMMENT ON FUNCTION @extschema@.sentiment_model_changed() IS
	'Statement trigger on the sentiment model tables: invalidates the model cached by every backend.';
REVOKE ALL ON FUNCTION @extschema@.sentiment_model_changed() FROM PUBLIC;

CREATE TRIGGER sentiment_lexicon_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.sentiment_lexicon
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.sentiment_model_changed();
CREATE TRIGGER sentiment_weights_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.sentiment_weights
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.sentiment_model_changed();
COMMENT ON TRIGGER sentiment_lexicon_changed ON @extschema@.sentiment_lexicon IS
	'Invalidates the cached sentiment model of every backend.';
COMMENT ON TRIGGER sentiment_weights_changed ON @extschema@.sentiment_weights IS
	'Invalidates the cached sentiment model of every backend.';

-- scoring
CREATE FUNCTION @extschema@.sentiment(review text) RETURNS real
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_sentiment';
COMMENT ON FUNCTION @extschema@.sentiment(text) IS
	'Sentiment of a review in [-1, 1] (Chinese, English or mixed): lexicon and learned weights with negation, degree words, contrast, emphasis and emoji.  0 when nothing is recognised.  STABLE, not IMMUTABLE: the model can change.';
REVOKE ALL ON FUNCTION @extschema@.sentiment(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sentiment(text) TO dispatch_app, dispatch_analyst, dispatch_admin;

CREATE FUNCTION @extschema@.sentiment(review bytea) RETURNS real
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_sentiment_bytea';
COMMENT ON FUNCTION @extschema@.sentiment(bytea) IS
	'Sentiment of raw bytes that should be UTF-8 (text from a source of undeclared encoding).  Invalid UTF-8 raises SQLSTATE 22021.';
REVOKE ALL ON FUNCTION @extschema@.sentiment(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sentiment(bytea) TO dispatch_app, dispatch_analyst, dispatch_admin;

CREATE FUNCTION @extschema@.feedback_topics(review text) RETURNS text[]
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_feedback_topics';
COMMENT ON FUNCTION @extschema@.feedback_topics(text) IS
	'Complaint topics a review raises, negation-aware ("不慢" is not late): late, cold, spilled (spills and packaging), wrong_item, missing_item, rider_attitude, taste, portion, price, hygiene.';
REVOKE ALL ON FUNCTION @extschema@.feedback_topics(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.feedback_topics(text) TO dispatch_app, dispatch_analyst, dispatch_admin;

CREATE FUNCTION @extschema@.sentiment_features(review text) RETURNS text[]
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_sentiment_features';
COMMENT ON FUNCTION @extschema@.sentiment_features(text) IS
	'Features the scorer sees in a text, in order: words, "#" Chinese bigrams, "!" negated features.  What train_sentiment() counts.';
REVOKE ALL ON FUNCTION @extschema@.sentiment_features(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sentiment_features(text) TO dispatch_analyst, dispatch_admin;

-- training
CREATE FUNCTION @extschema@._sentiment_weight(feature text, log_odds double precision)
RETURNS double precision
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_sentiment_weight';
COMMENT ON FUNCTION @extschema@._sentiment_weight(text, double precision) IS
	'The weight train_sentiment() learns for a feature with this naive-Bayes log-odds, NULL when it is too weak to keep: weak log-odds are dropped, the rest clipped and scaled, less for Chinese bigrams.  The rule and its constants are the C core''s (src/sentiment_core.h), which tools/sentiment/train.py reads too.';
REVOKE ALL ON FUNCTION @extschema@._sentiment_weight(text, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._sentiment_weight(text, double precision) TO dispatch_admin;

CREATE FUNCTION @extschema@.train_sentiment(query text,
                                            min_documents integer DEFAULT 3,
                                            max_features integer DEFAULT 50000,
                                            smoothing double precision DEFAULT 1.0)
RETURNS integer
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
AS $fn$
DECLARE
	v_docs      bigint;
	v_pos       bigint;
	v_features  integer;
BEGIN
	-- not STRICT: a NULL query or option is an error, not a NULL result
	-- that trains nothing
	IF query IS NULL THEN
		RAISE EXCEPTION 'training needs a query'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'The query must return (text, label) with label castable to boolean, e.g. rating >= 4.';
	END IF;
	IF min_documents IS NULL OR max_features IS NULL OR smoothing IS NULL
	   OR min_documents OPERATOR(pg_catalog.<) 1 OR max_features OPERATOR(pg_catalog.<) 1
	   OR smoothing OPERATOR(pg_catalog.<=) 0 THEN
		RAISE EXCEPTION 'invalid training option'
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'min_documents and max_features must be at least 1, smoothing above 0; none of them NULL.';
	END IF;
	PERFORM @extschema@._check_length('training_query', query);

	-- one trainer at a time; scorers keep reading the old model meanwhile
	LOCK TABLE @extschema@.sentiment_weights IN EXCLUSIVE MODE;

	-- the caller's query runs once, with the caller's rights and search_path
	IF pg_catalog.to_regclass('pg_temp.sentiment_training_docs') IS NULL THEN
		CREATE TEMP TABLE sentiment_training_docs (
			doc bigint, label boolean, body text) ON COMMIT DROP;
	ELSE
		TRUNCATE pg_temp.sentiment_training_docs;
	END IF;
	EXECUTE pg_catalog.format(
		'INSERT INTO pg_temp.sentiment_training_docs (doc, label, body) '
		'SELECT pg_catalog.row_number() OVER (), q.label::pg_catalog.bool, q.body::pg_catalog.text '
		'  FROM (%s) AS q (body, label) '
		' WHERE q.body IS NOT NULL AND q.label IS NOT NULL', query);

	SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE d.label)
	  INTO v_docs, v_pos
	  FROM pg_temp.sentiment_training_docs d;
	IF v_pos OPERATOR(pg_catalog.=) 0 OR v_pos OPERATOR(pg_catalog.=) v_docs THEN
		RAISE EXCEPTION 'training needs both positive and negative documents'
			USING ERRCODE = 'DP503',
			      DETAIL = pg_catalog.format('The query gave %s documents, %s of them positive.', v_docs, v_pos),
			      HINT = 'The query must return (text, label) with label castable to boolean, e.g. rating >= 4.';
	END IF;

	DELETE FROM @extschema@.sentiment_weights;

	-- naive-Bayes log-odds over document frequencies, as tools/sentiment/train.py;
	-- _sentiment_weight() turns them into weights with the constants train.py
	-- uses (note: OPERATOR() forms all bind alike, left to right: parenthesise)
	WITH feats AS (
		SELECT DISTINCT d.doc, d.label, f.feature
		  FROM pg_temp.sentiment_training_docs d,
		       pg_catalog.unnest(@extschema@.sentiment_features(d.body)) AS f (feature)
	), counts AS (
		SELECT f.feature,
		       pg_catalog.count(*) FILTER (WHERE f.label)::float8 AS pos,
		       pg_catalog.count(*) FILTER (WHERE NOT f.label)::float8 AS neg
		  FROM feats f
		 GROUP BY f.feature
		HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>=) min_documents
	), totals AS (
		SELECT pg_catalog.sum(c.pos) AS tp, pg_catalog.sum(c.neg) AS tn,
		       pg_catalog.count(*)::float8 AS v
		  FROM counts c
	), raw AS (
		SELECT c.feature, c.pos OPERATOR(pg_catalog.+) c.neg AS df,
		       pg_catalog.ln((c.pos OPERATOR(pg_catalog.+) smoothing)
		                     OPERATOR(pg_catalog./) (t.tp OPERATOR(pg_catalog.+) (smoothing OPERATOR(pg_catalog.*) t.v)))
		       OPERATOR(pg_catalog.-)
		       pg_catalog.ln((c.neg OPERATOR(pg_catalog.+) smoothing)
		                     OPERATOR(pg_catalog./) (t.tn OPERATOR(pg_catalog.+) (smoothing OPERATOR(pg_catalog.*) t.v)))
		       AS lo
		  FROM counts c, totals t
	), scaled AS (
		SELECT w.feature, w.df, w.weight
		  FROM (SELECT r.feature, r.df, @extschema@._sentiment_weight(r.feature, r.lo) AS weight
		          FROM raw r) AS w
		 WHERE w.weight IS NOT NULL
	)
	INSERT INTO @extschema@.sentiment_weights (feature, weight)
	SELECT s.feature, s.weight::real
	  FROM scaled s
	 ORDER BY s.df OPERATOR(pg_catalog.*) pg_catalog.abs(s.weight) DESC, s.feature COLLATE "C"
	 LIMIT max_features;
	GET DIAGNOSTICS v_features = ROW_COUNT;

	INSERT INTO @extschema@.sentiment_training (query, documents, positives, features)
	VALUES (query, v_docs, v_pos, v_features);
	RETURN v_features;
END
$fn$;
COMMENT ON FUNCTION @extschema@.train_sentiment(text, integer, integer, double precision) IS
	'Learns sentiment weights from any query returning (text, label), label castable to boolean (e.g. rating >= 4 for star ratings), and replaces the learned weights in one transaction.  The same data gives the same weights.  Returns the number of features kept.  A NULL query or option, min_documents or max_features below 1, or smoothing not above 0 is refused (22023) and changes nothing.';
REVOKE ALL ON FUNCTION @extschema@.train_sentiment(text, integer, integer, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.train_sentiment(text, integer, integer, double precision) TO dispatch_admin;
