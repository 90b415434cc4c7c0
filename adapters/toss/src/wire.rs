//! Toss Payments wire types, named as in the swagger (`camelCase`).
//!
//! Amounts are `serde_json::Number` (the workspace keeps a number's exact
//! text), timestamps are the strings Toss sent (ISO 8601 with an offset), so a
//! payment parsed into these types serialises back to the same JSON. Fields
//! Toss adds beyond the swagger land in each object's `extra` map and are kept
//! too.
//!
//! A payment's shape depends on its `method`; [`TossPayment`] dispatches on
//! it from a parsed `serde_json::Value` (never an untagged enum, see
//! docs/ARCHITECTURE.md "Money on the wire").

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

use payments_domain::{DomainError, Money, Timestamp, to_millis};

/// Extra JSON members beyond the swagger's, kept so nothing is lost.
pub type Extra = Map<String, Value>;

// ---------------------------------------------------------------------------
// Statuses
// ---------------------------------------------------------------------------

/// `ITossPayment.status`. Unknown statuses are kept as [`TossPaymentStatus::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum TossPaymentStatus {
    Ready,
    InProgress,
    WaitingForDeposit,
    Done,
    Canceled,
    PartialCanceled,
    Aborted,
    Expired,
    /// A status this crate does not know, as Toss spelled it.
    Other(String),
}

impl TossPaymentStatus {
    /// The wire spelling (`DONE`, `WAITING_FOR_DEPOSIT`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ready => "READY",
            Self::InProgress => "IN_PROGRESS",
            Self::WaitingForDeposit => "WAITING_FOR_DEPOSIT",
            Self::Done => "DONE",
            Self::Canceled => "CANCELED",
            Self::PartialCanceled => "PARTIAL_CANCELED",
            Self::Aborted => "ABORTED",
            Self::Expired => "EXPIRED",
            Self::Other(other) => other,
        }
    }

    /// Whether the money has arrived (possibly refunded since): `DONE`,
    /// `PARTIAL_CANCELED` or `CANCELED`.
    pub fn is_paid(&self) -> bool {
        matches!(self, Self::Done | Self::PartialCanceled | Self::Canceled)
    }
}

impl From<String> for TossPaymentStatus {
    fn from(value: String) -> Self {
        match value.as_str() {
            "READY" => Self::Ready,
            "IN_PROGRESS" => Self::InProgress,
            "WAITING_FOR_DEPOSIT" => Self::WaitingForDeposit,
            "DONE" => Self::Done,
            "CANCELED" => Self::Canceled,
            "PARTIAL_CANCELED" => Self::PartialCanceled,
            "ABORTED" => Self::Aborted,
            "EXPIRED" => Self::Expired,
            _ => Self::Other(value),
        }
    }
}

impl From<TossPaymentStatus> for String {
    fn from(value: TossPaymentStatus) -> Self {
        match value {
            TossPaymentStatus::Other(other) => other,
            known => known.as_str().to_owned(),
        }
    }
}

impl std::fmt::Display for TossPaymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `method` of a card payment (`ITossCardPayment.method`).
pub const METHOD_CARD: &str = "카드";
/// `method` of a virtual-account payment.
pub const METHOD_VIRTUAL_ACCOUNT: &str = "가상계좌";
/// `method` of a bank-transfer payment.
pub const METHOD_TRANSFER: &str = "계좌이체";
/// `method` of a mobile-phone payment.
pub const METHOD_MOBILE_PHONE: &str = "휴대폰";
/// `method` of a gift-certificate payment.
pub const METHOD_GIFT_CERTIFICATE: &str = "상품권";

// ---------------------------------------------------------------------------
// Payments
// ---------------------------------------------------------------------------

/// The members every payment has, whatever its method (`ITossPayment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossPaymentCommon {
    /// `카드`, `가상계좌`, `계좌이체`, `휴대폰`, `상품권`.
    pub method: String,
    /// `NORMAL` or (cards) `BILLING`.
    #[serde(rename = "type")]
    pub kind: String,
    pub status: TossPaymentStatus,
    pub m_id: String,
    pub version: String,
    pub payment_key: String,
    pub order_id: String,
    /// In the swagger; the real API names the latest one `lastTransactionKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_key: Option<String>,
    pub order_name: String,
    pub currency: String,
    pub total_amount: Number,
    pub balance_amount: Number,
    pub supplied_amount: Number,
    pub tax_free_amount: Number,
    pub vat: Number,
    pub use_escrow: bool,
    pub culture_expense: bool,
    pub requested_at: String,
    pub approved_at: Option<String>,
    pub cancels: Option<Vec<TossPaymentCancel>>,
    pub cash_receipt: Option<TossCashReceiptSummary>,
    /// Members beyond the swagger's.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ITossCardPayment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossCardPayment {
    pub card: TossCard,
    pub discount: Option<TossCardDiscount>,
    /// Swagger: `토스결제`, `페이코`, `삼성페이` or null; the real API sends
    /// `{provider, amount, discountAmount}`. Kept as it came.
    pub easy_pay: Option<Value>,
    #[serde(flatten)]
    pub common: TossPaymentCommon,
}

/// `ITossCardPayment.ICard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossCard {
    pub company: String,
    pub number: String,
    pub installment_plan_months: Number,
    pub is_interest_free: bool,
    pub approve_no: String,
    pub use_card_point: bool,
    /// `신용`, `체크`, `기프트`.
    pub card_type: String,
    /// `개인`, `법인`.
    pub owner_type: String,
    /// `READY`, `CANCELED`, `REQUESTED`, `COMPLETED`, `CANCEL_REQUESTED`.
    pub acquire_status: String,
    pub receipt_url: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ITossCardPayment.IDiscount`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TossCardDiscount {
    pub amount: Number,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ITossVirtualAccountPayment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossVirtualAccountPayment {
    /// Shared secret Toss repeats in deposit callbacks for this payment.
    pub secret: String,
    pub virtual_account: TossVirtualAccount,
    #[serde(flatten)]
    pub common: TossPaymentCommon,
}

/// `ITossVirtualAccountPayment.IVirtualAccount`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossVirtualAccount {
    pub account_number: String,
    /// `일반` or `고정`.
    pub account_type: String,
    pub bank: String,
    pub customer_name: String,
    /// `YYYY-MM-DD` (the real API sends a date-time).
    pub due_date: String,
    pub expired: bool,
    /// `COMPLETED` or `INCOMPLETED`.
    pub settlement_status: String,
    /// `COMPLETED`, `NONE`, `FAILED`, `PENDING`, `PARTIAL_FAILED`.
    pub refund_status: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ITossTransferPayment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TossTransferPayment {
    pub transfer: TossTransfer,
    #[serde(flatten)]
    pub common: TossPaymentCommon,
}

/// `ITossTransferPayment.ITransfer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossTransfer {
    pub bank: String,
    pub settlement_status: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ITossMobilePhonePayment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossMobilePhonePayment {
    pub mobile_phone: TossMobilePhone,
    #[serde(flatten)]
    pub common: TossPaymentCommon,
}

/// `ITossMobilePhonePayment.IMobilePhone`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossMobilePhone {
    pub carrier: String,
    pub customer_mobile_phone: String,
    pub settlement_status: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ITossGiftCertificatePayment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossGiftCertificatePayment {
    pub gift_certificate: TossGiftCertificate,
    #[serde(flatten)]
    pub common: TossPaymentCommon,
}

/// `ITossGiftCertificatePayment.IGiftCertificate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossGiftCertificate {
    pub approve_no: String,
    /// `COMPLETE` or `INCOMPLETE`.
    pub settlement_status: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A payment of any method (`ITossPayment`), chosen by its `method` member.
#[derive(Debug, Clone, PartialEq)]
pub enum TossPayment {
    Card(TossCardPayment),
    VirtualAccount(TossVirtualAccountPayment),
    Transfer(TossTransferPayment),
    MobilePhone(TossMobilePhonePayment),
    GiftCertificate(TossGiftCertificatePayment),
    /// A method the swagger does not describe (the real API's `간편결제`,
    /// `문화상품권`, ...): its method-specific members are in `extra`.
    Other(TossPaymentCommon),
}

impl TossPayment {
    /// Parses a payment, choosing the shape by `method`.
    ///
    /// # Errors
    /// When `value` is not an object, has no string `method`, or does not fit
    /// the shape of its method.
    pub fn from_value(value: Value) -> Result<Self, serde_json::Error> {
        let method = match value.get("method") {
            Some(Value::String(method)) => method.clone(),
            _ => return Err(serde::de::Error::custom("a Toss payment needs a string `method`")),
        };
        Ok(match method.as_str() {
            METHOD_CARD => Self::Card(serde_json::from_value(value)?),
            METHOD_VIRTUAL_ACCOUNT => Self::VirtualAccount(serde_json::from_value(value)?),
            METHOD_TRANSFER => Self::Transfer(serde_json::from_value(value)?),
            METHOD_MOBILE_PHONE => Self::MobilePhone(serde_json::from_value(value)?),
            METHOD_GIFT_CERTIFICATE => Self::GiftCertificate(serde_json::from_value(value)?),
            _ => Self::Other(serde_json::from_value(value)?),
        })
    }

    /// The JSON of this payment.
    ///
    /// # Errors
    /// Only if serialisation fails (it does not for these types).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }

    /// The members every method has.
    pub fn common(&self) -> &TossPaymentCommon {
        match self {
            Self::Card(p) => &p.common,
            Self::VirtualAccount(p) => &p.common,
            Self::Transfer(p) => &p.common,
            Self::MobilePhone(p) => &p.common,
            Self::GiftCertificate(p) => &p.common,
            Self::Other(common) => common,
        }
    }

    /// The members every method has, to change.
    pub fn common_mut(&mut self) -> &mut TossPaymentCommon {
        match self {
            Self::Card(p) => &mut p.common,
            Self::VirtualAccount(p) => &mut p.common,
            Self::Transfer(p) => &mut p.common,
            Self::MobilePhone(p) => &mut p.common,
            Self::GiftCertificate(p) => &mut p.common,
            Self::Other(common) => common,
        }
    }

    pub fn payment_key(&self) -> &str {
        &self.common().payment_key
    }

    pub fn status(&self) -> &TossPaymentStatus {
        &self.common().status
    }
}

impl Serialize for TossPayment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Card(p) => p.serialize(serializer),
            Self::VirtualAccount(p) => p.serialize(serializer),
            Self::Transfer(p) => p.serialize(serializer),
            Self::MobilePhone(p) => p.serialize(serializer),
            Self::GiftCertificate(p) => p.serialize(serializer),
            Self::Other(p) => p.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for TossPayment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}

/// `ITossPaymentCancel`: one cancellation inside a payment's `cancels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossPaymentCancel {
    pub cancel_amount: Number,
    pub cancel_reason: String,
    pub tax_free_amount: Number,
    /// In the swagger; absent from some real answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_amount: Option<Number>,
    /// What is left to refund after this cancel.
    pub refundable_amount: Number,
    pub canceled_at: String,
    /// The id of this cancel (the real API and the fake send it; the swagger omits it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_key: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ITossCashReceipt.ISummary`: the receipt inside a payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossCashReceiptSummary {
    /// `소득공제` or `지출증빙`.
    #[serde(rename = "type")]
    pub kind: String,
    pub amount: Number,
    pub tax_free_amount: Number,
    pub issue_number: String,
    pub receipt_url: String,
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------
// Requests about payments
// ---------------------------------------------------------------------------

/// The `vbv` (3-D Secure) member of card requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TossVbv {
    pub cavv: String,
    pub xid: String,
    pub eci: String,
}

/// `ITossCardPayment.ICreate`: body of `POST /v1/payments/key-in`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossCardPaymentCreate {
    /// Always `card`.
    pub method: String,
    pub card_number: String,
    pub card_expiration_year: String,
    pub card_expiration_month: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_installment_plan: Option<Number>,
    pub amount: Number,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_free_amount: Option<Number>,
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_birthday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vbv: Option<TossVbv>,
    /// Fake server only: `false` leaves the payment `IN_PROGRESS` until approved.
    #[serde(rename = "__approved", default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<bool>,
    /// Fake server only: the currency Toss's window took the card payment
    /// in (its multi-currency card payments, USD or JPY, confirmed like
    /// any other); KRW when absent.
    #[serde(rename = "__currency", default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// `ITossVirtualAccountPayment.ICreate`: body of `POST /v1/virtual-accounts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossVirtualAccountPaymentCreate {
    /// Always `virtual-account`.
    pub method: String,
    pub order_id: String,
    pub order_name: String,
    pub bank: String,
    pub customer_name: String,
    pub amount: Number,
    /// Fake server only: `false` marks the payment as still to be approved.
    #[serde(rename = "__approved", default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<bool>,
}

/// `ITossPayment.IApproval`: body of `POST /v1/payments/{paymentKey}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossPaymentApproval {
    /// Only in the body of the real API's `POST /v1/payments/confirm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_key: Option<String>,
    pub order_id: String,
    pub amount: Number,
}

/// `refundReceiveAccount` of a cancel: where a virtual-account refund goes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossRefundReceiveAccount {
    pub bank: String,
    pub account_number: String,
    pub holder_name: String,
}

impl std::fmt::Debug for TossRefundReceiveAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TossRefundReceiveAccount").field("bank", &self.bank).finish_non_exhaustive()
    }
}

/// `ITossPaymentCancel.ICreate`: body of `POST /v1/payments/{paymentKey}/cancel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossPaymentCancelCreate {
    /// Required by the swagger, unknown to the real API; the path names the payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_key: Option<String>,
    pub cancel_reason: String,
    /// Absent: cancel the whole balance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_amount: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_receive_account: Option<TossRefundReceiveAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_amount: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_free_amount: Option<Number>,
    /// The balance the caller believes is left; refused when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refundable_amount: Option<Number>,
}

// ---------------------------------------------------------------------------
// Billing (saved cards)
// ---------------------------------------------------------------------------

/// `ITossBilling`: a saved card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossBilling {
    pub m_id: String,
    pub billing_key: String,
    /// Always `카드`.
    pub method: String,
    pub card_company: String,
    pub card_number: String,
    pub authenticated_at: String,
    pub customer_key: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ITossBilling.ICreate`: body of `POST /v1/billing/authorizations/card`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossBillingCreate {
    pub card_number: String,
    pub card_expiration_year: String,
    pub card_expiration_month: String,
    pub card_password: String,
    pub customer_birthday: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vbv: Option<TossVbv>,
    pub customer_key: String,
}

/// Body of `POST /v1/billing/authorizations/issue` (API 2022-11-16): the
/// `authKey` the card-registration window gave, for the customer it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossBillingIssue {
    pub auth_key: String,
    pub customer_key: String,
}

/// `ITossBilling.ICustomerKey`: body of `POST /v1/billing/authorizations/{billingKey}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossBillingCustomerKey {
    pub customer_key: String,
}

/// `ITossBilling.IPaymentStore`: body of `POST /v1/billing/{billingKey}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossBillingPayment {
    /// `billing` in the swagger; the real API does not send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// In the swagger; the real API has it in the path only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_key: Option<String>,
    pub order_id: String,
    pub amount: Number,
    pub customer_key: String,
    /// The real API's order name (optional here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_name: Option<String>,
}

// ---------------------------------------------------------------------------
// Cash receipts
// ---------------------------------------------------------------------------

/// `ITossCashReceipt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossCashReceipt {
    pub receipt_key: String,
    /// `소득공제` or `지출증빙`.
    #[serde(rename = "type")]
    pub kind: String,
    pub order_id: String,
    pub order_name: String,
    pub approval_number: String,
    pub approved_at: String,
    pub canceled_at: Option<String>,
    pub receipt_url: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ITossCashReceipt.ICreate`: body of `POST /v1/cash-receipts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossCashReceiptCreate {
    #[serde(rename = "type")]
    pub kind: String,
    pub payment_key: String,
    pub order_id: String,
    pub order_name: String,
    pub registration_number: String,
    pub amount: Number,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_free_amount: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_number: Option<String>,
}

/// `ITossCashReceipt.ICancel`: body of `POST /v1/cash-receipts/{receiptKey}/cancel`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TossCashReceiptCancel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Number>,
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Toss's error body, `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TossError {
    pub code: String,
    pub message: String,
}

// ---------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------

/// A wire amount as exact [`Money`].
///
/// # Errors
/// [`DomainError::Invalid`] naming `field` when the number is negative, has
/// more than four decimals or is too large.
pub fn money(field: &'static str, number: &Number) -> Result<Money, DomainError> {
    Money::parse_for(field, &number.to_string())
}

/// A Toss timestamp (`2022-01-01T09:00:00+09:00`) as UTC at millisecond precision.
///
/// # Errors
/// [`DomainError::Invalid`] naming `field` when it is not RFC 3339 with an offset.
pub fn timestamp(field: &'static str, text: &str) -> Result<Timestamp, DomainError> {
    chrono::DateTime::parse_from_rfc3339(text).map(|at| to_millis(at.with_timezone(&chrono::Utc))).map_err(|e| {
        DomainError::Invalid { field, reason: format!("{text:?} is not an ISO 8601 time with an offset: {e}") }
    })
}
