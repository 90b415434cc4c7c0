//! The Iamport wire format the client speaks: the answer envelope, the token
//! exchange, a cancel, a charge of a saved card and the webhook, field names
//! exactly as on the wire (the original project's SDK `iamport-server-api`).
//! The schemas only the fake serves (payments, saved cards, virtual accounts,
//! certifications, receipts) are in `fake/wire.rs`; the client reads a payment
//! leniently as JSON (`snapshot_from_payment`).
//!
//! Amounts are [`Money`] (exact decimal text, never `f64`); timestamps, which
//! Iamport sends as unix seconds (sometimes with a fraction), are kept as
//! [`serde_json::Number`] and read with [`unix_time`].

use chrono::{DateTime, Utc};
use payments_domain::{Money, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use std::fmt;

/// Every Iamport answer: `{code, message, response}`; `code` 0 is success.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IamportResponse<T> {
    /// 0 on success; anything else is a refusal explained by `message`.
    pub code: i64,
    /// Why it failed (the fake writes `"success"` on success; the real PG may send `null`).
    #[serde(default)]
    pub message: Option<String>,
    /// The payload; `null` on failure.
    #[serde(default = "none")]
    pub response: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> IamportResponse<T> {
    /// A success envelope around `response`.
    pub fn success(response: T) -> Self {
        Self { code: 0, message: Some("success".to_owned()), response: Some(response) }
    }

    /// A failure envelope (`response: null`).
    pub fn failure(code: i64, message: impl Into<String>) -> Self {
        Self { code, message: Some(message.into()), response: None }
    }
}

/// Reads an Iamport unix-seconds number (integer or fractional); 0 or less means "never".
pub fn unix_time(number: &Number) -> Option<Timestamp> {
    if let Some(seconds) = number.as_i64() {
        return (seconds > 0).then(|| DateTime::<Utc>::from_timestamp(seconds, 0)).flatten();
    }
    let seconds = number.as_f64()?;
    if !seconds.is_finite() || seconds <= 0.0 {
        return None;
    }
    // Time, not money: milliseconds are all the precision a timestamp needs.
    let millis = (seconds * 1000.0).round();
    if millis > i64::MAX as f64 {
        return None;
    }
    DateTime::<Utc>::from_timestamp_millis(millis as i64)
}

/// `IIamportUser.IAccessor`: the body of `POST /users/getToken`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAccessor {
    pub imp_key: String,
    pub imp_secret: String,
}

impl fmt::Debug for UserAccessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserAccessor").field("imp_key", &self.imp_key).field("imp_secret", &"***").finish()
    }
}

/// `IIamportUser`: an access token and when it expires.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct IamportUser {
    /// The PG's clock, unix seconds.
    pub now: Number,
    /// When the token stops working, unix seconds.
    pub expired_at: Number,
    pub access_token: String,
}

impl fmt::Debug for IamportUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamportUser")
            .field("now", &self.now)
            .field("expired_at", &self.expired_at)
            .field("access_token", &"***")
            .finish()
    }
}

/// `IIamportPaymentCancel.ICreate`: the body of `POST /payments/cancel`.
///
/// The real PG needs one of `imp_uid`/`merchant_uid`; `amount` absent (or 0)
/// cancels what is left; `checksum` is the balance the caller believes is left.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentCancelCreate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imp_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    #[serde(default)]
    pub checksum: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_free: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_holder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_bank: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_tel: Option<String>,
}

impl fmt::Debug for PaymentCancelCreate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentCancelCreate")
            .field("imp_uid", &self.imp_uid)
            .field("merchant_uid", &self.merchant_uid)
            .field("amount", &self.amount)
            .field("checksum", &self.checksum)
            .field("reason", &self.reason)
            .field("refund_bank", &self.refund_bank)
            .field("refund_account", &self.refund_account.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// `IIamportPayment.IWebhook`: what Iamport POSTs to the `notice_url` after a
/// change. Lenient on input (the real PG adds `cancellation_id` to cancels).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamportWebhook {
    pub imp_uid: String,
    #[serde(default)]
    pub merchant_uid: String,
    /// `ready`, `paid`, `failed` or `cancelled` (kept as text so an unknown
    /// status is still read; see [`crate::webhook_needs_reread`]).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_id: Option<String>,
}

/// `IIamportSubscription.IAgain`: the body of `POST /subscribe/payments/again`
/// (a payment with a saved card).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionAgain {
    pub customer_uid: String,
    pub merchant_uid: String,
    pub amount: Money,
    pub name: String,
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

/// `PaymentPrepareAnnotation`: an amount prepared for an order before its
/// window opens. The body of `POST /payments/prepare` (register) and
/// `PUT /payments/prepare` (change), and the `response` of both and of
/// `GET /payments/prepare/{merchant_uid}` (PortOne V1 document, operations
/// `preparePayment`, `editPreparePayment`, `getPaymentPrepareByMerchantUid`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentPrepare {
    /// The order id (at most 40 characters in a request).
    pub merchant_uid: String,
    /// What the window must charge, in the currency's major unit.
    pub amount: Money,
    /// The currency the window must charge in; absent (`null`): any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// The currencies the Iamport API accepts on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IamportCurrency {
    #[serde(rename = "KRW")]
    Krw,
    #[serde(rename = "USD")]
    Usd,
    #[serde(rename = "EUR")]
    Eur,
    #[serde(rename = "JPY")]
    Jpy,
}

impl IamportCurrency {
    /// The wire spelling (`KRW`...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Krw => "KRW",
            Self::Usd => "USD",
            Self::Eur => "EUR",
            Self::Jpy => "JPY",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_time_reads_integers_and_fractions() {
        assert_eq!(unix_time(&Number::from(0)), None);
        assert_eq!(unix_time(&Number::from(1_700_000_000)).unwrap().timestamp(), 1_700_000_000);
        let fractional: Number = serde_json::from_str("1700000000.5").unwrap();
        assert_eq!(unix_time(&fractional).unwrap().timestamp_millis(), 1_700_000_000_500);
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let accessor = UserAccessor { imp_key: "k".into(), imp_secret: "s3cret".into() };
        assert!(!format!("{accessor:?}").contains("s3cret"));
    }
}
