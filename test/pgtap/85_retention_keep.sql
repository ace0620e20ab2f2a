-- test/pgtap/85_retention_keep.sql: set_retention_policy refuses a keep the
-- purge cannot count back (DP411).  A purge batch handles every class in
-- one transaction and counts each cut-off back from now (twice the keep
-- for the events a growth job has not read): a keep of thousands of years
-- lies before the first timestamp (4713 BC), so every batch failed with
-- "timestamp out of range" and no class was purged any more, personal data
-- kept past its 30 days.  At most 100 years is taken; to keep a class for
-- good, its policy is disabled.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(7);

SELECT throws_ok($$ SELECT dispatch.set_retention_policy('events', '10000 years') $$, 'DP411', NULL,
                 'a keep of 10000 years is refused (DP411)');
SELECT throws_ok($$ SELECT dispatch.set_retention_policy('order_text', '100 years 1 day') $$, 'DP411', NULL,
                 '... and so is one a day over 100 years');
SELECT is((SELECT keep FROM dispatch.retention_effective() WHERE data_class = 'events'), interval '30 days',
          '... nothing written: the policy in force is unchanged');
SELECT lives_ok($$ SELECT dispatch.purge_expired_step(10) $$,
                'a purge batch runs over every class');

SELECT lives_ok($$ SELECT dispatch.set_retention_policy('events', '100 years') $$,
                'a keep of 100 years is taken');
SELECT lives_ok($$ SELECT dispatch.set_retention_policy('feedback_text', '30 days', false) $$,
                'a class is kept for good by disabling its policy');
SELECT lives_ok($$ SELECT dispatch.purge_expired_step(10) $$,
                'and a purge batch still runs over every class, the longest keep counted back');

SELECT * FROM finish();
ROLLBACK;
