-- One row per PG notification target: a notification's row id is derived
-- from its vendor and what it names (PgNotification::inbox_id), so a repeat
-- refreshes the row instead of adding one. `refreshed`: a repeat came while
-- a worker held the row; that attempt's outcome then leaves it pending.
ALTER TABLE pg_notifications ADD COLUMN refreshed BOOLEAN NOT NULL DEFAULT FALSE;
