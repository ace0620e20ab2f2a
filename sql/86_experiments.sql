-- sql/86_experiments.sql
-- A/B experiments: variants with weights, a customer's variant from a
-- deterministic hash of (experiment name, customer id) computed in C
-- (src/experiment.c), recorded at first exposure, conversions counted from
-- orders, and the analyst view experiment_results with a two-proportion
-- z-test.  docs/experiments.md specifies the bucketing so that another
-- implementation can reproduce it.
--
-- Consent: a customer without marketing consent sees control and is never
-- recorded, so never counted.  An ended experiment shows everybody control
-- and records nobody.  Exposures are customer-wide data (no zone): one row
-- per experiment and customer, written apart from zone data.
-- SQLSTATEs DP631-DP635 (src/errcodes.txt).

CREATE TABLE @extschema@.experiments (
	experiment_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name               text NOT NULL UNIQUE,
	conversion_window  interval NOT NULL,
	created_at         timestamptz NOT NULL,
	ended_at           timestamptz,
	CHECK (ended_at IS NULL OR ended_at >= created_at)
);
COMMENT ON TABLE @extschema@.experiments IS
	'A/B experiments: the name (part of every customer''s hash, so never reused), the conversion window after a first exposure (a length of time, kept in hours: the same in every time zone), and when it was created and ended.';
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

-- An erased customer's exposures leave experiment_exposures (forget_customer,
-- _forget_experiments in sql/80_privacy.sql): their marketing consent is
-- revoked and nothing keyed by their id stays of it.  What they counted
-- stays, as counts without ids, frozen at the erasure (an erased customer
-- orders no more and their orders have all ended, so their conversions
-- cannot change): the analyst views add them to the live exposures.
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

------------------------------------------------------------------------------
-- bucketing and statistics (C)

CREATE FUNCTION @extschema@.experiment_bucket(experiment text, customer_id bigint) RETURNS float8
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_experiment_bucket';
COMMENT ON FUNCTION @extschema@.experiment_bucket(text, bigint) IS
	'A customer''s bucket in [0, 1) for an experiment name: 64-bit FNV-1a over the name in UTF-8, a 0x00 byte and the id as 8 little-endian bytes, then the splitmix64 finaliser; the top 53 bits / 2^53.  Stable across sessions, platforms and releases (docs/experiments.md).';

CREATE FUNCTION @extschema@.two_proportion_p(conv_a bigint, n_a bigint, conv_b bigint, n_b bigint) RETURNS float8
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_two_proportion_p';
COMMENT ON FUNCTION @extschema@.two_proportion_p(bigint, bigint, bigint, bigint) IS
	'Two-sided p-value of the two-proportion z-test (pooled variance) of conv_a of n_a against conv_b of n_b; NULL when a group is empty or the pooled rate is 0 or 1; DP635 for impossible counts.';

------------------------------------------------------------------------------
-- internals

-- PARALLEL RESTRICTED: it reads experiment_variants, which on Citus is a
-- reference table that a parallel worker cannot read in a transaction
-- that wrote to it
CREATE FUNCTION @extschema@._experiment_variant_at(p_experiment_id bigint, p_bucket float8) RETURNS text
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

CREATE FUNCTION @extschema@._experiment_check_variants(p_variants jsonb) RETURNS void
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

------------------------------------------------------------------------------
-- API

CREATE FUNCTION @extschema@.create_experiment(name text, variants jsonb,
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

CREATE FUNCTION @extschema@.end_experiment(name text) RETURNS timestamptz
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

CREATE FUNCTION @extschema@.experiment_variant(experiment text, customer_id bigint) RETURNS text
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

------------------------------------------------------------------------------
-- analyst view: counts and rates only, no customer ids.  On one server it
-- reads the tables; on Citus, where a view's shards are read as the
-- querying role, distribute() makes it read the SECURITY DEFINER function
-- of the same rows below (sql/97_distribute.sql).

CREATE FUNCTION @extschema@._experiment_results()
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

-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON @extschema@.experiment_results FROM PUBLIC;
GRANT SELECT ON @extschema@.experiment_results TO dispatch_analyst, dispatch_admin;
-- on Citus the view's readers call its function (PostgreSQL checks a
-- function in a view against the querying role)
REVOKE ALL ON FUNCTION @extschema@._experiment_results() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._experiment_results() TO dispatch_analyst, dispatch_admin;

REVOKE ALL ON FUNCTION @extschema@.experiment_bucket(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.experiment_bucket(text, bigint) TO dispatch_app, dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.two_proportion_p(bigint, bigint, bigint, bigint) FROM PUBLIC;
-- experiment_results calls it, and a view's user needs the right to call its functions
GRANT EXECUTE ON FUNCTION @extschema@.two_proportion_p(bigint, bigint, bigint, bigint) TO dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.create_experiment(text, jsonb, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.create_experiment(text, jsonb, interval) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.end_experiment(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.end_experiment(text) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.experiment_variant(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.experiment_variant(text, bigint) TO dispatch_app, dispatch_admin;
