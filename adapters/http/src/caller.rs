//! Who is calling: a client, by its API key (`Authorization: Bearer ...`),
//! or the legacy client (no header: the configured connection key). Every
//! route of the API runs as one, resolved before its body is read.

use std::sync::Arc;

use payments_application::AppError;
use payments_crypto::WireCipher;
use payments_domain::{ClientId, Scope, Scopes};
use payments_wire::ErrorCode;
use poem::http::{HeaderValue, header};
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::HttpState;
use crate::error::ApiError;

/// The client a request runs as.
#[derive(Clone)]
pub struct Caller {
    /// Its id ([`ClientId::LEGACY`] for the legacy client).
    pub client: ClientId,
    /// What it may do.
    pub scopes: Scopes,
    /// How its bodies and answers travel: sealed with its wire key, or plain JSON.
    pub envelope: crate::Envelope,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller").field("client", &self.client).field("scopes", &self.scopes).finish_non_exhaustive()
    }
}

impl Caller {
    /// The legacy client: the configured connection key, every scope but
    /// `events`. Its key is every backend's that has none of its own, so a
    /// feed of its events would show each of them every other's payments
    /// (their PG data, without their passwords): it has none.
    pub fn legacy(cipher: &WireCipher) -> Self {
        let scopes = Scopes::parse("read,register,cancel,cards,charge").expect("the legacy client's scopes parse");
        Self { client: ClientId::LEGACY, scopes, envelope: crate::Envelope::Aes(cipher.clone()) }
    }

    /// Refuses a route its scopes do not include.
    ///
    /// # Errors
    /// [`AppError::ScopeMissing`].
    pub fn require(&self, scope: Scope) -> Result<(), AppError> {
        if self.scopes.allows(scope) { Ok(()) } else { Err(AppError::ScopeMissing(scope)) }
    }
}

/// Requests of each client, counted per second (a token bucket per client,
/// a burst of one second's worth), by this instance.
#[derive(Debug, Default)]
pub struct ClientRates {
    buckets: std::sync::Mutex<std::collections::HashMap<ClientId, (f64, std::time::Instant)>>,
}

/// Most clients counted at once (past it the counts start again).
const MAX_COUNTED_CLIENTS: usize = 10_000;

impl ClientRates {
    /// Takes one request of `client` allowed `rate` a second at `now`; when
    /// none is left, how long until one is.
    ///
    /// # Errors
    /// The wait until the next request is allowed.
    pub fn admit(&self, client: ClientId, rate: u32, now: std::time::Instant) -> Result<(), std::time::Duration> {
        let rate = f64::from(rate.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_COUNTED_CLIENTS && !buckets.contains_key(&client) {
            buckets.clear();
        }
        let (tokens, at) = buckets.entry(client).or_insert((rate, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * rate).min(rate);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(std::time::Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

/// Whether `path` is one of the API's own routes (a client's), rather than a
/// PG notification route, a monitor or the document.
pub(crate) fn is_client_route(path: &str) -> bool {
    path.starts_with("/payments/") && !path.starts_with("/payments/webhooks")
}

/// Resolves the caller of every client route before anything else reads the
/// request: a bearer key is authenticated (401 for any failure, one
/// message), no header is the legacy client when that is enabled.
pub(crate) async fn authenticate<E: Endpoint>(next: Arc<E>, mut request: Request) -> poem::Result<Response> {
    if !is_client_route(request.uri().path()) {
        return next.call(request).await.map(IntoResponse::into_response);
    }
    let state = request.data::<Arc<HttpState>>().cloned().ok_or_else(|| {
        tracing::error!("HttpState is missing from the request data");
        poem::Error::from(ApiError::internal())
    })?;
    let caller = match resolve(&state, request.headers().get(header::AUTHORIZATION)).await {
        Ok(caller) => caller,
        Err((label, refused)) => {
            state.metrics.observe_client_request(&label, refused.status);
            return Err(refused.into());
        }
    };
    let label = metric_label(caller.client);
    request.set_data(caller);
    let answered = next.call(request).await.map(IntoResponse::into_response);
    let status = match &answered {
        Ok(response) => response.status().as_u16(),
        Err(error) => ApiError::from_poem(error).status,
    };
    state.metrics.observe_client_request(&label, status);
    answered
}

/// A client's label in the metrics: its id, or `legacy`.
fn metric_label(client: ClientId) -> String {
    if client.is_legacy() { "legacy".to_owned() } else { client.to_string() }
}

/// The caller of an `Authorization` value (none: the legacy client, when
/// enabled), or the refusal and the label it is counted under
/// (`unauthenticated`, or the client past its rate).
async fn resolve(state: &HttpState, authorization: Option<&HeaderValue>) -> Result<Caller, (String, ApiError)> {
    let unauthenticated = |error: ApiError| ("unauthenticated".to_owned(), error);
    let Some(value) = authorization else {
        if state.legacy_client {
            return Ok(Caller::legacy(&state.cipher));
        }
        let message = "an API key is required: Authorization: Bearer <key>";
        return Err(unauthenticated(ApiError::new(ErrorCode::Unauthenticated, message)));
    };
    let (Some(clients), Ok(text)) = (&state.clients, value.to_str()) else {
        return Err(unauthenticated(AppError::Unauthenticated("the API key is not valid".into()).into()));
    };
    let stored = clients.authenticate(text).await.map_err(|error| unauthenticated(error.into()))?;
    let cipher = WireCipher::new(&stored.secrets.wire_key, &stored.secrets.wire_iv).map_err(|error| {
        tracing::error!(client = %stored.client.id, %error, "a client's stored wire key is unusable");
        (metric_label(stored.client.id), ApiError::internal())
    })?;
    let rate = stored.client.rate_per_second.unwrap_or(state.client_rate);
    if let Err(wait) = state.client_rates.admit(stored.client.id, rate, std::time::Instant::now()) {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let message = format!("this client's rate is {rate} requests a second; retry in {seconds} s");
        return Err((
            metric_label(stored.client.id),
            ApiError::new(ErrorCode::RateLimited, message).retry_after(seconds),
        ));
    }
    let envelope = if stored.client.plain_json { crate::Envelope::PlainJson } else { crate::Envelope::Aes(cipher) };
    Ok(Caller { client: stored.client.id, scopes: stored.client.scopes, envelope })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_has_its_own_bucket_refilled_at_its_rate() {
        let rates = ClientRates::default();
        let (a, b) = (ClientId::from_uuid(uuid::Uuid::from_u128(1)), ClientId::from_uuid(uuid::Uuid::from_u128(2)));
        let t0 = std::time::Instant::now();
        assert!(rates.admit(a, 2, t0).is_ok() && rates.admit(a, 2, t0).is_ok(), "a burst of its rate");
        let wait = rates.admit(a, 2, t0).unwrap_err();
        assert_eq!(wait, std::time::Duration::from_millis(500));
        assert!(rates.admit(b, 2, t0).is_ok(), "another client is served meanwhile");
        assert!(rates.admit(a, 2, t0 + std::time::Duration::from_millis(500)).is_ok(), "refilled");
    }

    #[test]
    fn client_routes_are_the_apis_not_the_pgs_nor_the_monitors() {
        for path in ["/payments/histories", "/payments/orders/get", "/payments/reservations/x/charge"] {
            assert!(is_client_route(path), "{path}");
        }
        for path in ["/payments/webhooks/toss", "/monitors/health", "/openapi.json", "/docs"] {
            assert!(!is_client_route(path), "{path}");
        }
    }
}
