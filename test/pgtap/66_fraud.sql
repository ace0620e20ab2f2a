-- test/pgtap/66_fraud.sql: refused intake attempts are noted outside the
-- rolled-back transaction (the shared-memory ring), flushed once into
-- intake_refusals with no text of the caller's, a customer over the
-- threshold is flagged automatically, a dispatcher lifts the flag by name,
-- fraud_signals is for the admin only (sql/47_fraud.sql).  Needs dispatch
-- in shared_preload_libraries, as tools/pgdev runs it.  The ring is not
-- transactional: entries noted here stay in it, and flushing them inside
-- this transaction (rolled back at the end) is what the test does.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(58);
SET LOCAL dispatch.clock_override = '2031-03-04 12:00:00+00';
SET LOCAL dispatch.fraud_max_refusals = 3;
SET LOCAL dispatch.fraud_refusal_window_minutes = 60;
SELECT dispatch.register_customer('+8613811110001') AS alice \gset
SELECT dispatch.register_customer('+8613811110002') AS bob \gset
SELECT dispatch.register_customer('+8613811110003') AS carol \gset
SELECT format('[{"item_id": %s, "qty": 1}]', :noodles) AS items \gset
-- a refused call, its SQLSTATE (for attempts that are not tests themselves)
CREATE FUNCTION pg_temp.refused(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE p_sql;
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;

SELECT ok((SELECT epoch IS NOT NULL AND capacity >= 16 FROM dispatch._refusal_ring()),
          'the ring of refused attempts is there (dispatch is preloaded)');

-- a refused attempt is noted, after its rollback, with zone, customer and code
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.44, 31.19, 'Secret Lane 7, Room 1201') $$,
                        :alice, :closed, :'items'), 'DP003', NULL, 'an order at a closed merchant is refused');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.50, 31.19, 'Secret Lane 7, Room 1201') $$,
                        :alice, :merchant, :'items'), 'DP002', NULL, 'a drop-off outside the zone is refused');
SELECT throws_ok(format($$ SELECT dispatch.place_errand(%s, 0, 0, 0.001, 0.001, 'Secret Lane 7', 'my secret errand', 500) $$,
                        :alice), 'DP002', NULL, 'an errand outside every area is refused');
SELECT is((SELECT count(*) FROM dispatch.intake_refusals WHERE customer_id = :alice), 0::bigint,
          'nothing is in the table before a flush');
SELECT ok((SELECT flushed >= 3 AND lost = 0 FROM dispatch.flush_refusals()), 'the flush copies the noted attempts');
SELECT results_eq(format($$ SELECT zone_id, at, sqlstate, reason FROM dispatch.intake_refusals
                             WHERE customer_id = %s ORDER BY seq $$, :alice),
                  format($$ VALUES (%s::bigint, '2031-03-04 12:00:00+00'::timestamptz, 'DP003', 'merchant_closed'),
                                   (%s::bigint, '2031-03-04 12:00:00+00'::timestamptz, 'DP002', 'outside_service_area'),
                                   (0::bigint, '2031-03-04 12:00:00+00'::timestamptz, 'DP002', 'outside_service_area') $$,
                         :zone, :zone),
                  'each refused attempt is recorded once: zone (0: none covers the pickup), time, code and reason');
SELECT columns_are('dispatch', 'intake_refusals',
                   ARRAY['zone_id', 'epoch', 'seq', 'at', 'customer_id', 'sqlstate', 'reason', 'flushed_at'],
                   'the log has ids, times and codes only');
-- (a subquery with a column: Citus reads a subquery's rows back from the
-- workers, and a row of no columns has no type it can name)
SELECT ok(NOT EXISTS (SELECT 1 FROM dispatch.intake_refusals r WHERE r::text ~ '(Secret|errand|Lane)'),
          'no text of the caller''s is kept');
SELECT col_is_pk('dispatch', 'intake_refusals', ARRAY['zone_id', 'epoch', 'seq'], 'zone_id leads the key');

-- never twice: flushing again, or again from the start of the ring
SELECT is((SELECT flushed FROM dispatch.flush_refusals()), 0::bigint, 'a second flush copies nothing');
UPDATE dispatch.refusal_flushes SET flushed_seq = 0;
SELECT is((SELECT flushed FROM dispatch.flush_refusals()), 0::bigint, 'a flush that reads the whole ring again inserts nothing');
SELECT is((SELECT count(*) FROM dispatch.intake_refusals WHERE customer_id = :alice), 3::bigint,
          '... so every attempt is there once');

-- an order naming a zone: its refusal is noted in the zone named
SELECT dispatch.register_customer('+8613811110004') AS dave \gset
SELECT throws_ok(format($$ SELECT dispatch.place_order_in_zone(%s, %s, %s, %L, 121.44, 31.19, 'x') $$,
                        :zone, :dave, :closed, :'items'), 'DP003', NULL, 'dave: a closed merchant, its zone named');
SELECT throws_ok(format($$ SELECT dispatch.place_order_in_zone(%s, %s, %s, %L, 121.44, 31.19, 'x') $$,
                        :other_zone, :dave, :merchant, :'items'), 'DP013', NULL, 'dave: a zone not the merchant''s');
SELECT throws_ok(format($$ SELECT dispatch.place_errand_in_zone(%s, %s, 121.43, 31.19, 121.44, 31.19, 'x', 'y', 500) $$,
                        :other_zone, :dave), 'DP002', NULL, 'dave: an errand whose pickup the zone named does not cover');
SELECT ok((SELECT flushed >= 3 FROM dispatch.flush_refusals()), 'the flush copies them');
SELECT results_eq(format($$ SELECT zone_id, sqlstate, reason FROM dispatch.intake_refusals
                             WHERE customer_id = %s ORDER BY seq $$, :dave),
                  format($$ VALUES (%s::bigint, 'DP003', 'merchant_closed'), (%s::bigint, 'DP013', 'merchant_unknown'),
                                   (%s::bigint, 'DP002', 'outside_service_area') $$,
                         :zone, :other_zone, :other_zone),
                  'each with the zone named, which is the one whose worker takes the call on Citus');

-- the automatic flag: bob is refused three times for his own doing
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.50, 31.19, 'x') $$, :bob, :merchant, :'items'),
                 'DP002', NULL, 'bob: outside the zone');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[]', 121.44, 31.19, 'x') $$, :bob, :merchant),
                 'DP007', NULL, 'bob: no items');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.44, 31.19, 'x', 'urgent') $$, :bob, :merchant, :'items'),
                 'DP022', NULL, 'bob: an unknown priority');
-- carol twice for her own doing, three times at a closed merchant
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[]', 121.44, 31.19, 'x') $$, :carol, :merchant),
                 'DP007', NULL, 'carol: no items');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[]', 121.44, 31.19, 'x') $$, :carol, :merchant),
                 'DP007', NULL, 'carol: no items again');
SELECT is(array_agg(pg_temp.refused(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.44, 31.19, 'x') $$,
                                            :carol, :closed, :'items'))), '{DP003,DP003,DP003}', 'carol: a closed merchant, three times')
  FROM generate_series(1, 3);
-- erin: three attempts refused on the server's side (the key file
-- unreadable, DP401), noted as a worker's flush would copy them
SELECT dispatch.register_customer('+8613811110005') AS erin \gset
INSERT INTO dispatch.intake_refusals (zone_id, epoch, seq, at, customer_id, sqlstate, reason, flushed_at)
SELECT 0, '2031-03-04 00:00:00+00', g, '2031-03-04 11:59:00+00', :erin, 'DP401', 'key_unreadable', '2031-03-04 11:59:30+00'
  FROM generate_series(1, 3) g;
-- frank: three intakes refused for the application server's isolation
-- level (a repeatable read transaction on a distributed install, DP031),
-- noted as a worker's flush would copy them
SELECT dispatch.register_customer('+8613811110008') AS frank \gset
INSERT INTO dispatch.intake_refusals (zone_id, epoch, seq, at, customer_id, sqlstate, reason, flushed_at)
SELECT 0, '2031-03-04 00:00:00+00', 10 + g, '2031-03-04 11:59:00+00', :frank, 'DP031', 'intake_needs_read_committed', '2031-03-04 11:59:30+00'
  FROM generate_series(1, 3) g;
-- grace: three orders refused because the campaign of her code has spent
-- its budget (DP606), the platform's side as a sold-out dish is
SELECT dispatch.register_customer('+8613811110007') AS grace \gset
SELECT dispatch.create_campaign('Tiny', 'limited_time', '{"amount_off_cents": 500}', 100,
                                ends_at => '2031-03-05 12:00:00+00', code => 'TINY') \g /dev/null
SELECT is(array_agg(pg_temp.refused(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, 'x', 'normal', 'TINY') $$,
                                            :grace, :merchant, :'items'))), '{DP606,DP606,DP606}',
          'grace: a campaign''s budget spent, three times')
  FROM generate_series(1, 3);
SELECT is((SELECT flagged FROM dispatch.customers WHERE customer_id = :bob), false, 'bob is not flagged before the flush');
SELECT ok((SELECT flagged >= 1 FROM dispatch.flush_refusals()), 'the flush flags someone');
SELECT results_eq(format($$ SELECT flagged, flag_reason FROM dispatch.customers WHERE customer_id = %s $$, :bob),
                  $$ VALUES (true, 'auto: 3 refused attempts in 60 minutes') $$,
                  'bob, at the threshold, is flagged with the reason');
SELECT results_eq(format($$ SELECT flagged, actor, at FROM dispatch.customer_flags WHERE customer_id = %s ORDER BY flag_id $$, :bob),
                  $$ VALUES (true, 'auto', '2031-03-04 12:00:00+00'::timestamptz) $$,
                  'the flag is in the history, by auto');
SELECT is((SELECT flagged FROM dispatch.customers WHERE customer_id = :carol), false,
          'carol is not: a closed merchant is not her doing');
SELECT is((SELECT flagged FROM dispatch.customers WHERE customer_id = :erin), false,
          'erin is not: refusals on the server''s side (DP4xx) are not hers');
SELECT is((SELECT flagged FROM dispatch.customers WHERE customer_id = :frank), false,
          'frank is not: an intake refused for the application''s isolation level (DP031) is not his doing');
SELECT is((SELECT flagged FROM dispatch.customers WHERE customer_id = :grace), false,
          'grace is not: a campaign''s budget spent (DP606) is not her doing');
SELECT is((SELECT flagged FROM dispatch.customers WHERE customer_id = :alice), false,
          'alice is not: a closed merchant does not count, two refusals are under the threshold');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.44, 31.19, 'x') $$, :bob, :merchant, :'items'),
                 'DP011', NULL, 'a flagged customer is refused');

-- what operators see
SELECT results_eq(format($$ SELECT zone_id, refusals, refusals_by_reason, flagged, flagged_since, flag_reason, flagged_by
                              FROM dispatch.fraud_signals WHERE customer_id = %s $$, :bob),
                  format($$ VALUES (%s::bigint, 3::bigint,
                                    '{"outside_service_area": 1, "bad_item_list": 1, "priority_unknown": 1}'::jsonb,
                                    true, '2031-03-04 12:00:00+00'::timestamptz, 'auto: 3 refused attempts in 60 minutes', 'auto') $$, :zone),
                  'fraud_signals: refusals by reason in the window, flagged, since when, why, by whom');
SELECT is((SELECT refusals_by_reason FROM dispatch.fraud_signals WHERE customer_id = :alice AND zone_id = 0),
          '{"outside_service_area": 1}'::jsonb, '... per zone (0: not known)');
SELECT columns_are('dispatch', 'fraud_signals',
                   ARRAY['customer_id', 'zone_id', 'refusals', 'refusals_by_reason', 'last_refused_at',
                         'flagged', 'flagged_since', 'flag_reason', 'flagged_by'],
                   'fraud_signals: ids, counts and the flag, no names or phone numbers');

-- a dispatcher lifts the flag, by name and with a reason
SELECT throws_ok(format($$ SELECT dispatch.unflag_customer(%s, '', 'checked') $$, :bob), 'DP731', NULL,
                 'lifting a flag needs who');
SELECT throws_ok(format($$ SELECT dispatch.unflag_customer(%s, 'Wang', NULL) $$, :bob), 'DP731', NULL,
                 '... and why');
SELECT is(dispatch.unflag_customer(:bob, 'dispatcher Wang', 'called back, verified'), true, 'the dispatcher lifts the flag');
SELECT is((SELECT flagged FROM dispatch.customers WHERE customer_id = :bob), false, 'bob may order again');
SELECT results_eq(format($$ SELECT flagged, actor, reason FROM dispatch.customer_flags WHERE customer_id = %s ORDER BY flag_id $$, :bob),
                  $$ VALUES (true, 'auto', 'auto: 3 refused attempts in 60 minutes'), (false, 'dispatcher Wang', 'called back, verified') $$,
                  'the history keeps the flag and who lifted it, why');
SELECT is(dispatch.unflag_customer(:bob, 'dispatcher Wang', 'called back, verified'), false, 'lifting it again changes nothing');
-- a flag says why, as its lift does: a blank reason is refused, not a flag
-- that no one can read the cause of
SELECT throws_ok(format($$ SELECT dispatch.flag_customer(%s, %L) $$, :bob, E' \t'), 'DP025', NULL,
                 'a customer is not flagged with a blank reason');
SELECT is((SELECT flagged FROM dispatch.customers WHERE customer_id = :bob), false, '... and stays unflagged');
SELECT dispatch.flush_refusals() \g /dev/null
SELECT is((SELECT c.flagged FROM dispatch.customers c WHERE c.customer_id = :bob), false,
          'the refusals before the lift no longer count');
SET LOCAL dispatch.clock_override = '2031-03-04 12:05:00+00';
SELECT is(array_agg(pg_temp.refused(format($$ SELECT dispatch.place_order(%s, %s, '[]', 121.44, 31.19, 'x') $$, :bob, :merchant))),
          '{DP007,DP007,DP007}', 'bob is refused three times more')
  FROM generate_series(1, 3);
SELECT dispatch.flush_refusals() \g /dev/null
SELECT is((SELECT c.flagged FROM dispatch.customers c WHERE c.customer_id = :bob), true,
          'three new ones after the lift flag him again');

-- an erased customer gets no new words: flag and lift are refused as for
-- an unknown customer (DP012), and nothing is written
SELECT dispatch.register_customer('+8613811110006') AS frank \gset
SELECT dispatch.flag_customer(:frank, 'Frank shouted at the rider') \g /dev/null
SELECT dispatch.forget_customer(:frank) \g /dev/null
SELECT throws_ok(format($$ SELECT dispatch.flag_customer(%s, 'Frank called again, angry') $$, :frank), 'DP012', NULL,
                 'an erased customer is not flagged with a new reason (DP012)');
SELECT throws_ok(format($$ SELECT dispatch.unflag_customer(%s, 'dispatcher Wang', 'Frank apologised') $$, :frank), 'DP012', NULL,
                 'nor is the flag lifted with one (DP012)');
SELECT is((SELECT count(*) FROM dispatch.customer_flags WHERE customer_id = :frank AND reason IS NOT NULL)
          + (SELECT count(*) FROM dispatch.customers WHERE customer_id = :frank AND flag_reason IS NOT NULL), 0::bigint,
          'no reason about the erased customer is stored');

-- only refusals of class DP are noted
SELECT throws_ok($$ SELECT dispatch._note_refusal(1, 1, '23505') $$, 'DP732', NULL, 'a SQLSTATE of another class is not noted');

-- retention purges the log with the rest
SELECT dispatch.set_retention_policy('intake_refusals', '1 hour') \g /dev/null
SET LOCAL dispatch.clock_override = '2031-03-04 14:00:00+00';
SELECT dispatch.purge_expired_step(100000) \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.intake_refusals WHERE customer_id IN (:alice, :bob, :carol)), 0::bigint,
          'refusals older than their retention are purged');

-- the intake's count of a customer's unpaid and cancelled orders (its
-- statement in src/intake.c, with a generic plan as the intake keeps it)
-- reads those orders only, from orders_unpaid_idx, whatever the number of
-- the customer's paid ones
\ir ../fixtures/plan_of.sql
SET LOCAL plan_cache_mode = force_generic_plan;
-- (a table of a few rows may be read whole instead: on Citus the count is
-- planned by the zone's worker for its values, on a shard whose statistics
-- the earlier files' rolled-back orders set; what is checked is that the
-- index serves the count)
SET LOCAL enable_seqscan = off;
-- and the index rebuilt: every order enters it when placed (unpaid), so
-- the orders that earlier files rolled back leave it swollen with dead
-- entries, which a test's tables hold in numbers no real table does, and
-- the planner then prices it above orders_created_idx (a rebuild inside
-- this transaction, rolled back with it)
REINDEX INDEX dispatch.orders_unpaid_idx;
PREPARE bad_orders(bigint, bigint, timestamptz) AS
	SELECT pg_catalog.count(*) FROM dispatch.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) $1
	   AND o.customer_id OPERATOR(pg_catalog.=) $2
	   AND o.created_at OPERATOR(pg_catalog.>) $3
	   AND o.status IN ('pending_payment', 'payment_failed', 'cancelled');
SELECT matches(pg_temp.plan_of(format('EXECUTE bad_orders(%s, %s, %L)', :zone, :alice, '2026-01-01')),
               'Index Only Scan using orders_unpaid_idx|Index Scan using orders_unpaid_idx|Bitmap Index Scan on orders_unpaid_idx',
               'the count of unpaid and cancelled orders reads orders_unpaid_idx');
DEALLOCATE bad_orders;
RESET plan_cache_mode;
RESET enable_seqscan;

-- privileges
SELECT ok(has_table_privilege('dispatch_admin', 'dispatch.fraud_signals', 'SELECT'), 'the admin reads fraud_signals');
SELECT ok(NOT has_table_privilege('dispatch_analyst', 'dispatch.fraud_signals', 'SELECT')
          AND NOT has_table_privilege('dispatch_app', 'dispatch.fraud_signals', 'SELECT')
          AND NOT has_table_privilege('public', 'dispatch.fraud_signals', 'SELECT'),
          'the analyst, the app and PUBLIC do not');
SELECT ok(NOT has_function_privilege('dispatch_app', 'dispatch._note_refusal(bigint,bigint,text)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'dispatch._note_refusal(bigint,bigint,text)', 'EXECUTE')
          AND NOT has_function_privilege('dispatch_app', 'dispatch.flush_refusals()', 'EXECUTE')
          AND has_function_privilege('dispatch_admin', 'dispatch.flush_refusals()', 'EXECUTE')
          AND NOT has_function_privilege('dispatch_app', 'dispatch.unflag_customer(bigint,text,text)', 'EXECUTE'),
          'nobody but the intake notes a refusal; the admin flushes and lifts flags');

SELECT * FROM finish();
ROLLBACK;
