//! What the use cases need from the outside world. Adapters implement these;
//! tests mock them (`mocks` feature, or `cfg(test)` inside this crate).

use std::time::Duration;

use async_trait::async_trait;
use payments_domain::{
    CancelReason, Currency, DeliveryAttempt, EventId, HistoryId, Money, OrderId, Password, PasswordHash,
    PaymentHistory, PaymentReservation, PaymentSnapshot, ReservationId, Source, SourceId, StoreId, Timestamp, Title,
    VendorCode, VendorUid, WebhookEvent,
};
use uuid::Uuid;

// ---------------------------------------------------------------------------
// Payment gateways
// ---------------------------------------------------------------------------

/// Why a PG call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The PG does not know the payment or saved card (its 404).
    #[error("not found at the PG: {0}")]
    NotFound(String),
    /// The PG understood and refused (balance exceeded, wrong customer, ...).
    #[error("refused by the PG: {0}")]
    Rejected(String),
    /// The PG refused a cancel because the balance it was told is not the
    /// one it holds (Toss `NOT_MATCHES_REFUNDABLE_AMOUNT`, Iamport's checksum):
    /// another cancel went first. Nothing was refunded.
    #[error("refused by the PG for a stale balance: {0}")]
    BalanceMismatch(String),
    /// The PG refused a request because another one of the same payment came
    /// too shortly before (Toss `FORBIDDEN_CONSECUTIVE_REQUEST`: one cancel of
    /// a payment a second). Nothing was done; sending it a moment later may work.
    #[error("the PG asks to retry a moment later: {0}")]
    TooSoon(String),
    /// No credentials are configured for this store of this vendor.
    #[error("store {store:?} is not configured for {vendor}")]
    UnknownStore { vendor: VendorCode, store: String },
    /// The PG did not answer within the timeout.
    #[error("the PG did not answer in time: {0}")]
    Timeout(String),
    /// The PG could not be reached, answered 5xx, or refused our credentials.
    #[error("the PG failed: {0}")]
    Unavailable(String),
    /// The PG answered something we cannot read.
    #[error("unexpected answer from the PG: {0}")]
    Protocol(String),
    /// A protocol error that asking again does not change: the PG's answer
    /// is past what this server takes for one payment (more cancels than
    /// the PG crates' `payments_pg::MAX_CANCELS`). Answered as `Protocol`
    /// (502); a PG notification that meets it is refused, not retried for
    /// days; a cancel or charge that meets it stays unknown (the PG may
    /// have moved the money).
    #[error("unexpected answer from the PG: {0}")]
    OutOfBounds(String),
    /// An amount the PG cannot carry exactly in its unit (a fraction of the
    /// currency's minor unit, or a currency without a known one): refused
    /// before anything was sent.
    #[error("{0}")]
    Unrepresentable(String),
}

/// The account a virtual-account payment is refunded to. Passed to the PG,
/// and kept only sealed in the cancel's intent (to send it again when its
/// answer was lost). `Debug` hides the account number.
#[derive(Clone, PartialEq, Eq)]
pub struct RefundAccount {
    pub bank: String,
    pub account: String,
    pub holder: String,
    pub mobile: String,
}

impl std::fmt::Debug for RefundAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefundAccount").field("bank", &self.bank).field("account", &"***").finish_non_exhaustive()
    }
}

/// A cancel asked of the PG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    /// Amount to refund, > 0 and at most `remaining`.
    pub amount: Money,
    /// The payment's currency: the PG writes `amount` and `remaining` in its units.
    pub currency: Currency,
    pub reason: CancelReason,
    /// What is left to refund before this cancel (Iamport's `checksum`, Toss's
    /// `refundableAmount`), so the PG refuses a cancel computed on stale data.
    pub remaining: Money,
    /// Required by the PGs for virtual-account payments.
    pub refund_account: Option<RefundAccount>,
    /// Sent as `Idempotency-Key` where the PG takes one (Toss), so a cancel
    /// whose answer was lost is answered again instead of refunded twice.
    pub idempotency_key: Option<String>,
}

/// A card saved at the PG, as it answered. `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SavedCard {
    /// The PG's JSON of the card, kept whole (sealed at rest).
    pub data: serde_json::Value,
    /// The PG's key for charging it (Toss `billingKey`, Iamport `customer_uid`):
    /// a credential.
    pub key: String,
}

impl std::fmt::Debug for SavedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedCard").field("data", &self.data).finish_non_exhaustive()
    }
}

/// The confirmation of a payment the customer authenticated in the PG's
/// window (Toss `POST /v1/payments/confirm`): only then is it charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmRequest {
    /// The order id the PG holds for the payment.
    pub order_id: OrderId,
    /// The amount to charge; the PG refuses another than the authenticated one.
    pub amount: Money,
    pub currency: Currency,
    /// Sent to the PG as `Idempotency-Key`, so a confirmation whose answer was
    /// lost is answered again instead of charged twice. Derived from the
    /// registration: a retried registration sends the same key.
    pub idempotency_key: String,
}

/// A charge of a saved card asked of the PG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// The order id the PG records the payment under: the caller's source id
    /// (Toss `orderId`, Iamport `merchant_uid`), unique per store.
    pub order_id: OrderId,
    pub amount: Money,
    pub currency: Currency,
    /// What the customer sees the payment as (Toss `orderName`, Iamport `name`).
    pub order_name: Title,
    /// The caller's id for the card holder the card was saved for (Toss
    /// `customerKey`): the saved card's source id.
    pub customer: SourceId,
    /// Sent as `Idempotency-Key` where the PG takes one (Toss): the charge
    /// intent's key, the same for every attempt of one charge.
    pub idempotency_key: String,
}

/// A payment the PG made: its uid there and how it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargedPayment {
    pub uid: VendorUid,
    pub snapshot: PaymentSnapshot,
}

/// One PG (Iamport, Toss Payments, ...) as the use cases see it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Reads a payment as the PG sees it now.
    ///
    /// # Errors
    /// [`GatewayError::NotFound`] for an unknown uid; `UnknownStore` for a store
    /// with no credentials; `Timeout`/`Unavailable`/`Protocol` when the PG fails.
    async fn fetch_payment(&self, store: &StoreId, uid: &VendorUid) -> Result<PaymentSnapshot, GatewayError>;

    /// Confirms a payment in [`payments_domain::PaymentPhase::AwaitingConfirmation`]
    /// and returns it as it is afterwards. A payment the PG already confirmed
    /// (a retried confirmation) is read back instead.
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`], plus `Rejected` when the PG
    /// refuses the confirmation (card refused, wrong amount, expired), and
    /// `Protocol` for a PG that has no confirmation step (the default: such a
    /// PG charges in its window, and its snapshots are never awaiting one).
    async fn confirm_payment(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        request: &ConfirmRequest,
    ) -> Result<PaymentSnapshot, GatewayError> {
        let _ = (store, uid, request);
        Err(GatewayError::Protocol("this PG's payments have no confirmation step".to_owned()))
    }

    /// Whether `secret` is the one the PG gave for this payment (`data` is the
    /// PG's JSON of it as last recorded), compared in constant time. PGs whose
    /// notifications carry no secret answer `false` (the default).
    fn notification_secret_matches(&self, data: &serde_json::Value, secret: &str) -> bool {
        let _ = (data, secret);
        false
    }

    /// Cancels (part of) a payment and returns the payment as it is afterwards.
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`], plus `Rejected` when the PG refuses
    /// the cancel (balance, missing refund account, ...).
    async fn cancel_payment(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        request: &CancelRequest,
    ) -> Result<PaymentSnapshot, GatewayError>;

    /// Reads a saved card (Iamport customer, Toss billing key; Toss exchanges
    /// the `authKey` of its card-registration window for the billing key
    /// here). `customer` is the caller's id for the card holder (the source id).
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`], plus `Rejected` when the card
    /// belongs to another customer.
    async fn fetch_reservation(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        customer: &SourceId,
    ) -> Result<SavedCard, GatewayError>;

    /// Charges a saved card (Toss `POST /v1/billing/{billingKey}`, Iamport
    /// `POST /subscribe/payments/again`) and returns the payment it made.
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`], plus `Rejected` when the PG or
    /// the card company refused the charge (nothing was charged).
    /// `card` and `card_data` are the saved card's uid (Iamport
    /// `customer_uid`, Toss the window's `authKey`) and its recorded JSON
    /// (Toss keeps the billing key there).
    async fn charge_saved_card(
        &self,
        store: &StoreId,
        card: &VendorUid,
        card_data: &serde_json::Value,
        request: &ChargeRequest,
    ) -> Result<ChargedPayment, GatewayError>;

    /// The payment the PG holds for an order id, if any (Toss
    /// `GET /v1/payments/orders/{orderId}`, Iamport
    /// `GET /payments/find/{merchant_uid}`): what settles a charge whose
    /// answer was lost before anything is sent again.
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`] (an unknown order is `Ok(None)`).
    async fn find_by_order(&self, store: &StoreId, order_id: &OrderId) -> Result<Option<ChargedPayment>, GatewayError>;

    /// Removes a saved card at the PG where its API offers that (Iamport
    /// `DELETE /subscribe/customers/{customer_uid}`; Toss documents none) and
    /// answers the card's JSON to keep, its charging key erased. A card the
    /// PG no longer knows counts as removed.
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`].
    async fn remove_saved_card(
        &self,
        store: &StoreId,
        card: &VendorUid,
        card_data: &serde_json::Value,
    ) -> Result<serde_json::Value, GatewayError>;
}

/// What a PG's notification asks of the intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationIntent {
    /// Re-read the payment it names and record what changed.
    Reread(crate::commands::NotificationTarget),
    /// The PG removed the saved card whose charging key is this (a
    /// credential: never logged).
    CardRemoved(SecretKey),
    /// Acknowledge it and do nothing else; the text says why (for the log,
    /// never a secret).
    Ignore(String),
}

/// A PG credential in transit (a billing key). `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub String);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// A notification as it came, for a PG that signs what it sends: its headers
/// (names in lower case) and its body, byte for byte.
#[derive(Debug, Clone, Copy)]
pub struct RawNotification<'a> {
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl RawNotification<'_> {
    /// The value of header `name` (lower case), when it came once.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let first = values.next()?;
        values.next().is_none().then_some(first)
    }
}

/// One delivery of a PG notification as the PG names it (Toss
/// `tosspayments-webhook-transmission-id`, PortOne's `webhook-id`): the same
/// on every retry of that delivery, so a repeat of one already answered is
/// recognised. See [`NotificationReader::transmission`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmission {
    id: String,
    /// How long after it first came a repeat of it may still come.
    pub keep_for: Duration,
}

impl Transmission {
    /// The longest id taken, in bytes.
    pub const MAX_ID_BYTES: usize = 200;

    /// The delivery `id`, repeatable for `keep_for`. `None` (as if the PG
    /// had named none) for an id that is empty, longer than
    /// [`MAX_ID_BYTES`](Self::MAX_ID_BYTES) or holds a control character:
    /// hostile input is never a key.
    pub fn new(id: &str, keep_for: Duration) -> Option<Self> {
        let usable = !id.is_empty() && id.len() <= Self::MAX_ID_BYTES && !id.chars().any(char::is_control);
        usable.then(|| Self { id: id.to_owned(), keep_for })
    }

    /// The PG's id of the delivery.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// What proved a notification before it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// Its signature verified under the PG's secret: it is the PG's.
    Signed,
    /// The PG signs nothing: anyone could have sent it, and only the PG's
    /// answer to the re-read it triggers is trusted.
    Unsigned,
}

/// Reads one PG's notification bodies: the incoming half of a PG's contract,
/// so the parser the PG crate tests is the one the webhook route runs.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait NotificationReader: Send + Sync {
    /// Proves a notification is the PG's before it is read: a PG that signs
    /// its notifications checks the signature over `raw` here. By default
    /// (a PG that signs nothing) every one passes unsigned: it is proven by
    /// re-reading the PG.
    ///
    /// # Errors
    /// Why it is not the PG's (the route answers 403; nothing is stored).
    fn authenticate<'a>(&self, raw: &RawNotification<'a>) -> Result<Proof, String> {
        let _ = raw;
        Ok(Proof::Unsigned)
    }

    /// The PG's id of this delivery and how long a repeat of it may come,
    /// when the PG names its deliveries (a header). Asked only once
    /// [`authenticate`](Self::authenticate) passed. By default none: every
    /// delivery is processed (re-reading the PG is idempotent, a repeat only
    /// costs a read).
    fn transmission<'a>(&self, raw: &RawNotification<'a>) -> Option<Transmission> {
        let _ = raw;
        None
    }

    /// Reads a notification body. Any event the PG may legitimately send
    /// reads as an intent (unknown event types as `Ignore`).
    ///
    /// # Errors
    /// A message naming the member, for a body the PG never sends (the route
    /// answers 400).
    fn read(&self, body: &serde_json::Value) -> Result<NotificationIntent, String>;
}

// ---------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// A unique key is taken; the message names which (vendor uid or source).
    #[error("{0}")]
    Conflict(String),
    /// The record changed since it was read (optimistic concurrency).
    #[error("the record changed since it was read")]
    Stale,
    /// The database cannot be reached or is shutting down; retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored value does not decrypt, verify or parse.
    #[error("stored data is corrupt")]
    Corrupt(#[source] anyhow::Error),
    /// Anything else.
    #[error(transparent)]
    Other(anyhow::Error),
}

/// The version of a stored history, bumped by every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(pub i64);

/// A history as stored: the record, its password hash and its revision.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredHistory {
    pub history: PaymentHistory,
    pub password_hash: PasswordHash,
    pub revision: Revision,
}

/// A saved card as stored, with its password hash.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReservation {
    pub reservation: PaymentReservation,
    pub password_hash: PasswordHash,
}

/// Payment histories. Values are plain domain values: encryption at rest is
/// the implementation's business. There is deliberately no way to list records.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HistoryRepository: Send + Sync {
    /// Stores a newly registered history (revision 0).
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when its `(vendor code, uid)` or its
    /// source is taken; `Unavailable` when the database is down.
    async fn insert(&self, history: &PaymentHistory, password_hash: &PasswordHash) -> Result<(), RepositoryError>;

    /// # Errors
    /// `Unavailable`, or `Corrupt` when the stored row does not decrypt.
    async fn find_by_id(&self, id: HistoryId) -> Result<Option<StoredHistory>, RepositoryError>;

    /// # Errors
    /// As [`HistoryRepository::find_by_id`].
    async fn find_by_source(&self, source: &Source) -> Result<Option<StoredHistory>, RepositoryError>;

    /// # Errors
    /// As [`HistoryRepository::find_by_id`].
    async fn find_by_vendor(&self, code: VendorCode, uid: &VendorUid)
    -> Result<Option<StoredHistory>, RepositoryError>;

    /// The ids of the histories the reconciler re-reads, after `after`, in id
    /// order, at most `limit`: those not final (a payment not paid yet) and
    /// those registered or changed since `since`.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn reconcile_candidates(
        &self,
        since: Timestamp,
        after: Option<HistoryId>,
        limit: u32,
    ) -> Result<Vec<HistoryId>, RepositoryError>;

    /// The histories of `code` whose PG order id is `order_id` (unique per
    /// store, so at most a few across stores), at most `limit`.
    ///
    /// # Errors
    /// As [`HistoryRepository::find_by_id`].
    async fn find_by_order(
        &self,
        code: VendorCode,
        order_id: &OrderId,
        limit: u32,
    ) -> Result<Vec<StoredHistory>, RepositoryError>;

    /// The history of `code` one of whose cancels carries the PG's key `key`
    /// (Toss `transactionKey`): a cancel recorded, or one asked here whose
    /// intent holds that key (a cancel the PG accepted and completes later).
    ///
    /// # Errors
    /// As [`HistoryRepository::find_by_id`].
    async fn find_by_cancel_key(
        &self,
        code: VendorCode,
        key: &payments_domain::CancelKey,
    ) -> Result<Option<StoredHistory>, RepositoryError>;

    /// Atomically, and only if the history is still at `expected`: writes
    /// `next` (bumping the revision), inserts its cancels not yet stored,
    /// records `event`, and enqueues the event's delivery, due now. All or
    /// nothing.
    ///
    /// # Errors
    /// [`RepositoryError::Stale`] when another change came first (nothing is
    /// written); `Unavailable` when the database is down.
    async fn save_change(
        &self,
        expected: Revision,
        next: &PaymentHistory,
        event: &WebhookEvent,
    ) -> Result<(), RepositoryError>;
}

/// Saved cards. No listing either.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReservationRepository: Send + Sync {
    /// Marks removed, at `at`, the saved cards of `code` whose key digest is
    /// `key_digest` and that are not removed yet; returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn mark_removed(&self, code: VendorCode, key_digest: &str, at: Timestamp) -> Result<u64, RepositoryError>;

    /// Marks the saved card removed at `at` (unless it was already) and
    /// replaces its PG data with `reservation.data` (the charging key erased);
    /// `false` when no such record exists.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn remove(&self, reservation: &PaymentReservation, at: Timestamp) -> Result<bool, RepositoryError>;

    /// # Errors
    /// [`RepositoryError::Conflict`] when its `(vendor code, uid)` or its source is taken.
    async fn insert(
        &self,
        reservation: &PaymentReservation,
        password_hash: &PasswordHash,
    ) -> Result<(), RepositoryError>;

    /// # Errors
    /// `Unavailable`, or `Corrupt` when the stored row does not decrypt.
    async fn find_by_id(&self, id: ReservationId) -> Result<Option<StoredReservation>, RepositoryError>;

    /// # Errors
    /// As [`ReservationRepository::find_by_id`].
    async fn find_by_source(&self, source: &Source) -> Result<Option<StoredReservation>, RepositoryError>;

    /// # Errors
    /// As [`ReservationRepository::find_by_id`].
    async fn find_by_vendor(
        &self,
        code: VendorCode,
        uid: &VendorUid,
    ) -> Result<Option<StoredReservation>, RepositoryError>;
}

/// Proof of a claim on a delivery job; results are recorded only under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseToken(pub Uuid);

/// A claimed delivery: the event, how many attempts came before, and the lease.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryJob {
    pub event: WebhookEvent,
    /// Attempts already recorded before this claim.
    pub attempts_made: u32,
    pub lease: LeaseToken,
}

/// How a job stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// The receiver answered 2xx; the job is done.
    Delivered,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// The schedule is exhausted; kept as failed until redelivered by an operator.
    Failed,
}

/// Counts of the delivery queue, for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Due or scheduled, never attempted.
    pub pending: u64,
    /// Attempted at least once, scheduled again.
    pub retrying: u64,
    pub delivered: u64,
    pub failed: u64,
    /// Age of the oldest job not yet delivered or failed.
    pub oldest_pending_age: Option<Duration>,
}

/// The durable queue of webhook deliveries (the outbox written by
/// [`HistoryRepository::save_change`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookOutbox: Send + Sync {
    /// Claims up to `limit` jobs due at `now` for `lease_for`. A job whose
    /// lease expired (its worker died) is due again. Safe to call from several
    /// processes at once: a job is claimed by one only.
    ///
    /// # Errors
    /// `Unavailable`, or `Corrupt` when an event does not decrypt.
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<DeliveryJob>, RepositoryError>;

    /// Records one attempt and settles the job, only if `lease` still holds the
    /// job. Returns `false` (writing nothing) when the lease was lost.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn record_attempt(
        &self,
        event: EventId,
        lease: LeaseToken,
        attempt: &DeliveryAttempt,
        outcome: JobOutcome,
    ) -> Result<bool, RepositoryError>;

    /// Gives a claimed job back, due at once (used at shutdown).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn release(&self, event: EventId, lease: LeaseToken) -> Result<(), RepositoryError>;

    /// Makes a failed (or delivered) event due again now, with a fresh retry
    /// schedule (earlier attempts stay recorded). Returns `false` for an
    /// unknown event.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn redeliver(&self, event: EventId, now: Timestamp) -> Result<bool, RepositoryError>;

    /// Every attempt recorded for an event, oldest first.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn attempts(&self, event: EventId) -> Result<Vec<DeliveryAttempt>, RepositoryError>;

    /// Queue counts at `now`.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn stats(&self, now: Timestamp) -> Result<OutboxStats, RepositoryError>;

    /// Removes up to `limit` events whose delivery was settled (delivered,
    /// or given up on) before `cutoff`, with their job and attempts; answers
    /// how many. Pending deliveries are never removed.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn purge_settled_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepositoryError>;
}

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
}

/// A charge of a saved card, recorded before the PG is called. One per PG
/// order: a second request for the same order finds this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeIntent {
    /// Derived from the saved card and the caller's `Idempotency-Key`, so a
    /// retry finds the intent of the first attempt.
    pub id: Uuid,
    pub reservation: ReservationId,
    /// SHA-256 of (vendor, store, order id): the PG's uniqueness of an order.
    pub order_digest: String,
    pub amount: Money,
    pub state: IntentState,
    /// The history recorded for the payment, once done.
    pub history: Option<HistoryId>,
    /// Why the PG refused, once refused.
    pub refusal: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
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
    Exists(ChargeIntent),
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
}

/// A PG notification as kept in the inbox, claimed under a lease.
#[derive(Debug, Clone)]
pub struct InboxItem {
    pub id: Uuid,
    pub notice: crate::commands::PgNotification,
    /// Processing attempts made before this claim.
    pub attempts: u32,
    pub received_at: Timestamp,
    pub lease: LeaseToken,
}

/// How an inbox item stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxOutcome {
    /// Processed (a change recorded, or nothing to record).
    Done,
    /// Try again at this time (the PG or our database failed, or the payment
    /// is not registered yet).
    RetryAt(Timestamp),
    /// Given up: the notification cannot be processed (logged with why).
    Failed,
}

/// The durable inbox of PG notifications: stored before the PG is answered,
/// processed with retries, by one instance at a time each.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait NotificationInbox: Send + Sync {
    /// Keeps a notification for the worker, due `due_in` from `now`, under
    /// [`PgNotification::inbox_id`](crate::commands::PgNotification::inbox_id):
    /// at most one row per vendor and target. A repeat of a kept one
    /// refreshes that row (its body, received-at, and due time when sooner;
    /// one already processed is kept again) instead of adding one, and one
    /// repeated while a worker holds the row is attempted again after that
    /// attempt, whatever its outcome. `known`: it names a payment registered
    /// here or proved itself (such ones are claimed before those about
    /// unknown payments, which anyone can send). Returns its id.
    ///
    /// # Errors
    /// `Unavailable` when the database is down (the PG is then answered 503
    /// and sends it again).
    async fn enqueue(
        &self,
        notice: &crate::commands::PgNotification,
        now: Timestamp,
        due_in: Duration,
        known: bool,
    ) -> Result<Uuid, RepositoryError>;

    /// Claims up to `limit` items due at `now` (and items whose lease ran
    /// out), those about registered payments first, then the oldest due.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` items are parked as failed, not returned.
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<InboxItem>, RepositoryError>;

    /// Records an attempt's outcome, only under `lease`; `false` when the
    /// lease was lost. A row refreshed during the attempt stays pending
    /// (due as its refresh asked, or at the retry when that is sooner).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn settle(
        &self,
        id: Uuid,
        lease: LeaseToken,
        outcome: InboxOutcome,
        error: Option<String>,
        now: Timestamp,
    ) -> Result<bool, RepositoryError>;

    /// Deletes processed or failed items received before `cutoff`; returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError>;

    /// How many items it holds, whatever their state (the bound on what
    /// keyless clients can make it store).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn count(&self) -> Result<u64, RepositoryError>;
}

/// The deliveries of PG notifications already answered 200 (see
/// [`Transmission`]), each kept until a repeat of it can no longer come, so
/// a repeat is acknowledged without reading the PG or storing anything.
/// Keyed by vendor and a SHA-256 digest (hex) of the delivery, never the
/// PG's id itself (a header: its size is the sender's choice).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait NotificationReceipts: Send + Sync {
    /// Whether the delivery `digest` of `vendor` was remembered and is still
    /// kept at `now`.
    ///
    /// # Errors
    /// `Unavailable` when the database is down (the caller then processes
    /// the notification as a new one).
    async fn seen(&self, vendor: VendorCode, digest: &str, now: Timestamp) -> Result<bool, RepositoryError>;

    /// Remembers the delivery `digest` of `vendor` until `until` (remembered
    /// again, the later time is kept).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn remember(&self, vendor: VendorCode, digest: &str, until: Timestamp) -> Result<(), RepositoryError>;

    /// Forgets the deliveries kept until before `cutoff`; returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError>;
}

/// A response kept for an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    /// The plaintext JSON body (stored encrypted).
    pub body: String,
}

/// What a request carrying an idempotency key should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First time: go ahead, then call `complete` (or `abandon`).
    Proceed,
    /// Done before with the same body: answer this again.
    Replay(StoredResponse),
    /// Another request with this key is running now.
    InProgress,
    /// The key was used with a different body.
    Mismatch,
}

/// Stored idempotency keys, shared by every instance of the server.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` within `scope` (the route) for a request whose body hashes
    /// to `fingerprint`. A claim of the same body still unanswered since before
    /// `stale_before` belonged to a process that died: it is taken over (`Proceed`).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdempotencyClaim, RepositoryError>;

    /// Stores the answer to replay.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn complete(&self, scope: &str, key: &str, response: &StoredResponse) -> Result<(), RepositoryError>;

    /// Forgets a claim whose request failed in a way worth retrying.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn abandon(&self, scope: &str, key: &str) -> Result<(), RepositoryError>;

    /// Deletes keys created before `cutoff`; returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError>;
}

// ---------------------------------------------------------------------------
// Outgoing webhooks, passwords, time and ids
// ---------------------------------------------------------------------------

/// The receiver's answer to one POST, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    pub status: Option<u16>,
    pub body: Option<String>,
}

/// Sends an event to its history's `webhook_url`, signed and encrypted.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs once with a timeout. Never fails: an unreachable or silent
    /// receiver is a result with no status.
    async fn send(&self, event: &WebhookEvent) -> SendResult;
}

/// Which record a password opens (the key of its failure count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasswordRecord {
    History(HistoryId),
    Reservation(ReservationId),
}

impl PasswordRecord {
    /// `history:<uuid>` or `reservation:<uuid>`.
    pub fn key(&self) -> String {
        match self {
            Self::History(id) => format!("history:{}", id.as_uuid()),
            Self::Reservation(id) => format!("reservation:{}", id.as_uuid()),
        }
    }
}

/// The wrong passwords of one record, as counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PasswordFailures {
    /// Failures in the current window.
    pub failures: u32,
    /// Times the record was locked since its last right password.
    pub lockouts: u32,
    /// Until when the record answers 429 without checking anything.
    pub locked_until: Option<Timestamp>,
}

/// Wrong passwords counted per record, in the database (so every instance
/// sees the same count).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordAttempts: Send + Sync {
    /// The record's count (all zero when it has none).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn failures(&self, record: PasswordRecord) -> Result<PasswordFailures, RepositoryError>;

    /// Counts one wrong password at `now`: in the window that began at the
    /// first failure still younger than `window`, else in a new one.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn fail(
        &self,
        record: PasswordRecord,
        now: Timestamp,
        window: Duration,
    ) -> Result<PasswordFailures, RepositoryError>;

    /// Locks the record until `until` and starts a new window (one more lockout).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn lock(&self, record: PasswordRecord, until: Timestamp) -> Result<(), RepositoryError>;

    /// Forgets the record's failures (its right password was given).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn clear(&self, record: PasswordRecord) -> Result<(), RepositoryError>;

    /// Removes counts neither locked nor counting since `cutoff`.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError>;
}

/// What a [`PasswordHasher`] fails with when its queue is full: the request
/// is answered 503 at once instead of waiting behind the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks at once; retry shortly")]
pub struct HasherBusy;

/// Slow password hashing (argon2id). Implementations run off the async
/// executor and bound how many hashes run at once.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// # Errors
    /// Only on an internal failure of the hasher.
    async fn hash(&self, password: &Password) -> anyhow::Result<PasswordHash>;

    /// Constant-time check of `password` against `hash`.
    ///
    /// # Errors
    /// Only when `hash` is not a hash this hasher can read.
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> anyhow::Result<bool>;
}

/// The current time, at millisecond precision.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// New record ids.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    fn new_id(&self) -> Uuid;
}

/// The wall clock, truncated to milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        payments_domain::to_millis(chrono::Utc::now())
    }
}

/// Time-ordered UUIDv7 ids (index-friendly, unguessable enough for ids that
/// are useless without the record's password).
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
