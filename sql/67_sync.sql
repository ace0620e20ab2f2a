-- sql/67_sync.sql
-- Offline sync (DESIGN.md part 5, docs/sync.md): sync_rider takes what a
-- rider app cached while it had no signal, position pings and actions
-- (offer answers, pickups, deliveries), each with the app's own event id
-- and time, and answers item by item.
--
-- Actions are applied in the batch's order, the order in which the app
-- recorded them (its clock may jump back between two of them), and each
-- ping before the first action not older than it.  Every id is remembered per
-- rider (rider_sync_log), so a replayed batch or an id repeated in one
-- batch changes nothing and is answered 'duplicate'.  Pings are applied
-- set-based (one insert into the track, one update of the rider between
-- two actions): a ping older than the rider's newest position is tracked
-- and does not move the rider back.  Each action runs as the API call it
-- stands for, in a subtransaction of its own, judged against the state now
-- (an order cancelled meanwhile, an offer expired or given to someone
-- else): a refused one is answered 'rejected' with its reason and SQLSTATE,
-- and the others go on.  Orders are stamped with the server's time of the
-- sync, not the app's: a phone's clock is not evidence.

CREATE TABLE @extschema@.rider_sync_log (
	zone_id          bigint NOT NULL,
	rider_id         bigint NOT NULL,
	client_event_id  text NOT NULL,
	kind             text NOT NULL CHECK (kind IN ('ping', 'offer', 'picked_up', 'delivered')),
	client_at        timestamptz NOT NULL,
	synced_at        timestamptz NOT NULL,
	outcome          text NOT NULL CHECK (outcome IN ('applied', 'rejected')),
	sqlstate         text CHECK (sqlstate ~ '^[0-9A-Z]{5}$'),
	PRIMARY KEY (zone_id, rider_id, client_event_id)
);
CREATE INDEX rider_sync_log_synced_idx ON @extschema@.rider_sync_log (zone_id, synced_at);
COMMENT ON TABLE @extschema@.rider_sync_log IS
	'Every event id a rider app synced (sync_rider), with what became of it: a second item with the same id is a duplicate.  Removed with the rider tracks by the retention purge.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rider_sync_log', '');
REVOKE ALL ON @extschema@.rider_sync_log FROM PUBLIC;

-- The pings of a sync between two times (exclusive, inclusive), into the
-- track and, the newest, into the rider's position if it is newer and the
-- rider online.
CREATE FUNCTION @extschema@._sync_pings(p_zone_id bigint, p_rider_id bigint, p_at timestamptz[],
                                        p_lon float8[], p_lat float8[], p_after timestamptz, p_upto timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.rider_tracks (zone_id, rider_id, at, position)
	SELECT p_zone_id, p_rider_id, p.at, @extschema@._point(p.lon, p.lat)
	  FROM ROWS FROM (pg_catalog.unnest(p_at), pg_catalog.unnest(p_lon), pg_catalog.unnest(p_lat)) p(at, lon, lat)
	 WHERE (p_after IS NULL OR p.at OPERATOR(pg_catalog.>) p_after)
	   AND (p_upto IS NULL OR p.at OPERATOR(pg_catalog.<=) p_upto)
	ON CONFLICT DO NOTHING;
	UPDATE @extschema@.riders r SET position = @extschema@._point(n.lon, n.lat), position_at = n.at
	  FROM (SELECT p.at, p.lon, p.lat
	          FROM ROWS FROM (pg_catalog.unnest(p_at), pg_catalog.unnest(p_lon), pg_catalog.unnest(p_lat)) p(at, lon, lat)
	         WHERE (p_after IS NULL OR p.at OPERATOR(pg_catalog.>) p_after)
	           AND (p_upto IS NULL OR p.at OPERATOR(pg_catalog.<=) p_upto)
	         ORDER BY p.at DESC LIMIT 1) n
	 WHERE r.zone_id OPERATOR(pg_catalog.=) p_zone_id AND r.rider_id OPERATOR(pg_catalog.=) p_rider_id
	   AND r.forgotten_at IS NULL AND r.status OPERATOR(pg_catalog.=) 'online'
	   AND (r.position_at IS NULL OR r.position_at OPERATOR(pg_catalog.<) n.at);
END
$$;
COMMENT ON FUNCTION @extschema@._sync_pings(bigint, bigint, timestamptz[], float8[], float8[], timestamptz, timestamptz) IS
	'Internal: applies the synced pings with p_after < at <= p_upto (NULL: unbounded): all into the track, the newest into the rider''s position when it is newer than the known one (never an offline or forgotten rider''s).';
REVOKE ALL ON FUNCTION @extschema@._sync_pings(bigint, bigint, timestamptz[], float8[], float8[], timestamptz, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@.sync_rider_in_zone(zone_id bigint, rider_id bigint, batch jsonb)
RETURNS TABLE (item integer, client_event_id text, outcome text, reason text, sqlstate text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_zone bigint;
	v_known timestamptz;                  -- the rider's newest position before the sync
	v_online boolean;                     -- on shift: moved by its pings
	v_off_from timestamptz;               -- pings made between these two times were made
	v_off_to timestamptz;                 -- off shift (DP029), exclusive
	v_first timestamptz;                  -- and so were pings made before this one
	v_max_item integer;
	v_max_id integer;
	v_max_reason integer;
	-- the items, in the batch's order
	v_n integer[];
	v_id text[];
	v_kind text[];
	v_at timestamptz[];
	v_lon float8[];
	v_lat float8[];
	v_ref bigint[];
	v_accept boolean[];
	v_note text[];
	v_problem text[];
	-- what each item got, by position in v_n
	v_outcome text[];
	v_reason text[];
	v_state text[];
	v_fresh boolean[];
	v_ping_at timestamptz[];
	v_ping_lon float8[];
	v_ping_lat float8[];
	v_actions integer[];
	v_future timestamptz := v_now OPERATOR(pg_catalog.+) interval '1 minute';
	v_applied_upto timestamptz;
	v_owner bigint;
	v_msg text;
	v_code text;
	i integer;
BEGIN
	v_zone := sync_rider_in_zone.zone_id;
	-- the zone's lock, shared, before the rider's row (the pings take it):
	-- an item may wait for an accepted order that a batch holds while it
	-- waits for riders' rows (docs/matching.md, "Locking order")
	PERFORM @extschema@._lock_zone_routed(v_zone, NULL, sync_rider_in_zone.rider_id, true);
	-- a forgotten rider is refused as an unknown one (forget_rider)
	-- the rider's row locked (no key update, as the pings' update takes it):
	-- two syncs of a rider take turns, and an erasure in flight is waited
	-- for, so that no track is added after it; and when the rider was off
	-- shift: after it went offline, or, online again, in the break before
	-- the current shift; and before the rider's first shift
	SELECT r.position_at, r.status OPERATOR(pg_catalog.=) 'online',
	       CASE WHEN r.status OPERATOR(pg_catalog.=) 'online' THEN COALESCE(r.last_offline_at, 'infinity')
	            ELSE COALESCE(r.last_offline_at, '-infinity') END,
	       CASE WHEN r.status OPERATOR(pg_catalog.=) 'online' THEN COALESCE(r.online_since, '-infinity') ELSE 'infinity' END,
	       COALESCE(r.first_online_at, '-infinity')
	  INTO v_known, v_online, v_off_from, v_off_to, v_first FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone AND r.rider_id OPERATOR(pg_catalog.=) sync_rider_in_zone.rider_id
	   AND r.forgotten_at IS NULL
	   FOR NO KEY UPDATE OF r;
	IF NOT FOUND THEN
		PERFORM @extschema@._refuse_rider(v_zone, rider_id);
	END IF;
	IF batch IS NULL OR pg_catalog.jsonb_typeof(batch) OPERATOR(pg_catalog.<>) 'array' THEN
		RAISE EXCEPTION 'a sync batch is a JSON array of items'
			USING ERRCODE = 'DP701', HINT = 'docs/sync.md describes the items.';
	END IF;
	PERFORM @extschema@._check_length('sync_items', batch);
	SELECT pg_catalog.max(l.max_length) FILTER (WHERE l.input OPERATOR(pg_catalog.=) 'sync_item'),
	       pg_catalog.max(l.max_length) FILTER (WHERE l.input OPERATOR(pg_catalog.=) 'client_event_id'),
	       pg_catalog.max(l.max_length) FILTER (WHERE l.input OPERATOR(pg_catalog.=) 'reason')
	  INTO v_max_item, v_max_id, v_max_reason
	  FROM @extschema@.input_limits() l;
	IF EXISTS (SELECT FROM pg_catalog.jsonb_array_elements(batch) e(v)
	            WHERE pg_catalog.length(e.v::text) OPERATOR(pg_catalog.>) v_max_item) THEN
		RAISE EXCEPTION 'input too long: an item of the sync batch has more than % characters', v_max_item
			USING ERRCODE = 'DP028', HINT = 'SELECT * FROM dispatch.input_limits() lists every limit.';
	END IF;

	-- parse: a problem makes the item rejected (DP702); times are the
	-- app's, in milliseconds since 1970; coordinates are JSON numbers,
	-- compared as numeric, which holds any (1e400, 1e-400), and rounded to
	-- 15 decimals before float8, which would overflow or underflow
	SELECT pg_catalog.array_agg(p.n ORDER BY p.n),
	       pg_catalog.array_agg(p.id ORDER BY p.n),
	       pg_catalog.array_agg(p.kind ORDER BY p.n),
	       pg_catalog.array_agg(p.at ORDER BY p.n),
	       pg_catalog.array_agg(p.lon ORDER BY p.n),
	       pg_catalog.array_agg(p.lat ORDER BY p.n),
	       pg_catalog.array_agg(p.ref ORDER BY p.n),
	       pg_catalog.array_agg(p.accept ORDER BY p.n),
	       pg_catalog.array_agg(p.note ORDER BY p.n),
	       pg_catalog.array_agg(p.problem ORDER BY p.n)
	  INTO v_n, v_id, v_kind, v_at, v_lon, v_lat, v_ref, v_accept, v_note, v_problem
	  FROM (SELECT f.n, f.id, f.kind, f.at, f.lon, f.lat, f.ref, f.accept, f.note,
	               CASE WHEN f.is_object IS NOT TRUE THEN 'an item is a JSON object'
	                    WHEN f.id IS NULL THEN pg_catalog.format('an item needs an "id": a string of 1 to %s characters', v_max_id)
	                    WHEN f.at IS NULL THEN 'an item needs an "at": milliseconds since 1970, a whole number'
	                    WHEN f.kind IS NULL THEN 'an item''s "type" is ping, offer, picked_up or delivered'
	                    WHEN f.kind OPERATOR(pg_catalog.=) 'ping' AND (f.lon IS NULL OR f.lat IS NULL)
	                        THEN 'a ping needs "lon" in [-180, 180] and "lat" in [-90, 90]'
	                    WHEN f.kind OPERATOR(pg_catalog.<>) 'ping' AND f.ref IS NULL
	                        THEN CASE WHEN f.kind OPERATOR(pg_catalog.=) 'offer' THEN 'an offer item needs "offer_id"'
	                                  ELSE pg_catalog.format('a %s item needs "order_id"', f.kind) END
	                    WHEN f.kind OPERATOR(pg_catalog.=) 'offer' AND f.accept IS NULL
	                        THEN 'an offer item needs "accept": true or false'
	                    WHEN f.kind OPERATOR(pg_catalog.=) 'offer'
	                         AND pg_catalog.length(f.note) OPERATOR(pg_catalog.>) v_max_reason
	                        THEN pg_catalog.format('an offer item''s "reason" has at most %s characters', v_max_reason)
	               END AS problem
	          FROM (SELECT e.n::integer AS n,
	                       pg_catalog.jsonb_typeof(e.v) OPERATOR(pg_catalog.=) 'object' AS is_object,
	                       CASE WHEN pg_catalog.jsonb_typeof(e.v OPERATOR(pg_catalog.->) 'id') OPERATOR(pg_catalog.=) 'string'
	                             AND pg_catalog.length(e.v OPERATOR(pg_catalog.->>) 'id') BETWEEN 1 AND v_max_id
	                            THEN e.v OPERATOR(pg_catalog.->>) 'id' END AS id,
	                       CASE WHEN (e.v OPERATOR(pg_catalog.->>) 'type') IN ('ping', 'offer', 'picked_up', 'delivered')
	                            THEN e.v OPERATOR(pg_catalog.->>) 'type' END AS kind,
	                       CASE WHEN (e.v OPERATOR(pg_catalog.->>) 'at') OPERATOR(pg_catalog.~) '^[0-9]{1,15}$'
	                            THEN pg_catalog.to_timestamp((e.v OPERATOR(pg_catalog.->>) 'at')::float8
	                                                         OPERATOR(pg_catalog./) 1000) END AS at,
	                       CASE WHEN pg_catalog.jsonb_typeof(e.v OPERATOR(pg_catalog.->) 'lon') OPERATOR(pg_catalog.=) 'number'
	                             AND (e.v OPERATOR(pg_catalog.->) 'lon')::numeric BETWEEN -180 AND 180
	                            THEN pg_catalog.round((e.v OPERATOR(pg_catalog.->) 'lon')::numeric, 15)::float8 END AS lon,
	                       CASE WHEN pg_catalog.jsonb_typeof(e.v OPERATOR(pg_catalog.->) 'lat') OPERATOR(pg_catalog.=) 'number'
	                             AND (e.v OPERATOR(pg_catalog.->) 'lat')::numeric BETWEEN -90 AND 90
	                            THEN pg_catalog.round((e.v OPERATOR(pg_catalog.->) 'lat')::numeric, 15)::float8 END AS lat,
	                       -- an offer item names its offer, the others their
	                       -- order, each in its own field: offer and order ids
	                       -- share one layout and may be equal, so the other
	                       -- field is never read in its place
	                       CASE WHEN (e.v OPERATOR(pg_catalog.->>) r.field) OPERATOR(pg_catalog.~) '^[0-9]{1,18}$'
	                            THEN (e.v OPERATOR(pg_catalog.->>) r.field)::bigint
	                       END AS ref,
	                       CASE WHEN pg_catalog.jsonb_typeof(e.v OPERATOR(pg_catalog.->) 'accept') OPERATOR(pg_catalog.=) 'boolean'
	                            THEN (e.v OPERATOR(pg_catalog.->>) 'accept')::boolean END AS accept,
	                       e.v OPERATOR(pg_catalog.->>) 'reason' AS note
	                  FROM pg_catalog.jsonb_array_elements(batch) WITH ORDINALITY e(v, n),
	                       LATERAL (SELECT CASE WHEN (e.v OPERATOR(pg_catalog.->>) 'type') OPERATOR(pg_catalog.=) 'offer' THEN 'offer_id'
	                                 WHEN (e.v OPERATOR(pg_catalog.->>) 'type') IN ('picked_up', 'delivered') THEN 'order_id'
	                                 END AS field) r) f) p;
	IF v_n IS NULL THEN
		RETURN;                       -- an empty batch
	END IF;

	-- remember every well-formed id; the ones remembered already, or
	-- repeated in this batch (the first well-formed one counts), are
	-- duplicates.  Malformed items are numbered apart: one must not make a
	-- good item with its id a duplicate, since it is neither applied nor
	-- remembered itself.
	WITH items AS (
		SELECT u.id, u.kind, u.at, u.problem, u.ord,
		       pg_catalog.row_number() OVER (PARTITION BY u.id, u.problem IS NULL ORDER BY u.ord) AS nth
		  FROM ROWS FROM (pg_catalog.unnest(v_id), pg_catalog.unnest(v_kind), pg_catalog.unnest(v_at), pg_catalog.unnest(v_problem)) WITH ORDINALITY u(id, kind, at, problem, ord)),
	logged AS (
		INSERT INTO @extschema@.rider_sync_log AS l (zone_id, rider_id, client_event_id, kind, client_at, synced_at, outcome)
		SELECT v_zone, sync_rider_in_zone.rider_id, i.id, i.kind, i.at, v_now, 'applied'
		  FROM items i
		 WHERE i.problem IS NULL AND i.nth OPERATOR(pg_catalog.=) 1
		ON CONFLICT DO NOTHING
		RETURNING l.client_event_id)
	SELECT pg_catalog.array_agg((i.problem IS NULL AND i.nth OPERATOR(pg_catalog.=) 1 AND l.client_event_id IS NOT NULL)
	                            ORDER BY i.ord)
	  INTO v_fresh
	  FROM items i LEFT JOIN logged l ON l.client_event_id OPERATOR(pg_catalog.=) i.id;

	-- pings and duplicates, set-based: the outcome of every item that is
	-- not an action or malformed, and the pings to apply (one older than
	-- the rider's position before the sync is tracked only, since every
	-- earlier ping of the batch is older still).  A ping made after the
	-- rider went offline, or in the break before the current shift, is
	-- refused, as a live one is, and so is one made before the rider's
	-- first shift (no position is recorded off shift; the row
	-- lock above keeps the status through the sync); one made before an
	-- offline rider went offline, cached while the phone had no signal, is
	-- tracked only: an offline rider is not moved
	SELECT pg_catalog.array_agg(CASE WHEN u.problem IS NOT NULL THEN NULL
	                                 WHEN NOT u.fresh THEN 'duplicate'
	                                 WHEN u.kind OPERATOR(pg_catalog.<>) 'ping' THEN NULL
	                                 WHEN u.off_shift THEN 'rejected'
	                                 WHEN u.at OPERATOR(pg_catalog.>) v_future THEN 'rejected'
	                                 ELSE 'applied' END ORDER BY u.ord),
	       pg_catalog.array_agg(CASE WHEN u.problem IS NULL AND u.fresh AND u.kind OPERATOR(pg_catalog.=) 'ping' THEN
	                                 CASE WHEN u.off_shift
	                                      THEN pg_catalog.format(CASE WHEN v_online OR u.at OPERATOR(pg_catalog.<) v_first
	                                                                  THEN 'rider %s was offline then: no position is recorded off shift'
	                                                                  ELSE 'rider %s is offline: no position is recorded off shift' END,
	                                                             sync_rider_in_zone.rider_id)
	                                      WHEN u.at OPERATOR(pg_catalog.>) v_future
	                                      THEN 'a ping may not lie more than a minute in the future'
	                                      WHEN NOT v_online
	                                      THEN 'tracked; made before the rider went offline, whose position stays'
	                                      WHEN u.at OPERATOR(pg_catalog.<) v_known
	                                      THEN 'tracked; older than the rider''s newest position, which stays' END
	                            END ORDER BY u.ord),
	       pg_catalog.array_agg(CASE WHEN u.problem IS NULL AND u.fresh AND u.kind OPERATOR(pg_catalog.=) 'ping' THEN
	                                 CASE WHEN u.off_shift THEN 'DP029'
	                                      WHEN u.at OPERATOR(pg_catalog.>) v_future THEN 'DP024' END
	                            END ORDER BY u.ord),
	       pg_catalog.array_agg(u.at ORDER BY u.ord) FILTER (WHERE u.problem IS NULL AND u.fresh
	                                 AND u.kind OPERATOR(pg_catalog.=) 'ping' AND NOT u.off_shift
	                                 AND u.at OPERATOR(pg_catalog.<=) v_future),
	       pg_catalog.array_agg(u.lon ORDER BY u.ord) FILTER (WHERE u.problem IS NULL AND u.fresh
	                                 AND u.kind OPERATOR(pg_catalog.=) 'ping' AND NOT u.off_shift
	                                 AND u.at OPERATOR(pg_catalog.<=) v_future),
	       pg_catalog.array_agg(u.lat ORDER BY u.ord) FILTER (WHERE u.problem IS NULL AND u.fresh
	                                 AND u.kind OPERATOR(pg_catalog.=) 'ping' AND NOT u.off_shift
	                                 AND u.at OPERATOR(pg_catalog.<=) v_future),
	       pg_catalog.array_agg(u.ord::integer ORDER BY u.ord) FILTER (WHERE u.problem IS NOT NULL
	                                 OR (u.fresh AND u.kind OPERATOR(pg_catalog.<>) 'ping'))
	  INTO v_outcome, v_reason, v_state, v_ping_at, v_ping_lon, v_ping_lat, v_actions
	  FROM (SELECT u.*,
	               (u.at OPERATOR(pg_catalog.>) v_off_from AND u.at OPERATOR(pg_catalog.<) v_off_to
	                OR u.at OPERATOR(pg_catalog.<) v_first) AS off_shift
	          FROM ROWS FROM (pg_catalog.unnest(v_problem), pg_catalog.unnest(v_fresh), pg_catalog.unnest(v_kind),
	                          pg_catalog.unnest(v_at), pg_catalog.unnest(v_lon), pg_catalog.unnest(v_lat))
	               WITH ORDINALITY u(problem, fresh, kind, at, lon, lat, ord)) u;

	-- actions and malformed items, in the batch's order: each in a
	-- subtransaction of its own, so that a refusal undoes only itself;
	-- before an action, the pings up to its time not applied yet (an action
	-- stamped before an earlier one, the phone's clock set back, has none)
	FOREACH i IN ARRAY COALESCE(v_actions, '{}') LOOP
		IF v_problem[i] IS NULL AND v_ping_at IS NOT NULL
		   AND (v_applied_upto IS NULL OR v_at[i] OPERATOR(pg_catalog.>) v_applied_upto) THEN
			PERFORM @extschema@._sync_pings(v_zone, sync_rider_in_zone.rider_id, v_ping_at, v_ping_lon, v_ping_lat,
			                                v_applied_upto, v_at[i]);
			v_applied_upto := v_at[i];
		END IF;
		BEGIN
			IF v_problem[i] IS NOT NULL THEN
				RAISE EXCEPTION '%', v_problem[i] USING ERRCODE = 'DP702';
			ELSIF v_kind[i] OPERATOR(pg_catalog.=) 'offer' THEN
				SELECT f.rider_id INTO v_owner FROM @extschema@.offers f
				 WHERE f.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(v_ref[i])
				   AND f.offer_id OPERATOR(pg_catalog.=) v_ref[i];
				IF FOUND AND v_owner OPERATOR(pg_catalog.<>) sync_rider_in_zone.rider_id THEN
					RAISE EXCEPTION 'offer % was made to another rider', v_ref[i] USING ERRCODE = 'DP703';
				END IF;
				PERFORM @extschema@.respond_offer(v_ref[i], v_accept[i], v_note[i]);
			ELSIF v_kind[i] OPERATOR(pg_catalog.=) 'picked_up' THEN
				PERFORM @extschema@.mark_picked_up(v_ref[i], sync_rider_in_zone.rider_id);
			ELSE
				PERFORM @extschema@.mark_delivered(v_ref[i], sync_rider_in_zone.rider_id);
			END IF;
			v_outcome[i] := 'applied';
		EXCEPTION WHEN OTHERS THEN
			-- a refusal (class DP) answers the item; anything else (a lock
			-- timeout, a serialization failure) fails the sync
			GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_code = RETURNED_SQLSTATE;
			IF pg_catalog.left(v_code, 2) OPERATOR(pg_catalog.<>) 'DP' THEN
				RAISE;
			END IF;
			v_outcome[i] := 'rejected';
			v_reason[i] := v_msg;
			v_state[i] := v_code;
		END;
	END LOOP;
	IF v_ping_at IS NOT NULL THEN
		PERFORM @extschema@._sync_pings(v_zone, sync_rider_in_zone.rider_id, v_ping_at, v_ping_lon, v_ping_lat,
		                                v_applied_upto, NULL);
	END IF;

	-- what was refused, in the log (well-formed items only: malformed ones
	-- were not remembered)
	IF 'rejected' OPERATOR(pg_catalog.=) ANY (v_outcome) THEN
		UPDATE @extschema@.rider_sync_log l SET outcome = 'rejected', sqlstate = r.state
		  FROM (SELECT u.id, u.state
		          FROM ROWS FROM (pg_catalog.unnest(v_id), pg_catalog.unnest(v_outcome), pg_catalog.unnest(v_state))
		               u(id, outcome, state)
		         WHERE u.outcome OPERATOR(pg_catalog.=) 'rejected' AND u.state OPERATOR(pg_catalog.<>) 'DP702') r
		 WHERE l.zone_id OPERATOR(pg_catalog.=) v_zone AND l.rider_id OPERATOR(pg_catalog.=) sync_rider_in_zone.rider_id
		   AND l.client_event_id OPERATOR(pg_catalog.=) r.id;
	END IF;

	RETURN QUERY
	SELECT r.n, r.id, r.outcome, r.reason, r.state
	  FROM ROWS FROM (pg_catalog.unnest(v_n), pg_catalog.unnest(v_id), pg_catalog.unnest(v_outcome), pg_catalog.unnest(v_reason), pg_catalog.unnest(v_state)) r(n, id, outcome, reason, state)
	 ORDER BY r.n;
END
$$;
COMMENT ON FUNCTION @extschema@.sync_rider_in_zone(bigint, bigint, jsonb) IS
	'sync_rider for an app that keeps its riders'' zones (the zone given to register_rider; a rider never changes zone): the same answers, and a zone that is not the rider''s is refused (DP015), nothing written.  On Citus the call is sent whole to the zone''s worker (distribute()).';
REVOKE ALL ON FUNCTION @extschema@.sync_rider_in_zone(bigint, bigint, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sync_rider_in_zone(bigint, bigint, jsonb) TO dispatch_app, dispatch_admin;

CREATE FUNCTION @extschema@.sync_rider(rider_id bigint, batch jsonb)
RETURNS TABLE (item integer, client_event_id text, outcome text, reason text, sqlstate text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint := @extschema@._rider_zone(sync_rider.rider_id);
BEGIN
	RETURN QUERY
	SELECT s.item, s.client_event_id, s.outcome, s.reason, s.sqlstate
	  FROM @extschema@.sync_rider_in_zone(v_zone, sync_rider.rider_id, batch) s;
END
$$;
COMMENT ON FUNCTION @extschema@.sync_rider(bigint, jsonb) IS
	'Applies what a rider app cached offline: a JSON array of items {"id", "at" (ms since 1970), "type": ping (lon, lat) | offer (offer_id, accept, reason) | picked_up (order_id) | delivered (order_id)}, actions in the batch''s order, each ping before the first action not older than it, each once per id; answers one row per item (its position, id, applied | duplicate | rejected, reason, SQLSTATE).  docs/sync.md.  On Citus it first takes the zone''s matching lock, shared, on the zone''s worker, where the zone''s batch takes it.  DP701 not an array, DP028 over the limits, DP015 unknown rider; a ping item made after the rider went offline, or in the break before the current shift, or before the rider''s first shift, is rejected (DP029): no position is recorded off shift; one made before an offline rider went offline is tracked only.';
REVOKE ALL ON FUNCTION @extschema@.sync_rider(bigint, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sync_rider(bigint, jsonb) TO dispatch_app, dispatch_admin;
