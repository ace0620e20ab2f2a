-- bench/tracking/sync_batch.sql (pgbench): one rider app's offline batch of
-- :npings pings, a second apart, ending now, through sync_rider.  Ids are
-- unique per batch (a random 60-bit prefix).
\set rider random(1, :nriders)
\set u random(1, 1152921504606846975)
SELECT count(*) FROM dispatch.sync_rider(:rider,
       (SELECT jsonb_agg(jsonb_build_object('id', :u || '-' || i,
                                            'at', (extract(epoch FROM now()) * 1000)::bigint - (:npings - i) * 1000,
                                            'type', 'ping', 'lon', 121.40 + random() * 0.08, 'lat', 31.15 + random() * 0.07))
          FROM generate_series(1, :npings) i));
