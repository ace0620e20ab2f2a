-- test/pgtap/81_customer_name_blank.sql: a customer's name is optional
-- (register_customer(phone, name DEFAULT NULL); update_customer: an empty
-- name clears it), so a blank one (only white space, the blanks of
-- _is_blank) is no name: register_customer stores none, update_customer
-- clears the name, as for an empty one.  Never a name of spaces.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(9);

-- the stored name, opened (NULL: none stored)
CREATE FUNCTION pg_temp.stored_name(p_customer bigint) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN c.name_enc IS NULL THEN '(none)'
	            ELSE '[' || dispatch.pii_open('customer', p_customer, c.name_enc, 'test') || ']' END
	  FROM dispatch.customers c WHERE c.customer_id = p_customer
$$;

------------------------------------------------------------------------------
-- register_customer

SELECT dispatch.register_customer('+8613800000071', '   ') AS spaces \gset
SELECT is(pg_temp.stored_name(:spaces), '(none)', 'register_customer: a name of spaces is stored as no name');
SELECT dispatch.register_customer('+8613800000072', E' \t\n ') AS whitespace \gset
SELECT is(pg_temp.stored_name(:whitespace), '(none)', 'so is one of tabs and line breaks');
SELECT dispatch.register_customer('+8613800000073', '') AS empty \gset
SELECT is(pg_temp.stored_name(:empty), '(none)', 'and an empty one');
SELECT is(dispatch.export_customer(:spaces) #> '{profile,name}', 'null'::jsonb, 'the export shows no name');
SELECT dispatch.register_customer('+8613800000074', 'Ann Lee') AS named \gset
SELECT is(pg_temp.stored_name(:named), '[Ann Lee]', 'a real name is stored as given');

------------------------------------------------------------------------------
-- update_customer

SELECT is(dispatch.update_customer(:named, NULL, '    ', 'the customer removed their name'), true,
	'update_customer with a blank name clears the name');
SELECT is(pg_temp.stored_name(:named), '(none)', '... no name of spaces is stored');
SELECT is(dispatch.update_customer(:named, NULL, 'Ann Lee', 'named again'), true, 'a name set again');
SELECT dispatch.update_customer(:named, NULL, '', 'cleared') \g /dev/null
SELECT is(pg_temp.stored_name(:named), '(none)', 'an empty name clears it too, as before');

SELECT * FROM finish();
ROLLBACK;
