#!/usr/bin/env bash
# test/tap/growth_rollup.t: the incremental growth rollup (rollup_campaigns,
# sql/90_growth.sql) equals a recomputation from scratch after new orders,
# deliveries, a cancellation after midnight of an order of the day before,
# and an order whose transaction began before a rollup run and committed
# after it (a late event); credit_rewards credits each delivery exactly once
# across runs, and two runs at once do not credit twice (the second waits
# for the first's cursors, one a zone).  Every step commits, as the application and pg_cron do: the
# rollup reads the outbox with the snapshot horizon of events_since, which
# a single test transaction could not show.  Runs in a database of its own.
set -uo pipefail
db=dispatch_growth_rollup_t
work=$(mktemp -d)
late_pid=
first_pid=
cleanup() {
	[ -n "$late_pid" ] && kill "$late_pid" 2>/dev/null
	[ -n "$first_pid" ] && kill "$first_pid" 2>/dev/null
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
export PGOPTIONS='-c client_min_messages=warning'
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
export PGDATABASE=$db
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
echo "1..13"

q >"$work/setup" 2>&1 <<'SQL' || { echo "not ok 1 - fixture"; sed 's/^/# /' "$work/setup"; exit 0; }
CREATE EXTENSION dispatch CASCADE;
SET dispatch.fraud_max_bad_orders = 1000;
SET dispatch.clock_override = '2026-05-01 09:00:00+08';
SELECT dispatch.create_zone('Z', ST_MakeEnvelope(121.40, 31.15, 121.48, 31.22, 4326), 'Asia/Shanghai');
SELECT dispatch.create_merchant(1, 'M', 121.437, 31.188);
SELECT dispatch.add_item(1, 'noodles', 2800);
SELECT dispatch.register_customer(format('+86138000001%s', lpad(i::text, 2, '0')), format('C%s', i)) FROM generate_series(1, 12) i;
SELECT dispatch.register_rider(1, 'R', '+8613900000001', 20);
SELECT dispatch.register_rider(1, 'S', '+8613900000002', 20);
SELECT dispatch.rider_online(1, 121.437, 31.188);
SELECT dispatch.create_campaign('Welcome', 'first_order', '{"percent_off": 20, "auto": true}', 100000);
SELECT dispatch.create_campaign('Lunch', 'limited_time', '{"amount_off_cents": 300}', NULL, NULL, '2026-06-01', NULL, 'LUNCH');
SELECT dispatch.create_campaign('Points', 'points', '{"earn_per_yuan": 1}');
SELECT dispatch.create_campaign('Refer', 'referral', '{"referrer_points": 50, "referee_points": 30}');
SELECT dispatch.apply_referral(12, dispatch.referral_code(1));
SELECT dispatch.create_experiment('E', '[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}]', '2 days');
SELECT dispatch.grant_consent(i, 'marketing', 'v1') FROM generate_series(1, 12) i;
SELECT dispatch.experiment_variant('E', i) FROM generate_series(1, 6) i;
CREATE FUNCTION public.buy(c bigint, code text, at timestamptz) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE o bigint;
BEGIN
	PERFORM set_config('dispatch.clock_override', at::text, true);
	o := dispatch.place_order(c, 1, '[{"item_id": 1, "qty": 1}]', 121.445, 31.196, 'x', 'normal', code);
	PERFORM dispatch.confirm_payment(o, 'p' || o);
	RETURN o;
END $$;
-- a rider for each day, so that nobody rides past the fatigue limit
CREATE FUNCTION public.deliver(o bigint, at timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE r bigint := CASE WHEN at < '2026-05-02 00:00+08' THEN 1 ELSE 2 END;
BEGIN
	PERFORM set_config('dispatch.clock_override', at::text, true);
	IF (SELECT status FROM dispatch.riders WHERE rider_id = r) = 'offline' THEN
		PERFORM dispatch.rider_online(r, 121.437, 31.188);
	END IF;
	PERFORM dispatch.update_rider_location(r, 121.437, 31.188);
	PERFORM dispatch.merchant_accept(o);
	PERFORM dispatch.assign_manually(o, r, 'test');
	PERFORM dispatch.mark_picked_up(o, r);
	PERFORM dispatch.mark_delivered(o, r);
END $$;
CREATE TABLE public.o (name text PRIMARY KEY, id bigint);
SQL

# day 1: six customers order, four are delivered; each statement commits
for i in 1 2 3 4 5 6; do
	q -c "INSERT INTO public.o VALUES ('d1_$i', public.buy($i, CASE WHEN $i > 3 THEN 'LUNCH' END, '2026-05-01 11:0$i:00+08'))"
done
for i in 1 2 3 4; do q -c "SELECT public.deliver((SELECT id FROM public.o WHERE name = 'd1_$i'), '2026-05-01 12:00:00+08')" >/dev/null || echo "# delivery $i failed"; done
q -c "SELECT dispatch.rollup_campaigns()" >/dev/null
ok $? "a first incremental run"

# day 2: a customer of day 1 orders again; the referee orders; a day-1 order
# is cancelled after midnight; and an order whose transaction is open while
# the rollup runs commits after it
q -c "INSERT INTO public.o VALUES ('d2_1', public.buy(1, NULL, '2026-05-02 11:00:00+08'))"
q -c "INSERT INTO public.o VALUES ('d2_12', public.buy(12, NULL, '2026-05-02 11:30:00+08'))"
q -c "SELECT public.deliver((SELECT id FROM public.o WHERE name = 'd2_12'), '2026-05-02 12:00:00+08')" >/dev/null
q -c "SET dispatch.clock_override = '2026-05-02 00:30:00+08'; SELECT dispatch.cancel_order((SELECT id FROM public.o WHERE name = 'd1_5'), 'after midnight')" >/dev/null
mkfifo "$work/late"
psql -X -q -At -v ON_ERROR_STOP=1 <"$work/late" >"$work/late.out" 2>&1 &
late_pid=$!
exec 3>"$work/late"
echo "BEGIN; INSERT INTO public.o VALUES ('late', public.buy(7, NULL, '2026-05-02 13:00:00+08')); SELECT 'placed';" >&3
for _ in $(seq 1 50); do grep -q placed "$work/late.out" && break; sleep 0.1; done
q -c "SET dispatch.clock_override = '2026-05-02 13:30:00+08'; SELECT dispatch.experiment_variant('E', 8)" >/dev/null
q -c "INSERT INTO public.o VALUES ('d2_8', public.buy(8, 'LUNCH', '2026-05-02 14:00:00+08'))"
q -c "SELECT dispatch.rollup_campaigns()" >/dev/null
q -c "SELECT orders FROM dispatch.zone_daily WHERE day = '2026-05-02'" >"$work/mid"
echo "COMMIT;" >&3
exec 3>&-
wait "$late_pid"
late_pid=
q -c "SELECT dispatch.rollup_campaigns()" >/dev/null
ok $? "two more incremental runs, the late order committed between them"
# below that run's horizon: d2_1 and d2_12; d2_8 began after the late
# order's transaction and waits for the next run with it
[ "$(cat "$work/mid")" = 2 ]
ok $? "the run during the open transaction counted day 2 up to its horizon (2 orders, got $(cat "$work/mid"))"

snapshot() {
	q >"$1" <<'SQL'
SELECT 'z', zone_id, day, orders, delivered, cancelled, gmv_cents, discount_cents FROM dispatch.zone_daily ORDER BY 2, 3;
SELECT 'c', zone_id, day, campaign_id, redemptions, orders, new_customers, gmv_cents, discount_cents, reward_cents FROM dispatch.campaign_daily ORDER BY 2, 3, 4;
SELECT 's', s.* FROM dispatch.customer_stats s ORDER BY customer_id;
SELECT 'w', w.* FROM dispatch.customer_weeks w ORDER BY 2, 3;
SELECT 'm', zone_id, month, active_customers FROM dispatch.monthly_review ORDER BY 2, 3;
SELECT 'x', x.* FROM dispatch.experiment_facts x ORDER BY 2, 3;
SELECT 'e', e.* FROM dispatch.experiment_daily e ORDER BY 2, 3, 4;
SQL
}
snapshot "$work/incremental"
q -c "SELECT dispatch.rollup_campaigns(true)" >/dev/null
snapshot "$work/full"
diff "$work/incremental" "$work/full" >"$work/diff"
ok $? "the incremental rollup equals the full recomputation"
[ "$(wc -l <"$work/diff")" = 0 ] || sed 's/^/# /' "$work/diff"

# the figures themselves, checked by hand: day 1 (local) had six orders, one
# of them cancelled after midnight; day 2 four; GMV 3,100 an order that counts
# (2,800 and the delivery fee of 300)
r=$(q -c "SELECT string_agg(day || ':' || orders || '/' || cancelled || '/' || delivered || '/' || gmv_cents, ' ' ORDER BY day) FROM dispatch.zone_daily")
[ "$r" = "2026-05-01:5/1/4/15500 2026-05-02:4/0/1/12400" ]
ok $? "zone_daily by local day: $r"
r=$(q -c "SELECT string_agg(p.campaign || ':' || p.redemptions || '/' || p.new_customers || '/' || p.cost_cents, ' ' ORDER BY p.campaign) FROM dispatch.campaign_performance p")
# Welcome: auto 20 % on first orders of 1, 2, 3 (day 1), 12 and 7 (day 2)
# = 5 x 560, but 12 was referred: the referral acquired them; Lunch: 4, 6
# and 8 hold it (5 cancelled), 4 and 6 and 8 are first orders; Refer: 12's
# first delivery paid 80
[ "$r" = "Lunch:3/3/900 Points:0/0/0 Refer:0/1/80 Welcome:5/4/2800" ]
ok $? "campaign_performance: $r"

# experiments: customers 1 to 6 exposed on day 1 at 09:00 local, 01:00 UTC
# (days of exposure are UTC: exposures belong to no zone); all ordered
# within two days, 5 cancelled; 8 exposed on day 2, ordered half an hour
# later
r=$(q -c "SELECT string_agg(day || ':' || exposed || '/' || converted, ' ' ORDER BY day) FROM (SELECT day, sum(exposed) AS exposed, sum(converted) AS converted FROM dispatch.experiment_by_day GROUP BY day) d")
[ "$r" = "2026-05-01:6/5 2026-05-02:1/1" ]
ok $? "experiment_by_day: exposed and converted by day of exposure: $r"

# rewards: every delivered order credited once, the referral once
r=$(q -c "SELECT count(*) FILTER (WHERE reason = 'delivery') || '/' || count(*) FILTER (WHERE reason = 'referral') FROM dispatch.points_ledger")
[ "$r" = "5/2" ]
ok $? "five deliveries and one referral (two sides) credited: $r"
q -c "SELECT dispatch.credit_rewards()" >"$work/again"
[ "$(cat "$work/again")" = 0 ]
ok $? "a further credit_rewards writes nothing"
r=$(q -c "SELECT string_agg(orders::text, ',' ORDER BY run_id) FROM dispatch.rollup_runs")
[ "$r" = "6,3,2,10" ]
ok $? "each run reads only the orders that changed since the last (then all 10 in the full run): $r"

# two runs at once: the second waits for the cursors the first holds (one a
# zone, locked in zone order), then reads on from where the first stopped
q -c "INSERT INTO public.o VALUES ('d3_9', public.buy(9, NULL, '2026-05-02 15:00:00+08'))"
q -c "SELECT public.deliver((SELECT id FROM public.o WHERE name = 'd3_9'), '2026-05-02 15:30:00+08')" >/dev/null || echo "# the delivery of d3_9 failed"
mkfifo "$work/first"
psql -X -q -At -v ON_ERROR_STOP=1 <"$work/first" >"$work/first.out" 2>&1 &
first_pid=$!
exec 4>"$work/first"
echo "BEGIN; SELECT 'first:' || dispatch.credit_rewards();" >&4
for _ in $(seq 1 50); do grep -q 'first:' "$work/first.out" && break; sleep 0.1; done
q -c "SET lock_timeout = '300ms'" -c "SELECT dispatch.credit_rewards()" >"$work/second" 2>&1
grep -q 'lock timeout' "$work/second"
ok $? "a second credit_rewards while the first is open waits for its cursors"
q -c "SELECT dispatch.credit_rewards()" >"$work/third" 2>&1 &
third_pid=$!
sleep 0.5
echo "COMMIT;" >&4
exec 4>&-
wait "$first_pid"
first_pid=
wait "$third_pid"
[ "$(grep first: "$work/first.out")" = "first:1" ] && [ "$(cat "$work/third")" = 0 ]
ok $? "the first credits the new delivery, the second, once the first commits, nothing (first: $(grep first: "$work/first.out"), second: $(cat "$work/third"))"
r=$(q -c "SELECT count(*) FROM dispatch.points_ledger WHERE reason = 'delivery' AND ref = 'order:' || (SELECT id FROM public.o WHERE name = 'd3_9')")
[ "$r" = 1 ]
ok $? "one row of points for it: $r"
