//! Known-answer vectors computed once with Node's
//! `crypto.createCipheriv(alg, Buffer.from(key), Buffer.from(iv))`, update(...,
//! "utf8", "base64") + final("base64"): what the original SDK sends.

use payments_crypto::{DecryptError, KeyError, WireCipher};
use proptest::prelude::*;

const PLAINTEXT: &str = r#"{"vendor":{"code":"iamport","store_id":"test-iamport-create-id","uid":"imp_1"},"price":19900,"password":"some-password"}"#;
const IV: &[u8] = b"fedcba9876543210";
const NODE_AES_128: &str = "6USge3TwzRla+Kc6NhnWkitr+xEVjjdDSC5gzLdmF8IUrITvCr/UwX8Y1nL/8bld9sVzhaAdIyBl54JDJ2rmKjaTQITL9PUonDwIV3dZiEVYkuAfhw83wkfK0xps0JD1deh/qFcfkzXOGhX8zkSYZuJbtQnrkgLpy40iuCYQ+d8=";
const NODE_AES_256: &str = "ms8hgUS10t63e3OquyONh2zOrPZmZAWNUFyA2b8g70j2gPmNscrv57/PL/sxjp1jKNgTsXoftki7T7Px0wBWtv4bx2JtnszNAP3Dt61Tm8C68TwFEX8BOO/bAriiQmQfVLAeAE6Do+LMv2favY55Vp5ZNmDP8VVKRLdTFyCajlQ=";

#[test]
fn aes_128_matches_node() {
    let cipher = WireCipher::new(b"0123456789abcdef", IV).unwrap();
    assert_eq!(cipher.encrypt(PLAINTEXT.as_bytes()), NODE_AES_128);
    assert_eq!(cipher.decrypt(NODE_AES_128).unwrap(), PLAINTEXT);
}

#[test]
fn aes_256_matches_node() {
    let cipher = WireCipher::new(b"0123456789abcdef0123456789abcdef", IV).unwrap();
    assert_eq!(cipher.encrypt(PLAINTEXT.as_bytes()), NODE_AES_256);
    assert_eq!(cipher.decrypt(&format!("  {NODE_AES_256}\n")).unwrap(), PLAINTEXT);
}

#[test]
fn refuses_bad_keys_and_ivs() {
    assert_eq!(WireCipher::new(b"short", IV).unwrap_err(), KeyError::KeyLength(5));
    assert_eq!(WireCipher::new(&[0; 24], IV).unwrap_err(), KeyError::KeyLength(24));
    assert_eq!(WireCipher::new(&[0; 16], b"iv").unwrap_err(), KeyError::IvLength(2));
    assert!(!format!("{:?}", WireCipher::new(b"0123456789abcdef", IV).unwrap()).contains("0123"));
}

#[test]
fn says_what_failed() {
    let cipher = WireCipher::new(b"0123456789abcdef0123456789abcdef", IV).unwrap();
    let other = WireCipher::new(b"fedcba9876543210fedcba9876543210", IV).unwrap();
    assert_eq!(cipher.decrypt("not base64!"), Err(DecryptError::Base64));
    assert_eq!(cipher.decrypt(""), Err(DecryptError::Length));
    assert_eq!(cipher.decrypt(&NODE_AES_256[..20]), Err(DecryptError::Length), "truncated to 15 bytes");
    assert_eq!(cipher.decrypt(&NODE_AES_256[..21]), Err(DecryptError::Base64), "cut inside a base64 quantum");
    assert_eq!(cipher.decrypt("AAAA"), Err(DecryptError::Length));
    // With the wrong key the padding check fails (almost always; the last block
    // decrypts to valid padding with probability ~1/256, then UTF-8 or JSON fails).
    assert!(other.decrypt(NODE_AES_256).is_err());
    let not_utf8 = cipher.encrypt(&[0xff, 0xfe]);
    assert_eq!(cipher.decrypt(&not_utf8), Err(DecryptError::Utf8));
}

proptest! {
    #[test]
    fn round_trips_any_text(text in ".*", big in any::<bool>()) {
        let key: &[u8] = if big { b"0123456789abcdef0123456789abcdef" } else { b"0123456789abcdef" };
        let cipher = WireCipher::new(key, IV).unwrap();
        prop_assert_eq!(cipher.decrypt(&cipher.encrypt(text.as_bytes())).unwrap(), text);
    }

    #[test]
    fn never_panics_on_garbage(body in ".{0,200}") {
        let cipher = WireCipher::new(b"0123456789abcdef", IV).unwrap();
        let _ = cipher.decrypt(&body);
    }
}
