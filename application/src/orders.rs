//! Orders: a payment announced before the customer's window opens, its
//! amount locked at the PG, and completed once by whichever comes first of
//! the PG's webhook, the backend's registration and the reconciler. Each
//! completion is recorded with its announcement (one event, `previous: null`)
//! in one transaction, whichever path wins, on any instance.

use std::time::Duration;

use payments_domain::{
    CancelReason, Currency, EventId, HistoryId, HistoryIdentity, Money, OrderId, OrderMiss, OrderState, OrderStatus,
    Password, PaymentHistory, PaymentOrder, PaymentOrderId, PaymentSnapshot, Source, StoreId, Timestamp, Vendor,
    VendorCode, VendorUid, WebhookEvent, WebhookUrl,
};

use crate::commands::{NotificationOutcome, PgNotification};
use crate::error::{AppError, RecordKind};
use crate::keys::derived_key;
use crate::ports::{
    GatewayError, OrderClosing, OrderLockRequest, PasswordRecord, PaymentGateway, RepositoryError, StoredOrder,
};
use crate::reread::{Admission, Turn};
use crate::service::{Notified, PaymentService};

/// Most pending orders one PG order id is looked up in (order ids are unique
/// per store; the same one at several stores is rare).
const MAX_ORDERS_PER_ORDER_ID: u32 = 8;

/// Pending orders read from storage per page by the reconciler.
const PAGE: u32 = 100;

/// Register an order before the customer's window opens.
#[derive(Debug, Clone)]
pub struct CreateOrder {
    /// The client registering it: the order and its payment are its.
    pub client: payments_domain::ClientId,
    pub vendor_code: VendorCode,
    pub store_id: StoreId,
    /// The caller's record; its id is the PG's order id the window pays.
    pub source: Source,
    pub price: Money,
    /// KRW when not said.
    pub currency: Option<Currency>,
    /// Opens the order, and the payment history it completes as.
    pub password: Password,
    pub webhook_url: WebhookUrl,
    /// How long it may stay pending ([`PaymentOrder::DEFAULT_LIFETIME`] when not said).
    pub expires_in: Option<Duration>,
}

/// A record a request made, or found made by an earlier one (an order
/// retried, a registration the PG's webhook completed first).
#[derive(Debug, Clone, PartialEq)]
pub enum Answered<T> {
    Created(T),
    Existing(T),
}

impl<T> Answered<T> {
    pub fn into_inner(self) -> T {
        match self {
            Self::Created(value) | Self::Existing(value) => value,
        }
    }

    pub fn is_created(&self) -> bool {
        matches!(self, Self::Created(_))
    }
}

/// What one payment at the PG did to an order.
#[derive(Debug)]
pub(crate) enum OrderSettled {
    /// Completed: the history recorded and announced by this event.
    Recorded(PaymentHistory, EventId),
    /// Paid with another amount: cancelled at the PG, recorded refunded and
    /// announced; the order refused for `reason`.
    Refused { reason: String, event: EventId },
    /// Completed (or refused) before, as this history.
    Already(PaymentHistory),
    /// Not paid (yet): the PG's word. The order stays pending.
    NotPaid(String),
    /// Not this order's payment.
    OtherOrder,
    /// Paid after the order expired: the order is closed as expired; the
    /// payment is a payment without an order.
    PaidLate,
}

/// What [`PaymentService::settle_pending_orders`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderSettleReport {
    /// Pending orders read at their PG.
    pub checked: usize,
    /// Completed by a payment the PG shows (each announced).
    pub completed: usize,
    /// Paid with another amount: cancelled at the PG and refused.
    pub refused: usize,
    /// Expired with no payment.
    pub expired: usize,
    /// Paid after their expiry: closed as expired, their payments left for
    /// the backend to register or cancel (logged as errors).
    pub paid_late: usize,
    /// Could not be read or recorded (tried again next run).
    pub failed: usize,
}

impl PaymentService {
    /// Registers an order and locks its amount at the PG where the PG offers
    /// it. The same order asked again (same PG, store, amount and currency,
    /// and its password) is answered as it stands.
    ///
    /// # Errors
    /// `InvalidField` (password, `expires_in`, an amount the currency cannot
    /// have); `VendorNotEnabled`; `StoreNotConfigured`; `WebhookUrlRefused`;
    /// `AlreadyRegistered` when a payment is registered for the source or an
    /// order for it has other terms; `WrongPassword` for an order retried
    /// with another password; a PG refusal or failure of the lock (the order
    /// is then not kept).
    pub async fn create_order(&self, input: CreateOrder) -> Result<Answered<PaymentOrder>, AppError> {
        self.check_new_password(&input.password)?;
        self.check_webhook_url(&input.webhook_url).await?;
        let gateway = self.deps.gateways.get(input.vendor_code)?;
        let currency = input.currency.clone().unwrap_or_else(Currency::krw);
        currency.check_amount("price", input.price)?;
        OrderId::parse(input.source.id.as_str())?;
        let now = self.deps.clock.now();
        let expires_at = PaymentOrder::expiry(now, input.expires_in.unwrap_or(PaymentOrder::DEFAULT_LIFETIME))?;
        if let Some(existing) = self.orders().find_order_by_source(input.client, &input.source).await? {
            return self.order_again(gateway, existing, &input, &currency).await;
        }
        if self.histories().find_by_source(input.client, &input.source).await?.is_some() {
            return Err(AppError::AlreadyRegistered {
                param: "source",
                message: "a payment is already registered for this source".into(),
            });
        }
        let password_hash = self.hash(&input.password).await?;
        let mut order = PaymentOrder {
            id: PaymentOrderId::from_uuid(self.deps.ids.new_id()),
            vendor_code: input.vendor_code,
            store_id: input.store_id.clone(),
            source: input.source.clone(),
            currency: currency.clone(),
            price: input.price,
            webhook_url: input.webhook_url.clone(),
            locked: false,
            pg_amount: input.price.to_string(),
            created_at: now,
            expires_at,
            status: OrderStatus::Pending,
            closed_at: None,
            client: input.client,
        };
        match self.orders().insert_order(&order, &password_hash).await {
            Ok(()) => {}
            Err(RepositoryError::Conflict(_)) => {
                // A concurrent request for the same source went first.
                let existing =
                    self.orders().find_order_by_source(input.client, &input.source).await?.ok_or_else(|| {
                        AppError::internal(anyhow::anyhow!("an order conflicted and then could not be found"))
                    })?;
                return self.order_again(gateway, existing, &input, &currency).await;
            }
            Err(other) => return Err(other.into()),
        }
        match self.lock_at_pg(gateway, &mut order).await {
            Ok(()) => Ok(Answered::Created(order)),
            Err(error) => {
                // Its window never opened: nothing can have been paid for it.
                if let Err(stuck) = self.orders().remove_pending_order(order.id).await {
                    tracing::error!(order = %order.id, %stuck, "could not remove an order whose lock failed");
                }
                Err(error)
            }
        }
    }

    /// Locks `order`'s amount at its PG and records what the PG answered
    /// (when it differs from what is recorded: a PG without a lock writes nothing).
    async fn lock_at_pg(&self, gateway: &dyn PaymentGateway, order: &mut PaymentOrder) -> Result<(), AppError> {
        let order_id = OrderId::parse(order.source.id.as_str())?;
        let request = OrderLockRequest { order_id, amount: order.price, currency: order.currency.clone() };
        let lock = gateway.lock_order(&order.store_id, &request).await?;
        let pg_amount = lock.pg_amount.to_string();
        if (lock.locked, &pg_amount) != (order.locked, &order.pg_amount) {
            (order.locked, order.pg_amount) = (lock.locked, pg_amount);
            self.orders().record_lock(order.id, order.locked, &order.pg_amount).await?;
        }
        Ok(())
    }

    /// An order asked for a source that has one: the same order again
    /// (re-locked if its lock is not recorded), or refused (another
    /// client's, other terms, another password).
    async fn order_again(
        &self,
        gateway: &dyn PaymentGateway,
        existing: StoredOrder,
        input: &CreateOrder,
        currency: &Currency,
    ) -> Result<Answered<PaymentOrder>, AppError> {
        let StoredOrder { mut order, password_hash } = existing;
        self.check_password(PasswordRecord::Order(order.id), &input.password, &password_hash).await?;
        if !order.same_terms(input.vendor_code, &input.store_id, input.price, currency) {
            return Err(AppError::AlreadyRegistered {
                param: "source",
                message: format!(
                    "an order for this source exists with other terms ({} {} at {}); an order's amount never changes",
                    order.price, order.currency, order.vendor_code
                ),
            });
        }
        if order.state_at(self.deps.clock.now()) == OrderState::Pending && !order.locked {
            self.lock_at_pg(gateway, &mut order).await?;
        }
        Ok(Answered::Existing(order))
    }

    /// Reads an order of `client` with its password.
    ///
    /// # Errors
    /// `RecordNotFound` (also for another client's); `WrongPassword`;
    /// `RecordLocked` after too many.
    pub async fn get_order(
        &self,
        client: payments_domain::ClientId,
        source: &Source,
        password: &Password,
    ) -> Result<PaymentOrder, AppError> {
        Ok(self.opened_order(client, source, password).await?.order)
    }

    async fn opened_order(
        &self,
        client: payments_domain::ClientId,
        source: &Source,
        password: &Password,
    ) -> Result<StoredOrder, AppError> {
        let found = self.orders().find_order_by_source(client, source).await?;
        let Some(stored) = found else {
            return Err(self.not_found(password, RecordKind::Order).await);
        };
        self.check_password(PasswordRecord::Order(stored.order.id), password, &stored.password_hash).await?;
        Ok(stored)
    }

    /// The PG's payment `uid` (read at `read_at` as `snapshot`) about the
    /// pending order `stored`: completes it when it matches (recorded and
    /// announced in one transaction), cancels it at the PG and refuses the
    /// order when it was paid with another amount, closes the order when it
    /// was paid after its expiry. Safe to run concurrently for one order on
    /// any number of instances: one history, one event.
    pub(crate) async fn settle_order_payment(
        &self,
        stored: &StoredOrder,
        uid: &VendorUid,
        snapshot: PaymentSnapshot,
        read_at: Timestamp,
        trigger: serde_json::Value,
    ) -> Result<OrderSettled, AppError> {
        let order = &stored.order;
        match order.check_payment(&snapshot, read_at) {
            Ok(()) => self.record_order(stored, uid, snapshot, None, trigger).await,
            Err(OrderMiss::NotPaid { status }) => Ok(OrderSettled::NotPaid(status)),
            Err(OrderMiss::OtherOrder) => Ok(OrderSettled::OtherOrder),
            Err(OrderMiss::PaidAfterExpiry { paid_at }) => {
                tracing::error!(
                    order = %order.id, vendor = %order.vendor_code, uid = %uid, %paid_at, expired_at = %order.expires_at,
                    "a payment was made for an order after it expired; it is not recorded: register it or cancel it at the PG"
                );
                self.orders().close_order(order.id, &OrderStatus::Expired, self.deps.clock.now()).await?;
                Ok(OrderSettled::PaidLate)
            }
            Err(OrderMiss::Mismatch { reason }) => {
                let gateway = self.deps.gateways.get(order.vendor_code)?;
                let snapshot = self.cancel_order_mismatch(gateway, order, uid, snapshot, &reason).await?;
                let reason = format!("{reason}; cancelled at the PG");
                self.record_order(stored, uid, snapshot, Some(reason), trigger).await
            }
        }
    }

    /// Records the payment of an order (completed, or refused for
    /// `refusal` and refunded) with its announcement; a concurrent recording
    /// answers its history.
    async fn record_order(
        &self,
        stored: &StoredOrder,
        uid: &VendorUid,
        snapshot: PaymentSnapshot,
        refusal: Option<String>,
        trigger: serde_json::Value,
    ) -> Result<OrderSettled, AppError> {
        let order = &stored.order;
        let now = self.deps.clock.now();
        let identity = HistoryIdentity {
            id: HistoryId::from_uuid(self.deps.ids.new_id()),
            vendor: Vendor { code: order.vendor_code, store_id: order.store_id.clone(), uid: uid.clone() },
            source: order.source.clone(),
            webhook_url: order.webhook_url.clone(),
            created_at: now,
            reservation_id: None,
            client: order.client,
        };
        let history = PaymentHistory::register(identity, snapshot)?;
        let event = WebhookEvent::created(EventId::from_uuid(self.deps.ids.new_id()), history.clone(), trigger, now);
        let closing = match &refusal {
            Some(reason) => OrderClosing::Refused { reason: reason.clone(), at: now },
            None => OrderClosing::Completed { at: now },
        };
        match self.orders().complete_order(order.id, &closing, &history, &stored.password_hash, &event).await {
            Ok(()) => Ok(match refusal {
                Some(reason) => OrderSettled::Refused { reason, event: event.id() },
                None => OrderSettled::Recorded(history, event.id()),
            }),
            Err(RepositoryError::Stale | RepositoryError::Conflict(_)) => {
                self.order_recorded_elsewhere(stored, uid).await.map(OrderSettled::Already)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Another request recorded the order's payment first, or the payment
    /// was registered without the order (its registration came after the
    /// order's expiry): the history it recorded.
    ///
    /// # Errors
    /// `AlreadyRegistered` when another payment holds the order's source or
    /// the payment `uid`; a storage failure.
    pub(crate) async fn order_recorded_elsewhere(
        &self,
        stored: &StoredOrder,
        uid: &VendorUid,
    ) -> Result<PaymentHistory, AppError> {
        let order = &stored.order;
        let current = self.orders().find_order(order.id).await?;
        if let Some(id) = current.as_ref().and_then(|c| c.order.history()) {
            return Ok(self.reload(id).await?.history);
        }
        match self.histories().find_by_vendor(order.vendor_code, uid).await? {
            Some(found) if found.history.source() == &order.source => {
                let completed = OrderStatus::Completed { history: found.history.id() };
                self.orders().close_order(order.id, &completed, self.deps.clock.now()).await?;
                Ok(found.history)
            }
            _ => Err(AppError::AlreadyRegistered {
                param: "source",
                message: "the order's source or its payment is registered as another record".into(),
            }),
        }
    }

    /// Cancels at the PG what is left of a payment made for an order with
    /// another amount (a PG without a lock); its state after the cancel.
    async fn cancel_order_mismatch(
        &self,
        gateway: &dyn PaymentGateway,
        order: &PaymentOrder,
        uid: &VendorUid,
        snapshot: PaymentSnapshot,
        reason: &str,
    ) -> Result<PaymentSnapshot, AppError> {
        if snapshot.paid_at.is_none() {
            // A virtual account not deposited yet: nothing was paid, nothing to refund.
            return Ok(snapshot);
        }
        let why = CancelReason::parse(format!("not the order's amount: {reason}"))?;
        // One key per payment: every attempt of this cancel is one at the PG.
        let key =
            derived_key("order-mismatch-cancel", &[order.vendor_code.as_str(), order.store_id.as_str(), uid.as_str()]);
        let Some(request) = crate::registration::whole_refund(&snapshot, why, key) else { return Ok(snapshot) };
        tracing::warn!(order = %order.id, uid = %uid, reason, "a payment did not match its order; cancelling it at the PG");
        Ok(gateway.cancel_payment(&order.store_id, uid, &request).await?)
    }

    /// A PG notification about payment `uid`, registered nowhere here, that
    /// names `order_id`: completes the pending order waiting for it, if the
    /// payment read from the PG matches one. `None` when no pending order
    /// takes it (the notification is then a payment's not registered yet).
    pub(crate) async fn complete_notified_order(
        &self,
        gateway: &dyn PaymentGateway,
        notice: &PgNotification,
        uid: &VendorUid,
        order_id: &OrderId,
        received_at: Option<Timestamp>,
    ) -> Result<Option<Notified>, AppError> {
        let orders = self.orders().pending_orders_for(notice.vendor, order_id, MAX_ORDERS_PER_ORDER_ID).await?;
        let Some(first) = orders.first() else { return Ok(None) };
        // Bounded like a re-read of a registered payment, per order.
        let key = HistoryId::from_uuid(first.order.id.as_uuid());
        let started = self.deps.clock.now();
        let turn = match received_at {
            None => None,
            Some(received_at) => match self.rereads.admit(notice.vendor, key, received_at, notice.signed, started) {
                Admission::Go => Some(Turn::new(&self.rereads, key, started, self.deps.clock.as_ref())),
                Admission::Answered => return Ok(Some(Notified::Outcome(NotificationOutcome::Unchanged))),
                Admission::Later(wait) => return Ok(Some(Notified::Later(wait))),
            },
        };
        let outcome = self.complete_from_notice(gateway, notice, uid, &orders).await;
        if let Some(turn) = turn {
            turn.finish(outcome.is_ok());
        }
        Ok(outcome?.map(Notified::Outcome))
    }

    async fn complete_from_notice(
        &self,
        gateway: &dyn PaymentGateway,
        notice: &PgNotification,
        uid: &VendorUid,
        orders: &[StoredOrder],
    ) -> Result<Option<NotificationOutcome>, AppError> {
        for stored in orders {
            let read_at = self.deps.clock.now();
            let snapshot = match gateway.fetch_payment(&stored.order.store_id, uid).await {
                Ok(snapshot) => snapshot,
                // Another store's order of the same id.
                Err(GatewayError::NotFound(_)) if orders.len() > 1 => continue,
                Err(error) => return Err(error.into()),
            };
            let trigger = serde_json::json!({ "type": "order_completed", "by": "pg_notification", "notification": notice.payload });
            return Ok(match self.settle_order_payment(stored, uid, snapshot, read_at, trigger).await? {
                OrderSettled::Recorded(_, event) | OrderSettled::Refused { event, .. } => {
                    Some(NotificationOutcome::Changed(event))
                }
                OrderSettled::Already(_) | OrderSettled::NotPaid(_) => Some(NotificationOutcome::Unchanged),
                OrderSettled::OtherOrder => continue,
                OrderSettled::PaidLate => None,
            });
        }
        Ok(None)
    }

    /// The reconciler's part for orders: every pending order is read at its
    /// PG by its order id (at most `limit`, `pace` apart); one the PG shows
    /// paid is completed and announced, one past its expiry with no payment
    /// is closed as expired (its last read is the one just after it expired).
    ///
    /// # Errors
    /// A storage failure; a PG failure counts the order as failed.
    pub async fn settle_pending_orders(&self, limit: usize, pace: Duration) -> Result<OrderSettleReport, AppError> {
        let mut report = OrderSettleReport::default();
        let mut after = None;
        'pages: loop {
            let page = self.orders().pending_orders(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.order.id);
            for stored in page {
                if report.checked >= limit {
                    break 'pages;
                }
                if report.checked > 0 {
                    tokio::time::sleep(pace).await;
                }
                report.checked += 1;
                match self.reconcile_order(&stored).await {
                    Ok(Some(OrderSettled::Recorded(..) | OrderSettled::Already(_))) => report.completed += 1,
                    Ok(Some(OrderSettled::Refused { .. })) => report.refused += 1,
                    Ok(Some(OrderSettled::PaidLate)) => report.paid_late += 1,
                    Ok(Some(_)) | Ok(None) => {
                        if stored.order.state_at(self.deps.clock.now()) == OrderState::Expired
                            && self
                                .orders()
                                .close_order(stored.order.id, &OrderStatus::Expired, self.deps.clock.now())
                                .await?
                        {
                            report.expired += 1;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(order = %stored.order.id, %error, "could not reconcile an order");
                        report.failed += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    /// One pending order read at its PG; `None` when the PG holds no payment of it.
    async fn reconcile_order(&self, stored: &StoredOrder) -> Result<Option<OrderSettled>, AppError> {
        let order = &stored.order;
        let gateway = self.deps.gateways.get(order.vendor_code)?;
        let read_at = self.deps.clock.now();
        let order_id = OrderId::parse(order.source.id.as_str())?;
        let Some(payment) = gateway.find_by_order(&order.store_id, &order_id).await? else { return Ok(None) };
        let trigger = serde_json::json!({
            "type": "order_completed",
            "by": "reconciler",
            "reason": "the PG shows the order paid and no notification of it completed it",
        });
        self.settle_order_payment(stored, &payment.uid, payment.snapshot, read_at, trigger).await.map(Some)
    }
}
