use std::sync::Arc;

use async_trait::async_trait;
use payments_application::ports::{HistoryRepository, RepositoryError, Revision, StoredHistory};
use payments_domain::{
    ClientId, HistoryId, OrderId, PasswordHash, PaymentHistory, Source, VendorCode, VendorUid, WebhookEvent,
};
use tokio::sync::Notify;

/// Wraps a history repository and wakes the local webhook worker as soon as a
/// change (and so a delivery job) is committed, so a delivery does not wait
/// for the next poll. Other instances still find the job by polling.
pub struct NotifyingHistories {
    inner: Arc<dyn HistoryRepository>,
    wake: Arc<Notify>,
}

impl NotifyingHistories {
    pub fn new(inner: Arc<dyn HistoryRepository>, wake: Arc<Notify>) -> Self {
        Self { inner, wake }
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
        self.inner.save_change(expected, next, event).await?;
        self.wake.notify_one();
        Ok(())
    }
}
