-- a purge batch two hours ahead: rider tracks and the texts of finished
-- orders are past their one-hour retention by then (events are not)
BEGIN;
SELECT set_config('dispatch.clock_override', (now() + interval '2 hours')::text, true);
SELECT dispatch.purge_expired_step(200);
COMMIT;
\sleep 2 s
