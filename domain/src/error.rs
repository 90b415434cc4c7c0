use crate::Money;

/// Why a value or a state change was refused by the domain.
///
/// Every variant is the caller's fault or the PG's, never ours: adapters map
/// [`DomainError::Invalid`] to 400 and the rest to 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A value failed its constructor. `field` is the wire name (e.g. `source.id`).
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    /// A cancel of zero (or less) was asked for.
    #[error("cancel amount must be greater than 0")]
    NonPositiveCancel,

    /// A cancel larger than what is left to refund.
    #[error("cancel amount {requested} exceeds the remaining balance {remaining}")]
    CancelExceedsBalance { requested: Money, remaining: Money },

    /// The PG charged a different amount than the caller registered.
    // The charged amount is not told: the caller learns that its price is
    // wrong, not what the payment of someone else's order was.
    #[error("price {expected} is not the amount the PG charged")]
    PriceMismatch { expected: Money, charged: Money },

    /// The PG says the payment can never be paid (failed, aborted, expired) or
    /// was cancelled before it was registered. `status` is the PG's own word.
    #[error("the PG reports the payment as {status}: it cannot be registered")]
    Unpayable { status: String },

    /// A PG snapshot that cannot describe this payment (another currency, a
    /// refund above the price, ...).
    #[error("inconsistent PG data: {0}")]
    InconsistentSnapshot(String),
}

impl DomainError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid { field, reason: reason.into() }
    }
}
