-- test/pgtap/30_intake.sql: every intake and API error has its SQLSTATE;
-- stock is taken and given back.  (An error leaves nothing behind by
-- PostgreSQL's rollback of the call, which a check here could not fail.)
\set QUIET on
BEGIN;
\ir ../fixtures/city.sql
SELECT plan(133);

\set items '[{"item_id": ' :noodles ', "qty": 1}]'
-- coordinates
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 'NaN', 31.19, 'x') $$, :customer, :merchant, :'items'), 'DP001', NULL, 'NaN longitude');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 181, 31.19, 'x') $$, :customer, :merchant, :'items'), 'DP001', NULL, 'longitude out of range');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.44, 'Infinity', 'x') $$, :customer, :merchant, :'items'), 'DP001', NULL, 'infinite latitude');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.44, NULL, 'x') $$, :customer, :merchant, :'items'), 'DP001', NULL, 'missing latitude');
-- area, merchant, customer
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.50, 31.19, 'x') $$, :customer, :merchant, :'items'), 'DP002', NULL, 'drop-off outside the zone');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.44, 31.19, 'x') $$, :customer, :closed, :'items'), 'DP003', NULL, 'merchant closed');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, 999999, %L, 121.44, 31.19, 'x') $$, :customer, :'items'), 'DP013', NULL, 'unknown merchant');
SELECT throws_ok(format($$ SELECT dispatch.place_order(999999, %s, %L, 121.44, 31.19, 'x') $$, :merchant, :'items'), 'DP012', NULL, 'unknown customer');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.44, 31.19, 'x', 'urgent') $$, :customer, :merchant, :'items'), 'DP022', NULL, 'unknown priority');
-- items
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": 999999, "qty": 1}]', 121.44, 31.19, 'x') $$, :customer, :merchant), 'DP004', NULL, 'unknown item');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 1}]', 121.44, 31.19, 'x') $$, :customer, :merchant, :other_item), 'DP005', NULL, 'item of another merchant');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 11}]', 121.44, 31.19, 'x') $$, :customer, :merchant, :rice), 'DP006', NULL, 'more than the stock');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 6}, {"item_id": %s, "qty": 6}]', 121.44, 31.19, 'x') $$, :customer, :merchant, :rice, :rice), 'DP006', NULL, 'repeated lines are summed against the stock');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[]', 121.44, 31.19, 'x') $$, :customer, :merchant), 'DP007', NULL, 'empty item list');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '{"item_id": 1}', 121.44, 31.19, 'x') $$, :customer, :merchant), 'DP007', NULL, 'items not an array');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 0}]', 121.44, 31.19, 'x') $$, :customer, :merchant, :noodles), 'DP007', NULL, 'zero quantity');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": -2}]', 121.44, 31.19, 'x') $$, :customer, :merchant, :noodles), 'DP007', NULL, 'negative quantity');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 100}]', 121.44, 31.19, 'x') $$, :customer, :merchant, :noodles), 'DP007', NULL, 'quantity above dispatch.max_item_qty');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": "abc", "qty": 1}]', 121.44, 31.19, 'x') $$, :customer, :merchant), 'DP007', NULL, 'item id not a number');
-- the lines as place_order reads them (_order_lines): one per item, by id,
-- quantities summed; ids as digits or strings of digits, as ->> gives them
SELECT is(dispatch._order_lines('[{"item_id": 9, "qty": 1}, {"item_id": "3", "qty": 2}, {"qty": 4, "item_id": 9}]', 10),
          ROW('{3,9}'::bigint[], '{2,5}'::integer[]), 'lines are summed per item and sorted by id');
SELECT is((dispatch._order_lines('[{"item_id": 1e2, "qty": "007"}]', 10)).item_ids, '{100}'::bigint[],
          'a number is read as the text ->> gives for it');
SELECT throws_ok($$ SELECT dispatch._order_lines('[{"item_id": 5, "qty": 6}, {"item_id": 5, "qty": 6}]', 10) $$,
                 'DP007', 'item quantities must be between 1 and 10', 'the summed quantity is checked');
SELECT throws_ok($$ SELECT dispatch._order_lines('[{"item_id": 1.5, "qty": 1}]', 10) $$,
                 'DP007', 'items must be a non-empty array of {"item_id": n, "qty": n}', 'an id with a fraction is refused');
SELECT throws_ok($$ SELECT dispatch._order_lines('"[]"', 10) $$, 'DP007', NULL, 'a scalar is not an item list');
SELECT throws_ok($$ SELECT dispatch._order_lines('[{"item_id": 1234567890123456789, "qty": 1}]', 10) $$,
                 'DP007', NULL, 'an id of more than 18 digits is refused');
SET LOCAL dispatch.max_order_cents = 5000;
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 2}]', 121.44, 31.19, 'x') $$, :customer, :merchant, :noodles), 'DP008', NULL, 'amount above dispatch.max_order_cents');
-- the total is held to the limit too: items under it, the delivery fee
-- (300 cents here) over it
SET LOCAL dispatch.max_order_cents = 5700;
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 2}]', 121.445, 31.196, 'x') $$, :customer, :merchant, :noodles),
                 'DP008', 'order total 5900 cents exceeds the limit', 'a total above dispatch.max_order_cents, its items under it');
-- at the largest limit, items at it and the fee past the range of integer
SET LOCAL dispatch.max_order_cents = 2147483647;
SELECT dispatch.add_item(:merchant, 'Gold', 2147483647) AS gold \gset
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 1}]', 121.445, 31.196, 'x') $$, :customer, :merchant, :gold),
                 'DP008', 'order total 2147483947 cents exceeds the limit', 'a total past the range of integer is refused as above the limit');
RESET dispatch.max_order_cents;
-- fraud signals
SET LOCAL dispatch.fraud_max_distance_m = 500;
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.46, 31.21, 'x') $$, :customer, :merchant, :'items'), 'DP010', NULL, 'drop-off implausibly far from the merchant');
RESET dispatch.fraud_max_distance_m;
SELECT dispatch.flag_customer(:customer2, 'chargebacks') \g /dev/null
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.44, 31.19, 'x') $$, :customer2, :merchant, :'items'), 'DP011', NULL, 'flagged customer');
-- the words of each refusal (SQLSTATE | message | detail | hint), as the
-- API documents them (docs/errors.md)
CREATE FUNCTION pg_temp.refusal(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE m text; d text; h text;
BEGIN
	EXECUTE q;
	RETURN 'no refusal';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
	RETURN concat_ws(' | ', SQLSTATE, m, nullif(d, ''), nullif(h, ''));
END
$f$;
SELECT is(pg_temp.refusal(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.44, 31.19, 'x', NULL) $$, :customer, :merchant, :'items')),
          'DP022 | invalid priority "<NULL>" | Priorities are normal, hot and fresh.', 'a missing priority, in words');
SELECT is(pg_temp.refusal(format($$ SELECT dispatch.place_order(NULL, %s, %L, 121.44, 31.19, 'x') $$, :merchant, :'items')),
          'DP012 | an order needs a customer', 'a missing customer, in words');
SELECT is(pg_temp.refusal(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 11}]', 121.44, 31.19, 'x') $$, :customer, :merchant, :rice)),
          format('DP006 | item %s is out of stock | Asked for 11, 10 left.', :rice), 'more than the stock, in words');
SELECT is(pg_temp.refusal(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 1}]', 121.44, 31.19, 'x') $$, :customer, :merchant, :other_item)),
          format('DP005 | item %s is not sold by merchant %s', :other_item, :merchant), 'an item of another merchant, in words');
SELECT is(pg_temp.refusal(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.44, 31.19, 'x') $$, :customer2, :merchant, :'items')),
          format('DP011 | customer %s is flagged for review and cannot order | A dispatcher can lift the flag with unflag_customer(id, by, reason).', :customer2),
          'a flagged customer, in words');
SET LOCAL dispatch.max_order_cents = 100;
SELECT is(pg_temp.refusal(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 2}]', 121.44, 31.19, 'x') $$, :customer, :merchant, :noodles)),
          format('DP008 | order amount %s cents exceeds the limit | The limit is 100 cents (dispatch.max_order_cents).',
                 2 * (SELECT price_cents FROM dispatch.items WHERE item_id = :noodles)),
          'an amount above the limit, in words');
RESET dispatch.max_order_cents;
-- the metres as round(m::numeric) prints the real distance
SET LOCAL dispatch.fraud_max_distance_m = 500;
SELECT is(pg_temp.refusal(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.46, 31.21, 'x') $$, :customer, :merchant, :'items')),
          format('DP010 | drop-off is implausibly far from the pickup (%s m) | The limit is 500 m (dispatch.fraud_max_distance_m).',
                 (SELECT round(ST_DistanceSphere(m.location, ST_SetSRID(ST_MakePoint(121.46, 31.21), 4326))::real::numeric)
                    FROM dispatch.merchants m WHERE m.merchant_id = :merchant)),
          'a drop-off too far from the merchant, in words');
RESET dispatch.fraud_max_distance_m;
SELECT dispatch.flag_customer(:customer2, NULL) \g /dev/null
-- errands
SELECT throws_ok(format($$ SELECT dispatch.place_errand(%s, 125.0, 31.19, 121.44, 31.19, 'x', 'buy milk', 500) $$, :customer), 'DP002', NULL, 'errand pickup outside every zone');
SELECT throws_ok(format($$ SELECT dispatch.place_errand(%s, 121.43, 31.19, 121.50, 31.19, 'x', 'buy milk', 500) $$, :customer), 'DP002', NULL, 'errand drop-off outside the zone');
SELECT throws_ok(format($$ SELECT dispatch.place_errand(%s, 121.43, 31.19, 121.44, 31.19, 'x', 'buy milk', 0) $$, :customer), 'DP008', NULL, 'errand without a fee');
SELECT throws_ok(format($$ SELECT dispatch.place_errand(%s, 121.43, 31.19, 121.44, 31.19, 'x', ' ', 500) $$, :customer), 'DP025', NULL, 'errand without a description');
-- onboarding
SELECT throws_ok($$ SELECT dispatch.register_customer('12345') $$, 'DP027', NULL, 'invalid phone number');
SELECT throws_ok($$ SELECT dispatch.register_customer('138-0000-0001') $$, 'DP026', NULL, 'a phone number registers once, whatever its spelling');
SELECT throws_ok($$ SELECT dispatch.create_zone('Bad', ST_GeomFromText('LINESTRING(0 0, 1 1)', 4326)) $$, 'DP017', NULL, 'a zone is a polygon');
SELECT throws_ok($$ SELECT dispatch.create_zone('Bad', ST_GeomFromText('POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))', 4326)) $$, 'DP017', NULL, 'a zone is a valid polygon');
SELECT throws_ok($$ SELECT dispatch.create_zone('Bad', ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))', 4326), 'Mars/Base') $$, 'DP017', NULL, 'a zone has a known time zone');
SELECT throws_ok($$ SELECT dispatch.create_merchant(999999, 'x', 121.44, 31.19) $$, 'DP016', NULL, 'merchant in an unknown zone');
SELECT throws_ok(format($$ SELECT dispatch.create_merchant(%s, 'x', 100, 31.19) $$, :zone), 'DP002', NULL, 'merchant outside its zone');
SELECT throws_ok(format($$ SELECT dispatch.add_item(%s, 'x', -1) $$, :merchant), 'DP008', NULL, 'negative price');
SELECT throws_ok(format($$ SELECT dispatch.add_item(%s, 'Counted', 100, -1) $$, :merchant), 'DP025',
                 'stock cannot be negative', 'an item added with a negative stock is refused');
SELECT (SELECT s.stock FROM dispatch.item_stock s WHERE s.item_id = :rice) AS rice_stock,
       (SELECT m.zone_id FROM dispatch.merchants m WHERE m.merchant_id = :merchant) AS merchant_zone,
       (SELECT s.zone_id FROM dispatch.item_stock s WHERE s.item_id = :rice) AS rice_zone \gset
SELECT is(ARRAY[:rice_stock, :rice_zone]::bigint[], ARRAY[10, :merchant_zone]::bigint[],
          'an item added with a stock has its count in its merchant''s zone');
SELECT throws_ok(format($$ SELECT dispatch.register_rider(%s, 'x', '+8613900000010', 0) $$, :zone), 'DP025', NULL, 'rider capacity at least 1');

-- an order that names its merchant's zone: another zone, or none, is refused
SELECT throws_ok(format($$ SELECT dispatch.place_order_in_zone(%s, %s, %s, %L, 121.445, 31.196, 'x') $$,
                        :other_zone, :customer, :merchant, :'items'),
                 'DP013', format('merchant %s does not exist in zone %s', :merchant, :other_zone),
                 'an order naming a zone not the merchant''s is refused');
SELECT throws_ok(format($$ SELECT dispatch.place_order_in_zone(NULL, %s, %s, %L, 121.445, 31.196, 'x') $$,
                        :customer, :merchant, :'items'),
                 'DP016', 'place_order_in_zone needs a zone', 'and one naming no zone');
SELECT throws_ok(format($$ SELECT dispatch.place_order_in_zone(%s, %s, 999999, %L, 121.445, 31.196, 'x') $$,
                        :zone, :customer, :'items'),
                 'DP013', 'merchant 999999 does not exist', 'an unknown merchant, its zone named');
SELECT throws_ok(format($$ SELECT dispatch.place_order_in_zone(%s, %s, %s, %L, 121.445, 31.196, 'x') $$,
                        :zone, :customer, :closed, :'items'),
                 'DP003', NULL, 'the zone named, the other checks hold: a closed merchant');
-- an errand in the zone named: its pickup must lie in it
SELECT throws_ok(format($$ SELECT dispatch.place_errand_in_zone(%s, %s, 121.43, 31.19, 121.44, 31.19, 'x', 'buy milk', 500) $$,
                        :other_zone, :customer),
                 'DP002', format('pickup lies outside the service area of zone %s', :other_zone),
                 'an errand naming a zone that does not cover its pickup is refused');
SELECT throws_ok(format($$ SELECT dispatch.place_errand_in_zone(NULL, %s, 121.43, 31.19, 121.44, 31.19, 'x', 'buy milk', 500) $$,
                        :customer),
                 'DP016', 'place_errand_in_zone needs a zone', 'and one naming no zone');
-- a pickup on the border of two zones that touch (a street between them)
-- lies in both: the errand goes to the one that covers its drop-off too,
-- whichever direction it runs
SELECT dispatch.create_zone('East of the test zone',
       ST_GeomFromText('POLYGON((121.48 31.15, 121.56 31.15, 121.56 31.22, 121.48 31.22, 121.48 31.15))', 4326))
       AS east_zone \gset
SELECT dispatch.register_customer('+8613800000071') AS border_customer \gset
SELECT lives_ok(format($$ SELECT dispatch.place_errand(%s, 121.48, 31.19, 121.50, 31.19, 'x', 'buy milk', 500) $$, :border_customer),
                'an errand from the border of two zones into the second is placed');
SELECT lives_ok(format($$ SELECT dispatch.place_errand(%s, 121.48, 31.19, 121.46, 31.19, 'x', 'buy milk', 500) $$, :border_customer),
                '... and one into the first');
SELECT results_eq(format($$ SELECT zone_id FROM dispatch.orders WHERE customer_id = %s ORDER BY ST_X(dropoff) DESC $$, :border_customer),
                  format($$ VALUES (%s::bigint), (%s::bigint) $$, :east_zone, :zone),
                  '... each in the zone that covers its drop-off');

-- the happy path takes stock; cancelling gives it back
SELECT dispatch.place_order(:customer, :merchant,
       format('[{"item_id": %s, "qty": 4}, {"item_id": %s, "qty": 1}]', :rice, :noodles)::jsonb,
       121.445, 31.196, 'Room 1', 'fresh') AS o1 \gset
SELECT stock AS rice_left FROM dispatch.item_stock WHERE item_id = :rice \gset
SELECT is(:rice_left, 6, 'an order takes its stock');
SELECT results_eq(format('SELECT subtotal_cents, fee_cents, total_cents FROM dispatch.orders WHERE zone_id = %s AND order_id = %s', :o1 >> 40, :o1),
                  'VALUES (4 * 1500 + 2800, 300, 4 * 1500 + 2800 + 300)', 'the total is the sum of the lines and the delivery fee (1.1 km: the base fee)');
SELECT results_eq(format('SELECT item_id, qty, price_cents FROM dispatch.order_items WHERE zone_id = %s AND order_id = %s ORDER BY item_id',
                         :o1 >> 40, :o1),
                  format('SELECT * FROM (VALUES (%s::bigint, 4, 1500), (%s::bigint, 1, 2800)) l ORDER BY 1', :rice, :noodles),
                  '... each line at the price charged');
-- (a zone's rows read first, then asserted: on Citus a statement that
-- names one zone runs on its worker, pgTAP call and all)
SELECT amount_cents AS pending FROM dispatch.payments WHERE zone_id = :o1 >> 40 AND order_id = :o1 AND status = 'pending' \gset
SELECT is(:pending, 9100, 'a pending payment of the total waits');
SELECT is(dispatch.zone_of(:o1), :zone::bigint, 'the zone is in the order id');

-- payments
SELECT throws_ok(format($$ SELECT dispatch.retry_payment(%s) $$, :o1), 'DP018', NULL, 'no retry before a failure');
-- a failure needs its reason, as a cancellation does (the rule of _is_blank)
SELECT throws_ok(format($$ SELECT dispatch.fail_payment(%s, NULL) $$, :o1), 'DP025',
                 'a payment failure needs a reason', 'a failure without a reason is refused');
SELECT throws_ok(format($$ SELECT dispatch.fail_payment(%s, '') $$, :o1), 'DP025',
                 'a payment failure needs a reason', '... so is an empty one');
SELECT throws_ok(format($$ SELECT dispatch.fail_payment(%s, E' \t\n') $$, :o1), 'DP025',
                 'a payment failure needs a reason', '... and one of white space only');
SELECT dispatch.fail_payment(:o1, 'card declined') \g /dev/null
SELECT payload->>'action' AS action FROM dispatch.events WHERE zone_id = :o1 >> 40 AND order_id = :o1 AND payload->>'status' = 'payment_failed' \gset
SELECT is(:'action'::text, 'retry_payment', 'a failed payment tells the customer to retry');
SELECT throws_ok(format($$ SELECT dispatch.fail_payment(%s, 'again') $$, :o1), 'DP018', NULL, 'no second failure without a retry');
SELECT throws_ok($$ SELECT dispatch.retry_payment(NULL) $$, 'DP014', 'order <NULL> does not exist',
                 'a retry without an order is refused as an unknown order, as every call on an order is');
SELECT dispatch.retry_payment(:o1) \g /dev/null
SELECT throws_ok(format($$ SELECT dispatch.confirm_payment(%s, '   ') $$, :o1), 'DP025',
                 'a payment confirmation needs the provider''s reference',
                 'a confirmation whose reference is spaces only is refused');
SELECT throws_ok(format($$ SELECT dispatch.confirm_payment(%s, E' \t\n\r\f' || chr(11)) $$, :o1), 'DP025',
                 'a payment confirmation needs the provider''s reference',
                 'a confirmation whose reference is ASCII white space only is refused (the rule of _is_blank)');
SELECT status AS o1_status FROM dispatch.orders WHERE zone_id = :o1 >> 40 AND order_id = :o1 \gset
SELECT is(:'o1_status'::text, 'pending_payment', '... and the order still waits for its payment');
SELECT dispatch.confirm_payment(:o1, 'psp-42') \g /dev/null
SELECT lives_ok(format($$ SELECT dispatch.confirm_payment(%s, 'psp-42') $$, :o1), 'the same confirmation twice is a no-op');
SELECT throws_ok(format($$ SELECT dispatch.confirm_payment(%s, 'psp-43') $$, :o1), 'DP018', NULL, 'another confirmation of a paid order is refused');
SELECT throws_ok($$ SELECT dispatch.confirm_payment(4242, 'psp') $$, 'DP014', NULL, 'unknown order');
SELECT results_eq(format($$ SELECT p.status::text, p.provider_ref, p.failure_reason, p.settled_at IS NOT NULL
                             FROM dispatch.payments p WHERE p.zone_id = %s AND p.order_id = %s ORDER BY p.payment_id $$,
                          :o1 >> 40, :o1),
                  $$ VALUES ('failed', NULL, 'card declined', true), ('succeeded', 'psp-42', NULL, true) $$,
                  'each attempt keeps its outcome: the failure with its reason, the success with the provider''s reference');
SELECT throws_ok(format($$ SELECT dispatch.fail_payment(%s, 'late decline') $$, :o1), 'DP018',
                 format('order %s has no pending payment (status "placed")', :o1),
                 'a paid order cannot fail its payment');
SELECT throws_ok(format($$ SELECT dispatch.confirm_payment(%s, '') $$, :o1), 'DP025',
                 'a payment confirmation needs the provider''s reference', 'a confirmation without a reference is refused');
SELECT throws_ok($$ SELECT dispatch.confirm_payment(NULL, 'psp') $$, 'DP014', 'order <NULL> does not exist',
                 'a confirmation without an order is refused');
SELECT dispatch.cancel_order(:o1, 'changed my mind') \g /dev/null
SELECT stock AS rice_left FROM dispatch.item_stock WHERE item_id = :rice \gset
SELECT is(:rice_left, 10, 'cancelling gives the stock back');
-- the order naming its merchant's zone: placed as place_order places it
SELECT dispatch.place_order_in_zone(:zone, :customer, :merchant, format('[{"item_id": %s, "qty": 2}]', :rice)::jsonb,
                                    121.445, 31.196, 'Room 3', coupon_code => NULL) AS o3 \gset
SELECT is(dispatch.zone_of(:o3), :zone::bigint, 'an order naming its merchant''s zone is placed in that zone');
SELECT stock AS rice_left FROM dispatch.item_stock WHERE item_id = :rice \gset
SELECT is(:rice_left, 8, '... takes its stock');
SELECT results_eq(format($$ SELECT o.status::text, o.subtotal_cents, o.fee_cents, o.total_cents, p.amount_cents, p.status::text
                              FROM dispatch.orders o JOIN dispatch.payments p USING (zone_id, order_id)
                             WHERE o.zone_id = %s AND o.order_id = %s $$, :o3 >> 40, :o3),
                  'VALUES (''pending_payment'', 2 * 1500, 300, 2 * 1500 + 300, 2 * 1500 + 300, ''pending'')',
                  '... and waits for its payment of the total');
SELECT dispatch.cancel_order(:o3, 'changed my mind') \g /dev/null
SELECT dispatch.place_errand_in_zone(:zone, :customer, 121.43, 31.19, 121.44, 31.19, 'Room 4', 'buy milk', 500) AS e1 \gset
SELECT results_eq(format($$ SELECT o.kind, o.status::text, o.total_cents FROM dispatch.orders o
                             WHERE o.zone_id = %s AND o.order_id = %s $$, :e1 >> 40, :e1),
                  $$ VALUES ('errand', 'pending_payment', 500) $$,
                  'an errand in the zone named, which covers its pickup, is placed there');
SELECT dispatch.cancel_order(:e1, 'changed my mind') \g /dev/null

-- riders
SELECT dispatch.place_order(:customer, :merchant, :'items', 121.445, 31.196, 'Room 2') AS o2 \gset
-- a provider's reference names one charge: it paid o1 (cancelled since,
-- refunded), so it confirms no other order of the zone
SELECT throws_ok(format($$ SELECT dispatch.confirm_payment(%s, 'psp-42') $$, :o2), 'DP030',
                 'provider reference "psp-42" confirmed another order already',
                 'a reference that paid another order of the zone is refused');
-- white space around a reference is not part of it: padded, it is still
-- the charge that paid o1, not a new one
SELECT throws_ok(format($$ SELECT dispatch.confirm_payment(%s, %L) $$, :o2, E' psp-42\t'), 'DP030', NULL,
                 '... also with white space around it');
SELECT results_eq(format($$ SELECT o.status::text, p.status::text, p.provider_ref
                              FROM dispatch.orders o JOIN dispatch.payments p USING (zone_id, order_id)
                             WHERE o.zone_id = %s AND o.order_id = %s $$, :o2 >> 40, :o2),
                  $$ VALUES ('pending_payment', 'pending', NULL::text) $$,
                  '... and leaves the order waiting for its payment');
SELECT dispatch.confirm_payment(:o2, 'psp-44') \g /dev/null
SELECT dispatch.merchant_accept(:o2) \g /dev/null
SELECT throws_ok(format($$ SELECT dispatch.assign_manually(%s, %s, 'ops') $$, :o2, :far_rider), 'DP020', NULL, 'a rider of another zone cannot take the order');
SELECT dispatch.rider_offline(:rider2) \g /dev/null
SELECT throws_ok(format($$ SELECT dispatch.assign_manually(%s, %s, 'ops') $$, :o2, :rider2), 'DP020', NULL, 'an offline rider cannot take the order');
SELECT throws_ok(format($$ SELECT dispatch.assign_manually(%s, 999999, 'ops') $$, :o2), 'DP015', NULL, 'unknown rider');
SELECT dispatch.assign_manually(:o2, :rider, 'ops') \g /dev/null
SELECT throws_ok(format($$ SELECT dispatch.rider_offline(%s) $$, :rider), 'DP021', NULL, 'a rider with orders cannot go offline');
SELECT throws_ok(format($$ SELECT dispatch.update_rider_location(%s, 121.43, 31.19, now() + interval '1 hour') $$, :rider), 'DP024', NULL, 'a ping from the future');
-- a ping that names the rider's zone: the same ping; another zone is refused
-- (times as literals: on Citus now() in a statement sent to a worker is the
-- worker's transaction's)
SELECT now() + interval '30 seconds' AS t30, now() + interval '40 seconds' AS t40,
       now() + interval '20 seconds' AS t20 \gset
SELECT dispatch.update_rider_location_in_zone(:zone, :rider, 121.431, 31.191, :'t30') \g /dev/null
SELECT ok((SELECT ST_Equals(position, ST_SetSRID(ST_MakePoint(121.431, 31.191), 4326)) AND position_at = :'t30'
             FROM dispatch.riders WHERE rider_id = :rider),
          'a ping naming the rider''s zone moves the rider');
SELECT is((SELECT count(*) FROM dispatch.rider_tracks WHERE rider_id = :rider AND at = :'t30'), 1::bigint,
          '... and is tracked');
SELECT zone_id AS far_zone FROM dispatch.riders WHERE rider_id = :far_rider \gset
SELECT throws_ok(format($$ SELECT dispatch.update_rider_location_in_zone(%s, %s, 121.432, 31.192, %L) $$, :far_zone, :rider, :'t40'),
                 'DP015', format('rider %s does not exist in zone %s', :rider, :far_zone), 'a ping naming another zone is refused');
SELECT throws_ok(format($$ SELECT dispatch.update_rider_location_in_zone(NULL, %s, 121.432, 31.192) $$, :rider),
                 'DP015', format('rider %s does not exist in zone <NULL>', :rider), 'and one naming no zone');
-- a ping older than the rider's position goes to the track only; a ping
-- repeated writes nothing more
SELECT dispatch.update_rider_location(:rider, 121.433, 31.193, :'t20') \g /dev/null
SELECT dispatch.update_rider_location(:rider, 121.433, 31.193, :'t20') \g /dev/null
SELECT ST_X(position) AS ping_x, position_at AS ping_at FROM dispatch.riders WHERE rider_id = :rider \gset
SELECT is(ARRAY[:'ping_x', :'ping_at'::timestamptz::text], ARRAY['121.431', :'t30'::timestamptz::text],
          'an older ping does not move the rider back');
SELECT is((SELECT count(*) FROM dispatch.rider_tracks WHERE rider_id = :rider AND at = :'t20'), 1::bigint,
          '... it is tracked, once');
SELECT throws_ok($$ SELECT dispatch.update_rider_location(999999, 121.43, 31.19) $$,
                 'DP015', 'rider 999999 does not exist', 'a ping of an unknown rider is refused');
SELECT throws_ok(format($$ SELECT dispatch.update_rider_location(%s, 121.43, 31.19, NULL) $$, :rider),
                 'DP024', 'invalid ping time <NULL>', 'a ping without a time is refused');
SELECT throws_ok(format($$ SELECT dispatch.update_rider_location_in_zone(%s, %s, 121.43, 31.19, 'infinity') $$, :zone, :rider),
                 'DP024', 'invalid ping time infinity', 'a ping at an infinite time is refused');
SELECT throws_ok(format($$ SELECT dispatch.update_rider_location(%s, 'NaN', 31.19, NULL) $$, :rider),
                 'DP001', NULL, 'bad coordinates are refused before the time');
-- no position is recorded off shift: a ping of an offline rider (rider2
-- went offline above) is refused, newer than its position or older, in
-- either form, and nothing is written
SELECT ST_AsText(position) AS off_pos, position_at AS off_at FROM dispatch.riders WHERE rider_id = :rider2 \gset
SELECT now() - interval '1 hour' AS t_old \gset
SELECT throws_ok(format($$ SELECT dispatch.update_rider_location(%s, 121.432, 31.192, %L) $$, :rider2, :'t40'),
                 'DP029', format('rider %s is offline: no position is recorded off shift', :rider2),
                 'a ping of an offline rider is refused');
SELECT throws_ok(format($$ SELECT dispatch.update_rider_location_in_zone(%s, %s, 121.432, 31.192, %L) $$, :zone, :rider2, :'t_old'),
                 'DP029', format('rider %s is offline: no position is recorded off shift', :rider2),
                 '... an older one too, the zone named');
SELECT is((SELECT count(*) FROM dispatch.rider_tracks WHERE rider_id = :rider2 AND at IN (:'t40', :'t_old')), 0::bigint,
          '... and neither is tracked');
SELECT is((SELECT ARRAY[ST_AsText(position), position_at::text] FROM dispatch.riders WHERE rider_id = :rider2),
          ARRAY[:'off_pos', :'off_at'::timestamptz::text], '... nor moves the rider');
-- the shift's start and end naming the zone: the same calls
SELECT throws_ok(format($$ SELECT dispatch.rider_offline_in_zone(%s, %s) $$, :zone, :rider), 'DP021', NULL,
                 'a rider with orders cannot go offline, the zone named either');
SELECT throws_ok(format($$ SELECT dispatch.rider_online_in_zone(%s, %s, 121.43, 31.19) $$, :far_zone, :rider2),
                 'DP015', format('rider %s does not exist in zone %s', :rider2, :far_zone), 'a shift started in another zone is refused');
SELECT dispatch.rider_online_in_zone(:zone, :rider2, 121.43, 31.19) \g /dev/null
SELECT is((SELECT status FROM dispatch.riders WHERE rider_id = :rider2), 'online', 'a shift started naming the rider''s zone');
SELECT throws_ok(format($$ SELECT dispatch.rider_offline_in_zone(%s, %s) $$, :far_zone, :rider2),
                 'DP015', format('rider %s does not exist in zone %s', :rider2, :far_zone), 'a shift ended in another zone is refused');

-- stock set by the merchant: a count taken from then on, NULL unlimited
SELECT dispatch.register_customer('+8613800007001', 'Stock') AS stock_customer \gset
SELECT dispatch.set_item_stock(:noodles, 1) \g /dev/null
SELECT string_agg(zone_id || ':' || stock, ',') AS counted FROM dispatch.item_stock WHERE item_id = :noodles \gset
SELECT is(:'counted'::text, :zone || ':1', 'set_item_stock counts an unlimited item, in its merchant''s zone');
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, '[{"item_id": %s, "qty": 2}]', 121.445, 31.196, 'x') $$,
                        :stock_customer, :merchant, :noodles),
                 'DP006', format('item %s is out of stock', :noodles), 'an order of more than the count set is refused');
SELECT dispatch.set_item_stock(:noodles, 3) \g /dev/null
SELECT dispatch.place_order(:stock_customer, :merchant, format('[{"item_id": %s, "qty": 2}]', :noodles)::jsonb,
       121.445, 31.196, 'x') AS o_counted \gset
SELECT stock AS noodles_left FROM dispatch.item_stock WHERE item_id = :noodles \gset
SELECT is(:noodles_left, 1, 'a restock is counted down by the next order');
SELECT dispatch.set_item_stock(:noodles, NULL) \g /dev/null
SELECT count(*) AS counts FROM dispatch.item_stock WHERE item_id = :noodles \gset
SELECT is(:counts, 0, 'NULL makes the item unlimited again');
SELECT dispatch.cancel_order(:o_counted, 'changed my mind') \g /dev/null
SELECT count(*) AS counts FROM dispatch.item_stock WHERE item_id = :noodles \gset
SELECT is(:counts, 0, 'an order cancelled after that gives back to no count');
-- an order of the item while unlimited took nothing: counted later, its
-- cancellation gives nothing back
SELECT dispatch.place_order(:stock_customer, :merchant, format('[{"item_id": %s, "qty": 2}, {"item_id": %s, "qty": 1}]', :noodles, :rice)::jsonb,
       121.445, 31.196, 'x') AS o_unlimited \gset
SELECT results_eq(format('SELECT item_id, stock_taken FROM dispatch.order_items WHERE zone_id = %s AND order_id = %s ORDER BY item_id',
                         :o_unlimited >> 40, :o_unlimited),
                  format('SELECT * FROM (VALUES (%s::bigint, false), (%s::bigint, true)) l ORDER BY 1', :noodles, :rice),
                  'each line says whether it took stock: the unlimited item''s not, the counted one''s yes');
SELECT dispatch.set_item_stock(:noodles, 7) \g /dev/null
SELECT dispatch.cancel_order(:o_unlimited, 'changed my mind') \g /dev/null
SELECT stock AS noodles_left FROM dispatch.item_stock WHERE item_id = :noodles \gset
SELECT stock AS rice_left FROM dispatch.item_stock WHERE item_id = :rice \gset
SELECT is(:noodles_left, 7, 'an order placed while the item was unlimited gives nothing back to the count set after it');
SELECT is(:rice_left, 10, '... and gives back what it took of a counted item');
-- a count restocked to the largest integer since the order took from it:
-- the cancellation leaves it there (it cannot pass it)
SELECT dispatch.set_item_stock(:rice, 2147483647) \g /dev/null
SELECT dispatch.place_order(:stock_customer, :merchant, format('[{"item_id": %s, "qty": 3}]', :rice)::jsonb,
       121.445, 31.196, 'x') AS o_full \gset
SELECT dispatch.set_item_stock(:rice, 2147483647) \g /dev/null
SELECT dispatch.cancel_order(:o_full, 'changed my mind') \g /dev/null
SELECT status AS full_status FROM dispatch.orders WHERE zone_id = :o_full >> 40 AND order_id = :o_full \gset
SELECT stock AS rice_left FROM dispatch.item_stock WHERE zone_id = :zone AND item_id = :rice \gset
SELECT is(:'full_status' || ':' || :rice_left, 'cancelled:2147483647',
          'an order is cancelled when its stock would pass the largest count');
SELECT dispatch.set_item_stock(:rice, 10) \g /dev/null
SELECT string_agg(item_id || ':' || price_cents || ':' || available || ':' || coalesce(stock::text, '-'), ',' ORDER BY item_id) AS menu
  FROM dispatch.merchant_menu(:merchant) \gset
SELECT string_agg(i.item_id || ':' || i.price_cents || ':' || i.available || ':' || coalesce(s.stock::text, '-'), ',' ORDER BY i.item_id) AS expected_menu
  FROM dispatch.items i LEFT JOIN dispatch.item_stock s ON s.zone_id = :zone AND s.item_id = i.item_id
 WHERE i.merchant_id = :merchant \gset
SELECT ok(:'menu' = :'expected_menu' AND :'menu' LIKE '%' || :noodles || ':2800:true:7%', 'merchant_menu lists the merchant''s items with their stock (' || :'menu' || ')');
SELECT dispatch.set_item_stock(:noodles, NULL) \g /dev/null
SELECT throws_ok($$ SELECT * FROM dispatch.merchant_menu(999999) $$, 'DP013', 'merchant 999999 does not exist', 'merchant_menu of an unknown merchant');
SELECT throws_ok($$ SELECT dispatch.set_item_stock(999999, 5) $$, 'DP004', 'item 999999 does not exist', 'set_item_stock of an unknown item');
SELECT throws_ok(format($$ SELECT dispatch.set_item_stock(%s, -1) $$, :rice), 'DP025', 'stock cannot be negative', 'negative stock is refused');
SELECT stock AS rice_left FROM dispatch.item_stock WHERE item_id = :rice \gset
SELECT is(:rice_left, 10, '... and the count stays');

-- opening and closing: a missing merchant or a missing state is refused,
-- not taken for success with the merchant left as it was
SELECT throws_ok(format($$ SELECT dispatch.set_merchant_open(%s, NULL) $$, :merchant), 'DP025',
                 'set_merchant_open needs is_open true or false', 'set_merchant_open: no state');
SELECT throws_ok($$ SELECT dispatch.set_merchant_open(NULL, false) $$, 'DP013', 'merchant <NULL> does not exist',
                 'set_merchant_open: no merchant');
SELECT is((SELECT is_open FROM dispatch.merchants WHERE merchant_id = :merchant), true, '... and the merchant stays open');
SELECT dispatch.set_merchant_open(:closed, true) \g /dev/null
SELECT dispatch.set_merchant_open(:closed, false) \g /dev/null
SELECT is((SELECT is_open FROM dispatch.merchants WHERE merchant_id = :closed), false, 'a merchant opened and closed again is closed');

-- too many unpaid orders
SET LOCAL dispatch.fraud_max_bad_orders = 2;
SELECT dispatch.place_order(:customer2, :merchant, :'items', 121.445, 31.196, 'x') \g /dev/null
SELECT dispatch.place_order(:customer2, :merchant, :'items', 121.445, 31.196, 'x') \g /dev/null
SELECT throws_ok(format($$ SELECT dispatch.place_order(%s, %s, %L, 121.445, 31.196, 'x') $$, :customer2, :merchant, :'items'), 'DP009', NULL, 'too many unpaid orders in the window');

SELECT * FROM finish();
ROLLBACK;
