//! PortOne V2 webhooks (version 2024-04-25): `{type, timestamp, data}`,
//! signed with Standard Webhooks (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`,
//! 5 minutes of tolerance) under the webhook secret of the store in
//! `data.storeId`. Only the ids are trusted: the payment is re-read.
//!
//! A verified `webhook-id` names the delivery (the same on PortOne's
//! retries of it), so a repeat of one already answered is only acknowledged.

use payments_application::commands::NotificationTarget;
use payments_application::ports::{
    NotificationIntent, NotificationReader, Proof, RawNotification, SecretKey, Transmission,
};
use payments_domain::VendorUid;
use payments_pg::{ExposeSecret, SecretString};
use serde_json::Value;

/// How long a delivery is remembered: PortOne retries one not answered 200
/// up to 5 times, waiting 0, 1, 4, 16, 64 and 256 minutes (with jitter;
/// developers.portone.io, "웹훅 재전송 정책"), so every retry comes within
/// 6 hours; a replay of a signed one within the 5 minutes of tolerance.
pub const KEEP_DELIVERIES_FOR: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// One webhook secret and the PortOne store it signs for (`None`: any store).
#[derive(Debug, Clone)]
pub struct WebhookKey {
    pub store_id: Option<String>,
    pub secret: SecretString,
}

/// PortOne's half of the notification contract.
#[derive(Debug, Clone, Default)]
pub struct PortOneNotifications {
    keys: Vec<WebhookKey>,
}

impl PortOneNotifications {
    /// Verifies with `keys`: a webhook is PortOne's when it is signed under
    /// the secret of its store (or a secret for any store).
    pub fn new(keys: Vec<WebhookKey>) -> Self {
        Self { keys }
    }
}

/// The store a webhook names (`data.storeId`).
fn store_of(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.pointer("/data/storeId").and_then(Value::as_str).map(str::to_owned)
}

impl NotificationReader for PortOneNotifications {
    fn authenticate<'a>(&self, raw: &RawNotification<'a>) -> Result<Proof, String> {
        let mut headers = http::HeaderMap::new();
        for name in [
            standardwebhooks::HEADER_WEBHOOK_ID,
            standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
            standardwebhooks::HEADER_WEBHOOK_SIGNATURE,
        ] {
            let value = raw.header(name).ok_or_else(|| format!("no single {name} header"))?;
            let value = http::HeaderValue::from_str(value).map_err(|_| format!("an unreadable {name} header"))?;
            headers.insert(name, value);
        }
        let store = store_of(raw.body);
        let candidates: Vec<&WebhookKey> =
            self.keys.iter().filter(|key| key.store_id.is_none() || key.store_id == store).collect();
        if candidates.is_empty() {
            return Err(format!("no webhook secret is configured for PortOne store {:?}", store.unwrap_or_default()));
        }
        let mut last = String::from("the signature does not verify");
        for key in candidates {
            let webhook = match standardwebhooks::Webhook::new(key.secret.expose_secret()) {
                Ok(webhook) => webhook,
                Err(_) => {
                    last = "a configured webhook secret is not base64".to_owned();
                    continue;
                }
            };
            match webhook.verify(raw.body, &headers) {
                Ok(()) => return Ok(Proof::Signed),
                Err(error) => last = error.to_string(),
            }
        }
        Err(last)
    }

    /// Its `webhook-id`, signed with the body: asked only once `authenticate` passed.
    fn transmission<'a>(&self, raw: &RawNotification<'a>) -> Option<Transmission> {
        Transmission::new(raw.header(standardwebhooks::HEADER_WEBHOOK_ID)?, KEEP_DELIVERIES_FOR)
    }

    fn read(&self, body: &Value) -> Result<NotificationIntent, String> {
        let kind = body.get("type").and_then(Value::as_str).ok_or("type: missing or not a string")?;
        let data = body.get("data").and_then(Value::as_object).ok_or("data: missing or not an object")?;
        let field = |name: &str| {
            data.get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| format!("data.{name}: missing or not a string"))
        };
        let Some((family, event)) = kind.split_once('.') else {
            return Ok(NotificationIntent::Ignore(format!("an event type PortOne may add: {kind:?}")));
        };
        match family {
            "Transaction" => {
                let uid = VendorUid::parse(field("paymentId")?).map_err(|e| format!("data.paymentId: {e}"))?;
                // About a payment not registered here: nothing to keep when it moved
                // no money (a window opened, an account issued, a failure, a
                // wait) or can never be registered any more (wholly
                // cancelled: by its customer, or by our own refusal of a
                // mismatched registration). A paid or partly refunded one may
                // still be registered: kept for a retry.
                let ignore_unknown =
                    matches!(event, "Ready" | "VirtualAccountIssued" | "Failed" | "PayPending" | "Cancelled");
                // The payment id is the order id (the merchant chooses it).
                let order = payments_domain::OrderId::parse(uid.as_str()).ok();
                Ok(NotificationIntent::Reread(NotificationTarget::Payment { uid, ignore_unknown, order }))
            }
            "BillingKey" if event == "Deleted" => {
                Ok(NotificationIntent::CardRemoved(SecretKey(field("billingKey")?.to_owned())))
            }
            "BillingKey" => Ok(NotificationIntent::Ignore(format!("{kind}: nothing to record"))),
            _ => Ok(NotificationIntent::Ignore(format!("an event type PortOne may add: {kind:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "whsec_cGF5bWVudHMtdGVzdC13ZWJob29rLXNlY3JldC0zMmJ5dGVz";

    fn keys() -> PortOneNotifications {
        PortOneNotifications::new(vec![WebhookKey {
            store_id: Some("store-a".into()),
            secret: SecretString::from(SECRET.to_owned()),
        }])
    }

    /// The documented example (opi/ko/integration/webhook/readme-v2.mdx), for store-a.
    fn cancelled(store: &str) -> String {
        json!({"type": "Transaction.Cancelled", "timestamp": "2024-04-25T10:00:00.000Z",
               "data": {"paymentId": "example-payment-id", "storeId": store,
                        "transactionId": "55451513-9763-4a7a-bb43-78a4c65be843",
                        "cancellationId": "0cdd91e9-4e7c-44a3-a72e-1a6511826c2b"}})
        .to_string()
    }

    fn signed(body: &str, secret: &str, at: i64) -> Vec<(String, String)> {
        let signature = standardwebhooks::Webhook::new(secret).unwrap().sign("msg_1", at, body.as_bytes()).unwrap();
        vec![
            ("webhook-id".into(), "msg_1".into()),
            ("webhook-timestamp".into(), at.to_string()),
            ("webhook-signature".into(), signature),
        ]
    }

    #[test]
    fn a_webhook_signed_under_its_stores_secret_is_the_pgs_and_any_other_is_not() {
        let now = chrono::Utc::now().timestamp();
        let body = cancelled("store-a");
        let reader = keys();
        let check = |headers: &[(String, String)], body: &str| {
            reader.authenticate(&RawNotification { headers, body: body.as_bytes() })
        };
        assert_eq!(check(&signed(&body, SECRET, now), &body), Ok(Proof::Signed));
        let other = "whsec_b3RoZXItc2VjcmV0LW9mLWFub3RoZXItc3RvcmUtMzJi";
        assert!(check(&signed(&body, other, now), &body).is_err(), "another secret");
        assert!(check(&signed(&body, SECRET, now), &body.replace("example", "forged")).is_err(), "another body");
        assert!(check(&signed(&body, SECRET, now - 3600), &body).unwrap_err().contains("old"), "replayed an hour on");
        assert!(check(&signed(&body, SECRET, now)[..2], &body).unwrap_err().contains("webhook-signature"));
        let mut twice = signed(&body, SECRET, now);
        twice.push(("webhook-id".into(), "msg_2".into()));
        assert!(check(&twice, &body).is_err(), "a header sent twice");
        let elsewhere = cancelled("store-b");
        let refused = check(&signed(&elsewhere, SECRET, now), &elsewhere).unwrap_err();
        assert!(refused.contains("store-b"), "no secret of that store: {refused}");
    }

    #[test]
    fn the_signed_webhook_id_names_the_delivery() {
        let body = cancelled("store-a");
        let headers = signed(&body, SECRET, chrono::Utc::now().timestamp());
        let raw = RawNotification { headers: &headers, body: body.as_bytes() };
        assert_eq!(keys().authenticate(&raw), Ok(Proof::Signed));
        let transmission = keys().transmission(&raw).expect("named");
        assert_eq!((transmission.id(), transmission.keep_for), ("msg_1", KEEP_DELIVERIES_FOR));
        let hostile = [("webhook-id".to_owned(), "m".repeat(201))];
        assert_eq!(keys().transmission(&RawNotification { headers: &hostile, body: b"{}" }), None);
        assert_eq!(keys().transmission(&RawNotification { headers: &[], body: b"{}" }), None);
    }

    #[test]
    fn each_documented_type_reads_as_what_it_asks_for() {
        let reader = PortOneNotifications::default();
        let transaction = |kind: &str| {
            json!({"type": kind, "timestamp": "2024-04-25T10:00:00.000Z",
                   "data": {"paymentId": "order-1", "storeId": "store-a", "transactionId": "tx-1"}})
        };
        for (kind, ignore_unknown) in [
            ("Transaction.Paid", false),
            ("Transaction.PartialCancelled", false),
            ("Transaction.Cancelled", true),
            ("Transaction.CancelPending", false),
            ("Transaction.Ready", true),
            ("Transaction.VirtualAccountIssued", true),
            ("Transaction.Failed", true),
            ("Transaction.PayPending", true),
        ] {
            match reader.read(&transaction(kind)).unwrap() {
                NotificationIntent::Reread(NotificationTarget::Payment { uid, ignore_unknown: ignored, .. }) => {
                    assert_eq!((uid.as_str(), ignored), ("order-1", ignore_unknown), "{kind}");
                }
                other => panic!("{kind}: {other:?}"),
            }
        }
        let deleted = json!({"type": "BillingKey.Deleted", "timestamp": "2024-04-25T10:00:00.000Z",
                             "data": {"storeId": "store-a", "billingKey": "billing-key-1"}});
        assert!(
            matches!(reader.read(&deleted).unwrap(), NotificationIntent::CardRemoved(SecretKey(k)) if k == "billing-key-1")
        );
        let issued = json!({"type": "BillingKey.Issued", "data": {"storeId": "s", "billingKey": "k"}});
        assert!(matches!(reader.read(&issued).unwrap(), NotificationIntent::Ignore(_)));
        for unknown in ["Transaction", "Dispute.Opened", "Something.New"] {
            let body = json!({"type": unknown, "data": {}});
            assert!(matches!(reader.read(&body).unwrap(), NotificationIntent::Ignore(_)), "{unknown}");
        }
        for broken in [
            json!({}),
            json!({"type": 1}),
            json!({"type": "Transaction.Paid"}),
            json!({"type": "Transaction.Paid", "data": {}}),
        ] {
            assert!(reader.read(&broken).is_err(), "{broken}");
        }
    }
}
