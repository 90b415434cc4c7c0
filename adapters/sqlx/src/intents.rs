//! Cancel intents ([`CancelIntentRepository`]), written once for both
//! backends like `store.rs`, whose helpers and column conversions it uses.

use super::store::{Store, get, get_id, get_money, get_ts};
use super::{DbRow, id_col, money_col, ts_col};

use async_trait::async_trait;
use payments_application::ports::{
    CancelIntent, CancelIntentRepository, IntentBegin, IntentState, RefundAccount, RepositoryError,
};
use payments_domain::{CancelKey, CancelReason, HistoryId};
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::{corrupt, db_err, unique_violation};

const COLUMNS: &str = "id, payment_history_id, amount, reason, refund_account, remaining, attempt, state, \
     cancel_key, refusal, created_at, updated_at";
const OPEN: &str = "state IN ('pending', 'unknown')";
const REFUND_ACCOUNT: &str = "payment_cancel_intents.refund_account";
/// How often `begin` looks again when its insert raced another.
const BEGIN_ROUNDS: usize = 4;

/// The sealed form of a refund account.
#[derive(Serialize, Deserialize)]
struct SealedAccount {
    bank: String,
    account: String,
    holder: String,
    mobile: String,
}

/// The stored spelling of an intent's state (cancel and charge intents).
pub(super) fn state_text(state: IntentState) -> &'static str {
    match state {
        // Accepted is a pending intent that knows its PG cancel (below).
        IntentState::Pending | IntentState::Accepted => "pending",
        IntentState::Unknown => "unknown",
        IntentState::Done => "done",
        IntentState::Refused => "refused",
    }
}

pub(super) fn state_of(text: &str) -> Option<IntentState> {
    Some(match text {
        "pending" => IntentState::Pending,
        "unknown" => IntentState::Unknown,
        "done" => IntentState::Done,
        "refused" => IntentState::Refused,
        _ => return None,
    })
}

impl Store {
    fn seal_account(&self, intent: &CancelIntent) -> Result<Option<String>, RepositoryError> {
        intent
            .refund_account
            .as_ref()
            .map(|a| {
                let sealed = SealedAccount {
                    bank: a.bank.clone(),
                    account: a.account.clone(),
                    holder: a.holder.clone(),
                    mobile: a.mobile.clone(),
                };
                codec::seal_json(&self.keys.cancels, REFUND_ACCOUNT, intent.id, &sealed)
            })
            .transpose()
    }

    fn intent(&self, row: &DbRow) -> Result<CancelIntent, RepositoryError> {
        let id = get_id(row, "id")?;
        let bad = |what: &str, why: &dyn std::fmt::Display| corrupt(format!("{what} of intent {id}"), why);
        let account: Option<String> = get(row, "refund_account")?;
        let refund_account = account
            .map(|sealed| {
                let a: SealedAccount = codec::open_json(&self.keys.cancels, REFUND_ACCOUNT, id, &sealed)?;
                Ok::<_, RepositoryError>(RefundAccount {
                    bank: a.bank,
                    account: a.account,
                    holder: a.holder,
                    mobile: a.mobile,
                })
            })
            .transpose()?;
        let state: String = get(row, "state")?;
        let attempt: i64 = get(row, "attempt")?;
        let cancel_key: Option<String> = get(row, "cancel_key")?;
        Ok(CancelIntent {
            id,
            history: HistoryId::from_uuid(get_id(row, "payment_history_id")?),
            amount: get_money(row, "amount")?,
            reason: CancelReason::parse(get::<String>(row, "reason")?).map_err(|e| bad("reason", &e))?,
            refund_account,
            remaining: get_money(row, "remaining")?,
            attempt: u32::try_from(attempt).map_err(|e| bad("attempt", &e))?,
            state: match state_of(&state).ok_or_else(|| bad("state", &state))? {
                IntentState::Pending if cancel_key.is_some() => IntentState::Accepted,
                other => other,
            },
            cancel_key: cancel_key.map(CancelKey::parse).transpose().map_err(|e| bad("cancel_key", &e))?,
            refusal: get(row, "refusal")?,
            created_at: get_ts(row, "created_at")?,
            updated_at: get_ts(row, "updated_at")?,
        })
    }

    async fn intent_where(&self, filter: &str, id: uuid::Uuid) -> Result<Option<CancelIntent>, RepositoryError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM payment_cancel_intents WHERE {filter} LIMIT 1"))
            .bind(id_col(id))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|row| self.intent(&row)).transpose()
    }
}

#[async_trait]
impl CancelIntentRepository for Store {
    async fn find(&self, id: uuid::Uuid) -> Result<Option<CancelIntent>, RepositoryError> {
        self.intent_where("id = $1", id).await
    }

    async fn begin(&self, intent: &CancelIntent) -> Result<IntentBegin, RepositoryError> {
        let account = self.seal_account(intent)?;
        let history = intent.history.as_uuid();
        for _ in 0..BEGIN_ROUNDS {
            if let Some(existing) = self.intent_where("id = $1", intent.id).await? {
                return Ok(IntentBegin::Exists(existing));
            }
            if let Some(open) = self.intent_where(&format!("payment_history_id = $1 AND {OPEN}"), history).await? {
                return Ok(IntentBegin::Busy(open));
            }
            let inserted = sqlx::query(&format!(
                "INSERT INTO payment_cancel_intents ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ))
            .bind(id_col(intent.id))
            .bind(id_col(history))
            .bind(money_col(intent.amount))
            .bind(intent.reason.as_str())
            .bind(account.clone())
            .bind(money_col(intent.remaining))
            .bind(i64::from(intent.attempt))
            .bind(state_text(intent.state))
            .bind(intent.cancel_key.as_ref().map(|k| k.as_str().to_owned()))
            .bind(intent.refusal.clone())
            .bind(ts_col(intent.created_at))
            .bind(ts_col(intent.updated_at))
            .execute(self.writer()?)
            .await;
            match inserted {
                Ok(_) => return Ok(IntentBegin::Begun),
                // Another instance recorded this id or an open intent of this
                // payment between our look and our insert: look again.
                Err(error) if unique_violation(&error).is_some() => continue,
                Err(error) => return Err(db_err(error)),
            }
        }
        Err(RepositoryError::Unavailable("cancel intents keep racing; retry".into()))
    }

    async fn update(&self, intent: &CancelIntent) -> Result<bool, RepositoryError> {
        // A closed intent is never sent again: its refund account goes.
        let updated = sqlx::query(
            "UPDATE payment_cancel_intents SET state = $1, attempt = $2, remaining = $3, cancel_key = $4, \
             refusal = $5, updated_at = $6, \
             refund_account = CASE WHEN $1 IN ('pending', 'unknown') THEN refund_account ELSE NULL END \
             WHERE id = $7",
        )
        .bind(state_text(intent.state))
        .bind(i64::from(intent.attempt))
        .bind(money_col(intent.remaining))
        .bind(intent.cancel_key.as_ref().map(|k| k.as_str().to_owned()))
        .bind(intent.refusal.clone())
        .bind(ts_col(intent.updated_at))
        .bind(id_col(intent.id))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(updated.rows_affected() == 1)
    }

    async fn claimed_cancel_keys(&self, history: HistoryId) -> Result<Vec<CancelKey>, RepositoryError> {
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT cancel_key FROM payment_cancel_intents \
             WHERE payment_history_id = $1 AND state = 'done' AND cancel_key IS NOT NULL",
        )
        .bind(id_col(history.as_uuid()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        keys.into_iter()
            .map(|key| CancelKey::parse(key).map_err(|e| corrupt(format!("a cancel key of {history}"), e)))
            .collect()
    }

    async fn open_of(&self, history: HistoryId) -> Result<Option<CancelIntent>, RepositoryError> {
        self.intent_where(&format!("payment_history_id = $1 AND {OPEN}"), history.as_uuid()).await
    }

    async fn open(&self, limit: u32) -> Result<Vec<CancelIntent>, RepositoryError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payment_cancel_intents WHERE {OPEN} ORDER BY updated_at LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(|row| self.intent(row)).collect()
    }
}
