-- sql/90_growth.sql
-- The growth rollup and the analyst views (design part 8).  rollup_campaigns()
-- keeps daily and per-customer tables up to date incrementally: it reads the
-- outbox from where it stopped (like a gateway, so a transaction that
-- commits late is never skipped), recomputes only the zone-days and the
-- customers that those events touched (a cancellation after midnight
-- recomputes the day the order was placed), and pg_cron runs it every
-- minute (schedule_maintenance).  The views read the rollup and hold no
-- personal data and no customer ids.  docs/growth.md defines every figure.

------------------------------------------------------------------------------
-- rollup tables (read by the views only; no role but the owner reads them)

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
	'Rollup: per zone, local day of ordering and campaign: redemptions held (not given back), of them orders that count, customers acquired (their first counting order), GMV of those orders, discounts, and referral rewards paid (in cents).';

CREATE TABLE @extschema@.customer_stats (
	customer_id        bigint PRIMARY KEY,
	first_at           timestamptz NOT NULL,
	first_zone_id      bigint NOT NULL,
	first_order_id     bigint NOT NULL,
	first_campaign_id  bigint,
	second_at          timestamptz,
	last_at            timestamptz NOT NULL,
	orders             integer NOT NULL,
	monetary_cents     bigint NOT NULL
);
COMMENT ON TABLE @extschema@.customer_stats IS
	'Rollup, per customer with a counting order: first order (time, zone, id, the campaign that acquired them: its discount, or the referral that brought them), second and last order times, orders and money paid.';

CREATE TABLE @extschema@.customer_weeks (
	customer_id  bigint NOT NULL,
	week         date NOT NULL,
	PRIMARY KEY (customer_id, week)
);
COMMENT ON TABLE @extschema@.customer_weeks IS
	'Rollup: the local weeks (Monday) in which a customer placed a counting order, for cohort retention.';

CREATE TABLE @extschema@.customer_zone_months (
	zone_id      bigint NOT NULL,
	month        date NOT NULL,
	customer_id  bigint NOT NULL,
	PRIMARY KEY (zone_id, month, customer_id)
);
CREATE INDEX customer_zone_months_customer_idx ON @extschema@.customer_zone_months (customer_id);
COMMENT ON TABLE @extschema@.customer_zone_months IS
	'Rollup: the customers active (a counting order) per zone and local month.';

CREATE TABLE @extschema@.rollup_runs (
	run_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	started_at    timestamptz NOT NULL,
	finished_at   timestamptz NOT NULL,
	full_run      boolean NOT NULL,
	events        bigint NOT NULL,
	zone_days     integer NOT NULL,
	customers     integer NOT NULL,
	rewards       integer NOT NULL
);
COMMENT ON TABLE @extschema@.rollup_runs IS
	'One row per rollup_campaigns() run: what it read and recomputed.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_runs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_runs_run_id_seq', '');
REVOKE ALL ON @extschema@.zone_daily, @extschema@.campaign_daily, @extschema@.customer_stats,
              @extschema@.customer_weeks, @extschema@.customer_zone_months, @extschema@.rollup_runs FROM PUBLIC;

-- a zone's orders of a day, and its redemptions, for the rollup
CREATE INDEX orders_created_idx ON @extschema@.orders (zone_id, created_at);
COMMENT ON INDEX @extschema@.orders_created_idx IS
	'Orders of a zone by time of ordering: the rollup recomputes whole days.';
CREATE INDEX redemptions_created_idx ON @extschema@.redemptions (zone_id, created_at);
COMMENT ON INDEX @extschema@.redemptions_created_idx IS
	'Redemptions of a zone by time of ordering: the rollup recomputes whole days.';

------------------------------------------------------------------------------
-- the rollup

CREATE FUNCTION @extschema@._rollup_zone_days(p_days jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_n integer;
BEGIN
	-- p_days: [{"zone_id": n, "day": "YYYY-MM-DD"}, ...]
	CREATE TEMP TABLE IF NOT EXISTS rollup_days (zone_id bigint, day date, lo timestamptz, hi timestamptz,
	                                             PRIMARY KEY (zone_id, day)) ON COMMIT DROP;
	TRUNCATE rollup_days;
	INSERT INTO rollup_days
	SELECT DISTINCT (e.v OPERATOR(pg_catalog.->>) 'zone_id')::bigint, (e.v OPERATOR(pg_catalog.->>) 'day')::date,
	       ((e.v OPERATOR(pg_catalog.->>) 'day')::date)::timestamp AT TIME ZONE z.timezone,
	       ((e.v OPERATOR(pg_catalog.->>) 'day')::date OPERATOR(pg_catalog.+) 1)::timestamp AT TIME ZONE z.timezone
	  FROM pg_catalog.jsonb_array_elements(p_days) e(v)
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) (e.v OPERATOR(pg_catalog.->>) 'zone_id')::bigint;
	GET DIAGNOSTICS v_n = ROW_COUNT;

	DELETE FROM @extschema@.zone_daily t USING rollup_days d
	 WHERE t.zone_id OPERATOR(pg_catalog.=) d.zone_id AND t.day OPERATOR(pg_catalog.=) d.day;
	INSERT INTO @extschema@.zone_daily (zone_id, day, orders, delivered, cancelled, gmv_cents, discount_cents)
	SELECT d.zone_id, d.day,
	       pg_catalog.count(*) FILTER (WHERE @extschema@._order_counts(o.status)),
	       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'delivered'),
	       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'cancelled'),
	       COALESCE(pg_catalog.sum(o.subtotal_cents::bigint OPERATOR(pg_catalog.+) o.fee_cents)
	                FILTER (WHERE @extschema@._order_counts(o.status)), 0),
	       COALESCE(pg_catalog.sum(o.discount_cents) FILTER (WHERE @extschema@._order_counts(o.status)), 0)
	  FROM rollup_days d
	 -- day by day through orders_created_idx
	 CROSS JOIN LATERAL (SELECT o.status, o.subtotal_cents, o.fee_cents, o.discount_cents FROM @extschema@.orders o
	                      WHERE o.zone_id OPERATOR(pg_catalog.=) d.zone_id
	                        AND o.created_at OPERATOR(pg_catalog.>=) d.lo AND o.created_at OPERATOR(pg_catalog.<) d.hi
	                     OFFSET 0) o
	 GROUP BY d.zone_id, d.day;

	DELETE FROM @extschema@.campaign_daily t USING rollup_days d
	 WHERE t.zone_id OPERATOR(pg_catalog.=) d.zone_id AND t.day OPERATOR(pg_catalog.=) d.day;
	INSERT INTO @extschema@.campaign_daily (zone_id, day, campaign_id, redemptions, orders, new_customers,
	                                        gmv_cents, discount_cents, reward_cents)
	SELECT x.zone_id, x.day, x.campaign_id, pg_catalog.sum(x.redemptions), pg_catalog.sum(x.orders),
	       pg_catalog.sum(x.new_customers), pg_catalog.sum(x.gmv_cents), pg_catalog.sum(x.discount_cents),
	       pg_catalog.sum(x.reward_cents)
	  FROM (
		-- discounts: the redemptions held by orders of the day
		SELECT d.zone_id, d.day, r.campaign_id,
		       pg_catalog.count(*) AS redemptions,
		       pg_catalog.count(*) FILTER (WHERE @extschema@._order_counts(o.status)) AS orders,
		       pg_catalog.count(*) FILTER (WHERE s.first_order_id OPERATOR(pg_catalog.=) o.order_id) AS new_customers,
		       COALESCE(pg_catalog.sum(o.subtotal_cents::bigint OPERATOR(pg_catalog.+) o.fee_cents)
		                FILTER (WHERE @extschema@._order_counts(o.status)), 0) AS gmv_cents,
		       COALESCE(pg_catalog.sum(r.discount_cents) FILTER (WHERE @extschema@._order_counts(o.status)), 0) AS discount_cents,
		       0::bigint AS reward_cents
		  FROM rollup_days d
		 CROSS JOIN LATERAL (SELECT r.* FROM @extschema@.redemptions r
		                      WHERE r.zone_id OPERATOR(pg_catalog.=) d.zone_id
		                        AND r.created_at OPERATOR(pg_catalog.>=) d.lo AND r.created_at OPERATOR(pg_catalog.<) d.hi
		                        AND r.status OPERATOR(pg_catalog.=) 'applied' AND r.campaign_id IS NOT NULL OFFSET 0) r
		 CROSS JOIN LATERAL (SELECT o.order_id, o.status, o.subtotal_cents, o.fee_cents FROM @extschema@.orders o
		                      WHERE o.zone_id OPERATOR(pg_catalog.=) r.zone_id AND o.order_id OPERATOR(pg_catalog.=) r.order_id OFFSET 0) o
		  LEFT JOIN LATERAL (SELECT s.first_order_id FROM @extschema@.customer_stats s
		                      WHERE s.customer_id OPERATOR(pg_catalog.=) r.customer_id OFFSET 0) s ON true
		 GROUP BY 1, 2, 3
		UNION ALL
		-- referrals: rewards paid for referees whose first order (of that day) was delivered
		SELECT d.zone_id, d.day, f.campaign_id, 0, 0,
		       pg_catalog.count(*), 0,
		       0,
		       pg_catalog.sum((COALESCE((c.rules OPERATOR(pg_catalog.->>) 'referrer_points')::bigint, 0)
		                       OPERATOR(pg_catalog.+) COALESCE((c.rules OPERATOR(pg_catalog.->>) 'referee_points')::bigint, 0))
		                      OPERATOR(pg_catalog.*) COALESCE((c.rules OPERATOR(pg_catalog.->>) 'cents_per_point')::bigint, 1))
		  FROM rollup_days d
		  JOIN @extschema@.referrals f ON f.status OPERATOR(pg_catalog.=) 'rewarded'
		   AND @extschema@.zone_of(f.order_id) OPERATOR(pg_catalog.=) d.zone_id
		  JOIN @extschema@.orders o
		    ON o.zone_id OPERATOR(pg_catalog.=) d.zone_id AND o.order_id OPERATOR(pg_catalog.=) f.order_id
		   AND o.created_at OPERATOR(pg_catalog.>=) d.lo AND o.created_at OPERATOR(pg_catalog.<) d.hi
		  JOIN @extschema@.campaigns c ON c.campaign_id OPERATOR(pg_catalog.=) f.campaign_id
		 GROUP BY 1, 2, 3
	  ) x
	 GROUP BY 1, 2, 3;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@._rollup_zone_days(jsonb) IS
	'Internal (rollup_campaigns): recomputes zone_daily and campaign_daily for the given zone-days from the orders, redemptions and referrals of those days; returns how many zone-days.';
REVOKE ALL ON FUNCTION @extschema@._rollup_zone_days(jsonb) FROM PUBLIC;

CREATE FUNCTION @extschema@._rollup_customers(p_customers bigint[]) RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_moved jsonb;
BEGIN
	CREATE TEMP TABLE IF NOT EXISTS rollup_orders (customer_id bigint, zone_id bigint, order_id bigint,
	                                               created_at timestamptz, local_at timestamp,
	                                               total_cents integer, campaign_id bigint) ON COMMIT DROP;
	TRUNCATE rollup_orders;
	-- every counting order of these customers, in every zone
	INSERT INTO rollup_orders
	SELECT o.customer_id, o.zone_id, o.order_id, o.created_at, o.created_at AT TIME ZONE z.timezone,
	       o.total_cents, r.campaign_id
	  FROM pg_catalog.unnest(p_customers) c(customer_id)
	 CROSS JOIN @extschema@.zones z
	 -- zone by zone through orders_customer_idx, whatever the planner guesses
	 -- (OFFSET 0 keeps each LATERAL subquery a parameterised index scan)
	 CROSS JOIN LATERAL (SELECT o.* FROM @extschema@.orders o
	                      WHERE o.zone_id OPERATOR(pg_catalog.=) z.zone_id
	                        AND o.customer_id OPERATOR(pg_catalog.=) c.customer_id
	                        AND @extschema@._order_counts(o.status) OFFSET 0) o
	  LEFT JOIN LATERAL (SELECT r.campaign_id FROM @extschema@.redemptions r
	                      WHERE r.zone_id OPERATOR(pg_catalog.=) o.zone_id AND r.order_id OPERATOR(pg_catalog.=) o.order_id
	                        AND r.status OPERATOR(pg_catalog.=) 'applied' OFFSET 0) r ON true;

	-- a customer whose first order moves (it was cancelled, or an earlier one
	-- was paid late) changes the acquisitions of two days: both are returned
	WITH fresh AS (
		SELECT DISTINCT ON (x.customer_id) x.customer_id, x.zone_id, x.created_at
		  FROM rollup_orders x ORDER BY x.customer_id, x.created_at, x.order_id)
	SELECT COALESCE(pg_catalog.jsonb_agg(DISTINCT pg_catalog.jsonb_build_object(
	           'zone_id', m.zone_id, 'day', (m.at AT TIME ZONE z.timezone)::date)), '[]')
	  INTO v_moved
	  FROM (SELECT s.first_zone_id AS zone_id, s.first_at AS at FROM @extschema@.customer_stats s
	         WHERE s.customer_id OPERATOR(pg_catalog.=) ANY (p_customers)
	        UNION
	        SELECT f.zone_id, f.created_at FROM fresh f) m
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) m.zone_id;

	DELETE FROM @extschema@.customer_stats s WHERE s.customer_id OPERATOR(pg_catalog.=) ANY (p_customers);
	INSERT INTO @extschema@.customer_stats (customer_id, first_at, first_zone_id, first_order_id, first_campaign_id,
	                                        second_at, last_at, orders, monetary_cents)
	SELECT a.customer_id, (a.firsts[1]).created_at, (a.firsts[1]).zone_id, (a.firsts[1]).order_id,
	       COALESCE((a.firsts[1]).campaign_id,
	                (SELECT f.campaign_id FROM @extschema@.referrals f
	                  WHERE f.customer_id OPERATOR(pg_catalog.=) a.customer_id AND f.status OPERATOR(pg_catalog.=) 'rewarded')),
	       (a.firsts[2]).created_at, a.last_at, a.orders, a.monetary
	  FROM (SELECT x.customer_id,
	               pg_catalog.array_agg(x ORDER BY x.created_at, x.order_id) AS firsts,
	               pg_catalog.max(x.created_at) AS last_at,
	               pg_catalog.count(*) AS orders,
	               pg_catalog.sum(x.total_cents) AS monetary
	          FROM rollup_orders x GROUP BY x.customer_id) a;

	DELETE FROM @extschema@.customer_weeks w WHERE w.customer_id OPERATOR(pg_catalog.=) ANY (p_customers);
	INSERT INTO @extschema@.customer_weeks (customer_id, week)
	SELECT DISTINCT x.customer_id, pg_catalog.date_trunc('week', x.local_at)::date FROM rollup_orders x;

	DELETE FROM @extschema@.customer_zone_months m WHERE m.customer_id OPERATOR(pg_catalog.=) ANY (p_customers);
	INSERT INTO @extschema@.customer_zone_months (zone_id, month, customer_id)
	SELECT DISTINCT x.zone_id, pg_catalog.date_trunc('month', x.local_at)::date, x.customer_id FROM rollup_orders x;
	RETURN v_moved;
END
$$;
COMMENT ON FUNCTION @extschema@._rollup_customers(bigint[]) IS
	'Internal (rollup_campaigns): recomputes customer_stats, customer_weeks and customer_zone_months of these customers from all their counting orders; returns the zone-days of their old and new first orders.';
REVOKE ALL ON FUNCTION @extschema@._rollup_customers(bigint[]) FROM PUBLIC;

CREATE FUNCTION @extschema@.rollup_campaigns(full_run boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_rewards integer;
	v_last bigint;
	v_horizon bigint;
	v_events bigint := 0;
	v_customers bigint[];
	v_days jsonb;
	v_moved jsonb;
	v_ndays integer;
	v_run bigint;
BEGIN
	-- rewards first: a delivery's referral reward is in place when its day is rolled up
	v_rewards := @extschema@.credit_rewards();
	INSERT INTO @extschema@.growth_cursors (consumer) VALUES ('rollup_campaigns') ON CONFLICT DO NOTHING;
	SELECT g.last_seq INTO v_last FROM @extschema@.growth_cursors g
	 WHERE g.consumer OPERATOR(pg_catalog.=) 'rollup_campaigns' FOR UPDATE;
	-- every event below this horizon is committed or never will be (events_since)
	v_horizon := (pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text::bigint) OPERATOR(pg_catalog.<<) 20;

	IF full_run THEN
		SELECT pg_catalog.array_agg(DISTINCT o.customer_id) INTO v_customers FROM @extschema@.orders o;
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('zone_id', d.zone_id, 'day', d.day)), '[]')
		  INTO v_days
		  FROM (SELECT DISTINCT o.zone_id, (o.created_at AT TIME ZONE z.timezone)::date AS day
		          FROM @extschema@.orders o JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) o.zone_id) d;
		TRUNCATE @extschema@.zone_daily, @extschema@.campaign_daily, @extschema@.customer_stats,
		         @extschema@.customer_weeks, @extschema@.customer_zone_months;
	ELSE
		-- the orders that changed since the last run
		WITH changed AS (
			SELECT DISTINCT e.zone_id, e.order_id, e.customer_id
			  FROM @extschema@.events e
			 WHERE e.seq OPERATOR(pg_catalog.>) v_last AND e.seq OPERATOR(pg_catalog.<) v_horizon
			   AND e.kind OPERATOR(pg_catalog.=) 'order_status' AND e.order_id IS NOT NULL)
		SELECT pg_catalog.array_agg(DISTINCT c.customer_id),
		       COALESCE(pg_catalog.jsonb_agg(DISTINCT pg_catalog.jsonb_build_object(
		           'zone_id', o.zone_id, 'day', (o.created_at AT TIME ZONE z.timezone)::date)), '[]')
		  INTO v_customers, v_days
		  FROM changed c
		  JOIN @extschema@.orders o ON o.zone_id OPERATOR(pg_catalog.=) c.zone_id AND o.order_id OPERATOR(pg_catalog.=) c.order_id
		  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) o.zone_id;
		SELECT pg_catalog.count(*) INTO v_events FROM @extschema@.events e
		 WHERE e.seq OPERATOR(pg_catalog.>) v_last AND e.seq OPERATOR(pg_catalog.<) v_horizon;
	END IF;

	-- customers before days: a day's acquisitions read customer_stats
	v_moved := @extschema@._rollup_customers(COALESCE(v_customers, '{}'));
	v_ndays := @extschema@._rollup_zone_days(v_days OPERATOR(pg_catalog.||) v_moved);

	UPDATE @extschema@.growth_cursors g
	   SET last_seq = GREATEST(g.last_seq, v_horizon OPERATOR(pg_catalog.-) 1), updated_at = @extschema@.clock()
	 WHERE g.consumer OPERATOR(pg_catalog.=) 'rollup_campaigns';
	INSERT INTO @extschema@.rollup_runs (started_at, finished_at, full_run, events, zone_days, customers, rewards)
	VALUES (v_started, pg_catalog.clock_timestamp(), full_run, v_events, v_ndays,
	        COALESCE(pg_catalog.cardinality(v_customers), 0), v_rewards)
	RETURNING run_id INTO v_run;
	RETURN v_run;
END
$$;
COMMENT ON FUNCTION @extschema@.rollup_campaigns(boolean) IS
	'Job: credits rewards (credit_rewards), then brings the growth rollup up to date: only the zone-days and customers touched by events since the last run (late events and cancellations after midnight included), or everything with full_run.  Returns the rollup_runs row.  Run every minute by pg_cron (schedule_maintenance).';

INSERT INTO @extschema@.maintenance_jobs (jobname, schedule, command, runs_in) VALUES
	('dispatch-growth', '* * * * *', 'SELECT @extschema@.rollup_campaigns()', 'dispatch');

------------------------------------------------------------------------------
-- analyst views: no personal data, no customer ids

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
	'Per campaign, from the rollup: redemptions held, customers acquired (their first order took the campaign, or it was a rewarded referral), orders that count, their GMV, cost (discounts and referral rewards), cost per acquisition, ROI = (GMV - cost) / cost, and the share of customers acquired at least 30 days ago who ordered again within 30 days.';

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
	SELECT m.zone_id, m.month, pg_catalog.count(*) AS customers
	  FROM @extschema@.customer_zone_months m GROUP BY 1, 2),
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
	 GROUP BY 1, 2),
topics AS (
	SELECT t.zone_id, t.month, pg_catalog.array_agg(t.topic ORDER BY t.n DESC, t.topic) AS top
	  FROM (SELECT f.zone_id, pg_catalog.date_trunc('month', f.created_at AT TIME ZONE z.timezone)::date AS month,
	               u.topic, pg_catalog.count(*) AS n,
	               pg_catalog.row_number() OVER (PARTITION BY f.zone_id, pg_catalog.date_trunc('month', f.created_at AT TIME ZONE z.timezone)
	                                             ORDER BY pg_catalog.count(*) DESC, u.topic) AS rank
	          FROM @extschema@.feedback f JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) f.zone_id
	         CROSS JOIN LATERAL pg_catalog.unnest(f.topics) u(topic)
	         GROUP BY f.zone_id, 2, u.topic, pg_catalog.date_trunc('month', f.created_at AT TIME ZONE z.timezone)) t
	 WHERE t.rank OPERATOR(pg_catalog.<=) 3
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
       COALESCE(t.top, '{}') AS top_complaints
  FROM zm
  LEFT JOIN active a ON a.zone_id OPERATOR(pg_catalog.=) zm.zone_id AND a.month OPERATOR(pg_catalog.=) zm.month
  LEFT JOIN camp c ON c.zone_id OPERATOR(pg_catalog.=) zm.zone_id AND c.month OPERATOR(pg_catalog.=) zm.month
  LEFT JOIN fb ON fb.zone_id OPERATOR(pg_catalog.=) zm.zone_id AND fb.month OPERATOR(pg_catalog.=) zm.month
  LEFT JOIN topics t ON t.zone_id OPERATOR(pg_catalog.=) zm.zone_id AND t.month OPERATOR(pg_catalog.=) zm.month;
COMMENT ON VIEW @extschema@.monthly_review IS
	'The monthly review per local month and zone: active customers, orders that count, delivered, cancelled, GMV, discounts, customers acquired by campaigns, campaign cost and ROI, reviews, mean sentiment (combined score), share negative and the three most raised complaint topics.';

------------------------------------------------------------------------------
-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON FUNCTION @extschema@.rollup_campaigns(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rollup_campaigns(boolean) TO dispatch_admin;
REVOKE ALL ON @extschema@.campaign_performance, @extschema@.customer_retention, @extschema@.customer_segments,
              @extschema@.monthly_review FROM PUBLIC;
GRANT SELECT ON @extschema@.campaign_performance, @extschema@.customer_retention, @extschema@.customer_segments,
                @extschema@.monthly_review TO dispatch_analyst, dispatch_admin;
