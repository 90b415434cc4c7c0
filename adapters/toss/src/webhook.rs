//! The notifications Toss Payments POSTs to the merchant, and what each asks
//! of the intake. This is the parser the server's webhook route runs.
//!
//! Toss sends `{eventType, createdAt, data}` events (`PAYMENT_STATUS_CHANGED`
//! with the whole payment in `data`, `CANCEL_STATUS_CHANGED` with one cancel
//! of a payment in `data`, `BILLING_DELETED`, and types it may add at any
//! time), and the virtual-account deposit callback, which is flat:
//! `{createdAt, secret, status, transactionKey, orderId}`. The original API's
//! documentation (1.x) shows `data` as `{paymentKey, orderId, status}`; that
//! is read too. Only identifiers are taken from a notification: the payment
//! is re-read.
//!
//! Every delivery carries `tosspayments-webhook-transmission-id` (the
//! webhook's unique id; its retries carry `-retried-count` beside it),
//! `-transmission-time` and `-retried-count` (docs.tosspayments.com
//! /reference/using-api/webhook-events, "웹훅 헤더"): the id names the
//! delivery, so a retry of one already answered is only acknowledged.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use payments_application::commands::NotificationTarget;
use payments_application::ports::{NotificationIntent, NotificationReader, RawNotification, SecretKey, Transmission};
use payments_domain::{CancelKey, OrderId, VendorUid};

use crate::wire::TossPaymentStatus;

/// A payment's status changed; `data` is the payment.
pub const PAYMENT_STATUS_CHANGED: &str = "PAYMENT_STATUS_CHANGED";
/// A virtual account was paid into (or the deposit was reversed).
pub const DEPOSIT_CALLBACK: &str = "DEPOSIT_CALLBACK";
/// A cancel's status changed (some overseas easy-pay cancels).
pub const CANCEL_STATUS_CHANGED: &str = "CANCEL_STATUS_CHANGED";
/// A billing key was removed at Toss.
pub const BILLING_DELETED: &str = "BILLING_DELETED";

/// The header naming one delivery of a webhook (`whtrans_...`).
pub const TRANSMISSION_ID: &str = "tosspayments-webhook-transmission-id";
/// The header with the time a delivery was sent (`2024-09-05T12:19:21+09:00`).
pub const TRANSMISSION_TIME: &str = "tosspayments-webhook-transmission-time";
/// The header counting the retries of a delivery (`0` the first time).
pub const RETRIED_COUNT: &str = "tosspayments-webhook-transmission-retried-count";
/// How long a delivery is remembered: Toss retries one that was not
/// answered 200 up to 7 times over 3 days 19 hours (1, 4, 16, 64, 256, 1024
/// and 4096 minutes; docs.tosspayments.com/guides/v2/webhook, "웹훅 재전송
/// 정책"), so 8 days covers every retry with room to spare.
pub const KEEP_TRANSMISSIONS_FOR: std::time::Duration = std::time::Duration::from_secs(8 * 24 * 3600);

/// The headers of one delivery of a webhook, as Toss sends them: its id,
/// the time it was sent (`at`) and how many times it was retried before.
pub fn transmission_headers(id: &str, at: &str, retried: u32) -> Vec<(String, String)> {
    vec![
        (TRANSMISSION_TIME.to_owned(), at.to_owned()),
        (RETRIED_COUNT.to_owned(), retried.to_string()),
        (TRANSMISSION_ID.to_owned(), id.to_owned()),
    ]
}

/// The longest deposit-callback `secret` taken.
const MAX_SECRET_BYTES: usize = 256;

/// Why a notification body cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TossWebhookError {
    /// Not the shape of any Toss notification.
    #[error("malformed Toss webhook: {0}")]
    Malformed(String),
}

/// The flat deposit callback of a virtual-account payment. Genuine only when
/// `secret` is the `secret` Toss answered for that payment. `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossDepositCallback {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    pub secret: String,
    /// The payment's status after the deposit (`DONE`), or after the bank
    /// reversed it.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_key: Option<String>,
    pub order_id: String,
}

impl std::fmt::Debug for TossDepositCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TossDepositCallback")
            .field("order_id", &self.order_id)
            .field("status", &self.status)
            .field("transaction_key", &self.transaction_key)
            .finish_non_exhaustive()
    }
}

/// What a notification asks of the intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TossNotification {
    /// Re-read this payment. `status` is what the notification claims (never
    /// trusted).
    PaymentStatusChanged { payment_key: String, status: Option<TossPaymentStatus> },
    /// Re-read the payment of this order, once its secret is checked.
    DepositCallback(TossDepositCallback),
    /// This billing key was removed at Toss (a credential: `Debug` hides it).
    BillingDeleted { billing_key: SecretKey },
    /// A cancel's status changed (an overseas easy-pay cancel Toss completes
    /// later: `IN_PROGRESS` to `DONE` or `ABORTED`). `data` is the Cancel
    /// object alone: its `transactionKey` names the cancel, and nothing in
    /// it names the payment (a `paymentKey`, which Toss does not document
    /// there, is taken when present). `cancel_status` is what it claims
    /// (never trusted).
    CancelStatusChanged { transaction_key: Option<String>, payment_key: Option<String>, cancel_status: Option<String> },
    /// An event that says nothing this server records (BrandPay and payout
    /// events, types Toss adds later): acknowledged, nothing else.
    Other { event_type: String },
}

fn malformed(why: impl Into<String>) -> TossWebhookError {
    TossWebhookError::Malformed(why.into())
}

fn non_empty<'a>(
    object: &'a serde_json::Map<String, Value>,
    member: &str,
    at: &str,
) -> Result<&'a str, TossWebhookError> {
    match object.get(member) {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text),
        _ => Err(malformed(format!("{at}{member}: must be a non-empty string"))),
    }
}

impl TossNotification {
    /// Reads a notification body.
    ///
    /// # Errors
    /// [`TossWebhookError::Malformed`] naming the member, for a body that is
    /// not an object, an event without a string `eventType`, or a known event
    /// without the identifiers it must carry.
    pub fn parse(body: &Value) -> Result<Self, TossWebhookError> {
        let Value::Object(object) = body else {
            return Err(malformed("the body is not a JSON object"));
        };
        let event_type = match object.get("eventType") {
            Some(Value::String(event_type)) => Some(event_type.as_str()),
            None | Some(Value::Null) => None,
            Some(_) => return Err(malformed("eventType: must be a string")),
        };
        match event_type {
            // The deposit callback comes without an event type, flat.
            None if object.contains_key("secret") => Self::deposit_callback(body),
            None => Err(malformed("eventType: missing (and not a deposit callback)")),
            Some(DEPOSIT_CALLBACK) => match object.get("data") {
                Some(data @ Value::Object(_)) => Self::deposit_callback(data),
                _ => Self::deposit_callback(body),
            },
            Some(PAYMENT_STATUS_CHANGED) => {
                let Some(Value::Object(data)) = object.get("data") else {
                    return Err(malformed("data: must be an object"));
                };
                let payment_key = non_empty(data, "paymentKey", "data.")?.to_owned();
                let status = data.get("status").and_then(Value::as_str).map(|s| TossPaymentStatus::from(s.to_owned()));
                Ok(Self::PaymentStatusChanged { payment_key, status })
            }
            Some(CANCEL_STATUS_CHANGED) => {
                let Some(Value::Object(data)) = object.get("data") else {
                    return Err(malformed("data: must be an object"));
                };
                let text = |member: &str| non_empty(data, member, "data.").ok().map(str::to_owned);
                let (transaction_key, payment_key) = (text("transactionKey"), text("paymentKey"));
                if transaction_key.is_none() && payment_key.is_none() {
                    return Err(malformed("data.transactionKey: must be a non-empty string"));
                }
                let cancel_status = data.get("cancelStatus").and_then(Value::as_str).map(str::to_owned);
                Ok(Self::CancelStatusChanged { transaction_key, payment_key, cancel_status })
            }
            Some(BILLING_DELETED) => {
                let Some(Value::Object(data)) = object.get("data") else {
                    return Err(malformed("data: must be an object"));
                };
                let billing_key = SecretKey(non_empty(data, "billingKey", "data.")?.to_owned());
                Ok(Self::BillingDeleted { billing_key })
            }
            Some(other) => Ok(Self::Other { event_type: other.to_owned() }),
        }
    }

    fn deposit_callback(value: &Value) -> Result<Self, TossWebhookError> {
        let Value::Object(object) = value else {
            return Err(malformed("the deposit callback is not an object"));
        };
        for member in ["secret", "orderId", "status"] {
            non_empty(object, member, "")?;
        }
        // Toss's secrets are short (`ps_` and a few dozen characters); one
        // far longer is no secret of Toss's and is not kept for a retry.
        if object.get("secret").and_then(Value::as_str).is_some_and(|s| s.len() > MAX_SECRET_BYTES) {
            return Err(malformed(format!("secret: longer than {MAX_SECRET_BYTES} bytes")));
        }
        serde_json::from_value(value.clone())
            .map(Self::DepositCallback)
            .map_err(|e| malformed(format!("deposit callback: {e}")))
    }
}

/// Whether a notification claiming `status` may be acknowledged for a payment
/// not registered here: nothing was paid (a window opened, a virtual account
/// issued, a payment expired or aborted), or the payment can never be
/// registered any more (wholly cancelled: by its customer, or by our own
/// refusal of a mismatched registration). A payment paid or partly refunded
/// before its registration commits is refused instead, so Toss retries it.
/// (A registration that read the payment paid just before it was wholly
/// cancelled is caught up by the reconciler, which re-reads new records.)
fn nothing_to_keep_unregistered(status: &TossPaymentStatus) -> bool {
    !matches!(status, TossPaymentStatus::Done | TossPaymentStatus::PartialCanceled)
}

/// The intake's reading of Toss notifications (the [`NotificationReader`] of Toss).
#[derive(Debug, Clone, Copy, Default)]
pub struct TossNotifications;

impl NotificationReader for TossNotifications {
    fn transmission<'a>(&self, raw: &RawNotification<'a>) -> Option<Transmission> {
        Transmission::new(raw.header(TRANSMISSION_ID)?, KEEP_TRANSMISSIONS_FOR)
    }

    fn read(&self, body: &Value) -> Result<NotificationIntent, String> {
        let notification = TossNotification::parse(body).map_err(|e| e.to_string())?;
        Ok(match notification {
            TossNotification::PaymentStatusChanged { payment_key, status } => {
                let uid = VendorUid::parse(payment_key).map_err(|e| format!("data.paymentKey: {e}"))?;
                let ignore_unknown = status.as_ref().is_some_and(nothing_to_keep_unregistered);
                NotificationIntent::Reread(NotificationTarget::Payment { uid, ignore_unknown, order: None })
            }
            TossNotification::DepositCallback(callback) => {
                let order_id = OrderId::parse(callback.order_id).map_err(|e| format!("orderId: {e}"))?;
                let ignore_unknown = nothing_to_keep_unregistered(&TossPaymentStatus::from(callback.status));
                NotificationIntent::Reread(NotificationTarget::Order {
                    order_id,
                    secret: callback.secret,
                    ignore_unknown,
                })
            }
            TossNotification::CancelStatusChanged { transaction_key, payment_key, cancel_status } => {
                // A cancel that failed (`ABORTED`) refunded nothing: about a
                // payment not registered here it is only acknowledged. One
                // that refunded is kept until its payment is found (its
                // cancel may be recorded a moment after Toss sends this).
                let ignore_unknown = cancel_status.as_deref() != Some("DONE");
                let target = match (payment_key, transaction_key) {
                    (Some(payment_key), _) => NotificationTarget::Payment {
                        uid: VendorUid::parse(payment_key).map_err(|e| format!("data.paymentKey: {e}"))?,
                        ignore_unknown,
                        order: None,
                    },
                    (None, Some(key)) => NotificationTarget::Cancel {
                        key: CancelKey::parse(key).map_err(|e| format!("data.transactionKey: {e}"))?,
                        ignore_unknown,
                    },
                    (None, None) => return Err("data.transactionKey: must be a non-empty string".to_owned()),
                };
                NotificationIntent::Reread(target)
            }
            TossNotification::BillingDeleted { billing_key } => NotificationIntent::CardRemoved(billing_key),
            TossNotification::Other { event_type } => {
                let shown: String = event_type.chars().take(64).collect();
                NotificationIntent::Ignore(format!("event type {shown:?} records nothing here"))
            }
        })
    }
}

/// The `PAYMENT_STATUS_CHANGED` body of a payment, as Toss sends it today:
/// the whole payment in `data`.
pub fn status_changed(payment: &Value, created_at: &str) -> Value {
    serde_json::json!({ "eventType": PAYMENT_STATUS_CHANGED, "createdAt": created_at, "data": payment })
}

/// The same event as the 1.x documentation shows it: `{paymentKey, orderId, status}`.
pub fn legacy_status_changed(payment_key: &str, order_id: &str, status: &TossPaymentStatus) -> Value {
    serde_json::json!({
        "eventType": PAYMENT_STATUS_CHANGED,
        "data": { "paymentKey": payment_key, "orderId": order_id, "status": status.as_str() },
    })
}
