-- test/upgrade/before.sql: a small city served by a released version, through
-- that version's API only, before ALTER EXTENSION dispatch UPDATE: orders in
-- every status, a dispatch batch with offers, a delivered order with
-- feedback, consents, and operator settings.  What it wrote is remembered
-- in public.upgrade_expect for test/upgrade/after.sql.
SET client_min_messages = warning;
SET dispatch.clock_override = '2026-03-02 12:00:00+00';
SET dispatch.fraud_max_bad_orders = 1000;

SELECT dispatch.create_zone('U', ST_MakeEnvelope(121.40, 31.15, 121.48, 31.22, 4326), 'Asia/Shanghai');
SELECT dispatch.create_merchant(1, 'Noodles', 121.437, 31.188, 12);
SELECT dispatch.add_item(1, 'beef noodles', 2800, 100);
SELECT dispatch.add_item(1, 'tea', 800);
SELECT dispatch.register_customer(format('+861380000%04s', i), format('Upgrade Customer %s', i)) FROM generate_series(1, 8) i;
SELECT dispatch.register_rider(1, format('Rider %s', i), format('+861390000%04s', i), 2) FROM generate_series(1, 3) i;
SELECT dispatch.rider_online(i, 121.43 + i * 0.001, 31.19) FROM generate_series(1, 3) i;

-- one order per status, customer i
CREATE TEMP TABLE o AS
SELECT i, dispatch.place_order(i, 1, '[{"item_id": 1, "qty": 1}, {"item_id": 2, "qty": 2}]', 121.445, 31.196,
                               format('Upgrade Road %s', i), 'hot') AS id
  FROM generate_series(1, 8) i;
SELECT dispatch.fail_payment(id, 'declined') FROM o WHERE i = 2;
SELECT dispatch.cancel_order(id, 'changed mind') FROM o WHERE i = 3;
SELECT dispatch.confirm_payment(id, 'psp-' || i) FROM o WHERE i >= 4;
SELECT dispatch.merchant_accept(id) FROM o WHERE i >= 5;
SELECT dispatch.assign_manually(id, 1, 'ops') FROM o WHERE i IN (6, 7);
SELECT dispatch.assign_manually(id, 2, 'ops') FROM o WHERE i = 8;
SELECT dispatch.mark_picked_up(id, 1) FROM o WHERE i = 7;
SELECT dispatch.mark_picked_up(id, 2) FROM o WHERE i = 8;
SELECT dispatch.mark_delivered(id, 2) FROM o WHERE i = 8;
SELECT dispatch.submit_feedback(id, 2, '送餐太慢了，面都凉了', 'app') FROM o WHERE i = 8;
-- an accepted order left for a batch, offered to rider 3
SELECT dispatch.place_order(1, 1, '[{"item_id": 2, "qty": 1}]', 121.44, 31.19, 'Upgrade Road 9');
SELECT dispatch.confirm_payment(max(order_id), 'psp-9') FROM dispatch.orders;
SELECT dispatch.merchant_accept(max(order_id)) FROM dispatch.orders;
SELECT count(*) FROM dispatch.assign_batch(1);

SELECT dispatch.grant_consent(1, 'marketing', 'v1');
SELECT dispatch.grant_consent(2, 'analytics', 'v1');

-- the operator's configuration
SELECT dispatch.set_retention_policy('rider_tracks', '14 days');
INSERT INTO dispatch.matching_settings (zone_id, k_candidates, hold_cost) VALUES (1, 20, 1500);
UPDATE dispatch.matching_settings SET offer_ttl_s = 60 WHERE zone_id = 0;
UPDATE dispatch.vehicle_profiles SET max_trip_m = 9000 WHERE vehicle = 'bicycle';

-- the sentiment model: a score of the shipped model (read from tables by
-- 0.1.0, compiled in by later versions), then the operator's own word and
-- learned weights, and a score with them
CREATE TABLE public.upgrade_sentiment (what text PRIMARY KEY, score real);
INSERT INTO public.upgrade_sentiment
SELECT 'shipped', dispatch.sentiment('送餐很快，饭菜还是热乎的，好吃！但是有点咸 the rider was rude, not great');
INSERT INTO dispatch.sentiment_lexicon (term, weight, note) VALUES ('嘎嘣脆', 3, 'upgrade test');
INSERT INTO dispatch.sentiment_weights (feature, weight) VALUES ('好吃', 1.5), ('#好吃', 0.5), ('!好吃', -1);
INSERT INTO public.upgrade_sentiment
SELECT 'operator', dispatch.sentiment('嘎嘣脆，好吃，不好吃');

CREATE TABLE public.upgrade_expect AS
SELECT (SELECT count(*) FROM dispatch.orders) AS orders,
       (SELECT array_agg(status ORDER BY order_id) FROM dispatch.orders) AS statuses,
       (SELECT count(*) FROM dispatch.order_items) AS lines,
       (SELECT count(*) FROM dispatch.payments) AS payments,
       (SELECT count(*) FROM dispatch.events) AS events,
       (SELECT count(*) FROM dispatch.offers) AS offers,
       (SELECT count(*) FROM dispatch.feedback) AS feedback,
       (SELECT count(*) FROM dispatch.consents) AS consents,
       (SELECT count(*) FROM dispatch.subject_keys) AS subject_keys,
       -- the counted stock of 0.1.0 (a column of items; read so that the
       -- file also runs on a later version, as test/tap/dump_restore.t does)
       (SELECT string_agg(i.item_id || ':' || m.zone_id || ':' || (pg_catalog.to_jsonb(i) ->> 'stock'), ',' ORDER BY i.item_id)
          FROM dispatch.items i JOIN dispatch.merchants m USING (merchant_id)
         WHERE pg_catalog.to_jsonb(i) ->> 'stock' IS NOT NULL) AS stock;
