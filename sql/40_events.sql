-- sql/40_events.sql
-- The clock, the order state machine and the event outbox.

CREATE FUNCTION @extschema@.clock() RETURNS timestamptz
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_clock';
COMMENT ON FUNCTION @extschema@.clock() IS
	'Current dispatch time: now(), unless the session sets dispatch.clock_override (tests, simulation).  Every part reads time through it.';
REVOKE ALL ON FUNCTION @extschema@.clock() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.clock() TO dispatch_app, dispatch_gateway, dispatch_analyst, dispatch_admin;

CREATE FUNCTION @extschema@.order_state_trigger() RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'dispatch_order_state';
COMMENT ON FUNCTION @extschema@.order_state_trigger() IS
	'The order state machine (C): allows only the transitions of DESIGN.md (a release must remove the rider in the same update), stamps each with its time and the next status_version (and payment_attempt one more when a failed payment is retried), writes its event and notifies dispatch_events.';
REVOKE ALL ON FUNCTION @extschema@.order_state_trigger() FROM PUBLIC;

CREATE TRIGGER order_state
	BEFORE INSERT OR UPDATE OF status ON @extschema@.orders
	FOR EACH ROW EXECUTE FUNCTION @extschema@.order_state_trigger();

CREATE FUNCTION @extschema@._emit_event(zone_id bigint, kind text, order_id bigint,
                                       customer_id bigint, rider_id bigint, payload jsonb)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_emit_event';
COMMENT ON FUNCTION @extschema@._emit_event(bigint, text, bigint, bigint, bigint, jsonb) IS
	'Internal: appends an event to the outbox and notifies dispatch_events; returns its seq.  The payload must hold no personal data.';
REVOKE ALL ON FUNCTION @extschema@._emit_event(bigint, text, bigint, bigint, bigint, jsonb) FROM PUBLIC;

-- This node's base of event numbers (src/event_numbers.c): 0 on one
-- server and on the nodes distribute() placed; a worker added later gets
-- one above every number of the cluster before shards move to it
-- (prepare_worker, docs/citus.md "Adding a worker"), so that a zone's
-- numbers keep rising when its shards move there, and a server that an
-- outbox was restored into gets one above the restored numbers
-- (after_restore, below).  Local to each node, like relay_position: not
-- dumped.
CREATE TABLE @extschema@.event_base (
	only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
	base      bigint NOT NULL CHECK (base BETWEEN 0 AND 4398046511103),
	at        timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.event_base IS
	'This node''s base of event numbers: an event''s seq is ((base + writing transaction id) << 20) | ordinal.  No row: 0.  Set on a Citus worker, above every number of the cluster, before any shard of the outbox is on it: by distribute() on each worker it places, by prepare_worker on a worker added later; raised by prepare_move before a zone''s shards move to it; set above a restored outbox by after_restore.';
REVOKE ALL ON TABLE @extschema@.event_base FROM PUBLIC;

CREATE FUNCTION @extschema@._event_base() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN COALESCE((SELECT b.base FROM @extschema@.event_base b), 0);
COMMENT ON FUNCTION @extschema@._event_base() IS
	'Internal: this node''s base of event numbers (event_base; 0 without a row), which the outbox''s numbers and their horizon add to the transaction id.';
REVOKE ALL ON FUNCTION @extschema@._event_base() FROM PUBLIC;

-- writers keep the base they read (src/event_numbers.c) until the table
-- changes
CREATE FUNCTION @extschema@._event_base_changed() RETURNS trigger
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_event_base_changed';
COMMENT ON FUNCTION @extschema@._event_base_changed() IS
	'Internal: statement trigger on event_base: the base of event numbers each backend keeps is read again after the change commits.';
REVOKE ALL ON FUNCTION @extschema@._event_base_changed() FROM PUBLIC;
CREATE TRIGGER event_base_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_base
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._event_base_changed();
COMMENT ON TRIGGER event_base_changed ON @extschema@.event_base IS
	'Makes every backend read the base of event numbers again once the change commits.';

-- Raising this node's base (prepare_move, on a Citus worker about to
-- receive a zone's shards), between writers: the numbering lock in
-- exclusive mode waits for every transaction that numbered an event with
-- the old base and holds new ones back until the raise commits; they then
-- number with the new base, and a snapshot that sees the raise sees every
-- event numbered with the old one (src/events.c).  Never lowers it.  New
-- writers queue behind the raise while it waits, so it waits at most five
-- seconds (lock_timeout): a writer open longer (a session idle in its
-- transaction) makes it fail, nothing changed, the writers going on.
CREATE FUNCTION @extschema@._raise_event_base(p_base bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
DECLARE
	v_base bigint;
BEGIN
	-- one raise at a time; writers read the table meanwhile
	LOCK TABLE @extschema@.event_base IN EXCLUSIVE MODE;
	PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._lock_key('numbering')::integer, 0);
	UPDATE @extschema@.event_base b SET base = GREATEST(b.base, p_base), at = pg_catalog.now()
	RETURNING b.base INTO v_base;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'this node has no base of event numbers'
			USING ERRCODE = 'DP916',
			      HINT = 'A worker gets its base from distribute() or prepare_worker().';
	END IF;
	RETURN v_base;
END
$$;
COMMENT ON FUNCTION @extschema@._raise_event_base(bigint) IS
	'Internal, on a node (prepare_move): raises its base of event numbers to p_base (never lowers it) once every transaction numbering events with the old base has ended; returns the base.  DP916 on a node without a base.';
REVOKE ALL ON FUNCTION @extschema@._raise_event_base(bigint) FROM PUBLIC;

-- After a restore into another cluster (docs/operations.md, "Dump and
-- restore"): the outbox comes back with the numbers of the cluster it was
-- dumped from, and this node's base, which belongs to the node, is not
-- dumped.  Where that cluster's transaction ids ran ahead of this one's,
-- this node would number its events below the restored ones, below every
-- gateway's cursor and growth_cursors, and a backend's first event is
-- refused (DP109, src/events.c).  This raises the base so that every
-- number this node gives from now on lies above the restored outbox's
-- last by margin transactions' worth at least (a gateway whose state file
-- holds a number the old cluster gave after the dump then passes over
-- none of this node's events, up to that many transactions after it).
-- Between writers, as _raise_event_base: the numbering lock in exclusive
-- mode waits for every transaction numbering with the old base.  Nothing
-- to do, and nothing changed, where the outbox lies below this node's
-- numbers already (a restore into the same cluster, a second call).
CREATE FUNCTION @extschema@.after_restore(margin bigint DEFAULT 4294967296) RETURNS bigint
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
DECLARE
	v_base bigint;
	v_xid bigint;
	v_top bigint;
BEGIN
	IF margin IS NULL OR margin OPERATOR(pg_catalog.<) 0
	   OR margin OPERATOR(pg_catalog.>) 1099511627776 THEN
		RAISE EXCEPTION 'after_restore needs a margin between 0 and 2^40 transactions'
			USING ERRCODE = 'DP025';
	END IF;
	LOCK TABLE @extschema@.event_base IN EXCLUSIVE MODE;
	PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._lock_key('numbering')::integer, 0);
	v_base := COALESCE((SELECT b.base FROM @extschema@.event_base b), 0);
	-- every transaction that numbers an event from now on has a larger id
	v_xid := pg_catalog.pg_current_xact_id()::text::bigint;
	SELECT e.seq INTO v_top FROM @extschema@.events e ORDER BY e.seq DESC LIMIT 1;
	IF v_top IS NULL
	   OR (v_top OPERATOR(pg_catalog.>>) 20) OPERATOR(pg_catalog.<) (v_base OPERATOR(pg_catalog.+) v_xid) THEN
		RETURN v_base;
	END IF;
	-- the next transaction's numbers: above (v_top >> 20) + margin
	v_base := ((v_top OPERATOR(pg_catalog.>>) 20) OPERATOR(pg_catalog.-) v_xid) OPERATOR(pg_catalog.+) margin;
	INSERT INTO @extschema@.event_base AS b (only_row, base) VALUES (true, v_base)
	ON CONFLICT (only_row) DO UPDATE SET base = excluded.base, at = pg_catalog.now();
	RETURN v_base;
END
$$;
COMMENT ON FUNCTION @extschema@.after_restore(bigint) IS
	'Once after restoring a dump into another cluster, before writers start (docs/operations.md, "Dump and restore"): raises this node''s base of event numbers so that its new events are numbered above the restored outbox''s last, by margin transactions at least, once every transaction numbering events with the old base has ended; returns the base.  Changes nothing where the outbox lies below this node''s numbers already.  Until it has run, a new event below the restored ones is refused (DP109).  DP025 for a margin outside 0..2^40.';
REVOKE ALL ON FUNCTION @extschema@.after_restore(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.after_restore(bigint) TO dispatch_admin;

-- C (src/event_numbers.c): the snapshot's xmin as a 64-bit transaction
-- id, plus the node's base as the snapshot sees it, shifted; the relay
-- reads it each round
CREATE FUNCTION @extschema@._event_horizon() RETURNS bigint
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_event_horizon_sql';
COMMENT ON FUNCTION @extschema@._event_horizon() IS
	'Internal: the first seq that a transaction still running, or starting later, could write: every event below it has committed or never will (the seq layout, with this node''s base, is in docs/events.md).';
REVOKE ALL ON FUNCTION @extschema@._event_horizon() FROM PUBLIC;

-- The relay (src/relay.c): where it is in the outbox, moved in the same
-- transaction as the notifications it sends.
CREATE TABLE @extschema@.relay_position (
	only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
	seq       bigint NOT NULL,
	at        timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.relay_position IS
	'The relay''s position in the outbox: every event with a smaller or equal seq is handled.  One row, written by the relay only.';
REVOKE ALL ON TABLE @extschema@.relay_position FROM PUBLIC;

CREATE FUNCTION @extschema@.relay_status(OUT database name, OUT pid integer, OUT ready boolean,
                                         OUT "position" bigint, OUT rounds bigint, OUT relayed bigint,
                                         OUT last_round timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL SAFE ROWS 4
AS 'MODULE_PATHNAME', 'dispatch_relay_status';
COMMENT ON FUNCTION @extschema@.relay_status() IS
	'One row per relay of dispatch.relay_databases: its process (NULL: not running), whether writers hand it their notifications, its position in the outbox, rounds that sent notifications, notifications sent and the last such round.  No rows without dispatch in shared_preload_libraries.';
REVOKE ALL ON FUNCTION @extschema@.relay_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.relay_status() TO dispatch_admin;

CREATE FUNCTION @extschema@.events_since(after_seq bigint, max_events integer DEFAULT 1000,
                                        zone_id bigint DEFAULT NULL)
RETURNS SETOF @extschema@.events
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF after_seq IS NULL OR max_events IS NULL
	   OR max_events OPERATOR(pg_catalog.<) 1 OR max_events OPERATOR(pg_catalog.>) 100000 THEN
		RAISE EXCEPTION 'events_since needs a seq and max_events between 1 and 100000'
			USING ERRCODE = 'DP025';
	END IF;
	-- a zone that does not exist has no events and never will: refused, so
	-- that a gateway given a wrong zone says so instead of waiting for ever
	IF events_since.zone_id IS NOT NULL AND NOT EXISTS (
		SELECT FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) events_since.zone_id) THEN
		RAISE EXCEPTION 'zone % does not exist', events_since.zone_id
			USING ERRCODE = 'DP016',
			      HINT = 'events_since reads the events of one zone of create_zone, or of every zone with a NULL zone.';
	END IF;
	-- Only events of transactions older than this snapshot's xmin: they have
	-- all ended, so nothing can appear below this horizon later.
	RETURN QUERY
	SELECT e.*
	  FROM @extschema@.events e
	 WHERE e.seq OPERATOR(pg_catalog.>) after_seq
	   AND e.seq OPERATOR(pg_catalog.<) @extschema@._event_horizon()
	   AND (events_since.zone_id IS NULL OR e.zone_id OPERATOR(pg_catalog.=) events_since.zone_id)
	 ORDER BY e.seq
	 LIMIT max_events;
END
$$;
COMMENT ON FUNCTION @extschema@.events_since(bigint, integer, bigint) IS
	'Catch-up for push gateways: committed events with seq > after_seq in seq order, at most max_events, optionally of one zone.  Calling it again with the last seq returned sees every committed event exactly once.  DP025 without a seq or for max_events outside 1..100000, DP016 for a zone that does not exist.';
REVOKE ALL ON FUNCTION @extschema@.events_since(bigint, integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.events_since(bigint, integer, bigint) TO dispatch_gateway, dispatch_admin;
