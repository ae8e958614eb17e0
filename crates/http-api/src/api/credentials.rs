//! API keys and OAuth clients. The secret appears only in the create, regenerate and rotate
//! answers; listings show the prefix and the last four characters.

pub mod dto;

use onboarding_core::credential::GracePeriod;
use onboarding_core::ids::*;
use onboarding_core::services::{CreatedCredential, NewCredentialKind};
use poem_openapi::OpenApi;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;

use super::*;
use crate::auth::Auth;
use crate::dto::*;
use crate::state::AppState;

pub struct CredentialsApi {
    pub state: AppState,
}

fn shown_once(c: &CreatedCredential) -> CreatedCredentialDto {
    CreatedCredentialDto {
        credential: (&c.credential).into(),
        secret: c.secret.expose().to_owned(),
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Credentials")]
impl CredentialsApi {
    /// Create a sandbox or production credential for a subscription. Production ones stay
    /// locked until the subscription is approved (and paid, on a paid plan) and cloned.
    #[oai(
        path = "/subscriptions/:id/credentials",
        method = "post",
        operation_id = "create_credential"
    )]
    async fn create(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<CreateCredentialRequest>,
    ) -> ApiResult<CreatedSecret<CreatedCredentialDto>> {
        let sub: SubscriptionId = path_id(&id, "subscription")?;
        let env = body.environment.into();
        let kind = match body.kind.unwrap_or(CredentialKindName::ApiKey) {
            CredentialKindName::ApiKey => NewCredentialKind::ApiKey,
            CredentialKindName::OauthClient => NewCredentialKind::OauthClient,
        };
        let c = self
            .state
            .portal()
            .credentials()
            .create_credential(auth.caller(), sub, env, kind, &body.name)
            .await?;
        let location = format!("/api/v1/credentials/{}", c.credential.id);
        created_secret(shown_once(&c), location)
    }

    /// One credential.
    #[oai(
        path = "/credentials/:id",
        method = "get",
        operation_id = "get_credential"
    )]
    async fn get(&self, auth: Auth, id: Path<String>) -> ApiResult<Tagged<CredentialDto>> {
        let id: CredentialId = path_id(&id, "credential")?;
        let c = self
            .state
            .portal()
            .credentials()
            .credential(auth.caller(), id)
            .await?;
        tagged((&c).into(), c.version)
    }

    /// Regenerate: a new secret; the old one stops working at once.
    #[oai(
        path = "/credentials/:id/regenerate",
        method = "post",
        operation_id = "regenerate_credential"
    )]
    async fn regenerate(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(name = "If-Match")] if_match: Header<Option<IfMatch>>,
        body: Json<TransitionRequest>,
    ) -> ApiResult<TaggedSecret<CreatedCredentialDto>> {
        let id: CredentialId = path_id(&id, "credential")?;
        let (v, strict) = expected_version(if_match.0, body.version);
        let c = self
            .state
            .portal()
            .credentials()
            .regenerate_credential(auth.caller(), id, v)
            .await
            .map_err(|e| precondition(e, strict))?;
        let version = c.credential.version;
        tagged_secret(shown_once(&c), version)
    }

    /// Rotate Secret: a new secret; the old one keeps working until the grace deadline
    /// (default 24 h, at most 7 days).
    #[oai(
        path = "/credentials/:id/rotate",
        method = "post",
        operation_id = "rotate_credential"
    )]
    async fn rotate(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(name = "If-Match")] if_match: Header<Option<IfMatch>>,
        body: Json<RotateRequest>,
    ) -> ApiResult<TaggedSecret<CreatedCredentialDto>> {
        let id: CredentialId = path_id(&id, "credential")?;
        let (v, strict) = expected_version(if_match.0, body.version);
        let grace = match body.grace_period_seconds {
            Some(s) => GracePeriod::from_seconds(s).map_err(|e| Problem::validation(vec![e]))?,
            None => GracePeriod::DEFAULT,
        };
        let c = self
            .state
            .portal()
            .credentials()
            .rotate_credential(auth.caller(), id, grace, v)
            .await
            .map_err(|e| precondition(e, strict))?;
        let version = c.credential.version;
        tagged_secret(shown_once(&c), version)
    }

    /// Revoke: stops at once.
    #[oai(
        path = "/credentials/:id/revoke",
        method = "post",
        operation_id = "revoke_credential"
    )]
    async fn revoke(&self, auth: Auth, id: Path<String>) -> ApiResult<Tagged<CredentialDto>> {
        let id: CredentialId = path_id(&id, "credential")?;
        let c = self
            .state
            .portal()
            .credentials()
            .revoke_credential(auth.caller(), id)
            .await?;
        tagged((&c).into(), c.version)
    }
}
