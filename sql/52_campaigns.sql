-- sql/52_campaigns.sql
-- Campaigns, coupons, points and referrals (design part 8).  An offer is
-- taken in the transaction of the order (place_order, sql/55_orders.sql):
-- the campaign's budget, the coupon's uses and the customer's points are
-- taken atomically with it, and a cancellation (cancel_order,
-- sql/65_lifecycle.sql) gives them back.  What an order takes is held in
-- zones (a budget's slots, a code's use, points' lots: in the order's zone
-- when it can be), so that on Citus the order writes its zone's worker
-- only (docs/citus.md).  What a delivery earns (points,
-- referral rewards) is customer-wide data: it is written apart from the
-- zone's transaction, by credit_rewards(), which reads delivered orders
-- from the outbox as a gateway does.  docs/growth.md describes the rules.

------------------------------------------------------------------------------
-- tables

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

------------------------------------------------------------------------------
-- rules

-- orders that count: paid and not cancelled
CREATE FUNCTION @extschema@._order_counts(p_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN p_status IN ('placed', 'accepted', 'assigned', 'picked_up', 'delivered');
COMMENT ON FUNCTION @extschema@._order_counts(text) IS
	'Internal: whether an order in this status counts for growth figures (paid and not cancelled).';
REVOKE ALL ON FUNCTION @extschema@._order_counts(text) FROM PUBLIC;

-- One probe per zone, each by the index on (zone_id, customer_id): on
-- Citus each probe names its zone and goes to that zone's shard alone (a
-- lateral probe with LIMIT under the zones, a reference table, is a
-- subquery Citus cannot push down).
CREATE FUNCTION @extschema@._has_ordered(p_customer_id bigint) RETURNS boolean
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

CREATE FUNCTION @extschema@._campaign_rules_problem(p_kind text, p_rules jsonb) RETURNS text
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

CREATE FUNCTION @extschema@._discount_cents(p_rules jsonb, p_basket_cents bigint) RETURNS integer
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

CREATE FUNCTION @extschema@._active_campaign(p_kind text, p_zone_id bigint, p_at timestamptz)
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

CREATE FUNCTION @extschema@._normalize_code(p_code text) RETURNS text
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

CREATE FUNCTION @extschema@._random_code(p_prefix text) RETURNS text
LANGUAGE sql VOLATILE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN p_prefix OPERATOR(pg_catalog.||)
       pg_catalog.translate(pg_catalog.upper(pg_catalog.encode(
           pg_catalog.substr(@extschema@._random_key(), 1, 8), 'base64')), '+/=O0I1', 'XYZPQRS');
COMMENT ON FUNCTION @extschema@._random_code(text) IS
	'Internal: a prefix and 11 random characters (64 random bits), letters and digits only.';
REVOKE ALL ON FUNCTION @extschema@._random_code(text) FROM PUBLIC;

------------------------------------------------------------------------------
-- campaigns

CREATE FUNCTION @extschema@.create_campaign(name text, kind text, rules jsonb DEFAULT '{}',
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

-- Not STRICT: no campaign (NULL) is an unknown one (DP602), not a success
-- that ended nothing
CREATE FUNCTION @extschema@.end_campaign(campaign_id bigint) RETURNS void
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

CREATE FUNCTION @extschema@._issue_coupon(p_campaign_id bigint, p_customer_id bigint,
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

------------------------------------------------------------------------------
-- points

CREATE FUNCTION @extschema@._points_grant(p_zone_id bigint, p_customer_id bigint, p_points integer, p_reason text,
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

CREATE FUNCTION @extschema@._feedback_points(p_customer_id bigint, p_zone_id bigint, p_ref text) RETURNS integer
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

-- PL/pgSQL, not SQL: on Citus the ledger is distributed, and Citus plans
-- no statement of an SQL function with parameters over such a table
CREATE FUNCTION @extschema@.points_balance(customer_id bigint) RETURNS integer
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

-- The points a customer earned over the 365 days before p_now: what a tier
-- is reached by.  PL/pgSQL for Citus, as points_balance.
CREATE FUNCTION @extschema@._points_earned(p_customer_id bigint, p_now timestamptz) RETURNS bigint
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

-- The one rule of tiers: of a points campaign's rules, the tier reached
-- with p_earned points (the highest min_points reached; of equal ones the
-- first given), or NULL below every tier.
CREATE FUNCTION @extschema@._tier_reached(p_rules jsonb, p_earned bigint) RETURNS jsonb
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

CREATE FUNCTION @extschema@.customer_tier(customer_id bigint) RETURNS text
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

-- The earning multiplier of the tier a customer reaches among the tiers of
-- the points campaign that pays (p_rules: a zone's own campaign's tiers
-- count in its zone), by the points earned, not by a tier's name: a name
-- may stand twice in a campaign made before that was refused, or be
-- "member", the name of the level below every tier.
CREATE FUNCTION @extschema@._tier_multiplier(p_customer_id bigint, p_rules jsonb) RETURNS numeric
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

------------------------------------------------------------------------------
-- taking an offer at checkout, giving it back on cancellation

-- Why a campaign does not apply to this order now, or NULL: its zone, the
-- minimum basket, a first order (a coupon's own restrictions are checked
-- where the code is taken).
CREATE FUNCTION @extschema@._offer_refusal(p_camp @extschema@.campaigns, p_customer_id bigint, p_zone_id bigint,
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

-- Where an order looks, zone by zone, for what its zone lacks (a budget's
-- room, a code's use, points): the pool (zone 0) when asked, then every
-- other zone, in zone order.  PL/pgSQL: Citus plans no SQL function with
-- parameters over its tables.
CREATE FUNCTION @extschema@._other_zones(p_zone_id bigint, p_pool boolean) RETURNS SETOF bigint
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

CREATE FUNCTION @extschema@._budget_take(p_campaign_id bigint, p_budget_cents bigint, p_cents bigint, p_zone_id bigint)
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

CREATE FUNCTION @extschema@._budget_give(p_campaign_id bigint, p_cents bigint, p_zone_id bigint) RETURNS void
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


-- Moves the room of a city-wide campaign's budget between zones: each zone
-- is meant to hold a share of the room in proportion to one plus the orders
-- that took the campaign there over the last hour, and the room moves (in
-- 16 slots a zone) when a zone holds less than half its share, or a zone
-- has no slots yet; the pool gives all it holds.  The decision is read
-- without a lock (most runs move nothing); a move takes only the slots that
-- no transaction holds, so that the job never waits for an order (nor an
-- order, caught between two campaigns, for the job while the job waits for
-- it), and a slot an order holds keeps its room until the next run.  Runs
-- for one campaign never overlap (the advisory lock 'budgets').  Returns
-- whether it moved.
CREATE FUNCTION @extschema@._budget_balance(p_campaign_id bigint, p_now timestamptz) RETURNS boolean
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

CREATE FUNCTION @extschema@.balance_budgets() RETURNS integer
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

CREATE FUNCTION @extschema@.campaign_budget_left(campaign_id bigint) RETURNS bigint
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

-- C (src/intake.c): the count of the cap's check, which reads past a
-- transaction snapshot (repeatable read, serializable) what an order of the
-- customer committed while this one waited for the customer's locks
CREATE FUNCTION @extschema@._campaign_uses(p_campaign_id bigint, p_customer_id bigint) RETURNS bigint
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_campaign_uses';
COMMENT ON FUNCTION @extschema@._campaign_uses(bigint, bigint) IS
	'Internal: the discounts of a campaign the customer''s orders hold (redemptions applied), as committed by now: in a repeatable read or serializable transaction, read with the latest snapshot (the cap''s check runs after the customer''s locks, and the transaction''s snapshot would miss an order committed meanwhile).';
REVOKE ALL ON FUNCTION @extschema@._campaign_uses(bigint, bigint) FROM PUBLIC;

-- C (src/locks.c): the customer's offers lock for the cap's check
CREATE FUNCTION @extschema@._lock_offers(p_customer_id bigint, p_zone_id bigint) RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_lock_offers_sql';
COMMENT ON FUNCTION @extschema@._lock_offers(bigint, bigint) IS
	'Internal: the customer''s offers lock (advisory, exclusive, to the end of the transaction) for an order in zone p_zone_id that takes an offer capped per customer: on Citus, once the tables are distributed, first on every node that holds zones (in group order, through statements routed there, the order''s own zone for its node), then on the node that runs the call; p_zone_id NULL: on this node only.';
REVOKE ALL ON FUNCTION @extschema@._lock_offers(bigint, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._offer_cap_check(p_camp @extschema@.campaigns, p_customer_id bigint, p_zone_id bigint)
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

-- Checks the customer's cap, then charges the campaign's budget; false when
-- the budget does not cover the discount.
CREATE FUNCTION @extschema@._offer_charge(p_camp @extschema@.campaigns, p_customer_id bigint, p_discount integer,
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

-- Spends points: the lots of the order's zone first, those that expire
-- first first, under their row locks; when they are short, the customer's
-- lots of other zones that no transaction holds (on Citus, on other
-- workers).  Returns the lots used, as {"entry_id": points, ...}.
CREATE FUNCTION @extschema@._points_take(p_customer_id bigint, p_points integer, p_zone_id bigint) RETURNS jsonb
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

-- Takes one use of a counted code for an order in a zone: the zone's, or,
-- when the zone has none left, one of another zone (the pool first) that no
-- transaction holds, moved to this zone (its cap down there, up here), so
-- that the use an order holds lies in its zone.  False when no use is left.
CREATE FUNCTION @extschema@._coupon_use(p_code text, p_zone_id bigint) RETURNS boolean
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

-- Whether a campaign's offer applies without a code (first_order or
-- limited_time with "auto": true) in a zone at a time: the one test of
-- _offer_take, and of place_order (src/intake.c), which calls _offer_take
-- only when there is a code, points or such an offer.  A condition on a
-- campaign's columns (not its row, whose type is a shard's on a Citus
-- worker) rather than a function that reads campaigns, so that the
-- planner inlines it (no pinned search_path; a SQL-standard body is bound
-- when it is created) and Citus plans the statements that use it.
CREATE FUNCTION @extschema@._offer_is_automatic(p_kind text, p_rules jsonb, p_campaign_zone bigint,
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

CREATE FUNCTION @extschema@._offer_take(p_order_id bigint, p_customer_id bigint, p_zone_id bigint, p_merchant_id bigint,
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

CREATE FUNCTION @extschema@._offer_record(p_zone_id bigint, p_order_id bigint, p_customer_id bigint,
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

CREATE FUNCTION @extschema@._offer_return(p_zone_id bigint, p_order_id bigint) RETURNS void
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

------------------------------------------------------------------------------
-- referrals

CREATE FUNCTION @extschema@._live_customer(p_customer_id bigint) RETURNS void
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

CREATE FUNCTION @extschema@.referral_code(customer_id bigint) RETURNS text
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

CREATE FUNCTION @extschema@.apply_referral(customer_id bigint, code text) RETURNS void
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

------------------------------------------------------------------------------
-- rewards for delivered orders: read from the outbox, written apart

CREATE FUNCTION @extschema@._reward_delivery(p_zone_id bigint, p_order_id bigint) RETURNS integer
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

-- The outbox as the growth jobs read it: a cursor per zone, as a gateway
-- keeps one (docs/citus.md).  On one server every seq is numbered by one
-- node and a single cursor would do; on Citus a zone's events are numbered
-- by its worker, and the numbers of two zones are not comparable.
-- p_upto names another consumer whose cursors bound this read, zone by
-- zone: the rollup reads no event that credit_rewards has not handled.
CREATE FUNCTION @extschema@._growth_read(p_consumer text, p_max integer, p_upto text) RETURNS bigint
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

CREATE FUNCTION @extschema@._growth_advance(p_consumer text) RETURNS void
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

CREATE FUNCTION @extschema@.credit_rewards(max_events integer DEFAULT 100000) RETURNS integer
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

------------------------------------------------------------------------------
-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON FUNCTION @extschema@.create_campaign(text, text, jsonb, bigint, timestamptz, timestamptz, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.create_campaign(text, text, jsonb, bigint, timestamptz, timestamptz, bigint, text) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.end_campaign(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.end_campaign(bigint) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.campaign_budget_left(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.campaign_budget_left(bigint) TO dispatch_app, dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.balance_budgets() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.balance_budgets() TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.points_balance(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.points_balance(bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.customer_tier(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.customer_tier(bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.referral_code(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.referral_code(bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.apply_referral(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.apply_referral(bigint, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.credit_rewards(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.credit_rewards(integer) TO dispatch_admin;
