-- test/pgtap/45_event_limit.sql: one transaction writes at most 2^20 events
-- (DP103, src/events.c): the event's seq keeps the ordinal within its
-- transaction in 20 bits.  The 2^20 events are written for real, with
-- dispatch.notify off (about 6 s on a 2-core machine); the 2^20 + 1st, and
-- an order's status change that would need one more event, are refused
-- with DP103.  Its own file: the ordinal counts the whole transaction.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(5);
SET LOCAL dispatch.notify = off;

-- the order's own event is the transaction's first (ordinal 0)
SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
                            121.445, 31.196, 'Limit Road 1') AS o \gset
SELECT count(*) AS before FROM dispatch.events \gset
SELECT (max(seq) & 1048575) AS first_ordinal FROM dispatch.events WHERE order_id = :o \gset

-- the events go to the order's zone, so that on Citus they are counted by
-- the same worker's transaction as the order's; there the outbox's shards
-- number the rows they receive (events_shard_seq), and the events are
-- written in one INSERT, sent to the worker in one piece, instead of 2^20
-- calls of one round trip each (minutes)
SELECT EXISTS (SELECT FROM pg_trigger WHERE tgname = 'events_shard_seq'
                                        AND tgrelid = 'dispatch.events'::regclass) AS on_citus \gset
\if :on_citus
SELECT lives_ok(format($$ INSERT INTO dispatch.events (zone_id, seq, at, kind)
                          SELECT %s, 0, now(), 'limit_test' FROM generate_series(1, 1048575 - %s) $$, :zone, :first_ordinal),
                '2^20 events in one transaction are written');
\else
SELECT lives_ok(format($$ SELECT count(dispatch._emit_event(%s, 'limit_test', NULL, NULL, NULL, NULL))
                            FROM generate_series(1, 1048575 - %s) $$, :zone, :first_ordinal),
                '2^20 events in one transaction are written');
\endif
SELECT is((SELECT count(*) FROM dispatch.events), (:before + 1048575 - :first_ordinal)::bigint,
          'every one of them is in the outbox');
SELECT is((SELECT max(seq) & 1048575 FROM dispatch.events), 1048575::bigint,
          'the last one has the highest ordinal, 2^20 - 1');
SELECT throws_ok(format($$ SELECT dispatch._emit_event(%s, 'limit_test', NULL, NULL, NULL, NULL) $$, :zone), 'DP103',
                 'too many events in one transaction', 'the 2^20 + 1st event is refused with DP103');
SELECT throws_ok(format('SELECT dispatch.confirm_payment(%s, %L)', :o, 'psp-limit'), 'DP103', NULL,
                 'a status change that needs one more event is refused with DP103');

SELECT * FROM finish();
ROLLBACK;
