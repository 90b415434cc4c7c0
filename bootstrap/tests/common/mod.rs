//! The `payments` binary as a child process, an encrypting API client, the
//! fake Toss card payment, and a webhook receiver that verifies signatures.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use payments_crypto::WireCipher;
use poem::web::Data;
use poem::{EndpointExt, Request, handler};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Wire key and IV the tests give the child (32 and 16 bytes).
pub const KEY: &str = "bin-test-wire-key-0123456789abcd";
pub const IV: &str = "bin-test-iv-16by";
/// Signing secret of outgoing webhooks.
pub const WEBHOOK_SECRET: &str = "whsec_YmluYXJ5LXRlc3Qtd2ViaG9vay1zZWNyZXQtMzI=";
/// The fake Toss Payments' secret key.
pub const TOSS_SECRET: &str = "test_ak_ZORzdMaqN3wQd5k6ygr5AkYXQGwy";
/// How long a server may take to say it listens.
pub const START_DEADLINE: Duration = Duration::from_secs(30);

pub fn cipher() -> WireCipher {
    WireCipher::new(KEY.as_bytes(), IV.as_bytes()).unwrap()
}

/// A child's environment, `(name, value)` pairs.
pub type Env = Vec<(String, String)>;

/// Fast and hermetic: ports 0, cheap argon2, fast retries and polling.
pub fn test_env() -> Vec<(String, String)> {
    [
        ("PAYMENT_API_PORT", "0"),
        ("PAYMENT_METRICS_ADDR", "127.0.0.1:0"),
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

/// `payments ARGS` in `dir` with exactly `env` (nothing inherited), killed when dropped.
pub fn command(dir: &Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payments"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A finished command: its status and output.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `payments ARGS` to completion within 60 s.
pub async fn run(dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let child = command(dir, env, args).spawn().expect("spawn payments");
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("payments {args:?} did not finish within 60 s"))
        .unwrap();
    Output {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A `payments serve` child process. Dropping it kills the process.
pub struct Server {
    child: Child,
    pub pid: u32,
    pub url: String,
    pub fake_toss: Option<String>,
    pub fake_iamport: Option<String>,
    /// Time from spawn to the "listening" line.
    pub startup: Duration,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    stream: R,
    sink: Arc<Mutex<String>>,
    lines: Option<mpsc::UnboundedSender<String>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            {
                let mut sink = sink.lock().unwrap();
                sink.push_str(&line);
                sink.push('\n');
            }
            if let Some(lines) = &lines {
                let _ = lines.send(line);
            }
        }
    })
}

/// `http://A (fake iamport http://B, fake toss.payments http://C)` from the listening line.
fn parse_listening(line: &str) -> Option<(String, Option<String>, Option<String>)> {
    let rest = line.strip_prefix("payments listening on ")?;
    let (url, fakes) = match rest.split_once(" (") {
        Some((url, fakes)) => (url, Some(fakes.trim_end_matches(')'))),
        None => (rest, None),
    };
    let fake =
        |name: &str| fakes.and_then(|f| f.split(", ").find_map(|part| part.strip_prefix(name).map(str::to_owned)));
    Some((url.trim().to_owned(), fake("fake iamport "), fake("fake toss.payments ")))
}

impl Server {
    /// Starts `payments serve` in `dir` and waits for its listening line.
    pub async fn start(dir: &Path, env: &[(String, String)]) -> Server {
        let spawned = Instant::now();
        let mut child = command(dir, env, &["serve"]).spawn().expect("spawn payments serve");
        let pid = child.id().unwrap();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (lines_tx, mut lines) = mpsc::unbounded_channel();
        let readers = vec![
            collect(child.stdout.take().unwrap(), stdout.clone(), Some(lines_tx)),
            collect(child.stderr.take().unwrap(), stderr.clone(), None),
        ];
        let listening = tokio::time::timeout(START_DEADLINE, async {
            while let Some(line) = lines.recv().await {
                if let Some(parsed) = parse_listening(&line) {
                    return Some(parsed);
                }
            }
            None
        })
        .await;
        let startup = spawned.elapsed();
        let mut server = Server {
            child,
            pid,
            url: String::new(),
            fake_toss: None,
            fake_iamport: None,
            startup,
            stdout,
            stderr,
            readers,
        };
        match listening {
            Ok(Some((url, iamport, toss))) => {
                server.url = url;
                server.fake_iamport = iamport;
                server.fake_toss = toss;
                server
            }
            Ok(None) => {
                let status = server.wait_exit(Duration::from_secs(10)).await;
                panic!("payments serve exited ({status}) without listening:\n{}", server.logs());
            }
            Err(_) => panic!("payments serve did not listen within {START_DEADLINE:?}:\n{}", server.logs()),
        }
    }

    /// SIGTERM.
    pub fn terminate(&self) {
        signal(self.pid, "TERM");
    }

    /// SIGINT, as ctrl-c in a terminal.
    pub fn interrupt(&self) {
        signal(self.pid, "INT");
    }

    /// SIGKILL, and waits for the process to be gone.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.expect("killed process reaped");
    }

    /// Waits (bounded) for the process to exit, then for its output to be read.
    pub async fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let status = match tokio::time::timeout(deadline, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("payments did not exit within {deadline:?}:\n{}", self.logs()),
        };
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
        status
    }

    /// Standard output and standard error so far.
    pub fn logs(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout.lock().unwrap(), self.stderr.lock().unwrap())
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The API client of this server (wire key [`KEY`]/[`IV`]).
    pub fn api(&self) -> Api {
        Api::new(&self.url, cipher())
    }
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill").args([&format!("-{name}"), &pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// The encrypted API.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub url: String,
    pub cipher: WireCipher,
}

impl Api {
    pub fn new(url: &str, cipher: WireCipher) -> Api {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        Api { http, url: url.to_owned(), cipher }
    }

    /// Sends `body` encrypted; returns the status and the body (decrypted on success).
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request
                .header("content-type", "text/plain")
                .body(self.cipher.encrypt(serde_json::to_string(&body).unwrap().as_bytes()));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else if (200..300).contains(&status) {
            match self.cipher.decrypt(&text) {
                Ok(plain) => serde_json::from_str(&plain).unwrap(),
                Err(_) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            }
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn health(&self) -> u16 {
        self.http.get(format!("{}/monitors/health", self.url)).send().await.unwrap().status().as_u16()
    }

    /// Registers the Toss payment `payment_key` of order `order_id`.
    pub async fn register(
        &self,
        payment_key: &str,
        order_id: &str,
        price: u64,
        password: &str,
        webhook: &str,
    ) -> Value {
        let body = json!({
            "vendor": {"code": "toss.payments", "store_id": "store-1", "uid": payment_key},
            "source": {"schema": "shop", "table": "orders", "id": order_id},
            "price": price,
            "password": password,
            "webhook_url": webhook,
        });
        let (status, history) = self.call(reqwest::Method::POST, "/payments/histories", Some(body)).await;
        assert_eq!(status, 201, "register: {history}");
        history
    }

    /// Cancels `price` of order `order_id`.
    pub async fn cancel(&self, order_id: &str, price: u64, password: &str) -> Value {
        let body = json!({
            "source": {"schema": "shop", "table": "orders", "id": order_id},
            "password": password,
            "price": price,
            "reason": "test cancel",
        });
        let (status, history) = self.call(reqwest::Method::PUT, "/payments/histories/cancel", Some(body)).await;
        assert_eq!(status, 200, "cancel: {history}");
        history
    }
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

// ------------------------------------------------------------ webhook receiver

/// One delivery the receiver saw (signature verified, body decrypted).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub body: Value,
    /// What the receiver answered (`None`: it hung).
    pub answered: Option<u16>,
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// Never answers (the delivery stays in flight).
    Hang,
    /// Answers 200 after this long.
    Slow(Duration),
}

struct ReceiverState {
    answer: Mutex<Answer>,
    cipher: WireCipher,
    secret: String,
    seen: mpsc::UnboundedSender<Delivery>,
}

#[handler]
async fn receive(req: &Request, body: String, state: Data<&Arc<ReceiverState>>) -> poem::Response {
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        if let Some(value) = req.header(name) {
            headers.insert(name, value.parse().unwrap());
        }
    }
    let verified = standardwebhooks::Webhook::new(&state.secret).unwrap().verify(body.as_bytes(), &headers);
    let plain = state.cipher.decrypt(&body);
    let (Ok(()), Ok(plain)) = (verified, plain) else {
        return poem::Response::builder().status(poem::http::StatusCode::BAD_REQUEST).body("bad signature or body");
    };
    let id = req.header("webhook-id").unwrap_or_default().to_owned();
    let body: Value = serde_json::from_str(&plain).unwrap_or(Value::Null);
    let answer = *state.answer.lock().unwrap();
    match answer {
        Answer::Hang => {
            let _ = state.seen.send(Delivery { id: id.clone(), body: body.clone(), answered: None });
            std::future::pending::<()>().await;
        }
        Answer::Slow(delay) => tokio::time::sleep(delay).await,
        Answer::Ok => {}
    }
    let _ = state.seen.send(Delivery { id, body, answered: Some(200) });
    poem::Response::builder().status(poem::http::StatusCode::OK).body("ok")
}

/// A webhook receiver on 127.0.0.1.
pub struct Receiver {
    server: payments_fakekit::RunningServer,
    state: Arc<ReceiverState>,
    seen: mpsc::UnboundedReceiver<Delivery>,
}

impl Receiver {
    /// Listens on `port` (0: any); verifies with [`WEBHOOK_SECRET`] and decrypts with [`cipher`].
    pub async fn start(port: u16, answer: Answer) -> Receiver {
        Receiver::start_with(port, answer, cipher(), WEBHOOK_SECRET).await
    }

    /// Listens on `port` with the given wire cipher and signing secret.
    pub async fn start_with(port: u16, answer: Answer, cipher: WireCipher, secret: &str) -> Receiver {
        let (tx, seen) = mpsc::unbounded_channel();
        let state = Arc::new(ReceiverState { answer: Mutex::new(answer), cipher, secret: secret.to_owned(), seen: tx });
        let endpoint = poem::Route::new().at("/hook", poem::post(receive)).data(state.clone());
        let server = payments_fakekit::serve(endpoint, SocketAddr::from(([127, 0, 0, 1], port))).await.unwrap();
        Receiver { server, state, seen }
    }

    /// How the next requests are answered.
    pub fn set_answer(&self, answer: Answer) {
        *self.state.answer.lock().unwrap() = answer;
    }

    pub fn url(&self) -> String {
        format!("{}/hook", self.server.url())
    }

    /// The next delivery, or a panic after `deadline`.
    pub async fn next(&mut self, deadline: Duration) -> Delivery {
        tokio::time::timeout(deadline, self.seen.recv())
            .await
            .unwrap_or_else(|_| panic!("no webhook delivery within {deadline:?}"))
            .unwrap()
    }

    /// Deliveries that already arrived, without waiting.
    pub fn drain(&mut self) -> Vec<Delivery> {
        let mut out = Vec::new();
        while let Ok(delivery) = self.seen.try_recv() {
            out.push(delivery);
        }
        out
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Counts answered deliveries per webhook-id.
pub fn count_answered(deliveries: &[Delivery]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for delivery in deliveries.iter().filter(|d| d.answered.is_some()) {
        *counts.entry(delivery.id.clone()).or_default() += 1;
    }
    counts
}

/// The outbox counters from `GET /monitors/performance`.
pub async fn outbox(api: &Api) -> Value {
    let (status, body) = api.call(reqwest::Method::GET, "/monitors/performance", None).await;
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

/// Runs `test` within `limit`.
pub async fn bounded<F: std::future::Future<Output = ()>>(limit: Duration, test: F) {
    tokio::time::timeout(limit, test).await.unwrap_or_else(|_| panic!("test exceeded {limit:?}"));
}
