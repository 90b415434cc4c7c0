//! Operators, their sessions and the audit trail, stored.

use async_trait::async_trait;
use payments_domain::{AuditEntry, AuditId, Operator, OperatorId, OperatorName, PasswordHash, Timestamp};

use super::storage::RepositoryError;

/// An operator as stored: their password's hash and TOTP secret (sealed at
/// rest). `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredOperator {
    pub operator: Operator,
    pub password_hash: PasswordHash,
    /// Raw secret bytes; `None` for a viewer added without one.
    pub totp_secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for StoredOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredOperator").field("operator", &self.operator).finish_non_exhaustive()
    }
}

/// A signed-in operator's session: kept server-side, found by the digest of
/// the cookie's token (the token itself is never stored).
#[derive(Clone, PartialEq, Eq)]
pub struct OperatorSession {
    pub token_digest: String,
    pub operator: OperatorId,
    /// The token every form of this session carries.
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

impl std::fmt::Debug for OperatorSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorSession")
            .field("operator", &self.operator)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .finish_non_exhaustive()
    }
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OperatorRepository: Send + Sync {
    /// # Errors
    /// `Conflict` when the name is taken; `Unavailable`.
    async fn insert_operator(&self, operator: &StoredOperator) -> Result<(), RepositoryError>;

    /// # Errors
    /// `Unavailable`; `Corrupt` when the sealed secret does not open.
    async fn find_operator_by_name(&self, name: &OperatorName) -> Result<Option<StoredOperator>, RepositoryError>;

    /// # Errors
    /// As [`OperatorRepository::find_operator_by_name`].
    async fn find_operator(&self, id: OperatorId) -> Result<Option<StoredOperator>, RepositoryError>;

    /// Every operator, oldest first (at most a thousand).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn list_operators(&self) -> Result<Vec<Operator>, RepositoryError>;

    /// Disables the operator and ends their sessions; `false` when there is
    /// no such operator or they were disabled already.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn disable_operator(&self, id: OperatorId, at: Timestamp) -> Result<bool, RepositoryError>;

    /// Gives the operator a new password and TOTP secret and ends their
    /// sessions; `false` when there is no such operator.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn reset_operator(
        &self,
        id: OperatorId,
        password_hash: &PasswordHash,
        totp_secret: Option<Vec<u8>>,
    ) -> Result<bool, RepositoryError>;

    /// Records `step` as the operator's last accepted TOTP step, only if it
    /// is later than the one recorded: `false` for a code used already (on
    /// any instance).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn use_totp_step(&self, id: OperatorId, step: u64) -> Result<bool, RepositoryError>;

    /// # Errors
    /// `Unavailable`.
    async fn insert_session(&self, session: &OperatorSession) -> Result<(), RepositoryError>;

    /// # Errors
    /// `Unavailable`.
    async fn find_session(&self, token_digest: &str) -> Result<Option<OperatorSession>, RepositoryError>;

    /// # Errors
    /// `Unavailable`.
    async fn touch_session(&self, token_digest: &str, at: Timestamp) -> Result<(), RepositoryError>;

    /// `false` when there was no such session.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn delete_session(&self, token_digest: &str) -> Result<bool, RepositoryError>;

    /// Deletes the sessions last seen before `idle_since`; how many.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn purge_sessions(&self, idle_since: Timestamp) -> Result<u64, RepositoryError>;

    /// Appends to the audit trail (nothing updates or deletes it).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), RepositoryError>;

    /// The audit entries about `record` (`history:<id>`, ...), oldest first,
    /// at most `limit`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` for a row that does not parse.
    async fn audit_of(&self, record: &str, limit: u32) -> Result<Vec<AuditEntry>, RepositoryError>;

    /// Deletes the audit entries older than `cutoff` (only when a retention
    /// is configured: the default keeps them forever); how many.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn purge_audit_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError>;

    /// The newest entries before `before` (all for `None`), newest first, at most `limit`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` for a row that does not parse.
    async fn audit_page(&self, before: Option<AuditId>, limit: u32) -> Result<Vec<AuditEntry>, RepositoryError>;
}

/// Time-based one-time codes (TOTP): the second factor of operators whose
/// role moves money.
pub trait SecondFactor: Send + Sync {
    /// A new random secret.
    fn new_secret(&self) -> Vec<u8>;
    /// The step `code` is the code of, near `at`; `None` when it is none.
    fn verify(&self, secret: &[u8], code: &str, at: Timestamp) -> Option<u64>;
    /// What an authenticator app takes (`otpauth://...`).
    fn enrolment_uri(&self, account: &str, secret: &[u8]) -> String;
}
