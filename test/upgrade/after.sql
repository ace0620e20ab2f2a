-- test/upgrade/after.sql: after ALTER EXTENSION dispatch UPDATE of the city
-- of test/upgrade/before.sql.  Prints one "ok ..." line per check that
-- holds and something else for one that does not.
SET client_min_messages = warning;
SET dispatch.clock_override = '2026-03-02 12:05:00+00';
\pset tuples_only on
\pset format unaligned

SELECT CASE WHEN e.orders = (SELECT count(*) FROM dispatch.orders)
             AND e.statuses = (SELECT array_agg(status ORDER BY order_id) FROM dispatch.orders)
             AND e.lines = (SELECT count(*) FROM dispatch.order_items)
             AND e.payments = (SELECT count(*) FROM dispatch.payments)
             AND e.events <= (SELECT count(*) FROM dispatch.events)
             AND e.offers = (SELECT count(*) FROM dispatch.offers)
             AND e.feedback = (SELECT count(*) FROM dispatch.feedback)
             AND e.consents = (SELECT count(*) FROM dispatch.consents)
             AND e.subject_keys = (SELECT count(*) FROM dispatch.subject_keys)
            THEN 'ok every order, line, payment, event, offer, review, consent and key is kept'
            ELSE 'not ok rows were lost: ' || row_to_json(e)::text END
  FROM public.upgrade_expect e;

-- counted stock moved from the menu to the zone's counts, as it was
SELECT CASE WHEN e.stock IS NOT NULL
             AND e.stock = (SELECT string_agg(item_id || ':' || zone_id || ':' || stock, ',' ORDER BY item_id) FROM dispatch.item_stock)
            THEN 'ok every counted item''s stock is in item_stock, in its merchant''s zone'
            ELSE 'not ok the stock moved wrong: ' || coalesce(e.stock, '(none before)') END
  FROM public.upgrade_expect e;

SELECT CASE WHEN bool_and(dispatch.pii_open('customer', c.customer_id, c.name_enc, 'upgrade test')
                          = format('Upgrade Customer %s', c.customer_id))
            THEN 'ok sealed names still open' ELSE 'not ok sealed names do not open' END
  FROM dispatch.customers c;

SELECT CASE WHEN (SELECT keep FROM dispatch.retention_effective() WHERE data_class = 'rider_tracks') = '14 days'
            THEN 'ok the retention policy set before the update holds'
            ELSE 'not ok the retention policy was lost' END;

-- rows edited under the old version are the operator's (and dumped), the
-- rest as shipped
SELECT CASE WHEN (SELECT array_agg(format('%s:%s', zone_id, source) ORDER BY zone_id) FROM dispatch.matching_settings)
                 = '{0:operator,1:operator}'
             AND (SELECT array_agg(format('%s:%s', vehicle, source) ORDER BY vehicle) FROM dispatch.vehicle_profiles)
                 = '{bicycle:operator,car:default,ebike:default,foot:default,motorbike:default}'
            THEN 'ok settings edited before the update are the operator''s, the others as shipped'
            ELSE 'not ok the sources of matching_settings and vehicle_profiles are wrong' END;

-- the operator's sentiment rows are kept and used; without them, the
-- model compiled into the module scores as the tables of 0.1.0 did
SELECT CASE WHEN (SELECT array_agg(term || ':' || weight) FROM dispatch.sentiment_lexicon) = '{嘎嘣脆:3}'
             AND (SELECT array_agg(feature || ':' || weight ORDER BY feature COLLATE "C") FROM dispatch.sentiment_weights)
                 = '{!好吃:-1,#好吃:0.5,好吃:1.5}'
             AND dispatch.sentiment('嘎嘣脆，好吃，不好吃') = (SELECT score FROM public.upgrade_sentiment WHERE what = 'operator')
            THEN 'ok the operator''s sentiment words and learned weights are kept and used'
            ELSE 'not ok the operator''s sentiment rows were lost or are not used' END;
DELETE FROM dispatch.sentiment_lexicon;
DELETE FROM dispatch.sentiment_weights;
SELECT CASE WHEN dispatch.sentiment('送餐很快，饭菜还是热乎的，好吃！但是有点咸 the rider was rude, not great')
                 = (SELECT score FROM public.upgrade_sentiment WHERE what = 'shipped')
             AND to_regclass('dispatch.sentiment_weights_default') IS NULL
             AND to_regclass('dispatch.sentiment_lexicon_default') IS NULL
            THEN 'ok the default model is built in and scores as the shipped tables did'
            ELSE 'not ok the default sentiment model changed in the update' END;

-- the API of the new version works on old rows: the accepted order is
-- delivered through to feedback
SELECT CASE WHEN count(*) >= 0 THEN 'ok a dispatch batch runs' END FROM dispatch.assign_batch(1);
SELECT dispatch.cancel_order(order_id, 'upgrade test') FROM dispatch.orders WHERE status = 'placed' \g /dev/null
SELECT CASE WHEN count(*) = 0 THEN 'ok a placed order from before the update can be cancelled'
            ELSE 'not ok placed orders remain' END
  FROM dispatch.orders WHERE status = 'placed';
SELECT dispatch.mark_delivered(order_id, rider_id) FROM dispatch.orders WHERE status = 'picked_up' \g /dev/null
SELECT CASE WHEN count(*) = 0 THEN 'ok an order picked up before the update is delivered after it'
            ELSE 'not ok an order stays picked up' END
  FROM dispatch.orders WHERE status = 'picked_up';
SELECT CASE WHEN dispatch.place_order(4, 1, '[{"item_id": 1, "qty": 1}]', 121.445, 31.196, 'After Road') > 0
            THEN 'ok a new order is placed' END;

-- status versions: orders from before the update continue from the number
-- of their status events, so every order's versions count its status
-- events, and the events written since carry them
SELECT CASE WHEN bool_and(s.ok) AND sum(s.versioned) > 0
            THEN 'ok status versions continue each order''s history across the update'
            ELSE 'not ok status versions do not continue the orders'' history' END
  FROM (SELECT o.status_version = count(*)
               AND bool_and(e.payload->'version' IS NULL OR (e.payload->>'version')::int = e.n) AS ok,
               count(e.payload->'version') AS versioned
          FROM dispatch.orders o
          JOIN (SELECT ev.zone_id, ev.order_id, ev.payload,
                       row_number() OVER (PARTITION BY ev.zone_id, ev.order_id ORDER BY ev.seq) AS n
                  FROM dispatch.events ev WHERE ev.kind = 'order_status') e
            ON e.zone_id = o.zone_id AND e.order_id = o.order_id
         GROUP BY o.zone_id, o.order_id, o.status_version) s;
