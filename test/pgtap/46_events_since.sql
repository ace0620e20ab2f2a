-- test/pgtap/46_events_since.sql: the arguments of events_since
-- (sql/40_events.sql, docs/events.md).  A missing seq or a max_events
-- outside 1..100000 is refused (DP025); a zone that does not exist is
-- refused too (DP016): a gateway started with a mistyped --zone would
-- otherwise read nothing for ever and never say why.  A zone that exists
-- but has no committed event yet, a NULL zone (every zone) and a seq below
-- every event (a gateway's first call) are served.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(9);

SELECT throws_ok('SELECT * FROM dispatch.events_since(NULL)', 'DP025', NULL,
                 'a NULL seq is refused (DP025)');
SELECT throws_ok('SELECT * FROM dispatch.events_since(0, 0)', 'DP025', NULL,
                 'max_events 0 is refused (DP025)');
SELECT throws_ok('SELECT * FROM dispatch.events_since(0, 100001)', 'DP025', NULL,
                 'max_events above 100000 is refused (DP025)');

SELECT max(zone_id) + 1000 AS no_zone FROM dispatch.zones \gset
SELECT throws_ok(format('SELECT * FROM dispatch.events_since(0, 10, %s)', :no_zone), 'DP016',
                 format('zone %s does not exist', :no_zone),
                 'a zone that does not exist is refused (DP016), not read as an empty outbox');
SELECT throws_ok('SELECT * FROM dispatch.events_since(0, 10, -1)', 'DP016', 'zone -1 does not exist',
                 '... and so is a negative zone id');

-- the fixture's events are this transaction's own: below no horizon yet
SELECT is((SELECT count(*) FROM dispatch.events_since(0, 10, :other_zone)), 0::bigint,
          'a zone that exists, with no committed event: no rows, no error');
SELECT lives_ok(format('SELECT * FROM dispatch.events_since(0, 10, %s)', :zone),
                'a zone that exists is read');
SELECT lives_ok('SELECT * FROM dispatch.events_since(0, 10, NULL)',
                'a NULL zone reads every zone');
SELECT lives_ok('SELECT * FROM dispatch.events_since(-1)',
                'a seq below every event (a first call) is served');

SELECT * FROM finish();
ROLLBACK;
