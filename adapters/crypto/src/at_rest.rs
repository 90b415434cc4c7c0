use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::KeyError;

/// Why a stored value could not be opened. Every variant means the row cannot
/// be trusted; none may be silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("stored value is not in the sealed format")]
    Format,
    #[error("stored value was sealed with key {0}, which is not configured")]
    UnknownKey(String),
    #[error("stored value failed authentication (tampered, moved, or wrong key)")]
    Tampered,
}

#[derive(Clone)]
enum Gcm {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
}

#[derive(Clone)]
struct Entry {
    id: String,
    gcm: Gcm,
}

impl Entry {
    fn new(key: &[u8]) -> Result<Self, KeyError> {
        let gcm = match key.len() {
            16 => Gcm::Aes128(Box::new(Aes128Gcm::new_from_slice(key).map_err(|_| KeyError::KeyLength(16))?)),
            32 => Gcm::Aes256(Box::new(Aes256Gcm::new_from_slice(key).map_err(|_| KeyError::KeyLength(32))?)),
            other => return Err(KeyError::KeyLength(other)),
        };
        Ok(Self { id: key_id(key), gcm })
    }
}

/// Names a key without revealing it: 8 hex digits of a domain-separated SHA-256.
fn key_id(key: &[u8]) -> String {
    let digest = Sha256::new().chain_update(b"payments/at-rest-key-id/v1").chain_update(key).finalize();
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// Authenticated encryption at rest for one kind of record (one keyring per
/// table, as the original keeps one key per table).
///
/// A sealed value is `v1.<key id>.<base64(nonce || ciphertext || tag)>`:
/// AES-GCM (AES-128 or AES-256 by key length) with a fresh random 96-bit nonce
/// per value. The caller passes associated data naming the column and row
/// (e.g. `payment_histories.data:<id>`), so a value copied into another row or
/// column fails to open. Values sealed under a previous key keep opening while
/// that key is configured; [`Keyring::is_current`] tells which rows a rotation
/// command must re-seal.
#[derive(Clone)]
pub struct Keyring {
    current: Entry,
    previous: Vec<Entry>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let previous: Vec<&str> = self.previous.iter().map(|e| e.id.as_str()).collect();
        f.debug_struct("Keyring").field("current", &self.current.id).field("previous", &previous).finish()
    }
}

impl Keyring {
    /// The key new values are sealed with, and older keys still accepted for
    /// opening. Keys are 16 or 32 bytes.
    ///
    /// # Errors
    /// [`KeyError::KeyLength`] for any key of another length.
    pub fn new(current: &[u8], previous: &[&[u8]]) -> Result<Self, KeyError> {
        Ok(Self {
            current: Entry::new(current)?,
            previous: previous.iter().map(|k| Entry::new(k)).collect::<Result<_, _>>()?,
        })
    }

    /// Id of the key new values are sealed with.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Encrypts `plaintext`, binding it to `context` (column and row).
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> String {
        let nonce = match &self.current.gcm {
            Gcm::Aes128(_) => Aes128Gcm::generate_nonce(&mut OsRng),
            Gcm::Aes256(_) => Aes256Gcm::generate_nonce(&mut OsRng),
        };
        let payload = Payload { msg: plaintext, aad: context };
        // Encryption only fails for inputs beyond GCM's 64 GiB limit, which no
        // record approaches; an empty ciphertext would then fail to open loudly.
        let ciphertext = match &self.current.gcm {
            Gcm::Aes128(c) => c.encrypt(&nonce, payload),
            Gcm::Aes256(c) => c.encrypt(&nonce, payload),
        }
        .unwrap_or_default();
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        format!("{VERSION}.{}.{}", self.current.id, STANDARD.encode(blob))
    }

    /// Decrypts a value sealed by any configured key under the same `context`.
    ///
    /// # Errors
    /// [`OpenError`] when the value is malformed, sealed by an unknown key, or
    /// fails authentication.
    pub fn open(&self, context: &[u8], sealed: &str) -> Result<Vec<u8>, OpenError> {
        let (id, blob) = parse(sealed)?;
        let entry = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|e| e.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::from_slice(nonce);
        let payload = Payload { msg: ciphertext, aad: context };
        match &entry.gcm {
            Gcm::Aes128(c) => c.decrypt(nonce, payload),
            Gcm::Aes256(c) => c.decrypt(nonce, payload),
        }
        .map_err(|_| OpenError::Tampered)
    }

    /// Whether `sealed` is sealed with the current key (so needs no rotation).
    pub fn is_current(&self, sealed: &str) -> bool {
        parse(sealed).is_ok_and(|(id, _)| id == self.current.id)
    }

    /// The id of the key `sealed` names, without opening it (`None` when it
    /// is not a sealed value).
    pub fn key_id(sealed: &str) -> Option<&str> {
        let mut parts = sealed.splitn(3, '.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(VERSION), Some(id), Some(_)) => Some(id),
            _ => None,
        }
    }

    /// Whether one of this keyring's keys (current or previous) is the one
    /// `sealed` names: it can be opened, unless tampered with.
    pub fn knows(&self, sealed: &str) -> bool {
        Self::key_id(sealed).is_some_and(|id| std::iter::once(&self.current).chain(&self.previous).any(|e| e.id == id))
    }
}

fn parse(sealed: &str) -> Result<(&str, Vec<u8>), OpenError> {
    let mut parts = sealed.splitn(3, '.');
    let (Some(VERSION), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(OpenError::Format);
    };
    let blob = STANDARD.decode(body).map_err(|_| OpenError::Format)?;
    if blob.len() < NONCE_LEN + 16 {
        return Err(OpenError::Format);
    }
    Ok((id, blob))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NEW: &[u8] = b"fedcba9876543210";

    #[test]
    fn a_sealed_value_names_its_key_and_a_keyring_knows_its_own() {
        let old = Keyring::new(OLD, &[]).unwrap();
        let sealed = old.seal(b"t.data:1", b"x");
        assert_eq!(Keyring::key_id(&sealed), Some(old.current_id()));
        assert!(old.knows(&sealed));
        assert!(Keyring::new(NEW, &[OLD]).unwrap().knows(&sealed), "a previous key is known");
        assert!(!Keyring::new(NEW, &[]).unwrap().knows(&sealed), "dropped: unknown");
        assert_eq!(Keyring::key_id("not sealed"), None);
    }

    #[test]
    fn seals_with_fresh_nonces_and_opens() {
        let ring = Keyring::new(OLD, &[]).unwrap();
        let a = ring.seal(b"t.data:1", b"{\"card\":\"4111\"}");
        let b = ring.seal(b"t.data:1", b"{\"card\":\"4111\"}");
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(a.starts_with(&format!("v1.{}.", ring.current_id())));
        assert_eq!(ring.open(b"t.data:1", &a).unwrap(), b"{\"card\":\"4111\"}");
        assert!(!a.contains("4111"));
    }

    #[test]
    fn tampering_moving_and_unknown_keys_fail_loudly() {
        let ring = Keyring::new(OLD, &[]).unwrap();
        let sealed = ring.seal(b"t.data:1", b"secret");
        assert_eq!(ring.open(b"t.data:2", &sealed), Err(OpenError::Tampered), "bound to its row");
        // Flip one bit of every byte in turn (nonce, ciphertext and tag): each
        // forgery is refused.
        let (prefix, body) = sealed.rsplit_once('.').unwrap();
        let blob = STANDARD.decode(body).unwrap();
        for i in 0..blob.len() {
            let mut forged = blob.clone();
            forged[i] ^= 0x01;
            let forged = format!("{prefix}.{}", STANDARD.encode(forged));
            assert_eq!(ring.open(b"t.data:1", &forged), Err(OpenError::Tampered), "byte {i}");
        }
        assert_eq!(ring.open(b"t.data:1", "plaintext"), Err(OpenError::Format));
        assert_eq!(ring.open(b"t.data:1", "v1.abc.###"), Err(OpenError::Format));
        let other = Keyring::new(NEW, &[]).unwrap();
        assert!(matches!(other.open(b"t.data:1", &sealed), Err(OpenError::UnknownKey(_))));
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let before = Keyring::new(OLD, &[]).unwrap();
        let sealed = before.seal(b"ctx", b"value");
        let after = Keyring::new(NEW, &[OLD]).unwrap();
        assert!(!after.is_current(&sealed));
        assert_eq!(after.open(b"ctx", &sealed).unwrap(), b"value");
        let resealed = after.seal(b"ctx", &after.open(b"ctx", &sealed).unwrap());
        assert!(after.is_current(&resealed));
        assert_ne!(before.current_id(), after.current_id());
        assert!(!format!("{after:?}").contains("0123"));
        assert!(Keyring::new(b"short", &[]).is_err());
    }
}
