//! Helpers of the reliability, fault and hostile-input tests: the server
//! started in-process (exactly what `payments serve` starts) or as a real
//! process, an encrypting client, the fake PGs, and a webhook receiver that
//! records every delivery. See `RELIABILITY.md` for what each test shows.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use payments_crypto::WireCipher;
use payments_server::{Config, RunningApp};
use reqwest::Method;
use serde_json::{Value, json};

/// The fake Toss Payments' public test secret (Basic auth user, empty password).
pub const TOSS_SECRET: &str = "test_ak_ZORzdMaqN3wQd5k6ygr5AkYXQGwy";
/// The wire key and IV every test server uses.
pub const WIRE_KEY: &str = "reliability-wire-key-32-bytes!!!";
/// See [`WIRE_KEY`].
pub const WIRE_IV: &str = "reliability-iv16";
/// At-rest keys of the test servers (so the security tests can look for them).
pub const HISTORY_KEY: &str = "reliability-history-key-32bytes!";
/// See [`HISTORY_KEY`].
pub const RESERVATION_KEY: &str = "reliability-reservation-key-32b!";
/// See [`HISTORY_KEY`].
pub const CANCEL_KEY: &str = "reliability-cancel-key-32-bytes!";
/// The webhook signing secret of the test servers.
pub const WEBHOOK_SECRET: &str = "whsec_cmVsaWFiaWxpdHktd2ViaG9vay1zZWNyZXQtMzI=";

/// Per-request deadline of the test client: an answer slower than this is a hang.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The variables every test server gets: free ports, a SQLite file in `dir`,
/// cheap argon2, explicit keys, fast webhook polling.
pub fn base_vars(dir: &Path) -> HashMap<String, String> {
    let db = dir.join("p.db");
    [
        ("PAYMENT_API_PORT", "0".to_owned()),
        ("PAYMENT_METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ("PAYMENT_DATABASE_URL", format!("sqlite://{}", db.display())),
        // Its own, whichever database a test chooses.
        ("PAYMENT_NOTIFICATION_SPOOL", dir.join("notifications.spool").display().to_string()),
        ("PAYMENT_ARGON2_MEMORY_KIB", "256".to_owned()),
        ("PAYMENT_ARGON2_ITERATIONS", "1".to_owned()),
        ("PAYMENT_CONNECTION_ENCRYPTION_KEY", WIRE_KEY.to_owned()),
        ("PAYMENT_CONNECTION_ENCRYPTION_IV", WIRE_IV.to_owned()),
        ("PAYMENT_HISTORY_ENCRYPTION_KEY", HISTORY_KEY.to_owned()),
        ("PAYMENT_RESERVATION_ENCRYPTION_KEY", RESERVATION_KEY.to_owned()),
        ("PAYMENT_CANCEL_HISTORY_ENCRYPTION_KEY", CANCEL_KEY.to_owned()),
        ("PAYMENT_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("PAYMENT_WEBHOOK_POLL_MS", "50".to_owned()),
        // Toss's one-cancel-a-second rule, shortened so the cancel tests stay quick.
        ("PAYMENT_FAKE_TOSS_CANCEL_WINDOW_MS", "100".to_owned()),
        ("PAYMENT_WEBHOOK_RETRY_SCHEDULE", "100ms,200ms,400ms,800ms,1s,1s,1s,1s".to_owned()),
    ]
    .into_iter()
    .chain(payments_server::fakes_on_free_ports().into_iter().map(|(k, v)| (k, v.to_owned())))
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The wire cipher of the test servers.
///
/// # Panics
/// Never: the constants are valid.
pub fn cipher() -> WireCipher {
    WireCipher::new(WIRE_KEY.as_bytes(), WIRE_IV.as_bytes()).expect("valid test key")
}

/// An HTTP client with the test deadline.
///
/// # Panics
/// When no HTTP client can be built (no TLS backend), which no test survives.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(REQUEST_TIMEOUT).pool_max_idle_per_host(64).build().expect("an HTTP client")
}

/// An answer: the status and the body (decrypted when it was an encrypted
/// success, parsed JSON otherwise, or the raw text as a JSON string).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// Talks to a server over the encrypted wire.
#[derive(Clone)]
pub struct Api {
    pub url: String,
    pub http: reqwest::Client,
    pub cipher: WireCipher,
}

impl Api {
    /// A client of the server at `url` with the test keys.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), http: http_client(), cipher: cipher() }
    }

    /// Sends `body` encrypted; decrypts a successful answer.
    ///
    /// # Errors
    /// Transport errors (refused, timed out) and undecryptable successes.
    pub async fn call(&self, method: Method, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.call_with(method, path, body, None).await
    }

    /// As [`Api::call`], with an `Idempotency-Key`.
    ///
    /// # Errors
    /// As [`Api::call`].
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Reply> {
        let sealed = self.cipher.encrypt(body.to_string().as_bytes());
        let mut request =
            self.http.request(method, format!("{}{path}", self.url)).header("content-type", "text/plain").body(sealed);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let encrypted = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"));
        let text = response.text().await?;
        let body = if (200..300).contains(&status) && encrypted && !text.is_empty() {
            let plain = self.cipher.decrypt(&text).map_err(|e| anyhow::anyhow!("undecryptable answer: {e}"))?;
            serde_json::from_str(&plain).context("decrypted answer is not JSON")?
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Reply { status, body })
    }

    /// Sends raw bytes with a content type (`None`: no header).
    ///
    /// # Errors
    /// Transport errors.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, String)> {
        let mut request = self.http.request(method, format!("{}{path}", self.url)).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await.unwrap_or_default()))
    }

    /// Registers a Toss payment.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn register_toss(
        &self,
        payment_key: &str,
        order: &str,
        price: u64,
        password: &str,
        webhook_url: &str,
    ) -> anyhow::Result<Reply> {
        self.register("toss.payments", payment_key, order, price, password, webhook_url).await
    }

    /// Registers a payment of the PG of `vendor_code` (store `store-1`).
    ///
    /// # Errors
    /// Transport errors.
    pub async fn register(
        &self,
        vendor_code: &str,
        uid: &str,
        order: &str,
        price: u64,
        password: &str,
        webhook_url: &str,
    ) -> anyhow::Result<Reply> {
        let body = json!({
            "vendor": {"code": vendor_code, "store_id": "store-1", "uid": uid},
            "source": {"schema": "shop", "table": "orders", "id": order},
            "price": price,
            "password": password,
            "webhook_url": webhook_url,
        });
        self.call(Method::POST, "/payments/histories", &body).await
    }

    /// Cancels part of a payment registered for `shop.orders.<order>`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn cancel(&self, order: &str, password: &str, price: u64, reason: &str) -> anyhow::Result<Reply> {
        let body = json!({
            "source": {"schema": "shop", "table": "orders", "id": order},
            "password": password, "price": price, "reason": reason, "account": null,
        });
        self.call(Method::PUT, "/payments/histories/cancel", &body).await
    }

    /// Reads the payment registered for `shop.orders.<order>`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn get(&self, order: &str, password: &str) -> anyhow::Result<Reply> {
        let body = json!({"schema": "shop", "table": "orders", "id": order, "password": password});
        self.call(Method::PATCH, "/payments/histories/get", &body).await
    }
}

/// A fake Toss Payments server, reached over HTTP.
#[derive(Clone)]
pub struct Toss {
    pub url: String,
    pub http: reqwest::Client,
}

impl Toss {
    /// The fake at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), http: http_client() }
    }

    /// A card payment of `amount` won paid by key-in; its `paymentKey`.
    ///
    /// # Errors
    /// When the fake refuses or cannot be reached.
    pub async fn pay(&self, order_id: &str, amount: u64) -> anyhow::Result<String> {
        self.pay_named(order_id, "reliability", amount).await
    }

    /// As [`FakeToss::pay`], with this `orderName` (PG data the server keeps sealed).
    ///
    /// # Errors
    /// When the fake refuses or cannot be reached.
    pub async fn pay_named(&self, order_id: &str, order_name: &str, amount: u64) -> anyhow::Result<String> {
        let body = json!({
            "method": "card", "amount": amount, "orderId": order_id, "orderName": order_name,
            "cardNumber": "1111222233334444", "cardExpirationYear": "28", "cardExpirationMonth": "12",
            "cardPassword": "00", "customerIdentityNumber": "880101",
        });
        let answer = self.post("/v1/payments/key-in", &body).await?;
        answer["paymentKey"].as_str().map(str::to_owned).context("key-in answer without paymentKey")
    }

    /// A saved card of `customer_key`; its `billingKey`, or `None` when the fake refuses the key.
    ///
    /// # Errors
    /// When the fake cannot be reached.
    pub async fn save_card(&self, customer_key: &str) -> anyhow::Result<Option<String>> {
        let body = json!({
            "cardNumber": "1111222233334444", "cardExpirationYear": "28", "cardExpirationMonth": "12",
            "cardPassword": "00", "customerBirthday": "880101", "customerKey": customer_key,
        });
        let response = self.request(Method::POST, "/v1/billing/authorizations/card").json(&body).send().await?;
        if !response.status().is_success() {
            return Ok(None);
        }
        let answer: Value = response.json().await?;
        Ok(answer["billingKey"].as_str().map(str::to_owned))
    }

    /// The payment as the fake holds it.
    ///
    /// # Errors
    /// When the fake refuses or cannot be reached.
    pub async fn payment(&self, payment_key: &str) -> anyhow::Result<Value> {
        let response = self.request(Method::GET, &format!("/v1/payments/{payment_key}")).send().await?;
        anyhow::ensure!(response.status().is_success(), "fake Toss answered {}", response.status());
        Ok(response.json().await?)
    }

    /// A cancel of `amount` made at Toss itself (its console, another
    /// system): the server hears of it only from Toss. Answers the payment.
    ///
    /// # Errors
    /// When the fake refuses or cannot be reached.
    pub async fn cancel_at_console(&self, payment_key: &str, amount: u64, reason: &str) -> anyhow::Result<Value> {
        self.post(
            &format!("/v1/payments/{payment_key}/cancel"),
            &json!({"cancelReason": reason, "cancelAmount": amount}),
        )
        .await
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.url)).basic_auth(TOSS_SECRET, Some(""))
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self.request(Method::POST, path).json(body).send().await?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status.is_success(), "fake Toss {path} answered {status}: {text}");
        Ok(serde_json::from_str(&text)?)
    }
}

/// A server started in-process with [`payments_server::start`].
pub struct TestServer {
    pub app: RunningApp,
    pub api: Api,
    pub toss: Toss,
    pub iamport_url: String,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server over a fresh SQLite file with the fake PGs on free
    /// ports; `extra` overrides or adds variables.
    ///
    /// # Errors
    /// When the configuration is invalid or the server cannot start.
    pub async fn start(extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut vars = base_vars(dir.path());
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let config = Config::from_vars(&vars)?;
        let app = payments_server::start(config).await?;
        let toss =
            app.fake(payments_domain::VendorCode::TossPayments).map(|a| format!("http://{a}")).unwrap_or_default();
        let iamport_url =
            app.fake(payments_domain::VendorCode::Iamport).map(|a| format!("http://{a}")).unwrap_or_default();
        Ok(Self { api: Api::new(app.url()), toss: Toss::new(toss), iamport_url, app, dir })
    }

    /// Stops gracefully; the directory of its database survives until the
    /// returned value is dropped.
    ///
    /// # Errors
    /// What the server failed with.
    pub async fn stop(self) -> anyhow::Result<tempfile::TempDir> {
        self.app.stop().await?;
        Ok(self.dir)
    }
}

/// One delivery our server made to a [`Receiver`].
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `webhook-id`: the event id.
    pub id: String,
    /// The decrypted body.
    pub body: Value,
}

/// A webhook receiver on a free loopback port that records every delivery
/// and answers 200.
pub struct Receiver {
    pub addr: SocketAddr,
    /// Every delivery so far, in arrival order (waited on, never polled).
    deliveries: Arc<tokio::sync::watch::Sender<Vec<Delivery>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    /// Starts listening.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start() -> anyhow::Result<Self> {
        use poem::listener::{Acceptor, Listener, TcpListener};
        let deliveries = Arc::new(tokio::sync::watch::channel(Vec::new()).0);
        let recorded = deliveries.clone();
        let cipher = cipher();
        let endpoint = poem::endpoint::make(move |request: poem::Request| {
            let recorded = recorded.clone();
            let cipher = cipher.clone();
            async move {
                let id = request.header("webhook-id").unwrap_or_default().to_owned();
                let mut request = request;
                let text = request.take_body().into_string().await.unwrap_or_default();
                let body = cipher
                    .decrypt(&text)
                    .ok()
                    .and_then(|plain| serde_json::from_str(&plain).ok())
                    .unwrap_or(Value::Null);
                recorded.send_modify(|list| list.push(Delivery { id, body }));
                poem::Response::builder().status(poem::http::StatusCode::OK).finish()
            }
        });
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .context("receiver has no address")?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    endpoint,
                    async move {
                        let _ = stopped.await;
                    },
                    Some(Duration::from_secs(1)),
                )
                .await;
        });
        Ok(Self { addr, deliveries, stop: Some(stop) })
    }

    /// `http://ADDR/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// A copy of what was delivered so far.
    pub fn delivered(&self) -> Vec<Delivery> {
        self.deliveries.borrow().clone()
    }

    /// Waits (at most `deadline`, woken by each delivery) until at least `n`
    /// deliveries arrived; the count reached.
    pub async fn wait_for(&self, n: usize, deadline: Duration) -> usize {
        let mut seen = self.deliveries.subscribe();
        let _ = tokio::time::timeout(deadline, seen.wait_for(|list| list.len() >= n)).await;
        self.deliveries.borrow().len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The number of proptest cases: `PROPTEST_CASES` when set, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The `payments` binary of this workspace, built on demand (`cargo build -p payments`).
///
/// # Errors
/// When cargo fails.
pub fn payments_binary() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = std::process::Command::new(cargo)
        .args(["build", "-q", "-p", "payments", "--bin", "payments"])
        .current_dir(&root)
        .status()
        .context("cannot run cargo build -p payments")?;
    anyhow::ensure!(status.success(), "cargo build -p payments failed");
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
    let binary = target.join("debug").join("payments");
    anyhow::ensure!(binary.exists(), "{} is missing after the build", binary.display());
    Ok(binary)
}

/// `PAYMENT_TEST_POSTGRES_URL`, or `None` after saying the test is skipped.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("PAYMENT_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("{test}: PAYMENT_TEST_POSTGRES_URL is not set; skipped");
            None
        }
    }
}

/// A PostgreSQL database of its own for one test, created on the server of
/// `PAYMENT_TEST_POSTGRES_URL` and dropped (with its connections) by [`drop`](Self::drop).
pub struct ScratchDatabase {
    /// A pool on the administrative database (the one of the variable).
    pub admin: sqlx::PgPool,
    /// The scratch database's name.
    pub name: String,
    /// Its URL, for `PAYMENT_DATABASE_URL`.
    pub url: String,
}

impl ScratchDatabase {
    /// Creates `payments_reliability_<uuid>` beside the database of `admin_url`.
    ///
    /// # Errors
    /// When PostgreSQL cannot be reached or refuses to create it.
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect(admin_url)
            .await
            .context("PAYMENT_TEST_POSTGRES_URL is set but PostgreSQL cannot be reached")?;
        let name = format!("payments_reliability_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
        let base = admin_url.split('?').next().unwrap_or(admin_url);
        let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
        let url = format!("{base}/{name}");
        Ok(Self { admin, name, url })
    }

    /// Drops the database, closing whatever is still connected to it.
    ///
    /// # Errors
    /// When PostgreSQL refuses.
    pub async fn drop(self) -> anyhow::Result<()> {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&self.admin).await?;
        self.admin.close().await;
        Ok(())
    }
}

/// How a [`PgProxy`] treats each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Passes the request on at once.
    Forward,
    /// Waits this long, then passes it on (a PG slower than our timeout).
    Slow(Duration),
    /// Passes it on at once, and answers this late: the PG did the work, but
    /// its answer reaches us after our timeout (a lost answer).
    AnswerLate(Duration),
}

/// A stand-in PG on a chosen loopback port that forwards to a real (fake) PG,
/// at once or late.
pub struct PgProxy {
    pub addr: SocketAddr,
    pub mode: Arc<Mutex<ProxyMode>>,
    /// Requests seen.
    pub seen: Arc<std::sync::atomic::AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl PgProxy {
    /// Listens on `addr` (port 0 for any) and forwards to `target`.
    ///
    /// # Errors
    /// When `addr` cannot be bound.
    pub async fn start(addr: SocketAddr, target: String, mode: ProxyMode) -> anyhow::Result<Self> {
        use poem::listener::{Acceptor, Listener, TcpListener};
        let mode = Arc::new(Mutex::new(mode));
        let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let http = http_client();
        let (shared_mode, shared_seen) = (mode.clone(), seen.clone());
        let endpoint = poem::endpoint::make(move |mut request: poem::Request| {
            let (mode, seen, http, target) = (shared_mode.clone(), shared_seen.clone(), http.clone(), target.clone());
            async move {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let current = mode.lock().map(|m| *m).unwrap_or(ProxyMode::Forward);
                if let ProxyMode::Slow(delay) = current {
                    tokio::time::sleep(delay).await;
                }
                let path = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
                let method = Method::from_bytes(request.method().as_str().as_bytes()).unwrap_or(Method::GET);
                let mut forward = http.request(method, format!("{target}{path}"));
                for name in ["authorization", "content-type", "idempotency-key"] {
                    if let Some(value) = request.header(name) {
                        forward = forward.header(name, value);
                    }
                }
                let body = request.take_body().into_bytes().await.unwrap_or_default();
                let builder = poem::Response::builder();
                let answered = forward.body(body.to_vec()).send().await;
                if let ProxyMode::AnswerLate(delay) = current {
                    tokio::time::sleep(delay).await;
                }
                match answered {
                    Ok(answer) => {
                        let status = poem::http::StatusCode::from_u16(answer.status().as_u16())
                            .unwrap_or(poem::http::StatusCode::BAD_GATEWAY);
                        let ct = answer
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("application/json")
                            .to_owned();
                        let bytes = answer.bytes().await.unwrap_or_default();
                        builder.status(status).header("content-type", ct).body(bytes.to_vec())
                    }
                    Err(_) => builder.status(poem::http::StatusCode::BAD_GATEWAY).finish(),
                }
            }
        });
        let acceptor = TcpListener::bind(addr.to_string()).into_acceptor().await?;
        let addr =
            acceptor.local_addr().first().and_then(|a| a.as_socket_addr().copied()).context("proxy has no address")?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    endpoint,
                    async move {
                        let _ = stopped.await;
                    },
                    Some(Duration::from_millis(100)),
                )
                .await;
        });
        Ok(Self { addr, mode, seen, stop: Some(stop) })
    }

    /// Changes how later requests are treated.
    pub fn set(&self, mode: ProxyMode) {
        if let Ok(mut m) = self.mode.lock() {
            *m = mode;
        }
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A loopback port nobody listens on (bound, then released).
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A TCP stand-in for the database server: forwards connections to `target`
/// until [`cut`](Self::cut), which closes every open one and refuses new ones
/// (as a database that went down does) until [`restore`](Self::restore).
pub struct DbProxy {
    pub addr: SocketAddr,
    up: tokio::sync::watch::Sender<bool>,
    accepting: tokio::task::JoinHandle<()>,
}

impl DbProxy {
    /// Listens on a free loopback port.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (up, watch) = tokio::sync::watch::channel(true);
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !*watch.borrow() {
                    drop(client);
                    continue;
                }
                let mut down = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Ok(Self { addr, up, accepting })
    }

    /// Closes every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.up.send_replace(false);
        self.accepting.abort();
    }
}
