-- one order placed and paid in one statement, with no session state (the
-- same through PgBouncer's transaction pool as on a direct connection)
\set c random(1, :ncust)
\set dx random(0, 20000)
SELECT dispatch.confirm_payment(dispatch.place_order(:c, 1, '[{"item_id": 1, "qty": 1}, {"item_id": 2, "qty": 2}]',
       121.44 + :dx / 1000000.0, 31.19, 'Room 1201, Building 5, Lane 100', 'hot'), 'psp-' || gen_random_uuid());
