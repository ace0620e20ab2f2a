-- sql/63_eta.sql
-- ETA windows (DESIGN.md part 5, docs/eta.md).  How fast riders really move
-- in a zone, by hour of the week, is learned from delivered orders
-- (zone_speeds); matching uses the same speeds for its travel times
-- (src/match.c).  An order's window (earliest, latest) is its expected
-- delivery time from where it is now (its rider's position, the merchant's
-- ready time, the zone's speed), widened by how far off such predictions
-- were in the zone: the ratio of the actual to the predicted remaining
-- time, whose lower and upper quantiles are chosen so that
-- dispatch.eta_coverage_percent of deliveries land inside the window
-- (eta_calibration).  Both are learned by the job learn_eta (pg_cron,
-- hourly); until dispatch.eta_min_samples deliveries are seen, a zone uses
-- its configured speed (zones.speed_mps) and a wide default window.
--
-- Every status change of an order (trigger order_eta, which fires before
-- the state machine's order_state, as triggers fire in name order) stores
-- the window on the order and in eta_predictions, and the state machine
-- puts it in the order_status event.

CREATE TABLE @extschema@.zone_speeds (
	zone_id       bigint NOT NULL REFERENCES @extschema@.zones,
	hour_of_week  smallint NOT NULL CHECK (hour_of_week BETWEEN 0 AND 167),
	samples       integer NOT NULL CHECK (samples > 0),
	observed_mps  real NOT NULL CHECK (observed_mps > 0),
	speed_mps     real NOT NULL CHECK (speed_mps > 0),
	learned_at    timestamptz NOT NULL,
	PRIMARY KEY (zone_id, hour_of_week)
);
COMMENT ON TABLE @extschema@.zone_speeds IS
	'Speeds learned from delivered orders (learn_eta), per zone and hour of the week (0 = Monday 00:00-01:00 zone time): observed_mps is the median effective speed (straight-line metres from pickup to drop-off over the time from pickup to delivery, for a vehicle of speed factor 1), speed_mps that median pulled towards the zone''s configured speed by dispatch.eta_min_samples pseudo-samples: what ETA and matching use.';

CREATE TABLE @extschema@.eta_calibration (
	zone_id     bigint NOT NULL REFERENCES @extschema@.zones,
	stage       text NOT NULL CHECK (stage IN ('placed', 'accepted', 'assigned', 'picked_up')),
	samples     integer NOT NULL CHECK (samples > 0),
	lo_error    real NOT NULL,
	hi_error    real NOT NULL CHECK (hi_error >= lo_error),
	learned_at  timestamptz NOT NULL,
	PRIMARY KEY (zone_id, stage)
);
COMMENT ON TABLE @extschema@.eta_calibration IS
	'How far off predictions were, per zone and the status the order was in when predicted: the quantiles of the error (actual - expected) over (predicted remaining time + 5 minutes) that hold dispatch.eta_coverage_percent of the deliveries learned from (learn_eta).';

CREATE TABLE @extschema@.eta_predictions (
	zone_id       bigint NOT NULL,
	order_id      bigint NOT NULL,
	stage         text NOT NULL,
	predicted_at  timestamptz NOT NULL,
	expected_at   timestamptz NOT NULL,
	earliest      timestamptz NOT NULL,
	latest        timestamptz NOT NULL,
	-- what the expected time was computed from (_eta_expected), so that
	-- learn_eta can compute it again with the speeds it learns
	approach_m    real,
	trip_m        real NOT NULL,
	ready_at      timestamptz,
	speed_factor  real NOT NULL,
	PRIMARY KEY (zone_id, order_id, stage),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders,
	CHECK (earliest <= expected_at AND expected_at <= latest),
	CONSTRAINT eta_predictions_values_check CHECK (@extschema@._eta_values_ok(stage, approach_m, trip_m, speed_factor))
);
CREATE INDEX eta_predictions_time_idx ON @extschema@.eta_predictions (zone_id, predicted_at);
COMMENT ON TABLE @extschema@.eta_predictions IS
	'The window predicted for an order when it reached each status (the last one, if it reached a status twice), and what it was computed from: metres to the pickup (NULL once picked up) and from there (or from the rider) to the drop-off, the ready time, the vehicle''s speed factor.  The actual time is the order''s delivered_at; eta_accuracy compares them.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.zone_speeds', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.eta_calibration', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.eta_predictions', '');
REVOKE ALL ON @extschema@.zone_speeds, @extschema@.eta_calibration, @extschema@.eta_predictions FROM PUBLIC;
GRANT SELECT ON @extschema@.zone_speeds, @extschema@.eta_calibration TO dispatch_admin;

-- No pinned search_path, so that the planner inlines it into the queries
-- that call it (a SQL-standard body is bound when it is created, and names
-- only pg_catalog): a function with SET is planned again at every call.
CREATE FUNCTION @extschema@._hour_of_week(p_at timestamptz, p_timezone text) RETURNS smallint
LANGUAGE sql STABLE STRICT PARALLEL SAFE
RETURN ((pg_catalog.date_part('isodow', p_at AT TIME ZONE p_timezone)::integer OPERATOR(pg_catalog.-) 1)
        OPERATOR(pg_catalog.*) 24
        OPERATOR(pg_catalog.+) pg_catalog.date_part('hour', p_at AT TIME ZONE p_timezone)::integer)::smallint;
COMMENT ON FUNCTION @extschema@._hour_of_week(timestamptz, text) IS
	'Internal: the hour of the week of a time in a time zone: 0 for Monday 00:00-01:00, 167 for Sunday 23:00-24:00.';
REVOKE ALL ON FUNCTION @extschema@._hour_of_week(timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._hour_of_week(timestamptz, text) TO dispatch_analyst, dispatch_admin;   -- demand_heatmap (sql/68_demand.sql) calls it as its reader

-- The expected delivery time from its parts: at p_speed metres a second,
-- the ride to the pickup (none once picked up), not before the food is
-- ready, then the trip; at least a minute from now.  One definition, in C
-- (src/eta.c), used by the window and by learn_eta, which recomputes past
-- predictions with the speeds it learns.  NULL parts count as in an SQL
-- expression: GREATEST skips a NULL ready time; a NULL speed or trip leaves
-- the minute from now.
CREATE FUNCTION @extschema@._eta_expected(p_at timestamptz, p_speed float8, p_approach_m float8,
                                          p_trip_m float8, p_ready timestamptz) RETURNS timestamptz
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_eta_expected';
COMMENT ON FUNCTION @extschema@._eta_expected(timestamptz, float8, float8, float8, timestamptz) IS
	'Internal: the expected delivery time at p_at: the ride to the pickup (p_approach_m metres; NULL once picked up), not before p_ready, then p_trip_m metres, at p_speed m/s; at least a minute after p_at.';
REVOKE ALL ON FUNCTION @extschema@._eta_expected(timestamptz, float8, float8, float8, timestamptz) FROM PUBLIC;

-- The window of an order in a status at a time (src/eta.c, which says
-- what it is made of): C, since the trigger below computes it at every
-- status change of every order.
CREATE FUNCTION @extschema@._eta_window(p_order @extschema@.orders, p_status text, p_now timestamptz,
                                        OUT expected_at timestamptz, OUT earliest timestamptz,
                                        OUT latest timestamptz, OUT approach_m float8, OUT trip_m float8,
                                        OUT ready_at timestamptz, OUT speed_factor float8)
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_eta_window';
COMMENT ON FUNCTION @extschema@._eta_window(@extschema@.orders, text, timestamptz) IS
	'Internal: the expected delivery time and window of an order in a status at a time, and the parts the expected time comes from (docs/eta.md); NULLs in a status without one.';
REVOKE ALL ON FUNCTION @extschema@._eta_window(@extschema@.orders, text, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@._order_eta_trigger() RETURNS trigger
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_order_eta';
COMMENT ON FUNCTION @extschema@._order_eta_trigger() IS
	'Internal: BEFORE UPDATE OF status on orders, before the state machine: the order''s new ETA window, on the order and in eta_predictions (C, src/eta.c).';
REVOKE ALL ON FUNCTION @extschema@._order_eta_trigger() FROM PUBLIC;

CREATE TRIGGER order_eta
	BEFORE UPDATE OF status ON @extschema@.orders
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION @extschema@._order_eta_trigger();
COMMENT ON TRIGGER order_eta ON @extschema@.orders IS
	'Refreshes the ETA window at each status change; fires before order_state (name order), which puts the window in the status event.';

CREATE FUNCTION @extschema@.eta(order_id bigint)
RETURNS TABLE (status text, expected_at timestamptz, earliest timestamptz, latest timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders;
	v_w record;
BEGIN
	SELECT * INTO v_order FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(eta.order_id)
	   AND o.order_id OPERATOR(pg_catalog.=) eta.order_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', order_id USING ERRCODE = 'DP014';
	END IF;
	status := v_order.status;
	IF v_order.status OPERATOR(pg_catalog.=) 'delivered' THEN
		expected_at := v_order.delivered_at;
		earliest := v_order.delivered_at;
		latest := v_order.delivered_at;
		RETURN NEXT;
		RETURN;
	END IF;
	v_w := @extschema@._eta_window(v_order, v_order.status, @extschema@.clock());
	IF v_w.expected_at IS NULL THEN
		RAISE EXCEPTION 'order % has no delivery time to expect (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP711',
			      DETAIL = 'Orders have an ETA from payment (placed) until delivery.';
	END IF;
	expected_at := v_w.expected_at;
	earliest := v_w.earliest;
	latest := v_w.latest;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION @extschema@.eta(bigint) IS
	'The order''s expected delivery time and window (earliest, latest) now, from its rider''s position, the merchant''s ready time and the zone''s learned speed, sized so that dispatch.eta_coverage_percent of deliveries land inside (docs/eta.md).  A delivered order: its delivery time.  DP014 unknown order, DP711 an order not paid or cancelled.';
REVOKE ALL ON FUNCTION @extschema@.eta(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.eta(bigint) TO dispatch_app, dispatch_admin;

-- The learning job.  Speeds: every delivered order of the last
-- dispatch.eta_learn_days days with a trip of at least 300 m and a minute
-- gives one sample, its effective speed divided by its rider's speed
-- factor; samples outside 0.3..40 m/s are dropped.  Calibration: for the
-- last 5,000 predictions of each zone and status whose order was delivered
-- within the same days, after the prediction, the error of the time
-- predicted from the same parts at the speeds just learned (so that the
-- windows fit the speeds they will be used with), over the remaining time
-- plus five minutes.  Both read the window's deliveries only, zone by zone
-- through orders_delivered_idx, and their predictions by the key: the cost
-- of a run follows the orders of the window, not the history (the
-- predictions of orders finished long ago go by retention,
-- sql/78_retention.sql).
CREATE FUNCTION @extschema@.learn_eta() RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_since timestamptz := v_now OPERATOR(pg_catalog.-)
	                       pg_catalog.make_interval(days => @extschema@._setting_int('dispatch.eta_learn_days'));
	v_k float8 := @extschema@._setting_int('dispatch.eta_min_samples');
	v_cover float8 := @extschema@._setting_int('dispatch.eta_coverage_percent')::float8 OPERATOR(pg_catalog./) 100;
	v_speeds integer;
	v_stages integer;
BEGIN
	-- one run at a time (the mode conflicts with itself, not with readers);
	-- a second waits, then learns again
	LOCK TABLE @extschema@.zone_speeds, @extschema@.eta_calibration IN SHARE ROW EXCLUSIVE MODE;
	DELETE FROM @extschema@.zone_speeds;
	INSERT INTO @extschema@.zone_speeds (zone_id, hour_of_week, samples, observed_mps, speed_mps, learned_at)
	SELECT s.zone_id, s.how, pg_catalog.count(*)::integer,
	       pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY s.v),
	       ((pg_catalog.count(*) OPERATOR(pg_catalog.*) pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY s.v))
	        OPERATOR(pg_catalog.+) (v_k OPERATOR(pg_catalog.*) pg_catalog.min(s.zone_speed)))
	       OPERATOR(pg_catalog./) (pg_catalog.count(*) OPERATOR(pg_catalog.+) v_k),
	       v_now
	  FROM (SELECT o.zone_id, @extschema@._hour_of_week(o.picked_up_at, z.timezone) AS how,
	               z.speed_mps::float8 AS zone_speed,
	               (o.distance_m::float8 OPERATOR(pg_catalog./)
	                pg_catalog.date_part('epoch', o.delivered_at OPERATOR(pg_catalog.-) o.picked_up_at))
	               OPERATOR(pg_catalog./) COALESCE(p.speed_factor, 1)::float8 AS v
	          -- zone by zone, the window's deliveries (orders_delivered_idx)
	          FROM @extschema@.zones z
	          JOIN @extschema@.orders o ON o.zone_id OPERATOR(pg_catalog.=) z.zone_id
	          LEFT JOIN @extschema@.riders r ON r.zone_id OPERATOR(pg_catalog.=) o.zone_id
	                                         AND r.rider_id OPERATOR(pg_catalog.=) o.rider_id
	          LEFT JOIN @extschema@.vehicle_profiles p ON p.vehicle OPERATOR(pg_catalog.=) r.vehicle
	         WHERE o.status OPERATOR(pg_catalog.=) 'delivered'
	           AND o.delivered_at OPERATOR(pg_catalog.>=) v_since
	           AND o.distance_m OPERATOR(pg_catalog.>=) 300
	           AND o.delivered_at OPERATOR(pg_catalog.>=) (o.picked_up_at OPERATOR(pg_catalog.+) interval '1 minute')) s
	 WHERE s.v OPERATOR(pg_catalog.>=) 0.3 AND s.v OPERATOR(pg_catalog.<=) 40
	 GROUP BY s.zone_id, s.how;
	GET DIAGNOSTICS v_speeds = ROW_COUNT;

	DELETE FROM @extschema@.eta_calibration;
	INSERT INTO @extschema@.eta_calibration (zone_id, stage, samples, lo_error, hi_error, learned_at)
	SELECT c.zone_id, c.stage, pg_catalog.count(*)::integer,
	       pg_catalog.percentile_cont((1 OPERATOR(pg_catalog.-) v_cover) OPERATOR(pg_catalog./) 2) WITHIN GROUP (ORDER BY c.error),
	       pg_catalog.percentile_cont((1 OPERATOR(pg_catalog.+) v_cover) OPERATOR(pg_catalog./) 2) WITHIN GROUP (ORDER BY c.error),
	       v_now
	  FROM (SELECT p.zone_id, p.stage,
	               (pg_catalog.date_part('epoch', p.delivered_at OPERATOR(pg_catalog.-) p.expected_again)
	                OPERATOR(pg_catalog./)
	                (pg_catalog.date_part('epoch', p.expected_again OPERATOR(pg_catalog.-) p.predicted_at)
	                 OPERATOR(pg_catalog.+) 300)) AS error
	          FROM (SELECT p.zone_id, p.stage, p.predicted_at, p.delivered_at,
	                       @extschema@._eta_expected(p.predicted_at,
	                                                 COALESCE(s.speed_mps, z.speed_mps)::float8 OPERATOR(pg_catalog.*) p.speed_factor,
	                                                 p.approach_m, p.trip_m, p.ready_at) AS expected_again
	                  FROM (SELECT p.*, o.delivered_at,
	                               pg_catalog.row_number() OVER (PARTITION BY p.zone_id, p.stage ORDER BY p.predicted_at DESC) AS recent
	                          -- zone by zone, the window's deliveries
	                          -- (orders_delivered_idx), then their
	                          -- predictions (by the key): never the older
	                          FROM @extschema@.zones w
	                          JOIN @extschema@.orders o ON o.zone_id OPERATOR(pg_catalog.=) w.zone_id
	                          JOIN @extschema@.eta_predictions p ON p.zone_id OPERATOR(pg_catalog.=) o.zone_id
	                                                            AND p.order_id OPERATOR(pg_catalog.=) o.order_id
	                         WHERE o.status OPERATOR(pg_catalog.=) 'delivered'
	                           AND o.delivered_at OPERATOR(pg_catalog.>=) v_since
	                           -- a window predicted when the order was
	                           -- delivered (a pickup and delivery synced
	                           -- offline together, both stamped with the
	                           -- sync's time) predicts nothing
	                           AND p.predicted_at OPERATOR(pg_catalog.<) o.delivered_at) p
	                  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) p.zone_id
	                  LEFT JOIN @extschema@.zone_speeds s ON s.zone_id OPERATOR(pg_catalog.=) p.zone_id
	                        AND s.hour_of_week OPERATOR(pg_catalog.=) @extschema@._hour_of_week(p.predicted_at, z.timezone)
	                 WHERE p.recent OPERATOR(pg_catalog.<=) 5000) p) c
	 GROUP BY c.zone_id, c.stage;
	GET DIAGNOSTICS v_stages = ROW_COUNT;
	RETURN pg_catalog.jsonb_build_object('zone_hours', v_speeds, 'zone_stages', v_stages, 'since', v_since);
END
$$;
COMMENT ON FUNCTION @extschema@.learn_eta() IS
	'Job: learns the zones'' speeds by hour of the week and the ETA windows'' calibration from the deliveries of the last dispatch.eta_learn_days days (docs/eta.md); returns how many rows of each it wrote.  Run hourly by pg_cron (schedule_maintenance).';
REVOKE ALL ON FUNCTION @extschema@.learn_eta() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.learn_eta() TO dispatch_admin;

-- Coverage and width per zone, hour (zone time, of the prediction) and
-- status at prediction, over delivered orders.
-- On one server the view reads the tables, so that a filter on it reaches
-- their indexes.  On Citus a view's shards are read as the querying role,
-- which holds no right on them: there distribute() makes the view read
-- this SECURITY DEFINER function of the same rows instead
-- (sql/97_distribute.sql).
CREATE FUNCTION @extschema@._eta_accuracy()
RETURNS TABLE (zone_id bigint, hour timestamp, stage text, deliveries bigint, coverage numeric,
               mean_width_minutes numeric, mean_abs_error_minutes numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.eta_accuracy;
END
$$;
COMMENT ON FUNCTION @extschema@._eta_accuracy() IS
	'Internal (eta_accuracy): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';

CREATE VIEW @extschema@.eta_accuracy AS
SELECT p.zone_id,
       pg_catalog.date_trunc('hour', p.predicted_at AT TIME ZONE z.timezone) AS hour,
       p.stage,
       pg_catalog.count(*) AS deliveries,
       (pg_catalog.count(*) FILTER (WHERE o.delivered_at OPERATOR(pg_catalog.>=) p.earliest
                                      AND o.delivered_at OPERATOR(pg_catalog.<=) p.latest)::numeric
        OPERATOR(pg_catalog./) pg_catalog.count(*))::numeric(5, 4) AS coverage,
       pg_catalog.round((pg_catalog.avg(pg_catalog.date_part('epoch', p.latest OPERATOR(pg_catalog.-) p.earliest))
                         OPERATOR(pg_catalog./) 60)::numeric, 2) AS mean_width_minutes,
       pg_catalog.round((pg_catalog.avg(pg_catalog.abs(pg_catalog.date_part('epoch', o.delivered_at OPERATOR(pg_catalog.-) p.expected_at)))
                         OPERATOR(pg_catalog./) 60)::numeric, 2) AS mean_abs_error_minutes
  FROM @extschema@.eta_predictions p
  JOIN @extschema@.orders o ON o.zone_id OPERATOR(pg_catalog.=) p.zone_id
                           AND o.order_id OPERATOR(pg_catalog.=) p.order_id
  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) p.zone_id
 WHERE o.status OPERATOR(pg_catalog.=) 'delivered'
 GROUP BY p.zone_id, pg_catalog.date_trunc('hour', p.predicted_at AT TIME ZONE z.timezone), p.stage;
COMMENT ON VIEW @extschema@.eta_accuracy IS
	'Per zone, hour (zone time, of the prediction) and status at prediction: delivered orders, the share delivered inside their window, its mean width and the mean error of the expected time, in minutes; as far back as the predictions are kept (retention class eta_predictions, 90 days after the order ends by default).  No personal data.';
REVOKE ALL ON @extschema@.eta_accuracy FROM PUBLIC;
GRANT SELECT ON @extschema@.eta_accuracy TO dispatch_analyst, dispatch_admin;
-- on Citus the view's readers call its function (PostgreSQL checks a
-- function in a view against the querying role)
REVOKE ALL ON FUNCTION @extschema@._eta_accuracy() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._eta_accuracy() TO dispatch_analyst, dispatch_admin;
