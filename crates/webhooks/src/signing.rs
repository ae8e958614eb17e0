//! Standard Webhooks signing: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")),
//! where the key is the base64-decoded part of the secret after `whsec_`. Several secrets (a
//! rotation's overlap) give several signatures, separated by spaces.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
const PREFIX: &str = "whsec_";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("a signing secret is `whsec_` followed by base64")]
    BadSecret,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the timestamp is not a number")]
    BadTimestamp,
    #[error("the timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    NoMatch,
    #[error(transparent)]
    Secret(#[from] SigningError),
}

/// The HMAC key of a `whsec_` secret (the prefix is optional, as in the reference libraries).
pub fn secret_key(secret: &str) -> Result<Vec<u8>, SigningError> {
    let b64 = secret.strip_prefix(PREFIX).unwrap_or(secret);
    STANDARD.decode(b64).map_err(|_| SigningError::BadSecret)
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(id.as_bytes());
    m.update(b".");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// One `v1,` signature.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SigningError> {
    let key = secret_key(secret)?;
    let tag = mac(&key, id, timestamp, body).finalize().into_bytes();
    Ok(format!("v1,{}", STANDARD.encode(tag)))
}

/// The three headers of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub id: String,
    pub timestamp: i64,
    /// Space-separated `v1,` signatures, one per secret, newest first.
    pub signature: String,
}

impl SignedHeaders {
    pub fn new(
        secrets: &[String],
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<Self, SigningError> {
        let sigs = secrets
            .iter()
            .map(|s| sign(s, id, timestamp, body))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SignedHeaders {
            id: id.to_owned(),
            timestamp,
            signature: sigs.join(" "),
        })
    }
}

/// Verifies a delivery as a receiver would: one of the `v1` signatures must match (compared in
/// constant time) and the timestamp must be within `tolerance_secs` of `now`.
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if (now - ts).abs() > tolerance_secs {
        return Err(VerifyError::Stale);
    }
    let key = secret_key(secret)?;
    let ok = signature_header
        .split(' ')
        .filter_map(|s| s.split_once(','))
        .filter(|(v, _)| *v == "v1")
        .filter_map(|(_, b64)| STANDARD.decode(b64).ok())
        .any(|tag| mac(&key, id, ts, body).verify_slice(&tag).is_ok());
    if ok {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example published with the Standard Webhooks specification (and reproduced by
    // every reference library's test suite).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn reproduces_the_specification_example() {
        assert_eq!(sign(SECRET, ID, TS, BODY).unwrap(), EXPECTED);
        // The prefix is optional.
        assert_eq!(sign(&SECRET[6..], ID, TS, BODY).unwrap(), EXPECTED);
    }

    #[test]
    fn several_secrets_give_space_separated_signatures_newest_first() {
        let other = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_owned();
        let h = SignedHeaders::new(&[other.clone(), SECRET.to_owned()], ID, TS, BODY).unwrap();
        let parts: Vec<&str> = h.signature.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1], EXPECTED);
        assert!(verify(SECRET, ID, "1614265330", &h.signature, BODY, TS, 300).is_ok());
        assert!(verify(&other, ID, "1614265330", &h.signature, BODY, TS, 300).is_ok());
    }

    #[test]
    fn verify_refuses_tampering_staleness_and_bad_secrets() {
        let ts = TS.to_string();
        assert_eq!(
            verify(SECRET, ID, &ts, EXPECTED, b"{}", TS, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(SECRET, "msg_other", &ts, EXPECTED, BODY, TS, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(SECRET, ID, &ts, EXPECTED, BODY, TS + 301, 300),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(SECRET, ID, "x", EXPECTED, BODY, TS, 300),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            verify(SECRET, ID, &ts, "v2,abc v1,!!", BODY, TS, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            sign("whsec_***", ID, TS, BODY),
            Err(SigningError::BadSecret)
        );
    }
}
