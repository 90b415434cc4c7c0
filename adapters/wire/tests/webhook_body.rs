//! The webhook body and the history JSON as the wire shows them.

use chrono::{TimeZone, Utc};
use payments_domain::*;
use payments_wire::{HistoryBody, WebhookBody};
use poem_openapi::types::ToJSON;
use serde_json::{Value, json};

fn at(millis: i64) -> Timestamp {
    Utc.timestamp_millis_opt(1_795_494_168_000 + millis).unwrap()
}

fn history(cancels: Vec<CancelHistory>) -> PaymentHistory {
    let identity = HistoryIdentity {
        id: HistoryId::from_uuid(uuid::Uuid::from_u128(7)),
        vendor: Vendor::parse("iamport", "store-1", "imp_1").unwrap(),
        source: Source::parse("shop", "orders", "o-1").unwrap(),
        webhook_url: WebhookUrl::parse("https://shop.example/hook").unwrap(),
        created_at: at(123),
        reservation_id: None,
        client: payments_domain::ClientId::LEGACY,
    };
    let snapshot = PaymentSnapshot {
        phase: PaymentPhase::Paid,
        pg_status: "paid".into(),
        order_id: None,
        currency: Currency::krw(),
        price: "19900.5".parse().unwrap(),
        paid_at: Some(at(100)),
        cancelled_at: None,
        cancels,
        data: serde_json::from_str(r#"{"imp_uid":"imp_1","amount":19900.50,"nested":{"x":[1,2]}}"#).unwrap(),
        pending_cancels: Vec::new(),
        failed_cancels: Vec::new(),
    };
    PaymentHistory::register(identity, snapshot).unwrap()
}

fn cancel() -> CancelHistory {
    CancelHistory {
        key: CancelKey::parse("c1").unwrap(),
        price: "900.5".parse().unwrap(),
        reason: CancelReason::parse("changed mind").unwrap(),
        created_at: at(5000),
        data: json!({}),
    }
}

#[test]
fn history_json_has_the_contract_shape() {
    let body = HistoryBody::from(&history(vec![])).to_json().unwrap();
    let text = serde_json::to_string(&body).unwrap();
    assert!(text.contains(r#""price":19900.5"#), "{text}");
    assert!(text.contains(r#""amount":19900.50"#), "PG data is kept digit for digit: {text}");
    assert_eq!(body["refund"], Value::Null);
    assert_eq!(body["cancelled_at"], Value::Null);
    assert_eq!(body["created_at"], "2026-11-24T04:22:48.123Z");
    assert_eq!(body["vendor_code"], "iamport");
    assert_eq!(body["vendor"], json!({"code": "iamport", "store_id": "store-1", "uid": "imp_1"}));
    assert_eq!(body["source"], json!({"schema": "shop", "table": "orders", "id": "o-1"}));
    assert_eq!(body["cancels"], json!([]));
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    let mut expected = [
        "id",
        "vendor_code",
        "vendor",
        "source",
        "data",
        "currency",
        "price",
        "refund",
        "webhook_url",
        "created_at",
        "paid_at",
        "cancelled_at",
        "cancels",
    ];
    expected.sort_unstable();
    let mut keys: Vec<&str> = keys.into_iter().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, expected);
}

#[test]
fn webhook_body_carries_snapshots_without_source() {
    let previous = history(vec![]);
    let current = history(vec![cancel()]);
    let event = WebhookEvent::new(
        EventId::from_uuid(uuid::Uuid::from_u128(9)),
        previous,
        current,
        json!({"type": "cancel"}),
        at(6000),
    )
    .unwrap();
    let body = WebhookBody::from_event(&event);
    let value: Value = serde_json::from_slice(&body.to_json_bytes()).unwrap();
    assert_eq!(value["id"], "00000000-0000-0000-0000-000000000009");
    assert_eq!(value["source"]["id"], "o-1");
    assert!(value["previous"].get("source").is_none());
    assert!(value["current"].get("source").is_none());
    assert_eq!(value["previous"]["refund"], Value::Null);
    assert_eq!(serde_json::to_string(&value["current"]["refund"]).unwrap(), "900.5");
    assert_eq!(value["current"]["cancels"][0]["reason"], "changed mind");
    assert_eq!(value["current"]["cancelled_at"], "2026-11-24T04:22:53.000Z");
}
