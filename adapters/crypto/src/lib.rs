//! Cryptography of the payment server.
//!
//! - [`WireCipher`]: AES-CBC/PKCS#7 + base64 over request and response bodies
//!   and outgoing webhooks, byte-compatible with the original project's SDK
//!   (Node's `createCipheriv("aes-256-cbc", key, iv)`).
//! - [`Keyring`]: authenticated encryption at rest (AES-GCM, a fresh random
//!   nonce per value, the value bound to its column and row), with key ids so
//!   old keys keep decrypting after rotation.
//! - [`Argon2Hasher`]: argon2id record passwords, hashed off the async
//!   executor with bounded parallelism.

mod at_rest;
mod password;
pub mod totp;
mod wire;

pub use at_rest::{Keyring, OpenError};
pub use password::{Argon2Hasher, Argon2Params, HashObserver, HasherLoad};
pub use wire::{DecryptError, WireCipher};

/// A key or IV of the wrong length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key must be 16 or 32 bytes (AES-128 or AES-256), got {0}")]
    KeyLength(usize),
    #[error("IV must be 16 bytes, got {0}")]
    IvLength(usize),
}
