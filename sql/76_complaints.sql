-- sql/76_complaints.sql
-- The complaint loop and surveys.
--
-- Complaint tickets: a negative review (sql/75_feedback.sql) opens a ticket
-- from a trigger on feedback, so submit_feedback stays as it is.  A review
-- is negative when its rating is 1 or 2 stars, or when its text scores
-- below 0 (sentiment()) and raises a complaint topic (feedback_topics()).
-- One ticket per order: the first negative review of an order opens it,
-- later reviews of that order (other channels) add nothing.  A ticket is
-- due complaint_due_in() (24 hours) after it opened, and goes to the side
-- that can act on it (complaint_side()): an errand's, which has no
-- merchant, to the delivery.  resolve_ticket closes it, with
-- optional goodwill points or coupon.  Tickets are zone data (zone_id
-- leads the key, ids (zone_id << 40) | n); they copy no text of the review.
-- Reviews are never rescored in place (only the retention purge updates a
-- review, and it removes the text only), so the trigger fires on INSERT.
-- The points that a points campaign gives for leaving feedback are
-- credited by submit_feedback itself, not by this trigger, in the zone of
-- the order reviewed.
--
-- Surveys: a one-tap survey (a rating of 1 to 5 stars and an optional
-- comment) after a delivery (kind 'delivery', one per order, answered by the
-- order's customer) or at the end of a campaign (kind 'campaign', one per
-- campaign, answered by the customers who redeemed it on an order that was
-- not cancelled).  Answers are scored like reviews (sentiment(),
-- feedback_topics(), feedback_score()), the comment sealed with the
-- customer's data key and purged with the feedback text (policy
-- feedback_text, purge_survey_text, called by purge_feedback_text of
-- sql/78_retention.sql).  An answer is zone data: it belongs to the zone of
-- the order it is about (for a campaign survey, the customer's first order
-- that redeemed the campaign, cancelled since or not).  A survey's id
-- carries the zone of its order, or of its campaign, 0 for a campaign of
-- every zone.
--
-- One answer per survey and customer: a campaign answer's order is the
-- customer's first redemption of the campaign whatever became of it, which
-- a later cancellation does not move, so every answer of the customer
-- looks in, and is inserted in, that one zone, under that order's row lock,
-- and the unique key (zone_id, survey_id, customer_id) holds it.  Whether
-- the customer may answer (a redemption still held) is checked apart.
-- (Not a look in every zone under a lock of the customer: on Citus that
-- reads every worker's answers and the lock is of one node only.)
--
-- Consent: a campaign survey's invitation is a marketing message, so the
-- application sends it only to redeemers who consent to marketing
-- (marketing_audience(), sql/80_privacy.sql); answering needs no consent,
-- as a review needs none: the customer gives it, about a purchase.

------------------------------------------------------------------------------
-- complaint tickets

-- the one owner of the 24 hours
CREATE FUNCTION @extschema@.complaint_due_in() RETURNS interval
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN interval '24 hours';
COMMENT ON FUNCTION @extschema@.complaint_due_in() IS
	'How long after it opened a complaint ticket is due: 24 hours.  The ticket''s due_at and the view complaint_sla read it here.';
REVOKE ALL ON FUNCTION @extschema@.complaint_due_in() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.complaint_due_in() TO dispatch_app, dispatch_analyst, dispatch_admin;

-- which side acts on which topic; an order without a merchant (an errand)
-- has only the delivery side to act on it
CREATE FUNCTION @extschema@.complaint_side(topics text[], has_merchant boolean DEFAULT true) RETURNS text
LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
RETURN CASE
	WHEN has_merchant IS FALSE THEN 'delivery'
	WHEN (SELECT pg_catalog.count(*) FILTER (WHERE t.topic IN ('late', 'cold', 'spilled', 'rider_attitude'))
	             OPERATOR(pg_catalog.>)
	             pg_catalog.count(*) FILTER (WHERE t.topic IN ('taste', 'portion', 'wrong_item', 'missing_item',
	                                                            'price', 'hygiene'))
	        FROM pg_catalog.unnest(topics) AS t (topic))
	THEN 'delivery'
	ELSE 'merchant'
END;
COMMENT ON FUNCTION @extschema@.complaint_side(text[], boolean) IS
	'The side a complaint ticket goes to: delivery for late, cold, spilled, rider_attitude (cold food is food that waited or travelled too long); merchant for taste, portion, wrong_item, missing_item, price, hygiene.  The side of more of the topics wins; a tie, or no topic (a low rating alone), goes to the merchant, who answers for the order and hands on what is the delivery''s.  An order without a merchant (has_merchant false: an errand) goes to the delivery whatever the topics, as no merchant answers for it.';
REVOKE ALL ON FUNCTION @extschema@.complaint_side(text[], boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.complaint_side(text[], boolean) TO dispatch_app, dispatch_analyst, dispatch_admin;

CREATE SEQUENCE @extschema@.complaint_ticket_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.complaint_tickets (
	zone_id              bigint NOT NULL,
	ticket_id            bigint NOT NULL,
	order_id             bigint NOT NULL,
	feedback_id          bigint NOT NULL,
	merchant_id          bigint,
	topics               text[] NOT NULL DEFAULT '{}',
	side                 text NOT NULL CHECK (side IN ('merchant', 'delivery')),
	state                text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
	opened_at            timestamptz NOT NULL,
	due_at               timestamptz NOT NULL,
	resolved_at          timestamptz,
	resolution           text,
	goodwill_points      integer NOT NULL DEFAULT 0 CHECK (goodwill_points >= 0),
	goodwill_campaign_id bigint REFERENCES @extschema@.campaigns,
	goodwill_coupon      text REFERENCES @extschema@.coupons,
	PRIMARY KEY (zone_id, ticket_id),
	UNIQUE (zone_id, order_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders (zone_id, order_id),
	FOREIGN KEY (zone_id, feedback_id) REFERENCES @extschema@.feedback (zone_id, feedback_id),
	CHECK (zone_id OPERATOR(pg_catalog.=) (ticket_id OPERATOR(pg_catalog.>>) 40)),
	CHECK (due_at OPERATOR(pg_catalog.>) opened_at),
	CHECK ((state OPERATOR(pg_catalog.=) 'resolved') OPERATOR(pg_catalog.=) (resolved_at IS NOT NULL)
	       AND (resolved_at IS NULL) OPERATOR(pg_catalog.=) (resolution IS NULL)),
	CHECK (goodwill_coupon IS NULL OR goodwill_campaign_id IS NOT NULL)
);
ALTER SEQUENCE @extschema@.complaint_ticket_id_seq OWNED BY @extschema@.complaint_tickets.ticket_id;
CREATE INDEX complaint_tickets_open_idx ON @extschema@.complaint_tickets (zone_id, due_at) WHERE state = 'open';
CREATE INDEX complaint_tickets_day_idx ON @extschema@.complaint_tickets (zone_id, opened_at);
COMMENT ON SEQUENCE @extschema@.complaint_ticket_id_seq IS
	'The low 40 bits of complaint ticket ids.';
COMMENT ON INDEX @extschema@.complaint_tickets_open_idx IS
	'Open tickets of a zone by due time: the work queue.';
COMMENT ON INDEX @extschema@.complaint_tickets_day_idx IS
	'Tickets of a zone by opening time, for complaint_sla.';
COMMENT ON TABLE @extschema@.complaint_tickets IS
	'Complaint tickets, one per order, opened by its first negative review (trigger feedback_complaint on feedback): topics and side from the review, due complaint_due_in() after opening; resolve_ticket records the resolution and the goodwill given (points, a coupon of a goodwill campaign).  No text of the review is copied.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.complaint_tickets', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.complaint_ticket_id_seq', '');
REVOKE ALL ON @extschema@.complaint_tickets FROM PUBLIC;
GRANT SELECT ON @extschema@.complaint_tickets TO dispatch_admin;

-- a new review: a ticket when it complains
CREATE FUNCTION @extschema@._feedback_complaint_trigger() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.rating OPERATOR(pg_catalog.<=) 2
	   OR (NEW.text_score OPERATOR(pg_catalog.<) 0 AND pg_catalog.cardinality(NEW.topics) OPERATOR(pg_catalog.>) 0) THEN
		INSERT INTO @extschema@.complaint_tickets
		       (zone_id, ticket_id, order_id, feedback_id, merchant_id, topics, side, opened_at, due_at)
		VALUES (NEW.zone_id,
		        @extschema@.zone_scoped_id(NEW.zone_id, pg_catalog.nextval('@extschema@.complaint_ticket_id_seq')),
		        NEW.order_id, NEW.feedback_id, NEW.merchant_id, NEW.topics,
		        @extschema@.complaint_side(NEW.topics, NEW.merchant_id IS NOT NULL), NEW.created_at,
		        NEW.created_at OPERATOR(pg_catalog.+) @extschema@.complaint_due_in())
		ON CONFLICT (zone_id, order_id) DO NOTHING;
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@._feedback_complaint_trigger() IS
	'Internal: trigger on a new review: opens a complaint ticket when the rating is 1 or 2, or the text is negative and raises a topic (one per order), for the side complaint_side gives (an errand''s: delivery).';
REVOKE ALL ON FUNCTION @extschema@._feedback_complaint_trigger() FROM PUBLIC;

CREATE FUNCTION @extschema@.open_tickets(zone_id bigint, only_side text DEFAULT NULL, max_tickets integer DEFAULT 100)
RETURNS TABLE (ticket_id bigint, order_id bigint, merchant_id bigint, topics text[], side text,
               opened_at timestamptz, due_at timestamptz, overdue boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF open_tickets.zone_id IS NULL OR open_tickets.max_tickets IS NULL
	   OR open_tickets.max_tickets NOT BETWEEN 1 AND 10000 THEN
		RAISE EXCEPTION 'open_tickets needs a zone and max_tickets from 1 to 10000' USING ERRCODE = 'DP662';
	END IF;
	IF open_tickets.only_side IS NOT NULL AND open_tickets.only_side NOT IN ('merchant', 'delivery') THEN
		RAISE EXCEPTION 'unknown side "%"', open_tickets.only_side
			USING ERRCODE = 'DP662', HINT = 'The sides are merchant and delivery.';
	END IF;
	RETURN QUERY
	SELECT t.ticket_id, t.order_id, t.merchant_id, t.topics, t.side, t.opened_at, t.due_at,
	       t.due_at OPERATOR(pg_catalog.<) @extschema@.clock()
	  FROM @extschema@.complaint_tickets t
	 WHERE t.zone_id OPERATOR(pg_catalog.=) open_tickets.zone_id
	   AND t.state OPERATOR(pg_catalog.=) 'open'
	   AND (open_tickets.only_side IS NULL OR t.side OPERATOR(pg_catalog.=) open_tickets.only_side)
	 ORDER BY t.due_at, t.ticket_id
	 LIMIT open_tickets.max_tickets;
END
$$;
COMMENT ON FUNCTION @extschema@.open_tickets(bigint, text, integer) IS
	'The work queue: a zone''s open complaint tickets (of only_side, or both sides), the first due first, with whether each is overdue at clock().  No personal data: the order and merchant ids lead to the rest.';
REVOKE ALL ON FUNCTION @extschema@.open_tickets(bigint, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.open_tickets(bigint, text, integer) TO dispatch_app, dispatch_admin;

CREATE FUNCTION @extschema@.resolve_ticket(ticket_id bigint, resolution text, goodwill_points integer DEFAULT 0,
                                           goodwill_campaign_id bigint DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_ticket     @extschema@.complaint_tickets;
	v_resolution text := pg_catalog.btrim(resolution);
	v_points     integer := COALESCE(goodwill_points, 0);
	v_customer   bigint;
	v_erased     boolean;
	v_kind       text;
	v_code       text;
BEGIN
	IF ticket_id IS NULL OR v_resolution IS NULL OR v_resolution OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'resolving a ticket needs the ticket and a resolution' USING ERRCODE = 'DP652';
	END IF;
	IF v_points OPERATOR(pg_catalog.<) 0 OR v_points OPERATOR(pg_catalog.>) 100000 THEN
		RAISE EXCEPTION 'goodwill points % are out of range', v_points
			USING ERRCODE = 'DP652', DETAIL = 'Goodwill points are 0 to 100000.';
	END IF;
	PERFORM @extschema@._check_length('reason', v_resolution);

	-- the customer's lock (shared) before the ticket's row lock, the order
	-- of sql/30_keys.sql: forget_customer takes it exclusively and then
	-- clears the resolutions of the customer's tickets.  The customer is
	-- read without a lock (an order never changes customer).
	SELECT o.customer_id INTO v_customer
	  FROM @extschema@.complaint_tickets t
	  JOIN @extschema@.orders o
	    ON o.zone_id OPERATOR(pg_catalog.=) t.zone_id AND o.order_id OPERATOR(pg_catalog.=) t.order_id
	 WHERE t.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(resolve_ticket.ticket_id)
	   AND o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(resolve_ticket.ticket_id)
	   AND t.ticket_id OPERATOR(pg_catalog.=) resolve_ticket.ticket_id;
	IF FOUND THEN
		PERFORM @extschema@._lock_subject('customer', v_customer, false);
	END IF;
	SELECT * INTO v_ticket FROM @extschema@.complaint_tickets t
	 WHERE t.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(resolve_ticket.ticket_id)
	   AND t.ticket_id OPERATOR(pg_catalog.=) resolve_ticket.ticket_id
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'complaint ticket % does not exist', resolve_ticket.ticket_id USING ERRCODE = 'DP651';
	END IF;
	-- an erased customer's ticket keeps no words about them (the erasure
	-- put the word erased in place of its resolution) and gets no goodwill
	v_erased := EXISTS (SELECT FROM @extschema@.customers c
	                     WHERE c.customer_id OPERATOR(pg_catalog.=) v_customer
	                       AND c.forgotten_at IS NOT NULL);

	-- a repeat of the same resolution is a no-op that returns its coupon
	-- (once the customer is erased, its text is gone: the same goodwill)
	IF v_ticket.state OPERATOR(pg_catalog.=) 'resolved' THEN
		IF (v_erased OR v_ticket.resolution OPERATOR(pg_catalog.=) v_resolution)
		   AND v_ticket.goodwill_points OPERATOR(pg_catalog.=) v_points
		   AND v_ticket.goodwill_campaign_id IS NOT DISTINCT FROM resolve_ticket.goodwill_campaign_id THEN
			RETURN v_ticket.goodwill_coupon;
		END IF;
		RAISE EXCEPTION 'complaint ticket % is resolved already, with another resolution or goodwill', resolve_ticket.ticket_id
			USING ERRCODE = 'DP653',
			      -- not the resolution: the caller's words about the
			      -- customer's order (an erasure clears them), which an
			      -- error would carry into the server log
			      DETAIL = pg_catalog.format('Resolved at %s.', v_ticket.resolved_at),
			      HINT = 'The resolution is in complaint_tickets; the same resolution and goodwill again return the same coupon.';
	END IF;

	IF v_erased AND (v_points OPERATOR(pg_catalog.>) 0 OR resolve_ticket.goodwill_campaign_id IS NOT NULL) THEN
		RAISE EXCEPTION 'customer % of complaint ticket % was erased', v_customer, resolve_ticket.ticket_id
			USING ERRCODE = 'DP012',
			      DETAIL = 'An erased customer can use no points and no coupon: nothing was given and the ticket is still open.',
			      HINT = 'Resolve the ticket without goodwill.';
	END IF;
	IF resolve_ticket.goodwill_campaign_id IS NOT NULL THEN
		SELECT c.kind INTO v_kind FROM @extschema@.campaigns c
		 WHERE c.campaign_id OPERATOR(pg_catalog.=) resolve_ticket.goodwill_campaign_id;
		IF v_kind IS DISTINCT FROM 'goodwill' THEN
			RAISE EXCEPTION 'campaign % is not a goodwill campaign', resolve_ticket.goodwill_campaign_id
				USING ERRCODE = 'DP654',
				      DETAIL = CASE WHEN v_kind IS NULL THEN 'There is no such campaign.'
				                    ELSE pg_catalog.format('Its kind is %s.', v_kind) END;
		END IF;
	END IF;

	IF v_points OPERATOR(pg_catalog.>) 0 THEN
		PERFORM @extschema@._points_grant(v_ticket.zone_id, v_customer, v_points, 'goodwill',
		                                  'ticket:' OPERATOR(pg_catalog.||) v_ticket.ticket_id);
	END IF;
	IF resolve_ticket.goodwill_campaign_id IS NOT NULL THEN
		v_code := @extschema@._issue_coupon(resolve_ticket.goodwill_campaign_id, v_customer, NULL, NULL, v_ticket.zone_id);
	END IF;

	UPDATE @extschema@.complaint_tickets t
	   SET state = 'resolved', resolved_at = @extschema@.clock(),
	       resolution = CASE WHEN v_erased THEN 'erased' ELSE v_resolution END,
	       goodwill_points = v_points, goodwill_campaign_id = resolve_ticket.goodwill_campaign_id,
	       goodwill_coupon = v_code
	 WHERE t.zone_id OPERATOR(pg_catalog.=) v_ticket.zone_id
	   AND t.ticket_id OPERATOR(pg_catalog.=) v_ticket.ticket_id;
	RETURN v_code;
END
$$;
COMMENT ON FUNCTION @extschema@.resolve_ticket(bigint, text, integer, bigint) IS
	'Resolves a complaint ticket with a resolution (no personal data in it, up to 200 characters), optionally with goodwill: points credited to the customer (reason goodwill, ref ticket:<id>) and/or a one-use coupon of a goodwill campaign.  Returns the coupon''s code, NULL without one.  The same resolution again is a no-op that returns the same code; another is refused (DP653).  The ticket of an erased customer keeps the word erased for its resolution (forget_customer puts it in place of one written before) and gets no goodwill (DP012, nothing written).';
REVOKE ALL ON FUNCTION @extschema@.resolve_ticket(bigint, text, integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.resolve_ticket(bigint, text, integer, bigint) TO dispatch_app, dispatch_admin;

------------------------------------------------------------------------------
-- surveys

CREATE SEQUENCE @extschema@.survey_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.surveys (
	zone_id      bigint NOT NULL,
	survey_id    bigint NOT NULL,
	kind         text NOT NULL CHECK (kind IN ('delivery', 'campaign')),
	order_id     bigint,
	campaign_id  bigint REFERENCES @extschema@.campaigns,
	created_at   timestamptz NOT NULL,
	PRIMARY KEY (zone_id, survey_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders (zone_id, order_id),
	CHECK (zone_id OPERATOR(pg_catalog.=) (survey_id OPERATOR(pg_catalog.>>) 40)),
	CHECK (CASE kind WHEN 'delivery' THEN order_id IS NOT NULL AND campaign_id IS NULL
	                 ELSE order_id IS NULL AND campaign_id IS NOT NULL END)
);
ALTER SEQUENCE @extschema@.survey_id_seq OWNED BY @extschema@.surveys.survey_id;
CREATE UNIQUE INDEX surveys_order_idx ON @extschema@.surveys (zone_id, order_id) WHERE order_id IS NOT NULL;
CREATE UNIQUE INDEX surveys_campaign_idx ON @extschema@.surveys (zone_id, campaign_id) WHERE campaign_id IS NOT NULL;
COMMENT ON SEQUENCE @extschema@.survey_id_seq IS
	'The low 40 bits of survey ids.';
COMMENT ON INDEX @extschema@.surveys_order_idx IS
	'One survey per order.';
COMMENT ON INDEX @extschema@.surveys_campaign_idx IS
	'One survey per campaign (its zone is the campaign''s).';
COMMENT ON TABLE @extschema@.surveys IS
	'One-tap surveys: after a delivery (kind delivery, one per order) or at the end of a campaign (kind campaign, one per campaign).  zone_id is the order''s zone, or the campaign''s, 0 for a campaign of every zone; survey ids are (zone_id << 40) | n.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.surveys', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.survey_id_seq', '');
REVOKE ALL ON @extschema@.surveys FROM PUBLIC;
GRANT SELECT ON @extschema@.surveys TO dispatch_admin;

CREATE SEQUENCE @extschema@.survey_answer_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.survey_answers (
	zone_id        bigint NOT NULL,
	answer_id      bigint NOT NULL,
	survey_id      bigint NOT NULL,
	order_id       bigint NOT NULL,
	campaign_id    bigint REFERENCES @extschema@.campaigns,
	customer_id    bigint NOT NULL,
	rating         smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
	comment_enc    bytea,
	text_score     real CHECK (text_score BETWEEN -1 AND 1),
	score          real NOT NULL CHECK (score BETWEEN -1 AND 1),
	topics         text[] NOT NULL DEFAULT '{}',
	created_at     timestamptz NOT NULL,
	text_purged_at timestamptz,
	PRIMARY KEY (zone_id, answer_id),
	UNIQUE (zone_id, survey_id, customer_id),
	FOREIGN KEY (zone_id, order_id) REFERENCES @extschema@.orders (zone_id, order_id),
	CHECK (zone_id OPERATOR(pg_catalog.=) (answer_id OPERATOR(pg_catalog.>>) 40))
);
ALTER SEQUENCE @extschema@.survey_answer_id_seq OWNED BY @extschema@.survey_answers.answer_id;
CREATE INDEX survey_answers_day_idx ON @extschema@.survey_answers (zone_id, created_at);
COMMENT ON SEQUENCE @extschema@.survey_answer_id_seq IS
	'The low 40 bits of survey answer ids.';
COMMENT ON INDEX @extschema@.survey_answers_day_idx IS
	'Answers of a zone by time, for survey_results and the retention purge.';
COMMENT ON TABLE @extschema@.survey_answers IS
	'Answers to surveys, one per survey and customer, in the zone of the order they are about (a campaign survey: the customer''s first order that redeemed the campaign, cancelled since or not).  Scored like reviews (score, text_score, topics); comment_enc is sealed with the customer''s data key and purged with the feedback text.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.survey_answers', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.survey_answer_id_seq', '');
REVOKE ALL ON @extschema@.survey_answers FROM PUBLIC;
GRANT SELECT ON @extschema@.survey_answers TO dispatch_admin;

CREATE FUNCTION @extschema@._campaign_survey_zone(p_campaign_id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_campaign @extschema@.campaigns;
BEGIN
	SELECT * INTO v_campaign FROM @extschema@.campaigns c
	 WHERE c.campaign_id OPERATOR(pg_catalog.=) p_campaign_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'campaign % does not exist', p_campaign_id USING ERRCODE = 'DP661';
	END IF;
	IF v_campaign.ended_at IS NULL
	   AND (v_campaign.ends_at IS NULL OR v_campaign.ends_at OPERATOR(pg_catalog.>) @extschema@.clock()) THEN
		RAISE EXCEPTION 'campaign % has not ended', p_campaign_id
			USING ERRCODE = 'DP656', DETAIL = 'A campaign survey is sent at the end of its campaign (end_campaign, or past its end).';
	END IF;
	RETURN COALESCE(v_campaign.zone_id, 0);
END
$$;
COMMENT ON FUNCTION @extschema@._campaign_survey_zone(bigint) IS
	'Internal (create_survey): the zone of a campaign''s survey, the campaign''s, 0 for a campaign of every zone; DP661 for an unknown campaign, DP656 for one that has not ended.';
REVOKE ALL ON FUNCTION @extschema@._campaign_survey_zone(bigint) FROM PUBLIC;

-- PL/pgSQL, not SQL: Citus cannot plan an SQL function's parameters in a
-- query over every shard of redemptions ("could not create distributed
-- plan"), nor RETURN EXISTS (...) there ("a column definition list is
-- required for functions returning record"): a scalar subquery
CREATE FUNCTION @extschema@._campaign_survey_order(p_campaign_id bigint, p_customer_id bigint, p_applied boolean)
RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT r.order_id
	          FROM @extschema@.redemptions r
	         WHERE r.campaign_id OPERATOR(pg_catalog.=) p_campaign_id
	           AND r.customer_id OPERATOR(pg_catalog.=) p_customer_id
	           AND (NOT p_applied OR r.status OPERATOR(pg_catalog.=) 'applied')
	         ORDER BY r.created_at, r.order_id
	         LIMIT 1);
END
$$;
COMMENT ON FUNCTION @extschema@._campaign_survey_order(bigint, bigint, boolean) IS
	'Internal (answer_survey): the customer''s first order that redeemed the campaign, NULL if none.  Not p_applied: cancelled since or not, the order a customer''s answer to the campaign''s survey is about, so that every answer of theirs lies in its one zone.  p_applied: only an order that still holds the campaign (not cancelled), whether they may answer.';
REVOKE ALL ON FUNCTION @extschema@._campaign_survey_order(bigint, bigint, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.create_survey(kind text, order_id bigint DEFAULT NULL, campaign_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_order @extschema@.orders;
	v_zone  bigint;
	v_id    bigint;
BEGIN
	IF kind IS NULL OR kind NOT IN ('delivery', 'campaign') THEN
		RAISE EXCEPTION 'unknown survey kind "%"', kind
			USING ERRCODE = 'DP655', HINT = 'A survey is of kind delivery (with an order) or campaign (with a campaign).';
	END IF;
	IF (kind OPERATOR(pg_catalog.=) 'delivery') AND (create_survey.order_id IS NULL OR create_survey.campaign_id IS NOT NULL) THEN
		RAISE EXCEPTION 'a delivery survey names an order and no campaign' USING ERRCODE = 'DP655';
	END IF;
	IF (kind OPERATOR(pg_catalog.=) 'campaign') AND (create_survey.campaign_id IS NULL OR create_survey.order_id IS NOT NULL) THEN
		RAISE EXCEPTION 'a campaign survey names a campaign and no order' USING ERRCODE = 'DP655';
	END IF;

	IF kind OPERATOR(pg_catalog.=) 'delivery' THEN
		-- the order's row lock makes two creations take turns
		v_order := @extschema@._lock_order(create_survey.order_id);
		IF v_order.status OPERATOR(pg_catalog.<>) 'delivered' THEN
			RAISE EXCEPTION 'order % has not been delivered (status "%")', create_survey.order_id, v_order.status
				USING ERRCODE = 'DP656';
		END IF;
		SELECT s.survey_id INTO v_id FROM @extschema@.surveys s
		 WHERE s.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
		   AND s.order_id OPERATOR(pg_catalog.=) v_order.order_id;
		IF FOUND THEN
			RETURN v_id;
		END IF;
		v_id := @extschema@.zone_scoped_id(v_order.zone_id, pg_catalog.nextval('@extschema@.survey_id_seq'));
		INSERT INTO @extschema@.surveys (zone_id, survey_id, kind, order_id, created_at)
		VALUES (v_order.zone_id, v_id, 'delivery', v_order.order_id, @extschema@.clock());
		RETURN v_id;
	END IF;

	-- two creations at once: one inserts, the other finds its row
	v_zone := @extschema@._campaign_survey_zone(create_survey.campaign_id);
	INSERT INTO @extschema@.surveys (zone_id, survey_id, kind, campaign_id, created_at)
	VALUES (v_zone, @extschema@.zone_scoped_id(v_zone, pg_catalog.nextval('@extschema@.survey_id_seq')),
	        'campaign', create_survey.campaign_id, @extschema@.clock())
	ON CONFLICT (zone_id, campaign_id) WHERE campaign_id IS NOT NULL DO NOTHING;
	SELECT s.survey_id INTO STRICT v_id FROM @extschema@.surveys s
	 WHERE s.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND s.campaign_id OPERATOR(pg_catalog.=) create_survey.campaign_id;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.create_survey(text, bigint, bigint) IS
	'Creates a one-tap survey and returns its id: kind delivery after a delivered order (its customer answers), kind campaign at the end of a campaign (ended, or past its end; the customers who redeemed it answer).  One survey per order or campaign: a repeat returns the same id.  The invitation of a campaign survey is marketing: send it to redeemers who consent to marketing.';
REVOKE ALL ON FUNCTION @extschema@.create_survey(text, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.create_survey(text, bigint, bigint) TO dispatch_app, dispatch_admin;

CREATE FUNCTION @extschema@.answer_survey(survey_id bigint, customer_id bigint, rating integer,
                                          comment text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_survey     @extschema@.surveys;
	v_order      @extschema@.orders;
	v_order_id   bigint;
	v_comment    text := NULLIF(pg_catalog.btrim(comment), '');
	v_id         bigint;
	v_rating     smallint;
	v_sealed     bytea;
	v_text_score real;
	v_topics     text[] := '{}';
	v_camp       @extschema@.campaigns;
BEGIN
	IF survey_id IS NULL OR customer_id IS NULL THEN
		RAISE EXCEPTION 'an answer names its survey and customer' USING ERRCODE = 'DP658';
	END IF;
	IF rating IS NULL OR rating OPERATOR(pg_catalog.<) 1 OR rating OPERATOR(pg_catalog.>) 5 THEN
		RAISE EXCEPTION 'rating % is out of range', rating
			USING ERRCODE = 'DP658', DETAIL = 'A survey answer is a rating of 1 to 5 stars, with or without a comment.';
	END IF;
	PERFORM @extschema@._check_length('feedback_comment', comment);

	SELECT * INTO v_survey FROM @extschema@.surveys s
	 WHERE s.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(answer_survey.survey_id)
	   AND s.survey_id OPERATOR(pg_catalog.=) answer_survey.survey_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'survey % does not exist', answer_survey.survey_id USING ERRCODE = 'DP657';
	END IF;

	-- the customer's lock (shared, as sealing takes it) before the order's
	-- row lock, the order of sql/30_keys.sql: forget_customer takes it
	-- exclusively and then updates the customer's orders
	PERFORM @extschema@._lock_subject('customer', answer_survey.customer_id, false);
	-- the order the answer is about; its row lock makes two answers take turns
	IF v_survey.kind OPERATOR(pg_catalog.=) 'delivery' THEN
		v_order_id := v_survey.order_id;
	ELSE
		v_order_id := @extschema@._campaign_survey_order(v_survey.campaign_id, answer_survey.customer_id, false);
	END IF;
	IF v_order_id IS NOT NULL THEN
		v_order := @extschema@._lock_order(v_order_id);
	END IF;
	IF v_order_id IS NULL OR v_order.customer_id OPERATOR(pg_catalog.<>) answer_survey.customer_id THEN
		RAISE EXCEPTION 'survey % is not addressed to customer %', answer_survey.survey_id, answer_survey.customer_id
			USING ERRCODE = 'DP659',
			      DETAIL = CASE v_survey.kind WHEN 'delivery' THEN 'A delivery survey is answered by the order''s customer.'
			                    ELSE 'A campaign survey is answered by customers who redeemed the campaign.' END;
	END IF;
	-- an erased customer answers no more, with a comment or without (read
	-- under the customer's lock): refused as every call naming them is
	PERFORM @extschema@._live_customer(answer_survey.customer_id);

	-- a repeat of the same answer is a no-op that returns it (also once the
	-- customer's redeeming orders are cancelled since); the customer's
	-- answers all lie in the zone of v_order, see the head of this file
	SELECT a.answer_id, a.rating, a.comment_enc INTO v_id, v_rating, v_sealed
	  FROM @extschema@.survey_answers a
	 WHERE a.zone_id OPERATOR(pg_catalog.=) v_order.zone_id
	   AND a.survey_id OPERATOR(pg_catalog.=) v_survey.survey_id
	   AND a.customer_id OPERATOR(pg_catalog.=) answer_survey.customer_id;
	IF FOUND THEN
		IF v_rating OPERATOR(pg_catalog.=) rating
		   AND (v_sealed IS NULL) OPERATOR(pg_catalog.=) (v_comment IS NULL)
		   AND (v_sealed IS NULL
		        OR @extschema@._unseal(v_sealed, @extschema@._data_key('customer', v_order.customer_id, false))
		           OPERATOR(pg_catalog.=) v_comment) THEN
			RETURN v_id;
		END IF;
		RAISE EXCEPTION 'customer % has answered survey % already, with another answer', answer_survey.customer_id, answer_survey.survey_id
			USING ERRCODE = 'DP660';
	END IF;
	IF v_survey.kind OPERATOR(pg_catalog.=) 'campaign'
	   AND @extschema@._campaign_survey_order(v_survey.campaign_id, answer_survey.customer_id, true) IS NULL THEN
		RAISE EXCEPTION 'survey % is not addressed to customer %', answer_survey.survey_id, answer_survey.customer_id
			USING ERRCODE = 'DP659',
			      DETAIL = 'A campaign survey is answered by customers who redeemed the campaign on an order not cancelled.';
	END IF;

	IF v_comment IS NOT NULL THEN
		v_text_score := @extschema@.sentiment(v_comment);
		v_topics := @extschema@.feedback_topics(v_comment);
	END IF;
	v_id := @extschema@.zone_scoped_id(v_order.zone_id, pg_catalog.nextval('@extschema@.survey_answer_id_seq'));
	INSERT INTO @extschema@.survey_answers
	       (zone_id, answer_id, survey_id, order_id, campaign_id, customer_id, rating, comment_enc,
	        text_score, score, topics, created_at)
	VALUES (v_order.zone_id, v_id, v_survey.survey_id, v_order.order_id, v_survey.campaign_id,
	        answer_survey.customer_id, rating,
	        @extschema@.pii_seal('customer', answer_survey.customer_id, v_comment),
	        v_text_score, @extschema@.feedback_score(rating, v_text_score), v_topics, @extschema@.clock());

	-- an answer earns what a review earns (the points campaign's feedback_points)
	v_camp := @extschema@._active_campaign('points', v_order.zone_id, @extschema@.clock());
	PERFORM @extschema@._points_grant(v_order.zone_id, answer_survey.customer_id,
	                                  (v_camp.rules OPERATOR(pg_catalog.->>) 'feedback_points')::integer,
	                                  'survey', 'survey:' OPERATOR(pg_catalog.||) v_id, v_camp.campaign_id);
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.answer_survey(bigint, bigint, integer, text) IS
	'Records a customer''s answer to a survey: a rating of 1 to 5 stars and an optional comment, scored with sentiment() and tagged with feedback_topics() like a review, the comment sealed with the customer''s key; it earns the points a review earns (the running points campaign''s feedback_points, reason survey).  Returns the answer id.  One answer per survey and customer, whichever zones the customer''s orders are in (a campaign answer lies in the zone of their first order that redeemed the campaign, cancelled since or not): the same answer again is a no-op that returns its id, also once that order is cancelled; another answer of the same customer is refused (DP660).  DP659 when the survey is not the customer''s (a campaign''s: no order of theirs holds a redemption of it); DP012 when the customer is erased (forget_customer), nothing written.';
REVOKE ALL ON FUNCTION @extschema@.answer_survey(bigint, bigint, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.answer_survey(bigint, bigint, integer, text) TO dispatch_app, dispatch_admin;

-- retention: called by purge_feedback_text (sql/78_retention.sql), policy feedback_text
-- Not STRICT: a NULL cut-off or batch is refused (_check_purge_args)
CREATE FUNCTION @extschema@.purge_survey_text(older_than timestamptz, batch integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now  timestamptz := @extschema@.clock();
	v_zone bigint;
	v_n    integer := 0;
	v_one  integer;
BEGIN
	PERFORM @extschema@._check_purge_args(older_than, batch);
	-- zone by zone: on Citus, rows are locked (FOR UPDATE) only in a
	-- statement that names its zone, which goes to that zone's shard
	FOR v_zone IN SELECT z.zone_id FROM @extschema@.zones z ORDER BY z.zone_id LOOP
		EXIT WHEN v_n OPERATOR(pg_catalog.>=) batch;
		WITH doomed AS (
			SELECT a.zone_id, a.answer_id
			  FROM @extschema@.survey_answers a
			 WHERE a.zone_id OPERATOR(pg_catalog.=) v_zone
			   AND a.comment_enc IS NOT NULL
			   AND a.created_at OPERATOR(pg_catalog.<) older_than
			 LIMIT batch OPERATOR(pg_catalog.-) v_n
			   FOR UPDATE SKIP LOCKED
		)
		UPDATE @extschema@.survey_answers a
		   SET comment_enc = NULL, text_purged_at = v_now
		  FROM doomed d
		 WHERE a.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND d.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND a.answer_id OPERATOR(pg_catalog.=) d.answer_id;
		GET DIAGNOSTICS v_one = ROW_COUNT;
		v_n := v_n OPERATOR(pg_catalog.+) v_one;
	END LOOP;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_survey_text(timestamptz, integer) IS
	'Retention: removes the sealed comment of up to batch survey answers given before older_than, keeping rating, score and topics.  Returns how many.  A NULL older_than, or a batch NULL or outside 1 to 100000, is refused (DP411).  purge_feedback_text calls it, so the feedback_text policy covers survey comments.';
REVOKE ALL ON FUNCTION @extschema@.purge_survey_text(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.purge_survey_text(timestamptz, integer) TO dispatch_admin;

------------------------------------------------------------------------------
-- analyst views: no personal data (no text, no customer).
-- On one server each view reads the tables, so that a filter on it reaches
-- their indexes.  On Citus a view's shards are read as the querying role,
-- which holds no right on them: there distribute() makes each view read
-- the SECURITY DEFINER function of the same rows defined before it
-- (sql/97_distribute.sql).

CREATE FUNCTION @extschema@._complaint_sla()
RETURNS TABLE (zone_id bigint, day date, topic text, side text, opened bigint, resolved_in_time bigint,
               resolved_late bigint, open_overdue bigint, open_in_time bigint, median_resolution interval)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.complaint_sla;
END
$$;
COMMENT ON FUNCTION @extschema@._complaint_sla() IS
	'Internal (complaint_sla): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';

CREATE VIEW @extschema@.complaint_sla AS
WITH t AS (
	SELECT c.zone_id,
	       (c.opened_at AT TIME ZONE z.timezone)::date AS day,
	       tp.topic, c.side, c.opened_at, c.due_at, c.resolved_at,
	       @extschema@.clock() AS now
	  FROM @extschema@.complaint_tickets c
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) c.zone_id
	 CROSS JOIN LATERAL pg_catalog.unnest(CASE WHEN pg_catalog.cardinality(c.topics) OPERATOR(pg_catalog.=) 0
	                                           THEN ARRAY[NULL]::text[] ELSE c.topics END) AS tp (topic)
)
SELECT t.zone_id, t.day, t.topic, t.side,
       pg_catalog.count(*) AS opened,
       pg_catalog.count(*) FILTER (WHERE t.resolved_at OPERATOR(pg_catalog.<=) t.due_at) AS resolved_in_time,
       pg_catalog.count(*) FILTER (WHERE t.resolved_at OPERATOR(pg_catalog.>) t.due_at) AS resolved_late,
       pg_catalog.count(*) FILTER (WHERE t.resolved_at IS NULL AND t.now OPERATOR(pg_catalog.>) t.due_at) AS open_overdue,
       pg_catalog.count(*) FILTER (WHERE t.resolved_at IS NULL AND t.now OPERATOR(pg_catalog.<=) t.due_at) AS open_in_time,
       pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY t.resolved_at OPERATOR(pg_catalog.-) t.opened_at)
           AS median_resolution
  FROM t
 GROUP BY t.zone_id, t.day, t.topic, t.side;
COMMENT ON VIEW @extschema@.complaint_sla IS
	'Complaint tickets per zone, local day of opening, topic and side: opened, resolved within complaint_due_in() (24 hours), resolved late, open and overdue, open and not yet due (against clock() at the time of the query), and the median time to resolution of the resolved ones.  A ticket with several topics counts under each; topic NULL: a ticket of a low rating without a topic.';

CREATE FUNCTION @extschema@._survey_results()
RETURNS TABLE (zone_id bigint, month date, kind text, campaign_id bigint, answers bigint, mean_rating real,
               mean_sentiment real, share_negative real, top_topics text[])
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.survey_results;
END
$$;
COMMENT ON FUNCTION @extschema@._survey_results() IS
	'Internal (survey_results): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';

CREATE VIEW @extschema@.survey_results AS
-- the answers are read twice, so NOT MATERIALIZED: each read is inlined,
-- and a zone filter on the view reaches the answers under both (through
-- the join on zone_id), here and on Citus (docs/citus.md)
WITH a AS NOT MATERIALIZED (
	SELECT s.zone_id,
	       pg_catalog.date_trunc('month', s.created_at AT TIME ZONE z.timezone)::date AS month,
	       CASE WHEN s.campaign_id IS NULL THEN 'delivery' ELSE 'campaign' END AS kind,
	       s.campaign_id, s.rating, s.text_score, s.score, s.topics
	  FROM @extschema@.survey_answers s
	  JOIN @extschema@.zones z ON z.zone_id OPERATOR(pg_catalog.=) s.zone_id
), topic_counts AS (
	SELECT a.zone_id, a.month, a.kind, a.campaign_id, tp.topic,
	       pg_catalog.row_number() OVER (PARTITION BY a.zone_id, a.month, a.kind, a.campaign_id
	                                     ORDER BY pg_catalog.count(*) DESC, tp.topic) AS rank
	  FROM a CROSS JOIN LATERAL pg_catalog.unnest(a.topics) AS tp (topic)
	 GROUP BY a.zone_id, a.month, a.kind, a.campaign_id, tp.topic
), top AS (
	SELECT c.zone_id, c.month, c.kind, c.campaign_id, pg_catalog.array_agg(c.topic ORDER BY c.rank) AS top_topics
	  FROM topic_counts c
	 WHERE c.rank OPERATOR(pg_catalog.<=) 3
	 GROUP BY c.zone_id, c.month, c.kind, c.campaign_id
)
SELECT a.zone_id, a.month, a.kind, a.campaign_id,
       pg_catalog.count(*) AS answers,
       pg_catalog.avg(a.rating)::real AS mean_rating,
       pg_catalog.avg(a.text_score)::real AS mean_sentiment,
       (pg_catalog.count(*) FILTER (WHERE a.score OPERATOR(pg_catalog.<) 0)::float8
        OPERATOR(pg_catalog./) pg_catalog.count(*))::real AS share_negative,
       COALESCE(pg_catalog.min(top.top_topics), '{}') AS top_topics
  FROM a
  LEFT JOIN top
    ON top.zone_id OPERATOR(pg_catalog.=) a.zone_id AND top.month OPERATOR(pg_catalog.=) a.month
   AND top.kind OPERATOR(pg_catalog.=) a.kind AND top.campaign_id IS NOT DISTINCT FROM a.campaign_id
 GROUP BY a.zone_id, a.month, a.kind, a.campaign_id;
COMMENT ON VIEW @extschema@.survey_results IS
	'Survey answers per zone, local month, kind and campaign (NULL: delivery surveys): answers, mean rating, mean sentiment of the comments (NULL without any), share with a negative score (rating and comment combined, as feedback), and the three topics raised most (ties by name).  The zone of a campaign answer is that of the customer''s order that redeemed the campaign.';

GRANT SELECT ON @extschema@.complaint_sla, @extschema@.survey_results TO dispatch_analyst, dispatch_admin;
-- on Citus the views' readers call their functions (PostgreSQL checks a
-- function in a view against the querying role)
REVOKE ALL ON FUNCTION @extschema@._complaint_sla() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._complaint_sla() TO dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._survey_results() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._survey_results() TO dispatch_analyst, dispatch_admin;

CREATE TRIGGER feedback_complaint
	AFTER INSERT ON @extschema@.feedback
	FOR EACH ROW EXECUTE FUNCTION @extschema@._feedback_complaint_trigger();
COMMENT ON TRIGGER feedback_complaint ON @extschema@.feedback IS
	'A complaint ticket for a negative review (sql/76_complaints.sql).';
