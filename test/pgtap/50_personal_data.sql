-- test/pgtap/50_personal_data.sql: personal data is sealed everywhere,
-- opens only with its subject's key, every opening is logged, and no event
-- carries it.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(16);

SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Plaintext Street 77, flat 12', 'normal') AS o \gset
SELECT dispatch.place_errand(:customer, 121.43, 31.19, 121.44, 31.20, 'Plaintext Gate 5', 'Secret errand text', 900) AS e \gset
SELECT dispatch.confirm_payment(:o, 'psp-1') \g /dev/null

-- scan every column of every table of the extension, as text, for the
-- plaintexts the fixture and this file wrote
CREATE TEMP TABLE leaks (tbl text, col text);
DO $$
DECLARE c record; n bigint;
BEGIN
	FOR c IN SELECT a.attrelid::regclass AS tbl, a.attname
	           FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
	          WHERE r.relnamespace = 'dispatch'::regnamespace AND r.relkind = 'r'
	            AND a.attnum > 0 AND NOT a.attisdropped
	LOOP
		EXECUTE format($q$SELECT count(*) FROM %s WHERE %I::text ~* '(Test Customer|Test Rider|Plaintext|Secret errand|13800000001|13900000003|8613800000001)'
		                  OR encode(convert_to(%I::text, 'UTF8'), 'escape') ~* 'Plaintext|Test Customer'$q$,
		               c.tbl, c.attname, c.attname) INTO n;
		IF n > 0 THEN INSERT INTO leaks VALUES (c.tbl::text, c.attname); END IF;
	END LOOP;
END $$;
SELECT is((SELECT count(*) FROM leaks), 0::bigint, 'no table holds a name, phone, address or errand text in plaintext');
SELECT is((SELECT count(*) FROM dispatch.events WHERE payload::text ~* 'Plaintext|Test Customer|Test Rider|Secret errand|13800000|13900000'), 0::bigint,
	'no event payload carries personal data');

-- the sealed values open with the subject's key, and each opening is logged
-- (the order's value read first: on Citus a statement naming a zone goes
-- whole to its worker, with pgTAP and pii_open, which cannot work there)
SELECT dropoff_address_enc AS o_addr FROM dispatch.orders WHERE zone_id = :o >> 40 AND order_id = :o \gset
SELECT is(dispatch.pii_open('customer', :customer, :'o_addr'::bytea, 'test'),
          'Plaintext Street 77, flat 12', 'the address opens with the customer''s key');
SELECT is(dispatch.pii_open('customer', :customer, (SELECT phone_enc FROM dispatch.customers WHERE customer_id = :customer), 'test'),
          '+8613800000001', 'the phone is stored in E.164 form');
SELECT is((SELECT count(*) FROM dispatch.pii_access_log WHERE subject = 'customer' AND subject_id = :customer AND purpose = 'test'),
          2::bigint, 'every opening is logged with its purpose');
SELECT throws_ok(format($$ SELECT dispatch.pii_open('customer', %s, %L::bytea, 'test') $$,
                        :customer2, :'o_addr'),
                 'DP404', NULL, 'another subject''s key does not open the value');
SELECT throws_ok(format($$ SELECT dispatch.pii_open('customer', %s, '\x00'::bytea, '') $$, :customer), 'DP403', NULL, 'opening needs a purpose');

-- phone lookup through the blind index, whatever the spelling
SELECT is(dispatch.find_customer_by_phone('138 0000 0001'), :customer::bigint, 'the blind index finds a customer by phone');
SELECT is(dispatch.find_customer_by_phone('+8613800009999'), NULL, 'an unknown phone finds nobody');
-- a stored blind index and its version come from one reading of the key
-- file (_phone_index_entry), never from two that a change of the file
-- between them could make disagree
SELECT is((SELECT (c.phone_index, c.phone_index_version) FROM dispatch.customers c WHERE c.customer_id = :customer),
          (SELECT (e.phone_index, e.version) FROM dispatch._phone_index_entry('138 0000 0001') e),
          'a registration stores the blind index and the version of the key that computed it');
SELECT is((SELECT pg_catalog.array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
            WHERE p.pronamespace = 'dispatch'::regnamespace
              AND p.prosrc ~ '_phone_index\(' AND p.prosrc ~ '_index_key_version\(\)'), NULL,
          'no function takes a blind index and its version from two readings of the key file');

-- the no-op cipher (dispatch.cipher = none, benchmarks only) is taken only
-- from the server's configuration file (test/tap/cipher_none.t has it
-- there, and what its values do): a session cannot turn encryption off
SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS on_citus \gset
\if :on_citus
-- (on Citus the SET goes to the workers in the transaction too, and the
-- coordinator reports a worker's refusal as a failed connection, XX000)
SELECT throws_matching($$ SET LOCAL dispatch.cipher = 'none' $$, '.', 'SET dispatch.cipher = none is refused');
\else
SELECT throws_ok($$ SET LOCAL dispatch.cipher = 'none' $$, '55P02',
                 'dispatch.cipher can be set to none only in the server''s configuration file',
                 'SET dispatch.cipher = none is refused');
\endif
SELECT throws_ok($$ SELECT set_config('dispatch.cipher', 'none', true) $$, '55P02', NULL,
                 'and so is set_config');
SELECT is(current_setting('dispatch.cipher'), 'pgp', 'personal data is still sealed');
SELECT isnt(get_byte(dispatch.pii_seal('customer', :customer, 'Bench Street 1'), 0), 0, 'and a new value is sealed');

-- shredding: without the data key nothing opens
DELETE FROM dispatch.subject_keys WHERE subject = 'customer' AND subject_id = :customer2;
SELECT throws_ok(format($$ SELECT dispatch.pii_open('customer', %s, (SELECT name_enc FROM dispatch.customers WHERE customer_id = %s), 'test') $$, :customer2, :customer2),
                 'DP402', NULL, 'a shredded subject''s data raises an error, never NULL');

SELECT * FROM finish();
ROLLBACK;
