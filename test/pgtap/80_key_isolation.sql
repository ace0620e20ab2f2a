-- test/pgtap/80_key_isolation.sql: the calls that replace or destroy a
-- customer's data key wait for the transactions sealing for the customer,
-- and the key rotations and master_key_versions wait for every transaction
-- writing keys or blind indexes; then they read what those committed, which
-- a transaction snapshot taken before the wait would miss
-- (test/isolation/specs/seal_rotate.spec and key_retire.spec show the
-- races).  In a repeatable read transaction, as this whole file is, they
-- are refused with DP418 and change nothing.
\set QUIET on
BEGIN ISOLATION LEVEL REPEATABLE READ;
\ir ../fixtures/city.sql
SELECT plan(8);

-- an order sealing the customer's address in this transaction; on Citus,
-- once the tables are distributed, an intake in a repeatable read
-- transaction is refused (DP031: its counts on the workers would read a
-- snapshot older than its wait for the customer's intake lock;
-- test/citus/intake_lock.t), before it writes
SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS on_citus \gset
\if :on_citus
SELECT throws_ok(format($$SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 1}]', 121.445, 31.196, 'Snapshot Street 1')$$,
                        :customer, :merchant, :noodles),
	'DP031', NULL, 'place_order refuses a repeatable read transaction once the tables are distributed');
\else
SELECT lives_ok(format($$SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 1}]', 121.445, 31.196, 'Snapshot Street 1')$$,
                       :customer, :merchant, :noodles),
	'place_order serves a repeatable read transaction on one server');
\endif
SELECT k.wrapped_key AS wrapped FROM dispatch.subject_keys k
 WHERE k.subject = 'customer' AND k.subject_id = :customer \gset

SELECT throws_ok(format('SELECT dispatch.rotate_customer_key(%s)', :customer), 'DP418',
	format('the data key of customer %s can be replaced or destroyed only in a read committed transaction', :customer),
	'rotate_customer_key refuses a repeatable read transaction');
SELECT throws_ok(format('SELECT dispatch.forget_customer(%s)', :customer), 'DP418', NULL,
	'forget_customer refuses it too');
SELECT is((SELECT k.wrapped_key FROM dispatch.subject_keys k WHERE k.subject = 'customer' AND k.subject_id = :customer),
	:'wrapped'::bytea, 'the data key is unchanged');
SELECT is((SELECT c.forgotten_at FROM dispatch.customers c WHERE c.customer_id = :customer), NULL,
	'the customer is not erased');
SELECT throws_ok('SELECT dispatch.rotate_master_key(10)', 'DP418',
	'rotate_master_key must run in a read committed transaction', 'rotate_master_key refuses a repeatable read transaction');
SELECT throws_ok('SELECT dispatch.rotate_index_key(10)', 'DP418', NULL, 'rotate_index_key too');
SELECT throws_ok('SELECT * FROM dispatch.master_key_versions()', 'DP418', NULL, 'master_key_versions too');

SELECT * FROM finish();
ROLLBACK;
