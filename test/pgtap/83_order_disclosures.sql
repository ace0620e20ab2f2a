-- test/pgtap/83_order_disclosures.sql: the disclosures made for an order
-- (order_contact via a processor, record_disclosure naming an order) are
-- recorded in the order's zone, in order_disclosures, and not in
-- disclosures; record_disclosure returns their id; disclosures() and both
-- exports list them with the others, in time order and in the shape of
-- before; erasure and the retention purge keep them; the table is closed
-- to every role, commented and dumped.  Values of one zone's rows are read
-- into psql variables first (on Citus a SELECT naming one zone is sent
-- whole to the zone's worker).
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(29);

SELECT dispatch.register_processor('sms-relay', 'masked calls and texts between rider and customer', 'contract') AS sms \gset
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Relay Road 8') AS o \gset
SELECT dispatch.confirm_payment(:o, 'psp-relay') \g /dev/null
SELECT dispatch.merchant_accept(:o) \g /dev/null
SELECT dispatch.assign_manually(:o, :rider, 'test dispatcher') \g /dev/null
-- a disclosure that names no order: disclosures, before the rider's
SELECT dispatch.record_disclosure('sms-relay', :customer, NULL, '{name}') AS plain_id \gset

------------------------------------------------------------------------------
-- the row

SELECT results_eq(format($$SELECT * FROM dispatch.order_contact(%s, %s, 'sms-relay')$$, :o, :rider),
	$$ VALUES ('138****0001', 'Relay Road 8', NULL::text) $$, 'the assigned rider sees the contact, through the relay');
SELECT count(*) AS n_zone, min(disclosure_id) AS d_id, min(processor_id) AS d_processor,
       min(customer_id) AS d_customer, count(rider_id) AS d_riders, min(order_id) AS d_order,
       min(fields::text) AS d_fields, min(actor::text) AS d_actor, min(at) AS d_at
  FROM dispatch.order_disclosures WHERE zone_id = :zone \gset
SELECT is(:n_zone::bigint, 1::bigint, 'the disclosure is one row of order_disclosures in the order''s zone');
SELECT is(dispatch.zone_of(:d_id), :zone::bigint, 'its id carries the zone');
SELECT is(format('%s %s %s %s %s', :d_processor, :d_customer, :d_riders, :d_order, :'d_fields'),
	format('%s %s 0 %s {masked_phone,dropoff_address}', :sms, :customer, :o),
	'to whom (the relay), whose (the customer), for which order, which fields (names)');
SELECT is(:'d_actor', session_user::text, 'by whom: the session user');
SELECT is(:'d_at'::timestamptz, dispatch.clock(), 'when: the clock of the call');
SELECT count(*) AS n_other FROM dispatch.order_disclosures WHERE zone_id = :other_zone \gset
SELECT is(:n_other::bigint, 0::bigint, 'no row in another zone');
SELECT is((SELECT array_agg(disclosure_id) FROM dispatch.disclosures), ARRAY[:plain_id::bigint],
	'and none in disclosures, which holds the one that names no order');

-- record_disclosure naming an order: the same table; its id returned
SELECT dispatch.record_disclosure('sms-relay', NULL, :rider, '{phone}', :o) AS rider_d \gset
SELECT count(*) AS n_rider, min(order_id) AS r_order FROM dispatch.order_disclosures
 WHERE zone_id = :zone AND disclosure_id = :rider_d AND rider_id = :rider AND customer_id IS NULL \gset
SELECT is(format('%s %s', :n_rider, :r_order), format('1 %s', :o),
	'record_disclosure naming an order records it in the order''s zone and returns its id');
-- an order id of no zone (below 2^40) stays in disclosures
SELECT dispatch.record_disclosure('sms-relay', :customer2, NULL, '{phone}', 12345) AS nozone_d \gset
SELECT is((SELECT order_id FROM dispatch.disclosures WHERE disclosure_id = :nozone_d), 12345::bigint,
	'an order id of no zone is recorded in disclosures, under the id returned');
SELECT throws_ok(format($$SELECT dispatch.record_disclosure('sms-relay', %s, %s, '{phone}', %s)$$, :customer, :rider, :o),
	'DP415', NULL, 'a disclosure for an order names one subject too');

------------------------------------------------------------------------------
-- disclosures() and the exports list it with the others, as before

SELECT is((SELECT array_agg(row(processor, fields, order_id)::text ORDER BY n)
             FROM dispatch.disclosures(:customer) WITH ORDINALITY d(at, processor, purpose, legal_basis, fields, order_id, actor, n)),
	ARRAY['(sms-relay,{name},)', format('(sms-relay,"{masked_phone,dropoff_address}",%s)', :o)],
	'disclosures(customer) lists both, in time order: the one of no order, then the order''s');
SELECT dispatch.export_customer(:customer) AS export \gset
SELECT is(:'export'::jsonb -> 'disclosures',
	(SELECT jsonb_agg(to_jsonb(d)) FROM dispatch.disclosures(:customer) d),
	'the customer''s export lists them under disclosures');
SELECT is((:'export'::jsonb #> '{disclosures,1}') - 'at',
	jsonb_build_object('processor', 'sms-relay', 'purpose', 'masked calls and texts between rider and customer',
	                   'legal_basis', 'contract', 'fields', '["masked_phone", "dropoff_address"]'::jsonb,
	                   'order_id', :o, 'actor', session_user),
	'the order''s disclosure with the processor, its purpose and legal basis, as the others');
SELECT is(ARRAY(SELECT jsonb_object_keys(:'export'::jsonb) ORDER BY 1),
	'{access_log,addresses,customer_id,disclosures,erased,exported_at,profile,referrals_made,tables}'::text[],
	'the export has the keys of before');
SELECT ok(NOT (:'export'::jsonb -> 'tables') ? 'order_disclosures',
	'order_disclosures is not among the tables of the customer''s rows');
SELECT is((SELECT array_agg(e ->> 'disclosure_id') FROM jsonb_array_elements(:'export'::jsonb #> '{tables,disclosures}') e),
	ARRAY[:'plain_id'], 'tables.disclosures holds the rows of disclosures, as before');
SELECT is((SELECT array_agg(row(e ->> 'processor', e ->> 'order_id', e #>> '{fields,0}')::text)
             FROM jsonb_array_elements(dispatch.export_rider(:rider) -> 'disclosures') e),
	ARRAY[format('(sms-relay,%s,phone)', :o)], 'export_rider lists the rider''s, made for the order');

------------------------------------------------------------------------------
-- a retired processor gets nothing, for an order neither

SELECT dispatch.retire_processor('sms-relay') \g /dev/null
SELECT throws_ok(format($$SELECT * FROM dispatch.order_contact(%s, %s, 'sms-relay')$$, :o, :rider), 'DP414', NULL,
	'order_contact through a retired processor is refused');
SELECT count(*) AS n_zone2 FROM dispatch.order_disclosures WHERE zone_id = :zone \gset
SELECT is(:n_zone2::bigint, 2::bigint, '... and records nothing');

------------------------------------------------------------------------------
-- erasure and the purge keep them, as they keep disclosures

SELECT dispatch.mark_picked_up(:o, :rider) \g /dev/null
SELECT dispatch.mark_delivered(:o, :rider) \g /dev/null
SELECT dispatch.forget_customer(:customer) \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.disclosures(:customer)), 2::bigint,
	'the erased customer''s disclosures are all kept');
SET LOCAL dispatch.clock_override = '2099-01-01 00:00:00+00';
DO $$ BEGIN WHILE dispatch.purge_expired_step(100) > 0 LOOP END LOOP; END $$;
SET LOCAL dispatch.clock_override = '';
SELECT count(*) AS n_zone3 FROM dispatch.order_disclosures WHERE zone_id = :zone \gset
SELECT is(format('%s %s', :n_zone3, (SELECT count(*) FROM dispatch.disclosures)), '2 2',
	'the purge keeps both tables');

------------------------------------------------------------------------------
-- closed, commented, dumped

SELECT table_privs_are('dispatch', 'order_disclosures', r, ARRAY[]::text[], format('%s reads no disclosure table', r))
  FROM unnest(ARRAY['dispatch_app', 'dispatch_gateway', 'dispatch_analyst', 'dispatch_admin', 'public']) r;
SELECT ok(NOT has_sequence_privilege('public', 'dispatch.order_disclosures_id_seq', 'USAGE')
          AND NOT has_sequence_privilege('dispatch_app', 'dispatch.order_disclosures_id_seq', 'USAGE'),
	'nor uses its sequence');
SELECT is((SELECT array_agg(c::regclass::text ORDER BY c::regclass::text) FROM pg_extension e, unnest(e.extconfig) c
            WHERE e.extname = 'dispatch' AND c::regclass::text LIKE 'dispatch.order_disclosures%'),
	ARRAY['dispatch.order_disclosures', 'dispatch.order_disclosures_id_seq'], 'pg_dump keeps the table and its sequence');

SELECT * FROM finish();
ROLLBACK;
