-- test/pgtap/60_matching_solver.sql: assign_batch finds the minimum total
-- cost: on small random zones its total equals a brute force over every
-- assignment of orders to rider slots (or waiting), computed in SQL from
-- the costs nearest_riders reports; ties are decided the same way each time.
\set QUIET on
BEGIN;
SET client_min_messages = warning;
SET LOCAL dispatch.fraud_max_bad_orders = 1000;
SET LOCAL dispatch.clock_override = '2026-03-02 12:00:00+00';
SELECT plan(13);

CREATE TEMP SEQUENCE phone_seq START 10000000;

-- a zone of its own, a merchant per order, riders scattered around
CREATE FUNCTION pg_temp.instance(p_name text, p_lon float8, p_orders int, p_riders int, p_cap_max int)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	z bigint; m bigint; it bigint; c bigint; o bigint; r bigint; i int;
BEGIN
	z := dispatch.create_zone(p_name, ST_MakeEnvelope(p_lon, 30.0, p_lon + 0.05, 30.05, 4326));
	FOR i IN 1..p_orders LOOP
		m := dispatch.create_merchant(z, p_name || ' shop ' || i, p_lon + 0.015 + random() * 0.02, 30.015 + random() * 0.02, 5 + (random() * 20)::int);
		it := dispatch.add_item(m, 'dish', 1500);
		c := dispatch.register_customer('+86139' || nextval('phone_seq'), NULL);
		o := dispatch.place_order(c, m, jsonb_build_array(jsonb_build_object('item_id', it, 'qty', 1)),
		                          p_lon + 0.01 + random() * 0.03, 30.01 + random() * 0.03, 'addr',
		                          (ARRAY['normal', 'hot', 'fresh'])[1 + floor(random() * 3)::int]);
		PERFORM dispatch.confirm_payment(o, 'ref-' || o);
		PERFORM dispatch.merchant_accept(o);
	END LOOP;
	FOR i IN 1..p_riders LOOP
		r := dispatch.register_rider(z, p_name || ' rider ' || i, '+86139' || nextval('phone_seq'), 1 + (random() * (p_cap_max - 1))::int);
		PERFORM dispatch.rider_online(r, p_lon + 0.01 + random() * 0.03, 30.01 + random() * 0.03);
	END LOOP;
	RETURN z;
END $$;

-- brute force: every order waits or takes a free slot of one of its
-- candidates; the j-th extra order of a rider costs load_penalty_s * j more
CREATE FUNCTION pg_temp.brute(p_zone bigint) RETURNS float8 LANGUAGE sql AS $$
WITH RECURSIVE
	st AS (SELECT hold_cost::float8 AS hold, load_penalty_s::float8 AS lp, k_candidates AS k
	         FROM dispatch.matching_settings WHERE zone_id = 0),
	o AS (SELECT row_number() OVER (ORDER BY order_id) AS i, order_id
	        FROM dispatch.orders WHERE zone_id = p_zone AND status = 'accepted'),
	r AS (SELECT row_number() OVER (ORDER BY rider_id)::int AS j, rider_id,
	             capacity - active_orders - pending_offers AS free
	        FROM dispatch.riders WHERE zone_id = p_zone),
	c AS (SELECT o.i, r.j, n.cost - n.load_penalty AS base
	        FROM o CROSS JOIN st CROSS JOIN LATERAL dispatch.nearest_riders(o.order_id, st.k) n
	        JOIN r ON r.rider_id = n.rider_id),
	s(i, used, total) AS (
		SELECT 0::bigint, array_fill(0, ARRAY[(SELECT count(*) FROM r)::int]), 0::float8
		UNION ALL
		SELECT s.i + 1,
		       CASE WHEN x.j IS NULL THEN s.used
		            ELSE s.used[:x.j - 1] || (s.used[x.j] + 1) || s.used[x.j + 1:] END,
		       s.total + x.cost
		  FROM s CROSS JOIN LATERAL (
		       SELECT NULL::int AS j, (SELECT hold FROM st) AS cost
		       UNION ALL
		       SELECT c.j, c.base + (SELECT lp FROM st) * s.used[c.j]
		         FROM c JOIN r ON r.j = c.j
		        WHERE c.i = s.i + 1 AND s.used[c.j] < r.free) x
		 WHERE s.i < (SELECT count(*) FROM o))
SELECT min(total) FROM s WHERE i = (SELECT count(*) FROM o)
$$;

-- assign_batch's total: the offers' costs plus the hold cost of the rest
CREATE FUNCTION pg_temp.batch_total(p_zone bigint) RETURNS float8 LANGUAGE sql AS $$
	WITH b AS (SELECT * FROM dispatch.assign_batch(p_zone)),
	     n AS (SELECT count(*) AS orders FROM dispatch.orders WHERE zone_id = p_zone AND status = 'accepted')
	SELECT COALESCE((SELECT sum(cost) FROM b), 0)
	       + ((SELECT orders FROM n) - (SELECT count(*) FROM b))
	         * (SELECT hold_cost FROM dispatch.matching_settings WHERE zone_id = 0)
$$;

SELECT setseed(0.42);
CREATE TEMP TABLE cases (name text, lon float8, orders int, riders int, cap int);
INSERT INTO cases VALUES
	('bf 2x2', 100.0, 2, 2, 2), ('bf 3x2', 100.1, 3, 2, 2), ('bf 3x4', 100.2, 3, 4, 3),
	('bf 4x3', 100.3, 4, 3, 2), ('bf 5x4', 100.4, 5, 4, 2), ('bf 5x5', 100.5, 5, 5, 1),
	('bf 6x5', 100.6, 6, 5, 1), ('bf 6x6', 100.7, 6, 6, 1), ('bf 7x7', 100.8, 7, 7, 1);
CREATE TEMP TABLE results (name text, zone bigint, brute float8, solver float8);
INSERT INTO results (name, zone) SELECT name, pg_temp.instance(name, lon, orders, riders, cap) FROM cases ORDER BY lon;
-- the brute force first: the batch then takes the riders' slots
UPDATE results SET brute = pg_temp.brute(zone);
UPDATE results SET solver = pg_temp.batch_total(zone);

SELECT is(round(solver::numeric, 2), round(brute::numeric, 2), name || ': assign_batch total equals brute force')
  FROM results ORDER BY name;

SELECT is(
	(SELECT count(*) FROM dispatch.riders r JOIN results x ON x.zone = r.zone_id
	  WHERE r.active_orders + r.pending_offers > r.capacity),
	0::bigint, 'no rider holds more offers and orders than its capacity');

-- ties: two riders on one spot, two orders alike in everything but id
SELECT dispatch.create_zone('ties', ST_MakeEnvelope(101.0, 30.0, 101.05, 30.05, 4326)) AS tz \gset
SELECT dispatch.create_merchant(:tz, 'tie shop', 101.02, 30.02, 10) AS tm \gset
SELECT dispatch.add_item(:tm, 'dish', 1500) AS ti \gset
CREATE TEMP TABLE tie_orders AS
SELECT dispatch.place_order(dispatch.register_customer('+86139' || nextval('phone_seq'), NULL), :tm,
       jsonb_build_array(jsonb_build_object('item_id', :ti, 'qty', 1)), 101.03, 30.03, 'a', 'normal') AS order_id
  FROM generate_series(1, 2);
SELECT dispatch.confirm_payment(order_id, 'r' || order_id), dispatch.merchant_accept(order_id) FROM tie_orders \g /dev/null
CREATE TEMP TABLE tie_riders AS
SELECT dispatch.register_rider(:tz, 'tie rider', '+86139' || nextval('phone_seq'), 1) AS rider_id FROM generate_series(1, 2);
SELECT dispatch.rider_online(rider_id, 101.025, 30.025) FROM tie_riders \g /dev/null

SAVEPOINT before_ties;
SELECT string_agg(order_id || ':' || rider_id, ',' ORDER BY order_id) AS run1 FROM dispatch.assign_batch(:tz) \gset
ROLLBACK TO SAVEPOINT before_ties;
CREATE TEMP TABLE tie_run2 AS SELECT order_id, rider_id FROM dispatch.assign_batch(:tz);
SELECT is((SELECT string_agg(order_id || ':' || rider_id, ',' ORDER BY order_id) FROM tie_run2), :'run1',
          'ties: the same batch twice gives the same offers');
SELECT results_eq('SELECT order_id, rider_id FROM tie_run2 ORDER BY 1',
                  $$SELECT o.order_id, r.rider_id
                      FROM (SELECT order_id, row_number() OVER (ORDER BY order_id) n FROM tie_orders) o
                      JOIN (SELECT rider_id, row_number() OVER (ORDER BY rider_id) n FROM tie_riders) r USING (n)
                     ORDER BY 1$$,
                  'ties: the lower order id gets the lower rider id');
SELECT is((SELECT count(*) FROM tie_run2), 2::bigint, 'ties: both orders are offered');

SELECT * FROM finish();
ROLLBACK;
