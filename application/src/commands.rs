//! Inputs of the use cases, already made of valid domain values (the HTTP
//! adapter builds them at the edge).

use payments_domain::{
    CancelKey, CancelReason, ClientId, HistoryId, Money, OrderId, Password, SavedCardId, Source, Title, Vendor,
    VendorCode, VendorUid, WebhookUrl,
};

use crate::ports::RefundAccount;

/// Register a payment the customer made in the PG's popup.
#[derive(Debug, Clone)]
pub struct CreateHistory {
    /// The client registering it: the payment is its.
    pub client: ClientId,
    pub vendor: Vendor,
    pub source: Source,
    /// What the caller expects was charged; must equal the PG's amount.
    pub price: Money,
    pub password: Password,
    pub webhook_url: WebhookUrl,
    /// The currency the caller expects, when it said.
    pub currency: Option<payments_domain::Currency>,
}

/// Cancel a payment, wholly or partly.
#[derive(Debug, Clone)]
pub struct CancelHistory {
    /// The client cancelling: only its own payments are found.
    pub client: ClientId,
    pub source: Source,
    pub password: Password,
    pub price: Money,
    pub reason: CancelReason,
    pub account: Option<RefundAccount>,
    /// The caller's `Idempotency-Key`: a retry with the same key settles the
    /// first attempt's cancel instead of sending another.
    pub idempotency_key: Option<String>,
}

/// Register a card saved at the PG.
#[derive(Debug, Clone)]
pub struct SaveCard {
    /// The client saving it: the card is its.
    pub client: ClientId,
    pub vendor: Vendor,
    pub source: Source,
    pub title: Title,
    pub password: Password,
}

/// Charge a saved card: a new payment, recorded as an ordinary history.
#[derive(Debug, Clone)]
pub struct ChargeSavedCard {
    /// The client charging: only its own cards are found; the payment is its.
    pub client: ClientId,
    pub reservation: SavedCardLocator,
    /// The saved card's password; the new payment opens with it too.
    pub password: Password,
    /// The caller's record the payment is for; its id is the PG's order id.
    pub source: Source,
    pub price: Money,
    /// What the customer sees the payment as.
    pub title: Title,
    pub webhook_url: WebhookUrl,
    /// The caller's `Idempotency-Key` (required): a retry with it settles the
    /// first attempt's charge instead of charging again.
    pub idempotency_key: String,
}

/// How a caller names a record: by our id or by its own source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator<Id> {
    Id(Id),
    Source(Source),
}

pub type HistoryLocator = Locator<HistoryId>;
pub type SavedCardLocator = Locator<SavedCardId>;

/// A PG told us a payment changed. Only the identifiers are trusted; the
/// payment is re-read from the PG. `payload` is the body as received, kept as
/// the event's trigger.
#[derive(Debug, Clone)]
pub struct PgNotification {
    pub vendor: VendorCode,
    pub target: NotificationTarget,
    pub payload: serde_json::Value,
    /// Its signature verified under the PG's secret (PortOne): it is the
    /// PG's, so it is taken before notifications anyone could have sent and
    /// its re-read does not wait for the per-payment interval.
    pub signed: bool,
}

impl PgNotification {
    /// The id it is kept under in the inbox: the same for every notification
    /// that would re-read the same thing (vendor and target), so a repeated
    /// one refreshes the row kept for it instead of adding one. A deposit
    /// callback's secret is part of it: a forged secret never shares the row
    /// of the PG's own callback.
    pub fn inbox_id(&self) -> uuid::Uuid {
        let (kind, id, secret, ignore_unknown) = match &self.target {
            NotificationTarget::Payment { uid, ignore_unknown, .. } => ("payment", uid.as_str(), "", ignore_unknown),
            NotificationTarget::Order { order_id, secret, ignore_unknown } => {
                ("order", order_id.as_str(), secret.as_str(), ignore_unknown)
            }
            NotificationTarget::Cancel { key, ignore_unknown } => ("cancel", key.as_str(), "", ignore_unknown),
        };
        let ignore_unknown = if *ignore_unknown { "ignore-unknown" } else { "keep-unknown" };
        crate::keys::derived_id(&["pg-notification", self.vendor.as_str(), kind, id, secret, ignore_unknown])
    }
}

/// Which payment a PG notification is about.
#[derive(Clone, PartialEq, Eq)]
pub enum NotificationTarget {
    /// By the PG's payment id (Iamport `imp_uid`, Toss `paymentKey`).
    /// `ignore_unknown`: the notification says nothing worth keeping about a
    /// payment not registered yet (a virtual account just issued), so an
    /// unknown payment is acknowledged instead of refused, unless a pending
    /// order waits for it. `order`: the PG order id the notification names
    /// (Iamport `merchant_uid`, PortOne `paymentId`), unproven: what finds
    /// the pending order a payment not registered yet may complete (the
    /// payment read from the PG decides).
    Payment { uid: VendorUid, ignore_unknown: bool, order: Option<OrderId> },
    /// By the PG's order id, proven by the secret the PG gave for that
    /// payment (Toss `DEPOSIT_CALLBACK`); `ignore_unknown` as for `Payment`.
    Order { order_id: OrderId, secret: String, ignore_unknown: bool },
    /// By the PG's key of one of the payment's cancels (Toss
    /// `CANCEL_STATUS_CHANGED`, whose `data` is the cancel alone: its
    /// `transactionKey` is all it names), as recorded here;
    /// `ignore_unknown` as for `Payment`.
    Cancel { key: CancelKey, ignore_unknown: bool },
}

impl std::fmt::Debug for NotificationTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Payment { uid, ignore_unknown, order } => f
                .debug_struct("Payment")
                .field("uid", uid)
                .field("ignore_unknown", ignore_unknown)
                .field("order", order)
                .finish(),
            Self::Order { order_id, ignore_unknown, .. } => f
                .debug_struct("Order")
                .field("order_id", order_id)
                .field("ignore_unknown", ignore_unknown)
                .finish_non_exhaustive(),
            Self::Cancel { key, ignore_unknown } => {
                f.debug_struct("Cancel").field("key", key).field("ignore_unknown", ignore_unknown).finish()
            }
        }
    }
}

/// What a PG notification led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// The state changed; this event will be delivered.
    Changed(payments_domain::EventId),
    /// Nothing new (a duplicate or stale webhook): no event.
    Unchanged,
    /// About a payment not registered here, and nothing to keep (see
    /// [`NotificationTarget::Payment`]).
    Ignored,
}
