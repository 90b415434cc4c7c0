//! Keys derived from what identifies an operation (so every retry sends the same one) and the
//! lookup digests of identifiers kept sealed.

/// The lookup digest of an identifier kept sealed at rest (a PG's saved-card
/// key, a PG's order id): SHA-256 in lower-case hex, so a record is found by
/// it without opening every row.
pub fn lookup_digest(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A PG idempotency key derived from what identifies one operation, so every
/// retry of that operation sends the same key: `payments-{purpose}-` and the
/// SHA-256 (hex) of the length-prefixed parts (at most 73 characters plus the
/// purpose; Toss takes 300).
pub fn derived_key(purpose: &str, parts: &[&str]) -> String {
    format!("payments-{purpose}-{}", hex(&digest_of(parts)))
}

/// An id derived from what identifies one operation (the first 16 bytes of
/// [`digest_of`]), so every retry of it finds the same record.
pub(crate) fn derived_id(parts: &[&str]) -> uuid::Uuid {
    let digest = digest_of(parts);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// SHA-256 of the length-prefixed `parts` (so `["ab", "c"]` and `["a", "bc"]` differ).
fn digest_of(parts: &[&str]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    for part in parts {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    digest.finalize().into()
}
