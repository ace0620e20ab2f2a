-- sql/53_pay.sql
-- Delivery fees and rider pay (docs/pay.md).  One pay model per zone, zone
-- 0's row holding the defaults, as matching_settings does: what a customer
-- pays for delivering a takeaway order (place_order, sql/55_orders.sql) and
-- what a rider earns for a delivery.  Every delivery writes one row of
-- rider_pay (the rider trigger of sql/60_matching.sql calls _pay_delivery),
-- and the rider's earnings of the day feed the fairness term of matching.
-- rider_earnings (view, dispatch_admin) sums them per rider and day; a rider
-- reads their own through the app (rider_earnings_of); analysts read the
-- fairness of a zone's day without rider ids (earnings_fairness).

CREATE TABLE @extschema@.pay_models (
	zone_id                bigint PRIMARY KEY CHECK (zone_id >= 0),
	fee_base_cents         integer NOT NULL DEFAULT 300 CHECK (fee_base_cents BETWEEN 0 AND 100000),
	fee_per_km_cents       integer NOT NULL DEFAULT 100 CHECK (fee_per_km_cents BETWEEN 0 AND 100000),
	fee_free_km            real NOT NULL DEFAULT 3 CHECK (fee_free_km >= 0 AND fee_free_km <= 1000),
	pay_base_cents         integer NOT NULL DEFAULT 400 CHECK (pay_base_cents BETWEEN 0 AND 100000),
	pay_per_km_cents       integer NOT NULL DEFAULT 100 CHECK (pay_per_km_cents BETWEEN 0 AND 100000),
	peak_hours             integer[] NOT NULL DEFAULT '{11,12,17,18,19}'
	                       CHECK (peak_hours OPERATOR(pg_catalog.<@) '{0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23}'::integer[]),
	peak_multiplier        real NOT NULL DEFAULT 1.5 CHECK (peak_multiplier >= 1 AND peak_multiplier <= 10),
	wait_grace_minutes     integer NOT NULL DEFAULT 5 CHECK (wait_grace_minutes BETWEEN 0 AND 600),
	wait_cents_per_minute  integer NOT NULL DEFAULT 20 CHECK (wait_cents_per_minute BETWEEN 0 AND 10000),
	arrival_radius_m       real NOT NULL DEFAULT 100 CHECK (arrival_radius_m > 0 AND arrival_radius_m <= 5000),
	source                 text NOT NULL DEFAULT 'operator'
	                       CONSTRAINT pay_models_source_check CHECK (source IN ('default', 'operator'))
);
INSERT INTO @extschema@.pay_models (zone_id, source) VALUES (0, 'default');
COMMENT ON TABLE @extschema@.pay_models IS
	'The pay model of a zone (zone 0: the defaults): the delivery fee a customer pays for a takeaway order, and what a rider earns per delivery: base, per km, a peak multiplier in the peak hours, and pay for waiting at the merchant.  docs/pay.md.';
COMMENT ON COLUMN @extschema@.pay_models.fee_per_km_cents IS
	'Delivery fee per started km of the order''s distance (pickup to drop-off, straight line) beyond fee_free_km.';
COMMENT ON COLUMN @extschema@.pay_models.pay_per_km_cents IS
	'Rider pay per km of the order''s distance (pickup to drop-off, straight line), pro rata to the metre, rounded to the cent.';
COMMENT ON COLUMN @extschema@.pay_models.peak_hours IS
	'Hours of the day (0-23, zone time) whose deliveries earn peak_multiplier times base and distance pay.';
COMMENT ON COLUMN @extschema@.pay_models.wait_cents_per_minute IS
	'Pay per whole minute a rider waited at the merchant beyond wait_grace_minutes: from the first position ping within arrival_radius_m of the pickup after the assignment, to the pickup, or to the first ping outside that radius after the arrival if it comes before the pickup (the rider left).';
COMMENT ON COLUMN @extschema@.pay_models.source IS
	'default: the row as the extension ships it (zone 0), recreated by CREATE EXTENSION; operator: inserted or edited by an operator, kept by pg_dump.  Kept by triggers (sql/60_matching.sql).';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pay_models', 'WHERE source = ''operator''');

CREATE TABLE @extschema@.rider_pay (
	zone_id          bigint NOT NULL,
	order_id         bigint NOT NULL,
	rider_id         bigint NOT NULL,
	day              date NOT NULL,
	delivered_at     timestamptz NOT NULL,
	distance_m       real NOT NULL,
	peak             boolean NOT NULL,
	waited_minutes   integer NOT NULL CHECK (waited_minutes >= 0),
	base_cents       integer NOT NULL CHECK (base_cents >= 0),
	distance_cents   integer NOT NULL CHECK (distance_cents >= 0),
	peak_cents       integer NOT NULL CHECK (peak_cents >= 0),
	waiting_cents    integer NOT NULL CHECK (waiting_cents >= 0),
	total_cents      integer NOT NULL
	                 CHECK (total_cents OPERATOR(pg_catalog.=)
	                        (((base_cents OPERATOR(pg_catalog.+) distance_cents) OPERATOR(pg_catalog.+) peak_cents)
	                         OPERATOR(pg_catalog.+) waiting_cents)),
	PRIMARY KEY (zone_id, order_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders
);
CREATE INDEX rider_pay_rider_day_idx ON @extschema@.rider_pay (rider_id, day);
COMMENT ON TABLE @extschema@.rider_pay IS
	'What a rider earned for each delivered order, by part of the pay model in force at delivery; day is the zone''s date of the delivery.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rider_pay', '');
REVOKE ALL ON @extschema@.pay_models, @extschema@.rider_pay FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON @extschema@.pay_models TO dispatch_admin;

CREATE FUNCTION @extschema@._pay_model(p_zone_id bigint) RETURNS @extschema@.pay_models
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_model @extschema@.pay_models;
BEGIN
	SELECT * INTO v_model FROM @extschema@.pay_models p
	 WHERE p.zone_id OPERATOR(pg_catalog.=) p_zone_id OR p.zone_id OPERATOR(pg_catalog.=) 0
	 ORDER BY p.zone_id DESC LIMIT 1;
	RETURN v_model;
END
$$;
COMMENT ON FUNCTION @extschema@._pay_model(bigint) IS
	'Internal: the pay model of a zone: its own row of pay_models, else zone 0''s.';
REVOKE ALL ON FUNCTION @extschema@._pay_model(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._delivery_fee(p_zone_id bigint, p_distance_m real) RETURNS integer
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_delivery_fee_of_zone';
COMMENT ON FUNCTION @extschema@._delivery_fee(bigint, real) IS
	'Internal: the delivery fee of a takeaway order of the zone over this distance: fee_base_cents plus fee_per_km_cents per started km beyond fee_free_km (src/pay.c, which place_order calls directly); NULL for a NULL distance or without a pay model.';
REVOKE ALL ON FUNCTION @extschema@._delivery_fee(bigint, real) FROM PUBLIC;

CREATE FUNCTION @extschema@.delivery_fee(merchant_id bigint, dropoff_lon float8, dropoff_lat float8) RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
	v_area @extschema@.zones.area%TYPE;
	v_pickup @extschema@.merchants.location%TYPE;
	v_drop @extschema@.orders.dropoff%TYPE;
	v_open boolean;
BEGIN
	SELECT m.zone_id, z.area, m.location, m.is_open INTO v_zone, v_area, v_pickup, v_open
	  FROM @extschema@.merchants m
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) m.zone_id
	 WHERE m.merchant_id OPERATOR(pg_catalog.=) delivery_fee.merchant_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'merchant % does not exist', merchant_id USING ERRCODE = 'DP013';
	END IF;
	IF NOT v_open THEN
		RAISE EXCEPTION 'merchant % is closed', merchant_id USING ERRCODE = 'DP003';
	END IF;
	v_drop := @extschema@._check_point(dropoff_lon, dropoff_lat, 'drop-off');   -- DP001
	-- no quote for a drop-off place_order refuses, with its SQLSTATE
	IF NOT @extschema@._covers(v_area, v_drop) THEN
		RAISE EXCEPTION 'drop-off lies outside the service area of zone %', v_zone USING ERRCODE = 'DP002';
	END IF;
	RETURN @extschema@._delivery_fee(v_zone, @extschema@._check_distance(v_pickup, v_drop));   -- DP010
END
$$;
COMMENT ON FUNCTION @extschema@.delivery_fee(bigint, float8, float8) IS
	'The delivery fee (cents) place_order would charge for a takeaway order of this merchant to this drop-off, for showing before the order; the zone''s pay model (pay_models).  Refused as place_order refuses the order: DP001 bad coordinates, DP013 unknown merchant, DP003 closed merchant, DP002 outside the zone''s service area, DP010 implausibly far from the merchant.';
REVOKE ALL ON FUNCTION @extschema@.delivery_fee(bigint, float8, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.delivery_fee(bigint, float8, float8) TO dispatch_app, dispatch_admin;

-- What the rider earns for a delivered order.  The waiting time runs from
-- the rider's arrival at the merchant (the first ping within the arrival
-- radius after the assignment) to the pickup, or to the first ping outside
-- the radius after the arrival when that comes first (the rider left);
-- without an arrival ping it is 0.
CREATE FUNCTION @extschema@._pay_delivery(p_order @extschema@.orders) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_model @extschema@.pay_models := @extschema@._pay_model(p_order.zone_id);
	v_tz text;
	v_local timestamp;
	v_arrived timestamptz;
	v_left timestamptz;
	v_waited integer := 0;
	v_peak boolean;
	v_base integer;
	v_dist integer;
	v_peak_cents integer := 0;
	v_wait_cents integer;
	v_total integer;
BEGIN
	SELECT z.timezone INTO v_tz FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) p_order.zone_id;
	v_local := p_order.delivered_at AT TIME ZONE v_tz;
	v_peak := pg_catalog.date_part('hour', v_local)::integer OPERATOR(pg_catalog.=) ANY (v_model.peak_hours);
	IF p_order.picked_up_at IS NOT NULL AND p_order.assigned_at IS NOT NULL THEN
		SELECT t.at INTO v_arrived FROM @extschema@.rider_tracks t
		 WHERE t.zone_id OPERATOR(pg_catalog.=) p_order.zone_id
		   AND t.rider_id OPERATOR(pg_catalog.=) p_order.rider_id
		   AND t.at OPERATOR(pg_catalog.>=) p_order.assigned_at
		   AND t.at OPERATOR(pg_catalog.<=) p_order.picked_up_at
		   AND @extschema@._distance_m(t.position, p_order.pickup) OPERATOR(pg_catalog.<=) v_model.arrival_radius_m
		 ORDER BY t.at LIMIT 1;
		IF FOUND THEN
			-- the wait ends at the pickup, or earlier when the track leaves
			-- the merchant first: a pickup synced after a spell without
			-- signal is stamped with the time of the sync (docs/sync.md)
			-- while the pings the phone cached keep their times, and a rider
			-- may tap the pickup only after riding off; the ride is not a wait
			SELECT t.at INTO v_left FROM @extschema@.rider_tracks t
			 WHERE t.zone_id OPERATOR(pg_catalog.=) p_order.zone_id
			   AND t.rider_id OPERATOR(pg_catalog.=) p_order.rider_id
			   AND t.at OPERATOR(pg_catalog.>) v_arrived
			   AND t.at OPERATOR(pg_catalog.<) p_order.picked_up_at
			   AND @extschema@._distance_m(t.position, p_order.pickup) OPERATOR(pg_catalog.>) v_model.arrival_radius_m
			 ORDER BY t.at LIMIT 1;
			v_waited := pg_catalog.floor(pg_catalog.date_part('epoch',
			                COALESCE(v_left, p_order.picked_up_at) OPERATOR(pg_catalog.-) v_arrived)
			                OPERATOR(pg_catalog./) 60)::integer;
		END IF;
	END IF;
	v_base := v_model.pay_base_cents;
	v_dist := pg_catalog.round(v_model.pay_per_km_cents::numeric OPERATOR(pg_catalog.*) p_order.distance_m::numeric
	                           OPERATOR(pg_catalog./) 1000)::integer;
	IF v_peak THEN
		v_peak_cents := pg_catalog.round((v_base OPERATOR(pg_catalog.+) v_dist)::numeric
		                    OPERATOR(pg_catalog.*) (v_model.peak_multiplier::numeric OPERATOR(pg_catalog.-) 1))::integer;
	END IF;
	v_wait_cents := v_model.wait_cents_per_minute OPERATOR(pg_catalog.*)
	                GREATEST(v_waited OPERATOR(pg_catalog.-) v_model.wait_grace_minutes, 0);
	v_total := ((v_base OPERATOR(pg_catalog.+) v_dist) OPERATOR(pg_catalog.+) v_peak_cents)
	           OPERATOR(pg_catalog.+) v_wait_cents;
	INSERT INTO @extschema@.rider_pay (zone_id, order_id, rider_id, day, delivered_at, distance_m, peak,
	                                   waited_minutes, base_cents, distance_cents, peak_cents, waiting_cents,
	                                   total_cents)
	VALUES (p_order.zone_id, p_order.order_id, p_order.rider_id, v_local::date, p_order.delivered_at,
	        p_order.distance_m, v_peak, v_waited, v_base, v_dist, v_peak_cents, v_wait_cents, v_total)
	ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		RETURN 0;                     -- paid already (an order is delivered once)
	END IF;
	RETURN v_total;
END
$$;
COMMENT ON FUNCTION @extschema@._pay_delivery(@extschema@.orders) IS
	'Internal: writes the rider_pay row of a delivered order by the zone''s pay model and returns its total (0 if it was paid already).  Called by the rider trigger of orders.';
REVOKE ALL ON FUNCTION @extschema@._pay_delivery(@extschema@.orders) FROM PUBLIC;

CREATE VIEW @extschema@.rider_earnings AS
SELECT p.zone_id, p.rider_id, p.day,
       pg_catalog.count(*) AS deliveries,
       pg_catalog.count(*) FILTER (WHERE p.peak) AS peak_deliveries,
       pg_catalog.sum(p.distance_m)::bigint AS distance_m,
       pg_catalog.sum(p.waited_minutes)::bigint AS waited_minutes,
       pg_catalog.sum(p.base_cents)::bigint AS base_cents,
       pg_catalog.sum(p.distance_cents)::bigint AS distance_cents,
       pg_catalog.sum(p.peak_cents)::bigint AS peak_cents,
       pg_catalog.sum(p.waiting_cents)::bigint AS waiting_cents,
       pg_catalog.sum(p.total_cents)::bigint AS total_cents
  FROM @extschema@.rider_pay p
 GROUP BY p.zone_id, p.rider_id, p.day;
COMMENT ON VIEW @extschema@.rider_earnings IS
	'Per rider and day (zone time): deliveries and what they earned, by part of the pay model.  For dispatchers (dispatch_admin); a rider reads their own through the app with rider_earnings_of.';
REVOKE ALL ON @extschema@.rider_earnings FROM PUBLIC;
GRANT SELECT ON @extschema@.rider_earnings TO dispatch_admin;

CREATE FUNCTION @extschema@.rider_earnings_of(rider_id bigint, from_day date, to_day date)
RETURNS SETOF @extschema@.rider_earnings
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone_id bigint;
BEGIN
	IF rider_id IS NULL OR from_day IS NULL OR to_day IS NULL
	   OR NOT pg_catalog.isfinite(from_day) OR NOT pg_catalog.isfinite(to_day)
	   OR to_day OPERATOR(pg_catalog.<) from_day
	   -- at most 366 days, both ends included (a leap year)
	   OR to_day OPERATOR(pg_catalog.-) from_day OPERATOR(pg_catalog.>=) 366 THEN
		RAISE EXCEPTION 'invalid earnings request: a rider and days from <= to, at most 366 days with both ends'
			USING ERRCODE = 'DP721';
	END IF;
	-- the rider's zone (rider_zones, which every node holds): their pay
	-- lies in it, and on Citus the statement goes to that zone's shard alone
	v_zone_id := @extschema@._rider_zone(rider_earnings_of.rider_id);
	IF v_zone_id IS NULL THEN
		RAISE EXCEPTION 'rider % does not exist', rider_id USING ERRCODE = 'DP015';
	END IF;
	RETURN QUERY
	SELECT e.* FROM @extschema@.rider_earnings e
	 WHERE e.zone_id OPERATOR(pg_catalog.=) v_zone_id
	   AND e.rider_id OPERATOR(pg_catalog.=) rider_earnings_of.rider_id
	   AND e.day OPERATOR(pg_catalog.>=) from_day AND e.day OPERATOR(pg_catalog.<=) to_day
	 ORDER BY e.day, e.zone_id;
END
$$;
COMMENT ON FUNCTION @extschema@.rider_earnings_of(bigint, date, date) IS
	'One rider''s earnings per day from from_day to to_day (at most 366 days): what the rider app shows a rider about themself; the app server passes the id of the rider it authenticated.  DP721 bad range, DP015 unknown rider.';
REVOKE ALL ON FUNCTION @extschema@.rider_earnings_of(bigint, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rider_earnings_of(bigint, date, date) TO dispatch_app, dispatch_admin;

-- The fairness of a zone's day without rider ids: the Gini coefficient of
-- the riders' earnings (0: everyone earned the same) over
-- G = (2 * sum(i * x_i)) / (n * sum(x)) - (n + 1) / n with x ascending.
-- On one server the view reads the tables, so that a filter on it reaches
-- their indexes.  On Citus a view's shards are read as the querying role,
-- which holds no right on them: there distribute() makes the view read
-- this SECURITY DEFINER function of the same rows instead
-- (sql/97_distribute.sql).
CREATE FUNCTION @extschema@._earnings_fairness()
RETURNS TABLE (zone_id bigint, day date, riders bigint, deliveries bigint, total_cents bigint, mean_cents bigint,
               p10_cents bigint, median_cents bigint, p90_cents bigint, gini numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.earnings_fairness;
END
$$;
COMMENT ON FUNCTION @extschema@._earnings_fairness() IS
	'Internal (earnings_fairness): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';

--
-- A day of fewer than five riders shows its count of riders only: with one
-- rider the total is that rider's pay, with a few the percentiles name
-- each one's, and whoever knows who worked that day would read a person's
-- earnings.
CREATE VIEW @extschema@.earnings_fairness AS
SELECT g.zone_id, g.day, g.riders,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.deliveries END AS deliveries,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.total_cents END AS total_cents,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.mean_cents END AS mean_cents,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.p10_cents END AS p10_cents,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.median_cents END AS median_cents,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.p90_cents END AS p90_cents,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.gini END AS gini
  FROM (SELECT f.zone_id, f.day,
               pg_catalog.count(*) AS riders,
               pg_catalog.sum(f.deliveries)::bigint AS deliveries,
               pg_catalog.sum(f.total_cents)::bigint AS total_cents,
               pg_catalog.round(pg_catalog.avg(f.total_cents))::bigint AS mean_cents,
               pg_catalog.percentile_disc(0.1) WITHIN GROUP (ORDER BY f.total_cents) AS p10_cents,
               pg_catalog.percentile_disc(0.5) WITHIN GROUP (ORDER BY f.total_cents) AS median_cents,
               pg_catalog.percentile_disc(0.9) WITHIN GROUP (ORDER BY f.total_cents) AS p90_cents,
               CASE WHEN pg_catalog.sum(f.total_cents) OPERATOR(pg_catalog.>) 0 THEN
                   pg_catalog.round(((2 OPERATOR(pg_catalog.*) pg_catalog.sum(f.rank OPERATOR(pg_catalog.*) f.total_cents))::numeric
                                     OPERATOR(pg_catalog./) (pg_catalog.count(*) OPERATOR(pg_catalog.*) pg_catalog.sum(f.total_cents)))
                                    OPERATOR(pg_catalog.-) ((pg_catalog.count(*) OPERATOR(pg_catalog.+) 1)::numeric
                                                            OPERATOR(pg_catalog./) pg_catalog.count(*)), 4)
               END AS gini
          FROM (SELECT e.zone_id, e.day, e.deliveries, e.total_cents,
                       pg_catalog.row_number() OVER (PARTITION BY e.zone_id, e.day ORDER BY e.total_cents) AS rank
                  FROM @extschema@.rider_earnings e) f
         GROUP BY f.zone_id, f.day) g;
COMMENT ON VIEW @extschema@.earnings_fairness IS
	'Per zone and day: riders paid, deliveries, total and percentiles of a rider''s earnings, and their Gini coefficient (0: equal, towards 1: one rider earned everything).  No rider ids, and a day of fewer than five riders shows only their count: for analysts.';
REVOKE ALL ON @extschema@.earnings_fairness FROM PUBLIC;
GRANT SELECT ON @extschema@.earnings_fairness TO dispatch_analyst, dispatch_admin;
-- on Citus the view's readers call its function (PostgreSQL checks a
-- function in a view against the querying role)
REVOKE ALL ON FUNCTION @extschema@._earnings_fairness() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._earnings_fairness() TO dispatch_analyst, dispatch_admin;
