-- sql/68_demand.sql
-- Demand (DESIGN.md part 5, docs/demand.md): orders per hexagon cell and
-- hour of the week, a forecast per cell for an hour, and where idle riders
-- should wait for it.
--
-- Cells are the hexagons of PostGIS's ST_HexagonGrid (sql/15_dependencies.sql):
-- dispatch.demand_cell_m metres a side, drawn in Web Mercator with the
-- side stretched by 1 / cos(latitude of the zone's centre), so that a cell
-- is that size on the ground.  A cell is named by its (i, j) in that grid.
-- Hours of the week are those of sql/63_eta.sql (0 = Monday 00:00-01:00,
-- zone time).

-- The cell of a point: ST_HexagonGrid's hexagon (i, j) of side s has its
-- centre at (1.5 s i, sqrt(3) s j), half a row higher in odd columns, in
-- Web Mercator metres; hexagons of a grid are the cells of points nearest
-- to their centres, so the nearest of the centres of the three columns
-- around the point is its cell (a tie, on an edge: the lowest (i, j)).
-- Arithmetic, not a call of ST_HexagonGrid per point, which costs a
-- thousand times more.
CREATE FUNCTION @extschema@._hex_cell(p geometry, mercator_size float8, OUT i integer, OUT j integer)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_x float8 := 6378137 OPERATOR(pg_catalog.*) pg_catalog.radians(@extschema@._lon(p));
	v_y float8 := 6378137 OPERATOR(pg_catalog.*) pg_catalog.ln(pg_catalog.tan((pg_catalog.pi() OPERATOR(pg_catalog./) 4)
	                  OPERATOR(pg_catalog.+) (pg_catalog.radians(@extschema@._lat(p)) OPERATOR(pg_catalog./) 2)));
	v_w float8 := 1.5 OPERATOR(pg_catalog.*) mercator_size;
	v_h float8 := pg_catalog.sqrt(3::float8) OPERATOR(pg_catalog.*) mercator_size;
	v_col integer := pg_catalog.round(v_x OPERATOR(pg_catalog./) v_w)::integer;
	v_best float8;
	v_off float8;
	v_row integer;
	v_d float8;
BEGIN
	FOR c IN (v_col OPERATOR(pg_catalog.-) 1) .. (v_col OPERATOR(pg_catalog.+) 1) LOOP
		v_off := CASE WHEN c OPERATOR(pg_catalog.%) 2 OPERATOR(pg_catalog.<>) 0 THEN v_h OPERATOR(pg_catalog./) 2 ELSE 0 END;
		v_row := pg_catalog.round((v_y OPERATOR(pg_catalog.-) v_off) OPERATOR(pg_catalog./) v_h)::integer;
		v_d := ((v_x OPERATOR(pg_catalog.-) (v_w OPERATOR(pg_catalog.*) c)) OPERATOR(pg_catalog.^) 2)
		       OPERATOR(pg_catalog.+)
		       ((v_y OPERATOR(pg_catalog.-) (v_off OPERATOR(pg_catalog.+) (v_h OPERATOR(pg_catalog.*) v_row))) OPERATOR(pg_catalog.^) 2);
		IF v_best IS NULL OR v_d OPERATOR(pg_catalog.<) v_best THEN
			v_best := v_d;
			i := c;
			j := v_row;
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._hex_cell(geometry, float8) IS
	'Internal: the (i, j) of the hexagon of ST_HexagonGrid, in Web Mercator units of mercator_size, that holds a WGS 84 point.';
REVOKE ALL ON FUNCTION @extschema@._hex_cell(geometry, float8) FROM PUBLIC;
-- demand_heatmap calls it as its reader on one server; it runs as its
-- owner (arithmetic)
GRANT EXECUTE ON FUNCTION @extschema@._hex_cell(geometry, float8) TO dispatch_analyst, dispatch_admin;

-- The grid unit of a zone: the cell side in Web Mercator units, from its
-- area (so that the analysts' view, which reads zones as its owner, needs
-- no table privilege of its callers).
CREATE FUNCTION @extschema@._cell_size(p_area geometry) RETURNS float8
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN @extschema@._setting_int('dispatch.demand_cell_m')::float8
	       OPERATOR(pg_catalog./) pg_catalog.cos(pg_catalog.radians(@extschema@._lat(@extschema@._centroid(p_area))));
END
$$;
COMMENT ON FUNCTION @extschema@._cell_size(geometry) IS
	'Internal: the side of the demand cells of a zone with this area, in Web Mercator units: dispatch.demand_cell_m over the cosine of the latitude of the area''s centre.';
REVOKE ALL ON FUNCTION @extschema@._cell_size(geometry) FROM PUBLIC;
-- demand_heatmap calls it on one server, and a view's functions run as its
-- reader (it runs as its owner, so its reader needs nothing of what it
-- calls)
GRANT EXECUTE ON FUNCTION @extschema@._cell_size(geometry) TO dispatch_analyst, dispatch_admin;

CREATE FUNCTION @extschema@._zone_cell_size(p_zone_id bigint) RETURNS float8
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_size float8;
BEGIN
	SELECT @extschema@._cell_size(z.area) INTO v_size
	  FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) p_zone_id;
	RETURN v_size;
END
$$;
COMMENT ON FUNCTION @extschema@._zone_cell_size(bigint) IS
	'Internal: _cell_size of a zone by its id; NULL for an unknown zone.';
REVOKE ALL ON FUNCTION @extschema@._zone_cell_size(bigint) FROM PUBLIC;

-- The heatmap for analysts.  On one server the view below reads the
-- tables, so that a filter on it reaches their indexes.  On Citus a view's
-- shards are read as the querying role, and Citus cannot plan the view at
-- all (the orders under a lateral subquery over the zones, a reference
-- table): there distribute() makes the view read _demand_heatmap(), which
-- counts the same rows with the extension's rights zone by zone, each
-- query naming its zone, so that Citus sends it to the zone's shard, the
-- zone's cell size and time zone read first (sql/97_distribute.sql), and
-- demand_heatmap_in_zone runs the same for its one zone alone.
CREATE FUNCTION @extschema@._demand_heatmap(p_zone_id bigint)
RETURNS TABLE (zone_id bigint, i integer, j integer, hour_of_week smallint, orders bigint, weeks_with_orders bigint,
               cell geometry)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone record;
	v_size float8;
BEGIN
	FOR v_zone IN SELECT z.zone_id, z.timezone, z.area FROM @extschema@.zones z
	               WHERE p_zone_id IS NULL OR z.zone_id OPERATOR(pg_catalog.=) p_zone_id
	               ORDER BY z.zone_id LOOP
		v_size := @extschema@._cell_size(v_zone.area);
		RETURN QUERY
		SELECT o.zone_id, c.i, c.j,
		       @extschema@._hour_of_week(o.created_at, v_zone.timezone),
		       pg_catalog.count(*),
		       pg_catalog.count(DISTINCT pg_catalog.date_trunc('week', o.created_at AT TIME ZONE v_zone.timezone)),
		       @extschema@._hexagon(v_size, c.i, c.j)
		  FROM @extschema@.orders o
		 CROSS JOIN LATERAL @extschema@._hex_cell(o.dropoff, v_size) c
		 WHERE o.zone_id OPERATOR(pg_catalog.=) v_zone.zone_id
		   AND o.placed_at IS NOT NULL
		 GROUP BY o.zone_id, c.i, c.j, @extschema@._hour_of_week(o.created_at, v_zone.timezone);
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._demand_heatmap(bigint) IS
	'Internal (demand_heatmap): the view''s rows of one zone (p_zone_id NULL: every zone in turn), read zone by zone, each query naming its zone: what _demand_heatmap() and, on Citus, demand_heatmap_in_zone read (their owner''s rights).';
REVOKE ALL ON FUNCTION @extschema@._demand_heatmap(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._demand_heatmap()
RETURNS TABLE (zone_id bigint, i integer, j integer, hour_of_week smallint, orders bigint, weeks_with_orders bigint,
               cell geometry)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN QUERY SELECT * FROM @extschema@._demand_heatmap(NULL::bigint);
END
$$;
COMMENT ON FUNCTION @extschema@._demand_heatmap() IS
	'Internal (demand_heatmap): the view''s rows, every zone in turn (_demand_heatmap(NULL)), read with the extension''s rights: what the view reads on Citus (distribute()), a filter on it applied to them after.';

CREATE VIEW @extschema@.demand_heatmap AS
SELECT o.zone_id, c.i, c.j,
       @extschema@._hour_of_week(o.created_at, z.timezone) AS hour_of_week,
       pg_catalog.count(*) AS orders,
       pg_catalog.count(DISTINCT pg_catalog.date_trunc('week', o.created_at AT TIME ZONE z.timezone)) AS weeks_with_orders,
       @extschema@._hexagon(s.size, c.i, c.j) AS cell
  FROM @extschema@.zones z
 CROSS JOIN LATERAL (SELECT @extschema@._cell_size(z.area) AS size) s
  JOIN @extschema@.orders o ON o.zone_id OPERATOR(pg_catalog.=) z.zone_id
 CROSS JOIN LATERAL @extschema@._hex_cell(o.dropoff, s.size) c
 WHERE o.placed_at IS NOT NULL
 GROUP BY o.zone_id, c.i, c.j, @extschema@._hour_of_week(o.created_at, z.timezone), s.size;
COMMENT ON VIEW @extschema@.demand_heatmap IS
	'Paid orders per zone, hexagon cell of their drop-off (i, j, and its polygon) and hour of the week they were placed (0 = Monday 00:00, zone time), with the number of weeks that had any.  Counts only.';

-- The forecast.  For the hour of `at` (zone time), the same hour of each of
-- the last 8 weeks whose hour is over by clock() (so that an hour more than
-- a week ahead counts no week still to come as one without orders), and
-- since the zone's first order, is weighted exponentially, 0.3 for the
-- latest and 0.7 times less each week before (normalised over the weeks
-- there are): the zone's expected orders are
-- the weighted mean of its totals, a cell's the weighted mean of its
-- counts.  A cell with fewer than 3 orders in those hours is too sparse
-- for that: it gets the zone's expected orders times the cell's share of
-- the zone's orders in the three hours around each of those hours.  Only
-- those hours are read (orders_created_idx).
CREATE FUNCTION @extschema@.forecast_demand(zone_id bigint, at timestamptz)
RETURNS TABLE (i integer, j integer, expected float8, method text, cell geometry)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_tz text;
	v_size float8;
	v_now timestamptz := @extschema@.clock();
	v_hour timestamp;
	v_first timestamptz;
	v_skip integer;
	v_weeks integer;
	v_zone float8;
	v_norm float8;
BEGIN
	SELECT z.timezone INTO v_tz FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) forecast_demand.zone_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'zone % does not exist', zone_id USING ERRCODE = 'DP741';
	END IF;
	IF at IS NULL OR NOT pg_catalog.isfinite(at) THEN
		RAISE EXCEPTION 'a forecast needs a finite time' USING ERRCODE = 'DP742';
	END IF;
	v_size := @extschema@._zone_cell_size(forecast_demand.zone_id);
	v_hour := pg_catalog.date_trunc('hour', at AT TIME ZONE v_tz);
	SELECT pg_catalog.min(o.created_at) INTO v_first FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) forecast_demand.zone_id;
	-- no order before the hour: no past week to learn from (and none of
	-- the week arithmetic below, which would leave the range of timestamps
	-- for a time in 4713 BC)
	IF v_first IS NULL OR v_hour OPERATOR(pg_catalog.<) pg_catalog.date_trunc('hour', v_first AT TIME ZONE v_tz) THEN
		RETURN;
	END IF;
	-- the weeks to skip: those whose hour is not over yet (an hour more
	-- than a week ahead); estimated in zone time, at most the answer (a
	-- DST shift is under a week), then stepped up to it in absolute time
	v_skip := GREATEST(pg_catalog.floor(pg_catalog.date_part('epoch', v_hour OPERATOR(pg_catalog.-) (v_now AT TIME ZONE v_tz))
	                                    OPERATOR(pg_catalog./) 604800)::integer OPERATOR(pg_catalog.-) 1, 0);
	WHILE ((v_hour OPERATOR(pg_catalog.-) pg_catalog.make_interval(weeks => v_skip OPERATOR(pg_catalog.+) 1)) AT TIME ZONE v_tz)
	      OPERATOR(pg_catalog.+) interval '1 hour' OPERATOR(pg_catalog.>) v_now LOOP
		v_skip := v_skip OPERATOR(pg_catalog.+) 1;
	END LOOP;
	-- the 8 weeks after those whose hour lies after the zone's first order
	SELECT pg_catalog.count(*)::integer, pg_catalog.sum(0.3 OPERATOR(pg_catalog.*) (0.7 OPERATOR(pg_catalog.^) (k OPERATOR(pg_catalog.-) 1)))
	  INTO v_weeks, v_norm
	  FROM pg_catalog.generate_series(1, 8) k
	 WHERE ((v_hour OPERATOR(pg_catalog.-) pg_catalog.make_interval(weeks => k OPERATOR(pg_catalog.+) v_skip)) AT TIME ZONE v_tz) OPERATOR(pg_catalog.>=)
	       pg_catalog.date_trunc('hour', v_first AT TIME ZONE v_tz) AT TIME ZONE v_tz;
	IF v_weeks OPERATOR(pg_catalog.=) 0 THEN
		RETURN;                       -- no history: nothing to expect
	END IF;

	RETURN QUERY
	WITH weeks AS (
		SELECT k, (0.3 OPERATOR(pg_catalog.*) (0.7 OPERATOR(pg_catalog.^) (k OPERATOR(pg_catalog.-) 1))) OPERATOR(pg_catalog./) v_norm AS w,
		       (v_hour OPERATOR(pg_catalog.-) pg_catalog.make_interval(weeks => k OPERATOR(pg_catalog.+) v_skip)) AT TIME ZONE v_tz AS since
		  FROM pg_catalog.generate_series(1, v_weeks) k),
	recent AS (                       -- paid orders of the three hours around each week's hour, with their cell
		SELECT w.w, o.created_at OPERATOR(pg_catalog.>=) w.since
		            AND o.created_at OPERATOR(pg_catalog.<) (w.since OPERATOR(pg_catalog.+) interval '1 hour') AS same_hour,
		       c.i, c.j
		  FROM weeks w
		  JOIN @extschema@.orders o
		    ON o.zone_id OPERATOR(pg_catalog.=) forecast_demand.zone_id
		   AND o.created_at OPERATOR(pg_catalog.>=) (w.since OPERATOR(pg_catalog.-) interval '1 hour')
		   AND o.created_at OPERATOR(pg_catalog.<) (w.since OPERATOR(pg_catalog.+) interval '2 hours')
		 CROSS JOIN LATERAL @extschema@._hex_cell(o.dropoff, v_size) c
		 WHERE o.placed_at IS NOT NULL),
	cells AS (
		SELECT r.i, r.j,
		       pg_catalog.count(*) FILTER (WHERE r.same_hour) AS n,
		       COALESCE(pg_catalog.sum(r.w) FILTER (WHERE r.same_hour), 0)::float8 AS weighted,
		       pg_catalog.count(*)::float8 OPERATOR(pg_catalog./) pg_catalog.sum(pg_catalog.count(*)) OVER () AS share
		  FROM recent r GROUP BY r.i, r.j),
	zone_expected AS (
		SELECT COALESCE(pg_catalog.sum(c.weighted), 0)::float8 AS expected FROM cells c)
	SELECT c.i, c.j,
	       CASE WHEN c.n OPERATOR(pg_catalog.>=) 3 THEN c.weighted ELSE z.expected OPERATOR(pg_catalog.*) c.share END,
	       CASE WHEN c.n OPERATOR(pg_catalog.>=) 3 THEN 'cell' ELSE 'zone share' END,
	       @extschema@._hexagon(v_size, c.i, c.j)
	  FROM cells c CROSS JOIN zone_expected z
	 ORDER BY 3 DESC, 1, 2;
END
$$;
COMMENT ON FUNCTION @extschema@.forecast_demand(bigint, timestamptz) IS
	'Expected paid orders per hexagon cell of the zone in the hour (zone time) of at: from the same hour of the last 8 weeks whose hour is over by clock(), exponentially weighted (0.3, then 0.7 times less a week); a cell with fewer than 3 orders in those hours gets the zone''s expectation times its share of the orders of the three hours around them (method ''zone share'').  docs/demand.md.  DP741 unknown zone, DP742 no time.';
REVOKE ALL ON FUNCTION @extschema@.forecast_demand(bigint, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.forecast_demand(bigint, timestamptz) TO dispatch_app, dispatch_analyst, dispatch_admin;

-- Repositioning.  Demand of the coming hour (the forecast for clock() plus
-- 30 minutes) against supply: idle riders (online, holding no order and no
-- offer, a position of the last 10 minutes) in each cell, each good for
-- orders_per_rider_hour orders.  A cell needs (expected - supply x rate) /
-- rate riders more, rounded half up (a rider moves for at least half a
-- rider-hour of missing demand), and can spare the riders beyond
-- ceil(expected / rate).  Pairs of a spare rider and a needy cell are taken
-- nearest first; a rider moves once, a cell gets at most what it needs.
-- The rate is at least 0.01 (one order in 100 rider-hours): a smaller one
-- would make a cell's need or spare overflow an integer.
CREATE FUNCTION @extschema@.reposition_hints(zone_id bigint, orders_per_rider_hour float8 DEFAULT 2)
RETURNS TABLE (rider_id bigint, from_i integer, from_j integer, to_i integer, to_j integer,
               to_lon float8, to_lat float8, distance_m float8, cell_expected float8, cell_gap integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_size float8 := @extschema@._zone_cell_size(reposition_hints.zone_id);
	v_need jsonb := '{}';              -- "i,j" -> riders still wanted
	v_spare jsonb := '{}';             -- "i,j" -> riders it can still spare
	v_used bigint[] := '{}';
	v_fi integer[];                    -- the forecast: cells and expected orders
	v_fj integer[];
	v_fexpected float8[];
	v_pair record;
	v_to text;
	v_from text;
BEGIN
	IF v_size IS NULL THEN
		RAISE EXCEPTION 'zone % does not exist', zone_id USING ERRCODE = 'DP741';
	END IF;
	IF orders_per_rider_hour IS NULL OR NOT (orders_per_rider_hour OPERATOR(pg_catalog.>=) 0.01)
	   OR orders_per_rider_hour OPERATOR(pg_catalog.>) 100 THEN
		RAISE EXCEPTION 'orders_per_rider_hour must lie in [0.01, 100]' USING ERRCODE = 'DP743';
	END IF;

	-- the forecast first, on its own: it reads the zone's orders, and on
	-- Citus the statement below runs on the zone's worker, where a function
	-- that reads distributed tables cannot run
	SELECT pg_catalog.array_agg(x.i), pg_catalog.array_agg(x.j), pg_catalog.array_agg(x.expected)
	  INTO v_fi, v_fj, v_fexpected
	  FROM @extschema@.forecast_demand(reposition_hints.zone_id, v_now OPERATOR(pg_catalog.+) interval '30 minutes') x;

	FOR v_pair IN
		WITH f AS (
			SELECT x.i, x.j, x.expected
			  FROM ROWS FROM (pg_catalog.unnest(v_fi), pg_catalog.unnest(v_fj), pg_catalog.unnest(v_fexpected))
			       AS x(i, j, expected)),
		idle AS (
			SELECT r.rider_id, r.position, c.i, c.j
			  FROM @extschema@.riders r
			 CROSS JOIN LATERAL @extschema@._hex_cell(r.position, v_size) c
			 WHERE r.zone_id OPERATOR(pg_catalog.=) reposition_hints.zone_id
			   AND r.status OPERATOR(pg_catalog.=) 'online'
			   AND r.active_orders OPERATOR(pg_catalog.=) 0 AND r.pending_offers OPERATOR(pg_catalog.=) 0
			   AND r.position_at OPERATOR(pg_catalog.>=) (v_now OPERATOR(pg_catalog.-) interval '10 minutes')),
		supply AS (SELECT d.i, d.j, pg_catalog.count(*)::integer AS n FROM idle d GROUP BY d.i, d.j),
		cells AS (
			SELECT COALESCE(f.i, s.i) AS i, COALESCE(f.j, s.j) AS j, COALESCE(f.expected, 0) AS expected,
			       COALESCE(s.n, 0) AS supply
			  FROM f FULL JOIN supply s ON s.i OPERATOR(pg_catalog.=) f.i AND s.j OPERATOR(pg_catalog.=) f.j),
		balance AS (
			SELECT c.i, c.j, c.expected,
			       pg_catalog.floor((GREATEST(c.expected OPERATOR(pg_catalog.-) (c.supply OPERATOR(pg_catalog.*) orders_per_rider_hour), 0)
			                        OPERATOR(pg_catalog./) orders_per_rider_hour) OPERATOR(pg_catalog.+) 0.5)::integer AS need,
			       GREATEST(c.supply OPERATOR(pg_catalog.-)
			                pg_catalog.ceil(c.expected OPERATOR(pg_catalog./) orders_per_rider_hour)::integer, 0) AS spare
			  FROM cells c),
		targets AS (
			SELECT b.i, b.j, b.expected, b.need, @extschema@._centroid(@extschema@._hexagon(v_size, b.i, b.j)) AS centre
			  FROM balance b WHERE b.need OPERATOR(pg_catalog.>) 0)
		SELECT d.rider_id, d.i AS fi, d.j AS fj, t.i AS ti, t.j AS tj, t.centre,
		       @extschema@._distance_m(d.position, t.centre) AS distance_m, t.expected, t.need,
		       b.spare
		  FROM idle d
		  JOIN balance b ON b.i OPERATOR(pg_catalog.=) d.i AND b.j OPERATOR(pg_catalog.=) d.j AND b.spare OPERATOR(pg_catalog.>) 0
		 CROSS JOIN targets t
		 ORDER BY 7, 1, 4, 5
	LOOP
		v_to := v_pair.ti OPERATOR(pg_catalog.||) ',' OPERATOR(pg_catalog.||) v_pair.tj;
		v_from := v_pair.fi OPERATOR(pg_catalog.||) ',' OPERATOR(pg_catalog.||) v_pair.fj;
		IF v_pair.rider_id OPERATOR(pg_catalog.=) ANY (v_used)
		   OR COALESCE((v_need OPERATOR(pg_catalog.->>) v_to)::integer, v_pair.need) OPERATOR(pg_catalog.<=) 0
		   OR COALESCE((v_spare OPERATOR(pg_catalog.->>) v_from)::integer, v_pair.spare) OPERATOR(pg_catalog.<=) 0 THEN
			CONTINUE;
		END IF;
		v_need := v_need OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(v_to,
		              COALESCE((v_need OPERATOR(pg_catalog.->>) v_to)::integer, v_pair.need) OPERATOR(pg_catalog.-) 1);
		v_spare := v_spare OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(v_from,
		              COALESCE((v_spare OPERATOR(pg_catalog.->>) v_from)::integer, v_pair.spare) OPERATOR(pg_catalog.-) 1);
		v_used := v_used OPERATOR(pg_catalog.||) v_pair.rider_id;
		rider_id := v_pair.rider_id;
		from_i := v_pair.fi;
		from_j := v_pair.fj;
		to_i := v_pair.ti;
		to_j := v_pair.tj;
		to_lon := @extschema@._lon(v_pair.centre);
		to_lat := @extschema@._lat(v_pair.centre);
		distance_m := v_pair.distance_m;
		cell_expected := v_pair.expected;
		cell_gap := v_pair.need;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.reposition_hints(bigint, float8) IS
	'Which idle riders (online, holding nothing, seen in the last 10 minutes) should move to which cells for the coming hour: cells whose forecast (forecast_demand at clock() + 30 minutes) needs more riders than wait there, each rider good for orders_per_rider_hour orders; riders come from cells that can spare them, nearest first, each once, never more to a cell than its gap.  docs/demand.md.  DP741 unknown zone, DP743 bad rate.';
REVOKE ALL ON FUNCTION @extschema@.reposition_hints(bigint, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.reposition_hints(bigint, float8) TO dispatch_app, dispatch_admin;

REVOKE ALL ON @extschema@.demand_heatmap FROM PUBLIC;
GRANT SELECT ON @extschema@.demand_heatmap TO dispatch_analyst, dispatch_admin;
-- on Citus the view's readers call its function (PostgreSQL checks a
-- function in a view against the querying role); what it calls runs with
-- its rights
REVOKE ALL ON FUNCTION @extschema@._demand_heatmap() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._demand_heatmap() TO dispatch_analyst, dispatch_admin;
