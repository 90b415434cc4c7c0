//! Responses kept per `Idempotency-Key` ([`IdempotencyStore`]).

use super::ts_col;

use async_trait::async_trait;
use payments_application::ports::{IdempotencyClaim, IdempotencyStore, RepositoryError, StoredResponse};
use payments_domain::Timestamp;

use crate::codec::{self};
use crate::error::{corrupt, db_err};

use super::store::*;

#[async_trait]
impl IdempotencyStore for Store {
    async fn begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdempotencyClaim, RepositoryError> {
        // A claim abandoned between our insert and our read is retried; a
        // few rounds settle any race.
        for _ in 0..3 {
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (scope, idempotency_key) DO NOTHING",
            )
            .bind(scope)
            .bind(key)
            .bind(fingerprint)
            .bind(ts_col(now))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?
            .rows_affected();
            if inserted == 1 {
                return Ok(IdempotencyClaim::Proceed);
            }
            let row = sqlx::query(
                "SELECT fingerprint, response_status, response_body FROM idempotency_keys \
                 WHERE scope = $1 AND idempotency_key = $2",
            )
            .bind(scope)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
            let Some(row) = row else { continue };
            if get::<String>(&row, "fingerprint")? != fingerprint {
                return Ok(IdempotencyClaim::Mismatch);
            }
            let status: Option<i64> = get(&row, "response_status")?;
            let body: Option<String> = get(&row, "response_body")?;
            return match (status, body) {
                (Some(status), Some(body)) => {
                    let what = format!("{scope}:{key}");
                    let status = u16::try_from(status).map_err(|e| corrupt("idempotent response status", e))?;
                    let body: String = codec::open_json(&self.keys.histories, codec::IDEMPOTENT_BODY, what, &body)?;
                    Ok(IdempotencyClaim::Replay(StoredResponse { status, body }))
                }
                _ => {
                    // Unanswered for longer than any request runs: its process
                    // died. Take it over, once (the guard makes one taker win).
                    let taken = sqlx::query(
                        "UPDATE idempotency_keys SET created_at = $1 WHERE scope = $2 AND idempotency_key = $3 \
                         AND response_status IS NULL AND created_at < $4",
                    )
                    .bind(ts_col(now))
                    .bind(scope)
                    .bind(key)
                    .bind(ts_col(stale_before))
                    .execute(self.writer()?)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                    Ok(if taken == 1 { IdempotencyClaim::Proceed } else { IdempotencyClaim::InProgress })
                }
            };
        }
        Ok(IdempotencyClaim::InProgress)
    }

    async fn complete(&self, scope: &str, key: &str, response: &StoredResponse) -> Result<(), RepositoryError> {
        let body =
            codec::seal_json(&self.keys.histories, codec::IDEMPOTENT_BODY, format!("{scope}:{key}"), &response.body)?;
        sqlx::query(
            "UPDATE idempotency_keys SET response_status = $1, response_body = $2 \
             WHERE scope = $3 AND idempotency_key = $4",
        )
        .bind(i64::from(response.status))
        .bind(body)
        .bind(scope)
        .bind(key)
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn abandon(&self, scope: &str, key: &str) -> Result<(), RepositoryError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2")
            .bind(scope)
            .bind(key)
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
        Ok(sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(ts_col(cutoff))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?
            .rows_affected())
    }
}
