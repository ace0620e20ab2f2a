-- test/upgrade/catalog.sql: the catalog of the dispatch extension as sorted
-- lines of text, so that two databases can be compared with diff.
--
-- pg_dump leaves an extension's own objects out of a dump, so this lists
-- them from the catalog: every object that pg_depend ties to the extension
-- (deptype 'e'), with what defines it.  Tables: kind, options, owner,
-- grants, comment; every column (type, NOT NULL, default, identity,
-- generated, collation, grants, comment), constraint, index, trigger, rule
-- and policy.  Sequences: their parameters and owning column.  Views:
-- their query and columns.  Functions and procedures: pg_get_functiondef()
-- (language, volatility, strictness, security, parallel safety, settings,
-- body), grants, comment.  Types and everything else: their identity.
-- Then the extension itself (version, configuration tables with their
-- dump conditions) and the grants on its schema.  Column order is not
-- compared: an upgrade appends columns, a fresh install may define them
-- elsewhere, and nothing of ours reads columns by position.
--
-- With -v content=1 it also lists a digest of the rows of every table,
-- leaving out columns of time types (they hold the time of install): for
-- comparing databases that hold only what the install scripts wrote.
--
-- Every object is one line (newlines in definitions are written \n).
--
-- Usage: psql -X -At -v content=0|1 -f test/upgrade/catalog.sql
\set ON_ERROR_STOP on
SET search_path = pg_catalog;
SET client_min_messages = warning;

CREATE TEMP VIEW ext_member AS
SELECT d.classid, d.objid
  FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
 WHERE e.extname = 'dispatch' AND d.deptype = 'e';

CREATE TEMP VIEW ext_rel AS
SELECT c.oid, c.relname, c.relkind, format('%I.%I', n.nspname, c.relname) AS qname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid IN (SELECT objid FROM ext_member WHERE classid = 'pg_class'::regclass);

-- grants as sorted "grantee:privilege[*]" (PUBLIC for the pseudo-role 0)
CREATE FUNCTION pg_temp.acl_text(a aclitem[]) RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(string_agg(
	         coalesce((SELECT rolname FROM pg_roles WHERE oid = x.grantee), 'PUBLIC')
	         || ':' || x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END,
	         ',' ORDER BY 1), '(default)')
	  FROM aclexplode(a) x
$$;

WITH lines(line) AS (
	-- relations
	SELECT format('relation %s | kind %s | persistence %s | owner %s | options %s | rls %s | acl %s | comment %s',
	              r.qname, r.relkind, c.relpersistence, pg_get_userbyid(c.relowner),
	              coalesce(array_to_string(c.reloptions, ','), '-'), c.relrowsecurity,
	              pg_temp.acl_text(c.relacl), coalesce(obj_description(c.oid, 'pg_class'), '-'))
	  FROM ext_rel r JOIN pg_class c ON c.oid = r.oid
	UNION ALL
	-- columns
	SELECT format('column %s.%I | %s | not null %s | default %s | identity %s | generated %s | collation %s | acl %s | comment %s',
	              r.qname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
	              coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-'), nullif(a.attidentity, ''),
	              nullif(a.attgenerated, ''),
	              CASE WHEN a.attcollation <> t.typcollation THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END,
	              pg_temp.acl_text(a.attacl), coalesce(col_description(a.attrelid, a.attnum), '-'))
	  FROM ext_rel r
	  JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	  JOIN pg_type t ON t.oid = a.atttypid
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	UNION ALL
	-- constraints
	SELECT format('constraint %s %I | %s | deferrable %s | comment %s', r.qname, k.conname,
	              pg_get_constraintdef(k.oid), k.condeferrable, coalesce(obj_description(k.oid, 'pg_constraint'), '-'))
	  FROM ext_rel r JOIN pg_constraint k ON k.conrelid = r.oid
	UNION ALL
	-- indexes
	SELECT format('index %s | %s | comment %s', r.qname, pg_get_indexdef(i.indexrelid),
	              coalesce(obj_description(i.indexrelid, 'pg_class'), '-'))
	  FROM ext_rel r JOIN pg_index i ON i.indrelid = r.oid
	UNION ALL
	-- triggers
	SELECT format('trigger %s | %s | enabled %s | comment %s', r.qname, pg_get_triggerdef(g.oid), g.tgenabled,
	              coalesce(obj_description(g.oid, 'pg_trigger'), '-'))
	  FROM ext_rel r JOIN pg_trigger g ON g.tgrelid = r.oid AND NOT g.tgisinternal
	UNION ALL
	-- rules other than a view's own
	SELECT format('rule %s %I | %s', r.qname, w.rulename, pg_get_ruledef(w.oid))
	  FROM ext_rel r JOIN pg_rewrite w ON w.ev_class = r.oid
	 WHERE NOT (r.relkind = 'v' AND w.rulename = '_RETURN')
	UNION ALL
	-- row security policies
	SELECT format('policy %s %I | %s | %s | using %s | check %s', r.qname, p.polname, p.polcmd, p.polpermissive,
	              coalesce(pg_get_expr(p.polqual, p.polrelid), '-'), coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-'))
	  FROM ext_rel r JOIN pg_policy p ON p.polrelid = r.oid
	UNION ALL
	-- views
	SELECT format('view %s | %s', r.qname, pg_get_viewdef(r.oid))
	  FROM ext_rel r WHERE r.relkind IN ('v', 'm')
	UNION ALL
	-- sequences
	SELECT format('sequence %s | %s | start %s | increment %s | min %s | max %s | cache %s | cycle %s | owned by %s',
	              r.qname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
	              s.seqcache, s.seqcycle,
	              coalesce((SELECT format('%s.%I', d.refobjid::regclass, a.attname)
	                          FROM pg_depend d
	                          JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
	                         WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid
	                           AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')), '-'))
	  FROM ext_rel r JOIN pg_sequence s ON s.seqrelid = r.oid
	UNION ALL
	-- functions and procedures
	SELECT format('routine %s | acl %s | comment %s | %s', p.oid::regprocedure,
	              pg_temp.acl_text(p.proacl), coalesce(obj_description(p.oid, 'pg_proc'), '-'),
	              CASE WHEN p.prokind IN ('f', 'p', 'w') THEN pg_get_functiondef(p.oid) ELSE p.prokind::text END)
	  FROM pg_proc p
	 WHERE p.oid IN (SELECT objid FROM ext_member WHERE classid = 'pg_proc'::regclass)
	UNION ALL
	-- types that are not a relation's row type
	SELECT format('type %s | %s | comment %s', format_type(t.oid, NULL), t.typtype,
	              coalesce(obj_description(t.oid, 'pg_type'), '-'))
	  FROM pg_type t
	 WHERE t.oid IN (SELECT objid FROM ext_member WHERE classid = 'pg_type'::regclass)
	UNION ALL
	-- anything else that belongs to the extension
	SELECT format('object %s', pg_describe_object(m.classid, m.objid, 0))
	  FROM ext_member m
	 WHERE m.classid NOT IN ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass)
	UNION ALL
	-- the extension
	SELECT format('extension dispatch | version %s | schema %s | relocatable %s',
	              e.extversion, e.extnamespace::regnamespace, e.extrelocatable)
	  FROM pg_extension e WHERE e.extname = 'dispatch'
	UNION ALL
	SELECT format('config dump %s | %s', c.rel::regclass, coalesce(nullif(c.cond, ''), '(all rows)'))
	  FROM pg_extension e,
	       LATERAL unnest(e.extconfig, e.extcondition) AS c(rel, cond)
	 WHERE e.extname = 'dispatch'
	UNION ALL
	SELECT format('schema %I | owner %s | acl %s | comment %s', n.nspname, pg_get_userbyid(n.nspowner),
	              pg_temp.acl_text(n.nspacl), coalesce(obj_description(n.oid, 'pg_namespace'), '-'))
	  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
	 WHERE e.extname = 'dispatch'
)
-- one object a line: newlines inside definitions become \n
SELECT replace(line, E'\n', '\n') AS line FROM lines ORDER BY line COLLATE "C";

-- the rows of every table, without time columns
\if :content
CREATE TEMP TABLE table_digest (line text);
DO $digest$
DECLARE
	r record;
	v_cols text;
	v_line text;
BEGIN
	FOR r IN SELECT oid, qname FROM ext_rel WHERE relkind IN ('r', 'p') ORDER BY qname LOOP
		SELECT string_agg(format('%I', a.attname), ', ' ORDER BY a.attname) INTO v_cols
		  FROM pg_attribute a
		 WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
		   AND a.atttypid NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype);
		EXECUTE format('SELECT format(''rows %%s | %%s | %%s'', %L, count(*), md5(coalesce(string_agg(x::text, E''\n'' ORDER BY x::text COLLATE "C"), '''')))'
		               ' FROM (SELECT %s FROM %s) x', r.qname, v_cols, r.qname)
		   INTO v_line;
		INSERT INTO table_digest VALUES (v_line);
	END LOOP;
END
$digest$;
SELECT line FROM table_digest ORDER BY line COLLATE "C";
\endif
