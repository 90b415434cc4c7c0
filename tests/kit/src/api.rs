//! The encrypting caller of the API: sends a JSON body sealed with the wire
//! key, opens a successful answer, and gives the status and body as they
//! came, for tests that look at what a typed client would hide.

use std::time::Duration;

use anyhow::Context;
use payments_crypto::WireCipher;
use reqwest::Method;
use serde_json::{Value, json};

/// Per-request deadline of the test clients: an answer slower than this is a hang.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The wire cipher of the kit's keys ([`crate::WIRE_KEY`], [`crate::WIRE_IV`]).
///
/// # Panics
/// Never: the constants are valid.
pub fn cipher() -> WireCipher {
    WireCipher::new(crate::WIRE_KEY.as_bytes(), crate::WIRE_IV.as_bytes()).expect("valid test key")
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
    /// A client of the server at `url` with the kit's keys.
    pub fn new(url: impl Into<String>) -> Self {
        Self::with_cipher(url, cipher())
    }

    /// A client of the server at `url` whose wire key is `cipher`'s.
    pub fn with_cipher(url: impl Into<String>, cipher: WireCipher) -> Self {
        Self { url: url.into(), http: http_client(), cipher }
    }

    /// Sends `body` encrypted; decrypts a successful answer.
    ///
    /// # Errors
    /// Transport errors (refused, timed out) and undecryptable successes.
    pub async fn call(&self, method: Method, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.send(method, path, Some(body), None).await
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
        self.send(method, path, Some(body), idempotency_key).await
    }

    /// Sends `body` (if any) encrypted, with an `Idempotency-Key` (if any);
    /// decrypts an encrypted success.
    ///
    /// # Errors
    /// As [`Api::call`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Reply> {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            let sealed = self.cipher.encrypt(body.to_string().as_bytes());
            request = request.header("content-type", "text/plain").body(sealed);
        }
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
        } else if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Reply { status, body })
    }

    /// The status of `GET /monitors/health`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn health(&self) -> anyhow::Result<u16> {
        Ok(self.http.get(format!("{}/monitors/health", self.url)).send().await?.status().as_u16())
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

    /// Registers the Toss saved card `billing_key` for `shop.customers.<customer>`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn save_toss_card(&self, billing_key: &str, customer: &str, password: &str) -> anyhow::Result<Reply> {
        let body = json!({
            "vendor": {"code": "toss.payments", "store_id": "store-1", "uid": billing_key},
            "source": {"schema": "shop", "table": "customers", "id": customer},
            "title": "saved card", "password": password,
        });
        self.call(Method::POST, "/payments/reservations", &body).await
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
