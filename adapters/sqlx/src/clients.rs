//! Clients ([`ClientRepository`]), written once for both backends like
//! `store.rs`: the API key as its digest, the secrets sealed with the
//! histories keyring (re-sealed by `keys rotate`).

use super::store::{Store, get, get_id, get_opt_ts, get_ts};
use super::{DbRow, id_col, ts_col};

use async_trait::async_trait;
use base64::Engine as _;
use payments_application::ports::{ClientRepository, ClientSecrets, RepositoryError, StoredClient};
use payments_domain::{Client, ClientId, ClientName, Scopes, Timestamp};
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::{corrupt, db_err, unique_violation};

const COLUMNS: &str = "id, name, api_key_digest, secrets, scopes, plain_json, rate_per_second, created_at, revoked_at";
/// The sealed column, as `keys rotate` names it.
const SECRETS: &str = "payment_clients.secrets";
/// Most clients listed (one per backend service).
const MAX_CLIENTS: i64 = 1_000;

/// The sealed form of [`ClientSecrets`].
#[derive(Serialize, Deserialize)]
struct Sealed {
    wire_key: String,
    wire_iv: String,
    webhook_secret: String,
    /// The secret before the last rotation, and until when it signs (milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous_webhook_secret: Option<(String, i64)>,
}

fn seal_secrets(store: &Store, id: ClientId, secrets: &ClientSecrets) -> Result<String, RepositoryError> {
    let sealed = Sealed {
        wire_key: b64().encode(&secrets.wire_key),
        wire_iv: b64().encode(&secrets.wire_iv),
        webhook_secret: secrets.webhook_secret.clone(),
        previous_webhook_secret: secrets
            .previous_webhook_secret
            .as_ref()
            .map(|(secret, until)| (secret.clone(), until.timestamp_millis())),
    };
    codec::seal_json(&store.keys.histories, SECRETS, id.as_uuid(), &sealed)
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl Store {
    fn client_row(&self, row: &DbRow) -> Result<StoredClient, RepositoryError> {
        let id = get_id(row, "id")?;
        let bad = |what: &str, e: &dyn std::fmt::Display| corrupt(format!("{what} of client {id}"), e);
        let sealed: String = get(row, "secrets")?;
        let open: Sealed = codec::open_json(&self.keys.histories, SECRETS, id, &sealed)?;
        let secrets = ClientSecrets {
            wire_key: b64().decode(open.wire_key).map_err(|e| bad("wire key", &e))?,
            wire_iv: b64().decode(open.wire_iv).map_err(|e| bad("wire iv", &e))?,
            webhook_secret: open.webhook_secret,
            previous_webhook_secret: match open.previous_webhook_secret {
                Some((secret, until)) => Some((
                    secret,
                    chrono::DateTime::from_timestamp_millis(until).ok_or_else(|| bad("previous secret", &until))?,
                )),
                None => None,
            },
        };
        let client = Client {
            id: ClientId::from_uuid(id),
            name: ClientName::parse(get::<String>(row, "name")?).map_err(|e| bad("name", &e))?,
            scopes: Scopes::parse(&get::<String>(row, "scopes")?).map_err(|e| bad("scopes", &e))?,
            plain_json: get(row, "plain_json")?,
            rate_per_second: get::<Option<i64>>(row, "rate_per_second")?.map(|r| u32::try_from(r).unwrap_or(u32::MAX)),
            created_at: get_ts(row, "created_at")?,
            revoked_at: get_opt_ts(row, "revoked_at")?,
        };
        Ok(StoredClient { client, secrets })
    }
}

#[async_trait]
impl ClientRepository for Store {
    async fn insert_client(
        &self,
        client: &Client,
        api_key_digest: &str,
        secrets: &ClientSecrets,
    ) -> Result<(), RepositoryError> {
        let sealed = seal_secrets(self, client.id, secrets)?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO payment_clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(id_col(client.id.as_uuid()))
        .bind(client.name.as_str())
        .bind(api_key_digest)
        .bind(sealed)
        .bind(client.scopes.to_text())
        .bind(client.plain_json)
        .bind(client.rate_per_second.map(i64::from))
        .bind(ts_col(client.created_at))
        .bind(client.revoked_at.map(ts_col))
        .execute(self.writer()?)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(error) if unique_violation(&error).is_some() => {
                Err(RepositoryError::Conflict("name: a client of this name exists".into()))
            }
            Err(error) => Err(db_err(error)),
        }
    }

    async fn find_client_by_key(
        &self,
        api_key_digest: &str,
        now: Timestamp,
    ) -> Result<Option<StoredClient>, RepositoryError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payment_clients WHERE api_key_digest = $1 \
             OR (previous_api_key_digest = $1 AND previous_key_until > $2) LIMIT 1"
        ))
        .bind(api_key_digest)
        .bind(ts_col(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(|row| self.client_row(row)).transpose()
    }

    async fn rotate_client_key(
        &self,
        id: ClientId,
        api_key_digest: &str,
        previous_until: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let rotated = sqlx::query(
            "UPDATE payment_clients SET previous_api_key_digest = api_key_digest, previous_key_until = $1, \
             api_key_digest = $2 WHERE id = $3",
        )
        .bind(ts_col(previous_until))
        .bind(api_key_digest)
        .bind(id_col(id.as_uuid()))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(rotated.rows_affected() == 1)
    }

    async fn replace_client_secrets(&self, id: ClientId, secrets: &ClientSecrets) -> Result<bool, RepositoryError> {
        let sealed = seal_secrets(self, id, secrets)?;
        let replaced = sqlx::query("UPDATE payment_clients SET secrets = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id_col(id.as_uuid()))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(replaced.rows_affected() == 1)
    }

    async fn find_client(&self, id: ClientId) -> Result<Option<StoredClient>, RepositoryError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM payment_clients WHERE id = $1"))
            .bind(id_col(id.as_uuid()))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(|row| self.client_row(row)).transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, RepositoryError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM payment_clients ORDER BY created_at, id LIMIT $1"))
            .bind(MAX_CLIENTS)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(|row| self.client_row(row).map(|stored| stored.client)).collect()
    }

    async fn revoke_client(&self, id: ClientId, at: Timestamp) -> Result<bool, RepositoryError> {
        let revoked = sqlx::query("UPDATE payment_clients SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(ts_col(at))
            .bind(id_col(id.as_uuid()))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(revoked.rows_affected() == 1)
    }
}
