//! Money and timestamps as the wire carries them.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use payments_domain::{Money, Timestamp};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// An exact amount of money: a JSON number carrying the exact digits (never
/// squeezed through `f64`), at least 0, at most 4 decimal places, below 10^15.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireMoney(pub Money);

impl From<Money> for WireMoney {
    fn from(money: Money) -> Self {
        Self(money)
    }
}

impl Type for WireMoney {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "number_money".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new("number");
        schema.minimum = Some(0.0);
        schema.description = Some(
            "An exact amount in the currency's major unit (won, dollars), written with its exact digits: at least 0, at most 4 decimal places, below 10^15.",
        );
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for WireMoney {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            // `arbitrary_precision`: the number's text is exactly what the caller sent.
            Some(Value::Number(number)) => {
                Money::parse_for("price", &number.to_string()).map(WireMoney).map_err(ParseError::custom)
            }
            Some(other) => Err(ParseError::expected_type(other)),
            None => Err(ParseError::expected_input()),
        }
    }
}

impl ToJSON for WireMoney {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Number(self.0.to_json_number()))
    }
}

/// An amount as a request carries it: any JSON number, kept as its exact
/// text, checked when the request converts to domain values (so the error
/// names the field: `price: must not be negative`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireAmount(pub serde_json::Number);

impl WireAmount {
    /// The amount as [`Money`].
    ///
    /// # Errors
    /// [`payments_domain::DomainError::Invalid`] naming `field`.
    pub fn to_money(&self, field: &'static str) -> Result<Money, payments_domain::DomainError> {
        Money::parse_for(field, &self.0.to_string())
    }
}

impl From<Money> for WireAmount {
    fn from(money: Money) -> Self {
        Self(money.to_json_number())
    }
}

impl Type for WireAmount {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "number_amount".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        WireMoney::schema_ref()
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for WireAmount {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::Number(number)) => Ok(WireAmount(number)),
            Some(other) => Err(ParseError::expected_type(other)),
            None => Err(ParseError::expected_input()),
        }
    }
}

impl ToJSON for WireAmount {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Number(self.0.clone()))
    }
}

/// A point in time, RFC 3339 in UTC with milliseconds (`2026-11-24T04:22:48.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireTimestamp(pub Timestamp);

impl From<Timestamp> for WireTimestamp {
    fn from(at: Timestamp) -> Self {
        Self(at)
    }
}

/// Formats a timestamp as the wire shows it: `2026-11-24T04:22:48.123Z`.
pub fn format_timestamp(at: Timestamp) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Type for WireTimestamp {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date-time")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for WireTimestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => DateTime::parse_from_rfc3339(&text)
                .map(|at| WireTimestamp(at.with_timezone(&Utc)))
                .map_err(|_| ParseError::custom(format!("{text:?} is not an RFC 3339 date-time"))),
            Some(other) => Err(ParseError::expected_type(other)),
            None => Err(ParseError::expected_input()),
        }
    }
}

impl ToJSON for WireTimestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(format_timestamp(self.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn money_keeps_exact_digits_both_ways() {
        let value: Value = serde_json::from_str("99999999999999.9999").unwrap();
        let money = WireMoney::parse_from_json(Some(value)).unwrap();
        assert_eq!(money.0.to_string(), "99999999999999.9999");
        assert_eq!(serde_json::to_string(&money.to_json().unwrap()).unwrap(), "99999999999999.9999");
        assert!(WireMoney::parse_from_json(Some(Value::String("1".into()))).is_err());
        assert!(WireMoney::parse_from_json(Some(serde_json::from_str("-1").unwrap())).is_err());
        assert!(WireMoney::parse_from_json(None).is_err());
    }

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let at = Utc.timestamp_millis_opt(1_795_494_168_123).unwrap();
        assert_eq!(format_timestamp(at), "2026-11-24T04:22:48.123Z");
        let back = WireTimestamp::parse_from_json(WireTimestamp(at).to_json()).unwrap();
        assert_eq!(back.0, at);
        let whole = Utc.timestamp_opt(1_795_494_168, 0).unwrap();
        assert_eq!(format_timestamp(whole), "2026-11-24T04:22:48.000Z");
    }
}
