-- sql/87_recommend.sql
-- Recommendations: which open merchants to show a customer first, and why.
--
-- Three signals, each in [0, 1]:
--   usual           the customer's own orders per merchant over the last
--                   history_days, each weighted by 0.5 ^ (age / half life):
--                   frequency and recency in one number, divided by the
--                   customer's best merchant's;
--   often_with      customers who ordered from X also ordered from Y: the
--                   cosine of the two merchants' customer sets (customers of
--                   both / sqrt(customers of X * customers of Y)) over the
--                   last coorder_days, times the customer's usual signal of
--                   X, the best X counting;
--   popular_nearby  distinct customers of the merchant over the last
--                   popular_days in the customer's last drop-off zone (the
--                   zone of their latest order), divided by the zone's best.
-- score = w_usual * usual + w_often * often_with + w_popular * popular_nearby;
-- the reason names the largest of the three terms.  Personal signals (usual,
-- often_with) need the customer's consent to personalisation
-- (has_consent(customer, 'personalisation'), read at each call); without it
-- only popularity near the last drop-off zone counts.  A customer without
-- orders has no drop-off zone: recommend() returns no rows for them, since a
-- merchant can deliver only inside its own zone.  Closed merchants never
-- appear.
--
-- The customer's own history is read live through orders_customer_idx (one
-- probe per zone); popularity and co-ordering are aggregates over all
-- customers, kept in recommend_popularity and recommend_coorders by
-- refresh_recommendations() (zone by zone; called by the growth rollup on
-- pg_cron).  They hold counts of customers, never a customer id, and a pair
-- of merchants is kept only when at least coorder_min_customers customers
-- ordered from both.  Orders that count: takeaway orders placed, accepted,
-- assigned, picked up or delivered (not unpaid, not cancelled).
--
-- "Your usual, 10% off": usual_offer() issues a personal one-use coupon of
-- the running campaign of kind 'usual' (sql/52_campaigns.sql) for the
-- customer's usual merchant, chosen by the same usual signal.  An offer is
-- marketing chosen from personal data: it needs both consents.
--
-- SQLSTATEs in src/errcodes.txt (section DP6xx, growth); an unknown or
-- forgotten customer is DP012, as everywhere.

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

------------------------------------------------------------------------------
-- internals

CREATE FUNCTION @extschema@._recommend_params(
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

CREATE FUNCTION @extschema@._recommend_history(p_customer_id bigint, p_since timestamptz, p_now timestamptz)
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

CREATE FUNCTION @extschema@._recommend_last_zone(p_customer_id bigint) RETURNS bigint
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

CREATE FUNCTION @extschema@._recommend_rank(p_customer_id bigint, p_k integer, p_personal boolean,
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

CREATE FUNCTION @extschema@._recommend_refresh_zone(p_zone_id bigint, p_now timestamptz)
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

------------------------------------------------------------------------------
-- API

CREATE FUNCTION @extschema@.recommend(customer_id bigint, k integer DEFAULT 10)
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

CREATE FUNCTION @extschema@.refresh_recommendations(zone_id bigint DEFAULT NULL) RETURNS integer
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

CREATE FUNCTION @extschema@.usual_offer(customer_id bigint)
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

-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON FUNCTION @extschema@.recommend(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.recommend(bigint, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.refresh_recommendations(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.refresh_recommendations(bigint) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.usual_offer(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.usual_offer(bigint) TO dispatch_app, dispatch_admin;
