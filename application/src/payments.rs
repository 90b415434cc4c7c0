//! The payment use cases: register, read, cancel, save cards, PG webhooks.

use std::collections::HashMap;
use std::sync::Arc;

use payments_domain::{
    Applied, CancelReason, EventId, HistoryId, HistoryIdentity, Password, PasswordHash, PaymentHistory,
    PaymentReservation, PaymentSnapshot, ReservationId, VendorCode, WebhookEvent, WebhookUrl,
};
use serde_json::json;

use crate::commands::{
    CancelHistory, CreateHistory, CreateReservation, HistoryLocator, Locator, NotificationOutcome, PgNotification,
    ReservationLocator,
};
use crate::error::AppError;
use crate::ports::{
    CancelRequest, Clock, GatewayError, HistoryRepository, IdGenerator, PasswordHasher, PaymentGateway,
    RepositoryError, ReservationRepository, StoredHistory,
};

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

/// Which hosts a `webhook_url` may point at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WebhookUrlPolicy {
    /// Any http(s) host.
    #[default]
    AnyHost,
    /// Only these hosts (lower-case names or addresses).
    Hosts(Vec<String>),
}

impl WebhookUrlPolicy {
    /// # Errors
    /// [`AppError::Invalid`] when the URL's host is not allowed.
    pub fn check(&self, url: &WebhookUrl) -> Result<(), AppError> {
        match self {
            WebhookUrlPolicy::AnyHost => Ok(()),
            WebhookUrlPolicy::Hosts(hosts) if hosts.iter().any(|h| h.eq_ignore_ascii_case(&url.host())) => Ok(()),
            WebhookUrlPolicy::Hosts(_) => {
                Err(AppError::Invalid(format!("webhook_url: host {:?} is not in the allowed list", url.host())))
            }
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
    pub webhook_urls: WebhookUrlPolicy,
}

/// The payment use cases. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct PaymentService {
    deps: Arc<PaymentDeps>,
}

/// How often a change is re-applied when another change of the same history
/// committed first. Each retry re-reads the record, so this only bounds a storm.
const MAX_CHANGE_ATTEMPTS: usize = 16;

/// How often a cancel is re-sent after the PG refused it for a stale balance.
const MAX_STALE_BALANCE_RETRIES: usize = 64;

impl PaymentService {
    pub fn new(deps: PaymentDeps) -> Self {
        Self { deps: Arc::new(deps) }
    }

    fn histories(&self) -> &dyn HistoryRepository {
        self.deps.histories.as_ref()
    }

    fn reservations(&self) -> &dyn ReservationRepository {
        self.deps.reservations.as_ref()
    }

    /// Registers a payment: refuses duplicates, reads the payment from the PG,
    /// and if the PG charged another amount, cancels it there and refuses.
    ///
    /// # Errors
    /// 409 when the payment or the source is already registered; 404 when the
    /// PG does not know the uid; 422 on a price mismatch (after cancelling);
    /// 502/504 when the PG fails (nothing is written).
    pub async fn create_history(&self, input: CreateHistory) -> Result<PaymentHistory, AppError> {
        self.deps.webhook_urls.check(&input.webhook_url)?;
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
        let snapshot = gateway.fetch_payment(&input.vendor.store_id, &input.vendor.uid).await?;
        if let Err(mismatch) = snapshot.ensure_price(input.price) {
            self.cancel_mismatched(gateway, &input, &snapshot).await;
            return Err(mismatch.into());
        }
        let password_hash = self.hash(&input.password).await?;
        let identity = HistoryIdentity {
            id: HistoryId::from_uuid(self.deps.ids.new_id()),
            vendor: input.vendor,
            source: input.source,
            webhook_url: input.webhook_url,
            created_at: self.deps.clock.now(),
        };
        let history = PaymentHistory::register(identity, snapshot)?;
        self.histories().insert(&history, &password_hash).await?;
        Ok(history)
    }

    /// A payment whose amount is not what the caller expected must not stay
    /// charged: cancel what is left of it. A failure here is logged; the
    /// registration fails either way.
    async fn cancel_mismatched(&self, gateway: &dyn PaymentGateway, input: &CreateHistory, snapshot: &PaymentSnapshot) {
        let refunded = payments_domain::Money::sum(snapshot.cancels.iter().map(|c| &c.price));
        let Some(remaining) = refunded.and_then(|r| snapshot.price.checked_sub(r)) else { return };
        if remaining.is_zero() {
            return;
        }
        let Ok(reason) = CancelReason::parse(format!(
            "registered price {} differs from the charged {}",
            input.price, snapshot.price
        )) else {
            return;
        };
        let request = CancelRequest { amount: remaining, reason, remaining, refund_account: None };
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
        let stored = self.load_history(&locator).await?;
        self.check_password(password, &stored.password_hash).await?;
        Ok(stored.history)
    }

    async fn load_history(&self, locator: &HistoryLocator) -> Result<StoredHistory, AppError> {
        let found = match locator {
            Locator::Id(id) => self.histories().find_by_id(*id).await?,
            Locator::Source(source) => self.histories().find_by_source(source).await?,
        };
        found.ok_or_else(|| AppError::NotFound("payment history not found".into()))
    }

    /// Cancels a payment wholly or partly at the PG, then records the change
    /// and its webhook event.
    ///
    /// # Errors
    /// 404/403 as for reading; 422 when the amount is 0 or above the balance
    /// (the PG is not called) or the PG refuses; 502/504 when the PG fails.
    pub async fn cancel_history(&self, input: CancelHistory) -> Result<PaymentHistory, AppError> {
        let stored = self.load_history(&Locator::Source(input.source.clone())).await?;
        self.check_password(&input.password, &stored.password_hash).await?;
        let history = &stored.history;
        history.check_cancel(input.price)?;
        let gateway = self.deps.gateways.get(history.vendor().code)?;
        let (store, uid) = (&history.vendor().store_id, &history.vendor().uid);
        let mut remaining = history.remaining();
        let mut attempts = 0;
        let snapshot = loop {
            let request = CancelRequest {
                amount: input.price,
                reason: input.reason.clone(),
                remaining,
                refund_account: input.account.clone(),
            };
            match gateway.cancel_payment(store, uid, &request).await {
                Ok(snapshot) => break snapshot,
                // The PGs refuse a cancel whose stated balance is stale (another
                // cancel of this payment went first, here or on another
                // instance). Re-read the balance at the PG: when it moved, try
                // again against it; each refusal means another cancel succeeded,
                // so this ends.
                Err(GatewayError::Rejected(message)) if attempts < MAX_STALE_BALANCE_RETRIES => {
                    attempts += 1;
                    let fresh = gateway.fetch_payment(store, uid).await?;
                    let refunded = payments_domain::Money::sum(fresh.cancels.iter().map(|c| &c.price));
                    let fresh_remaining = refunded.and_then(|r| fresh.price.checked_sub(r)).unwrap_or(remaining);
                    if fresh_remaining == remaining {
                        return Err(GatewayError::Rejected(message).into());
                    }
                    if input.price > fresh_remaining {
                        return Err(payments_domain::DomainError::CancelExceedsBalance {
                            requested: input.price,
                            remaining: fresh_remaining,
                        }
                        .into());
                    }
                    remaining = fresh_remaining;
                }
                Err(other) => return Err(other.into()),
            }
        };
        // The refund account is passed to the PG only, never stored.
        let trigger = json!({
            "type": "cancel",
            "price": input.price,
            "reason": input.reason.as_str(),
        });
        let current = self.apply_snapshot(stored, snapshot, trigger).await?.0;
        Ok(current)
    }

    /// Applies a PG snapshot to a stored history and records the event,
    /// re-reading and re-applying when another change committed first.
    /// Returns the history as it is now and the event, if anything changed.
    async fn apply_snapshot(
        &self,
        mut stored: StoredHistory,
        snapshot: PaymentSnapshot,
        trigger: serde_json::Value,
    ) -> Result<(PaymentHistory, Option<EventId>), AppError> {
        for _ in 0..MAX_CHANGE_ATTEMPTS {
            let next = match stored.history.apply(snapshot.clone())? {
                Applied::Unchanged => return Ok((stored.history, None)),
                Applied::Changed(next) => next,
            };
            let event = WebhookEvent::new(
                EventId::from_uuid(self.deps.ids.new_id()),
                stored.history.clone(),
                next.clone(),
                trigger.clone(),
                self.deps.clock.now(),
            )?;
            match self.histories().save_change(stored.revision, &next, &event).await {
                Ok(()) => return Ok((next, Some(event.id()))),
                Err(RepositoryError::Stale) => {
                    stored = self
                        .histories()
                        .find_by_id(stored.history.id())
                        .await?
                        .ok_or_else(|| AppError::internal(anyhow::anyhow!("history vanished during a change")))?;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Unavailable("too many concurrent changes of this payment; retry".into()))
    }

    /// A PG says a payment changed: re-read it from the PG and record what
    /// changed, if anything.
    ///
    /// # Errors
    /// 404 when no history has this PG uid (so the PG retries later); 502/504
    /// when the PG cannot be read.
    pub async fn process_pg_notification(&self, notice: PgNotification) -> Result<NotificationOutcome, AppError> {
        let stored = self.histories().find_by_vendor(notice.vendor, &notice.uid).await?.ok_or_else(|| {
            AppError::NotFound(format!("no payment {} of {} is registered", notice.uid, notice.vendor))
        })?;
        let gateway = self.deps.gateways.get(notice.vendor)?;
        let vendor = stored.history.vendor().clone();
        let snapshot = gateway.fetch_payment(&vendor.store_id, &vendor.uid).await?;
        let (_, event) = self.apply_snapshot(stored, snapshot, notice.payload).await?;
        Ok(event.map_or(NotificationOutcome::Unchanged, NotificationOutcome::Changed))
    }

    /// Registers a card saved at the PG.
    ///
    /// # Errors
    /// 409 when already registered; 404 when the PG does not know it; 422 when
    /// it belongs to another customer; 502/504 when the PG fails.
    pub async fn create_reservation(&self, input: CreateReservation) -> Result<PaymentReservation, AppError> {
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
        let data = gateway.fetch_reservation(&input.vendor.store_id, &input.vendor.uid, &input.source.id).await?;
        let password_hash = self.hash(&input.password).await?;
        let reservation = PaymentReservation {
            id: ReservationId::from_uuid(self.deps.ids.new_id()),
            vendor: input.vendor,
            source: input.source,
            title: input.title,
            data,
            created_at: self.deps.clock.now(),
        };
        self.reservations().insert(&reservation, &password_hash).await?;
        Ok(reservation)
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
        let found = match &locator {
            Locator::Id(id) => self.reservations().find_by_id(*id).await?,
            Locator::Source(source) => self.reservations().find_by_source(source).await?,
        };
        let stored = found.ok_or_else(|| AppError::NotFound("payment reservation not found".into()))?;
        self.check_password(password, &stored.password_hash).await?;
        Ok(stored.reservation)
    }

    async fn hash(&self, password: &Password) -> Result<PasswordHash, AppError> {
        self.deps.hasher.hash(password).await.map_err(AppError::Internal)
    }

    async fn check_password(&self, password: &Password, hash: &PasswordHash) -> Result<(), AppError> {
        if self.deps.hasher.verify(password, hash).await.map_err(AppError::Internal)? {
            Ok(())
        } else {
            Err(AppError::Forbidden("wrong password".into()))
        }
    }
}

#[cfg(test)]
#[path = "payments_tests.rs"]
mod tests;
