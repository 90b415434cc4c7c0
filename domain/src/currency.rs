//! Currencies and their minor units (ISO 4217).

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::text::check_text;
use crate::{DomainError, Money};

/// The ISO 4217 codes whose minor unit is not the usual hundredth, and those
/// that have none at all (precious metals, testing, "no currency").
const EXPONENT_0: [&str; 17] = [
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
    "XPF",
];
const EXPONENT_3: [&str; 7] = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
const EXPONENT_4: [&str; 2] = ["CLF", "UYW"];

/// Every other ISO 4217 code, current or recently withdrawn (the codes of
/// PortOne V2's `Currency` enum, plus XCG and ZWG of 2024-2025): a
/// hundredth. Sorted, for a binary search.
const EXPONENT_2: [&str; 144] = [
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD", "BND",
    "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CNY", "COP", "COU",
    "CRC", "CUC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL",
    "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES",
    "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT",
    "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB",
    "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP",
    "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD",
    "TZS", "UAH", "USD", "USN", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

/// ISO 4217 currency code of a payment, as the PG reports it (`KRW`, `USD`).
///
/// Any three letters parse (a PG may report a code this table does not
/// know yet); only a code with a known minor unit can carry an amount
/// ([`Currency::exponent`]), so an amount in an unknown currency is refused
/// rather than guessed.
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

    /// The ISO 4217 minor unit: how many decimals an amount of this currency
    /// has (0 for KRW and JPY, 2 for USD, 3 for KWD). `None` for a code
    /// without one (gold, SDR, `XXX`) or one ISO 4217 does not list.
    pub fn exponent(&self) -> Option<u32> {
        let code = self.as_str();
        if EXPONENT_0.contains(&code) {
            Some(0)
        } else if EXPONENT_3.contains(&code) {
            Some(3)
        } else if EXPONENT_4.contains(&code) {
            Some(4)
        } else if EXPONENT_2.binary_search(&code).is_ok() {
            Some(2)
        } else {
            None
        }
    }

    fn known_exponent(&self, field: &'static str) -> Result<u32, DomainError> {
        self.exponent().ok_or_else(|| {
            DomainError::invalid(field, format!("{self} is not a currency with a known minor unit (ISO 4217)"))
        })
    }

    /// Refuses an amount with more decimals than this currency has
    /// (`0.5` KRW, `1.001` USD), or in a currency without a known minor
    /// unit, before anything is sent to a PG.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] on `field`.
    pub fn check_amount(&self, field: &'static str, amount: Money) -> Result<(), DomainError> {
        let allowed = self.known_exponent(field)?;
        let decimals = amount.amount().normalize().scale();
        if decimals <= allowed {
            return Ok(());
        }
        let reason = match allowed {
            0 => format!("{self} amounts are whole numbers; {amount} has decimals"),
            n => format!("{self} amounts have at most {n} decimals; {amount} has {decimals}"),
        };
        Err(DomainError::invalid(field, reason))
    }

    /// `amount` as a whole number of this currency's minor unit (10.50 USD
    /// is 1050; 1000 KRW is 1000), as PGs that count in minor units take it.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] on `field` for a fraction of the minor unit
    /// or a currency without a known one.
    pub fn to_minor_units(&self, field: &'static str, amount: Money) -> Result<u64, DomainError> {
        self.check_amount(field, amount)?;
        let exponent = self.known_exponent(field)?;
        let mut units = amount.amount();
        units.rescale(exponent);
        units.set_scale(0).map_err(|_| DomainError::invalid(field, "cannot be scaled to minor units"))?;
        // `Money` is below 10^15 with at most 4 decimals: below 10^19 units.
        u64::try_from(units).map_err(|_| DomainError::invalid(field, "does not fit in minor units"))
    }

    /// An amount given in this currency's minor unit (1050 in USD is 10.50).
    ///
    /// # Errors
    /// [`DomainError::Invalid`] on `field` when `units` is not a whole
    /// non-negative number, the currency has no known minor unit, or the
    /// amount is out of [`Money`]'s range.
    pub fn from_minor_units(&self, field: &'static str, units: Decimal) -> Result<Money, DomainError> {
        let exponent = self.known_exponent(field)?;
        let units = units.normalize();
        if units.scale() != 0 {
            return Err(DomainError::invalid(field, format!("{units} is not a whole number of minor units")));
        }
        let mut amount = units;
        amount
            .set_scale(exponent)
            .map_err(|_| DomainError::invalid(field, format!("{units} minor units are out of range")))?;
        Money::new_for(field, amount)
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

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn amounts_have_no_more_decimals_than_their_currency() {
        let krw = Currency::krw();
        assert!(krw.check_amount("price", money("1000")).is_ok());
        assert!(krw.check_amount("price", money("1000.00")).is_ok(), "trailing zeros are no decimals");
        let half = krw.check_amount("price", money("0.5")).unwrap_err();
        assert_eq!(half, DomainError::invalid("price", "KRW amounts are whole numbers; 0.5 has decimals"));
        let usd = currency("usd");
        assert_eq!(usd.exponent(), Some(2));
        assert!(usd.check_amount("price", money("10.25")).is_ok());
        assert!(usd.check_amount("price", money("10.255")).is_err());
        assert_eq!(currency("KWD").exponent(), Some(3));
        assert!(currency("KWD").check_amount("price", money("1.005")).is_ok());
        assert_eq!(currency("JPY").exponent(), Some(0));
        assert_eq!(currency("CLF").exponent(), Some(4));
    }

    #[test]
    fn currencies_without_a_known_minor_unit_carry_no_amount() {
        for code in ["XAU", "XXX", "ABC", "QQQ"] {
            let odd = currency(code);
            assert_eq!(odd.exponent(), None, "{code}");
            let refused = odd.check_amount("price", money("1")).unwrap_err();
            assert!(refused.to_string().starts_with("price: "), "{refused}");
            assert!(odd.to_minor_units("price", money("1")).is_err());
            assert!(odd.from_minor_units("price", Decimal::from(1)).is_err());
        }
    }

    #[test]
    fn the_table_is_sorted_and_has_no_code_twice() {
        assert!(EXPONENT_2.windows(2).all(|w| w[0] < w[1]), "sorted for the binary search");
        for code in EXPONENT_0.iter().chain(&EXPONENT_3).chain(&EXPONENT_4) {
            assert!(EXPONENT_2.binary_search(code).is_err(), "{code} is listed twice");
        }
    }

    #[test]
    fn minor_units_both_ways() {
        let cases = [("KRW", "1000", 1000u64), ("JPY", "1050", 1050), ("USD", "10.5", 1050), ("USD", "0.01", 1)];
        for (code, major, minor) in cases {
            let c = currency(code);
            assert_eq!(c.to_minor_units("price", money(major)).unwrap(), minor, "{code} {major}");
            assert_eq!(c.from_minor_units("amount", Decimal::from(minor)).unwrap(), money(major), "{code} {minor}");
        }
        assert_eq!(currency("KWD").to_minor_units("price", money("1.005")).unwrap(), 1005);
        assert_eq!(
            currency("CLF").to_minor_units("price", money("999999999999999.9999")).unwrap(),
            9_999_999_999_999_999_999
        );
        let fraction = currency("USD").to_minor_units("price", money("10.505")).unwrap_err();
        assert_eq!(fraction.to_string(), "price: USD amounts have at most 2 decimals; 10.505 has 3");
        let not_whole = currency("USD").from_minor_units("amount", "10.5".parse().unwrap()).unwrap_err();
        assert!(not_whole.to_string().contains("not a whole number of minor units"), "{not_whole}");
        assert!(currency("USD").from_minor_units("amount", Decimal::from(-1)).is_err());
    }

    #[test]
    fn currency_is_three_letters() {
        assert_eq!(Currency::parse("krw").unwrap().as_str(), "KRW");
        assert!(Currency::parse("KR").is_err());
        assert!(Currency::parse("K1W").is_err());
        assert!(Currency::parse("원화원").is_err());
    }
}
