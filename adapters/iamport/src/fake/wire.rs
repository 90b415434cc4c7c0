//! The Iamport schemas only the fake serves: payments by method, saved cards,
//! virtual accounts, certifications, receipts, one Rust type per schema of the
//! Iamport API as the original project's SDK speaks it, field names exactly
//! as on the wire. What the client needs too is in the crate's `wire`
//! (re-exported here).
//!
//! No `#[serde(flatten)]`/`untagged` here (see docs/ARCHITECTURE.md): a payment
//! is dispatched on its `pay_method` by [`IamportPayment`]'s own serde impls.

use payments_domain::{Money, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Number, Value};
use std::fmt;

pub use crate::wire::*;

/// Status of a payment (`IIamportPayment.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    /// Waiting for the money (a virtual account not yet paid into).
    Ready,
    Paid,
    Failed,
    /// Cancelled in full.
    Cancelled,
}

impl PaymentStatus {
    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Mobile carrier of a certification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Carrier {
    #[serde(rename = "SKT")]
    Skt,
    #[serde(rename = "KT")]
    Kt,
    #[serde(rename = "LGT")]
    Lgt,
}

/// Who a cash receipt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptType {
    Person,
    Company,
}

/// What a cash receipt's `identifier` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentifierType {
    Phone,
    Person,
    Business,
    Taxcard,
}

/// A unix-seconds number for `at`.
pub fn unix_number(at: Timestamp) -> Number {
    Number::from(at.timestamp())
}

/// `IIamportPaymentCancel`: one (partial) cancellation in a payment's `cancel_history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentCancel {
    pub pg_id: String,
    /// The PG's transaction id of this cancel.
    pub pg_tid: String,
    pub amount: Money,
    pub cancelled_at: Number,
    pub reason: String,
    pub receipt_url: String,
    /// Iamport's own id of the cancel (sent by the real PG, not in the SDK's schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_id: Option<String>,
}

/// The fields every payment has, whatever its `pay_method`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentBase {
    pub pay_method: String,
    pub imp_uid: String,
    pub merchant_uid: String,
    pub name: Option<String>,
    /// What was charged (or, for a virtual account, is awaited).
    pub amount: Money,
    /// Sum of the cancels so far.
    pub cancel_amount: Money,
    pub currency: String,
    pub receipt_url: String,
    pub cash_receipt_issue: bool,
    pub channel: String,
    pub pg_provider: String,
    pub emb_pg_provider: Option<String>,
    pub pg_id: String,
    pub pg_tid: String,
    pub escrow: bool,
    pub buyer_name: Option<String>,
    pub buyer_email: Option<String>,
    pub buyer_tel: Option<String>,
    pub buyer_addr: Option<String>,
    pub buyer_postcode: Option<String>,
    pub customer_uid: Option<String>,
    pub customer_uid_usage: Option<String>,
    pub custom_data: Option<String>,
    pub user_agent: Option<String>,
    pub status: PaymentStatus,
    pub started_at: Number,
    /// 0 until paid.
    pub paid_at: Number,
    pub failed_at: Number,
    /// 0 until cancelled.
    pub cancelled_at: Number,
    pub fail_reason: Option<String>,
    pub cancel_reason: Option<String>,
    pub cancel_history: Vec<PaymentCancel>,
}

/// The card part of `IIamportCardPayment` (`pay_method` `card` or `samsung`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardDetails {
    pub card_code: String,
    pub card_name: String,
    pub card_number: String,
    pub card_quota: i64,
    pub apply_num: String,
}

/// The bank part of `IIamportTransferPayment` (`pay_method` `trans`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferDetails {
    pub bank_code: String,
    pub bank_name: String,
}

/// The virtual-account part of `IIamportVBankPayment` (`pay_method` `vbank`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VBankDetails {
    pub vbank_code: String,
    pub vbank_name: String,
    pub vbank_num: String,
    pub vbank_holder: String,
    /// Deadline of the deposit, unix seconds.
    pub vbank_date: Number,
    pub vbank_issued_at: Number,
}

/// `IIamportPayment`: a payment of any `pay_method`.
///
/// Serialises to one flat JSON object (the method's fields beside the common
/// ones) and is read back by dispatching on `pay_method`: `card`/`samsung`,
/// `trans`, `vbank`, anything else (`phone`, `kakaopay`, ...) as [`IamportPayment::Other`].
#[derive(Debug, Clone, PartialEq)]
pub enum IamportPayment {
    /// `IIamportCardPayment`.
    Card { card: CardDetails, base: PaymentBase },
    /// `IIamportTransferPayment`.
    Transfer { bank: TransferDetails, base: PaymentBase },
    /// `IIamportVBankPayment`.
    VBank { vbank: VBankDetails, base: PaymentBase },
    /// `IIamportPayment.IBase...` (phone, kpay, kakaopay, payco, lpay, ssgpay, tosspay, ...).
    Other(PaymentBase),
}

impl IamportPayment {
    pub fn base(&self) -> &PaymentBase {
        match self {
            Self::Card { base, .. } | Self::Transfer { base, .. } | Self::VBank { base, .. } | Self::Other(base) => {
                base
            }
        }
    }

    pub fn base_mut(&mut self) -> &mut PaymentBase {
        match self {
            Self::Card { base, .. } | Self::Transfer { base, .. } | Self::VBank { base, .. } | Self::Other(base) => {
                base
            }
        }
    }

    /// Parses a payment from the PG's JSON.
    ///
    /// # Errors
    /// When a field is missing or of the wrong type for its `pay_method`.
    pub fn from_value(value: Value) -> Result<Self, serde_json::Error> {
        let base: PaymentBase = serde_json::from_value(value.clone())?;
        Ok(match base.pay_method.as_str() {
            "card" | "samsung" => Self::Card { card: serde_json::from_value(value)?, base },
            "trans" => Self::Transfer { bank: serde_json::from_value(value)?, base },
            "vbank" => Self::VBank { vbank: serde_json::from_value(value)?, base },
            _ => Self::Other(base),
        })
    }

    /// The payment as one flat JSON object.
    ///
    /// # Errors
    /// Never in practice (every field serialises); kept fallible to avoid a panic path.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        let mut object = to_object(self.base())?;
        let extra = match self {
            Self::Card { card, .. } => to_object(card)?,
            Self::Transfer { bank, .. } => to_object(bank)?,
            Self::VBank { vbank, .. } => to_object(vbank)?,
            Self::Other(_) => serde_json::Map::new(),
        };
        object.extend(extra);
        Ok(Value::Object(object))
    }
}

fn to_object<T: Serialize>(value: &T) -> Result<serde_json::Map<String, Value>, serde_json::Error> {
    match serde_json::to_value(value)? {
        Value::Object(map) => Ok(map),
        _ => Err(serde::ser::Error::custom("expected a JSON object")),
    }
}

impl Serialize for IamportPayment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().map_err(serde::ser::Error::custom)?.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for IamportPayment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_value(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// `IIamportPayment.IQuery`: the query of `GET /payments/{imp_uid}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentQuery {
    /// `true` for PayPal payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<bool>,
}

/// `IIamportVBankPayment.ICreate`: the body of `POST /vbanks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VBankCreate {
    pub merchant_uid: String,
    pub amount: Money,
    pub vbank_code: String,
    /// Deadline of the deposit, unix seconds.
    pub vbank_due: Number,
    pub vbank_holder: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_tel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_postcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_api_key: Option<String>,
}

/// `IIamportVBankPayment.IUpdate`: the body of `PUT /vbanks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VBankUpdate {
    pub imp_uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vbank_due: Option<Number>,
}

/// `IIamportSubscription`: a card saved under a `customer_uid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IamportSubscription {
    pub pg_provider: String,
    pub pg_id: String,
    pub card_name: String,
    pub card_code: String,
    /// Masked.
    pub card_number: String,
    pub card_type: String,
    pub customer_name: Option<String>,
    pub customer_tel: Option<String>,
    pub customer_email: Option<String>,
    pub customer_addr: Option<String>,
    pub customer_postcode: Option<String>,
    pub inserted: Number,
    pub updated: Number,
    pub customer_uid: String,
}

/// The card fields shared by [`SubscriptionCreate`] and [`SubscriptionOnetime`].
/// `Debug` hides the card.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardInput {
    /// `dddd-dddd-dddd-dddd`.
    pub card_number: String,
    /// `YYYY-MM`.
    pub expiry: String,
    /// `YYMMDD`, or a 10-digit business number.
    pub birth: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pwd_2digit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvc: Option<String>,
}

impl fmt::Debug for CardInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardInput").finish_non_exhaustive()
    }
}

/// `IIamportSubscription.ICreate`: the body of `POST /subscribe/customers/{customer_uid}`.
///
/// The swagger spells the address field `customr_addr`; `customer_addr` is read too.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionCreate {
    pub card_number: String,
    pub expiry: String,
    pub birth: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pwd_2digit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_tel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    #[serde(default, rename = "customr_addr", alias = "customer_addr", skip_serializing_if = "Option::is_none")]
    pub customer_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_postcode: Option<String>,
    /// The path parameter wins; the real API does not need it in the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_uid: Option<String>,
}

impl fmt::Debug for SubscriptionCreate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionCreate").field("customer_uid", &self.customer_uid).finish_non_exhaustive()
    }
}

/// `IIamportSubscription.IOnetime`: the body of `POST /subscribe/payments/onetime`
/// (a card payment; with `customer_uid` the card is saved too).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionOnetime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_uid: Option<String>,
    pub card_number: String,
    pub expiry: String,
    pub birth: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pwd_2digit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_tel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    #[serde(default, rename = "customr_addr", alias = "customer_addr", skip_serializing_if = "Option::is_none")]
    pub customer_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_postcode: Option<String>,
    pub name: String,
    pub merchant_uid: String,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<IamportCurrency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_free: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_quota: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_tel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_postcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest_free_by_merchant: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_card_point: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_url: Option<String>,
}

impl fmt::Debug for SubscriptionOnetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionOnetime")
            .field("merchant_uid", &self.merchant_uid)
            .field("amount", &self.amount)
            .field("customer_uid", &self.customer_uid)
            .finish_non_exhaustive()
    }
}

/// `IIamportCertification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IamportCertification {
    pub imp_uid: String,
    pub merchant_uid: Option<String>,
    pub name: String,
    /// `male` or `female`.
    pub gender: String,
    /// Date of birth, unix seconds.
    pub birth: i64,
    /// `YYYYMMDD`.
    pub birthday: String,
    pub foreigner: bool,
    pub phone: String,
    pub carrier: Carrier,
    /// `true` once the OTP was confirmed.
    pub certified: bool,
    pub certified_at: Number,
    pub unique_key: String,
    pub unique_in_site: String,
    pub pg_tid: String,
    pub pg_provider: String,
    pub origin: String,
    /// The OTP sent to the phone: only the fake tells it, so tests can confirm.
    #[serde(rename = "__otp", default, skip_serializing_if = "Option::is_none")]
    pub otp: Option<String>,
}

/// `IIamportCertification.IAccessor`: the answer to an OTP request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificationAccessor {
    pub imp_uid: String,
}

/// `IIamportCertification.ICreate`: the body of `POST /certifications/otp/request`.
///
/// The swagger spells the MVNO company field `commpany`; `company` is read too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificationCreate {
    pub name: String,
    pub phone: String,
    /// `YYYYMMDD`.
    pub birth: String,
    /// The first digit of the back half of the resident number (1-8).
    pub gender_digit: String,
    pub carrier: Carrier,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_mvno: Option<bool>,
    #[serde(default, rename = "commpany", alias = "company", skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg: Option<String>,
}

/// `IIamportCertification.IConfirm`: the body of `POST /certifications/otp/confirm/{imp_uid}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificationConfirm {
    pub otp: String,
}

/// `IIamportReceipt`: a cash receipt issued for a payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IamportReceipt {
    pub imp_uid: String,
    pub receipt_uid: String,
    pub apply_num: String,
    #[serde(rename = "type")]
    pub kind: ReceiptType,
    pub amount: Money,
    pub vat: Money,
    pub receipt_url: String,
    pub applied_at: Number,
    /// 0 while valid.
    pub cancelled_at: Number,
}

/// `IIamportReceipt.ICreate`: the body of `POST /receipts/{imp_uid}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptCreate {
    /// The path parameter wins; the real API does not need it in the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imp_uid: Option<String>,
    pub identifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier_type: Option<IdentifierType>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ReceiptType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_tel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_free: Option<Money>,
}

/// Parses JSON bytes into `T` (a small helper shared by the client and the fake).
///
/// # Errors
/// serde's message, naming the field and position.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn card_payment() -> Value {
        json!({
            "pay_method": "card", "imp_uid": "imp_1", "merchant_uid": "m1", "name": null,
            "amount": 19900.50, "cancel_amount": 0, "currency": "KRW", "receipt_url": "https://r/1",
            "cash_receipt_issue": false, "channel": "pc", "pg_provider": "nice", "emb_pg_provider": null,
            "pg_id": "p", "pg_tid": "t", "escrow": false, "buyer_name": null, "buyer_email": null,
            "buyer_tel": null, "buyer_addr": null, "buyer_postcode": null, "customer_uid": null,
            "customer_uid_usage": null, "custom_data": null, "user_agent": null, "status": "paid",
            "started_at": 1700000000, "paid_at": 1700000001.25, "failed_at": 0, "cancelled_at": 0,
            "fail_reason": null, "cancel_reason": null, "cancel_history": [],
            "card_code": "361", "card_name": "BC", "card_number": "1234-5678-1234-5678",
            "card_quota": 0, "apply_num": "1"
        })
    }

    #[test]
    fn a_card_payment_round_trips_with_exact_amounts() {
        let value = card_payment();
        let payment = IamportPayment::from_value(value.clone()).unwrap();
        assert!(matches!(payment, IamportPayment::Card { .. }));
        assert_eq!(payment.base().amount.to_string(), "19900.5");
        let back = payment.to_value().unwrap();
        assert_eq!(back["card_quota"], value["card_quota"]);
        assert_eq!(back["paid_at"], value["paid_at"]);
        assert_eq!(back.as_object().unwrap().len(), value.as_object().unwrap().len());
        let text = serde_json::to_string(&payment).unwrap();
        let again: IamportPayment = serde_json::from_str(&text).unwrap();
        assert_eq!(again, payment);
    }

    #[test]
    fn an_unknown_pay_method_is_other_and_a_vbank_needs_its_fields() {
        let mut value = card_payment();
        value["pay_method"] = json!("kakaopay");
        assert!(matches!(IamportPayment::from_value(value.clone()).unwrap(), IamportPayment::Other(_)));
        value["pay_method"] = json!("vbank");
        let error = IamportPayment::from_value(value).unwrap_err().to_string();
        assert!(error.contains("vbank_code"), "{error}");
    }
}
