-- bench/citus/intake.sql: one order placed, paid and accepted in a random
-- zone of the first :nzones (zone z has merchant z and item z), each call
-- its own transaction, as the app, the payment service and the merchant
-- make them
\set c random(1, :ncust)
\set z random(1, :nzones)
\set dx random(0, 20000)
SELECT dispatch.place_order(:c, :z, jsonb_build_array(jsonb_build_object('item_id', :z, 'qty', 1)),
       100.04 + :z * 0.2 + :dx / 1000000.0, 30.06, 'Room 1201', 'normal') AS o \gset
SELECT dispatch.confirm_payment(:o, 'psp-' || :o);
SELECT dispatch.merchant_accept(:o);
