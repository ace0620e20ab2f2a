-- test/pgtap/76_complaints.sql: the complaint loop (tickets opened by
-- negative reviews, resolve_ticket, complaint_sla) and surveys
-- (create_survey, answer_survey, survey_results) of sql/76_complaints.sql.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(104);
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql
CREATE FUNCTION pg_temp.n(p_table text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM dispatch.%I', p_table) INTO n;
	RETURN n;
END $$;

-- T0: every order is delivered and reviewed at 10:00 UTC on 2 March
SET LOCAL dispatch.clock_override = '2026-03-02 10:00:00+00';
SELECT dispatch.create_campaign('Points for reviews', 'points', '{"earn_per_yuan": 1, "feedback_points": 10}')
       AS points_campaign \gset
SELECT dispatch.create_campaign('Sorry', 'goodwill', '{"amount_off_cents": 500}') AS goodwill \gset
SELECT dispatch.create_campaign('Spring', 'limited_time', '{"percent_off": 10}', NULL, NULL, '2026-03-09 00:00:00+00',
                                NULL, 'SPRING10') AS spring \gset
SELECT pg_temp.order_in('delivered') AS o1 \gset
SELECT pg_temp.order_in('delivered') AS o2 \gset
SELECT pg_temp.order_in('delivered') AS o3 \gset
SELECT pg_temp.order_in('delivered') AS o4 \gset
SELECT pg_temp.order_in('delivered') AS o5 \gset
SELECT pg_temp.order_in('delivered') AS o6 \gset
SELECT pg_temp.order_in('delivered') AS o7 \gset
SELECT pg_temp.order_in('delivered') AS o8 \gset
SELECT pg_temp.order_in('placed') AS open_order \gset
-- a redeemer of the spring campaign, and one whose redeeming order was cancelled
SELECT dispatch.place_order(:customer, :merchant, jsonb_build_array(jsonb_build_object('item_id', :noodles, 'qty', 1)),
                            121.445, 31.196, 'somewhere', 'normal', 'SPRING10') AS spring_order \gset
SELECT dispatch.place_order(:customer2, :merchant, jsonb_build_array(jsonb_build_object('item_id', :noodles, 'qty', 1)),
                            121.445, 31.196, 'elsewhere', 'normal', 'SPRING10') AS spring_cancelled \gset
SELECT dispatch.cancel_order(:spring_cancelled, 'changed mind') \g /dev/null

------------------------------------------------------------------------------
-- tickets

SELECT dispatch.submit_feedback(:o1, 1, '太慢了，等了一个多小时，饭都凉了') AS f1 \gset
SELECT dispatch.submit_feedback(:o2, NULL, 'the noodles were tasteless and the portion was tiny') AS f2 \gset
SELECT dispatch.submit_feedback(:o3, 5, '送餐很快，热乎乎的，好吃！') AS f3 \gset
SELECT dispatch.submit_feedback(:o4, NULL, 'ok I guess') AS f4 \gset
SELECT dispatch.submit_feedback(:o5, 2, NULL) AS f5 \gset
SELECT dispatch.submit_feedback(:o6, NULL, '菜品很好吃，就是有点贵') AS f6 \gset
SELECT dispatch.submit_feedback(:o1, 1, 'still waiting, so late', 'phone') AS f1b \gset

-- the zone's rows are read first, then checked: a statement that names the
-- zone goes whole to its Citus worker, where pgTAP has no plan
SELECT (SELECT feedback_id FROM dispatch.complaint_tickets WHERE zone_id = :zone AND order_id = :o1) AS v \gset
SELECT is(:'v'::bigint, :f1::bigint, 'a one-star review opens a ticket');
SELECT (SELECT feedback_id FROM dispatch.complaint_tickets WHERE zone_id = :zone AND order_id = :o2) AS v \gset
SELECT is(:'v'::bigint, :f2::bigint, 'a negative text with a complaint topic opens a ticket');
SELECT (SELECT feedback_id FROM dispatch.complaint_tickets WHERE zone_id = :zone AND order_id = :o5) AS v \gset
SELECT is(:'v'::bigint, :f5::bigint, 'a two-star rating alone opens a ticket');
SELECT (SELECT text_score < 0 AND topics = '{}' FROM dispatch.feedback WHERE zone_id = :zone AND feedback_id = :f4) AS v \gset
SELECT ok(:'v'::bool, 'the mild text scores negative and raises no topic');
SELECT (SELECT text_score > 0 AND topics <> '{}' FROM dispatch.feedback WHERE zone_id = :zone AND feedback_id = :f6) AS v \gset
SELECT ok(:'v'::bool, 'the text with a topic scores positive');
SELECT (SELECT array_agg(order_id ORDER BY order_id) FROM dispatch.complaint_tickets WHERE zone_id = :zone) AS v \gset
SELECT is(:'v'::bigint[], ARRAY[:o1, :o2, :o5]::bigint[],
          'no ticket for praise, for a mild text without a topic, for a positive text with a topic; one per order');
SELECT (SELECT ticket_id FROM dispatch.complaint_tickets WHERE zone_id = :zone AND order_id = :o1) AS v \gset
SELECT is(dispatch.zone_of(:'v'::bigint), :zone::bigint, 'the ticket id carries the zone');
SELECT results_eq(format($$ SELECT topics, side, state, merchant_id FROM dispatch.complaint_tickets
                             WHERE zone_id = %s ORDER BY order_id $$, :zone),
                  format($$ VALUES (ARRAY['late', 'cold'], 'delivery', 'open', %1$s::bigint),
                                   (ARRAY['taste', 'portion'], 'merchant', 'open', %1$s),
                                   ('{}'::text[], 'merchant', 'open', %1$s) $$, :merchant),
                  'topics copied from the review, side by topic, open');
SELECT (SELECT bool_and(opened_at = '2026-03-02 10:00:00+00' AND due_at = opened_at + interval '24 hours')
          FROM dispatch.complaint_tickets WHERE zone_id = :zone) AS v \gset
SELECT ok(:'v'::bool, 'a ticket opens with its review and is due 24 hours later');
SELECT is(dispatch.complaint_due_in(), interval '24 hours', 'complaint_due_in is 24 hours');
SELECT results_eq($$ SELECT dispatch.complaint_side(t) FROM (VALUES (ARRAY['cold']), (ARRAY['spilled', 'rider_attitude']),
                                                                   (ARRAY['wrong_item']), (ARRAY['missing_item', 'hygiene']),
                                                                   (ARRAY['late', 'price']), (ARRAY['late', 'cold', 'price']),
                                                                   ('{}'::text[]), (NULL)) v(t) $$,
                  $$ VALUES ('delivery'), ('delivery'), ('merchant'), ('merchant'), ('merchant'), ('delivery'),
                            ('merchant'), ('merchant') $$,
                  'complaint_side: the side of more topics; a tie or none goes to the merchant');
SELECT (SELECT count(*) FROM dispatch.complaint_tickets c JOIN dispatch.feedback f USING (zone_id, feedback_id)
         WHERE c.zone_id = :zone AND f.channel = 'phone') AS v \gset
SELECT is(:'v'::bigint, 0::bigint, 'a second negative review of the same order opens no second ticket');
SELECT hasnt_column('dispatch', 'complaint_tickets', 'comment_enc', 'tickets copy no text');
SELECT hasnt_column('dispatch', 'complaint_tickets', 'customer_id', 'tickets copy no customer');

SELECT ticket_id AS t1 FROM dispatch.complaint_tickets WHERE zone_id = :zone AND order_id = :o1 \gset
SELECT ticket_id AS t2 FROM dispatch.complaint_tickets WHERE zone_id = :zone AND order_id = :o2 \gset
SELECT ticket_id AS t5 FROM dispatch.complaint_tickets WHERE zone_id = :zone AND order_id = :o5 \gset

-- resolving, two hours later
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
SELECT is(dispatch.resolve_ticket(:t1, 'refunded the delivery fee', 50), NULL, 'resolved with points, no coupon');
SELECT results_eq(format($$ SELECT state, resolved_at, resolution, goodwill_points FROM dispatch.complaint_tickets
                             WHERE zone_id = %s AND ticket_id = %s $$, :zone, :t1),
                  $$ VALUES ('resolved', '2026-03-02 12:00:00+00'::timestamptz, 'refunded the delivery fee', 50) $$,
                  'the ticket is resolved at clock()');
SELECT is((SELECT sum(points) FROM dispatch.points_ledger
            WHERE customer_id = :customer AND reason = 'goodwill' AND ref = 'ticket:' || :t1), 50::bigint,
          'the goodwill points are credited to the customer');
SET LOCAL dispatch.clock_override = '2026-03-02 13:00:00+00';
SELECT is(dispatch.resolve_ticket(:t1, ' refunded the delivery fee ', 50), NULL, 'the same resolution again is a no-op');
SELECT is((SELECT count(*) FROM dispatch.points_ledger WHERE reason = 'goodwill'), 1::bigint, '... that credits nothing more');
SELECT (SELECT resolved_at FROM dispatch.complaint_tickets WHERE zone_id = :zone AND ticket_id = :t1) AS v \gset
SELECT is(:'v'::timestamptz, '2026-03-02 12:00:00+00'::timestamptz, '... and keeps the time of resolution');
SELECT throws_ok(format('SELECT dispatch.resolve_ticket(%s, %L)', :t1, 'apologised'), 'DP653', NULL,
                 'another resolution of a resolved ticket is refused');
SELECT throws_ok(format('SELECT dispatch.resolve_ticket(%s, %L, 80)', :t1, 'refunded the delivery fee'), 'DP653', NULL,
                 'other goodwill for a resolved ticket is refused');
SELECT (SELECT resolution FROM dispatch.complaint_tickets WHERE zone_id = :zone AND ticket_id = :t1) AS v \gset
SELECT is(:'v'::text, 'refunded the delivery fee', '... and the ticket keeps its resolution');
SELECT throws_ok(format('SELECT dispatch.resolve_ticket(%s, %L)', (:zone::bigint << 40) + 999999, 'x'), 'DP651', NULL,
                 'an unknown ticket');
SELECT throws_ok(format('SELECT dispatch.resolve_ticket(%s, %L)', :t5, '  '), 'DP652', NULL, 'a blank resolution');
SELECT throws_ok(format('SELECT dispatch.resolve_ticket(%s, NULL)', :t5), 'DP652', NULL, 'no resolution');
SELECT throws_ok(format('SELECT dispatch.resolve_ticket(%s, %L, -5)', :t5, 'x'), 'DP652', NULL, 'negative goodwill points');
SELECT throws_ok(format('SELECT dispatch.resolve_ticket(%s, %L)', :t5, repeat('x', 201)), 'DP028', NULL,
                 'a resolution past 200 characters');
SELECT (SELECT state FROM dispatch.complaint_tickets WHERE zone_id = :zone AND ticket_id = :t5) AS v \gset
SELECT is(:'v'::text, 'open', 'refused resolutions leave the ticket open');

-- a ticket opened the next day, after the first day's ones are due
SET LOCAL dispatch.clock_override = '2026-03-03 15:00:00+00';
SELECT dispatch.submit_feedback(:o7, 1, NULL) AS f7 \gset
SELECT ticket_id AS t7 FROM dispatch.complaint_tickets WHERE zone_id = :zone AND order_id = :o7 \gset

-- 30 hours after T0: ticket 2 resolved late; ticket 5 still open and overdue
SET LOCAL dispatch.clock_override = '2026-03-03 16:00:00+00';
SELECT pg_temp.n('coupons') AS coupons_before \gset
SELECT throws_ok(format('SELECT dispatch.resolve_ticket(%s, %L, 0, %s)', :t2, 'coupon', :points_campaign), 'DP654', NULL,
                 'goodwill coupons come from a goodwill campaign');
SELECT throws_ok(format('SELECT dispatch.resolve_ticket(%s, %L, 0, 999999)', :t2, 'coupon'), 'DP654', NULL,
                 'an unknown goodwill campaign');
SELECT dispatch.resolve_ticket(:t2, 'merchant called the customer', 0, :goodwill) AS code \gset
SELECT results_eq(format($$ SELECT campaign_id, customer_id, max_uses FROM dispatch.coupons WHERE code = %L $$, :'code'),
                  format($$ VALUES (%s::bigint, %s::bigint, 1) $$, :goodwill, :customer),
                  'resolved with a one-use goodwill coupon for the customer, whose code is returned');
SELECT is(dispatch.resolve_ticket(:t2, 'merchant called the customer', 0, :goodwill), :'code',
          'the repeat returns the same code');
SELECT is(pg_temp.n('coupons'), (:coupons_before + 1)::bigint, '... and issues no second coupon');
SELECT (SELECT goodwill_coupon FROM dispatch.complaint_tickets WHERE zone_id = :zone AND ticket_id = :t2) AS v \gset
SELECT is(:'v'::text, :'code', 'the ticket records the coupon');
SELECT results_eq(format($$ SELECT day, topic, side, opened, resolved_in_time, resolved_late, open_overdue, open_in_time,
                                    median_resolution
                               FROM dispatch.complaint_sla WHERE zone_id = %s ORDER BY day, topic NULLS LAST $$, :zone),
                  $$ VALUES ('2026-03-02'::date, 'cold', 'delivery', 1::bigint, 1::bigint, 0::bigint, 0::bigint, 0::bigint, interval '2 hours'),
                            ('2026-03-02', 'late', 'delivery', 1, 1, 0, 0, 0, interval '2 hours'),
                            ('2026-03-02', 'portion', 'merchant', 1, 0, 1, 0, 0, interval '30 hours'),
                            ('2026-03-02', 'taste', 'merchant', 1, 0, 1, 0, 0, interval '30 hours'),
                            ('2026-03-02', NULL, 'merchant', 1, 0, 0, 1, 0, NULL),
                            ('2026-03-03', NULL, 'merchant', 1, 0, 0, 0, 1, NULL) $$,
                  'complaint_sla: opened, resolved in time and late, open overdue and in time, median resolution');
SELECT results_eq(format('SELECT ticket_id, order_id, side, overdue FROM dispatch.open_tickets(%s)', :zone),
                  format('VALUES (%s::bigint, %s::bigint, %L, true), (%s, %s, %L, false)', :t5, :o5, 'merchant', :t7, :o7, 'merchant'),
                  'open_tickets: the open tickets of a zone, the first due first, overdue or not');
SELECT is((SELECT count(*) FROM dispatch.open_tickets(:zone, 'delivery')), 0::bigint, 'open_tickets of one side');
SELECT is((SELECT count(*) FROM dispatch.open_tickets(:zone, 'merchant', 1)), 1::bigint, 'open_tickets up to max_tickets');
SELECT throws_ok(format('SELECT * FROM dispatch.open_tickets(%s, %L)', :zone, 'kitchen'), 'DP662', NULL, 'an unknown side');
SELECT throws_ok(format('SELECT * FROM dispatch.open_tickets(%s, NULL, 0)', :zone), 'DP662', NULL, 'max_tickets below 1');
-- the same tickets seen an hour before the first day's are due
SET LOCAL dispatch.clock_override = '2026-03-03 09:00:00+00';
SELECT results_eq(format($$ SELECT sum(open_overdue)::bigint, sum(open_in_time)::bigint FROM dispatch.complaint_sla
                             WHERE zone_id = %s AND topic IS NULL AND day = '2026-03-02' $$, :zone),
                  $$ VALUES (0::bigint, 1::bigint) $$, 'complaint_sla measures "open" against clock()');
SELECT results_eq(format($$ SELECT day, sum(opened)::bigint FROM dispatch.complaint_sla
                             WHERE zone_id = %s AND topic IS NULL GROUP BY day ORDER BY day $$, :zone),
                  $$ VALUES ('2026-03-02'::date, 1::bigint), ('2026-03-03', 1) $$,
                  'tickets are counted on the local day they opened');
SET LOCAL dispatch.clock_override = '2026-03-03 16:00:00+00';
SELECT results_eq(format($$ SELECT count(*), sum(points)::bigint, count(DISTINCT ref) FROM dispatch.points_ledger
                             WHERE reason = 'feedback' AND customer_id = %s AND campaign_id = %s $$, :customer, :points_campaign),
                  $$ VALUES (7::bigint, 70::bigint, 7::bigint) $$,
                  'every reviewed order earned the points campaign''s feedback_points, once (o1''s review from the phone channel none)');
SELECT is((SELECT ref FROM dispatch.points_ledger WHERE reason = 'feedback' ORDER BY entry_id LIMIT 1), 'feedback:' || :f1,
          'the points name the review they were earned by');

------------------------------------------------------------------------------
-- surveys after a delivery

SELECT dispatch.create_survey('delivery', :o3) AS s3 \gset
SELECT is(dispatch.create_survey('delivery', :o3), :s3::bigint, 'one survey per order: a repeat returns it');
SELECT is(dispatch.zone_of(:s3), :zone::bigint, 'the survey id carries the zone of its order');
SELECT results_eq(format('SELECT kind, order_id, campaign_id FROM dispatch.surveys WHERE zone_id = %s', :zone),
                  format('VALUES (%L, %s::bigint, NULL::bigint)', 'delivery', :o3), 'one delivery survey stored');
SELECT dispatch.create_survey('delivery', :o4) AS s4 \gset
SELECT dispatch.create_survey('delivery', :o8) AS s8 \gset

SELECT throws_ok('SELECT dispatch.create_survey(''poll'', 1)', 'DP655', NULL, 'an unknown kind');
SELECT throws_ok('SELECT dispatch.create_survey(''delivery'')', 'DP655', NULL, 'a delivery survey without an order');
SELECT throws_ok(format('SELECT dispatch.create_survey(%L, %s, 1)', 'delivery', :o5), 'DP655', NULL,
                 'a delivery survey with a campaign');
SELECT throws_ok(format('SELECT dispatch.create_survey(%L, %s)', 'campaign', :o5), 'DP655', NULL,
                 'a campaign survey with an order');
SELECT throws_ok(format('SELECT dispatch.create_survey(%L, %s)', 'delivery', :open_order), 'DP656', NULL,
                 'an order not yet delivered');
SELECT throws_ok('SELECT dispatch.create_survey(''delivery'', 999999)', 'DP014', NULL, 'an unknown order');

SELECT dispatch.answer_survey(:s3, :customer, 2, '味道一般，分量太少') AS a3 \gset
SELECT dispatch.answer_survey(:s4, :customer, 5) AS a4 \gset
SELECT dispatch.answer_survey(:s8, :customer, 4, '很好吃，下次还点') AS a8 \gset
SELECT is(dispatch.answer_survey(:s3, :customer, 2, ' 味道一般，分量太少 '), :a3::bigint,
          'the same answer again is a no-op that returns it');
SELECT results_eq(format($$ SELECT order_id, rating, text_score, topics, score FROM dispatch.survey_answers
                             WHERE zone_id = %s AND answer_id = %s $$, :zone, :a3),
                  format($$ VALUES (%s::bigint, 2::smallint, dispatch.sentiment(%2$L), dispatch.feedback_topics(%2$L),
                                    dispatch.feedback_score(2, dispatch.sentiment(%2$L))) $$, :o3, '味道一般，分量太少'),
                  'an answer is scored and tagged like a review and linked to its order');
SELECT (SELECT comment_enc FROM dispatch.survey_answers WHERE zone_id = :zone AND answer_id = :a3) AS v \gset
SELECT is(dispatch.pii_open('customer', :customer, :'v'::bytea, 'test'),
          '味道一般，分量太少', 'the comment is sealed with the customer''s key');
SELECT (SELECT score FROM dispatch.survey_answers WHERE zone_id = :zone AND answer_id = :a4) AS v \gset
SELECT is(:'v'::real, 1::real, 'a rating alone: five stars score 1');

SELECT throws_ok(format('SELECT dispatch.answer_survey(%s, %s, 3, %L)', :s3, :customer, 'fine'), 'DP660', NULL,
                 'another answer of the same customer');
SELECT throws_ok(format('SELECT dispatch.answer_survey(%s, %s, 6)', :s4, :customer), 'DP658', NULL, 'a rating above 5');
SELECT throws_ok(format('SELECT dispatch.answer_survey(%s, %s, NULL, %L)', :s4, :customer, 'good'), 'DP658', NULL,
                 'no rating');
SELECT throws_ok(format('SELECT dispatch.answer_survey(NULL, %s, 3)', :customer), 'DP658', NULL, 'no survey');
SELECT throws_ok(format('SELECT dispatch.answer_survey(%s, %s, 3)', (:zone::bigint << 40) + 999999, :customer), 'DP657',
                 NULL, 'an unknown survey');
SELECT throws_ok(format('SELECT dispatch.answer_survey(%s, %s, 3)', :s4, :customer2), 'DP659', NULL,
                 'a delivery survey is answered by the order''s customer only');
SELECT throws_ok(format('SELECT dispatch.answer_survey(%s, %s, 3, %L)', :s4, :customer, repeat('好', 2001)), 'DP028', NULL,
                 'a comment past 2000 characters');

SELECT results_eq(format($$ SELECT month, kind, answers, mean_rating, mean_sentiment, share_negative, top_topics
                               FROM dispatch.survey_results WHERE zone_id = %s AND campaign_id IS NULL $$, :zone),
                  format($$ VALUES ('2026-03-01'::date, 'delivery', 3::bigint, (11 / 3.0)::real,
                                    (SELECT avg(x)::real FROM (VALUES (dispatch.sentiment(%L)), (dispatch.sentiment(%L))) v(x)), (1 / 3.0)::real,
                                    ARRAY['portion', 'taste']) $$, '味道一般，分量太少', '很好吃，下次还点'),
                  'survey_results: answers, mean rating, mean sentiment of comments, share negative, top topics');

------------------------------------------------------------------------------
-- surveys at the end of a campaign

SELECT throws_ok(format('SELECT dispatch.create_survey(%L, NULL, %s)', 'campaign', :spring), 'DP656', NULL,
                 'a campaign survey waits for the end of the campaign');
SELECT throws_ok('SELECT dispatch.create_survey(''campaign'', NULL, 999999)', 'DP661', NULL, 'an unknown campaign');
SELECT dispatch.end_campaign(:spring) \g /dev/null
SELECT dispatch.create_survey('campaign', NULL, :spring) AS sc \gset
SELECT is(dispatch.create_survey('campaign', NULL, :spring), :sc::bigint, 'one survey per campaign: a repeat returns it');
SELECT is(dispatch.zone_of(:sc), 0::bigint, 'the survey of a campaign of every zone has zone 0');
SELECT dispatch.answer_survey(:sc, :customer, 3, 'the discount was nice but the food came cold') AS ac \gset
SELECT results_eq(format($$ SELECT zone_id, order_id, campaign_id FROM dispatch.survey_answers WHERE answer_id = %s $$, :ac),
                  format($$ VALUES (%s::bigint, %s::bigint, %s::bigint) $$, :zone, :spring_order, :spring),
                  'a campaign answer is linked to the campaign and to the order that redeemed it, in its zone');
SELECT throws_ok(format('SELECT dispatch.answer_survey(%s, %s, 4)', :sc, :customer2), 'DP659', NULL,
                 'a customer whose redeeming order was cancelled does not answer');
SELECT results_eq(format($$ SELECT zone_id, kind, answers, mean_rating, top_topics
                               FROM dispatch.survey_results WHERE campaign_id = %s $$, :spring),
                  format($$ VALUES (%s::bigint, 'campaign', 1::bigint, 3::real, dispatch.feedback_topics(%L)) $$,
                         :zone, 'the discount was nice but the food came cold'),
                  'survey_results has a row per campaign (and zone and month)');
SELECT results_eq(format($$ SELECT count(*), sum(points)::bigint FROM dispatch.points_ledger
                             WHERE reason = 'survey' AND customer_id = %s $$, :customer),
                  $$ VALUES (4::bigint, 40::bigint) $$, 'each answer earned the points of a review');

------------------------------------------------------------------------------
-- retention and roles

SELECT is(dispatch.purge_survey_text('2026-03-01 00:00:00+00'), 0, 'comments younger than the limit stay');
SELECT is(dispatch.purge_feedback_text('infinity'), 6 + 3, 'the feedback text purge removes the survey comments too');
SELECT is((SELECT count(*) FROM dispatch.survey_answers WHERE comment_enc IS NOT NULL OR text_score IS NOT NULL AND text_purged_at IS NULL),
          0::bigint, 'no comment left, each purge stamped');
SELECT (SELECT answers FROM dispatch.survey_results WHERE zone_id = :zone AND campaign_id IS NULL) AS v \gset
SELECT is(:'v'::bigint, 3::bigint, 'the scores stay for the views');

SELECT table_privs_are('dispatch', 'complaint_tickets', 'dispatch_analyst', ARRAY[]::text[], 'the analyst does not read tickets');
SELECT table_privs_are('dispatch', 'survey_answers', 'dispatch_analyst', ARRAY[]::text[], 'nor answers');
SELECT table_privs_are('dispatch', 'surveys', 'dispatch_analyst', ARRAY[]::text[], 'nor surveys');
SELECT hasnt_column('dispatch', 'survey_results', 'customer_id', 'no customer in survey_results');
-- (on Citus a transaction cannot read as another role the shards it wrote,
-- and the group role cannot log in to the workers: there the views are read
-- as their owner and the analyst's right to them and their definer
-- functions checked; see 53_pay.sql)
SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS on_citus \gset
\if :on_citus
SELECT is(CASE WHEN has_table_privilege('dispatch_analyst', 'dispatch.complaint_sla', 'SELECT')
                    AND has_function_privilege('dispatch_analyst', 'dispatch._complaint_sla()', 'EXECUTE')
               THEN (SELECT sum(opened)::bigint FROM dispatch.complaint_sla) END, 6::bigint, 'the analyst reads complaint_sla');
SELECT is(CASE WHEN has_table_privilege('dispatch_analyst', 'dispatch.survey_results', 'SELECT')
                    AND has_function_privilege('dispatch_analyst', 'dispatch._survey_results()', 'EXECUTE')
               THEN (SELECT sum(answers)::bigint FROM dispatch.survey_results) END, 4::bigint, 'the analyst reads survey_results');
SET LOCAL ROLE dispatch_analyst;
\else
SET LOCAL ROLE dispatch_analyst;
SELECT is((SELECT sum(opened)::bigint FROM dispatch.complaint_sla), 6::bigint, 'the analyst reads complaint_sla');
SELECT is((SELECT sum(answers)::bigint FROM dispatch.survey_results), 4::bigint, 'the analyst reads survey_results');
\endif
SELECT throws_ok('SELECT count(*) FROM dispatch.survey_answers', '42501', NULL, 'the analyst is refused the answers table');
RESET ROLE;

------------------------------------------------------------------------------
-- an errand has no merchant: its tickets go to the delivery

SELECT dispatch.place_errand(:customer, 121.43, 31.19, 121.44, 31.20, 'gate 3', 'buy a charger', 1500) AS e1 \gset
SELECT dispatch.place_errand(:customer, 121.43, 31.19, 121.44, 31.20, 'gate 3', 'buy a lamp', 1500) AS e2 \gset
SELECT dispatch.confirm_payment(:e1, 'ref-e1') \g /dev/null
SELECT dispatch.confirm_payment(:e2, 'ref-e2') \g /dev/null
SELECT dispatch.assign_manually(:e1, :rider, 'test') \g /dev/null
SELECT dispatch.mark_picked_up(:e1, :rider) \g /dev/null
SELECT dispatch.mark_delivered(:e1, :rider) \g /dev/null
SELECT dispatch.assign_manually(:e2, :rider, 'test') \g /dev/null
SELECT dispatch.mark_picked_up(:e2, :rider) \g /dev/null
SELECT dispatch.mark_delivered(:e2, :rider) \g /dev/null
SELECT dispatch.submit_feedback(:e1, 1, NULL) \g /dev/null
SELECT dispatch.submit_feedback(:e2, 2, 'way too expensive, overpriced') \g /dev/null
SELECT (SELECT format('%s %s %s', coalesce(merchant_id::text, '-'), topics, side)
          FROM dispatch.complaint_tickets WHERE zone_id = :zone AND order_id = :e1) AS v \gset
SELECT is(:'v'::text, '- {} delivery', 'an errand''s low rating without a topic opens a ticket for the delivery');
SELECT (SELECT format('%s %s %s', coalesce(merchant_id::text, '-'), 'price' = ANY (topics), side)
          FROM dispatch.complaint_tickets WHERE zone_id = :zone AND order_id = :e2) AS v \gset
SELECT is(:'v'::text, '- t delivery', '... and so does one about its price, a merchant''s topic');
SELECT results_eq(format('SELECT order_id FROM dispatch.open_tickets(%s, %L) ORDER BY order_id', :zone, 'delivery'),
                  format('VALUES (%s::bigint), (%s::bigint)', :e1, :e2), 'open_tickets of the delivery lists them');
SELECT is((SELECT count(*) FROM dispatch.open_tickets(:zone, 'merchant') WHERE merchant_id IS NULL), 0::bigint,
          'open_tickets of the merchants lists no ticket without a merchant');
SELECT results_eq($$ SELECT dispatch.complaint_side(t, false) FROM (VALUES (ARRAY['taste']), ('{}'::text[]), (NULL)) v(t) $$,
                  $$ VALUES ('delivery'), ('delivery'), ('delivery') $$,
                  'complaint_side: without a merchant, the delivery whatever the topics');

------------------------------------------------------------------------------
-- one answer per campaign survey and customer, whichever zones their orders
-- are in: a customer redeemed a campaign of every zone on an order here and
-- on one in the other zone, answered, then the first order was cancelled

SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT dispatch.create_campaign('Autumn', 'limited_time', '{"percent_off": 10, "per_customer": 2}', NULL, NULL,
                                dispatch.clock() + interval '1 day', NULL, 'AUTUMN10') AS autumn \gset
SELECT dispatch.create_merchant(:other_zone, 'Far shop', 120.05, 30.05) AS far_m \gset
SELECT dispatch.add_item(:far_m, 'far noodles', 2000) AS far_item \gset
CREATE FUNCTION pg_temp.autumn_order(p_customer bigint, p_far boolean) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE o bigint;
BEGIN
	IF p_far THEN
		o := dispatch.place_order(p_customer, current_setting('t.far_m')::bigint,
		                          jsonb_build_array(jsonb_build_object('item_id', current_setting('t.far_item')::bigint, 'qty', 1)),
		                          120.051, 30.051, 'far away', 'normal', 'AUTUMN10');
	ELSE
		o := dispatch.place_order(p_customer, current_setting('t.merchant')::bigint,
		                          jsonb_build_array(jsonb_build_object('item_id', current_setting('t.item')::bigint, 'qty', 1)),
		                          121.445, 31.196, 'somewhere', 'normal', 'AUTUMN10');
	END IF;
	PERFORM dispatch.confirm_payment(o, 'ref-' || o);
	RETURN o;
END $$;
SELECT set_config('t.far_m', :'far_m', true), set_config('t.far_item', :'far_item', true) \g /dev/null
SELECT pg_temp.autumn_order(:customer, false) AS aa \gset
SELECT pg_temp.autumn_order(:customer, true) AS ab \gset
-- the other customer's first redeeming order is cancelled before answering
SELECT pg_temp.autumn_order(:customer2, false) AS ac \gset
SELECT pg_temp.autumn_order(:customer2, true) AS ad \gset
SELECT dispatch.cancel_order(:ac, 'changed mind') \g /dev/null
SELECT dispatch.end_campaign(:autumn) \g /dev/null
SELECT dispatch.create_survey('campaign', campaign_id => :autumn) AS sa \gset
SELECT count(*) AS survey_points_before FROM dispatch.points_ledger WHERE customer_id = :customer AND reason = 'survey' \gset
SELECT dispatch.answer_survey(:sa, :customer, 1) AS aa_answer \gset
SELECT dispatch.cancel_order(:aa, 'changed mind') \g /dev/null
SELECT is(dispatch.answer_survey(:sa, :customer, 1), :aa_answer::bigint,
          'the same answer after the order it is linked to was cancelled is a no-op that returns it');
SELECT throws_ok(format('SELECT dispatch.answer_survey(%s, %s, 5)', :sa, :customer), 'DP660', NULL,
                 '... and another answer is refused, though the redemption still held is in another zone');
SELECT results_eq(format('SELECT zone_id, order_id FROM dispatch.survey_answers WHERE survey_id = %s AND customer_id = %s',
                         :sa, :customer),
                  format('VALUES (%s::bigint, %s::bigint)', :zone, :aa), 'one answer, linked to the first redeeming order');
SELECT is((SELECT count(*) FROM dispatch.points_ledger WHERE customer_id = :customer AND reason = 'survey'),
          (:survey_points_before + 1)::bigint, '... which earned the survey points once');
SELECT dispatch.answer_survey(:sa, :customer2, 4) AS ac_answer \gset
SELECT results_eq(format('SELECT zone_id, order_id FROM dispatch.survey_answers WHERE survey_id = %s AND customer_id = %s',
                         :sa, :customer2),
                  format('VALUES (%s::bigint, %s::bigint)', :zone, :ac),
                  'a customer still holding a later redemption answers, linked to the first redeeming order, cancelled or not');
SELECT dispatch.cancel_order(:ad, 'changed mind') \g /dev/null
SELECT is(dispatch.answer_survey(:sa, :customer2, 4), :ac_answer::bigint,
          'the same answer again is a no-op once none of the customer''s redemptions is held');

------------------------------------------------------------------------------
-- an erased customer's tickets: the words written about their complaint go
-- with the erasure, and no goodwill is given to, nor recorded for, a
-- customer who can never use it

SET LOCAL dispatch.clock_override = '2026-03-05 10:00:00+00';
SELECT dispatch.register_customer('+8613800000093', 'Test Customer Gamma') AS customer3 \gset
SELECT set_config('t.customer', :'customer3', true) \g /dev/null
SELECT pg_temp.order_in('delivered') AS e1 \gset
SELECT pg_temp.order_in('delivered') AS e2 \gset
SELECT dispatch.submit_feedback(:e1, 1, NULL) \g /dev/null
SELECT dispatch.submit_feedback(:e2, 1, NULL) \g /dev/null
SELECT (SELECT ticket_id FROM dispatch.complaint_tickets WHERE zone_id = :zone AND order_id = :e1) AS te1 \gset
SELECT (SELECT ticket_id FROM dispatch.complaint_tickets WHERE zone_id = :zone AND order_id = :e2) AS te2 \gset
SELECT dispatch.resolve_ticket(:te1, 'called Mr Chen back on 13800000093, refunded') \g /dev/null
SELECT dispatch.forget_customer(:customer3) \g /dev/null
SELECT (SELECT resolution FROM dispatch.complaint_tickets WHERE zone_id = :zone AND ticket_id = :te1) AS v \gset
SELECT is(:'v'::text, 'erased', 'erasure replaces the resolution written about the customer''s ticket by the word erased');
SELECT is(dispatch.resolve_ticket(:te1, 'called Mr Chen back on 13800000093, refunded'), NULL::text,
          '... and the same resolution again is still a no-op');
SELECT throws_ok(format('SELECT dispatch.resolve_ticket(%s, %L, 100)', :te2, 'sorry'), 'DP012', NULL,
                 'goodwill points for an erased customer are refused');
SELECT throws_ok(format('SELECT dispatch.resolve_ticket(%s, %L, 0, %s)', :te2, 'sorry', :goodwill), 'DP012', NULL,
                 'a goodwill coupon for an erased customer is refused');
SELECT (SELECT state FROM dispatch.complaint_tickets WHERE zone_id = :zone AND ticket_id = :te2) AS v \gset
SELECT is(:'v'::text, 'open', '... leaving the ticket open');
SELECT is((SELECT count(*) FROM dispatch.coupons WHERE customer_id = :customer3), 0::bigint,
          '... and no coupon issued to the erased customer');
SELECT is(dispatch.resolve_ticket(:te2, 'apologised to Mr Chen'), NULL::text, 'the ticket is resolved without goodwill');
SELECT (SELECT row(state, resolution, goodwill_points)::text FROM dispatch.complaint_tickets
         WHERE zone_id = :zone AND ticket_id = :te2) AS v \gset
SELECT is(:'v'::text, '(resolved,erased,0)', '... keeping no text about the erased customer');

SELECT * FROM finish();
ROLLBACK;
