//! `Idempotency-Key` on every POST, as Toss documents it: a key is matched
//! with the credentials, the HTTP method and the path; a repeat is not
//! executed again and gets the first answer (status and body); a repeat
//! while the first is still running gets 409 `IDEMPOTENT_REQUEST_PROCESSING`;
//! a key longer than 300 characters is a 400 `INVALID_IDEMPOTENCY_KEY`. The
//! body is not compared (Toss does not say it is). Answers are kept in a
//! bounded, expiring [`Store`].

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use poem::http::{Method, StatusCode, header};
use poem::{Endpoint, Request, Response};

use payments_fakekit::{Store, StoreLimits};

use super::handlers::error_response;

/// The request header.
pub(crate) const HEADER: &str = "Idempotency-Key";

/// The longest key Toss accepts, in characters.
pub(crate) const MAX_KEY_CHARS: usize = 300;

/// What a key is unique within: (hash of the Authorization header, method, path, key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Scope {
    credentials: u64,
    method: String,
    path: String,
    key: String,
}

impl Scope {
    pub(crate) fn new(authorization: Option<&str>, method: &Method, path: &str, key: &str) -> Self {
        let mut hasher = DefaultHasher::new();
        authorization.hash(&mut hasher);
        Self {
            credentials: hasher.finish(),
            method: method.as_str().to_owned(),
            path: path.to_owned(),
            key: key.to_owned(),
        }
    }
}

/// A finished answer, replayed as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    fn response(&self) -> Response {
        let mut builder = Response::builder().status(self.status);
        if let Some(content_type) = &self.content_type {
            builder = builder.content_type(content_type);
        }
        builder.body(self.body.clone())
    }
}

#[derive(Debug, Clone)]
enum Entry {
    Running,
    Done(Answer),
}

/// The answers given under each key.
#[derive(Debug)]
pub(crate) struct Idempotency {
    entries: Store<Scope, Entry>,
    /// Makes "absent, so mine" one step (the store has no insert-if-absent).
    claiming: Mutex<()>,
}

/// What a request under a key is to do.
#[derive(Debug)]
pub(crate) enum Claim<'a> {
    /// Run it; the guard keeps its answer (or, dropped unfinished, frees the key).
    First(Guard<'a>),
    /// Answer this again.
    Replay(Answer),
    /// The first request with this key has not answered yet.
    Running,
}

/// The key of a request being run.
#[derive(Debug)]
pub(crate) struct Guard<'a> {
    owner: &'a Idempotency,
    scope: Option<Scope>,
}

impl Guard<'_> {
    /// Keeps `answer` for the repeats.
    pub(crate) fn finish(mut self, answer: Answer) {
        if let Some(scope) = self.scope.take() {
            self.owner.entries.insert(scope, Entry::Done(answer));
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // Never answered (the handler was cancelled): the key may be used again.
        if let Some(scope) = self.scope.take() {
            self.owner.entries.remove(&scope);
        }
    }
}

impl Idempotency {
    pub(crate) fn new(limits: StoreLimits) -> Self {
        Self { entries: Store::new(limits), claiming: Mutex::new(()) }
    }

    pub(crate) fn claim(&self, scope: Scope) -> Claim<'_> {
        let _one_at_a_time = self.claiming.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match self.entries.get(&scope) {
            Some(Entry::Done(answer)) => Claim::Replay(answer),
            Some(Entry::Running) => Claim::Running,
            None => {
                self.entries.insert(scope.clone(), Entry::Running);
                Claim::First(Guard { owner: self, scope: Some(scope) })
            }
        }
    }
}

/// Why a key cannot be used, or the key.
fn key_of(request: &Request) -> Result<Option<String>, &'static str> {
    let Some(value) = request.headers().get(HEADER) else { return Ok(None) };
    let key = value.to_str().map_err(|_| "the Idempotency-Key must be visible ASCII")?;
    if key.trim().is_empty() {
        return Err("the Idempotency-Key must not be empty");
    }
    if key.chars().count() > MAX_KEY_CHARS {
        return Err("멱등키는 300자 이하여야 합니다.");
    }
    Ok(Some(key.to_owned()))
}

/// Runs `request` through `endpoint`, honouring its `Idempotency-Key` when it is a POST.
pub(crate) async fn serve<E: Endpoint>(idempotency: &Idempotency, endpoint: &E, request: Request) -> Response {
    if request.method() != Method::POST {
        return endpoint.get_response(request).await;
    }
    let key = match key_of(&request) {
        Ok(Some(key)) => key,
        Ok(None) => return endpoint.get_response(request).await,
        Err(why) => return error_response(StatusCode::BAD_REQUEST, "INVALID_IDEMPOTENCY_KEY", why),
    };
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let scope = Scope::new(authorization, request.method(), request.uri().path(), &key);
    let guard = match idempotency.claim(scope) {
        Claim::First(guard) => guard,
        Claim::Replay(answer) => return answer.response(),
        Claim::Running => {
            return error_response(
                StatusCode::CONFLICT,
                "IDEMPOTENT_REQUEST_PROCESSING",
                "이전 멱등 요청이 처리중입니다.",
            );
        }
    };
    let response = endpoint.get_response(request).await;
    let status = response.status();
    let content_type = response.content_type().map(str::to_owned);
    match response.into_body().into_vec().await {
        Ok(body) => {
            let answer = Answer { status, content_type, body };
            guard.finish(answer.clone());
            answer.response()
        }
        Err(error) => {
            drop(guard);
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "FAILED_INTERNAL_SYSTEM_PROCESSING", &error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(key: &str) -> Scope {
        Scope::new(Some("Basic x"), &Method::POST, "/v1/payments/confirm", key)
    }

    fn answer(body: &str) -> Answer {
        Answer { status: StatusCode::OK, content_type: Some("application/json".into()), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn a_key_is_run_once_then_replayed() {
        let idempotency = Idempotency::new(StoreLimits::default());
        let Claim::First(guard) = idempotency.claim(scope("k")) else { panic!("first use runs") };
        assert!(matches!(idempotency.claim(scope("k")), Claim::Running), "409 while the first runs");
        guard.finish(answer("{\"a\":1}"));
        match idempotency.claim(scope("k")) {
            Claim::Replay(replayed) => assert_eq!(replayed, answer("{\"a\":1}")),
            other => panic!("replay expected, got {other:?}"),
        }
        // Another key, path, method or credential is another request.
        assert!(matches!(idempotency.claim(scope("other")), Claim::First(_)));
        let other_path = Scope::new(Some("Basic x"), &Method::POST, "/v1/payments/k/cancel", "k");
        assert!(matches!(idempotency.claim(other_path), Claim::First(_)));
        let other_secret = Scope::new(Some("Basic y"), &Method::POST, "/v1/payments/confirm", "k");
        assert!(matches!(idempotency.claim(other_secret), Claim::First(_)));
    }

    #[test]
    fn an_unfinished_request_frees_its_key() {
        let idempotency = Idempotency::new(StoreLimits::default());
        let Claim::First(guard) = idempotency.claim(scope("k")) else { panic!("first use runs") };
        drop(guard);
        assert!(matches!(idempotency.claim(scope("k")), Claim::First(_)));
    }

    #[test]
    fn answers_are_bounded() {
        let limits = StoreLimits { capacity: 2, ttl: std::time::Duration::from_secs(60) };
        let idempotency = Idempotency::new(limits);
        for key in ["a", "b", "c"] {
            let Claim::First(guard) = idempotency.claim(scope(key)) else { panic!("first use runs") };
            guard.finish(answer(key));
        }
        assert!(matches!(idempotency.claim(scope("a")), Claim::First(_)), "the oldest answer was evicted");
        assert!(matches!(idempotency.claim(scope("c")), Claim::Replay(_)));
    }
}
