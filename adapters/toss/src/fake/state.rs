//! The fake's in-memory state: bounded, expiring, safe under concurrency.

use payments_fakekit::{Store, WebhookEmitter};

use crate::webhook::TossPaymentWebhook;
use crate::wire::{TossBilling, TossCashReceipt, TossPayment, TossPaymentStatus};

use super::FakeTossConfig;

/// A payment as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct FakePayment {
    pub payment: TossPayment,
    /// Whether the merchant approved it (`__approved`, or a later approval).
    pub approved: bool,
}

/// Everything the fake knows. Each table is a [`Store`]: one short lock per
/// operation, never held across an await.
#[derive(Debug)]
pub struct FakeState {
    pub(crate) secret_key: String,
    pub(crate) payments: Store<String, FakePayment>,
    pub(crate) billings: Store<String, TossBilling>,
    pub(crate) receipts: Store<String, TossCashReceipt>,
    pub(crate) webhooks: Store<String, TossPaymentWebhook>,
    pub(crate) emitter: WebhookEmitter,
}

impl FakeState {
    /// A fresh, empty state.
    pub fn new(config: &FakeTossConfig, emitter: WebhookEmitter) -> Self {
        Self {
            secret_key: config.secret_key.clone(),
            payments: Store::new(config.limits),
            billings: Store::new(config.limits),
            receipts: Store::new(config.limits),
            webhooks: Store::new(config.limits),
            emitter,
        }
    }

    /// A payment as the fake holds it now.
    pub fn payment(&self, payment_key: &str) -> Option<TossPayment> {
        self.payments.get(&payment_key.to_owned()).map(|p| p.payment)
    }

    /// The last webhook received by `POST /internal/webhook` for a payment.
    pub fn received_webhook(&self, payment_key: &str) -> Option<TossPaymentWebhook> {
        self.webhooks.get(&payment_key.to_owned())
    }

    /// POSTs `PAYMENT_STATUS_CHANGED` for `payment` in the background, when its
    /// status is one a webhook carries.
    pub(crate) fn notify(&self, payment: &TossPayment) {
        let status = payment.status().clone();
        if !matches!(
            status,
            TossPaymentStatus::WaitingForDeposit
                | TossPaymentStatus::Done
                | TossPaymentStatus::Canceled
                | TossPaymentStatus::PartialCanceled
        ) {
            return;
        }
        let webhook = TossPaymentWebhook::status_changed(payment.payment_key(), &payment.common().order_id, status);
        match serde_json::to_value(&webhook) {
            Ok(body) => {
                let _ = self.emitter.emit(None, body);
            }
            Err(error) => tracing::warn!(%error, "fake Toss: cannot serialise a webhook"),
        }
    }

    pub(crate) fn remember_webhook(&self, webhook: TossPaymentWebhook) {
        self.webhooks.insert(webhook.data.payment_key().to_owned(), webhook);
    }
}
