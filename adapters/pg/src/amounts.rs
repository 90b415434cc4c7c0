//! How a PG writes an amount: each PG crate declares its [`AmountUnit`] once
//! and converts every amount it sends or reads through it, so an amount is
//! never sent or read in another unit than the PG's.

use payments_application::ports::GatewayError;
use payments_domain::{Currency, Decimal, Money};
use serde_json::Number;

/// The unit of a PG's amounts on its wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountUnit {
    /// A decimal number in the currency's major unit, at most as many
    /// decimals as the currency has (Toss: `664.98` USD; PortOne V1/Iamport:
    /// `14.2` USD).
    MajorDecimal,
    /// A whole number of the currency's ISO 4217 minor unit (PortOne V2:
    /// `1050` USD is 10.50 USD; KRW and JPY have none, so 1000 KRW is 1000).
    MinorInteger,
}

impl AmountUnit {
    /// `amount` of `currency` as this PG writes it.
    ///
    /// # Errors
    /// [`GatewayError::Unrepresentable`] naming `field` for an amount the PG
    /// cannot carry exactly (a fraction of the minor unit) or a currency
    /// without a known minor unit: nothing is sent.
    pub fn write(self, field: &'static str, amount: Money, currency: &Currency) -> Result<Number, GatewayError> {
        let refused = |e: payments_domain::DomainError| GatewayError::Unrepresentable(e.to_string());
        match self {
            AmountUnit::MajorDecimal => {
                currency.check_amount(field, amount).map_err(refused)?;
                Ok(amount.to_json_number())
            }
            AmountUnit::MinorInteger => Ok(Number::from(currency.to_minor_units(field, amount).map_err(refused)?)),
        }
    }

    /// An amount of `currency` the PG wrote in member `what`.
    ///
    /// # Errors
    /// [`GatewayError::Protocol`] naming `what` for a number that is not an
    /// amount in this unit (a fraction of a minor unit, negative, too large)
    /// or a currency without a known minor unit: never a guessed amount.
    pub fn read(self, what: &str, number: &Number, currency: &Currency) -> Result<Money, GatewayError> {
        let unreadable = |why: String| GatewayError::Protocol(format!("{what}: {why}"));
        let text = number.to_string();
        let exact = if text.contains(['e', 'E']) { Decimal::from_scientific(&text) } else { text.parse() }
            .map_err(|_| unreadable(format!("{text} is not a finite decimal number")))?;
        let amount = match self {
            AmountUnit::MajorDecimal => {
                let amount = Money::new_for("amount", exact).map_err(|e| unreadable(e.to_string()))?;
                currency.check_amount("amount", amount).map_err(|e| unreadable(e.to_string()))?;
                amount
            }
            AmountUnit::MinorInteger => {
                currency.from_minor_units("amount", exact).map_err(|e| unreadable(e.to_string()))?
            }
        };
        Ok(amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> Number {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn minor_integers_scale_by_the_currencys_exponent() {
        let unit = AmountUnit::MinorInteger;
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(unit.read("amount.total", &number("1050"), &usd).unwrap().to_string(), "10.5");
        assert_eq!(unit.write("price", "10.5".parse().unwrap(), &usd).unwrap().to_string(), "1050");
        let refused = unit.read("amount.total", &number("10.5"), &usd).unwrap_err();
        assert!(matches!(&refused, GatewayError::Protocol(m) if m.starts_with("amount.total: ")), "{refused:?}");
        let unknown = Currency::parse("XAU").unwrap();
        assert!(matches!(unit.write("price", "1".parse().unwrap(), &unknown), Err(GatewayError::Unrepresentable(_))));
    }

    #[test]
    fn major_decimals_keep_their_digits_within_the_currencys_decimals() {
        let unit = AmountUnit::MajorDecimal;
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(unit.read("totalAmount", &number("664.98"), &usd).unwrap().to_string(), "664.98");
        assert_eq!(unit.write("price", "664.98".parse().unwrap(), &usd).unwrap().to_string(), "664.98");
        assert!(matches!(unit.read("totalAmount", &number("1.5"), &Currency::krw()), Err(GatewayError::Protocol(_))));
        let fraction = unit.write("price", "0.001".parse().unwrap(), &usd).unwrap_err();
        assert_eq!(
            fraction,
            GatewayError::Unrepresentable("price: USD amounts have at most 2 decimals; 0.001 has 3".into())
        );
    }
}
