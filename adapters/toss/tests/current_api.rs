//! The fake in Toss's current API version (2022-11-16), against the
//! documented answers and through the gateway client: confirmation with an
//! idempotency key, refusals, expiry, the deposit callback and its reversal,
//! the card-registration window, orders.

mod common;

use std::str::FromStr;

use common::{
    CARD, Fake, Receiver, SAVED_CARD, STORE, assert_members_as_documented, assert_no_card_number, bounded, documented,
    documented_payment_members, keys, order_id,
};
use payments_application::ports::{CancelRequest, GatewayError, PaymentGateway};
use payments_domain::{CancelReason, Money, PaymentPhase, SourceId, StoreId, VendorUid};
use payments_toss::fake::{REFUSED_CARD_NUMBER, TossApiVersion, mask_card_number};
use payments_toss::{TossDepositCallback, TossNotification};
use reqwest::Method;
use serde_json::{Value, json};

fn store() -> StoreId {
    StoreId::parse(STORE).unwrap()
}

fn uid(payment: &Value) -> VendorUid {
    VendorUid::parse(payment["paymentKey"].as_str().unwrap()).unwrap()
}

fn money(text: &str) -> Money {
    Money::from_str(text).unwrap()
}

fn key_of(payment: &Value) -> String {
    payment["paymentKey"].as_str().unwrap().to_owned()
}

#[test]
fn the_api_version_is_parsed_and_defaults_to_the_current_one() {
    assert_eq!(TossApiVersion::from_str("2022-11-16"), Ok(TossApiVersion::V2022_11_16));
    assert_eq!(TossApiVersion::from_str("1.4"), Ok(TossApiVersion::V1_4));
    let error = TossApiVersion::from_str("2024-06-01").unwrap_err();
    assert!(error.to_string().contains("2024-06-01") && error.to_string().contains("1.4"), "{error}");
    assert_eq!(TossApiVersion::default(), TossApiVersion::V2022_11_16);
    assert_eq!(payments_toss::fake::FakeTossConfig::default().api_version, TossApiVersion::V2022_11_16);
    for version in [TossApiVersion::V2022_11_16, TossApiVersion::V1_4] {
        assert_eq!(version.as_str().parse::<TossApiVersion>(), Ok(version));
        assert_eq!(version.to_string(), version.as_str());
    }
    assert_eq!(mask_card_number(CARD), "11112222****444*");
}

#[tokio::test]
async fn every_answer_has_the_documented_members_and_no_card_number() {
    bounded(async {
        let fake = Fake::current(None).await;
        let members = documented_payment_members();
        assert!(members.contains("lastTransactionKey") && !members.contains("transactionKey"));

        // Each answer goes through Fake::ok, which compares its members with the documented ones.
        let done = fake.key_in(&order_id(), 15_000, true).await;
        assert_members_as_documented(&done, &documented("v2022-11-16/payment-card-done.json"), "card done");
        assert_eq!(done["card"]["number"], mask_card_number(CARD));
        assert_eq!(done["card"]["amount"], 15_000);
        assert!(done["card"]["issuerCode"].as_str().unwrap().bytes().all(|b| b.is_ascii_digit()));
        assert!(done["lastTransactionKey"].is_string());
        assert!(done["receipt"]["url"].is_string() && done["checkout"]["url"].is_string());
        assert_eq!(done["secret"], Value::Null);
        assert_eq!(done["virtualAccount"], Value::Null);

        let in_progress = fake.key_in(&order_id(), 15_000, false).await;
        assert_members_as_documented(
            &in_progress,
            &documented("v2022-11-16/payment-card-in-progress.json"),
            "card in progress",
        );
        for member in ["card", "receipt", "lastTransactionKey", "approvedAt"] {
            assert_eq!(in_progress[member], Value::Null, "{member} before the confirmation");
        }

        let path = format!("/v1/payments/{}/cancel", key_of(&done));
        let partial = fake
            .ok(
                "POST /v1/payments/{paymentKey}/cancel",
                &path,
                Some(json!({"cancelReason": "r", "cancelAmount": 1000})),
            )
            .await;
        assert_members_as_documented(
            &partial,
            &documented("v2022-11-16/payment-card-partial-canceled.json"),
            "partial",
        );
        assert_eq!(partial["cancels"][0]["cancelStatus"], "DONE");
        let canceled =
            fake.ok("POST /v1/payments/{paymentKey}/cancel", &path, Some(json!({"cancelReason": "r"}))).await;
        assert_eq!(canceled["status"], "CANCELED");
        assert_eq!(canceled["cancels"].as_array().unwrap().len(), 2);

        let account = fake.virtual_account(&order_id(), 10_000).await;
        let waiting = documented("v2022-11-16/payment-virtual-account-waiting.json");
        assert_members_as_documented(&account, &waiting, "virtual account waiting");
        assert_eq!(account["virtualAccount"]["bankCode"], "88", "신한, as a code");
        let due = account["virtualAccount"]["dueDate"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(due).is_ok() && due.ends_with("+09:00"), "{due}");
        assert!(account["secret"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(account["lastTransactionKey"].is_string(), "as the documented waiting account");
        let deposit = format!("/internal/{}/deposit", key_of(&account));
        let deposited = fake.ok("PUT /internal/{paymentKey}/deposit", &deposit, None).await;
        assert_members_as_documented(
            &deposited,
            &documented("v2022-11-16/payment-virtual-account-done.json"),
            "VA done",
        );

        let expire = format!("/internal/{}/expire", key_of(&in_progress));
        let expired = fake.ok("PUT /internal/{paymentKey}/expire", &expire, None).await;
        let documented_expired = documented("v2022-11-16/payment-expired.json");
        assert_members_as_documented(&expired, &documented_expired, "expired");
        for member in ["method", "useEscrow", "card", "receipt", "lastTransactionKey", "approvedAt", "secret"] {
            assert_eq!(expired[member], Value::Null, "{member} of an expired payment");
        }
        assert_eq!(expired["failure"], documented_expired["failure"]);

        let refused = fake.key_in_with(REFUSED_CARD_NUMBER, &order_id(), 500, false).await;
        assert_eq!(refused["status"], "IN_PROGRESS");

        // Reads answer the same, by key and by order.
        for payment in [&done, &in_progress, &account, &refused] {
            let by_key =
                fake.ok("GET /v1/payments/{paymentKey}", &format!("/v1/payments/{}", key_of(payment)), None).await;
            let order = payment["orderId"].as_str().unwrap();
            let by_order =
                fake.ok("GET /v1/payments/orders/{orderId}", &format!("/v1/payments/orders/{order}"), None).await;
            assert_eq!(by_key, by_order);
            assert_eq!(keys(&by_key), members);
        }
        // The state renders what the routes answer, and keeps no card number either.
        let held = fake.state.payment(&key_of(&done)).unwrap();
        assert_no_card_number(&held.to_value().unwrap());
        assert_eq!(fake.state.payment_json(&key_of(&done)).unwrap(), canceled);
    })
    .await;
}

#[tokio::test]
async fn confirm_records_its_idempotency_key_and_a_replay_is_not_executed_again() {
    bounded(async {
        let mut receiver = Receiver::start().await;
        let fake = Fake::current(Some(receiver.url())).await;
        let gateway = fake.gateway();
        let order = order_id();
        let created = fake.key_in(&order, 19_900, false).await;
        let key = key_of(&created);
        assert_eq!(fake.state.confirm_idempotency_key(&key), None);

        let confirmed = gateway.confirm(STORE, &key, &order, money("19900"), "registration-1").await.unwrap();
        fake.check_payment(&confirmed.data);
        assert_eq!(confirmed.phase, PaymentPhase::Paid);
        assert_eq!(confirmed.pg_status, "DONE");
        assert!(confirmed.paid_at.is_some());
        assert_eq!(fake.state.confirm_idempotency_key(&key).as_deref(), Some("registration-1"));
        let webhook = receiver.wait_for(&key, "DONE").await;
        assert_eq!(webhook["data"], confirmed.data, "PAYMENT_STATUS_CHANGED carries the whole payment");
        assert!(webhook["createdAt"].is_string());

        // The same key again: the first answer (200, same body), not ALREADY_PROCESSED_PAYMENT.
        let body = json!({"paymentKey": key, "orderId": order, "amount": 19900});
        let (status, replayed) =
            fake.raw_with_key(Method::POST, "/v1/payments/confirm", Some(&body), Some("registration-1")).await;
        assert_eq!(status, 200);
        assert_eq!(replayed, confirmed.data);
        let again = gateway.confirm(STORE, &key, &order, money("19900"), "registration-1").await.unwrap();
        assert_eq!(again, confirmed);
        // Another key is another request: Toss says it is processed already.
        let (status, error) =
            fake.raw_with_key(Method::POST, "/v1/payments/confirm", Some(&body), Some("registration-2")).await;
        assert_eq!((status, error["code"].as_str()), (400, Some("ALREADY_PROCESSED_PAYMENT")));
        assert_eq!(fake.state.confirm_idempotency_key(&key).as_deref(), Some("registration-1"));

        // Replayed cancels and key-ins do not happen twice.
        let cancel_path = format!("/v1/payments/{key}/cancel");
        let cancel = json!({"cancelReason": "r", "cancelAmount": 900});
        let first = fake.raw_with_key(Method::POST, &cancel_path, Some(&cancel), Some("cancel-1")).await;
        let second = fake.raw_with_key(Method::POST, &cancel_path, Some(&cancel), Some("cancel-1")).await;
        assert_eq!(first, second);
        assert_eq!(first.0, 200);
        let held = fake.state.payment(&key).unwrap();
        assert_eq!(held.common().cancels.as_ref().map(Vec::len), Some(1), "one cancel");
        assert_eq!(held.common().balance_amount.to_string(), "19000");
        let key_in = json!({
            "method": "card", "cardNumber": CARD, "cardExpirationYear": "28", "cardExpirationMonth": "07",
            "amount": 100, "orderId": order_id(),
        });
        let one = fake.raw_with_key(Method::POST, "/v1/payments/key-in", Some(&key_in), Some("key-in-1")).await;
        let two = fake.raw_with_key(Method::POST, "/v1/payments/key-in", Some(&key_in), Some("key-in-1")).await;
        assert_eq!(one, two, "one payment");
        // Errors are answered again too, and the same key on another path is another request.
        let refused =
            fake.raw_with_key(Method::POST, "/v1/payments/no-such/cancel", Some(&cancel), Some("cancel-1")).await;
        assert_eq!(refused.0, 404);
        let refused_again =
            fake.raw_with_key(Method::POST, "/v1/payments/no-such/cancel", Some(&cancel), Some("cancel-1")).await;
        assert_eq!(refused_again, refused);

        // Toss's limit on a key.
        let long = "k".repeat(301);
        let (status, error) = fake.raw_with_key(Method::POST, "/v1/payments/confirm", Some(&body), Some(&long)).await;
        assert_eq!((status, error["code"].as_str()), (400, Some("INVALID_IDEMPOTENCY_KEY")));
        let longest = "k".repeat(300);
        let (status, _) = fake.raw_with_key(Method::POST, &cancel_path, Some(&cancel), Some(&longest)).await;
        assert_eq!(status, 200, "300 characters are fine");

        // A confirmation without a key records none.
        let other = fake.key_in(&order_id(), 100, false).await;
        let body = json!({"paymentKey": other["paymentKey"], "orderId": other["orderId"], "amount": 100});
        let (status, _) = fake.raw(Method::POST, "/v1/payments/confirm", Some(&body)).await;
        assert_eq!(status, 200);
        assert_eq!(fake.state.confirm_idempotency_key(&key_of(&other)), None);
    })
    .await;
}

#[tokio::test]
async fn a_refused_card_aborts_the_payment() {
    bounded(async {
        let mut receiver = Receiver::start().await;
        let fake = Fake::current(Some(receiver.url())).await;
        let gateway = fake.gateway();
        let order = order_id();
        let created = fake.key_in_with(REFUSED_CARD_NUMBER, &order, 3000, false).await;
        let key = key_of(&created);
        let refused = gateway.confirm(STORE, &key, &order, money("3000"), "confirm-refused").await.unwrap_err();
        assert!(matches!(refused, GatewayError::Rejected(ref m) if m.contains("REJECT_CARD_COMPANY")), "{refused:?}");

        let aborted = receiver.wait_for(&key, "ABORTED").await;
        fake.check_answer(&aborted["data"]);
        assert_eq!(aborted["data"]["failure"]["code"], "REJECT_CARD_COMPANY");
        let snapshot = gateway.fetch_payment(&store(), &uid(&created)).await.unwrap();
        assert_eq!(snapshot.phase, PaymentPhase::Failed);
        assert_eq!(snapshot.pg_status, "ABORTED");
        assert_eq!(snapshot.paid_at, None);
        fake.check_payment(&snapshot.data);

        // It is over: another confirmation reads it back, still failed.
        let again = gateway.confirm(STORE, &key, &order, money("3000"), "confirm-again").await.unwrap();
        assert_eq!(again.phase, PaymentPhase::Failed);

        // An immediate key-in with that card is refused at once.
        let body = json!({
            "method": "card", "cardNumber": REFUSED_CARD_NUMBER, "cardExpirationYear": "28",
            "cardExpirationMonth": "07", "amount": 100, "orderId": order_id(),
        });
        let error = fake.refused(Method::POST, "/v1/payments/key-in", Some(body), 403).await;
        assert_eq!(error, documented("v2022-11-16/error-REJECT_CARD_COMPANY.json"));
    })
    .await;
}

#[tokio::test]
async fn an_expired_payment_cannot_be_confirmed() {
    bounded(async {
        let mut receiver = Receiver::start().await;
        let fake = Fake::current(Some(receiver.url())).await;
        let gateway = fake.gateway();
        let order = order_id();
        let created = fake.key_in(&order, 15_000, false).await;
        let key = key_of(&created);
        fake.ok("PUT /internal/{paymentKey}/expire", &format!("/internal/{key}/expire"), None).await;
        let webhook = receiver.wait_for(&key, "EXPIRED").await;
        assert_eq!(webhook["data"]["method"], Value::Null);

        let snapshot = gateway.fetch_payment(&store(), &uid(&created)).await.unwrap();
        assert_eq!(snapshot.phase, PaymentPhase::Failed);
        assert_eq!(snapshot.pg_status, "EXPIRED");
        assert_eq!(snapshot.paid_at, None);
        let late = gateway.confirm(STORE, &key, &order, money("15000"), "too-late").await.unwrap_err();
        assert!(matches!(late, GatewayError::NotFound(ref m) if m.contains("NOT_FOUND_PAYMENT_SESSION")), "{late:?}");
        let body = json!({"paymentKey": key, "orderId": order, "amount": 15000});
        let error = fake.refused(Method::POST, "/v1/payments/confirm", Some(body), 404).await;
        assert_eq!(error, documented("v2022-11-16/error-NOT_FOUND_PAYMENT_SESSION.json"));
        // Only a payment awaiting its confirmation expires.
        fake.refused(Method::PUT, &format!("/internal/{key}/expire"), None, 400).await;
        let done = fake.key_in(&order_id(), 100, true).await;
        fake.refused(Method::PUT, &format!("/internal/{}/expire", key_of(&done)), None, 400).await;
    })
    .await;
}

#[tokio::test]
async fn a_virtual_account_deposit_callback_and_its_reversal() {
    bounded(async {
        let mut receiver = Receiver::start().await;
        let fake = Fake::current(Some(receiver.url())).await;
        let gateway = fake.gateway();
        let order = order_id();
        let created = fake.virtual_account(&order, 19_900).await;
        let key = key_of(&created);
        let secret = created["secret"].as_str().unwrap().to_owned();

        let issued = receiver.wait_for_deposit_callback(&order, "WAITING_FOR_DEPOSIT").await;
        assert_eq!(keys(&issued), keys(&documented("v2022-11-16/webhook-deposit-callback.json")));
        assert_eq!(issued["secret"], secret.as_str());
        let snapshot = gateway.fetch_payment(&store(), &uid(&created)).await.unwrap();
        assert_eq!(snapshot.phase, PaymentPhase::AwaitingDeposit);
        assert_eq!(snapshot.paid_at, None);

        let deposited = fake.ok("PUT /internal/{paymentKey}/deposit", &format!("/internal/{key}/deposit"), None).await;
        assert_eq!(deposited["status"], "DONE");
        let callback = receiver.wait_for_deposit_callback(&order, "DONE").await;
        let TossNotification::DepositCallback(parsed) = TossNotification::parse(&callback).unwrap() else {
            panic!("a deposit callback: {callback:#}");
        };
        assert_eq!(parsed.order_id, order);
        assert_eq!(parsed.secret, secret, "the payment's secret");
        assert_eq!(parsed.transaction_key.as_deref(), deposited["lastTransactionKey"].as_str());
        assert!(callback["createdAt"].is_string());
        let paid = gateway.fetch_payment(&store(), &uid(&created)).await.unwrap();
        assert_eq!(paid.phase, PaymentPhase::Paid);
        assert!(paid.paid_at.is_some());
        assert!(gateway.notification_secret_matches(&paid.data, &parsed.secret));
        assert!(!gateway.notification_secret_matches(&paid.data, "ps_forged"));

        let path = format!("/internal/{key}/reverse-deposit");
        let reversed = fake.ok("PUT /internal/{paymentKey}/reverse-deposit", &path, None).await;
        assert_eq!(reversed["status"], "WAITING_FOR_DEPOSIT");
        assert_eq!(reversed["approvedAt"], deposited["approvedAt"], "approvedAt stays");
        assert!(reversed["lastTransactionKey"].is_string());
        assert_ne!(reversed["lastTransactionKey"], deposited["lastTransactionKey"]);
        assert_eq!(reversed["virtualAccount"]["settlementStatus"], "INCOMPLETED");
        let callback = receiver.wait_for_deposit_callback(&order, "WAITING_FOR_DEPOSIT").await;
        assert_eq!(callback["transactionKey"], reversed["lastTransactionKey"]);
        assert_eq!(callback["secret"], secret.as_str());

        let snapshot = gateway.fetch_payment(&store(), &uid(&created)).await.unwrap();
        assert_eq!(snapshot.phase, PaymentPhase::AwaitingDeposit);
        assert_eq!(snapshot.paid_at, None, "the deposit was taken back");
        assert!(snapshot.cancels.is_empty());

        // It can be paid again, then refunded (to an account) in part.
        fake.ok("PUT /internal/{paymentKey}/deposit", &format!("/internal/{key}/deposit"), None).await;
        receiver.wait_for_deposit_callback(&order, "DONE").await;
        fake.refused(Method::PUT, &format!("/internal/{key}/deposit"), None, 400).await;
        let account = payments_application::ports::RefundAccount {
            bank: "신한".into(),
            account: "110123456789".into(),
            holder: "Samchon".into(),
            mobile: "01012345678".into(),
        };
        let request = CancelRequest {
            currency: payments_domain::Currency::krw(),
            amount: money("900"),
            reason: CancelReason::parse("customer asked").unwrap(),
            remaining: money("19900"),
            refund_account: Some(account),
            idempotency_key: Some("e2e-refund-1".into()),
        };
        let refunded = gateway.cancel_payment(&store(), &uid(&created), &request).await.unwrap();
        fake.check_payment(&refunded.data);
        assert_eq!(refunded.data["virtualAccount"]["refundStatus"], "COMPLETED");
        let callback = receiver.wait_for_deposit_callback(&order, "PARTIAL_CANCELED").await;
        assert_eq!(callback["transactionKey"], refunded.data["cancels"][0]["transactionKey"]);
        let parsed: TossDepositCallback = serde_json::from_value(callback).unwrap();
        assert!(!format!("{parsed:?}").contains(&secret), "Debug hides the secret");
    })
    .await;
}

#[tokio::test]
async fn the_card_registration_window_then_issue_then_charge() {
    bounded(async {
        let mut receiver = Receiver::start().await;
        let fake = Fake::current(Some(receiver.url())).await;
        let gateway = fake.gateway();
        let register = |customer: &str| {
            json!({
                "customerKey": customer, "cardNumber": SAVED_CARD,
                "cardExpirationYear": "29", "cardExpirationMonth": "12",
            })
        };
        let (status, auth) = fake.raw(Method::POST, "/internal/billing/auth", Some(&register("customer-1"))).await;
        assert_eq!(status, 200, "{auth:#}");
        assert_eq!(auth["customerKey"], "customer-1");
        let auth_key = auth["authKey"].as_str().unwrap().to_owned();

        let wrong = gateway.issue_billing_key(STORE, &auth_key, "customer-2").await.unwrap_err();
        assert!(matches!(wrong, GatewayError::Rejected(ref m) if m.contains("NOT_MATCHES_CUSTOMER_KEY")), "{wrong:?}");
        let billing = gateway.issue_billing_key(STORE, &auth_key, "customer-1").await.unwrap();
        fake.check_answer(&billing);
        assert_members_as_documented(&billing, &documented("v2022-11-16/billing-issued.json"), "issued");
        assert_eq!(billing["card"]["number"], mask_card_number(SAVED_CARD));
        // A retried exchange (its answer lost) carries the same derived
        // Idempotency-Key: Toss answers it again instead of refusing the used authKey.
        let retried = gateway.issue_billing_key(STORE, &auth_key, "customer-1").await.unwrap();
        assert_eq!(retried, billing);
        let issue = json!({ "authKey": auth_key, "customerKey": "customer-1" });
        let (status, used) = fake.raw(Method::POST, "/v1/billing/authorizations/issue", Some(&issue)).await;
        assert_eq!((status, used["code"].as_str()), (400, Some("ALREADY_USED_AUTH_KEY")), "{used}");
        let unknown = gateway.issue_billing_key(STORE, "bln_nothing", "customer-1").await.unwrap_err();
        assert!(matches!(unknown, GatewayError::NotFound(_)), "{unknown:?}");
        let billing_key = billing["billingKey"].as_str().unwrap().to_owned();

        // The billing key reads back with the original's route.
        let legacy = gateway.legacy_billing(STORE, &billing_key, "customer-1").await.unwrap();
        assert_eq!(legacy, billing);
        let other = gateway.legacy_billing(STORE, &billing_key, "customer-2").await.unwrap_err();
        assert!(matches!(other, GatewayError::Rejected(_)), "{other:?}");

        // The port: an authKey is exchanged, a billing key read.
        let (_, second) = fake.raw(Method::POST, "/internal/billing/auth", Some(&register("customer-3"))).await;
        let customer = SourceId::parse("customer-3").unwrap();
        let via_auth = VendorUid::parse(second["authKey"].as_str().unwrap()).unwrap();
        let reservation = gateway.fetch_saved_card(&store(), &via_auth, &customer).await.unwrap();
        fake.check_answer(&reservation.data);
        assert_eq!(reservation.data["customerKey"], "customer-3");
        assert_eq!(reservation.data["billingKey"], reservation.key.as_str());
        let via_billing = VendorUid::parse(&reservation.key).unwrap();
        assert_eq!(gateway.fetch_saved_card(&store(), &via_billing, &customer).await.unwrap(), reservation);

        // Charging: 200, a BILLING payment with the masked card, and no webhook.
        let charge = json!({"customerKey": "customer-1", "orderId": order_id(), "amount": 9900, "orderName": "plan"});
        let charged =
            fake.ok("POST /v1/billing/{billingKey}", &format!("/v1/billing/{billing_key}"), Some(charge)).await;
        assert_eq!(charged["status"], "DONE");
        assert_eq!(charged["type"], "BILLING");
        assert_eq!(charged["card"]["number"], mask_card_number(SAVED_CARD));
        let snapshot = gateway.fetch_payment(&store(), &uid(&charged)).await.unwrap();
        assert_eq!(snapshot.phase, PaymentPhase::Paid);
        let card = fake.key_in(&order_id(), 100, true).await;
        receiver.wait_for(&key_of(&card), "DONE").await;
        let rest = receiver.drain();
        assert!(rest.iter().all(|body| body["data"]["paymentKey"] != charged["paymentKey"]), "{rest:#?}");

        // A refused card registers, but its charge is refused.
        let refused_card = json!({
            "customerKey": "c-9", "cardNumber": REFUSED_CARD_NUMBER,
            "cardExpirationYear": "29", "cardExpirationMonth": "12",
        });
        let (_, refused_auth) = fake.raw(Method::POST, "/internal/billing/auth", Some(&refused_card)).await;
        let refused_billing =
            gateway.issue_billing_key(STORE, refused_auth["authKey"].as_str().unwrap(), "c-9").await.unwrap();
        let path = format!("/v1/billing/{}", refused_billing["billingKey"].as_str().unwrap());
        let body = json!({"customerKey": "c-9", "orderId": order_id(), "amount": 100});
        let error = fake.refused(Method::POST, &path, Some(body), 403).await;
        assert_eq!(error["code"], "REJECT_CARD_COMPANY");
        fake.refused(Method::POST, "/internal/billing/auth", Some(json!({"customerKey": "c"})), 400).await;
    })
    .await;
}

#[tokio::test]
async fn a_payment_is_found_by_its_order() {
    bounded(async {
        let fake = Fake::current(None).await;
        let order = order_id();
        let created = fake.key_in(&order, 2500, true).await;
        let found = fake.ok("GET /v1/payments/orders/{orderId}", &format!("/v1/payments/orders/{order}"), None).await;
        assert_eq!(found, created);
        let error = fake.refused(Method::GET, "/v1/payments/orders/no-such-order", None, 404).await;
        assert_eq!(error["code"], "NOT_FOUND_PAYMENT");
        let anonymous = fake.http.get(format!("{}/v1/payments/orders/{order}", fake.url())).send().await.unwrap();
        assert_eq!(anonymous.status().as_u16(), 401, "a /v1 route");
    })
    .await;
}

#[tokio::test]
async fn a_second_cancel_of_a_payment_too_soon_is_refused_and_nothing_is_refunded() {
    bounded(async {
        // Toss's rule is one second; a shorter window keeps the test quick.
        let window = std::time::Duration::from_millis(300);
        let fake = Fake::start_with(TossApiVersion::V2022_11_16, None, window).await;
        let gateway = fake.gateway();
        let created = fake.key_in(&order_id(), 10_000, true).await;
        let cancel = |amount: &str, remaining: &str| CancelRequest {
            currency: payments_domain::Currency::krw(),
            amount: money(amount),
            reason: CancelReason::parse("customer asked").unwrap(),
            remaining: money(remaining),
            refund_account: None,
            idempotency_key: None,
        };
        gateway.cancel_payment(&store(), &uid(&created), &cancel("1000", "10000")).await.unwrap();
        let refused = gateway.cancel_payment(&store(), &uid(&created), &cancel("1000", "9000")).await.unwrap_err();
        assert!(
            matches!(refused, GatewayError::TooSoon(ref m) if m.contains("FORBIDDEN_CONSECUTIVE_REQUEST")),
            "{refused:?}"
        );
        assert_eq!(
            fake.state.payment(&key_of(&created)).unwrap().common().balance_amount,
            serde_json::Number::from(9000)
        );
        // Once the window passed (a wait on time is what this rule is about).
        tokio::time::sleep(window + std::time::Duration::from_millis(50)).await;
        let after = gateway.cancel_payment(&store(), &uid(&created), &cancel("1000", "9000")).await.unwrap();
        assert_eq!(after.cancels.len(), 2);
    })
    .await;
}
