//! Who took the payment: the PG, the store account at that PG, and the PG's id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::text::text_newtype;

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
    /// often has several, so every record names the one used. Our own name of
    /// the store (a key of the PG's configured stores), so an identifier.
    id StoreId, "vendor.store_id", 255
);

text_newtype!(
    /// The PG's identifier of the payment (`imp_uid`, `paymentKey`) or of the
    /// saved card (`customer_uid`, `billingKey`). It becomes a path segment
    /// of PG calls (`GET /v1/payments/{paymentKey}`): never `.` or `..`.
    /// Toss documents `paymentKey` as at most 200 characters and no charset;
    /// the Iamport and PortOne V2 references followed here give none for
    /// theirs (a PortOne payment's uid is the merchant's `paymentId`,
    /// Iamport's `customer_uid` the merchant's too): only control characters
    /// and `.`/`..` are refused.
    id VendorUid, "vendor.uid", 255
);

text_newtype!(
    /// The PG's order id of a payment (Toss `orderId`, Iamport `merchant_uid`):
    /// the id the merchant gave the payment when it opened the PG's window.
    /// Toss documents `orderId` as 6 to 64 ASCII letters, digits, `-` and `_`
    /// (yet answers shorter ones it took); the Iamport and PortOne references
    /// give no charset for `merchant_uid` and `paymentId`. It is `source.id`
    /// (any caller's key), so only control characters and `.`/`..` are refused.
    id OrderId, "order_id", 255
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
