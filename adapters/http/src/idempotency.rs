//! `Idempotency-Key`: a retry with the same key and body gets the first answer.

use std::future::Future;
use std::sync::Arc;

use payments_application::AppError;
use payments_application::ports::{IdempotencyClaim, StoredResponse};
use poem_openapi::types::ToJSON;
use sha2::{Digest, Sha256};

use crate::HttpState;
use crate::encrypted::EncryptedReply;
use crate::error::{ApiError, body_json};

/// Longest accepted `Idempotency-Key`, in characters.
pub const MAX_KEY_CHARS: usize = 255;

/// How long keys must be kept at least (the store's purge uses this).
pub const KEY_RETENTION: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
        return Err(ApiError::new(
            400,
            "INVALID_REQUEST",
            format!("Idempotency-Key: must be 1 to {MAX_KEY_CHARS} characters"),
        ));
    }
    if key.chars().any(|c| c.is_control()) {
        return Err(ApiError::new(400, "INVALID_REQUEST", "Idempotency-Key: must not contain control characters"));
    }
    Ok(())
}

/// SHA-256 of the (canonical) decrypted request body, hex.
pub fn fingerprint(plaintext: &str) -> String {
    Sha256::digest(plaintext.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `work` at most once per `(scope, key)`: the first request runs it and
/// stores its answer (2xx and 4xx; a 5xx abandons the key so a retry may
/// proceed); a retry with the same body gets the stored answer without
/// running anything; the same key with another body answers 422; while the
/// first still runs, 409. Without a key, `work` just runs.
///
/// `work` runs in its own task, so a client that hangs up cannot leave a
/// claimed key behind half-done.
///
/// # Errors
/// The use case's error, or the idempotency answers above; 503 when the key
/// store is unavailable.
pub(crate) async fn run<T, const STATUS: u16, F>(
    state: &Arc<HttpState>,
    scope: &'static str,
    key: Option<String>,
    body: &str,
    work: F,
) -> Result<EncryptedReply<T, STATUS>, ApiError>
where
    T: ToJSON + Send + 'static,
    F: Future<Output = Result<T, AppError>> + Send + 'static,
{
    let Some(key) = key else {
        let value = work.await?;
        return Ok(EncryptedReply::new(&value, &state.cipher));
    };
    check_key(&key)?;
    let now = payments_domain::to_millis(chrono::Utc::now());
    let lease = chrono::Duration::from_std(state.idempotency_lease).unwrap_or(chrono::Duration::MAX);
    let stale_before = now.checked_sub_signed(lease).unwrap_or(now);
    let claim =
        state.idempotency.begin(scope, &key, &fingerprint(body), now, stale_before).await.map_err(AppError::from)?;
    match claim {
        IdempotencyClaim::Proceed => {}
        IdempotencyClaim::Replay(stored) => {
            tracing::info!(scope, status = stored.status, "idempotent replay");
            return if (200..300).contains(&stored.status) {
                Ok(EncryptedReply::from_plaintext(&stored.body, &state.cipher).replayed())
            } else {
                Err(ApiError::from_stored(stored.status, &stored.body))
            };
        }
        IdempotencyClaim::InProgress => {
            return Err(ApiError::new(
                409,
                "IDEMPOTENCY_IN_PROGRESS",
                "a request with this Idempotency-Key is still running; retry later",
            ));
        }
        IdempotencyClaim::Mismatch => {
            return Err(ApiError::new(
                422,
                "IDEMPOTENCY_MISMATCH",
                "this Idempotency-Key was used with a different request body",
            ));
        }
    }
    let store = state.idempotency.clone();
    let task = tokio::spawn(async move {
        let outcome = work.await.map(|value| value.to_json_string()).map_err(ApiError::from);
        let settled = match &outcome {
            Ok(json) => store.complete(scope, &key, &StoredResponse { status: STATUS, body: json.clone() }).await,
            Err(error) if error.status >= 500 => store.abandon(scope, &key).await,
            Err(error) => {
                store.complete(scope, &key, &StoredResponse { status: error.status, body: body_json(error) }).await
            }
        };
        if let Err(error) = settled {
            tracing::error!(scope, %error, "could not settle an idempotency key; it stays claimed until purged");
        }
        outcome
    });
    let outcome = task.await.map_err(|error| {
        tracing::error!(%error, "idempotent request task failed");
        ApiError::new(500, "INTERNAL", "internal error")
    })?;
    outcome.map(|json| EncryptedReply::from_plaintext(&json, &state.cipher))
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
    fn fingerprint_is_sha256_hex() {
        assert_eq!(fingerprint(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
