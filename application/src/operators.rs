//! Operators: adding and managing the people who use the console, signing
//! them in (password, and a TOTP code for roles that move money), their
//! server-side sessions, and the audit trail of what they saw and did.

use std::sync::Arc;
use std::time::Duration;

use payments_domain::{
    AuditAction, AuditEntry, AuditId, Operator, OperatorId, OperatorName, Password, Permission, Role, Timestamp,
};
use rand::RngCore;

use crate::keys::lookup_digest;
use crate::policy::PasswordPolicy;
use crate::ports::{
    Clock, IdGenerator, OperatorRepository, OperatorSession, PasswordAttempts, PasswordHasher, PasswordRecord,
    RepositoryError, SecondFactor, StoredOperator,
};

/// Why an operator use case failed, by cause (the console maps them).
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// A field is invalid: which, and why.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// Name, password or code wrong (one answer for all three).
    #[error("the name, password or code is wrong")]
    SignInRefused,
    /// Too many wrong sign-ins: refused without checking until then.
    #[error("too many wrong sign-ins; try again in {} s", retry_after.as_secs().max(1))]
    Locked { retry_after: Duration },
    /// No session, or one that ended (idle, logged out, operator disabled).
    #[error("signed out")]
    SignedOut { expired: bool },
    /// The role does not allow it.
    #[error("your role ({role}) does not allow this")]
    Forbidden { role: Role },
    #[error("no operator {0}")]
    NotFound(String),
    #[error("an operator named {0} exists")]
    Taken(String),
    /// Storage down, hashing queue full: retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<RepositoryError> for OperatorError {
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::Unavailable(message) => OperatorError::Unavailable(message),
            other => OperatorError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<payments_domain::DomainError> for OperatorError {
    fn from(error: payments_domain::DomainError) -> Self {
        match error {
            payments_domain::DomainError::Invalid { field, reason } => OperatorError::Invalid { field, reason },
            other => OperatorError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// How long sessions live and how sign-ins are throttled.
#[derive(Debug, Clone, Copy)]
pub struct ConsolePolicy {
    /// A session unused this long has ended.
    pub idle: Duration,
    /// Operators' passwords: their fewest characters, and the lockouts of
    /// wrong sign-ins (the same mechanism as a record's passwords).
    pub passwords: PasswordPolicy,
    /// How long audit entries are kept; `None` (the default): forever.
    pub audit_retention: Option<Duration>,
}

impl Default for ConsolePolicy {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(15 * 60),
            passwords: PasswordPolicy { min_chars: 12, ..PasswordPolicy::default() },
            audit_retention: None,
        }
    }
}

/// Where a console request came from (for the audit trail).
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: Option<String>,
    pub address: Option<String>,
}

/// An operator just added or reset, with what is shown once.
pub struct IssuedOperator {
    pub operator: Operator,
    /// The password (generated unless one was given).
    pub password: String,
    /// The `otpauth://` URI of their new TOTP secret, for roles that need one.
    pub totp_uri: Option<String>,
}

impl std::fmt::Debug for IssuedOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedOperator").field("operator", &self.operator).finish_non_exhaustive()
    }
}

/// A sign-in that succeeded: the cookie's token (shown to the browser only).
pub struct SignedIn {
    pub token: String,
    pub operator: Operator,
    pub session: OperatorSession,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn").field("operator", &self.operator).finish_non_exhaustive()
    }
}

/// The operators use cases.
#[derive(Clone)]
pub struct OperatorService {
    repository: Arc<dyn OperatorRepository>,
    attempts: Arc<dyn PasswordAttempts>,
    hasher: Arc<dyn PasswordHasher>,
    codes: Arc<dyn SecondFactor>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    policy: ConsolePolicy,
    /// What an unknown name's sign-in is checked against.
    decoy: crate::access::Decoy,
}

/// Bytes of randomness in a session token and in a CSRF token.
const TOKEN_BYTES: usize = 32;
/// Characters of a generated password.
const GENERATED_PASSWORD_CHARS: usize = 20;

fn random_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn generated_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; GENERATED_PASSWORD_CHARS];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

impl OperatorService {
    /// A fresh random token for a form shown before anyone signs in (the
    /// sign-in form's CSRF token).
    pub fn form_token(&self) -> String {
        random_token()
    }

    pub fn new(
        repository: Arc<dyn OperatorRepository>,
        attempts: Arc<dyn PasswordAttempts>,
        hasher: Arc<dyn PasswordHasher>,
        codes: Arc<dyn SecondFactor>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        policy: ConsolePolicy,
    ) -> Self {
        Self { repository, attempts, hasher, codes, clock, ids, policy, decoy: crate::access::Decoy::default() }
    }

    pub fn policy(&self) -> &ConsolePolicy {
        &self.policy
    }

    fn password(&self, given: Option<String>) -> Result<(Password, String), OperatorError> {
        let text = given.unwrap_or_else(generated_password);
        let min = self.policy.passwords.min_chars;
        if text.chars().count() < min {
            return Err(OperatorError::Invalid {
                field: "password",
                reason: format!("must be at least {min} characters"),
            });
        }
        Ok((Password::parse(text.clone())?, text))
    }

    async fn hash(&self, password: &Password) -> Result<payments_domain::PasswordHash, OperatorError> {
        self.hasher.hash(password).await.map_err(hasher_error)
    }

    /// Adds an operator (a password is generated unless `password` is
    /// given; a TOTP secret is made for roles that move money).
    ///
    /// # Errors
    /// `Invalid` (name, password), `Taken`, storage.
    pub async fn add(
        &self,
        name: &str,
        role: Role,
        password: Option<String>,
        by: Option<&Operator>,
        context: &RequestContext,
    ) -> Result<IssuedOperator, OperatorError> {
        let name = OperatorName::parse(name)?;
        let (password, text) = self.password(password)?;
        let operator = Operator {
            id: OperatorId::from_uuid(self.ids.new_id()),
            name: name.clone(),
            role,
            created_at: self.clock.now(),
            disabled_at: None,
        };
        let secret = role.needs_second_factor().then(|| self.codes.new_secret());
        let stored = StoredOperator {
            operator: operator.clone(),
            password_hash: self.hash(&password).await?,
            totp_secret: secret,
        };
        match self.repository.insert_operator(&stored).await {
            Ok(()) => {}
            Err(RepositoryError::Conflict(_)) => return Err(OperatorError::Taken(name.to_string())),
            Err(other) => return Err(other.into()),
        }
        let record = format!("operator:{name}");
        self.audit(by, AuditAction::OperatorAdded, Some(record), format!("ok: {role}"), context).await;
        let totp_uri = stored.totp_secret.as_deref().map(|s| self.codes.enrolment_uri(name.as_str(), s));
        Ok(IssuedOperator { operator, password: text, totp_uri })
    }

    /// Every operator.
    ///
    /// # Errors
    /// Storage.
    pub async fn list(&self) -> Result<Vec<Operator>, OperatorError> {
        Ok(self.repository.list_operators().await?)
    }

    async fn named(&self, name: &str) -> Result<StoredOperator, OperatorError> {
        let name = OperatorName::parse(name)?;
        self.repository.find_operator_by_name(&name).await?.ok_or_else(|| OperatorError::NotFound(name.to_string()))
    }

    /// Disables an operator and ends their sessions.
    ///
    /// # Errors
    /// `NotFound`; storage.
    pub async fn disable(
        &self,
        name: &str,
        by: Option<&Operator>,
        context: &RequestContext,
    ) -> Result<Operator, OperatorError> {
        let stored = self.named(name).await?;
        let now = self.clock.now();
        let changed = self.repository.disable_operator(stored.operator.id, now).await?;
        let record = format!("operator:{}", stored.operator.name);
        let outcome = if changed { "ok" } else { "ok: disabled already" };
        self.audit(by, AuditAction::OperatorDisabled, Some(record), outcome.into(), context).await;
        let disabled_at = stored.operator.disabled_at.or(Some(now));
        Ok(Operator { disabled_at, ..stored.operator })
    }

    /// A new password (and TOTP secret, for roles that need one) for an
    /// operator who lost theirs; their sessions end.
    ///
    /// # Errors
    /// `NotFound`, `Invalid` password; storage.
    pub async fn reset(
        &self,
        name: &str,
        password: Option<String>,
        by: Option<&Operator>,
        context: &RequestContext,
    ) -> Result<IssuedOperator, OperatorError> {
        let stored = self.named(name).await?;
        let (password, text) = self.password(password)?;
        let hash = self.hash(&password).await?;
        let secret = stored.operator.role.needs_second_factor().then(|| self.codes.new_secret());
        self.repository.reset_operator(stored.operator.id, &hash, secret.clone()).await?;
        self.attempts.clear(PasswordRecord::Operator(stored.operator.id)).await?;
        let record = format!("operator:{}", stored.operator.name);
        self.audit(by, AuditAction::OperatorReset, Some(record), "ok".into(), context).await;
        let totp_uri = secret.as_deref().map(|s| self.codes.enrolment_uri(stored.operator.name.as_str(), s));
        Ok(IssuedOperator { operator: stored.operator, password: text, totp_uri })
    }

    /// Signs an operator in: their password, and their TOTP code when their
    /// role needs one (a code is accepted once). Wrong attempts are counted
    /// per operator and lock the name for a growing time; an unknown name
    /// costs the same hashing as a known one. Every attempt is audited.
    ///
    /// # Errors
    /// `SignInRefused` (one answer for name, password and code), `Locked`;
    /// storage.
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
        code: &str,
        context: &RequestContext,
    ) -> Result<SignedIn, OperatorError> {
        let typed = AuditEntry::bounded(name.trim());
        let refused = |why: &str| format!("refused: {why}");
        let found = match OperatorName::parse(name) {
            Ok(name) => self.repository.find_operator_by_name(&name).await?,
            Err(_) => None,
        };
        let password = Password::parse(password).ok();
        let Some(stored) = found.filter(|s| s.operator.is_active()) else {
            // The cost of a check either way: timing does not tell names.
            if let Some(password) = &password {
                self.decoy.spend(self.hasher.as_ref(), password).await;
            }
            self.audit_as(None, typed, AuditAction::LoginFailed, None, refused("unknown or disabled name"), context)
                .await;
            return Err(OperatorError::SignInRefused);
        };
        let operator = stored.operator.clone();
        let record = PasswordRecord::Operator(operator.id);
        let now = self.clock.now();
        let counted = self.attempts.failures(record).await?;
        if let Some(until) = counted.locked_until.filter(|until| *until > now) {
            self.audit(Some(&operator), AuditAction::LoginFailed, None, refused("locked"), context).await;
            return Err(OperatorError::Locked { retry_after: (until - now).to_std().unwrap_or_default() });
        }
        let password_ok = match &password {
            Some(password) => self.hasher.verify(password, &stored.password_hash).await.map_err(hasher_error)?,
            None => false,
        };
        let code_ok = !operator.role.needs_second_factor()
            || match stored.totp_secret.as_deref().and_then(|s| self.codes.verify(s, code, now)) {
                Some(step) if password_ok => self.repository.use_totp_step(operator.id, step).await?,
                _ => false,
            };
        if !(password_ok && code_ok) {
            let why = if password_ok { "wrong or reused code" } else { "wrong password" };
            self.count_failure(record, now).await?;
            self.audit(Some(&operator), AuditAction::LoginFailed, None, refused(why), context).await;
            return Err(OperatorError::SignInRefused);
        }
        if counted.failures > 0 || counted.lockouts > 0 {
            self.attempts.clear(record).await?;
        }
        let token = random_token();
        let session = OperatorSession {
            token_digest: lookup_digest(&token),
            operator: operator.id,
            csrf_token: random_token(),
            created_at: now,
            last_seen_at: now,
        };
        self.repository.insert_session(&session).await?;
        self.audit(Some(&operator), AuditAction::Login, None, "ok".into(), context).await;
        Ok(SignedIn { token, operator, session })
    }

    async fn count_failure(&self, record: PasswordRecord, now: Timestamp) -> Result<(), OperatorError> {
        let policy = &self.policy.passwords;
        let counted = self.attempts.fail(record, now, policy.window).await?;
        if counted.failures >= policy.max_failures {
            let lock = policy.lock_for(counted.lockouts);
            let until = now.checked_add_signed(chrono::Duration::from_std(lock).unwrap_or(chrono::Duration::MAX));
            self.attempts.lock(record, until.unwrap_or(now)).await?;
        }
        Ok(())
    }

    /// The operator of a session token, and the session (touched: its idle
    /// time starts again). A session idle past the policy is ended and
    /// audited; so is one whose operator was disabled.
    ///
    /// # Errors
    /// `SignedOut { expired }`; storage.
    pub async fn authenticate(
        &self,
        token: &str,
        context: &RequestContext,
    ) -> Result<(Operator, OperatorSession), OperatorError> {
        if token.is_empty() || token.len() > 2 * TOKEN_BYTES {
            return Err(OperatorError::SignedOut { expired: false });
        }
        let digest = lookup_digest(token);
        let Some(session) = self.repository.find_session(&digest).await? else {
            return Err(OperatorError::SignedOut { expired: false });
        };
        let now = self.clock.now();
        let idle = chrono::Duration::from_std(self.policy.idle).unwrap_or(chrono::Duration::MAX);
        let operator = self.repository.find_operator(session.operator).await?.map(|s| s.operator);
        let Some(operator) = operator.filter(Operator::is_active) else {
            self.repository.delete_session(&digest).await?;
            return Err(OperatorError::SignedOut { expired: false });
        };
        if session.last_seen_at + idle < now {
            self.repository.delete_session(&digest).await?;
            self.audit(Some(&operator), AuditAction::SessionExpired, None, "idle".into(), context).await;
            return Err(OperatorError::SignedOut { expired: true });
        }
        self.repository.touch_session(&digest, now).await?;
        Ok((operator, OperatorSession { last_seen_at: now, ..session }))
    }

    /// Ends a session.
    ///
    /// # Errors
    /// Storage.
    pub async fn sign_out(
        &self,
        operator: &Operator,
        token: &str,
        context: &RequestContext,
    ) -> Result<(), OperatorError> {
        self.repository.delete_session(&lookup_digest(token)).await?;
        self.audit(Some(operator), AuditAction::Logout, None, "ok".into(), context).await;
        Ok(())
    }

    /// Ends the sessions idle past the policy (a housekeeping loop).
    ///
    /// # Errors
    /// Storage.
    pub async fn purge_idle_sessions(&self) -> Result<u64, OperatorError> {
        let idle = chrono::Duration::from_std(self.policy.idle).unwrap_or(chrono::Duration::MAX);
        Ok(self.repository.purge_sessions(self.clock.now() - idle).await?)
    }

    /// Deletes the audit entries past the configured retention (none
    /// without one: the trail is kept forever by default); how many.
    ///
    /// # Errors
    /// Storage.
    pub async fn purge_expired_audit(&self) -> Result<u64, OperatorError> {
        let Some(retention) = self.policy.audit_retention else { return Ok(0) };
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let now = self.clock.now();
        Ok(self.repository.purge_audit_before(now.checked_sub_signed(retention).unwrap_or(now)).await?)
    }

    /// Refuses (and audits) what `operator`'s role does not allow.
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn require(
        &self,
        operator: &Operator,
        permission: Permission,
        what: &str,
        context: &RequestContext,
    ) -> Result<(), OperatorError> {
        if operator.role.allows(permission) {
            return Ok(());
        }
        self.audit(Some(operator), AuditAction::Forbidden, None, format!("refused: {what}"), context).await;
        Err(OperatorError::Forbidden { role: operator.role })
    }

    /// Appends to the audit trail as `by` (`None`: the command line).
    pub async fn audit(
        &self,
        by: Option<&Operator>,
        action: AuditAction,
        record: Option<String>,
        outcome: String,
        context: &RequestContext,
    ) {
        let actor = by.map_or_else(|| "command line".to_owned(), |o| o.name.to_string());
        self.audit_as(by.map(|o| o.id), actor, action, record, outcome, context).await;
    }

    async fn audit_as(
        &self,
        operator: Option<OperatorId>,
        actor: String,
        action: AuditAction,
        record: Option<String>,
        outcome: String,
        context: &RequestContext,
    ) {
        let entry = AuditEntry {
            id: AuditId::from_uuid(self.ids.new_id()),
            at: self.clock.now(),
            operator,
            actor,
            action,
            record,
            outcome,
            request_id: context.request_id.clone(),
            address: context.address.clone(),
        };
        // The trail must not silently lose a row: a failure is logged loudly
        // (the action itself has happened or been refused already).
        if let Err(error) = self.repository.append_audit(&entry).await {
            tracing::error!(%error, action = action.as_str(), "an audit entry could not be written");
        }
    }

    /// What operators did to `record` (`history:<id>`), oldest first: the
    /// operator actions of a payment's timeline.
    ///
    /// # Errors
    /// Storage.
    pub async fn audit_of(&self, record: &str) -> Result<Vec<AuditEntry>, OperatorError> {
        Ok(self.repository.audit_of(record, 500).await?)
    }

    /// The newest audit entries before `before`, newest first.
    ///
    /// # Errors
    /// Storage.
    pub async fn audit_page(&self, before: Option<AuditId>, limit: u32) -> Result<Vec<AuditEntry>, OperatorError> {
        Ok(self.repository.audit_page(before, limit.clamp(1, 500)).await?)
    }
}

fn hasher_error(error: anyhow::Error) -> OperatorError {
    if error.is::<crate::ports::HasherBusy>() {
        OperatorError::Unavailable(error.to_string())
    } else {
        OperatorError::Internal(error)
    }
}
