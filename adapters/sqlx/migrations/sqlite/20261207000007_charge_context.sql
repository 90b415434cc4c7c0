-- What recording a saved-card charge needs besides the card (the caller's
-- source, its webhook URL, the title), sealed with the histories key, so the
-- reconciler can record a charge whose answer was lost and whose caller never
-- retried. NULL for intents begun before it was kept.
ALTER TABLE payment_charge_intents ADD COLUMN context TEXT;
