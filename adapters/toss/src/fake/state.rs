//! The fake's in-memory state: bounded, expiring, safe under concurrency.
//! Payments are kept in the 1.x typed model ([`TossPayment`]) with what the
//! fake alone needs beside it; every answer is rendered from them for the
//! configured API version ([`super::render`]).

use chrono::{FixedOffset, Utc};
use poem::http::StatusCode;
use serde_json::{Value, json};

use payments_fakekit::{Store, WebhookEmitter};

use crate::webhook::{CANCEL_STATUS_CHANGED, legacy_status_changed, status_changed, transmission_headers};
use crate::wire::{TossBilling, TossCashReceipt, TossPayment, TossPaymentStatus};

use super::idempotency::Idempotency;
use super::{FakeTossConfig, TossApiVersion, render};

/// Why a payment failed (`failure` of 2022-11-16 answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    pub code: &'static str,
    pub message: &'static str,
}

/// `failure` of a payment not confirmed in time.
pub(crate) const EXPIRED_PAYMENT: Failure =
    Failure { code: "EXPIRED_PAYMENT", message: "결제가 만료되었습니다. 다시 시도해주세요." };
/// `failure` (and the error) of a payment the card company refused.
pub(crate) const REJECT_CARD_COMPANY: Failure =
    Failure { code: "REJECT_CARD_COMPANY", message: "결제 승인이 거절되었습니다." };

/// A payment as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct FakePayment {
    /// The 1.x model; the card number in it is masked.
    pub payment: TossPayment,
    /// Whether the merchant approved it (`__approved`, or a later confirmation).
    pub approved: bool,
    /// Paid with [`super::REFUSED_CARD_NUMBER`]: its confirmation is refused.
    pub refused: bool,
    pub failure: Option<Failure>,
    /// The `Idempotency-Key` of the confirmation that processed it.
    pub confirm_idempotency_key: Option<String>,
    /// A virtual account's deadline, a date-time in KST (1.x answers its date only).
    pub due_at: Option<String>,
    /// When its last cancel was processed (Toss refuses another within a second).
    pub last_cancel: Option<std::time::Instant>,
    /// How the API's cancels of it are answered (`PUT /internal/{paymentKey}/cancel-behaviour`).
    pub cancel_behaviour: NextCancel,
}

/// How the fake answers the API's cancels of a payment, until changed.
/// Toss's cancel statuses: `IN_PROGRESS`, then `DONE` or `ABORTED`
/// (docs.tosspayments.com/reference/using-api/webhook-events,
/// `CANCEL_STATUS_CHANGED`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum NextCancel {
    /// `DONE` at once (what Toss does for every domestic payment).
    #[default]
    Done,
    /// Left `IN_PROGRESS`, finished later by `PUT /internal/{paymentKey}/cancels/{transactionKey}`
    /// (as some overseas easy-pay cancels are).
    InProgress,
    /// Refused at once with Toss's documented 400 `REFUND_REJECTED`.
    Aborted,
}

impl NextCancel {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "done" => Some(Self::Done),
            "in_progress" => Some(Self::InProgress),
            "aborted" => Some(Self::Aborted),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::InProgress => "in_progress",
            Self::Aborted => "aborted",
        }
    }
}

impl FakePayment {
    pub(crate) fn new(payment: TossPayment, approved: bool) -> Self {
        Self {
            payment,
            approved,
            refused: false,
            failure: None,
            confirm_idempotency_key: None,
            due_at: None,
            last_cancel: None,
            cancel_behaviour: NextCancel::Done,
        }
    }
}

/// A saved card.
#[derive(Debug, Clone)]
pub(crate) struct FakeBilling {
    /// The 1.x model; `card_number` is masked.
    pub billing: TossBilling,
    pub refused: bool,
}

/// A card registered in the (simulated) card-registration window, whose
/// `authKey` the merchant has yet to exchange for a billing key.
#[derive(Debug, Clone)]
pub(crate) struct PendingAuth {
    pub customer_key: String,
    /// Masked.
    pub card_number: String,
    pub refused: bool,
    /// Exchanged already: an `authKey` is good for one billing key.
    pub used: bool,
}

/// Everything the fake knows. Each table is a [`Store`]: one short lock per
/// operation, never held across an await.
#[derive(Debug)]
pub struct FakeState {
    pub(crate) secret_key: String,
    pub(crate) version: TossApiVersion,
    pub(crate) payments: Store<String, FakePayment>,
    /// `orderId` -> the `paymentKey` of the latest payment of that order.
    pub(crate) orders: Store<String, String>,
    pub(crate) billings: Store<String, FakeBilling>,
    pub(crate) billing_auths: Store<String, PendingAuth>,
    pub(crate) receipts: Store<String, TossCashReceipt>,
    /// The last body `POST /internal/webhook` received, per payment key and per order id.
    pub(crate) webhooks: Store<String, Value>,
    pub(crate) idempotency: Idempotency,
    pub(crate) emitter: WebhookEmitter,
    pub(crate) consecutive_cancel_window: std::time::Duration,
}

impl FakeState {
    /// A fresh, empty state.
    pub fn new(config: &FakeTossConfig, emitter: WebhookEmitter) -> Self {
        Self {
            secret_key: config.secret_key.clone(),
            version: config.api_version,
            payments: Store::new(config.limits),
            orders: Store::new(config.limits),
            billings: Store::new(config.limits),
            billing_auths: Store::new(config.limits),
            receipts: Store::new(config.limits),
            webhooks: Store::new(config.limits),
            idempotency: Idempotency::new(config.limits),
            emitter,
            consecutive_cancel_window: config.consecutive_cancel_window,
        }
    }

    /// The version the fake answers in.
    pub fn api_version(&self) -> TossApiVersion {
        self.version
    }

    /// A payment as the fake holds it now, in the 1.x model (whatever the
    /// version it answers in; the card number masked).
    pub fn payment(&self, payment_key: &str) -> Option<TossPayment> {
        self.payments.get(&payment_key.to_owned()).map(|p| p.payment)
    }

    /// A payment's JSON as the fake answers it now.
    pub fn payment_json(&self, payment_key: &str) -> Option<Value> {
        self.payments.get(&payment_key.to_owned()).map(|p| self.render(&p))
    }

    /// The `Idempotency-Key` the confirmation that processed this payment
    /// carried; `None` when it was confirmed without one (or not yet).
    pub fn confirm_idempotency_key(&self, payment_key: &str) -> Option<String> {
        self.payments.get(&payment_key.to_owned()).and_then(|p| p.confirm_idempotency_key)
    }

    /// The last body `POST /internal/webhook` received about a payment,
    /// looked up by its payment key or its order id.
    pub fn received_webhook(&self, payment_key_or_order_id: &str) -> Option<Value> {
        self.webhooks.get(&payment_key_or_order_id.to_owned())
    }

    /// The success status of a call that creates or changes something: 200
    /// today, 201 in 1.4 (the original's swagger).
    pub(crate) fn created(&self) -> StatusCode {
        match self.version {
            TossApiVersion::V2022_11_16 => StatusCode::OK,
            TossApiVersion::V1_4 => StatusCode::CREATED,
        }
    }

    pub(crate) fn render(&self, payment: &FakePayment) -> Value {
        render::payment(payment, self.version)
    }

    pub(crate) fn render_billing(&self, billing: &FakeBilling) -> Value {
        render::billing(&billing.billing, self.version)
    }

    /// Keeps a new payment, findable by its order id too.
    pub(crate) fn insert_payment(&self, payment: FakePayment) {
        let common = payment.payment.common();
        self.orders.insert(common.order_id.clone(), common.payment_key.clone());
        self.payments.insert(common.payment_key.clone(), payment);
    }

    /// The payment of an order (its latest, if several were made for it).
    pub(crate) fn payment_of_order(&self, order_id: &str) -> Option<FakePayment> {
        let key = self.orders.get(&order_id.to_owned())?;
        self.payments.get(&key)
    }

    /// POSTs the webhook Toss sends for `payment`'s current status, in the
    /// background, when that status is one Toss notifies in this version.
    pub(crate) fn notify(&self, payment: &FakePayment) {
        if let Some(body) = self.webhook_body(payment) {
            self.emit(&body);
        }
    }

    /// POSTs `CANCEL_STATUS_CHANGED` `{eventType, createdAt, data}` with
    /// `cancel` (the cancel object whose status changed, as the payment
    /// answers it), in the background.
    pub(crate) fn notify_cancel_status(&self, cancel: Value) {
        self.emit(&json!({ "eventType": CANCEL_STATUS_CHANGED, "createdAt": event_time(), "data": cancel }));
    }

    fn emit(&self, body: &Value) {
        // Each delivery named as Toss names it: its retries carry the same id.
        let id = format!("whtrans_{}", uuid::Uuid::new_v4().simple());
        let _ = self.emitter.emit_retried_with(None, body.to_string(), move |retried| {
            transmission_headers(&id, &transmission_time(), retried)
        });
    }

    fn webhook_body(&self, fake: &FakePayment) -> Option<Value> {
        let payment = &fake.payment;
        let common = payment.common();
        // Toss does not notify automatic (billing) payments.
        if common.kind == "BILLING" {
            return None;
        }
        let status = &common.status;
        let virtual_account = matches!(payment, TossPayment::VirtualAccount(_));
        match self.version {
            TossApiVersion::V1_4 => matches!(
                status,
                TossPaymentStatus::WaitingForDeposit
                    | TossPaymentStatus::Done
                    | TossPaymentStatus::Canceled
                    | TossPaymentStatus::PartialCanceled
            )
            .then(|| legacy_status_changed(&common.payment_key, &common.order_id, status)),
            TossApiVersion::V2022_11_16 if virtual_account => match (payment, status) {
                (
                    TossPayment::VirtualAccount(account),
                    TossPaymentStatus::WaitingForDeposit
                    | TossPaymentStatus::Done
                    | TossPaymentStatus::Canceled
                    | TossPaymentStatus::PartialCanceled,
                ) => Some(json!({
                    "createdAt": event_time(),
                    "secret": account.secret,
                    "status": status.as_str(),
                    "transactionKey": common.transaction_key,
                    "orderId": common.order_id,
                })),
                _ => None,
            },
            TossApiVersion::V2022_11_16 => matches!(
                status,
                TossPaymentStatus::Done
                    | TossPaymentStatus::Canceled
                    | TossPaymentStatus::PartialCanceled
                    | TossPaymentStatus::Expired
                    | TossPaymentStatus::Aborted
            )
            .then(|| status_changed(&self.render(fake), &event_time())),
        }
    }

    /// Keeps a received webhook body under every payment key and order id it names.
    ///
    /// Returns whether it named any.
    pub(crate) fn remember_webhook(&self, body: &Value) -> bool {
        let ids = [&body["data"]["paymentKey"], &body["data"]["orderId"], &body["orderId"], &body["paymentKey"]];
        let mut named = false;
        for id in ids.into_iter().filter_map(Value::as_str).filter(|id| !id.trim().is_empty()) {
            self.webhooks.insert(id.to_owned(), body.clone());
            named = true;
        }
        named
    }
}

/// `tosspayments-webhook-transmission-time` as Toss writes it: KST, seconds, with the offset.
fn transmission_time() -> String {
    let now = Utc::now();
    FixedOffset::east_opt(9 * 3600).map_or_else(
        || now.to_rfc3339(),
        |kst| now.with_timezone(&kst).to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    )
}

/// `createdAt` of a webhook as Toss writes it: KST, no offset, microseconds.
fn event_time() -> String {
    let now = Utc::now();
    let kst =
        FixedOffset::east_opt(9 * 3600).map_or_else(|| now.naive_utc(), |kst| now.with_timezone(&kst).naive_local());
    kst.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}
