//! Orders, stored: registered before the customer's window opens, closed once.

use async_trait::async_trait;
use payments_domain::{
    ClientId, OrderId, OrderStatus, PasswordHash, PaymentHistory, PaymentOrder, PaymentOrderId, Source, Timestamp,
    VendorCode, WebhookEvent,
};

use super::storage::RepositoryError;

/// An order as stored, with its password hash (the one its history opens with).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredOrder {
    pub order: PaymentOrder,
    pub password_hash: PasswordHash,
}

/// How an order is closed with the payment that closed it, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderClosing {
    /// Its payment matched it: recorded as its history.
    Completed { at: Timestamp },
    /// Its payment did not match it (cancelled at the PG): recorded as a
    /// refunded history, the order refused for `reason`.
    Refused { reason: String, at: Timestamp },
}

/// Orders. No listing beyond the reconciler's pages of pending ones.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderRepository: Send + Sync {
    /// Stores a new order (pending).
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when an order for its source exists;
    /// `Unavailable` when the database is down.
    async fn insert_order(&self, order: &PaymentOrder, password_hash: &PasswordHash) -> Result<(), RepositoryError>;

    /// Records what the PG answered to the order's lock.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn record_lock(&self, id: PaymentOrderId, locked: bool, pg_amount: &str) -> Result<(), RepositoryError>;

    /// Removes an order still pending whose lock failed (nothing was paid
    /// for it: its window never opened); `false` when it is not pending.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn remove_pending_order(&self, id: PaymentOrderId) -> Result<bool, RepositoryError>;

    /// # Errors
    /// `Unavailable`, or `Corrupt` when the stored row does not parse.
    async fn find_order(&self, id: PaymentOrderId) -> Result<Option<StoredOrder>, RepositoryError>;

    /// # Errors
    /// As [`OrderRepository::find_order`].
    async fn find_order_by_source(
        &self,
        client: ClientId,
        source: &Source,
    ) -> Result<Option<StoredOrder>, RepositoryError>;

    /// The pending orders of `code` whose PG order id (`source.id`) is
    /// `order_id`, at most `limit` (order ids are unique per store).
    ///
    /// # Errors
    /// As [`OrderRepository::find_order`].
    async fn pending_orders_for(
        &self,
        code: VendorCode,
        order_id: &OrderId,
        limit: u32,
    ) -> Result<Vec<StoredOrder>, RepositoryError>;

    /// The pending orders after `after`, in id order, at most `limit` (the
    /// reconciler's pages).
    ///
    /// # Errors
    /// As [`OrderRepository::find_order`].
    async fn pending_orders(
        &self,
        after: Option<PaymentOrderId>,
        limit: u32,
    ) -> Result<Vec<StoredOrder>, RepositoryError>;

    /// Atomically, and only while the order is pending: closes it as
    /// `closing` says, inserts `history` (revision 0, with `password_hash`:
    /// the order's) and records `event`, its delivery due now. All or nothing.
    ///
    /// # Errors
    /// [`RepositoryError::Stale`] when the order is no longer pending;
    /// [`RepositoryError::Conflict`] when the history's `(vendor, uid)` or
    /// source is taken; `Unavailable`.
    async fn complete_order(
        &self,
        id: PaymentOrderId,
        closing: &OrderClosing,
        history: &PaymentHistory,
        password_hash: &PasswordHash,
        event: &WebhookEvent,
    ) -> Result<(), RepositoryError>;

    /// Closes a pending order as `status` without recording a payment
    /// (`Expired`; `Completed` by a history recorded already); `false` when
    /// it is no longer pending.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn close_order(
        &self,
        id: PaymentOrderId,
        status: &OrderStatus,
        at: Timestamp,
    ) -> Result<bool, RepositoryError>;
}
