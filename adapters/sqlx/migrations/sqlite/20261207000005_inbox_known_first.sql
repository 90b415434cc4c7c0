-- Notifications about a payment registered here are claimed before those
-- about unknown payments (which anyone can send): a flood of the latter
-- cannot delay the former.
ALTER TABLE pg_notifications ADD COLUMN known INTEGER NOT NULL DEFAULT 0;
CREATE INDEX pg_notifications_due_known ON pg_notifications (known DESC, due_at) WHERE state = 'pending';
