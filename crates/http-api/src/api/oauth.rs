//! The gateway side: the verification endpoint (`POST /api/v1/verify`) and the OAuth 2.0
//! client-credentials token endpoint (`POST /oauth/token`, RFC 6749 §4.4). The token
//! endpoint answers RFC 6749 §5.2 error JSON, not problem+json, because OAuth clients expect it.

use base64::Engine;
use onboarding_core::project::Environment;
use onboarding_core::services::VerifyAnswer;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::{Form, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::*;
use crate::auth::GatewayToken;
use crate::dto::*;
use crate::state::AppState;

pub struct GatewayApi {
    pub state: AppState,
}

/// `application/x-www-form-urlencoded` body of the token request.
#[derive(Object, Debug, Clone, serde::Deserialize)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    pub grant_type: crate::text::GrantType,
    /// When the client does not use HTTP Basic.
    pub client_id: Option<String>,
    #[oai(write_only)]
    pub client_secret: Option<String>,
    /// Ignored: a token opens what its credential opens.
    pub scope: Option<String>,
}

#[derive(Object, Debug, Clone)]
pub struct TokenAnswer {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    pub expires_in: i64,
}

/// RFC 6749 §5.2 error answer.
#[derive(Object, Debug, Clone)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type`, ...
    pub error: String,
    pub error_description: Option<String>,
}

/// Forward auth's answer to an accepted key: no body, the caller's identity as headers (the
/// gateway forwards them upstream).
#[derive(ApiResponse)]
pub enum ForwardAuthAllowed {
    /// The key is valid (for this gateway's environment, when it names one).
    #[oai(status = 200)]
    Allowed(
        /// The credential's workspace.
        #[oai(header = "X-Portal-Workspace")]
        String,
        /// The credential's project.
        #[oai(header = "X-Portal-Project")]
        String,
        /// The credential.
        #[oai(header = "X-Portal-Credential")]
        String,
        /// `sandbox` or `production`.
        #[oai(header = "X-Portal-Environment")]
        String,
        /// The subscription the credential was created under.
        #[oai(header = "X-Portal-Subscription")]
        String,
        /// The subscription's plan.
        #[oai(header = "X-Portal-Plan")]
        Option<String>,
        /// The subscription's phase.
        #[oai(header = "X-Portal-Phase")]
        Option<String>,
    ),
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "token_bad_request")]
pub enum TokenResponse {
    #[oai(status = 200)]
    Ok(
        Json<TokenAnswer>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Pragma")] String,
    ),
    #[oai(status = 400)]
    BadRequest(Json<OAuthError>, #[oai(header = "Cache-Control")] String),
    #[oai(status = 401)]
    InvalidClient(
        Json<OAuthError>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "WWW-Authenticate")] Option<String>,
    ),
    #[oai(status = 500)]
    ServerError(Json<OAuthError>, #[oai(header = "Cache-Control")] String),
}

fn oauth_error(error: &str, description: &str) -> Json<OAuthError> {
    Json(OAuthError {
        error: error.into(),
        error_description: Some(description.into()),
    })
}

const NO_STORE: &str = "no-store";

fn token_bad_request(err: poem::Error) -> TokenResponse {
    TokenResponse::BadRequest(
        oauth_error("invalid_request", &err.to_string()),
        NO_STORE.into(),
    )
}

/// Client credentials from `Authorization: Basic` (form-urlencoded id and secret, RFC 6749
/// §2.3.1).
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((url_decode(id)?, url_decode(secret)?))
}

fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The one meaning of a verification request, shared by the documented operation and the
/// gateway hot path (`crate::gateway_first`): the environment named, then the core's answer.
pub(crate) async fn verify_request(
    state: &AppState,
    secret: &str,
    environment: Option<&str>,
    endpoint: Option<&str>,
    success: Option<bool>,
) -> Result<VerifyAnswer, Problem> {
    let env = match environment {
        Some(e) => Some(
            Environment::parse(e)
                .ok_or_else(|| Problem::field("environment", "`sandbox` or `production`"))?,
        ),
        None => None,
    };
    Ok(state
        .portal()
        .credentials()
        .verify_secret(secret, env, endpoint, success.unwrap_or(true))
        .await?)
}

#[OpenApi(tag = "Tag::Gateway")]
impl GatewayApi {
    /// Verify a presented secret (API gateways). Authenticated by the provider's gateway
    /// token; every verification of a known credential counts as usage.
    #[oai(
        path = "/api/v1/verify",
        method = "post",
        operation_id = "verify_credential"
    )]
    async fn verify(
        &self,
        _gateway: GatewayToken,
        body: Json<VerifyRequest>,
    ) -> ApiResult<Ok200<VerifyAnswerDto>> {
        let a = verify_request(
            &self.state,
            &body.secret,
            body.environment.as_deref(),
            body.endpoint.as_deref(),
            body.success,
        )
        .await?;
        ok((&a).into())
    }

    /// Forward auth for API gateways (nginx `auth_request`, Envoy `ext_authz`, Traefik
    /// `ForwardAuth`): any method is accepted, and Envoy's path-prefix style (the original path
    /// appended to this one) too. The gateway presents its token in `X-Portal-Gateway-Token`
    /// and passes the caller's headers; the API key is read from `Authorization: Bearer`, else
    /// `X-Api-Key` (the server's `forward_auth_key_header` setting names another header). The
    /// original call is `X-Original-Method`/`X-Original-URI` (nginx), else
    /// `X-Forwarded-Method`/`X-Forwarded-Uri` (Traefik), else this request's method and
    /// appended path (Envoy). `environment` (or `X-Portal-Expected-Environment`) is the
    /// environment this gateway serves: a key of the other one gets 403 `wrong_environment`.
    /// 200 carries the identity in `X-Portal-*` headers and counts a successful call on the
    /// plan endpoint the original call matches (`METHOD *` when none); 401 and 403 carry the
    /// reason code in `X-Portal-Reason` and the problem's `code` (`missing`, `unknown`,
    /// `revoked`, `expired`, `malformed`, `bad_checksum`, `wrong_kind`, `gateway_token`,
    /// `wrong_environment`). See docs/gateways.md.
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/api/v1/forward-auth",
        method = "get",
        operation_id = "authorize_forwarded_call"
    )]
    async fn forward_auth(
        &self,
        req: &poem::Request,
        /// The operator's gateway token.
        #[oai(name = "X-Portal-Gateway-Token")]
        _gateway_token: Header<Option<String>>,
        /// The caller's API key as `Bearer <key>`.
        #[oai(name = "Authorization")]
        _authorization: Header<Option<String>>,
        /// The caller's API key (when there is no `Authorization: Bearer`).
        #[oai(name = "X-Api-Key")]
        _api_key: Header<Option<String>>,
        /// nginx: the original method.
        #[oai(name = "X-Original-Method")]
        _original_method: Header<Option<String>>,
        /// nginx: the original URI (path and query).
        #[oai(name = "X-Original-URI")]
        _original_uri: Header<Option<String>>,
        /// Traefik: the original method.
        #[oai(name = "X-Forwarded-Method")]
        _forwarded_method: Header<Option<String>>,
        /// Traefik: the original URI.
        #[oai(name = "X-Forwarded-Uri")]
        _forwarded_uri: Header<Option<String>>,
        /// The environment this gateway serves (`sandbox` or `production`), as a header.
        #[oai(name = "X-Portal-Expected-Environment")]
        _expected: Header<Option<EnvironmentName>>,
        /// The environment this gateway serves (`sandbox` or `production`); any when absent.
        #[oai(name = "environment")]
        _environment: Query<Option<EnvironmentName>>,
    ) -> ApiResult<ForwardAuthAllowed> {
        let a = crate::forward_auth::decide(&self.state, req).await?;
        let id = crate::forward_auth::identity(&a);
        Ok(ForwardAuthAllowed::Allowed(
            id.workspace,
            id.project,
            id.credential,
            id.environment,
            id.subscription,
            id.plan,
            id.phase,
        ))
    }

    /// OAuth 2.0 client-credentials grant: a short-lived bearer token for an OAuth client.
    /// Client authentication by HTTP Basic or by `client_id`/`client_secret` in the body.
    #[oai(
        path = "/oauth/token",
        method = "post",
        operation_id = "issue_oauth_token"
    )]
    async fn token(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Option<String>>,
        body: Form<TokenRequest>,
    ) -> TokenResponse {
        let bad = |e: &str, d: &str| TokenResponse::BadRequest(oauth_error(e, d), NO_STORE.into());
        if &*body.grant_type != "client_credentials" {
            return bad(
                "unsupported_grant_type",
                "only client_credentials is supported",
            );
        }
        let basic = authorization.0.as_deref().and_then(basic_credentials);
        let used_basic = authorization.0.is_some();
        let (id, secret) = match (&basic, &body.client_id, &body.client_secret) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return bad(
                    "invalid_request",
                    "use one client authentication method, not both",
                );
            }
            (Some((i, s)), None, None) => (i.clone(), s.clone()),
            (None, Some(i), Some(s)) => (i.clone(), s.clone()),
            _ => {
                return TokenResponse::InvalidClient(
                    oauth_error("invalid_client", "client authentication is required"),
                    NO_STORE.into(),
                    Some("Basic realm=\"portal\"".into()),
                );
            }
        };
        match self
            .state
            .portal()
            .credentials()
            .issue_access_token(&id, &secret)
            .await
        {
            Ok(t) => TokenResponse::Ok(
                Json(TokenAnswer {
                    access_token: t.token.expose().to_owned(),
                    token_type: "Bearer".into(),
                    expires_in: t.expires_in_seconds,
                }),
                NO_STORE.into(),
                "no-cache".into(),
            ),
            Err(onboarding_core::ServiceError::Internal(cause)) => {
                tracing::error!(error = %cause, "token endpoint failed");
                TokenResponse::ServerError(
                    oauth_error("server_error", "the token could not be issued"),
                    NO_STORE.into(),
                )
            }
            Err(_) => TokenResponse::InvalidClient(
                oauth_error("invalid_client", "unknown client or wrong secret"),
                NO_STORE.into(),
                used_basic.then(|| "Basic realm=\"portal\"".into()),
            ),
        }
    }
}
