-- test/pgtap/70_sentiment.sql: the review scorer's rules, topics, errors,
-- model cache and training (sql/70_sentiment.sql, src/sentiment*.c).
-- Run from the repository root (the regression sentences are read from
-- test/data/sentiment_regression.tsv and test/data/takeaway_regression.tsv).
\set QUIET on
BEGIN;
SELECT plan(146);

-- declarations
SELECT has_function('dispatch', 'sentiment', ARRAY['text'], 'sentiment(text) exists');
SELECT has_function('dispatch', 'sentiment', ARRAY['bytea'], 'sentiment(bytea) exists');
SELECT has_function('dispatch', 'feedback_topics', ARRAY['text'], 'feedback_topics(text) exists');
SELECT function_returns('dispatch', 'sentiment', ARRAY['text'], 'real', 'sentiment returns real');
SELECT function_returns('dispatch', 'feedback_topics', ARRAY['text'], 'text[]', 'feedback_topics returns text[]');
SELECT volatility_is('dispatch', 'sentiment', ARRAY['text'], 'stable', 'sentiment is STABLE: the model can change');
SELECT volatility_is('dispatch', 'feedback_topics', ARRAY['text'], 'stable', 'feedback_topics is STABLE');
SELECT is_strict('dispatch', 'sentiment', ARRAY['text'], 'sentiment is STRICT');
SELECT is(dispatch.sentiment(NULL::text), NULL, 'NULL in, NULL out');
SELECT function_privs_are('dispatch', 'sentiment', ARRAY['text'], 'dispatch_app', ARRAY['EXECUTE'], 'the app may score');
SELECT function_privs_are('dispatch', 'sentiment', ARRAY['text'], 'dispatch_analyst', ARRAY['EXECUTE'], 'analysts may score');
SELECT function_privs_are('dispatch', 'train_sentiment', ARRAY['text', 'integer', 'integer', 'double precision'],
                          'dispatch_app', ARRAY[]::text[], 'the app may not train');
SELECT function_privs_are('dispatch', 'train_sentiment', ARRAY['text', 'integer', 'integer', 'double precision'],
                          'dispatch_admin', ARRAY['EXECUTE'], 'admins may train');
SELECT isnt_definer('dispatch', 'train_sentiment', ARRAY['text', 'integer', 'integer', 'double precision'],
                    'train_sentiment runs the query with the caller''s rights');

-- range
SELECT is(dispatch.sentiment(''), 0::real, 'empty text scores 0');
SELECT is(dispatch.sentiment('12345 ...'), 0::real, 'text with no words scores 0');
SELECT ok(dispatch.sentiment(repeat('太好吃了！！', 5000)) BETWEEN -1 AND 1, 'a long positive text stays within [-1, 1]');
SELECT ok(dispatch.sentiment(repeat('难吃😡', 5000)) BETWEEN -1 AND 1, 'a long negative text stays within [-1, 1]');
SELECT ok(dispatch.sentiment(repeat('好', 1024 * 1024 / 3)) > 0, 'a text just under 1 MB is scored');
SELECT ok(dispatch.sentiment(repeat('一不很', 1024 * 1024 / 9)) BETWEEN -1 AND 1,
          'a text of 1 MB of negators and degree words is scored');
SELECT throws_ok($$ SELECT dispatch.sentiment(repeat('a', 1024 * 1024 + 1)) $$, 'DP501', NULL,
                 'a text over 1 MB is refused with DP501');

-- invalid UTF-8: a text in a UTF-8 database cannot hold it, raw bytes can
SELECT throws_ok($$ SELECT dispatch.sentiment('\xe5a5'::bytea) $$, '22021', NULL, 'truncated sequence: 22021');
SELECT throws_ok($$ SELECT dispatch.sentiment('\x67ff6f6f64'::bytea) $$, '22021', NULL, 'byte 0xff: 22021');
SELECT throws_ok($$ SELECT dispatch.sentiment('\xc0af'::bytea) $$, '22021', NULL, 'overlong encoding: 22021');
SELECT throws_ok($$ SELECT dispatch.sentiment('\xeda080'::bytea) $$, '22021', NULL, 'UTF-16 surrogate: 22021');
SELECT throws_ok($$ SELECT dispatch.sentiment('\x676f6f6400'::bytea) $$, '22021', NULL, 'zero byte: 22021');
SELECT is(dispatch.sentiment(convert_to('送餐很快，好吃', 'UTF8')), dispatch.sentiment('送餐很快，好吃'),
          'valid UTF-8 bytes score like the text');

-- delivery vocabulary
SELECT ok(dispatch.sentiment('慢') < 0, '慢 is bad');
SELECT ok(dispatch.sentiment('饭凉了') < 0, '凉了 is bad');
SELECT ok(dispatch.sentiment('汤洒了') < 0, '洒了 is bad');
SELECT ok(dispatch.sentiment('送错了') < 0, '送错 is bad');
SELECT ok(dispatch.sentiment('少送了一个菜') < 0, '少送 is bad');
SELECT ok(dispatch.sentiment('超时了') < 0, '超时 is bad');
SELECT ok(dispatch.sentiment('骑手态度差') < 0, '态度差 is bad');
SELECT ok(dispatch.sentiment('难吃') < 0, '难吃 is bad');
SELECT ok(dispatch.sentiment('送得快') > 0, '快 is good');
SELECT ok(dispatch.sentiment('准时送到') > 0, '准时 is good');
SELECT ok(dispatch.sentiment('热乎乎的') > 0, '热乎 is good');
SELECT ok(dispatch.sentiment('分量足') > 0, '分量足 is good');
SELECT ok(dispatch.sentiment('the food was cold') < 0, '"cold" food is bad');

-- negation
SELECT ok(dispatch.sentiment('不好吃') < 0, '不好吃 is bad');
SELECT ok(dispatch.sentiment('不难吃') > dispatch.sentiment('难吃'), '不难吃 is better than 难吃');
SELECT ok(dispatch.sentiment('一点都不慢') > 0, '一点都不慢 is good');
SELECT ok(dispatch.sentiment('没有超时') > 0, '没有超时 is good');
SELECT ok(dispatch.sentiment('别点这家') < 0, '别 negates');
SELECT ok(dispatch.sentiment('并不好吃') < 0, '并不 negates');
SELECT ok(dispatch.sentiment('毫无惊喜') < 0, '毫无 negates');
SELECT ok(dispatch.sentiment('not good') < 0, 'not good is bad');
SELECT ok(dispatch.sentiment('not bad') > 0, 'not bad is good');
SELECT ok(dispatch.sentiment('never late') > 0, 'never late is good');
SELECT ok(dispatch.sentiment('I didn''t like it') < 0, 'n''t negates');
SELECT ok(dispatch.sentiment('no problem at all') > 0, 'no problem is good');
SELECT ok(dispatch.sentiment('不是很好吃') > dispatch.sentiment('很不好吃'),
          '不是很好吃 is milder than 很不好吃');
SELECT ok(dispatch.sentiment('不慢，好吃，就是不太热') > 0, 'negation ends at the clause');

-- degree
SELECT ok(dispatch.sentiment('太慢了') < dispatch.sentiment('有点慢'), '太慢 is worse than 有点慢');
SELECT ok(dispatch.sentiment('非常好吃') > dispatch.sentiment('有点好吃'), '非常 strengthens, 有点 weakens');
SELECT ok(dispatch.sentiment('very good') > dispatch.sentiment('good'), 'very strengthens');
SELECT ok(dispatch.sentiment('a bit slow') > dispatch.sentiment('slow'), 'a bit weakens');
SELECT ok(dispatch.sentiment('so bad') < dispatch.sentiment('bad'), 'so strengthens');

-- contrast and concession
SELECT ok(dispatch.sentiment('送得很快，但是很难吃') < 0, '但是: the clause after weighs more (bad)');
SELECT ok(dispatch.sentiment('有点难吃，但是送得很快，小哥态度很好') > 0, '但是: the clause after weighs more (good)');
SELECT ok(dispatch.sentiment('虽然有点慢，不过很好吃') > 0, '虽然 ... 不过');
SELECT ok(dispatch.sentiment('the rider was fast but the food was awful') < 0, 'but (bad after)');
SELECT ok(dispatch.sentiment('the food was a bit cold, however it tasted great') > 0, 'however (good after)');

-- emphasis
SELECT ok(dispatch.sentiment('好吃！！') > dispatch.sentiment('好吃'), '！！ strengthens praise');
SELECT ok(dispatch.sentiment('难吃!!!') < dispatch.sentiment('难吃'), '!!! strengthens a complaint');
SELECT ok(dispatch.sentiment('sooooo good') > dispatch.sentiment('so good'), 'a stretched word is emphatic');
SELECT ok(dispatch.sentiment('慢慢慢慢') < dispatch.sentiment('慢'), 'a repeated character is emphatic');

-- emoji and emoticons
SELECT ok(dispatch.sentiment('👍') > 0, '👍 is good');
SELECT ok(dispatch.sentiment('😡') < 0, '😡 is bad');
SELECT ok(dispatch.sentiment('还行😋') > dispatch.sentiment('还行'), '😋 lifts');
SELECT ok(dispatch.sentiment('ok :(') < dispatch.sentiment('ok'), ':( lowers');
SELECT ok(dispatch.sentiment('ok :-)') > dispatch.sentiment('ok'), ':-) lifts');
SELECT ok(dispatch.sentiment('👍🏻') > 0, 'skin-tone modifiers are ignored');
SELECT is(dispatch.sentiment('http://example.com'), dispatch.sentiment('http example.com'), 'a URL is not a frown');

-- mixed language
SELECT ok(dispatch.sentiment('送餐很快，food was delicious') > 0, 'Chinese and English praise');
SELECT ok(dispatch.sentiment('饭菜是凉的, the fries were soggy') < 0, 'Chinese and English complaints');
SELECT ok(dispatch.sentiment('味道很好 but delivery was late') < 0, 'English contrast after Chinese');

-- topics
SELECT is(dispatch.feedback_topics('太慢了，等了一个多小时'), ARRAY['late'], 'late');
SELECT is(dispatch.feedback_topics('不慢'), '{}'::text[], '不慢 is not late');
SELECT is(dispatch.feedback_topics('not late at all'), '{}'::text[], '"not late" is not late');
SELECT is(dispatch.feedback_topics('送得一点都不快'), ARRAY['late'], '不快 is late');
SELECT is(dispatch.feedback_topics('饭都凉了'), ARRAY['cold'], 'cold');
SELECT is(dispatch.feedback_topics('一点都不凉'), '{}'::text[], '不凉 is not cold');
SELECT is(dispatch.feedback_topics('汤洒了一袋子'), ARRAY['spilled'], 'spilled');
SELECT is(dispatch.feedback_topics('送错了'), ARRAY['wrong_item'], 'wrong item');
SELECT is(dispatch.feedback_topics('少送了一份米饭'), ARRAY['missing_item'], 'missing item');
SELECT is(dispatch.feedback_topics('没有筷子'), ARRAY['missing_item'], 'no chopsticks is a missing item');
SELECT is(dispatch.feedback_topics('骑手态度差'), ARRAY['rider_attitude'], 'rider attitude');
SELECT is(dispatch.feedback_topics('不好吃'), ARRAY['taste'], '不好吃 is taste');
SELECT is(dispatch.feedback_topics('好吃'), '{}'::text[], 'praise raises no topic');
SELECT is(dispatch.feedback_topics('分量太少'), ARRAY['portion'], 'portion');
SELECT is(dispatch.feedback_topics('太贵了'), ARRAY['price'], 'price');
SELECT is(dispatch.feedback_topics('菜里有头发'), ARRAY['hygiene'], 'hygiene');
SELECT is(dispatch.feedback_topics('又慢又凉，还洒了'), ARRAY['late', 'cold', 'spilled'], 'several topics, fixed order');
SELECT is(dispatch.feedback_topics('the driver was rude and my order was wrong'),
          ARRAY['wrong_item', 'rider_attitude'], 'English topics');

-- takeaway phrasing (docs/sentiment.md, "Topics")
SELECT is(dispatch.feedback_topics('少了一份米饭'), ARRAY['missing_item'], 'a count after 少了 is a missing item');
SELECT is(dispatch.feedback_topics('比图片上少了一半'), ARRAY['portion'], 'a half after 少了 is the portion');
SELECT is(dispatch.feedback_topics('碗很大，菜很少'), ARRAY['portion'], 'a clause ending in 少 is the portion');
SELECT is(dispatch.feedback_topics('漏了一个菜'), ARRAY['missing_item'], '漏了 and a count: a missing item');
SELECT is(dispatch.feedback_topics('汤汁漏了一袋子'), ARRAY['spilled'], '漏了 and a place: a spill');
SELECT is(dispatch.feedback_topics('担心会凉，结果到手还是烫的'), '{}'::text[], 'a fear answered by 结果 is no complaint');
SELECT ok(dispatch.sentiment('担心会凉，结果到手还是烫的') > 0, 'and scores as what happened');
SELECT is(dispatch.feedback_topics('was worried it''d be late but it came early'), '{}'::text[],
          'a fear answered by but is no complaint');
SELECT ok(dispatch.sentiment('I thought it would be great but it was awful') < 0, 'a hope answered by but neither');
SELECT is(dispatch.feedback_topics('担心会凉，果然凉了'), ARRAY['cold'], 'a fear that came true is a complaint');
SELECT is(dispatch.feedback_topics('菜一点热气都没有'), ARRAY['cold'], 'a closing 没有 negates the word before it');
SELECT is(dispatch.feedback_topics('套餐里的薯条没有'), ARRAY['missing_item'], 'an item, then a closing 没有: missing');
SELECT is(dispatch.feedback_topics('一点味道都没有'), ARRAY['taste'], 'no taste at all is taste');
SELECT is(dispatch.feedback_topics('我点的可乐没送来'), ARRAY['missing_item'], 'an item that never came is missing');
SELECT is(dispatch.feedback_topics('外卖一直没送来'), ARRAY['late'], 'an order that never came is late');
SELECT is(dispatch.feedback_topics('one of the drinks never came'), ARRAY['missing_item'], 'a drink that never came is missing');
SELECT is(dispatch.feedback_topics('骑手服务太差了'), ARRAY['rider_attitude'], 'an anchor names the topic of a complaint');
SELECT is(dispatch.feedback_topics('骑手没有催我，很耐心'), '{}'::text[], 'but not in a text that praises');
SELECT is(dispatch.feedback_topics('口味做错了'), ARRAY['wrong_item'], 'an anchor before the word that explains the complaint names nothing');
SELECT is(dispatch.feedback_topics('expensive and it tasted bad'), ARRAY['taste', 'price'], 'an anchor after it does');
SELECT is(dispatch.feedback_topics('took an hour and the food was cold'), ARRAY['late', 'cold'], 'and closes a complaint for its anchors');
SELECT is(dispatch.feedback_topics('nothing was missing and it was hot'), '{}'::text[], 'and ends an English negation');
SELECT is(dispatch.feedback_topics('不辣不咸，老人小孩都爱吃'), '{}'::text[], 'two negations in a row are not a double negation');

-- the takeaway regression set: sign and topics of every sentence
CREATE TEMP TABLE takeaway (batch int, lang text, sign text, topics text, review text);
\copy takeaway FROM 'test/data/takeaway_regression.tsv'
SELECT ok((SELECT count(*) FROM takeaway) >= 900, 'the takeaway set is loaded');
SELECT is((SELECT string_agg(format('%s %s {%s} -> %s %s', t.sign, t.review, t.topics, dispatch.sentiment(t.review),
                                    dispatch.feedback_topics(t.review)), E'\n')
             FROM takeaway AS t
            WHERE (t.sign = '+') <> (dispatch.sentiment(t.review) > 0)
               OR (SELECT coalesce(array_agg(x ORDER BY x), '{}') FROM unnest(dispatch.feedback_topics(t.review)) AS x)
                  <> (SELECT coalesce(array_agg(x ORDER BY x), '{}') FROM unnest(string_to_array(nullif(t.topics, ''), ',')) AS x)),
          NULL, 'every takeaway sentence has its expected sign and topics');
WITH s AS (
	SELECT t.lang, t.sign = '+' AS pos, dispatch.sentiment(t.review) > 0 AS said_pos,
	       string_to_array(nullif(t.topics, ''), ',') AS want, dispatch.feedback_topics(t.review) AS got
	  FROM takeaway AS t
), c AS (
	SELECT lang,
	       0.5 * (avg((said_pos AND pos)::int) FILTER (WHERE pos) / 1 + avg((NOT said_pos)::int) FILTER (WHERE NOT pos)) AS bal_acc,
	       sum((SELECT count(*) FROM unnest(got) AS g WHERE g = ANY (want))) AS tp,
	       sum(cardinality(got)) AS found, sum(cardinality(coalesce(want, '{}'))) AS wanted
	  FROM s GROUP BY lang
)
SELECT diag(format('takeaway set, %s: sign balanced accuracy %s, topic precision %s, recall %s', lang,
                   round(bal_acc, 3), round(tp::numeric / nullif(found, 0), 3), round(tp::numeric / nullif(wanted, 0), 3)))
  FROM c ORDER BY lang DESC;

-- the regression sentences
CREATE TEMP TABLE regression (sign text, review text);
\copy regression FROM 'test/data/sentiment_regression.tsv'
SELECT is((SELECT string_agg(sign || ' ' || review || ' -> ' || dispatch.sentiment(review), E'\n')
             FROM regression
            WHERE CASE sign WHEN '+' THEN dispatch.sentiment(review) <= 0 ELSE dispatch.sentiment(review) >= 0 END),
          NULL, 'every regression sentence has the expected sign');

-- the default model is built into the module (src/sentiment_model.tsv),
-- not shipped as rows; its scores are pinned here (a retrained model
-- changes them on purpose, with docs/sentiment.md and the bench figures)
SELECT hasnt_table('dispatch', 'sentiment_lexicon_default', 'no table holds the default word priors');
SELECT hasnt_table('dispatch', 'sentiment_weights_default', 'no table holds the default weights');
SELECT is((SELECT count(*) FROM dispatch.sentiment_lexicon) + (SELECT count(*) FROM dispatch.sentiment_weights),
          0::bigint, 'a fresh install has no model rows, and scores with the default model');
SELECT is((SELECT string_agg(format('%s: %s, expected %s', d.t, dispatch.sentiment(d.t), d.expected), E'\n')
             FROM unnest(ARRAY['送餐很快，饭菜还是热乎的，好吃！', '等了一个多小时，饭菜都凉了', '味道一般，但是分量足',
                               'the food was not great but the rider was nice', '这家店的招牌菜一流'],
                         ARRAY[0.9952985, -0.98499024, 0.6157103, 0.45479825, 0.5819017]) AS d (t, expected)
            WHERE abs(dispatch.sentiment(d.t) - d.expected) > 1e-6),
          NULL, 'the default model scores as it did when it was shipped as table rows');

-- the model cache follows the model tables (and a score read before a
-- reload is the score read after it)
CREATE TEMP TABLE before AS SELECT dispatch.sentiment('咕噜咕噜') AS s;
INSERT INTO dispatch.sentiment_lexicon (term, weight) VALUES ('咕噜咕噜', -5);
SELECT ok(dispatch.sentiment('咕噜咕噜') < (SELECT s FROM before) - 0.5, 'a new lexicon word is used at once');
DELETE FROM dispatch.sentiment_lexicon WHERE term = '咕噜咕噜';
SELECT is(dispatch.sentiment('咕噜咕噜'), (SELECT s FROM before), 'and forgotten when deleted');

-- the app scores without reading the model tables itself
SELECT table_privs_are('dispatch', 'sentiment_weights', 'dispatch_app', ARRAY[]::text[], 'the app cannot read the model');
INSERT INTO dispatch.sentiment_lexicon (term, weight) VALUES ('咕噜咕噜', 5);
SET LOCAL ROLE dispatch_app;
SELECT ok(dispatch.sentiment('咕噜咕噜') > 0.5, 'the model loads for the app role (as the extension owner)');
RESET ROLE;
DELETE FROM dispatch.sentiment_lexicon WHERE term = '咕噜咕噜';

-- training: same data, same model; the learned weights replace the shipped ones
CREATE TEMP TABLE labelled (body text, stars int);
INSERT INTO labelled
SELECT p || '，' || q, CASE WHEN i % 2 = 0 THEN 5 ELSE 1 END
  FROM generate_series(1, 60) AS i,
       LATERAL (SELECT CASE WHEN i % 2 = 0 THEN (ARRAY['呱呱好','送得快','很好吃','热乎'])[1 + (i / 2) % 4]
                            ELSE (ARRAY['嘟嘟差','太慢了','难吃','凉了'])[1 + (i / 2) % 4] END AS p,
                       (ARRAY['米饭', '面条', '饺子'])[1 + i % 3] AS q) AS x;
CREATE TEMP TABLE shipped AS SELECT dispatch.sentiment('呱呱') AS good, dispatch.sentiment('嘟嘟') AS bad;
SELECT cmp_ok(dispatch.train_sentiment('SELECT body, stars >= 4 FROM pg_temp.labelled', 2), '>', 0, 'training keeps features');
CREATE TEMP TABLE first_model AS SELECT feature, weight FROM dispatch.sentiment_weights;
SELECT cmp_ok(dispatch.train_sentiment('SELECT body, stars >= 4 FROM pg_temp.labelled ORDER BY random()', 2), '>', 0, 'training again');
SELECT results_eq('SELECT feature, weight FROM dispatch.sentiment_weights ORDER BY feature COLLATE "C"',
                  'SELECT feature, weight FROM first_model ORDER BY feature COLLATE "C"',
                  'the same data in another order gives the same weights');
SELECT ok(dispatch.sentiment('呱呱') > 0 AND dispatch.sentiment('嘟嘟') < 0
          AND dispatch.sentiment('呱呱') <> (SELECT good FROM shipped)
          AND dispatch.sentiment('嘟嘟') <> (SELECT bad FROM shipped), 'the trained model is used at once');
SELECT is((SELECT documents FROM dispatch.sentiment_training ORDER BY trained_at DESC LIMIT 1), 60::bigint,
          'training is recorded');
SELECT throws_ok($$ SELECT dispatch.train_sentiment('SELECT body, true FROM pg_temp.labelled') $$, 'DP503', NULL,
                 'one class only is refused with DP503');
-- a missing query or option is refused, not a NULL that trains nothing
-- and reads as a result (the learned model stays as it was)
CREATE TEMP TABLE model_before AS SELECT feature, weight FROM dispatch.sentiment_weights;
SELECT throws_ok($$ SELECT dispatch.train_sentiment(NULL) $$, '22023', NULL, 'a NULL query is refused');
SELECT throws_ok($$ SELECT dispatch.train_sentiment('SELECT body, stars >= 4 FROM pg_temp.labelled', max_features => NULL) $$,
                 '22023', NULL, 'a NULL option is refused');
SELECT results_eq('SELECT feature, weight FROM dispatch.sentiment_weights ORDER BY feature COLLATE "C"',
                  'SELECT feature, weight FROM model_before ORDER BY feature COLLATE "C"',
                  '... and the learned weights stay as they were');
-- the rule that turns log-odds into weights is the C core's, shared with
-- tools/sentiment/train.py; admins reach it, nobody else needs to
SELECT function_privs_are('dispatch', '_sentiment_weight', ARRAY['text', 'double precision'], 'dispatch_app',
                          ARRAY[]::text[], 'the app does not train');
SELECT is(dispatch._sentiment_weight('好吃', 0.2), NULL, 'a weak log-odds gives no weight');
SELECT is(dispatch._sentiment_weight('好吃', 1), 0.6::float8, 'a word is scaled by 0.6');
SELECT is(dispatch._sentiment_weight('!#好吃', -9), -3 * 0.35::float8, 'a negated bigram is clipped to 3 and scaled by 0.35');
SELECT volatility_is('dispatch', '_sentiment_weight', ARRAY['text', 'double precision'], 'immutable',
                     'the rule is IMMUTABLE: it changes only with the module');
-- the log-odds by hand: 2 positive documents with 呱, 2 negative with 嘟, smoothing 1:
-- ln((2+1)/(2+1*2)) - ln((0+1)/(2+1*2)) = ln 3, times the word scale 0.6
SELECT dispatch.train_sentiment($$ VALUES ('呱', 1), ('呱', 1), ('嘟', 0), ('嘟', 0) $$, 1) \g /dev/null
SELECT ok(abs((SELECT weight FROM dispatch.sentiment_weights WHERE feature = '呱') - 0.6 * ln(3)) < 1e-6
          AND abs((SELECT weight FROM dispatch.sentiment_weights WHERE feature = '嘟') + 0.6 * ln(3)) < 1e-6,
          'weights are naive-Bayes log-odds');
DELETE FROM dispatch.sentiment_weights;
SELECT is(dispatch.sentiment('呱呱'), (SELECT good FROM shipped), 'an empty learned table falls back to the shipped model');

SELECT * FROM finish();
ROLLBACK;
