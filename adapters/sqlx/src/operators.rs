//! Operators, their sessions and the audit trail ([`OperatorRepository`]),
//! written once for both backends like `store.rs`: passwords as argon2
//! hashes, TOTP secrets sealed with the histories keyring (re-sealed by
//! `keys rotate`), session tokens as digests.

use super::store::{Store, get, get_id, get_opt_ts, get_ts};
use super::{DbRow, from_id, id_col, ts_col};

use async_trait::async_trait;
use base64::Engine as _;
use payments_application::ports::{OperatorRepository, OperatorSession, RepositoryError, StoredOperator};
use payments_domain::{
    AuditAction, AuditEntry, AuditId, Operator, OperatorId, OperatorName, PasswordHash, Role, Timestamp,
};

use crate::codec;
use crate::error::{corrupt, db_err, unique_violation};

const COLUMNS: &str = "id, name, role, password, totp_secret, created_at, disabled_at";
const SESSION_COLUMNS: &str = "token_digest, operator_id, csrf_token, created_at, last_seen_at";
const AUDIT_COLUMNS: &str = "id, at, operator_id, actor, action, record, outcome, request_id, address";
/// The sealed column, as `keys rotate` names it.
const TOTP_SECRET: &str = "payment_operators.totp_secret";
/// Most operators listed (people, not services).
const MAX_OPERATORS: i64 = 1_000;

fn seal_secret(store: &Store, id: OperatorId, secret: Option<&[u8]>) -> Result<Option<String>, RepositoryError> {
    secret
        .map(|secret| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
            codec::seal_json(&store.keys.histories, TOTP_SECRET, id.as_uuid(), &encoded)
        })
        .transpose()
}

impl Store {
    fn operator_row(&self, row: &DbRow) -> Result<StoredOperator, RepositoryError> {
        let id = get_id(row, "id")?;
        let bad = |what: &str, e: &dyn std::fmt::Display| corrupt(format!("{what} of operator {id}"), e);
        let password_hash = PasswordHash::parse(get::<String>(row, "password")?).map_err(|e| bad("password", &e))?;
        let totp_secret = match get::<Option<String>>(row, "totp_secret")? {
            Some(sealed) => {
                let encoded: String = codec::open_json(&self.keys.histories, TOTP_SECRET, id, &sealed)?;
                let secret = base64::engine::general_purpose::STANDARD.decode(encoded);
                Some(secret.map_err(|e| bad("totp secret", &e))?)
            }
            None => None,
        };
        let operator = Operator {
            id: OperatorId::from_uuid(id),
            name: OperatorName::parse(get::<String>(row, "name")?).map_err(|e| bad("name", &e))?,
            role: Role::parse(&get::<String>(row, "role")?).map_err(|e| bad("role", &e))?,
            created_at: get_ts(row, "created_at")?,
            disabled_at: get_opt_ts(row, "disabled_at")?,
        };
        Ok(StoredOperator { operator, password_hash, totp_secret })
    }

    async fn find_operator_where(
        &self,
        condition: &str,
        bind: impl FnOnce(Query<'_>) -> Query<'_>,
    ) -> Result<Option<StoredOperator>, RepositoryError> {
        let sql = format!("SELECT {COLUMNS} FROM payment_operators WHERE {condition}");
        let row = bind(sqlx::query(&sql)).fetch_optional(&self.pool).await.map_err(db_err)?;
        row.as_ref().map(|row| self.operator_row(row)).transpose()
    }
}

type Query<'q> = sqlx::query::Query<'q, super::Db, <super::Db as sqlx::Database>::Arguments<'q>>;

fn session_row(row: &DbRow) -> Result<OperatorSession, RepositoryError> {
    Ok(OperatorSession {
        token_digest: get(row, "token_digest")?,
        operator: OperatorId::from_uuid(get_id(row, "operator_id")?),
        csrf_token: get(row, "csrf_token")?,
        created_at: get_ts(row, "created_at")?,
        last_seen_at: get_ts(row, "last_seen_at")?,
    })
}

fn audit_row(row: &DbRow) -> Result<AuditEntry, RepositoryError> {
    let id = get_id(row, "id")?;
    let action: String = get(row, "action")?;
    Ok(AuditEntry {
        id: AuditId::from_uuid(id),
        at: get_ts(row, "at")?,
        operator: get::<Option<super::IdCol>>(row, "operator_id")?.map(|c| OperatorId::from_uuid(from_id(c))),
        actor: get(row, "actor")?,
        action: AuditAction::parse(&action).map_err(|e| corrupt(format!("action of audit entry {id}"), e))?,
        record: get(row, "record")?,
        outcome: get(row, "outcome")?,
        request_id: get(row, "request_id")?,
        address: get(row, "address")?,
    })
}

/// Ends every session of the operator `id`, within `tx`.
async fn end_sessions(tx: &mut super::store::Tx, id: OperatorId) -> Result<(), RepositoryError> {
    sqlx::query("DELETE FROM payment_operator_sessions WHERE operator_id = $1")
        .bind(id_col(id.as_uuid()))
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl OperatorRepository for Store {
    async fn insert_operator(&self, stored: &StoredOperator) -> Result<(), RepositoryError> {
        let operator = &stored.operator;
        let sealed = seal_secret(self, operator.id, stored.totp_secret.as_deref())?;
        let inserted =
            sqlx::query(&format!("INSERT INTO payment_operators ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
                .bind(id_col(operator.id.as_uuid()))
                .bind(operator.name.as_str())
                .bind(operator.role.as_str())
                .bind(stored.password_hash.as_str())
                .bind(sealed)
                .bind(ts_col(operator.created_at))
                .bind(operator.disabled_at.map(ts_col))
                .execute(self.writer()?)
                .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(error) if unique_violation(&error).is_some() => {
                Err(RepositoryError::Conflict("name: an operator of this name exists".into()))
            }
            Err(error) => Err(db_err(error)),
        }
    }

    async fn find_operator_by_name(&self, name: &OperatorName) -> Result<Option<StoredOperator>, RepositoryError> {
        self.find_operator_where("name = $1", |q| q.bind(name.as_str().to_owned())).await
    }

    async fn find_operator(&self, id: OperatorId) -> Result<Option<StoredOperator>, RepositoryError> {
        self.find_operator_where("id = $1", |q| q.bind(id_col(id.as_uuid()))).await
    }

    async fn list_operators(&self) -> Result<Vec<Operator>, RepositoryError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM payment_operators ORDER BY created_at, id LIMIT $1"))
            .bind(MAX_OPERATORS)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(|row| self.operator_row(row).map(|stored| stored.operator)).collect()
    }

    async fn disable_operator(&self, id: OperatorId, at: Timestamp) -> Result<bool, RepositoryError> {
        let mut tx = self.begin_write().await?;
        let disabled =
            sqlx::query("UPDATE payment_operators SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
                .bind(ts_col(at))
                .bind(id_col(id.as_uuid()))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        end_sessions(&mut tx, id).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(disabled.rows_affected() == 1)
    }

    async fn reset_operator(
        &self,
        id: OperatorId,
        password_hash: &PasswordHash,
        totp_secret: Option<Vec<u8>>,
    ) -> Result<bool, RepositoryError> {
        let sealed = seal_secret(self, id, totp_secret.as_deref())?;
        let mut tx = self.begin_write().await?;
        let reset = sqlx::query(
            "UPDATE payment_operators SET password = $1, totp_secret = $2, totp_last_step = NULL WHERE id = $3",
        )
        .bind(password_hash.as_str())
        .bind(sealed)
        .bind(id_col(id.as_uuid()))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        end_sessions(&mut tx, id).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(reset.rows_affected() == 1)
    }

    async fn use_totp_step(&self, id: OperatorId, step: u64) -> Result<bool, RepositoryError> {
        let step = i64::try_from(step).map_err(|e| corrupt("a TOTP step", e))?;
        let used = sqlx::query(
            "UPDATE payment_operators SET totp_last_step = $1 \
             WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(id_col(id.as_uuid()))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(used.rows_affected() == 1)
    }

    async fn insert_session(&self, session: &OperatorSession) -> Result<(), RepositoryError> {
        sqlx::query(&format!("INSERT INTO payment_operator_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"))
            .bind(&session.token_digest)
            .bind(id_col(session.operator.as_uuid()))
            .bind(&session.csrf_token)
            .bind(ts_col(session.created_at))
            .bind(ts_col(session.last_seen_at))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn find_session(&self, token_digest: &str) -> Result<Option<OperatorSession>, RepositoryError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM payment_operator_sessions WHERE token_digest = $1");
        let row = sqlx::query(&sql).bind(token_digest).fetch_optional(&self.pool).await.map_err(db_err)?;
        row.as_ref().map(session_row).transpose()
    }

    async fn touch_session(&self, token_digest: &str, at: Timestamp) -> Result<(), RepositoryError> {
        sqlx::query("UPDATE payment_operator_sessions SET last_seen_at = $1 WHERE token_digest = $2")
            .bind(ts_col(at))
            .bind(token_digest)
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_session(&self, token_digest: &str) -> Result<bool, RepositoryError> {
        let deleted = sqlx::query("DELETE FROM payment_operator_sessions WHERE token_digest = $1")
            .bind(token_digest)
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(deleted.rows_affected() == 1)
    }

    async fn purge_sessions(&self, idle_since: Timestamp) -> Result<u64, RepositoryError> {
        let purged = sqlx::query("DELETE FROM payment_operator_sessions WHERE last_seen_at < $1")
            .bind(ts_col(idle_since))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(purged.rows_affected())
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), RepositoryError> {
        sqlx::query(&format!(
            "INSERT INTO payment_operator_audit ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(id_col(entry.id.as_uuid()))
        .bind(ts_col(entry.at))
        .bind(entry.operator.map(|o| id_col(o.as_uuid())))
        .bind(AuditEntry::bounded(&entry.actor))
        .bind(entry.action.as_str())
        .bind(entry.record.as_deref().map(AuditEntry::bounded))
        .bind(AuditEntry::bounded(&entry.outcome))
        .bind(entry.request_id.as_deref().map(AuditEntry::bounded))
        .bind(entry.address.as_deref().map(AuditEntry::bounded))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn audit_of(&self, record: &str, limit: u32) -> Result<Vec<AuditEntry>, RepositoryError> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM payment_operator_audit WHERE record = $1 ORDER BY id LIMIT $2"
        ))
        .bind(record)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(audit_row).collect()
    }

    async fn purge_audit_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
        let purged = sqlx::query("DELETE FROM payment_operator_audit WHERE at < $1")
            .bind(ts_col(cutoff))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(purged.rows_affected())
    }

    async fn audit_page(&self, before: Option<AuditId>, limit: u32) -> Result<Vec<AuditEntry>, RepositoryError> {
        let rows = match before {
            Some(before) => {
                sqlx::query(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM payment_operator_audit WHERE id < $1 ORDER BY id DESC LIMIT $2"
                ))
                .bind(id_col(before.as_uuid()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(&format!("SELECT {AUDIT_COLUMNS} FROM payment_operator_audit ORDER BY id DESC LIMIT $1"))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(db_err)?;
        rows.iter().map(audit_row).collect()
    }
}
