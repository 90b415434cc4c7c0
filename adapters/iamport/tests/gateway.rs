//! The Iamport client against the fake Iamport over real HTTP on 127.0.0.1.

mod support;

use std::sync::Arc;
use std::time::Duration;

use payments_application::ports::{CancelRequest, GatewayError, PaymentGateway, RefundAccount};
use payments_domain::{CancelReason, Money, SourceId, StoreId, VendorUid};
use payments_iamport::fake::{FakeIamportConfig, TEST_IMP_KEY, TEST_IMP_SECRET};
use payments_iamport::{IamportConfig, IamportCredentials, IamportGateway};
use reqwest::Method;
use serde_json::{Value, json};
use support::{STORE, WAIT, config_for, fake, gateway_for, local, receiver};

fn store() -> StoreId {
    StoreId::parse(STORE).unwrap()
}

fn uid(value: &serde_json::Value) -> VendorUid {
    VendorUid::parse(value["imp_uid"].as_str().unwrap()).unwrap()
}

fn money(text: &str) -> Money {
    text.parse().unwrap()
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

#[tokio::test]
async fn concurrent_callers_share_one_cached_token() {
    let fake = fake(FakeIamportConfig::default()).await;
    let payment = fake.card_payment(1000).await;
    let before = fake.fake.tokens_issued();
    let gateway = Arc::new(fake.gateway());
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (gateway, uid) = (gateway.clone(), uid(&payment));
        calls.spawn(async move { gateway.fetch_payment(&store(), &uid).await });
    }
    while let Some(result) = calls.join_next().await {
        assert_eq!(result.unwrap().unwrap().price, money("1000"));
    }
    for _ in 0..3 {
        gateway.fetch_payment(&store(), &uid(&payment)).await.unwrap();
    }
    assert_eq!(fake.fake.tokens_issued() - before, 1, "one token for every call");
}

#[tokio::test]
async fn a_token_is_refreshed_before_it_expires() {
    // Tokens live 30 s; with a 60 s margin every call needs a fresh one, with a
    // 10 s margin the first one serves them all.
    let fake = fake(FakeIamportConfig { token_ttl: Duration::from_secs(30), ..FakeIamportConfig::default() }).await;
    let payment = fake.card_payment(1000).await;
    let before = fake.fake.tokens_issued();
    let eager = fake.gateway();
    for _ in 0..3 {
        eager.fetch_payment(&store(), &uid(&payment)).await.unwrap();
    }
    assert_eq!(fake.fake.tokens_issued() - before, 3);

    let mut config = config_for(&fake.url());
    config.token_refresh_margin = Duration::from_secs(10);
    let relaxed = IamportGateway::new(config).unwrap();
    let before = fake.fake.tokens_issued();
    for _ in 0..3 {
        relaxed.fetch_payment(&store(), &uid(&payment)).await.unwrap();
    }
    assert_eq!(fake.fake.tokens_issued() - before, 1);
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_and_the_call_retried() {
    let fake = fake(FakeIamportConfig::default()).await;
    let payment = fake.card_payment(1000).await;
    let gateway = fake.gateway();
    gateway.fetch_payment(&store(), &uid(&payment)).await.unwrap();
    let before = fake.fake.tokens_issued();
    fake.fake.revoke_tokens();
    gateway.fetch_payment(&store(), &uid(&payment)).await.unwrap();
    assert_eq!(fake.fake.tokens_issued() - before, 1);
}

#[tokio::test]
async fn reads_a_payment_into_a_snapshot_keeping_the_pg_json_whole() {
    let fake = fake(FakeIamportConfig::default()).await;
    let payment = fake.card_payment(19_900).await;
    let snapshot = fake.gateway().fetch_payment(&store(), &uid(&payment)).await.unwrap();
    assert_eq!(snapshot.price, money("19900"));
    assert_eq!(snapshot.currency.as_str(), "KRW");
    assert_eq!(snapshot.paid_at.map(|t| t.timestamp()), payment["paid_at"].as_i64());
    assert_eq!(snapshot.cancelled_at, None);
    assert!(snapshot.cancels.is_empty());
    assert_eq!(snapshot.data, payment, "data is the PG's JSON unchanged");
    assert_eq!(snapshot.data["card_number"], "123456******5678", "masked, as Iamport answers it");
}

#[tokio::test]
async fn partial_cancels_until_the_balance_is_zero_then_refused() {
    let fake = fake(FakeIamportConfig::default()).await;
    let payment = fake.card_payment(10_000).await;
    let gateway = fake.gateway();
    let after = gateway.cancel_payment(&store(), &uid(&payment), &cancel("3000", "10000")).await.unwrap();
    assert_eq!(after.cancels.len(), 1);
    assert_eq!(after.data["status"], "paid", "a partial cancel leaves the payment paid");
    assert!(after.cancelled_at.is_some());
    let after = gateway.cancel_payment(&store(), &uid(&payment), &cancel("2500", "7000")).await.unwrap();
    assert_eq!(after.cancels.len(), 2);
    assert_eq!(after.cancels[1].price, money("2500"), "amounts stay exact");
    let error = gateway.cancel_payment(&store(), &uid(&payment), &cancel("5000", "4500")).await.unwrap_err();
    assert!(matches!(error, GatewayError::Rejected(_)), "{error:?}");
    let error = gateway.cancel_payment(&store(), &uid(&payment), &cancel("4000", "5000")).await.unwrap_err();
    assert!(
        matches!(error, GatewayError::BalanceMismatch(ref m) if m.ends_with("/payments/cancel answered 200 with a refusal")),
        "a stale checksum is told from other refusals: {error:?}"
    );
    let after = gateway.cancel_payment(&store(), &uid(&payment), &cancel("4500", "4500")).await.unwrap();
    assert_eq!(after.data["status"], "cancelled");
    assert_eq!(after.cancels.len(), 3);
    let refunded = Money::sum(after.cancels.iter().map(|c| &c.price)).unwrap();
    assert_eq!(refunded, after.price);
    let mut keys: Vec<_> = after.cancels.iter().map(|c| c.key.clone()).collect();
    keys.dedup();
    assert_eq!(keys.len(), 3, "every cancel has its own key");
    assert_eq!(after.cancels[0].reason.as_str(), "customer asked");
    assert_eq!(after.cancels[0].data, after.data["cancel_history"][0]);

    let error = gateway.cancel_payment(&store(), &uid(&payment), &cancel("1", "0")).await.unwrap_err();
    assert!(matches!(error, GatewayError::Rejected(_)), "{error:?}");
    // The refusals changed nothing.
    let read = gateway.fetch_payment(&store(), &uid(&payment)).await.unwrap();
    assert_eq!(read.cancels.len(), 3);
    assert_eq!(read.data["cancel_amount"], json!(10000));
}

#[tokio::test]
async fn a_virtual_account_deposit_sends_webhooks_and_its_cancel_needs_a_refund_account() {
    let mut hooks = receiver().await;
    let fake = fake(FakeIamportConfig::default().with_webhook_url(hooks.url())).await;
    let payment = fake.vbank(50_000, None).await;
    let issued = hooks.next().await;
    assert_eq!(
        issued,
        json!({"imp_uid": payment["imp_uid"], "merchant_uid": payment["merchant_uid"], "status": "ready"})
    );

    let gateway = fake.gateway();
    let ready = gateway.fetch_payment(&store(), &uid(&payment)).await.unwrap();
    assert_eq!(ready.paid_at, None);
    assert_eq!(ready.data["status"], "ready");
    let error = gateway.cancel_payment(&store(), &uid(&payment), &cancel("1000", "50000")).await.unwrap_err();
    assert!(matches!(error, GatewayError::Rejected(_)), "cannot refund an unpaid account: {error:?}");

    let path = format!("/internal/deposit/{}", payment["imp_uid"].as_str().unwrap());
    let deposit = fake.call(Method::PUT, &path, None).await;
    assert_eq!(deposit.status, 200, "{}", deposit.body);
    let paid = hooks.next().await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["imp_uid"], payment["imp_uid"]);
    let again = fake.call(Method::PUT, &path, None).await;
    assert_eq!(again.status, 422, "a second deposit is refused: {}", again.body);

    let snapshot = gateway.fetch_payment(&store(), &uid(&payment)).await.unwrap();
    assert!(snapshot.paid_at.is_some());

    let error = gateway.cancel_payment(&store(), &uid(&payment), &cancel("10000", "50000")).await.unwrap_err();
    // Iamport's words (which field is missing) are logged, not answered.
    assert!(matches!(error, GatewayError::Rejected(ref m) if m.ends_with("answered 200 with a refusal")), "{error:?}");
    let mut request = cancel("10000", "50000");
    request.refund_account = Some(RefundAccount {
        bank: "088".into(),
        account: "110-123-456789".into(),
        holder: "Holder".into(),
        mobile: "010-1234-5678".into(),
    });
    let after = gateway.cancel_payment(&store(), &uid(&payment), &request).await.unwrap();
    assert_eq!(after.cancels.len(), 1);
    let cancelled = hooks.next().await;
    assert_eq!(cancelled["imp_uid"], payment["imp_uid"]);
}

#[tokio::test]
async fn a_payment_notice_url_takes_the_webhook_instead_of_the_default() {
    let mut default = receiver().await;
    let mut own = receiver().await;
    let fake = fake(FakeIamportConfig::default().with_webhook_url(default.url())).await;
    let payment = fake.vbank(1000, Some(&own.url())).await;
    assert_eq!(own.next().await["imp_uid"], payment["imp_uid"]);
    let other = fake.vbank(1000, None).await;
    assert_eq!(default.next().await["imp_uid"], other["imp_uid"], "the first webhook at the default is the other's");
}

#[tokio::test]
async fn reads_a_saved_card() {
    let fake = fake(FakeIamportConfig::default()).await;
    let created = fake
        .call(
            Method::POST,
            "/subscribe/customers/customer-1",
            Some(json!({"card_number": "1111-2222-3333-4444", "expiry": "2030-01", "birth": "900101",
                        "customer_name": "Kim", "customer_uid": "customer-1"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let gateway = fake.gateway();
    // Another record's card: refused before Iamport is asked.
    let stolen = gateway
        .fetch_saved_card(&store(), &VendorUid::parse("customer-1").unwrap(), &SourceId::parse("u1").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(&stolen, GatewayError::Rejected(why) if why.contains("source.id")), "{stolen:?}");
    let card = gateway
        .fetch_saved_card(&store(), &VendorUid::parse("customer-1").unwrap(), &SourceId::parse("customer-1").unwrap())
        .await
        .unwrap();
    assert_eq!(card.key, "customer-1", "Iamport charges a saved card by its customer_uid");
    assert_eq!(card.data, created.body["response"]);
    assert_eq!(card.data["customer_uid"], "customer-1");
    assert!(!card.data["card_number"].as_str().unwrap().contains("2222-3333"), "the card number is masked");

    let error = gateway
        .fetch_saved_card(&store(), &VendorUid::parse("nobody").unwrap(), &SourceId::parse("nobody").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, GatewayError::NotFound(_)), "{error:?}");
}

#[tokio::test]
async fn maps_pg_errors() {
    let fake = fake(FakeIamportConfig::default()).await;
    let gateway = fake.gateway();

    let error = gateway.fetch_payment(&store(), &VendorUid::parse("imp_000").unwrap()).await.unwrap_err();
    assert!(matches!(error, GatewayError::NotFound(_)), "{error:?}");
    let error = gateway.cancel_payment(&store(), &VendorUid::parse("imp_000").unwrap(), &cancel("1", "1")).await;
    assert!(matches!(error, Err(GatewayError::NotFound(_))), "{error:?}");

    let error = gateway
        .fetch_payment(&StoreId::parse("elsewhere").unwrap(), &VendorUid::parse("imp_1").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, GatewayError::UnknownStore { .. }), "{error:?}");

    // Default credentials serve every store id not listed.
    let with_default = IamportGateway::new(
        IamportConfig::new(fake.url()).with_default(IamportCredentials::new(TEST_IMP_KEY, TEST_IMP_SECRET)),
    )
    .unwrap();
    let error = with_default
        .fetch_payment(&StoreId::parse("elsewhere").unwrap(), &VendorUid::parse("imp_missing").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, GatewayError::NotFound(_)), "authenticated with the default pair: {error:?}");

    let wrong =
        IamportGateway::new(IamportConfig::new(fake.url()).with_store(STORE, IamportCredentials::new("k", "wrong")))
            .unwrap();
    let error = wrong.fetch_payment(&store(), &VendorUid::parse("imp_1").unwrap()).await.unwrap_err();
    assert!(matches!(error, GatewayError::Unavailable(ref m) if m.contains("credentials")), "{error:?}");
}

#[tokio::test]
async fn maps_transport_failures() {
    use poem::http::StatusCode;
    use poem::{Route, handler};

    #[handler]
    fn broken() -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }
    #[handler]
    fn gibberish() -> &'static str {
        "<html>not an envelope</html>"
    }

    let uid = VendorUid::parse("imp_1").unwrap();
    let down = payments_fakekit::serve(Route::new().at("/*path", broken), local()).await.unwrap();
    let error = gateway_for(&down.url()).fetch_payment(&store(), &uid).await.unwrap_err();
    assert!(matches!(error, GatewayError::Unavailable(_)), "{error:?}");

    let odd = payments_fakekit::serve(Route::new().at("/*path", gibberish), local()).await.unwrap();
    let error = gateway_for(&odd.url()).fetch_payment(&store(), &uid).await.unwrap_err();
    assert!(matches!(error, GatewayError::Protocol(_)), "{error:?}");

    let elsewhere = payments_fakekit::serve(Route::new(), local()).await.unwrap();
    let error = gateway_for(&elsewhere.url()).fetch_payment(&store(), &uid).await.unwrap_err();
    assert!(matches!(error, GatewayError::Protocol(_)), "a bare 404 is not Iamport's: {error:?}");

    // A listener that accepts and never answers.
    let silent = tokio::net::TcpListener::bind(local()).await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let slow = IamportGateway::new(config_for(&silent_url).with_timeout(Duration::from_millis(300))).unwrap();
    let started = std::time::Instant::now();
    let error = slow.fetch_payment(&store(), &uid).await.unwrap_err();
    assert!(matches!(error, GatewayError::Timeout(_)), "{error:?}");
    assert!(started.elapsed() < WAIT);
    holder.abort();

    // Nobody listens.
    let closed = std::net::TcpListener::bind(local()).unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let error = gateway_for(&closed_url).fetch_payment(&store(), &uid).await.unwrap_err();
    assert!(matches!(error, GatewayError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn the_fake_mounts_under_a_prefix_and_the_client_follows_a_base_path() {
    use payments_iamport::fake::FakeIamport;
    use poem::Route;

    let fake = FakeIamport::new(FakeIamportConfig::default());
    let server = payments_fakekit::serve(Route::new().nest("/iamport", fake.endpoint()), local()).await.unwrap();
    let gateway = gateway_for(&format!("{}/iamport/", server.url()));
    let error = gateway.fetch_payment(&store(), &VendorUid::parse("imp_404").unwrap()).await.unwrap_err();
    assert!(matches!(error, GatewayError::NotFound(_)), "{error:?}");
    assert_eq!(fake.tokens_issued(), 1);
}

/// What Iamport writes of a failure (its envelope's message, an error page,
/// an answer that is no envelope: a forged log line with an escape sequence
/// in each) never reaches a gateway error, so never an answer of ours: the
/// error names the call and its status.
#[tokio::test]
async fn iamport_text_never_reaches_an_error() {
    use poem::web::Path;
    use poem::{EndpointExt, Response, Route, get, handler, post};
    const FORGED: &str = "\n2026-01-01T00:00:00.000000Z  INFO request: method=PUT status=200\u{1b}[2K";
    #[handler]
    fn token() -> Response {
        let body = json!({"code": 0, "message": null,
                          "response": {"access_token": "t", "now": 1_700_000_000, "expired_at": 1_700_003_600}});
        Response::builder().content_type("application/json").body(body.to_string())
    }
    #[handler]
    fn payment(Path(uid): Path<String>) -> Response {
        let envelope = |code: i64| json!({"code": code, "message": FORGED, "response": null}).to_string();
        let (status, body) = match uid.as_str() {
            "refused" => (200, envelope(-1)),
            "not-found" => (404, envelope(1)),
            "down" => (500, envelope(-1)),
            "page" => (502, format!("<html>{FORGED}</html>")),
            _ => (200, format!("not an envelope {FORGED}")),
        };
        Response::builder().status(poem::http::StatusCode::from_u16(status).unwrap()).body(body)
    }
    let routes = Route::new().at("/users/getToken", post(token)).at("/payments/:uid", get(payment));
    let server = payments_fakekit::serve(routes.boxed(), local()).await.unwrap();
    let gateway = gateway_for(&server.url());
    for (uid, expected) in [
        ("refused", "refused by the PG: Iamport GET /payments/refused answered 200 with a refusal"),
        ("not-found", "not found at the PG: Iamport GET /payments/not-found answered 404"),
        ("down", "the PG failed: Iamport GET /payments/down answered 500"),
        ("page", "the PG failed: Iamport GET /payments/page answered 502"),
        ("odd", "unexpected answer from the PG: Iamport GET /payments/odd answered 200: not an Iamport envelope"),
    ] {
        let error = gateway.fetch_payment(&store(), &VendorUid::parse(uid).unwrap()).await.unwrap_err();
        assert_eq!(error.to_string(), expected, "{uid}");
    }
    server.stop().await.unwrap();
}

/// `POST /subscribe/payments/again` answered with a non-zero `code` (here:
/// the order is already paid, as a resend after a lost answer meets) is not
/// taken as a refusal on its word: the order is looked up, and a paid payment
/// of it is this charge. A declined card (code 0, status `failed`) stays a
/// refusal.
#[tokio::test]
async fn a_charge_answered_with_a_non_zero_code_is_decided_by_its_order() {
    let fake = fake(FakeIamportConfig::default()).await;
    for (customer, number) in [("customer-a", "1111-2222-3333-4444"), ("customer-d", "4000-0000-0000-0002")] {
        let created = fake
            .call(
                Method::POST,
                &format!("/subscribe/customers/{customer}"),
                Some(json!({"card_number": number, "expiry": "2030-01", "birth": "900101"})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
    }
    let gateway = fake.gateway();
    let charge = |order: &str, customer: &str| payments_application::ports::ChargeRequest {
        order_id: payments_domain::OrderId::parse(order).unwrap(),
        amount: money("3000"),
        currency: payments_domain::Currency::krw(),
        order_name: payments_domain::Title::parse("monthly").unwrap(),
        customer: SourceId::parse(customer).unwrap(),
        idempotency_key: format!("key-{order}"),
    };
    let card = VendorUid::parse("customer-a").unwrap();
    let first = gateway.charge_saved_card(&store(), &card, &json!({}), &charge("order-a", "customer-a")).await.unwrap();
    assert_eq!(first.snapshot.phase, payments_domain::PaymentPhase::Paid);
    // Sent again (its first answer lost): Iamport refuses it (code 1, "already paid").
    let again = fake
        .call(
            Method::POST,
            "/subscribe/payments/again",
            Some(json!({"customer_uid": "customer-a", "merchant_uid": "order-a", "amount": 3000, "name": "monthly"})),
        )
        .await;
    assert_ne!(again.body["code"], 0, "the fake refuses a paid order: {}", again.body);
    let resent =
        gateway.charge_saved_card(&store(), &card, &json!({}), &charge("order-a", "customer-a")).await.unwrap();
    assert_eq!(resent.uid, first.uid, "the order's paid payment: this charge, not a refusal");

    let declined = VendorUid::parse("customer-d").unwrap();
    let refused =
        gateway.charge_saved_card(&store(), &declined, &json!({}), &charge("order-d", "customer-d")).await.unwrap_err();
    assert!(matches!(refused, GatewayError::Rejected(_)), "{refused:?}");
}

fn lock(order: &str, amount: &str, currency: &str) -> payments_application::ports::OrderLockRequest {
    payments_application::ports::OrderLockRequest {
        order_id: payments_domain::OrderId::parse(order).unwrap(),
        amount: money(amount),
        currency: payments_domain::Currency::parse(currency).unwrap(),
    }
}

fn locked(pg_amount: &str) -> payments_application::ports::OrderLock {
    payments_application::ports::OrderLock { locked: true, pg_amount: serde_json::from_str(pg_amount).unwrap() }
}

fn order(text: &str) -> payments_domain::OrderId {
    payments_domain::OrderId::parse(text).unwrap()
}

/// `POST /payments/prepare` locks an order; the same amount again is taken
/// (Iamport refuses a second POST, and what it holds is the amount asked);
/// another amount moves the lock (`PUT /payments/prepare`). The window then
/// refuses any other amount or currency (charging and recording nothing,
/// sending no webhook) and pays the prepared one, sending `paid`.
#[tokio::test]
async fn an_order_is_prepared_again_moved_and_its_window_pays_only_the_prepared_amount() {
    let mut hooks = receiver().await;
    let fake = fake(FakeIamportConfig::default().with_webhook_url(hooks.url())).await;
    let gateway = fake.gateway();
    let first = lock("order-lock", "10000", "KRW");
    assert_eq!(gateway.lock_order(&store(), &first).await.unwrap(), locked("10000"));
    assert_eq!(gateway.lock_order(&store(), &first).await.unwrap(), locked("10000"), "the same amount again");
    let held = fake.call(Method::GET, "/payments/prepare/order-lock", None).await;
    assert_eq!(held.body["response"], json!({"merchant_uid": "order-lock", "amount": 10000, "currency": "KRW"}));
    let moved = lock("order-lock", "12000", "KRW");
    assert_eq!(gateway.lock_order(&store(), &moved).await.unwrap(), locked("12000"), "moved to another amount");
    let held = fake.call(Method::GET, "/payments/prepare/order-lock", None).await;
    assert_eq!(held.body["response"]["amount"], json!(12000));

    for (amount, currency) in [(json!(10000), "KRW"), (json!(12001), "KRW"), (json!(12000), "JPY")] {
        let body = json!({"merchant_uid": "order-lock", "amount": amount, "currency": currency});
        let refused = fake.call(Method::POST, "/internal/payments", Some(body)).await;
        assert_eq!(refused.status, 409, "{}", refused.body);
        assert_eq!(
            (&refused.body["success"], &refused.body["imp_uid"], &refused.body["merchant_uid"]),
            (&json!(false), &json!(null), &json!("order-lock"))
        );
        assert!(refused.body["error_msg"].as_str().is_some_and(|m| !m.is_empty()), "{}", refused.body);
    }
    assert_eq!(fake.fake.payment_count(), 0, "a refused window records nothing");
    assert!(gateway.find_by_order(&store(), &order("order-lock")).await.unwrap().is_none());

    let body = json!({"merchant_uid": "order-lock", "amount": 12000, "name": "a locked order"});
    let paid = fake.call(Method::POST, "/internal/payments", Some(body)).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!((&paid.body["success"], &paid.body["status"]), (&json!(true), &json!("paid")), "{}", paid.body);
    assert_eq!(paid.body["paid_amount"], json!(12000));
    let hook = hooks.next().await;
    assert_eq!(hook, json!({"imp_uid": paid.body["imp_uid"], "merchant_uid": "order-lock", "status": "paid"}));
    let found = gateway.find_by_order(&store(), &order("order-lock")).await.unwrap().expect("the paid payment");
    assert_eq!((found.uid.as_str(), found.snapshot.price), (paid.body["imp_uid"].as_str().unwrap(), money("12000")));
    assert_eq!(found.snapshot.phase, payments_domain::PaymentPhase::Paid);

    let again = fake
        .call(Method::POST, "/internal/payments", Some(json!({"merchant_uid": "order-lock", "amount": 12000})))
        .await;
    assert_eq!((again.status, &again.body["success"]), (409, &json!(false)), "paid already: {}", again.body);
    assert_eq!(fake.fake.payment_count(), 1);
}

/// The window's virtual account honours the prepared amount too, is issued
/// `ready` (its webhook) and paid by the deposit (`paid`); an order never
/// prepared pays as asked; and the API's own payment (`onetime`) is not
/// checked against a prepared amount, as Iamport documents the check for the
/// window only.
#[tokio::test]
async fn a_windows_virtual_account_and_an_unprepared_order_and_the_apis_payment() {
    let mut hooks = receiver().await;
    let fake = fake(FakeIamportConfig::default().with_webhook_url(hooks.url())).await;
    let gateway = fake.gateway();
    gateway.lock_order(&store(), &lock("order-vbank", "5000", "KRW")).await.unwrap();
    let vbank = |amount: u64| json!({"merchant_uid": "order-vbank", "amount": amount, "pay_method": "vbank"});
    assert_eq!(fake.call(Method::POST, "/internal/payments", Some(vbank(4000))).await.status, 409);
    let issued = fake.call(Method::POST, "/internal/payments", Some(vbank(5000))).await;
    assert_eq!((issued.status, &issued.body["status"]), (200, &json!("ready")), "{}", issued.body);
    assert!(issued.body["vbank_num"].is_string(), "{}", issued.body);
    assert_eq!(hooks.next().await["status"], "ready");
    let imp_uid = issued.body["imp_uid"].as_str().unwrap();
    assert_eq!(fake.call(Method::PUT, &format!("/internal/deposit/{imp_uid}"), None).await.status, 200);
    assert_eq!(hooks.next().await["status"], "paid");

    let free =
        fake.call(Method::POST, "/internal/payments", Some(json!({"merchant_uid": "order-free", "amount": 777}))).await;
    assert_eq!((free.status, &free.body["status"]), (200, &json!("paid")), "{}", free.body);
    assert_eq!(hooks.next().await["merchant_uid"], "order-free");

    gateway.lock_order(&store(), &lock("order-api", "1000", "KRW")).await.unwrap();
    let api = fake
        .call(
            Method::POST,
            "/subscribe/payments/onetime",
            Some(json!({"card_number": "1234-5678-1234-5678", "expiry": "2030-12", "birth": "900101",
                        "name": "by the API", "merchant_uid": "order-api", "amount": 2000})),
        )
        .await;
    assert_eq!((api.status, &api.body["response"]["status"]), (201, &json!("paid")), "{}", api.body);
}

/// Iamport writes amounts in the currency's major unit: 14.2 USD is locked
/// as `amount` 14.2 with its `currency`, and the window takes 14.2 USD; a
/// fraction of a cent, or a `merchant_uid` over the documented 40
/// characters, is refused before anything is sent.
#[tokio::test]
async fn amounts_are_prepared_in_the_currencys_major_unit() {
    let fake = fake(FakeIamportConfig::default()).await;
    let gateway = fake.gateway();
    assert_eq!(gateway.lock_order(&store(), &lock("order-usd", "14.20", "USD")).await.unwrap(), locked("14.2"));
    let held = fake.call(Method::GET, "/payments/prepare/order-usd", None).await;
    assert_eq!(held.body["response"], json!({"merchant_uid": "order-usd", "amount": 14.2, "currency": "USD"}));
    let body =
        |amount: Value, currency: &str| json!({"merchant_uid": "order-usd", "amount": amount, "currency": currency});
    assert_eq!(fake.call(Method::POST, "/internal/payments", Some(body(json!(1420), "USD"))).await.status, 409);
    let paid = fake.call(Method::POST, "/internal/payments", Some(body(json!(14.2), "USD"))).await;
    assert_eq!((paid.status, &paid.body["currency"]), (200, &json!("USD")), "{}", paid.body);
    let read = gateway.find_by_order(&store(), &order("order-usd")).await.unwrap().unwrap();
    assert_eq!((read.snapshot.price, read.snapshot.currency.as_str()), (money("14.2"), "USD"));

    let fraction = gateway.lock_order(&store(), &lock("order-cent", "14.205", "USD")).await.unwrap_err();
    assert!(matches!(fraction, GatewayError::Unrepresentable(_)), "{fraction:?}");
    let long = "o".repeat(41);
    let refused = gateway.lock_order(&store(), &lock(&long, "1000", "KRW")).await.unwrap_err();
    assert!(matches!(&refused, GatewayError::Rejected(m) if m.contains("40")), "{refused:?}");
    let nothing = fake.call(Method::GET, &format!("/payments/prepare/{long}"), None).await;
    assert_ne!(nothing.body["code"], 0, "nothing was sent: {}", nothing.body);
}

/// How the client reads Iamport's answers to a lock: a refused POST with
/// nothing prepared stays refused (the call and status named, Iamport's
/// words left out), an answer holding another amount than asked is a
/// protocol error, and Iamport failing is `Unavailable`.
#[tokio::test]
async fn a_refused_or_odd_prepare_is_mapped_without_iamports_words() {
    use poem::web::Path;
    use poem::{EndpointExt, Response, Route, get, handler, post};
    const FORGED: &str = "\n2026-01-01T00:00:00.000000Z  INFO forged\u{1b}[2K";
    fn envelope(code: i64, response: Value) -> Response {
        let body = json!({"code": code, "message": FORGED, "response": response});
        Response::builder().content_type("application/json").body(body.to_string())
    }
    #[handler]
    fn token() -> Response {
        envelope(0, json!({"access_token": "t", "now": 1_700_000_000, "expired_at": 1_700_003_600}))
    }
    #[handler]
    fn prepare(body: poem::web::Json<Value>) -> Response {
        match body["merchant_uid"].as_str() {
            Some("refused") => envelope(1, Value::Null),
            Some("down") => Response::builder().status(poem::http::StatusCode::BAD_GATEWAY).body(FORGED),
            _ => envelope(0, json!({"merchant_uid": body["merchant_uid"], "amount": 1, "currency": "KRW"})),
        }
    }
    #[handler]
    fn held(Path(_): Path<String>) -> Response {
        envelope(1, Value::Null)
    }
    let routes = Route::new()
        .at("/users/getToken", post(token))
        .at("/payments/prepare", post(prepare))
        .at("/payments/prepare/:merchant_uid", get(held));
    let server = payments_fakekit::serve(routes.boxed(), local()).await.unwrap();
    let gateway = gateway_for(&server.url());
    let refused = gateway.lock_order(&store(), &lock("refused", "1000", "KRW")).await.unwrap_err();
    assert_eq!(refused.to_string(), "refused by the PG: Iamport POST /payments/prepare answered 200 with a refusal");
    let odd = gateway.lock_order(&store(), &lock("odd", "1000", "KRW")).await.unwrap_err();
    assert_eq!(
        odd.to_string(),
        "unexpected answer from the PG: Iamport POST /payments/prepare: the amount prepared is not the one asked"
    );
    let down = gateway.lock_order(&store(), &lock("down", "1000", "KRW")).await.unwrap_err();
    assert!(matches!(&down, GatewayError::Unavailable(m) if !m.contains("forged")), "{down:?}");
    server.stop().await.unwrap();
}

/// The fake's prepare and window routes refuse hostile bodies with a 400
/// envelope and a message.
#[tokio::test]
async fn the_fakes_prepare_and_window_refuse_bad_bodies_with_a_message() {
    let fake = fake(FakeIamportConfig::default()).await;
    let long = "m".repeat(41);
    for (method, path, body) in [
        (Method::POST, "/payments/prepare", json!({"merchant_uid": "m-1"})),
        (Method::POST, "/payments/prepare", json!({"merchant_uid": "m-1", "amount": "1000"})),
        (Method::POST, "/payments/prepare", json!({"merchant_uid": "m-1", "amount": 0})),
        (Method::POST, "/payments/prepare", json!({"merchant_uid": "m-1", "amount": 10.5, "currency": "KRW"})),
        (Method::POST, "/payments/prepare", json!({"merchant_uid": "m-1", "amount": 10, "currency": "dollars"})),
        (Method::POST, "/payments/prepare", json!({"merchant_uid": long, "amount": 10})),
        (Method::PUT, "/payments/prepare", json!({"merchant_uid": " ", "amount": 10})),
        (Method::POST, "/internal/payments", json!({"merchant_uid": "m-1", "amount": 10, "pay_method": "cash"})),
        (Method::POST, "/internal/payments", json!({"merchant_uid": "m-1", "amount": 10, "amout": 1})),
        (Method::POST, "/internal/payments", json!({"merchant_uid": "m-1", "amount": 10, "card_number": "1234"})),
        (Method::POST, "/internal/payments", json!({"merchant_uid": "m-1", "amount": 1.5})),
        (Method::POST, "/internal/payments", json!({"merchant_uid": "m-1", "amount": 10, "notice_url": "ftp://x"})),
        (Method::POST, "/internal/payments", json!(["m-1", 10])),
    ] {
        let answer = fake.call(method.clone(), path, Some(body.clone())).await;
        assert_eq!(answer.status, 400, "{method} {path} {body}: {}", answer.body);
        assert!(answer.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", answer.body);
        assert_eq!(answer.body["response"], Value::Null);
    }
    assert_eq!(fake.fake.payment_count(), 0);
    let token = fake.token().await;
    let form = fake
        .http
        .post(format!("{}/payments/prepare", fake.url()))
        .header("Authorization", token)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("merchant_uid=m-form&amount=1500&currency=krw")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 200);
    let form: Value = form.json().await.unwrap();
    assert_eq!(form["response"], json!({"merchant_uid": "m-form", "amount": 1500, "currency": "KRW"}));
}
