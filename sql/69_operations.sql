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
		WHEN 'assigned'        THEN interval '30 minutes'   -- the rider has not picked it up
		WHEN 'picked_up'       THEN interval '60 minutes'   -- on the way for an hour
	END;
END
$$;
COMMENT ON FUNCTION @extschema@.stuck_after(text) IS
	'How long an order may stay in a status before stuck_orders lists it (accepted: counted from when the food is ready); NULL for delivered and cancelled.';

CREATE VIEW @extschema@.stuck_orders AS
SELECT o.zone_id, o.order_id, o.kind, o.status, o.rider_id, o.merchant_id,
       o.status_changed_at AS since,
       CASE WHEN o.status OPERATOR(pg_catalog.=) 'accepted'
            THEN GREATEST(o.status_changed_at, COALESCE(o.ready_at, o.status_changed_at))
            ELSE o.status_changed_at END
         OPERATOR(pg_catalog.+) @extschema@.stuck_after(o.status) AS due,
       @extschema@.clock() OPERATOR(pg_catalog.-)
         (CASE WHEN o.status OPERATOR(pg_catalog.=) 'accepted'
               THEN GREATEST(o.status_changed_at, COALESCE(o.ready_at, o.status_changed_at))
               ELSE o.status_changed_at END
          OPERATOR(pg_catalog.+) @extschema@.stuck_after(o.status)) AS overdue_by
  FROM @extschema@.zones z
 CROSS JOIN LATERAL (SELECT o.zone_id, o.order_id, o.kind, o.status, o.rider_id, o.merchant_id,
                            o.status_changed_at, o.ready_at
                       FROM @extschema@.orders o
                      WHERE o.zone_id OPERATOR(pg_catalog.=) z.zone_id
                        AND o.status IN ('pending_payment', 'payment_failed', 'placed', 'accepted', 'assigned', 'picked_up')
                     OFFSET 0) o
 WHERE @extschema@.clock() OPERATOR(pg_catalog.>)
       (CASE WHEN o.status OPERATOR(pg_catalog.=) 'accepted'
             THEN GREATEST(o.status_changed_at, COALESCE(o.ready_at, o.status_changed_at))
             ELSE o.status_changed_at END
        OPERATOR(pg_catalog.+) @extschema@.stuck_after(o.status));
COMMENT ON VIEW @extschema@.stuck_orders IS
	'Orders in a status longer than stuck_after(status) allows, now (clock()): when the status began, when it was due to end, and by how much it is overdue.  Ids and times only.';

CREATE VIEW @extschema@.dispatch_kpis AS
SELECT o.zone_id,
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
       (pg_catalog.sum(f.offers)::numeric OPERATOR(pg_catalog./) NULLIF(pg_catalog.count(*) FILTER (WHERE o.assigned_at IS NOT NULL), 0))::numeric(6, 2)
           AS offers_per_assigned_order
  FROM @extschema@.orders o
  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) o.zone_id
  LEFT JOIN LATERAL (SELECT pg_catalog.count(*) AS offers FROM @extschema@.offers x
                      WHERE x.zone_id OPERATOR(pg_catalog.=) o.zone_id AND x.order_id OPERATOR(pg_catalog.=) o.order_id) f ON true
 GROUP BY o.zone_id, pg_catalog.date_trunc('hour', o.created_at AT TIME ZONE z.timezone);
COMMENT ON VIEW @extschema@.dispatch_kpis IS
	'Per zone and local hour of ordering: orders paid, delivered, cancelled; median and 90th percentile click-to-door (placed to delivered); on-time share of delivered orders (by promised_at); median time from assignment to pickup; median time the food waited for its rider (pickup after ready); offers per assigned order.';

-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON FUNCTION @extschema@.stuck_after(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.stuck_after(text) TO dispatch_app, dispatch_analyst, dispatch_admin;
REVOKE ALL ON @extschema@.stuck_orders, @extschema@.dispatch_kpis FROM PUBLIC;
GRANT SELECT ON @extschema@.stuck_orders, @extschema@.dispatch_kpis TO dispatch_analyst, dispatch_admin;
