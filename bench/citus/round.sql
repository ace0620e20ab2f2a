-- bench/citus/round.sql: a batch round's work for the zones :'zones' (an
-- array), made ready: :per fresh riders online and :per accepted orders per
-- zone
SET client_min_messages = warning;
-- (phone numbers: unique, as the riders registered so far are counted)
SELECT count(dispatch.rider_online(dispatch.register_rider(z, 'r',
              '+86137' || lpad((z * 100000 + b.base + i)::text, 8, '0'), 3),
              100.05 + z * 0.2 + i / 10000.0, 30.049))
  FROM unnest(:'zones'::bigint[]) z, generate_series(1, :per) i,
       (SELECT count(*) AS base FROM dispatch.rider_zones) b;
SELECT count(dispatch.merchant_accept(p.o))
  FROM (SELECT c.o, dispatch.confirm_payment(c.o, 'psp-' || c.o)
          FROM (SELECT dispatch.place_order(1 + (z * 37 + i) % :ncust, z,
                         jsonb_build_array(jsonb_build_object('item_id', z, 'qty', 1)),
                         100.05 + z * 0.2 + i / 10000.0, 30.06, 'addr', 'normal') AS o
                  FROM unnest(:'zones'::bigint[]) z, generate_series(1, :per) i) c) p;
