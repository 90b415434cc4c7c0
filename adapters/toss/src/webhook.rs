//! The webhook Toss Payments POSTs on a payment's status change
//! (`ITossPaymentWebhook`), and what the intake should do with it.
//!
//! Toss's documentation and the fake send `data` as `{paymentKey, orderId,
//! status}`; the real service sends the whole payment object. Both are read,
//! by looking at the parsed JSON (no untagged enum).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::wire::{Extra, TossPayment, TossPaymentStatus};

/// The only `eventType` that describes a payment's status.
pub const PAYMENT_STATUS_CHANGED: &str = "PAYMENT_STATUS_CHANGED";

/// Why a webhook body cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TossWebhookError {
    /// Not the shape of a Toss webhook.
    #[error("malformed Toss webhook: {0}")]
    Malformed(String),
    /// A well-formed event of another kind, which says nothing about a payment's status.
    #[error("unsupported Toss webhook event {0:?}")]
    UnsupportedEvent(String),
}

/// `ITossPaymentWebhook.IData` as documented.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossWebhookShortData {
    pub payment_key: String,
    pub order_id: String,
    pub status: TossPaymentStatus,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `data` of a webhook.
#[derive(Debug, Clone, PartialEq)]
pub enum TossWebhookData {
    /// `{paymentKey, orderId, status}`.
    Short(TossWebhookShortData),
    /// The whole payment, as the real Toss sends it.
    Payment(Box<TossPayment>),
}

impl Serialize for TossWebhookData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Short(short) => short.serialize(serializer),
            Self::Payment(payment) => payment.serialize(serializer),
        }
    }
}

impl TossWebhookData {
    /// Reads `data`: the whole payment when it carries a `method` or a
    /// `totalAmount`, the short form otherwise.
    ///
    /// # Errors
    /// [`TossWebhookError::Malformed`] when it fits neither.
    pub fn from_value(value: Value) -> Result<Self, TossWebhookError> {
        let Value::Object(object) = &value else {
            return Err(TossWebhookError::Malformed("`data` is not an object".into()));
        };
        let is_payment = object.contains_key("method") || object.contains_key("totalAmount");
        if is_payment {
            TossPayment::from_value(value)
                .map(|payment| Self::Payment(Box::new(payment)))
                .map_err(|e| TossWebhookError::Malformed(format!("`data` is not a Toss payment: {e}")))
        } else {
            serde_json::from_value(value)
                .map(Self::Short)
                .map_err(|e| TossWebhookError::Malformed(format!("`data`: {e}")))
        }
    }

    pub fn payment_key(&self) -> &str {
        match self {
            Self::Short(short) => &short.payment_key,
            Self::Payment(payment) => payment.payment_key(),
        }
    }

    pub fn order_id(&self) -> &str {
        match self {
            Self::Short(short) => &short.order_id,
            Self::Payment(payment) => &payment.common().order_id,
        }
    }

    pub fn status(&self) -> &TossPaymentStatus {
        match self {
            Self::Short(short) => &short.status,
            Self::Payment(payment) => payment.status(),
        }
    }
}

/// `ITossPaymentWebhook`: `{eventType, data}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TossPaymentWebhook {
    pub event_type: String,
    pub data: TossWebhookData,
    /// Other members (the real service adds `createdAt`).
    #[serde(flatten)]
    pub extra: Extra,
}

impl TossPaymentWebhook {
    /// A `PAYMENT_STATUS_CHANGED` webhook with the short data.
    pub fn status_changed(payment_key: &str, order_id: &str, status: TossPaymentStatus) -> Self {
        Self {
            event_type: PAYMENT_STATUS_CHANGED.to_owned(),
            data: TossWebhookData::Short(TossWebhookShortData {
                payment_key: payment_key.to_owned(),
                order_id: order_id.to_owned(),
                status,
                extra: Map::new(),
            }),
            extra: Map::new(),
        }
    }

    /// Reads a webhook body.
    ///
    /// # Errors
    /// [`TossWebhookError::Malformed`] when `eventType` or `data` is missing or
    /// `data` fits neither form.
    pub fn from_value(value: Value) -> Result<Self, TossWebhookError> {
        let Value::Object(mut object) = value else {
            return Err(TossWebhookError::Malformed("the body is not a JSON object".into()));
        };
        let event_type = match object.remove("eventType") {
            Some(Value::String(event_type)) => event_type,
            _ => return Err(TossWebhookError::Malformed("`eventType` must be a string".into())),
        };
        let data = object.remove("data").ok_or_else(|| TossWebhookError::Malformed("`data` is missing".into()))?;
        Ok(Self { event_type, data: TossWebhookData::from_value(data)?, extra: object })
    }
}

impl<'de> Deserialize<'de> for TossPaymentWebhook {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}

/// What the webhook intake should do about a Toss webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// The payment the webhook is about (the vendor uid of its history).
    pub payment_key: String,
    /// The status the webhook claims (not to be trusted: re-read).
    pub status: TossPaymentStatus,
    /// Whether the payment must be re-read from Toss and applied: `false` only
    /// for `WAITING_FOR_DEPOSIT` (a virtual account was issued; nothing was
    /// paid or refunded yet).
    pub needs_reread: bool,
}

/// Reads a webhook body and says which payment to re-read, if any.
///
/// # Errors
/// [`TossWebhookError::Malformed`] for a body that is not a Toss webhook;
/// [`TossWebhookError::UnsupportedEvent`] for an `eventType` other than
/// `PAYMENT_STATUS_CHANGED` (the intake may acknowledge and ignore it).
pub fn webhook_target(body: &Value) -> Result<WebhookTarget, TossWebhookError> {
    let webhook = TossPaymentWebhook::from_value(body.clone())?;
    if webhook.event_type != PAYMENT_STATUS_CHANGED {
        return Err(TossWebhookError::UnsupportedEvent(webhook.event_type));
    }
    let payment_key = webhook.data.payment_key().to_owned();
    if payment_key.trim().is_empty() {
        return Err(TossWebhookError::Malformed("`data.paymentKey` is empty".into()));
    }
    let status = webhook.data.status().clone();
    let needs_reread = status != TossPaymentStatus::WaitingForDeposit;
    Ok(WebhookTarget { payment_key, status, needs_reread })
}
