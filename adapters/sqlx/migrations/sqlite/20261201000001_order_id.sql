-- The PG's order id of a payment (Toss `orderId`, Iamport `merchant_uid`),
-- as the PG reported it at registration, so a notification that names only
-- the order (Toss's deposit callback) finds its history without opening
-- every row. NULL for histories registered before this column existed.
ALTER TABLE payment_histories ADD COLUMN vendor_order_id TEXT;
CREATE INDEX payment_histories_vendor_order ON payment_histories (vendor_code, vendor_order_id);
