//! What the portal remembers between sending the browser to the provider and its return:
//! `state`, `nonce` and the PKCE verifier, in an HMAC-signed, HttpOnly cookie (any replica
//! can finish the sign-in; a forged or replayed-after-expiry cookie is refused).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long a sign-in may take at the provider.
pub const PENDING_TTL_SECONDS: i64 = 600;

/// One sign-in under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The configured provider's id.
    pub provider: String,
    /// The `state` sent to the provider; the callback must bring it back.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier (the provider saw only its SHA-256 challenge).
    pub pkce_verifier: String,
    /// When the sign-in started (Unix seconds).
    pub started_at: i64,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length")
}

impl Pending {
    /// `payload.signature`, both base64url.
    pub fn seal(&self, key: &[u8]) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("serializable"));
        let mut m = mac(key);
        m.update(payload.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
        format!("{payload}.{sig}")
    }

    /// The sign-in a sealed cookie names, if its signature holds and it has not expired.
    pub fn open(sealed: &str, key: &[u8], now_unix: i64) -> Option<Self> {
        let (payload, sig) = sealed.split_once('.')?;
        let mut m = mac(key);
        m.update(payload.as_bytes());
        m.verify_slice(&URL_SAFE_NO_PAD.decode(sig).ok()?).ok()?;
        let p: Pending = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let age = now_unix - p.started_at;
        (0..=PENDING_TTL_SECONDS).contains(&age).then_some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> Pending {
        Pending {
            provider: "corp".into(),
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            started_at: 1_000,
        }
    }

    #[test]
    fn a_sealed_sign_in_opens_with_its_key_within_ten_minutes() {
        let sealed = pending().seal(b"key");
        assert_eq!(Pending::open(&sealed, b"key", 1_000), Some(pending()));
        assert_eq!(Pending::open(&sealed, b"key", 1_600), Some(pending()));
        assert_eq!(Pending::open(&sealed, b"key", 1_601), None, "expired");
        assert_eq!(Pending::open(&sealed, b"other", 1_000), None, "wrong key");
    }

    #[test]
    fn a_tampered_cookie_is_refused() {
        let sealed = pending().seal(b"key");
        let mut forged = pending();
        forged.state = "attacker".into();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let sig = sealed.split_once('.').unwrap().1;
        assert_eq!(
            Pending::open(&format!("{payload}.{sig}"), b"key", 1_000),
            None
        );
        assert_eq!(Pending::open("garbage", b"key", 1_000), None);
    }
}
