-- Payments schema for SQLite (the embedded default).
-- Ids are hyphenated UUID text, money is the exact decimal text, timestamps
-- are INTEGER milliseconds since the Unix epoch (UTC), so `<=` compares times.
-- Columns named `data`, `previous`, `current`, `body` (of webhook responses)
-- and `response_body` hold values sealed by the at-rest keyrings
-- (`v1.<key id>.<base64>`), never plaintext.

CREATE TABLE payment_histories (
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
    CONSTRAINT payment_histories_vendor_key UNIQUE (vendor_code, vendor_uid),
    CONSTRAINT payment_histories_source_key UNIQUE (source_schema, source_table, source_id)
);
CREATE INDEX payment_histories_created_at ON payment_histories (created_at);

CREATE TABLE payment_history_cancels (
    id TEXT NOT NULL PRIMARY KEY,
    payment_history_id TEXT NOT NULL REFERENCES payment_histories (id) ON DELETE CASCADE,
    cancel_key TEXT NOT NULL,
    -- The history revision that added this cancel: a read at revision r takes
    -- the cancels with added_revision <= r, so it never mixes two states.
    added_revision INTEGER NOT NULL,
    amount TEXT NOT NULL,
    reason TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT payment_history_cancels_key UNIQUE (payment_history_id, cancel_key)
);

CREATE TABLE payment_reservations (
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
    CONSTRAINT payment_reservations_vendor_key UNIQUE (vendor_code, vendor_uid),
    CONSTRAINT payment_reservations_source_key UNIQUE (source_schema, source_table, source_id)
);
CREATE INDEX payment_reservations_created_at ON payment_reservations (created_at);

CREATE TABLE payment_history_webhooks (
    id TEXT NOT NULL PRIMARY KEY,
    payment_history_id TEXT NOT NULL REFERENCES payment_histories (id) ON DELETE CASCADE,
    previous TEXT NOT NULL,
    current TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX payment_history_webhooks_history ON payment_history_webhooks (payment_history_id);

-- One row per delivery attempt; status and body are NULL when the receiver
-- could not be reached. The body is sealed: a receiver may echo anything.
CREATE TABLE payment_history_webhook_responses (
    id TEXT NOT NULL PRIMARY KEY,
    payment_history_webhook_id TEXT NOT NULL REFERENCES payment_history_webhooks (id) ON DELETE CASCADE,
    status INTEGER,
    body TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX payment_history_webhook_responses_webhook
    ON payment_history_webhook_responses (payment_history_webhook_id, created_at);

-- The durable queue of outgoing webhook deliveries, one job per event,
-- written in the transaction that records the event.
CREATE TABLE payment_webhook_outbox (
    event_id TEXT NOT NULL PRIMARY KEY REFERENCES payment_history_webhooks (id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_token TEXT,
    lease_until INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX payment_webhook_outbox_due ON payment_webhook_outbox (state, due_at);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response_status INTEGER,
    response_body TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
