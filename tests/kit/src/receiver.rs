//! One webhook receiver for every suite: it verifies each delivery's
//! Standard Webhooks signature and opens its body with the client's own
//! [`WebhookVerifier`], records it, answers as told, and is waited on through
//! a watch channel (each delivery wakes the waiters; nothing polls).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use payments_client::{WebhookVerifier, wire};
use payments_crypto::WireCipher;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{EndpointExt, IntoResponse, Request, Route, handler, post};
use serde_json::Value;
use tokio::sync::watch;

/// The keys a receiver checks deliveries with: the server's webhook secret
/// and its wire key and IV.
#[derive(Debug, Clone)]
pub struct ReceiverKeys {
    pub secret: String,
    pub key: Vec<u8>,
    pub iv: Vec<u8>,
}

impl ReceiverKeys {
    /// Keys of a server configured with these.
    pub fn new(secret: &str, key: &str, iv: &str) -> Self {
        Self { secret: secret.to_owned(), key: key.as_bytes().to_vec(), iv: iv.as_bytes().to_vec() }
    }
}

impl Default for ReceiverKeys {
    /// The kit's keys ([`crate::WEBHOOK_SECRET`], [`crate::WIRE_KEY`], [`crate::WIRE_IV`]).
    fn default() -> Self {
        Self::new(crate::WEBHOOK_SECRET, crate::WIRE_KEY, crate::WIRE_IV)
    }
}

/// How the receiver answers deliveries to `/hook`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200 at once.
    Ok,
    /// Never answers (the delivery stays in flight; recorded on arrival
    /// with `answered: None`).
    Hang,
    /// 200 after this long.
    Slow(Duration),
    /// These statuses to the next deliveries, in order; 200 once used up.
    Script(Vec<u16>),
}

/// One delivery the server made, verified and opened.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The `webhook-id` header (the event id, the same on every retry).
    pub id: String,
    /// The opened body as the client's [`WebhookVerifier`] reads it, or why
    /// it does not (a sender test's own body shape, an id that differs from
    /// the header).
    pub webhook: Result<wire::WebhookBody, String>,
    /// The opened body as JSON.
    pub json: Value,
    /// The opened body as sent (JSON text).
    pub plaintext: String,
    /// The request's `content-type`.
    pub content_type: String,
    /// What the receiver answered (`None`: it never did).
    pub answered: Option<u16>,
}

impl Delivery {
    /// The body, typed as the client reads it.
    ///
    /// # Panics
    /// When it is not a webhook body of ours, with the reason.
    pub fn webhook(&self) -> &wire::WebhookBody {
        match &self.webhook {
            Ok(body) => body,
            Err(why) => panic!("delivery {} is not a webhook body: {why}\n{}", self.id, self.plaintext),
        }
    }

    /// The order (source id) the delivery is about (empty when the body
    /// names none).
    pub fn order(&self) -> &str {
        self.json["source"]["id"].as_str().unwrap_or_default()
    }

    /// Whether the receiver accepted it (200).
    pub fn accepted(&self) -> bool {
        self.answered == Some(200)
    }
}

struct State {
    /// The signature checker and the client's verifier, of the secret held now.
    secret: Mutex<(standardwebhooks::Webhook, WebhookVerifier)>,
    keys: ReceiverKeys,
    cipher: WireCipher,
    answer: Mutex<Answer>,
    log: watch::Sender<Vec<Delivery>>,
    rejected: Mutex<Vec<String>>,
    failures_seen: Mutex<HashMap<String, u32>>,
}

/// The signature checker and the client's verifier of `secret` with `keys`' wire key.
fn checkers(keys: &ReceiverKeys, secret: &str) -> (standardwebhooks::Webhook, WebhookVerifier) {
    (
        standardwebhooks::Webhook::new(secret).expect("the receiver's webhook secret"),
        WebhookVerifier::new(secret, &keys.key, &keys.iv).expect("the receiver's keys"),
    )
}

impl State {
    /// Verifies the signature and opens `body`; a rejection is recorded and
    /// its reason returned (answered 400). The typed reading is the client's
    /// own verifier's.
    fn open(&self, request: &Request, body: &str) -> Result<Delivery, String> {
        let reject = |why: String| {
            if let Ok(mut rejected) = self.rejected.lock() {
                rejected.push(why.clone());
            }
            why
        };
        let secret = self.secret.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        secret.0.verify(body.as_bytes(), request.headers()).map_err(|e| reject(format!("signature: {e}")))?;
        let plaintext = self.cipher.decrypt(body).map_err(|e| reject(format!("cannot decrypt: {e}")))?;
        Ok(Delivery {
            id: request.header("webhook-id").unwrap_or_default().to_owned(),
            json: serde_json::from_str(&plaintext).unwrap_or(Value::Null),
            webhook: secret.1.verify(request.headers(), body).map_err(|e| e.to_string()),
            plaintext,
            content_type: request.header("content-type").unwrap_or_default().to_owned(),
            answered: None,
        })
    }

    fn record(&self, mut delivery: Delivery, status: StatusCode) -> poem::Response {
        delivery.answered = Some(status.as_u16());
        self.log.send_modify(|log| log.push(delivery));
        status.with_body(format!("answer {}", status.as_u16())).into_response()
    }
}

#[handler]
async fn hook(request: &Request, body: String, state: Data<&Arc<State>>) -> poem::Response {
    let delivery = match state.open(request, &body) {
        Ok(delivery) => delivery,
        Err(why) => return StatusCode::BAD_REQUEST.with_body(format!("rejected: {why}")).into_response(),
    };
    let answer = state.answer.lock().map(|a| a.clone()).unwrap_or(Answer::Ok);
    let status = match answer {
        Answer::Ok => StatusCode::OK,
        Answer::Hang => {
            state.log.send_modify(|log| log.push(delivery));
            return std::future::pending().await;
        }
        Answer::Slow(delay) => {
            tokio::time::sleep(delay).await;
            StatusCode::OK
        }
        Answer::Script(_) => {
            let next = state.answer.lock().ok().and_then(|mut answer| match &mut *answer {
                Answer::Script(statuses) if !statuses.is_empty() => Some(statuses.remove(0)),
                _ => None,
            });
            next.and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK)
        }
    };
    state.record(delivery, status)
}

/// 500 to the first `failures` deliveries of each event, then 200.
#[handler]
fn flaky(request: &Request, Path(failures): Path<u32>, body: String, state: Data<&Arc<State>>) -> poem::Response {
    let delivery = match state.open(request, &body) {
        Ok(delivery) => delivery,
        Err(why) => return StatusCode::BAD_REQUEST.with_body(format!("rejected: {why}")).into_response(),
    };
    let status = match state.failures_seen.lock() {
        Ok(mut seen) => {
            let count = seen.entry(delivery.id.clone()).or_insert(0);
            if *count < failures {
                *count += 1;
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            }
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    state.record(delivery, status)
}

/// A webhook receiver on 127.0.0.1: `/hook` answers as [`Answer`] says,
/// `/flaky/N` answers 500 to the first N deliveries of each event.
pub struct Receiver {
    addr: SocketAddr,
    base: String,
    state: Arc<State>,
    log: watch::Receiver<Vec<Delivery>>,
    /// How many deliveries [`Receiver::next`] and [`Receiver::drain`] have handed out.
    cursor: usize,
    server: Option<payments_fakekit::RunningServer>,
}

impl Receiver {
    /// Listens on a free port, answers 200, checks with the kit's keys.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start() -> Self {
        Self::start_with(&ReceiverKeys::default()).await
    }

    /// Listens on a free port, answers 200, checks with `keys`.
    ///
    /// # Panics
    /// When the keys are malformed or no port can be bound.
    pub async fn start_with(keys: &ReceiverKeys) -> Self {
        Self::start_on(0, keys, Answer::Ok).await
    }

    /// Listens on `port` (0: any) and answers as `answer` says.
    ///
    /// # Panics
    /// As [`Receiver::start`].
    pub async fn start_on(port: u16, keys: &ReceiverKeys, answer: Answer) -> Self {
        let cipher = WireCipher::new(&keys.key, &keys.iv).expect("the receiver's wire key");
        let (log, log_rx) = watch::channel(Vec::new());
        let state = Arc::new(State {
            secret: Mutex::new(checkers(keys, &keys.secret)),
            keys: keys.clone(),
            cipher,
            answer: Mutex::new(answer),
            log,
            rejected: Mutex::new(Vec::new()),
            failures_seen: Mutex::new(HashMap::new()),
        });
        let app = Route::new().at("/hook", post(hook)).at("/flaky/:failures", post(flaky)).data(state.clone());
        let server = payments_fakekit::serve(app, SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .unwrap_or_else(|e| panic!("the webhook receiver cannot listen on port {port}: {e}"));
        Self { addr: server.addr(), base: server.url(), state, log: log_rx, cursor: 0, server: Some(server) }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/hook`.
    pub fn url(&self) -> String {
        format!("{}/hook", self.base)
    }

    /// `http://ADDR/flaky/{failures}`: 500 to the first `failures` deliveries
    /// of each event, then 200.
    pub fn flaky_url(&self, failures: u32) -> String {
        format!("{}/flaky/{failures}", self.base)
    }

    /// From now on checks signatures with `secret` (a rotated one) alone.
    ///
    /// # Panics
    /// When the secret is malformed.
    pub fn set_secret(&self, secret: &str) {
        *self.state.secret.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            checkers(&self.state.keys, secret);
    }

    /// How `/hook` answers from now on.
    pub fn set_answer(&self, answer: Answer) {
        if let Ok(mut current) = self.state.answer.lock() {
            *current = answer;
        }
    }

    /// Every delivery so far, in arrival order.
    pub fn all(&self) -> Vec<Delivery> {
        self.log.borrow().clone()
    }

    /// Why deliveries were refused (signature or body did not check out).
    pub fn rejected(&self) -> Vec<String> {
        self.state.rejected.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Every delivery about `order` so far (accepted or not).
    pub fn for_order(&self, order: &str) -> Vec<Delivery> {
        self.all().into_iter().filter(|d| d.order() == order).collect()
    }

    /// Waits (at most [`crate::WAIT`], woken by each delivery) until `ready`
    /// holds for the deliveries so far; returns them.
    ///
    /// # Panics
    /// When the wait passes first, with every delivery and rejection.
    pub async fn wait_until(&self, what: &str, ready: impl Fn(&[Delivery]) -> bool) -> Vec<Delivery> {
        self.wait_until_within(what, crate::WAIT, ready).await
    }

    /// As [`Receiver::wait_until`], at most `deadline`.
    ///
    /// # Panics
    /// As [`Receiver::wait_until`].
    pub async fn wait_until_within(
        &self,
        what: &str,
        deadline: Duration,
        ready: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let mut log = self.log.clone();
        match tokio::time::timeout(deadline, log.wait_for(|deliveries| ready(deliveries))).await {
            Ok(Ok(deliveries)) => deliveries.clone(),
            _ => panic!(
                "timed out after {deadline:?} waiting for {what}; deliveries: {:#?}; rejected: {:?}",
                self.all(),
                self.rejected()
            ),
        }
    }

    /// Waits (at most `deadline`) until at least `n` deliveries arrived;
    /// returns the count reached, whether or not it is `n`.
    pub async fn wait_for(&self, n: usize, deadline: Duration) -> usize {
        let mut log = self.log.clone();
        let _ = tokio::time::timeout(deadline, log.wait_for(|list| list.len() >= n)).await;
        self.log.borrow().len()
    }

    /// Waits (at most [`crate::WAIT`]) for `count` accepted (200) deliveries
    /// about `order`; returns them, oldest first.
    ///
    /// # Panics
    /// As [`Receiver::wait_until`].
    pub async fn delivered(&self, order: &str, count: usize) -> Vec<Delivery> {
        let wanted = |d: &Delivery| d.order() == order && d.accepted();
        let all = self
            .wait_until(&format!("{count} deliveries for {order}"), |ds| {
                ds.iter().filter(|d| wanted(d)).count() >= count
            })
            .await;
        all.into_iter().filter(wanted).collect()
    }

    /// The next delivery not yet handed out by `next` or `drain`.
    ///
    /// # Panics
    /// When none arrives within `deadline`.
    pub async fn next(&mut self, deadline: Duration) -> Delivery {
        let wanted = self.cursor + 1;
        let all = self.wait_until_within("the next delivery", deadline, |ds| ds.len() >= wanted).await;
        self.cursor = wanted;
        all[wanted - 1].clone()
    }

    /// The deliveries not yet handed out, without waiting.
    pub fn drain(&mut self) -> Vec<Delivery> {
        let all = self.all();
        let fresh = all.get(self.cursor..).map(<[Delivery]>::to_vec).unwrap_or_default();
        self.cursor = all.len();
        fresh
    }

    /// Stops listening (deliveries in flight are cut).
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop().await;
        }
    }
}

/// How the deliveries so far stand against the events the server recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Deliveries in all.
    pub deliveries: usize,
    /// Distinct event ids delivered.
    pub distinct: usize,
    /// Recorded and never delivered.
    pub lost: usize,
    /// Delivered and never recorded.
    pub unknown: usize,
    /// Deliveries of an id delivered before (at-least-once repeats).
    pub repeats: usize,
}

impl Receiver {
    /// The deliveries so far against `recorded`, the event ids the server
    /// stored (any case: ids are compared lower-cased).
    pub fn tally(&self, recorded: &std::collections::HashSet<String>) -> Tally {
        let deliveries = self.all();
        let delivered: std::collections::HashSet<String> = deliveries.iter().map(|d| d.id.to_lowercase()).collect();
        let recorded: std::collections::HashSet<String> = recorded.iter().map(|id| id.to_lowercase()).collect();
        Tally {
            deliveries: deliveries.len(),
            distinct: delivered.len(),
            lost: recorded.difference(&delivered).count(),
            unknown: delivered.difference(&recorded).count(),
            repeats: deliveries.len() - delivered.len(),
        }
    }
}

/// Counts the answered deliveries per event id.
pub fn count_answered(deliveries: &[Delivery]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for delivery in deliveries.iter().filter(|d| d.answered.is_some()) {
        *counts.entry(delivery.id.clone()).or_default() += 1;
    }
    counts
}
