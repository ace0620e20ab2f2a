-- sql/99_finish.sql
-- Last steps of the install script.
--
-- 1. A check: every function of the extension that sets a search_path sets
--    exactly pg_catalog, pg_temp.  The schemas of PostGIS and pgcrypto are
--    never on it (they may be writable by others; sql/15_dependencies.sql
--    reaches them), and a caller's search_path never reaches our functions.
-- 2. A safety net: no function of the extension stays executable by PUBLIC
--    unless granted on purpose above (none is).

DO $finish$
DECLARE
	v_fn regprocedure;
BEGIN
	SELECT p.oid::regprocedure INTO v_fn
	  FROM pg_catalog.pg_proc p, pg_catalog.unnest(p.proconfig) c
	 WHERE p.pronamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace
	   AND c OPERATOR(pg_catalog.~~) 'search\_path=%'
	   AND c OPERATOR(pg_catalog.<>) 'search_path=pg_catalog, pg_temp'
	 LIMIT 1;
	IF v_fn IS NOT NULL THEN
		RAISE EXCEPTION 'function % sets another search_path than pg_catalog, pg_temp', v_fn;
	END IF;

	FOR v_fn IN
		SELECT p.oid::regprocedure
		  FROM pg_catalog.pg_proc p
		 WHERE p.pronamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace
		   AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')
	LOOP
		EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', v_fn);
	END LOOP;
END
$finish$;
