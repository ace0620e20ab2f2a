-- sql/12_settings.sql
-- The module's settings (dispatch.*, defined in src/dispatch.c) as the SQL
-- parts read them: through the module, never with current_setting(), which
-- fails in a session that has not loaded the module yet (an application
-- server's fresh connection whose first statement is an API call).

CREATE FUNCTION @extschema@._setting_int(name text) RETURNS integer
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_setting_int';
COMMENT ON FUNCTION @extschema@._setting_int(text) IS
	'Internal: the value of an integer setting of the extension, by its full name (dispatch.max_order_cents).';
REVOKE ALL ON FUNCTION @extschema@._setting_int(text) FROM PUBLIC;
