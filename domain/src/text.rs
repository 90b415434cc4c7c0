//! Bounded, non-empty text values.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Checks shared by every text newtype: not empty, at most `max` characters,
/// no NUL (PostgreSQL text cannot hold it, and no identifier needs it).
pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
    }
    if value.contains('\0') {
        return Err(DomainError::invalid(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// Declares a text newtype with a private field, a fallible `parse`, and serde
/// that goes through `parse` so an invalid value cannot be deserialized either.
macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident, $field:literal, $max:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Wire name of the field this value travels in, used in error messages.
            pub const FIELD: &'static str = $field;
            /// Longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Accepts a non-empty value of at most `MAX_CHARS` characters without NUL.
            ///
            /// # Errors
            /// [`DomainError::Invalid`] naming the field.
            pub fn parse(value: impl Into<String>) -> Result<Self, DomainError> {
                let value = value.into();
                check_text($field, &value, $max)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

pub(crate) use text_newtype;

text_newtype!(
    /// A cancel's reason, as the caller wrote it (kept verbatim).
    CancelReason, "reason", 1000
);

impl CancelReason {
    /// A reason as a PG reported it, made storable whatever it holds: NULs
    /// dropped, cut to [`CancelReason::MAX_CHARS`], `-` when empty or absent.
    pub fn from_pg(text: Option<&str>) -> Self {
        let cleaned: String = text.unwrap_or("").chars().filter(|c| *c != '\0').take(Self::MAX_CHARS).collect();
        if cleaned.trim().is_empty() { Self("-".to_owned()) } else { Self(cleaned) }
    }
}

text_newtype!(
    /// A saved card's title, chosen by the caller.
    Title, "title", 255
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_blank_nul_and_too_long() {
        assert!(Title::parse("").is_err());
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse("a\0b").is_err());
        assert!(Title::parse("x".repeat(256)).is_err());
        let err = Title::parse("").unwrap_err();
        assert_eq!(err.to_string(), "title: must not be empty");
    }

    #[test]
    fn keeps_the_value_exactly() {
        let raw = " 카드 '; DROP TABLE x; -- ";
        assert_eq!(Title::parse(raw).unwrap().as_str(), raw);
        assert!(Title::parse("가".repeat(255)).is_ok(), "limit counts characters, not bytes");
    }

    #[test]
    fn serde_goes_through_parse() {
        assert!(serde_json::from_str::<Title>("\"\"").is_err());
        let title: Title = serde_json::from_str("\"ok\"").unwrap();
        assert_eq!(serde_json::to_string(&title).unwrap(), "\"ok\"");
    }
}
