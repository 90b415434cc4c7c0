//! Operators: the people who use the console (support, finance, on-call),
//! each with a role, and the append-only trail of what they saw and did.
//!
//! An operator never uses a record's password: the role decides what the
//! console shows and lets them do, and every such action is audited.

use serde::{Deserialize, Serialize};

use crate::{DomainError, Timestamp};

crate::ids::id_newtype!(
    /// Id of an [`Operator`].
    OperatorId
);

crate::ids::id_newtype!(
    /// Id of an [`AuditEntry`] (time-ordered: UUID v7).
    AuditId
);

/// An operator's login name: 3 to 64 of `a-z 0-9 . _ @ -`, stored lowercase.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OperatorName(String);

impl OperatorName {
    pub const FIELD: &'static str = "name";
    pub const MAX_CHARS: usize = 64;

    /// # Errors
    /// [`DomainError::Invalid`] naming `name`.
    pub fn parse(value: impl Into<String>) -> Result<Self, DomainError> {
        let value = value.into().trim().to_lowercase();
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '@' | '-');
        if !(3..=Self::MAX_CHARS).contains(&value.chars().count()) {
            return Err(DomainError::Invalid {
                field: Self::FIELD,
                reason: format!("must be 3 to {} characters", Self::MAX_CHARS),
            });
        }
        if !value.chars().all(allowed) {
            return Err(DomainError::Invalid {
                field: Self::FIELD,
                reason: "may hold only letters, digits and . _ @ -".into(),
            });
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OperatorName {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<OperatorName> for String {
    fn from(value: OperatorName) -> String {
        value.0
    }
}

impl std::fmt::Display for OperatorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for OperatorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OperatorName({:?})", self.0)
    }
}

/// What an operator may do, each role all of the one before and more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads payments, their timelines, deliveries and notifications.
    Viewer,
    /// A viewer who also refunds, re-reads from the PG and redelivers.
    Support,
    /// Support who also manages operators, runs the reconciler and reads the audit log.
    Admin,
}

/// One thing a role allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    Read,
    /// Cancel in part or whole (moves money).
    Refund,
    /// Re-read a payment from its PG now.
    Reread,
    /// Deliver a webhook event again.
    Redeliver,
    /// Add, disable and reset operators.
    ManageOperators,
    /// Run the reconciler now.
    Reconcile,
    /// Read the audit log.
    ReadAudit,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Support, Role::Admin];

    /// # Errors
    /// [`DomainError::Invalid`] naming `role`.
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|r| r.as_str() == value.trim()).ok_or_else(|| DomainError::Invalid {
            field: "role",
            reason: format!("{value:?} is none of viewer, support, admin"),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Support => "support",
            Role::Admin => "admin",
        }
    }

    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::Read => true,
            Permission::Refund | Permission::Reread | Permission::Redeliver => self >= Role::Support,
            Permission::ManageOperators | Permission::Reconcile | Permission::ReadAudit => self == Role::Admin,
        }
    }

    /// Roles that can move money sign in with a second factor (TOTP).
    pub fn needs_second_factor(self) -> bool {
        self.allows(Permission::Refund)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person who uses the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: OperatorId,
    pub name: OperatorName,
    pub role: Role,
    pub created_at: Timestamp,
    /// Since when they cannot sign in (`operators disable`).
    pub disabled_at: Option<Timestamp>,
}

impl Operator {
    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// What an audited action was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Login,
    LoginFailed,
    Logout,
    /// A session ended for being idle.
    SessionExpired,
    /// A payment's page (its PG data) was shown.
    ViewPayment,
    SearchPayments,
    Refund,
    Reread,
    Redeliver,
    RemoveSavedCard,
    Reconcile,
    OperatorAdded,
    OperatorDisabled,
    OperatorReset,
    /// A client (a backend's API key) revoked.
    ClientRevoked,
    /// An action the operator's role does not allow, or a forged form.
    Forbidden,
}

impl AuditAction {
    pub const ALL: [AuditAction; 16] = [
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::Logout,
        AuditAction::SessionExpired,
        AuditAction::ViewPayment,
        AuditAction::SearchPayments,
        AuditAction::Refund,
        AuditAction::Reread,
        AuditAction::Redeliver,
        AuditAction::RemoveSavedCard,
        AuditAction::Reconcile,
        AuditAction::OperatorAdded,
        AuditAction::OperatorDisabled,
        AuditAction::OperatorReset,
        AuditAction::ClientRevoked,
        AuditAction::Forbidden,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::Logout => "logout",
            AuditAction::SessionExpired => "session_expired",
            AuditAction::ViewPayment => "view_payment",
            AuditAction::SearchPayments => "search_payments",
            AuditAction::Refund => "refund",
            AuditAction::Reread => "reread",
            AuditAction::Redeliver => "redeliver",
            AuditAction::RemoveSavedCard => "remove_saved_card",
            AuditAction::Reconcile => "reconcile",
            AuditAction::OperatorAdded => "operator_added",
            AuditAction::OperatorDisabled => "operator_disabled",
            AuditAction::OperatorReset => "operator_reset",
            AuditAction::ClientRevoked => "client_revoked",
            AuditAction::Forbidden => "forbidden",
        }
    }

    /// # Errors
    /// [`DomainError::Invalid`] naming `action`.
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|a| a.as_str() == value).ok_or_else(|| DomainError::Invalid {
            field: "action",
            reason: format!("{value:?} is not an audited action"),
        })
    }
}

/// One row of the audit trail: who did what, when, to which record, with
/// what outcome; never changed or deleted by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: AuditId,
    pub at: Timestamp,
    /// `None` for a failed login of an unknown name (`actor` says what was typed, bounded).
    pub operator: Option<OperatorId>,
    /// The operator's name at the time (or the name a failed login gave).
    pub actor: String,
    pub action: AuditAction,
    /// The record acted on (`history:<id>`, `event:<id>`, `operator:<name>`), if any.
    pub record: Option<String>,
    /// `ok`, or why not (bounded text, never a secret).
    pub outcome: String,
    pub request_id: Option<String>,
    /// The client address the request came from.
    pub address: Option<String>,
}

impl AuditEntry {
    /// Longest free text kept in `actor`, `record` and `outcome`.
    pub const MAX_TEXT: usize = 200;

    /// `text` cut to [`AuditEntry::MAX_TEXT`] characters, control characters replaced.
    pub fn bounded(text: &str) -> String {
        text.chars().take(Self::MAX_TEXT).map(|c| if c.is_control() { ' ' } else { c }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_bounded_and_plain() {
        assert_eq!(OperatorName::parse("  Kim.Support@Shop ").unwrap().as_str(), "kim.support@shop");
        assert!(OperatorName::parse("ab").is_err());
        assert!(OperatorName::parse("a".repeat(65)).is_err());
        let err = OperatorName::parse("kim support").unwrap_err().to_string();
        assert!(err.starts_with("name:"), "{err}");
        assert!(OperatorName::parse("kim<script>").is_err());
    }

    #[test]
    fn each_role_allows_the_one_before_and_more() {
        use Permission::*;
        let all = [Read, Refund, Reread, Redeliver, ManageOperators, Reconcile, ReadAudit];
        let allowed = |role: Role| all.iter().filter(|p| role.allows(**p)).count();
        assert_eq!((allowed(Role::Viewer), allowed(Role::Support), allowed(Role::Admin)), (1, 4, 7));
        assert!(!Role::Viewer.allows(Refund));
        assert!(Role::Support.allows(Refund) && !Role::Support.allows(ReadAudit));
        assert!(!Role::Viewer.needs_second_factor());
        assert!(Role::Support.needs_second_factor() && Role::Admin.needs_second_factor());
        assert_eq!(Role::parse("support").unwrap(), Role::Support);
        assert!(Role::parse("root").unwrap_err().to_string().starts_with("role:"));
    }

    #[test]
    fn audit_actions_round_trip_and_text_is_bounded() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()).unwrap(), action);
        }
        assert!(AuditAction::parse("delete_everything").is_err());
        let long = format!("{}\n{}", "x".repeat(300), "y");
        let bounded = AuditEntry::bounded(&long);
        assert_eq!(bounded.chars().count(), AuditEntry::MAX_TEXT);
        assert!(!AuditEntry::bounded("a\nb").contains('\n'));
    }
}
