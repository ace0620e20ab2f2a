-- one order placed and paid in one transaction: validation, stock, sealing,
-- two state-machine transitions, two outbox events, two NOTIFYs
\set c random(1, :ncust)
\set dx random(0, 20000)
BEGIN;
SELECT dispatch.place_order(:c, 1, '[{"item_id": 1, "qty": 1}, {"item_id": 2, "qty": 2}]',
       121.44 + :dx / 1000000.0, 31.19, 'Room 1201, Building 5, Lane 100', 'hot') AS o \gset
SELECT dispatch.confirm_payment(:o, 'psp-' || :o);
COMMIT;
