-- one order placed and paid, personal fields sealed with pgcrypto (the default)
-- (for this statement's transaction only: the server's setting is none
-- while bench/privacy/run mixes the two); dispatch.clock() in the subquery
-- loads the module before set_config runs
\set c random(1, :ncust)
\set dx random(0, 20000)
SELECT dispatch.confirm_payment(dispatch.place_order(:c, 1, '[{"item_id": 1, "qty": 1}, {"item_id": 2, "qty": 2}]',
       121.44 + :dx / 1000000.0, 31.19, 'Room 1201, Building 5, Lane 100', 'hot'), 'psp-' || gen_random_uuid())
  FROM (SELECT dispatch.clock(), set_config('dispatch.cipher', 'pgp', true)) s;
