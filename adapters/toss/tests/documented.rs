//! The library against Toss's documented answers (tests/data/documented):
//! what `snapshot()` reads of every documented payment of both versions, and
//! what `TossNotification::parse` makes of every documented notification.

mod common;

use std::str::FromStr;

use common::{documented, documented_files};
use payments_application::ports::SecretKey;
use payments_domain::{Money, PaymentPhase, Timestamp, to_millis};
use payments_toss::snapshot::secret;
use payments_toss::wire::TossPaymentStatus;
use payments_toss::{
    BILLING_DELETED, CANCEL_STATUS_CHANGED, TossDepositCallback, TossNotification, TossWebhookError, snapshot,
};
use serde_json::{Value, json};

/// What a documented payment must read as.
struct Expected {
    file: &'static str,
    phase: PaymentPhase,
    pg_status: &'static str,
    price: &'static str,
    paid_at: Option<&'static str>,
    order_id: &'static str,
    cancels: usize,
}

const fn expected(
    file: &'static str,
    phase: PaymentPhase,
    pg_status: &'static str,
    price: &'static str,
    paid_at: Option<&'static str>,
    order_id: &'static str,
    cancels: usize,
) -> Expected {
    Expected { file, phase, pg_status, price, paid_at, order_id, cancels }
}

const CURRENT: [Expected; 8] = [
    expected(
        "payment-card-done.json",
        PaymentPhase::Paid,
        "DONE",
        "15000",
        Some("2024-02-13T12:18:14+09:00"),
        "a4CWyWY5m89PNh7xJwhk1",
        0,
    ),
    expected(
        "payment-card-in-progress.json",
        PaymentPhase::AwaitingConfirmation,
        "IN_PROGRESS",
        "15000",
        None,
        "a4CWyWY5m89PNh7xJwhk1",
        0,
    ),
    expected(
        "payment-card-partial-canceled.json",
        PaymentPhase::Paid,
        "PARTIAL_CANCELED",
        "10000",
        Some("2022-01-01T11:31:51+09:00"),
        "a4CWyWY5m89PNh7xJwhk1",
        2,
    ),
    expected(
        "payment-easypay-done.json",
        PaymentPhase::Paid,
        "DONE",
        "15000",
        Some("2024-02-13T12:18:14+09:00"),
        "eZ9kQ2mL7xN4bV1cR8sT3",
        0,
    ),
    expected("payment-expired.json", PaymentPhase::Failed, "EXPIRED", "15000", None, "TossPaymentsTest96860717", 0),
    expected(
        "payment-transfer-done.json",
        PaymentPhase::Paid,
        "DONE",
        "15000",
        Some("2024-02-13T12:18:14+09:00"),
        "pT0x3kLm8QaB1nZ7vR2sY",
        0,
    ),
    expected(
        "payment-virtual-account-done.json",
        PaymentPhase::Paid,
        "DONE",
        "10000",
        Some("2022-01-01T11:49:35+09:00"),
        "MC4wODU4ODQ3NzY3ODQ2",
        0,
    ),
    expected(
        "payment-virtual-account-waiting.json",
        PaymentPhase::AwaitingDeposit,
        "WAITING_FOR_DEPOSIT",
        "10000",
        None,
        "MC4wODU4ODQ3NzY3ODQ2",
        0,
    ),
];

const LEGACY: [Expected; 3] = [
    expected(
        "payment-card-done.json",
        PaymentPhase::Paid,
        "DONE",
        "10000",
        Some("2022-01-01T11:31:51+09:00"),
        "vE6aTtIc_oPVx0eWQ6-B0",
        0,
    ),
    expected(
        "payment-mobile-phone-done.json",
        PaymentPhase::Paid,
        "DONE",
        "10000",
        Some("2022-01-01T11:31:51+09:00"),
        "vE6aTtIc_oPVx0eWQ6-B0",
        0,
    ),
    expected(
        "payment-virtual-account-waiting.json",
        PaymentPhase::AwaitingDeposit,
        "WAITING_FOR_DEPOSIT",
        "10000",
        None,
        "vE6aTtIc_oPVx0eWQ6-B0",
        0,
    ),
];

fn at(text: &str) -> Timestamp {
    to_millis(chrono::DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&chrono::Utc))
}

#[test]
fn every_documented_payment_reads_as_expected() {
    for (dir, table) in [("v2022-11-16", &CURRENT[..]), ("v1.4", &LEGACY[..])] {
        let listed: Vec<&str> = table.iter().map(|e| e.file).collect();
        assert_eq!(documented_files(dir, "payment-"), listed, "every documented {dir} payment has its expectation");
        for expected in table {
            let what = format!("{dir}/{}", expected.file);
            let payment = documented(&what);
            let snapshot = snapshot(payment.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(snapshot.phase, expected.phase, "{what}");
            assert_eq!(snapshot.pg_status, expected.pg_status, "{what}");
            assert_eq!(snapshot.price, Money::from_str(expected.price).unwrap(), "{what}");
            assert_eq!(snapshot.currency.as_str(), "KRW", "{what}");
            assert_eq!(snapshot.paid_at, expected.paid_at.map(at), "{what}");
            assert_eq!(snapshot.order_id.as_ref().map(|o| o.as_str()), Some(expected.order_id), "{what}");
            assert_eq!(snapshot.cancels.len(), expected.cancels, "{what}");
            assert_eq!(snapshot.cancelled_at, snapshot.cancels.iter().map(|c| c.created_at).min(), "{what}");
            assert_eq!(snapshot.data, payment, "{what}: data is the payment unchanged");
        }
    }
}

#[test]
fn the_cancels_of_a_partly_canceled_payment_are_read_whole() {
    let payment = documented("v2022-11-16/payment-card-partial-canceled.json");
    let snapshot = snapshot(payment.clone()).unwrap();
    for (index, cancel) in snapshot.cancels.iter().enumerate() {
        let raw = &payment["cancels"][index];
        assert_eq!(cancel.key.as_str(), raw["transactionKey"].as_str().unwrap());
        assert_eq!(cancel.price, Money::from_str("1000").unwrap());
        assert_eq!(cancel.reason.as_str(), raw["cancelReason"].as_str().unwrap());
        assert_eq!(cancel.created_at, at(raw["canceledAt"].as_str().unwrap()));
        assert_eq!(&cancel.data, raw);
    }
    assert_eq!(snapshot.cancelled_at, Some(at("2022-01-01T23:23:52+09:00")));

    // Only cancels Toss reports DONE count.
    let mut pending = payment;
    pending["cancels"][1]["cancelStatus"] = json!("IN_PROGRESS");
    let counted = payments_toss::snapshot(pending.clone()).unwrap();
    assert_eq!(counted.cancels.len(), 1);
    assert_eq!(counted.cancels[0].key.as_str(), "8B4F646A829571D870A3011A4E13D640");
    pending["cancels"][0]["cancelStatus"] = json!("ABORTED");
    assert!(payments_toss::snapshot(pending).unwrap().cancels.is_empty());
}

/// A cancel reason is the PG's text, written by whoever cancelled (a console
/// user, another system): one longer than our limit, with a NUL, or blank is
/// cleaned like Iamport's, never left to make the payment unreadable.
#[test]
fn a_hostile_cancel_reason_is_cleaned_not_refused() {
    let payment = documented("v2022-11-16/payment-card-partial-canceled.json");
    for (reason, expected) in [
        (format!("refund\u{0}ed {}", "x".repeat(1500)), format!("refunded {}", "x".repeat(991))),
        ("   ".to_owned(), "-".to_owned()),
    ] {
        let mut hostile = payment.clone();
        hostile["cancels"][0]["cancelReason"] = json!(reason);
        let snapshot = snapshot(hostile.clone()).unwrap();
        assert_eq!(snapshot.cancels[0].reason.as_str(), expected);
        assert_eq!(snapshot.cancels[0].data, hostile["cancels"][0], "the PG's JSON is kept as it came");
    }
}

#[test]
fn a_virtual_account_canceled_before_its_deposit_was_never_paid() {
    let mut canceled = documented("v2022-11-16/payment-virtual-account-waiting.json");
    canceled["status"] = json!("CANCELED");
    canceled["balanceAmount"] = json!(0);
    canceled["cancels"] = json!([{
        "transactionKey": "A8992D33A3620C9D270A233360F00AD7", "cancelReason": "고객 요청", "taxExemptionAmount": 0,
        "canceledAt": "2022-01-02T10:00:00+09:00", "transferDiscountAmount": 0, "easyPayDiscountAmount": 0,
        "receiptKey": null, "cancelAmount": 10000, "taxFreeAmount": 0, "refundableAmount": 0,
        "cancelStatus": "DONE", "cancelRequestId": null
    }]);
    let snapshot = snapshot(canceled).unwrap();
    assert_eq!(snapshot.phase, PaymentPhase::Cancelled);
    assert_eq!(snapshot.paid_at, None, "approvedAt is null: nothing was paid");
    assert_eq!(snapshot.cancelled_at, Some(at("2022-01-02T10:00:00+09:00")));
}

#[test]
fn documented_payments_carry_their_secret_only_for_virtual_accounts() {
    let account = documented("v2022-11-16/payment-virtual-account-waiting.json");
    assert_eq!(secret(&account), Some("ps_Z1aOwX7K8mYL2xW9oEvGVyQxzvNP"));
    assert_eq!(secret(&documented("v2022-11-16/payment-card-done.json")), None);
    assert_eq!(
        secret(&documented("v1.4/payment-virtual-account-waiting.json")),
        Some("ps_Z1aOwX7K8mYL2xW9oEvGVyQxzvNP")
    );
}

#[test]
fn documented_errors_are_code_and_message() {
    let files = documented_files("v2022-11-16", "error-");
    assert!(files.len() >= 10);
    for file in files {
        let error = documented(&format!("v2022-11-16/{file}"));
        let code = file.trim_start_matches("error-").trim_end_matches(".json");
        assert_eq!(error["code"], code, "{file}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{file}");
        let parsed: payments_toss::wire::TossError = serde_json::from_value(error).unwrap();
        assert_eq!(parsed.code, code);
    }
}

#[test]
fn every_documented_notification_is_understood() {
    let listed = [
        "webhook-billing-deleted.json",
        "webhook-cancel-status-changed.json",
        "webhook-deposit-callback.json",
        "webhook-payment-status-changed.json",
    ];
    assert_eq!(documented_files("v2022-11-16", "webhook-"), listed, "every documented notification is tested");

    let changed = documented("v2022-11-16/webhook-payment-status-changed.json");
    assert_eq!(
        TossNotification::parse(&changed).unwrap(),
        TossNotification::PaymentStatusChanged {
            payment_key: "5zJ4xY7m0kODnyRpQWGrN2xqGlNvLrKwv1M9ENjbeoPaZdL6".into(),
            status: Some(TossPaymentStatus::Done),
        }
    );
    assert_eq!(changed["data"], documented("v2022-11-16/payment-card-done.json"), "the whole payment");
    assert_eq!(changed, payments_toss::webhook::status_changed(&changed["data"], "2024-02-13T12:18:14.000000"));

    let callback = documented("v2022-11-16/webhook-deposit-callback.json");
    let paid = documented("v2022-11-16/payment-virtual-account-done.json");
    let TossNotification::DepositCallback(parsed) = TossNotification::parse(&callback).unwrap() else {
        panic!("a deposit callback");
    };
    assert_eq!(
        parsed,
        TossDepositCallback {
            created_at: Some("2022-01-01T11:49:35.000000".into()),
            secret: "ps_Z1aOwX7K8mYL2xW9oEvGVyQxzvNP".into(),
            status: "DONE".into(),
            transaction_key: Some("9FF15E1A29D0E77C218F57262BFA4986".into()),
            order_id: "MC4wODU4ODQ3NzY3ODQ2".into(),
        }
    );
    assert_eq!(Some(parsed.secret.as_str()), secret(&paid), "the secret of the payment it is about");
    assert_eq!(parsed.transaction_key.as_deref(), paid["lastTransactionKey"].as_str());
    assert_eq!(parsed.order_id, paid["orderId"].as_str().unwrap());
    assert_eq!(serde_json::to_value(&parsed).unwrap(), callback);

    // The cancel alone: its transactionKey is the only identifier it holds.
    let cancel = documented("v2022-11-16/webhook-cancel-status-changed.json");
    assert_eq!(cancel["eventType"], CANCEL_STATUS_CHANGED);
    assert_eq!(
        TossNotification::parse(&cancel).unwrap(),
        TossNotification::CancelStatusChanged {
            transaction_key: Some("6673C15BF350C3F9BF45CEFC48C7A24E".into()),
            payment_key: None,
            cancel_status: Some("DONE".into()),
        }
    );
    let canceled = documented("v2022-11-16/payment-card-partial-canceled.json");
    assert_eq!(cancel["data"], canceled["cancels"][1], "one of the cancels of the payment it is about");

    let deleted = documented("v2022-11-16/webhook-billing-deleted.json");
    assert_eq!(deleted["eventType"], BILLING_DELETED);
    assert_eq!(
        TossNotification::parse(&deleted).unwrap(),
        TossNotification::BillingDeleted {
            billing_key: SecretKey("wm60xF900HXZRzReBluSSgJriVX7d7rS0oyslw4zRwg".into())
        }
    );
}

#[test]
fn unknown_events_are_other_and_broken_bodies_malformed() {
    for event_type in ["METHOD_UPDATED", "CUSTOMER_STATUS_CHANGED", "payout.changed", "SOMETHING_NEW"] {
        let body = json!({"eventType": event_type, "createdAt": "2024-01-01T00:00:00.000000", "data": {"x": 1}});
        assert_eq!(
            TossNotification::parse(&body).unwrap(),
            TossNotification::Other { event_type: event_type.into() },
            "{event_type}"
        );
    }
    let callback = documented("v2022-11-16/webhook-deposit-callback.json");
    let without = |member: &str| {
        let mut body = callback.clone();
        body.as_object_mut().unwrap().remove(member);
        body
    };
    let with = |member: &str, value: Value| {
        let mut body = callback.clone();
        body[member] = value;
        body
    };
    let mut changed_without_key = documented("v2022-11-16/webhook-payment-status-changed.json");
    changed_without_key["data"].as_object_mut().unwrap().remove("paymentKey");
    let mut deleted_without_key = documented("v2022-11-16/webhook-billing-deleted.json");
    deleted_without_key["data"] = json!({"reason": null});
    for malformed in [
        Value::Null,
        json!([callback.clone()]),
        json!("PAYMENT_STATUS_CHANGED"),
        json!({}),
        without("orderId"),
        without("status"),
        with("secret", json!("")),
        with("orderId", json!(12)),
        with("eventType", json!(["DEPOSIT_CALLBACK"])),
        json!({"eventType": "DEPOSIT_CALLBACK", "data": {"orderId": "o", "status": "DONE"}}),
        json!({"eventType": "PAYMENT_STATUS_CHANGED", "data": null}),
        changed_without_key,
        deleted_without_key,
    ] {
        assert!(matches!(TossNotification::parse(&malformed), Err(TossWebhookError::Malformed(_))), "{malformed}");
    }
    // The callback wrapped as an event is read too.
    let wrapped = json!({"eventType": "DEPOSIT_CALLBACK", "data": callback});
    assert!(matches!(TossNotification::parse(&wrapped), Ok(TossNotification::DepositCallback(_))));
}

/// Toss's unit: decimals in the currency's major unit (its PayPal guide:
/// `amount: 664.98, currency: 'USD'`), no more decimals than the currency has.
#[test]
fn amounts_are_major_decimals_of_the_payments_currency() {
    let payment = documented("v2022-11-16/payment-card-done.json");
    let in_currency = |currency: &str, amount: serde_json::Value| {
        let mut payment = payment.clone();
        payment["currency"] = json!(currency);
        payment["totalAmount"] = amount.clone();
        payment["balanceAmount"] = amount;
        payment
    };
    let cases = [("KRW", json!(15000), "15000"), ("JPY", json!(1500), "1500"), ("USD", json!(664.98), "664.98")];
    for (currency, amount, price) in cases {
        let read = snapshot(in_currency(currency, amount.clone())).unwrap();
        assert_eq!(read.price, Money::from_str(price).unwrap(), "{currency}");
        let written = payments_toss::AMOUNTS.write("price", read.price, &read.currency).unwrap();
        assert_eq!(written.to_string(), amount.to_string(), "{currency}: written as Toss writes it");
    }
    for (currency, amount) in [("KRW", json!(1000.5)), ("USD", json!(1.005)), ("XAU", json!(1))] {
        let refused = snapshot(in_currency(currency, amount)).unwrap_err();
        assert!(refused.to_string().contains("totalAmount"), "{currency}: {refused}");
    }
}
