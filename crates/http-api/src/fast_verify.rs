//! The verification hot path as a plain poem handler. poem-openapi's extractors and response
//! machinery cost 15–27 % per request (see the architecture notes); this handler parses the
//! same body with `serde_json` borrowing from the request bytes and writes the same answer.
//! It answers `POST /api/v1/verify` in front of the OpenAPI service ([`VerifyFirst`]), whose
//! `GatewayApi::verify` operation stays the documented contract (and its test double).

use std::borrow::Cow;

use onboarding_core::credential::SecretHash;
use onboarding_core::project::Environment;
use poem::http::{Method, StatusCode, header};
use poem::{Body, Endpoint, Request, Response};
use serde::Deserialize;

use crate::auth::constant_time_eq;
use crate::problem::Problem;
use crate::state::AppState;

/// Largest verify body: a secret and an endpoint name.
const MAX_BODY: usize = 16 * 1024;

#[derive(Deserialize)]
struct VerifyBody<'a> {
    #[serde(borrow)]
    secret: Cow<'a, str>,
    #[serde(borrow, default)]
    environment: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    endpoint: Option<Cow<'a, str>>,
    #[serde(default)]
    success: Option<bool>,
}

fn authorized(state: &AppState, req: &Request) -> Result<(), Problem> {
    let Some(expected) = &state.config().gateway_token_hash else {
        return Err(Problem::new(
            "unauthenticated",
            "no gateway token is configured on this portal",
        ));
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(Problem::unauthenticated)?;
    let got = SecretHash::of(token.trim());
    if constant_time_eq(got.as_str().as_bytes(), expected.as_str().as_bytes()) {
        Ok(())
    } else {
        Err(Problem::new("unauthenticated", "unknown gateway token"))
    }
}

async fn answer(state: &AppState, req: &Request, body: Body) -> Result<Response, Problem> {
    authorized(state, req)?;
    let bytes = body
        .into_bytes_limit(MAX_BODY)
        .await
        .map_err(|_| Problem::new("payload-too-large", "the body is too large").with_status(413))?;
    let b: VerifyBody<'_> = serde_json::from_slice(&bytes).map_err(|e| {
        Problem::new(
            "bad-request",
            format!("parse request payload error: failed to parse \"VerifyRequest\": {e}"),
        )
    })?;
    let env = match b.environment.as_deref() {
        Some(e) => Some(
            Environment::parse(e)
                .ok_or_else(|| Problem::field("environment", "`sandbox` or `production`"))?,
        ),
        None => None,
    };
    let a = state
        .portal()
        .verify_secret(
            &b.secret,
            env,
            b.endpoint.as_deref(),
            b.success.unwrap_or(true),
        )
        .await?;
    let json = serde_json::to_vec(&a).map_err(Problem::internal)?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .content_type("application/json; charset=utf-8")
        .body(json))
}

/// The path of the verification endpoint.
pub const PATH: &str = "/api/v1/verify";

/// `POST /api/v1/verify` answered ahead of every layer but the outermost (request id, logging,
/// metrics), everything else passed on to `rest`. The layers it skips do nothing for it: the
/// idempotency layer leaves gateway paths alone, the handler bounds its own body (413 over
/// 16 KiB, below any configured body limit), the 405 table is for paths the router does not
/// answer, and the shared state is held here instead of looked up per request. Each skipped
/// layer cost a move of the request's future on every call (measured in issue 7's profile).
/// Other methods on the path go to `rest`, whose router and 405 layer answer them.
pub struct VerifyFirst<E> {
    state: AppState,
    rest: E,
}

impl<E> VerifyFirst<E> {
    pub fn new(state: AppState, rest: E) -> Self {
        Self { state, rest }
    }
}

impl<E: Endpoint<Output = Response>> Endpoint for VerifyFirst<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if req.method() == Method::POST && req.uri().path() == PATH {
            let body = req.take_body();
            return Ok(match answer(&self.state, &req, body).await {
                Ok(r) => r,
                Err(p) => p.to_response(),
            });
        }
        // Boxed: a future is as large as its largest branch, and this one (the whole API
        // stack, ~10 KB) inlined made every verification's future that large, copied on each
        // move (issue 7: 23.7 KB -> 12 KB per request with the portal's branch boxed too).
        Box::pin(self.rest.call(req)).await
    }
}
