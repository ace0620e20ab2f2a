-- tools/city/report.sql: what the day looked like.
\pset footer off
\echo
\echo '== Orders'
SELECT count(*) AS orders,
       count(*) FILTER (WHERE status = 'delivered') AS delivered,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE status NOT IN ('delivered', 'cancelled')) AS still_open,
       round(100.0 * count(*) FILTER (WHERE status = 'delivered' AND delivered_at <= promised_at)
             / nullif(count(*) FILTER (WHERE status = 'delivered'), 0), 1) AS on_time_pct,
       round(extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY delivered_at - created_at)) / 60, 1) AS median_click_to_door_min,
       round(extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY assigned_at - accepted_at)) / 60, 1) AS median_wait_for_rider_min
  FROM dispatch.orders;
SELECT status AS open_status, count(*) FROM dispatch.orders WHERE status NOT IN ('delivered', 'cancelled') GROUP BY 1 ORDER BY 1;
SELECT sum(placed) AS orders_placed, sum(refused) AS refused_at_intake FROM city.stats;
\echo '== Dispatch'
SELECT count(*) AS batches, sum(offers) AS offers, sum(accepted) AS accepted, sum(rejected) AS rejected,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY batch_ms)::numeric, 1) AS median_batch_ms,
       round(max(batch_ms)::numeric, 1) AS max_batch_ms
  FROM city.stats;
SELECT round(avg(pickup_m)) AS mean_pickup_distance_m,
       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY pickup_m))::numeric) AS p90_pickup_distance_m
  FROM city.assign;
\echo '== Fairness: deliveries per rider'
SELECT count(*) AS riders, min(n) AS min, round(avg(n), 2) AS mean, max(n) AS max,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY n))::numeric, 1) AS median
  FROM (SELECT r.rider_id, count(o.order_id) AS n FROM dispatch.riders r
          LEFT JOIN dispatch.orders o ON o.zone_id = r.zone_id AND o.rider_id = r.rider_id AND o.status = 'delivered'
         GROUP BY r.rider_id) s;
\echo '== Events in the outbox'
SELECT kind, count(*) FROM dispatch.events GROUP BY kind ORDER BY kind;
