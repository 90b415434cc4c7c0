//! The payment use cases: register, read, cancel, save cards, PG webhooks.

use std::collections::HashMap;
use std::sync::Arc;

use payments_domain::{
    Applied, CancelReason, EventId, HistoryId, HistoryIdentity, Password, PasswordHash, PaymentHistory, PaymentPhase,
    PaymentReservation, PaymentSnapshot, ReservationId, Timestamp, VendorCode, WebhookEvent, WebhookUrl,
};

use crate::commands::{
    CreateHistory, CreateReservation, HistoryLocator, Locator, NotificationOutcome, NotificationTarget, PgNotification,
    ReservationLocator,
};
use crate::error::AppError;
use crate::ports::{
    CancelIntentRepository, CancelRequest, Clock, ConfirmRequest, GatewayError, HistoryRepository, IdGenerator,
    PasswordFailures, PasswordHasher, PasswordRecord, PaymentGateway, RepositoryError, ReservationRepository,
    SecretKey, StoredHistory,
};
use crate::reread::Admission;

/// The PG gateways by vendor.
#[derive(Clone, Default)]
pub struct Gateways(HashMap<VendorCode, Arc<dyn PaymentGateway>>);

impl Gateways {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the gateway of `vendor`.
    #[must_use]
    pub fn with(mut self, vendor: VendorCode, gateway: Arc<dyn PaymentGateway>) -> Self {
        self.0.insert(vendor, gateway);
        self
    }

    /// # Errors
    /// [`AppError::Invalid`] when no gateway serves `vendor` in this deployment.
    pub fn get(&self, vendor: VendorCode) -> Result<&dyn PaymentGateway, AppError> {
        self.0
            .get(&vendor)
            .map(|g| g.as_ref())
            .ok_or_else(|| AppError::Invalid(format!("vendor.code: {vendor} is not enabled on this server")))
    }
}

/// Where webhooks may be sent: checked when a `webhook_url` is registered
/// (and, by the sender, again at every delivery).
#[async_trait::async_trait]
pub trait WebhookTargets: Send + Sync {
    /// Why `url` may not receive webhooks now, if it may not.
    async fn refusal(&self, url: &WebhookUrl) -> Option<String>;
}

/// A fixed host list, checked by name only (no resolution): for tests and
/// callers that resolve nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WebhookUrlPolicy {
    /// Any http(s) host.
    #[default]
    AnyHost,
    /// Only these hosts (lower-case names or addresses).
    Hosts(Vec<String>),
}

#[async_trait::async_trait]
impl WebhookTargets for WebhookUrlPolicy {
    async fn refusal(&self, url: &WebhookUrl) -> Option<String> {
        match self {
            WebhookUrlPolicy::AnyHost => None,
            WebhookUrlPolicy::Hosts(hosts) if hosts.iter().any(|h| h.eq_ignore_ascii_case(&url.host())) => None,
            WebhookUrlPolicy::Hosts(_) => Some(format!("host {:?} is not in the allowed list", url.host())),
        }
    }
}

impl PaymentService {
    /// Refuses a `webhook_url` the target policy does not allow (400).
    pub(crate) async fn check_webhook_url(&self, url: &WebhookUrl) -> Result<(), AppError> {
        match self.deps.webhook_urls.refusal(url).await {
            None => Ok(()),
            Some(why) => Err(AppError::Invalid(format!("webhook_url: {why}"))),
        }
    }
}

/// Everything the payment use cases depend on.
#[derive(Clone)]
pub struct PaymentDeps {
    pub gateways: Gateways,
    pub histories: Arc<dyn HistoryRepository>,
    pub reservations: Arc<dyn crate::ports::ReservationRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub webhook_urls: Arc<dyn WebhookTargets>,
    /// Cancel intents (the cancel lock, and what settles a lost answer).
    pub intents: Arc<dyn CancelIntentRepository>,
    /// Charge intents of saved cards (one per PG order).
    pub charges: Arc<dyn crate::ports::ChargeIntentRepository>,
    /// How long an open intent belongs to its sender before another cancel
    /// may settle it: longer than a PG call can take.
    pub intent_lease: std::time::Duration,
    /// PG notifications, kept until processed.
    pub inbox: Arc<dyn crate::ports::NotificationInbox>,
    /// Bounds on the PG reads notifications trigger.
    pub rereads: crate::reread::RereadLimits,
    /// Most PG notifications the inbox holds (whatever their state); past
    /// it, one that would be stored is answered 503 (the PG sends it again).
    pub max_kept_notifications: u64,
    /// PG deliveries already answered, so a repeat is only acknowledged.
    pub receipts: Arc<dyn crate::ports::NotificationReceipts>,
    /// Wrong passwords counted per record.
    pub attempts: Arc<dyn crate::ports::PasswordAttempts>,
    /// What a password must be and how guessing one is slowed down.
    pub passwords: PasswordPolicy,
    /// Whether a payment registers only under its own order.
    pub orders: OrderBinding,
}

/// Whether a registration must be for the caller's own order: the PG's order
/// id (Toss `orderId`, Iamport `merchant_uid`) equal to `source.id`, as the
/// original SDK's flows make it. Bound, a payment of another order is refused
/// before anything is confirmed or cancelled, so registering a stranger's
/// payment with a wrong price cannot get it refunded; a payment charged with
/// another amount than registered is cancelled at the PG, since it is the
/// caller's own. Unbound (for deployments whose order ids are not their
/// source ids), nothing is checked and nothing is cancelled: a mismatch is
/// only refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OrderBinding {
    /// The PG's order id must be `source.id`.
    #[default]
    SourceId,
    /// Any order: no check, and no auto-cancel on a mismatch.
    Off,
}

/// What a record's password must be, and how guessing it is slowed down:
/// after `max_failures` wrong passwords within `window` the record answers
/// 429 (with `Retry-After`) without checking anything for `first_lock`,
/// doubled at each further lockout up to `max_lock`; the right password
/// resets it all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters of a new record's password.
    pub min_chars: usize,
    pub max_failures: u32,
    pub window: std::time::Duration,
    pub first_lock: std::time::Duration,
    pub max_lock: std::time::Duration,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 8,
            max_failures: 5,
            window: std::time::Duration::from_secs(15 * 60),
            first_lock: std::time::Duration::from_secs(60),
            max_lock: std::time::Duration::from_secs(3600),
        }
    }
}

impl PasswordPolicy {
    /// The lock after `lockouts` earlier ones.
    pub fn lock_for(&self, lockouts: u32) -> std::time::Duration {
        self.first_lock.saturating_mul(1u32 << lockouts.min(16)).min(self.max_lock)
    }
}

/// The payment use cases. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct PaymentService {
    pub(crate) deps: Arc<PaymentDeps>,
    /// Woken when this process closes a cancel intent, for cancels waiting
    /// for their payment's lock.
    pub(crate) intent_closed: Arc<tokio::sync::Notify>,
    /// When this process's last reconciliation finished, and what it did.
    pub(crate) last_reconciliation: Arc<std::sync::Mutex<Option<LastReconciliation>>>,
    /// A hash no password opens, verified against when a record is not
    /// found (made at first use; `None` if hashing failed).
    pub(crate) dummy_hash: Arc<tokio::sync::OnceCell<Option<PasswordHash>>>,
    /// The notification-triggered PG reads under way and recent, per payment.
    pub(crate) rereads: Arc<crate::reread::RereadGate>,
    /// The inbox's size as last counted (when), and stored since.
    pub(crate) kept: Arc<std::sync::Mutex<Option<(std::time::Instant, u64)>>>,
}

/// What processing a notification came to, when its PG read is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notified {
    Outcome(NotificationOutcome),
    /// Held back by the bounds on PG reads: try again after this long.
    Later(std::time::Duration),
}

/// When a reconciliation finished, and what it did.
pub(crate) type LastReconciliation = (payments_domain::Timestamp, crate::ReconcileReport);

/// How often a change is re-applied when another change of the same history
/// committed first. Each retry re-reads the record, so this only bounds a storm.
pub(crate) const MAX_CHANGE_ATTEMPTS: usize = 16;

/// Most histories an order id is looked up in (order ids are unique per
/// store; the same one at several stores is rare).
const MAX_HISTORIES_PER_ORDER: u32 = 8;

/// The lookup digest of an identifier kept sealed at rest (a PG's saved-card
/// key, a PG's order id): SHA-256 in lower-case hex, so a record is found by
/// it without opening every row.
pub fn lookup_digest(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A PG idempotency key derived from what identifies one operation, so every
/// retry of that operation sends the same key: `payments-{purpose}-` and the
/// SHA-256 (hex) of the length-prefixed parts (at most 73 characters plus the
/// purpose; Toss takes 300).
pub fn derived_key(purpose: &str, parts: &[&str]) -> String {
    format!("payments-{purpose}-{}", hex(&digest_of(parts)))
}

/// An id derived from what identifies one operation (the first 16 bytes of
/// [`digest_of`]), so every retry of it finds the same record.
pub(crate) fn derived_id(parts: &[&str]) -> uuid::Uuid {
    let digest = digest_of(parts);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// SHA-256 of the length-prefixed `parts` (so `["ab", "c"]` and `["a", "bc"]` differ).
fn digest_of(parts: &[&str]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    for part in parts {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    digest.finalize().into()
}

/// The PG idempotency key of a registration's confirmation.
fn confirm_key(input: &CreateHistory) -> String {
    let price = input.price.to_string();
    derived_key(
        "confirm",
        &[input.vendor.code.as_str(), input.vendor.store_id.as_str(), input.vendor.uid.as_str(), &price],
    )
}

impl PaymentService {
    pub fn new(deps: PaymentDeps) -> Self {
        Self {
            rereads: Arc::new(crate::reread::RereadGate::new(deps.rereads)),
            kept: Arc::default(),
            deps: Arc::new(deps),
            intent_closed: Arc::default(),
            last_reconciliation: Arc::default(),
            dummy_hash: Arc::default(),
        }
    }

    pub(crate) fn histories(&self) -> &dyn HistoryRepository {
        self.deps.histories.as_ref()
    }

    pub(crate) fn reservations(&self) -> &dyn ReservationRepository {
        self.deps.reservations.as_ref()
    }

    /// Registers a payment: refuses duplicates, reads the payment from the PG,
    /// confirms it there when the PG waits for the merchant's confirmation
    /// (after checking its price: a wrong price is never charged), and if the
    /// PG charged another amount, cancels it there and refuses.
    ///
    /// # Errors
    /// 409 when the payment or the source is already registered; 404 when the
    /// PG does not know the uid; 422 on a price mismatch (after cancelling a
    /// charged payment), a confirmation the PG refused, or a payment that can
    /// never be paid (failed, expired, cancelled); 502/504 when the PG fails
    /// (nothing is written).
    pub async fn create_history(&self, input: CreateHistory) -> Result<PaymentHistory, AppError> {
        self.check_new_password(&input.password)?;
        self.check_webhook_url(&input.webhook_url).await?;
        if self.histories().find_by_vendor(input.vendor.code, &input.vendor.uid).await?.is_some() {
            return Err(AppError::Conflict(format!(
                "vendor.uid: payment {} of {} is already registered",
                input.vendor.uid, input.vendor.code
            )));
        }
        if self.histories().find_by_source(&input.source).await?.is_some() {
            return Err(AppError::Conflict("source: a payment is already registered for this source".into()));
        }
        let gateway = self.deps.gateways.get(input.vendor.code)?;
        let mut snapshot = gateway.fetch_payment(&input.vendor.store_id, &input.vendor.uid).await?;
        self.ensure_own_order(&input, &snapshot)?;
        // A price the currency cannot have is the caller's mistake: refused
        // before it is compared (a mismatch cancels the payment).
        snapshot.currency.check_amount("price", input.price)?;
        if snapshot.phase == PaymentPhase::AwaitingConfirmation {
            // Not charged yet: a wrong price is refused before anything is charged.
            snapshot.ensure_price(input.price)?;
            let order_id = snapshot.order_id.clone().ok_or_else(|| {
                AppError::BadGateway("the PG did not report the order id of a payment to confirm".into())
            })?;
            let request = ConfirmRequest {
                order_id,
                amount: input.price,
                currency: snapshot.currency.clone(),
                idempotency_key: confirm_key(&input),
            };
            snapshot = gateway.confirm_payment(&input.vendor.store_id, &input.vendor.uid, &request).await?;
        }
        snapshot.ensure_registrable()?;
        if let Err(mismatch) = snapshot.ensure_price(input.price) {
            self.cancel_mismatched(gateway, &input, &snapshot).await;
            return Err(mismatch.into());
        }
        if let Some(expected) = input.currency.as_ref().filter(|c| **c != snapshot.currency) {
            self.cancel_mismatched(gateway, &input, &snapshot).await;
            return Err(AppError::Unprocessable(format!("currency {expected} is not the currency the PG charged in")));
        }
        let password_hash = self.hash(&input.password).await?;
        let identity = HistoryIdentity {
            id: HistoryId::from_uuid(self.deps.ids.new_id()),
            vendor: input.vendor,
            source: input.source,
            webhook_url: input.webhook_url,
            created_at: self.deps.clock.now(),
            reservation_id: None,
        };
        let history = PaymentHistory::register(identity, snapshot)?;
        self.histories().insert(&history, &password_hash).await?;
        Ok(history)
    }

    /// Under [`OrderBinding::SourceId`], refuses (422) a payment whose PG
    /// order id is not the caller's `source.id`, before anything is confirmed
    /// or cancelled. The message names neither order.
    fn ensure_own_order(&self, input: &CreateHistory, snapshot: &PaymentSnapshot) -> Result<(), AppError> {
        if self.deps.orders == OrderBinding::Off {
            return Ok(());
        }
        match &snapshot.order_id {
            Some(order) if order.as_str() == input.source.id.as_str() => Ok(()),
            Some(_) => Err(AppError::Unprocessable(format!(
                "source.id: payment {} of {} was made for another order (its order id at the PG must be source.id)",
                input.vendor.uid, input.vendor.code
            ))),
            None => Err(AppError::Unprocessable(format!(
                "vendor.uid: {} reports no order id for payment {}, so it cannot be bound to source.id",
                input.vendor.code, input.vendor.uid
            ))),
        }
    }

    /// A payment whose amount is not what the caller expected must not stay
    /// charged: cancel what is left of it, when it is the caller's own
    /// ([`OrderBinding::SourceId`]; unbound, a mismatch is only refused). A
    /// failure here is logged; the registration fails either way.
    async fn cancel_mismatched(&self, gateway: &dyn PaymentGateway, input: &CreateHistory, snapshot: &PaymentSnapshot) {
        if self.deps.orders == OrderBinding::Off {
            tracing::warn!(
                vendor = %input.vendor.code, uid = %input.vendor.uid,
                "a registration did not match the payment at the PG; order binding is off, so it is not cancelled"
            );
            return;
        }
        let Some(remaining) = snapshot.remaining() else { return };
        if remaining.is_zero() {
            return;
        }
        let Ok(reason) = CancelReason::parse(format!(
            "registered price {} differs from the charged {}",
            input.price, snapshot.price
        )) else {
            return;
        };
        // Not registered, so no intent: a key derived from the registration
        // keeps a retried registration from refunding twice at Toss.
        let idempotency_key = Some(derived_key(
            "mismatch-cancel",
            &[input.vendor.code.as_str(), input.vendor.store_id.as_str(), input.vendor.uid.as_str()],
        ));
        let request = CancelRequest {
            amount: remaining,
            currency: snapshot.currency.clone(),
            reason,
            remaining,
            refund_account: None,
            idempotency_key,
        };
        if let Err(error) = gateway.cancel_payment(&input.vendor.store_id, &input.vendor.uid, &request).await {
            tracing::error!(
                vendor = %input.vendor.code, uid = %input.vendor.uid, %error,
                "could not cancel a payment whose price did not match; cancel it at the PG by hand"
            );
        }
    }

    /// Reads a payment with its password.
    ///
    /// # Errors
    /// 404 when unknown, 403 on a wrong password.
    pub async fn get_history(&self, locator: HistoryLocator, password: &Password) -> Result<PaymentHistory, AppError> {
        Ok(self.opened_history(&locator, password).await?.history)
    }

    /// Loads a history and checks its password.
    pub(crate) async fn opened_history(
        &self,
        locator: &HistoryLocator,
        password: &Password,
    ) -> Result<StoredHistory, AppError> {
        let found = match locator {
            Locator::Id(id) => self.histories().find_by_id(*id).await?,
            Locator::Source(source) => self.histories().find_by_source(source).await?,
        };
        let Some(stored) = found else { return Err(self.not_found(password, "payment history").await) };
        self.check_password(PasswordRecord::History(stored.history.id()), password, &stored.password_hash).await?;
        Ok(stored)
    }

    /// A PG says a payment changed: re-read it from the PG and record what
    /// changed, if anything. The snapshot is always read after the history
    /// was loaded (again after losing a race), so it is never older than the
    /// record it is applied to, and a reversed deposit is told from a stale read.
    ///
    /// # Errors
    /// 404 when no history has this PG uid or order id (so the PG retries
    /// later); 403 when an order's secret is not the PG's; 502/504 when the PG
    /// cannot be read.
    pub async fn process_pg_notification(&self, notice: &PgNotification) -> Result<NotificationOutcome, AppError> {
        match self.process_notified(notice, None).await? {
            Notified::Outcome(outcome) => Ok(outcome),
            // Never without a gate.
            Notified::Later(_) => Ok(NotificationOutcome::Unchanged),
        }
    }

    /// As [`process_pg_notification`](Self::process_pg_notification); with
    /// `received_at` (when the notification came), the PG read it triggers
    /// goes through the bounds of [`crate::reread`]: it may be answered by a
    /// read made since it came, or told to wait.
    pub(crate) async fn process_notified(
        &self,
        notice: &PgNotification,
        received_at: Option<Timestamp>,
    ) -> Result<Notified, AppError> {
        let gateway = self.deps.gateways.get(notice.vendor)?;
        let Some(stored) = self.notified_history(gateway, notice).await? else {
            return Ok(Notified::Outcome(NotificationOutcome::Ignored));
        };
        let Some(received_at) = received_at else {
            return self.reread_and_apply(gateway, notice, stored).await.map(Notified::Outcome);
        };
        let history = stored.history.id();
        // A deposit callback proved itself by its secret (checked above), a
        // signed notification by its signature.
        let proven = notice.signed || matches!(notice.target, NotificationTarget::Order { .. });
        let started = self.deps.clock.now();
        match self.rereads.admit(notice.vendor, history, received_at, proven, started) {
            Admission::Answered => Ok(Notified::Outcome(NotificationOutcome::Unchanged)),
            Admission::Later(wait) => Ok(Notified::Later(wait)),
            Admission::Go => {
                // Ended even when this future is dropped mid-read (a timeout).
                let turn = crate::reread::Turn::new(&self.rereads, history, started, self.deps.clock.as_ref());
                let outcome = self.reread_and_apply(gateway, notice, stored).await;
                turn.finish(outcome.is_ok());
                outcome.map(Notified::Outcome)
            }
        }
    }

    /// Re-reads the payment of `stored` and records what changed.
    async fn reread_and_apply(
        &self,
        gateway: &dyn PaymentGateway,
        notice: &PgNotification,
        mut stored: StoredHistory,
    ) -> Result<NotificationOutcome, AppError> {
        for _ in 0..MAX_CHANGE_ATTEMPTS {
            let vendor = stored.history.vendor().clone();
            let snapshot = gateway.fetch_payment(&vendor.store_id, &vendor.uid).await.map_err(notified_read_error)?;
            let next = match stored.history.apply_current(snapshot)? {
                Applied::Unchanged => return Ok(NotificationOutcome::Unchanged),
                Applied::Changed(next) => next,
            };
            let (id, revision) = (stored.history.id(), stored.revision);
            let event = self.new_event(stored.history, next, notice.payload.clone())?;
            match self.histories().save_change(revision, event.current(), &event).await {
                Ok(()) => {
                    self.close_settled_cancel(event.previous(), event.current()).await;
                    return Ok(NotificationOutcome::Changed(event.id()));
                }
                Err(RepositoryError::Stale) => stored = self.reload(id).await?,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Unavailable("too many concurrent changes of this payment; retry".into()))
    }

    /// The history a notification is about; `None` when it may be ignored.
    pub(crate) async fn notified_history(
        &self,
        gateway: &dyn PaymentGateway,
        notice: &PgNotification,
    ) -> Result<Option<StoredHistory>, AppError> {
        let vendor = notice.vendor;
        match &notice.target {
            NotificationTarget::Payment { uid, ignore_unknown } => {
                match self.histories().find_by_vendor(vendor, uid).await? {
                    Some(stored) => Ok(Some(stored)),
                    None if *ignore_unknown => Ok(None),
                    None => Err(AppError::NotFound(format!("no payment {uid} of {vendor} is registered"))),
                }
            }
            NotificationTarget::Order { order_id, secret, ignore_unknown } => {
                let found = self.histories().find_by_order(vendor, order_id, MAX_HISTORIES_PER_ORDER).await?;
                if found.is_empty() && *ignore_unknown {
                    return Ok(None);
                }
                if found.is_empty() {
                    return Err(AppError::NotFound(format!(
                        "no payment of order {order_id} of {vendor} is registered"
                    )));
                }
                // Every candidate is checked, so the time taken does not tell which one matched.
                let mut matched = None;
                for stored in found {
                    if gateway.notification_secret_matches(stored.history.data(), secret) && matched.is_none() {
                        matched = Some(stored);
                    }
                }
                matched.map(Some).ok_or_else(|| {
                    AppError::Forbidden(format!("the secret is not the one {vendor} gave for order {order_id}"))
                })
            }
            NotificationTarget::Cancel { key, ignore_unknown } => {
                match self.histories().find_by_cancel_key(vendor, key).await? {
                    Some(stored) => Ok(Some(stored)),
                    None if *ignore_unknown => Ok(None),
                    None => Err(AppError::NotFound(format!(
                        "no payment of {vendor} with cancel {} is registered",
                        key.as_str()
                    ))),
                }
            }
        }
    }

    pub(crate) fn new_event(
        &self,
        previous: PaymentHistory,
        next: PaymentHistory,
        trigger: serde_json::Value,
    ) -> Result<WebhookEvent, AppError> {
        Ok(WebhookEvent::new(
            EventId::from_uuid(self.deps.ids.new_id()),
            previous,
            next,
            trigger,
            self.deps.clock.now(),
        )?)
    }

    pub(crate) async fn reload(&self, id: HistoryId) -> Result<StoredHistory, AppError> {
        self.histories()
            .find_by_id(id)
            .await?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("history vanished during a change")))
    }

    /// Registers a card saved at the PG.
    ///
    /// # Errors
    /// 409 when already registered; 404 when the PG does not know it; 422 when
    /// it belongs to another customer; 502/504 when the PG fails.
    pub async fn create_reservation(&self, input: CreateReservation) -> Result<PaymentReservation, AppError> {
        self.check_new_password(&input.password)?;
        if self.reservations().find_by_vendor(input.vendor.code, &input.vendor.uid).await?.is_some() {
            return Err(AppError::Conflict(format!(
                "vendor.uid: saved card {} of {} is already registered",
                input.vendor.uid, input.vendor.code
            )));
        }
        if self.reservations().find_by_source(&input.source).await?.is_some() {
            return Err(AppError::Conflict("source: a saved card is already registered for this source".into()));
        }
        let gateway = self.deps.gateways.get(input.vendor.code)?;
        let card = gateway.fetch_reservation(&input.vendor.store_id, &input.vendor.uid, &input.source.id).await?;
        let password_hash = self.hash(&input.password).await?;
        let reservation = PaymentReservation {
            id: ReservationId::from_uuid(self.deps.ids.new_id()),
            vendor: input.vendor,
            source: input.source,
            title: input.title,
            data: card.data,
            key_digest: Some(lookup_digest(&card.key)),
            created_at: self.deps.clock.now(),
            removed_at: None,
        };
        self.reservations().insert(&reservation, &password_hash).await?;
        Ok(reservation)
    }

    /// A PG says it removed the saved card whose charging key is `key`: every
    /// record of it is marked removed (kept, never charged again). Returns how
    /// many were marked (0 for a card not registered here).
    ///
    /// # Errors
    /// 503 when the database is down.
    pub async fn process_card_removed(&self, vendor: VendorCode, key: &SecretKey) -> Result<u64, AppError> {
        let digest = lookup_digest(&key.0);
        Ok(self.reservations().mark_removed(vendor, &digest, self.deps.clock.now()).await?)
    }

    /// Reads a saved card with its password.
    ///
    /// # Errors
    /// 404 when unknown, 403 on a wrong password.
    pub async fn get_reservation(
        &self,
        locator: ReservationLocator,
        password: &Password,
    ) -> Result<PaymentReservation, AppError> {
        Ok(self.opened_reservation(&locator, password).await?.reservation)
    }

    async fn hash(&self, password: &Password) -> Result<PasswordHash, AppError> {
        self.deps.hasher.hash(password).await.map_err(hasher_error)
    }

    /// Checks the password of `record`: refused at once (429) while the
    /// record is locked; a wrong one is counted and locks the record once
    /// there were too many; a right one clears the count.
    pub(crate) async fn check_password(
        &self,
        record: PasswordRecord,
        password: &Password,
        hash: &PasswordHash,
    ) -> Result<(), AppError> {
        let policy = &self.deps.passwords;
        let now = self.deps.clock.now();
        let counted = self.deps.attempts.failures(record).await?;
        if let Some(until) = counted.locked_until.filter(|until| *until > now) {
            return Err(locked(until - now));
        }
        if self.deps.hasher.verify(password, hash).await.map_err(hasher_error)? {
            if counted != PasswordFailures::default() {
                self.deps.attempts.clear(record).await?;
            }
            return Ok(());
        }
        let counted = self.deps.attempts.fail(record, now, policy.window).await?;
        if counted.failures >= policy.max_failures {
            let lock = policy.lock_for(counted.lockouts);
            let until = now.checked_add_signed(chrono::Duration::from_std(lock).unwrap_or(chrono::Duration::MAX));
            self.deps.attempts.lock(record, until.unwrap_or(now)).await?;
            tracing::warn!(record = %record.key(), failures = counted.failures, lock_s = lock.as_secs(), "record locked after wrong passwords");
        }
        Err(AppError::Forbidden("wrong password".into()))
    }

    /// What a record not found costs: the same argon2 time as a wrong
    /// password, so timing does not tell which records exist.
    pub(crate) async fn not_found(&self, password: &Password, what: &str) -> AppError {
        let dummy = self.dummy_hash.get_or_init(|| async {
            self.deps
                .hasher
                .hash(&Password::parse("not a password of any record").expect("a valid password"))
                .await
                .ok()
        });
        if let Some(dummy) = dummy.await {
            let _ = self.deps.hasher.verify(password, dummy).await;
        }
        AppError::NotFound(format!("{what} not found"))
    }

    /// Refuses a new record's password shorter than the policy's minimum.
    pub(crate) fn check_new_password(&self, password: &Password) -> Result<(), AppError> {
        let min = self.deps.passwords.min_chars;
        if password.expose().chars().count() < min {
            return Err(AppError::Invalid(format!("password: must be at least {min} characters")));
        }
        Ok(())
    }
}

/// A PG notification's re-read that failed: what the gateway's error maps to,
/// except an answer past our bounds, which every later read gives again: a
/// refusal (422), so the notification is acknowledged and parked, not
/// retried for days as if the PG were down.
fn notified_read_error(error: GatewayError) -> AppError {
    match error {
        GatewayError::OutOfBounds(_) => AppError::Unprocessable(error.to_string()),
        other => other.into(),
    }
}

/// A full hashing queue is 503 (retry shortly); anything else is a bug.
fn hasher_error(error: anyhow::Error) -> AppError {
    if error.is::<crate::ports::HasherBusy>() {
        AppError::Unavailable(error.to_string())
    } else {
        AppError::Internal(error)
    }
}

/// The answer of a locked record.
fn locked(left: chrono::Duration) -> AppError {
    let retry_after = left.to_std().unwrap_or_default().max(std::time::Duration::from_secs(1));
    AppError::TooManyAttempts {
        message: format!("too many wrong passwords for this record; retry in {} s", retry_after.as_secs()),
        retry_after,
    }
}

impl PaymentService {}

#[cfg(test)]
#[path = "payments_tests.rs"]
mod tests;
