-- A payment is found by the PG's key of one of its recorded cancels: Toss's
-- CANCEL_STATUS_CHANGED names nothing but the cancel's transactionKey.
CREATE INDEX payment_history_cancels_cancel_key ON payment_history_cancels (cancel_key);
