//! A client: a backend service that calls this server with its own API key,
//! its own wire key and its own webhook secret, and owns the records it makes.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{DomainError, Timestamp};

crate::ids::id_newtype!(
    /// Id of a [`Client`]. [`ClientId::LEGACY`] is the legacy client: the
    /// configured connection key and webhook secret, and every record made
    /// before clients existed.
    ClientId
);

impl ClientId {
    /// The legacy client (the nil UUID).
    pub const LEGACY: ClientId = ClientId::from_uuid(uuid::Uuid::nil());

    pub fn is_legacy(self) -> bool {
        self == Self::LEGACY
    }

    /// [`ClientId::is_legacy`] by reference (for serde's `skip_serializing_if`).
    pub fn is_legacy_ref(&self) -> bool {
        self.is_legacy()
    }
}

impl Default for ClientId {
    /// A record that names no client (made before clients existed) is the legacy client's.
    fn default() -> Self {
        Self::LEGACY
    }
}

/// What a client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read payments and orders.
    Read,
    /// Register payments and orders.
    Register,
    /// Cancel payments.
    Cancel,
    /// Save, read and remove cards.
    Cards,
    /// Charge saved cards.
    Charge,
    /// Read its event feed and redeliver events.
    Events,
}

impl Scope {
    pub const ALL: [Scope; 6] =
        [Scope::Read, Scope::Register, Scope::Cancel, Scope::Cards, Scope::Charge, Scope::Events];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Register => "register",
            Scope::Cancel => "cancel",
            Scope::Cards => "cards",
            Scope::Charge => "charge",
            Scope::Events => "events",
        }
    }
}

/// A client's scopes: a non-empty set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// Every scope.
    pub fn all() -> Self {
        Self(Scope::ALL.into_iter().collect())
    }

    /// Parses `read,register,...` (or `all`).
    ///
    /// # Errors
    /// [`DomainError::Invalid`] naming `scopes` for an empty list or an unknown scope.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        if text.trim() == "all" {
            return Ok(Self::all());
        }
        let mut scopes = BTreeSet::new();
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let scope = Scope::ALL.into_iter().find(|s| s.as_str() == word).ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                DomainError::invalid("scopes", format!("{word:?} is not one of {}", known.join(", ")))
            })?;
            scopes.insert(scope);
        }
        if scopes.is_empty() {
            return Err(DomainError::invalid("scopes", "at least one scope"));
        }
        Ok(Self(scopes))
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// `read,register,...`, in declaration order.
    pub fn to_text(&self) -> String {
        self.0.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
    }
}

/// A client's name, for people: 1 to 64 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientName(String);

impl ClientName {
    /// # Errors
    /// [`DomainError::Invalid`] naming `name`.
    pub fn parse(value: impl Into<String>) -> Result<Self, DomainError> {
        let value = value.into();
        let value = value.trim();
        if value.is_empty() || value.chars().count() > 64 || value.chars().any(char::is_control) {
            return Err(DomainError::invalid("name", "1 to 64 printable characters"));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client, without its secrets (those live sealed in storage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: ClientId,
    pub name: ClientName,
    pub scopes: Scopes,
    /// Its bodies are plain JSON (`application/json`, for a deployment whose
    /// TLS protects the wire) instead of the AES envelope.
    pub plain_json: bool,
    /// Requests a second it may make (each instance counts its own); `None`:
    /// the server's default (`PAYMENT_CLIENT_RATE_PER_SEC`).
    pub rate_per_second: Option<u32>,
    pub created_at: Timestamp,
    /// Revoked: its key answers 401; its records stay.
    pub revoked_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_from_a_list_or_all_and_refuse_the_unknown() {
        assert_eq!(Scopes::parse("register, read").unwrap().to_text(), "read,register");
        assert_eq!(Scopes::parse("all").unwrap(), Scopes::all());
        assert!(Scopes::parse("read").unwrap().allows(Scope::Read));
        assert!(!Scopes::parse("read").unwrap().allows(Scope::Cancel));
        for wrong in ["", " , ", "read,refund"] {
            assert!(matches!(Scopes::parse(wrong), Err(DomainError::Invalid { field: "scopes", .. })), "{wrong:?}");
        }
    }

    #[test]
    fn names_are_printable_and_bounded() {
        assert_eq!(ClientName::parse("  orders service ").unwrap().as_str(), "orders service");
        assert!(ClientName::parse("").is_err());
        assert!(ClientName::parse("a\nb").is_err());
        assert!(ClientName::parse("x".repeat(65)).is_err());
    }

    #[test]
    fn the_legacy_client_is_the_default_owner() {
        assert!(ClientId::default().is_legacy());
        assert!(!ClientId::from_uuid(uuid::Uuid::from_u128(1)).is_legacy());
    }
}
