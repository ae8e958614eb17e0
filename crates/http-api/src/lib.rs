//! # http-api
//!
//! The portal's REST API over [`onboarding_core::Portal`]: poem-openapi operations that turn a
//! request DTO into one core call and its answer into a response DTO. Authorization is the
//! core's; this crate authenticates (sessions, personal access tokens, the gateway token),
//! maps errors to RFC 9457 problems, handles `Idempotency-Key`, `If-Match`/`ETag`, paging,
//! and serves the OpenAPI document (`/openapi.json`) with its explorer (`/docs`).

pub mod api;
pub mod auth;
pub mod body;
pub mod dto;
pub mod examples;
pub mod explorer;
pub mod export;
pub mod forward_auth;
pub mod gateway_first;
pub mod idempotency;
pub mod observability;
pub mod problem;
pub mod state;
pub mod text;
pub mod throttle;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Response, Route};
use poem_openapi::OpenApiService;

pub use auth::Argon2Hasher;
pub use observability::Metrics;
pub use problem::{Problem, ProblemBody};
pub use state::{ApiConfig, AppState};

use api::accounts::AccountsApi;
use api::audit::AuditApi;
use api::catalog::CatalogApi;
use api::credentials::CredentialsApi;
use api::inbox::InboxApi;
use api::metering::MeteringApi;
use api::oauth::GatewayApi;
use api::projects::ProjectsApi;
use api::review::ReviewApi;
use api::subscriptions::SubscriptionsApi;
use api::webhooks::WebhooksApi;
use api::workspaces::WorkspacesApi;

/// Every area of the API. A new area (webhooks, usage, billing) is one more member.
pub type Apis = (
    AccountsApi,
    WorkspacesApi,
    CatalogApi,
    ProjectsApi,
    SubscriptionsApi,
    ReviewApi,
    InboxApi,
    CredentialsApi,
    GatewayApi,
    AuditApi,
    WebhooksApi,
    MeteringApi,
);

const DESCRIPTION: &str = "The onboarding portal: from first sign-in to live production traffic.\n\n\
Authenticate with the session cookie (`POST /api/v1/auth/sign-in`, or `/api/v1/staff/sign-in` for \
provider staff) or a personal access token (`POST /api/v1/tokens`, then `Authorization: Bearer pat_...`). \
Gateways call `POST /api/v1/verify` with the operator's gateway token. Errors are RFC 9457 problems \
(`application/problem+json`). Creating POSTs accept `Idempotency-Key`; transitions accept \
`If-Match: \"<version>\"`. Money is always a decimal string.";

pub fn api_service(state: &AppState) -> OpenApiService<Apis, ()> {
    let s = || state.clone();
    OpenApiService::new(
        (
            AccountsApi { state: s() },
            WorkspacesApi { state: s() },
            CatalogApi { state: s() },
            ProjectsApi { state: s() },
            SubscriptionsApi { state: s() },
            ReviewApi { state: s() },
            InboxApi { state: s() },
            CredentialsApi { state: s() },
            GatewayApi { state: s() },
            AuditApi { state: s() },
            WebhooksApi { state: s() },
            MeteringApi { state: s() },
        ),
        "Onboarding portal API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(DESCRIPTION)
    .license(
        poem_openapi::LicenseObject::new("Apache-2.0")
            .url("https://www.apache.org/licenses/LICENSE-2.0"),
    )
}

/// The OpenAPI document, as exported to `docs/openapi.json`. It does not depend on the state,
/// so an in-memory portal serves to build it.
pub fn openapi_json() -> String {
    let (portal, store, _) = onboarding_core::memory::in_memory_portal(chrono::Utc::now());
    let state = AppState::new(portal, store.clone(), store.clone(), ApiConfig::default())
        .with_webhooks(store);
    let mut spec = harden_spec(&api_service(&state).spec());
    spec.push('\n');
    spec
}

/// The document as served and exported. poem-openapi writes an optional field as absent from
/// `required` but answers `null` for it: every optional property without a default is marked
/// `nullable` (a `$ref` is wrapped in `allOf` for it), so the document says what the wire
/// carries. Fields with a default (`#[oai(default)]`) stay as they are: `null` is not a value
/// for them.
pub fn harden_spec(spec: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(spec) else {
        return spec.to_owned();
    };
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(|v| v.as_object_mut())
    {
        for schema in schemas.values_mut() {
            let required: Vec<String> = schema
                .get("required")
                .and_then(|r| r.as_array())
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let Some(props) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) else {
                continue;
            };
            for (name, prop) in props.iter_mut() {
                // poem-openapi reads `null` as absent, defaulted properties included.
                if required.contains(name) {
                    continue;
                }
                if let Some(r) = prop.get("$ref").cloned() {
                    *prop = serde_json::json!({"allOf": [{"$ref": r}], "nullable": true});
                } else if let Some(o) = prop.as_object_mut() {
                    // A schema without a type already takes any value, null included
                    // (`nullable` means nothing without `type`, OpenAPI 3.0.3).
                    if o.contains_key("type") || o.contains_key("allOf") {
                        o.insert("nullable".into(), serde_json::Value::Bool(true));
                    }
                }
            }
        }
    }
    type_nullable_refs(&mut doc);
    mark_public_operations(&mut doc);
    // Each deployment serves the document at its own origin: the server is that origin
    // (poem-openapi writes an empty list, which OpenAPI does not allow).
    if doc
        .get("servers")
        .and_then(|s| s.as_array())
        .is_none_or(Vec::is_empty)
    {
        doc["servers"] = serde_json::json!([
            {"url": "/", "description": "the origin that serves this document"}
        ]);
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| spec.to_owned())
}

/// A nullable `allOf: [$ref]` gets the referenced schema's `type` beside `nullable`: OpenAPI
/// 3.0.3 gives `nullable` effect only next to a `type`, and linters and client generators
/// read it so.
fn type_nullable_refs(doc: &mut serde_json::Value) {
    let types: std::collections::HashMap<String, serde_json::Value> = doc
        .pointer("/components/schemas")
        .and_then(|v| v.as_object())
        .map(|schemas| {
            schemas
                .iter()
                .filter_map(|(name, s)| {
                    let t = s
                        .get("type")
                        .cloned()
                        .or_else(|| s.get("properties").map(|_| serde_json::json!("object")))?;
                    Some((format!("#/components/schemas/{name}"), t))
                })
                .collect()
        })
        .unwrap_or_default();
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(|v| v.as_object_mut())
    else {
        return;
    };
    for schema in schemas.values_mut() {
        let Some(props) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) else {
            continue;
        };
        for prop in props.values_mut() {
            let Some(o) = prop.as_object_mut() else {
                continue;
            };
            if o.get("nullable") != Some(&serde_json::Value::Bool(true)) || o.contains_key("type") {
                continue;
            }
            let referenced = o
                .get("allOf")
                .and_then(|a| a.as_array())
                .and_then(|a| a.iter().find_map(|s| s.get("$ref")?.as_str()))
                .and_then(|r| types.get(r))
                .cloned();
            match referenced {
                Some(t) => {
                    o.insert("type".into(), t);
                }
                None => {
                    o.remove("nullable");
                }
            }
        }
    }
}

/// Operations that take no credentials (sign-up and sign-in, the public catalog, the OAuth
/// token endpoint, whose client authenticates in its own way) say so with `security: []`,
/// rather than leaving a reader to guess.
fn mark_public_operations(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            if let Some(o) = op.as_object_mut()
                && !o.contains_key("security")
            {
                o.insert("security".into(), serde_json::json!([]));
            }
        }
    }
}

/// `(path template segments, methods)` of every documented operation: a request to a
/// documented path with another method answers 405 with `Allow`.
fn allowed_methods(spec: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) {
        for (path, ops) in paths {
            let mut methods: Vec<String> = ops
                .as_object()
                .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect())
                .unwrap_or_default();
            if methods.iter().any(|m| m == "GET") {
                methods.push("HEAD".into());
            }
            methods.sort();
            let segments = path.split('/').map(str::to_owned).collect();
            out.push((segments, methods));
        }
    }
    out
}

/// The methods a path accepts: the union over every template it matches (two templates may
/// differ only in a parameter's name, e.g. `{metric}` and `{threshold_id}`).
fn methods_for(table: &[(Vec<String>, Vec<String>)], path: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = path.split('/').collect();
    let mut methods: Vec<String> = table
        .iter()
        .filter(|(segments, _)| {
            segments.len() == parts.len()
                && segments.iter().zip(&parts).all(|(s, p)| {
                    if s.starts_with('{') && s.ends_with('}') {
                        !p.is_empty()
                    } else {
                        s == p
                    }
                })
        })
        .flat_map(|(_, m)| m.iter().cloned())
        .collect();
    if methods.is_empty() {
        return None;
    }
    methods.sort();
    methods.dedup();
    Some(methods)
}

/// The whole HTTP application: `ops` (health, metrics: the server's own routes), the API, its
/// document and explorer, wrapped in the body limit, idempotency, problem conversion, request
/// ids and metrics; the gateways' two hot paths answered in front of it.
pub fn app(state: AppState, ops: Route, metrics: Arc<Metrics>) -> impl Endpoint<Output = Response> {
    let rest = documented(&state, ops, &metrics);
    // The gateways' hot paths: lean handlers in front of the documented operations.
    observed(gateway_first::GatewayFirst::new(state, rest), metrics)
}

/// The outermost layer: request ids, logging, metrics, and every error as a problem.
fn observed<E: Endpoint<Output = Response> + 'static>(
    ep: E,
    metrics: Arc<Metrics>,
) -> impl Endpoint<Output = Response> {
    ep.around(move |ep, req| observability::observe(ep, metrics.clone(), req))
}

/// Every route as documented, each operation behind poem-openapi's extractors, without the
/// gateway hot paths (their tests compare the two).
fn documented(
    state: &AppState,
    ops: Route,
    metrics: &Metrics,
) -> impl Endpoint<Output = Response> + use<> {
    let api = api_service(state);
    let spec = harden_spec(&api.spec());
    let table = Arc::new(allowed_methods(&spec));
    let paths: Vec<String> = table
        .iter()
        .map(|(segments, _)| segments.join("/"))
        .collect();
    metrics.name_routes(paths.iter().map(String::as_str));
    let routes = ops
        .at(
            "/openapi.json",
            poem::get(poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/json; charset=utf-8")
                    .body(spec.clone())
            })),
        )
        .nest("/docs", explorer::routes())
        .nest("/", api);
    let limit = state.config().body_limit;
    routes
        .around(idempotency::idempotency)
        .around(move |ep, req| body_limit(ep, limit, req))
        .around(move |ep, req| method_not_allowed(ep, table.clone(), req))
        .data(state.clone())
}

/// A documented path asked with a method it does not have: 405 with `Allow` (the framework
/// alone answers 404 or 405 without `Allow`). The router answers such a request without
/// running any handler, so the table is consulted only when it did (404 or 405): a request
/// it routes, the verification hot path above all, never pays for the scan.
async fn method_not_allowed<E: Endpoint>(
    ep: Arc<E>,
    table: Arc<Vec<(Vec<String>, Vec<String>)>>,
    req: poem::Request,
) -> poem::Result<Response> {
    use poem::IntoResponse;
    use poem::http::StatusCode;
    let method = req.method().clone();
    let uri = req.uri().clone();
    let answer = ep.call(req).await.map(IntoResponse::into_response);
    let status = match &answer {
        Ok(r) => r.status(),
        Err(e) => e.status(),
    };
    if status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED {
        return answer;
    }
    let refused = methods_for(&table, uri.path())
        .filter(|methods| !methods.iter().any(|m| m == method.as_str()));
    match refused {
        Some(methods) => Ok(problem::Problem::new(
            "method-not-allowed",
            format!("this route accepts {}", methods.join(", ")),
        )
        .header("Allow", methods.join(", "))
        .to_response()),
        None => answer,
    }
}

/// The body length a request declares (`Content-Length`), if it declares a readable one.
pub(crate) fn declared_length(req: &poem::Request) -> Option<usize> {
    req.headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Refuses bodies over the limit before reading them (413). poem's `SizeLimit` also demands a
/// `Content-Length` on bodiless requests, which a GET never sends; this checks only a declared
/// length, and a chunked body is cut at the limit while it is read.
async fn body_limit<E: Endpoint>(
    ep: Arc<E>,
    limit: usize,
    mut req: poem::Request,
) -> poem::Result<Response> {
    use poem::IntoResponse;
    match declared_length(&req) {
        Some(n) if n > limit => {
            return Ok(problem::problem_from_poem_error(&poem::Error::from_status(
                poem::http::StatusCode::PAYLOAD_TOO_LARGE,
            ))
            .to_response());
        }
        Some(_) => {}
        None => {
            if req
                .headers()
                .contains_key(poem::http::header::TRANSFER_ENCODING)
            {
                let body = body::read_body(req.take_body(), limit).await.map_err(|_| {
                    poem::Error::from_status(poem::http::StatusCode::PAYLOAD_TOO_LARGE)
                })?;
                req.set_body(body);
            }
        }
    }
    ep.call(req).await.map(IntoResponse::into_response)
}
