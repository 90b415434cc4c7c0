-- Cancels a PG accepted and has not completed yet (PortOne REQUESTED, Toss
-- IN_PROGRESS): a JSON array of them, sealed by the history keyring under
-- the row's id (NULL: none). Kept on the history row, so they change with
-- its revision; completed cancels stay in payment_history_cancels.
ALTER TABLE payment_histories ADD COLUMN pending_cancels TEXT;
