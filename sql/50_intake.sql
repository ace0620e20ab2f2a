-- sql/50_intake.sql
-- Onboarding (zones, merchants, items, customers, riders) and order intake
-- with payment.  Every check runs before anything is stored, and an error
-- aborts the whole call: a rejected request leaves no row behind.
-- SQLSTATEs are listed in docs/errors.md.

-- C (src/limits.c): DP001 unless both coordinates are finite and in range
CREATE FUNCTION @extschema@._check_coordinates(lon float8, lat float8, what text) RETURNS boolean
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_check_coordinates';
COMMENT ON FUNCTION @extschema@._check_coordinates(float8, float8, text) IS
	'Internal: true for finite, in-range coordinates (longitude in [-180, 180], latitude in [-90, 90]); DP001 naming what for a missing, NaN, infinite or out-of-range one.';
REVOKE ALL ON FUNCTION @extschema@._check_coordinates(float8, float8, text) FROM PUBLIC;

-- SQL without a pinned search_path (its body is bound when it is created),
-- so that it is inlined into every call with a point, a location ping first
CREATE FUNCTION @extschema@._check_point(lon float8, lat float8, what text) RETURNS geometry
LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
RETURN CASE WHEN @extschema@._check_coordinates(lon, lat, what) THEN @extschema@._point(lon, lat) END;
COMMENT ON FUNCTION @extschema@._check_point(float8, float8, text) IS
	'Internal: a WGS 84 point from finite, in-range coordinates, else DP001.';
REVOKE ALL ON FUNCTION @extschema@._check_point(float8, float8, text) FROM PUBLIC;

-- the drop-off's distance from the pickup, a fraud signal (place_order and
-- the quote of delivery_fee refuse the same): the check in C (src/limits.c),
-- the measure in SQL without a pinned search_path, so that both are inlined
-- into the statement that calls it (place_order's, at every order)
CREATE FUNCTION @extschema@._check_distance_m(m real) RETURNS real
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dispatch_check_distance_m';
COMMENT ON FUNCTION @extschema@._check_distance_m(real) IS
	'Internal: m, the metres from pickup to drop-off, refused (DP010) above dispatch.fraud_max_distance_m.';
REVOKE ALL ON FUNCTION @extschema@._check_distance_m(real) FROM PUBLIC;

CREATE FUNCTION @extschema@._check_distance(p_from geometry, p_to geometry) RETURNS real
LANGUAGE sql STABLE STRICT PARALLEL SAFE
RETURN @extschema@._check_distance_m(@extschema@._distance_m(p_from, p_to)::real);
COMMENT ON FUNCTION @extschema@._check_distance(geometry, geometry) IS
	'Internal: great-circle metres between pickup and drop-off, refused (DP010) above dispatch.fraud_max_distance_m.';
REVOKE ALL ON FUNCTION @extschema@._check_distance(geometry, geometry) FROM PUBLIC;

CREATE FUNCTION @extschema@.create_zone(name text, area geometry, timezone text DEFAULT 'UTC')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_problem text := COALESCE(@extschema@._zone_area_problem(area), CASE WHEN area IS NULL THEN 'it is missing' END);
	v_id bigint;
BEGIN
	IF @extschema@._is_blank(name) THEN
		RAISE EXCEPTION 'a zone needs a name' USING ERRCODE = 'DP017';
	END IF;
	PERFORM @extschema@._check_length('zone_name', name);
	IF v_problem IS NOT NULL THEN
		RAISE EXCEPTION 'invalid zone area: %', v_problem
			USING ERRCODE = 'DP017', HINT = 'A service area is a valid polygon or multipolygon in SRID 4326.';
	END IF;
	IF timezone IS NULL OR NOT EXISTS (SELECT FROM pg_catalog.pg_timezone_names t
	                                    WHERE t.name OPERATOR(pg_catalog.=) timezone) THEN
		RAISE EXCEPTION 'unknown time zone "%"', timezone USING ERRCODE = 'DP017';
	END IF;
	IF EXISTS (SELECT FROM @extschema@.zones z WHERE z.name OPERATOR(pg_catalog.=) create_zone.name) THEN
		RAISE EXCEPTION 'a zone named "%" exists already', name USING ERRCODE = 'DP017';
	END IF;
	INSERT INTO @extschema@.zones (name, area, timezone, created_at)
	VALUES (name, @extschema@._zone_area(area), timezone, @extschema@.clock())
	RETURNING zone_id INTO v_id;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.create_zone(text, geometry, text) IS
	'Creates a service area (polygon in SRID 4326) and returns its id.';

CREATE FUNCTION @extschema@.create_merchant(zone_id bigint, name text, lon float8, lat float8,
                                           prep_minutes integer DEFAULT 10)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_point @extschema@.merchants.location%TYPE := @extschema@._check_point(lon, lat, 'merchant');
	v_area @extschema@.zones.area%TYPE;
	v_id bigint;
BEGIN
	SELECT z.area INTO v_area FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) create_merchant.zone_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'zone % does not exist', zone_id USING ERRCODE = 'DP016';
	END IF;
	IF NOT @extschema@._covers(v_area, v_point) THEN
		RAISE EXCEPTION 'merchant location lies outside zone %', zone_id USING ERRCODE = 'DP002';
	END IF;
	IF @extschema@._is_blank(name)
	   OR prep_minutes IS NULL OR prep_minutes OPERATOR(pg_catalog.<) 0 OR prep_minutes OPERATOR(pg_catalog.>) 240 THEN
		RAISE EXCEPTION 'a merchant needs a name and a preparation time of 0 to 240 minutes' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('merchant_name', name);
	INSERT INTO @extschema@.merchants (zone_id, name, location, prep_minutes, created_at)
	VALUES (zone_id, name, v_point, prep_minutes, @extschema@.clock())
	RETURNING merchant_id INTO v_id;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.create_merchant(bigint, text, float8, float8, integer) IS
	'Creates a merchant inside a zone and returns its id.';

-- Not STRICT: a missing merchant is an unknown one (DP013) and a missing
-- state is refused (DP025), where a strict call would return as a success
-- having changed nothing (a merchant the app meant to close taking orders)
CREATE FUNCTION @extschema@.set_merchant_open(merchant_id bigint, is_open boolean) RETURNS void
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF is_open IS NULL THEN
		RAISE EXCEPTION 'set_merchant_open needs is_open true or false' USING ERRCODE = 'DP025';
	END IF;
	UPDATE @extschema@.merchants m SET is_open = set_merchant_open.is_open
	 WHERE m.merchant_id OPERATOR(pg_catalog.=) set_merchant_open.merchant_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'merchant % does not exist', merchant_id USING ERRCODE = 'DP013';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.set_merchant_open(bigint, boolean) IS
	'Opens or closes a merchant for new orders (closed: place_order refuses with DP003).  DP013 unknown or NULL merchant, DP025 NULL is_open.';

CREATE FUNCTION @extschema@.set_item_stock(item_id bigint, stock integer)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
BEGIN
	SELECT m.zone_id INTO v_zone
	  FROM @extschema@.items i JOIN @extschema@.merchants m ON m.merchant_id OPERATOR(pg_catalog.=) i.merchant_id
	 WHERE i.item_id OPERATOR(pg_catalog.=) set_item_stock.item_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'item % does not exist', item_id USING ERRCODE = 'DP004';
	END IF;
	IF stock OPERATOR(pg_catalog.<) 0 THEN
		RAISE EXCEPTION 'stock cannot be negative' USING ERRCODE = 'DP025';
	END IF;
	IF stock IS NULL THEN
		DELETE FROM @extschema@.item_stock s
		 WHERE s.zone_id OPERATOR(pg_catalog.=) v_zone AND s.item_id OPERATOR(pg_catalog.=) set_item_stock.item_id;
	ELSE
		INSERT INTO @extschema@.item_stock (zone_id, item_id, stock)
		VALUES (v_zone, set_item_stock.item_id, set_item_stock.stock)
		ON CONFLICT ON CONSTRAINT item_stock_pkey DO UPDATE SET stock = excluded.stock;
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.set_item_stock(bigint, integer) IS
	'Sets the stock of an item (a restock or a count): a number is counted down by orders from then on, NULL makes the item unlimited.  Orders placed before keep what they took.  DP004 unknown item, DP025 negative stock.';

CREATE FUNCTION @extschema@.add_item(merchant_id bigint, name text, price_cents integer, stock integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
BEGIN
	IF NOT EXISTS (SELECT FROM @extschema@.merchants m WHERE m.merchant_id OPERATOR(pg_catalog.=) add_item.merchant_id) THEN
		RAISE EXCEPTION 'merchant % does not exist', merchant_id USING ERRCODE = 'DP013';
	END IF;
	IF @extschema@._is_blank(name) THEN
		RAISE EXCEPTION 'an item needs a name' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('item_name', name);
	IF price_cents IS NULL OR price_cents OPERATOR(pg_catalog.<) 0
	   OR price_cents OPERATOR(pg_catalog.>) @extschema@._setting_int('dispatch.max_order_cents') THEN
		RAISE EXCEPTION 'invalid price % cents', price_cents USING ERRCODE = 'DP008';
	END IF;
	INSERT INTO @extschema@.items (merchant_id, name, price_cents)
	VALUES (merchant_id, name, price_cents)
	RETURNING item_id INTO v_id;
	-- a counted stock is set as a restock sets it (DP025 if negative:
	-- the item is not kept either)
	IF stock IS NOT NULL THEN
		PERFORM @extschema@.set_item_stock(v_id, stock);
	END IF;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.add_item(bigint, text, integer, integer) IS
	'Adds an item to a merchant''s menu; stock NULL means unlimited, a number is counted down by orders (dispatch.item_stock).';

CREATE FUNCTION @extschema@.merchant_menu(merchant_id bigint)
RETURNS TABLE (item_id bigint, name text, price_cents integer, available boolean, stock integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone bigint;
BEGIN
	SELECT m.zone_id INTO v_zone FROM @extschema@.merchants m
	 WHERE m.merchant_id OPERATOR(pg_catalog.=) merchant_menu.merchant_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'merchant % does not exist', merchant_id USING ERRCODE = 'DP013';
	END IF;
	-- the count of the merchant's zone (on Citus, that zone's shard)
	RETURN QUERY
	SELECT i.item_id, i.name, i.price_cents, i.available, s.stock
	  FROM @extschema@.items i
	  LEFT JOIN @extschema@.item_stock s ON s.zone_id OPERATOR(pg_catalog.=) v_zone
	                                    AND s.item_id OPERATOR(pg_catalog.=) i.item_id
	 WHERE i.merchant_id OPERATOR(pg_catalog.=) merchant_menu.merchant_id
	 ORDER BY i.item_id;
END
$$;
COMMENT ON FUNCTION @extschema@.merchant_menu(bigint) IS
	'A merchant''s menu: each item with its price, whether it is available, and its stock (NULL: unlimited), in item order.  DP013 unknown merchant.';

CREATE FUNCTION @extschema@.register_customer(phone text, name text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_index record;
	v_id bigint;
BEGIN
	IF phone IS NULL THEN
		RAISE EXCEPTION 'a customer needs a phone number' USING ERRCODE = 'DP027';
	END IF;
	PERFORM @extschema@._check_length('customer_name', name);
	-- the blind index and its version, read under the lock of the INSERT
	-- (sql/30_keys.sql, writers of key versions)
	PERFORM @extschema@._lock_for_writing('@extschema@.customers');
	v_index := @extschema@._phone_index_entry(phone);
	IF EXISTS (SELECT FROM @extschema@.customers c
	            WHERE c.phone_index OPERATOR(pg_catalog.=) ANY (@extschema@._phone_indexes(phone))) THEN
		RAISE EXCEPTION 'a customer with this phone number exists already' USING ERRCODE = 'DP026';
	END IF;
	v_id := pg_catalog.nextval('@extschema@.customers_id_seq');
	BEGIN
		INSERT INTO @extschema@.customers (customer_id, phone_index, phone_index_version, phone_enc, name_enc, created_at)
		VALUES (v_id, v_index.phone_index, v_index.version,
		        @extschema@.pii_seal('customer', v_id, @extschema@.normalize_phone(phone)),
		        -- a name is optional: a blank one (_is_blank) is none
		        @extschema@.pii_seal('customer', v_id, CASE WHEN NOT @extschema@._is_blank(name) THEN name END),
		        @extschema@.clock());
	EXCEPTION WHEN unique_violation THEN
		-- the same phone registered by a transaction that committed while we waited
		RAISE EXCEPTION 'a customer with this phone number exists already' USING ERRCODE = 'DP026';
	END;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.register_customer(text, text) IS
	'Registers a customer by phone number (E.164 or a mainland China mobile number); phone and name are stored sealed, the phone also as a blind index.  The name is optional: NULL, empty or blank (white space only) stores none.';

CREATE FUNCTION @extschema@.find_customer_by_phone(phone text) RETURNS bigint
LANGUAGE sql STABLE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT c.customer_id FROM @extschema@.customers c
	 WHERE c.phone_index OPERATOR(pg_catalog.=) ANY (@extschema@._phone_indexes(phone));
END;
COMMENT ON FUNCTION @extschema@.find_customer_by_phone(text) IS
	'The customer with this phone number, through the blind index, or NULL.';

CREATE FUNCTION @extschema@.flag_customer(customer_id bigint, reason text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- a flag says why, as its lift does (unflag_customer); NULL lifts it
	IF reason IS NOT NULL AND @extschema@._is_blank(reason) THEN
		RAISE EXCEPTION 'a flag needs a reason (NULL lifts the flag)' USING ERRCODE = 'DP025';
	END IF;
	PERFORM @extschema@._check_length('reason', reason);
	PERFORM @extschema@._set_customer_flag(flag_customer.customer_id, reason IS NOT NULL, reason, SESSION_USER::text);
END
$$;
COMMENT ON FUNCTION @extschema@.flag_customer(bigint, text) IS
	'Flags a customer as suspected of fraud (their new orders are refused with DP011); a NULL reason lifts the flag (unflag_customer names who and why), a blank one (empty or white space only) is refused (DP025).  Kept in customer_flags with the session user; repeating it is a no-op.';

CREATE FUNCTION @extschema@.unflag_customer(customer_id bigint, by text, reason text) RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF @extschema@._is_blank(by)
	   OR @extschema@._is_blank(reason) THEN
		RAISE EXCEPTION 'lifting a flag needs who lifts it and why'
			USING ERRCODE = 'DP731', HINT = 'Name the dispatcher and give the reason; lengths as input_limits() says.';
	END IF;
	PERFORM @extschema@._check_length('dispatcher', by);
	PERFORM @extschema@._check_length('reason', reason);
	RETURN @extschema@._set_customer_flag(unflag_customer.customer_id, false, reason, by);
END
$$;
COMMENT ON FUNCTION @extschema@.unflag_customer(bigint, text, text) IS
	'A dispatcher lifts a customer''s fraud flag, naming themself (by) and the reason (DP731 if either is missing); kept in customer_flags.  Refusals before the lift no longer count towards the automatic flag.  Returns false, changing nothing, when the customer is not flagged (a retry).';

-- A rider's phone is theirs alone (DP026), as a customer's is, but riders
-- are distributed by zone on Citus, where no unique index of the phone
-- holds across zones: the writers that give a rider a phone (register_rider,
-- update_rider through _rectify) take turns by the phone instead, on the
-- node that runs them (the coordinator on Citus: neither is sent to a
-- worker), and look the phone up among every zone's riders under the lock.
CREATE FUNCTION @extschema@._lock_rider_phone(p_phone text) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- the phone's blind index under the current key, as a lock's second key
	v_key integer := pg_catalog.hashtext(pg_catalog.encode(@extschema@._phone_index(p_phone), 'hex'));
BEGIN
	IF pg_catalog.pg_try_advisory_xact_lock(@extschema@._lock_key('riderphone')::integer, v_key) THEN
		RETURN;
	END IF;
	PERFORM pg_catalog.pg_advisory_xact_lock(@extschema@._lock_key('riderphone')::integer, v_key);
	-- a repeatable read or serializable snapshot predates the wait: it
	-- would not see the rider the other call gave the phone to
	IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
		RAISE EXCEPTION 'another call gave a rider this phone number at the same time'
			USING ERRCODE = 'serialization_failure',
			      HINT = 'Retry the transaction, or call it in a transaction of isolation level read committed (the default).';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_rider_phone(text) IS
	'Internal (register_rider, update_rider): the lock of a phone number given to a rider (advisory riderphone, keyed by its blind index), to the end of the transaction, taken before the phone is looked up among riders: two calls giving riders one phone take turns and the later sees the earlier''s rider (DP026).  In a repeatable read or serializable transaction that had to wait, 40001 (its snapshot cannot see what the other committed).';
REVOKE ALL ON FUNCTION @extschema@._lock_rider_phone(text) FROM PUBLIC;

CREATE FUNCTION @extschema@.register_rider(zone_id bigint, name text, phone text, capacity integer DEFAULT 3)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
	v_index record;
	v_indexes bytea[];
	v_taken boolean;
BEGIN
	IF NOT EXISTS (SELECT FROM @extschema@.zones z WHERE z.zone_id OPERATOR(pg_catalog.=) register_rider.zone_id) THEN
		RAISE EXCEPTION 'zone % does not exist', zone_id USING ERRCODE = 'DP016';
	END IF;
	IF capacity IS NULL OR capacity OPERATOR(pg_catalog.<) 1 OR capacity OPERATOR(pg_catalog.>) 20 THEN
		RAISE EXCEPTION 'rider capacity must be between 1 and 20' USING ERRCODE = 'DP025';
	END IF;
	IF phone IS NULL THEN
		RAISE EXCEPTION 'a rider needs a phone number' USING ERRCODE = 'DP027';
	END IF;
	PERFORM @extschema@._check_length('rider_name', name);
	-- a phone another rider has, in any zone, is refused, as update_rider
	-- refuses it: looked up under the phone's lock (taken first, as
	-- update_rider takes it before the table's), the indexes computed
	-- first, a constant of the statement (on Citus it reaches every zone's
	-- riders; a subquery with a column, as Citus reads its result back)
	PERFORM @extschema@._lock_rider_phone(phone);
	v_indexes := @extschema@._phone_indexes(phone);
	SELECT EXISTS (SELECT 1 FROM @extschema@.riders r WHERE r.phone_index OPERATOR(pg_catalog.=) ANY (v_indexes))
	  INTO v_taken;
	IF v_taken THEN
		RAISE EXCEPTION 'a rider with this phone number exists already' USING ERRCODE = 'DP026';
	END IF;
	-- the blind index and its version, read under the lock of the INSERT
	PERFORM @extschema@._lock_for_writing('@extschema@.riders');
	v_index := @extschema@._phone_index_entry(phone);
	v_id := pg_catalog.nextval('@extschema@.riders_id_seq');
	INSERT INTO @extschema@.riders (rider_id, zone_id, name_enc, phone_enc, phone_index, phone_index_version,
	                                capacity, created_at)
	VALUES (v_id, zone_id,
	        -- a blank name (_is_blank) is none, as register_customer stores it
	        @extschema@.pii_seal('rider', v_id, CASE WHEN NOT @extschema@._is_blank(name) THEN name END),
	        @extschema@.pii_seal('rider', v_id, @extschema@.normalize_phone(phone)),
	        v_index.phone_index, v_index.version,
	        capacity, @extschema@.clock());
	INSERT INTO @extschema@.rider_zones (rider_id, zone_id) VALUES (v_id, zone_id);
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION @extschema@.register_rider(bigint, text, text, integer) IS
	'Registers a rider in a zone with a capacity (orders carried at once); name and phone are stored sealed, the phone also as a blind index.  DP026 when another rider, of any zone, has the phone (as update_rider refuses it); two registrations with one phone at once take turns (_lock_rider_phone).  The name may be none: NULL, empty or blank (white space only) stores none.';

-- privileges: nothing for PUBLIC, the API for its roles
REVOKE ALL ON FUNCTION @extschema@.create_zone(text, geometry, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.create_zone(text, geometry, text) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.create_merchant(bigint, text, float8, float8, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.create_merchant(bigint, text, float8, float8, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.set_merchant_open(bigint, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.set_merchant_open(bigint, boolean) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.add_item(bigint, text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.add_item(bigint, text, integer, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.set_item_stock(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.set_item_stock(bigint, integer) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.merchant_menu(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.merchant_menu(bigint) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.register_customer(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.register_customer(text, text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.find_customer_by_phone(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.find_customer_by_phone(text) TO dispatch_app, dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.flag_customer(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.flag_customer(bigint, text) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.unflag_customer(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.unflag_customer(bigint, text, text) TO dispatch_admin;
REVOKE ALL ON FUNCTION @extschema@.register_rider(bigint, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.register_rider(bigint, text, text, integer) TO dispatch_app, dispatch_admin;
