-- bench/citus/ping.sql: a rider's position ping (a call naming only the rider)
\set r random(1, :nriders)
SELECT dispatch.update_rider_location(:r, 100.25 + random() / 100, 30.05);
