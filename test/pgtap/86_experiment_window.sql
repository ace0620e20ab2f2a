-- test/pgtap/86_experiment_window.sql: an experiment's conversion window is
-- a length of time (sql/86_experiments.sql, create_experiment): an order
-- converts when it is placed within that many hours of the exposure, the
-- same for whoever reads experiment_results in whatever time zone, and for
-- the rollup run by pg_cron in the server's.  Days and months added to a
-- timestamptz follow the session's time zone (a day across a change of
-- daylight saving time is 23 or 25 hours) and the calendar (a month is 28
-- to 31 days): a window kept as "7 days" or "3 mons" gave analysts in two
-- time zones two different answers, and a window of more than 90 days.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(6);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL TimeZone = 'UTC';

SELECT dispatch.register_customer('+8613800000401', 'W1') AS w1 \gset
SET LOCAL dispatch.clock_override = '2026-03-05 10:00:00+00';
SELECT dispatch.grant_consent(:w1, 'marketing', 'v1') \g /dev/null
SELECT dispatch.create_experiment('dst_window', '[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}]',
                                  '7 days') \g /dev/null
SELECT dispatch.experiment_variant('dst_window', :w1) \g /dev/null

-- 7 x 24 hours after the exposure less half an hour: in New York, where
-- summer time starts on 8 March, "exposure + 7 days" is an hour earlier
SET LOCAL dispatch.clock_override = '2026-03-12 09:30:00+00';
SELECT dispatch.place_order(:w1, :merchant, jsonb_build_array(jsonb_build_object('item_id', :noodles, 'qty', 1)),
                            121.445, 31.196, 'somewhere') AS o1 \gset
SELECT dispatch.confirm_payment(:o1, 'ref-w1') \g /dev/null

SELECT is((SELECT sum(converted)::integer FROM dispatch.experiment_results WHERE experiment = 'dst_window'), 1,
          'read in UTC: the order placed within 168 hours of the exposure converts');
SET LOCAL TimeZone = 'America/New_York';
SELECT is((SELECT sum(converted)::integer FROM dispatch.experiment_results WHERE experiment = 'dst_window'), 1,
          'read in New York across the change to summer time: the same');
SET LOCAL TimeZone = 'Asia/Shanghai';
SELECT is((SELECT sum(converted)::integer FROM dispatch.experiment_results WHERE experiment = 'dst_window'), 1,
          'read in Shanghai: the same');
RESET TimeZone;

-- the window as kept: hours, whatever units it was given in
SELECT is((SELECT conversion_window::text FROM dispatch.experiments WHERE name = 'dst_window'), '168:00:00',
          'a window of 7 days is kept as 168 hours');
SELECT dispatch.create_experiment('month_window', '[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}]',
                                  '1 mon') \g /dev/null
SELECT is((SELECT conversion_window::text FROM dispatch.experiments WHERE name = 'month_window'), '720:00:00',
          'a month counts as 30 days, whatever the month of the exposure');
SELECT dispatch.create_experiment('long_window', '[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}]',
                                  '3 mons') \g /dev/null
-- from 1 May, 3 calendar months run to 1 August: 92 days
SELECT is((SELECT '2026-05-01 00:00:00+00'::timestamptz + conversion_window FROM dispatch.experiments
            WHERE name = 'long_window'),
          '2026-07-30 00:00:00+00'::timestamptz,
          'a window of 3 months is 90 days, not more, whatever the month of the exposure');

SELECT * FROM finish();
ROLLBACK;
