//! The tool's side of the wire: payments at the fake Toss, the encrypted API
//! calls of each scenario, and the receiver of outgoing webhooks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use payments_crypto::WireCipher;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, Route, handler, post};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The fake Toss Payments' public test secret key.
pub const TOSS_TEST_SECRET: &str = "test_ak_ZORzdMaqN3wQd5k6ygr5AkYXQGwy";

/// A payment registered at our server.
#[derive(Debug, Clone)]
pub struct Registered {
    pub id: String,
    pub payment_key: String,
    pub order_id: String,
    pub password: String,
}

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Instant>>>>;

/// Receives the server's outgoing webhooks and tells whoever waits for a
/// given source id when its webhook arrived.
#[derive(Clone)]
pub struct Receiver {
    waiters: Waiters,
    received: Arc<AtomicU64>,
    addr: SocketAddr,
}

#[handler]
fn receive(body: String, Data(state): Data<&(Waiters, Arc<AtomicU64>, WireCipher)>) -> &'static str {
    let arrival = Instant::now();
    let (waiters, received, cipher) = state;
    received.fetch_add(1, Ordering::Relaxed);
    // Only the source id matters here: skip the rest unparsed.
    #[derive(serde::Deserialize)]
    struct Hook {
        source: HookSource,
    }
    #[derive(serde::Deserialize)]
    struct HookSource {
        id: String,
    }
    let source_id =
        cipher.decrypt(&body).ok().and_then(|plain| serde_json::from_str::<Hook>(&plain).ok()).map(|h| h.source.id);
    if let Some(id) = source_id {
        let waiter = waiters.lock().ok().and_then(|mut w| w.remove(&id));
        if let Some(waiter) = waiter {
            let _ = waiter.send(arrival);
        }
    }
    "ok"
}

impl Receiver {
    /// Starts on 127.0.0.1, a free port, for the life of the process.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(cipher: WireCipher) -> anyhow::Result<Self> {
        let waiters: Waiters = Arc::default();
        let received = Arc::new(AtomicU64::new(0));
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| anyhow!("receiver: no local address"))?;
        let app = Route::new().at("/hook", post(receive)).data((waiters.clone(), received.clone(), cipher));
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        Ok(Self { waiters, received, addr })
    }

    /// The URL given as every payment's `webhook_url`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Webhooks received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Resolves with the arrival time of the next webhook about `source_id`.
    pub fn expect(&self, source_id: &str) -> oneshot::Receiver<Instant> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.insert(source_id.to_owned(), tx);
        }
        rx
    }
}

/// Any 2xx status, for [`expect_status`].
const ANY_SUCCESS: u16 = 0;

/// Everything a scenario needs to talk to the server and the fake PG.
pub struct Ctx {
    pub http: reqwest::Client,
    pub api: String,
    pub toss: String,
    pub cipher: WireCipher,
    pub receiver: Receiver,
    run: String,
    seq: AtomicU64,
}

async fn expect_status(response: reqwest::Response, want: u16, what: &str) -> anyhow::Result<String> {
    let status = response.status().as_u16();
    let body = response.text().await.with_context(|| format!("{what}: reading the answer"))?;
    let ok = if want == 0 { (200..300).contains(&status) } else { status == want };
    if !ok {
        bail!("{what}: HTTP {status}: {}", body.chars().take(200).collect::<String>());
    }
    Ok(body)
}

impl Ctx {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(api: String, toss: String, cipher: WireCipher, receiver: Receiver) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()?;
        let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        Ok(Self { http, api, toss, cipher, receiver, run, seq: AtomicU64::new(0) })
    }

    fn next_order_id(&self) -> String {
        format!("load-{}-{}", self.run, self.seq.fetch_add(1, Ordering::Relaxed))
    }

    fn encrypted(&self, value: &Value) -> String {
        self.cipher.encrypt(value.to_string().as_bytes())
    }

    fn decrypted(&self, body: &str) -> anyhow::Result<Value> {
        let plain = self.cipher.decrypt(body).map_err(|e| anyhow!("undecryptable answer: {e}"))?;
        Ok(serde_json::from_str(&plain)?)
    }

    /// `GET /monitors/health`, its latency.
    ///
    /// # Errors
    /// Any status but 200.
    pub async fn health(&self) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let response = self.http.get(format!("{}/monitors/health", self.api)).send().await?;
        expect_status(response, 200, "health").await?;
        Ok(start.elapsed())
    }

    /// The server's resident set (current, peak) in bytes from `/monitors/performance`.
    ///
    /// # Errors
    /// When the server does not answer it.
    pub async fn reported_memory(&self) -> anyhow::Result<(u64, u64)> {
        let response = self.http.get(format!("{}/monitors/performance", self.api)).send().await?;
        let body = self.decrypted(&expect_status(response, 200, "performance").await?)?;
        let memory = &body["memory"];
        Ok((memory["rss"].as_u64().unwrap_or(0), memory["rss_peak"].as_u64().unwrap_or(0)))
    }

    /// A card payment approved at the fake Toss: `(paymentKey, orderId)`.
    ///
    /// # Errors
    /// When the fake refuses it.
    pub async fn pay_at_fake(&self, amount: u64) -> anyhow::Result<(String, String)> {
        let order_id = self.next_order_id();
        let body = json!({
            "method": "card", "cardNumber": "4444333322221111", "cardExpirationYear": "30",
            "cardExpirationMonth": "07", "amount": amount, "orderId": order_id,
        });
        let response = self
            .http
            .post(format!("{}/v1/payments/key-in", self.toss))
            .basic_auth(TOSS_TEST_SECRET, Some(""))
            .json(&body)
            .send()
            .await?;
        let created: Value = serde_json::from_str(&expect_status(response, ANY_SUCCESS, "fake key-in").await?)?;
        let key = created["paymentKey"].as_str().ok_or_else(|| anyhow!("fake key-in: no paymentKey"))?;
        Ok((key.to_owned(), order_id))
    }

    /// Scenario (a)'s request: registers a payment made at the fake.
    /// Answers the latency of the registration alone.
    ///
    /// # Errors
    /// Any status but 201.
    pub async fn register(
        &self,
        payment_key: &str,
        order_id: &str,
        amount: u64,
    ) -> anyhow::Result<(Registered, Duration)> {
        let password = format!("pw-{order_id}");
        let body = json!({
            "vendor": {"code": "toss.payments", "store_id": "load-store", "uid": payment_key},
            "source": {"schema": "load", "table": "orders", "id": order_id},
            "price": amount, "password": password, "webhook_url": self.receiver.url(),
        });
        let start = Instant::now();
        let response = self
            .http
            .post(format!("{}/payments/histories", self.api))
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(self.encrypted(&body))
            .send()
            .await?;
        let answer = expect_status(response, 201, "register").await?;
        let latency = start.elapsed();
        let history = self.decrypted(&answer)?;
        let id = history["id"].as_str().ok_or_else(|| anyhow!("register: no id in the answer"))?.to_owned();
        Ok((Registered { id, payment_key: payment_key.to_owned(), order_id: order_id.to_owned(), password }, latency))
    }

    /// Pays at the fake and registers: a payment ready for the other scenarios.
    ///
    /// # Errors
    /// As [`Ctx::pay_at_fake`] and [`Ctx::register`].
    pub async fn new_payment(&self, amount: u64) -> anyhow::Result<Registered> {
        let (key, order) = self.pay_at_fake(amount).await?;
        Ok(self.register(&key, &order, amount).await?.0)
    }

    /// Scenario (b): reads a payment by id with its password.
    ///
    /// # Errors
    /// Any status but 200, or an answer about another payment.
    pub async fn read(&self, payment: &Registered) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let response = self
            .http
            .patch(format!("{}/payments/histories/{}", self.api, payment.id))
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(self.encrypted(&json!({ "password": payment.password })))
            .send()
            .await?;
        let answer = expect_status(response, 200, "read").await?;
        let latency = start.elapsed();
        if self.decrypted(&answer)?["id"].as_str() != Some(payment.id.as_str()) {
            bail!("read: the answer is about another payment");
        }
        Ok(latency)
    }

    /// Scenario (c): cancels `amount` of a payment through our API.
    ///
    /// # Errors
    /// Any status but 200.
    pub async fn cancel(&self, payment: &Registered, amount: u64) -> anyhow::Result<Duration> {
        let body = json!({
            "source": {"schema": "load", "table": "orders", "id": payment.order_id},
            "password": payment.password, "price": amount, "reason": "load test",
        });
        let start = Instant::now();
        let response = self
            .http
            .put(format!("{}/payments/histories/cancel", self.api))
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(self.encrypted(&body))
            .send()
            .await?;
        expect_status(response, 200, "cancel").await?;
        Ok(start.elapsed())
    }

    /// Scenario (d): cancels `amount` directly at the fake PG, which sends its
    /// webhook to our server at once; answers the time from the cancel's send
    /// to the arrival of our server's outgoing webhook at the receiver.
    ///
    /// # Errors
    /// When the fake refuses the cancel or no webhook arrives within `timeout`.
    pub async fn pg_change_to_webhook(
        &self,
        payment: &Registered,
        amount: u64,
        timeout: Duration,
    ) -> anyhow::Result<Duration> {
        let arrival = self.receiver.expect(&payment.order_id);
        let start = Instant::now();
        let response = self
            .http
            .post(format!("{}/v1/payments/{}/cancel", self.toss, payment.payment_key))
            .basic_auth(TOSS_TEST_SECRET, Some(""))
            .json(&json!({"cancelReason": "load test", "cancelAmount": amount}))
            .send()
            .await?;
        expect_status(response, ANY_SUCCESS, "fake cancel").await?;
        match tokio::time::timeout(timeout, arrival).await {
            Ok(Ok(at)) => Ok(at.saturating_duration_since(start)),
            Ok(Err(_)) => bail!("webhook: waiter replaced"),
            Err(_) => bail!("webhook: none arrived within {timeout:?}"),
        }
    }
}
