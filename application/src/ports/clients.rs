//! Clients, stored: their API key by digest, their secrets sealed.

use async_trait::async_trait;
use payments_domain::{Client, ClientId, Timestamp};

use super::storage::RepositoryError;

/// What a client holds besides its key: its wire key and IV (the AES
/// envelope of its bodies and of its webhooks) and its webhook signing
/// secret. `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecrets {
    /// 16 or 32 bytes (AES-128 or AES-256).
    pub wire_key: Vec<u8>,
    /// 16 bytes.
    pub wire_iv: Vec<u8>,
    /// `whsec_` + base64.
    pub webhook_secret: String,
    /// The secret before the last rotation, still signing deliveries (beside
    /// the new one) until this time, so receivers switch at their pace.
    pub previous_webhook_secret: Option<(String, Timestamp)>,
}

impl std::fmt::Debug for ClientSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecrets").finish_non_exhaustive()
    }
}

/// A client as stored, with its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClient {
    pub client: Client,
    pub secrets: ClientSecrets,
}

/// Clients. Few (one per backend service): listed whole.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ClientRepository: Send + Sync {
    /// Stores a new client under the SHA-256 digest of its API key.
    ///
    /// # Errors
    /// `Conflict` when the digest or the name is taken; `Unavailable`.
    async fn insert_client(
        &self,
        client: &Client,
        api_key_digest: &str,
        secrets: &ClientSecrets,
    ) -> Result<(), RepositoryError>;

    /// The client whose API key has this digest (revoked or not), or whose
    /// key before its last rotation has it and is still valid at `now`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when its secrets do not open.
    async fn find_client_by_key(
        &self,
        api_key_digest: &str,
        now: Timestamp,
    ) -> Result<Option<StoredClient>, RepositoryError>;

    /// Replaces a client's API key by the one of digest `api_key_digest`,
    /// the current one staying valid until `previous_until`; `false` for no
    /// such client.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn rotate_client_key(
        &self,
        id: ClientId,
        api_key_digest: &str,
        previous_until: Timestamp,
    ) -> Result<bool, RepositoryError>;

    /// Replaces a client's secrets; `false` for no such client.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn replace_client_secrets(&self, id: ClientId, secrets: &ClientSecrets) -> Result<bool, RepositoryError>;

    /// # Errors
    /// As [`ClientRepository::find_client_by_key`].
    async fn find_client(&self, id: ClientId) -> Result<Option<StoredClient>, RepositoryError>;

    /// Every client, oldest first.
    ///
    /// # Errors
    /// As [`ClientRepository::find_client_by_key`].
    async fn list_clients(&self) -> Result<Vec<Client>, RepositoryError>;

    /// Revokes a client at `at`; `false` when there is no such client or it
    /// was revoked already.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn revoke_client(&self, id: ClientId, at: Timestamp) -> Result<bool, RepositoryError>;
}
