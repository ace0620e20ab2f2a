-- bench/growth/rollup_day.sql: a day of new orders through the state machine
-- (each writes its events), and cancellations of :ncancel orders placed
-- before (late events on older days).
SET client_min_messages = warning;
SET dispatch.fraud_max_bad_orders = 1000;
INSERT INTO dispatch.orders (zone_id, order_id, kind, customer_id, merchant_id, status, priority, pickup, dropoff,
                             distance_m, subtotal_cents, fee_cents, total_cents, promised_at, created_at, status_changed_at)
SELECT 1 + (g % 4), dispatch.zone_scoped_id(1 + (g % 4), nextval('dispatch.orders_id_seq')), 'takeaway',
       1 + ((g::bigint * 104729) % :ncust), 1 + (g % 4), 'pending_payment', 'normal',
       dispatch._point(121.145, 31.045), dispatch._point(121.15, 31.05), 700, 3000, 0, 3000,
       now() + interval '30 minutes', now() - (g::float8 / :nday) * interval '1 day', now()
  FROM generate_series(1, :nday) g;
UPDATE dispatch.orders SET status = 'placed'
 WHERE status = 'pending_payment';
UPDATE dispatch.orders SET status = 'cancelled', cancel_reason = 'bench'
 WHERE (zone_id, order_id) IN (SELECT zone_id, order_id FROM dispatch.orders WHERE status = 'placed'
                                AND created_at < now() - interval '1 day' LIMIT :ncancel);
