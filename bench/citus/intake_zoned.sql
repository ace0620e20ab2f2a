-- bench/citus/intake_zoned.sql: intake.sql with the order naming its
-- merchant's zone (place_order_in_zone: sent whole to the zone's worker
-- once distributed)
\set c random(1, :ncust)
\set z random(1, :nzones)
\set dx random(0, 20000)
SELECT dispatch.place_order_in_zone(:z, :c, :z, jsonb_build_array(jsonb_build_object('item_id', :z, 'qty', 1)),
       100.04 + :z * 0.2 + :dx / 1000000.0, 30.06, 'Room 1201', 'normal') AS o \gset
SELECT dispatch.confirm_payment(:o, 'psp-' || :o);
SELECT dispatch.merchant_accept(:o);
