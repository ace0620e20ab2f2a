-- bench/growth/intake_setup.sql: the intake bench's city (bench/intake/setup.sql)
-- plus a running campaign with a public code and a points campaign, and
-- every customer holding points to spend.
SET client_min_messages = warning;
SELECT dispatch.create_campaign('Bench lunch', 'limited_time', '{"amount_off_cents": 300, "min_basket_cents": 2000}',
                                1000000000, NULL, now() + interval '30 days', NULL, 'BENCH');
SELECT dispatch.create_campaign('Bench points', 'points', '{"earn_per_yuan": 1, "max_spend_share": 0.5}');
SELECT dispatch._points_grant(1, c, 1000000, 'goodwill', 'bench') FROM generate_series(1, :ncust) c;
ANALYZE;
