use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use payments_application::ports::{
    DeliveryJob, EnqueueLease, HistoryRepository, LeaseToken, RepositoryError, Revision, StoredHistory,
};
use payments_domain::{
    ClientId, HistoryId, OrderId, PasswordHash, PaymentHistory, Source, VendorCode, VendorUid, WebhookEvent,
};
use tokio::sync::{Notify, mpsc};

/// The in-memory way from a committed change to this process's delivery
/// worker: each change's delivery is enqueued leased to this process and
/// the job (the event as committed) handed over, so the worker neither
/// claims it nor reads it back. The database stays the source of truth: a
/// process that dies with jobs handed over leaves them pending under a
/// lease that runs out, and any instance delivers them then.
#[derive(Debug, Clone)]
pub struct Handoff {
    jobs: mpsc::Sender<DeliveryJob>,
    lease_for: chrono::Duration,
}

/// The worker's end of a [`Handoff`].
#[derive(Debug)]
pub struct HandedOff(pub(crate) mpsc::Receiver<DeliveryJob>);

/// A handoff of at most `capacity` jobs waiting for the worker (past it, a
/// change's delivery is enqueued unleased and the worker woken to claim it,
/// as without one), each leased for `lease_for` (the worker's claim lease).
pub fn handoff(capacity: usize, lease_for: Duration) -> (Handoff, HandedOff) {
    let (jobs, handed) = mpsc::channel(capacity.max(1));
    let lease_for = chrono::Duration::from_std(lease_for).unwrap_or(chrono::Duration::MAX);
    (Handoff { jobs, lease_for }, HandedOff(handed))
}

/// Wraps a history repository and wakes the local webhook worker as soon as a
/// change (and so a delivery job) is committed, so a delivery does not wait
/// for the next poll; with a [`Handoff`], hands it the job instead. Other
/// instances still find the job by polling.
pub struct NotifyingHistories {
    inner: Arc<dyn HistoryRepository>,
    wake: Arc<Notify>,
    handoff: Option<Handoff>,
}

impl NotifyingHistories {
    pub fn new(inner: Arc<dyn HistoryRepository>, wake: Arc<Notify>) -> Self {
        Self { inner, wake, handoff: None }
    }

    /// Hands each change's delivery job to the worker holding the other end.
    #[must_use]
    pub fn with_handoff(mut self, handoff: Handoff) -> Self {
        self.handoff = Some(handoff);
        self
    }
}

#[async_trait]
impl HistoryRepository for NotifyingHistories {
    async fn insert(&self, history: &PaymentHistory, password_hash: &PasswordHash) -> Result<(), RepositoryError> {
        self.inner.insert(history, password_hash).await
    }

    async fn find_by_id(&self, id: HistoryId) -> Result<Option<StoredHistory>, RepositoryError> {
        self.inner.find_by_id(id).await
    }

    async fn find_by_source(
        &self,
        client: ClientId,
        source: &Source,
    ) -> Result<Option<StoredHistory>, RepositoryError> {
        self.inner.find_by_source(client, source).await
    }

    async fn find_by_vendor(
        &self,
        code: VendorCode,
        uid: &VendorUid,
    ) -> Result<Option<StoredHistory>, RepositoryError> {
        self.inner.find_by_vendor(code, uid).await
    }

    async fn reconcile_candidates(
        &self,
        since: payments_domain::Timestamp,
        after: Option<HistoryId>,
        limit: u32,
    ) -> Result<Vec<HistoryId>, RepositoryError> {
        self.inner.reconcile_candidates(since, after, limit).await
    }

    async fn find_by_order(
        &self,
        code: VendorCode,
        order_id: &OrderId,
        limit: u32,
    ) -> Result<Vec<StoredHistory>, RepositoryError> {
        self.inner.find_by_order(code, order_id, limit).await
    }

    async fn find_by_cancel_key(
        &self,
        code: VendorCode,
        key: &payments_domain::CancelKey,
    ) -> Result<Option<StoredHistory>, RepositoryError> {
        self.inner.find_by_cancel_key(code, key).await
    }

    async fn save_change(
        &self,
        expected: Revision,
        next: &PaymentHistory,
        event: &WebhookEvent,
    ) -> Result<(), RepositoryError> {
        // A place in the handoff is taken before the commit, so a job leased
        // to this process is always handed over (never left to its lease).
        if let Some(handoff) = &self.handoff
            && let Ok(place) = handoff.jobs.try_reserve()
        {
            let token = LeaseToken(uuid::Uuid::new_v4());
            let until = event
                .created_at()
                .checked_add_signed(handoff.lease_for)
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
            if self.inner.save_change_leased(expected, next, event, EnqueueLease { token, until }).await? {
                place.send(DeliveryJob { event: event.clone(), attempts_made: 0, lease: token });
                return Ok(());
            }
        } else {
            self.inner.save_change(expected, next, event).await?;
        }
        self.wake.notify_one();
        Ok(())
    }
}
