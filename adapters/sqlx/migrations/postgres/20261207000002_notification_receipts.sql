-- The PG notification deliveries already answered 200 (Toss's
-- transmission id, PortOne's webhook-id, each with the body it carried),
-- kept until a repeat of one can no longer come: a repeat is acknowledged
-- without reading the PG or storing anything. `digest` is the SHA-256 hex
-- of the delivery, never the PG's id itself; rows past `kept_until` are
-- purged.
CREATE TABLE pg_notification_receipts (
    vendor_code TEXT NOT NULL,
    digest TEXT NOT NULL,
    kept_until TIMESTAMPTZ(3) NOT NULL,
    PRIMARY KEY (vendor_code, digest)
);
CREATE INDEX pg_notification_receipts_kept_until ON pg_notification_receipts (kept_until);
