-- test/pgtap/80_errand_contact.sql: the rider assigned to an errand reads
-- what to buy or fetch (its description) through order_contact, while it is
-- assigned or picked up, like the rest of the contact; a meal order has no
-- description (NULL).  The opening is logged naming the description, and a
-- disclosure via a processor lists it among the fields; another rider, or
-- the rider after delivery, is refused (DP408) and reads nothing.  Values of
-- one zone's rows are read into psql variables first (on Citus a SELECT
-- naming one zone is sent whole to the zone's worker).
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(14);

SELECT dispatch.register_processor('sms-relay', 'masked calls and texts between rider and customer', 'contract') AS sms \gset
SELECT dispatch.place_errand(:customer, 121.437, 31.188, 121.445, 31.196, 'Errand Gate 5',
       'two oat lattes, no sugar; the pharmacy receipt', 1500) AS e \gset
SELECT dispatch.confirm_payment(:e, 'psp-errand') \g /dev/null
SELECT throws_ok(format('SELECT * FROM dispatch.order_contact(%s, %s)', :e, :rider), 'DP408', NULL,
	'before assignment no rider reads the errand');
SELECT dispatch.assign_manually(:e, :rider, 'test dispatcher') \g /dev/null

------------------------------------------------------------------------------
-- the assigned rider reads the description

SELECT results_eq(format('SELECT * FROM dispatch.order_contact(%s, %s)', :e, :rider),
	$$ VALUES ('138****0001', 'Errand Gate 5', 'two oat lattes, no sugar; the pharmacy receipt') $$,
	'the rider assigned to an errand sees the masked phone, the drop-off and what to buy or fetch');
SELECT count(*) AS n_log, coalesce(min(detail), '') AS detail FROM dispatch.order_access_log
 WHERE zone_id = :zone AND subject = 'customer' AND subject_id = :customer AND purpose = 'rider_contact' \gset
SELECT is(format('%s %s', :n_log, :'detail'),
	format('1 order %s, rider %s: masked phone, drop-off address, description', :e, :rider),
	'the opening is logged once, naming the description (never its text)');
SELECT throws_ok(format('SELECT * FROM dispatch.order_contact(%s, %s)', :e, :rider2), 'DP408', NULL,
	'another rider is refused');
SELECT count(*) AS n_log2 FROM dispatch.order_access_log WHERE zone_id = :zone \gset
SELECT is(:n_log2::bigint, 1::bigint, '... and logs nothing');

-- through a processor: the disclosure lists the description among the fields
SELECT coalesce((SELECT description FROM dispatch.order_contact(:e, :rider, 'sms-relay')), '') AS relayed \gset
SELECT is(:'relayed'::text, 'two oat lattes, no sugar; the pharmacy receipt', 'the rider reads it through a relay too');
SELECT count(*) AS n_disc, coalesce(min(fields::text), '') AS d_fields, coalesce(min(processor_id), 0) AS d_processor,
       coalesce(bool_or(d::text ~ 'lattes'), false) AS d_values
  FROM dispatch.order_disclosures d WHERE zone_id = :zone AND order_id = :e \gset
SELECT is(format('%s %s %s', :n_disc, :d_processor, :'d_fields'),
	format('1 %s {masked_phone,dropoff_address,description}', :sms),
	'the disclosure to the processor names the description among its fields');
SELECT is(:'d_values'::boolean, false, '... never its text');

-- picked up: still the rider's to read; delivered: no more
SELECT dispatch.mark_picked_up(:e, :rider) \g /dev/null
SELECT is((SELECT description FROM dispatch.order_contact(:e, :rider)),
	'two oat lattes, no sugar; the pharmacy receipt', 'the rider reads it once the errand is picked up');
SELECT dispatch.mark_delivered(:e, :rider) \g /dev/null
SELECT throws_ok(format('SELECT * FROM dispatch.order_contact(%s, %s)', :e, :rider), 'DP408', NULL,
	'after delivery the rider reads it no more');

------------------------------------------------------------------------------
-- a meal order has no description

SELECT dispatch.place_order(:customer2, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Meal Road 2') AS o \gset
SELECT dispatch.confirm_payment(:o, 'psp-meal') \g /dev/null
SELECT dispatch.merchant_accept(:o) \g /dev/null
SELECT dispatch.assign_manually(:o, :rider, 'test dispatcher') \g /dev/null
SELECT results_eq(format($$SELECT * FROM dispatch.order_contact(%s, %s, 'sms-relay')$$, :o, :rider),
	$$ VALUES ('138****0002', 'Meal Road 2', NULL::text) $$, 'a meal order''s contact has no description');
SELECT coalesce(min(detail), '') AS meal_detail FROM dispatch.order_access_log
 WHERE zone_id = :zone AND subject = 'customer' AND subject_id = :customer2 \gset
SELECT is(:'meal_detail', format('order %s, rider %s: masked phone, drop-off address', :o, :rider),
	'its opening names what was opened: phone and address');
SELECT coalesce(min(fields::text), '') AS meal_fields FROM dispatch.order_disclosures WHERE zone_id = :zone AND order_id = :o \gset
SELECT is(:'meal_fields'::text, '{masked_phone,dropoff_address}', 'and so does its disclosure');

-- the result's columns
SELECT is((SELECT array_agg(a.name ORDER BY a.n)
             FROM pg_proc p, unnest(p.proargnames, p.proargmodes::text[]) WITH ORDINALITY a(name, mode, n)
            WHERE p.oid = 'dispatch.order_contact(bigint, bigint, text)'::regprocedure AND a.mode = 't'),
	ARRAY['masked_phone', 'dropoff_address', 'description'], 'order_contact returns masked_phone, dropoff_address, description');

SELECT * FROM finish();
ROLLBACK;
