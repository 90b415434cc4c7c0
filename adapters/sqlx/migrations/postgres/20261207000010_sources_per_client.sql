-- A source (schema, table, id) names a record of one client: two backends
-- may each have their own `shop/orders/1` (on stores of their own). The
-- unique keys on the source now include the client, the legacy client's
-- NULL counting as one value; the source columns lead, so a lookup by
-- source and client uses them. The PG's own ids (vendor code and uid, a
-- charge's order digest) stay unique across clients: the PG's identity.
ALTER TABLE payment_histories DROP CONSTRAINT payment_histories_source_key;
CREATE UNIQUE INDEX payment_histories_source_key ON payment_histories
    (source_schema, source_table, source_id, COALESCE(client_id, '00000000-0000-0000-0000-000000000000'));
ALTER TABLE payment_reservations DROP CONSTRAINT payment_reservations_source_key;
CREATE UNIQUE INDEX payment_reservations_source_key ON payment_reservations
    (source_schema, source_table, source_id, COALESCE(client_id, '00000000-0000-0000-0000-000000000000'));
ALTER TABLE payment_orders DROP CONSTRAINT payment_orders_source_key;
CREATE UNIQUE INDEX payment_orders_source_key ON payment_orders
    (source_schema, source_table, source_id, COALESCE(client_id, '00000000-0000-0000-0000-000000000000'));
