-- bench/growth/recommend.sql: refresh_recommendations() on the loaded data,
-- then recommend(customer, 10) for :calls random customers against a
-- baseline, "the most popular open merchants of the customer's last zone"
-- (the zone lookup through orders_customer_idx and the top ten of
-- recommend_popularity: what recommend() costs without personal signals).
-- Each call is timed inside the server (clock_timestamp() around it), calls
-- of both kinds interleaved; p50 and p99 in ms.
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

CREATE TEMP TABLE sample AS
SELECT 1 + floor(random() * (SELECT max(customer_id) FROM dispatch.customers))::bigint AS customer_id
  FROM generate_series(1, :calls);
CREATE TEMP TABLE t (what text, customer_id bigint, ms float8, n int);
DO $$
DECLARE
	c bigint;
	s timestamptz;
	n int;
BEGIN
	-- warm up the plans of this session
	FOR c IN SELECT customer_id FROM sample LIMIT 20 LOOP
		PERFORM count(*) FROM dispatch.recommend(c, 10);
	END LOOP;
	FOR c IN SELECT customer_id FROM sample LOOP
		s := clock_timestamp();
		SELECT count(*) INTO n FROM dispatch.recommend(c, 10);
		INSERT INTO t VALUES ('recommend', c, 1000 * extract(epoch FROM clock_timestamp() - s), n);
		s := clock_timestamp();
		SELECT count(*) INTO n FROM (
			SELECT r.merchant_id
			  FROM dispatch.recommend_popularity r
			  JOIN dispatch.merchants m ON m.merchant_id = r.merchant_id
			 WHERE r.zone_id = (SELECT o.zone_id FROM dispatch.orders o
			                     WHERE o.zone_id = ANY (ARRAY(SELECT z.zone_id FROM dispatch.zones z))
			                       AND o.customer_id = c
			                     ORDER BY o.created_at DESC LIMIT 1)
			   AND m.is_open
			 ORDER BY r.score DESC, r.merchant_id LIMIT 10) b;
		INSERT INTO t VALUES ('baseline', c, 1000 * extract(epoch FROM clock_timestamp() - s), n);
	END LOOP;
END $$;

SELECT format('%-34s calls %5s  p50 %6s ms  p99 %6s ms  max %6s ms  rows/call %s',
              CASE WHEN what = 'recommend' AND consent IS NULL THEN 'recommend(c, 10), all'
                   WHEN what = 'recommend' AND consent THEN 'recommend(c, 10), personalised'
                   WHEN what = 'recommend' THEN 'recommend(c, 10), popularity only'
                   ELSE 'baseline (popular in last zone)' END,
              count(*),
              round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 3),
              round((percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))::numeric, 3),
              round(max(ms)::numeric, 3), round(avg(n), 1)) AS " "
  FROM (SELECT t.*, dispatch.has_consent(t.customer_id, 'personalisation') AS c FROM t) t
 CROSS JOIN LATERAL (VALUES (NULL::boolean), (t.c)) v(consent)
 WHERE what = 'recommend' OR consent IS NULL
 GROUP BY what, consent
 ORDER BY what DESC, consent NULLS FIRST;
SELECT format('ratio of p99, recommend / baseline: %s (goal: recommend p99 <= 5 ms)',
              round(((SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) FROM t WHERE what = 'recommend')
                     / (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) FROM t WHERE what = 'baseline'))::numeric, 2)) AS " ";
