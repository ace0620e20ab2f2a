-- test/pgtap/71_sentiment_model.sql: a row of a model table that the scorer
-- cannot use raises DP502 (src/sentiment.c) in every function that scores,
-- instead of a wrong score, and submit_feedback then stores nothing.  The
-- tables' CHECKs let such rows in: a learned feature may be 66 bytes (for
-- the "!#" prefixes), and "!!x" or a bare "#" pass the length check.
-- Deleting the row makes the scorer work again (the model cache follows).
-- And an operator's word prior overrides the default model's.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(12);
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql
SELECT pg_temp.order_in('delivered') AS delivered \gset
SELECT dispatch.sentiment('好吃') AS good \gset

INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('!!好吃', 1);
SELECT throws_ok($$ SELECT dispatch.sentiment('好吃') $$, 'DP502', NULL,
                 'a learned feature "!!好吃" (a doubled negation prefix) is refused by sentiment()');
SELECT throws_ok($$ SELECT dispatch.feedback_topics('送餐太慢') $$, 'DP502', NULL, '... and by feedback_topics()');
SELECT throws_ok($$ SELECT dispatch.sentiment_features('好吃') $$, 'DP502', NULL, '... and by sentiment_features()');
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, 4, %L)', :delivered, '好吃'), 'DP502', NULL,
                 '... and by submit_feedback()');
SELECT is((SELECT count(*) FROM dispatch.feedback), 0::bigint, 'the refused feedback stored nothing');
DELETE FROM dispatch.sentiment_weights;

INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES (repeat('a', 66), 1);
SELECT throws_ok($$ SELECT dispatch.sentiment('good') $$, 'DP502', NULL,
                 'a 66-byte feature without a prefix (over the 64-byte key limit) is refused');
DELETE FROM dispatch.sentiment_weights;

INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('#', 1);
SELECT throws_ok($$ SELECT dispatch.sentiment('good') $$, 'DP502', 'invalid entry "#" in dispatch.sentiment_weights',
                 'a bare "#" is refused, and the message names the row and the table');
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
