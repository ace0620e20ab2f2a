#!/usr/bin/env bash
# test/tap/first_call.t: every function granted to a dispatch role works as
# the first statement of a new session, as an application server's fresh
# connection calls it, under the role that is granted it.  (Release 0.1.0
# failed there: SQL read settings that exist only once the module is
# loaded.)  A call table below names each function with arguments valid on
# the fixture; a granted function missing from the table fails the test.
# Also: a value for dispatch.clock_override set before the module is loaded
# by a role that may not set it is dropped when the module loads.  Runs in
# a database of its own.
set -uo pipefail
db=dispatch_first_call_t
roles=(dispatch_t_app dispatch_t_admin dispatch_t_gateway dispatch_t_analyst)
work=$(mktemp -d)
cleanup() {
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	for r in "${roles[@]}"; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true; done
	rm -rf "$work"
}
trap cleanup EXIT
export PGOPTIONS='-c client_min_messages=warning'
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
for r in "${roles[@]}"; do
	psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" -c "CREATE ROLE $r LOGIN IN ROLE ${r/_t_/_}" >/dev/null
done
export PGDATABASE=$db

# the fixture, written by a superuser: one order in each status the calls
# start from, riders on and off shift, a pending offer
psql -X -q -v ON_ERROR_STOP=1 >"$work/setup" 2>&1 <<'SQL' || { echo "1..1"; echo "not ok 1 - fixture"; sed 's/^/# /' "$work/setup"; exit 0; }
CREATE EXTENSION dispatch CASCADE;
SET dispatch.fraud_max_bad_orders = 1000;
SELECT dispatch.create_zone('F', ST_MakeEnvelope(121.40, 31.15, 121.48, 31.22, 4326));
SELECT dispatch.create_merchant(1, 'M', 121.437, 31.188);
SELECT dispatch.add_item(1, 'noodles', 2800);
SELECT dispatch.register_customer(format('+861380000000%s', i), format('C%s', i)) FROM generate_series(1, 4) i;
SELECT dispatch.register_rider(1, format('R%s', i), format('+861390000000%s', i), 2) FROM generate_series(1, 5) i;
SELECT dispatch.rider_online(i, 121.436 + i * 0.0005, 31.187) FROM generate_series(1, 3) i;
SELECT dispatch.rider_online(5, 121.44, 31.19);
CREATE FUNCTION pg_temp.o(p_status text, p_rider bigint DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE o bigint := dispatch.place_order(1, 1, '[{"item_id": 1, "qty": 1}]', 121.445, 31.196, 'First Road');
BEGIN
	IF p_status = 'pending_payment' THEN RETURN o; END IF;
	IF p_status = 'payment_failed' THEN PERFORM dispatch.fail_payment(o, 'declined'); RETURN o; END IF;
	PERFORM dispatch.confirm_payment(o, 'ref-' || o);
	IF p_status = 'placed' THEN RETURN o; END IF;
	PERFORM dispatch.merchant_accept(o);
	IF p_status = 'accepted' THEN RETURN o; END IF;
	PERFORM dispatch.assign_manually(o, p_rider, 'setup');
	IF p_status = 'assigned' THEN RETURN o; END IF;
	PERFORM dispatch.mark_picked_up(o, p_rider);
	IF p_status = 'picked_up' THEN RETURN o; END IF;
	PERFORM dispatch.mark_delivered(o, p_rider);
	RETURN o;
END $$;
CREATE TABLE public.fx (name text PRIMARY KEY, id bigint);
INSERT INTO public.fx VALUES ('offered', pg_temp.o('accepted'));
SELECT count(*) FROM dispatch.assign_batch(1);
INSERT INTO public.fx VALUES ('offer', (SELECT offer_id FROM dispatch.offers WHERE status = 'pending'));
INSERT INTO public.fx SELECT v.name, pg_temp.o(v.status, v.rider) FROM (VALUES
	('to_confirm', 'pending_payment', NULL), ('to_fail', 'pending_payment', NULL),
	('to_retry', 'payment_failed', NULL), ('to_accept', 'placed', NULL), ('to_cancel', 'placed', NULL),
	('to_assign', 'accepted', NULL), ('to_pick_up', 'assigned', 2), ('to_release', 'assigned', 1),
	('to_replan', 'assigned', 1), ('to_deliver', 'picked_up', 3),
	('delivered', 'delivered', 3)) v(name, status, rider);
SELECT dispatch.create_experiment('fx_running', '[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}]');
SQL

id() { psql -X -At -c "SELECT id FROM public.fx WHERE name = '$1'"; }
offer=$(id offer)

# role | call | expected SQLSTATE (empty: success)
cat >"$work/calls" <<CALLS
admin|SELECT dispatch.create_zone('F2', ST_MakeEnvelope(122.40, 31.15, 122.48, 31.22, 4326))|
app|SELECT dispatch.create_merchant(1, 'M2', 121.44, 31.19)|
app|SELECT dispatch.add_item(1, 'tea', 300)|
app|SELECT dispatch.set_item_stock(1, 20)|
app|SELECT * FROM dispatch.merchant_menu(1)|
app|SELECT dispatch.set_merchant_open(1, true)|
app|SELECT dispatch.register_customer('+8613800009999', 'New')|
app|SELECT dispatch.find_customer_by_phone('+86 138 0000 0001')|
admin|SELECT dispatch.flag_customer(2, NULL)|
app|SELECT dispatch.register_rider(1, 'R9', '+8613900009999')|
app|SELECT dispatch.rider_online(4, 121.43, 31.19)|
app|SELECT dispatch.rider_offline(5)|
app|SELECT dispatch.update_rider_location(1, 121.4371, 31.1871)|
app|SELECT dispatch.update_rider_plan(2, dispatch.clock() + interval '5 minutes', 121.44, 31.19)|
app|SELECT dispatch.update_rider_location_in_zone(1, 1, 121.4372, 31.1872)|
app|SELECT dispatch.rider_online_in_zone(1, 4, 121.43, 31.19)|
app|SELECT dispatch.rider_offline_in_zone(1, 5)|
app|SELECT dispatch.update_rider_plan_in_zone(1, 2, dispatch.clock() + interval '6 minutes', 121.44, 31.19)|
app|SELECT dispatch.place_order(2, 1, '[{"item_id": 1, "qty": 2}]', 121.445, 31.196, 'Second Road', 'hot')|
app|SELECT dispatch.place_order_in_zone(1, 2, 1, '[{"item_id": 1, "qty": 1}]', 121.445, 31.196, 'Second Road')|
app|SELECT dispatch.place_errand(2, 121.44, 31.19, 121.45, 31.20, 'Third Road', 'keys', 900)|
app|SELECT dispatch.place_errand_in_zone(1, 2, 121.44, 31.19, 121.45, 31.20, 'Third Road', 'keys', 900)|
app|SELECT dispatch.confirm_payment($(id to_confirm), 'psp-1')|
app|SELECT dispatch._confirm_payment(1, $(id to_confirm), 'psp-1')|
app|SELECT dispatch.fail_payment($(id to_fail), 'declined')|
app|SELECT dispatch._fail_payment(1, $(id to_fail), 'declined')|
app|SELECT dispatch.retry_payment($(id to_retry))|
app|SELECT dispatch.merchant_accept($(id to_accept))|
app|SELECT dispatch._merchant_accept(1, $(id to_accept))|
app|SELECT dispatch.nearest_riders($(id to_assign))|
app|SELECT dispatch.respond_offer($offer, true)|
app|SELECT dispatch._respond_offer(1, $offer, true)|
app|SELECT dispatch.replan_order($(id to_replan), 1)|
app|SELECT dispatch.assign_manually($(id to_assign), 1, 'ops')|
app|SELECT dispatch._assign_manually(1, $(id to_assign), 1, 'ops')|
app|SELECT dispatch.assign_batch(1)|
app|SELECT dispatch.release_order($(id to_release), 1, 'flat tyre')|
app|SELECT dispatch._release_order(1, $(id to_release), 1, 'flat tyre', true)|
app|SELECT dispatch.order_contact($(id to_pick_up), 2)|
app|SELECT dispatch.mark_picked_up($(id to_pick_up), 2)|
app|SELECT dispatch._mark_picked_up(1, $(id to_pick_up), 2)|
app|SELECT dispatch.mark_delivered($(id to_deliver), 3)|
app|SELECT dispatch._mark_delivered(1, $(id to_deliver), 3)|
app|SELECT dispatch.submit_feedback($(id delivered), 5, '又快又热', 'app')|
app|SELECT dispatch.cancel_order($(id to_cancel), 'changed mind')|
app|SELECT dispatch._cancel_order(1, $(id to_cancel), 'changed mind')|
app|SELECT dispatch.settle_refund(1099511627775, true, 'psp-1')|DP106
app|SELECT dispatch._settle_refund(1, 1099511627775, true, 'psp-1')|DP106
app|SELECT dispatch.retry_refund(1099511627775)|DP106
app|SELECT dispatch._retry_refund(1, 1099511627775)|DP106
app|SELECT dispatch.stuck_after('placed')|
app|SELECT dispatch.delivery_fee(1, 121.445, 31.196)|
app|SELECT dispatch.sync_rider(1, '[{"id": "first-call", "at": 1, "type": "ping", "lon": 121.44, "lat": 31.19}]')|
app|SELECT dispatch.sync_rider_in_zone(1, 1, '[{"id": "first-call-z", "at": 1, "type": "ping", "lon": 121.44, "lat": 31.19}]')|
app|SELECT dispatch.eta($(id to_deliver))|
app|SELECT dispatch.rider_earnings_of(3, '2026-01-01', '2026-12-31')|
admin|SELECT dispatch.learn_eta()|
admin|SELECT dispatch.flush_refusals()|
admin|SELECT dispatch._refusal_window_start()|
admin|SELECT dispatch.unflag_customer(2, 'ops', 'checked')|
app|SELECT dispatch.forecast_demand(1, now())|
app|SELECT dispatch.reposition_hints(1)|
analyst|SELECT dispatch._hour_of_week(now(), 'UTC')|
analyst|SELECT dispatch._cell_size(ST_MakeEnvelope(121.40, 31.15, 121.48, 31.22, 4326))|
analyst|SELECT dispatch._hex_cell(ST_SetSRID(ST_MakePoint(121.44, 31.19), 4326), 350.0)|
analyst|SELECT dispatch._hexagon(350.0, 25701, 6022)|
analyst|SELECT count(*) FROM dispatch._demand_heatmap()|
analyst|SELECT count(*) FROM dispatch.campaign_performance_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.complaint_sla_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.demand_heatmap_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.dispatch_kpis_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.earnings_fairness_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.eta_accuracy_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.feedback_daily_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.feedback_top_issues_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.monthly_review_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.order_anomalies_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.refund_reconciliation_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.rider_utilisation_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.stuck_orders_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.survey_results_in_zone(1)|
analyst|SELECT count(*) FROM dispatch.complaint_sla_between(current_date - 7, current_date + 1, 1)|
analyst|SELECT count(*) FROM dispatch.customer_retention_between(current_date - 7, NULL)|
analyst|SELECT count(*) FROM dispatch.dispatch_kpis_between(current_date - 7, current_date + 1, 1)|
analyst|SELECT count(*) FROM dispatch.earnings_fairness_between(current_date - 7, current_date + 1, 1)|
analyst|SELECT count(*) FROM dispatch.eta_accuracy_between(current_date - 7, current_date + 1, 1)|
analyst|SELECT count(*) FROM dispatch.experiment_by_day_between(current_date - 7, NULL)|
analyst|SELECT count(*) FROM dispatch.feedback_daily_between(current_date - 7, current_date + 1, 1)|
analyst|SELECT count(*) FROM dispatch.feedback_top_issues_between(current_date - 7, current_date + 1, 1)|
analyst|SELECT count(*) FROM dispatch.monthly_review_between(current_date - 7, current_date + 1, 1)|
analyst|SELECT count(*) FROM dispatch.order_anomalies_between(current_date - 7, current_date + 1, 1)|
analyst|SELECT count(*) FROM dispatch.privacy_request_counts_between(current_date - 7, NULL)|
analyst|SELECT count(*) FROM dispatch.rider_utilisation_between(current_date - 7, current_date + 1, 1)|
analyst|SELECT count(*) FROM dispatch.survey_results_between(current_date - 7, current_date + 1, 1)|
app|SELECT dispatch.grant_consent(3, 'marketing', 'v1')|
app|SELECT dispatch.has_consent(3, 'marketing')|
app|SELECT dispatch.require_consent(3, 'marketing')|
app|SELECT dispatch.marketing_audience('marketing')|
app|SELECT dispatch.revoke_consent(3, 'marketing')|
app|SELECT dispatch.mask_phone('+8613812341234')|
app|SELECT dispatch.input_limits()|
app|SELECT dispatch._check_length('reason', 'flat tyre'::text)|
app|SELECT dispatch.export_customer(3)|
app|SELECT dispatch.forget_customer(4)|
app|SELECT dispatch.update_customer(3, NULL, 'Renamed', 'test')|
app|SELECT dispatch.update_rider(1, NULL, 'Renamed', 'test')|
app|SELECT dispatch.export_rider(2)|
app|SELECT dispatch.forget_rider(6)|
admin|SELECT dispatch.register_processor('sms-relay', 'calls', 'contract')|
app|SELECT dispatch.record_disclosure('sms-relay', 3, NULL, '{phone}')|
app|SELECT count(*) FROM dispatch.disclosures(3)|
admin|SELECT dispatch.retire_processor('sms-relay')|
app|SELECT dispatch.receive_privacy_request(3, 'access')|
admin|SELECT dispatch.handle_privacy_request((SELECT max(request_id) FROM dispatch.privacy_requests WHERE state = 'received'))|
app|SELECT dispatch.receive_privacy_request(3, 'rectification')|
admin|SELECT dispatch.complete_privacy_request((SELECT max(request_id) FROM dispatch.privacy_requests WHERE state = 'received'))|
admin|SELECT dispatch.process_privacy_requests()|
app|SELECT dispatch.sentiment('很好吃')|
app|SELECT dispatch.sentiment(convert_to('too cold', 'UTF8'))|
app|SELECT dispatch.feedback_topics('送餐太慢了')|
app|SELECT dispatch.feedback_score(4, 0.5)|
analyst|SELECT dispatch.sentiment_features('很好吃')|
app|SELECT dispatch.clock()|
app|SELECT dispatch.zone_of(1099511627777)|
app|SELECT dispatch.zone_scoped_id(1, 1)|
gateway|SELECT count(*) FROM dispatch.events_since(0)|
admin|SELECT count(*) FROM dispatch.relay_status()|
admin|SELECT dispatch.after_restore()|
admin|SELECT dispatch.rotate_customer_key(3)|
admin|SELECT dispatch.rotate_master_key(10)|
admin|SELECT dispatch.rotate_index_key(10)|
admin|SELECT dispatch.master_key_versions()|
admin|SELECT dispatch.set_retention_policy('events', '30 days')|
admin|SELECT dispatch.retention_effective()|
admin|SELECT dispatch.purge_expired_step(10)|
admin|CALL dispatch.purge_expired(10)|
admin|SELECT dispatch.purge_feedback_text(now() - interval '90 days', 10)|
admin|SELECT dispatch._lock_key('purge')|
admin|SELECT dispatch._purge_end(dispatch._purge_begin('skipped'))|
admin|SELECT dispatch._purge_abort(dispatch._purge_begin('skipped'))|
admin|SELECT dispatch.maintenance_commands()|
admin|SELECT dispatch._cron_database()|
admin|SELECT * FROM dispatch._maintenance_job_owners()|
admin|SELECT dispatch.schedule_maintenance()|DP410
admin|SELECT dispatch.create_campaign('first', 'first_order', '{"percent_off": 10}', 10000, code => 'HELLO')|
admin|SELECT dispatch.end_campaign(1)|
app|SELECT dispatch.campaign_budget_left(1)|
app|SELECT dispatch.points_balance(3)|
app|SELECT dispatch.customer_tier(3)|
app|SELECT dispatch.referral_code(3)|
app|SELECT dispatch.apply_referral(3, 'RNOSUCHCODE')|DP609
admin|SELECT dispatch.credit_rewards()|
admin|SELECT dispatch.balance_budgets()|
admin|SELECT dispatch.rollup_campaigns()|
admin|SELECT dispatch.rollup_campaigns(true)|
admin|SELECT dispatch._sentiment_weight('#好吃', 1.5)|
admin|SELECT dispatch._sentiment_feature_ok('!#好吃')|
admin|SELECT dispatch._vehicle_ok('ebike')|
admin|SELECT dispatch.train_sentiment('SELECT * FROM (VALUES (''好'', true), (''差'', false)) v')|
admin|SELECT dispatch.create_experiment('first_call', '[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}]')|
app|SELECT dispatch.experiment_variant('fx_running', 3)|
admin|SELECT dispatch.end_experiment('fx_running')|
app|SELECT dispatch.experiment_bucket('fx_running', 3)|
analyst|SELECT dispatch.two_proportion_p(5, 10, 2, 10)|
analyst|SELECT count(*) FROM dispatch._consent_rates()|
analyst|SELECT count(*) FROM dispatch._privacy_request_counts()|
analyst|SELECT count(*) FROM dispatch._refund_reconciliation()|
analyst|SELECT count(*) FROM dispatch._earnings_fairness()|
analyst|SELECT count(*) FROM dispatch._eta_accuracy()|
analyst|SELECT count(*) FROM dispatch._stuck_orders()|
analyst|SELECT count(*) FROM dispatch._rider_utilisation()|
analyst|SELECT count(*) FROM dispatch._dispatch_kpis()|
analyst|SELECT count(*) FROM dispatch._order_anomalies()|
analyst|SELECT count(*) FROM dispatch._feedback_daily()|
analyst|SELECT count(*) FROM dispatch._feedback_top_issues()|
analyst|SELECT count(*) FROM dispatch._complaint_sla()|
analyst|SELECT count(*) FROM dispatch._survey_results()|
analyst|SELECT count(*) FROM dispatch._experiment_results()|
analyst|SELECT count(*) FROM dispatch._campaign_performance()|
analyst|SELECT count(*) FROM dispatch._experiment_by_day()|
analyst|SELECT count(*) FROM dispatch._customer_retention()|
analyst|SELECT count(*) FROM dispatch._customer_segments()|
analyst|SELECT count(*) FROM dispatch._monthly_review()|
app|SELECT dispatch.submit_feedback($(id delivered), 1, '饭都凉了', 'phone')|
app|SELECT dispatch.open_tickets(1, 'delivery')|
app|SELECT dispatch.resolve_ticket(1099511627777, 'apologised', 10)|
app|SELECT dispatch.complaint_due_in()|
app|SELECT dispatch.complaint_side('{late}')|
app|SELECT dispatch.answer_survey(dispatch.create_survey('delivery', $(id delivered)), 1, 4, '不错')|
app|SELECT dispatch.create_survey('campaign', NULL, 999999)|DP661
admin|SELECT dispatch.purge_survey_text(now() - interval '90 days', 10)|
admin|SELECT dispatch.refresh_recommendations()|
app|SELECT count(*) FROM dispatch.recommend(1, 5)|
app|SELECT count(*) FROM dispatch.usual_offer(1)|
CALLS

# every granted function has a call; a listing that fails or finds no
# function fails the test instead of leaving nothing to miss
listing_failed=
psql -X -At -v ON_ERROR_STOP=1 >"$work/granted" 2>"$work/granted.err" <<'SQL' || listing_failed=1
SELECT DISTINCT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'dispatch'::regnamespace
   AND (has_function_privilege('dispatch_app', p.oid, 'EXECUTE') OR has_function_privilege('dispatch_gateway', p.oid, 'EXECUTE')
        OR has_function_privilege('dispatch_analyst', p.oid, 'EXECUTE') OR has_function_privilege('dispatch_admin', p.oid, 'EXECUTE'))
 ORDER BY 1
SQL
[ -s "$work/granted" ] || listing_failed=1
missing=()
while read -r fn; do
	grep -q "dispatch\.$fn(" "$work/calls" || missing+=("$fn")
done <"$work/granted"

total=$(grep -c . "$work/calls")
echo "1..$((total + 2))"
n=0
if [ -n "$listing_failed" ]; then
	echo "not ok $((n += 1)) - the granted functions could not be listed, or none was found"
	sed 's/^/# /' "$work/granted.err"
elif [ ${#missing[@]} -eq 0 ]; then
	echo "ok $((n += 1)) - every granted function is in the call table"
else
	echo "not ok $((n += 1)) - granted functions missing from the call table: ${missing[*]}"
fi

while IFS='|' read -r role call want; do
	n=$((n + 1))
	out=$(psql -X -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -U "dispatch_t_$role" -c "$call" 2>&1)
	rc=$?
	got=$(echo "$out" | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' | head -1)
	if { [ -z "$want" ] && [ $rc -eq 0 ]; } || { [ -n "$want" ] && [ "$got" = "$want" ]; }; then
		echo "ok $n - as $role, first in a session: ${call:0:90}"
	else
		echo "not ok $n - as $role, first in a session: ${call:0:90}"
		echo "$out" | head -5 | sed 's/^/# /'
	fi
done <"$work/calls"

# a placeholder set before the module loads, by a role that may not set it
out=$(psql -X -At -U dispatch_t_app -c "SET dispatch.clock_override = '2001-01-01 00:00:00+00'" \
	-c "SELECT dispatch.clock() > '2020-01-01'" 2>&1)
if grep -qx t <<<"$out" && grep -q 'permission denied to set parameter' <<<"$out"; then
	echo "ok $((n += 1)) - an application role's clock set before the module loaded is dropped"
else
	echo "not ok $((n += 1)) - an application role's clock set before the module loaded is dropped"
	echo "$out" | sed 's/^/# /'
fi
