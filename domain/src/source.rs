//! The caller's own record a payment or saved card belongs to.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::text::{check_text, text_newtype};

text_newtype!(
    /// Schema of the caller's record (a namespace of the caller's choosing).
    id SourceSchema, "source.schema", 255
);
text_newtype!(
    /// Table of the caller's record.
    id SourceTable, "source.table", 255
);
text_newtype!(
    /// Id of the caller's record, usually its order id (so a PG's order id:
    /// see [`OrderId`](crate::OrderId)), or a saved card's customer key. The
    /// caller's own text: Unicode letters (Korean) are kept.
    id SourceId, "source.id", 255
);

/// Where a record came from in the caller's system. Unique per record kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Source {
    pub schema: SourceSchema,
    pub table: SourceTable,
    pub id: SourceId,
}

impl Source {
    pub fn new(schema: SourceSchema, table: SourceTable, id: SourceId) -> Self {
        Self { schema, table, id }
    }

    /// Parses the three wire strings.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] naming the first bad field.
    pub fn parse(schema: &str, table: &str, id: &str) -> Result<Self, DomainError> {
        Ok(Self { schema: SourceSchema::parse(schema)?, table: SourceTable::parse(table)?, id: SourceId::parse(id)? })
    }
}

/// The secret a caller chose for one record; needed to read it back.
///
/// Never printed, never serialised: `Debug` shows `Password(***)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Longest accepted password, in bytes.
    pub const MAX_BYTES: usize = 1024;

    /// Accepts any non-empty password up to 1024 bytes without NUL.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] on `password`.
    pub fn parse(value: impl Into<String>) -> Result<Self, DomainError> {
        let value = value.into();
        if value.is_empty() {
            return Err(DomainError::invalid("password", "must not be empty"));
        }
        if value.len() > Self::MAX_BYTES {
            return Err(DomainError::invalid("password", format!("must be at most {} bytes", Self::MAX_BYTES)));
        }
        if value.contains('\0') {
            return Err(DomainError::invalid("password", "must not contain NUL characters"));
        }
        Ok(Self(value))
    }

    /// The secret itself, for the password hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A password hash in PHC string format (`$argon2id$v=19$...`).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by a password hasher or read from storage.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] when it is not a PHC string (`$id$...`).
    pub fn parse(phc: impl Into<String>) -> Result<Self, DomainError> {
        let phc = phc.into();
        check_text("password_hash", &phc, 1024)?;
        if !phc.starts_with('$') {
            return Err(DomainError::invalid("password_hash", "is not a PHC string"));
        }
        Ok(Self(phc))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_parse_names_the_bad_field() {
        assert_eq!(Source::parse("", "t", "i").unwrap_err().to_string(), "source.schema: must not be empty");
        assert_eq!(Source::parse("s", "", "i").unwrap_err().to_string(), "source.table: must not be empty");
        assert_eq!(Source::parse("s", "t", "").unwrap_err().to_string(), "source.id: must not be empty");
        assert!(Source::parse("s", "t", "i").is_ok());
    }

    #[test]
    fn password_is_never_printed() {
        let password = Password::parse("hunter2").unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
        assert!(Password::parse("").is_err());
        assert!(Password::parse("x".repeat(1025)).is_err());
        assert!(Password::parse(" ").is_ok(), "a password is opaque: spaces are allowed");
        let hash = PasswordHash::parse("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA").unwrap();
        assert_eq!(format!("{hash:?}"), "PasswordHash(***)");
        assert!(PasswordHash::parse("plain").is_err());
    }
}
