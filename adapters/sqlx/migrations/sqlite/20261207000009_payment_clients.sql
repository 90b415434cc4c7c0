-- Clients: backend services with their own API key (stored as its SHA-256
-- digest), wire key and IV and webhook secret (sealed, `secrets`), and
-- scopes. Records carry the client that made them; NULL is the legacy client
-- (the configured key), which owns every record made before clients existed.
CREATE TABLE payment_clients (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    api_key_digest TEXT NOT NULL,
    -- The key before the last rotation, valid until previous_key_until.
    previous_api_key_digest TEXT,
    previous_key_until INTEGER,
    secrets TEXT NOT NULL,
    scopes TEXT NOT NULL,
    plain_json BOOLEAN NOT NULL DEFAULT FALSE,
    -- Requests a second it may make (per instance); NULL: the server's default.
    rate_per_second INTEGER,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    CONSTRAINT payment_clients_api_key UNIQUE (api_key_digest),
    CONSTRAINT payment_clients_name UNIQUE (name)
);
ALTER TABLE payment_histories ADD COLUMN client_id TEXT;
ALTER TABLE payment_reservations ADD COLUMN client_id TEXT;
ALTER TABLE payment_orders ADD COLUMN client_id TEXT;
