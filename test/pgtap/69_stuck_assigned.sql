-- test/pgtap/69_stuck_assigned.sql: an assigned order is stuck 30 minutes
-- (stuck_after('assigned')) after the later of its assignment and the time
-- its food is ready: a rider assigned before the food is ready cannot pick
-- it up sooner (sql/69_operations.sql).
\set QUIET on
BEGIN;
SET LOCAL dispatch.clock_override = '2026-06-01 12:00:00+00';
\ir ../fixtures/city.sql
SELECT plan(5);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
-- SET LOCAL, not set_config(): on Citus only SET LOCAL reaches the workers
CREATE FUNCTION pg_temp.at(p text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SET LOCAL dispatch.clock_override = %L', p);
END $$;
CREATE FUNCTION pg_temp.o(p_customer bigint, p_ready text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE o bigint;
BEGIN
	o := dispatch.place_order(p_customer, current_setting('t.merchant')::bigint,
	                          jsonb_build_array(jsonb_build_object('item_id', current_setting('t.item')::bigint, 'qty', 1)),
	                          121.445, 31.196, 'somewhere');
	PERFORM dispatch.confirm_payment(o, 'p-' || o);
	PERFORM dispatch.merchant_accept(o, p_ready::timestamptz);
	RETURN o;
END $$;
SELECT set_config('t.merchant', :'merchant', true), set_config('t.item', :'noodles', true) \g /dev/null

-- 12:00: A's food is ready at 13:00, B's at 12:05; both assigned at 12:10
SELECT pg_temp.o(:customer, '2026-06-01 13:00:00+00') AS a \gset
SELECT pg_temp.o(:customer2, '2026-06-01 12:05:00+00') AS b \gset
SELECT pg_temp.at('2026-06-01 12:10:00+00') \g /dev/null
SELECT dispatch.update_rider_location(:rider, 121.43, 31.19) \g /dev/null
SELECT dispatch.assign_manually(:a, :rider, 'test'), dispatch.assign_manually(:b, :rider, 'test') \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.orders WHERE order_id IN (:a, :b) AND status = 'assigned'), 2::bigint,
          'both orders assigned at 12:10 (the set is as meant)');

-- 12:41: B is 31 minutes assigned with its food ready: stuck; A's food is
-- not ready for 19 minutes yet: not stuck
SELECT pg_temp.at('2026-06-01 12:41:00+00') \g /dev/null
SELECT results_eq('SELECT order_id, status, since, due, overdue_by FROM dispatch.stuck_orders ORDER BY order_id',
                  format('VALUES (%s::bigint, %L, %L::timestamptz, %L::timestamptz, interval %L)',
                         :b, 'assigned', '2026-06-01 12:10:00+00', '2026-06-01 12:40:00+00', '1 minute'),
                  'at 12:41 B (ready before its assignment) is stuck, A (ready at 13:00) is not');
SELECT pg_temp.at('2026-06-01 13:29:00+00') \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.stuck_orders WHERE order_id = :a), 0::bigint,
          'at 13:29 A''s food is ready for 29 minutes: not stuck yet');
SELECT pg_temp.at('2026-06-01 13:31:00+00') \g /dev/null
SELECT results_eq(format('SELECT since, due, overdue_by FROM dispatch.stuck_orders WHERE order_id = %s', :a),
                  $$ VALUES ('2026-06-01 12:10:00+00'::timestamptz, '2026-06-01 13:30:00+00'::timestamptz, interval '1 minute') $$,
                  'at 13:31 A is stuck: due 30 minutes after its food was ready, since its assignment');
SELECT is((SELECT count(*) FROM dispatch.stuck_orders_in_zone(:zone) WHERE order_id IN (:a, :b)), 2::bigint,
          'stuck_orders_in_zone lists both');

SELECT * FROM finish();
ROLLBACK;
