use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::KeyError;

/// Why a wire body could not be decrypted. Callers outside local mode must
/// answer every variant the same way (no padding oracle); the variants exist
/// for logs and for local-mode hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("body is not base64")]
    Base64,
    #[error("ciphertext is not a whole number of 16-byte blocks")]
    Length,
    #[error("wrong key or corrupt ciphertext (bad padding)")]
    Padding,
    #[error("plaintext is not UTF-8")]
    Utf8,
}

#[derive(Clone)]
enum Key {
    Aes128([u8; 16]),
    Aes256([u8; 32]),
}

/// AES-CBC with PKCS#7 padding and standard base64, one fixed key and IV: the
/// wire format of the original project (its README: "AES-128/256, CBC mode,
/// PKCS #5 Padding, Base64 Encoding"). `Debug` never shows the key.
#[derive(Clone)]
pub struct WireCipher {
    key: Key,
    iv: [u8; 16],
}

impl std::fmt::Debug for WireCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bits = match self.key {
            Key::Aes128(_) => 128,
            Key::Aes256(_) => 256,
        };
        write!(f, "WireCipher(AES-{bits}-CBC)")
    }
}

impl WireCipher {
    /// A 16-byte key selects AES-128, a 32-byte key AES-256; the IV is 16 bytes.
    ///
    /// # Errors
    /// [`KeyError`] on other lengths.
    pub fn new(key: &[u8], iv: &[u8]) -> Result<Self, KeyError> {
        let key = match key.len() {
            16 => Key::Aes128(key.try_into().map_err(|_| KeyError::KeyLength(key.len()))?),
            32 => Key::Aes256(key.try_into().map_err(|_| KeyError::KeyLength(key.len()))?),
            other => return Err(KeyError::KeyLength(other)),
        };
        let iv = iv.try_into().map_err(|_| KeyError::IvLength(iv.len()))?;
        Ok(Self { key, iv })
    }

    /// Encrypts and base64-encodes.
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        let ciphertext = match &self.key {
            Key::Aes128(k) => cbc::Encryptor::<aes::Aes128>::new(k.into(), (&self.iv).into())
                .encrypt_padded_vec_mut::<Pkcs7>(plaintext),
            Key::Aes256(k) => cbc::Encryptor::<aes::Aes256>::new(k.into(), (&self.iv).into())
                .encrypt_padded_vec_mut::<Pkcs7>(plaintext),
        };
        STANDARD.encode(ciphertext)
    }

    /// Decodes base64 (surrounding whitespace ignored) and decrypts to UTF-8 text.
    ///
    /// # Errors
    /// [`DecryptError`] saying which step failed.
    pub fn decrypt(&self, body: &str) -> Result<String, DecryptError> {
        let ciphertext = STANDARD.decode(body.trim()).map_err(|_| DecryptError::Base64)?;
        if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
            return Err(DecryptError::Length);
        }
        let plaintext = match &self.key {
            Key::Aes128(k) => cbc::Decryptor::<aes::Aes128>::new(k.into(), (&self.iv).into())
                .decrypt_padded_vec_mut::<Pkcs7>(&ciphertext),
            Key::Aes256(k) => cbc::Decryptor::<aes::Aes256>::new(k.into(), (&self.iv).into())
                .decrypt_padded_vec_mut::<Pkcs7>(&ciphertext),
        }
        .map_err(|_| DecryptError::Padding)?;
        String::from_utf8(plaintext).map_err(|_| DecryptError::Utf8)
    }
}
