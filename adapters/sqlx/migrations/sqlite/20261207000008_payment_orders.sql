-- Orders registered before the customer's window opens (amount locked at
-- the PG where it offers that), completed once by the PG's webhook, the
-- backend's registration or the reconciler, in the transaction that inserts
-- the history and its announcement. One order per source; its source id is
-- the PG's order id.
CREATE TABLE payment_orders (
    id TEXT NOT NULL PRIMARY KEY,
    vendor_code TEXT NOT NULL,
    vendor_store_id TEXT NOT NULL,
    source_schema TEXT NOT NULL,
    source_table TEXT NOT NULL,
    source_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    price TEXT NOT NULL,
    webhook_url TEXT NOT NULL,
    password TEXT NOT NULL,
    locked BOOLEAN NOT NULL DEFAULT FALSE,
    pg_amount TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'completed', 'expired', 'refused')),
    payment_history_id TEXT REFERENCES payment_histories (id),
    refusal TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    closed_at INTEGER,
    CONSTRAINT payment_orders_source_key UNIQUE (source_schema, source_table, source_id)
);
CREATE INDEX payment_orders_pending ON payment_orders (vendor_code, source_id) WHERE state = 'pending';
