//! The console's reads ([`ConsoleQueries`]), written once for both backends
//! like `store.rs`: searches on plain and digest columns (nothing decrypted
//! to find a payment), a payment's events with their delivery attempts.

use super::store::{Store, event_row, feed_delivery, get, get_id, get_opt_ts, get_ts};
use super::{Db, DbRow, IdCol, from_id, from_money, from_money_sum, id_col, money_col, money_sum_sql, ts_col};

use async_trait::async_trait;
use payments_application::ports::{
    AttemptRow, ConsoleQueries, NotificationRow, PaymentRow, PaymentSearch, PaymentStateFilter, RepositoryError,
    SavedCardRow, SearchTotals, TimelineEvent, UndeliveredRow,
};
use payments_domain::{ClientId, Currency, EventId, HistoryId, SavedCardId, Source, Vendor};
use sqlx::QueryBuilder;

use crate::codec;
use crate::error::{corrupt, db_err};

const ROW_COLUMNS: &str = "id, vendor_code, vendor_store_id, vendor_uid, source_schema, source_table, source_id, \
     currency, price, refund, created_at, paid_at, cancelled_at, client_id";
/// Most rows one search answers.
const MAX_PAGE: u32 = 200;
/// Delivery attempts read per event shown, on average (a bound, not a cut per event).
const MAX_ATTEMPTS: i64 = 50;

fn payment_row(row: &DbRow) -> Result<PaymentRow, RepositoryError> {
    let id = get_id(row, "id")?;
    let bad = |what: &str, e: &dyn std::fmt::Display| corrupt(format!("{what} of payment {id}"), e);
    let text = |column: &str| get::<String>(row, column);
    let vendor = Vendor::parse(&text("vendor_code")?, &text("vendor_store_id")?, &text("vendor_uid")?)
        .map_err(|e| bad("vendor", &e))?;
    let source = Source::parse(&text("source_schema")?, &text("source_table")?, &text("source_id")?)
        .map_err(|e| bad("source", &e))?;
    Ok(PaymentRow {
        id: HistoryId::from_uuid(id),
        vendor,
        source,
        currency: Currency::parse(&text("currency")?).map_err(|e| bad("currency", &e))?,
        price: from_money(get(row, "price")?)?,
        refund: from_money(get(row, "refund")?)?,
        created_at: get_ts(row, "created_at")?,
        paid_at: get_opt_ts(row, "paid_at")?,
        cancelled_at: get_opt_ts(row, "cancelled_at")?,
        client: get::<Option<IdCol>>(row, "client_id")?.map_or(ClientId::LEGACY, |c| ClientId::from_uuid(from_id(c))),
    })
}

/// The SQL condition of a state (amounts compared as numbers on both backends).
fn state_condition(state: PaymentStateFilter) -> &'static str {
    match state {
        PaymentStateFilter::Paid => "paid_at IS NOT NULL AND CAST(refund AS REAL) = 0",
        PaymentStateFilter::AwaitingPayment => "paid_at IS NULL AND CAST(refund AS REAL) = 0",
        PaymentStateFilter::PartlyRefunded => "CAST(refund AS REAL) > 0 AND CAST(refund AS REAL) < CAST(price AS REAL)",
        PaymentStateFilter::Refunded => "CAST(refund AS REAL) > 0 AND CAST(refund AS REAL) >= CAST(price AS REAL)",
    }
}

fn count(row: &DbRow, column: &str) -> Result<u32, RepositoryError> {
    Ok(u32::try_from(get::<i64>(row, column)?).unwrap_or(u32::MAX))
}

/// The conditions of `search` on `payment_histories` (but its cursor).
fn push_filters(query: &mut QueryBuilder<'_, Db>, search: &PaymentSearch) {
    if let Some(source_id) = &search.source_id {
        query.push(" AND source_id = ").push_bind(source_id.clone());
    }
    if let Some(order_id) = &search.order_id {
        query.push(" AND vendor_order_digest = ").push_bind(payments_application::lookup_digest(order_id));
    }
    if let Some(uid) = &search.uid {
        query.push(" AND vendor_uid = ").push_bind(uid.clone());
    }
    if let Some(vendor) = search.vendor {
        query.push(" AND vendor_code = ").push_bind(vendor.as_str());
    }
    if let Some(state) = search.state {
        query.push(" AND ").push(state_condition(state));
    }
    if let Some(from) = search.from {
        query.push(" AND created_at >= ").push_bind(ts_col(from));
    }
    if let Some(to) = search.to {
        query.push(" AND created_at < ").push_bind(ts_col(to));
    }
    if let Some(min) = search.min_price {
        query.push(" AND CAST(price AS REAL) >= CAST(").push_bind(money_col(min)).push(" AS REAL)");
    }
    if let Some(max) = search.max_price {
        query.push(" AND CAST(price AS REAL) <= CAST(").push_bind(money_col(max)).push(" AS REAL)");
    }
}

#[async_trait]
impl ConsoleQueries for Store {
    async fn search_saved_cards(
        &self,
        source_id: Option<String>,
        before: Option<SavedCardId>,
        limit: u32,
    ) -> Result<Vec<SavedCardRow>, RepositoryError> {
        let mut query = QueryBuilder::<Db>::new(
            "SELECT id, vendor_code, vendor_store_id, source_schema, source_table, source_id, title, created_at, \
             removed_at, client_id FROM payment_reservations WHERE 1 = 1",
        );
        if let Some(source_id) = source_id {
            query.push(" AND source_id = ").push_bind(source_id);
        }
        if let Some(before) = before {
            query.push(" AND id < ").push_bind(id_col(before.as_uuid()));
        }
        query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit.clamp(1, MAX_PAGE)));
        let rows = query.build().fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let id = get_id(row, "id")?;
                let bad = |what: &str, e: &dyn std::fmt::Display| corrupt(format!("{what} of saved card {id}"), e);
                let text = |column: &str| get::<String>(row, column);
                let source = Source::parse(&text("source_schema")?, &text("source_table")?, &text("source_id")?)
                    .map_err(|e| bad("source", &e))?;
                Ok(SavedCardRow {
                    id: SavedCardId::from_uuid(id),
                    vendor: text("vendor_code")?.parse().map_err(|e| bad("vendor", &e))?,
                    store_id: text("vendor_store_id")?,
                    source,
                    title: text("title")?,
                    created_at: get_ts(row, "created_at")?,
                    removed_at: get_opt_ts(row, "removed_at")?,
                    client: get::<Option<IdCol>>(row, "client_id")?
                        .map_or(ClientId::LEGACY, |c| ClientId::from_uuid(from_id(c))),
                })
            })
            .collect()
    }

    async fn undelivered(&self, limit: u32) -> Result<Vec<UndeliveredRow>, RepositoryError> {
        let rows = sqlx::query(
            "SELECT o.event_id, o.state, o.attempts, o.due_at, e.created_at, h.id AS history_id, h.source_id, \
             h.webhook_url FROM payment_webhook_outbox o \
             JOIN payment_history_webhooks e ON e.id = o.event_id \
             JOIN payment_histories h ON h.id = e.payment_history_id \
             WHERE o.state IN ('pending', 'failed') ORDER BY o.event_id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                Ok(UndeliveredRow {
                    event: EventId::from_uuid(get_id(row, "event_id")?),
                    history: HistoryId::from_uuid(get_id(row, "history_id")?),
                    source_id: get(row, "source_id")?,
                    webhook_url: payments_domain::WebhookUrl::parse(get::<String>(row, "webhook_url")?)
                        .map_err(|e| corrupt("a payment's webhook URL", e))?,
                    failed: get::<String>(row, "state")? == "failed",
                    attempts: count(row, "attempts")?,
                    due_at: get_ts(row, "due_at")?,
                    created_at: get_ts(row, "created_at")?,
                })
            })
            .collect()
    }

    async fn unprocessed_notifications(&self, limit: u32) -> Result<Vec<NotificationRow>, RepositoryError> {
        let rows = sqlx::query(
            "SELECT vendor_code, state, attempts, received_at, last_error FROM pg_notifications \
             WHERE state IN ('pending', 'failed') ORDER BY received_at DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let vendor: String = get(row, "vendor_code")?;
                Ok(NotificationRow {
                    vendor: vendor.parse().map_err(|e| corrupt("a notification's vendor", e))?,
                    state: get(row, "state")?,
                    attempts: count(row, "attempts")?,
                    received_at: get_ts(row, "received_at")?,
                    last_error: get(row, "last_error")?,
                })
            })
            .collect()
    }

    async fn search_payments(&self, search: &PaymentSearch) -> Result<Vec<PaymentRow>, RepositoryError> {
        let mut query = QueryBuilder::<Db>::new(format!("SELECT {ROW_COLUMNS} FROM payment_histories WHERE 1 = 1"));
        push_filters(&mut query, search);
        if let Some(before) = search.before {
            query.push(" AND id < ").push_bind(id_col(before.as_uuid()));
        }
        query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(search.limit.clamp(1, MAX_PAGE)));
        let rows = query.build().fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter().map(payment_row).collect()
    }

    async fn search_totals(&self, search: &PaymentSearch) -> Result<SearchTotals, RepositoryError> {
        let mut query = QueryBuilder::<Db>::new(format!(
            "SELECT currency, COUNT(*) AS payments, {}, {} FROM payment_histories WHERE 1 = 1",
            money_sum_sql("price", "price"),
            money_sum_sql("refund", "refund")
        ));
        push_filters(&mut query, search);
        query.push(" GROUP BY currency ORDER BY currency");
        let rows = query.build().fetch_all(&self.pool).await.map_err(db_err)?;
        let mut totals = SearchTotals::default();
        for row in &rows {
            let currency: String = get(row, "currency")?;
            let currency = Currency::parse(&currency).map_err(|e| corrupt("a payment's currency", e))?;
            totals.count += u64::try_from(get::<i64>(row, "payments")?).unwrap_or(0);
            totals.per_currency.push((currency, from_money_sum(row, "price")?, from_money_sum(row, "refund")?));
        }
        Ok(totals)
    }

    async fn payment_timeline(&self, history: HistoryId, limit: u32) -> Result<Vec<TimelineEvent>, RepositoryError> {
        let rows = sqlx::query(
            "SELECT e.id, e.previous, e.current, e.data, e.created_at, o.state, o.attempts \
             FROM payment_history_webhooks e LEFT JOIN payment_webhook_outbox o ON o.event_id = e.id \
             WHERE e.payment_history_id = $1 ORDER BY e.id LIMIT $2",
        )
        .bind(id_col(history.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        // Every attempt of the payment's events in one query (no query per
        // event), bounded, grouped below.
        let attempt_rows = sqlx::query(
            "SELECT r.payment_history_webhook_id, r.status, r.created_at FROM payment_history_webhook_responses r \
             JOIN payment_history_webhooks e ON e.id = r.payment_history_webhook_id \
             WHERE e.payment_history_id = $1 ORDER BY r.created_at LIMIT $2",
        )
        .bind(id_col(history.as_uuid()))
        .bind(i64::from(limit).saturating_mul(MAX_ATTEMPTS))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut attempts: std::collections::HashMap<uuid::Uuid, Vec<AttemptRow>> = std::collections::HashMap::new();
        for row in &attempt_rows {
            attempts.entry(get_id(row, "payment_history_webhook_id")?).or_default().push(AttemptRow {
                at: get_ts(row, "created_at")?,
                status: get::<Option<i64>>(row, "status")?.and_then(|s| u16::try_from(s).ok()),
            });
        }
        let mut timeline = Vec::with_capacity(rows.len());
        for row in &rows {
            let event = codec::event(&self.keys, event_row(row)?)?;
            let delivery = feed_delivery(row)?;
            let attempts = attempts.remove(&event.id().as_uuid()).unwrap_or_default();
            timeline.push(TimelineEvent { event, delivery, attempts });
        }
        Ok(timeline)
    }

    async fn event_payment(&self, event: EventId) -> Result<Option<HistoryId>, RepositoryError> {
        let row = sqlx::query("SELECT payment_history_id FROM payment_history_webhooks WHERE id = $1")
            .bind(id_col(event.as_uuid()))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|row| get_id(&row, "payment_history_id").map(HistoryId::from_uuid)).transpose()
    }
}
