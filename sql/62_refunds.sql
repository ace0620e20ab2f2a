-- sql/62_refunds.sql
-- Refunds: cancelling a paid order (cancel_order, sql/65_lifecycle.sql)
-- records a refund of what was paid and tells the payment service through
-- the outbox (event kind 'refund'); the payment service reports back with
-- settle_refund.  So is a success the provider reports for an order that
-- cannot take it (confirm_payment): cancelled unpaid, or failed and not
-- retried.  One refund per payment, so a repeated cancellation or report
-- changes nothing, and an order whose late success was refunded while it
-- waited for a retry, then paid and cancelled, has its second payment
-- refunded too; refund_reconciliation shows every paid order whose money
-- does not add up.
--
-- Attempts: a refund is paid back in attempts, numbered from 1.  The refund
-- event names its attempt; retry_refund starts the next one (attempt + 1,
-- a new event).  The payment service reports an attempt's outcome naming
-- it (settle_refund's attempt): the report of an earlier attempt (a late
-- repeat of attempt 1's failure after the retry) changes nothing, so it
-- can never fail the attempt under way, whose success would then be
-- refused and another retry pay the customer twice.

CREATE SEQUENCE @extschema@.refunds_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.refunds (
	zone_id        bigint NOT NULL,
	refund_id      bigint NOT NULL,
	order_id       bigint NOT NULL,
	payment_id     bigint NOT NULL,
	amount_cents   integer NOT NULL CHECK (amount_cents > 0),
	status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
	reason         text NOT NULL,
	provider_ref   text,
	failure_reason text,
	attempt        integer NOT NULL DEFAULT 1 CHECK (attempt > 0),
	created_at     timestamptz NOT NULL,
	settled_at     timestamptz,
	PRIMARY KEY (zone_id, refund_id),
	UNIQUE (zone_id, payment_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders,
	FOREIGN KEY (zone_id, payment_id) REFERENCES @extschema@.payments,
	CHECK (zone_id OPERATOR(pg_catalog.=) (refund_id OPERATOR(pg_catalog.>>) 40)),
	CHECK ((status OPERATOR(pg_catalog.=) 'pending') OPERATOR(pg_catalog.=) (settled_at IS NULL))
);
ALTER SEQUENCE @extschema@.refunds_id_seq OWNED BY @extschema@.refunds.refund_id;
-- the payment service's reference names one payout: it pays one refund
-- back (DP110 from settle_refund), within a zone as a payment's reference
-- pays one order (payments_provider_ref_idx); a reference used again for
-- another refund would mark it paid back with money it never got
CREATE UNIQUE INDEX refunds_provider_ref_idx ON @extschema@.refunds (zone_id, provider_ref)
	WHERE status = 'succeeded';
COMMENT ON TABLE @extschema@.refunds IS
	'Refunds of payments an order does not keep (the order cancelled, or the payment reported after its order''s payment failed): one per payment, of what it took; pending until the payment service settles it (settle_refund).  attempt numbers the current attempt to pay it back (1, then one more for each retry_refund); status, provider_ref and failure_reason are that attempt''s.  The id carries the zone.';
COMMENT ON SEQUENCE @extschema@.refunds_id_seq IS
	'The low 40 bits of refund ids.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.refunds', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.refunds_id_seq', '');
REVOKE ALL ON @extschema@.refunds FROM PUBLIC;

-- The refund of a zone by its id, locked; DP106 when there is none (a zone
-- not the refund's finds none).
CREATE FUNCTION @extschema@._lock_refund(p_zone bigint, p_refund_id bigint) RETURNS @extschema@.refunds
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_r @extschema@.refunds;
BEGIN
	SELECT r.* INTO v_r FROM @extschema@.refunds r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) p_zone AND r.refund_id OPERATOR(pg_catalog.=) p_refund_id
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'refund % does not exist', p_refund_id USING ERRCODE = 'DP106';
	END IF;
	RETURN v_r;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_refund(bigint, bigint) IS
	'Internal: the refund p_refund_id of zone p_zone, locked FOR UPDATE; DP106 when the zone holds no such refund.';
REVOKE ALL ON FUNCTION @extschema@._lock_refund(bigint, bigint) FROM PUBLIC;

-- The refund event that tells the payment service to pay a refund back:
-- ids, the attempt and the amount, no free text.
CREATE FUNCTION @extschema@._refund_event(p_r @extschema@.refunds, p_customer_id bigint) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT @extschema@._emit_event(p_r.zone_id, 'refund', p_r.order_id, p_customer_id, NULL,
	                               pg_catalog.jsonb_build_object('refund_id', p_r.refund_id, 'payment_id', p_r.payment_id,
	                                                             'amount_cents', p_r.amount_cents, 'attempt', p_r.attempt));
END;
COMMENT ON FUNCTION @extschema@._refund_event(@extschema@.refunds, bigint) IS
	'Internal: the refund event of a refund''s attempt (to be paid back), for the payment service: ids, the attempt and the amount.';
REVOKE ALL ON FUNCTION @extschema@._refund_event(@extschema@.refunds, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._refund_cancelled(p_order @extschema@.orders, p_reason text) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_pay @extschema@.payments;
	v_r @extschema@.refunds;
	v_last bigint;
BEGIN
	-- every payment that took money and is not refunded yet (one, but for
	-- a late success refunded before the order was paid after all)
	FOR v_pay IN
		SELECT p.* FROM @extschema@.payments p
		 WHERE p.zone_id OPERATOR(pg_catalog.=) p_order.zone_id
		   AND p.order_id OPERATOR(pg_catalog.=) p_order.order_id
		   AND p.status OPERATOR(pg_catalog.=) 'succeeded'
		   AND p.amount_cents OPERATOR(pg_catalog.>) 0
		 ORDER BY p.payment_id
	LOOP
		INSERT INTO @extschema@.refunds (zone_id, refund_id, order_id, payment_id, amount_cents, reason, created_at)
		VALUES (p_order.zone_id,
		        @extschema@.zone_scoped_id(p_order.zone_id, pg_catalog.nextval('@extschema@.refunds_id_seq')),
		        p_order.order_id, v_pay.payment_id, v_pay.amount_cents, p_reason, @extschema@.clock())
		ON CONFLICT ON CONSTRAINT refunds_zone_id_payment_id_key DO NOTHING
		RETURNING * INTO v_r;
		IF FOUND THEN
			PERFORM @extschema@._refund_event(v_r, p_order.customer_id);
			v_last := v_r.refund_id;
		END IF;
	END LOOP;
	RETURN v_last;
END
$$;
COMMENT ON FUNCTION @extschema@._refund_cancelled(@extschema@.orders, text) IS
	'Internal (cancel_order, confirm_payment): records the refund of every payment of the order that took money and has none yet, each with a refund event for the payment service; returns the last refund''s id, NULL when nothing was paid or everything is refunded already.';
REVOKE ALL ON FUNCTION @extschema@._refund_cancelled(@extschema@.orders, text) FROM PUBLIC;

-- A payment the provider reports succeeded for an order that cannot take
-- it (confirm_payment, src/payments.c): cancelled unpaid (cancel_order
-- voided the pending payment), or failed and not retried (payment_failed:
-- the customer was told to retry, and the state machine leads from there
-- to a new attempt or a cancellation only).  The money was taken all the
-- same: it is recorded as a payment that succeeded, and refunded as a paid
-- order's cancellation is; a failed order stays as it is, for its retry.
-- False, and nothing written, when the order is in neither status or a
-- payment of it succeeded already (a second charge is not taken for this
-- one).
CREATE FUNCTION @extschema@._refund_late_payment(p_zone bigint, p_order_id bigint, p_ref text, p_now timestamptz)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders;
BEGIN
	-- locked by the caller
	SELECT o.* INTO v_order FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) p_zone AND o.order_id OPERATOR(pg_catalog.=) p_order_id;
	IF NOT FOUND OR v_order.status NOT IN ('cancelled', 'payment_failed')
	   OR EXISTS (SELECT FROM @extschema@.payments p
	               WHERE p.zone_id OPERATOR(pg_catalog.=) p_zone
	                 AND p.order_id OPERATOR(pg_catalog.=) p_order_id
	                 AND p.status OPERATOR(pg_catalog.=) 'succeeded') THEN
		RETURN false;
	END IF;
	INSERT INTO @extschema@.payments (zone_id, payment_id, order_id, amount_cents, status, provider_ref,
	                                  created_at, settled_at)
	VALUES (p_zone, @extschema@.zone_scoped_id(p_zone, pg_catalog.nextval('@extschema@.payments_id_seq')),
	        p_order_id, v_order.total_cents, 'succeeded', p_ref, p_now, p_now);
	PERFORM @extschema@._refund_cancelled(v_order,
		CASE v_order.status WHEN 'cancelled' THEN 'paid after cancellation' ELSE 'paid after the payment failed' END);
	RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@._refund_late_payment(bigint, bigint, text, timestamptz) IS
	'Internal (confirm_payment): a payment that succeeded for an order cancelled unpaid, or failed and not retried, is recorded and refunded (a refund and its event); false when the order is in neither status or a payment of it succeeded already.';
REVOKE ALL ON FUNCTION @extschema@._refund_late_payment(bigint, bigint, text, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@._settle_refund(p_zone bigint, refund_id bigint, succeeded boolean, provider_ref text DEFAULT NULL,
                                         failure_reason text DEFAULT NULL, attempt integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_r @extschema@.refunds;
	v_status text := CASE WHEN succeeded THEN 'succeeded' ELSE 'failed' END;
	v_late boolean := false;
BEGIN
	IF succeeded IS NULL THEN
		RAISE EXCEPTION 'settle_refund needs succeeded true or false' USING ERRCODE = 'DP025';
	END IF;
	-- a refund paid back names the payment service's reference, as a
	-- payment does (confirm_payment): without it two attempts that each
	-- paid it back would read as the same report again
	IF succeeded AND @extschema@._is_blank(provider_ref) THEN
		RAISE EXCEPTION 'a refund paid back needs the payment service''s reference' USING ERRCODE = 'DP025';
	END IF;
	-- a refund that failed says why, as a failed payment does (fail_payment)
	IF NOT succeeded AND @extschema@._is_blank(failure_reason) THEN
		RAISE EXCEPTION 'a refund failure needs a reason' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('provider_ref', provider_ref);
	PERFORM @extschema@._check_length('reason', failure_reason);
	-- without the white space around it, as confirm_payment takes it
	provider_ref := @extschema@._trim_blanks(provider_ref);
	v_r := @extschema@._lock_refund(p_zone, refund_id);
	-- a reference names one payout: the one that paid another refund back
	-- does not pay this one (a replay, or a report sent to the wrong
	-- refund); refused before anything is written (and below, when two
	-- refunds are paid back at once with one reference: the later waits
	-- on the index for the earlier's commit)
	IF succeeded AND EXISTS (SELECT FROM @extschema@.refunds x
	                          WHERE x.zone_id OPERATOR(pg_catalog.=) p_zone
	                            AND x.provider_ref OPERATOR(pg_catalog.=) _settle_refund.provider_ref
	                            AND x.status OPERATOR(pg_catalog.=) 'succeeded'
	                            AND x.refund_id OPERATOR(pg_catalog.<>) v_r.refund_id) THEN
		RAISE EXCEPTION 'reference "%" paid back another refund already', provider_ref
			USING ERRCODE = 'DP110',
			      HINT = 'A payout pays one refund back; settle each refund with the reference of its own payout.';
	END IF;
	IF _settle_refund.attempt IS NOT NULL THEN
		IF _settle_refund.attempt OPERATOR(pg_catalog.<) 1
		   OR _settle_refund.attempt OPERATOR(pg_catalog.>) v_r.attempt THEN
			RAISE EXCEPTION 'refund % has no attempt %', refund_id, _settle_refund.attempt
				USING ERRCODE = 'DP025', DETAIL = pg_catalog.format('Its attempts are numbered 1 to %s.', v_r.attempt);
		END IF;
		-- the report of an attempt retried since.  Its failure is past
		-- (the attempt under way is not the one it speaks of); its success
		-- is money paid back all the same: the refund is paid, whatever
		-- the later attempt's state, and a refund paid by another attempt
		-- already is a second payment, refused so that the payment service
		-- sees it (DP107)
		IF _settle_refund.attempt OPERATOR(pg_catalog.<) v_r.attempt THEN
			IF NOT succeeded
			   OR (v_r.status OPERATOR(pg_catalog.=) 'succeeded'
			       AND v_r.provider_ref IS NOT DISTINCT FROM _settle_refund.provider_ref) THEN
				RETURN;
			END IF;
			IF v_r.status OPERATOR(pg_catalog.=) 'succeeded' THEN
				RAISE EXCEPTION 'refund % was paid back already by another attempt', refund_id
					USING ERRCODE = 'DP107',
					      DETAIL = pg_catalog.format('Attempt %s reports a payment; the refund was paid back with reference %s.',
					                                 _settle_refund.attempt, v_r.provider_ref);
			END IF;
			-- paid back: written below, as the current attempt's success
			v_late := true;
		END IF;
	END IF;
	IF NOT v_late THEN
		-- a repeat: this attempt settled already the same way (a failure
		-- whatever its reason, which forget_customer may have cleared since)
		IF v_r.status OPERATOR(pg_catalog.=) v_status
		   AND (NOT succeeded OR v_r.provider_ref IS NOT DISTINCT FROM _settle_refund.provider_ref) THEN
			RETURN;
		END IF;
		-- a success of an attempt reported failed is money paid back all
		-- the same (a timeout at the bank that paid after all), as an
		-- earlier attempt's is: refused, the refund would stay failed and
		-- a retry pay the customer twice.  A failure after a success is
		-- refused.
		IF v_r.status OPERATOR(pg_catalog.<>) 'pending'
		   AND NOT (succeeded AND v_r.status OPERATOR(pg_catalog.=) 'failed') THEN
			RAISE EXCEPTION 'refund % is settled already (status "%")', refund_id, v_r.status
				USING ERRCODE = 'DP107',
				      DETAIL = 'Only a pending or failed refund is paid back, and only a pending one fails; the same settlement again is a no-op.';
		END IF;
	END IF;
	BEGIN
		UPDATE @extschema@.refunds r
		   SET status = v_status, provider_ref = _settle_refund.provider_ref,
		       failure_reason = CASE WHEN succeeded THEN NULL ELSE _settle_refund.failure_reason END,
		       settled_at = @extschema@.clock()
		 WHERE r.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND r.refund_id OPERATOR(pg_catalog.=) v_r.refund_id;
	EXCEPTION WHEN unique_violation THEN
		-- another refund paid back with this reference committed while
		-- this call waited on it (the check above could not see it yet,
		-- or a repeatable read snapshot never will): the same refusal
		RAISE EXCEPTION 'reference "%" paid back another refund already', provider_ref
			USING ERRCODE = 'DP110',
			      HINT = 'A payout pays one refund back; settle each refund with the reference of its own payout.';
	END;
END
$$;
COMMENT ON FUNCTION @extschema@._settle_refund(bigint, bigint, boolean, text, text, integer) IS
	'Internal: settle_refund in the refund''s zone (p_zone, which must be the zone in the id: DP106 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
CREATE FUNCTION @extschema@.settle_refund(refund_id bigint, succeeded boolean, provider_ref text DEFAULT NULL,
                                         failure_reason text DEFAULT NULL, attempt integer DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._settle_refund(@extschema@.zone_of(refund_id), refund_id, succeeded, provider_ref, failure_reason, attempt);
COMMENT ON FUNCTION @extschema@.settle_refund(bigint, boolean, text, text, integer) IS
	'The payment service reports an attempt of a refund as paid back (succeeded, with its reference) or failed (with a reason), naming the attempt of the refund event it acted on (attempt; NULL: the current one).  A failure of an earlier attempt (retried since) changes nothing and returns as a no-op does; a success of one marks the refund paid back whatever the current attempt''s state (DP107 if another attempt paid it already), and so does a success of the current attempt after it was reported failed (the money was paid back after all; a retry would pay it twice); the same report again is a no-op (a failure whatever its reason); DP106 for an unknown refund, DP107 for a refund whose current attempt is settled otherwise (a failure after a success), DP110 for a success with the reference that paid another refund of the zone back (a reference names one payout), DP025 for an attempt it never had, a success without a reference (NULL, empty or white space only; a reference is taken without the white space around it) or a failure without a reason (NULL, empty or white space only, as for fail_payment).';

-- A refund the payment service reported failed (a card closed since, a
-- bank's refusal) is tried again: its next attempt, pending, told through
-- the outbox (the same refund, payment and amount, the new attempt), and
-- settled with settle_refund.
CREATE FUNCTION @extschema@._retry_refund(p_zone bigint, refund_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_r @extschema@.refunds;
	v_customer bigint;
BEGIN
	v_r := @extschema@._lock_refund(p_zone, refund_id);
	-- a repeat: pending already, told already
	IF v_r.status OPERATOR(pg_catalog.=) 'pending' THEN
		RETURN;
	END IF;
	IF v_r.status OPERATOR(pg_catalog.<>) 'failed' THEN
		RAISE EXCEPTION 'refund % is settled already (status "%")', refund_id, v_r.status
			USING ERRCODE = 'DP107', DETAIL = 'Only a failed refund is tried again.';
	END IF;
	UPDATE @extschema@.refunds r
	   SET status = 'pending', provider_ref = NULL, failure_reason = NULL, settled_at = NULL,
	       attempt = r.attempt OPERATOR(pg_catalog.+) 1
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND r.refund_id OPERATOR(pg_catalog.=) v_r.refund_id
	RETURNING * INTO v_r;
	SELECT o.customer_id INTO v_customer FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_r.order_id;
	PERFORM @extschema@._refund_event(v_r, v_customer);
END
$$;
COMMENT ON FUNCTION @extschema@._retry_refund(bigint, bigint) IS
	'Internal: retry_refund in the refund''s zone (p_zone, which must be the zone in the id: DP106 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
CREATE FUNCTION @extschema@.retry_refund(refund_id bigint)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._retry_refund(@extschema@.zone_of(refund_id), refund_id);
COMMENT ON FUNCTION @extschema@.retry_refund(bigint) IS
	'A failed refund is tried again: its next attempt (attempt + 1), pending, and a refund event tells the payment service again (the same refund, payment and amount, the new attempt), which settles it with settle_refund.  A no-op on a pending refund; DP106 for an unknown refund, DP107 for a refund paid back.';

-- On one server the view reads the tables, so that a filter on it reaches
-- their indexes.  On Citus a view's shards are read as the querying role,
-- which holds no right on them: there distribute() makes the view read
-- this SECURITY DEFINER function of the same rows instead
-- (sql/97_distribute.sql).
CREATE FUNCTION @extschema@._refund_reconciliation()
RETURNS TABLE (zone_id bigint, order_id bigint, status text, total_cents integer, paid_cents bigint,
               refund_cents bigint, refund_status text, problem text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.refund_reconciliation;
END
$$;
COMMENT ON FUNCTION @extschema@._refund_reconciliation() IS
	'Internal (refund_reconciliation): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';

CREATE VIEW @extschema@.refund_reconciliation AS
SELECT o.zone_id, o.order_id, o.status, o.total_cents,
       COALESCE(p.paid, 0) AS paid_cents,
       COALESCE(r.refunded, 0) AS refund_cents,
       r.states AS refund_status,
       CASE WHEN o.status OPERATOR(pg_catalog.=) 'cancelled' AND COALESCE(p.paid, 0) OPERATOR(pg_catalog.>) 0
                 AND COALESCE(r.refunded, 0) OPERATOR(pg_catalog.<) p.paid THEN 'cancelled, not refunded in full'
            -- what an order not cancelled keeps: its total once paid,
            -- nothing while it waits for its payment (a success reported
            -- after its payment failed is refunded)
            WHEN o.status OPERATOR(pg_catalog.<>) 'cancelled' AND COALESCE(r.refunded, 0) OPERATOR(pg_catalog.>) 0
                 AND (COALESCE(p.paid, 0) OPERATOR(pg_catalog.-) r.refunded) OPERATOR(pg_catalog.<)
                     CASE WHEN o.status IN ('pending_payment', 'payment_failed') THEN 0 ELSE o.total_cents END
                 THEN 'refunded, not cancelled'
            WHEN COALESCE(r.refunded, 0) OPERATOR(pg_catalog.>) COALESCE(p.paid, 0) THEN 'refunded more than paid'
            WHEN o.status IN ('pending_payment', 'payment_failed')
                 AND (COALESCE(p.paid, 0) OPERATOR(pg_catalog.-) COALESCE(r.refunded, 0)) OPERATOR(pg_catalog.>) 0
                 THEN 'paid while unpaid, not refunded in full'
       END AS problem
  FROM @extschema@.orders o
  -- each order's payments and refunds grouped by their zone and order, and
  -- joined on both (not a lateral subquery): a zone filter on the view
  -- reaches all three tables, here and on Citus (docs/citus.md)
  LEFT JOIN (SELECT x.zone_id, x.order_id, pg_catalog.sum(x.amount_cents) AS paid FROM @extschema@.payments x
              WHERE x.status OPERATOR(pg_catalog.=) 'succeeded'
              GROUP BY x.zone_id, x.order_id) p
    ON p.zone_id OPERATOR(pg_catalog.=) o.zone_id AND p.order_id OPERATOR(pg_catalog.=) o.order_id
  LEFT JOIN (SELECT y.zone_id, y.order_id,
                    pg_catalog.sum(y.amount_cents) FILTER (WHERE y.status OPERATOR(pg_catalog.<>) 'failed') AS refunded,
                    pg_catalog.string_agg(y.status, ',' ORDER BY y.refund_id) AS states
               FROM @extschema@.refunds y
              GROUP BY y.zone_id, y.order_id) r
    ON r.zone_id OPERATOR(pg_catalog.=) o.zone_id AND r.order_id OPERATOR(pg_catalog.=) o.order_id
 WHERE p.paid IS NOT NULL OR r.refunded IS NOT NULL;
COMMENT ON VIEW @extschema@.refund_reconciliation IS
	'Paid or refunded orders: what was paid, what is refunded (pending and succeeded refunds), the refund status, and problem: NULL when the money adds up (a cancelled paid order is refunded in full; an order not cancelled keeps its total once paid, nothing while it waits for its payment, the rest refunded), else what is wrong.  No personal data.';

-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON FUNCTION @extschema@.settle_refund(bigint, boolean, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.settle_refund(bigint, boolean, text, text, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._settle_refund(bigint, bigint, boolean, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._settle_refund(bigint, bigint, boolean, text, text, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.retry_refund(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.retry_refund(bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._retry_refund(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._retry_refund(bigint, bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON @extschema@.refund_reconciliation FROM PUBLIC;
GRANT SELECT ON @extschema@.refund_reconciliation TO dispatch_analyst, dispatch_admin;
-- on Citus the view's readers call its function (PostgreSQL checks a
-- function in a view against the querying role)
REVOKE ALL ON FUNCTION @extschema@._refund_reconciliation() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._refund_reconciliation() TO dispatch_analyst, dispatch_admin;
