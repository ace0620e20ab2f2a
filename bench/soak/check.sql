-- bench/soak/check.sql: the invariants, one line each: name|violations|of how many
SELECT 'rider over capacity', count(*) FILTER (WHERE held > capacity), count(*)
  FROM (SELECT r.rider_id, r.capacity, count(o.order_id) AS held
          FROM dispatch.riders r
          LEFT JOIN dispatch.orders o ON o.zone_id = r.zone_id AND o.rider_id = r.rider_id
                                     AND o.status IN ('assigned', 'picked_up')
         GROUP BY 1, 2) x;
SELECT 'order offered twice at once', count(*), (SELECT count(*) FROM dispatch.offers)
  FROM dispatch.offers a
  JOIN dispatch.offers b ON b.zone_id = a.zone_id AND b.order_id = a.order_id AND b.offer_id > a.offer_id
 WHERE b.created_at < coalesce(a.responded_at, a.expires_at)
   AND a.created_at < coalesce(b.responded_at, b.expires_at)
   AND (a.status = 'pending' OR b.status = 'pending' OR a.responded_at IS NOT NULL AND b.responded_at IS NOT NULL);
SELECT 'stock below zero', count(*) FILTER (WHERE stock < 0), count(*) FILTER (WHERE stock IS NOT NULL)
  FROM dispatch.items;
-- each order's status events: versions 1..n, each one's prev the status
-- before it, the last one the order's status
WITH ev AS (
	SELECT e.order_id, (e.payload->>'version')::int AS v, e.payload->>'status' AS status,
	       e.payload->>'prev' AS prev,
	       lag(e.payload->>'status') OVER w AS before, row_number() OVER w AS k
	  FROM dispatch.events e
	 WHERE e.kind = 'order_status'
	WINDOW w AS (PARTITION BY e.order_id ORDER BY (e.payload->>'version')::int))
SELECT 'event chain broken', count(*) FILTER (WHERE bad), count(*)
  FROM (SELECT o.order_id,
               bool_or(ev.v <> ev.k OR ev.prev IS DISTINCT FROM ev.before)
               OR max(ev.v) <> o.status_version
               OR (array_agg(ev.status ORDER BY ev.v DESC))[1] <> o.status
               OR count(ev.v) = 0 AS bad
          FROM dispatch.orders o LEFT JOIN ev ON ev.order_id = o.order_id
         GROUP BY o.order_id, o.status_version, o.status) x;
