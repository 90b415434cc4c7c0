//! The end-to-end test harness: the whole `payments` server (exactly what
//! `payments serve` starts in local mode, fake PGs included) on port 0 over a
//! fresh SQLite file or a fresh PostgreSQL schema, a webhook receiver that
//! verifies and decrypts every delivery with the client's helper, and small
//! clients of the fake PGs acting as the customers.
//!
//! Each scenario is an `async fn(&TestApp)`; [`scenarios!`] instantiates it for
//! both backends. Tracing output is shown only when `TEST_LOG` is set.

pub mod browser;
pub mod console;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use anyhow::Context;
use futures::FutureExt;
use payments_client::{PaymentsClient, wire};
use payments_server::RunningApp;
use payments_server::config::Config;
use payments_testkit::{Isolation, TestDatabase};
use serde_json::{Value, json};

pub use payments_client::ClientError;
pub use payments_testkit::{Answer, Delivery, Receiver, WAIT, unique};
/// A whole scenario is bounded by this.
pub const SCENARIO_LIMIT: Duration = Duration::from_secs(90);

/// The wire key, IV and webhook secret the test servers use (the kit's).
pub use payments_testkit::{WEBHOOK_SECRET, WIRE_IV as IV, WIRE_KEY as KEY};
/// Store ids at the fakes (any id is served by the default credentials).
pub const IAMPORT_STORE: &str = "e2e-iamport-store";
pub const TOSS_STORE: &str = "e2e-toss-store";
pub const PORTONE_STORE: &str = "e2e-portone-store";
/// The password every scenario registers its records with.
pub const PASSWORD: &str = "e2e password";

/// Which database the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The server under test and everything around it.
pub struct TestApp {
    pub backend: Backend,
    app: Option<RunningApp>,
    database: Option<TestDatabase>,
    database_url: String,
    config: Config,
    /// The server's environment (a command run beside it takes it too).
    vars: std::collections::HashMap<String, String>,
    /// The encrypting client of the API.
    pub client: PaymentsClient,
    /// Plain HTTP, for what the typed client does not do (PG webhooks).
    pub http: reqwest::Client,
    /// The webhooks the server delivered.
    pub hooks: Receiver,
    /// The fake Iamport, as the customers use it.
    pub iamport: FakeIamport,
    /// The fake Toss Payments, as the customers use it.
    pub toss: FakeToss,
    /// The fake PortOne V2, as the customers use it.
    pub portone: FakePortOne,
    /// Where this server's notification spool lives (its own, whichever database).
    _spool: tempfile::TempDir,
}

/// Starts a server on `backend`, or `None` (after saying so) when the backend
/// is PostgreSQL and `PAYMENT_TEST_POSTGRES_URL` is unset.
///
/// # Panics
/// When PostgreSQL is configured but unreachable, or the server cannot start.
pub async fn spawn_app(backend: Backend, test: &str) -> Option<TestApp> {
    spawn_app_with(backend, test, &[]).await
}

/// As [`spawn_app`], with configuration variables set or replaced (e.g. the
/// fake Toss's API version).
///
/// # Panics
/// As [`spawn_app`].
pub async fn spawn_app_with(backend: Backend, test: &str, overrides: &[(&str, &str)]) -> Option<TestApp> {
    let database = match backend {
        Backend::Sqlite => TestDatabase::sqlite(),
        Backend::Postgres => TestDatabase::postgres(test, Isolation::Schema).await?,
    };
    let database_url = database.url().to_owned();
    let hooks = Receiver::start().await;
    let spool_dir = tempfile::tempdir().expect("a temp dir");
    let vars = payments_testkit::server::server_vars(spool_dir.path(), &database_url);
    let vars = payments_testkit::server::with_overrides(
        vars,
        &[
            ("PAYMENT_MODE", "local"),
            ("PAYMENT_DATABASE_MAX_CONNECTIONS", "5"),
            ("PAYMENT_WEBHOOK_RETRY_SCHEDULE", "100ms,100ms,100ms,200ms,200ms,500ms"),
            ("PAYMENT_WEBHOOK_TIMEOUT_SECS", "5"),
            ("PAYMENT_PG_TIMEOUT_SECS", "10"),
            // The scenarios count the PG reads each notification makes; the bound
            // on them (one re-read of a payment a second) is the reliability
            // suite's (`pg_faults.rs`), so here notifications are read at once.
            ("PAYMENT_NOTIFICATION_REREAD_MS", "0"),
        ],
    );
    let vars = payments_testkit::server::with_overrides(vars, overrides);
    let (app, config) = payments_testkit::server::start_in_process(&vars).await.expect("the server starts");
    let vars = vars.clone();
    let url = app.url();
    let client = PaymentsClient::new(&url, KEY.as_bytes(), IV.as_bytes()).expect("a client");
    let http = reqwest::Client::builder().timeout(WAIT).build().expect("an HTTP client");
    let iamport_addr = app.fake(payments_domain::VendorCode::Iamport).expect("local mode starts the fake Iamport");
    let toss_addr = app.fake(payments_domain::VendorCode::TossPayments).expect("local mode starts the fake Toss");
    let portone_addr = app.fake(payments_domain::VendorCode::PortOne).expect("local mode starts the fake PortOne");
    Some(TestApp {
        backend,
        database: Some(database),
        database_url,
        config,
        vars,
        client,
        hooks,
        iamport: FakeIamport { url: format!("http://{iamport_addr}"), http: http.clone() },
        toss: FakeToss { url: format!("http://{toss_addr}"), http: http.clone() },
        portone: FakePortOne { url: format!("http://{portone_addr}"), http: http.clone() },
        http,
        app: Some(app),
        _spool: spool_dir,
    })
}

/// The `payments` binary, built once per test process. The first call may
/// build it (minutes on a cold machine): a scenario that runs a command
/// calls this before its clock starts (see `orders_reconcile.rs`).
///
/// # Panics
/// When it cannot be built.
pub async fn payments_binary() -> std::path::PathBuf {
    static BINARY: tokio::sync::OnceCell<std::path::PathBuf> = tokio::sync::OnceCell::const_new();
    BINARY
        .get_or_init(|| async {
            tokio::task::spawn_blocking(payments_testkit::payments_binary)
                .await
                .expect("the build task")
                .expect("the payments binary")
        })
        .await
        .clone()
}

/// Runs `scenario` on a fresh server on `backend`, bounded by
/// [`SCENARIO_LIMIT`], then stops the server and drops its database (also
/// when the scenario fails).
pub async fn run<F>(backend: Backend, test: &str, scenario: F)
where
    F: for<'a> AsyncScenario<'a>,
{
    run_with(backend, test, &[], scenario).await;
}

/// As [`run`], on a server configured with `overrides` (see [`spawn_app_with`]).
pub async fn run_with<F>(backend: Backend, test: &str, overrides: &[(&str, &str)], scenario: F)
where
    F: for<'a> AsyncScenario<'a>,
{
    let Some(mut app) = spawn_app_with(backend, test, overrides).await else { return };
    let started = std::time::Instant::now();
    let outcome = AssertUnwindSafe(tokio::time::timeout(SCENARIO_LIMIT, scenario.call(&app))).catch_unwind().await;
    eprintln!("{test}: scenario took {} ms", started.elapsed().as_millis());
    let mut rejected = app.hooks.rejected();
    // Every delivery the client's verifier must read as a webhook body.
    rejected.extend(app.hooks.all().into_iter().filter_map(|d| d.webhook.err()));
    app.stop().await;
    match outcome {
        Ok(Ok(())) => assert!(rejected.is_empty(), "{test}: deliveries that did not verify: {rejected:?}"),
        Ok(Err(_)) => panic!("{test} did not finish within {SCENARIO_LIMIT:?}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// An `async fn(&TestApp)`.
pub trait AsyncScenario<'a> {
    type Output: Future<Output = ()> + 'a;
    fn call(&self, app: &'a TestApp) -> Self::Output;
}

impl<'a, F, Fut> AsyncScenario<'a> for F
where
    F: Fn(&'a TestApp) -> Fut,
    Fut: Future<Output = ()> + 'a,
{
    type Output = Fut;
    fn call(&self, app: &'a TestApp) -> Fut {
        self(app)
    }
}

/// Instantiates each scenario for both backends: `sqlite_<name>` and
/// `postgres_<name>`; `with [(VAR, value), ...];` first configures every server.
#[macro_export]
macro_rules! scenarios {
    (with $overrides:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let test = concat!("sqlite::", stringify!($name));
                    $crate::run_with($crate::Backend::Sqlite, test, &$overrides, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let test = concat!("postgres::", stringify!($name));
                    $crate::run_with($crate::Backend::Postgres, test, &$overrides, super::$name).await;
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::scenarios!(with []; $($name),*);
    };
}

impl TestApp {
    /// The notifications of `pg` (its vendor code) taken in with `outcome`
    /// so far (`payments_pg_notifications_total`).
    pub async fn pg_notifications(&self, pg: &str, outcome: &str) -> f64 {
        metric(&self.scrape().await, &format!(r#"payments_pg_notifications_total{{pg="{pg}",outcome="{outcome}"}}"#))
    }

    /// Waits (20 s at most) until `pg`'s notifications with `outcome` number
    /// at least `count`.
    pub async fn pg_notifications_reach(&self, pg: &str, outcome: &str, count: f64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.pg_notifications(pg, outcome).await < count {
            assert!(std::time::Instant::now() < deadline, "{pg}: never {count} notifications {outcome}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The API's base URL.
    pub fn url(&self) -> String {
        self.client.base_url().to_owned()
    }

    /// The server's `/metrics` URL (its own port).
    pub fn metrics_url(&self) -> String {
        let addr = self.app.as_ref().and_then(RunningApp::metrics_addr).expect("the test servers serve metrics");
        format!("http://{addr}/metrics")
    }

    /// One scrape of `/metrics`.
    pub async fn scrape(&self) -> String {
        let response = self.http.get(self.metrics_url()).send().await.expect("the metrics answer");
        assert_eq!(response.status().as_u16(), 200);
        response.text().await.expect("the metrics text")
    }

    /// A webhook URL at the test receiver that answers 200.
    pub fn hook_url(&self) -> String {
        self.hooks.url()
    }

    /// A webhook URL at the test receiver that answers 500 to the first
    /// `failures` deliveries of each event, then 200.
    pub fn flaky_hook_url(&self, failures: u32) -> String {
        self.hooks.flaky_url(failures)
    }

    /// Stops the server and drops its database (best effort).
    pub async fn stop(&mut self) {
        if let Some(app) = self.app.take()
            && let Err(error) = app.stop().await
        {
            eprintln!("the server stopped with an error: {error:#}");
        }
        self.hooks.stop().await;
        if let Some(database) = self.database.take() {
            database.remove().await;
        }
    }

    /// The delivery attempts the server recorded for event `id`, read from its database.
    pub async fn attempts(&self, id: uuid::Uuid) -> anyhow::Result<Vec<payments_domain::DeliveryAttempt>> {
        let pool = payments_sqlx::PoolConfig { max_connections: 1, ..payments_sqlx::PoolConfig::default() };
        let database = payments_sqlx::Database::connect(&self.database_url, &pool).await.context("connect")?;
        let repositories = database.repositories(payments_server::app::at_rest_keys(&self.config));
        let attempts = repositories.outbox.attempts(payments_domain::EventId::from_uuid(id)).await;
        database.close().await;
        Ok(attempts?)
    }

    /// Waits (bounded) until the outbox has nothing pending or retrying and
    /// `delivered` deliveries done, and returns its counts.
    pub async fn outbox_settled(&self, delivered: u64) -> wire::OutboxBody {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let outbox = self.client.performance().await.expect("performance").outbox.expect("this server delivers");
            if outbox.pending == 0 && outbox.retrying == 0 && outbox.delivered >= delivered {
                return outbox;
            }
            assert!(tokio::time::Instant::now() < deadline, "the outbox did not settle at {delivered}: {outbox:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Sends `json` encrypted as the client would, without the client's
    /// typing (to send what the types forbid); answers the status and the
    /// error body (or the decrypted answer).
    pub async fn send_encrypted(&self, method: reqwest::Method, path: &str, json: &Value) -> (u16, Value) {
        let cipher = payments_crypto::WireCipher::new(KEY.as_bytes(), IV.as_bytes()).expect("a cipher");
        let response = self
            .http
            .request(method, format!("{}{path}", self.url()))
            .header("content-type", "text/plain; charset=utf-8")
            .body(cipher.encrypt(json.to_string().as_bytes()))
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let plain = if status < 300 { cipher.decrypt(&text).unwrap_or(text) } else { text };
        (status, serde_json::from_str(&plain).unwrap_or(Value::String(plain)))
    }

    /// POSTs a PG webhook as the PG would; answers its status.
    pub async fn post_pg_webhook(&self, pg: &str, body: &Value) -> u16 {
        // PortOne signs what it sends (Standard Webhooks), with the secret of
        // the fake's store.
        let text = body.to_string();
        let mut request = self
            .http
            .post(format!("{}/payments/webhooks/{pg}", self.url()))
            .header("content-type", "application/json")
            .body(text.clone());
        if pg == "portone" {
            let signer = standardwebhooks::Webhook::new(payments_portone::fake::TEST_WEBHOOK_SECRET).expect("a secret");
            let (id, at) = (format!("msg_{}", uuid::Uuid::new_v4().simple()), chrono::Utc::now().timestamp());
            let signature = signer.sign(&id, at, text.as_bytes()).expect("signed");
            request = request
                .header("webhook-id", id)
                .header("webhook-timestamp", at.to_string())
                .header("webhook-signature", signature);
        }
        request.send().await.expect("the server answers").status().as_u16()
    }

    /// Registers a payment with the standard password and the receiver's hook.
    pub async fn register(
        &self,
        code: wire::VendorCodeBody,
        uid: &str,
        order: &str,
        price: u64,
    ) -> Result<wire::HistoryBody, ClientError> {
        self.register_to(code, uid, order, price, self.hook_url()).await
    }

    /// Registers a payment with the standard password and `webhook_url`.
    pub async fn register_to(
        &self,
        code: wire::VendorCodeBody,
        uid: &str,
        order: &str,
        price: u64,
        webhook_url: String,
    ) -> Result<wire::HistoryBody, ClientError> {
        self.register_amount(code, uid, order, amount(price), webhook_url).await
    }

    /// Registers a payment of `price` (decimal text: `"10.5"`) with the
    /// standard password and the receiver's hook.
    pub async fn register_price(
        &self,
        code: wire::VendorCodeBody,
        uid: &str,
        order: &str,
        price: &str,
    ) -> Result<wire::HistoryBody, ClientError> {
        self.register_amount(code, uid, order, decimal(price), self.hook_url()).await
    }

    async fn register_amount(
        &self,
        code: wire::VendorCodeBody,
        uid: &str,
        order: &str,
        price: wire::WireAmount,
        webhook_url: String,
    ) -> Result<wire::HistoryBody, ClientError> {
        self.client
            .create_history(&wire::CreateHistoryBody {
                vendor: vendor(code, uid),
                source: source(order),
                price,
                password: PASSWORD.into(),
                webhook_url,
                currency: None,
            })
            .await
    }

    /// Cancels `price` of the payment of `order`.
    pub async fn cancel(
        &self,
        order: &str,
        price: u64,
        account: Option<wire::RefundAccountBody>,
    ) -> Result<wire::HistoryBody, ClientError> {
        self.cancel_price(order, &price.to_string(), account).await
    }

    /// Cancels `price` (decimal text: `"2.25"`) of the payment of `order`.
    pub async fn cancel_price(
        &self,
        order: &str,
        price: &str,
        account: Option<wire::RefundAccountBody>,
    ) -> Result<wire::HistoryBody, ClientError> {
        self.client
            .cancel_history(&wire::CancelHistoryBody {
                source: source(order),
                password: PASSWORD.into(),
                price: decimal(price),
                reason: format!("e2e cancel of {price}"),
                account,
            })
            .await
    }
}

/// The value of `series` (`name{label="v",...}` exactly as rendered) in a
/// `/metrics` text; 0 when absent (a counter never incremented).
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.split(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The store id of a PG at the fakes.
pub fn store_of(code: wire::VendorCodeBody) -> &'static str {
    match code {
        wire::VendorCodeBody::Iamport => IAMPORT_STORE,
        wire::VendorCodeBody::TossPayments => TOSS_STORE,
        wire::VendorCodeBody::PortOne => PORTONE_STORE,
    }
}

pub fn vendor(code: wire::VendorCodeBody, uid: &str) -> wire::VendorInputBody {
    wire::VendorInputBody { code, store_id: store_of(code).into(), uid: uid.into() }
}

/// The test's own record `order` (schema `shop`, table `orders`).
pub fn source(order: &str) -> wire::SourceBody {
    wire::SourceBody { schema: "shop".into(), table: "orders".into(), id: order.into() }
}

/// Accessor of `order` with the standard password.
pub fn accessor(order: &str) -> wire::SourceAccessorBody {
    accessor_with(order, PASSWORD)
}

pub fn accessor_with(order: &str, password: &str) -> wire::SourceAccessorBody {
    wire::SourceAccessorBody {
        schema: "shop".into(),
        table: "orders".into(),
        id: order.into(),
        password: password.into(),
    }
}

pub fn amount(value: u64) -> wire::WireAmount {
    wire::WireAmount(serde_json::Number::from(value))
}

/// An amount written as decimal text (`"10.5"`), its digits kept exactly.
pub fn decimal(text: &str) -> wire::WireAmount {
    wire::WireAmount(serde_json::from_str(text).expect("a JSON number"))
}

/// A money value as its exact text (`"10000"`).
pub fn money_text(money: &wire::WireMoney) -> String {
    money.0.to_string()
}

/// Asserts `error` is an API error with `status`.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(result: Result<T, ClientError>, status: u16) -> ClientError {
    match result {
        Err(error @ ClientError::Api { .. }) if error.status() == Some(status) => error,
        other => panic!("expected an API error {status}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// The fake PGs, as the customers use them
// ---------------------------------------------------------------------------

async fn call(request: reqwest::RequestBuilder, what: &str) -> (u16, Value) {
    let response = request.send().await.unwrap_or_else(|e| panic!("{what}: the fake does not answer: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, value)
}

/// The fake Iamport, as a customer (and a test) uses it.
pub struct FakeIamport {
    pub url: String,
    http: reqwest::Client,
}

impl FakeIamport {
    async fn token(&self) -> String {
        let request = self.http.post(format!("{}/users/getToken", self.url)).json(&json!({
            "imp_key": payments_iamport::fake::TEST_IMP_KEY,
            "imp_secret": payments_iamport::fake::TEST_IMP_SECRET,
        }));
        let (status, body) = call(request, "iamport getToken").await;
        assert!(status < 300, "getToken answered {status}: {body}");
        body["response"]["access_token"].as_str().expect("an access token").to_owned()
    }

    /// An authorised call; answers the status and the envelope's `response`.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = self.token().await;
        let mut request = self.http.request(method, format!("{}{path}", self.url)).header("Authorization", token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, envelope) = call(request, path).await;
        assert_eq!(envelope["code"], 0, "{path} answered {status}: {envelope}");
        (status, envelope["response"].clone())
    }

    /// A paid card payment of `amount` won for `order` (its `merchant_uid`);
    /// answers its `imp_uid`.
    pub async fn card_payment(&self, order: &str, amount: u64) -> String {
        let body = json!({
            "card_number": "1234-5678-1234-5678", "expiry": "2030-12", "birth": "900101", "pwd_2digit": "12",
            "name": "e2e order", "merchant_uid": order, "amount": amount,
        });
        let (_, payment) = self.call(reqwest::Method::POST, "/subscribe/payments/onetime", Some(body)).await;
        payment["imp_uid"].as_str().expect("an imp_uid").to_owned()
    }

    /// A virtual account awaiting a deposit of `amount` won for `order`;
    /// answers its `imp_uid`.
    pub async fn virtual_account(&self, order: &str, amount: u64) -> String {
        let body = json!({
            "merchant_uid": order, "amount": amount, "vbank_code": "088",
            "vbank_due": 1_900_000_000, "vbank_holder": "E2E Holder", "name": "e2e vbank order",
        });
        let (_, payment) = self.call(reqwest::Method::POST, "/vbanks", Some(body)).await;
        assert_eq!(payment["status"], "ready");
        payment["imp_uid"].as_str().expect("an imp_uid").to_owned()
    }

    /// The customer pays into the virtual account.
    pub async fn deposit(&self, imp_uid: &str) {
        let token = self.token().await;
        let request = self.http.put(format!("{}/internal/deposit/{imp_uid}", self.url)).header("Authorization", token);
        let (status, body) = call(request, "iamport deposit").await;
        assert_eq!(status, 200, "deposit answered {body}");
    }

    /// The payment as Iamport shows it.
    pub async fn payment(&self, imp_uid: &str) -> Value {
        self.call(reqwest::Method::GET, &format!("/payments/{imp_uid}"), None).await.1
    }

    /// Saves a card under `customer_uid`.
    pub async fn save_card(&self, customer_uid: &str) -> Value {
        self.save_card_numbered(customer_uid, "4321-5678-1234-8765").await
    }

    /// Saves a card of this number (the fake declines charges of
    /// `payments_iamport::fake::REFUSED_CARD_NUMBER`).
    pub async fn save_card_numbered(&self, customer_uid: &str, number: &str) -> Value {
        let body = json!({
            "card_number": number, "expiry": "2031-01", "birth": "900101", "pwd_2digit": "34",
            "customer_name": "E2E Customer",
        });
        self.call(reqwest::Method::POST, &format!("/subscribe/customers/{customer_uid}"), Some(body)).await.1
    }

    /// Charges the saved card for `order`; answers the payment's `imp_uid`.
    pub async fn charge_saved_card(&self, customer_uid: &str, order: &str, amount: u64) -> String {
        let body = json!({
            "customer_uid": customer_uid, "merchant_uid": order, "amount": amount, "name": "e2e subscription",
        });
        let (_, payment) = self.call(reqwest::Method::POST, "/subscribe/payments/again", Some(body)).await;
        payment["imp_uid"].as_str().expect("an imp_uid").to_owned()
    }
}

/// The fake Toss Payments, as a customer (and a test) uses it.
pub struct FakeToss {
    pub url: String,
    http: reqwest::Client,
}

impl FakeToss {
    /// An authorised call; answers the status and the body.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("Authorization", payments_toss::basic_authorization(payments_toss::TEST_SECRET_KEY));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, value) = call(request, path).await;
        assert!(status < 300, "{path} answered {status}: {value}");
        (status, value)
    }

    /// An approved card payment for `order` (its `orderId`); answers its `paymentKey`.
    pub async fn card_payment(&self, order: &str, amount: u64) -> String {
        let body = json!({
            "method": "card", "cardNumber": "1111222233334444", "cardExpirationYear": "29",
            "cardExpirationMonth": "07", "amount": amount, "orderId": order, "orderName": "e2e order",
        });
        let (_, payment) = self.call(reqwest::Method::POST, "/v1/payments/key-in", Some(body)).await;
        assert_eq!(payment["status"], "DONE", "{payment}");
        payment["paymentKey"].as_str().expect("a paymentKey").to_owned()
    }

    /// A card payment the customer authenticated in Toss's window and the
    /// merchant has not confirmed yet (`IN_PROGRESS`); answers its `paymentKey`.
    pub async fn authenticated_card_payment(&self, order: &str, amount: u64) -> String {
        self.authenticated_with_card("1111222233334444", order, amount).await
    }

    /// As [`FakeToss::authenticated_card_payment`], with another card number.
    pub async fn authenticated_with_card(&self, card_number: &str, order: &str, amount: u64) -> String {
        let body = json!({
            "method": "card", "cardNumber": card_number, "cardExpirationYear": "29",
            "cardExpirationMonth": "07", "amount": amount, "orderId": order, "orderName": "e2e order",
            "__approved": false,
        });
        let (_, payment) = self.call(reqwest::Method::POST, "/v1/payments/key-in", Some(body)).await;
        assert_eq!(payment["status"], "IN_PROGRESS", "{payment}");
        payment["paymentKey"].as_str().expect("a paymentKey").to_owned()
    }

    /// Toss's 10 minutes pass without a confirmation: the payment expires.
    pub async fn expire(&self, payment_key: &str) {
        let (_, payment) = self.call(reqwest::Method::PUT, &format!("/internal/{payment_key}/expire"), None).await;
        assert_eq!(payment["status"], "EXPIRED", "{payment}");
    }

    /// The bank reverses the deposit of a paid virtual account.
    pub async fn reverse_deposit(&self, payment_key: &str) {
        let path = format!("/internal/{payment_key}/reverse-deposit");
        let (_, payment) = self.call(reqwest::Method::PUT, &path, None).await;
        assert_eq!(payment["status"], "WAITING_FOR_DEPOSIT", "{payment}");
    }

    /// The `Idempotency-Key` the payment's confirmation carried (`None`:
    /// none, or not confirmed).
    pub async fn confirmation_key(&self, payment_key: &str) -> Option<String> {
        let path = format!("/internal/{payment_key}/confirmation");
        let (_, answer) = self.call(reqwest::Method::GET, &path, None).await;
        answer["idempotencyKey"].as_str().map(str::to_owned)
    }

    /// The customer registers a card in Toss's card-registration window;
    /// answers the `authKey` the window hands to the merchant.
    pub async fn card_registration(&self, customer_key: &str) -> String {
        let body = json!({
            "customerKey": customer_key, "cardNumber": "4330123412341234", "cardExpirationYear": "29",
            "cardExpirationMonth": "12",
        });
        let (_, answer) = self.call(reqwest::Method::POST, "/internal/billing/auth", Some(body)).await;
        assert_eq!(answer["customerKey"], customer_key, "{answer}");
        answer["authKey"].as_str().expect("an authKey").to_owned()
    }

    /// A virtual account awaiting its deposit for `order`; answers its `paymentKey`.
    pub async fn virtual_account(&self, order: &str, amount: u64) -> String {
        let body = json!({
            "method": "virtual-account", "orderId": order, "orderName": "e2e vbank order", "bank": "신한",
            "customerName": "E2E Customer", "amount": amount,
        });
        let (_, payment) = self.call(reqwest::Method::POST, "/v1/virtual-accounts", Some(body)).await;
        assert_eq!(payment["status"], "WAITING_FOR_DEPOSIT", "{payment}");
        payment["paymentKey"].as_str().expect("a paymentKey").to_owned()
    }

    /// The customer pays into the virtual account.
    pub async fn deposit(&self, payment_key: &str) {
        let (_, payment) = self.call(reqwest::Method::PUT, &format!("/internal/{payment_key}/deposit"), None).await;
        assert_eq!(payment["status"], "DONE", "{payment}");
    }

    /// The payment as Toss shows it.
    pub async fn payment(&self, payment_key: &str) -> Value {
        self.call(reqwest::Method::GET, &format!("/v1/payments/{payment_key}"), None).await.1
    }

    /// Saves a card for `customer_key`; answers the `billingKey`.
    pub async fn save_card(&self, customer_key: &str) -> String {
        self.save_card_numbered(customer_key, "4444333322221111").await
    }

    /// Saves a card of this number (the fake refuses charges of
    /// `payments_toss::fake::REFUSED_CARD_NUMBER`); answers the billing key.
    pub async fn save_card_numbered(&self, customer_key: &str, number: &str) -> String {
        let body = json!({
            "cardNumber": number, "cardExpirationYear": "29", "cardExpirationMonth": "12",
            "cardPassword": "00", "customerBirthday": "880101", "customerKey": customer_key,
        });
        let (_, billing) = self.call(reqwest::Method::POST, "/v1/billing/authorizations/card", Some(body)).await;
        billing["billingKey"].as_str().expect("a billingKey").to_owned()
    }

    /// Charges the saved card for `order`; answers the payment's `paymentKey`.
    pub async fn charge_saved_card(&self, billing_key: &str, customer_key: &str, order: &str, amount: u64) -> String {
        let body = json!({
            "customerKey": customer_key, "orderId": order, "amount": amount, "orderName": "e2e subscription",
        });
        let (_, payment) = self.call(reqwest::Method::POST, &format!("/v1/billing/{billing_key}"), Some(body)).await;
        assert_eq!(payment["status"], "DONE", "{payment}");
        payment["paymentKey"].as_str().expect("a paymentKey").to_owned()
    }
}

/// The fake PortOne V2, as a customer (and a test) uses it. A payment's id
/// there is the merchant's order id.
pub struct FakePortOne {
    pub url: String,
    http: reqwest::Client,
}

impl FakePortOne {
    /// An authorised call; answers the status and the body.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let secret = payments_portone::fake::TEST_API_SECRET;
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("Authorization", payments_portone::authorization(secret));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, value) = call(request, path).await;
        assert!(status < 300, "{path} answered {status}: {value}");
        (status, value)
    }

    /// A paid card payment for `order`; answers its payment id (`order`).
    pub async fn card_payment(&self, order: &str, amount: u64) -> String {
        let body = json!({"method": "card", "amount": amount, "orderName": "e2e order"});
        let (_, payment) = self.call(reqwest::Method::POST, &format!("/internal/payments/{order}"), Some(body)).await;
        assert_eq!(payment["status"], "PAID", "{payment}");
        payment["id"].as_str().expect("an id").to_owned()
    }

    /// A virtual account awaiting its deposit for `order`; answers its payment id.
    pub async fn virtual_account(&self, order: &str, amount: u64) -> String {
        let body = json!({"method": "virtualAccount", "amount": amount, "orderName": "e2e vbank order"});
        let (_, payment) = self.call(reqwest::Method::POST, &format!("/internal/payments/{order}"), Some(body)).await;
        assert_eq!(payment["status"], "VIRTUAL_ACCOUNT_ISSUED", "{payment}");
        payment["id"].as_str().expect("an id").to_owned()
    }

    /// The customer pays into the virtual account.
    pub async fn deposit(&self, payment_id: &str) {
        let path = format!("/internal/payments/{payment_id}/deposit");
        let (_, payment) = self.call(reqwest::Method::POST, &path, Some(json!({}))).await;
        assert_eq!(payment["status"], "PAID", "{payment}");
    }

    /// The payment as PortOne shows it.
    pub async fn payment(&self, payment_id: &str) -> Value {
        self.call(reqwest::Method::GET, &format!("/payments/{payment_id}"), None).await.1
    }

    /// A card of `number` saved in PortOne's window for `customer`; answers
    /// the billing key (the fake's PG declines charges of 4000-0000-0000-0002).
    pub async fn save_card_numbered(&self, customer: &str, number: &str) -> String {
        let body = json!({"customerId": customer, "cardNumber": number});
        let (_, info) = self.call(reqwest::Method::POST, "/internal/billing-keys", Some(body)).await;
        info["billingKey"].as_str().expect("a billingKey").to_owned()
    }

    /// Charges the billing key for `order` as a merchant does; answers the payment id.
    pub async fn charge_saved_card(&self, billing_key: &str, customer: &str, order: &str, amount: u64) -> String {
        let body = json!({"billingKey": billing_key, "orderName": "e2e subscription", "customer": {"id": customer},
                          "amount": {"total": amount}, "currency": "KRW"});
        self.call(reqwest::Method::POST, &format!("/payments/{order}/billing-key"), Some(body)).await;
        order.to_owned()
    }
}

// ---------------------------------------------------------------------------
// Either PG
// ---------------------------------------------------------------------------

pub use wire::VendorCodeBody as Pg;

/// `price` (major-unit decimal text) as PortOne's window takes it: a whole
/// number of the currency's minor unit, by the table of PortOne's payment
/// guide (`opi/ko/quick-guide/payment/index.mdx`: KRW 1배, USD 100배, JPY 1배).
/// Written out here, apart from the server's own conversion, so a test
/// catches a wrong one.
pub fn portone_minor_units(price: &str, currency: &str) -> u64 {
    let factor = match currency {
        "KRW" | "JPY" => 1,
        "USD" => 100,
        other => panic!("no PortOne factor for {other} in the tests"),
    };
    let decimals = if factor == 100 { 2 } else { 0 };
    let (whole, fraction) = price.split_once('.').unwrap_or((price, ""));
    assert!(fraction.len() <= decimals, "{price} {currency}: more decimals than the currency has");
    format!("{whole}{fraction:0<decimals$}").parse().expect("digits")
}

impl TestApp {
    /// A paid card payment of `amount` for `order` at `pg`; answers its uid.
    pub async fn card_payment(&self, pg: Pg, order: &str, amount: u64) -> String {
        match pg {
            Pg::Iamport => self.iamport.card_payment(order, amount).await,
            Pg::TossPayments => self.toss.card_payment(order, amount).await,
            Pg::PortOne => self.portone.card_payment(order, amount).await,
        }
    }

    /// A card payment of `price` (decimal text in the currency's major unit:
    /// `"10.50"`) in `currency` for `order` at `pg`, made as each PG's
    /// window takes it, in that PG's unit; answers its uid. Toss's
    /// multi-currency card payments wait for the merchant's confirmation
    /// (registration confirms them), the others are paid.
    pub async fn card_payment_in(&self, pg: Pg, order: &str, price: &str, currency: &str) -> String {
        let major: Value = serde_json::from_str(price).expect("a decimal");
        match pg {
            Pg::Iamport => {
                let body = json!({
                    "card_number": "1234-5678-1234-5678", "expiry": "2030-12", "birth": "900101", "pwd_2digit": "12",
                    "name": "e2e order", "merchant_uid": order, "amount": major, "currency": currency,
                });
                let (_, payment) =
                    self.iamport.call(reqwest::Method::POST, "/subscribe/payments/onetime", Some(body)).await;
                payment["imp_uid"].as_str().expect("an imp_uid").to_owned()
            }
            Pg::TossPayments => {
                let body = json!({
                    "method": "card", "cardNumber": "1111222233334444", "cardExpirationYear": "29",
                    "cardExpirationMonth": "07", "amount": major, "orderId": order, "orderName": "e2e order",
                    "__approved": false, "__currency": currency,
                });
                let (_, payment) = self.toss.call(reqwest::Method::POST, "/v1/payments/key-in", Some(body)).await;
                assert_eq!(payment["status"], "IN_PROGRESS", "{payment}");
                payment["paymentKey"].as_str().expect("a paymentKey").to_owned()
            }
            Pg::PortOne => {
                let total = portone_minor_units(price, currency);
                let body = json!({"method": "card", "amount": total, "currency": currency, "orderName": "e2e order"});
                let path = format!("/internal/payments/{order}");
                let (_, payment) = self.portone.call(reqwest::Method::POST, &path, Some(body)).await;
                assert_eq!(payment["status"], "PAID", "{payment}");
                payment["id"].as_str().expect("an id").to_owned()
            }
        }
    }

    /// A virtual account awaiting a deposit of `amount` for `order` at `pg`;
    /// answers its uid.
    pub async fn virtual_account(&self, pg: Pg, order: &str, amount: u64) -> String {
        match pg {
            Pg::Iamport => self.iamport.virtual_account(order, amount).await,
            Pg::TossPayments => self.toss.virtual_account(order, amount).await,
            Pg::PortOne => self.portone.virtual_account(order, amount).await,
        }
    }

    /// The customer pays into the virtual account `uid` at `pg`.
    pub async fn deposit(&self, pg: Pg, uid: &str) {
        match pg {
            Pg::Iamport => self.iamport.deposit(uid).await,
            Pg::TossPayments => self.toss.deposit(uid).await,
            Pg::PortOne => self.portone.deposit(uid).await,
        }
    }

    /// The payment as `pg` shows it.
    pub async fn pg_payment(&self, pg: Pg, uid: &str) -> Value {
        match pg {
            Pg::Iamport => self.iamport.payment(uid).await,
            Pg::TossPayments => self.toss.payment(uid).await,
            Pg::PortOne => self.portone.payment(uid).await,
        }
    }

    /// The status `pg` shows for payment `uid` (`paid`/`cancelled`, `DONE`/`CANCELED`...)
    /// and what is left of it (integer amounts only).
    pub async fn pg_state(&self, pg: Pg, uid: &str) -> (String, i64) {
        let payment = self.pg_payment(pg, uid).await;
        let number = |v: &Value| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).unwrap_or(-1);
        let balance = match pg {
            Pg::Iamport => number(&payment["amount"]) - number(&payment["cancel_amount"]),
            Pg::TossPayments => number(&payment["balanceAmount"]),
            Pg::PortOne => number(&payment["amount"]["paid"]) - number(&payment["amount"]["cancelled"]),
        };
        (payment["status"].as_str().unwrap_or_default().to_owned(), balance)
    }

    /// The webhook `pg` sends when payment `uid` changes, as `pg` would send it now.
    pub async fn pg_webhook(&self, pg: Pg, uid: &str) -> Value {
        let payment = self.pg_payment(pg, uid).await;
        match pg {
            Pg::Iamport => json!({
                "imp_uid": uid, "merchant_uid": payment["merchant_uid"], "status": payment["status"],
            }),
            Pg::TossPayments => json!({
                "eventType": "PAYMENT_STATUS_CHANGED",
                "createdAt": "2026-11-24T12:00:00.000000",
                "data": payment,
            }),
            // Version 2024-04-25: the type names the change, the data the ids.
            Pg::PortOne => json!({
                "type": match payment["status"].as_str() {
                    Some("CANCELLED") => "Transaction.Cancelled",
                    Some("PARTIAL_CANCELLED") => "Transaction.PartialCancelled",
                    Some("VIRTUAL_ACCOUNT_ISSUED") => "Transaction.VirtualAccountIssued",
                    _ => "Transaction.Paid",
                },
                "timestamp": "2026-12-02T12:00:00.000Z",
                "data": {"paymentId": uid, "storeId": payment["storeId"], "transactionId": payment["transactionId"]},
            }),
        }
    }

    /// The path segment of `pg`'s webhook route (`iamport`, `toss`).
    pub fn webhook_route(pg: Pg) -> &'static str {
        match pg {
            Pg::Iamport => "iamport",
            Pg::TossPayments => "toss",
            Pg::PortOne => "portone",
        }
    }

    /// A refund account `pg` accepts for a virtual-account refund.
    pub fn refund_account(pg: Pg) -> wire::RefundAccountBody {
        let bank = match pg {
            Pg::Iamport => "088",
            Pg::TossPayments => "신한",
            Pg::PortOne => "088",
        };
        wire::RefundAccountBody {
            bank: bank.into(),
            account: "110123456789".into(),
            holder: "E2E Holder".into(),
            mobile: "01012345678".into(),
        }
    }
}

// ---------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------

impl TestApp {
    /// The request of an order of `price` won for `order` at `pg`, with the
    /// standard password and the receiver's hook.
    pub fn order_request(&self, pg: Pg, order: &str, price: u64) -> wire::CreateOrderBody {
        wire::CreateOrderBody {
            vendor: wire::OrderVendorBody { code: pg, store_id: store_of(pg).into() },
            source: source(order),
            price: amount(price),
            currency: None,
            password: PASSWORD.into(),
            webhook_url: self.hook_url(),
            expires_in: None,
        }
    }

    /// Registers an order of `price` won for `order` at `pg`.
    pub async fn create_order(&self, pg: Pg, order: &str, price: u64) -> Result<wire::OrderBody, ClientError> {
        self.client.create_order(&self.order_request(pg, order, price)).await
    }

    /// The customer pays `amount` for `order` in `pg`'s window, its webhook
    /// reaching us unless `webhook_lost`; answers the payment's uid, or the
    /// window's refusal (status and body). Toss's window only authenticates:
    /// the payment waits for the merchant's confirmation (and Toss sends no
    /// webhook for it).
    pub async fn pay_in_window(
        &self,
        pg: Pg,
        order: &str,
        amount: u64,
        webhook_lost: bool,
    ) -> Result<String, (u16, Value)> {
        match pg {
            Pg::Iamport => {
                let mut body = json!({"merchant_uid": order, "amount": amount, "name": "e2e order"});
                if webhook_lost {
                    // Its notice goes to the fake's own sink: it never reaches us.
                    body["notice_url"] = json!(format!("{}/internal/webhook", self.iamport.url));
                }
                let token = self.iamport.token().await;
                let request = self
                    .http
                    .post(format!("{}/internal/payments", self.iamport.url))
                    .header("Authorization", token)
                    .json(&body);
                match call(request, "iamport window").await {
                    (200, report) => Ok(report["imp_uid"].as_str().expect("an imp_uid").to_owned()),
                    refused => Err(refused),
                }
            }
            Pg::TossPayments => Ok(self.toss.authenticated_card_payment(order, amount).await),
            Pg::PortOne => {
                let body =
                    json!({"method": "card", "amount": amount, "orderName": "e2e order", "loseWebhook": webhook_lost});
                let request = self
                    .http
                    .post(format!("{}/internal/payments/{order}", self.portone.url))
                    .header("Authorization", payments_portone::authorization(payments_portone::fake::TEST_API_SECRET))
                    .json(&body);
                match call(request, "portone window").await {
                    (200, payment) => Ok(payment["id"].as_str().expect("an id").to_owned()),
                    refused => Err(refused),
                }
            }
        }
    }

    /// Runs `payments ARGS` as an operator would beside this server: its
    /// configuration, its database, its fake PGs; answers what it printed
    /// (its output, then its log).
    ///
    /// # Panics
    /// When the binary cannot be built or run, or the command fails.
    pub async fn run_command(&self, args: &[&str]) -> String {
        let binary = payments_binary().await;
        let dir = tempfile::tempdir().expect("a temp dir");
        // The fakes of this server, where they listen (their ports were chosen at start).
        let fakes = [
            ("PAYMENT_IAMPORT_URL", &self.iamport.url),
            ("PAYMENT_TOSS_URL", &self.toss.url),
            ("PAYMENT_PORTONE_URL", &self.portone.url),
        ];
        let env: Vec<(String, String)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(fakes.iter().map(|(k, v)| ((*k).to_owned(), (*v).clone())))
            .collect();
        let output = payments_testkit::process::run(&binary, dir.path(), &env, args).await;
        assert!(output.status.success(), "payments {args:?} failed: {}", output.stderr);
        format!("{}\n{}", output.stdout, output.stderr)
    }

    /// Moves the expiry of the order of `order` to its creation: the clock,
    /// for this order, past its lifetime (the server's own clock cannot be
    /// moved from a test).
    pub async fn expire_order_now(&self, order: &str) {
        let sql = "UPDATE payment_orders SET expires_at = created_at WHERE source_id = $1";
        let updated = match self.backend {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.database_url).await.expect("the test database");
                sqlx::query(sql).bind(order).execute(&pool).await.expect("updated").rows_affected()
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&self.database_url).await.expect("the test database");
                sqlx::query(sql).bind(order).execute(&pool).await.expect("updated").rows_affected()
            }
        };
        assert_eq!(updated, 1, "one order of {order}");
    }
}

// ---------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------

/// A client of the server under test, as its backend holds it: its API
/// client (its key, its wire key) and a receiver checking its webhooks with
/// its own secret and wire key.
pub struct TestClient {
    pub id: payments_domain::ClientId,
    pub api_key: String,
    pub client: PaymentsClient,
    pub hooks: Receiver,
    /// Its wire key and IV, to seal a body by hand.
    pub cipher: payments_crypto::WireCipher,
    /// Its webhook secret as added.
    pub webhook_secret: String,
}

impl TestApp {
    /// Adds a client (`payments clients add` does the same) with `scopes`
    /// (`all`, or `read,register,...`).
    ///
    /// # Panics
    /// When the database cannot be reached or the client not added.
    pub async fn add_client(&self, name: &str, scopes: &str) -> TestClient {
        self.add_client_at_rate(name, scopes, None).await
    }

    /// As [`Self::add_client`], allowed `rate` requests a second (`None`: the server's default).
    ///
    /// # Panics
    /// As [`Self::add_client`].
    pub async fn add_client_at_rate(&self, name: &str, scopes: &str, rate: Option<u32>) -> TestClient {
        self.add_client_as(name, scopes, rate, false).await
    }

    /// As [`Self::add_client`]: `rate` requests a second (`None`: the
    /// server's default), bodies plain JSON when `plain_json`.
    ///
    /// # Panics
    /// As [`Self::add_client`].
    pub async fn add_client_as(&self, name: &str, scopes: &str, rate: Option<u32>, plain_json: bool) -> TestClient {
        let (database, clients) = self.clients().await;
        let new = payments_application::NewClient {
            name: payments_domain::ClientName::parse(name).expect("a name"),
            scopes: payments_domain::Scopes::parse(scopes).expect("scopes"),
            plain_json,
            rate_per_second: rate,
        };
        let issued = clients.add(new).await.expect("the client is added");
        database.close().await;
        let secrets = &issued.secrets;
        let keys = payments_testkit::ReceiverKeys {
            secret: secrets.webhook_secret.clone(),
            key: secrets.wire_key.clone(),
            iv: secrets.wire_iv.clone(),
        };
        let client = PaymentsClient::new(self.url(), &secrets.wire_key, &secrets.wire_iv)
            .expect("a client")
            .with_api_key(issued.api_key.clone());
        TestClient {
            id: issued.client.id,
            api_key: issued.api_key.clone(),
            client,
            hooks: Receiver::start_with(&keys).await,
            cipher: payments_crypto::WireCipher::new(&secrets.wire_key, &secrets.wire_iv).expect("a cipher"),
            webhook_secret: secrets.webhook_secret.clone(),
        }
    }

    /// The clients use cases over this server's database, as `payments
    /// clients` opens them (close the database after).
    async fn clients(&self) -> (payments_sqlx::Database, payments_application::ClientService) {
        let pool = payments_sqlx::PoolConfig::default();
        let database = payments_sqlx::Database::connect(&self.database_url, &pool).await.expect("the test database");
        let repositories = database.repositories(payments_server::app::at_rest_keys(&self.config));
        let clients = payments_server::app::client_service(&self.config, &repositories);
        (database, clients)
    }

    /// Revokes a client (`payments clients revoke`).
    ///
    /// # Panics
    /// When it cannot.
    pub async fn revoke_client(&self, id: payments_domain::ClientId) {
        let (database, clients) = self.clients().await;
        clients.revoke(id).await.expect("revoked");
        database.close().await;
    }
}

impl TestApp {
    /// Rotates a client's API key (`payments clients rotate-key`); the new key.
    ///
    /// # Panics
    /// When it cannot.
    pub async fn rotate_client_key(&self, id: payments_domain::ClientId, grace: Duration) -> String {
        let (database, clients) = self.clients().await;
        let key = clients.rotate_key(id, grace).await;
        database.close().await;
        key.expect("rotated")
    }

    /// Rotates a client's webhook secret (`payments clients rotate-webhook-secret`); the new secret.
    ///
    /// # Panics
    /// When it cannot.
    pub async fn rotate_client_secret(&self, id: payments_domain::ClientId, grace: Duration) -> String {
        let pool = payments_sqlx::PoolConfig::default();
        let database = payments_sqlx::Database::connect(&self.database_url, &pool).await.expect("the test database");
        let repositories = database.repositories(payments_server::app::at_rest_keys(&self.config));
        let secret =
            payments_server::app::client_service(&self.config, &repositories).rotate_webhook_secret(id, grace).await;
        database.close().await;
        secret.expect("rotated")
    }
}
