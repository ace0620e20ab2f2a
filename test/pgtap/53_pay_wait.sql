-- test/pgtap/53_pay_wait.sql: the minutes a rider is paid for waiting at
-- the merchant end when the rider's track leaves the merchant, if that
-- comes before the pickup is recorded (docs/pay.md).  A pickup synced
-- after a spell without signal is stamped with the time of the sync
-- (docs/sync.md), while the pings cached meanwhile keep the phone's times:
-- the wait ran from the arrival ping to the sync, the ride included, and
-- paid more than the delivery itself.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(4);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql
-- a fresh shift for the rider: offline overnight, online at 09:50
SET LOCAL dispatch.clock_override = '2027-02-28 22:00:00+00';
SELECT dispatch.rider_offline(:rider) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-01 09:50:00+00';
SELECT dispatch.rider_online(:rider, 121.43, 31.19) \g /dev/null
CREATE FUNCTION pg_temp.ms(t timestamptz) RETURNS bigint LANGUAGE sql AS $$ SELECT (extract(epoch FROM t) * 1000)::bigint $$;

-- 1. the signal lost at the merchant: arrival 10:05, pickup 10:06 and the
-- ride away (10:07, 1.1 km off) cached by the phone, synced at 10:40
SET LOCAL dispatch.clock_override = '2027-03-01 10:00:00+00';
SELECT dispatch.update_rider_location(:rider, 121.43, 31.19) \g /dev/null
SELECT pg_temp.order_in('assigned') AS o1 \gset
SET LOCAL dispatch.clock_override = '2027-03-01 10:40:00+00';
SELECT dispatch.sync_rider(:rider, jsonb_build_array(
  jsonb_build_object('id', 'p1', 'at', pg_temp.ms('2027-03-01 10:05:00+00'), 'type', 'ping', 'lon', 121.4372, 'lat', 31.1881),
  jsonb_build_object('id', 'a1', 'at', pg_temp.ms('2027-03-01 10:06:00+00'), 'type', 'picked_up', 'order_id', :o1),
  jsonb_build_object('id', 'p2', 'at', pg_temp.ms('2027-03-01 10:07:00+00'), 'type', 'ping', 'lon', 121.445, 'lat', 31.196),
  jsonb_build_object('id', 'a2', 'at', pg_temp.ms('2027-03-01 10:20:00+00'), 'type', 'delivered', 'order_id', :o1))) \g /dev/null
SELECT is((SELECT picked_up_at FROM dispatch.orders WHERE order_id = :o1), '2027-03-01 10:40:00+00'::timestamptz,
          'the synced pickup is stamped with the time of the sync');
SELECT results_eq(format('SELECT waited_minutes, waiting_cents FROM dispatch.rider_pay WHERE order_id = %s', :o1),
                  $$ VALUES (2, 0) $$,
                  'the wait ends when the track leaves the merchant (10:05 to 10:07), not at the synced pickup (35 minutes, 600 cents)');

-- 2. a rider who waits at the merchant, pinging there, and picks up live:
-- the whole wait is paid, beyond the 5 minutes of grace
SET LOCAL dispatch.clock_override = '2027-03-01 11:00:00+00';
SELECT dispatch.update_rider_location(:rider, 121.4372, 31.1881) \g /dev/null
SELECT pg_temp.order_in('assigned') AS o2 \gset
SET LOCAL dispatch.clock_override = '2027-03-01 11:06:00+00';
SELECT dispatch.update_rider_location(:rider, 121.4373, 31.1880) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-01 11:12:00+00';
SELECT dispatch.mark_picked_up(:o2, :rider) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-01 11:13:00+00';
SELECT dispatch.update_rider_location(:rider, 121.445, 31.196) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-01 11:25:00+00';
SELECT dispatch.mark_delivered(:o2, :rider) \g /dev/null
SELECT results_eq(format('SELECT waited_minutes, waiting_cents FROM dispatch.rider_pay WHERE order_id = %s', :o2),
                  $$ VALUES (12, 140) $$,
                  'a wait at the merchant up to a live pickup is paid whole: 12 minutes, 7 beyond the grace');

-- 3. a rider who rode off before tapping the pickup: the wait ends at the
-- first ping away from the merchant
SET LOCAL dispatch.clock_override = '2027-03-01 12:00:00+00';
SELECT dispatch.update_rider_location(:rider, 121.4372, 31.1881) \g /dev/null
SELECT pg_temp.order_in('assigned') AS o3 \gset
SET LOCAL dispatch.clock_override = '2027-03-01 12:08:00+00';
SELECT dispatch.update_rider_location(:rider, 121.441, 31.192) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-01 12:30:00+00';
SELECT dispatch.mark_picked_up(:o3, :rider) \g /dev/null
SELECT dispatch.mark_delivered(:o3, :rider) \g /dev/null
SELECT results_eq(format('SELECT waited_minutes, waiting_cents FROM dispatch.rider_pay WHERE order_id = %s', :o3),
                  $$ VALUES (8, 60) $$,
                  'a pickup tapped after riding off: the wait ends at the first ping away (8 minutes, not 30)');

SELECT * FROM finish();
ROLLBACK;
