//! Backend-independent conversions between stored rows and domain values,
//! and the sealing of values at rest.

use payments_application::ports::{RepositoryError, StoredHistory, StoredSavedCard};
use payments_crypto::Keyring;
use payments_domain::{
    CancelHistory, CancelKey, CancelReason, ClientId, Currency, EventId, HistoryId, HistoryIdentity, HistoryParts,
    Money, OrderId, PasswordHash, PaymentHistory, SavedCard, SavedCardId, Source, StoreId, Timestamp, Title, Vendor,
    VendorUid, WebhookEvent, WebhookUrl,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::AtRestKeys;
use crate::error::corrupt;

/// The associated data binding a sealed value to its column and row, e.g.
/// `payment_histories.data:<id>`: a value copied elsewhere fails to open.
pub(crate) fn context(column: &str, row: impl std::fmt::Display) -> Vec<u8> {
    format!("{column}:{row}").into_bytes()
}

/// Seals the JSON of `value`.
pub(crate) fn seal_json<T: Serialize + ?Sized>(
    keyring: &Keyring,
    column: &str,
    row: impl std::fmt::Display,
    value: &T,
) -> Result<String, RepositoryError> {
    let json = serde_json::to_vec(value).map_err(|e| RepositoryError::Other(anyhow::Error::new(e)))?;
    Ok(keyring.seal(&context(column, row), &json))
}

/// Opens and parses a value sealed by [`seal_json`].
pub(crate) fn open_json<T: DeserializeOwned>(
    keyring: &Keyring,
    column: &str,
    row: impl std::fmt::Display,
    sealed: &str,
) -> Result<T, RepositoryError> {
    let plain = keyring.open(&context(column, &row), sealed).map_err(|e| corrupt(format!("{column} of {row}"), e))?;
    serde_json::from_slice(&plain).map_err(|e| corrupt(format!("{column} of {row}"), e))
}

pub(crate) const HISTORY_DATA: &str = "payment_histories.data";
pub(crate) const HISTORY_ORDER: &str = "payment_histories.vendor_order_id";
pub(crate) const HISTORY_PENDING: &str = "payment_histories.pending_cancels";
pub(crate) const CANCEL_DATA: &str = "payment_history_cancels.data";
pub(crate) const RESERVATION_DATA: &str = "payment_reservations.data";
pub(crate) const EVENT_PREVIOUS: &str = "payment_history_webhooks.previous";
pub(crate) const EVENT_CURRENT: &str = "payment_history_webhooks.current";
pub(crate) const EVENT_DATA: &str = "payment_history_webhooks.data";
pub(crate) const IDEMPOTENT_BODY: &str = "idempotency_keys.response_body";
pub(crate) const RESPONSE_BODY: &str = "payment_history_webhook_responses.body";

/// A `payment_histories` row, decoded from either backend.
pub(crate) struct HistoryRow {
    pub id: Uuid,
    pub vendor_code: String,
    pub vendor_store_id: String,
    pub vendor_uid: String,
    pub vendor_order_id: Option<String>,
    pub source_schema: String,
    pub source_table: String,
    pub source_id: String,
    pub currency: String,
    pub price: Money,
    pub webhook_url: String,
    pub data: String,
    pub password: String,
    pub created_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
    pub revision: i64,
    pub reservation_id: Option<Uuid>,
    /// The sealed JSON array of pending cancels; `None`: none.
    pub pending_cancels: Option<String>,
    /// Its client; `None`: the legacy client.
    pub client_id: Option<Uuid>,
}

/// A `payment_history_cancels` row.
pub(crate) struct CancelRow {
    pub id: Uuid,
    pub key: String,
    pub amount: Money,
    pub reason: String,
    pub data: String,
    pub created_at: Timestamp,
}

/// A `payment_reservations` row.
pub(crate) struct ReservationRow {
    pub id: Uuid,
    pub vendor_code: String,
    pub vendor_store_id: String,
    pub vendor_uid: String,
    pub source_schema: String,
    pub source_table: String,
    pub source_id: String,
    pub title: String,
    pub data: String,
    pub password: String,
    pub created_at: Timestamp,
    pub vendor_key_digest: Option<String>,
    pub removed_at: Option<Timestamp>,
    /// Its client; `None`: the legacy client.
    pub client_id: Option<Uuid>,
}

/// A `payment_history_webhooks` row.
pub(crate) struct EventRow {
    pub id: Uuid,
    pub previous: String,
    pub current: String,
    pub data: String,
    pub created_at: Timestamp,
}

fn field<T, E: std::fmt::Display>(what: &str, row: Uuid, parsed: Result<T, E>) -> Result<T, RepositoryError> {
    parsed.map_err(|e| corrupt(format!("{what} of {row}"), e))
}

fn vendor(row: Uuid, code: &str, store: String, uid: String) -> Result<Vendor, RepositoryError> {
    Ok(Vendor::new(
        field("vendor_code", row, code.parse())?,
        field("vendor_store_id", row, StoreId::parse(store))?,
        field("vendor_uid", row, VendorUid::parse(uid))?,
    ))
}

/// The pending cancels of history `id`, sealed for its row (`None`: none).
///
/// # Errors
/// When sealing fails.
pub(crate) fn seal_pending(
    keys: &AtRestKeys,
    id: HistoryId,
    pending: &[CancelHistory],
) -> Result<Option<String>, RepositoryError> {
    if pending.is_empty() {
        return Ok(None);
    }
    seal_json(&keys.histories, HISTORY_PENDING, id, &pending).map(Some)
}

/// Rebuilds a stored history from its row and its cancels, re-checking every
/// invariant of the domain.
pub(crate) fn history(
    keys: &AtRestKeys,
    row: HistoryRow,
    cancels: Vec<CancelRow>,
) -> Result<StoredHistory, RepositoryError> {
    let id = row.id;
    let mut cancels = cancels
        .into_iter()
        .map(|c| {
            Ok(CancelHistory {
                key: field("cancel_key", c.id, CancelKey::parse(c.key))?,
                price: c.amount,
                reason: field("reason", c.id, CancelReason::parse(c.reason))?,
                created_at: c.created_at,
                data: open_json(&keys.cancels, CANCEL_DATA, c.id, &c.data)?,
            })
        })
        .collect::<Result<Vec<_>, RepositoryError>>()?;
    // Database collations need not order text as Rust does; the domain's order wins.
    cancels.sort_by(|a, b| (a.created_at, &a.key).cmp(&(b.created_at, &b.key)));
    let parts = HistoryParts {
        identity: HistoryIdentity {
            id: HistoryId::from_uuid(id),
            vendor: vendor(id, &row.vendor_code, row.vendor_store_id, row.vendor_uid)?,
            source: field("source", id, Source::parse(&row.source_schema, &row.source_table, &row.source_id))?,
            webhook_url: field("webhook_url", id, WebhookUrl::parse(row.webhook_url))?,
            created_at: row.created_at,
            reservation_id: row.reservation_id.map(SavedCardId::from_uuid),
            client: row.client_id.map(ClientId::from_uuid).unwrap_or(ClientId::LEGACY),
        },
        order_id: row
            .vendor_order_id
            .map(|sealed| {
                let order: String = open_json(&keys.histories, HISTORY_ORDER, id, &sealed)?;
                field("vendor_order_id", id, OrderId::parse(order))
            })
            .transpose()?,
        currency: field("currency", id, Currency::parse(&row.currency))?,
        price: row.price,
        data: open_json(&keys.histories, HISTORY_DATA, id, &row.data)?,
        paid_at: row.paid_at,
        cancelled_at: row.cancelled_at,
        cancels,
        pending_cancels: row
            .pending_cancels
            .map(|sealed| open_json::<Vec<CancelHistory>>(&keys.histories, HISTORY_PENDING, id, &sealed))
            .transpose()?
            .unwrap_or_default(),
    };
    Ok(StoredHistory {
        history: field("history", id, PaymentHistory::restore(parts))?,
        password_hash: field("password", id, PasswordHash::parse(row.password))?,
        revision: payments_application::ports::Revision(row.revision),
    })
}

/// Rebuilds a stored saved card.
pub(crate) fn reservation(keys: &AtRestKeys, row: ReservationRow) -> Result<StoredSavedCard, RepositoryError> {
    let id = row.id;
    Ok(StoredSavedCard {
        reservation: SavedCard {
            id: SavedCardId::from_uuid(id),
            vendor: vendor(id, &row.vendor_code, row.vendor_store_id, row.vendor_uid)?,
            source: field("source", id, Source::parse(&row.source_schema, &row.source_table, &row.source_id))?,
            title: field("title", id, Title::parse(row.title))?,
            data: open_json(&keys.reservations, RESERVATION_DATA, id, &row.data)?,
            key_digest: row.vendor_key_digest,
            created_at: row.created_at,
            removed_at: row.removed_at,
            client: row.client_id.map(ClientId::from_uuid).unwrap_or(ClientId::LEGACY),
        },
        password_hash: field("password", id, PasswordHash::parse(row.password))?,
    })
}

/// Rebuilds a webhook event from its sealed snapshots and trigger.
pub(crate) fn event(keys: &AtRestKeys, row: EventRow) -> Result<WebhookEvent, RepositoryError> {
    let id = row.id;
    let previous: Option<PaymentHistory> = open_json(&keys.histories, EVENT_PREVIOUS, id, &row.previous)?;
    let current: PaymentHistory = open_json(&keys.histories, EVENT_CURRENT, id, &row.current)?;
    let trigger: serde_json::Value = open_json(&keys.histories, EVENT_DATA, id, &row.data)?;
    field("event", id, WebhookEvent::restore(EventId::from_uuid(id), previous, current, trigger, row.created_at))
}

/// The sealed columns of an event, in the order previous, current, data.
pub(crate) fn seal_event(keys: &AtRestKeys, event: &WebhookEvent) -> Result<[String; 3], RepositoryError> {
    let id = event.id();
    Ok([
        // `null` for an event announcing a history as recorded.
        seal_json(&keys.histories, EVENT_PREVIOUS, id, &event.previous())?,
        seal_json(&keys.histories, EVENT_CURRENT, id, event.current())?,
        seal_json(&keys.histories, EVENT_DATA, id, event.trigger())?,
    ])
}

/// Re-seals `sealed` under the current key of `keyring` if it is not already;
/// `None` when it needs nothing.
pub(crate) fn reseal(
    keyring: &Keyring,
    column: &str,
    row: impl std::fmt::Display,
    sealed: &str,
) -> Result<Option<String>, RepositoryError> {
    if keyring.is_current(sealed) {
        return Ok(None);
    }
    let ctx = context(column, &row);
    let plain = keyring.open(&ctx, sealed).map_err(|e| corrupt(format!("{column} of {row}"), e))?;
    Ok(Some(keyring.seal(&ctx, &plain)))
}
