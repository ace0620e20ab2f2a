-- sql/99_finish.sql
-- Last steps of the install script.
--
-- 1. PL/pgSQL functions, and C functions that run SPI queries, resolve
--    PostGIS and pgcrypto names at run time, so each one that was created
--    with search_path = pg_catalog, pg_temp gets
--    the schemas those two extensions were installed in pinned after
--    pg_catalog, as they are now (PostgreSQL 15 has no @extschema:name@).
--    A caller's search_path then never reaches any of our functions.
-- 2. A safety net: no function of the extension stays executable by PUBLIC
--    unless granted on purpose above (none is).

DO $finish$
DECLARE
	v_path text := 'pg_catalog';
	v_schema name;
	v_fn regprocedure;
BEGIN
	FOR v_schema IN
		SELECT DISTINCT n.nspname
		  FROM pg_catalog.pg_extension e
		  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
		 WHERE e.extname IN ('postgis', 'pgcrypto')
		 ORDER BY n.nspname
	LOOP
		IF v_schema OPERATOR(pg_catalog.<>) 'pg_catalog' THEN
			v_path := v_path OPERATOR(pg_catalog.||) ', ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(v_schema);
		END IF;
	END LOOP;
	v_path := v_path OPERATOR(pg_catalog.||) ', pg_temp';

	FOR v_fn IN
		SELECT p.oid::regprocedure
		  FROM pg_catalog.pg_proc p
		  JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang
		 WHERE p.pronamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace
		   AND l.lanname IN ('plpgsql', 'c')
		   AND 'search_path=pg_catalog, pg_temp' OPERATOR(pg_catalog.=) ANY (p.proconfig)
	LOOP
		EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = %s', v_fn, v_path);
	END LOOP;

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
