//! A PortOne V2 cancel whose answer is lost (PortOne refunds; its answer
//! reaches us after our 1 s timeout: 504), retried with the same
//! Idempotency-Key: settled by re-reading PortOne, refunded once at PortOne
//! and in our record. The same guarantee as Toss's, through PortOne's own
//! `Idempotency-Key` and `currentCancellableAmount`.

use std::time::Duration;

use payments_portone::fake::{FakePortOneConfig, TEST_API_SECRET};
use payments_reliability::{PgProxy, ProxyMode, TestServer};
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
