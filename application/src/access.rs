//! Opening a record with its password: lockouts, and the same cost for a record not found.

use payments_domain::{ClientId, Password, PasswordHash, PaymentHistory};

use crate::commands::{HistoryLocator, Locator, SavedCardLocator};
use crate::error::{AppError, RecordKind};
use crate::ports::{PasswordFailures, PasswordRecord, StoredHistory, StoredSavedCard};
use crate::service::PaymentService;

impl PaymentService {
    /// Loads a saved card and checks its password.
    pub(crate) async fn opened_saved_card(
        &self,
        client: ClientId,
        locator: &SavedCardLocator,
        password: &payments_domain::Password,
    ) -> Result<StoredSavedCard, AppError> {
        let found = match locator {
            Locator::Id(id) => self.reservations().find_by_id(*id).await?,
            Locator::Source(source) => self.reservations().find_by_source(client, source).await?,
        };
        // Another client's card is not found, whatever the password.
        let found = found.filter(|stored| stored.reservation.client == client);
        let Some(stored) = found else { return Err(self.not_found(password, RecordKind::SavedCard).await) };
        let record = PasswordRecord::SavedCard(stored.reservation.id);
        self.check_password(record, password, &stored.password_hash).await?;
        Ok(stored)
    }

    /// Reads a payment of `client` with its password.
    ///
    /// # Errors
    /// `RecordNotFound` (also for another client's); `WrongPassword`;
    /// `RecordLocked` after too many.
    pub async fn get_history(
        &self,
        client: ClientId,
        locator: HistoryLocator,
        password: &Password,
    ) -> Result<PaymentHistory, AppError> {
        Ok(self.opened_history(client, &locator, password).await?.history)
    }

    /// Loads a history and checks its password.
    pub(crate) async fn opened_history(
        &self,
        client: ClientId,
        locator: &HistoryLocator,
        password: &Password,
    ) -> Result<StoredHistory, AppError> {
        let found = match locator {
            Locator::Id(id) => self.histories().find_by_id(*id).await?,
            Locator::Source(source) => self.histories().find_by_source(client, source).await?,
        };
        // Another client's payment is not found, whatever the password.
        let found = found.filter(|stored| stored.history.identity().client == client);
        let Some(stored) = found else { return Err(self.not_found(password, RecordKind::History).await) };
        self.check_password(PasswordRecord::History(stored.history.id()), password, &stored.password_hash).await?;
        Ok(stored)
    }

    pub(crate) async fn hash(&self, password: &Password) -> Result<PasswordHash, AppError> {
        self.deps.hasher.hash(password).await.map_err(hasher_error)
    }

    /// Checks the password of `record`: refused at once (`RecordLocked`) while the
    /// record is locked; a wrong one is counted and locks the record once
    /// there were too many; a right one clears the count.
    pub(crate) async fn check_password(
        &self,
        record: PasswordRecord,
        password: &Password,
        hash: &PasswordHash,
    ) -> Result<(), AppError> {
        let policy = &self.deps.passwords;
        let now = self.deps.clock.now();
        let counted = self.deps.attempts.failures(record).await?;
        if let Some(until) = counted.locked_until.filter(|until| *until > now) {
            return Err(locked(until - now));
        }
        if self.deps.hasher.verify(password, hash).await.map_err(hasher_error)? {
            if counted != PasswordFailures::default() {
                self.deps.attempts.clear(record).await?;
            }
            return Ok(());
        }
        let counted = self.deps.attempts.fail(record, now, policy.window).await?;
        if counted.failures >= policy.max_failures {
            let lock = policy.lock_for(counted.lockouts);
            let until = now.checked_add_signed(chrono::Duration::from_std(lock).unwrap_or(chrono::Duration::MAX));
            self.deps.attempts.lock(record, until.unwrap_or(now)).await?;
            tracing::warn!(record = %record.key(), failures = counted.failures, lock_s = lock.as_secs(), "record locked after wrong passwords");
        }
        Err(AppError::WrongPassword)
    }

    /// What a record not found costs: the same argon2 time as a wrong
    /// password, so timing does not tell which records exist.
    pub(crate) async fn not_found(&self, password: &Password, what: RecordKind) -> AppError {
        self.dummy_hash.spend(self.deps.hasher.as_ref(), password).await;
        AppError::RecordNotFound(what)
    }

    /// Refuses a new record's password shorter than the policy's minimum.
    pub(crate) fn check_new_password(&self, password: &Password) -> Result<(), AppError> {
        let min = self.deps.passwords.min_chars;
        if password.expose().chars().count() < min {
            return Err(AppError::InvalidField {
                param: "password".into(),
                reason: format!("must be at least {min} characters"),
            });
        }
        Ok(())
    }
}

/// A full hashing queue is busy (retry shortly); anything else is a bug.
fn hasher_error(error: anyhow::Error) -> AppError {
    if error.is::<crate::ports::HasherBusy>() { AppError::Busy(error.to_string()) } else { AppError::Internal(error) }
}

/// The answer of a locked record.
fn locked(left: chrono::Duration) -> AppError {
    let retry_after = left.to_std().unwrap_or_default().max(std::time::Duration::from_secs(1));
    AppError::RecordLocked { retry_after }
}

/// A hash no password matches, made once by the hasher in use: checking a
/// password against it costs what checking a real one does, so a record (or
/// an operator) that does not exist takes as long to refuse as a wrong
/// password.
#[derive(Clone, Default)]
pub(crate) struct Decoy(std::sync::Arc<tokio::sync::OnceCell<Option<PasswordHash>>>);

impl Decoy {
    /// Spends one verification of `password` against the decoy.
    pub(crate) async fn spend(&self, hasher: &dyn crate::ports::PasswordHasher, password: &Password) {
        let decoy = self
            .0
            .get_or_init(|| async {
                hasher.hash(&Password::parse("not a password of any record").expect("a valid password")).await.ok()
            })
            .await;
        if let Some(decoy) = decoy {
            let _ = hasher.verify(password, decoy).await;
        }
    }
}
