-- test/pgtap/83_processors.sql: processors are registered with purpose and
-- legal basis; handing personal data to one (order_contact via an SMS
-- relay, or record_disclosure) writes the disclosure log with field names
-- only; disclosures() and both exports show it; refusals change nothing.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(16);

SELECT dispatch.register_processor('sms-relay', 'masked calls and texts between rider and customer', 'contract') AS sms \gset
SELECT ok(:sms > 0, 'a processor is registered');
SELECT is(dispatch.register_processor('sms-relay', 'rider-customer calls', 'contract'), :sms::bigint,
	'registering it again changes its purpose and keeps its id');
SELECT throws_ok($$SELECT dispatch.register_processor('maps', 'routes', 'because')$$, 'DP415', NULL,
	'an unknown legal basis is refused');
SELECT throws_ok($$SELECT dispatch.register_processor('Bad Name', 'x', 'contract')$$, 'DP415', NULL, 'so is a bad name');

SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Relay Street 4') AS o1 \gset
SELECT dispatch.confirm_payment(:o1, 'psp-1') \g /dev/null
SELECT dispatch.merchant_accept(:o1) \g /dev/null
SELECT dispatch.assign_manually(:o1, :rider, 'test dispatcher') \g /dev/null

SELECT is((SELECT dropoff_address FROM dispatch.order_contact(:o1, :rider, 'sms-relay')), 'Relay Street 4',
	'order_contact via a processor gives the rider the contact');
-- (the order's zone's rows read into variables first: on Citus a
-- statement naming one zone goes whole to its worker, without pgTAP)
SELECT row(processor_id, customer_id, rider_id, order_id, fields)::text AS o1_disclosed,
       (d::text ~ 'Relay Street|13800000001')::integer AS o1_values
  FROM dispatch.order_disclosures d WHERE zone_id = :zone \gset
SELECT is(:'o1_disclosed', format('(%s,%s,,%s,"{masked_phone,dropoff_address}")', :sms, :customer, :o1),
	'and logs the disclosure: processor, customer, order, field names (in the order''s zone: test/pgtap/83_order_disclosures.sql)');
SELECT is(:o1_values + (SELECT count(*) FROM dispatch.disclosures d WHERE d::text ~ 'Relay Street|13800000001'), 0::bigint,
	'never the values');
SELECT (SELECT dropoff_address FROM dispatch.order_contact(:o1, :rider)) AS plain \gset
SELECT count(*) AS n_zone FROM dispatch.order_disclosures WHERE zone_id = :zone \gset
SELECT is(:n_zone + (SELECT count(*) FROM dispatch.disclosures), 1::bigint,
	'order_contact without via discloses to nobody');
SELECT throws_ok(format($$SELECT * FROM dispatch.order_contact(%s, %s, 'fax-service')$$, :o1, :rider), 'DP414', NULL,
	'a processor that was never registered is refused, and the contact is not handed out');

SELECT dispatch.record_disclosure('sms-relay', NULL, :rider, '{phone}') \g /dev/null
SELECT throws_ok(format($$SELECT dispatch.record_disclosure('sms-relay', %s, %s, '{phone}')$$, :customer, :rider), 'DP415', NULL,
	'a disclosure names one subject');
SELECT throws_ok(format($$SELECT dispatch.record_disclosure('sms-relay', %s, NULL, '{"Phone Number"}')$$, :customer), 'DP415', NULL,
	'by field names');

SELECT is((SELECT row(processor, purpose, legal_basis, fields, order_id)::text FROM dispatch.disclosures(:customer)),
	format('(sms-relay,"rider-customer calls",contract,"{masked_phone,dropoff_address}",%s)', :o1),
	'disclosures(customer) says what went where, why and on which basis');
SELECT is((dispatch.export_customer(:customer) #>> '{disclosures,0,processor}'), 'sms-relay', 'the customer''s export includes it');
SELECT is((dispatch.export_rider(:rider) #>> '{disclosures,0,fields,0}'), 'phone', 'and the rider''s export theirs');

SELECT ok(dispatch.retire_processor('sms-relay'), 'a processor is retired');
SELECT throws_ok(format($$SELECT dispatch.record_disclosure('sms-relay', %s, NULL, '{phone}')$$, :customer), 'DP414', NULL,
	'nothing more may go to a retired processor');

SELECT * FROM finish();
ROLLBACK;
