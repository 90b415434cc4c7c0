-- Charges of saved cards. A payment charged from a saved card points at it.
-- Each charge is recorded as an intent before the PG is called; one intent
-- per PG order (vendor, store, order id: `order_digest`, SHA-256), so two
-- requests never charge one order twice. Amounts are exact decimal text,
-- times epoch milliseconds.
ALTER TABLE payment_histories ADD COLUMN payment_reservation_id TEXT REFERENCES payment_reservations (id);

CREATE TABLE payment_charge_intents (
    id TEXT NOT NULL PRIMARY KEY,
    payment_reservation_id TEXT NOT NULL REFERENCES payment_reservations (id) ON DELETE CASCADE,
    order_digest TEXT NOT NULL,
    amount TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'unknown', 'done', 'refused')),
    payment_history_id TEXT,
    refusal TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CONSTRAINT payment_charge_intents_order UNIQUE (order_digest)
);
CREATE INDEX payment_charge_intents_open_age ON payment_charge_intents (updated_at)
    WHERE state IN ('pending', 'unknown');
