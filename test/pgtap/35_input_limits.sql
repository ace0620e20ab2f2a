-- test/pgtap/35_input_limits.sql: every free-text argument of every API
-- function, and place_order's item list, has a limit (dispatch.input_limits()).
-- One past it the call is refused with DP028 (an error: PostgreSQL rolls
-- back whatever the call wrote); at it the call is accepted and the value
-- is stored whole, never truncated.
-- Values at the limit are Chinese (three bytes a character): limits count
-- characters.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(70);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql

-- a value of n characters, and the limit of an input
CREATE FUNCTION pg_temp.chars(n integer, c text DEFAULT '字') RETURNS text LANGUAGE sql AS $$ SELECT repeat(c, n) $$;
CREATE FUNCTION pg_temp.lim(p text) RETURNS integer LANGUAGE sql AS $$
	SELECT max_length FROM dispatch.input_limits() WHERE input = p $$;
-- a phone number of n characters: +8613800000077 padded with spaces
CREATE FUNCTION pg_temp.phone(n integer, last text DEFAULT '77') RETURNS text LANGUAGE sql AS $$
	SELECT rpad('+86138000000' || last, n, ' ') $$;
-- an item list of n lines over two unlimited items
SELECT dispatch.add_item(:merchant, 'tea', 300) AS tea \gset
CREATE FUNCTION pg_temp.lines(n integer) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_agg(jsonb_build_object('item_id', CASE WHEN i % 2 = 0 THEN current_setting('t.item')::bigint
	                                                    ELSE current_setting('t.tea')::bigint END, 'qty', 1))
	  FROM generate_series(1, n) i $$;
SELECT set_config('t.tea', :'tea', true) \g /dev/null
-- a training query of n characters (a comment fills it up)
CREATE FUNCTION pg_temp.query(n integer) RETURNS text LANGUAGE sql AS $$
	SELECT rpad('SELECT * FROM (VALUES (''good'', true), (''bad'', false)) v /* ', n - 2, 'x') || '*/' $$;
\set area 'ST_GeomFromText(''POLYGON((100 10, 100.1 10, 100.1 10.1, 100 10.1, 100 10))'', 4326)'

-- the limits, listed once
SELECT is((SELECT count(*) FROM dispatch.input_limits()), 21::bigint, 'input_limits() lists 21 limits');
SELECT is((SELECT array_agg(DISTINCT unit ORDER BY unit) FROM dispatch.input_limits()), ARRAY['characters', 'lines'],
          'limits are in characters, and in lines for the item list');

-- what the refused calls need: a pending order, an accepted one, a
-- delivered one, and a pending offer
SELECT pg_temp.order_in('pending_payment') AS pending \gset
SELECT pg_temp.order_in('accepted') AS accepted \gset
SELECT pg_temp.order_in('delivered') AS delivered \gset
SELECT pg_temp.order_in('accepted') AS offered \gset
SELECT offer_id AS offer FROM dispatch.assign_batch(:zone) WHERE order_id = :offered \gset

-- one past the limit: DP028
SELECT throws_ok(format('SELECT dispatch.create_zone(%L, %s)', pg_temp.chars(pg_temp.lim('zone_name') + 1), :'area'),
                 'DP028', NULL, 'create_zone: name');
SELECT throws_ok(format('SELECT dispatch.create_merchant(%s, %L, 121.437, 31.188)', :zone, pg_temp.chars(pg_temp.lim('merchant_name') + 1)),
                 'DP028', NULL, 'create_merchant: name');
SELECT throws_ok(format('SELECT dispatch.add_item(%s, %L, 100)', :merchant, pg_temp.chars(pg_temp.lim('item_name') + 1)),
                 'DP028', NULL, 'add_item: name');
SELECT throws_ok(format('SELECT dispatch.register_customer(%L, %L)', pg_temp.phone(pg_temp.lim('phone') + 1), 'x'),
                 'DP028', NULL, 'register_customer: phone');
SELECT throws_ok(format('SELECT dispatch.register_customer(%L, %L)', '+8613800000077', pg_temp.chars(pg_temp.lim('customer_name') + 1)),
                 'DP028', NULL, 'register_customer: name');
SELECT throws_ok(format('SELECT dispatch.find_customer_by_phone(%L)', pg_temp.phone(pg_temp.lim('phone') + 1, '01')),
                 'DP028', NULL, 'find_customer_by_phone: phone');
SELECT throws_ok(format('SELECT dispatch.flag_customer(%s, %L)', :customer2, pg_temp.chars(pg_temp.lim('reason') + 1)),
                 'DP028', NULL, 'flag_customer: reason');
SELECT throws_ok(format('SELECT dispatch.register_rider(%s, %L, %L)', :zone, pg_temp.chars(pg_temp.lim('rider_name') + 1), '+8613900000077'),
                 'DP028', NULL, 'register_rider: name');
SELECT throws_ok(format('SELECT dispatch.register_rider(%s, %L, %L)', :zone, 'x', pg_temp.phone(pg_temp.lim('phone') + 1)),
                 'DP028', NULL, 'register_rider: phone');
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L)', :customer, :merchant, pg_temp.lines(1),
                        pg_temp.chars(pg_temp.lim('dropoff_address') + 1)),
                 'DP028', NULL, 'place_order: dropoff_address');
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L)', :customer, :merchant, pg_temp.lines(1),
                        repeat('x', 5 * 1024 * 1024)),
                 'DP028', NULL, 'place_order: a 5 MB drop-off address');
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L, %L, %L)', :customer, :merchant, pg_temp.lines(1),
                        'x', 'normal', pg_temp.chars(pg_temp.lim('coupon_code') + 1)),
                 'DP028', NULL, 'place_order: coupon_code');
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L)', :customer, :merchant,
                        pg_temp.lines(pg_temp.lim('items') + 1), 'x'),
                 'DP028', NULL, 'place_order: items, one line too many');
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L)', :customer, :closed,
                        pg_temp.lines(pg_temp.lim('items') + 1), 'x'),
                 'DP028', format('input too long: items has more than %s lines', pg_temp.lim('items')),
                 'place_order: items, one line too many, to a closed merchant: the size is checked first (not DP003)');
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L)', :customer, :merchant,
                        jsonb_build_array(jsonb_build_object('item_id', :noodles, 'qty', 1, 'note', repeat('x', pg_temp.lim('items_text')))), 'x'),
                 'DP028', NULL, 'place_order: items, a JSON text over the size limit');
SELECT throws_ok(format('SELECT dispatch.place_errand(%s, 121.43, 31.19, 121.44, 31.20, %L, %L, 900)', :customer,
                        pg_temp.chars(pg_temp.lim('dropoff_address') + 1), 'buy milk'),
                 'DP028', NULL, 'place_errand: dropoff_address');
SELECT throws_ok(format('SELECT dispatch.place_errand(%s, 121.43, 31.19, 121.44, 31.20, %L, %L, 900)', :customer,
                        'x', pg_temp.chars(pg_temp.lim('errand_description') + 1)),
                 'DP028', NULL, 'place_errand: description');
SELECT throws_ok(format('SELECT dispatch.confirm_payment(%s, %L)', :pending, pg_temp.chars(pg_temp.lim('provider_ref') + 1, 'r')),
                 'DP028', NULL, 'confirm_payment: provider_ref');
SELECT throws_ok(format('SELECT dispatch.fail_payment(%s, %L)', :pending, pg_temp.chars(pg_temp.lim('reason') + 1)),
                 'DP028', NULL, 'fail_payment: reason');
SELECT throws_ok(format('SELECT dispatch.cancel_order(%s, %L)', :pending, pg_temp.chars(pg_temp.lim('reason') + 1)),
                 'DP028', NULL, 'cancel_order: reason');
SELECT throws_ok(format('SELECT dispatch.assign_manually(%s, %s, %L)', :accepted, :rider, pg_temp.chars(pg_temp.lim('dispatcher') + 1)),
                 'DP028', NULL, 'assign_manually: by (the dispatcher)');
SELECT throws_ok(format('SELECT dispatch.respond_offer(%s, false, %L)', :offer, pg_temp.chars(pg_temp.lim('reason') + 1)),
                 'DP028', NULL, 'respond_offer: reason of a rejection');
SELECT throws_ok(format('SELECT dispatch.respond_offer(%s, true, %L)', :offer, pg_temp.chars(pg_temp.lim('reason') + 1)),
                 'DP028', NULL, 'respond_offer: reason of an acceptance');
SELECT throws_ok(format('SELECT dispatch.submit_feedback(%s, 3, %L)', :delivered, pg_temp.chars(pg_temp.lim('feedback_comment') + 1)),
                 'DP028', NULL, 'submit_feedback: comment');
SELECT throws_ok(format('SELECT dispatch.grant_consent(%s, %L, %L)', :customer, 'marketing', pg_temp.chars(pg_temp.lim('policy_version') + 1, 'v')),
                 'DP028', NULL, 'grant_consent: policy_version');
SELECT throws_ok(format('SELECT dispatch.train_sentiment(%L)', pg_temp.query(pg_temp.lim('training_query') + 1)),
                 'DP028', NULL, 'train_sentiment: query');
SELECT throws_ok(format('SELECT dispatch.mask_phone(%L)', pg_temp.phone(pg_temp.lim('phone') + 1)),
                 'DP028', NULL, 'mask_phone: phone');
SELECT throws_ok(format('SELECT * FROM dispatch.maintenance_commands(%L)', pg_temp.chars(pg_temp.lim('database_name') + 1, 'd')),
                 'DP028', NULL, 'maintenance_commands: database');

-- the message names the input and its limit
SELECT throws_like(format('SELECT dispatch.cancel_order(%s, %L)', :pending, pg_temp.chars(201)),
                   '%reason has more than 200 characters%', 'the message names the input and the limit');
SELECT ok(has_function_privilege('dispatch_app', 'dispatch.input_limits()', 'EXECUTE'), 'the app may read the limits');
-- the shape of the item list: flat objects of exactly item_id and qty
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L)', :customer, :merchant,
                        jsonb_build_array(jsonb_build_object('item_id', :noodles, 'qty', 1, 'note', 'x')), 'x'),
                 'DP007', NULL, 'an item line with an extra key is refused');
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L)', :customer, :merchant,
                        jsonb_build_array(jsonb_build_object('item_id', :noodles)), 'x'),
                 'DP007', NULL, 'an item line without qty is refused');
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L)', :customer, :merchant,
                        jsonb_build_array(jsonb_build_object('item_id', jsonb_build_array(:noodles), 'qty', 1)), 'x'),
                 'DP007', NULL, 'a nested item id is refused');
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L)', :customer, :merchant,
                        jsonb_build_array(jsonb_build_object('item_id', :noodles, 'qty', jsonb_build_object('n', 1))), 'x'),
                 'DP007', NULL, 'a nested quantity is refused');
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L)', :customer, :merchant,
                        jsonb_build_array(jsonb_build_array(:noodles, 1)), 'x'),
                 'DP007', NULL, 'a line that is not an object is refused');
-- at the size limit the list is read (and refused for its shape, not its size)
SELECT length(jsonb_build_array(jsonb_build_object('item_id', :noodles, 'qty', 1, 'note', ''))::text) AS bare \gset
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L)', :customer, :merchant,
                        jsonb_build_array(jsonb_build_object('item_id', :noodles, 'qty', 1, 'note', repeat('x', pg_temp.lim('items_text') - :bare))), 'x'),
                 'DP007', NULL, 'an item list of exactly the size limit is not refused for its size');

-- at the limit: accepted, and stored whole
SELECT lives_ok(format('SELECT dispatch.create_zone(%L, %s)', pg_temp.chars(pg_temp.lim('zone_name'), '区'), :'area'), 'create_zone: name at the limit');
SELECT is((SELECT length(name) FROM dispatch.zones WHERE name LIKE '区%'), pg_temp.lim('zone_name'), 'the zone name is stored whole');
SELECT lives_ok(format('SELECT dispatch.create_merchant(%s, %L, 121.437, 31.188)', :zone, pg_temp.chars(pg_temp.lim('merchant_name'), '店')),
                'create_merchant: name at the limit');
SELECT lives_ok(format('SELECT dispatch.add_item(%s, %L, 100)', :merchant, pg_temp.chars(pg_temp.lim('item_name'), '菜')),
                'add_item: name at the limit');
SELECT lives_ok(format('SELECT dispatch.register_customer(%L, %L)', pg_temp.phone(pg_temp.lim('phone')), pg_temp.chars(pg_temp.lim('customer_name'), '客')),
                'register_customer: phone and name at their limits');
SELECT is(dispatch.pii_open('customer', dispatch.find_customer_by_phone(pg_temp.phone(pg_temp.lim('phone'))),
                            (SELECT name_enc FROM dispatch.customers WHERE customer_id = dispatch.find_customer_by_phone('+8613800000077')), 'test'),
          pg_temp.chars(pg_temp.lim('customer_name'), '客'), 'find_customer_by_phone: phone at the limit; the name is stored whole');
SELECT lives_ok(format('SELECT dispatch.flag_customer(%s, %L)', :customer2, pg_temp.chars(pg_temp.lim('reason'), '旗')), 'flag_customer: reason at the limit');
SELECT is((SELECT flag_reason FROM dispatch.customers WHERE customer_id = :customer2), pg_temp.chars(pg_temp.lim('reason'), '旗'),
          'the flag reason is stored whole');
SELECT dispatch.flag_customer(:customer2, NULL) \g /dev/null
SELECT lives_ok(format('SELECT dispatch.register_rider(%s, %L, %L)', :zone, pg_temp.chars(pg_temp.lim('rider_name'), '骑'), pg_temp.phone(pg_temp.lim('phone'), '78')),
                'register_rider: name and phone at their limits');
-- a code at the limit redeems a campaign that has it
SELECT dispatch.create_campaign('limits', 'limited_time', '{"percent_off": 1}', ends_at => dispatch.clock() + interval '1 day',
                                code => pg_temp.chars(pg_temp.lim('coupon_code'), 'C')) \g /dev/null
SELECT dispatch.place_order(:customer, :merchant, pg_temp.lines(pg_temp.lim('items')), 121.445, 31.196,
                            pg_temp.chars(pg_temp.lim('dropoff_address'), '址'), 'normal', pg_temp.chars(pg_temp.lim('coupon_code'), 'C')) AS big \gset
-- (a zone's rows read first, then asserted: on Citus a statement that
-- names one zone runs on its worker, pgTAP and pg_temp calls and all)
SELECT sum(qty) AS got FROM dispatch.order_items WHERE zone_id = :zone AND order_id = :big \gset
SELECT is(:'got'::bigint, pg_temp.lim('items')::bigint,
          'place_order: an item list of as many lines as the limit');
SELECT dropoff_address_enc AS enc FROM dispatch.orders WHERE zone_id = :zone AND order_id = :big \gset
SELECT is(dispatch.pii_open('customer', :customer, :'enc'::bytea, 'test'),
          pg_temp.chars(pg_temp.lim('dropoff_address'), '址'), 'place_order: the drop-off address at the limit is stored whole');
SELECT coupon_code AS got FROM dispatch.orders WHERE zone_id = :zone AND order_id = :big \gset
SELECT is(:'got'::text, pg_temp.chars(pg_temp.lim('coupon_code'), 'C'),
          'place_order: the coupon code at the limit is stored whole');
SELECT dispatch.place_errand(:customer, 121.43, 31.19, 121.44, 31.20, pg_temp.chars(pg_temp.lim('dropoff_address'), '址'),
                             pg_temp.chars(pg_temp.lim('errand_description'), '事'), 900) AS errand \gset
SELECT description_enc AS enc FROM dispatch.orders WHERE zone_id = :zone AND order_id = :errand \gset
SELECT is(dispatch.pii_open('customer', :customer, :'enc'::bytea, 'test'),
          pg_temp.chars(pg_temp.lim('errand_description'), '事'), 'place_errand: a description at the limit is stored whole');
SELECT lives_ok(format('SELECT dispatch.confirm_payment(%s, %L)', :errand, pg_temp.chars(pg_temp.lim('provider_ref'), 'r')),
                'confirm_payment: provider_ref at the limit');
SELECT provider_ref AS got FROM dispatch.payments WHERE zone_id = :zone AND order_id = :errand AND status = 'succeeded' \gset
SELECT is(:'got'::text, pg_temp.chars(pg_temp.lim('provider_ref'), 'r'), 'the provider reference is stored whole');
SELECT lives_ok(format('SELECT dispatch.fail_payment(%s, %L)', :big, pg_temp.chars(pg_temp.lim('reason'), '拒')),
                'fail_payment: reason at the limit');
SELECT failure_reason AS got FROM dispatch.payments WHERE zone_id = :zone AND order_id = :big AND status = 'failed' \gset
SELECT is(:'got'::text, pg_temp.chars(pg_temp.lim('reason'), '拒'), 'the failure reason is stored whole');
SELECT lives_ok(format('SELECT dispatch.cancel_order(%s, %L)', :pending, pg_temp.chars(pg_temp.lim('reason'), '退')),
                'cancel_order: reason at the limit');
SELECT cancel_reason AS got FROM dispatch.orders WHERE zone_id = :zone AND order_id = :pending \gset
SELECT is(:'got'::text, pg_temp.chars(pg_temp.lim('reason'), '退'), 'the cancel reason is stored whole');
SELECT lives_ok(format('SELECT dispatch.respond_offer(%s, false, %L)', :offer, pg_temp.chars(pg_temp.lim('reason'), '忙')),
                'respond_offer: reason at the limit');
SELECT reason AS got FROM dispatch.offers WHERE zone_id = :zone AND offer_id = :offer \gset
SELECT is(:'got'::text, pg_temp.chars(pg_temp.lim('reason'), '忙'), 'the reason of the rejection is stored whole');
SELECT lives_ok(format('SELECT dispatch.assign_manually(%s, %s, %L)', :accepted, :rider, pg_temp.chars(pg_temp.lim('dispatcher'), '员')),
                'assign_manually: by at the limit');
SELECT assigned_by AS got FROM dispatch.orders WHERE zone_id = :zone AND order_id = :accepted \gset
SELECT is(:'got'::text, pg_temp.chars(pg_temp.lim('dispatcher'), '员'), 'the dispatcher is stored whole');
SELECT lives_ok(format('SELECT dispatch.submit_feedback(%s, 3, %L)', :delivered, pg_temp.chars(pg_temp.lim('feedback_comment'), '好')),
                'submit_feedback: comment at the limit');
SELECT comment_enc AS enc FROM dispatch.feedback WHERE zone_id = :zone AND order_id = :delivered \gset
SELECT is(dispatch.pii_open('customer', :customer, :'enc'::bytea, 'test'),
          pg_temp.chars(pg_temp.lim('feedback_comment'), '好'), 'the comment is stored whole');
SELECT lives_ok(format('SELECT dispatch.grant_consent(%s, %L, %L)', :customer, 'marketing', pg_temp.chars(pg_temp.lim('policy_version'), '版')),
                'grant_consent: policy_version at the limit');
SELECT is((SELECT policy_version FROM dispatch.consents WHERE customer_id = :customer AND revoked_at IS NULL),
          pg_temp.chars(pg_temp.lim('policy_version'), '版'), 'the policy version is stored whole');
SELECT lives_ok(format('SELECT dispatch.train_sentiment(%L, 1)', pg_temp.query(pg_temp.lim('training_query'))),
                'train_sentiment: query at the limit');
SELECT is((SELECT length(query) FROM dispatch.sentiment_training), pg_temp.lim('training_query'), 'the training query is stored whole');
SELECT is(dispatch.mask_phone(pg_temp.phone(pg_temp.lim('phone'))), '138****0077', 'mask_phone: phone at the limit');
SELECT is((SELECT count(*) FROM dispatch.maintenance_commands(pg_temp.chars(pg_temp.lim('database_name'), 'd')) s
            WHERE position(pg_temp.chars(pg_temp.lim('database_name'), 'd') IN s) > 0),
          (SELECT count(*) FROM dispatch.maintenance_jobs WHERE runs_in = 'dispatch' AND enabled),
          'maintenance_commands: a database name at the limit');

-- the 5 MB drop-off address once more, as the app role: refused before anything
SET LOCAL ROLE dispatch_app;
SELECT throws_ok(format('SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, %L)', :customer, :merchant, pg_temp.lines(1),
                        repeat('地', 5 * 1024 * 1024 / 3)),
                 'DP028', NULL, 'the app''s 5 MB drop-off address is refused');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
