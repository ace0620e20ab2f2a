-- sql/69_operations.sql
-- Views for operators and analysts that show trouble before customers do
-- (issue "tracking and operations", design part 5): orders stuck in a
-- status longer than it should last, and the dispatch figures per zone and
-- hour.  No personal data: ids, statuses, times and counts only.

-- How long each status may last before an order counts as stuck.  One
-- place, read by stuck_orders; the limits are documented in docs/api.md.
CREATE FUNCTION @extschema@.stuck_after(status text) RETURNS interval
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN CASE status
		WHEN 'pending_payment' THEN interval '15 minutes'   -- the payment service has not answered
		WHEN 'payment_failed'  THEN interval '30 minutes'   -- the customer neither retried nor cancelled
		WHEN 'placed'          THEN interval '10 minutes'   -- the merchant has not accepted
		WHEN 'accepted'        THEN interval '15 minutes'   -- after the food is ready, no rider has it
		WHEN 'assigned'        THEN interval '30 minutes'   -- after the food is ready, the rider has not picked it up
		WHEN 'picked_up'       THEN interval '60 minutes'   -- on the way for an hour
	END;
END
$$;
COMMENT ON FUNCTION @extschema@.stuck_after(text) IS
	'How long an order may stay in a status before stuck_orders lists it (accepted and assigned: counted from when the food is ready, if that is later than the status began); NULL for delivered and cancelled.';

-- On one server each view reads the tables, so that a filter on it reaches
-- their indexes.  On Citus a view's shards are read as the querying role,
-- which holds no right on them: there distribute() makes each view read
-- the SECURITY DEFINER function of the same rows defined before it
-- (sql/97_distribute.sql).
CREATE FUNCTION @extschema@._stuck_orders()
RETURNS TABLE (zone_id bigint, order_id bigint, kind text, status text, rider_id bigint, merchant_id bigint,
               since timestamptz, due timestamptz, overdue_by interval)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.stuck_orders;
END
$$;
COMMENT ON FUNCTION @extschema@._stuck_orders() IS
	'Internal (stuck_orders): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';

CREATE VIEW @extschema@.stuck_orders AS
SELECT o.zone_id, o.order_id, o.kind, o.status, o.rider_id, o.merchant_id,
       o.status_changed_at AS since,
       CASE WHEN o.status IN ('accepted', 'assigned')
            THEN GREATEST(o.status_changed_at, COALESCE(o.ready_at, o.status_changed_at))
            ELSE o.status_changed_at END
         OPERATOR(pg_catalog.+) @extschema@.stuck_after(o.status) AS due,
       @extschema@.clock() OPERATOR(pg_catalog.-)
         (CASE WHEN o.status IN ('accepted', 'assigned')
               THEN GREATEST(o.status_changed_at, COALESCE(o.ready_at, o.status_changed_at))
               ELSE o.status_changed_at END
          OPERATOR(pg_catalog.+) @extschema@.stuck_after(o.status)) AS overdue_by
  FROM @extschema@.orders o
 WHERE o.status IN ('pending_payment', 'payment_failed', 'placed', 'accepted', 'assigned', 'picked_up')
   AND @extschema@.clock() OPERATOR(pg_catalog.>)
       (CASE WHEN o.status IN ('accepted', 'assigned')
             THEN GREATEST(o.status_changed_at, COALESCE(o.ready_at, o.status_changed_at))
             ELSE o.status_changed_at END
        OPERATOR(pg_catalog.+) @extschema@.stuck_after(o.status));
COMMENT ON VIEW @extschema@.stuck_orders IS
	'Orders in a status longer than stuck_after(status) allows, now (clock()): when the status began, when it was due to end, and by how much it is overdue.  Ids and times only.';

-- Rider utilisation per zone and hour: the share of online rider time
-- (shifts from the rider_status events of the outbox, so as far back as
-- the outbox is kept) in which the rider held at least one order (from
-- assignment to delivery or cancellation; overlapping orders of one rider
-- merged).  Hours are the zone's local hours (in a zone half an hour off
-- UTC they start at :30 of UTC).
CREATE FUNCTION @extschema@._rider_utilisation()
RETURNS TABLE (zone_id bigint, hour timestamp, riders_online bigint, online_rider_hours numeric,
               busy_rider_hours numeric, utilisation numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.rider_utilisation;
END
$$;
COMMENT ON FUNCTION @extschema@._rider_utilisation() IS
	'Internal (rider_utilisation): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';

-- A rider works in one zone (riders.zone_id never changes, and an order's
-- rider is a rider of its zone), so the windows over a rider's shifts and
-- orders are partitioned by zone and rider: a zone filter on the view then
-- reaches the events and orders under them, through the union, here and on
-- Citus (docs/citus.md).
CREATE VIEW @extschema@.rider_utilisation AS
WITH shifts AS (
	SELECT e.zone_id, e.rider_id, e.at AS s, COALESCE(e.next_at, @extschema@.clock()) AS e
	  FROM (SELECT e.zone_id, e.rider_id, e.at, e.payload OPERATOR(pg_catalog.->>) 'status' AS status,
	               pg_catalog.lead(e.at) OVER (PARTITION BY e.zone_id, e.rider_id ORDER BY e.at, e.seq) AS next_at
	          FROM @extschema@.events e
	         WHERE e.kind OPERATOR(pg_catalog.=) 'rider_status') e
	 WHERE e.status OPERATOR(pg_catalog.=) 'online'),
held AS (
	SELECT o.zone_id, o.rider_id, o.assigned_at AS s,
	       COALESCE(o.delivered_at, o.cancelled_at, @extschema@.clock()) AS e
	  FROM @extschema@.orders o
	 WHERE o.assigned_at IS NOT NULL AND o.rider_id IS NOT NULL),
held_marked AS (
	SELECT h.zone_id, h.rider_id, h.s, h.e,
	       pg_catalog.max(h.e) OVER (PARTITION BY h.zone_id, h.rider_id ORDER BY h.s, h.e
	                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
	  FROM held h),
busy AS (
	SELECT m.zone_id, m.rider_id, pg_catalog.min(m.s) AS s, pg_catalog.max(m.e) AS e
	  FROM (SELECT h.zone_id, h.rider_id, h.s, h.e,
	               pg_catalog.sum(CASE WHEN h.prev_end IS NULL OR h.s OPERATOR(pg_catalog.>) h.prev_end THEN 1 ELSE 0 END)
	                   OVER (PARTITION BY h.zone_id, h.rider_id ORDER BY h.s, h.e) AS island
	          FROM held_marked h) m
	 GROUP BY m.zone_id, m.rider_id, m.island),
spans AS (
	SELECT 'online' AS kind, s.zone_id, s.rider_id, s.s, s.e FROM shifts s
	UNION ALL
	SELECT 'busy', b.zone_id, b.rider_id, b.s, b.e FROM busy b)
SELECT x.zone_id,
       pg_catalog.date_trunc('hour', x.h AT TIME ZONE x.timezone) AS hour,
       pg_catalog.count(DISTINCT x.rider_id) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'online') AS riders_online,
       (pg_catalog.sum(x.seconds) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'online')
        OPERATOR(pg_catalog./) 3600)::numeric(10, 2) AS online_rider_hours,
       (COALESCE(pg_catalog.sum(x.seconds) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'busy'), 0)
        OPERATOR(pg_catalog./) 3600)::numeric(10, 2) AS busy_rider_hours,
       LEAST(COALESCE(pg_catalog.sum(x.seconds) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'busy'), 0)
             OPERATOR(pg_catalog./)
             NULLIF(pg_catalog.sum(x.seconds) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'online'), 0), 1)::numeric(5, 4)
           AS utilisation
  FROM (SELECT sp.kind, sp.zone_id, sp.rider_id, h.h, hz.timezone,
               pg_catalog.date_part('epoch', LEAST(sp.e, h.h OPERATOR(pg_catalog.+) interval '1 hour')
                                             OPERATOR(pg_catalog.-) GREATEST(sp.s, h.h))::numeric AS seconds
          FROM spans sp
          JOIN @extschema@.zones hz ON hz.zone_id OPERATOR(pg_catalog.=) sp.zone_id
         CROSS JOIN LATERAL pg_catalog.generate_series(pg_catalog.date_trunc('hour', sp.s, hz.timezone), sp.e,
                                                       interval '1 hour') h(h)
         WHERE sp.e OPERATOR(pg_catalog.>) sp.s
           AND sp.e OPERATOR(pg_catalog.>) h.h) x
 GROUP BY x.zone_id, pg_catalog.date_trunc('hour', x.h AT TIME ZONE x.timezone);
COMMENT ON VIEW @extschema@.rider_utilisation IS
	'Per zone and local hour: riders online, online and busy rider-hours, and utilisation, the share of online time in which a rider held at least one order (assigned to delivered).  Shifts come from the outbox''s rider_status events, so hours older than the outbox''s retention show no online time.';

CREATE FUNCTION @extschema@._dispatch_kpis()
RETURNS TABLE (zone_id bigint, hour timestamp, orders bigint, delivered bigint, cancelled bigint,
               median_click_to_door interval, p90_click_to_door interval, on_time_share numeric,
               median_assigned_to_pickup interval, median_food_waiting interval,
               offers_per_assigned_order numeric, rider_utilisation numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.dispatch_kpis;
END
$$;
COMMENT ON FUNCTION @extschema@._dispatch_kpis() IS
	'Internal (dispatch_kpis): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';

CREATE VIEW @extschema@.dispatch_kpis AS
SELECT k.zone_id, k.hour, k.orders, k.delivered, k.cancelled, k.median_click_to_door, k.p90_click_to_door,
       k.on_time_share, k.median_assigned_to_pickup, k.median_food_waiting, k.offers_per_assigned_order,
       u.utilisation AS rider_utilisation
  FROM (SELECT o.zone_id,
               pg_catalog.date_trunc('hour', o.created_at AT TIME ZONE z.timezone) AS hour,
               pg_catalog.count(*) FILTER (WHERE o.placed_at IS NOT NULL) AS orders,
               pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'delivered') AS delivered,
               pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'cancelled') AS cancelled,
               (pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY o.delivered_at OPERATOR(pg_catalog.-) o.placed_at))
                   AS median_click_to_door,
               (pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY o.delivered_at OPERATOR(pg_catalog.-) o.placed_at))
                   AS p90_click_to_door,
               (pg_catalog.count(*) FILTER (WHERE o.delivered_at OPERATOR(pg_catalog.<=) o.promised_at)::numeric
                OPERATOR(pg_catalog./) NULLIF(pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'delivered'), 0))::numeric(5, 4)
                   AS on_time_share,
               (pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY o.picked_up_at OPERATOR(pg_catalog.-) o.assigned_at))
                   AS median_assigned_to_pickup,
               (pg_catalog.percentile_cont(0.5) WITHIN GROUP (
                    ORDER BY GREATEST(o.picked_up_at OPERATOR(pg_catalog.-) o.ready_at, interval '0'))) AS median_food_waiting,
               (pg_catalog.sum(COALESCE(f.offers, 0))::numeric
                OPERATOR(pg_catalog./) NULLIF(pg_catalog.count(*) FILTER (WHERE o.assigned_at IS NOT NULL), 0))::numeric(6, 2)
                   AS offers_per_assigned_order
          FROM @extschema@.orders o
          JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) o.zone_id
          -- each order's offers grouped by zone and order and joined on
          -- both (not a lateral subquery): a zone filter on the view
          -- reaches the offers too, here and on Citus (docs/citus.md)
          LEFT JOIN (SELECT x.zone_id, x.order_id, pg_catalog.count(*) AS offers FROM @extschema@.offers x
                      GROUP BY x.zone_id, x.order_id) f
            ON f.zone_id OPERATOR(pg_catalog.=) o.zone_id AND f.order_id OPERATOR(pg_catalog.=) o.order_id
         GROUP BY o.zone_id, pg_catalog.date_trunc('hour', o.created_at AT TIME ZONE z.timezone)) k
  LEFT JOIN @extschema@.rider_utilisation u ON u.zone_id OPERATOR(pg_catalog.=) k.zone_id AND u.hour OPERATOR(pg_catalog.=) k.hour;
COMMENT ON VIEW @extschema@.dispatch_kpis IS
	'Per zone and local hour of ordering: orders paid, delivered, cancelled; median and 90th percentile click-to-door (placed to delivered); on-time share of delivered orders (by promised_at); median time from assignment to pickup; median time the food waited for its rider (pickup after ready); offers per assigned order; rider utilisation of the hour (rider_utilisation).';

-- Anomalies: per zone and local hour of the last 7 days, six kinds of
-- trouble, each a count k out of a base n, against the same hour of the
-- four weeks before (K out of N; local time, so a change of daylight
-- saving keeps the hour).  Each kind is counted in the hour of its base
-- event, so that k is a part of n (and K of N): the rate is a share in
-- [0, 1].  A kind is flagged when k >= 3 and its binomial z-score against
-- the baseline rate p = (K + 1) / (N + 2) is at least 3:
-- (k - n p) / sqrt(n p (1 - p)) >= 3.
--   payment_failed   of the payments settled in the hour, those that failed
--   cancelled        of the orders created in the hour, those cancelled since
--   rejected         of the offers answered in the hour, those rejected
--   released         of the offers accepted in the hour, those whose rider
--                    released the order since (release_order)
--   late             of the deliveries in the hour, those after promised_at
--   refunded         of the orders cancelled in the hour, those refunded
-- A count of this hour still grows as its orders are cancelled or released
-- later.  p stays below 1 and the rates are plain numeric even if a count
-- ever exceeded its base, so that no row can make the view fail.
CREATE FUNCTION @extschema@._order_anomalies()
RETURNS TABLE (zone_id bigint, hour timestamp, kind text, count bigint, base bigint, rate numeric,
               baseline_count bigint, baseline_base bigint, baseline_rate numeric, z_score numeric,
               flagged boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.order_anomalies;
END
$$;
COMMENT ON FUNCTION @extschema@._order_anomalies() IS
	'Internal (order_anomalies): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';

CREATE VIEW @extschema@.order_anomalies AS
WITH span AS (
	SELECT @extschema@.clock() OPERATOR(pg_catalog.-) interval '36 days' AS since),
facts AS (
	SELECT o.zone_id, o.created_at AS at, 'orders' AS what FROM @extschema@.orders o, span
	 WHERE o.created_at OPERATOR(pg_catalog.>=) span.since
	UNION ALL
	SELECT o.zone_id, o.created_at, 'cancelled' FROM @extschema@.orders o, span
	 WHERE o.created_at OPERATOR(pg_catalog.>=) span.since AND o.cancelled_at IS NOT NULL
	UNION ALL
	SELECT o.zone_id, o.cancelled_at, 'cancellations' FROM @extschema@.orders o, span
	 WHERE o.cancelled_at OPERATOR(pg_catalog.>=) span.since
	UNION ALL
	SELECT o.zone_id, o.delivered_at, CASE WHEN o.delivered_at OPERATOR(pg_catalog.>) o.promised_at THEN 'late' ELSE 'on_time' END
	  FROM @extschema@.orders o, span
	 WHERE o.delivered_at OPERATOR(pg_catalog.>=) span.since
	UNION ALL
	SELECT p.zone_id, p.settled_at, CASE WHEN p.status OPERATOR(pg_catalog.=) 'failed' THEN 'payment_failed' ELSE 'payment_ok' END
	  FROM @extschema@.payments p, span
	 WHERE p.settled_at OPERATOR(pg_catalog.>=) span.since AND p.status IN ('failed', 'succeeded')
	UNION ALL
	SELECT f.zone_id, f.responded_at, CASE WHEN f.status OPERATOR(pg_catalog.=) 'rejected' THEN 'rejected' ELSE 'accepted' END
	  FROM @extschema@.offers f, span
	 WHERE f.responded_at OPERATOR(pg_catalog.>=) span.since AND f.status IN ('accepted', 'rejected', 'released')
	UNION ALL
	SELECT f.zone_id, f.responded_at, 'released'
	  FROM @extschema@.offers f
	  JOIN @extschema@.offer_exclusions x ON x.zone_id OPERATOR(pg_catalog.=) f.zone_id
	                                     AND x.order_id OPERATOR(pg_catalog.=) f.order_id
	                                     AND x.rider_id OPERATOR(pg_catalog.=) f.rider_id, span
	 WHERE f.responded_at OPERATOR(pg_catalog.>=) span.since AND f.status OPERATOR(pg_catalog.=) 'released'
	   AND x.reason OPERATOR(pg_catalog.=) 'released'
	UNION ALL
	-- an order once, however many of its payments were refunded
	SELECT o.zone_id, o.cancelled_at, 'refunded'
	  FROM @extschema@.orders o
	  JOIN (SELECT r.zone_id, r.order_id FROM @extschema@.refunds r GROUP BY r.zone_id, r.order_id) r
	    ON r.zone_id OPERATOR(pg_catalog.=) o.zone_id AND r.order_id OPERATOR(pg_catalog.=) o.order_id, span
	 WHERE o.cancelled_at OPERATOR(pg_catalog.>=) span.since),
hourly AS (
	SELECT f.zone_id, pg_catalog.date_trunc('hour', f.at AT TIME ZONE z.timezone) AS hour,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'orders') AS orders,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'payment_failed') AS payment_failed,
	       pg_catalog.count(*) FILTER (WHERE f.what IN ('payment_failed', 'payment_ok')) AS payments,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'cancelled') AS cancelled,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'cancellations') AS cancellations,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'rejected') AS rejected,
	       pg_catalog.count(*) FILTER (WHERE f.what IN ('rejected', 'accepted')) AS answered,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'released') AS released,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'accepted') AS accepted,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'late') AS late,
	       pg_catalog.count(*) FILTER (WHERE f.what IN ('late', 'on_time')) AS delivered,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'refunded') AS refunded
	  FROM facts f
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) f.zone_id
	 GROUP BY f.zone_id, pg_catalog.date_trunc('hour', f.at AT TIME ZONE z.timezone)),
-- the same hour of the four weeks before: in each zone the hours of one
-- hour of the week (local time, so 7 days apart exactly), 28 to 7 days back
-- (a window by zone, not a lateral subquery: a zone filter on the view
-- reaches the tables under it, here and on Citus, docs/citus.md)
baseline AS (
	SELECT h.*,
	       pg_catalog.sum(h.payment_failed) OVER w AS b_payment_failed, pg_catalog.sum(h.payments) OVER w AS b_payments,
	       pg_catalog.sum(h.cancelled) OVER w AS b_cancelled, pg_catalog.sum(h.orders) OVER w AS b_orders,
	       pg_catalog.sum(h.rejected) OVER w AS b_rejected, pg_catalog.sum(h.answered) OVER w AS b_answered,
	       pg_catalog.sum(h.released) OVER w AS b_released, pg_catalog.sum(h.accepted) OVER w AS b_accepted,
	       pg_catalog.sum(h.late) OVER w AS b_late, pg_catalog.sum(h.delivered) OVER w AS b_delivered,
	       pg_catalog.sum(h.refunded) OVER w AS b_refunded, pg_catalog.sum(h.cancellations) OVER w AS b_cancellations
	  FROM hourly h
	WINDOW w AS (PARTITION BY h.zone_id, h.hour OPERATOR(pg_catalog.-) pg_catalog.date_trunc('week', h.hour)
	             ORDER BY h.hour RANGE BETWEEN interval '28 days' PRECEDING AND interval '7 days' PRECEDING)),
kinds AS (
	SELECT c.zone_id, c.hour, k.kind, k.k, k.n, COALESCE(k.bk, 0) AS bk, COALESCE(k.bn, 0) AS bn
	  FROM baseline c
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) c.zone_id
	 CROSS JOIN LATERAL (VALUES ('payment_failed', c.payment_failed, c.payments, c.b_payment_failed, c.b_payments),
	                            ('cancelled', c.cancelled, c.orders, c.b_cancelled, c.b_orders),
	                            ('rejected', c.rejected, c.answered, c.b_rejected, c.b_answered),
	                            ('released', c.released, c.accepted, c.b_released, c.b_accepted),
	                            ('late', c.late, c.delivered, c.b_late, c.b_delivered),
	                            ('refunded', c.refunded, c.cancellations, c.b_refunded, c.b_cancellations)) k(kind, k, n, bk, bn)
	 WHERE c.hour OPERATOR(pg_catalog.>=) pg_catalog.date_trunc('hour', (@extschema@.clock() AT TIME ZONE z.timezone)
	                                                              OPERATOR(pg_catalog.-) interval '7 days')),
scored AS (
	SELECT k.zone_id, k.hour, k.kind, k.k, k.n, k.bk, k.bn,
	       LEAST(k.bk OPERATOR(pg_catalog.+) 1, k.bn OPERATOR(pg_catalog.+) 1)::float8
	       OPERATOR(pg_catalog./) (k.bn OPERATOR(pg_catalog.+) 2)::float8 AS p
	  FROM kinds k),
spread AS (
	SELECT s.*,
	       pg_catalog.sqrt((s.n::float8 OPERATOR(pg_catalog.*) s.p) OPERATOR(pg_catalog.*) (1 OPERATOR(pg_catalog.-) s.p)) AS sd
	  FROM scored s)
SELECT s.zone_id, s.hour, s.kind,
       s.k AS count, s.n AS base,
       pg_catalog.round(s.k::numeric OPERATOR(pg_catalog./) NULLIF(s.n, 0), 4) AS rate,
       s.bk::bigint AS baseline_count, s.bn::bigint AS baseline_base,
       pg_catalog.round(s.bk::numeric OPERATOR(pg_catalog./) NULLIF(s.bn, 0), 4) AS baseline_rate,
       pg_catalog.round(((s.k::float8 OPERATOR(pg_catalog.-) (s.n::float8 OPERATOR(pg_catalog.*) s.p))
                         OPERATOR(pg_catalog./) NULLIF(s.sd, 0))::numeric, 2) AS z_score,
       (s.k OPERATOR(pg_catalog.>=) 3 AND s.sd OPERATOR(pg_catalog.>) 0
        AND (s.k::float8 OPERATOR(pg_catalog.-) (s.n::float8 OPERATOR(pg_catalog.*) s.p))
            OPERATOR(pg_catalog.>=) (3 OPERATOR(pg_catalog.*) s.sd))
           AS flagged
  FROM spread s;
COMMENT ON VIEW @extschema@.order_anomalies IS
	'Per zone, local hour of the last 7 days and kind of trouble, each counted in the hour of its base event so that the count is a part of its base: payment_failed (of the payments settled in the hour, those failed), cancelled (of the orders created in the hour, those cancelled), rejected (of the offers answered, those rejected), released (of the offers accepted, those released), late (of the deliveries, those after the promise), refunded (of the orders cancelled, those refunded).  The count, its base, the rate, the same over the same hour of the four weeks before, the binomial z-score against that baseline, and flagged when the count is at least 3 and the z-score at least 3.  Counts only.';

-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON FUNCTION @extschema@.stuck_after(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.stuck_after(text) TO dispatch_app, dispatch_analyst, dispatch_admin;
REVOKE ALL ON @extschema@.stuck_orders, @extschema@.dispatch_kpis, @extschema@.rider_utilisation,
              @extschema@.order_anomalies FROM PUBLIC;
GRANT SELECT ON @extschema@.stuck_orders, @extschema@.dispatch_kpis, @extschema@.rider_utilisation,
                @extschema@.order_anomalies TO dispatch_analyst, dispatch_admin;
-- on Citus the views' readers call their functions (PostgreSQL checks a
-- function in a view against the querying role)
REVOKE ALL ON FUNCTION @extschema@._stuck_orders() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._stuck_orders() TO dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._rider_utilisation() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._rider_utilisation() TO dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._dispatch_kpis() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._dispatch_kpis() TO dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._order_anomalies() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._order_anomalies() TO dispatch_analyst, dispatch_admin;
