-- test/pgtap/66_fraud_server_side.sql: the automatic flag of flush_refusals
-- (sql/47_fraud.sql) counts refusals of the customer's own doing only.  An
-- intake refused by the outbox (class DP1: on Citus a zone whose shards
-- moved to a worker not prepared, DP108; after a restore before
-- after_restore(), DP109) is refused whoever the customer is, as a key file
-- unreadable (DP4xx) is: every customer who retries would be flagged.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(4);
SET LOCAL dispatch.clock_override = '2031-03-04 12:00:00+00';
SET LOCAL dispatch.fraud_max_refusals = 3;
SET LOCAL dispatch.fraud_refusal_window_minutes = 60;
SELECT dispatch.register_customer('+8613811120001') AS hana \gset
SELECT dispatch.register_customer('+8613811120002') AS ivan \gset
SELECT dispatch.register_customer('+8613811120003') AS june \gset

-- hana: three orders refused because the zone's new events would be
-- numbered below its last one (DP108), ivan: three before after_restore()
-- (DP109), as the flush of the worker that refused them copies them
INSERT INTO dispatch.intake_refusals (zone_id, epoch, seq, at, customer_id, sqlstate, reason, flushed_at)
SELECT :zone, '2031-03-04 00:00:00+00', g, '2031-03-04 11:59:00+00', :hana, 'DP108', 'event_order', '2031-03-04 11:59:30+00'
  FROM generate_series(1, 3) g;
INSERT INTO dispatch.intake_refusals (zone_id, epoch, seq, at, customer_id, sqlstate, reason, flushed_at)
SELECT :zone, '2031-03-04 00:00:00+00', 10 + g, '2031-03-04 11:59:00+00', :ivan, 'DP109', 'outbox_ahead', '2031-03-04 11:59:30+00'
  FROM generate_series(1, 3) g;
-- june: three of her own doing (an empty item list), the control
INSERT INTO dispatch.intake_refusals (zone_id, epoch, seq, at, customer_id, sqlstate, reason, flushed_at)
SELECT :zone, '2031-03-04 00:00:00+00', 20 + g, '2031-03-04 11:59:00+00', :june, 'DP007', 'bad_item_list', '2031-03-04 11:59:30+00'
  FROM generate_series(1, 3) g;

SELECT dispatch.flush_refusals() \g /dev/null
SELECT is((SELECT flagged FROM dispatch.customers WHERE customer_id = :june), true,
          'june, refused three times for her own doing, is flagged');
SELECT is((SELECT flagged FROM dispatch.customers WHERE customer_id = :hana), false,
          'hana is not: the outbox of a zone moved to a worker not prepared (DP108) is not her doing');
SELECT is((SELECT flagged FROM dispatch.customers WHERE customer_id = :ivan), false,
          'ivan is not: an outbox restored before after_restore() (DP109) is not his doing');
SELECT is((SELECT count(*) FROM dispatch.customer_flags WHERE customer_id IN (:hana, :ivan)), 0::bigint,
          '... and no flag of theirs is in the history');

SELECT * FROM finish();
ROLLBACK;
