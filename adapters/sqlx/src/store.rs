//! The store every repository is written on, once for both backends and
//! compiled as a child
//! of `sqlite.rs` and of `postgres.rs`. The parent defines the backend's
//! column types and their conversions:
//!
//! - `Db`, `DbPool`, `DbRow`: the sqlx types of the backend;
//! - `IdCol`, `id_col`, `from_id`: how a UUID is stored;
//! - `TsCol`, `ts_col`, `from_ts`: how a timestamp is stored;
//! - `MoneyCol`, `money_col`, `from_money`: how money is stored;
//! - `BEGIN_WRITE`: the statement opening a write transaction;
//! - `SKIP_LOCKED`: the outbox claim's row-locking clause;
//! - `writer_pool`: the pool write transactions and writing statements use
//!   (SQLite: one connection of its own, see `sqlite.rs`; PostgreSQL: the pool).
//!
//! SQL uses `$n` placeholders, which both backends accept.
//!
//! The repositories themselves, one concern each, are its siblings:
//! `histories.rs`, `reservations.rs`, `outbox.rs`, `idempotency.rs`,
//! `rotation.rs` (re-sealing under new keys), and `inbox.rs`, `intents.rs`,
//! `charges.rs`, `attempts.rs`.

use super::{BEGIN_WRITE, Db, DbPool, DbRow, IdCol, MoneyCol, TsCol, from_id, from_money, from_ts, writer_pool};
use std::sync::Arc;

use payments_application::ports::RepositoryError;
use payments_domain::{Money, Timestamp};
use sqlx::Row;
use uuid::Uuid;

use crate::AtRestKeys;
use crate::codec::{CancelRow, EventRow, HistoryRow, ReservationRow};
use crate::error::db_err;

pub(super) type Tx = sqlx::Transaction<'static, Db>;
/// A query of this backend, its arguments bound.
pub(super) type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>;

/// Every repository port over one pool.
#[derive(Clone)]
pub(crate) struct Store {
    pub(super) pool: DbPool,
    pub(super) keys: Arc<AtRestKeys>,
    /// Where writes go: `pool` itself, or on SQLite its single writer.
    writer: DbPool,
    pub(super) attempts: Arc<super::outbox::AttemptQueue>,
}

pub(super) fn get<'r, T>(row: &'r DbRow, column: &str) -> Result<T, RepositoryError>
where
    T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
{
    row.try_get(column).map_err(db_err)
}

pub(super) fn get_id(row: &DbRow, column: &str) -> Result<Uuid, RepositoryError> {
    Ok(from_id(get::<IdCol>(row, column)?))
}

pub(super) fn get_ts(row: &DbRow, column: &str) -> Result<Timestamp, RepositoryError> {
    from_ts(get::<TsCol>(row, column)?)
}

pub(super) fn get_opt_ts(row: &DbRow, column: &str) -> Result<Option<Timestamp>, RepositoryError> {
    get::<Option<TsCol>>(row, column)?.map(from_ts).transpose()
}

pub(super) fn get_money(row: &DbRow, column: &str) -> Result<Money, RepositoryError> {
    from_money(get::<MoneyCol>(row, column)?)
}

pub(super) fn history_row(row: &DbRow) -> Result<HistoryRow, RepositoryError> {
    Ok(HistoryRow {
        id: get_id(row, "id")?,
        vendor_code: get(row, "vendor_code")?,
        vendor_store_id: get(row, "vendor_store_id")?,
        vendor_uid: get(row, "vendor_uid")?,
        vendor_order_id: get(row, "vendor_order_id")?,
        source_schema: get(row, "source_schema")?,
        source_table: get(row, "source_table")?,
        source_id: get(row, "source_id")?,
        currency: get(row, "currency")?,
        price: get_money(row, "price")?,
        webhook_url: get(row, "webhook_url")?,
        data: get(row, "data")?,
        password: get(row, "password")?,
        created_at: get_ts(row, "created_at")?,
        paid_at: get_opt_ts(row, "paid_at")?,
        cancelled_at: get_opt_ts(row, "cancelled_at")?,
        revision: get(row, "revision")?,
        reservation_id: get::<Option<IdCol>>(row, "payment_reservation_id")?.map(from_id),
        pending_cancels: get(row, "pending_cancels")?,
        client_id: get::<Option<IdCol>>(row, "client_id")?.map(from_id),
    })
}

pub(super) fn cancel_row(row: &DbRow) -> Result<CancelRow, RepositoryError> {
    Ok(CancelRow {
        id: get_id(row, "id")?,
        key: get(row, "cancel_key")?,
        amount: get_money(row, "amount")?,
        reason: get(row, "reason")?,
        data: get(row, "data")?,
        created_at: get_ts(row, "created_at")?,
    })
}

pub(super) fn reservation_row(row: &DbRow) -> Result<ReservationRow, RepositoryError> {
    Ok(ReservationRow {
        id: get_id(row, "id")?,
        vendor_code: get(row, "vendor_code")?,
        vendor_store_id: get(row, "vendor_store_id")?,
        vendor_uid: get(row, "vendor_uid")?,
        source_schema: get(row, "source_schema")?,
        source_table: get(row, "source_table")?,
        source_id: get(row, "source_id")?,
        title: get(row, "title")?,
        data: get(row, "data")?,
        password: get(row, "password")?,
        created_at: get_ts(row, "created_at")?,
        vendor_key_digest: get(row, "vendor_key_digest")?,
        removed_at: get_opt_ts(row, "removed_at")?,
        client_id: get::<Option<IdCol>>(row, "client_id")?.map(from_id),
    })
}

pub(super) fn event_row(row: &DbRow) -> Result<EventRow, RepositoryError> {
    Ok(EventRow {
        id: get_id(row, "id")?,
        previous: get(row, "previous")?,
        current: get(row, "current")?,
        data: get(row, "data")?,
        created_at: get_ts(row, "created_at")?,
    })
}

/// Where an event's delivery stands, from its outbox row's `state` and
/// `attempts` (both NULL once the row was purged after settling).
pub(super) fn feed_delivery(row: &DbRow) -> Result<payments_application::ports::FeedDelivery, RepositoryError> {
    use payments_application::ports::FeedDelivery;
    let state: Option<String> = get(row, "state")?;
    let attempts = u32::try_from(get::<Option<i64>>(row, "attempts")?.unwrap_or(0)).unwrap_or(u32::MAX);
    Ok(match state.as_deref() {
        Some("pending") if attempts == 0 => FeedDelivery::Pending,
        Some("pending") => FeedDelivery::Retrying { attempts },
        Some("delivered") => FeedDelivery::Delivered,
        Some("failed") => FeedDelivery::Failed,
        _ => FeedDelivery::Settled,
    })
}

/// The row of a record `$4` (a [`client_col`]) holds for the source
/// `($1, $2, $3)`: sources are unique per client (NULL being the legacy
/// client's), the source columns leading its unique index.
pub(super) const SOURCE_OF_CLIENT: &str =
    "source_schema = $1 AND source_table = $2 AND source_id = $3 AND client_id IS NOT DISTINCT FROM $4";

/// A record's client as its column: NULL for the legacy client.
pub(super) fn client_col(client: payments_domain::ClientId) -> Option<IdCol> {
    (!client.is_legacy()).then(|| super::id_col(client.as_uuid()))
}

pub(super) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl Store {
    pub(crate) fn new(pool: DbPool, keys: Arc<AtRestKeys>) -> Self {
        let writer = writer_pool(&pool);
        Self { pool, keys, writer, attempts: Arc::default() }
    }

    /// The pool writes go to; closed with the main pool (see `Database::close`).
    pub(super) fn writer(&self) -> Result<&DbPool, RepositoryError> {
        if self.pool.is_closed() {
            return Err(db_err(sqlx::Error::PoolClosed));
        }
        Ok(&self.writer)
    }

    pub(super) async fn begin_write(&self) -> Result<Tx, RepositoryError> {
        self.writer()?.begin_with(BEGIN_WRITE).await.map_err(db_err)
    }
}
