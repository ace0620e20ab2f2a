-- sql/47_fraud.sql
-- Fraud, learned (issue "tracking and operations", design part 1): every
-- refused intake attempt is logged, a customer refused too often is flagged
-- automatically, a dispatcher lifts a flag by name, and operators see it
-- all in fraud_signals.
--
-- A refusal raises an error, so the caller's transaction rolls back and
-- could keep no row.  place_order, place_errand and their _in_zone forms
-- (sql/55_orders.sql) therefore note a refused attempt in a ring in shared memory
-- (src/refusals.c), outside any transaction, with no text: time, zone,
-- customer, SQLSTATE.  flush_refusals(), run every minute by pg_cron,
-- copies new entries into intake_refusals, keyed on (epoch of the ring,
-- seq) so that a repeated or concurrent flush inserts nothing twice, and
-- then applies the automatic flag.  The ring exists only when dispatch is
-- in shared_preload_libraries (docs/operations.md, fraud signals).

CREATE FUNCTION @extschema@._note_refusal(zone_id bigint, customer_id bigint, sqlstate text) RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_note_refusal';
COMMENT ON FUNCTION @extschema@._note_refusal(bigint, bigint, text) IS
	'Internal: notes a refused intake attempt (zone, customer, SQLSTATE of class DP, else DP732) in the shared-memory ring, outside the transaction; does nothing, said once per backend in the server log, without the ring.';
REVOKE ALL ON FUNCTION @extschema@._note_refusal(bigint, bigint, text) FROM PUBLIC;

CREATE FUNCTION @extschema@._refusal_zone(zone_id bigint) RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_refusal_zone';
COMMENT ON FUNCTION @extschema@._refusal_zone(bigint) IS
	'Internal: the zone of the intake attempt under way, noted with its refusal if it is refused (src/refusals.c).';
REVOKE ALL ON FUNCTION @extschema@._refusal_zone(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._refusal_ring(OUT epoch timestamptz, OUT capacity integer, OUT next_seq bigint)
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_refusal_ring';
COMMENT ON FUNCTION @extschema@._refusal_ring() IS
	'Internal: the refusal ring''s epoch (when it was set up: server start or crash restart), size in entries and next sequence number; NULLs without the ring.';
REVOKE ALL ON FUNCTION @extschema@._refusal_ring() FROM PUBLIC;

CREATE FUNCTION @extschema@._refusals_after(after_seq bigint)
RETURNS TABLE (seq bigint, at timestamptz, zone_id bigint, customer_id bigint, sqlstate text, reason text, lost bigint)
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE ROWS 100
AS 'MODULE_PATHNAME', 'dispatch_refusals_after';
COMMENT ON FUNCTION @extschema@._refusals_after(bigint) IS
	'Internal: a summary row (lost not NULL: entries after after_seq overwritten before this read; seq: the newest in the ring), then the ring''s entries of this database after after_seq, oldest first.  Nothing without the ring.';
REVOKE ALL ON FUNCTION @extschema@._refusals_after(bigint) FROM PUBLIC;

CREATE TABLE @extschema@.intake_refusals (
	zone_id      bigint NOT NULL,
	epoch        timestamptz NOT NULL,
	seq          bigint NOT NULL,
	at           timestamptz NOT NULL,
	customer_id  bigint,
	sqlstate     text NOT NULL CHECK (sqlstate ~ '^DP[0-9]{3}$'),
	reason       text NOT NULL CHECK (reason ~ '^[a-z0-9_]{1,40}$'),
	flushed_at   timestamptz NOT NULL,
	PRIMARY KEY (zone_id, epoch, seq)
);
CREATE INDEX intake_refusals_customer_idx ON @extschema@.intake_refusals (customer_id, at);
CREATE INDEX intake_refusals_at_idx ON @extschema@.intake_refusals (at);
COMMENT ON TABLE @extschema@.intake_refusals IS
	'Refused intake attempts (place_order, place_errand), copied from the shared-memory ring by flush_refusals(): when, the zone (0: not known when refused, e.g. a pickup outside every area), the customer id given, the SQLSTATE and its short reason (the code''s name in src/errcodes.txt).  No text of the caller''s.  (epoch, seq) names the ring entry.  Purged by retention (data class intake_refusals).';
COMMENT ON COLUMN @extschema@.intake_refusals.epoch IS
	'When the ring that held the entry was set up (server start or crash restart); with seq, the entry''s identity.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.intake_refusals', '');
REVOKE ALL ON @extschema@.intake_refusals FROM PUBLIC;

CREATE TABLE @extschema@.refusal_flushes (
	epoch          timestamptz PRIMARY KEY,
	flushed_seq    bigint NOT NULL CHECK (flushed_seq >= 0),
	lost           bigint NOT NULL CHECK (lost >= 0),
	flushes        bigint NOT NULL DEFAULT 0,
	last_flush_at  timestamptz
);
COMMENT ON TABLE @extschema@.refusal_flushes IS
	'Per ring epoch: the newest ring entry flush_refusals() has read (of any database), and how many entries were overwritten before a flush read them (lost: the ring was too small for the time between two flushes; with dispatch in several databases of one server, their entries count too).';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.refusal_flushes', '');
REVOKE ALL ON @extschema@.refusal_flushes FROM PUBLIC;

CREATE TABLE @extschema@.customer_flags (
	flag_id      bigint GENERATED ALWAYS AS IDENTITY,
	customer_id  bigint NOT NULL,
	at           timestamptz NOT NULL,
	flagged      boolean NOT NULL,
	reason       text,
	actor        text NOT NULL,
	PRIMARY KEY (customer_id, flag_id)
);
COMMENT ON TABLE @extschema@.customer_flags IS
	'History of fraud flags: every time a customer was flagged (flagged true: by a dispatcher with flag_customer, or by flush_refusals() as auto) or the flag was lifted (false: unflag_customer, or flag_customer with a NULL reason), when, why and by whom.  customers.flagged is the state now.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_flags', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_flags_flag_id_seq', '');
REVOKE ALL ON @extschema@.customer_flags FROM PUBLIC;

-- one place that changes a flag, and keeps its history
CREATE FUNCTION @extschema@._set_customer_flag(p_customer_id bigint, p_flagged boolean, p_reason text, p_by text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_was boolean;
	v_forgotten timestamptz;
BEGIN
	-- the row lock orders this after an erasure (which holds it): an erased
	-- customer gets no new reason, a dispatcher's text about a person
	SELECT c.flagged, c.forgotten_at INTO v_was, v_forgotten FROM @extschema@.customers c
	 WHERE c.customer_id OPERATOR(pg_catalog.=) p_customer_id
	   FOR UPDATE;
	IF NOT FOUND OR v_forgotten IS NOT NULL THEN
		RAISE EXCEPTION 'customer % does not exist', p_customer_id USING ERRCODE = 'DP012';
	END IF;
	IF v_was OPERATOR(pg_catalog.=) p_flagged
	   AND (NOT p_flagged OR (SELECT c.flag_reason FROM @extschema@.customers c
	                           WHERE c.customer_id OPERATOR(pg_catalog.=) p_customer_id) IS NOT DISTINCT FROM p_reason) THEN
		RETURN false;                               -- as it is: a retry, no history row
	END IF;
	UPDATE @extschema@.customers c
	   SET flagged = p_flagged, flag_reason = CASE WHEN p_flagged THEN p_reason END
	 WHERE c.customer_id OPERATOR(pg_catalog.=) p_customer_id;
	INSERT INTO @extschema@.customer_flags (customer_id, at, flagged, reason, actor)
	VALUES (p_customer_id, @extschema@.clock(), p_flagged, p_reason, p_by);
	RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@._set_customer_flag(bigint, boolean, text, text) IS
	'Internal: flags a customer (with a reason) or lifts the flag, and records it in customer_flags with who did it; false when nothing changed (a retry).  DP012 for an unknown or erased customer.';
REVOKE ALL ON FUNCTION @extschema@._set_customer_flag(bigint, boolean, text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@._refusal_window_start() RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN @extschema@.clock() OPERATOR(pg_catalog.-)
	       pg_catalog.make_interval(mins => @extschema@._setting_int('dispatch.fraud_refusal_window_minutes'));
END
$$;
COMMENT ON FUNCTION @extschema@._refusal_window_start() IS
	'Internal: the start of the window in which refused attempts count (dispatch.fraud_refusal_window_minutes before clock()), for flush_refusals() and fraud_signals.';
REVOKE ALL ON FUNCTION @extschema@._refusal_window_start() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._refusal_window_start() TO dispatch_admin;

CREATE FUNCTION @extschema@._flush_refusal_ring(OUT flushed bigint, OUT lost bigint)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_epoch timestamptz;
	v_after bigint;
	v_last bigint;
	v_flushed bigint;
	v_lost bigint;
BEGIN
	flushed := 0;
	lost := 0;
	SELECT r.epoch INTO v_epoch FROM @extschema@._refusal_ring() r;
	IF v_epoch IS NULL THEN
		RETURN;
	END IF;
	-- one flush per epoch at a time: a concurrent one waits here, then
	-- starts after what this one read
	INSERT INTO @extschema@.refusal_flushes (epoch, flushed_seq, lost) VALUES (v_epoch, 0, 0)
	ON CONFLICT DO NOTHING;
	SELECT f.flushed_seq INTO v_after FROM @extschema@.refusal_flushes f
	 WHERE f.epoch OPERATOR(pg_catalog.=) v_epoch
	   FOR UPDATE;
	WITH ring AS MATERIALIZED (
		SELECT * FROM @extschema@._refusals_after(v_after)
	), ins AS (
		INSERT INTO @extschema@.intake_refusals (zone_id, epoch, seq, at, customer_id, sqlstate, reason, flushed_at)
		SELECT r.zone_id, v_epoch, r.seq, r.at, r.customer_id, r.sqlstate, r.reason, pg_catalog.clock_timestamp()
		  FROM ring r WHERE r.lost IS NULL
		ON CONFLICT DO NOTHING
		RETURNING 1
	)
	SELECT (SELECT pg_catalog.count(*) FROM ins),
	       (SELECT r.seq FROM ring r WHERE r.lost IS NOT NULL),
	       (SELECT r.lost FROM ring r WHERE r.lost IS NOT NULL)
	  INTO v_flushed, v_last, v_lost;
	-- (refusal_flushes is local to each node on Citus too: a VOLATILE
	-- function may set its time)
	UPDATE @extschema@.refusal_flushes f
	   SET flushed_seq = GREATEST(f.flushed_seq, v_last), lost = f.lost OPERATOR(pg_catalog.+) v_lost,
	       flushes = f.flushes OPERATOR(pg_catalog.+) 1, last_flush_at = pg_catalog.clock_timestamp()
	 WHERE f.epoch OPERATOR(pg_catalog.=) v_epoch;
	flushed := v_flushed;
	lost := v_lost;
END
$$;
COMMENT ON FUNCTION @extschema@._flush_refusal_ring() IS
	'Internal (flush_refusals): copies the entries of this server''s refusal ring since the last flush of its epoch into intake_refusals and counts those lost to overflow; returns the rows inserted and the entries lost.  Nothing without the ring.';
REVOKE ALL ON FUNCTION @extschema@._flush_refusal_ring() FROM PUBLIC;

CREATE FUNCTION @extschema@.flush_refusals()
RETURNS TABLE (flushed bigint, lost bigint, flagged bigint)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_max integer := @extschema@._setting_int('dispatch.fraud_max_refusals');
	v_window integer := @extschema@._setting_int('dispatch.fraud_refusal_window_minutes');
	v_since timestamptz := @extschema@._refusal_window_start();
	v_flushed bigint := 0;
	v_lost bigint := 0;
	v_flagged bigint := 0;
	v_coordinator boolean := false;
	v_mode text;
	v record;
BEGIN
	-- On a Citus coordinator (statements of Citus run by EXECUTE: its
	-- functions exist only where it is installed), one connection per
	-- node for the whole call: the flag below updates customers, a
	-- reference table that distributed tables refer to, after reading
	-- every shard of intake_refusals, which Citus refuses after a parallel
	-- read in the same transaction.  The caller's mode is put back at the end.
	IF EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		EXECUTE 'SELECT pg_catalog.citus_is_coordinator()' INTO v_coordinator;
	END IF;
	IF v_coordinator THEN
		v_mode := pg_catalog.current_setting('citus.multi_shard_modify_mode');
		PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
	END IF;
	SELECT r.flushed, r.lost INTO v_flushed, v_lost FROM @extschema@._flush_refusal_ring() r;
	-- on a Citus coordinator, each worker's ring too: a call sent whole to
	-- a worker (the _in_zone forms of intake) notes its refusal there.
	-- Each worker flushes in a transaction of its own; one that fails is
	-- skipped, with a warning, and flushed by the next run.
	IF v_coordinator THEN
		FOR v IN EXECUTE
			'SELECT w.nodename, w.nodeport, w.success, w.result'
			'  FROM pg_catalog.run_command_on_workers($1) w'
			USING 'SELECT r.flushed OPERATOR(pg_catalog.||) '','' OPERATOR(pg_catalog.||) r.lost'
			      ' FROM @extschema@._flush_refusal_ring() r'
		LOOP
			IF v.success THEN
				v_flushed := v_flushed OPERATOR(pg_catalog.+) pg_catalog.split_part(v.result, ',', 1)::bigint;
				v_lost := v_lost OPERATOR(pg_catalog.+) pg_catalog.split_part(v.result, ',', 2)::bigint;
			ELSE
				RAISE WARNING 'the refusals of the worker %:% were not flushed: %', v.nodename, v.nodeport, v.result;
			END IF;
		END LOOP;
	END IF;

	-- the automatic flag: enough refusals that are the customer's doing
	-- within the window, since the flag was last lifted.  Not counted: the
	-- merchant's side (closed DP003, out of stock DP006), the platform's
	-- (a campaign's budget spent, DP606: its offer ran out, as a dish sells
	-- out), an unknown customer (DP012), one flagged already (DP011), an
	-- intake in a repeatable read or serializable transaction on a
	-- distributed install (DP031: the application server's isolation level,
	-- refused whoever the customer is), and the server's side: the state
	-- machine and the outbox (DP1xx: a zone moved to a worker not prepared,
	-- DP108, or an outbox restored before after_restore(), DP109, refuses
	-- every intake of the zone or session), keys and personal data (DP4xx:
	-- a key file unreadable during a deploy must not flag every customer
	-- who retries) and installation (DP9xx).
	FOR v IN
		SELECT r.customer_id, pg_catalog.count(*) AS n
		  FROM @extschema@.intake_refusals r
		  JOIN @extschema@.customers c ON c.customer_id OPERATOR(pg_catalog.=) r.customer_id
		 WHERE r.at OPERATOR(pg_catalog.>) v_since
		   AND r.sqlstate NOT IN ('DP003', 'DP006', 'DP011', 'DP012', 'DP031', 'DP606')
		   AND pg_catalog.left(r.sqlstate, 3) NOT IN ('DP1', 'DP4', 'DP9')
		   AND NOT c.flagged AND c.forgotten_at IS NULL
		   AND r.at OPERATOR(pg_catalog.>) COALESCE((SELECT pg_catalog.max(f.at) FROM @extschema@.customer_flags f
		                                              WHERE f.customer_id OPERATOR(pg_catalog.=) r.customer_id
		                                                AND NOT f.flagged), '-infinity')
		 GROUP BY r.customer_id
		HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>=) v_max
		 ORDER BY r.customer_id
	LOOP
		IF @extschema@._set_customer_flag(v.customer_id, true,
		       pg_catalog.format('auto: %s refused attempts in %s minutes', v.n, v_window), 'auto') THEN
			v_flagged := v_flagged OPERATOR(pg_catalog.+) 1;
		END IF;
	END LOOP;
	IF v_coordinator THEN
		PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', v_mode, true);
	END IF;
	flushed := v_flushed;
	lost := v_lost;
	flagged := v_flagged;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION @extschema@.flush_refusals() IS
	'Job: copies the refused intake attempts noted in the shared-memory ring (on a Citus coordinator, each worker''s too) since the last flush into intake_refusals (never one twice: keyed on the ring''s epoch and seq), counts entries the ring lost to overflow (refusal_flushes), then flags every customer with at least dispatch.fraud_max_refusals refused attempts of their own doing within dispatch.fraud_refusal_window_minutes since their flag was last lifted.  Returns the rows inserted, entries lost and customers flagged.  Run every minute by pg_cron (schedule_maintenance).';
REVOKE ALL ON FUNCTION @extschema@.flush_refusals() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.flush_refusals() TO dispatch_admin;

CREATE VIEW @extschema@.fraud_signals AS
WITH refused AS (
	SELECT r.customer_id, r.zone_id, r.reason, pg_catalog.count(*) AS n, pg_catalog.max(r.at) AS last_at
	  FROM @extschema@.intake_refusals r
	 WHERE r.at OPERATOR(pg_catalog.>) @extschema@._refusal_window_start()
	   AND r.customer_id IS NOT NULL
	 GROUP BY 1, 2, 3
), per AS (
	SELECT r.customer_id, r.zone_id, pg_catalog.sum(r.n)::bigint AS refusals,
	       pg_catalog.jsonb_object_agg(r.reason, r.n) AS by_reason, pg_catalog.max(r.last_at) AS last_at
	  FROM refused r
	 GROUP BY 1, 2
), flags AS (
	SELECT DISTINCT ON (f.customer_id) f.customer_id, f.at, f.actor
	  FROM @extschema@.customer_flags f
	 WHERE f.flagged
	 ORDER BY f.customer_id, f.flag_id DESC
)
SELECT p.customer_id, p.zone_id, p.refusals, p.by_reason AS refusals_by_reason, p.last_at AS last_refused_at,
       COALESCE(c.flagged, false) AS flagged,
       CASE WHEN c.flagged THEN fl.at END AS flagged_since,
       CASE WHEN c.flagged THEN c.flag_reason END AS flag_reason,
       CASE WHEN c.flagged THEN fl.actor END AS flagged_by
  FROM per p
  LEFT JOIN @extschema@.customers c ON c.customer_id OPERATOR(pg_catalog.=) p.customer_id
  LEFT JOIN flags fl ON fl.customer_id OPERATOR(pg_catalog.=) p.customer_id
UNION ALL
SELECT c.customer_id, NULL::bigint, 0::bigint, '{}'::jsonb, NULL::timestamptz, true, fl.at, c.flag_reason, fl.actor
  FROM @extschema@.customers c
  LEFT JOIN flags fl ON fl.customer_id OPERATOR(pg_catalog.=) c.customer_id
 WHERE c.flagged
   AND NOT EXISTS (SELECT FROM per p WHERE p.customer_id OPERATOR(pg_catalog.=) c.customer_id);
COMMENT ON VIEW @extschema@.fraud_signals IS
	'For operators: per customer id and zone (0: not known), the refused intake attempts within dispatch.fraud_refusal_window_minutes (as far as flush_refusals() has copied them), by reason, and whether the customer is flagged, since when, why and by whom (auto: flush_refusals()); a flagged customer without recent refusals has one row with zone_id NULL.  Ids only, no names or phone numbers.';
REVOKE ALL ON @extschema@.fraud_signals FROM PUBLIC;
GRANT SELECT ON @extschema@.fraud_signals TO dispatch_admin;
