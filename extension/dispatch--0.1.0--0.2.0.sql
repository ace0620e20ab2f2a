-- extension/dispatch--0.1.0--0.2.0.sql
-- Upgrade from release 0.1.0 to 0.2.0: every change of the catalog since
-- 0.1.0, in the order the parts changed it.  test/upgrade checks that
-- installing 0.1.0 and running this script gives the catalog of a fresh
-- install of 0.2.0.  It is run by ALTER EXTENSION dispatch UPDATE, with
-- search_path set to the extension's schema and those of postgis and
-- pgcrypto, like the install script.

\echo Use "ALTER EXTENSION dispatch UPDATE TO '0.2.0'" to load this file. \quit
