-- sql/00_header.sql
-- The install script of the dispatch extension is assembled from the files
-- in sql/, in file-name order (see the Makefile).  Objects of the extension
-- are named @extschema@.x; built-ins pg_catalog.x.  PostGIS and pgcrypto
-- live in whatever schema they were installed in: functions that use them
-- get that schema pinned into their search_path at the end of the script
-- (sql/99_finish.sql), after pg_catalog.

\echo Use "CREATE EXTENSION dispatch CASCADE" to load this file. \quit

-- CREATE EXTENSION puts everything into schema @extschema@, and creates it
-- only where it does not exist yet.  A schema of that name made beforehand
-- by another role would receive this extension's objects beside whatever
-- that role put there, and the role could replace them with its own (the
-- class of CVE-2022-2625).  So the install goes on only if the schema
-- belongs to the installing role or a superuser, no other role may create
-- objects in it, and nothing in it belongs to anyone else.
DO $schema$
DECLARE
	v_owner name;
	v_trusted boolean;
	v_others text;
	v_objects text;
BEGIN
	SELECT r.rolname, r.rolsuper OR r.rolname OPERATOR(pg_catalog.=) CURRENT_USER
	  INTO v_owner, v_trusted
	  FROM pg_catalog.pg_namespace n
	  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
	 WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace;
	IF NOT v_trusted THEN
		RAISE EXCEPTION 'schema @extschema@ belongs to role %, which is not the role installing the extension', v_owner
			USING ERRCODE = 'DP901',
			      DETAIL = 'Its owner could replace the extension''s functions and tables with its own.',
			      HINT = 'Drop the schema (after checking what it holds) and run CREATE EXTENSION again; it creates the schema itself.';
	END IF;
	SELECT pg_catalog.string_agg(DISTINCT COALESCE(r.rolname, 'PUBLIC'), ', ')
	  INTO v_others
	  FROM pg_catalog.pg_namespace n
	 CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
	  LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
	 WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
	   AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
	   AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
	   AND NOT COALESCE(r.rolsuper, false);
	IF v_others IS NOT NULL THEN
		RAISE EXCEPTION 'roles other than its owner may create objects in schema @extschema@: %', v_others
			USING ERRCODE = 'DP901',
			      HINT = 'Revoke CREATE on the schema from them, check what they created there, and run CREATE EXTENSION again.';
	END IF;
	SELECT pg_catalog.string_agg(o.what, ', ' ORDER BY o.what)
	  INTO v_objects
	  FROM (SELECT pg_catalog.format('%s (owned by %s)', c.oid::pg_catalog.regclass, r.rolname) AS what, r.rolname, r.rolsuper
	          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) c.relowner
	         WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
	        UNION ALL
	        SELECT pg_catalog.format('%s (owned by %s)', p.oid::pg_catalog.regprocedure, r.rolname), r.rolname, r.rolsuper
	          FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) p.proowner
	         WHERE p.pronamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
	        UNION ALL
	        SELECT pg_catalog.format('type %s (owned by %s)', t.oid::pg_catalog.regtype, r.rolname), r.rolname, r.rolsuper
	          FROM pg_catalog.pg_type t JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) t.typowner
	         WHERE t.typnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
	           AND t.typrelid OPERATOR(pg_catalog.=) 0 AND t.typcategory OPERATOR(pg_catalog.<>) 'A'
	        UNION ALL
	        SELECT pg_catalog.format('operator %s (owned by %s)', o.oid::pg_catalog.regoperator, r.rolname), r.rolname, r.rolsuper
	          FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) o.oprowner
	         WHERE o.oprnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace) o
	 WHERE NOT o.rolsuper AND o.rolname OPERATOR(pg_catalog.<>) CURRENT_USER;
	IF v_objects IS NOT NULL THEN
		RAISE EXCEPTION 'schema @extschema@ holds objects of other roles: %', v_objects
			USING ERRCODE = 'DP901',
			      HINT = 'Drop them, or the schema, and run CREATE EXTENSION again.';
	END IF;
END
$schema$;
