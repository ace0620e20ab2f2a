-- test/pgtap/80_error_privacy.sql: an error never quotes personal data.
-- Its message, detail and hint go to the caller and to the server log
-- (log_min_messages); the free text that an erasure clears as the
-- customer's (a complaint ticket's resolution: the caller's words about the
-- customer's order) must not be repeated there.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(3);

SELECT dispatch.place_order(:customer, :merchant, format('[{"item_id": %s, "qty": 1}]', :noodles)::jsonb,
       121.445, 31.196, 'Plaintext Street 77, flat 12') AS o \gset
SELECT dispatch.confirm_payment(:o, 'psp-1') \g /dev/null
SELECT dispatch.merchant_accept(:o) \g /dev/null
SELECT dispatch.assign_manually(:o, :rider, 'test dispatcher') \g /dev/null
SELECT dispatch.mark_picked_up(:o, :rider) \g /dev/null
SELECT dispatch.mark_delivered(:o, :rider) \g /dev/null
SELECT dispatch.submit_feedback(:o, 1, 'cold') \g /dev/null
SELECT ticket_id AS t FROM dispatch.complaint_tickets WHERE zone_id = :o >> 40 AND order_id = :o \gset
SELECT dispatch.resolve_ticket(:t, 'Refunded; Mrs Alpha of flat 12 was upset') \g /dev/null

-- the error of a second, different resolution, every field of it
CREATE FUNCTION pg_temp.error_of(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_state text; v_msg text; v_detail text; v_hint text;
BEGIN
	EXECUTE p_sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
	                        v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
	RETURN concat_ws(' | ', v_state, v_msg, v_detail, v_hint);
END $$;
SELECT pg_temp.error_of(format('SELECT dispatch.resolve_ticket(%s, %L)', :t, 'apologised')) AS err \gset
SELECT ok(:'err' ~ '^DP653 \| ', 'another resolution of a resolved ticket is refused (DP653)');
SELECT ok(:'err' !~ 'Alpha|flat 12|upset', 'and the error does not quote the resolution stored');
SELECT ok(:'err' ~ 'Resolved at ', 'it says when the ticket was resolved');

SELECT * FROM finish();
ROLLBACK;
