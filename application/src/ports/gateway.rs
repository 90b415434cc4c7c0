//! The PG, as the use cases call it: its calls, their requests and answers, and why one failed.

use async_trait::async_trait;
use payments_domain::{
    CancelReason, Currency, Money, OrderId, PaymentSnapshot, SourceId, StoreId, Title, VendorCode, VendorUid,
};

/// Why a PG call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The PG does not know the payment or saved card.
    #[error("not found at the PG: {0}")]
    NotFound(String),
    /// The PG understood and refused (balance exceeded, wrong customer, ...).
    #[error("refused by the PG: {0}")]
    Rejected(String),
    /// The PG refused a cancel because the balance it was told is not the
    /// one it holds (Toss `NOT_MATCHES_REFUNDABLE_AMOUNT`, Iamport's checksum):
    /// another cancel went first. Nothing was refunded.
    #[error("refused by the PG for a stale balance: {0}")]
    BalanceMismatch(String),
    /// The PG refused a request because another one of the same payment came
    /// too shortly before (Toss `FORBIDDEN_CONSECUTIVE_REQUEST`: one cancel of
    /// a payment a second). Nothing was done; sending it a moment later may work.
    #[error("the PG asks to retry a moment later: {0}")]
    TooSoon(String),
    /// No credentials are configured for this store of this vendor.
    #[error("store {store:?} is not configured for {vendor}")]
    UnknownStore { vendor: VendorCode, store: String },
    /// The PG did not answer within the timeout.
    #[error("the PG did not answer in time: {0}")]
    Timeout(String),
    /// The PG could not be reached, answered 5xx, or refused our credentials.
    #[error("the PG failed: {0}")]
    Unavailable(String),
    /// The PG answered something we cannot read.
    #[error("unexpected answer from the PG: {0}")]
    Protocol(String),
    /// A protocol error that asking again does not change: the PG's answer
    /// is past what this server takes for one payment (more cancels than
    /// the PG crates' `payments_pg::MAX_CANCELS`). Answered as `Protocol`
    /// (a bad answer); a PG notification that meets it is refused, not retried for
    /// days; a cancel or charge that meets it stays unknown (the PG may
    /// have moved the money).
    #[error("unexpected answer from the PG: {0}")]
    OutOfBounds(String),
    /// An amount the PG cannot carry exactly in its unit (a fraction of the
    /// currency's minor unit, or a currency without a known one): refused
    /// before anything was sent.
    #[error("{0}")]
    Unrepresentable(String),
}

impl GatewayError {
    /// The PG's documented code of a refusal (see [`documented_code_in`]).
    pub fn documented_code(&self) -> Option<&str> {
        match self {
            GatewayError::NotFound(message)
            | GatewayError::Rejected(message)
            | GatewayError::BalanceMismatch(message)
            | GatewayError::TooSoon(message) => documented_code_in(message),
            _ => None,
        }
    }
}

/// The PG's documented code in the message of a failed call, as the PG
/// clients name one (`Toss POST /v1/payments/confirm answered 400
/// REJECT_CARD_COMPANY`: `payments_pg::failed_call` appends only a code the
/// PG documents); `None` when the PG gave none.
pub fn documented_code_in(message: &str) -> Option<&str> {
    let (_, answered) = message.rsplit_once(" answered ")?;
    let mut words = answered.split_whitespace();
    let status = words.next()?;
    let code = words.next()?;
    let is_code = code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && code.chars().any(|c| c.is_ascii_uppercase());
    (status.chars().all(|c| c.is_ascii_digit()) && is_code && words.next().is_none()).then_some(code)
}

/// The account a virtual-account payment is refunded to. Passed to the PG,
/// and kept only sealed in the cancel's intent (to send it again when its
/// answer was lost). `Debug` hides the account number.
#[derive(Clone, PartialEq, Eq)]
pub struct RefundAccount {
    pub bank: String,
    pub account: String,
    pub holder: String,
    pub mobile: String,
}

impl std::fmt::Debug for RefundAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefundAccount").field("bank", &self.bank).field("account", &"***").finish_non_exhaustive()
    }
}

/// A cancel asked of the PG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    /// Amount to refund, > 0 and at most `remaining`.
    pub amount: Money,
    /// The payment's currency: the PG writes `amount` and `remaining` in its units.
    pub currency: Currency,
    pub reason: CancelReason,
    /// What is left to refund before this cancel (Iamport's `checksum`, Toss's
    /// `refundableAmount`), so the PG refuses a cancel computed on stale data.
    pub remaining: Money,
    /// Required by the PGs for virtual-account payments.
    pub refund_account: Option<RefundAccount>,
    /// Sent as `Idempotency-Key` where the PG takes one (Toss), so a cancel
    /// whose answer was lost is answered again instead of refunded twice.
    pub idempotency_key: Option<String>,
}

/// A card saved at the PG, as it answered. `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct PgCard {
    /// The PG's JSON of the card, kept whole (sealed at rest).
    pub data: serde_json::Value,
    /// The PG's key for charging it (Toss `billingKey`, Iamport `customer_uid`):
    /// a credential.
    pub key: String,
}

impl std::fmt::Debug for PgCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedCard").field("data", &self.data).finish_non_exhaustive()
    }
}

/// The confirmation of a payment the customer authenticated in the PG's
/// window (Toss `POST /v1/payments/confirm`): only then is it charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmRequest {
    /// The order id the PG holds for the payment.
    pub order_id: OrderId,
    /// The amount to charge; the PG refuses another than the authenticated one.
    pub amount: Money,
    pub currency: Currency,
    /// Sent to the PG as `Idempotency-Key`, so a confirmation whose answer was
    /// lost is answered again instead of charged twice. Derived from the
    /// registration: a retried registration sends the same key.
    pub idempotency_key: String,
}

/// A charge of a saved card asked of the PG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// The order id the PG records the payment under: the caller's source id
    /// (Toss `orderId`, Iamport `merchant_uid`), unique per store.
    pub order_id: OrderId,
    pub amount: Money,
    pub currency: Currency,
    /// What the customer sees the payment as (Toss `orderName`, Iamport `name`).
    pub order_name: Title,
    /// The caller's id for the card holder the card was saved for (Toss
    /// `customerKey`): the saved card's source id.
    pub customer: SourceId,
    /// Sent as `Idempotency-Key` where the PG takes one (Toss): the charge
    /// intent's key, the same for every attempt of one charge.
    pub idempotency_key: String,
}

/// A payment the PG made: its uid there and how it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargedPayment {
    pub uid: VendorUid,
    pub snapshot: PaymentSnapshot,
}

/// An amount to lock at the PG before its window opens: the order id the
/// window pays (the caller's `source.id`) and what it must charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLockRequest {
    pub order_id: OrderId,
    pub amount: Money,
    pub currency: Currency,
}

/// What the PG's window needs of an order, as the PG answered its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLock {
    /// Whether the PG holds the amount and its window refuses another
    /// (PortOne V2 pre-register, Iamport prepare); `false` for a PG that
    /// offers no lock (Toss: the amount is checked at confirmation).
    pub locked: bool,
    /// The amount as the PG's window takes it, in the PG's unit (PortOne V2:
    /// minor units; Iamport and Toss: the currency's major unit).
    pub pg_amount: serde_json::Number,
}

/// One PG (Iamport, Toss Payments, ...) as the use cases see it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Reads a payment as the PG sees it now.
    ///
    /// # Errors
    /// [`GatewayError::NotFound`] for an unknown uid; `UnknownStore` for a store
    /// with no credentials; `Timeout`/`Unavailable`/`Protocol` when the PG fails.
    async fn fetch_payment(&self, store: &StoreId, uid: &VendorUid) -> Result<PaymentSnapshot, GatewayError>;

    /// Confirms a payment in [`payments_domain::PaymentPhase::AwaitingConfirmation`]
    /// and returns it as it is afterwards. A payment the PG already confirmed
    /// (a retried confirmation) is read back instead.
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`], plus `Rejected` when the PG
    /// refuses the confirmation (card refused, wrong amount, expired), and
    /// `Protocol` for a PG that has no confirmation step (the default: such a
    /// PG charges in its window, and its snapshots are never awaiting one).
    async fn confirm_payment(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        request: &ConfirmRequest,
    ) -> Result<PaymentSnapshot, GatewayError> {
        let _ = (store, uid, request);
        Err(GatewayError::Protocol("this PG's payments have no confirmation step".to_owned()))
    }

    /// Whether `secret` is the one the PG gave for this payment (`data` is the
    /// PG's JSON of it as last recorded), compared in constant time. PGs whose
    /// notifications carry no secret answer `false` (the default).
    fn notification_secret_matches(&self, data: &serde_json::Value, secret: &str) -> bool {
        let _ = (data, secret);
        false
    }

    /// Locks an order's amount at the PG before the customer's window opens
    /// (PortOne V2 `POST /payments/{paymentId}/pre-register`, Iamport
    /// `POST /payments/prepare`): the window then refuses another amount for
    /// that order id. Locking an order again with the same amount succeeds
    /// (a retried order); with another amount, the PG's lock is moved to it
    /// (the caller holds the one order of this id). The default, for a PG
    /// that offers no lock, locks nothing and writes the amount in the
    /// currency's major unit.
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`], plus `Rejected` when the PG
    /// refuses the lock (the order id is paid already, an invalid amount),
    /// and `Unrepresentable` for an amount the PG cannot carry.
    async fn lock_order(&self, store: &StoreId, request: &OrderLockRequest) -> Result<OrderLock, GatewayError> {
        let _ = store;
        request
            .currency
            .check_amount("price", request.amount)
            .map_err(|e| GatewayError::Unrepresentable(e.to_string()))?;
        Ok(OrderLock { locked: false, pg_amount: request.amount.to_json_number() })
    }

    /// Cancels (part of) a payment and returns the payment as it is afterwards.
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`], plus `Rejected` when the PG refuses
    /// the cancel (balance, missing refund account, ...).
    async fn cancel_payment(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        request: &CancelRequest,
    ) -> Result<PaymentSnapshot, GatewayError>;

    /// Reads a saved card (Iamport customer, Toss billing key; Toss exchanges
    /// the `authKey` of its card-registration window for the billing key
    /// here). `customer` is the caller's id for the card holder (the source id).
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`], plus `Rejected` when the card
    /// belongs to another customer.
    async fn fetch_saved_card(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        customer: &SourceId,
    ) -> Result<PgCard, GatewayError>;

    /// Charges a saved card (Toss `POST /v1/billing/{billingKey}`, Iamport
    /// `POST /subscribe/payments/again`) and returns the payment it made.
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`], plus `Rejected` when the PG or
    /// the card company refused the charge (nothing was charged).
    /// `card` and `card_data` are the saved card's uid (Iamport
    /// `customer_uid`, Toss the window's `authKey`) and its recorded JSON
    /// (Toss keeps the billing key there).
    async fn charge_saved_card(
        &self,
        store: &StoreId,
        card: &VendorUid,
        card_data: &serde_json::Value,
        request: &ChargeRequest,
    ) -> Result<ChargedPayment, GatewayError>;

    /// The payment the PG holds for an order id, if any (Toss
    /// `GET /v1/payments/orders/{orderId}`, Iamport
    /// `GET /payments/find/{merchant_uid}`): what settles a charge whose
    /// answer was lost before anything is sent again.
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`] (an unknown order is `Ok(None)`).
    async fn find_by_order(&self, store: &StoreId, order_id: &OrderId) -> Result<Option<ChargedPayment>, GatewayError>;

    /// Removes a saved card at the PG where its API offers that (Iamport
    /// `DELETE /subscribe/customers/{customer_uid}`; Toss documents none) and
    /// answers the card's JSON to keep, its charging key erased. A card the
    /// PG no longer knows counts as removed.
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`].
    async fn remove_saved_card(
        &self,
        store: &StoreId,
        card: &VendorUid,
        card_data: &serde_json::Value,
    ) -> Result<serde_json::Value, GatewayError>;
}
