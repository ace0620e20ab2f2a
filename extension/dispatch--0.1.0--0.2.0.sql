-- extension/dispatch--0.1.0--0.2.0.sql
-- Upgrade from release 0.1.0 to 0.2.0.  It is run by ALTER EXTENSION
-- dispatch UPDATE, with search_path set to the extension's schema and those
-- of postgis and pgcrypto, like the install script.  test/upgrade checks
-- that installing 0.1.0 and running this script gives the catalog of a
-- fresh install of 0.2.0.
--
-- Three parts: 1. tables, columns, constraints and the data they need;
-- 2. every routine that is new or changed since 0.1.0, as sql/ defines it
-- (tools/upgrade-defs --changed extension/dispatch--0.1.0.sql prints this
-- part), and the routines 0.2.0 no longer has; 3. what refers to the
-- routines (triggers, search paths).

\echo Use "ALTER EXTENSION dispatch UPDATE TO '0.2.0'" to load this file. \quit

-- ===========================================================================
-- 1. Tables, columns, constraints
-- ===========================================================================

-- ===========================================================================
-- The order lifecycle: a retried call never undoes work, and status
-- versions.
--
-- Every API call that changes an order, offer or rider checks the
-- status it starts from (a repeat with the same effect is a no-op, anything
-- else a DP error naming the status: DP104, DP105); the release of an
-- assigned order is an explicit call, release_order, which marks the offer
-- that gave the order 'released' and excludes the rider, and the state
-- machine (C) allows assigned -> accepted only when the same update removes
-- the rider.  orders.status_version, stamped by the state machine
-- under the order's row lock and carried by every order_status event.
-- ===========================================================================

-- status versions: an existing order continues from the number of its
-- order_status events still in the outbox, at least 1 (docs/events.md)
ALTER TABLE @extschema@.orders ADD COLUMN status_version integer NOT NULL DEFAULT 1;
UPDATE @extschema@.orders o
   SET status_version = n.events
  FROM (SELECT e.zone_id, e.order_id, pg_catalog.count(*)::integer AS events
          FROM @extschema@.events e
         WHERE e.kind OPERATOR(pg_catalog.=) 'order_status' AND e.order_id IS NOT NULL
         GROUP BY e.zone_id, e.order_id) n
 WHERE o.zone_id OPERATOR(pg_catalog.=) n.zone_id
   AND o.order_id OPERATOR(pg_catalog.=) n.order_id
   AND n.events OPERATOR(pg_catalog.>) 1;
ALTER TABLE @extschema@.orders ALTER COLUMN status_version DROP DEFAULT;
-- (its rule, at least 1: orders_values_check, part 3)
COMMENT ON COLUMN @extschema@.orders.status_version IS
	'1 for a new order, one more at each status change, stamped by the state machine under the order''s row lock; each order_status event carries it as "version" (docs/events.md).';

-- ---------------------------------------------------------------------------
-- a customer's unpaid and cancelled orders, which the fraud check at every
-- order counts: from this index the count reads only those, not every
-- order of the customer within the window
CREATE INDEX orders_unpaid_idx ON @extschema@.orders (zone_id, customer_id, created_at)
	WHERE status IN ('pending_payment', 'payment_failed', 'cancelled');

-- released offers, and what a releasing rider said
ALTER TABLE @extschema@.offers DROP CONSTRAINT offers_status_check;
ALTER TABLE @extschema@.offers ADD CONSTRAINT offers_status_check
	CHECK (status IN ('pending', 'accepted', 'rejected', 'expired', 'cancelled', 'released'));
COMMENT ON TABLE @extschema@.offers IS
	'Offers of an order to a rider, written by assign_batch and answered with respond_offer; at most one is pending per order.  An accepted offer becomes released when its rider gives the order back (release_order).';
ALTER TABLE @extschema@.offer_exclusions ADD COLUMN detail text;
COMMENT ON TABLE @extschema@.offer_exclusions IS
	'A rider who rejected or let expire an offer of an order, or released the order (reason rejected, expired, released), is never offered that order again.';
COMMENT ON COLUMN @extschema@.offer_exclusions.detail IS
	'For a release: the reason given to release_order (at most 200 characters).';

-- ---------------------------------------------------------------------------
-- The source of matching_settings and
-- vehicle_profiles rows (kept by pg_dump when the operator's), purge runs
-- that stop cleanly on cancel.

-- Shipped rows of matching_settings and vehicle_profiles are
-- source 'default' and not dumped; the operator's rows are.  Existing rows:
-- a zone-0 row or a vehicle profile equal to what 0.1.0 shipped stays
-- 'default', an edited one (and every other zone's row) is 'operator'.
ALTER TABLE @extschema@.matching_settings
	ADD COLUMN source text NOT NULL DEFAULT 'operator'
	    CONSTRAINT matching_settings_source_check CHECK (source IN ('default', 'operator'));
ALTER TABLE @extschema@.vehicle_profiles
	ADD COLUMN source text NOT NULL DEFAULT 'operator'
	    CONSTRAINT vehicle_profiles_source_check CHECK (source IN ('default', 'operator'));
COMMENT ON COLUMN @extschema@.matching_settings.source IS
	'default: the row as the extension ships it (zone 0), recreated by CREATE EXTENSION; operator: inserted or edited by an operator, kept by pg_dump.  Kept by triggers.';
COMMENT ON COLUMN @extschema@.vehicle_profiles.source IS
	'default: the profile as the extension ships it, recreated by CREATE EXTENSION; operator: edited by an operator, kept by pg_dump.  Kept by triggers.';
UPDATE @extschema@.matching_settings s SET source = 'default'
 WHERE s.zone_id OPERATOR(pg_catalog.=) 0
   AND (s.k_candidates, s.radius_m, s.stale_after_s, s.offer_ttl_s, s.hold_cost, s.w_travel,
        s.w_rider_wait, s.w_food_wait, s.w_late, s.priority_hot, s.priority_fresh, s.load_penalty_s,
        s.w_fair_orders, s.w_fair_earnings, s.w_shift_hour, s.max_shift_minutes, s.min_break_minutes,
        s.max_daily_minutes, s.max_batch_orders, s.max_arcs, s.time_budget_ms, s.candidate_source)
       OPERATOR(pg_catalog.=)
       (12, 5000::real, 120, 45, 1800::real, 1.0::real,
        0.3::real, 1.0::real, 2.0::real, 1.5::real, 2.0::real, 300::real,
        60::real, 0.3::real, 60::real, 240, 15,
        600, 5000, 500000, 100::real, 'index'::text);
UPDATE @extschema@.vehicle_profiles p SET source = 'default'
  FROM (VALUES ('foot', 0.35::real, 1500::real, 2500::real),
               ('bicycle', 0.8::real, 4000::real, 6000::real),
               ('ebike', 1.0::real, 6000::real, 12000::real),
               ('motorbike', 1.3::real, 10000::real, 25000::real),
               ('car', 1.2::real, 15000::real, 40000::real)) AS d (vehicle, speed_factor, max_pickup_m, max_trip_m)
 WHERE p.vehicle OPERATOR(pg_catalog.=) d.vehicle
   AND p.speed_factor OPERATOR(pg_catalog.=) d.speed_factor
   AND p.max_pickup_m OPERATOR(pg_catalog.=) d.max_pickup_m
   AND p.max_trip_m OPERATOR(pg_catalog.=) d.max_trip_m;
-- a shipped row deleted under 0.1.0 comes back: it may not be missing now
INSERT INTO @extschema@.matching_settings (zone_id, source) VALUES (0, 'default') ON CONFLICT DO NOTHING;
INSERT INTO @extschema@.vehicle_profiles (vehicle, speed_factor, max_pickup_m, max_trip_m, source) VALUES
	('foot',      0.35,  1500,  2500, 'default'),
	('bicycle',   0.8,   4000,  6000, 'default'),
	('ebike',     1.0,   6000, 12000, 'default'),
	('motorbike', 1.3,  10000, 25000, 'default'),
	('car',       1.2,  15000, 40000, 'default')
	ON CONFLICT DO NOTHING;

-- DP307 (the solver failed) marks an internal failure only: every real
-- setting of matching_settings is finite and at most 1e6.  A 0.1.0 row
-- beyond that (Infinity, NaN or huge: a batch with it failed with DP307)
-- is brought to the bound first, so that the upgrade goes through.
UPDATE @extschema@.matching_settings
   SET radius_m = CASE WHEN radius_m <= 1e6 THEN radius_m ELSE 1e6 END,
	hold_cost = CASE WHEN hold_cost <= 1e6 THEN hold_cost ELSE 1e6 END,
	w_travel = CASE WHEN w_travel <= 1e6 THEN w_travel ELSE 1e6 END,
	w_rider_wait = CASE WHEN w_rider_wait <= 1e6 THEN w_rider_wait ELSE 1e6 END,
	w_food_wait = CASE WHEN w_food_wait <= 1e6 THEN w_food_wait ELSE 1e6 END,
	w_late = CASE WHEN w_late <= 1e6 THEN w_late ELSE 1e6 END,
	priority_hot = CASE WHEN priority_hot <= 1e6 THEN priority_hot ELSE 1e6 END,
	priority_fresh = CASE WHEN priority_fresh <= 1e6 THEN priority_fresh ELSE 1e6 END,
	load_penalty_s = CASE WHEN load_penalty_s <= 1e6 THEN load_penalty_s ELSE 1e6 END,
	w_fair_orders = CASE WHEN w_fair_orders <= 1e6 THEN w_fair_orders ELSE 1e6 END,
	w_fair_earnings = CASE WHEN w_fair_earnings <= 1e6 THEN w_fair_earnings ELSE 1e6 END,
	w_shift_hour = CASE WHEN w_shift_hour <= 1e6 THEN w_shift_hour ELSE 1e6 END,
	time_budget_ms = CASE WHEN time_budget_ms <= 1e6 THEN time_budget_ms ELSE 1e6 END
 WHERE NOT radius_m <= 1e6
   OR NOT hold_cost <= 1e6
   OR NOT w_travel <= 1e6
   OR NOT w_rider_wait <= 1e6
   OR NOT w_food_wait <= 1e6
   OR NOT w_late <= 1e6
   OR NOT priority_hot <= 1e6
   OR NOT priority_fresh <= 1e6
   OR NOT load_penalty_s <= 1e6
   OR NOT w_fair_orders <= 1e6
   OR NOT w_fair_earnings <= 1e6
   OR NOT w_shift_hour <= 1e6
   OR NOT time_budget_ms <= 1e6;
ALTER TABLE @extschema@.matching_settings
	ADD CONSTRAINT matching_settings_finite
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
	         AND time_budget_ms <= 1e6);

-- Orders stranded by candidate pruning get wider candidate
-- searches, at most widen_rounds rounds (0: none, as in 0.1.0)
ALTER TABLE @extschema@.matching_settings
	ADD COLUMN widen_rounds integer NOT NULL DEFAULT 3 CHECK (widen_rounds BETWEEN 0 AND 5);

-- A purge run stopped by a cancel,
-- statement_timeout or an error keeps its committed batches counted, closes
-- its row as aborted and holds no lock afterwards (no session lock any
-- more: every batch takes a transaction lock, a run starts only when no
-- other run is live)
COMMENT ON TABLE @extschema@.purge_runs IS
	'One row per purge run: when, how many batches, rows handled per data class, and by whom (application pg_cron for scheduled runs).  skipped: another run held the lock; aborted: the run was cancelled or failed (its committed batches are kept and counted), or its session ended, before it finished.';

-- ---------------------------------------------------------------------------
-- The default sentiment model ships with the code.  Its
-- word priors and learned weights are compiled into the module (generated
-- from src/sentiment_model.tsv), so the tables that held the shipped copy
-- go, with their triggers and grants.  They held only the rows that 0.1.0
-- installed (no role but the owner could write them, and pg_dump never
-- kept them); an operator's own priors and learned weights are in
-- sentiment_lexicon and sentiment_weights, which keep their rows.
DROP TABLE @extschema@.sentiment_lexicon_default;
DROP TABLE @extschema@.sentiment_weights_default;
COMMENT ON TABLE @extschema@.sentiment_lexicon IS
	'Word priors added by operators; they override the default and built-in priors.  Chinese words of up to 8 characters also join the segmentation.';
COMMENT ON TABLE @extschema@.sentiment_weights IS
	'Weights learned by train_sentiment().  When this table has rows, they replace the default weights built into the module as a whole; empty it to go back to the default model.';

-- ---------------------------------------------------------------------------
-- Growth, campaigns (sql/52_campaigns.sql): campaigns, coupons,
-- redemptions, the points ledger, referrals, and the outbox cursors of the
-- growth jobs; orders carry their discount.
ALTER TABLE @extschema@.orders
	ADD COLUMN discount_cents integer NOT NULL DEFAULT 0 CHECK (discount_cents >= 0);
COMMENT ON COLUMN @extschema@.orders.discount_cents IS
	'Money off the order: a campaign''s discount and the value of the points spent (dispatch.redemptions has the parts); total_cents = subtotal_cents + fee_cents - discount_cents.';
-- place_order takes the points to spend (a new argument, with a default)
DROP FUNCTION @extschema@.place_order(bigint, bigint, jsonb, float8, float8, text, text, text);

CREATE TABLE @extschema@.campaigns (
	campaign_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name          text NOT NULL UNIQUE CHECK (name <> '' AND pg_catalog.length(name) <= 200),
	kind          text NOT NULL CHECK (kind IN ('first_order', 'limited_time', 'referral', 'points',
	                                            'usual', 'goodwill')),
	zone_id       bigint REFERENCES @extschema@.zones,
	rules         jsonb NOT NULL DEFAULT '{}',
	budget_cents  bigint CHECK (budget_cents >= 0),
	starts_at     timestamptz NOT NULL,
	ends_at       timestamptz,
	ended_at      timestamptz,
	created_at    timestamptz NOT NULL,
	CHECK (ends_at IS NULL OR ends_at > starts_at)
);
COMMENT ON TABLE @extschema@.campaigns IS
	'Growth campaigns: kind, rules (jsonb, checked by create_campaign), budget in cents (NULL: none; what is spent is kept in campaign_budget), time window, optional zone.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaigns', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaigns_campaign_id_seq', '');
REVOKE ALL ON @extschema@.campaigns FROM PUBLIC;

-- A budget is kept in slots, each in a zone, so that an order charges rows
-- of its own zone: on Citus they lie on the zone's worker with the order.
-- An order charges one slot of its zone (chosen by its backend) and only
-- when that slot cannot cover the discount locks every slot of its zone, in
-- slot order; when the zone's room is short it takes the rest from other
-- zones' slots that no transaction holds (sql: _budget_take).  A city-wide
-- budget starts in the pool (zone 0, no zone's) and balance_budgets() moves
-- its room to the zones, by what each has taken lately.
CREATE TABLE @extschema@.campaign_budget (
	zone_id      bigint NOT NULL CHECK (zone_id >= 0),
	campaign_id  bigint NOT NULL REFERENCES @extschema@.campaigns,
	slot         smallint NOT NULL CHECK (slot >= 0),
	cap_cents    bigint NOT NULL CHECK (cap_cents >= 0),
	spent_cents  bigint NOT NULL DEFAULT 0 CHECK (spent_cents >= 0 AND spent_cents <= cap_cents),
	PRIMARY KEY (zone_id, campaign_id, slot)
);
CREATE INDEX campaign_budget_campaign_idx ON @extschema@.campaign_budget (campaign_id);
COMMENT ON TABLE @extschema@.campaign_budget IS
	'The budget of a campaign in slots per zone (zone 0: the pool, room not yet given to a zone) whose caps sum to it: what is spent (discounts held, referral rewards paid) is the sum of spent_cents.  balance_budgets() moves room between zones.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaign_budget', '');
REVOKE ALL ON @extschema@.campaign_budget FROM PUBLIC;

CREATE TABLE @extschema@.coupons (
	code         text PRIMARY KEY CHECK (code OPERATOR(pg_catalog.~) '^[A-Z0-9_-]{3,64}$'),
	campaign_id  bigint NOT NULL REFERENCES @extschema@.campaigns,
	customer_id  bigint REFERENCES @extschema@.customers,
	merchant_id  bigint REFERENCES @extschema@.merchants,
	max_uses     integer CHECK (max_uses >= 1),
	valid_until  timestamptz,
	created_at   timestamptz NOT NULL
);
CREATE INDEX coupons_campaign_idx ON @extschema@.coupons (campaign_id);
CREATE INDEX coupons_customer_idx ON @extschema@.coupons (customer_id) WHERE customer_id IS NOT NULL;
COMMENT ON TABLE @extschema@.coupons IS
	'Codes that redeem a campaign: public (customer NULL, e.g. WELCOME10) or personal one-use codes (usual offers, goodwill); optionally for one merchant.  The uses of a code with max_uses are counted in coupon_uses.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.coupons', '');
REVOKE ALL ON @extschema@.coupons FROM PUBLIC;

-- The uses of a counted code (max_uses set), held in zones as a budget is,
-- so that on Citus an order redeeming it writes its zone's worker: a code
-- has its uses in the zone it was issued for (its merchant's, or that of
-- the order it makes good), and an order in another zone moves one use to
-- its own (_coupon_use).
CREATE TABLE @extschema@.coupon_uses (
	zone_id  bigint NOT NULL CHECK (zone_id >= 0),
	code     text NOT NULL REFERENCES @extschema@.coupons,
	cap      integer NOT NULL CHECK (cap >= 0),
	used     integer NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= cap),
	PRIMARY KEY (zone_id, code)
);
CREATE INDEX coupon_uses_code_idx ON @extschema@.coupon_uses (code);
COMMENT ON TABLE @extschema@.coupon_uses IS
	'The uses of a code with max_uses, per zone (zone 0: none''s): the caps sum to max_uses, used counts the orders holding it there.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.coupon_uses', '');
REVOKE ALL ON @extschema@.coupon_uses FROM PUBLIC;

CREATE TABLE @extschema@.redemptions (
	zone_id         bigint NOT NULL,
	order_id        bigint NOT NULL,
	customer_id     bigint NOT NULL,
	campaign_id     bigint REFERENCES @extschema@.campaigns,
	coupon_code     text,
	discount_cents  integer NOT NULL DEFAULT 0 CHECK (discount_cents >= 0),
	points_spent    integer NOT NULL DEFAULT 0 CHECK (points_spent >= 0),
	points_cents    integer NOT NULL DEFAULT 0 CHECK (points_cents >= 0),
	points_lots     jsonb,
	status          text NOT NULL DEFAULT 'applied' CHECK (status IN ('applied', 'returned')),
	created_at      timestamptz NOT NULL,
	returned_at     timestamptz,
	PRIMARY KEY (zone_id, order_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders,
	CHECK (campaign_id IS NOT NULL OR points_spent > 0)
);
CREATE INDEX redemptions_campaign_idx ON @extschema@.redemptions (campaign_id, customer_id);
COMMENT ON TABLE @extschema@.redemptions IS
	'What an order took: at most one campaign''s discount and the points spent on it (points_lots: the lots they came from, so that a cancellation restores them).  Zone data, keyed like the order.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.redemptions', '');
REVOKE ALL ON @extschema@.redemptions FROM PUBLIC;

-- the points ledger: customer-wide data held in zones.  Each entry is a lot
-- that can be spent until it expires (remaining counts down as it is
-- spent), kept in the zone of what earned it (the order delivered, reviewed
-- or complained of), so that on Citus an order in that zone spends it on
-- the zone's worker; its id carries the zone (zone_scoped_id).  What an
-- order spent, and from which lots, is its redemption (dispatch.redemptions).
CREATE SEQUENCE @extschema@.points_ledger_entry_id_seq;
CREATE TABLE @extschema@.points_ledger (
	zone_id      bigint NOT NULL REFERENCES @extschema@.zones,
	entry_id     bigint NOT NULL,
	customer_id  bigint NOT NULL REFERENCES @extschema@.customers,
	at           timestamptz NOT NULL,
	points       integer NOT NULL CHECK (points > 0),
	remaining    integer NOT NULL CHECK (remaining >= 0 AND remaining <= points),
	expires_at   timestamptz,
	reason       text NOT NULL CHECK (reason IN ('delivery', 'feedback', 'goodwill', 'referral', 'survey')),
	ref          text NOT NULL,
	campaign_id  bigint REFERENCES @extschema@.campaigns,
	PRIMARY KEY (zone_id, entry_id),
	-- customer first: it serves the reads of a customer's lots in every
	-- zone (balance, tier, export); with zone_id, as Citus wants of a
	-- unique key of a table distributed by zone
	UNIQUE (customer_id, reason, ref, zone_id)
);
CREATE INDEX points_ledger_lots_idx ON @extschema@.points_ledger (customer_id, expires_at)
	WHERE remaining > 0;
COMMENT ON TABLE @extschema@.points_ledger IS
	'Points per customer, one lot per credit, in the zone of what earned it: points, what remains of them, when they expire, why (reason) and for what (ref); one entry per (zone, customer, reason, ref), so that crediting twice writes nothing.  Spends are the redemptions of orders.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.points_ledger', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.points_ledger_entry_id_seq', '');
REVOKE ALL ON @extschema@.points_ledger FROM PUBLIC;

CREATE TABLE @extschema@.referral_codes (
	customer_id  bigint PRIMARY KEY REFERENCES @extschema@.customers,
	code         text NOT NULL UNIQUE,
	created_at   timestamptz NOT NULL
);
COMMENT ON TABLE @extschema@.referral_codes IS
	'Each customer''s referral code, made at the first referral_code() call.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.referral_codes', '');
REVOKE ALL ON @extschema@.referral_codes FROM PUBLIC;

CREATE TABLE @extschema@.referrals (
	customer_id  bigint PRIMARY KEY REFERENCES @extschema@.customers,
	referrer_id  bigint NOT NULL REFERENCES @extschema@.customers,
	campaign_id  bigint NOT NULL REFERENCES @extschema@.campaigns,
	applied_at   timestamptz NOT NULL,
	status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'rewarded', 'budget_exhausted')),
	order_id     bigint,
	settled_at   timestamptz,
	CHECK (customer_id <> referrer_id)
);
CREATE INDEX referrals_referrer_idx ON @extschema@.referrals (referrer_id);
COMMENT ON TABLE @extschema@.referrals IS
	'Who referred whom: customer_id is the referee (one referrer each), under which campaign; rewarded (both sides, in points) when the referee''s first order is delivered.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.referrals', '');
REVOKE ALL ON @extschema@.referrals FROM PUBLIC;

CREATE TABLE @extschema@.growth_cursors (
	consumer    text NOT NULL,
	zone_id     bigint NOT NULL REFERENCES @extschema@.zones ON DELETE CASCADE,
	last_seq    bigint NOT NULL DEFAULT 0,
	updated_at  timestamptz,
	PRIMARY KEY (consumer, zone_id)
);
COMMENT ON TABLE @extschema@.growth_cursors IS
	'How far each growth job (credit_rewards, rollup_campaigns) has read the outbox, zone by zone: the last events seq of the zone it read.  One cursor a zone, as a gateway keeps: on Citus the events of a zone are numbered by its worker and the numbers of different zones are not comparable.  A zone without a row starts at 0.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.growth_cursors', '');
REVOKE ALL ON @extschema@.growth_cursors FROM PUBLIC;
-- Growth: recommendations (sql/87_recommend.sql).  The signals of
-- recommend(), popularity per zone and co-ordering between merchants, kept
-- by refresh_recommendations(); derived, so not dumped, and empty until the
-- first refresh.
CREATE TABLE @extschema@.recommend_popularity (
	zone_id      bigint NOT NULL REFERENCES @extschema@.zones,
	merchant_id  bigint NOT NULL REFERENCES @extschema@.merchants,
	customers    integer NOT NULL CHECK (customers > 0),
	orders       integer NOT NULL CHECK (orders >= customers),
	score        float8 NOT NULL CHECK (score > 0 AND score <= 1),
	PRIMARY KEY (zone_id, merchant_id)
);
CREATE INDEX recommend_popularity_rank_idx ON @extschema@.recommend_popularity (zone_id, score DESC, merchant_id);
COMMENT ON TABLE @extschema@.recommend_popularity IS
	'Merchants by popularity in their zone over the recent window: distinct customers and orders, score = customers / the zone''s best.  Rebuilt by refresh_recommendations(); no personal data; not dumped (derived).';

CREATE TABLE @extschema@.recommend_coorders (
	zone_id      bigint NOT NULL REFERENCES @extschema@.zones,
	merchant_id  bigint NOT NULL REFERENCES @extschema@.merchants,
	other_id     bigint NOT NULL REFERENCES @extschema@.merchants,
	customers    integer NOT NULL CHECK (customers > 0),
	score        float8 NOT NULL CHECK (score > 0 AND score <= 1),
	PRIMARY KEY (zone_id, merchant_id, other_id),
	CHECK (other_id OPERATOR(pg_catalog.<>) merchant_id)
);
COMMENT ON TABLE @extschema@.recommend_coorders IS
	'Customers who ordered from merchant_id also ordered from other_id (same zone, recent window): customers of both and the cosine score; the best coorder_top others per merchant, pairs of at least coorder_min_customers customers.  Rebuilt by refresh_recommendations(); no personal data; not dumped (derived).';

CREATE TABLE @extschema@.recommend_refreshes (
	zone_id            bigint PRIMARY KEY REFERENCES @extschema@.zones,
	refreshed_at       timestamptz NOT NULL,
	popular_merchants  integer NOT NULL,
	coorder_pairs      integer NOT NULL,
	duration_ms        float8 NOT NULL
);
COMMENT ON TABLE @extschema@.recommend_refreshes IS
	'The last refresh of each zone''s recommendation signals: when (dispatch time), rows written and how long it took.  Its row lock serialises refreshes of one zone.';

REVOKE ALL ON @extschema@.recommend_popularity FROM PUBLIC;
REVOKE ALL ON @extschema@.recommend_coorders FROM PUBLIC;
REVOKE ALL ON @extschema@.recommend_refreshes FROM PUBLIC;
GRANT SELECT ON @extschema@.recommend_popularity TO dispatch_admin;
GRANT SELECT ON @extschema@.recommend_coorders TO dispatch_admin;
GRANT SELECT ON @extschema@.recommend_refreshes TO dispatch_admin;

-- Growth: A/B experiments (sql/86_experiments.sql).  Experiments, their
-- variants, and the first exposure of each consenting customer; the view
-- experiment_results calls two_proportion_p, so it is created at the end
-- of section 3.
CREATE TABLE @extschema@.experiments (
	experiment_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name               text NOT NULL UNIQUE,
	conversion_window  interval NOT NULL,
	created_at         timestamptz NOT NULL,
	ended_at           timestamptz,
	CHECK (ended_at IS NULL OR ended_at >= created_at)
);
COMMENT ON TABLE @extschema@.experiments IS
	'A/B experiments: the name (part of every customer''s hash, so never reused), the conversion window after a first exposure, and when it was created and ended.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.experiments', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.experiments_experiment_id_seq', '');
REVOKE ALL ON @extschema@.experiments FROM PUBLIC;
GRANT SELECT ON @extschema@.experiments TO dispatch_admin;

CREATE TABLE @extschema@.experiment_variants (
	experiment_id  bigint NOT NULL REFERENCES @extschema@.experiments,
	position       integer NOT NULL CHECK (position BETWEEN 1 AND 20),
	name           text NOT NULL CHECK (pg_catalog.length(name) BETWEEN 1 AND 64),
	weight         integer NOT NULL CHECK (weight BETWEEN 1 AND 10000),
	PRIMARY KEY (experiment_id, position),
	UNIQUE (experiment_id, name)
);
COMMENT ON TABLE @extschema@.experiment_variants IS
	'The variants of an experiment in the order given: a bucket falls into the first variant whose cumulative weight exceeds bucket x total weight (docs/experiments.md).  Exactly one is named control.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.experiment_variants', '');
REVOKE ALL ON @extschema@.experiment_variants FROM PUBLIC;
GRANT SELECT ON @extschema@.experiment_variants TO dispatch_admin;

CREATE TABLE @extschema@.experiment_exposures (
	experiment_id  bigint NOT NULL REFERENCES @extschema@.experiments,
	customer_id    bigint NOT NULL REFERENCES @extschema@.customers,
	variant        text NOT NULL,
	exposed_at     timestamptz NOT NULL,
	PRIMARY KEY (experiment_id, customer_id),
	FOREIGN KEY (experiment_id, variant) REFERENCES @extschema@.experiment_variants (experiment_id, name)
);
COMMENT ON TABLE @extschema@.experiment_exposures IS
	'The first exposure of a consenting customer to a running experiment, and the variant shown then; later calls of experiment_variant return it.  Customer-wide data (no zone).';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.experiment_exposures', '');
REVOKE ALL ON @extschema@.experiment_exposures FROM PUBLIC;
-- The complaint loop and surveys (sql/76_complaints.sql): complaint
-- tickets opened by negative reviews, one-tap surveys and their answers.
-- Zone data, new tables; the trigger on feedback and the views
-- complaint_sla and survey_results are in section 3.  Reviews written
-- before the update open no tickets.
CREATE SEQUENCE @extschema@.complaint_ticket_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.complaint_tickets (
	zone_id              bigint NOT NULL,
	ticket_id            bigint NOT NULL,
	order_id             bigint NOT NULL,
	feedback_id          bigint NOT NULL,
	merchant_id          bigint,
	topics               text[] NOT NULL DEFAULT '{}',
	side                 text NOT NULL CHECK (side IN ('merchant', 'delivery')),
	state                text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
	opened_at            timestamptz NOT NULL,
	due_at               timestamptz NOT NULL,
	resolved_at          timestamptz,
	resolution           text,
	goodwill_points      integer NOT NULL DEFAULT 0 CHECK (goodwill_points >= 0),
	goodwill_campaign_id bigint REFERENCES @extschema@.campaigns,
	goodwill_coupon      text REFERENCES @extschema@.coupons,
	PRIMARY KEY (zone_id, ticket_id),
	UNIQUE (zone_id, order_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders (zone_id, order_id),
	FOREIGN KEY (zone_id, feedback_id) REFERENCES @extschema@.feedback (zone_id, feedback_id),
	CHECK (zone_id OPERATOR(pg_catalog.=) (ticket_id OPERATOR(pg_catalog.>>) 40)),
	CHECK (due_at OPERATOR(pg_catalog.>) opened_at),
	CHECK ((state OPERATOR(pg_catalog.=) 'resolved') OPERATOR(pg_catalog.=) (resolved_at IS NOT NULL)
	       AND (resolved_at IS NULL) OPERATOR(pg_catalog.=) (resolution IS NULL)),
	CHECK (goodwill_coupon IS NULL OR goodwill_campaign_id IS NOT NULL)
);
ALTER SEQUENCE @extschema@.complaint_ticket_id_seq OWNED BY @extschema@.complaint_tickets.ticket_id;
CREATE INDEX complaint_tickets_open_idx ON @extschema@.complaint_tickets (zone_id, due_at) WHERE state = 'open';
CREATE INDEX complaint_tickets_day_idx ON @extschema@.complaint_tickets (zone_id, opened_at);
COMMENT ON SEQUENCE @extschema@.complaint_ticket_id_seq IS
	'The low 40 bits of complaint ticket ids.';
COMMENT ON INDEX @extschema@.complaint_tickets_open_idx IS
	'Open tickets of a zone by due time: the work queue.';
COMMENT ON INDEX @extschema@.complaint_tickets_day_idx IS
	'Tickets of a zone by opening time, for complaint_sla.';
COMMENT ON TABLE @extschema@.complaint_tickets IS
	'Complaint tickets, one per order, opened by its first negative review (trigger feedback_complaint on feedback): topics and side from the review, due complaint_due_in() after opening; resolve_ticket records the resolution and the goodwill given (points, a coupon of a goodwill campaign).  No text of the review is copied.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.complaint_tickets', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.complaint_ticket_id_seq', '');
REVOKE ALL ON @extschema@.complaint_tickets FROM PUBLIC;
GRANT SELECT ON @extschema@.complaint_tickets TO dispatch_admin;

CREATE SEQUENCE @extschema@.survey_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.surveys (
	zone_id      bigint NOT NULL,
	survey_id    bigint NOT NULL,
	kind         text NOT NULL CHECK (kind IN ('delivery', 'campaign')),
	order_id     bigint,
	campaign_id  bigint REFERENCES @extschema@.campaigns,
	created_at   timestamptz NOT NULL,
	PRIMARY KEY (zone_id, survey_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders (zone_id, order_id),
	CHECK (zone_id OPERATOR(pg_catalog.=) (survey_id OPERATOR(pg_catalog.>>) 40)),
	CHECK (CASE kind WHEN 'delivery' THEN order_id IS NOT NULL AND campaign_id IS NULL
	                 ELSE order_id IS NULL AND campaign_id IS NOT NULL END)
);
ALTER SEQUENCE @extschema@.survey_id_seq OWNED BY @extschema@.surveys.survey_id;
CREATE UNIQUE INDEX surveys_order_idx ON @extschema@.surveys (zone_id, order_id) WHERE order_id IS NOT NULL;
CREATE UNIQUE INDEX surveys_campaign_idx ON @extschema@.surveys (zone_id, campaign_id) WHERE campaign_id IS NOT NULL;
COMMENT ON SEQUENCE @extschema@.survey_id_seq IS
	'The low 40 bits of survey ids.';
COMMENT ON INDEX @extschema@.surveys_order_idx IS
	'One survey per order.';
COMMENT ON INDEX @extschema@.surveys_campaign_idx IS
	'One survey per campaign (its zone is the campaign''s).';
COMMENT ON TABLE @extschema@.surveys IS
	'One-tap surveys: after a delivery (kind delivery, one per order) or at the end of a campaign (kind campaign, one per campaign).  zone_id is the order''s zone, or the campaign''s, 0 for a campaign of every zone; survey ids are (zone_id << 40) | n.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.surveys', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.survey_id_seq', '');
REVOKE ALL ON @extschema@.surveys FROM PUBLIC;
GRANT SELECT ON @extschema@.surveys TO dispatch_admin;

CREATE SEQUENCE @extschema@.survey_answer_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.survey_answers (
	zone_id        bigint NOT NULL,
	answer_id      bigint NOT NULL,
	survey_id      bigint NOT NULL,
	order_id       bigint NOT NULL,
	campaign_id    bigint REFERENCES @extschema@.campaigns,
	customer_id    bigint NOT NULL,
	rating         smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
	comment_enc    bytea,
	text_score     real CHECK (text_score BETWEEN -1 AND 1),
	score          real NOT NULL CHECK (score BETWEEN -1 AND 1),
	topics         text[] NOT NULL DEFAULT '{}',
	created_at     timestamptz NOT NULL,
	text_purged_at timestamptz,
	PRIMARY KEY (zone_id, answer_id),
	UNIQUE (zone_id, survey_id, customer_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders (zone_id, order_id),
	CHECK (zone_id OPERATOR(pg_catalog.=) (answer_id OPERATOR(pg_catalog.>>) 40))
);
ALTER SEQUENCE @extschema@.survey_answer_id_seq OWNED BY @extschema@.survey_answers.answer_id;
CREATE INDEX survey_answers_day_idx ON @extschema@.survey_answers (zone_id, created_at);
COMMENT ON SEQUENCE @extschema@.survey_answer_id_seq IS
	'The low 40 bits of survey answer ids.';
COMMENT ON INDEX @extschema@.survey_answers_day_idx IS
	'Answers of a zone by time, for survey_results and the retention purge.';
COMMENT ON TABLE @extschema@.survey_answers IS
	'Answers to surveys, one per survey and customer, in the zone of the order they are about (a campaign survey: the customer''s first order that redeemed the campaign, cancelled since or not).  Scored like reviews (score, text_score, topics); comment_enc is sealed with the customer''s data key and purged with the feedback text.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.survey_answers', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.survey_answer_id_seq', '');
REVOKE ALL ON @extschema@.survey_answers FROM PUBLIC;
GRANT SELECT ON @extschema@.survey_answers TO dispatch_admin;

-- ---------------------------------------------------------------------------
-- Refunds (sql/62_refunds.sql): cancelling a paid order refunds it.
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
	UNIQUE (zone_id, order_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders,
	FOREIGN KEY (zone_id, payment_id) REFERENCES @extschema@.payments,
	CHECK (zone_id OPERATOR(pg_catalog.=) (refund_id OPERATOR(pg_catalog.>>) 40)),
	CHECK ((status OPERATOR(pg_catalog.=) 'pending') OPERATOR(pg_catalog.=) (settled_at IS NULL))
);
ALTER SEQUENCE @extschema@.refunds_id_seq OWNED BY @extschema@.refunds.refund_id;
COMMENT ON TABLE @extschema@.refunds IS
	'Refunds of paid orders that were cancelled: one per order, of what its payment took; pending until the payment service settles it (settle_refund).  attempt numbers the current attempt to pay it back (1, then one more for each retry_refund); status, provider_ref and failure_reason are that attempt''s.  The id carries the zone.';
COMMENT ON SEQUENCE @extschema@.refunds_id_seq IS
	'The low 40 bits of refund ids.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.refunds', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.refunds_id_seq', '');
REVOKE ALL ON @extschema@.refunds FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Growth, rollup (sql/90_growth.sql): daily and per-customer tables of the
-- rollup, the pg_cron job that keeps them up to date.
-- BEGIN growth rollup tables
CREATE TABLE @extschema@.order_facts (
	zone_id               bigint NOT NULL,
	order_id              bigint NOT NULL,
	customer_id           bigint NOT NULL,
	created_at            timestamptz NOT NULL,
	placed_at             timestamptz,
	day                   date NOT NULL,
	counted               boolean NOT NULL,
	delivered             boolean NOT NULL,
	cancelled             boolean NOT NULL,
	gmv_cents             bigint NOT NULL,
	discount_cents        bigint NOT NULL,
	paid_cents            bigint NOT NULL,
	campaign_id           bigint,
	campaign_discount     bigint NOT NULL,
	referral_campaign_id  bigint,
	reward_cents          bigint NOT NULL,
	PRIMARY KEY (zone_id, order_id)
);
CREATE INDEX order_facts_customer_idx ON @extschema@.order_facts (customer_id);
COMMENT ON TABLE @extschema@.order_facts IS
	'Rollup: what the rollup last counted for each order: its local day of ordering, whether it counts (paid, not cancelled), is delivered or cancelled, its GMV, discount and what was paid, the campaign whose discount it holds, and the referral reward it paid.';

CREATE TABLE @extschema@.zone_daily (
	zone_id         bigint NOT NULL,
	day             date NOT NULL,
	orders          integer NOT NULL,
	delivered       integer NOT NULL,
	cancelled       integer NOT NULL,
	gmv_cents       bigint NOT NULL,
	discount_cents  bigint NOT NULL,
	PRIMARY KEY (zone_id, day)
);
COMMENT ON TABLE @extschema@.zone_daily IS
	'Rollup: per zone and local day of ordering, orders that count (paid, not cancelled), delivered, cancelled, GMV (subtotal + fee of counting orders) and discounts.';

CREATE TABLE @extschema@.campaign_daily (
	zone_id         bigint NOT NULL,
	day             date NOT NULL,
	campaign_id     bigint NOT NULL,
	redemptions     integer NOT NULL,
	orders          integer NOT NULL,
	new_customers   integer NOT NULL,
	gmv_cents       bigint NOT NULL,
	discount_cents  bigint NOT NULL,
	reward_cents    bigint NOT NULL,
	PRIMARY KEY (zone_id, day, campaign_id)
);
COMMENT ON TABLE @extschema@.campaign_daily IS
	'Rollup: per zone, local day of ordering and campaign: redemptions held (not given back), of them orders that count, customers acquired (their first counting order took the campaign, or it paid their referral), GMV of those orders, discounts, and referral rewards paid (in cents).';

CREATE TABLE @extschema@.customer_stats (
	customer_id        bigint PRIMARY KEY,
	first_at           timestamptz NOT NULL,
	first_zone_id      bigint NOT NULL,
	first_day          date NOT NULL,
	first_order_id     bigint NOT NULL,
	first_campaign_id  bigint,
	second_at          timestamptz,
	last_at            timestamptz NOT NULL,
	orders             integer NOT NULL,
	monetary_cents     bigint NOT NULL
);
COMMENT ON TABLE @extschema@.customer_stats IS
	'Rollup, per customer with a counting order: first order (time, zone, local day, id, and the campaign that acquired them: its discount, or the referral it paid), second and last order times, orders and money paid.';

CREATE TABLE @extschema@.customer_weeks (
	customer_id  bigint NOT NULL,
	week         date NOT NULL,
	orders       integer NOT NULL,
	PRIMARY KEY (customer_id, week)
);
COMMENT ON TABLE @extschema@.customer_weeks IS
	'Rollup: the local weeks (Monday) in which a customer placed counting orders, and how many, for cohort retention.';

CREATE TABLE @extschema@.rollup_runs (
	run_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	started_at    timestamptz NOT NULL,
	finished_at   timestamptz NOT NULL,
	full_run      boolean NOT NULL,
	events        bigint NOT NULL,
	orders        bigint NOT NULL,
	customers     bigint NOT NULL,
	rebuilt       bigint NOT NULL,
	exposures     bigint NOT NULL,
	rewards       integer NOT NULL
);
COMMENT ON TABLE @extschema@.rollup_runs IS
	'One row per rollup_campaigns() run: the events it read, the orders and customers they touched, the customers rebuilt from their whole history (an order removed or placed before their last), the experiment exposures counted or recounted, the rewards credited.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_runs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_runs_run_id_seq', '');
REVOKE ALL ON @extschema@.order_facts, @extschema@.zone_daily, @extschema@.campaign_daily, @extschema@.customer_stats,
              @extschema@.customer_weeks, @extschema@.rollup_runs FROM PUBLIC;

CREATE TABLE @extschema@.experiment_facts (
	experiment_id  bigint NOT NULL,
	customer_id    bigint NOT NULL,
	variant        text NOT NULL,
	day            date NOT NULL,
	converted      boolean NOT NULL,
	PRIMARY KEY (experiment_id, customer_id)
);
CREATE INDEX experiment_facts_customer_idx ON @extschema@.experiment_facts (customer_id);
COMMENT ON TABLE @extschema@.experiment_facts IS
	'Rollup: what the rollup last counted for each exposure: its variant, its day (UTC; exposures belong to no zone) and whether it converted (an order placed within the window and not cancelled, as experiment_results counts).';

CREATE TABLE @extschema@.experiment_daily (
	experiment_id  bigint NOT NULL,
	variant        text NOT NULL,
	day            date NOT NULL,
	exposed        integer NOT NULL,
	converted      integer NOT NULL,
	PRIMARY KEY (experiment_id, variant, day)
);
COMMENT ON TABLE @extschema@.experiment_daily IS
	'Rollup: per experiment, variant and day of first exposure (UTC): customers exposed, and of them converted so far.';
REVOKE ALL ON @extschema@.experiment_facts, @extschema@.experiment_daily FROM PUBLIC;

-- a customer's exposures, when their orders change
CREATE INDEX experiment_exposures_customer_idx ON @extschema@.experiment_exposures (customer_id);
COMMENT ON INDEX @extschema@.experiment_exposures_customer_idx IS
	'The exposures of a customer: the rollup recounts their conversions when their orders change.';

-- the referral a delivered order paid, for the rollup
CREATE INDEX referrals_order_idx ON @extschema@.referrals (order_id) WHERE order_id IS NOT NULL;
COMMENT ON INDEX @extschema@.referrals_order_idx IS
	'The referral an order settled: the rollup counts its reward on the order''s day.';

INSERT INTO @extschema@.maintenance_jobs (jobname, schedule, command, runs_in) VALUES
	('dispatch-budgets', '* * * * *', 'SELECT @extschema@.balance_budgets()', 'dispatch'),
	('dispatch-growth', '* * * * *', 'SELECT @extschema@.rollup_campaigns()', 'dispatch'),
	('dispatch-recommend', '*/15 * * * *', 'SELECT @extschema@.refresh_recommendations()', 'dispatch');
-- END growth rollup tables

-- ===========================================================================
-- Tracking and operations: rider pay and delivery fees (sql/53_pay.sql),
-- ETA windows and learned speeds (sql/63_eta.sql).  rider_earnings is here
-- and not with the other views: rider_earnings_of returns its rows.
-- ===========================================================================

ALTER TABLE @extschema@.orders ADD COLUMN eta_earliest timestamptz, ADD COLUMN eta_latest timestamptz;

CREATE TABLE @extschema@.pay_models (
	zone_id                bigint PRIMARY KEY CHECK (zone_id >= 0),
	fee_base_cents         integer NOT NULL DEFAULT 300 CHECK (fee_base_cents BETWEEN 0 AND 100000),
	fee_per_km_cents       integer NOT NULL DEFAULT 100 CHECK (fee_per_km_cents BETWEEN 0 AND 100000),
	fee_free_km            real NOT NULL DEFAULT 3 CHECK (fee_free_km >= 0 AND fee_free_km <= 1000),
	pay_base_cents         integer NOT NULL DEFAULT 400 CHECK (pay_base_cents BETWEEN 0 AND 100000),
	pay_per_km_cents       integer NOT NULL DEFAULT 100 CHECK (pay_per_km_cents BETWEEN 0 AND 100000),
	peak_hours             integer[] NOT NULL DEFAULT '{11,12,17,18,19}'
	                       CHECK (peak_hours OPERATOR(pg_catalog.<@) '{0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23}'::integer[]),
	peak_multiplier        real NOT NULL DEFAULT 1.5 CHECK (peak_multiplier >= 1 AND peak_multiplier <= 10),
	wait_grace_minutes     integer NOT NULL DEFAULT 5 CHECK (wait_grace_minutes BETWEEN 0 AND 600),
	wait_cents_per_minute  integer NOT NULL DEFAULT 20 CHECK (wait_cents_per_minute BETWEEN 0 AND 10000),
	arrival_radius_m       real NOT NULL DEFAULT 100 CHECK (arrival_radius_m > 0 AND arrival_radius_m <= 5000),
	source                 text NOT NULL DEFAULT 'operator'
	                       CONSTRAINT pay_models_source_check CHECK (source IN ('default', 'operator'))
);
INSERT INTO @extschema@.pay_models (zone_id, source) VALUES (0, 'default');
COMMENT ON TABLE @extschema@.pay_models IS
	'The pay model of a zone (zone 0: the defaults): the delivery fee a customer pays for a takeaway order, and what a rider earns per delivery: base, per km, a peak multiplier in the peak hours, and pay for waiting at the merchant.  docs/pay.md.';
COMMENT ON COLUMN @extschema@.pay_models.fee_per_km_cents IS
	'Delivery fee per started km of the order''s distance (pickup to drop-off, straight line) beyond fee_free_km.';
COMMENT ON COLUMN @extschema@.pay_models.pay_per_km_cents IS
	'Rider pay per km of the order''s distance (pickup to drop-off, straight line), pro rata to the metre, rounded to the cent.';
COMMENT ON COLUMN @extschema@.pay_models.peak_hours IS
	'Hours of the day (0-23, zone time) whose deliveries earn peak_multiplier times base and distance pay.';
COMMENT ON COLUMN @extschema@.pay_models.wait_cents_per_minute IS
	'Pay per whole minute a rider waited at the merchant beyond wait_grace_minutes: from the first position ping within arrival_radius_m of the pickup after the assignment, to the pickup.';
COMMENT ON COLUMN @extschema@.pay_models.source IS
	'default: the row as the extension ships it (zone 0), recreated by CREATE EXTENSION; operator: inserted or edited by an operator, kept by pg_dump.  Kept by triggers (sql/60_matching.sql).';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pay_models', 'WHERE source = ''operator''');

CREATE TABLE @extschema@.rider_pay (
	zone_id          bigint NOT NULL,
	order_id         bigint NOT NULL,
	rider_id         bigint NOT NULL,
	day              date NOT NULL,
	delivered_at     timestamptz NOT NULL,
	distance_m       real NOT NULL,
	peak             boolean NOT NULL,
	waited_minutes   integer NOT NULL CHECK (waited_minutes >= 0),
	base_cents       integer NOT NULL CHECK (base_cents >= 0),
	distance_cents   integer NOT NULL CHECK (distance_cents >= 0),
	peak_cents       integer NOT NULL CHECK (peak_cents >= 0),
	waiting_cents    integer NOT NULL CHECK (waiting_cents >= 0),
	total_cents      integer NOT NULL
	                 CHECK (total_cents OPERATOR(pg_catalog.=)
	                        (((base_cents OPERATOR(pg_catalog.+) distance_cents) OPERATOR(pg_catalog.+) peak_cents)
	                         OPERATOR(pg_catalog.+) waiting_cents)),
	PRIMARY KEY (zone_id, order_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders
);
CREATE INDEX rider_pay_rider_day_idx ON @extschema@.rider_pay (rider_id, day);
COMMENT ON TABLE @extschema@.rider_pay IS
	'What a rider earned for each delivered order, by part of the pay model in force at delivery; day is the zone''s date of the delivery.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rider_pay', '');
REVOKE ALL ON @extschema@.pay_models, @extschema@.rider_pay FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON @extschema@.pay_models TO dispatch_admin;

CREATE VIEW @extschema@.rider_earnings AS
SELECT p.zone_id, p.rider_id, p.day,
       pg_catalog.count(*) AS deliveries,
       pg_catalog.count(*) FILTER (WHERE p.peak) AS peak_deliveries,
       pg_catalog.sum(p.distance_m)::bigint AS distance_m,
       pg_catalog.sum(p.waited_minutes)::bigint AS waited_minutes,
       pg_catalog.sum(p.base_cents)::bigint AS base_cents,
       pg_catalog.sum(p.distance_cents)::bigint AS distance_cents,
       pg_catalog.sum(p.peak_cents)::bigint AS peak_cents,
       pg_catalog.sum(p.waiting_cents)::bigint AS waiting_cents,
       pg_catalog.sum(p.total_cents)::bigint AS total_cents
  FROM @extschema@.rider_pay p
 GROUP BY p.zone_id, p.rider_id, p.day;
COMMENT ON VIEW @extschema@.rider_earnings IS
	'Per rider and day (zone time): deliveries and what they earned, by part of the pay model.  For dispatchers (dispatch_admin); a rider reads their own through the app with rider_earnings_of.';
REVOKE ALL ON @extschema@.rider_earnings FROM PUBLIC;
GRANT SELECT ON @extschema@.rider_earnings TO dispatch_admin;

CREATE TABLE @extschema@.zone_speeds (
	zone_id       bigint NOT NULL REFERENCES @extschema@.zones,
	hour_of_week  smallint NOT NULL CHECK (hour_of_week BETWEEN 0 AND 167),
	samples       integer NOT NULL CHECK (samples > 0),
	observed_mps  real NOT NULL CHECK (observed_mps > 0),
	speed_mps     real NOT NULL CHECK (speed_mps > 0),
	learned_at    timestamptz NOT NULL,
	PRIMARY KEY (zone_id, hour_of_week)
);
COMMENT ON TABLE @extschema@.zone_speeds IS
	'Speeds learned from delivered orders (learn_eta), per zone and hour of the week (0 = Monday 00:00-01:00 zone time): observed_mps is the median effective speed (straight-line metres from pickup to drop-off over the time from pickup to delivery, for a vehicle of speed factor 1), speed_mps that median pulled towards the zone''s configured speed by dispatch.eta_min_samples pseudo-samples: what ETA and matching use.';

CREATE TABLE @extschema@.eta_calibration (
	zone_id     bigint NOT NULL REFERENCES @extschema@.zones,
	stage       text NOT NULL CHECK (stage IN ('placed', 'accepted', 'assigned', 'picked_up')),
	samples     integer NOT NULL CHECK (samples > 0),
	lo_error    real NOT NULL,
	hi_error    real NOT NULL CHECK (hi_error >= lo_error),
	learned_at  timestamptz NOT NULL,
	PRIMARY KEY (zone_id, stage)
);
COMMENT ON TABLE @extschema@.eta_calibration IS
	'How far off predictions were, per zone and the status the order was in when predicted: the quantiles of the error (actual - expected) over (predicted remaining time + 5 minutes) that hold dispatch.eta_coverage_percent of the deliveries learned from (learn_eta).';

CREATE TABLE @extschema@.eta_predictions (
	zone_id       bigint NOT NULL,
	order_id      bigint NOT NULL,
	stage         text NOT NULL,
	predicted_at  timestamptz NOT NULL,
	expected_at   timestamptz NOT NULL,
	earliest      timestamptz NOT NULL,
	latest        timestamptz NOT NULL,
	-- what the expected time was computed from (_eta_expected), so that
	-- learn_eta can compute it again with the speeds it learns
	approach_m    real,
	trip_m        real NOT NULL,
	ready_at      timestamptz,
	speed_factor  real NOT NULL,
	PRIMARY KEY (zone_id, order_id, stage),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders,
	CHECK (earliest <= expected_at AND expected_at <= latest)
	-- (the rules of its values: eta_predictions_values_check, part 3)
);
CREATE INDEX eta_predictions_time_idx ON @extschema@.eta_predictions (zone_id, predicted_at);
COMMENT ON TABLE @extschema@.eta_predictions IS
	'The window predicted for an order when it reached each status (the last one, if it reached a status twice), and what it was computed from: metres to the pickup (NULL once picked up) and from there (or from the rider) to the drop-off, the ready time, the vehicle''s speed factor.  The actual time is the order''s delivered_at; eta_accuracy compares them.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.zone_speeds', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.eta_calibration', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.eta_predictions', '');
REVOKE ALL ON @extschema@.zone_speeds, @extschema@.eta_calibration, @extschema@.eta_predictions FROM PUBLIC;
GRANT SELECT ON @extschema@.zone_speeds, @extschema@.eta_calibration TO dispatch_admin;

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

INSERT INTO @extschema@.maintenance_jobs (jobname, schedule, command, runs_in) VALUES
	('dispatch-eta', '7 * * * *', 'SELECT @extschema@.learn_eta()', 'dispatch');
-- orders by the time they were placed (sql/20_schema.sql)
CREATE INDEX orders_created_idx ON @extschema@.orders (zone_id, created_at);
-- END tracking tables

-- ===========================================================================
-- Fraud, learned (sql/47_fraud.sql): refused intake attempts, noted in a
-- ring in shared memory and flushed into intake_refusals; the history of
-- flags; the retention of the log; the flush job.
-- ===========================================================================

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

ALTER TABLE @extschema@.retention_policies
	DROP CONSTRAINT retention_policies_data_class_check,
	DROP CONSTRAINT retention_policies_check,
	DROP CONSTRAINT retention_policies_check1;
ALTER TABLE @extschema@.retention_policies
	ADD CONSTRAINT retention_policies_data_class_check
	    CHECK (data_class IN ('order_text', 'dropoff_point', 'rider_tracks', 'events', 'feedback_text', 'intake_refusals')),
	ADD CONSTRAINT retention_policies_check
	    CHECK ((data_class, action) IN (('order_text', 'erase'), ('dropoff_point', 'coarsen'),
	                                    ('rider_tracks', 'delete'), ('events', 'delete'), ('feedback_text', 'erase'),
	                                    ('intake_refusals', 'delete'))),
	ADD CONSTRAINT retention_policies_check1 CHECK ((action = 'coarsen') = (cell_deg IS NOT NULL));
COMMENT ON COLUMN @extschema@.retention_policies.data_class IS
	'order_text: drop-off addresses and errand descriptions of finished orders; dropoff_point: their drop-off points; rider_tracks: position pings; events: the outbox; feedback_text: the text of feedback; intake_refusals: the log of refused intake attempts.';
INSERT INTO @extschema@.retention_policies (data_class, keep, action, cell_deg, source, set_by)
VALUES ('intake_refusals', '30 days', 'delete', NULL, 'default', CURRENT_USER);
INSERT INTO @extschema@.maintenance_jobs (jobname, schedule, command, runs_in) VALUES
	('dispatch-refusals', '* * * * *', 'SELECT @extschema@.flush_refusals()', 'dispatch');
-- END fraud tables

-- ===========================================================================
-- The relay (src/relay.c, sql/40_events.sql): events marked for it, and its
-- position in the outbox.
-- ===========================================================================

ALTER TABLE @extschema@.events ADD COLUMN relay boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN @extschema@.events.relay IS
	'true: the relay sends this event''s notification after its transaction commits (dispatch.notify = relay); false: its writer did, or nobody (off).';

CREATE TABLE @extschema@.relay_position (
	only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
	seq       bigint NOT NULL,
	at        timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.relay_position IS
	'The relay''s position in the outbox: every event with a smaller or equal seq is handled.  One row, written by the relay only.';
REVOKE ALL ON TABLE @extschema@.relay_position FROM PUBLIC;
-- END relay tables

-- ===========================================================================
-- Rectification (sql/80_privacy.sql): the riders' blind index of phones, and
-- rectifications among privacy requests.
-- ===========================================================================

ALTER TABLE @extschema@.riders ADD COLUMN phone_index bytea, ADD COLUMN forgotten_at timestamptz,
	ADD COLUMN phone_index_version integer NOT NULL DEFAULT 1;
ALTER TABLE @extschema@.customers ADD COLUMN phone_index_version integer NOT NULL DEFAULT 1;
COMMENT ON COLUMN @extschema@.customers.phone_index_version IS
	'The version of the index key phone_index was computed with (rotate_index_key moves every row to the current one).';
COMMENT ON COLUMN @extschema@.riders.phone_index_version IS
	'The version of the index key phone_index was computed with (rotate_index_key moves every row to the current one).';
COMMENT ON COLUMN @extschema@.riders.forgotten_at IS
	'When the rider was erased (forget_rider): their name, phone and tracks are gone; the id stays for their deliveries.';
CREATE INDEX riders_phone_index_idx ON @extschema@.riders (phone_index) WHERE phone_index IS NOT NULL;
ALTER TABLE @extschema@.privacy_requests DROP CONSTRAINT privacy_requests_kind_check;
ALTER TABLE @extschema@.privacy_requests ADD CONSTRAINT privacy_requests_kind_check
	CHECK (kind IN ('export', 'forget', 'rotate_key', 'rectify',
	                'access', 'erasure', 'rectification', 'objection'));
-- END rectification tables

-- ===========================================================================
-- Riders' plans (update_rider_plan, sql/65_lifecycle.sql): when and where a
-- busy rider will be free, which matching costs a next order from; and the
-- end of a rider's shift (rider_online's until).
-- ===========================================================================

ALTER TABLE @extschema@.riders ADD COLUMN free_at timestamptz,
	ADD COLUMN free_position geometry(Point, 4326),
	ADD COLUMN plan_pickup_at timestamptz,
	ADD COLUMN plan_pickup_position geometry(Point, 4326),
	ADD COLUMN shift_ends_at timestamptz,
	ADD CONSTRAINT riders_plan_check CHECK ((free_at IS NULL) = (free_position IS NULL)),
	ADD CONSTRAINT riders_plan_pickup_check
	    CHECK ((plan_pickup_at IS NULL) = (plan_pickup_position IS NULL) AND (plan_pickup_at IS NULL OR free_at IS NOT NULL));
COMMENT ON COLUMN @extschema@.riders.free_at IS
	'When the rider expects to be done with the orders it holds (update_rider_plan).  After a last delivery before it, kept until its time (the rider is still at the door); cleared with a last order released or cancelled, when the rider goes offline, and when a rider holding none takes an order.';
COMMENT ON COLUMN @extschema@.riders.plan_pickup_at IS
	'When the rider''s plan reaches its next pickup, for a trip not yet started (update_rider_plan): orders of that pickup may join the trip.';
COMMENT ON COLUMN @extschema@.riders.shift_ends_at IS
	'When the rider''s current shift ends, if it said (rider_online): matching offers no order it could only pick up later.';
-- matching's limit on a rider's wait for the food (NULL: none, as before)
ALTER TABLE @extschema@.matching_settings
	ADD COLUMN max_rider_wait_s integer CHECK (max_rider_wait_s BETWEEN 0 AND 86400);
-- rider_online takes the end of the shift (until)
DROP FUNCTION @extschema@.rider_online(bigint, float8, float8);
-- END rider plan tables

-- ===========================================================================
-- Requests of data subjects with deadlines (sql/80_privacy.sql): the log of
-- privacy requests becomes a queue.  Every request before 0.2.0 was done.
-- ===========================================================================

ALTER TABLE @extschema@.privacy_requests
	ALTER COLUMN completed_at DROP NOT NULL,
	ADD COLUMN state text NOT NULL DEFAULT 'done' CHECK (state IN ('received', 'waiting', 'done', 'refused')),
	ADD COLUMN due_at timestamptz,
	ADD COLUMN handled_by name;
ALTER TABLE @extschema@.privacy_requests
	ADD CONSTRAINT privacy_requests_check CHECK ((state IN ('done', 'refused')) OPERATOR(pg_catalog.=) (completed_at IS NOT NULL));
CREATE INDEX privacy_requests_open_idx ON @extschema@.privacy_requests (due_at) WHERE state IN ('received', 'waiting');
COMMENT ON TABLE @extschema@.privacy_requests IS
	'Every export, erasure, rectification and data-key rotation of a customer (state done: when, by whom, what was done, counts, never personal data), and the queue of requests received from data subjects (kinds access, erasure, rectification, objection): received (requested_at), due (due_at, dispatch.privacy_request_days later), state, who handled them.';
INSERT INTO @extschema@.maintenance_jobs (jobname, schedule, command, runs_in) VALUES
	('dispatch-privacy', '*/5 * * * *', 'SELECT @extschema@.process_privacy_requests()', 'dispatch');
-- END request queue tables

-- ===========================================================================
-- Processors (sql/80_privacy.sql): third parties that receive personal data,
-- and the log of what they received.
-- ===========================================================================

CREATE TABLE @extschema@.processors (
	processor_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name           text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
	purpose        text NOT NULL CHECK (pg_catalog.length(purpose) BETWEEN 1 AND 200),
	legal_basis    text NOT NULL CHECK (legal_basis IN ('consent', 'contract', 'legal_obligation',
	                                                    'vital_interests', 'public_task', 'legitimate_interests')),
	registered_at  timestamptz NOT NULL,
	retired_at     timestamptz
);
COMMENT ON TABLE @extschema@.processors IS
	'Third parties that receive personal data: name, purpose, legal basis (GDPR art. 6), when registered and retired.  register_processor keeps it.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.processors', '');
REVOKE ALL ON @extschema@.processors FROM PUBLIC;

CREATE TABLE @extschema@.disclosures (
	disclosure_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at             timestamptz NOT NULL,
	processor_id   bigint NOT NULL REFERENCES @extschema@.processors,
	customer_id    bigint,
	rider_id       bigint,
	order_id       bigint,
	fields         text[] NOT NULL CHECK (pg_catalog.cardinality(fields) BETWEEN 1 AND 20),
	actor          name NOT NULL DEFAULT SESSION_USER,
	CHECK ((customer_id IS NULL) OPERATOR(pg_catalog.<>) (rider_id IS NULL))
);
CREATE INDEX disclosures_customer_idx ON @extschema@.disclosures (customer_id, at) WHERE customer_id IS NOT NULL;
CREATE INDEX disclosures_rider_idx ON @extschema@.disclosures (rider_id, at) WHERE rider_id IS NOT NULL;
COMMENT ON TABLE @extschema@.disclosures IS
	'Every handing of personal data to a processor: when, to whom, whose (a customer or a rider), for which order, which fields (names, never values) and by whom.  Kept after erasure: it records what was disclosed, not the data.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.disclosures', '');
REVOKE ALL ON @extschema@.disclosures FROM PUBLIC;
GRANT SELECT ON @extschema@.processors TO dispatch_admin;
-- order_contact takes the processor a contact goes on to (section 2)
DROP FUNCTION @extschema@.order_contact(bigint, bigint);
-- END processor tables

-- ===========================================================================
-- Scale out by zone on Citus (sql/97_distribute.sql, docs/citus.md): every
-- rider's zone in a table of its own, so that a call naming only a rider
-- finds its zone without reading riders (distributed by zone on Citus).
-- ===========================================================================

CREATE TABLE @extschema@.rider_zones (
	rider_id  bigint PRIMARY KEY,
	zone_id   bigint NOT NULL REFERENCES @extschema@.zones
);
COMMENT ON TABLE @extschema@.rider_zones IS
	'The zone of every rider (written by register_rider), read where a call names only the rider.';
INSERT INTO @extschema@.rider_zones (rider_id, zone_id) SELECT r.rider_id, r.zone_id FROM @extschema@.riders r;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rider_zones', '');
REVOKE ALL ON @extschema@.rider_zones FROM PUBLIC;
-- _rider_day_roll takes the rider's zone (section 2)
DROP FUNCTION @extschema@._rider_day_roll(bigint, timestamptz);
-- END citus tables

-- ===========================================================================
-- A worker added after distribute() (sql/40_events.sql, docs/citus.md
-- "Adding a worker"): each node's base of event numbers, local to it.
-- ===========================================================================

CREATE TABLE @extschema@.event_base (
	only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
	base      bigint NOT NULL CHECK (base BETWEEN 0 AND 4398046511103),
	at        timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.event_base IS
	'This node''s base of event numbers: an event''s seq is ((base + writing transaction id) << 20) | ordinal.  No row: 0.  Set on a Citus worker, above every number of the cluster, before any shard of the outbox is on it: by distribute() on each worker it places, by prepare_worker on a worker added later; raised by prepare_move before a zone''s shards move to it; set above a restored outbox by after_restore.';
REVOKE ALL ON TABLE @extschema@.event_base FROM PUBLIC;
-- END event base

-- ===========================================================================
-- An item's stock apart from the menu (sql/20_schema.sql): the count
-- changes at every order of the item and belongs to the merchant's zone, so
-- that on Citus the menu stays a reference table and the count lies on the
-- zone's worker with its orders; set_item_stock sets it.
-- ===========================================================================

CREATE TABLE @extschema@.item_stock (
	zone_id  bigint NOT NULL REFERENCES @extschema@.zones,
	item_id  bigint NOT NULL REFERENCES @extschema@.items,
	stock    integer NOT NULL CHECK (stock >= 0),
	PRIMARY KEY (zone_id, item_id)
);
COMMENT ON TABLE @extschema@.item_stock IS
	'Stock of the items whose stock is counted, in their merchant''s zone; an item without a row is unlimited.  Intake takes stock atomically, a cancellation gives it back.';
INSERT INTO @extschema@.item_stock (zone_id, item_id, stock)
SELECT m.zone_id, i.item_id, i.stock
  FROM @extschema@.items i JOIN @extschema@.merchants m ON m.merchant_id = i.merchant_id
 WHERE i.stock IS NOT NULL;
ALTER TABLE @extschema@.items DROP COLUMN stock;
COMMENT ON TABLE @extschema@.items IS
	'What merchants sell.  The stock of an item whose stock is counted is in dispatch.item_stock.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.item_stock', '');
REVOKE ALL ON TABLE @extschema@.item_stock FROM PUBLIC;
-- END item stock

-- ===========================================================================
-- An order's offers found by the order (sql/60_matching.sql): a release
-- marks the accepted offer that gave the rider the order, and read every
-- offer of the zone to find it.
-- ===========================================================================

CREATE INDEX offers_order_idx ON @extschema@.offers (zone_id, order_id);
-- END offers by order

-- ===========================================================================
-- Whether a line took stock (sql/20_schema.sql): a cancellation gives back
-- only what the order took, not to a count the merchant set after it.  The
-- lines written before this version gave back whenever the item had a
-- count, and keep that: whether they took stock is not known.
-- ===========================================================================

ALTER TABLE @extschema@.order_items ADD COLUMN stock_taken boolean NOT NULL DEFAULT true;
ALTER TABLE @extschema@.order_items ALTER COLUMN stock_taken DROP DEFAULT;
COMMENT ON COLUMN @extschema@.order_items.stock_taken IS
	'Whether the line took its quantity from the item''s count (dispatch.item_stock): a cancellation gives back only what was taken, not to a count set after the order.';
-- END stock taken

-- ===========================================================================
-- Orders left unpaid are cancelled by the purge (sql/78_retention.sql,
-- dispatch.unpaid_order_minutes); it finds them by this index.
-- ===========================================================================

CREATE INDEX orders_unpaid_since_idx ON @extschema@.orders (zone_id, status_changed_at)
	WHERE status IN ('pending_payment', 'payment_failed');
-- END unpaid orders

-- ===========================================================================
-- A vehicle's speed and limits and a zone's speed are finite: NaN passes
-- "> 0" (it compares above every number), and a NaN limit let every pair
-- through matching, a NaN speed made ETAs and costs NaN.
-- ===========================================================================

ALTER TABLE @extschema@.vehicle_profiles
	ADD CONSTRAINT vehicle_profiles_finite
	    CHECK (speed_factor <= 10 AND max_pickup_m <= 1e6 AND max_trip_m <= 1e6);
ALTER TABLE @extschema@.zones
	ADD CONSTRAINT zones_speed_finite CHECK (speed_mps <= 100);
-- END finite speeds

-- ===========================================================================
-- One review of an order counts (feedback.counted): the order's first, by
-- time and id; it alone earns feedback points and is what the analyst
-- views count.
-- ===========================================================================

ALTER TABLE @extschema@.feedback ADD COLUMN counted boolean;
UPDATE @extschema@.feedback f
   SET counted = (f.feedback_id OPERATOR(pg_catalog.=) x.first_id)
  FROM (SELECT DISTINCT ON (g.zone_id, g.order_id) g.zone_id, g.order_id, g.feedback_id AS first_id
          FROM @extschema@.feedback g
         ORDER BY g.zone_id, g.order_id, g.created_at, g.feedback_id) x
 WHERE f.zone_id OPERATOR(pg_catalog.=) x.zone_id AND f.order_id OPERATOR(pg_catalog.=) x.order_id;
ALTER TABLE @extschema@.feedback ALTER COLUMN counted SET NOT NULL;
CREATE UNIQUE INDEX feedback_counted_idx ON @extschema@.feedback (zone_id, order_id) WHERE counted;
COMMENT ON INDEX @extschema@.feedback_counted_idx IS
	'At most one counted review per order.';
COMMENT ON TABLE @extschema@.feedback IS
	'Reviews of delivered orders, one per order and channel; counted marks the order''s first, the one that earns feedback points and that the analyst views count.  comment_enc is sealed with the customer''s data key and purged after the retention period; score (rating and text combined), text_score and topics stay.';
COMMENT ON COLUMN @extschema@.feedback.counted IS
	'Whether this is the order''s first review, the one that counts: it earns the points campaign''s feedback_points and is counted by feedback_daily, feedback_top_issues and monthly_review.  Set by submit_feedback; one per order.';

CREATE OR REPLACE VIEW @extschema@.feedback_daily AS
SELECT f.zone_id,
       f.merchant_id,
       (f.created_at AT TIME ZONE z.timezone)::date AS day,
       pg_catalog.count(*) AS reviews,
       pg_catalog.avg(f.score)::real AS mean_score,
       (pg_catalog.count(*) FILTER (WHERE f.score OPERATOR(pg_catalog.<) 0)::float8
        OPERATOR(pg_catalog./) pg_catalog.count(*))::real AS share_negative,
       pg_catalog.avg(f.rating)::real AS mean_rating
  FROM @extschema@.feedback f
  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) f.zone_id
 WHERE f.counted
 GROUP BY f.zone_id, f.merchant_id, (f.created_at AT TIME ZONE z.timezone)::date;
COMMENT ON VIEW @extschema@.feedback_daily IS
	'Reviews per zone, merchant and local day, one per order (its first, counted): count, mean combined score, share with a negative score, mean star rating (NULL ratings left out).';

CREATE OR REPLACE VIEW @extschema@.feedback_top_issues AS
WITH weekly AS (
	SELECT f.zone_id,
	       pg_catalog.date_trunc('week', f.created_at AT TIME ZONE z.timezone)::date AS week,
	       t.topic,
	       pg_catalog.count(*) AS reviews
	  FROM @extschema@.feedback f
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) f.zone_id
	 CROSS JOIN LATERAL pg_catalog.unnest(f.topics) AS t (topic)
	 WHERE f.counted
	 GROUP BY 1, 2, 3
)
SELECT w.zone_id, w.week, w.topic, w.reviews,
       COALESCE(p.reviews, 0) AS reviews_week_before,
       w.reviews OPERATOR(pg_catalog.-) COALESCE(p.reviews, 0) AS change
  FROM weekly w
  LEFT JOIN weekly p
    ON p.zone_id OPERATOR(pg_catalog.=) w.zone_id
   AND p.topic OPERATOR(pg_catalog.=) w.topic
   AND p.week OPERATOR(pg_catalog.=) (w.week OPERATOR(pg_catalog.-) 7);
COMMENT ON VIEW @extschema@.feedback_top_issues IS
	'Complaint topics per zone and local week (Monday first): reviews raising the topic (one per order, its first, counted), the count of the week before, and the change.';
-- END counted reviews

-- ===========================================================================
-- The 30-day purge of an order's texts (retention order_text,
-- sql/78_retention.sql) finds a cancel reason alone too: an order placed
-- without an address and cancelled with a reason kept the reason.  Its
-- index takes the same predicate (sql/20_schema.sql).
-- ===========================================================================

DROP INDEX @extschema@.orders_retention_text_idx;
CREATE INDEX orders_retention_text_idx ON @extschema@.orders (zone_id, status_changed_at)
	WHERE status IN ('delivered', 'cancelled')
	  AND (dropoff_address_enc IS NOT NULL OR description_enc IS NOT NULL OR cancel_reason IS NOT NULL);
-- END retention of cancel reasons

-- ===========================================================================
-- 2. Routines
--
-- PostGIS and pgcrypto reached only through sql/15_dependencies.sql
-- (bound at install); settings read through the module (sql/12_settings.sql);
-- _reseal volatile; every API call checks the status it starts from, and
-- release_order; status versions in the state machine.
-- ===========================================================================

DROP FUNCTION @extschema@._check_rider_for(@extschema@.orders, bigint);
DROP FUNCTION @extschema@._purge_lock_key();
-- _setting_int (sql/12_settings.sql)
CREATE OR REPLACE FUNCTION @extschema@._setting_int(name text) RETURNS integer
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_setting_int';
COMMENT ON FUNCTION @extschema@._setting_int(text) IS
	'Internal: the value of an integer setting of the extension, by its full name (dispatch.max_order_cents).';
REVOKE ALL ON FUNCTION @extschema@._setting_int(text) FROM PUBLIC;

-- _lock_key (sql/12_settings.sql)
CREATE OR REPLACE FUNCTION @extschema@._lock_key(name text) RETURNS bigint
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_lock_key';
COMMENT ON FUNCTION @extschema@._lock_key(text) IS
	'Internal: an advisory lock key of src/locks.h by name: the class (first key) of the zone, customer and rider locks, the single key of the purge lock.';
REVOKE ALL ON FUNCTION @extschema@._lock_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._lock_key(text) TO dispatch_admin;

-- _point (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._point(lon float8, lat float8) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_SetSRID(ST_MakePoint(lon, lat), 4326);
COMMENT ON FUNCTION @extschema@._point(float8, float8) IS
	'Internal: the WGS 84 point (SRID 4326) of a longitude and a latitude.';
REVOKE ALL ON FUNCTION @extschema@._point(float8, float8) FROM PUBLIC;

-- _lon (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._lon(p geometry) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_X(p);
COMMENT ON FUNCTION @extschema@._lon(geometry) IS
	'Internal: the longitude (x) of a point.';
REVOKE ALL ON FUNCTION @extschema@._lon(geometry) FROM PUBLIC;

-- _lat (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._lat(p geometry) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_Y(p);
COMMENT ON FUNCTION @extschema@._lat(geometry) IS
	'Internal: the latitude (y) of a point.';
REVOKE ALL ON FUNCTION @extschema@._lat(geometry) FROM PUBLIC;

-- _covers (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._covers(area geometry, g geometry) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_Covers(area, g);
COMMENT ON FUNCTION @extschema@._covers(geometry, geometry) IS
	'Internal: whether no point of g lies outside area (a point on the boundary is covered).';
REVOKE ALL ON FUNCTION @extschema@._covers(geometry, geometry) FROM PUBLIC;

-- _distance_m (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._distance_m(a geometry, b geometry) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_DistanceSphere(a, b);
COMMENT ON FUNCTION @extschema@._distance_m(geometry, geometry) IS
	'Internal: great-circle metres between two WGS 84 geometries.';
REVOKE ALL ON FUNCTION @extschema@._distance_m(geometry, geometry) FROM PUBLIC;

-- _zone_area_problem (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._zone_area_problem(area geometry) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
	WHEN ST_IsEmpty(area) THEN 'it is empty'
	WHEN NOT (GeometryType(area) OPERATOR(pg_catalog.=) ANY (ARRAY['POLYGON', 'MULTIPOLYGON']))
		THEN 'it is a ' OPERATOR(pg_catalog.||) GeometryType(area) OPERATOR(pg_catalog.||) ', not a polygon or multipolygon'
	WHEN NOT (ST_SRID(area) OPERATOR(pg_catalog.=) ANY (ARRAY[0, 4326]))
		THEN 'its SRID is ' OPERATOR(pg_catalog.||) ST_SRID(area)::pg_catalog.text OPERATOR(pg_catalog.||) ', not 4326'
	WHEN NOT ST_IsValid(area) THEN 'it is not valid: ' OPERATOR(pg_catalog.||) ST_IsValidReason(area)
END;
COMMENT ON FUNCTION @extschema@._zone_area_problem(geometry) IS
	'Internal: why a geometry cannot be a service area (empty, not a polygon or multipolygon, an SRID other than 4326 or none, invalid), or NULL if it can.';
REVOKE ALL ON FUNCTION @extschema@._zone_area_problem(geometry) FROM PUBLIC;

-- _zone_area (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._zone_area(area geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_Multi(CASE WHEN ST_SRID(area) OPERATOR(pg_catalog.=) 0 THEN ST_SetSRID(area, 4326) ELSE area END);
COMMENT ON FUNCTION @extschema@._zone_area(geometry) IS
	'Internal: a service area as stored: a multipolygon in SRID 4326 (a geometry without SRID is taken as 4326).';
REVOKE ALL ON FUNCTION @extschema@._zone_area(geometry) FROM PUBLIC;

-- _geojson (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._geojson(g geometry) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_AsGeoJSON(g, 9, 8)::pg_catalog.jsonb;
COMMENT ON FUNCTION @extschema@._geojson(geometry) IS
	'Internal: a geometry as GeoJSON (9 decimal digits, with its CRS when not 4326).';
REVOKE ALL ON FUNCTION @extschema@._geojson(geometry) FROM PUBLIC;

-- _hexagon (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._hexagon(mercator_size float8, i integer, j integer) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_Transform(ST_Hexagon(mercator_size, i, j, ST_SetSRID(ST_MakePoint(0::float8, 0::float8), 3857)), 4326);
COMMENT ON FUNCTION @extschema@._hexagon(float8, integer, integer) IS
	'Internal: the WGS 84 polygon of hexagon (i, j) of ST_HexagonGrid in Web Mercator units of mercator_size (the cells of sql/68_demand.sql).';
REVOKE ALL ON FUNCTION @extschema@._hexagon(float8, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._hexagon(float8, integer, integer) TO dispatch_analyst, dispatch_admin;

-- _centroid (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._centroid(g geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_Centroid(g);
COMMENT ON FUNCTION @extschema@._centroid(geometry) IS
	'Internal: the centroid of a geometry (planar, in its own coordinates).';
REVOKE ALL ON FUNCTION @extschema@._centroid(geometry) FROM PUBLIC;

-- _pgp_options (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._pgp_options() RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'cipher-algo=aes256, s2k-mode=1, compress-algo=0';
COMMENT ON FUNCTION @extschema@._pgp_options() IS
	'Internal: the pgcrypto options of every sealed value and wrapped key.';
REVOKE ALL ON FUNCTION @extschema@._pgp_options() FROM PUBLIC;

-- _pgp_encrypt (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._pgp_encrypt(value text, key bytea) RETURNS bytea
LANGUAGE sql VOLATILE STRICT PARALLEL SAFE
RETURN pgp_sym_encrypt(value, pg_catalog.encode(key, 'hex'), @extschema@._pgp_options());
COMMENT ON FUNCTION @extschema@._pgp_encrypt(text, bytea) IS
	'Internal: text sealed under a 256-bit key.  VOLATILE: every call draws a new session key and IV.';
REVOKE ALL ON FUNCTION @extschema@._pgp_encrypt(text, bytea) FROM PUBLIC;

-- _pgp_decrypt (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._pgp_decrypt(sealed bytea, key bytea) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pgp_sym_decrypt(sealed, pg_catalog.encode(key, 'hex'));
COMMENT ON FUNCTION @extschema@._pgp_decrypt(bytea, bytea) IS
	'Internal: opens a value sealed by _pgp_encrypt; a wrong key or a corrupt value raises SQLSTATE 39000.';
REVOKE ALL ON FUNCTION @extschema@._pgp_decrypt(bytea, bytea) FROM PUBLIC;

-- _pgp_encrypt_bytes (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._pgp_encrypt_bytes(value bytea, key bytea) RETURNS bytea
LANGUAGE sql VOLATILE STRICT PARALLEL SAFE
RETURN pgp_sym_encrypt_bytea(value, pg_catalog.encode(key, 'hex'), @extschema@._pgp_options());
COMMENT ON FUNCTION @extschema@._pgp_encrypt_bytes(bytea, bytea) IS
	'Internal: bytes (a data key) sealed under a 256-bit key (a master key).';
REVOKE ALL ON FUNCTION @extschema@._pgp_encrypt_bytes(bytea, bytea) FROM PUBLIC;

-- _pgp_decrypt_bytes (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._pgp_decrypt_bytes(sealed bytea, key bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pgp_sym_decrypt_bytea(sealed, pg_catalog.encode(key, 'hex'));
COMMENT ON FUNCTION @extschema@._pgp_decrypt_bytes(bytea, bytea) IS
	'Internal: opens bytes sealed by _pgp_encrypt_bytes.';
REVOKE ALL ON FUNCTION @extschema@._pgp_decrypt_bytes(bytea, bytea) FROM PUBLIC;

-- _random_key (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._random_key() RETURNS bytea
LANGUAGE sql VOLATILE PARALLEL SAFE
RETURN gen_random_bytes(32);
COMMENT ON FUNCTION @extschema@._random_key() IS
	'Internal: 256 random bits from a cryptographically strong source, for a new data key.';
REVOKE ALL ON FUNCTION @extschema@._random_key() FROM PUBLIC;

-- _hmac_sha256 (sql/15_dependencies.sql)
CREATE OR REPLACE FUNCTION @extschema@._hmac_sha256(value bytea, key bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN hmac(value, key, 'sha256'::pg_catalog.text);
COMMENT ON FUNCTION @extschema@._hmac_sha256(bytea, bytea) IS
	'Internal: HMAC-SHA-256 of a value under a key (blind indexes).';
REVOKE ALL ON FUNCTION @extschema@._hmac_sha256(bytea, bytea) FROM PUBLIC;

-- _vehicle_ok (sql/20_schema.sql)
CREATE OR REPLACE FUNCTION @extschema@._vehicle_ok(vehicle text) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_vehicle_ok';
COMMENT ON FUNCTION @extschema@._vehicle_ok(text) IS
	'Internal: whether a vehicle is foot, bicycle, ebike, motorbike or car (riders_values_check, vehicle_profiles_vehicle_check; C).  NULL passes.';
REVOKE ALL ON FUNCTION @extschema@._vehicle_ok(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._vehicle_ok(text) TO dispatch_admin;

-- _rider_values_ok (sql/20_schema.sql)
CREATE OR REPLACE FUNCTION @extschema@._rider_values_ok(capacity integer, vehicle text, status text,
                                             active_orders integer, pending_offers integer) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_rider_values_ok';
COMMENT ON FUNCTION @extschema@._rider_values_ok(integer, text, text, integer, integer) IS
	'Internal: the value rules of a rider (riders_values_check, C): capacity 1 to 20; vehicle as _vehicle_ok; status offline or online; active_orders and pending_offers at least 0.  A NULL passes its rule.';
REVOKE ALL ON FUNCTION @extschema@._rider_values_ok(integer, text, text, integer, integer) FROM PUBLIC;

-- _order_values_ok (sql/20_schema.sql)
CREATE OR REPLACE FUNCTION @extschema@._order_values_ok(kind text, status text, priority text,
                                             subtotal_cents integer, fee_cents integer,
                                             discount_cents integer, total_cents integer,
                                             status_version integer) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_order_values_ok';
COMMENT ON FUNCTION @extschema@._order_values_ok(text, text, text, integer, integer, integer, integer, integer) IS
	'Internal: the value rules of an order (orders_values_check, C): kind takeaway or errand; status pending_payment, payment_failed, placed, accepted, assigned, picked_up, delivered or cancelled; priority normal, hot or fresh; the four amounts at least 0; status_version at least 1.  A NULL passes its rule.';
REVOKE ALL ON FUNCTION @extschema@._order_values_ok(text, text, text, integer, integer, integer, integer, integer) FROM PUBLIC;

-- _payment_values_ok (sql/20_schema.sql)
CREATE OR REPLACE FUNCTION @extschema@._payment_values_ok(amount_cents integer, status text) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_payment_values_ok';
COMMENT ON FUNCTION @extschema@._payment_values_ok(integer, text) IS
	'Internal: the value rules of a payment (payments_values_check, C): amount at least 0; status pending, succeeded or failed.  A NULL passes its rule.';
REVOKE ALL ON FUNCTION @extschema@._payment_values_ok(integer, text) FROM PUBLIC;

-- _eta_values_ok (sql/20_schema.sql)
CREATE OR REPLACE FUNCTION @extschema@._eta_values_ok(stage text, approach_m real, trip_m real, speed_factor real) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_eta_values_ok';
COMMENT ON FUNCTION @extschema@._eta_values_ok(text, real, real, real) IS
	'Internal: the value rules of an ETA prediction (eta_predictions_values_check, C): stage placed, accepted, assigned or picked_up; approach_m and trip_m at least 0; speed_factor above 0 (NaN above every number, as in SQL).  A NULL passes its rule.';
REVOKE ALL ON FUNCTION @extschema@._eta_values_ok(text, real, real, real) FROM PUBLIC;

-- _rider_zone (sql/20_schema.sql)
CREATE OR REPLACE FUNCTION @extschema@._rider_zone(rider_id bigint) RETURNS bigint
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

-- input_limits (sql/25_limits.sql)
CREATE OR REPLACE FUNCTION @extschema@.input_limits()
RETURNS TABLE (input text, max_length integer, unit text)
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 21
AS 'MODULE_PATHNAME', 'dispatch_input_limits';
COMMENT ON FUNCTION @extschema@.input_limits() IS
	'The maximum size of every free-text input of the API (characters) and of place_order''s item list (lines, and characters of its JSON text); past it a call is refused with DP028.  docs/api.md maps arguments to these names.';
REVOKE ALL ON FUNCTION @extschema@.input_limits() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.input_limits() TO dispatch_app, dispatch_admin;

-- _check_length (sql/25_limits.sql)
CREATE OR REPLACE FUNCTION @extschema@._check_length(p_input text, p_value anyelement) RETURNS void
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_check_length';
COMMENT ON FUNCTION @extschema@._check_length(text, anyelement) IS
	'Internal: refuses (DP028) a text longer than the limit of input_limits() named p_input (in characters), or a jsonb array with more elements; NULL passes.';
REVOKE ALL ON FUNCTION @extschema@._check_length(text, anyelement) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._check_length(text, anyelement) TO dispatch_app, dispatch_admin;

-- _is_blank (sql/25_limits.sql)
CREATE OR REPLACE FUNCTION @extschema@._is_blank(p_value text) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_is_blank';
COMMENT ON FUNCTION @extschema@._is_blank(text) IS
	'Internal: whether a required text is missing: NULL, empty, or only ASCII white space (space, tab, line feed, carriage return, form feed, vertical tab).';
REVOKE ALL ON FUNCTION @extschema@._is_blank(text) FROM PUBLIC;

-- _trim_blanks (sql/25_limits.sql)
CREATE OR REPLACE FUNCTION @extschema@._trim_blanks(p_value text) RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_trim_blanks';
COMMENT ON FUNCTION @extschema@._trim_blanks(text) IS
	'Internal: the text without the ASCII white space around it (the blanks of _is_blank), as a provider''s reference is taken.';
REVOKE ALL ON FUNCTION @extschema@._trim_blanks(text) FROM PUBLIC;

-- _check_batch_size (sql/25_limits.sql)
CREATE OR REPLACE FUNCTION @extschema@._check_batch_size(p_batch_size integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_batch_size IS NULL OR p_batch_size OPERATOR(pg_catalog.<) 1
	   OR p_batch_size OPERATOR(pg_catalog.>) 100000 THEN
		RAISE EXCEPTION 'batch_size must be between 1 and 100000' USING ERRCODE = 'DP411';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_batch_size(integer) IS
	'Internal: refuses (DP411) a batch size of the maintenance calls outside 1 to 100000, or NULL.';
REVOKE ALL ON FUNCTION @extschema@._check_batch_size(integer) FROM PUBLIC;

-- _check_purge_args (sql/25_limits.sql)
CREATE OR REPLACE FUNCTION @extschema@._check_purge_args(p_older_than timestamptz, p_batch integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_older_than IS NULL THEN
		RAISE EXCEPTION 'a purge needs its cut-off (older_than)' USING ERRCODE = 'DP411';
	END IF;
	PERFORM @extschema@._check_batch_size(p_batch);
END
$$;
COMMENT ON FUNCTION @extschema@._check_purge_args(timestamptz, integer) IS
	'Internal (purge_survey_text, purge_feedback_text): refuses (DP411) a NULL cut-off, and a batch as _check_batch_size does.';
REVOKE ALL ON FUNCTION @extschema@._check_purge_args(timestamptz, integer) FROM PUBLIC;

-- _index_key_at (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._index_key_at(version integer) RETURNS bytea
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'dispatch_index_key_at';
COMMENT ON FUNCTION @extschema@._index_key_at(integer) IS
	'Internal: the blind-index key of one version (an error when the file lacks it).  Executable by no role.';
REVOKE ALL ON FUNCTION @extschema@._index_key_at(integer) FROM PUBLIC;

-- _index_key_versions (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._index_key_versions() RETURNS integer[]
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'dispatch_index_key_versions';
COMMENT ON FUNCTION @extschema@._index_key_versions() IS
	'Internal: the blind-index key versions present in the key file, ascending; the last is current (never the keys).';
REVOKE ALL ON FUNCTION @extschema@._index_key_versions() FROM PUBLIC;

-- _index_key_current (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._index_key_current(OUT version integer, OUT key bytea) RETURNS record
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'dispatch_index_key_current';
COMMENT ON FUNCTION @extschema@._index_key_current() IS
	'Internal: the current blind-index key and its version, from one reading of the key file.  Executable by no role.';
REVOKE ALL ON FUNCTION @extschema@._index_key_current() FROM PUBLIC;

-- _require_read_committed (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._require_read_committed(p_call text) RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_require_read_committed';
COMMENT ON FUNCTION @extschema@._require_read_committed(text) IS
	'Internal: DP418 unless the transaction is read committed: for calls that wait for concurrent writers and then read what they committed.';
REVOKE ALL ON FUNCTION @extschema@._require_read_committed(text) FROM PUBLIC;

-- _lock_for_writing (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._lock_for_writing(p_table regclass) RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_lock_for_writing';
COMMENT ON FUNCTION @extschema@._lock_for_writing(regclass) IS
	'Internal: takes the lock of a write (ROW EXCLUSIVE) on a table, on this node, to the end of the transaction: before reading a key version to store there.';
REVOKE ALL ON FUNCTION @extschema@._lock_for_writing(regclass) FROM PUBLIC;

-- _wait_for_writers_here (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._wait_for_writers_here(p_tables regclass[]) RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_wait_for_writers_here';
COMMENT ON FUNCTION @extschema@._wait_for_writers_here(regclass[]) IS
	'Internal: waits, on this node, for every transaction holding the lock of a write on one of the tables to end; locks nothing.';
REVOKE ALL ON FUNCTION @extschema@._wait_for_writers_here(regclass[]) FROM PUBLIC;

-- _wait_for_writers (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._wait_for_writers(p_tables regclass[]) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_distributed boolean := false;
	v_node text;
	v_port integer;
	v_error text;
BEGIN
	PERFORM @extschema@._wait_for_writers_here(p_tables);
	IF EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p'
		        ' WHERE p.logicalrelid OPERATOR(pg_catalog.=) ANY ($1))'
		   INTO v_distributed USING p_tables;
	END IF;
	IF v_distributed THEN
		EXECUTE 'SELECT w.nodename, w.nodeport, w.result FROM pg_catalog.run_command_on_workers($1) w'
		        ' WHERE NOT w.success LIMIT 1'
		   INTO v_node, v_port, v_error
		  USING pg_catalog.format('SELECT @extschema@._wait_for_writers_here(%L)', p_tables);
		IF v_node IS NOT NULL THEN
			RAISE EXCEPTION 'could not wait for the writers of % on the worker %:%: %',
			                pg_catalog.array_to_string(p_tables, ', '), v_node, v_port, v_error
				USING ERRCODE = 'DP419',
				      HINT = 'Call it again once every worker of the cluster is reachable.';
		END IF;
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._wait_for_writers(regclass[]) IS
	'Internal: waits until every transaction that was writing one of the tables has ended, on every node of a Citus cluster; locks nothing.';
REVOKE ALL ON FUNCTION @extschema@._wait_for_writers(regclass[]) FROM PUBLIC;

-- _access_log (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._access_log(p_subject text, p_subject_id bigint, p_zone_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
	                            'at', l.at, 'actor', l.actor, 'purpose', l.purpose, 'detail', l.detail)
	                            ORDER BY l.at, l.zone_id NULLS FIRST, l.id)
	                   FROM (SELECT p.at, p.actor, p.purpose, p.detail, NULL::bigint AS zone_id, p.id
	                           FROM @extschema@.pii_access_log p
	                          WHERE p.subject OPERATOR(pg_catalog.=) p_subject
	                            AND p.subject_id OPERATOR(pg_catalog.=) p_subject_id
	                         UNION ALL
	                         SELECT z.at, z.actor, z.purpose, z.detail, z.zone_id, z.id
	                           FROM @extschema@.order_access_log z
	                          WHERE z.subject OPERATOR(pg_catalog.=) p_subject
	                            AND z.subject_id OPERATOR(pg_catalog.=) p_subject_id
	                            AND (p_zone_id IS NULL OR z.zone_id OPERATOR(pg_catalog.=) p_zone_id)) l),
	                '[]');
END
$$;
COMMENT ON FUNCTION @extschema@._access_log(text, bigint, bigint) IS
	'Internal (the exports): every opening of a subject''s data, from pii_access_log and order_access_log (of one zone, or of every zone when p_zone_id is NULL), in time order, as [{at, actor, purpose, detail}, ...].';
REVOKE ALL ON FUNCTION @extschema@._access_log(text, bigint, bigint) FROM PUBLIC;

-- _lock_subject (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._lock_subject(p_subject text, p_subject_id bigint, p_exclusive boolean)
RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_lock_subject';
COMMENT ON FUNCTION @extschema@._lock_subject(text, bigint, boolean) IS
	'Internal: takes a subject''s (customer''s or rider''s) advisory lock to the end of the transaction: shared while sealing, exclusive to replace or destroy its data key.';
REVOKE ALL ON FUNCTION @extschema@._lock_subject(text, bigint, boolean) FROM PUBLIC;

-- _wrap_key (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._wrap_key(p_key bytea, p_version integer) RETURNS bytea
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
RETURN @extschema@._pgp_encrypt_bytes(p_key, @extschema@._master_key(p_version));
COMMENT ON FUNCTION @extschema@._wrap_key(bytea, integer) IS
	'Internal: wraps a data key under the master key of a version.';

-- _unwrap_key (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._unwrap_key(p_wrapped bytea, p_version integer) RETURNS bytea
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_unwrap_key';
COMMENT ON FUNCTION @extschema@._unwrap_key(bytea, integer) IS
	'Internal: unwraps a data key with the master key of its version; kept to the end of the transaction.';

-- _data_key (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._data_key(p_subject text, p_subject_id bigint, p_create boolean)
RETURNS bytea
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_data_key';
COMMENT ON FUNCTION @extschema@._data_key(text, bigint, boolean) IS
	'Internal: a subject''s data key, unwrapped; created on first use when p_create.';

-- _cleartext_seal (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._cleartext_seal(p_value text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN '\x00'::bytea OPERATOR(pg_catalog.||) pg_catalog.convert_to(p_value, 'UTF8');
COMMENT ON FUNCTION @extschema@._cleartext_seal(text) IS
	'Internal: a value stored under the no-op cipher (dispatch.cipher = none): a zero byte and the UTF-8 text.';
REVOKE ALL ON FUNCTION @extschema@._cleartext_seal(text) FROM PUBLIC;

-- _is_cleartext (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._is_cleartext(p_sealed bytea) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.length(p_sealed) OPERATOR(pg_catalog.>) 0
   AND pg_catalog.get_byte(p_sealed, 0) OPERATOR(pg_catalog.=) 0;
COMMENT ON FUNCTION @extschema@._is_cleartext(bytea) IS
	'Internal: whether a stored value was written by the no-op cipher (its first byte is zero).';
REVOKE ALL ON FUNCTION @extschema@._is_cleartext(bytea) FROM PUBLIC;

-- _cleartext_open (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._cleartext_open(p_sealed bytea) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF @extschema@._cipher_enabled() THEN
		RAISE EXCEPTION 'a personal value is not sealed'
			USING ERRCODE = 'DP404',
			      DETAIL = 'The value was stored with dispatch.cipher = none, which is for benchmarks only.';
	END IF;
	RETURN pg_catalog.convert_from(pg_catalog.substr(p_sealed, 2), 'UTF8');
END
$$;
COMMENT ON FUNCTION @extschema@._cleartext_open(bytea) IS
	'Internal: the text of a value written by the no-op cipher, while dispatch.cipher is none; DP404 while it is not.';
REVOKE ALL ON FUNCTION @extschema@._cleartext_open(bytea) FROM PUBLIC;

-- pii_seal (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@.pii_seal(p_subject text, p_subject_id bigint, p_value text)
RETURNS bytea
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_value IS NULL THEN
		RETURN NULL;
	END IF;
	IF NOT @extschema@._cipher_enabled() THEN
		RETURN @extschema@._cleartext_seal(p_value);     -- benchmarks only
	END IF;
	RETURN @extschema@._pgp_encrypt(p_value, @extschema@._data_key(p_subject, p_subject_id, true));
END
$$;
COMMENT ON FUNCTION @extschema@.pii_seal(text, bigint, text) IS
	'Seals a personal value with the subject''s data key (AES-256, OpenPGP with integrity check).  NULL stays NULL.';

-- pii_open (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@.pii_open(p_subject text, p_subject_id bigint, p_sealed bytea, p_purpose text)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_key bytea;
	v_text text;
BEGIN
	IF p_sealed IS NULL THEN
		RETURN NULL;
	END IF;
	IF p_purpose IS NULL OR p_purpose OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'opening personal data needs a purpose' USING ERRCODE = 'DP403';
	END IF;
	IF @extschema@._is_cleartext(p_sealed) THEN
		v_text := @extschema@._cleartext_open(p_sealed);
		INSERT INTO @extschema@.pii_access_log (subject, subject_id, purpose)
		VALUES (p_subject, p_subject_id, p_purpose);
		RETURN v_text;
	END IF;
	v_key := @extschema@._data_key(p_subject, p_subject_id, false);
	INSERT INTO @extschema@.pii_access_log (subject, subject_id, purpose)
	VALUES (p_subject, p_subject_id, p_purpose);
	BEGIN
		RETURN @extschema@._pgp_decrypt(p_sealed, v_key);
	EXCEPTION WHEN external_routine_invocation_exception THEN
		RAISE EXCEPTION 'personal data of % % cannot be decrypted', p_subject, p_subject_id
			USING ERRCODE = 'DP404',
			      DETAIL = 'The value was sealed with another key or is corrupt.';
	END;
END
$$;
COMMENT ON FUNCTION @extschema@.pii_open(text, bigint, bytea, text) IS
	'Opens a sealed personal value of a subject and logs the access with its purpose.  An erased subject or a wrong key is an error, never NULL.';

-- _unseal (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._unseal(p_sealed bytea, p_key bytea) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_sealed IS NULL OR p_key IS NULL THEN
		RETURN NULL;
	END IF;
	IF @extschema@._is_cleartext(p_sealed) THEN
		RETURN @extschema@._cleartext_open(p_sealed);   -- dispatch.cipher = none
	END IF;
	BEGIN
		RETURN @extschema@._pgp_decrypt(p_sealed, p_key);
	EXCEPTION WHEN external_routine_invocation_exception THEN
		RAISE EXCEPTION 'a sealed value cannot be decrypted with its subject''s key'
			USING ERRCODE = 'DP404', DETAIL = 'The value was sealed with another key or is corrupt.';
	END;
END
$$;
COMMENT ON FUNCTION @extschema@._unseal(bytea, bytea) IS
	'Internal: opens a sealed value with an unwrapped data key, without logging (callers log once per request).  NULL key or value: NULL.';

-- normalize_phone (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@.normalize_phone(p_phone text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v text := pg_catalog.regexp_replace(p_phone, '[[:space:]().-]', '', 'g');
BEGIN
	PERFORM @extschema@._check_length('phone', p_phone);
	IF pg_catalog.starts_with(v, '00') THEN
		v := '+' OPERATOR(pg_catalog.||) pg_catalog.substr(v, 3);
	ELSIF v OPERATOR(pg_catalog.~) '^1[3-9][0-9]{9}$' THEN
		v := '+86' OPERATOR(pg_catalog.||) v;     -- mainland China mobile without country code
	END IF;
	IF v OPERATOR(pg_catalog.!~) '^\+[1-9][0-9]{6,14}$' THEN
		RAISE EXCEPTION 'invalid phone number'
			USING ERRCODE = 'DP027',
			      HINT = 'Give the number in E.164 form, for example +8613812345678.';
	END IF;
	RETURN v;
END
$$;
COMMENT ON FUNCTION @extschema@.normalize_phone(text) IS
	'Phone number in E.164 form (+ and digits); an 11-digit mainland China mobile number gets +86.  Invalid input raises DP027, a text longer than the phone limit DP028.';

-- _phone_index (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._phone_index(p_phone text) RETURNS bytea
LANGUAGE sql STABLE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
RETURN @extschema@._hmac_sha256(pg_catalog.convert_to(@extschema@.normalize_phone(p_phone), 'UTF8'), @extschema@._index_key());
COMMENT ON FUNCTION @extschema@._phone_index(text) IS
	'Internal: blind index of a phone number, HMAC-SHA-256 of its E.164 form under the current index key.  Stable, so that a lookup computes it once and uses the index on phone_index.';

-- _index_key_version (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._index_key_version() RETURNS integer
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT pg_catalog.max(v) FROM pg_catalog.unnest(@extschema@._index_key_versions()) v);
COMMENT ON FUNCTION @extschema@._index_key_version() IS
	'Internal: the current blind-index key version, to which rotate_index_key moves every index (writers take an index with its version from _phone_index_entry).';
REVOKE ALL ON FUNCTION @extschema@._index_key_version() FROM PUBLIC;

-- _phone_index_entry (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._phone_index_entry(p_phone text, OUT phone_index bytea, OUT version integer)
RETURNS record
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT @extschema@._hmac_sha256(pg_catalog.convert_to(@extschema@.normalize_phone(p_phone), 'UTF8'), k.key), k.version
	  FROM @extschema@._index_key_current() k;
END;
COMMENT ON FUNCTION @extschema@._phone_index_entry(text) IS
	'Internal: what a writer stores of a phone number: its blind index under the current index key and that key''s version, both from one reading of the key file.  Read under the lock of the write (_lock_for_writing).';
REVOKE ALL ON FUNCTION @extschema@._phone_index_entry(text) FROM PUBLIC;

-- _phone_indexes (sql/30_keys.sql)
CREATE OR REPLACE FUNCTION @extschema@._phone_indexes(p_phone text) RETURNS bytea[]
LANGUAGE sql STABLE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
RETURN (SELECT pg_catalog.array_agg(@extschema@._hmac_sha256(
                   pg_catalog.convert_to(@extschema@.normalize_phone(p_phone), 'UTF8'), @extschema@._index_key_at(v)))
          FROM pg_catalog.unnest(@extschema@._index_key_versions()) v);
COMMENT ON FUNCTION @extschema@._phone_indexes(text) IS
	'Internal: the blind indexes of a phone number under every index key in the file: a lookup finds rows not yet moved to the current key by rotate_index_key.';
REVOKE ALL ON FUNCTION @extschema@._phone_indexes(text) FROM PUBLIC;

-- order_state_trigger (sql/40_events.sql)
CREATE OR REPLACE FUNCTION @extschema@.order_state_trigger() RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'dispatch_order_state';
COMMENT ON FUNCTION @extschema@.order_state_trigger() IS
	'The order state machine (C): allows only the transitions of DESIGN.md (a release must remove the rider in the same update), stamps each with its time and the next status_version (and payment_attempt one more when a failed payment is retried), writes its event and notifies dispatch_events.';

-- _event_base (sql/40_events.sql)
CREATE OR REPLACE FUNCTION @extschema@._event_base() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN COALESCE((SELECT b.base FROM @extschema@.event_base b), 0);
COMMENT ON FUNCTION @extschema@._event_base() IS
	'Internal: this node''s base of event numbers (event_base; 0 without a row), which the outbox''s numbers and their horizon add to the transaction id.';
REVOKE ALL ON FUNCTION @extschema@._event_base() FROM PUBLIC;

-- _event_base_changed (sql/40_events.sql)
CREATE OR REPLACE FUNCTION @extschema@._event_base_changed() RETURNS trigger
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_event_base_changed';
COMMENT ON FUNCTION @extschema@._event_base_changed() IS
	'Internal: statement trigger on event_base: the base of event numbers each backend keeps is read again after the change commits.';
REVOKE ALL ON FUNCTION @extschema@._event_base_changed() FROM PUBLIC;

-- _raise_event_base (sql/40_events.sql)
CREATE OR REPLACE FUNCTION @extschema@._raise_event_base(p_base bigint) RETURNS bigint
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

-- after_restore (sql/40_events.sql)
CREATE OR REPLACE FUNCTION @extschema@.after_restore(margin bigint DEFAULT 4294967296) RETURNS bigint
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

-- _event_horizon (sql/40_events.sql)
CREATE OR REPLACE FUNCTION @extschema@._event_horizon() RETURNS bigint
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_event_horizon_sql';
COMMENT ON FUNCTION @extschema@._event_horizon() IS
	'Internal: the first seq that a transaction still running, or starting later, could write: every event below it has committed or never will (the seq layout, with this node''s base, is in docs/events.md).';
REVOKE ALL ON FUNCTION @extschema@._event_horizon() FROM PUBLIC;

-- relay_status (sql/40_events.sql)
CREATE OR REPLACE FUNCTION @extschema@.relay_status(OUT database name, OUT pid integer, OUT ready boolean,
                                         OUT "position" bigint, OUT rounds bigint, OUT relayed bigint,
                                         OUT last_round timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL SAFE ROWS 4
AS 'MODULE_PATHNAME', 'dispatch_relay_status';
COMMENT ON FUNCTION @extschema@.relay_status() IS
	'One row per relay of dispatch.relay_databases: its process (NULL: not running), whether writers hand it their notifications, its position in the outbox, rounds that sent notifications, notifications sent and the last such round.  No rows without dispatch in shared_preload_libraries.';
REVOKE ALL ON FUNCTION @extschema@.relay_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.relay_status() TO dispatch_admin;

-- events_since (sql/40_events.sql)
CREATE OR REPLACE FUNCTION @extschema@.events_since(after_seq bigint, max_events integer DEFAULT 1000,
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

-- _note_refusal (sql/47_fraud.sql)
CREATE OR REPLACE FUNCTION @extschema@._note_refusal(zone_id bigint, customer_id bigint, sqlstate text) RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_note_refusal';
COMMENT ON FUNCTION @extschema@._note_refusal(bigint, bigint, text) IS
	'Internal: notes a refused intake attempt (zone, customer, SQLSTATE of class DP, else DP732) in the shared-memory ring, outside the transaction; does nothing, said once per backend in the server log, without the ring.';
REVOKE ALL ON FUNCTION @extschema@._note_refusal(bigint, bigint, text) FROM PUBLIC;

-- _refusal_zone (sql/47_fraud.sql)
CREATE OR REPLACE FUNCTION @extschema@._refusal_zone(zone_id bigint) RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_refusal_zone';
COMMENT ON FUNCTION @extschema@._refusal_zone(bigint) IS
	'Internal: the zone of the intake attempt under way, noted with its refusal if it is refused (src/refusals.c).';
REVOKE ALL ON FUNCTION @extschema@._refusal_zone(bigint) FROM PUBLIC;

-- _refusal_ring (sql/47_fraud.sql)
CREATE OR REPLACE FUNCTION @extschema@._refusal_ring(OUT epoch timestamptz, OUT capacity integer, OUT next_seq bigint)
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_refusal_ring';
COMMENT ON FUNCTION @extschema@._refusal_ring() IS
	'Internal: the refusal ring''s epoch (when it was set up: server start or crash restart), size in entries and next sequence number; NULLs without the ring.';
REVOKE ALL ON FUNCTION @extschema@._refusal_ring() FROM PUBLIC;

-- _refusals_after (sql/47_fraud.sql)
CREATE OR REPLACE FUNCTION @extschema@._refusals_after(after_seq bigint)
RETURNS TABLE (seq bigint, at timestamptz, zone_id bigint, customer_id bigint, sqlstate text, reason text, lost bigint)
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE ROWS 100
AS 'MODULE_PATHNAME', 'dispatch_refusals_after';
COMMENT ON FUNCTION @extschema@._refusals_after(bigint) IS
	'Internal: a summary row (lost not NULL: entries after after_seq overwritten before this read; seq: the newest in the ring), then the ring''s entries of this database after after_seq, oldest first.  Nothing without the ring.';
REVOKE ALL ON FUNCTION @extschema@._refusals_after(bigint) FROM PUBLIC;

-- _set_customer_flag (sql/47_fraud.sql)
CREATE OR REPLACE FUNCTION @extschema@._set_customer_flag(p_customer_id bigint, p_flagged boolean, p_reason text, p_by text)
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

-- _refusal_window_start (sql/47_fraud.sql)
CREATE OR REPLACE FUNCTION @extschema@._refusal_window_start() RETURNS timestamptz
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

-- _flush_refusal_ring (sql/47_fraud.sql)
CREATE OR REPLACE FUNCTION @extschema@._flush_refusal_ring(OUT flushed bigint, OUT lost bigint)
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

-- flush_refusals (sql/47_fraud.sql)
CREATE OR REPLACE FUNCTION @extschema@.flush_refusals()
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

-- _check_coordinates (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@._check_coordinates(lon float8, lat float8, what text) RETURNS boolean
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_check_coordinates';
COMMENT ON FUNCTION @extschema@._check_coordinates(float8, float8, text) IS
	'Internal: true for finite, in-range coordinates (longitude in [-180, 180], latitude in [-90, 90]); DP001 naming what for a missing, NaN, infinite or out-of-range one.';
REVOKE ALL ON FUNCTION @extschema@._check_coordinates(float8, float8, text) FROM PUBLIC;

-- _check_point (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@._check_point(lon float8, lat float8, what text) RETURNS geometry
LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
RETURN CASE WHEN @extschema@._check_coordinates(lon, lat, what) THEN @extschema@._point(lon, lat) END;
COMMENT ON FUNCTION @extschema@._check_point(float8, float8, text) IS
	'Internal: a WGS 84 point from finite, in-range coordinates, else DP001.';

-- _check_distance_m (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@._check_distance_m(m real) RETURNS real
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_check_distance_m';
COMMENT ON FUNCTION @extschema@._check_distance_m(real) IS
	'Internal: m, the metres from pickup to drop-off, refused (DP010) above dispatch.fraud_max_distance_m.';
REVOKE ALL ON FUNCTION @extschema@._check_distance_m(real) FROM PUBLIC;

-- _check_distance (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@._check_distance(p_from geometry, p_to geometry) RETURNS real
LANGUAGE sql STABLE STRICT PARALLEL SAFE
RETURN @extschema@._check_distance_m(@extschema@._distance_m(p_from, p_to)::real);
COMMENT ON FUNCTION @extschema@._check_distance(geometry, geometry) IS
	'Internal: great-circle metres between pickup and drop-off, refused (DP010) above dispatch.fraud_max_distance_m.';

-- create_zone (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@.create_zone(name text, area geometry, timezone text DEFAULT 'UTC')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_problem text := COALESCE(@extschema@._zone_area_problem(area), CASE WHEN area IS NULL THEN 'it is missing' END);
	v_id bigint;
BEGIN
	IF @extschema@._is_blank(name) THEN
		RAISE EXCEPTION 'a zone needs a name' USING ERRCODE = 'DP017';
	END IF;
	PERFORM @extschema@._check_length('zone_name', name);
	IF v_problem IS NOT NULL THEN
		RAISE EXCEPTION 'invalid zone area: %', v_problem
			USING ERRCODE = 'DP017', HINT = 'A service area is a valid polygon or multipolygon in SRID 4326.';
	END IF;
	IF timezone IS NULL OR NOT EXISTS (SELECT FROM pg_catalog.pg_timezone_names t
	                                    WHERE t.name OPERATOR(pg_catalog.=) timezone) THEN
		RAISE EXCEPTION 'unknown time zone "%"', timezone USING ERRCODE = 'DP017';
	END IF;
	IF EXISTS (SELECT FROM @extschema@.zones z WHERE z.name OPERATOR(pg_catalog.=) create_zone.name) THEN
		RAISE EXCEPTION 'a zone named "%" exists already', name USING ERRCODE = 'DP017';
	END IF;
	INSERT INTO @extschema@.zones (name, area, timezone, created_at)
	VALUES (name, @extschema@._zone_area(area), timezone, @extschema@.clock())
	RETURNING zone_id INTO v_id;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.create_zone(text, geometry, text) IS
	'Creates a service area (polygon in SRID 4326) and returns its id.';

-- create_merchant (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@.create_merchant(zone_id bigint, name text, lon float8, lat float8,
                                           prep_minutes integer DEFAULT 10)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_point @extschema@.merchants.location%TYPE := @extschema@._check_point(lon, lat, 'merchant');
	v_area @extschema@.zones.area%TYPE;
	v_id bigint;
BEGIN
	SELECT z.area INTO v_area FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) create_merchant.zone_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'zone % does not exist', zone_id USING ERRCODE = 'DP016';
	END IF;
	IF NOT @extschema@._covers(v_area, v_point) THEN
		RAISE EXCEPTION 'merchant location lies outside zone %', zone_id USING ERRCODE = 'DP002';
	END IF;
	IF @extschema@._is_blank(name)
	   OR prep_minutes IS NULL OR prep_minutes OPERATOR(pg_catalog.<) 0 OR prep_minutes OPERATOR(pg_catalog.>) 240 THEN
		RAISE EXCEPTION 'a merchant needs a name and a preparation time of 0 to 240 minutes' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('merchant_name', name);
	INSERT INTO @extschema@.merchants (zone_id, name, location, prep_minutes, created_at)
	VALUES (zone_id, name, v_point, prep_minutes, @extschema@.clock())
	RETURNING merchant_id INTO v_id;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.create_merchant(bigint, text, float8, float8, integer) IS
	'Creates a merchant inside a zone and returns its id.';

-- set_merchant_open (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@.set_merchant_open(merchant_id bigint, is_open boolean) RETURNS void
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF is_open IS NULL THEN
		RAISE EXCEPTION 'set_merchant_open needs is_open true or false' USING ERRCODE = 'DP025';
	END IF;
	UPDATE @extschema@.merchants m SET is_open = set_merchant_open.is_open
	 WHERE m.merchant_id OPERATOR(pg_catalog.=) set_merchant_open.merchant_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'merchant % does not exist', merchant_id USING ERRCODE = 'DP013';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.set_merchant_open(bigint, boolean) IS
	'Opens or closes a merchant for new orders (closed: place_order refuses with DP003).  DP013 unknown or NULL merchant, DP025 NULL is_open.';

-- set_item_stock (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@.set_item_stock(item_id bigint, stock integer)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
BEGIN
	SELECT m.zone_id INTO v_zone
	  FROM @extschema@.items i JOIN @extschema@.merchants m ON m.merchant_id OPERATOR(pg_catalog.=) i.merchant_id
	 WHERE i.item_id OPERATOR(pg_catalog.=) set_item_stock.item_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'item % does not exist', item_id USING ERRCODE = 'DP004';
	END IF;
	IF stock OPERATOR(pg_catalog.<) 0 THEN
		RAISE EXCEPTION 'stock cannot be negative' USING ERRCODE = 'DP025';
	END IF;
	IF stock IS NULL THEN
		DELETE FROM @extschema@.item_stock s
		 WHERE s.zone_id OPERATOR(pg_catalog.=) v_zone AND s.item_id OPERATOR(pg_catalog.=) set_item_stock.item_id;
	ELSE
		INSERT INTO @extschema@.item_stock (zone_id, item_id, stock)
		VALUES (v_zone, set_item_stock.item_id, set_item_stock.stock)
		ON CONFLICT ON CONSTRAINT item_stock_pkey DO UPDATE SET stock = excluded.stock;
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.set_item_stock(bigint, integer) IS
	'Sets the stock of an item (a restock or a count): a number is counted down by orders from then on, NULL makes the item unlimited.  Orders placed before keep what they took.  DP004 unknown item, DP025 negative stock.';
REVOKE ALL ON FUNCTION @extschema@.set_item_stock(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.set_item_stock(bigint, integer) TO dispatch_app, dispatch_admin;

-- add_item (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@.add_item(merchant_id bigint, name text, price_cents integer, stock integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
BEGIN
	IF NOT EXISTS (SELECT FROM @extschema@.merchants m WHERE m.merchant_id OPERATOR(pg_catalog.=) add_item.merchant_id) THEN
		RAISE EXCEPTION 'merchant % does not exist', merchant_id USING ERRCODE = 'DP013';
	END IF;
	IF @extschema@._is_blank(name) THEN
		RAISE EXCEPTION 'an item needs a name' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('item_name', name);
	IF price_cents IS NULL OR price_cents OPERATOR(pg_catalog.<) 0
	   OR price_cents OPERATOR(pg_catalog.>) @extschema@._setting_int('dispatch.max_order_cents') THEN
		RAISE EXCEPTION 'invalid price % cents', price_cents USING ERRCODE = 'DP008';
	END IF;
	INSERT INTO @extschema@.items (merchant_id, name, price_cents)
	VALUES (merchant_id, name, price_cents)
	RETURNING item_id INTO v_id;
	-- a counted stock is set as a restock sets it (DP025 if negative:
	-- the item is not kept either)
	IF stock IS NOT NULL THEN
		PERFORM @extschema@.set_item_stock(v_id, stock);
	END IF;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.add_item(bigint, text, integer, integer) IS
	'Adds an item to a merchant''s menu; stock NULL means unlimited, a number is counted down by orders (dispatch.item_stock).';

-- merchant_menu (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@.merchant_menu(merchant_id bigint)
RETURNS TABLE (item_id bigint, name text, price_cents integer, available boolean, stock integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
BEGIN
	SELECT m.zone_id INTO v_zone FROM @extschema@.merchants m
	 WHERE m.merchant_id OPERATOR(pg_catalog.=) merchant_menu.merchant_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'merchant % does not exist', merchant_id USING ERRCODE = 'DP013';
	END IF;
	-- the count of the merchant's zone (on Citus, that zone's shard)
	RETURN QUERY
	SELECT i.item_id, i.name, i.price_cents, i.available, s.stock
	  FROM @extschema@.items i
	  LEFT JOIN @extschema@.item_stock s ON s.zone_id OPERATOR(pg_catalog.=) v_zone
	                                    AND s.item_id OPERATOR(pg_catalog.=) i.item_id
	 WHERE i.merchant_id OPERATOR(pg_catalog.=) merchant_menu.merchant_id
	 ORDER BY i.item_id;
END
$$;
COMMENT ON FUNCTION @extschema@.merchant_menu(bigint) IS
	'A merchant''s menu: each item with its price, whether it is available, and its stock (NULL: unlimited), in item order.  DP013 unknown merchant.';
REVOKE ALL ON FUNCTION @extschema@.merchant_menu(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.merchant_menu(bigint) TO dispatch_app, dispatch_admin;

-- register_customer (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@.register_customer(phone text, name text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_index record;
	v_id bigint;
BEGIN
	IF phone IS NULL THEN
		RAISE EXCEPTION 'a customer needs a phone number' USING ERRCODE = 'DP027';
	END IF;
	PERFORM @extschema@._check_length('customer_name', name);
	-- the blind index and its version, read under the lock of the INSERT
	-- (sql/30_keys.sql, writers of key versions)
	PERFORM @extschema@._lock_for_writing('@extschema@.customers');
	v_index := @extschema@._phone_index_entry(phone);
	IF EXISTS (SELECT FROM @extschema@.customers c
	            WHERE c.phone_index OPERATOR(pg_catalog.=) ANY (@extschema@._phone_indexes(phone))) THEN
		RAISE EXCEPTION 'a customer with this phone number exists already' USING ERRCODE = 'DP026';
	END IF;
	v_id := pg_catalog.nextval('@extschema@.customers_id_seq');
	BEGIN
		INSERT INTO @extschema@.customers (customer_id, phone_index, phone_index_version, phone_enc, name_enc, created_at)
		VALUES (v_id, v_index.phone_index, v_index.version,
		        @extschema@.pii_seal('customer', v_id, @extschema@.normalize_phone(phone)),
		        -- a name is optional: a blank one (_is_blank) is none
		        @extschema@.pii_seal('customer', v_id, CASE WHEN NOT @extschema@._is_blank(name) THEN name END),
		        @extschema@.clock());
	EXCEPTION WHEN unique_violation THEN
		-- the same phone registered by a transaction that committed while we waited
		RAISE EXCEPTION 'a customer with this phone number exists already' USING ERRCODE = 'DP026';
	END;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.register_customer(text, text) IS
	'Registers a customer by phone number (E.164 or a mainland China mobile number); phone and name are stored sealed, the phone also as a blind index.  The name is optional: NULL, empty or blank (white space only) stores none.';

-- find_customer_by_phone (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@.find_customer_by_phone(phone text) RETURNS bigint
LANGUAGE sql STABLE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT c.customer_id FROM @extschema@.customers c
	 WHERE c.phone_index OPERATOR(pg_catalog.=) ANY (@extschema@._phone_indexes(phone));
END;
COMMENT ON FUNCTION @extschema@.find_customer_by_phone(text) IS
	'The customer with this phone number, through the blind index, or NULL.';

-- flag_customer (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@.flag_customer(customer_id bigint, reason text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- a flag says why, as its lift does (unflag_customer); NULL lifts it
	IF reason IS NOT NULL AND @extschema@._is_blank(reason) THEN
		RAISE EXCEPTION 'a flag needs a reason (NULL lifts the flag)' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('reason', reason);
	PERFORM @extschema@._set_customer_flag(flag_customer.customer_id, reason IS NOT NULL, reason, SESSION_USER::text);
END
$$;
COMMENT ON FUNCTION @extschema@.flag_customer(bigint, text) IS
	'Flags a customer as suspected of fraud (their new orders are refused with DP011); a NULL reason lifts the flag (unflag_customer names who and why), a blank one (empty or white space only) is refused (DP025).  Kept in customer_flags with the session user; repeating it is a no-op.';

-- unflag_customer (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@.unflag_customer(customer_id bigint, by text, reason text) RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF @extschema@._is_blank(by)
	   OR @extschema@._is_blank(reason) THEN
		RAISE EXCEPTION 'lifting a flag needs who lifts it and why'
			USING ERRCODE = 'DP731', HINT = 'Name the dispatcher and give the reason; lengths as input_limits() says.';
	END IF;
	PERFORM @extschema@._check_length('dispatcher', by);
	PERFORM @extschema@._check_length('reason', reason);
	RETURN @extschema@._set_customer_flag(unflag_customer.customer_id, false, reason, by);
END
$$;
COMMENT ON FUNCTION @extschema@.unflag_customer(bigint, text, text) IS
	'A dispatcher lifts a customer''s fraud flag, naming themself (by) and the reason (DP731 if either is missing); kept in customer_flags.  Refusals before the lift no longer count towards the automatic flag.  Returns false, changing nothing, when the customer is not flagged (a retry).';
REVOKE ALL ON FUNCTION @extschema@.unflag_customer(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.unflag_customer(bigint, text, text) TO dispatch_admin;

-- _lock_rider_phone (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@._lock_rider_phone(p_phone text) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- the phone's blind index under the current key, as a lock's second key
	v_key integer := pg_catalog.hashtext(pg_catalog.encode(@extschema@._phone_index(p_phone), 'hex'));
BEGIN
	IF pg_catalog.pg_try_advisory_xact_lock(@extschema@._lock_key('riderphone')::integer, v_key) THEN
		RETURN;
	END IF;
	PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._lock_key('riderphone')::integer, v_key);
	-- a repeatable read or serializable snapshot predates the wait: it
	-- would not see the rider the other call gave the phone to
	IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
		RAISE EXCEPTION 'another call gave a rider this phone number at the same time'
			USING ERRCODE = 'serialization_failure',
			      HINT = 'Retry the transaction, or call it in a transaction of isolation level read committed (the default).';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_rider_phone(text) IS
	'Internal (register_rider, update_rider): the lock of a phone number given to a rider (advisory riderphone, keyed by its blind index), to the end of the transaction, taken before the phone is looked up among riders: two calls giving riders one phone take turns and the later sees the earlier''s rider (DP026).  In a repeatable read or serializable transaction that had to wait, 40001 (its snapshot cannot see what the other committed).';
REVOKE ALL ON FUNCTION @extschema@._lock_rider_phone(text) FROM PUBLIC;

-- register_rider (sql/50_intake.sql)
CREATE OR REPLACE FUNCTION @extschema@.register_rider(zone_id bigint, name text, phone text, capacity integer DEFAULT 3)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
	v_index record;
	v_indexes bytea[];
	v_taken boolean;
BEGIN
	IF NOT EXISTS (SELECT FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) register_rider.zone_id) THEN
		RAISE EXCEPTION 'zone % does not exist', zone_id USING ERRCODE = 'DP016';
	END IF;
	IF capacity IS NULL OR capacity OPERATOR(pg_catalog.<) 1 OR capacity OPERATOR(pg_catalog.>) 20 THEN
		RAISE EXCEPTION 'rider capacity must be between 1 and 20' USING ERRCODE = 'DP025';
	END IF;
	IF phone IS NULL THEN
		RAISE EXCEPTION 'a rider needs a phone number' USING ERRCODE = 'DP027';
	END IF;
	PERFORM @extschema@._check_length('rider_name', name);
	-- a phone another rider has, in any zone, is refused, as update_rider
	-- refuses it: looked up under the phone's lock (taken first, as
	-- update_rider takes it before the table's), the indexes computed
	-- first, a constant of the statement (on Citus it reaches every zone's
	-- riders; a subquery with a column, as Citus reads its result back)
	PERFORM @extschema@._lock_rider_phone(phone);
	v_indexes := @extschema@._phone_indexes(phone);
	SELECT EXISTS (SELECT 1 FROM @extschema@.riders r WHERE r.phone_index OPERATOR(pg_catalog.=) ANY (v_indexes))
	  INTO v_taken;
	IF v_taken THEN
		RAISE EXCEPTION 'a rider with this phone number exists already' USING ERRCODE = 'DP026';
	END IF;
	-- the blind index and its version, read under the lock of the INSERT
	PERFORM @extschema@._lock_for_writing('@extschema@.riders');
	v_index := @extschema@._phone_index_entry(phone);
	v_id := pg_catalog.nextval('@extschema@.riders_id_seq');
	INSERT INTO @extschema@.riders (rider_id, zone_id, name_enc, phone_enc, phone_index, phone_index_version,
	                                capacity, created_at)
	VALUES (v_id, zone_id,
	        -- a blank name (_is_blank) is none, as register_customer stores it
	        @extschema@.pii_seal('rider', v_id, CASE WHEN NOT @extschema@._is_blank(name) THEN name END),
	        @extschema@.pii_seal('rider', v_id, @extschema@.normalize_phone(phone)),
	        v_index.phone_index, v_index.version,
	        capacity, @extschema@.clock());
	INSERT INTO @extschema@.rider_zones (rider_id, zone_id) VALUES (v_id, zone_id);
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.register_rider(bigint, text, text, integer) IS
	'Registers a rider in a zone with a capacity (orders carried at once); name and phone are stored sealed, the phone also as a blind index.  DP026 when another rider, of any zone, has the phone (as update_rider refuses it); two registrations with one phone at once take turns (_lock_rider_phone).  The name may be none: NULL, empty or blank (white space only) stores none.';

-- _order_counts (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._order_counts(p_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN p_status IN ('placed', 'accepted', 'assigned', 'picked_up', 'delivered');
COMMENT ON FUNCTION @extschema@._order_counts(text) IS
	'Internal: whether an order in this status counts for growth figures (paid and not cancelled).';
REVOKE ALL ON FUNCTION @extschema@._order_counts(text) FROM PUBLIC;

-- _has_ordered (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._has_ordered(p_customer_id bigint) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone_id bigint;
BEGIN
	FOR v_zone_id IN SELECT z.zone_id FROM @extschema@.zones z ORDER BY z.zone_id LOOP
		IF EXISTS (SELECT FROM @extschema@.orders o
		            WHERE o.zone_id OPERATOR(pg_catalog.=) v_zone_id
		              AND o.customer_id OPERATOR(pg_catalog.=) p_customer_id
		              AND @extschema@._order_counts(o.status)) THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END
$$;
COMMENT ON FUNCTION @extschema@._has_ordered(bigint) IS
	'Internal: whether the customer has an order that counts (paid, not cancelled) in any zone: a first-order discount and a referral are for customers who have none.';
REVOKE ALL ON FUNCTION @extschema@._has_ordered(bigint) FROM PUBLIC;

-- _campaign_rules_problem (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._campaign_rules_problem(p_kind text, p_rules jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_allowed text[];
	v_key text;
	v_dup text;
	v_num text := '^[0-9]{1,9}$';
BEGIN
	IF p_rules IS NULL OR pg_catalog.jsonb_typeof(p_rules) OPERATOR(pg_catalog.<>) 'object' THEN
		RETURN 'rules must be a JSON object';
	END IF;
	v_allowed := CASE p_kind
		WHEN 'first_order'  THEN '{percent_off,amount_off_cents,max_discount_cents,min_basket_cents,per_customer,auto}'
		WHEN 'limited_time' THEN '{percent_off,amount_off_cents,max_discount_cents,min_basket_cents,per_customer,auto}'
		WHEN 'usual'        THEN '{percent_off,amount_off_cents,max_discount_cents,min_basket_cents,min_orders,window_days,valid_days}'
		WHEN 'goodwill'     THEN '{percent_off,amount_off_cents,max_discount_cents,min_basket_cents,valid_days}'
		WHEN 'referral'     THEN '{referrer_points,referee_points,cents_per_point}'
		WHEN 'points'       THEN '{earn_per_yuan,cents_per_point,max_spend_share,expire_days,feedback_points,tiers}'
	END;
	IF v_allowed IS NULL THEN
		RETURN pg_catalog.format('unknown kind "%s" (kinds: first_order, limited_time, referral, points, usual, goodwill)', p_kind);
	END IF;
	FOR v_key IN SELECT k FROM pg_catalog.jsonb_object_keys(p_rules) k ORDER BY 1 LOOP
		IF NOT v_key OPERATOR(pg_catalog.=) ANY (v_allowed) THEN
			RETURN pg_catalog.format('rule "%s" does not apply to a %s campaign (rules: %s)',
			                         v_key, p_kind, pg_catalog.array_to_string(v_allowed, ', '));
		END IF;
	END LOOP;
	-- whole numbers, in range
	FOR v_key IN SELECT k FROM pg_catalog.jsonb_object_keys(p_rules) k
	              WHERE k IN ('amount_off_cents', 'max_discount_cents', 'min_basket_cents', 'per_customer',
	                          'min_orders', 'window_days', 'valid_days', 'referrer_points', 'referee_points',
	                          'cents_per_point', 'expire_days', 'feedback_points')
	              ORDER BY 1 LOOP
		IF (p_rules OPERATOR(pg_catalog.->>) v_key) IS NULL
		   OR (p_rules OPERATOR(pg_catalog.->>) v_key) OPERATOR(pg_catalog.!~) v_num
		   OR pg_catalog.jsonb_typeof(p_rules OPERATOR(pg_catalog.->) v_key) OPERATOR(pg_catalog.<>) 'number' THEN
			RETURN pg_catalog.format('rule "%s" must be a whole number of at most 9 digits', v_key);
		END IF;
		IF v_key IN ('per_customer', 'min_orders', 'window_days', 'valid_days', 'cents_per_point', 'expire_days')
		   AND (p_rules OPERATOR(pg_catalog.->>) v_key)::integer OPERATOR(pg_catalog.<) 1 THEN
			RETURN pg_catalog.format('rule "%s" must be at least 1', v_key);
		END IF;
		-- days are added to times: a span of timestamptz's range would make
		-- every reward, review and coupon of the campaign fail (22008)
		IF v_key IN ('window_days', 'valid_days', 'expire_days')
		   AND (p_rules OPERATOR(pg_catalog.->>) v_key)::integer OPERATOR(pg_catalog.>) 36500 THEN
			RETURN pg_catalog.format('rule "%s" must be at most 36500 days (100 years)', v_key);
		END IF;
	END LOOP;
	IF p_kind IN ('first_order', 'limited_time', 'usual', 'goodwill') THEN
		IF (p_rules ? 'percent_off') OPERATOR(pg_catalog.=) (p_rules ? 'amount_off_cents') THEN
			RETURN 'a discount has exactly one of percent_off and amount_off_cents';
		END IF;
		IF p_rules ? 'percent_off'
		   AND ((p_rules OPERATOR(pg_catalog.->>) 'percent_off') OPERATOR(pg_catalog.!~) '^[0-9]{1,3}$'
		        OR (p_rules OPERATOR(pg_catalog.->>) 'percent_off')::integer NOT BETWEEN 1 AND 100) THEN
			RETURN 'percent_off must be a whole number from 1 to 100';
		END IF;
		IF p_rules ? 'amount_off_cents' AND (p_rules OPERATOR(pg_catalog.->>) 'amount_off_cents')::integer OPERATOR(pg_catalog.<) 1 THEN
			RETURN 'amount_off_cents must be at least 1';
		END IF;
		IF p_rules ? 'auto' AND pg_catalog.jsonb_typeof(p_rules OPERATOR(pg_catalog.->) 'auto') OPERATOR(pg_catalog.<>) 'boolean' THEN
			RETURN 'auto must be true or false';
		END IF;
	ELSIF p_kind OPERATOR(pg_catalog.=) 'referral' THEN
		IF COALESCE((p_rules OPERATOR(pg_catalog.->>) 'referrer_points')::integer, 0)
		   OPERATOR(pg_catalog.+) COALESCE((p_rules OPERATOR(pg_catalog.->>) 'referee_points')::integer, 0)
		   OPERATOR(pg_catalog.<) 1 THEN
			RETURN 'a referral campaign rewards the referrer or the referee (referrer_points, referee_points)';
		END IF;
	ELSIF p_kind OPERATOR(pg_catalog.=) 'points' THEN
		IF NOT p_rules ? 'earn_per_yuan'
		   OR pg_catalog.jsonb_typeof(p_rules OPERATOR(pg_catalog.->) 'earn_per_yuan') OPERATOR(pg_catalog.<>) 'number'
		   OR (p_rules OPERATOR(pg_catalog.->>) 'earn_per_yuan')::numeric NOT BETWEEN 0 AND 100 THEN
			RETURN 'a points campaign needs earn_per_yuan, a number from 0 to 100 (points per 100 cents paid)';
		END IF;
		IF p_rules ? 'max_spend_share'
		   AND (pg_catalog.jsonb_typeof(p_rules OPERATOR(pg_catalog.->) 'max_spend_share') OPERATOR(pg_catalog.<>) 'number'
		        OR (p_rules OPERATOR(pg_catalog.->>) 'max_spend_share')::numeric NOT BETWEEN 0 AND 1) THEN
			RETURN 'max_spend_share must be a number from 0 to 1';
		END IF;
		IF p_rules ? 'tiers' AND (
		     pg_catalog.jsonb_typeof(p_rules OPERATOR(pg_catalog.->) 'tiers') OPERATOR(pg_catalog.<>) 'array'
		     OR EXISTS (SELECT FROM pg_catalog.jsonb_array_elements(p_rules OPERATOR(pg_catalog.->) 'tiers') t(v)
		                 WHERE pg_catalog.jsonb_typeof(t.v) OPERATOR(pg_catalog.<>) 'object'
		                    OR pg_catalog.jsonb_typeof(t.v OPERATOR(pg_catalog.->) 'name') IS DISTINCT FROM 'string'
		                    OR pg_catalog.jsonb_typeof(t.v OPERATOR(pg_catalog.->) 'min_points') IS DISTINCT FROM 'number'
		                    OR (t.v OPERATOR(pg_catalog.->>) 'min_points') OPERATOR(pg_catalog.!~) v_num
		                    OR (t.v ? 'multiplier'
		                        AND (pg_catalog.jsonb_typeof(t.v OPERATOR(pg_catalog.->) 'multiplier') OPERATOR(pg_catalog.<>) 'number'
		                             OR (t.v OPERATOR(pg_catalog.->>) 'multiplier')::numeric NOT BETWEEN 1 AND 10)))) THEN
			RETURN 'tiers must be an array of {"name": text, "min_points": n, "multiplier": 1 to 10 (optional)}';
		END IF;
		-- a tier's name is what customer_tier answers: one name, one tier
		IF p_rules ? 'tiers' THEN
			SELECT pg_catalog.format('the tier name "%s" is given twice', t.name) INTO v_dup
			  FROM (SELECT e OPERATOR(pg_catalog.->>) 'name' AS name
			          FROM pg_catalog.jsonb_array_elements(p_rules OPERATOR(pg_catalog.->) 'tiers') e) t
			 GROUP BY t.name HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1
			 ORDER BY t.name LIMIT 1;
			IF v_dup IS NOT NULL THEN
				RETURN v_dup;
			END IF;
		END IF;
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@._campaign_rules_problem(text, jsonb) IS
	'Internal: what is wrong with a campaign''s kind and rules, or NULL (docs/growth.md lists the rules of each kind).';
REVOKE ALL ON FUNCTION @extschema@._campaign_rules_problem(text, jsonb) FROM PUBLIC;

-- _discount_cents (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._discount_cents(p_rules jsonb, p_basket_cents bigint) RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN LEAST(p_basket_cents,
	             COALESCE((p_rules OPERATOR(pg_catalog.->>) 'amount_off_cents')::bigint,
	                      (p_basket_cents OPERATOR(pg_catalog.*) (p_rules OPERATOR(pg_catalog.->>) 'percent_off')::bigint)
	                      OPERATOR(pg_catalog./) 100),
	             COALESCE((p_rules OPERATOR(pg_catalog.->>) 'max_discount_cents')::bigint, p_basket_cents))::integer;
END
$$;
COMMENT ON FUNCTION @extschema@._discount_cents(jsonb, bigint) IS
	'Internal: the discount a discount rule gives on a basket: amount_off_cents, or percent_off rounded down, at most max_discount_cents and the basket.';
REVOKE ALL ON FUNCTION @extschema@._discount_cents(jsonb, bigint) FROM PUBLIC;

-- _active_campaign (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._active_campaign(p_kind text, p_zone_id bigint, p_at timestamptz)
RETURNS @extschema@.campaigns
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_camp @extschema@.campaigns;
BEGIN
	-- PL/pgSQL, not SQL: its plan is kept for the session, and checkout calls it
	SELECT c.* INTO v_camp FROM @extschema@.campaigns c
	 WHERE c.kind OPERATOR(pg_catalog.=) p_kind
	   AND (c.zone_id IS NULL OR c.zone_id OPERATOR(pg_catalog.=) p_zone_id)
	   AND c.starts_at OPERATOR(pg_catalog.<=) p_at
	   AND (c.ends_at IS NULL OR c.ends_at OPERATOR(pg_catalog.>) p_at)
	   AND (c.ended_at IS NULL OR c.ended_at OPERATOR(pg_catalog.>) p_at)
	 ORDER BY c.zone_id IS NULL, c.starts_at DESC, c.campaign_id DESC
	 LIMIT 1;
	RETURN v_camp;
END
$$;
COMMENT ON FUNCTION @extschema@._active_campaign(text, bigint, timestamptz) IS
	'Internal: the campaign of a kind running at a time for a zone: the zone''s own before a city-wide one, the latest started first.';
REVOKE ALL ON FUNCTION @extschema@._active_campaign(text, bigint, timestamptz) FROM PUBLIC;

-- _normalize_code (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._normalize_code(p_code text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN pg_catalog.upper(pg_catalog.btrim(p_code));
END
$$;
COMMENT ON FUNCTION @extschema@._normalize_code(text) IS
	'Internal: codes are matched without case and surrounding blanks.';
REVOKE ALL ON FUNCTION @extschema@._normalize_code(text) FROM PUBLIC;

-- _random_code (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._random_code(p_prefix text) RETURNS text
LANGUAGE sql VOLATILE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN p_prefix OPERATOR(pg_catalog.||)
       pg_catalog.translate(pg_catalog.upper(pg_catalog.encode(
           pg_catalog.substr(@extschema@._random_key(), 1, 8), 'base64')), '+/=O0I1', 'XYZPQRS');
COMMENT ON FUNCTION @extschema@._random_code(text) IS
	'Internal: a prefix and 11 random characters (64 random bits), letters and digits only.';
REVOKE ALL ON FUNCTION @extschema@._random_code(text) FROM PUBLIC;

-- create_campaign (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@.create_campaign(name text, kind text, rules jsonb DEFAULT '{}',
                                           budget_cents bigint DEFAULT NULL,
                                           starts_at timestamptz DEFAULT NULL, ends_at timestamptz DEFAULT NULL,
                                           zone_id bigint DEFAULT NULL, code text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_problem text := @extschema@._campaign_rules_problem(kind, rules);
	v_now timestamptz := @extschema@.clock();
	v_code text := @extschema@._normalize_code(code);
	v_id bigint;
	v_constraint text;
BEGIN
	IF @extschema@._is_blank(name) OR pg_catalog.length(name) OPERATOR(pg_catalog.>) 200 THEN
		RAISE EXCEPTION 'a campaign needs a name of at most 200 characters' USING ERRCODE = 'DP601';
	END IF;
	IF v_problem IS NOT NULL THEN
		RAISE EXCEPTION 'invalid campaign: %', v_problem USING ERRCODE = 'DP601',
			HINT = 'docs/growth.md lists the rules of each kind of campaign.';
	END IF;
	IF budget_cents OPERATOR(pg_catalog.<) 0 THEN
		RAISE EXCEPTION 'invalid campaign: a budget cannot be negative' USING ERRCODE = 'DP601';
	END IF;
	IF ends_at OPERATOR(pg_catalog.<=) COALESCE(starts_at, v_now) THEN
		RAISE EXCEPTION 'invalid campaign: it ends before it starts' USING ERRCODE = 'DP601';
	END IF;
	IF kind OPERATOR(pg_catalog.=) 'limited_time' AND ends_at IS NULL THEN
		RAISE EXCEPTION 'invalid campaign: a limited-time campaign needs an end' USING ERRCODE = 'DP601';
	END IF;
	IF zone_id IS NOT NULL AND NOT EXISTS (SELECT FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) create_campaign.zone_id) THEN
		RAISE EXCEPTION 'zone % does not exist', zone_id USING ERRCODE = 'DP016';
	END IF;
	-- a referral names no zone (apply_referral looks for the city-wide
	-- campaign): one of a zone would never run
	IF kind OPERATOR(pg_catalog.=) 'referral' AND zone_id IS NOT NULL THEN
		RAISE EXCEPTION 'invalid campaign: a referral campaign is city-wide and takes no zone' USING ERRCODE = 'DP601';
	END IF;
	IF v_code IS NOT NULL THEN
		IF kind NOT IN ('first_order', 'limited_time') THEN
			RAISE EXCEPTION 'invalid campaign: only first_order and limited_time campaigns have a public code'
				USING ERRCODE = 'DP601';
		END IF;
		IF v_code OPERATOR(pg_catalog.!~) '^[A-Z0-9_-]{3,64}$' THEN
			RAISE EXCEPTION 'invalid campaign: a code has 3 to 64 letters, digits, _ or -' USING ERRCODE = 'DP601';
		END IF;
		IF EXISTS (SELECT FROM @extschema@.coupons k WHERE k.code OPERATOR(pg_catalog.=) v_code) THEN
			RAISE EXCEPTION 'invalid campaign: the code % exists already', v_code USING ERRCODE = 'DP601';
		END IF;
	END IF;
	IF EXISTS (SELECT FROM @extschema@.campaigns c WHERE c.name OPERATOR(pg_catalog.=) create_campaign.name) THEN
		RAISE EXCEPTION 'invalid campaign: a campaign named "%" exists already', name USING ERRCODE = 'DP601';
	END IF;
	-- the checks above do not see a campaign of the name, or a code, that a
	-- call at the same moment has not committed: its insert waits for that
	-- one, and when it commits is refused as the checks would have
	BEGIN
		INSERT INTO @extschema@.campaigns (name, kind, zone_id, rules, budget_cents, starts_at, ends_at, created_at)
		VALUES (name, kind, zone_id, rules, budget_cents, COALESCE(starts_at, v_now), ends_at, v_now)
		RETURNING campaign_id INTO v_id;
		IF v_code IS NOT NULL THEN
			INSERT INTO @extschema@.coupons (code, campaign_id, created_at) VALUES (v_code, v_id, v_now);
		END IF;
	EXCEPTION WHEN unique_violation THEN
		GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
		-- (on Citus the name of a shard's index: coupons_pkey_<shard>)
		IF v_constraint OPERATOR(pg_catalog.~~) 'coupons\_pkey%' THEN
			RAISE EXCEPTION 'invalid campaign: the code % exists already', v_code USING ERRCODE = 'DP601';
		END IF;
		RAISE EXCEPTION 'invalid campaign: a campaign named "%" exists already', name USING ERRCODE = 'DP601';
	END;
	IF budget_cents IS NOT NULL AND create_campaign.zone_id IS NOT NULL THEN
		-- a zone's campaign: its budget in 16 slots of the zone
		INSERT INTO @extschema@.campaign_budget (zone_id, campaign_id, slot, cap_cents)
		SELECT create_campaign.zone_id, v_id, k, budget_cents OPERATOR(pg_catalog./) 16
		       OPERATOR(pg_catalog.+) CASE WHEN k OPERATOR(pg_catalog.=) 0 THEN budget_cents OPERATOR(pg_catalog.%) 16 ELSE 0 END
		  FROM pg_catalog.generate_series(0, 15) k;
	ELSIF budget_cents IS NOT NULL THEN
		-- city-wide: in the pool, then dealt out to the zones there are
		INSERT INTO @extschema@.campaign_budget (zone_id, campaign_id, slot, cap_cents)
		VALUES (0, v_id, 0, budget_cents);
		PERFORM @extschema@._budget_balance(v_id, v_now);
	END IF;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.create_campaign(text, text, jsonb, bigint, timestamptz, timestamptz, bigint, text) IS
	'Creates a campaign (kind first_order, limited_time, referral, points, usual or goodwill) with its rules, budget in cents (NULL: none), time window and optional zone (none for a referral campaign, which is city-wide); a first_order or limited_time campaign may have a public code.  Returns its id.  Rules: docs/growth.md.';
REVOKE ALL ON FUNCTION @extschema@.create_campaign(text, text, jsonb, bigint, timestamptz, timestamptz, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.create_campaign(text, text, jsonb, bigint, timestamptz, timestamptz, bigint, text) TO dispatch_admin;

-- end_campaign (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@.end_campaign(campaign_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- read first: Citus refuses a function inside COALESCE in an UPDATE
	v_now timestamptz := @extschema@.clock();
BEGIN
	UPDATE @extschema@.campaigns c SET ended_at = COALESCE(c.ended_at, v_now)
	 WHERE c.campaign_id OPERATOR(pg_catalog.=) end_campaign.campaign_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'campaign % does not exist', campaign_id USING ERRCODE = 'DP602';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.end_campaign(bigint) IS
	'Ends a campaign now: its codes stop working, its rewards stop being paid; orders that took it keep their discount.  A no-op on an ended campaign; an unknown campaign, or none (NULL), is DP602.';
REVOKE ALL ON FUNCTION @extschema@.end_campaign(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.end_campaign(bigint) TO dispatch_admin;

-- _issue_coupon (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._issue_coupon(p_campaign_id bigint, p_customer_id bigint,
                                         p_merchant_id bigint DEFAULT NULL, p_valid_until timestamptz DEFAULT NULL,
                                         p_zone_id bigint DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_camp @extschema@.campaigns;
	v_code text;
	v_zone bigint;
BEGIN
	SELECT c.* INTO v_camp FROM @extschema@.campaigns c WHERE c.campaign_id OPERATOR(pg_catalog.=) p_campaign_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'campaign % does not exist', p_campaign_id USING ERRCODE = 'DP602';
	END IF;
	IF v_camp.kind NOT IN ('first_order', 'limited_time', 'usual', 'goodwill') THEN
		RAISE EXCEPTION 'campaign % (%) gives no coupons', p_campaign_id, v_camp.kind USING ERRCODE = 'DP601';
	END IF;
	IF v_camp.ended_at IS NOT NULL OR v_camp.ends_at OPERATOR(pg_catalog.<=) v_now THEN
		RAISE EXCEPTION 'campaign % has ended', p_campaign_id USING ERRCODE = 'DP604';
	END IF;
	v_code := @extschema@._random_code(pg_catalog.upper(pg_catalog.left(v_camp.kind, 1)));
	INSERT INTO @extschema@.coupons (code, campaign_id, customer_id, merchant_id, max_uses, valid_until, created_at)
	VALUES (v_code, p_campaign_id, p_customer_id, p_merchant_id, 1,
	        COALESCE(p_valid_until,
	                 v_now OPERATOR(pg_catalog.+) pg_catalog.make_interval(
	                     days => COALESCE((v_camp.rules OPERATOR(pg_catalog.->>) 'valid_days')::integer, 30))),
	        v_now);
	-- its one use, in the zone it is for: its merchant's, or the one given
	-- (none: zone 0, and the first order redeeming it moves the use there)
	SELECT m.zone_id INTO v_zone FROM @extschema@.merchants m WHERE m.merchant_id OPERATOR(pg_catalog.=) p_merchant_id;
	INSERT INTO @extschema@.coupon_uses (zone_id, code, cap)
	VALUES (COALESCE(v_zone, p_zone_id, 0), v_code, 1);
	RETURN v_code;
END
$$;
COMMENT ON FUNCTION @extschema@._issue_coupon(bigint, bigint, bigint, timestamptz, bigint) IS
	'Internal: a personal one-use code of a campaign, optionally for one merchant, valid until p_valid_until (default: the campaign''s valid_days, else 30 days); its use is held in the merchant''s zone, else p_zone_id''s (coupon_uses).';
REVOKE ALL ON FUNCTION @extschema@._issue_coupon(bigint, bigint, bigint, timestamptz, bigint) FROM PUBLIC;

-- _points_grant (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._points_grant(p_zone_id bigint, p_customer_id bigint, p_points integer, p_reason text,
                                         p_ref text, p_campaign_id bigint DEFAULT NULL,
                                         p_expires_at timestamptz DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_expires timestamptz := p_expires_at;
	v_camp @extschema@.campaigns;
	v_id bigint;
BEGIN
	IF p_points IS NULL OR p_points OPERATOR(pg_catalog.<) 1 THEN
		RETURN false;
	END IF;
	-- nothing for an erased customer (a review, a survey answer, goodwill or
	-- a reward that comes after the erasure): they can never spend it
	IF EXISTS (SELECT FROM @extschema@.customers c
	            WHERE c.customer_id OPERATOR(pg_catalog.=) p_customer_id
	              AND c.forgotten_at IS NOT NULL) THEN
		RETURN false;
	END IF;
	IF v_expires IS NULL THEN
		-- the zone's own points campaign before a city-wide one, as the
		-- points it credits are chosen (_feedback_points, answer_survey)
		v_camp := @extschema@._active_campaign('points', p_zone_id, v_now);
		v_expires := v_now OPERATOR(pg_catalog.+) pg_catalog.make_interval(
			days => COALESCE((v_camp.rules OPERATOR(pg_catalog.->>) 'expire_days')::integer, 365));
	END IF;
	-- an id of the zone from this node's sequence, as the other zone tables'
	v_id := @extschema@.zone_scoped_id(p_zone_id, pg_catalog.nextval('@extschema@.points_ledger_entry_id_seq'));
	INSERT INTO @extschema@.points_ledger (zone_id, entry_id, customer_id, at, points, remaining, expires_at, reason, ref, campaign_id)
	VALUES (p_zone_id, v_id, p_customer_id, v_now, p_points, p_points, v_expires, p_reason, p_ref, p_campaign_id)
	ON CONFLICT (customer_id, reason, ref, zone_id) DO NOTHING;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION @extschema@._points_grant(bigint, bigint, integer, text, text, bigint, timestamptz) IS
	'Internal: credits a lot of points in a zone (that of what earned it; reason delivery, feedback, goodwill, referral or survey; ref names what earned it) expiring after the expire_days of the points campaign running in the zone (its own before a city-wide one; default 365); a repeat of (zone, customer, reason, ref), or a credit for an erased customer, writes nothing and returns false.';
REVOKE ALL ON FUNCTION @extschema@._points_grant(bigint, bigint, integer, text, text, bigint, timestamptz) FROM PUBLIC;

-- _feedback_points (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._feedback_points(p_customer_id bigint, p_zone_id bigint, p_ref text) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_camp @extschema@.campaigns := @extschema@._active_campaign('points', p_zone_id, @extschema@.clock());
	v_points integer := COALESCE((v_camp.rules OPERATOR(pg_catalog.->>) 'feedback_points')::integer, 0);
BEGIN
	IF v_points OPERATOR(pg_catalog.>) 0
	   AND @extschema@._points_grant(p_zone_id, p_customer_id, v_points, 'feedback', p_ref, v_camp.campaign_id) THEN
		RETURN v_points;
	END IF;
	RETURN 0;
END
$$;
COMMENT ON FUNCTION @extschema@._feedback_points(bigint, bigint, text) IS
	'Internal: credits the points the running points campaign gives for a review (feedback_points), once per ref; returns them (0: none).';
REVOKE ALL ON FUNCTION @extschema@._feedback_points(bigint, bigint, text) FROM PUBLIC;

-- points_balance (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@.points_balance(customer_id bigint) RETURNS integer
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
BEGIN
	RETURN (SELECT COALESCE(pg_catalog.sum(l.remaining), 0)::integer
	          FROM @extschema@.points_ledger l
	         WHERE l.customer_id OPERATOR(pg_catalog.=) points_balance.customer_id
	           AND l.remaining OPERATOR(pg_catalog.>) 0
	           AND (l.expires_at IS NULL OR l.expires_at OPERATOR(pg_catalog.>) v_now));
END
$$;
COMMENT ON FUNCTION @extschema@.points_balance(bigint) IS
	'The customer''s points that can be spent now: earned, not spent, not expired.';
REVOKE ALL ON FUNCTION @extschema@.points_balance(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.points_balance(bigint) TO dispatch_app, dispatch_admin;

-- _points_earned (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._points_earned(p_customer_id bigint, p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT COALESCE(pg_catalog.sum(l.points), 0)::bigint
	          FROM @extschema@.points_ledger l
	         WHERE l.customer_id OPERATOR(pg_catalog.=) p_customer_id
	           AND l.reason IN ('delivery', 'feedback', 'goodwill', 'referral', 'survey')
	           AND l.at OPERATOR(pg_catalog.>) (p_now OPERATOR(pg_catalog.-) interval '365 days'));
END
$$;
COMMENT ON FUNCTION @extschema@._points_earned(bigint, timestamptz) IS
	'Internal: the points a customer earned (deliveries, feedback, goodwill, referrals, surveys) over the 365 days before p_now, by which a tier is reached.';
REVOKE ALL ON FUNCTION @extschema@._points_earned(bigint, timestamptz) FROM PUBLIC;

-- _tier_reached (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._tier_reached(p_rules jsonb, p_earned bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT t.v
	  FROM pg_catalog.jsonb_array_elements(
	           CASE WHEN pg_catalog.jsonb_typeof(p_rules OPERATOR(pg_catalog.->) 'tiers') OPERATOR(pg_catalog.=) 'array'
	                THEN p_rules OPERATOR(pg_catalog.->) 'tiers' END) WITH ORDINALITY t(v, n)
	 WHERE (t.v OPERATOR(pg_catalog.->>) 'min_points')::bigint OPERATOR(pg_catalog.<=) p_earned
	 ORDER BY (t.v OPERATOR(pg_catalog.->>) 'min_points')::bigint DESC, t.n
	 LIMIT 1;
END;
COMMENT ON FUNCTION @extschema@._tier_reached(jsonb, bigint) IS
	'Internal: the tier of a points campaign''s rules (an element of rules.tiers) reached with p_earned points: the highest min_points reached, of equal ones the first given; NULL below every tier.';
REVOKE ALL ON FUNCTION @extschema@._tier_reached(jsonb, bigint) FROM PUBLIC;

-- customer_tier (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@.customer_tier(customer_id bigint) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
BEGIN
	RETURN COALESCE(@extschema@._tier_reached((@extschema@._active_campaign('points', NULL, v_now)).rules,
	                                          @extschema@._points_earned(customer_tier.customer_id, v_now))
	                OPERATOR(pg_catalog.->>) 'name',
	                'member');
END
$$;
COMMENT ON FUNCTION @extschema@.customer_tier(bigint) IS
	'The customer''s tier: the highest tier of the city-wide points campaign whose min_points the points earned over the last 365 days reach; ''member'' below every tier.';
REVOKE ALL ON FUNCTION @extschema@.customer_tier(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.customer_tier(bigint) TO dispatch_app, dispatch_admin;

-- _tier_multiplier (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._tier_multiplier(p_customer_id bigint, p_rules jsonb) RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT COALESCE(pg_catalog.jsonb_typeof(p_rules OPERATOR(pg_catalog.->) 'tiers') OPERATOR(pg_catalog.=) 'array', false) THEN
		RETURN 1;                       -- no tiers: the base rate, nothing to read
	END IF;
	RETURN COALESCE((@extschema@._tier_reached(p_rules, @extschema@._points_earned(p_customer_id, @extschema@.clock()))
	                 OPERATOR(pg_catalog.->>) 'multiplier')::numeric,
	                1);
END
$$;
COMMENT ON FUNCTION @extschema@._tier_multiplier(bigint, jsonb) IS
	'Internal: how many times the base rate a customer earns under a points campaign''s rules: the multiplier of the tier of those rules the customer reaches by the points earned over the last 365 days (1 below every tier, without tiers, or for a tier without a multiplier).';
REVOKE ALL ON FUNCTION @extschema@._tier_multiplier(bigint, jsonb) FROM PUBLIC;

-- _offer_refusal (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._offer_refusal(p_camp @extschema@.campaigns, p_customer_id bigint, p_zone_id bigint,
                                          p_merchant_id bigint, p_subtotal bigint, p_now timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_min bigint := (p_camp.rules OPERATOR(pg_catalog.->>) 'min_basket_cents')::bigint;
BEGIN
	IF p_camp.zone_id IS NOT NULL AND p_camp.zone_id OPERATOR(pg_catalog.<>) p_zone_id THEN
		RETURN pg_catalog.format('the campaign is for zone %s only', p_camp.zone_id);
	END IF;
	IF p_subtotal OPERATOR(pg_catalog.<) v_min THEN
		RETURN pg_catalog.format('the basket of %s cents is below the minimum of %s cents', p_subtotal, v_min);
	END IF;
	IF p_camp.kind OPERATOR(pg_catalog.=) 'first_order' AND @extschema@._has_ordered(p_customer_id) THEN
		RETURN 'it is for a customer''s first order, and the customer has ordered before';
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@._offer_refusal(@extschema@.campaigns, bigint, bigint, bigint, bigint, timestamptz) IS
	'Internal: why a discount campaign does not apply to an order (zone, minimum basket, first order), or NULL.';
REVOKE ALL ON FUNCTION @extschema@._offer_refusal(@extschema@.campaigns, bigint, bigint, bigint, bigint, timestamptz) FROM PUBLIC;

-- _other_zones (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._other_zones(p_zone_id bigint, p_pool boolean) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_pool THEN
		RETURN NEXT 0::bigint;
	END IF;
	RETURN QUERY SELECT z.zone_id FROM @extschema@.zones z
	              WHERE z.zone_id OPERATOR(pg_catalog.<>) p_zone_id ORDER BY z.zone_id;
END
$$;
COMMENT ON FUNCTION @extschema@._other_zones(bigint, boolean) IS
	'Internal: the zones other than p_zone_id in zone order, after the pool (zone 0) when p_pool: where an order looks for the budget room, code use or points its zone lacks.';
REVOKE ALL ON FUNCTION @extschema@._other_zones(bigint, boolean) FROM PUBLIC;

-- _budget_take (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._budget_take(p_campaign_id bigint, p_budget_cents bigint, p_cents bigint, p_zone_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_room bigint := 0;
	v_left bigint;
	v_take bigint;
	v_moved bigint := 0;
	v_zone bigint;
	v_slot integer;
	v_zones bigint[] := '{}';
	v_slots smallint[] := '{}';
	v_rooms bigint[] := '{}';
	r record;
BEGIN
	IF p_budget_cents IS NULL OR p_cents OPERATOR(pg_catalog.<=) 0 THEN
		RETURN true;                    -- no budget: nothing to charge
	END IF;
	-- a slot of the zone with room that nobody holds, starting from this backend's
	UPDATE @extschema@.campaign_budget b SET spent_cents = b.spent_cents OPERATOR(pg_catalog.+) p_cents
	 WHERE b.zone_id OPERATOR(pg_catalog.=) p_zone_id
	   AND b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
	   AND b.slot OPERATOR(pg_catalog.=) (
	       SELECT f.slot FROM @extschema@.campaign_budget f
	        WHERE f.zone_id OPERATOR(pg_catalog.=) p_zone_id
	          AND f.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
	          AND f.spent_cents OPERATOR(pg_catalog.+) p_cents OPERATOR(pg_catalog.<=) f.cap_cents
	        ORDER BY (f.slot OPERATOR(pg_catalog.+) pg_catalog.pg_backend_pid()) OPERATOR(pg_catalog.%) 16
	        LIMIT 1 FOR UPDATE SKIP LOCKED)
	   AND b.spent_cents OPERATOR(pg_catalog.+) p_cents OPERATOR(pg_catalog.<=) b.cap_cents;
	IF FOUND THEN
		RETURN true;
	END IF;
	-- no free slot covers it: every slot of the zone, locked in slot order
	-- (an order racing for the zone's last cents waits for this one), in a
	-- block of its own: when the room is short the block is undone, and
	-- with it every lock it took, so that an order that goes without the
	-- offer holds none of the campaign's slots (holding them, two orders
	-- trying two campaigns in opposite orders would wait for each other)
	BEGIN
		FOR r IN SELECT b.slot, b.cap_cents OPERATOR(pg_catalog.-) b.spent_cents AS room
		           FROM @extschema@.campaign_budget b
		          WHERE b.zone_id OPERATOR(pg_catalog.=) p_zone_id AND b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
		          ORDER BY b.slot FOR UPDATE
		LOOP
			IF r.room OPERATOR(pg_catalog.>) 0 AND v_room OPERATOR(pg_catalog.<) p_cents THEN
				v_zones := v_zones OPERATOR(pg_catalog.||) p_zone_id;
				v_slots := v_slots OPERATOR(pg_catalog.||) r.slot;
				v_rooms := v_rooms OPERATOR(pg_catalog.||) r.room;
				v_room := v_room OPERATOR(pg_catalog.+) r.room;
			END IF;
		END LOOP;
		-- short: the other zones' slots (the pool first) that no transaction
		-- holds, zone by zone (one shard at a time on Citus), one slot at a
		-- time so that no slot is held that is not used; an order never waits
		-- for another zone's, so that two orders of two zones short at once
		-- cannot wait for each other.  Nothing of another zone is locked when
		-- all of them together lack the room.
		IF v_room OPERATOR(pg_catalog.<) p_cents THEN
			SELECT v_room OPERATOR(pg_catalog.+) COALESCE(pg_catalog.sum(b.cap_cents OPERATOR(pg_catalog.-) b.spent_cents), 0)
			  INTO v_left
			  FROM @extschema@.campaign_budget b
			 WHERE b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
			   AND b.zone_id OPERATOR(pg_catalog.<>) p_zone_id;
			IF v_left OPERATOR(pg_catalog.<) p_cents THEN
				RAISE EXCEPTION 'the budget of campaign % is short', p_campaign_id USING ERRCODE = 'DP606';
			END IF;
			FOR v_zone IN SELECT @extschema@._other_zones(p_zone_id, true) LOOP
				v_slot := -1;
				LOOP
					SELECT b.slot, b.cap_cents OPERATOR(pg_catalog.-) b.spent_cents AS room INTO r
					  FROM @extschema@.campaign_budget b
					 WHERE b.zone_id OPERATOR(pg_catalog.=) v_zone AND b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
					   AND b.slot OPERATOR(pg_catalog.>) v_slot
					   AND b.spent_cents OPERATOR(pg_catalog.<) b.cap_cents
					 ORDER BY b.slot LIMIT 1 FOR UPDATE SKIP LOCKED;
					EXIT WHEN NOT FOUND;
					v_slot := r.slot;
					v_zones := v_zones OPERATOR(pg_catalog.||) v_zone;
					v_slots := v_slots OPERATOR(pg_catalog.||) r.slot;
					v_rooms := v_rooms OPERATOR(pg_catalog.||) r.room;
					v_room := v_room OPERATOR(pg_catalog.+) r.room;
					EXIT WHEN v_room OPERATOR(pg_catalog.>=) p_cents;
				END LOOP;
				EXIT WHEN v_room OPERATOR(pg_catalog.>=) p_cents;
			END LOOP;
		END IF;
		IF v_room OPERATOR(pg_catalog.<) p_cents THEN
			RAISE EXCEPTION 'the budget of campaign % is short', p_campaign_id USING ERRCODE = 'DP606';
		END IF;
		v_left := p_cents;
		FOR i IN 1 .. pg_catalog.cardinality(v_slots) LOOP
			v_take := LEAST(v_left, v_rooms[i]);
			IF v_zones[i] OPERATOR(pg_catalog.=) p_zone_id THEN
				UPDATE @extschema@.campaign_budget b SET spent_cents = b.spent_cents OPERATOR(pg_catalog.+) v_take
				 WHERE b.zone_id OPERATOR(pg_catalog.=) p_zone_id AND b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
				   AND b.slot OPERATOR(pg_catalog.=) v_slots[i];
			ELSE
				-- room of another zone moves to this one, and is spent here
				UPDATE @extschema@.campaign_budget b SET cap_cents = b.cap_cents OPERATOR(pg_catalog.-) v_take
				 WHERE b.zone_id OPERATOR(pg_catalog.=) v_zones[i] AND b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
				   AND b.slot OPERATOR(pg_catalog.=) v_slots[i];
				v_moved := v_moved OPERATOR(pg_catalog.+) v_take;
			END IF;
			v_left := v_left OPERATOR(pg_catalog.-) v_take;
		END LOOP;
		-- so that what an order spent lies in its zone, where a cancellation
		-- gives it back
		IF v_moved OPERATOR(pg_catalog.>) 0 THEN
			INSERT INTO @extschema@.campaign_budget AS b (zone_id, campaign_id, slot, cap_cents, spent_cents)
			VALUES (p_zone_id, p_campaign_id, 0, v_moved, v_moved)
			ON CONFLICT (zone_id, campaign_id, slot) DO UPDATE
			   SET cap_cents = b.cap_cents OPERATOR(pg_catalog.+) excluded.cap_cents,
			       spent_cents = b.spent_cents OPERATOR(pg_catalog.+) excluded.spent_cents;
		END IF;
	EXCEPTION WHEN SQLSTATE 'DP606' THEN
		RETURN false;
	END;
	RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@._budget_take(bigint, bigint, bigint, bigint) IS
	'Internal: charges an amount to a campaign''s budget (p_budget_cents: the campaign''s, NULL for none) in a zone, true when it fits.  In the common case one slot of the zone with room that no other transaction holds (SKIP LOCKED); when none is free, every slot of the zone, locked in slot order, so that two orders racing for the last of a zone''s budget cannot both get it; when the zone''s room is short and the other zones hold enough, the rest from the pool''s and other zones'' slots that no transaction holds, one at a time, moved to the zone''s slot 0 and spent there (what an order spent lies in its zone).  False when the room is short, with the locks taken to find that out given back (the block that took them is undone), so that an offer not taken holds none of the campaign''s slots.';
REVOKE ALL ON FUNCTION @extschema@._budget_take(bigint, bigint, bigint, bigint) FROM PUBLIC;

-- _budget_give (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._budget_give(p_campaign_id bigint, p_cents bigint, p_zone_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_left bigint := p_cents;
	v_give bigint;
	r record;
BEGIN
	-- what an order spent lies in its zone's slots (_budget_take)
	FOR r IN SELECT b.slot, b.spent_cents FROM @extschema@.campaign_budget b
	          WHERE b.zone_id OPERATOR(pg_catalog.=) p_zone_id AND b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
	            AND b.spent_cents OPERATOR(pg_catalog.>) 0
	          ORDER BY b.slot FOR UPDATE
	LOOP
		EXIT WHEN v_left OPERATOR(pg_catalog.<=) 0;
		v_give := LEAST(r.spent_cents, v_left);
		UPDATE @extschema@.campaign_budget b SET spent_cents = b.spent_cents OPERATOR(pg_catalog.-) v_give
		 WHERE b.zone_id OPERATOR(pg_catalog.=) p_zone_id AND b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
		   AND b.slot OPERATOR(pg_catalog.=) r.slot;
		v_left := v_left OPERATOR(pg_catalog.-) v_give;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._budget_give(bigint, bigint, bigint) IS
	'Internal: gives an amount back to a campaign''s budget (a cancelled order''s discount) in the order''s zone, where it was spent: to the zone''s slots in slot order, under their row locks.';
REVOKE ALL ON FUNCTION @extschema@._budget_give(bigint, bigint, bigint) FROM PUBLIC;

-- _budget_balance (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._budget_balance(p_campaign_id bigint, p_now timestamptz) RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zones bigint[];
	v_weights bigint[];
	v_rooms bigint[];
	v_room bigint := 0;
	v_weight bigint;
	v_target bigint;
	v_given bigint := 0;
	v_placed bigint := 0;
	v_n bigint;
	v_move boolean := false;
	v_zone bigint;
	v_i integer;
	v_lz bigint[] := '{}';          -- the slots locked: zone, slot
	v_ls smallint[] := '{}';
	v_zs smallint[];
	v_s record;
BEGIN
	-- each zone's weight: 1 + the orders that took the campaign there over
	-- the last hour (one statement over every zone's redemptions)
	SELECT pg_catalog.array_agg(z.zone_id ORDER BY z.zone_id),
	       pg_catalog.array_agg(1 OPERATOR(pg_catalog.+) COALESCE(t.n, 0) ORDER BY z.zone_id),
	       pg_catalog.sum(1 OPERATOR(pg_catalog.+) COALESCE(t.n, 0))
	  INTO v_zones, v_weights, v_weight
	  FROM @extschema@.zones z
	  LEFT JOIN (SELECT r.zone_id, pg_catalog.count(*) AS n FROM @extschema@.redemptions r
	              WHERE r.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
	                AND r.status OPERATOR(pg_catalog.=) 'applied'
	                AND r.created_at OPERATOR(pg_catalog.>) (p_now OPERATOR(pg_catalog.-) interval '1 hour')
	              GROUP BY r.zone_id) t ON t.zone_id OPERATOR(pg_catalog.=) z.zone_id;
	IF v_zones IS NULL THEN
		RETURN false;                   -- no zone yet: the room stays in the pool
	END IF;
	PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._lock_key('budgets')::integer,
	                                         (p_campaign_id OPERATOR(pg_catalog.%) 2147483647)::integer);
	-- whether to move: each zone's room as committed (-1: no slots)
	v_rooms := pg_catalog.array_fill(-1::bigint, ARRAY[pg_catalog.cardinality(v_zones)]);
	FOR v_s IN SELECT b.zone_id, pg_catalog.sum(b.cap_cents OPERATOR(pg_catalog.-) b.spent_cents) AS room
	           FROM @extschema@.campaign_budget b
	          WHERE b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
	          GROUP BY b.zone_id
	LOOP
		v_room := v_room OPERATOR(pg_catalog.+) v_s.room;
		v_i := pg_catalog.array_position(v_zones, v_s.zone_id);
		IF v_i IS NOT NULL THEN
			v_rooms[v_i] := v_s.room;
		ELSIF v_s.room OPERATOR(pg_catalog.>) 0 THEN
			v_move := true;             -- room in the pool or a zone removed
		END IF;
	END LOOP;
	FOR i IN 1 .. pg_catalog.cardinality(v_zones) LOOP
		v_target := v_room OPERATOR(pg_catalog.*) v_weights[i] OPERATOR(pg_catalog./) v_weight;
		IF v_rooms[i] OPERATOR(pg_catalog.<) 0 OR v_rooms[i] OPERATOR(pg_catalog.*) 2 OPERATOR(pg_catalog.<) v_target THEN
			v_move := true;             -- no slots yet, or less than half its share
		END IF;
	END LOOP;
	IF NOT v_move THEN
		RETURN false;
	END IF;
	-- the slots that no transaction holds, zone by zone (one shard at a
	-- time on Citus): each keeps what it spent, and its room is dealt out
	-- again
	v_room := 0;
	FOR v_zone IN SELECT DISTINCT b.zone_id FROM @extschema@.campaign_budget b
	               WHERE b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
	               ORDER BY b.zone_id
	LOOP
		v_zs := '{}';
		FOR v_s IN SELECT b.slot, b.cap_cents OPERATOR(pg_catalog.-) b.spent_cents AS room
		           FROM @extschema@.campaign_budget b
		          WHERE b.zone_id OPERATOR(pg_catalog.=) v_zone AND b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
		          ORDER BY b.slot FOR UPDATE SKIP LOCKED
		LOOP
			v_zs := v_zs OPERATOR(pg_catalog.||) v_s.slot;
			v_room := v_room OPERATOR(pg_catalog.+) v_s.room;
		END LOOP;
		IF pg_catalog.cardinality(v_zs) OPERATOR(pg_catalog.>) 0 THEN
			UPDATE @extschema@.campaign_budget b SET cap_cents = b.spent_cents
			 WHERE b.zone_id OPERATOR(pg_catalog.=) v_zone AND b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
			   AND b.slot OPERATOR(pg_catalog.=) ANY (v_zs);
			v_lz := v_lz OPERATOR(pg_catalog.||) pg_catalog.array_fill(v_zone, ARRAY[pg_catalog.cardinality(v_zs)]);
			v_ls := v_ls OPERATOR(pg_catalog.||) v_zs;
		END IF;
	END LOOP;
	IF v_room OPERATOR(pg_catalog.<=) 0 THEN
		RETURN false;                   -- no room free to move
	END IF;
	-- each zone's share goes to its slots taken above, spread evenly, or to
	-- new slots for a zone that had none; what cannot be placed (a zone
	-- whose slots are all held, slots created meanwhile) stays with the
	-- first slot taken, for the next run
	FOR i IN 1 .. pg_catalog.cardinality(v_zones) LOOP
		v_target := CASE WHEN i OPERATOR(pg_catalog.=) pg_catalog.cardinality(v_zones)
		                 THEN v_room OPERATOR(pg_catalog.-) v_given
		                 ELSE v_room OPERATOR(pg_catalog.*) v_weights[i] OPERATOR(pg_catalog./) v_weight END;
		v_given := v_given OPERATOR(pg_catalog.+) v_target;
		v_zone := v_zones[i];
		SELECT pg_catalog.array_agg(u.s ORDER BY u.s) INTO v_zs
		  FROM ROWS FROM (pg_catalog.unnest(v_lz), pg_catalog.unnest(v_ls)) u(z, s) WHERE u.z OPERATOR(pg_catalog.=) v_zone;
		IF v_zs IS NOT NULL THEN
			v_n := pg_catalog.cardinality(v_zs);
			UPDATE @extschema@.campaign_budget b
			   SET cap_cents = b.spent_cents OPERATOR(pg_catalog.+) (v_target OPERATOR(pg_catalog./) v_n)
			       OPERATOR(pg_catalog.+) CASE WHEN b.slot OPERATOR(pg_catalog.=) v_zs[1]
			                                   THEN v_target OPERATOR(pg_catalog.%) v_n ELSE 0 END
			 WHERE b.zone_id OPERATOR(pg_catalog.=) v_zone AND b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
			   AND b.slot OPERATOR(pg_catalog.=) ANY (v_zs);
			v_placed := v_placed OPERATOR(pg_catalog.+) v_target;
		ELSIF v_rooms[i] OPERATOR(pg_catalog.<) 0 THEN
			-- slot by slot: one an order created meanwhile keeps its own
			FOR k IN 0 .. 15 LOOP
				v_n := v_target OPERATOR(pg_catalog./) 16
				       OPERATOR(pg_catalog.+) CASE WHEN k OPERATOR(pg_catalog.=) 0 THEN v_target OPERATOR(pg_catalog.%) 16 ELSE 0 END;
				INSERT INTO @extschema@.campaign_budget (zone_id, campaign_id, slot, cap_cents, spent_cents)
				VALUES (v_zone, p_campaign_id, k, v_n, 0)
				ON CONFLICT (zone_id, campaign_id, slot) DO NOTHING;
				GET DIAGNOSTICS v_i = ROW_COUNT;
				IF v_i OPERATOR(pg_catalog.=) 1 THEN
					v_placed := v_placed OPERATOR(pg_catalog.+) v_n;
				END IF;
			END LOOP;
		END IF;
	END LOOP;
	IF v_placed OPERATOR(pg_catalog.<) v_room THEN
		UPDATE @extschema@.campaign_budget b
		   SET cap_cents = b.cap_cents OPERATOR(pg_catalog.+) (v_room OPERATOR(pg_catalog.-) v_placed)
		 WHERE b.zone_id OPERATOR(pg_catalog.=) v_lz[1] AND b.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
		   AND b.slot OPERATOR(pg_catalog.=) v_ls[1];
	END IF;
	RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@._budget_balance(bigint, timestamptz) IS
	'Internal (create_campaign, balance_budgets): deals the room of a campaign''s budget out to the zones in 16 slots each, in proportion to one plus the orders that took it in the zone over the last hour, when the pool or a removed zone holds room, a zone has no slots or holds less than half its share; decided without a lock, then only the slots no transaction holds are taken (SKIP LOCKED, zone by zone): an order''s slot keeps its room until the next run.  One run a campaign at a time (advisory lock ''budgets'').  Returns whether it moved room.';
REVOKE ALL ON FUNCTION @extschema@._budget_balance(bigint, timestamptz) FROM PUBLIC;

-- balance_budgets (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@.balance_budgets() RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_moved integer := 0;
	v_id bigint;
BEGIN
	FOR v_id IN SELECT c.campaign_id FROM @extschema@.campaigns c
	             WHERE c.budget_cents IS NOT NULL AND c.zone_id IS NULL
	               AND c.ended_at IS NULL AND (c.ends_at IS NULL OR c.ends_at OPERATOR(pg_catalog.>) v_now)
	             ORDER BY c.campaign_id
	LOOP
		IF @extschema@._budget_balance(v_id, v_now) THEN
			v_moved := v_moved OPERATOR(pg_catalog.+) 1;
		END IF;
	END LOOP;
	RETURN v_moved;
END
$$;
COMMENT ON FUNCTION @extschema@.balance_budgets() IS
	'Moves the room of the running city-wide campaigns'' budgets to the zones that take them (in proportion to one plus each zone''s orders with the campaign over the last hour), where a zone holds less than half its share, has none yet, or room lies in the pool; run each minute by the dispatch-budgets job.  Returns the campaigns whose room moved.';
REVOKE ALL ON FUNCTION @extschema@.balance_budgets() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.balance_budgets() TO dispatch_admin;

-- campaign_budget_left (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@.campaign_budget_left(campaign_id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- PL/pgSQL for Citus, as points_balance: the slots lie in every zone
	RETURN (SELECT pg_catalog.sum(b.cap_cents OPERATOR(pg_catalog.-) b.spent_cents)::bigint
	          FROM @extschema@.campaign_budget b
	         WHERE b.campaign_id OPERATOR(pg_catalog.=) campaign_budget_left.campaign_id);
END
$$;
COMMENT ON FUNCTION @extschema@.campaign_budget_left(bigint) IS
	'What is left of a campaign''s budget in cents now (NULL: the campaign has no budget).';
REVOKE ALL ON FUNCTION @extschema@.campaign_budget_left(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.campaign_budget_left(bigint) TO dispatch_app, dispatch_analyst, dispatch_admin;

-- _campaign_uses (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._campaign_uses(p_campaign_id bigint, p_customer_id bigint) RETURNS bigint
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_campaign_uses';
COMMENT ON FUNCTION @extschema@._campaign_uses(bigint, bigint) IS
	'Internal: the discounts of a campaign the customer''s orders hold (redemptions applied), as committed by now: in a repeatable read or serializable transaction, read with the latest snapshot (the cap''s check runs after the customer''s locks, and the transaction''s snapshot would miss an order committed meanwhile).';
REVOKE ALL ON FUNCTION @extschema@._campaign_uses(bigint, bigint) FROM PUBLIC;

-- _lock_offers (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._lock_offers(p_customer_id bigint, p_zone_id bigint) RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_lock_offers_sql';
COMMENT ON FUNCTION @extschema@._lock_offers(bigint, bigint) IS
	'Internal: the customer''s offers lock (advisory, exclusive, to the end of the transaction) for an order in zone p_zone_id that takes an offer capped per customer: on Citus, once the tables are distributed, first on every node that holds zones (in group order, through statements routed there, the order''s own zone for its node), then on the node that runs the call; p_zone_id NULL: on this node only.';
REVOKE ALL ON FUNCTION @extschema@._lock_offers(bigint, bigint) FROM PUBLIC;

-- _offer_cap_check (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._offer_cap_check(p_camp @extschema@.campaigns, p_customer_id bigint, p_zone_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_cap integer := COALESCE((p_camp.rules OPERATOR(pg_catalog.->>) 'per_customer')::integer,
	                          CASE WHEN p_camp.kind OPERATOR(pg_catalog.=) 'first_order' THEN 1 END);
	v_used bigint;
BEGIN
	IF v_cap IS NULL THEN
		RETURN;
	END IF;
	-- two orders of one customer count each other's uses: the customer's
	-- offers lock (advisory, not the customer's row: on Citus a row lock of
	-- customers, a reference table, is taken on every node, each holding the
	-- table's shard exclusively until the order commits); on Citus on every
	-- node that holds zones, where the uses lie, so that orders in zones of
	-- two workers take turns too
	PERFORM @extschema@._lock_offers(p_customer_id, p_zone_id);
	-- counted after the lock: what a racing order committed, also from a
	-- repeatable read or serializable transaction, whose snapshot is older
	v_used := @extschema@._campaign_uses(p_camp.campaign_id, p_customer_id);
	IF v_used OPERATOR(pg_catalog.>=) v_cap THEN
		RAISE EXCEPTION 'coupon not applicable: the customer has used campaign % % time(s), the limit', p_camp.campaign_id, v_used
			USING ERRCODE = 'DP605';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._offer_cap_check(@extschema@.campaigns, bigint, bigint) IS
	'Internal: DP605 when the customer''s orders hold as many discounts of the campaign as its cap allows (per_customer; 1 for first_order; cancelled orders gave theirs back), checked for an order in zone p_zone_id under the customer''s offers lock (_lock_offers: advisory; on Citus on every node that holds zones).';
REVOKE ALL ON FUNCTION @extschema@._offer_cap_check(@extschema@.campaigns, bigint, bigint) FROM PUBLIC;

-- _offer_charge (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._offer_charge(p_camp @extschema@.campaigns, p_customer_id bigint, p_discount integer,
                                         p_zone_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._offer_cap_check(p_camp, p_customer_id, p_zone_id);
	RETURN @extschema@._budget_take(p_camp.campaign_id, p_camp.budget_cents, p_discount, p_zone_id);
END
$$;
COMMENT ON FUNCTION @extschema@._offer_charge(@extschema@.campaigns, bigint, integer, bigint) IS
	'Internal: the customer''s cap (DP605), then the campaign''s budget in the order''s zone (false when it does not cover the discount).';
REVOKE ALL ON FUNCTION @extschema@._offer_charge(@extschema@.campaigns, bigint, integer, bigint) FROM PUBLIC;

-- _points_take (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._points_take(p_customer_id bigint, p_points integer, p_zone_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_left integer := p_points;
	v_lots jsonb := '{}';
	v_lot record;
	v_take integer;
	v_entry_id bigint;
	v_zone bigint;
	v_taken bigint[];
	v_other bigint;
BEGIN
	-- most often the zone's lot that expires first covers it: one statement
	UPDATE @extschema@.points_ledger l SET remaining = l.remaining OPERATOR(pg_catalog.-) p_points
	 WHERE l.zone_id OPERATOR(pg_catalog.=) p_zone_id
	   AND l.entry_id OPERATOR(pg_catalog.=) (
	       SELECT f.entry_id FROM @extschema@.points_ledger f
	        WHERE f.zone_id OPERATOR(pg_catalog.=) p_zone_id
	          AND f.customer_id OPERATOR(pg_catalog.=) p_customer_id
	          AND f.remaining OPERATOR(pg_catalog.>) 0
	          AND (f.expires_at IS NULL OR f.expires_at OPERATOR(pg_catalog.>) v_now)
	        ORDER BY f.expires_at NULLS LAST, f.entry_id
	        LIMIT 1 FOR UPDATE)
	   AND l.remaining OPERATOR(pg_catalog.>=) p_points
	RETURNING l.entry_id INTO v_entry_id;
	IF FOUND THEN
		-- built here, not in RETURNING: Citus refuses a function that is
		-- not immutable there
		RETURN pg_catalog.jsonb_build_object(v_entry_id::text, p_points);
	END IF;
	-- the zone's lots, waited for
	FOR v_lot IN SELECT l.zone_id, l.entry_id, l.remaining FROM @extschema@.points_ledger l
	              WHERE l.zone_id OPERATOR(pg_catalog.=) p_zone_id
	                AND l.customer_id OPERATOR(pg_catalog.=) p_customer_id
	                AND l.remaining OPERATOR(pg_catalog.>) 0
	                AND (l.expires_at IS NULL OR l.expires_at OPERATOR(pg_catalog.>) v_now)
	              ORDER BY l.expires_at NULLS LAST, l.entry_id
	              FOR UPDATE
	LOOP
		EXIT WHEN v_left OPERATOR(pg_catalog.=) 0;
		v_take := LEAST(v_left, v_lot.remaining);
		UPDATE @extschema@.points_ledger l SET remaining = l.remaining OPERATOR(pg_catalog.-) v_take
		 WHERE l.zone_id OPERATOR(pg_catalog.=) v_lot.zone_id AND l.entry_id OPERATOR(pg_catalog.=) v_lot.entry_id;
		v_lots := v_lots OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(v_lot.entry_id::text, v_take);
		v_left := v_left OPERATOR(pg_catalog.-) v_take;
	END LOOP;
	-- short: the other zones' lots that no transaction holds, zone by zone,
	-- one lot at a time, never waited for (two orders of the customer in
	-- two zones cannot wait for each other); none is locked when all of
	-- them together are short
	IF v_left OPERATOR(pg_catalog.>) 0 THEN
		SELECT COALESCE(pg_catalog.sum(l.remaining), 0) INTO v_other FROM @extschema@.points_ledger l
		 WHERE l.customer_id OPERATOR(pg_catalog.=) p_customer_id
		   AND l.zone_id OPERATOR(pg_catalog.<>) p_zone_id
		   AND l.remaining OPERATOR(pg_catalog.>) 0
		   AND (l.expires_at IS NULL OR l.expires_at OPERATOR(pg_catalog.>) v_now);
		IF v_other OPERATOR(pg_catalog.<) v_left THEN
			RAISE EXCEPTION 'not enough points: % asked, % available', p_points,
				p_points OPERATOR(pg_catalog.-) v_left OPERATOR(pg_catalog.+) v_other
				USING ERRCODE = 'DP608';
		END IF;
		FOR v_zone IN SELECT @extschema@._other_zones(p_zone_id, false) LOOP
			v_taken := '{}';
			LOOP
				SELECT l.zone_id, l.entry_id, l.remaining INTO v_lot FROM @extschema@.points_ledger l
				 WHERE l.zone_id OPERATOR(pg_catalog.=) v_zone
				   AND l.customer_id OPERATOR(pg_catalog.=) p_customer_id
				   AND l.remaining OPERATOR(pg_catalog.>) 0
				   AND (l.expires_at IS NULL OR l.expires_at OPERATOR(pg_catalog.>) v_now)
				   AND l.entry_id OPERATOR(pg_catalog.<>) ALL (v_taken)
				 ORDER BY l.expires_at NULLS LAST, l.entry_id
				 LIMIT 1 FOR UPDATE SKIP LOCKED;
				EXIT WHEN NOT FOUND;
				v_taken := v_taken OPERATOR(pg_catalog.||) v_lot.entry_id;
				v_take := LEAST(v_left, v_lot.remaining);
				UPDATE @extschema@.points_ledger l SET remaining = l.remaining OPERATOR(pg_catalog.-) v_take
				 WHERE l.zone_id OPERATOR(pg_catalog.=) v_lot.zone_id AND l.entry_id OPERATOR(pg_catalog.=) v_lot.entry_id;
				v_lots := v_lots OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(v_lot.entry_id::text, v_take);
				v_left := v_left OPERATOR(pg_catalog.-) v_take;
				EXIT WHEN v_left OPERATOR(pg_catalog.=) 0;
			END LOOP;
			EXIT WHEN v_left OPERATOR(pg_catalog.=) 0;
		END LOOP;
	END IF;
	IF v_left OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION 'not enough points: % asked, % available', p_points, p_points OPERATOR(pg_catalog.-) v_left
			USING ERRCODE = 'DP608';
	END IF;
	RETURN v_lots;
END
$$;
COMMENT ON FUNCTION @extschema@._points_take(bigint, integer, bigint) IS
	'Internal: spends a customer''s points for an order in a zone: the zone''s lots first, those that expire first first, under their row locks, then the lots of other zones that no transaction holds, one at a time, when together they cover the rest; returns the lots used, for the order''s redemption; DP608 when there are not enough.';
REVOKE ALL ON FUNCTION @extschema@._points_take(bigint, integer, bigint) FROM PUBLIC;

-- _coupon_use (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._coupon_use(p_code text, p_zone_id bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
BEGIN
	UPDATE @extschema@.coupon_uses u SET used = u.used OPERATOR(pg_catalog.+) 1
	 WHERE u.zone_id OPERATOR(pg_catalog.=) p_zone_id AND u.code OPERATOR(pg_catalog.=) p_code
	   AND u.used OPERATOR(pg_catalog.<) u.cap;
	IF FOUND THEN
		RETURN true;
	END IF;
	FOR v_zone IN SELECT @extschema@._other_zones(p_zone_id, true) LOOP
		UPDATE @extschema@.coupon_uses u SET cap = u.cap OPERATOR(pg_catalog.-) 1
		 WHERE u.zone_id OPERATOR(pg_catalog.=) v_zone AND u.code OPERATOR(pg_catalog.=) p_code
		   AND u.used OPERATOR(pg_catalog.<) u.cap
		   AND u.code OPERATOR(pg_catalog.=) (SELECT f.code FROM @extschema@.coupon_uses f
		                                       WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone
		                                         AND f.code OPERATOR(pg_catalog.=) p_code
		                                         AND f.used OPERATOR(pg_catalog.<) f.cap
		                                       FOR UPDATE SKIP LOCKED);
		IF FOUND THEN
			INSERT INTO @extschema@.coupon_uses AS u (zone_id, code, cap, used)
			VALUES (p_zone_id, p_code, 1, 1)
			ON CONFLICT (zone_id, code) DO UPDATE
			   SET cap = u.cap OPERATOR(pg_catalog.+) 1, used = u.used OPERATOR(pg_catalog.+) 1;
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END
$$;
COMMENT ON FUNCTION @extschema@._coupon_use(text, bigint) IS
	'Internal: takes one use of a code with max_uses for an order in a zone: one of the zone''s (waiting for an order of the zone holding it), else one of another zone that no transaction holds, moved to the zone; false when none is left.';
REVOKE ALL ON FUNCTION @extschema@._coupon_use(text, bigint) FROM PUBLIC;

-- _offer_is_automatic (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._offer_is_automatic(p_kind text, p_rules jsonb, p_campaign_zone bigint,
                                               p_starts_at timestamptz, p_ends_at timestamptz,
                                               p_ended_at timestamptz, p_zone_id bigint, p_now timestamptz)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_kind IN ('first_order', 'limited_time')
   AND (p_rules OPERATOR(pg_catalog.->>) 'auto') OPERATOR(pg_catalog.=) 'true'
   AND (p_campaign_zone IS NULL OR p_campaign_zone OPERATOR(pg_catalog.=) p_zone_id)
   AND p_starts_at OPERATOR(pg_catalog.<=) p_now
   AND (p_ends_at IS NULL OR p_ends_at OPERATOR(pg_catalog.>) p_now)
   AND p_ended_at IS NULL;
COMMENT ON FUNCTION @extschema@._offer_is_automatic(text, jsonb, bigint, timestamptz, timestamptz, timestamptz, bigint, timestamptz) IS
	'Internal: whether a campaign (its kind, rules, zone, start, end and ending) offers without a code (first_order or limited_time with "auto": true) in a zone at a time; _offer_take picks the best such offer that fits.';
REVOKE ALL ON FUNCTION @extschema@._offer_is_automatic(text, jsonb, bigint, timestamptz, timestamptz, timestamptz, bigint, timestamptz) FROM PUBLIC;

-- _offer_take (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._offer_take(p_order_id bigint, p_customer_id bigint, p_zone_id bigint, p_merchant_id bigint,
                                       p_subtotal bigint, p_code text, p_points integer,
                                       OUT campaign_id bigint, OUT coupon_code text, OUT discount_cents integer,
                                       OUT points_spent integer, OUT points_cents integer, OUT points_lots jsonb)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_code text := @extschema@._normalize_code(p_code);
	v_coupon @extschema@.coupons;
	v_camp @extschema@.campaigns;
	v_why text;
	v_discount integer;
	v_pts @extschema@.campaigns;
	v_value integer;
	v_max bigint;
BEGIN
	discount_cents := 0; points_spent := 0; points_cents := 0;
	IF p_points OPERATOR(pg_catalog.<) 0 THEN
		RAISE EXCEPTION 'points to spend cannot be negative' USING ERRCODE = 'DP608';
	END IF;
	IF v_code IS NOT NULL AND v_code OPERATOR(pg_catalog.<>) '' THEN
		SELECT k.* INTO v_coupon FROM @extschema@.coupons k WHERE k.code OPERATOR(pg_catalog.=) v_code;
		IF NOT FOUND OR v_coupon.customer_id OPERATOR(pg_catalog.<>) p_customer_id THEN
			RAISE EXCEPTION 'unknown coupon code "%"', v_code USING ERRCODE = 'DP603';
		END IF;
		SELECT c.* INTO v_camp FROM @extschema@.campaigns c
		 WHERE c.campaign_id OPERATOR(pg_catalog.=) v_coupon.campaign_id;
		IF v_camp.starts_at OPERATOR(pg_catalog.>) v_now THEN
			RAISE EXCEPTION 'coupon "%" is not valid yet: its campaign starts at %', v_code, v_camp.starts_at
				USING ERRCODE = 'DP604';
		END IF;
		IF v_camp.ended_at OPERATOR(pg_catalog.<=) v_now OR v_camp.ends_at OPERATOR(pg_catalog.<=) v_now THEN
			RAISE EXCEPTION 'coupon "%" has expired: its campaign ended at %', v_code,
				LEAST(v_camp.ended_at, v_camp.ends_at) USING ERRCODE = 'DP604';
		END IF;
		IF v_coupon.valid_until OPERATOR(pg_catalog.<=) v_now THEN
			RAISE EXCEPTION 'coupon "%" has expired at %', v_code, v_coupon.valid_until USING ERRCODE = 'DP604';
		END IF;
		IF v_coupon.merchant_id OPERATOR(pg_catalog.<>) p_merchant_id THEN
			RAISE EXCEPTION 'coupon not applicable: "%" is for merchant % only', v_code, v_coupon.merchant_id
				USING ERRCODE = 'DP605';
		END IF;
		v_why := @extschema@._offer_refusal(v_camp, p_customer_id, p_zone_id, p_merchant_id, p_subtotal, v_now);
		IF v_why IS NOT NULL THEN
			RAISE EXCEPTION 'coupon not applicable: %', v_why USING ERRCODE = 'DP605';
		END IF;
		v_discount := @extschema@._discount_cents(v_camp.rules, p_subtotal);
		-- a personal or limited code: one of its uses, under its row lock
		IF v_coupon.max_uses IS NOT NULL THEN
			IF NOT @extschema@._coupon_use(v_code, p_zone_id) THEN
				RAISE EXCEPTION 'coupon "%" has been used already', v_code USING ERRCODE = 'DP607';
			END IF;
		END IF;
		IF NOT @extschema@._offer_charge(v_camp, p_customer_id, v_discount, p_zone_id) THEN
			RAISE EXCEPTION 'coupon "%" cannot be applied: campaign % has spent its budget', v_code, v_camp.campaign_id
				USING ERRCODE = 'DP606';
		END IF;
		campaign_id := v_camp.campaign_id; coupon_code := v_code; discount_cents := v_discount;
	ELSE
		-- no code: the best automatic offer that applies and fits its budget
		FOR v_camp IN SELECT c.* FROM @extschema@.campaigns c
		               WHERE @extschema@._offer_is_automatic(c.kind, c.rules, c.zone_id, c.starts_at, c.ends_at,
		                                                     c.ended_at, p_zone_id, v_now)
		               ORDER BY @extschema@._discount_cents(c.rules, p_subtotal) DESC, c.campaign_id
		LOOP
			CONTINUE WHEN @extschema@._offer_refusal(v_camp, p_customer_id, p_zone_id, p_merchant_id, p_subtotal, v_now) IS NOT NULL;
			v_discount := @extschema@._discount_cents(v_camp.rules, p_subtotal);
			CONTINUE WHEN v_discount OPERATOR(pg_catalog.<=) 0;
			BEGIN
				IF @extschema@._offer_charge(v_camp, p_customer_id, v_discount, p_zone_id) THEN
					campaign_id := v_camp.campaign_id; discount_cents := v_discount;
					EXIT;
				END IF;
			EXCEPTION WHEN SQLSTATE 'DP605' THEN
				-- over the customer's cap: the next offer
			END;
		END LOOP;
	END IF;

	IF p_points OPERATOR(pg_catalog.>) 0 THEN
		v_pts := @extschema@._active_campaign('points', p_zone_id, v_now);
		IF v_pts.campaign_id IS NULL THEN
			RAISE EXCEPTION 'points cannot be spent: no points campaign is running in zone %', p_zone_id
				USING ERRCODE = 'DP608';
		END IF;
		v_value := COALESCE((v_pts.rules OPERATOR(pg_catalog.->>) 'cents_per_point')::integer, 1);
		v_max := pg_catalog.floor((p_subtotal OPERATOR(pg_catalog.-) discount_cents)
		                          OPERATOR(pg_catalog.*) COALESCE((v_pts.rules OPERATOR(pg_catalog.->>) 'max_spend_share')::numeric, 0.5))::bigint;
		IF p_points::bigint OPERATOR(pg_catalog.*) v_value OPERATOR(pg_catalog.>) v_max THEN
			RAISE EXCEPTION 'too many points: % points are worth % cents, more than the % cents this order allows',
				p_points, p_points::bigint OPERATOR(pg_catalog.*) v_value, v_max
				USING ERRCODE = 'DP608',
				      HINT = pg_catalog.format('At most %s points on this order.', v_max OPERATOR(pg_catalog./) v_value);
		END IF;
		points_lots := @extschema@._points_take(p_customer_id, p_points, p_zone_id);
		points_spent := p_points;
		points_cents := (p_points::bigint OPERATOR(pg_catalog.*) v_value)::integer;
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._offer_take(bigint, bigint, bigint, bigint, bigint, text, integer) IS
	'Internal (place_order): takes at most one offer (the coupon''s campaign, or without a code the best automatic one) against its budget and the customer''s cap, and the points asked for; raises DP603 to DP608 naming why a code or the points cannot be used.';
REVOKE ALL ON FUNCTION @extschema@._offer_take(bigint, bigint, bigint, bigint, bigint, text, integer) FROM PUBLIC;

-- _offer_record (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._offer_record(p_zone_id bigint, p_order_id bigint, p_customer_id bigint,
                                         p_campaign_id bigint, p_coupon_code text, p_discount_cents integer,
                                         p_points_spent integer, p_points_cents integer, p_points_lots jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- PL/pgSQL, not SQL: its plan is kept for the session, and checkout calls it
	IF p_campaign_id IS NOT NULL OR p_points_spent OPERATOR(pg_catalog.>) 0 THEN
		INSERT INTO @extschema@.redemptions (zone_id, order_id, customer_id, campaign_id, coupon_code,
		                                     discount_cents, points_spent, points_cents, points_lots, created_at)
		VALUES (p_zone_id, p_order_id, p_customer_id, p_campaign_id, p_coupon_code,
		        p_discount_cents, p_points_spent, p_points_cents, p_points_lots, @extschema@.clock());
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._offer_record(bigint, bigint, bigint, bigint, text, integer, integer, integer, jsonb) IS
	'Internal (place_order): records what the order took (_offer_take), once the order row exists; nothing when it took nothing.';
REVOKE ALL ON FUNCTION @extschema@._offer_record(bigint, bigint, bigint, bigint, text, integer, integer, integer, jsonb) FROM PUBLIC;

-- _offer_return (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._offer_return(p_zone_id bigint, p_order_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_r @extschema@.redemptions;
	v_lot record;
	v_now timestamptz := @extschema@.clock();
BEGIN
	UPDATE @extschema@.redemptions r SET status = 'returned', returned_at = v_now
	 WHERE r.zone_id OPERATOR(pg_catalog.=) p_zone_id AND r.order_id OPERATOR(pg_catalog.=) p_order_id
	   AND r.status OPERATOR(pg_catalog.=) 'applied'
	RETURNING r.* INTO v_r;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	-- in the order in which an order takes them (_offer_take): the code's
	-- use, then the budget's slots, so that a cancellation and an order
	-- redeeming the same code never wait for each other both ways
	IF v_r.coupon_code IS NOT NULL THEN
		-- in the order's zone, where _coupon_use left the use it took
		UPDATE @extschema@.coupon_uses u SET used = u.used OPERATOR(pg_catalog.-) 1
		 WHERE u.zone_id OPERATOR(pg_catalog.=) p_zone_id AND u.code OPERATOR(pg_catalog.=) v_r.coupon_code
		   AND u.used OPERATOR(pg_catalog.>) 0;
	END IF;
	IF v_r.campaign_id IS NOT NULL THEN
		PERFORM @extschema@._budget_give(v_r.campaign_id, v_r.discount_cents, p_zone_id);
	END IF;
	IF v_r.points_spent OPERATOR(pg_catalog.>) 0 THEN
		-- the points go back to the lots they came from (an expired lot stays
		-- expired), each lot in its zone, which its id carries; in the order
		-- in which an order spends a zone's lots (_points_take: those that
		-- expire first first), so that a cancellation and an order of the
		-- customer spending the same lots never wait for each other both ways
		FOR v_lot IN SELECT l.entry_id, (v_r.points_lots OPERATOR(pg_catalog.->>) l.entry_id::text)::integer AS points
		               FROM @extschema@.points_ledger l
		              WHERE l.customer_id OPERATOR(pg_catalog.=) v_r.customer_id
		                AND l.entry_id OPERATOR(pg_catalog.=) ANY
		                    (ARRAY(SELECT k::bigint FROM pg_catalog.jsonb_object_keys(v_r.points_lots) k))
		              ORDER BY l.expires_at NULLS LAST, l.entry_id
		LOOP
			UPDATE @extschema@.points_ledger l SET remaining = l.remaining OPERATOR(pg_catalog.+) v_lot.points
			 WHERE l.zone_id OPERATOR(pg_catalog.=) (v_lot.entry_id OPERATOR(pg_catalog.>>) 40)
			   AND l.entry_id OPERATOR(pg_catalog.=) v_lot.entry_id;
		END LOOP;
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._offer_return(bigint, bigint) IS
	'Internal (cancel_order): gives back what a cancelled order took, in the order _offer_take takes it: the use of its coupon, the discount to its campaign''s budget, the points to their lots.  A no-op when nothing is held.';
REVOKE ALL ON FUNCTION @extschema@._offer_return(bigint, bigint) FROM PUBLIC;

-- _live_customer (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._live_customer(p_customer_id bigint) RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM @extschema@.customers c
	                WHERE c.customer_id OPERATOR(pg_catalog.=) p_customer_id AND c.forgotten_at IS NULL) THEN
		RAISE EXCEPTION 'customer % does not exist', p_customer_id USING ERRCODE = 'DP012';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._live_customer(bigint) IS
	'Internal: DP012 unless the customer exists and is not forgotten.';
REVOKE ALL ON FUNCTION @extschema@._live_customer(bigint) FROM PUBLIC;

-- referral_code (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@.referral_code(customer_id bigint) RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_code text;
BEGIN
	PERFORM @extschema@._live_customer(referral_code.customer_id);
	SELECT r.code INTO v_code FROM @extschema@.referral_codes r
	 WHERE r.customer_id OPERATOR(pg_catalog.=) referral_code.customer_id;
	IF FOUND THEN
		RETURN v_code;
	END IF;
	INSERT INTO @extschema@.referral_codes (customer_id, code, created_at)
	VALUES (referral_code.customer_id, @extschema@._random_code('R'), @extschema@.clock())
	ON CONFLICT ON CONSTRAINT referral_codes_pkey DO NOTHING;
	SELECT r.code INTO v_code FROM @extschema@.referral_codes r
	 WHERE r.customer_id OPERATOR(pg_catalog.=) referral_code.customer_id;
	RETURN v_code;
END
$$;
COMMENT ON FUNCTION @extschema@.referral_code(bigint) IS
	'The customer''s referral code (made at the first call, the same afterwards).';
REVOKE ALL ON FUNCTION @extschema@.referral_code(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.referral_code(bigint) TO dispatch_app, dispatch_admin;

-- apply_referral (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@.apply_referral(customer_id bigint, code text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_referrer bigint;
	v_camp @extschema@.campaigns;
	v_prior @extschema@.referrals;
	v_up bigint;
	v_depth integer := 0;
BEGIN
	PERFORM @extschema@._check_length('coupon_code', apply_referral.code);
	-- one referral at a time, checked and written under the referrals lock
	-- (advisory, of the node, to the end of the transaction): two made at
	-- once would each pass the checks below without the other's row, and
	-- close a ring or refer one customer twice.  The whole graph, not the
	-- two customers: a ring may pass through customers neither call names.
	PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._lock_key('referrals')::integer, 0);
	-- new statements after the lock: they see what a racing call committed
	PERFORM @extschema@._live_customer(apply_referral.customer_id);
	-- the code of an erased customer is no one's (erasure deletes it; a
	-- code left by an erasure from before that is refused all the same)
	SELECT r.customer_id INTO v_referrer FROM @extschema@.referral_codes r
	  JOIN @extschema@.customers c ON c.customer_id OPERATOR(pg_catalog.=) r.customer_id
	 WHERE r.code OPERATOR(pg_catalog.=) @extschema@._normalize_code(apply_referral.code)
	   AND c.forgotten_at IS NULL;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown referral code "%"', code USING ERRCODE = 'DP609';
	END IF;
	-- one referral per referee: the same again is a no-op
	SELECT r.* INTO v_prior FROM @extschema@.referrals r
	 WHERE r.customer_id OPERATOR(pg_catalog.=) apply_referral.customer_id;
	IF FOUND THEN
		IF v_prior.referrer_id OPERATOR(pg_catalog.=) v_referrer THEN
			RETURN;
		END IF;
		RAISE EXCEPTION 'customer % was referred by another customer already', customer_id
			USING ERRCODE = 'DP613';
	END IF;
	IF v_referrer OPERATOR(pg_catalog.=) apply_referral.customer_id THEN
		RAISE EXCEPTION 'a customer cannot refer themselves' USING ERRCODE = 'DP610';
	END IF;
	-- a ring: the referee is somewhere up the referrer's chain
	v_up := v_referrer;
	LOOP
		SELECT r.referrer_id INTO v_up FROM @extschema@.referrals r WHERE r.customer_id OPERATOR(pg_catalog.=) v_up;
		EXIT WHEN NOT FOUND;
		IF v_up OPERATOR(pg_catalog.=) apply_referral.customer_id THEN
			RAISE EXCEPTION 'referral refused: customer % is among those who referred customer %', customer_id, v_referrer
				USING ERRCODE = 'DP611', DETAIL = 'Referrals cannot form a ring.';
		END IF;
		v_depth := v_depth OPERATOR(pg_catalog.+) 1;
		EXIT WHEN v_depth OPERATOR(pg_catalog.>) 1000;
	END LOOP;
	IF @extschema@._has_ordered(apply_referral.customer_id) THEN
		RAISE EXCEPTION 'referral refused: customer % has ordered already', customer_id
			USING ERRCODE = 'DP612', DETAIL = 'A referral code is for a new customer, before their first paid order.';
	END IF;
	v_camp := @extschema@._active_campaign('referral', NULL, v_now);
	IF v_camp.campaign_id IS NULL THEN
		RAISE EXCEPTION 'no referral campaign is running' USING ERRCODE = 'DP609';
	END IF;
	BEGIN
		INSERT INTO @extschema@.referrals (customer_id, referrer_id, campaign_id, applied_at)
		VALUES (apply_referral.customer_id, v_referrer, v_camp.campaign_id, v_now);
	EXCEPTION WHEN unique_violation THEN
		-- a referral of the customer committed after this snapshot (a caller
		-- in REPEATABLE READ does not see past the lock)
		RAISE EXCEPTION 'customer % was referred by another customer already', customer_id
			USING ERRCODE = 'DP613', DETAIL = 'A referral of the customer was made at the same time.';
	END;
END
$$;
COMMENT ON FUNCTION @extschema@.apply_referral(bigint, text) IS
	'A new customer enters a referral code: both are rewarded (points of the referral campaign) when the customer''s first order is delivered.  Refused: unknown code, the code of an erased customer, or no referral campaign (DP609), self-referral (DP610), a ring (DP611), a customer who has ordered (DP612) or was referred by someone else (DP613).  The same code again is a no-op.  One referral at a time (advisory lock ''referrals''), so that two made at once cannot close a ring.';
REVOKE ALL ON FUNCTION @extschema@.apply_referral(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.apply_referral(bigint, text) TO dispatch_app, dispatch_admin;

-- _reward_delivery (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._reward_delivery(p_zone_id bigint, p_order_id bigint) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_o record;
	v_camp @extschema@.campaigns;
	v_ref @extschema@.referrals;
	v_points integer;
	v_referrer_points integer;
	v_referee_points integer;
	v_erased boolean;
	v_cost bigint;
	v_done integer := 0;
	v_tag text := 'order:' OPERATOR(pg_catalog.||) p_order_id;
BEGIN
	SELECT o.customer_id, o.total_cents, o.delivered_at, o.status INTO v_o
	  FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) p_zone_id AND o.order_id OPERATOR(pg_catalog.=) p_order_id;
	IF NOT FOUND OR v_o.status OPERATOR(pg_catalog.<>) 'delivered' THEN
		RETURN 0;
	END IF;
	-- a customer erased since the delivery (this runs up to a minute after
	-- it) earns nothing: no points are written for an erased customer, who
	-- can never spend them, and no budget pays for them
	v_erased := EXISTS (SELECT FROM @extschema@.customers c
	                     WHERE c.customer_id OPERATOR(pg_catalog.=) v_o.customer_id
	                       AND c.forgotten_at IS NOT NULL);
	-- points on what the customer paid, at the rate of the points campaign
	-- running when it was delivered, times their tier's multiplier
	v_camp := @extschema@._active_campaign('points', p_zone_id, v_o.delivered_at);
	IF v_camp.campaign_id IS NOT NULL AND NOT v_erased THEN
		v_points := pg_catalog.floor(v_o.total_cents::numeric OPERATOR(pg_catalog./) 100
		                             OPERATOR(pg_catalog.*) (v_camp.rules OPERATOR(pg_catalog.->>) 'earn_per_yuan')::numeric
		                             OPERATOR(pg_catalog.*) @extschema@._tier_multiplier(v_o.customer_id, v_camp.rules))::integer;
		IF @extschema@._points_grant(p_zone_id, v_o.customer_id, v_points, 'delivery', v_tag, v_camp.campaign_id,
		                              v_o.delivered_at OPERATOR(pg_catalog.+) pg_catalog.make_interval(
		                                  days => COALESCE((v_camp.rules OPERATOR(pg_catalog.->>) 'expire_days')::integer, 365))) THEN
			v_done := v_done OPERATOR(pg_catalog.+) 1;
		END IF;
	END IF;
	-- the referee's first delivered order rewards both sides, once
	SELECT r.* INTO v_ref FROM @extschema@.referrals r
	 WHERE r.customer_id OPERATOR(pg_catalog.=) v_o.customer_id AND r.status OPERATOR(pg_catalog.=) 'pending'
	FOR UPDATE;
	IF FOUND THEN
		SELECT c.* INTO v_camp FROM @extschema@.campaigns c WHERE c.campaign_id OPERATOR(pg_catalog.=) v_ref.campaign_id;
		-- an erased referrer's share, or an erased referee's, is neither
		-- paid nor charged
		v_referrer_points := CASE WHEN EXISTS (SELECT FROM @extschema@.customers c
		                                        WHERE c.customer_id OPERATOR(pg_catalog.=) v_ref.referrer_id
		                                          AND c.forgotten_at IS NULL)
		                          THEN COALESCE((v_camp.rules OPERATOR(pg_catalog.->>) 'referrer_points')::integer, 0)
		                          ELSE 0 END;
		v_referee_points := CASE WHEN v_erased THEN 0
		                         ELSE COALESCE((v_camp.rules OPERATOR(pg_catalog.->>) 'referee_points')::integer, 0) END;
		v_cost := (v_referrer_points::bigint OPERATOR(pg_catalog.+) v_referee_points)
		          OPERATOR(pg_catalog.*) COALESCE((v_camp.rules OPERATOR(pg_catalog.->>) 'cents_per_point')::bigint, 1);
		IF v_camp.ended_at OPERATOR(pg_catalog.<=) v_o.delivered_at
		   OR v_camp.ends_at OPERATOR(pg_catalog.<=) v_o.delivered_at THEN
			v_cost := NULL;      -- ended (or past its end) before the delivery: nothing is paid
		ELSIF NOT @extschema@._budget_take(v_camp.campaign_id, v_camp.budget_cents, v_cost, p_zone_id) THEN
			-- the budget's room is there, but held at this moment by orders in
			-- flight (an order never waits for another zone's slots): the
			-- referral stays pending, for the referee's next delivery
			IF @extschema@.campaign_budget_left(v_camp.campaign_id) OPERATOR(pg_catalog.>=) v_cost THEN
				RETURN v_done;
			END IF;
			v_cost := NULL;
		END IF;
		IF v_cost IS NULL THEN
			UPDATE @extschema@.referrals r SET status = 'budget_exhausted', order_id = p_order_id, settled_at = @extschema@.clock()
			 WHERE r.customer_id OPERATOR(pg_catalog.=) v_ref.customer_id;
		ELSE
			PERFORM @extschema@._points_grant(p_zone_id, v_ref.referrer_id, v_referrer_points,
			                                   'referral', 'referee:' OPERATOR(pg_catalog.||) v_ref.customer_id, v_camp.campaign_id);
			PERFORM @extschema@._points_grant(p_zone_id, v_ref.customer_id, v_referee_points,
			                                   'referral', 'referee:' OPERATOR(pg_catalog.||) v_ref.customer_id, v_camp.campaign_id);
			UPDATE @extschema@.referrals r SET status = 'rewarded', order_id = p_order_id, settled_at = @extschema@.clock()
			 WHERE r.customer_id OPERATOR(pg_catalog.=) v_ref.customer_id;
			v_done := v_done OPERATOR(pg_catalog.+) 1;
		END IF;
	END IF;
	RETURN v_done;
END
$$;
COMMENT ON FUNCTION @extschema@._reward_delivery(bigint, bigint) IS
	'Internal (credit_rewards): the points a delivered order earns, and the referral rewards of a referee''s first delivery; nothing for a customer erased since (an erased referrer''s or referee''s share is neither paid nor charged); idempotent.  Returns the rewards written.';
REVOKE ALL ON FUNCTION @extschema@._reward_delivery(bigint, bigint) FROM PUBLIC;

-- _growth_read (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._growth_read(p_consumer text, p_max integer, p_upto text) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
	v_from bigint;
	v_cap bigint;
	v_batch integer;
	v_n bigint;
	v_zone_n bigint;
	v_cut bigint;
BEGIN
	-- a cursor for every zone (a zone added since the last run starts at
	-- 0), all of this consumer's locked in zone order: a second run at the
	-- same time waits for this one to commit, then reads on from where it
	-- stopped
	INSERT INTO @extschema@.growth_cursors (consumer, zone_id)
	SELECT p_consumer, z.zone_id FROM @extschema@.zones z
	ON CONFLICT DO NOTHING;
	PERFORM FROM @extschema@.growth_cursors g
	  WHERE g.consumer OPERATOR(pg_catalog.=) p_consumer
	  ORDER BY g.zone_id FOR UPDATE;

	-- The events read go to a temporary table made afresh at each call
	-- (rollup_campaigns reads twice in a transaction: its own cursors after
	-- those of credit_rewards).  Never one found there: the callers are
	-- SECURITY DEFINER, and a table the calling role made in its pg_temp
	-- beforehand, with a trigger of its own, would run that trigger as the
	-- owner of the extension.  A table of the caller's session by this name
	-- is dropped.
	DROP TABLE IF EXISTS pg_temp.growth_read;
	CREATE TEMP TABLE pg_temp.growth_read (zone_id bigint, seq bigint, kind text, order_id bigint, status text)
		ON COMMIT DROP;
	-- each zone from its cursor, through events_since: only events below
	-- the snapshot horizon of the zone's node, each committed event once.
	-- With p_upto, no further than that consumer's cursor of the zone (none
	-- yet: nothing of the zone): the horizon moves between two statements
	-- and that consumer may read fewer events, and what it has not handled
	-- is left for a later run.
	v_batch := LEAST(COALESCE(p_max, 100000), 100000);
	FOR v_zone, v_from, v_cap IN
		SELECT g.zone_id, g.last_seq,
		       CASE WHEN p_upto IS NOT NULL THEN COALESCE(u.last_seq, 0) END
		  FROM @extschema@.growth_cursors g
		  LEFT JOIN @extschema@.growth_cursors u
		    ON u.consumer OPERATOR(pg_catalog.=) p_upto AND u.zone_id OPERATOR(pg_catalog.=) g.zone_id
		 WHERE g.consumer OPERATOR(pg_catalog.=) p_consumer ORDER BY g.zone_id
	LOOP
		v_zone_n := 0;
		LOOP
			EXIT WHEN v_from OPERATOR(pg_catalog.>=) v_cap;
			INSERT INTO pg_temp.growth_read
			SELECT e.zone_id, e.seq, e.kind, e.order_id, e.payload OPERATOR(pg_catalog.->>) 'status'
			  FROM @extschema@.events_since(v_from, v_batch, v_zone) e
			 WHERE v_cap IS NULL OR e.seq OPERATOR(pg_catalog.<=) v_cap;
			GET DIAGNOSTICS v_n = ROW_COUNT;
			v_zone_n := v_zone_n OPERATOR(pg_catalog.+) v_n;
			EXIT WHEN v_n OPERATOR(pg_catalog.<) v_batch
			       OR v_zone_n OPERATOR(pg_catalog.>=) COALESCE(p_max, v_zone_n OPERATOR(pg_catalog.+) 1);
			SELECT pg_catalog.max(r.seq) INTO v_from FROM pg_temp.growth_read r WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone;
		END LOOP;
	END LOOP;
	-- at most p_max events in all, the lowest numbers first: on one server
	-- the same events as one cursor over all zones would read
	IF p_max IS NOT NULL THEN
		SELECT r.seq INTO v_cut FROM pg_temp.growth_read r ORDER BY r.seq OFFSET p_max OPERATOR(pg_catalog.-) 1 LIMIT 1;
		IF FOUND THEN
			DELETE FROM pg_temp.growth_read r WHERE r.seq OPERATOR(pg_catalog.>) v_cut;
		END IF;
	END IF;
	SELECT pg_catalog.count(*) INTO v_n FROM pg_temp.growth_read;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@._growth_read(text, integer, text) IS
	'Internal (credit_rewards, rollup_campaigns): locks the consumer''s cursors in growth_cursors (one a zone, a new zone from 0) and reads each zone''s committed events after its cursor with events_since into the temporary table growth_read (made afresh, one of the caller''s by that name dropped), at most p_max in all (the lowest seq first; NULL: all), and, when p_upto names another consumer, none after that consumer''s cursor of the zone.  Returns the events read.  _growth_advance moves the cursors past them.';
REVOKE ALL ON FUNCTION @extschema@._growth_read(text, integer, text) FROM PUBLIC;

-- _growth_advance (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@._growth_advance(p_consumer text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
	v_seq bigint;
BEGIN
	-- zone by zone, computed first: each statement writes one row of a
	-- reference table on Citus
	FOR v_zone, v_seq IN
		SELECT r.zone_id, pg_catalog.max(r.seq) FROM pg_temp.growth_read r GROUP BY r.zone_id ORDER BY r.zone_id
	LOOP
		UPDATE @extschema@.growth_cursors g SET last_seq = v_seq, updated_at = @extschema@.clock()
		 WHERE g.consumer OPERATOR(pg_catalog.=) p_consumer AND g.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND g.last_seq OPERATOR(pg_catalog.<) v_seq;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._growth_advance(text) IS
	'Internal (credit_rewards, rollup_campaigns): moves each zone''s cursor of the consumer to the last seq of the zone that _growth_read read (growth_read).';
REVOKE ALL ON FUNCTION @extschema@._growth_advance(text) FROM PUBLIC;

-- credit_rewards (sql/52_campaigns.sql)
CREATE OR REPLACE FUNCTION @extschema@.credit_rewards(max_events integer DEFAULT 100000) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_done integer := 0;
	v_e record;
BEGIN
	IF max_events IS NULL OR max_events OPERATOR(pg_catalog.<) 1 THEN
		RAISE EXCEPTION 'credit_rewards needs max_events of at least 1' USING ERRCODE = 'DP025';
	END IF;
	-- each zone's committed events after its cursor, at most max_events
	PERFORM @extschema@._growth_read('credit_rewards', max_events, NULL);
	-- and of those, the deliveries, in order
	FOR v_e IN SELECT r.zone_id, r.order_id FROM pg_temp.growth_read r
	            WHERE r.kind OPERATOR(pg_catalog.=) 'order_status' AND r.status OPERATOR(pg_catalog.=) 'delivered'
	            ORDER BY r.seq, r.zone_id
	LOOP
		v_done := v_done OPERATOR(pg_catalog.+) @extschema@._reward_delivery(v_e.zone_id, v_e.order_id);
	END LOOP;
	PERFORM @extschema@._growth_advance('credit_rewards');
	RETURN v_done;
END
$$;
COMMENT ON FUNCTION @extschema@.credit_rewards(integer) IS
	'Job: reads the outbox from where it stopped, with a cursor per zone (as a gateway does, exactly once per committed event, on one server and on Citus), and credits the points and referral rewards of delivered orders, in a transaction of its own, apart from the zone''s.  Reads at most max_events events.  Returns the rewards written.  Run by pg_cron (schedule_maintenance) every minute.';
REVOKE ALL ON FUNCTION @extschema@.credit_rewards(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.credit_rewards(integer) TO dispatch_admin;

-- _pay_model (sql/53_pay.sql)
CREATE OR REPLACE FUNCTION @extschema@._pay_model(p_zone_id bigint) RETURNS @extschema@.pay_models
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_model @extschema@.pay_models;
BEGIN
	SELECT * INTO v_model FROM @extschema@.pay_models p
	 WHERE p.zone_id OPERATOR(pg_catalog.=) p_zone_id OR p.zone_id OPERATOR(pg_catalog.=) 0
	 ORDER BY p.zone_id DESC LIMIT 1;
	RETURN v_model;
END
$$;
COMMENT ON FUNCTION @extschema@._pay_model(bigint) IS
	'Internal: the pay model of a zone: its own row of pay_models, else zone 0''s.';
REVOKE ALL ON FUNCTION @extschema@._pay_model(bigint) FROM PUBLIC;

-- _delivery_fee (sql/53_pay.sql)
CREATE OR REPLACE FUNCTION @extschema@._delivery_fee(p_zone_id bigint, p_distance_m real) RETURNS integer
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_delivery_fee_of_zone';
COMMENT ON FUNCTION @extschema@._delivery_fee(bigint, real) IS
	'Internal: the delivery fee of a takeaway order of the zone over this distance: fee_base_cents plus fee_per_km_cents per started km beyond fee_free_km (src/pay.c, which place_order calls directly); NULL for a NULL distance or without a pay model.';
REVOKE ALL ON FUNCTION @extschema@._delivery_fee(bigint, real) FROM PUBLIC;

-- delivery_fee (sql/53_pay.sql)
CREATE OR REPLACE FUNCTION @extschema@.delivery_fee(merchant_id bigint, dropoff_lon float8, dropoff_lat float8) RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
	v_area @extschema@.zones.area%TYPE;
	v_pickup @extschema@.merchants.location%TYPE;
	v_drop @extschema@.orders.dropoff%TYPE;
	v_open boolean;
BEGIN
	SELECT m.zone_id, z.area, m.location, m.is_open INTO v_zone, v_area, v_pickup, v_open
	  FROM @extschema@.merchants m
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) m.zone_id
	 WHERE m.merchant_id OPERATOR(pg_catalog.=) delivery_fee.merchant_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'merchant % does not exist', merchant_id USING ERRCODE = 'DP013';
	END IF;
	IF NOT v_open THEN
		RAISE EXCEPTION 'merchant % is closed', merchant_id USING ERRCODE = 'DP003';
	END IF;
	v_drop := @extschema@._check_point(dropoff_lon, dropoff_lat, 'drop-off');   -- DP001
	-- no quote for a drop-off place_order refuses, with its SQLSTATE
	IF NOT @extschema@._covers(v_area, v_drop) THEN
		RAISE EXCEPTION 'drop-off lies outside the service area of zone %', v_zone USING ERRCODE = 'DP002';
	END IF;
	RETURN @extschema@._delivery_fee(v_zone, @extschema@._check_distance(v_pickup, v_drop));   -- DP010
END
$$;
COMMENT ON FUNCTION @extschema@.delivery_fee(bigint, float8, float8) IS
	'The delivery fee (cents) place_order would charge for a takeaway order of this merchant to this drop-off, for showing before the order; the zone''s pay model (pay_models).  Refused as place_order refuses the order: DP001 bad coordinates, DP013 unknown merchant, DP003 closed merchant, DP002 outside the zone''s service area, DP010 implausibly far from the merchant.';
REVOKE ALL ON FUNCTION @extschema@.delivery_fee(bigint, float8, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.delivery_fee(bigint, float8, float8) TO dispatch_app, dispatch_admin;

-- _pay_delivery (sql/53_pay.sql)
CREATE OR REPLACE FUNCTION @extschema@._pay_delivery(p_order @extschema@.orders) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_model @extschema@.pay_models := @extschema@._pay_model(p_order.zone_id);
	v_tz text;
	v_local timestamp;
	v_arrived timestamptz;
	v_left timestamptz;
	v_waited integer := 0;
	v_peak boolean;
	v_base integer;
	v_dist integer;
	v_peak_cents integer := 0;
	v_wait_cents integer;
	v_total integer;
BEGIN
	SELECT z.timezone INTO v_tz FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) p_order.zone_id;
	v_local := p_order.delivered_at AT TIME ZONE v_tz;
	v_peak := pg_catalog.date_part('hour', v_local)::integer OPERATOR(pg_catalog.=) ANY (v_model.peak_hours);
	IF p_order.picked_up_at IS NOT NULL AND p_order.assigned_at IS NOT NULL THEN
		SELECT t.at INTO v_arrived FROM @extschema@.rider_tracks t
		 WHERE t.zone_id OPERATOR(pg_catalog.=) p_order.zone_id
		   AND t.rider_id OPERATOR(pg_catalog.=) p_order.rider_id
		   AND t.at OPERATOR(pg_catalog.>=) p_order.assigned_at
		   AND t.at OPERATOR(pg_catalog.<=) p_order.picked_up_at
		   AND @extschema@._distance_m(t.position, p_order.pickup) OPERATOR(pg_catalog.<=) v_model.arrival_radius_m
		 ORDER BY t.at LIMIT 1;
		IF FOUND THEN
			-- the wait ends at the pickup, or earlier when the track leaves
			-- the merchant first: a pickup synced after a spell without
			-- signal is stamped with the time of the sync (docs/sync.md)
			-- while the pings the phone cached keep their times, and a rider
			-- may tap the pickup only after riding off; the ride is not a wait
			SELECT t.at INTO v_left FROM @extschema@.rider_tracks t
			 WHERE t.zone_id OPERATOR(pg_catalog.=) p_order.zone_id
			   AND t.rider_id OPERATOR(pg_catalog.=) p_order.rider_id
			   AND t.at OPERATOR(pg_catalog.>) v_arrived
			   AND t.at OPERATOR(pg_catalog.<) p_order.picked_up_at
			   AND @extschema@._distance_m(t.position, p_order.pickup) OPERATOR(pg_catalog.>) v_model.arrival_radius_m
			 ORDER BY t.at LIMIT 1;
			v_waited := pg_catalog.floor(pg_catalog.date_part('epoch',
			                COALESCE(v_left, p_order.picked_up_at) OPERATOR(pg_catalog.-) v_arrived)
			                OPERATOR(pg_catalog./) 60)::integer;
		END IF;
	END IF;
	v_base := v_model.pay_base_cents;
	v_dist := pg_catalog.round(v_model.pay_per_km_cents::numeric OPERATOR(pg_catalog.*) p_order.distance_m::numeric
	                           OPERATOR(pg_catalog./) 1000)::integer;
	IF v_peak THEN
		v_peak_cents := pg_catalog.round((v_base OPERATOR(pg_catalog.+) v_dist)::numeric
		                    OPERATOR(pg_catalog.*) (v_model.peak_multiplier::numeric OPERATOR(pg_catalog.-) 1))::integer;
	END IF;
	v_wait_cents := v_model.wait_cents_per_minute OPERATOR(pg_catalog.*)
	                GREATEST(v_waited OPERATOR(pg_catalog.-) v_model.wait_grace_minutes, 0);
	v_total := ((v_base OPERATOR(pg_catalog.+) v_dist) OPERATOR(pg_catalog.+) v_peak_cents)
	           OPERATOR(pg_catalog.+) v_wait_cents;
	INSERT INTO @extschema@.rider_pay (zone_id, order_id, rider_id, day, delivered_at, distance_m, peak,
	                                   waited_minutes, base_cents, distance_cents, peak_cents, waiting_cents,
	                                   total_cents)
	VALUES (p_order.zone_id, p_order.order_id, p_order.rider_id, v_local::date, p_order.delivered_at,
	        p_order.distance_m, v_peak, v_waited, v_base, v_dist, v_peak_cents, v_wait_cents, v_total)
	ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		RETURN 0;                     -- paid already (an order is delivered once)
	END IF;
	RETURN v_total;
END
$$;
COMMENT ON FUNCTION @extschema@._pay_delivery(@extschema@.orders) IS
	'Internal: writes the rider_pay row of a delivered order by the zone''s pay model and returns its total (0 if it was paid already).  Called by the rider trigger of orders.';
REVOKE ALL ON FUNCTION @extschema@._pay_delivery(@extschema@.orders) FROM PUBLIC;

-- rider_earnings_of (sql/53_pay.sql)
CREATE OR REPLACE FUNCTION @extschema@.rider_earnings_of(rider_id bigint, from_day date, to_day date)
RETURNS SETOF @extschema@.rider_earnings
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone_id bigint;
BEGIN
	IF rider_id IS NULL OR from_day IS NULL OR to_day IS NULL
	   OR NOT pg_catalog.isfinite(from_day) OR NOT pg_catalog.isfinite(to_day)
	   OR to_day OPERATOR(pg_catalog.<) from_day
	   -- at most 366 days, both ends included (a leap year)
	   OR to_day OPERATOR(pg_catalog.-) from_day OPERATOR(pg_catalog.>=) 366 THEN
		RAISE EXCEPTION 'invalid earnings request: a rider and days from <= to, at most 366 days with both ends'
			USING ERRCODE = 'DP721';
	END IF;
	-- the rider's zone (rider_zones, which every node holds): their pay
	-- lies in it, and on Citus the statement goes to that zone's shard alone
	v_zone_id := @extschema@._rider_zone(rider_earnings_of.rider_id);
	IF v_zone_id IS NULL THEN
		RAISE EXCEPTION 'rider % does not exist', rider_id USING ERRCODE = 'DP015';
	END IF;
	RETURN QUERY
	SELECT e.* FROM @extschema@.rider_earnings e
	 WHERE e.zone_id OPERATOR(pg_catalog.=) v_zone_id
	   AND e.rider_id OPERATOR(pg_catalog.=) rider_earnings_of.rider_id
	   AND e.day OPERATOR(pg_catalog.>=) from_day AND e.day OPERATOR(pg_catalog.<=) to_day
	 ORDER BY e.day, e.zone_id;
END
$$;
COMMENT ON FUNCTION @extschema@.rider_earnings_of(bigint, date, date) IS
	'One rider''s earnings per day from from_day to to_day (at most 366 days): what the rider app shows a rider about themself; the app server passes the id of the rider it authenticated.  DP721 bad range, DP015 unknown rider.';
REVOKE ALL ON FUNCTION @extschema@.rider_earnings_of(bigint, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rider_earnings_of(bigint, date, date) TO dispatch_app, dispatch_admin;

-- _earnings_fairness (sql/53_pay.sql)
CREATE OR REPLACE FUNCTION @extschema@._earnings_fairness()
RETURNS TABLE (zone_id bigint, day date, riders bigint, deliveries bigint, total_cents bigint, mean_cents bigint,
               p10_cents bigint, median_cents bigint, p90_cents bigint, gini numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.earnings_fairness;
END
$$;
COMMENT ON FUNCTION @extschema@._earnings_fairness() IS
	'Internal (earnings_fairness): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._earnings_fairness() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._earnings_fairness() TO dispatch_analyst, dispatch_admin;

-- _check_customer (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@._check_customer(p_customer_id bigint, p_zone_id bigint) RETURNS void
LANGUAGE C STABLE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_check_customer';
COMMENT ON FUNCTION @extschema@._check_customer(bigint, bigint) IS
	'Internal: the customer exists, is not flagged, and has fewer than dispatch.fraud_max_bad_orders unpaid or cancelled orders in the zone within dispatch.fraud_window_minutes.';

-- _lock_intake (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@._lock_intake(p_customer_id bigint, p_zone_id bigint) RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_lock_intake_sql';
COMMENT ON FUNCTION @extschema@._lock_intake(bigint, bigint) IS
	'Internal: the customer''s intake lock (advisory, exclusive, to the end of the transaction) for an intake in zone p_zone_id: on Citus first on the node that holds the zone''s shards, through a statement routed there, then on the node that runs the call; p_zone_id NULL: on this node only.  One intake of the customer at a time counts the customer''s orders (DP009) and a campaign''s uses.';
REVOKE ALL ON FUNCTION @extschema@._lock_intake(bigint, bigint) FROM PUBLIC;

-- _order_lines (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@._order_lines(items jsonb, max_qty integer,
                                        OUT item_ids bigint[], OUT qtys integer[])
RETURNS record
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_order_lines';
COMMENT ON FUNCTION @extschema@._order_lines(jsonb, integer) IS
	'Internal: the lines of an item list (a non-empty array of flat {"item_id": n, "qty": n}), the quantities of an item summed, by item id; DP007 for another shape or a quantity outside 1..max_qty.';
REVOKE ALL ON FUNCTION @extschema@._order_lines(jsonb, integer) FROM PUBLIC;

-- _place_order (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@._place_order(p_zone bigint, customer_id bigint, merchant_id bigint, items jsonb,
                                        dropoff_lon float8, dropoff_lat float8, dropoff_address text,
                                        priority text, coupon_code text, spend_points integer)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_place_order_body';
COMMENT ON FUNCTION @extschema@._place_order(bigint, bigint, bigint, jsonb, float8, float8, text, text, text, integer) IS
	'Internal: the body of place_order (p_zone NULL: the merchant''s zone) and place_order_in_zone (p_zone the merchant''s zone, DP013 otherwise), which call it and note its refusals.';
REVOKE ALL ON FUNCTION @extschema@._place_order(bigint, bigint, bigint, jsonb, float8, float8, text, text, text, integer) FROM PUBLIC;

-- place_order (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@.place_order(customer_id bigint, merchant_id bigint, items jsonb,
                                       dropoff_lon float8, dropoff_lat float8, dropoff_address text,
                                       priority text DEFAULT 'normal', coupon_code text DEFAULT NULL,
                                       spend_points integer DEFAULT 0)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_place_order';
COMMENT ON FUNCTION @extschema@.place_order(bigint, bigint, jsonb, float8, float8, text, text, text, integer) IS
	'Validates and places a takeaway order in pending_payment, taking stock, at most one offer (coupon_code, or the best automatic one) and the points asked for (spend_points) atomically; returns the order id (zone in its high bits).  Errors: docs/errors.md.';
REVOKE ALL ON FUNCTION @extschema@.place_order(bigint, bigint, jsonb, float8, float8, text, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.place_order(bigint, bigint, jsonb, float8, float8, text, text, text, integer) TO dispatch_app, dispatch_admin;

-- place_order_in_zone (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@.place_order_in_zone(zone_id bigint, customer_id bigint, merchant_id bigint, items jsonb,
                                               dropoff_lon float8, dropoff_lat float8, dropoff_address text,
                                               priority text DEFAULT 'normal', coupon_code text DEFAULT NULL,
                                               spend_points integer DEFAULT 0)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_place_order_in_zone';
COMMENT ON FUNCTION @extschema@.place_order_in_zone(bigint, bigint, bigint, jsonb, float8, float8, text, text, text, integer) IS
	'place_order for a caller that knows the merchant''s zone (the zone given to create_merchant; a merchant never changes zone): the same checks and effects, and a zone that is not the merchant''s is refused (DP013), nothing written.  On Citus the call is sent whole to the zone''s worker (distribute()).  Errors: docs/errors.md.';
REVOKE ALL ON FUNCTION @extschema@.place_order_in_zone(bigint, bigint, bigint, jsonb, float8, float8, text, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.place_order_in_zone(bigint, bigint, bigint, jsonb, float8, float8, text, text, text, integer) TO dispatch_app, dispatch_admin;

-- _place_errand (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@._place_errand(p_zone bigint, customer_id bigint, pickup_lon float8, pickup_lat float8,
                                         dropoff_lon float8, dropoff_lat float8, dropoff_address text,
                                         description text, fee_cents integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_pickup @extschema@.orders.pickup%TYPE;
	v_drop @extschema@.orders.dropoff%TYPE;
	v_zone bigint;
	v_area @extschema@.zones.area%TYPE;
	v_speed real;
	v_dist real;
	v_order bigint;
	v_now timestamptz := @extschema@.clock();
BEGIN
	v_pickup := @extschema@._check_point(pickup_lon, pickup_lat, 'pickup');
	v_drop := @extschema@._check_point(dropoff_lon, dropoff_lat, 'drop-off');
	IF _place_errand.customer_id IS NULL THEN
		RAISE EXCEPTION 'an errand needs a customer' USING ERRCODE = 'DP012';
	END IF;
	PERFORM @extschema@._check_length('dropoff_address', dropoff_address);
	PERFORM @extschema@._check_length('errand_description', description);
	-- the zone given (place_errand_in_zone) must cover the pickup; else
	-- the first that does and covers the drop-off too, or the first that
	-- does (refused below): a pickup on the border of two zones that touch,
	-- or where they overlap, lies in both, and the errand goes to the one
	-- it can be delivered in
	SELECT z.zone_id, z.area, z.speed_mps INTO v_zone, v_area, v_speed
	  FROM @extschema@.zones z
	 WHERE (p_zone IS NULL OR z.zone_id OPERATOR(pg_catalog.=) p_zone)
	   AND @extschema@._covers(z.area, v_pickup)
	 ORDER BY @extschema@._covers(z.area, v_drop) DESC, z.zone_id
	 LIMIT 1;
	IF NOT FOUND AND p_zone IS NOT NULL THEN
		PERFORM @extschema@._refusal_zone(p_zone);
		RAISE EXCEPTION 'pickup lies outside the service area of zone %', p_zone USING ERRCODE = 'DP002';
	ELSIF NOT FOUND THEN
		RAISE EXCEPTION 'pickup lies outside every service area' USING ERRCODE = 'DP002';
	END IF;
	PERFORM @extschema@._refusal_zone(v_zone);
	IF NOT @extschema@._covers(v_area, v_drop) THEN
		RAISE EXCEPTION 'drop-off lies outside the service area of zone %', v_zone USING ERRCODE = 'DP002';
	END IF;
	v_dist := @extschema@._check_distance(v_pickup, v_drop);
	IF @extschema@._is_blank(description) THEN
		RAISE EXCEPTION 'an errand needs a description' USING ERRCODE = 'DP025';
	END IF;
	IF fee_cents IS NULL OR fee_cents OPERATOR(pg_catalog.<=) 0
	   OR fee_cents OPERATOR(pg_catalog.>) @extschema@._setting_int('dispatch.max_order_cents') THEN
		RAISE EXCEPTION 'invalid errand fee % cents', fee_cents USING ERRCODE = 'DP008';
	END IF;
	-- the customer's lock from before its check, as place_order takes it:
	-- an erasure committed first is seen, a later one waits for the errand;
	-- then the customer's intake lock (src/locks.h; on Citus on the zone's
	-- worker too), so that the check, a statement after it, counts an order
	-- or errand of the customer placed at the same time once that commits
	-- (two cannot both pass the limit)
	PERFORM @extschema@._lock_subject('customer', _place_errand.customer_id, false);
	PERFORM @extschema@._lock_intake(_place_errand.customer_id, v_zone);
	PERFORM @extschema@._check_customer(_place_errand.customer_id, v_zone);

	v_order := @extschema@.zone_scoped_id(v_zone, pg_catalog.nextval('@extschema@.orders_id_seq'));
	INSERT INTO @extschema@.orders
	       (zone_id, order_id, kind, customer_id, status, pickup, dropoff, dropoff_address_enc,
	        description_enc, distance_m, fee_cents, total_cents, promised_at, created_at, status_changed_at)
	VALUES (v_zone, v_order, 'errand', _place_errand.customer_id, 'pending_payment', v_pickup, v_drop,
	        @extschema@.pii_seal('customer', _place_errand.customer_id, dropoff_address),
	        @extschema@.pii_seal('customer', _place_errand.customer_id, description),
	        v_dist, fee_cents, fee_cents,
	        v_now OPERATOR(pg_catalog.+) pg_catalog.make_interval(mins => 15,
	                                                             secs => v_dist OPERATOR(pg_catalog./) v_speed),
	        v_now, v_now);
	INSERT INTO @extschema@.payments (zone_id, payment_id, order_id, amount_cents, created_at)
	VALUES (v_zone, @extschema@.zone_scoped_id(v_zone, pg_catalog.nextval('@extschema@.payments_id_seq')),
	        v_order, fee_cents, v_now);
	RETURN v_order;
END
$$;
COMMENT ON FUNCTION @extschema@._place_errand(bigint, bigint, float8, float8, float8, float8, text, text, integer) IS
	'Internal: the body of place_errand (p_zone NULL: the first zone covering the pickup and the drop-off, else the first covering the pickup) and place_errand_in_zone (p_zone a zone covering the pickup, DP002 otherwise), which call it and note its refusals.';
REVOKE ALL ON FUNCTION @extschema@._place_errand(bigint, bigint, float8, float8, float8, float8, text, text, integer) FROM PUBLIC;

-- place_errand (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@.place_errand(customer_id bigint, pickup_lon float8, pickup_lat float8,
                                        dropoff_lon float8, dropoff_lat float8, dropoff_address text,
                                        description text, fee_cents integer)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_place_errand';
COMMENT ON FUNCTION @extschema@.place_errand(bigint, float8, float8, float8, float8, text, text, integer) IS
	'Validates and places an errand (pick up anything, bring it to the drop-off) in pending_payment; the zone is the one covering the pickup (where several do, the first that covers the drop-off too).';

-- place_errand_in_zone (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@.place_errand_in_zone(zone_id bigint, customer_id bigint, pickup_lon float8, pickup_lat float8,
                                                dropoff_lon float8, dropoff_lat float8, dropoff_address text,
                                                description text, fee_cents integer)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_place_errand_in_zone';
COMMENT ON FUNCTION @extschema@.place_errand_in_zone(bigint, bigint, float8, float8, float8, float8, text, text, integer) IS
	'place_errand in the zone given, which must cover the pickup (DP002 otherwise, nothing written; where zones overlap, the caller chooses): the same checks and effects.  On Citus the call is sent whole to the zone''s worker (distribute()).';
REVOKE ALL ON FUNCTION @extschema@.place_errand_in_zone(bigint, bigint, float8, float8, float8, float8, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.place_errand_in_zone(bigint, bigint, float8, float8, float8, float8, text, text, integer) TO dispatch_app, dispatch_admin;

-- _check_order_zone (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@._check_order_zone(p_zone bigint, p_order_id bigint) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_zone IS DISTINCT FROM @extschema@.zone_of(p_order_id) THEN
		RAISE EXCEPTION 'order % does not lie in zone %', p_order_id, p_zone USING ERRCODE = 'DP014';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_order_zone(bigint, bigint) IS
	'Internal: DP014 unless p_zone is the zone in the order id p_order_id (the check of every routed form of a call on an order).';
REVOKE ALL ON FUNCTION @extschema@._check_order_zone(bigint, bigint) FROM PUBLIC;

-- _lock_order (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@._lock_order(p_order_id bigint) RETURNS @extschema@.orders
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v @extschema@.orders;
BEGIN
	SELECT * INTO v FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(p_order_id)
	   AND o.order_id OPERATOR(pg_catalog.=) p_order_id
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', p_order_id USING ERRCODE = 'DP014';
	END IF;
	RETURN v;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_order(bigint) IS
	'Internal: the order row, locked FOR UPDATE, found through the zone in its id; DP014 if there is none.';

-- _confirm_payment (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@._confirm_payment(p_zone bigint, order_id bigint, provider_ref text) RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_confirm_payment';
COMMENT ON FUNCTION @extschema@._confirm_payment(bigint, bigint, text) IS
	'Internal: confirm_payment in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
REVOKE ALL ON FUNCTION @extschema@._confirm_payment(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._confirm_payment(bigint, bigint, text) TO dispatch_app, dispatch_admin;

-- confirm_payment (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@.confirm_payment(order_id bigint, provider_ref text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._confirm_payment(@extschema@.zone_of(order_id), order_id, provider_ref);
COMMENT ON FUNCTION @extschema@.confirm_payment(bigint, text) IS
	'Records a successful payment and moves the order from pending_payment to placed (an errand on to accepted).  Repeating the same confirmation (same provider reference) is a no-op; a success for an order cancelled before any payment succeeded, or in payment_failed (not retried), is recorded and refunded (a refund event), the order keeping its status; anything else without a pending payment is refused (DP018), a reference that paid another order of the zone DP030 (the reference taken without the white space around it), a missing reference (NULL, empty or white space only) DP025.';

-- _fail_payment (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@._fail_payment(p_zone bigint, order_id bigint, reason text, attempt integer DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_fail_payment';
COMMENT ON FUNCTION @extschema@._fail_payment(bigint, bigint, text, integer) IS
	'Internal: fail_payment in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
REVOKE ALL ON FUNCTION @extschema@._fail_payment(bigint, bigint, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._fail_payment(bigint, bigint, text, integer) TO dispatch_app, dispatch_admin;

-- fail_payment (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@.fail_payment(order_id bigint, reason text, attempt integer DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._fail_payment(@extschema@.zone_of(order_id), order_id, reason, attempt);
COMMENT ON FUNCTION @extschema@.fail_payment(bigint, text, integer) IS
	'Records a failed payment attempt; the order goes from pending_payment to payment_failed and its event tells the customer to retry.  attempt names the payment attempt reported on (the "attempt" of the order_status event that asked for it; NULL: the current one): a failure of an attempt retried since changes nothing and returns as a no-op does, an attempt the order never had is DP025.  Repeated with the same reason it is a no-op; otherwise refused without a pending payment (DP018).  A missing reason (NULL, empty or white space only) is DP025.';
REVOKE ALL ON FUNCTION @extschema@.fail_payment(bigint, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.fail_payment(bigint, text, integer) TO dispatch_app, dispatch_admin;

-- retry_payment (sql/55_orders.sql)
CREATE OR REPLACE FUNCTION @extschema@.retry_payment(order_id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders := @extschema@._lock_order(order_id);
	v_payment bigint;
BEGIN
	-- a repeat: the pending attempt is a retry (the order's attempt past
	-- its first, which only a retry after a failure begins); it is the
	-- answer again.  (Not told by payment ids: on Citus each node numbers
	-- from its own range, docs/citus.md, and this call, run by the
	-- coordinator, may number the retry below the attempt it follows.)
	IF v_order.status OPERATOR(pg_catalog.=) 'pending_payment'
	   AND v_order.payment_attempt OPERATOR(pg_catalog.>) 1 THEN
		SELECT p.payment_id INTO v_payment FROM @extschema@.payments p
		 WHERE p.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
		   AND p.order_id OPERATOR(pg_catalog.=) v_order.order_id
		   AND p.status OPERATOR(pg_catalog.=) 'pending';
		IF FOUND THEN
			RETURN v_payment;
		END IF;
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) 'payment_failed' THEN
		RAISE EXCEPTION 'order % is not awaiting a payment retry (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP018';
	END IF;
	UPDATE @extschema@.orders o SET status = 'pending_payment'
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
	v_payment := @extschema@.zone_scoped_id(v_order.zone_id, pg_catalog.nextval('@extschema@.payments_id_seq'));
	INSERT INTO @extschema@.payments (zone_id, payment_id, order_id, amount_cents, created_at)
	VALUES (v_order.zone_id, v_payment, v_order.order_id, v_order.total_cents, @extschema@.clock());
	RETURN v_payment;
END
$$;
COMMENT ON FUNCTION @extschema@.retry_payment(bigint) IS
	'After a failed payment: back to pending_payment with a new pending payment attempt (orders.payment_attempt one more, carried as "attempt" by its order_status event); returns its payment id.  Repeated while that attempt is pending, returns it again; refused (DP018) on an order not awaiting a retry, DP014 for an unknown or missing order.';

-- _settings_source_trigger (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._settings_source_trigger() RETURNS trigger
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

-- _settings_keep_shipped (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._settings_keep_shipped() RETURNS trigger
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

-- _zone_setting_int (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._zone_setting_int(zone_id bigint, name text) RETURNS integer
LANGUAGE C STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_zone_setting_int';
COMMENT ON FUNCTION @extschema@._zone_setting_int(bigint, text) IS
	'Internal: an integer setting of a zone''s matching (its own row of matching_settings, else zone 0''s, as assign_batch reads them); NULL for an unknown zone.';
REVOKE ALL ON FUNCTION @extschema@._zone_setting_int(bigint, text) FROM PUBLIC;

-- _rider_day_roll (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._rider_day_roll(p_zone_id bigint, p_rider_id bigint, p_now timestamptz) RETURNS void
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

-- _offer_cancelled_event (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._offer_cancelled_event(p_zone bigint, p_order_id bigint, p_rider_id bigint,
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

-- _cancel_pending_offer (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._cancel_pending_offer(p_zone bigint, p_order_id bigint, p_reason text, p_now timestamptz)
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

-- _orders_rider_trigger (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._orders_rider_trigger() RETURNS trigger
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

-- _riders_shift_trigger (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._riders_shift_trigger() RETURNS trigger
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

-- _rider_can_take (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._rider_can_take(order_id bigint, rider_id bigint, count_offers boolean DEFAULT true)
RETURNS void
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
SET jit = off
AS 'MODULE_PATHNAME', 'dispatch_rider_can_take';
COMMENT ON FUNCTION @extschema@._rider_can_take(bigint, bigint, boolean) IS
	'Internal: the eligibility rule for one pair.  Returns if the rider can take the order now (same zone, online, not excluded for it, a free slot counting pending offers unless count_offers is false, fresh position, within the shift, daily and vehicle limits), else DP020 naming the reason; DP014 unknown order, DP015 unknown rider.  Locks nothing: the caller holds the rider''s row lock.';
REVOKE ALL ON FUNCTION @extschema@._rider_can_take(bigint, bigint, boolean) FROM PUBLIC;

-- _lock_zone (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._lock_zone(zone_id bigint, shared boolean DEFAULT false) RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_lock_zone';
COMMENT ON FUNCTION @extschema@._lock_zone(bigint, boolean) IS
	'Internal: the zone''s matching lock (the advisory lock assign_batch takes), to the end of the transaction; first in the order of locks of matching.  Shared: no batch or manual assignment runs in the zone meanwhile, but shared holders do not wait for each other.';
REVOKE ALL ON FUNCTION @extschema@._lock_zone(bigint, boolean) FROM PUBLIC;

-- _lock_zone_routed (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._lock_zone_routed(p_zone bigint, p_order_id bigint, p_rider_id bigint, p_shared boolean)
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

-- _rider_index_predicate (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._rider_index_predicate() RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_rider_index_predicate';
COMMENT ON FUNCTION @extschema@._rider_index_predicate() IS
	'Internal: the predicate riders_available_idx must have, as the candidate searches in C write it (MATCH_RIDER_INDEXED of src/match.h).';
REVOKE ALL ON FUNCTION @extschema@._rider_index_predicate() FROM PUBLIC;

-- nearest_riders (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@.nearest_riders(order_id bigint, k integer DEFAULT 10)
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

-- assign_batch (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@.assign_batch(zone_id bigint)
RETURNS TABLE (order_id bigint, rider_id bigint, offer_id bigint, cost float8, method text)
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS 'MODULE_PATHNAME', 'dispatch_assign_batch';
COMMENT ON FUNCTION @extschema@.assign_batch(bigint) IS
	'One dispatch round for a zone: expires overdue offers, solves the minimum-cost assignment of its dispatchable orders to its available riders'' free slots, writes offers (with audit) and emits an offer event for each.  method says whether the solve was exact or, past the size or time budget, a heuristic.  DP305 for an unknown or NULL zone.';

-- _respond_offer (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@._respond_offer(p_zone bigint, offer_id bigint, accept boolean, reason text DEFAULT NULL)
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
REVOKE ALL ON FUNCTION @extschema@._respond_offer(bigint, bigint, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._respond_offer(bigint, bigint, boolean, text) TO dispatch_app, dispatch_admin;

-- respond_offer (sql/60_matching.sql)
CREATE OR REPLACE FUNCTION @extschema@.respond_offer(offer_id bigint, accept boolean, reason text DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._respond_offer(@extschema@.zone_of(offer_id), offer_id, accept, reason);
COMMENT ON FUNCTION @extschema@.respond_offer(bigint, boolean, text) IS
	'A rider answers an offer.  Accept assigns the order (if the rider can still take it: the eligibility rule, DP020); reject puts the order back for the next batch and never offers it to this rider again.  The same answer again is a no-op.  DP301 unknown offer, DP302 answered otherwise, expired, cancelled or released, DP303 expired, DP304 without an answer (accept NULL).';

-- _lock_refund (sql/62_refunds.sql)
CREATE OR REPLACE FUNCTION @extschema@._lock_refund(p_zone bigint, p_refund_id bigint) RETURNS @extschema@.refunds
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

-- _refund_event (sql/62_refunds.sql)
CREATE OR REPLACE FUNCTION @extschema@._refund_event(p_r @extschema@.refunds, p_customer_id bigint) RETURNS void
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

-- _refund_cancelled (sql/62_refunds.sql)
CREATE OR REPLACE FUNCTION @extschema@._refund_cancelled(p_order @extschema@.orders, p_reason text) RETURNS bigint
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

-- _refund_late_payment (sql/62_refunds.sql)
CREATE OR REPLACE FUNCTION @extschema@._refund_late_payment(p_zone bigint, p_order_id bigint, p_ref text, p_now timestamptz)
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

-- _settle_refund (sql/62_refunds.sql)
CREATE OR REPLACE FUNCTION @extschema@._settle_refund(p_zone bigint, refund_id bigint, succeeded boolean, provider_ref text DEFAULT NULL,
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
REVOKE ALL ON FUNCTION @extschema@._settle_refund(bigint, bigint, boolean, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._settle_refund(bigint, bigint, boolean, text, text, integer) TO dispatch_app, dispatch_admin;

-- settle_refund (sql/62_refunds.sql)
CREATE OR REPLACE FUNCTION @extschema@.settle_refund(refund_id bigint, succeeded boolean, provider_ref text DEFAULT NULL,
                                         failure_reason text DEFAULT NULL, attempt integer DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._settle_refund(@extschema@.zone_of(refund_id), refund_id, succeeded, provider_ref, failure_reason, attempt);
COMMENT ON FUNCTION @extschema@.settle_refund(bigint, boolean, text, text, integer) IS
	'The payment service reports an attempt of a refund as paid back (succeeded, with its reference) or failed (with a reason), naming the attempt of the refund event it acted on (attempt; NULL: the current one).  A failure of an earlier attempt (retried since) changes nothing and returns as a no-op does; a success of one marks the refund paid back whatever the current attempt''s state (DP107 if another attempt paid it already), and so does a success of the current attempt after it was reported failed (the money was paid back after all; a retry would pay it twice); the same report again is a no-op (a failure whatever its reason); DP106 for an unknown refund, DP107 for a refund whose current attempt is settled otherwise (a failure after a success), DP110 for a success with the reference that paid another refund of the zone back (a reference names one payout), DP025 for an attempt it never had, a success without a reference (NULL, empty or white space only; a reference is taken without the white space around it) or a failure without a reason (NULL, empty or white space only, as for fail_payment).';
REVOKE ALL ON FUNCTION @extschema@.settle_refund(bigint, boolean, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.settle_refund(bigint, boolean, text, text, integer) TO dispatch_app, dispatch_admin;

-- _retry_refund (sql/62_refunds.sql)
CREATE OR REPLACE FUNCTION @extschema@._retry_refund(p_zone bigint, refund_id bigint)
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
REVOKE ALL ON FUNCTION @extschema@._retry_refund(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._retry_refund(bigint, bigint) TO dispatch_app, dispatch_admin;

-- retry_refund (sql/62_refunds.sql)
CREATE OR REPLACE FUNCTION @extschema@.retry_refund(refund_id bigint)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._retry_refund(@extschema@.zone_of(refund_id), refund_id);
COMMENT ON FUNCTION @extschema@.retry_refund(bigint) IS
	'A failed refund is tried again: its next attempt (attempt + 1), pending, and a refund event tells the payment service again (the same refund, payment and amount, the new attempt), which settles it with settle_refund.  A no-op on a pending refund; DP106 for an unknown refund, DP107 for a refund paid back.';
REVOKE ALL ON FUNCTION @extschema@.retry_refund(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.retry_refund(bigint) TO dispatch_app, dispatch_admin;

-- _refund_reconciliation (sql/62_refunds.sql)
CREATE OR REPLACE FUNCTION @extschema@._refund_reconciliation()
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
REVOKE ALL ON FUNCTION @extschema@._refund_reconciliation() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._refund_reconciliation() TO dispatch_analyst, dispatch_admin;

-- _hour_of_week (sql/63_eta.sql)
CREATE OR REPLACE FUNCTION @extschema@._hour_of_week(p_at timestamptz, p_timezone text) RETURNS smallint
LANGUAGE sql STABLE STRICT PARALLEL SAFE
RETURN ((pg_catalog.date_part('isodow', p_at AT TIME ZONE p_timezone)::integer OPERATOR(pg_catalog.-) 1)
        OPERATOR(pg_catalog.*) 24
        OPERATOR(pg_catalog.+) pg_catalog.date_part('hour', p_at AT TIME ZONE p_timezone)::integer)::smallint;
COMMENT ON FUNCTION @extschema@._hour_of_week(timestamptz, text) IS
	'Internal: the hour of the week of a time in a time zone: 0 for Monday 00:00-01:00, 167 for Sunday 23:00-24:00.';
REVOKE ALL ON FUNCTION @extschema@._hour_of_week(timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._hour_of_week(timestamptz, text) TO dispatch_analyst, dispatch_admin;

-- _eta_expected (sql/63_eta.sql)
CREATE OR REPLACE FUNCTION @extschema@._eta_expected(p_at timestamptz, p_speed float8, p_approach_m float8,
                                          p_trip_m float8, p_ready timestamptz) RETURNS timestamptz
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_eta_expected';
COMMENT ON FUNCTION @extschema@._eta_expected(timestamptz, float8, float8, float8, timestamptz) IS
	'Internal: the expected delivery time at p_at: the ride to the pickup (p_approach_m metres; NULL once picked up), not before p_ready, then p_trip_m metres, at p_speed m/s; at least a minute after p_at.';
REVOKE ALL ON FUNCTION @extschema@._eta_expected(timestamptz, float8, float8, float8, timestamptz) FROM PUBLIC;

-- _eta_window (sql/63_eta.sql)
CREATE OR REPLACE FUNCTION @extschema@._eta_window(p_order @extschema@.orders, p_status text, p_now timestamptz,
                                        OUT expected_at timestamptz, OUT earliest timestamptz,
                                        OUT latest timestamptz, OUT approach_m float8, OUT trip_m float8,
                                        OUT ready_at timestamptz, OUT speed_factor float8)
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_eta_window';
COMMENT ON FUNCTION @extschema@._eta_window(@extschema@.orders, text, timestamptz) IS
	'Internal: the expected delivery time and window of an order in a status at a time, and the parts the expected time comes from (docs/eta.md); NULLs in a status without one.';
REVOKE ALL ON FUNCTION @extschema@._eta_window(@extschema@.orders, text, timestamptz) FROM PUBLIC;

-- _order_eta_trigger (sql/63_eta.sql)
CREATE OR REPLACE FUNCTION @extschema@._order_eta_trigger() RETURNS trigger
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_order_eta';
COMMENT ON FUNCTION @extschema@._order_eta_trigger() IS
	'Internal: BEFORE UPDATE OF status on orders, before the state machine: the order''s new ETA window, on the order and in eta_predictions (C, src/eta.c).';
REVOKE ALL ON FUNCTION @extschema@._order_eta_trigger() FROM PUBLIC;

-- eta (sql/63_eta.sql)
CREATE OR REPLACE FUNCTION @extschema@.eta(order_id bigint)
RETURNS TABLE (status text, expected_at timestamptz, earliest timestamptz, latest timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders;
	v_w record;
BEGIN
	SELECT * INTO v_order FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(eta.order_id)
	   AND o.order_id OPERATOR(pg_catalog.=) eta.order_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', order_id USING ERRCODE = 'DP014';
	END IF;
	status := v_order.status;
	IF v_order.status OPERATOR(pg_catalog.=) 'delivered' THEN
		expected_at := v_order.delivered_at;
		earliest := v_order.delivered_at;
		latest := v_order.delivered_at;
		RETURN NEXT;
		RETURN;
	END IF;
	v_w := @extschema@._eta_window(v_order, v_order.status, @extschema@.clock());
	IF v_w.expected_at IS NULL THEN
		RAISE EXCEPTION 'order % has no delivery time to expect (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP711',
			      DETAIL = 'Orders have an ETA from payment (placed) until delivery.';
	END IF;
	expected_at := v_w.expected_at;
	earliest := v_w.earliest;
	latest := v_w.latest;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION @extschema@.eta(bigint) IS
	'The order''s expected delivery time and window (earliest, latest) now, from its rider''s position, the merchant''s ready time and the zone''s learned speed, sized so that dispatch.eta_coverage_percent of deliveries land inside (docs/eta.md).  A delivered order: its delivery time.  DP014 unknown order, DP711 an order not paid or cancelled.';
REVOKE ALL ON FUNCTION @extschema@.eta(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.eta(bigint) TO dispatch_app, dispatch_admin;

-- learn_eta (sql/63_eta.sql)
CREATE OR REPLACE FUNCTION @extschema@.learn_eta() RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_since timestamptz := v_now OPERATOR(pg_catalog.-)
	                       pg_catalog.make_interval(days => @extschema@._setting_int('dispatch.eta_learn_days'));
	v_k float8 := @extschema@._setting_int('dispatch.eta_min_samples');
	v_cover float8 := @extschema@._setting_int('dispatch.eta_coverage_percent')::float8 OPERATOR(pg_catalog./) 100;
	v_speeds integer;
	v_stages integer;
BEGIN
	-- one run at a time (the mode conflicts with itself, not with readers);
	-- a second waits, then learns again
	LOCK TABLE @extschema@.zone_speeds, @extschema@.eta_calibration IN SHARE ROW EXCLUSIVE MODE;
	DELETE FROM @extschema@.zone_speeds;
	INSERT INTO @extschema@.zone_speeds (zone_id, hour_of_week, samples, observed_mps, speed_mps, learned_at)
	SELECT s.zone_id, s.how, pg_catalog.count(*)::integer,
	       pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY s.v),
	       ((pg_catalog.count(*) OPERATOR(pg_catalog.*) pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY s.v))
	        OPERATOR(pg_catalog.+) (v_k OPERATOR(pg_catalog.*) pg_catalog.min(s.zone_speed)))
	       OPERATOR(pg_catalog./) (pg_catalog.count(*) OPERATOR(pg_catalog.+) v_k),
	       v_now
	  FROM (SELECT o.zone_id, @extschema@._hour_of_week(o.picked_up_at, z.timezone) AS how,
	               z.speed_mps::float8 AS zone_speed,
	               (o.distance_m::float8 OPERATOR(pg_catalog./)
	                pg_catalog.date_part('epoch', o.delivered_at OPERATOR(pg_catalog.-) o.picked_up_at))
	               OPERATOR(pg_catalog./) COALESCE(p.speed_factor, 1)::float8 AS v
	          -- zone by zone, the window's deliveries (orders_delivered_idx)
	          FROM @extschema@.zones z
	          JOIN @extschema@.orders o ON o.zone_id OPERATOR(pg_catalog.=) z.zone_id
	          LEFT JOIN @extschema@.riders r ON r.zone_id OPERATOR(pg_catalog.=) o.zone_id
	                                         AND r.rider_id OPERATOR(pg_catalog.=) o.rider_id
	          LEFT JOIN @extschema@.vehicle_profiles p ON p.vehicle OPERATOR(pg_catalog.=) r.vehicle
	         WHERE o.status OPERATOR(pg_catalog.=) 'delivered'
	           AND o.delivered_at OPERATOR(pg_catalog.>=) v_since
	           AND o.distance_m OPERATOR(pg_catalog.>=) 300
	           AND o.delivered_at OPERATOR(pg_catalog.>=) (o.picked_up_at OPERATOR(pg_catalog.+) interval '1 minute')) s
	 WHERE s.v OPERATOR(pg_catalog.>=) 0.3 AND s.v OPERATOR(pg_catalog.<=) 40
	 GROUP BY s.zone_id, s.how;
	GET DIAGNOSTICS v_speeds = ROW_COUNT;

	DELETE FROM @extschema@.eta_calibration;
	INSERT INTO @extschema@.eta_calibration (zone_id, stage, samples, lo_error, hi_error, learned_at)
	SELECT c.zone_id, c.stage, pg_catalog.count(*)::integer,
	       pg_catalog.percentile_cont((1 OPERATOR(pg_catalog.-) v_cover) OPERATOR(pg_catalog./) 2) WITHIN GROUP (ORDER BY c.error),
	       pg_catalog.percentile_cont((1 OPERATOR(pg_catalog.+) v_cover) OPERATOR(pg_catalog./) 2) WITHIN GROUP (ORDER BY c.error),
	       v_now
	  FROM (SELECT p.zone_id, p.stage,
	               (pg_catalog.date_part('epoch', p.delivered_at OPERATOR(pg_catalog.-) p.expected_again)
	                OPERATOR(pg_catalog./)
	                (pg_catalog.date_part('epoch', p.expected_again OPERATOR(pg_catalog.-) p.predicted_at)
	                 OPERATOR(pg_catalog.+) 300)) AS error
	          FROM (SELECT p.zone_id, p.stage, p.predicted_at, p.delivered_at,
	                       @extschema@._eta_expected(p.predicted_at,
	                                                 COALESCE(s.speed_mps, z.speed_mps)::float8 OPERATOR(pg_catalog.*) p.speed_factor,
	                                                 p.approach_m, p.trip_m, p.ready_at) AS expected_again
	                  FROM (SELECT p.*, o.delivered_at,
	                               pg_catalog.row_number() OVER (PARTITION BY p.zone_id, p.stage ORDER BY p.predicted_at DESC) AS recent
	                          -- zone by zone, the window's deliveries
	                          -- (orders_delivered_idx), then their
	                          -- predictions (by the key): never the older
	                          FROM @extschema@.zones w
	                          JOIN @extschema@.orders o ON o.zone_id OPERATOR(pg_catalog.=) w.zone_id
	                          JOIN @extschema@.eta_predictions p ON p.zone_id OPERATOR(pg_catalog.=) o.zone_id
	                                                            AND p.order_id OPERATOR(pg_catalog.=) o.order_id
	                         WHERE o.status OPERATOR(pg_catalog.=) 'delivered'
	                           AND o.delivered_at OPERATOR(pg_catalog.>=) v_since
	                           -- a window predicted when the order was
	                           -- delivered (a pickup and delivery synced
	                           -- offline together, both stamped with the
	                           -- sync's time) predicts nothing
	                           AND p.predicted_at OPERATOR(pg_catalog.<) o.delivered_at) p
	                  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) p.zone_id
	                  LEFT JOIN @extschema@.zone_speeds s ON s.zone_id OPERATOR(pg_catalog.=) p.zone_id
	                        AND s.hour_of_week OPERATOR(pg_catalog.=) @extschema@._hour_of_week(p.predicted_at, z.timezone)
	                 WHERE p.recent OPERATOR(pg_catalog.<=) 5000) p) c
	 GROUP BY c.zone_id, c.stage;
	GET DIAGNOSTICS v_stages = ROW_COUNT;
	RETURN pg_catalog.jsonb_build_object('zone_hours', v_speeds, 'zone_stages', v_stages, 'since', v_since);
END
$$;
COMMENT ON FUNCTION @extschema@.learn_eta() IS
	'Job: learns the zones'' speeds by hour of the week and the ETA windows'' calibration from the deliveries of the last dispatch.eta_learn_days days (docs/eta.md); returns how many rows of each it wrote.  Run hourly by pg_cron (schedule_maintenance).';
REVOKE ALL ON FUNCTION @extschema@.learn_eta() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.learn_eta() TO dispatch_admin;

-- _eta_accuracy (sql/63_eta.sql)
CREATE OR REPLACE FUNCTION @extschema@._eta_accuracy()
RETURNS TABLE (zone_id bigint, hour timestamp, stage text, deliveries bigint, coverage numeric,
               mean_width_minutes numeric, mean_abs_error_minutes numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.eta_accuracy;
END
$$;
COMMENT ON FUNCTION @extschema@._eta_accuracy() IS
	'Internal (eta_accuracy): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._eta_accuracy() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._eta_accuracy() TO dispatch_analyst, dispatch_admin;

-- _refuse_rider (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@._refuse_rider(p_zone bigint, p_rider_id bigint) RETURNS void
LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT FROM @extschema@.rider_zones z
	            WHERE z.rider_id OPERATOR(pg_catalog.=) p_rider_id
	              AND z.zone_id IS DISTINCT FROM p_zone) THEN
		RAISE EXCEPTION 'rider % does not exist in zone %', p_rider_id, p_zone
			USING ERRCODE = 'DP015', HINT = 'A rider stays in the zone it was registered in.';
	END IF;
	RAISE EXCEPTION 'rider % does not exist', p_rider_id USING ERRCODE = 'DP015';
END
$$;
COMMENT ON FUNCTION @extschema@._refuse_rider(bigint, bigint) IS
	'Internal: raises DP015 for a rider with no row in zone p_zone, naming the zone when the rider belongs to another.';
REVOKE ALL ON FUNCTION @extschema@._refuse_rider(bigint, bigint) FROM PUBLIC;

-- rider_online_in_zone (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.rider_online_in_zone(zone_id bigint, rider_id bigint, lon float8, lat float8,
                                                 until timestamptz DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_point @extschema@.riders.position%TYPE := @extschema@._check_point(lon, lat, 'rider');
	v_now timestamptz := @extschema@.clock();
	v_zone bigint := rider_online_in_zone.zone_id;
	v_was text;
BEGIN
	IF until IS NOT NULL AND (NOT pg_catalog.isfinite(until) OR until OPERATOR(pg_catalog.<=) v_now) THEN
		RAISE EXCEPTION 'invalid shift end %', until
			USING ERRCODE = 'DP025', DETAIL = 'The end of a shift must lie in the future.';
	END IF;
	SELECT r.status INTO v_was
	  FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) rider_online_in_zone.rider_id AND r.forgotten_at IS NULL
	   FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM @extschema@._refuse_rider(v_zone, rider_id);
	END IF;
	-- a repeat: the rider is online already (positions come with
	-- update_rider_location); a shift end given moves the one known
	IF v_was OPERATOR(pg_catalog.=) 'online' THEN
		IF until IS NOT NULL THEN
			UPDATE @extschema@.riders r SET shift_ends_at = until
			 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
			   AND r.rider_id OPERATOR(pg_catalog.=) rider_online_in_zone.rider_id;
		END IF;
		RETURN;
	END IF;
	UPDATE @extschema@.riders r
	   SET status = 'online', position = v_point, position_at = v_now, online_since = v_now,
	       shift_ends_at = until, first_online_at = COALESCE(r.first_online_at, v_now)
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) rider_online_in_zone.rider_id;
	PERFORM @extschema@._emit_event(v_zone, 'rider_status', NULL, NULL, rider_id,
	                                '{"status": "online"}'::jsonb);
END
$$;
COMMENT ON FUNCTION @extschema@.rider_online_in_zone(bigint, bigint, float8, float8, timestamptz) IS
	'rider_online for a rider of the zone (the zone it was registered in; any other is refused, DP015, nothing written); on Citus the call is sent whole to the zone''s worker.';
REVOKE ALL ON FUNCTION @extschema@.rider_online_in_zone(bigint, bigint, float8, float8, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rider_online_in_zone(bigint, bigint, float8, float8, timestamptz) TO dispatch_app, dispatch_admin;

-- rider_online (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.rider_online(rider_id bigint, lon float8, lat float8,
                                         until timestamptz DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@.rider_online_in_zone(@extschema@._rider_zone(rider_id), rider_id, lon, lat, until);
END
$$;
COMMENT ON FUNCTION @extschema@.rider_online(bigint, float8, float8, timestamptz) IS
	'A rider starts a shift at a position, and says when it ends if it knows (until): matching then offers no order the rider could only pick up after that.  On a rider online already it only moves a given shift end (positions come with update_rider_location).';
REVOKE ALL ON FUNCTION @extschema@.rider_online(bigint, float8, float8, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rider_online(bigint, float8, float8, timestamptz) TO dispatch_app, dispatch_admin;

-- rider_offline_in_zone (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.rider_offline_in_zone(zone_id bigint, rider_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_zone bigint := rider_offline_in_zone.zone_id;
	v_was text;
	v_load integer;
BEGIN
	SELECT r.status INTO v_was
	  FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) rider_offline_in_zone.rider_id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM @extschema@._refuse_rider(v_zone, rider_id);
	END IF;
	-- a repeat: the rider is offline already
	IF v_was OPERATOR(pg_catalog.=) 'offline' THEN
		RETURN;
	END IF;
	v_load := @extschema@._rider_load(v_zone, rider_id);
	IF v_load OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION 'rider % still has % active orders', rider_id, v_load
			USING ERRCODE = 'DP021',
			      HINT = 'Deliver the orders, or release the assigned ones with release_order(order_id, rider_id, reason), first.';
	END IF;
	-- the time is stamped here, the caller's clock: the riders_shift trigger
	-- takes it from the row (on Citus it fires on the zone's worker); what
	-- is left of a plan (the end of one whose last order was delivered
	-- before it) goes with the shift: a rider back online is where it says
	UPDATE @extschema@.riders r
	   SET status = 'offline', online_since = NULL, shift_ends_at = NULL, last_offline_at = v_now,
	       free_at = NULL, free_position = NULL, plan_pickup_at = NULL, plan_pickup_position = NULL
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) rider_offline_in_zone.rider_id;
	PERFORM @extschema@._emit_event(v_zone, 'rider_status', NULL, NULL, rider_id,
	                                '{"status": "offline"}'::jsonb);
END
$$;
COMMENT ON FUNCTION @extschema@.rider_offline_in_zone(bigint, bigint) IS
	'rider_offline for a rider of the zone (the zone it was registered in; any other is refused, DP015, nothing written); on Citus the call is sent whole to the zone''s worker.';
REVOKE ALL ON FUNCTION @extschema@.rider_offline_in_zone(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rider_offline_in_zone(bigint, bigint) TO dispatch_app, dispatch_admin;

-- rider_offline (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.rider_offline(rider_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@.rider_offline_in_zone(@extschema@._rider_zone(rider_id), rider_id);
END
$$;
COMMENT ON FUNCTION @extschema@.rider_offline(bigint) IS
	'A rider ends a shift; refused (DP021) while they hold orders (release_order gives back an assigned one).  On a rider offline already it is a no-op.  From then on the rider''s pings are refused (DP029) until rider_online.';

-- update_rider_location_in_zone (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.update_rider_location_in_zone(zone_id bigint, rider_id bigint, lon float8, lat float8,
                                                         at timestamptz DEFAULT @extschema@.clock())
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_update_rider_location_in_zone';
COMMENT ON FUNCTION @extschema@.update_rider_location_in_zone(bigint, bigint, float8, float8, timestamptz) IS
	'Records a position ping of a rider of the zone (the zone it was registered in; any other is refused, DP015, nothing written), as update_rider_location does (an offline rider''s is refused, DP029); on Citus the call is sent whole to the zone''s worker.';
REVOKE ALL ON FUNCTION @extschema@.update_rider_location_in_zone(bigint, bigint, float8, float8, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.update_rider_location_in_zone(bigint, bigint, float8, float8, timestamptz) TO dispatch_app, dispatch_admin;

-- update_rider_location (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.update_rider_location(rider_id bigint, lon float8, lat float8,
                                                 at timestamptz DEFAULT @extschema@.clock())
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_update_rider_location';
COMMENT ON FUNCTION @extschema@.update_rider_location(bigint, float8, float8, timestamptz) IS
	'Records a rider''s position ping; out-of-order pings are kept in the track but do not move the rider back.  An offline rider''s ping is refused (DP029), nothing written: no position is recorded off shift; so is one whose time lies in the break before the rider''s current shift, or before the rider''s first shift.';

-- update_rider_plan_in_zone (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.update_rider_plan_in_zone(zone_id bigint, rider_id bigint, free_at timestamptz,
                                                      lon float8, lat float8,
                                                      pickup_at timestamptz DEFAULT NULL,
                                                      pickup_lon float8 DEFAULT NULL, pickup_lat float8 DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_point @extschema@.riders.free_position%TYPE := @extschema@._check_point(lon, lat, 'rider');
	v_pickup @extschema@.riders.plan_pickup_position%TYPE;
	v_now timestamptz := @extschema@.clock();
BEGIN
	IF free_at IS NULL OR NOT pg_catalog.isfinite(free_at) THEN
		RAISE EXCEPTION 'invalid plan time %', free_at
			USING ERRCODE = 'DP025', DETAIL = 'A plan needs a finite time at which the rider will be free.';
	END IF;
	-- a time days or years from now is a slip of the rider's app (a unit, a
	-- year), as merchant_accept takes a ready time: the end of such a plan
	-- would outlive the rider's last delivery (the orders_rider_load
	-- trigger keeps a plan's end until its time), and a rider holding no
	-- orders can send no plan to replace it, so matching would cost the
	-- rider as busy until then
	IF free_at OPERATOR(pg_catalog.>) (v_now OPERATOR(pg_catalog.+) interval '1 day')
	   OR free_at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) interval '1 day') THEN
		RAISE EXCEPTION 'plan time % is more than a day from now', free_at
			USING ERRCODE = 'DP025', DETAIL = 'A plan says when the rider will be done with the orders it holds.';
	END IF;
	IF (pickup_at IS NULL) <> (pickup_lon IS NULL) OR (pickup_at IS NULL) <> (pickup_lat IS NULL) THEN
		RAISE EXCEPTION 'a plan''s next pickup needs its time and both coordinates'
			USING ERRCODE = 'DP025';
	END IF;
	IF pickup_at IS NOT NULL THEN
		IF NOT pg_catalog.isfinite(pickup_at) OR pickup_at OPERATOR(pg_catalog.>) free_at THEN
			RAISE EXCEPTION 'invalid pickup time % of a plan done at %', pickup_at, free_at
				USING ERRCODE = 'DP025', DETAIL = 'The next pickup comes before the plan is done.';
		END IF;
		-- not after free_at, so at most a day ahead; a day or more ago is
		-- the same slip as above (the trip would be costed as reached)
		IF pickup_at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) interval '1 day') THEN
			RAISE EXCEPTION 'pickup time % of a plan is more than a day ago', pickup_at
				USING ERRCODE = 'DP025';
		END IF;
		v_pickup := @extschema@._check_point(pickup_lon, pickup_lat, 'pickup');
	END IF;
	UPDATE @extschema@.riders r
	   SET free_at = update_rider_plan_in_zone.free_at, free_position = v_point,
	       plan_pickup_at = update_rider_plan_in_zone.pickup_at, plan_pickup_position = v_pickup
	 WHERE r.zone_id OPERATOR(pg_catalog.=) update_rider_plan_in_zone.zone_id
	   AND r.rider_id OPERATOR(pg_catalog.=) update_rider_plan_in_zone.rider_id
	   AND r.active_orders OPERATOR(pg_catalog.>) 0;
	IF FOUND THEN
		RETURN true;
	END IF;
	-- an erased rider (forget_rider) is refused as an unknown one
	PERFORM FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) update_rider_plan_in_zone.zone_id
	   AND r.rider_id OPERATOR(pg_catalog.=) update_rider_plan_in_zone.rider_id
	   AND r.forgotten_at IS NULL;
	IF NOT FOUND THEN
		PERFORM @extschema@._refuse_rider(update_rider_plan_in_zone.zone_id, rider_id);
	END IF;
	-- holding no orders, the rider is free now: nothing to plan
	RETURN false;
END
$$;
COMMENT ON FUNCTION @extschema@.update_rider_plan_in_zone(bigint, bigint, timestamptz, float8, float8, timestamptz, float8, float8) IS
	'The plan of a rider of the zone (the zone it was registered in; any other is refused, DP015, nothing written), as update_rider_plan records it; on Citus the call is sent whole to the zone''s worker.';
REVOKE ALL ON FUNCTION @extschema@.update_rider_plan_in_zone(bigint, bigint, timestamptz, float8, float8, timestamptz, float8, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.update_rider_plan_in_zone(bigint, bigint, timestamptz, float8, float8, timestamptz, float8, float8) TO dispatch_app, dispatch_admin;

-- update_rider_plan (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.update_rider_plan(rider_id bigint, free_at timestamptz, lon float8, lat float8,
                                              pickup_at timestamptz DEFAULT NULL,
                                              pickup_lon float8 DEFAULT NULL, pickup_lat float8 DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN @extschema@.update_rider_plan_in_zone(@extschema@._rider_zone(rider_id), rider_id, free_at, lon, lat,
	                                             pickup_at, pickup_lon, pickup_lat);
END
$$;
COMMENT ON FUNCTION @extschema@.update_rider_plan(bigint, timestamptz, float8, float8, timestamptz, float8, float8) IS
	'A rider holding orders says when and where it will be done with them, and optionally when it reaches its next pickup of a trip not yet started; matching costs its next order from there, or from that pickup for an order that can join the trip (docs/matching.md).  Returns false, recording nothing, when the rider holds no orders; an unknown or erased rider is refused (DP015); a time not finite or more than a day from now (after or before) DP025.';
REVOKE ALL ON FUNCTION @extschema@.update_rider_plan(bigint, timestamptz, float8, float8, timestamptz, float8, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.update_rider_plan(bigint, timestamptz, float8, float8, timestamptz, float8, float8) TO dispatch_app, dispatch_admin;

-- _merchant_accept (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@._merchant_accept(p_zone bigint, order_id bigint, ready_at timestamptz DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders := @extschema@._lock_order(order_id);
	v_prep integer;
	v_ready timestamptz;
BEGIN
	PERFORM @extschema@._check_order_zone(p_zone, order_id);
	IF v_order.kind OPERATOR(pg_catalog.<>) 'takeaway' THEN
		RAISE EXCEPTION 'order % is an errand: it has no merchant to accept it', order_id USING ERRCODE = 'DP025';
	END IF;
	IF ready_at IS NOT NULL AND NOT pg_catalog.isfinite(ready_at) THEN
		RAISE EXCEPTION 'ready time must be finite' USING ERRCODE = 'DP025';
	END IF;
	-- a repeat: the merchant accepted already, and the order may have moved
	-- on since (assigned, picked up, delivered); it is never taken back
	IF v_order.status IN ('accepted', 'assigned', 'picked_up', 'delivered') THEN
		IF _merchant_accept.ready_at IS NULL OR _merchant_accept.ready_at OPERATOR(pg_catalog.=) v_order.ready_at THEN
			RETURN;
		END IF;
		RAISE EXCEPTION 'order % was accepted already with another ready time (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP105',
			      DETAIL = pg_catalog.format('It is ready at %s; this call says %s.', v_order.ready_at, _merchant_accept.ready_at),
			      HINT = 'merchant_accept does not move the ready time of an accepted order.';
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) 'placed' THEN
		RAISE EXCEPTION 'order % cannot be accepted by the merchant (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP104', DETAIL = 'A merchant accepts a placed (paid) order.';
	END IF;
	-- a ready time days or years out is a slip of the merchant's app (a
	-- unit, a year), and would give the order an ETA window as wide; so is
	-- one days or years ago, whose food would count as waiting since then
	-- (matching would take the order for the most urgent of the zone);
	-- checked after the repeat above, so that a retry stays a no-op
	IF _merchant_accept.ready_at OPERATOR(pg_catalog.>) (@extschema@.clock() OPERATOR(pg_catalog.+) interval '1 day') THEN
		RAISE EXCEPTION 'ready time % is more than a day away', _merchant_accept.ready_at USING ERRCODE = 'DP025',
			HINT = 'Give the time the food will be ready today, or NULL for now plus the merchant''s preparation time.';
	END IF;
	IF _merchant_accept.ready_at OPERATOR(pg_catalog.<) (@extschema@.clock() OPERATOR(pg_catalog.-) interval '1 day') THEN
		RAISE EXCEPTION 'ready time % is more than a day ago', _merchant_accept.ready_at USING ERRCODE = 'DP025',
			HINT = 'Give the time the food will be (or was) ready today, or NULL for now plus the merchant''s preparation time.';
	END IF;
	SELECT m.prep_minutes INTO v_prep FROM @extschema@.merchants m
	 WHERE m.merchant_id OPERATOR(pg_catalog.=) v_order.merchant_id;
	-- computed before the UPDATE: Citus evaluates no volatile function
	-- within a COALESCE of a distributed UPDATE
	v_ready := COALESCE(_merchant_accept.ready_at,
	                    @extschema@.clock() OPERATOR(pg_catalog.+) pg_catalog.make_interval(mins => v_prep));
	UPDATE @extschema@.orders o
	   SET status = 'accepted', ready_at = v_ready,
	       ready_at_given = _merchant_accept.ready_at IS NOT NULL     -- else a guess, no ETA floor
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
END
$$;
COMMENT ON FUNCTION @extschema@._merchant_accept(bigint, bigint, timestamptz) IS
	'Internal: merchant_accept in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
REVOKE ALL ON FUNCTION @extschema@._merchant_accept(bigint, bigint, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._merchant_accept(bigint, bigint, timestamptz) TO dispatch_app, dispatch_admin;

-- merchant_accept (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.merchant_accept(order_id bigint, ready_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._merchant_accept(@extschema@.zone_of(order_id), order_id, ready_at);
COMMENT ON FUNCTION @extschema@.merchant_accept(bigint, timestamptz) IS
	'The merchant accepts a placed order; ready_at (default now + prep time) is when the food will be ready.  Repeated once the order is accepted (or has moved on), a no-op with the same or no ready time, DP105 with another; DP104 on an order not paid or cancelled; DP025 for a ready time not finite or more than a day from now (after or before).';

-- _assign_manually (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@._assign_manually(p_zone bigint, order_id bigint, rider_id bigint, by text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint := @extschema@.zone_of(order_id);
	v_now timestamptz := @extschema@.clock();
	v_order @extschema@.orders;
	v_over integer;
	v_w record;
BEGIN
	PERFORM @extschema@._check_order_zone(p_zone, order_id);
	IF @extschema@._is_blank(by) THEN
		RAISE EXCEPTION 'a manual assignment names the dispatcher who made it' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('dispatcher', by);
	-- no rider given is no rider known (the eligibility rule below, STRICT,
	-- would let it through to the state machine's invariant, DP102)
	IF rider_id IS NULL THEN
		PERFORM @extschema@._refuse_rider(v_zone, rider_id);
	END IF;

	-- Locks in the order of matching (docs/matching.md): the zone (no batch
	-- runs meanwhile, so no offer appears), the riders (ours, and the one
	-- holding the order's pending offer, whose slot the assignment gives
	-- back) with the order's offer, our rider's other pending offers (they
	-- may be withdrawn), then the order.
	PERFORM @extschema@._lock_zone_routed(v_zone, order_id, NULL, false);
	PERFORM @extschema@._lock_order_riders(order_id, rider_id);
	PERFORM FROM @extschema@.offers f
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND f.status OPERATOR(pg_catalog.=) 'pending'
	   AND f.rider_id OPERATOR(pg_catalog.=) _assign_manually.rider_id
	 ORDER BY f.offer_id FOR UPDATE;
	v_order := @extschema@._lock_order(order_id);

	-- a repeat: the order is this rider's already (and may have moved on)
	IF v_order.status IN ('assigned', 'picked_up', 'delivered')
	   AND v_order.rider_id OPERATOR(pg_catalog.=) _assign_manually.rider_id THEN
		RETURN;
	END IF;
	IF v_order.status OPERATOR(pg_catalog.=) 'assigned' THEN
		RAISE EXCEPTION 'order % cannot be assigned (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP104', DETAIL = pg_catalog.format('It is rider %s''s order.', v_order.rider_id),
			      HINT = 'Its rider can give it back with release_order.';
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) 'accepted' THEN
		RAISE EXCEPTION 'order % cannot be assigned (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP104', DETAIL = 'Only an accepted order is assigned.';
	END IF;

	-- the eligibility rule, the rider's pending offers aside: a dispatcher
	-- overrides the batch's offers, not the rider's limits
	PERFORM @extschema@._rider_can_take(order_id, rider_id, false);

	-- the order's own pending offer goes with the assignment (as the order's
	-- trigger would do, and told its rider as the trigger tells it), so that
	-- its slot counts as free if it is this rider's
	PERFORM @extschema@._cancel_pending_offer(v_zone, _assign_manually.order_id, 'order assigned', v_now);

	-- offers that would overfill the rider are withdrawn, newest first: they
	-- are cancelled, their orders wait for the next batch (the rider is not
	-- excluded for them), and the rider is told by an offer event
	SELECT r.active_orders OPERATOR(pg_catalog.+) r.pending_offers OPERATOR(pg_catalog.+) 1
	       OPERATOR(pg_catalog.-) r.capacity
	  INTO v_over
	  FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone AND r.rider_id OPERATOR(pg_catalog.=) _assign_manually.rider_id;
	IF v_over OPERATOR(pg_catalog.>) 0 THEN
		FOR v_w IN
			UPDATE @extschema@.offers f
			   SET status = 'cancelled', responded_at = v_now,
			       reason = 'withdrawn: rider assigned order ' OPERATOR(pg_catalog.||) _assign_manually.order_id::text
			                OPERATOR(pg_catalog.||) ' by hand'
			 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone
			   AND f.offer_id IN (SELECT p.offer_id FROM @extschema@.offers p
			                       WHERE p.zone_id OPERATOR(pg_catalog.=) v_zone
			                         AND p.rider_id OPERATOR(pg_catalog.=) _assign_manually.rider_id
			                         AND p.status OPERATOR(pg_catalog.=) 'pending'
			                       ORDER BY p.created_at DESC, p.offer_id DESC
			                       LIMIT v_over)
			RETURNING f.offer_id, f.order_id
		LOOP
			PERFORM @extschema@._offer_cancelled_event(v_zone, v_w.order_id, _assign_manually.rider_id, v_w.offer_id,
			                                           'withdrawn');
		END LOOP;
		UPDATE @extschema@.riders r
		   SET pending_offers = GREATEST(r.pending_offers OPERATOR(pg_catalog.-) v_over, 0)
		 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone AND r.rider_id OPERATOR(pg_catalog.=) _assign_manually.rider_id;
	END IF;

	UPDATE @extschema@.orders o
	   SET status = 'assigned', rider_id = _assign_manually.rider_id, assigned_by = by
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
END
$$;
COMMENT ON FUNCTION @extschema@._assign_manually(bigint, bigint, bigint, text) IS
	'Internal: assign_manually in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
REVOKE ALL ON FUNCTION @extschema@._assign_manually(bigint, bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._assign_manually(bigint, bigint, bigint, text) TO dispatch_app, dispatch_admin;

-- assign_manually (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.assign_manually(order_id bigint, rider_id bigint, by text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._assign_manually(@extschema@.zone_of(order_id), order_id, rider_id, by);
COMMENT ON FUNCTION @extschema@.assign_manually(bigint, bigint, text) IS
	'A dispatcher''s override: assigns an accepted order to a rider who can take it (the eligibility rule of matching, DP020 naming the reason), its pending offers aside: the order''s own pending offer is cancelled, and the rider''s newest pending offers that would overfill them are withdrawn (cancelled, with an offer event; their orders go to the next batch).  A no-op on an order that is this rider''s already; DP104 on any other status (never takes an order from its rider).';

-- _lock_order_riders (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@._lock_order_riders(p_order_id bigint, p_rider_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint := @extschema@.zone_of(p_order_id);
	v_riders bigint[];
BEGIN
	-- the riders' ids first, then their rows by key: as one semi-join the
	-- planner may walk every rider of the zone and look up the order and
	-- its offer once for each
	SELECT pg_catalog.array_agg(x.rider_id) INTO v_riders
	  FROM (SELECT p_rider_id
	        UNION ALL
	        SELECT o.rider_id FROM @extschema@.orders o
	         WHERE o.zone_id OPERATOR(pg_catalog.=) v_zone
	           AND o.order_id OPERATOR(pg_catalog.=) p_order_id
	        UNION ALL
	        SELECT f.rider_id FROM @extschema@.offers f
	         WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone
	           AND f.order_id OPERATOR(pg_catalog.=) p_order_id
	           AND f.status OPERATOR(pg_catalog.=) 'pending') x(rider_id)
	 WHERE x.rider_id IS NOT NULL;
	PERFORM FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) ANY (v_riders)
	 ORDER BY r.rider_id FOR UPDATE;
	PERFORM FROM @extschema@.offers f
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND f.order_id OPERATOR(pg_catalog.=) p_order_id
	   AND f.status OPERATOR(pg_catalog.=) 'pending'
	 ORDER BY f.offer_id FOR UPDATE;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_order_riders(bigint, bigint) IS
	'Internal: locks, before the order, the riders a change of the order may touch (p_rider_id, the order''s rider, the rider of its pending offer) in id order, then its pending offer.';
REVOKE ALL ON FUNCTION @extschema@._lock_order_riders(bigint, bigint) FROM PUBLIC;

-- _rider_step (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@._rider_step(p_order_id bigint, p_rider_id bigint, p_from text, p_to text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders;
	v_zone_locked boolean := false;
BEGIN
	-- a batch holds its zone's accepted orders while it waits for riders'
	-- rows: a step that would wait for an accepted order (refused then,
	-- DP104) takes the zone's lock first, shared, as cancel_order does, so
	-- that it never holds a rider such a batch waits for (a pickup or a
	-- delivery of the rider's own order, the hot path, takes none)
	IF (SELECT o.status FROM @extschema@.orders o
	     WHERE o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(p_order_id)
	       AND o.order_id OPERATOR(pg_catalog.=) p_order_id) OPERATOR(pg_catalog.=) 'accepted' THEN
		PERFORM @extschema@._lock_zone_routed(@extschema@.zone_of(p_order_id), p_order_id, NULL, true);
		v_zone_locked := true;
	END IF;
	PERFORM @extschema@._lock_order_riders(p_order_id, p_rider_id);
	-- taken back meanwhile (a replan or a release committed between the
	-- read above and the riders' locks, which now keep it from changing
	-- so): refused without waiting for the order, which a batch may hold
	IF NOT v_zone_locked
	   AND (SELECT o.status FROM @extschema@.orders o
	         WHERE o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(p_order_id)
	           AND o.order_id OPERATOR(pg_catalog.=) p_order_id) OPERATOR(pg_catalog.=) 'accepted' THEN
		RAISE EXCEPTION 'order % cannot be marked % (status "accepted")', p_order_id, p_to
			USING ERRCODE = 'DP104', DETAIL = pg_catalog.format('Only an order in status "%s" can.', p_from);
	END IF;
	v_order := @extschema@._lock_order(p_order_id);
	-- a repeat: this rider took the order there already (or beyond)
	IF v_order.rider_id OPERATOR(pg_catalog.=) p_rider_id
	   AND (v_order.status OPERATOR(pg_catalog.=) p_to
	        OR (p_to OPERATOR(pg_catalog.=) 'picked_up' AND v_order.status OPERATOR(pg_catalog.=) 'delivered')) THEN
		RETURN;
	END IF;
	IF v_order.status IN ('assigned', 'picked_up', 'delivered')
	   AND v_order.rider_id IS DISTINCT FROM p_rider_id THEN
		RAISE EXCEPTION 'rider % is not the rider of order % (status "%")', p_rider_id, p_order_id, v_order.status
			USING ERRCODE = 'DP019';
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) p_from THEN
		RAISE EXCEPTION 'order % cannot be marked % (status "%")', p_order_id, p_to, v_order.status
			USING ERRCODE = 'DP104', DETAIL = pg_catalog.format('Only an order in status "%s" can.', p_from);
	END IF;
	UPDATE @extschema@.orders o SET status = p_to
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) p_order_id;
END
$$;
COMMENT ON FUNCTION @extschema@._rider_step(bigint, bigint, text, text) IS
	'Internal: a rider moves their own order from p_from to p_to (pickup, delivery); a no-op when they took it there already, DP019 for another rider''s order, DP104 from any other status.';

-- _mark_picked_up (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@._mark_picked_up(p_zone bigint, order_id bigint, rider_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._check_order_zone(p_zone, order_id);
	PERFORM @extschema@._rider_step(order_id, rider_id, 'assigned', 'picked_up');
END
$$;
COMMENT ON FUNCTION @extschema@._mark_picked_up(bigint, bigint, bigint) IS
	'Internal: mark_picked_up in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
REVOKE ALL ON FUNCTION @extschema@._mark_picked_up(bigint, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._mark_picked_up(bigint, bigint, bigint) TO dispatch_app, dispatch_admin;

-- mark_picked_up (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.mark_picked_up(order_id bigint, rider_id bigint)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._mark_picked_up(@extschema@.zone_of(order_id), order_id, rider_id);
COMMENT ON FUNCTION @extschema@.mark_picked_up(bigint, bigint) IS
	'The assigned rider has picked the order up.';

-- _mark_delivered (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@._mark_delivered(p_zone bigint, order_id bigint, rider_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._check_order_zone(p_zone, order_id);
	PERFORM @extschema@._rider_step(order_id, rider_id, 'picked_up', 'delivered');
END
$$;
COMMENT ON FUNCTION @extschema@._mark_delivered(bigint, bigint, bigint) IS
	'Internal: mark_delivered in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
REVOKE ALL ON FUNCTION @extschema@._mark_delivered(bigint, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._mark_delivered(bigint, bigint, bigint) TO dispatch_app, dispatch_admin;

-- mark_delivered (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.mark_delivered(order_id bigint, rider_id bigint)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._mark_delivered(@extschema@.zone_of(order_id), order_id, rider_id);
COMMENT ON FUNCTION @extschema@.mark_delivered(bigint, bigint) IS
	'The assigned rider has delivered the order.';

-- _cancel_order (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@._cancel_order(p_zone bigint, order_id bigint, reason text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders;
	v_items bigint[];
	v_qtys integer[];
	v_line integer;
BEGIN
	PERFORM @extschema@._check_order_zone(p_zone, order_id);
	IF @extschema@._is_blank(reason) THEN
		RAISE EXCEPTION 'a cancellation needs a reason' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('reason', reason);
	-- the zone's lock, shared: no batch offers the order while its riders
	-- are locked; then riders, offer, order
	PERFORM @extschema@._lock_zone_routed(@extschema@.zone_of(order_id), order_id, NULL, true);
	PERFORM @extschema@._lock_order_riders(order_id, NULL);
	v_order := @extschema@._lock_order(order_id);
	-- a repeat: cancelled already
	IF v_order.status OPERATOR(pg_catalog.=) 'cancelled' THEN
		RETURN;
	END IF;
	IF v_order.status NOT IN ('pending_payment', 'payment_failed', 'placed', 'accepted', 'assigned') THEN
		RAISE EXCEPTION 'order % cannot be cancelled (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP104', DETAIL = 'An order is cancelled before pickup only.';
	END IF;
	UPDATE @extschema@.orders o
	   SET status = 'cancelled', cancel_reason = reason
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
	UPDATE @extschema@.payments p
	   SET status = 'failed', failure_reason = 'order cancelled', settled_at = @extschema@.clock()
	 WHERE p.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND p.order_id OPERATOR(pg_catalog.=) v_order.order_id
	   AND p.status OPERATOR(pg_catalog.=) 'pending';
	-- what was taken from stock goes back to the zone's counts, in item
	-- order as intake takes it (the lines read first, for that order);
	-- a line of an item unlimited when ordered took nothing; a count set
	-- since near the largest integer stays at it (an overflow here would
	-- leave the order impossible to cancel)
	SELECT pg_catalog.array_agg(oi.item_id ORDER BY oi.item_id), pg_catalog.array_agg(oi.qty ORDER BY oi.item_id)
	  INTO v_items, v_qtys
	  FROM @extschema@.order_items oi
	 WHERE oi.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND oi.order_id OPERATOR(pg_catalog.=) v_order.order_id
	   AND oi.stock_taken;
	FOR v_line IN 1 .. COALESCE(pg_catalog.cardinality(v_items), 0) LOOP
		UPDATE @extschema@.item_stock s
		   SET stock = LEAST(s.stock::bigint OPERATOR(pg_catalog.+) v_qtys[v_line], 2147483647)::integer
		 WHERE s.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND s.item_id OPERATOR(pg_catalog.=) v_items[v_line];
	END LOOP;
	-- and what it took of a campaign, a coupon and points (sql/52_campaigns.sql)
	PERFORM @extschema@._offer_return(v_order.zone_id, v_order.order_id);
	-- a paid order is refunded (sql/62_refunds.sql)
	PERFORM @extschema@._refund_cancelled(v_order, reason);
END
$$;
COMMENT ON FUNCTION @extschema@._cancel_order(bigint, bigint, text) IS
	'Internal: cancel_order in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
REVOKE ALL ON FUNCTION @extschema@._cancel_order(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._cancel_order(bigint, bigint, text) TO dispatch_app, dispatch_admin;

-- cancel_order (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.cancel_order(order_id bigint, reason text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._cancel_order(@extschema@.zone_of(order_id), order_id, reason);
COMMENT ON FUNCTION @extschema@.cancel_order(bigint, text) IS
	'Cancels an order before pickup: a pending payment is voided, a succeeded one is refunded (a refund record and a refund event), the stock it took is returned (an item unlimited when ordered took none), and so are its campaign discount (to the budget), its coupon use and its points.  A no-op on a cancelled order; DP104 once picked up.';

-- _release_order (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@._release_order(p_zone bigint, order_id bigint, rider_id bigint, reason text,
                                           p_exclude boolean) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders;
	v_now timestamptz := @extschema@.clock();
	v_offer bigint;
BEGIN
	PERFORM @extschema@._check_order_zone(p_zone, order_id);
	IF @extschema@._is_blank(reason) THEN
		RAISE EXCEPTION 'a release needs a reason' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('reason', reason);
	-- the zone's lock, shared, before the riders: the order may be accepted
	-- (a repeat, a replan of an order taken back already), and a batch
	-- holding it waits for riders' rows (as cancel_order)
	PERFORM @extschema@._lock_zone_routed(p_zone, order_id, NULL, true);
	PERFORM @extschema@._lock_order_riders(order_id, rider_id);
	v_order := @extschema@._lock_order(order_id);
	-- a repeat: this rider released the order already and nobody holds it
	-- since; a replan: the order waits for a batch already, held by nobody
	IF v_order.rider_id IS NULL
	   AND ((p_exclude AND EXISTS (SELECT FROM @extschema@.offer_exclusions e
	                                WHERE e.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	                                  AND e.order_id OPERATOR(pg_catalog.=) v_order.order_id
	                                  AND e.rider_id OPERATOR(pg_catalog.=) _release_order.rider_id
	                                  AND e.reason OPERATOR(pg_catalog.=) 'released'))
	        OR (NOT p_exclude AND v_order.status OPERATOR(pg_catalog.=) 'accepted')) THEN
		RETURN;
	END IF;
	IF v_order.rider_id IS DISTINCT FROM _release_order.rider_id AND v_order.rider_id IS NOT NULL THEN
		RAISE EXCEPTION 'rider % is not the rider of order % (status "%")', rider_id, order_id, v_order.status
			USING ERRCODE = 'DP019';
	END IF;
	IF v_order.status OPERATOR(pg_catalog.<>) 'assigned' THEN
		RAISE EXCEPTION 'order % cannot be released (status "%")', order_id, v_order.status
			USING ERRCODE = 'DP104', DETAIL = 'Only an assigned order that is not picked up yet is released.';
	END IF;

	-- the rider goes in the same update: the state machine allows no other release
	UPDATE @extschema@.orders o SET status = 'accepted', rider_id = NULL, assigned_by = NULL
	 WHERE o.zone_id OPERATOR(pg_catalog.=) v_order.zone_id AND o.order_id OPERATOR(pg_catalog.=) v_order.order_id;
	-- the batch never offers it to this rider again (a release), or may (a
	-- replan)
	IF p_exclude THEN
		INSERT INTO @extschema@.offer_exclusions (zone_id, order_id, rider_id, at, reason, detail)
		VALUES (v_order.zone_id, v_order.order_id, _release_order.rider_id, v_now, 'released', reason)
		ON CONFLICT ON CONSTRAINT offer_exclusions_pkey
		DO UPDATE SET at = EXCLUDED.at, reason = EXCLUDED.reason, detail = EXCLUDED.detail;
	END IF;
	-- the accepted offer that gave the rider the order, if any
	UPDATE @extschema@.offers f SET status = 'released'
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND f.order_id OPERATOR(pg_catalog.=) v_order.order_id
	   AND f.rider_id OPERATOR(pg_catalog.=) _release_order.rider_id
	   AND f.status OPERATOR(pg_catalog.=) 'accepted'
	RETURNING f.offer_id INTO v_offer;
	IF v_offer IS NOT NULL THEN
		PERFORM @extschema@._emit_event(v_order.zone_id, 'offer', v_order.order_id, NULL, rider_id,
		                                pg_catalog.jsonb_build_object('offer_id', v_offer, 'status', 'released'));
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._release_order(bigint, bigint, bigint, text, boolean) IS
	'Internal: release_order (p_exclude true) and replan_order (false) in the order''s zone (p_zone, which must be the zone in the id: DP014 otherwise), the form Citus sends whole to the zone''s worker (docs/citus.md).';
REVOKE ALL ON FUNCTION @extschema@._release_order(bigint, bigint, bigint, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._release_order(bigint, bigint, bigint, text, boolean) TO dispatch_app, dispatch_admin;

-- release_order (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.release_order(order_id bigint, rider_id bigint, reason text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._release_order(@extschema@.zone_of(order_id), order_id, rider_id, reason, true);
COMMENT ON FUNCTION @extschema@.release_order(bigint, bigint, text) IS
	'The order''s rider gives back an assigned order (not yet picked up): it is accepted again without a rider, the offer that gave it is released, and the rider is excluded for it, so the next batch offers it to someone else.  A no-op once this rider released it; DP019 if another rider holds it, DP104 on any other status.';
REVOKE ALL ON FUNCTION @extschema@.release_order(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.release_order(bigint, bigint, text) TO dispatch_app, dispatch_admin;

-- replan_order (sql/65_lifecycle.sql)
CREATE OR REPLACE FUNCTION @extschema@.replan_order(order_id bigint, rider_id bigint)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN @extschema@._release_order(@extschema@.zone_of(order_id), order_id, rider_id, 'replanned', false);
COMMENT ON FUNCTION @extschema@.replan_order(bigint, bigint) IS
	'The dispatcher takes back an assigned order its rider has not picked up, to plan it again: it is accepted again without a rider and the offer that gave it is released, as release_order does, but the rider is not excluded: the next batch may give it to the same rider or to another.  A no-op on an order accepted and held by nobody (taken back already, or not given yet); DP019 if another rider holds it, DP104 on any other status.';
REVOKE ALL ON FUNCTION @extschema@.replan_order(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.replan_order(bigint, bigint) TO dispatch_app, dispatch_admin;

-- _sync_pings (sql/67_sync.sql)
CREATE OR REPLACE FUNCTION @extschema@._sync_pings(p_zone_id bigint, p_rider_id bigint, p_at timestamptz[],
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

-- sync_rider_in_zone (sql/67_sync.sql)
CREATE OR REPLACE FUNCTION @extschema@.sync_rider_in_zone(zone_id bigint, rider_id bigint, batch jsonb)
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

-- sync_rider (sql/67_sync.sql)
CREATE OR REPLACE FUNCTION @extschema@.sync_rider(rider_id bigint, batch jsonb)
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

-- _hex_cell (sql/68_demand.sql)
CREATE OR REPLACE FUNCTION @extschema@._hex_cell(p geometry, mercator_size float8, OUT i integer, OUT j integer)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_x float8 := 6378137 OPERATOR(pg_catalog.*) pg_catalog.radians(@extschema@._lon(p));
	v_y float8 := 6378137 OPERATOR(pg_catalog.*) pg_catalog.ln(pg_catalog.tan((pg_catalog.pi() OPERATOR(pg_catalog./) 4)
	                  OPERATOR(pg_catalog.+) (pg_catalog.radians(@extschema@._lat(p)) OPERATOR(pg_catalog./) 2)));
	v_w float8 := 1.5 OPERATOR(pg_catalog.*) mercator_size;
	v_h float8 := pg_catalog.sqrt(3::float8) OPERATOR(pg_catalog.*) mercator_size;
	v_col integer := pg_catalog.round(v_x OPERATOR(pg_catalog./) v_w)::integer;
	v_best float8;
	v_off float8;
	v_row integer;
	v_d float8;
BEGIN
	FOR c IN (v_col OPERATOR(pg_catalog.-) 1) .. (v_col OPERATOR(pg_catalog.+) 1) LOOP
		v_off := CASE WHEN c OPERATOR(pg_catalog.%) 2 OPERATOR(pg_catalog.<>) 0 THEN v_h OPERATOR(pg_catalog./) 2 ELSE 0 END;
		v_row := pg_catalog.round((v_y OPERATOR(pg_catalog.-) v_off) OPERATOR(pg_catalog./) v_h)::integer;
		v_d := ((v_x OPERATOR(pg_catalog.-) (v_w OPERATOR(pg_catalog.*) c)) OPERATOR(pg_catalog.^) 2)
		       OPERATOR(pg_catalog.+)
		       ((v_y OPERATOR(pg_catalog.-) (v_off OPERATOR(pg_catalog.+) (v_h OPERATOR(pg_catalog.*) v_row))) OPERATOR(pg_catalog.^) 2);
		IF v_best IS NULL OR v_d OPERATOR(pg_catalog.<) v_best THEN
			v_best := v_d;
			i := c;
			j := v_row;
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._hex_cell(geometry, float8) IS
	'Internal: the (i, j) of the hexagon of ST_HexagonGrid, in Web Mercator units of mercator_size, that holds a WGS 84 point.';
REVOKE ALL ON FUNCTION @extschema@._hex_cell(geometry, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._hex_cell(geometry, float8) TO dispatch_analyst, dispatch_admin;

-- _cell_size (sql/68_demand.sql)
CREATE OR REPLACE FUNCTION @extschema@._cell_size(p_area geometry) RETURNS float8
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN @extschema@._setting_int('dispatch.demand_cell_m')::float8
	       OPERATOR(pg_catalog./) pg_catalog.cos(pg_catalog.radians(@extschema@._lat(@extschema@._centroid(p_area))));
END
$$;
COMMENT ON FUNCTION @extschema@._cell_size(geometry) IS
	'Internal: the side of the demand cells of a zone with this area, in Web Mercator units: dispatch.demand_cell_m over the cosine of the latitude of the area''s centre.';
REVOKE ALL ON FUNCTION @extschema@._cell_size(geometry) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._cell_size(geometry) TO dispatch_analyst, dispatch_admin;

-- _zone_cell_size (sql/68_demand.sql)
CREATE OR REPLACE FUNCTION @extschema@._zone_cell_size(p_zone_id bigint) RETURNS float8
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_size float8;
BEGIN
	SELECT @extschema@._cell_size(z.area) INTO v_size
	  FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) p_zone_id;
	RETURN v_size;
END
$$;
COMMENT ON FUNCTION @extschema@._zone_cell_size(bigint) IS
	'Internal: _cell_size of a zone by its id; NULL for an unknown zone.';
REVOKE ALL ON FUNCTION @extschema@._zone_cell_size(bigint) FROM PUBLIC;

-- _demand_heatmap (sql/68_demand.sql)
CREATE OR REPLACE FUNCTION @extschema@._demand_heatmap(p_zone_id bigint)
RETURNS TABLE (zone_id bigint, i integer, j integer, hour_of_week smallint, orders bigint, weeks_with_orders bigint,
               cell geometry)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone record;
	v_size float8;
BEGIN
	FOR v_zone IN SELECT z.zone_id, z.timezone, z.area FROM @extschema@.zones z
	               WHERE p_zone_id IS NULL OR z.zone_id OPERATOR(pg_catalog.=) p_zone_id
	               ORDER BY z.zone_id LOOP
		v_size := @extschema@._cell_size(v_zone.area);
		RETURN QUERY
		SELECT o.zone_id, c.i, c.j,
		       @extschema@._hour_of_week(o.created_at, v_zone.timezone),
		       pg_catalog.count(*),
		       pg_catalog.count(DISTINCT pg_catalog.date_trunc('week', o.created_at AT TIME ZONE v_zone.timezone)),
		       @extschema@._hexagon(v_size, c.i, c.j)
		  FROM @extschema@.orders o
		 CROSS JOIN LATERAL @extschema@._hex_cell(o.dropoff, v_size) c
		 WHERE o.zone_id OPERATOR(pg_catalog.=) v_zone.zone_id
		   AND o.placed_at IS NOT NULL
		 GROUP BY o.zone_id, c.i, c.j, @extschema@._hour_of_week(o.created_at, v_zone.timezone);
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._demand_heatmap(bigint) IS
	'Internal (demand_heatmap): the view''s rows of one zone (p_zone_id NULL: every zone in turn), read zone by zone, each query naming its zone: what _demand_heatmap() and, on Citus, demand_heatmap_in_zone read (their owner''s rights).';
REVOKE ALL ON FUNCTION @extschema@._demand_heatmap(bigint) FROM PUBLIC;

-- _demand_heatmap (sql/68_demand.sql)
CREATE OR REPLACE FUNCTION @extschema@._demand_heatmap()
RETURNS TABLE (zone_id bigint, i integer, j integer, hour_of_week smallint, orders bigint, weeks_with_orders bigint,
               cell geometry)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN QUERY SELECT * FROM @extschema@._demand_heatmap(NULL::bigint);
END
$$;
COMMENT ON FUNCTION @extschema@._demand_heatmap() IS
	'Internal (demand_heatmap): the view''s rows, every zone in turn (_demand_heatmap(NULL)), read with the extension''s rights: what the view reads on Citus (distribute()), a filter on it applied to them after.';
REVOKE ALL ON FUNCTION @extschema@._demand_heatmap() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._demand_heatmap() TO dispatch_analyst, dispatch_admin;

-- forecast_demand (sql/68_demand.sql)
CREATE OR REPLACE FUNCTION @extschema@.forecast_demand(zone_id bigint, at timestamptz)
RETURNS TABLE (i integer, j integer, expected float8, method text, cell geometry)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_tz text;
	v_size float8;
	v_now timestamptz := @extschema@.clock();
	v_hour timestamp;
	v_first timestamptz;
	v_skip integer;
	v_weeks integer;
	v_zone float8;
	v_norm float8;
BEGIN
	SELECT z.timezone INTO v_tz FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) forecast_demand.zone_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'zone % does not exist', zone_id USING ERRCODE = 'DP741';
	END IF;
	IF at IS NULL OR NOT pg_catalog.isfinite(at) THEN
		RAISE EXCEPTION 'a forecast needs a finite time' USING ERRCODE = 'DP742';
	END IF;
	v_size := @extschema@._zone_cell_size(forecast_demand.zone_id);
	v_hour := pg_catalog.date_trunc('hour', at AT TIME ZONE v_tz);
	SELECT pg_catalog.min(o.created_at) INTO v_first FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) forecast_demand.zone_id;
	-- no order before the hour: no past week to learn from (and none of
	-- the week arithmetic below, which would leave the range of timestamps
	-- for a time in 4713 BC)
	IF v_first IS NULL OR v_hour OPERATOR(pg_catalog.<) pg_catalog.date_trunc('hour', v_first AT TIME ZONE v_tz) THEN
		RETURN;
	END IF;
	-- the weeks to skip: those whose hour is not over yet (an hour more
	-- than a week ahead); estimated in zone time, at most the answer (a
	-- DST shift is under a week), then stepped up to it in absolute time
	v_skip := GREATEST(pg_catalog.floor(pg_catalog.date_part('epoch', v_hour OPERATOR(pg_catalog.-) (v_now AT TIME ZONE v_tz))
	                                    OPERATOR(pg_catalog./) 604800)::integer OPERATOR(pg_catalog.-) 1, 0);
	WHILE ((v_hour OPERATOR(pg_catalog.-) pg_catalog.make_interval(weeks => v_skip OPERATOR(pg_catalog.+) 1)) AT TIME ZONE v_tz)
	      OPERATOR(pg_catalog.+) interval '1 hour' OPERATOR(pg_catalog.>) v_now LOOP
		v_skip := v_skip OPERATOR(pg_catalog.+) 1;
	END LOOP;
	-- the 8 weeks after those whose hour lies after the zone's first order
	SELECT pg_catalog.count(*)::integer, pg_catalog.sum(0.3 OPERATOR(pg_catalog.*) (0.7 OPERATOR(pg_catalog.^) (k OPERATOR(pg_catalog.-) 1)))
	  INTO v_weeks, v_norm
	  FROM pg_catalog.generate_series(1, 8) k
	 WHERE ((v_hour OPERATOR(pg_catalog.-) pg_catalog.make_interval(weeks => k OPERATOR(pg_catalog.+) v_skip)) AT TIME ZONE v_tz) OPERATOR(pg_catalog.>=)
	       pg_catalog.date_trunc('hour', v_first AT TIME ZONE v_tz) AT TIME ZONE v_tz;
	IF v_weeks OPERATOR(pg_catalog.=) 0 THEN
		RETURN;                       -- no history: nothing to expect
	END IF;

	RETURN QUERY
	WITH weeks AS (
		SELECT k, (0.3 OPERATOR(pg_catalog.*) (0.7 OPERATOR(pg_catalog.^) (k OPERATOR(pg_catalog.-) 1))) OPERATOR(pg_catalog./) v_norm AS w,
		       (v_hour OPERATOR(pg_catalog.-) pg_catalog.make_interval(weeks => k OPERATOR(pg_catalog.+) v_skip)) AT TIME ZONE v_tz AS since
		  FROM pg_catalog.generate_series(1, v_weeks) k),
	recent AS (                       -- paid orders of the three hours around each week's hour, with their cell
		SELECT w.w, o.created_at OPERATOR(pg_catalog.>=) w.since
		            AND o.created_at OPERATOR(pg_catalog.<) (w.since OPERATOR(pg_catalog.+) interval '1 hour') AS same_hour,
		       c.i, c.j
		  FROM weeks w
		  JOIN @extschema@.orders o
		    ON o.zone_id OPERATOR(pg_catalog.=) forecast_demand.zone_id
		   AND o.created_at OPERATOR(pg_catalog.>=) (w.since OPERATOR(pg_catalog.-) interval '1 hour')
		   AND o.created_at OPERATOR(pg_catalog.<) (w.since OPERATOR(pg_catalog.+) interval '2 hours')
		 CROSS JOIN LATERAL @extschema@._hex_cell(o.dropoff, v_size) c
		 WHERE o.placed_at IS NOT NULL),
	cells AS (
		SELECT r.i, r.j,
		       pg_catalog.count(*) FILTER (WHERE r.same_hour) AS n,
		       COALESCE(pg_catalog.sum(r.w) FILTER (WHERE r.same_hour), 0)::float8 AS weighted,
		       pg_catalog.count(*)::float8 OPERATOR(pg_catalog./) pg_catalog.sum(pg_catalog.count(*)) OVER () AS share
		  FROM recent r GROUP BY r.i, r.j),
	zone_expected AS (
		SELECT COALESCE(pg_catalog.sum(c.weighted), 0)::float8 AS expected FROM cells c)
	SELECT c.i, c.j,
	       CASE WHEN c.n OPERATOR(pg_catalog.>=) 3 THEN c.weighted ELSE z.expected OPERATOR(pg_catalog.*) c.share END,
	       CASE WHEN c.n OPERATOR(pg_catalog.>=) 3 THEN 'cell' ELSE 'zone share' END,
	       @extschema@._hexagon(v_size, c.i, c.j)
	  FROM cells c CROSS JOIN zone_expected z
	 ORDER BY 3 DESC, 1, 2;
END
$$;
COMMENT ON FUNCTION @extschema@.forecast_demand(bigint, timestamptz) IS
	'Expected paid orders per hexagon cell of the zone in the hour (zone time) of at: from the same hour of the last 8 weeks whose hour is over by clock(), exponentially weighted (0.3, then 0.7 times less a week); a cell with fewer than 3 orders in those hours gets the zone''s expectation times its share of the orders of the three hours around them (method ''zone share'').  docs/demand.md.  DP741 unknown zone, DP742 no time.';
REVOKE ALL ON FUNCTION @extschema@.forecast_demand(bigint, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.forecast_demand(bigint, timestamptz) TO dispatch_app, dispatch_analyst, dispatch_admin;

-- reposition_hints (sql/68_demand.sql)
CREATE OR REPLACE FUNCTION @extschema@.reposition_hints(zone_id bigint, orders_per_rider_hour float8 DEFAULT 2)
RETURNS TABLE (rider_id bigint, from_i integer, from_j integer, to_i integer, to_j integer,
               to_lon float8, to_lat float8, distance_m float8, cell_expected float8, cell_gap integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_size float8 := @extschema@._zone_cell_size(reposition_hints.zone_id);
	v_need jsonb := '{}';              -- "i,j" -> riders still wanted
	v_spare jsonb := '{}';             -- "i,j" -> riders it can still spare
	v_used bigint[] := '{}';
	v_fi integer[];                    -- the forecast: cells and expected orders
	v_fj integer[];
	v_fexpected float8[];
	v_pair record;
	v_to text;
	v_from text;
BEGIN
	IF v_size IS NULL THEN
		RAISE EXCEPTION 'zone % does not exist', zone_id USING ERRCODE = 'DP741';
	END IF;
	IF orders_per_rider_hour IS NULL OR NOT (orders_per_rider_hour OPERATOR(pg_catalog.>=) 0.01)
	   OR orders_per_rider_hour OPERATOR(pg_catalog.>) 100 THEN
		RAISE EXCEPTION 'orders_per_rider_hour must lie in [0.01, 100]' USING ERRCODE = 'DP743';
	END IF;

	-- the forecast first, on its own: it reads the zone's orders, and on
	-- Citus the statement below runs on the zone's worker, where a function
	-- that reads distributed tables cannot run
	SELECT pg_catalog.array_agg(x.i), pg_catalog.array_agg(x.j), pg_catalog.array_agg(x.expected)
	  INTO v_fi, v_fj, v_fexpected
	  FROM @extschema@.forecast_demand(reposition_hints.zone_id, v_now OPERATOR(pg_catalog.+) interval '30 minutes') x;

	FOR v_pair IN
		WITH f AS (
			SELECT x.i, x.j, x.expected
			  FROM ROWS FROM (pg_catalog.unnest(v_fi), pg_catalog.unnest(v_fj), pg_catalog.unnest(v_fexpected))
			       AS x(i, j, expected)),
		idle AS (
			SELECT r.rider_id, r.position, c.i, c.j
			  FROM @extschema@.riders r
			 CROSS JOIN LATERAL @extschema@._hex_cell(r.position, v_size) c
			 WHERE r.zone_id OPERATOR(pg_catalog.=) reposition_hints.zone_id
			   AND r.status OPERATOR(pg_catalog.=) 'online'
			   AND r.active_orders OPERATOR(pg_catalog.=) 0 AND r.pending_offers OPERATOR(pg_catalog.=) 0
			   AND r.position_at OPERATOR(pg_catalog.>=) (v_now OPERATOR(pg_catalog.-) interval '10 minutes')),
		supply AS (SELECT d.i, d.j, pg_catalog.count(*)::integer AS n FROM idle d GROUP BY d.i, d.j),
		cells AS (
			SELECT COALESCE(f.i, s.i) AS i, COALESCE(f.j, s.j) AS j, COALESCE(f.expected, 0) AS expected,
			       COALESCE(s.n, 0) AS supply
			  FROM f FULL JOIN supply s ON s.i OPERATOR(pg_catalog.=) f.i AND s.j OPERATOR(pg_catalog.=) f.j),
		balance AS (
			SELECT c.i, c.j, c.expected,
			       pg_catalog.floor((GREATEST(c.expected OPERATOR(pg_catalog.-) (c.supply OPERATOR(pg_catalog.*) orders_per_rider_hour), 0)
			                        OPERATOR(pg_catalog./) orders_per_rider_hour) OPERATOR(pg_catalog.+) 0.5)::integer AS need,
			       GREATEST(c.supply OPERATOR(pg_catalog.-)
			                pg_catalog.ceil(c.expected OPERATOR(pg_catalog./) orders_per_rider_hour)::integer, 0) AS spare
			  FROM cells c),
		targets AS (
			SELECT b.i, b.j, b.expected, b.need, @extschema@._centroid(@extschema@._hexagon(v_size, b.i, b.j)) AS centre
			  FROM balance b WHERE b.need OPERATOR(pg_catalog.>) 0)
		SELECT d.rider_id, d.i AS fi, d.j AS fj, t.i AS ti, t.j AS tj, t.centre,
		       @extschema@._distance_m(d.position, t.centre) AS distance_m, t.expected, t.need,
		       b.spare
		  FROM idle d
		  JOIN balance b ON b.i OPERATOR(pg_catalog.=) d.i AND b.j OPERATOR(pg_catalog.=) d.j AND b.spare OPERATOR(pg_catalog.>) 0
		 CROSS JOIN targets t
		 ORDER BY 7, 1, 4, 5
	LOOP
		v_to := v_pair.ti OPERATOR(pg_catalog.||) ',' OPERATOR(pg_catalog.||) v_pair.tj;
		v_from := v_pair.fi OPERATOR(pg_catalog.||) ',' OPERATOR(pg_catalog.||) v_pair.fj;
		IF v_pair.rider_id OPERATOR(pg_catalog.=) ANY (v_used)
		   OR COALESCE((v_need OPERATOR(pg_catalog.->>) v_to)::integer, v_pair.need) OPERATOR(pg_catalog.<=) 0
		   OR COALESCE((v_spare OPERATOR(pg_catalog.->>) v_from)::integer, v_pair.spare) OPERATOR(pg_catalog.<=) 0 THEN
			CONTINUE;
		END IF;
		v_need := v_need OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(v_to,
		              COALESCE((v_need OPERATOR(pg_catalog.->>) v_to)::integer, v_pair.need) OPERATOR(pg_catalog.-) 1);
		v_spare := v_spare OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(v_from,
		              COALESCE((v_spare OPERATOR(pg_catalog.->>) v_from)::integer, v_pair.spare) OPERATOR(pg_catalog.-) 1);
		v_used := v_used OPERATOR(pg_catalog.||) v_pair.rider_id;
		rider_id := v_pair.rider_id;
		from_i := v_pair.fi;
		from_j := v_pair.fj;
		to_i := v_pair.ti;
		to_j := v_pair.tj;
		to_lon := @extschema@._lon(v_pair.centre);
		to_lat := @extschema@._lat(v_pair.centre);
		distance_m := v_pair.distance_m;
		cell_expected := v_pair.expected;
		cell_gap := v_pair.need;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.reposition_hints(bigint, float8) IS
	'Which idle riders (online, holding nothing, seen in the last 10 minutes) should move to which cells for the coming hour: cells whose forecast (forecast_demand at clock() + 30 minutes) needs more riders than wait there, each rider good for orders_per_rider_hour orders; riders come from cells that can spare them, nearest first, each once, never more to a cell than its gap.  docs/demand.md.  DP741 unknown zone, DP743 bad rate.';
REVOKE ALL ON FUNCTION @extschema@.reposition_hints(bigint, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.reposition_hints(bigint, float8) TO dispatch_app, dispatch_admin;

-- stuck_after (sql/69_operations.sql)
CREATE OR REPLACE FUNCTION @extschema@.stuck_after(status text) RETURNS interval
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN CASE status
		WHEN 'pending_payment' THEN interval '15 minutes'   -- the payment service has not answered
		WHEN 'payment_failed'  THEN interval '30 minutes'   -- the customer neither retried nor cancelled
		WHEN 'placed'          THEN interval '10 minutes'   -- the merchant has not accepted
		WHEN 'accepted'        THEN interval '15 minutes'   -- after the food is ready, no rider has it
		WHEN 'assigned'        THEN interval '30 minutes'   -- after the food is ready, the rider has not picked it up
		WHEN 'picked_up'       THEN interval '60 minutes'   -- on the way for an hour
	END;
END
$$;
COMMENT ON FUNCTION @extschema@.stuck_after(text) IS
	'How long an order may stay in a status before stuck_orders lists it (accepted and assigned: counted from when the food is ready, if that is later than the status began); NULL for delivered and cancelled.';
REVOKE ALL ON FUNCTION @extschema@.stuck_after(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.stuck_after(text) TO dispatch_app, dispatch_analyst, dispatch_admin;

-- _stuck_orders (sql/69_operations.sql)
CREATE OR REPLACE FUNCTION @extschema@._stuck_orders()
RETURNS TABLE (zone_id bigint, order_id bigint, kind text, status text, rider_id bigint, merchant_id bigint,
               since timestamptz, due timestamptz, overdue_by interval)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.stuck_orders;
END
$$;
COMMENT ON FUNCTION @extschema@._stuck_orders() IS
	'Internal (stuck_orders): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._stuck_orders() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._stuck_orders() TO dispatch_analyst, dispatch_admin;

-- _rider_utilisation (sql/69_operations.sql)
CREATE OR REPLACE FUNCTION @extschema@._rider_utilisation()
RETURNS TABLE (zone_id bigint, hour timestamp, riders_online bigint, online_rider_hours numeric,
               busy_rider_hours numeric, utilisation numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.rider_utilisation;
END
$$;
COMMENT ON FUNCTION @extschema@._rider_utilisation() IS
	'Internal (rider_utilisation): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._rider_utilisation() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._rider_utilisation() TO dispatch_analyst, dispatch_admin;

-- _dispatch_kpis (sql/69_operations.sql)
CREATE OR REPLACE FUNCTION @extschema@._dispatch_kpis()
RETURNS TABLE (zone_id bigint, hour timestamp, orders bigint, delivered bigint, cancelled bigint,
               median_click_to_door interval, p90_click_to_door interval, on_time_share numeric,
               median_assigned_to_pickup interval, median_food_waiting interval,
               offers_per_assigned_order numeric, rider_utilisation numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.dispatch_kpis;
END
$$;
COMMENT ON FUNCTION @extschema@._dispatch_kpis() IS
	'Internal (dispatch_kpis): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._dispatch_kpis() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._dispatch_kpis() TO dispatch_analyst, dispatch_admin;

-- _order_anomalies (sql/69_operations.sql)
CREATE OR REPLACE FUNCTION @extschema@._order_anomalies()
RETURNS TABLE (zone_id bigint, hour timestamp, kind text, count bigint, base bigint, rate numeric,
               baseline_count bigint, baseline_base bigint, baseline_rate numeric, z_score numeric,
               flagged boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.order_anomalies;
END
$$;
COMMENT ON FUNCTION @extschema@._order_anomalies() IS
	'Internal (order_anomalies): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._order_anomalies() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._order_anomalies() TO dispatch_analyst, dispatch_admin;

-- _sentiment_feature_ok (sql/70_sentiment.sql)
CREATE OR REPLACE FUNCTION @extschema@._sentiment_feature_ok(feature text) RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_sentiment_feature_ok';
COMMENT ON FUNCTION @extschema@._sentiment_feature_ok(text) IS
	'Internal: whether the sentiment model loader accepts a learned feature name (sentiment_weights_feature_check): an optional "!" (negated), an optional "#" (Chinese bigram), then 1 to 64 bytes of UTF-8 that do not start with "!" or "#".  The rule is the C core''s (src/sentiment_core.c), the one the loader applies.';
REVOKE ALL ON FUNCTION @extschema@._sentiment_feature_ok(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._sentiment_feature_ok(text) TO dispatch_admin;

-- _sentiment_weight (sql/70_sentiment.sql)
CREATE OR REPLACE FUNCTION @extschema@._sentiment_weight(feature text, log_odds double precision)
RETURNS double precision
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_sentiment_weight';
COMMENT ON FUNCTION @extschema@._sentiment_weight(text, double precision) IS
	'The weight train_sentiment() learns for a feature with this naive-Bayes log-odds, NULL when it is too weak to keep: weak log-odds are dropped, the rest clipped and scaled, less for Chinese bigrams.  The rule and its constants are the C core''s (src/sentiment_core.h), which tools/sentiment/train.py reads too.';
REVOKE ALL ON FUNCTION @extschema@._sentiment_weight(text, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._sentiment_weight(text, double precision) TO dispatch_admin;

-- train_sentiment (sql/70_sentiment.sql)
CREATE OR REPLACE FUNCTION @extschema@.train_sentiment(query text,
                                            min_documents integer DEFAULT 3,
                                            max_features integer DEFAULT 50000,
                                            smoothing double precision DEFAULT 1.0)
RETURNS integer
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
AS $fn$
DECLARE
	v_docs      bigint;
	v_pos       bigint;
	v_features  integer;
BEGIN
	-- not STRICT: a NULL query or option is an error, not a NULL result
	-- that trains nothing
	IF query IS NULL THEN
		RAISE EXCEPTION 'training needs a query'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'The query must return (text, label) with label castable to boolean, e.g. rating >= 4.';
	END IF;
	IF min_documents IS NULL OR max_features IS NULL OR smoothing IS NULL
	   OR min_documents OPERATOR(pg_catalog.<) 1 OR max_features OPERATOR(pg_catalog.<) 1
	   OR smoothing OPERATOR(pg_catalog.<=) 0 THEN
		RAISE EXCEPTION 'invalid training option'
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'min_documents and max_features must be at least 1, smoothing above 0; none of them NULL.';
	END IF;
	PERFORM @extschema@._check_length('training_query', query);

	-- one trainer at a time; scorers keep reading the old model meanwhile
	LOCK TABLE @extschema@.sentiment_weights IN EXCLUSIVE MODE;

	-- the caller's query runs once, with the caller's rights and search_path
	IF pg_catalog.to_regclass('pg_temp.sentiment_training_docs') IS NULL THEN
		CREATE TEMP TABLE sentiment_training_docs (
			doc bigint, label boolean, body text) ON COMMIT DROP;
	ELSE
		TRUNCATE pg_temp.sentiment_training_docs;
	END IF;
	EXECUTE pg_catalog.format(
		'INSERT INTO pg_temp.sentiment_training_docs (doc, label, body) '
		'SELECT pg_catalog.row_number() OVER (), q.label::pg_catalog.bool, q.body::pg_catalog.text '
		'  FROM (%s) AS q (body, label) '
		' WHERE q.body IS NOT NULL AND q.label IS NOT NULL', query);

	SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE d.label)
	  INTO v_docs, v_pos
	  FROM pg_temp.sentiment_training_docs d;
	IF v_pos OPERATOR(pg_catalog.=) 0 OR v_pos OPERATOR(pg_catalog.=) v_docs THEN
		RAISE EXCEPTION 'training needs both positive and negative documents'
			USING ERRCODE = 'DP503',
			      DETAIL = pg_catalog.format('The query gave %s documents, %s of them positive.', v_docs, v_pos),
			      HINT = 'The query must return (text, label) with label castable to boolean, e.g. rating >= 4.';
	END IF;

	DELETE FROM @extschema@.sentiment_weights;

	-- naive-Bayes log-odds over document frequencies, as tools/sentiment/train.py;
	-- _sentiment_weight() turns them into weights with the constants train.py
	-- uses (note: OPERATOR() forms all bind alike, left to right: parenthesise)
	WITH feats AS (
		SELECT DISTINCT d.doc, d.label, f.feature
		  FROM pg_temp.sentiment_training_docs d,
		       pg_catalog.unnest(@extschema@.sentiment_features(d.body)) AS f (feature)
	), counts AS (
		SELECT f.feature,
		       pg_catalog.count(*) FILTER (WHERE f.label)::float8 AS pos,
		       pg_catalog.count(*) FILTER (WHERE NOT f.label)::float8 AS neg
		  FROM feats f
		 GROUP BY f.feature
		HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>=) min_documents
	), totals AS (
		SELECT pg_catalog.sum(c.pos) AS tp, pg_catalog.sum(c.neg) AS tn,
		       pg_catalog.count(*)::float8 AS v
		  FROM counts c
	), raw AS (
		SELECT c.feature, c.pos OPERATOR(pg_catalog.+) c.neg AS df,
		       pg_catalog.ln((c.pos OPERATOR(pg_catalog.+) smoothing)
		                     OPERATOR(pg_catalog./) (t.tp OPERATOR(pg_catalog.+) (smoothing OPERATOR(pg_catalog.*) t.v)))
		       OPERATOR(pg_catalog.-)
		       pg_catalog.ln((c.neg OPERATOR(pg_catalog.+) smoothing)
		                     OPERATOR(pg_catalog./) (t.tn OPERATOR(pg_catalog.+) (smoothing OPERATOR(pg_catalog.*) t.v)))
		       AS lo
		  FROM counts c, totals t
	), scaled AS (
		SELECT w.feature, w.df, w.weight
		  FROM (SELECT r.feature, r.df, @extschema@._sentiment_weight(r.feature, r.lo) AS weight
		          FROM raw r) AS w
		 WHERE w.weight IS NOT NULL
	)
	INSERT INTO @extschema@.sentiment_weights (feature, weight)
	SELECT s.feature, s.weight::real
	  FROM scaled s
	 ORDER BY s.df OPERATOR(pg_catalog.*) pg_catalog.abs(s.weight) DESC, s.feature COLLATE "C"
	 LIMIT max_features;
	GET DIAGNOSTICS v_features = ROW_COUNT;

	INSERT INTO @extschema@.sentiment_training (query, documents, positives, features)
	VALUES (query, v_docs, v_pos, v_features);
	RETURN v_features;
END
$fn$;
COMMENT ON FUNCTION @extschema@.train_sentiment(text, integer, integer, double precision) IS
	'Learns sentiment weights from any query returning (text, label), label castable to boolean (e.g. rating >= 4 for star ratings), and replaces the learned weights in one transaction.  The same data gives the same weights.  Returns the number of features kept.  A NULL query or option, min_documents or max_features below 1, or smoothing not above 0 is refused (22023) and changes nothing.';

-- submit_feedback (sql/75_feedback.sql)
CREATE OR REPLACE FUNCTION @extschema@.submit_feedback(order_id bigint, rating integer, comment text,
                                            channel text DEFAULT 'app')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order      @extschema@.orders;
	v_customer   bigint;
	v_id         bigint;
	v_rating     smallint;
	v_sealed     bytea;
	v_comment    text := NULLIF(pg_catalog.btrim(comment), '');
	v_text_score real;
	v_topics     text[] := '{}';
	v_first      boolean;
BEGIN
	IF order_id IS NULL OR channel IS NULL THEN
		RAISE EXCEPTION 'feedback needs an order and a channel' USING ERRCODE = 'DP504';
	END IF;
	IF rating IS NOT NULL AND (rating OPERATOR(pg_catalog.<) 1 OR rating OPERATOR(pg_catalog.>) 5) THEN
		RAISE EXCEPTION 'rating % is out of range', rating
			USING ERRCODE = 'DP504', DETAIL = 'A rating is 1 to 5 stars, or NULL with a comment.';
	END IF;
	IF rating IS NULL AND v_comment IS NULL THEN
		RAISE EXCEPTION 'feedback needs a rating or a comment' USING ERRCODE = 'DP504';
	END IF;
	IF channel OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]{0,31}$' THEN
		RAISE EXCEPTION 'invalid feedback channel "%"', channel
			USING ERRCODE = 'DP504', DETAIL = 'A channel is a lower-case name such as app, web or phone.';
	END IF;
	PERFORM @extschema@._check_length('feedback_comment', comment);

	-- the customer's lock (shared, as sealing takes it) before the order's
	-- row lock, the order of sql/30_keys.sql: forget_customer takes it
	-- exclusively and then updates the customer's orders.  The customer is
	-- read without a lock (an order never changes customer); an unknown
	-- order takes no lock and is refused by _lock_order.
	SELECT o.customer_id INTO v_customer FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(submit_feedback.order_id)
	   AND o.order_id OPERATOR(pg_catalog.=) submit_feedback.order_id;
	IF FOUND THEN
		PERFORM @extschema@._lock_subject('customer', v_customer, false);
	END IF;
	-- the order's row lock makes two submissions of one review take turns
	v_order := @extschema@._lock_order(submit_feedback.order_id);
	-- an erased customer gives no more feedback, with a comment or without
	-- (a rating alone would seal nothing, yet open a complaint ticket
	-- about them): refused as every call naming them is, before anything
	-- is read or written; read under the customer's lock, so an erasure
	-- committed while we waited for it is seen
	PERFORM @extschema@._live_customer(v_order.customer_id);
	IF v_order.status OPERATOR(pg_catalog.<>) 'delivered' THEN
		RAISE EXCEPTION 'order % has not been delivered (status "%")', submit_feedback.order_id, v_order.status
			USING ERRCODE = 'DP506';
	END IF;

	-- a repeat of the same review is a no-op that returns it; the stored
	-- text is opened only to compare it, so the access is not logged
	SELECT f.feedback_id, f.rating, f.comment_enc INTO v_id, v_rating, v_sealed
	  FROM @extschema@.feedback f
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND f.order_id OPERATOR(pg_catalog.=) v_order.order_id
	   AND f.channel OPERATOR(pg_catalog.=) submit_feedback.channel;
	IF FOUND THEN
		IF v_rating IS NOT DISTINCT FROM rating
		   AND (v_sealed IS NULL) OPERATOR(pg_catalog.=) (v_comment IS NULL)
		   AND (v_sealed IS NULL
		        OR @extschema@._unseal(v_sealed, @extschema@._data_key('customer', v_order.customer_id, false))
		           OPERATOR(pg_catalog.=) v_comment) THEN
			RETURN v_id;
		END IF;
		RAISE EXCEPTION 'order % already has feedback from channel "%"', submit_feedback.order_id,
			submit_feedback.channel USING ERRCODE = 'DP505';
	END IF;

	-- the order's first review is the one that counts (the order's row
	-- lock, held, makes this the first for good)
	v_first := NOT EXISTS (SELECT FROM @extschema@.feedback f
	                        WHERE f.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	                          AND f.order_id OPERATOR(pg_catalog.=) v_order.order_id);

	IF v_comment IS NOT NULL THEN
		v_text_score := @extschema@.sentiment(v_comment);
		v_topics := @extschema@.feedback_topics(v_comment);
	END IF;

	v_id := @extschema@.zone_scoped_id(v_order.zone_id, pg_catalog.nextval('@extschema@.feedback_id_seq'));
	BEGIN
		INSERT INTO @extschema@.feedback
		       (zone_id, feedback_id, order_id, customer_id, merchant_id, rider_id, channel, rating,
		        comment_enc, text_score, score, topics, counted, created_at)
		VALUES (v_order.zone_id, v_id, v_order.order_id, v_order.customer_id, v_order.merchant_id,
		        v_order.rider_id, submit_feedback.channel, rating,
		        @extschema@.pii_seal('customer', v_order.customer_id, v_comment),
		        v_text_score, @extschema@.feedback_score(rating, v_text_score), v_topics,
		        v_first, @extschema@.clock());
	EXCEPTION WHEN unique_violation THEN
		RAISE EXCEPTION 'order % already has feedback from channel "%"', submit_feedback.order_id,
			submit_feedback.channel USING ERRCODE = 'DP505';
	END;
	-- the points a points campaign gives for a review, in the order's zone:
	-- once per order, for its first review (another channel's earns none)
	IF v_first THEN
		PERFORM @extschema@._feedback_points(v_order.customer_id, v_order.zone_id,
		                                     'feedback:' OPERATOR(pg_catalog.||) v_id);
	END IF;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.submit_feedback(bigint, integer, text, text) IS
	'Records a review of a delivered order (one per order and channel): rating 1-5 and/or a comment, scored with sentiment() and tagged with feedback_topics() on the way in; the comment is stored sealed with the customer''s key.  The order''s first review is the one that counts (counted): it alone earns the running points campaign''s feedback_points (ref feedback:<id>) and is counted by the analyst views.  Returns the feedback id.  The same review again is a no-op that returns its id; another one from the same channel is refused (DP505).  The order''s customer erased (forget_customer): refused (DP012), nothing written.';

-- _feedback_daily (sql/75_feedback.sql)
CREATE OR REPLACE FUNCTION @extschema@._feedback_daily()
RETURNS TABLE (zone_id bigint, merchant_id bigint, day date, reviews bigint, mean_score real,
               share_negative real, mean_rating real)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.feedback_daily;
END
$$;
COMMENT ON FUNCTION @extschema@._feedback_daily() IS
	'Internal (feedback_daily): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._feedback_daily() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._feedback_daily() TO dispatch_analyst, dispatch_admin;

-- _feedback_top_issues (sql/75_feedback.sql)
CREATE OR REPLACE FUNCTION @extschema@._feedback_top_issues()
RETURNS TABLE (zone_id bigint, week date, topic text, reviews bigint, reviews_week_before bigint, change bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.feedback_top_issues;
END
$$;
COMMENT ON FUNCTION @extschema@._feedback_top_issues() IS
	'Internal (feedback_top_issues): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._feedback_top_issues() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._feedback_top_issues() TO dispatch_analyst, dispatch_admin;

-- complaint_due_in (sql/76_complaints.sql)
CREATE OR REPLACE FUNCTION @extschema@.complaint_due_in() RETURNS interval
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN interval '24 hours';
COMMENT ON FUNCTION @extschema@.complaint_due_in() IS
	'How long after it opened a complaint ticket is due: 24 hours.  The ticket''s due_at and the view complaint_sla read it here.';
REVOKE ALL ON FUNCTION @extschema@.complaint_due_in() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.complaint_due_in() TO dispatch_app, dispatch_analyst, dispatch_admin;

-- complaint_side (sql/76_complaints.sql)
CREATE OR REPLACE FUNCTION @extschema@.complaint_side(topics text[], has_merchant boolean DEFAULT true) RETURNS text
LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
RETURN CASE
	WHEN has_merchant IS FALSE THEN 'delivery'
	WHEN (SELECT pg_catalog.count(*) FILTER (WHERE t.topic IN ('late', 'cold', 'spilled', 'rider_attitude'))
	             OPERATOR(pg_catalog.>)
	             pg_catalog.count(*) FILTER (WHERE t.topic IN ('taste', 'portion', 'wrong_item', 'missing_item',
	                                                            'price', 'hygiene'))
	        FROM pg_catalog.unnest(topics) AS t (topic))
	THEN 'delivery'
	ELSE 'merchant'
END;
COMMENT ON FUNCTION @extschema@.complaint_side(text[], boolean) IS
	'The side a complaint ticket goes to: delivery for late, cold, spilled, rider_attitude (cold food is food that waited or travelled too long); merchant for taste, portion, wrong_item, missing_item, price, hygiene.  The side of more of the topics wins; a tie, or no topic (a low rating alone), goes to the merchant, who answers for the order and hands on what is the delivery''s.  An order without a merchant (has_merchant false: an errand) goes to the delivery whatever the topics, as no merchant answers for it.';
REVOKE ALL ON FUNCTION @extschema@.complaint_side(text[], boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.complaint_side(text[], boolean) TO dispatch_app, dispatch_analyst, dispatch_admin;

-- _feedback_complaint_trigger (sql/76_complaints.sql)
CREATE OR REPLACE FUNCTION @extschema@._feedback_complaint_trigger() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.rating OPERATOR(pg_catalog.<=) 2
	   OR (NEW.text_score OPERATOR(pg_catalog.<) 0 AND pg_catalog.cardinality(NEW.topics) OPERATOR(pg_catalog.>) 0) THEN
		INSERT INTO @extschema@.complaint_tickets
		       (zone_id, ticket_id, order_id, feedback_id, merchant_id, topics, side, opened_at, due_at)
		VALUES (NEW.zone_id,
		        @extschema@.zone_scoped_id(NEW.zone_id, pg_catalog.nextval('@extschema@.complaint_ticket_id_seq')),
		        NEW.order_id, NEW.feedback_id, NEW.merchant_id, NEW.topics,
		        @extschema@.complaint_side(NEW.topics, NEW.merchant_id IS NOT NULL), NEW.created_at,
		        NEW.created_at OPERATOR(pg_catalog.+) @extschema@.complaint_due_in())
		ON CONFLICT (zone_id, order_id) DO NOTHING;
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@._feedback_complaint_trigger() IS
	'Internal: trigger on a new review: opens a complaint ticket when the rating is 1 or 2, or the text is negative and raises a topic (one per order), for the side complaint_side gives (an errand''s: delivery).';
REVOKE ALL ON FUNCTION @extschema@._feedback_complaint_trigger() FROM PUBLIC;

-- open_tickets (sql/76_complaints.sql)
CREATE OR REPLACE FUNCTION @extschema@.open_tickets(zone_id bigint, only_side text DEFAULT NULL, max_tickets integer DEFAULT 100)
RETURNS TABLE (ticket_id bigint, order_id bigint, merchant_id bigint, topics text[], side text,
               opened_at timestamptz, due_at timestamptz, overdue boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF open_tickets.zone_id IS NULL OR open_tickets.max_tickets IS NULL
	   OR open_tickets.max_tickets NOT BETWEEN 1 AND 10000 THEN
		RAISE EXCEPTION 'open_tickets needs a zone and max_tickets from 1 to 10000' USING ERRCODE = 'DP662';
	END IF;
	IF open_tickets.only_side IS NOT NULL AND open_tickets.only_side NOT IN ('merchant', 'delivery') THEN
		RAISE EXCEPTION 'unknown side "%"', open_tickets.only_side
			USING ERRCODE = 'DP662', HINT = 'The sides are merchant and delivery.';
	END IF;
	RETURN QUERY
	SELECT t.ticket_id, t.order_id, t.merchant_id, t.topics, t.side, t.opened_at, t.due_at,
	       t.due_at OPERATOR(pg_catalog.<) @extschema@.clock()
	  FROM @extschema@.complaint_tickets t
	 WHERE t.zone_id OPERATOR(pg_catalog.=) open_tickets.zone_id
	   AND t.state OPERATOR(pg_catalog.=) 'open'
	   AND (open_tickets.only_side IS NULL OR t.side OPERATOR(pg_catalog.=) open_tickets.only_side)
	 ORDER BY t.due_at, t.ticket_id
	 LIMIT open_tickets.max_tickets;
END
$$;
COMMENT ON FUNCTION @extschema@.open_tickets(bigint, text, integer) IS
	'The work queue: a zone''s open complaint tickets (of only_side, or both sides), the first due first, with whether each is overdue at clock().  No personal data: the order and merchant ids lead to the rest.';
REVOKE ALL ON FUNCTION @extschema@.open_tickets(bigint, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.open_tickets(bigint, text, integer) TO dispatch_app, dispatch_admin;

-- resolve_ticket (sql/76_complaints.sql)
CREATE OR REPLACE FUNCTION @extschema@.resolve_ticket(ticket_id bigint, resolution text, goodwill_points integer DEFAULT 0,
                                           goodwill_campaign_id bigint DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_ticket     @extschema@.complaint_tickets;
	v_resolution text := pg_catalog.btrim(resolution);
	v_points     integer := COALESCE(goodwill_points, 0);
	v_customer   bigint;
	v_erased     boolean;
	v_kind       text;
	v_code       text;
BEGIN
	IF ticket_id IS NULL OR v_resolution IS NULL OR v_resolution OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'resolving a ticket needs the ticket and a resolution' USING ERRCODE = 'DP652';
	END IF;
	IF v_points OPERATOR(pg_catalog.<) 0 OR v_points OPERATOR(pg_catalog.>) 100000 THEN
		RAISE EXCEPTION 'goodwill points % are out of range', v_points
			USING ERRCODE = 'DP652', DETAIL = 'Goodwill points are 0 to 100000.';
	END IF;
	PERFORM @extschema@._check_length('reason', v_resolution);

	-- the customer's lock (shared) before the ticket's row lock, the order
	-- of sql/30_keys.sql: forget_customer takes it exclusively and then
	-- clears the resolutions of the customer's tickets.  The customer is
	-- read without a lock (an order never changes customer).
	SELECT o.customer_id INTO v_customer
	  FROM @extschema@.complaint_tickets t
	  JOIN @extschema@.orders o
	    ON o.zone_id OPERATOR(pg_catalog.=) t.zone_id AND o.order_id OPERATOR(pg_catalog.=) t.order_id
	 WHERE t.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(resolve_ticket.ticket_id)
	   AND o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(resolve_ticket.ticket_id)
	   AND t.ticket_id OPERATOR(pg_catalog.=) resolve_ticket.ticket_id;
	IF FOUND THEN
		PERFORM @extschema@._lock_subject('customer', v_customer, false);
	END IF;
	SELECT * INTO v_ticket FROM @extschema@.complaint_tickets t
	 WHERE t.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(resolve_ticket.ticket_id)
	   AND t.ticket_id OPERATOR(pg_catalog.=) resolve_ticket.ticket_id
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'complaint ticket % does not exist', resolve_ticket.ticket_id USING ERRCODE = 'DP651';
	END IF;
	-- an erased customer's ticket keeps no words about them (the erasure
	-- put the word erased in place of its resolution) and gets no goodwill
	v_erased := EXISTS (SELECT FROM @extschema@.customers c
	                     WHERE c.customer_id OPERATOR(pg_catalog.=) v_customer
	                       AND c.forgotten_at IS NOT NULL);

	-- a repeat of the same resolution is a no-op that returns its coupon
	-- (once the customer is erased, its text is gone: the same goodwill)
	IF v_ticket.state OPERATOR(pg_catalog.=) 'resolved' THEN
		IF (v_erased OR v_ticket.resolution OPERATOR(pg_catalog.=) v_resolution)
		   AND v_ticket.goodwill_points OPERATOR(pg_catalog.=) v_points
		   AND v_ticket.goodwill_campaign_id IS NOT DISTINCT FROM resolve_ticket.goodwill_campaign_id THEN
			RETURN v_ticket.goodwill_coupon;
		END IF;
		RAISE EXCEPTION 'complaint ticket % is resolved already, with another resolution or goodwill', resolve_ticket.ticket_id
			USING ERRCODE = 'DP653',
			      -- not the resolution: the caller's words about the
			      -- customer's order (an erasure clears them), which an
			      -- error would carry into the server log
			      DETAIL = pg_catalog.format('Resolved at %s.', v_ticket.resolved_at),
			      HINT = 'The resolution is in complaint_tickets; the same resolution and goodwill again return the same coupon.';
	END IF;

	IF v_erased AND (v_points OPERATOR(pg_catalog.>) 0 OR resolve_ticket.goodwill_campaign_id IS NOT NULL) THEN
		RAISE EXCEPTION 'customer % of complaint ticket % was erased', v_customer, resolve_ticket.ticket_id
			USING ERRCODE = 'DP012',
			      DETAIL = 'An erased customer can use no points and no coupon: nothing was given and the ticket is still open.',
			      HINT = 'Resolve the ticket without goodwill.';
	END IF;
	IF resolve_ticket.goodwill_campaign_id IS NOT NULL THEN
		SELECT c.kind INTO v_kind FROM @extschema@.campaigns c
		 WHERE c.campaign_id OPERATOR(pg_catalog.=) resolve_ticket.goodwill_campaign_id;
		IF v_kind IS DISTINCT FROM 'goodwill' THEN
			RAISE EXCEPTION 'campaign % is not a goodwill campaign', resolve_ticket.goodwill_campaign_id
				USING ERRCODE = 'DP654',
				      DETAIL = CASE WHEN v_kind IS NULL THEN 'There is no such campaign.'
				                    ELSE pg_catalog.format('Its kind is %s.', v_kind) END;
		END IF;
	END IF;

	IF v_points OPERATOR(pg_catalog.>) 0 THEN
		PERFORM @extschema@._points_grant(v_ticket.zone_id, v_customer, v_points, 'goodwill',
		                                  'ticket:' OPERATOR(pg_catalog.||) v_ticket.ticket_id);
	END IF;
	IF resolve_ticket.goodwill_campaign_id IS NOT NULL THEN
		v_code := @extschema@._issue_coupon(resolve_ticket.goodwill_campaign_id, v_customer, NULL, NULL, v_ticket.zone_id);
	END IF;

	UPDATE @extschema@.complaint_tickets t
	   SET state = 'resolved', resolved_at = @extschema@.clock(),
	       resolution = CASE WHEN v_erased THEN 'erased' ELSE v_resolution END,
	       goodwill_points = v_points, goodwill_campaign_id = resolve_ticket.goodwill_campaign_id,
	       goodwill_coupon = v_code
	 WHERE t.zone_id OPERATOR(pg_catalog.=) v_ticket.zone_id
	   AND t.ticket_id OPERATOR(pg_catalog.=) v_ticket.ticket_id;
	RETURN v_code;
END
$$;
COMMENT ON FUNCTION @extschema@.resolve_ticket(bigint, text, integer, bigint) IS
	'Resolves a complaint ticket with a resolution (no personal data in it, up to 200 characters), optionally with goodwill: points credited to the customer (reason goodwill, ref ticket:<id>) and/or a one-use coupon of a goodwill campaign.  Returns the coupon''s code, NULL without one.  The same resolution again is a no-op that returns the same code; another is refused (DP653).  The ticket of an erased customer keeps the word erased for its resolution (forget_customer puts it in place of one written before) and gets no goodwill (DP012, nothing written).';
REVOKE ALL ON FUNCTION @extschema@.resolve_ticket(bigint, text, integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.resolve_ticket(bigint, text, integer, bigint) TO dispatch_app, dispatch_admin;

-- _campaign_survey_zone (sql/76_complaints.sql)
CREATE OR REPLACE FUNCTION @extschema@._campaign_survey_zone(p_campaign_id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_campaign @extschema@.campaigns;
BEGIN
	SELECT * INTO v_campaign FROM @extschema@.campaigns c
	 WHERE c.campaign_id OPERATOR(pg_catalog.=) p_campaign_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'campaign % does not exist', p_campaign_id USING ERRCODE = 'DP661';
	END IF;
	IF v_campaign.ended_at IS NULL
	   AND (v_campaign.ends_at IS NULL OR v_campaign.ends_at OPERATOR(pg_catalog.>) @extschema@.clock()) THEN
		RAISE EXCEPTION 'campaign % has not ended', p_campaign_id
			USING ERRCODE = 'DP656', DETAIL = 'A campaign survey is sent at the end of its campaign (end_campaign, or past its end).';
	END IF;
	RETURN COALESCE(v_campaign.zone_id, 0);
END
$$;
COMMENT ON FUNCTION @extschema@._campaign_survey_zone(bigint) IS
	'Internal (create_survey): the zone of a campaign''s survey, the campaign''s, 0 for a campaign of every zone; DP661 for an unknown campaign, DP656 for one that has not ended.';
REVOKE ALL ON FUNCTION @extschema@._campaign_survey_zone(bigint) FROM PUBLIC;

-- _campaign_survey_order (sql/76_complaints.sql)
CREATE OR REPLACE FUNCTION @extschema@._campaign_survey_order(p_campaign_id bigint, p_customer_id bigint, p_applied boolean)
RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT r.order_id
	          FROM @extschema@.redemptions r
	         WHERE r.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
	           AND r.customer_id OPERATOR(pg_catalog.=) p_customer_id
	           AND (NOT p_applied OR r.status OPERATOR(pg_catalog.=) 'applied')
	         ORDER BY r.created_at, r.order_id
	         LIMIT 1);
END
$$;
COMMENT ON FUNCTION @extschema@._campaign_survey_order(bigint, bigint, boolean) IS
	'Internal (answer_survey): the customer''s first order that redeemed the campaign, NULL if none.  Not p_applied: cancelled since or not, the order a customer''s answer to the campaign''s survey is about, so that every answer of theirs lies in its one zone.  p_applied: only an order that still holds the campaign (not cancelled), whether they may answer.';
REVOKE ALL ON FUNCTION @extschema@._campaign_survey_order(bigint, bigint, boolean) FROM PUBLIC;

-- create_survey (sql/76_complaints.sql)
CREATE OR REPLACE FUNCTION @extschema@.create_survey(kind text, order_id bigint DEFAULT NULL, campaign_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_order @extschema@.orders;
	v_zone  bigint;
	v_id    bigint;
BEGIN
	IF kind IS NULL OR kind NOT IN ('delivery', 'campaign') THEN
		RAISE EXCEPTION 'unknown survey kind "%"', kind
			USING ERRCODE = 'DP655', HINT = 'A survey is of kind delivery (with an order) or campaign (with a campaign).';
	END IF;
	IF (kind OPERATOR(pg_catalog.=) 'delivery') AND (create_survey.order_id IS NULL OR create_survey.campaign_id IS NOT NULL) THEN
		RAISE EXCEPTION 'a delivery survey names an order and no campaign' USING ERRCODE = 'DP655';
	END IF;
	IF (kind OPERATOR(pg_catalog.=) 'campaign') AND (create_survey.campaign_id IS NULL OR create_survey.order_id IS NOT NULL) THEN
		RAISE EXCEPTION 'a campaign survey names a campaign and no order' USING ERRCODE = 'DP655';
	END IF;

	IF kind OPERATOR(pg_catalog.=) 'delivery' THEN
		-- the order's row lock makes two creations take turns
		v_order := @extschema@._lock_order(create_survey.order_id);
		IF v_order.status OPERATOR(pg_catalog.<>) 'delivered' THEN
			RAISE EXCEPTION 'order % has not been delivered (status "%")', create_survey.order_id, v_order.status
				USING ERRCODE = 'DP656';
		END IF;
		SELECT s.survey_id INTO v_id FROM @extschema@.surveys s
		 WHERE s.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
		   AND s.order_id OPERATOR(pg_catalog.=) v_order.order_id;
		IF FOUND THEN
			RETURN v_id;
		END IF;
		v_id := @extschema@.zone_scoped_id(v_order.zone_id, pg_catalog.nextval('@extschema@.survey_id_seq'));
		INSERT INTO @extschema@.surveys (zone_id, survey_id, kind, order_id, created_at)
		VALUES (v_order.zone_id, v_id, 'delivery', v_order.order_id, @extschema@.clock());
		RETURN v_id;
	END IF;

	-- two creations at once: one inserts, the other finds its row
	v_zone := @extschema@._campaign_survey_zone(create_survey.campaign_id);
	INSERT INTO @extschema@.surveys (zone_id, survey_id, kind, campaign_id, created_at)
	VALUES (v_zone, @extschema@.zone_scoped_id(v_zone, pg_catalog.nextval('@extschema@.survey_id_seq')),
	        'campaign', create_survey.campaign_id, @extschema@.clock())
	ON CONFLICT (zone_id, campaign_id) WHERE campaign_id IS NOT NULL DO NOTHING;
	SELECT s.survey_id INTO STRICT v_id FROM @extschema@.surveys s
	 WHERE s.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND s.campaign_id OPERATOR(pg_catalog.=) create_survey.campaign_id;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.create_survey(text, bigint, bigint) IS
	'Creates a one-tap survey and returns its id: kind delivery after a delivered order (its customer answers), kind campaign at the end of a campaign (ended, or past its end; the customers who redeemed it answer).  One survey per order or campaign: a repeat returns the same id.  The invitation of a campaign survey is marketing: send it to redeemers who consent to marketing.';
REVOKE ALL ON FUNCTION @extschema@.create_survey(text, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.create_survey(text, bigint, bigint) TO dispatch_app, dispatch_admin;

-- answer_survey (sql/76_complaints.sql)
CREATE OR REPLACE FUNCTION @extschema@.answer_survey(survey_id bigint, customer_id bigint, rating integer,
                                          comment text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_survey     @extschema@.surveys;
	v_order      @extschema@.orders;
	v_order_id   bigint;
	v_comment    text := NULLIF(pg_catalog.btrim(comment), '');
	v_id         bigint;
	v_rating     smallint;
	v_sealed     bytea;
	v_text_score real;
	v_topics     text[] := '{}';
	v_camp       @extschema@.campaigns;
BEGIN
	IF survey_id IS NULL OR customer_id IS NULL THEN
		RAISE EXCEPTION 'an answer names its survey and customer' USING ERRCODE = 'DP658';
	END IF;
	IF rating IS NULL OR rating OPERATOR(pg_catalog.<) 1 OR rating OPERATOR(pg_catalog.>) 5 THEN
		RAISE EXCEPTION 'rating % is out of range', rating
			USING ERRCODE = 'DP658', DETAIL = 'A survey answer is a rating of 1 to 5 stars, with or without a comment.';
	END IF;
	PERFORM @extschema@._check_length('feedback_comment', comment);

	SELECT * INTO v_survey FROM @extschema@.surveys s
	 WHERE s.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(answer_survey.survey_id)
	   AND s.survey_id OPERATOR(pg_catalog.=) answer_survey.survey_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'survey % does not exist', answer_survey.survey_id USING ERRCODE = 'DP657';
	END IF;

	-- the customer's lock (shared, as sealing takes it) before the order's
	-- row lock, the order of sql/30_keys.sql: forget_customer takes it
	-- exclusively and then updates the customer's orders
	PERFORM @extschema@._lock_subject('customer', answer_survey.customer_id, false);
	-- the order the answer is about; its row lock makes two answers take turns
	IF v_survey.kind OPERATOR(pg_catalog.=) 'delivery' THEN
		v_order_id := v_survey.order_id;
	ELSE
		v_order_id := @extschema@._campaign_survey_order(v_survey.campaign_id, answer_survey.customer_id, false);
	END IF;
	IF v_order_id IS NOT NULL THEN
		v_order := @extschema@._lock_order(v_order_id);
	END IF;
	IF v_order_id IS NULL OR v_order.customer_id OPERATOR(pg_catalog.<>) answer_survey.customer_id THEN
		RAISE EXCEPTION 'survey % is not addressed to customer %', answer_survey.survey_id, answer_survey.customer_id
			USING ERRCODE = 'DP659',
			      DETAIL = CASE v_survey.kind WHEN 'delivery' THEN 'A delivery survey is answered by the order''s customer.'
			                    ELSE 'A campaign survey is answered by customers who redeemed the campaign.' END;
	END IF;
	-- an erased customer answers no more, with a comment or without (read
	-- under the customer's lock): refused as every call naming them is
	PERFORM @extschema@._live_customer(answer_survey.customer_id);

	-- a repeat of the same answer is a no-op that returns it (also once the
	-- customer's redeeming orders are cancelled since); the customer's
	-- answers all lie in the zone of v_order, see the head of this file
	SELECT a.answer_id, a.rating, a.comment_enc INTO v_id, v_rating, v_sealed
	  FROM @extschema@.survey_answers a
	 WHERE a.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND a.survey_id OPERATOR(pg_catalog.=) v_survey.survey_id
	   AND a.customer_id OPERATOR(pg_catalog.=) answer_survey.customer_id;
	IF FOUND THEN
		IF v_rating OPERATOR(pg_catalog.=) rating
		   AND (v_sealed IS NULL) OPERATOR(pg_catalog.=) (v_comment IS NULL)
		   AND (v_sealed IS NULL
		        OR @extschema@._unseal(v_sealed, @extschema@._data_key('customer', v_order.customer_id, false))
		           OPERATOR(pg_catalog.=) v_comment) THEN
			RETURN v_id;
		END IF;
		RAISE EXCEPTION 'customer % has answered survey % already, with another answer', answer_survey.customer_id, answer_survey.survey_id
			USING ERRCODE = 'DP660';
	END IF;
	IF v_survey.kind OPERATOR(pg_catalog.=) 'campaign'
	   AND @extschema@._campaign_survey_order(v_survey.campaign_id, answer_survey.customer_id, true) IS NULL THEN
		RAISE EXCEPTION 'survey % is not addressed to customer %', answer_survey.survey_id, answer_survey.customer_id
			USING ERRCODE = 'DP659',
			      DETAIL = 'A campaign survey is answered by customers who redeemed the campaign on an order not cancelled.';
	END IF;

	IF v_comment IS NOT NULL THEN
		v_text_score := @extschema@.sentiment(v_comment);
		v_topics := @extschema@.feedback_topics(v_comment);
	END IF;
	v_id := @extschema@.zone_scoped_id(v_order.zone_id, pg_catalog.nextval('@extschema@.survey_answer_id_seq'));
	INSERT INTO @extschema@.survey_answers
	       (zone_id, answer_id, survey_id, order_id, campaign_id, customer_id, rating, comment_enc,
	        text_score, score, topics, created_at)
	VALUES (v_order.zone_id, v_id, v_survey.survey_id, v_order.order_id, v_survey.campaign_id,
	        answer_survey.customer_id, rating,
	        @extschema@.pii_seal('customer', answer_survey.customer_id, v_comment),
	        v_text_score, @extschema@.feedback_score(rating, v_text_score), v_topics, @extschema@.clock());

	-- an answer earns what a review earns (the points campaign's feedback_points)
	v_camp := @extschema@._active_campaign('points', v_order.zone_id, @extschema@.clock());
	PERFORM @extschema@._points_grant(v_order.zone_id, answer_survey.customer_id,
	                                  (v_camp.rules OPERATOR(pg_catalog.->>) 'feedback_points')::integer,
	                                  'survey', 'survey:' OPERATOR(pg_catalog.||) v_id, v_camp.campaign_id);
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.answer_survey(bigint, bigint, integer, text) IS
	'Records a customer''s answer to a survey: a rating of 1 to 5 stars and an optional comment, scored with sentiment() and tagged with feedback_topics() like a review, the comment sealed with the customer''s key; it earns the points a review earns (the running points campaign''s feedback_points, reason survey).  Returns the answer id.  One answer per survey and customer, whichever zones the customer''s orders are in (a campaign answer lies in the zone of their first order that redeemed the campaign, cancelled since or not): the same answer again is a no-op that returns its id, also once that order is cancelled; another answer of the same customer is refused (DP660).  DP659 when the survey is not the customer''s (a campaign''s: no order of theirs holds a redemption of it); DP012 when the customer is erased (forget_customer), nothing written.';
REVOKE ALL ON FUNCTION @extschema@.answer_survey(bigint, bigint, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.answer_survey(bigint, bigint, integer, text) TO dispatch_app, dispatch_admin;

-- purge_survey_text (sql/76_complaints.sql)
CREATE OR REPLACE FUNCTION @extschema@.purge_survey_text(older_than timestamptz, batch integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now  timestamptz := @extschema@.clock();
	v_zone bigint;
	v_n    integer := 0;
	v_one  integer;
BEGIN
	PERFORM @extschema@._check_purge_args(older_than, batch);
	-- zone by zone: on Citus, rows are locked (FOR UPDATE) only in a
	-- statement that names its zone, which goes to that zone's shard
	FOR v_zone IN SELECT z.zone_id FROM @extschema@.zones z ORDER BY z.zone_id LOOP
		EXIT WHEN v_n OPERATOR(pg_catalog.>=) batch;
		WITH doomed AS (
			SELECT a.zone_id, a.answer_id
			  FROM @extschema@.survey_answers a
			 WHERE a.zone_id OPERATOR(pg_catalog.=) v_zone
			   AND a.comment_enc IS NOT NULL
			   AND a.created_at OPERATOR(pg_catalog.<) older_than
			 LIMIT batch OPERATOR(pg_catalog.-) v_n
			   FOR UPDATE SKIP LOCKED
		)
		UPDATE @extschema@.survey_answers a
		   SET comment_enc = NULL, text_purged_at = v_now
		  FROM doomed d
		 WHERE a.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND d.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND a.answer_id OPERATOR(pg_catalog.=) d.answer_id;
		GET DIAGNOSTICS v_one = ROW_COUNT;
		v_n := v_n OPERATOR(pg_catalog.+) v_one;
	END LOOP;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_survey_text(timestamptz, integer) IS
	'Retention: removes the sealed comment of up to batch survey answers given before older_than, keeping rating, score and topics.  Returns how many.  A NULL older_than, or a batch NULL or outside 1 to 100000, is refused (DP411).  purge_feedback_text calls it, so the feedback_text policy covers survey comments.';
REVOKE ALL ON FUNCTION @extschema@.purge_survey_text(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.purge_survey_text(timestamptz, integer) TO dispatch_admin;

-- _complaint_sla (sql/76_complaints.sql)
CREATE OR REPLACE FUNCTION @extschema@._complaint_sla()
RETURNS TABLE (zone_id bigint, day date, topic text, side text, opened bigint, resolved_in_time bigint,
               resolved_late bigint, open_overdue bigint, open_in_time bigint, median_resolution interval)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.complaint_sla;
END
$$;
COMMENT ON FUNCTION @extschema@._complaint_sla() IS
	'Internal (complaint_sla): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._complaint_sla() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._complaint_sla() TO dispatch_analyst, dispatch_admin;

-- _survey_results (sql/76_complaints.sql)
CREATE OR REPLACE FUNCTION @extschema@._survey_results()
RETURNS TABLE (zone_id bigint, month date, kind text, campaign_id bigint, answers bigint, mean_rating real,
               mean_sentiment real, share_negative real, top_topics text[])
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.survey_results;
END
$$;
COMMENT ON FUNCTION @extschema@._survey_results() IS
	'Internal (survey_results): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._survey_results() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._survey_results() TO dispatch_analyst, dispatch_admin;

-- _grid_cell (sql/78_retention.sql)
CREATE OR REPLACE FUNCTION @extschema@._grid_cell(p_point geometry, p_cell_deg float8) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN @extschema@._point(
	(pg_catalog.floor(@extschema@._lon(p_point) OPERATOR(pg_catalog./) p_cell_deg) OPERATOR(pg_catalog.+) 0.5) OPERATOR(pg_catalog.*) p_cell_deg,
	(pg_catalog.floor(@extschema@._lat(p_point) OPERATOR(pg_catalog./) p_cell_deg) OPERATOR(pg_catalog.+) 0.5) OPERATOR(pg_catalog.*) p_cell_deg);
COMMENT ON FUNCTION @extschema@._grid_cell(geometry, float8) IS
	'Internal: the centre of the grid cell (p_cell_deg degrees square) that holds a point; idempotent.';

-- set_retention_policy (sql/78_retention.sql)
CREATE OR REPLACE FUNCTION @extschema@.set_retention_policy(data_class text, keep interval, enabled boolean DEFAULT true,
                                                cell_deg float8 DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v @extschema@.retention_policies;
BEGIN
	SELECT * INTO v FROM @extschema@.retention_policies p
	 WHERE p.data_class OPERATOR(pg_catalog.=) set_retention_policy.data_class
	 ORDER BY p.policy_id DESC LIMIT 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown data class "%"', data_class
			USING ERRCODE = 'DP411', HINT = 'Data classes: order_text, dropoff_point, rider_tracks, events, feedback_text, intake_refusals, eta_predictions.';
	END IF;
	-- at most 100 years: a purge batch counts every class's cut-off back
	-- from now (the outbox's twice its keep), and one thousands of years
	-- back lies before the first timestamp: the batch, and with it the
	-- purge of every class, would fail
	IF keep IS NULL OR keep OPERATOR(pg_catalog.<) '1 hour'::interval
	   OR keep OPERATOR(pg_catalog.>) '100 years'::interval OR enabled IS NULL
	   OR (cell_deg IS NOT NULL AND (v.action OPERATOR(pg_catalog.<>) 'coarsen'
	                                 OR cell_deg OPERATOR(pg_catalog.<=) 0 OR cell_deg OPERATOR(pg_catalog.>) 1)) THEN
		RAISE EXCEPTION 'invalid retention policy for %', data_class
			USING ERRCODE = 'DP411', DETAIL = 'keep is at least an hour and at most 100 years; cell_deg (0 to 1 degree) applies to dropoff_point only.',
			      HINT = 'To keep a class for good, disable its policy: set_retention_policy(data_class, keep, false).';
	END IF;
	INSERT INTO @extschema@.retention_policies (data_class, keep, action, cell_deg, enabled, source)
	VALUES (v.data_class, keep, v.action, COALESCE(cell_deg, v.cell_deg), enabled, 'operator');
END
$$;
COMMENT ON FUNCTION @extschema@.set_retention_policy(text, interval, boolean, float8) IS
	'Changes how long a data class is kept (at least an hour, at most 100 years; DP411 otherwise), whether it is purged, and for dropoff_point the grid cell size in degrees; the change is kept as a new row.';

-- _purge_begin (sql/78_retention.sql)
CREATE OR REPLACE FUNCTION @extschema@._purge_begin(p_status text) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_run bigint;
	v_status text := p_status;
	v_stopped bigint[] := '{}';
	v_at timestamptz;
	v_r record;
BEGIN
	IF v_status OPERATOR(pg_catalog.=) 'running' THEN
		IF NOT pg_catalog.pg_try_advisory_xact_lock(@extschema@._lock_key('purge')) THEN
			v_status := 'skipped';               -- a batch of another run is under way
		ELSE
			-- a run is live while its backend executes a statement: runs of
			-- vanished, idle or this very session were stopped (cancelled,
			-- failed, terminated) and never finish.  The runs are judged
			-- here, against this server's backends, and the UPDATE only
			-- names them and stores a time taken here: on Citus it runs on
			-- every placement of the table, where pg_stat_activity would be
			-- another server's and clock_timestamp() (VOLATILE) is refused.
			FOR v_r IN SELECT x.run_id, x.pid FROM @extschema@.purge_runs x
			            WHERE x.status OPERATOR(pg_catalog.=) 'running'
			LOOP
				IF v_r.pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()
				   OR NOT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a
				                   WHERE a.pid OPERATOR(pg_catalog.=) v_r.pid
				                     AND a.state OPERATOR(pg_catalog.=) 'active') THEN
					v_stopped := v_stopped OPERATOR(pg_catalog.||) v_r.run_id;
				END IF;
			END LOOP;
			IF pg_catalog.cardinality(v_stopped) OPERATOR(pg_catalog.>) 0 THEN
				v_at := pg_catalog.clock_timestamp();
				UPDATE @extschema@.purge_runs x SET status = 'aborted', finished_at = v_at
				 WHERE x.run_id OPERATOR(pg_catalog.=) ANY (v_stopped)
				   AND x.status OPERATOR(pg_catalog.=) 'running';
			END IF;
			IF EXISTS (SELECT FROM @extschema@.purge_runs r WHERE r.status OPERATOR(pg_catalog.=) 'running') THEN
				v_status := 'skipped';
			END IF;
		END IF;
	END IF;
	INSERT INTO @extschema@.purge_runs (status, finished_at)
	VALUES (v_status, CASE WHEN v_status OPERATOR(pg_catalog.=) 'skipped' THEN pg_catalog.clock_timestamp() END)
	RETURNING run_id INTO v_run;
	IF v_status OPERATOR(pg_catalog.=) 'skipped' THEN
		RETURN NULL;
	END IF;
	RETURN v_run;
END
$$;
COMMENT ON FUNCTION @extschema@._purge_begin(text) IS
	'Internal: starts a purge run (p_status running) under the purge lock unless another run is live, and returns its id; otherwise, or with p_status skipped, logs a skipped run and returns NULL.  Marks runs that were stopped (their backend gone or idle) aborted.';

-- _purge_end (sql/78_retention.sql)
CREATE OR REPLACE FUNCTION @extschema@._purge_end(p_run bigint) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- taken first: Citus refuses a VOLATILE function inside the UPDATE
	v_at timestamptz := pg_catalog.clock_timestamp();
BEGIN
	UPDATE @extschema@.purge_runs r SET status = 'done', finished_at = v_at
	 WHERE r.run_id OPERATOR(pg_catalog.=) p_run;
END
$$;
COMMENT ON FUNCTION @extschema@._purge_end(bigint) IS
	'Internal: marks a purge run done.';

-- _purge_abort (sql/78_retention.sql)
CREATE OR REPLACE FUNCTION @extschema@._purge_abort(p_run bigint) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- taken first: Citus refuses a VOLATILE function inside the UPDATE
	v_at timestamptz := pg_catalog.clock_timestamp();
BEGIN
	UPDATE @extschema@.purge_runs r SET status = 'aborted', finished_at = v_at
	 WHERE r.run_id OPERATOR(pg_catalog.=) p_run AND r.status OPERATOR(pg_catalog.=) 'running';
END
$$;
COMMENT ON FUNCTION @extschema@._purge_abort(bigint) IS
	'Internal: marks a purge run aborted (cancelled or failed in a batch); its committed batches stay counted.';
REVOKE ALL ON FUNCTION @extschema@._purge_abort(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._purge_abort(bigint) TO dispatch_admin;

-- purge_feedback_text (sql/78_retention.sql)
CREATE OR REPLACE FUNCTION @extschema@.purge_feedback_text(older_than timestamptz, batch integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_n integer := 0;
	v_zone bigint;
	v_done integer;
BEGIN
	PERFORM @extschema@._check_purge_args(older_than, batch);
	-- zone by zone, until the batch is full: rows are locked (SKIP LOCKED)
	-- in one zone's rows at a time, which Citus allows, not across shards
	FOR v_zone IN SELECT z.zone_id FROM @extschema@.zones z ORDER BY 1 LOOP
		EXIT WHEN v_n OPERATOR(pg_catalog.>=) batch;
		WITH doomed AS (
			SELECT f.zone_id, f.feedback_id
			  FROM @extschema@.feedback f
			 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone
			   AND f.comment_enc IS NOT NULL
			   AND f.created_at OPERATOR(pg_catalog.<) older_than
			 LIMIT batch OPERATOR(pg_catalog.-) v_n
			   FOR UPDATE SKIP LOCKED
		)
		UPDATE @extschema@.feedback f
		   SET comment_enc = NULL, text_purged_at = @extschema@.clock()
		  FROM doomed d
		 WHERE f.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND f.zone_id OPERATOR(pg_catalog.=) d.zone_id
		   AND f.feedback_id OPERATOR(pg_catalog.=) d.feedback_id;
		GET DIAGNOSTICS v_done = ROW_COUNT;
		v_n := v_n OPERATOR(pg_catalog.+) v_done;
	END LOOP;
	-- survey comments (sql/76_complaints.sql) fall under the same policy
	v_n := v_n OPERATOR(pg_catalog.+) @extschema@.purge_survey_text(older_than, batch);
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_feedback_text(timestamptz, integer) IS
	'Retention: removes the sealed text of up to batch reviews and up to batch survey comments (purge_survey_text) written before older_than, keeping scores and topics.  Returns how many; call until 0.  A NULL older_than, or a batch NULL or outside 1 to 100000, is refused (DP411).';

-- purge_expired_step (sql/78_retention.sql)
CREATE OR REPLACE FUNCTION @extschema@.purge_expired_step(batch_size integer DEFAULT 500, run_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_run bigint := run_id;
	p record;
	v_zone bigint;
	v_n bigint;
	v_class bigint;
	v_total bigint := 0;
	v_rows jsonb := '{}';
	v_finished timestamptz;
	v_unpaid bigint;
	v_unread bigint;
BEGIN
	PERFORM @extschema@._check_batch_size(batch_size);
	IF pg_catalog.pg_is_in_recovery() THEN
		RETURN NULL;                                -- a standby purges nothing
	END IF;
	IF v_run IS NULL THEN
		v_run := @extschema@._purge_begin('running');
		IF v_run IS NULL THEN
			RETURN NULL;                            -- another run is at work
		END IF;
	ELSE
		-- a batch of a run: waits for a batch called on its own (milliseconds)
		PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._lock_key('purge'));
		-- the run this session began (purge_expired): a batch counted into
		-- no run, or into a run that is over or another session's, would
		-- purge without purge_runs saying so
		IF NOT EXISTS (SELECT FROM @extschema@.purge_runs r
		                WHERE r.run_id OPERATOR(pg_catalog.=) v_run
		                  AND r.status OPERATOR(pg_catalog.=) 'running'
		                  AND r.pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()) THEN
			RAISE EXCEPTION 'purge run % is not a running run of this session', v_run
				USING ERRCODE = 'DP411',
				      HINT = 'Call purge_expired_step(batch_size) without a run: it logs a run of its own.';
		END IF;
	END IF;

	-- orders left waiting for their payment (dispatch.unpaid_order_minutes)
	-- are cancelled as abandoned: an order that never ended would keep its
	-- address and drop-off for good, its retention counting from its end
	v_class := 0;
	FOR v_zone IN SELECT z.zone_id FROM @extschema@.zones z ORDER BY 1 LOOP
		FOR v_unpaid IN
			SELECT x.order_id FROM @extschema@.orders x
			 WHERE x.zone_id OPERATOR(pg_catalog.=) v_zone
			   AND x.status IN ('pending_payment', 'payment_failed')
			   AND x.status_changed_at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-)
			       pg_catalog.make_interval(mins => @extschema@._setting_int('dispatch.unpaid_order_minutes')))
			 ORDER BY x.status_changed_at LIMIT batch_size
			   FOR UPDATE OF x SKIP LOCKED          -- not one being paid at this moment
		LOOP
			PERFORM @extschema@._cancel_order(v_zone, v_unpaid, 'payment abandoned');
			v_class := v_class OPERATOR(pg_catalog.+) 1;
		END LOOP;
	END LOOP;
	v_rows := v_rows OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('unpaid_orders', v_class);
	v_total := v_total OPERATOR(pg_catalog.+) v_class;

	FOR p IN SELECT * FROM @extschema@.retention_effective() e WHERE e.enabled ORDER BY e.data_class LOOP
		v_class := 0;
		IF p.data_class OPERATOR(pg_catalog.=) 'feedback_text' THEN
			-- one batch over all zones: the text goes, score and topics stay
			v_class := @extschema@.purge_feedback_text(v_now OPERATOR(pg_catalog.-) p.keep, batch_size);
			v_rows := v_rows OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(p.data_class, v_class);
			v_total := v_total OPERATOR(pg_catalog.+) v_class;
			CONTINUE;
		END IF;
		IF p.data_class OPERATOR(pg_catalog.=) 'intake_refusals' THEN
			-- the log of refused attempts (sql/47_fraud.sql), oldest first,
			-- one batch over all zones (zone 0 included: not known when refused)
			DELETE FROM @extschema@.intake_refusals r
			 USING (SELECT x.zone_id, x.epoch, x.seq FROM @extschema@.intake_refusals x
			         WHERE x.at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) p.keep)
			         ORDER BY x.at LIMIT batch_size) s
			 WHERE r.zone_id OPERATOR(pg_catalog.=) s.zone_id AND r.epoch OPERATOR(pg_catalog.=) s.epoch
			   AND r.seq OPERATOR(pg_catalog.=) s.seq;
			GET DIAGNOSTICS v_class = ROW_COUNT;
			v_rows := v_rows OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(p.data_class, v_class);
			v_total := v_total OPERATOR(pg_catalog.+) v_class;
			CONTINUE;
		END IF;
		FOR v_zone IN SELECT z.zone_id FROM @extschema@.zones z ORDER BY 1 LOOP
			IF p.data_class OPERATOR(pg_catalog.=) 'order_text' THEN
				-- a refund carries its order's cancel reason: it goes at the
				-- same age (not counted: the orders are, below)
				UPDATE @extschema@.refunds r SET reason = 'expired'
				  FROM @extschema@.orders o
				 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone AND o.zone_id OPERATOR(pg_catalog.=) v_zone
				   AND r.order_id OPERATOR(pg_catalog.=) o.order_id
				   AND o.status IN ('delivered', 'cancelled')
				   AND o.status_changed_at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) p.keep)
				   AND r.reason NOT IN ('expired', 'erased');
				-- the texts of the order: its address, an errand's description,
				-- and the reason it was cancelled for (an app may pass the
				-- customer's own words)
				UPDATE @extschema@.orders o SET dropoff_address_enc = NULL, description_enc = NULL, cancel_reason = NULL
				  FROM (SELECT x.order_id FROM @extschema@.orders x
				         WHERE x.zone_id OPERATOR(pg_catalog.=) v_zone
				           AND x.status IN ('delivered', 'cancelled')
				           AND (x.dropoff_address_enc IS NOT NULL OR x.description_enc IS NOT NULL
				                OR x.cancel_reason IS NOT NULL)
				           AND x.status_changed_at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) p.keep)
				         ORDER BY x.status_changed_at LIMIT batch_size
				           FOR UPDATE SKIP LOCKED) s
				 WHERE o.zone_id OPERATOR(pg_catalog.=) v_zone AND o.order_id OPERATOR(pg_catalog.=) s.order_id
				   AND o.status IN ('delivered', 'cancelled');
			ELSIF p.data_class OPERATOR(pg_catalog.=) 'dropoff_point' THEN
				-- and an errand's pickup, a place its customer named (a
				-- takeaway's is the merchant's door)
				UPDATE @extschema@.orders o
				   SET dropoff = @extschema@._grid_cell(o.dropoff, p.cell_deg), dropoff_coarsened_at = v_now,
				       pickup = CASE WHEN o.kind OPERATOR(pg_catalog.=) 'errand'
				                     THEN @extschema@._grid_cell(o.pickup, p.cell_deg) ELSE o.pickup END
				  FROM (SELECT x.order_id FROM @extschema@.orders x
				         WHERE x.zone_id OPERATOR(pg_catalog.=) v_zone
				           AND x.status IN ('delivered', 'cancelled')
				           AND x.dropoff_coarsened_at IS NULL
				           AND x.status_changed_at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) p.keep)
				         ORDER BY x.status_changed_at LIMIT batch_size
				           FOR UPDATE SKIP LOCKED) s
				 WHERE o.zone_id OPERATOR(pg_catalog.=) v_zone AND o.order_id OPERATOR(pg_catalog.=) s.order_id
				   AND o.status IN ('delivered', 'cancelled');
			ELSIF p.data_class OPERATOR(pg_catalog.=) 'rider_tracks' THEN
				DELETE FROM @extschema@.rider_tracks t
				 USING (SELECT x.rider_id, x.at FROM @extschema@.rider_tracks x
				         WHERE x.zone_id OPERATOR(pg_catalog.=) v_zone
				           AND x.at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) p.keep)
				         ORDER BY x.at LIMIT batch_size) s
				 WHERE t.zone_id OPERATOR(pg_catalog.=) v_zone
				   AND t.rider_id OPERATOR(pg_catalog.=) s.rider_id AND t.at OPERATOR(pg_catalog.=) s.at;
				GET DIAGNOSTICS v_n = ROW_COUNT;
				v_class := v_class OPERATOR(pg_catalog.+) v_n;
				-- the event ids rider apps synced (sql/67_sync.sql) go with the tracks
				DELETE FROM @extschema@.rider_sync_log l
				 USING (SELECT x.rider_id, x.client_event_id FROM @extschema@.rider_sync_log x
				         WHERE x.zone_id OPERATOR(pg_catalog.=) v_zone
				           AND x.synced_at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) p.keep)
				         ORDER BY x.synced_at LIMIT batch_size) s
				 WHERE l.zone_id OPERATOR(pg_catalog.=) v_zone
				   AND l.rider_id OPERATOR(pg_catalog.=) s.rider_id
				   AND l.client_event_id OPERATOR(pg_catalog.=) s.client_event_id;
			ELSIF p.data_class OPERATOR(pg_catalog.=) 'eta_predictions' THEN
				-- the predictions (sql/63_eta.sql) of orders finished before
				-- the cut-off, oldest first: all were made before it, so the
				-- index on the time of prediction finds them; those of an
				-- order not finished stay
				DELETE FROM @extschema@.eta_predictions e
				 USING (SELECT x.order_id, x.stage FROM @extschema@.eta_predictions x
				          JOIN @extschema@.orders o ON o.zone_id OPERATOR(pg_catalog.=) x.zone_id
				                                   AND o.order_id OPERATOR(pg_catalog.=) x.order_id
				         WHERE x.zone_id OPERATOR(pg_catalog.=) v_zone AND o.zone_id OPERATOR(pg_catalog.=) v_zone
				           AND x.predicted_at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) p.keep)
				           AND o.status IN ('delivered', 'cancelled')
				           AND o.status_changed_at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) p.keep)
				         ORDER BY x.predicted_at LIMIT batch_size) s
				 WHERE e.zone_id OPERATOR(pg_catalog.=) v_zone
				   AND e.order_id OPERATOR(pg_catalog.=) s.order_id AND e.stage OPERATOR(pg_catalog.=) s.stage;
			ELSIF p.data_class OPERATOR(pg_catalog.=) 'events' THEN
				-- An order_status event that a growth job has not read yet
				-- (above its cursor of the zone, growth_cursors) waits for
				-- it, up to twice the retention: credit_rewards pays the
				-- rewards of a delivery from it.  Its customer and rider
				-- ids go on time; it keeps the order id, kind and status,
				-- which the order itself keeps.
				SELECT pg_catalog.min(g.last_seq) INTO v_unread FROM @extschema@.growth_cursors g
				 WHERE g.zone_id OPERATOR(pg_catalog.=) v_zone;
				UPDATE @extschema@.events e SET customer_id = NULL, rider_id = NULL
				  FROM (SELECT x.seq FROM @extschema@.events x
				         WHERE x.zone_id OPERATOR(pg_catalog.=) v_zone
				           AND x.at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) p.keep)
				           AND x.at OPERATOR(pg_catalog.>=) (v_now OPERATOR(pg_catalog.-) (p.keep OPERATOR(pg_catalog.*) 2))
				           AND x.seq OPERATOR(pg_catalog.>) v_unread
				           AND x.kind OPERATOR(pg_catalog.=) 'order_status'
				           AND (x.customer_id IS NOT NULL OR x.rider_id IS NOT NULL)
				         ORDER BY x.seq LIMIT batch_size) s
				 WHERE e.zone_id OPERATOR(pg_catalog.=) v_zone AND e.seq OPERATOR(pg_catalog.=) s.seq;
				GET DIAGNOSTICS v_n = ROW_COUNT;
				v_class := v_class OPERATOR(pg_catalog.+) v_n;
				DELETE FROM @extschema@.events e
				 USING (SELECT x.seq FROM @extschema@.events x
				         WHERE x.zone_id OPERATOR(pg_catalog.=) v_zone
				           AND x.at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) p.keep)
				           AND ((x.seq OPERATOR(pg_catalog.<=) v_unread) IS NOT FALSE   -- read, or no growth job here
				                OR x.kind OPERATOR(pg_catalog.<>) 'order_status'
				                OR x.at OPERATOR(pg_catalog.<) (v_now OPERATOR(pg_catalog.-) (p.keep OPERATOR(pg_catalog.*) 2)))
				         ORDER BY x.seq LIMIT batch_size) s
				 WHERE e.zone_id OPERATOR(pg_catalog.=) v_zone AND e.seq OPERATOR(pg_catalog.=) s.seq;
			ELSE
				CONTINUE;
			END IF;
			GET DIAGNOSTICS v_n = ROW_COUNT;
			v_class := v_class OPERATOR(pg_catalog.+) v_n;
		END LOOP;
		v_rows := v_rows OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(p.data_class, v_class);
		v_total := v_total OPERATOR(pg_catalog.+) v_class;
	END LOOP;

	v_finished := pg_catalog.clock_timestamp();     -- not in the UPDATE: VOLATILE, refused by Citus
	UPDATE @extschema@.purge_runs r
	   SET batches = r.batches OPERATOR(pg_catalog.+) 1,
	       rows = (SELECT pg_catalog.jsonb_object_agg(k, COALESCE((r.rows OPERATOR(pg_catalog.->>) k)::bigint, 0)
	                                                 OPERATOR(pg_catalog.+) COALESCE((v_rows OPERATOR(pg_catalog.->>) k)::bigint, 0))
	                 FROM (SELECT pg_catalog.jsonb_object_keys(r.rows) UNION SELECT pg_catalog.jsonb_object_keys(v_rows)) ks(k)),
	       status = CASE WHEN purge_expired_step.run_id IS NULL THEN 'done' ELSE r.status END,
	       finished_at = CASE WHEN purge_expired_step.run_id IS NULL THEN v_finished ELSE r.finished_at END
	 WHERE r.run_id OPERATOR(pg_catalog.=) v_run;
	RETURN v_total;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_expired_step(integer, bigint) IS
	'One purge batch: for each enabled policy and zone, up to batch_size rows past their retention are erased, coarsened or deleted; returns the rows handled (0: nothing left), NULL on a standby or while another run holds the lock.  Logged in purge_runs (its own row unless run_id is given, which must name a running run this session began, as purge_expired does; any other is refused, DP411).  First, orders left waiting for their payment longer than dispatch.unpaid_order_minutes are cancelled (payment abandoned), so that their retention starts; other unfinished orders are never touched.';

-- purge_expired (sql/78_retention.sql)
CREATE OR REPLACE PROCEDURE @extschema@.purge_expired(batch_size integer DEFAULT 500)
LANGUAGE plpgsql
AS $$
DECLARE
	v_run pg_catalog.int8;
	v_n pg_catalog.int8;
	v_state pg_catalog.text;
	v_message pg_catalog.text;
	v_detail pg_catalog.text;
	v_hint pg_catalog.text;
BEGIN
	IF pg_catalog.pg_is_in_recovery() THEN
		RAISE NOTICE 'standby: nothing to purge here';
		RETURN;
	END IF;
	v_run := @extschema@._purge_begin('running');
	COMMIT;
	IF v_run IS NULL THEN
		RAISE NOTICE 'another purge run is at work';
		RETURN;
	END IF;
	LOOP
		-- A cancel (statement_timeout, pg_cancel_backend: 57014) or an error
		-- in a batch rolls back that batch only.  A block with a handler
		-- cannot commit, so the handler only keeps the error: the run is
		-- closed as aborted below, then the error is raised again.  (A
		-- cancel that strikes between two batches ends the run at once; the
		-- next run closes its row.)
		BEGIN
			v_n := @extschema@.purge_expired_step(batch_size, v_run);
		EXCEPTION WHEN query_canceled OR others THEN
			GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
			                        v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
		END;
		EXIT WHEN v_state IS NOT NULL;
		COMMIT;
		EXIT WHEN v_n IS NULL OR v_n OPERATOR(pg_catalog.=) 0;
	END LOOP;
	IF v_state IS NULL THEN
		PERFORM @extschema@._purge_end(v_run);
	ELSE
		PERFORM @extschema@._purge_abort(v_run);
	END IF;
	COMMIT;
	IF v_state IS NOT NULL THEN
		v_detail := pg_catalog.concat_ws(' ', pg_catalog.format(
			'Purge run %s was closed as aborted; the batches it committed are kept.', v_run), NULLIF(v_detail, ''));
		IF NULLIF(v_hint, '') IS NULL THEN
			RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_message, DETAIL = v_detail;
		END IF;
		RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_message, DETAIL = v_detail, HINT = v_hint;
	END IF;
END
$$;
COMMENT ON PROCEDURE @extschema@.purge_expired(integer) IS
	'Purges everything past its retention (retention_effective()) in batches of batch_size rows per class and zone, committing after each; never overlaps another run, does nothing on a standby, logs the run in purge_runs.  Cancelled (57014) or failing, it keeps the batches it committed and closes its run as aborted; it holds no lock between batches.  Cannot run inside a transaction block: use purge_expired_step() there.';

-- maintenance_commands (sql/78_retention.sql)
CREATE OR REPLACE FUNCTION @extschema@.maintenance_commands(database text DEFAULT NULL)
RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT @extschema@._check_length('database_name', database);
	SELECT CASE WHEN j.runs_in OPERATOR(pg_catalog.=) 'dispatch'
	            THEN pg_catalog.format('SELECT cron.schedule_in_database(%L, %L, %L, %L);', j.jobname, j.schedule,
	                                   j.command, COALESCE(database, pg_catalog.current_database()))
	            ELSE pg_catalog.format('SELECT cron.schedule(%L, %L, %L);', j.jobname, j.schedule, j.command) END
	  FROM @extschema@.maintenance_jobs j
	 WHERE j.enabled
	 ORDER BY j.jobname;
END;
COMMENT ON FUNCTION @extschema@.maintenance_commands(text) IS
	'The statements that register the maintenance jobs, to run in the database named by cron.database_name when dispatch lives elsewhere: psql -d app -Atc ''SELECT * FROM dispatch.maintenance_commands()'' | psql -d postgres.';

-- _cron_database (sql/78_retention.sql)
CREATE OR REPLACE FUNCTION @extschema@._cron_database() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.current_setting('cron.database_name', true);
COMMENT ON FUNCTION @extschema@._cron_database() IS
	'Internal: the database pg_cron runs in (cron.database_name, a setting only superusers may read), or NULL without pg_cron.';
REVOKE ALL ON FUNCTION @extschema@._cron_database() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._cron_database() TO dispatch_admin;

-- _maintenance_job_owners (sql/78_retention.sql)
CREATE OR REPLACE FUNCTION @extschema@._maintenance_job_owners()
RETURNS TABLE (jobname text, username text)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pg_catalog.to_regclass('cron.job') IS NULL THEN
		RETURN;
	END IF;
	RETURN QUERY EXECUTE
		'SELECT j.jobname::pg_catalog.text, j.username::pg_catalog.text FROM cron.job j'
		' WHERE j.jobname OPERATOR(pg_catalog.~~) ''dispatch-%'''
		'   AND j.database OPERATOR(pg_catalog.=) pg_catalog.current_database()'
		' ORDER BY j.jobname, j.username';
END
$$;
COMMENT ON FUNCTION @extschema@._maintenance_job_owners() IS
	'Internal (schedule_maintenance, the upgrade from 0.1.0): the pg_cron jobs named dispatch-* of this database and the users they run as, whoever asks (pg_cron shows a user only its own jobs); none without pg_cron here.';
REVOKE ALL ON FUNCTION @extschema@._maintenance_job_owners() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._maintenance_job_owners() TO dispatch_admin;

-- schedule_maintenance (sql/78_retention.sql)
CREATE OR REPLACE FUNCTION @extschema@.schedule_maintenance()
RETURNS TABLE (jobname text, jobid bigint, schedule text, database text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_cron_db text := @extschema@._cron_database();
	v_others text;
	v_old record;
	j record;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'pg_cron') THEN
		IF v_cron_db IS NULL OR v_cron_db OPERATOR(pg_catalog.=) pg_catalog.current_database() THEN
			RAISE EXCEPTION 'pg_cron is not installed in this database'
				USING ERRCODE = 'DP409',
				      HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name, restart, and run CREATE EXTENSION pg_cron in that database.';
		END IF;
		RAISE EXCEPTION 'pg_cron lives in database "%", not in "%"', v_cron_db, pg_catalog.current_database()
			USING ERRCODE = 'DP410',
			      HINT = pg_catalog.format('Run the statements of dispatch.maintenance_commands() in database %s, for example: psql -d %s -Atc ''SELECT * FROM dispatch.maintenance_commands()'' | psql -d %s',
			                               v_cron_db, pg_catalog.current_database(), v_cron_db);
	END IF;
	-- On Citus the jobs run on the coordinator, where the application's
	-- calls go: a worker's pg_cron would run them a second time
	-- (two statements: the second names a function of Citus, which only a
	-- database with Citus has)
	IF EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		IF NOT pg_catalog.citus_is_coordinator() THEN
			RAISE EXCEPTION 'the maintenance jobs are scheduled on the Citus coordinator'
				USING ERRCODE = 'DP911',
				      DETAIL = 'This node is a worker of its cluster.',
				      HINT = 'Run schedule_maintenance() on the coordinator, with cron.database_name naming this database there (docs/citus.md).';
		END IF;
	END IF;
	-- pg_cron keys a job by its name and its user: the jobs scheduled by
	-- another user stay, and the same jobs scheduled again as this one
	-- would run twice.  Refused, naming that user, rather than taken
	-- over: only that user or a superuser may unschedule them, and they
	-- run with that user's rights
	SELECT pg_catalog.string_agg(DISTINCT pg_catalog.quote_ident(o.username), ', ')
	  INTO v_others
	  FROM @extschema@._maintenance_job_owners() o
	 WHERE o.username OPERATOR(pg_catalog.<>) CURRENT_USER::text;
	IF v_others IS NOT NULL THEN
		RAISE EXCEPTION 'the maintenance jobs of database "%" are scheduled by %', pg_catalog.current_database(), v_others
			USING ERRCODE = 'DP420',
			      DETAIL = pg_catalog.format('pg_cron keys a job by its name and its user: scheduled again as %s, each job would run twice.', CURRENT_USER),
			      HINT = pg_catalog.format('Run schedule_maintenance() as %s, or have that role or a superuser unschedule its jobs first: SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE ''dispatch-%%'' AND database = %L;',
			                               v_others, pg_catalog.current_database());
	END IF;
	-- nor may this user's jobs of the same names run in another database:
	-- pg_cron keys a job by its name and its user, not its database, so
	-- scheduling them again would update those jobs by name and leave them
	-- running there, while this database got none (maintenance_commands()
	-- registers the jobs of another database under the same names)
	EXECUTE 'SELECT pg_catalog.string_agg(DISTINCT pg_catalog.quote_ident(c.database::pg_catalog.text), '', '')'
	        '  FROM cron.job c'
	        ' WHERE c.username OPERATOR(pg_catalog.=) CURRENT_USER'
	        '   AND c.database OPERATOR(pg_catalog.<>) pg_catalog.current_database()'
	        '   AND c.jobname OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT m.jobname FROM @extschema@.maintenance_jobs m WHERE m.enabled))'
	   INTO v_others;
	IF v_others IS NOT NULL THEN
		RAISE EXCEPTION 'the maintenance jobs are scheduled by % for database "%", not for "%"',
		                CURRENT_USER, v_others, pg_catalog.current_database()
			USING ERRCODE = 'DP421',
			      DETAIL = 'pg_cron keys a job by its name and its user, not its database: scheduled again, they would go on running there and none here.',
			      HINT = pg_catalog.format('Schedule the jobs of this database as another user, or unschedule the other database''s jobs first: SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE ''dispatch-%%'' AND username = %L AND database <> %L;',
			                               CURRENT_USER, pg_catalog.current_database());
	END IF;
	-- the enabled jobs, each (re)scheduled by name under this user:
	-- calling this again changes nothing
	FOR j IN SELECT m.jobname, m.schedule, m.command, m.runs_in FROM @extschema@.maintenance_jobs m
	          WHERE m.enabled ORDER BY m.jobname LOOP
		jobname := j.jobname;
		schedule := j.schedule;
		database := pg_catalog.current_database();
		EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)'
		   INTO jobid USING j.jobname, j.schedule, j.command, database;
		RETURN NEXT;
	END LOOP;
	-- and this user's dispatch jobs of this database that are disabled or
	-- no longer listed go
	FOR v_old IN
		EXECUTE 'SELECT c.jobid, c.jobname::pg_catalog.text FROM cron.job c'
		        ' WHERE c.jobname OPERATOR(pg_catalog.~~) ''dispatch-%'''
		        '   AND c.database OPERATOR(pg_catalog.=) pg_catalog.current_database()'
		        '   AND c.username OPERATOR(pg_catalog.=) CURRENT_USER'
		        '   AND NOT EXISTS (SELECT FROM @extschema@.maintenance_jobs m'
		        '                    WHERE m.jobname OPERATOR(pg_catalog.=) c.jobname AND m.enabled)'
		        ' ORDER BY c.jobname'
	LOOP
		EXECUTE 'SELECT cron.unschedule($1)' USING v_old.jobid;
		RAISE NOTICE 'unscheduled the pg_cron job %, which maintenance_jobs no longer enables', v_old.jobname;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.schedule_maintenance() IS
	'Registers (or updates) the enabled pg_cron jobs of maintenance_jobs in this database, by name, as the calling user (pg_cron keys a job by name and user): daily purge, pruning of cron.job_run_details, and the rollups of other parts; unschedules the caller''s dispatch-* jobs of this database that maintenance_jobs no longer enables.  Idempotent.  Needs EXECUTE on cron.schedule_in_database (pg_cron 1.4 revokes it from PUBLIC) for a caller other than a superuser.  DP409 without pg_cron; DP410 when pg_cron lives in another database (see maintenance_commands()); DP420 when another user has scheduled the jobs (run it as that user); DP421 when the caller has scheduled jobs of the same names for another database (pg_cron would keep them there); DP911 on a Citus worker (the jobs run on the coordinator).';

-- _customer_tables (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._customer_tables()
RETURNS TABLE (rel regclass, relname name, has_zone boolean, via_order boolean, sealed text[], columns text[])
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT c.oid::regclass, c.relname,
	       EXISTS (SELECT FROM pg_catalog.pg_attribute z
	                WHERE z.attrelid OPERATOR(pg_catalog.=) c.oid AND z.attname OPERATOR(pg_catalog.=) 'zone_id'
	                  AND z.attnum OPERATOR(pg_catalog.>) 0 AND NOT z.attisdropped),
	       NOT EXISTS (SELECT FROM pg_catalog.pg_attribute z
	                    WHERE z.attrelid OPERATOR(pg_catalog.=) c.oid AND z.attname OPERATOR(pg_catalog.=) 'customer_id'
	                      AND z.attnum OPERATOR(pg_catalog.>) 0 AND NOT z.attisdropped),
	       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
	              WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	                AND a.atttypid OPERATOR(pg_catalog.=) 'pg_catalog.bytea'::pg_catalog.regtype
	                AND a.attname OPERATOR(pg_catalog.~) '_enc$'
	              ORDER BY a.attnum),
	       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
	              WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	              ORDER BY a.attnum)
	  FROM pg_catalog.pg_class c
	 WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
	   AND c.relkind IN ('r', 'p')
	   AND c.relname OPERATOR(pg_catalog.<>) 'customers'
	   -- keyed by the order but about its riders, not the customer: their
	   -- pay, the candidates and costs of matching, their offers and the
	   -- words they gave rejecting or releasing it (export_rider has them)
	   AND c.relname NOT IN ('rider_pay', 'offer_audit', 'offers', 'offer_exclusions')
	   -- the disclosures made for an order, in its zone: the export lists
	   -- them under disclosures (_disclosures_of), with the processor
	   AND c.relname OPERATOR(pg_catalog.<>) 'order_disclosures'
	   AND (EXISTS (SELECT FROM pg_catalog.pg_attribute a
	                 WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) 'customer_id'
	                   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped)
	        OR (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a
	             WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname IN ('zone_id', 'order_id')
	               AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) OPERATOR(pg_catalog.=) 2)
	 ORDER BY c.relname;
END;
COMMENT ON FUNCTION @extschema@._customer_tables() IS
	'Internal: the tables that hold a customer''s rows, from the catalog: those with customer_id, and (via_order) those with zone_id and order_id but for the riders'' (rider_pay, offer_audit, offers, offer_exclusions); not order_disclosures, which the export lists under disclosures; sealed lists their *_enc columns.';

-- _zone_list (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._zone_list(p_has_zone boolean) RETURNS TABLE (zone_id bigint)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT z.zone_id FROM @extschema@.zones z WHERE p_has_zone
	UNION ALL
	SELECT 0::bigint WHERE p_has_zone            -- rows of no zone (a refusal's zone not known)
	UNION ALL
	SELECT NULL::bigint WHERE NOT p_has_zone
	ORDER BY 1;
END;
COMMENT ON FUNCTION @extschema@._zone_list(boolean) IS
	'Internal: every zone id in order, and 0 (rows of no zone, such as a refused attempt whose zone was not known), to visit a zone-scoped table one zone at a time; a single NULL for a table without zones.';

-- _reseal (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._reseal(p_sealed bytea, p_old bytea, p_new bytea) RETURNS bytea
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_sealed IS NULL THEN
		RETURN NULL;
	END IF;
	IF @extschema@._is_cleartext(p_sealed) THEN
		RETURN p_sealed;          -- dispatch.cipher = none: nothing to re-encrypt
	END IF;
	RETURN @extschema@._pgp_encrypt(@extschema@._unseal(p_sealed, p_old), p_new);
END
$$;
COMMENT ON FUNCTION @extschema@._reseal(bytea, bytea, bytea) IS
	'Internal: re-encrypts a sealed value from one data key to another.  VOLATILE: encryption draws a new IV every time.';

-- mask_phone (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.mask_phone(phone text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v text := pg_catalog.regexp_replace(phone, '[^0-9]', '', 'g');
BEGIN
	PERFORM @extschema@._check_length('phone', phone);
	IF pg_catalog.starts_with(phone, '+86') THEN
		v := pg_catalog.substr(v, 3);           -- mainland numbers are shown without +86
	END IF;
	IF pg_catalog.length(v) OPERATOR(pg_catalog.<=) 7 THEN
		RETURN pg_catalog.repeat('*', pg_catalog.length(v));
	END IF;
	RETURN pg_catalog.left(v, 3) OPERATOR(pg_catalog.||) pg_catalog.repeat('*', pg_catalog.length(v) OPERATOR(pg_catalog.-) 7)
	       OPERATOR(pg_catalog.||) pg_catalog.right(v, 4);
END
$$;
COMMENT ON FUNCTION @extschema@.mask_phone(text) IS
	'A phone number with all but its first three and last four digits hidden: +8613812341234 gives 138****1234.';

-- _lock_customer (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._lock_customer(p_customer_id bigint) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_forgotten timestamptz;
BEGIN
	-- the customer's lock (shared) before the row, the order of
	-- sql/30_keys.sql: forget_customer and rotate_customer_key take it
	-- (exclusive) and then lock the row, so a caller that locked the row
	-- first and sealed after it in the same transaction (a consent, then a
	-- rectification) deadlocked with them.  Shared: callers that hold it
	-- exclusive already keep it so.
	PERFORM @extschema@._lock_subject('customer', p_customer_id, false);
	SELECT c.forgotten_at INTO v_forgotten FROM @extschema@.customers c
	 WHERE c.customer_id OPERATOR(pg_catalog.=) p_customer_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'customer % does not exist', p_customer_id USING ERRCODE = 'DP012';
	END IF;
	RETURN v_forgotten;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_customer(bigint) IS
	'Internal: takes the customer''s lock (shared, before any row lock: sql/30_keys.sql), locks the customer row FOR UPDATE and returns forgotten_at; DP012 if there is no such customer.';

-- master_key_versions (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.master_key_versions()
RETURNS TABLE (version integer, in_key_file boolean, is_current boolean, data_keys bigint)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_file integer[];
	v_current integer;
BEGIN
	PERFORM @extschema@._require_read_committed('master_key_versions');
	v_file := @extschema@._master_key_versions();
	v_current := @extschema@._master_key_version();
	-- data keys being written count too: a registration in flight may
	-- wrap its key under a version about to be retired (sql/30_keys.sql,
	-- writers of key versions); the count below is a statement after the
	-- wait, and sees what they committed
	PERFORM @extschema@._wait_for_writers(ARRAY['@extschema@.subject_keys'::pg_catalog.regclass]);
	RETURN QUERY
	SELECT v.version, v.version OPERATOR(pg_catalog.=) ANY (v_file), v.version OPERATOR(pg_catalog.=) v_current,
	       (SELECT pg_catalog.count(*) FROM @extschema@.subject_keys k
	         WHERE k.key_version OPERATOR(pg_catalog.=) v.version)
	  FROM (SELECT pg_catalog.unnest(v_file) AS version
	        UNION
	        SELECT DISTINCT k.key_version FROM @extschema@.subject_keys k) v
	 ORDER BY v.version;
END
$$;
COMMENT ON FUNCTION @extschema@.master_key_versions() IS
	'Master key versions in the key file or still wrapping data keys, counted after every transaction writing data keys has ended.  A version that is not current and wraps no data key (data_keys = 0) may be removed from the key file (destroyed); one with data_keys > 0 but not in the file means lost data.  Read committed only (DP418).';

-- _rewrap_data_keys (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._rewrap_data_keys(p_current integer, p_limit integer, p_wait boolean) RETURNS integer
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_n integer := 0;
	b record;
	v_wrapped bytea;
BEGIN
	-- Only the wrapping changes, never a data key, so sealing goes on
	-- meanwhile.  Each key is re-wrapped here and stored as a value:
	-- wrapping draws a new IV (VOLATILE), which Citus refuses inside an
	-- UPDATE of its (reference) table.
	FOR b IN EXECUTE pg_catalog.format(
	             'SELECT k.subject, k.subject_id, k.key_version, k.wrapped_key FROM @extschema@.subject_keys k'
	             ' WHERE k.key_version OPERATOR(pg_catalog.<) $1'
	             ' ORDER BY k.key_version, k.subject, k.subject_id LIMIT $2 FOR NO KEY UPDATE%s',
	             CASE WHEN p_wait THEN '' ELSE ' SKIP LOCKED' END)
	   USING p_current, p_limit
	LOOP
		v_wrapped := @extschema@._wrap_key(@extschema@._unwrap_key(b.wrapped_key, b.key_version), p_current);
		UPDATE @extschema@.subject_keys k
		   SET key_version = p_current, wrapped_key = v_wrapped
		 WHERE k.subject OPERATOR(pg_catalog.=) b.subject
		   AND k.subject_id OPERATOR(pg_catalog.=) b.subject_id;
		v_n := v_n OPERATOR(pg_catalog.+) 1;
	END LOOP;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@._rewrap_data_keys(integer, integer, boolean) IS
	'Internal (rotate_master_key): re-wraps up to p_limit data keys under an older master version with version p_current, skipping rows locked by others unless p_wait; returns how many.';
REVOKE ALL ON FUNCTION @extschema@._rewrap_data_keys(integer, integer, boolean) FROM PUBLIC;

-- rotate_master_key (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.rotate_master_key(batch_size integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_current integer;
	v_n integer;
BEGIN
	PERFORM @extschema@._check_batch_size(batch_size);
	PERFORM @extschema@._require_read_committed('rotate_master_key');
	-- the version read under the lock of this call's writes (sql/30_keys.sql)
	PERFORM @extschema@._lock_for_writing('@extschema@.subject_keys');
	v_current := @extschema@._master_key_version();
	-- rows locked by a rotation or erasure of their own are skipped and
	-- picked up by a later call
	v_n := @extschema@._rewrap_data_keys(v_current, batch_size, false);
	-- Before saying that nothing is left: one row such a rotation or
	-- erasure holds is waited for (holding no other row, so that it cannot
	-- deadlock with this call); then every transaction writing data keys,
	-- whose keys may be wrapped under an older version (a registration in
	-- flight), and what they committed is taken.  Keys still locked by
	-- others after that are counted, not skipped: 0 means none is left.
	IF v_n OPERATOR(pg_catalog.=) 0 THEN
		v_n := @extschema@._rewrap_data_keys(v_current, 1, true);
	END IF;
	IF v_n OPERATOR(pg_catalog.=) 0 THEN
		PERFORM @extschema@._wait_for_writers(ARRAY['@extschema@.subject_keys'::pg_catalog.regclass]);
		v_n := @extschema@._rewrap_data_keys(v_current, batch_size, false);
	END IF;
	IF v_n OPERATOR(pg_catalog.=) 0 THEN
		SELECT pg_catalog.count(*) INTO v_n FROM @extschema@.subject_keys k
		 WHERE k.key_version OPERATOR(pg_catalog.<) v_current;
	END IF;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@.rotate_master_key(integer) IS
	'Re-wraps up to batch_size data keys under the current (highest) master key version in one short transaction and returns how many; call it again until it returns 0, which it returns only once no data key is under an older version, counting those of transactions in flight.  Intake and reads go on meanwhile.  Read committed only (DP418).';

-- _reindex_phones (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._reindex_phones(p_current integer, p_limit integer, p_wait boolean) RETURNS integer
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_skip text := CASE WHEN p_wait THEN '' ELSE ' SKIP LOCKED' END;
	v_done integer := 0;
	v_zone bigint;
	v_index record;
	b record;
BEGIN
	-- customers: open the phone with the customer's key, index it anew.
	-- Row by row, the index computed here: the key is read from
	-- subject_keys, which a statement Citus sends to a table's placements
	-- may not query (and the function is VOLATILE).
	FOR b IN EXECUTE pg_catalog.format(
	             'SELECT c.customer_id AS id, c.phone_enc FROM @extschema@.customers c'
	             ' WHERE c.phone_index IS NOT NULL AND c.phone_index_version OPERATOR(pg_catalog.<>) $1'
	             ' ORDER BY c.customer_id LIMIT $2 FOR UPDATE%s', v_skip)
	   USING p_current, p_limit
	LOOP
		v_index := @extschema@._phone_index_entry(@extschema@._unseal(b.phone_enc,
		               @extschema@._subject_key_or_null('customer', b.id)));
		UPDATE @extschema@.customers c SET phone_index = v_index.phone_index, phone_index_version = v_index.version
		 WHERE c.customer_id OPERATOR(pg_catalog.=) b.id;
		v_done := v_done OPERATOR(pg_catalog.+) 1;
	END LOOP;
	-- riders, zone by zone (each statement on one zone's rows)
	FOR v_zone IN SELECT z.zone_id FROM @extschema@.zones z ORDER BY 1 LOOP
		EXIT WHEN v_done OPERATOR(pg_catalog.>=) p_limit;
		FOR b IN EXECUTE pg_catalog.format(
		             'SELECT r.rider_id AS id, r.phone_enc FROM @extschema@.riders r'
		             ' WHERE r.zone_id OPERATOR(pg_catalog.=) $1'
		             '   AND r.phone_index IS NOT NULL AND r.phone_index_version OPERATOR(pg_catalog.<>) $2'
		             ' ORDER BY r.rider_id LIMIT $3 FOR UPDATE%s', v_skip)
		   USING v_zone, p_current, p_limit OPERATOR(pg_catalog.-) v_done
		LOOP
			v_index := @extschema@._phone_index_entry(@extschema@._unseal(b.phone_enc,
			               @extschema@._subject_key_or_null('rider', b.id)));
			UPDATE @extschema@.riders r SET phone_index = v_index.phone_index, phone_index_version = v_index.version
			 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone AND r.rider_id OPERATOR(pg_catalog.=) b.id;
			v_done := v_done OPERATOR(pg_catalog.+) 1;
		END LOOP;
	END LOOP;
	RETURN v_done;
END
$$;
COMMENT ON FUNCTION @extschema@._reindex_phones(integer, integer, boolean) IS
	'Internal (rotate_index_key): recomputes the blind indexes of up to p_limit customers and riders not under index version p_current, skipping rows locked by others unless p_wait; returns how many.';
REVOKE ALL ON FUNCTION @extschema@._reindex_phones(integer, integer, boolean) FROM PUBLIC;

-- rotate_index_key (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.rotate_index_key(batch_size integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_current integer;
	v_done integer;
BEGIN
	PERFORM @extschema@._check_batch_size(batch_size);
	PERFORM @extschema@._require_read_committed('rotate_index_key');
	-- the version read under the lock of this call's writes (sql/30_keys.sql)
	PERFORM @extschema@._lock_for_writing('@extschema@.customers');
	PERFORM @extschema@._lock_for_writing('@extschema@.riders');
	v_current := @extschema@._index_key_version();
	v_done := @extschema@._reindex_phones(v_current, batch_size, false);
	-- before saying that nothing is left, as rotate_master_key: one locked
	-- row waited for, then every transaction writing customers or riders
	-- (a registration or rectification in flight may store an index under
	-- the old key), then what is still locked by others counted
	IF v_done OPERATOR(pg_catalog.=) 0 THEN
		v_done := @extschema@._reindex_phones(v_current, 1, true);
	END IF;
	IF v_done OPERATOR(pg_catalog.=) 0 THEN
		PERFORM @extschema@._wait_for_writers(ARRAY['@extschema@.customers'::pg_catalog.regclass,
		                                             '@extschema@.riders'::pg_catalog.regclass]);
		v_done := @extschema@._reindex_phones(v_current, batch_size, false);
	END IF;
	IF v_done OPERATOR(pg_catalog.=) 0 THEN
		v_done := (SELECT pg_catalog.count(*) FROM @extschema@.customers c
		            WHERE c.phone_index IS NOT NULL AND c.phone_index_version OPERATOR(pg_catalog.<>) v_current)
		          OPERATOR(pg_catalog.+)
		          (SELECT pg_catalog.count(*) FROM @extschema@.riders r
		            WHERE r.phone_index IS NOT NULL AND r.phone_index_version OPERATOR(pg_catalog.<>) v_current);
	END IF;
	RETURN v_done;
END
$$;
COMMENT ON FUNCTION @extschema@.rotate_index_key(integer) IS
	'Recomputes the blind indexes of up to batch_size customers and riders that are not under the current index key (the highest "index <version>" of the key file); returns how many, 0 only once every one is, counting those of transactions in flight.  Lookups find rows under every key in the file meanwhile, so it runs in batches without downtime; the old key may leave the file once it returns 0.  Read committed only (DP418).';
REVOKE ALL ON FUNCTION @extschema@.rotate_index_key(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rotate_index_key(integer) TO dispatch_admin;

-- rotate_customer_key (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.rotate_customer_key(customer_id bigint) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_version integer;
	v_wrapped bytea;
	v_old bytea;
	v_new bytea := @extschema@._random_key();
	v_current integer;
	t record;
	v_zone bigint;
	v_col text;
	v_n bigint;
	v_total integer := 0;
	v_phone bytea;
	v_name bytea;
	v_olds bytea[];
	v_news bytea[];
BEGIN
	-- (generic plans: the keys are never constants of a plan, _export_tables)
	-- waits for every transaction sealing with the old key (sql/30_keys.sql)
	PERFORM @extschema@._lock_subject('customer', rotate_customer_key.customer_id, true);
	IF @extschema@._lock_customer(rotate_customer_key.customer_id) IS NOT NULL THEN
		RAISE EXCEPTION 'personal data of customer % was erased', customer_id USING ERRCODE = 'DP402';
	END IF;
	SELECT k.key_version, k.wrapped_key INTO v_version, v_wrapped
	  FROM @extschema@.subject_keys k
	 WHERE k.subject OPERATOR(pg_catalog.=) 'customer'
	   AND k.subject_id OPERATOR(pg_catalog.=) rotate_customer_key.customer_id
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'customer % has no data key', customer_id
			USING ERRCODE = 'DP402', DETAIL = 'Nothing personal is stored for this customer.';
	END IF;
	v_old := @extschema@._unwrap_key(v_wrapped, v_version);

	-- Encryption draws a new IV each time (VOLATILE), which Citus refuses in
	-- an UPDATE of a distributed or reference table: every new ciphertext is
	-- computed here first and the statements only store values.
	SELECT @extschema@._reseal(c.phone_enc, v_old, v_new), @extschema@._reseal(c.name_enc, v_old, v_new)
	  INTO v_phone, v_name
	  FROM @extschema@.customers c
	 WHERE c.customer_id OPERATOR(pg_catalog.=) rotate_customer_key.customer_id;
	UPDATE @extschema@.customers c
	   SET phone_enc = v_phone, name_enc = v_name
	 WHERE c.customer_id OPERATOR(pg_catalog.=) rotate_customer_key.customer_id;
	v_total := (v_total OPERATOR(pg_catalog.+) 1)::integer;

	-- per table, column and zone: the sealed values (distinct; each
	-- ciphertext is unique) and their re-sealed forms, then one UPDATE that
	-- looks each row's new value up by its old one
	FOR t IN SELECT * FROM @extschema@._customer_tables() ct
	          WHERE NOT ct.via_order AND pg_catalog.cardinality(ct.sealed) OPERATOR(pg_catalog.>) 0
	LOOP
		FOREACH v_col IN ARRAY t.sealed LOOP
			FOR v_zone IN SELECT zl.zone_id FROM @extschema@._zone_list(t.has_zone) zl
			LOOP
				EXECUTE pg_catalog.format(
					'SELECT pg_catalog.array_agg(DISTINCT %I) FROM %s WHERE customer_id OPERATOR(pg_catalog.=) $1 AND %I IS NOT NULL%s',
					v_col, t.rel, v_col,
					CASE WHEN t.has_zone THEN ' AND zone_id OPERATOR(pg_catalog.=) $2' ELSE '' END)
				INTO v_olds USING rotate_customer_key.customer_id, v_zone;
				CONTINUE WHEN v_olds IS NULL;
				SELECT pg_catalog.array_agg(@extschema@._reseal(u.v, v_old, v_new) ORDER BY u.n) INTO v_news
				  FROM pg_catalog.unnest(v_olds) WITH ORDINALITY AS u(v, n);
				EXECUTE pg_catalog.format(
					'UPDATE %s SET %I = ($2::pg_catalog.bytea[])[pg_catalog.array_position($1::pg_catalog.bytea[], %I)]'
					' WHERE customer_id OPERATOR(pg_catalog.=) $3 AND %I OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.bytea[])%s',
					t.rel, v_col, v_col, v_col,
					CASE WHEN t.has_zone THEN ' AND zone_id OPERATOR(pg_catalog.=) $4' ELSE '' END)
				USING v_olds, v_news, rotate_customer_key.customer_id, v_zone;
				GET DIAGNOSTICS v_n = ROW_COUNT;
				v_total := (v_total OPERATOR(pg_catalog.+) v_n)::integer;
			END LOOP;
		END LOOP;
	END LOOP;

	-- the master version read under the lock of the write below
	-- (sql/30_keys.sql, writers of key versions)
	PERFORM @extschema@._lock_for_writing('@extschema@.subject_keys');
	v_current := @extschema@._master_key_version();
	v_wrapped := @extschema@._wrap_key(v_new, v_current);
	UPDATE @extschema@.subject_keys k
	   SET wrapped_key = v_wrapped, key_version = v_current,
	       created_at = pg_catalog.now()
	 WHERE k.subject OPERATOR(pg_catalog.=) 'customer'
	   AND k.subject_id OPERATOR(pg_catalog.=) rotate_customer_key.customer_id;

	INSERT INTO @extschema@.privacy_requests (customer_id, kind, requested_at, completed_at, detail)
	VALUES (rotate_customer_key.customer_id, 'rotate_key', v_started, pg_catalog.clock_timestamp(),
	        pg_catalog.jsonb_build_object('rows_resealed', v_total, 'master_key_version', v_current));
	RETURN v_total;
END
$$;
COMMENT ON FUNCTION @extschema@.rotate_customer_key(bigint) IS
	'Re-encrypts every sealed field of a customer under a fresh data key (wrapped by the current master key), in one transaction; returns the rows re-sealed.  Sealing for that customer waits meanwhile.  Read committed only (DP418).';

-- _subject_key_or_null (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._subject_key_or_null(p_subject text, p_subject_id bigint) RETURNS bytea
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_version integer;
	v_wrapped bytea;
BEGIN
	SELECT k.key_version, k.wrapped_key INTO v_version, v_wrapped
	  FROM @extschema@.subject_keys k
	 WHERE k.subject OPERATOR(pg_catalog.=) p_subject
	   AND k.subject_id OPERATOR(pg_catalog.=) p_subject_id;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	RETURN @extschema@._unwrap_key(v_wrapped, v_version);
END
$$;
COMMENT ON FUNCTION @extschema@._subject_key_or_null(text, bigint) IS
	'Internal: a customer''s or rider''s data key, unwrapped, or NULL when they have none (erased): sealed fields then read as NULL.  Creates nothing, unlike _data_key.';
REVOKE ALL ON FUNCTION @extschema@._subject_key_or_null(text, bigint) FROM PUBLIC;

-- _customer_key_or_null (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._customer_key_or_null(p_customer_id bigint) RETURNS bytea
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
RETURN @extschema@._subject_key_or_null('customer', p_customer_id);
COMMENT ON FUNCTION @extschema@._customer_key_or_null(bigint) IS
	'Internal: a customer''s data key, unwrapped, or NULL when they have none (erased): sealed fields then read as NULL.  Creates nothing, unlike _data_key.';
REVOKE ALL ON FUNCTION @extschema@._customer_key_or_null(bigint) FROM PUBLIC;

-- _export_profile (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._export_profile(p_cust @extschema@.customers, p_key bytea) RETURNS jsonb
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.jsonb_build_object(
	'customer_id', (p_cust).customer_id,
	'phone', @extschema@._unseal((p_cust).phone_enc, p_key),
	'name', @extschema@._unseal((p_cust).name_enc, p_key),
	'flagged', (p_cust).flagged,
	'flag_reason', (p_cust).flag_reason,
	'created_at', (p_cust).created_at,
	'forgotten_at', (p_cust).forgotten_at);
COMMENT ON FUNCTION @extschema@._export_profile(@extschema@.customers, bytea) IS
	'Internal (export_customer): the customer row as JSON, sealed fields opened with p_key (NULL: they come out as null).';
REVOKE ALL ON FUNCTION @extschema@._export_profile(@extschema@.customers, bytea) FROM PUBLIC;

-- _export_tables (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._export_tables(p_customer_id bigint, p_key bytea) RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	v_tables jsonb := '{}';
	v_rows jsonb;
	v_part jsonb;
	v_list text;
	v_zone bigint;
	t record;
BEGIN
	-- every table with the customer's rows, read zone by zone; sealed
	-- columns are opened and named without _enc, other bytea (blind
	-- indexes) left out, geometries given as GeoJSON
	FOR t IN SELECT * FROM @extschema@._customer_tables() LOOP
		SELECT pg_catalog.string_agg(
		         CASE WHEN a.attname OPERATOR(pg_catalog.=) ANY (t.sealed)
		              THEN pg_catalog.format('x.%I', a.attname)
		              WHEN pg_catalog.format_type(a.atttypid, NULL) OPERATOR(pg_catalog.=) 'geometry'
		              THEN pg_catalog.format('@extschema@._geojson(x.%I) AS %I', a.attname, a.attname)
		              ELSE pg_catalog.format('x.%I', a.attname) END,
		         ', ' ORDER BY a.attnum)
		  INTO v_list
		  FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid OPERATOR(pg_catalog.=) t.rel AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
		   AND (a.atttypid OPERATOR(pg_catalog.<>) 'pg_catalog.bytea'::pg_catalog.regtype
		        OR a.attname OPERATOR(pg_catalog.=) ANY (t.sealed));
		v_rows := '[]';
		FOR v_zone IN SELECT zl.zone_id FROM @extschema@._zone_list(t.has_zone) zl
		LOOP
			IF t.via_order THEN
				EXECUTE pg_catalog.format(
					'SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s)) FROM (SELECT %s FROM %s x'
					' JOIN @extschema@.orders o ON o.zone_id OPERATOR(pg_catalog.=) x.zone_id AND o.order_id OPERATOR(pg_catalog.=) x.order_id'
					' WHERE o.zone_id OPERATOR(pg_catalog.=) $2 AND x.zone_id OPERATOR(pg_catalog.=) $2'
					' AND o.customer_id OPERATOR(pg_catalog.=) $1) s', v_list, t.rel)
				INTO v_part USING p_customer_id, v_zone;
			ELSE
				EXECUTE pg_catalog.format(
					'SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s)) FROM (SELECT %s FROM %s x'
					' WHERE x.customer_id OPERATOR(pg_catalog.=) $1%s) s', v_list, t.rel,
					CASE WHEN t.has_zone THEN ' AND x.zone_id OPERATOR(pg_catalog.=) $2' ELSE '' END)
				INTO v_part USING p_customer_id, v_zone;
			END IF;
			IF v_part IS NOT NULL AND pg_catalog.cardinality(t.sealed) OPERATOR(pg_catalog.>) 0 THEN
				-- each sealed column opened, and named without _enc
				SELECT pg_catalog.jsonb_agg(
				         (r.v OPERATOR(pg_catalog.-) t.sealed) OPERATOR(pg_catalog.||)
				         (SELECT pg_catalog.jsonb_object_agg(pg_catalog.regexp_replace(c, '_enc$', ''),
				                   @extschema@._unseal((r.v OPERATOR(pg_catalog.->>) c)::pg_catalog.bytea, p_key))
				            FROM pg_catalog.unnest(t.sealed) c)
				         ORDER BY r.n)
				  INTO v_part
				  FROM pg_catalog.jsonb_array_elements(v_part) WITH ORDINALITY r(v, n);
			END IF;
			IF v_part IS NOT NULL THEN
				v_rows := v_rows OPERATOR(pg_catalog.||) v_part;
			END IF;
		END LOOP;
		v_tables := pg_catalog.jsonb_set(v_tables, ARRAY[t.relname::text], v_rows);
	END LOOP;
	RETURN v_tables;
END
$$;
COMMENT ON FUNCTION @extschema@._export_tables(bigint, bytea) IS
	'Internal (export_customer): the customer''s rows of every table that holds them (_customer_tables), as {table: [row, ...]}, sealed fields opened with p_key.';
REVOKE ALL ON FUNCTION @extschema@._export_tables(bigint, bytea) FROM PUBLIC;

-- _export_log (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._export_log(p_customer_id bigint, p_started timestamptz, p_rows bigint, p_opened boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.privacy_requests (customer_id, kind, requested_at, completed_at, detail)
	VALUES (p_customer_id, 'export', p_started, pg_catalog.clock_timestamp(),
	        pg_catalog.jsonb_build_object('rows', p_rows, 'erased', NOT p_opened));
	IF p_opened THEN
		INSERT INTO @extschema@.pii_access_log (subject, subject_id, purpose, detail)
		VALUES ('customer', p_customer_id, 'export',
		        pg_catalog.format('export_customer: profile and %s rows', p_rows));
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._export_log(bigint, timestamptz, bigint, boolean) IS
	'Internal (export_customer): logs the export in privacy_requests and, when sealed fields were opened, in pii_access_log.';
REVOKE ALL ON FUNCTION @extschema@._export_log(bigint, timestamptz, bigint, boolean) FROM PUBLIC;

-- _export_document (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._export_document(p_cust @extschema@.customers, p_profile jsonb, p_tables jsonb)
RETURNS jsonb
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.jsonb_build_object(
		'customer_id', (p_cust).customer_id,
		'exported_at', @extschema@.clock(),
		'erased', (p_cust).forgotten_at IS NOT NULL,
		'profile', p_profile,
		'addresses', COALESCE((SELECT pg_catalog.jsonb_agg(DISTINCT o.v OPERATOR(pg_catalog.->) 'dropoff_address')
		                         FROM pg_catalog.jsonb_array_elements(COALESCE(p_tables OPERATOR(pg_catalog.->) 'orders', '[]')) o(v)
		                        WHERE pg_catalog.jsonb_typeof(o.v OPERATOR(pg_catalog.->) 'dropoff_address')
		                              OPERATOR(pg_catalog.=) 'string'), '[]'),
		'tables', p_tables,
		-- the referrals the customer made: theirs as the referrer (tables
		-- has the one they took); the referee's id and order are the
		-- referee's, and left out
		'referrals_made', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
		                                     'campaign_id', r.campaign_id, 'applied_at', r.applied_at,
		                                     'status', r.status, 'settled_at', r.settled_at)
		                                   ORDER BY r.applied_at, r.customer_id)
		                              FROM @extschema@.referrals r
		                             WHERE r.referrer_id OPERATOR(pg_catalog.=) (p_cust).customer_id), '[]'),
		-- every opening: those made for an order lie in its zone
		-- (order_access_log), the others in pii_access_log
		'access_log', @extschema@._access_log('customer', (p_cust).customer_id, NULL));
END;
COMMENT ON FUNCTION @extschema@._export_document(@extschema@.customers, jsonb, jsonb) IS
	'Internal (export_customer): the export document: profile, addresses (the distinct drop-off addresses of the orders), tables, the referrals the customer made (without the referees'' ids and orders) and the customer''s access log (pii_access_log and order_access_log, in time order).';
REVOKE ALL ON FUNCTION @extschema@._export_document(@extschema@.customers, jsonb, jsonb) FROM PUBLIC;

-- export_customer (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.export_customer(customer_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_cust @extschema@.customers;
	v_key bytea;
	v_profile jsonb;
	v_tables jsonb;
	v_rows bigint;
BEGIN
	SELECT * INTO v_cust FROM @extschema@.customers c
	 WHERE c.customer_id OPERATOR(pg_catalog.=) export_customer.customer_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'customer % does not exist', customer_id USING ERRCODE = 'DP012';
	END IF;
	v_key := @extschema@._customer_key_or_null(customer_id);
	v_profile := @extschema@._export_profile(v_cust, v_key);
	v_tables := @extschema@._export_tables(customer_id, v_key);
	SELECT COALESCE(pg_catalog.sum(pg_catalog.jsonb_array_length(e.value)), 0) INTO v_rows
	  FROM pg_catalog.jsonb_each(v_tables) e;
	PERFORM @extschema@._export_log(customer_id, v_started, v_rows, v_key IS NOT NULL);
	RETURN @extschema@._export_document(v_cust, v_profile, v_tables)
	       OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('disclosures',
	           COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(d))
	                       FROM @extschema@.disclosures(export_customer.customer_id) d), '[]'));
END
$$;
COMMENT ON FUNCTION @extschema@.export_customer(bigint) IS
	'Everything stored about a customer as JSON: profile, addresses, every table holding their rows (found in the catalog, sealed fields opened; of the tables keyed by their orders not the riders'': rider_pay, offer_audit, offers, offer_exclusions), the referrals they made (referrals_made: campaign, when, status, without the referees), who opened their data when, and what went to which processor (disclosures).  Logged in privacy_requests and pii_access_log.';

-- _forget_lock_orders (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._forget_lock_orders(p_customer_id bigint) RETURNS bigint[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
	v_active bigint[] := '{}';
	v_open bigint[];
	v_unpaid bigint[] := '{}';
	v_ids bigint[];
BEGIN
	FOR v_zone IN SELECT z.zone_id FROM @extschema@.zones z ORDER BY 1 LOOP
		SELECT pg_catalog.array_agg(o.order_id ORDER BY o.order_id) FILTER (WHERE o.status IN ('placed', 'accepted', 'assigned', 'picked_up')),
		       pg_catalog.array_agg(o.order_id ORDER BY o.order_id) FILTER (WHERE o.status IN ('pending_payment', 'payment_failed'))
		  INTO v_ids, v_open
		  FROM (SELECT o.order_id, o.status FROM @extschema@.orders o
		         WHERE o.zone_id OPERATOR(pg_catalog.=) v_zone
		           AND o.customer_id OPERATOR(pg_catalog.=) p_customer_id
		           AND o.status NOT IN ('delivered', 'cancelled')
		           FOR UPDATE) o;
		v_active := v_active OPERATOR(pg_catalog.||) COALESCE(v_ids, '{}');
		v_unpaid := v_unpaid OPERATOR(pg_catalog.||) COALESCE(v_open, '{}');
	END LOOP;
	IF pg_catalog.cardinality(v_active) OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION 'customer % has an active order and cannot be forgotten now', p_customer_id
			USING ERRCODE = 'DP405',
			      DETAIL = pg_catalog.format('Active orders: %s.', pg_catalog.array_to_string(v_active, ', ')),
			      HINT = 'Erase the customer after delivery (or after cancelling the order); nothing was changed.';
	END IF;
	RETURN v_unpaid;
END
$$;
COMMENT ON FUNCTION @extschema@._forget_lock_orders(bigint) IS
	'Internal (forget_customer): locks every unfinished order of the customer so that none moves on meanwhile; DP405 if one is placed, accepted, assigned or picked up; returns the unpaid ones (pending_payment, payment_failed).';
REVOKE ALL ON FUNCTION @extschema@._forget_lock_orders(bigint) FROM PUBLIC;

-- _shred_key (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._shred_key(p_subject text, p_subject_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM FROM @extschema@.subject_keys k
	  WHERE k.subject OPERATOR(pg_catalog.=) p_subject
	    AND k.subject_id OPERATOR(pg_catalog.=) p_subject_id
	    FOR UPDATE;
	DELETE FROM @extschema@.subject_keys k
	 WHERE k.subject OPERATOR(pg_catalog.=) p_subject
	   AND k.subject_id OPERATOR(pg_catalog.=) p_subject_id;
END
$$;
COMMENT ON FUNCTION @extschema@._shred_key(text, bigint) IS
	'Internal (forget_customer, forget_rider): crypto-shredding: deletes the subject''s data key, so that no sealed field of theirs opens again.';
REVOKE ALL ON FUNCTION @extschema@._shred_key(text, bigint) FROM PUBLIC;

-- _forget_key (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._forget_key(p_customer_id bigint) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT @extschema@._shred_key('customer', p_customer_id);
END;
COMMENT ON FUNCTION @extschema@._forget_key(bigint) IS
	'Internal (forget_customer): crypto-shredding: deletes the customer''s data key, so that no sealed field of theirs opens again.';
REVOKE ALL ON FUNCTION @extschema@._forget_key(bigint) FROM PUBLIC;

-- _forget_rows (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._forget_rows(p_customer_id bigint, p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_cell float8;
	v_zone bigint;
	v_n bigint;
	v_rows bigint := 0;
	t record;
BEGIN
	-- drop-off points become cells of the grid of the retention policy
	SELECT p.cell_deg INTO v_cell FROM @extschema@.retention_effective() p
	 WHERE p.data_class OPERATOR(pg_catalog.=) 'dropoff_point';
	v_cell := COALESCE(v_cell, 0.01);
	FOR t IN SELECT * FROM @extschema@._customer_tables() ct WHERE NOT ct.via_order LOOP
		CONTINUE WHEN pg_catalog.cardinality(t.sealed) OPERATOR(pg_catalog.=) 0
		          AND t.relname OPERATOR(pg_catalog.<>) 'orders';
		FOR v_zone IN SELECT zl.zone_id FROM @extschema@._zone_list(t.has_zone) zl
		LOOP
			EXECUTE pg_catalog.format('UPDATE %s SET %s WHERE customer_id OPERATOR(pg_catalog.=) $1%s',
				t.rel,
				pg_catalog.concat_ws(', ',
					(SELECT pg_catalog.string_agg(pg_catalog.format('%I = NULL', c), ', ') FROM pg_catalog.unnest(t.sealed) c),
					-- and the reason an order was cancelled for: an app may pass
					-- the customer's own words; an errand's pickup is a place
					-- the customer named (a takeaway's, the merchant's door)
					CASE WHEN t.relname OPERATOR(pg_catalog.=) 'orders'
					     THEN 'dropoff = @extschema@._grid_cell(dropoff, $3), dropoff_coarsened_at = COALESCE(dropoff_coarsened_at, $4), '
					          'pickup = CASE WHEN kind OPERATOR(pg_catalog.=) ''errand'' THEN @extschema@._grid_cell(pickup, $3) ELSE pickup END, '
					          'cancel_reason = NULL' END),
				CASE WHEN t.has_zone THEN ' AND zone_id OPERATOR(pg_catalog.=) $2' ELSE '' END)
			USING p_customer_id, v_zone, v_cell, p_now;
			GET DIAGNOSTICS v_n = ROW_COUNT;
			v_rows := v_rows OPERATOR(pg_catalog.+) v_n;
		END LOOP;
	END LOOP;
	-- a refund carries its order's cancel reason: it goes with it; and the
	-- reasons a payment or a refund failed for, as the app or the payment
	-- service gave them (they may name the customer's card or bank)
	FOR v_zone IN SELECT zl.zone_id FROM @extschema@._zone_list(true) zl LOOP
		UPDATE @extschema@.refunds r SET reason = 'erased', failure_reason = NULL
		  FROM @extschema@.orders o
		 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone AND o.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND r.order_id OPERATOR(pg_catalog.=) o.order_id
		   AND o.customer_id OPERATOR(pg_catalog.=) p_customer_id
		   AND (r.reason OPERATOR(pg_catalog.<>) 'erased' OR r.failure_reason IS NOT NULL);
		UPDATE @extschema@.payments p SET failure_reason = NULL
		  FROM @extschema@.orders o
		 WHERE p.zone_id OPERATOR(pg_catalog.=) v_zone AND o.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND p.order_id OPERATOR(pg_catalog.=) o.order_id
		   AND o.customer_id OPERATOR(pg_catalog.=) p_customer_id
		   AND p.failure_reason IS NOT NULL;
		-- what was written resolving their complaints (the caller's free
		-- text about the customer's order, sql/76_complaints.sql)
		UPDATE @extschema@.complaint_tickets k SET resolution = 'erased'
		  FROM @extschema@.orders o
		 WHERE k.zone_id OPERATOR(pg_catalog.=) v_zone AND o.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND k.order_id OPERATOR(pg_catalog.=) o.order_id
		   AND o.customer_id OPERATOR(pg_catalog.=) p_customer_id
		   AND k.resolution OPERATOR(pg_catalog.<>) 'erased';
	END LOOP;
	RETURN v_rows;
END
$$;
COMMENT ON FUNCTION @extschema@._forget_rows(bigint, timestamptz) IS
	'Internal (forget_customer): sets every sealed field of the customer''s rows (_customer_tables) to NULL, coarsens the drop-off points of their orders and the pickup points of their errands and clears the reasons given for cancelling them (on the orders and their refunds), for the failures of their payments and refunds, and the resolutions of their complaint tickets (the word erased); returns the rows changed.';
REVOKE ALL ON FUNCTION @extschema@._forget_rows(bigint, timestamptz) FROM PUBLIC;

-- _forget_rectify_reasons (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._forget_rectify_reasons(p_subject text, p_subject_id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_n bigint;
BEGIN
	UPDATE @extschema@.pii_access_log l
	   SET detail = pg_catalog.split_part(l.detail, '; reason: ', 1) OPERATOR(pg_catalog.||) '; reason: erased'
	 WHERE l.subject OPERATOR(pg_catalog.=) p_subject
	   AND l.subject_id OPERATOR(pg_catalog.=) p_subject_id
	   AND l.purpose OPERATOR(pg_catalog.=) 'rectification'
	   AND l.detail OPERATOR(pg_catalog.<>)
	       (pg_catalog.split_part(l.detail, '; reason: ', 1) OPERATOR(pg_catalog.||) '; reason: erased');
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@._forget_rectify_reasons(text, bigint) IS
	'Internal (forget_customer, forget_rider): replaces the reasons given for the subject''s rectifications in pii_access_log (free text of the caller''s) by the word erased, keeping the fields changed; returns the log rows changed.';
REVOKE ALL ON FUNCTION @extschema@._forget_rectify_reasons(text, bigint) FROM PUBLIC;

-- _forget_profile (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._forget_profile(p_customer_id bigint, p_now timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE @extschema@.consents c SET revoked_at = p_now
	 WHERE c.customer_id OPERATOR(pg_catalog.=) p_customer_id AND c.revoked_at IS NULL;
	UPDATE @extschema@.customers c
	   SET phone_index = NULL, phone_enc = NULL, name_enc = NULL, flag_reason = NULL, forgotten_at = p_now
	 WHERE c.customer_id OPERATOR(pg_catalog.=) p_customer_id;
	-- a dispatcher's words about the customer go too; that they were flagged stays
	UPDATE @extschema@.customer_flags f SET reason = NULL
	 WHERE f.customer_id OPERATOR(pg_catalog.=) p_customer_id AND f.reason IS NOT NULL;
	-- their referral code: it named them to whoever it was given, and no
	-- one is referred by an erased customer any more
	DELETE FROM @extschema@.referral_codes r WHERE r.customer_id OPERATOR(pg_catalog.=) p_customer_id;
	PERFORM @extschema@._forget_rectify_reasons('customer', p_customer_id);
END
$$;
COMMENT ON FUNCTION @extschema@._forget_profile(bigint, timestamptz) IS
	'Internal (forget_customer): revokes the customer''s open consents, removes the phone blind index, the flag reason, the referral code and the reasons given for their rectifications (pii_access_log), and stamps forgotten_at.';
REVOKE ALL ON FUNCTION @extschema@._forget_profile(bigint, timestamptz) FROM PUBLIC;

-- _forget_experiments (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._forget_experiments(p_customer_id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
	v_converted bigint[] := '{}';
	v_ids bigint[];
	v_n bigint;
BEGIN
	PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._lock_key('rollup')::integer, 0);
	PERFORM FROM @extschema@.experiment_exposures e
	  WHERE e.customer_id OPERATOR(pg_catalog.=) p_customer_id
	  FOR UPDATE;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	-- the experiments the customer converted in, zone by zone
	FOR v_zone IN SELECT z.zone_id FROM @extschema@.zones z ORDER BY 1 LOOP
		SELECT pg_catalog.array_agg(DISTINCT e.experiment_id) INTO v_ids
		  FROM @extschema@.experiment_exposures e
		  JOIN @extschema@.experiments x ON x.experiment_id OPERATOR(pg_catalog.=) e.experiment_id
		  JOIN @extschema@.orders o
		    ON o.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND o.customer_id OPERATOR(pg_catalog.=) e.customer_id
		   AND o.created_at OPERATOR(pg_catalog.<) (e.exposed_at OPERATOR(pg_catalog.+) x.conversion_window)
		   AND o.placed_at OPERATOR(pg_catalog.>=) e.exposed_at
		   AND o.placed_at OPERATOR(pg_catalog.<) (e.exposed_at OPERATOR(pg_catalog.+) x.conversion_window)
		   AND o.status OPERATOR(pg_catalog.<>) 'cancelled'
		 WHERE e.customer_id OPERATOR(pg_catalog.=) p_customer_id;
		v_converted := v_converted OPERATOR(pg_catalog.||) COALESCE(v_ids, '{}');
	END LOOP;

	INSERT INTO @extschema@.experiment_erased AS t (experiment_id, variant, day, exposed, converted)
	SELECT e.experiment_id, e.variant, (e.exposed_at AT TIME ZONE 'UTC')::date, 1,
	       (e.experiment_id OPERATOR(pg_catalog.=) ANY (v_converted))::integer
	  FROM @extschema@.experiment_exposures e
	 WHERE e.customer_id OPERATOR(pg_catalog.=) p_customer_id
	ON CONFLICT ON CONSTRAINT experiment_erased_pkey DO UPDATE
	   SET exposed = t.exposed OPERATOR(pg_catalog.+) EXCLUDED.exposed,
	       converted = t.converted OPERATOR(pg_catalog.+) EXCLUDED.converted;
	GET DIAGNOSTICS v_n = ROW_COUNT;

	-- out of the rollup: what it counted for them (experiment_daily holds
	-- the live exposures only; a full run rebuilds it from them)
	UPDATE @extschema@.experiment_daily d
	   SET exposed = d.exposed OPERATOR(pg_catalog.-) f.exposed,
	       converted = d.converted OPERATOR(pg_catalog.-) f.converted
	  FROM (SELECT f.experiment_id, f.variant, f.day, pg_catalog.count(*)::integer AS exposed,
	               pg_catalog.count(*) FILTER (WHERE f.converted)::integer AS converted
	          FROM @extschema@.experiment_facts f
	         WHERE f.customer_id OPERATOR(pg_catalog.=) p_customer_id
	         GROUP BY 1, 2, 3) f
	 WHERE d.experiment_id OPERATOR(pg_catalog.=) f.experiment_id
	   AND d.variant OPERATOR(pg_catalog.=) f.variant AND d.day OPERATOR(pg_catalog.=) f.day;
	DELETE FROM @extschema@.experiment_facts f WHERE f.customer_id OPERATOR(pg_catalog.=) p_customer_id;
	DELETE FROM @extschema@.experiment_exposures e WHERE e.customer_id OPERATOR(pg_catalog.=) p_customer_id;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@._forget_experiments(bigint) IS
	'Internal (forget_customer): moves the customer''s experiment exposures into experiment_erased as counts without ids (variant, day, converted as experiment_results counts it), takes them out of the rollup (experiment_daily, experiment_facts) and deletes them; under the rollup''s lock (advisory, ''rollup'').  Returns the exposures moved.';
REVOKE ALL ON FUNCTION @extschema@._forget_experiments(bigint) FROM PUBLIC;

-- forget_customer (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.forget_customer(customer_id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_now timestamptz := @extschema@.clock();
	v_unpaid bigint[];
	v_order bigint;
	v_rows bigint;
	v_exposures bigint;
	v_request bigint;
BEGIN
	-- first the subject lock (it waits for transactions sealing for this
	-- customer, which lock the customer row after it), then the row
	PERFORM @extschema@._lock_subject('customer', forget_customer.customer_id, true);
	IF @extschema@._lock_customer(forget_customer.customer_id) IS NOT NULL THEN
		SELECT r.request_id INTO v_request FROM @extschema@.privacy_requests r
		 WHERE r.customer_id OPERATOR(pg_catalog.=) forget_customer.customer_id
		   AND r.kind OPERATOR(pg_catalog.=) 'forget'
		 ORDER BY r.request_id LIMIT 1;
		RAISE NOTICE 'customer % was forgotten already', customer_id;
		RETURN v_request;
	END IF;

	v_unpaid := @extschema@._forget_lock_orders(customer_id);   -- DP405 if active
	FOREACH v_order IN ARRAY v_unpaid LOOP                     -- never paid now
		PERFORM @extschema@.cancel_order(v_order, 'customer erased');
	END LOOP;
	PERFORM @extschema@._forget_key(customer_id);
	v_rows := @extschema@._forget_rows(customer_id, v_now);
	v_exposures := @extschema@._forget_experiments(customer_id);
	PERFORM @extschema@._forget_profile(customer_id, v_now);

	INSERT INTO @extschema@.privacy_requests (customer_id, kind, requested_at, completed_at, detail)
	VALUES (forget_customer.customer_id, 'forget', v_started, pg_catalog.clock_timestamp(),
	        pg_catalog.jsonb_build_object('rows_anonymised', v_rows,
	                                      'orders_cancelled', pg_catalog.cardinality(v_unpaid),
	                                      'exposures_counted', v_exposures))
	RETURNING request_id INTO v_request;
	RETURN v_request;
END
$$;
COMMENT ON FUNCTION @extschema@.forget_customer(bigint) IS
	'Erases a customer: destroys their data key (crypto-shredding), removes the phone blind index, every sealed field, their referral code and the reasons given for their rectifications (pii_access_log: the word erased, the fields stay) and the resolutions of their complaint tickets (the word erased), coarsens their drop-off points and their errands'' pickup points, cancels unpaid orders, revokes consents, turns their experiment exposures into counts without ids (experiment_erased) and stamps forgotten_at; ids, amounts and times stay for accounting.  Refused (DP405) while an order is placed, accepted, assigned or picked up, and in a repeatable read or serializable transaction (DP418).  Returns the privacy request id.';

-- _rectify_log (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._rectify_log(p_subject text, p_subject_id bigint, p_fields text[], p_reason text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO @extschema@.pii_access_log (subject, subject_id, purpose, detail)
	VALUES (p_subject, p_subject_id, 'rectification',
	        'fields: ' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(p_fields, ', ')
	        OPERATOR(pg_catalog.||) '; reason: ' OPERATOR(pg_catalog.||) p_reason);
END;
COMMENT ON FUNCTION @extschema@._rectify_log(text, bigint, text[], text) IS
	'Internal: notes a rectification in pii_access_log: the fields changed (never their values) and the reason given.';
REVOKE ALL ON FUNCTION @extschema@._rectify_log(text, bigint, text[], text) FROM PUBLIC;

-- _rectify_check (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._rectify_check(p_phone text, p_name text, p_name_input text, p_reason text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._check_length('phone', p_phone);
	PERFORM @extschema@._check_length(p_name_input, p_name);
	PERFORM @extschema@._check_length('reason', p_reason);
	IF @extschema@._is_blank(p_reason) THEN
		RAISE EXCEPTION 'a rectification needs a reason' USING ERRCODE = 'DP412';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._rectify_check(text, text, text, text) IS
	'Internal: the argument checks of update_customer and update_rider (lengths, DP028; a reason, DP412).';
REVOKE ALL ON FUNCTION @extschema@._rectify_check(text, text, text, text) FROM PUBLIC;

-- _rectify (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._rectify(p_subject text, p_id bigint, p_phone text, p_name text, p_reason text)
RETURNS text[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- customers or riders: the two tables of subjects, alike in these columns
	v_table text := CASE p_subject WHEN 'customer' THEN 'customers' WHEN 'rider' THEN 'riders' END;
	v_fields text[] := '{}';
	v_taken boolean;
	v_sealed bytea;
	v_index record;
	-- a rider's row is found in the rider's zone (riders are distributed
	-- by zone on Citus); customers have no zone
	v_zone bigint := CASE p_subject WHEN 'rider' THEN @extschema@._rider_zone(p_id) END;
	v_zone_clause text := CASE p_subject WHEN 'rider' THEN ' AND s.zone_id OPERATOR(pg_catalog.=) $%s' ELSE '' END;
BEGIN
	IF p_phone IS NOT NULL THEN
		-- a rider's phone: looked up under its lock, as register_rider does
		IF p_subject OPERATOR(pg_catalog.=) 'rider' THEN
			PERFORM @extschema@._lock_rider_phone(p_phone);
		END IF;
		-- the indexes computed first, a constant of the statement (on Citus
		-- it reaches every zone's riders); a subquery with a column, as
		-- Citus reads its result back from the workers
		EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM @extschema@.%I s WHERE s.phone_index OPERATOR(pg_catalog.=)'
		                          ' ANY ($1) AND s.%I OPERATOR(pg_catalog.<>) $2)',
		                          v_table, p_subject || '_id')
		   INTO v_taken USING @extschema@._phone_indexes(p_phone), p_id;
		IF NOT v_taken THEN
			BEGIN
				-- sealed here, stored as values: sealing draws a new IV
				-- (VOLATILE), which Citus refuses inside an UPDATE
				v_sealed := @extschema@.pii_seal(p_subject, p_id, @extschema@.normalize_phone(p_phone));
				-- the blind index and its version, read under the lock of
				-- the UPDATE (sql/30_keys.sql, writers of key versions)
				PERFORM @extschema@._lock_for_writing(pg_catalog.format('@extschema@.%I', v_table)::pg_catalog.regclass);
				v_index := @extschema@._phone_index_entry(p_phone);
				EXECUTE pg_catalog.format('UPDATE @extschema@.%I s SET phone_index = $1, phone_index_version = $2,'
				                          ' phone_enc = $3 WHERE s.%I OPERATOR(pg_catalog.=) $4%s',
				                          v_table, p_subject || '_id', pg_catalog.format(v_zone_clause, 5))
				   USING v_index.phone_index, v_index.version, v_sealed, p_id, v_zone;
			EXCEPTION WHEN unique_violation THEN
				-- registered meanwhile by a transaction that committed while we waited
				v_taken := true;
			END;
		END IF;
		IF v_taken THEN
			RAISE EXCEPTION 'another % has this phone number', p_subject USING ERRCODE = 'DP026';
		END IF;
		v_fields := v_fields OPERATOR(pg_catalog.||) 'phone'::text;
	END IF;
	IF p_name IS NOT NULL THEN
		-- an empty or blank name (_is_blank) clears it: never a name of spaces
		v_sealed := @extschema@.pii_seal(p_subject, p_id, CASE WHEN NOT @extschema@._is_blank(p_name) THEN p_name END);
		EXECUTE pg_catalog.format('UPDATE @extschema@.%I s SET name_enc = $1 WHERE s.%I OPERATOR(pg_catalog.=) $2%s',
		                          v_table, p_subject || '_id', pg_catalog.format(v_zone_clause, 3))
		   USING v_sealed, p_id, v_zone;
		v_fields := v_fields OPERATOR(pg_catalog.||) 'name'::text;
	END IF;
	IF pg_catalog.cardinality(v_fields) OPERATOR(pg_catalog.>) 0 THEN
		PERFORM @extschema@._rectify_log(p_subject, p_id, v_fields, p_reason);
	END IF;
	RETURN v_fields;
END
$$;
COMMENT ON FUNCTION @extschema@._rectify(text, bigint, text, text, text) IS
	'Internal (update_customer, update_rider): sets the phone (resealed, blind index moved; DP026 when another subject of the kind has it) and the name (an empty or blank one clears it) of a locked customer or rider, logs the fields changed, and returns them.';
REVOKE ALL ON FUNCTION @extschema@._rectify(text, bigint, text, text, text) FROM PUBLIC;

-- update_customer (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.update_customer(customer_id bigint, phone text DEFAULT NULL, name text DEFAULT NULL,
                                            reason text DEFAULT 'rectification requested by the customer')
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_fields text[];
BEGIN
	PERFORM @extschema@._rectify_check(phone, name, 'customer_name', reason);
	IF @extschema@._lock_customer(customer_id) IS NOT NULL THEN
		RAISE EXCEPTION 'customer % is erased', customer_id USING ERRCODE = 'DP012';
	END IF;
	v_fields := @extschema@._rectify('customer', customer_id, phone, name, reason);
	IF pg_catalog.cardinality(v_fields) OPERATOR(pg_catalog.=) 0 THEN
		RETURN false;
	END IF;
	INSERT INTO @extschema@.privacy_requests (customer_id, kind, requested_at, completed_at, detail)
	VALUES (customer_id, 'rectify', @extschema@.clock(), @extschema@.clock(),
	        pg_catalog.jsonb_build_object('fields', pg_catalog.to_jsonb(v_fields)));
	RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.update_customer(bigint, text, text, text) IS
	'Rectification: sets a customer''s phone and/or name (NULL keeps a field, an empty or blank name clears it), sealed under the customer''s key, the phone''s blind index with it; DP026 when another customer has the phone, DP012 for an unknown or erased customer, DP412 for a NULL or blank reason (left out, it is ''rectification requested by the customer'').  Logged in pii_access_log (fields and reason, no values) and privacy_requests.  Returns whether anything changed.';
REVOKE ALL ON FUNCTION @extschema@.update_customer(bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.update_customer(bigint, text, text, text) TO dispatch_app, dispatch_admin;

-- update_rider (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.update_rider(rider_id bigint, phone text DEFAULT NULL, name text DEFAULT NULL,
                                         reason text DEFAULT 'rectification requested by the rider')
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- the zone read first, a constant for the statement: Citus then sends
	-- it to the zone's placement alone, which could not itself read
	-- rider_zones
	v_zone bigint := @extschema@._rider_zone(update_rider.rider_id);
BEGIN
	PERFORM @extschema@._rectify_check(phone, name, 'rider_name', reason);
	PERFORM FROM @extschema@.riders r
	  WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	    AND r.rider_id OPERATOR(pg_catalog.=) update_rider.rider_id AND r.forgotten_at IS NULL
	    FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rider % does not exist', rider_id USING ERRCODE = 'DP015';
	END IF;
	RETURN pg_catalog.cardinality(@extschema@._rectify('rider', rider_id, phone, name, reason))
	       OPERATOR(pg_catalog.>) 0;
END
$$;
COMMENT ON FUNCTION @extschema@.update_rider(bigint, text, text, text) IS
	'Rectification: sets a rider''s phone and/or name (NULL keeps a field, an empty or blank name clears it), sealed under the rider''s key, with the phone''s blind index; DP026 when another rider has the phone, DP015 for an unknown rider, DP412 for a NULL or blank reason (left out, it is ''rectification requested by the rider'').  Logged in pii_access_log (fields and reason, no values).  Returns whether anything changed.';
REVOKE ALL ON FUNCTION @extschema@.update_rider(bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.update_rider(bigint, text, text, text) TO dispatch_app, dispatch_admin;

-- export_rider (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.export_rider(rider_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	v_r @extschema@.riders;
	v_key bytea;
	v_doc jsonb;
	-- read first: a constant zone sends the statement to one placement,
	-- which could not itself read rider_zones
	v_zone bigint := @extschema@._rider_zone(export_rider.rider_id);
BEGIN
	-- (generic plans: the key is never a constant of a plan, _export_tables;
	-- on Citus, whose planner cannot distribute a generic plan of these
	-- statements, custom ones, for this call only: the function's SET
	-- clause ends what set_config sets locally here)
	IF EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		PERFORM pg_catalog.set_config('plan_cache_mode', 'auto', true);
	END IF;
	SELECT * INTO v_r FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rider % does not exist', rider_id USING ERRCODE = 'DP015';
	END IF;
	v_key := @extschema@._subject_key_or_null('rider', rider_id);
	v_doc := pg_catalog.jsonb_build_object(
		'profile', pg_catalog.jsonb_build_object(
			'rider_id', v_r.rider_id, 'zone_id', v_r.zone_id,
			'name', @extschema@._unseal(v_r.name_enc, v_key),
			'phone', @extschema@._unseal(v_r.phone_enc, v_key),
			'capacity', v_r.capacity, 'vehicle', v_r.vehicle, 'status', v_r.status,
			'created_at', v_r.created_at, 'forgotten_at', v_r.forgotten_at,
			'plan', CASE WHEN v_r.free_at IS NOT NULL THEN pg_catalog.jsonb_build_object(
				'free_at', v_r.free_at, 'position', @extschema@._geojson(v_r.free_position),
				'pickup_at', v_r.plan_pickup_at, 'pickup', @extschema@._geojson(v_r.plan_pickup_position)) END),
		'tracks', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'at', t.at, 'position', @extschema@._geojson(t.position)) ORDER BY t.at)
			FROM @extschema@.rider_tracks t WHERE t.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		-- the rider's side of their orders only: nothing of the customer
		'orders', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'order_id', o.order_id, 'zone_id', o.zone_id, 'status', o.status,
				'created_at', o.created_at, 'status_changed_at', o.status_changed_at) ORDER BY o.created_at)
			FROM @extschema@.orders o
			WHERE o.order_id IN (SELECT f.order_id FROM @extschema@.offers f
			                      WHERE f.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id)
			   OR o.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		'offers', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(f) ORDER BY f.created_at)
			FROM @extschema@.offers f WHERE f.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		'pay', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(p) ORDER BY p.delivered_at)
			FROM @extschema@.rider_pay p WHERE p.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		-- what their app synced, the orders they may no longer be offered
		-- (with the reason they gave releasing one), their shifts' starts
		-- and ends
		'sync_log', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(l) ORDER BY l.synced_at, l.client_at, l.client_event_id)
			FROM @extschema@.rider_sync_log l WHERE l.zone_id OPERATOR(pg_catalog.=) v_r.zone_id
			                                    AND l.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		'exclusions', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(x) ORDER BY x.at, x.order_id)
			FROM @extschema@.offer_exclusions x WHERE x.zone_id OPERATOR(pg_catalog.=) v_r.zone_id
			                                      AND x.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		-- how matching weighed them: every offer they were a candidate
		-- for (offer_audit, in their zone), their rank, whether they were
		-- chosen and their own cost components; never the other candidates
		'matching', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'offer_id', a.offer_id, 'order_id', a.order_id, 'batch_id', a.batch_id, 'method', a.method,
				'rank', c.rank, 'chosen', a.chosen_rider OPERATOR(pg_catalog.=) export_rider.rider_id,
				'distance_m', a.candidate_parts[c.rank][1], 'cost', a.candidate_parts[c.rank][2],
				'travel_s', a.candidate_parts[c.rank][3], 'rider_wait_s', a.candidate_parts[c.rank][4],
				'food_wait_s', a.candidate_parts[c.rank][5], 'late_s', a.candidate_parts[c.rank][6],
				'priority_factor', a.candidate_parts[c.rank][7], 'load_penalty', a.candidate_parts[c.rank][8],
				'fairness', a.candidate_parts[c.rank][9], 'fatigue', a.candidate_parts[c.rank][10])
				ORDER BY a.batch_id, a.offer_id)
			FROM @extschema@.offer_audit a
			CROSS JOIN LATERAL pg_catalog.generate_subscripts(a.candidate_ids, 1) AS c(rank)
			WHERE a.zone_id OPERATOR(pg_catalog.=) v_r.zone_id
			  AND a.candidate_ids[c.rank] OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		'status_events', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'at', e.at, 'kind', e.kind, 'payload', e.payload) ORDER BY e.seq)
			FROM @extschema@.events e WHERE e.zone_id OPERATOR(pg_catalog.=) v_r.zone_id
			                            AND e.kind OPERATOR(pg_catalog.=) 'rider_status'
			                            AND e.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		-- both logs: an opening made for an order lies in the order's
		-- zone, which is the rider's
		'access_log', @extschema@._access_log('rider', export_rider.rider_id, v_r.zone_id),
		'disclosures', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(d))
			FROM @extschema@._disclosures_of(NULL, export_rider.rider_id) d), '[]'));
	INSERT INTO @extschema@.pii_access_log (subject, subject_id, purpose, detail)
	VALUES ('rider', rider_id, 'export',
	        pg_catalog.format('export_rider: profile, %s tracks, %s orders',
	                          pg_catalog.jsonb_array_length(v_doc -> 'tracks'),
	                          pg_catalog.jsonb_array_length(v_doc -> 'orders')));
	RETURN v_doc;
END
$$;
COMMENT ON FUNCTION @extschema@.export_rider(bigint) IS
	'Everything stored about a rider as JSON: profile (name and phone opened), tracks, their side of their orders (ids, statuses, times; nothing of the customer), offers, pay, their app''s sync log, their exclusions from orders (with the reason they gave releasing one), how matching weighed them (matching: each offer they were a candidate for in offer_audit, their rank, whether chosen and their own cost components, never the other candidates), their rider_status events and who opened their data.  Logged in pii_access_log.';
REVOKE ALL ON FUNCTION @extschema@.export_rider(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.export_rider(bigint) TO dispatch_app, dispatch_admin;

-- forget_rider (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.forget_rider(rider_id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_r @extschema@.riders;
	v_tracks bigint;
	-- read first: a constant zone sends the statement to one placement,
	-- which could not itself read rider_zones
	v_zone bigint := @extschema@._rider_zone(forget_rider.rider_id);
BEGIN
	SELECT * INTO v_r FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rider % does not exist', rider_id USING ERRCODE = 'DP015';
	END IF;
	IF v_r.forgotten_at IS NOT NULL THEN
		RETURN 0;                                   -- a repeat
	END IF;
	IF v_r.active_orders OPERATOR(pg_catalog.>) 0 OR v_r.pending_offers OPERATOR(pg_catalog.>) 0
	   OR EXISTS (SELECT FROM @extschema@.orders o
	               WHERE o.zone_id OPERATOR(pg_catalog.=) v_r.zone_id
	                 AND o.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id
	                 AND o.status IN ('assigned', 'picked_up')) THEN
		RAISE EXCEPTION 'rider % holds orders or offers', rider_id USING ERRCODE = 'DP413',
			HINT = 'Erase the rider after their orders are delivered or released.';
	END IF;
	PERFORM @extschema@._shred_key('rider', rider_id);
	DELETE FROM @extschema@.rider_tracks t
	 WHERE t.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND t.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id;
	GET DIAGNOSTICS v_tracks = ROW_COUNT;
	-- what the rider's app synced (its event ids and times) goes with the
	-- tracks, and the words the rider gave answering an offer (an accept
	-- keeps its reason too, and a released offer is an accepted one) or
	-- releasing an order with the name: the offers and exclusions stay,
	-- without them
	DELETE FROM @extschema@.rider_sync_log l
	 WHERE l.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND l.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id;
	UPDATE @extschema@.offers f SET reason = NULL
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND f.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id
	   AND f.reason IS NOT NULL;
	UPDATE @extschema@.offer_exclusions e SET detail = NULL
	 WHERE e.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND e.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id
	   AND e.detail IS NOT NULL;
	PERFORM @extschema@._forget_rectify_reasons('rider', rider_id);
	UPDATE @extschema@.riders r
	   SET name_enc = NULL, phone_enc = NULL, phone_index = NULL, position = NULL, position_at = NULL,
	       free_at = NULL, free_position = NULL, plan_pickup_at = NULL, plan_pickup_position = NULL,
	       status = 'offline', online_since = NULL, shift_ends_at = NULL, forgotten_at = @extschema@.clock()
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND r.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id;
	IF v_r.status OPERATOR(pg_catalog.=) 'online' THEN
		PERFORM @extschema@._emit_event(v_r.zone_id, 'rider_status', NULL, NULL, rider_id,
		                                '{"status": "offline"}'::jsonb);
	END IF;
	INSERT INTO @extschema@.pii_access_log (subject, subject_id, purpose, detail)
	VALUES ('rider', rider_id, 'erasure', pg_catalog.format('forget_rider: key shredded, %s tracks deleted', v_tracks));
	RETURN v_tracks OPERATOR(pg_catalog.+) 1;
END
$$;
COMMENT ON FUNCTION @extschema@.forget_rider(bigint) IS
	'Erasure of a rider: refused (DP413) while they hold orders or offers; shreds their data key (name and phone never open again), deletes their tracks, last position and app sync log, clears the words they gave answering offers (accepted, rejected, released or other) and releasing orders and the reasons given for their rectifications (pii_access_log: the word erased), takes them offline for good; their deliveries, offers and pay stay under the bare id.  Returns rows erased (tracks and the profile); a repeat returns 0.  Logged in pii_access_log.';
REVOKE ALL ON FUNCTION @extschema@.forget_rider(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.forget_rider(bigint) TO dispatch_app, dispatch_admin;

-- register_processor (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.register_processor(name text, purpose text, legal_basis text) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
BEGIN
	-- the table's constraints are the rules of a processor
	INSERT INTO @extschema@.processors AS p (name, purpose, legal_basis, registered_at)
	VALUES (register_processor.name, pg_catalog.btrim(register_processor.purpose),
	        register_processor.legal_basis, @extschema@.clock())
	ON CONFLICT ON CONSTRAINT processors_name_key DO UPDATE
	   SET purpose = EXCLUDED.purpose, legal_basis = EXCLUDED.legal_basis, retired_at = NULL
	RETURNING p.processor_id INTO v_id;
	RETURN v_id;
EXCEPTION WHEN check_violation OR not_null_violation THEN
	RAISE EXCEPTION 'a processor needs a name (lower case, digits, _ . -), a purpose of at most 200 characters and a legal basis'
		USING ERRCODE = 'DP415',
		      HINT = 'Legal bases: consent, contract, legal_obligation, vital_interests, public_task, legitimate_interests.';
END
$$;
COMMENT ON FUNCTION @extschema@.register_processor(text, text, text) IS
	'Registers a processor (or changes its purpose and legal basis, and brings a retired one back); returns its id.  DP415 for a bad name, purpose or legal basis.';
REVOKE ALL ON FUNCTION @extschema@.register_processor(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.register_processor(text, text, text) TO dispatch_admin;

-- retire_processor (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.retire_processor(name text) RETURNS boolean
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	UPDATE @extschema@.processors p SET retired_at = @extschema@.clock()
	 WHERE p.name OPERATOR(pg_catalog.=) retire_processor.name AND p.retired_at IS NULL
	RETURNING true;
END;
COMMENT ON FUNCTION @extschema@.retire_processor(text) IS
	'Retires a processor: nothing may be disclosed to it any more (DP414); its past disclosures stay.  NULL when there is no such active processor.';
REVOKE ALL ON FUNCTION @extschema@.retire_processor(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.retire_processor(text) TO dispatch_admin;

-- record_disclosure (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.record_disclosure(processor text, customer_id bigint, rider_id bigint, fields text[],
                                              order_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_processor bigint;
	v_id bigint;
	v_zone bigint := @extschema@.zone_of(record_disclosure.order_id);
	-- the row's values computed here, the statement storing them: on Citus
	-- it runs on the zone's worker
	v_at timestamptz;
	v_actor name := SESSION_USER;
BEGIN
	IF (customer_id IS NULL) = (rider_id IS NULL) OR fields IS NULL
	   OR pg_catalog.cardinality(fields) NOT BETWEEN 1 AND 20
	   OR EXISTS (SELECT FROM pg_catalog.unnest(fields) f WHERE f IS NULL OR f !~ '^[a-z_]{1,40}$') THEN
		RAISE EXCEPTION 'a disclosure names one subject (a customer or a rider) and 1 to 20 fields (lower-case names)'
			USING ERRCODE = 'DP415';
	END IF;
	SELECT p.processor_id INTO v_processor FROM @extschema@.processors p
	 WHERE p.name OPERATOR(pg_catalog.=) processor AND p.retired_at IS NULL;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no active processor is named "%"', processor USING ERRCODE = 'DP414',
			HINT = 'Register it with register_processor(name, purpose, legal_basis).';
	END IF;
	v_at := @extschema@.clock();
	-- for an order of a zone: in the order's zone (order_disclosures), so
	-- that on Citus the call writes the zone's worker only
	IF EXISTS (SELECT FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) v_zone) THEN
		v_id := @extschema@.zone_scoped_id(v_zone, pg_catalog.nextval('@extschema@.order_disclosures_id_seq'));
		INSERT INTO @extschema@.order_disclosures (zone_id, disclosure_id, at, processor_id, customer_id, rider_id,
		                                           order_id, fields, actor)
		VALUES (v_zone, v_id, v_at, v_processor, record_disclosure.customer_id, record_disclosure.rider_id,
		        record_disclosure.order_id, fields, v_actor);
		RETURN v_id;
	END IF;
	INSERT INTO @extschema@.disclosures (at, processor_id, customer_id, rider_id, order_id, fields, actor)
	VALUES (v_at, v_processor, record_disclosure.customer_id, record_disclosure.rider_id,
	        record_disclosure.order_id, fields, v_actor)
	RETURNING disclosure_id INTO v_id;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.record_disclosure(text, bigint, bigint, text[], bigint) IS
	'Notes that personal data of a customer or a rider (field names, e.g. {phone, dropoff_address}) went to a registered processor, for an order or not; returns the disclosure''s id.  Recorded in order_disclosures, in the order''s zone, when it names an order of a zone; in disclosures otherwise.  DP414: no such active processor; DP415: not one subject, or bad field names.';
REVOKE ALL ON FUNCTION @extschema@.record_disclosure(text, bigint, bigint, text[], bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.record_disclosure(text, bigint, bigint, text[], bigint) TO dispatch_app, dispatch_admin;

-- _disclosures_of (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._disclosures_of(p_customer_id bigint, p_rider_id bigint)
RETURNS TABLE (at timestamptz, processor text, purpose text, legal_basis text, fields text[], order_id bigint, actor name)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN QUERY
	SELECT d.at, p.name, p.purpose, p.legal_basis, d.fields, d.order_id, d.actor
	  FROM (SELECT r.at, r.processor_id, r.fields, r.order_id, r.actor, NULL::bigint AS zone_id, r.disclosure_id
	          FROM @extschema@.disclosures r
	         WHERE r.customer_id OPERATOR(pg_catalog.=) p_customer_id OR r.rider_id OPERATOR(pg_catalog.=) p_rider_id
	        UNION ALL
	        SELECT z.at, z.processor_id, z.fields, z.order_id, z.actor, z.zone_id, z.disclosure_id
	          FROM @extschema@.order_disclosures z
	         WHERE z.customer_id OPERATOR(pg_catalog.=) p_customer_id OR z.rider_id OPERATOR(pg_catalog.=) p_rider_id) d
	  JOIN @extschema@.processors p ON p.processor_id OPERATOR(pg_catalog.=) d.processor_id
	 ORDER BY d.at, d.zone_id NULLS FIRST, d.disclosure_id;
END
$$;
COMMENT ON FUNCTION @extschema@._disclosures_of(bigint, bigint) IS
	'Internal (disclosures, export_rider): the disclosures of a customer or of a rider (the other argument NULL), from disclosures and order_disclosures (those made for an order, in its zone), in time order, with the processor''s name, purpose and legal basis.';
REVOKE ALL ON FUNCTION @extschema@._disclosures_of(bigint, bigint) FROM PUBLIC;

-- disclosures (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.disclosures(customer_id bigint)
RETURNS TABLE (at timestamptz, processor text, purpose text, legal_basis text, fields text[], order_id bigint, actor name)
LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT * FROM @extschema@._disclosures_of(disclosures.customer_id, NULL);
END;
COMMENT ON FUNCTION @extschema@.disclosures(bigint) IS
	'What of a customer''s personal data went to which processor, when, why (purpose, legal basis) and for which order (from disclosures and order_disclosures); part of export_customer.';
REVOKE ALL ON FUNCTION @extschema@.disclosures(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.disclosures(bigint) TO dispatch_app, dispatch_admin;

-- receive_privacy_request (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.receive_privacy_request(customer_id bigint, kind text) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_id bigint;
BEGIN
	IF kind IS NULL OR kind NOT IN ('access', 'erasure', 'rectification', 'objection') THEN
		RAISE EXCEPTION 'unknown kind of privacy request "%"', kind USING ERRCODE = 'DP416',
			HINT = 'Kinds: access, erasure, rectification, objection.';
	END IF;
	IF NOT EXISTS (SELECT FROM @extschema@.customers c
	                WHERE c.customer_id OPERATOR(pg_catalog.=) receive_privacy_request.customer_id) THEN
		RAISE EXCEPTION 'customer % does not exist', customer_id USING ERRCODE = 'DP012';
	END IF;
	INSERT INTO @extschema@.privacy_requests (customer_id, kind, requested_at, state, due_at)
	VALUES (customer_id, kind, v_now, 'received',
	        v_now OPERATOR(pg_catalog.+) pg_catalog.make_interval(days => @extschema@._setting_int('dispatch.privacy_request_days')))
	RETURNING request_id INTO v_id;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.receive_privacy_request(bigint, text) IS
	'Queues a data subject''s request (access, erasure, rectification, objection) of a customer, due dispatch.privacy_request_days later; returns its id.  DP416: unknown kind; DP012: unknown customer.';
REVOKE ALL ON FUNCTION @extschema@.receive_privacy_request(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.receive_privacy_request(bigint, text) TO dispatch_app, dispatch_admin;

-- _open_request (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._open_request(p_request_id bigint) RETURNS @extschema@.privacy_requests
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_r @extschema@.privacy_requests;
BEGIN
	SELECT * INTO v_r FROM @extschema@.privacy_requests r
	 WHERE r.request_id OPERATOR(pg_catalog.=) p_request_id FOR UPDATE;
	IF NOT FOUND OR v_r.state NOT IN ('received', 'waiting') THEN
		RAISE EXCEPTION 'privacy request % is not open', p_request_id USING ERRCODE = 'DP417';
	END IF;
	RETURN v_r;
END
$$;
COMMENT ON FUNCTION @extschema@._open_request(bigint) IS
	'Internal: locks an open privacy request (received or waiting) and returns it; DP417 for any other.';
REVOKE ALL ON FUNCTION @extschema@._open_request(bigint) FROM PUBLIC;

-- complete_privacy_request (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.complete_privacy_request(request_id bigint, refused boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._open_request(request_id);
	UPDATE @extschema@.privacy_requests r
	   SET state = CASE WHEN refused THEN 'refused' ELSE 'done' END,
	       completed_at = @extschema@.clock(), handled_by = SESSION_USER
	 WHERE r.request_id OPERATOR(pg_catalog.=) complete_privacy_request.request_id;
END
$$;
COMMENT ON FUNCTION @extschema@.complete_privacy_request(bigint, boolean) IS
	'Closes an open privacy request as done (or refused), naming the session user as its handler; for rectifications after update_customer.  DP417 when it is not open.';
REVOKE ALL ON FUNCTION @extschema@.complete_privacy_request(bigint, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.complete_privacy_request(bigint, boolean) TO dispatch_admin;

-- handle_privacy_request (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.handle_privacy_request(request_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_r @extschema@.privacy_requests := @extschema@._open_request(request_id);
	v_out jsonb;
BEGIN
	IF v_r.kind OPERATOR(pg_catalog.=) 'access' THEN
		v_out := @extschema@.export_customer(v_r.customer_id);
	ELSIF v_r.kind OPERATOR(pg_catalog.=) 'objection' THEN
		PERFORM @extschema@.revoke_consent(v_r.customer_id, p)
		   FROM pg_catalog.unnest(ARRAY['marketing', 'personalisation']) p;
		v_out := '{"revoked": ["marketing", "personalisation"]}';
	ELSIF v_r.kind OPERATOR(pg_catalog.=) 'erasure' THEN
		BEGIN
			v_out := pg_catalog.jsonb_build_object('erased', @extschema@.forget_customer(v_r.customer_id));
		EXCEPTION WHEN SQLSTATE 'DP405' THEN
			-- an active delivery: process_privacy_requests completes it afterwards
			UPDATE @extschema@.privacy_requests r SET state = 'waiting', handled_by = SESSION_USER
			 WHERE r.request_id OPERATOR(pg_catalog.=) handle_privacy_request.request_id;
			RETURN '{"state": "waiting"}';
		END;
	ELSE
		RAISE EXCEPTION 'a rectification needs the corrected data' USING ERRCODE = 'DP416',
			HINT = 'Call update_customer with it, then complete_privacy_request.';
	END IF;
	PERFORM @extschema@.complete_privacy_request(request_id);
	RETURN pg_catalog.jsonb_build_object('state', 'done', 'result', v_out);
END
$$;
COMMENT ON FUNCTION @extschema@.handle_privacy_request(bigint) IS
	'Does an open request now and closes it: access returns the export, objection revokes consent to marketing and personalisation, erasure forgets the customer or, during an active delivery, leaves the request waiting for process_privacy_requests.  A rectification needs the corrected data (DP416: update_customer, then complete_privacy_request).';
REVOKE ALL ON FUNCTION @extschema@.handle_privacy_request(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.handle_privacy_request(bigint) TO dispatch_admin;

-- process_privacy_requests (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.process_privacy_requests() RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
	v_done integer := 0;
	v_code text;
BEGIN
	IF pg_catalog.pg_is_in_recovery() THEN
		RETURN 0;
	END IF;
	FOR v_id IN SELECT r.request_id FROM @extschema@.privacy_requests r
	             WHERE r.state OPERATOR(pg_catalog.=) 'waiting' AND r.kind OPERATOR(pg_catalog.=) 'erasure'
	             ORDER BY r.due_at LOOP
		-- each request in a subtransaction of its own: one that fails
		-- undoes only itself and stays waiting, the others go on.  Its
		-- failure is noted on the request, the SQLSTATE only (a message may
		-- quote personal data)
		BEGIN
			IF (@extschema@.handle_privacy_request(v_id) ->> 'state') OPERATOR(pg_catalog.=) 'done' THEN
				v_done := v_done OPERATOR(pg_catalog.+) 1;
			END IF;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE;
			UPDATE @extschema@.privacy_requests r
			   SET detail = r.detail OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
			                    'failed_at', @extschema@.clock(), 'sqlstate', v_code,
			                    'failures', COALESCE((r.detail OPERATOR(pg_catalog.->>) 'failures')::integer, 0)
			                                OPERATOR(pg_catalog.+) 1)
			 WHERE r.request_id OPERATOR(pg_catalog.=) v_id;
			RAISE WARNING 'privacy request % failed with SQLSTATE %; it stays waiting for the next run', v_id, v_code;
		END;
	END LOOP;
	RETURN v_done;
END
$$;
COMMENT ON FUNCTION @extschema@.process_privacy_requests() IS
	'pg_cron job (dispatch-privacy, every five minutes): completes the erasures that waited for a delivery to end; returns how many.  Each request runs on its own: one that fails is undone alone, stays waiting, and its detail notes the failure (failed_at, sqlstate, failures: a count); the others go on.  Nothing on a standby.';
REVOKE ALL ON FUNCTION @extschema@.process_privacy_requests() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.process_privacy_requests() TO dispatch_admin;

-- grant_consent (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.grant_consent(customer_id bigint, purpose text, policy_version text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_version text;
BEGIN
	PERFORM @extschema@._check_purpose(purpose);
	IF @extschema@._is_blank(policy_version) THEN
		RAISE EXCEPTION 'a consent names the policy version it was given for'
			USING ERRCODE = 'DP406';
	END IF;
	PERFORM @extschema@._check_length('policy_version', policy_version);
	-- the customer row is locked: consents of one customer change one at a time
	IF @extschema@._lock_customer(grant_consent.customer_id) IS NOT NULL THEN
		RAISE EXCEPTION 'customer % was forgotten', customer_id USING ERRCODE = 'DP402';
	END IF;
	SELECT c.policy_version INTO v_version FROM @extschema@.consents c
	 WHERE c.customer_id OPERATOR(pg_catalog.=) grant_consent.customer_id
	   AND c.purpose OPERATOR(pg_catalog.=) grant_consent.purpose AND c.revoked_at IS NULL;
	IF FOUND AND v_version OPERATOR(pg_catalog.=) policy_version THEN
		RETURN;                                  -- granted already under this version
	END IF;
	UPDATE @extschema@.consents c SET revoked_at = v_now
	 WHERE c.customer_id OPERATOR(pg_catalog.=) grant_consent.customer_id
	   AND c.purpose OPERATOR(pg_catalog.=) grant_consent.purpose AND c.revoked_at IS NULL;
	INSERT INTO @extschema@.consents (customer_id, purpose, policy_version, granted_at)
	VALUES (grant_consent.customer_id, purpose, policy_version, v_now);
END
$$;
COMMENT ON FUNCTION @extschema@.grant_consent(bigint, text, text) IS
	'Records a customer''s consent to a purpose (marketing, personalisation, analytics) under a policy version; a grant under a new version supersedes the old one, a repeated grant changes nothing.';

-- order_contact (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@.order_contact(order_id bigint, rider_id bigint, via text DEFAULT NULL)
RETURNS TABLE (masked_phone text, dropoff_address text, description text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders;
	v_phone bytea;
	v_key bytea;
	-- an errand's description (what to buy or fetch) is the rider's to
	-- read as well; a meal order has none
	v_errand boolean;
	-- the log's values computed here, the statement storing them: on Citus
	-- it runs on the zone's worker
	v_log_id bigint;
	v_at timestamptz;
	v_actor name := SESSION_USER;
BEGIN
	SELECT * INTO v_order FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(order_contact.order_id)
	   AND o.order_id OPERATOR(pg_catalog.=) order_contact.order_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', order_id USING ERRCODE = 'DP014';
	END IF;
	IF order_contact.rider_id IS NULL OR v_order.rider_id IS DISTINCT FROM order_contact.rider_id
	   OR v_order.status NOT IN ('assigned', 'picked_up') THEN
		RAISE EXCEPTION 'rider % may not see the customer of order %', rider_id, order_id
			USING ERRCODE = 'DP408',
			      DETAIL = 'Only the rider assigned to an order sees its contact, and only until delivery.';
	END IF;
	SELECT c.phone_enc INTO v_phone FROM @extschema@.customers c
	 WHERE c.customer_id OPERATOR(pg_catalog.=) v_order.customer_id;
	v_key := @extschema@._data_key('customer', v_order.customer_id, false);
	v_errand := v_order.kind OPERATOR(pg_catalog.=) 'errand';
	-- logged in the order's zone (order_access_log), so that on Citus the
	-- call writes the zone's worker only; the detail names what is opened
	v_log_id := @extschema@.zone_scoped_id(v_order.zone_id, pg_catalog.nextval('@extschema@.order_access_log_id_seq'));
	v_at := pg_catalog.clock_timestamp();
	INSERT INTO @extschema@.order_access_log (zone_id, id, at, actor, subject, subject_id, purpose, detail)
	VALUES (v_order.zone_id, v_log_id, v_at, v_actor, 'customer', v_order.customer_id, 'rider_contact',
	        pg_catalog.format('order %s, rider %s: masked phone, drop-off address%s', order_id, rider_id,
	                          CASE WHEN v_errand THEN ', description' ELSE '' END));
	-- handed on to a processor (an SMS or call relay, a navigation app)
	IF via IS NOT NULL THEN
		PERFORM @extschema@.record_disclosure(via, v_order.customer_id, NULL,
		                                      CASE WHEN v_errand THEN '{masked_phone,dropoff_address,description}'::text[]
		                                           ELSE '{masked_phone,dropoff_address}'::text[] END,
		                                      order_id);
	END IF;
	masked_phone := @extschema@.mask_phone(@extschema@._unseal(v_phone, v_key));
	dropoff_address := @extschema@._unseal(v_order.dropoff_address_enc, v_key);
	description := CASE WHEN v_errand THEN @extschema@._unseal(v_order.description_enc, v_key) END;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION @extschema@.order_contact(bigint, bigint, text) IS
	'What the rider assigned to an active order (assigned or picked up) may see of its customer: the masked phone (138****1234), the drop-off address and, for an errand, its description (what to buy or fetch; NULL for a meal order).  Anyone else gets DP408.  Logged in order_access_log, in the order''s zone, naming the fields opened; with via, the disclosure to that processor is recorded there too (order_disclosures), with those fields.';
REVOKE ALL ON FUNCTION @extschema@.order_contact(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.order_contact(bigint, bigint, text) TO dispatch_app, dispatch_admin;

-- _consent_rates (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._consent_rates()
RETURNS TABLE (purpose text, policy_version text, active bigint, closed bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.consent_rates;
END
$$;
COMMENT ON FUNCTION @extschema@._consent_rates() IS
	'Internal (consent_rates): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._consent_rates() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._consent_rates() TO dispatch_analyst, dispatch_admin;

-- _privacy_request_counts (sql/80_privacy.sql)
CREATE OR REPLACE FUNCTION @extschema@._privacy_request_counts()
RETURNS TABLE (day timestamptz, kind text, requests bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.privacy_request_counts;
END
$$;
COMMENT ON FUNCTION @extschema@._privacy_request_counts() IS
	'Internal (privacy_request_counts): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._privacy_request_counts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._privacy_request_counts() TO dispatch_analyst, dispatch_admin;

-- experiment_bucket (sql/86_experiments.sql)
CREATE OR REPLACE FUNCTION @extschema@.experiment_bucket(experiment text, customer_id bigint) RETURNS float8
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_experiment_bucket';
COMMENT ON FUNCTION @extschema@.experiment_bucket(text, bigint) IS
	'A customer''s bucket in [0, 1) for an experiment name: 64-bit FNV-1a over the name in UTF-8, a 0x00 byte and the id as 8 little-endian bytes, then the splitmix64 finaliser; the top 53 bits / 2^53.  Stable across sessions, platforms and releases (docs/experiments.md).';
REVOKE ALL ON FUNCTION @extschema@.experiment_bucket(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.experiment_bucket(text, bigint) TO dispatch_app, dispatch_analyst, dispatch_admin;

-- two_proportion_p (sql/86_experiments.sql)
CREATE OR REPLACE FUNCTION @extschema@.two_proportion_p(conv_a bigint, n_a bigint, conv_b bigint, n_b bigint) RETURNS float8
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_two_proportion_p';
COMMENT ON FUNCTION @extschema@.two_proportion_p(bigint, bigint, bigint, bigint) IS
	'Two-sided p-value of the two-proportion z-test (pooled variance) of conv_a of n_a against conv_b of n_b; NULL when a group is empty or the pooled rate is 0 or 1; DP635 for impossible counts.';
REVOKE ALL ON FUNCTION @extschema@.two_proportion_p(bigint, bigint, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.two_proportion_p(bigint, bigint, bigint, bigint) TO dispatch_analyst, dispatch_admin;

-- _experiment_variant_at (sql/86_experiments.sql)
CREATE OR REPLACE FUNCTION @extschema@._experiment_variant_at(p_experiment_id bigint, p_bucket float8) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	-- exact: a bucket is k / 2^53 with k an integer below 2^53, so
	-- bucket x 2^53 is k (through bigint: a float8 cast to numeric keeps
	-- only 15 digits), and the point floor(k x total / 2^53) is computed
	-- in numeric without rounding
	SELECT v.name
	  FROM (SELECT v.name, v.position,
	               pg_catalog.sum(v.weight) OVER (ORDER BY v.position) AS upto,
	               pg_catalog.sum(v.weight) OVER () AS total
	          FROM @extschema@.experiment_variants v
	         WHERE v.experiment_id OPERATOR(pg_catalog.=) p_experiment_id) v
	 WHERE v.upto OPERATOR(pg_catalog.>)
	       pg_catalog.div(pg_catalog.floor(p_bucket OPERATOR(pg_catalog.*) 9007199254740992::float8)::bigint::numeric
	                      OPERATOR(pg_catalog.*) v.total, 9007199254740992::numeric)
	 ORDER BY v.position
	 LIMIT 1;
END;
COMMENT ON FUNCTION @extschema@._experiment_variant_at(bigint, float8) IS
	'Internal: the variant of an experiment that a bucket falls into: the first, in order, whose cumulative weight exceeds floor(bucket x total weight), computed exactly.';
REVOKE ALL ON FUNCTION @extschema@._experiment_variant_at(bigint, float8) FROM PUBLIC;

-- _experiment_check_variants (sql/86_experiments.sql)
CREATE OR REPLACE FUNCTION @extschema@._experiment_check_variants(p_variants jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_problem text;
BEGIN
	IF p_variants IS NULL OR pg_catalog.jsonb_typeof(p_variants) OPERATOR(pg_catalog.<>) 'array' THEN
		v_problem := 'they are not a JSON array';
	ELSIF pg_catalog.jsonb_array_length(p_variants) NOT BETWEEN 2 AND 20 THEN
		v_problem := pg_catalog.format('there are %s, not 2 to 20', pg_catalog.jsonb_array_length(p_variants));
	ELSE
		SELECT pg_catalog.format('variant %s %s', e.n, p.problem) INTO v_problem
		  FROM pg_catalog.jsonb_array_elements(p_variants) WITH ORDINALITY e(v, n)
		 CROSS JOIN LATERAL (
		       -- in order: each test runs only on what the tests before it let through
		       SELECT CASE
		              WHEN pg_catalog.jsonb_typeof(e.v) OPERATOR(pg_catalog.<>) 'object'
		              THEN 'is not an object of exactly "name" and "weight"'
		              WHEN (SELECT pg_catalog.array_agg(k ORDER BY k) FROM pg_catalog.jsonb_object_keys(e.v) k)
		                   IS DISTINCT FROM ARRAY['name', 'weight']
		              THEN 'is not an object of exactly "name" and "weight"'
		              WHEN pg_catalog.jsonb_typeof(e.v OPERATOR(pg_catalog.->) 'name') OPERATOR(pg_catalog.<>) 'string'
		                   OR pg_catalog.length(e.v OPERATOR(pg_catalog.->>) 'name') NOT BETWEEN 1 AND 64
		              THEN 'has no name of 1 to 64 characters'
		              WHEN pg_catalog.jsonb_typeof(e.v OPERATOR(pg_catalog.->) 'weight') OPERATOR(pg_catalog.<>) 'number'
		              THEN 'has no whole weight between 1 and 10000'
		              WHEN (e.v OPERATOR(pg_catalog.->>) 'weight')::numeric NOT BETWEEN 1 AND 10000
		                   OR pg_catalog.trunc((e.v OPERATOR(pg_catalog.->>) 'weight')::numeric)
		                      OPERATOR(pg_catalog.<>) (e.v OPERATOR(pg_catalog.->>) 'weight')::numeric
		              THEN 'has no whole weight between 1 and 10000'
		              END AS problem) p
		 WHERE p.problem IS NOT NULL
		 ORDER BY e.n
		 LIMIT 1;
		IF v_problem IS NULL THEN
			SELECT pg_catalog.format('the name "%s" is given twice', e.name) INTO v_problem
			  FROM (SELECT v OPERATOR(pg_catalog.->>) 'name' AS name
			          FROM pg_catalog.jsonb_array_elements(p_variants) v) e
			 GROUP BY e.name HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1
			 ORDER BY e.name LIMIT 1;
		END IF;
		IF v_problem IS NULL
		   AND (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_array_elements(p_variants) v
		         WHERE v OPERATOR(pg_catalog.->>) 'name' OPERATOR(pg_catalog.=) 'control')
		       OPERATOR(pg_catalog.<>) 1 THEN
			v_problem := 'none is named "control"';
		END IF;
	END IF;
	IF v_problem IS NOT NULL THEN
		RAISE EXCEPTION 'bad experiment variants: %', v_problem
			USING ERRCODE = 'DP632',
			      HINT = 'Example: [{"name": "control", "weight": 50}, {"name": "b", "weight": 50}].';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._experiment_check_variants(jsonb) IS
	'Internal (create_experiment): DP632 unless the variants are an array of 2 to 20 objects of exactly name (1 to 64 characters, distinct) and weight (a whole number in 1..10000), exactly one named control; the message names the first problem.';
REVOKE ALL ON FUNCTION @extschema@._experiment_check_variants(jsonb) FROM PUBLIC;

-- create_experiment (sql/86_experiments.sql)
CREATE OR REPLACE FUNCTION @extschema@.create_experiment(name text, variants jsonb,
                                              conversion_window interval DEFAULT '7 days')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
BEGIN
	IF @extschema@._is_blank(name)
	   OR pg_catalog.length(name) OPERATOR(pg_catalog.>) 100 THEN
		RAISE EXCEPTION 'an experiment needs a name of 1 to 100 characters, not only blanks'
			USING ERRCODE = 'DP631';
	END IF;
	IF conversion_window IS NULL OR conversion_window OPERATOR(pg_catalog.<) '1 minute'::interval
	   OR conversion_window OPERATOR(pg_catalog.>) '90 days'::interval THEN
		RAISE EXCEPTION 'the conversion window must be between 1 minute and 90 days, not %',
			COALESCE(conversion_window::text, 'NULL')
			USING ERRCODE = 'DP631';
	END IF;
	PERFORM @extschema@._experiment_check_variants(variants);

	-- kept as a length of time, in hours: days and months added to an
	-- exposure's timestamptz would follow the time zone of the session that
	-- counts (a day across a change to summer time is 23 or 25 hours: an
	-- analyst in another zone, the rollup and an erasure would each count
	-- other conversions) and the calendar (3 months from May are 92 days)
	INSERT INTO @extschema@.experiments (name, conversion_window, created_at)
	VALUES (create_experiment.name,
	        pg_catalog.make_interval(secs => pg_catalog.date_part('epoch', create_experiment.conversion_window)),
	        @extschema@.clock())
	ON CONFLICT ON CONSTRAINT experiments_name_key DO NOTHING
	RETURNING experiment_id INTO v_id;
	IF v_id IS NULL THEN
		RAISE EXCEPTION 'experiment "%" exists already', name
			USING ERRCODE = 'DP633',
			      DETAIL = 'A name is never reused, ended experiments included: it is part of every customer''s bucket.';
	END IF;
	INSERT INTO @extschema@.experiment_variants (experiment_id, position, name, weight)
	SELECT v_id, e.n, e.v OPERATOR(pg_catalog.->>) 'name', (e.v OPERATOR(pg_catalog.->>) 'weight')::numeric::integer
	  FROM pg_catalog.jsonb_array_elements(variants) WITH ORDINALITY e(v, n);
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.create_experiment(text, jsonb, interval) IS
	'Creates a running A/B experiment: variants [{"name": "control", "weight": 50}, {"name": "b", "weight": 50}] (2 to 20, whole weights, exactly one named control), and the window after a first exposure in which an order counts as a conversion (a length of time, kept in hours: a day is 24 hours and a month 30 days, in every time zone).  Returns its id.  DP631, DP632, DP633; nothing is written on bad input.';
REVOKE ALL ON FUNCTION @extschema@.create_experiment(text, jsonb, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.create_experiment(text, jsonb, interval) TO dispatch_admin;

-- end_experiment (sql/86_experiments.sql)
CREATE OR REPLACE FUNCTION @extschema@.end_experiment(name text) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
	v_ended timestamptz;
BEGIN
	SELECT x.experiment_id, x.ended_at INTO v_id, v_ended FROM @extschema@.experiments x
	 WHERE x.name OPERATOR(pg_catalog.=) end_experiment.name
	   FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'experiment "%" does not exist', name USING ERRCODE = 'DP634';
	END IF;
	IF v_ended IS NOT NULL THEN
		RETURN v_ended;                          -- ended already: a no-op
	END IF;
	UPDATE @extschema@.experiments x SET ended_at = @extschema@.clock()
	 WHERE x.experiment_id OPERATOR(pg_catalog.=) v_id
	RETURNING x.ended_at INTO v_ended;
	RETURN v_ended;
END
$$;
COMMENT ON FUNCTION @extschema@.end_experiment(text) IS
	'Ends an experiment: from now on everybody sees control and nobody is recorded; exposures and results stay.  Returns when it ended; on an ended experiment a no-op.  DP634 for an unknown name.';
REVOKE ALL ON FUNCTION @extschema@.end_experiment(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.end_experiment(text) TO dispatch_admin;

-- experiment_variant (sql/86_experiments.sql)
CREATE OR REPLACE FUNCTION @extschema@.experiment_variant(experiment text, customer_id bigint) RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
	v_ended timestamptz;
	v_variant text;
BEGIN
	SELECT x.experiment_id, x.ended_at INTO v_id, v_ended FROM @extschema@.experiments x
	 WHERE x.name OPERATOR(pg_catalog.=) experiment_variant.experiment;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'experiment "%" does not exist', experiment USING ERRCODE = 'DP634';
	END IF;
	PERFORM @extschema@._live_customer(experiment_variant.customer_id);   -- DP012
	IF v_ended IS NOT NULL OR NOT @extschema@.has_consent(customer_id, 'marketing') THEN
		RETURN 'control';                        -- not recorded, not counted
	END IF;

	SELECT e.variant INTO v_variant FROM @extschema@.experiment_exposures e
	 WHERE e.experiment_id OPERATOR(pg_catalog.=) v_id
	   AND e.customer_id OPERATOR(pg_catalog.=) experiment_variant.customer_id;
	IF FOUND THEN
		RETURN v_variant;
	END IF;

	-- first exposure: waits for an end_experiment in progress, and sees it
	PERFORM FROM @extschema@.experiments x
	  WHERE x.experiment_id OPERATOR(pg_catalog.=) v_id AND x.ended_at IS NULL
	    FOR SHARE;
	IF NOT FOUND THEN
		RETURN 'control';
	END IF;
	-- and for an erasure or a revocation in progress (they lock the
	-- customer row), and sees it: an erasure has moved the exposures
	-- already, and would leave this one keyed by the id
	IF (SELECT c.forgotten_at FROM @extschema@.customers c
	     WHERE c.customer_id OPERATOR(pg_catalog.=) experiment_variant.customer_id
	       FOR SHARE) IS NOT NULL THEN
		PERFORM @extschema@._live_customer(experiment_variant.customer_id);   -- DP012
	END IF;
	IF NOT @extschema@.has_consent(customer_id, 'marketing') THEN
		RETURN 'control';
	END IF;
	v_variant := @extschema@._experiment_variant_at(v_id, @extschema@.experiment_bucket(experiment, customer_id));
	-- a concurrent first exposure records the same variant (the hash is
	-- deterministic); the first one's time stays
	INSERT INTO @extschema@.experiment_exposures (experiment_id, customer_id, variant, exposed_at)
	VALUES (v_id, experiment_variant.customer_id, v_variant, @extschema@.clock())
	ON CONFLICT ON CONSTRAINT experiment_exposures_pkey DO NOTHING;
	RETURN v_variant;
END
$$;
COMMENT ON FUNCTION @extschema@.experiment_variant(text, bigint) IS
	'The variant a customer sees in an experiment: from experiment_bucket and the weights, recorded at the first exposure and returned from then on.  A customer without marketing consent, and everybody once the experiment ended, sees control and is not recorded.  DP634 for an unknown experiment, DP012 for an unknown customer.';
REVOKE ALL ON FUNCTION @extschema@.experiment_variant(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.experiment_variant(text, bigint) TO dispatch_app, dispatch_admin;

-- _experiment_results (sql/86_experiments.sql)
CREATE OR REPLACE FUNCTION @extschema@._experiment_results()
RETURNS TABLE (experiment text, variant text, "position" integer, weight integer, started_at timestamptz,
               ended_at timestamptz, exposed bigint, converted bigint, rate float8, abs_lift float8,
               rel_lift float8, p_value float8, too_few boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.experiment_results;
END
$$;
COMMENT ON FUNCTION @extschema@._experiment_results() IS
	'Internal (experiment_results): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._experiment_results() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._experiment_results() TO dispatch_analyst, dispatch_admin;

-- _recommend_params (sql/87_recommend.sql)
CREATE OR REPLACE FUNCTION @extschema@._recommend_params(
	OUT history_days integer, OUT half_life_days float8, OUT popular_days integer,
	OUT coorder_days integer, OUT coorder_top integer, OUT coorder_min_customers integer,
	OUT w_usual float8, OUT w_often float8, OUT w_popular float8)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	history_days := 365;
	half_life_days := 30.0;
	popular_days := 28;
	coorder_days := 180;
	coorder_top := 20;
	coorder_min_customers := 2;
	w_usual := 1.0;
	w_often := 0.6;
	w_popular := 0.3;
END
$$;
COMMENT ON FUNCTION @extschema@._recommend_params() IS
	'Internal: the constants of recommendations: own history over 365 days with a half-life of 30 days; popularity over 28 days; co-ordering over 180 days, the best 20 others per merchant, pairs of at least 2 customers; weights usual 1.0, often_with 0.6, popular_nearby 0.3.';
REVOKE ALL ON FUNCTION @extschema@._recommend_params() FROM PUBLIC;

-- _recommend_history (sql/87_recommend.sql)
CREATE OR REPLACE FUNCTION @extschema@._recommend_history(p_customer_id bigint, p_since timestamptz, p_now timestamptz)
RETURNS TABLE (zone_id bigint, merchant_id bigint, orders bigint, last_at timestamptz, weight float8)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ROWS 20
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN QUERY
	SELECT o.zone_id, o.merchant_id,
	       pg_catalog.count(*) FILTER (WHERE o.counts),
	       pg_catalog.max(o.created_at),
	       COALESCE(pg_catalog.sum(pg_catalog.power(0.5::float8,
	           pg_catalog.date_part('epoch', p_now OPERATOR(pg_catalog.-) o.created_at)
	           OPERATOR(pg_catalog./) (86400.0::float8 OPERATOR(pg_catalog.*)
	                                   (SELECT p.half_life_days FROM @extschema@._recommend_params() p))))
	                FILTER (WHERE o.counts), 0)
	  FROM (SELECT o.zone_id, o.merchant_id, o.created_at,
	               o.merchant_id IS NOT NULL
	               AND o.status IN ('placed', 'accepted', 'assigned', 'picked_up', 'delivered') AS counts
	          FROM @extschema@.orders o
	         WHERE o.zone_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT z.zone_id FROM @extschema@.zones z))
	           AND o.customer_id OPERATOR(pg_catalog.=) p_customer_id
	           AND o.created_at OPERATOR(pg_catalog.>=) p_since
	           AND o.created_at OPERATOR(pg_catalog.<=) p_now) o
	 GROUP BY o.zone_id, o.merchant_id;
END
$$;
COMMENT ON FUNCTION @extschema@._recommend_history(bigint, timestamptz, timestamptz) IS
	'Internal: a customer''s orders between p_since and p_now per zone and merchant (NULL: errands): the time of the latest (any kind and status), and of the orders that count (takeaway, placed to delivered) how many and their sum of 0.5 ^ (age / half life), 0 for none.  Reads orders_customer_idx, one probe per zone.';
REVOKE ALL ON FUNCTION @extschema@._recommend_history(bigint, timestamptz, timestamptz) FROM PUBLIC;

-- _recommend_last_zone (sql/87_recommend.sql)
CREATE OR REPLACE FUNCTION @extschema@._recommend_last_zone(p_customer_id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT o.zone_id FROM @extschema@.orders o
	         WHERE o.zone_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT z.zone_id FROM @extschema@.zones z))
	           AND o.customer_id OPERATOR(pg_catalog.=) p_customer_id
	         ORDER BY o.created_at DESC, o.order_id DESC
	         LIMIT 1);
END
$$;
COMMENT ON FUNCTION @extschema@._recommend_last_zone(bigint) IS
	'Internal: the zone of the customer''s latest order (any kind, any status): where they last had something delivered; NULL without orders.';
REVOKE ALL ON FUNCTION @extschema@._recommend_last_zone(bigint) FROM PUBLIC;

-- _recommend_rank (sql/87_recommend.sql)
CREATE OR REPLACE FUNCTION @extschema@._recommend_rank(p_customer_id bigint, p_k integer, p_personal boolean,
                                             p_now timestamptz)
RETURNS TABLE (merchant_id bigint, score float8, reason text, usual float8, often_with float8, popular_nearby float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
	-- one generic plan, kept: planning is most of a call's time.  Citus
	-- cannot distribute a generic plan's parameters, so on a cluster each
	-- call is planned for its values (the SET clause above confines this
	-- to the call)
	IF EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		PERFORM pg_catalog.set_config('plan_cache_mode', 'auto', true);
	END IF;
	RETURN QUERY
	WITH p AS (SELECT * FROM @extschema@._recommend_params()),
	hist_all AS (
		SELECT h.*
		  FROM @extschema@._recommend_history(p_customer_id,
		           p_now OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => (SELECT p.history_days FROM p)),
		           p_now) h
		 WHERE p_personal),
	-- the last drop-off zone: from the history read anyway, else (no
	-- consent, or no order in the history window) a probe of its own
	last_zone AS (
		SELECT COALESCE((SELECT h.zone_id FROM hist_all h ORDER BY h.last_at DESC, h.zone_id DESC LIMIT 1),
		                @extschema@._recommend_last_zone(p_customer_id)) AS zone_id),
	hist AS (
		SELECT h.merchant_id, pg_catalog.max(h.zone_id) AS zone_id, pg_catalog.sum(h.weight) AS weight
		  FROM hist_all h
		 WHERE h.orders OPERATOR(pg_catalog.>) 0
		 GROUP BY h.merchant_id),
	own AS (
		SELECT h.merchant_id, h.zone_id,
		       h.weight OPERATOR(pg_catalog./) pg_catalog.max(h.weight) OVER () AS usual
		  FROM hist h),
	co AS (
		SELECT c.other_id AS merchant_id, pg_catalog.max(own.usual OPERATOR(pg_catalog.*) c.score) AS often
		  FROM own
		  JOIN @extschema@.recommend_coorders c
		    ON c.zone_id OPERATOR(pg_catalog.=) own.zone_id AND c.merchant_id OPERATOR(pg_catalog.=) own.merchant_id
		 GROUP BY c.other_id),
	pop AS (
		SELECT r.merchant_id
		  FROM @extschema@.recommend_popularity r
		  JOIN @extschema@.merchants m ON m.merchant_id OPERATOR(pg_catalog.=) r.merchant_id
		 WHERE r.zone_id OPERATOR(pg_catalog.=) (SELECT z.zone_id FROM last_zone z) AND m.is_open
		 ORDER BY r.score DESC, r.merchant_id
		 LIMIT p_k),
	cand AS (
		SELECT own.merchant_id FROM own
		UNION SELECT co.merchant_id FROM co
		UNION SELECT pop.merchant_id FROM pop),
	-- the candidates' popularity in the last drop-off zone, each looked up
	-- by its key (a join, not a lateral probe: Citus cannot join a
	-- distributed table laterally to the candidates)
	popc AS (
		SELECT r.merchant_id, r.score FROM @extschema@.recommend_popularity r
		 WHERE r.zone_id OPERATOR(pg_catalog.=) (SELECT z.zone_id FROM last_zone z)
		   AND r.merchant_id IN (SELECT c.merchant_id FROM cand c)),
	terms AS (
		SELECT c.merchant_id,
		       COALESCE(own.usual, 0) AS usual, COALESCE(co.often, 0) AS often, COALESCE(r.score, 0) AS popular,
		       COALESCE(own.usual, 0) OPERATOR(pg_catalog.*) p.w_usual AS t_usual,
		       COALESCE(co.often, 0) OPERATOR(pg_catalog.*) p.w_often AS t_often,
		       COALESCE(r.score, 0) OPERATOR(pg_catalog.*) p.w_popular AS t_popular
		  FROM cand c
		  CROSS JOIN p
		  -- a few candidates: each looked up by its key, no scan of a whole
		  -- table whatever the plan's estimates (LIMIT keeps the planner from
		  -- flattening the subquery into a join)
		  CROSS JOIN LATERAL (SELECT m.is_open FROM @extschema@.merchants m
		                       WHERE m.merchant_id OPERATOR(pg_catalog.=) c.merchant_id LIMIT 1) m
		  LEFT JOIN popc r ON r.merchant_id OPERATOR(pg_catalog.=) c.merchant_id
		  LEFT JOIN own ON own.merchant_id OPERATOR(pg_catalog.=) c.merchant_id
		  LEFT JOIN co ON co.merchant_id OPERATOR(pg_catalog.=) c.merchant_id
		 WHERE m.is_open)
	SELECT t.merchant_id,
	       t.t_usual OPERATOR(pg_catalog.+) t.t_often OPERATOR(pg_catalog.+) t.t_popular,
	       CASE WHEN t.t_usual OPERATOR(pg_catalog.>=) t.t_often AND t.t_usual OPERATOR(pg_catalog.>=) t.t_popular THEN 'usual'
	            WHEN t.t_often OPERATOR(pg_catalog.>=) t.t_popular THEN 'often_with'
	            ELSE 'popular_nearby' END,
	       t.usual, t.often, t.popular
	  FROM terms t
	 ORDER BY 2 DESC, 1
	 LIMIT p_k;
END
$$;
COMMENT ON FUNCTION @extschema@._recommend_rank(bigint, integer, boolean, timestamptz) IS
	'Internal (recommend): the best p_k open merchants for a customer, with each signal in [0, 1] (usual, often_with, popular_nearby), the weighted score and the strongest term as reason.  p_personal false: popularity in the last drop-off zone only.';
REVOKE ALL ON FUNCTION @extschema@._recommend_rank(bigint, integer, boolean, timestamptz) FROM PUBLIC;

-- _recommend_refresh_zone (sql/87_recommend.sql)
CREATE OR REPLACE FUNCTION @extschema@._recommend_refresh_zone(p_zone_id bigint, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p record;
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_popular integer;
	v_pairs integer;
	v_ms float8;
BEGIN
	SELECT * INTO p FROM @extschema@._recommend_params();
	-- one refresh of a zone at a time: the zone's row, locked
	INSERT INTO @extschema@.recommend_refreshes (zone_id, refreshed_at, popular_merchants, coorder_pairs, duration_ms)
	VALUES (p_zone_id, p_now, 0, 0, 0)
	ON CONFLICT (zone_id) DO NOTHING;
	PERFORM FROM @extschema@.recommend_refreshes r WHERE r.zone_id OPERATOR(pg_catalog.=) p_zone_id FOR UPDATE;

	DELETE FROM @extschema@.recommend_popularity r WHERE r.zone_id OPERATOR(pg_catalog.=) p_zone_id;
	INSERT INTO @extschema@.recommend_popularity (zone_id, merchant_id, customers, orders, score)
	SELECT p_zone_id, s.merchant_id, s.customers, s.orders,
	       s.customers::float8 OPERATOR(pg_catalog./) pg_catalog.max(s.customers) OVER ()
	  FROM (SELECT o.merchant_id, pg_catalog.count(DISTINCT o.customer_id)::integer AS customers,
	               pg_catalog.count(*)::integer AS orders
	          FROM @extschema@.orders o
	         WHERE o.zone_id OPERATOR(pg_catalog.=) p_zone_id
	           AND o.created_at OPERATOR(pg_catalog.>=) (p_now OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => p.popular_days))
	           AND o.created_at OPERATOR(pg_catalog.<=) p_now
	           AND o.merchant_id IS NOT NULL
	           AND o.status IN ('placed', 'accepted', 'assigned', 'picked_up', 'delivered')
	         GROUP BY o.merchant_id) s;
	GET DIAGNOSTICS v_popular = ROW_COUNT;

	DELETE FROM @extschema@.recommend_coorders c WHERE c.zone_id OPERATOR(pg_catalog.=) p_zone_id;
	INSERT INTO @extschema@.recommend_coorders (zone_id, merchant_id, other_id, customers, score)
	WITH cm AS (
		SELECT DISTINCT o.customer_id, o.merchant_id
		  FROM @extschema@.orders o
		 WHERE o.zone_id OPERATOR(pg_catalog.=) p_zone_id
		   AND o.created_at OPERATOR(pg_catalog.>=) (p_now OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => p.coorder_days))
		   AND o.created_at OPERATOR(pg_catalog.<=) p_now
		   AND o.merchant_id IS NOT NULL
		   AND o.status IN ('placed', 'accepted', 'assigned', 'picked_up', 'delivered')),
	mc AS (SELECT cm.merchant_id, pg_catalog.count(*)::float8 AS n FROM cm GROUP BY cm.merchant_id),
	pairs AS (
		SELECT a.merchant_id, b.merchant_id AS other_id, pg_catalog.count(*)::integer AS customers
		  FROM cm a
		  JOIN cm b ON b.customer_id OPERATOR(pg_catalog.=) a.customer_id
		           AND b.merchant_id OPERATOR(pg_catalog.<>) a.merchant_id
		 GROUP BY a.merchant_id, b.merchant_id
		HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>=) p.coorder_min_customers),
	scored AS (
		SELECT x.merchant_id, x.other_id, x.customers,
		       x.customers::float8 OPERATOR(pg_catalog./) pg_catalog.sqrt(ma.n OPERATOR(pg_catalog.*) mb.n) AS score
		  FROM pairs x
		  JOIN mc ma ON ma.merchant_id OPERATOR(pg_catalog.=) x.merchant_id
		  JOIN mc mb ON mb.merchant_id OPERATOR(pg_catalog.=) x.other_id),
	ranked AS (
		SELECT s.*, pg_catalog.row_number() OVER (PARTITION BY s.merchant_id ORDER BY s.score DESC, s.other_id) AS rn
		  FROM scored s)
	SELECT p_zone_id, r.merchant_id, r.other_id, r.customers, r.score
	  FROM ranked r
	 WHERE r.rn OPERATOR(pg_catalog.<=) p.coorder_top;
	GET DIAGNOSTICS v_pairs = ROW_COUNT;

	-- the duration read first: Citus refuses clock_timestamp() in an UPDATE
	v_ms := pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) v_started)
	        OPERATOR(pg_catalog.*) 1000.0::float8;
	UPDATE @extschema@.recommend_refreshes r
	   SET refreshed_at = p_now, popular_merchants = v_popular, coorder_pairs = v_pairs, duration_ms = v_ms
	 WHERE r.zone_id OPERATOR(pg_catalog.=) p_zone_id;
END
$$;
COMMENT ON FUNCTION @extschema@._recommend_refresh_zone(bigint, timestamptz) IS
	'Internal (refresh_recommendations): rebuilds one zone''s rows of recommend_popularity and recommend_coorders from its orders as of p_now, under the lock of its recommend_refreshes row, and records the refresh.';
REVOKE ALL ON FUNCTION @extschema@._recommend_refresh_zone(bigint, timestamptz) FROM PUBLIC;

-- recommend (sql/87_recommend.sql)
CREATE OR REPLACE FUNCTION @extschema@.recommend(customer_id bigint, k integer DEFAULT 10)
RETURNS TABLE (merchant_id bigint, score float8, reason text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF k IS NULL OR k OPERATOR(pg_catalog.<) 1 OR k OPERATOR(pg_catalog.>) 100 THEN
		RAISE EXCEPTION 'k must be between 1 and 100, not %', COALESCE(k::text, 'NULL')
			USING ERRCODE = 'DP641';
	END IF;
	PERFORM @extschema@._live_customer(recommend.customer_id);           -- DP012
	RETURN QUERY
	SELECT r.merchant_id, r.score, r.reason
	  FROM @extschema@._recommend_rank(recommend.customer_id, k,
	                                   @extschema@.has_consent(recommend.customer_id, 'personalisation'),
	                                   @extschema@.clock()) r;
END
$$;
COMMENT ON FUNCTION @extschema@.recommend(bigint, integer) IS
	'Up to k (1..100, else DP641) open merchants for a customer, best first: score blends the customer''s own orders (frequency and recency, reason usual), co-ordering across customers (often_with) and popularity in their last drop-off zone (popular_nearby); reason names the strongest.  Without consent to personalisation only popular_nearby counts; without orders no rows.  DP012 for an unknown or forgotten customer.';
REVOKE ALL ON FUNCTION @extschema@.recommend(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.recommend(bigint, integer) TO dispatch_app, dispatch_admin;

-- refresh_recommendations (sql/87_recommend.sql)
CREATE OR REPLACE FUNCTION @extschema@.refresh_recommendations(zone_id bigint DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_zone bigint;
	v_n integer := 0;
BEGIN
	IF refresh_recommendations.zone_id IS NOT NULL AND NOT EXISTS (
		SELECT FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) refresh_recommendations.zone_id) THEN
		RAISE EXCEPTION 'zone % does not exist', refresh_recommendations.zone_id USING ERRCODE = 'DP016';
	END IF;
	FOR v_zone IN
		SELECT z.zone_id FROM @extschema@.zones z
		 WHERE refresh_recommendations.zone_id IS NULL
		    OR z.zone_id OPERATOR(pg_catalog.=) refresh_recommendations.zone_id
		 ORDER BY z.zone_id
	LOOP
		PERFORM @extschema@._recommend_refresh_zone(v_zone, v_now);
		v_n := v_n OPERATOR(pg_catalog.+) 1;
	END LOOP;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@.refresh_recommendations(bigint) IS
	'Rebuilds the signals of recommend() (popularity per zone, co-ordering per merchant) from the orders, zone by zone (one zone, or every zone when NULL; DP016 for an unknown zone), as of dispatch.clock(); idempotent.  Returns the zones refreshed.  Run by the growth rollup on pg_cron.';
REVOKE ALL ON FUNCTION @extschema@.refresh_recommendations(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.refresh_recommendations(bigint) TO dispatch_admin;

-- usual_offer (sql/87_recommend.sql)
CREATE OR REPLACE FUNCTION @extschema@.usual_offer(customer_id bigint)
RETURNS TABLE (merchant_id bigint, coupon_code text, valid_until timestamptz)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET citus.multi_shard_modify_mode = 'sequential'
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_camp @extschema@.campaigns;
	v_code text;
	v_n bigint;
	r record;
BEGIN
	PERFORM @extschema@._live_customer(usual_offer.customer_id);           -- DP012
	-- the offer is marketing, and it is chosen from the customer's orders
	-- (personalisation): both consents, or no offer
	IF NOT @extschema@.has_consent(usual_offer.customer_id, 'personalisation')
	   OR NOT @extschema@.has_consent(usual_offer.customer_id, 'marketing') THEN
		RETURN;
	END IF;
	-- one call per customer at a time, so that a repeat finds the code the
	-- first one issued (NO KEY UPDATE: orders referring to the customer go on)
	PERFORM FROM @extschema@.customers c
	  WHERE c.customer_id OPERATOR(pg_catalog.=) usual_offer.customer_id FOR NO KEY UPDATE;

	-- a code of a usual campaign still running, unused and valid: again
	-- (its use lies in its merchant's zone, coupon_uses: one probe a code)
	FOR r IN SELECT k.merchant_id, k.code, k.valid_until, m.zone_id
	           FROM @extschema@.coupons k
	           JOIN @extschema@.campaigns c ON c.campaign_id OPERATOR(pg_catalog.=) k.campaign_id
	           JOIN @extschema@.merchants m ON m.merchant_id OPERATOR(pg_catalog.=) k.merchant_id
	          WHERE k.customer_id OPERATOR(pg_catalog.=) usual_offer.customer_id
	            AND c.kind OPERATOR(pg_catalog.=) 'usual'
	            AND c.ended_at IS NULL AND (c.ends_at IS NULL OR c.ends_at OPERATOR(pg_catalog.>) v_now)
	            AND (k.valid_until IS NULL OR k.valid_until OPERATOR(pg_catalog.>) v_now)
	          ORDER BY k.created_at DESC, k.code
	LOOP
		IF EXISTS (SELECT FROM @extschema@.coupon_uses u
		            WHERE u.zone_id OPERATOR(pg_catalog.=) r.zone_id AND u.code OPERATOR(pg_catalog.=) r.code
		              AND u.used OPERATOR(pg_catalog.<) u.cap) THEN
			RETURN QUERY SELECT r.merchant_id, r.code, r.valid_until;
			RETURN;
		END IF;
	END LOOP;

	-- the customer's merchants, best first by the usual signal of
	-- recommend(); the first open one that the running usual campaign of its
	-- zone finds frequent enough gets the offer.  On Citus the history is
	-- read from every shard and the code then written to coupons, a
	-- reference table, which Citus refuses after a read over several
	-- connections to a node: the SET clause has the call's reads take one
	-- connection per node, and ends with the call (on one server it sets
	-- a placeholder and nothing reads it)
	FOR r IN
		SELECT h.merchant_id, h.zone_id
		  FROM @extschema@._recommend_history(usual_offer.customer_id,
		           v_now OPERATOR(pg_catalog.-) pg_catalog.make_interval(
		               days => (SELECT p.history_days FROM @extschema@._recommend_params() p)),
		           v_now) h
		  JOIN @extschema@.merchants m ON m.merchant_id OPERATOR(pg_catalog.=) h.merchant_id
		 WHERE m.is_open AND h.orders OPERATOR(pg_catalog.>) 0
		 ORDER BY h.weight DESC, h.merchant_id
	LOOP
		v_camp := @extschema@._active_campaign('usual', r.zone_id, v_now);
		CONTINUE WHEN v_camp.campaign_id IS NULL
		           OR @extschema@.campaign_budget_left(v_camp.campaign_id) OPERATOR(pg_catalog.<=) 0;
		SELECT h.orders INTO v_n
		  FROM @extschema@._recommend_history(usual_offer.customer_id,
		           v_now OPERATOR(pg_catalog.-) pg_catalog.make_interval(
		               days => COALESCE((v_camp.rules OPERATOR(pg_catalog.->>) 'window_days')::integer, 30)),
		           v_now) h
		 WHERE h.merchant_id OPERATOR(pg_catalog.=) r.merchant_id;
		CONTINUE WHEN COALESCE(v_n, 0) OPERATOR(pg_catalog.<)
		              COALESCE((v_camp.rules OPERATOR(pg_catalog.->>) 'min_orders')::integer, 3);
		v_code := @extschema@._issue_coupon(v_camp.campaign_id, usual_offer.customer_id, r.merchant_id, NULL);
		RETURN QUERY
		SELECT k.merchant_id, k.code, k.valid_until FROM @extschema@.coupons k
		 WHERE k.code OPERATOR(pg_catalog.=) v_code;
		RETURN;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.usual_offer(bigint) IS
	'"Your usual, 10% off": for a customer consenting to personalisation and marketing, a personal one-use coupon of the running campaign of kind usual for their usual merchant: the open merchant ranked first by recommend()''s usual signal with at least rules.min_orders (default 3) orders in the last rules.window_days (default 30).  Returns the code issued before while it is unused and valid; no rows without both consents, a running campaign or such a merchant.  DP012 for an unknown or forgotten customer.';
REVOKE ALL ON FUNCTION @extschema@.usual_offer(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.usual_offer(bigint) TO dispatch_app, dispatch_admin;

-- _rollup_fold (sql/90_growth.sql)
CREATE OR REPLACE FUNCTION @extschema@._rollup_fold() RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.zone_daily AS t (zone_id, day, orders, delivered, cancelled, gmv_cents, discount_cents)
	SELECT d.zone_id, d.day,
	       pg_catalog.sum(d.sign OPERATOR(pg_catalog.*) d.counted::integer),
	       pg_catalog.sum(d.sign OPERATOR(pg_catalog.*) d.delivered::integer),
	       pg_catalog.sum(d.sign OPERATOR(pg_catalog.*) d.cancelled::integer),
	       pg_catalog.sum(CASE WHEN d.counted THEN d.sign OPERATOR(pg_catalog.*) d.gmv_cents ELSE 0 END),
	       pg_catalog.sum(CASE WHEN d.counted THEN d.sign OPERATOR(pg_catalog.*) d.discount_cents ELSE 0 END)
	  FROM pg_temp.rollup_delta d GROUP BY 1, 2
	ON CONFLICT ON CONSTRAINT zone_daily_pkey DO UPDATE
	   SET orders = t.orders OPERATOR(pg_catalog.+) EXCLUDED.orders,
	       delivered = t.delivered OPERATOR(pg_catalog.+) EXCLUDED.delivered,
	       cancelled = t.cancelled OPERATOR(pg_catalog.+) EXCLUDED.cancelled,
	       gmv_cents = t.gmv_cents OPERATOR(pg_catalog.+) EXCLUDED.gmv_cents,
	       discount_cents = t.discount_cents OPERATOR(pg_catalog.+) EXCLUDED.discount_cents;

	INSERT INTO @extschema@.campaign_daily AS t (zone_id, day, campaign_id, redemptions, orders, new_customers,
	                                             gmv_cents, discount_cents, reward_cents)
	SELECT x.zone_id, x.day, x.campaign_id, pg_catalog.sum(x.redemptions), pg_catalog.sum(x.orders), 0,
	       pg_catalog.sum(x.gmv_cents), pg_catalog.sum(x.discount_cents), pg_catalog.sum(x.reward_cents)
	  FROM (SELECT d.zone_id, d.day, d.campaign_id, d.sign AS redemptions,
	               d.sign OPERATOR(pg_catalog.*) d.counted::integer AS orders,
	               CASE WHEN d.counted THEN d.sign OPERATOR(pg_catalog.*) d.gmv_cents ELSE 0 END AS gmv_cents,
	               CASE WHEN d.counted THEN d.sign OPERATOR(pg_catalog.*) d.campaign_discount ELSE 0 END AS discount_cents,
	               0::bigint AS reward_cents
	          FROM pg_temp.rollup_delta d WHERE d.campaign_id IS NOT NULL
	        UNION ALL
	        SELECT d.zone_id, d.day, d.referral_campaign_id, 0, 0, 0, 0, d.sign OPERATOR(pg_catalog.*) d.reward_cents
	          FROM pg_temp.rollup_delta d WHERE d.referral_campaign_id IS NOT NULL) x
	 GROUP BY 1, 2, 3
	ON CONFLICT ON CONSTRAINT campaign_daily_pkey DO UPDATE
	   SET redemptions = t.redemptions OPERATOR(pg_catalog.+) EXCLUDED.redemptions,
	       orders = t.orders OPERATOR(pg_catalog.+) EXCLUDED.orders,
	       gmv_cents = t.gmv_cents OPERATOR(pg_catalog.+) EXCLUDED.gmv_cents,
	       discount_cents = t.discount_cents OPERATOR(pg_catalog.+) EXCLUDED.discount_cents,
	       reward_cents = t.reward_cents OPERATOR(pg_catalog.+) EXCLUDED.reward_cents;

	INSERT INTO @extschema@.customer_weeks AS t (customer_id, week, orders)
	SELECT d.customer_id, pg_catalog.date_trunc('week', d.day)::date, pg_catalog.sum(d.sign)
	  FROM pg_temp.rollup_delta d WHERE d.counted GROUP BY 1, 2
	HAVING pg_catalog.sum(d.sign) OPERATOR(pg_catalog.<>) 0
	ON CONFLICT ON CONSTRAINT customer_weeks_pkey DO UPDATE SET orders = t.orders OPERATOR(pg_catalog.+) EXCLUDED.orders;
	-- a week left without orders goes, looked up by its key
	DELETE FROM @extschema@.customer_weeks w
	 WHERE (w.customer_id, w.week) IN (SELECT d.customer_id, pg_catalog.date_trunc('week', d.day)::date
	                                     FROM pg_temp.rollup_delta d WHERE d.counted AND d.sign OPERATOR(pg_catalog.<) 0)
	   AND w.orders OPERATOR(pg_catalog.=) 0;
END
$$;
COMMENT ON FUNCTION @extschema@._rollup_fold() IS
	'Internal (rollup_campaigns): adds the difference of the changed orders (rollup_delta: +1 now, -1 as counted before) to zone_daily, campaign_daily and customer_weeks.';
REVOKE ALL ON FUNCTION @extschema@._rollup_fold() FROM PUBLIC;

-- _rollup_customers (sql/90_growth.sql)
CREATE OR REPLACE FUNCTION @extschema@._rollup_customers() RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_rebuilt bigint;
	v_customers bigint[];
BEGIN
	DROP TABLE IF EXISTS pg_temp.rollup_old_stats;
	CREATE TEMP TABLE pg_temp.rollup_old_stats (LIKE @extschema@.customer_stats) ON COMMIT DROP;
	INSERT INTO pg_temp.rollup_old_stats
	SELECT s.* FROM (SELECT DISTINCT d.customer_id FROM pg_temp.rollup_delta d) c
	 CROSS JOIN LATERAL (SELECT * FROM @extschema@.customer_stats s
	                      WHERE s.customer_id OPERATOR(pg_catalog.=) c.customer_id OFFSET 0) s;

	-- what changed for customers: an order that started to count (added),
	-- or one that stopped counting or changed what it paid, its campaign or
	-- its referral while counting (rebuilt)
	DROP TABLE IF EXISTS pg_temp.rollup_cust;
	CREATE TEMP TABLE pg_temp.rollup_cust (customer_id bigint, zone_id bigint, order_id bigint,
	                                       added boolean) ON COMMIT DROP;
	INSERT INTO pg_temp.rollup_cust
	SELECT COALESCE(n.customer_id, o.customer_id), COALESCE(n.zone_id, o.zone_id), COALESCE(n.order_id, o.order_id),
	       n.counted AND NOT COALESCE(o.counted, false)
	  FROM (SELECT * FROM pg_temp.rollup_delta d WHERE d.sign OPERATOR(pg_catalog.>) 0) n
	  FULL JOIN (SELECT * FROM pg_temp.rollup_delta d WHERE d.sign OPERATOR(pg_catalog.<) 0) o
	    ON o.zone_id OPERATOR(pg_catalog.=) n.zone_id AND o.order_id OPERATOR(pg_catalog.=) n.order_id
	 WHERE (COALESCE(n.counted, false) OR COALESCE(o.counted, false))
	   AND (n.counted, n.paid_cents, n.campaign_id, n.referral_campaign_id)
	       IS DISTINCT FROM (o.counted, o.paid_cents, o.campaign_id, o.referral_campaign_id);

	-- rebuilt: any change but an added order at or after the customer's last
	DROP TABLE IF EXISTS pg_temp.rollup_rebuild;
	CREATE TEMP TABLE pg_temp.rollup_rebuild (customer_id bigint PRIMARY KEY) ON COMMIT DROP;
	INSERT INTO pg_temp.rollup_rebuild
	SELECT DISTINCT c.customer_id
	  FROM pg_temp.rollup_cust c
	  JOIN pg_temp.rollup_delta d ON d.zone_id OPERATOR(pg_catalog.=) c.zone_id AND d.order_id OPERATOR(pg_catalog.=) c.order_id
	   AND d.sign OPERATOR(pg_catalog.>) 0
	  LEFT JOIN pg_temp.rollup_old_stats s ON s.customer_id OPERATOR(pg_catalog.=) c.customer_id
	 WHERE NOT c.added OR d.created_at OPERATOR(pg_catalog.<) s.last_at OR d.referral_campaign_id IS NOT NULL
	UNION
	SELECT c.customer_id FROM pg_temp.rollup_cust c WHERE NOT c.added;
	GET DIAGNOSTICS v_rebuilt = ROW_COUNT;

	-- the rebuilt customers as an array, each looked up by its key: on
	-- Citus no temporary table joins the reference table modified below
	-- nor the shards of order_facts
	v_customers := ARRAY(SELECT r.customer_id FROM pg_temp.rollup_rebuild r);
	DELETE FROM @extschema@.customer_stats s
	 WHERE s.customer_id OPERATOR(pg_catalog.=) ANY (v_customers);
	-- their counting orders, from every zone, then summed per customer
	DROP TABLE IF EXISTS pg_temp.rollup_rebuild_facts;
	CREATE TEMP TABLE pg_temp.rollup_rebuild_facts (LIKE @extschema@.order_facts) ON COMMIT DROP;
	INSERT INTO pg_temp.rollup_rebuild_facts
	SELECT x.* FROM @extschema@.order_facts x
	 WHERE x.customer_id OPERATOR(pg_catalog.=) ANY (v_customers) AND x.counted;
	INSERT INTO @extschema@.customer_stats (customer_id, first_at, first_zone_id, first_day, first_order_id,
	                                        first_campaign_id, second_at, last_at, orders, monetary_cents)
	SELECT a.customer_id, (a.f[1]).created_at, (a.f[1]).zone_id, (a.f[1]).day, (a.f[1]).order_id,
	       COALESCE(a.referral_campaign_id, (a.f[1]).campaign_id),
	       (a.f[2]).created_at, a.last_at, a.orders, a.paid
	  FROM (SELECT x.customer_id,
	               pg_catalog.array_agg(x ORDER BY x.created_at, x.order_id) AS f,
	               pg_catalog.max(x.created_at) AS last_at, pg_catalog.count(*) AS orders,
	               pg_catalog.sum(x.paid_cents) AS paid,
	               pg_catalog.max(x.referral_campaign_id) AS referral_campaign_id
	          FROM pg_temp.rollup_rebuild_facts x
	         GROUP BY x.customer_id) a;

	-- the others only gained orders at or after their last
	INSERT INTO @extschema@.customer_stats AS t (customer_id, first_at, first_zone_id, first_day, first_order_id,
	                                             first_campaign_id, second_at, last_at, orders, monetary_cents)
	SELECT n.customer_id, (n.f[1]).created_at, (n.f[1]).zone_id, (n.f[1]).day, (n.f[1]).order_id,
	       (n.f[1]).campaign_id, (n.f[2]).created_at, n.last_at, n.orders, n.paid
	  FROM (SELECT d.customer_id, pg_catalog.array_agg(d ORDER BY d.created_at, d.order_id) AS f,
	               pg_catalog.max(d.created_at) AS last_at, pg_catalog.count(*) AS orders,
	               pg_catalog.sum(d.paid_cents) AS paid
	          FROM pg_temp.rollup_cust c
	          JOIN pg_temp.rollup_delta d ON d.zone_id OPERATOR(pg_catalog.=) c.zone_id AND d.order_id OPERATOR(pg_catalog.=) c.order_id
	           AND d.sign OPERATOR(pg_catalog.>) 0
	         WHERE c.added
	           AND NOT EXISTS (SELECT FROM pg_temp.rollup_rebuild r WHERE r.customer_id OPERATOR(pg_catalog.=) c.customer_id)
	         GROUP BY d.customer_id) n
	ON CONFLICT ON CONSTRAINT customer_stats_pkey DO UPDATE
	   SET second_at = COALESCE(t.second_at, EXCLUDED.first_at),
	       last_at = GREATEST(t.last_at, EXCLUDED.last_at),
	       orders = t.orders OPERATOR(pg_catalog.+) EXCLUDED.orders,
	       monetary_cents = t.monetary_cents OPERATOR(pg_catalog.+) EXCLUDED.monetary_cents;

	-- acquisitions follow the first order
	INSERT INTO @extschema@.campaign_daily AS t (zone_id, day, campaign_id, redemptions, orders, new_customers,
	                                             gmv_cents, discount_cents, reward_cents)
	SELECT a.zone_id, a.day, a.campaign_id, 0, 0, pg_catalog.sum(a.sign), 0, 0, 0
	  FROM (SELECT o.first_zone_id AS zone_id, o.first_day AS day, o.first_campaign_id AS campaign_id, -1 AS sign
	          FROM pg_temp.rollup_old_stats o WHERE o.first_campaign_id IS NOT NULL
	        UNION ALL
	        SELECT s.first_zone_id, s.first_day, s.first_campaign_id, 1
	          FROM (SELECT DISTINCT d.customer_id FROM pg_temp.rollup_delta d) c
	          JOIN @extschema@.customer_stats s ON s.customer_id OPERATOR(pg_catalog.=) c.customer_id
	         WHERE s.first_campaign_id IS NOT NULL) a
	 GROUP BY 1, 2, 3
	HAVING pg_catalog.sum(a.sign) OPERATOR(pg_catalog.<>) 0
	ON CONFLICT ON CONSTRAINT campaign_daily_pkey DO UPDATE
	   SET new_customers = t.new_customers OPERATOR(pg_catalog.+) EXCLUDED.new_customers;
	RETURN v_rebuilt;
END
$$;
COMMENT ON FUNCTION @extschema@._rollup_customers() IS
	'Internal (rollup_campaigns): customer_stats of the customers of the changed orders (from the difference, or rebuilt from order_facts when an order was removed or came before their last), and campaign_daily.new_customers moved with their first order; returns how many were rebuilt.';
REVOKE ALL ON FUNCTION @extschema@._rollup_customers() FROM PUBLIC;

-- _rollup_experiments (sql/90_growth.sql)
CREATE OR REPLACE FUNCTION @extschema@._rollup_experiments() RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_n bigint;
BEGIN
	DROP TABLE IF EXISTS pg_temp.rollup_exp;
	CREATE TEMP TABLE pg_temp.rollup_exp (sign integer, LIKE @extschema@.experiment_facts) ON COMMIT DROP;
	-- the exposures to count: temporary, with the counting orders of their
	-- customers beside them, so that the conversions are worked out here
	-- (Citus cannot correlate a subquery of a distributed table with them)
	DROP TABLE IF EXISTS pg_temp.rollup_touched;
	CREATE TEMP TABLE pg_temp.rollup_touched (LIKE @extschema@.experiment_exposures) ON COMMIT DROP;
	INSERT INTO pg_temp.rollup_touched
	SELECT e.* FROM @extschema@.experiment_exposures e
	 WHERE NOT EXISTS (SELECT FROM @extschema@.experiment_facts f
	                    WHERE f.experiment_id OPERATOR(pg_catalog.=) e.experiment_id
	                      AND f.customer_id OPERATOR(pg_catalog.=) e.customer_id)
	UNION
	SELECT e.* FROM (SELECT DISTINCT d.customer_id FROM pg_temp.rollup_delta d) c
	 CROSS JOIN LATERAL (SELECT * FROM @extschema@.experiment_exposures e
	                      WHERE e.customer_id OPERATOR(pg_catalog.=) c.customer_id OFFSET 0) e;
	DROP TABLE IF EXISTS pg_temp.rollup_touched_orders;
	CREATE TEMP TABLE pg_temp.rollup_touched_orders (customer_id bigint, created_at timestamptz,
	                                                 placed_at timestamptz) ON COMMIT DROP;
	CREATE INDEX ON pg_temp.rollup_touched_orders (customer_id);
	INSERT INTO pg_temp.rollup_touched_orders
	SELECT f.customer_id, f.created_at, f.placed_at FROM @extschema@.order_facts f
	 WHERE f.customer_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT DISTINCT t.customer_id FROM pg_temp.rollup_touched t))
	   AND f.counted;
	ANALYZE pg_temp.rollup_touched;
	ANALYZE pg_temp.rollup_touched_orders;
	WITH now_ AS (
		SELECT t.experiment_id, t.customer_id, t.variant, (t.exposed_at AT TIME ZONE 'UTC')::date AS day,
		       EXISTS (SELECT FROM pg_temp.rollup_touched_orders f
		                WHERE f.customer_id OPERATOR(pg_catalog.=) t.customer_id
		                  AND f.placed_at OPERATOR(pg_catalog.>=) t.exposed_at
		                  AND f.placed_at OPERATOR(pg_catalog.<) (t.exposed_at OPERATOR(pg_catalog.+) x.conversion_window)
		                  AND f.created_at OPERATOR(pg_catalog.<) (t.exposed_at OPERATOR(pg_catalog.+) x.conversion_window)) AS converted
		  FROM pg_temp.rollup_touched t
		  JOIN @extschema@.experiments x ON x.experiment_id OPERATOR(pg_catalog.=) t.experiment_id)
	INSERT INTO pg_temp.rollup_exp
	SELECT v.sign, v.experiment_id, v.customer_id, v.variant, v.day, v.converted
	  FROM now_ n
	  LEFT JOIN @extschema@.experiment_facts f
	    ON f.experiment_id OPERATOR(pg_catalog.=) n.experiment_id AND f.customer_id OPERATOR(pg_catalog.=) n.customer_id
	 CROSS JOIN LATERAL (VALUES (1, n.experiment_id, n.customer_id, n.variant, n.day, n.converted),
	                            (-1, f.experiment_id, f.customer_id, f.variant, f.day, f.converted))
	        v(sign, experiment_id, customer_id, variant, day, converted)
	 WHERE (n.variant, n.day, n.converted) IS DISTINCT FROM (f.variant, f.day, f.converted)
	   AND v.experiment_id IS NOT NULL;

	INSERT INTO @extschema@.experiment_daily AS t (experiment_id, variant, day, exposed, converted)
	SELECT r.experiment_id, r.variant, r.day, pg_catalog.sum(r.sign), pg_catalog.sum(r.sign OPERATOR(pg_catalog.*) r.converted::integer)
	  FROM pg_temp.rollup_exp r GROUP BY 1, 2, 3
	ON CONFLICT ON CONSTRAINT experiment_daily_pkey DO UPDATE
	   SET exposed = t.exposed OPERATOR(pg_catalog.+) EXCLUDED.exposed,
	       converted = t.converted OPERATOR(pg_catalog.+) EXCLUDED.converted;
	INSERT INTO @extschema@.experiment_facts AS t
	SELECT r.experiment_id, r.customer_id, r.variant, r.day, r.converted FROM pg_temp.rollup_exp r WHERE r.sign OPERATOR(pg_catalog.>) 0
	ON CONFLICT ON CONSTRAINT experiment_facts_pkey DO UPDATE
	   SET variant = EXCLUDED.variant, day = EXCLUDED.day, converted = EXCLUDED.converted;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@._rollup_experiments() IS
	'Internal (rollup_campaigns): experiment_facts and experiment_daily for the exposures not counted yet and those of customers whose orders changed; returns how many exposures changed.';
REVOKE ALL ON FUNCTION @extschema@._rollup_experiments() FROM PUBLIC;

-- rollup_campaigns (sql/90_growth.sql)
CREATE OR REPLACE FUNCTION @extschema@.rollup_campaigns(full_run boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_rewards integer;
	v_read bigint;
	v_events bigint := 0;
	v_orders bigint;
	v_customers bigint;
	v_rebuilt bigint;
	v_exposures bigint;
	v_run bigint;
	v_zone_id bigint;
	v_order_ids bigint[];
BEGIN
	IF full_run IS NULL THEN
		RAISE EXCEPTION 'rollup_campaigns needs full_run true or false'
			USING ERRCODE = 'DP025', HINT = 'false (the default) brings the rollup up to date; true recomputes everything.';
	END IF;
	-- rewards first: a delivery's referral reward is in place when its order is counted
	v_rewards := @extschema@.credit_rewards();
	-- each zone's committed events since its cursor (events_since: every
	-- event below the horizon of the zone's node is committed or never will
	-- be), up to the cursor credit_rewards has just left in the zone: its
	-- read stops at max_events and saw an earlier horizon, and an order
	-- counted from an event it has not handled would miss its reward with
	-- no later event to correct it; the rest waits for the next run.  A full
	-- run reads them too, to move the cursors past them
	v_read := @extschema@._growth_read('rollup_campaigns', NULL, 'credit_rewards');

	-- an erasure moving exposures out of the rollup waits for this run,
	-- and this run for it (_forget_experiments)
	PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._lock_key('rollup')::integer, 0);
	DROP TABLE IF EXISTS pg_temp.rollup_changed;
	CREATE TEMP TABLE pg_temp.rollup_changed (zone_id bigint, order_id bigint, PRIMARY KEY (zone_id, order_id))
		ON COMMIT DROP;
	IF full_run THEN
		TRUNCATE @extschema@.order_facts, @extschema@.zone_daily, @extschema@.campaign_daily,
		         @extschema@.customer_stats, @extschema@.customer_weeks,
		         @extschema@.experiment_facts, @extschema@.experiment_daily;
		INSERT INTO pg_temp.rollup_changed SELECT o.zone_id, o.order_id FROM @extschema@.orders o;
		GET DIAGNOSTICS v_orders = ROW_COUNT;
	ELSE
		v_events := v_read;
		INSERT INTO pg_temp.rollup_changed
		SELECT DISTINCT r.zone_id, r.order_id FROM pg_temp.growth_read r
		 WHERE r.kind OPERATOR(pg_catalog.=) 'order_status' AND r.order_id IS NOT NULL;
		GET DIAGNOSTICS v_orders = ROW_COUNT;
	END IF;
	ANALYZE pg_temp.rollup_changed;

	-- what was counted for them, and what they are now: zone by zone, each
	-- order looked up by its key.  The ids go as an array: on Citus each
	-- statement names its zone and runs on that zone's worker, where the
	-- temporary table of the changed orders is not.
	DROP TABLE IF EXISTS pg_temp.rollup_old;
	CREATE TEMP TABLE pg_temp.rollup_old (LIKE @extschema@.order_facts) ON COMMIT DROP;
	DROP TABLE IF EXISTS pg_temp.rollup_now;
	CREATE TEMP TABLE pg_temp.rollup_now (LIKE @extschema@.order_facts) ON COMMIT DROP;
	FOR v_zone_id, v_order_ids IN
		SELECT c.zone_id, pg_catalog.array_agg(c.order_id ORDER BY c.order_id)
		  FROM pg_temp.rollup_changed c GROUP BY c.zone_id ORDER BY c.zone_id
	LOOP
		INSERT INTO pg_temp.rollup_old
		SELECT x.* FROM @extschema@.order_facts x
		 WHERE x.zone_id OPERATOR(pg_catalog.=) v_zone_id AND x.order_id OPERATOR(pg_catalog.=) ANY (v_order_ids);
		INSERT INTO pg_temp.rollup_now
		SELECT o.zone_id, o.order_id, o.customer_id, o.created_at, o.placed_at, (o.created_at AT TIME ZONE z.timezone)::date,
		       @extschema@._order_counts(o.status), o.status OPERATOR(pg_catalog.=) 'delivered',
		       o.status OPERATOR(pg_catalog.=) 'cancelled',
		       o.subtotal_cents::bigint OPERATOR(pg_catalog.+) o.fee_cents, o.discount_cents, o.total_cents,
		       r.campaign_id, COALESCE(r.discount_cents, 0),
		       f.campaign_id, COALESCE(f.reward_cents, 0)
		  FROM @extschema@.orders o
		  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) o.zone_id
		  LEFT JOIN LATERAL (SELECT r.campaign_id, r.discount_cents FROM @extschema@.redemptions r
		                      WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone_id AND r.order_id OPERATOR(pg_catalog.=) o.order_id
		                        AND r.status OPERATOR(pg_catalog.=) 'applied' AND r.campaign_id IS NOT NULL
		                     OFFSET 0) r ON true
		  -- the reward as paid: the referral lots of both sides, in the zone
		  -- of the order (an erased customer's share is not paid)
		  LEFT JOIN LATERAL (SELECT f.campaign_id,
		                            COALESCE((SELECT pg_catalog.sum(l.points) FROM @extschema@.points_ledger l
		                                       WHERE l.zone_id OPERATOR(pg_catalog.=) v_zone_id
		                                         AND l.customer_id IN (f.customer_id, f.referrer_id)
		                                         AND l.reason OPERATOR(pg_catalog.=) 'referral'
		                                         AND l.ref OPERATOR(pg_catalog.=) ('referee:' OPERATOR(pg_catalog.||) f.customer_id)), 0)
		                            OPERATOR(pg_catalog.*) COALESCE((k.rules OPERATOR(pg_catalog.->>) 'cents_per_point')::bigint, 1) AS reward_cents
		                       FROM @extschema@.referrals f
		                       JOIN @extschema@.campaigns k ON k.campaign_id OPERATOR(pg_catalog.=) f.campaign_id
		                      WHERE f.order_id OPERATOR(pg_catalog.=) o.order_id AND f.status OPERATOR(pg_catalog.=) 'rewarded'
		                     OFFSET 0) f ON true
		 WHERE o.zone_id OPERATOR(pg_catalog.=) v_zone_id AND o.order_id OPERATOR(pg_catalog.=) ANY (v_order_ids);
	END LOOP;

	ANALYZE pg_temp.rollup_now;
	ANALYZE pg_temp.rollup_old;

	-- the difference: the order now (+1) and as last counted (-1), for the
	-- orders whose facts changed
	DROP TABLE IF EXISTS pg_temp.rollup_delta;
	CREATE TEMP TABLE pg_temp.rollup_delta (sign integer, LIKE @extschema@.order_facts) ON COMMIT DROP;
	INSERT INTO pg_temp.rollup_delta
	SELECT 1, n.* FROM pg_temp.rollup_now n
	  LEFT JOIN pg_temp.rollup_old o ON o.zone_id OPERATOR(pg_catalog.=) n.zone_id AND o.order_id OPERATOR(pg_catalog.=) n.order_id
	 WHERE (n.placed_at, n.counted, n.delivered, n.cancelled, n.gmv_cents, n.discount_cents, n.paid_cents,
	        n.campaign_id, n.campaign_discount, n.referral_campaign_id, n.reward_cents)
	       IS DISTINCT FROM
	       (o.placed_at, o.counted, o.delivered, o.cancelled, o.gmv_cents, o.discount_cents, o.paid_cents,
	        o.campaign_id, o.campaign_discount, o.referral_campaign_id, o.reward_cents);
	INSERT INTO pg_temp.rollup_delta
	SELECT -1, o.* FROM pg_temp.rollup_old o
	  JOIN pg_temp.rollup_now n ON n.zone_id OPERATOR(pg_catalog.=) o.zone_id AND n.order_id OPERATOR(pg_catalog.=) o.order_id
	 WHERE (n.placed_at, n.counted, n.delivered, n.cancelled, n.gmv_cents, n.discount_cents, n.paid_cents,
	        n.campaign_id, n.campaign_discount, n.referral_campaign_id, n.reward_cents)
	       IS DISTINCT FROM
	       (o.placed_at, o.counted, o.delivered, o.cancelled, o.gmv_cents, o.discount_cents, o.paid_cents,
	        o.campaign_id, o.campaign_discount, o.referral_campaign_id, o.reward_cents);
	ANALYZE pg_temp.rollup_delta;

	PERFORM @extschema@._rollup_fold();
	INSERT INTO @extschema@.order_facts AS t
	SELECT d.zone_id, d.order_id, d.customer_id, d.created_at, d.placed_at, d.day, d.counted, d.delivered, d.cancelled,
	       d.gmv_cents, d.discount_cents, d.paid_cents, d.campaign_id, d.campaign_discount,
	       d.referral_campaign_id, d.reward_cents
	  FROM pg_temp.rollup_delta d WHERE d.sign OPERATOR(pg_catalog.>) 0
	ON CONFLICT ON CONSTRAINT order_facts_pkey DO UPDATE
	   SET placed_at = EXCLUDED.placed_at, counted = EXCLUDED.counted, delivered = EXCLUDED.delivered, cancelled = EXCLUDED.cancelled,
	       gmv_cents = EXCLUDED.gmv_cents, discount_cents = EXCLUDED.discount_cents, paid_cents = EXCLUDED.paid_cents,
	       campaign_id = EXCLUDED.campaign_id, campaign_discount = EXCLUDED.campaign_discount,
	       referral_campaign_id = EXCLUDED.referral_campaign_id, reward_cents = EXCLUDED.reward_cents;
	SELECT pg_catalog.count(DISTINCT d.customer_id) INTO v_customers FROM pg_temp.rollup_delta d;
	v_rebuilt := @extschema@._rollup_customers();
	v_exposures := @extschema@._rollup_experiments();
	DELETE FROM @extschema@.zone_daily t USING (SELECT DISTINCT d.zone_id, d.day FROM pg_temp.rollup_delta d) c
	 WHERE t.zone_id OPERATOR(pg_catalog.=) c.zone_id AND t.day OPERATOR(pg_catalog.=) c.day
	   AND t.orders OPERATOR(pg_catalog.=) 0 AND t.delivered OPERATOR(pg_catalog.=) 0 AND t.cancelled OPERATOR(pg_catalog.=) 0;

	PERFORM @extschema@._growth_advance('rollup_campaigns');
	INSERT INTO @extschema@.rollup_runs (started_at, finished_at, full_run, events, orders, customers, rebuilt,
	                                     exposures, rewards)
	VALUES (v_started, pg_catalog.clock_timestamp(), full_run, v_events, v_orders, v_customers, v_rebuilt,
	        v_exposures, v_rewards)
	RETURNING run_id INTO v_run;
	RETURN v_run;
END
$$;
COMMENT ON FUNCTION @extschema@.rollup_campaigns(boolean) IS
	'Job: credits rewards (credit_rewards), then brings the growth rollup up to date from the orders touched by events since the last run, read with a cursor per zone as credit_rewards reads them and no further than credit_rewards has read in each zone (late commits and cancellations after midnight included): the difference between each order now and what was counted for it goes to its day, campaign and customer.  full_run recomputes everything (NULL: DP025).  Returns the rollup_runs row.  Run every minute by pg_cron (schedule_maintenance).';
REVOKE ALL ON FUNCTION @extschema@.rollup_campaigns(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rollup_campaigns(boolean) TO dispatch_admin;

-- _campaign_performance (sql/90_growth.sql)
CREATE OR REPLACE FUNCTION @extschema@._campaign_performance()
RETURNS TABLE (campaign_id bigint, campaign text, kind text, zone_id bigint, starts_at timestamptz,
               ends_at timestamptz, budget_cents bigint, budget_left_cents bigint, redemptions bigint,
               new_customers bigint, orders bigint, gmv_cents bigint, cost_cents bigint,
               cost_per_acquisition_cents numeric, roi numeric, acquired_30d_ago bigint,
               repeat_rate_30d numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.campaign_performance;
END
$$;
COMMENT ON FUNCTION @extschema@._campaign_performance() IS
	'Internal (campaign_performance): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._campaign_performance() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._campaign_performance() TO dispatch_analyst, dispatch_admin;

-- _experiment_by_day (sql/90_growth.sql)
CREATE OR REPLACE FUNCTION @extschema@._experiment_by_day()
RETURNS TABLE (experiment text, variant text, day date, exposed integer, converted integer, rate numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.experiment_by_day;
END
$$;
COMMENT ON FUNCTION @extschema@._experiment_by_day() IS
	'Internal (experiment_by_day): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._experiment_by_day() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._experiment_by_day() TO dispatch_analyst, dispatch_admin;

-- _customer_retention (sql/90_growth.sql)
CREATE OR REPLACE FUNCTION @extschema@._customer_retention()
RETURNS TABLE (cohort_week date, customers bigint, week_1 numeric, week_2 numeric, week_3 numeric,
               week_4 numeric, week_5 numeric, week_6 numeric, week_7 numeric, week_8 numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.customer_retention;
END
$$;
COMMENT ON FUNCTION @extschema@._customer_retention() IS
	'Internal (customer_retention): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._customer_retention() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._customer_retention() TO dispatch_analyst, dispatch_admin;

-- _customer_segments (sql/90_growth.sql)
CREATE OR REPLACE FUNCTION @extschema@._customer_segments()
RETURNS TABLE (segment text, customers bigint, share numeric, mean_orders numeric, mean_recency_days numeric,
               mean_lifetime_value_cents numeric, lifetime_value_cents numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.customer_segments;
END
$$;
COMMENT ON FUNCTION @extschema@._customer_segments() IS
	'Internal (customer_segments): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._customer_segments() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._customer_segments() TO dispatch_analyst, dispatch_admin;

-- _monthly_review (sql/90_growth.sql)
CREATE OR REPLACE FUNCTION @extschema@._monthly_review()
RETURNS TABLE (month date, zone_id bigint, active_customers bigint, orders bigint, delivered bigint,
               cancelled bigint, gmv_cents numeric, discount_cents numeric, customers_acquired bigint,
               campaign_cost_cents numeric, campaign_roi numeric, reviews bigint, mean_sentiment numeric,
               share_negative numeric, top_complaints text[], tickets_opened bigint,
               tickets_resolved_in_24h numeric, tickets_overdue bigint, campaign_surveys jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.monthly_review;
END
$$;
COMMENT ON FUNCTION @extschema@._monthly_review() IS
	'Internal (monthly_review): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._monthly_review() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._monthly_review() TO dispatch_analyst, dispatch_admin;

-- _distributed_tables (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._distributed_tables() RETURNS SETOF regclass
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	-- orders first: the others are co-located with it
	SELECT t::regclass FROM pg_catalog.unnest(ARRAY[
		'@extschema@.orders', '@extschema@.order_items', '@extschema@.item_stock',
		'@extschema@.payments', '@extschema@.refunds', '@extschema@.offers', '@extschema@.offer_audit',
		'@extschema@.offer_exclusions', '@extschema@.assign_batches',
		'@extschema@.events', '@extschema@.riders', '@extschema@.rider_tracks',
		'@extschema@.rider_sync_log', '@extschema@.rider_pay',
		'@extschema@.eta_predictions', '@extschema@.eta_calibration',
		'@extschema@.zone_speeds', '@extschema@.feedback',
		'@extschema@.complaint_tickets', '@extschema@.surveys',
		'@extschema@.survey_answers', '@extschema@.redemptions', '@extschema@.campaign_budget', '@extschema@.points_ledger', '@extschema@.coupon_uses',
		'@extschema@.intake_refusals', '@extschema@.order_facts',
		'@extschema@.zone_daily', '@extschema@.campaign_daily',
		'@extschema@.recommend_popularity', '@extschema@.recommend_coorders',
		'@extschema@.recommend_refreshes', '@extschema@.order_access_log',
		'@extschema@.order_disclosures']) WITH ORDINALITY AS u(t, n)
	 ORDER BY u.n
$$;
COMMENT ON FUNCTION @extschema@._distributed_tables() IS
	'Internal: the tables distribute() distributes by zone_id, co-located with orders (the first); every other table of the extension becomes a reference table.';
REVOKE ALL ON FUNCTION @extschema@._distributed_tables() FROM PUBLIC;

-- _routed_functions (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._routed_functions() RETURNS SETOF regprocedure
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT f::regprocedure FROM pg_catalog.unnest(ARRAY[
		'@extschema@._confirm_payment(bigint, bigint, text)',
		'@extschema@._fail_payment(bigint, bigint, text, integer)',
		'@extschema@._merchant_accept(bigint, bigint, timestamptz)',
		'@extschema@._respond_offer(bigint, bigint, boolean, text)',
		'@extschema@._mark_picked_up(bigint, bigint, bigint)',
		'@extschema@._mark_delivered(bigint, bigint, bigint)',
		'@extschema@._cancel_order(bigint, bigint, text)',
		'@extschema@._release_order(bigint, bigint, bigint, text, boolean)',
		'@extschema@._assign_manually(bigint, bigint, bigint, text)',
		'@extschema@._settle_refund(bigint, bigint, boolean, text, text, integer)',
		'@extschema@._retry_refund(bigint, bigint)']) AS u(f)
$$;
COMMENT ON FUNCTION @extschema@._routed_functions() IS
	'Internal: the routed forms of the API calls that name an order, an offer or a refund (their first argument is the zone), which distribute() makes distributed functions of the zone.';
REVOKE ALL ON FUNCTION @extschema@._routed_functions() FROM PUBLIC;

-- _analyst_views (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._analyst_views()
RETURNS TABLE (view_name regclass, reader regprocedure, own_body boolean)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT u.v::regclass, u.f::regprocedure,
	       u.v OPERATOR(pg_catalog.=) '@extschema@.demand_heatmap'
	  FROM (VALUES
		('@extschema@.consent_rates', '@extschema@._consent_rates()'),
		('@extschema@.privacy_request_counts', '@extschema@._privacy_request_counts()'),
		('@extschema@.refund_reconciliation', '@extschema@._refund_reconciliation()'),
		('@extschema@.earnings_fairness', '@extschema@._earnings_fairness()'),
		('@extschema@.eta_accuracy', '@extschema@._eta_accuracy()'),
		('@extschema@.demand_heatmap', '@extschema@._demand_heatmap()'),
		('@extschema@.stuck_orders', '@extschema@._stuck_orders()'),
		('@extschema@.rider_utilisation', '@extschema@._rider_utilisation()'),
		('@extschema@.dispatch_kpis', '@extschema@._dispatch_kpis()'),
		('@extschema@.order_anomalies', '@extschema@._order_anomalies()'),
		('@extschema@.feedback_daily', '@extschema@._feedback_daily()'),
		('@extschema@.feedback_top_issues', '@extschema@._feedback_top_issues()'),
		('@extschema@.complaint_sla', '@extschema@._complaint_sla()'),
		('@extschema@.survey_results', '@extschema@._survey_results()'),
		('@extschema@.experiment_results', '@extschema@._experiment_results()'),
		('@extschema@.campaign_performance', '@extschema@._campaign_performance()'),
		('@extschema@.experiment_by_day', '@extschema@._experiment_by_day()'),
		('@extschema@.customer_retention', '@extschema@._customer_retention()'),
		('@extschema@.customer_segments', '@extschema@._customer_segments()'),
		('@extschema@.monthly_review', '@extschema@._monthly_review()')) AS u(v, f)
$$;
COMMENT ON FUNCTION @extschema@._analyst_views() IS
	'Internal: every view granted to dispatch_analyst and the SECURITY DEFINER function of its rows, which the view reads once distribute() ran (on one server it reads the tables); own_body: the function is written apart, not given the view''s query.';
REVOKE ALL ON FUNCTION @extschema@._analyst_views() FROM PUBLIC;

-- _analyst_zone_function (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._analyst_zone_function(p_view regclass, p_query text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_fn text;
BEGIN
	SELECT pg_catalog.format('%I.%I', n.nspname, c.relname OPERATOR(pg_catalog.||) '_in_zone') INTO v_fn
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.oid OPERATOR(pg_catalog.=) p_view;
	-- the zone as a literal in the statement (PL/pgSQL's EXECUTE): Citus
	-- plans a query over several tables only with its values known; and
	-- as $1, for a query that passes it on to a function
	EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION %s(zone_id bigint) RETURNS SETOF %s'
	                          ' LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER'
	                          ' SET search_path = pg_catalog, pg_temp AS %L',
	                          v_fn, p_view,
	                          pg_catalog.format(E'\nBEGIN\n\tRETURN QUERY EXECUTE %L OPERATOR(pg_catalog.||) zone_id USING zone_id;\nEND\n',
	                                            'SELECT v.* FROM (' OPERATOR(pg_catalog.||)
	                                            pg_catalog.regexp_replace(COALESCE(p_query, pg_catalog.format('SELECT * FROM %s', p_view)),
	                                                                      ';\s*$', '')
	                                            OPERATOR(pg_catalog.||) ') v WHERE v.zone_id OPERATOR(pg_catalog.=) '));
	EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s(bigint) IS %L', v_fn,
	                          pg_catalog.format('The rows of the analyst view %s of one zone (docs/citus.md, "Analysts on Citus": on a distributed install some are read on that zone''s worker alone).',
	                                            p_view));
	EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s(bigint) FROM PUBLIC', v_fn);
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s(bigint) TO dispatch_analyst, dispatch_admin', v_fn);
END
$$;
COMMENT ON FUNCTION @extschema@._analyst_zone_function(regclass, text) IS
	'Internal: creates or replaces <view>_in_zone(zone_id), the rows of the analyst view p_view of one zone, as p_query (the view''s rows, $1 the zone; NULL: the view itself) filtered by zone_id; granted to dispatch_analyst and dispatch_admin.';
REVOKE ALL ON FUNCTION @extschema@._analyst_zone_function(regclass, text) FROM PUBLIC;

-- _analyst_zone_views (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._analyst_zone_views() RETURNS SETOF regclass
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT a.view_name FROM @extschema@._analyst_views() a
	 WHERE EXISTS (SELECT FROM pg_catalog.pg_attribute c
	                WHERE c.attrelid OPERATOR(pg_catalog.=) a.view_name
	                  AND c.attname OPERATOR(pg_catalog.=) 'zone_id' AND NOT c.attisdropped)
	 ORDER BY a.view_name::text
$$;
COMMENT ON FUNCTION @extschema@._analyst_zone_views() IS
	'Internal: the analyst views with a zone_id column, each with its function <view>_in_zone(zone_id).';
REVOKE ALL ON FUNCTION @extschema@._analyst_zone_views() FROM PUBLIC;

-- _analyst_span_views (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._analyst_span_views() RETURNS TABLE (view_name regclass, period name, zoned boolean)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT DISTINCT ON (a.view_name::text) a.view_name, c.attname,
	       EXISTS (SELECT FROM pg_catalog.pg_attribute z
	                WHERE z.attrelid OPERATOR(pg_catalog.=) a.view_name
	                  AND z.attname OPERATOR(pg_catalog.=) 'zone_id' AND NOT z.attisdropped)
	  FROM @extschema@._analyst_views() a
	  JOIN pg_catalog.pg_attribute c ON c.attrelid OPERATOR(pg_catalog.=) a.view_name
	 WHERE c.attname OPERATOR(pg_catalog.=) ANY ('{day,hour,week,cohort_week,month}'::pg_catalog.name[])
	   AND NOT c.attisdropped
	 ORDER BY a.view_name::text, c.attnum
$$;
COMMENT ON FUNCTION @extschema@._analyst_span_views() IS
	'Internal: the analyst views with a period column (day, hour, week, cohort_week or month; the first), each with its function <view>_between(since, until), and whether it has a zone_id (then also a zone_id argument).';
REVOKE ALL ON FUNCTION @extschema@._analyst_span_views() FROM PUBLIC;

-- _analyst_span_function (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._analyst_span_function(p_view regclass, p_query text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_span record;
	v_args text;
	v_types text;
	v_body text;
BEGIN
	SELECT s.period, s.zoned,
	       pg_catalog.format('%I.%I', n.nspname, c.relname OPERATOR(pg_catalog.||) '_between') AS fn
	  INTO v_span
	  FROM @extschema@._analyst_span_views() s
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.view_name
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE s.view_name OPERATOR(pg_catalog.=) p_view;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'view % is not an analyst view with a period column', p_view
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_args := 'since date DEFAULT NULL, until date DEFAULT NULL'
	          OPERATOR(pg_catalog.||) CASE WHEN v_span.zoned THEN ', zone_id bigint DEFAULT NULL' ELSE '' END;
	v_types := 'date, date' OPERATOR(pg_catalog.||) CASE WHEN v_span.zoned THEN ', bigint' ELSE '' END;
	-- each bound as a literal in the statement (PL/pgSQL's EXECUTE): Citus
	-- plans a query over several tables only with its values known
	v_body := pg_catalog.format(E'\nDECLARE\n\tq text := %L;\nBEGIN\n'
	                            '\tIF since IS NOT NULL THEN\n\t\tq := q OPERATOR(pg_catalog.||) pg_catalog.format(%L, since);\n\tEND IF;\n'
	                            '\tIF until IS NOT NULL THEN\n\t\tq := q OPERATOR(pg_catalog.||) pg_catalog.format(%L, until);\n\tEND IF;\n'
	                            '%s\tRETURN QUERY EXECUTE q;\nEND\n',
		'SELECT v.* FROM (' OPERATOR(pg_catalog.||)
		pg_catalog.regexp_replace(COALESCE(p_query, pg_catalog.format('SELECT * FROM %s', p_view)), ';\s*$', '')
		OPERATOR(pg_catalog.||) ') v WHERE true',
		pg_catalog.format(' AND v.%I OPERATOR(pg_catalog.>=) %%L::pg_catalog.date', v_span.period),
		pg_catalog.format(' AND v.%I OPERATOR(pg_catalog.<) %%L::pg_catalog.date', v_span.period),
		CASE WHEN v_span.zoned
		     THEN pg_catalog.format(E'\tIF zone_id IS NOT NULL THEN\n\t\tq := q OPERATOR(pg_catalog.||) pg_catalog.format(%L, zone_id);\n\tEND IF;\n',
		                            ' AND v.zone_id OPERATOR(pg_catalog.=) %s')
		     ELSE '' END);
	EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION %s(%s) RETURNS SETOF %s'
	                          ' LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER'
	                          ' SET search_path = pg_catalog, pg_temp AS %L',
	                          v_span.fn, v_args, p_view, v_body);
	EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s(%s) IS %L', v_span.fn, v_types,
	                          pg_catalog.format('The rows of the analyst view %s whose %s lies from since up to before until (a NULL bound: none)%s (docs/citus.md, "Analysts on Citus": on a distributed install the bounds reach the shards, before the rows are grouped).',
	                                            p_view, v_span.period,
	                                            CASE WHEN v_span.zoned THEN ', of one zone if zone_id is given' ELSE '' END));
	EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s(%s) FROM PUBLIC', v_span.fn, v_types);
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s(%s) TO dispatch_analyst, dispatch_admin', v_span.fn, v_types);
END
$$;
COMMENT ON FUNCTION @extschema@._analyst_span_function(regclass, text) IS
	'Internal: creates or replaces <view>_between(since, until[, zone_id]), the rows of the analyst view p_view within a span of its period column (and of one zone), as p_query (the view''s rows; NULL: the view itself) filtered; granted to dispatch_analyst and dispatch_admin.  22023 for a view not in _analyst_span_views().';
REVOKE ALL ON FUNCTION @extschema@._analyst_span_function(regclass, text) FROM PUBLIC;

-- _analyst_views_read_definers (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._analyst_views_read_definers() RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_view record;
	v_read record;
	v_body text;
	v_ctes text;
	v_inline text;
	v_inlined boolean;
	v_query text;
	v_zone_query text;
	v_propagate text := pg_catalog.current_setting('citus.enable_ddl_propagation', true);
BEGIN
	IF v_propagate IS NOT NULL THEN
		PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
	END IF;
	FOR v_view IN
		SELECT a.view_name, a.reader, a.own_body,
		       pg_catalog.string_agg(pg_catalog.format('r.%I::%s AS %I', c.attname,
		                                               pg_catalog.format_type(c.atttypid, c.atttypmod), c.attname),
		                             ', ' ORDER BY c.attnum) AS columns,
		       -- the view reads its function already (a repeat)
		       EXISTS (SELECT FROM pg_catalog.pg_rewrite w
		                 JOIN pg_catalog.pg_depend d
		                   ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
		                  AND d.objid OPERATOR(pg_catalog.=) w.oid
		                WHERE w.ev_class OPERATOR(pg_catalog.=) a.view_name
		                  AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
		                  AND d.refobjid OPERATOR(pg_catalog.=) a.reader) AS switched
		  FROM @extschema@._analyst_views() a
		  JOIN pg_catalog.pg_attribute c ON c.attrelid OPERATOR(pg_catalog.=) a.view_name
		 WHERE c.attnum OPERATOR(pg_catalog.>) 0 AND NOT c.attisdropped
		 GROUP BY a.view_name, a.reader, a.own_body
	LOOP
		IF NOT v_view.own_body AND NOT v_view.switched THEN
			-- the view's query, its names qualified (this function's
			-- search_path), as the body: grants and comment are kept
			v_body := pg_catalog.pg_get_viewdef(v_view.view_name);
			v_ctes := NULL;
			v_inline := NULL;
			v_inlined := true;
			FOR v_read IN
				SELECT DISTINCT a.view_name AS other, n.nspname, c.relname,
				       -- the other view's own query: its definition, or
				       -- once it reads its function, that function's
				       -- body (given it by the switch); none for a
				       -- function with a body of its own
				       CASE WHEN a.own_body THEN NULL
				            WHEN EXISTS (SELECT FROM pg_catalog.pg_rewrite w2
				                           JOIN pg_catalog.pg_depend d2
				                             ON d2.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
				                            AND d2.objid OPERATOR(pg_catalog.=) w2.oid
				                          WHERE w2.ev_class OPERATOR(pg_catalog.=) a.view_name
				                            AND d2.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
				                            AND d2.refobjid OPERATOR(pg_catalog.=) a.reader)
				            THEN (SELECT p.prosrc FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) a.reader)
				            ELSE pg_catalog.pg_get_viewdef(a.view_name) END AS query
				  FROM pg_catalog.pg_rewrite w
				  JOIN pg_catalog.pg_depend d
				    ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
				   AND d.objid OPERATOR(pg_catalog.=) w.oid
				   AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
				  JOIN @extschema@._analyst_views() a ON a.view_name OPERATOR(pg_catalog.=) d.refobjid::pg_catalog.regclass
				  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.view_name
				  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
				 WHERE w.ev_class OPERATOR(pg_catalog.=) v_view.view_name
				   AND a.view_name OPERATOR(pg_catalog.<>) v_view.view_name
				 ORDER BY c.relname
			LOOP
				-- the view's references to the other view (always
				-- qualified here) read the CTE <name>_rows instead
				v_body := pg_catalog.regexp_replace(v_body,
				              '(?<![.\w"])' OPERATOR(pg_catalog.||)
				              pg_catalog.regexp_replace(pg_catalog.quote_ident(v_read.nspname) OPERATOR(pg_catalog.||) '.'
				                                        OPERATOR(pg_catalog.||) pg_catalog.quote_ident(v_read.relname),
				                                        '([^\w])', '\\\1', 'g')
				              OPERATOR(pg_catalog.||) '(?![\w"])',
				              v_read.relname OPERATOR(pg_catalog.||) '_rows', 'g');
				v_ctes := COALESCE(v_ctes OPERATOR(pg_catalog.||) ', ', '')
				          OPERATOR(pg_catalog.||) pg_catalog.format('%I AS MATERIALIZED (SELECT * FROM %s)',
				                                                    v_read.relname OPERATOR(pg_catalog.||) '_rows',
				                                                    v_read.other);
				-- for the rows of a zone or a span: the other view's query
				-- inlined, so that the filter reaches its tables (another
				-- view without one: the view itself, filtered)
				v_inlined := v_inlined AND v_read.query IS NOT NULL;
				v_inline := COALESCE(v_inline OPERATOR(pg_catalog.||) ', ', '')
				            OPERATOR(pg_catalog.||) pg_catalog.format('%I AS NOT MATERIALIZED (%s)',
				                                                      v_read.relname OPERATOR(pg_catalog.||) '_rows',
				                                                      pg_catalog.regexp_replace(v_read.query, ';\s*$', ''));
			END LOOP;
			IF v_ctes IS NOT NULL THEN
				v_query := CASE WHEN NOT v_inlined THEN NULL
				                WHEN v_body ~ '^\s*WITH\s' AND v_body !~ '^\s*WITH\s+RECURSIVE\s'
				                THEN 'WITH ' OPERATOR(pg_catalog.||) v_inline OPERATOR(pg_catalog.||) ', '
				                     OPERATOR(pg_catalog.||) pg_catalog.regexp_replace(v_body, '^\s*WITH\s', '')
				                ELSE 'WITH ' OPERATOR(pg_catalog.||) v_inline OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) v_body END;
				v_body := CASE WHEN v_body ~ '^\s*WITH\s' AND v_body !~ '^\s*WITH\s+RECURSIVE\s'
				               THEN pg_catalog.regexp_replace(v_body, '^\s*WITH\s', 'WITH ' OPERATOR(pg_catalog.||) v_ctes OPERATOR(pg_catalog.||) ', ')
				               ELSE 'WITH ' OPERATOR(pg_catalog.||) v_ctes OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) v_body END;
			ELSE
				v_query := v_body;
			END IF;
			EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION %s RETURNS %s LANGUAGE sql STABLE PARALLEL SAFE'
			                          ' SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS %L',
			                          v_view.reader, pg_catalog.pg_get_function_result(v_view.reader), v_body);
		END IF;
		-- the view's rows of one zone, and of a span of its periods: its
		-- query with the filter outside, another analyst view it reads
		-- inlined (v_query above).  A view with a function of its own:
		-- that function's rows, filtered, of the one zone where the
		-- function has a form of one zone, reader(bigint) (with the zone
		-- as $1 in the statement of <view>_in_zone)
		IF NOT v_view.switched THEN
			IF v_view.own_body THEN
				v_query := pg_catalog.format('SELECT %s FROM %s r', v_view.columns, v_view.reader);
				v_zone_query := CASE WHEN pg_catalog.to_regprocedure(pg_catalog.regexp_replace(v_view.reader::text, '\(\)$', '(bigint)')) IS NOT NULL
				                     THEN pg_catalog.format('SELECT %s FROM %s r', v_view.columns,
				                                            pg_catalog.regexp_replace(v_view.reader::text, '\(\)$', '($1)'))
				                     ELSE v_query END;
			ELSE
				v_zone_query := v_query;
			END IF;
			IF v_view.view_name IN (SELECT z FROM @extschema@._analyst_zone_views() z) THEN
				PERFORM @extschema@._analyst_zone_function(v_view.view_name, v_zone_query);
			END IF;
			IF v_view.view_name IN (SELECT p.view_name FROM @extschema@._analyst_span_views() p) THEN
				PERFORM @extschema@._analyst_span_function(v_view.view_name, v_query);
			END IF;
		END IF;
		EXECUTE pg_catalog.format('CREATE OR REPLACE VIEW %s AS SELECT %s FROM %s r',
		                          v_view.view_name, v_view.columns, v_view.reader);
	END LOOP;
	IF v_propagate IS NOT NULL THEN
		PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', v_propagate, true);
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._analyst_views_read_definers() IS
	'Internal: gives each analyst function of _analyst_views() without a body of its own the view''s query (another analyst view it reads read once, in a MATERIALIZED CTE), and each <view>_in_zone and <view>_between function that query (the other view''s query inlined instead; demand_heatmap_in_zone: _demand_heatmap(zone_id)) filtered by zone or span, then makes each analyst view read its SECURITY DEFINER function, with the same columns, comment and grants (distribute() calls it; Citus reads a view''s shards as the querying role).';
REVOKE ALL ON FUNCTION @extschema@._analyst_views_read_definers() FROM PUBLIC;

-- _event_shard_seq (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._event_shard_seq() RETURNS trigger
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_event_shard_seq';
COMMENT ON FUNCTION @extschema@._event_shard_seq() IS
	'Internal: BEFORE INSERT on the shards of a distributed outbox (distribute() creates the trigger): the row gets the next seq of the worker''s transaction, whichever node numbered it, so that the events of a zone are numbered by one node (src/events.c).';
REVOKE ALL ON FUNCTION @extschema@._event_shard_seq() FROM PUBLIC;

-- _check_node_group (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._check_node_group(p_group integer, p_node text) RETURNS void
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_group OPERATOR(pg_catalog.>) 15 THEN
		RAISE EXCEPTION 'the node % is of Citus group %, and dispatch has ids for groups 1 to 15 only', p_node, p_group
			USING ERRCODE = 'DP917',
			      DETAIL = 'Each node hands out ids from its group id << 36, below 2^40; Citus never reuses a group id, so removed and replaced workers use them up too.',
			      HINT = 'A cluster places at most 15 workers over its life (docs/citus.md, "Adding a worker").';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_node_group(integer, text) IS
	'Internal: DP917, naming p_node, for a Citus group id above 15, which has no range of ids (_start_node_sequences: group id << 36, below 2^40).';
REVOKE ALL ON FUNCTION @extschema@._check_node_group(integer, text) FROM PUBLIC;

-- _start_node_sequences (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._start_node_sequences() RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._check_node_group((SELECT g.groupid FROM pg_catalog.pg_dist_local_group g), 'here');
	PERFORM pg_catalog.setval(c.oid::pg_catalog.regclass,
	                          GREATEST((SELECT g.groupid FROM pg_catalog.pg_dist_local_group g)::pg_catalog.int8
	                                   OPERATOR(pg_catalog.<<) 36, 1), false)
	   FROM pg_catalog.pg_class c
	  WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
	    AND c.relkind OPERATOR(pg_catalog.=) 'S';
END
$$;
COMMENT ON FUNCTION @extschema@._start_node_sequences() IS
	'Internal, on a Citus worker: starts each sequence of the extension at the node''s group id << 36, so that the ids the worker hands out meet no other node''s.';
REVOKE ALL ON FUNCTION @extschema@._start_node_sequences() FROM PUBLIC;

-- _require_coordinator (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._require_coordinator(p_caller text) RETURNS void
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		RAISE EXCEPTION '%() needs Citus', p_caller
			USING ERRCODE = 'DP911',
			      DETAIL = 'The extension citus is not installed in this database.',
			      HINT = 'Run it on a Citus coordinator with its workers added (docs/citus.md).';
	END IF;
	-- (a statement apart: the function exists only where Citus is installed)
	IF NOT pg_catalog.citus_is_coordinator() THEN
		RAISE EXCEPTION '%() runs on the Citus coordinator', p_caller
			USING ERRCODE = 'DP911',
			      DETAIL = 'This node is not the coordinator of its cluster.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._require_coordinator(text) IS
	'Internal: DP911, naming p_caller, unless this database has Citus and this node is its coordinator (distribute(), prepare_worker(), prepare_move()).';
REVOKE ALL ON FUNCTION @extschema@._require_coordinator(text) FROM PUBLIC;

-- _base_above_cluster (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._base_above_cluster() RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_result record;
BEGIN
	SELECT pg_catalog.bool_and(r.success) AS success,
	       pg_catalog.min(r.result) FILTER (WHERE NOT r.success) AS result,
	       pg_catalog.max(r.result::bigint) FILTER (WHERE r.success) AS top
	  INTO v_result
	  FROM pg_catalog.run_command_on_all_nodes(
	         'SELECT pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text::bigint '
	         'OPERATOR(pg_catalog.+) @extschema@._event_base()') r;
	IF NOT v_result.success THEN
		RAISE EXCEPTION 'on a node of the cluster: %', v_result.result
			USING ERRCODE = 'DP913';
	END IF;
	RETURN GREATEST(v_result.top, COALESCE((SELECT pg_catalog.max(e.seq) FROM @extschema@.events e)
	                                       OPERATOR(pg_catalog.>>) 20, 0) OPERATOR(pg_catalog.+) 1)
	       OPERATOR(pg_catalog.+) 4294967296;
END
$$;
COMMENT ON FUNCTION @extschema@._base_above_cluster() IS
	'Internal, on a Citus coordinator (distribute(), prepare_worker(), prepare_move()): a base of event numbers above every number the cluster has given or will give before shards move: the highest of each node''s next transaction id plus its base and the highest event, plus 2^32.';
REVOKE ALL ON FUNCTION @extschema@._base_above_cluster() FROM PUBLIC;

-- _on_every_node (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._on_every_node(p_command text, p_here boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_failed record;
BEGIN
	IF p_here THEN
		EXECUTE p_command;
	END IF;
	SELECT w.nodename, w.nodeport, w.result INTO v_failed
	  FROM pg_catalog.run_command_on_workers(p_command) w
	 WHERE NOT w.success
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'on the worker %:%: %', v_failed.nodename, v_failed.nodeport, v_failed.result
			USING ERRCODE = 'DP913';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._on_every_node(text, boolean) IS
	'Internal: runs a command of distribute() on every worker, each committing on its own, and on the coordinator unless p_here is false (DP913 with the worker''s error if one fails).';
REVOKE ALL ON FUNCTION @extschema@._on_every_node(text, boolean) FROM PUBLIC;

-- distribute (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@.distribute()
RETURNS TABLE (table_name regclass, placement text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
	v_fk record;
	v_t regclass;
	v_trig record;
	v_placed text;
BEGIN
	PERFORM @extschema@._require_coordinator('distribute');
	-- one call at a time: a second waits for the first to end, then finds
	-- its tables placed.  (Run past the check below, it would alter the
	-- tables the first placed, which Citus carries to the workers over the
	-- call's own connections, and then wait on the workers, over
	-- connections of their own, for the locks its own statements hold
	-- there, for ever.)  event_base is local to each node: no other node
	-- sees the lock, and nothing on the coordinator writes it
	LOCK TABLE @extschema@.event_base IN EXCLUSIVE MODE;
	IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
	            WHERE p.logicalrelid OPERATOR(pg_catalog.=) '@extschema@.orders'::regclass) THEN
		RAISE EXCEPTION 'the tables of dispatch are distributed already'
			USING ERRCODE = 'DP912';
	END IF;
	-- a table of the extension that Citus knows already (placed by hand):
	-- distribute() places each table itself, from local tables only
	SELECT pg_catalog.string_agg(p.logicalrelid::regclass::text, ', ' ORDER BY p.logicalrelid::regclass::text)
	  INTO v_placed
	  FROM pg_catalog.pg_dist_partition p
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.logicalrelid
	 WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace;
	IF v_placed IS NOT NULL THEN
		RAISE EXCEPTION 'tables of dispatch are placed by Citus already: %', v_placed
			USING ERRCODE = 'DP912',
			      DETAIL = 'distribute() places every table of the extension itself, from local tables only; nothing is changed.';
	END IF;
	-- every worker it places needs a range of ids, before anything changes
	PERFORM @extschema@._check_node_group(n.groupid, pg_catalog.format('%s:%s', n.nodename, n.nodeport))
	   FROM pg_catalog.pg_dist_node n
	  WHERE n.isactive AND n.noderole OPERATOR(pg_catalog.=) 'primary'
	    AND n.groupid OPERATOR(pg_catalog.<>) 0;

	-- Triggers fire on the shards, where they reach co-located shards of
	-- the same zone and read reference tables (docs/citus.md)
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	-- one connection per worker: every table in one transaction
	PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);

	-- the foreign keys, kept to be put back
	CREATE TEMP TABLE _dispatch_fks ON COMMIT DROP AS
		SELECT c.conrelid::regclass AS rel, c.conname AS name,
		       pg_catalog.pg_get_constraintdef(c.oid) AS def
		  FROM pg_catalog.pg_constraint c
		 WHERE c.contype OPERATOR(pg_catalog.=) 'f'
		   AND c.connamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace;
	-- The workers have the extension's tables too (CREATE EXTENSION reached
	-- them): Citus takes them as the shells of the placed tables, so they
	-- change as the coordinator's do.  A worker commits each change on its
	-- own: if a later step fails, the coordinator rolls back and the
	-- workers' empty tables stay without these keys, which a retry, every
	-- change written to be repeated, puts right.
	FOR v_fk IN SELECT * FROM _dispatch_fks LOOP
		PERFORM @extschema@._on_every_node(pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I',
		                                                     v_fk.rel, v_fk.name));
	END LOOP;
	-- riders are keyed by zone: a distributed table's unique keys hold the
	-- distribution column
	PERFORM @extschema@._on_every_node('ALTER TABLE @extschema@.riders DROP CONSTRAINT IF EXISTS riders_pkey, '
	                                   'ADD CONSTRAINT riders_pkey PRIMARY KEY (zone_id, rider_id)');
	-- each worker's ids apart from the others', and its events numbered
	-- above the coordinator's: the events of a single-node history move
	-- to the workers with their zones, and a zone's numbers must keep
	-- rising there (src/events.c; prepare_worker gives a worker added later
	-- the same).  A worker that has a base from an earlier attempt keeps it
	PERFORM @extschema@._on_every_node(pg_catalog.format('SELECT @extschema@._prepare_this_node(%s)',
	                                                     @extschema@._base_above_cluster()), false);
	UPDATE _dispatch_fks f
	   SET def = 'FOREIGN KEY (zone_id, rider_id) REFERENCES @extschema@.riders(zone_id, rider_id)'
	 WHERE f.rel OPERATOR(pg_catalog.=) '@extschema@.orders'::regclass
	   AND f.name OPERATOR(pg_catalog.=) 'orders_rider_id_fkey';

	-- Copying the rows into shards would fire the row triggers of the
	-- settings (they edit their own table); they are off while the rows
	-- move.  Statement triggers (the sentiment model's cache) stay on:
	-- Citus does not carry a later ENABLE to a reference table's
	-- placements, and they would stay off there
	CREATE TEMP TABLE _dispatch_triggers ON COMMIT DROP AS
		SELECT t.tgrelid::regclass AS rel, t.tgname AS name, t.tgenabled AS enabled
		  FROM pg_catalog.pg_trigger t
		  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.tgrelid
		 WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace
		   AND NOT t.tgisinternal
		   AND (t.tgtype OPERATOR(pg_catalog.&) 1) OPERATOR(pg_catalog.=) 1;
	FOR v_trig IN SELECT * FROM _dispatch_triggers LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE TRIGGER %I', v_trig.rel, v_trig.name);
	END LOOP;

	FOR v_t IN
		SELECT c.oid::regclass
		  FROM pg_catalog.pg_class c
		 WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace
		   AND c.relkind OPERATOR(pg_catalog.=) 'r'
		   AND c.oid NOT IN (SELECT d FROM @extschema@._distributed_tables() d)
		   AND c.oid NOT IN ('@extschema@.relay_position'::regclass, '@extschema@.event_base'::regclass,
		                     '@extschema@.refusal_flushes'::regclass)
		 ORDER BY c.relname
	LOOP
		PERFORM pg_catalog.create_reference_table(v_t);
		table_name := v_t; placement := 'reference';
		RETURN NEXT;
	END LOOP;
	-- each node numbers its events from its own base, its relay keeps
	-- its own place in the shards of the outbox that node holds
	-- (src/events.c, src/relay.c), and its flushes of its own ring of
	-- refused attempts are counted there (src/refusals.c)
	table_name := '@extschema@.event_base'::regclass; placement := 'local to each node';
	RETURN NEXT;
	table_name := '@extschema@.refusal_flushes'::regclass; placement := 'local to each node';
	RETURN NEXT;
	table_name := '@extschema@.relay_position'::regclass; placement := 'local to each node';
	RETURN NEXT;
	FOR v_t IN SELECT d FROM @extschema@._distributed_tables() d LOOP
		IF v_t OPERATOR(pg_catalog.=) '@extschema@.orders'::regclass THEN
			PERFORM pg_catalog.create_distributed_table(v_t, 'zone_id');
		ELSE
			PERFORM pg_catalog.create_distributed_table(v_t, 'zone_id', colocate_with => '@extschema@.orders');
		END IF;
		table_name := v_t; placement := 'distributed by zone_id';
		RETURN NEXT;
	END LOOP;

	FOR v_trig IN SELECT * FROM _dispatch_triggers LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s %s TRIGGER %I', v_trig.rel,
			CASE v_trig.enabled WHEN 'A' THEN 'ENABLE ALWAYS' WHEN 'R' THEN 'ENABLE REPLICA'
			     WHEN 'D' THEN 'DISABLE' ELSE 'ENABLE' END, v_trig.name);
	END LOOP;
	FOR v_fk IN SELECT * FROM _dispatch_fks LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', v_fk.rel, v_fk.name, v_fk.def);
	END LOOP;
	-- the events of a zone numbered on its worker (src/events.c)
	CREATE TRIGGER events_shard_seq BEFORE INSERT ON @extschema@.events
		FOR EACH ROW EXECUTE FUNCTION @extschema@._event_shard_seq();
	-- a zone's batch runs on the zone's worker: the call is sent there
	-- whole (outside a transaction block), its statements run beside the
	-- shards they read and write
	PERFORM pg_catalog.create_distributed_function('@extschema@.assign_batch(bigint)', 'zone_id',
	                                    colocate_with => '@extschema@.orders');
	-- and so is a call that names an order or an offer (through its routed
	-- form, the zone first), outside a transaction block
	PERFORM pg_catalog.create_distributed_function(f, '$1', colocate_with => '@extschema@.orders')
	   FROM @extschema@._routed_functions() f;
	-- and a rider's or an order's call that names the rider's or the
	-- merchant's zone
	PERFORM pg_catalog.create_distributed_function(f, 'zone_id', colocate_with => '@extschema@.orders')
	   FROM pg_catalog.unnest(ARRAY[
		'@extschema@.place_order_in_zone(bigint, bigint, bigint, jsonb, float8, float8, text, text, text, integer)',
		'@extschema@.place_errand_in_zone(bigint, bigint, float8, float8, float8, float8, text, text, integer)',
		'@extschema@.rider_online_in_zone(bigint, bigint, float8, float8, timestamptz)',
		'@extschema@.rider_offline_in_zone(bigint, bigint)',
		'@extschema@.sync_rider_in_zone(bigint, bigint, jsonb)',
		'@extschema@.update_rider_location_in_zone(bigint, bigint, float8, float8, timestamptz)',
		'@extschema@.update_rider_plan_in_zone(bigint, bigint, timestamptz, float8, float8, timestamptz, float8, float8)'
	   ]::pg_catalog.regprocedure[]) f;
	-- the analyst views read their definer functions, on every node (an
	-- analyst may query the cluster from a worker too)
	PERFORM @extschema@._on_every_node('SELECT @extschema@._analyst_views_read_definers()');
END
$$;
COMMENT ON FUNCTION @extschema@.distribute() IS
	'On a Citus coordinator: distributes the tables of a zone by zone_id, co-located with orders, and makes every other table but the base of event numbers, the relay''s position and the flushes of the refusal ring (local to each node) a reference table, keeping every foreign key (an order''s rider becomes (zone_id, rider_id)); numbers a zone''s events on its worker; sends assign_batch, the calls that name an order or an offer, and the calls that name their zone (place_order_in_zone, place_errand_in_zone, rider_online_in_zone, rider_offline_in_zone, sync_rider_in_zone, update_rider_location_in_zone, update_rider_plan_in_zone) to the zone''s worker; makes the analyst views read their definer functions (_analyst_views()); returns each table with its placement.  DP911 elsewhere, DP912 if done already or a table of the extension is placed by Citus already (a second call at the same time waits for the first, then DP912), DP917 if a worker is of a Citus group above 15 (before anything changes), DP913 if a worker refuses (what the workers did is kept, and a second call completes it).';
REVOKE ALL ON FUNCTION @extschema@.distribute() FROM PUBLIC;

-- _prepare_this_node (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._prepare_this_node(p_base bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_base bigint;
BEGIN
	-- one at a time (a second waits, then finds the base)
	LOCK TABLE @extschema@.event_base IN EXCLUSIVE MODE;
	SELECT b.base INTO v_base FROM @extschema@.event_base b;
	IF FOUND THEN
		RETURN v_base;
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_dist_shard s
	             JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid
	            WHERE s.logicalrelid OPERATOR(pg_catalog.=) '@extschema@.events'::regclass
	              AND p.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g)) THEN
		RAISE EXCEPTION 'this worker holds shards of the outbox already'
			USING ERRCODE = 'DP914';
	END IF;
	INSERT INTO @extschema@.event_base (base) VALUES (p_base);
	PERFORM @extschema@._start_node_sequences();
	PERFORM @extschema@._analyst_views_read_definers();
	RETURN p_base;
END
$$;
COMMENT ON FUNCTION @extschema@._prepare_this_node(bigint) IS
	'Internal, on a worker, from distribute() (each worker it places) and prepare_worker (a worker added later): stores the node''s base of event numbers, starts its sequences at its group''s ids and makes its analyst views read their definer functions, in one transaction; returns the base (the one stored before, unchanged, if there is one).  DP914 once the node holds shards of the outbox.';
REVOKE ALL ON FUNCTION @extschema@._prepare_this_node(bigint) FROM PUBLIC;

-- _worker_group (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._worker_group(p_caller text, p_nodename text, p_nodeport integer)
RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_group integer;
BEGIN
	PERFORM @extschema@._require_coordinator(p_caller);
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
	                WHERE p.logicalrelid OPERATOR(pg_catalog.=) '@extschema@.events'::regclass) THEN
		RAISE EXCEPTION 'the tables of dispatch are not distributed yet'
			USING ERRCODE = 'DP915',
			      DETAIL = 'distribute() places every worker of the cluster when it runs.';
	END IF;
	SELECT n.groupid INTO v_group
	  FROM pg_catalog.pg_dist_node n
	 WHERE n.nodename OPERATOR(pg_catalog.=) p_nodename
	   AND n.nodeport OPERATOR(pg_catalog.=) p_nodeport
	   AND n.isactive AND n.noderole OPERATOR(pg_catalog.=) 'primary'
	   AND n.groupid OPERATOR(pg_catalog.<>) 0;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no active worker %:% in this cluster', p_nodename, p_nodeport
			USING ERRCODE = 'DP915',
			      HINT = 'Add the node with citus_add_node first.';
	END IF;
	RETURN v_group;
END
$$;
COMMENT ON FUNCTION @extschema@._worker_group(text, text, integer) IS
	'Internal, on a Citus coordinator (prepare_worker, prepare_move, named by p_caller in the errors): the group of an active primary worker of the cluster, once the tables are distributed; DP911 without Citus or off the coordinator, DP915 before distribute() or for a node that is no such worker.';
REVOKE ALL ON FUNCTION @extschema@._worker_group(text, text, integer) FROM PUBLIC;

-- _on_worker (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@._on_worker(p_nodename text, p_nodeport integer, p_command text)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_result record;
BEGIN
	SELECT r.success, r.result INTO v_result
	  FROM pg_catalog.master_run_on_worker(ARRAY[p_nodename], ARRAY[p_nodeport], ARRAY[p_command], false) r;
	IF NOT v_result.success THEN
		RAISE EXCEPTION 'on the worker %:%: %', p_nodename, p_nodeport, v_result.result
			USING ERRCODE = 'DP913';
	END IF;
	RETURN v_result.result;
END
$$;
COMMENT ON FUNCTION @extschema@._on_worker(text, integer, text) IS
	'Internal, on a Citus coordinator: runs a command on one worker in a transaction of its own and returns its value; DP913 with the worker''s error.';
REVOKE ALL ON FUNCTION @extschema@._on_worker(text, integer, text) FROM PUBLIC;

-- prepare_worker (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@.prepare_worker(nodename text, nodeport integer DEFAULT 5432)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
	v_group integer;
	v_base text;
	v_top bigint;
BEGIN
	v_group := @extschema@._worker_group('prepare_worker', nodename, nodeport);
	PERFORM @extschema@._check_node_group(v_group, pg_catalog.format('%s:%s', nodename, nodeport));
	-- prepared already: nothing changes (the node did its part in one
	-- transaction; the reference tables are copied again only if missing)
	v_base := @extschema@._on_worker(nodename, nodeport,
	                                 'SELECT coalesce((SELECT base::text FROM @extschema@.event_base), '''')');
	IF v_base OPERATOR(pg_catalog.=) '' AND EXISTS (
	       SELECT FROM pg_catalog.pg_dist_shard s
	         JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid
	        WHERE s.logicalrelid OPERATOR(pg_catalog.=) '@extschema@.events'::regclass
	          AND p.groupid OPERATOR(pg_catalog.=) v_group) THEN
		RAISE EXCEPTION 'the worker %:% holds shards of the outbox already', nodename, nodeport
			USING ERRCODE = 'DP914',
			      DETAIL = 'Its transactions may have numbered events of its zones without a base; a base is given only before a worker holds shards.',
			      HINT = 'Prepare a worker after citus_add_node and before moving shards to it (docs/citus.md, "Adding a worker").';
	END IF;

	-- the reference tables on the node (Citus copies them at a rebalance,
	-- not at citus_move_shard_placement, whose foreign keys need them)
	PERFORM pg_catalog.replicate_reference_tables('block_writes');
	IF v_base OPERATOR(pg_catalog.<>) '' THEN
		RETURN v_base::bigint;
	END IF;

	v_top := @extschema@._base_above_cluster();
	RETURN @extschema@._on_worker(nodename, nodeport,
	                              pg_catalog.format('SELECT @extschema@._prepare_this_node(%s)', v_top))::bigint;
END
$$;
COMMENT ON FUNCTION @extschema@.prepare_worker(text, integer) IS
	'On a Citus coordinator, for a worker added with citus_add_node after distribute(), before any shard moves to it: copies the reference tables there and gives the node what distribute() gives a worker (its sequences'' ids, analyst views that read their definer functions) and a base of event numbers above every number of the cluster, so that a zone''s events keep rising when its shards move there.  Returns the base; a second call changes nothing.  DP911 elsewhere, DP915 before distribute() or for a node not in the cluster, DP914 for a worker that holds shards of the outbox and was not prepared, DP917 for a worker of a Citus group above 15 (no range of ids; group ids are never reused), DP913 if the worker refuses.';
REVOKE ALL ON FUNCTION @extschema@.prepare_worker(text, integer) FROM PUBLIC;

-- prepare_move (sql/97_distribute.sql)
CREATE OR REPLACE FUNCTION @extschema@.prepare_move(nodename text, nodeport integer DEFAULT 5432)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
BEGIN
	PERFORM @extschema@._worker_group('prepare_move', nodename, nodeport);
	IF @extschema@._on_worker(nodename, nodeport,
	                          'SELECT coalesce((SELECT base::text FROM @extschema@.event_base), '''')')
	   OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'the worker %:% has no base of event numbers', nodename, nodeport
			USING ERRCODE = 'DP916',
			      HINT = 'Prepare a worker added after distribute() with prepare_worker() first.';
	END IF;
	RETURN @extschema@._on_worker(nodename, nodeport,
	                              pg_catalog.format('SELECT @extschema@._raise_event_base(%s)',
	                                                @extschema@._base_above_cluster()))::bigint;
END
$$;
COMMENT ON FUNCTION @extschema@.prepare_move(text, integer) IS
	'On a Citus coordinator, before moving a zone''s shards (citus_move_shard_placement, a rebalance or a drain) to a worker: raises that worker''s base of event numbers above every number of the cluster, once its transactions numbering with the old base have ended (new ones wait for the raise), so that each moved zone''s events keep rising there.  Returns the new base.  DP911 elsewhere, DP915 before distribute() or for a node not in the cluster, DP916 for a worker without a base (prepare_worker first), DP913 if the worker refuses.';
REVOKE ALL ON FUNCTION @extschema@.prepare_move(text, integer) FROM PUBLIC;

-- ===========================================================================
-- 3. What refers to routines
-- ===========================================================================

-- a learned feature name is checked by the model loader's own rule
-- (_sentiment_feature_ok, C), not by its length only
ALTER TABLE @extschema@.sentiment_weights DROP CONSTRAINT sentiment_weights_feature_check;
ALTER TABLE @extschema@.sentiment_weights
	ADD CONSTRAINT sentiment_weights_feature_check CHECK (@extschema@._sentiment_feature_ok(feature));

-- The analyst views are created over the tables below, as a fresh install
-- has them (on one server a filter on a view reaches the tables' indexes);
-- their definer functions of section 2 are what distribute() makes them
-- read on Citus (sql/97_distribute.sql).  0.1.0 had no distribute(): an
-- install updated from it is not distributed.  A later upgrade script that
-- changes an analyst view on a distributed install calls
-- _analyst_views_read_definers() after it.

-- The value rules of orders, payments, eta_predictions and riders: one
-- CHECK a table calling a function of section 2 (src/value_checks.c), the rules of
-- 0.1.0's column constraints, which PostgreSQL prepared one by one at
-- every insert or update.  The new constraints are checked against the
-- rows there.
ALTER TABLE @extschema@.orders
	DROP CONSTRAINT orders_kind_check,
	DROP CONSTRAINT orders_status_check,
	DROP CONSTRAINT orders_priority_check,
	DROP CONSTRAINT orders_subtotal_cents_check,
	DROP CONSTRAINT orders_fee_cents_check,
	DROP CONSTRAINT orders_discount_cents_check,
	DROP CONSTRAINT orders_total_cents_check,
	ADD CONSTRAINT orders_values_check CHECK (@extschema@._order_values_ok(kind, status, priority,
	                                          subtotal_cents, fee_cents, discount_cents, total_cents,
	                                          status_version));
ALTER TABLE @extschema@.payments
	DROP CONSTRAINT payments_amount_cents_check,
	DROP CONSTRAINT payments_status_check,
	ADD CONSTRAINT payments_values_check CHECK (@extschema@._payment_values_ok(amount_cents, status));
ALTER TABLE @extschema@.eta_predictions
	ADD CONSTRAINT eta_predictions_values_check CHECK (@extschema@._eta_values_ok(stage, approach_m, trip_m, speed_factor));
-- and so of riders (every location ping updates a rider), and the vehicles
-- a rider and a vehicle profile may name, one list
ALTER TABLE @extschema@.riders
	DROP CONSTRAINT riders_capacity_check,
	DROP CONSTRAINT riders_vehicle_check,
	DROP CONSTRAINT riders_status_check,
	DROP CONSTRAINT riders_active_orders_check,
	DROP CONSTRAINT riders_pending_offers_check,
	ADD CONSTRAINT riders_values_check CHECK (@extschema@._rider_values_ok(capacity, vehicle, status,
	                                          active_orders, pending_offers));
ALTER TABLE @extschema@.vehicle_profiles
	DROP CONSTRAINT vehicle_profiles_vehicle_check,
	ADD CONSTRAINT vehicle_profiles_vehicle_check CHECK (@extschema@._vehicle_ok(vehicle));

-- the schemas of PostGIS and pgcrypto leave every pinned search_path
-- (release 0.1.0 put them there; routines replaced above already have
-- pg_catalog, pg_temp)
DO $path$
DECLARE
	v_fn regprocedure;
BEGIN
	FOR v_fn IN
		SELECT DISTINCT p.oid::regprocedure
		  FROM pg_catalog.pg_proc p, pg_catalog.unnest(p.proconfig) c
		 WHERE p.pronamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace
		   AND c OPERATOR(pg_catalog.~~) 'search\_path=%'
		   AND c OPERATOR(pg_catalog.<>) 'search_path=pg_catalog, pg_temp'
	LOOP
		EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', v_fn);
	END LOOP;
END
$path$;

-- the source of settings rows, and id sequences dumped
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
SELECT pg_catalog.pg_extension_config_dump('@extschema@.matching_settings', 'WHERE source = ''operator''');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.vehicle_profiles', 'WHERE source = ''operator''');

-- Identity sequences are dumped with their tables, so that a
-- restored database does not hand out their ids again
SELECT pg_catalog.pg_extension_config_dump('@extschema@.zones_zone_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.merchants_merchant_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.items_item_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pii_access_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.privacy_requests_request_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.consents_consent_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.purge_runs_run_id_seq', '');


-- a rider's day starts in one place: riders_shift also fires when
-- _rider_day_roll touches stats_day
DROP TRIGGER riders_shift ON @extschema@.riders;
CREATE TRIGGER riders_shift
	BEFORE UPDATE OF status, stats_day ON @extschema@.riders
	FOR EACH ROW EXECUTE FUNCTION @extschema@._riders_shift_trigger();

-- Growth: A/B experiments (sql/86_experiments.sql): the analyst view, which
-- calls two_proportion_p
CREATE VIEW @extschema@.experiment_results AS
WITH converted AS (
	-- the exposures followed by an order placed within the window and not
	-- cancelled, in any zone: a join, not a subquery per exposure, which
	-- Citus cannot correlate with the orders of every shard
	SELECT DISTINCT e.experiment_id, e.customer_id
	  FROM @extschema@.experiment_exposures e
	  JOIN @extschema@.experiments x ON x.experiment_id OPERATOR(pg_catalog.=) e.experiment_id
	  JOIN @extschema@.zones z ON true
	  JOIN @extschema@.orders o
	    ON o.zone_id OPERATOR(pg_catalog.=) z.zone_id
	   AND o.customer_id OPERATOR(pg_catalog.=) e.customer_id
	   AND o.created_at OPERATOR(pg_catalog.<) (e.exposed_at OPERATOR(pg_catalog.+) x.conversion_window)
	   AND o.placed_at OPERATOR(pg_catalog.>=) e.exposed_at
	   AND o.placed_at OPERATOR(pg_catalog.<) (e.exposed_at OPERATOR(pg_catalog.+) x.conversion_window)
	   AND o.status OPERATOR(pg_catalog.<>) 'cancelled'
), counts AS (
	SELECT e.experiment_id, e.variant,
	       pg_catalog.count(*) AS exposed,
	       pg_catalog.count(c.customer_id) AS converted
	  FROM @extschema@.experiment_exposures e
	  LEFT JOIN converted c
	    ON c.experiment_id OPERATOR(pg_catalog.=) e.experiment_id AND c.customer_id OPERATOR(pg_catalog.=) e.customer_id
	 GROUP BY e.experiment_id, e.variant
), variants AS (
	SELECT x.experiment_id, x.name AS experiment, x.created_at, x.ended_at,
	       v.position, v.name AS variant, v.weight,
	       COALESCE(c.exposed, 0) AS exposed, COALESCE(c.converted, 0) AS converted
	  FROM @extschema@.experiments x
	  JOIN @extschema@.experiment_variants v ON v.experiment_id OPERATOR(pg_catalog.=) x.experiment_id
	  LEFT JOIN counts c ON c.experiment_id OPERATOR(pg_catalog.=) v.experiment_id
	                    AND c.variant OPERATOR(pg_catalog.=) v.name
), compared AS (
	SELECT v.*, k.exposed AS control_exposed, k.converted AS control_converted,
	       v.converted::float8 OPERATOR(pg_catalog./) NULLIF(v.exposed, 0) AS rate,
	       k.converted::float8 OPERATOR(pg_catalog./) NULLIF(k.exposed, 0) AS control_rate,
	       (v.converted OPERATOR(pg_catalog.+) k.converted)::float8
	           OPERATOR(pg_catalog./) NULLIF(v.exposed OPERATOR(pg_catalog.+) k.exposed, 0) AS pooled
	  FROM variants v
	  JOIN variants k ON k.experiment_id OPERATOR(pg_catalog.=) v.experiment_id
	                 AND k.variant OPERATOR(pg_catalog.=) 'control'
)
SELECT c.experiment, c.variant, c.position, c.weight, c.created_at AS started_at, c.ended_at,
       c.exposed, c.converted, c.rate,
       CASE WHEN c.variant OPERATOR(pg_catalog.<>) 'control'
            THEN c.rate OPERATOR(pg_catalog.-) c.control_rate END AS abs_lift,
       CASE WHEN c.variant OPERATOR(pg_catalog.<>) 'control'
            THEN (c.rate OPERATOR(pg_catalog.-) c.control_rate) OPERATOR(pg_catalog./) NULLIF(c.control_rate, 0) END AS rel_lift,
       CASE WHEN c.variant OPERATOR(pg_catalog.<>) 'control'
            THEN @extschema@.two_proportion_p(c.converted, c.exposed, c.control_converted, c.control_exposed) END AS p_value,
       -- the normal approximation needs at least 100 exposures in both
       -- groups and 5 expected conversions and non-conversions in each
       -- (pooled rate); the control row is judged against itself
       (c.exposed OPERATOR(pg_catalog.<) 100 OR c.control_exposed OPERATOR(pg_catalog.<) 100
        OR c.pooled IS NULL
        OR LEAST(c.exposed, c.control_exposed) OPERATOR(pg_catalog.*) c.pooled OPERATOR(pg_catalog.<) 5
        OR LEAST(c.exposed, c.control_exposed) OPERATOR(pg_catalog.*) (1 OPERATOR(pg_catalog.-) c.pooled)
           OPERATOR(pg_catalog.<) 5) AS too_few
  FROM compared c;
COMMENT ON VIEW @extschema@.experiment_results IS
	'Per experiment and variant: exposed (consenting customers at their first exposure), converted (an order placed within the conversion window and not cancelled), rate, absolute and relative lift against control, the two-sided p-value of a two-proportion z-test against control, and too_few when either group has under 100 exposures or under 5 expected conversions or non-conversions.  Counts only, no customer ids.';
REVOKE ALL ON @extschema@.experiment_results FROM PUBLIC;
GRANT SELECT ON @extschema@.experiment_results TO dispatch_analyst, dispatch_admin;
-- the complaint loop and surveys (sql/76_complaints.sql): the views, and
-- the trigger that opens tickets
CREATE VIEW @extschema@.complaint_sla AS
WITH t AS (
	SELECT c.zone_id,
	       (c.opened_at AT TIME ZONE z.timezone)::date AS day,
	       tp.topic, c.side, c.opened_at, c.due_at, c.resolved_at,
	       @extschema@.clock() AS now
	  FROM @extschema@.complaint_tickets c
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) c.zone_id
	 CROSS JOIN LATERAL pg_catalog.unnest(CASE WHEN pg_catalog.cardinality(c.topics) OPERATOR(pg_catalog.=) 0
	                                           THEN ARRAY[NULL]::text[] ELSE c.topics END) AS tp (topic)
)
SELECT t.zone_id, t.day, t.topic, t.side,
       pg_catalog.count(*) AS opened,
       pg_catalog.count(*) FILTER (WHERE t.resolved_at OPERATOR(pg_catalog.<=) t.due_at) AS resolved_in_time,
       pg_catalog.count(*) FILTER (WHERE t.resolved_at OPERATOR(pg_catalog.>) t.due_at) AS resolved_late,
       pg_catalog.count(*) FILTER (WHERE t.resolved_at IS NULL AND t.now OPERATOR(pg_catalog.>) t.due_at) AS open_overdue,
       pg_catalog.count(*) FILTER (WHERE t.resolved_at IS NULL AND t.now OPERATOR(pg_catalog.<=) t.due_at) AS open_in_time,
       pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY t.resolved_at OPERATOR(pg_catalog.-) t.opened_at)
           AS median_resolution
  FROM t
 GROUP BY t.zone_id, t.day, t.topic, t.side;
COMMENT ON VIEW @extschema@.complaint_sla IS
	'Complaint tickets per zone, local day of opening, topic and side: opened, resolved within complaint_due_in() (24 hours), resolved late, open and overdue, open and not yet due (against clock() at the time of the query), and the median time to resolution of the resolved ones.  A ticket with several topics counts under each; topic NULL: a ticket of a low rating without a topic.';

CREATE VIEW @extschema@.survey_results AS
WITH a AS (
	SELECT s.zone_id,
	       pg_catalog.date_trunc('month', s.created_at AT TIME ZONE z.timezone)::date AS month,
	       CASE WHEN s.campaign_id IS NULL THEN 'delivery' ELSE 'campaign' END AS kind,
	       s.campaign_id, s.rating, s.text_score, s.score, s.topics
	  FROM @extschema@.survey_answers s
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) s.zone_id
), topic_counts AS (
	SELECT a.zone_id, a.month, a.kind, a.campaign_id, tp.topic,
	       pg_catalog.row_number() OVER (PARTITION BY a.zone_id, a.month, a.kind, a.campaign_id
	                                     ORDER BY pg_catalog.count(*) DESC, tp.topic) AS rank
	  FROM a CROSS JOIN LATERAL pg_catalog.unnest(a.topics) AS tp (topic)
	 GROUP BY a.zone_id, a.month, a.kind, a.campaign_id, tp.topic
), top AS (
	SELECT c.zone_id, c.month, c.kind, c.campaign_id, pg_catalog.array_agg(c.topic ORDER BY c.rank) AS top_topics
	  FROM topic_counts c
	 WHERE c.rank OPERATOR(pg_catalog.<=) 3
	 GROUP BY c.zone_id, c.month, c.kind, c.campaign_id
)
SELECT a.zone_id, a.month, a.kind, a.campaign_id,
       pg_catalog.count(*) AS answers,
       pg_catalog.avg(a.rating)::real AS mean_rating,
       pg_catalog.avg(a.text_score)::real AS mean_sentiment,
       (pg_catalog.count(*) FILTER (WHERE a.score OPERATOR(pg_catalog.<) 0)::float8
        OPERATOR(pg_catalog./) pg_catalog.count(*))::real AS share_negative,
       COALESCE(pg_catalog.min(top.top_topics), '{}') AS top_topics
  FROM a
  LEFT JOIN top
    ON top.zone_id OPERATOR(pg_catalog.=) a.zone_id AND top.month OPERATOR(pg_catalog.=) a.month
   AND top.kind OPERATOR(pg_catalog.=) a.kind AND top.campaign_id IS NOT DISTINCT FROM a.campaign_id
 GROUP BY a.zone_id, a.month, a.kind, a.campaign_id;
COMMENT ON VIEW @extschema@.survey_results IS
	'Survey answers per zone, local month, kind and campaign (NULL: delivery surveys): answers, mean rating, mean sentiment of the comments (NULL without any), share with a negative score (rating and comment combined, as feedback), and the three topics raised most (ties by name).  The zone of a campaign answer is that of the customer''s order that redeemed the campaign.';

GRANT SELECT ON @extschema@.complaint_sla, @extschema@.survey_results TO dispatch_analyst, dispatch_admin;

CREATE TRIGGER feedback_complaint
	AFTER INSERT ON @extschema@.feedback
	FOR EACH ROW EXECUTE FUNCTION @extschema@._feedback_complaint_trigger();
COMMENT ON TRIGGER feedback_complaint ON @extschema@.feedback IS
	'A complaint ticket for a negative review (sql/76_complaints.sql).';

-- refunds (sql/62_refunds.sql)
CREATE VIEW @extschema@.refund_reconciliation AS
SELECT o.zone_id, o.order_id, o.status, o.total_cents,
       COALESCE(p.paid, 0) AS paid_cents,
       COALESCE(r.refunded, 0) AS refund_cents,
       r.states AS refund_status,
       CASE WHEN o.status OPERATOR(pg_catalog.=) 'cancelled' AND COALESCE(p.paid, 0) OPERATOR(pg_catalog.>) 0
                 AND COALESCE(r.refunded, 0) OPERATOR(pg_catalog.<) p.paid THEN 'cancelled, not refunded in full'
            WHEN o.status OPERATOR(pg_catalog.<>) 'cancelled' AND COALESCE(r.refunded, 0) OPERATOR(pg_catalog.>) 0
                 THEN 'refunded, not cancelled'
            WHEN COALESCE(r.refunded, 0) OPERATOR(pg_catalog.>) COALESCE(p.paid, 0) THEN 'refunded more than paid'
       END AS problem
  FROM @extschema@.orders o
  LEFT JOIN LATERAL (SELECT pg_catalog.sum(x.amount_cents) AS paid FROM @extschema@.payments x
                      WHERE x.zone_id OPERATOR(pg_catalog.=) o.zone_id AND x.order_id OPERATOR(pg_catalog.=) o.order_id
                        AND x.status OPERATOR(pg_catalog.=) 'succeeded') p ON true
  LEFT JOIN LATERAL (SELECT pg_catalog.sum(y.amount_cents) FILTER (WHERE y.status OPERATOR(pg_catalog.<>) 'failed') AS refunded,
                            pg_catalog.string_agg(y.status, ',') AS states
                       FROM @extschema@.refunds y
                      WHERE y.zone_id OPERATOR(pg_catalog.=) o.zone_id AND y.order_id OPERATOR(pg_catalog.=) o.order_id) r ON true
 WHERE p.paid IS NOT NULL OR r.refunded IS NOT NULL;
COMMENT ON VIEW @extschema@.refund_reconciliation IS
	'Paid or refunded orders: what was paid, what is refunded (pending and succeeded refunds), the refund status, and problem: NULL when the money adds up (a cancelled paid order is refunded in full, nothing else is refunded), else what is wrong.  No personal data.';
REVOKE ALL ON @extschema@.refund_reconciliation FROM PUBLIC;
GRANT SELECT ON @extschema@.refund_reconciliation TO dispatch_analyst, dispatch_admin;

-- operations views (sql/69_operations.sql)
CREATE VIEW @extschema@.stuck_orders AS
SELECT o.zone_id, o.order_id, o.kind, o.status, o.rider_id, o.merchant_id,
       o.status_changed_at AS since,
       CASE WHEN o.status OPERATOR(pg_catalog.=) 'accepted'
            THEN GREATEST(o.status_changed_at, COALESCE(o.ready_at, o.status_changed_at))
            ELSE o.status_changed_at END
         OPERATOR(pg_catalog.+) @extschema@.stuck_after(o.status) AS due,
       @extschema@.clock() OPERATOR(pg_catalog.-)
         (CASE WHEN o.status OPERATOR(pg_catalog.=) 'accepted'
               THEN GREATEST(o.status_changed_at, COALESCE(o.ready_at, o.status_changed_at))
               ELSE o.status_changed_at END
          OPERATOR(pg_catalog.+) @extschema@.stuck_after(o.status)) AS overdue_by
  FROM @extschema@.orders o
 WHERE o.status IN ('pending_payment', 'payment_failed', 'placed', 'accepted', 'assigned', 'picked_up')
   AND @extschema@.clock() OPERATOR(pg_catalog.>)
       (CASE WHEN o.status OPERATOR(pg_catalog.=) 'accepted'
             THEN GREATEST(o.status_changed_at, COALESCE(o.ready_at, o.status_changed_at))
             ELSE o.status_changed_at END
        OPERATOR(pg_catalog.+) @extschema@.stuck_after(o.status));
COMMENT ON VIEW @extschema@.stuck_orders IS
	'Orders in a status longer than stuck_after(status) allows, now (clock()): when the status began, when it was due to end, and by how much it is overdue.  Ids and times only.';

-- Rider utilisation per zone and hour: the share of online rider time
-- (shifts from the rider_status events of the outbox, so as far back as
-- the outbox is kept) in which the rider held at least one order (from
-- assignment to delivery or cancellation; overlapping orders of one rider
-- merged).  Hours are the zone's local hours (in a zone half an hour off
-- UTC they start at :30 of UTC).
CREATE VIEW @extschema@.rider_utilisation AS
WITH shifts AS (
	SELECT e.zone_id, e.rider_id, e.at AS s, COALESCE(e.next_at, @extschema@.clock()) AS e
	  FROM (SELECT e.zone_id, e.rider_id, e.at, e.payload OPERATOR(pg_catalog.->>) 'status' AS status,
	               pg_catalog.lead(e.at) OVER (PARTITION BY e.rider_id ORDER BY e.at, e.seq) AS next_at
	          FROM @extschema@.events e
	         WHERE e.kind OPERATOR(pg_catalog.=) 'rider_status') e
	 WHERE e.status OPERATOR(pg_catalog.=) 'online'),
held AS (
	SELECT o.zone_id, o.rider_id, o.assigned_at AS s,
	       COALESCE(o.delivered_at, o.cancelled_at, @extschema@.clock()) AS e
	  FROM @extschema@.orders o
	 WHERE o.assigned_at IS NOT NULL AND o.rider_id IS NOT NULL),
held_marked AS (
	SELECT h.zone_id, h.rider_id, h.s, h.e,
	       pg_catalog.max(h.e) OVER (PARTITION BY h.rider_id ORDER BY h.s, h.e
	                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
	  FROM held h),
busy AS (
	SELECT m.zone_id, m.rider_id, pg_catalog.min(m.s) AS s, pg_catalog.max(m.e) AS e
	  FROM (SELECT h.zone_id, h.rider_id, h.s, h.e,
	               pg_catalog.sum(CASE WHEN h.prev_end IS NULL OR h.s OPERATOR(pg_catalog.>) h.prev_end THEN 1 ELSE 0 END)
	                   OVER (PARTITION BY h.rider_id ORDER BY h.s, h.e) AS island
	          FROM held_marked h) m
	 GROUP BY m.zone_id, m.rider_id, m.island),
spans AS (
	SELECT 'online' AS kind, s.zone_id, s.rider_id, s.s, s.e FROM shifts s
	UNION ALL
	SELECT 'busy', b.zone_id, b.rider_id, b.s, b.e FROM busy b)
SELECT x.zone_id,
       pg_catalog.date_trunc('hour', x.h AT TIME ZONE x.timezone) AS hour,
       pg_catalog.count(DISTINCT x.rider_id) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'online') AS riders_online,
       (pg_catalog.sum(x.seconds) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'online')
        OPERATOR(pg_catalog./) 3600)::numeric(10, 2) AS online_rider_hours,
       (COALESCE(pg_catalog.sum(x.seconds) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'busy'), 0)
        OPERATOR(pg_catalog./) 3600)::numeric(10, 2) AS busy_rider_hours,
       LEAST(COALESCE(pg_catalog.sum(x.seconds) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'busy'), 0)
             OPERATOR(pg_catalog./)
             NULLIF(pg_catalog.sum(x.seconds) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'online'), 0), 1)::numeric(5, 4)
           AS utilisation
  FROM (SELECT sp.kind, sp.zone_id, sp.rider_id, h.h, hz.timezone,
               pg_catalog.date_part('epoch', LEAST(sp.e, h.h OPERATOR(pg_catalog.+) interval '1 hour')
                                             OPERATOR(pg_catalog.-) GREATEST(sp.s, h.h))::numeric AS seconds
          FROM spans sp
          JOIN @extschema@.zones hz ON hz.zone_id OPERATOR(pg_catalog.=) sp.zone_id
         CROSS JOIN LATERAL pg_catalog.generate_series(pg_catalog.date_trunc('hour', sp.s, hz.timezone), sp.e,
                                                       interval '1 hour') h(h)
         WHERE sp.e OPERATOR(pg_catalog.>) sp.s
           AND sp.e OPERATOR(pg_catalog.>) h.h) x
 GROUP BY x.zone_id, pg_catalog.date_trunc('hour', x.h AT TIME ZONE x.timezone);
COMMENT ON VIEW @extschema@.rider_utilisation IS
	'Per zone and local hour: riders online, online and busy rider-hours, and utilisation, the share of online time in which a rider held at least one order (assigned to delivered).  Shifts come from the outbox''s rider_status events, so hours older than the outbox''s retention show no online time.';

CREATE VIEW @extschema@.dispatch_kpis AS
SELECT k.zone_id, k.hour, k.orders, k.delivered, k.cancelled, k.median_click_to_door, k.p90_click_to_door,
       k.on_time_share, k.median_assigned_to_pickup, k.median_food_waiting, k.offers_per_assigned_order,
       u.utilisation AS rider_utilisation
  FROM (SELECT o.zone_id,
               pg_catalog.date_trunc('hour', o.created_at AT TIME ZONE z.timezone) AS hour,
               pg_catalog.count(*) FILTER (WHERE o.placed_at IS NOT NULL) AS orders,
               pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'delivered') AS delivered,
               pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'cancelled') AS cancelled,
               (pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY o.delivered_at OPERATOR(pg_catalog.-) o.placed_at))
                   AS median_click_to_door,
               (pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY o.delivered_at OPERATOR(pg_catalog.-) o.placed_at))
                   AS p90_click_to_door,
               (pg_catalog.count(*) FILTER (WHERE o.delivered_at OPERATOR(pg_catalog.<=) o.promised_at)::numeric
                OPERATOR(pg_catalog./) NULLIF(pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'delivered'), 0))::numeric(5, 4)
                   AS on_time_share,
               (pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY o.picked_up_at OPERATOR(pg_catalog.-) o.assigned_at))
                   AS median_assigned_to_pickup,
               (pg_catalog.percentile_cont(0.5) WITHIN GROUP (
                    ORDER BY GREATEST(o.picked_up_at OPERATOR(pg_catalog.-) o.ready_at, interval '0'))) AS median_food_waiting,
               (pg_catalog.sum(f.offers)::numeric OPERATOR(pg_catalog./) NULLIF(pg_catalog.count(*) FILTER (WHERE o.assigned_at IS NOT NULL), 0))::numeric(6, 2)
                   AS offers_per_assigned_order
          FROM @extschema@.orders o
          JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) o.zone_id
          LEFT JOIN LATERAL (SELECT pg_catalog.count(*) AS offers FROM @extschema@.offers x
                              WHERE x.zone_id OPERATOR(pg_catalog.=) o.zone_id AND x.order_id OPERATOR(pg_catalog.=) o.order_id) f ON true
         GROUP BY o.zone_id, pg_catalog.date_trunc('hour', o.created_at AT TIME ZONE z.timezone)) k
  LEFT JOIN @extschema@.rider_utilisation u ON u.zone_id OPERATOR(pg_catalog.=) k.zone_id AND u.hour OPERATOR(pg_catalog.=) k.hour;
COMMENT ON VIEW @extschema@.dispatch_kpis IS
	'Per zone and local hour of ordering: orders paid, delivered, cancelled; median and 90th percentile click-to-door (placed to delivered); on-time share of delivered orders (by promised_at); median time from assignment to pickup; median time the food waited for its rider (pickup after ready); offers per assigned order; rider utilisation of the hour (rider_utilisation).';

-- Anomalies: per zone and local hour of the last 7 days, six kinds of
-- trouble, each a count k out of a base n, against the same hour of the
-- four weeks before (K out of N; local time, so a change of daylight
-- saving keeps the hour).  Each kind is counted in the hour of its base
-- event, so that k is a part of n (and K of N): the rate is a share in
-- [0, 1].  A kind is flagged when k >= 3 and its binomial z-score against
-- the baseline rate p = (K + 1) / (N + 2) is at least 3:
-- (k - n p) / sqrt(n p (1 - p)) >= 3.
--   payment_failed   of the payments settled in the hour, those that failed
--   cancelled        of the orders created in the hour, those cancelled since
--   rejected         of the offers answered in the hour, those rejected
--   released         of the offers accepted in the hour, those whose rider
--                    released the order since (release_order)
--   late             of the deliveries in the hour, those after promised_at
--   refunded         of the orders cancelled in the hour, those refunded
-- A count of this hour still grows as its orders are cancelled or released
-- later.  p stays below 1 and the rates are plain numeric even if a count
-- ever exceeded its base, so that no row can make the view fail.
CREATE VIEW @extschema@.order_anomalies AS
WITH span AS (
	SELECT @extschema@.clock() OPERATOR(pg_catalog.-) interval '36 days' AS since),
facts AS (
	SELECT o.zone_id, o.created_at AS at, 'orders' AS what FROM @extschema@.orders o, span
	 WHERE o.created_at OPERATOR(pg_catalog.>=) span.since
	UNION ALL
	SELECT o.zone_id, o.created_at, 'cancelled' FROM @extschema@.orders o, span
	 WHERE o.created_at OPERATOR(pg_catalog.>=) span.since AND o.cancelled_at IS NOT NULL
	UNION ALL
	SELECT o.zone_id, o.cancelled_at, 'cancellations' FROM @extschema@.orders o, span
	 WHERE o.cancelled_at OPERATOR(pg_catalog.>=) span.since
	UNION ALL
	SELECT o.zone_id, o.delivered_at, CASE WHEN o.delivered_at OPERATOR(pg_catalog.>) o.promised_at THEN 'late' ELSE 'on_time' END
	  FROM @extschema@.orders o, span
	 WHERE o.delivered_at OPERATOR(pg_catalog.>=) span.since
	UNION ALL
	SELECT p.zone_id, p.settled_at, CASE WHEN p.status OPERATOR(pg_catalog.=) 'failed' THEN 'payment_failed' ELSE 'payment_ok' END
	  FROM @extschema@.payments p, span
	 WHERE p.settled_at OPERATOR(pg_catalog.>=) span.since AND p.status IN ('failed', 'succeeded')
	UNION ALL
	SELECT f.zone_id, f.responded_at, CASE WHEN f.status OPERATOR(pg_catalog.=) 'rejected' THEN 'rejected' ELSE 'accepted' END
	  FROM @extschema@.offers f, span
	 WHERE f.responded_at OPERATOR(pg_catalog.>=) span.since AND f.status IN ('accepted', 'rejected', 'released')
	UNION ALL
	SELECT f.zone_id, f.responded_at, 'released'
	  FROM @extschema@.offers f
	  JOIN @extschema@.offer_exclusions x ON x.zone_id OPERATOR(pg_catalog.=) f.zone_id
	                                     AND x.order_id OPERATOR(pg_catalog.=) f.order_id
	                                     AND x.rider_id OPERATOR(pg_catalog.=) f.rider_id, span
	 WHERE f.responded_at OPERATOR(pg_catalog.>=) span.since AND f.status OPERATOR(pg_catalog.=) 'released'
	   AND x.reason OPERATOR(pg_catalog.=) 'released'
	UNION ALL
	SELECT o.zone_id, o.cancelled_at, 'refunded'
	  FROM @extschema@.orders o
	  JOIN @extschema@.refunds r ON r.zone_id OPERATOR(pg_catalog.=) o.zone_id AND r.order_id OPERATOR(pg_catalog.=) o.order_id, span
	 WHERE o.cancelled_at OPERATOR(pg_catalog.>=) span.since),
hourly AS (
	SELECT f.zone_id, pg_catalog.date_trunc('hour', f.at AT TIME ZONE z.timezone) AS hour,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'orders') AS orders,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'payment_failed') AS payment_failed,
	       pg_catalog.count(*) FILTER (WHERE f.what IN ('payment_failed', 'payment_ok')) AS payments,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'cancelled') AS cancelled,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'cancellations') AS cancellations,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'rejected') AS rejected,
	       pg_catalog.count(*) FILTER (WHERE f.what IN ('rejected', 'accepted')) AS answered,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'released') AS released,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'accepted') AS accepted,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'late') AS late,
	       pg_catalog.count(*) FILTER (WHERE f.what IN ('late', 'on_time')) AS delivered,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'refunded') AS refunded
	  FROM facts f
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) f.zone_id
	 GROUP BY f.zone_id, pg_catalog.date_trunc('hour', f.at AT TIME ZONE z.timezone)),
kinds AS (
	SELECT c.zone_id, c.hour, k.kind, k.k, k.n, b.bk, b.bn
	  FROM hourly c
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) c.zone_id
	 CROSS JOIN LATERAL (VALUES ('payment_failed', c.payment_failed, c.payments),
	                            ('cancelled', c.cancelled, c.orders),
	                            ('rejected', c.rejected, c.answered),
	                            ('released', c.released, c.accepted),
	                            ('late', c.late, c.delivered),
	                            ('refunded', c.refunded, c.cancellations)) k(kind, k, n)
	 CROSS JOIN LATERAL (
	       SELECT COALESCE(pg_catalog.sum(CASE k.kind WHEN 'payment_failed' THEN h.payment_failed WHEN 'cancelled' THEN h.cancelled
	                                               WHEN 'rejected' THEN h.rejected WHEN 'released' THEN h.released
	                                               WHEN 'late' THEN h.late ELSE h.refunded END), 0) AS bk,
	              COALESCE(pg_catalog.sum(CASE k.kind WHEN 'payment_failed' THEN h.payments WHEN 'cancelled' THEN h.orders
	                                               WHEN 'rejected' THEN h.answered WHEN 'released' THEN h.accepted
	                                               WHEN 'late' THEN h.delivered ELSE h.cancellations END), 0) AS bn
	         FROM hourly h
	        WHERE h.zone_id OPERATOR(pg_catalog.=) c.zone_id
	          AND h.hour IN (c.hour OPERATOR(pg_catalog.-) interval '7 days', c.hour OPERATOR(pg_catalog.-) interval '14 days',
	                         c.hour OPERATOR(pg_catalog.-) interval '21 days', c.hour OPERATOR(pg_catalog.-) interval '28 days')) b
	 WHERE c.hour OPERATOR(pg_catalog.>=) pg_catalog.date_trunc('hour', (@extschema@.clock() AT TIME ZONE z.timezone)
	                                                              OPERATOR(pg_catalog.-) interval '7 days')),
scored AS (
	SELECT k.zone_id, k.hour, k.kind, k.k, k.n, k.bk, k.bn,
	       LEAST(k.bk OPERATOR(pg_catalog.+) 1, k.bn OPERATOR(pg_catalog.+) 1)::float8
	       OPERATOR(pg_catalog./) (k.bn OPERATOR(pg_catalog.+) 2)::float8 AS p
	  FROM kinds k),
spread AS (
	SELECT s.*,
	       pg_catalog.sqrt((s.n::float8 OPERATOR(pg_catalog.*) s.p) OPERATOR(pg_catalog.*) (1 OPERATOR(pg_catalog.-) s.p)) AS sd
	  FROM scored s)
SELECT s.zone_id, s.hour, s.kind,
       s.k AS count, s.n AS base,
       pg_catalog.round(s.k::numeric OPERATOR(pg_catalog./) NULLIF(s.n, 0), 4) AS rate,
       s.bk::bigint AS baseline_count, s.bn::bigint AS baseline_base,
       pg_catalog.round(s.bk::numeric OPERATOR(pg_catalog./) NULLIF(s.bn, 0), 4) AS baseline_rate,
       pg_catalog.round(((s.k::float8 OPERATOR(pg_catalog.-) (s.n::float8 OPERATOR(pg_catalog.*) s.p))
                         OPERATOR(pg_catalog./) NULLIF(s.sd, 0))::numeric, 2) AS z_score,
       (s.k OPERATOR(pg_catalog.>=) 3 AND s.sd OPERATOR(pg_catalog.>) 0
        AND (s.k::float8 OPERATOR(pg_catalog.-) (s.n::float8 OPERATOR(pg_catalog.*) s.p))
            OPERATOR(pg_catalog.>=) (3 OPERATOR(pg_catalog.*) s.sd))
           AS flagged
  FROM spread s;
COMMENT ON VIEW @extschema@.order_anomalies IS
	'Per zone, local hour of the last 7 days and kind of trouble, each counted in the hour of its base event so that the count is a part of its base: payment_failed (of the payments settled in the hour, those failed), cancelled (of the orders created in the hour, those cancelled), rejected (of the offers answered, those rejected), released (of the offers accepted, those released), late (of the deliveries, those after the promise), refunded (of the orders cancelled, those refunded).  The count, its base, the rate, the same over the same hour of the four weeks before, the binomial z-score against that baseline, and flagged when the count is at least 3 and the z-score at least 3.  Counts only.';

REVOKE ALL ON @extschema@.stuck_orders, @extschema@.dispatch_kpis, @extschema@.rider_utilisation,
              @extschema@.order_anomalies FROM PUBLIC;
GRANT SELECT ON @extschema@.stuck_orders, @extschema@.dispatch_kpis, @extschema@.rider_utilisation,
                @extschema@.order_anomalies TO dispatch_analyst, dispatch_admin;

-- BEGIN growth views (sql/90_growth.sql)
CREATE VIEW @extschema@.campaign_performance AS
WITH days AS (
	SELECT d.campaign_id,
	       pg_catalog.sum(d.redemptions) AS redemptions, pg_catalog.sum(d.orders) AS orders,
	       pg_catalog.sum(d.new_customers) AS new_customers, pg_catalog.sum(d.gmv_cents) AS gmv_cents,
	       pg_catalog.sum(d.discount_cents) OPERATOR(pg_catalog.+) pg_catalog.sum(d.reward_cents) AS cost_cents
	  FROM @extschema@.campaign_daily d GROUP BY d.campaign_id),
acquired AS (
	SELECT s.first_campaign_id AS campaign_id,
	       pg_catalog.count(*) AS judged,
	       pg_catalog.count(*) FILTER (WHERE s.second_at OPERATOR(pg_catalog.<=) (s.first_at OPERATOR(pg_catalog.+) interval '30 days')) AS repeated
	  FROM @extschema@.customer_stats s
	 WHERE s.first_campaign_id IS NOT NULL
	   AND s.first_at OPERATOR(pg_catalog.<=) (@extschema@.clock() OPERATOR(pg_catalog.-) interval '30 days')
	 GROUP BY s.first_campaign_id)
SELECT c.campaign_id, c.name AS campaign, c.kind, c.zone_id, c.starts_at, COALESCE(c.ended_at, c.ends_at) AS ends_at,
       c.budget_cents, @extschema@.campaign_budget_left(c.campaign_id) AS budget_left_cents,
       COALESCE(d.redemptions, 0)::bigint AS redemptions,
       COALESCE(d.new_customers, 0)::bigint AS new_customers,
       COALESCE(d.orders, 0)::bigint AS orders,
       COALESCE(d.gmv_cents, 0)::bigint AS gmv_cents,
       COALESCE(d.cost_cents, 0)::bigint AS cost_cents,
       (d.cost_cents OPERATOR(pg_catalog./) NULLIF(d.new_customers, 0))::numeric(14, 2) AS cost_per_acquisition_cents,
       ((d.gmv_cents OPERATOR(pg_catalog.-) d.cost_cents) OPERATOR(pg_catalog./) NULLIF(d.cost_cents, 0))::numeric(12, 3) AS roi,
       a.judged AS acquired_30d_ago,
       (a.repeated::numeric OPERATOR(pg_catalog./) NULLIF(a.judged, 0))::numeric(5, 4) AS repeat_rate_30d
  FROM @extschema@.campaigns c
  LEFT JOIN days d ON d.campaign_id OPERATOR(pg_catalog.=) c.campaign_id
  LEFT JOIN acquired a ON a.campaign_id OPERATOR(pg_catalog.=) c.campaign_id;
COMMENT ON VIEW @extschema@.campaign_performance IS
	'Per campaign, from the rollup: redemptions held, customers acquired (a paid referral counts for its referral campaign, anyone else for the campaign of their first order), orders that count, their GMV, cost (discounts and referral rewards), cost per acquisition, ROI = (GMV - cost) / cost, and the share of customers acquired at least 30 days ago who ordered again within 30 days.';

CREATE VIEW @extschema@.experiment_by_day AS
SELECT x.name AS experiment, d.variant, d.day, d.exposed, d.converted,
       (d.converted::numeric OPERATOR(pg_catalog./) NULLIF(d.exposed, 0))::numeric(5, 4) AS rate
  FROM @extschema@.experiment_daily d
  JOIN @extschema@.experiments x ON x.experiment_id OPERATOR(pg_catalog.=) d.experiment_id
 WHERE d.exposed OPERATOR(pg_catalog.>) 0;
COMMENT ON VIEW @extschema@.experiment_by_day IS
	'From the rollup: per experiment, variant and day of first exposure (UTC), the customers exposed and how many of them have converted so far (experiment_results has the totals and the test against control).';

CREATE VIEW @extschema@.customer_retention AS
WITH cohort AS (
	SELECT s.customer_id,
	       pg_catalog.date_trunc('week', s.first_at AT TIME ZONE z.timezone)::date AS week
	  FROM @extschema@.customer_stats s
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) s.first_zone_id),
back AS (
	SELECT c.week, ((w.week OPERATOR(pg_catalog.-) c.week) OPERATOR(pg_catalog./) 7) AS k, pg_catalog.count(*) AS n
	  FROM cohort c
	  JOIN @extschema@.customer_weeks w ON w.customer_id OPERATOR(pg_catalog.=) c.customer_id
	   AND w.week OPERATOR(pg_catalog.>) c.week AND w.week OPERATOR(pg_catalog.<=) (c.week OPERATOR(pg_catalog.+) 56)
	 GROUP BY 1, 2),
sizes AS (SELECT c.week, pg_catalog.count(*) AS customers FROM cohort c GROUP BY 1)
SELECT s.week AS cohort_week, s.customers,
       (pg_catalog.sum(b.n) FILTER (WHERE b.k OPERATOR(pg_catalog.=) 1)::numeric OPERATOR(pg_catalog./) s.customers)::numeric(5, 4) AS week_1,
       (pg_catalog.sum(b.n) FILTER (WHERE b.k OPERATOR(pg_catalog.=) 2)::numeric OPERATOR(pg_catalog./) s.customers)::numeric(5, 4) AS week_2,
       (pg_catalog.sum(b.n) FILTER (WHERE b.k OPERATOR(pg_catalog.=) 3)::numeric OPERATOR(pg_catalog./) s.customers)::numeric(5, 4) AS week_3,
       (pg_catalog.sum(b.n) FILTER (WHERE b.k OPERATOR(pg_catalog.=) 4)::numeric OPERATOR(pg_catalog./) s.customers)::numeric(5, 4) AS week_4,
       (pg_catalog.sum(b.n) FILTER (WHERE b.k OPERATOR(pg_catalog.=) 5)::numeric OPERATOR(pg_catalog./) s.customers)::numeric(5, 4) AS week_5,
       (pg_catalog.sum(b.n) FILTER (WHERE b.k OPERATOR(pg_catalog.=) 6)::numeric OPERATOR(pg_catalog./) s.customers)::numeric(5, 4) AS week_6,
       (pg_catalog.sum(b.n) FILTER (WHERE b.k OPERATOR(pg_catalog.=) 7)::numeric OPERATOR(pg_catalog./) s.customers)::numeric(5, 4) AS week_7,
       (pg_catalog.sum(b.n) FILTER (WHERE b.k OPERATOR(pg_catalog.=) 8)::numeric OPERATOR(pg_catalog./) s.customers)::numeric(5, 4) AS week_8
  FROM sizes s
  LEFT JOIN back b ON b.week OPERATOR(pg_catalog.=) s.week
 GROUP BY s.week, s.customers;
COMMENT ON VIEW @extschema@.customer_retention IS
	'Cohorts by the local week (Monday) of the first counting order: customers, and for weeks 1 to 8 after it the share who ordered in that week (NULL: nobody, or the week is still to come).';

CREATE VIEW @extschema@.customer_segments AS
WITH rfm AS (
	SELECT s.orders, s.monetary_cents,
	       pg_catalog.date_part('epoch', @extschema@.clock() OPERATOR(pg_catalog.-) s.last_at) OPERATOR(pg_catalog./) 86400 AS recency_days
	  FROM @extschema@.customer_stats s),
seg AS (
	SELECT CASE WHEN r.recency_days OPERATOR(pg_catalog.<=) 14 AND r.orders OPERATOR(pg_catalog.>=) 8 THEN 'champions'
	            WHEN r.recency_days OPERATOR(pg_catalog.<=) 30 AND r.orders OPERATOR(pg_catalog.>=) 4 THEN 'loyal'
	            WHEN r.recency_days OPERATOR(pg_catalog.<=) 30 AND r.orders OPERATOR(pg_catalog.=) 1 THEN 'new'
	            WHEN r.recency_days OPERATOR(pg_catalog.<=) 30 THEN 'promising'
	            WHEN r.recency_days OPERATOR(pg_catalog.<=) 90 AND r.orders OPERATOR(pg_catalog.>=) 4 THEN 'at_risk'
	            WHEN r.recency_days OPERATOR(pg_catalog.<=) 90 THEN 'hibernating'
	            ELSE 'lost' END AS segment,
	       r.*
	  FROM rfm r)
SELECT s.segment,
       pg_catalog.count(*) AS customers,
       (pg_catalog.count(*)::numeric OPERATOR(pg_catalog./) pg_catalog.sum(pg_catalog.count(*)) OVER ())::numeric(5, 4) AS share,
       pg_catalog.avg(s.orders)::numeric(10, 2) AS mean_orders,
       pg_catalog.avg(s.recency_days)::numeric(10, 1) AS mean_recency_days,
       pg_catalog.avg(s.monetary_cents)::numeric(14, 0) AS mean_lifetime_value_cents,
       pg_catalog.sum(s.monetary_cents) AS lifetime_value_cents
  FROM seg s
 GROUP BY s.segment;
COMMENT ON VIEW @extschema@.customer_segments IS
	'Customers by recency-frequency-monetary segment (champions: last order within 14 days and 8 orders or more; loyal: 30 days, 4 or more; new: 30 days, 1; promising: 30 days; at_risk: 90 days, 4 or more; hibernating: 90 days; lost: longer), with counts and lifetime value (money paid).';

CREATE VIEW @extschema@.monthly_review AS
WITH zm AS (
	SELECT d.zone_id, pg_catalog.date_trunc('month', d.day)::date AS month,
	       pg_catalog.sum(d.orders) AS orders, pg_catalog.sum(d.delivered) AS delivered,
	       pg_catalog.sum(d.cancelled) AS cancelled, pg_catalog.sum(d.gmv_cents) AS gmv_cents,
	       pg_catalog.sum(d.discount_cents) AS discount_cents
	  FROM @extschema@.zone_daily d GROUP BY 1, 2),
active AS (
	SELECT f.zone_id, pg_catalog.date_trunc('month', f.day)::date AS month,
	       pg_catalog.count(DISTINCT f.customer_id) AS customers
	  FROM @extschema@.order_facts f WHERE f.counted GROUP BY 1, 2),
camp AS (
	SELECT d.zone_id, pg_catalog.date_trunc('month', d.day)::date AS month,
	       pg_catalog.sum(d.gmv_cents) AS gmv_cents,
	       pg_catalog.sum(d.discount_cents) OPERATOR(pg_catalog.+) pg_catalog.sum(d.reward_cents) AS cost_cents,
	       pg_catalog.sum(d.new_customers) AS new_customers
	  FROM @extschema@.campaign_daily d GROUP BY 1, 2),
fb AS (
	SELECT f.zone_id, pg_catalog.date_trunc('month', f.created_at AT TIME ZONE z.timezone)::date AS month,
	       pg_catalog.count(*) AS reviews, pg_catalog.avg(f.score) AS mean_score,
	       pg_catalog.count(*) FILTER (WHERE f.score OPERATOR(pg_catalog.<) 0)::numeric OPERATOR(pg_catalog./) pg_catalog.count(*) AS share_negative
	  FROM @extschema@.feedback f JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) f.zone_id
	 WHERE f.counted
	 GROUP BY 1, 2),
topics AS (
	SELECT t.zone_id, t.month, pg_catalog.array_agg(t.topic ORDER BY t.n DESC, t.topic) AS top
	  FROM (SELECT f.zone_id, pg_catalog.date_trunc('month', f.created_at AT TIME ZONE z.timezone)::date AS month,
	               u.topic, pg_catalog.count(*) AS n,
	               pg_catalog.row_number() OVER (PARTITION BY f.zone_id, pg_catalog.date_trunc('month', f.created_at AT TIME ZONE z.timezone)
	                                             ORDER BY pg_catalog.count(*) DESC, u.topic) AS rank
	          FROM @extschema@.feedback f JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) f.zone_id
	         CROSS JOIN LATERAL pg_catalog.unnest(f.topics) u(topic)
	         WHERE f.counted
	         GROUP BY f.zone_id, 2, u.topic, pg_catalog.date_trunc('month', f.created_at AT TIME ZONE z.timezone)) t
	 WHERE t.rank OPERATOR(pg_catalog.<=) 3
	 GROUP BY 1, 2),
tickets AS (
	SELECT c.zone_id, pg_catalog.date_trunc('month', c.opened_at AT TIME ZONE z.timezone)::date AS month,
	       pg_catalog.count(*) AS opened,
	       pg_catalog.count(*) FILTER (WHERE c.resolved_at OPERATOR(pg_catalog.<=) c.due_at) AS resolved_in_time,
	       pg_catalog.count(*) FILTER (WHERE c.resolved_at IS NULL AND c.due_at OPERATOR(pg_catalog.<) @extschema@.clock()) AS overdue
	  FROM @extschema@.complaint_tickets c JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) c.zone_id
	 GROUP BY 1, 2),
surveys AS (
	SELECT r.zone_id, r.month,
	       pg_catalog.jsonb_object_agg(k.name, pg_catalog.jsonb_build_object(
	           'answers', r.answers, 'mean_rating', r.mean_rating, 'share_negative', r.share_negative,
	           'top_topics', r.top_topics) ORDER BY k.name) AS by_campaign
	  FROM @extschema@.survey_results r
	  JOIN @extschema@.campaigns k ON k.campaign_id OPERATOR(pg_catalog.=) r.campaign_id
	 WHERE r.kind OPERATOR(pg_catalog.=) 'campaign'
	 GROUP BY 1, 2)
SELECT zm.month, zm.zone_id,
       COALESCE(a.customers, 0) AS active_customers,
       zm.orders, zm.delivered, zm.cancelled, zm.gmv_cents, zm.discount_cents,
       COALESCE(c.new_customers, 0) AS customers_acquired,
       COALESCE(c.cost_cents, 0) AS campaign_cost_cents,
       ((c.gmv_cents OPERATOR(pg_catalog.-) c.cost_cents) OPERATOR(pg_catalog./) NULLIF(c.cost_cents, 0))::numeric(12, 3) AS campaign_roi,
       COALESCE(fb.reviews, 0) AS reviews,
       fb.mean_score::numeric(5, 3) AS mean_sentiment,
       fb.share_negative::numeric(5, 4) AS share_negative,
       COALESCE(t.top, '{}') AS top_complaints,
       COALESCE(tk.opened, 0) AS tickets_opened,
       (tk.resolved_in_time::numeric OPERATOR(pg_catalog./) NULLIF(tk.opened, 0))::numeric(5, 4) AS tickets_resolved_in_24h,
       COALESCE(tk.overdue, 0) AS tickets_overdue,
       COALESCE(sv.by_campaign, '{}') AS campaign_surveys
  FROM zm
  LEFT JOIN active a ON a.zone_id OPERATOR(pg_catalog.=) zm.zone_id AND a.month OPERATOR(pg_catalog.=) zm.month
  LEFT JOIN camp c ON c.zone_id OPERATOR(pg_catalog.=) zm.zone_id AND c.month OPERATOR(pg_catalog.=) zm.month
  LEFT JOIN fb ON fb.zone_id OPERATOR(pg_catalog.=) zm.zone_id AND fb.month OPERATOR(pg_catalog.=) zm.month
  LEFT JOIN topics t ON t.zone_id OPERATOR(pg_catalog.=) zm.zone_id AND t.month OPERATOR(pg_catalog.=) zm.month
  LEFT JOIN tickets tk ON tk.zone_id OPERATOR(pg_catalog.=) zm.zone_id AND tk.month OPERATOR(pg_catalog.=) zm.month
  LEFT JOIN surveys sv ON sv.zone_id OPERATOR(pg_catalog.=) zm.zone_id AND sv.month OPERATOR(pg_catalog.=) zm.month;
COMMENT ON VIEW @extschema@.monthly_review IS
	'The monthly review per local month and zone: active customers, orders that count, delivered, cancelled, GMV, discounts, customers acquired by campaigns, campaign cost and ROI, reviews (one per order, its first: feedback.counted), mean sentiment (combined score), share negative, the three most raised complaint topics, complaint tickets (opened, share resolved within 24 hours, overdue now) and what the surveys of each campaign said (answers, mean rating, share negative, top topics).';
REVOKE ALL ON @extschema@.campaign_performance, @extschema@.experiment_by_day, @extschema@.customer_retention,
              @extschema@.customer_segments, @extschema@.monthly_review FROM PUBLIC;
GRANT SELECT ON @extschema@.campaign_performance, @extschema@.experiment_by_day, @extschema@.customer_retention,
                @extschema@.customer_segments, @extschema@.monthly_review TO dispatch_analyst, dispatch_admin;
-- END growth views

-- the writers' cached base of event numbers (sql/40_events.sql)
CREATE TRIGGER event_base_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_base
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._event_base_changed();
COMMENT ON TRIGGER event_base_changed ON @extschema@.event_base IS
	'Makes every backend read the base of event numbers again once the change commits.';

-- tracking and operations: triggers of sql/60_matching.sql and sql/63_eta.sql, views
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

CREATE TRIGGER order_eta
	BEFORE UPDATE OF status ON @extschema@.orders
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION @extschema@._order_eta_trigger();
COMMENT ON TRIGGER order_eta ON @extschema@.orders IS
	'Refreshes the ETA window at each status change; fires before order_state (name order), which puts the window in the status event.';

-- The fairness of a zone's day without rider ids: the Gini coefficient of
-- the riders' earnings (0: everyone earned the same) over
-- G = (2 * sum(i * x_i)) / (n * sum(x)) - (n + 1) / n with x ascending.
--
-- A day of fewer than five riders shows its count of riders only: with one
-- rider the total is that rider's pay, with a few the percentiles name
-- each one's, and whoever knows who worked that day would read a person's
-- earnings.
CREATE VIEW @extschema@.earnings_fairness AS
SELECT g.zone_id, g.day, g.riders,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.deliveries END AS deliveries,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.total_cents END AS total_cents,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.mean_cents END AS mean_cents,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.p10_cents END AS p10_cents,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.median_cents END AS median_cents,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.p90_cents END AS p90_cents,
       CASE WHEN g.riders OPERATOR(pg_catalog.>=) 5 THEN g.gini END AS gini
  FROM (SELECT f.zone_id, f.day,
               pg_catalog.count(*) AS riders,
               pg_catalog.sum(f.deliveries)::bigint AS deliveries,
               pg_catalog.sum(f.total_cents)::bigint AS total_cents,
               pg_catalog.round(pg_catalog.avg(f.total_cents))::bigint AS mean_cents,
               pg_catalog.percentile_disc(0.1) WITHIN GROUP (ORDER BY f.total_cents) AS p10_cents,
               pg_catalog.percentile_disc(0.5) WITHIN GROUP (ORDER BY f.total_cents) AS median_cents,
               pg_catalog.percentile_disc(0.9) WITHIN GROUP (ORDER BY f.total_cents) AS p90_cents,
               CASE WHEN pg_catalog.sum(f.total_cents) OPERATOR(pg_catalog.>) 0 THEN
                   pg_catalog.round(((2 OPERATOR(pg_catalog.*) pg_catalog.sum(f.rank OPERATOR(pg_catalog.*) f.total_cents))::numeric
                                     OPERATOR(pg_catalog./) (pg_catalog.count(*) OPERATOR(pg_catalog.*) pg_catalog.sum(f.total_cents)))
                                    OPERATOR(pg_catalog.-) ((pg_catalog.count(*) OPERATOR(pg_catalog.+) 1)::numeric
                                                            OPERATOR(pg_catalog./) pg_catalog.count(*)), 4)
               END AS gini
          FROM (SELECT e.zone_id, e.day, e.deliveries, e.total_cents,
                       pg_catalog.row_number() OVER (PARTITION BY e.zone_id, e.day ORDER BY e.total_cents) AS rank
                  FROM @extschema@.rider_earnings e) f
         GROUP BY f.zone_id, f.day) g;
COMMENT ON VIEW @extschema@.earnings_fairness IS
	'Per zone and day: riders paid, deliveries, total and percentiles of a rider''s earnings, and their Gini coefficient (0: equal, towards 1: one rider earned everything).  No rider ids, and a day of fewer than five riders shows only their count: for analysts.';
REVOKE ALL ON @extschema@.earnings_fairness FROM PUBLIC;
GRANT SELECT ON @extschema@.earnings_fairness TO dispatch_analyst, dispatch_admin;

-- Coverage and width per zone, hour (zone time, of the prediction) and
-- status at prediction, over delivered orders.
CREATE VIEW @extschema@.eta_accuracy AS
SELECT p.zone_id,
       pg_catalog.date_trunc('hour', p.predicted_at AT TIME ZONE z.timezone) AS hour,
       p.stage,
       pg_catalog.count(*) AS deliveries,
       (pg_catalog.count(*) FILTER (WHERE o.delivered_at OPERATOR(pg_catalog.>=) p.earliest
                                      AND o.delivered_at OPERATOR(pg_catalog.<=) p.latest)::numeric
        OPERATOR(pg_catalog./) pg_catalog.count(*))::numeric(5, 4) AS coverage,
       pg_catalog.round((pg_catalog.avg(pg_catalog.date_part('epoch', p.latest OPERATOR(pg_catalog.-) p.earliest))
                         OPERATOR(pg_catalog./) 60)::numeric, 2) AS mean_width_minutes,
       pg_catalog.round((pg_catalog.avg(pg_catalog.abs(pg_catalog.date_part('epoch', o.delivered_at OPERATOR(pg_catalog.-) p.expected_at)))
                         OPERATOR(pg_catalog./) 60)::numeric, 2) AS mean_abs_error_minutes
  FROM @extschema@.eta_predictions p
  JOIN @extschema@.orders o ON o.zone_id OPERATOR(pg_catalog.=) p.zone_id
                           AND o.order_id OPERATOR(pg_catalog.=) p.order_id
  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) p.zone_id
 WHERE o.status OPERATOR(pg_catalog.=) 'delivered'
 GROUP BY p.zone_id, pg_catalog.date_trunc('hour', p.predicted_at AT TIME ZONE z.timezone), p.stage;
COMMENT ON VIEW @extschema@.eta_accuracy IS
	'Per zone, hour (zone time, of the prediction) and status at prediction: delivered orders, the share delivered inside their window, its mean width and the mean error of the expected time, in minutes.  No personal data.';
REVOKE ALL ON @extschema@.eta_accuracy FROM PUBLIC;
GRANT SELECT ON @extschema@.eta_accuracy TO dispatch_analyst, dispatch_admin;

-- demand (sql/68_demand.sql)
CREATE VIEW @extschema@.demand_heatmap AS
SELECT o.zone_id, c.i, c.j,
       @extschema@._hour_of_week(o.created_at, z.timezone) AS hour_of_week,
       pg_catalog.count(*) AS orders,
       pg_catalog.count(DISTINCT pg_catalog.date_trunc('week', o.created_at AT TIME ZONE z.timezone)) AS weeks_with_orders,
       @extschema@._hexagon(s.size, c.i, c.j) AS cell
  FROM @extschema@.zones z
 CROSS JOIN LATERAL (SELECT @extschema@._cell_size(z.area) AS size) s
  JOIN @extschema@.orders o ON o.zone_id OPERATOR(pg_catalog.=) z.zone_id
 CROSS JOIN LATERAL @extschema@._hex_cell(o.dropoff, s.size) c
 WHERE o.placed_at IS NOT NULL
 GROUP BY o.zone_id, c.i, c.j, @extschema@._hour_of_week(o.created_at, z.timezone), s.size;
COMMENT ON VIEW @extschema@.demand_heatmap IS
	'Paid orders per zone, hexagon cell of their drop-off (i, j, and its polygon) and hour of the week they were placed (0 = Monday 00:00, zone time), with the number of weeks that had any.  Counts only.';
REVOKE ALL ON @extschema@.demand_heatmap FROM PUBLIC;
GRANT SELECT ON @extschema@.demand_heatmap TO dispatch_analyst, dispatch_admin;

-- fraud signals (sql/47_fraud.sql)
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

-- the requests of data subjects, for the DPO (sql/80_privacy.sql)
CREATE VIEW @extschema@.privacy_request_sla AS
SELECT r.request_id, r.kind, r.state, r.requested_at AS received_at, r.due_at, r.completed_at, r.handled_by,
       CASE WHEN r.state IN ('received', 'waiting')
            THEN pg_catalog.ceil(pg_catalog.date_part('epoch', r.due_at OPERATOR(pg_catalog.-) @extschema@.clock())
                                 OPERATOR(pg_catalog./) 86400)::integer END AS days_left,
       COALESCE(r.completed_at, @extschema@.clock()) OPERATOR(pg_catalog.>) r.due_at AS late
  FROM @extschema@.privacy_requests r
 WHERE r.kind IN ('access', 'erasure', 'rectification', 'objection');
COMMENT ON VIEW @extschema@.privacy_request_sla IS
	'For the DPO: every request of a data subject, its state, when received and due, days left while open, and whether it was (or is) late.  No personal data (the customer is not named).';
REVOKE ALL ON @extschema@.privacy_request_sla FROM PUBLIC;
GRANT SELECT ON @extschema@.privacy_request_sla TO dispatch_admin;

-- the inventory of personal data in column comments (sql/95_personal_data.sql)
COMMENT ON COLUMN @extschema@.customers.phone_enc IS
	'Personal data of the customer: phone number (E.164). Purpose: contact about orders, login, fraud checks; basis: contract; kept: until erasure (forget_customer); read by: the customer (export), the assigned rider masked (order_contact), dispatch_admin through the API; protection: sealed with pgcrypto (AES-256, OpenPGP) under the customer''s data key, shredded on erasure.';
COMMENT ON COLUMN @extschema@.customers.name_enc IS
	'Personal data of the customer: name. Purpose: addressing the customer and the delivery; basis: contract; kept: until erasure (forget_customer); read by: the customer (export), dispatch_admin through the API; protection: sealed under the customer''s data key, shredded on erasure.';
COMMENT ON COLUMN @extschema@.customers.phone_index IS
	'Personal data of the customer: blind index of the phone number. Purpose: finding a customer by phone and refusing duplicates without decrypting; basis: contract; kept: until erasure (set NULL); read by: the API only (never returned); protection: HMAC-SHA-256 under the index key of the key file (rotate_index_key).';
COMMENT ON COLUMN @extschema@.customers.flag_reason IS
	'Personal data of the customer: why the customer is flagged for fraud (dispatcher''s text). Purpose: fraud prevention; basis: legitimate_interests; kept: until the flag is lifted or erasure; read by: dispatch_admin (fraud_signals), the customer (export); protection: not sealed, cleared on erasure; no analyst view shows it.';
COMMENT ON COLUMN @extschema@.customer_flags.reason IS
	'Personal data of the customer: the history of fraud flags'' reasons. Purpose: fraud prevention and its accountability; basis: legitimate_interests; kept: with the flag history, the reasons cleared on erasure; read by: dispatch_admin, the customer (export); protection: not sealed; ids only elsewhere.';
COMMENT ON COLUMN @extschema@.offer_exclusions.detail IS
	'Personal data of the rider: the words the rider gave releasing an order (release_order; free text, at most 200 characters). Purpose: dispatch quality and disputes about released orders; basis: contract; kept: with the exclusion, cleared on erasure (forget_rider); read by: the rider (export_rider), dispatch_admin; analysts never; protection: not sealed; no event carries it.';
COMMENT ON COLUMN @extschema@.offers.reason IS
	'Personal data of the rider: the words the rider gave answering an offer, accepting or rejecting it (respond_offer, an offer item of sync_rider; free text, at most 200 characters), and for an offer cancelled by the system its reason. Purpose: dispatch quality and disputes about offers; basis: contract; kept: with the offer, cleared on erasure (forget_rider) whatever the offer''s status; read by: the rider (export_rider), dispatch_admin; analysts never; protection: not sealed; no event carries it.';
COMMENT ON COLUMN @extschema@.orders.cancel_reason IS
	'Personal data of the customer: why the order was cancelled, as the app gave it (it may be the customer''s own words). Purpose: handling the cancellation, its refund and disputes; basis: contract; kept: 30 days after the order ends (retention order_text), cleared on erasure; read by: dispatch_admin, the customer (export); protection: not sealed; no analyst view shows it.';
COMMENT ON COLUMN @extschema@.refunds.reason IS
	'Personal data of the customer: why the money is paid back (the order''s cancel reason). Purpose: the refund and its accountability; basis: contract; kept: as the order''s cancel reason, then the word expired (retention order_text) or erased (erasure); read by: dispatch_admin, the customer (export); protection: not sealed, never in an event; no analyst view shows it.';
COMMENT ON COLUMN @extschema@.refunds.failure_reason IS
	'Personal data of the customer: why a refund failed, as the payment service reported it. Purpose: paying the refund again (retry_refund); basis: contract; kept: until the refund is tried again or erasure; read by: dispatch_admin, the customer (export); protection: not sealed; no analyst view shows it.';
COMMENT ON COLUMN @extschema@.payments.failure_reason IS
	'Personal data of the customer: why a payment failed, as the app or the payment service reported it (it may name the card or bank). Purpose: the retry of the payment and support; basis: contract; kept: until erasure; read by: dispatch_admin, the customer (export); protection: not sealed; no analyst view shows it.';
COMMENT ON COLUMN @extschema@.orders.dropoff_address_enc IS
	'Personal data of the customer: drop-off address. Purpose: delivery; basis: contract; kept: 30 days after the order ends (retention order_text), then erased; read by: the assigned rider until delivery (order_contact), the customer (export); protection: sealed under the customer''s data key.';
COMMENT ON COLUMN @extschema@.orders.description_enc IS
	'Personal data of the customer: an errand''s description. Purpose: running the errand; basis: contract; kept: 30 days after the order ends (retention order_text); read by: the customer (export), dispatch_admin through the API; protection: sealed under the customer''s data key.';
COMMENT ON COLUMN @extschema@.orders.dropoff IS
	'Personal data of the customer: drop-off point. Purpose: matching, routing and ETA; basis: contract; kept: exact for 30 days after the order ends, then coarsened to a grid cell (retention dropoff_point); read by: matching (C), the customer (export), analysts only as counts per hexagon cell (demand_heatmap); protection: not sealed (matching needs it), coarsened by retention and on erasure.';
COMMENT ON COLUMN @extschema@.orders.pickup IS
	'Personal data of the customer: pickup point (a merchant''s location for takeaway; for an errand, a place the customer names). Purpose: matching and routing; basis: contract; kept: with the order; read by: matching, the rider, the customer (export); protection: not sealed (matching needs it).';
COMMENT ON COLUMN @extschema@.feedback.comment_enc IS
	'Personal data of the customer: the text of feedback. Purpose: service quality and complaint handling (scored in C, topics); basis: legitimate_interests; kept: 30 days (retention feedback_text), then erased, the scores kept; read by: support through the API, the customer (export); analysts see scores and topics only; protection: sealed under the customer''s data key.';
COMMENT ON COLUMN @extschema@.survey_answers.comment_enc IS
	'Personal data of the customer: the text of a survey answer. Purpose: service quality; basis: consent; kept: 30 days (retention feedback_text); read by: the customer (export), support through the API; protection: sealed under the customer''s data key.';
COMMENT ON COLUMN @extschema@.riders.name_enc IS
	'Personal data of the rider: name. Purpose: running the fleet; basis: contract; kept: until erasure (forget_rider); read by: the rider (export_rider), dispatch_admin through the API; protection: sealed under the rider''s data key, shredded on erasure.';
COMMENT ON COLUMN @extschema@.riders.phone_enc IS
	'Personal data of the rider: phone number. Purpose: contact during shifts; basis: contract; kept: until erasure (forget_rider); read by: the rider (export_rider), dispatch_admin through the API; protection: sealed under the rider''s data key, shredded on erasure.';
COMMENT ON COLUMN @extschema@.riders.phone_index IS
	'Personal data of the rider: blind index of the phone number. Purpose: refusing a phone another rider has (update_rider); basis: contract; kept: until erasure (set NULL); read by: the API only; protection: HMAC-SHA-256 under the index key (rotate_index_key); NULL for riders registered before 0.2.0 until their phone is set again.';
COMMENT ON COLUMN @extschema@.riders.position IS
	'Personal data of the rider: last known position. Purpose: matching; basis: contract; kept: replaced by every ping, cleared on erasure; read by: matching (C), dispatch_admin; analysts never; protection: not sealed (matching needs it).';
COMMENT ON COLUMN @extschema@.riders.free_position IS
	'Personal data of the rider: where the rider expects to be done with the orders it holds (update_rider_plan, update_rider_plan_in_zone). Purpose: matching the next order; basis: contract; kept: until the rider holds no orders (after a delivery before the plan''s end: until that end), cleared on erasure; read by: matching (C), the rider (export_rider), dispatch_admin; analysts never; protection: not sealed (matching needs it).';
COMMENT ON COLUMN @extschema@.riders.plan_pickup_position IS
	'Personal data of the rider: the next pickup of its plan (update_rider_plan, update_rider_plan_in_zone). Purpose: letting orders of that pickup join the trip; basis: contract; kept: until the rider holds no orders or sends a plan without it, cleared on erasure; read by: matching (C), the rider (export_rider), dispatch_admin; analysts never; protection: not sealed (matching needs it).';
COMMENT ON COLUMN @extschema@.rider_tracks.position IS
	'Personal data of the rider: the track of positions. Purpose: ETA learning, disputes, pay for distance; basis: legitimate_interests; kept: 30 days (retention rider_tracks), deleted on erasure; read by: the rider (export_rider), dispatch_admin; analysts only as learned speeds; protection: not sealed, deleted by retention.';

-- each analyst view with a zone_id column gets its <view>_in_zone(zone_id),
-- over the views as created above (sql/97_distribute.sql)
SELECT @extschema@._analyst_zone_function(v) FROM @extschema@._analyst_zone_views() v;
-- and each analyst view with a period column its <view>_between(since,
-- until[, zone_id]) (sql/97_distribute.sql)
SELECT @extschema@._analyst_span_function(s.view_name) FROM @extschema@._analyst_span_views() s;

-- The maintenance jobs 0.2.0 adds to maintenance_jobs (part 1:
-- dispatch-budgets, -growth, -recommend, -eta, -refusals, -privacy) are
-- scheduled here if the install had scheduled those of 0.1.0 in this
-- database, as schedule_maintenance() of section 2 schedules them (by name,
-- as the user that runs it: pg_cron keys a job by name and user).  Jobs
-- scheduled by another user are that user's to extend, and jobs scheduled
-- from the cron database elsewhere (maintenance_commands()) cannot be seen
-- from here: a WARNING says what to run.
DO $$
DECLARE
	v_owners text;
	v_cron_db text := @extschema@._cron_database();
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'pg_cron') THEN
		IF v_cron_db IS NOT NULL AND v_cron_db OPERATOR(pg_catalog.<>) pg_catalog.current_database() THEN
			RAISE WARNING 'dispatch 0.2.0 has maintenance jobs that 0.1.0 had not'
				USING DETAIL = pg_catalog.format('pg_cron lives in database %s, where this update cannot see whether the jobs of database %s were scheduled.',
				                                 v_cron_db, pg_catalog.current_database()),
				      HINT = pg_catalog.format('If they were, schedule them all again: psql -d %s -Atc ''SELECT * FROM @extschema@.maintenance_commands()'' | psql -d %s',
				                               pg_catalog.current_database(), v_cron_db);
		END IF;
		RETURN;
	END IF;
	SELECT pg_catalog.string_agg(DISTINCT pg_catalog.quote_ident(o.username), ', ') INTO v_owners
	  FROM @extschema@._maintenance_job_owners() o;
	IF v_owners IS NULL THEN
		-- never scheduled here: nothing to extend
		RETURN;
	END IF;
	IF v_owners OPERATOR(pg_catalog.=) pg_catalog.quote_ident(CURRENT_USER::text) THEN
		PERFORM @extschema@.schedule_maintenance();
	ELSE
		RAISE WARNING 'dispatch 0.2.0 has maintenance jobs that 0.1.0 had not, and the jobs of this database are scheduled by %', v_owners
			USING HINT = pg_catalog.format('Run SELECT * FROM @extschema@.schedule_maintenance(); as %s.', v_owners);
	END IF;
END
$$;

-- the riders' positions are recorded on shift only (DP029): their comments
-- in the inventory of personal data (sql/95_personal_data.sql)
COMMENT ON COLUMN @extschema@.riders.position IS
	'Personal data of the rider: last known position, recorded on shift only (rider_online gives where the shift starts, pings move it; a ping of an offline rider, live or synced, is refused: DP029). Purpose: matching; basis: contract; kept: replaced by every ping, cleared on erasure; read by: matching (C), dispatch_admin; analysts never; protection: not sealed (matching needs it).';
COMMENT ON COLUMN @extschema@.rider_tracks.position IS
	'Personal data of the rider: the track of positions, pinged on shift only (a ping of an offline rider, live or synced, is refused: DP029). Purpose: ETA learning, disputes, pay for distance; basis: legitimate_interests; kept: 30 days (retention rider_tracks), deleted on erasure; read by: the rider (export_rider), dispatch_admin; analysts only as learned speeds; protection: not sealed, deleted by retention.';

-- Payment attempts are numbered (orders.payment_attempt, sql/20_schema.sql):
-- the order_status events of pending_payment and payment_failed carry the
-- number, and fail_payment's attempt names it.  An existing order is at the
-- attempt of its last payment row (one row per attempt), at least 1.
ALTER TABLE @extschema@.orders ADD COLUMN payment_attempt integer NOT NULL DEFAULT 1;
-- fail_payment takes the attempt its report is of (above): the form without it goes
DROP FUNCTION @extschema@.fail_payment(bigint, text);
UPDATE @extschema@.orders o
   SET payment_attempt = n.attempts
  FROM (SELECT p.zone_id, p.order_id, pg_catalog.count(*)::integer AS attempts
          FROM @extschema@.payments p
         GROUP BY p.zone_id, p.order_id) n
 WHERE o.zone_id OPERATOR(pg_catalog.=) n.zone_id
   AND o.order_id OPERATOR(pg_catalog.=) n.order_id
   AND n.attempts OPERATOR(pg_catalog.>) 1;
COMMENT ON COLUMN @extschema@.orders.payment_attempt IS
	'The number of the order''s current payment attempt: 1 for a new order, one more each time a failed payment is retried (payment_failed -> pending_payment, retry_payment), stamped by the state machine; the order_status events of pending_payment and payment_failed carry it as "attempt", and fail_payment''s attempt names it (docs/api.md, "Payment attempts").';

-- a ping the app cached on shift and synced after rider_offline is kept in
-- the track (sql/67_sync.sql): its comment in the inventory of personal data
COMMENT ON COLUMN @extschema@.rider_tracks.position IS
	'Personal data of the rider: the track of positions, pinged on shift only (a ping made off shift, live or synced, is refused: DP029; one the app cached on shift and synced after rider_offline is kept). Purpose: ETA learning, disputes, pay for distance; basis: legitimate_interests; kept: 30 days (retention rider_tracks), deleted on erasure; read by: the rider (export_rider), dispatch_admin; analysts only as learned speeds; protection: not sealed, deleted by retention.';

-- a provider's reference names one charge: it pays one order of a zone
-- (confirm_payment, DP030; sql/20_schema.sql).  Fails if two orders of a
-- zone were paid with one reference before: those are to be looked into
-- (and one refunded) before the update.
CREATE UNIQUE INDEX payments_provider_ref_idx ON @extschema@.payments (zone_id, provider_ref)
	WHERE status = 'succeeded';

-- a refund per payment, not per order: a success reported after the
-- order's payment failed is refunded, and the order may be paid and
-- cancelled after (confirm_payment, sql/62_refunds.sql); the views that
-- read refunds count an order once and take what it keeps
ALTER TABLE @extschema@.refunds DROP CONSTRAINT refunds_zone_id_order_id_key,
	ADD CONSTRAINT refunds_zone_id_payment_id_key UNIQUE (zone_id, payment_id);
COMMENT ON TABLE @extschema@.refunds IS
	'Refunds of payments an order does not keep (the order cancelled, or the payment reported after its order''s payment failed): one per payment, of what it took; pending until the payment service settles it (settle_refund).  attempt numbers the current attempt to pay it back (1, then one more for each retry_refund); status, provider_ref and failure_reason are that attempt''s.  The id carries the zone.';
CREATE OR REPLACE VIEW @extschema@.refund_reconciliation AS
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
  LEFT JOIN LATERAL (SELECT pg_catalog.sum(x.amount_cents) AS paid FROM @extschema@.payments x
                      WHERE x.zone_id OPERATOR(pg_catalog.=) o.zone_id AND x.order_id OPERATOR(pg_catalog.=) o.order_id
                        AND x.status OPERATOR(pg_catalog.=) 'succeeded') p ON true
  LEFT JOIN LATERAL (SELECT pg_catalog.sum(y.amount_cents) FILTER (WHERE y.status OPERATOR(pg_catalog.<>) 'failed') AS refunded,
                            pg_catalog.string_agg(y.status, ',') AS states
                       FROM @extschema@.refunds y
                      WHERE y.zone_id OPERATOR(pg_catalog.=) o.zone_id AND y.order_id OPERATOR(pg_catalog.=) o.order_id) r ON true
 WHERE p.paid IS NOT NULL OR r.refunded IS NOT NULL;
COMMENT ON VIEW @extschema@.refund_reconciliation IS
	'Paid or refunded orders: what was paid, what is refunded (pending and succeeded refunds), the refund status, and problem: NULL when the money adds up (a cancelled paid order is refunded in full; an order not cancelled keeps its total once paid, nothing while it waits for its payment, the rest refunded), else what is wrong.  No personal data.';
CREATE OR REPLACE VIEW @extschema@.order_anomalies AS
WITH span AS (
	SELECT @extschema@.clock() OPERATOR(pg_catalog.-) interval '36 days' AS since),
facts AS (
	SELECT o.zone_id, o.created_at AS at, 'orders' AS what FROM @extschema@.orders o, span
	 WHERE o.created_at OPERATOR(pg_catalog.>=) span.since
	UNION ALL
	SELECT o.zone_id, o.created_at, 'cancelled' FROM @extschema@.orders o, span
	 WHERE o.created_at OPERATOR(pg_catalog.>=) span.since AND o.cancelled_at IS NOT NULL
	UNION ALL
	SELECT o.zone_id, o.cancelled_at, 'cancellations' FROM @extschema@.orders o, span
	 WHERE o.cancelled_at OPERATOR(pg_catalog.>=) span.since
	UNION ALL
	SELECT o.zone_id, o.delivered_at, CASE WHEN o.delivered_at OPERATOR(pg_catalog.>) o.promised_at THEN 'late' ELSE 'on_time' END
	  FROM @extschema@.orders o, span
	 WHERE o.delivered_at OPERATOR(pg_catalog.>=) span.since
	UNION ALL
	SELECT p.zone_id, p.settled_at, CASE WHEN p.status OPERATOR(pg_catalog.=) 'failed' THEN 'payment_failed' ELSE 'payment_ok' END
	  FROM @extschema@.payments p, span
	 WHERE p.settled_at OPERATOR(pg_catalog.>=) span.since AND p.status IN ('failed', 'succeeded')
	UNION ALL
	SELECT f.zone_id, f.responded_at, CASE WHEN f.status OPERATOR(pg_catalog.=) 'rejected' THEN 'rejected' ELSE 'accepted' END
	  FROM @extschema@.offers f, span
	 WHERE f.responded_at OPERATOR(pg_catalog.>=) span.since AND f.status IN ('accepted', 'rejected', 'released')
	UNION ALL
	SELECT f.zone_id, f.responded_at, 'released'
	  FROM @extschema@.offers f
	  JOIN @extschema@.offer_exclusions x ON x.zone_id OPERATOR(pg_catalog.=) f.zone_id
	                                     AND x.order_id OPERATOR(pg_catalog.=) f.order_id
	                                     AND x.rider_id OPERATOR(pg_catalog.=) f.rider_id, span
	 WHERE f.responded_at OPERATOR(pg_catalog.>=) span.since AND f.status OPERATOR(pg_catalog.=) 'released'
	   AND x.reason OPERATOR(pg_catalog.=) 'released'
	UNION ALL
	-- an order once, however many of its payments were refunded
	SELECT o.zone_id, o.cancelled_at, 'refunded'
	  FROM @extschema@.orders o
	  JOIN (SELECT r.zone_id, r.order_id FROM @extschema@.refunds r GROUP BY r.zone_id, r.order_id) r
	    ON r.zone_id OPERATOR(pg_catalog.=) o.zone_id AND r.order_id OPERATOR(pg_catalog.=) o.order_id, span
	 WHERE o.cancelled_at OPERATOR(pg_catalog.>=) span.since),
hourly AS (
	SELECT f.zone_id, pg_catalog.date_trunc('hour', f.at AT TIME ZONE z.timezone) AS hour,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'orders') AS orders,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'payment_failed') AS payment_failed,
	       pg_catalog.count(*) FILTER (WHERE f.what IN ('payment_failed', 'payment_ok')) AS payments,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'cancelled') AS cancelled,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'cancellations') AS cancellations,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'rejected') AS rejected,
	       pg_catalog.count(*) FILTER (WHERE f.what IN ('rejected', 'accepted')) AS answered,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'released') AS released,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'accepted') AS accepted,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'late') AS late,
	       pg_catalog.count(*) FILTER (WHERE f.what IN ('late', 'on_time')) AS delivered,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'refunded') AS refunded
	  FROM facts f
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) f.zone_id
	 GROUP BY f.zone_id, pg_catalog.date_trunc('hour', f.at AT TIME ZONE z.timezone)),
kinds AS (
	SELECT c.zone_id, c.hour, k.kind, k.k, k.n, b.bk, b.bn
	  FROM hourly c
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) c.zone_id
	 CROSS JOIN LATERAL (VALUES ('payment_failed', c.payment_failed, c.payments),
	                            ('cancelled', c.cancelled, c.orders),
	                            ('rejected', c.rejected, c.answered),
	                            ('released', c.released, c.accepted),
	                            ('late', c.late, c.delivered),
	                            ('refunded', c.refunded, c.cancellations)) k(kind, k, n)
	 CROSS JOIN LATERAL (
	       SELECT COALESCE(pg_catalog.sum(CASE k.kind WHEN 'payment_failed' THEN h.payment_failed WHEN 'cancelled' THEN h.cancelled
	                                               WHEN 'rejected' THEN h.rejected WHEN 'released' THEN h.released
	                                               WHEN 'late' THEN h.late ELSE h.refunded END), 0) AS bk,
	              COALESCE(pg_catalog.sum(CASE k.kind WHEN 'payment_failed' THEN h.payments WHEN 'cancelled' THEN h.orders
	                                               WHEN 'rejected' THEN h.answered WHEN 'released' THEN h.accepted
	                                               WHEN 'late' THEN h.delivered ELSE h.cancellations END), 0) AS bn
	         FROM hourly h
	        WHERE h.zone_id OPERATOR(pg_catalog.=) c.zone_id
	          AND h.hour IN (c.hour OPERATOR(pg_catalog.-) interval '7 days', c.hour OPERATOR(pg_catalog.-) interval '14 days',
	                         c.hour OPERATOR(pg_catalog.-) interval '21 days', c.hour OPERATOR(pg_catalog.-) interval '28 days')) b
	 WHERE c.hour OPERATOR(pg_catalog.>=) pg_catalog.date_trunc('hour', (@extschema@.clock() AT TIME ZONE z.timezone)
	                                                              OPERATOR(pg_catalog.-) interval '7 days')),
scored AS (
	SELECT k.zone_id, k.hour, k.kind, k.k, k.n, k.bk, k.bn,
	       LEAST(k.bk OPERATOR(pg_catalog.+) 1, k.bn OPERATOR(pg_catalog.+) 1)::float8
	       OPERATOR(pg_catalog./) (k.bn OPERATOR(pg_catalog.+) 2)::float8 AS p
	  FROM kinds k),
spread AS (
	SELECT s.*,
	       pg_catalog.sqrt((s.n::float8 OPERATOR(pg_catalog.*) s.p) OPERATOR(pg_catalog.*) (1 OPERATOR(pg_catalog.-) s.p)) AS sd
	  FROM scored s)
SELECT s.zone_id, s.hour, s.kind,
       s.k AS count, s.n AS base,
       pg_catalog.round(s.k::numeric OPERATOR(pg_catalog./) NULLIF(s.n, 0), 4) AS rate,
       s.bk::bigint AS baseline_count, s.bn::bigint AS baseline_base,
       pg_catalog.round(s.bk::numeric OPERATOR(pg_catalog./) NULLIF(s.bn, 0), 4) AS baseline_rate,
       pg_catalog.round(((s.k::float8 OPERATOR(pg_catalog.-) (s.n::float8 OPERATOR(pg_catalog.*) s.p))
                         OPERATOR(pg_catalog./) NULLIF(s.sd, 0))::numeric, 2) AS z_score,
       (s.k OPERATOR(pg_catalog.>=) 3 AND s.sd OPERATOR(pg_catalog.>) 0
        AND (s.k::float8 OPERATOR(pg_catalog.-) (s.n::float8 OPERATOR(pg_catalog.*) s.p))
            OPERATOR(pg_catalog.>=) (3 OPERATOR(pg_catalog.*) s.sd))
           AS flagged
  FROM spread s;
COMMENT ON TABLE @extschema@.payments IS
	'Payment attempts of orders, and the successes reported for an order that could not take them (cancelled, or failed and not retried), recorded to be refunded; one attempt at a time is pending, and a provider reference pays one order of a zone.';

-- An erased customer's experiment exposures become counts without ids
-- (experiment_erased, sql/86_experiments.sql; forget_customer), which the
-- analyst views add to the live exposures
CREATE TABLE @extschema@.experiment_erased (
	experiment_id  bigint NOT NULL,
	variant        text NOT NULL,
	day            date NOT NULL,
	exposed        integer NOT NULL CHECK (exposed >= 0),
	converted      integer NOT NULL CHECK (converted BETWEEN 0 AND exposed),
	PRIMARY KEY (experiment_id, variant, day),
	FOREIGN KEY (experiment_id, variant) REFERENCES @extschema@.experiment_variants (experiment_id, name)
);
COMMENT ON TABLE @extschema@.experiment_erased IS
	'The exposures of erased customers, as counts without ids: per experiment, variant and day of first exposure (UTC), how many and how many of them converted, as experiment_results counted them at the erasure.  experiment_results and experiment_by_day add them to the live exposures.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.experiment_erased', '');
REVOKE ALL ON @extschema@.experiment_erased FROM PUBLIC;
CREATE OR REPLACE VIEW @extschema@.experiment_results AS
WITH converted AS (
	-- the exposures followed by an order placed within the window and not
	-- cancelled, in any zone: a join, not a subquery per exposure, which
	-- Citus cannot correlate with the orders of every shard
	SELECT DISTINCT e.experiment_id, e.customer_id
	  FROM @extschema@.experiment_exposures e
	  JOIN @extschema@.experiments x ON x.experiment_id OPERATOR(pg_catalog.=) e.experiment_id
	  JOIN @extschema@.zones z ON true
	  JOIN @extschema@.orders o
	    ON o.zone_id OPERATOR(pg_catalog.=) z.zone_id
	   AND o.customer_id OPERATOR(pg_catalog.=) e.customer_id
	   AND o.created_at OPERATOR(pg_catalog.<) (e.exposed_at OPERATOR(pg_catalog.+) x.conversion_window)
	   AND o.placed_at OPERATOR(pg_catalog.>=) e.exposed_at
	   AND o.placed_at OPERATOR(pg_catalog.<) (e.exposed_at OPERATOR(pg_catalog.+) x.conversion_window)
	   AND o.status OPERATOR(pg_catalog.<>) 'cancelled'
), counts AS (
	-- the live exposures, and those of erased customers (counts only)
	SELECT n.experiment_id, n.variant,
	       pg_catalog.sum(n.exposed)::bigint AS exposed, pg_catalog.sum(n.converted)::bigint AS converted
	  FROM (SELECT e.experiment_id, e.variant,
	               pg_catalog.count(*) AS exposed,
	               pg_catalog.count(c.customer_id) AS converted
	          FROM @extschema@.experiment_exposures e
	          LEFT JOIN converted c
	            ON c.experiment_id OPERATOR(pg_catalog.=) e.experiment_id AND c.customer_id OPERATOR(pg_catalog.=) e.customer_id
	         GROUP BY e.experiment_id, e.variant
	        UNION ALL
	        SELECT r.experiment_id, r.variant, r.exposed, r.converted
	          FROM @extschema@.experiment_erased r) n
	 GROUP BY n.experiment_id, n.variant
), variants AS (
	SELECT x.experiment_id, x.name AS experiment, x.created_at, x.ended_at,
	       v.position, v.name AS variant, v.weight,
	       COALESCE(c.exposed, 0) AS exposed, COALESCE(c.converted, 0) AS converted
	  FROM @extschema@.experiments x
	  JOIN @extschema@.experiment_variants v ON v.experiment_id OPERATOR(pg_catalog.=) x.experiment_id
	  LEFT JOIN counts c ON c.experiment_id OPERATOR(pg_catalog.=) v.experiment_id
	                    AND c.variant OPERATOR(pg_catalog.=) v.name
), compared AS (
	SELECT v.*, k.exposed AS control_exposed, k.converted AS control_converted,
	       v.converted::float8 OPERATOR(pg_catalog./) NULLIF(v.exposed, 0) AS rate,
	       k.converted::float8 OPERATOR(pg_catalog./) NULLIF(k.exposed, 0) AS control_rate,
	       (v.converted OPERATOR(pg_catalog.+) k.converted)::float8
	           OPERATOR(pg_catalog./) NULLIF(v.exposed OPERATOR(pg_catalog.+) k.exposed, 0) AS pooled
	  FROM variants v
	  JOIN variants k ON k.experiment_id OPERATOR(pg_catalog.=) v.experiment_id
	                 AND k.variant OPERATOR(pg_catalog.=) 'control'
)
SELECT c.experiment, c.variant, c.position, c.weight, c.created_at AS started_at, c.ended_at,
       c.exposed, c.converted, c.rate,
       CASE WHEN c.variant OPERATOR(pg_catalog.<>) 'control'
            THEN c.rate OPERATOR(pg_catalog.-) c.control_rate END AS abs_lift,
       CASE WHEN c.variant OPERATOR(pg_catalog.<>) 'control'
            THEN (c.rate OPERATOR(pg_catalog.-) c.control_rate) OPERATOR(pg_catalog./) NULLIF(c.control_rate, 0) END AS rel_lift,
       CASE WHEN c.variant OPERATOR(pg_catalog.<>) 'control'
            THEN @extschema@.two_proportion_p(c.converted, c.exposed, c.control_converted, c.control_exposed) END AS p_value,
       -- the normal approximation needs at least 100 exposures in both
       -- groups and 5 expected conversions and non-conversions in each
       -- (pooled rate); the control row is judged against itself
       (c.exposed OPERATOR(pg_catalog.<) 100 OR c.control_exposed OPERATOR(pg_catalog.<) 100
        OR c.pooled IS NULL
        OR LEAST(c.exposed, c.control_exposed) OPERATOR(pg_catalog.*) c.pooled OPERATOR(pg_catalog.<) 5
        OR LEAST(c.exposed, c.control_exposed) OPERATOR(pg_catalog.*) (1 OPERATOR(pg_catalog.-) c.pooled)
           OPERATOR(pg_catalog.<) 5) AS too_few
  FROM compared c;
COMMENT ON VIEW @extschema@.experiment_results IS
	'Per experiment and variant: exposed (consenting customers at their first exposure, erased customers included as counted at their erasure: experiment_erased), converted (an order placed within the conversion window and not cancelled), rate, absolute and relative lift against control, the two-sided p-value of a two-proportion z-test against control, and too_few when either group has under 100 exposures or under 5 expected conversions or non-conversions.  Counts only, no customer ids.';
CREATE OR REPLACE VIEW @extschema@.experiment_by_day AS
SELECT x.name AS experiment, d.variant, d.day, d.exposed, d.converted,
       (d.converted::numeric OPERATOR(pg_catalog./) NULLIF(d.exposed, 0))::numeric(5, 4) AS rate
  FROM (SELECT n.experiment_id, n.variant, n.day,
               pg_catalog.sum(n.exposed)::integer AS exposed, pg_catalog.sum(n.converted)::integer AS converted
          FROM (SELECT d.experiment_id, d.variant, d.day, d.exposed, d.converted
                  FROM @extschema@.experiment_daily d
                UNION ALL
                SELECT r.experiment_id, r.variant, r.day, r.exposed, r.converted
                  FROM @extschema@.experiment_erased r) n
         GROUP BY n.experiment_id, n.variant, n.day) d
  JOIN @extschema@.experiments x ON x.experiment_id OPERATOR(pg_catalog.=) d.experiment_id
 WHERE d.exposed OPERATOR(pg_catalog.>) 0;
COMMENT ON VIEW @extschema@.experiment_by_day IS
	'From the rollup: per experiment, variant and day of first exposure (UTC), the customers exposed and how many of them have converted so far (experiment_results has the totals and the test against control); erased customers as counted at their erasure (experiment_erased).';

-- ---------------------------------------------------------------------------
-- The openings made for an order (order_contact, on the path of every
-- delivery) are logged in the order's zone, in order_access_log, keyed by
-- zone first (sql/30_keys.sql): on Citus it is distributed by zone with the
-- orders, so the call writes the zone's worker only, not pii_access_log, a
-- reference table, on every node.  The exports read both logs
-- (_access_log, section 2, PL/pgSQL: bound when first run, after this
-- table exists).  The rider_contact rows 0.1.0 wrote stay in
-- pii_access_log, where the exports read them as before.
CREATE SEQUENCE @extschema@.order_access_log_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.order_access_log (
	zone_id     bigint NOT NULL,
	id          bigint NOT NULL,
	at          timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	actor       name NOT NULL DEFAULT SESSION_USER,
	subject     text NOT NULL,
	subject_id  bigint NOT NULL,
	purpose     text NOT NULL,
	detail      text,
	PRIMARY KEY (zone_id, id),
	CHECK (zone_id OPERATOR(pg_catalog.=) (id OPERATOR(pg_catalog.>>) 40))
);
ALTER SEQUENCE @extschema@.order_access_log_id_seq OWNED BY @extschema@.order_access_log.id;
CREATE INDEX order_access_log_subject_idx ON @extschema@.order_access_log (subject, subject_id);
COMMENT ON SEQUENCE @extschema@.order_access_log_id_seq IS
	'The low 40 bits of order_access_log ids.';
COMMENT ON INDEX @extschema@.order_access_log_subject_idx IS
	'A subject''s openings, for the exports.';
COMMENT ON TABLE @extschema@.order_access_log IS
	'One row per opening of sealed personal data made for an order (order_contact), in the order''s zone: who (session user), whose, why, when, and what (detail: the order and the rider).  pii_access_log holds every other opening; the exports read both.';
COMMENT ON TABLE @extschema@.pii_access_log IS
	'One row per opening of sealed personal data: who (session user), whose, why, when, and what (detail, e.g. the order or the fields); the openings made for an order by order_contact are in order_access_log, in the order''s zone.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_access_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_access_log_id_seq', '');
REVOKE ALL ON @extschema@.order_access_log FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.order_access_log_id_seq FROM PUBLIC;

-- ===========================================================================
-- A rider's first shift (sql/20_schema.sql, rider_online): a ping made
-- before it is refused (DP029), as one made in a break.  A rider online and
-- never offline started its first shift when it came online; for one that
-- has gone offline the time is not known, and stays NULL.
-- ===========================================================================

ALTER TABLE @extschema@.riders ADD COLUMN first_online_at timestamptz;
COMMENT ON COLUMN @extschema@.riders.first_online_at IS
	'When the rider first came online (rider_online): a ping made before it is refused (DP029), as one made in a break.  NULL for a rider never online, or one whose first shift was before 0.2.0 and who has gone offline since.';
UPDATE @extschema@.riders r SET first_online_at = r.online_since
 WHERE r.last_offline_at IS NULL AND r.online_since IS NOT NULL;
-- END rider first shift

-- ---------------------------------------------------------------------------
-- The disclosures made for an order (order_contact via a relay, on the
-- path of a delivery, and record_disclosure naming an order of a zone) are
-- recorded in the order's zone, in order_disclosures, keyed by zone first
-- (sql/80_privacy.sql): on Citus it is distributed by zone with the orders,
-- so the call writes the zone's worker only, not disclosures, a reference
-- table, on every node.  Its readers read both (_disclosures_of, section 2,
-- PL/pgSQL: bound when first run, after this table exists); the export
-- lists them under disclosures, not among its tables (_customer_tables
-- leaves the table out by name).  The disclosures 0.1.0 recorded stay in
-- disclosures, where they are read as before.
CREATE SEQUENCE @extschema@.order_disclosures_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.order_disclosures (
	zone_id        bigint NOT NULL,
	disclosure_id  bigint NOT NULL,
	at             timestamptz NOT NULL,
	processor_id   bigint NOT NULL REFERENCES @extschema@.processors,
	customer_id    bigint,
	rider_id       bigint,
	order_id       bigint NOT NULL,
	fields         text[] NOT NULL CHECK (pg_catalog.cardinality(fields) BETWEEN 1 AND 20),
	actor          name NOT NULL DEFAULT SESSION_USER,
	PRIMARY KEY (zone_id, disclosure_id),
	CHECK (zone_id OPERATOR(pg_catalog.=) (disclosure_id OPERATOR(pg_catalog.>>) 40)),
	CHECK (zone_id OPERATOR(pg_catalog.=) (order_id OPERATOR(pg_catalog.>>) 40)),
	CHECK ((customer_id IS NULL) OPERATOR(pg_catalog.<>) (rider_id IS NULL))
);
ALTER SEQUENCE @extschema@.order_disclosures_id_seq OWNED BY @extschema@.order_disclosures.disclosure_id;
CREATE INDEX order_disclosures_customer_idx ON @extschema@.order_disclosures (customer_id, at) WHERE customer_id IS NOT NULL;
CREATE INDEX order_disclosures_rider_idx ON @extschema@.order_disclosures (rider_id, at) WHERE rider_id IS NOT NULL;
COMMENT ON SEQUENCE @extschema@.order_disclosures_id_seq IS
	'The low 40 bits of order_disclosures ids.';
COMMENT ON INDEX @extschema@.order_disclosures_customer_idx IS
	'A customer''s disclosures made for orders, for disclosures() and the export.';
COMMENT ON INDEX @extschema@.order_disclosures_rider_idx IS
	'A rider''s disclosures made for orders, for export_rider.';
COMMENT ON TABLE @extschema@.order_disclosures IS
	'Every handing of personal data to a processor made for an order, in the order''s zone: when, to whom, whose (a customer or a rider), for which order, which fields (names, never values) and by whom.  disclosures holds the others; their readers read both.  Kept after erasure.';
COMMENT ON TABLE @extschema@.disclosures IS
	'Every handing of personal data to a processor: when, to whom, whose (a customer or a rider), for which order, which fields (names, never values) and by whom; those made for an order of a zone are in order_disclosures, in the order''s zone.  Kept after erasure: it records what was disclosed, not the data.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_disclosures', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_disclosures_id_seq', '');
REVOKE ALL ON @extschema@.order_disclosures FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.order_disclosures_id_seq FROM PUBLIC;

-- ===========================================================================
-- The growth rollup's tables are dumped (sql/90_growth.sql): the rollup is
-- incremental and its cursors (growth_cursors) are dumped, so a restore
-- needs what was counted up to them.
-- ===========================================================================

SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_facts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.zone_daily', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaign_daily', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_stats', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_weeks', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.experiment_facts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.experiment_daily', '');
-- END growth rollup dumped

-- the wait paid ends when the track leaves the merchant (sql/53_pay.sql)
COMMENT ON COLUMN @extschema@.pay_models.wait_cents_per_minute IS
	'Pay per whole minute a rider waited at the merchant beyond wait_grace_minutes: from the first position ping within arrival_radius_m of the pickup after the assignment, to the pickup, or to the first ping outside that radius after the arrival if it comes before the pickup (the rider left).';

-- an errand's pickup, a place its customer named, is coarsened with the drop-off
-- (retention dropoff_point, erasure: sql/78_retention.sql, sql/80_privacy.sql)
COMMENT ON COLUMN @extschema@.orders.pickup IS
	'Personal data of the customer: pickup point (a merchant''s location for takeaway; for an errand, a place the customer names). Purpose: matching and routing; basis: contract; kept: with the order, an errand''s exact for 30 days after the order ends, then coarsened to a grid cell (retention dropoff_point) and on erasure; read by: matching, the rider, the customer (export); protection: not sealed (matching needs it).';
COMMENT ON COLUMN @extschema@.retention_policies.data_class IS
	'order_text: drop-off addresses and errand descriptions of finished orders; dropoff_point: their drop-off points, and the pickup points of errands; rider_tracks: position pings; events: the outbox; feedback_text: the text of feedback; intake_refusals: the log of refused intake attempts.';

-- ===========================================================================
-- Six analyst views carry the zone to every table they read (docs/citus.md,
-- "The rows of one zone"): a zone filter on one of them reaches each table,
-- so that on Citus its <view>_in_zone and zoned <view>_between are sent to
-- the zone's worker alone.  Same columns, rows, comments and grants.  The
-- views as sql/ has them, over the tables: an install updated from 0.1.0 is
-- not distributed (0.1.0 had no distribute()), so their functions read the
-- views and there is nothing to switch; a later script that changes an
-- analyst view on a distributed install calls _analyst_views_read_definers()
-- after it (on every node).
-- ===========================================================================

CREATE OR REPLACE VIEW @extschema@.refund_reconciliation AS
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

CREATE OR REPLACE VIEW @extschema@.rider_utilisation AS
WITH shifts AS (
	SELECT e.zone_id, e.rider_id, e.at AS s, COALESCE(e.next_at, @extschema@.clock()) AS e
	  FROM (SELECT e.zone_id, e.rider_id, e.at, e.payload OPERATOR(pg_catalog.->>) 'status' AS status,
	               pg_catalog.lead(e.at) OVER (PARTITION BY e.zone_id, e.rider_id ORDER BY e.at, e.seq) AS next_at
	          FROM @extschema@.events e
	         WHERE e.kind OPERATOR(pg_catalog.=) 'rider_status') e
	 WHERE e.status OPERATOR(pg_catalog.=) 'online'),
held AS (
	SELECT o.zone_id, o.rider_id, o.assigned_at AS s,
	       COALESCE(o.delivered_at, o.cancelled_at, @extschema@.clock()) AS e
	  FROM @extschema@.orders o
	 WHERE o.assigned_at IS NOT NULL AND o.rider_id IS NOT NULL),
held_marked AS (
	SELECT h.zone_id, h.rider_id, h.s, h.e,
	       pg_catalog.max(h.e) OVER (PARTITION BY h.zone_id, h.rider_id ORDER BY h.s, h.e
	                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
	  FROM held h),
busy AS (
	SELECT m.zone_id, m.rider_id, pg_catalog.min(m.s) AS s, pg_catalog.max(m.e) AS e
	  FROM (SELECT h.zone_id, h.rider_id, h.s, h.e,
	               pg_catalog.sum(CASE WHEN h.prev_end IS NULL OR h.s OPERATOR(pg_catalog.>) h.prev_end THEN 1 ELSE 0 END)
	                   OVER (PARTITION BY h.zone_id, h.rider_id ORDER BY h.s, h.e) AS island
	          FROM held_marked h) m
	 GROUP BY m.zone_id, m.rider_id, m.island),
spans AS (
	SELECT 'online' AS kind, s.zone_id, s.rider_id, s.s, s.e FROM shifts s
	UNION ALL
	SELECT 'busy', b.zone_id, b.rider_id, b.s, b.e FROM busy b)
SELECT x.zone_id,
       pg_catalog.date_trunc('hour', x.h AT TIME ZONE x.timezone) AS hour,
       pg_catalog.count(DISTINCT x.rider_id) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'online') AS riders_online,
       (pg_catalog.sum(x.seconds) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'online')
        OPERATOR(pg_catalog./) 3600)::numeric(10, 2) AS online_rider_hours,
       (COALESCE(pg_catalog.sum(x.seconds) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'busy'), 0)
        OPERATOR(pg_catalog./) 3600)::numeric(10, 2) AS busy_rider_hours,
       LEAST(COALESCE(pg_catalog.sum(x.seconds) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'busy'), 0)
             OPERATOR(pg_catalog./)
             NULLIF(pg_catalog.sum(x.seconds) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'online'), 0), 1)::numeric(5, 4)
           AS utilisation
  FROM (SELECT sp.kind, sp.zone_id, sp.rider_id, h.h, hz.timezone,
               pg_catalog.date_part('epoch', LEAST(sp.e, h.h OPERATOR(pg_catalog.+) interval '1 hour')
                                             OPERATOR(pg_catalog.-) GREATEST(sp.s, h.h))::numeric AS seconds
          FROM spans sp
          JOIN @extschema@.zones hz ON hz.zone_id OPERATOR(pg_catalog.=) sp.zone_id
         CROSS JOIN LATERAL pg_catalog.generate_series(pg_catalog.date_trunc('hour', sp.s, hz.timezone), sp.e,
                                                       interval '1 hour') h(h)
         WHERE sp.e OPERATOR(pg_catalog.>) sp.s
           AND sp.e OPERATOR(pg_catalog.>) h.h) x
 GROUP BY x.zone_id, pg_catalog.date_trunc('hour', x.h AT TIME ZONE x.timezone);

CREATE OR REPLACE VIEW @extschema@.order_anomalies AS
WITH span AS (
	SELECT @extschema@.clock() OPERATOR(pg_catalog.-) interval '36 days' AS since),
facts AS (
	SELECT o.zone_id, o.created_at AS at, 'orders' AS what FROM @extschema@.orders o, span
	 WHERE o.created_at OPERATOR(pg_catalog.>=) span.since
	UNION ALL
	SELECT o.zone_id, o.created_at, 'cancelled' FROM @extschema@.orders o, span
	 WHERE o.created_at OPERATOR(pg_catalog.>=) span.since AND o.cancelled_at IS NOT NULL
	UNION ALL
	SELECT o.zone_id, o.cancelled_at, 'cancellations' FROM @extschema@.orders o, span
	 WHERE o.cancelled_at OPERATOR(pg_catalog.>=) span.since
	UNION ALL
	SELECT o.zone_id, o.delivered_at, CASE WHEN o.delivered_at OPERATOR(pg_catalog.>) o.promised_at THEN 'late' ELSE 'on_time' END
	  FROM @extschema@.orders o, span
	 WHERE o.delivered_at OPERATOR(pg_catalog.>=) span.since
	UNION ALL
	SELECT p.zone_id, p.settled_at, CASE WHEN p.status OPERATOR(pg_catalog.=) 'failed' THEN 'payment_failed' ELSE 'payment_ok' END
	  FROM @extschema@.payments p, span
	 WHERE p.settled_at OPERATOR(pg_catalog.>=) span.since AND p.status IN ('failed', 'succeeded')
	UNION ALL
	SELECT f.zone_id, f.responded_at, CASE WHEN f.status OPERATOR(pg_catalog.=) 'rejected' THEN 'rejected' ELSE 'accepted' END
	  FROM @extschema@.offers f, span
	 WHERE f.responded_at OPERATOR(pg_catalog.>=) span.since AND f.status IN ('accepted', 'rejected', 'released')
	UNION ALL
	SELECT f.zone_id, f.responded_at, 'released'
	  FROM @extschema@.offers f
	  JOIN @extschema@.offer_exclusions x ON x.zone_id OPERATOR(pg_catalog.=) f.zone_id
	                                     AND x.order_id OPERATOR(pg_catalog.=) f.order_id
	                                     AND x.rider_id OPERATOR(pg_catalog.=) f.rider_id, span
	 WHERE f.responded_at OPERATOR(pg_catalog.>=) span.since AND f.status OPERATOR(pg_catalog.=) 'released'
	   AND x.reason OPERATOR(pg_catalog.=) 'released'
	UNION ALL
	-- an order once, however many of its payments were refunded
	SELECT o.zone_id, o.cancelled_at, 'refunded'
	  FROM @extschema@.orders o
	  JOIN (SELECT r.zone_id, r.order_id FROM @extschema@.refunds r GROUP BY r.zone_id, r.order_id) r
	    ON r.zone_id OPERATOR(pg_catalog.=) o.zone_id AND r.order_id OPERATOR(pg_catalog.=) o.order_id, span
	 WHERE o.cancelled_at OPERATOR(pg_catalog.>=) span.since),
hourly AS (
	SELECT f.zone_id, pg_catalog.date_trunc('hour', f.at AT TIME ZONE z.timezone) AS hour,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'orders') AS orders,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'payment_failed') AS payment_failed,
	       pg_catalog.count(*) FILTER (WHERE f.what IN ('payment_failed', 'payment_ok')) AS payments,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'cancelled') AS cancelled,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'cancellations') AS cancellations,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'rejected') AS rejected,
	       pg_catalog.count(*) FILTER (WHERE f.what IN ('rejected', 'accepted')) AS answered,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'released') AS released,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'accepted') AS accepted,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'late') AS late,
	       pg_catalog.count(*) FILTER (WHERE f.what IN ('late', 'on_time')) AS delivered,
	       pg_catalog.count(*) FILTER (WHERE f.what OPERATOR(pg_catalog.=) 'refunded') AS refunded
	  FROM facts f
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) f.zone_id
	 GROUP BY f.zone_id, pg_catalog.date_trunc('hour', f.at AT TIME ZONE z.timezone)),
-- the same hour of the four weeks before: in each zone the hours of one
-- hour of the week (local time, so 7 days apart exactly), 28 to 7 days back
-- (a window by zone, not a lateral subquery: a zone filter on the view
-- reaches the tables under it, here and on Citus, docs/citus.md)
baseline AS (
	SELECT h.*,
	       pg_catalog.sum(h.payment_failed) OVER w AS b_payment_failed, pg_catalog.sum(h.payments) OVER w AS b_payments,
	       pg_catalog.sum(h.cancelled) OVER w AS b_cancelled, pg_catalog.sum(h.orders) OVER w AS b_orders,
	       pg_catalog.sum(h.rejected) OVER w AS b_rejected, pg_catalog.sum(h.answered) OVER w AS b_answered,
	       pg_catalog.sum(h.released) OVER w AS b_released, pg_catalog.sum(h.accepted) OVER w AS b_accepted,
	       pg_catalog.sum(h.late) OVER w AS b_late, pg_catalog.sum(h.delivered) OVER w AS b_delivered,
	       pg_catalog.sum(h.refunded) OVER w AS b_refunded, pg_catalog.sum(h.cancellations) OVER w AS b_cancellations
	  FROM hourly h
	WINDOW w AS (PARTITION BY h.zone_id, h.hour OPERATOR(pg_catalog.-) pg_catalog.date_trunc('week', h.hour)
	             ORDER BY h.hour RANGE BETWEEN interval '28 days' PRECEDING AND interval '7 days' PRECEDING)),
kinds AS (
	SELECT c.zone_id, c.hour, k.kind, k.k, k.n, COALESCE(k.bk, 0) AS bk, COALESCE(k.bn, 0) AS bn
	  FROM baseline c
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) c.zone_id
	 CROSS JOIN LATERAL (VALUES ('payment_failed', c.payment_failed, c.payments, c.b_payment_failed, c.b_payments),
	                            ('cancelled', c.cancelled, c.orders, c.b_cancelled, c.b_orders),
	                            ('rejected', c.rejected, c.answered, c.b_rejected, c.b_answered),
	                            ('released', c.released, c.accepted, c.b_released, c.b_accepted),
	                            ('late', c.late, c.delivered, c.b_late, c.b_delivered),
	                            ('refunded', c.refunded, c.cancellations, c.b_refunded, c.b_cancellations)) k(kind, k, n, bk, bn)
	 WHERE c.hour OPERATOR(pg_catalog.>=) pg_catalog.date_trunc('hour', (@extschema@.clock() AT TIME ZONE z.timezone)
	                                                              OPERATOR(pg_catalog.-) interval '7 days')),
scored AS (
	SELECT k.zone_id, k.hour, k.kind, k.k, k.n, k.bk, k.bn,
	       LEAST(k.bk OPERATOR(pg_catalog.+) 1, k.bn OPERATOR(pg_catalog.+) 1)::float8
	       OPERATOR(pg_catalog./) (k.bn OPERATOR(pg_catalog.+) 2)::float8 AS p
	  FROM kinds k),
spread AS (
	SELECT s.*,
	       pg_catalog.sqrt((s.n::float8 OPERATOR(pg_catalog.*) s.p) OPERATOR(pg_catalog.*) (1 OPERATOR(pg_catalog.-) s.p)) AS sd
	  FROM scored s)
SELECT s.zone_id, s.hour, s.kind,
       s.k AS count, s.n AS base,
       pg_catalog.round(s.k::numeric OPERATOR(pg_catalog./) NULLIF(s.n, 0), 4) AS rate,
       s.bk::bigint AS baseline_count, s.bn::bigint AS baseline_base,
       pg_catalog.round(s.bk::numeric OPERATOR(pg_catalog./) NULLIF(s.bn, 0), 4) AS baseline_rate,
       pg_catalog.round(((s.k::float8 OPERATOR(pg_catalog.-) (s.n::float8 OPERATOR(pg_catalog.*) s.p))
                         OPERATOR(pg_catalog./) NULLIF(s.sd, 0))::numeric, 2) AS z_score,
       (s.k OPERATOR(pg_catalog.>=) 3 AND s.sd OPERATOR(pg_catalog.>) 0
        AND (s.k::float8 OPERATOR(pg_catalog.-) (s.n::float8 OPERATOR(pg_catalog.*) s.p))
            OPERATOR(pg_catalog.>=) (3 OPERATOR(pg_catalog.*) s.sd))
           AS flagged
  FROM spread s;

CREATE OR REPLACE VIEW @extschema@.feedback_top_issues AS
-- read twice, so NOT MATERIALIZED: each read is inlined, and a zone filter
-- on the view reaches the reviews under both (through the join on zone_id),
-- here and on Citus (docs/citus.md)
WITH weekly AS NOT MATERIALIZED (
	SELECT f.zone_id,
	       pg_catalog.date_trunc('week', f.created_at AT TIME ZONE z.timezone)::date AS week,
	       t.topic,
	       pg_catalog.count(*) AS reviews
	  FROM @extschema@.feedback f
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) f.zone_id
	 CROSS JOIN LATERAL pg_catalog.unnest(f.topics) AS t (topic)
	 WHERE f.counted
	 GROUP BY 1, 2, 3
)
SELECT w.zone_id, w.week, w.topic, w.reviews,
       COALESCE(p.reviews, 0) AS reviews_week_before,
       w.reviews OPERATOR(pg_catalog.-) COALESCE(p.reviews, 0) AS change
  FROM weekly w
  LEFT JOIN weekly p
    ON p.zone_id OPERATOR(pg_catalog.=) w.zone_id
   AND p.topic OPERATOR(pg_catalog.=) w.topic
   AND p.week OPERATOR(pg_catalog.=) (w.week OPERATOR(pg_catalog.-) 7);

CREATE OR REPLACE VIEW @extschema@.survey_results AS
-- the answers are read twice, so NOT MATERIALIZED: each read is inlined,
-- and a zone filter on the view reaches the answers under both (through
-- the join on zone_id), here and on Citus (docs/citus.md)
WITH a AS NOT MATERIALIZED (
	SELECT s.zone_id,
	       pg_catalog.date_trunc('month', s.created_at AT TIME ZONE z.timezone)::date AS month,
	       CASE WHEN s.campaign_id IS NULL THEN 'delivery' ELSE 'campaign' END AS kind,
	       s.campaign_id, s.rating, s.text_score, s.score, s.topics
	  FROM @extschema@.survey_answers s
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) s.zone_id
), topic_counts AS (
	SELECT a.zone_id, a.month, a.kind, a.campaign_id, tp.topic,
	       pg_catalog.row_number() OVER (PARTITION BY a.zone_id, a.month, a.kind, a.campaign_id
	                                     ORDER BY pg_catalog.count(*) DESC, tp.topic) AS rank
	  FROM a CROSS JOIN LATERAL pg_catalog.unnest(a.topics) AS tp (topic)
	 GROUP BY a.zone_id, a.month, a.kind, a.campaign_id, tp.topic
), top AS (
	SELECT c.zone_id, c.month, c.kind, c.campaign_id, pg_catalog.array_agg(c.topic ORDER BY c.rank) AS top_topics
	  FROM topic_counts c
	 WHERE c.rank OPERATOR(pg_catalog.<=) 3
	 GROUP BY c.zone_id, c.month, c.kind, c.campaign_id
)
SELECT a.zone_id, a.month, a.kind, a.campaign_id,
       pg_catalog.count(*) AS answers,
       pg_catalog.avg(a.rating)::real AS mean_rating,
       pg_catalog.avg(a.text_score)::real AS mean_sentiment,
       (pg_catalog.count(*) FILTER (WHERE a.score OPERATOR(pg_catalog.<) 0)::float8
        OPERATOR(pg_catalog./) pg_catalog.count(*))::real AS share_negative,
       COALESCE(pg_catalog.min(top.top_topics), '{}') AS top_topics
  FROM a
  LEFT JOIN top
    ON top.zone_id OPERATOR(pg_catalog.=) a.zone_id AND top.month OPERATOR(pg_catalog.=) a.month
   AND top.kind OPERATOR(pg_catalog.=) a.kind AND top.campaign_id IS NOT DISTINCT FROM a.campaign_id
 GROUP BY a.zone_id, a.month, a.kind, a.campaign_id;

CREATE OR REPLACE VIEW @extschema@.campaign_performance AS
WITH days AS (
	SELECT x.campaign_id, x.zone_id,
	       pg_catalog.sum(x.redemptions) AS redemptions, pg_catalog.sum(x.orders) AS orders,
	       pg_catalog.sum(x.new_customers) AS new_customers, pg_catalog.sum(x.gmv_cents) AS gmv_cents,
	       pg_catalog.sum(x.discount_cents) OPERATOR(pg_catalog.+) pg_catalog.sum(x.reward_cents) AS cost_cents
	  FROM (SELECT c.campaign_id, c.zone_id, d.redemptions, d.orders, d.new_customers, d.gmv_cents,
	               d.discount_cents, d.reward_cents
	          FROM @extschema@.campaigns c
	          LEFT JOIN @extschema@.campaign_daily d
	            ON d.zone_id OPERATOR(pg_catalog.=) c.zone_id AND d.campaign_id OPERATOR(pg_catalog.=) c.campaign_id
	         WHERE c.zone_id IS NOT NULL
	        UNION ALL
	        SELECT c.campaign_id, NULL::bigint, d.redemptions, d.orders, d.new_customers, d.gmv_cents,
	               d.discount_cents, d.reward_cents
	          FROM @extschema@.campaigns c
	          LEFT JOIN @extschema@.campaign_daily d ON d.campaign_id OPERATOR(pg_catalog.=) c.campaign_id
	         WHERE c.zone_id IS NULL) x
	 GROUP BY x.campaign_id, x.zone_id),
acquired AS (
	SELECT s.first_campaign_id AS campaign_id,
	       pg_catalog.count(*) AS judged,
	       pg_catalog.count(*) FILTER (WHERE s.second_at OPERATOR(pg_catalog.<=) (s.first_at OPERATOR(pg_catalog.+) interval '30 days')) AS repeated
	  FROM @extschema@.customer_stats s
	 WHERE s.first_campaign_id IS NOT NULL
	   AND s.first_at OPERATOR(pg_catalog.<=) (@extschema@.clock() OPERATOR(pg_catalog.-) interval '30 days')
	 GROUP BY s.first_campaign_id)
SELECT c.campaign_id, c.name AS campaign, c.kind, d.zone_id, c.starts_at, COALESCE(c.ended_at, c.ends_at) AS ends_at,
       c.budget_cents,
       CASE WHEN d.zone_id IS NULL THEN @extschema@.campaign_budget_left(c.campaign_id) ELSE b.budget_left_cents END
           AS budget_left_cents,
       COALESCE(d.redemptions, 0)::bigint AS redemptions,
       COALESCE(d.new_customers, 0)::bigint AS new_customers,
       COALESCE(d.orders, 0)::bigint AS orders,
       COALESCE(d.gmv_cents, 0)::bigint AS gmv_cents,
       COALESCE(d.cost_cents, 0)::bigint AS cost_cents,
       (d.cost_cents OPERATOR(pg_catalog./) NULLIF(d.new_customers, 0))::numeric(14, 2) AS cost_per_acquisition_cents,
       ((d.gmv_cents OPERATOR(pg_catalog.-) d.cost_cents) OPERATOR(pg_catalog./) NULLIF(d.cost_cents, 0))::numeric(12, 3) AS roi,
       a.judged AS acquired_30d_ago,
       (a.repeated::numeric OPERATOR(pg_catalog./) NULLIF(a.judged, 0))::numeric(5, 4) AS repeat_rate_30d
  FROM days d
  JOIN @extschema@.campaigns c ON c.campaign_id OPERATOR(pg_catalog.=) d.campaign_id
  -- a zone's campaign: what is left in its zone's slots (all of them)
  LEFT JOIN (SELECT b.zone_id, b.campaign_id,
                    pg_catalog.sum(b.cap_cents OPERATOR(pg_catalog.-) b.spent_cents)::bigint AS budget_left_cents
               FROM @extschema@.campaign_budget b GROUP BY b.zone_id, b.campaign_id) b
    ON b.zone_id OPERATOR(pg_catalog.=) d.zone_id AND b.campaign_id OPERATOR(pg_catalog.=) d.campaign_id
  LEFT JOIN acquired a ON a.campaign_id OPERATOR(pg_catalog.=) c.campaign_id;

-- END analyst views by zone

-- an experiment's conversion window is a length of time, kept in hours
-- (sql/86_experiments.sql, create_experiment)
COMMENT ON TABLE @extschema@.experiments IS
	'A/B experiments: the name (part of every customer''s hash, so never reused), the conversion window after a first exposure (a length of time, kept in hours: the same in every time zone), and when it was created and ended.';

-- the rider assigned to an errand reads its description (order_contact,
-- sql/80_privacy.sql): the inventory of personal data says so
COMMENT ON COLUMN @extschema@.orders.description_enc IS
	'Personal data of the customer: an errand''s description. Purpose: running the errand; basis: contract; kept: 30 days after the order ends (retention order_text); read by: the assigned rider until delivery (order_contact), the customer (export), dispatch_admin through the API; protection: sealed under the customer''s data key.';

-- ===========================================================================
-- dispatch_kpis counts each order's offers grouped by zone and order and
-- joined on both, not in a lateral subquery, so that a zone filter reaches
-- the offers too: on Citus dispatch_kpis_in_zone and its zoned _between
-- (rider_utilisation's query inlined, _analyst_views_read_definers) are
-- sent to the zone's worker alone (docs/citus.md, "The rows of one zone").
-- Same columns, rows, comment and grants.  An install updated from 0.1.0 is
-- not distributed, so there is nothing to switch.
-- ===========================================================================

CREATE OR REPLACE VIEW @extschema@.dispatch_kpis AS
SELECT k.zone_id, k.hour, k.orders, k.delivered, k.cancelled, k.median_click_to_door, k.p90_click_to_door,
       k.on_time_share, k.median_assigned_to_pickup, k.median_food_waiting, k.offers_per_assigned_order,
       u.utilisation AS rider_utilisation
  FROM (SELECT o.zone_id,
               pg_catalog.date_trunc('hour', o.created_at AT TIME ZONE z.timezone) AS hour,
               pg_catalog.count(*) FILTER (WHERE o.placed_at IS NOT NULL) AS orders,
               pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'delivered') AS delivered,
               pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'cancelled') AS cancelled,
               (pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY o.delivered_at OPERATOR(pg_catalog.-) o.placed_at))
                   AS median_click_to_door,
               (pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY o.delivered_at OPERATOR(pg_catalog.-) o.placed_at))
                   AS p90_click_to_door,
               (pg_catalog.count(*) FILTER (WHERE o.delivered_at OPERATOR(pg_catalog.<=) o.promised_at)::numeric
                OPERATOR(pg_catalog./) NULLIF(pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'delivered'), 0))::numeric(5, 4)
                   AS on_time_share,
               (pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY o.picked_up_at OPERATOR(pg_catalog.-) o.assigned_at))
                   AS median_assigned_to_pickup,
               (pg_catalog.percentile_cont(0.5) WITHIN GROUP (
                    ORDER BY GREATEST(o.picked_up_at OPERATOR(pg_catalog.-) o.ready_at, interval '0'))) AS median_food_waiting,
               (pg_catalog.sum(COALESCE(f.offers, 0))::numeric
                OPERATOR(pg_catalog./) NULLIF(pg_catalog.count(*) FILTER (WHERE o.assigned_at IS NOT NULL), 0))::numeric(6, 2)
                   AS offers_per_assigned_order
          FROM @extschema@.orders o
          JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) o.zone_id
          -- each order's offers grouped by zone and order and joined on
          -- both (not a lateral subquery): a zone filter on the view
          -- reaches the offers too, here and on Citus (docs/citus.md)
          LEFT JOIN (SELECT x.zone_id, x.order_id, pg_catalog.count(*) AS offers FROM @extschema@.offers x
                      GROUP BY x.zone_id, x.order_id) f
            ON f.zone_id OPERATOR(pg_catalog.=) o.zone_id AND f.order_id OPERATOR(pg_catalog.=) o.order_id
         GROUP BY o.zone_id, pg_catalog.date_trunc('hour', o.created_at AT TIME ZONE z.timezone)) k
  LEFT JOIN @extschema@.rider_utilisation u ON u.zone_id OPERATOR(pg_catalog.=) k.zone_id AND u.hour OPERATOR(pg_catalog.=) k.hour;

-- END dispatch_kpis by zone

-- a refund's reference names one payout: it pays one refund of the zone
-- back (settle_refund, DP110; sql/62_refunds.sql).  An installation whose
-- refunds hold one reference twice already fails here: those refunds were
-- marked paid back with one payout, and want looking at first.
CREATE UNIQUE INDEX refunds_provider_ref_idx ON @extschema@.refunds (zone_id, provider_ref)
	WHERE status = 'succeeded';

-- ===========================================================================
-- stuck_orders counts an assigned order, as an accepted one, from the later
-- of the status's start and the time its food is ready: a rider assigned
-- before the food is ready cannot pick it up sooner (sql/69_operations.sql,
-- stuck_after).  Same columns, comment and grants; the filter by zone still
-- reaches orders' zone_id (stuck_orders_in_zone is sent to one worker).  An
-- install updated from 0.1.0 is not distributed, so there is nothing to
-- switch.
-- ===========================================================================

CREATE OR REPLACE VIEW @extschema@.stuck_orders AS
SELECT o.zone_id, o.order_id, o.kind, o.status, o.rider_id, o.merchant_id,
       o.status_changed_at AS since,
       CASE WHEN o.status IN ('accepted', 'assigned')
            THEN GREATEST(o.status_changed_at, COALESCE(o.ready_at, o.status_changed_at))
            ELSE o.status_changed_at END
         OPERATOR(pg_catalog.+) @extschema@.stuck_after(o.status) AS due,
       @extschema@.clock() OPERATOR(pg_catalog.-)
         (CASE WHEN o.status IN ('accepted', 'assigned')
               THEN GREATEST(o.status_changed_at, COALESCE(o.ready_at, o.status_changed_at))
               ELSE o.status_changed_at END
          OPERATOR(pg_catalog.+) @extschema@.stuck_after(o.status)) AS overdue_by
  FROM @extschema@.orders o
 WHERE o.status IN ('pending_payment', 'payment_failed', 'placed', 'accepted', 'assigned', 'picked_up')
   AND @extschema@.clock() OPERATOR(pg_catalog.>)
       (CASE WHEN o.status IN ('accepted', 'assigned')
             THEN GREATEST(o.status_changed_at, COALESCE(o.ready_at, o.status_changed_at))
             ELSE o.status_changed_at END
        OPERATOR(pg_catalog.+) @extschema@.stuck_after(o.status));

-- END stuck_orders from the food's ready time

-- a ready time the merchant gave, told apart from one guessed from the
-- preparation time (merchant_accept without one), which is no floor of
-- the ETA window (sql/20_schema.sql, sql/65_lifecycle.sql, src/eta.c).
-- Orders already accepted and not yet picked up count as given when their
-- ready time is not the guess (accepted_at plus the merchant's
-- preparation time); every other order has no use for it.
ALTER TABLE @extschema@.orders ADD COLUMN ready_at_given boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN @extschema@.orders.ready_at_given IS
	'true: ready_at is the time the merchant gave (merchant_accept with a ready time); false: none, or a guess (now plus the merchant''s preparation time; an errand''s time of payment).  Only a given ready time is a floor of the ETA window (docs/eta.md).';
UPDATE @extschema@.orders o SET ready_at_given = true
  FROM @extschema@.merchants m
 WHERE o.status IN ('accepted', 'assigned')
   AND o.kind OPERATOR(pg_catalog.=) 'takeaway'
   AND m.merchant_id OPERATOR(pg_catalog.=) o.merchant_id
   AND o.ready_at IS DISTINCT FROM (o.accepted_at OPERATOR(pg_catalog.+) pg_catalog.make_interval(mins => m.prep_minutes));

-- learn_eta reads the deliveries of its window only (sql/20_schema.sql,
-- sql/63_eta.sql), and the predictions of orders finished long ago go by
-- retention, a class of their own (sql/78_retention.sql)
CREATE INDEX orders_delivered_idx ON @extschema@.orders (zone_id, delivered_at)
	WHERE status = 'delivered';
ALTER TABLE @extschema@.retention_policies
	DROP CONSTRAINT retention_policies_data_class_check,
	DROP CONSTRAINT retention_policies_check,
	DROP CONSTRAINT retention_policies_check1;
ALTER TABLE @extschema@.retention_policies
	ADD CONSTRAINT retention_policies_data_class_check
	    CHECK (data_class IN ('order_text', 'dropoff_point', 'rider_tracks', 'events', 'feedback_text',
	                          'intake_refusals', 'eta_predictions')),
	ADD CONSTRAINT retention_policies_check
	    CHECK ((data_class, action) IN (('order_text', 'erase'), ('dropoff_point', 'coarsen'),
	                                    ('rider_tracks', 'delete'), ('events', 'delete'), ('feedback_text', 'erase'),
	                                    ('intake_refusals', 'delete'), ('eta_predictions', 'delete'))),
	ADD CONSTRAINT retention_policies_check1 CHECK ((action = 'coarsen') = (cell_deg IS NOT NULL));
COMMENT ON COLUMN @extschema@.retention_policies.data_class IS
	'order_text: drop-off addresses and errand descriptions of finished orders; dropoff_point: their drop-off points, and the pickup points of errands; rider_tracks: position pings; events: the outbox; feedback_text: the text of feedback; intake_refusals: the log of refused intake attempts; eta_predictions: the ETA windows predicted for finished orders (no personal data; what eta_accuracy and learn_eta read).';
INSERT INTO @extschema@.retention_policies (data_class, keep, action, cell_deg, source, set_by)
VALUES ('eta_predictions', '90 days', 'delete', NULL, 'default', CURRENT_USER);
COMMENT ON VIEW @extschema@.eta_accuracy IS
	'Per zone, hour (zone time, of the prediction) and status at prediction: delivered orders, the share delivered inside their window, its mean width and the mean error of the expected time, in minutes; as far back as the predictions are kept (retention class eta_predictions, 90 days after the order ends by default).  No personal data.';
