-- test/pgtap/85_purge_text_args.sql: the text purges of feedback and
-- survey comments refuse a missing cut-off or a batch below 1 (DP411, as
-- purge_expired_step's batch), so that an operator's loop "until 0" is
-- never ended by a NULL or a 0 that purged nothing.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(8);

SELECT throws_ok($$ SELECT dispatch.purge_feedback_text(NULL) $$, 'DP411', NULL,
                 'purge_feedback_text without a cut-off is refused (DP411)');
SELECT throws_ok($$ SELECT dispatch.purge_feedback_text('infinity', NULL) $$, 'DP411', NULL,
                 '... and with a NULL batch');
SELECT throws_ok($$ SELECT dispatch.purge_feedback_text('infinity', 0) $$, 'DP411', NULL,
                 '... and with a batch of 0');
SELECT throws_ok($$ SELECT dispatch.purge_survey_text(NULL) $$, 'DP411', NULL,
                 'purge_survey_text without a cut-off is refused (DP411)');
SELECT throws_ok($$ SELECT dispatch.purge_survey_text('infinity', NULL) $$, 'DP411', NULL,
                 '... and with a NULL batch');
SELECT throws_ok($$ SELECT dispatch.purge_survey_text('infinity', -1) $$, 'DP411', NULL,
                 '... and with a negative batch');
SELECT is(dispatch.purge_feedback_text('infinity', 1), 0, 'a batch of 1 with nothing to purge returns 0');
SELECT is(dispatch.purge_survey_text('-infinity'), 0, 'a cut-off before everything purges nothing');

SELECT * FROM finish();
ROLLBACK;
