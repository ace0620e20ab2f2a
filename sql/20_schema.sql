-- sql/20_schema.sql
-- Tables of the dispatch core.
--
-- Zone layout of ids.  Every table that grows with orders (orders,
-- order_items, payments, events, rider_tracks, and the tables of later
-- parts) carries zone_id, leading its primary key, and every query on it
-- names the zone.  Ids of such rows are (zone_id << 40) | n, with n from a
-- sequence, so the zone of an order, payment or offer is id >> 40 without a
-- lookup (dispatch.zone_of).  Zone ids are below 2^23.  On one machine this
-- costs nothing; distributed by zone_id, every query reaches one shard.
--
-- Personal fields (names, phone numbers, addresses, free text written by
-- customers) are stored only as pgcrypto messages sealed with the subject's
-- data key (sql/30_keys.sql); their columns end in _enc.

CREATE FUNCTION @extschema@.zone_of(id bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN id OPERATOR(pg_catalog.>>) 40;
COMMENT ON FUNCTION @extschema@.zone_of(bigint) IS
	'Zone of a zone-scoped id (order, payment, offer): the id''s bits above 40.';

CREATE FUNCTION @extschema@.zone_scoped_id(zone_id bigint, n bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (zone_id OPERATOR(pg_catalog.<<) 40) OPERATOR(pg_catalog.|) n;
COMMENT ON FUNCTION @extschema@.zone_scoped_id(bigint, bigint) IS
	'Builds a zone-scoped id from a zone and a sequence value below 2^40.';

CREATE TABLE @extschema@.zones (
	zone_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY
	            CHECK (zone_id BETWEEN 1 AND 8388607),
	name        text NOT NULL UNIQUE CHECK (name <> ''),
	area        geometry(MultiPolygon, 4326) NOT NULL,
	timezone    text NOT NULL DEFAULT 'UTC',
	speed_mps   real NOT NULL DEFAULT 4.0 CHECK (speed_mps > 0),
	created_at  timestamptz NOT NULL,
	-- finite: a NaN speed (which passes > 0) would make every ETA and cost NaN
	CONSTRAINT zones_speed_finite CHECK (speed_mps <= 100)
);
CREATE INDEX zones_area_idx ON @extschema@.zones USING gist (area);
COMMENT ON TABLE @extschema@.zones IS
	'Service areas.  area is where drop-offs are accepted; speed_mps is the riders'' typical speed used for promises.';

CREATE TABLE @extschema@.merchants (
	merchant_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	zone_id       bigint NOT NULL REFERENCES @extschema@.zones,
	name          text NOT NULL CHECK (name <> ''),
	location      geometry(Point, 4326) NOT NULL,
	prep_minutes  integer NOT NULL DEFAULT 10 CHECK (prep_minutes BETWEEN 0 AND 240),
	is_open       boolean NOT NULL DEFAULT true,
	created_at    timestamptz NOT NULL
);
CREATE INDEX merchants_zone_idx ON @extschema@.merchants (zone_id);
COMMENT ON TABLE @extschema@.merchants IS
	'Restaurants and shops.  prep_minutes is the default time until an accepted order is ready.';

CREATE TABLE @extschema@.items (
	item_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	merchant_id  bigint NOT NULL REFERENCES @extschema@.merchants,
	name         text NOT NULL CHECK (name <> ''),
	price_cents  integer NOT NULL CHECK (price_cents >= 0),
	available    boolean NOT NULL DEFAULT true
);
CREATE INDEX items_merchant_idx ON @extschema@.items (merchant_id);
COMMENT ON TABLE @extschema@.items IS
	'What merchants sell.  The stock of an item whose stock is counted is in dispatch.item_stock.';

-- The count of an item's stock, apart from the menu: it changes at every
-- order of the item and belongs to the merchant's zone (an order's zone is
-- its merchant's), so that on Citus the menu is a reference table and the
-- count lies on the zone's worker with its orders (docs/citus.md).
CREATE TABLE @extschema@.item_stock (
	zone_id  bigint NOT NULL REFERENCES @extschema@.zones,
	item_id  bigint NOT NULL REFERENCES @extschema@.items,
	stock    integer NOT NULL CHECK (stock >= 0),
	PRIMARY KEY (zone_id, item_id)
);
COMMENT ON TABLE @extschema@.item_stock IS
	'Stock of the items whose stock is counted, in their merchant''s zone; an item without a row is unlimited.  Intake takes stock atomically, a cancellation gives it back.';

CREATE SEQUENCE @extschema@.customers_id_seq AS bigint;
CREATE TABLE @extschema@.customers (
	customer_id   bigint PRIMARY KEY DEFAULT pg_catalog.nextval('@extschema@.customers_id_seq'),
	phone_index   bytea UNIQUE,
	phone_enc     bytea,
	name_enc      bytea,
	flagged       boolean NOT NULL DEFAULT false,
	flag_reason   text,
	created_at    timestamptz NOT NULL,
	forgotten_at  timestamptz,
	phone_index_version integer NOT NULL DEFAULT 1
);
ALTER SEQUENCE @extschema@.customers_id_seq OWNED BY @extschema@.customers.customer_id;
COMMENT ON COLUMN @extschema@.customers.phone_index_version IS
	'The version of the index key phone_index was computed with (rotate_index_key moves every row to the current one).';
COMMENT ON TABLE @extschema@.customers IS
	'Customers.  phone_index is an HMAC-SHA-256 blind index of the E.164 phone number; phone and name are sealed with the customer''s data key.';

-- The value rules of riders, orders, payments and eta_predictions, one
-- CHECK a table calling one of these (src/value_checks.c): PostgreSQL
-- prepares a table's CHECK constraints again at every insert or update (a
-- rider's at every location ping), and one call with the columns as
-- arguments is a far smaller tree to prepare than a constraint a column.
CREATE FUNCTION @extschema@._vehicle_ok(vehicle text) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_vehicle_ok';
COMMENT ON FUNCTION @extschema@._vehicle_ok(text) IS
	'Internal: whether a vehicle is foot, bicycle, ebike, motorbike or car (riders_values_check, vehicle_profiles_vehicle_check; C).  NULL passes.';
REVOKE ALL ON FUNCTION @extschema@._vehicle_ok(text) FROM PUBLIC;
-- vehicle_profiles_vehicle_check calls it too, and a CHECK's function runs
-- as the writing role: the admin edits the profiles (docs/matching.md)
GRANT EXECUTE ON FUNCTION @extschema@._vehicle_ok(text) TO dispatch_admin;

CREATE FUNCTION @extschema@._rider_values_ok(capacity integer, vehicle text, status text,
                                             active_orders integer, pending_offers integer) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_rider_values_ok';
COMMENT ON FUNCTION @extschema@._rider_values_ok(integer, text, text, integer, integer) IS
	'Internal: the value rules of a rider (riders_values_check, C): capacity 1 to 20; vehicle as _vehicle_ok; status offline or online; active_orders and pending_offers at least 0.  A NULL passes its rule.';
REVOKE ALL ON FUNCTION @extschema@._rider_values_ok(integer, text, text, integer, integer) FROM PUBLIC;

CREATE FUNCTION @extschema@._order_values_ok(kind text, status text, priority text,
                                             subtotal_cents integer, fee_cents integer,
                                             discount_cents integer, total_cents integer,
                                             status_version integer) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_order_values_ok';
COMMENT ON FUNCTION @extschema@._order_values_ok(text, text, text, integer, integer, integer, integer, integer) IS
	'Internal: the value rules of an order (orders_values_check, C): kind takeaway or errand; status pending_payment, payment_failed, placed, accepted, assigned, picked_up, delivered or cancelled; priority normal, hot or fresh; the four amounts at least 0; status_version at least 1.  A NULL passes its rule.';
REVOKE ALL ON FUNCTION @extschema@._order_values_ok(text, text, text, integer, integer, integer, integer, integer) FROM PUBLIC;

CREATE FUNCTION @extschema@._payment_values_ok(amount_cents integer, status text) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_payment_values_ok';
COMMENT ON FUNCTION @extschema@._payment_values_ok(integer, text) IS
	'Internal: the value rules of a payment (payments_values_check, C): amount at least 0; status pending, succeeded or failed.  A NULL passes its rule.';
REVOKE ALL ON FUNCTION @extschema@._payment_values_ok(integer, text) FROM PUBLIC;

CREATE FUNCTION @extschema@._eta_values_ok(stage text, approach_m real, trip_m real, speed_factor real) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_eta_values_ok';
COMMENT ON FUNCTION @extschema@._eta_values_ok(text, real, real, real) IS
	'Internal: the value rules of an ETA prediction (eta_predictions_values_check, C): stage placed, accepted, assigned or picked_up; approach_m and trip_m at least 0; speed_factor above 0 (NaN above every number, as in SQL).  A NULL passes its rule.';
REVOKE ALL ON FUNCTION @extschema@._eta_values_ok(text, real, real, real) FROM PUBLIC;

CREATE SEQUENCE @extschema@.riders_id_seq AS bigint;
CREATE TABLE @extschema@.riders (
	rider_id       bigint PRIMARY KEY DEFAULT pg_catalog.nextval('@extschema@.riders_id_seq'),
	zone_id        bigint NOT NULL REFERENCES @extschema@.zones,
	name_enc       bytea,
	phone_enc      bytea,
	capacity       integer NOT NULL DEFAULT 3,
	vehicle        text NOT NULL DEFAULT 'ebike',
	status         text NOT NULL DEFAULT 'offline',
	position       geometry(Point, 4326),
	position_at    timestamptz,
	online_since   timestamptz,
	created_at     timestamptz NOT NULL,
	-- what matching (sql/60_matching.sql) keeps and reads: the slots in use
	-- and the shift and day counters of the cost model
	active_orders        integer NOT NULL DEFAULT 0,
	pending_offers       integer NOT NULL DEFAULT 0,
	shift_started_at     timestamptz,
	last_offline_at      timestamptz,
	stats_day            date,
	orders_today         integer NOT NULL DEFAULT 0,
	earnings_today_cents bigint NOT NULL DEFAULT 0,
	online_seconds_today integer NOT NULL DEFAULT 0,
	phone_index          bytea,
	forgotten_at         timestamptz,
	phone_index_version  integer NOT NULL DEFAULT 1,
	-- the rider's plan (update_rider_plan): when and where the orders it
	-- holds will be done; matching costs its next order from there
	free_at              timestamptz,
	free_position        geometry(Point, 4326),
	-- the plan's next pickup, of a trip not yet started: orders of the same
	-- pickup may join that trip
	plan_pickup_at       timestamptz,
	plan_pickup_position geometry(Point, 4326),
	-- the end of the current shift, when the rider said (rider_online)
	shift_ends_at        timestamptz,
	-- when the rider first came online (rider_online): before it, never on
	-- shift
	first_online_at      timestamptz,
	CONSTRAINT riders_values_check CHECK (@extschema@._rider_values_ok(capacity, vehicle, status,
	                                      active_orders, pending_offers)),
	CONSTRAINT riders_plan_check CHECK ((free_at IS NULL) = (free_position IS NULL)),
	CONSTRAINT riders_plan_pickup_check
	    CHECK ((plan_pickup_at IS NULL) = (plan_pickup_position IS NULL) AND (plan_pickup_at IS NULL OR free_at IS NOT NULL))
) WITH (fillfactor = 90);
ALTER SEQUENCE @extschema@.riders_id_seq OWNED BY @extschema@.riders.rider_id;
CREATE INDEX riders_zone_idx ON @extschema@.riders (zone_id);
CREATE INDEX riders_phone_index_idx ON @extschema@.riders (phone_index) WHERE phone_index IS NOT NULL;

-- A rider's zone, without reading the rider.  Every statement on a rider
-- names its zone too, so that on Citus (sql/97_distribute.sql), where
-- riders are distributed by zone and this table is copied to every node,
-- it reaches the one shard that holds the rider.  A rider never changes
-- zone.
CREATE TABLE @extschema@.rider_zones (
	rider_id  bigint PRIMARY KEY,
	zone_id   bigint NOT NULL REFERENCES @extschema@.zones
);
COMMENT ON TABLE @extschema@.rider_zones IS
	'The zone of every rider (written by register_rider), read where a call names only the rider.';

-- (PL/pgSQL: Citus plans no statement of an SQL function with parameters)
CREATE FUNCTION @extschema@._rider_zone(rider_id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT z.zone_id FROM @extschema@.rider_zones z WHERE z.rider_id OPERATOR(pg_catalog.=) _rider_zone.rider_id);
END
$$;
COMMENT ON FUNCTION @extschema@._rider_zone(bigint) IS
	'Internal: the zone of a rider (rider_zones); NULL for an unknown rider.';
REVOKE ALL ON FUNCTION @extschema@._rider_zone(bigint) FROM PUBLIC;
-- pending_offers is left out of the predicate on purpose: an offer then
-- changes no indexed column, so taking and giving back a slot is a HOT
-- update (hence the fill factor); riders whose free slots are all held by
-- offers are filtered after the index scan.  The predicate is
-- MATCH_RIDER_INDEXED of src/match.h, the part of the eligibility rule the
-- candidate searches select on: change both together (_rider_index_predicate
-- of sql/60_matching.sql returns the C text;
-- test/pgtap/63_matching_eligibility.sql compares them).
CREATE INDEX riders_available_idx ON @extschema@.riders USING gist (position)
	WHERE status = 'online' AND active_orders OPERATOR(pg_catalog.<) capacity;
COMMENT ON TABLE @extschema@.riders IS
	'Riders, their capacity (orders carried at once), status and last known position.';
COMMENT ON INDEX @extschema@.riders_available_idx IS
	'Positions of online riders who are not full: the nearest-neighbour index of matching.';
COMMENT ON COLUMN @extschema@.riders.phone_index_version IS
	'The version of the index key phone_index was computed with (rotate_index_key moves every row to the current one).';
COMMENT ON COLUMN @extschema@.riders.forgotten_at IS
	'When the rider was erased (forget_rider): their name, phone and tracks are gone; the id stays for their deliveries.';
COMMENT ON COLUMN @extschema@.riders.active_orders IS
	'Orders assigned to or carried by the rider (kept by a trigger on orders).';
COMMENT ON COLUMN @extschema@.riders.pending_offers IS
	'Unanswered offers to the rider; each holds one slot until answered or expired.';
COMMENT ON COLUMN @extschema@.riders.shift_started_at IS
	'Start of the current continuous shift: going online after a break of at least min_break_minutes starts a new one.';
COMMENT ON COLUMN @extschema@.riders.free_at IS
	'When the rider expects to be done with the orders it holds (update_rider_plan).  After a last delivery before it, kept until its time (the rider is still at the door); cleared with a last order released or cancelled, when the rider goes offline, and when a rider holding none takes an order.';
COMMENT ON COLUMN @extschema@.riders.plan_pickup_at IS
	'When the rider''s plan reaches its next pickup, for a trip not yet started (update_rider_plan): orders of that pickup may join the trip.';
COMMENT ON COLUMN @extschema@.riders.shift_ends_at IS
	'When the rider''s current shift ends, if it said (rider_online): matching offers no order it could only pick up later.';
COMMENT ON COLUMN @extschema@.riders.first_online_at IS
	'When the rider first came online (rider_online): a ping made before it is refused (DP029), as one made in a break.  NULL for a rider never online, or one whose first shift was before 0.2.0 and who has gone offline since.';
COMMENT ON COLUMN @extschema@.riders.stats_day IS
	'Day (zone time) that orders_today, earnings_today_cents and online_seconds_today count.';

CREATE TABLE @extschema@.rider_tracks (
	zone_id    bigint NOT NULL,
	rider_id   bigint NOT NULL,
	at         timestamptz NOT NULL,
	position   geometry(Point, 4326) NOT NULL,
	PRIMARY KEY (zone_id, rider_id, at)
);
-- old pings, oldest first (retention, sql/78_retention.sql)
CREATE INDEX rider_tracks_at_idx ON @extschema@.rider_tracks (zone_id, at);
COMMENT ON TABLE @extschema@.rider_tracks IS
	'Position pings of riders, kept for the retention period.';

CREATE SEQUENCE @extschema@.orders_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.orders (
	zone_id            bigint NOT NULL REFERENCES @extschema@.zones,
	order_id           bigint NOT NULL,
	kind               text NOT NULL,
	customer_id        bigint NOT NULL REFERENCES @extschema@.customers,
	merchant_id        bigint REFERENCES @extschema@.merchants,
	status             text NOT NULL,
	priority           text NOT NULL DEFAULT 'normal',
	rider_id           bigint REFERENCES @extschema@.riders,
	pickup             geometry(Point, 4326) NOT NULL,
	dropoff            geometry(Point, 4326) NOT NULL,
	dropoff_address_enc bytea,
	description_enc    bytea,
	distance_m         real NOT NULL,
	subtotal_cents     integer NOT NULL DEFAULT 0,
	fee_cents          integer NOT NULL DEFAULT 0,
	discount_cents     integer NOT NULL DEFAULT 0,
	total_cents        integer NOT NULL,
	coupon_code        text,
	promised_at        timestamptz NOT NULL,
	ready_at           timestamptz,
	created_at         timestamptz NOT NULL,
	status_changed_at  timestamptz NOT NULL,
	status_version     integer NOT NULL,
	placed_at          timestamptz,
	accepted_at        timestamptz,
	assigned_at        timestamptz,
	picked_up_at       timestamptz,
	delivered_at       timestamptz,
	cancelled_at       timestamptz,
	cancel_reason      text,
	assigned_by        text,
	-- set when retention or erasure (sql/78_retention.sql, forget_customer
	-- of sql/80_privacy.sql) coarsens the drop-off point to a grid cell
	dropoff_coarsened_at timestamptz,
	-- the delivery window of the last status change (sql/63_eta.sql)
	eta_earliest       timestamptz,
	eta_latest         timestamptz,
	-- the number of the order's current payment attempt, at least 1: the
	-- state machine stamps it (src/order_state.c)
	payment_attempt    integer NOT NULL DEFAULT 1,
	-- true when the merchant gave ready_at (merchant_accept with a time),
	-- false when it is a guess (now plus the preparation time), which the
	-- ETA window does not take for a floor (sql/63_eta.sql)
	ready_at_given     boolean NOT NULL DEFAULT false,
	PRIMARY KEY (zone_id, order_id),
	CHECK (zone_id OPERATOR(pg_catalog.=) (order_id OPERATOR(pg_catalog.>>) 40)),
	CHECK (kind = 'errand' OR merchant_id IS NOT NULL),
	CONSTRAINT orders_values_check CHECK (@extschema@._order_values_ok(kind, status, priority,
	                                      subtotal_cents, fee_cents, discount_cents, total_cents,
	                                      status_version))
);
ALTER SEQUENCE @extschema@.orders_id_seq OWNED BY @extschema@.orders.order_id;
CREATE INDEX orders_customer_idx ON @extschema@.orders (zone_id, customer_id, created_at);
-- a customer's unpaid and cancelled orders, which the fraud check at every
-- order counts (src/intake.c): from this index the count reads only those,
-- not every order of the customer within the window
CREATE INDEX orders_unpaid_idx ON @extschema@.orders (zone_id, customer_id, created_at)
	WHERE status IN ('pending_payment', 'payment_failed', 'cancelled');
-- orders waiting for their payment, by their last change: the purge
-- cancels those left unpaid (sql/78_retention.sql)
CREATE INDEX orders_unpaid_since_idx ON @extschema@.orders (zone_id, status_changed_at)
	WHERE status IN ('pending_payment', 'payment_failed');
CREATE INDEX orders_open_idx ON @extschema@.orders (zone_id, status)
	WHERE status IN ('placed', 'accepted', 'assigned', 'picked_up');
-- orders by the time they were placed: the demand forecast reads hours
-- of past weeks (sql/68_demand.sql), the operations views recent days
CREATE INDEX orders_created_idx ON @extschema@.orders (zone_id, created_at);
-- delivered orders by the time of delivery: learn_eta reads those of its
-- window (dispatch.eta_learn_days) and their predictions, not every order
-- ever delivered (sql/63_eta.sql).  An order enters it once, when delivered
CREATE INDEX orders_delivered_idx ON @extschema@.orders (zone_id, delivered_at)
	WHERE status = 'delivered';
CREATE INDEX orders_rider_idx ON @extschema@.orders (zone_id, rider_id)
	WHERE status IN ('assigned', 'picked_up');
-- the finished orders that a retention policy (sql/78_retention.sql) has
-- still to handle, in finishing order (order_text: any of the order's
-- texts left, a cancel reason alone too)
CREATE INDEX orders_retention_text_idx ON @extschema@.orders (zone_id, status_changed_at)
	WHERE status IN ('delivered', 'cancelled')
	  AND (dropoff_address_enc IS NOT NULL OR description_enc IS NOT NULL OR cancel_reason IS NOT NULL);
CREATE INDEX orders_retention_point_idx ON @extschema@.orders (zone_id, status_changed_at)
	WHERE status IN ('delivered', 'cancelled') AND dropoff_coarsened_at IS NULL;
COMMENT ON TABLE @extschema@.orders IS
	'Orders (takeaway) and errands.  status moves only through the state machine trigger; the *_at columns stamp each transition.';
COMMENT ON COLUMN @extschema@.orders.status_version IS
	'1 for a new order, one more at each status change, stamped by the state machine under the order''s row lock; each order_status event carries it as "version" (docs/events.md).';
COMMENT ON COLUMN @extschema@.orders.ready_at_given IS
	'true: ready_at is the time the merchant gave (merchant_accept with a ready time); false: none, or a guess (now plus the merchant''s preparation time; an errand''s time of payment).  Only a given ready time is a floor of the ETA window (docs/eta.md).';
COMMENT ON COLUMN @extschema@.orders.payment_attempt IS
	'The number of the order''s current payment attempt: 1 for a new order, one more each time a failed payment is retried (payment_failed -> pending_payment, retry_payment), stamped by the state machine; the order_status events of pending_payment and payment_failed carry it as "attempt", and fail_payment''s attempt names it (docs/api.md, "Payment attempts").';
COMMENT ON COLUMN @extschema@.orders.discount_cents IS
	'Money off the order: a campaign''s discount and the value of the points spent (dispatch.redemptions has the parts); total_cents = subtotal_cents + fee_cents - discount_cents.';
COMMENT ON COLUMN @extschema@.orders.dropoff_coarsened_at IS
	'When the drop-off point was coarsened to a grid cell (retention or erasure); NULL: still exact.';

CREATE TABLE @extschema@.order_items (
	zone_id      bigint NOT NULL,
	order_id     bigint NOT NULL,
	item_id      bigint NOT NULL REFERENCES @extschema@.items,
	qty          integer NOT NULL CHECK (qty > 0),
	price_cents  integer NOT NULL CHECK (price_cents >= 0),
	stock_taken  boolean NOT NULL,
	PRIMARY KEY (zone_id, order_id, item_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders
);
COMMENT ON TABLE @extschema@.order_items IS
	'Lines of takeaway orders, with the unit price at the time of the order.';
COMMENT ON COLUMN @extschema@.order_items.stock_taken IS
	'Whether the line took its quantity from the item''s count (dispatch.item_stock): a cancellation gives back only what was taken, not to a count set after the order.';

CREATE SEQUENCE @extschema@.payments_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.payments (
	zone_id         bigint NOT NULL,
	payment_id      bigint NOT NULL,
	order_id        bigint NOT NULL,
	amount_cents    integer NOT NULL,
	status          text NOT NULL DEFAULT 'pending',
	provider_ref    text,
	failure_reason  text,
	created_at      timestamptz NOT NULL,
	settled_at      timestamptz,
	PRIMARY KEY (zone_id, payment_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders,
	CONSTRAINT payments_values_check CHECK (@extschema@._payment_values_ok(amount_cents, status))
);
ALTER SEQUENCE @extschema@.payments_id_seq OWNED BY @extschema@.payments.payment_id;
CREATE UNIQUE INDEX payments_one_pending_idx ON @extschema@.payments (zone_id, order_id)
	WHERE status = 'pending';
-- a provider's reference names one charge: it pays one order (DP030 from
-- confirm_payment).  Within a zone: on Citus a unique index holds the
-- distribution column, and a zone's payments lie on one shard.
CREATE UNIQUE INDEX payments_provider_ref_idx ON @extschema@.payments (zone_id, provider_ref)
	WHERE status = 'succeeded';
COMMENT ON TABLE @extschema@.payments IS
	'Payment attempts of orders, and the successes reported for an order that could not take them (cancelled, or failed and not retried), recorded to be refunded; one attempt at a time is pending, and a provider reference pays one order of a zone.';

CREATE TABLE @extschema@.events (
	zone_id      bigint NOT NULL,
	seq          bigint NOT NULL,
	at           timestamptz NOT NULL,
	kind         text NOT NULL,
	order_id     bigint,
	customer_id  bigint,
	rider_id     bigint,
	payload      jsonb NOT NULL DEFAULT '{}',
	relay        boolean NOT NULL DEFAULT false,
	PRIMARY KEY (zone_id, seq)
);
CREATE INDEX events_seq_idx ON @extschema@.events (seq);
COMMENT ON TABLE @extschema@.events IS
	'The event outbox.  seq is (writing transaction id << 20) | ordinal; read it with events_since().  No personal data.';
COMMENT ON COLUMN @extschema@.events.relay IS
	'true: the relay sends this event''s notification after its transaction commits (dispatch.notify = relay); false: its writer did, or nobody (off).';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.zones', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.zones_zone_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.merchants', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.merchants_merchant_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.items', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.items_item_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.item_stock', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customers', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customers_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.riders', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.riders_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rider_zones', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rider_tracks', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.orders', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.orders_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_items', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.payments', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.payments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.events', '');

REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA @extschema@ FROM PUBLIC;

-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON FUNCTION @extschema@.zone_of(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.zone_of(bigint) TO dispatch_app, dispatch_gateway, dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.zone_scoped_id(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.zone_scoped_id(bigint, bigint) TO dispatch_app, dispatch_gateway, dispatch_analyst, dispatch_admin;
