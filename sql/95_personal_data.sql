-- sql/95_personal_data.sql
-- The inventory of personal data: every column that holds it says so in its
-- comment, in one form that tools/privacy-doc turns into docs/privacy.md
-- (the impact assessment's table) and test/tap/privacy_doc.t checks:
--
--   Personal data of the <customer|rider>: <what>. Purpose: <why>;
--   basis: <GDPR art. 6 basis>; kept: <retention>; read by: <who>;
--   protection: <how it is sealed or reduced>.
--
-- A column named *_enc, a blind index (phone_index), or a point of a
-- customer's or rider's table without such a comment fails the test.
-- No table reads these comments at run time.

COMMENT ON COLUMN @extschema@.customers.phone_enc IS
	'Personal data of the customer: phone number (E.164). Purpose: contact about orders, login, fraud checks; basis: contract; kept: until erasure (forget_customer); read by: the customer (export), the assigned rider masked (order_contact), dispatch_admin through the API; protection: sealed with pgcrypto (AES-256, OpenPGP) under the customer''s data key, shredded on erasure.';
COMMENT ON COLUMN @extschema@.customers.name_enc IS
	'Personal data of the customer: name. Purpose: addressing the customer and the delivery; basis: contract; kept: until erasure (forget_customer); read by: the customer (export), dispatch_admin through the API; protection: sealed under the customer''s data key, shredded on erasure.';
COMMENT ON COLUMN @extschema@.customers.phone_index IS
	'Personal data of the customer: blind index of the phone number. Purpose: finding a customer by phone and refusing duplicates without decrypting; basis: contract; kept: until erasure (set NULL); read by: the API only (never returned); protection: HMAC-SHA-256 under the index key of the key file (rotate_index_key).';
COMMENT ON COLUMN @extschema@.customers.flag_reason IS
	'Personal data of the customer: why the customer is flagged for fraud (dispatcher''s text). Purpose: fraud prevention; basis: legitimate_interests; kept: until the flag is lifted or erasure; read by: dispatch_admin (fraud_signals), the customer (export); protection: not sealed, cleared on erasure; no analyst view shows it.';
COMMENT ON COLUMN @extschema@.customer_flags.reason IS
	'Personal data of the customer: the history of fraud flags'' reasons. Purpose: fraud prevention and its accountability; basis: legitimate_interests; kept: with the flag history, the reasons cleared on erasure; read by: dispatch_admin, the customer (export); protection: not sealed; ids only elsewhere.';
COMMENT ON COLUMN @extschema@.orders.cancel_reason IS
	'Personal data of the customer: why the order was cancelled, as the app gave it (it may be the customer''s own words). Purpose: handling the cancellation, its refund and disputes; basis: contract; kept: 30 days after the order ends (retention order_text), cleared on erasure; read by: dispatch_admin, the customer (export); protection: not sealed; no analyst view shows it.';
COMMENT ON COLUMN @extschema@.refunds.reason IS
	'Personal data of the customer: why the money is paid back (the order''s cancel reason). Purpose: the refund and its accountability; basis: contract; kept: as the order''s cancel reason, then the word expired (retention order_text) or erased (erasure); read by: dispatch_admin, the customer (export); protection: not sealed, never in an event; no analyst view shows it.';
COMMENT ON COLUMN @extschema@.refunds.failure_reason IS
	'Personal data of the customer: why a refund failed, as the payment service reported it. Purpose: paying the refund again (retry_refund); basis: contract; kept: until the refund is tried again or erasure; read by: dispatch_admin, the customer (export); protection: not sealed; no analyst view shows it.';
COMMENT ON COLUMN @extschema@.payments.failure_reason IS
	'Personal data of the customer: why a payment failed, as the app or the payment service reported it (it may name the card or bank). Purpose: the retry of the payment and support; basis: contract; kept: until erasure; read by: dispatch_admin, the customer (export); protection: not sealed; no analyst view shows it.';
COMMENT ON COLUMN @extschema@.orders.dropoff_address_enc IS
	'Personal data of the customer: drop-off address. Purpose: delivery; basis: contract; kept: 30 days after the order ends (retention order_text), then erased; read by: the assigned rider until delivery (order_contact), the customer (export); protection: sealed under the customer''s data key.';
COMMENT ON COLUMN @extschema@.orders.description_enc IS
	'Personal data of the customer: an errand''s description. Purpose: running the errand; basis: contract; kept: 30 days after the order ends (retention order_text); read by: the assigned rider until delivery (order_contact), the customer (export), dispatch_admin through the API; protection: sealed under the customer''s data key.';
COMMENT ON COLUMN @extschema@.orders.dropoff IS
	'Personal data of the customer: drop-off point. Purpose: matching, routing and ETA; basis: contract; kept: exact for 30 days after the order ends, then coarsened to a grid cell (retention dropoff_point); read by: matching (C), the customer (export), analysts only as counts per hexagon cell (demand_heatmap); protection: not sealed (matching needs it), coarsened by retention and on erasure.';
COMMENT ON COLUMN @extschema@.orders.pickup IS
	'Personal data of the customer: pickup point (a merchant''s location for takeaway; for an errand, a place the customer names). Purpose: matching and routing; basis: contract; kept: with the order, an errand''s exact for 30 days after the order ends, then coarsened to a grid cell (retention dropoff_point) and on erasure; read by: matching, the rider, the customer (export); protection: not sealed (matching needs it).';
COMMENT ON COLUMN @extschema@.feedback.comment_enc IS
	'Personal data of the customer: the text of feedback. Purpose: service quality and complaint handling (scored in C, topics); basis: legitimate_interests; kept: 30 days (retention feedback_text), then erased, the scores kept; read by: support through the API, the customer (export); analysts see scores and topics only; protection: sealed under the customer''s data key.';
COMMENT ON COLUMN @extschema@.survey_answers.comment_enc IS
	'Personal data of the customer: the text of a survey answer. Purpose: service quality; basis: consent; kept: 30 days (retention feedback_text); read by: the customer (export), support through the API; protection: sealed under the customer''s data key.';
COMMENT ON COLUMN @extschema@.riders.name_enc IS
	'Personal data of the rider: name. Purpose: running the fleet; basis: contract; kept: until erasure (forget_rider); read by: the rider (export_rider), dispatch_admin through the API; protection: sealed under the rider''s data key, shredded on erasure.';
COMMENT ON COLUMN @extschema@.riders.phone_enc IS
	'Personal data of the rider: phone number. Purpose: contact during shifts; basis: contract; kept: until erasure (forget_rider); read by: the rider (export_rider), dispatch_admin through the API; protection: sealed under the rider''s data key, shredded on erasure.';
COMMENT ON COLUMN @extschema@.riders.phone_index IS
	'Personal data of the rider: blind index of the phone number. Purpose: refusing a phone another rider has (update_rider); basis: contract; kept: until erasure (set NULL); read by: the API only; protection: HMAC-SHA-256 under the index key (rotate_index_key); NULL for riders registered before 0.2.0 until their phone is set again.';
COMMENT ON COLUMN @extschema@.riders.position IS
	'Personal data of the rider: last known position, recorded on shift only (rider_online gives where the shift starts, pings move it; a ping of an offline rider, live or synced, is refused: DP029). Purpose: matching; basis: contract; kept: replaced by every ping, cleared on erasure; read by: matching (C), dispatch_admin; analysts never; protection: not sealed (matching needs it).';
COMMENT ON COLUMN @extschema@.riders.free_position IS
	'Personal data of the rider: where the rider expects to be done with the orders it holds (update_rider_plan, update_rider_plan_in_zone). Purpose: matching the next order; basis: contract; kept: until the rider holds no orders (after a delivery before the plan''s end: until that end), cleared on erasure; read by: matching (C), the rider (export_rider), dispatch_admin; analysts never; protection: not sealed (matching needs it).';
COMMENT ON COLUMN @extschema@.riders.plan_pickup_position IS
	'Personal data of the rider: the next pickup of its plan (update_rider_plan, update_rider_plan_in_zone). Purpose: letting orders of that pickup join the trip; basis: contract; kept: until the rider holds no orders or sends a plan without it, cleared on erasure; read by: matching (C), the rider (export_rider), dispatch_admin; analysts never; protection: not sealed (matching needs it).';
COMMENT ON COLUMN @extschema@.offer_exclusions.detail IS
	'Personal data of the rider: the words the rider gave releasing an order (release_order; free text, at most 200 characters). Purpose: dispatch quality and disputes about released orders; basis: contract; kept: with the exclusion, cleared on erasure (forget_rider); read by: the rider (export_rider), dispatch_admin; analysts never; protection: not sealed; no event carries it.';
COMMENT ON COLUMN @extschema@.offers.reason IS
	'Personal data of the rider: the words the rider gave answering an offer, accepting or rejecting it (respond_offer, an offer item of sync_rider; free text, at most 200 characters), and for an offer cancelled by the system its reason. Purpose: dispatch quality and disputes about offers; basis: contract; kept: with the offer, cleared on erasure (forget_rider) whatever the offer''s status; read by: the rider (export_rider), dispatch_admin; analysts never; protection: not sealed; no event carries it.';
COMMENT ON COLUMN @extschema@.rider_tracks.position IS
	'Personal data of the rider: the track of positions, pinged on shift only (a ping made off shift, live or synced, is refused: DP029; one the app cached on shift and synced after rider_offline is kept). Purpose: ETA learning, disputes, pay for distance; basis: legitimate_interests; kept: 30 days (retention rider_tracks), deleted on erasure; read by: the rider (export_rider), dispatch_admin; analysts only as learned speeds; protection: not sealed, deleted by retention.';
