//! Charge intents of saved cards ([`ChargeIntentRepository`]), written once
//! for both backends like `store.rs`, whose helpers it uses.

use super::store::{Store, get, get_id, get_money, get_ts};
use super::{DbRow, IdCol, from_id, id_col, money_col, ts_col};

use async_trait::async_trait;
use payments_application::ports::{ChargeBegin, ChargeContext, ChargeIntent, ChargeIntentRepository, RepositoryError};
use payments_domain::{HistoryId, SavedCardId, Source, Timestamp, Title, WebhookUrl};
use serde::{Deserialize, Serialize};

use super::intents::{state_of, state_text};
use crate::codec;
use crate::error::{corrupt, db_err, unique_violation};

const COLUMNS: &str = "id, payment_reservation_id, order_digest, amount, state, payment_history_id, refusal, \
     created_at, updated_at, context";
const CONTEXT: &str = "payment_charge_intents.context";
/// Open charge intents, as the partial index `payment_charge_intents_open_age` has them.
const OPEN: &str = "state IN ('pending', 'unknown')";

/// The sealed form of a [`ChargeContext`].
#[derive(Serialize, Deserialize)]
struct SealedContext {
    schema: String,
    table: String,
    id: String,
    webhook_url: String,
    title: String,
}
/// How often `begin_charge` looks again when its insert raced another.
const BEGIN_ROUNDS: usize = 4;

impl Store {
    fn seal_context(&self, intent: &ChargeIntent) -> Result<Option<String>, RepositoryError> {
        let Some(context) = &intent.context else { return Ok(None) };
        let sealed = SealedContext {
            schema: context.source.schema.as_str().to_owned(),
            table: context.source.table.as_str().to_owned(),
            id: context.source.id.as_str().to_owned(),
            webhook_url: context.webhook_url.as_str().to_owned(),
            title: context.title.as_str().to_owned(),
        };
        codec::seal_json(&self.keys.histories, CONTEXT, intent.id, &sealed).map(Some)
    }

    fn charge(&self, row: &DbRow) -> Result<ChargeIntent, RepositoryError> {
        let id = get_id(row, "id")?;
        let state: String = get(row, "state")?;
        let context = get::<Option<String>>(row, "context")?
            .map(|sealed| {
                let c: SealedContext = codec::open_json(&self.keys.histories, CONTEXT, id, &sealed)?;
                let bad = |what: &str, e: &dyn std::fmt::Display| corrupt(format!("{what} of charge {id}"), e);
                Ok::<_, RepositoryError>(ChargeContext {
                    source: Source::parse(&c.schema, &c.table, &c.id).map_err(|e| bad("source", &e))?,
                    webhook_url: WebhookUrl::parse(&c.webhook_url).map_err(|e| bad("webhook_url", &e))?,
                    title: Title::parse(&c.title).map_err(|e| bad("title", &e))?,
                })
            })
            .transpose()?;
        Ok(ChargeIntent {
            id,
            reservation: SavedCardId::from_uuid(get_id(row, "payment_reservation_id")?),
            order_digest: get(row, "order_digest")?,
            amount: get_money(row, "amount")?,
            state: state_of(&state).ok_or_else(|| corrupt(format!("state of charge {id}"), &state))?,
            history: get::<Option<IdCol>>(row, "payment_history_id")?.map(|h| HistoryId::from_uuid(from_id(h))),
            refusal: get(row, "refusal")?,
            context,
            created_at: get_ts(row, "created_at")?,
            updated_at: get_ts(row, "updated_at")?,
        })
    }
}

#[async_trait]
impl ChargeIntentRepository for Store {
    async fn find_charge(&self, id: uuid::Uuid) -> Result<Option<ChargeIntent>, RepositoryError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM payment_charge_intents WHERE id = $1"))
            .bind(id_col(id))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(|row| self.charge(row)).transpose()
    }

    async fn begin_charge(&self, intent: &ChargeIntent) -> Result<ChargeBegin, RepositoryError> {
        let context = self.seal_context(intent)?;
        for _ in 0..BEGIN_ROUNDS {
            let existing = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM payment_charge_intents WHERE id = $1 OR order_digest = $2 LIMIT 1"
            ))
            .bind(id_col(intent.id))
            .bind(&intent.order_digest)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
            if let Some(row) = existing {
                return Ok(ChargeBegin::Exists(Box::new(self.charge(&row)?)));
            }
            let inserted = sqlx::query(&format!(
                "INSERT INTO payment_charge_intents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(id_col(intent.id))
            .bind(id_col(intent.reservation.as_uuid()))
            .bind(&intent.order_digest)
            .bind(money_col(intent.amount))
            .bind(state_text(intent.state))
            .bind(intent.history.map(|h| id_col(h.as_uuid())))
            .bind(intent.refusal.clone())
            .bind(ts_col(intent.created_at))
            .bind(ts_col(intent.updated_at))
            .bind(context.clone())
            .execute(self.writer()?)
            .await;
            match inserted {
                Ok(_) => return Ok(ChargeBegin::Begun),
                // Another request recorded this id or this order between our
                // look and our insert: look again.
                Err(error) if unique_violation(&error).is_some() => continue,
                Err(error) => return Err(db_err(error)),
            }
        }
        Err(RepositoryError::Unavailable("charge intents keep racing; retry".into()))
    }

    async fn update_charge(&self, intent: &ChargeIntent, expected: Timestamp) -> Result<bool, RepositoryError> {
        let updated = sqlx::query(
            "UPDATE payment_charge_intents SET state = $1, payment_history_id = $2, refusal = $3, updated_at = $4 \
             WHERE id = $5 AND updated_at = $6",
        )
        .bind(state_text(intent.state))
        .bind(intent.history.map(|h| id_col(h.as_uuid())))
        .bind(intent.refusal.clone())
        .bind(ts_col(intent.updated_at))
        .bind(id_col(intent.id))
        .bind(ts_col(expected))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(updated.rows_affected() == 1)
    }

    async fn abandoned_charges(
        &self,
        stale_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<ChargeIntent>, RepositoryError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payment_charge_intents WHERE {OPEN} AND updated_at < $1 ORDER BY updated_at LIMIT $2"
        ))
        .bind(ts_col(stale_before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(|row| self.charge(row)).collect()
    }
}
