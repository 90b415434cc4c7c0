//! Clients: backend services with their own API key, wire key and webhook
//! secret. Adding one makes its secrets (shown once); every request naming
//! a key is authenticated here.

use std::sync::Arc;

use payments_domain::{Client, ClientId, ClientName, Scopes, Timestamp};
use rand::RngCore;

use crate::error::AppError;
use crate::keys::lookup_digest;
use crate::ports::{ClientRepository, ClientSecrets, Clock, IdGenerator, RepositoryError, StoredClient};

/// Whose keys are made and taken: a leaked key says which it is
/// (`pk_live_...` serves real money; `pk_test_...` local and dev mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    Live,
    Test,
}

impl KeyMode {
    /// `pk_live_` or `pk_test_`.
    pub fn prefix(self) -> &'static str {
        match self {
            KeyMode::Live => "pk_live_",
            KeyMode::Test => "pk_test_",
        }
    }
}

/// A client to add.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: ClientName,
    pub scopes: Scopes,
    /// Plain JSON bodies instead of the AES envelope.
    pub plain_json: bool,
    /// Requests a second (`None`: the server's default).
    pub rate_per_second: Option<u32>,
}

/// A client just added, with what is shown once: its API key and secrets.
pub struct IssuedClient {
    pub client: Client,
    pub api_key: String,
    pub secrets: ClientSecrets,
}

impl std::fmt::Debug for IssuedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedClient").field("client", &self.client).finish_non_exhaustive()
    }
}

/// The clients use cases.
#[derive(Clone)]
pub struct ClientService {
    repository: Arc<dyn ClientRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    mode: KeyMode,
}

/// Bytes of randomness in an API key (then base64url: 43 characters).
const KEY_BYTES: usize = 32;
/// The longest `Authorization` value read (a key is 51 characters).
const MAX_KEY_CHARS: usize = 128;

fn random(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// `n` random letters and digits: a wire key or IV as the original SDK takes
/// one (a string whose UTF-8 bytes are the key); 62^32 keys at 32 characters.
fn random_text(n: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        for byte in random(n) {
            // Rejection sampling: no letter more likely than another.
            if usize::from(byte) < 248 && out.len() < n {
                out.push(ALPHABET[usize::from(byte) % ALPHABET.len()]);
            }
        }
    }
    out
}

/// No such client.
fn not_found() -> AppError {
    AppError::RecordNotFound(crate::RecordKind::Client)
}

/// `Ok` when a change found its client (`changed`), else `RecordNotFound`.
fn found(changed: bool) -> Result<(), AppError> {
    if changed { Ok(()) } else { Err(not_found()) }
}

/// A fresh `whsec_` secret: 32 random bytes.
fn new_webhook_secret() -> String {
    use base64::Engine as _;
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(random(32)))
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl ClientService {
    pub fn new(
        repository: Arc<dyn ClientRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        mode: KeyMode,
    ) -> Self {
        Self { repository, clock, ids, mode }
    }

    /// Adds a client: a fresh API key (of this server's mode), an AES-256
    /// wire key and IV, and a webhook secret, all random; only the key's
    /// digest and the sealed secrets are stored.
    ///
    /// # Errors
    /// `AlreadyRegistered` when the name is taken; a storage failure.
    pub async fn add(&self, new: NewClient) -> Result<IssuedClient, AppError> {
        let client = Client {
            id: ClientId::from_uuid(self.ids.new_id()),
            name: new.name,
            scopes: new.scopes,
            plain_json: new.plain_json,
            rate_per_second: new.rate_per_second,
            created_at: self.clock.now(),
            revoked_at: None,
        };
        let api_key = self.new_key();
        let secrets = ClientSecrets {
            wire_key: random_text(32),
            wire_iv: random_text(16),
            webhook_secret: new_webhook_secret(),
            previous_webhook_secret: None,
        };
        match self.repository.insert_client(&client, &lookup_digest(&api_key), &secrets).await {
            Ok(()) => Ok(IssuedClient { client, api_key, secrets }),
            Err(RepositoryError::Conflict(_)) => Err(AppError::AlreadyRegistered {
                param: "name",
                message: format!("a client named {:?} exists", client.name.as_str()),
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// Every client, oldest first.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn list(&self) -> Result<Vec<Client>, AppError> {
        Ok(self.repository.list_clients().await?)
    }

    /// One client with its secrets (for its operator to configure the
    /// backend).
    ///
    /// # Errors
    /// `RecordNotFound`; a storage failure.
    pub async fn show(&self, id: ClientId) -> Result<StoredClient, AppError> {
        self.repository.find_client(id).await?.ok_or_else(not_found)
    }

    /// Revokes a client: its key answers 401 from now on; its records stay.
    ///
    /// # Errors
    /// `RecordNotFound` when there is no such client not revoked yet.
    pub async fn revoke(&self, id: ClientId) -> Result<Timestamp, AppError> {
        let at = self.clock.now();
        found(self.repository.revoke_client(id, at).await?).map(|()| at)
    }

    /// A fresh API key of this server's mode.
    fn new_key(&self) -> String {
        format!("{}{}", self.mode.prefix(), base64url(&random(KEY_BYTES)))
    }

    /// Gives a client a new API key (answered once); the current one stays
    /// valid for `grace`, so its backend can switch without downtime.
    ///
    /// # Errors
    /// `RecordNotFound`; a storage failure.
    pub async fn rotate_key(&self, id: ClientId, grace: std::time::Duration) -> Result<String, AppError> {
        let api_key = self.new_key();
        let until = self.after(grace);
        found(self.repository.rotate_client_key(id, &lookup_digest(&api_key), until).await?).map(|()| api_key)
    }

    /// Gives a client a new webhook secret (answered once); deliveries are
    /// signed with both for `grace` (Standard Webhooks' space-separated
    /// signatures), so its receivers can switch at their pace.
    ///
    /// # Errors
    /// `RecordNotFound`; a storage failure.
    pub async fn rotate_webhook_secret(&self, id: ClientId, grace: std::time::Duration) -> Result<String, AppError> {
        let mut secrets = self.show(id).await?.secrets;
        let secret = new_webhook_secret();
        let previous = std::mem::replace(&mut secrets.webhook_secret, secret.clone());
        secrets.previous_webhook_secret = Some((previous, self.after(grace)));
        found(self.repository.replace_client_secrets(id, &secrets).await?).map(|()| secret)
    }

    fn after(&self, grace: std::time::Duration) -> Timestamp {
        let now = self.clock.now();
        now.checked_add_signed(chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX)).unwrap_or(now)
    }

    /// The client of an `Authorization` header value (`Bearer <key>`).
    ///
    /// # Errors
    /// `Unauthenticated` (one message whatever was wrong: not a bearer key,
    /// a key of another mode, unknown, revoked); a storage failure.
    pub async fn authenticate(&self, authorization: &str) -> Result<StoredClient, AppError> {
        let refused = || AppError::Unauthenticated("the API key is not valid".into());
        if authorization.len() > MAX_KEY_CHARS {
            return Err(refused());
        }
        let Some(key) = authorization.strip_prefix("Bearer ").map(str::trim) else { return Err(refused()) };
        if !key.starts_with(self.mode.prefix()) {
            return Err(refused());
        }
        match self.repository.find_client_by_key(&lookup_digest(key), self.clock.now()).await? {
            Some(stored) if stored.client.revoked_at.is_none() => Ok(stored),
            _ => Err(refused()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockClientRepository, MockClock, MockIdGenerator};
    use mockall::predicate::*;

    fn service(repository: MockClientRepository) -> ClientService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(|| crate::test_support::at(0));
        let mut ids = MockIdGenerator::new();
        ids.expect_new_id().returning(|| uuid::Uuid::from_u128(5));
        ClientService::new(Arc::new(repository), Arc::new(clock), Arc::new(ids), KeyMode::Test)
    }

    #[tokio::test]
    async fn a_client_is_stored_by_its_key_digest_and_its_key_is_shown_once() {
        let mut repository = MockClientRepository::new();
        let digest = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let seen = digest.clone();
        repository.expect_insert_client().times(1).returning(move |_, d, secrets| {
            assert_eq!((secrets.wire_key.len(), secrets.wire_iv.len()), (32, 16));
            assert!(secrets.webhook_secret.starts_with("whsec_"));
            *seen.lock().unwrap() = d.to_owned();
            Ok(())
        });
        let new = NewClient {
            name: ClientName::parse("orders").unwrap(),
            scopes: Scopes::all(),
            plain_json: false,
            rate_per_second: None,
        };
        let issued = service(repository).add(new).await.unwrap();
        assert!(issued.api_key.starts_with("pk_test_") && issued.api_key.len() == 8 + 43, "{}", issued.api_key);
        assert_eq!(*digest.lock().unwrap(), lookup_digest(&issued.api_key), "only the digest is stored");
        assert!(!format!("{issued:?}").contains(&issued.api_key), "Debug hides the key");
    }

    #[tokio::test]
    async fn only_a_live_bearer_key_of_this_mode_authenticates() {
        let mut repository = MockClientRepository::new();
        let client = |revoked| StoredClient {
            client: Client {
                id: ClientId::from_uuid(uuid::Uuid::from_u128(5)),
                name: ClientName::parse("orders").unwrap(),
                scopes: Scopes::all(),
                plain_json: false,
                rate_per_second: None,
                created_at: crate::test_support::at(0),
                revoked_at: revoked,
            },
            secrets: ClientSecrets {
                wire_key: vec![0; 32],
                wire_iv: vec![0; 16],
                webhook_secret: "whsec_x".into(),
                previous_webhook_secret: None,
            },
        };
        repository
            .expect_find_client_by_key()
            .with(eq(lookup_digest("pk_test_good")), always())
            .returning(move |_, _| Ok(Some(client(None))));
        let revoked = client(Some(crate::test_support::at(1)));
        repository
            .expect_find_client_by_key()
            .with(eq(lookup_digest("pk_test_revoked")), always())
            .returning(move |_, _| Ok(Some(revoked.clone())));
        repository.expect_find_client_by_key().returning(|_, _| Ok(None));
        let service = service(repository);
        assert_eq!(service.authenticate("Bearer pk_test_good").await.unwrap().client.name.as_str(), "orders");
        let mut messages = std::collections::BTreeSet::new();
        for wrong in [
            "pk_test_good",
            "Basic pk_test_good",
            "Bearer pk_live_good",
            "Bearer pk_test_nope",
            "Bearer pk_test_revoked",
        ] {
            let refused = service.authenticate(wrong).await.unwrap_err();
            assert_eq!(refused.cause(), crate::Cause::Unauthenticated, "{wrong}");
            messages.insert(refused.to_string());
        }
        assert_eq!(messages.len(), 1, "one message whatever was wrong: {messages:?}");
    }
}
