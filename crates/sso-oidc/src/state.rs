//! What the portal remembers between sending the browser to the provider and its return:
//! `state`, `nonce` and the PKCE verifier. The web portal keeps it sealed with the portal's
//! vault (authenticated encryption) in an HttpOnly cookie, so any replica can finish the
//! sign-in and a forged, altered or stale cookie is refused.

use serde::{Deserialize, Serialize};

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

impl Pending {
    /// The text to seal.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("serializable")
    }

    /// The sign-in an opened cookie names, if it is one and has not expired.
    pub fn from_json(text: &str, now_unix: i64) -> Option<Self> {
        let p: Pending = serde_json::from_str(text).ok()?;
        let age = now_unix - p.started_at;
        (0..=PENDING_TTL_SECONDS).contains(&age).then_some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_sign_in_lasts_ten_minutes() {
        let p = Pending {
            provider: "corp".into(),
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            started_at: 1_000,
        };
        let text = p.to_json();
        assert_eq!(Pending::from_json(&text, 1_000), Some(p.clone()));
        assert_eq!(Pending::from_json(&text, 1_600), Some(p));
        assert_eq!(Pending::from_json(&text, 1_601), None, "expired");
        assert_eq!(Pending::from_json(&text, 999), None, "from the future");
        assert_eq!(Pending::from_json("garbage", 1_000), None);
    }
}
