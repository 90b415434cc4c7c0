//! The Iamport client against the fake Iamport over real HTTP on 127.0.0.1.

mod support;

use std::sync::Arc;
use std::time::Duration;

use payments_application::ports::{CancelRequest, GatewayError, PaymentGateway, RefundAccount};
use payments_domain::{CancelReason, Money, SourceId, StoreId, VendorUid};
use payments_iamport::fake::{FakeIamportConfig, TEST_IMP_KEY, TEST_IMP_SECRET};
use payments_iamport::{IamportConfig, IamportCredentials, IamportGateway};
use reqwest::Method;
use serde_json::json;
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
