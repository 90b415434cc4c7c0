//! The gateway client against the fake Toss Payments server, over real HTTP:
//! the flows every API version shares (each answer checked against the
//! swagger in 1.4, against Toss's documented members today), and the
//! original's 1.4 routes and webhooks.

mod common;

use std::str::FromStr;

use common::{Fake, Receiver, SAVED_CARD, STORE, TossApiVersion, bounded, order_id};
use payments_application::ports::{CancelRequest, GatewayError, PaymentGateway, RefundAccount};
use payments_domain::{CancelReason, Money, PaymentPhase, SourceId, StoreId, VendorUid};
use payments_toss::wire::{TossPayment, TossPaymentStatus};
use payments_toss::{TossNotification, TossWebhookError};
use reqwest::Method;
use serde_json::{Value, json};

const VERSIONS: [TossApiVersion; 2] = [TossApiVersion::V1_4, TossApiVersion::V2022_11_16];

fn store() -> StoreId {
    StoreId::parse(STORE).unwrap()
}

fn uid(payment: &Value) -> VendorUid {
    VendorUid::parse(payment["paymentKey"].as_str().unwrap()).unwrap()
}

fn uid_of(key: &str) -> VendorUid {
    VendorUid::parse(key).unwrap()
}

fn money(text: &str) -> Money {
    Money::from_str(text).unwrap()
}

fn cancel(amount: &str, remaining: &str) -> CancelRequest {
    CancelRequest {
        currency: payments_domain::Currency::krw(),
        amount: money(amount),
        reason: CancelReason::parse("customer asked").unwrap(),
        remaining: money(remaining),
        refund_account: None,
        idempotency_key: None,
    }
}

fn refund_account() -> RefundAccount {
    RefundAccount {
        bank: "신한".into(),
        account: "110123456789".into(),
        holder: "Samchon".into(),
        mobile: "01012345678".into(),
    }
}

#[tokio::test]
async fn key_in_unapproved_then_confirm() {
    bounded(async {
        for version in VERSIONS {
            let fake = Fake::start(version, None).await;
            let gateway = fake.gateway();
            let order = order_id();
            let created = fake.key_in(&order, 19_900, false).await;
            assert_eq!(created["status"], "IN_PROGRESS");
            assert_eq!(created["approvedAt"], Value::Null);

            let before = gateway.fetch_payment(&store(), &uid(&created)).await.unwrap();
            assert_eq!(before.phase, PaymentPhase::AwaitingConfirmation);
            assert_eq!(before.price, money("19900"));
            assert_eq!(before.currency.as_str(), "KRW");
            assert_eq!(before.paid_at, None);
            assert_eq!(before.order_id.as_ref().map(|o| o.as_str()), Some(order.as_str()));
            assert_eq!(before.data, created, "data is the payment JSON as Toss sent it");

            let key = created["paymentKey"].as_str().unwrap();
            let wrong_amount = gateway.confirm(STORE, key, &order, money("19000"), "try-1").await.unwrap_err();
            // Named by the call and its status (the fake's code is not one Toss documents).
            assert!(
                matches!(wrong_amount, GatewayError::Rejected(ref m) if m.ends_with("/v1/payments/confirm answered 422")),
                "{wrong_amount:?}"
            );
            let wrong_order = gateway.confirm(STORE, key, "another-order", money("19900"), "try-2").await.unwrap_err();
            assert!(matches!(wrong_order, GatewayError::Rejected(_)), "{wrong_order:?}");

            let approved = gateway.confirm(STORE, key, &order, money("19900"), "try-3").await.unwrap();
            fake.check_payment(&approved.data);
            assert_eq!(approved.data["status"], "DONE");
            assert_eq!(approved.phase, PaymentPhase::Paid);
            let paid_at = approved.paid_at.expect("paid once approved");
            let approved_at = approved.data["approvedAt"].as_str().unwrap();
            assert!(approved_at.ends_with("+09:00"), "{approved_at}");
            assert_eq!(paid_at, chrono::DateTime::parse_from_rfc3339(approved_at).unwrap());
            assert_eq!(fake.state.confirm_idempotency_key(key).as_deref(), Some("try-3"));

            // Confirmed already (ALREADY_PROCESSED_PAYMENT): the client reads it back.
            let again = gateway.confirm(STORE, key, &order, money("19900"), "try-4").await.unwrap();
            assert_eq!(again, approved, "{version}");
            assert_eq!(fake.state.confirm_idempotency_key(key).as_deref(), Some("try-3"), "nothing processed again");
        }

        // The swagger's approve route too, validated.
        let fake = Fake::legacy(None).await;
        let second = fake.key_in(&order_id(), 1000, false).await;
        let path = format!("/v1/payments/{}", second["paymentKey"].as_str().unwrap());
        let body = json!({"orderId": second["orderId"], "amount": 1000});
        let done = fake.ok("POST /v1/payments/{paymentKey}", &path, Some(body)).await;
        assert_eq!(done["status"], "DONE");
        let read = fake.ok("GET /v1/payments/{paymentKey}", &path, None).await;
        assert_eq!(read, done);
        assert_eq!(fake.state.confirm_idempotency_key(second["paymentKey"].as_str().unwrap()), None, "no key sent");
    })
    .await;
}

#[tokio::test]
async fn approve_with_a_wrong_amount_is_refused_with_422() {
    bounded(async {
        for version in VERSIONS {
            let fake = Fake::start(version, None).await;
            let created = fake.key_in(&order_id(), 5000, false).await;
            let path = format!("/v1/payments/{}", created["paymentKey"].as_str().unwrap());
            let body = json!({"orderId": created["orderId"], "amount": 4999});
            let error = fake.refused(Method::POST, &path, Some(body), 422).await;
            assert_eq!(error["code"], "NOT_MATCHES_AMOUNT");
            let body = json!({"orderId": "nope", "amount": 5000});
            let error = fake.refused(Method::POST, &path, Some(body), 422).await;
            assert_eq!(error["code"], "NOT_MATCHES_ORDER_ID");
            // The real API's confirm route takes the key in the body.
            let body = json!({"paymentKey": created["paymentKey"], "orderId": created["orderId"], "amount": 5000});
            let (status, confirmed) = fake.raw(Method::POST, "/v1/payments/confirm", Some(&body)).await;
            assert_eq!(status, fake.created(), "{version}");
            fake.check_payment(&confirmed);
            assert_eq!(confirmed["status"], "DONE");
            let error = fake.refused(Method::POST, "/v1/payments/confirm", Some(body), 400).await;
            assert_eq!(error["code"], "ALREADY_PROCESSED_PAYMENT");
        }
    })
    .await;
}

#[tokio::test]
async fn full_cancel() {
    bounded(async {
        for version in VERSIONS {
            let fake = Fake::start(version, None).await;
            let gateway = fake.gateway();
            let created = fake.key_in(&order_id(), 30_000, true).await;
            assert_eq!(created["status"], "DONE");
            let snapshot = gateway.cancel_payment(&store(), &uid(&created), &cancel("30000", "30000")).await.unwrap();
            fake.check_payment(&snapshot.data);
            assert_eq!(snapshot.data["status"], "CANCELED");
            assert_eq!(snapshot.phase, PaymentPhase::Cancelled);
            assert_eq!(snapshot.data["balanceAmount"], 0);
            assert_eq!(snapshot.cancels.len(), 1);
            let only = &snapshot.cancels[0];
            assert_eq!(only.price, money("30000"));
            assert_eq!(only.reason.as_str(), "customer asked");
            assert_eq!(only.key.as_str(), snapshot.data["cancels"][0]["transactionKey"].as_str().unwrap());
            assert_eq!(only.data, snapshot.data["cancels"][0]);
            assert_eq!(snapshot.cancelled_at, Some(only.created_at));
            assert!(snapshot.paid_at.is_some(), "a cancelled card payment was paid");
            if version == TossApiVersion::V2022_11_16 {
                assert_eq!(snapshot.data["lastTransactionKey"], snapshot.data["cancels"][0]["transactionKey"]);
            }

            let refetched = gateway.fetch_payment(&store(), &uid(&created)).await.unwrap();
            assert_eq!(refetched, snapshot);
            let again = gateway.cancel_payment(&store(), &uid(&created), &cancel("1", "0")).await.unwrap_err();
            assert!(
                matches!(again, GatewayError::Rejected(ref m) if m.contains("ALREADY_CANCELED_PAYMENT")),
                "{again:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn five_partial_cancels_to_zero_then_one_more_refused() {
    bounded(async {
        for version in VERSIONS {
            let fake = Fake::start(version, None).await;
            let gateway = fake.gateway();
            let created = fake.key_in(&order_id(), 10_000, true).await;
            let mut remaining = 10_000;
            for round in 1..=5 {
                let request = cancel("2000", &remaining.to_string());
                let snapshot = gateway.cancel_payment(&store(), &uid(&created), &request).await.unwrap();
                fake.check_payment(&snapshot.data);
                remaining -= 2000;
                assert_eq!(snapshot.cancels.len(), round);
                assert_eq!(snapshot.data["balanceAmount"], remaining);
                let expected = if remaining == 0 { "CANCELED" } else { "PARTIAL_CANCELED" };
                assert_eq!(snapshot.data["status"], expected);
                let first = snapshot.cancels.iter().map(|c| c.created_at).min();
                assert_eq!(snapshot.cancelled_at, first);
            }
            let refused = gateway.cancel_payment(&store(), &uid(&created), &cancel("1", "0")).await.unwrap_err();
            assert!(matches!(refused, GatewayError::Rejected(_)), "{refused:?}");

            // Above the balance, and a stale refundableAmount, are refused too.
            let other = fake.key_in(&order_id(), 1000, true).await;
            let above = gateway.cancel_payment(&store(), &uid(&other), &cancel("1001", "1000")).await.unwrap_err();
            assert!(matches!(above, GatewayError::Rejected(ref m) if m.contains("NOT_CANCELABLE_AMOUNT")), "{above:?}");
            let stale = gateway.cancel_payment(&store(), &uid(&other), &cancel("100", "900")).await.unwrap_err();
            assert!(
                matches!(stale, GatewayError::BalanceMismatch(ref m) if m.contains("NOT_MATCHES_REFUNDABLE_AMOUNT")),
                "a stale refundableAmount is told from other refusals: {stale:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn concurrent_cancels_never_exceed_the_balance() {
    bounded(async {
        let fake = Fake::current(None).await;
        let created = fake.key_in(&order_id(), 10, true).await;
        // Twenty-five cancels of 1 race on a balance of 10 (no refundableAmount, so only the balance decides).
        let key = created["paymentKey"].as_str().unwrap().to_owned();
        let mut raw = Vec::new();
        for _ in 0..25 {
            let http = fake.http.clone();
            let url = format!("{}/v1/payments/{key}/cancel", fake.url());
            raw.push(tokio::spawn(async move {
                http.post(url)
                    .header("Authorization", payments_toss::basic_authorization(payments_toss::TEST_SECRET_KEY))
                    .json(&json!({"cancelReason": "race", "cancelAmount": 1}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        let mut ok = 0;
        for task in raw {
            match task.await.unwrap() {
                200 => ok += 1,
                // NOT_CANCELABLE_AMOUNT, or ALREADY_CANCELED_PAYMENT once the balance is 0.
                400 | 403 => {}
                other => panic!("unexpected status {other}"),
            }
        }
        assert_eq!(ok, 10);
        let payment = fake.state.payment(&key).unwrap();
        assert_eq!(payment.common().balance_amount.to_string(), "0");
        assert_eq!(payment.common().cancels.as_ref().unwrap().len(), 10);
    })
    .await;
}

#[tokio::test]
async fn legacy_virtual_account_then_deposit_produces_short_webhooks() {
    bounded(async {
        let mut receiver = Receiver::start().await;
        let fake = Fake::legacy(Some(receiver.url())).await;
        let gateway = fake.gateway();
        let created = fake.virtual_account(&order_id(), 19_900).await;
        assert_eq!(created["status"], "WAITING_FOR_DEPOSIT");
        assert_eq!(created["version"], "1.4");
        assert_eq!(created["virtualAccount"]["bank"], "신한");
        let key = created["paymentKey"].as_str().unwrap().to_owned();

        let issued = receiver.wait_for(&key, "WAITING_FOR_DEPOSIT").await;
        fake.swagger.check_component("ITossPaymentWebhook", &issued);
        let notification = TossNotification::parse(&issued).unwrap();
        assert_eq!(
            notification,
            TossNotification::PaymentStatusChanged {
                payment_key: key.clone(),
                status: Some(TossPaymentStatus::WaitingForDeposit)
            }
        );

        let waiting = gateway.fetch_payment(&store(), &uid(&created)).await.unwrap();
        assert_eq!(waiting.phase, PaymentPhase::AwaitingDeposit);
        assert_eq!(waiting.paid_at, None);
        assert_eq!(waiting.price, money("19900"));

        let deposited = fake.ok("PUT /internal/{paymentKey}/deposit", &format!("/internal/{key}/deposit"), None).await;
        assert_eq!(deposited["status"], "DONE");
        let done = receiver.wait_for(&key, "DONE").await;
        fake.swagger.check_component("ITossPaymentWebhook", &done);
        assert_eq!(done["data"]["orderId"], created["orderId"]);
        assert!(matches!(
            TossNotification::parse(&done),
            Ok(TossNotification::PaymentStatusChanged { status: Some(TossPaymentStatus::Done), .. })
        ));

        let paid = gateway.fetch_payment(&store(), &uid(&created)).await.unwrap();
        assert!(paid.paid_at.is_some(), "paid after the deposit");
        assert_eq!(paid.data["virtualAccount"]["settlementStatus"], "COMPLETED");

        // A second deposit is refused; a refund needs an account.
        fake.refused(Method::PUT, &format!("/internal/{key}/deposit"), None, 400).await;
        let no_account = gateway.cancel_payment(&store(), &uid(&created), &cancel("900", "19900")).await.unwrap_err();
        assert!(matches!(no_account, GatewayError::Rejected(ref m) if m.ends_with("INVALID_REFUND_ACCOUNT_INFO")));
        let request = CancelRequest { refund_account: Some(refund_account()), ..cancel("900", "19900") };
        let refunded = gateway.cancel_payment(&store(), &uid(&created), &request).await.unwrap();
        fake.check_payment(&refunded.data);
        assert_eq!(refunded.data["status"], "PARTIAL_CANCELED");
        receiver.wait_for(&key, "PARTIAL_CANCELED").await;
    })
    .await;
}

#[tokio::test]
async fn legacy_deposit_reversal_cancels_the_payment() {
    bounded(async {
        let mut receiver = Receiver::start().await;
        let fake = Fake::legacy(Some(receiver.url())).await;
        let gateway = fake.gateway();
        let created = fake.virtual_account(&order_id(), 7000).await;
        let key = created["paymentKey"].as_str().unwrap().to_owned();
        fake.ok("PUT /internal/{paymentKey}/deposit", &format!("/internal/{key}/deposit"), None).await;
        let paid = fake.state.payment_json(&key).unwrap();
        receiver.wait_for(&key, "DONE").await;

        let (status, reversed) = fake.raw(Method::PUT, &format!("/internal/{key}/reverse-deposit"), None).await;
        assert_eq!(status, 200, "{reversed:#}");
        fake.check_payment(&reversed);
        assert_eq!(reversed["status"], "CANCELED", "1.4 reports a reversed deposit as CANCELED");
        assert_eq!(reversed["approvedAt"], paid["approvedAt"]);
        assert_ne!(reversed["transactionKey"], paid["transactionKey"]);
        assert_eq!(reversed["virtualAccount"]["settlementStatus"], "INCOMPLETED");
        receiver.wait_for(&key, "CANCELED").await;

        let snapshot = gateway.fetch_payment(&store(), &uid(&created)).await.unwrap();
        assert_eq!(snapshot.phase, PaymentPhase::Cancelled);
        assert_eq!(snapshot.paid_at, None, "nothing was refunded: the money never stayed");
        assert!(snapshot.cancels.is_empty());
        fake.refused(Method::PUT, &format!("/internal/{key}/reverse-deposit"), None, 400).await;
    })
    .await;
}

#[tokio::test]
async fn a_virtual_account_awaiting_its_deposit_can_be_canceled_whole_only() {
    bounded(async {
        for version in VERSIONS {
            let fake = Fake::start(version, None).await;
            let gateway = fake.gateway();
            let created = fake.virtual_account(&order_id(), 5000).await;
            let part = gateway.cancel_payment(&store(), &uid(&created), &cancel("100", "5000")).await.unwrap_err();
            assert!(matches!(part, GatewayError::Rejected(_)), "{part:?}");
            let whole = gateway.cancel_payment(&store(), &uid(&created), &cancel("5000", "5000")).await.unwrap();
            fake.check_payment(&whole.data);
            assert_eq!(whole.data["status"], "CANCELED");
            assert_eq!(whole.phase, PaymentPhase::Cancelled);
            assert_eq!(whole.paid_at, None, "never paid");
            assert!(whole.cancelled_at.is_some());
        }
    })
    .await;
}

#[tokio::test]
async fn legacy_billing_authorization_then_read_with_the_right_and_the_wrong_customer_key() {
    bounded(async {
        let mut receiver = Receiver::start().await;
        let fake = Fake::legacy(Some(receiver.url())).await;
        let gateway = fake.gateway();
        let body = json!({
            "cardNumber": SAVED_CARD,
            "cardExpirationYear": "29",
            "cardExpirationMonth": "12",
            "cardPassword": "00",
            "customerBirthday": "880101",
            "customerKey": "customer-1",
        });
        let billing =
            fake.ok("POST /v1/billing/authorizations/card", "/v1/billing/authorizations/card", Some(body)).await;
        assert_eq!(billing["cardNumber"], "44443333****111*", "masked");
        let billing_key = billing["billingKey"].as_str().unwrap().to_owned();

        let uid = VendorUid::parse(&billing_key).unwrap();
        let read = gateway.fetch_saved_card(&store(), &uid, &SourceId::parse("customer-1").unwrap()).await.unwrap();
        assert_eq!(read.data, billing);
        assert_eq!(read.key, billing_key);
        let legacy = gateway.legacy_billing(STORE, &billing_key, "customer-1").await.unwrap();
        assert_eq!(legacy, billing);

        let wrong = gateway.fetch_saved_card(&store(), &uid, &SourceId::parse("customer-2").unwrap()).await;
        assert!(matches!(wrong, Err(GatewayError::Rejected(_))), "{wrong:?}");
        let unknown = VendorUid::parse("no-such-billing-key").unwrap();
        let missing = gateway.fetch_saved_card(&store(), &unknown, &SourceId::parse("customer-1").unwrap()).await;
        assert!(matches!(missing, Err(GatewayError::NotFound(_))), "{missing:?}");

        let path = format!("/v1/billing/authorizations/{billing_key}");
        fake.ok("POST /v1/billing/authorizations/{billingKey}", &path, Some(json!({"customerKey": "customer-1"})))
            .await;
        fake.refused(Method::POST, &path, Some(json!({"customerKey": "customer-2"})), 403).await;

        // Charging the saved card (swagger body, then the real API's body).
        let order = order_id();
        let charge = json!({
            "method": "billing", "billingKey": billing_key, "orderId": order, "amount": 9900,
            "customerKey": "customer-1",
        });
        let charged =
            fake.ok("POST /v1/billing/{billingKey}", &format!("/v1/billing/{billing_key}"), Some(charge)).await;
        assert_eq!(charged["status"], "DONE");
        assert_eq!(charged["type"], "BILLING");
        assert_eq!(charged["card"]["number"], "44443333****111*");
        let key = charged["paymentKey"].as_str().unwrap().to_owned();
        let snapshot = gateway.fetch_payment(&store(), &uid_of(&key)).await.unwrap();
        assert_eq!(snapshot.price, money("9900"));
        assert!(snapshot.paid_at.is_some());
        let real_body = json!({"customerKey": "customer-1", "orderId": order_id(), "amount": 100, "orderName": "plan"});
        fake.ok("POST /v1/billing/{billingKey}", &format!("/v1/billing/{billing_key}"), Some(real_body)).await;
        let other_customer = json!({"customerKey": "customer-2", "orderId": order_id(), "amount": 100});
        fake.refused(Method::POST, &format!("/v1/billing/{billing_key}"), Some(other_customer), 403).await;

        // Billing payments send no webhook: the next one is the key-in's.
        let card = fake.key_in(&order_id(), 100, true).await;
        let card_key = card["paymentKey"].as_str().unwrap();
        receiver.wait_for(card_key, "DONE").await;
        let rest = receiver.drain();
        assert!(rest.iter().all(|body| body["data"]["paymentKey"] != key.as_str()), "{rest:#?}");
    })
    .await;
}

#[tokio::test]
async fn cash_receipts_are_issued_and_canceled_once() {
    bounded(async {
        let fake = Fake::legacy(None).await;
        let payment = fake.key_in(&order_id(), 12_000, true).await;
        let body = json!({
            "type": "소득공제",
            "paymentKey": payment["paymentKey"],
            "orderId": payment["orderId"],
            "orderName": "fake order",
            "registrationNumber": "01012345678",
            "amount": 12000,
        });
        let receipt = fake.ok("POST /v1/cash-receipts", "/v1/cash-receipts", Some(body)).await;
        assert_eq!(receipt["canceledAt"], Value::Null);
        let path = format!("/v1/payments/{}", payment["paymentKey"].as_str().unwrap());
        let with_receipt = fake.ok("GET /v1/payments/{paymentKey}", &path, None).await;
        assert_eq!(with_receipt["cashReceipt"]["issueNumber"], receipt["approvalNumber"]);

        let cancel_path = format!("/v1/cash-receipts/{}/cancel", receipt["receiptKey"].as_str().unwrap());
        let canceled = fake.ok("POST /v1/cash-receipts/{receiptKey}/cancel", &cancel_path, Some(json!({}))).await;
        assert!(canceled["canceledAt"].is_string());
        fake.refused(Method::POST, &cancel_path, Some(json!({})), 400).await;
        fake.refused(Method::POST, "/v1/cash-receipts/nope/cancel", Some(json!({})), 404).await;
    })
    .await;
}

#[tokio::test]
async fn the_internal_webhook_listener_keeps_every_form_by_payment_and_order() {
    bounded(async {
        for version in VERSIONS {
            let fake = Fake::start(version, None).await;
            let payment = fake.key_in(&order_id(), 1000, true).await;
            let key = payment["paymentKey"].as_str().unwrap();
            let order = payment["orderId"].as_str().unwrap();
            let short = json!({
                "eventType": "PAYMENT_STATUS_CHANGED",
                "data": {"paymentKey": key, "orderId": order, "status": "DONE"},
            });
            let (status, _) = fake.raw(Method::POST, "/internal/webhook", Some(&short)).await;
            assert_eq!(status, fake.created());
            assert_eq!(fake.state.received_webhook(key), Some(short.clone()));
            let full = payments_toss::webhook::status_changed(&payment, "2024-01-01T00:00:00.000000");
            let (status, _) = fake.raw(Method::POST, "/internal/webhook", Some(&full)).await;
            assert_eq!(status, fake.created());
            assert_eq!(fake.state.received_webhook(key), Some(full.clone()), "the last body, raw");
            assert_eq!(fake.state.received_webhook(order), Some(full));

            let callback = json!({
                "createdAt": "2024-01-01T00:00:00.000000", "secret": "ps_x", "status": "DONE",
                "transactionKey": "T", "orderId": "order-of-a-deposit",
            });
            let (status, _) = fake.raw(Method::POST, "/internal/webhook", Some(&callback)).await;
            assert_eq!(status, fake.created());
            assert_eq!(fake.state.received_webhook("order-of-a-deposit"), Some(callback));
            assert_eq!(fake.state.received_webhook("never-seen"), None);

            fake.refused(Method::POST, "/internal/webhook", Some(json!({"data": {}})), 400).await;
            let names_nothing = json!({"eventType": "SOMETHING_NEW", "data": {"paymentKey": 1}});
            fake.refused(Method::POST, "/internal/webhook", Some(names_nothing), 400).await;
        }
    })
    .await;
}

#[tokio::test]
async fn legacy_payments_round_trip_through_the_wire_types() {
    bounded(async {
        let fake = Fake::legacy(None).await;
        let card = fake.key_in(&order_id(), 1000, true).await;
        let account = fake.virtual_account(&order_id(), 2000).await;
        for payment in [card, account] {
            let typed = TossPayment::from_value(payment.clone()).unwrap();
            assert_eq!(typed.to_value().unwrap(), payment);
            let text = serde_json::to_string(&typed).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), payment);
        }
    })
    .await;
}

#[tokio::test]
async fn the_fake_keeps_a_bounded_number_of_payments() {
    bounded(async {
        use payments_fakekit::StoreLimits;
        use payments_toss::fake::{FakeTossConfig, start};
        let limits = StoreLimits { capacity: 2, ttl: std::time::Duration::from_secs(60) };
        let server = start(FakeTossConfig { limits, ..FakeTossConfig::default() }, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let gateway = payments_toss::TossGateway::new(
            payments_toss::TossConfig::new(server.url()).with_store(STORE, payments_toss::TEST_SECRET_KEY),
        )
        .unwrap();
        let http = reqwest::Client::new();
        let mut keys = Vec::new();
        for _ in 0..3 {
            let body = json!({
                "method": "card", "cardNumber": "1111222233334444", "cardExpirationYear": "28",
                "cardExpirationMonth": "07", "amount": 100, "orderId": order_id(),
            });
            let created: Value = http
                .post(format!("{}/v1/payments/key-in", server.url()))
                .header("Authorization", payments_toss::basic_authorization(payments_toss::TEST_SECRET_KEY))
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(created["version"], "2022-11-16", "the default version");
            keys.push(created["paymentKey"].as_str().unwrap().to_owned());
        }
        let oldest = gateway.fetch_payment(&store(), &uid_of(&keys[0])).await;
        assert!(matches!(oldest, Err(GatewayError::NotFound(_))), "{oldest:?}");
        for key in &keys[1..] {
            gateway.fetch_payment(&store(), &uid_of(key)).await.unwrap();
        }
    })
    .await;
}

#[test]
fn notifications_that_are_not_toss_ones_are_malformed() {
    for body in [json!("text"), json!({"data": {}}), json!({"eventType": 1})] {
        assert!(matches!(TossNotification::parse(&body), Err(TossWebhookError::Malformed(_))), "{body}");
    }
}
