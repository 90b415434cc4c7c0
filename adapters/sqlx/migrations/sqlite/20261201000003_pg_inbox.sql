-- The inbox of PG notifications: each one is stored before the PG is
-- answered and processed (at once, or by a worker with retries under a lease,
-- like the outbox). `body` (the target, with a deposit callback's secret, and
-- the notification as received) is sealed by the history keyring.
CREATE TABLE pg_notifications (
    id TEXT NOT NULL PRIMARY KEY,
    vendor_code TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL,
    lease_token TEXT,
    lease_until INTEGER,
    received_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_error TEXT
);
CREATE INDEX pg_notifications_due ON pg_notifications (due_at) WHERE state = 'pending';
CREATE INDEX pg_notifications_received_at ON pg_notifications (received_at);
