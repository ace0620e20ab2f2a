-- sql/15_dependencies.sql
-- Every call of the extension into PostGIS and pgcrypto, in one place.
--
-- PostGIS and pgcrypto live in whatever schema they were installed in,
-- usually public, where on a cluster upgraded from before PostgreSQL 15
-- any role may create functions.  A name looked up at run time through
-- such a schema can be captured by a look-alike that matches the argument
-- types better.  So no function of the extension has those schemas on its
-- search_path (each pins pg_catalog, pg_temp; sql/99_finish.sql checks),
-- and PostGIS and pgcrypto are reached only through the functions below.
--
-- They are SQL-standard functions (RETURN expression): PostgreSQL parses
-- such a body when this script runs, under the search_path that CREATE
-- EXTENSION sets (this schema, then those of postgis and pgcrypto), and
-- binds every name in it to the object found then, by oid; a function
-- created later, anywhere, never takes its place.  Every call below passes
-- each argument with exactly the type of the function it means (and every
-- argument, no defaults), so at install time too no other function can be
-- the better match: a second function with the same name and argument
-- types cannot exist in the same schema.  pg_depend records the binding,
-- which test/pgtap/40_privileges.sql checks.  Without SET clauses they are
-- inlined into the statements that call them and cost nothing.
--
-- The C parts qualify PostGIS names with its schema, looked up when they
-- prepare their statements (match_keep_plan in src/match.c).

-- ---------------------------------------------------------------- PostGIS

CREATE FUNCTION @extschema@._point(lon float8, lat float8) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_SetSRID(ST_MakePoint(lon, lat), 4326);
COMMENT ON FUNCTION @extschema@._point(float8, float8) IS
	'Internal: the WGS 84 point (SRID 4326) of a longitude and a latitude.';
REVOKE ALL ON FUNCTION @extschema@._point(float8, float8) FROM PUBLIC;

CREATE FUNCTION @extschema@._lon(p geometry) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_X(p);
COMMENT ON FUNCTION @extschema@._lon(geometry) IS
	'Internal: the longitude (x) of a point.';
REVOKE ALL ON FUNCTION @extschema@._lon(geometry) FROM PUBLIC;

CREATE FUNCTION @extschema@._lat(p geometry) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_Y(p);
COMMENT ON FUNCTION @extschema@._lat(geometry) IS
	'Internal: the latitude (y) of a point.';
REVOKE ALL ON FUNCTION @extschema@._lat(geometry) FROM PUBLIC;

CREATE FUNCTION @extschema@._covers(area geometry, g geometry) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_Covers(area, g);
COMMENT ON FUNCTION @extschema@._covers(geometry, geometry) IS
	'Internal: whether no point of g lies outside area (a point on the boundary is covered).';
REVOKE ALL ON FUNCTION @extschema@._covers(geometry, geometry) FROM PUBLIC;

CREATE FUNCTION @extschema@._distance_m(a geometry, b geometry) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_DistanceSphere(a, b);
COMMENT ON FUNCTION @extschema@._distance_m(geometry, geometry) IS
	'Internal: great-circle metres between two WGS 84 geometries.';
REVOKE ALL ON FUNCTION @extschema@._distance_m(geometry, geometry) FROM PUBLIC;

CREATE FUNCTION @extschema@._zone_area_problem(area geometry) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
	WHEN ST_IsEmpty(area) THEN 'it is empty'
	WHEN NOT (GeometryType(area) OPERATOR(pg_catalog.=) ANY (ARRAY['POLYGON', 'MULTIPOLYGON']))
		THEN 'it is a ' OPERATOR(pg_catalog.||) GeometryType(area) OPERATOR(pg_catalog.||) ', not a polygon or multipolygon'
	WHEN NOT (ST_SRID(area) OPERATOR(pg_catalog.=) ANY (ARRAY[0, 4326]))
		THEN 'its SRID is ' OPERATOR(pg_catalog.||) ST_SRID(area)::pg_catalog.text OPERATOR(pg_catalog.||) ', not 4326'
	WHEN NOT ST_IsValid(area) THEN 'it is not valid: ' OPERATOR(pg_catalog.||) ST_IsValidReason(area)
END;
COMMENT ON FUNCTION @extschema@._zone_area_problem(geometry) IS
	'Internal: why a geometry cannot be a service area (empty, not a polygon or multipolygon, an SRID other than 4326 or none, invalid), or NULL if it can.';
REVOKE ALL ON FUNCTION @extschema@._zone_area_problem(geometry) FROM PUBLIC;

CREATE FUNCTION @extschema@._zone_area(area geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_Multi(CASE WHEN ST_SRID(area) OPERATOR(pg_catalog.=) 0 THEN ST_SetSRID(area, 4326) ELSE area END);
COMMENT ON FUNCTION @extschema@._zone_area(geometry) IS
	'Internal: a service area as stored: a multipolygon in SRID 4326 (a geometry without SRID is taken as 4326).';
REVOKE ALL ON FUNCTION @extschema@._zone_area(geometry) FROM PUBLIC;

CREATE FUNCTION @extschema@._geojson(g geometry) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_AsGeoJSON(g, 9, 8)::pg_catalog.jsonb;
COMMENT ON FUNCTION @extschema@._geojson(geometry) IS
	'Internal: a geometry as GeoJSON (9 decimal digits, with its CRS when not 4326).';
REVOKE ALL ON FUNCTION @extschema@._geojson(geometry) FROM PUBLIC;

-- The hexagon cells of demand (sql/68_demand.sql) are those of PostGIS's
-- ST_HexagonGrid in Web Mercator (EPSG:3857), anchored at its origin, so a
-- cell's (i, j) never changes; sql/68_demand.sql finds a point's cell by
-- the grid's arithmetic, and this draws one.
CREATE FUNCTION @extschema@._hexagon(mercator_size float8, i integer, j integer) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_Transform(ST_Hexagon(mercator_size, i, j, ST_SetSRID(ST_MakePoint(0::float8, 0::float8), 3857)), 4326);
COMMENT ON FUNCTION @extschema@._hexagon(float8, integer, integer) IS
	'Internal: the WGS 84 polygon of hexagon (i, j) of ST_HexagonGrid in Web Mercator units of mercator_size (the cells of sql/68_demand.sql).';
REVOKE ALL ON FUNCTION @extschema@._hexagon(float8, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._hexagon(float8, integer, integer) TO dispatch_analyst, dispatch_admin;   -- demand_heatmap (sql/68_demand.sql) calls it as its reader

CREATE FUNCTION @extschema@._centroid(g geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_Centroid(g);
COMMENT ON FUNCTION @extschema@._centroid(geometry) IS
	'Internal: the centroid of a geometry (planar, in its own coordinates).';
REVOKE ALL ON FUNCTION @extschema@._centroid(geometry) FROM PUBLIC;

-- --------------------------------------------------------------- pgcrypto

-- Personal fields and data keys are OpenPGP symmetric messages: AES-256
-- with the integrity check (MDC, always on), s2k-mode 1 since the "password"
-- is a random key in hex, not a phrase to stretch, and no compression
-- (which would leak the length of compressible text).

-- STRICT although it takes nothing: a strict function calling it, such as
-- _pgp_encrypt, can then be inlined where it is called
CREATE FUNCTION @extschema@._pgp_options() RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'cipher-algo=aes256, s2k-mode=1, compress-algo=0';
COMMENT ON FUNCTION @extschema@._pgp_options() IS
	'Internal: the pgcrypto options of every sealed value and wrapped key.';
REVOKE ALL ON FUNCTION @extschema@._pgp_options() FROM PUBLIC;

CREATE FUNCTION @extschema@._pgp_encrypt(value text, key bytea) RETURNS bytea
LANGUAGE sql VOLATILE STRICT PARALLEL SAFE
RETURN pgp_sym_encrypt(value, pg_catalog.encode(key, 'hex'), @extschema@._pgp_options());
COMMENT ON FUNCTION @extschema@._pgp_encrypt(text, bytea) IS
	'Internal: text sealed under a 256-bit key.  VOLATILE: every call draws a new session key and IV.';
REVOKE ALL ON FUNCTION @extschema@._pgp_encrypt(text, bytea) FROM PUBLIC;

CREATE FUNCTION @extschema@._pgp_decrypt(sealed bytea, key bytea) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pgp_sym_decrypt(sealed, pg_catalog.encode(key, 'hex'));
COMMENT ON FUNCTION @extschema@._pgp_decrypt(bytea, bytea) IS
	'Internal: opens a value sealed by _pgp_encrypt; a wrong key or a corrupt value raises SQLSTATE 39000.';
REVOKE ALL ON FUNCTION @extschema@._pgp_decrypt(bytea, bytea) FROM PUBLIC;

CREATE FUNCTION @extschema@._pgp_encrypt_bytes(value bytea, key bytea) RETURNS bytea
LANGUAGE sql VOLATILE STRICT PARALLEL SAFE
RETURN pgp_sym_encrypt_bytea(value, pg_catalog.encode(key, 'hex'), @extschema@._pgp_options());
COMMENT ON FUNCTION @extschema@._pgp_encrypt_bytes(bytea, bytea) IS
	'Internal: bytes (a data key) sealed under a 256-bit key (a master key).';
REVOKE ALL ON FUNCTION @extschema@._pgp_encrypt_bytes(bytea, bytea) FROM PUBLIC;

CREATE FUNCTION @extschema@._pgp_decrypt_bytes(sealed bytea, key bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pgp_sym_decrypt_bytea(sealed, pg_catalog.encode(key, 'hex'));
COMMENT ON FUNCTION @extschema@._pgp_decrypt_bytes(bytea, bytea) IS
	'Internal: opens bytes sealed by _pgp_encrypt_bytes.';
REVOKE ALL ON FUNCTION @extschema@._pgp_decrypt_bytes(bytea, bytea) FROM PUBLIC;

CREATE FUNCTION @extschema@._random_key() RETURNS bytea
LANGUAGE sql VOLATILE PARALLEL SAFE
RETURN gen_random_bytes(32);
COMMENT ON FUNCTION @extschema@._random_key() IS
	'Internal: 256 random bits from a cryptographically strong source, for a new data key.';
REVOKE ALL ON FUNCTION @extschema@._random_key() FROM PUBLIC;

CREATE FUNCTION @extschema@._hmac_sha256(value bytea, key bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN hmac(value, key, 'sha256'::pg_catalog.text);
COMMENT ON FUNCTION @extschema@._hmac_sha256(bytea, bytea) IS
	'Internal: HMAC-SHA-256 of a value under a key (blind indexes).';
REVOKE ALL ON FUNCTION @extschema@._hmac_sha256(bytea, bytea) FROM PUBLIC;

-- Calls above are bound now and safe whatever happens later in those
-- schemas; still, say so when roles other than their owners may create
-- objects there (the default before PostgreSQL 15), since other code that
-- resolves names at run time through them is exposed.
DO $writable$
DECLARE
	v_schemas text;
BEGIN
	SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('%I (%s)', n.nspname, e.extname), ', ')
	  INTO v_schemas
	  FROM pg_catalog.pg_extension e
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
	 CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
	  LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
	 WHERE e.extname IN ('postgis', 'pgcrypto')
	   AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
	   AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
	   AND NOT COALESCE(r.rolsuper, false);
	IF v_schemas IS NOT NULL THEN
		RAISE WARNING 'roles other than its owner may create objects in the schema of %', v_schemas
			USING DETAIL = 'dispatch binds its calls into PostGIS and pgcrypto when it is installed and is not affected; code that looks names up through that schema at run time is.',
			      HINT = 'REVOKE CREATE ON SCHEMA public FROM PUBLIC, as PostgreSQL 15 does by default.';
	END IF;
END
$writable$;
