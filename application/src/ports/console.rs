//! What the operators' console reads: payments found by what a support
//! person knows (an order id, a PG payment id, a vendor, a date), and a
//! payment's timeline (its events and each delivery attempt).

use async_trait::async_trait;
use payments_domain::{
    ClientId, Currency, EventId, HistoryId, Money, SavedCardId, Source, Timestamp, Vendor, VendorCode, WebhookEvent,
};

use super::outbox::FeedDelivery;
use super::storage::RepositoryError;

/// Where a payment stands, as the console filters and shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStateFilter {
    /// Paid, nothing refunded.
    Paid,
    /// Not paid yet (a virtual account awaiting its deposit, a payment
    /// awaiting its confirmation).
    AwaitingPayment,
    PartlyRefunded,
    Refunded,
}

impl PaymentStateFilter {
    pub const ALL: [PaymentStateFilter; 4] = [
        PaymentStateFilter::Paid,
        PaymentStateFilter::AwaitingPayment,
        PaymentStateFilter::PartlyRefunded,
        PaymentStateFilter::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStateFilter::Paid => "paid",
            PaymentStateFilter::AwaitingPayment => "awaiting_payment",
            PaymentStateFilter::PartlyRefunded => "partly_refunded",
            PaymentStateFilter::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The state of a payment of `price` with `refund` refunded, paid or not.
    pub fn of(price: Money, refund: Money, paid: bool) -> Self {
        if refund > Money::ZERO && refund >= price {
            PaymentStateFilter::Refunded
        } else if refund > Money::ZERO {
            PaymentStateFilter::PartlyRefunded
        } else if paid {
            PaymentStateFilter::Paid
        } else {
            PaymentStateFilter::AwaitingPayment
        }
    }
}

/// A search of payments: every given field must match; newest first, after
/// the cursor `before` (the last id of the previous page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentSearch {
    /// The backend's `source.id` (exact).
    pub source_id: Option<String>,
    /// The PG's order id (exact; found by its lookup digest, nothing decrypted).
    pub order_id: Option<String>,
    /// The PG's payment id (`vendor.uid`, exact).
    pub uid: Option<String>,
    pub vendor: Option<VendorCode>,
    pub state: Option<PaymentStateFilter>,
    /// Registered at or after.
    pub from: Option<Timestamp>,
    /// Registered before.
    pub to: Option<Timestamp>,
    /// At least / at most this price.
    pub min_price: Option<Money>,
    pub max_price: Option<Money>,
    pub before: Option<HistoryId>,
    pub limit: u32,
}

/// A payment as a search lists it (nothing sealed opened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    pub id: HistoryId,
    pub vendor: Vendor,
    pub source: Source,
    pub currency: Currency,
    pub price: Money,
    pub refund: Money,
    pub created_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
    pub client: ClientId,
}

/// The totals of every payment a search matches (not only a page's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchTotals {
    /// Payments matched.
    pub count: u64,
    /// Per currency: the sum of the prices and of the refunds, exact.
    pub per_currency: Vec<(Currency, Money, Money)>,
}

/// One delivery attempt of an event: when, and the receiver's status
/// (`None`: it could not be reached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub at: Timestamp,
    pub status: Option<u16>,
}

/// An event of a payment's timeline, with its delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEvent {
    pub event: WebhookEvent,
    pub delivery: FeedDelivery,
    pub attempts: Vec<AttemptRow>,
}

/// An event not delivered yet (pending or retrying) or given up (failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndeliveredRow {
    pub event: EventId,
    pub history: HistoryId,
    pub source_id: String,
    pub webhook_url: payments_domain::WebhookUrl,
    /// `true`: its schedule ran out; `false`: pending or retrying.
    pub failed: bool,
    pub attempts: u32,
    pub due_at: Timestamp,
    pub created_at: Timestamp,
}

/// A PG notification kept in the inbox, as the console lists it (its body
/// stays sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub vendor: VendorCode,
    /// `pending`, `done` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub received_at: Timestamp,
    pub last_error: Option<String>,
}

/// A saved card as the console lists it: never its PG key (the uid of a
/// Toss card is its billing key) nor its PG data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCardRow {
    pub id: SavedCardId,
    pub vendor: VendorCode,
    pub store_id: String,
    pub source: Source,
    pub title: String,
    pub created_at: Timestamp,
    pub removed_at: Option<Timestamp>,
    pub client: ClientId,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ConsoleQueries: Send + Sync {
    /// Saved cards, newest first, of the customer `source_id` when given,
    /// after the cursor `before`, at most `limit`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` for a row that does not parse.
    async fn search_saved_cards(
        &self,
        source_id: Option<String>,
        before: Option<SavedCardId>,
        limit: u32,
    ) -> Result<Vec<SavedCardRow>, RepositoryError>;

    /// The events not delivered (pending, retrying, failed), oldest first,
    /// at most `limit`, with their payment's webhook URL.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn undelivered(&self, limit: u32) -> Result<Vec<UndeliveredRow>, RepositoryError>;

    /// The PG notifications of the inbox not processed (pending) or given
    /// up (failed), newest first, at most `limit`.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn unprocessed_notifications(&self, limit: u32) -> Result<Vec<NotificationRow>, RepositoryError>;

    /// # Errors
    /// `Unavailable`; `Corrupt` for a row that does not parse.
    async fn search_payments(&self, search: &PaymentSearch) -> Result<Vec<PaymentRow>, RepositoryError>;

    /// The totals of every payment `search` matches (its cursor and limit
    /// ignored), summed exactly by the database.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` for a sum that does not parse.
    async fn search_totals(&self, search: &PaymentSearch) -> Result<SearchTotals, RepositoryError>;

    /// The payment's events, oldest first (at most `limit`), each with its
    /// delivery and attempts.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when an event does not open.
    async fn payment_timeline(&self, history: HistoryId, limit: u32) -> Result<Vec<TimelineEvent>, RepositoryError>;

    /// The event's payment, if the event exists.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn event_payment(&self, event: EventId) -> Result<Option<HistoryId>, RepositoryError>;
}
