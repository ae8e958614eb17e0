//! The ID token: its claims read only after openidconnect checked signature (against the
//! provider's published keys; `alg: none` refused), issuer, audience, expiry and nonce.

use std::str::FromStr;

use onboarding_core::sso::ExternalIdentity;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdTokenFields, IdTokenVerifier, Nonce, StandardErrorResponse, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{SsoError, error_chain};

/// The claims beyond the standard ones, kept as JSON: the role claim is configured by name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Extra {
    #[serde(flatten)]
    pub other: Map<String, Value>,
}
impl AdditionalClaims for Extra {}

pub type IdToken = openidconnect::IdToken<
    Extra,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Fields = IdTokenFields<
    Extra,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
pub(crate) type TokenResponse = StandardTokenResponse<Fields, CoreTokenType>;
pub(crate) type Metadata = CoreProviderMetadata;
pub(crate) type Client = openidconnect::Client<
    Extra,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Parses a compact-serialized ID token (no checks yet).
pub fn parse_id_token(compact: &str) -> Result<IdToken, SsoError> {
    IdToken::from_str(compact).map_err(|e| SsoError::Token(e.to_string()))
}

/// The identity a token vouches for, once `verifier` accepted it and its nonce.
pub fn identity_from_token(
    token: &IdToken,
    verifier: &IdTokenVerifier<'_, CoreJsonWebKey>,
    nonce: &Nonce,
    role_claim: &str,
) -> Result<ExternalIdentity, SsoError> {
    let claims = token
        .claims(verifier, nonce)
        .map_err(|e| SsoError::Token(error_chain(&e)))?;
    Ok(ExternalIdentity {
        issuer: claims.issuer().to_string(),
        subject: claims.subject().to_string(),
        email: claims.email().map(|e| e.to_string()),
        email_verified: claims.email_verified().unwrap_or(false),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string()),
        claim_values: claim_values(&claims.additional_claims().other, role_claim),
    })
}

/// The string values at a dotted path (`realm_access.roles`): a string or an array of them.
fn claim_values(claims: &Map<String, Value>, path: &str) -> Vec<String> {
    let mut parts = path.split('.');
    let first = parts.next().unwrap_or_default();
    let mut cur = claims.get(first);
    for p in parts {
        cur = cur.and_then(|v| v.get(p));
    }
    match cur {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::{DateTime, TimeDelta, TimeZone, Utc};
    use openidconnect::core::CoreRsaPrivateSigningKey;
    use openidconnect::{
        Audience, ClientId, ClientSecret, EndUserEmail, IdTokenClaims, IssuerUrl, JsonWebKeyId,
        JsonWebKeySet, PrivateSigningKey, StandardClaims, SubjectIdentifier,
    };
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "https://idp.test/realms/corp";
    const CLIENT: &str = "portal";
    const KEY: &str = include_str!("test-key.pem");

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap()
    }

    fn key() -> CoreRsaPrivateSigningKey {
        CoreRsaPrivateSigningKey::from_pem(KEY, Some(JsonWebKeyId::new("k1".into()))).unwrap()
    }

    struct T {
        issuer: &'static str,
        audience: &'static str,
        nonce: &'static str,
        issued: DateTime<Utc>,
        expires: DateTime<Utc>,
    }

    impl Default for T {
        fn default() -> Self {
            Self {
                issuer: ISSUER,
                audience: CLIENT,
                nonce: "n-123",
                issued: now() - TimeDelta::minutes(1),
                expires: now() + TimeDelta::minutes(5),
            }
        }
    }

    fn claims(t: &T) -> IdTokenClaims<Extra, CoreGenderClaim> {
        let extra = Extra {
            other: json!({ "groups": ["portal-reviewers", "everyone"], "realm_access": { "roles": ["a", 1] } })
                .as_object()
                .unwrap()
                .clone(),
        };
        IdTokenClaims::new(
            IssuerUrl::new(t.issuer.into()).unwrap(),
            vec![Audience::new(t.audience.into())],
            t.expires,
            t.issued,
            StandardClaims::new(SubjectIdentifier::new("u-1".into()))
                .set_email(Some(EndUserEmail::new("rui@provider.test".into())))
                .set_email_verified(Some(true)),
            extra,
        )
        .set_nonce(Some(Nonce::new(t.nonce.into())))
    }

    fn signed(t: &T, key: &CoreRsaPrivateSigningKey) -> IdToken {
        IdToken::new(
            claims(t),
            key,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        )
        .unwrap()
    }

    fn check(token: &IdToken) -> Result<ExternalIdentity, SsoError> {
        let verifier = IdTokenVerifier::new_confidential_client(
            ClientId::new(CLIENT.into()),
            ClientSecret::new("client-secret".into()),
            IssuerUrl::new(ISSUER.into()).unwrap(),
            JsonWebKeySet::new(vec![key().as_verification_key()]),
        )
        .set_time_fn(now);
        identity_from_token(token, &verifier, &Nonce::new("n-123".into()), "groups")
    }

    fn refused(token: &IdToken, why: &str) {
        match check(token) {
            Err(SsoError::Token(msg)) => assert!(
                msg.to_lowercase().contains(why),
                "expected `{why}` in `{msg}`"
            ),
            other => panic!("expected a refusal ({why}), got {other:?}"),
        }
    }

    #[test]
    fn a_good_token_gives_the_identity_and_the_role_claim() {
        let id = check(&signed(&T::default(), &key())).unwrap();
        assert_eq!(id.issuer, ISSUER);
        assert_eq!(id.subject, "u-1");
        assert_eq!(id.email.as_deref(), Some("rui@provider.test"));
        assert!(id.email_verified);
        assert_eq!(id.claim_values, ["portal-reviewers", "everyone"]);
    }

    #[test]
    fn the_role_claim_may_be_a_string_or_a_nested_path() {
        let c = json!({ "roles": "admin", "realm_access": { "roles": ["a", 1, "b"] } });
        let c = c.as_object().unwrap();
        assert_eq!(claim_values(c, "roles"), ["admin"]);
        assert_eq!(claim_values(c, "realm_access.roles"), ["a", "b"]);
        assert!(claim_values(c, "groups").is_empty());
        assert!(claim_values(c, "realm_access.missing").is_empty());
    }

    #[test]
    fn a_wrong_issuer_is_refused() {
        let t = T {
            issuer: "https://evil.test",
            ..T::default()
        };
        refused(&signed(&t, &key()), "issuer");
    }

    #[test]
    fn a_wrong_audience_is_refused() {
        let t = T {
            audience: "another-app",
            ..T::default()
        };
        refused(&signed(&t, &key()), "audience");
    }

    #[test]
    fn a_wrong_nonce_is_refused() {
        let t = T {
            nonce: "replayed",
            ..T::default()
        };
        refused(&signed(&t, &key()), "nonce");
    }

    #[test]
    fn an_expired_token_is_refused() {
        let t = T {
            issued: now() - TimeDelta::minutes(20),
            expires: now() - TimeDelta::seconds(1),
            ..T::default()
        };
        refused(&signed(&t, &key()), "expired");
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        let good = signed(&T::default(), &key()).to_string();
        let payload = good.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let unsigned = parse_id_token(&format!("{header}.{payload}.")).unwrap();
        refused(&unsigned, "signature");
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused() {
        // The right key's id on a signature by a fresh key: the signature must not verify.
        let other = CoreRsaPrivateSigningKey::from_pem(
            &rsa_pem_of_another_key(),
            Some(JsonWebKeyId::new("k1".into())),
        )
        .unwrap();
        refused(&signed(&T::default(), &other), "signature");
    }

    fn rsa_pem_of_another_key() -> String {
        include_str!("test-key-2.pem").to_owned()
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let good = signed(&T::default(), &key()).to_string();
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let mut body: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        body["groups"] = json!(["portal-admins"]);
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).unwrap());
        refused(&parse_id_token(&parts.join(".")).unwrap(), "signature");
    }
}
