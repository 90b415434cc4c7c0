//! Typed Rust client of the `payments` server.
//!
//! Every route of the API, with the wire encryption built in (AES-CBC with
//! PKCS#7 padding, base64, the connection key and IV the server is configured
//! with), answers as the shared `payments-wire` objects, and failures as one
//! typed [`ClientError`]. Receivers of the server's webhooks check the
//! Standard Webhooks signature and decrypt the body with [`WebhookVerifier`].
//!
//! ```no_run
//! use payments_client::{PaymentsClient, wire};
//!
//! # async fn example() -> Result<(), payments_client::ClientError> {
//! let client = PaymentsClient::new("http://127.0.0.1:37821", b"local-dev-connection-key-32-byte", b"local-dev-iv-16b")?;
//! let history = client
//!     .with_idempotency_key("order-1001-register")
//!     .create_history(&wire::CreateHistoryBody {
//!         vendor: wire::VendorInputBody {
//!             code: wire::VendorCodeBody::Iamport,
//!             store_id: "my-store".into(),
//!             uid: "imp_123456789012".into(),
//!         },
//!         source: wire::SourceBody { schema: "shop".into(), table: "orders".into(), id: "1001".into() },
//!         price: wire::WireAmount(serde_json::Number::from(10_000u32)),
//!         password: "a secret of mine".into(),
//!         webhook_url: "https://shop.example/payments/webhook".into(),
//!         currency: Some("KRW".into()),
//!     })
//!     .await?;
//! println!("registered {} ({} {})", history.id, history.price.0, history.currency);
//! # Ok(())
//! # }
//! ```
//!
//! Receiving the webhooks:
//!
//! ```no_run
//! use payments_client::WebhookVerifier;
//!
//! # fn receive(headers: &http::HeaderMap, body: &str) -> Result<(), payments_client::WebhookError> {
//! let verifier = WebhookVerifier::new(
//!     "whsec_bG9jYWwtZGV2LXdlYmhvb2stc2VjcmV0LTMyYnl0ZXM=",
//!     b"local-dev-connection-key-32-byte",
//!     b"local-dev-iv-16b",
//! )?;
//! let event = verifier.verify(headers, body)?;
//! // `previous` is `None` when a payment is announced as recorded (an order
//! // completed by the PG's notification, a charge whose answer was lost).
//! let before = event.previous.as_ref().map(|p| p.paid_at);
//! println!("{}: {:?} -> {:?}", event.id, before, event.current.paid_at);
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use payments_crypto::WireCipher;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use reqwest::Method;

pub use payments_crypto::DecryptError;
/// The request and response objects of the API (the same types the server uses).
pub use payments_wire as wire;
use payments_wire::{
    CancelHistoryBody, ChargeReservationBody, CreateHistoryBody, CreateOrderBody, CreateReservationBody, EventFeedBody,
    HistoryBody, OrderBody, PasswordBody, PerformanceBody, ReservationBody, SourceAccessorBody, SystemBody,
    WebhookBody,
};

/// The content type of encrypted bodies.
const ENCRYPTED: &str = "text/plain; charset=utf-8";

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status and its `{code, message}` body.
    #[error("{status} {code}: {message}")]
    Api {
        /// The HTTP status (400, 403, 404, 409, 422, 502, ...).
        status: u16,
        /// The cause, a stable code (`PRICE_MISMATCH`, `WRONG_PASSWORD`, ...:
        /// README, "Errors"); empty when the body was not the server's error
        /// JSON. A string, so a code a newer server adds still reads.
        code: String,
        /// What went wrong, for people (the raw body when not the error JSON).
        message: String,
        /// The request field at fault (`price`, `source.id`, ...), when one is.
        param: Option<String>,
        /// The PG's own documented code, when a PG refused with one.
        pg_code: Option<String>,
        /// The server's id of the request (its logs name it), when it gave one.
        request_id: Option<String>,
    },
    /// The server could not be reached, or the connection failed or timed out.
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// A success answer could not be decrypted (wrong key or IV?).
    #[error("cannot decrypt the answer: {0}")]
    Decrypt(#[from] DecryptError),
    /// A success answer decrypted, but is not the expected JSON object.
    #[error("unexpected answer: {0}")]
    Decode(String),
    /// The key or IV has the wrong length, or the base URL is unusable.
    #[error("configuration: {0}")]
    Config(String),
}

impl ClientError {
    /// The HTTP status of an [`ClientError::Api`] error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's request id of an [`ClientError::Api`] error, to quote
    /// when reporting it.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ClientError::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The error code of an [`ClientError::Api`] error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The request field an [`ClientError::Api`] error names, when it names one.
    pub fn param(&self) -> Option<&str> {
        match self {
            ClientError::Api { param, .. } => param.as_deref(),
            _ => None,
        }
    }
}

/// A client of one payment server. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct PaymentsClient {
    http: reqwest::Client,
    base: String,
    cipher: WireCipher,
    idempotency_key: Option<String>,
    /// A client's API key (`Debug` does not show it).
    api_key: Option<String>,
}

impl std::fmt::Debug for PaymentsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentsClient").field("base", &self.base).field("cipher", &self.cipher).finish()
    }
}

impl PaymentsClient {
    /// A client of the server at `base_url` (`http://host:port`), with the
    /// server's connection key (16 or 32 bytes: AES-128 or AES-256) and IV (16
    /// bytes). Calls time out after 30 seconds; see [`Self::with_http_client`].
    ///
    /// # Errors
    /// [`ClientError::Config`] on a key or IV of another length, or a base URL
    /// that is not http(s).
    pub fn new(base_url: impl Into<String>, key: &[u8], iv: &[u8]) -> Result<Self, ClientError> {
        let cipher = WireCipher::new(key, iv).map_err(|e| ClientError::Config(e.to_string()))?;
        let base = base_url.into().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::Config(format!("base URL {base:?} must start with http:// or https://")));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ClientError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, base, cipher, idempotency_key: None, api_key: None })
    }

    /// The same client calling as a client of the server (`payments clients
    /// add`): `api_key` sent as `Authorization: Bearer`, with that client's
    /// wire key and IV (given to [`Self::new`]). Without it, calls are the
    /// legacy client's (the server's connection key).
    #[must_use]
    pub fn with_api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }

    /// The same client over another `reqwest` client (timeouts, proxies, TLS).
    #[must_use]
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// A copy of this client that sends `key` as `Idempotency-Key` with the
    /// calls that honour it ([`Self::create_history`], [`Self::cancel_history`],
    /// [`Self::save_card`]): a retry with the same key and body gets
    /// the first answer instead of acting twice.
    #[must_use]
    pub fn with_idempotency_key(&self, key: impl Into<String>) -> Self {
        Self { idempotency_key: Some(key.into()), ..self.clone() }
    }

    /// The server's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Registers a payment the customer has just made in the PG's popup.
    ///
    /// # Errors
    /// 400 invalid field or unknown vendor, 404 unknown payment at the PG, 409
    /// already registered, 422 the PG charged another price (the payment is
    /// then cancelled at the PG), 502/504 the PG failed.
    pub async fn create_history(&self, body: &CreateHistoryBody) -> Result<HistoryBody, ClientError> {
        self.encrypted(Method::POST, "/payments/histories", Some(body.to_json_string()), true).await
    }

    /// Registers an order before the customer's window opens (the amount
    /// locked at the PG where it offers that); answers the order, with what
    /// the window needs in `pg`. The same order asked again answers it as it
    /// stands.
    ///
    /// # Errors
    /// 400 invalid field or unknown vendor/store, 403 an order asked again
    /// with another password, 409 a payment or an order with other terms
    /// registered for the source, 422/502/504 the PG refused or failed the lock.
    pub async fn create_order(&self, body: &CreateOrderBody) -> Result<OrderBody, ClientError> {
        self.encrypted(Method::POST, "/payments/orders", Some(body.to_json_string()), true).await
    }

    /// Reads an order by the caller's record it was registered for.
    ///
    /// # Errors
    /// 403 wrong password, 404 no such order.
    pub async fn get_order(&self, accessor: &SourceAccessorBody) -> Result<OrderBody, ClientError> {
        self.encrypted(Method::PATCH, "/payments/orders/get", Some(accessor.to_json_string()), false).await
    }

    /// The caller's events after the event `after` (none: from the oldest of
    /// the last 30 days), at most `limit` (1 to 100; 50 when `None`), oldest
    /// first, with their delivery state; read on from `next_after`.
    ///
    /// # Errors
    /// 400 a bad limit, 401/403 without a key or the `events` scope.
    pub async fn list_events(
        &self,
        after: Option<uuid::Uuid>,
        limit: Option<u32>,
    ) -> Result<EventFeedBody, ClientError> {
        let mut query = Vec::new();
        if let Some(after) = after {
            query.push(format!("after={after}"));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        let path = if query.is_empty() {
            "/payments/events".to_owned()
        } else {
            format!("/payments/events?{}", query.join("&"))
        };
        self.encrypted(Method::GET, &path, None, false).await
    }

    /// Makes one of the caller's events due again now; answers it as the feed shows it.
    ///
    /// # Errors
    /// 404 an unknown event or another client's.
    pub async fn redeliver_event(&self, id: uuid::Uuid) -> Result<EventFeedBody, ClientError> {
        self.encrypted(Method::POST, &format!("/payments/events/{id}/redeliver"), None, false).await
    }

    /// Reads a payment by the caller's record it was registered for.
    ///
    /// # Errors
    /// 403 wrong password, 404 no such record.
    pub async fn get_history(&self, accessor: &SourceAccessorBody) -> Result<HistoryBody, ClientError> {
        self.encrypted(Method::PATCH, "/payments/histories/get", Some(accessor.to_json_string()), false).await
    }

    /// Reads a payment by its id.
    ///
    /// # Errors
    /// 403 wrong password, 404 no such record.
    pub async fn get_history_by_id(&self, id: uuid::Uuid, password: &str) -> Result<HistoryBody, ClientError> {
        let body = PasswordBody { password: password.to_owned() }.to_json_string();
        self.encrypted(Method::PATCH, &format!("/payments/histories/{id}"), Some(body), false).await
    }

    /// Cancels a payment wholly or partly; answers the payment as it is afterwards.
    ///
    /// # Errors
    /// 403 wrong password, 404 no such record, 422 more than the balance (or
    /// a refusal of the PG), 502/504 the PG failed.
    pub async fn cancel_history(&self, body: &CancelHistoryBody) -> Result<HistoryBody, ClientError> {
        self.encrypted(Method::PUT, "/payments/histories/cancel", Some(body.to_json_string()), true).await
    }

    /// Registers a card the customer saved in the PG's popup.
    ///
    /// # Errors
    /// 400 invalid field, 404 unknown card at the PG, 409 already registered,
    /// 422 the PG refused, 502/504 the PG failed.
    pub async fn save_card(&self, body: &CreateReservationBody) -> Result<ReservationBody, ClientError> {
        self.encrypted(Method::POST, "/payments/reservations", Some(body.to_json_string()), true).await
    }

    /// Reads a saved card by the caller's record it was registered for.
    ///
    /// # Errors
    /// 403 wrong password, 404 no such record.
    pub async fn get_saved_card(&self, accessor: &SourceAccessorBody) -> Result<ReservationBody, ClientError> {
        self.encrypted(Method::PATCH, "/payments/reservations/get", Some(accessor.to_json_string()), false).await
    }

    /// Reads a saved card by its id.
    ///
    /// # Errors
    /// 403 wrong password, 404 no such record.
    pub async fn get_saved_card_by_id(&self, id: uuid::Uuid, password: &str) -> Result<ReservationBody, ClientError> {
        let body = PasswordBody { password: password.to_owned() }.to_json_string();
        self.encrypted(Method::PATCH, &format!("/payments/reservations/{id}"), Some(body), false).await
    }

    /// Charges a saved card; the payment is registered like any other.
    /// `idempotency_key` is required: retry a 502/504 with the same key (the
    /// server settles the first attempt before charging again).
    ///
    /// # Errors
    /// 400 invalid field, 403 wrong password, 404 no such card, 409 source or
    /// order taken (or this charge still running), 410 card removed, 422 the
    /// PG refused the charge, 502/504 the PG failed.
    pub async fn charge_saved_card(
        &self,
        id: uuid::Uuid,
        body: &ChargeReservationBody,
        idempotency_key: &str,
    ) -> Result<HistoryBody, ClientError> {
        let path = format!("/payments/reservations/{id}/charge");
        self.encrypted_with_key(Method::POST, &path, Some(body.to_json_string()), Some(idempotency_key)).await
    }

    /// Removes a saved card (at the PG where it can be, and here).
    ///
    /// # Errors
    /// 403 wrong password, 404 no such record, 502/504 the PG failed.
    pub async fn remove_saved_card(&self, id: uuid::Uuid, password: &str) -> Result<ReservationBody, ClientError> {
        let body = PasswordBody { password: password.to_owned() }.to_json_string();
        self.encrypted(Method::POST, &format!("/payments/reservations/{id}/remove"), Some(body), false).await
    }

    /// `GET /monitors/health`: `Ok` while the server serves requests.
    ///
    /// # Errors
    /// The server is unreachable or answered an error status.
    pub async fn health(&self) -> Result<(), ClientError> {
        let response = self.http.get(format!("{}/monitors/health", self.base)).send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        if (200..300).contains(&status) { Ok(()) } else { Err(api_error(status, &text)) }
    }

    /// `GET /monitors/system`: who this server process is.
    ///
    /// # Errors
    /// The server is unreachable or answered an error status.
    pub async fn system(&self) -> Result<SystemBody, ClientError> {
        self.encrypted(Method::GET, "/monitors/system", None, false).await
    }

    /// `GET /monitors/performance`: resource use and the webhook delivery queue.
    ///
    /// # Errors
    /// The server is unreachable or answered an error status.
    pub async fn performance(&self) -> Result<PerformanceBody, ClientError> {
        self.encrypted(Method::GET, "/monitors/performance", None, false).await
    }

    async fn encrypted<T: ParseFromJSON>(
        &self,
        method: Method,
        path: &str,
        json: Option<String>,
        idempotent: bool,
    ) -> Result<T, ClientError> {
        let key = if idempotent { self.idempotency_key.as_deref() } else { None };
        self.encrypted_with_key(method, path, json, key).await
    }

    async fn encrypted_with_key<T: ParseFromJSON>(
        &self,
        method: Method,
        path: &str,
        json: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<T, ClientError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(json) = json {
            request =
                request.header(reqwest::header::CONTENT_TYPE, ENCRYPTED).body(self.cipher.encrypt(json.as_bytes()));
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(api_key) = &self.api_key {
            request = request.bearer_auth(api_key);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        if !(200..300).contains(&status) {
            return Err(api_error(status, &text));
        }
        let plain = self.cipher.decrypt(&text)?;
        parse(&plain)
    }
}

fn parse<T: ParseFromJSON>(json: &str) -> Result<T, ClientError> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| ClientError::Decode(e.to_string()))?;
    T::parse_from_json(Some(value)).map_err(|e| ClientError::Decode(e.into_message()))
}

fn api_error(status: u16, body: &str) -> ClientError {
    let value = serde_json::from_str::<serde_json::Value>(body).unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    match (text(&value["code"]), text(&value["message"])) {
        (Some(code), Some(message)) => ClientError::Api {
            status,
            code,
            message,
            param: text(&value["param"]),
            pg_code: text(&value["pg"]["code"]),
            request_id: text(&value["request_id"]),
        },
        _ => ClientError::Api {
            status,
            code: String::new(),
            message: body.to_owned(),
            param: None,
            pg_code: None,
            request_id: None,
        },
    }
}

/// Why a webhook delivery was rejected.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The secret is not `whsec_` + base64, or the key or IV has the wrong length.
    #[error("configuration: {0}")]
    Config(String),
    /// The `webhook-*` headers are missing, the signature does not match, or
    /// the timestamp is too far from now (replay protection, 5 minutes).
    #[error("signature: {0}")]
    Signature(String),
    /// The body is signed correctly but cannot be decrypted.
    #[error("cannot decrypt the body: {0}")]
    Decrypt(#[from] DecryptError),
    /// The body decrypted, but is not a webhook body.
    #[error("unexpected body: {0}")]
    Decode(String),
}

/// Checks and opens the webhooks the server POSTs to a payment's `webhook_url`.
pub struct WebhookVerifier {
    signature: standardwebhooks::Webhook,
    cipher: WireCipher,
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookVerifier").field("cipher", &self.cipher).finish_non_exhaustive()
    }
}

impl WebhookVerifier {
    /// `secret` is the server's `PAYMENT_WEBHOOK_SECRET` (`whsec_...`);
    /// `key` and `iv` its connection key and IV.
    ///
    /// # Errors
    /// [`WebhookError::Config`] on a malformed secret, key or IV.
    pub fn new(secret: &str, key: &[u8], iv: &[u8]) -> Result<Self, WebhookError> {
        let signature = standardwebhooks::Webhook::new(secret).map_err(|e| WebhookError::Config(e.to_string()))?;
        let cipher = WireCipher::new(key, iv).map_err(|e| WebhookError::Config(e.to_string()))?;
        Ok(Self { signature, cipher })
    }

    /// Verifies the Standard Webhooks signature of a delivery (headers
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` over the raw
    /// body), then decrypts and parses the body. `body.id` equals the
    /// `webhook-id` header and stays the same across retries: de-duplicate on it.
    ///
    /// # Errors
    /// [`WebhookError::Signature`] for anything not signed by the server;
    /// [`WebhookError::Decrypt`] / [`WebhookError::Decode`] for a body that
    /// does not open.
    pub fn verify(&self, headers: &http::HeaderMap, body: &str) -> Result<WebhookBody, WebhookError> {
        self.signature.verify(body.as_bytes(), headers).map_err(|e| WebhookError::Signature(e.to_string()))?;
        let plain = self.cipher.decrypt(body)?;
        let value: serde_json::Value = serde_json::from_str(&plain).map_err(|e| WebhookError::Decode(e.to_string()))?;
        let parsed = WebhookBody::parse_from_json(Some(value)).map_err(|e| WebhookError::Decode(e.into_message()))?;
        let header_id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if header_id != parsed.id.to_string() {
            return Err(WebhookError::Decode(format!("body id {} differs from webhook-id {header_id:?}", parsed.id)));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const IV: &[u8] = b"fedcba9876543210";

    #[test]
    fn bad_configuration_is_refused() {
        assert!(matches!(PaymentsClient::new("http://x", b"short", IV), Err(ClientError::Config(_))));
        assert!(matches!(PaymentsClient::new("http://x", KEY, b"iv"), Err(ClientError::Config(_))));
        assert!(matches!(PaymentsClient::new("ftp://x", KEY, IV), Err(ClientError::Config(_))));
        assert!(matches!(WebhookVerifier::new("plain", KEY, IV), Err(WebhookError::Config(_))));
        let client = PaymentsClient::new("http://x/", KEY, IV).unwrap();
        assert_eq!(client.base_url(), "http://x");
    }

    #[test]
    fn error_bodies_become_typed_errors() {
        let err = api_error(403, r#"{"code":"WRONG_PASSWORD","message":"wrong password"}"#);
        assert_eq!(err.status(), Some(403));
        assert_eq!(err.code(), Some("WRONG_PASSWORD"));
        let refused = api_error(
            422,
            r#"{"code":"PG_REJECTED","message":"m","param":"price","pg":{"code":"REJECT_CARD_COMPANY"}}"#,
        );
        assert!(matches!(&refused, ClientError::Api { param: Some(p), pg_code: Some(c), .. }
            if p == "price" && c == "REJECT_CARD_COMPANY"));
        let raw = api_error(502, "upstream down");
        assert!(
            matches!(raw, ClientError::Api { status: 502, ref code, ref message, .. } if code.is_empty() && message == "upstream down")
        );
    }

    #[test]
    fn tampered_webhooks_are_refused() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let verifier = WebhookVerifier::new(secret, KEY, IV).unwrap();
        let cipher = WireCipher::new(KEY, IV).unwrap();
        let body = cipher.encrypt(b"{}");
        let signer = standardwebhooks::Webhook::new(secret).unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let signature = signer.sign("msg_1", now, body.as_bytes()).unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        headers.insert("webhook-signature", signature.parse().unwrap());
        // Signed but not a webhook body.
        assert!(matches!(verifier.verify(&headers, &body), Err(WebhookError::Decode(_))));
        // Altered body.
        let other = cipher.encrypt(b"{\"a\":1}");
        assert!(matches!(verifier.verify(&headers, &other), Err(WebhookError::Signature(_))));
        headers.remove("webhook-signature");
        assert!(matches!(verifier.verify(&headers, &body), Err(WebhookError::Signature(_))));
    }
}
