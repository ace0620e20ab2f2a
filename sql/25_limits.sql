-- sql/25_limits.sql
-- Input limits.  Every free-text argument of the API (names, addresses,
-- descriptions, reasons, comments, references, versions) and the item list
-- of place_order have a maximum size, listed once here (input_limits()) and
-- checked by one helper (_check_length()) with the other argument checks at
-- the top of each function, before anything is written.  Past its limit a
-- call is refused with DP028 (the message names the input and its limit);
-- nothing is truncated.  docs/api.md lists which argument has which limit.
--
-- Text is measured in characters (pg_catalog.length), so a Chinese name
-- gets as many characters as an English one; an item list in lines (array
-- elements).  Arguments that must be one of a few fixed values (priority,
-- purpose, channel, data class, time zone) are checked against those values
-- and need no limit of their own.

CREATE FUNCTION @extschema@.input_limits()
RETURNS TABLE (input text, max_length integer, unit text)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
	SELECT l.input, l.max_length, l.unit
	  FROM (VALUES
	        ('zone_name',          100,   'characters'),
	        ('merchant_name',      200,   'characters'),
	        ('item_name',          200,   'characters'),
	        ('customer_name',      100,   'characters'),
	        ('rider_name',         100,   'characters'),
	        ('phone',              32,    'characters'),
	        ('dropoff_address',    500,   'characters'),
	        ('coupon_code',        64,    'characters'),
	        ('errand_description', 2000,  'characters'),
	        ('provider_ref',       200,   'characters'),
	        ('reason',             200,   'characters'),
	        ('dispatcher',         100,   'characters'),
	        ('feedback_comment',   2000,  'characters'),
	        ('policy_version',     64,    'characters'),
	        ('training_query',     10000, 'characters'),
	        ('database_name',      63,    'characters'),
	        ('items',              100,   'lines'),
	        ('items_text',         8192,  'characters'),
	        ('sync_items',         1000,  'lines'),
	        ('sync_item',          1024,  'characters'),
	        ('client_event_id',    100,   'characters')
	       ) AS l (input, max_length, unit)
	 ORDER BY l.input;
END;
COMMENT ON FUNCTION @extschema@.input_limits() IS
	'The maximum size of every free-text input of the API (characters) and of place_order''s item list (lines, and characters of its JSON text); past it a call is refused with DP028.  docs/api.md maps arguments to these names.';

CREATE FUNCTION @extschema@._check_length(p_input text, p_value anyelement) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_max integer;
	v_unit text;
	v_size bigint;
BEGIN
	SELECT l.max_length, l.unit INTO v_max, v_unit
	  FROM @extschema@.input_limits() l
	 WHERE l.input OPERATOR(pg_catalog.=) p_input;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no input limit is named "%"', p_input USING ERRCODE = 'internal_error';
	END IF;
	IF p_value IS NULL THEN
		RETURN;
	END IF;
	IF v_unit OPERATOR(pg_catalog.=) 'characters' THEN
		v_size := pg_catalog.length(p_value::text);
	ELSIF pg_catalog.pg_typeof(p_value) OPERATOR(pg_catalog.<>) 'pg_catalog.jsonb'::pg_catalog.regtype THEN
		RAISE EXCEPTION 'input limit "%" counts the elements of a jsonb array', p_input
			USING ERRCODE = 'internal_error';
	ELSIF pg_catalog.jsonb_typeof(p_value::jsonb) OPERATOR(pg_catalog.=) 'array' THEN
		v_size := pg_catalog.jsonb_array_length(p_value::jsonb);
	ELSE
		RETURN;                        -- not a list: the caller checks its shape
	END IF;
	IF v_size OPERATOR(pg_catalog.>) v_max THEN
		RAISE EXCEPTION 'input too long: % has more than % %', p_input, v_max, v_unit
			USING ERRCODE = 'DP028',
			      DETAIL = pg_catalog.format('It has %s %s.', v_size, v_unit),
			      HINT = 'SELECT * FROM dispatch.input_limits() lists every limit.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_length(text, anyelement) IS
	'Internal: refuses (DP028) a text longer than the limit of input_limits() named p_input (in characters), or a jsonb array with more elements; NULL passes.';

REVOKE ALL ON FUNCTION @extschema@.input_limits() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.input_limits() TO dispatch_app, dispatch_admin;
-- mask_phone and train_sentiment run with the caller's rights
REVOKE ALL ON FUNCTION @extschema@._check_length(text, anyelement) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._check_length(text, anyelement) TO dispatch_app, dispatch_admin;
