//! Intents written before money moves (a cancel, a saved card's charge), so an outcome the PG
//! answered but we did not hear is settled, never sent twice.

use async_trait::async_trait;
use payments_domain::{CancelReason, HistoryId, Money, SavedCardId, Source, Timestamp, Title, WebhookUrl};
use uuid::Uuid;

use super::{gateway::RefundAccount, storage::RepositoryError};

/// Where a cancel intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntentState {
    /// Recorded; the cancel is being sent (or its sender died: then it is
    /// settled once its lease ran out).
    Pending,
    /// Sent, and the answer was lost (timeout, connection lost, a 5xx, or our
    /// own failure after the PG answered): never re-sent before the PG is re-read.
    Unknown,
    /// The PG accepted the cancel and has not completed it (PortOne
    /// `REQUESTED`, Toss `IN_PROGRESS`); `cancel_key` is that cancel. Still
    /// the payment's cancel lock: settled by re-reading the PG (done, or
    /// failed and refused), never sent again.
    Accepted,
    /// The PG refunded it; `cancel_key` is the cancel it made.
    Done,
    /// The PG refused it; nothing was refunded.
    Refused,
}

impl IntentState {
    /// Whether the intent still holds its payment's cancel lock.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Unknown | Self::Accepted)
    }
}

/// A cancel recorded before it is sent to the PG: the proof of what was
/// asked, the lock that keeps one cancel of a payment in flight at a time
/// (across instances), and what settles an answer that was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelIntent {
    /// Derived from the caller's `Idempotency-Key` when there is one, so a
    /// retry finds the intent of the first attempt.
    pub id: Uuid,
    pub history: HistoryId,
    pub amount: Money,
    pub reason: CancelReason,
    /// Sealed at rest; needed again to re-send a virtual-account refund.
    pub refund_account: Option<RefundAccount>,
    /// The balance the PG is told is left (its guard against stale cancels).
    pub remaining: Money,
    /// Bumped when the PG refused for a stale balance and the cancel is sent
    /// again against the fresh one; part of the PG idempotency key.
    pub attempt: u32,
    pub state: IntentState,
    /// The PG's cancel this intent made, once done.
    pub cancel_key: Option<payments_domain::CancelKey>,
    /// Why the PG refused, once refused.
    pub refusal: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl CancelIntent {
    /// The PG idempotency key of the intent's current attempt.
    pub fn pg_key(&self) -> String {
        format!("payments-cancel-{}-{}", self.id.simple(), self.attempt)
    }
}

/// What recording an intent found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentBegin {
    /// Recorded: the caller holds the payment's cancel lock.
    Begun,
    /// An intent with this id exists already (a retry): here it is.
    Exists(CancelIntent),
    /// Another intent of this payment is open.
    Busy(CancelIntent),
}

/// Cancel intents, in the same database as the histories.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CancelIntentRepository: Send + Sync {
    /// Records `intent` (open) unless its id exists or its payment has an
    /// open intent already. At most one open intent per payment, whatever the
    /// number of instances.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn begin(&self, intent: &CancelIntent) -> Result<IntentBegin, RepositoryError>;

    /// Writes the intent's state, attempt, remaining, cancel key, refusal and
    /// `updated_at`; `false` when no such intent exists.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn update(&self, intent: &CancelIntent) -> Result<bool, RepositoryError>;

    /// The cancel keys that done intents of `history` made.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn claimed_cancel_keys(&self, history: HistoryId)
    -> Result<Vec<payments_domain::CancelKey>, RepositoryError>;

    /// Open intents, oldest first, at most `limit` (for the reconciler).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn open(&self, limit: u32) -> Result<Vec<CancelIntent>, RepositoryError>;

    /// The open intent of `history`, if any (there is one at most).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn open_of(&self, history: HistoryId) -> Result<Option<CancelIntent>, RepositoryError>;

    /// The intent `id`, open or closed.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn find(&self, id: Uuid) -> Result<Option<CancelIntent>, RepositoryError>;
}

/// A charge of a saved card, recorded before the PG is called. One per PG
/// order: a second request for the same order finds this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeIntent {
    /// Derived from the saved card and the caller's `Idempotency-Key`, so a
    /// retry finds the intent of the first attempt.
    pub id: Uuid,
    pub reservation: SavedCardId,
    /// SHA-256 of (vendor, store, order id): the PG's uniqueness of an order.
    pub order_digest: String,
    pub amount: Money,
    pub state: IntentState,
    /// The history recorded for the payment, once done.
    pub history: Option<HistoryId>,
    /// Why the PG refused, once refused.
    pub refusal: Option<String>,
    /// What recording the payment needs besides the card (sealed at rest),
    /// so the reconciler can record a charge whose caller is gone; `None`
    /// for intents begun before it was kept.
    pub context: Option<ChargeContext>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The caller's side of a charge: the record the payment is for (its id is
/// the PG's order id), where its webhooks go, and what the customer sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeContext {
    pub source: Source,
    pub webhook_url: WebhookUrl,
    pub title: Title,
}

impl ChargeIntent {
    /// The PG idempotency key of the charge: the same for every attempt, so
    /// the PG answers a resend with the first charge.
    pub fn pg_key(&self) -> String {
        format!("payments-charge-{}", self.id.simple())
    }
}

/// What recording a charge intent found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeBegin {
    /// Recorded: the caller may send the charge.
    Begun,
    /// An intent for this order exists already (a retry, or another
    /// request for the same order): here it is.
    Exists(Box<ChargeIntent>),
}

/// Charge intents, in the same database as the histories.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ChargeIntentRepository: Send + Sync {
    /// Records `intent` unless an intent with its id or its order exists.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn begin_charge(&self, intent: &ChargeIntent) -> Result<ChargeBegin, RepositoryError>;

    /// Writes the intent's state, history, refusal and `updated_at`, only if
    /// it was last updated at `expected` (so two requests never both take
    /// over a stale intent); `false` otherwise.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn update_charge(&self, intent: &ChargeIntent, expected: Timestamp) -> Result<bool, RepositoryError>;

    /// The charge intent `id`.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn find_charge(&self, id: Uuid) -> Result<Option<ChargeIntent>, RepositoryError>;

    /// Charge intents whose outcome is open (pending or unknown) and that
    /// nobody touched since `stale_before` (their sender is gone), oldest
    /// first, at most `limit` (for the reconciler).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn abandoned_charges(
        &self,
        stale_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<ChargeIntent>, RepositoryError>;
}
