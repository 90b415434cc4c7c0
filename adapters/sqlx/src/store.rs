//! The repositories, written once for both backends and compiled as a child
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

use super::{
    BEGIN_WRITE, Db, DbPool, DbRow, IdCol, MoneyCol, SKIP_LOCKED, TsCol, from_id, from_money, from_ts, id_col,
    money_col, ts_col, writer_pool,
};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use payments_application::ports::{
    DeliveryJob, HistoryRepository, IdempotencyClaim, IdempotencyStore, JobOutcome, LeaseToken, OutboxStats,
    RepositoryError, ReservationRepository, Revision, StoredHistory, StoredReservation, StoredResponse, WebhookOutbox,
};
use payments_domain::{
    CancelHistory, DeliveryAttempt, EventId, HistoryId, Money, OrderId, PasswordHash, PaymentHistory,
    PaymentReservation, ReservationId, Source, Timestamp, VendorCode, VendorUid, WebhookEvent,
};
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use crate::codec::{self, CancelRow, EventRow, HistoryRow, ReservationRow};
use crate::error::{corrupt, db_err, insert_error};
use crate::{AtRestKeys, RotationReport};

type Tx = sqlx::Transaction<'static, Db>;
const HISTORY_COLUMNS: &str = "id, vendor_code, vendor_store_id, vendor_uid, vendor_order_id, source_schema, \
     source_table, source_id, currency, price, webhook_url, data, password, created_at, paid_at, cancelled_at, revision, \
     payment_reservation_id";
const RESERVATION_COLUMNS: &str = "id, vendor_code, vendor_store_id, vendor_uid, source_schema, source_table, \
     source_id, title, data, password, created_at, vendor_key_digest, removed_at";
/// Rows per page when re-sealing.
const ROTATION_PAGE: i64 = 200;

/// Delivery attempts waiting to be written, recorded together (group
/// commit): every delivery finishing while a batch is being written joins
/// the next one, so the write path holds one transaction per batch instead
/// of one per attempt. No timer: a lone attempt is written at once.
#[derive(Default)]
struct AttemptQueue {
    waiting: std::sync::Mutex<Vec<QueuedAttempt>>,
    /// Held by whoever is writing a batch.
    writing: tokio::sync::Mutex<()>,
}

/// One [`WebhookOutbox::record_attempt`] call, sealed and ready to write.
struct QueuedAttempt {
    event: Uuid,
    lease: Uuid,
    state: &'static str,
    due_at: Option<TsCol>,
    at: TsCol,
    response: Uuid,
    status: Option<i64>,
    body: Option<String>,
    done: tokio::sync::oneshot::Sender<Result<bool, RepositoryError>>,
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a push or a take: never half-done.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The same error for each caller of a batch that failed.
fn share(error: &RepositoryError) -> RepositoryError {
    match error {
        RepositoryError::Conflict(what) => RepositoryError::Conflict(what.clone()),
        RepositoryError::Stale => RepositoryError::Stale,
        RepositoryError::Unavailable(why) => RepositoryError::Unavailable(why.clone()),
        RepositoryError::Corrupt(cause) => RepositoryError::Corrupt(anyhow::anyhow!("{cause:#}")),
        RepositoryError::Other(cause) => RepositoryError::Other(anyhow::anyhow!("{cause:#}")),
    }
}

/// Every repository port over one pool.
#[derive(Clone)]
pub(crate) struct Store {
    pub(super) pool: DbPool,
    pub(super) keys: Arc<AtRestKeys>,
    /// Where writes go: `pool` itself, or on SQLite its single writer.
    writer: DbPool,
    attempts: Arc<AttemptQueue>,
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

fn history_row(row: &DbRow) -> Result<HistoryRow, RepositoryError> {
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
    })
}

fn cancel_row(row: &DbRow) -> Result<CancelRow, RepositoryError> {
    Ok(CancelRow {
        id: get_id(row, "id")?,
        key: get(row, "cancel_key")?,
        amount: get_money(row, "amount")?,
        reason: get(row, "reason")?,
        data: get(row, "data")?,
        created_at: get_ts(row, "created_at")?,
    })
}

fn reservation_row(row: &DbRow) -> Result<ReservationRow, RepositoryError> {
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
    })
}

fn event_row(row: &DbRow) -> Result<EventRow, RepositoryError> {
    Ok(EventRow {
        id: get_id(row, "id")?,
        previous: get(row, "previous")?,
        current: get(row, "current")?,
        data: get(row, "data")?,
        created_at: get_ts(row, "created_at")?,
    })
}

fn to_u64(value: i64) -> u64 {
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

    async fn begin_write(&self) -> Result<Tx, RepositoryError> {
        self.writer()?.begin_with(BEGIN_WRITE).await.map_err(db_err)
    }

    /// Writes every queued attempt (ours among them, unless the writer
    /// before us took it) in one transaction and tells each caller whether
    /// its lease still held. A caller that finds the queue emptied waits for
    /// the writer holding `writing`, which answers before letting go.
    async fn flush_attempts(&self) {
        let _writing = self.attempts.writing.lock().await;
        let batch = std::mem::take(&mut *lock(&self.attempts.waiting));
        if batch.is_empty() {
            return;
        }
        match self.write_attempts(&batch).await {
            Ok(settled) => {
                for queued in batch {
                    let _ = queued.done.send(Ok(settled.contains(&queued.event)));
                }
            }
            Err(error) => {
                for queued in batch {
                    let _ = queued.done.send(Err(share(&error)));
                }
            }
        }
    }

    /// One transaction: settles the jobs whose lease still holds (one
    /// statement) and records their attempts (one insert); answers the
    /// settled events.
    async fn write_attempts(
        &self,
        batch: &[QueuedAttempt],
    ) -> Result<std::collections::HashSet<Uuid>, RepositoryError> {
        let mut settle = QueryBuilder::<Db>::new(
            "UPDATE payment_webhook_outbox SET state = v.new_state, due_at = COALESCE(v.new_due_at, due_at), \
             attempts = attempts + 1, lease_token = NULL, lease_until = NULL, updated_at = v.settled_at FROM (",
        );
        for (n, queued) in batch.iter().enumerate() {
            settle.push(if n == 0 { "SELECT " } else { " UNION ALL SELECT " });
            settle.push_bind(id_col(queued.event)).push(" AS job_id, ");
            settle.push_bind(id_col(queued.lease)).push(" AS job_lease, ");
            settle.push_bind(queued.state).push(" AS new_state, ");
            settle.push_bind(queued.due_at).push(" AS new_due_at, ");
            settle.push_bind(queued.at).push(" AS settled_at");
        }
        settle.push(
            ") AS v WHERE payment_webhook_outbox.event_id = v.job_id AND lease_token = v.job_lease \
             AND state = 'pending' RETURNING event_id",
        );
        let mut tx = self.begin_write().await?;
        let mut settled = std::collections::HashSet::with_capacity(batch.len());
        for row in settle.build().fetch_all(&mut *tx).await.map_err(db_err)? {
            settled.insert(get_id(&row, "event_id")?);
        }
        if settled.is_empty() {
            tx.rollback().await.map_err(db_err)?;
            return Ok(settled);
        }
        let mut record = QueryBuilder::<Db>::new(
            "INSERT INTO payment_history_webhook_responses (id, payment_history_webhook_id, status, body, created_at) ",
        );
        record.push_values(batch.iter().filter(|q| settled.contains(&q.event)), |mut b, queued| {
            b.push_bind(id_col(queued.response))
                .push_bind(id_col(queued.event))
                .push_bind(queued.status)
                .push_bind(queued.body.clone())
                .push_bind(queued.at);
        });
        record.build().execute(&mut *tx).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(settled)
    }

    /// A history's PG order id sealed for its row, and its lookup digest.
    fn seal_order(&self, history: &PaymentHistory) -> Result<(Option<String>, Option<String>), RepositoryError> {
        let Some(order) = history.order_id() else { return Ok((None, None)) };
        let sealed = codec::seal_json(&self.keys.histories, codec::HISTORY_ORDER, history.id(), order.as_str())?;
        Ok((Some(sealed), Some(payments_application::lookup_digest(order.as_str()))))
    }

    /// Loads a history from its row (query 1) and its cancels as of the row's
    /// revision (query 2): at most two queries, never a mix of two states.
    async fn load_history(&self, row: Option<DbRow>) -> Result<Option<StoredHistory>, RepositoryError> {
        let Some(row) = row else { return Ok(None) };
        let row = history_row(&row)?;
        let cancels = sqlx::query(
            "SELECT id, cancel_key, amount, reason, data, created_at FROM payment_history_cancels \
             WHERE payment_history_id = $1 AND added_revision <= $2",
        )
        .bind(id_col(row.id))
        .bind(row.revision)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(cancel_row)
        .collect::<Result<Vec<_>, _>>()?;
        codec::history(&self.keys, row, cancels).map(Some)
    }

    /// The cancels of `history` not stored as of revision `stored` (`None`: a
    /// new history, nothing stored), sealed into one insert recording them at
    /// `revision`; `None` when every cancel is stored. Reads outside any
    /// transaction, so the sealing and the read stay out of the write path:
    /// when the guarded update of the same change then succeeds, the stored
    /// cancels are still those of `stored`.
    async fn new_cancels(
        &self,
        history: HistoryId,
        cancels: &[CancelHistory],
        stored: Option<i64>,
        revision: i64,
    ) -> Result<Option<QueryBuilder<'static, Db>>, RepositoryError> {
        let stored: std::collections::HashSet<String> = match stored {
            Some(stored) if !cancels.is_empty() => sqlx::query_scalar(
                "SELECT cancel_key FROM payment_history_cancels WHERE payment_history_id = $1 AND added_revision <= $2",
            )
            .bind(id_col(history.as_uuid()))
            .bind(stored)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .into_iter()
            .collect(),
            _ => std::collections::HashSet::new(),
        };
        let cancels: Vec<&CancelHistory> = cancels.iter().filter(|c| !stored.contains(c.key.as_str())).collect();
        if cancels.is_empty() {
            return Ok(None);
        }
        let mut sealed = Vec::with_capacity(cancels.len());
        for cancel in &cancels {
            let id = Uuid::now_v7();
            sealed.push((id, codec::seal_json(&self.keys.cancels, codec::CANCEL_DATA, id, &cancel.data)?));
        }
        let mut insert = QueryBuilder::<Db>::new(
            "INSERT INTO payment_history_cancels \
             (id, payment_history_id, cancel_key, added_revision, amount, reason, data, created_at) ",
        );
        insert.push_values(cancels.iter().zip(sealed), |mut b, (cancel, (id, data))| {
            b.push_bind(id_col(id))
                .push_bind(id_col(history.as_uuid()))
                .push_bind(cancel.key.as_str().to_owned())
                .push_bind(revision)
                .push_bind(money_col(cancel.price))
                .push_bind(cancel.reason.as_str().to_owned())
                .push_bind(data)
                .push_bind(ts_col(cancel.created_at));
        });
        insert.push(" ON CONFLICT (payment_history_id, cancel_key) DO NOTHING");
        Ok(Some(insert))
    }

    async fn find_reservation(&self, row: Option<DbRow>) -> Result<Option<StoredReservation>, RepositoryError> {
        row.map(|row| codec::reservation(&self.keys, reservation_row(&row)?)).transpose()
    }

    /// Re-seals the sealed `columns` of `table` (keyed by a UUID `id`) that
    /// are not under the current key of `keyring`, a page at a time. Rows
    /// where one of them is NULL (an unanswered attempt) are skipped.
    async fn rotate_table(
        &self,
        table: &str,
        columns: &[&str],
        keyring: &payments_crypto::Keyring,
    ) -> Result<u64, RepositoryError> {
        let present: Vec<String> = columns.iter().map(|c| format!("{c} IS NOT NULL")).collect();
        let select = format!(
            "SELECT id, {} FROM {table} WHERE id > $1 AND {} ORDER BY id LIMIT $2",
            columns.join(", "),
            present.join(" AND ")
        );
        let sets: Vec<String> = columns.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect();
        let guards: Vec<String> =
            columns.iter().enumerate().map(|(i, c)| format!("{c} = ${}", columns.len() + 2 + i)).collect();
        let update = format!(
            "UPDATE {table} SET {} WHERE id = ${} AND {}",
            sets.join(", "),
            columns.len() + 1,
            guards.join(" AND ")
        );
        let mut after = Uuid::nil();
        let mut resealed = 0;
        loop {
            let rows = sqlx::query(&select)
                .bind(id_col(after))
                .bind(ROTATION_PAGE)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
            let Some(last) = rows.last() else { break };
            after = get_id(last, "id")?;
            for row in &rows {
                let id = get_id(row, "id")?;
                let old: Vec<String> = columns.iter().map(|c| get::<String>(row, c)).collect::<Result<_, _>>()?;
                let mut new = Vec::with_capacity(old.len());
                let mut changed = false;
                for (column, value) in columns.iter().zip(&old) {
                    match codec::reseal(keyring, &format!("{table}.{column}"), id, value)? {
                        Some(v) => {
                            changed = true;
                            new.push(v);
                        }
                        None => new.push(value.clone()),
                    }
                }
                if !changed {
                    continue;
                }
                let mut query = sqlx::query(&update);
                for value in new {
                    query = query.bind(value);
                }
                query = query.bind(id_col(id));
                for value in old {
                    query = query.bind(value);
                }
                // A row changed meanwhile was written under the current key.
                let done = query.execute(self.writer()?).await.map_err(db_err)?.rows_affected();
                resealed += done;
            }
            if i64::try_from(rows.len()).unwrap_or(i64::MAX) < ROTATION_PAGE {
                break;
            }
        }
        Ok(resealed)
    }

    async fn rotate_idempotency(&self) -> Result<u64, RepositoryError> {
        let keyring = &self.keys.histories;
        let mut after = (String::new(), String::new());
        let mut resealed = 0;
        loop {
            let rows = sqlx::query(
                "SELECT scope, idempotency_key, response_body FROM idempotency_keys \
                 WHERE (scope, idempotency_key) > ($1, $2) ORDER BY scope, idempotency_key LIMIT $3",
            )
            .bind(&after.0)
            .bind(&after.1)
            .bind(ROTATION_PAGE)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
            let Some(last) = rows.last() else { break };
            after = (get(last, "scope")?, get(last, "idempotency_key")?);
            for row in &rows {
                let Some(old) = get::<Option<String>>(row, "response_body")? else { continue };
                let scope: String = get(row, "scope")?;
                let key: String = get(row, "idempotency_key")?;
                let Some(new) = codec::reseal(keyring, codec::IDEMPOTENT_BODY, format!("{scope}:{key}"), &old)? else {
                    continue;
                };
                resealed += sqlx::query(
                    "UPDATE idempotency_keys SET response_body = $1 \
                     WHERE scope = $2 AND idempotency_key = $3 AND response_body = $4",
                )
                .bind(new)
                .bind(&scope)
                .bind(&key)
                .bind(&old)
                .execute(self.writer()?)
                .await
                .map_err(db_err)?
                .rows_affected();
            }
            if i64::try_from(rows.len()).unwrap_or(i64::MAX) < ROTATION_PAGE {
                break;
            }
        }
        Ok(resealed)
    }

    /// See [`crate::Database::reencrypt_all`].
    pub(crate) async fn reencrypt_all(&self) -> Result<RotationReport, RepositoryError> {
        let keys = self.keys.clone();
        Ok(RotationReport {
            histories: self.rotate_table("payment_histories", &["data"], &keys.histories).await?
                + self.rotate_table("payment_histories", &["vendor_order_id"], &keys.histories).await?,
            cancels: self.rotate_table("payment_history_cancels", &["data"], &keys.cancels).await?
                + self.rotate_table("payment_cancel_intents", &["refund_account"], &keys.cancels).await?,
            reservations: self.rotate_table("payment_reservations", &["data"], &keys.reservations).await?,
            webhook_events: self
                .rotate_table("payment_history_webhooks", &["previous", "current", "data"], &keys.histories)
                .await?,
            webhook_responses: self
                .rotate_table("payment_history_webhook_responses", &["body"], &keys.histories)
                .await?,
            idempotency_keys: self.rotate_idempotency().await?,
        })
    }
}

#[async_trait]
impl HistoryRepository for Store {
    async fn insert(&self, history: &PaymentHistory, password_hash: &PasswordHash) -> Result<(), RepositoryError> {
        let id = history.id();
        let data = codec::seal_json(&self.keys.histories, codec::HISTORY_DATA, id, history.data())?;
        let vendor = history.vendor();
        let source = history.source();
        let (order, order_digest) = self.seal_order(history)?;
        let cancels = self.new_cancels(id, history.cancels(), None, 0).await?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO payment_histories (id, vendor_code, vendor_store_id, vendor_uid, vendor_order_id, \
             vendor_order_digest, source_schema, source_table, source_id, currency, price, refund, webhook_url, \
             data, password, created_at, paid_at, cancelled_at, revision, payment_reservation_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 0, $19)",
        )
        .bind(id_col(id.as_uuid()))
        .bind(vendor.code.as_str())
        .bind(vendor.store_id.as_str())
        .bind(vendor.uid.as_str())
        .bind(order)
        .bind(order_digest)
        .bind(source.schema.as_str())
        .bind(source.table.as_str())
        .bind(source.id.as_str())
        .bind(history.currency().as_str())
        .bind(money_col(history.price()))
        .bind(money_col(history.refund()))
        .bind(history.webhook_url().as_str())
        .bind(data)
        .bind(password_hash.as_str())
        .bind(ts_col(history.created_at()))
        .bind(history.paid_at().map(ts_col))
        .bind(history.cancelled_at().map(ts_col))
        .bind(history.identity().reservation_id.map(|r| id_col(r.as_uuid())))
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "payment", vendor.code.as_str(), vendor.uid.as_str()))?;
        if let Some(mut cancels) = cancels {
            cancels.build().execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn find_by_id(&self, id: HistoryId) -> Result<Option<StoredHistory>, RepositoryError> {
        let row = sqlx::query(&format!("SELECT {HISTORY_COLUMNS} FROM payment_histories WHERE id = $1"))
            .bind(id_col(id.as_uuid()))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        self.load_history(row).await
    }

    async fn find_by_source(&self, source: &Source) -> Result<Option<StoredHistory>, RepositoryError> {
        let row = sqlx::query(&format!(
            "SELECT {HISTORY_COLUMNS} FROM payment_histories \
             WHERE source_schema = $1 AND source_table = $2 AND source_id = $3"
        ))
        .bind(source.schema.as_str())
        .bind(source.table.as_str())
        .bind(source.id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        self.load_history(row).await
    }

    async fn find_by_vendor(
        &self,
        code: VendorCode,
        uid: &VendorUid,
    ) -> Result<Option<StoredHistory>, RepositoryError> {
        let row = sqlx::query(&format!(
            "SELECT {HISTORY_COLUMNS} FROM payment_histories WHERE vendor_code = $1 AND vendor_uid = $2"
        ))
        .bind(code.as_str())
        .bind(uid.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        self.load_history(row).await
    }

    async fn reconcile_candidates(
        &self,
        since: Timestamp,
        after: Option<HistoryId>,
        limit: u32,
    ) -> Result<Vec<HistoryId>, RepositoryError> {
        let after = after.map_or(Uuid::nil(), |id| id.as_uuid());
        let ids: Vec<IdCol> = sqlx::query_scalar(
            "SELECT id FROM payment_histories WHERE id > $1 AND (paid_at IS NULL OR created_at >= $2 \
             OR id IN (SELECT payment_history_id FROM payment_history_webhooks WHERE created_at >= $2)) \
             ORDER BY id LIMIT $3",
        )
        .bind(id_col(after))
        .bind(ts_col(since))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(ids.into_iter().map(|id| HistoryId::from_uuid(from_id(id))).collect())
    }

    async fn find_by_order(
        &self,
        code: VendorCode,
        order_id: &OrderId,
        limit: u32,
    ) -> Result<Vec<StoredHistory>, RepositoryError> {
        let rows = sqlx::query(&format!(
            "SELECT {HISTORY_COLUMNS} FROM payment_histories WHERE vendor_code = $1 AND vendor_order_digest = $2 \
             ORDER BY created_at LIMIT $3"
        ))
        .bind(code.as_str())
        .bind(payments_application::lookup_digest(order_id.as_str()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            found.extend(self.load_history(Some(row)).await?);
        }
        Ok(found)
    }

    async fn save_change(
        &self,
        expected: Revision,
        next: &PaymentHistory,
        event: &WebhookEvent,
    ) -> Result<(), RepositoryError> {
        if event.history_id() != next.id() {
            return Err(RepositoryError::Other(anyhow::anyhow!(
                "event {} is of history {}, not of {}",
                event.id(),
                event.history_id(),
                next.id()
            )));
        }
        let id = next.id();
        let revision = expected.0.checked_add(1).ok_or(RepositoryError::Stale)?;
        let data = codec::seal_json(&self.keys.histories, codec::HISTORY_DATA, id, next.data())?;
        let [previous, current, trigger] = codec::seal_event(&self.keys, event)?;
        let created = ts_col(event.created_at());
        let cancels = self.new_cancels(id, next.cancels(), Some(expected.0), revision).await?;
        let (order, order_digest) = self.seal_order(next)?;

        // The guarded update comes first: it takes the write lock (SQLite) or
        // the row lock (PostgreSQL) and decides, before anything else is written.
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE payment_histories SET price = $1, refund = $2, data = $3, paid_at = $4, cancelled_at = $5, \
             revision = $6, vendor_order_id = COALESCE(vendor_order_id, $7), \
             vendor_order_digest = COALESCE(vendor_order_digest, $8) WHERE id = $9 AND revision = $10",
        )
        .bind(money_col(next.price()))
        .bind(money_col(next.refund()))
        .bind(data)
        .bind(next.paid_at().map(ts_col))
        .bind(next.cancelled_at().map(ts_col))
        .bind(revision)
        .bind(order)
        .bind(order_digest)
        .bind(id_col(id.as_uuid()))
        .bind(expected.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if updated != 1 {
            tx.rollback().await.map_err(db_err)?;
            return Err(RepositoryError::Stale);
        }
        if let Some(mut cancels) = cancels {
            cancels.build().execute(&mut *tx).await.map_err(db_err)?;
        }
        sqlx::query(
            "INSERT INTO payment_history_webhooks (id, payment_history_id, previous, current, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_col(event.id().as_uuid()))
        .bind(id_col(id.as_uuid()))
        .bind(previous)
        .bind(current)
        .bind(trigger)
        .bind(created)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO payment_webhook_outbox (event_id, state, due_at, attempts, created_at, updated_at) \
             VALUES ($1, 'pending', $2, 0, $2, $2)",
        )
        .bind(id_col(event.id().as_uuid()))
        .bind(created)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }
}

#[async_trait]
impl ReservationRepository for Store {
    async fn mark_removed(&self, code: VendorCode, key_digest: &str, at: Timestamp) -> Result<u64, RepositoryError> {
        let marked = sqlx::query(
            "UPDATE payment_reservations SET removed_at = $1 \
             WHERE vendor_code = $2 AND vendor_key_digest = $3 AND removed_at IS NULL",
        )
        .bind(ts_col(at))
        .bind(code.as_str())
        .bind(key_digest)
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(marked.rows_affected())
    }

    async fn remove(&self, reservation: &PaymentReservation, at: Timestamp) -> Result<bool, RepositoryError> {
        let id = reservation.id;
        let data = codec::seal_json(&self.keys.reservations, codec::RESERVATION_DATA, id, &reservation.data)?;
        let removed = sqlx::query(
            "UPDATE payment_reservations SET removed_at = COALESCE(removed_at, $1), data = $2 WHERE id = $3",
        )
        .bind(ts_col(at))
        .bind(data)
        .bind(id_col(id.as_uuid()))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(removed.rows_affected() == 1)
    }

    async fn insert(
        &self,
        reservation: &PaymentReservation,
        password_hash: &PasswordHash,
    ) -> Result<(), RepositoryError> {
        let id = reservation.id;
        let data = codec::seal_json(&self.keys.reservations, codec::RESERVATION_DATA, id, &reservation.data)?;
        let vendor = &reservation.vendor;
        let source = &reservation.source;
        sqlx::query(
            "INSERT INTO payment_reservations (id, vendor_code, vendor_store_id, vendor_uid, source_schema, \
             source_table, source_id, title, data, password, created_at, vendor_key_digest, removed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(id_col(id.as_uuid()))
        .bind(vendor.code.as_str())
        .bind(vendor.store_id.as_str())
        .bind(vendor.uid.as_str())
        .bind(source.schema.as_str())
        .bind(source.table.as_str())
        .bind(source.id.as_str())
        .bind(reservation.title.as_str())
        .bind(data)
        .bind(password_hash.as_str())
        .bind(ts_col(reservation.created_at))
        .bind(reservation.key_digest.as_deref())
        .bind(reservation.removed_at.map(ts_col))
        .execute(self.writer()?)
        .await
        .map_err(|e| insert_error(e, "saved card", vendor.code.as_str(), vendor.uid.as_str()))?;
        Ok(())
    }

    async fn find_by_id(&self, id: ReservationId) -> Result<Option<StoredReservation>, RepositoryError> {
        let row = sqlx::query(&format!("SELECT {RESERVATION_COLUMNS} FROM payment_reservations WHERE id = $1"))
            .bind(id_col(id.as_uuid()))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        self.find_reservation(row).await
    }

    async fn find_by_source(&self, source: &Source) -> Result<Option<StoredReservation>, RepositoryError> {
        let row = sqlx::query(&format!(
            "SELECT {RESERVATION_COLUMNS} FROM payment_reservations \
             WHERE source_schema = $1 AND source_table = $2 AND source_id = $3"
        ))
        .bind(source.schema.as_str())
        .bind(source.table.as_str())
        .bind(source.id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        self.find_reservation(row).await
    }

    async fn find_by_vendor(
        &self,
        code: VendorCode,
        uid: &VendorUid,
    ) -> Result<Option<StoredReservation>, RepositoryError> {
        let row = sqlx::query(&format!(
            "SELECT {RESERVATION_COLUMNS} FROM payment_reservations WHERE vendor_code = $1 AND vendor_uid = $2"
        ))
        .bind(code.as_str())
        .bind(uid.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        self.find_reservation(row).await
    }
}

#[async_trait]
impl WebhookOutbox for Store {
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<DeliveryJob>, RepositoryError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let lease = Uuid::new_v4();
        let lease_for = chrono::Duration::from_std(lease_for).unwrap_or(chrono::Duration::MAX);
        let until = now.checked_add_signed(lease_for).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        // One statement picks and leases the jobs (SQLite: under the write
        // lock; PostgreSQL: skipping rows another worker is claiming).
        let claimed = sqlx::query(&format!(
            "UPDATE payment_webhook_outbox SET lease_token = $1, lease_until = $2, updated_at = $3 \
             WHERE event_id IN (SELECT event_id FROM payment_webhook_outbox \
             WHERE state = 'pending' AND due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
             ORDER BY due_at LIMIT $4{SKIP_LOCKED}) \
             RETURNING event_id, attempts, due_at"
        ))
        .bind(id_col(lease))
        .bind(ts_col(until))
        .bind(ts_col(now))
        .bind(i64::from(limit))
        .fetch_all(self.writer()?)
        .await
        .map_err(db_err)?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let mut jobs = Vec::with_capacity(claimed.len());
        for row in &claimed {
            let attempts: i64 = get(row, "attempts")?;
            jobs.push((get_id(row, "event_id")?, u32::try_from(attempts).unwrap_or(u32::MAX), get_ts(row, "due_at")?));
        }
        jobs.sort_by_key(|(_, _, due)| *due);
        let mut select = QueryBuilder::<Db>::new(
            "SELECT id, previous, current, data, created_at FROM payment_history_webhooks WHERE id IN (",
        );
        let mut ids = select.separated(", ");
        for (id, _, _) in &jobs {
            ids.push_bind(id_col(*id));
        }
        select.push(")");
        let mut events = std::collections::HashMap::with_capacity(jobs.len());
        for row in select.build().fetch_all(&self.pool).await.map_err(db_err)? {
            let row = event_row(&row)?;
            events.insert(row.id, row);
        }
        let mut ready = Vec::with_capacity(jobs.len());
        for (id, attempts_made, _) in jobs {
            let event = events
                .remove(&id)
                .ok_or_else(|| corrupt("webhook outbox", format!("event {id} is missing")))
                .and_then(|row| codec::event(&self.keys, row));
            match event {
                Ok(event) => ready.push(DeliveryJob { event, attempts_made, lease: LeaseToken(lease) }),
                // One unreadable event must not block the queue behind it: park
                // it as failed (an operator can redeliver it once the key is
                // configured again) and deliver the others.
                Err(error) => {
                    tracing::error!(event = %id, %error, "webhook event cannot be read; marked failed");
                    sqlx::query(
                        "UPDATE payment_webhook_outbox SET state = 'failed', lease_token = NULL, lease_until = NULL, \
                         updated_at = $1 WHERE event_id = $2 AND lease_token = $3",
                    )
                    .bind(ts_col(now))
                    .bind(id_col(id))
                    .bind(id_col(lease))
                    .execute(self.writer()?)
                    .await
                    .map_err(db_err)?;
                }
            }
        }
        Ok(ready)
    }

    async fn record_attempt(
        &self,
        event: EventId,
        lease: LeaseToken,
        attempt: &DeliveryAttempt,
        outcome: JobOutcome,
    ) -> Result<bool, RepositoryError> {
        let (state, due_at) = match outcome {
            JobOutcome::Delivered => ("delivered", None),
            JobOutcome::RetryAt(at) => ("pending", Some(at)),
            JobOutcome::Failed => ("failed", None),
        };
        let response = Uuid::now_v7();
        let body = match attempt.body.as_deref() {
            Some(body) => Some(codec::seal_json(&self.keys.histories, codec::RESPONSE_BODY, response, body)?),
            None => None,
        };
        let (done, result) = tokio::sync::oneshot::channel();
        lock(&self.attempts.waiting).push(QueuedAttempt {
            event: event.as_uuid(),
            lease: lease.0,
            state,
            due_at: due_at.map(ts_col),
            at: ts_col(attempt.created_at),
            response,
            status: attempt.status.map(i64::from),
            body,
            done,
        });
        self.flush_attempts().await;
        result.await.unwrap_or_else(|_| Err(RepositoryError::Unavailable("the attempt was not written".into())))
    }

    async fn release(&self, event: EventId, lease: LeaseToken) -> Result<(), RepositoryError> {
        sqlx::query(
            "UPDATE payment_webhook_outbox SET lease_token = NULL, lease_until = NULL \
             WHERE event_id = $1 AND lease_token = $2 AND state = 'pending'",
        )
        .bind(id_col(event.as_uuid()))
        .bind(id_col(lease.0))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn purge_settled_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepositoryError> {
        // The job and its attempts go with their event (ON DELETE CASCADE).
        let purged = sqlx::query(
            "DELETE FROM payment_history_webhooks WHERE id IN (\
             SELECT event_id FROM payment_webhook_outbox \
             WHERE state IN ('delivered', 'failed') AND updated_at < $1 ORDER BY updated_at LIMIT $2)",
        )
        .bind(ts_col(cutoff))
        .bind(i64::from(limit))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(purged.rows_affected())
    }

    async fn redeliver(&self, event: EventId, now: Timestamp) -> Result<bool, RepositoryError> {
        let updated = sqlx::query(
            "UPDATE payment_webhook_outbox SET state = 'pending', due_at = $1, attempts = 0, lease_token = NULL, \
             lease_until = NULL, updated_at = $1 WHERE event_id = $2",
        )
        .bind(ts_col(now))
        .bind(id_col(event.as_uuid()))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(updated > 0)
    }

    async fn attempts(&self, event: EventId) -> Result<Vec<DeliveryAttempt>, RepositoryError> {
        let rows = sqlx::query(
            "SELECT id, status, body, created_at FROM payment_history_webhook_responses \
             WHERE payment_history_webhook_id = $1 ORDER BY created_at, id",
        )
        .bind(id_col(event.as_uuid()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let status = get::<Option<i64>>(row, "status")?
                    .map(|s| u16::try_from(s).map_err(|e| corrupt(format!("status of an attempt of {event}"), e)))
                    .transpose()?;
                let body = match get::<Option<String>>(row, "body")? {
                    Some(sealed) => {
                        let id = get_id(row, "id")?;
                        Some(codec::open_json::<String>(&self.keys.histories, codec::RESPONSE_BODY, id, &sealed)?)
                    }
                    None => None,
                };
                Ok(DeliveryAttempt { status, body, created_at: get_ts(row, "created_at")? })
            })
            .collect()
    }

    async fn stats(&self, now: Timestamp) -> Result<OutboxStats, RepositoryError> {
        let row = sqlx::query(
            "SELECT \
             COALESCE(SUM(CASE WHEN state = 'pending' AND attempts = 0 THEN 1 ELSE 0 END), 0) AS pending, \
             COALESCE(SUM(CASE WHEN state = 'pending' AND attempts > 0 THEN 1 ELSE 0 END), 0) AS retrying, \
             COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered, \
             COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS failed, \
             MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest \
             FROM payment_webhook_outbox",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let oldest = get_opt_ts(&row, "oldest")?;
        Ok(OutboxStats {
            pending: to_u64(get(&row, "pending")?),
            retrying: to_u64(get(&row, "retrying")?),
            delivered: to_u64(get(&row, "delivered")?),
            failed: to_u64(get(&row, "failed")?),
            oldest_pending_age: oldest.map(|at| (now - at).to_std().unwrap_or(Duration::ZERO)),
        })
    }
}

#[async_trait]
impl IdempotencyStore for Store {
    async fn begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdempotencyClaim, RepositoryError> {
        // A claim abandoned between our insert and our read is retried; a
        // few rounds settle any race.
        for _ in 0..3 {
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (scope, idempotency_key) DO NOTHING",
            )
            .bind(scope)
            .bind(key)
            .bind(fingerprint)
            .bind(ts_col(now))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?
            .rows_affected();
            if inserted == 1 {
                return Ok(IdempotencyClaim::Proceed);
            }
            let row = sqlx::query(
                "SELECT fingerprint, response_status, response_body FROM idempotency_keys \
                 WHERE scope = $1 AND idempotency_key = $2",
            )
            .bind(scope)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
            let Some(row) = row else { continue };
            if get::<String>(&row, "fingerprint")? != fingerprint {
                return Ok(IdempotencyClaim::Mismatch);
            }
            let status: Option<i64> = get(&row, "response_status")?;
            let body: Option<String> = get(&row, "response_body")?;
            return match (status, body) {
                (Some(status), Some(body)) => {
                    let what = format!("{scope}:{key}");
                    let status = u16::try_from(status).map_err(|e| corrupt("idempotent response status", e))?;
                    let body: String = codec::open_json(&self.keys.histories, codec::IDEMPOTENT_BODY, what, &body)?;
                    Ok(IdempotencyClaim::Replay(StoredResponse { status, body }))
                }
                _ => {
                    // Unanswered for longer than any request runs: its process
                    // died. Take it over, once (the guard makes one taker win).
                    let taken = sqlx::query(
                        "UPDATE idempotency_keys SET created_at = $1 WHERE scope = $2 AND idempotency_key = $3 \
                         AND response_status IS NULL AND created_at < $4",
                    )
                    .bind(ts_col(now))
                    .bind(scope)
                    .bind(key)
                    .bind(ts_col(stale_before))
                    .execute(self.writer()?)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                    Ok(if taken == 1 { IdempotencyClaim::Proceed } else { IdempotencyClaim::InProgress })
                }
            };
        }
        Ok(IdempotencyClaim::InProgress)
    }

    async fn complete(&self, scope: &str, key: &str, response: &StoredResponse) -> Result<(), RepositoryError> {
        let body =
            codec::seal_json(&self.keys.histories, codec::IDEMPOTENT_BODY, format!("{scope}:{key}"), &response.body)?;
        sqlx::query(
            "UPDATE idempotency_keys SET response_status = $1, response_body = $2 \
             WHERE scope = $3 AND idempotency_key = $4",
        )
        .bind(i64::from(response.status))
        .bind(body)
        .bind(scope)
        .bind(key)
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn abandon(&self, scope: &str, key: &str) -> Result<(), RepositoryError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2")
            .bind(scope)
            .bind(key)
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
        Ok(sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(ts_col(cutoff))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?
            .rows_affected())
    }
}
