//! `Idempotency-Key`: a retry with the same key and body gets the first answer.

use payments_wire::ErrorCode;
use std::future::Future;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use payments_application::AppError;
use payments_application::ports::{IdempotencyClaim, StoredResponse};
use poem_openapi::types::ToJSON;
use sha2::{Digest, Sha256};

use crate::HttpState;
use crate::encrypted::{EncryptedReply, canonical_json};
use crate::error::{ApiError, body_json};

/// Longest accepted `Idempotency-Key`, in characters.
pub const MAX_KEY_CHARS: usize = 255;

/// How long keys must be kept at least (the store's purge uses this).
pub const KEY_RETENTION: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("Idempotency-Key: must be 1 to {MAX_KEY_CHARS} characters"),
        )
        .with_param("Idempotency-Key"));
    }
    if key.chars().any(|c| c.is_control()) {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "Idempotency-Key: must not contain control characters")
            .with_param("Idempotency-Key"));
    }
    Ok(())
}

/// The server secret that keys fingerprints and scopes: derived from the
/// configured keys, so every instance computes the same, and a reader of
/// the database alone cannot test guesses against what is stored.
#[derive(Clone)]
pub struct IdempotencySecret([u8; 32]);

impl IdempotencySecret {
    /// Wraps 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A secret of this process only (for servers that run alone: tests).
    pub fn random() -> Self {
        let seed = [uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes()].concat();
        Self(Sha256::digest(seed).into())
    }

    fn tag(&self, domain: &str, message: &str) -> String {
        // One key for two uses, told apart by the domain prefix.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for IdempotencySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdempotencySecret(***)")
    }
}

/// HMAC-SHA256 under `secret` of the canonical request body without its
/// `password`, hex: a retry with another password is the same request (and
/// is answered only once its password verifies), and what is stored tells
/// nothing about the password.
pub fn fingerprint(secret: &IdempotencySecret, canonical_body: &str) -> String {
    let without_password = match serde_json::from_str::<serde_json::Value>(canonical_body) {
        Ok(serde_json::Value::Object(mut object)) => {
            object.remove("password");
            canonical_json(&serde_json::Value::Object(object))
        }
        _ => canonical_body.to_owned(),
    };
    secret.tag("fingerprint", &without_password)
}

/// Whether the money-moving work a key's first request began has its
/// outcome (its intent is closed), asked when that request still holds the key.
pub(crate) type SettledCheck = std::pin::Pin<Box<dyn Future<Output = bool> + Send>>;

/// What a keyed request is, for [`run`]: its route, the record it is about
/// (a source or a card id: keys are scoped to both), its key and body, and
/// for a cancel or a charge how to tell its outcome is settled.
pub(crate) struct Keyed<'a> {
    pub route: &'static str,
    pub record: String,
    /// The caller's envelope: the answer (and a replay of it) is sealed in it.
    pub cipher: crate::Envelope,
    pub key: Option<String>,
    pub canonical_body: &'a str,
    pub settled: Option<SettledCheck>,
}

impl<'a> Keyed<'a> {
    /// A request of `caller` about its record `source`.
    pub fn about_source(
        caller: &crate::Caller,
        route: &'static str,
        source: &payments_domain::Source,
        key: Option<String>,
        canonical_body: &'a str,
    ) -> Self {
        let record = format!("source {} {} {}", source.schema.as_str(), source.table.as_str(), source.id.as_str());
        Self::about(caller, route, record, key, canonical_body)
    }

    /// A request of `caller` about `record` (`card <uuid>`). A client's keys
    /// are its own: the record names the client (the legacy client's as
    /// before clients existed, so keys stored then still answer).
    pub fn about(
        caller: &crate::Caller,
        route: &'static str,
        record: String,
        key: Option<String>,
        canonical_body: &'a str,
    ) -> Self {
        let record =
            if caller.client.is_legacy() { record } else { format!("client {} {record}", caller.client.as_uuid()) };
        Self { route, record, cipher: caller.envelope.clone(), key, canonical_body, settled: None }
    }

    /// A key whose first request still runs is taken over when `check` says
    /// that request's intent is settled: its sender may be dead (a survivor
    /// settled the cancel or charge), and the retry answers the outcome at
    /// once instead of waiting out the claim's lease. The work it then runs
    /// finds the settled intent and answers it; nothing is sent again.
    pub fn settled_when(mut self, check: impl Future<Output = bool> + Send + 'static) -> Self {
        self.settled = Some(Box::pin(check));
        self
    }

    fn scope(&self, secret: &IdempotencySecret) -> String {
        scope(secret, self.route, &self.record)
    }
}

/// The store scope of a key: the route and a keyed digest of the record
/// (`source <schema> <table> <id>`, `card <uuid>`), so the same key sent for
/// another record, or to another route, is another request.
pub fn scope(secret: &IdempotencySecret, route: &str, record: &str) -> String {
    format!("{route} {}", &secret.tag("record", record)[..32])
}

/// Runs `work` at most once per key, route and record: the first request
/// runs it and stores its answer (2xx and 4xx; a 5xx, a wrong password or a
/// locked record abandons the key so a retry may proceed); a retry with the same body gets the stored answer
/// without running anything, once `verify` (the retry's own password check
/// against its record) passed; the same key with another body answers 422;
/// while the first still runs, 409. Without a key, `work` just runs.
///
/// `work` runs in its own task, so a client that hangs up cannot leave a
/// claimed key behind half-done.
///
/// # Errors
/// The use case's error, or the idempotency answers above; 403 for a replay
/// whose password is wrong; 503 when the key store is unavailable.
pub(crate) async fn run<T, const STATUS: u16, F, V>(
    state: &Arc<HttpState>,
    request: Keyed<'_>,
    verify: V,
    work: F,
) -> Result<EncryptedReply<T, STATUS>, ApiError>
where
    T: ToJSON + Send + 'static,
    F: Future<Output = Result<T, AppError>> + Send + 'static,
    V: Future<Output = Result<(), AppError>>,
{
    run_answering(state, request, verify, async move { work.await.map(|value| (value, STATUS)) }).await
}

/// As [`run`], for work that also says its success status (a 202 for an
/// operation accepted and not completed): stored with the answer, replayed as
/// it was.
pub(crate) async fn run_answering<T, const STATUS: u16, F, V>(
    state: &Arc<HttpState>,
    request: Keyed<'_>,
    verify: V,
    work: F,
) -> Result<EncryptedReply<T, STATUS>, ApiError>
where
    T: ToJSON + Send + 'static,
    F: Future<Output = Result<(T, u16), AppError>> + Send + 'static,
    V: Future<Output = Result<(), AppError>>,
{
    let Some(key) = request.key.clone() else {
        let (value, status) = work.await?;
        return Ok(EncryptedReply::new(&value, &request.cipher).with_status(status));
    };
    check_key(&key)?;
    let scope = request.scope(&state.idempotency_secret);
    let route = request.route;
    let cipher = request.cipher.clone();
    let now = payments_domain::to_millis(chrono::Utc::now());
    let lease = chrono::Duration::from_std(state.idempotency_lease).unwrap_or(chrono::Duration::MAX);
    let stale_before = now.checked_sub_signed(lease).unwrap_or(now);
    let fingerprint = fingerprint(&state.idempotency_secret, request.canonical_body);
    let mut claim =
        state.idempotency.begin(&scope, &key, &fingerprint, now, stale_before).await.map_err(AppError::from)?;
    if claim == IdempotencyClaim::InProgress
        && let Some(settled) = request.settled
        && settled.await
    {
        let now = payments_domain::to_millis(chrono::Utc::now());
        claim = state.idempotency.begin(&scope, &key, &fingerprint, now, now).await.map_err(AppError::from)?;
        if claim == IdempotencyClaim::Proceed {
            tracing::info!(route, "a settled request's key taken over from its first request");
        }
    }
    match claim {
        IdempotencyClaim::Proceed => {}
        IdempotencyClaim::Replay(stored) => {
            let success = (200..300).contains(&stored.status);
            match verify.await {
                Ok(()) => {}
                // A refusal that stored no record has no password to check;
                // it answers what this very body would be answered anyway.
                Err(error) if error.cause() == payments_application::Cause::RecordNotFound && !success => {}
                Err(error) => return Err(error.into()),
            }
            tracing::info!(route, status = stored.status, "idempotent replay");
            return if success {
                Ok(EncryptedReply::from_plaintext(&stored.body, &cipher).with_status(stored.status).replayed())
            } else {
                Err(ApiError::from_stored(stored.status, &stored.body))
            };
        }
        IdempotencyClaim::InProgress => {
            return Err(ApiError::new(
                ErrorCode::IdempotencyKeyInUse,
                "a request with this Idempotency-Key is still running; retry later",
            ));
        }
        IdempotencyClaim::Mismatch => {
            return Err(ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used with a different request body",
            ));
        }
    }
    let store = state.idempotency.clone();
    let task = tokio::spawn(async move {
        let outcome = work.await.map(|(value, status)| (value.to_json_string(), status)).map_err(ApiError::from);
        let settled = match &outcome {
            Ok((json, status)) => {
                store.complete(&scope, &key, &StoredResponse { status: *status, body: json.clone() }).await
            }
            // Not an answer to the request but to its credentials or to
            // our state: a retry (with the right password, later) proceeds.
            Err(error) if error.status >= 500 || matches!(error.status, 403 | 429) => store.abandon(&scope, &key).await,
            Err(error) => {
                store.complete(&scope, &key, &StoredResponse { status: error.status, body: body_json(error) }).await
            }
        };
        if let Err(error) = settled {
            tracing::error!(route, %error, "could not settle an idempotency key; it stays claimed until purged");
        }
        outcome
    });
    let outcome = task.await.map_err(|error| {
        tracing::error!(%error, "idempotent request task failed");
        ApiError::new(ErrorCode::Internal, "internal error")
    })?;
    outcome.map(|(json, status)| EncryptedReply::from_plaintext(&json, &cipher).with_status(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded() {
        assert!(check_key("a").is_ok());
        assert!(check_key(&"k".repeat(255)).is_ok());
        assert_eq!(check_key(&"k".repeat(256)).unwrap_err().status, 400);
        assert_eq!(check_key("").unwrap_err().status, 400);
        assert_eq!(check_key("a\nb").unwrap_err().status, 400);
    }

    #[test]
    fn fingerprints_are_keyed_and_leave_the_password_out() {
        let secret = IdempotencySecret::new([7; 32]);
        let body = r#"{"password":"hunter2-long","price":1000,"source":{"id":"o-1"}}"#;
        let other_password = r#"{"password":"another-one","price":1000,"source":{"id":"o-1"}}"#;
        let other_price = r#"{"password":"hunter2-long","price":1001,"source":{"id":"o-1"}}"#;
        assert_eq!(fingerprint(&secret, body), fingerprint(&secret, other_password));
        assert_ne!(fingerprint(&secret, body), fingerprint(&secret, other_price));
        assert_ne!(fingerprint(&secret, body), fingerprint(&IdempotencySecret::new([8; 32]), body), "keyed");
        let unkeyed: String = Sha256::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_ne!(fingerprint(&secret, body), unkeyed);
        assert_eq!(fingerprint(&secret, body).len(), 64);
        assert!(!format!("{secret:?}").contains('7'));
    }

    #[test]
    fn scopes_name_the_route_and_the_record() {
        let secret = IdempotencySecret::new([7; 32]);
        let cipher = payments_crypto::WireCipher::new(&[1; 16], &[2; 16]).unwrap();
        let legacy = crate::Caller::legacy(&cipher);
        let client =
            crate::Caller { client: payments_domain::ClientId::from_uuid(uuid::Uuid::from_u128(9)), ..legacy.clone() };
        let keyed_as = |caller: &crate::Caller, route, record: &str| {
            Keyed::about(caller, route, record.to_owned(), None, "{}").scope(&secret)
        };
        let keyed = |route, record: &str| keyed_as(&legacy, route, record);
        let card = keyed("POST /payments/reservations/{id}/charge", "card-a");
        // A legacy key's scope is what it was before clients; each client's keys are its own.
        assert_eq!(card, scope(&secret, "POST /payments/reservations/{id}/charge", "card-a"));
        assert_ne!(card, keyed_as(&client, "POST /payments/reservations/{id}/charge", "card-a"));
        assert!(card.starts_with("POST /payments/reservations/{id}/charge "));
        assert!(!card.contains("card-a"), "the record is digested");
        assert_ne!(card, keyed("POST /payments/reservations/{id}/charge", "card-b"));
        assert_ne!(keyed("POST /payments/histories", "s"), keyed("PUT /payments/histories/cancel", "s"));
    }
}
