//! Exact money. No `f64` ever holds or sums an amount.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// A non-negative, exact amount of money in a currency's major unit (won,
/// dollars...).
///
/// Backed by a decimal, normalised (so `100` and `100.00` are the same value),
/// at most [`Money::MAX_SCALE`] decimal places and below [`Money::LIMIT`]. In JSON
/// it is a plain number written with its exact digits: the workspace enables
/// `serde_json/arbitrary_precision`, so the text the caller sent is what gets
/// parsed, never an `f64` approximation of it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);
    /// Most decimal places accepted (no ISO 4217 currency has more than 4).
    pub const MAX_SCALE: u32 = 4;
    /// Exclusive upper bound: one quadrillion major units.
    pub const LIMIT: Decimal = Decimal::from_parts(0xA4C6_8000, 0x0003_8D7E, 0, false, 0);

    /// Accepts a non-negative amount with at most four decimal places, below 10^15.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] on the `price` field.
    pub fn new(amount: Decimal) -> Result<Self, DomainError> {
        Self::new_for("price", amount)
    }

    /// As [`Money::new`], naming `field` in the error.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] naming `field`.
    pub fn new_for(field: &'static str, amount: Decimal) -> Result<Self, DomainError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(DomainError::invalid(field, "must not be negative"));
        }
        if amount >= Self::LIMIT {
            return Err(DomainError::invalid(field, "must be less than 10^15"));
        }
        let amount = amount.normalize();
        if amount.scale() > Self::MAX_SCALE {
            return Err(DomainError::invalid(field, format!("must have at most {} decimal places", Self::MAX_SCALE)));
        }
        // `normalize` turns -0 into 0 only for some inputs; be explicit.
        Ok(Self(if amount.is_zero() { Decimal::ZERO } else { amount }))
    }

    /// Parses decimal text such as `19900`, `10.50` or `1e3`.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] naming `field`.
    pub fn parse_for(field: &'static str, text: &str) -> Result<Self, DomainError> {
        let text = text.trim();
        let parsed = if text.contains(['e', 'E']) { Decimal::from_scientific(text) } else { Decimal::from_str(text) };
        let amount =
            parsed.map_err(|_| DomainError::invalid(field, format!("'{text}' is not a finite decimal number")))?;
        Self::new_for(field, amount)
    }

    pub fn amount(self) -> Decimal {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// `self + other`, or `None` if it would reach [`Money::LIMIT`].
    pub fn checked_add(self, other: Money) -> Option<Money> {
        let sum = self.0.checked_add(other.0)?;
        (sum < Self::LIMIT).then(|| Money(sum.normalize()))
    }

    /// `self - other`, or `None` if it would be negative.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        (other <= self).then(|| Money((self.0 - other.0).normalize()))
    }

    /// Sum of amounts, or `None` on overflow of [`Money::LIMIT`].
    pub fn sum<'a>(amounts: impl IntoIterator<Item = &'a Money>) -> Option<Money> {
        amounts.into_iter().try_fold(Money::ZERO, |acc, m| acc.checked_add(*m))
    }

    /// The amount as a JSON number carrying the exact digits.
    pub fn to_json_number(self) -> serde_json::Number {
        serde_json::Number::from_str(&self.0.to_string()).unwrap_or_else(|_| serde_json::Number::from(0u8))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({})", self.0)
    }
}

impl FromStr for Money {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_for("price", s)
    }
}

impl TryFrom<Decimal> for Money {
    type Error = DomainError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json_number().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        Money::parse_for("price", &number.to_string()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn limit_constant_is_ten_to_the_fifteenth() {
        assert_eq!(Money::LIMIT, Decimal::from(1_000_000_000_000_000u64));
    }

    #[test]
    fn refuses_negative_too_precise_and_huge() {
        assert!(Money::parse_for("price", "-1").is_err());
        assert!(Money::parse_for("price", "0.00001").is_err());
        assert!(Money::parse_for("price", "1000000000000000").is_err());
        assert!(Money::parse_for("price", "NaN").is_err());
        assert!(Money::parse_for("price", "inf").is_err());
        assert!(Money::parse_for("price", "").is_err());
        let err = Money::parse_for("price", "-1").unwrap_err();
        assert_eq!(err.to_string(), "price: must not be negative");
    }

    #[test]
    fn normalises_equal_values() {
        assert_eq!(m("100"), m("100.00"));
        assert_eq!(m("1e3"), m("1000"));
        assert_eq!(m("-0"), Money::ZERO);
        assert_eq!(m("0.1").checked_add(m("0.2")).unwrap(), m("0.3"), "no float drift");
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(m("5").checked_sub(m("6")), None);
        assert_eq!(m("5").checked_sub(m("5")), Some(Money::ZERO));
        assert_eq!(m("999999999999999").checked_add(m("1")), None);
        assert_eq!(Money::sum(&[m("1.5"), m("2.25")]), Some(m("3.75")));
    }

    #[test]
    fn json_carries_exact_digits_as_a_number() {
        let value: Money = serde_json::from_str("19900.10").unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), "19900.1");
        let big: Money = serde_json::from_str("123456789012345.6789").unwrap();
        assert_eq!(serde_json::to_string(&big).unwrap(), "123456789012345.6789");
        let exact: Money = serde_json::from_str("99999999999999.9999").unwrap();
        assert_eq!(exact.to_string(), "99999999999999.9999", "more digits than an f64 holds");
        assert!(serde_json::from_str::<Money>("\"100\"").is_err(), "strings are not numbers");
        assert!(serde_json::from_str::<Money>("-3").is_err());
    }
}
