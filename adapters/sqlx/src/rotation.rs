//! Re-sealing stored values under the current keys (`payments keys rotate`).

use super::id_col;

use payments_application::ports::RepositoryError;
use uuid::Uuid;

use crate::RotationReport;
use crate::codec::{self};
use crate::error::db_err;

use super::store::*;

/// Rows per page when re-sealing.
const ROTATION_PAGE: i64 = 200;

impl Store {
    /// Re-seals the sealed `columns` of `table` (keyed by a UUID `id`) that
    /// are not under the current key of `keyring`, a page at a time. Rows
    /// where one of them is NULL (an unanswered attempt) are skipped.
    async fn rotate_table(
        &self,
        table: &str,
        columns: &[&str],
        keyring: &payments_crypto::Keyring,
    ) -> Result<u64, RepositoryError> {
        let present: Vec<String> = columns.iter().map(|c| format!("{c} IS NOT NULL")).collect();
        let select = format!(
            "SELECT id, {} FROM {table} WHERE id > $1 AND {} ORDER BY id LIMIT $2",
            columns.join(", "),
            present.join(" AND ")
        );
        let sets: Vec<String> = columns.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect();
        let guards: Vec<String> =
            columns.iter().enumerate().map(|(i, c)| format!("{c} = ${}", columns.len() + 2 + i)).collect();
        let update = format!(
            "UPDATE {table} SET {} WHERE id = ${} AND {}",
            sets.join(", "),
            columns.len() + 1,
            guards.join(" AND ")
        );
        let mut after = Uuid::nil();
        let mut resealed = 0;
        loop {
            let rows = sqlx::query(&select)
                .bind(id_col(after))
                .bind(ROTATION_PAGE)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
            let Some(last) = rows.last() else { break };
            after = get_id(last, "id")?;
            for row in &rows {
                let id = get_id(row, "id")?;
                let old: Vec<String> = columns.iter().map(|c| get::<String>(row, c)).collect::<Result<_, _>>()?;
                let mut new = Vec::with_capacity(old.len());
                let mut changed = false;
                for (column, value) in columns.iter().zip(&old) {
                    match codec::reseal(keyring, &format!("{table}.{column}"), id, value)? {
                        Some(v) => {
                            changed = true;
                            new.push(v);
                        }
                        None => new.push(value.clone()),
                    }
                }
                if !changed {
                    continue;
                }
                let mut query = sqlx::query(&update);
                for value in new {
                    query = query.bind(value);
                }
                query = query.bind(id_col(id));
                for value in old {
                    query = query.bind(value);
                }
                // A row changed meanwhile was written under the current key.
                let done = query.execute(self.writer()?).await.map_err(db_err)?.rows_affected();
                resealed += done;
            }
            if i64::try_from(rows.len()).unwrap_or(i64::MAX) < ROTATION_PAGE {
                break;
            }
        }
        Ok(resealed)
    }

    async fn rotate_idempotency(&self) -> Result<u64, RepositoryError> {
        let keyring = &self.keys.histories;
        let mut after = (String::new(), String::new());
        let mut resealed = 0;
        loop {
            let rows = sqlx::query(
                "SELECT scope, idempotency_key, response_body FROM idempotency_keys \
                 WHERE (scope, idempotency_key) > ($1, $2) ORDER BY scope, idempotency_key LIMIT $3",
            )
            .bind(&after.0)
            .bind(&after.1)
            .bind(ROTATION_PAGE)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
            let Some(last) = rows.last() else { break };
            after = (get(last, "scope")?, get(last, "idempotency_key")?);
            for row in &rows {
                let Some(old) = get::<Option<String>>(row, "response_body")? else { continue };
                let scope: String = get(row, "scope")?;
                let key: String = get(row, "idempotency_key")?;
                let Some(new) = codec::reseal(keyring, codec::IDEMPOTENT_BODY, format!("{scope}:{key}"), &old)? else {
                    continue;
                };
                resealed += sqlx::query(
                    "UPDATE idempotency_keys SET response_body = $1 \
                     WHERE scope = $2 AND idempotency_key = $3 AND response_body = $4",
                )
                .bind(new)
                .bind(&scope)
                .bind(&key)
                .bind(&old)
                .execute(self.writer()?)
                .await
                .map_err(db_err)?
                .rows_affected();
            }
            if i64::try_from(rows.len()).unwrap_or(i64::MAX) < ROTATION_PAGE {
                break;
            }
        }
        Ok(resealed)
    }

    /// See [`crate::Database::reencrypt_all`].
    pub(crate) async fn reencrypt_all(&self) -> Result<RotationReport, RepositoryError> {
        let keys = self.keys.clone();
        Ok(RotationReport {
            histories: self.rotate_table("payment_histories", &["data"], &keys.histories).await?
                + self.rotate_table("payment_histories", &["vendor_order_id"], &keys.histories).await?
                + self.rotate_table("payment_histories", &["pending_cancels"], &keys.histories).await?
                + self.rotate_table("payment_charge_intents", &["context"], &keys.histories).await?
                + self.rotate_table("payment_clients", &["secrets"], &keys.histories).await?
                + self.rotate_table("payment_operators", &["totp_secret"], &keys.histories).await?,
            cancels: self.rotate_table("payment_history_cancels", &["data"], &keys.cancels).await?
                + self.rotate_table("payment_cancel_intents", &["refund_account"], &keys.cancels).await?,
            reservations: self.rotate_table("payment_reservations", &["data"], &keys.reservations).await?,
            webhook_events: self
                .rotate_table("payment_history_webhooks", &["previous", "current", "data"], &keys.histories)
                .await?,
            webhook_responses: self
                .rotate_table("payment_history_webhook_responses", &["body"], &keys.histories)
                .await?,
            idempotency_keys: self.rotate_idempotency().await?,
            notifications: self.rotate_table("pg_notifications", &["body"], &keys.histories).await?,
        })
    }
}
