//! The gateways' hot paths as plain poem handlers: `POST /api/v1/verify` (once per call a
//! gateway forwards), `POST /api/v1/usage/events` (the outcomes it reports) and forward auth
//! (`/api/v1/forward-auth`, any method: [`crate::forward_auth`]). poem-openapi's
//! extractors and response machinery, and the layers in front of the router, cost 15–27 % per
//! request (see the architecture notes and issue 7's profile); these handlers read the same
//! bodies with `serde_json`, apply the same checks in the same order and write the same
//! answers. The documented operations (`GatewayApi::verify`, `MeteringApi::ingest`) stay the
//! contract; the tests below send every case to both and compare the answers.

use std::borrow::Cow;

use poem::http::{Method, StatusCode, header};
use poem::{Body, Endpoint, Request, Response};
use poem_openapi::error::{ContentTypeError, ParseRequestPayloadError};
use serde::Deserialize;

use crate::api::metering::{UsageEventsRequest, ingest_batch};
use crate::api::oauth::verify_request;
use crate::auth::gateway_token_accepted;
use crate::body::read_body;
use crate::idempotency;
use crate::problem::{Problem, problem_from_poem_error};
use crate::state::AppState;

/// The path of the verification endpoint.
pub const VERIFY_PATH: &str = "/api/v1/verify";
/// The path of the usage ingestion endpoint.
pub const USAGE_PATH: &str = "/api/v1/usage/events";

/// Largest verify body: a secret and an endpoint name.
const MAX_VERIFY_BODY: usize = 16 * 1024;

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

/// The token of an `Authorization: Bearer <token>` header, read as poem-openapi's bearer
/// scheme reads it (the `headers` crate): the scheme in any case, one space, then the token
/// without leading spaces.
fn bearer(req: &Request) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let scheme = v.get(..6)?;
    (v.len() > 7 && scheme.eq_ignore_ascii_case("Bearer") && v.as_bytes()[6] == b' ')
        .then(|| v[7..].trim_start())
}

fn authorized(state: &AppState, req: &Request) -> Result<(), Problem> {
    let token = bearer(req).ok_or_else(Problem::unauthenticated)?;
    gateway_token_accepted(state, token)
}

/// The media type check of poem-openapi's `Json` payload: `application/json` or any
/// `application/*+json`, 415 otherwise or without a `Content-Type`.
fn json_content_type(req: &Request) -> Result<(), Problem> {
    let refused = |e: ContentTypeError| problem_from_poem_error(&e.into());
    match req.content_type() {
        Some("application/json") => Ok(()),
        Some(ct) => match ct.parse::<mime::Mime>() {
            Ok(m)
                if m.type_() == "application"
                    && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json")) =>
            {
                Ok(())
            }
            _ => Err(refused(ContentTypeError::NotSupported {
                content_type: ct.to_owned(),
            })),
        },
        None => Err(refused(ContentTypeError::ExpectContentType)),
    }
}

/// A body serde could not read, worded as poem-openapi words it.
fn unreadable(schema: &str, e: serde_json::Error) -> Problem {
    problem_from_poem_error(
        &ParseRequestPayloadError {
            reason: format!("{e} (occurred while parsing \"{schema}\")"),
        }
        .into(),
    )
}

fn too_large() -> Problem {
    problem_from_poem_error(&poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE))
}

fn json_answer(status: StatusCode, body: &impl serde::Serialize) -> Result<Response, Problem> {
    let json = serde_json::to_vec(body).map_err(Problem::internal)?;
    Ok(Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(json))
}

async fn verify(state: &AppState, req: &Request, body: Body) -> Result<Response, Problem> {
    authorized(state, req)?;
    json_content_type(req)?;
    let bytes = read_body(body, MAX_VERIFY_BODY)
        .await
        .map_err(|_| Problem::new("payload-too-large", "the body is too large").with_status(413))?;
    let b: VerifyBody<'_> =
        serde_json::from_slice(&bytes).map_err(|e| unreadable("VerifyRequest", e))?;
    let a = verify_request(
        state,
        &b.secret,
        b.environment.as_deref(),
        b.endpoint.as_deref(),
        b.success,
    )
    .await?;
    json_answer(StatusCode::OK, &a)
}

/// In the order the documented stack checks: the size (its body-limit layer: 413 for a
/// declared length over the limit, or a streamed body that grows over it, before anything
/// else), the token and the media type (the operation's extractors), then the body's content.
async fn ingest(state: &AppState, req: &Request, body: Body) -> Result<Response, Problem> {
    let limit = state.config().body_limit;
    if crate::declared_length(req).is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let bytes = read_body(body, limit).await.map_err(|_| too_large())?;
    authorized(state, req)?;
    json_content_type(req)?;
    let batch: UsageEventsRequest =
        serde_json::from_slice(&bytes).map_err(|e| unreadable("UsageEventsRequest", e))?;
    let answer = ingest_batch(state, batch.events).await?;
    json_answer(StatusCode::ACCEPTED, &answer)
}

/// The two gateway calls answered ahead of every layer but the outermost (request id, logging,
/// metrics), everything else passed on to `rest`. The layers they skip do nothing for them:
/// the idempotency layer leaves verification alone and lets an ingestion through unless it
/// carries an `Idempotency-Key` (such a request takes the documented way, so that the layer's
/// rules hold for it unchanged); the handlers bound their own bodies; the 405 table is for
/// paths the router does not answer; the shared state is held here instead of looked up per
/// request. Each skipped layer cost a move of the request's future on every call (measured in
/// issue 7's profile). Other methods on the paths go to `rest`, whose router and 405 layer
/// answer them.
pub struct GatewayFirst<E> {
    state: AppState,
    rest: E,
}

impl<E> GatewayFirst<E> {
    pub fn new(state: AppState, rest: E) -> Self {
        Self { state, rest }
    }
}

impl<E: Endpoint<Output = Response>> Endpoint for GatewayFirst<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        // Any method: gateways send the caller's (Envoy) or their own (nginx, Traefik).
        if crate::forward_auth::is_forward_auth(req.uri().path()) {
            return Ok(crate::forward_auth::answer(&self.state, &req).await);
        }
        if req.method() == Method::POST {
            let path = req.uri().path();
            let answer = if path == VERIFY_PATH {
                let body = req.take_body();
                Some(verify(&self.state, &req, body).await)
            } else if path == USAGE_PATH && !req.headers().contains_key(idempotency::HEADER) {
                let body = req.take_body();
                Some(ingest(&self.state, &req, body).await)
            } else {
                None
            };
            if let Some(answer) = answer {
                return Ok(answer.unwrap_or_else(|p| p.to_response()));
            }
        }
        // Boxed: a future is as large as its largest branch, and this one (the whole API
        // stack, ~10 KB) inlined made every verification's future that large, copied on each
        // move (issue 7: 23.7 KB -> 12 KB per request with the portal's branch boxed too).
        Box::pin(self.rest.call(req)).await
    }
}

#[cfg(test)]
mod tests {
    //! Each request is sent to the application as served (the hot paths in front) and to the
    //! documented stack without them; the two answers must agree on the status, the media type and
    //! the body. A problem's `detail` may be worded differently where serde and poem-openapi
    //! describe the same unreadable body in their own words; its type, status and fields agree.

    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use futures_util::stream;
    use onboarding_core::credential::SecretHash;
    use onboarding_core::memory::in_memory_portal;
    use onboarding_core::project::Environment;
    use onboarding_core::services::NewCredentialKind;
    use poem::http::HeaderMap;
    use poem::{Body, Endpoint, EndpointExt, Request, Route};
    use serde_json::{Value, json};

    use super::*;
    use crate::{ApiConfig, Metrics};

    const TOKEN: &str = "gateway-token-for-the-hot-path-tests";

    struct Apps {
        served: poem::endpoint::BoxEndpoint<'static, Response>,
        documented: poem::endpoint::BoxEndpoint<'static, Response>,
        /// A live sandbox API key, a revoked one, and the live one's credential id.
        secret: String,
        revoked: String,
        credential: String,
    }

    async fn apps() -> Apps {
        apps_with(Default::default()).await
    }

    async fn apps_with(forward_auth_key: crate::forward_auth::KeyHeader) -> Apps {
        let (portal, store, _clock) =
            in_memory_portal(Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap());
        let prov = test_support::provider(&portal, false).await.unwrap();
        let p = test_support::partner(&portal, "lead@partner.example", "Partner", &prov.explorer)
            .await
            .unwrap();
        let sub = portal
            .pipeline()
            .subscribe(p.caller, p.project.id, prov.explorer.id)
            .await
            .unwrap();
        let key = |name: &'static str| {
            let portal = portal.clone();
            async move {
                portal
                    .credentials()
                    .create_credential(
                        p.caller,
                        sub.id,
                        Environment::Sandbox,
                        NewCredentialKind::ApiKey,
                        name,
                    )
                    .await
                    .unwrap()
            }
        };
        let live = key("gateway").await;
        let gone = key("revoked").await;
        portal
            .credentials()
            .revoke_credential(p.caller, gone.credential.id)
            .await
            .unwrap();
        let config = ApiConfig {
            gateway_token_hash: Some(SecretHash::of(TOKEN)),
            forward_auth_key,
            ..ApiConfig::default()
        };
        let state =
            AppState::new(portal, store.clone(), store.clone(), config).with_webhooks(store);
        let metrics = Arc::new(Metrics::default());
        let documented = crate::documented(&state, Route::new(), &metrics);
        Apps {
            served: crate::app(state, Route::new(), Arc::new(Metrics::default())).boxed(),
            documented: crate::observed(documented, metrics).boxed(),
            secret: live.secret.expose().to_owned(),
            revoked: gone.secret.expose().to_owned(),
            credential: live.credential.id.to_string(),
        }
    }

    /// A request to `path`: `headers` as given, the body as one chunk or, with `streamed`,
    /// as chunks without a declared length.
    fn request(path: &str, headers: &[(&str, &str)], body: Vec<u8>, streamed: bool) -> Request {
        let mut b = Request::builder().method(Method::POST).uri_str(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if streamed {
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
            b.header("Transfer-Encoding", "chunked")
                .body(Body::from_bytes_stream(stream::iter(chunks)))
        } else {
            let n = body.len().to_string();
            b.header("Content-Length", n).body(body)
        }
    }

    struct Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Value,
    }

    async fn send(ep: &poem::endpoint::BoxEndpoint<'static, Response>, req: Request) -> Answer {
        let r = ep.get_response(req).await;
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.into_body().into_bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Sends one case to both stacks and checks that they agree; returns the status.
    async fn same_answer(
        apps: &Apps,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
        streamed: bool,
    ) -> StatusCode {
        let body = body.into();
        let served = send(&apps.served, request(path, headers, body.clone(), streamed)).await;
        let documented = send(
            &apps.documented,
            request(path, headers, body.clone(), streamed),
        )
        .await;
        let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        assert_eq!(
            served.status, documented.status,
            "{path} {headers:?} {shown}\nserved: {}\ndocumented: {}",
            served.body, documented.body
        );
        let media = |a: &Answer| a.headers.get(header::CONTENT_TYPE).cloned();
        assert_eq!(media(&served), media(&documented), "{path} {shown}");
        let (mut s, mut d) = (served.body, documented.body);
        if served.status == StatusCode::BAD_REQUEST {
            for b in [&mut s, &mut d] {
                let detail = b["detail"].as_str().unwrap_or_default();
                assert!(
                    detail.starts_with("parse request payload error: "),
                    "{detail}"
                );
                b["detail"] = Value::Null;
            }
        }
        assert_eq!(s, d, "{path} {headers:?} {shown}");
        served.status
    }

    const JSON: (&str, &str) = ("Content-Type", "application/json");

    fn bearer_header() -> String {
        format!("Bearer {TOKEN}")
    }

    #[tokio::test]
    async fn ingestion_answers_exactly_as_the_documented_operation() {
        let apps = apps().await;
        let auth = bearer_header();
        let h: &[(&str, &str)] = &[JSON, ("Authorization", &auth)];
        let cred = &apps.credential;
        let unknown = "cred_01JAAAAAAAAAAAAAAAAAAAAAAA";
        let event = |extra: Value| {
            let mut e = json!({"credential_id": cred, "endpoint": "GET /accounts", "status": 200});
            for (k, v) in extra.as_object().unwrap() {
                e[k] = v.clone();
            }
            e
        };
        let batch = |events: Vec<Value>| json!({ "events": events }).to_string();
        let accepted: Vec<(String, StatusCode)> = vec![
            (
                batch(vec![
                    event(json!({"latency_ms": 12})),
                    event(json!({"status": 503, "latency_ms": null, "at": null})),
                    event(json!({"credential_id": unknown})),
                    event(json!({"credential_id": "not an id"})),
                    event(json!({"status": 42})),
                    event(json!({"endpoint": "   "})),
                    event(json!({"endpoint": "x".repeat(201)})),
                    event(json!({"at": "2026-11-01T00:00:00Z"})),
                    event(json!({"at": "2026-12-01T09:59:00+01:00"})),
                    event(json!({"at": "2026-12-01T09:30:00.123456Z"})),
                    event(json!({"latency_ms": 1_000_000_000_000_000u64})),
                    event(json!({"unknown_field": [1, 2]})),
                ]),
                StatusCode::ACCEPTED,
            ),
            (batch(vec![]), StatusCode::ACCEPTED),
            (
                r#"{"events": [], "extra": true}"#.into(),
                StatusCode::ACCEPTED,
            ),
            (
                batch(vec![event(json!({})); 1001]),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ];
        for (body, status) in accepted {
            assert_eq!(same_answer(&apps, USAGE_PATH, h, body, false).await, status);
        }
        let unreadable = [
            batch(vec![event(json!({"latency_ms": 1_000_000_000_000_001u64}))]),
            batch(vec![event(json!({"latency_ms": -1}))]),
            batch(vec![event(json!({"latency_ms": 1.5}))]),
            batch(vec![event(json!({"status": 70000}))]),
            batch(vec![event(json!({"status": -1}))]),
            batch(vec![event(json!({"status": 200.0}))]),
            batch(vec![event(json!({"status": "200"}))]),
            batch(vec![event(json!({"status": null}))]),
            batch(vec![event(json!({"credential_id": 7}))]),
            batch(vec![event(json!({"credential_id": null}))]),
            batch(vec![event(json!({"endpoint": false}))]),
            batch(vec![event(json!({"at": "yesterday"}))]),
            batch(vec![event(json!({"at": 1764583200}))]),
            batch(vec![json!({"endpoint": "GET /a", "status": 200})]),
            batch(vec![json!("event")]),
            r#"{"events": null}"#.into(),
            r#"{"events": {}}"#.into(),
            r#"{}"#.into(),
            r#"[]"#.into(),
            "null".into(),
            "".into(),
            "{".into(),
            r#"{"events": []} trailing"#.into(),
            r#"{"events": [{"credential_id": "\ud800", "endpoint": "GET /a", "status": 200}]}"#
                .into(),
        ];
        for body in unreadable {
            assert_eq!(
                same_answer(&apps, USAGE_PATH, h, body, false).await,
                StatusCode::BAD_REQUEST
            );
        }
    }

    #[tokio::test]
    async fn ingestion_checks_token_media_type_and_size_in_the_documented_order() {
        let apps = apps().await;
        let good = bearer_header();
        let lower = format!("bearer {TOKEN}");
        let upper = format!("BEARER {TOKEN}");
        let spaced = format!("Bearer   {TOKEN}");
        let body = r#"{"events": []}"#;
        let cases: Vec<(Vec<(&str, &str)>, StatusCode)> = vec![
            (vec![JSON], StatusCode::UNAUTHORIZED),
            (
                vec![JSON, ("Authorization", "Bearer wrong")],
                StatusCode::UNAUTHORIZED,
            ),
            (
                vec![JSON, ("Authorization", "Basic Z3c6Z3c=")],
                StatusCode::UNAUTHORIZED,
            ),
            (
                vec![JSON, ("Authorization", "Bearer")],
                StatusCode::UNAUTHORIZED,
            ),
            (vec![JSON, ("Authorization", &lower)], StatusCode::ACCEPTED),
            (vec![JSON, ("Authorization", &upper)], StatusCode::ACCEPTED),
            (vec![JSON, ("Authorization", &spaced)], StatusCode::ACCEPTED),
            (
                vec![("Authorization", &good)],
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                vec![("Content-Type", "text/plain"), ("Authorization", &good)],
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                vec![("Content-Type", "???"), ("Authorization", &good)],
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                vec![
                    ("Content-Type", "application/json; charset=utf-8"),
                    ("Authorization", &good),
                ],
                StatusCode::ACCEPTED,
            ),
            (
                vec![
                    ("Content-Type", "application/vnd.gateway+json"),
                    ("Authorization", &good),
                ],
                StatusCode::ACCEPTED,
            ),
            // Without the token and without a media type: the token is checked first.
            (vec![], StatusCode::UNAUTHORIZED),
        ];
        for (headers, status) in cases {
            assert_eq!(
                same_answer(&apps, USAGE_PATH, &headers, body, false).await,
                status
            );
        }
        // Over the 1 MiB body limit, declared or streamed, with or without the token.
        let big = format!(r#"{{"events": [], "pad": "{}"}}"#, "x".repeat(1024 * 1024));
        for headers in [vec![JSON, ("Authorization", good.as_str())], vec![JSON]] {
            for streamed in [false, true] {
                let status = same_answer(&apps, USAGE_PATH, &headers, big.clone(), streamed).await;
                assert_eq!(
                    status,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "streamed {streamed} {headers:?}"
                );
            }
        }
        // Just under it: read and answered.
        let under = format!(r#"{{"events": [], "pad": "{}"}}"#, "x".repeat(1000 * 1024));
        for streamed in [false, true] {
            let status = same_answer(
                &apps,
                USAGE_PATH,
                &[JSON, ("Authorization", &good)],
                under.clone(),
                streamed,
            )
            .await;
            assert_eq!(status, StatusCode::ACCEPTED);
        }
    }

    #[tokio::test]
    async fn verification_answers_exactly_as_the_documented_operation() {
        let apps = apps().await;
        let auth = bearer_header();
        let h: &[(&str, &str)] = &[JSON, ("Authorization", &auth)];
        let s = &apps.secret;
        let mut bad_checksum = s.clone();
        let last = bad_checksum.pop().unwrap();
        bad_checksum.push(if last == 'a' { 'b' } else { 'a' });
        let ok = [
            json!({"secret": s}),
            json!({"secret": s, "environment": "sandbox", "endpoint": "GET /accounts", "success": false}),
            json!({"secret": s, "environment": "production"}),
            json!({"secret": s, "environment": null, "endpoint": null, "success": null, "more": 1}),
            json!({"secret": apps.revoked}),
            json!({"secret": bad_checksum}),
            json!({"secret": "sk_sbx_unknownunknownunknownunknown0000"}),
            json!({"secret": ""}),
        ];
        for body in ok {
            let status = same_answer(&apps, VERIFY_PATH, h, body.to_string(), false).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let status = same_answer(
            &apps,
            VERIFY_PATH,
            h,
            json!({"secret": s, "environment": "staging"}).to_string(),
            false,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        for body in [
            json!({"secret": 7}).to_string(),
            json!({"secret": s, "success": "yes"}).to_string(),
            json!({"secret": s, "endpoint": 3}).to_string(),
            json!({}).to_string(),
            "".into(),
            "[]".into(),
        ] {
            let status = same_answer(&apps, VERIFY_PATH, h, body.clone(), false).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        }
        let body = json!({"secret": s}).to_string();
        for (headers, status) in [
            (vec![JSON], StatusCode::UNAUTHORIZED),
            (
                vec![JSON, ("Authorization", "Bearer wrong")],
                StatusCode::UNAUTHORIZED,
            ),
            (
                vec![("Authorization", auth.as_str())],
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                vec![
                    ("Content-Type", "text/plain"),
                    ("Authorization", auth.as_str()),
                ],
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
        ] {
            assert_eq!(
                same_answer(&apps, VERIFY_PATH, &headers, body.clone(), false).await,
                status
            );
        }
    }

    #[tokio::test]
    async fn an_ingestion_with_an_idempotency_key_takes_the_documented_way() {
        let apps = apps().await;
        let auth = bearer_header();
        let body = r#"{"events": []}"#;
        // The idempotency layer refuses a malformed key before anything else, on both.
        let status = same_answer(
            &apps,
            USAGE_PATH,
            &[JSON, ("Authorization", &auth), ("Idempotency-Key", "")],
            body,
            false,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let status = same_answer(
            &apps,
            USAGE_PATH,
            &[JSON, ("Authorization", &auth), ("Idempotency-Key", "k-1")],
            body,
            false,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }

    #[tokio::test]
    async fn other_methods_on_the_gateway_paths_are_the_routers() {
        let apps = apps().await;
        for path in [VERIFY_PATH, USAGE_PATH] {
            let req = || {
                Request::builder()
                    .method(Method::GET)
                    .uri_str(path)
                    .finish()
            };
            let served = send(&apps.served, req()).await;
            let documented = send(&apps.documented, req()).await;
            assert_eq!(served.status, StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(served.status, documented.status);
            assert_eq!(
                served.headers.get(header::ALLOW),
                documented.headers.get(header::ALLOW)
            );
        }
    }

    const FORWARD_AUTH: &str = crate::forward_auth::PATH;
    const GW: &str = "X-Portal-Gateway-Token";

    fn bare(method: Method, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().method(method).uri_str(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.finish()
    }

    fn portal_headers(a: &Answer) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = a
            .headers
            .iter()
            .filter(|(k, _)| k.as_str().starts_with("x-portal-") || *k == header::WWW_AUTHENTICATE)
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        h.sort();
        h
    }

    fn header_of<'a>(a: &'a Answer, name: &str) -> &'a str {
        a.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn forward_auth_answers_exactly_as_the_documented_operation() {
        let apps = apps().await;
        let key = format!("Bearer {}", apps.secret);
        let revoked = format!("Bearer {}", apps.revoked);
        let sandbox = format!("{FORWARD_AUTH}?environment=sandbox");
        let production = format!("{FORWARD_AUTH}?environment=production");
        let staging = format!("{FORWARD_AUTH}?environment=staging");
        let nginx = [
            ("X-Original-Method", "GET"),
            ("X-Original-URI", "/accounts?page=2"),
        ];
        // (path, headers, status, reason)
        type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
        let cases: Vec<Case> = vec![
            (
                FORWARD_AUTH,
                vec![(GW, TOKEN), ("Authorization", &key)],
                200,
                "",
            ),
            (
                &sandbox,
                vec![(GW, TOKEN), ("Authorization", &key), nginx[0], nginx[1]],
                200,
                "",
            ),
            (
                FORWARD_AUTH,
                vec![(GW, TOKEN), ("X-Api-Key", &apps.secret)],
                200,
                "",
            ),
            (
                &production,
                vec![(GW, TOKEN), ("Authorization", &key)],
                403,
                "wrong_environment",
            ),
            (
                FORWARD_AUTH,
                vec![
                    (GW, TOKEN),
                    ("X-Portal-Expected-Environment", "production"),
                    ("Authorization", &key),
                ],
                403,
                "wrong_environment",
            ),
            (
                &staging,
                vec![(GW, TOKEN), ("Authorization", &key)],
                422,
                "",
            ),
            (
                FORWARD_AUTH,
                vec![
                    (GW, TOKEN),
                    ("X-Portal-Expected-Environment", "live"),
                    ("Authorization", &key),
                ],
                422,
                "",
            ),
            (
                FORWARD_AUTH,
                vec![("Authorization", &key)],
                401,
                "gateway_token",
            ),
            (
                FORWARD_AUTH,
                vec![(GW, "wrong"), ("Authorization", &key)],
                401,
                "gateway_token",
            ),
            (FORWARD_AUTH, vec![(GW, TOKEN)], 401, "missing"),
            (
                FORWARD_AUTH,
                vec![(GW, TOKEN), ("Authorization", "Bearer ")],
                401,
                "missing",
            ),
            (
                FORWARD_AUTH,
                vec![(GW, TOKEN), ("Authorization", &revoked)],
                401,
                "revoked",
            ),
            (
                FORWARD_AUTH,
                vec![(GW, TOKEN), ("Authorization", "Bearer nope")],
                401,
                "malformed",
            ),
        ];
        for (path, headers, status, reason) in cases {
            let served = send(&apps.served, bare(Method::GET, path, &headers)).await;
            let documented = send(&apps.documented, bare(Method::GET, path, &headers)).await;
            let what = format!("{path} {headers:?}: {}", served.body);
            assert_eq!(served.status.as_u16(), status, "{what}");
            assert_eq!(served.status, documented.status, "{what}");
            assert_eq!(
                portal_headers(&served),
                portal_headers(&documented),
                "{what}"
            );
            if status == 422 {
                // poem-openapi words a parameter it cannot read in its own words.
                for k in ["type", "status", "field"] {
                    assert_eq!(served.body[k], documented.body[k], "{k}: {what}");
                }
            } else {
                assert_eq!(served.body, documented.body, "{what}");
            }
            assert_eq!(header_of(&served, "x-portal-reason"), reason, "{what}");
            if !reason.is_empty() {
                assert_eq!(served.body["code"], reason, "{what}");
            }
            if status == 200 {
                assert_eq!(header_of(&served, "x-portal-credential"), apps.credential);
                assert_eq!(header_of(&served, "x-portal-environment"), "sandbox");
                assert_eq!(header_of(&served, "x-portal-phase"), "sandbox");
                for h in ["x-portal-workspace", "x-portal-project", "x-portal-plan"] {
                    assert!(!header_of(&served, h).is_empty(), "{h}: {what}");
                }
            }
        }
    }

    #[tokio::test]
    async fn forward_auth_takes_any_method_and_envoys_appended_path() {
        let apps = apps().await;
        let key = format!("Bearer {}", apps.secret);
        let h = [(GW, TOKEN), ("Authorization", key.as_str())];
        for method in [Method::GET, Method::POST, Method::DELETE, Method::PATCH] {
            for path in [
                FORWARD_AUTH.to_owned(),
                format!("{FORWARD_AUTH}/accounts/42"),
                // Envoy appends the caller's query: it does not name this gateway's environment.
                format!("{FORWARD_AUTH}/accounts?environment=production"),
            ] {
                let a = send(&apps.served, bare(method.clone(), &path, &h)).await;
                assert_eq!(a.status, StatusCode::OK, "{method} {path}: {}", a.body);
            }
        }
        // Envoy names its environment in a header.
        let a = send(
            &apps.served,
            bare(
                Method::POST,
                &format!("{FORWARD_AUTH}/accounts"),
                &[h[0], h[1], ("X-Portal-Expected-Environment", "production")],
            ),
        )
        .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        // A neighbouring path is not forward auth.
        let a = send(&apps.served, bare(Method::GET, "/api/v1/forward-authz", &h)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn forward_auth_reads_the_key_from_the_configured_header_only() {
        use crate::forward_auth::KeyHeader;
        let apps = apps_with(KeyHeader::parse("ApiKey").unwrap()).await;
        let bearer = format!("Bearer {}", apps.secret);
        let ask = |headers: Vec<(&'static str, String)>| {
            let served = &apps.served;
            async move {
                let mut all = vec![(GW, TOKEN.to_owned())];
                all.extend(headers);
                let h: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
                send(served, bare(Method::GET, FORWARD_AUTH, &h)).await
            }
        };
        let a = ask(vec![("apikey", apps.secret.clone())]).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        for other in [
            ("Authorization", bearer.clone()),
            ("X-Api-Key", apps.secret.clone()),
        ] {
            let a = ask(vec![other]).await;
            assert_eq!(header_of(&a, "x-portal-reason"), "missing");
        }
        assert_eq!(
            KeyHeader::parse("authorization").unwrap(),
            KeyHeader::Bearer
        );
        assert!(KeyHeader::parse("not a header").is_err());
    }
}
