//! Webhooks: the one we send to callers, and the ones PGs send us.

use payments_domain::WebhookEvent;
use poem_openapi::Object;
use poem_openapi::types::ToJSON;

use crate::{HistorySnapshotBody, SourceBody};

/// The body POSTed (encrypted) to a history's `webhook_url` on each change.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "WebhookBody")]
pub struct WebhookBody {
    /// The event id; also the `webhook-id` header, the same for every retry,
    /// so receivers can de-duplicate.
    pub id: uuid::Uuid,
    /// The caller's record the payment is for.
    pub source: SourceBody,
    /// The payment before the change.
    pub previous: HistorySnapshotBody,
    /// The payment after the change.
    pub current: HistorySnapshotBody,
}

impl WebhookBody {
    /// The body announcing `event`.
    pub fn from_event(event: &WebhookEvent) -> Self {
        Self {
            id: event.id().as_uuid(),
            source: event.source().into(),
            previous: event.previous().into(),
            current: event.current().into(),
        }
    }

    /// The JSON text of this body (to be encrypted by the sender).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json_string().into_bytes()
    }
}

/// What Iamport POSTs when a payment changes (JSON or form-encoded). Only the
/// ids are trusted: the payment is re-read from Iamport.
#[derive(Debug, Clone, PartialEq, Eq, Object, serde::Deserialize)]
#[oai(rename = "IamportWebhook")]
pub struct IamportWebhookBody {
    /// Iamport's id of the payment.
    pub imp_uid: String,
    /// The merchant's order id.
    pub merchant_uid: String,
    /// `paid`, `ready`, `failed` or `cancelled`.
    pub status: String,
    /// Iamport's id of a cancellation, when the change is one.
    pub cancellation_id: Option<String>,
}

/// What Toss Payments POSTs when a payment changes. `data` is either the short
/// `{paymentKey, orderId, status}` or a whole payment object; only
/// `data.paymentKey` and `data.status` are read, the payment is re-read from Toss.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TossWebhook")]
pub struct TossWebhookBody {
    /// The kind of event (`PAYMENT_STATUS_CHANGED`, `DEPOSIT_CALLBACK`, ...).
    #[oai(rename = "eventType")]
    pub event_type: String,
    /// When Toss created the event.
    #[oai(rename = "createdAt")]
    pub created_at: Option<String>,
    /// The payment (or its ids and status).
    pub data: serde_json::Value,
}
