-- bench/citus/batches.sql: one batch per zone of :'zones' (an array), one
-- after the other, each a call of its own (so that, distributed, it is sent
-- whole to its zone's worker); prints the offers of each
SELECT format('SELECT count(*) FROM dispatch.assign_batch(%s)', z) FROM unnest(:'zones'::bigint[]) z \gexec
