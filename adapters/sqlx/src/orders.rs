//! Orders ([`OrderRepository`]), written once for both backends like
//! `store.rs`, whose helpers they use. A completion closes the order, inserts
//! its history and records its announcement in one transaction, guarded by
//! the order still being pending: one history and one event per order, on
//! any number of instances.

use super::store::{Store, get, get_id, get_money, get_opt_ts, get_ts};
use super::{DbRow, IdCol, from_id, id_col, money_col, ts_col};

use async_trait::async_trait;
use payments_application::ports::{OrderClosing, OrderRepository, RepositoryError, StoredOrder};
use payments_domain::{
    ClientId, Currency, HistoryId, OrderId, OrderStatus, PasswordHash, PaymentHistory, PaymentOrder, PaymentOrderId,
    Source, StoreId, Timestamp, VendorCode, WebhookEvent, WebhookUrl,
};

use crate::error::{corrupt, db_err, unique_violation};

const COLUMNS: &str = "id, vendor_code, vendor_store_id, source_schema, source_table, source_id, currency, price, \
     webhook_url, password, locked, pg_amount, state, payment_history_id, refusal, created_at, expires_at, closed_at, \
     client_id";

fn state_text(status: &OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "pending",
        OrderStatus::Completed { .. } => "completed",
        OrderStatus::Expired => "expired",
        OrderStatus::Refused { .. } => "refused",
    }
}

fn order_row(row: &DbRow) -> Result<StoredOrder, RepositoryError> {
    let id = get_id(row, "id")?;
    let bad = |what: &str, e: &dyn std::fmt::Display| corrupt(format!("{what} of order {id}"), e);
    let state: String = get(row, "state")?;
    let history = get::<Option<IdCol>>(row, "payment_history_id")?.map(|h| HistoryId::from_uuid(from_id(h)));
    let status = match (state.as_str(), history) {
        ("pending", _) => OrderStatus::Pending,
        ("completed", Some(history)) => OrderStatus::Completed { history },
        ("expired", _) => OrderStatus::Expired,
        ("refused", history) => {
            OrderStatus::Refused { reason: get::<Option<String>>(row, "refusal")?.unwrap_or_default(), history }
        }
        (other, _) => return Err(bad("state", &other)),
    };
    let vendor: String = get(row, "vendor_code")?;
    let order = PaymentOrder {
        id: PaymentOrderId::from_uuid(id),
        vendor_code: vendor.parse::<VendorCode>().map_err(|e| bad("vendor_code", &e))?,
        store_id: StoreId::parse(get::<String>(row, "vendor_store_id")?).map_err(|e| bad("vendor_store_id", &e))?,
        source: Source::parse(
            &get::<String>(row, "source_schema")?,
            &get::<String>(row, "source_table")?,
            &get::<String>(row, "source_id")?,
        )
        .map_err(|e| bad("source", &e))?,
        currency: Currency::parse(get::<String>(row, "currency")?).map_err(|e| bad("currency", &e))?,
        price: get_money(row, "price")?,
        webhook_url: WebhookUrl::parse(&get::<String>(row, "webhook_url")?).map_err(|e| bad("webhook_url", &e))?,
        locked: get(row, "locked")?,
        pg_amount: get(row, "pg_amount")?,
        created_at: get_ts(row, "created_at")?,
        expires_at: get_ts(row, "expires_at")?,
        status,
        closed_at: get_opt_ts(row, "closed_at")?,
        client: get::<Option<IdCol>>(row, "client_id")?.map_or(ClientId::LEGACY, |c| ClientId::from_uuid(from_id(c))),
    };
    let password_hash = PasswordHash::parse(get::<String>(row, "password")?).map_err(|e| bad("password", &e))?;
    Ok(StoredOrder { order, password_hash })
}

/// The `SELECT` of orders under `clause`.
fn select(clause: &str) -> String {
    format!("SELECT {COLUMNS} FROM payment_orders WHERE {clause}")
}

impl Store {
    async fn fetch_orders(&self, query: super::store::Query<'_>) -> Result<Vec<StoredOrder>, RepositoryError> {
        query.fetch_all(&self.pool).await.map_err(db_err)?.iter().map(order_row).collect()
    }
}

#[async_trait]
impl OrderRepository for Store {
    async fn insert_order(&self, order: &PaymentOrder, password_hash: &PasswordHash) -> Result<(), RepositoryError> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO payment_orders ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        ))
        .bind(id_col(order.id.as_uuid()))
        .bind(order.vendor_code.as_str())
        .bind(order.store_id.as_str())
        .bind(order.source.schema.as_str())
        .bind(order.source.table.as_str())
        .bind(order.source.id.as_str())
        .bind(order.currency.as_str())
        .bind(money_col(order.price))
        .bind(order.webhook_url.as_str())
        .bind(password_hash.as_str())
        .bind(order.locked)
        .bind(&order.pg_amount)
        .bind(state_text(&order.status))
        .bind(order.history().map(|h| id_col(h.as_uuid())))
        .bind(None::<String>)
        .bind(ts_col(order.created_at))
        .bind(ts_col(order.expires_at))
        .bind(order.closed_at.map(ts_col))
        .bind(super::store::client_col(order.client))
        .execute(self.writer()?)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(error) if unique_violation(&error).is_some() => {
                Err(RepositoryError::Conflict("source: an order is already registered for this source".into()))
            }
            Err(error) => Err(db_err(error)),
        }
    }

    async fn record_lock(&self, id: PaymentOrderId, locked: bool, pg_amount: &str) -> Result<(), RepositoryError> {
        sqlx::query("UPDATE payment_orders SET locked = $1, pg_amount = $2 WHERE id = $3")
            .bind(locked)
            .bind(pg_amount)
            .bind(id_col(id.as_uuid()))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn remove_pending_order(&self, id: PaymentOrderId) -> Result<bool, RepositoryError> {
        let removed = sqlx::query("DELETE FROM payment_orders WHERE id = $1 AND state = 'pending'")
            .bind(id_col(id.as_uuid()))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(removed.rows_affected() == 1)
    }

    async fn find_order(&self, id: PaymentOrderId) -> Result<Option<StoredOrder>, RepositoryError> {
        let sql = select("id = $1");
        Ok(self.fetch_orders(sqlx::query(&sql).bind(id_col(id.as_uuid()))).await?.pop())
    }

    async fn find_order_by_source(
        &self,
        client: ClientId,
        source: &Source,
    ) -> Result<Option<StoredOrder>, RepositoryError> {
        let query = select(super::store::SOURCE_OF_CLIENT);
        let query = sqlx::query(&query)
            .bind(source.schema.as_str())
            .bind(source.table.as_str())
            .bind(source.id.as_str())
            .bind(super::store::client_col(client));
        Ok(self.fetch_orders(query).await?.pop())
    }

    async fn pending_orders_for(
        &self,
        code: VendorCode,
        order_id: &OrderId,
        limit: u32,
    ) -> Result<Vec<StoredOrder>, RepositoryError> {
        let sql = select("vendor_code = $1 AND source_id = $2 AND state = 'pending' ORDER BY created_at LIMIT $3");
        self.fetch_orders(sqlx::query(&sql).bind(code.as_str()).bind(order_id.as_str()).bind(i64::from(limit))).await
    }

    async fn pending_orders(
        &self,
        after: Option<PaymentOrderId>,
        limit: u32,
    ) -> Result<Vec<StoredOrder>, RepositoryError> {
        let after = after.map_or(uuid::Uuid::nil(), |id| id.as_uuid());
        let sql = select("state = 'pending' AND id > $1 ORDER BY id LIMIT $2");
        self.fetch_orders(sqlx::query(&sql).bind(id_col(after)).bind(i64::from(limit))).await
    }

    async fn complete_order(
        &self,
        id: PaymentOrderId,
        closing: &OrderClosing,
        history: &PaymentHistory,
        password_hash: &PasswordHash,
        event: &WebhookEvent,
    ) -> Result<(), RepositoryError> {
        let new_history = self.prepare_history(history, password_hash).await?;
        let new_event = self.prepare_event(history.id(), event)?;
        let (state, reason, at) = match closing {
            OrderClosing::Completed { at } => ("completed", None, *at),
            OrderClosing::Refused { reason, at } => ("refused", Some(reason.as_str()), *at),
        };
        let mut tx = self.begin_write().await?;
        // The history first (the order's row points at it), then the guard:
        // on PostgreSQL the guarded update row-locks the order, so a second
        // completer waits and then finds it no longer pending.
        new_history.write(&mut tx).await?;
        let closed = sqlx::query(
            "UPDATE payment_orders SET state = $1, payment_history_id = $2, refusal = $3, closed_at = $4 \
             WHERE id = $5 AND state = 'pending'",
        )
        .bind(state)
        .bind(id_col(history.id().as_uuid()))
        .bind(reason)
        .bind(ts_col(at))
        .bind(id_col(id.as_uuid()))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if closed != 1 {
            tx.rollback().await.map_err(db_err)?;
            return Err(RepositoryError::Stale);
        }
        new_event.write(&mut tx).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn close_order(
        &self,
        id: PaymentOrderId,
        status: &OrderStatus,
        at: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let (history, reason) = match status {
            OrderStatus::Pending => return Ok(false),
            OrderStatus::Completed { history } => (Some(*history), None),
            OrderStatus::Expired => (None, None),
            OrderStatus::Refused { reason, history } => (*history, Some(reason.as_str())),
        };
        let closed = sqlx::query(
            "UPDATE payment_orders SET state = $1, payment_history_id = $2, refusal = $3, closed_at = $4 \
             WHERE id = $5 AND state = 'pending'",
        )
        .bind(state_text(status))
        .bind(history.map(|h| id_col(h.as_uuid())))
        .bind(reason)
        .bind(ts_col(at))
        .bind(id_col(id.as_uuid()))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(closed.rows_affected() == 1)
    }
}
