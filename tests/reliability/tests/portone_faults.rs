//! A PortOne V2 cancel whose answer is lost (PortOne refunds; its answer
//! reaches us after our 1 s timeout: 504), retried with the same
//! Idempotency-Key: settled by re-reading PortOne, refunded once at PortOne
//! and in our record. The same guarantee as Toss's, through PortOne's own
//! `Idempotency-Key` and `currentCancellableAmount`.
//!
//! And a cancel PortOne accepts and completes later (`REQUESTED`) whose
//! completion reaches us by no webhook: answered 202 as pending, completed by
//! the reconciler alone, refunded once, announced once.

use std::time::Duration;

use payments_portone::fake::{FakePortOneConfig, TEST_API_SECRET};
use payments_reliability::{PgProxy, ProxyMode, Receiver, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

const PRICE: u64 = 10_000;

async fn at_portone(http: &reqwest::Client, fake: &str, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut request =
        http.request(method, format!("{fake}{path}")).header("Authorization", format!("PortOne {TEST_API_SECRET}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
    answer.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portone_cancel_whose_answer_was_lost_refunds_once_when_retried() {
    let fake =
        payments_portone::fake::start(FakePortOneConfig::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let proxy = PgProxy::start("127.0.0.1:0".parse().unwrap(), fake.url(), ProxyMode::Forward).await.unwrap();
    let proxied = proxy.url();
    let server = TestServer::start(&[("PAYMENT_PORTONE_URL", proxied.as_str()), ("PAYMENT_PG_TIMEOUT_SECS", "1")])
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let payment = json!({"method": "card", "amount": PRICE});
    at_portone(&http, &fake.url(), Method::POST, "/internal/payments/lost-po", Some(payment)).await;
    let api = &server.api;
    let created = api
        .register("portone", "lost-po", "lost-po", PRICE, "pw-of-the-test", "http://127.0.0.1:9/hook")
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{created:?}");
    let cancel = json!({
        "source": {"schema": "shop", "table": "orders", "id": "lost-po"}, "password": "pw-of-the-test",
        "price": 2000, "reason": "lost answer", "account": null,
    });
    let path = "/payments/histories/cancel";

    proxy.set(ProxyMode::AnswerLate(Duration::from_millis(2500)));
    let lost = api.call_with(Method::PUT, path, &cancel, Some("cancel-po-1")).await.unwrap();
    assert!(matches!(lost.status, 502 | 504), "the answer was lost: {lost:?}");
    let there = at_portone(&http, &fake.url(), Method::GET, "/payments/lost-po", None).await;
    assert_eq!(there["amount"]["cancelled"], 2000, "PortOne did refund: {there}");

    proxy.set(ProxyMode::Forward);
    let retried = api.call_with(Method::PUT, path, &cancel, Some("cancel-po-1")).await.unwrap();
    assert_eq!((retried.status, &retried.body["refund"]), (200, &json!(2000)), "{retried:?}");
    let again = api.call_with(Method::PUT, path, &cancel, Some("cancel-po-1")).await.unwrap();
    assert_eq!((again.status, &again.body["refund"]), (200, &json!(2000)), "{again:?}");
    let there = at_portone(&http, &fake.url(), Method::GET, "/payments/lost-po", None).await;
    let refunds = there["cancellations"].as_array().map_or(0, Vec::len);
    assert_eq!((refunds, &there["amount"]["cancelled"]), (1, &json!(2000)), "refunded once: {there}");
    let ours = api.get("lost-po", "pw-of-the-test").await.unwrap();
    assert_eq!((ours.body["refund"].clone(), ours.body["cancels"].as_array().map(Vec::len)), (json!(2000), Some(1)));
    println!(
        "RESULT portone_lost_cancel_answer first={} retry={} pg_refunds={refunds} our_refund=2000 double_refunds=0 pg_requests={}",
        lost.status,
        retried.status,
        proxy.seen.load(std::sync::atomic::Ordering::SeqCst)
    );
    server.stop().await.unwrap();
    drop(proxy);
    fake.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_portone_completes_later_is_completed_by_the_reconciler_alone() {
    // The fake sends no webhook at all (no webhook URL): only re-reads tell.
    let fake =
        payments_portone::fake::start(FakePortOneConfig::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let server = TestServer::start(&[
        ("PAYMENT_PORTONE_URL", fake.url().as_str()),
        ("PAYMENT_RECONCILE_INTERVAL", "1s"),
        ("PAYMENT_RECONCILE_PACE_MS", "1"),
        // Not the settle loop: the reconciler's own pass.
        ("PAYMENT_CANCEL_SETTLE_SECS", "0"),
    ])
    .await
    .unwrap();
    let hooks = Receiver::start().await;
    let http = reqwest::Client::new();
    let payment = json!({"method": "card", "amount": PRICE});
    at_portone(&http, &fake.url(), Method::POST, "/internal/payments/async-po", Some(payment)).await;
    let api = &server.api;
    let created = api.register("portone", "async-po", "async-po", PRICE, "pw-of-the-test", &hooks.url()).await.unwrap();
    assert_eq!(created.status, 201, "{created:?}");
    let later = json!({"next": "requested"});
    at_portone(&http, &fake.url(), Method::POST, "/internal/payments/async-po/cancel-behaviour", Some(later)).await;

    let cancel = json!({
        "source": {"schema": "shop", "table": "orders", "id": "async-po"}, "password": "pw-of-the-test",
        "price": 3000, "reason": "completes later", "account": null,
    });
    let accepted = api.call_with(Method::PUT, "/payments/histories/cancel", &cancel, Some("async-1")).await.unwrap();
    assert_eq!(accepted.status, 202, "{accepted:?}");
    assert_eq!(accepted.body["refund"], Value::Null, "nothing refunded yet");
    assert_eq!(accepted.body["cancels"][0]["status"], "pending");
    assert_eq!(hooks.wait_for(1, Duration::from_secs(15)).await, 1, "the pending cancel is announced");

    // PortOne completes it and tells nobody.
    let there = at_portone(&http, &fake.url(), Method::GET, "/payments/async-po", None).await;
    let cancellation = there["cancellations"][0]["id"].as_str().expect("a cancellation").to_owned();
    let done = json!({"outcome": "succeeded", "webhook": false});
    let path = format!("/internal/payments/async-po/cancellations/{cancellation}");
    at_portone(&http, &fake.url(), Method::POST, &path, Some(done)).await;

    assert_eq!(hooks.wait_for(2, Duration::from_secs(15)).await, 2, "the reconciler found the completion");
    // Nothing more comes: one completion, announced once.
    assert_eq!(hooks.wait_for(3, Duration::from_millis(2500)).await, 2, "announced once");
    let deliveries = hooks.all();
    let completed = &deliveries[1].json;
    assert_eq!((&completed["previous"]["refund"], &completed["current"]["refund"]), (&Value::Null, &json!(3000)));
    assert_eq!(completed["current"]["cancels"][0]["status"], "done");
    let ours = api.get("async-po", "pw-of-the-test").await.unwrap();
    assert_eq!((ours.body["refund"].clone(), ours.body["cancels"].as_array().map(Vec::len)), (json!(3000), Some(1)));
    let there = at_portone(&http, &fake.url(), Method::GET, "/payments/async-po", None).await;
    let refunds = there["cancellations"].as_array().map_or(0, Vec::len);
    assert_eq!((refunds, &there["amount"]["cancelled"]), (1, &json!(3000)), "refunded once: {there}");

    // The cancel lock went with it: the next cancel is taken at once.
    let now = json!({"next": "succeeded"});
    at_portone(&http, &fake.url(), Method::POST, "/internal/payments/async-po/cancel-behaviour", Some(now)).await;
    let started = std::time::Instant::now();
    let next = api.cancel("async-po", "pw-of-the-test", 1000, "the rest of it").await.unwrap();
    assert_eq!((next.status, &next.body["refund"]), (200, &json!(4000)), "{next:?}");
    println!(
        "RESULT portone_cancel_completed_by_reconciler accepted={} pg_refunds={refunds} our_refund=3000 \
         webhooks=2 next_cancel_ms={}",
        accepted.status,
        started.elapsed().as_millis()
    );
    server.stop().await.unwrap();
    fake.stop().await.unwrap();
}
