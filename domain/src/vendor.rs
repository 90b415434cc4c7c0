//! Who took the payment: the PG, the store account at that PG, and the PG's id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::text::{check_text, text_newtype};

/// A payment gateway this server speaks to, by its wire spelling.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum VendorCode {
    /// Iamport (PortOne v1).
    #[serde(rename = "iamport")]
    Iamport,
    /// Toss Payments.
    #[serde(rename = "toss.payments")]
    TossPayments,
    /// PortOne V2 (api.portone.io), in front of the Korean PGs it connects.
    #[serde(rename = "portone")]
    PortOne,
}

impl VendorCode {
    pub const ALL: [VendorCode; 3] = [VendorCode::Iamport, VendorCode::TossPayments, VendorCode::PortOne];

    /// The wire spelling: `iamport`, `toss.payments` or `portone`.
    pub const fn as_str(self) -> &'static str {
        match self {
            VendorCode::Iamport => "iamport",
            VendorCode::TossPayments => "toss.payments",
            VendorCode::PortOne => "portone",
        }
    }
}

impl fmt::Display for VendorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for VendorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VendorCode {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VendorCode::ALL.into_iter().find(|code| code.as_str() == s).ok_or_else(|| {
            let shown: String = s.chars().take(40).collect();
            DomainError::invalid(
                "vendor.code",
                format!("unknown vendor code {shown:?}; expected \"iamport\", \"toss.payments\" or \"portone\""),
            )
        })
    }
}

text_newtype!(
    /// The store (merchant account) at the PG that took the payment. One company
    /// often has several, so every record names the one used.
    StoreId, "vendor.store_id", 255
);

text_newtype!(
    /// The PG's identifier of the payment (`imp_uid`, `paymentKey`) or of the
    /// saved card (`customer_uid`, `billingKey`).
    VendorUid, "vendor.uid", 255
);

text_newtype!(
    /// The PG's order id of a payment (Toss `orderId`, Iamport `merchant_uid`):
    /// the id the merchant gave the payment when it opened the PG's window.
    OrderId, "order_id", 255
);

/// The PG side of a record. Unique on `(code, uid)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Vendor {
    pub code: VendorCode,
    pub store_id: StoreId,
    pub uid: VendorUid,
}

impl Vendor {
    /// Builds a vendor from already-parsed parts.
    pub fn new(code: VendorCode, store_id: StoreId, uid: VendorUid) -> Self {
        Self { code, store_id, uid }
    }

    /// Parses the three wire strings.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] naming the first bad field.
    pub fn parse(code: &str, store_id: &str, uid: &str) -> Result<Self, DomainError> {
        Ok(Self { code: code.parse()?, store_id: StoreId::parse(store_id)?, uid: VendorUid::parse(uid)? })
    }
}

/// ISO 4217 currency code of a payment, as the PG reports it (`KRW`, `USD`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    /// Accepts three ASCII letters, any case; stored upper-case.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] on `currency`.
    pub fn parse(value: impl AsRef<str>) -> Result<Self, DomainError> {
        let value = value.as_ref();
        check_text("currency", value, 3)?;
        if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(DomainError::invalid("currency", format!("{value:?} is not a three-letter code")));
        }
        Ok(Self(value.to_ascii_uppercase()))
    }

    pub fn krw() -> Self {
        Self("KRW".to_owned())
    }

    /// The decimals an amount of this currency may have (its ISO 4217 minor
    /// unit): 0 for KRW, JPY and the other currencies without one, 3 for the
    /// dinars and rials that have three, 2 for every other code.
    pub fn minor_units(&self) -> u32 {
        const NONE: [&str; 17] = [
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF",
            "XOF", "XPF",
        ];
        const THREE: [&str; 7] = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
        if NONE.contains(&self.as_str()) {
            0
        } else if THREE.contains(&self.as_str()) {
            3
        } else {
            2
        }
    }

    /// Refuses an amount with more decimals than this currency has
    /// (`0.5` KRW, `1.001` USD) before anything is sent to a PG.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] on `field`.
    pub fn check_amount(&self, field: &'static str, amount: crate::Money) -> Result<(), DomainError> {
        let decimals = amount.amount().normalize().scale();
        let allowed = self.minor_units();
        if decimals <= allowed {
            return Ok(());
        }
        let reason = match allowed {
            0 => format!("{self} amounts are whole numbers; {amount} has decimals"),
            n => format!("{self} amounts have at most {n} decimals; {amount} has {decimals}"),
        };
        Err(DomainError::invalid(field, reason))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Currency {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_no_more_decimals_than_their_currency() {
        let money = |text: &str| text.parse::<crate::Money>().unwrap();
        let krw = Currency::krw();
        assert!(krw.check_amount("price", money("1000")).is_ok());
        assert!(krw.check_amount("price", money("1000.00")).is_ok(), "trailing zeros are no decimals");
        let half = krw.check_amount("price", money("0.5")).unwrap_err();
        assert_eq!(half, DomainError::invalid("price", "KRW amounts are whole numbers; 0.5 has decimals"));
        let usd = Currency::parse("usd").unwrap();
        assert_eq!(usd.minor_units(), 2);
        assert!(usd.check_amount("price", money("10.25")).is_ok());
        assert!(usd.check_amount("price", money("10.255")).is_err());
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(kwd.minor_units(), 3);
        assert!(kwd.check_amount("price", money("1.005")).is_ok());
        assert_eq!(Currency::parse("JPY").unwrap().minor_units(), 0);
    }

    #[test]
    fn vendor_code_uses_wire_spellings() {
        assert_eq!("iamport".parse::<VendorCode>().unwrap(), VendorCode::Iamport);
        assert_eq!("toss.payments".parse::<VendorCode>().unwrap(), VendorCode::TossPayments);
        assert_eq!(serde_json::to_string(&VendorCode::TossPayments).unwrap(), "\"toss.payments\"");
        let err = "paypal".parse::<VendorCode>().unwrap_err();
        assert!(err.to_string().starts_with("vendor.code: unknown vendor code \"paypal\""));
        assert!("Iamport".parse::<VendorCode>().is_err(), "codes are case-sensitive");
    }

    #[test]
    fn vendor_parse_names_the_bad_field() {
        let err = Vendor::parse("iamport", "", "imp_1").unwrap_err();
        assert_eq!(err.to_string(), "vendor.store_id: must not be empty");
        let err = Vendor::parse("iamport", "store", "").unwrap_err();
        assert_eq!(err.to_string(), "vendor.uid: must not be empty");
    }

    #[test]
    fn currency_is_three_letters() {
        assert_eq!(Currency::parse("krw").unwrap().as_str(), "KRW");
        assert!(Currency::parse("KR").is_err());
        assert!(Currency::parse("K1W").is_err());
        assert!(Currency::parse("원화원").is_err());
    }
}
