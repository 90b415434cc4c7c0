use std::time::Duration;

use tokio::task::JoinHandle;

/// POSTs JSON webhooks the way a PG does: after the state change, in the
/// background, retrying a few times when the receiver fails.
#[derive(Debug, Clone)]
pub struct WebhookEmitter {
    client: reqwest::Client,
    default_url: Option<String>,
    attempts: u32,
    backoff: Duration,
}

impl WebhookEmitter {
    /// `default_url` receives every webhook whose payment names no URL of its own.
    pub fn new(default_url: Option<String>) -> Self {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Self { client, default_url, attempts: 3, backoff: Duration::from_millis(200) }
    }

    /// Retry policy: `attempts` tries, waiting `backoff` doubled after each failure.
    #[must_use]
    pub fn with_retries(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    pub fn default_url(&self) -> Option<&str> {
        self.default_url.as_deref()
    }

    /// Sends `body` to `url` (or the default URL) in the background. Returns
    /// `None` when there is nowhere to send it; otherwise a handle that yields
    /// the final status (or `None` when the receiver never answered).
    pub fn emit(&self, url: Option<&str>, body: serde_json::Value) -> Option<JoinHandle<Option<u16>>> {
        self.emit_with_headers(url, body.to_string(), Vec::new())
    }

    /// As [`emit`](Self::emit), the JSON text `body` sent as it is with
    /// `headers` (a signature over those exact bytes, for a PG that signs).
    pub fn emit_with_headers(
        &self,
        url: Option<&str>,
        body: String,
        headers: Vec<(String, String)>,
    ) -> Option<JoinHandle<Option<u16>>> {
        self.emit_retried_with(url, body, move |_| headers.clone())
    }

    /// As [`emit_with_headers`](Self::emit_with_headers), with the headers of
    /// each attempt made by `headers` from the number of attempts before it
    /// (0 the first time): a PG that names a delivery sends the same id on
    /// every retry of it, with a retry count.
    pub fn emit_retried_with(
        &self,
        url: Option<&str>,
        body: String,
        headers: impl Fn(u32) -> Vec<(String, String)> + Send + Sync + 'static,
    ) -> Option<JoinHandle<Option<u16>>> {
        let url = url.or(self.default_url.as_deref())?.to_owned();
        let this = self.clone();
        Some(tokio::spawn(async move { this.send_raw(&url, &body, &headers).await }))
    }

    /// Sends now, with retries; the final status, or `None` if never answered.
    pub async fn send(&self, url: &str, body: &serde_json::Value) -> Option<u16> {
        self.send_raw(url, &body.to_string(), &|_| Vec::new()).await
    }

    async fn send_raw(
        &self,
        url: &str,
        body: &str,
        headers: &(dyn Fn(u32) -> Vec<(String, String)> + Send + Sync),
    ) -> Option<u16> {
        let mut wait = self.backoff;
        let mut last = None;
        for attempt in 1..=self.attempts {
            let mut request =
                self.client.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_owned());
            for (name, value) in headers(attempt - 1) {
                request = request.header(name, value);
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => return Some(response.status().as_u16()),
                Ok(response) => {
                    last = Some(response.status().as_u16());
                    tracing::debug!(%url, status = response.status().as_u16(), attempt, "fake PG webhook refused");
                }
                Err(error) => tracing::debug!(%url, %error, attempt, "fake PG webhook not delivered"),
            }
            if attempt < self.attempts {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        last
    }
}
