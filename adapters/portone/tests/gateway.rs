//! The PortOne V2 client against the fake, over HTTP: payments read and
//! cancelled (partly, wholly, refused, against a stale balance, retried with
//! one idempotency key), virtual accounts, billing keys, amounts locked
//! before the window (pre-register) and the window honouring them, and the fake's
//! answers and webhooks in the documented shapes (the required members of
//! each schema of portone-io/developers.portone.io `src/schema/v2.openapi.json`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use payments_application::ports::{
    CancelRequest, ChargeRequest, GatewayError, NotificationReader, OrderLock, OrderLockRequest, PaymentGateway,
    RawNotification, RefundAccount,
};
use payments_domain::{CancelReason, Currency, Money, OrderId, PaymentPhase, SourceId, StoreId, Title, VendorUid};
use payments_pg::{SecretString, Stores};
use payments_portone::fake::{FakePortOneConfig, TEST_API_SECRET, TEST_STORE_ID, TEST_WEBHOOK_SECRET};
use payments_portone::{PortOneConfig, PortOneGateway, PortOneNotifications, PortOneStore, WebhookKey};
use poem::web::Data;
use poem::{EndpointExt, Route, handler, post};
use serde_json::{Value, json};

type Received = Arc<Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

#[handler]
fn record(request: &poem::Request, body: Vec<u8>, received: Data<&Received>) {
    let headers = request
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    received.lock().unwrap().push((headers, body));
}

struct Fixture {
    fake: payments_fakekit::RunningServer,
    _sink: payments_fakekit::RunningServer,
    received: Received,
    gateway: PortOneGateway,
    http: reqwest::Client,
}

impl Fixture {
    async fn start() -> Self {
        let received: Received = Arc::default();
        let route = Route::new().at("/hook", post(record)).data(received.clone());
        let sink = payments_fakekit::serve(route, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let config = FakePortOneConfig { webhook_url: Some(format!("{}/hook", sink.url())), ..Default::default() };
        let fake = payments_portone::fake::start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let store = PortOneStore::new(TEST_API_SECRET).with_store_id(TEST_STORE_ID);
        let gateway = PortOneGateway::new(PortOneConfig {
            stores: Stores::default().with_store(STORE, store),
            ..PortOneConfig::new(fake.url())
        })
        .unwrap();
        Self { fake, _sink: sink, received, gateway, http: reqwest::Client::new() }
    }

    /// What a customer does in PortOne's window; the payment as answered.
    async fn customer(&self, path: &str, body: Value) -> Value {
        let answer = self
            .http
            .post(format!("{}{path}", self.fake.url()))
            .header("Authorization", format!("PortOne {TEST_API_SECRET}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        answer.json().await.unwrap()
    }

    async fn card_payment(&self, order: &str, amount: u64) -> VendorUid {
        let payment = self.customer(&format!("/internal/payments/{order}"), json!({"amount": amount})).await;
        VendorUid::parse(payment["id"].as_str().unwrap()).unwrap()
    }

    async fn raw(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.fake.url()))
            .header("Authorization", format!("PortOne {TEST_API_SECRET}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap_or(Value::Null))
    }

    /// Waits for at least `n` webhooks.
    async fn webhooks(&self, n: usize) -> Vec<(Vec<(String, String)>, Vec<u8>)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

const STORE: &str = "shop";

fn store() -> StoreId {
    StoreId::parse(STORE).unwrap()
}

fn money(text: &str) -> Money {
    text.parse().unwrap()
}

fn cancel(amount: &str, remaining: &str, key: &str) -> CancelRequest {
    CancelRequest {
        currency: payments_domain::Currency::krw(),
        amount: money(amount),
        reason: CancelReason::parse("customer asked").unwrap(),
        remaining: money(remaining),
        refund_account: None,
        idempotency_key: Some(key.to_owned()),
    }
}

/// The members `required` in each schema of the V2 OpenAPI document.
fn assert_documented_payment(payment: &Value) {
    let common = [
        "status",
        "id",
        "transactionId",
        "merchantId",
        "storeId",
        "version",
        "requestedAt",
        "updatedAt",
        "statusChangedAt",
        "orderName",
        "amount",
        "currency",
        "customer",
        "origin",
    ];
    let extra: &[&str] = match payment["status"].as_str().unwrap() {
        "PAID" => &["channel", "paidAt", "disputes"],
        "PARTIAL_CANCELLED" | "CANCELLED" => &["channel", "cancellations", "cancelledAt"],
        "VIRTUAL_ACCOUNT_ISSUED" => &["channel"],
        other => panic!("a status the fake does not make: {other}"),
    };
    for member in common.iter().chain(extra) {
        assert!(!payment[member].is_null(), "{member} is required: {payment}");
    }
    for member in ["total", "taxFree", "discount", "paid", "cancelled", "cancelledTaxFree"] {
        assert!(payment["amount"][member].is_i64(), "amount.{member}: {payment}");
    }
    for cancellation in payment["cancellations"].as_array().into_iter().flatten() {
        for member in ["status", "id", "totalAmount", "taxFreeAmount", "vatAmount", "reason", "requestedAt"] {
            assert!(!cancellation[member].is_null(), "cancellations[].{member}: {cancellation}");
        }
    }
    if payment["method"]["type"] == "PaymentMethodCard" {
        let number = payment["method"]["card"]["number"].as_str().unwrap();
        assert!(number.contains('*'), "a card number is masked: {number}");
    }
}

#[tokio::test]
async fn a_card_payment_is_read_cancelled_in_part_then_whole_and_each_refusal_is_typed() {
    let f = Fixture::start().await;
    let uid = f.card_payment("order-card", 10_000).await;
    let read = f.gateway.fetch_payment(&store(), &uid).await.unwrap();
    assert_eq!(
        (read.phase, read.price, read.order_id.as_ref().map(OrderId::as_str)),
        (PaymentPhase::Paid, money("10000"), Some("order-card"))
    );
    assert_documented_payment(&read.data);

    let part =
        f.gateway.cancel_payment(&store(), &uid, &cancel("3000", "10000", "cancel-key-0000000001")).await.unwrap();
    assert_eq!((part.pg_status.as_str(), part.remaining()), ("PARTIAL_CANCELLED", Some(money("7000"))));
    assert_documented_payment(&part.data);
    // The same cancel again with the same key: PortOne answers the first
    // answer; nothing is refunded twice.
    let again =
        f.gateway.cancel_payment(&store(), &uid, &cancel("3000", "10000", "cancel-key-0000000001")).await.unwrap();
    assert_eq!((again.cancels.len(), again.remaining()), (1, Some(money("7000"))));
    // A cancel computed on a stale balance, and one over the balance.
    let stale = f.gateway.cancel_payment(&store(), &uid, &cancel("1000", "10000", "cancel-key-0000000002")).await;
    assert!(matches!(stale, Err(GatewayError::BalanceMismatch(_))), "{stale:?}");
    let over = f.gateway.cancel_payment(&store(), &uid, &cancel("8000", "7000", "cancel-key-0000000003")).await;
    assert!(
        matches!(&over, Err(GatewayError::Rejected(m)) if m.contains("CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT")),
        "{over:?}"
    );
    let whole =
        f.gateway.cancel_payment(&store(), &uid, &cancel("7000", "7000", "cancel-key-0000000004")).await.unwrap();
    assert_eq!((whole.phase, whole.cancels.len(), whole.remaining()), (PaymentPhase::Cancelled, 2, Some(money("0"))));
    assert_documented_payment(&whole.data);
    let after = f.gateway.cancel_payment(&store(), &uid, &cancel("1", "0", "cancel-key-0000000005")).await;
    assert!(matches!(&after, Err(GatewayError::Rejected(m)) if m.contains("PAYMENT_ALREADY_CANCELLED")), "{after:?}");

    let missing = VendorUid::parse("no-such-order").unwrap();
    assert!(matches!(f.gateway.fetch_payment(&store(), &missing).await, Err(GatewayError::NotFound(_))));
    assert!(f.gateway.find_by_order(&store(), &OrderId::parse("no-such-order").unwrap()).await.unwrap().is_none());
    let unknown = StoreId::parse("not-configured").unwrap();
    assert!(matches!(f.gateway.fetch_payment(&unknown, &uid).await, Err(GatewayError::UnknownStore { .. })));
}

#[tokio::test]
async fn a_wrong_secret_or_store_is_our_configuration_not_the_callers() {
    let f = Fixture::start().await;
    let uid = f.card_payment("order-auth", 1000).await;
    for store in [PortOneStore::new("wrong-secret"), PortOneStore::new(TEST_API_SECRET).with_store_id("store-other")] {
        let gateway = PortOneGateway::new(PortOneConfig {
            stores: Stores::default().with_default(store),
            ..PortOneConfig::new(f.fake.url())
        })
        .unwrap();
        let refused = gateway.fetch_payment(&crate::store(), &uid).await;
        assert!(matches!(refused, Err(GatewayError::Unavailable(_))), "{refused:?}");
    }
    let (status, body) = f.raw(reqwest::Method::POST, "/payments/order-auth/cancel", Some(json!({"amount": 1}))).await;
    assert_eq!((status, body["type"].as_str()), (400, Some("INVALID_REQUEST")), "reason is required: {body}");
}

#[tokio::test]
async fn a_virtual_account_is_paid_by_its_deposit_and_refunded_to_an_account() {
    let f = Fixture::start().await;
    let payment = f.customer("/internal/payments/order-va", json!({"method": "virtualAccount", "amount": 7000})).await;
    assert_documented_payment(&payment);
    let uid = VendorUid::parse("order-va").unwrap();
    let waiting = f.gateway.fetch_payment(&store(), &uid).await.unwrap();
    assert_eq!((waiting.phase, waiting.paid_at), (PaymentPhase::AwaitingDeposit, None));
    let unpaid = f.gateway.cancel_payment(&store(), &uid, &cancel("7000", "7000", "cancel-va-000000001")).await;
    assert!(matches!(&unpaid, Err(GatewayError::Rejected(m)) if m.contains("PAYMENT_NOT_PAID")), "{unpaid:?}");
    f.customer("/internal/payments/order-va/deposit", json!({})).await;
    let paid = f.gateway.fetch_payment(&store(), &uid).await.unwrap();
    assert!(paid.paid_at.is_some() && paid.phase == PaymentPhase::Paid);
    let no_account = f.gateway.cancel_payment(&store(), &uid, &cancel("7000", "7000", "cancel-va-000000002")).await;
    assert!(matches!(&no_account, Err(GatewayError::Rejected(m)) if m.ends_with("INVALID_REQUEST")), "{no_account:?}");
    let mut refund = cancel("7000", "7000", "cancel-va-000000003");
    refund.refund_account = Some(RefundAccount {
        bank: "088".into(),
        account: "110123456789".into(),
        holder: "Holder".into(),
        mobile: "01012345678".into(),
    });
    let refunded = f.gateway.cancel_payment(&store(), &uid, &refund).await.unwrap();
    assert_eq!(refunded.phase, PaymentPhase::Cancelled);
    refund.refund_account.as_mut().unwrap().bank = "999".into();
    let unknown_bank = f.gateway.cancel_payment(&store(), &uid, &refund).await;
    assert!(matches!(&unknown_bank, Err(GatewayError::Rejected(m)) if m.contains("bank")), "{unknown_bank:?}");
}

#[tokio::test]
async fn a_billing_key_is_read_for_its_customer_charged_once_and_deleted() {
    let f = Fixture::start().await;
    let info = f.customer("/internal/billing-keys", json!({"customerId": "customer-1"})).await;
    let key = VendorUid::parse(info["billingKey"].as_str().unwrap()).unwrap();
    assert!(info["methods"][0]["card"]["number"].as_str().unwrap().contains('*'), "masked: {info}");
    let saved = f.gateway.fetch_saved_card(&store(), &key, &SourceId::parse("customer-1").unwrap()).await.unwrap();
    assert_eq!(saved.key, key.as_str());
    let stranger = f.gateway.fetch_saved_card(&store(), &key, &SourceId::parse("customer-2").unwrap()).await;
    assert!(matches!(stranger, Err(GatewayError::Rejected(_))), "another customer's card");

    let charge = ChargeRequest {
        currency: payments_domain::Currency::krw(),
        order_id: OrderId::parse("order-charge").unwrap(),
        order_name: Title::parse("a monthly box").unwrap(),
        amount: money("8900"),
        customer: SourceId::parse("customer-1").unwrap(),
        idempotency_key: "charge-key-00000000001".into(),
    };
    let charged = f.gateway.charge_saved_card(&store(), &key, &saved.data, &charge).await.unwrap();
    assert_eq!(
        (charged.uid.as_str(), charged.snapshot.phase, charged.snapshot.price),
        ("order-charge", PaymentPhase::Paid, money("8900"))
    );
    assert_eq!(charged.snapshot.data["billingKey"], key.as_str());
    assert_eq!(charged.snapshot.remaining(), Some(money("8900")), "paid whole: {}", charged.snapshot.data);
    assert_documented_payment(&charged.snapshot.data);
    // A retry with its key is answered the first answer; another key for the
    // same order is PortOne's ALREADY_PAID.
    let retried = f.gateway.charge_saved_card(&store(), &key, &saved.data, &charge).await.unwrap();
    assert_eq!(retried.snapshot.data["transactionId"], charged.snapshot.data["transactionId"]);
    let other_key = ChargeRequest { idempotency_key: "charge-key-00000000002".into(), ..charge.clone() };
    let twice = f.gateway.charge_saved_card(&store(), &key, &saved.data, &other_key).await;
    assert!(matches!(&twice, Err(GatewayError::Rejected(m)) if m.contains("ALREADY_PAID")), "{twice:?}");

    let removed = f.gateway.remove_saved_card(&store(), &key, &saved.data).await.unwrap();
    assert_eq!((removed["status"].as_str(), removed["deletedAt"].is_string()), (Some("DELETED"), true));
    assert!(f.gateway.remove_saved_card(&store(), &key, &saved.data).await.is_ok(), "deleted already: still removed");
    let after = ChargeRequest {
        order_id: OrderId::parse("order-after").unwrap(),
        idempotency_key: "charge-key-00000000003".into(),
        ..other_key
    };
    assert!(matches!(
        f.gateway.charge_saved_card(&store(), &key, &saved.data, &after).await,
        Err(GatewayError::NotFound(_))
    ));
}

#[tokio::test]
async fn the_fakes_webhooks_are_signed_documented_and_read_as_re_reads() {
    let f = Fixture::start().await;
    let uid = f.card_payment("order-hook", 5000).await;
    f.gateway.cancel_payment(&store(), &uid, &cancel("1000", "5000", "cancel-hook-00000001")).await.unwrap();
    let received = f.webhooks(2).await;
    let reader = PortOneNotifications::new(vec![WebhookKey {
        store_id: Some(TEST_STORE_ID.into()),
        secret: SecretString::from(TEST_WEBHOOK_SECRET.to_owned()),
    }]);
    let strangers = PortOneNotifications::new(vec![WebhookKey {
        store_id: None,
        secret: SecretString::from("whsec_YW5vdGhlci1zdG9yZXMtd2ViaG9vay1zZWNyZXQ=".to_owned()),
    }]);
    let mut types = Vec::new();
    for (headers, body) in &received {
        let raw = RawNotification { headers, body };
        reader.authenticate(&raw).unwrap();
        assert!(strangers.authenticate(&raw).is_err(), "signed under the fake's secret only");
        let value: Value = serde_json::from_slice(body).unwrap();
        assert!(value["timestamp"].is_string() && value["data"]["storeId"] == TEST_STORE_ID, "{value}");
        assert_eq!(value["data"]["paymentId"], "order-hook");
        types.push(value["type"].as_str().unwrap().to_owned());
        assert!(reader.read(&value).is_ok());
    }
    assert_eq!(types, vec!["Transaction.Paid", "Transaction.PartialCancelled"]);
    let cancelled: Value = serde_json::from_slice(&received[1].1).unwrap();
    let read = f.gateway.fetch_payment(&store(), &uid).await.unwrap();
    assert_eq!(cancelled["data"]["cancellationId"], read.data["cancellations"][0]["id"]);
}

fn lock(order: &str, amount: &str, currency: &str) -> OrderLockRequest {
    OrderLockRequest {
        order_id: OrderId::parse(order).unwrap(),
        amount: money(amount),
        currency: Currency::parse(currency).unwrap(),
    }
}

fn locked(pg_amount: u64) -> OrderLock {
    OrderLock { locked: true, pg_amount: pg_amount.into() }
}

/// The window (`POST /internal/payments/{paymentId}`): its status and answer.
async fn window(f: &Fixture, order: &str, body: Value) -> (u16, Value) {
    f.raw(reqwest::Method::POST, &format!("/internal/payments/{order}"), Some(body)).await
}

/// Pre-register locks an order; the same amount again is taken, another
/// moves the lock; the window refuses any other amount (charging and
/// recording nothing, sending no webhook) and pays the locked one, with its
/// webhook; once paid, the order cannot be locked again (`ALREADY_PAID`).
#[tokio::test]
async fn an_order_is_locked_locked_again_moved_and_its_window_pays_only_the_locked_amount() {
    let f = Fixture::start().await;
    let order = lock("order-lock", "10000", "KRW");
    assert_eq!(f.gateway.lock_order(&store(), &order).await.unwrap(), locked(10_000));
    assert_eq!(f.gateway.lock_order(&store(), &order).await.unwrap(), locked(10_000), "the same amount again");
    let moved = lock("order-lock", "12000", "KRW");
    assert_eq!(f.gateway.lock_order(&store(), &moved).await.unwrap(), locked(12_000), "moved to another amount");

    for (amount, currency) in [(10_000, "KRW"), (12_001, "KRW"), (12_000, "JPY")] {
        let (status, refused) = window(&f, "order-lock", json!({"amount": amount, "currency": currency})).await;
        assert_eq!((status, refused["code"].as_str()), (409, Some("AmountNotEqualToPredefined")), "{refused}");
        assert_eq!(
            (refused["transactionType"].as_str(), refused["paymentId"].as_str()),
            (Some("PAYMENT"), Some("order-lock"))
        );
    }
    let nothing = f.gateway.find_by_order(&store(), &OrderId::parse("order-lock").unwrap()).await.unwrap();
    assert!(nothing.is_none(), "a refused window records no payment: {nothing:?}");

    let (status, payment) = window(&f, "order-lock", json!({"amount": 12_000})).await;
    assert_eq!((status, payment["status"].as_str()), (200, Some("PAID")), "{payment}");
    assert_documented_payment(&payment);
    let read = f.gateway.fetch_payment(&store(), &VendorUid::parse("order-lock").unwrap()).await.unwrap();
    assert_eq!((read.phase, read.price), (PaymentPhase::Paid, money("12000")));
    let received = f.webhooks(1).await;
    let hooks: Vec<Value> = received.iter().map(|(_, body)| serde_json::from_slice(body).unwrap()).collect();
    assert_eq!(hooks.len(), 1, "only the paid window sent a webhook: {hooks:?}");
    assert_eq!(
        (hooks[0]["type"].as_str(), hooks[0]["data"]["paymentId"].as_str()),
        (Some("Transaction.Paid"), Some("order-lock"))
    );

    let paid = f.gateway.lock_order(&store(), &moved).await.unwrap_err();
    assert!(matches!(&paid, GatewayError::Rejected(_)), "{paid:?}");
    assert_eq!(paid.documented_code(), Some("ALREADY_PAID"), "{paid}");
    assert_eq!(
        paid.to_string(),
        "refused by the PG: PortOne POST /payments/order-lock/pre-register answered 409 ALREADY_PAID"
    );

    // An order never locked pays as it always did.
    let (status, free) = window(&f, "order-free", json!({"amount": 3_000})).await;
    assert_eq!((status, free["status"].as_str()), (200, Some("PAID")), "{free}");
}

/// PortOne counts every amount in the currency's minor unit: 10.50 USD is
/// locked as `totalAmount` 1050 (with its `currency`), and the window takes
/// 1050 USD; a fraction of a cent is refused before anything is sent.
#[tokio::test]
async fn amounts_are_locked_in_the_currencys_minor_unit() {
    let f = Fixture::start().await;
    let usd = lock("order-usd", "10.50", "USD");
    assert_eq!(f.gateway.lock_order(&store(), &usd).await.unwrap(), locked(1050));
    let jpy = lock("order-jpy", "1000", "JPY");
    assert_eq!(f.gateway.lock_order(&store(), &jpy).await.unwrap(), locked(1000));
    let (status, _) = window(&f, "order-usd", json!({"amount": 1050, "currency": "KRW"})).await;
    assert_eq!(status, 409, "another currency is another amount");
    let (status, _) = window(&f, "order-usd", json!({"amount": 10, "currency": "USD"})).await;
    assert_eq!(status, 409, "10 is ten cents, not the locked 1050");
    let (status, payment) = window(&f, "order-usd", json!({"amount": 1050, "currency": "USD"})).await;
    assert_eq!((status, payment["amount"]["total"].as_i64()), (200, Some(1050)), "{payment}");
    let read = f.gateway.fetch_payment(&store(), &VendorUid::parse("order-usd").unwrap()).await.unwrap();
    assert_eq!((read.price, read.currency.as_str()), (money("10.5"), "USD"));

    let fraction = f.gateway.lock_order(&store(), &lock("order-cent", "10.505", "USD")).await.unwrap_err();
    assert!(matches!(fraction, GatewayError::Unrepresentable(_)), "{fraction:?}");
    let (status, _) = window(&f, "order-cent", json!({"amount": 1})).await;
    assert_eq!(status, 200, "nothing was locked for it");
}

/// The fake's window and pre-register refuse hostile bodies with a 400 and a
/// message, as PortOne answers `INVALID_REQUEST`.
#[tokio::test]
async fn bad_bodies_are_refused_with_a_message() {
    let f = Fixture::start().await;
    for (path, body) in [
        ("/internal/payments/order-bad", json!({"amount": "1000"})),
        ("/internal/payments/order-bad", json!({"amount": 1000, "method": "cash"})),
        ("/internal/payments/order-bad", json!({"amount": 1000, "taxFreeAmount": 1001})),
        ("/internal/payments/order-bad", json!({"amount": 1000, "amout": 1})),
        ("/internal/payments/order-bad", json!([1000])),
        ("/payments/order-bad/pre-register", json!({"totalAmount": 10.5})),
        ("/payments/order-bad/pre-register", json!({"totalAmount": -1})),
        ("/payments/order-bad/pre-register", json!({"totalAmount": 10, "taxFreeAmount": 11})),
        ("/payments/order-bad/pre-register", json!({"totalAmount": 10, "currency": "krw"})),
        ("/payments/order-bad/pre-register", json!({"totalAmount": 10, "storeId": 7})),
        ("/payments/order-bad/pre-register", json!("10")),
    ] {
        let (status, refused) = f.raw(reqwest::Method::POST, path, Some(body.clone())).await;
        assert_eq!((status, refused["type"].as_str()), (400, Some("INVALID_REQUEST")), "{path} {body}: {refused}");
        assert!(refused["message"].as_str().is_some_and(|m| !m.is_empty()), "{refused}");
    }
    let nothing = f.gateway.find_by_order(&store(), &OrderId::parse("order-bad").unwrap()).await.unwrap();
    assert!(nothing.is_none());
}
