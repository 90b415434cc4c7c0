//! The notifications Toss Payments POSTs to the merchant, and what each asks
//! of the intake. This is the parser the server's webhook route runs.
//!
//! Toss sends `{eventType, createdAt, data}` events (`PAYMENT_STATUS_CHANGED`
//! with the whole payment in `data`, `CANCEL_STATUS_CHANGED`,
//! `BILLING_DELETED`, and types it may add at any time), and the virtual-account
//! deposit callback, which is flat: `{createdAt, secret, status,
//! transactionKey, orderId}`. The original API's documentation (1.x) shows
//! `data` as `{paymentKey, orderId, status}`; that is read too. Only
//! identifiers are taken from a notification: the payment is re-read.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use payments_application::commands::NotificationTarget;
use payments_application::ports::{NotificationIntent, NotificationReader, SecretKey};
use payments_domain::{OrderId, VendorUid};

use crate::wire::TossPaymentStatus;

/// A payment's status changed; `data` is the payment.
pub const PAYMENT_STATUS_CHANGED: &str = "PAYMENT_STATUS_CHANGED";
/// A virtual account was paid into (or the deposit was reversed).
pub const DEPOSIT_CALLBACK: &str = "DEPOSIT_CALLBACK";
/// A cancel's status changed (some overseas easy-pay cancels).
pub const CANCEL_STATUS_CHANGED: &str = "CANCEL_STATUS_CHANGED";
/// A billing key was removed at Toss.
pub const BILLING_DELETED: &str = "BILLING_DELETED";

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
    /// An event that says nothing this server records (`CANCEL_STATUS_CHANGED`,
    /// types Toss adds later): acknowledged, nothing else.
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
        serde_json::from_value(value.clone())
            .map(Self::DepositCallback)
            .map_err(|e| malformed(format!("deposit callback: {e}")))
    }
}

/// Whether a notification claiming `status` may be acknowledged for a payment
/// not registered here: nothing was paid or refunded (a window opened, a
/// virtual account issued, a payment expired or aborted), so there is nothing
/// a later registration would miss. A payment paid or refunded before its
/// registration commits is refused instead, so Toss retries it.
fn moves_no_money(status: &TossPaymentStatus) -> bool {
    !matches!(status, TossPaymentStatus::Done | TossPaymentStatus::Canceled | TossPaymentStatus::PartialCanceled)
}

/// The intake's reading of Toss notifications (the [`NotificationReader`] of Toss).
#[derive(Debug, Clone, Copy, Default)]
pub struct TossNotifications;

impl NotificationReader for TossNotifications {
    fn read(&self, body: &Value) -> Result<NotificationIntent, String> {
        let notification = TossNotification::parse(body).map_err(|e| e.to_string())?;
        Ok(match notification {
            TossNotification::PaymentStatusChanged { payment_key, status } => {
                let uid = VendorUid::parse(payment_key).map_err(|e| format!("data.paymentKey: {e}"))?;
                let ignore_unknown = status.as_ref().is_some_and(moves_no_money);
                NotificationIntent::Reread(NotificationTarget::Payment { uid, ignore_unknown })
            }
            TossNotification::DepositCallback(callback) => {
                let order_id = OrderId::parse(callback.order_id).map_err(|e| format!("orderId: {e}"))?;
                let ignore_unknown = moves_no_money(&TossPaymentStatus::from(callback.status));
                NotificationIntent::Reread(NotificationTarget::Order {
                    order_id,
                    secret: callback.secret,
                    ignore_unknown,
                })
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
