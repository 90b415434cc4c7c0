//! Request bodies of the encrypted routes and their conversion to commands.

use payments_application::AppError;
use payments_application::commands::{CancelHistory, ChargeSavedCard, CreateHistory, SaveCard, SavedCardLocator};
use payments_application::ports::RefundAccount;
use payments_domain::{CancelReason, ClientId, Password, Source, StoreId, Title, Vendor, VendorUid, WebhookUrl};
use poem_openapi::Object;

use crate::{SourceBody, VendorCodeBody, WireAmount};

/// The PG side of a payment or saved card, as the PG's popup reported it.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "VendorInput")]
pub struct VendorInputBody {
    /// Which PG took the payment: `iamport` or `toss.payments`.
    pub code: VendorCodeBody,
    /// The store (merchant account) at that PG; one company often has several.
    pub store_id: String,
    /// The PG's id of the payment (Iamport `imp_uid`, Toss `paymentKey`) or of
    /// the saved card (Iamport `customer_uid`, Toss `billingKey`).
    pub uid: String,
}

impl VendorInputBody {
    /// # Errors
    /// [`AppError::Domain`] (an invalid field) naming the bad field.
    pub fn try_into_domain(self) -> Result<Vendor, AppError> {
        Ok(Vendor::new(self.code.into(), StoreId::parse(self.store_id)?, VendorUid::parse(self.uid)?))
    }
}

impl SourceBody {
    /// # Errors
    /// [`AppError::Domain`] (an invalid field) naming the bad field (`source.schema`, ...).
    pub fn try_into_domain(self) -> Result<Source, AppError> {
        Ok(Source::parse(&self.schema, &self.table, &self.id)?)
    }
}

/// Registers a payment the customer has just made in the PG's popup.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "CreatePaymentHistory")]
pub struct CreateHistoryBody {
    /// The PG, store and payment id.
    pub vendor: VendorInputBody,
    /// The caller's own record this payment is for: its order. `id` must be
    /// the payment's order id at the PG (Toss `orderId`, Iamport
    /// `merchant_uid`), else the request fails with 422 (unless the server
    /// runs with `PAYMENT_BIND_ORDER_TO_SOURCE=false`).
    pub source: SourceBody,
    /// The amount the caller expects was charged. When the PG says otherwise,
    /// the payment is cancelled at the PG and the request fails with 422.
    pub price: WireAmount,
    /// A password of the caller's choosing, needed to read the record back.
    pub password: String,
    /// Where to POST (encrypted) every later change of this payment.
    pub webhook_url: String,
    /// The currency the caller expects (ISO 4217, e.g. `KRW`). When given
    /// and the PG charged in another, the payment is cancelled at the PG and
    /// the request fails with 422, as for another price.
    #[oai(skip_serializing_if_is_none)]
    pub currency: Option<String>,
}

impl CreateHistoryBody {
    /// # Errors
    /// [`AppError::Domain`] (an invalid field) naming the bad field.
    pub fn try_into_domain(self, client: ClientId) -> Result<CreateHistory, AppError> {
        Ok(CreateHistory {
            client,
            vendor: self.vendor.try_into_domain()?,
            source: self.source.try_into_domain()?,
            price: self.price.to_money("price")?,
            password: Password::parse(self.password)?,
            webhook_url: WebhookUrl::parse(self.webhook_url)?,
            currency: self.currency.map(payments_domain::Currency::parse).transpose()?,
        })
    }
}

/// Names a record by the caller's own source, with the record's password.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "SourceAccessor")]
pub struct SourceAccessorBody {
    /// Schema of the caller's record.
    pub schema: String,
    /// Table of the caller's record.
    pub table: String,
    /// Id of the caller's record.
    pub id: String,
    /// The password given when the record was created.
    pub password: String,
}

impl SourceAccessorBody {
    /// # Errors
    /// [`AppError::Domain`] (an invalid field) naming the bad field.
    pub fn try_into_domain(self) -> Result<(Source, Password), AppError> {
        let source = Source::parse(&self.schema, &self.table, &self.id)?;
        Ok((source, Password::parse(self.password)?))
    }
}

/// The password of a record.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "PasswordInput")]
pub struct PasswordBody {
    /// The password given when the record was created.
    pub password: String,
}

impl PasswordBody {
    /// # Errors
    /// [`AppError::Domain`] (an invalid field) on `password`.
    pub fn try_into_domain(self) -> Result<Password, AppError> {
        Ok(Password::parse(self.password)?)
    }
}

/// The bank account a virtual-account payment is refunded to. Passed to the
/// PG only, never stored.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "RefundAccount")]
pub struct RefundAccountBody {
    /// Bank name or code, as the PG expects it.
    pub bank: String,
    /// Account number.
    pub account: String,
    /// Name of the account holder.
    pub holder: String,
    /// The holder's mobile phone number.
    pub mobile: String,
}

impl RefundAccountBody {
    /// # Errors
    /// [`AppError::InvalidField`] when a field is empty or too long.
    pub fn try_into_domain(self) -> Result<RefundAccount, AppError> {
        fn check(field: &str, value: String) -> Result<String, AppError> {
            let invalid =
                |reason: &str| AppError::InvalidField { param: format!("account.{field}"), reason: reason.into() };
            if value.trim().is_empty() {
                return Err(invalid("must not be empty"));
            }
            if value.chars().count() > 255 {
                return Err(invalid("must be at most 255 characters"));
            }
            Ok(value)
        }
        Ok(RefundAccount {
            bank: check("bank", self.bank)?,
            account: check("account", self.account)?,
            holder: check("holder", self.holder)?,
            mobile: check("mobile", self.mobile)?,
        })
    }
}

/// Cancels a payment, wholly or partly.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "CancelPaymentHistory")]
pub struct CancelHistoryBody {
    /// The caller's record the payment was registered for.
    pub source: SourceBody,
    /// The password given when the payment was registered.
    pub password: String,
    /// Amount to refund: more than 0 and at most what is left of the payment.
    pub price: WireAmount,
    /// Why, as shown to the PG.
    pub reason: String,
    /// Required for virtual-account payments (the refund goes there); `null` otherwise.
    pub account: Option<RefundAccountBody>,
}

impl CancelHistoryBody {
    /// # Errors
    /// [`AppError::Domain`] (an invalid field) naming the bad field.
    pub fn try_into_domain(self, client: ClientId) -> Result<CancelHistory, AppError> {
        Ok(CancelHistory {
            client,
            source: self.source.try_into_domain()?,
            password: Password::parse(self.password)?,
            price: self.price.to_money("price")?,
            reason: CancelReason::parse(self.reason)?,
            account: self.account.map(RefundAccountBody::try_into_domain).transpose()?,
            idempotency_key: None,
        })
    }
}

/// Charges a saved card: a new payment of the caller's record `source`.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ChargePaymentReservation")]
pub struct ChargeReservationBody {
    /// The saved card's password; the new payment opens with it too.
    pub password: String,
    /// The caller's own record this payment is for (usually its order). Its
    /// id is the PG's order id (Toss `orderId`, Iamport `merchant_uid`), so
    /// one order is charged at most once.
    pub source: SourceBody,
    /// The amount to charge.
    pub price: WireAmount,
    /// What the customer sees the payment as (Toss `orderName`, Iamport `name`).
    pub title: String,
    /// Where to POST (encrypted) every later change of this payment.
    pub webhook_url: String,
}

impl ChargeReservationBody {
    /// # Errors
    /// [`AppError::Domain`] (an invalid field) naming the bad field.
    pub fn try_into_domain(
        self,
        client: ClientId,
        reservation: SavedCardLocator,
        idempotency_key: String,
    ) -> Result<ChargeSavedCard, AppError> {
        Ok(ChargeSavedCard {
            client,
            reservation,
            password: Password::parse(self.password)?,
            source: self.source.try_into_domain()?,
            price: self.price.to_money("price")?,
            title: Title::parse(self.title)?,
            webhook_url: WebhookUrl::parse(self.webhook_url)?,
            idempotency_key,
        })
    }
}

/// Registers a card the customer saved in the PG's popup.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "CreatePaymentReservation")]
pub struct CreateReservationBody {
    /// The PG, store and saved card id.
    pub vendor: VendorInputBody,
    /// The caller's own record the card belongs to (usually its customer).
    pub source: SourceBody,
    /// A title of the caller's choosing.
    pub title: String,
    /// A password of the caller's choosing, needed to read the record back
    /// (not the card's password).
    pub password: String,
}

impl CreateReservationBody {
    /// # Errors
    /// [`AppError::Domain`] (an invalid field) naming the bad field.
    pub fn try_into_domain(self, client: ClientId) -> Result<SaveCard, AppError> {
        Ok(SaveCard {
            client,
            vendor: self.vendor.try_into_domain()?,
            source: self.source.try_into_domain()?,
            title: Title::parse(self.title)?,
            password: Password::parse(self.password)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(id: &str) -> SourceBody {
        SourceBody { schema: "shop".into(), table: "orders".into(), id: id.into() }
    }

    #[test]
    fn conversion_names_the_bad_field() {
        let body = CreateHistoryBody {
            vendor: VendorInputBody { code: VendorCodeBody::Iamport, store_id: "s".into(), uid: "imp_1".into() },
            source: source(""),
            price: WireAmount(serde_json::Number::from(100u8)),
            password: "pw".into(),
            webhook_url: "http://127.0.0.1/hook".into(),
            currency: None,
        };
        assert_eq!(
            body.clone().try_into_domain(ClientId::LEGACY).unwrap_err().to_string(),
            "source.id: must not be empty"
        );
        let money = CreateHistoryBody { source: source("o1"), currency: Some("KRW1".into()), ..body.clone() };
        assert!(money.try_into_domain(ClientId::LEGACY).unwrap_err().to_string().starts_with("currency:"));
        let body = CreateHistoryBody { source: source("o1"), webhook_url: "nope".into(), ..body };
        let err = body.try_into_domain(ClientId::LEGACY).unwrap_err();
        assert_eq!((err.cause(), err.param()), (payments_application::Cause::InvalidField, Some("webhook_url")));
        assert!(err.to_string().starts_with("webhook_url:"), "{err}");
    }

    #[test]
    fn cancel_converts_the_account() {
        let body = CancelHistoryBody {
            source: source("o1"),
            password: "pw".into(),
            price: WireAmount(serde_json::Number::from(10u8)),
            reason: "changed mind".into(),
            account: Some(RefundAccountBody {
                bank: "088".into(),
                account: "".into(),
                holder: "Kim".into(),
                mobile: "010".into(),
            }),
        };
        assert_eq!(
            body.clone().try_into_domain(ClientId::LEGACY).unwrap_err().to_string(),
            "account.account: must not be empty"
        );
        let ok = CancelHistoryBody { account: None, ..body }.try_into_domain(ClientId::LEGACY).unwrap();
        assert_eq!(ok.price.to_string(), "10");
        assert!(ok.account.is_none());
    }
}
