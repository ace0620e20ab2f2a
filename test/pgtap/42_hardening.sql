-- test/pgtap/42_hardening.sql: the clock belongs to superusers, PostGIS and
-- pgcrypto are reached only through names bound at install time, what
-- encrypts is volatile, and no SECURITY DEFINER job writes a temporary
-- table its caller made.
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SELECT plan(28);

-- the clock: superuser only, checked when set.  (Before the module is
-- loaded a session may set any dispatch.* name as a placeholder; loading
-- the module then drops a value the session may not set, with a warning:
-- test/tap/first_call.t.  Here the module is loaded first.)
SELECT dispatch.clock() IS NOT NULL AS module_loaded \g /dev/null
SET LOCAL ROLE dispatch_app;
SELECT throws_ok($$SET dispatch.clock_override = '2020-01-01 00:00:00+00'$$, '42501', NULL,
	'the application role may not set dispatch.clock_override');
SELECT throws_ok($$SELECT set_config('dispatch.clock_override', '2020-01-01 00:00:00+00', true)$$, '42501', NULL,
	'nor through set_config()');
RESET ROLE;
SET LOCAL ROLE dispatch_admin;
SELECT throws_ok($$SET dispatch.clock_override = '2020-01-01 00:00:00+00'$$, '42501', NULL,
	'nor may the admin role');
RESET ROLE;
SELECT throws_ok($$SET LOCAL dispatch.clock_override = 'infinity'$$, 'DP023', NULL,
	'an infinite clock is refused when set');
SELECT throws_ok($$SET LOCAL dispatch.clock_override = 'soon'$$, 'DP023', NULL,
	'a clock that is not a time is refused when set');
SELECT throws_ok($$SET LOCAL dispatch.clock_override = '294277-01-01'$$, 'DP023', NULL,
	'a clock out of range is refused when set');
-- PostgreSQL 15 raises an error of its own (22023) for a time zone name it
-- does not know, where a check hook must return false; in the postmaster,
-- reloading the configuration file, that error stopped the server
-- (test/tap/clock_reload.t)
SELECT throws_ok($$SET LOCAL dispatch.clock_override = '2026-03-02 12:00 Europe/Nowhere'$$, 'DP023', NULL,
	'a clock in a time zone that does not exist is refused when set');
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
SELECT is(dispatch.clock(), '2026-03-02 12:00:00+00'::timestamptz, 'a superuser sets the clock');
SET LOCAL dispatch.clock_override = '';
SELECT is(dispatch.clock(), now(), 'an empty override is the transaction time again');

-- dependencies: bound at install, never on a search_path
SELECT is(
	(SELECT array_agg(DISTINCT c ORDER BY c) FROM pg_proc p, unnest(p.proconfig) c
	  WHERE p.pronamespace = 'dispatch'::regnamespace AND c LIKE 'search\_path=%'),
	ARRAY['search_path=pg_catalog, pg_temp'],
	'every pinned search_path is exactly pg_catalog, pg_temp');
SELECT is(
	(SELECT array_agg(DISTINCT p.proname::text ORDER BY p.proname::text)
	   FROM pg_depend d
	   JOIN pg_proc p ON p.oid = d.objid AND d.classid = 'pg_proc'::regclass
	   JOIN pg_proc f ON f.oid = d.refobjid AND d.refclassid = 'pg_proc'::regclass
	  WHERE p.pronamespace = 'dispatch'::regnamespace
	    AND f.pronamespace IN (SELECT extnamespace FROM pg_extension WHERE extname IN ('postgis', 'pgcrypto'))),
	ARRAY['_centroid', '_covers', '_distance_m', '_geojson', '_hexagon', '_hmac_sha256', '_lat', '_lon', '_pgp_decrypt',
	      '_pgp_decrypt_bytes', '_pgp_encrypt', '_pgp_encrypt_bytes', '_point', '_random_key',
	      '_zone_area', '_zone_area_problem'],
	'only the functions of sql/15_dependencies.sql call PostGIS and pgcrypto, bound by oid');
SELECT is(
	(SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
	  WHERE p.pronamespace = 'dispatch'::regnamespace AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
	    AND p.prosrc ~* '\m(st_[a-z]+|geometrytype|pgp_sym_[a-z_]+|gen_random_[a-z]+|hmac|digest|crypt|gen_salt)\s*\('),
	NULL, 'no PL/pgSQL function names a PostGIS or pgcrypto function');

-- what encrypts draws a new IV on every call: never IMMUTABLE or STABLE
SELECT volatility_is('dispatch', '_reseal', ARRAY['bytea', 'bytea', 'bytea'], 'volatile',
	'_reseal, which encrypts, is volatile');
SELECT is(
	(SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
	  WHERE p.pronamespace = 'dispatch'::regnamespace AND p.provolatile <> 'v'
	    AND (p.prosrc ~ '\m(_pgp_encrypt|_pgp_encrypt_bytes|_random_key|_wrap_key|pii_seal|_reseal|_data_key)\('
	         OR EXISTS (SELECT FROM pg_depend d JOIN pg_proc f ON f.oid = d.refobjid
	                     WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	                       AND d.refclassid = 'pg_proc'::regclass
	                       AND f.proname IN ('_pgp_encrypt', '_pgp_encrypt_bytes', '_random_key', '_wrap_key',
	                                         'pii_seal', '_reseal', '_data_key')))),
	NULL, 'no function that encrypts or draws random bytes is IMMUTABLE or STABLE');
SELECT isnt(dispatch._pgp_encrypt('same', '\x00'::bytea), dispatch._pgp_encrypt('same', '\x00'::bytea),
	'sealing the same value twice gives two ciphertexts');

-- the helpers that are expressions are inlined where they are called: one
-- with a pinned search_path would be parsed and planned again at each call
-- (on the intake path: the ETA of each status change, the data key of each
-- sealed value)
\ir ../fixtures/plan_of.sql
SELECT unalike(pg_temp.plan_of(c.q), '%' || c.f || '(%', c.f || ' is inlined')
  FROM (VALUES ('_hour_of_week', $$SELECT dispatch._hour_of_week(now(), 'UTC')$$),
               ('_pgp_encrypt', $$SELECT dispatch._pgp_encrypt('x', '\\x01')$$),
               ('_wrap_key', $$SELECT dispatch._wrap_key('\x01', 1)$$),
               ('_check_point', $$SELECT dispatch._check_point(g, g, 'x') FROM generate_series(1.0, 2.0) g$$)) c(f, q);
-- the expected time of an ETA is C (src/eta.c), called as such by the
-- trigger and by learn_eta: nothing to parse or plan at a call either
SELECT is((SELECT l.lanname::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
            WHERE p.oid = 'dispatch._eta_expected(timestamptz, float8, float8, float8, timestamptz)'::regprocedure),
	'c', '_eta_expected is C');
-- and so is the unwrapping of a data key (src/keys.c), which keeps the key
-- to the end of the transaction
SELECT is((SELECT l.lanname::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
            WHERE p.oid = 'dispatch._unwrap_key(bytea, integer)'::regprocedure),
	'c', '_unwrap_key is C');
-- inlined, the check still comes first and names the point and the input
SELECT throws_ok($$SELECT dispatch._check_point(g, 'NaN', 'rider') FROM generate_series(181.5, 182) g$$,
	'DP001', 'invalid rider coordinates: longitude and latitude out of range', 'an inlined point check refuses a bad point, naming what is wrong but not the values (a place)');
SELECT ok(ST_Equals(dispatch._check_point(g, g / 2, 'x'), ST_SetSRID(ST_MakePoint(g, g / 2), 4326))
          AND ST_SRID(dispatch._check_point(g, g / 2, 'x')) = 4326,
	'an inlined point check gives the WGS 84 point') FROM generate_series(10.0, 10.0) g;

-- The growth jobs are SECURITY DEFINER and granted to dispatch_admin; they
-- keep their working sets in temporary tables.  A member of dispatch_admin
-- who makes a table of one of those names in pg_temp first, with a trigger
-- of its own, must not have the job write it: the trigger would run as the
-- owner of the extension (a superuser) and could make its author one.
-- Each attempt in a savepoint of its own, rolled back after its outcome is
-- kept: a job leaves its own tables (ON COMMIT DROP) in pg_temp until the
-- end of the transaction.
-- On Citus a role set inside this transaction cannot read the shards the
-- transaction wrote as another (the jobs fail with "permission denied"
-- before they reach their temporary tables, which are the coordinator's
-- own, made by the same code as on one server): checked on one server.
SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS on_citus \gset
\if :on_citus
SELECT skip('the growth jobs'' temporary tables: checked on one server', 5);
\else
CREATE ROLE dispatch_t_eve NOLOGIN;
GRANT dispatch_admin TO dispatch_t_eve;
CREATE FUNCTION pg_temp.eve_escalate() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
	IF current_user <> 'dispatch_t_eve' THEN
		EXECUTE 'ALTER ROLE dispatch_t_eve SUPERUSER';
	END IF;
	RETURN NULL;
END
$f$;
CREATE FUNCTION pg_temp.eve_trap() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
	RAISE EXCEPTION 'the trap on % fired as %', TG_TABLE_NAME, current_user;
END
$f$;
-- what the caller lays: growth_read as _growth_read fills it, with a
-- trigger that makes its author superuser when it runs as someone else
CREATE FUNCTION pg_temp.eve_lay_growth_read() RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
	CREATE TEMP TABLE growth_read (zone_id bigint, seq bigint, kind text, order_id bigint, status text);
	CREATE TRIGGER eve BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON pg_temp.growth_read
		FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.eve_escalate();
END
$f$;
GRANT EXECUTE ON FUNCTION pg_temp.eve_escalate(), pg_temp.eve_trap(), pg_temp.eve_lay_growth_read() TO dispatch_t_eve;

SAVEPOINT eve;
SET LOCAL ROLE dispatch_t_eve;
SELECT pg_temp.eve_lay_growth_read();
SELECT dispatch.credit_rewards() \g /dev/null
RESET ROLE;
SELECT rolsuper AS eve_super_credit FROM pg_roles WHERE rolname = 'dispatch_t_eve' \gset
ROLLBACK TO SAVEPOINT eve;
SELECT is(:'eve_super_credit'::boolean, false,
	'credit_rewards, run by a member of dispatch_admin, never fires a trigger of a growth_read the caller made');

SAVEPOINT eve;
SET LOCAL ROLE dispatch_t_eve;
SELECT pg_temp.eve_lay_growth_read();
SELECT dispatch.rollup_campaigns() \g /dev/null
RESET ROLE;
SELECT rolsuper AS eve_super_rollup FROM pg_roles WHERE rolname = 'dispatch_t_eve' \gset
ROLLBACK TO SAVEPOINT eve;
SELECT is(:'eve_super_rollup'::boolean, false, 'nor does rollup_campaigns');

-- every temporary table of the rollup and of its two reads: a trap on
-- each that fails the job if it fires, and the job run twice in one
-- transaction (its own tables of the first run made afresh)
SAVEPOINT eve;
SET LOCAL ROLE dispatch_t_eve;
DO $d$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['growth_read', 'rollup_changed', 'rollup_old', 'rollup_now', 'rollup_delta',
	                         'rollup_old_stats', 'rollup_cust', 'rollup_rebuild', 'rollup_rebuild_facts',
	                         'rollup_exp', 'rollup_touched', 'rollup_touched_orders'] LOOP
		EXECUTE format('CREATE TEMP TABLE %I (x integer)', t);
		EXECUTE format('CREATE TRIGGER eve BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON pg_temp.%I '
		               'FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.eve_trap()', t);
	END LOOP;
END
$d$;
CREATE FUNCTION pg_temp.eve_try(q text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
	EXECUTE q;
	RETURN 'ran';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLERRM;
END
$f$;
SELECT pg_temp.eve_try('SELECT dispatch.rollup_campaigns()') AS eve_traps_first,
       pg_temp.eve_try('SELECT dispatch.rollup_campaigns(true)') AS eve_traps_second \gset
RESET ROLE;
SELECT count(*) AS eve_tables_left FROM pg_class c
 WHERE c.relnamespace = pg_my_temp_schema() AND c.relowner = 'dispatch_t_eve'::regrole AND c.relkind = 'r' \gset
ROLLBACK TO SAVEPOINT eve;
SELECT is(:'eve_traps_first'::text, 'ran',
	'rollup_campaigns writes none of the temporary tables the caller made under its tables'' names');
SELECT is(:'eve_traps_second'::text, 'ran', 'and runs again in the same transaction');
SELECT is(:'eve_tables_left'::integer, 0,
	'the caller''s tables of those names are dropped (a session''s own table by such a name goes)');

\endif
SELECT * FROM finish();
ROLLBACK;
