-- test/pgtap/86_experiments.sql: A/B experiments (sql/86_experiments.sql,
-- src/experiment.c): the bucket is the documented hash (golden values), the
-- split follows the weights, the marketing consent gates exposure, the
-- first exposure is recorded once, conversions count orders placed within
-- the window and not cancelled, experiment_results on a hand-checked data
-- set, every refusal, and who may read what.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(100);
SET LOCAL dispatch.fraud_max_bad_orders = 1000;

------------------------------------------------------------------------------
-- the bucket: golden values
--
-- experiment_bucket = k / 2^53 with k the top 53 bits of the hash
-- (docs/experiments.md); these k were computed by an implementation of
-- the documented algorithm outside the database.  A change of the
-- algorithm moves customers of running experiments: it must fail here.

SELECT volatility_is('dispatch', 'experiment_bucket', ARRAY['text', 'bigint'], 'immutable',
	'experiment_bucket is immutable');
SELECT is(
	ARRAY(SELECT (dispatch.experiment_bucket(g.name, g.id) * 9007199254740992::float8)::bigint
	        FROM (VALUES (1, 'checkout_button', 1::bigint), (2, 'checkout_button', 2), (3, 'checkout_button', -1),
	                     (4, '新菜单', 42), (5, '', 0),
	                     (6, 'checkout_button', 9223372036854775807),
	                     (7, 'checkout_button', -9223372036854775808)) g(n, name, id)
	       ORDER BY g.n),
	ARRAY[2277531538535035, 7972988659469290, 6876663819269464, 5908603728562622, 8997156957210589,
	      1743427197825396, 654584720701567]::bigint[],
	'experiment_bucket gives the documented values (ASCII and UTF-8 names, negative and extreme ids)');
SELECT is(dispatch.experiment_bucket('checkout_button', 1), 0.2528567953391553::float8,
	'a bucket is exactly k / 2^53');
SELECT ok((SELECT bool_and(b >= 0 AND b < 1) FROM (SELECT dispatch.experiment_bucket('range', i) b
                                                  FROM generate_series(-1000, 1000) i) s),
	'buckets lie in [0, 1)');
SELECT isnt(dispatch.experiment_bucket('a', 1), dispatch.experiment_bucket('b', 1),
	'the experiment name is part of the hash');
SELECT is(dispatch.experiment_bucket(NULL, 1), NULL, 'strict: NULL in, NULL out');

------------------------------------------------------------------------------
-- the split over 100,000 ids follows the weights within 1 percentage point

SELECT dispatch.create_experiment('split_two', '[{"name": "control", "weight": 50}, {"name": "b", "weight": 50}]') AS split_two \gset
SELECT dispatch.create_experiment('split_three',
	'[{"name": "control", "weight": 20}, {"name": "b", "weight": 30}, {"name": "c", "weight": 50}]') AS split_three \gset
CREATE TEMP TABLE split AS
SELECT 'split_two' AS experiment, dispatch._experiment_variant_at(:split_two, dispatch.experiment_bucket('split_two', i)) AS variant
  FROM generate_series(1, 100000) i
UNION ALL
SELECT 'split_three', dispatch._experiment_variant_at(:split_three, dispatch.experiment_bucket('split_three', i))
  FROM generate_series(1, 100000) i;
SELECT is(
	(SELECT array_agg(s.experiment || '/' || s.variant ORDER BY s.experiment, s.variant)
	   FROM (SELECT experiment, variant, count(*) n FROM split GROUP BY 1, 2) s
	   JOIN (VALUES ('split_two', 'control', 50), ('split_two', 'b', 50),
	                ('split_three', 'control', 20), ('split_three', 'b', 30), ('split_three', 'c', 50)) w(e, v, pct)
	     ON w.e = s.experiment AND w.v = s.variant
	  WHERE abs(s.n / 1000.0 - w.pct) > 1),
	NULL, 'every variant of a 50/50 and a 20/30/50 split is within 1 percentage point of its weight');
SELECT results_eq(
	$$ SELECT experiment, variant, count(*) FROM split GROUP BY 1, 2 ORDER BY 1, 2 $$,
	$$ VALUES ('split_three', 'b', 30189::bigint), ('split_three', 'c', 49872), ('split_three', 'control', 19939),
	          ('split_two', 'b', 49675), ('split_two', 'control', 50325) $$,
	'the split is the documented one (counts computed outside the database)');
SELECT is(dispatch._experiment_variant_at(:split_three, 0), 'control', 'bucket 0 falls into the first variant');
-- 20/30/50: control up to k < 0.2 x 2^53 = 1801439850948198.4
SELECT is(dispatch._experiment_variant_at(:split_three, 1801439850948198::float8 / 9007199254740992), 'control',
	'the last bucket below 0.2 falls into the first variant');
SELECT is(dispatch._experiment_variant_at(:split_three, 1801439850948199::float8 / 9007199254740992), 'b',
	'the first bucket above 0.2 into the second');
SELECT is(dispatch._experiment_variant_at(:split_three, 1 - 2 ^ -53), 'c', 'the largest bucket falls into the last');

------------------------------------------------------------------------------
-- consent gate and first exposure
--
-- 'gate' is named so that :customer falls into b (the first such name of
-- a short list), so that control can only come from the gate.

SELECT 'gate-' || min(n) AS gate FROM generate_series(1, 100) n
 WHERE dispatch.experiment_bucket('gate-' || n, :customer) >= 0.5 \gset
SET LOCAL dispatch.clock_override = '2026-05-01 12:00:00+00';
SELECT dispatch.create_experiment(:'gate', '[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}]') AS gate_id \gset
SELECT is(dispatch._experiment_variant_at(:gate_id, dispatch.experiment_bucket(:'gate', :customer)), 'b',
	'the customer''s bucket falls into b');

SELECT ok(NOT dispatch.has_consent(:customer, 'marketing'), 'the customer has not consented to marketing');
SELECT is(dispatch.experiment_variant(:'gate', :customer), 'control', 'without marketing consent: control');
SELECT is((SELECT count(*) FROM dispatch.experiment_exposures WHERE experiment_id = :gate_id), 0::bigint,
	'and no exposure is recorded');
SELECT is((SELECT sum(exposed) FROM dispatch.experiment_results WHERE experiment = :'gate'), 0::numeric,
	'nor counted in experiment_results');

SET LOCAL dispatch.clock_override = '2026-06-01 12:00:00+00';
SELECT dispatch.grant_consent(:customer, 'marketing', 'v1') \g /dev/null
SELECT is(dispatch.experiment_variant(:'gate', :customer), 'b', 'with consent: the variant of the bucket');
SELECT results_eq(
	format($$ SELECT variant, exposed_at FROM dispatch.experiment_exposures WHERE experiment_id = %s AND customer_id = %s $$,
	       :gate_id, :customer),
	$$ VALUES ('b', '2026-06-01 12:00:00+00'::timestamptz) $$,
	'the first exposure is recorded with its variant and time');
SET LOCAL dispatch.clock_override = '2026-06-02 12:00:00+00';
SELECT is(dispatch.experiment_variant(:'gate', :customer), 'b', 'a later call gives the same variant');
SELECT results_eq(
	format($$ SELECT count(*), min(exposed_at) FROM dispatch.experiment_exposures WHERE experiment_id = %s $$, :gate_id),
	$$ VALUES (1::bigint, '2026-06-01 12:00:00+00'::timestamptz) $$,
	'recorded once: the first exposure''s time stays');
UPDATE dispatch.experiment_exposures SET variant = 'control' WHERE experiment_id = :gate_id AND customer_id = :customer;
SELECT is(dispatch.experiment_variant(:'gate', :customer), 'control', 'a later call returns the recorded variant');
UPDATE dispatch.experiment_exposures SET variant = 'b' WHERE experiment_id = :gate_id AND customer_id = :customer;
SELECT results_eq(format($$ SELECT variant, exposed FROM dispatch.experiment_results WHERE experiment = %L ORDER BY position $$, :'gate'),
	$$ VALUES ('control', 0::bigint), ('b', 1::bigint) $$, 'a consenting exposure is counted in its variant');

SELECT dispatch.revoke_consent(:customer, 'marketing') \g /dev/null
SELECT is(dispatch.experiment_variant(:'gate', :customer), 'control', 'consent revoked: control again');
SELECT is((SELECT count(*) FROM dispatch.experiment_exposures WHERE experiment_id = :gate_id), 1::bigint,
	'the exposure made with consent stays');
SELECT dispatch.grant_consent(:customer, 'marketing', 'v1') \g /dev/null
SELECT dispatch.grant_consent(:customer2, 'marketing', 'v1') \g /dev/null

-- an ended experiment shows control and records nobody
SET LOCAL dispatch.clock_override = '2026-06-03 12:00:00+00';
SELECT is(dispatch.end_experiment(:'gate'), '2026-06-03 12:00:00+00'::timestamptz, 'end_experiment returns when it ended');
SET LOCAL dispatch.clock_override = '2026-06-04 12:00:00+00';
SELECT is(dispatch.end_experiment(:'gate'), '2026-06-03 12:00:00+00'::timestamptz, 'ending it again is a no-op');
SELECT is(dispatch.experiment_variant(:'gate', :customer), 'control', 'an ended experiment shows control');
SELECT is(dispatch.experiment_variant(:'gate', :customer2), 'control', 'to everybody');
SELECT is((SELECT count(*) FROM dispatch.experiment_exposures WHERE experiment_id = :gate_id), 1::bigint,
	'and records nobody');
SELECT is((SELECT ended_at FROM dispatch.experiment_results WHERE experiment = :'gate' AND variant = 'b'),
	'2026-06-03 12:00:00+00'::timestamptz, 'experiment_results shows when it ended');

------------------------------------------------------------------------------
-- conversion: an order placed within the window after exposure, not
-- cancelled, in any zone

SELECT dispatch.create_merchant(:other_zone, 'Far kitchen', 120.05, 30.05) AS far_merchant \gset
SELECT dispatch.add_item(:far_merchant, 'soup', 900) AS soup \gset
CREATE TEMP TABLE conv_customers AS
SELECT c.label, dispatch.register_customer(format('+86138000100%s', c.n), NULL) AS customer_id
  FROM (VALUES (1, 'within'), (2, 'after'), (3, 'cancelled'), (4, 'before'), (5, 'other_zone'), (6, 'unpaid'),
               (7, 'edge')) c(n, label);
SELECT dispatch.grant_consent(customer_id, 'marketing', 'v1') FROM conv_customers \g /dev/null
CREATE FUNCTION pg_temp.cust(p_label text) RETURNS bigint LANGUAGE sql AS
	$$ SELECT customer_id FROM conv_customers WHERE label = p_label $$;
CREATE FUNCTION pg_temp.order_at(p_customer bigint, p_at timestamptz, p_pay boolean DEFAULT true,
                                 p_far boolean DEFAULT false) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	o bigint;
BEGIN
	-- SET LOCAL, not set_config(): on Citus only SET LOCAL reaches the workers
	EXECUTE format('SET LOCAL dispatch.clock_override = %L', p_at);
	IF p_far THEN
		o := dispatch.place_order(p_customer, current_setting('t.far_merchant')::bigint,
		                          jsonb_build_array(jsonb_build_object('item_id', current_setting('t.soup')::bigint, 'qty', 1)),
		                          120.06, 30.06, 'far away');
	ELSE
		o := dispatch.place_order(p_customer, current_setting('t.merchant')::bigint,
		                          jsonb_build_array(jsonb_build_object('item_id', current_setting('t.noodles')::bigint, 'qty', 1)),
		                          121.445, 31.196, 'somewhere');
	END IF;
	IF p_pay THEN
		PERFORM dispatch.confirm_payment(o, 'ref-' || o);
	END IF;
	RETURN o;
END $$;
SELECT set_config('t.far_merchant', :'far_merchant', true), set_config('t.soup', :'soup', true),
       set_config('t.merchant', :'merchant', true), set_config('t.noodles', :'noodles', true) \g /dev/null

SET LOCAL dispatch.clock_override = '2026-06-10 12:00:00+00';
SELECT dispatch.create_experiment('conv', '[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}]', '7 days') AS conv \gset
SELECT dispatch.experiment_variant('conv', customer_id) FROM conv_customers \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.experiment_exposures WHERE experiment_id = :conv), 7::bigint,
	'seven consenting customers exposed');
SELECT pg_temp.order_at(pg_temp.cust('before'), '2026-06-10 11:00:00+00') \g /dev/null
SELECT pg_temp.order_at(pg_temp.cust('within'), '2026-06-17 11:00:00+00') \g /dev/null
SELECT pg_temp.order_at(pg_temp.cust('edge'), '2026-06-17 12:00:00+00') \g /dev/null
SELECT pg_temp.order_at(pg_temp.cust('after'), '2026-06-18 12:00:00+00') \g /dev/null
SELECT pg_temp.order_at(pg_temp.cust('other_zone'), '2026-06-11 12:00:00+00', true, true) AS far_order \gset
SELECT pg_temp.order_at(pg_temp.cust('cancelled'), '2026-06-11 12:00:00+00') AS cancelled_order \gset
SELECT dispatch.cancel_order(:cancelled_order, 'test') \g /dev/null
SELECT pg_temp.order_at(pg_temp.cust('unpaid'), '2026-06-11 12:00:00+00', false) \g /dev/null
SELECT is(dispatch.zone_of(:far_order), :other_zone::bigint, 'one order is in the other zone');
RESET dispatch.clock_override;
SET LOCAL dispatch.clock_override = '2026-07-01 00:00:00+00';

-- one customer per variant at a time: the others are removed meanwhile
CREATE TEMP TABLE conv_saved AS SELECT * FROM dispatch.experiment_exposures WHERE experiment_id = :conv;
CREATE FUNCTION pg_temp.alone(p_label text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	v boolean;
	-- read first: Citus refuses a volatile function in the WHERE of a DELETE
	v_customer bigint := pg_temp.cust(p_label);
BEGIN
	DELETE FROM dispatch.experiment_exposures e
	 WHERE e.experiment_id = (SELECT experiment_id FROM dispatch.experiments WHERE name = 'conv')
	   AND e.customer_id <> v_customer;
	SELECT sum(r.converted) = 1 INTO v FROM dispatch.experiment_results r WHERE r.experiment = 'conv';
	INSERT INTO dispatch.experiment_exposures SELECT * FROM conv_saved s
	 WHERE NOT EXISTS (SELECT FROM dispatch.experiment_exposures e
	                    WHERE e.experiment_id = s.experiment_id AND e.customer_id = s.customer_id);
	RETURN v;
END $$;
SELECT ok(pg_temp.alone('within'), 'an order placed 6 days 23 hours after exposure converts');
SELECT ok(pg_temp.alone('other_zone'), 'an order in another zone converts');
SELECT ok(NOT pg_temp.alone('edge'), 'an order placed exactly 7 days after exposure does not (the window is half-open)');
SELECT ok(NOT pg_temp.alone('after'), 'an order placed 8 days after exposure does not');
SELECT ok(NOT pg_temp.alone('before'), 'an order placed before exposure does not');
SELECT ok(NOT pg_temp.alone('cancelled'), 'a cancelled order does not');
SELECT ok(NOT pg_temp.alone('unpaid'), 'an order never placed (payment pending) does not');
SELECT results_eq($$ SELECT sum(exposed), sum(converted) FROM dispatch.experiment_results WHERE experiment = 'conv' $$,
	$$ VALUES (7::numeric, 2::numeric) $$, 'together: 7 exposed, 2 converted');

------------------------------------------------------------------------------
-- experiment_results on a hand-checked data set
--
-- Exposures are written directly here (the variants chosen by hand), at
-- 2026-08-01 12:00; converters are 18 registered customers with an order
-- placed at 13:00, the others plain customer rows without orders.
--
-- hc:   control 10 exposed, 2 converted; b 10 exposed, 5 converted;
--       c (weight 1) never exposed.
--       b: rate 0.5, control 0.2, absolute lift 0.3, relative lift 1.5;
--       pooled p = 7/20 = 0.35, se = sqrt(0.35 * 0.65 * (1/10 + 1/10))
--       = sqrt(0.0455) = 0.213307, z = 0.3 / 0.213307 = 1.406422,
--       p-value = erfc(1.406422 / sqrt 2) = erfc(0.994490) = 0.159599.
--       too_few: fewer than 100 exposures.
-- big:  control 100 exposed, 6 converted; b 100 and 6; c 99 and 6;
--       d 100 and 0.
--       b: z = 0, p-value = erfc(0) = 1; pooled 12/200 = 0.06, expected
--       conversions 100 * 0.06 = 6 >= 5, non-conversions 94: enough.
--       c: 99 exposures: too few (its p-value: pooled 12/199, se =
--       sqrt(0.060302 * 0.939698 * (1/99 + 1/100)) = 0.033745, z =
--       (0.060606 - 0.06) / 0.033745 = 0.017958, p = 0.985673).
--       d: pooled 6/200 = 0.03, expected conversions 100 * 0.03 = 3 < 5:
--       too few; rate 0, absolute lift -0.06, relative lift -1; se =
--       sqrt(0.03 * 0.97 * (2/100)) = 0.024125, z = -0.06 / 0.024125 =
--       -2.487080, p = erfc(1.758631) = 0.012880.

SET LOCAL dispatch.clock_override = '2026-08-01 12:00:00+00';
SELECT dispatch.create_experiment('hc',
	'[{"name": "control", "weight": 45}, {"name": "b", "weight": 45}, {"name": "c", "weight": 1}]') AS hc \gset
SELECT dispatch.create_experiment('big',
	'[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}, {"name": "c", "weight": 1}, {"name": "d", "weight": 1}]') AS big \gset
CREATE TEMP TABLE converters AS
SELECT n, dispatch.register_customer(format('+86138000200%s', lpad(n::text, 2, '0')), NULL) AS customer_id
  FROM generate_series(1, 18) n;
CREATE TEMP TABLE others AS
WITH c AS (INSERT INTO dispatch.customers (created_at) SELECT now() FROM generate_series(1, 381) RETURNING customer_id)
SELECT row_number() OVER (ORDER BY customer_id) AS n, customer_id FROM c;
SELECT count(pg_temp.order_at(customer_id, '2026-08-01 13:00:00+00')) FROM converters \g /dev/null
SET LOCAL dispatch.clock_override = '2026-08-20 00:00:00+00';
INSERT INTO dispatch.experiment_exposures (experiment_id, customer_id, variant, exposed_at)
SELECT :hc, customer_id, CASE WHEN n <= 2 THEN 'control' ELSE 'b' END, '2026-08-01 12:00:00+00'::timestamptz
  FROM converters WHERE n <= 7
UNION ALL
SELECT :hc, customer_id, CASE WHEN n <= 8 THEN 'control' ELSE 'b' END, '2026-08-01 12:00:00+00'::timestamptz
  FROM others WHERE n <= 13
UNION ALL
SELECT :big, customer_id, CASE WHEN n <= 6 THEN 'control' WHEN n <= 12 THEN 'b' ELSE 'c' END, '2026-08-01 12:00:00+00'::timestamptz
  FROM converters
UNION ALL
SELECT :big, customer_id, CASE WHEN n <= 94 THEN 'control' WHEN n <= 188 THEN 'b' WHEN n <= 281 THEN 'c' ELSE 'd' END,
       '2026-08-01 12:00:00+00'
  FROM others;

SELECT results_eq(
	$$ SELECT variant, exposed, converted, round(rate::numeric, 12), round(abs_lift::numeric, 12),
	          round(rel_lift::numeric, 12), too_few
	     FROM dispatch.experiment_results WHERE experiment = 'hc' ORDER BY position $$,
	$$ VALUES ('control', 10::bigint, 2::bigint, 0.2, NULL::numeric, NULL::numeric, true),
	          ('b', 10, 5, 0.5, 0.3, 1.5, true),
	          ('c', 0, 0, NULL, NULL, NULL, true) $$,
	'hc: exposed, converted, rate, lifts and too_few per variant');
SELECT ok((SELECT abs(p_value - 0.159599) < 1e-6 FROM dispatch.experiment_results WHERE experiment = 'hc' AND variant = 'b'),
	'hc: the p-value of b against control is the hand-computed 0.159599');
SELECT is((SELECT p_value FROM dispatch.experiment_results WHERE experiment = 'hc' AND variant = 'control'), NULL,
	'control has no p-value of its own');
SELECT is((SELECT p_value FROM dispatch.experiment_results WHERE experiment = 'hc' AND variant = 'c'), NULL,
	'a variant never exposed has none either');
SELECT results_eq(
	$$ SELECT variant, exposed, converted, round(rate::numeric, 6), round(abs_lift::numeric, 6),
	          round(rel_lift::numeric, 6), round(p_value::numeric, 6), too_few
	     FROM dispatch.experiment_results WHERE experiment = 'big' ORDER BY position $$,
	$$ VALUES ('control', 100::bigint, 6::bigint, 0.06, NULL::numeric, NULL::numeric, NULL::numeric, false),
	          ('b', 100, 6, 0.06, 0.0, 0.0, 1.0, false),
	          ('c', 99, 6, 0.060606, 0.000606, 0.010101, 0.985673, true),
	          ('d', 100, 0, 0.0, -0.06, -1.0, 0.012880, true) $$,
	'big: enough exposures and expected conversions, too few exposures, too few expected conversions');
SELECT hasnt_column('dispatch', 'experiment_results', 'customer_id', 'experiment_results has no customer ids');

-- the z-test alone
SELECT ok(abs(dispatch.two_proportion_p(5, 10, 2, 10) - 0.1595989424) < 1e-9, 'two_proportion_p(5 of 10, 2 of 10)');
SELECT is(dispatch.two_proportion_p(5, 10, 2, 10), dispatch.two_proportion_p(2, 10, 5, 10), 'two-sided: symmetric');
SELECT ok(abs(dispatch.two_proportion_p(0, 100, 6, 100) - 0.0128796427) < 1e-9,
	'two_proportion_p(0 of 100, 6 of 100): z = -2.487080, p = 0.012880');
SELECT is(dispatch.two_proportion_p(0, 0, 3, 10), NULL, 'undefined without exposures');
SELECT is(dispatch.two_proportion_p(0, 10, 0, 10), NULL, 'undefined when nobody converts (no variance)');
SELECT is(dispatch.two_proportion_p(10, 10, 5, 5), NULL, 'undefined when everybody converts');
SELECT throws_ok('SELECT dispatch.two_proportion_p(11, 10, 2, 10)', 'DP635', NULL,
	'more conversions than exposures is an error');
SELECT throws_ok('SELECT dispatch.two_proportion_p(1, 10, -2, 10)', 'DP635', NULL, 'so are negative counts');

------------------------------------------------------------------------------
-- refusals: a DP error naming why

\set ok_variants '[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}]'
SELECT throws_ok(format('SELECT dispatch.create_experiment(NULL, %L)', :'ok_variants'), 'DP631', NULL, 'a NULL name');
SELECT throws_ok(format('SELECT dispatch.create_experiment(%L, %L)', '   ', :'ok_variants'), 'DP631', NULL, 'a blank name');
SELECT throws_ok(format('SELECT dispatch.create_experiment(%L, %L)', repeat('x', 101), :'ok_variants'), 'DP631', NULL,
	'a name of 101 characters');
SELECT throws_ok(format('SELECT dispatch.create_experiment(%L, %L, %L)', 'w', :'ok_variants', '0'), 'DP631', NULL,
	'an empty conversion window');
SELECT throws_ok(format('SELECT dispatch.create_experiment(%L, %L, %L)', 'w', :'ok_variants', '-1 day'), 'DP631', NULL,
	'a negative conversion window');
SELECT throws_ok(format('SELECT dispatch.create_experiment(%L, %L, %L)', 'w', :'ok_variants', '91 days'), 'DP631', NULL,
	'a conversion window over 90 days');
SELECT throws_ok(format('SELECT dispatch.create_experiment(%L, %L, NULL)', 'w', :'ok_variants'), 'DP631', NULL,
	'a NULL conversion window');
SELECT throws_ok(format('SELECT dispatch.create_experiment(%L, %L)', 'v', v.variants), 'DP632',
	'bad experiment variants: ' || v.why, 'variants refused: ' || v.why)
  FROM (VALUES (1, NULL, 'they are not a JSON array'),
               (2, '{"name": "control", "weight": 1}', 'they are not a JSON array'),
               (3, '[{"name": "control", "weight": 1}]', 'there are 1, not 2 to 20'),
               (4, (SELECT jsonb_agg(jsonb_build_object('name', CASE WHEN i = 1 THEN 'control' ELSE 'v' || i END, 'weight', 1))
                      FROM generate_series(1, 21) i)::text, 'there are 21, not 2 to 20'),
               (5, '[{"name": "control", "weight": 1}, "b"]', 'variant 2 is not an object of exactly "name" and "weight"'),
               (6, '[{"name": "control", "weight": 1}, {"name": "b", "weight": 1, "note": "x"}]',
                   'variant 2 is not an object of exactly "name" and "weight"'),
               (7, '[{"name": "control", "weight": 1}, {"name": 7, "weight": 1}]', 'variant 2 has no name of 1 to 64 characters'),
               (8, '[{"name": "", "weight": 1}, {"name": "control", "weight": 1}]', 'variant 1 has no name of 1 to 64 characters'),
               (9, format('[{"name": "control", "weight": 1}, {"name": "%s", "weight": 1}]', repeat('n', 65)),
                   'variant 2 has no name of 1 to 64 characters'),
               (10, '[{"name": "control", "weight": 0}, {"name": "b", "weight": 1}]', 'variant 1 has no whole weight between 1 and 10000'),
               (11, '[{"name": "control", "weight": 1.5}, {"name": "b", "weight": 1}]', 'variant 1 has no whole weight between 1 and 10000'),
               (12, '[{"name": "control", "weight": "50"}, {"name": "b", "weight": 1}]', 'variant 1 has no whole weight between 1 and 10000'),
               (13, '[{"name": "control", "weight": 1}, {"name": "b", "weight": 10001}]', 'variant 2 has no whole weight between 1 and 10000'),
               (14, '[{"name": "control", "weight": 1}, {"name": "b", "weight": -3}]', 'variant 2 has no whole weight between 1 and 10000'),
               (15, '[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}, {"name": "b", "weight": 2}]',
                    'the name "b" is given twice'),
               (16, '[{"name": "control", "weight": 1}, {"name": "control", "weight": 1}]', 'the name "control" is given twice'),
               (17, '[{"name": "Control", "weight": 1}, {"name": "b", "weight": 1}]', 'none is named "control"')) v(n, variants, why)
 ORDER BY v.n;
SELECT throws_ok(format('SELECT dispatch.create_experiment(%L, %L)', 'hc', :'ok_variants'), 'DP633', NULL,
	'a name in use');
SELECT throws_ok(format('SELECT dispatch.create_experiment(%L, %L)', :'gate', :'ok_variants'), 'DP633', NULL,
	'the name of an ended experiment is not reused');
SELECT throws_ok(format('SELECT dispatch.experiment_variant(%L, %s)', 'nope', :customer), 'DP634', NULL,
	'experiment_variant: an unknown experiment');
SELECT throws_ok($$SELECT dispatch.end_experiment('nope')$$, 'DP634', NULL, 'end_experiment: an unknown experiment');
SELECT throws_ok($$SELECT dispatch.experiment_variant('hc', -5)$$, 'DP012', NULL, 'experiment_variant: an unknown customer');
SELECT lives_ok(format('SELECT dispatch.create_experiment(%L, %L, %L)', repeat('x', 100), :'ok_variants', '1 minute'),
	'a name of 100 characters and a window of 1 minute are fine');
SELECT is((SELECT array_agg(name || ':' || weight ORDER BY position) FROM dispatch.experiment_variants
            WHERE experiment_id = :split_three), ARRAY['control:20', 'b:30', 'c:50'],
	'the variants are stored in the order given');

------------------------------------------------------------------------------
-- erasure: an erased customer's exposures leave, keyed by nothing; what
-- they counted stays, in experiment_results and experiment_by_day alike
--
-- 'gone' converts (an order delivered after the exposure), 'idle' does
-- not; 'stays' is not erased.  The rollup has counted the first two and
-- not 'stays' when the erasure comes.

RESET dispatch.clock_override;
SELECT dispatch.create_experiment('erasure', :'ok_variants') AS erasure \gset
CREATE TEMP TABLE erased_customers AS
SELECT c.label, dispatch.register_customer(format('+86138000300%s', c.n), NULL) AS customer_id
  FROM (VALUES (1, 'gone'), (2, 'idle'), (3, 'stays')) c(n, label);
SELECT dispatch.grant_consent(customer_id, 'marketing', 'v1') FROM erased_customers \g /dev/null
SELECT count(dispatch.experiment_variant('erasure', customer_id)) FROM erased_customers WHERE label <> 'stays' \g /dev/null
\ir ../fixtures/order_in.sql
SELECT set_config('t.customer', customer_id::text, true), set_config('t.item', :'noodles', true),
       set_config('t.rider', :'rider', true)
  FROM erased_customers WHERE label = 'gone' \g /dev/null
SELECT pg_temp.order_in('delivered') \g /dev/null
SELECT dispatch.rollup_campaigns() \g /dev/null
SELECT count(dispatch.experiment_variant('erasure', customer_id)) FROM erased_customers WHERE label = 'stays' \g /dev/null
CREATE TEMP TABLE erasure_results AS
SELECT variant, exposed, converted, rate, p_value FROM dispatch.experiment_results WHERE experiment = 'erasure';
SELECT is((SELECT sum(exposed)::integer || '/' || sum(converted)::integer FROM erasure_results), '3/1',
	'erasure: three exposed, one converted');
SELECT count(dispatch.forget_customer(customer_id)) FROM erased_customers WHERE label <> 'stays' \g /dev/null
SELECT is((SELECT count(*) FROM dispatch.experiment_exposures e JOIN erased_customers c USING (customer_id)
            WHERE c.label <> 'stays'), 0::bigint,
	'an erased customer''s exposures are gone');
SELECT is((SELECT count(*) FROM dispatch.experiment_facts e JOIN erased_customers c USING (customer_id)
            WHERE c.label <> 'stays'), 0::bigint,
	'and what the rollup kept of them by their id');
SELECT results_eq($$ SELECT variant, exposed, converted, rate, p_value FROM dispatch.experiment_results
                      WHERE experiment = 'erasure' ORDER BY position $$,
	$$ SELECT r.variant, r.exposed, r.converted, r.rate, r.p_value FROM erasure_results r
	     JOIN dispatch.experiment_variants v ON v.experiment_id = (SELECT experiment_id FROM dispatch.experiments
	                                                                WHERE name = 'erasure') AND v.name = r.variant
	    ORDER BY v.position $$,
	'experiment_results counts them as before the erasure');
SELECT is((SELECT sum(exposed)::integer || '/' || sum(converted)::integer FROM dispatch.experiment_erased
            WHERE experiment_id = :erasure), '2/1',
	'as counts without ids (experiment_erased)');
SELECT dispatch.rollup_campaigns() \g /dev/null
SELECT is((SELECT sum(exposed)::integer || '/' || sum(converted)::integer FROM dispatch.experiment_by_day
            WHERE experiment = 'erasure'), '3/1',
	'experiment_by_day counts each once, after the next run');
SELECT dispatch.rollup_campaigns(true) \g /dev/null
SELECT is((SELECT sum(exposed)::integer || '/' || sum(converted)::integer FROM dispatch.experiment_by_day
            WHERE experiment = 'erasure'), '3/1',
	'and after a full run');

------------------------------------------------------------------------------
-- who may do what

SELECT function_privs_are('dispatch', 'create_experiment', ARRAY['text', 'jsonb', 'interval'], 'dispatch_app',
	ARRAY[]::text[], 'the app does not create experiments');
SELECT function_privs_are('dispatch', 'create_experiment', ARRAY['text', 'jsonb', 'interval'], 'dispatch_admin',
	ARRAY['EXECUTE'], 'the admin does');
SELECT function_privs_are('dispatch', 'experiment_variant', ARRAY['text', 'bigint'], 'dispatch_app',
	ARRAY['EXECUTE'], 'the app asks for variants');
SELECT table_privs_are('dispatch', 'experiment_results', 'dispatch_analyst', ARRAY['SELECT'],
	'the analyst reads experiment_results');
SELECT table_privs_are('dispatch', 'experiment_exposures', 'dispatch_analyst', ARRAY[]::text[],
	'and not the exposures');
-- On Citus the coordinator reads the shards over connections it opens as
-- the current role: dispatch_analyst, a group role without LOGIN, cannot
-- open them (its members, who log in, can), and no transaction reads as
-- another role the shards it wrote.  There the read is checked as rights
-- (SELECT on the view, EXECUTE on the definer function it reads) and the
-- rows as the owner reads them (test/citus/20_analysts.sql reads it as a
-- member of the role).
SELECT count(*) AS big_rows FROM dispatch.experiment_results WHERE experiment = 'big' \gset
CREATE FUNCTION pg_temp.analyst_reads_results(p_owner_rows bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
		RETURN results_eq($q$ SELECT count(*) FROM dispatch.experiment_results WHERE experiment = 'big' $q$,
		                  'VALUES (4::bigint)', 'as the analyst, experiment_results reads');
	END IF;
	RETURN ok(has_table_privilege('dispatch_analyst', 'dispatch.experiment_results', 'SELECT')
	          AND has_function_privilege('dispatch_analyst', 'dispatch._experiment_results()', 'EXECUTE')
	          AND p_owner_rows = 4, 'as the analyst, experiment_results reads');
END $$;
SET LOCAL ROLE dispatch_analyst;
SELECT pg_temp.analyst_reads_results(:big_rows);
SELECT throws_ok('SELECT count(*) FROM dispatch.experiment_exposures', '42501', NULL,
	'as the analyst, experiment_exposures is refused');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
