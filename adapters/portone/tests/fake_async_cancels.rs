//! The fake PortOne's cancels that do not succeed at once, over HTTP: a
//! cancel answered `REQUESTED` (finished later, announced by
//! `Transaction.CancelPending`) or `FAILED`, as the V2 document's
//! `PaymentCancellation` union and webhook guide describe them
//! (portone-io/developers.portone.io `src/schema/v2.openapi.json`,
//! `opi/ko/integration/webhook/readme-v2.mdx`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use payments_portone::fake::{FakePortOneConfig, TEST_API_SECRET};
use poem::web::Data;
use poem::{EndpointExt, Route, handler, post};
use reqwest::Method;
use serde_json::{Value, json};

type Received = Arc<Mutex<Vec<Value>>>;

#[handler]
fn record(body: Vec<u8>, received: Data<&Received>) {
    received.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
}

struct Fake {
    server: payments_fakekit::RunningServer,
    _sink: payments_fakekit::RunningServer,
    received: Received,
    http: reqwest::Client,
}

impl Fake {
    async fn start() -> Self {
        let received: Received = Arc::default();
        let route = Route::new().at("/hook", post(record)).data(received.clone());
        let sink = payments_fakekit::serve(route, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let config = FakePortOneConfig { webhook_url: Some(format!("{}/hook", sink.url())), ..Default::default() };
        let server = payments_portone::fake::start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        Self { server, _sink: sink, received, http: reqwest::Client::new() }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>, key: Option<&str>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.server.url()))
            .header("Authorization", format!("PortOne {TEST_API_SECRET}"));
        if let Some(key) = key {
            request = request.header("Idempotency-Key", format!("\"{key}\""));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body), None).await
    }

    async fn payment(&self, id: &str) -> Value {
        let (status, payment) = self.call(Method::GET, &format!("/payments/{id}"), None, None).await;
        assert_eq!(status, 200, "{payment}");
        payment
    }

    /// A card payment of `amount` won, paid.
    async fn paid(&self, id: &str, amount: i64) {
        let (status, payment) = self.post(&format!("/internal/payments/{id}"), json!({"amount": amount})).await;
        assert_eq!((status, payment["status"].as_str()), (200, Some("PAID")), "{payment}");
    }

    async fn next_cancel(&self, id: &str, next: &str) {
        let (status, body) =
            self.post(&format!("/internal/payments/{id}/cancel-behaviour"), json!({"next": next})).await;
        assert_eq!((status, &body), (200, &json!({"paymentId": id, "next": next})));
    }

    /// The webhooks received about `id`, once at least `n` came.
    async fn webhooks(&self, id: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got: Vec<Value> =
                self.received.lock().unwrap().iter().filter(|w| w["data"]["paymentId"] == id).cloned().collect();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The webhooks about `id` after a pause long enough for one to arrive.
    async fn settled_webhooks(&self, id: &str) -> Vec<Value> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.webhooks(id, 0).await
    }
}

/// The types of `webhooks`, sorted (deliveries run in the background, so
/// two sent close together may arrive in either order).
fn types(webhooks: &[Value]) -> Vec<&str> {
    let mut types: Vec<&str> = webhooks.iter().map(|w| w["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    types
}

/// The webhook about one cancellation, of one type.
fn about<'a>(webhooks: &'a [Value], kind: &str, cancellation: &str) -> &'a Value {
    webhooks
        .iter()
        .find(|w| w["type"] == kind && w["data"]["cancellationId"] == cancellation)
        .unwrap_or_else(|| panic!("no {kind} about {cancellation}: {webhooks:?}"))
}

#[tokio::test]
async fn a_requested_cancel_moves_nothing_until_it_completes_and_holds_its_amount_meanwhile() {
    let fake = Fake::start().await;
    fake.paid("order-req", 10_000).await;
    fake.next_cancel("order-req", "requested").await;

    let cancel = json!({"amount": 4000, "reason": "customer asked", "currentCancellableAmount": 10_000});
    let (status, answer) = fake
        .call(Method::POST, "/payments/order-req/cancel", Some(cancel.clone()), Some("cancel-req-0000000001"))
        .await;
    assert_eq!(status, 200, "{answer}");
    let requested = &answer["cancellation"];
    assert_eq!((requested["status"].as_str(), requested["totalAmount"].as_i64()), (Some("REQUESTED"), Some(4000)));
    assert!(requested["requestedAt"].is_string() && requested["id"].is_string(), "{requested}");
    assert!(requested.get("cancelledAt").is_none() && requested.get("receiptUrl").is_none(), "{requested}");
    let id = requested["id"].as_str().unwrap().to_owned();
    // The same request again with its key: the first answer, nothing twice.
    let again =
        fake.call(Method::POST, "/payments/order-req/cancel", Some(cancel), Some("cancel-req-0000000001")).await;
    assert_eq!(again, (200, answer.clone()));

    let payment = fake.payment("order-req").await;
    assert_eq!((payment["status"].as_str(), payment["amount"]["cancelled"].as_i64()), (Some("PAID"), Some(0)));
    assert_eq!(payment["cancellations"], json!([requested]));
    let hooks = fake.webhooks("order-req", 2).await;
    assert_eq!(types(&hooks), ["Transaction.CancelPending", "Transaction.Paid"]);
    assert_eq!(about(&hooks, "Transaction.CancelPending", &id)["data"]["transactionId"], payment["transactionId"]);

    // While it is requested, 6000 is what may still be cancelled.
    let stale = json!({"amount": 1000, "reason": "r", "currentCancellableAmount": 10_000});
    let (status, refused) = fake.post("/payments/order-req/cancel", stale).await;
    assert_eq!((status, refused["type"].as_str()), (409, Some("CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN")));
    let (status, refused) = fake.post("/payments/order-req/cancel", json!({"amount": 6001, "reason": "r"})).await;
    assert_eq!((status, refused["type"].as_str()), (409, Some("CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT")));
    // Back to cancels that succeed at once (sticky until changed).
    fake.next_cancel("order-req", "succeeded").await;
    let current = json!({"amount": 1000, "reason": "r", "currentCancellableAmount": 6000});
    let (status, succeeded) = fake.post("/payments/order-req/cancel", current).await;
    assert_eq!((status, succeeded["cancellation"]["status"].as_str()), (200, Some("SUCCEEDED")), "{succeeded}");
    let payment = fake.payment("order-req").await;
    assert_eq!(
        (payment["status"].as_str(), payment["amount"]["cancelled"].as_i64()),
        (Some("PARTIAL_CANCELLED"), Some(1000))
    );

    // PortOne finishes the requested one: it succeeds, the money moves.
    let path = format!("/internal/payments/order-req/cancellations/{id}");
    let (status, finished) = fake.post(&path, json!({"outcome": "succeeded"})).await;
    assert_eq!(status, 200, "{finished}");
    assert_eq!(
        (finished["status"].as_str(), finished["amount"]["cancelled"].as_i64()),
        (Some("PARTIAL_CANCELLED"), Some(5000))
    );
    let done = &finished["cancellations"][0];
    assert_eq!((done["id"].as_str(), done["status"].as_str()), (Some(id.as_str()), Some("SUCCEEDED")));
    assert!(done["cancelledAt"].is_string() && done["receiptUrl"].is_string(), "{done}");
    assert_eq!(done["requestedAt"], requested["requestedAt"]);
    assert_eq!(finished["cancelledAt"], done["cancelledAt"]);
    assert_eq!(finished["statusChangedAt"], done["cancelledAt"]);
    assert_eq!(fake.payment("order-req").await, finished);
    let hooks = fake.webhooks("order-req", 4).await;
    assert_eq!(
        types(&hooks),
        [
            "Transaction.CancelPending",
            "Transaction.Paid",
            "Transaction.PartialCancelled",
            "Transaction.PartialCancelled"
        ]
    );
    about(&hooks, "Transaction.PartialCancelled", &id);
    let (status, twice) = fake.post(&path, json!({"outcome": "succeeded"})).await;
    assert_eq!((status, twice["type"].as_str()), (409, Some("CANCELLATION_NOT_REQUESTED")), "{twice}");
    assert!(twice["message"].is_string());

    // The rest, requested and finished without a webhook: CANCELLED.
    fake.next_cancel("order-req", "requested").await;
    let (status, rest) = fake.post("/payments/order-req/cancel", json!({"reason": "the rest"})).await;
    assert_eq!((status, rest["cancellation"]["totalAmount"].as_i64()), (200, Some(5000)), "{rest}");
    let rest_id = rest["cancellation"]["id"].as_str().unwrap();
    let path = format!("/internal/payments/order-req/cancellations/{rest_id}");
    let (status, cancelled) = fake.post(&path, json!({"outcome": "succeeded", "webhook": false})).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["amount"]["cancelled"].as_i64()),
        (Some("CANCELLED"), Some(10_000))
    );
    let hooks = fake.settled_webhooks("order-req").await;
    about(&hooks, "Transaction.CancelPending", rest_id);
    assert!(
        !hooks.iter().any(|w| w["data"]["cancellationId"] == rest_id && w["type"] != "Transaction.CancelPending"),
        "no webhook of a completion told not to send one: {hooks:?}"
    );
    assert_eq!(hooks.len(), 5, "{hooks:?}");
}

#[tokio::test]
async fn a_failed_cancel_is_answered_200_failed_and_changes_nothing() {
    let fake = Fake::start().await;
    fake.paid("order-failed", 10_000).await;
    let before = fake.payment("order-failed").await;
    fake.next_cancel("order-failed", "failed").await;

    let (status, answer) = fake.post("/payments/order-failed/cancel", json!({"amount": 3000, "reason": "r"})).await;
    assert_eq!(status, 200, "{answer}");
    let failed = &answer["cancellation"];
    assert_eq!((failed["status"].as_str(), failed["totalAmount"].as_i64()), (Some("FAILED"), Some(3000)));
    assert!(failed.get("receiptUrl").is_none() && failed.get("cancelledAt").is_none(), "{failed}");
    let payment = fake.payment("order-failed").await;
    assert_eq!((payment["status"].as_str(), &payment["amount"]), (Some("PAID"), &before["amount"]));
    assert_eq!(payment["cancellations"], json!([failed]));
    assert_eq!(payment["statusChangedAt"], before["statusChangedAt"]);
    // The rules still apply to a cancel that will fail.
    let (status, refused) = fake.post("/payments/order-failed/cancel", json!({"amount": 10_001, "reason": "r"})).await;
    assert_eq!((status, refused["type"].as_str()), (409, Some("CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT")));
    // Nothing is held by a failed cancellation; it cannot be finished.
    let path = format!("/internal/payments/order-failed/cancellations/{}", failed["id"].as_str().unwrap());
    let (status, refused) = fake.post(&path, json!({"outcome": "succeeded"})).await;
    assert_eq!((status, refused["type"].as_str()), (409, Some("CANCELLATION_NOT_REQUESTED")));
    fake.next_cancel("order-failed", "succeeded").await;
    let whole = json!({"reason": "r", "currentCancellableAmount": 10_000});
    let (status, cancelled) = fake.post("/payments/order-failed/cancel", whole).await;
    assert_eq!((status, cancelled["cancellation"]["totalAmount"].as_i64()), (200, Some(10_000)), "{cancelled}");
    // No webhook for the failed cancel (PortOne documents none).
    fake.webhooks("order-failed", 2).await;
    let hooks = fake.settled_webhooks("order-failed").await;
    assert_eq!(types(&hooks), ["Transaction.Cancelled", "Transaction.Paid"]);
    about(&hooks, "Transaction.Cancelled", cancelled["cancellation"]["id"].as_str().unwrap());
}

#[tokio::test]
async fn a_requested_cancel_that_fails_frees_its_amount_and_sends_nothing() {
    let fake = Fake::start().await;
    fake.paid("order-req-failed", 8000).await;
    fake.next_cancel("order-req-failed", "requested").await;
    let (status, answer) = fake.post("/payments/order-req-failed/cancel", json!({"amount": 8000, "reason": "r"})).await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["cancellation"]["id"].as_str().unwrap();
    let (status, refused) = fake.post("/payments/order-req-failed/cancel", json!({"amount": 1, "reason": "r"})).await;
    assert_eq!((status, refused["type"].as_str()), (409, Some("CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT")));

    let path = format!("/internal/payments/order-req-failed/cancellations/{id}");
    let (status, payment) = fake.post(&path, json!({"outcome": "failed"})).await;
    assert_eq!(status, 200, "{payment}");
    assert_eq!((payment["status"].as_str(), payment["amount"]["cancelled"].as_i64()), (Some("PAID"), Some(0)));
    assert_eq!(payment["cancellations"][0]["status"], "FAILED");
    assert!(payment["cancellations"][0].get("cancelledAt").is_none());
    let (status, _) = fake.post(&path, json!({"outcome": "failed"})).await;
    assert_eq!(status, 409);
    let guard = json!({"amount": 1000, "reason": "r", "currentCancellableAmount": 8000});
    let (status, again) = fake.post("/payments/order-req-failed/cancel", guard).await;
    assert_eq!((status, again["cancellation"]["status"].as_str()), (200, Some("REQUESTED")), "{again}");
    let hooks = fake.settled_webhooks("order-req-failed").await;
    assert_eq!(types(&hooks), ["Transaction.CancelPending", "Transaction.CancelPending", "Transaction.Paid"]);
}

#[tokio::test]
async fn the_internal_cancel_routes_refuse_what_they_do_not_know() {
    let fake = Fake::start().await;
    fake.paid("order-internal", 1000).await;
    for body in [json!({"next": "later"}), json!({}), json!({"next": 1}), json!([])] {
        let (status, error) = fake.post("/internal/payments/order-internal/cancel-behaviour", body).await;
        assert_eq!((status, error["type"].as_str()), (400, Some("INVALID_REQUEST")), "{error}");
    }
    let (status, error) = fake.post("/internal/payments/nobody/cancel-behaviour", json!({"next": "failed"})).await;
    assert_eq!((status, error["type"].as_str()), (404, Some("PAYMENT_NOT_FOUND")));
    let unauthorized = fake
        .http
        .post(format!("{}/internal/payments/order-internal/cancel-behaviour", fake.server.url()))
        .json(&json!({"next": "failed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);

    fake.next_cancel("order-internal", "requested").await;
    let (_, answer) = fake.post("/payments/order-internal/cancel", json!({"reason": "r"})).await;
    let path =
        format!("/internal/payments/order-internal/cancellations/{}", answer["cancellation"]["id"].as_str().unwrap());
    for body in [json!({"outcome": "done"}), json!({"outcome": "succeeded", "webhook": "yes"}), json!({})] {
        let (status, error) = fake.post(&path, body).await;
        assert_eq!((status, error["type"].as_str()), (400, Some("INVALID_REQUEST")), "{error}");
    }
    let (status, error) =
        fake.post("/internal/payments/order-internal/cancellations/nothing", json!({"outcome": "failed"})).await;
    assert_eq!((status, error["type"].as_str()), (404, Some("CANCELLATION_NOT_FOUND")));
    let (status, error) =
        fake.post("/internal/payments/nobody/cancellations/nothing", json!({"outcome": "failed"})).await;
    assert_eq!((status, error["type"].as_str()), (404, Some("PAYMENT_NOT_FOUND")));
    // Still requested: nothing above changed it.
    assert_eq!(fake.payment("order-internal").await["cancellations"][0]["status"], "REQUESTED");
}
