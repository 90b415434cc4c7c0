-- The PG's order id of a payment (Toss `orderId`, Iamport `merchant_uid`),
-- as the PG reported it at registration: sealed like the PG's data, and as
-- its SHA-256 hex, so a notification that names only the order (Toss's
-- deposit callback) finds its history without opening every row. NULL for
-- histories registered before these columns existed.
ALTER TABLE payment_histories ADD COLUMN vendor_order_id TEXT;
ALTER TABLE payment_histories ADD COLUMN vendor_order_digest TEXT;
CREATE INDEX payment_histories_vendor_order ON payment_histories (vendor_code, vendor_order_digest);

-- A saved card's PG key (Toss billingKey, Iamport customer_uid) as SHA-256
-- hex, so a PG notice naming the key finds the card while the key itself
-- stays sealed in `data`; and when the PG said the card was removed.
ALTER TABLE payment_reservations ADD COLUMN vendor_key_digest TEXT;
ALTER TABLE payment_reservations ADD COLUMN removed_at TIMESTAMPTZ(3);
CREATE INDEX payment_reservations_vendor_key_digest ON payment_reservations (vendor_code, vendor_key_digest);
