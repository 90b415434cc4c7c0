-- Wrong passwords per record (history or saved card), shared by every
-- instance: after too many in a window the record is locked for a while,
-- longer each time. A right password removes the row; old rows are purged.
CREATE TABLE password_failures (
    record TEXT NOT NULL PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_started_at TIMESTAMPTZ(3) NOT NULL,
    lockouts BIGINT NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ(3),
    updated_at TIMESTAMPTZ(3) NOT NULL
);
CREATE INDEX password_failures_updated_at ON password_failures (updated_at);
