//! Shared by the integration tests: the fake on port 0, a raw HTTP caller that
//! checks every success against the swagger's schema, a webhook receiver.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use payments_fakekit::RunningServer;
use payments_toss::fake::{FakeState, FakeTossConfig, start_with_state};
use payments_toss::{TEST_SECRET_KEY, TossConfig, TossGateway, basic_authorization};
use poem::EndpointExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub const STORE: &str = "test-toss-payments-store";

/// Every test is bounded by this.
pub const LIMIT: Duration = Duration::from_secs(20);

/// The swagger's component schemas and each operation's success status and schema.
pub struct Swagger {
    components: Value,
    responses: Value,
}

impl Swagger {
    pub fn load() -> Self {
        let text = include_str!("../data/toss-schemas.json");
        let doc: Value = serde_json::from_str(text).expect("schemas parse");
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

/// A running fake, a raw client for its routes, and a gateway pointed at it.
pub struct Fake {
    pub server: RunningServer,
    pub state: Arc<FakeState>,
    pub http: reqwest::Client,
    pub swagger: Swagger,
}

impl Fake {
    pub async fn start(webhook_url: Option<String>) -> Self {
        let config = FakeTossConfig { webhook_url: webhook_url.clone(), ..FakeTossConfig::default() };
        let emitter = payments_fakekit::WebhookEmitter::new(webhook_url);
        let state = Arc::new(FakeState::new(&config, emitter));
        let server = start_with_state(state.clone(), "127.0.0.1:0".parse().unwrap()).await.expect("fake starts");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        Self { server, state, http, swagger: Swagger::load() }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn gateway(&self) -> TossGateway {
        TossGateway::new(TossConfig::new(self.url()).with_store(STORE, TEST_SECRET_KEY)).expect("gateway")
    }

    /// Sends a request with the test secret and returns the status and JSON body.
    pub async fn raw(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url()))
            .header("Authorization", basic_authorization(TEST_SECRET_KEY));
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
    /// at `path`, asserts the swagger's success status and validates the body
    /// against the swagger's response schema.
    pub async fn ok(&self, operation: &str, path: &str, body: Option<Value>) -> Value {
        let (method, _) = operation.split_once(' ').expect("METHOD /path");
        let method: reqwest::Method = method.parse().unwrap();
        let (status, value) = self.raw(method, path, body.as_ref()).await;
        let (expected, schema) = self.swagger.operation(operation);
        assert_eq!(status, expected, "{operation} at {path}: {value:#}");
        self.swagger.check(&schema, &value);
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

    /// A card payment made "in the popup": approved unless `approved` is false.
    pub async fn key_in(&self, order_id: &str, amount: u64, approved: bool) -> Value {
        let body = json!({
            "method": "card",
            "cardNumber": "1111222233334444",
            "cardExpirationYear": "28",
            "cardExpirationMonth": "07",
            "amount": amount,
            "orderId": order_id,
            "orderName": "fake order",
            "__approved": approved,
        });
        self.ok("POST /v1/payments/key-in", "/v1/payments/key-in", Some(body)).await
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

    /// Validates a payment JSON (as the gateway returned it) against the swagger.
    pub fn check_payment(&self, payment: &Value) {
        let (_, schema) = self.swagger.operation("GET /v1/payments/{paymentKey}");
        self.swagger.check(&schema, payment);
    }
}

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

    /// The next webhook whose `data.paymentKey` and `data.status` match.
    pub async fn wait_for(&mut self, payment_key: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let body = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no {status} webhook for {payment_key}"))
                .expect("receiver open");
            if body["data"]["paymentKey"] == payment_key && body["data"]["status"] == status {
                return body;
            }
        }
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
