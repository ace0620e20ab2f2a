-- bench/growth/recommend.sql: refresh_recommendations() on the loaded data,
-- then recommend(customer, 10) for random customers against a
-- baseline, "the most popular open merchants of the customer's last zone"
-- (the zone lookup through orders_customer_idx and the top ten of
-- recommend_popularity: what recommend() costs without personal signals).
-- Each call is timed inside the server (clock_timestamp() around it), calls
-- of both kinds interleaved, for random customers; bench.rounds rounds of
-- bench.calls calls, p50 and p99 in ms per round and their medians.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT setseed(0.7);

SELECT format('data: %s zones, %s merchants (%s open), %s customers (%s consent to personalisation), %s orders',
              (SELECT count(*) FROM dispatch.zones), (SELECT count(*) FROM dispatch.merchants),
              (SELECT count(*) FILTER (WHERE is_open) FROM dispatch.merchants),
              (SELECT count(*) FROM dispatch.customers), (SELECT count(*) FROM dispatch.consents),
              (SELECT count(*) FROM dispatch.orders)) AS " ";

CREATE TEMP TABLE refresh_t (run int, ms float8);
DO $$
DECLARE s timestamptz;
BEGIN
	FOR i IN 1..2 LOOP
		s := clock_timestamp();
		PERFORM dispatch.refresh_recommendations();
		INSERT INTO refresh_t VALUES (i, 1000 * extract(epoch FROM clock_timestamp() - s));
	END LOOP;
END $$;
SELECT format('refresh_recommendations(), every zone: %s ms (first), %s ms (again, idempotent); %s popularity rows, %s co-ordering pairs; slowest zone %s ms',
              round((SELECT ms FROM refresh_t WHERE run = 1)::numeric), round((SELECT ms FROM refresh_t WHERE run = 2)::numeric),
              (SELECT count(*) FROM dispatch.recommend_popularity), (SELECT count(*) FROM dispatch.recommend_coorders),
              round((SELECT max(duration_ms) FROM dispatch.recommend_refreshes)::numeric)) AS " ";
ANALYZE dispatch.recommend_popularity;
ANALYZE dispatch.recommend_coorders;
-- the refresh's writes (and the hint bits its reads set on the loaded
-- orders) go to disk now, not in the middle of the first round
CHECKPOINT;

CREATE TEMP TABLE t (round int, what text, customer_id bigint, personal boolean, ms float8, n int);
DO $$
DECLARE
	c bigint;
	s timestamptz;
	n int;
	v_max bigint := (SELECT max(customer_id) FROM dispatch.customers);
BEGIN
	-- warm up the plans of this session
	FOR i IN 1..20 LOOP
		PERFORM count(*) FROM dispatch.recommend(1 + floor(random() * v_max)::bigint, 10);
	END LOOP;
	FOR r IN 1..current_setting('bench.rounds')::int LOOP
		FOR i IN 1..current_setting('bench.calls')::int LOOP
			c := 1 + floor(random() * v_max)::bigint;
			s := clock_timestamp();
			SELECT count(*) INTO n FROM dispatch.recommend(c, 10);
			INSERT INTO t VALUES (r, 'recommend', c, NULL, 1000 * extract(epoch FROM clock_timestamp() - s), n);
			s := clock_timestamp();
			SELECT count(*) INTO n FROM (
				SELECT p.merchant_id
				  FROM dispatch.recommend_popularity p
				  JOIN dispatch.merchants m ON m.merchant_id = p.merchant_id
				 WHERE p.zone_id = (SELECT o.zone_id FROM dispatch.orders o
				                     WHERE o.zone_id = ANY (ARRAY(SELECT z.zone_id FROM dispatch.zones z))
				                       AND o.customer_id = c
				                     ORDER BY o.created_at DESC LIMIT 1)
				   AND m.is_open
				 ORDER BY p.score DESC, p.merchant_id LIMIT 10) b;
			INSERT INTO t VALUES (r, 'baseline', c, NULL, 1000 * extract(epoch FROM clock_timestamp() - s), n);
		END LOOP;
	END LOOP;
END $$;
UPDATE t SET personal = dispatch.has_consent(customer_id, 'personalisation');

CREATE TEMP VIEW q AS
SELECT round, what, personal, count(*) AS calls, avg(n) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max
  FROM t GROUP BY GROUPING SETS ((round, what), (round, what, personal));
SELECT format('round %s  %-34s calls %5s  p50 %6s ms  p99 %6s ms  max %6s ms  rows/call %s', round,
              CASE WHEN what = 'baseline' THEN 'baseline (popular in last zone)'
                   WHEN personal IS NULL THEN 'recommend(c, 10), all'
                   WHEN personal THEN 'recommend(c, 10), personalised'
                   ELSE 'recommend(c, 10), popularity only' END,
              calls, round(p50::numeric, 3), round(p99::numeric, 3), round(max::numeric, 3), round(n, 1)) AS " "
  FROM q WHERE what = 'recommend' OR personal IS NULL
 ORDER BY round, what DESC, personal NULLS FIRST, personal DESC;
SELECT format('median over %s rounds: recommend p50 %s ms, p99 %s ms; baseline p50 %s ms, p99 %s ms; p99 ratio %s (goal: recommend p99 <= 5 ms)',
              count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r50)::numeric, 3),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r99)::numeric, 3),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY b50)::numeric, 3),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY b99)::numeric, 3),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r99 / b99)::numeric, 1)) AS " "
  FROM (SELECT round,
               max(p50) FILTER (WHERE what = 'recommend') AS r50, max(p99) FILTER (WHERE what = 'recommend') AS r99,
               max(p50) FILTER (WHERE what = 'baseline') AS b50, max(p99) FILTER (WHERE what = 'baseline') AS b99
          FROM q WHERE personal IS NULL GROUP BY round) x;
