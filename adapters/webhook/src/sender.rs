use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use payments_application::ports::{SendResult, WebhookSender};
use payments_crypto::WireCipher;
use payments_domain::{ClientId, DeliveryAttempt, WebhookEvent};

use crate::circuit::{Attempt, CircuitConfig, Circuits, Target};
use crate::targets::{CheckedResolver, TargetPolicy};

/// Renders an event's plaintext JSON body (`{id, source, previous, current}`);
/// supplied by the binary, which knows the wire objects.
pub type RenderBody = Arc<dyn Fn(&WebhookEvent) -> Vec<u8> + Send + Sync>;

/// A Standard Webhooks signing secret is not `whsec_` + base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook secret must be \"whsec_\" followed by base64 of at least 24 bytes")]
pub struct SecretError;

/// The `whsec_...` secret receivers verify `webhook-signature` with.
#[derive(Clone)]
pub struct WebhookSecret(Arc<standardwebhooks::Webhook>);

impl WebhookSecret {
    /// # Errors
    /// [`SecretError`] unless `whsec_` + base64 of 24 or more bytes.
    pub fn parse(secret: &str) -> Result<Self, SecretError> {
        use base64::Engine;
        let body = secret.strip_prefix("whsec_").ok_or(SecretError)?;
        let key = base64::engine::general_purpose::STANDARD.decode(body).map_err(|_| SecretError)?;
        if key.len() < 24 {
            return Err(SecretError);
        }
        Ok(Self(Arc::new(standardwebhooks::Webhook::from_bytes(key).map_err(|_| SecretError)?)))
    }

    /// Signs `body` as Standard Webhooks does: `v1,<base64 HMAC-SHA256(id.timestamp.body)>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        self.0.sign(id, timestamp, body.as_bytes()).unwrap_or_default()
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// How the sender behaves.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Per-request timeout (connect + send + response), default 10 s.
    pub timeout: Duration,
    /// `User-Agent` of deliveries.
    pub user_agent: String,
    /// Where deliveries may go (checked before each POST, and by the
    /// resolver of every connection). By default no internal address.
    pub targets: Arc<TargetPolicy>,
    /// When a receiver's attempts get a short timeout (its circuit).
    pub circuit: CircuitConfig,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            user_agent: format!("payments/{}", env!("CARGO_PKG_VERSION")),
            targets: Arc::default(),
            circuit: CircuitConfig::default(),
        }
    }
}

/// Delivers one event per call over HTTP (reqwest, pooled connections),
/// with a short timeout for a receiver whose recent attempts all failed
/// (see [`CircuitConfig`]).
#[derive(Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    timeout: Duration,
    circuits: Arc<Circuits>,
    targets: Arc<TargetPolicy>,
    cipher: WireCipher,
    secret: WebhookSecret,
    render: RenderBody,
    /// Where a client's keys are read (its events are sealed with its wire
    /// key and signed with its secret); `None`: the legacy client's only.
    clients: Option<Arc<dyn payments_application::ports::ClientRepository>>,
    /// The keys of the clients met so far.
    client_keys: Arc<std::sync::Mutex<std::collections::HashMap<ClientId, Arc<ClientKeys>>>>,
}

/// What seals and signs a client's deliveries, as read at `read`.
struct ClientKeys {
    cipher: WireCipher,
    secret: WebhookSecret,
    /// The secret before its last rotation, signing too until this time.
    previous: Option<(WebhookSecret, chrono::DateTime<chrono::Utc>)>,
    read: std::time::Instant,
}

/// How long a client's keys are used before they are read again (a
/// rotated secret signs from then on; the previous one signs on meanwhile).
const CLIENT_KEYS_FOR: Duration = Duration::from_secs(10);

/// Most clients whose keys are remembered (one per backend service).
const MAX_CLIENT_KEYS: usize = 1_000;

impl std::fmt::Debug for HttpWebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWebhookSender").finish_non_exhaustive()
    }
}

impl HttpWebhookSender {
    /// # Errors
    /// When the HTTP client cannot be built (TLS backend failure).
    pub fn new(
        config: &SenderConfig,
        cipher: WireCipher,
        secret: WebhookSecret,
        render: RenderBody,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            // Straight to the checked address: through an HTTP(S)_PROXY of
            // the environment the proxy would resolve the host, unchecked.
            .no_proxy()
            // Every connection's addresses pass the target policy first.
            .dns_resolver(Arc::new(CheckedResolver(config.targets.clone())))
            .build()?;
        Ok(Self {
            client,
            timeout: config.timeout,
            circuits: Arc::new(Circuits::new(config.circuit)),
            targets: config.targets.clone(),
            cipher,
            secret,
            render,
            clients: None,
            client_keys: Arc::default(),
        })
    }

    /// Seals and signs each client's events with its own keys, read from
    /// `clients` (the configured ones stay the legacy client's).
    #[must_use]
    pub fn with_clients(mut self, clients: Arc<dyn payments_application::ports::ClientRepository>) -> Self {
        self.clients = Some(clients);
        self
    }

    /// The exact body and headers of a delivery of `event` at `timestamp`,
    /// under the legacy client's keys.
    pub fn envelope(&self, event: &WebhookEvent, timestamp: i64) -> (String, [(&'static str, String); 3]) {
        envelope(&self.cipher, &[&self.secret], &self.render, event, timestamp)
    }

    /// The keys of `client`'s deliveries.
    async fn keys_of(&self, client: ClientId) -> Result<Arc<ClientKeys>, String> {
        if let Some(keys) = self.client_keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&client)
            && keys.read.elapsed() < CLIENT_KEYS_FOR
        {
            return Ok(keys.clone());
        }
        let clients = self.clients.as_ref().ok_or("no clients are configured here")?;
        let stored = clients
            .find_client(client)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("client {client} is not known"))?;
        let cipher = WireCipher::new(&stored.secrets.wire_key, &stored.secrets.wire_iv).map_err(|e| e.to_string())?;
        let secret = WebhookSecret::parse(&stored.secrets.webhook_secret).map_err(|e| e.to_string())?;
        let previous = match &stored.secrets.previous_webhook_secret {
            Some((old, until)) => Some((WebhookSecret::parse(old).map_err(|e| e.to_string())?, *until)),
            None => None,
        };
        let keys = Arc::new(ClientKeys { cipher, secret, previous, read: std::time::Instant::now() });
        let mut known = self.client_keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.len() >= MAX_CLIENT_KEYS {
            known.clear();
        }
        known.insert(client, keys.clone());
        Ok(keys)
    }
}

/// The body of a delivery of `event` sealed with `cipher`, and its Standard
/// Webhooks headers signed with each of `secrets` (space-separated: a
/// receiver accepts any it holds).
fn envelope(
    cipher: &WireCipher,
    secrets: &[&WebhookSecret],
    render: &RenderBody,
    event: &WebhookEvent,
    timestamp: i64,
) -> (String, [(&'static str, String); 3]) {
    let body = cipher.encrypt(&render(event));
    let id = event.id().to_string();
    let signatures: Vec<String> = secrets.iter().map(|secret| secret.sign(&id, timestamp, &body)).collect();
    let signature = signatures.join(" ");
    (body, [("webhook-id", id), ("webhook-timestamp", timestamp.to_string()), ("webhook-signature", signature)])
}

/// Reads at most `limit` bytes of a response body, then stops reading.
async fn read_bounded(mut response: reqwest::Response, limit: usize) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, event: &WebhookEvent) -> SendResult {
        let webhook_url = event.current().webhook_url();
        // The policy of now, not of when the URL was registered.
        if let Some(why) = self.targets.refuse_before_sending(webhook_url) {
            tracing::warn!(event = %event.id(), %why, "webhook target refused by the policy; not sent");
            return SendResult { status: None, body: None };
        }
        let url = webhook_url.as_str();
        let timestamp = chrono::Utc::now().timestamp();
        let client = event.current().identity().client;
        let (body, headers) = if client.is_legacy() {
            self.envelope(event, timestamp)
        } else {
            match self.keys_of(client).await {
                Ok(keys) => {
                    let mut secrets = vec![&keys.secret];
                    if let Some((previous, until)) = &keys.previous
                        && chrono::Utc::now() < *until
                    {
                        secrets.push(previous);
                    }
                    envelope(&keys.cipher, &secrets, &self.render, event, timestamp)
                }
                Err(why) => {
                    // Not sent: retried on the schedule, by when the keys may read.
                    tracing::error!(event = %event.id(), %client, %why, "the keys of a client's webhook cannot be read");
                    return SendResult { status: None, body: None };
                }
            }
        };
        let target = Target::of(webhook_url);
        let attempt = self.circuits.attempt(&target, std::time::Instant::now());
        let mut request = self.client.post(url).header("content-type", "text/plain; charset=utf-8").body(body);
        if attempt == Attempt::Short {
            // The whole attempt: connecting, sending, the answer and its body.
            request = request.timeout(self.circuits.timeout(attempt, self.timeout));
        }
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let result = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = read_bounded(response, DeliveryAttempt::MAX_BODY_BYTES).await;
                tracing::debug!(event = %event.id(), status, "webhook answered");
                SendResult { status: Some(status), body: Some(body) }
            }
            Err(error) => {
                tracing::info!(event = %event.id(), error = %error, ?attempt, "webhook receiver unreachable");
                SendResult { status: None, body: None }
            }
        };
        let succeeded = result.status.is_some_and(|s| (200..300).contains(&s));
        self.circuits.record(&target, succeeded, std::time::Instant::now());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_must_be_whsec_base64() {
        assert!(WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert_eq!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(), SecretError);
        assert!(WebhookSecret::parse("whsec_short").is_err());
        assert!(WebhookSecret::parse("whsec_not*base64*not*base64*not*base64").is_err());
        let s = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{s:?}"), "WebhookSecret(***)");
    }

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification's test vectors.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
