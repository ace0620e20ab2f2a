-- test/pgtap/75_feedback.sql: submit_feedback scores, tags and seals a
-- review; one per order and channel, the order's first the one that counts
-- (points, analyst views); the analyst views (sql/75_feedback.sql).
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(31);
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null

\ir ../fixtures/order_in.sql
CREATE FUNCTION pg_temp.delivered_order() RETURNS bigint LANGUAGE sql AS $$ SELECT pg_temp.order_in('delivered') $$;

-- a points campaign that pays for reviews
SELECT dispatch.create_campaign('Points for reviews', 'points', '{"earn_per_yuan": 0, "feedback_points": 10}') AS points_campaign \gset
SELECT pg_temp.delivered_order() AS o1 \gset
SELECT pg_temp.delivered_order() AS o2 \gset
SELECT pg_temp.delivered_order() AS o3 \gset
SELECT dispatch.place_order(:customer, :merchant, jsonb_build_array(jsonb_build_object('item_id', :noodles, 'qty', 1)),
                            121.445, 31.196, 'somewhere') AS open_order \gset

SELECT dispatch.submit_feedback(:o1, 1, '太慢了，等了一个多小时，饭都凉了') AS f1 \gset
SELECT dispatch.submit_feedback(:o2, 5, '送餐很快，热乎乎的，好吃！', 'web') AS f2 \gset
SELECT dispatch.submit_feedback(:o3, NULL, 'not late, but the soup spilled :(') AS f3 \gset
SELECT dispatch.submit_feedback(:o2, 4, NULL) AS f4 \gset

SELECT is(dispatch.zone_of(:f1), :zone::bigint, 'the feedback id carries the zone');
-- the zone's rows are read first, then checked: a statement that names the
-- zone goes whole to its Citus worker, where pgTAP has no plan
SELECT (SELECT count(*) FROM dispatch.feedback WHERE zone_id = :zone) AS v \gset
SELECT is(:'v'::bigint, 4::bigint, 'four reviews stored');
SELECT topics AS topics1, score < -0.5 AND text_score < 0 AS negative1, merchant_id AS merchant1,
       position(convert_to('一个多小时', 'UTF8') IN comment_enc) = 0 AS sealed1, comment_enc AS comment1
  FROM dispatch.feedback WHERE zone_id = :zone AND feedback_id = :f1 \gset
SELECT score > 0.5 AND text_score > 0 AS positive2, score AS score2
  FROM dispatch.feedback WHERE zone_id = :zone AND feedback_id = :f2 \gset
SELECT score AS score3, text_score AS text_score3, topics AS topics3
  FROM dispatch.feedback WHERE zone_id = :zone AND feedback_id = :f3 \gset
SELECT score AS score4 FROM dispatch.feedback WHERE zone_id = :zone AND feedback_id = :f4 \gset
SELECT is(:'topics1'::text[], ARRAY['late', 'cold'], 'topics tagged on the way in');
SELECT ok(:'negative1'::bool, 'a one-star complaint scores negative');
SELECT ok(:'positive2'::bool, 'a five-star praise scores positive');
SELECT is(:'score2'::real, dispatch.feedback_score(5, dispatch.sentiment('送餐很快，热乎乎的，好吃！')), 'rating and text combined');
SELECT is(:'score3'::real, :'text_score3'::real, 'no rating: the text alone');
SELECT is(:'topics3'::text[], ARRAY['spilled'], '"not late" is not tagged late');
SELECT is(:'score4'::real, 0.5::real, 'no text: the rating alone (4 stars = 0.5)');
SELECT is(:'merchant1'::bigint, :merchant::bigint, 'the merchant is recorded');

-- the text is sealed, and opens with the customer's key
SELECT ok(:'sealed1'::bool, 'the text is not stored in clear');
SELECT is(dispatch.pii_open('customer', :customer, :'comment1'::bytea, 'test'),
          '太慢了，等了一个多小时，饭都凉了', 'the text opens with the customer''s key');

-- errors
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, 3, %L)', :o1, '还行'), 'DP505', NULL,
                 'one review per order and channel');
SELECT lives_ok(format('SELECT dispatch.submit_feedback(%s, 3, %L, %L)', :o1, '还行', 'phone'),
                'another channel may review the same order');
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, 6, NULL)', :o3), 'DP504', NULL, 'rating above 5');
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, 0, %L, %L)', :o3, 'ok', 'web'), 'DP504', NULL, 'rating below 1');
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, NULL, %L, %L)', :o3, '  ', 'web'), 'DP504', NULL,
                 'neither rating nor text');
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, 3, NULL, %L)', :o3, 'Bad Channel'), 'DP504', NULL,
                 'channel names are checked');
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, 3, NULL)', :open_order), 'DP506', NULL,
                 'an order not yet delivered cannot be reviewed');
SELECT throws_ok('SELECT dispatch.submit_feedback(999999, 3, NULL)', 'DP014', NULL, 'unknown order');

-- channels are open-ended, but one review per order counts: the first.
-- Reviews of o1 and o3 under more channels earn nothing and weigh nothing
-- in the views (o1 now has app, phone and web; o2 web and app).
SELECT dispatch.submit_feedback(:o1, 1, '饭都凉了，太慢了', 'web') AS f5 \gset
SELECT dispatch.submit_feedback(:o3, 1, NULL, 'x1') AS f6 \gset
SELECT dispatch.submit_feedback(:o3, 1, NULL, 'x2') AS f7 \gset
SELECT results_eq(format($$ SELECT count(*), sum(points)::bigint, array_agg(ref ORDER BY ref) FROM dispatch.points_ledger
                             WHERE reason = 'feedback' AND customer_id = %s AND campaign_id = %s $$, :customer, :points_campaign),
                  format('VALUES (3::bigint, 30::bigint, ARRAY[%L, %L, %L])', 'feedback:' || :f1, 'feedback:' || :f2, 'feedback:' || :f3),
                  'feedback_points once per order, for its first review, whatever the channels');
SELECT is(dispatch.submit_feedback(:o3, 1, NULL, 'x2'), :f7::bigint, 'a repeat of a later review is still a no-op');
SELECT (SELECT count(*) FROM dispatch.points_ledger WHERE reason = 'feedback' AND customer_id = :customer) AS v \gset
SELECT is(:'v'::bigint, 3::bigint, '... that earns nothing');

-- views for analysts
-- (first reviews: o1 1 star, o2 5 stars, o3 no rating)
SELECT results_eq(format($$ SELECT reviews, mean_rating FROM dispatch.feedback_daily WHERE zone_id = %s AND merchant_id = %s $$,
                         :zone, :merchant),
                  $$ VALUES (3::bigint, 3::real) $$, 'feedback_daily counts one review per order, its first, and averages ratings');
SELECT (SELECT share_negative FROM dispatch.feedback_daily WHERE zone_id = :zone AND merchant_id = :merchant) AS v \gset
SELECT (SELECT ((count(*) FILTER (WHERE score < 0))::float8 / count(*))::real FROM dispatch.feedback
         WHERE zone_id = :zone AND feedback_id IN (:f1, :f2, :f3)) AS w \gset
SELECT is(:'v'::real, :'w'::real, 'share_negative is the share of negative scores among the first reviews');
SELECT bag_eq(format($$ SELECT topic, reviews FROM dispatch.feedback_top_issues WHERE zone_id = %s $$, :zone),
              $$ VALUES ('late', 1::bigint), ('cold', 1::bigint), ('spilled', 1::bigint) $$,
              'feedback_top_issues counts topics per week, one review per order');
SELECT dispatch.rollup_campaigns(true) \g /dev/null
SELECT results_eq(format($$ SELECT reviews, share_negative FROM dispatch.monthly_review WHERE zone_id = %s $$, :zone),
                  format('VALUES (3::bigint, %s::numeric(5, 4))', :'w'),
                  'monthly_review counts one review per order too');
SELECT hasnt_column('dispatch', 'feedback_daily', 'comment_enc', 'no text in the daily view');
SELECT table_privs_are('dispatch', 'feedback', 'dispatch_analyst', ARRAY[]::text[], 'analysts cannot read the feedback table');
SELECT table_privs_are('dispatch', 'feedback_top_issues', 'dispatch_analyst', ARRAY['SELECT'], 'analysts read the views');

-- retention removes the text, keeps score and topics
SELECT is(dispatch.purge_feedback_text('infinity'::timestamptz), 5, 'purge removes the texts');
SELECT * FROM finish();
ROLLBACK;
