-- test/pgtap/52_offers_by_zone.sql: what an order takes of an offer is held
-- in zones (sql/52_campaigns.sql).  A campaign's budget in slots per zone
-- (_budget_take, _budget_give, _budget_balance, balance_budgets): an order
-- charges its own zone's slots, takes from the other zones only when its
-- zone's room is short (and then moves that room to its zone), a
-- cancellation gives back in the order's zone, and the job deals room out
-- to the zones that take the campaign; through all of it the caps sum to
-- the budget.  Points in lots per zone (_points_grant, _points_take): an
-- order spends its zone's lots first, then other zones', and a
-- cancellation gives each lot back in its zone.
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(40);
SET LOCAL dispatch.clock_override = '2026-06-01 11:00:00+00';
SET LOCAL dispatch.fraud_max_bad_orders = 1000;

-- a merchant in the other zone too
SELECT dispatch.create_merchant(:other_zone, 'Far noodles', 120.05, 30.05, 12) AS far_merchant \gset
SELECT dispatch.add_item(:far_merchant, 'noodles', 2800) AS far_noodles \gset

-- an order of two noodles (5600) at a merchant's drop-off in its zone
CREATE FUNCTION pg_temp.buy(p_customer bigint, p_merchant bigint, p_item bigint, p_lon float8, p_lat float8)
RETURNS bigint LANGUAGE sql AS $$
	SELECT dispatch.place_order(p_customer, p_merchant, jsonb_build_array(jsonb_build_object('item_id', p_item, 'qty', 2)),
	                            p_lon, p_lat, 'somewhere', 'normal')
$$;
CREATE FUNCTION pg_temp.here(p_customer bigint) RETURNS bigint LANGUAGE sql AS
	$$ SELECT pg_temp.buy(p_customer, current_setting('t.merchant')::bigint, current_setting('t.noodles')::bigint, 121.445, 31.196) $$;
CREATE FUNCTION pg_temp.there(p_customer bigint) RETURNS bigint LANGUAGE sql AS
	$$ SELECT pg_temp.buy(p_customer, current_setting('t.far_merchant')::bigint, current_setting('t.far_noodles')::bigint, 120.06, 30.06) $$;
SELECT set_config('t.merchant', :'merchant', true), set_config('t.noodles', :'noodles', true),
       set_config('t.far_merchant', :'far_merchant', true), set_config('t.far_noodles', :'far_noodles', true) \g /dev/null
-- a campaign's room and spent per zone, "zone:room:spent" in zone order
-- (PL/pgSQL: the suite runs on Citus too, which plans no SQL function with
-- parameters over a distributed table)
CREATE FUNCTION pg_temp.held(p_campaign bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RETURN (SELECT string_agg(zone_id || ':' || room || ':' || spent, ' ' ORDER BY zone_id)
	          FROM (SELECT zone_id, sum(cap_cents - spent_cents) AS room, sum(spent_cents) AS spent
	                  FROM dispatch.campaign_budget WHERE campaign_id = p_campaign GROUP BY zone_id) t);
END $$;
CREATE FUNCTION pg_temp.slots(p_campaign bigint, p_zone bigint) RETURNS bigint LANGUAGE plpgsql AS
	$$ BEGIN RETURN (SELECT count(*) FROM dispatch.campaign_budget WHERE campaign_id = p_campaign AND zone_id = p_zone); END $$;
CREATE FUNCTION pg_temp.caps(p_campaign bigint) RETURNS bigint LANGUAGE plpgsql AS
	$$ BEGIN RETURN (SELECT sum(cap_cents)::bigint FROM dispatch.campaign_budget WHERE campaign_id = p_campaign); END $$;
CREATE FUNCTION pg_temp.customer(p_n integer) RETURNS bigint LANGUAGE sql AS
	$$ SELECT dispatch.register_customer('+86137000' || lpad(p_n::text, 5, '0'), NULL) $$;

-- a city-wide budget of 6000, 1000 off each order: dealt out to the two
-- zones at once, 3000 each in 16 slots, nothing left in the pool
SELECT dispatch.create_campaign('Zoned', 'limited_time', '{"amount_off_cents": 1000, "auto": true}', 6000,
                                NULL, '2026-06-02 00:00:00+00') AS camp \gset
SELECT is(pg_temp.held(:camp), format('0:0:0 %s:3000:0 %s:3000:0', :zone, :other_zone), 'a city-wide budget is dealt out to the zones at once, the pool left empty');
SELECT is(pg_temp.slots(:camp, :zone), 16::bigint, 'in 16 slots a zone');
SELECT is(pg_temp.caps(:camp), 6000::bigint, 'the caps sum to the budget');

-- orders in the first zone charge its slots only
SELECT pg_temp.here(pg_temp.customer(1)) AS o1 \gset
SELECT pg_temp.here(pg_temp.customer(2)) AS o2 \gset
SELECT is((SELECT discount_cents FROM dispatch.orders WHERE order_id = :o1), 1000, 'the order takes the offer');
SELECT is(pg_temp.held(:camp), format('0:0:0 %s:1000:2000 %s:3000:0', :zone, :other_zone), 'two orders of the zone charge its slots only');
SELECT is(dispatch.campaign_budget_left(:camp), 4000::bigint, 'the budget left counts every zone');

-- the zone's room short: the rest from the other zone's slots, moved here
SELECT pg_temp.here(pg_temp.customer(3)) AS o3 \gset
SELECT pg_temp.here(pg_temp.customer(4)) AS o4 \gset
SELECT is((SELECT discount_cents FROM dispatch.orders WHERE order_id = :o4), 1000, 'an order whose zone has no room left takes the other zone''s');
SELECT is(pg_temp.held(:camp), format('0:0:0 %s:0:4000 %s:2000:0', :zone, :other_zone), 'the room it took moved to its zone, and was spent there');
SELECT is(pg_temp.caps(:camp), 6000::bigint, 'the caps still sum to the budget');
-- a cancellation gives back in the order's zone
SELECT dispatch.cancel_order(:o4, 'changed my mind') \g /dev/null
SELECT is(pg_temp.held(:camp), format('0:0:0 %s:1000:3000 %s:2000:0', :zone, :other_zone), 'a cancelled order''s discount goes back to its zone');
SELECT is(pg_temp.caps(:camp), 6000::bigint, 'the caps sum to the budget after the cancellation');

-- the other zone's orders take its room; once the whole budget is spent,
-- an order is refused the offer (none other applies): full price
SELECT pg_temp.there(pg_temp.customer(5)) AS t1 \gset
SELECT pg_temp.there(pg_temp.customer(6)) AS t2 \gset
SELECT pg_temp.here(pg_temp.customer(7)) AS o5 \gset
SELECT is(pg_temp.held(:camp), format('0:0:0 %s:0:4000 %s:0:2000', :zone, :other_zone), 'the budget is spent, in both zones');
SELECT pg_temp.there(pg_temp.customer(8)) AS t3 \gset
SELECT is((SELECT discount_cents FROM dispatch.orders WHERE order_id = :t3), 0, 'with the budget spent, no discount');
SELECT is(pg_temp.held(:camp), format('0:0:0 %s:0:4000 %s:0:2000', :zone, :other_zone), 'and nothing charged');

-- the job: a second campaign of 8000, 4000 a zone; the job deals its room
-- out by 1 + the orders that took it in the zone over the last hour
SELECT dispatch.create_campaign('Zoned 2', 'limited_time', '{"amount_off_cents": 500, "auto": true}', 8000,
                                NULL, '2026-06-02 00:00:00+00') AS camp2 \gset
SELECT dispatch.end_campaign(:camp) \g /dev/null
SELECT is(pg_temp.held(:camp2), format('0:0:0 %s:4000:0 %s:4000:0', :zone, :other_zone), 'the second campaign, 4000 a zone');
SELECT pg_temp.here(pg_temp.customer(11)) \g /dev/null
-- room 7500, shares 2/3 and 1/3: 5000 and 2500; the zone holds 3500
SELECT is(dispatch.balance_budgets(), 0, 'the job moves nothing while each zone holds at least half its share');
SELECT is(pg_temp.held(:camp2), format('0:0:0 %s:3500:500 %s:4000:0', :zone, :other_zone), 'as it was');
SELECT pg_temp.here(pg_temp.customer(20 + g)) FROM generate_series(1, 4) g \g /dev/null
-- room 5500, shares 6/7 and 1/7: 4714 and 786; the zone holds 1500
SELECT is(dispatch.balance_budgets(), 1, 'the job moves the room of the running campaign whose zone runs short (the ended one stays)');
SELECT is(pg_temp.held(:camp2), format('0:0:0 %s:4714:2500 %s:786:0', :zone, :other_zone), 'the room dealt out by 1 + the orders of the last hour');
SELECT is(pg_temp.caps(:camp2), 8000::bigint, 'the caps sum to the budget after the move');
SELECT ok((SELECT bool_and(cap_cents >= spent_cents) FROM dispatch.campaign_budget), 'no slot holds less than it spent');
SELECT is(pg_temp.held(:camp), format('0:0:0 %s:0:4000 %s:0:2000', :zone, :other_zone), 'the ended campaign''s slots as they were');
SELECT is(dispatch.balance_budgets(), 0, 'a second run moves nothing');

-- a zone created later: the job gives it its share (the last zone, the
-- rest of 5500 - 5500 * 6/8 - 5500 * 1/8)
SELECT dispatch.create_zone('New zone', ST_GeomFromText('POLYGON((119.00 29.00, 119.10 29.00, 119.10 29.10, 119.00 29.10, 119.00 29.00))', 4326)) AS new_zone \gset
SELECT is(dispatch.balance_budgets(), 1, 'a zone without slots gets them at the next run');
SELECT is(pg_temp.held(:camp2), format('0:0:0 %s:4125:2500 %s:687:0 %s:688:0', :zone, :other_zone, :new_zone), 'its share, and the others'' again');
SELECT is(pg_temp.slots(:camp2, :new_zone), 16::bigint, 'in 16 slots');

-- a zone's own campaign: its budget in the zone's 16 slots, no pool
SELECT dispatch.create_campaign('Zone only', 'limited_time', '{"amount_off_cents": 300}', 1600,
                                NULL, '2026-06-02 00:00:00+00', :other_zone) AS camp3 \gset
SELECT is(pg_temp.held(:camp3), format('%s:1600:0', :other_zone), 'a zone''s campaign holds its budget in that zone');

-- points: a lot in each zone, the other zone's expiring first
SELECT dispatch.end_campaign(:camp2) \g /dev/null
SELECT dispatch.create_campaign('Points', 'points', '{"earn_per_yuan": 1}') \g /dev/null
SELECT pg_temp.customer(40) AS pc \gset
SELECT is(dispatch._points_grant(:zone, :pc, 100, 'goodwill', 'ticket:a', NULL, '2026-09-01 00:00:00+00'), true, 'a lot credited in the zone');
SELECT is(dispatch._points_grant(:other_zone, :pc, 100, 'goodwill', 'ticket:b', NULL, '2026-07-01 00:00:00+00'), true, 'and one in the other zone, expiring sooner');
SELECT is(dispatch._points_grant(:zone, :pc, 100, 'goodwill', 'ticket:a'), false, 'the same credit again writes nothing');
SELECT ok((SELECT bool_and(entry_id >> 40 = zone_id) FROM dispatch.points_ledger), 'a lot''s id carries its zone');
SELECT is(dispatch.points_balance(:pc), 200, 'the balance counts the lots of every zone');
CREATE FUNCTION pg_temp.spend(p_customer bigint, p_points integer) RETURNS bigint LANGUAGE sql AS $$
	SELECT dispatch.place_order(p_customer, current_setting('t.merchant')::bigint,
	                            jsonb_build_array(jsonb_build_object('item_id', current_setting('t.noodles')::bigint, 'qty', 2)),
	                            121.445, 31.196, 'somewhere', 'normal', NULL, p_points)
$$;
CREATE FUNCTION pg_temp.lots(p_customer bigint) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN RETURN (SELECT string_agg(zone_id || ':' || remaining, ' ' ORDER BY zone_id) FROM dispatch.points_ledger WHERE customer_id = p_customer); END $$;
SELECT pg_temp.spend(:pc, 60) AS s1 \gset
SELECT is(pg_temp.lots(:pc), format('%s:40 %s:100', :zone, :other_zone), 'an order spends its zone''s lot first');
SELECT pg_temp.spend(:pc, 70) AS s2 \gset
SELECT is(pg_temp.lots(:pc), format('%s:0 %s:70', :zone, :other_zone), 'then, its zone''s short, the other zone''s');
SELECT is((SELECT points_spent FROM dispatch.redemptions WHERE order_id = :s2), 70, 'the order holds the 70 points it spent');
SELECT dispatch.cancel_order(:s2, 'changed my mind') \g /dev/null
SELECT is(pg_temp.lots(:pc), format('%s:40 %s:100', :zone, :other_zone), 'a cancellation gives each lot back in its zone');
SELECT throws_ok(format('SELECT pg_temp.spend(%s, 141)', :pc), 'DP608', NULL, 'more points than every zone holds: refused');
SELECT is(pg_temp.lots(:pc), format('%s:40 %s:100', :zone, :other_zone), 'and nothing taken');

-- the job and its schedule
SELECT is((SELECT command FROM dispatch.maintenance_jobs WHERE jobname = 'dispatch-budgets'), 'SELECT dispatch.balance_budgets()', 'dispatch-budgets runs balance_budgets()');
SELECT function_privs_are('dispatch', 'balance_budgets', ARRAY[]::text[], 'dispatch_app', ARRAY[]::text[], 'the app does not move budgets');

SELECT * FROM finish();
ROLLBACK;
