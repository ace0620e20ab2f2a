-- sql/75_feedback.sql
-- Customer feedback: one review per order and channel, scored and tagged
-- as it is submitted, and the analyst views over it.
--
-- Channels are open-ended names, so an order can collect any number of
-- reviews; one of them counts (counted): the order's first.  It alone
-- earns the points campaign's feedback_points and is what the analyst
-- views count, so another channel adds no points and no weight to a
-- merchant's scores, and a day's figures do not change once the day is
-- over.  submit_feedback sets the flag while it holds the order's row
-- lock, and a unique index keeps it to one row per order.
--
-- The review text is personal data: it is stored only sealed with the
-- customer's data key (comment_enc, sql/30_keys.sql) and is removed by the
-- retention purge (purge_feedback_text, sql/78_retention.sql), while the
-- score and the topics, which say nothing about the person, stay for the
-- views.  Feedback ids follow the zone layout of sql/20_schema.sql:
-- (zone_id << 40) | n.

CREATE SEQUENCE @extschema@.feedback_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.feedback (
	zone_id        bigint NOT NULL,
	feedback_id    bigint NOT NULL,
	order_id       bigint NOT NULL,
	customer_id    bigint NOT NULL,
	merchant_id    bigint,
	rider_id       bigint,
	channel        text NOT NULL CHECK (channel ~ '^[a-z][a-z0-9_]{0,31}$'),
	rating         smallint CHECK (rating BETWEEN 1 AND 5),
	comment_enc    bytea,
	text_score     real CHECK (text_score BETWEEN -1 AND 1),
	score          real NOT NULL CHECK (score BETWEEN -1 AND 1),
	topics         text[] NOT NULL DEFAULT '{}',
	counted        boolean NOT NULL,
	created_at     timestamptz NOT NULL,
	text_purged_at timestamptz,
	PRIMARY KEY (zone_id, feedback_id),
	UNIQUE (zone_id, order_id, channel),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders (zone_id, order_id),
	CHECK (zone_id OPERATOR(pg_catalog.=) (feedback_id OPERATOR(pg_catalog.>>) 40)),
	CHECK (rating IS NOT NULL OR text_score IS NOT NULL)
);
ALTER SEQUENCE @extschema@.feedback_id_seq OWNED BY @extschema@.feedback.feedback_id;
CREATE INDEX feedback_day_idx ON @extschema@.feedback (zone_id, created_at);
CREATE INDEX feedback_merchant_idx ON @extschema@.feedback (zone_id, merchant_id, created_at);
CREATE UNIQUE INDEX feedback_counted_idx ON @extschema@.feedback (zone_id, order_id) WHERE counted;
COMMENT ON SEQUENCE @extschema@.feedback_id_seq IS
	'The low 40 bits of feedback ids.';
COMMENT ON INDEX @extschema@.feedback_day_idx IS
	'Reviews of a zone by time, for feedback_daily and feedback_top_issues.';
COMMENT ON INDEX @extschema@.feedback_merchant_idx IS
	'Reviews of a merchant by time.';
COMMENT ON INDEX @extschema@.feedback_counted_idx IS
	'At most one counted review per order.';
COMMENT ON TABLE @extschema@.feedback IS
	'Reviews of delivered orders, one per order and channel; counted marks the order''s first, the one that earns feedback points and that the analyst views count.  comment_enc is sealed with the customer''s data key and purged after the retention period; score (rating and text combined), text_score and topics stay.';
COMMENT ON COLUMN @extschema@.feedback.counted IS
	'Whether this is the order''s first review, the one that counts: it earns the points campaign''s feedback_points and is counted by feedback_daily, feedback_top_issues and monthly_review.  Set by submit_feedback; one per order.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.feedback', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.feedback_id_seq', '');

-- how rating and text make one score
CREATE FUNCTION @extschema@.feedback_score(rating integer, text_score real) RETURNS real
LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
RETURN CASE
	WHEN rating IS NULL THEN text_score
	WHEN text_score IS NULL OR text_score OPERATOR(pg_catalog.=) 0
		THEN ((rating OPERATOR(pg_catalog.-) 3) OPERATOR(pg_catalog./) 2.0)::real
	ELSE ((0.5 OPERATOR(pg_catalog.*) ((rating OPERATOR(pg_catalog.-) 3) OPERATOR(pg_catalog./) 2.0))
	      OPERATOR(pg_catalog.+) (0.5 OPERATOR(pg_catalog.*) text_score))::real
END;
COMMENT ON FUNCTION @extschema@.feedback_score(integer, real) IS
	'Stored feedback score in [-1, 1]: the rating mapped linearly (1 star -1, 3 stars 0, 5 stars 1) averaged with the text''s sentiment; either alone when the other is missing or the text says nothing.';
REVOKE ALL ON FUNCTION @extschema@.feedback_score(integer, real) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.feedback_score(integer, real) TO dispatch_app, dispatch_analyst, dispatch_admin;

CREATE FUNCTION @extschema@.submit_feedback(order_id bigint, rating integer, comment text,
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
REVOKE ALL ON FUNCTION @extschema@.submit_feedback(bigint, integer, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.submit_feedback(bigint, integer, text, text) TO dispatch_app, dispatch_admin;

-- analyst views: no personal data (no text, no customer).
-- On one server each view reads the tables, so that a filter on it reaches
-- their indexes.  On Citus a view's shards are read as the querying role,
-- which holds no right on them: there distribute() makes each view read
-- the SECURITY DEFINER function of the same rows defined before it
-- (sql/97_distribute.sql).
CREATE FUNCTION @extschema@._feedback_daily()
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

CREATE VIEW @extschema@.feedback_daily AS
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

CREATE FUNCTION @extschema@._feedback_top_issues()
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

CREATE VIEW @extschema@.feedback_top_issues AS
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
COMMENT ON VIEW @extschema@.feedback_top_issues IS
	'Complaint topics per zone and local week (Monday first): reviews raising the topic (one per order, its first, counted), the count of the week before, and the change.';

GRANT SELECT ON @extschema@.feedback_daily, @extschema@.feedback_top_issues TO dispatch_analyst, dispatch_admin;
-- on Citus the views' readers call their functions (PostgreSQL checks a
-- function in a view against the querying role)
REVOKE ALL ON FUNCTION @extschema@._feedback_daily() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._feedback_daily() TO dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._feedback_top_issues() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._feedback_top_issues() TO dispatch_analyst, dispatch_admin;
GRANT SELECT ON @extschema@.feedback TO dispatch_admin;
