//! In-memory implementations of ports with the storage's rules, for other
//! crates' tests (feature `mocks`) and this crate's.

use payments_domain::{CancelKey, HistoryId, Timestamp, VendorCode};

use crate::commands::PgNotification;
use crate::ports::{
    CancelIntent, CancelIntentRepository, ChargeBegin, ChargeIntent, ChargeIntentRepository, InboxItem, InboxOutcome,
    IntentBegin, IntentState, LeaseToken, NotificationInbox, NotificationReceipts, PasswordAttempts, PasswordFailures,
    PasswordRecord, RepositoryError,
};

/// Wrong passwords in memory, counted as the storage counts them.
#[derive(Default)]
pub struct MemoryAttempts {
    /// Per record: its count and when its window began.
    pub rows: std::sync::Mutex<std::collections::HashMap<PasswordRecord, (PasswordFailures, Timestamp)>>,
}

#[async_trait::async_trait]
impl PasswordAttempts for MemoryAttempts {
    async fn failures(&self, record: PasswordRecord) -> Result<PasswordFailures, RepositoryError> {
        Ok(self.rows.lock().unwrap().get(&record).map(|(counted, _)| *counted).unwrap_or_default())
    }

    async fn fail(
        &self,
        record: PasswordRecord,
        now: Timestamp,
        window: std::time::Duration,
    ) -> Result<PasswordFailures, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        let (counted, started) = rows.entry(record).or_insert((PasswordFailures::default(), now));
        if *started < now.checked_sub_signed(window).unwrap_or(now) {
            (counted.failures, *started) = (0, now);
        }
        counted.failures += 1;
        Ok(*counted)
    }

    async fn lock(&self, record: PasswordRecord, until: Timestamp) -> Result<(), RepositoryError> {
        if let Some((counted, started)) = self.rows.lock().unwrap().get_mut(&record) {
            *counted = PasswordFailures { failures: 0, lockouts: counted.lockouts + 1, locked_until: Some(until) };
            *started = until;
        }
        Ok(())
    }

    async fn clear(&self, record: PasswordRecord) -> Result<(), RepositoryError> {
        self.rows.lock().unwrap().remove(&record);
        Ok(())
    }

    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        let before = rows.len();
        rows.retain(|_, (counted, started)| *started >= cutoff || counted.locked_until.is_some_and(|u| u >= cutoff));
        Ok((before - rows.len()) as u64)
    }
}

/// Cancel intents in memory, with the storage's rules (one open intent per
/// payment; ids unique).
#[derive(Default)]
pub struct MemoryIntents {
    pub rows: std::sync::Mutex<Vec<CancelIntent>>,
}

impl MemoryIntents {
    pub fn all(&self) -> Vec<CancelIntent> {
        self.rows.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl CancelIntentRepository for MemoryIntents {
    async fn begin(&self, intent: &CancelIntent) -> Result<IntentBegin, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        if let Some(existing) = rows.iter().find(|i| i.id == intent.id) {
            return Ok(IntentBegin::Exists(existing.clone()));
        }
        if let Some(open) = rows.iter().find(|i| i.history == intent.history && i.state.is_open()) {
            return Ok(IntentBegin::Busy(open.clone()));
        }
        rows.push(intent.clone());
        Ok(IntentBegin::Begun)
    }

    async fn update(&self, intent: &CancelIntent) -> Result<bool, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        match rows.iter_mut().find(|i| i.id == intent.id) {
            Some(row) => {
                *row = intent.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn claimed_cancel_keys(&self, history: HistoryId) -> Result<Vec<CancelKey>, RepositoryError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows.iter().filter(|i| i.history == history).filter_map(|i| i.cancel_key.clone()).collect())
    }

    async fn open(&self, limit: u32) -> Result<Vec<CancelIntent>, RepositoryError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows.iter().filter(|i| i.state.is_open()).take(limit as usize).cloned().collect())
    }

    async fn open_of(&self, history: HistoryId) -> Result<Option<CancelIntent>, RepositoryError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows.iter().find(|i| i.history == history && i.state.is_open()).cloned())
    }

    async fn find(&self, id: uuid::Uuid) -> Result<Option<CancelIntent>, RepositoryError> {
        Ok(self.rows.lock().unwrap().iter().find(|i| i.id == id).cloned())
    }
}

/// Charge intents in memory, with the storage's rules (ids and orders unique;
/// updates only from the expected `updated_at`).
#[derive(Default)]
pub struct MemoryCharges {
    pub rows: std::sync::Mutex<Vec<ChargeIntent>>,
}

#[async_trait::async_trait]
impl ChargeIntentRepository for MemoryCharges {
    async fn begin_charge(&self, intent: &ChargeIntent) -> Result<ChargeBegin, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        if let Some(existing) = rows.iter().find(|i| i.id == intent.id || i.order_digest == intent.order_digest) {
            return Ok(ChargeBegin::Exists(Box::new(existing.clone())));
        }
        rows.push(intent.clone());
        Ok(ChargeBegin::Begun)
    }

    async fn update_charge(&self, intent: &ChargeIntent, expected: Timestamp) -> Result<bool, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        match rows.iter_mut().find(|i| i.id == intent.id && i.updated_at == expected) {
            Some(row) => {
                *row = intent.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn find_charge(&self, id: uuid::Uuid) -> Result<Option<ChargeIntent>, RepositoryError> {
        Ok(self.rows.lock().unwrap().iter().find(|i| i.id == id).cloned())
    }

    async fn abandoned_charges(
        &self,
        stale_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<ChargeIntent>, RepositoryError> {
        let mut open: Vec<ChargeIntent> = self
            .rows
            .lock()
            .unwrap()
            .iter()
            .filter(|i| matches!(i.state, IntentState::Pending | IntentState::Unknown) && i.updated_at < stale_before)
            .cloned()
            .collect();
        open.sort_by_key(|i| i.updated_at);
        open.truncate(limit as usize);
        Ok(open)
    }
}

/// One stored notification of [`MemoryInbox`].
#[derive(Debug, Clone)]
pub struct InboxRow {
    pub id: uuid::Uuid,
    pub notice: PgNotification,
    pub state: Option<InboxOutcome>,
    pub attempts: u32,
    pub received_at: payments_domain::Timestamp,
    pub lease: Option<(LeaseToken, payments_domain::Timestamp)>,
    pub last_error: Option<String>,
    /// About a payment registered here (claimed first).
    pub known: bool,
    /// Repeated while a worker held it (its attempt leaves it pending).
    pub refreshed: bool,
}

/// PG notifications in memory, with the storage's rules (leases, due times).
#[derive(Default)]
pub struct MemoryInbox {
    pub rows: std::sync::Mutex<Vec<InboxRow>>,
    /// What [`NotificationInbox::database_failing`] answers (a spooled
    /// inbox whose database failed a moment ago).
    pub database_failing: std::sync::atomic::AtomicBool,
}

impl MemoryInbox {
    pub fn all(&self) -> Vec<InboxRow> {
        self.rows.lock().unwrap().clone()
    }
}

fn lease_until(now: payments_domain::Timestamp, lease_for: std::time::Duration) -> payments_domain::Timestamp {
    now + chrono::Duration::from_std(lease_for).unwrap_or(chrono::Duration::days(1))
}

#[async_trait::async_trait]
impl NotificationInbox for MemoryInbox {
    async fn enqueue(
        &self,
        notice: &PgNotification,
        now: payments_domain::Timestamp,
        due_in: std::time::Duration,
        known: bool,
    ) -> Result<uuid::Uuid, RepositoryError> {
        let (id, due) = (notice.inbox_id(), lease_until(now, due_in));
        let mut rows = self.rows.lock().unwrap();
        let Some(row) = rows.iter_mut().find(|row| row.id == id) else {
            rows.push(InboxRow {
                id,
                notice: notice.clone(),
                state: Some(InboxOutcome::RetryAt(due)),
                attempts: 0,
                received_at: now,
                lease: None,
                last_error: None,
                known,
                refreshed: false,
            });
            return Ok(id);
        };
        // As the table's upsert: one row per target, refreshed.
        let pending_due = match row.state {
            None => Some(row.received_at),
            Some(InboxOutcome::RetryAt(at)) => Some(at),
            Some(_) => None,
        };
        row.refreshed = row.lease.is_some();
        let due = match pending_due {
            Some(at) if row.lease.is_none() => at.min(due),
            _ => due,
        };
        if pending_due.is_some() {
            row.known |= known;
        } else {
            (row.known, row.attempts, row.last_error) = (known, 0, None);
        }
        (row.notice, row.received_at, row.state) = (notice.clone(), now, Some(InboxOutcome::RetryAt(due)));
        Ok(id)
    }

    async fn claim_due(
        &self,
        now: payments_domain::Timestamp,
        limit: u32,
        lease_for: std::time::Duration,
    ) -> Result<Vec<InboxItem>, RepositoryError> {
        let lease = LeaseToken(uuid::Uuid::new_v4());
        let mut rows = self.rows.lock().unwrap();
        let mut claimed = Vec::new();
        // Those about registered payments first (a stable sort keeps the order of each kind).
        rows.sort_by_key(|row| !row.known);
        for row in rows.iter_mut() {
            let due = match row.state {
                None => true,
                Some(InboxOutcome::RetryAt(at)) => at <= now,
                Some(_) => false,
            };
            let free = row.lease.is_none_or(|(_, until)| until <= now);
            if due && free && claimed.len() < limit as usize {
                row.lease = Some((lease, lease_until(now, lease_for)));
                row.refreshed = false;
                claimed.push(InboxItem {
                    id: row.id,
                    notice: row.notice.clone(),
                    attempts: row.attempts,
                    received_at: row.received_at,
                    lease,
                });
            }
        }
        Ok(claimed)
    }

    async fn settle(
        &self,
        id: uuid::Uuid,
        lease: LeaseToken,
        outcome: InboxOutcome,
        error: Option<String>,
        _now: payments_domain::Timestamp,
    ) -> Result<bool, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        let Some(row) = rows.iter_mut().find(|r| r.id == id && r.lease.is_some_and(|(l, _)| l == lease)) else {
            return Ok(false);
        };
        row.state = match (row.refreshed, row.state, outcome) {
            // Refreshed during the attempt: pending still, due as the refresh asked.
            (true, Some(InboxOutcome::RetryAt(asked)), InboxOutcome::RetryAt(at)) => {
                Some(InboxOutcome::RetryAt(asked.min(at)))
            }
            (true, Some(InboxOutcome::RetryAt(asked)), _) => Some(InboxOutcome::RetryAt(asked)),
            _ => Some(outcome),
        };
        row.refreshed = false;
        row.attempts += 1;
        row.lease = None;
        row.last_error = error;
        Ok(true)
    }

    async fn purge_before(&self, cutoff: payments_domain::Timestamp) -> Result<u64, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        let before = rows.len();
        rows.retain(|r| matches!(r.state, None | Some(InboxOutcome::RetryAt(_))) || r.received_at >= cutoff);
        Ok((before - rows.len()) as u64)
    }

    async fn count(&self) -> Result<u64, RepositoryError> {
        Ok(self.rows.lock().unwrap().len() as u64)
    }

    fn database_failing(&self) -> bool {
        self.database_failing.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Answered PG deliveries in memory, kept until their time as the storage keeps them.
#[derive(Default)]
pub struct MemoryReceipts {
    /// Until when each `(vendor, digest)` is kept.
    pub rows: std::sync::Mutex<std::collections::HashMap<(VendorCode, String), Timestamp>>,
}

#[async_trait::async_trait]
impl NotificationReceipts for MemoryReceipts {
    async fn seen(&self, vendor: VendorCode, digest: &str, now: Timestamp) -> Result<bool, RepositoryError> {
        Ok(self.rows.lock().unwrap().get(&(vendor, digest.to_owned())).is_some_and(|until| *until >= now))
    }

    async fn remember(&self, vendor: VendorCode, digest: &str, until: Timestamp) -> Result<(), RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        let kept = rows.entry((vendor, digest.to_owned())).or_insert(until);
        *kept = (*kept).max(until);
        Ok(())
    }

    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        let before = rows.len();
        rows.retain(|_, until| *until >= cutoff);
        Ok((before - rows.len()) as u64)
    }
}

/// Orders in memory, with the storage's rules (one per source, closed once);
/// a completion inserts its history into `histories` and records its event
/// there (not atomically: for tests of other layers).
pub struct MemoryOrders {
    pub histories: std::sync::Arc<dyn crate::ports::HistoryRepository>,
    pub rows: std::sync::Mutex<Vec<crate::ports::StoredOrder>>,
}

impl MemoryOrders {
    pub fn new(histories: std::sync::Arc<dyn crate::ports::HistoryRepository>) -> Self {
        Self { histories, rows: std::sync::Mutex::default() }
    }

    fn close(&self, id: payments_domain::PaymentOrderId, status: payments_domain::OrderStatus, at: Timestamp) -> bool {
        let mut rows = self.rows.lock().unwrap();
        match rows.iter_mut().find(|r| r.order.id == id && r.order.status == payments_domain::OrderStatus::Pending) {
            Some(row) => {
                row.order.status = status;
                row.order.closed_at = Some(at);
                true
            }
            None => false,
        }
    }
}

#[async_trait::async_trait]
impl crate::ports::OrderRepository for MemoryOrders {
    async fn insert_order(
        &self,
        order: &payments_domain::PaymentOrder,
        password_hash: &payments_domain::PasswordHash,
    ) -> Result<(), RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        if rows.iter().any(|r| r.order.client == order.client && r.order.source == order.source) {
            return Err(RepositoryError::Conflict("source: an order is already registered for this source".into()));
        }
        rows.push(crate::ports::StoredOrder { order: order.clone(), password_hash: password_hash.clone() });
        Ok(())
    }

    async fn record_lock(
        &self,
        id: payments_domain::PaymentOrderId,
        locked: bool,
        pg_amount: &str,
    ) -> Result<(), RepositoryError> {
        if let Some(row) = self.rows.lock().unwrap().iter_mut().find(|r| r.order.id == id) {
            row.order.locked = locked;
            pg_amount.clone_into(&mut row.order.pg_amount);
        }
        Ok(())
    }

    async fn remove_pending_order(&self, id: payments_domain::PaymentOrderId) -> Result<bool, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        let before = rows.len();
        rows.retain(|r| !(r.order.id == id && r.order.status == payments_domain::OrderStatus::Pending));
        Ok(rows.len() < before)
    }

    async fn find_order(
        &self,
        id: payments_domain::PaymentOrderId,
    ) -> Result<Option<crate::ports::StoredOrder>, RepositoryError> {
        Ok(self.rows.lock().unwrap().iter().find(|r| r.order.id == id).cloned())
    }

    async fn find_order_by_source(
        &self,
        client: payments_domain::ClientId,
        source: &payments_domain::Source,
    ) -> Result<Option<crate::ports::StoredOrder>, RepositoryError> {
        Ok(self.rows.lock().unwrap().iter().find(|r| r.order.client == client && &r.order.source == source).cloned())
    }

    async fn pending_orders_for(
        &self,
        code: VendorCode,
        order_id: &payments_domain::OrderId,
        limit: u32,
    ) -> Result<Vec<crate::ports::StoredOrder>, RepositoryError> {
        let rows = self.rows.lock().unwrap();
        let pending = rows.iter().filter(|r| {
            r.order.vendor_code == code
                && r.order.source.id.as_str() == order_id.as_str()
                && r.order.status == payments_domain::OrderStatus::Pending
        });
        Ok(pending.take(limit as usize).cloned().collect())
    }

    async fn pending_orders(
        &self,
        after: Option<payments_domain::PaymentOrderId>,
        limit: u32,
    ) -> Result<Vec<crate::ports::StoredOrder>, RepositoryError> {
        let mut pending: Vec<_> = self
            .rows
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.order.status == payments_domain::OrderStatus::Pending && after.is_none_or(|a| r.order.id > a))
            .cloned()
            .collect();
        pending.sort_by_key(|r| r.order.id);
        pending.truncate(limit as usize);
        Ok(pending)
    }

    async fn complete_order(
        &self,
        id: payments_domain::PaymentOrderId,
        closing: &crate::ports::OrderClosing,
        history: &payments_domain::PaymentHistory,
        password_hash: &payments_domain::PasswordHash,
        event: &payments_domain::WebhookEvent,
    ) -> Result<(), RepositoryError> {
        let pending = self
            .rows
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.order.id == id && r.order.status == payments_domain::OrderStatus::Pending);
        if !pending {
            return Err(RepositoryError::Stale);
        }
        self.histories.insert(history, password_hash).await?;
        self.histories.save_change(crate::ports::Revision(0), history, event).await?;
        let (status, at) = match closing {
            crate::ports::OrderClosing::Completed { at } => {
                (payments_domain::OrderStatus::Completed { history: history.id() }, *at)
            }
            crate::ports::OrderClosing::Refused { reason, at } => {
                (payments_domain::OrderStatus::Refused { reason: reason.clone(), history: Some(history.id()) }, *at)
            }
        };
        if self.close(id, status, at) { Ok(()) } else { Err(RepositoryError::Stale) }
    }

    async fn close_order(
        &self,
        id: payments_domain::PaymentOrderId,
        status: &payments_domain::OrderStatus,
        at: Timestamp,
    ) -> Result<bool, RepositoryError> {
        Ok(self.close(id, status.clone(), at))
    }
}
