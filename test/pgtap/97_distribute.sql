-- test/pgtap/97_distribute.sql: distribute() on a server without Citus, and
-- the list of tables it distributes (test/citus runs it on Citus).
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SELECT plan(4);

SELECT throws_ok('SELECT dispatch.distribute()', 'DP911', 'distribute() needs Citus',
                 'without Citus, distribute() is refused (DP911)');

-- the tables of a zone are those keyed by zone first, save the zones and
-- the settings (zone 0 holds the defaults every node reads), and riders,
-- which distribute() keys by zone
CREATE TEMP VIEW zone_keyed AS
	SELECT c.oid::regclass AS t
	  FROM pg_class c JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p'
	 WHERE c.relnamespace = 'dispatch'::regnamespace
	   AND (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = k.conkey[1]) = 'zone_id';
SELECT set_eq('SELECT d FROM dispatch._distributed_tables() d',
              $$SELECT t FROM zone_keyed
                 WHERE t NOT IN ('dispatch.zones'::regclass, 'dispatch.matching_settings'::regclass,
                                 'dispatch.pay_models'::regclass)
                UNION ALL SELECT 'dispatch.riders'::regclass$$,
              'distribute() distributes exactly the tables keyed by zone, and riders');
SELECT is((SELECT d FROM dispatch._distributed_tables() d LIMIT 1), 'dispatch.orders'::regclass,
          'orders first: the others are co-located with it');
SELECT ok(NOT has_function_privilege('dispatch_admin', 'dispatch.distribute()', 'EXECUTE')
          AND NOT has_function_privilege('public', 'dispatch.distribute()', 'EXECUTE'),
          'only a superuser distributes');

SELECT * FROM finish();
ROLLBACK;
