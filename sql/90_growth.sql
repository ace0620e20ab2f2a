-- sql/90_growth.sql
-- The growth rollup and the analyst views (design part 8).  rollup_campaigns()
-- keeps daily and per-customer tables up to date incrementally: it reads the
-- outbox from where it stopped (like a gateway, so a transaction that
-- commits late is never skipped), and for each order that those events
-- touched compares what the order is now with what the rollup last counted
-- for it (order_facts), adding the difference to the day the order was
-- placed (a cancellation after midnight corrects the day before) and to its
-- customer.  pg_cron runs it every minute (schedule_maintenance).  The
-- views read the rollup and hold no personal data and no customer ids.
-- docs/growth.md defines every figure.

------------------------------------------------------------------------------
-- rollup tables (read by the views only; no role but the owner reads them)

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
-- dumped with the cursors they were counted up to (growth_cursors): the
-- rollup is incremental, and a restore that brought back the cursors
-- without what was counted before them would leave the history uncounted
SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_facts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.zone_daily', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaign_daily', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_stats', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_weeks', '');
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
SELECT pg_catalog.pg_extension_config_dump('@extschema@.experiment_facts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.experiment_daily', '');
REVOKE ALL ON @extschema@.experiment_facts, @extschema@.experiment_daily FROM PUBLIC;

-- a customer's exposures, when their orders change
CREATE INDEX experiment_exposures_customer_idx ON @extschema@.experiment_exposures (customer_id);
COMMENT ON INDEX @extschema@.experiment_exposures_customer_idx IS
	'The exposures of a customer: the rollup recounts their conversions when their orders change.';

-- the referral a delivered order paid, for the rollup
CREATE INDEX referrals_order_idx ON @extschema@.referrals (order_id) WHERE order_id IS NOT NULL;
COMMENT ON INDEX @extschema@.referrals_order_idx IS
	'The referral an order settled: the rollup counts its reward on the order''s day.';

------------------------------------------------------------------------------
-- the rollup
--
-- Its working sets are temporary tables (pg_temp.rollup_*), each made
-- afresh with DROP TABLE IF EXISTS and CREATE, never one found in pg_temp:
-- rollup_campaigns is SECURITY DEFINER, and a table the calling role made
-- there beforehand, with a trigger of its own, would run that trigger as
-- the owner of the extension.  A table of the caller's session by one of
-- these names is dropped.

-- Folds the difference between what changed orders are now and what was
-- counted for them into the daily and weekly tables.  rollup_delta holds
-- one row per changed order and side: sign +1 for the order now, -1 for
-- its old facts.
CREATE FUNCTION @extschema@._rollup_fold() RETURNS void
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

-- Brings customer_stats of the customers of changed orders up to date, and
-- moves their acquisitions (campaign_daily.new_customers) with their first
-- order.  A customer whose change only adds counting orders at or after
-- their last is updated from the difference; one who lost an order, or got
-- one before their last, is rebuilt from order_facts.  Returns how many
-- were rebuilt.
CREATE FUNCTION @extschema@._rollup_customers() RETURNS bigint
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

-- Counts the exposures not counted yet (a transaction that recorded one and
-- commits late is seen by a later run) and recounts the conversions of
-- customers whose orders changed, adding the difference to experiment_daily.
-- Returns how many exposures changed.
CREATE FUNCTION @extschema@._rollup_experiments() RETURNS bigint
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

CREATE FUNCTION @extschema@.rollup_campaigns(full_run boolean DEFAULT false) RETURNS bigint
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

INSERT INTO @extschema@.maintenance_jobs (jobname, schedule, command, runs_in) VALUES
	('dispatch-budgets', '* * * * *', 'SELECT @extschema@.balance_budgets()', 'dispatch'),
	('dispatch-growth', '* * * * *', 'SELECT @extschema@.rollup_campaigns()', 'dispatch'),
	('dispatch-recommend', '*/15 * * * *', 'SELECT @extschema@.refresh_recommendations()', 'dispatch');

------------------------------------------------------------------------------
-- analyst views: no personal data, no customer ids.  On one server each
-- reads the tables, so that a filter on it reaches their indexes.  On
-- Citus a view's shards, those of reference tables too, are read as the
-- querying role, which holds no right on them: there distribute() makes
-- each view read the SECURITY DEFINER function of the same rows defined
-- before it (sql/97_distribute.sql).

CREATE FUNCTION @extschema@._campaign_performance()
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

-- A zone's campaign is taken by its zone's orders only (_offer_refusal), so
-- its rollup and its budget's slots lie in its zone: they are read by zone,
-- so that a zone filter on the view reaches them (here and on Citus,
-- docs/citus.md); a city-wide campaign's (zone_id NULL, which no zone
-- filter matches) over every zone, its budget left from campaign_budget_left.
CREATE VIEW @extschema@.campaign_performance AS
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
COMMENT ON VIEW @extschema@.campaign_performance IS
	'Per campaign, from the rollup: redemptions held, customers acquired (a paid referral counts for its referral campaign, anyone else for the campaign of their first order), orders that count, their GMV, cost (discounts and referral rewards), cost per acquisition, ROI = (GMV - cost) / cost, and the share of customers acquired at least 30 days ago who ordered again within 30 days.';

CREATE FUNCTION @extschema@._experiment_by_day()
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

CREATE VIEW @extschema@.experiment_by_day AS
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

CREATE FUNCTION @extschema@._customer_retention()
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

CREATE FUNCTION @extschema@._customer_segments()
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

CREATE FUNCTION @extschema@._monthly_review()
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

------------------------------------------------------------------------------
-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON FUNCTION @extschema@.rollup_campaigns(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rollup_campaigns(boolean) TO dispatch_admin;
REVOKE ALL ON @extschema@.campaign_performance, @extschema@.experiment_by_day, @extschema@.customer_retention,
              @extschema@.customer_segments, @extschema@.monthly_review FROM PUBLIC;
GRANT SELECT ON @extschema@.campaign_performance, @extschema@.experiment_by_day, @extschema@.customer_retention,
                @extschema@.customer_segments, @extschema@.monthly_review TO dispatch_analyst, dispatch_admin;
-- on Citus the views' readers call their functions (PostgreSQL checks a
-- function in a view against the querying role)
REVOKE ALL ON FUNCTION @extschema@._campaign_performance() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._campaign_performance() TO dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._experiment_by_day() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._experiment_by_day() TO dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._customer_retention() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._customer_retention() TO dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._customer_segments() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._customer_segments() TO dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._monthly_review() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._monthly_review() TO dispatch_analyst, dispatch_admin;
