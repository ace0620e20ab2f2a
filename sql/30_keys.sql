-- sql/30_keys.sql
-- Keys and the one pair of functions through which personal data is sealed
-- and opened.
--
-- A master key (versioned, read by the server from dispatch.master_key_file,
-- never seen in SQL text) wraps one random 256-bit data key per subject
-- (customer or rider).  Personal fields are sealed with the subject's data
-- key as pgcrypto OpenPGP symmetric messages (sql/15_dependencies.sql has
-- the cipher and its options).  Destroying a subject's row in subject_keys
-- shreds every field sealed for it.  Every opening is written to
-- pii_access_log, or, when it is made for an order, to order_access_log in
-- the order's zone.
--
-- Locking: sealing holds the subject's advisory lock (_lock_subject: class
-- 'customer' or 'rider' of src/locks.h, objid the id modulo 2^31 - 1) in
-- share mode until commit; rotate_customer_key and forget_customer take it
-- in exclusive mode before any row lock, so a value is never sealed under a
-- key that a concurrent rotation or erasure replaces.  They then read what
-- the sealers committed, so they refuse a transaction snapshot, which would
-- predate the wait (DP418, src/keys.c).  A call that locks a customer's row
-- (_lock_customer: consents, rectification; sql/80_privacy.sql) takes the
-- lock in share mode before it, so that a seal later in its transaction
-- never waits for an erasure that waits for that row.  An intake
-- (place_order, place_errand) takes the customer's lock (shared) first,
-- then the customer's intake lock (class 'intake', exclusive), then row
-- locks; the intake lock is nobody else's, so an intake waiting for it holds
-- only a shared lock that an erasure waits for, as for any order.
-- Rotation, erasure, export and retention are in sql/80_privacy.sql and
-- sql/78_retention.sql.

CREATE FUNCTION @extschema@._master_key(version integer) RETURNS bytea
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'dispatch_master_key';
COMMENT ON FUNCTION @extschema@._master_key(integer) IS
	'Internal: master key of one version, from the key file.  Executable by no role.';

CREATE FUNCTION @extschema@._master_key_version() RETURNS integer
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'dispatch_master_key_version';
COMMENT ON FUNCTION @extschema@._master_key_version() IS
	'Internal: the current master key version.  Executable by no role.';

CREATE FUNCTION @extschema@._index_key() RETURNS bytea
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'dispatch_index_key';
COMMENT ON FUNCTION @extschema@._index_key() IS
	'Internal: key of the blind indexes.  Executable by no role.';

CREATE FUNCTION @extschema@._index_key_at(version integer) RETURNS bytea
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'dispatch_index_key_at';
COMMENT ON FUNCTION @extschema@._index_key_at(integer) IS
	'Internal: the blind-index key of one version (an error when the file lacks it).  Executable by no role.';

CREATE FUNCTION @extschema@._index_key_versions() RETURNS integer[]
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'dispatch_index_key_versions';
COMMENT ON FUNCTION @extschema@._index_key_versions() IS
	'Internal: the blind-index key versions present in the key file, ascending; the last is current (never the keys).';

CREATE FUNCTION @extschema@._master_key_versions() RETURNS integer[]
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'dispatch_master_key_versions';
COMMENT ON FUNCTION @extschema@._master_key_versions() IS
	'Internal: the master key versions present in the key file, ascending (never the keys).';

CREATE FUNCTION @extschema@._index_key_current(OUT version integer, OUT key bytea) RETURNS record
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'dispatch_index_key_current';
COMMENT ON FUNCTION @extschema@._index_key_current() IS
	'Internal: the current blind-index key and its version, from one reading of the key file.  Executable by no role.';

CREATE FUNCTION @extschema@._cipher_enabled() RETURNS boolean
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_cipher_enabled';
COMMENT ON FUNCTION @extschema@._cipher_enabled() IS
	'Internal: false only while the superuser-only setting dispatch.cipher is ''none'' (benchmarks).';

REVOKE ALL ON FUNCTION @extschema@._master_key_versions() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._cipher_enabled() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._master_key(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._master_key_version() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._index_key() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._index_key_at(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._index_key_versions() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._index_key_current() FROM PUBLIC;

-- Writers of key versions (src/keys.c): a transaction reads the version it
-- stores (a data key's master version, a blind index's version) only once
-- it holds the lock of its write on the table, and a rotation says nothing
-- is left under an old version only after waiting for every transaction
-- holding such a lock.  Then a registration in flight when the operator
-- adds a version is either waited for and seen, or stores the new version.

CREATE FUNCTION @extschema@._require_read_committed(p_call text) RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_require_read_committed';
COMMENT ON FUNCTION @extschema@._require_read_committed(text) IS
	'Internal: DP418 unless the transaction is read committed: for calls that wait for concurrent writers and then read what they committed.';
REVOKE ALL ON FUNCTION @extschema@._require_read_committed(text) FROM PUBLIC;

CREATE FUNCTION @extschema@._lock_for_writing(p_table regclass) RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_lock_for_writing';
COMMENT ON FUNCTION @extschema@._lock_for_writing(regclass) IS
	'Internal: takes the lock of a write (ROW EXCLUSIVE) on a table, on this node, to the end of the transaction: before reading a key version to store there.';
REVOKE ALL ON FUNCTION @extschema@._lock_for_writing(regclass) FROM PUBLIC;

CREATE FUNCTION @extschema@._wait_for_writers_here(p_tables regclass[]) RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_wait_for_writers_here';
COMMENT ON FUNCTION @extschema@._wait_for_writers_here(regclass[]) IS
	'Internal: waits, on this node, for every transaction holding the lock of a write on one of the tables to end; locks nothing.';
REVOKE ALL ON FUNCTION @extschema@._wait_for_writers_here(regclass[]) FROM PUBLIC;

-- On Citus a writer holds its lock on the node that runs it (the
-- coordinator, or a worker running a call sent to it whole): every node is
-- waited on, each worker over a connection of its own (Citus's
-- run_command_on_workers, named only in a dynamic statement: without Citus
-- it does not exist).  A worker that cannot wait fails the call (DP419).
CREATE FUNCTION @extschema@._wait_for_writers(p_tables regclass[]) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_distributed boolean := false;
	v_node text;
	v_port integer;
	v_error text;
BEGIN
	PERFORM @extschema@._wait_for_writers_here(p_tables);
	IF EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p'
		        ' WHERE p.logicalrelid OPERATOR(pg_catalog.=) ANY ($1))'
		   INTO v_distributed USING p_tables;
	END IF;
	IF v_distributed THEN
		EXECUTE 'SELECT w.nodename, w.nodeport, w.result FROM pg_catalog.run_command_on_workers($1) w'
		        ' WHERE NOT w.success LIMIT 1'
		   INTO v_node, v_port, v_error
		  USING pg_catalog.format('SELECT @extschema@._wait_for_writers_here(%L)', p_tables);
		IF v_node IS NOT NULL THEN
			RAISE EXCEPTION 'could not wait for the writers of % on the worker %:%: %',
			                pg_catalog.array_to_string(p_tables, ', '), v_node, v_port, v_error
				USING ERRCODE = 'DP419',
				      HINT = 'Call it again once every worker of the cluster is reachable.';
		END IF;
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._wait_for_writers(regclass[]) IS
	'Internal: waits until every transaction that was writing one of the tables has ended, on every node of a Citus cluster; locks nothing.';
REVOKE ALL ON FUNCTION @extschema@._wait_for_writers(regclass[]) FROM PUBLIC;

CREATE TABLE @extschema@.subject_keys (
	subject      text NOT NULL CHECK (subject IN ('customer', 'rider')),
	subject_id   bigint NOT NULL,
	key_version  integer NOT NULL,
	wrapped_key  bytea NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (subject, subject_id)
);
COMMENT ON TABLE @extschema@.subject_keys IS
	'Data keys of customers and riders, wrapped by the master key of key_version.  Deleting a row crypto-shreds the subject.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.subject_keys', '');
REVOKE ALL ON @extschema@.subject_keys FROM PUBLIC;

CREATE TABLE @extschema@.pii_access_log (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	actor       name NOT NULL DEFAULT SESSION_USER,
	subject     text NOT NULL,
	subject_id  bigint NOT NULL,
	purpose     text NOT NULL,
	detail      text
);
CREATE INDEX pii_access_log_subject_idx ON @extschema@.pii_access_log (subject, subject_id);
COMMENT ON TABLE @extschema@.pii_access_log IS
	'One row per opening of sealed personal data: who (session user), whose, why, when, and what (detail, e.g. the order or the fields); the openings made for an order by order_contact are in order_access_log, in the order''s zone.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pii_access_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pii_access_log_id_seq', '');
REVOKE ALL ON @extschema@.pii_access_log FROM PUBLIC;

-- The openings made for an order (order_contact, which the rider app calls
-- for every order it carries) are logged in the order's zone, keyed by zone
-- first: on Citus the log lies on the zone's worker with the order, so the
-- delivery path writes that worker only, where a row of pii_access_log (a
-- reference table) would be written on every node in a two-phase commit.
-- The same columns as pii_access_log, and the zone; its ids carry the zone
-- (zone_scoped_id), numbered by the node that writes them.  A reader of a
-- subject's openings reads both tables (_access_log, for the exports).
CREATE SEQUENCE @extschema@.order_access_log_id_seq AS bigint MAXVALUE 1099511627775;
CREATE TABLE @extschema@.order_access_log (
	zone_id     bigint NOT NULL,
	id          bigint NOT NULL,
	at          timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	actor       name NOT NULL DEFAULT SESSION_USER,
	subject     text NOT NULL,
	subject_id  bigint NOT NULL,
	purpose     text NOT NULL,
	detail      text,
	PRIMARY KEY (zone_id, id),
	CHECK (zone_id OPERATOR(pg_catalog.=) (id OPERATOR(pg_catalog.>>) 40))
);
ALTER SEQUENCE @extschema@.order_access_log_id_seq OWNED BY @extschema@.order_access_log.id;
CREATE INDEX order_access_log_subject_idx ON @extschema@.order_access_log (subject, subject_id);
COMMENT ON SEQUENCE @extschema@.order_access_log_id_seq IS
	'The low 40 bits of order_access_log ids.';
COMMENT ON INDEX @extschema@.order_access_log_subject_idx IS
	'A subject''s openings, for the exports.';
COMMENT ON TABLE @extschema@.order_access_log IS
	'One row per opening of sealed personal data made for an order (order_contact), in the order''s zone: who (session user), whose, why, when, and what (detail: the order and the rider).  pii_access_log holds every other opening; the exports read both.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_access_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_access_log_id_seq', '');
REVOKE ALL ON @extschema@.order_access_log FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.order_access_log_id_seq FROM PUBLIC;

-- PL/pgSQL, whose statements are bound when first run: an SQL function
-- with a body bound when created (_export_document) calls it, and an
-- upgrade script may create the log after the routines that read it.
-- PARALLEL RESTRICTED: the exports read the log in the transaction that
-- wrote it, which a parallel worker cannot do on Citus.
CREATE FUNCTION @extschema@._access_log(p_subject text, p_subject_id bigint, p_zone_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
	                            'at', l.at, 'actor', l.actor, 'purpose', l.purpose, 'detail', l.detail)
	                            ORDER BY l.at, l.zone_id NULLS FIRST, l.id)
	                   FROM (SELECT p.at, p.actor, p.purpose, p.detail, NULL::bigint AS zone_id, p.id
	                           FROM @extschema@.pii_access_log p
	                          WHERE p.subject OPERATOR(pg_catalog.=) p_subject
	                            AND p.subject_id OPERATOR(pg_catalog.=) p_subject_id
	                         UNION ALL
	                         SELECT z.at, z.actor, z.purpose, z.detail, z.zone_id, z.id
	                           FROM @extschema@.order_access_log z
	                          WHERE z.subject OPERATOR(pg_catalog.=) p_subject
	                            AND z.subject_id OPERATOR(pg_catalog.=) p_subject_id
	                            AND (p_zone_id IS NULL OR z.zone_id OPERATOR(pg_catalog.=) p_zone_id)) l),
	                '[]');
END
$$;
COMMENT ON FUNCTION @extschema@._access_log(text, bigint, bigint) IS
	'Internal (the exports): every opening of a subject''s data, from pii_access_log and order_access_log (of one zone, or of every zone when p_zone_id is NULL), in time order, as [{at, actor, purpose, detail}, ...].';
REVOKE ALL ON FUNCTION @extschema@._access_log(text, bigint, bigint) FROM PUBLIC;

-- C (src/keys.c), as _data_key takes it
CREATE FUNCTION @extschema@._lock_subject(p_subject text, p_subject_id bigint, p_exclusive boolean)
RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_lock_subject';
COMMENT ON FUNCTION @extschema@._lock_subject(text, bigint, boolean) IS
	'Internal: takes a subject''s (customer''s or rider''s) advisory lock to the end of the transaction: shared while sealing, exclusive to replace or destroy its data key.';
REVOKE ALL ON FUNCTION @extschema@._lock_subject(text, bigint, boolean) FROM PUBLIC;

-- No pinned search_path on _wrap_key, so that it is inlined where it is
-- called (a function with SET is parsed and planned at every call); its
-- SQL-standard body is bound when created.
CREATE FUNCTION @extschema@._wrap_key(p_key bytea, p_version integer) RETURNS bytea
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
RETURN @extschema@._pgp_encrypt_bytes(p_key, @extschema@._master_key(p_version));
COMMENT ON FUNCTION @extschema@._wrap_key(bytea, integer) IS
	'Internal: wraps a data key under the master key of a version.';
REVOKE ALL ON FUNCTION @extschema@._wrap_key(bytea, integer) FROM PUBLIC;

-- C (src/keys.c): opens what _wrap_key sealed, as _pgp_decrypt_bytes
-- would, and keeps the key to the end of the transaction, so that a
-- subject's key is decrypted once however many of its values the
-- transaction seals or opens
CREATE FUNCTION @extschema@._unwrap_key(p_wrapped bytea, p_version integer) RETURNS bytea
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'dispatch_unwrap_key';
COMMENT ON FUNCTION @extschema@._unwrap_key(bytea, integer) IS
	'Internal: unwraps a data key with the master key of its version; kept to the end of the transaction.';
REVOKE ALL ON FUNCTION @extschema@._unwrap_key(bytea, integer) FROM PUBLIC;

-- C (src/keys.c): the subject's lock (shared, when sealing), its key read
-- with a kept plan and unwrapped once a transaction, or made on first use
-- (never again for an erased customer); every seal of every order runs it
CREATE FUNCTION @extschema@._data_key(p_subject text, p_subject_id bigint, p_create boolean)
RETURNS bytea
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dispatch_data_key';
COMMENT ON FUNCTION @extschema@._data_key(text, bigint, boolean) IS
	'Internal: a subject''s data key, unwrapped; created on first use when p_create.';
REVOKE ALL ON FUNCTION @extschema@._data_key(text, bigint, boolean) FROM PUBLIC;

-- The no-op cipher (dispatch.cipher = none, for benchmarks only) stores a
-- zero byte, never the first byte of an OpenPGP message, then the plain
-- UTF-8 text.  Such a value never passes for a sealed one: it opens only
-- while the setting is none again (DP404 otherwise).
CREATE FUNCTION @extschema@._cleartext_seal(p_value text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN '\x00'::bytea OPERATOR(pg_catalog.||) pg_catalog.convert_to(p_value, 'UTF8');
COMMENT ON FUNCTION @extschema@._cleartext_seal(text) IS
	'Internal: a value stored under the no-op cipher (dispatch.cipher = none): a zero byte and the UTF-8 text.';
REVOKE ALL ON FUNCTION @extschema@._cleartext_seal(text) FROM PUBLIC;

CREATE FUNCTION @extschema@._is_cleartext(p_sealed bytea) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.length(p_sealed) OPERATOR(pg_catalog.>) 0
   AND pg_catalog.get_byte(p_sealed, 0) OPERATOR(pg_catalog.=) 0;
COMMENT ON FUNCTION @extschema@._is_cleartext(bytea) IS
	'Internal: whether a stored value was written by the no-op cipher (its first byte is zero).';
REVOKE ALL ON FUNCTION @extschema@._is_cleartext(bytea) FROM PUBLIC;

CREATE FUNCTION @extschema@._cleartext_open(p_sealed bytea) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF @extschema@._cipher_enabled() THEN
		RAISE EXCEPTION 'a personal value is not sealed'
			USING ERRCODE = 'DP404',
			      DETAIL = 'The value was stored with dispatch.cipher = none, which is for benchmarks only.';
	END IF;
	RETURN pg_catalog.convert_from(pg_catalog.substr(p_sealed, 2), 'UTF8');
END
$$;
COMMENT ON FUNCTION @extschema@._cleartext_open(bytea) IS
	'Internal: the text of a value written by the no-op cipher, while dispatch.cipher is none; DP404 while it is not.';
REVOKE ALL ON FUNCTION @extschema@._cleartext_open(bytea) FROM PUBLIC;

CREATE FUNCTION @extschema@.pii_seal(p_subject text, p_subject_id bigint, p_value text)
RETURNS bytea
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_value IS NULL THEN
		RETURN NULL;
	END IF;
	IF NOT @extschema@._cipher_enabled() THEN
		RETURN @extschema@._cleartext_seal(p_value);     -- benchmarks only
	END IF;
	RETURN @extschema@._pgp_encrypt(p_value, @extschema@._data_key(p_subject, p_subject_id, true));
END
$$;
COMMENT ON FUNCTION @extschema@.pii_seal(text, bigint, text) IS
	'Seals a personal value with the subject''s data key (AES-256, OpenPGP with integrity check).  NULL stays NULL.';
REVOKE ALL ON FUNCTION @extschema@.pii_seal(text, bigint, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.pii_open(p_subject text, p_subject_id bigint, p_sealed bytea, p_purpose text)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_key bytea;
	v_text text;
BEGIN
	IF p_sealed IS NULL THEN
		RETURN NULL;
	END IF;
	IF p_purpose IS NULL OR p_purpose OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'opening personal data needs a purpose' USING ERRCODE = 'DP403';
	END IF;
	IF @extschema@._is_cleartext(p_sealed) THEN
		v_text := @extschema@._cleartext_open(p_sealed);
		INSERT INTO @extschema@.pii_access_log (subject, subject_id, purpose)
		VALUES (p_subject, p_subject_id, p_purpose);
		RETURN v_text;
	END IF;
	v_key := @extschema@._data_key(p_subject, p_subject_id, false);
	INSERT INTO @extschema@.pii_access_log (subject, subject_id, purpose)
	VALUES (p_subject, p_subject_id, p_purpose);
	BEGIN
		RETURN @extschema@._pgp_decrypt(p_sealed, v_key);
	EXCEPTION WHEN external_routine_invocation_exception THEN
		RAISE EXCEPTION 'personal data of % % cannot be decrypted', p_subject, p_subject_id
			USING ERRCODE = 'DP404',
			      DETAIL = 'The value was sealed with another key or is corrupt.';
	END;
END
$$;
COMMENT ON FUNCTION @extschema@.pii_open(text, bigint, bytea, text) IS
	'Opens a sealed personal value of a subject and logs the access with its purpose.  An erased subject or a wrong key is an error, never NULL.';
REVOKE ALL ON FUNCTION @extschema@.pii_open(text, bigint, bytea, text) FROM PUBLIC;

CREATE FUNCTION @extschema@._unseal(p_sealed bytea, p_key bytea) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_sealed IS NULL OR p_key IS NULL THEN
		RETURN NULL;
	END IF;
	IF @extschema@._is_cleartext(p_sealed) THEN
		RETURN @extschema@._cleartext_open(p_sealed);   -- dispatch.cipher = none
	END IF;
	BEGIN
		RETURN @extschema@._pgp_decrypt(p_sealed, p_key);
	EXCEPTION WHEN external_routine_invocation_exception THEN
		RAISE EXCEPTION 'a sealed value cannot be decrypted with its subject''s key'
			USING ERRCODE = 'DP404', DETAIL = 'The value was sealed with another key or is corrupt.';
	END;
END
$$;
COMMENT ON FUNCTION @extschema@._unseal(bytea, bytea) IS
	'Internal: opens a sealed value with an unwrapped data key, without logging (callers log once per request).  NULL key or value: NULL.';
REVOKE ALL ON FUNCTION @extschema@._unseal(bytea, bytea) FROM PUBLIC;

CREATE FUNCTION @extschema@.normalize_phone(p_phone text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v text := pg_catalog.regexp_replace(p_phone, '[[:space:]().-]', '', 'g');
BEGIN
	PERFORM @extschema@._check_length('phone', p_phone);
	IF pg_catalog.starts_with(v, '00') THEN
		v := '+' OPERATOR(pg_catalog.||) pg_catalog.substr(v, 3);
	ELSIF v OPERATOR(pg_catalog.~) '^1[3-9][0-9]{9}$' THEN
		v := '+86' OPERATOR(pg_catalog.||) v;     -- mainland China mobile without country code
	END IF;
	IF v OPERATOR(pg_catalog.!~) '^\+[1-9][0-9]{6,14}$' THEN
		RAISE EXCEPTION 'invalid phone number'
			USING ERRCODE = 'DP027',
			      HINT = 'Give the number in E.164 form, for example +8613812345678.';
	END IF;
	RETURN v;
END
$$;
COMMENT ON FUNCTION @extschema@.normalize_phone(text) IS
	'Phone number in E.164 form (+ and digits); an 11-digit mainland China mobile number gets +86.  Invalid input raises DP027, a text longer than the phone limit DP028.';
REVOKE ALL ON FUNCTION @extschema@.normalize_phone(text) FROM PUBLIC;

CREATE FUNCTION @extschema@._phone_index(p_phone text) RETURNS bytea
LANGUAGE sql STABLE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
RETURN @extschema@._hmac_sha256(pg_catalog.convert_to(@extschema@.normalize_phone(p_phone), 'UTF8'), @extschema@._index_key());
COMMENT ON FUNCTION @extschema@._phone_index(text) IS
	'Internal: blind index of a phone number, HMAC-SHA-256 of its E.164 form under the current index key.  Stable, so that a lookup computes it once and uses the index on phone_index.';
REVOKE ALL ON FUNCTION @extschema@._phone_index(text) FROM PUBLIC;

CREATE FUNCTION @extschema@._index_key_version() RETURNS integer
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT pg_catalog.max(v) FROM pg_catalog.unnest(@extschema@._index_key_versions()) v);
COMMENT ON FUNCTION @extschema@._index_key_version() IS
	'Internal: the current blind-index key version, to which rotate_index_key moves every index (writers take an index with its version from _phone_index_entry).';
REVOKE ALL ON FUNCTION @extschema@._index_key_version() FROM PUBLIC;

CREATE FUNCTION @extschema@._phone_index_entry(p_phone text, OUT phone_index bytea, OUT version integer)
RETURNS record
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT @extschema@._hmac_sha256(pg_catalog.convert_to(@extschema@.normalize_phone(p_phone), 'UTF8'), k.key), k.version
	  FROM @extschema@._index_key_current() k;
END;
COMMENT ON FUNCTION @extschema@._phone_index_entry(text) IS
	'Internal: what a writer stores of a phone number: its blind index under the current index key and that key''s version, both from one reading of the key file.  Read under the lock of the write (_lock_for_writing).';
REVOKE ALL ON FUNCTION @extschema@._phone_index_entry(text) FROM PUBLIC;

CREATE FUNCTION @extschema@._phone_indexes(p_phone text) RETURNS bytea[]
LANGUAGE sql STABLE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
RETURN (SELECT pg_catalog.array_agg(@extschema@._hmac_sha256(
                   pg_catalog.convert_to(@extschema@.normalize_phone(p_phone), 'UTF8'), @extschema@._index_key_at(v)))
          FROM pg_catalog.unnest(@extschema@._index_key_versions()) v);
COMMENT ON FUNCTION @extschema@._phone_indexes(text) IS
	'Internal: the blind indexes of a phone number under every index key in the file: a lookup finds rows not yet moved to the current key by rotate_index_key.';
REVOKE ALL ON FUNCTION @extschema@._phone_indexes(text) FROM PUBLIC;
