//! Wrong passwords per record ([`PasswordAttempts`]), written once for both
//! backends like `store.rs`, whose helpers and column conversions it uses.

use std::time::Duration;

use super::store::{Store, get, get_opt_ts};
use super::ts_col;

use async_trait::async_trait;
use payments_application::ports::{PasswordAttempts, PasswordFailures, PasswordRecord, RepositoryError};
use payments_domain::Timestamp;

use crate::error::db_err;

fn to_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

#[async_trait]
impl PasswordAttempts for Store {
    async fn failures(&self, record: PasswordRecord) -> Result<PasswordFailures, RepositoryError> {
        let row = sqlx::query("SELECT failures, lockouts, locked_until FROM password_failures WHERE record = $1")
            .bind(record.key())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(PasswordFailures::default()) };
        Ok(PasswordFailures {
            failures: to_u32(get(&row, "failures")?),
            lockouts: to_u32(get(&row, "lockouts")?),
            locked_until: get_opt_ts(&row, "locked_until")?,
        })
    }

    async fn fail(
        &self,
        record: PasswordRecord,
        now: Timestamp,
        window: Duration,
    ) -> Result<PasswordFailures, RepositoryError> {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        let window_start = now.checked_sub_signed(window).unwrap_or(now);
        // One statement: concurrent failures on several instances all count.
        let row = sqlx::query(
            "INSERT INTO password_failures (record, failures, window_started_at, lockouts, updated_at) \
             VALUES ($1, 1, $2, 0, $2) \
             ON CONFLICT (record) DO UPDATE SET \
             failures = CASE WHEN password_failures.window_started_at < $3 THEN 1 \
                        ELSE password_failures.failures + 1 END, \
             window_started_at = CASE WHEN password_failures.window_started_at < $3 THEN $2 \
                                 ELSE password_failures.window_started_at END, \
             updated_at = $2 \
             RETURNING failures, lockouts, locked_until",
        )
        .bind(record.key())
        .bind(ts_col(now))
        .bind(ts_col(window_start))
        .fetch_one(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(PasswordFailures {
            failures: to_u32(get(&row, "failures")?),
            lockouts: to_u32(get(&row, "lockouts")?),
            locked_until: get_opt_ts(&row, "locked_until")?,
        })
    }

    async fn lock(&self, record: PasswordRecord, until: Timestamp) -> Result<(), RepositoryError> {
        sqlx::query(
            "UPDATE password_failures SET failures = 0, lockouts = lockouts + 1, locked_until = $1, \
             window_started_at = $1, updated_at = $1 WHERE record = $2",
        )
        .bind(ts_col(until))
        .bind(record.key())
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn clear(&self, record: PasswordRecord) -> Result<(), RepositoryError> {
        sqlx::query("DELETE FROM password_failures WHERE record = $1")
            .bind(record.key())
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
        let purged = sqlx::query(
            "DELETE FROM password_failures WHERE updated_at < $1 AND (locked_until IS NULL OR locked_until < $1)",
        )
        .bind(ts_col(cutoff))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(purged.rows_affected())
    }
}
