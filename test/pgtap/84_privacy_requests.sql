-- test/pgtap/84_privacy_requests.sql: requests of data subjects as a queue
-- with deadlines: received with a due time, handled at once where they can
-- be (access, objection, erasure), an erasure during an active delivery
-- waits and process_privacy_requests completes it after the delivery, a
-- rectification is closed after update_customer, and the DPO's view shows
-- what is open and late.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(25);

SET dispatch.clock_override = '2026-12-01 10:00+00';
SELECT dispatch.receive_privacy_request(:customer, 'access') AS access \gset
SELECT is((SELECT row(state, due_at, completed_at)::text FROM dispatch.privacy_requests WHERE request_id = :access),
	'(received,"2026-12-31 10:00:00+00",)', 'a request is received, due 30 days later (dispatch.privacy_request_days)');
SET dispatch.privacy_request_days = 10;
SELECT dispatch.receive_privacy_request(:customer, 'objection') AS objection \gset
SELECT is((SELECT due_at FROM dispatch.privacy_requests WHERE request_id = :objection), '2026-12-11 10:00+00'::timestamptz,
	'the deadline follows the setting');
SELECT throws_ok(format($$SELECT dispatch.receive_privacy_request(%s, 'deletion')$$, :customer), 'DP416', NULL, 'an unknown kind: DP416');
SELECT throws_ok($$SELECT dispatch.receive_privacy_request(987654, 'access')$$, 'DP012', NULL, 'an unknown customer: DP012');

SELECT is((SELECT row(kind, state, days_left, late)::text FROM dispatch.privacy_request_sla WHERE request_id = :access),
	'(access,received,30,f)', 'the DPO sees it open, 30 days left, not late');

SELECT dispatch.handle_privacy_request(:access) AS done \gset
SELECT is(:'done'::jsonb #>> '{result,profile,name}', 'Test Customer Alpha', 'access: the export is handed back');
SELECT is((SELECT row(state, handled_by = session_user, completed_at)::text FROM dispatch.privacy_requests WHERE request_id = :access),
	'(done,t,"2026-12-01 10:00:00+00")', 'and the request is done, by whom, when');
SELECT throws_ok(format('SELECT dispatch.handle_privacy_request(%s)', :access), 'DP417', NULL, 'a done request is not handled twice');

SELECT dispatch.grant_consent(:customer, 'marketing', 'v1') \g /dev/null
SELECT dispatch.handle_privacy_request(:objection) \g /dev/null
SELECT is(dispatch.has_consent(:customer, 'marketing'), false, 'objection: consent to marketing is revoked');

-- erasure during an active delivery waits
SELECT dispatch.place_order(:customer2, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Waiting Road 2') AS o2 \gset
SELECT dispatch.confirm_payment(:o2, 'psp-2') \g /dev/null
SELECT dispatch.merchant_accept(:o2) \g /dev/null
SELECT dispatch.assign_manually(:o2, :rider, 'test dispatcher') \g /dev/null
SELECT dispatch.flag_customer(:customer2, 'Beta called the hotline twice') \g /dev/null
SELECT dispatch.receive_privacy_request(:customer2, 'erasure') AS erasure \gset
SELECT is(dispatch.handle_privacy_request(:erasure), '{"state": "waiting"}'::jsonb, 'an erasure during a delivery waits');
SELECT is((SELECT state FROM dispatch.privacy_requests WHERE request_id = :erasure), 'waiting', 'its state says so');
SELECT is((SELECT forgotten_at FROM dispatch.customers WHERE customer_id = :customer2), NULL, 'and nothing was erased yet');
SELECT is(dispatch.process_privacy_requests(), 0, 'the job leaves it while the delivery goes on');
SELECT dispatch.mark_picked_up(:o2, :rider) \g /dev/null
SELECT dispatch.mark_delivered(:o2, :rider) \g /dev/null
SET dispatch.clock_override = '2026-12-09 10:00+00';
SELECT is(dispatch.process_privacy_requests(), 1, 'after the delivery the job completes the erasure');
SELECT isnt((SELECT forgotten_at FROM dispatch.customers WHERE customer_id = :customer2), NULL, 'the customer is forgotten');
SELECT is((SELECT count(*) FROM dispatch.customer_flags WHERE customer_id = :customer2 AND reason IS NOT NULL), 0::bigint,
	'with the dispatcher''s words about them in the flag history');
SELECT is((SELECT row(state, late)::text FROM dispatch.privacy_request_sla WHERE request_id = :erasure), '(done,f)',
	'the request is done, within its deadline');

-- a waiting erasure that fails (here: its customer is unknown, DP012)
-- neither undoes nor holds up the others of the run, before or after it:
-- it stays waiting, its failure noted by SQLSTATE, and is tried again
SELECT dispatch.register_customer('+8613800000031', 'Gamma Waiting') AS c_first \gset
SELECT dispatch.register_customer('+8613800000032', 'Delta Waiting') AS c_last \gset
SELECT dispatch.receive_privacy_request(:c_first, 'erasure') AS r_first \gset
SELECT dispatch.receive_privacy_request(:customer, 'erasure') AS r_bad \gset
SELECT dispatch.receive_privacy_request(:c_last, 'erasure') AS r_last \gset
-- due one hour apart, in that order (times computed first: on Citus an
-- UPDATE may not compute a time from a column)
SELECT (now() + interval '1 day')::text AS due1, (now() + interval '1 day 1 hour')::text AS due2,
       (now() + interval '1 day 2 hours')::text AS due3 \gset
UPDATE dispatch.privacy_requests SET state = 'waiting', due_at = :'due1' WHERE request_id = :r_first;
UPDATE dispatch.privacy_requests SET state = 'waiting', due_at = :'due2' WHERE request_id = :r_bad;
UPDATE dispatch.privacy_requests SET state = 'waiting', due_at = :'due3' WHERE request_id = :r_last;
UPDATE dispatch.privacy_requests SET customer_id = 987654 WHERE request_id = :r_bad;
SET client_min_messages = error;   -- the failure's warning
SELECT lives_ok('SELECT dispatch.process_privacy_requests()', 'a run with a failing request completes');
SELECT is((SELECT array_agg(state ORDER BY request_id) FROM dispatch.privacy_requests WHERE request_id IN (:r_first, :r_bad, :r_last)),
	'{done,waiting,done}', 'the requests before and after the failing one are done, it stays waiting');
SELECT is((SELECT count(*) FROM dispatch.customers WHERE customer_id IN (:c_first, :c_last) AND forgotten_at IS NOT NULL), 2::bigint,
	'and their customers are erased');
SELECT dispatch.process_privacy_requests() \g /dev/null
SET client_min_messages = warning;
SELECT is((SELECT row(detail ->> 'sqlstate', detail ->> 'failures', detail ? 'failed_at')::text
             FROM dispatch.privacy_requests WHERE request_id = :r_bad), '(DP012,2,t)',
	'the failing request notes its SQLSTATE and how often it failed, and is tried on every run');

-- rectification: corrected data first, then closed
SELECT dispatch.receive_privacy_request(:customer, 'rectification') AS rect \gset
SET dispatch.clock_override = '2026-12-30 10:00+00';
SELECT is((SELECT row(state, days_left, late)::text FROM dispatch.privacy_request_sla WHERE request_id = :rect),
	'(received,-11,t)', 'an open request past its due time is late');
SELECT throws_ok(format('SELECT dispatch.handle_privacy_request(%s)', :rect), 'DP416', NULL,
	'a rectification needs the corrected data');
SELECT dispatch.update_customer(:customer, NULL, 'Alpha Rectified', 'request ' || :rect) \g /dev/null
SELECT lives_ok(format('SELECT dispatch.complete_privacy_request(%s)', :rect), 'and is closed after update_customer');
SELECT ok(has_table_privilege('dispatch_admin', 'dispatch.privacy_request_sla', 'SELECT')
          AND NOT has_table_privilege('dispatch_analyst', 'dispatch.privacy_request_sla', 'SELECT')
          AND has_function_privilege('dispatch_app', 'dispatch.receive_privacy_request(bigint, text)', 'EXECUTE')
          AND NOT has_function_privilege('dispatch_app', 'dispatch.handle_privacy_request(bigint)', 'EXECUTE'),
	'the app receives requests, the DPO (admin) handles them and reads the view');

SELECT * FROM finish();
ROLLBACK;
