//! Values shared by this crate's unit tests.

use chrono::{TimeZone, Utc};
use payments_domain::*;
use serde_json::json;

pub fn at(secs: i64) -> Timestamp {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

pub fn money(text: &str) -> Money {
    text.parse().unwrap()
}

pub fn vendor() -> Vendor {
    Vendor::parse("iamport", "store-1", "imp_123").unwrap()
}

pub fn source() -> Source {
    Source::parse("shop", "orders", "order-1").unwrap()
}

pub fn password() -> Password {
    Password::parse("secret password").unwrap()
}

pub fn hash() -> PasswordHash {
    PasswordHash::parse("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g").unwrap()
}

pub fn webhook_url() -> WebhookUrl {
    WebhookUrl::parse("http://127.0.0.1:9/hook").unwrap()
}

pub fn cancel(key: &str, price: &str, secs: i64) -> CancelHistory {
    CancelHistory {
        key: CancelKey::parse(key).unwrap(),
        price: money(price),
        reason: CancelReason::parse("refund").unwrap(),
        created_at: at(secs),
        data: json!({ "pg_tid": key }),
    }
}

pub fn snapshot(price: &str, paid: bool, cancels: Vec<CancelHistory>) -> PaymentSnapshot {
    PaymentSnapshot {
        phase: if paid { PaymentPhase::Paid } else { PaymentPhase::AwaitingDeposit },
        pg_status: if paid { "paid" } else { "ready" }.to_owned(),
        order_id: Some(OrderId::parse("order-1").unwrap()),
        currency: Currency::krw(),
        price: money(price),
        paid_at: paid.then(|| at(1)),
        cancelled_at: None,
        data: json!({ "imp_uid": "imp_123", "amount": price.parse::<u64>().unwrap_or(0), "cancels": cancels.len() }),
        cancels,
        pending_cancels: Vec::new(),
        failed_cancels: Vec::new(),
    }
}

pub fn history(price: &str, paid: bool) -> PaymentHistory {
    PaymentHistory::register(
        HistoryIdentity {
            id: HistoryId::from_uuid(uuid::Uuid::from_u128(1)),
            vendor: vendor(),
            source: source(),
            webhook_url: webhook_url(),
            created_at: at(0),
            reservation_id: None,
            client: ClientId::LEGACY,
        },
        snapshot(price, paid, vec![]),
    )
    .unwrap()
}

pub use crate::memory::MemoryIntents;
