-- sql/25_limits.sql
-- Input limits.  Every free-text argument of the API (names, addresses,
-- descriptions, reasons, comments, references, versions) and the item list
-- of place_order have a maximum size, listed once (input_limits()) and
-- checked by one helper (_check_length()), both in src/limits.c, with the
-- other argument checks at the top of each function, before anything is
-- written.  Past its limit a call is refused with DP028 (the message names
-- the input and its limit); nothing is truncated.  docs/api.md lists which argument has which limit.
--
-- Text is measured in characters (pg_catalog.length), so a Chinese name
-- gets as many characters as an English one; an item list in lines (array
-- elements).  Arguments that must be one of a few fixed values (priority,
-- purpose, channel, data class, time zone) are checked against those values
-- and need no limit of their own.

CREATE FUNCTION @extschema@.input_limits()
RETURNS TABLE (input text, max_length integer, unit text)
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 21
AS 'MODULE_PATHNAME', 'dispatch_input_limits';
COMMENT ON FUNCTION @extschema@.input_limits() IS
	'The maximum size of every free-text input of the API (characters) and of place_order''s item list (lines, and characters of its JSON text); past it a call is refused with DP028.  docs/api.md maps arguments to these names.';

CREATE FUNCTION @extschema@._check_length(p_input text, p_value anyelement) RETURNS void
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_check_length';
COMMENT ON FUNCTION @extschema@._check_length(text, anyelement) IS
	'Internal: refuses (DP028) a text longer than the limit of input_limits() named p_input (in characters), or a jsonb array with more elements; NULL passes.';

-- a required text (a name, a reason, a description, a version) is
-- missing when it is NULL, empty or only ASCII white space: one rule for
-- every such argument (DP025 or the call's own code at its call site);
-- the same function as C callers' check (src/limits.c)
CREATE FUNCTION @extschema@._is_blank(p_value text) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_is_blank';
COMMENT ON FUNCTION @extschema@._is_blank(text) IS
	'Internal: whether a required text is missing: NULL, empty, or only ASCII white space (space, tab, line feed, carriage return, form feed, vertical tab).';
REVOKE ALL ON FUNCTION @extschema@._is_blank(text) FROM PUBLIC;

CREATE FUNCTION @extschema@._trim_blanks(p_value text) RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_trim_blanks';
COMMENT ON FUNCTION @extschema@._trim_blanks(text) IS
	'Internal: the text without the ASCII white space around it (the blanks of _is_blank), as a provider''s reference is taken.';
REVOKE ALL ON FUNCTION @extschema@._trim_blanks(text) FROM PUBLIC;

-- the size of a batch of the long-running maintenance calls (purge,
-- key rotations): checked once, here, for all of them
CREATE FUNCTION @extschema@._check_batch_size(p_batch_size integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_batch_size IS NULL OR p_batch_size OPERATOR(pg_catalog.<) 1
	   OR p_batch_size OPERATOR(pg_catalog.>) 100000 THEN
		RAISE EXCEPTION 'batch_size must be between 1 and 100000' USING ERRCODE = 'DP411';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_batch_size(integer) IS
	'Internal: refuses (DP411) a batch size of the maintenance calls outside 1 to 100000, or NULL.';
REVOKE ALL ON FUNCTION @extschema@._check_batch_size(integer) FROM PUBLIC;

-- the arguments of the text purges (purge_survey_text, purge_feedback_text):
-- a NULL cut-off or batch would answer NULL, a batch of 0 purge nothing and
-- answer 0, and a caller's loop "until 0" would end with nothing purged
CREATE FUNCTION @extschema@._check_purge_args(p_older_than timestamptz, p_batch integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_older_than IS NULL THEN
		RAISE EXCEPTION 'a purge needs its cut-off (older_than)' USING ERRCODE = 'DP411';
	END IF;
	PERFORM @extschema@._check_batch_size(p_batch);
END
$$;
COMMENT ON FUNCTION @extschema@._check_purge_args(timestamptz, integer) IS
	'Internal (purge_survey_text, purge_feedback_text): refuses (DP411) a NULL cut-off, and a batch as _check_batch_size does.';
REVOKE ALL ON FUNCTION @extschema@._check_purge_args(timestamptz, integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION @extschema@.input_limits() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.input_limits() TO dispatch_app, dispatch_admin;
-- mask_phone and train_sentiment run with the caller's rights
REVOKE ALL ON FUNCTION @extschema@._check_length(text, anyelement) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._check_length(text, anyelement) TO dispatch_app, dispatch_admin;
