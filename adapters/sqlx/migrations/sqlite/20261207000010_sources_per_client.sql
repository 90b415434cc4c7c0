-- A source (schema, table, id) names a record of one client: two backends
-- may each have their own `shop/orders/1` (on stores of their own). The
-- unique keys on the source now include the client, the legacy client's
-- NULL counting as one value; the source columns lead, so a lookup by
-- source and client uses them. The PG's own ids (vendor code and uid, a
-- charge's order digest) stay unique across clients: the PG's identity.
--
-- SQLite cannot drop a table's constraint: each table is rebuilt (SQLite's
-- documented procedure). `Database::migrate` runs SQLite's migrations with
-- foreign keys off (the pragma means nothing inside the migration's own
-- transaction): dropping the old table must not cascade to the cancels,
-- events and intents that refer to it by name, and refer to the new table
-- once it has that name; it checks every reference afterwards.

CREATE TABLE payment_histories_rebuilt (
    id TEXT NOT NULL PRIMARY KEY,
    vendor_code TEXT NOT NULL,
    vendor_store_id TEXT NOT NULL,
    vendor_uid TEXT NOT NULL,
    source_schema TEXT NOT NULL,
    source_table TEXT NOT NULL,
    source_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    price TEXT NOT NULL,
    refund TEXT NOT NULL,
    webhook_url TEXT NOT NULL,
    data TEXT NOT NULL,
    password TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    paid_at INTEGER,
    cancelled_at INTEGER,
    revision INTEGER NOT NULL DEFAULT 0,
    vendor_order_id TEXT,
    vendor_order_digest TEXT,
    payment_reservation_id TEXT REFERENCES payment_reservations (id),
    pending_cancels TEXT,
    client_id TEXT,
    CONSTRAINT payment_histories_vendor_key UNIQUE (vendor_code, vendor_uid)
);
INSERT INTO payment_histories_rebuilt (id, vendor_code, vendor_store_id, vendor_uid, source_schema, source_table,
    source_id, currency, price, refund, webhook_url, data, password, created_at, paid_at, cancelled_at, revision,
    vendor_order_id, vendor_order_digest, payment_reservation_id, pending_cancels, client_id)
SELECT id, vendor_code, vendor_store_id, vendor_uid, source_schema, source_table,
    source_id, currency, price, refund, webhook_url, data, password, created_at, paid_at, cancelled_at, revision,
    vendor_order_id, vendor_order_digest, payment_reservation_id, pending_cancels, client_id
FROM payment_histories;
DROP TABLE payment_histories;
ALTER TABLE payment_histories_rebuilt RENAME TO payment_histories;
CREATE INDEX payment_histories_created_at ON payment_histories (created_at);
CREATE INDEX payment_histories_vendor_order ON payment_histories (vendor_code, vendor_order_digest);
CREATE UNIQUE INDEX payment_histories_source_key ON payment_histories
    (source_schema, source_table, source_id, COALESCE(client_id, ''));

CREATE TABLE payment_reservations_rebuilt (
    id TEXT NOT NULL PRIMARY KEY,
    vendor_code TEXT NOT NULL,
    vendor_store_id TEXT NOT NULL,
    vendor_uid TEXT NOT NULL,
    source_schema TEXT NOT NULL,
    source_table TEXT NOT NULL,
    source_id TEXT NOT NULL,
    title TEXT NOT NULL,
    data TEXT NOT NULL,
    password TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    vendor_key_digest TEXT,
    removed_at INTEGER,
    client_id TEXT,
    CONSTRAINT payment_reservations_vendor_key UNIQUE (vendor_code, vendor_uid)
);
INSERT INTO payment_reservations_rebuilt (id, vendor_code, vendor_store_id, vendor_uid, source_schema, source_table,
    source_id, title, data, password, created_at, vendor_key_digest, removed_at, client_id)
SELECT id, vendor_code, vendor_store_id, vendor_uid, source_schema, source_table,
    source_id, title, data, password, created_at, vendor_key_digest, removed_at, client_id
FROM payment_reservations;
DROP TABLE payment_reservations;
ALTER TABLE payment_reservations_rebuilt RENAME TO payment_reservations;
CREATE INDEX payment_reservations_created_at ON payment_reservations (created_at);
CREATE INDEX payment_reservations_vendor_key_digest ON payment_reservations (vendor_code, vendor_key_digest);
CREATE UNIQUE INDEX payment_reservations_source_key ON payment_reservations
    (source_schema, source_table, source_id, COALESCE(client_id, ''));

CREATE TABLE payment_orders_rebuilt (
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
    client_id TEXT
);
INSERT INTO payment_orders_rebuilt (id, vendor_code, vendor_store_id, source_schema, source_table, source_id,
    currency, price, webhook_url, password, locked, pg_amount, state, payment_history_id, refusal, created_at,
    expires_at, closed_at, client_id)
SELECT id, vendor_code, vendor_store_id, source_schema, source_table, source_id,
    currency, price, webhook_url, password, locked, pg_amount, state, payment_history_id, refusal, created_at,
    expires_at, closed_at, client_id
FROM payment_orders;
DROP TABLE payment_orders;
ALTER TABLE payment_orders_rebuilt RENAME TO payment_orders;
CREATE INDEX payment_orders_pending ON payment_orders (vendor_code, source_id) WHERE state = 'pending';
CREATE UNIQUE INDEX payment_orders_source_key ON payment_orders
    (source_schema, source_table, source_id, COALESCE(client_id, ''));
