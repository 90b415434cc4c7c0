//! Charge intents of saved cards ([`ChargeIntentRepository`]), written once
//! for both backends like `store.rs`, whose helpers it uses.

use super::store::{Store, get, get_id, get_money, get_ts};
use super::{DbRow, IdCol, from_id, id_col, money_col, ts_col};

use async_trait::async_trait;
use payments_application::ports::{ChargeBegin, ChargeIntent, ChargeIntentRepository, RepositoryError};
use payments_domain::{HistoryId, SavedCardId, Timestamp};

use super::intents::{state_of, state_text};
use crate::error::{corrupt, db_err, unique_violation};

const COLUMNS: &str = "id, payment_reservation_id, order_digest, amount, state, payment_history_id, refusal, \
     created_at, updated_at";
/// How often `begin_charge` looks again when its insert raced another.
const BEGIN_ROUNDS: usize = 4;

fn charge(row: &DbRow) -> Result<ChargeIntent, RepositoryError> {
    let id = get_id(row, "id")?;
    let state: String = get(row, "state")?;
    Ok(ChargeIntent {
        id,
        reservation: SavedCardId::from_uuid(get_id(row, "payment_reservation_id")?),
        order_digest: get(row, "order_digest")?,
        amount: get_money(row, "amount")?,
        state: state_of(&state).ok_or_else(|| corrupt(format!("state of charge {id}"), &state))?,
        history: get::<Option<IdCol>>(row, "payment_history_id")?.map(|h| HistoryId::from_uuid(from_id(h))),
        refusal: get(row, "refusal")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

#[async_trait]
impl ChargeIntentRepository for Store {
    async fn find_charge(&self, id: uuid::Uuid) -> Result<Option<ChargeIntent>, RepositoryError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM payment_charge_intents WHERE id = $1"))
            .bind(id_col(id))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(charge).transpose()
    }

    async fn begin_charge(&self, intent: &ChargeIntent) -> Result<ChargeBegin, RepositoryError> {
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
                return Ok(ChargeBegin::Exists(charge(&row)?));
            }
            let inserted = sqlx::query(&format!(
                "INSERT INTO payment_charge_intents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
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
}
