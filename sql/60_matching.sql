-- sql/60_matching.sql
-- Matching and batch assignment (DESIGN.md part 4): per-zone settings and
-- vehicle limits, offers with their audit trail, exclusions, the C entry
-- points nearest_riders and assign_batch, and respond_offer.  The rider
-- columns the cost model needs (active_orders, pending_offers, the shift
-- and day counters) and riders_available_idx are part of the riders table
-- in sql/20_schema.sql; this file keeps them up to date.
--
-- Slots.  A rider's free slots are capacity - active_orders - pending_offers.
-- active_orders counts the rider's assigned and picked-up orders and is kept
-- by a trigger on orders; pending_offers counts the rider's unanswered
-- offers and is kept by assign_batch, respond_offer and the rider status
-- trigger.  A partial GiST index holds the positions of riders who are
-- online with a free slot, so that finding candidates never looks at
-- offline or full riders.
--
-- Locking order, everywhere: zone (advisory: batches and assign_manually),
-- rider row, offer row, order row.  See docs/matching.md.

-- ----------------------------------------------------------------- settings

CREATE TABLE @extschema@.matching_settings (
	zone_id              bigint PRIMARY KEY CHECK (zone_id >= 0),
	k_candidates         integer NOT NULL DEFAULT 12 CHECK (k_candidates BETWEEN 1 AND 200),
	radius_m             real NOT NULL DEFAULT 5000 CHECK (radius_m > 0),
	stale_after_s        integer NOT NULL DEFAULT 120 CHECK (stale_after_s > 0),
	offer_ttl_s          integer NOT NULL DEFAULT 45 CHECK (offer_ttl_s BETWEEN 5 AND 3600),
	hold_cost            real NOT NULL DEFAULT 1800 CHECK (hold_cost >= 0),
	w_travel             real NOT NULL DEFAULT 1.0 CHECK (w_travel >= 0),
	w_rider_wait         real NOT NULL DEFAULT 0.3 CHECK (w_rider_wait >= 0),
	w_food_wait          real NOT NULL DEFAULT 1.0 CHECK (w_food_wait >= 0),
	w_late               real NOT NULL DEFAULT 2.0 CHECK (w_late >= 0),
	priority_hot         real NOT NULL DEFAULT 1.5 CHECK (priority_hot >= 1),
	priority_fresh       real NOT NULL DEFAULT 2.0 CHECK (priority_fresh >= 1),
	load_penalty_s       real NOT NULL DEFAULT 300 CHECK (load_penalty_s >= 0),
	w_fair_orders        real NOT NULL DEFAULT 60 CHECK (w_fair_orders >= 0),
	w_fair_earnings      real NOT NULL DEFAULT 0.3 CHECK (w_fair_earnings >= 0),
	w_shift_hour         real NOT NULL DEFAULT 60 CHECK (w_shift_hour >= 0),
	max_shift_minutes    integer NOT NULL DEFAULT 240 CHECK (max_shift_minutes > 0),
	min_break_minutes    integer NOT NULL DEFAULT 15 CHECK (min_break_minutes >= 0),
	max_daily_minutes    integer NOT NULL DEFAULT 600 CHECK (max_daily_minutes > 0),
	max_batch_orders     integer NOT NULL DEFAULT 5000 CHECK (max_batch_orders > 0),
	max_arcs             integer NOT NULL DEFAULT 500000 CHECK (max_arcs > 0),
	time_budget_ms       real NOT NULL DEFAULT 100 CHECK (time_budget_ms > 0),
	candidate_source     text NOT NULL DEFAULT 'index' CHECK (candidate_source IN ('grid', 'index')),
	widen_rounds         integer NOT NULL DEFAULT 3 CHECK (widen_rounds BETWEEN 0 AND 5),
	source               text NOT NULL DEFAULT 'operator'
	                     CONSTRAINT matching_settings_source_check CHECK (source IN ('default', 'operator')),
	-- no offer in which the rider would wait at the pickup longer than this
	-- for the food (NULL: no limit): such an order waits for a later batch
	max_rider_wait_s     integer CHECK (max_rider_wait_s BETWEEN 0 AND 86400),
	-- every real setting finite and at most 1e6 (NaN compares above every
	-- number, so this also rules it out): costs stay finite and within what
	-- the solver takes (docs/matching.md, "Bounds")
	CONSTRAINT matching_settings_finite
	    CHECK (radius_m <= 1e6
	         AND hold_cost <= 1e6
	         AND w_travel <= 1e6
	         AND w_rider_wait <= 1e6
	         AND w_food_wait <= 1e6
	         AND w_late <= 1e6
	         AND priority_hot <= 1e6
	         AND priority_fresh <= 1e6
	         AND load_penalty_s <= 1e6
	         AND w_fair_orders <= 1e6
	         AND w_fair_earnings <= 1e6
	         AND w_shift_hour <= 1e6
	         AND time_budget_ms <= 1e6)
);
INSERT INTO @extschema@.matching_settings (zone_id, source) VALUES (0, 'default');
COMMENT ON TABLE @extschema@.matching_settings IS
	'Cost weights and limits of matching, per zone; the row of zone 0 holds the defaults for zones without a row of their own.  Costs are in seconds of delay; docs/matching.md explains every column.';
COMMENT ON COLUMN @extschema@.matching_settings.source IS
	'default: the row as the extension ships it (zone 0), recreated by CREATE EXTENSION; operator: inserted or edited by an operator, kept by pg_dump.  Kept by triggers.';

CREATE TABLE @extschema@.vehicle_profiles (
	vehicle        text PRIMARY KEY CONSTRAINT vehicle_profiles_vehicle_check CHECK (@extschema@._vehicle_ok(vehicle)),
	speed_factor   real NOT NULL CHECK (speed_factor > 0),
	max_pickup_m   real NOT NULL CHECK (max_pickup_m > 0),
	max_trip_m     real NOT NULL CHECK (max_trip_m > 0),
	source         text NOT NULL DEFAULT 'operator'
	               CONSTRAINT vehicle_profiles_source_check CHECK (source IN ('default', 'operator')),
	-- finite (NaN compares above every number, so this rules it out too):
	-- a NaN limit would compare false and let every pair through
	CONSTRAINT vehicle_profiles_finite
	    CHECK (speed_factor <= 10 AND max_pickup_m <= 1e6 AND max_trip_m <= 1e6)
);
INSERT INTO @extschema@.vehicle_profiles (vehicle, speed_factor, max_pickup_m, max_trip_m, source) VALUES
	('foot',      0.35,  1500,  2500, 'default'),
	('bicycle',   0.8,   4000,  6000, 'default'),
	('ebike',     1.0,   6000, 12000, 'default'),
	('motorbike', 1.3,  10000, 25000, 'default'),
	('car',       1.2,  15000, 40000, 'default');
COMMENT ON TABLE @extschema@.vehicle_profiles IS
	'Per vehicle: speed as a factor of the zone''s speed, the longest ride to a pickup, and the longest order (pickup to drop-off) it takes.';
COMMENT ON COLUMN @extschema@.vehicle_profiles.source IS
	'default: the profile as the extension ships it, recreated by CREATE EXTENSION; operator: edited by an operator, kept by pg_dump.  Kept by triggers.';

-- Shipped rows and pg_dump.  The rows written above are source 'default':
-- CREATE EXTENSION writes them again, so pg_dump keeps only 'operator' rows
-- (the config-dump filter at the end of this file).  An edited or inserted
-- row is 'operator'.  An inserted row replaces a row of its key that is still
-- 'default': that is what pg_restore does after CREATE EXTENSION has
-- written the defaults again (inserting over an operator's row stays a
-- unique violation).  Zone 0's row and the vehicles' rows cannot be
-- deleted (DP308, checked at commit, so that a replacement may delete and
-- insert in one transaction).  Do not restore with --disable-triggers.
CREATE FUNCTION @extschema@._settings_source_trigger() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
		IF NEW IS DISTINCT FROM OLD THEN
			NEW.source := 'operator';
		END IF;
		RETURN NEW;
	END IF;
	NEW.source := 'operator';              -- an inserted row is the operator's
	-- the shipped row of its key goes, from the relation the trigger fires
	-- on: the table, or on Citus each node's placement of the reference
	-- table (named table_shardid), whose trigger fires on every node
	IF TG_TABLE_NAME OPERATOR(pg_catalog.~) '^(matching_settings|pay_models)(_[0-9]+)?$' THEN
		EXECUTE pg_catalog.format('DELETE FROM %s WHERE zone_id OPERATOR(pg_catalog.=) $1 AND source OPERATOR(pg_catalog.=) %L',
		                          TG_RELID::pg_catalog.regclass, 'default')
		USING NEW.zone_id;
	ELSE
		EXECUTE pg_catalog.format('DELETE FROM %s WHERE vehicle OPERATOR(pg_catalog.=) $1 AND source OPERATOR(pg_catalog.=) %L',
		                          TG_RELID::pg_catalog.regclass, 'default')
		USING NEW.vehicle;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@._settings_source_trigger() IS
	'Internal: BEFORE INSERT OR UPDATE on matching_settings, vehicle_profiles and pay_models: an edited or inserted row is source ''operator''; an inserted row replaces a shipped (''default'') row of its key, as pg_restore needs.';
REVOKE ALL ON FUNCTION @extschema@._settings_source_trigger() FROM PUBLIC;

CREATE FUNCTION @extschema@._settings_keep_shipped() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_kept boolean;
BEGIN
	-- read from the relation the trigger fires on (the table, or on Citus
	-- each node's placement of the reference table, named table_shardid)
	IF TG_TABLE_NAME OPERATOR(pg_catalog.~) '^(matching_settings|pay_models)(_[0-9]+)?$' THEN
		EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s WHERE zone_id OPERATOR(pg_catalog.=) 0)',
		                          TG_RELID::pg_catalog.regclass)
		   INTO v_kept;
		IF v_kept THEN
			RETURN NULL;
		ELSIF TG_TABLE_NAME OPERATOR(pg_catalog.~) '^matching_settings' THEN
			RAISE EXCEPTION 'the matching settings of zone 0 cannot be deleted'
				USING ERRCODE = 'DP308',
				      DETAIL = 'They are the defaults of every zone without settings of its own.',
				      HINT = 'Change them with UPDATE.';
		END IF;
		RAISE EXCEPTION 'the pay model of zone 0 cannot be deleted'
			USING ERRCODE = 'DP308',
			      DETAIL = 'It is the pay model of every zone without one of its own.',
			      HINT = 'Change it with UPDATE.';
	END IF;
	EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s WHERE vehicle OPERATOR(pg_catalog.=) $1)',
	                          TG_RELID::pg_catalog.regclass)
	   INTO v_kept USING OLD.vehicle;
	IF NOT v_kept THEN
		RAISE EXCEPTION 'the profile of vehicle "%" cannot be deleted', OLD.vehicle
			USING ERRCODE = 'DP308',
			      DETAIL = 'Every vehicle a rider may have needs a profile.',
			      HINT = 'Change it with UPDATE.';
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@._settings_keep_shipped() IS
	'Internal: deferred constraint trigger: at commit, zone 0 still has matching settings and a pay model and every vehicle a profile, else DP308.';
REVOKE ALL ON FUNCTION @extschema@._settings_keep_shipped() FROM PUBLIC;

CREATE TRIGGER matching_settings_source
	BEFORE INSERT OR UPDATE ON @extschema@.matching_settings
	FOR EACH ROW EXECUTE FUNCTION @extschema@._settings_source_trigger();
CREATE TRIGGER vehicle_profiles_source
	BEFORE INSERT OR UPDATE ON @extschema@.vehicle_profiles
	FOR EACH ROW EXECUTE FUNCTION @extschema@._settings_source_trigger();
-- pg_restore runs with session_replication_role = replica (the order state
-- machine must not fire on restored orders: docs/operations.md); these fire
-- there too
ALTER TABLE @extschema@.matching_settings ENABLE ALWAYS TRIGGER matching_settings_source;
ALTER TABLE @extschema@.vehicle_profiles ENABLE ALWAYS TRIGGER vehicle_profiles_source;
CREATE CONSTRAINT TRIGGER matching_settings_keep_zone0
	AFTER UPDATE OR DELETE ON @extschema@.matching_settings
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW WHEN (OLD.zone_id OPERATOR(pg_catalog.=) 0)
	EXECUTE FUNCTION @extschema@._settings_keep_shipped();
CREATE CONSTRAINT TRIGGER vehicle_profiles_keep
	AFTER UPDATE OR DELETE ON @extschema@.vehicle_profiles
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION @extschema@._settings_keep_shipped();
COMMENT ON TRIGGER matching_settings_source ON @extschema@.matching_settings IS
	'An edited row becomes source ''operator''; an inserted row replaces a shipped row of its zone.';
COMMENT ON TRIGGER vehicle_profiles_source ON @extschema@.vehicle_profiles IS
	'An edited row becomes source ''operator''; an inserted row replaces the shipped row of its vehicle.';
COMMENT ON TRIGGER matching_settings_keep_zone0 ON @extschema@.matching_settings IS
	'At commit, zone 0 still has its row (DP308).';
COMMENT ON TRIGGER vehicle_profiles_keep ON @extschema@.vehicle_profiles IS
	'At commit, every vehicle still has its profile (DP308).';
-- the pay models of sql/53_pay.sql are settings of the same kind
CREATE TRIGGER pay_models_source
	BEFORE INSERT OR UPDATE ON @extschema@.pay_models
	FOR EACH ROW EXECUTE FUNCTION @extschema@._settings_source_trigger();
ALTER TABLE @extschema@.pay_models ENABLE ALWAYS TRIGGER pay_models_source;
CREATE CONSTRAINT TRIGGER pay_models_keep_zone0
	AFTER UPDATE OR DELETE ON @extschema@.pay_models
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW WHEN (OLD.zone_id OPERATOR(pg_catalog.=) 0)
	EXECUTE FUNCTION @extschema@._settings_keep_shipped();
COMMENT ON TRIGGER pay_models_source ON @extschema@.pay_models IS
	'An edited row becomes source ''operator''; an inserted row replaces a shipped row of its zone.';
COMMENT ON TRIGGER pay_models_keep_zone0 ON @extschema@.pay_models IS
	'At commit, zone 0 still has its pay model (DP308).';

-- ------------------------------------------------------------------ offers

CREATE SEQUENCE @extschema@.offers_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.offers (
	zone_id       bigint NOT NULL,
	offer_id      bigint NOT NULL,
	order_id      bigint NOT NULL,
	rider_id      bigint NOT NULL,
	batch_id      bigint NOT NULL,
	status        text NOT NULL DEFAULT 'pending'
	              CONSTRAINT offers_status_check
	              CHECK (status IN ('pending', 'accepted', 'rejected', 'expired', 'cancelled', 'released')),
	cost          float8 NOT NULL,
	created_at    timestamptz NOT NULL,
	expires_at    timestamptz NOT NULL,
	responded_at  timestamptz,
	reason        text,
	PRIMARY KEY (zone_id, offer_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders,
	CHECK (zone_id OPERATOR(pg_catalog.=) (offer_id OPERATOR(pg_catalog.>>) 40))
);
ALTER SEQUENCE @extschema@.offers_id_seq OWNED BY @extschema@.offers.offer_id;
CREATE UNIQUE INDEX offers_one_pending_idx ON @extschema@.offers (zone_id, order_id)
	WHERE status = 'pending';
CREATE INDEX offers_rider_pending_idx ON @extschema@.offers (zone_id, rider_id)
	WHERE status = 'pending';
CREATE INDEX offers_expiry_idx ON @extschema@.offers (zone_id, expires_at)
	WHERE status = 'pending';
-- an order's offers whatever their status (the accepted offer a release
-- gives back, an order's history); without it each such lookup reads every
-- offer of the zone
CREATE INDEX offers_order_idx ON @extschema@.offers (zone_id, order_id);
COMMENT ON TABLE @extschema@.offers IS
	'Offers of an order to a rider, written by assign_batch and answered with respond_offer; at most one is pending per order.  An accepted offer becomes released when its rider gives the order back (release_order).';

CREATE TABLE @extschema@.offer_audit (
	zone_id          bigint NOT NULL,
	offer_id         bigint NOT NULL,
	order_id         bigint NOT NULL,
	batch_id         bigint NOT NULL,
	method           text NOT NULL,
	chosen_rider     bigint NOT NULL,
	candidate_ids    bigint[] NOT NULL,
	candidate_parts  real[] NOT NULL,
	PRIMARY KEY (zone_id, offer_id),
	FOREIGN KEY (zone_id, offer_id) REFERENCES @extschema@.offers
);
COMMENT ON TABLE @extschema@.offer_audit IS
	'Why each offer was made: the order''s candidate riders (nearest first) and, per candidate, one row of candidate_parts: distance_m, cost, travel_s, rider_wait_s, food_wait_s, late_s, priority_factor, load_penalty, fairness, fatigue; how the batch was solved (exact or a fallback).  Read it through offer_candidates.';

CREATE VIEW @extschema@.offer_candidates AS
SELECT a.zone_id, a.offer_id, a.order_id, a.batch_id, a.method, c.rank,
       a.candidate_ids[c.rank] AS rider_id,
       a.candidate_ids[c.rank] OPERATOR(pg_catalog.=) a.chosen_rider AS chosen,
       a.candidate_parts[c.rank][1] AS distance_m, a.candidate_parts[c.rank][2] AS cost,
       a.candidate_parts[c.rank][3] AS travel_s, a.candidate_parts[c.rank][4] AS rider_wait_s,
       a.candidate_parts[c.rank][5] AS food_wait_s, a.candidate_parts[c.rank][6] AS late_s,
       a.candidate_parts[c.rank][7] AS priority_factor, a.candidate_parts[c.rank][8] AS load_penalty,
       a.candidate_parts[c.rank][9] AS fairness, a.candidate_parts[c.rank][10] AS fatigue
  FROM @extschema@.offer_audit a
 CROSS JOIN LATERAL pg_catalog.generate_subscripts(a.candidate_ids, 1) AS c(rank);
COMMENT ON VIEW @extschema@.offer_candidates IS
	'offer_audit unpacked: one row per candidate of each offer, nearest first, with every cost component and whether it was chosen.';

CREATE TABLE @extschema@.offer_exclusions (
	zone_id    bigint NOT NULL,
	order_id   bigint NOT NULL,
	rider_id   bigint NOT NULL,
	at         timestamptz NOT NULL,
	reason     text NOT NULL,
	detail     text,
	PRIMARY KEY (zone_id, order_id, rider_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders
);
COMMENT ON TABLE @extschema@.offer_exclusions IS
	'A rider who rejected or let expire an offer of an order, or released the order (reason rejected, expired, released), is never offered that order again.';
COMMENT ON COLUMN @extschema@.offer_exclusions.detail IS
	'For a release: the reason given to release_order (at most 200 characters).';

CREATE SEQUENCE @extschema@.assign_batches_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.assign_batches (
	zone_id      bigint NOT NULL,
	batch_id     bigint NOT NULL,
	at           timestamptz NOT NULL,
	orders       integer NOT NULL,
	riders       integer NOT NULL,
	arcs         integer NOT NULL,
	offers       integer NOT NULL,
	held         integer NOT NULL,
	method       text NOT NULL,
	total_cost   float8 NOT NULL,
	elapsed_ms   float8 NOT NULL,
	PRIMARY KEY (zone_id, batch_id)
);
ALTER SEQUENCE @extschema@.assign_batches_id_seq OWNED BY @extschema@.assign_batches.batch_id;
COMMENT ON TABLE @extschema@.assign_batches IS
	'One row per assign_batch run: its size, how it was solved (exact, or which fallback and why) and how long it took.';

-- --------------------------------------------------------------- triggers

CREATE FUNCTION @extschema@._zone_setting_int(zone_id bigint, name text) RETURNS integer
LANGUAGE C STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_zone_setting_int';
COMMENT ON FUNCTION @extschema@._zone_setting_int(bigint, text) IS
	'Internal: an integer setting of a zone''s matching (its own row of matching_settings, else zone 0''s, as assign_batch reads them); NULL for an unknown zone.';
REVOKE ALL ON FUNCTION @extschema@._zone_setting_int(bigint, text) FROM PUBLIC;

CREATE FUNCTION @extschema@._rider_day_roll(p_zone_id bigint, p_rider_id bigint, p_now timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- a new day in the rider's zone: the update fires riders_shift, which
	-- starts the daily counters again
	UPDATE @extschema@.riders r
	   SET stats_day = r.stats_day
	  FROM @extschema@.zones z
	 WHERE r.zone_id OPERATOR(pg_catalog.=) p_zone_id
	   AND r.rider_id OPERATOR(pg_catalog.=) p_rider_id
	   AND z.zone_id OPERATOR(pg_catalog.=) p_zone_id
	   AND r.stats_day IS DISTINCT FROM (p_now AT TIME ZONE z.timezone)::date;
END
$$;
COMMENT ON FUNCTION @extschema@._rider_day_roll(bigint, bigint, timestamptz) IS
	'Internal: resets a rider''s daily counters when the zone''s day has changed (through the riders_shift trigger, which owns the reset).';
REVOKE ALL ON FUNCTION @extschema@._rider_day_roll(bigint, bigint, timestamptz) FROM PUBLIC;

-- The event that tells a rider its offer was cancelled, and why (a word, no
-- free text: docs/events.md lists them).
CREATE FUNCTION @extschema@._offer_cancelled_event(p_zone bigint, p_order_id bigint, p_rider_id bigint,
                                                   p_offer_id bigint, p_reason text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT @extschema@._emit_event(p_zone, 'offer', p_order_id, NULL, p_rider_id,
	                               pg_catalog.jsonb_build_object('offer_id', p_offer_id, 'status', 'cancelled',
	                                                             'reason', p_reason));
END;
COMMENT ON FUNCTION @extschema@._offer_cancelled_event(bigint, bigint, bigint, bigint, text) IS
	'Internal: the offer event of a cancelled offer, naming its rider and the reason (order cancelled, order assigned, withdrawn, rider went offline).';
REVOKE ALL ON FUNCTION @extschema@._offer_cancelled_event(bigint, bigint, bigint, bigint, text) FROM PUBLIC;

-- An order's pending offer is cancelled (its order went otherwise: cancelled,
-- assigned by hand): the rider's slot is given back, and the rider told.
CREATE FUNCTION @extschema@._cancel_pending_offer(p_zone bigint, p_order_id bigint, p_reason text, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_gone record;
BEGIN
	FOR v_gone IN
		UPDATE @extschema@.offers f
		   SET status = 'cancelled', responded_at = p_now, reason = p_reason
		 WHERE f.zone_id OPERATOR(pg_catalog.=) p_zone
		   AND f.order_id OPERATOR(pg_catalog.=) p_order_id
		   AND f.status OPERATOR(pg_catalog.=) 'pending'
		RETURNING f.offer_id, f.rider_id
	LOOP
		UPDATE @extschema@.riders r
		   SET pending_offers = GREATEST(r.pending_offers OPERATOR(pg_catalog.-) 1, 0)
		 WHERE r.zone_id OPERATOR(pg_catalog.=) p_zone AND r.rider_id OPERATOR(pg_catalog.=) v_gone.rider_id;
		PERFORM @extschema@._offer_cancelled_event(p_zone, p_order_id, v_gone.rider_id, v_gone.offer_id, p_reason);
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._cancel_pending_offer(bigint, bigint, text, timestamptz) IS
	'Internal: cancels the order''s pending offer for a reason (its order went otherwise), gives its rider the slot back and tells the rider (an offer event).';
REVOKE ALL ON FUNCTION @extschema@._cancel_pending_offer(bigint, bigint, text, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@._orders_rider_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_was boolean := OLD.rider_id IS NOT NULL AND OLD.status IN ('assigned', 'picked_up');
	v_is boolean := NEW.rider_id IS NOT NULL AND NEW.status IN ('assigned', 'picked_up');
	-- on Citus the trigger fires on a shard, whose row type is the shard's
	v_order @extschema@.orders := NEW;
	v_pay bigint;
	-- read first: Citus refuses a volatile function in an UPDATE
	v_now timestamptz := @extschema@.clock();
	-- a plan that outlives the rider's last order: its end, when that order
	-- was delivered before it (the way back from the door)
	v_keep boolean := NEW.status OPERATOR(pg_catalog.=) 'delivered';
BEGIN
	IF v_was AND (NOT v_is OR OLD.rider_id OPERATOR(pg_catalog.<>) NEW.rider_id) THEN
		UPDATE @extschema@.riders r
		   SET active_orders = GREATEST(r.active_orders OPERATOR(pg_catalog.-) 1, 0),
		       -- a rider done with every order has no plan left but the end
		       -- of one it delivered before: until then it is still busy at
		       -- the door (src/match.c costs it from there)
		       free_at = CASE WHEN r.active_orders OPERATOR(pg_catalog.>) 1
		                        OR (v_keep AND r.free_at OPERATOR(pg_catalog.>) v_now) THEN r.free_at END,
		       free_position = CASE WHEN r.active_orders OPERATOR(pg_catalog.>) 1
		                              OR (v_keep AND r.free_at OPERATOR(pg_catalog.>) v_now) THEN r.free_position END,
		       plan_pickup_at = CASE WHEN r.active_orders OPERATOR(pg_catalog.>) 1 THEN r.plan_pickup_at END,
		       plan_pickup_position = CASE WHEN r.active_orders OPERATOR(pg_catalog.>) 1 THEN r.plan_pickup_position END
		 WHERE r.zone_id OPERATOR(pg_catalog.=) OLD.zone_id AND r.rider_id OPERATOR(pg_catalog.=) OLD.rider_id;
	END IF;
	IF v_is AND (NOT v_was OR OLD.rider_id OPERATOR(pg_catalog.<>) NEW.rider_id) THEN
		-- a rider holding nothing has at most the end of a plan whose last
		-- order it delivered: no plan of the order it takes now
		UPDATE @extschema@.riders r
		   SET active_orders = r.active_orders OPERATOR(pg_catalog.+) 1,
		       free_at = CASE WHEN r.active_orders OPERATOR(pg_catalog.>) 0 THEN r.free_at END,
		       free_position = CASE WHEN r.active_orders OPERATOR(pg_catalog.>) 0 THEN r.free_position END
		 WHERE r.zone_id OPERATOR(pg_catalog.=) NEW.zone_id AND r.rider_id OPERATOR(pg_catalog.=) NEW.rider_id;
	END IF;
	-- an order that leaves 'accepted' otherwise than through its offer
	-- (cancelled, assigned by hand) takes its pending offer with it, and
	-- tells the offer's rider, as every change of an offer does
	IF OLD.status OPERATOR(pg_catalog.=) 'accepted' AND NEW.status OPERATOR(pg_catalog.<>) 'accepted' THEN
		PERFORM @extschema@._cancel_pending_offer(NEW.zone_id, NEW.order_id, 'order ' OPERATOR(pg_catalog.||) NEW.status, v_now);
	END IF;
	IF NEW.status OPERATOR(pg_catalog.=) 'delivered' AND OLD.status OPERATOR(pg_catalog.<>) 'delivered'
	   AND NEW.rider_id IS NOT NULL THEN
		PERFORM @extschema@._rider_day_roll(NEW.zone_id, NEW.rider_id, @extschema@.clock());
		-- the rider's pay for it (sql/53_pay.sql) is what fairness weighs
		-- the pay is computed first: Citus runs no volatile function within a
		-- distributed UPDATE
		v_pay := @extschema@._pay_delivery(v_order);
		UPDATE @extschema@.riders r
		   SET orders_today = r.orders_today OPERATOR(pg_catalog.+) 1,
		       earnings_today_cents = r.earnings_today_cents OPERATOR(pg_catalog.+) v_pay
		 WHERE r.zone_id OPERATOR(pg_catalog.=) NEW.zone_id AND r.rider_id OPERATOR(pg_catalog.=) NEW.rider_id;
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@._orders_rider_trigger() IS
	'Internal: keeps riders.active_orders and the daily counters in step with order transitions.';
REVOKE ALL ON FUNCTION @extschema@._orders_rider_trigger() FROM PUBLIC;

CREATE TRIGGER orders_rider_load
	AFTER UPDATE OF status, rider_id ON @extschema@.orders
	FOR EACH ROW
	WHEN (OLD.rider_id IS DISTINCT FROM NEW.rider_id
	      OR OLD.status IN ('accepted', 'assigned', 'picked_up')
	      OR NEW.status IN ('assigned', 'picked_up', 'delivered'))
	EXECUTE FUNCTION @extschema@._orders_rider_trigger();

CREATE FUNCTION @extschema@._riders_shift_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz;
	v_break integer;
	v_tz text;
	v_day date;
	v_gone record;
BEGIN
	-- the time of the change is the caller's, stamped on the row
	-- (rider_online's online_since, rider_offline's last_offline_at): on
	-- Citus this trigger fires on the zone's worker, whose clock is not
	-- the one the call (and matching, which compares with these times) read
	IF NEW.status OPERATOR(pg_catalog.=) 'online' AND OLD.status IS DISTINCT FROM 'online'
	   AND NEW.online_since IS NOT NULL THEN
		v_now := NEW.online_since;
	ELSIF NEW.status OPERATOR(pg_catalog.=) 'offline' AND OLD.status IS DISTINCT FROM 'offline'
	      AND NEW.last_offline_at IS DISTINCT FROM OLD.last_offline_at THEN
		v_now := NEW.last_offline_at;
	ELSE
		v_now := @extschema@.clock();
	END IF;
	SELECT z.timezone INTO v_tz FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) NEW.zone_id;
	v_day := (v_now AT TIME ZONE v_tz)::date;
	-- the one place that starts a rider's day: counters of another day go
	IF OLD.stats_day IS DISTINCT FROM v_day THEN
		NEW.stats_day := v_day;
		NEW.orders_today := 0;
		NEW.earnings_today_cents := 0;
		NEW.online_seconds_today := 0;
	END IF;
	IF NEW.status IS NOT DISTINCT FROM OLD.status THEN
		RETURN NEW;
	END IF;
	IF NEW.status OPERATOR(pg_catalog.=) 'offline' THEN
		IF OLD.online_since IS NOT NULL THEN
			NEW.online_seconds_today := NEW.online_seconds_today OPERATOR(pg_catalog.+)
				GREATEST(0, pg_catalog.date_part('epoch', v_now OPERATOR(pg_catalog.-)
				    GREATEST(OLD.online_since, pg_catalog.date_trunc('day', v_now, v_tz))))::integer;
		END IF;
		NEW.last_offline_at := v_now;
		-- an offline rider's unanswered offers lapse, each told as every
		-- change of an offer is; their orders go back
		FOR v_gone IN
			UPDATE @extschema@.offers f
			   SET status = 'cancelled', responded_at = v_now, reason = 'rider went offline'
			 WHERE f.zone_id OPERATOR(pg_catalog.=) NEW.zone_id
			   AND f.rider_id OPERATOR(pg_catalog.=) NEW.rider_id
			   AND f.status OPERATOR(pg_catalog.=) 'pending'
			RETURNING f.offer_id, f.order_id
		LOOP
			PERFORM @extschema@._offer_cancelled_event(NEW.zone_id, v_gone.order_id, NEW.rider_id, v_gone.offer_id,
			                                           'rider went offline');
		END LOOP;
		NEW.pending_offers := 0;
	ELSE
		v_break := @extschema@._zone_setting_int(NEW.zone_id, 'min_break_minutes');
		IF NEW.shift_started_at IS NULL OR NEW.last_offline_at IS NULL
		   OR v_now OPERATOR(pg_catalog.-) NEW.last_offline_at
		      OPERATOR(pg_catalog.>=) pg_catalog.make_interval(mins => v_break) THEN
			NEW.shift_started_at := v_now;
		END IF;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@._riders_shift_trigger() IS
	'Internal: on a rider''s status change (or a day roll), starts a new day''s counters, keeps shift start and online time today, and cancels their pending offers when they go offline.';
REVOKE ALL ON FUNCTION @extschema@._riders_shift_trigger() FROM PUBLIC;

CREATE TRIGGER riders_shift
	BEFORE UPDATE OF status, stats_day ON @extschema@.riders
	FOR EACH ROW EXECUTE FUNCTION @extschema@._riders_shift_trigger();

-- ------------------------------------------------------------ eligibility

-- The rule "this rider can take this order" is written once, in C
-- (match_rider_can_take and match_rider_in_reach in src/match.c); the
-- batch and nearest_riders apply it to every candidate, respond_offer and
-- assign_manually through this wrapper (docs/matching.md, "Who can take an
-- order").
CREATE FUNCTION @extschema@._rider_can_take(order_id bigint, rider_id bigint, count_offers boolean DEFAULT true)
RETURNS void
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
SET jit = off
AS 'MODULE_PATHNAME', 'dispatch_rider_can_take';
COMMENT ON FUNCTION @extschema@._rider_can_take(bigint, bigint, boolean) IS
	'Internal: the eligibility rule for one pair.  Returns if the rider can take the order now (same zone, online, not excluded for it, a free slot counting pending offers unless count_offers is false, fresh position, within the shift, daily and vehicle limits), else DP020 naming the reason; DP014 unknown order, DP015 unknown rider.  Locks nothing: the caller holds the rider''s row lock.';
REVOKE ALL ON FUNCTION @extschema@._rider_can_take(bigint, bigint, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@._lock_zone(zone_id bigint, shared boolean DEFAULT false) RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_lock_zone';
COMMENT ON FUNCTION @extschema@._lock_zone(bigint, boolean) IS
	'Internal: the zone''s matching lock (the advisory lock assign_batch takes), to the end of the transaction; first in the order of locks of matching.  Shared: no batch or manual assignment runs in the zone meanwhile, but shared holders do not wait for each other.';
REVOKE ALL ON FUNCTION @extschema@._lock_zone(bigint, boolean) FROM PUBLIC;

-- On Citus a call that is not sent whole to the zone's worker (one made
-- inside a transaction block, or from PL/pgSQL) runs on the coordinator,
-- and so would its zone lock, while a batch sent whole takes the lock on
-- the zone's worker: the two would never meet, and a call waiting for an
-- order a batch holds would deadlock with it (docs/matching.md, "Locking
-- order").  The calls that take the lock for an order or a rider therefore
-- take it first where that row lies, by a statement Citus routes to its
-- shard (on the node that holds it, the same lock again), then where they
-- run, as a batch run on the coordinator takes it: every holder takes the
-- worker's lock before the local one.
CREATE FUNCTION @extschema@._lock_zone_routed(p_zone bigint, p_order_id bigint, p_rider_id bigint, p_shared boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		IF p_order_id IS NOT NULL THEN
			PERFORM @extschema@._lock_zone(o.zone_id, p_shared)
			   FROM @extschema@.orders o
			  WHERE o.zone_id OPERATOR(pg_catalog.=) p_zone AND o.order_id OPERATOR(pg_catalog.=) p_order_id;
		ELSE
			PERFORM @extschema@._lock_zone(r.zone_id, p_shared)
			   FROM @extschema@.riders r
			  WHERE r.zone_id OPERATOR(pg_catalog.=) p_zone AND r.rider_id OPERATOR(pg_catalog.=) p_rider_id;
		END IF;
	END IF;
	PERFORM @extschema@._lock_zone(p_zone, p_shared);
END
$$;
COMMENT ON FUNCTION @extschema@._lock_zone_routed(bigint, bigint, bigint, boolean) IS
	'Internal: the zone''s matching lock (_lock_zone) for a call about order p_order_id (else rider p_rider_id) of zone p_zone; on Citus first on the node that holds that row''s shard, where a batch sent whole takes it, then where the call runs.';
REVOKE ALL ON FUNCTION @extschema@._lock_zone_routed(bigint, bigint, bigint, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@._rider_index_predicate() RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_rider_index_predicate';
COMMENT ON FUNCTION @extschema@._rider_index_predicate() IS
	'Internal: the predicate riders_available_idx must have, as the candidate searches in C write it (MATCH_RIDER_INDEXED of src/match.h).';
REVOKE ALL ON FUNCTION @extschema@._rider_index_predicate() FROM PUBLIC;

-- --------------------------------------------------------------------- API

CREATE FUNCTION @extschema@.nearest_riders(order_id bigint, k integer DEFAULT 10)
RETURNS TABLE (rider_id bigint, distance_m float8, cost float8, travel_s float8,
               rider_wait_s float8, food_wait_s float8, late_s float8,
               priority_factor float8, load_penalty float8, fairness float8,
               fatigue float8, active_orders integer, free_slots integer,
               vehicle text, position_age_s float8)
LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS 'MODULE_PATHNAME', 'dispatch_nearest_riders';
COMMENT ON FUNCTION @extschema@.nearest_riders(bigint, integer) IS
	'The k riders nearest to an order''s pickup that could take it now (online, fresh position, a free slot, not fatigued, within their vehicle''s limits, not excluded), nearest first, with the cost the batch would use and each of its components (docs/matching.md).  DP306 for an unknown or NULL order, DP304 for a k NULL or outside 1..1000.';

CREATE FUNCTION @extschema@.assign_batch(zone_id bigint)
RETURNS TABLE (order_id bigint, rider_id bigint, offer_id bigint, cost float8, method text)
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS 'MODULE_PATHNAME', 'dispatch_assign_batch';
COMMENT ON FUNCTION @extschema@.assign_batch(bigint) IS
	'One dispatch round for a zone: expires overdue offers, solves the minimum-cost assignment of its dispatchable orders to its available riders'' free slots, writes offers (with audit) and emits an offer event for each.  method says whether the solve was exact or, past the size or time budget, a heuristic.  DP305 for an unknown or NULL zone.';

CREATE FUNCTION @extschema@._respond_offer(p_zone bigint, offer_id bigint, accept boolean, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint := p_zone;               -- a zone not the offer's finds no offer: DP301
	v_now timestamptz := @extschema@.clock();
	v_rider bigint;
	v_offer @extschema@.offers;
	v_order @extschema@.orders;
BEGIN
	IF accept IS NULL THEN
		RAISE EXCEPTION 'an answer to an offer is accept or reject' USING ERRCODE = 'DP304';
	END IF;
	PERFORM @extschema@._check_length('reason', reason);
	SELECT f.rider_id INTO v_rider FROM @extschema@.offers f
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone AND f.offer_id OPERATOR(pg_catalog.=) _respond_offer.offer_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'offer % does not exist', offer_id USING ERRCODE = 'DP301';
	END IF;
	-- lock order: rider, offer, order (as rider_offline and assign_batch)
	PERFORM FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone AND r.rider_id OPERATOR(pg_catalog.=) v_rider FOR UPDATE;
	SELECT * INTO v_offer FROM @extschema@.offers f
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone AND f.offer_id OPERATOR(pg_catalog.=) _respond_offer.offer_id
	   FOR UPDATE;
	-- a repeat of the answer given is a no-op; an accepted offer whose order
	-- was released since is not taken back
	IF (accept AND v_offer.status IN ('accepted', 'released'))
	   OR (NOT accept AND v_offer.status OPERATOR(pg_catalog.=) 'rejected') THEN
		RETURN;
	END IF;
	IF v_offer.status OPERATOR(pg_catalog.<>) 'pending' THEN
		RAISE EXCEPTION 'offer % is already %', offer_id, v_offer.status USING ERRCODE = 'DP302';
	END IF;
	IF v_offer.expires_at OPERATOR(pg_catalog.<=) v_now THEN
		RAISE EXCEPTION 'offer % expired at %', offer_id, v_offer.expires_at
			USING ERRCODE = 'DP303', HINT = 'The next dispatch batch offers the order to another rider.';
	END IF;
	v_order := @extschema@._lock_order(v_offer.order_id);
	-- a pending offer's order waits for a rider (the order's trigger cancels
	-- the offer when the order moves on otherwise)
	IF v_order.status OPERATOR(pg_catalog.<>) 'accepted' THEN
		RAISE EXCEPTION 'order % of offer % does not wait for a rider (status "%")', v_offer.order_id, offer_id, v_order.status
			USING ERRCODE = 'DP104';
	END IF;

	UPDATE @extschema@.riders r
	   SET pending_offers = GREATEST(r.pending_offers OPERATOR(pg_catalog.-) 1, 0)
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone AND r.rider_id OPERATOR(pg_catalog.=) v_rider;
	IF accept THEN
		-- the eligibility rule, as for a manual assignment and every batch
		-- (this offer's slot is given back above, the rider's other pending
		-- offers still hold theirs)
		PERFORM @extschema@._rider_can_take(v_offer.order_id, v_rider);
		UPDATE @extschema@.offers f
		   SET status = 'accepted', responded_at = v_now, reason = _respond_offer.reason
		 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone AND f.offer_id OPERATOR(pg_catalog.=) _respond_offer.offer_id;
		UPDATE @extschema@.orders o
		   SET status = 'assigned', rider_id = v_rider,
		       assigned_by = 'offer ' OPERATOR(pg_catalog.||) _respond_offer.offer_id::text
		 WHERE o.zone_id OPERATOR(pg_catalog.=) v_zone AND o.order_id OPERATOR(pg_catalog.=) v_offer.order_id;
	ELSE
		UPDATE @extschema@.offers f
		   SET status = 'rejected', responded_at = v_now, reason = _respond_offer.reason
		 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone AND f.offer_id OPERATOR(pg_catalog.=) _respond_offer.offer_id;
		INSERT INTO @extschema@.offer_exclusions (zone_id, order_id, rider_id, at, reason)
		VALUES (v_zone, v_offer.order_id, v_rider, v_now, 'rejected')
		ON CONFLICT DO NOTHING;
	END IF;
	PERFORM @extschema@._emit_event(v_zone, 'offer', v_offer.order_id, NULL, v_rider,
	                                pg_catalog.jsonb_build_object('offer_id', offer_id,
	                                    'status', CASE WHEN accept THEN 'accepted' ELSE 'rejected' END));
END
$$;
COMMENT ON FUNCTION @extschema@._respond_offer(bigint, bigint, boolean, text) IS
	'Internal: respond_offer in the offer''s zone (p_zone, which must be the zone in the id: DP301 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
CREATE FUNCTION @extschema@.respond_offer(offer_id bigint, accept boolean, reason text DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._respond_offer(@extschema@.zone_of(offer_id), offer_id, accept, reason);
COMMENT ON FUNCTION @extschema@.respond_offer(bigint, boolean, text) IS
	'A rider answers an offer.  Accept assigns the order (if the rider can still take it: the eligibility rule, DP020); reject puts the order back for the next batch and never offers it to this rider again.  The same answer again is a no-op.  DP301 unknown offer, DP302 answered otherwise, expired, cancelled or released, DP303 expired, DP304 without an answer (accept NULL).';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.matching_settings', 'WHERE source = ''operator''');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.vehicle_profiles', 'WHERE source = ''operator''');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.offers', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.offers_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.offer_audit', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.offer_exclusions', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.assign_batches', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.assign_batches_id_seq', '');

-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON @extschema@.matching_settings, @extschema@.vehicle_profiles, @extschema@.offers,
              @extschema@.offer_audit, @extschema@.offer_candidates, @extschema@.offer_exclusions,
              @extschema@.assign_batches
	FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.offers_id_seq, @extschema@.assign_batches_id_seq FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON @extschema@.matching_settings, @extschema@.vehicle_profiles TO dispatch_admin;
GRANT SELECT ON @extschema@.offers, @extschema@.offer_audit, @extschema@.offer_candidates,
                @extschema@.assign_batches TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.nearest_riders(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.nearest_riders(bigint, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.assign_batch(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.assign_batch(bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.respond_offer(bigint, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.respond_offer(bigint, boolean, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._respond_offer(bigint, bigint, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._respond_offer(bigint, bigint, boolean, text) TO dispatch_app, dispatch_admin;
