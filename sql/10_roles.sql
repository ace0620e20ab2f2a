-- sql/10_roles.sql
-- The four roles of the extension.  Roles belong to the cluster, not to a
-- database, so they are created only where missing and are not members of
-- the extension: a second database with dispatch shares them.
--
--   dispatch_app      application servers: the API functions
--   dispatch_gateway  push gateways: the event outbox
--   dispatch_analyst  analysts: views without personal data, nothing else
--   dispatch_admin    operators: everything the app may do, plus keys,
--                     flags and maintenance

DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['dispatch_app', 'dispatch_gateway',
	                         'dispatch_analyst', 'dispatch_admin']
	LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
END
$roles$;

GRANT USAGE ON SCHEMA @extschema@ TO dispatch_app, dispatch_gateway, dispatch_analyst, dispatch_admin;
