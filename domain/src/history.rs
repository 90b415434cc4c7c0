//! A payment as this server records it, and how a PG's word changes it.

use serde::{Deserialize, Serialize};

use crate::{
    CancelReason, ClientId, Currency, DomainError, HistoryId, Money, OrderId, SavedCardId, Source, Timestamp, Vendor,
    WebhookUrl, text::check_id,
};

/// The PG's own identifier of one cancellation (Iamport `pg_tid`/`cancellation_id`,
/// Toss `transactionKey`), so the same cancel is never recorded twice.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CancelKey(String);

impl CancelKey {
    /// # Errors
    /// [`DomainError::Invalid`] when empty, over 255 characters, holding a
    /// control character, or `.`/`..` (an identifier: see `check_id`).
    pub fn parse(value: impl Into<String>) -> Result<Self, DomainError> {
        let value = value.into();
        check_id("cancels.key", &value, 255)?;
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CancelKey {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<CancelKey> for String {
    fn from(value: CancelKey) -> Self {
        value.0
    }
}

impl std::fmt::Debug for CancelKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CancelKey({})", self.0)
    }
}

/// One (partial or full) cancellation of a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelHistory {
    /// The PG's id of this cancel.
    pub key: CancelKey,
    /// Amount refunded by this cancel, > 0.
    pub price: Money,
    /// Why, as given to the PG (empty reasons from a PG are kept as `-`).
    pub reason: CancelReason,
    /// When the PG cancelled.
    pub created_at: Timestamp,
    /// The PG's own JSON for this cancel, kept whole.
    pub data: serde_json::Value,
}

/// Where a payment stands at its PG, in the domain's terms (each PG adapter
/// maps its own statuses onto these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentPhase {
    /// The money arrived (and may have been partly refunded since).
    Paid,
    /// Nothing is paid yet: a virtual account awaits its deposit (or the bank
    /// reversed the deposit).
    AwaitingDeposit,
    /// The customer authenticated the payment in the PG's window; it is charged
    /// only when the merchant confirms it (Toss `READY`/`IN_PROGRESS`).
    AwaitingConfirmation,
    /// Refunded in whole, or cancelled before anything was paid.
    Cancelled,
    /// Can never be paid: failed, aborted or expired.
    Failed,
}

/// What a PG says about a payment right now: the input to registering a
/// payment and to every later change of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentSnapshot {
    /// Where the payment stands.
    pub phase: PaymentPhase,
    /// The PG's own word for it (`DONE`, `paid`, `EXPIRED`), for messages.
    pub pg_status: String,
    /// The PG's order id of the payment, when it reports one.
    pub order_id: Option<OrderId>,
    pub currency: Currency,
    /// The amount the payment was made (or, for a virtual account, requested) for.
    pub price: Money,
    /// When the money arrived; `None` while a virtual account awaits its deposit.
    pub paid_at: Option<Timestamp>,
    /// When the PG first cancelled, if it says so.
    pub cancelled_at: Option<Timestamp>,
    /// Every cancel the PG completed (money refunded).
    pub cancels: Vec<CancelHistory>,
    /// Cancels the PG accepted but has not completed yet (PortOne
    /// `REQUESTED`, Toss `IN_PROGRESS`): nothing refunded yet.
    #[serde(default)]
    pub pending_cancels: Vec<CancelHistory>,
    /// Cancels the PG says failed (PortOne `FAILED`, Toss `ABORTED`): a
    /// pending one of these is dropped.
    #[serde(default)]
    pub failed_cancels: Vec<CancelKey>,
    /// The PG's JSON for the whole payment, unchanged.
    pub data: serde_json::Value,
}

impl PaymentSnapshot {
    /// What is left to refund according to the PG (`None` when its cancels
    /// overflow or exceed the price: an inconsistent snapshot).
    pub fn remaining(&self) -> Option<Money> {
        Money::sum(self.cancels.iter().map(|c| &c.price)).and_then(|refunded| self.price.checked_sub(refunded))
    }

    /// Refuses a registration whose price is not what the PG charged.
    ///
    /// # Errors
    /// [`DomainError::PriceMismatch`].
    pub fn ensure_price(&self, expected: Money) -> Result<(), DomainError> {
        if self.price == expected { Ok(()) } else { Err(DomainError::PriceMismatch { expected, charged: self.price }) }
    }

    /// Refuses to register a payment that can never be paid or was cancelled
    /// before registration, and one still awaiting the merchant's confirmation
    /// (the use case confirms it first).
    ///
    /// # Errors
    /// [`DomainError::Unpayable`] naming the PG's status.
    pub fn ensure_registrable(&self) -> Result<(), DomainError> {
        match self.phase {
            PaymentPhase::Paid | PaymentPhase::AwaitingDeposit => Ok(()),
            PaymentPhase::AwaitingConfirmation | PaymentPhase::Cancelled | PaymentPhase::Failed => {
                Err(DomainError::Unpayable { status: self.pg_status.clone() })
            }
        }
    }
}

/// The identity of a history: everything that never changes after registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryIdentity {
    pub id: HistoryId,
    pub vendor: Vendor,
    pub source: Source,
    pub webhook_url: WebhookUrl,
    pub created_at: Timestamp,
    /// The saved card this payment was charged from, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<SavedCardId>,
    /// The client it belongs to (the legacy client when made before clients).
    #[serde(default, skip_serializing_if = "ClientId::is_legacy_ref")]
    pub client: ClientId,
}

/// A registered payment. Invariants (checked by every constructor):
/// every cancel is > 0, `refund() == sum(cancels) <= price`, cancels are in
/// time order with distinct keys, and `cancelled_at` is set exactly when there
/// is a cancel or the PG said so, never later than the first cancel. Pending
/// cancels (accepted by the PG, not completed) are > 0, in time order, and
/// share no key with a completed one; they are not part of `refund()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "HistoryParts", into = "HistoryParts")]
pub struct PaymentHistory {
    identity: HistoryIdentity,
    order_id: Option<OrderId>,
    currency: Currency,
    price: Money,
    refund: Money,
    data: serde_json::Value,
    paid_at: Option<Timestamp>,
    cancelled_at: Option<Timestamp>,
    cancels: Vec<CancelHistory>,
    pending: Vec<CancelHistory>,
}

/// The raw fields of a [`PaymentHistory`], for storage adapters to rebuild one
/// with [`PaymentHistory::restore`] (which re-checks every invariant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryParts {
    pub identity: HistoryIdentity,
    /// The PG's order id, as it reported it at registration.
    pub order_id: Option<OrderId>,
    pub currency: Currency,
    pub price: Money,
    pub data: serde_json::Value,
    pub paid_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
    pub cancels: Vec<CancelHistory>,
    /// Cancels the PG accepted and has not completed.
    #[serde(default)]
    pub pending_cancels: Vec<CancelHistory>,
}

/// Result of applying a PG snapshot.
// Returned by value once per change and matched at once; boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The PG says nothing new: no event.
    Unchanged,
    /// The new state; `previous` is what it was.
    Changed(PaymentHistory),
}

impl PaymentHistory {
    /// Registers a payment from what the PG reported.
    ///
    /// # Errors
    /// [`DomainError::InconsistentSnapshot`] when the snapshot breaks an invariant.
    pub fn register(identity: HistoryIdentity, snapshot: PaymentSnapshot) -> Result<Self, DomainError> {
        let cancelled_at = earliest(snapshot.cancelled_at, snapshot.cancels.iter().map(|c| c.created_at).min());
        Self::restore(HistoryParts {
            identity,
            order_id: snapshot.order_id,
            currency: snapshot.currency,
            price: snapshot.price,
            data: snapshot.data,
            paid_at: snapshot.paid_at,
            cancelled_at,
            pending_cancels: sorted(
                snapshot
                    .pending_cancels
                    .into_iter()
                    .filter(|p| !snapshot.cancels.iter().any(|c| c.key == p.key))
                    .collect(),
            ),
            cancels: sorted(snapshot.cancels),
        })
    }

    /// Rebuilds a history from stored parts, checking every invariant.
    ///
    /// # Errors
    /// [`DomainError::InconsistentSnapshot`] naming the broken invariant.
    pub fn restore(parts: HistoryParts) -> Result<Self, DomainError> {
        let HistoryParts {
            identity,
            order_id,
            currency,
            price,
            data,
            paid_at,
            cancelled_at,
            cancels,
            pending_cancels: pending,
        } = parts;
        let inconsistent = |why: String| Err(DomainError::InconsistentSnapshot(why));
        for list in [&cancels, &pending] {
            if let Some(c) = list.iter().find(|c| c.price.is_zero()) {
                return inconsistent(format!("cancel {:?} has a zero amount", c.key));
            }
            if list.windows(2).any(|w| (w[0].created_at, &w[0].key) > (w[1].created_at, &w[1].key)) {
                return inconsistent("cancels are not in time order".into());
            }
        }
        let mut keys: Vec<&CancelKey> = cancels.iter().chain(&pending).map(|c| &c.key).collect();
        keys.sort();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return inconsistent("two cancels share one key".into());
        }
        let Some(refund) = Money::sum(cancels.iter().map(|c| &c.price)) else {
            return inconsistent("refunds overflow".into());
        };
        if refund > price {
            return inconsistent(format!("refund {refund} exceeds the price {price}"));
        }
        let first_cancel = cancels.first().map(|c| c.created_at);
        match (cancelled_at, first_cancel) {
            (None, Some(_)) => return inconsistent("cancelled_at is missing while cancels exist".into()),
            (Some(at), Some(first)) if at > first => {
                return inconsistent("cancelled_at is later than the first cancel".into());
            }
            _ => {}
        }
        Ok(Self { identity, order_id, currency, price, refund, data, paid_at, cancelled_at, cancels, pending })
    }

    pub fn identity(&self) -> &HistoryIdentity {
        &self.identity
    }
    pub fn id(&self) -> HistoryId {
        self.identity.id
    }
    pub fn vendor(&self) -> &Vendor {
        &self.identity.vendor
    }
    pub fn source(&self) -> &Source {
        &self.identity.source
    }
    pub fn webhook_url(&self) -> &WebhookUrl {
        &self.identity.webhook_url
    }
    pub fn created_at(&self) -> Timestamp {
        self.identity.created_at
    }
    /// The PG's order id of the payment, when the PG reported one.
    pub fn order_id(&self) -> Option<&OrderId> {
        self.order_id.as_ref()
    }
    pub fn currency(&self) -> &Currency {
        &self.currency
    }
    pub fn price(&self) -> Money {
        self.price
    }
    /// Sum of every cancel.
    pub fn refund(&self) -> Money {
        self.refund
    }
    /// What is left to refund: `price - refund`.
    pub fn remaining(&self) -> Money {
        self.price.checked_sub(self.refund).unwrap_or(Money::ZERO)
    }
    pub fn data(&self) -> &serde_json::Value {
        &self.data
    }
    pub fn paid_at(&self) -> Option<Timestamp> {
        self.paid_at
    }
    /// The first cancellation time.
    pub fn cancelled_at(&self) -> Option<Timestamp> {
        self.cancelled_at
    }
    /// The cancels the PG completed.
    pub fn cancels(&self) -> &[CancelHistory] {
        &self.cancels
    }
    /// The cancels the PG accepted and has not completed: not refunded yet.
    pub fn pending_cancels(&self) -> &[CancelHistory] {
        &self.pending
    }

    /// Whether a cancel of `amount` may be asked of the PG: no more decimals
    /// than the currency has, > 0 and at most the remaining balance.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] on `price`, [`DomainError::NonPositiveCancel`]
    /// or [`DomainError::CancelExceedsBalance`].
    pub fn check_cancel(&self, amount: Money) -> Result<(), DomainError> {
        self.currency.check_amount("price", amount)?;
        if amount.is_zero() {
            return Err(DomainError::NonPositiveCancel);
        }
        let remaining = self.remaining();
        if amount > remaining {
            return Err(DomainError::CancelExceedsBalance { requested: amount, remaining });
        }
        Ok(())
    }

    /// Applies what the PG says, as it answered a cancel (or any snapshot
    /// whose age is unknown). Cancels already recorded are kept as recorded;
    /// new ones (by key) are added; `cancelled_at` keeps the first
    /// cancellation; `paid_at` is set once the PG reports it and never
    /// cleared: a snapshot without a recorded cancel or without the recorded
    /// payment was read before them, so its JSON does not replace ours.
    ///
    /// # Errors
    /// [`DomainError::InconsistentSnapshot`] when the PG reports another
    /// currency or price, or cancels beyond the price.
    pub fn apply(&self, snapshot: PaymentSnapshot) -> Result<Applied, DomainError> {
        self.apply_snapshot(snapshot, false)
    }

    /// As [`PaymentHistory::apply`], for a snapshot read from the PG after
    /// this history was loaded, so it is never older than it. Such a
    /// snapshot may also say that a virtual account's deposit was reversed by
    /// the bank (paid, no refund, and now unpaid again: awaiting a deposit, or
    /// cancelled without a refund as Toss 1.x reports it): that is recorded as
    /// a change, `paid_at` cleared.
    ///
    /// # Errors
    /// As [`PaymentHistory::apply`].
    pub fn apply_current(&self, snapshot: PaymentSnapshot) -> Result<Applied, DomainError> {
        self.apply_snapshot(snapshot, true)
    }

    fn apply_snapshot(&self, snapshot: PaymentSnapshot, current: bool) -> Result<Applied, DomainError> {
        if snapshot.currency != self.currency {
            return Err(DomainError::InconsistentSnapshot(format!(
                "currency changed from {} to {}",
                self.currency, snapshot.currency
            )));
        }
        if snapshot.price != self.price {
            return Err(DomainError::InconsistentSnapshot(format!(
                "price changed from {} to {}",
                self.price, snapshot.price
            )));
        }
        let lacks_a_cancel = self.cancels.iter().any(|known| !snapshot.cancels.iter().any(|c| c.key == known.key));
        let unpaid_again = self.paid_at.is_some() && snapshot.paid_at.is_none();
        let reversed = current
            && unpaid_again
            && matches!(snapshot.phase, PaymentPhase::AwaitingDeposit | PaymentPhase::Cancelled)
            && self.cancels.is_empty()
            && snapshot.cancels.is_empty();
        // A snapshot that lacks a cancel already recorded was read before that
        // cancel (a late PG notification): its JSON is older than ours, so it
        // must not replace it (nor count as a change of its own). The same holds
        // for a snapshot without the payment (`paid_at`) recorded here, unless
        // it is current and says the deposit was reversed.
        let stale = lacks_a_cancel || (unpaid_again && !reversed);
        let data = if stale { self.data.clone() } else { snapshot.data };
        let mut cancels = self.cancels.clone();
        for cancel in snapshot.cancels {
            if !cancels.iter().any(|known| known.key == cancel.key) {
                cancels.push(cancel);
            }
        }
        let cancels = sorted(cancels);
        // A pending cancel leaves the list once the PG completed it (it is
        // among `cancels` now) or says it failed; one the PG no longer lists
        // stays (the snapshot may be older than it).
        let settled = |key: &CancelKey| cancels.iter().any(|c| &c.key == key) || snapshot.failed_cancels.contains(key);
        let mut pending: Vec<CancelHistory> = self.pending.iter().filter(|p| !settled(&p.key)).cloned().collect();
        for cancel in snapshot.pending_cancels {
            if !settled(&cancel.key) && !pending.iter().any(|known| known.key == cancel.key) {
                pending.push(cancel);
            }
        }
        let first_new = earliest(snapshot.cancelled_at, cancels.first().map(|c| c.created_at));
        let next = Self::restore(HistoryParts {
            identity: self.identity.clone(),
            order_id: self.order_id.clone().or(snapshot.order_id),
            currency: self.currency.clone(),
            price: self.price,
            data,
            paid_at: if reversed { None } else { snapshot.paid_at.or(self.paid_at) },
            cancelled_at: earliest(self.cancelled_at, first_new),
            cancels,
            pending_cancels: sorted(pending),
        })?;
        Ok(if next == *self { Applied::Unchanged } else { Applied::Changed(next) })
    }

    /// The stored fields, for persistence adapters.
    pub fn to_parts(&self) -> HistoryParts {
        HistoryParts::from(self.clone())
    }
}

impl TryFrom<HistoryParts> for PaymentHistory {
    type Error = DomainError;
    fn try_from(parts: HistoryParts) -> Result<Self, Self::Error> {
        Self::restore(parts)
    }
}

impl From<PaymentHistory> for HistoryParts {
    fn from(h: PaymentHistory) -> Self {
        HistoryParts {
            identity: h.identity,
            order_id: h.order_id,
            currency: h.currency,
            price: h.price,
            data: h.data,
            paid_at: h.paid_at,
            cancelled_at: h.cancelled_at,
            cancels: h.cancels,
            pending_cancels: h.pending,
        }
    }
}

fn sorted(mut cancels: Vec<CancelHistory>) -> Vec<CancelHistory> {
    cancels.sort_by(|a, b| (a.created_at, &a.key).cmp(&(b.created_at, &b.key)));
    cancels
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
