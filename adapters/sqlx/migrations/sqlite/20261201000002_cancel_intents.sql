-- Cancel intents: each cancel is recorded before the PG is called. At most one
-- intent of a payment is open (pending or unknown) at a time: the cancel lock
-- of that payment, shared by every instance. `refund_account` is sealed by the
-- cancel keyring; amounts are exact decimal text, times epoch milliseconds.
CREATE TABLE payment_cancel_intents (
    id TEXT NOT NULL PRIMARY KEY,
    payment_history_id TEXT NOT NULL REFERENCES payment_histories (id) ON DELETE CASCADE,
    amount TEXT NOT NULL,
    reason TEXT NOT NULL,
    refund_account TEXT,
    remaining TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'unknown', 'done', 'refused')),
    cancel_key TEXT,
    refusal TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX payment_cancel_intents_open ON payment_cancel_intents (payment_history_id)
    WHERE state IN ('pending', 'unknown');
CREATE INDEX payment_cancel_intents_history ON payment_cancel_intents (payment_history_id, state);
CREATE INDEX payment_cancel_intents_open_age ON payment_cancel_intents (updated_at)
    WHERE state IN ('pending', 'unknown');
