-- test/pgtap/80_order_access_log.sql: the openings made for an order
-- (order_contact) are logged in the order's zone, in order_access_log, and
-- not in pii_access_log; the exports list them with the other openings, in
-- time order and in the same shape; erasure and the retention purge leave
-- both logs alike; the table is closed to every role, commented and dumped.
-- Values of one zone's rows are read into psql variables first (on Citus a
-- SELECT naming one zone is sent whole to the zone's worker).
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(27);

SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Contact Road 3') AS o \gset
SELECT dispatch.confirm_payment(:o, 'psp-contact') \g /dev/null
SELECT dispatch.merchant_accept(:o) \g /dev/null
SELECT dispatch.assign_manually(:o, :rider, 'test dispatcher') \g /dev/null
SELECT dropoff_address_enc AS addr FROM dispatch.orders WHERE zone_id = :zone AND order_id = :o \gset
-- an opening that names no order: pii_access_log, before the rider's
SELECT dispatch.pii_open('customer', :customer, :'addr'::bytea, 'support') AS opened \gset
SELECT count(*) AS pii_before FROM dispatch.pii_access_log \gset

------------------------------------------------------------------------------
-- the log row

SELECT results_eq(format('SELECT * FROM dispatch.order_contact(%s, %s)', :o, :rider),
	$$ VALUES ('138****0001', 'Contact Road 3', NULL::text) $$, 'the assigned rider sees the contact');
SELECT count(*) AS n_zone, min(id) AS log_id, min(subject) AS subject, min(subject_id) AS subject_id,
       min(purpose) AS purpose, min(detail) AS detail, min(actor::text) AS actor, min(at) AS at
  FROM dispatch.order_access_log WHERE zone_id = :zone \gset
SELECT is(:n_zone::bigint, 1::bigint, 'the opening is one row of order_access_log in the order''s zone');
SELECT is(dispatch.zone_of(:log_id), :zone::bigint, 'its id carries the zone');
SELECT is(format('%s %s %s', :'subject', :'subject_id', :'purpose'), format('customer %s rider_contact', :customer),
	'whose (the customer) and why (rider_contact)');
SELECT is(:'detail', format('order %s, rider %s: masked phone, drop-off address', :o, :rider),
	'what: the order and the rider');
SELECT is(:'actor', session_user::text, 'who: the session user');
SELECT count(*) AS n_other FROM dispatch.order_access_log WHERE zone_id = :other_zone \gset
SELECT is(:n_other::bigint, 0::bigint, 'no row in another zone');
SELECT count(*) AS pii_after FROM dispatch.pii_access_log \gset
SELECT is(:pii_after::bigint, :pii_before::bigint, 'and none in pii_access_log');
SELECT throws_ok(format('SELECT * FROM dispatch.order_contact(%s, %s)', :o, :rider2), 'DP408', NULL,
	'another rider is refused');
SELECT count(*) AS n_zone2 FROM dispatch.order_access_log WHERE zone_id = :zone \gset
SELECT is(:n_zone2::bigint, 1::bigint, '... and logs nothing');

------------------------------------------------------------------------------
-- the customer's export lists it with the other openings

SELECT dispatch.export_customer(:customer) -> 'access_log' AS log1 \gset
SELECT is((SELECT array_agg(e ->> 'purpose' ORDER BY n) FROM jsonb_array_elements(:'log1'::jsonb) WITH ORDINALITY x(e, n)),
	ARRAY['support', 'rider_contact', 'export'],
	'export_customer lists every opening in time order: pii_open''s, the rider''s, then its own (pii_access_log)');
SELECT is((SELECT e FROM jsonb_array_elements(:'log1'::jsonb) e WHERE e ->> 'purpose' = 'rider_contact'),
	jsonb_build_object('at', :'at'::timestamptz, 'actor', :'actor', 'purpose', 'rider_contact', 'detail', :'detail'),
	'the rider''s opening as the log has it: at, actor, purpose, detail');
SELECT ok((SELECT bool_and(ARRAY(SELECT jsonb_object_keys(e) ORDER BY 1) = '{actor,at,detail,purpose}')
             FROM jsonb_array_elements(:'log1'::jsonb) e), 'every entry has the shape of before');
SELECT ok(NOT (dispatch.export_customer(:customer) -> 'tables') ? 'order_access_log',
	'the log is the access log, not a table of the customer''s rows');
SELECT is(jsonb_array_length(dispatch.export_customer(:customer2) -> 'access_log'), 1,
	'another customer''s export lists only their own export');

------------------------------------------------------------------------------
-- a rider's opening made for an order (none of the API's yet) lies in the
-- order's zone, the rider's; export_rider lists it with the others

INSERT INTO dispatch.order_access_log (zone_id, id, subject, subject_id, purpose, detail)
VALUES (:zone, dispatch.zone_scoped_id(:zone, nextval('dispatch.order_access_log_id_seq')),
        'rider', :rider, 'support', 'order of the rider');
SELECT is((SELECT array_agg(e ->> 'purpose' || ':' || coalesce(e ->> 'detail', '') ORDER BY n)
             FROM jsonb_array_elements(dispatch.export_rider(:rider) -> 'access_log') WITH ORDINALITY x(e, n)),
	ARRAY['support:order of the rider'], 'export_rider lists the rider''s opening of their zone');

------------------------------------------------------------------------------
-- erasure and the purge leave both logs alike

SELECT dispatch.mark_picked_up(:o, :rider) \g /dev/null
SELECT dispatch.mark_delivered(:o, :rider) \g /dev/null
SELECT dispatch.forget_customer(:customer) \g /dev/null
SELECT count(*) AS n_zone3 FROM dispatch.order_access_log WHERE zone_id = :zone AND subject = 'customer' \gset
SELECT is(:n_zone3::bigint, 1::bigint, 'erasure keeps the order''s opening, as it keeps pii_access_log''s');
SELECT count(*) AS pii_forgot FROM dispatch.pii_access_log WHERE subject = 'customer' AND subject_id = :customer \gset
SELECT ok(:pii_forgot::bigint >= 2, 'pii_access_log keeps the customer''s openings too');
SELECT is((SELECT array_agg(e ->> 'purpose' ORDER BY n)
             FROM jsonb_array_elements(dispatch.export_customer(:customer) -> 'access_log') WITH ORDINALITY x(e, n))
          [1:3], ARRAY['support', 'rider_contact', 'export'],
	'the export of the erased customer still lists every opening');
SET LOCAL dispatch.clock_override = '2099-01-01 00:00:00+00';
DO $$ BEGIN WHILE dispatch.purge_expired_step(100) > 0 LOOP END LOOP; END $$;
SET LOCAL dispatch.clock_override = '';
SELECT count(*) AS n_zone4 FROM dispatch.order_access_log WHERE zone_id = :zone \gset
SELECT count(*) AS pii_purged FROM dispatch.pii_access_log WHERE subject = 'customer' AND subject_id = :customer \gset
SELECT is(format('%s %s', :n_zone4, :pii_purged), format('2 %s', :pii_forgot),
	'the purge keeps both logs');

------------------------------------------------------------------------------
-- closed, commented, dumped

SELECT table_privs_are('dispatch', 'order_access_log', r, ARRAY[]::text[], format('%s reads no access log', r))
  FROM unnest(ARRAY['dispatch_app', 'dispatch_gateway', 'dispatch_analyst', 'dispatch_admin', 'public']) r;
SELECT ok(NOT has_sequence_privilege('public', 'dispatch.order_access_log_id_seq', 'USAGE')
          AND NOT has_sequence_privilege('dispatch_app', 'dispatch.order_access_log_id_seq', 'USAGE'),
	'nor uses its sequence');
SELECT is((SELECT array_agg(c::regclass::text ORDER BY c::regclass::text) FROM pg_extension e, unnest(e.extconfig) c
            WHERE e.extname = 'dispatch' AND c::regclass::text LIKE 'dispatch.order_access_log%'),
	ARRAY['dispatch.order_access_log', 'dispatch.order_access_log_id_seq'], 'pg_dump keeps the table and its sequence');

SELECT * FROM finish();
ROLLBACK;
