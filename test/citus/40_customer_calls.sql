-- test/citus/40_customer_calls.sql: the calls that name a customer (or a
-- rider) rather than a zone, each in a transaction of its own as an app
-- makes them, on a customer whose orders lie on both workers.  Such a call
-- may read the shards of every zone and then write a reference table
-- (coupons, points, keys, consents), which Citus refuses after a read over
-- several connections to a node ("cannot modify table ... because there
-- was a parallel operation on a distributed table"): the single-node suite
-- on the cluster cannot see that, since each of its files is one
-- transaction whose set-up wrote reference tables first (usual_offer
-- failed so, and passed there).  Runs after 10_distribute.sql in the same
-- cluster (test/citus/run).
\set QUIET on
\set ON_ERROR_STOP on
SET client_min_messages = error;
SELECT plan(29);

CREATE TEMP TABLE zone_node (i int, zone_id bigint, nodeport int);
CREATE FUNCTION pg_temp.node_of(p_zone bigint) RETURNS int LANGUAGE sql AS $$
	SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
	 WHERE p.shardid = get_shard_id_for_distribution_column('dispatch.orders', p_zone) $$;
DO $$ DECLARE z bigint; BEGIN
	FOR i IN 0..7 LOOP
		z := dispatch.create_zone('probe' || i, ST_MakeEnvelope(110 + i, 30.0, 110.1 + i, 30.1, 4326));
		INSERT INTO zone_node VALUES (i, z, pg_temp.node_of(z));
	END LOOP; END $$;
SELECT min(zone_id) AS za FROM zone_node \gset
SELECT min(zone_id) AS zb FROM zone_node WHERE nodeport <> pg_temp.node_of(:za) \gset
SELECT i AS dx FROM zone_node WHERE zone_id = :zb \gset
SELECT dispatch.create_campaign('P points', 'points', '{"earn_per_yuan": 1}') \g /dev/null
SELECT dispatch.create_campaign('P refer', 'referral', '{"referrer_points": 50, "referee_points": 30}') \g /dev/null
SELECT dispatch.create_merchant(:za, 'shop a', 110.05, 30.05, 10) AS shopa \gset
SELECT dispatch.create_merchant(:zb, 'shop b', 110.05 + :dx, 30.05, 10) AS shopb \gset
SELECT dispatch.add_item(:shopa, 'dish', 1500) AS dish_a \gset
SELECT dispatch.add_item(:shopb, 'dish', 2500) AS dish_b \gset
SELECT dispatch.register_customer('+8613900004001', 'Probe') AS c \gset
SELECT dispatch.register_customer('+8613900004002', 'Probe2') AS c2 \gset
SELECT set_config('t.c', :'c', false), set_config('t.shopa', :'shopa', false), set_config('t.dish_a', :'dish_a', false) \g /dev/null
SELECT dispatch.register_rider(:za, 'ra', '+8613900004101', 3) AS ra \gset
SELECT dispatch.rider_online(:ra, 110.05, 30.049) \g /dev/null
SELECT dispatch.place_order(:c, :shopa, jsonb_build_array(jsonb_build_object('item_id', :dish_a, 'qty', 1)), 110.05, 30.06, 'addr a', 'normal') AS oa \gset
SELECT dispatch.confirm_payment(:oa, 'pa') \g /dev/null
SELECT dispatch.merchant_accept(:oa) \g /dev/null
SELECT dispatch.assign_manually(:oa, :ra, 'test') \g /dev/null
SELECT dispatch.mark_picked_up(:oa, :ra) \g /dev/null
SELECT dispatch.mark_delivered(:oa, :ra) \g /dev/null
-- three more orders at shop a, and the consents: a usual campaign then
-- offers the customer a code for it (written to coupons, a reference table)
DO $$ BEGIN
	FOR i IN 1..3 LOOP
		PERFORM dispatch.confirm_payment(dispatch.place_order(current_setting('t.c')::bigint, current_setting('t.shopa')::bigint,
		            jsonb_build_array(jsonb_build_object('item_id', current_setting('t.dish_a')::bigint, 'qty', 1)),
		            110.05, 30.06, 'addr a', 'normal'), 'pa' || i);
	END LOOP;
END $$;
SELECT dispatch.grant_consent(:c, 'personalisation', 'v1') \g /dev/null
SELECT dispatch.grant_consent(:c, 'marketing', 'v1') \g /dev/null
SELECT dispatch.create_campaign('P usual', 'usual', jsonb_build_object('percent_off', 10, 'min_orders', 3)) \g /dev/null
SELECT dispatch.place_order(:c, :shopb, jsonb_build_array(jsonb_build_object('item_id', :dish_b, 'qty', 1)), 110.05 + :dx, 30.06, 'addr b', 'normal') AS ob \gset
SELECT dispatch.confirm_payment(:ob, 'pb') \g /dev/null
SELECT dispatch.place_order(:c2, :shopb, jsonb_build_array(jsonb_build_object('item_id', :dish_b, 'qty', 1)), 110.05 + :dx, 30.06, 'addr c', 'normal') AS oc \gset
SELECT dispatch.register_processor('courier-co', 'delivery', 'contract') \g /dev/null
-- the order on the other worker carried by a rider there, who reads its
-- contact: the opening is logged in that zone (order_access_log)
SELECT dispatch.register_rider(:zb, 'rb', '+8613900004102', 3) AS rb \gset
SELECT dispatch.rider_online(:rb, 110.05 + :dx, 30.049) \g /dev/null
SELECT dispatch.merchant_accept(:ob) \g /dev/null
SELECT dispatch.assign_manually(:ob, :rb, 'test') \g /dev/null
SELECT isnt(pg_temp.node_of(:za), pg_temp.node_of(:zb), 'the customer''s two orders lie on two workers');

-- each call a statement of its own, outside a transaction block (and
-- outside pgTAP's, whose savepoint has Citus read otherwise): r stays
-- false where the call fails
SELECT dispatch.referral_code(:c) AS code \gset
\set ON_ERROR_STOP off
\set r false
SELECT true AS r FROM (SELECT dispatch.referral_code(:c)) s \gset
SELECT ok(:'r'::boolean, 'referral_code');
\set r false
SELECT true AS r FROM (SELECT dispatch.apply_referral(:c2, :'code')) s \gset
SELECT ok(:'r'::boolean, 'apply_referral');
\set r false
SELECT true AS r FROM (SELECT dispatch.points_balance(:c)) s \gset
SELECT ok(:'r'::boolean, 'points_balance');
\set r false
SELECT true AS r FROM (SELECT dispatch.customer_tier(:c)) s \gset
SELECT ok(:'r'::boolean, 'customer_tier');
\set r false
SELECT true AS r FROM (SELECT dispatch.grant_consent(:c, 'analytics', 'v1')) s \gset
SELECT ok(:'r'::boolean, 'grant_consent');
\set r false
SELECT true AS r FROM (SELECT dispatch.has_consent(:c, 'analytics')) s \gset
SELECT ok(:'r'::boolean, 'has_consent');
\set r false
SELECT true AS r FROM (SELECT dispatch.revoke_consent(:c, 'analytics')) s \gset
SELECT ok(:'r'::boolean, 'revoke_consent');
\set r false
SELECT true AS r FROM (SELECT dispatch.flag_customer(:c2, 'probe')) s \gset
SELECT ok(:'r'::boolean, 'flag_customer');
\set r false
SELECT true AS r FROM (SELECT dispatch.unflag_customer(:c2, 'probe', 'ok')) s \gset
SELECT ok(:'r'::boolean, 'unflag_customer');
\set r false
SELECT true AS r FROM (SELECT (SELECT count(*) FROM dispatch.recommend(:c))) s \gset
SELECT ok(:'r'::boolean, 'recommend');
\set r false
SELECT true AS r FROM dispatch.usual_offer(:c) WHERE coupon_code IS NOT NULL \gset
SELECT ok(:'r'::boolean, 'usual_offer issues a code');
\set r false
SELECT true AS r FROM (SELECT dispatch.create_experiment('probe-exp', '[{"name": "control", "weight": 50}, {"name": "b", "weight": 50}]')) s \gset
SELECT ok(:'r'::boolean, 'create_experiment');
\set r false
SELECT true AS r FROM (SELECT dispatch.experiment_variant('probe-exp', :c)) s \gset
SELECT ok(:'r'::boolean, 'experiment_variant');
\set r false
SELECT true AS r FROM dispatch.order_contact(:ob, :rb) \gset
SELECT ok(:'r'::boolean, 'order_contact');
\set r false
SELECT true AS r FROM dispatch.order_contact(:ob, :rb, 'courier-co') \gset
SELECT ok(:'r'::boolean, 'order_contact via a processor');
\set r false
SELECT true AS r FROM (SELECT dispatch.export_customer(:c)) s \gset
SELECT ok(:'r'::boolean, 'export_customer');
SELECT dispatch.export_customer(:c) -> 'access_log' AS access_log \gset
SELECT is((SELECT count(*) FROM jsonb_array_elements(:'access_log'::jsonb) e
            WHERE e ->> 'purpose' = 'rider_contact'
              AND e ->> 'detail' = format('order %s, rider %s: masked phone, drop-off address', :ob, :rb)), 2::bigint,
          'the export lists both openings of the order''s contact, logged in its zone on the other worker');
\set r false
SELECT true AS r FROM (SELECT (SELECT count(*) FROM dispatch.disclosures(:c))) s \gset
SELECT ok(:'r'::boolean, 'disclosures');
\set r false
SELECT true AS r FROM (SELECT dispatch.record_disclosure('courier-co', :c, NULL, '{name}', :ob)) s \gset
SELECT ok(:'r'::boolean, 'record_disclosure');
SELECT dispatch.export_customer(:c) -> 'disclosures' AS disclosed \gset
SELECT is((SELECT array_agg(e ->> 'fields' ORDER BY n) FROM jsonb_array_elements(:'disclosed'::jsonb) WITH ORDINALITY x(e, n)
            WHERE e ->> 'processor' = 'courier-co' AND (e ->> 'order_id')::bigint = :ob),
          ARRAY['["masked_phone", "dropoff_address"]', '["name"]'],
          'the export lists both disclosures made for the order, recorded in its zone on the other worker');
\set r false
SELECT true AS r FROM (SELECT dispatch.update_customer(:c, NULL, 'Probe New')) s \gset
SELECT ok(:'r'::boolean, 'update_customer');
\set r false
SELECT true AS r FROM (SELECT dispatch.rotate_customer_key(:c)) s \gset
SELECT ok(:'r'::boolean, 'rotate_customer_key');
\set r false
SELECT true AS r FROM (SELECT dispatch.receive_privacy_request(:c, 'access')) s \gset
SELECT ok(:'r'::boolean, 'receive_privacy_request');
\set r false
SELECT true AS r FROM (SELECT dispatch.update_rider(:ra, NULL, 'Rider New')) s \gset
SELECT ok(:'r'::boolean, 'update_rider');
\set r false
SELECT true AS r FROM (SELECT dispatch.export_rider(:ra)) s \gset
SELECT ok(:'r'::boolean, 'export_rider');
\set r false
SELECT true AS r FROM (SELECT dispatch.forget_customer(:c2)) s \gset
SELECT ok(:'r'::boolean, 'forget_customer');
\o /dev/null
SELECT format('SELECT dispatch.cancel_order(%s, %L)', order_id, 'probe') FROM dispatch.orders
 WHERE customer_id = :c AND status NOT IN ('delivered', 'cancelled') \gexec
\o
\set r false
SELECT true AS r FROM (SELECT dispatch.forget_customer(:c)) s \gset
SELECT ok(:'r'::boolean, 'forget_customer of orders on both workers');
\set ON_ERROR_STOP on
SELECT is((SELECT count(*) FROM dispatch.customers WHERE customer_id IN (:c, :c2) AND forgotten_at IS NOT NULL), 2::bigint,
          'both customers are forgotten');

SELECT * FROM finish();
