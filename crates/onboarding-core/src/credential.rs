//! Credentials (spec §7): secret format, hash-only storage, regenerate / rotate / revoke, the
//! verification decision and the production lock.
//!
//! A secret reads `sk_sbx_<32 base62 random><6 base62 CRC-32>`: the kind (`sk` API key, `cs`
//! OAuth client secret, `at` OAuth access token), the environment (`sbx` or `prod`), the random
//! body, and a checksum over everything before it. The checksum lets the hot path refuse typos
//! and truncations without a database look-up; only the SHA-256 of the whole secret is stored.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::ids::{CredentialId, ProjectId, SubscriptionId, WorkspaceId};
use crate::pipeline::{PhaseKind, Subscription};
use crate::plan::Plan;
use crate::project::Environment;
use crate::values::{FieldError, Label};

mod secret;
pub(crate) use secret::hex;
pub use secret::{
    IssuedSecret, ParsedSecret, SECRET_BODY_LEN, SecretFormatError, SecretHash, SecretKind,
    parse_secret,
};

/// API key or OAuth client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CredentialKind {
    /// An API key: one secret, presented as a bearer credential.
    ApiKey,
    /// The client id is public; the secret is the credential's secret.
    OauthClient {
        /// The public client id, sent with the secret to the token endpoint.
        client_id: String,
    },
}

impl CredentialKind {
    /// The kind of secret this credential is issued: `sk` for API keys, `cs` for OAuth clients.
    pub fn secret_kind(&self) -> SecretKind {
        match self {
            CredentialKind::ApiKey => SecretKind::ApiKey,
            CredentialKind::OauthClient { .. } => SecretKind::ClientSecret,
        }
    }
}

/// The stored form of the current secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRecord {
    /// The SHA-256 of the current secret.
    pub hash: SecretHash,
    /// The readable prefix (`sk_sbx_`), shown in listings.
    pub prefix: String,
    /// The last four characters of the secret, shown in listings.
    pub last4: String,
    /// When this secret was issued (creation, regeneration or rotation).
    pub created_at: DateTime<Utc>,
}

impl SecretRecord {
    /// The stored record of a freshly issued secret (hash, prefix, last four).
    pub fn of(secret: &IssuedSecret, now: DateTime<Utc>) -> Self {
        Self {
            hash: secret.hash(),
            prefix: secret.display_prefix(),
            last4: secret.last4(),
            created_at: now,
        }
    }
}

/// A rotated-out secret that keeps working until its grace deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiringSecret {
    /// The SHA-256 of the rotated-out secret.
    pub hash: SecretHash,
    /// Its last four characters, so listings can show which secret is retiring.
    pub last4: String,
    /// The grace deadline: after it the old secret is refused as `expired`.
    pub expires_at: DateTime<Utc>,
}

/// Whether a credential still works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CredentialStatus {
    /// Verifies (subject to its secrets' own expiry).
    Active,
    /// Revoked: every secret of the credential stopped at once; irreversible.
    Revoked {
        /// When it was revoked.
        at: DateTime<Utc>,
        /// Who revoked it.
        by: Actor,
    },
}

/// A credential. It belongs to a project and carries only hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    /// The credential's ULID, returned by verification.
    pub id: CredentialId,
    /// The workspace that owns the project.
    pub workspace_id: WorkspaceId,
    /// The project that owns the credential (a sandbox project holds only sandbox credentials).
    pub project_id: ProjectId,
    /// The subscription it was created under; its phase and plan decide the production lock.
    pub subscription_id: SubscriptionId,
    /// Sandbox or production; must match the project's environment and the secret's prefix.
    pub environment: Environment,
    /// API key or OAuth client.
    pub kind: CredentialKind,
    /// A label chosen by the team ("checkout service").
    pub name: Label,
    /// Active or revoked.
    pub status: CredentialStatus,
    /// The current secret, as a hash.
    pub secret: SecretRecord,
    /// A rotated-out secret still inside its grace period; cleared on regenerate and revoke.
    pub previous: Option<RetiringSecret>,
    /// When the credential was created.
    pub created_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: Actor,
    /// Optimistic concurrency: an update is stored only if nobody changed the row since.
    pub version: i64,
}

/// How long a rotated-out secret keeps working: at most 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracePeriod(TimeDelta);

impl GracePeriod {
    /// The default grace period: 24 hours.
    pub const DEFAULT: GracePeriod = GracePeriod(TimeDelta::hours(24));
    /// The longest grace period allowed: 7 days.
    pub const MAX: TimeDelta = TimeDelta::days(7);

    /// A grace period; refused when negative or longer than [`GracePeriod::MAX`].
    pub fn new(d: TimeDelta) -> Result<Self, FieldError> {
        if d < TimeDelta::zero() {
            return Err(FieldError::new(
                "grace_period_seconds",
                "a grace period cannot be negative",
            ));
        }
        if d > Self::MAX {
            return Err(FieldError::new(
                "grace_period_seconds",
                "a grace period is at most 7 days (604800 seconds)",
            ));
        }
        Ok(Self(d))
    }

    /// A grace period of `s` seconds (the API's `grace_seconds`); refused when negative or longer
    /// than 7 days.
    pub fn from_seconds(s: i64) -> Result<Self, FieldError> {
        if s > Self::MAX.num_seconds() {
            return Err(FieldError::new(
                "grace_period_seconds",
                "a grace period is at most 7 days (604800 seconds)",
            ));
        }
        Self::new(TimeDelta::seconds(s))
    }

    /// The grace period as a duration.
    pub fn duration(self) -> TimeDelta {
        self.0
    }
}

/// Why a credential operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The credential is revoked: nothing can be done with it any more.
    #[error("the credential is revoked")]
    Revoked,
    /// The new secret's kind or environment differs from the credential's.
    #[error("the new secret is for another kind or environment")]
    MismatchedSecret,
}

impl Credential {
    /// Whether the credential has not been revoked.
    pub fn is_active(&self) -> bool {
        matches!(self.status, CredentialStatus::Active)
    }

    fn check_new(&self, s: &IssuedSecret) -> Result<(), CredentialError> {
        if !self.is_active() {
            return Err(CredentialError::Revoked);
        }
        if s.kind != self.kind.secret_kind() || s.environment != self.environment {
            return Err(CredentialError::MismatchedSecret);
        }
        Ok(())
    }

    /// Regenerate: a new secret, the old one stops working at once.
    pub fn regenerate(
        &self,
        new: &IssuedSecret,
        now: DateTime<Utc>,
    ) -> Result<Credential, CredentialError> {
        self.check_new(new)?;
        Ok(Credential {
            secret: SecretRecord::of(new, now),
            previous: None,
            ..self.clone()
        })
    }

    /// Rotate Secret: a new secret; the old one keeps working until `now + grace`.
    pub fn rotate(
        &self,
        new: &IssuedSecret,
        grace: GracePeriod,
        now: DateTime<Utc>,
    ) -> Result<Credential, CredentialError> {
        self.check_new(new)?;
        let previous = RetiringSecret {
            hash: self.secret.hash.clone(),
            last4: self.secret.last4.clone(),
            expires_at: now + grace.duration(),
        };
        Ok(Credential {
            secret: SecretRecord::of(new, now),
            previous: Some(previous),
            ..self.clone()
        })
    }

    /// Revoke: stops at once, every secret of the credential with it.
    pub fn revoke(&self, by: Actor, now: DateTime<Utc>) -> Result<Credential, CredentialError> {
        if !self.is_active() {
            return Err(CredentialError::Revoked);
        }
        Ok(Credential {
            status: CredentialStatus::Revoked { at: now, by },
            previous: None,
            ..self.clone()
        })
    }
}

/// A short-lived bearer token from the OAuth client-credentials grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// The SHA-256 of the token; the bearer value is shown once, to the client.
    pub hash: SecretHash,
    /// The OAuth client credential that obtained it.
    pub credential_id: CredentialId,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// After this instant it is refused as `expired`.
    pub expires_at: DateTime<Utc>,
}

/// Lifetime of an access token.
pub const ACCESS_TOKEN_TTL: TimeDelta = TimeDelta::hours(1);

/// Which of a credential's secrets a hash matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretMatch {
    /// The credential's current secret.
    Current,
    /// The rotated-out secret, valid until its grace deadline.
    Previous {
        /// The grace deadline.
        expires_at: DateTime<Utc>,
    },
    /// An access token the OAuth client obtained.
    AccessToken {
        /// The end of the token's lifetime.
        expires_at: DateTime<Utc>,
    },
}

/// Reason codes of a refused verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyRefusal {
    /// Not something this portal issued (prefix, length or alphabet).
    Malformed,
    /// The checksum does not match: a typo or a truncated copy.
    BadChecksum,
    /// A sandbox secret presented to production, or the other way round.
    WrongEnvironment,
    /// Well-formed, but no credential has this secret.
    Unknown,
    /// The credential was revoked.
    Revoked,
    /// A rotated-out secret past its grace deadline, or an access token past its lifetime.
    Expired,
    /// A client secret presented as a bearer token (use the token endpoint).
    WrongKind,
}

impl VerifyRefusal {
    /// The reason code as the API reports it (`wrong_environment`).
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyRefusal::Malformed => "malformed",
            VerifyRefusal::BadChecksum => "bad_checksum",
            VerifyRefusal::WrongEnvironment => "wrong_environment",
            VerifyRefusal::Unknown => "unknown",
            VerifyRefusal::Revoked => "revoked",
            VerifyRefusal::Expired => "expired",
            VerifyRefusal::WrongKind => "wrong_kind",
        }
    }
}

impl From<SecretFormatError> for VerifyRefusal {
    fn from(e: SecretFormatError) -> Self {
        match e {
            SecretFormatError::Malformed => VerifyRefusal::Malformed,
            SecretFormatError::BadChecksum => VerifyRefusal::BadChecksum,
        }
    }
}

/// The checks that need no look-up: shape, checksum, environment, kind. Client secrets are
/// exchanged for tokens and never verified as bearer credentials.
///
/// # Examples
///
/// ```
/// use onboarding_core::credential::{precheck, IssuedSecret, SecretKind, VerifyRefusal};
/// use onboarding_core::project::Environment;
///
/// let body = "abcdefghijklmnopqrstuvwxyz012345";
/// let key = IssuedSecret::new(SecretKind::ApiKey, Environment::Sandbox, body).unwrap();
///
/// // Accepted where no environment is expected, or in the sandbox.
/// assert!(precheck(key.expose(), None).is_ok());
/// assert!(precheck(key.expose(), Some(Environment::Sandbox)).is_ok());
/// // A sandbox key never reaches production.
/// assert_eq!(
///     precheck(key.expose(), Some(Environment::Production)),
///     Err(VerifyRefusal::WrongEnvironment)
/// );
/// // An OAuth client secret is exchanged for a token, not presented as a bearer credential.
/// let client = IssuedSecret::new(SecretKind::ClientSecret, Environment::Sandbox, body).unwrap();
/// assert_eq!(precheck(client.expose(), None), Err(VerifyRefusal::WrongKind));
/// ```
pub fn precheck(
    presented: &str,
    expected: Option<Environment>,
) -> Result<ParsedSecret, VerifyRefusal> {
    let parsed = parse_secret(presented)?;
    if expected.is_some_and(|e| e != parsed.environment) {
        return Err(VerifyRefusal::WrongEnvironment);
    }
    if parsed.kind == SecretKind::ClientSecret {
        return Err(VerifyRefusal::WrongKind);
    }
    Ok(parsed)
}

/// The verification decision once the hash matched a credential.
pub fn decide(
    credential: &Credential,
    matched: SecretMatch,
    now: DateTime<Utc>,
) -> Result<(), VerifyRefusal> {
    if !credential.is_active() {
        return Err(VerifyRefusal::Revoked);
    }
    match matched {
        SecretMatch::Current => Ok(()),
        SecretMatch::Previous { expires_at } | SecretMatch::AccessToken { expires_at }
            if now < expires_at =>
        {
            Ok(())
        }
        _ => Err(VerifyRefusal::Expired),
    }
}

/// Why the production credential card is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockReason {
    /// Production credentials become available once the provider has reviewed and approved the request.
    NotApproved,
    /// On a paid plan, the card stays locked until payment is complete.
    PaymentRequired,
}

impl LockReason {
    /// The sentence shown on the locked production credential card.
    pub fn message(self) -> &'static str {
        match self {
            LockReason::NotApproved => {
                "Production credentials become available once the API provider has reviewed and approved the request."
            }
            LockReason::PaymentRequired => {
                "Production credentials unlock once payment for this paid plan is complete."
            }
        }
    }
}

/// The production lock: `None` when production credentials may be created.
pub fn production_lock(subscription: &Subscription, plan: &Plan, paid: bool) -> Option<LockReason> {
    if subscription.phase.kind() != PhaseKind::Production {
        Some(LockReason::NotApproved)
    } else if plan.pricing.is_paid() && !paid {
        Some(LockReason::PaymentRequired)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::*;

    const BODY: &str = "abcdefghijABCDEFGHIJ0123456789xy";

    fn key(env: Environment) -> IssuedSecret {
        IssuedSecret::new(SecretKind::ApiKey, env, BODY).unwrap()
    }

    #[test]
    fn secrets_name_their_environment_and_parse_back() {
        let s = key(Environment::Sandbox);
        assert!(s.expose().starts_with("sk_sbx_"));
        assert!(
            key(Environment::Production)
                .expose()
                .starts_with("sk_prod_")
        );
        let p = parse_secret(s.expose()).unwrap();
        assert_eq!(
            (p.kind, p.environment),
            (SecretKind::ApiKey, Environment::Sandbox)
        );
        assert_eq!(p.hash, s.hash());
        assert!(
            !format!("{s:?}").contains(BODY),
            "Debug never prints the secret"
        );
    }

    #[test]
    fn malformed_and_wrong_checksum_secrets_are_refused() {
        let s = key(Environment::Sandbox).expose().to_owned();
        for bad in [
            "",
            "sk_sbx_",
            "sk_sbx_short",
            "xx_sbx_0000",
            &s[..s.len() - 1],
            &format!("{s}0"),
            "sk_test_abc",
        ] {
            assert_eq!(
                parse_secret(bad),
                Err(SecretFormatError::Malformed),
                "{bad}"
            );
        }
        // One character changed anywhere in the body or checksum: refused by the checksum.
        for i in 7..s.len() {
            let mut b = s.clone().into_bytes();
            b[i] = if b[i] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(b).unwrap();
            assert_eq!(
                parse_secret(&changed),
                Err(SecretFormatError::BadChecksum),
                "position {i}"
            );
        }
        // Changing the environment tag breaks the checksum too.
        let moved = s.replacen("sk_sbx_", "sk_prod_", 1);
        assert_eq!(parse_secret(&moved), Err(SecretFormatError::BadChecksum));
    }

    #[test]
    fn rotate_keeps_the_old_secret_until_the_grace_deadline_regenerate_does_not() {
        let mut clock = SteppingClock::at(t0());
        let c = credential(Environment::Sandbox, &key(Environment::Sandbox));
        let old = c.secret.hash.clone();
        let next = IssuedSecret::new(
            SecretKind::ApiKey,
            Environment::Sandbox,
            &BODY.replace("a", "z"),
        )
        .unwrap();
        let rotated = c
            .rotate(
                &next,
                GracePeriod::new(TimeDelta::hours(24)).unwrap(),
                clock.now(),
            )
            .unwrap();
        let prev = rotated.previous.as_ref().unwrap();
        assert_eq!(prev.hash, old);
        let m = SecretMatch::Previous {
            expires_at: prev.expires_at,
        };
        clock.advance(TimeDelta::hours(23));
        assert_eq!(decide(&rotated, m, clock.now()), Ok(()));
        clock.advance(TimeDelta::hours(1));
        assert_eq!(
            decide(&rotated, m, clock.now()),
            Err(VerifyRefusal::Expired)
        );
        assert_eq!(decide(&rotated, SecretMatch::Current, clock.now()), Ok(()));

        let regenerated = c.regenerate(&next, t0()).unwrap();
        assert!(
            regenerated.previous.is_none(),
            "the old hash is gone, so it no longer matches at all"
        );
    }

    #[test]
    fn grace_periods_are_bounded() {
        assert!(GracePeriod::from_seconds(604_800).is_ok());
        assert_eq!(
            GracePeriod::from_seconds(604_801).unwrap_err().field,
            "grace_period_seconds"
        );
        assert!(GracePeriod::from_seconds(-1).is_err());
        assert!(GracePeriod::from_seconds(i64::MAX).is_err());
    }

    #[test]
    fn revoked_credentials_are_refused_and_cannot_be_rotated() {
        let c = credential(Environment::Sandbox, &key(Environment::Sandbox))
            .revoke(Actor::System, t0())
            .unwrap();
        assert_eq!(
            decide(&c, SecretMatch::Current, t0()),
            Err(VerifyRefusal::Revoked)
        );
        assert_eq!(
            c.rotate(&key(Environment::Sandbox), GracePeriod::DEFAULT, t0()),
            Err(CredentialError::Revoked)
        );
        assert_eq!(c.revoke(Actor::System, t0()), Err(CredentialError::Revoked));
    }

    #[test]
    fn precheck_refuses_the_wrong_environment_without_a_lookup() {
        let s = key(Environment::Sandbox);
        assert_eq!(
            precheck(s.expose(), Some(Environment::Production)),
            Err(VerifyRefusal::WrongEnvironment)
        );
        assert!(precheck(s.expose(), Some(Environment::Sandbox)).is_ok());
        let cs = IssuedSecret::new(SecretKind::ClientSecret, Environment::Sandbox, BODY).unwrap();
        assert_eq!(precheck(cs.expose(), None), Err(VerifyRefusal::WrongKind));
    }

    #[test]
    fn production_lock_reasons() {
        let plan = standard_plan();
        let sub = sandbox_subscription();
        assert_eq!(
            production_lock(&sub, &plan, true),
            Some(LockReason::NotApproved)
        );
        let approved = approved_subscription();
        assert_eq!(
            production_lock(&approved, &plan, false),
            Some(LockReason::PaymentRequired)
        );
        assert_eq!(production_lock(&approved, &plan, true), None);
        let mut free = plan.clone();
        free.pricing = crate::plan::Pricing::Free;
        assert_eq!(production_lock(&approved, &free, false), None);
    }
}
