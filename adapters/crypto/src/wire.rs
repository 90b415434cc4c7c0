use aes::cipher::block_padding::{NoPadding, Pkcs7};
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
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
        // Every block is decrypted, the padding checked without an early
        // exit, and the UTF-8 check run over the text whether or not the
        // padding was right: a bad padding and bad text take the same steps,
        // so neither the answer nor its time tells them apart.
        let mut plaintext = match &self.key {
            Key::Aes128(k) => cbc::Decryptor::<aes::Aes128>::new(k.into(), (&self.iv).into())
                .decrypt_padded_vec_mut::<NoPadding>(&ciphertext),
            Key::Aes256(k) => cbc::Decryptor::<aes::Aes256>::new(k.into(), (&self.iv).into())
                .decrypt_padded_vec_mut::<NoPadding>(&ciphertext),
        }
        .map_err(|_| DecryptError::Length)?;
        let padding = pkcs7_padding(&plaintext);
        plaintext.truncate(plaintext.len() - padding.unwrap_or(0));
        match (padding, String::from_utf8(plaintext)) {
            (None, _) => Err(DecryptError::Padding),
            (Some(_), Err(_)) => Err(DecryptError::Utf8),
            (Some(_), Ok(text)) => Ok(text),
        }
    }
}

/// The length of the PKCS#7 padding ending `block_aligned` (1-16 bytes, each
/// equal to the length), or `None`: all 16 last bytes are looked at, with no
/// early exit.
fn pkcs7_padding(block_aligned: &[u8]) -> Option<usize> {
    let last = &block_aligned[block_aligned.len().checked_sub(16)?..];
    let n = last[15];
    let mut bad = u8::from(n == 0 || n > 16);
    for (i, byte) in last.iter().enumerate() {
        // Bytes inside the padding (the last n) must equal n.
        let inside = u8::from(16 - i <= usize::from(n));
        bad |= inside & u8::from(*byte != n);
    }
    (bad == 0).then_some(usize::from(n))
}

#[cfg(test)]
mod tests {
    use aes::cipher::block_padding::{Padding, Pkcs7};

    use super::*;

    /// The hand-written check agrees with the `block-padding` crate's on
    /// every padding length, every wrong byte in it and random blocks.
    #[test]
    fn padding_is_read_as_pkcs7_reads_it() {
        let library = |block: &[u8; 16]| {
            let block = aes::Block::from_slice(block);
            Pkcs7::unpad(block).ok().map(|text| 16 - text.len())
        };
        let mut cases: Vec<[u8; 16]> = Vec::new();
        for n in 0..=20u8 {
            let mut block = [0xAA; 16];
            for byte in block.iter_mut().rev().take(usize::from(n.min(16))) {
                *byte = n;
            }
            cases.push(block);
            for wrong in 0..usize::from(n.min(16)) {
                let mut spoiled = block;
                spoiled[15 - wrong] ^= 0x01;
                cases.push(spoiled);
            }
        }
        cases.extend((0..2000).map(|_| rand::random::<[u8; 16]>()));
        for block in &cases {
            assert_eq!(pkcs7_padding(block), library(block), "{block:?}");
        }
        assert_eq!(pkcs7_padding(&[]), None);
    }

    #[test]
    fn bad_padding_and_bad_text_are_told_apart_only_in_the_error() {
        let cipher = WireCipher::new(b"0123456789abcdef", b"fedcba9876543210").unwrap();
        let sealed = cipher.encrypt("{\"a\": \"한글\"}".as_bytes());
        assert_eq!(cipher.decrypt(&sealed).unwrap(), "{\"a\": \"한글\"}");
        let other = WireCipher::new(b"another 16 bytes", b"fedcba9876543210").unwrap();
        assert_eq!(other.decrypt(&sealed), Err(DecryptError::Padding));
        assert_eq!(cipher.decrypt(&cipher.encrypt(&[0xff, 0xfe])), Err(DecryptError::Utf8));
        assert_eq!(cipher.decrypt("AAAA"), Err(DecryptError::Length));
        assert_eq!(cipher.decrypt("not base64!"), Err(DecryptError::Base64));
    }
}
