-- test/pgtap/50_register_rider.sql: register_rider refuses a phone number
-- another rider has (DP026, in any zone and any accepted form of the
-- number), as update_rider does, and stores a blank name as none, as
-- register_customer and update_rider do (sql/50_intake.sql).
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(9);
-- the riders of both zones, through plpgsql (on Citus one zone at a
-- time, the zones given as values: a worker knows no t.* setting)
CREATE FUNCTION pg_temp.riders(p_zone bigint, p_other bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	RETURN (SELECT count(*) FROM dispatch.riders r WHERE r.zone_id = p_zone)
	     + (SELECT count(*) FROM dispatch.riders r WHERE r.zone_id = p_other);
END $$;
SELECT pg_temp.riders(:zone, :other_zone) AS riders_before \gset

-- the fixture's rider Gamma has +8613900000003, in :zone
SELECT throws_ok(format('SELECT dispatch.register_rider(%s, %L, %L)', :zone, 'Another', '+8613900000003'),
                 'DP026', NULL, 'a phone another rider of the zone has is refused');
SELECT throws_ok(format('SELECT dispatch.register_rider(%s, %L, %L)', :other_zone, 'Another', '+8613900000003'),
                 'DP026', NULL, '... and one a rider of another zone has');
SELECT throws_ok(format('SELECT dispatch.register_rider(%s, %L, %L)', :other_zone, 'Another', '139 0000 0003'),
                 'DP026', NULL, '... in any form the number is accepted in');
SELECT is(pg_temp.riders(:zone, :other_zone), :riders_before::bigint, 'nothing is written');

-- a customer's phone is no rider's: accepted
SELECT lives_ok(format('SELECT dispatch.register_rider(%s, %L, %L)', :zone, 'Rider Too', '+8613800000001'),
                'a phone a customer has is a rider''s to register');

-- update_rider keeps a rider's own phone: it is not refused against itself
SELECT dispatch.register_rider(:zone, '   ', '+8613900000077') AS blank \gset
SELECT lives_ok(format('SELECT dispatch.update_rider(%s, phone => %L)', :blank, '+8613900000077'),
                'a rider registered alone with a phone may set it again');
SELECT is(dispatch.export_rider(:blank) #>> '{profile,name}', NULL, 'a blank name is stored as none');
SELECT dispatch.register_rider(:zone, '', '+8613900000078') AS empty \gset
SELECT is(dispatch.export_rider(:empty) #>> '{profile,name}', NULL, '... and so is an empty one');
SELECT is(dispatch.export_rider(:rider) #>> '{profile,name}', 'Test Rider Gamma', 'a name is stored as given');

SELECT * FROM finish();
ROLLBACK;
