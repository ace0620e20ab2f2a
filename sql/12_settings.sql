-- sql/12_settings.sql
-- What the module defines and the SQL parts read through it: the settings
-- (dispatch.*, defined in src/dispatch.c) and the advisory lock keys
-- (src/locks.h).  Settings are read through the module, never with
-- current_setting(), which fails in a session that has not loaded the
-- module yet (an application server's fresh connection whose first
-- statement is an API call).

CREATE FUNCTION @extschema@._setting_int(name text) RETURNS integer
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_setting_int';
COMMENT ON FUNCTION @extschema@._setting_int(text) IS
	'Internal: the value of an integer setting of the extension, by its full name (dispatch.max_order_cents).';
REVOKE ALL ON FUNCTION @extschema@._setting_int(text) FROM PUBLIC;

CREATE FUNCTION @extschema@._lock_key(name text) RETURNS bigint
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_lock_key';
COMMENT ON FUNCTION @extschema@._lock_key(text) IS
	'Internal: an advisory lock key of src/locks.h by name: the class (first key) of the zone, customer and rider locks, the single key of the purge lock.';
REVOKE ALL ON FUNCTION @extschema@._lock_key(text) FROM PUBLIC;
-- purge_expired is a procedure (it commits between batches), so it runs as
-- its caller and takes the purge lock itself
GRANT EXECUTE ON FUNCTION @extschema@._lock_key(text) TO dispatch_admin;
