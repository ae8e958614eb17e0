//! # http-api
//!
//! The portal's REST API over [`onboarding_core::Portal`]: poem-openapi operations that turn a
//! request DTO into one core call and its answer into a response DTO. Authorization is the
//! core's; this crate authenticates (sessions, personal access tokens, the gateway token),
//! maps errors to RFC 9457 problems, handles `Idempotency-Key`, `If-Match`/`ETag`, paging,
//! and serves the OpenAPI document (`/openapi.json`) with its explorer (`/docs`).

pub mod api;
pub mod auth;
pub mod dto;
pub mod export;
pub mod fast_verify;
pub mod idempotency;
pub mod observability;
pub mod problem;
pub mod state;
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
}

/// The OpenAPI document, as exported to `docs/openapi.json`. It does not depend on the state,
/// so an in-memory portal serves to build it.
pub fn openapi_json() -> String {
    let (portal, store, _) = onboarding_core::memory::in_memory_portal(chrono::Utc::now());
    let state = AppState::new(portal, store.clone(), store.clone(), ApiConfig::default())
        .with_webhooks(store);
    let mut spec = api_service(&state).spec();
    spec.push('\n');
    spec
}

/// The whole HTTP application: `ops` (health, metrics: the server's own routes), the API, its
/// document and explorer, wrapped in the body limit, idempotency, problem conversion, request
/// ids and metrics.
pub fn app(state: AppState, ops: Route, metrics: Arc<Metrics>) -> impl Endpoint<Output = Response> {
    let api = api_service(&state);
    let routes = ops
        .at("/openapi.json", api.spec_endpoint())
        .nest("/docs", api.swagger_ui())
        // The verification hot path: a lean handler in front of the documented operation.
        .at("/api/v1/verify", poem::post(fast_verify::verify))
        .nest("/", api);
    let limit = state.config().body_limit;
    routes
        .around(idempotency::idempotency)
        .around(move |ep, req| body_limit(ep, limit, req))
        .data(state)
        .around(move |ep, req| observability::observe(ep, metrics.clone(), req))
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
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
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
                let body = req.take_body().into_bytes_limit(limit).await.map_err(|_| {
                    poem::Error::from_status(poem::http::StatusCode::PAYLOAD_TOO_LARGE)
                })?;
                req.set_body(body);
            }
        }
    }
    ep.call(req).await.map(IntoResponse::into_response)
}
