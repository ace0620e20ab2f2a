-- test/pgtap/71_sentiment_model.sql: the model tables refuse a row the
-- scorer could not load (sentiment_weights by the loader's own rule,
-- _sentiment_feature_ok, src/sentiment_core.c), and accept every feature
-- name the loader takes.  Should such a row get in all the same (here: the
-- CHECK dropped), every function that scores raises DP502 (src/sentiment.c)
-- instead of giving a wrong score, submit_feedback then stores nothing, and
-- deleting the row makes the scorer work again (the model cache follows).
-- And an operator's word prior overrides the default model's.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(28);
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql
SELECT pg_temp.order_in('delivered') AS delivered \gset
SELECT dispatch.sentiment('好吃') AS good \gset

-- what the loader refuses is refused when it is written (23514)
-- (on Citus the relation and the constraint are named with the shard's number)
SELECT throws_like($$ INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('!!好吃', 1) $$,
                   'new row for relation "sentiment\_weights%" violates check constraint "sentiment\_weights\_feature\_check%"',
                   'a doubled negation prefix "!!好吃" is refused at INSERT');
SELECT throws_ok($$ INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('#!好吃', 1) $$, '23514', NULL,
                 '... and "#!好吃" (the prefixes in the wrong order)');
SELECT throws_ok($$ INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('##好吃', 1) $$, '23514', NULL,
                 '... and "##好吃"');
SELECT throws_ok($$ INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('#', 1) $$, '23514', NULL,
                 '... and a bare "#"');
SELECT throws_ok($$ INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('!', 1) $$, '23514', NULL,
                 '... and a bare "!"');
SELECT throws_ok($$ INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('!#', 1) $$, '23514', NULL,
                 '... and prefixes without a key');
SELECT throws_ok($$ INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('', 1) $$, '23514', NULL,
                 '... and an empty feature');
SELECT throws_ok(format($$ INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES (%L, 1) $$, repeat('a', 65)), '23514', NULL,
                 '... and a key of 65 bytes without a prefix');
SELECT throws_ok(format($$ INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES (%L, 1) $$, '!#' || repeat('a', 65)), '23514', NULL,
                 '... and a key of 65 bytes after both prefixes');
INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('好吃', 1);
SELECT throws_ok($$ UPDATE dispatch.sentiment_weights SET feature = '!!好吃' WHERE feature = '好吃' $$, '23514', NULL,
                 'an UPDATE to such a name is refused too');
DELETE FROM dispatch.sentiment_weights;
SELECT throws_ok($$ INSERT INTO dispatch.sentiment_lexicon (term, weight) VALUES ('#好吃', 1) $$, '23514', NULL,
                 'a lexicon term starting with "#" is refused at INSERT');

-- every name the loader takes is accepted, and the model loads
SELECT lives_ok(format($$ INSERT INTO dispatch.sentiment_weights (feature, weight)
                          VALUES ('好吃', 2), ('#好吃', 0.5), ('!好吃', -1), ('!#好吃', -0.5), ('good', 1),
                                 (%L, 1), (%L, 1), (%L, 1) $$,
                       repeat('a', 64), '!#' || repeat('b', 64), repeat('好', 21)),
                'words, bigrams, negated features and keys of 64 bytes after their prefixes are accepted');
SELECT ok(dispatch.sentiment('好吃') > 0 AND dispatch.sentiment('不好吃') < 0,
          'and the model made of them loads and scores');
DELETE FROM dispatch.sentiment_weights;
SELECT is(dispatch._sentiment_feature_ok('!#好吃'), true, '_sentiment_feature_ok: the loader''s rule, in SQL');
SELECT volatility_is('dispatch', '_sentiment_feature_ok', ARRAY['text'], 'immutable',
                     '... IMMUTABLE, as a CHECK needs: it changes only with the module');
SELECT function_privs_are('dispatch', '_sentiment_feature_ok', ARRAY['text'], 'dispatch_app', ARRAY[]::text[],
                          '... not for the app');
-- admins write the table themselves (and through train_sentiment, which
-- runs as its caller): the CHECK runs as them
-- (on Citus a write of this reference table connects to the workers as
-- the writer, and the group role dispatch_admin cannot log in: its members
-- can, and the workers check the same grant)
SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS on_citus \gset
\if :on_citus
SELECT skip('on Citus the group role cannot log in to the workers; its members write as themselves', 2);
\else
SET ROLE dispatch_admin;
SELECT lives_ok($$ INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('!#好吃', -0.5) $$,
                'an admin writes a good row');
SELECT throws_ok($$ INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('#!好吃', -0.5) $$, '23514', NULL,
                 '... and is refused a bad one');
RESET ROLE;
\endif
DELETE FROM dispatch.sentiment_weights;

-- a bad row that got in all the same: every scoring function refuses
ALTER TABLE dispatch.sentiment_weights DROP CONSTRAINT sentiment_weights_feature_check;
INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('!!好吃', 1);
SELECT throws_ok($$ SELECT dispatch.sentiment('好吃') $$, 'DP502', 'invalid entry "!!好吃" in dispatch.sentiment_weights',
                 'a learned feature "!!好吃" that got in is refused by sentiment(), naming the row and the table');
SELECT throws_ok($$ SELECT dispatch.feedback_topics('送餐太慢') $$, 'DP502', NULL, '... and by feedback_topics()');
SELECT throws_ok($$ SELECT dispatch.sentiment_features('好吃') $$, 'DP502', NULL, '... and by sentiment_features()');
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, 4, %L)', :delivered, '好吃'), 'DP502', NULL,
                 '... and by submit_feedback()');
SELECT is((SELECT count(*) FROM dispatch.feedback), 0::bigint, 'the refused feedback stored nothing');
DELETE FROM dispatch.sentiment_weights;

SELECT is(dispatch.sentiment('好吃'), :good::real, 'without the bad row the scorer works again, as before');
SELECT lives_ok(format('SELECT dispatch.submit_feedback(%s, 4, %L)', :delivered, '好吃'), 'and feedback is taken');

-- an operator's word prior overrides the default one built into the module,
-- for as long as the row is there
SELECT dispatch.sentiment('这家店的招牌菜一流') AS default_score \gset
SELECT ok(:default_score > 0, 'the default prior of 一流 is positive');
INSERT INTO dispatch.sentiment_lexicon (term, weight) VALUES ('一流', -3);
SELECT ok(dispatch.sentiment('这家店的招牌菜一流') < 0, 'an operator''s prior for 一流 overrides it at once');
DELETE FROM dispatch.sentiment_lexicon WHERE term = '一流';
SELECT is(dispatch.sentiment('这家店的招牌菜一流'), :default_score::real, 'deleted, the default prior is back');

SELECT * FROM finish();
ROLLBACK;
