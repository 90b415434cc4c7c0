-- The console finds a payment by what a support person has in hand: the
-- backend's order number (source_id), the PG's payment id (vendor_uid) or
-- its order id (by digest), whatever the vendor or client. The unique keys
-- lead with other columns, so each gets an index of its own.
CREATE INDEX payment_histories_console_source_id ON payment_histories (source_id);
CREATE INDEX payment_histories_console_vendor_uid ON payment_histories (vendor_uid);
CREATE INDEX payment_histories_console_order_digest ON payment_histories (vendor_order_digest);
