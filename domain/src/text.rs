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

/// Checks of an identifier (a PG's uid or order id, a store id, a source's
/// schema, table and id, a cancel's key): those of [`check_text`], and no
/// control character (`char::is_control`: newline, ESC, DEL, the C1 codes)
/// and not the whole path segment `.` or `..`. An id travels in log lines,
/// PG request paths and answers: a newline would start a log line of its
/// own, and `..` as a path segment is dropped by URL joining (a uid of `..`
/// would call the PG's collection endpoint). Nothing stricter: Unicode
/// letters (Korean in a caller's source id), spaces and punctuation stay,
/// and each PG's own charset (where it documents one) is the PG's to enforce.
pub(crate) fn check_id(field: &'static str, value: &str, max: usize) -> Result<(), DomainError> {
    check_text(field, value, max)?;
    if value.chars().any(char::is_control) {
        return Err(DomainError::invalid(field, "must not contain control characters"));
    }
    if matches!(value, "." | "..") {
        return Err(DomainError::invalid(field, "must not be the path segment \".\" or \"..\""));
    }
    Ok(())
}

/// Declares a text newtype with a private field, a fallible `parse`, and serde
/// that goes through `parse` so an invalid value cannot be deserialized either.
/// The form with `id` checks with [`check_id`] (identifiers), the other with
/// [`check_text`] (free text).
macro_rules! text_newtype {
    ($(#[$meta:meta])* id $name:ident, $field:literal, $max:expr) => {
        $crate::text::text_newtype!(@define $(#[$meta])* $name, $field, $max, $crate::text::check_id,
            "Accepts a non-empty value of at most `MAX_CHARS` characters without control characters, other than `.` and `..`.");
    };
    ($(#[$meta:meta])* $name:ident, $field:literal, $max:expr) => {
        $crate::text::text_newtype!(@define $(#[$meta])* $name, $field, $max, $crate::text::check_text,
            "Accepts a non-empty value of at most `MAX_CHARS` characters without NUL.");
    };
    (@define $(#[$meta:meta])* $name:ident, $field:literal, $max:expr, $check:path, $parse_doc:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Wire name of the field this value travels in, used in error messages.
            pub const FIELD: &'static str = $field;
            /// Longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            #[doc = $parse_doc]
            ///
            /// # Errors
            /// [`DomainError::Invalid`] naming the field.
            pub fn parse(value: impl Into<String>) -> Result<Self, DomainError> {
                let value = value.into();
                $check($field, &value, $max)?;
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

    /// Every identifier refuses control characters (log lines, PG paths) and
    /// the dot segments (dropped by URL joining), naming its field; nothing
    /// else an id may hold is refused.
    #[test]
    fn ids_refuse_control_characters_and_dot_segments_naming_the_field() {
        use crate::{CancelKey, OrderId, SourceId, SourceSchema, SourceTable, StoreId, VendorUid};
        type Parse = fn(&str) -> Result<(), DomainError>;
        let ids: [(&str, Parse); 7] = [
            ("vendor.store_id", |v| StoreId::parse(v).map(drop)),
            ("vendor.uid", |v| VendorUid::parse(v).map(drop)),
            ("order_id", |v| OrderId::parse(v).map(drop)),
            ("source.schema", |v| SourceSchema::parse(v).map(drop)),
            ("source.table", |v| SourceTable::parse(v).map(drop)),
            ("source.id", |v| SourceId::parse(v).map(drop)),
            ("cancels.key", |v| CancelKey::parse(v).map(drop)),
        ];
        let forged = "imp_1\n2026-01-01T00:00:00.000000Z  INFO request: method=PUT status=200";
        let refused = [
            (forged, "must not contain control characters"),
            ("imp_1\r", "must not contain control characters"),
            ("a\u{1b}[2Kb", "must not contain control characters"),
            ("a\tb", "must not contain control characters"),
            ("a\u{7f}", "must not contain control characters"),
            ("a\u{85}b", "must not contain control characters"),
            (".", "must not be the path segment \".\" or \"..\""),
            ("..", "must not be the path segment \".\" or \"..\""),
        ];
        let accepted =
            ["imp_123", "주문-2024-0001", "a.b", "...", "..a", " .. ", "order id/with ?&#%", "tgen_20240101abc"];
        for (field, parse) in ids {
            for (value, reason) in refused {
                let error = parse(value).unwrap_err();
                assert_eq!(error.to_string(), format!("{field}: {reason}"), "{value:?}");
            }
            for value in accepted {
                assert!(parse(value).is_ok(), "{field}: {value:?} is an id");
            }
        }
    }

    /// Free text is kept as written, line breaks and all: it reaches logs only
    /// through the log format, which escapes it.
    #[test]
    fn free_text_still_takes_what_it_took() {
        let text = "line one\nline two\t\u{1b}[1m..";
        assert_eq!(CancelReason::parse(text).unwrap().as_str(), text);
        assert_eq!(Title::parse(text).unwrap().as_str(), text);
        assert!(Title::parse(".").is_ok() && CancelReason::parse("..").is_ok());
        assert!(CancelReason::parse("a\0").is_err(), "NUL stays refused");
        assert_eq!(CancelReason::from_pg(Some("a\nb\0")).as_str(), "a\nb");
    }

    #[test]
    fn serde_goes_through_parse() {
        assert!(serde_json::from_str::<Title>("\"\"").is_err());
        assert!(serde_json::from_str::<crate::VendorUid>("\"..\"").is_err());
        assert!(serde_json::from_str::<crate::SourceId>("\"a\\nb\"").is_err());
        let title: Title = serde_json::from_str("\"ok\"").unwrap();
        assert_eq!(serde_json::to_string(&title).unwrap(), "\"ok\"");
    }
}
