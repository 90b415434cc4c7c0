//! Payment histories ([`HistoryRepository`]): rows, cancels, sealed order ids.

use super::{Db, DbRow, IdCol, from_id, id_col, money_col, ts_col};

use async_trait::async_trait;
use payments_application::ports::{EnqueueLease, HistoryRepository, RepositoryError, Revision, StoredHistory};
use payments_domain::{
    CancelHistory, CancelKey, ClientId, HistoryId, OrderId, PasswordHash, PaymentHistory, Source, Timestamp,
    VendorCode, VendorUid, WebhookEvent,
};
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::codec::{self};
use crate::error::{db_err, insert_error};

use super::store::*;

pub(super) const HISTORY_COLUMNS: &str = "id, vendor_code, vendor_store_id, vendor_uid, vendor_order_id, source_schema, \
     source_table, source_id, currency, price, webhook_url, data, password, created_at, paid_at, cancelled_at, revision, \
     payment_reservation_id, pending_cancels, client_id";

/// Cancels written by one `INSERT` (8 binds each: 4,000 binds). A payment's
/// cancels are written in statements of at most this many rows, so however
/// many a PG lists, no statement passes the databases' limits on bound
/// variables (SQLite's `SQLITE_MAX_VARIABLE_NUMBER`, 32,766 since 3.32;
/// PostgreSQL's protocol, 65,535 per statement).
const CANCELS_PER_INSERT: usize = 500;

/// A new history's writes, sealed before its transaction begins.
pub(super) struct NewHistory {
    insert: QueryBuilder<'static, Db>,
    cancels: Vec<QueryBuilder<'static, Db>>,
    vendor_code: &'static str,
    vendor_uid: String,
}

impl NewHistory {
    /// Writes it in `tx`.
    ///
    /// # Errors
    /// `Conflict` naming the unique key taken; `Unavailable`.
    pub(super) async fn write(mut self, tx: &mut Tx) -> Result<(), RepositoryError> {
        self.insert
            .build()
            .execute(&mut **tx)
            .await
            .map_err(|e| insert_error(e, "payment", self.vendor_code, &self.vendor_uid))?;
        for mut insert in self.cancels {
            insert.build().execute(&mut **tx).await.map_err(db_err)?;
        }
        Ok(())
    }
}

/// An event's writes (its row and its delivery, due at its creation, leased
/// to the process committing it when it delivers it itself), sealed before
/// its transaction begins.
pub(super) struct NewEvent {
    id: Uuid,
    history: Uuid,
    sealed: [String; 3],
    created: super::TsCol,
    lease: Option<(Uuid, super::TsCol)>,
}

impl NewEvent {
    /// Writes it in `tx`.
    ///
    /// # Errors
    /// `Unavailable`.
    pub(super) async fn write(self, tx: &mut Tx) -> Result<(), RepositoryError> {
        let [previous, current, trigger] = self.sealed;
        sqlx::query(
            "INSERT INTO payment_history_webhooks (id, payment_history_id, previous, current, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_col(self.id))
        .bind(id_col(self.history))
        .bind(previous)
        .bind(current)
        .bind(trigger)
        .bind(self.created)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        let (lease_token, lease_until) = self.lease.map_or((None, None), |(token, until)| (Some(token), Some(until)));
        sqlx::query(
            "INSERT INTO payment_webhook_outbox \
             (event_id, state, due_at, attempts, created_at, updated_at, lease_token, lease_until) \
             VALUES ($1, 'pending', $2, 0, $2, $2, $3, $4)",
        )
        .bind(id_col(self.id))
        .bind(self.created)
        .bind(lease_token.map(id_col))
        .bind(lease_until)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

impl Store {
    /// Seals a new history (revision 0) for [`NewHistory::write`].
    pub(super) async fn prepare_history(
        &self,
        history: &PaymentHistory,
        password_hash: &PasswordHash,
    ) -> Result<NewHistory, RepositoryError> {
        let id = history.id();
        let data = codec::seal_json(&self.keys.histories, codec::HISTORY_DATA, id, history.data())?;
        let vendor = history.vendor();
        let source = history.source();
        let (order, order_digest) = self.seal_order(history)?;
        let cancels = self.new_cancels(id, history.cancels(), StoredCancels::None, 0).await?;
        let pending = codec::seal_pending(&self.keys, id, history.pending_cancels())?;
        let mut insert = QueryBuilder::<Db>::new(
            "INSERT INTO payment_histories (id, vendor_code, vendor_store_id, vendor_uid, vendor_order_id, \
             vendor_order_digest, source_schema, source_table, source_id, currency, price, refund, webhook_url, \
             data, password, created_at, paid_at, cancelled_at, revision, payment_reservation_id, pending_cancels, \
             client_id) ",
        );
        insert.push_values([()], |mut b, ()| {
            b.push_bind(id_col(id.as_uuid()))
                .push_bind(vendor.code.as_str())
                .push_bind(vendor.store_id.as_str().to_owned())
                .push_bind(vendor.uid.as_str().to_owned())
                .push_bind(order.clone())
                .push_bind(order_digest.clone())
                .push_bind(source.schema.as_str().to_owned())
                .push_bind(source.table.as_str().to_owned())
                .push_bind(source.id.as_str().to_owned())
                .push_bind(history.currency().as_str().to_owned())
                .push_bind(money_col(history.price()))
                .push_bind(money_col(history.refund()))
                .push_bind(history.webhook_url().as_str().to_owned())
                .push_bind(data.clone())
                .push_bind(password_hash.as_str().to_owned())
                .push_bind(ts_col(history.created_at()))
                .push_bind(history.paid_at().map(ts_col))
                .push_bind(history.cancelled_at().map(ts_col))
                .push_bind(0_i64)
                .push_bind(history.identity().reservation_id.map(|r| id_col(r.as_uuid())))
                .push_bind(pending.clone())
                .push_bind(client_col(history.identity().client));
        });
        Ok(NewHistory {
            insert,
            cancels,
            vendor_code: vendor.code.as_str(),
            vendor_uid: vendor.uid.as_str().to_owned(),
        })
    }

    /// Seals an event of `history` for [`NewEvent::write`].
    pub(super) fn prepare_event(&self, history: HistoryId, event: &WebhookEvent) -> Result<NewEvent, RepositoryError> {
        if event.history_id() != history {
            return Err(RepositoryError::Other(anyhow::anyhow!(
                "event {} is of history {}, not of {}",
                event.id(),
                event.history_id(),
                history
            )));
        }
        Ok(NewEvent {
            id: event.id().as_uuid(),
            history: history.as_uuid(),
            sealed: codec::seal_event(&self.keys, event)?,
            created: ts_col(event.created_at()),
            lease: None,
        })
    }

    /// A history's PG order id sealed for its row, and its lookup digest.
    fn seal_order(&self, history: &PaymentHistory) -> Result<(Option<String>, Option<String>), RepositoryError> {
        let Some(order) = history.order_id() else { return Ok((None, None)) };
        let sealed = codec::seal_json(&self.keys.histories, codec::HISTORY_ORDER, history.id(), order.as_str())?;
        Ok((Some(sealed), Some(payments_application::lookup_digest(order.as_str()))))
    }

    /// Loads a history from its row (query 1) and its cancels as of the row's
    /// revision (query 2): at most two queries, never a mix of two states. A
    /// history never cancelled has no cancels (the domain sets `cancelled_at`
    /// with the first): its row is all there is to read.
    async fn load_history(&self, row: Option<DbRow>) -> Result<Option<StoredHistory>, RepositoryError> {
        let Some(row) = row else { return Ok(None) };
        let row = history_row(&row)?;
        if row.cancelled_at.is_none() {
            return codec::history(&self.keys, row, Vec::new()).map(Some);
        }
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

    /// The cancels of `history` not among those `stored`, sealed into
    /// inserts recording them at `revision`, [`CANCELS_PER_INSERT`] rows
    /// each; none when every cancel is stored. Any read is outside the
    /// transaction, so the sealing and the read stay out of the write path:
    /// when the guarded update of the same change then succeeds, the stored
    /// cancels are still those of `stored` (and an insert of one stored
    /// already does nothing).
    async fn new_cancels(
        &self,
        history: HistoryId,
        cancels: &[CancelHistory],
        stored: StoredCancels<'_>,
        revision: i64,
    ) -> Result<Vec<QueryBuilder<'static, Db>>, RepositoryError> {
        let stored: std::collections::HashSet<String> = match stored {
            StoredCancels::Known(known) => known.iter().map(|c| c.key.as_str().to_owned()).collect(),
            StoredCancels::AtRevision(stored) if !cancels.is_empty() => sqlx::query_scalar(
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
        let mut inserts = Vec::with_capacity(cancels.len().div_ceil(CANCELS_PER_INSERT));
        for chunk in cancels.chunks(CANCELS_PER_INSERT) {
            let mut sealed = Vec::with_capacity(chunk.len());
            for cancel in chunk {
                let id = Uuid::now_v7();
                sealed.push((id, codec::seal_json(&self.keys.cancels, codec::CANCEL_DATA, id, &cancel.data)?));
            }
            let mut insert = QueryBuilder::<Db>::new(
                "INSERT INTO payment_history_cancels \
                 (id, payment_history_id, cancel_key, added_revision, amount, reason, data, created_at) ",
            );
            insert.push_values(chunk.iter().zip(sealed), |mut b, (cancel, (id, data))| {
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
            inserts.push(insert);
        }
        Ok(inserts)
    }
}

#[async_trait]
impl HistoryRepository for Store {
    async fn insert(&self, history: &PaymentHistory, password_hash: &PasswordHash) -> Result<(), RepositoryError> {
        let prepared = self.prepare_history(history, password_hash).await?;
        let mut tx = self.begin_write().await?;
        prepared.write(&mut tx).await?;
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

    async fn find_by_source(
        &self,
        client: ClientId,
        source: &Source,
    ) -> Result<Option<StoredHistory>, RepositoryError> {
        let row = sqlx::query(&format!("SELECT {HISTORY_COLUMNS} FROM payment_histories WHERE {SOURCE_OF_CLIENT}"))
            .bind(source.schema.as_str())
            .bind(source.table.as_str())
            .bind(source.id.as_str())
            .bind(client_col(client))
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

    async fn find_by_cancel_key(
        &self,
        code: VendorCode,
        key: &CancelKey,
    ) -> Result<Option<StoredHistory>, RepositoryError> {
        // Cancel keys are the PG's transaction keys: unique at the PG, so one
        // history at most (the oldest, should two stores ever share one). A
        // cancel the PG accepted and completes later is known by its intent
        // until it is recorded.
        let row = sqlx::query(&format!(
            "SELECT {HISTORY_COLUMNS} FROM payment_histories WHERE vendor_code = $1 AND id IN \
             (SELECT payment_history_id FROM payment_history_cancels WHERE cancel_key = $2 \
              UNION SELECT payment_history_id FROM payment_cancel_intents WHERE cancel_key = $2) \
             ORDER BY created_at LIMIT 1"
        ))
        .bind(code.as_str())
        .bind(key.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        self.load_history(row).await
    }

    async fn save_change(
        &self,
        expected: Revision,
        next: &PaymentHistory,
        event: &WebhookEvent,
    ) -> Result<(), RepositoryError> {
        self.write_change(expected, next, event, None).await
    }

    async fn save_change_leased(
        &self,
        expected: Revision,
        next: &PaymentHistory,
        event: &WebhookEvent,
        lease: EnqueueLease,
    ) -> Result<bool, RepositoryError> {
        self.write_change(expected, next, event, Some(lease)).await.map(|()| true)
    }
}

/// Which of a history's cancels are stored already, for [`Store::new_cancels`].
enum StoredCancels<'a> {
    /// A new history: none.
    None,
    /// Those of this revision, read from the database.
    AtRevision(i64),
    /// These: the cancels of the record the change was made from, as it
    /// was loaded at the revision the change is guarded by (so exactly those
    /// stored when the guarded update succeeds; none read again).
    Known(&'a [CancelHistory]),
}

impl Store {
    /// [`HistoryRepository::save_change`], its delivery leased or not.
    async fn write_change(
        &self,
        expected: Revision,
        next: &PaymentHistory,
        event: &WebhookEvent,
        lease: Option<EnqueueLease>,
    ) -> Result<(), RepositoryError> {
        let stored = match event.previous() {
            Some(previous) => StoredCancels::Known(previous.cancels()),
            None => StoredCancels::AtRevision(expected.0),
        };
        let mut event = self.prepare_event(next.id(), event)?;
        event.lease = lease.map(|lease| (lease.token.0, ts_col(lease.until)));
        let id = next.id();
        let revision = expected.0.checked_add(1).ok_or(RepositoryError::Stale)?;
        let data = codec::seal_json(&self.keys.histories, codec::HISTORY_DATA, id, next.data())?;
        let cancels = self.new_cancels(id, next.cancels(), stored, revision).await?;
        let pending = codec::seal_pending(&self.keys, id, next.pending_cancels())?;
        let (order, order_digest) = self.seal_order(next)?;

        // The guarded update comes first: it takes the write lock (SQLite) or
        // the row lock (PostgreSQL) and decides, before anything else is written.
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE payment_histories SET price = $1, refund = $2, data = $3, paid_at = $4, cancelled_at = $5, \
             revision = $6, vendor_order_id = COALESCE(vendor_order_id, $7), \
             vendor_order_digest = COALESCE(vendor_order_digest, $8), pending_cancels = $11 \
             WHERE id = $9 AND revision = $10",
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
        .bind(pending)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if updated != 1 {
            tx.rollback().await.map_err(db_err)?;
            return Err(RepositoryError::Stale);
        }
        for mut insert in cancels {
            insert.build().execute(&mut *tx).await.map_err(db_err)?;
        }
        event.write(&mut tx).await?;
        tx.commit().await.map_err(db_err)
    }
}
