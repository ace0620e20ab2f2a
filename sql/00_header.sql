-- sql/00_header.sql
-- The install script of the dispatch extension is assembled from the files
-- in sql/, in file-name order (see the Makefile).  Objects of the extension
-- are named @extschema@.x; built-ins pg_catalog.x.  PostGIS and pgcrypto
-- live in whatever schema they were installed in: functions that use them
-- get that schema pinned into their search_path at the end of the script
-- (sql/99_finish.sql), after pg_catalog.

\echo Use "CREATE EXTENSION dispatch CASCADE" to load this file. \quit
