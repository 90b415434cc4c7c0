//! Recording a change of a payment, with its event: the one loop every use
//! case that records the PG's word goes through ("apply, save, on a stale
//! revision reload and apply again").

use payments_domain::{Applied, EventId, HistoryId, PaymentHistory, PaymentSnapshot, WebhookEvent};

use crate::error::AppError;
use crate::ports::{GatewayError, PaymentGateway, RepositoryError, StoredHistory};
use crate::service::PaymentService;

/// Where the PG's word a change applies comes from.
// Moved once into `record_change`, never stored: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum PgWord<'a> {
    /// The PG's answer to a call of ours (a cancel), applied as given: the
    /// record may be newer than it ([`PaymentHistory::apply`]).
    Answer(PaymentSnapshot),
    /// Read again at every attempt, after the record was (re)loaded, so it
    /// is never older than the record it is applied to
    /// ([`PaymentHistory::apply_current`]).
    Reread(&'a dyn PaymentGateway),
}

/// What recording the PG's word came to.
// Returned once and taken apart at once, never stored.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Recorded {
    /// Nothing changed: the record as it is.
    Unchanged(PaymentHistory),
    /// The change, saved with this event.
    Changed(WebhookEvent),
}

/// How often a change is re-applied when another change of the same history
/// committed first. Each retry re-reads the record, so this only bounds a storm.
pub(crate) const MAX_CHANGE_ATTEMPTS: usize = 16;

impl PaymentService {
    /// Applies the PG's `word` to `stored` and saves the change with its
    /// event (`trigger`); when another change committed first (a stale
    /// revision), reloads the record and applies the word again, at most
    /// [`MAX_CHANGE_ATTEMPTS`] times.
    pub(crate) async fn record_change(
        &self,
        mut stored: StoredHistory,
        word: PgWord<'_>,
        trigger: serde_json::Value,
    ) -> Result<Recorded, AppError> {
        for _ in 0..MAX_CHANGE_ATTEMPTS {
            let applied = match &word {
                PgWord::Answer(snapshot) => stored.history.apply(snapshot.clone())?,
                PgWord::Reread(gateway) => {
                    let vendor = stored.history.vendor();
                    let snapshot = gateway.fetch_payment(&vendor.store_id, &vendor.uid).await.map_err(reread_error)?;
                    stored.history.apply_current(snapshot)?
                }
            };
            let next = match applied {
                Applied::Unchanged => return Ok(Recorded::Unchanged(stored.history)),
                Applied::Changed(next) => next,
            };
            let (id, revision) = (stored.history.id(), stored.revision);
            let event = self.new_event(stored.history, next, trigger.clone())?;
            match self.histories().save_change(revision, event.current(), &event).await {
                Ok(()) => return Ok(Recorded::Changed(event)),
                Err(RepositoryError::Stale) => stored = self.reload(id).await?,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::ConcurrentChanges)
    }

    pub(crate) fn new_event(
        &self,
        previous: PaymentHistory,
        next: PaymentHistory,
        trigger: serde_json::Value,
    ) -> Result<WebhookEvent, AppError> {
        Ok(WebhookEvent::new(
            EventId::from_uuid(self.deps.ids.new_id()),
            previous,
            next,
            trigger,
            self.deps.clock.now(),
        )?)
    }

    pub(crate) async fn reload(&self, id: HistoryId) -> Result<StoredHistory, AppError> {
        self.histories()
            .find_by_id(id)
            .await?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("history vanished during a change")))
    }
}

/// A re-read that failed: the gateway's error, except an answer past our
/// bounds, which every later read gives again: a refusal (final), so a
/// notification is acknowledged and parked, not retried for days as if the
/// PG were down.
fn reread_error(error: GatewayError) -> AppError {
    match error {
        GatewayError::OutOfBounds(_) => AppError::PgRefused(error.to_string()),
        other => other.into(),
    }
}
