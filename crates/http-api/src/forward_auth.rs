//! Forward auth: `/api/v1/forward-auth`, any method, in the shape the common gateways call
//! without code (nginx `auth_request`, Envoy `ext_authz` as an HTTP service, Traefik
//! `ForwardAuth`, Kong through a small `pre-function`). The gateway sends the caller's request
//! headers; the answer is 200 with identity headers it forwards upstream, or 401/403 with the
//! reason (`X-Portal-Reason` and a problem body). The decision is the core's `verify_call`, the
//! verification of `/api/v1/verify` (same cache, same revocation feed), counted as a successful
//! call on the plan endpoint the original method and path match. See docs/gateways.md and
//! docs/decisions/0023-forward-auth.md.

use onboarding_core::credential::VerifyRefusal;
use onboarding_core::project::Environment;
use onboarding_core::services::VerifyAnswer;
use poem::Request;
use poem::http::{HeaderName, HeaderValue, StatusCode, header};

use crate::auth::gateway_token_accepted;
use crate::problem::Problem;
use crate::state::AppState;

/// The endpoint's path; Envoy's path-prefix style appends the original path to it.
pub const PATH: &str = "/api/v1/forward-auth";
/// The header that carries the operator's gateway token (the caller's `Authorization` is
/// the API key's).
pub const GATEWAY_TOKEN_HEADER: &str = "x-portal-gateway-token";
/// A per-gateway expected environment, for gateways that cannot add a query to the auth URL.
pub const EXPECTED_ENVIRONMENT_HEADER: &str = "x-portal-expected-environment";
/// The reason of a refusal, on 401 and 403.
pub const REASON_HEADER: &str = "x-portal-reason";

/// The identity headers of a 200 (forward them upstream; strip them from the caller's request).
pub const WORKSPACE_HEADER: &str = "x-portal-workspace";
pub const PROJECT_HEADER: &str = "x-portal-project";
pub const CREDENTIAL_HEADER: &str = "x-portal-credential";
pub const ENVIRONMENT_HEADER: &str = "x-portal-environment";
pub const SUBSCRIPTION_HEADER: &str = "x-portal-subscription";
pub const PLAN_HEADER: &str = "x-portal-plan";
pub const PHASE_HEADER: &str = "x-portal-phase";

/// Where the API key is read from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer <key>`, else `X-Api-Key: <key>`.
    #[default]
    BearerOrApiKey,
    /// `Authorization: Bearer <key>` only.
    Bearer,
    /// The whole value of this header (`x-api-key`, `apikey`, ...).
    Named(HeaderName),
}

impl KeyHeader {
    /// A header name from the configuration; `authorization` means its `Bearer` token.
    pub fn parse(name: &str) -> Result<Self, String> {
        let name = name.trim();
        let h = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a header name"))?;
        Ok(if h == header::AUTHORIZATION {
            KeyHeader::Bearer
        } else {
            KeyHeader::Named(h)
        })
    }

    fn key<'a>(&self, req: &'a Request) -> Option<&'a str> {
        let named = |h: &HeaderName| {
            req.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        match self {
            KeyHeader::BearerOrApiKey => bearer(req).or_else(|| named(&X_API_KEY)),
            KeyHeader::Bearer => bearer(req),
            KeyHeader::Named(h) => named(h),
        }
    }
}

static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

fn bearer(req: &Request) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let scheme = v.get(..6)?;
    (v.len() > 7 && scheme.eq_ignore_ascii_case("Bearer") && v.as_bytes()[6] == b' ')
        .then(|| v[7..].trim())
        .filter(|k| !k.is_empty())
}

fn header_str<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The method and path of the caller's request: nginx's `X-Original-Method`/`X-Original-URI`,
/// Traefik's `X-Forwarded-Method`/`X-Forwarded-Uri`, or (Envoy) this request's own method and
/// the path after [`PATH`].
fn original_call(req: &Request) -> (&str, &str) {
    let method = header_str(req, "x-original-method")
        .or_else(|| header_str(req, "x-forwarded-method"))
        .unwrap_or_else(|| req.method().as_str());
    let path = header_str(req, "x-original-uri")
        .or_else(|| header_str(req, "x-forwarded-uri"))
        .or_else(|| {
            let rest = req.uri().path().strip_prefix(PATH)?;
            rest.starts_with('/').then_some(rest)
        })
        .unwrap_or("/");
    (method, path)
}

/// The environment this gateway expects: its header, else `?environment=` on the auth URL
/// itself (in Envoy's path-prefix style the query is the caller's, so only the header counts).
fn expected_environment(req: &Request) -> Result<Option<Environment>, Problem> {
    let from_query = || {
        if req.uri().path() != PATH {
            return None;
        }
        req.uri().query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == "environment").then_some(v)
        })
    };
    let (field, value) = match header_str(req, EXPECTED_ENVIRONMENT_HEADER) {
        Some(v) => ("X-Portal-Expected-Environment", Some(v)),
        None => ("environment", from_query()),
    };
    match value {
        None => Ok(None),
        Some(e) => Environment::parse(e)
            .map(Some)
            .ok_or_else(|| Problem::field(field, "`sandbox` or `production`")),
    }
}

fn refusal(reason: &str, detail: &str, status: u16) -> Problem {
    let slug = if status == 403 {
        "forbidden"
    } else {
        "unauthenticated"
    };
    let p = Problem::new(slug, detail)
        .code(reason)
        .header(REASON_HEADER, reason);
    if status == 401 {
        p.header(
            "WWW-Authenticate",
            format!("Bearer error=\"invalid_token\", error_description=\"{reason}\""),
        )
    } else {
        p
    }
}

fn refused(r: VerifyRefusal) -> Problem {
    let (detail, status) = match r {
        VerifyRefusal::Malformed => ("the API key is not one this portal issued", 401),
        VerifyRefusal::BadChecksum => ("the API key's checksum does not match (a typo?)", 401),
        VerifyRefusal::Unknown => ("no credential has this API key", 401),
        VerifyRefusal::Revoked => ("the API key was revoked", 401),
        VerifyRefusal::Expired => ("the API key expired (rotated out past its grace)", 401),
        VerifyRefusal::WrongKind => ("a client secret is not a bearer key: use /oauth/token", 401),
        VerifyRefusal::WrongEnvironment => (
            "the API key belongs to another environment than this gateway's",
            403,
        ),
    };
    refusal(r.as_str(), detail, status)
}

/// The decision for one forward-auth request: the identity of the caller's key, or the
/// problem to answer. Checks in order: the gateway token, the expected environment, the key.
pub(crate) async fn decide(state: &AppState, req: &Request) -> Result<VerifyAnswer, Problem> {
    let token = header_str(req, GATEWAY_TOKEN_HEADER).ok_or_else(|| {
        refusal(
            "gateway_token",
            "present the gateway token in X-Portal-Gateway-Token",
            401,
        )
    })?;
    gateway_token_accepted(state, token)
        .map_err(|p| refusal("gateway_token", &p.body.detail, 401))?;
    let expected = expected_environment(req)?;
    let key = state
        .config()
        .forward_auth_key
        .key(req)
        .ok_or_else(|| refusal("missing", "present an API key", 401))?;
    let (method, path) = original_call(req);
    let a = state
        .portal()
        .credentials()
        .verify_call(key, expected, method, path)
        .await?;
    match a.reason {
        Some(r) => Err(refused(r)),
        None if a.valid => Ok(a),
        None => Err(Problem::internal("a refused verification without a reason")),
    }
}

/// The identity headers of an accepted key.
pub(crate) struct Identity {
    pub workspace: String,
    pub project: String,
    pub credential: String,
    pub environment: String,
    pub subscription: String,
    pub plan: Option<String>,
    pub phase: Option<String>,
}

pub(crate) fn identity(a: &VerifyAnswer) -> Identity {
    let s = |v: Option<String>| v.unwrap_or_default();
    Identity {
        workspace: s(a.workspace_id.map(|v| v.to_string())),
        project: s(a.project_id.map(|v| v.to_string())),
        credential: s(a.credential_id.map(|v| v.to_string())),
        environment: s(a.environment.map(|e| e.as_str().to_owned())),
        subscription: s(a.subscription_id.map(|v| v.to_string())),
        plan: a.plan_id.map(|v| v.to_string()),
        phase: a.phase.map(|p| p.as_str().to_owned()),
    }
}

/// The hot path's answer: an empty 200 with the identity headers, or the problem.
pub(crate) async fn answer(state: &AppState, req: &Request) -> poem::Response {
    match decide(state, req).await {
        Ok(a) => {
            let id = identity(&a);
            let mut r = poem::Response::builder().status(StatusCode::OK).finish();
            let h = r.headers_mut();
            let mut put = |name: &'static str, v: &str| {
                if let Ok(v) = HeaderValue::from_str(v) {
                    h.insert(name, v);
                }
            };
            put(WORKSPACE_HEADER, &id.workspace);
            put(PROJECT_HEADER, &id.project);
            put(CREDENTIAL_HEADER, &id.credential);
            put(ENVIRONMENT_HEADER, &id.environment);
            put(SUBSCRIPTION_HEADER, &id.subscription);
            if let Some(p) = &id.plan {
                put(PLAN_HEADER, p);
            }
            if let Some(p) = &id.phase {
                put(PHASE_HEADER, p);
            }
            r
        }
        Err(p) => p.to_response(),
    }
}

/// Whether this path is forward auth's (its own, or Envoy's with the original path appended).
pub fn is_forward_auth(path: &str) -> bool {
    path.strip_prefix(PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}
