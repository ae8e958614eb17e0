//! The REST API, one `#[OpenApi]` struct per area, combined by tuple in [`crate::api_service`]:
//! a later area (webhooks, usage, billing) is a new module and one more tuple member.

pub mod accounts;
pub mod audit;
pub mod catalog;
pub mod credentials;
pub mod inbox;
pub mod metering;
pub mod oauth;
pub mod projects;
pub mod review;
pub mod subscriptions;
pub mod webhooks;
pub mod workspaces;

use std::str::FromStr;

use onboarding_core::ids::IdParseError;
use onboarding_core::roles::RoleSet;
use poem_openapi::payload::Json;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{ApiResponse, Tags};

use crate::problem::Problem;
use onboarding_core::ServiceError;

#[derive(Tags)]
pub enum Tag {
    /// Sign up, sign in and out, the access page, personal access tokens, staff.
    Accounts,
    /// Workspaces (organizations), members, invitations, join requests, named responsibles.
    Workspaces,
    /// API products and plans (admins configure; everyone reads).
    Catalog,
    /// Projects, clone to production, alert thresholds, the operating pass.
    Projects,
    /// The pipeline: subscribe, submit, withdraw, decisions, sandbox access, payments.
    Subscriptions,
    /// The staff inbox (every queue waiting on provider staff), the go-live queue and gate
    /// sign-off.
    Review,
    /// API keys and OAuth clients: create, list, regenerate, rotate, revoke.
    Credentials,
    /// The hot path for gateways and the OAuth token endpoint.
    Gateway,
    /// The tamper-evident audit log and its exports.
    Audit,
    /// Usage views, ingestion from gateways, alerts, exports and the report history.
    Usage,
    /// Invoices per period.
    Billing,
    /// Webhook endpoints (register, verify, test, rotate the signing secret) and deliveries.
    Webhooks,
}

pub type ApiResult<T> = Result<T, Problem>;

/// 200 with the resource.
#[derive(ApiResponse)]
pub enum Ok200<T: ToJSON + ParseFromJSON + Send + Sync> {
    #[oai(status = 200)]
    Ok(Json<T>),
}

/// 200 with the resource and its version as `ETag` (send it back as `If-Match`).
#[derive(ApiResponse)]
pub enum Tagged<T: ToJSON + ParseFromJSON + Send + Sync> {
    #[oai(status = 200)]
    Ok(Json<T>, #[oai(header = "ETag")] String),
}

/// 201 with the created resource and its `Location`.
#[derive(ApiResponse)]
pub enum Created<T: ToJSON + ParseFromJSON + Send + Sync> {
    #[oai(status = 201)]
    Created(Json<T>, #[oai(header = "Location")] String),
}

/// `Cache-Control` on every answer that carries a secret or a token (issue 19): no cache, the
/// browser's or a proxy's, may keep what is shown once. Other answers leave caching alone.
pub const NO_STORE: &str = "no-store";

/// 201 with a created resource holding a secret shown this once, never stored by a cache.
#[derive(ApiResponse)]
pub enum CreatedSecret<T: ToJSON + ParseFromJSON + Send + Sync> {
    #[oai(status = 201)]
    Created(
        Json<T>,
        #[oai(header = "Location")] String,
        #[oai(header = "Cache-Control")] String,
    ),
}

/// 200 with a resource holding a new secret shown this once, its version as `ETag`, never
/// stored by a cache.
#[derive(ApiResponse)]
pub enum TaggedSecret<T: ToJSON + ParseFromJSON + Send + Sync> {
    #[oai(status = 200)]
    Ok(
        Json<T>,
        #[oai(header = "ETag")] String,
        #[oai(header = "Cache-Control")] String,
    ),
}

#[derive(ApiResponse)]
pub enum NoContent {
    #[oai(status = 204)]
    NoContent,
}

pub fn ok<T: ToJSON + ParseFromJSON + Send + Sync>(v: T) -> ApiResult<Ok200<T>> {
    Ok(Ok200::Ok(Json(v)))
}

pub fn tagged<T: ToJSON + ParseFromJSON + Send + Sync>(v: T, version: i64) -> ApiResult<Tagged<T>> {
    Ok(Tagged::Ok(Json(v), etag(version)))
}

pub fn created<T: ToJSON + ParseFromJSON + Send + Sync>(
    v: T,
    location: String,
) -> ApiResult<Created<T>> {
    Ok(Created::Created(Json(v), location))
}

pub fn created_secret<T: ToJSON + ParseFromJSON + Send + Sync>(
    v: T,
    location: String,
) -> ApiResult<CreatedSecret<T>> {
    Ok(CreatedSecret::Created(Json(v), location, NO_STORE.into()))
}

pub fn tagged_secret<T: ToJSON + ParseFromJSON + Send + Sync>(
    v: T,
    version: i64,
) -> ApiResult<TaggedSecret<T>> {
    Ok(TaggedSecret::Ok(Json(v), etag(version), NO_STORE.into()))
}

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// A path id: a malformed one answers 404 like an unknown one.
pub fn path_id<T: FromStr<Err = IdParseError>>(s: &str, entity: &str) -> ApiResult<T> {
    s.parse().map_err(|_| Problem::not_found(entity))
}

/// An id in a body or query: a malformed one is a validation problem naming the field.
pub fn body_id<T: FromStr<Err = IdParseError>>(s: &str, field: &str) -> ApiResult<T> {
    s.parse()
        .map_err(|e: IdParseError| Problem::field(field, e.to_string()))
}

pub fn role_set<S: AsRef<str>>(names: &[S], field: &str) -> ApiResult<RoleSet> {
    RoleSet::parse(names).map_err(|mut e| {
        e.field = field.into();
        Problem::validation(vec![e])
    })
}

/// An `If-Match` header: `"<version>"`, `W/"<version>"` (the ETags this API sends), or `*`
/// or an empty value (any version, as if absent). Anything else is refused as the parameter it
/// is (422).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch(pub Option<i64>);

impl IfMatch {
    const PATTERN: &'static str = r#"^(|\*|(W/)?"[0-9]{1,15}")$"#;

    fn read(raw: &str) -> Option<Self> {
        if raw.is_empty() || raw == "*" {
            return Some(Self(None));
        }
        let quoted = raw.strip_prefix("W/").unwrap_or(raw);
        let digits = quoted.strip_prefix('"')?.strip_suffix('"')?;
        (!digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(digits.parse().ok()))
    }
}

impl poem_openapi::types::Type for IfMatch {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        "string(etag)".into()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        let mut s = poem_openapi::registry::MetaSchema::new("string");
        s.pattern = Some(Self::PATTERN.into());
        poem_openapi::registry::MetaSchemaRef::Inline(Box::new(s))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl poem_openapi::types::ParseFromParameter for IfMatch {
    fn parse_from_parameter(value: &str) -> poem_openapi::types::ParseResult<Self> {
        Self::read(value).ok_or_else(|| {
            poem_openapi::types::ParseError::custom("expected an ETag such as \"3\", or *")
        })
    }
}

/// The expected version from `If-Match` or a body's `version`, and whether it came from
/// `If-Match` (a stale one then answers 412).
pub fn expected_version(if_match: Option<IfMatch>, body: Option<i64>) -> (Option<i64>, bool) {
    match if_match {
        Some(IfMatch(Some(v))) => (Some(v), true),
        _ => (body, false),
    }
}

/// A stale version is a failed precondition (412) when it came as `If-Match`, a conflict (409)
/// when it came in the body; the problem keeps the current state either way.
pub fn precondition(e: ServiceError, via_if_match: bool) -> Problem {
    match e {
        ServiceError::Stale { message, current } if via_if_match => Problem::new(
            "precondition-failed",
            format!("If-Match did not match: {message}"),
        )
        .current(current),
        other => other.into(),
    }
}

/// Keyset paging over a list the core returns whole, ordered by id (ULIDs sort by creation).
pub fn page<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> String,
    cursor: Option<String>,
    limit: Option<u32>,
) -> (Vec<T>, Option<String>) {
    let limit = limit.unwrap_or(50).clamp(1, 200) as usize;
    items.sort_by_key(&key);
    if let Some(c) = cursor {
        items.retain(|i| key(i) > c);
    }
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more { items.last().map(&key) } else { None };
    (items, next)
}
