-- test/pgtap/68_demand.sql: demand per hexagon cell and hour of the week,
-- the forecast on a known weekly pattern, and repositioning that never
-- sends more riders than a cell's gap (sql/68_demand.sql).
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(30);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SELECT set_config('t.merchant', :'merchant', true), set_config('t.item', :'noodles', true) \g /dev/null
-- a paid order of a customer to a drop-off at a time
CREATE FUNCTION pg_temp.order_at(p_at timestamptz, p_lon float8, p_lat float8, p_customer bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE o bigint;
BEGIN
	-- SET LOCAL, not set_config(): on Citus only SET LOCAL reaches the workers
	EXECUTE format('SET LOCAL dispatch.clock_override = %L', p_at);
	o := dispatch.place_order(p_customer, current_setting('t.merchant')::bigint,
	                          jsonb_build_array(jsonb_build_object('item_id', current_setting('t.item')::bigint, 'qty', 1)),
	                          p_lon, p_lat, 'x');
	PERFORM dispatch.confirm_payment(o, 'p-' || o);
	RETURN o;
END $$;
-- the cell of a point in the zone's grid
CREATE FUNCTION pg_temp.cell(p_lon float8, p_lat float8) RETURNS text LANGUAGE sql AS $$
	SELECT c.i || ',' || c.j FROM dispatch._hex_cell(dispatch._point(p_lon, p_lat),
	                                                 dispatch._zone_cell_size(current_setting('t.zone')::bigint)) c $$;
SELECT set_config('t.zone', :'zone', true) \g /dev/null

-- three places: A and B 2 km apart, C between; each its own cell
SELECT ok(pg_temp.cell(121.445, 31.196) <> pg_temp.cell(121.465, 31.196)
          AND pg_temp.cell(121.455, 31.205) NOT IN (pg_temp.cell(121.445, 31.196), pg_temp.cell(121.465, 31.196)),
          'A, B and C lie in three cells');
SELECT is(pg_temp.cell(121.445, 31.196), pg_temp.cell(121.4452, 31.1961), 'two points 20 m apart share a cell');
SELECT is((SELECT count(*) FROM (SELECT 121.40 + random() * 0.08 AS lon, 31.15 + random() * 0.07 AS lat FROM generate_series(1, 2000)) p
            WHERE (SELECT (h.i, h.j) FROM ST_HexagonGrid(350.0, ST_Transform(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326), 3857)) h
                    WHERE ST_Intersects(h.geom, ST_Transform(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326), 3857))
                    ORDER BY h.i, h.j LIMIT 1)
                  IS DISTINCT FROM (SELECT (c.i, c.j) FROM dispatch._hex_cell(dispatch._point(p.lon, p.lat), 350.0) c)),
          0::bigint, 'the cell arithmetic agrees with ST_HexagonGrid on 2,000 random points');
SELECT ok((SELECT ST_Perimeter(dispatch._hexagon(dispatch._zone_cell_size(:zone), c.i, c.j)::geography) / 6
             BETWEEN 295 AND 305
             FROM dispatch._hex_cell(dispatch._point(121.445, 31.196), dispatch._zone_cell_size(:zone)) c),
          'a cell''s side is dispatch.demand_cell_m (300 m) on the ground');

-- four weeks of Mondays at 12:00-13:00 (2027-03-01 is a Monday, the zone
-- keeps UTC): A has exactly 4 orders every Monday, B one in the first
-- week only; one more order at A on a Tuesday at 13:00
SELECT count(pg_temp.order_at(timestamptz '2027-03-01 12:05:00+00' + make_interval(weeks => w, mins => 10 * k),
                              121.445, 31.196, CASE WHEN k % 2 = 0 THEN :customer ELSE :customer2 END::bigint))
  FROM generate_series(0, 3) w, generate_series(0, 3) k \g /dev/null
SELECT pg_temp.order_at('2027-03-01 12:45:00+00', 121.465, 31.196, :customer) \g /dev/null
SELECT pg_temp.order_at('2027-03-02 13:10:00+00', 121.445, 31.196, :customer) \g /dev/null
-- an unpaid order does not count
SET LOCAL dispatch.clock_override = '2027-03-08 12:30:00+00';
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb, 121.445, 31.196, 'x') \g /dev/null

-- the heatmap
SELECT results_eq(format($$ SELECT i || ',' || j, hour_of_week, orders, weeks_with_orders
                              FROM dispatch.demand_heatmap WHERE zone_id = %s ORDER BY hour_of_week, orders DESC $$, :zone),
                  format($$ VALUES (%L, 12::smallint, 16::bigint, 4::bigint), (%L, 12::smallint, 1::bigint, 1::bigint),
                                   (%L, 37::smallint, 1::bigint, 1::bigint) $$,
                         pg_temp.cell(121.445, 31.196), pg_temp.cell(121.465, 31.196), pg_temp.cell(121.445, 31.196)),
                  'demand_heatmap: 16 paid orders at A on Mondays at 12, one at B, one at A on Tuesday at 13');
-- read first: a statement on one zone's rows runs on its worker, where
-- pgTAP and pg_temp functions are not (on Citus)
SELECT pg_temp.cell(121.445, 31.196) AS cell_a \gset
SELECT bool_and(ST_Covers(h.cell, dispatch._point(121.445, 31.196))) AS covers FROM dispatch.demand_heatmap h
 WHERE h.zone_id = :zone AND h.i || ',' || h.j = :'cell_a' \gset
SELECT ok(:'covers'::boolean, 'a cell''s polygon holds its drop-offs');

-- the forecasts are asked on Monday 29 March, 11:00, after the four weeks
-- of orders (a forecast reads only the weeks whose hour is over by clock())
SET LOCAL dispatch.clock_override = '2027-03-29 11:00:00+00';
-- the forecast for Monday 29 March, 12:00: A's 4 a week every week is 4;
-- B (1 order in 4 weeks) is sparse: the zone's expectation times B's share
-- of the 17 orders of 11:00-14:00 on those Mondays.  Weights: 0.3, 0.21, 0.147, 0.1029 over the 4
-- weeks, normalised; the zone's Mondays had 4, 4, 4 and 5 orders (the
-- oldest first), so it expects (0.3 x 4 + 0.21 x 4 + 0.147 x 4 + 0.1029 x 5)
-- / 0.7599 = 4.1354
SELECT results_eq(format($$ SELECT i || ',' || j, round(expected::numeric, 4), method
                              FROM dispatch.forecast_demand(%s, '2027-03-29 12:20:00+00') ORDER BY expected DESC $$, :zone),
                  format($$ VALUES (%L, 4.0000, 'cell'), (%L, round(4.1354 / 17, 4), 'zone share') $$,
                         pg_temp.cell(121.445, 31.196), pg_temp.cell(121.465, 31.196)),
                  'forecast: the known pattern of A, and B from the zone level') ;
SELECT is((SELECT count(*) FROM dispatch.forecast_demand(:zone, '2027-03-01 12:00:00+00')), 0::bigint,
          'no forecast without past weeks');
-- an hour more than a week ahead: the weeks whose same hour has not come
-- yet are no weeks without orders; the forecast is that of the last 8
-- weeks that are over (here the same four Mondays)
SELECT results_eq(format($$ SELECT i, j, round(expected::numeric, 4), method FROM dispatch.forecast_demand(%s, '2027-04-12 12:20:00+00') $$, :zone),
                  format($$ SELECT i, j, round(expected::numeric, 4), method FROM dispatch.forecast_demand(%s, '2027-03-29 12:20:00+00') $$, :zone),
                  'forecast two weeks ahead: the pattern of the weeks that are over, not diluted by weeks to come');
SELECT results_eq(format($$ SELECT i, j, round(expected::numeric, 4), method FROM dispatch.forecast_demand(%s, '2028-03-27 12:20:00+00') $$, :zone),
                  format($$ SELECT i, j, round(expected::numeric, 4), method FROM dispatch.forecast_demand(%s, '2027-03-29 12:20:00+00') $$, :zone),
                  '... and a year ahead');
SELECT is_empty(format($$ SELECT * FROM dispatch.forecast_demand(%s, '4713-01-02 00:00:00+00 BC') $$, :zone),
                'the earliest time there is: no past weeks, nothing to expect (not an out-of-range error)');
SELECT is((SELECT count(*) FROM dispatch.forecast_demand(:zone, '2027-03-29 03:00:00+00')), 0::bigint,
          'an hour that never had orders, nor the hours around it, expects nothing anywhere');
SELECT throws_ok(format($$ SELECT * FROM dispatch.forecast_demand(-1, now()) $$), 'DP741', NULL, 'an unknown zone');
SELECT throws_ok(format($$ SELECT * FROM dispatch.forecast_demand(%s, 'infinity') $$, :zone), 'DP742', NULL, 'an infinite time');
SELECT throws_ok(format($$ SELECT * FROM dispatch.forecast_demand(%s, NULL) $$, :zone), 'DP742', NULL, 'no time');

-- repositioning on Monday 29 March, 11:45 (the coming hour is 12:15):
-- A expects 4 orders; at 2 orders a rider-hour it wants 2 riders and has
-- one waiting there, so its gap is 1.  Five idle riders wait at C (which
-- expects nothing: all five can go), one of them closest to A; the
-- fixture's two riders are busy elsewhere (offline).
SET LOCAL dispatch.clock_override = '2027-03-29 11:45:00+00';
SELECT dispatch.rider_offline(:rider), dispatch.rider_offline(:rider2) \g /dev/null
CREATE TEMP TABLE waiting AS
SELECT dispatch.register_rider(:zone, 'W' || g, '+86139100000' || lpad(g::text, 2, '0')) AS rider_id, g FROM generate_series(1, 6) g;
SELECT count(dispatch.rider_online(rider_id, CASE WHEN g = 6 THEN 121.445 ELSE 121.455 - 0.00008 * g END,
                                   CASE WHEN g = 6 THEN 31.196 ELSE 31.205 END)) FROM waiting \g /dev/null
SELECT count(dispatch.update_rider_location(rider_id, CASE WHEN g = 6 THEN 121.445 ELSE 121.455 - 0.00008 * g END,
                                            CASE WHEN g = 6 THEN 31.196 ELSE 31.205 END)) FROM waiting \g /dev/null
CREATE TEMP TABLE waiting_at AS
SELECT w.g, ST_X(r.position) AS lon, ST_Y(r.position) AS lat FROM dispatch.riders r JOIN waiting w USING (rider_id);
SELECT is((SELECT count(DISTINCT pg_temp.cell(lon, lat)) FROM waiting_at WHERE g < 6),
          1::bigint, 'the five riders at C share its cell');
CREATE TEMP TABLE hints AS SELECT * FROM dispatch.reposition_hints(:zone);
SELECT is((SELECT count(*) FROM hints WHERE to_i || ',' || to_j = pg_temp.cell(121.445, 31.196)), 1::bigint,
          'A, with one rider waiting, gets the one more it needs');
SELECT is((SELECT rider_id FROM hints WHERE to_i || ',' || to_j = pg_temp.cell(121.445, 31.196)),
          (SELECT rider_id FROM waiting WHERE g = 5), '... the nearest of C''s riders');
SELECT is((SELECT count(*) FROM hints WHERE to_i || ',' || to_j = pg_temp.cell(121.465, 31.196)), 0::bigint,
          'B (0.23 expected orders, less than half a rider-hour) gets nobody');
SELECT ok(NOT EXISTS (SELECT FROM hints GROUP BY to_i, to_j, cell_gap HAVING count(*) > cell_gap),
          'no cell gets more riders than its gap');
SELECT is((SELECT count(DISTINCT rider_id) FROM hints), (SELECT count(*) FROM hints), 'no rider is sent twice');
SELECT ok(NOT EXISTS (SELECT FROM hints h JOIN waiting w USING (rider_id) WHERE w.g = 6), 'the rider waiting at A stays');
SELECT ok((SELECT bool_and(from_i || ',' || from_j = pg_temp.cell(121.455, 31.205)) FROM hints), 'the riders come from C');
SELECT is_empty(format('SELECT * FROM dispatch.reposition_hints(%s, 10)', :zone),
                'at 10 orders a rider-hour the rider at A is enough: nobody moves');
SELECT throws_ok(format('SELECT * FROM dispatch.reposition_hints(%s, 0)', :zone), 'DP743', NULL, 'a rate of 0');
SELECT throws_ok(format('SELECT * FROM dispatch.reposition_hints(%s, 1e-9)', :zone), 'DP743', NULL,
                 'a tiny rate is refused as such, not by an integer overflow');
SELECT lives_ok(format('SELECT * FROM dispatch.reposition_hints(%s, 0.01)', :zone), 'the smallest rate works');
SELECT throws_ok('SELECT * FROM dispatch.reposition_hints(-1)', 'DP741', NULL, 'an unknown zone');

-- privileges and personal data
SELECT is((SELECT count(*) FROM information_schema.columns
            WHERE table_schema = 'dispatch' AND table_name = 'demand_heatmap'
              AND column_name ~ '(customer|rider|name|phone|address|_enc)'), 0::bigint, 'the heatmap has no personal column');
-- On Citus the coordinator reads the shards over connections it opens as
-- the current role: dispatch_analyst, a group role without LOGIN, cannot
-- open them (its members, who log in, can), and no transaction reads as
-- another role the shards it wrote.  There the read is checked as rights:
-- SELECT on the view and EXECUTE on the definer function it reads
-- (test/citus/20_analysts.sql reads it as a member of the role).
SET LOCAL ROLE dispatch_analyst;
SELECT CASE WHEN NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')
            THEN lives_ok('SELECT * FROM dispatch.demand_heatmap', 'the analyst reads the heatmap')
            ELSE ok(has_table_privilege('dispatch_analyst', 'dispatch.demand_heatmap', 'SELECT')
                    AND has_function_privilege('dispatch_analyst', 'dispatch._demand_heatmap()', 'EXECUTE'),
                    'the analyst reads the heatmap')
       END;
RESET ROLE;

SELECT * FROM finish();
