-- test/pgtap/53_pay.sql: delivery fees and rider pay on a hand-computed day
-- (sql/53_pay.sql): the zone's pay model, waiting pay from the rider's
-- pings at the merchant, the peak multiplier, rider_earnings and what a
-- rider reads of it, the fairness view, and earnings in matching's
-- fairness term.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(39);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.customer', :'customer', true), set_config('t.merchant', :'merchant', true),
       set_config('t.item', :'noodles', true), set_config('t.rider', :'rider', true) \g /dev/null
\ir ../fixtures/order_in.sql

-- fees, by the shipped model: 3 yuan up to 3 km, 1 yuan per started km beyond
SELECT is(dispatch.delivery_fee(:merchant, 121.445, 31.196), 300, 'a 1.1 km order pays the base fee');
SELECT is(dispatch.delivery_fee(:merchant, 121.437, 31.218), 400, 'a 3.3 km order pays one started km more');
SELECT throws_ok('SELECT dispatch.delivery_fee(-1, 121.445, 31.196)', 'DP013', NULL, 'an unknown merchant has no fee');
SELECT throws_ok(format('SELECT dispatch.delivery_fee(%s, 200, 31.196)', :merchant), 'DP001', NULL, 'nor a drop-off off the map');
-- no quote for an order place_order refuses, and with its SQLSTATE
SELECT throws_ok(format('SELECT dispatch.delivery_fee(%s, 121.50, 31.196)', :merchant), 'DP002',
	format('drop-off lies outside the service area of zone %s', :zone), 'nor a drop-off outside the zone''s service area');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 1}]', 121.50, 31.196, 'x') $$,
	:customer, :merchant, :noodles), 'DP002', NULL, 'which place_order refuses alike');
SET LOCAL dispatch.fraud_max_distance_m = 1000;
SELECT throws_ok(format('SELECT dispatch.delivery_fee(%s, 121.445, 31.196)', :merchant), 'DP010', NULL,
	'nor one farther than dispatch.fraud_max_distance_m');
RESET dispatch.fraud_max_distance_m;
SELECT throws_ok(format('SELECT dispatch.delivery_fee(%s, 121.445, 31.196)', :closed), 'DP003',
	format('merchant %s is closed', :closed), 'nor an order of a closed merchant');
SELECT pg_temp.order_in('pending_payment') AS fee_order \gset
SELECT results_eq(format('SELECT fee_cents, total_cents - subtotal_cents FROM dispatch.orders WHERE order_id = %s', :fee_order),
                  'VALUES (300, 300)', 'a takeaway order carries its fee in its total');

-- the zone's own model: base 5 yuan, 2 yuan a km, double at noon, 10 cents
-- a minute of waiting beyond 5 minutes
INSERT INTO dispatch.pay_models (zone_id, fee_base_cents, pay_base_cents, pay_per_km_cents, peak_hours,
                                 peak_multiplier, wait_grace_minutes, wait_cents_per_minute)
VALUES (:zone, 500, 500, 200, '{12}', 2, 5, 10);
SELECT is(dispatch.delivery_fee(:merchant, 121.445, 31.196), 500, 'a zone''s own model replaces the defaults');
SELECT is((SELECT source FROM dispatch.pay_models WHERE zone_id = :zone), 'operator', 'and is the operator''s, for pg_dump');

-- the fee in C (src/pay.c) against the rule as SQL states it: numeric
-- arithmetic on the real distance, a started km counted whole, through the
-- km boundaries, the reals' six digits and a free distance in fractions
UPDATE dispatch.pay_models SET fee_per_km_cents = 150, fee_free_km = 2.5 WHERE zone_id = :zone;
SELECT is((SELECT count(*) FROM generate_series(0, 20000) g(i),
                LATERAL (SELECT (i * 0.75)::real AS d) x,
                LATERAL (SELECT * FROM dispatch.pay_models WHERE zone_id = :zone) m
          WHERE dispatch._delivery_fee(:zone, x.d) IS DISTINCT FROM
                m.fee_base_cents + m.fee_per_km_cents * ceil(greatest(x.d::numeric / 1000 - m.fee_free_km::numeric, 0))::integer),
          0::bigint, 'the fee follows the rule over 15 km in steps of 75 cm');
SELECT is(ARRAY[dispatch._delivery_fee(:zone, 2500), dispatch._delivery_fee(:zone, 2500.25),
                dispatch._delivery_fee(:zone, 3500), dispatch._delivery_fee(:zone, 1234567.8)],
          ARRAY[500, 650, 650, 500 + 150 * 1233], 'a km starts past the free distance, a real of six digits no sooner');
SELECT is(dispatch._delivery_fee(:zone, NULL), NULL, 'no distance, no fee');
SELECT is(dispatch._delivery_fee(-7, 4000), 400, 'a zone without a model pays zone 0''s');
SELECT throws_ok(format('SELECT dispatch._delivery_fee(%s, ''NaN'')', :zone), '0A000', NULL,
                 'a distance that is not a number has no fee');
UPDATE dispatch.pay_models SET fee_per_km_cents = 100000 WHERE zone_id = :zone;
SELECT throws_ok(format('SELECT dispatch._delivery_fee(%s, 3e9)', :zone), '22003', NULL,
                 'a fee beyond an integer is refused');
UPDATE dispatch.pay_models SET fee_per_km_cents = 100, fee_free_km = 3 WHERE zone_id = :zone;

-- the day: Monday 1 March 2027 (the zone keeps UTC); the riders went off
-- the night before and start a shift
SET LOCAL dispatch.clock_override = '2027-02-28 22:00:00+00';
SELECT dispatch.rider_offline(:rider), dispatch.rider_offline(:rider2) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-01 09:50:00+00';
SELECT dispatch.rider_online(:rider, 121.43, 31.19), dispatch.rider_online(:rider2, 121.44, 31.19) \g /dev/null

-- order 1 at 10:00: the rider is at the merchant at 10:05 and picks up at
-- 10:17 (12 minutes waited, 7 paid), delivers at 10:30
SET LOCAL dispatch.clock_override = '2027-03-01 10:00:00+00';
SELECT dispatch.update_rider_location(:rider, 121.43, 31.19) \g /dev/null
SELECT pg_temp.order_in('assigned') AS o1 \gset
SET LOCAL dispatch.clock_override = '2027-03-01 10:05:00+00';
SELECT dispatch.update_rider_location(:rider, 121.4372, 31.1881) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-01 10:17:00+00';
SELECT dispatch.mark_picked_up(:o1, :rider) \g /dev/null
SET LOCAL dispatch.clock_override = '2027-03-01 10:30:00+00';
SELECT dispatch.mark_delivered(:o1, :rider) \g /dev/null
SELECT distance_m AS d1 FROM dispatch.orders WHERE order_id = :o1 \gset
SELECT ok(:d1 BETWEEN 1100 AND 1180, 'the order runs about 1.14 km');
SELECT results_eq(format('SELECT rider_id, day, peak, waited_minutes, base_cents, distance_cents, peak_cents, waiting_cents FROM dispatch.rider_pay WHERE order_id = %s', :o1),
                  format('VALUES (%s::bigint, %L::date, false, 12, 500, %s, 0, 70)', :rider, '2027-03-01', round(200 * :d1 / 1000)::integer),
                  'off peak: base, 2 yuan a km pro rata, 7 minutes of waiting at 10 cents');

-- order 2 at 12:00: no ping at the merchant (no waiting pay), delivered at
-- 12:25, a peak hour: base and distance twice
SET LOCAL dispatch.clock_override = '2027-03-01 12:00:00+00';
SELECT dispatch.update_rider_location(:rider, 121.43, 31.19) \g /dev/null
SELECT pg_temp.order_in('picked_up') AS o2 \gset
SET LOCAL dispatch.clock_override = '2027-03-01 12:25:00+00';
SELECT dispatch.mark_delivered(:o2, :rider) \g /dev/null
SELECT results_eq(format('SELECT peak, waited_minutes, base_cents, distance_cents, peak_cents, waiting_cents, total_cents FROM dispatch.rider_pay WHERE order_id = %s', :o2),
                  format('VALUES (true, 0, 500, %1$s, 500 + %1$s, 0, 2 * (500 + %1$s))', round(200 * :d1 / 1000)::integer),
                  'at noon: the peak multiplier doubles base and distance');
SELECT is((SELECT count(*) FROM dispatch.rider_pay WHERE order_id = :o2), 1::bigint, 'one pay row per delivery');

-- the day of the rider
SELECT (2 * (500 + round(200 * :d1 / 1000)) + 500 + round(200 * :d1 / 1000) + 70)::bigint AS day_total \gset
SELECT results_eq(format('SELECT deliveries, peak_deliveries, waited_minutes, waiting_cents, total_cents FROM dispatch.rider_earnings WHERE rider_id = %s', :rider),
                  format('VALUES (2::bigint, 1::bigint, 12::bigint, 70::bigint, %s::bigint)', :day_total),
                  'rider_earnings: the day adds up');
SELECT is((SELECT earnings_today_cents FROM dispatch.riders WHERE rider_id = :rider), :day_total::bigint,
          'the rider''s earnings of the day are what matching weighs');

-- fairness in matching: the rider who earned is costlier for the next order
-- than the one who did not, by w_fair_orders a delivery above the mean and
-- w_fair_earnings a yuan above it
SET LOCAL dispatch.clock_override = '2027-03-01 12:40:00+00';
SELECT dispatch.update_rider_location(:rider, 121.436, 31.187), dispatch.update_rider_location(:rider2, 121.438, 31.189) \g /dev/null
SELECT pg_temp.order_in('accepted') AS o3 \gset
SELECT ok(abs((SELECT fairness FROM dispatch.nearest_riders(:o3) WHERE rider_id = :rider)
              - (60 * (2 - 1) + 0.3 * (:day_total / 2.0) / 100)) < 0.01,
          'nearest_riders: the earning rider''s fairness cost counts their pay');
SELECT is((SELECT fairness FROM dispatch.nearest_riders(:o3) WHERE rider_id = :rider2), 0::float8,
          'the rider who earned nothing has none');

-- what the rider app shows a rider, and only that rider
SELECT results_eq(format($$ SELECT rider_id, day, total_cents FROM dispatch.rider_earnings_of(%s, '2027-03-01', '2027-03-07') $$, :rider),
                  format('VALUES (%s::bigint, %L::date, %s::bigint)', :rider, '2027-03-01', :day_total),
                  'rider_earnings_of: the rider''s own days');
SELECT is_empty(format($$ SELECT * FROM dispatch.rider_earnings_of(%s, '2027-03-01', '2027-03-07') $$, :rider2),
                'another rider sees nothing of it');
SELECT throws_ok(format($$ SELECT * FROM dispatch.rider_earnings_of(%s, '2027-03-07', '2027-03-01') $$, :rider), 'DP721', NULL,
                 'a range that ends before it starts');
SELECT throws_ok(format($$ SELECT * FROM dispatch.rider_earnings_of(%s, '2026-01-01', '2027-03-01') $$, :rider), 'DP721', NULL,
                 'a range of more than 366 days');
SELECT throws_ok(format($$ SELECT * FROM dispatch.rider_earnings_of(%s, '2026-02-28', '2027-03-01') $$, :rider), 'DP721', NULL,
                 'a range of 367 days, its ends included, is more than 366');
SELECT lives_ok(format($$ SELECT * FROM dispatch.rider_earnings_of(%s, '2026-03-01', '2027-03-01') $$, :rider),
                'a range of 366 days, its ends included, is taken');
SELECT throws_ok($$ SELECT * FROM dispatch.rider_earnings_of(-1, '2027-03-01', '2027-03-01') $$, 'DP015', NULL, 'an unknown rider');

-- the fairness view: hand-checked Gini of two riders' days (1,000 and
-- 3,000 cents: (2 * (1 * 1000 + 2 * 3000)) / (2 * 4000) - 3 / 2 = 0.25)
INSERT INTO dispatch.rider_pay (zone_id, order_id, rider_id, day, delivered_at, distance_m, peak, waited_minutes,
                                base_cents, distance_cents, peak_cents, waiting_cents, total_cents)
SELECT zone_id, order_id, v.rider, '2027-03-02', '2027-03-02 12:00+00', 1000, false, 0, v.cents, 0, 0, 0, v.cents
  FROM (VALUES (:fee_order::bigint, :rider::bigint, 1000), (:o3::bigint, :rider2::bigint, 3000)) v(o, rider, cents)
  JOIN dispatch.orders o ON o.order_id = v.o;
-- a day of two riders shows their count only: with so few, the
-- percentiles would be each rider's pay
SELECT results_eq($$ SELECT riders, deliveries, total_cents, mean_cents, p10_cents, median_cents, p90_cents, gini
                       FROM dispatch.earnings_fairness WHERE day = '2027-03-02' $$,
                  $$ VALUES (2::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::numeric) $$,
                  'earnings_fairness: a day of two riders shows how many, not what each earned');
-- five riders' days of 1,000, 2,000, 3,000, 4,000 and 10,000 cents (rider
-- ids of no rider: rider_pay names them without a key):
-- (2 * (1000 + 2 * 2000 + 3 * 3000 + 4 * 4000 + 5 * 10000)) / (5 * 20000) - 6 / 5 = 0.4
CREATE TEMP TABLE five ON COMMIT DROP AS SELECT n, pg_temp.order_in('accepted') AS id FROM generate_series(1, 5) n;
INSERT INTO dispatch.rider_pay (zone_id, order_id, rider_id, day, delivered_at, distance_m, peak, waited_minutes,
                                base_cents, distance_cents, peak_cents, waiting_cents, total_cents)
SELECT o.zone_id, o.order_id, 900000 + v.n, '2027-03-03', '2027-03-03 12:00+00', 1000, false, 0, v.cents, 0, 0, 0, v.cents
  FROM (VALUES (1, 1000), (2, 2000), (3, 3000), (4, 4000), (5, 10000)) v(n, cents)
  JOIN five f ON f.n = v.n
  JOIN dispatch.orders o ON o.order_id = f.id;
SELECT results_eq($$ SELECT riders, deliveries, total_cents, mean_cents, p10_cents, median_cents, p90_cents, gini
                       FROM dispatch.earnings_fairness WHERE day = '2027-03-03' $$,
                  $$ VALUES (5::bigint, 5::bigint, 20000::bigint, 4000::bigint, 1000::bigint, 3000::bigint, 10000::bigint, 0.4000::numeric) $$,
                  'earnings_fairness: the Gini coefficient of a day of five riders');

-- privileges: the analyst reads fairness, not a rider's pay.  On Citus the
-- coordinator reads the shards over connections it opens as the current
-- role: dispatch_analyst, a group role without LOGIN, cannot open them (its
-- members, who log in, can), and no transaction reads as another role the
-- shards it wrote.  There the read is checked as the right to SELECT the
-- view and to call the definer function it reads (test/citus/20_analysts.sql
-- reads it as a member of the role).
SET LOCAL ROLE dispatch_analyst;
SELECT CASE WHEN NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')
            THEN lives_ok('SELECT * FROM dispatch.earnings_fairness', 'the analyst reads earnings_fairness')
            ELSE ok(has_table_privilege('dispatch_analyst', 'dispatch.earnings_fairness', 'SELECT')
                    AND has_function_privilege('dispatch_analyst', 'dispatch._earnings_fairness()', 'EXECUTE'),
                    'the analyst reads earnings_fairness')
       END;
SELECT throws_ok('SELECT * FROM dispatch.rider_earnings', '42501', NULL, 'but not rider_earnings');
SELECT throws_ok('SELECT * FROM dispatch.rider_pay', '42501', NULL, 'nor rider_pay');
RESET ROLE;
SET LOCAL ROLE dispatch_app;
SELECT throws_ok('SELECT * FROM dispatch.rider_earnings', '42501', NULL, 'the app reads a rider''s pay only through rider_earnings_of');
RESET ROLE;

-- zone 0's model stays
SELECT throws_ok('DELETE FROM dispatch.pay_models WHERE zone_id = 0; SET CONSTRAINTS ALL IMMEDIATE', 'DP308', NULL,
                 'the default pay model cannot be deleted');

SELECT * FROM finish();
