//! What the binary's tests say in their own words (a registration, a
//! cancel, the outbox counters), over the test kit's child process, webhook
//! receiver and encrypting caller.
#![allow(dead_code, unused_imports)]

use std::path::Path;
use std::time::{Duration, Instant};

use payments_testkit::process::{self, Output};
use serde_json::{Value, json};

pub use payments_testkit::api::cipher;
pub use payments_testkit::receiver::count_answered;
pub use payments_testkit::{
    Answer, Api, Isolation, Receiver, ReceiverKeys, ServerProcess as Server, TestDatabase, WEBHOOK_SECRET,
    WIRE_IV as IV, WIRE_KEY as KEY, bounded, free_port,
};

/// The fake Toss Payments' secret key.
pub const TOSS_SECRET: &str = "test_ak_ZORzdMaqN3wQd5k6ygr5AkYXQGwy";

/// This crate's `payments` binary, built by cargo for its tests.
pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_payments"))
}

/// A child's environment, `(name, value)` pairs.
pub type Env = Vec<(String, String)>;

/// Fast and hermetic: ports 0, cheap argon2, fast retries and polling.
pub fn test_env() -> Vec<(String, String)> {
    [
        ("PAYMENT_API_PORT", "0"),
        ("PAYMENT_METRICS_ADDR", "127.0.0.1:0"),
        ("PAYMENT_ADMIN_ADDR", "127.0.0.1:0"),
        ("PAYMENT_ARGON2_MEMORY_KIB", "256"),
        ("PAYMENT_ARGON2_ITERATIONS", "1"),
        ("PAYMENT_WEBHOOK_RETRY_SCHEDULE", "100ms,200ms,400ms"),
        ("PAYMENT_WEBHOOK_POLL_MS", "20"),
        ("PAYMENT_CONNECTION_ENCRYPTION_KEY", KEY),
        ("PAYMENT_CONNECTION_ENCRYPTION_IV", IV),
        ("PAYMENT_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("PAYMENT_LOG", "info"),
    ]
    .into_iter()
    .chain(payments_server::fakes_on_free_ports())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// `base` with `name` set to `value` (replacing it).
pub fn with(mut base: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    base.retain(|(k, _)| k != name);
    base.push((name.to_owned(), value.to_owned()));
    base
}

/// `payments serve` in `dir` with exactly `env`, once it listens.
pub async fn serve(dir: &Path, env: &[(String, String)]) -> Server {
    Server::start(binary(), dir, env).await
}

/// Runs `payments ARGS` to completion within 60 s.
pub async fn run(dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    process::run(binary(), dir, env, args).await
}

/// The encrypting caller of `server` (wire key [`KEY`]/[`IV`]).
pub fn api(server: &Server) -> Api {
    Api::new(server.url.clone())
}

/// Sends `body` encrypted; the status and the body (decrypted on success).
pub async fn call(api: &Api, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let reply = api.send(method, path, body.as_ref(), None).await.unwrap_or_else(|e| panic!("{path}: {e:#}"));
    (reply.status, reply.body)
}

/// Registers the Toss payment `payment_key` of order `order_id`; the record.
pub async fn register(
    api: &Api,
    payment_key: &str,
    order_id: &str,
    price: u64,
    password: &str,
    webhook: &str,
) -> Value {
    let reply = api.register_toss(payment_key, order_id, price, password, webhook).await.expect("register");
    assert_eq!(reply.status, 201, "register: {:?}", reply.body);
    reply.body
}

/// Cancels `price` of order `order_id`; the record.
pub async fn cancel(api: &Api, order_id: &str, price: u64, password: &str) -> Value {
    let reply = api.cancel(order_id, password, price, "test cancel").await.expect("cancel");
    assert_eq!(reply.status, 200, "cancel: {:?}", reply.body);
    reply.body
}

/// A card payment at the fake Toss; returns its `paymentKey`.
pub async fn toss_card_payment(fake_toss: &str, order_id: &str, amount: u64, card_number: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{fake_toss}/v1/payments/key-in"))
        .basic_auth(TOSS_SECRET, Some(""))
        .json(&json!({
            "method": "card",
            "cardNumber": card_number,
            "cardExpirationYear": "29",
            "cardExpirationMonth": "12",
            "amount": amount,
            "orderId": order_id,
            "orderName": "binary test",
        }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert!((200..300).contains(&status), "key-in {status}: {body}");
    body["paymentKey"].as_str().unwrap().to_owned()
}

/// The outbox counters from `GET /monitors/performance`.
pub async fn outbox(api: &Api) -> Value {
    let (status, body) = call(api, reqwest::Method::GET, "/monitors/performance", None).await;
    assert_eq!(status, 200, "performance: {body}");
    body["outbox"].clone()
}

/// Polls the outbox (bounded, every 50 ms) until `done` holds; returns it.
pub async fn wait_outbox(api: &Api, deadline: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + deadline;
    loop {
        let counters = outbox(api).await;
        if done(&counters) {
            return counters;
        }
        assert!(Instant::now() < until, "outbox did not settle within {deadline:?}: {counters}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
