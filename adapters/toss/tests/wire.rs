//! Wire types: round trips, the real API's extra members, webhooks, snapshots.

use std::str::FromStr;

use payments_domain::Money;
use payments_toss::wire::{TossPayment, TossPaymentStatus};
use payments_toss::{TossNotification, TossWebhookError, snapshot};
use serde_json::{Value, json};

/// A card payment as the real API answers it: more members than the swagger,
/// `lastTransactionKey` instead of `transactionKey`, a decimal amount, nulls.
fn real_card_payment() -> Value {
    json!({
        "mId": "tosspayments",
        "lastTransactionKey": "9C62B18EEF0DE3EB7F4422EB6D14BC6E",
        "paymentKey": "5EnNZRJGvaBX7zk2yd8ydw26XvwXkLrx9POLqKQjmAw4b0e1",
        "orderId": "a4CWyWY5m89PNh7xJwhk1",
        "orderName": "토스 티셔츠 외 2건",
        "taxExemptionAmount": 0,
        "status": "PARTIAL_CANCELED",
        "requestedAt": "2024-02-13T12:17:57+09:00",
        "approvedAt": "2024-02-13T12:18:14+09:00",
        "useEscrow": false,
        "cultureExpense": false,
        "card": {
            "issuerCode": "71",
            "acquirerCode": "71",
            "number": "12345678****000*",
            "installmentPlanMonths": 0,
            "isInterestFree": false,
            "interestPayer": null,
            "approveNo": "00000000",
            "useCardPoint": false,
            "cardType": "신용",
            "ownerType": "개인",
            "acquireStatus": "READY",
            "receiptUrl": "https://dashboard.tosspayments.com/receipt/redirection?transactionId=x",
            "amount": 1000.5,
            "company": "신한카드"
        },
        "virtualAccount": null,
        "transfer": null,
        "mobilePhone": null,
        "giftCertificate": null,
        "cashReceipt": null,
        "cashReceipts": null,
        "discount": null,
        "cancels": [
            {
                "transactionKey": "090A796806E726BBB929F4A2CA7DB9A7",
                "cancelReason": "",
                "taxExemptionAmount": 0,
                "canceledAt": "2024-02-13T12:20:23+09:00",
                "transferDiscountAmount": 0,
                "easyPayDiscountAmount": 0,
                "receiptKey": null,
                "cancelAmount": 100.25,
                "taxFreeAmount": 0,
                "refundableAmount": 900.25,
                "cancelStatus": "DONE",
                "cancelRequestId": null
            },
            {
                "cancelReason": "second",
                "canceledAt": "2024-02-13T03:19:00Z",
                "cancelAmount": 0.01,
                "taxFreeAmount": 0,
                "refundableAmount": 900.2499
            }
        ],
        "secret": null,
        "type": "NORMAL",
        "easyPay": {"provider": "토스페이", "amount": 0, "discountAmount": 0},
        "country": "KR",
        "failure": null,
        "isPartialCancelable": true,
        "receipt": {"url": "https://dashboard.tosspayments.com/receipt/redirection?transactionId=x"},
        "checkout": {"url": "https://api.tosspayments.com/v1/payments/x/checkout"},
        "currency": "KRW",
        "totalAmount": 1000.5,
        "balanceAmount": 900.2499,
        "suppliedAmount": 909.5,
        "vat": 91,
        "taxFreeAmount": 0,
        "method": "카드",
        "version": "2022-11-16"
    })
}

#[test]
fn a_real_payment_round_trips_unchanged() {
    let payment = real_card_payment();
    let typed = TossPayment::from_value(payment.clone()).unwrap();
    assert!(matches!(typed, TossPayment::Card(_)));
    assert_eq!(typed.status(), &TossPaymentStatus::PartialCanceled);
    assert_eq!(typed.common().total_amount.to_string(), "1000.5");
    assert_eq!(typed.to_value().unwrap(), payment);
    // Through text too, digits intact.
    let text = serde_json::to_string(&typed).unwrap();
    assert!(text.contains("900.2499"));
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), payment);
    let again: TossPayment = serde_json::from_str(&text).unwrap();
    assert_eq!(again, typed);
}

#[test]
fn every_method_has_its_shape_and_unknown_methods_are_kept() {
    let mut common = real_card_payment();
    let object = common.as_object_mut().unwrap();
    object.remove("card");
    object.remove("easyPay");
    object.remove("discount");
    let with = |method: &str, key: &str, value: Value| {
        let mut payment = common.clone();
        payment["method"] = json!(method);
        if !key.is_empty() {
            payment[key] = value;
        }
        payment
    };
    let cases = [
        (with("계좌이체", "transfer", json!({"bank": "신한", "settlementStatus": "COMPLETED"})), "transfer"),
        (
            with(
                "휴대폰",
                "mobilePhone",
                json!({"carrier": "KT", "customerMobilePhone": "010", "settlementStatus": "INCOMPLETED"}),
            ),
            "mobile",
        ),
        (with("상품권", "giftCertificate", json!({"approveNo": "1", "settlementStatus": "COMPLETE"})), "gift"),
        (with("간편결제", "", Value::Null), "other"),
    ];
    for (payment, kind) in cases {
        let typed = TossPayment::from_value(payment.clone()).unwrap();
        let matched = matches!(
            (&typed, kind),
            (TossPayment::Transfer(_), "transfer")
                | (TossPayment::MobilePhone(_), "mobile")
                | (TossPayment::GiftCertificate(_), "gift")
                | (TossPayment::Other(_), "other")
        );
        assert!(matched, "{kind}: {typed:?}");
        assert_eq!(typed.to_value().unwrap(), payment, "{kind}");
    }
    let mut account = with(
        "가상계좌",
        "virtualAccount",
        json!({
            "accountNumber": "X6505636518308", "accountType": "일반", "bank": "20", "customerName": "박토스",
            "dueDate": "2024-02-20T23:59:59+09:00", "expired": false, "settlementStatus": "INCOMPLETED",
            "refundStatus": "NONE", "refundReceiveAccount": null
        }),
    );
    account["secret"] = json!("ps_secret");
    let typed = TossPayment::from_value(account.clone()).unwrap();
    assert!(matches!(typed, TossPayment::VirtualAccount(_)));
    assert_eq!(typed.to_value().unwrap(), account);

    assert!(TossPayment::from_value(json!({"method": 1})).is_err());
    assert!(TossPayment::from_value(with("카드", "card", json!("nope"))).is_err());
    assert!(TossPayment::from_value(json!([1, 2])).is_err());
}

#[test]
fn a_snapshot_reads_amounts_times_and_cancels_exactly() {
    // Cents, so a payment in dollars (KRW has no decimals).
    let mut payment = real_card_payment();
    payment["currency"] = json!("USD");
    let snapshot = snapshot(payment.clone()).unwrap();
    assert_eq!(snapshot.price, Money::from_str("1000.5").unwrap());
    assert_eq!(snapshot.currency.as_str(), "USD");
    assert_eq!(snapshot.paid_at.unwrap().to_rfc3339(), "2024-02-13T03:18:14+00:00");
    assert_eq!(snapshot.cancels.len(), 2);
    let first = &snapshot.cancels[0];
    assert_eq!(first.key.as_str(), "090A796806E726BBB929F4A2CA7DB9A7");
    assert_eq!(first.reason.as_str(), "-", "an empty reason is kept as -");
    assert_eq!(first.price, Money::from_str("100.25").unwrap());
    assert_eq!(first.data, payment["cancels"][0]);
    let second = &snapshot.cancels[1];
    assert_eq!(second.key.as_str(), "5EnNZRJGvaBX7zk2yd8ydw26XvwXkLrx9POLqKQjmAw4b0e1:1", "no transactionKey");
    assert_eq!(second.price, Money::from_str("0.01").unwrap());
    assert_eq!(snapshot.cancelled_at, Some(second.created_at), "the earliest cancel");
    assert_eq!(snapshot.data, payment);

    let mut waiting = payment.clone();
    waiting["status"] = json!("WAITING_FOR_DEPOSIT");
    waiting["cancels"] = Value::Null;
    let waiting = snapshot_of(waiting);
    assert_eq!(waiting.paid_at, None);
    assert_eq!(waiting.cancelled_at, None);
    assert!(waiting.cancels.is_empty());

    let mut bad = payment;
    bad["cancels"][0]["cancelAmount"] = json!(1.00001);
    assert!(payments_toss::snapshot(bad).is_err());
}

fn snapshot_of(payment: Value) -> payments_domain::PaymentSnapshot {
    snapshot(payment).unwrap()
}

#[test]
fn status_changed_notifications_take_the_short_and_the_full_data() {
    let short = json!({
        "eventType": "PAYMENT_STATUS_CHANGED",
        "data": {"paymentKey": "pk", "orderId": "o", "status": "WAITING_FOR_DEPOSIT"}
    });
    assert_eq!(
        TossNotification::parse(&short).unwrap(),
        TossNotification::PaymentStatusChanged {
            payment_key: "pk".into(),
            status: Some(TossPaymentStatus::WaitingForDeposit)
        }
    );
    assert_eq!(short, payments_toss::webhook::legacy_status_changed("pk", "o", &TossPaymentStatus::WaitingForDeposit));

    let full = payments_toss::webhook::status_changed(&real_card_payment(), "2024-02-13T12:20:23.000000");
    assert_eq!(full["createdAt"], "2024-02-13T12:20:23.000000");
    assert_eq!(full["data"], real_card_payment());
    assert_eq!(
        TossNotification::parse(&full).unwrap(),
        TossNotification::PaymentStatusChanged {
            payment_key: "5EnNZRJGvaBX7zk2yd8ydw26XvwXkLrx9POLqKQjmAw4b0e1".into(),
            status: Some(TossPaymentStatus::PartialCanceled)
        }
    );

    let other =
        json!({"eventType": "PAYOUT_STATUS_CHANGED", "data": {"paymentKey": "pk", "orderId": "o", "status": "DONE"}});
    assert_eq!(
        TossNotification::parse(&other).unwrap(),
        TossNotification::Other { event_type: "PAYOUT_STATUS_CHANGED".into() }
    );
    for malformed in [
        json!("text"),
        json!({"data": {"paymentKey": "pk", "orderId": "o", "status": "DONE"}}),
        json!({"eventType": "PAYMENT_STATUS_CHANGED"}),
        json!({"eventType": "PAYMENT_STATUS_CHANGED", "data": []}),
        json!({"eventType": "PAYMENT_STATUS_CHANGED", "data": {"orderId": "o"}}),
        json!({"eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": " ", "orderId": "o", "status": "DONE"}}),
        json!({"eventType": 7, "data": {"paymentKey": "pk"}}),
    ] {
        assert!(matches!(TossNotification::parse(&malformed), Err(TossWebhookError::Malformed(_))), "{malformed}");
    }
}

#[test]
fn unknown_statuses_are_kept_verbatim() {
    let status: TossPaymentStatus = serde_json::from_value(json!("SOMETHING_NEW")).unwrap();
    assert_eq!(status, TossPaymentStatus::Other("SOMETHING_NEW".into()));
    assert_eq!(serde_json::to_value(&status).unwrap(), json!("SOMETHING_NEW"));
    assert!(!status.is_paid());
}
