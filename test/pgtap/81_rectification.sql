-- test/pgtap/81_rectification.sql: update_customer and update_rider correct
-- a subject's phone and name: sealed under the subject's key, the blind
-- index follows the phone, the access log says who changed which fields and
-- why (never the values), a call with nothing to change logs nothing, and
-- every refusal has its SQLSTATE.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(29);

-- an order sealed with the old data, before the rectification
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Old Street 1') AS o1 \gset

------------------------------------------------------------------------------
-- customers

SELECT is(dispatch.update_customer(:customer, '+8613811112222', 'Alpha Corrected', 'the customer asked by phone'), true,
	'update_customer changes phone and name and says so');
SELECT is(dispatch.find_customer_by_phone('+86 138 1111 2222'), :customer::bigint,
	'the blind index follows the new phone');
SELECT is(dispatch.find_customer_by_phone('+8613800000001'), NULL::bigint, 'the old phone finds nobody');
SELECT dispatch.export_customer(:customer) AS export \gset
SELECT is(:'export'::jsonb #>> '{profile,phone}', '+8613811112222', 'the export shows the new phone, sealed and opened');
SELECT is(:'export'::jsonb #>> '{profile,name}', 'Alpha Corrected', 'and the new name');
SELECT ok((SELECT phone_enc::text !~ '8613811112222' AND name_enc::text !~ 'Corrected' FROM dispatch.customers WHERE customer_id = :customer),
	'stored sealed, not in clear');
SELECT is(dispatch.pii_open('customer', :customer, (SELECT dropoff_address_enc FROM dispatch.orders WHERE order_id = :o1), 'test'),
	'Old Street 1', 'an order sealed before still opens: the subject''s key is unchanged');
SELECT is((SELECT detail FROM dispatch.pii_access_log WHERE subject = 'customer' AND subject_id = :customer AND purpose = 'rectification'),
	'fields: phone, name; reason: the customer asked by phone', 'the access log names the fields and the reason');
SELECT is((SELECT count(*) FROM dispatch.pii_access_log WHERE purpose = 'rectification' AND detail ~ '1111|Corrected'), 0::bigint,
	'and never the values');
SELECT is((SELECT actor::text FROM dispatch.pii_access_log WHERE subject = 'customer' AND subject_id = :customer AND purpose = 'rectification'),
	session_user::text, 'who: the session user');
SELECT is((SELECT detail FROM dispatch.privacy_requests WHERE customer_id = :customer AND kind = 'rectify'),
	'{"fields": ["phone", "name"]}'::jsonb, 'a privacy request of kind rectify is recorded');
SELECT is(dispatch.update_customer(:customer, NULL, ''), true, 'an empty name clears it (default reason)');
SELECT is((SELECT dispatch.export_customer(:customer) #>> '{profile,name}'), NULL, 'the name is gone');
SELECT is((SELECT count(*) FROM dispatch.pii_access_log WHERE subject = 'customer' AND subject_id = :customer
            AND purpose = 'rectification' AND detail = 'fields: name; reason: rectification requested by the customer'),
	1::bigint, 'a reason left out is logged as the default one (docs/operations.md, "Rectification")');
SELECT (SELECT count(*) FROM dispatch.pii_access_log) AS log_before \gset
SELECT is(dispatch.update_customer(:customer), false, 'nothing to change: false');
SELECT is((SELECT count(*) FROM dispatch.pii_access_log), :log_before::bigint, '... and no log');

SELECT throws_ok(format($$SELECT dispatch.update_customer(%s, '+8613800000002')$$, :customer), 'DP026',
	'another customer has this phone number', 'the phone of another customer is refused');
SELECT throws_ok($$SELECT dispatch.update_customer(987654, '+8613899990000')$$, 'DP012', NULL, 'an unknown customer: DP012');
SELECT throws_ok(format($$SELECT dispatch.update_customer(%s, '+8613899990000', NULL, ' ')$$, :customer2), 'DP412',
	'a rectification needs a reason', 'no reason: DP412');
SELECT throws_ok(format($$SELECT dispatch.update_customer(%s, '+8613899990000', NULL, NULL)$$, :customer2), 'DP412',
	'a rectification needs a reason', 'a NULL reason: DP412');
SELECT throws_ok(format($$SELECT dispatch.update_customer(%s, NULL, repeat('x', 101))$$, :customer2), 'DP028', NULL,
	'a name past its limit: DP028');
SELECT dispatch.cancel_order(:o1, 'test') \g /dev/null
-- a reason is the caller's free text: it may name the person; erasure
-- clears it and keeps which fields were changed
SELECT dispatch.update_customer(:customer2, NULL, 'Beta Renamed', 'married: was Beta Maiden') \g /dev/null
SELECT dispatch.forget_customer(:customer2) \g /dev/null
SELECT is((SELECT array_agg(detail) FROM dispatch.pii_access_log
            WHERE subject = 'customer' AND subject_id = :customer2 AND purpose = 'rectification'),
	ARRAY['fields: name; reason: erased'],
	'erasure clears the reason given for a rectification of the customer, the fields stay');
SELECT throws_ok(format($$SELECT dispatch.update_customer(%s, '+8613899990000')$$, :customer2), 'DP012',
	format('customer %s is erased', :customer2), 'an erased customer cannot be given data again');

------------------------------------------------------------------------------
-- riders

SELECT is(dispatch.update_rider(:rider, '+8613977778888', 'Gamma Corrected', 'wrong number at sign-up'), true,
	'update_rider changes phone and name');
-- the sealed values read first: on Citus pii_open cannot run beside the
-- riders' shards (it reads the keys, a table of its own)
SELECT phone_enc AS rider_phone, name_enc AS rider_name FROM dispatch.riders WHERE rider_id = :rider \gset
SELECT is(dispatch.pii_open('rider', :rider, :'rider_phone'::bytea, 'test') || ' / ' || dispatch.pii_open('rider', :rider, :'rider_name'::bytea, 'test'),
	'+8613977778888 / Gamma Corrected', 'sealed under the rider''s key');
SELECT throws_ok(format($$SELECT dispatch.update_rider(%s, '+86 139 0000 0004')$$, :rider), 'DP026',
	'another rider has this phone number', 'the phone of another rider is refused (registration stored its blind index)');
SELECT throws_ok($$SELECT dispatch.update_rider(987654, NULL, 'x')$$, 'DP015', NULL, 'an unknown rider: DP015');
SELECT dispatch.forget_rider(:rider) \g /dev/null
SELECT is((SELECT array_agg(detail) FROM dispatch.pii_access_log
            WHERE subject = 'rider' AND subject_id = :rider AND purpose = 'rectification'),
	ARRAY['fields: phone, name; reason: erased'],
	'erasure clears the reason given for a rectification of the rider, the fields stay');
SELECT ok(has_function_privilege('dispatch_app', 'dispatch.update_rider(bigint, text, text, text)', 'EXECUTE')
          AND has_function_privilege('dispatch_app', 'dispatch.update_customer(bigint, text, text, text)', 'EXECUTE')
          AND NOT has_function_privilege('dispatch_analyst', 'dispatch.update_customer(bigint, text, text, text)', 'EXECUTE'),
	'the app may rectify, an analyst may not');

SELECT * FROM finish();
ROLLBACK;
