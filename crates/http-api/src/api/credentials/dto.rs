//! Request and response bodies of credentials and verification.

use crate::text::{Name, Text};
use chrono::{DateTime, Utc};
use onboarding_core::credential::{Credential, CredentialKind, CredentialStatus};
use onboarding_core::services::VerifyAnswer;
use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

use crate::dto::{page, via};

#[derive(Object, Debug, Clone)]
pub struct RetiringSecretDto {
    pub last4: String,
    /// The rotated-out secret works until then.
    pub expires_at: DateTime<Utc>,
}

/// A credential as listings show it: prefix and last four characters, never the secret.
#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct CredentialDto {
    pub id: String,
    pub workspace_id: String,
    pub project_id: String,
    pub subscription_id: String,
    /// `sandbox` or `production`.
    pub environment: String,
    /// `api_key` or `oauth_client`.
    pub kind: String,
    /// OAuth clients: the public client id.
    #[oai(skip_serializing_if_is_none)]
    pub client_id: Option<String>,
    pub name: String,
    /// `active` or `revoked`.
    pub status: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub prefix: String,
    pub last4: String,
    pub secret_created_at: DateTime<Utc>,
    pub previous: Option<RetiringSecretDto>,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

impl From<&Credential> for CredentialDto {
    fn from(c: &Credential) -> Self {
        let (kind, client_id) = match &c.kind {
            CredentialKind::ApiKey => ("api_key", None),
            CredentialKind::OauthClient { client_id } => ("oauth_client", Some(client_id.clone())),
        };
        let (status, revoked_at) = match &c.status {
            CredentialStatus::Active => ("active", None),
            CredentialStatus::Revoked { at, .. } => ("revoked", Some(*at)),
        };
        Self {
            id: c.id.to_string(),
            workspace_id: c.workspace_id.to_string(),
            project_id: c.project_id.to_string(),
            subscription_id: c.subscription_id.to_string(),
            environment: c.environment.as_str().into(),
            kind: kind.into(),
            client_id,
            name: c.name.to_string(),
            status: status.into(),
            revoked_at,
            prefix: c.secret.prefix.clone(),
            last4: c.secret.last4.clone(),
            secret_created_at: c.secret.created_at,
            previous: c.previous.as_ref().map(|p| RetiringSecretDto {
                last4: p.last4.clone(),
                expires_at: p.expires_at,
            }),
            created_at: c.created_at,
            version: c.version,
        }
    }
}

/// A created or re-keyed credential: `secret` is shown here once and never again.
#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct CreatedCredentialDto {
    pub credential: CredentialDto,
    pub secret: String,
}

/// An environment, as the API spells it.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum EnvironmentName {
    Sandbox,
    Production,
}

impl From<EnvironmentName> for onboarding_core::project::Environment {
    fn from(e: EnvironmentName) -> Self {
        match e {
            EnvironmentName::Sandbox => Self::Sandbox,
            EnvironmentName::Production => Self::Production,
        }
    }
}

/// The kind of a new credential.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum CredentialKindName {
    ApiKey,
    OauthClient,
}

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct CreateCredentialRequest {
    pub environment: EnvironmentName,
    /// `api_key` (default) or `oauth_client`.
    pub kind: Option<CredentialKindName>,
    pub name: Name,
}

#[derive(Object, Debug, Clone, Default)]
pub struct RotateRequest {
    /// How long the old secret keeps working: 0 to 604800 seconds; default 86400 (24 h).
    #[oai(validator(minimum(value = "0"), maximum(value = "604800")))]
    pub grace_period_seconds: Option<i64>,
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    pub version: Option<i64>,
}

/// What a gateway sends to `/api/v1/verify`.
#[derive(Object, Debug, Clone)]
pub struct VerifyRequest {
    /// The presented API key or access token.
    pub secret: Text,
    /// The environment the gateway serves (`sandbox` or `production`); a secret of the other
    /// environment is refused.
    pub environment: Option<Text>,
    /// The endpoint called, for usage counting (default `verify`).
    pub endpoint: Option<Text>,
    /// Whether the upstream call succeeded (default true), for error counting.
    pub success: Option<bool>,
}

/// The verification decision: valid or not (with a reason code), and what the secret opens.
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct VerifyAnswerDto {
    pub valid: bool,
    /// `malformed`, `bad_checksum`, `wrong_environment`, `unknown`, `revoked`, `expired`, `wrong_kind`.
    pub reason: Option<String>,
    pub workspace_id: Option<String>,
    pub project_id: Option<String>,
    pub environment: Option<String>,
    pub plan_id: Option<String>,
    pub phase: Option<String>,
    pub subscription_id: Option<String>,
    pub credential_id: Option<String>,
}

impl From<&VerifyAnswer> for VerifyAnswerDto {
    fn from(v: &VerifyAnswer) -> Self {
        via(v)
    }
}

page!(CredentialPage, CredentialDto);
