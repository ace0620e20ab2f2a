-- bench/tracking/sync_plain.sql (pgbench): the same :npings pings of one
-- rider, one update_rider_location call each, in one transaction: the
-- baseline of sync_batch.sql.
\set rider random(1, :nriders)
SELECT count(dispatch.update_rider_location(:rider, 121.40 + random() * 0.08, 31.15 + random() * 0.07,
                                            now() - make_interval(secs => :npings - i)))
  FROM generate_series(1, :npings) i;
