//! Helpers of the reliability, fault and hostile-input tests: the server
//! started in-process (exactly what `payments serve` starts) or as a real
//! process, an encrypting client, the fake PGs, and a webhook receiver that
//! records every delivery. See `RELIABILITY.md` for what each test shows.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use payments_server::RunningApp;
use reqwest::Method;
use serde_json::{Value, json};

pub use payments_testkit::api::{REQUEST_TIMEOUT, cipher, http_client};
pub use payments_testkit::database::postgres_url;
pub use payments_testkit::process::run;
pub use payments_testkit::{
    Api, CANCEL_KEY, Delivery, HISTORY_KEY, Isolation, RESERVATION_KEY, Receiver, Reply, ServerProcess, TestDatabase,
    WEBHOOK_SECRET, WIRE_IV, WIRE_KEY, cases, free_port, payments_binary,
};

/// The fake Toss Payments' public test secret (Basic auth user, empty password).
pub const TOSS_SECRET: &str = "test_ak_ZORzdMaqN3wQd5k6ygr5AkYXQGwy";

/// The variables every test server gets: the kit's (free ports, cheap
/// argon2, the kit's keys, quick polling, the fakes on free ports) over a
/// SQLite file in `dir`, with a retry schedule of a few seconds.
pub fn base_vars(dir: &Path) -> HashMap<String, String> {
    let database = format!("sqlite://{}", dir.join("p.db").display());
    let mut vars = payments_testkit::server::server_vars(dir, &database);
    vars.insert("PAYMENT_WEBHOOK_RETRY_SCHEDULE".to_owned(), "100ms,200ms,400ms,800ms,1s,1s,1s,1s".to_owned());
    vars
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

    /// The payment of order `order_id`, as the fake holds it (`None`: none).
    ///
    /// # Errors
    /// When the fake cannot be reached or answers an error other than 404.
    pub async fn payment_of_order(&self, order_id: &str) -> anyhow::Result<Option<Value>> {
        let response = self.request(Method::GET, &format!("/v1/payments/orders/{order_id}")).send().await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        anyhow::ensure!(response.status().is_success(), "fake Toss answered {}", response.status());
        Ok(Some(response.json().await?))
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
        let vars = payments_testkit::server::with_overrides(base_vars(dir.path()), extra);
        let (app, _) = payments_testkit::server::start_in_process(&vars).await?;
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
    /// Cancels seen (`POST .../cancel`): the money-moving calls.
    pub cancels: Arc<std::sync::atomic::AtomicU64>,
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
        let cancels = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let http = http_client();
        let (shared_mode, shared_seen, shared_cancels) = (mode.clone(), seen.clone(), cancels.clone());
        let endpoint = poem::endpoint::make(move |mut request: poem::Request| {
            let (mode, seen, http, target) = (shared_mode.clone(), shared_seen.clone(), http.clone(), target.clone());
            let cancels = shared_cancels.clone();
            async move {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if request.method() == poem::http::Method::POST && request.uri().path().ends_with("/cancel") {
                    cancels.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
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
        Ok(Self { addr, mode, seen, cancels, stop: Some(stop) })
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

/// What a [`DbProxy`] does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DbState {
    /// Forwards them.
    Up,
    /// Closes every open one and refuses new ones (a database that went down).
    Cut,
    /// Holds every open one and every new one silent, forwarding nothing and
    /// closing nothing (a database that hangs: queries never answer).
    Hung,
}

/// A TCP stand-in for the database server: forwards connections to `target`
/// until [`cut`](Self::cut) (closed and refused, as a database that went
/// down) or [`hang`](Self::hang) (held silent, as one that hangs), until
/// [`restore`](Self::restore).
pub struct DbProxy {
    pub addr: SocketAddr,
    state: tokio::sync::watch::Sender<DbState>,
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
        let (state, watch) = tokio::sync::watch::channel(DbState::Up);
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut state = watch.clone();
                let now = *state.borrow();
                match now {
                    DbState::Cut => drop(client),
                    // Held silent until the database is back, then closed.
                    DbState::Hung => {
                        tokio::spawn(async move {
                            let _ = state.wait_for(|s| *s != DbState::Hung).await.map(|_| ());
                            drop(client);
                        });
                    }
                    DbState::Up => {
                        tokio::spawn(async move {
                            let Ok(mut server) = tokio::net::TcpStream::connect(target).await else { return };
                            let changed = tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => None,
                                changed = state.wait_for(|s| *s != DbState::Up) => changed.ok().map(|s| *s),
                            };
                            // Hung: both ends held silent until it changes again.
                            if changed == Some(DbState::Hung) {
                                let _ = state.wait_for(|s| *s != DbState::Hung).await.map(|_| ());
                            }
                        });
                    }
                }
            }
        });
        Ok(Self { addr, state, accepting })
    }

    /// Closes every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        self.state.send_replace(DbState::Cut);
    }

    /// Holds every connection silent: the database hangs.
    pub fn hang(&self) {
        self.state.send_replace(DbState::Hung);
    }

    /// Forwards new connections again (the held ones are closed).
    pub fn restore(&self) {
        self.state.send_replace(DbState::Up);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.state.send_replace(DbState::Cut);
        self.accepting.abort();
    }
}
