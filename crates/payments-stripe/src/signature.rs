//! Stripe's `Stripe-Signature` scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…]`, the HMAC
//! keyed with the endpoint's signing secret (`whsec_…`, used as it is) over `"{t}.{payload}"`.
//! Any `v1` entry matching any configured secret passes (several during a secret's rotation);
//! a timestamp further than the tolerance from now is refused, against replays.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Stripe's libraries refuse events signed more than five minutes away from now.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// Why a signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header, or no `t=` / `v1=` in it.
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    /// The timestamp is outside the tolerance.
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    /// No `v1` signature matches any configured secret.
    #[error("no signature matches")]
    Mismatch,
}

/// The `v1` signature of `payload` signed at `t` with `secret` (hex), as Stripe computes it.
pub fn sign(secret: &str, t: i64, payload: &[u8]) -> String {
    hex::encode(mac(secret, t, payload).finalize().into_bytes())
}

fn mac(secret: &str, t: i64, payload: &[u8]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(payload);
    m
}

/// Verifies `header` over the raw `payload` against every secret; `Ok` with the timestamp.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[&str],
    now: DateTime<Utc>,
    tolerance_seconds: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Malformed)?;
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now.timestamp() - t).abs() > tolerance_seconds {
        return Err(SignatureError::Stale);
    }
    // Constant-time comparisons (`verify_slice`): a timing difference must not leak the MAC.
    let ok = secrets.iter().any(|s| {
        v1.iter()
            .any(|sig| mac(s, t, payload).verify_slice(sig).is_ok())
    });
    if ok {
        Ok(t)
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
    }

    fn header(secret: &str, t: i64) -> String {
        format!("t={t},v1={}", sign(secret, t, BODY))
    }

    #[test]
    fn a_signature_made_as_stripe_documents_it_passes() {
        let t = now().timestamp();
        // Stripe's scheme, computed independently: HMAC-SHA256(secret, "{t}.{payload}").
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(b"whsec_test").unwrap();
        m.update(format!("{t}.").as_bytes());
        m.update(BODY);
        let expected = hex::encode(m.finalize().into_bytes());
        let h = format!("t={t},v1={expected},v0=ignored");
        assert_eq!(verify(Some(&h), BODY, &["whsec_test"], now(), 300), Ok(t));
    }

    #[test]
    fn a_wrong_secret_or_a_changed_body_is_refused() {
        let h = header("whsec_other", now().timestamp());
        assert_eq!(
            verify(Some(&h), BODY, &["whsec_test"], now(), 300),
            Err(SignatureError::Mismatch)
        );
        let h = header("whsec_test", now().timestamp());
        assert_eq!(
            verify(Some(&h), b"{}", &["whsec_test"], now(), 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_stale_or_future_timestamp_is_refused_even_when_signed_right() {
        for t in [now().timestamp() - 301, now().timestamp() + 301] {
            let h = header("whsec_test", t);
            assert_eq!(
                verify(Some(&h), BODY, &["whsec_test"], now(), 300),
                Err(SignatureError::Stale)
            );
        }
        let h = header("whsec_test", now().timestamp() - 300);
        assert!(verify(Some(&h), BODY, &["whsec_test"], now(), 300).is_ok());
    }

    #[test]
    fn during_a_rotation_either_secret_and_either_v1_entry_passes() {
        let t = now().timestamp();
        let both = format!(
            "t={t},v1={},v1={}",
            sign("whsec_new", t, BODY),
            sign("whsec_old", t, BODY)
        );
        assert!(verify(Some(&both), BODY, &["whsec_old"], now(), 300).is_ok());
        assert!(verify(Some(&both), BODY, &["whsec_new"], now(), 300).is_ok());
        let old_only = header("whsec_old", t);
        assert!(
            verify(
                Some(&old_only),
                BODY,
                &["whsec_new", "whsec_old"],
                now(),
                300
            )
            .is_ok()
        );
        assert_eq!(
            verify(Some(&old_only), BODY, &["whsec_new"], now(), 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_malformed_header_is_refused() {
        for h in [
            None,
            Some(""),
            Some("t=abc,v1=00"),
            Some("v1=00"),
            Some("t=1"),
        ] {
            assert_eq!(
                verify(h, BODY, &["whsec_test"], now(), 300),
                Err(SignatureError::Malformed),
                "{h:?}"
            );
        }
    }
}
