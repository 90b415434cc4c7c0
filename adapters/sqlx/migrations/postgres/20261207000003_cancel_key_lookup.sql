-- A payment is found by the PG's key of one of its cancels: Toss's
-- CANCEL_STATUS_CHANGED names nothing but the cancel's transactionKey. The
-- key is that of a recorded cancel, or of a cancel intent (a cancel the PG
-- accepted and completes later is known by its intent until recorded).
CREATE INDEX payment_history_cancels_cancel_key ON payment_history_cancels (cancel_key);
CREATE INDEX payment_cancel_intents_cancel_key ON payment_cancel_intents (cancel_key) WHERE cancel_key IS NOT NULL;
