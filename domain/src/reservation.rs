//! A card saved at a PG for later charges.

use serde::{Deserialize, Serialize};

use crate::{ReservationId, Source, Timestamp, Title, Vendor};

/// A saved card ("reservation"), unique on its vendor `(code, uid)` and on its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentReservation {
    pub id: ReservationId,
    pub vendor: Vendor,
    pub source: Source,
    pub title: Title,
    /// The PG's JSON for the saved card (Iamport customer, Toss billing), unchanged.
    pub data: serde_json::Value,
    pub created_at: Timestamp,
}
