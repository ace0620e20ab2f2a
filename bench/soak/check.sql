-- bench/soak/check.sql: the invariants, one line each: name|violations|of how many
SELECT 'rider over capacity', count(*) FILTER (WHERE held > capacity), count(*)
  FROM (SELECT r.rider_id, r.capacity, count(o.order_id) AS held
          FROM dispatch.riders r
          LEFT JOIN dispatch.orders o ON o.zone_id = r.zone_id AND o.rider_id = r.rider_id
                                     AND o.status IN ('assigned', 'picked_up')
         GROUP BY 1, 2) x;
-- offers of one order: at most one pending now, and every offer but the
-- newest closed (answered, expired, cancelled or released) before the next
-- was made.  (Offer times are their transactions' start times, so a batch
-- that began before a rejection committed may stamp the next offer a
-- moment before the rejection: the times cannot order them, the ids can.)
SELECT 'order offered twice at once',
       (SELECT count(*) FROM (SELECT 1 FROM dispatch.offers WHERE status = 'pending'
                               GROUP BY zone_id, order_id HAVING count(*) > 1) p)
       + count(*) FILTER (WHERE status = 'pending' AND newer),
       count(*)
  FROM (SELECT o.status, o.offer_id < max(o.offer_id) OVER (PARTITION BY o.zone_id, o.order_id) AS newer
          FROM dispatch.offers o) x;
SELECT 'stock below zero', count(*) FILTER (WHERE stock < 0), count(*)
  FROM dispatch.item_stock;
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
