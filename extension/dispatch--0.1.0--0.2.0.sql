-- extension/dispatch--0.1.0--0.2.0.sql
-- Upgrade from release 0.1.0 to 0.2.0: every change of the catalog since
-- 0.1.0, in the order the parts changed it.  test/upgrade checks that
-- installing 0.1.0 and running this script gives the catalog of a fresh
-- install of 0.2.0.  It is run by ALTER EXTENSION dispatch UPDATE, with
-- search_path set to the extension's schema and those of postgis and
-- pgcrypto, like the install script.

\echo Use "ALTER EXTENSION dispatch UPDATE TO '0.2.0'" to load this file. \quit

-- ===========================================================================
-- Issue 8, items 9 and 10 (order lifecycle): a retried call never undoes
-- work, and status versions.
--
-- Item 9: the state machine (C) allows assigned -> accepted only when the
-- same update removes the rider.  Item 10: orders.status_version, stamped
-- by the state machine under the order's row lock and carried by every
-- order_status event.
-- ===========================================================================

-- status versions: an existing order continues from the number of its
-- order_status events still in the outbox, at least 1 (docs/events.md)
ALTER TABLE @extschema@.orders ADD COLUMN status_version integer NOT NULL DEFAULT 1;
UPDATE @extschema@.orders o
   SET status_version = n.events
  FROM (SELECT e.zone_id, e.order_id, pg_catalog.count(*)::integer AS events
          FROM @extschema@.events e
         WHERE e.kind OPERATOR(pg_catalog.=) 'order_status' AND e.order_id IS NOT NULL
         GROUP BY e.zone_id, e.order_id) n
 WHERE o.zone_id OPERATOR(pg_catalog.=) n.zone_id
   AND o.order_id OPERATOR(pg_catalog.=) n.order_id
   AND n.events OPERATOR(pg_catalog.>) 1;
ALTER TABLE @extschema@.orders ALTER COLUMN status_version DROP DEFAULT;
ALTER TABLE @extschema@.orders ADD CONSTRAINT orders_status_version_check CHECK (status_version >= 1);
COMMENT ON COLUMN @extschema@.orders.status_version IS
	'1 for a new order, one more at each status change, stamped by the state machine under the order''s row lock; each order_status event carries it as "version" (docs/events.md).';
COMMENT ON FUNCTION @extschema@.order_state_trigger() IS
	'The order state machine (C): allows only the transitions of DESIGN.md (a release must remove the rider in the same update), stamps each with its time and the next status_version, writes its event and notifies dispatch_events.';

