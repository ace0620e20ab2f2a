-- sql/80_privacy.sql
-- Rights and duties around personal data: key rotation, export and erasure
-- of a customer (GDPR articles 15, 17 and 20), consent per purpose, and the
-- rider's masked view of the customer of an order.
--
-- Which data belongs to a customer is read from the catalog, not listed by
-- hand: every table of the extension with a customer_id column holds rows of
-- that customer, and every bytea column of such a table whose name ends in
-- _enc is sealed with the customer's data key.  Tables without customer_id
-- but with (zone_id, order_id) hold rows of the customer's orders.  A table
-- added later by any part is exported, re-encrypted and shredded without a
-- change here, as long as it follows these conventions.
--
-- Requests are logged in privacy_requests.  SQLSTATEs DP405-DP411 are
-- listed in docs/operations.md.

CREATE TABLE @extschema@.privacy_requests (
	request_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer_id   bigint NOT NULL,
	kind          text NOT NULL CHECK (kind IN ('export', 'forget', 'rotate_key', 'rectify',
	                                            'access', 'erasure', 'rectification', 'objection')),
	requested_at  timestamptz NOT NULL,
	completed_at  timestamptz,
	actor         name NOT NULL DEFAULT SESSION_USER,
	detail        jsonb NOT NULL DEFAULT '{}',
	state         text NOT NULL DEFAULT 'done' CHECK (state IN ('received', 'waiting', 'done', 'refused')),
	due_at        timestamptz,
	handled_by    name,
	CHECK ((state IN ('done', 'refused')) OPERATOR(pg_catalog.=) (completed_at IS NOT NULL))
);
CREATE INDEX privacy_requests_open_idx ON @extschema@.privacy_requests (due_at) WHERE state IN ('received', 'waiting');
CREATE INDEX privacy_requests_customer_idx ON @extschema@.privacy_requests (customer_id, requested_at);
COMMENT ON TABLE @extschema@.privacy_requests IS
	'Every export, erasure, rectification and data-key rotation of a customer (state done: when, by whom, what was done, counts, never personal data), and the queue of requests received from data subjects (kinds access, erasure, rectification, objection): received (requested_at), due (due_at, dispatch.privacy_request_days later), state, who handled them.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.privacy_requests', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.privacy_requests_request_id_seq', '');
REVOKE ALL ON @extschema@.privacy_requests FROM PUBLIC;

CREATE TABLE @extschema@.consents (
	consent_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer_id     bigint NOT NULL REFERENCES @extschema@.customers,
	purpose         text NOT NULL CHECK (purpose IN ('marketing', 'personalisation', 'analytics')),
	policy_version  text NOT NULL CHECK (policy_version <> '' AND pg_catalog.length(policy_version) <= 64),
	granted_at      timestamptz NOT NULL,
	revoked_at      timestamptz,
	actor           name NOT NULL DEFAULT SESSION_USER,
	CHECK (revoked_at IS NULL OR revoked_at >= granted_at)
);
CREATE UNIQUE INDEX consents_active_idx ON @extschema@.consents (customer_id, purpose) WHERE revoked_at IS NULL;
COMMENT ON TABLE @extschema@.consents IS
	'Consent history per customer and purpose: one row per grant under a policy version, closed by revoked_at (a revocation, or a new grant under another version).  At most one open row per purpose.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.consents', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.consents_consent_id_seq', '');
REVOKE ALL ON @extschema@.consents FROM PUBLIC;

------------------------------------------------------------------------------
-- internals

CREATE FUNCTION @extschema@._customer_tables()
RETURNS TABLE (rel regclass, relname name, has_zone boolean, via_order boolean, sealed text[], columns text[])
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT c.oid::regclass, c.relname,
	       EXISTS (SELECT FROM pg_catalog.pg_attribute z
	                WHERE z.attrelid OPERATOR(pg_catalog.=) c.oid AND z.attname OPERATOR(pg_catalog.=) 'zone_id'
	                  AND z.attnum OPERATOR(pg_catalog.>) 0 AND NOT z.attisdropped),
	       NOT EXISTS (SELECT FROM pg_catalog.pg_attribute z
	                    WHERE z.attrelid OPERATOR(pg_catalog.=) c.oid AND z.attname OPERATOR(pg_catalog.=) 'customer_id'
	                      AND z.attnum OPERATOR(pg_catalog.>) 0 AND NOT z.attisdropped),
	       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
	              WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	                AND a.atttypid OPERATOR(pg_catalog.=) 'pg_catalog.bytea'::pg_catalog.regtype
	                AND a.attname OPERATOR(pg_catalog.~) '_enc$'
	              ORDER BY a.attnum),
	       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
	              WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	              ORDER BY a.attnum)
	  FROM pg_catalog.pg_class c
	 WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
	   AND c.relkind IN ('r', 'p')
	   AND c.relname OPERATOR(pg_catalog.<>) 'customers'
	   -- keyed by the order but about its riders, not the customer: their
	   -- pay, the candidates and costs of matching, their offers and the
	   -- words they gave rejecting or releasing it (export_rider has them)
	   AND c.relname NOT IN ('rider_pay', 'offer_audit', 'offers', 'offer_exclusions')
	   -- the disclosures made for an order, in its zone: the export lists
	   -- them under disclosures (_disclosures_of), with the processor
	   AND c.relname OPERATOR(pg_catalog.<>) 'order_disclosures'
	   AND (EXISTS (SELECT FROM pg_catalog.pg_attribute a
	                 WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) 'customer_id'
	                   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped)
	        OR (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a
	             WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname IN ('zone_id', 'order_id')
	               AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) OPERATOR(pg_catalog.=) 2)
	 ORDER BY c.relname;
END;
COMMENT ON FUNCTION @extschema@._customer_tables() IS
	'Internal: the tables that hold a customer''s rows, from the catalog: those with customer_id, and (via_order) those with zone_id and order_id but for the riders'' (rider_pay, offer_audit, offers, offer_exclusions); not order_disclosures, which the export lists under disclosures; sealed lists their *_enc columns.';
REVOKE ALL ON FUNCTION @extschema@._customer_tables() FROM PUBLIC;

CREATE FUNCTION @extschema@._zone_list(p_has_zone boolean) RETURNS TABLE (zone_id bigint)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT z.zone_id FROM @extschema@.zones z WHERE p_has_zone
	UNION ALL
	SELECT 0::bigint WHERE p_has_zone            -- rows of no zone (a refusal's zone not known)
	UNION ALL
	SELECT NULL::bigint WHERE NOT p_has_zone
	ORDER BY 1;
END;
COMMENT ON FUNCTION @extschema@._zone_list(boolean) IS
	'Internal: every zone id in order, and 0 (rows of no zone, such as a refused attempt whose zone was not known), to visit a zone-scoped table one zone at a time; a single NULL for a table without zones.';
REVOKE ALL ON FUNCTION @extschema@._zone_list(boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@._reseal(p_sealed bytea, p_old bytea, p_new bytea) RETURNS bytea
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_sealed IS NULL THEN
		RETURN NULL;
	END IF;
	IF @extschema@._is_cleartext(p_sealed) THEN
		RETURN p_sealed;          -- dispatch.cipher = none: nothing to re-encrypt
	END IF;
	RETURN @extschema@._pgp_encrypt(@extschema@._unseal(p_sealed, p_old), p_new);
END
$$;
COMMENT ON FUNCTION @extschema@._reseal(bytea, bytea, bytea) IS
	'Internal: re-encrypts a sealed value from one data key to another.  VOLATILE: encryption draws a new IV every time.';
REVOKE ALL ON FUNCTION @extschema@._reseal(bytea, bytea, bytea) FROM PUBLIC;

CREATE FUNCTION @extschema@.mask_phone(phone text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v text := pg_catalog.regexp_replace(phone, '[^0-9]', '', 'g');
BEGIN
	PERFORM @extschema@._check_length('phone', phone);
	IF pg_catalog.starts_with(phone, '+86') THEN
		v := pg_catalog.substr(v, 3);           -- mainland numbers are shown without +86
	END IF;
	IF pg_catalog.length(v) OPERATOR(pg_catalog.<=) 7 THEN
		RETURN pg_catalog.repeat('*', pg_catalog.length(v));
	END IF;
	RETURN pg_catalog.left(v, 3) OPERATOR(pg_catalog.||) pg_catalog.repeat('*', pg_catalog.length(v) OPERATOR(pg_catalog.-) 7)
	       OPERATOR(pg_catalog.||) pg_catalog.right(v, 4);
END
$$;
COMMENT ON FUNCTION @extschema@.mask_phone(text) IS
	'A phone number with all but its first three and last four digits hidden: +8613812341234 gives 138****1234.';
REVOKE ALL ON FUNCTION @extschema@.mask_phone(text) FROM PUBLIC;

CREATE FUNCTION @extschema@._lock_customer(p_customer_id bigint) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_forgotten timestamptz;
BEGIN
	-- the customer's lock (shared) before the row, the order of
	-- sql/30_keys.sql: forget_customer and rotate_customer_key take it
	-- (exclusive) and then lock the row, so a caller that locked the row
	-- first and sealed after it in the same transaction (a consent, then a
	-- rectification) deadlocked with them.  Shared: callers that hold it
	-- exclusive already keep it so.
	PERFORM @extschema@._lock_subject('customer', p_customer_id, false);
	SELECT c.forgotten_at INTO v_forgotten FROM @extschema@.customers c
	 WHERE c.customer_id OPERATOR(pg_catalog.=) p_customer_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'customer % does not exist', p_customer_id USING ERRCODE = 'DP012';
	END IF;
	RETURN v_forgotten;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_customer(bigint) IS
	'Internal: takes the customer''s lock (shared, before any row lock: sql/30_keys.sql), locks the customer row FOR UPDATE and returns forgotten_at; DP012 if there is no such customer.';
REVOKE ALL ON FUNCTION @extschema@._lock_customer(bigint) FROM PUBLIC;

------------------------------------------------------------------------------
-- keys

CREATE FUNCTION @extschema@.master_key_versions()
RETURNS TABLE (version integer, in_key_file boolean, is_current boolean, data_keys bigint)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_file integer[];
	v_current integer;
BEGIN
	PERFORM @extschema@._require_read_committed('master_key_versions');
	v_file := @extschema@._master_key_versions();
	v_current := @extschema@._master_key_version();
	-- data keys being written count too: a registration in flight may
	-- wrap its key under a version about to be retired (sql/30_keys.sql,
	-- writers of key versions); the count below is a statement after the
	-- wait, and sees what they committed
	PERFORM @extschema@._wait_for_writers(ARRAY['@extschema@.subject_keys'::pg_catalog.regclass]);
	RETURN QUERY
	SELECT v.version, v.version OPERATOR(pg_catalog.=) ANY (v_file), v.version OPERATOR(pg_catalog.=) v_current,
	       (SELECT pg_catalog.count(*) FROM @extschema@.subject_keys k
	         WHERE k.key_version OPERATOR(pg_catalog.=) v.version)
	  FROM (SELECT pg_catalog.unnest(v_file) AS version
	        UNION
	        SELECT DISTINCT k.key_version FROM @extschema@.subject_keys k) v
	 ORDER BY v.version;
END
$$;
COMMENT ON FUNCTION @extschema@.master_key_versions() IS
	'Master key versions in the key file or still wrapping data keys, counted after every transaction writing data keys has ended.  A version that is not current and wraps no data key (data_keys = 0) may be removed from the key file (destroyed); one with data_keys > 0 but not in the file means lost data.  Read committed only (DP418).';

CREATE FUNCTION @extschema@._rewrap_data_keys(p_current integer, p_limit integer, p_wait boolean) RETURNS integer
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_n integer := 0;
	b record;
	v_wrapped bytea;
BEGIN
	-- Only the wrapping changes, never a data key, so sealing goes on
	-- meanwhile.  Each key is re-wrapped here and stored as a value:
	-- wrapping draws a new IV (VOLATILE), which Citus refuses inside an
	-- UPDATE of its (reference) table.
	FOR b IN EXECUTE pg_catalog.format(
	             'SELECT k.subject, k.subject_id, k.key_version, k.wrapped_key FROM @extschema@.subject_keys k'
	             ' WHERE k.key_version OPERATOR(pg_catalog.<) $1'
	             ' ORDER BY k.key_version, k.subject, k.subject_id LIMIT $2 FOR NO KEY UPDATE%s',
	             CASE WHEN p_wait THEN '' ELSE ' SKIP LOCKED' END)
	   USING p_current, p_limit
	LOOP
		v_wrapped := @extschema@._wrap_key(@extschema@._unwrap_key(b.wrapped_key, b.key_version), p_current);
		UPDATE @extschema@.subject_keys k
		   SET key_version = p_current, wrapped_key = v_wrapped
		 WHERE k.subject OPERATOR(pg_catalog.=) b.subject
		   AND k.subject_id OPERATOR(pg_catalog.=) b.subject_id;
		v_n := v_n OPERATOR(pg_catalog.+) 1;
	END LOOP;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@._rewrap_data_keys(integer, integer, boolean) IS
	'Internal (rotate_master_key): re-wraps up to p_limit data keys under an older master version with version p_current, skipping rows locked by others unless p_wait; returns how many.';
REVOKE ALL ON FUNCTION @extschema@._rewrap_data_keys(integer, integer, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.rotate_master_key(batch_size integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_current integer;
	v_n integer;
BEGIN
	PERFORM @extschema@._check_batch_size(batch_size);
	PERFORM @extschema@._require_read_committed('rotate_master_key');
	-- the version read under the lock of this call's writes (sql/30_keys.sql)
	PERFORM @extschema@._lock_for_writing('@extschema@.subject_keys');
	v_current := @extschema@._master_key_version();
	-- rows locked by a rotation or erasure of their own are skipped and
	-- picked up by a later call
	v_n := @extschema@._rewrap_data_keys(v_current, batch_size, false);
	-- Before saying that nothing is left: one row such a rotation or
	-- erasure holds is waited for (holding no other row, so that it cannot
	-- deadlock with this call); then every transaction writing data keys,
	-- whose keys may be wrapped under an older version (a registration in
	-- flight), and what they committed is taken.  Keys still locked by
	-- others after that are counted, not skipped: 0 means none is left.
	IF v_n OPERATOR(pg_catalog.=) 0 THEN
		v_n := @extschema@._rewrap_data_keys(v_current, 1, true);
	END IF;
	IF v_n OPERATOR(pg_catalog.=) 0 THEN
		PERFORM @extschema@._wait_for_writers(ARRAY['@extschema@.subject_keys'::pg_catalog.regclass]);
		v_n := @extschema@._rewrap_data_keys(v_current, batch_size, false);
	END IF;
	IF v_n OPERATOR(pg_catalog.=) 0 THEN
		SELECT pg_catalog.count(*) INTO v_n FROM @extschema@.subject_keys k
		 WHERE k.key_version OPERATOR(pg_catalog.<) v_current;
	END IF;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@.rotate_master_key(integer) IS
	'Re-wraps up to batch_size data keys under the current (highest) master key version in one short transaction and returns how many; call it again until it returns 0, which it returns only once no data key is under an older version, counting those of transactions in flight.  Intake and reads go on meanwhile.  Read committed only (DP418).';

CREATE FUNCTION @extschema@._reindex_phones(p_current integer, p_limit integer, p_wait boolean) RETURNS integer
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_skip text := CASE WHEN p_wait THEN '' ELSE ' SKIP LOCKED' END;
	v_done integer := 0;
	v_zone bigint;
	v_index record;
	b record;
BEGIN
	-- customers: open the phone with the customer's key, index it anew.
	-- Row by row, the index computed here: the key is read from
	-- subject_keys, which a statement Citus sends to a table's placements
	-- may not query (and the function is VOLATILE).
	FOR b IN EXECUTE pg_catalog.format(
	             'SELECT c.customer_id AS id, c.phone_enc FROM @extschema@.customers c'
	             ' WHERE c.phone_index IS NOT NULL AND c.phone_index_version OPERATOR(pg_catalog.<>) $1'
	             ' ORDER BY c.customer_id LIMIT $2 FOR UPDATE%s', v_skip)
	   USING p_current, p_limit
	LOOP
		v_index := @extschema@._phone_index_entry(@extschema@._unseal(b.phone_enc,
		               @extschema@._subject_key_or_null('customer', b.id)));
		UPDATE @extschema@.customers c SET phone_index = v_index.phone_index, phone_index_version = v_index.version
		 WHERE c.customer_id OPERATOR(pg_catalog.=) b.id;
		v_done := v_done OPERATOR(pg_catalog.+) 1;
	END LOOP;
	-- riders, zone by zone (each statement on one zone's rows)
	FOR v_zone IN SELECT z.zone_id FROM @extschema@.zones z ORDER BY 1 LOOP
		EXIT WHEN v_done OPERATOR(pg_catalog.>=) p_limit;
		FOR b IN EXECUTE pg_catalog.format(
		             'SELECT r.rider_id AS id, r.phone_enc FROM @extschema@.riders r'
		             ' WHERE r.zone_id OPERATOR(pg_catalog.=) $1'
		             '   AND r.phone_index IS NOT NULL AND r.phone_index_version OPERATOR(pg_catalog.<>) $2'
		             ' ORDER BY r.rider_id LIMIT $3 FOR UPDATE%s', v_skip)
		   USING v_zone, p_current, p_limit OPERATOR(pg_catalog.-) v_done
		LOOP
			v_index := @extschema@._phone_index_entry(@extschema@._unseal(b.phone_enc,
			               @extschema@._subject_key_or_null('rider', b.id)));
			UPDATE @extschema@.riders r SET phone_index = v_index.phone_index, phone_index_version = v_index.version
			 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone AND r.rider_id OPERATOR(pg_catalog.=) b.id;
			v_done := v_done OPERATOR(pg_catalog.+) 1;
		END LOOP;
	END LOOP;
	RETURN v_done;
END
$$;
COMMENT ON FUNCTION @extschema@._reindex_phones(integer, integer, boolean) IS
	'Internal (rotate_index_key): recomputes the blind indexes of up to p_limit customers and riders not under index version p_current, skipping rows locked by others unless p_wait; returns how many.';
REVOKE ALL ON FUNCTION @extschema@._reindex_phones(integer, integer, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.rotate_index_key(batch_size integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_current integer;
	v_done integer;
BEGIN
	PERFORM @extschema@._check_batch_size(batch_size);
	PERFORM @extschema@._require_read_committed('rotate_index_key');
	-- the version read under the lock of this call's writes (sql/30_keys.sql)
	PERFORM @extschema@._lock_for_writing('@extschema@.customers');
	PERFORM @extschema@._lock_for_writing('@extschema@.riders');
	v_current := @extschema@._index_key_version();
	v_done := @extschema@._reindex_phones(v_current, batch_size, false);
	-- before saying that nothing is left, as rotate_master_key: one locked
	-- row waited for, then every transaction writing customers or riders
	-- (a registration or rectification in flight may store an index under
	-- the old key), then what is still locked by others counted
	IF v_done OPERATOR(pg_catalog.=) 0 THEN
		v_done := @extschema@._reindex_phones(v_current, 1, true);
	END IF;
	IF v_done OPERATOR(pg_catalog.=) 0 THEN
		PERFORM @extschema@._wait_for_writers(ARRAY['@extschema@.customers'::pg_catalog.regclass,
		                                             '@extschema@.riders'::pg_catalog.regclass]);
		v_done := @extschema@._reindex_phones(v_current, batch_size, false);
	END IF;
	IF v_done OPERATOR(pg_catalog.=) 0 THEN
		v_done := (SELECT pg_catalog.count(*) FROM @extschema@.customers c
		            WHERE c.phone_index IS NOT NULL AND c.phone_index_version OPERATOR(pg_catalog.<>) v_current)
		          OPERATOR(pg_catalog.+)
		          (SELECT pg_catalog.count(*) FROM @extschema@.riders r
		            WHERE r.phone_index IS NOT NULL AND r.phone_index_version OPERATOR(pg_catalog.<>) v_current);
	END IF;
	RETURN v_done;
END
$$;
COMMENT ON FUNCTION @extschema@.rotate_index_key(integer) IS
	'Recomputes the blind indexes of up to batch_size customers and riders that are not under the current index key (the highest "index <version>" of the key file); returns how many, 0 only once every one is, counting those of transactions in flight.  Lookups find rows under every key in the file meanwhile, so it runs in batches without downtime; the old key may leave the file once it returns 0.  Read committed only (DP418).';

CREATE FUNCTION @extschema@.rotate_customer_key(customer_id bigint) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_version integer;
	v_wrapped bytea;
	v_old bytea;
	v_new bytea := @extschema@._random_key();
	v_current integer;
	t record;
	v_zone bigint;
	v_col text;
	v_n bigint;
	v_total integer := 0;
	v_phone bytea;
	v_name bytea;
	v_olds bytea[];
	v_news bytea[];
BEGIN
	-- (generic plans: the keys are never constants of a plan, _export_tables)
	-- waits for every transaction sealing with the old key (sql/30_keys.sql)
	PERFORM @extschema@._lock_subject('customer', rotate_customer_key.customer_id, true);
	IF @extschema@._lock_customer(rotate_customer_key.customer_id) IS NOT NULL THEN
		RAISE EXCEPTION 'personal data of customer % was erased', customer_id USING ERRCODE = 'DP402';
	END IF;
	SELECT k.key_version, k.wrapped_key INTO v_version, v_wrapped
	  FROM @extschema@.subject_keys k
	 WHERE k.subject OPERATOR(pg_catalog.=) 'customer'
	   AND k.subject_id OPERATOR(pg_catalog.=) rotate_customer_key.customer_id
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'customer % has no data key', customer_id
			USING ERRCODE = 'DP402', DETAIL = 'Nothing personal is stored for this customer.';
	END IF;
	v_old := @extschema@._unwrap_key(v_wrapped, v_version);

	-- Encryption draws a new IV each time (VOLATILE), which Citus refuses in
	-- an UPDATE of a distributed or reference table: every new ciphertext is
	-- computed here first and the statements only store values.
	SELECT @extschema@._reseal(c.phone_enc, v_old, v_new), @extschema@._reseal(c.name_enc, v_old, v_new)
	  INTO v_phone, v_name
	  FROM @extschema@.customers c
	 WHERE c.customer_id OPERATOR(pg_catalog.=) rotate_customer_key.customer_id;
	UPDATE @extschema@.customers c
	   SET phone_enc = v_phone, name_enc = v_name
	 WHERE c.customer_id OPERATOR(pg_catalog.=) rotate_customer_key.customer_id;
	v_total := (v_total OPERATOR(pg_catalog.+) 1)::integer;

	-- per table, column and zone: the sealed values (distinct; each
	-- ciphertext is unique) and their re-sealed forms, then one UPDATE that
	-- looks each row's new value up by its old one
	FOR t IN SELECT * FROM @extschema@._customer_tables() ct
	          WHERE NOT ct.via_order AND pg_catalog.cardinality(ct.sealed) OPERATOR(pg_catalog.>) 0
	LOOP
		FOREACH v_col IN ARRAY t.sealed LOOP
			FOR v_zone IN SELECT zl.zone_id FROM @extschema@._zone_list(t.has_zone) zl
			LOOP
				EXECUTE pg_catalog.format(
					'SELECT pg_catalog.array_agg(DISTINCT %I) FROM %s WHERE customer_id OPERATOR(pg_catalog.=) $1 AND %I IS NOT NULL%s',
					v_col, t.rel, v_col,
					CASE WHEN t.has_zone THEN ' AND zone_id OPERATOR(pg_catalog.=) $2' ELSE '' END)
				INTO v_olds USING rotate_customer_key.customer_id, v_zone;
				CONTINUE WHEN v_olds IS NULL;
				SELECT pg_catalog.array_agg(@extschema@._reseal(u.v, v_old, v_new) ORDER BY u.n) INTO v_news
				  FROM pg_catalog.unnest(v_olds) WITH ORDINALITY AS u(v, n);
				EXECUTE pg_catalog.format(
					'UPDATE %s SET %I = ($2::pg_catalog.bytea[])[pg_catalog.array_position($1::pg_catalog.bytea[], %I)]'
					' WHERE customer_id OPERATOR(pg_catalog.=) $3 AND %I OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.bytea[])%s',
					t.rel, v_col, v_col, v_col,
					CASE WHEN t.has_zone THEN ' AND zone_id OPERATOR(pg_catalog.=) $4' ELSE '' END)
				USING v_olds, v_news, rotate_customer_key.customer_id, v_zone;
				GET DIAGNOSTICS v_n = ROW_COUNT;
				v_total := (v_total OPERATOR(pg_catalog.+) v_n)::integer;
			END LOOP;
		END LOOP;
	END LOOP;

	-- the master version read under the lock of the write below
	-- (sql/30_keys.sql, writers of key versions)
	PERFORM @extschema@._lock_for_writing('@extschema@.subject_keys');
	v_current := @extschema@._master_key_version();
	v_wrapped := @extschema@._wrap_key(v_new, v_current);
	UPDATE @extschema@.subject_keys k
	   SET wrapped_key = v_wrapped, key_version = v_current,
	       created_at = pg_catalog.now()
	 WHERE k.subject OPERATOR(pg_catalog.=) 'customer'
	   AND k.subject_id OPERATOR(pg_catalog.=) rotate_customer_key.customer_id;

	INSERT INTO @extschema@.privacy_requests (customer_id, kind, requested_at, completed_at, detail)
	VALUES (rotate_customer_key.customer_id, 'rotate_key', v_started, pg_catalog.clock_timestamp(),
	        pg_catalog.jsonb_build_object('rows_resealed', v_total, 'master_key_version', v_current));
	RETURN v_total;
END
$$;
COMMENT ON FUNCTION @extschema@.rotate_customer_key(bigint) IS
	'Re-encrypts every sealed field of a customer under a fresh data key (wrapped by the current master key), in one transaction; returns the rows re-sealed.  Sealing for that customer waits meanwhile.  Read committed only (DP418).';

------------------------------------------------------------------------------
-- rights: export and erasure

-- Each right is a short list of named steps; the steps are internal
-- functions run by the entry point (SECURITY DEFINER), so they need no
-- SECURITY DEFINER of their own.

CREATE FUNCTION @extschema@._subject_key_or_null(p_subject text, p_subject_id bigint) RETURNS bytea
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_version integer;
	v_wrapped bytea;
BEGIN
	SELECT k.key_version, k.wrapped_key INTO v_version, v_wrapped
	  FROM @extschema@.subject_keys k
	 WHERE k.subject OPERATOR(pg_catalog.=) p_subject
	   AND k.subject_id OPERATOR(pg_catalog.=) p_subject_id;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	RETURN @extschema@._unwrap_key(v_wrapped, v_version);
END
$$;
COMMENT ON FUNCTION @extschema@._subject_key_or_null(text, bigint) IS
	'Internal: a customer''s or rider''s data key, unwrapped, or NULL when they have none (erased): sealed fields then read as NULL.  Creates nothing, unlike _data_key.';
REVOKE ALL ON FUNCTION @extschema@._subject_key_or_null(text, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._customer_key_or_null(p_customer_id bigint) RETURNS bytea
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
RETURN @extschema@._subject_key_or_null('customer', p_customer_id);
COMMENT ON FUNCTION @extschema@._customer_key_or_null(bigint) IS
	'Internal: a customer''s data key, unwrapped, or NULL when they have none (erased): sealed fields then read as NULL.  Creates nothing, unlike _data_key.';
REVOKE ALL ON FUNCTION @extschema@._customer_key_or_null(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._export_profile(p_cust @extschema@.customers, p_key bytea) RETURNS jsonb
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.jsonb_build_object(
	'customer_id', (p_cust).customer_id,
	'phone', @extschema@._unseal((p_cust).phone_enc, p_key),
	'name', @extschema@._unseal((p_cust).name_enc, p_key),
	'flagged', (p_cust).flagged,
	'flag_reason', (p_cust).flag_reason,
	'created_at', (p_cust).created_at,
	'forgotten_at', (p_cust).forgotten_at);
COMMENT ON FUNCTION @extschema@._export_profile(@extschema@.customers, bytea) IS
	'Internal (export_customer): the customer row as JSON, sealed fields opened with p_key (NULL: they come out as null).';
REVOKE ALL ON FUNCTION @extschema@._export_profile(@extschema@.customers, bytea) FROM PUBLIC;

-- A data key never becomes a constant of a plan: auto_explain (with
-- log_nested_statements and log_verbose) logs the plans of the statements
-- a function runs, and in a custom plan PL/pgSQL's variables, and the
-- arguments of EXECUTE ... USING, are folded into constants.  The sealed
-- columns are read by the dynamic statement as they are stored and opened
-- by a statement of the function's own, planned generically (the key a
-- parameter); nor does the key travel to a worker of Citus in a
-- statement's text.  Functions that hold a key in a variable and use it in
-- a statement (rather than a simple expression, which PL/pgSQL evaluates
-- without a plan) set plan_cache_mode likewise.
CREATE FUNCTION @extschema@._export_tables(p_customer_id bigint, p_key bytea) RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	v_tables jsonb := '{}';
	v_rows jsonb;
	v_part jsonb;
	v_list text;
	v_zone bigint;
	t record;
BEGIN
	-- every table with the customer's rows, read zone by zone; sealed
	-- columns are opened and named without _enc, other bytea (blind
	-- indexes) left out, geometries given as GeoJSON
	FOR t IN SELECT * FROM @extschema@._customer_tables() LOOP
		SELECT pg_catalog.string_agg(
		         CASE WHEN a.attname OPERATOR(pg_catalog.=) ANY (t.sealed)
		              THEN pg_catalog.format('x.%I', a.attname)
		              WHEN pg_catalog.format_type(a.atttypid, NULL) OPERATOR(pg_catalog.=) 'geometry'
		              THEN pg_catalog.format('@extschema@._geojson(x.%I) AS %I', a.attname, a.attname)
		              ELSE pg_catalog.format('x.%I', a.attname) END,
		         ', ' ORDER BY a.attnum)
		  INTO v_list
		  FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid OPERATOR(pg_catalog.=) t.rel AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
		   AND (a.atttypid OPERATOR(pg_catalog.<>) 'pg_catalog.bytea'::pg_catalog.regtype
		        OR a.attname OPERATOR(pg_catalog.=) ANY (t.sealed));
		v_rows := '[]';
		FOR v_zone IN SELECT zl.zone_id FROM @extschema@._zone_list(t.has_zone) zl
		LOOP
			IF t.via_order THEN
				EXECUTE pg_catalog.format(
					'SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s)) FROM (SELECT %s FROM %s x'
					' JOIN @extschema@.orders o ON o.zone_id OPERATOR(pg_catalog.=) x.zone_id AND o.order_id OPERATOR(pg_catalog.=) x.order_id'
					' WHERE o.zone_id OPERATOR(pg_catalog.=) $2 AND x.zone_id OPERATOR(pg_catalog.=) $2'
					' AND o.customer_id OPERATOR(pg_catalog.=) $1) s', v_list, t.rel)
				INTO v_part USING p_customer_id, v_zone;
			ELSE
				EXECUTE pg_catalog.format(
					'SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s)) FROM (SELECT %s FROM %s x'
					' WHERE x.customer_id OPERATOR(pg_catalog.=) $1%s) s', v_list, t.rel,
					CASE WHEN t.has_zone THEN ' AND x.zone_id OPERATOR(pg_catalog.=) $2' ELSE '' END)
				INTO v_part USING p_customer_id, v_zone;
			END IF;
			IF v_part IS NOT NULL AND pg_catalog.cardinality(t.sealed) OPERATOR(pg_catalog.>) 0 THEN
				-- each sealed column opened, and named without _enc
				SELECT pg_catalog.jsonb_agg(
				         (r.v OPERATOR(pg_catalog.-) t.sealed) OPERATOR(pg_catalog.||)
				         (SELECT pg_catalog.jsonb_object_agg(pg_catalog.regexp_replace(c, '_enc$', ''),
				                   @extschema@._unseal((r.v OPERATOR(pg_catalog.->>) c)::pg_catalog.bytea, p_key))
				            FROM pg_catalog.unnest(t.sealed) c)
				         ORDER BY r.n)
				  INTO v_part
				  FROM pg_catalog.jsonb_array_elements(v_part) WITH ORDINALITY r(v, n);
			END IF;
			IF v_part IS NOT NULL THEN
				v_rows := v_rows OPERATOR(pg_catalog.||) v_part;
			END IF;
		END LOOP;
		v_tables := pg_catalog.jsonb_set(v_tables, ARRAY[t.relname::text], v_rows);
	END LOOP;
	RETURN v_tables;
END
$$;
COMMENT ON FUNCTION @extschema@._export_tables(bigint, bytea) IS
	'Internal (export_customer): the customer''s rows of every table that holds them (_customer_tables), as {table: [row, ...]}, sealed fields opened with p_key.';
REVOKE ALL ON FUNCTION @extschema@._export_tables(bigint, bytea) FROM PUBLIC;

CREATE FUNCTION @extschema@._export_log(p_customer_id bigint, p_started timestamptz, p_rows bigint, p_opened boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.privacy_requests (customer_id, kind, requested_at, completed_at, detail)
	VALUES (p_customer_id, 'export', p_started, pg_catalog.clock_timestamp(),
	        pg_catalog.jsonb_build_object('rows', p_rows, 'erased', NOT p_opened));
	IF p_opened THEN
		INSERT INTO @extschema@.pii_access_log (subject, subject_id, purpose, detail)
		VALUES ('customer', p_customer_id, 'export',
		        pg_catalog.format('export_customer: profile and %s rows', p_rows));
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._export_log(bigint, timestamptz, bigint, boolean) IS
	'Internal (export_customer): logs the export in privacy_requests and, when sealed fields were opened, in pii_access_log.';
REVOKE ALL ON FUNCTION @extschema@._export_log(bigint, timestamptz, bigint, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@._export_document(p_cust @extschema@.customers, p_profile jsonb, p_tables jsonb)
RETURNS jsonb
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.jsonb_build_object(
		'customer_id', (p_cust).customer_id,
		'exported_at', @extschema@.clock(),
		'erased', (p_cust).forgotten_at IS NOT NULL,
		'profile', p_profile,
		'addresses', COALESCE((SELECT pg_catalog.jsonb_agg(DISTINCT o.v OPERATOR(pg_catalog.->) 'dropoff_address')
		                         FROM pg_catalog.jsonb_array_elements(COALESCE(p_tables OPERATOR(pg_catalog.->) 'orders', '[]')) o(v)
		                        WHERE pg_catalog.jsonb_typeof(o.v OPERATOR(pg_catalog.->) 'dropoff_address')
		                              OPERATOR(pg_catalog.=) 'string'), '[]'),
		'tables', p_tables,
		-- the referrals the customer made: theirs as the referrer (tables
		-- has the one they took); the referee's id and order are the
		-- referee's, and left out
		'referrals_made', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
		                                     'campaign_id', r.campaign_id, 'applied_at', r.applied_at,
		                                     'status', r.status, 'settled_at', r.settled_at)
		                                   ORDER BY r.applied_at, r.customer_id)
		                              FROM @extschema@.referrals r
		                             WHERE r.referrer_id OPERATOR(pg_catalog.=) (p_cust).customer_id), '[]'),
		-- every opening: those made for an order lie in its zone
		-- (order_access_log), the others in pii_access_log
		'access_log', @extschema@._access_log('customer', (p_cust).customer_id, NULL));
END;
COMMENT ON FUNCTION @extschema@._export_document(@extschema@.customers, jsonb, jsonb) IS
	'Internal (export_customer): the export document: profile, addresses (the distinct drop-off addresses of the orders), tables, the referrals the customer made (without the referees'' ids and orders) and the customer''s access log (pii_access_log and order_access_log, in time order).';
REVOKE ALL ON FUNCTION @extschema@._export_document(@extschema@.customers, jsonb, jsonb) FROM PUBLIC;

CREATE FUNCTION @extschema@.export_customer(customer_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_cust @extschema@.customers;
	v_key bytea;
	v_profile jsonb;
	v_tables jsonb;
	v_rows bigint;
BEGIN
	SELECT * INTO v_cust FROM @extschema@.customers c
	 WHERE c.customer_id OPERATOR(pg_catalog.=) export_customer.customer_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'customer % does not exist', customer_id USING ERRCODE = 'DP012';
	END IF;
	v_key := @extschema@._customer_key_or_null(customer_id);
	v_profile := @extschema@._export_profile(v_cust, v_key);
	v_tables := @extschema@._export_tables(customer_id, v_key);
	SELECT COALESCE(pg_catalog.sum(pg_catalog.jsonb_array_length(e.value)), 0) INTO v_rows
	  FROM pg_catalog.jsonb_each(v_tables) e;
	PERFORM @extschema@._export_log(customer_id, v_started, v_rows, v_key IS NOT NULL);
	RETURN @extschema@._export_document(v_cust, v_profile, v_tables)
	       OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('disclosures',
	           COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(d))
	                       FROM @extschema@.disclosures(export_customer.customer_id) d), '[]'));
END
$$;
COMMENT ON FUNCTION @extschema@.export_customer(bigint) IS
	'Everything stored about a customer as JSON: profile, addresses, every table holding their rows (found in the catalog, sealed fields opened; of the tables keyed by their orders not the riders'': rider_pay, offer_audit, offers, offer_exclusions), the referrals they made (referrals_made: campaign, when, status, without the referees), who opened their data when, and what went to which processor (disclosures).  Logged in privacy_requests and pii_access_log.';

CREATE FUNCTION @extschema@._forget_lock_orders(p_customer_id bigint) RETURNS bigint[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
	v_active bigint[] := '{}';
	v_open bigint[];
	v_unpaid bigint[] := '{}';
	v_ids bigint[];
BEGIN
	FOR v_zone IN SELECT z.zone_id FROM @extschema@.zones z ORDER BY 1 LOOP
		SELECT pg_catalog.array_agg(o.order_id ORDER BY o.order_id) FILTER (WHERE o.status IN ('placed', 'accepted', 'assigned', 'picked_up')),
		       pg_catalog.array_agg(o.order_id ORDER BY o.order_id) FILTER (WHERE o.status IN ('pending_payment', 'payment_failed'))
		  INTO v_ids, v_open
		  FROM (SELECT o.order_id, o.status FROM @extschema@.orders o
		         WHERE o.zone_id OPERATOR(pg_catalog.=) v_zone
		           AND o.customer_id OPERATOR(pg_catalog.=) p_customer_id
		           AND o.status NOT IN ('delivered', 'cancelled')
		           FOR UPDATE) o;
		v_active := v_active OPERATOR(pg_catalog.||) COALESCE(v_ids, '{}');
		v_unpaid := v_unpaid OPERATOR(pg_catalog.||) COALESCE(v_open, '{}');
	END LOOP;
	IF pg_catalog.cardinality(v_active) OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION 'customer % has an active order and cannot be forgotten now', p_customer_id
			USING ERRCODE = 'DP405',
			      DETAIL = pg_catalog.format('Active orders: %s.', pg_catalog.array_to_string(v_active, ', ')),
			      HINT = 'Erase the customer after delivery (or after cancelling the order); nothing was changed.';
	END IF;
	RETURN v_unpaid;
END
$$;
COMMENT ON FUNCTION @extschema@._forget_lock_orders(bigint) IS
	'Internal (forget_customer): locks every unfinished order of the customer so that none moves on meanwhile; DP405 if one is placed, accepted, assigned or picked up; returns the unpaid ones (pending_payment, payment_failed).';
REVOKE ALL ON FUNCTION @extschema@._forget_lock_orders(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._shred_key(p_subject text, p_subject_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM FROM @extschema@.subject_keys k
	  WHERE k.subject OPERATOR(pg_catalog.=) p_subject
	    AND k.subject_id OPERATOR(pg_catalog.=) p_subject_id
	    FOR UPDATE;
	DELETE FROM @extschema@.subject_keys k
	 WHERE k.subject OPERATOR(pg_catalog.=) p_subject
	   AND k.subject_id OPERATOR(pg_catalog.=) p_subject_id;
END
$$;
COMMENT ON FUNCTION @extschema@._shred_key(text, bigint) IS
	'Internal (forget_customer, forget_rider): crypto-shredding: deletes the subject''s data key, so that no sealed field of theirs opens again.';
REVOKE ALL ON FUNCTION @extschema@._shred_key(text, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._forget_key(p_customer_id bigint) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT @extschema@._shred_key('customer', p_customer_id);
END;
COMMENT ON FUNCTION @extschema@._forget_key(bigint) IS
	'Internal (forget_customer): crypto-shredding: deletes the customer''s data key, so that no sealed field of theirs opens again.';
REVOKE ALL ON FUNCTION @extschema@._forget_key(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._forget_rows(p_customer_id bigint, p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_cell float8;
	v_zone bigint;
	v_n bigint;
	v_rows bigint := 0;
	t record;
BEGIN
	-- drop-off points become cells of the grid of the retention policy
	SELECT p.cell_deg INTO v_cell FROM @extschema@.retention_effective() p
	 WHERE p.data_class OPERATOR(pg_catalog.=) 'dropoff_point';
	v_cell := COALESCE(v_cell, 0.01);
	FOR t IN SELECT * FROM @extschema@._customer_tables() ct WHERE NOT ct.via_order LOOP
		CONTINUE WHEN pg_catalog.cardinality(t.sealed) OPERATOR(pg_catalog.=) 0
		          AND t.relname OPERATOR(pg_catalog.<>) 'orders';
		FOR v_zone IN SELECT zl.zone_id FROM @extschema@._zone_list(t.has_zone) zl
		LOOP
			EXECUTE pg_catalog.format('UPDATE %s SET %s WHERE customer_id OPERATOR(pg_catalog.=) $1%s',
				t.rel,
				pg_catalog.concat_ws(', ',
					(SELECT pg_catalog.string_agg(pg_catalog.format('%I = NULL', c), ', ') FROM pg_catalog.unnest(t.sealed) c),
					-- and the reason an order was cancelled for: an app may pass
					-- the customer's own words; an errand's pickup is a place
					-- the customer named (a takeaway's, the merchant's door)
					CASE WHEN t.relname OPERATOR(pg_catalog.=) 'orders'
					     THEN 'dropoff = @extschema@._grid_cell(dropoff, $3), dropoff_coarsened_at = COALESCE(dropoff_coarsened_at, $4), '
					          'pickup = CASE WHEN kind OPERATOR(pg_catalog.=) ''errand'' THEN @extschema@._grid_cell(pickup, $3) ELSE pickup END, '
					          'cancel_reason = NULL' END),
				CASE WHEN t.has_zone THEN ' AND zone_id OPERATOR(pg_catalog.=) $2' ELSE '' END)
			USING p_customer_id, v_zone, v_cell, p_now;
			GET DIAGNOSTICS v_n = ROW_COUNT;
			v_rows := v_rows OPERATOR(pg_catalog.+) v_n;
		END LOOP;
	END LOOP;
	-- a refund carries its order's cancel reason: it goes with it; and the
	-- reasons a payment or a refund failed for, as the app or the payment
	-- service gave them (they may name the customer's card or bank)
	FOR v_zone IN SELECT zl.zone_id FROM @extschema@._zone_list(true) zl LOOP
		UPDATE @extschema@.refunds r SET reason = 'erased', failure_reason = NULL
		  FROM @extschema@.orders o
		 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone AND o.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND r.order_id OPERATOR(pg_catalog.=) o.order_id
		   AND o.customer_id OPERATOR(pg_catalog.=) p_customer_id
		   AND (r.reason OPERATOR(pg_catalog.<>) 'erased' OR r.failure_reason IS NOT NULL);
		UPDATE @extschema@.payments p SET failure_reason = NULL
		  FROM @extschema@.orders o
		 WHERE p.zone_id OPERATOR(pg_catalog.=) v_zone AND o.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND p.order_id OPERATOR(pg_catalog.=) o.order_id
		   AND o.customer_id OPERATOR(pg_catalog.=) p_customer_id
		   AND p.failure_reason IS NOT NULL;
		-- what was written resolving their complaints (the caller's free
		-- text about the customer's order, sql/76_complaints.sql)
		UPDATE @extschema@.complaint_tickets k SET resolution = 'erased'
		  FROM @extschema@.orders o
		 WHERE k.zone_id OPERATOR(pg_catalog.=) v_zone AND o.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND k.order_id OPERATOR(pg_catalog.=) o.order_id
		   AND o.customer_id OPERATOR(pg_catalog.=) p_customer_id
		   AND k.resolution OPERATOR(pg_catalog.<>) 'erased';
	END LOOP;
	RETURN v_rows;
END
$$;
COMMENT ON FUNCTION @extschema@._forget_rows(bigint, timestamptz) IS
	'Internal (forget_customer): sets every sealed field of the customer''s rows (_customer_tables) to NULL, coarsens the drop-off points of their orders and the pickup points of their errands and clears the reasons given for cancelling them (on the orders and their refunds), for the failures of their payments and refunds, and the resolutions of their complaint tickets (the word erased); returns the rows changed.';
REVOKE ALL ON FUNCTION @extschema@._forget_rows(bigint, timestamptz) FROM PUBLIC;

-- The reason given for a rectification is the caller's free text
-- (_rectify_log writes 'fields: ...; reason: <text>'): it may name the
-- person, so an erasure keeps which fields were changed, when and by whom,
-- and puts the word erased in place of the reason.
CREATE FUNCTION @extschema@._forget_rectify_reasons(p_subject text, p_subject_id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_n bigint;
BEGIN
	UPDATE @extschema@.pii_access_log l
	   SET detail = pg_catalog.split_part(l.detail, '; reason: ', 1) OPERATOR(pg_catalog.||) '; reason: erased'
	 WHERE l.subject OPERATOR(pg_catalog.=) p_subject
	   AND l.subject_id OPERATOR(pg_catalog.=) p_subject_id
	   AND l.purpose OPERATOR(pg_catalog.=) 'rectification'
	   AND l.detail OPERATOR(pg_catalog.<>)
	       (pg_catalog.split_part(l.detail, '; reason: ', 1) OPERATOR(pg_catalog.||) '; reason: erased');
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@._forget_rectify_reasons(text, bigint) IS
	'Internal (forget_customer, forget_rider): replaces the reasons given for the subject''s rectifications in pii_access_log (free text of the caller''s) by the word erased, keeping the fields changed; returns the log rows changed.';
REVOKE ALL ON FUNCTION @extschema@._forget_rectify_reasons(text, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@._forget_profile(p_customer_id bigint, p_now timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE @extschema@.consents c SET revoked_at = p_now
	 WHERE c.customer_id OPERATOR(pg_catalog.=) p_customer_id AND c.revoked_at IS NULL;
	UPDATE @extschema@.customers c
	   SET phone_index = NULL, phone_enc = NULL, name_enc = NULL, flag_reason = NULL, forgotten_at = p_now
	 WHERE c.customer_id OPERATOR(pg_catalog.=) p_customer_id;
	-- a dispatcher's words about the customer go too; that they were flagged stays
	UPDATE @extschema@.customer_flags f SET reason = NULL
	 WHERE f.customer_id OPERATOR(pg_catalog.=) p_customer_id AND f.reason IS NOT NULL;
	-- their referral code: it named them to whoever it was given, and no
	-- one is referred by an erased customer any more
	DELETE FROM @extschema@.referral_codes r WHERE r.customer_id OPERATOR(pg_catalog.=) p_customer_id;
	PERFORM @extschema@._forget_rectify_reasons('customer', p_customer_id);
END
$$;
COMMENT ON FUNCTION @extschema@._forget_profile(bigint, timestamptz) IS
	'Internal (forget_customer): revokes the customer''s open consents, removes the phone blind index, the flag reason, the referral code and the reasons given for their rectifications (pii_access_log), and stamps forgotten_at.';
REVOKE ALL ON FUNCTION @extschema@._forget_profile(bigint, timestamptz) FROM PUBLIC;

-- An erased customer's exposures (forget_customer): each is counted into
-- experiment_erased as experiment_results counts it now (variant, day,
-- converted: an order placed within the window and not cancelled; an
-- erased customer's orders have all ended, so this never changes), taken
-- out of the rollup (its fact subtracted from experiment_daily) and
-- deleted, with its fact.  Under the rollup's lock (advisory, 'rollup'),
-- so that no run counts an exposure gone meanwhile nor has counted one
-- that the subtraction misses.  It writes the experiments' tables
-- (sql/86_experiments.sql) and the rollup's (sql/90_growth.sql).
CREATE FUNCTION @extschema@._forget_experiments(p_customer_id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
	v_converted bigint[] := '{}';
	v_ids bigint[];
	v_n bigint;
BEGIN
	PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._lock_key('rollup')::integer, 0);
	PERFORM FROM @extschema@.experiment_exposures e
	  WHERE e.customer_id OPERATOR(pg_catalog.=) p_customer_id
	  FOR UPDATE;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	-- the experiments the customer converted in, zone by zone
	FOR v_zone IN SELECT z.zone_id FROM @extschema@.zones z ORDER BY 1 LOOP
		SELECT pg_catalog.array_agg(DISTINCT e.experiment_id) INTO v_ids
		  FROM @extschema@.experiment_exposures e
		  JOIN @extschema@.experiments x ON x.experiment_id OPERATOR(pg_catalog.=) e.experiment_id
		  JOIN @extschema@.orders o
		    ON o.zone_id OPERATOR(pg_catalog.=) v_zone
		   AND o.customer_id OPERATOR(pg_catalog.=) e.customer_id
		   AND o.created_at OPERATOR(pg_catalog.<) (e.exposed_at OPERATOR(pg_catalog.+) x.conversion_window)
		   AND o.placed_at OPERATOR(pg_catalog.>=) e.exposed_at
		   AND o.placed_at OPERATOR(pg_catalog.<) (e.exposed_at OPERATOR(pg_catalog.+) x.conversion_window)
		   AND o.status OPERATOR(pg_catalog.<>) 'cancelled'
		 WHERE e.customer_id OPERATOR(pg_catalog.=) p_customer_id;
		v_converted := v_converted OPERATOR(pg_catalog.||) COALESCE(v_ids, '{}');
	END LOOP;

	INSERT INTO @extschema@.experiment_erased AS t (experiment_id, variant, day, exposed, converted)
	SELECT e.experiment_id, e.variant, (e.exposed_at AT TIME ZONE 'UTC')::date, 1,
	       (e.experiment_id OPERATOR(pg_catalog.=) ANY (v_converted))::integer
	  FROM @extschema@.experiment_exposures e
	 WHERE e.customer_id OPERATOR(pg_catalog.=) p_customer_id
	ON CONFLICT ON CONSTRAINT experiment_erased_pkey DO UPDATE
	   SET exposed = t.exposed OPERATOR(pg_catalog.+) EXCLUDED.exposed,
	       converted = t.converted OPERATOR(pg_catalog.+) EXCLUDED.converted;
	GET DIAGNOSTICS v_n = ROW_COUNT;

	-- out of the rollup: what it counted for them (experiment_daily holds
	-- the live exposures only; a full run rebuilds it from them)
	UPDATE @extschema@.experiment_daily d
	   SET exposed = d.exposed OPERATOR(pg_catalog.-) f.exposed,
	       converted = d.converted OPERATOR(pg_catalog.-) f.converted
	  FROM (SELECT f.experiment_id, f.variant, f.day, pg_catalog.count(*)::integer AS exposed,
	               pg_catalog.count(*) FILTER (WHERE f.converted)::integer AS converted
	          FROM @extschema@.experiment_facts f
	         WHERE f.customer_id OPERATOR(pg_catalog.=) p_customer_id
	         GROUP BY 1, 2, 3) f
	 WHERE d.experiment_id OPERATOR(pg_catalog.=) f.experiment_id
	   AND d.variant OPERATOR(pg_catalog.=) f.variant AND d.day OPERATOR(pg_catalog.=) f.day;
	DELETE FROM @extschema@.experiment_facts f WHERE f.customer_id OPERATOR(pg_catalog.=) p_customer_id;
	DELETE FROM @extschema@.experiment_exposures e WHERE e.customer_id OPERATOR(pg_catalog.=) p_customer_id;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION @extschema@._forget_experiments(bigint) IS
	'Internal (forget_customer): moves the customer''s experiment exposures into experiment_erased as counts without ids (variant, day, converted as experiment_results counts it), takes them out of the rollup (experiment_daily, experiment_facts) and deletes them; under the rollup''s lock (advisory, ''rollup'').  Returns the exposures moved.';
REVOKE ALL ON FUNCTION @extschema@._forget_experiments(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.forget_customer(customer_id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_now timestamptz := @extschema@.clock();
	v_unpaid bigint[];
	v_order bigint;
	v_rows bigint;
	v_exposures bigint;
	v_request bigint;
BEGIN
	-- first the subject lock (it waits for transactions sealing for this
	-- customer, which lock the customer row after it), then the row
	PERFORM @extschema@._lock_subject('customer', forget_customer.customer_id, true);
	IF @extschema@._lock_customer(forget_customer.customer_id) IS NOT NULL THEN
		SELECT r.request_id INTO v_request FROM @extschema@.privacy_requests r
		 WHERE r.customer_id OPERATOR(pg_catalog.=) forget_customer.customer_id
		   AND r.kind OPERATOR(pg_catalog.=) 'forget'
		 ORDER BY r.request_id LIMIT 1;
		RAISE NOTICE 'customer % was forgotten already', customer_id;
		RETURN v_request;
	END IF;

	v_unpaid := @extschema@._forget_lock_orders(customer_id);   -- DP405 if active
	FOREACH v_order IN ARRAY v_unpaid LOOP                     -- never paid now
		PERFORM @extschema@.cancel_order(v_order, 'customer erased');
	END LOOP;
	PERFORM @extschema@._forget_key(customer_id);
	v_rows := @extschema@._forget_rows(customer_id, v_now);
	v_exposures := @extschema@._forget_experiments(customer_id);
	PERFORM @extschema@._forget_profile(customer_id, v_now);

	INSERT INTO @extschema@.privacy_requests (customer_id, kind, requested_at, completed_at, detail)
	VALUES (forget_customer.customer_id, 'forget', v_started, pg_catalog.clock_timestamp(),
	        pg_catalog.jsonb_build_object('rows_anonymised', v_rows,
	                                      'orders_cancelled', pg_catalog.cardinality(v_unpaid),
	                                      'exposures_counted', v_exposures))
	RETURNING request_id INTO v_request;
	RETURN v_request;
END
$$;
COMMENT ON FUNCTION @extschema@.forget_customer(bigint) IS
	'Erases a customer: destroys their data key (crypto-shredding), removes the phone blind index, every sealed field, their referral code and the reasons given for their rectifications (pii_access_log: the word erased, the fields stay) and the resolutions of their complaint tickets (the word erased), coarsens their drop-off points and their errands'' pickup points, cancels unpaid orders, revokes consents, turns their experiment exposures into counts without ids (experiment_erased) and stamps forgotten_at; ids, amounts and times stay for accounting.  Refused (DP405) while an order is placed, accepted, assigned or picked up, and in a repeatable read or serializable transaction (DP418).  Returns the privacy request id.';

------------------------------------------------------------------------------
-- rectification: a subject's phone and name, corrected
--
-- The new values are sealed under the subject's own data key (orders sealed
-- before keep theirs: an address is what the order was delivered to), the
-- blind index follows the phone, and pii_access_log names who changed which
-- fields and why.  A NULL argument keeps the field, an empty name clears it.

CREATE FUNCTION @extschema@._rectify_log(p_subject text, p_subject_id bigint, p_fields text[], p_reason text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO @extschema@.pii_access_log (subject, subject_id, purpose, detail)
	VALUES (p_subject, p_subject_id, 'rectification',
	        'fields: ' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(p_fields, ', ')
	        OPERATOR(pg_catalog.||) '; reason: ' OPERATOR(pg_catalog.||) p_reason);
END;
COMMENT ON FUNCTION @extschema@._rectify_log(text, bigint, text[], text) IS
	'Internal: notes a rectification in pii_access_log: the fields changed (never their values) and the reason given.';
REVOKE ALL ON FUNCTION @extschema@._rectify_log(text, bigint, text[], text) FROM PUBLIC;

CREATE FUNCTION @extschema@._rectify_check(p_phone text, p_name text, p_name_input text, p_reason text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._check_length('phone', p_phone);
	PERFORM @extschema@._check_length(p_name_input, p_name);
	PERFORM @extschema@._check_length('reason', p_reason);
	IF @extschema@._is_blank(p_reason) THEN
		RAISE EXCEPTION 'a rectification needs a reason' USING ERRCODE = 'DP412';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._rectify_check(text, text, text, text) IS
	'Internal: the argument checks of update_customer and update_rider (lengths, DP028; a reason, DP412).';
REVOKE ALL ON FUNCTION @extschema@._rectify_check(text, text, text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@._rectify(p_subject text, p_id bigint, p_phone text, p_name text, p_reason text)
RETURNS text[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- customers or riders: the two tables of subjects, alike in these columns
	v_table text := CASE p_subject WHEN 'customer' THEN 'customers' WHEN 'rider' THEN 'riders' END;
	v_fields text[] := '{}';
	v_taken boolean;
	v_sealed bytea;
	v_index record;
	-- a rider's row is found in the rider's zone (riders are distributed
	-- by zone on Citus); customers have no zone
	v_zone bigint := CASE p_subject WHEN 'rider' THEN @extschema@._rider_zone(p_id) END;
	v_zone_clause text := CASE p_subject WHEN 'rider' THEN ' AND s.zone_id OPERATOR(pg_catalog.=) $%s' ELSE '' END;
BEGIN
	IF p_phone IS NOT NULL THEN
		-- a rider's phone: looked up under its lock, as register_rider does
		IF p_subject OPERATOR(pg_catalog.=) 'rider' THEN
			PERFORM @extschema@._lock_rider_phone(p_phone);
		END IF;
		-- the indexes computed first, a constant of the statement (on Citus
		-- it reaches every zone's riders); a subquery with a column, as
		-- Citus reads its result back from the workers
		EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM @extschema@.%I s WHERE s.phone_index OPERATOR(pg_catalog.=)'
		                          ' ANY ($1) AND s.%I OPERATOR(pg_catalog.<>) $2)',
		                          v_table, p_subject || '_id')
		   INTO v_taken USING @extschema@._phone_indexes(p_phone), p_id;
		IF NOT v_taken THEN
			BEGIN
				-- sealed here, stored as values: sealing draws a new IV
				-- (VOLATILE), which Citus refuses inside an UPDATE
				v_sealed := @extschema@.pii_seal(p_subject, p_id, @extschema@.normalize_phone(p_phone));
				-- the blind index and its version, read under the lock of
				-- the UPDATE (sql/30_keys.sql, writers of key versions)
				PERFORM @extschema@._lock_for_writing(pg_catalog.format('@extschema@.%I', v_table)::pg_catalog.regclass);
				v_index := @extschema@._phone_index_entry(p_phone);
				EXECUTE pg_catalog.format('UPDATE @extschema@.%I s SET phone_index = $1, phone_index_version = $2,'
				                          ' phone_enc = $3 WHERE s.%I OPERATOR(pg_catalog.=) $4%s',
				                          v_table, p_subject || '_id', pg_catalog.format(v_zone_clause, 5))
				   USING v_index.phone_index, v_index.version, v_sealed, p_id, v_zone;
			EXCEPTION WHEN unique_violation THEN
				-- registered meanwhile by a transaction that committed while we waited
				v_taken := true;
			END;
		END IF;
		IF v_taken THEN
			RAISE EXCEPTION 'another % has this phone number', p_subject USING ERRCODE = 'DP026';
		END IF;
		v_fields := v_fields OPERATOR(pg_catalog.||) 'phone'::text;
	END IF;
	IF p_name IS NOT NULL THEN
		-- an empty or blank name (_is_blank) clears it: never a name of spaces
		v_sealed := @extschema@.pii_seal(p_subject, p_id, CASE WHEN NOT @extschema@._is_blank(p_name) THEN p_name END);
		EXECUTE pg_catalog.format('UPDATE @extschema@.%I s SET name_enc = $1 WHERE s.%I OPERATOR(pg_catalog.=) $2%s',
		                          v_table, p_subject || '_id', pg_catalog.format(v_zone_clause, 3))
		   USING v_sealed, p_id, v_zone;
		v_fields := v_fields OPERATOR(pg_catalog.||) 'name'::text;
	END IF;
	IF pg_catalog.cardinality(v_fields) OPERATOR(pg_catalog.>) 0 THEN
		PERFORM @extschema@._rectify_log(p_subject, p_id, v_fields, p_reason);
	END IF;
	RETURN v_fields;
END
$$;
COMMENT ON FUNCTION @extschema@._rectify(text, bigint, text, text, text) IS
	'Internal (update_customer, update_rider): sets the phone (resealed, blind index moved; DP026 when another subject of the kind has it) and the name (an empty or blank one clears it) of a locked customer or rider, logs the fields changed, and returns them.';
REVOKE ALL ON FUNCTION @extschema@._rectify(text, bigint, text, text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.update_customer(customer_id bigint, phone text DEFAULT NULL, name text DEFAULT NULL,
                                            reason text DEFAULT 'rectification requested by the customer')
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_fields text[];
BEGIN
	PERFORM @extschema@._rectify_check(phone, name, 'customer_name', reason);
	IF @extschema@._lock_customer(customer_id) IS NOT NULL THEN
		RAISE EXCEPTION 'customer % is erased', customer_id USING ERRCODE = 'DP012';
	END IF;
	v_fields := @extschema@._rectify('customer', customer_id, phone, name, reason);
	IF pg_catalog.cardinality(v_fields) OPERATOR(pg_catalog.=) 0 THEN
		RETURN false;
	END IF;
	INSERT INTO @extschema@.privacy_requests (customer_id, kind, requested_at, completed_at, detail)
	VALUES (customer_id, 'rectify', @extschema@.clock(), @extschema@.clock(),
	        pg_catalog.jsonb_build_object('fields', pg_catalog.to_jsonb(v_fields)));
	RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.update_customer(bigint, text, text, text) IS
	'Rectification: sets a customer''s phone and/or name (NULL keeps a field, an empty or blank name clears it), sealed under the customer''s key, the phone''s blind index with it; DP026 when another customer has the phone, DP012 for an unknown or erased customer, DP412 for a NULL or blank reason (left out, it is ''rectification requested by the customer'').  Logged in pii_access_log (fields and reason, no values) and privacy_requests.  Returns whether anything changed.';

CREATE FUNCTION @extschema@.update_rider(rider_id bigint, phone text DEFAULT NULL, name text DEFAULT NULL,
                                         reason text DEFAULT 'rectification requested by the rider')
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- the zone read first, a constant for the statement: Citus then sends
	-- it to the zone's placement alone, which could not itself read
	-- rider_zones
	v_zone bigint := @extschema@._rider_zone(update_rider.rider_id);
BEGIN
	PERFORM @extschema@._rectify_check(phone, name, 'rider_name', reason);
	PERFORM FROM @extschema@.riders r
	  WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	    AND r.rider_id OPERATOR(pg_catalog.=) update_rider.rider_id AND r.forgotten_at IS NULL
	    FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rider % does not exist', rider_id USING ERRCODE = 'DP015';
	END IF;
	RETURN pg_catalog.cardinality(@extschema@._rectify('rider', rider_id, phone, name, reason))
	       OPERATOR(pg_catalog.>) 0;
END
$$;
COMMENT ON FUNCTION @extschema@.update_rider(bigint, text, text, text) IS
	'Rectification: sets a rider''s phone and/or name (NULL keeps a field, an empty or blank name clears it), sealed under the rider''s key, with the phone''s blind index; DP026 when another rider has the phone, DP015 for an unknown rider, DP412 for a NULL or blank reason (left out, it is ''rectification requested by the rider'').  Logged in pii_access_log (fields and reason, no values).  Returns whether anything changed.';

------------------------------------------------------------------------------
-- riders' rights: export and erasure
--
-- A rider's personal data: name and phone (sealed under the rider's key),
-- and the positions of their tracks.  Their deliveries, offers and pay stay
-- after erasure, under the bare rider id, which nothing then links to a
-- person: earnings and analytics still count them.

CREATE FUNCTION @extschema@.export_rider(rider_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	v_r @extschema@.riders;
	v_key bytea;
	v_doc jsonb;
	-- read first: a constant zone sends the statement to one placement,
	-- which could not itself read rider_zones
	v_zone bigint := @extschema@._rider_zone(export_rider.rider_id);
BEGIN
	-- (generic plans: the key is never a constant of a plan, _export_tables;
	-- on Citus, whose planner cannot distribute a generic plan of these
	-- statements, custom ones, for this call only: the function's SET
	-- clause ends what set_config sets locally here)
	IF EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		PERFORM pg_catalog.set_config('plan_cache_mode', 'auto', true);
	END IF;
	SELECT * INTO v_r FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rider % does not exist', rider_id USING ERRCODE = 'DP015';
	END IF;
	v_key := @extschema@._subject_key_or_null('rider', rider_id);
	v_doc := pg_catalog.jsonb_build_object(
		'profile', pg_catalog.jsonb_build_object(
			'rider_id', v_r.rider_id, 'zone_id', v_r.zone_id,
			'name', @extschema@._unseal(v_r.name_enc, v_key),
			'phone', @extschema@._unseal(v_r.phone_enc, v_key),
			'capacity', v_r.capacity, 'vehicle', v_r.vehicle, 'status', v_r.status,
			'created_at', v_r.created_at, 'forgotten_at', v_r.forgotten_at,
			'plan', CASE WHEN v_r.free_at IS NOT NULL THEN pg_catalog.jsonb_build_object(
				'free_at', v_r.free_at, 'position', @extschema@._geojson(v_r.free_position),
				'pickup_at', v_r.plan_pickup_at, 'pickup', @extschema@._geojson(v_r.plan_pickup_position)) END),
		'tracks', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'at', t.at, 'position', @extschema@._geojson(t.position)) ORDER BY t.at)
			FROM @extschema@.rider_tracks t WHERE t.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		-- the rider's side of their orders only: nothing of the customer
		'orders', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'order_id', o.order_id, 'zone_id', o.zone_id, 'status', o.status,
				'created_at', o.created_at, 'status_changed_at', o.status_changed_at) ORDER BY o.created_at)
			FROM @extschema@.orders o
			WHERE o.order_id IN (SELECT f.order_id FROM @extschema@.offers f
			                      WHERE f.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id)
			   OR o.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		'offers', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(f) ORDER BY f.created_at)
			FROM @extschema@.offers f WHERE f.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		'pay', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(p) ORDER BY p.delivered_at)
			FROM @extschema@.rider_pay p WHERE p.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		-- what their app synced, the orders they may no longer be offered
		-- (with the reason they gave releasing one), their shifts' starts
		-- and ends
		'sync_log', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(l) ORDER BY l.synced_at, l.client_at, l.client_event_id)
			FROM @extschema@.rider_sync_log l WHERE l.zone_id OPERATOR(pg_catalog.=) v_r.zone_id
			                                    AND l.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		'exclusions', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(x) ORDER BY x.at, x.order_id)
			FROM @extschema@.offer_exclusions x WHERE x.zone_id OPERATOR(pg_catalog.=) v_r.zone_id
			                                      AND x.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		-- how matching weighed them: every offer they were a candidate
		-- for (offer_audit, in their zone), their rank, whether they were
		-- chosen and their own cost components; never the other candidates
		'matching', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'offer_id', a.offer_id, 'order_id', a.order_id, 'batch_id', a.batch_id, 'method', a.method,
				'rank', c.rank, 'chosen', a.chosen_rider OPERATOR(pg_catalog.=) export_rider.rider_id,
				'distance_m', a.candidate_parts[c.rank][1], 'cost', a.candidate_parts[c.rank][2],
				'travel_s', a.candidate_parts[c.rank][3], 'rider_wait_s', a.candidate_parts[c.rank][4],
				'food_wait_s', a.candidate_parts[c.rank][5], 'late_s', a.candidate_parts[c.rank][6],
				'priority_factor', a.candidate_parts[c.rank][7], 'load_penalty', a.candidate_parts[c.rank][8],
				'fairness', a.candidate_parts[c.rank][9], 'fatigue', a.candidate_parts[c.rank][10])
				ORDER BY a.batch_id, a.offer_id)
			FROM @extschema@.offer_audit a
			CROSS JOIN LATERAL pg_catalog.generate_subscripts(a.candidate_ids, 1) AS c(rank)
			WHERE a.zone_id OPERATOR(pg_catalog.=) v_r.zone_id
			  AND a.candidate_ids[c.rank] OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		'status_events', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'at', e.at, 'kind', e.kind, 'payload', e.payload) ORDER BY e.seq)
			FROM @extschema@.events e WHERE e.zone_id OPERATOR(pg_catalog.=) v_r.zone_id
			                            AND e.kind OPERATOR(pg_catalog.=) 'rider_status'
			                            AND e.rider_id OPERATOR(pg_catalog.=) export_rider.rider_id), '[]'),
		-- both logs: an opening made for an order lies in the order's
		-- zone, which is the rider's
		'access_log', @extschema@._access_log('rider', export_rider.rider_id, v_r.zone_id),
		'disclosures', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(d))
			FROM @extschema@._disclosures_of(NULL, export_rider.rider_id) d), '[]'));
	INSERT INTO @extschema@.pii_access_log (subject, subject_id, purpose, detail)
	VALUES ('rider', rider_id, 'export',
	        pg_catalog.format('export_rider: profile, %s tracks, %s orders',
	                          pg_catalog.jsonb_array_length(v_doc -> 'tracks'),
	                          pg_catalog.jsonb_array_length(v_doc -> 'orders')));
	RETURN v_doc;
END
$$;
COMMENT ON FUNCTION @extschema@.export_rider(bigint) IS
	'Everything stored about a rider as JSON: profile (name and phone opened), tracks, their side of their orders (ids, statuses, times; nothing of the customer), offers, pay, their app''s sync log, their exclusions from orders (with the reason they gave releasing one), how matching weighed them (matching: each offer they were a candidate for in offer_audit, their rank, whether chosen and their own cost components, never the other candidates), their rider_status events and who opened their data.  Logged in pii_access_log.';

CREATE FUNCTION @extschema@.forget_rider(rider_id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_r @extschema@.riders;
	v_tracks bigint;
	-- read first: a constant zone sends the statement to one placement,
	-- which could not itself read rider_zones
	v_zone bigint := @extschema@._rider_zone(forget_rider.rider_id);
BEGIN
	SELECT * INTO v_r FROM @extschema@.riders r
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_zone
	   AND r.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rider % does not exist', rider_id USING ERRCODE = 'DP015';
	END IF;
	IF v_r.forgotten_at IS NOT NULL THEN
		RETURN 0;                                   -- a repeat
	END IF;
	IF v_r.active_orders OPERATOR(pg_catalog.>) 0 OR v_r.pending_offers OPERATOR(pg_catalog.>) 0
	   OR EXISTS (SELECT FROM @extschema@.orders o
	               WHERE o.zone_id OPERATOR(pg_catalog.=) v_r.zone_id
	                 AND o.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id
	                 AND o.status IN ('assigned', 'picked_up')) THEN
		RAISE EXCEPTION 'rider % holds orders or offers', rider_id USING ERRCODE = 'DP413',
			HINT = 'Erase the rider after their orders are delivered or released.';
	END IF;
	PERFORM @extschema@._shred_key('rider', rider_id);
	DELETE FROM @extschema@.rider_tracks t
	 WHERE t.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND t.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id;
	GET DIAGNOSTICS v_tracks = ROW_COUNT;
	-- what the rider's app synced (its event ids and times) goes with the
	-- tracks, and the words the rider gave answering an offer (an accept
	-- keeps its reason too, and a released offer is an accepted one) or
	-- releasing an order with the name: the offers and exclusions stay,
	-- without them
	DELETE FROM @extschema@.rider_sync_log l
	 WHERE l.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND l.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id;
	UPDATE @extschema@.offers f SET reason = NULL
	 WHERE f.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND f.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id
	   AND f.reason IS NOT NULL;
	UPDATE @extschema@.offer_exclusions e SET detail = NULL
	 WHERE e.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND e.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id
	   AND e.detail IS NOT NULL;
	PERFORM @extschema@._forget_rectify_reasons('rider', rider_id);
	UPDATE @extschema@.riders r
	   SET name_enc = NULL, phone_enc = NULL, phone_index = NULL, position = NULL, position_at = NULL,
	       free_at = NULL, free_position = NULL, plan_pickup_at = NULL, plan_pickup_position = NULL,
	       status = 'offline', online_since = NULL, shift_ends_at = NULL, forgotten_at = @extschema@.clock()
	 WHERE r.zone_id OPERATOR(pg_catalog.=) v_r.zone_id AND r.rider_id OPERATOR(pg_catalog.=) forget_rider.rider_id;
	IF v_r.status OPERATOR(pg_catalog.=) 'online' THEN
		PERFORM @extschema@._emit_event(v_r.zone_id, 'rider_status', NULL, NULL, rider_id,
		                                '{"status": "offline"}'::jsonb);
	END IF;
	INSERT INTO @extschema@.pii_access_log (subject, subject_id, purpose, detail)
	VALUES ('rider', rider_id, 'erasure', pg_catalog.format('forget_rider: key shredded, %s tracks deleted', v_tracks));
	RETURN v_tracks OPERATOR(pg_catalog.+) 1;
END
$$;
COMMENT ON FUNCTION @extschema@.forget_rider(bigint) IS
	'Erasure of a rider: refused (DP413) while they hold orders or offers; shreds their data key (name and phone never open again), deletes their tracks, last position and app sync log, clears the words they gave answering offers (accepted, rejected, released or other) and releasing orders and the reasons given for their rectifications (pii_access_log: the word erased), takes them offline for good; their deliveries, offers and pay stay under the bare id.  Returns rows erased (tracks and the profile); a repeat returns 0.  Logged in pii_access_log.';

------------------------------------------------------------------------------
-- processors: third parties that receive personal data, and what they got
--
-- A registry of processors (payment service, SMS gateway, map provider, ...)
-- with the purpose and legal basis of what they receive, and a disclosure
-- log written whenever the API hands personal data to one of them: which
-- fields of whom, when, by whom.  The log holds ids and field names only.

CREATE TABLE @extschema@.processors (
	processor_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name           text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
	purpose        text NOT NULL CHECK (pg_catalog.length(purpose) BETWEEN 1 AND 200),
	legal_basis    text NOT NULL CHECK (legal_basis IN ('consent', 'contract', 'legal_obligation',
	                                                    'vital_interests', 'public_task', 'legitimate_interests')),
	registered_at  timestamptz NOT NULL,
	retired_at     timestamptz
);
COMMENT ON TABLE @extschema@.processors IS
	'Third parties that receive personal data: name, purpose, legal basis (GDPR art. 6), when registered and retired.  register_processor keeps it.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.processors', '');
REVOKE ALL ON @extschema@.processors FROM PUBLIC;

CREATE TABLE @extschema@.disclosures (
	disclosure_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at             timestamptz NOT NULL,
	processor_id   bigint NOT NULL REFERENCES @extschema@.processors,
	customer_id    bigint,
	rider_id       bigint,
	order_id       bigint,
	fields         text[] NOT NULL CHECK (pg_catalog.cardinality(fields) BETWEEN 1 AND 20),
	actor          name NOT NULL DEFAULT SESSION_USER,
	CHECK ((customer_id IS NULL) OPERATOR(pg_catalog.<>) (rider_id IS NULL))
);
CREATE INDEX disclosures_customer_idx ON @extschema@.disclosures (customer_id, at) WHERE customer_id IS NOT NULL;
CREATE INDEX disclosures_rider_idx ON @extschema@.disclosures (rider_id, at) WHERE rider_id IS NOT NULL;
COMMENT ON TABLE @extschema@.disclosures IS
	'Every handing of personal data to a processor: when, to whom, whose (a customer or a rider), for which order, which fields (names, never values) and by whom; those made for an order of a zone are in order_disclosures, in the order''s zone.  Kept after erasure: it records what was disclosed, not the data.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.disclosures', '');
REVOKE ALL ON @extschema@.disclosures FROM PUBLIC;

-- The disclosures made for an order (order_contact via a relay, on the
-- path of a delivery, and record_disclosure naming an order) are recorded
-- in the order's zone, keyed by zone first: on Citus the table lies on the
-- zone's worker with the order, so the call writes that worker only, where
-- a row of disclosures (a reference table) would be written on every node
-- in a two-phase commit.  The columns of disclosures and the zone; the ids
-- carry the zone (zone_scoped_id), numbered by the node that writes them,
-- and never meet the ids of disclosures (an identity, far below 2^40).  The readers of
-- disclosures read both (_disclosures_of); the export lists them under
-- disclosures, not among the tables of the customer's rows
-- (_customer_tables leaves the table out by name).
CREATE SEQUENCE @extschema@.order_disclosures_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.order_disclosures (
	zone_id        bigint NOT NULL,
	disclosure_id  bigint NOT NULL,
	at             timestamptz NOT NULL,
	processor_id   bigint NOT NULL REFERENCES @extschema@.processors,
	customer_id    bigint,
	rider_id       bigint,
	order_id       bigint NOT NULL,
	fields         text[] NOT NULL CHECK (pg_catalog.cardinality(fields) BETWEEN 1 AND 20),
	actor          name NOT NULL DEFAULT SESSION_USER,
	PRIMARY KEY (zone_id, disclosure_id),
	CHECK (zone_id OPERATOR(pg_catalog.=) (disclosure_id OPERATOR(pg_catalog.>>) 40)),
	CHECK (zone_id OPERATOR(pg_catalog.=) (order_id OPERATOR(pg_catalog.>>) 40)),
	CHECK ((customer_id IS NULL) OPERATOR(pg_catalog.<>) (rider_id IS NULL))
);
ALTER SEQUENCE @extschema@.order_disclosures_id_seq OWNED BY @extschema@.order_disclosures.disclosure_id;
CREATE INDEX order_disclosures_customer_idx ON @extschema@.order_disclosures (customer_id, at) WHERE customer_id IS NOT NULL;
CREATE INDEX order_disclosures_rider_idx ON @extschema@.order_disclosures (rider_id, at) WHERE rider_id IS NOT NULL;
COMMENT ON SEQUENCE @extschema@.order_disclosures_id_seq IS
	'The low 40 bits of order_disclosures ids.';
COMMENT ON INDEX @extschema@.order_disclosures_customer_idx IS
	'A customer''s disclosures made for orders, for disclosures() and the export.';
COMMENT ON INDEX @extschema@.order_disclosures_rider_idx IS
	'A rider''s disclosures made for orders, for export_rider.';
COMMENT ON TABLE @extschema@.order_disclosures IS
	'Every handing of personal data to a processor made for an order, in the order''s zone: when, to whom, whose (a customer or a rider), for which order, which fields (names, never values) and by whom.  disclosures holds the others; their readers read both.  Kept after erasure.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_disclosures', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_disclosures_id_seq', '');
REVOKE ALL ON @extschema@.order_disclosures FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.order_disclosures_id_seq FROM PUBLIC;

CREATE FUNCTION @extschema@.register_processor(name text, purpose text, legal_basis text) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
BEGIN
	-- the table's constraints are the rules of a processor
	INSERT INTO @extschema@.processors AS p (name, purpose, legal_basis, registered_at)
	VALUES (register_processor.name, pg_catalog.btrim(register_processor.purpose),
	        register_processor.legal_basis, @extschema@.clock())
	ON CONFLICT ON CONSTRAINT processors_name_key DO UPDATE
	   SET purpose = EXCLUDED.purpose, legal_basis = EXCLUDED.legal_basis, retired_at = NULL
	RETURNING p.processor_id INTO v_id;
	RETURN v_id;
EXCEPTION WHEN check_violation OR not_null_violation THEN
	RAISE EXCEPTION 'a processor needs a name (lower case, digits, _ . -), a purpose of at most 200 characters and a legal basis'
		USING ERRCODE = 'DP415',
		      HINT = 'Legal bases: consent, contract, legal_obligation, vital_interests, public_task, legitimate_interests.';
END
$$;
COMMENT ON FUNCTION @extschema@.register_processor(text, text, text) IS
	'Registers a processor (or changes its purpose and legal basis, and brings a retired one back); returns its id.  DP415 for a bad name, purpose or legal basis.';

CREATE FUNCTION @extschema@.retire_processor(name text) RETURNS boolean
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	UPDATE @extschema@.processors p SET retired_at = @extschema@.clock()
	 WHERE p.name OPERATOR(pg_catalog.=) retire_processor.name AND p.retired_at IS NULL
	RETURNING true;
END;
COMMENT ON FUNCTION @extschema@.retire_processor(text) IS
	'Retires a processor: nothing may be disclosed to it any more (DP414); its past disclosures stay.  NULL when there is no such active processor.';

CREATE FUNCTION @extschema@.record_disclosure(processor text, customer_id bigint, rider_id bigint, fields text[],
                                              order_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_processor bigint;
	v_id bigint;
	v_zone bigint := @extschema@.zone_of(record_disclosure.order_id);
	-- the row's values computed here, the statement storing them: on Citus
	-- it runs on the zone's worker
	v_at timestamptz;
	v_actor name := SESSION_USER;
BEGIN
	IF (customer_id IS NULL) = (rider_id IS NULL) OR fields IS NULL
	   OR pg_catalog.cardinality(fields) NOT BETWEEN 1 AND 20
	   OR EXISTS (SELECT FROM pg_catalog.unnest(fields) f WHERE f IS NULL OR f !~ '^[a-z_]{1,40}$') THEN
		RAISE EXCEPTION 'a disclosure names one subject (a customer or a rider) and 1 to 20 fields (lower-case names)'
			USING ERRCODE = 'DP415';
	END IF;
	SELECT p.processor_id INTO v_processor FROM @extschema@.processors p
	 WHERE p.name OPERATOR(pg_catalog.=) processor AND p.retired_at IS NULL;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no active processor is named "%"', processor USING ERRCODE = 'DP414',
			HINT = 'Register it with register_processor(name, purpose, legal_basis).';
	END IF;
	v_at := @extschema@.clock();
	-- for an order of a zone: in the order's zone (order_disclosures), so
	-- that on Citus the call writes the zone's worker only
	IF EXISTS (SELECT FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) v_zone) THEN
		v_id := @extschema@.zone_scoped_id(v_zone, pg_catalog.nextval('@extschema@.order_disclosures_id_seq'));
		INSERT INTO @extschema@.order_disclosures (zone_id, disclosure_id, at, processor_id, customer_id, rider_id,
		                                           order_id, fields, actor)
		VALUES (v_zone, v_id, v_at, v_processor, record_disclosure.customer_id, record_disclosure.rider_id,
		        record_disclosure.order_id, fields, v_actor);
		RETURN v_id;
	END IF;
	INSERT INTO @extschema@.disclosures (at, processor_id, customer_id, rider_id, order_id, fields, actor)
	VALUES (v_at, v_processor, record_disclosure.customer_id, record_disclosure.rider_id,
	        record_disclosure.order_id, fields, v_actor)
	RETURNING disclosure_id INTO v_id;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.record_disclosure(text, bigint, bigint, text[], bigint) IS
	'Notes that personal data of a customer or a rider (field names, e.g. {phone, dropoff_address}) went to a registered processor, for an order or not; returns the disclosure''s id.  Recorded in order_disclosures, in the order''s zone, when it names an order of a zone; in disclosures otherwise.  DP414: no such active processor; DP415: not one subject, or bad field names.';

-- PL/pgSQL, whose statements are bound when first run: an SQL function
-- with a body bound when created (disclosures) calls it, and an upgrade
-- script may create order_disclosures after the routines that read it.
-- PARALLEL RESTRICTED: an export reads the disclosures in the transaction
-- that wrote them, which a parallel worker cannot do on Citus.
CREATE FUNCTION @extschema@._disclosures_of(p_customer_id bigint, p_rider_id bigint)
RETURNS TABLE (at timestamptz, processor text, purpose text, legal_basis text, fields text[], order_id bigint, actor name)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN QUERY
	SELECT d.at, p.name, p.purpose, p.legal_basis, d.fields, d.order_id, d.actor
	  FROM (SELECT r.at, r.processor_id, r.fields, r.order_id, r.actor, NULL::bigint AS zone_id, r.disclosure_id
	          FROM @extschema@.disclosures r
	         WHERE r.customer_id OPERATOR(pg_catalog.=) p_customer_id OR r.rider_id OPERATOR(pg_catalog.=) p_rider_id
	        UNION ALL
	        SELECT z.at, z.processor_id, z.fields, z.order_id, z.actor, z.zone_id, z.disclosure_id
	          FROM @extschema@.order_disclosures z
	         WHERE z.customer_id OPERATOR(pg_catalog.=) p_customer_id OR z.rider_id OPERATOR(pg_catalog.=) p_rider_id) d
	  JOIN @extschema@.processors p ON p.processor_id OPERATOR(pg_catalog.=) d.processor_id
	 ORDER BY d.at, d.zone_id NULLS FIRST, d.disclosure_id;
END
$$;
COMMENT ON FUNCTION @extschema@._disclosures_of(bigint, bigint) IS
	'Internal (disclosures, export_rider): the disclosures of a customer or of a rider (the other argument NULL), from disclosures and order_disclosures (those made for an order, in its zone), in time order, with the processor''s name, purpose and legal basis.';
REVOKE ALL ON FUNCTION @extschema@._disclosures_of(bigint, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.disclosures(customer_id bigint)
RETURNS TABLE (at timestamptz, processor text, purpose text, legal_basis text, fields text[], order_id bigint, actor name)
LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT * FROM @extschema@._disclosures_of(disclosures.customer_id, NULL);
END;
COMMENT ON FUNCTION @extschema@.disclosures(bigint) IS
	'What of a customer''s personal data went to which processor, when, why (purpose, legal basis) and for which order (from disclosures and order_disclosures); part of export_customer.';

------------------------------------------------------------------------------
-- requests of data subjects, with deadlines
--
-- A request is received (receive_privacy_request) with its due time,
-- dispatch.privacy_request_days later (30 by default; GDPR art. 12: a month);
-- handle_privacy_request does what can be done at once (access: the export;
-- erasure: forget_customer; objection: consents to marketing and
-- personalisation revoked); an erasure during an active delivery waits and
-- process_privacy_requests (pg_cron) completes it after the delivery;
-- a rectification is done with update_customer and closed with
-- complete_privacy_request.  privacy_request_sla shows the DPO what is open
-- and late.

CREATE FUNCTION @extschema@.receive_privacy_request(customer_id bigint, kind text) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_id bigint;
BEGIN
	IF kind IS NULL OR kind NOT IN ('access', 'erasure', 'rectification', 'objection') THEN
		RAISE EXCEPTION 'unknown kind of privacy request "%"', kind USING ERRCODE = 'DP416',
			HINT = 'Kinds: access, erasure, rectification, objection.';
	END IF;
	IF NOT EXISTS (SELECT FROM @extschema@.customers c
	                WHERE c.customer_id OPERATOR(pg_catalog.=) receive_privacy_request.customer_id) THEN
		RAISE EXCEPTION 'customer % does not exist', customer_id USING ERRCODE = 'DP012';
	END IF;
	INSERT INTO @extschema@.privacy_requests (customer_id, kind, requested_at, state, due_at)
	VALUES (customer_id, kind, v_now, 'received',
	        v_now OPERATOR(pg_catalog.+) pg_catalog.make_interval(days => @extschema@._setting_int('dispatch.privacy_request_days')))
	RETURNING request_id INTO v_id;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.receive_privacy_request(bigint, text) IS
	'Queues a data subject''s request (access, erasure, rectification, objection) of a customer, due dispatch.privacy_request_days later; returns its id.  DP416: unknown kind; DP012: unknown customer.';

CREATE FUNCTION @extschema@._open_request(p_request_id bigint) RETURNS @extschema@.privacy_requests
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_r @extschema@.privacy_requests;
BEGIN
	SELECT * INTO v_r FROM @extschema@.privacy_requests r
	 WHERE r.request_id OPERATOR(pg_catalog.=) p_request_id FOR UPDATE;
	IF NOT FOUND OR v_r.state NOT IN ('received', 'waiting') THEN
		RAISE EXCEPTION 'privacy request % is not open', p_request_id USING ERRCODE = 'DP417';
	END IF;
	RETURN v_r;
END
$$;
COMMENT ON FUNCTION @extschema@._open_request(bigint) IS
	'Internal: locks an open privacy request (received or waiting) and returns it; DP417 for any other.';
REVOKE ALL ON FUNCTION @extschema@._open_request(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.complete_privacy_request(request_id bigint, refused boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._open_request(request_id);
	UPDATE @extschema@.privacy_requests r
	   SET state = CASE WHEN refused THEN 'refused' ELSE 'done' END,
	       completed_at = @extschema@.clock(), handled_by = SESSION_USER
	 WHERE r.request_id OPERATOR(pg_catalog.=) complete_privacy_request.request_id;
END
$$;
COMMENT ON FUNCTION @extschema@.complete_privacy_request(bigint, boolean) IS
	'Closes an open privacy request as done (or refused), naming the session user as its handler; for rectifications after update_customer.  DP417 when it is not open.';

CREATE FUNCTION @extschema@.handle_privacy_request(request_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_r @extschema@.privacy_requests := @extschema@._open_request(request_id);
	v_out jsonb;
BEGIN
	IF v_r.kind OPERATOR(pg_catalog.=) 'access' THEN
		v_out := @extschema@.export_customer(v_r.customer_id);
	ELSIF v_r.kind OPERATOR(pg_catalog.=) 'objection' THEN
		PERFORM @extschema@.revoke_consent(v_r.customer_id, p)
		   FROM pg_catalog.unnest(ARRAY['marketing', 'personalisation']) p;
		v_out := '{"revoked": ["marketing", "personalisation"]}';
	ELSIF v_r.kind OPERATOR(pg_catalog.=) 'erasure' THEN
		BEGIN
			v_out := pg_catalog.jsonb_build_object('erased', @extschema@.forget_customer(v_r.customer_id));
		EXCEPTION WHEN SQLSTATE 'DP405' THEN
			-- an active delivery: process_privacy_requests completes it afterwards
			UPDATE @extschema@.privacy_requests r SET state = 'waiting', handled_by = SESSION_USER
			 WHERE r.request_id OPERATOR(pg_catalog.=) handle_privacy_request.request_id;
			RETURN '{"state": "waiting"}';
		END;
	ELSE
		RAISE EXCEPTION 'a rectification needs the corrected data' USING ERRCODE = 'DP416',
			HINT = 'Call update_customer with it, then complete_privacy_request.';
	END IF;
	PERFORM @extschema@.complete_privacy_request(request_id);
	RETURN pg_catalog.jsonb_build_object('state', 'done', 'result', v_out);
END
$$;
COMMENT ON FUNCTION @extschema@.handle_privacy_request(bigint) IS
	'Does an open request now and closes it: access returns the export, objection revokes consent to marketing and personalisation, erasure forgets the customer or, during an active delivery, leaves the request waiting for process_privacy_requests.  A rectification needs the corrected data (DP416: update_customer, then complete_privacy_request).';

CREATE FUNCTION @extschema@.process_privacy_requests() RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
	v_done integer := 0;
	v_code text;
BEGIN
	IF pg_catalog.pg_is_in_recovery() THEN
		RETURN 0;
	END IF;
	FOR v_id IN SELECT r.request_id FROM @extschema@.privacy_requests r
	             WHERE r.state OPERATOR(pg_catalog.=) 'waiting' AND r.kind OPERATOR(pg_catalog.=) 'erasure'
	             ORDER BY r.due_at LOOP
		-- each request in a subtransaction of its own: one that fails
		-- undoes only itself and stays waiting, the others go on.  Its
		-- failure is noted on the request, the SQLSTATE only (a message may
		-- quote personal data)
		BEGIN
			IF (@extschema@.handle_privacy_request(v_id) ->> 'state') OPERATOR(pg_catalog.=) 'done' THEN
				v_done := v_done OPERATOR(pg_catalog.+) 1;
			END IF;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE;
			UPDATE @extschema@.privacy_requests r
			   SET detail = r.detail OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
			                    'failed_at', @extschema@.clock(), 'sqlstate', v_code,
			                    'failures', COALESCE((r.detail OPERATOR(pg_catalog.->>) 'failures')::integer, 0)
			                                OPERATOR(pg_catalog.+) 1)
			 WHERE r.request_id OPERATOR(pg_catalog.=) v_id;
			RAISE WARNING 'privacy request % failed with SQLSTATE %; it stays waiting for the next run', v_id, v_code;
		END;
	END LOOP;
	RETURN v_done;
END
$$;
COMMENT ON FUNCTION @extschema@.process_privacy_requests() IS
	'pg_cron job (dispatch-privacy, every five minutes): completes the erasures that waited for a delivery to end; returns how many.  Each request runs on its own: one that fails is undone alone, stays waiting, and its detail notes the failure (failed_at, sqlstate, failures: a count); the others go on.  Nothing on a standby.';

CREATE VIEW @extschema@.privacy_request_sla AS
SELECT r.request_id, r.kind, r.state, r.requested_at AS received_at, r.due_at, r.completed_at, r.handled_by,
       CASE WHEN r.state IN ('received', 'waiting')
            THEN pg_catalog.ceil(pg_catalog.date_part('epoch', r.due_at OPERATOR(pg_catalog.-) @extschema@.clock())
                                 OPERATOR(pg_catalog./) 86400)::integer END AS days_left,
       COALESCE(r.completed_at, @extschema@.clock()) OPERATOR(pg_catalog.>) r.due_at AS late
  FROM @extschema@.privacy_requests r
 WHERE r.kind IN ('access', 'erasure', 'rectification', 'objection');
COMMENT ON VIEW @extschema@.privacy_request_sla IS
	'For the DPO: every request of a data subject, its state, when received and due, days left while open, and whether it was (or is) late.  No personal data (the customer is not named).';

INSERT INTO @extschema@.maintenance_jobs (jobname, schedule, command, runs_in) VALUES
	('dispatch-privacy', '*/5 * * * *', 'SELECT @extschema@.process_privacy_requests()', 'dispatch');

------------------------------------------------------------------------------
-- consent

CREATE FUNCTION @extschema@._check_purpose(p_purpose text) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_purpose IS NULL OR p_purpose NOT IN ('marketing', 'personalisation', 'analytics') THEN
		RAISE EXCEPTION 'unknown consent purpose "%"', p_purpose
			USING ERRCODE = 'DP406', HINT = 'Purposes are marketing, personalisation and analytics.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_purpose(text) IS
	'Internal: DP406 unless the purpose is marketing, personalisation or analytics.';
REVOKE ALL ON FUNCTION @extschema@._check_purpose(text) FROM PUBLIC;

CREATE FUNCTION @extschema@.grant_consent(customer_id bigint, purpose text, policy_version text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := @extschema@.clock();
	v_version text;
BEGIN
	PERFORM @extschema@._check_purpose(purpose);
	IF @extschema@._is_blank(policy_version) THEN
		RAISE EXCEPTION 'a consent names the policy version it was given for'
			USING ERRCODE = 'DP406';
	END IF;
	PERFORM @extschema@._check_length('policy_version', policy_version);
	-- the customer row is locked: consents of one customer change one at a time
	IF @extschema@._lock_customer(grant_consent.customer_id) IS NOT NULL THEN
		RAISE EXCEPTION 'customer % was forgotten', customer_id USING ERRCODE = 'DP402';
	END IF;
	SELECT c.policy_version INTO v_version FROM @extschema@.consents c
	 WHERE c.customer_id OPERATOR(pg_catalog.=) grant_consent.customer_id
	   AND c.purpose OPERATOR(pg_catalog.=) grant_consent.purpose AND c.revoked_at IS NULL;
	IF FOUND AND v_version OPERATOR(pg_catalog.=) policy_version THEN
		RETURN;                                  -- granted already under this version
	END IF;
	UPDATE @extschema@.consents c SET revoked_at = v_now
	 WHERE c.customer_id OPERATOR(pg_catalog.=) grant_consent.customer_id
	   AND c.purpose OPERATOR(pg_catalog.=) grant_consent.purpose AND c.revoked_at IS NULL;
	INSERT INTO @extschema@.consents (customer_id, purpose, policy_version, granted_at)
	VALUES (grant_consent.customer_id, purpose, policy_version, v_now);
END
$$;
COMMENT ON FUNCTION @extschema@.grant_consent(bigint, text, text) IS
	'Records a customer''s consent to a purpose (marketing, personalisation, analytics) under a policy version; a grant under a new version supersedes the old one, a repeated grant changes nothing.';

CREATE FUNCTION @extschema@.revoke_consent(customer_id bigint, purpose text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._check_purpose(purpose);
	PERFORM @extschema@._lock_customer(revoke_consent.customer_id);
	UPDATE @extschema@.consents c SET revoked_at = @extschema@.clock()
	 WHERE c.customer_id OPERATOR(pg_catalog.=) revoke_consent.customer_id
	   AND c.purpose OPERATOR(pg_catalog.=) revoke_consent.purpose AND c.revoked_at IS NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.revoke_consent(bigint, text) IS
	'Withdraws a customer''s consent to a purpose from now on; the history stays.';

CREATE FUNCTION @extschema@.has_consent(customer_id bigint, purpose text) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._check_purpose(purpose);
	RETURN EXISTS (SELECT FROM @extschema@.consents c
	                JOIN @extschema@.customers u ON u.customer_id OPERATOR(pg_catalog.=) c.customer_id
	               WHERE c.customer_id OPERATOR(pg_catalog.=) has_consent.customer_id
	                 AND c.purpose OPERATOR(pg_catalog.=) has_consent.purpose
	                 AND c.revoked_at IS NULL AND u.forgotten_at IS NULL);
END
$$;
COMMENT ON FUNCTION @extschema@.has_consent(bigint, text) IS
	'Whether the customer consents to the purpose now (an open grant, not revoked, customer not forgotten).';

CREATE FUNCTION @extschema@.require_consent(customer_id bigint, purpose text) RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT @extschema@.has_consent(customer_id, purpose) THEN
		RAISE EXCEPTION 'customer % has not consented to %', customer_id, purpose
			USING ERRCODE = 'DP407',
			      HINT = 'Marketing and personalisation need the customer''s consent (grant_consent).';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.require_consent(bigint, text) IS
	'Raises DP407 unless the customer consents to the purpose: the guard that marketing and personalisation functions call first.';

CREATE FUNCTION @extschema@.marketing_audience(purpose text DEFAULT 'marketing')
RETURNS SETOF bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._check_purpose(purpose);
	IF purpose OPERATOR(pg_catalog.=) 'analytics' THEN
		RAISE EXCEPTION 'marketing_audience is for marketing and personalisation' USING ERRCODE = 'DP406';
	END IF;
	RETURN QUERY
	SELECT c.customer_id FROM @extschema@.consents c
	  JOIN @extschema@.customers u ON u.customer_id OPERATOR(pg_catalog.=) c.customer_id
	 WHERE c.purpose OPERATOR(pg_catalog.=) marketing_audience.purpose
	   AND c.revoked_at IS NULL AND u.forgotten_at IS NULL
	 ORDER BY c.customer_id;
END
$$;
COMMENT ON FUNCTION @extschema@.marketing_audience(text) IS
	'The customers that campaigns (purpose marketing) or recommendations (personalisation) may address: those consenting now.';

------------------------------------------------------------------------------
-- least exposure: what a rider sees

CREATE FUNCTION @extschema@.order_contact(order_id bigint, rider_id bigint, via text DEFAULT NULL)
RETURNS TABLE (masked_phone text, dropoff_address text, description text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order @extschema@.orders;
	v_phone bytea;
	v_key bytea;
	-- an errand's description (what to buy or fetch) is the rider's to
	-- read as well; a meal order has none
	v_errand boolean;
	-- the log's values computed here, the statement storing them: on Citus
	-- it runs on the zone's worker
	v_log_id bigint;
	v_at timestamptz;
	v_actor name := SESSION_USER;
BEGIN
	SELECT * INTO v_order FROM @extschema@.orders o
	 WHERE o.zone_id OPERATOR(pg_catalog.=) @extschema@.zone_of(order_contact.order_id)
	   AND o.order_id OPERATOR(pg_catalog.=) order_contact.order_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', order_id USING ERRCODE = 'DP014';
	END IF;
	IF order_contact.rider_id IS NULL OR v_order.rider_id IS DISTINCT FROM order_contact.rider_id
	   OR v_order.status NOT IN ('assigned', 'picked_up') THEN
		RAISE EXCEPTION 'rider % may not see the customer of order %', rider_id, order_id
			USING ERRCODE = 'DP408',
			      DETAIL = 'Only the rider assigned to an order sees its contact, and only until delivery.';
	END IF;
	SELECT c.phone_enc INTO v_phone FROM @extschema@.customers c
	 WHERE c.customer_id OPERATOR(pg_catalog.=) v_order.customer_id;
	v_key := @extschema@._data_key('customer', v_order.customer_id, false);
	v_errand := v_order.kind OPERATOR(pg_catalog.=) 'errand';
	-- logged in the order's zone (order_access_log), so that on Citus the
	-- call writes the zone's worker only; the detail names what is opened
	v_log_id := @extschema@.zone_scoped_id(v_order.zone_id, pg_catalog.nextval('@extschema@.order_access_log_id_seq'));
	v_at := pg_catalog.clock_timestamp();
	INSERT INTO @extschema@.order_access_log (zone_id, id, at, actor, subject, subject_id, purpose, detail)
	VALUES (v_order.zone_id, v_log_id, v_at, v_actor, 'customer', v_order.customer_id, 'rider_contact',
	        pg_catalog.format('order %s, rider %s: masked phone, drop-off address%s', order_id, rider_id,
	                          CASE WHEN v_errand THEN ', description' ELSE '' END));
	-- handed on to a processor (an SMS or call relay, a navigation app)
	IF via IS NOT NULL THEN
		PERFORM @extschema@.record_disclosure(via, v_order.customer_id, NULL,
		                                      CASE WHEN v_errand THEN '{masked_phone,dropoff_address,description}'::text[]
		                                           ELSE '{masked_phone,dropoff_address}'::text[] END,
		                                      order_id);
	END IF;
	masked_phone := @extschema@.mask_phone(@extschema@._unseal(v_phone, v_key));
	dropoff_address := @extschema@._unseal(v_order.dropoff_address_enc, v_key);
	description := CASE WHEN v_errand THEN @extschema@._unseal(v_order.description_enc, v_key) END;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION @extschema@.order_contact(bigint, bigint, text) IS
	'What the rider assigned to an active order (assigned or picked up) may see of its customer: the masked phone (138****1234), the drop-off address and, for an errand, its description (what to buy or fetch; NULL for a meal order).  Anyone else gets DP408.  Logged in order_access_log, in the order''s zone, naming the fields opened; with via, the disclosure to that processor is recorded there too (order_disclosures), with those fields.';

------------------------------------------------------------------------------
-- views for analysts: counts only, no personal data
--
-- On one server each view reads its table.  On Citus a query on a view
-- runs on the table's shards as the querying role, which holds no right on
-- the table (the analyst reads no base table): there distribute() makes
-- each view read the SECURITY DEFINER function of the same counts defined
-- before it, which takes them with the extension's rights
-- (sql/97_distribute.sql).

CREATE FUNCTION @extschema@._consent_rates()
RETURNS TABLE (purpose text, policy_version text, active bigint, closed bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.consent_rates;
END
$$;
COMMENT ON FUNCTION @extschema@._consent_rates() IS
	'Internal (consent_rates): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';

CREATE VIEW @extschema@.consent_rates AS
SELECT c.purpose, c.policy_version,
       pg_catalog.count(*) FILTER (WHERE c.revoked_at IS NULL) AS active,
       pg_catalog.count(*) FILTER (WHERE c.revoked_at IS NOT NULL) AS closed
  FROM @extschema@.consents c
 GROUP BY c.purpose, c.policy_version;
COMMENT ON VIEW @extschema@.consent_rates IS
	'Consents per purpose and policy version, open and closed: counts only.';

CREATE FUNCTION @extschema@._privacy_request_counts()
RETURNS TABLE (day timestamptz, kind text, requests bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the view itself here; distribute() gives the function the view's
	-- query, which the view then reads (_analyst_views_read_definers)
	RETURN QUERY SELECT * FROM @extschema@.privacy_request_counts;
END
$$;
COMMENT ON FUNCTION @extschema@._privacy_request_counts() IS
	'Internal (privacy_request_counts): the view''s rows read with the extension''s rights.  On one server it reads the view; distribute() makes the view''s own query its body and the view read it (on Citus a view''s shards are read as the querying role).';

CREATE VIEW @extschema@.privacy_request_counts AS
SELECT pg_catalog.date_trunc('day', r.requested_at) AS day, r.kind, pg_catalog.count(*) AS requests
  FROM @extschema@.privacy_requests r
 GROUP BY 1, 2;
COMMENT ON VIEW @extschema@.privacy_request_counts IS
	'Exports, erasures and key rotations per day: counts only.';

-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON @extschema@.consent_rates FROM PUBLIC;
REVOKE ALL ON @extschema@.privacy_request_counts FROM PUBLIC;
GRANT SELECT ON @extschema@.consent_rates TO dispatch_analyst, dispatch_admin;
GRANT SELECT ON @extschema@.privacy_request_counts TO dispatch_analyst, dispatch_admin;
-- on Citus the views' readers call their functions (PostgreSQL checks a
-- function in a view against the querying role)
REVOKE ALL ON FUNCTION @extschema@._consent_rates() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._consent_rates() TO dispatch_analyst, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@._privacy_request_counts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._privacy_request_counts() TO dispatch_analyst, dispatch_admin;
GRANT SELECT ON @extschema@.privacy_requests TO dispatch_admin;

REVOKE ALL ON FUNCTION @extschema@.mask_phone(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.mask_phone(text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.master_key_versions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.master_key_versions() TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.rotate_master_key(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rotate_master_key(integer) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.rotate_index_key(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rotate_index_key(integer) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.rotate_customer_key(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rotate_customer_key(bigint) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.export_customer(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.export_customer(bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.forget_customer(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.forget_customer(bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.update_customer(bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.update_customer(bigint, text, text, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.update_rider(bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.update_rider(bigint, text, text, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.export_rider(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.export_rider(bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.forget_rider(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.forget_rider(bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.register_processor(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.register_processor(text, text, text) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.retire_processor(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.retire_processor(text) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.record_disclosure(text, bigint, bigint, text[], bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.record_disclosure(text, bigint, bigint, text[], bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.disclosures(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.disclosures(bigint) TO dispatch_app, dispatch_admin;
GRANT SELECT ON @extschema@.processors TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.receive_privacy_request(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.receive_privacy_request(bigint, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.complete_privacy_request(bigint, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.complete_privacy_request(bigint, boolean) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.handle_privacy_request(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.handle_privacy_request(bigint) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.process_privacy_requests() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.process_privacy_requests() TO dispatch_admin;
REVOKE ALL ON @extschema@.privacy_request_sla FROM PUBLIC;
GRANT SELECT ON @extschema@.privacy_request_sla TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.grant_consent(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.grant_consent(bigint, text, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.revoke_consent(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.revoke_consent(bigint, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.has_consent(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.has_consent(bigint, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.require_consent(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.require_consent(bigint, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.marketing_audience(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.marketing_audience(text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.order_contact(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.order_contact(bigint, bigint, text) TO dispatch_app, dispatch_admin;
