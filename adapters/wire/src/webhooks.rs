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
    /// The payment before the change; `null` when the payment is announced
    /// as it was recorded with no request answered (an order completed by
    /// the PG's notification or the reconciler, a charge whose answer was
    /// lost).
    pub previous: Option<HistorySnapshotBody>,
    /// The payment after the change.
    pub current: HistorySnapshotBody,
}

impl WebhookBody {
    /// The body announcing `event`.
    pub fn from_event(event: &WebhookEvent) -> Self {
        Self {
            id: event.id().as_uuid(),
            source: event.source().into(),
            previous: event.previous().map(Into::into),
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

/// What Toss Payments POSTs: an event `{eventType, createdAt, data}`
/// (`PAYMENT_STATUS_CHANGED` with the payment in `data`, `CANCEL_STATUS_CHANGED`,
/// `BILLING_DELETED`, and any type Toss adds, acknowledged), or the flat
/// virtual-account deposit callback `{createdAt, secret, status,
/// transactionKey, orderId}`, genuine only when `secret` is the one Toss gave
/// for that payment. Only identifiers are trusted: the payment is re-read.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TossWebhook")]
pub struct TossWebhookBody {
    /// The kind of event; absent in the deposit callback.
    #[oai(rename = "eventType")]
    pub event_type: Option<String>,
    /// When Toss created the notification.
    #[oai(rename = "createdAt")]
    pub created_at: Option<String>,
    /// The event's object: a payment, a cancel, a billing key.
    pub data: Option<serde_json::Value>,
    /// Deposit callback: the secret Toss gave for the virtual account.
    pub secret: Option<String>,
    /// Deposit callback: the payment's status after it.
    pub status: Option<String>,
    /// Deposit callback: the transaction it reports.
    #[oai(rename = "transactionKey")]
    pub transaction_key: Option<String>,
    /// Deposit callback: the order of the payment.
    #[oai(rename = "orderId")]
    pub order_id: Option<String>,
}

impl TossWebhookBody {
    /// The body as Toss sent it (the members it had).
    pub fn to_value(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        let strings = [
            ("eventType", &self.event_type),
            ("createdAt", &self.created_at),
            ("secret", &self.secret),
            ("status", &self.status),
            ("transactionKey", &self.transaction_key),
            ("orderId", &self.order_id),
        ];
        for (name, value) in strings {
            if let Some(value) = value {
                object.insert(name.to_owned(), serde_json::Value::String(value.clone()));
            }
        }
        if let Some(data) = &self.data {
            object.insert("data".to_owned(), data.clone());
        }
        serde_json::Value::Object(object)
    }
}

/// Where an event's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename = "DeliveryState", rename_all = "lowercase")]
pub enum DeliveryStateBody {
    /// Due, never attempted yet.
    Pending,
    /// Attempted (`attempts` times), due again on its schedule.
    Retrying,
    /// The receiver answered 2xx.
    Delivered,
    /// Its schedule ran out: redeliver it.
    Failed,
    /// Settled long ago; its delivery record was purged.
    Settled,
}

/// An event's delivery.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "EventDelivery")]
pub struct EventDeliveryBody {
    /// `pending`, `retrying`, `delivered`, `failed` or `settled`.
    pub state: DeliveryStateBody,
    /// Attempts made so far (0 when unknown).
    pub attempts: u32,
}

impl From<payments_application::ports::FeedDelivery> for EventDeliveryBody {
    fn from(delivery: payments_application::ports::FeedDelivery) -> Self {
        use payments_application::ports::FeedDelivery as D;
        let (state, attempts) = match delivery {
            D::Pending => (DeliveryStateBody::Pending, 0),
            D::Retrying { attempts } => (DeliveryStateBody::Retrying, attempts),
            D::Delivered => (DeliveryStateBody::Delivered, 0),
            D::Failed => (DeliveryStateBody::Failed, 0),
            D::Settled => (DeliveryStateBody::Settled, 0),
        };
        Self { state, attempts }
    }
}

/// An event of a client's feed: the webhook's body, when it was made, and
/// how its delivery stands.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "FeedEvent")]
pub struct FeedEventBody {
    /// The webhook body, as delivered (or to be delivered).
    pub webhook: WebhookBody,
    /// When the change was recorded.
    pub created_at: crate::WireTimestamp,
    /// How its delivery to the payment's `webhook_url` stands.
    pub delivery: EventDeliveryBody,
}

/// A page of a client's event feed, oldest first.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "EventFeed")]
pub struct EventFeedBody {
    /// The caller's events, oldest first.
    pub events: Vec<FeedEventBody>,
    /// The `after` of the next page: the last event's id; `null` when this
    /// page is empty (ask again later with the same `after`).
    pub next_after: Option<uuid::Uuid>,
}

impl EventFeedBody {
    /// The page of `events`.
    pub fn of(events: &[payments_application::ports::FeedEvent]) -> Self {
        let events: Vec<FeedEventBody> = events
            .iter()
            .map(|fed| FeedEventBody {
                webhook: WebhookBody::from_event(&fed.event),
                created_at: fed.event.created_at().into(),
                delivery: fed.delivery.into(),
            })
            .collect();
        let next_after = events.last().map(|e| e.webhook.id);
        Self { events, next_after }
    }
}
