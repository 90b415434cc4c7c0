//! Shared by the integration tests: the fake on port 0 in either API
//! version, a raw HTTP caller that checks every success (against the
//! swagger's schema in 1.4, against Toss's documented member set in
//! 2022-11-16), the documented fixtures, and a webhook receiver.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use payments_fakekit::RunningServer;
use payments_toss::fake::{FakeState, FakeTossConfig, REFUSED_CARD_NUMBER, start_with_state};
use payments_toss::{TEST_SECRET_KEY, TossConfig, TossGateway, basic_authorization};
use poem::EndpointExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub use payments_toss::fake::TossApiVersion;

pub const STORE: &str = "test-toss-payments-store";

/// Every test is bounded by this.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Card numbers the tests send; none may come back whole.
pub const CARD: &str = "1111222233334444";
pub const SAVED_CARD: &str = "4444333322221111";
pub const CARD_NUMBERS: [&str; 3] = [CARD, SAVED_CARD, REFUSED_CARD_NUMBER];

/// Runs a test within [`LIMIT`].
pub async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(LIMIT, test).await.expect("test finished in time");
}

// ---------------------------------------------------------------------------
// The swagger (1.4)
// ---------------------------------------------------------------------------

/// The swagger's component schemas and each operation's success status and schema.
pub struct Swagger {
    components: Value,
    responses: Value,
}

/// How Toss shows a card number (`43301234****123*`). The reference swagger
/// (the original's fake server) answered card numbers whole (`[0-9]{16}`);
/// Toss never does, nor does this fake, so the schemas are checked with this
/// pattern instead.
pub const MASKED_CARD_NUMBER: &str = "^[0-9]{8}\\*{4}[0-9]{3}\\*$";

impl Swagger {
    pub fn load() -> Self {
        let text = include_str!("../data/toss-schemas.json");
        let mut doc: Value = serde_json::from_str(text).expect("schemas parse");
        let schemas = &mut doc["components"]["schemas"];
        for (schema, member) in [("ITossCardPayment.ICard", "number"), ("ITossBilling", "cardNumber")] {
            let property = &mut schemas[schema]["properties"][member];
            assert!(property["pattern"].is_string(), "{schema}.{member} has a pattern");
            property["pattern"] = json!(MASKED_CARD_NUMBER);
        }
        Self { components: doc["components"].clone(), responses: doc["responses"].clone() }
    }

    /// Validates `instance` against a schema that may `$ref` `#/components/schemas/...`.
    pub fn check(&self, schema: &Value, instance: &Value) {
        let errors = self.errors(schema, instance);
        assert!(errors.is_empty(), "schema violations: {errors:#?}\ninstance: {instance:#}");
    }

    /// The violations of `instance` against `schema`.
    pub fn errors(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let mut document = schema.as_object().cloned().expect("schema is an object");
        document.insert("components".into(), self.components.clone());
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&Value::Object(document))
            .expect("schema compiles");
        validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path)).collect()
    }

    /// Validates against a named component schema.
    pub fn check_component(&self, name: &str, instance: &Value) {
        self.check(&json!({ "$ref": format!("#/components/schemas/{name}") }), instance);
    }

    /// The success status and schema of an operation, e.g. `POST /v1/payments/key-in`.
    pub fn operation(&self, operation: &str) -> (u16, Value) {
        let op = &self.responses[operation];
        assert!(op.is_object(), "no operation {operation}");
        (op["status"].as_u64().expect("status") as u16, op["schema"].clone())
    }
}

// ---------------------------------------------------------------------------
// The documented answers
// ---------------------------------------------------------------------------

/// `tests/data/documented/{path}`, parsed.
pub fn documented(path: &str) -> Value {
    let file = format!("{}/tests/data/documented/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The names of the documented files of a version (`v2022-11-16`, `v1.4`)
/// that start with `prefix`.
pub fn documented_files(version_dir: &str, prefix: &str) -> Vec<String> {
    let dir = format!("{}/tests/data/documented/{version_dir}", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| entry.expect("directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix) && name.ends_with(".json"))
        .collect();
    names.sort();
    names
}

pub fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap_or_else(|| panic!("an object: {value:#}")).keys().cloned().collect()
}

/// The top-level members every documented 2022-11-16 payment has (they all
/// have the same; checked here).
pub fn documented_payment_members() -> BTreeSet<String> {
    let mut sets = documented_files("v2022-11-16", "payment-")
        .into_iter()
        .map(|name| (keys(&documented(&format!("v2022-11-16/{name}"))), name));
    let (first, _) = sets.next().expect("documented payments");
    for (other, name) in sets {
        assert_eq!(other, first, "{name} has the members of the others");
    }
    first
}

/// Asserts that `answer` has exactly the members of `documented`, and
/// that each object member that both have non-null has the same members too.
pub fn assert_members_as_documented(answer: &Value, documented: &Value, what: &str) {
    assert_eq!(keys(answer), keys(documented), "{what}: top-level members\n{answer:#}");
    for (name, value) in documented.as_object().unwrap() {
        if let (Value::Object(_), Value::Object(_)) = (value, &answer[name]) {
            assert_eq!(keys(&answer[name]), keys(value), "{what}: members of {name}\n{answer:#}");
        }
    }
}

/// Asserts that no card number is in `value` whole: no string holds a run of
/// 13 to 19 digits (identifiers and account numbers aside), and none of the
/// numbers the tests send appears anywhere.
pub fn assert_no_card_number(value: &Value) {
    const NOT_CARDS: [&str; 12] = [
        "url",
        // Random hex ids (their digit runs can be long by chance).
        "cancelRequestId",
        "receiptKey",
        "receiptUrl",
        "paymentKey",
        "lastTransactionKey",
        "transactionKey",
        "billingKey",
        "authKey",
        "secret",
        "accountNumber",
        "orderId",
    ];
    fn longest_digit_run(text: &str) -> usize {
        text.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0)
    }
    fn walk(value: &Value, member: &str, whole: &Value) {
        match value {
            Value::String(text) if !NOT_CARDS.contains(&member) => {
                assert!(longest_digit_run(text) < 13, "{member}: {text:?} looks like a card number in {whole:#}");
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, member, whole)),
            Value::Object(object) => object.iter().for_each(|(name, item)| walk(item, name, whole)),
            _ => {}
        }
    }
    walk(value, "", value);
    let text = value.to_string();
    for number in CARD_NUMBERS {
        assert!(!text.contains(number), "{number} answered whole: {value:#}");
    }
}

// ---------------------------------------------------------------------------
// The fake
// ---------------------------------------------------------------------------

/// A running fake, a raw client for its routes, and a gateway pointed at it.
pub struct Fake {
    pub server: RunningServer,
    pub state: Arc<FakeState>,
    pub http: reqwest::Client,
    pub swagger: Swagger,
    pub version: TossApiVersion,
}

impl Fake {
    pub async fn start(version: TossApiVersion, webhook_url: Option<String>) -> Self {
        // Toss's one-cancel-a-second rule has a test of its own (current_api.rs).
        Self::start_with(version, webhook_url, Duration::ZERO).await
    }

    /// As [`Fake::start`], refusing a second cancel of a payment within `window`.
    pub async fn start_with(version: TossApiVersion, webhook_url: Option<String>, window: Duration) -> Self {
        let config = FakeTossConfig {
            webhook_url: webhook_url.clone(),
            api_version: version,
            consecutive_cancel_window: window,
            ..FakeTossConfig::default()
        };
        let emitter = payments_fakekit::WebhookEmitter::new(webhook_url);
        let state = Arc::new(FakeState::new(&config, emitter));
        assert_eq!(state.api_version(), version);
        let server = start_with_state(state.clone(), "127.0.0.1:0".parse().unwrap()).await.expect("fake starts");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        Self { server, state, http, swagger: Swagger::load(), version }
    }

    /// The fake in the original's API version, 1.4 (the swagger's shape).
    pub async fn legacy(webhook_url: Option<String>) -> Self {
        Self::start(TossApiVersion::V1_4, webhook_url).await
    }

    /// The fake in Toss's current API version, 2022-11-16.
    pub async fn current(webhook_url: Option<String>) -> Self {
        Self::start(TossApiVersion::V2022_11_16, webhook_url).await
    }

    pub fn is_legacy(&self) -> bool {
        self.version == TossApiVersion::V1_4
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn gateway(&self) -> TossGateway {
        TossGateway::new(TossConfig::new(self.url()).with_store(STORE, TEST_SECRET_KEY)).expect("gateway")
    }

    /// The status of a successful POST that makes or changes something: 201
    /// in 1.4, 200 today.
    pub fn created(&self) -> u16 {
        if self.is_legacy() { 201 } else { 200 }
    }

    /// Sends a request with the test secret and returns the status and JSON body.
    pub async fn raw(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.raw_with_key(method, path, body, None).await
    }

    /// As [`Fake::raw`], with an `Idempotency-Key`.
    pub async fn raw_with_key(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url()))
            .header("Authorization", basic_authorization(TEST_SECRET_KEY));
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("fake answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") };
        (status, value)
    }

    /// Calls `operation` (swagger template, e.g. `POST /v1/payments/{paymentKey}`)
    /// at `path` and checks the answer: in 1.4 the swagger's success status
    /// and response schema; today 200 and the documented members
    /// ([`Fake::check_answer`]). No card number comes back whole either way.
    pub async fn ok(&self, operation: &str, path: &str, body: Option<Value>) -> Value {
        let (method, _) = operation.split_once(' ').expect("METHOD /path");
        let method: reqwest::Method = method.parse().unwrap();
        let (status, value) = self.raw(method, path, body.as_ref()).await;
        if self.is_legacy() {
            let (expected, schema) = self.swagger.operation(operation);
            assert_eq!(status, expected, "{operation} at {path}: {value:#}");
            self.swagger.check(&schema, &value);
            assert_no_card_number(&value);
        } else {
            assert_eq!(status, 200, "{operation} at {path}: {value:#}");
            self.check_answer(&value);
        }
        value
    }

    /// Calls and expects a refusal with `status` and a `{code, message}` body.
    pub async fn refused(&self, method: reqwest::Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let (got, value) = self.raw(method.clone(), path, body.as_ref()).await;
        assert_eq!(got, status, "{method} {path} answered {value:#}");
        assert!(value["code"].is_string() && value["message"].is_string(), "error body {value:#}");
        assert!(!value["message"].as_str().unwrap().is_empty());
        value
    }

    /// A card payment made "in the popup" with `card_number`: approved unless
    /// `approved` is false (then `IN_PROGRESS`, to be confirmed).
    pub async fn key_in_with(&self, card_number: &str, order_id: &str, amount: u64, approved: bool) -> Value {
        let body = json!({
            "method": "card",
            "cardNumber": card_number,
            "cardExpirationYear": "28",
            "cardExpirationMonth": "07",
            "amount": amount,
            "orderId": order_id,
            "orderName": "fake order",
            "__approved": approved,
        });
        self.ok("POST /v1/payments/key-in", "/v1/payments/key-in", Some(body)).await
    }

    /// [`Fake::key_in_with`] the usual test card.
    pub async fn key_in(&self, order_id: &str, amount: u64, approved: bool) -> Value {
        self.key_in_with(CARD, order_id, amount, approved).await
    }

    /// A virtual account awaiting its deposit.
    pub async fn virtual_account(&self, order_id: &str, amount: u64) -> Value {
        let body = json!({
            "method": "virtual-account",
            "orderId": order_id,
            "orderName": "something",
            "bank": "신한",
            "customerName": "Samchon",
            "amount": amount,
            "__approved": false,
        });
        self.ok("POST /v1/virtual-accounts", "/v1/virtual-accounts", Some(body)).await
    }

    /// Checks a payment JSON (as the gateway returned it): the swagger in
    /// 1.4, the documented members today; no whole card number.
    pub fn check_payment(&self, payment: &Value) {
        if self.is_legacy() {
            let (_, schema) = self.swagger.operation("GET /v1/payments/{paymentKey}");
            self.swagger.check(&schema, payment);
            assert_no_card_number(payment);
        } else {
            self.check_answer(payment);
            assert!(payment["paymentKey"].is_string(), "a payment: {payment:#}");
        }
    }

    /// Checks a 2022-11-16 answer: a payment has exactly the members of the
    /// documented payments (and a card, virtual account or cancel those of
    /// the documented ones), a saved card those of billing-issued.json.
    pub fn check_answer(&self, value: &Value) {
        assert_no_card_number(value);
        if value.get("paymentKey").is_some() && value.get("status").is_some() {
            assert_eq!(keys(value), documented_payment_members(), "documented members\n{value:#}");
            assert_eq!(value["version"], "2022-11-16");
            let card = documented("v2022-11-16/payment-card-done.json");
            let account = documented("v2022-11-16/payment-virtual-account-waiting.json");
            let canceled = documented("v2022-11-16/payment-card-partial-canceled.json");
            for (member, example) in [("card", &card["card"]), ("virtualAccount", &account["virtualAccount"])] {
                if !value[member].is_null() {
                    assert_eq!(keys(&value[member]), keys(example), "members of {member}\n{value:#}");
                }
            }
            for cancel in value["cancels"].as_array().into_iter().flatten() {
                assert_eq!(keys(cancel), keys(&canceled["cancels"][0]), "members of a cancel\n{value:#}");
            }
        } else if value.get("billingKey").is_some() {
            assert_members_as_documented(value, &documented("v2022-11-16/billing-issued.json"), "a saved card");
        }
    }
}

// ---------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------

/// A webhook receiver on port 0: every JSON body POSTed to `/hook` arrives on
/// the channel.
pub struct Receiver {
    pub server: RunningServer,
    pub rx: mpsc::Receiver<Value>,
}

#[poem::handler]
async fn hook(poem::web::Json(body): poem::web::Json<Value>, tx: poem::web::Data<&mpsc::Sender<Value>>) {
    let _ = tx.send(body).await;
}

impl Receiver {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::channel(64);
        let app = poem::Route::new().at("/hook", poem::post(hook)).data(tx);
        let server = payments_fakekit::serve(app, "127.0.0.1:0".parse().unwrap()).await.expect("receiver starts");
        Self { server, rx }
    }

    pub fn url(&self) -> String {
        format!("{}/hook", self.server.url())
    }

    /// The next webhook `matches` accepts (the others are dropped).
    pub async fn next_matching(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let body = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no webhook: {what}"))
                .expect("receiver open");
            if matches(&body) {
                return body;
            }
        }
    }

    /// The next `PAYMENT_STATUS_CHANGED` whose `data.paymentKey` and `data.status` match.
    pub async fn wait_for(&mut self, payment_key: &str, status: &str) -> Value {
        self.next_matching(&format!("{status} for {payment_key}"), |body| {
            body["eventType"] == "PAYMENT_STATUS_CHANGED"
                && body["data"]["paymentKey"] == payment_key
                && body["data"]["status"] == status
        })
        .await
    }

    /// The next flat `DEPOSIT_CALLBACK` of this order with this status.
    pub async fn wait_for_deposit_callback(&mut self, order_id: &str, status: &str) -> Value {
        self.next_matching(&format!("deposit callback {status} for {order_id}"), |body| {
            body.get("eventType").is_none() && body["orderId"] == order_id && body["status"] == status
        })
        .await
    }

    /// Every webhook already received.
    pub fn drain(&mut self) -> Vec<Value> {
        let mut bodies = Vec::new();
        while let Ok(body) = self.rx.try_recv() {
            bodies.push(body);
        }
        bodies
    }
}

pub fn order_id() -> String {
    format!("order-{}", uuid_like())
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{nanos:x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
