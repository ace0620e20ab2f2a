-- one order placed and paid, personal fields stored with the no-op cipher
-- (benchmarks only: bench/privacy/run makes it the server's setting, which
-- is the only place it is taken from; intake_pgp.sql overrides it for its
-- own transaction)
\set c random(1, :ncust)
\set dx random(0, 20000)
SELECT dispatch.confirm_payment(dispatch.place_order(:c, 1, '[{"item_id": 1, "qty": 1}, {"item_id": 2, "qty": 2}]',
       121.44 + :dx / 1000000.0, 31.19, 'Room 1201, Building 5, Lane 100', 'hot'), 'psp-' || gen_random_uuid())
  FROM (SELECT dispatch.clock()) s;
