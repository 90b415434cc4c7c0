//! Record identifiers and timestamps.

use chrono::{DateTime, SubsecRound, Utc};

macro_rules! id_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(::uuid::Uuid);

        impl $name {
            pub const fn from_uuid(uuid: ::uuid::Uuid) -> Self {
                Self(uuid)
            }
            pub const fn as_uuid(&self) -> ::uuid::Uuid {
                self.0
            }
        }

        impl From<::uuid::Uuid> for $name {
            fn from(uuid: ::uuid::Uuid) -> Self {
                Self(uuid)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}
pub(crate) use id_newtype;

id_newtype!(
    /// Id of a [`crate::PaymentHistory`].
    HistoryId
);
id_newtype!(
    /// Id of a [`crate::SavedCard`].
    SavedCardId
);
id_newtype!(
    /// Id of a [`crate::WebhookEvent`]; also the `webhook-id` header of every
    /// delivery attempt of that event.
    EventId
);

/// A point in time in UTC, kept at millisecond precision everywhere (what the
/// wire shows and what the databases store).
pub type Timestamp = DateTime<Utc>;

/// Truncates to whole milliseconds, the precision the wire and the databases keep.
pub fn to_millis(at: Timestamp) -> Timestamp {
    at.trunc_subsecs(3)
}
