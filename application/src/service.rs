//! The payment service: what its use cases depend on, and the PG gateways by vendor.

use std::collections::HashMap;
use std::sync::Arc;

use payments_domain::VendorCode;

use crate::commands::NotificationOutcome;
use crate::error::AppError;
use crate::policy::{OrderBinding, PasswordPolicy, WebhookTargets};
use crate::ports::{
    CancelIntentRepository, Clock, HistoryRepository, IdGenerator, PasswordHasher, PaymentGateway, SavedCardRepository,
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
    /// [`AppError::VendorNotEnabled`] when no gateway serves `vendor` in this deployment.
    pub fn get(&self, vendor: VendorCode) -> Result<&dyn PaymentGateway, AppError> {
        self.0.get(&vendor).map(|g| g.as_ref()).ok_or(AppError::VendorNotEnabled(vendor))
    }
}

/// Everything the payment use cases depend on.
#[derive(Clone)]
pub struct PaymentDeps {
    pub gateways: Gateways,
    pub histories: Arc<dyn HistoryRepository>,
    pub reservations: Arc<dyn crate::ports::SavedCardRepository>,
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
    /// it, one that would be stored is refused (`InboxFull`: the PG sends it again).
    pub max_kept_notifications: u64,
    /// PG deliveries already answered, so a repeat is only acknowledged.
    pub receipts: Arc<dyn crate::ports::NotificationReceipts>,
    /// Wrong passwords counted per record.
    pub attempts: Arc<dyn crate::ports::PasswordAttempts>,
    /// What a password must be and how guessing one is slowed down.
    pub passwords: PasswordPolicy,
    /// Whether a payment registers only under its own order.
    pub orders: OrderBinding,
    /// Orders registered before the customer's window.
    pub payment_orders: Arc<dyn crate::ports::OrderRepository>,
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
    pub(crate) dummy_hash: crate::access::Decoy,
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

impl PaymentService {
    pub fn new(deps: PaymentDeps) -> Self {
        Self {
            rereads: Arc::new(crate::reread::RereadGate::new(deps.rereads)),
            kept: Arc::default(),
            deps: Arc::new(deps),
            intent_closed: Arc::default(),
            last_reconciliation: Arc::default(),
            dummy_hash: crate::access::Decoy::default(),
        }
    }

    pub(crate) fn histories(&self) -> &dyn HistoryRepository {
        self.deps.histories.as_ref()
    }

    pub(crate) fn orders(&self) -> &dyn crate::ports::OrderRepository {
        self.deps.payment_orders.as_ref()
    }

    pub(crate) fn reservations(&self) -> &dyn SavedCardRepository {
        self.deps.reservations.as_ref()
    }
}
