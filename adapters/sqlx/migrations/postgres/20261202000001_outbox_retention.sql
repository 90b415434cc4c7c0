-- Settled deliveries are purged after a retention age (oldest first).
CREATE INDEX payment_webhook_outbox_settled ON payment_webhook_outbox (state, updated_at);
