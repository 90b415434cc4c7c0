//! A card saved at a PG for later charges.

use serde::{Deserialize, Serialize};

use crate::{ClientId, SavedCardId, Source, Timestamp, Title, Vendor};

/// A saved card ("reservation"), unique on its vendor `(code, uid)` and, per client, on its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedCard {
    pub id: SavedCardId,
    pub vendor: Vendor,
    pub source: Source,
    pub title: Title,
    /// The PG's JSON for the saved card (Iamport customer, Toss billing), unchanged.
    pub data: serde_json::Value,
    /// SHA-256 (lower-case hex) of the PG's key for charging the card (Toss
    /// `billingKey`, Iamport `customer_uid`), so a PG notice naming the key
    /// finds the record while the key itself stays sealed in `data`.
    pub key_digest: Option<String>,
    pub created_at: Timestamp,
    /// When the PG said the card was removed; a removed card is kept, never charged.
    pub removed_at: Option<Timestamp>,
    /// The client it belongs to.
    #[serde(default, skip_serializing_if = "ClientId::is_legacy_ref")]
    pub client: ClientId,
}
