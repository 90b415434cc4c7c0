//! The HTTP side every PG client shares: one pooled client per PG (timeout,
//! no redirects), paths joined onto the base URL, answers read up to a bound,
//! and transport failures mapped to [`GatewayError`] with the call's method
//! and path (never its query or the full URL with credentials).

use std::time::Duration;

pub use bytes::Bytes;
use bytes::BytesMut;
use payments_application::ports::GatewayError;
use reqwest::{Method, RequestBuilder, StatusCode};
use url::Url;

/// The header carrying a call's idempotency key, where a PG supports one.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The largest PG answer read. A payment with its cancels is a few KiB; an
/// answer past this is not a PG's and is refused, not buffered.
pub const MAX_ANSWER_BYTES: usize = 2 * 1024 * 1024;

/// Why a PG client cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum PgBuildError {
    #[error("invalid {pg} base URL {url:?}: {reason}")]
    BaseUrl { pg: &'static str, url: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// A PG's answer: its status and body (at most [`MAX_ANSWER_BYTES`]).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Answer {
    /// The body's first `chars` characters, for the log only: a PG's own
    /// text never reaches an answer (see [`failed_call`]).
    pub fn snippet(&self, chars: usize) -> String {
        String::from_utf8_lossy(&self.body).chars().take(chars).collect()
    }
}

/// How much of a PG's own text (its message, an error page) a log line keeps.
pub const LOGGED_PG_TEXT_CHARS: usize = 500;

/// What an answer of ours says of a PG call that failed: the call and the
/// PG's HTTP status, and the PG's own code only when the PG documents it
/// (`documented`, each PG crate's list): `POST /v1/payments/confirm answered
/// 400 ALREADY_PROCESSED_PAYMENT`. What the PG wrote (`pg_text`: its
/// message, an error page) and an undocumented code are logged here, as
/// fields the log format escapes, and go nowhere else: a PG's text is not
/// ours to hand to a backend, and may hold anything (line breaks, escape
/// sequences, a forged log line, an internal detail).
pub fn failed_call(
    pg: &'static str,
    what: &str,
    status: StatusCode,
    code: Option<&str>,
    pg_text: &str,
    documented: &[&str],
) -> String {
    let pg_text: String = pg_text.chars().take(LOGGED_PG_TEXT_CHARS).collect();
    if status.is_server_error() {
        tracing::warn!(pg, call = what, status = status.as_u16(), code, pg_text, "a PG call failed");
    } else {
        tracing::info!(pg, call = what, status = status.as_u16(), code, pg_text, "a PG call was refused");
    }
    match code.filter(|code| documented.contains(code)) {
        Some(code) => format!("{pg} {what} answered {} {code}", status.as_u16()),
        None => format!("{pg} {what} answered {}", status.as_u16()),
    }
}

/// One PG's HTTP client over its base URL.
#[derive(Debug, Clone)]
pub struct PgHttp {
    pg: &'static str,
    client: reqwest::Client,
    base: Url,
}

impl PgHttp {
    /// A client of `pg` (its name in messages) at `base_url`, each call bounded by `timeout`.
    ///
    /// # Errors
    /// When `base_url` is not an absolute http(s) URL that can take a path,
    /// or the client cannot be built.
    pub fn new(pg: &'static str, base_url: &str, timeout: Duration) -> Result<Self, PgBuildError> {
        let bad = |reason: String| PgBuildError::BaseUrl { pg, url: base_url.to_owned(), reason };
        let base = Url::parse(&format!("{}/", base_url.trim_end_matches('/'))).map_err(|e| bad(e.to_string()))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(bad("must be an http(s) URL".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A PG API does not redirect; following one would send the
            // credentials wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(PgBuildError::Client)?;
        Ok(Self { pg, client, base })
    }

    /// The PG's name, as in messages.
    pub fn pg(&self) -> &'static str {
        self.pg
    }

    /// The base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The base URL with `segments` appended, each escaped.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// A request to `segments` under the base URL.
    pub fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.client.request(method, self.url(segments))
    }

    /// Sends `request` (named `what`, e.g. `POST /v1/payments/confirm`, in
    /// messages) and reads its answer, whatever its status.
    ///
    /// # Errors
    /// `Timeout` when the PG did not answer in time; `Unavailable` when it
    /// could not be reached or the connection broke; `Protocol` for an
    /// answer over [`MAX_ANSWER_BYTES`].
    pub async fn send(&self, request: RequestBuilder, what: &str) -> Result<Answer, GatewayError> {
        let mut response = request.send().await.map_err(|e| transport_error(what, e))?;
        let status = response.status();
        let too_large = || GatewayError::Protocol(format!("{what}: the answer is over {MAX_ANSWER_BYTES} bytes"));
        if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(what, e))? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body: body.freeze() })
    }
}

/// A failed call: the error it maps to, and the PG's own code of the
/// refusal when it sent one (Toss `code`, PortOne `type`), so a caller can
/// tell one refusal from another.
#[derive(Debug)]
pub struct PgFailure {
    pub code: Option<String>,
    pub error: GatewayError,
}

impl From<GatewayError> for PgFailure {
    fn from(error: GatewayError) -> Self {
        Self { code: None, error }
    }
}

/// How a call is named in messages and logs: `POST /v1/payments/confirm`
/// (method and path, never the host or a query).
pub fn call_name(method: &Method, segments: &[&str]) -> String {
    format!("{method} /{}", segments.join("/"))
}

/// A failure before an answer was read: `Timeout` or `Unavailable`, naming the
/// call but not its URL.
pub fn transport_error(what: &str, error: reqwest::Error) -> GatewayError {
    let error = error.without_url();
    if error.is_timeout() {
        GatewayError::Timeout(format!("{what}: {error}"))
    } else {
        GatewayError::Unavailable(format!("{what}: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_escaped_onto_the_base_and_only_http_bases_are_taken() {
        let http = PgHttp::new("Toss", "https://api.example/base/", Duration::from_secs(1)).unwrap();
        assert_eq!(
            http.url(&["v1", "payments", "a/b c?d"]).as_str(),
            "https://api.example/base/v1/payments/a%2Fb%20c%3Fd"
        );
        for bad in ["ftp://x", "mailto:a@b", "not a url"] {
            let built = PgHttp::new("Toss", bad, Duration::from_secs(1));
            assert!(matches!(built, Err(PgBuildError::BaseUrl { .. })), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_answer_over_the_bound_is_refused_and_one_within_it_read_whole() {
        use poem::{Route, get, handler};
        #[handler]
        fn huge() -> Vec<u8> {
            vec![b'x'; MAX_ANSWER_BYTES + 1]
        }
        #[handler]
        fn chunked() -> poem::Body {
            let chunks = (0..=MAX_ANSWER_BYTES / 65_536).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 65_536]));
            poem::Body::from_bytes_stream(futures::stream::iter(chunks))
        }
        #[handler]
        fn small() -> &'static str {
            "{\"ok\": true}"
        }
        let routes = Route::new().at("/huge", get(huge)).at("/chunked", get(chunked)).at("/small", get(small));
        let server = payments_fakekit::serve(routes, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let http = PgHttp::new("Test", &server.url(), Duration::from_secs(5)).unwrap();
        for path in ["huge", "chunked"] {
            let error = http.send(http.request(Method::GET, &[path]), path).await.unwrap_err();
            assert!(matches!(&error, GatewayError::Protocol(m) if m.contains("over")), "{path}: {error:?}");
        }
        let answer = http.send(http.request(Method::GET, &["small"]), "small").await.unwrap();
        assert_eq!((answer.status, answer.snippet(100).as_str()), (StatusCode::OK, "{\"ok\": true}"));
        server.stop().await.unwrap();
    }

    #[test]
    fn a_failed_call_names_the_call_its_status_and_only_a_documented_code() {
        let forged = "oops\n2026-01-01T00:00:00Z  INFO request method=PUT status=200\u{1b}[2K";
        let documented = ["NOT_FOUND_PAYMENT"];
        let named = failed_call(
            "Toss",
            "GET /v1/payments/x",
            StatusCode::NOT_FOUND,
            Some("NOT_FOUND_PAYMENT"),
            forged,
            &documented,
        );
        assert_eq!(named, "Toss GET /v1/payments/x answered 404 NOT_FOUND_PAYMENT");
        let unknown =
            failed_call("Toss", "GET /v1/payments/x", StatusCode::BAD_GATEWAY, Some(forged), forged, &documented);
        assert_eq!(unknown, "Toss GET /v1/payments/x answered 502");
        let none = failed_call("Iamport", "POST /payments/cancel", StatusCode::OK, None, forged, &[]);
        assert_eq!(none, "Iamport POST /payments/cancel answered 200");
    }

    #[tokio::test]
    async fn transport_failures_name_the_call_not_the_url() {
        let http = PgHttp::new("Test", "http://127.0.0.1:9/secret-path", Duration::from_secs(2)).unwrap();
        let error =
            http.send(http.request(Method::GET, &["x"]).query(&[("token", "abc")]), "GET /x").await.unwrap_err();
        assert!(matches!(&error, GatewayError::Unavailable(_)), "{error:?}");
        let text = error.to_string();
        assert!(text.contains("GET /x") && !text.contains("token") && !text.contains("secret-path"), "{text}");
    }
}
