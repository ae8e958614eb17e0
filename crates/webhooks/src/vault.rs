//! [`ChaChaVault`]: the `SecretVault` adapter. Webhook signing secrets must be used again at
//! every delivery, so they cannot be hashed; they are sealed with XChaCha20-Poly1305 under the
//! operator's 32-byte key (a random 24-byte nonce per seal, so no nonce bookkeeping).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use onboarding_core::ports::SecretVault;

const VERSION: &str = "xc1:";

pub struct ChaChaVault {
    cipher: XChaCha20Poly1305,
}

// The key never reaches a log.
impl fmt::Debug for ChaChaVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChaChaVault(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the vault key is 32 bytes, base64-encoded")]
pub struct BadKey;

impl ChaChaVault {
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// From the configured key: 32 bytes in standard or URL-safe base64.
    pub fn from_base64(key: &str) -> Result<Self, BadKey> {
        let key = key.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .or_else(|_| URL_SAFE_NO_PAD.decode(key))
            .map_err(|_| BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| BadKey)?;
        Ok(Self::new(key))
    }

    /// A fresh random key, base64-encoded (for `portal-server`'s key generation command).
    pub fn generate_key() -> String {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).expect("the OS random source works");
        base64::engine::general_purpose::STANDARD.encode(k)
    }
}

impl SecretVault for ChaChaVault {
    fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the OS random source works");
        let ct = self
            .cipher
            .encrypt(&XNonce::from(nonce), plaintext.as_bytes())
            .expect("encryption of a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    fn open(&self, sealed: &str) -> Option<String> {
        let raw = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(VERSION)?).ok()?;
        if raw.len() < 24 {
            return None;
        }
        let (nonce, ct) = raw.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        let pt = self.cipher.decrypt(&XNonce::from(nonce), ct).ok()?;
        String::from_utf8(pt).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_foreign_or_tampered_text() {
        let v = ChaChaVault::from_base64(&ChaChaVault::generate_key()).unwrap();
        let s = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let a = v.seal(s);
        assert!(!a.contains("MfKQ"));
        assert_ne!(a, v.seal(s), "a fresh nonce each time");
        assert_eq!(v.open(&a).as_deref(), Some(s));
        let other = ChaChaVault::new([7; 32]);
        assert_eq!(other.open(&a), None);
        let mut t = a.clone().into_bytes();
        let last = t.len() - 2;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(v.open(&String::from_utf8(t).unwrap()), None);
        assert_eq!(v.open("testvault:x"), None);
        assert!(ChaChaVault::from_base64("c2hvcnQ=").is_err());
        assert_eq!(format!("{v:?}"), "ChaChaVault(***)");
    }
}
