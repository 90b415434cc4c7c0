//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA1, 30 s
//! steps, 6 digits, as authenticator apps compute them; the secret travels
//! as base32 (RFC 4648, no padding) in an `otpauth://` URI.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Bytes of a new secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

/// A new random secret.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The code of `secret` at time step `step` (RFC 4226's HOTP, dynamic truncation).
pub fn code_at(secret: &[u8], step: u64, digits: u32) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary =
        u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    binary % 10u32.pow(digits)
}

/// The step `unix_seconds` falls in.
pub fn step_of(unix_seconds: i64) -> u64 {
    u64::try_from(unix_seconds.div_euclid(STEP_SECONDS)).unwrap_or(0)
}

/// The step whose code `code` is, within one step of `unix_seconds` (a
/// clock a little off, a code typed at a step's end), compared in constant
/// time; `None` for a code that is not six digits or matches no step. The
/// caller refuses a step at or before the last one accepted (no replay).
pub fn verify(secret: &[u8], code: &str, unix_seconds: i64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_seconds);
    let mut found = None;
    for step in [now.saturating_sub(1), now, now + 1] {
        let expected = format!("{:0width$}", code_at(secret, step, DIGITS), width = DIGITS as usize);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// [`SecondFactor`](payments_application::ports::SecondFactor) by TOTP,
/// its URIs naming `issuer` (the deployment, as the app lists it).
#[derive(Debug, Clone)]
pub struct Totp {
    pub issuer: String,
}

impl payments_application::ports::SecondFactor for Totp {
    fn new_secret(&self) -> Vec<u8> {
        new_secret()
    }

    fn verify(&self, secret: &[u8], code: &str, at: payments_domain::Timestamp) -> Option<u64> {
        verify(secret, code, at.timestamp())
    }

    fn enrolment_uri(&self, account: &str, secret: &[u8]) -> String {
        otpauth_uri(&self.issuer, account, secret)
    }
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (what authenticator apps take).
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buffer = [0u8; 5];
        buffer[..chunk.len()].copy_from_slice(chunk);
        let bits = buffer.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            let index = (bits >> (35 - i * 5)) & 0x1f;
            out.push(char::from(BASE32[index as usize]));
        }
    }
    out
}

/// The bytes of RFC 4648 base32 text (no padding; `None` for another character).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let (mut bits, mut count, mut out) = (0u64, 0u32, Vec::with_capacity(text.len() * 5 / 8));
    for c in text.bytes() {
        let value = BASE32.iter().position(|a| *a == c.to_ascii_uppercase())?;
        bits = ((bits << 5) | value as u64) & 0xffff;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push(((bits >> count) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The secret an `otpauth://` URI carries.
pub fn secret_of_uri(uri: &str) -> Option<Vec<u8>> {
    let query = uri.split_once('?')?.1;
    let encoded = query.split('&').find_map(|pair| pair.strip_prefix("secret="))?;
    base32_decode(encoded)
}

/// The `otpauth://` URI an authenticator app scans or takes pasted.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let label = format!("{issuer}:{account}");
    format!(
        "otpauth://totp/{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        urlencode(&label),
        base32(secret),
        urlencode(issuer)
    )
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret and vectors (8 digits).
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_vectors() {
        for (time, code) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(code_at(RFC_SECRET, step_of(time), 8), code, "at {time}");
        }
    }

    #[test]
    fn a_code_verifies_within_one_step_only() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let code = format!("{:06}", code_at(&secret, step_of(now), DIGITS));
        assert_eq!(verify(&secret, &code, now), Some(step_of(now)));
        assert_eq!(verify(&secret, &code, now + STEP_SECONDS), Some(step_of(now)), "a step late");
        assert_eq!(verify(&secret, &code, now - STEP_SECONDS), Some(step_of(now)), "a step early");
        assert_eq!(verify(&secret, &code, now + 3 * STEP_SECONDS), None);
        assert_eq!(verify(&secret, " 12a456", now), None);
        assert_eq!(verify(&secret, "1234567", now), None);
        assert_eq!(verify(&new_secret(), &code, now), None, "another secret");
    }

    #[test]
    fn base32_is_rfc_4648_without_padding() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fo"), "MZXQ");
        assert_eq!(base32(b"foo"), "MZXW6");
        assert_eq!(base32(b"foob"), "MZXW6YQ");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(RFC_SECRET), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", RFC_SECRET, &new_secret()] {
            assert_eq!(base32_decode(&base32(bytes)).as_deref(), Some(bytes));
        }
        assert_eq!(base32_decode("MZXW6!"), None);
    }

    #[test]
    fn the_uri_names_issuer_and_account() {
        let uri = otpauth_uri("payments", "kim@shop", RFC_SECRET);
        assert_eq!(
            uri,
            "otpauth://totp/payments%3Akim%40shop?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=payments&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(secret_of_uri(&uri).as_deref(), Some(RFC_SECRET));
    }
}
