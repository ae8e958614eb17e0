//! The gateway side: the verification endpoint (`POST /api/v1/verify`) and the OAuth 2.0
//! client-credentials token endpoint (`POST /oauth/token`, RFC 6749 §4.4). The token
//! endpoint answers RFC 6749 §5.2 error JSON, not problem+json, because OAuth clients expect it.

use base64::Engine;
use onboarding_core::project::Environment;
use onboarding_core::services::VerifyAnswer;
use poem_openapi::param::Header;
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
        match self.state.portal().issue_access_token(&id, &secret).await {
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
