//! Shared by the integration tests: a fake Iamport on port 0, a raw HTTP
//! caller, a webhook receiver, and builders of the gateway under test.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use payments_fakekit::RunningServer;
use payments_iamport::fake::{FakeIamport, FakeIamportConfig, TEST_IMP_KEY, TEST_IMP_SECRET};
use payments_iamport::{IamportConfig, IamportCredentials, IamportGateway};
use poem::web::{Data, Json};
use poem::{EndpointExt, Route, handler, post};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub const STORE: &str = "test-store";
/// Every wait in these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A fake Iamport served on port 0, with a handle on its state.
pub struct Fake {
    pub fake: FakeIamport,
    pub server: RunningServer,
    pub http: reqwest::Client,
}

pub async fn fake(config: FakeIamportConfig) -> Fake {
    let fake = FakeIamport::new(config);
    let server = fake.serve(local()).await.expect("bind the fake");
    let http = reqwest::Client::builder().timeout(WAIT).build().expect("client");
    Fake { fake, server, http }
}

/// A raw answer: status and JSON body (`Value::Null` when empty, the text as a
/// JSON string when not JSON).
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Fake {
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn gateway(&self) -> IamportGateway {
        gateway_for(&self.url())
    }

    pub async fn raw(&self, method: Method, path: &str, token: Option<&str>, body: Option<Vec<u8>>) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.url()));
        if let Some(token) = token {
            request = request.header("Authorization", token);
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body);
        }
        let response = request.send().await.expect("the fake answers");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("a body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Answer { status, body }
    }

    pub async fn token(&self) -> String {
        let answer = self
            .raw(
                Method::POST,
                "/users/getToken",
                None,
                Some(json!({"imp_key": TEST_IMP_KEY, "imp_secret": TEST_IMP_SECRET}).to_string().into_bytes()),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        answer.body["response"]["access_token"].as_str().expect("a token").to_owned()
    }

    /// An authorised JSON call with a fresh token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let token = self.token().await;
        self.raw(method, path, Some(&token), body.map(|b| b.to_string().into_bytes())).await
    }

    /// A paid card payment, made as a customer would in the popup.
    pub async fn card_payment(&self, amount: u64) -> Value {
        let answer = self
            .call(
                Method::POST,
                "/subscribe/payments/onetime",
                Some(json!({
                    "card_number": "1234-5678-1234-5678", "expiry": "2030-12", "birth": "900101",
                    "pwd_2digit": "12", "name": "test order", "merchant_uid": format!("m-{}", uuid()),
                    "amount": amount
                })),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        answer.body["response"].clone()
    }

    /// A virtual account awaiting its deposit.
    pub async fn vbank(&self, amount: u64, notice_url: Option<&str>) -> Value {
        let mut body = json!({
            "merchant_uid": format!("m-{}", uuid()), "amount": amount, "vbank_code": "088",
            "vbank_due": 1_900_000_000.5, "vbank_holder": "Holder", "name": "vbank order"
        });
        if let Some(url) = notice_url {
            body["notice_url"] = json!(url);
        }
        let answer = self.call(Method::POST, "/vbanks", Some(body)).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        answer.body["response"].clone()
    }
}

/// A merchant uid unique within the test process.
pub fn uuid() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

pub fn config_for(url: &str) -> IamportConfig {
    IamportConfig::new(url).with_store(STORE, IamportCredentials::new(TEST_IMP_KEY, TEST_IMP_SECRET))
}

pub fn gateway_for(url: &str) -> IamportGateway {
    IamportGateway::new(config_for(url)).expect("a gateway")
}

/// Receives webhooks on port 0 and hands their bodies over a channel.
pub struct Receiver {
    pub server: RunningServer,
    pub hooks: mpsc::Receiver<Value>,
}

#[handler]
fn hook(Json(body): Json<Value>, tx: Data<&mpsc::Sender<Value>>) {
    let _ = tx.try_send(body);
}

pub async fn receiver() -> Receiver {
    let (tx, hooks) = mpsc::channel(64);
    let server = payments_fakekit::serve(Route::new().at("/hook", post(hook)).data(tx), local()).await.expect("bind");
    Receiver { server, hooks }
}

impl Receiver {
    pub fn url(&self) -> String {
        format!("{}/hook", self.server.url())
    }

    /// The next webhook, waiting at most [`WAIT`].
    pub async fn next(&mut self) -> Value {
        tokio::time::timeout(WAIT, self.hooks.recv()).await.expect("a webhook in time").expect("channel open")
    }
}
