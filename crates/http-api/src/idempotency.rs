//! `Idempotency-Key` on POSTs: the first request with a key runs and its successful answer is
//! stored (status, body, `Location`); a retry with the same key and the same request gets that
//! answer again; the same key with another request is refused (422); a retry while the first
//! is still running is refused (409). Keys are scoped per signed-in principal, and the gateway
//! token's (its usage batches) have one scope of their own.
//!
//! A crash cannot leave a key stuck or run a request twice (docs/decisions/0016): the request
//! runs with its claim in a task-local, and [`ClaimedCommits`] commits its change through
//! [`IdempotencyStore::commit_claimed`], which marks the claim committed in the change's own
//! transaction. A claim neither committed nor answered is abandoned once its lease passes (or
//! at once when the server run that held it restarts) and the next retry runs the request; a
//! committed claim whose answer was lost is never run again: a retry is told what committed.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use sha2::{Digest, Sha256};

use crate::auth::{self, SESSION_COOKIE};
use crate::problem::{Problem, problem_from_poem_error};
use crate::state::AppState;
use onboarding_core::ports::{
    ChangeSet, Clock, CommittedRequest, IdempotencyClaim, IdempotencyHold, IdempotencyStore,
    StoreResult, StoredResponse, UnitOfWork,
};

tokio::task_local! {
    /// The claim of the request being served, for [`ClaimedCommits`].
    static HOLD: IdempotencyHold;
}

/// The unit of work the server wires in front of the store: a commit made while a request
/// holds an idempotency claim marks that claim committed in the same transaction (and is
/// refused when the claim was taken over); any other commit passes through.
pub struct ClaimedCommits {
    inner: Arc<dyn UnitOfWork>,
    claims: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
}

impl ClaimedCommits {
    pub fn new(
        inner: Arc<dyn UnitOfWork>,
        claims: Arc<dyn IdempotencyStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner,
            claims,
            clock,
        }
    }
}

#[async_trait]
impl UnitOfWork for ClaimedCommits {
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()> {
        match HOLD.try_with(Clone::clone) {
            Ok(hold) => {
                let what = CommittedRequest::of(&changes);
                self.claims
                    .commit_claimed(&hold, changes, what, self.clock.now())
                    .await
            }
            Err(_) => self.inner.commit(changes).await,
        }
    }
}

pub const HEADER: &str = "Idempotency-Key";

/// The scope of the keys sent with the gateway token (principals' scopes are their ids, which
/// never take this form).
const GATEWAY_SCOPE: &str = "gateway";

/// The caller's token from the bearer header or the session cookie, without resolving it.
fn presented_token(req: &Request) -> Option<String> {
    if let Some(t) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(t.trim().to_owned());
    }
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Secrets are shown once: a replayed answer says where the secret was instead of repeating
/// it, so the idempotency store never holds a plaintext secret. Nested answers (a clone's
/// endpoints, each with its secret) are redacted at every depth.
fn redact_for_storage(body: &[u8]) -> String {
    fn redact(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    if matches!(k.as_str(), "secret" | "token" | "access_token") {
                        *x = serde_json::json!("(shown once in the original response)");
                    } else {
                        redact(x);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(redact),
            _ => {}
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            redact(&mut v);
            v.to_string()
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

pub async fn idempotency<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let key = req
        .headers()
        .get(HEADER)
        .map(|v| v.to_str().map(str::to_owned));
    // Only the API's own POSTs: the gateway paths (verify, token) are not creating requests.
    let applies = req.method() == Method::POST
        && req.uri().path().starts_with("/api/v1/")
        && req.uri().path() != "/api/v1/verify";
    let (Some(key), true) = (key, applies) else {
        return ep.call(req).await.map(IntoResponse::into_response);
    };
    let key = match key {
        Ok(k) if !k.is_empty() && k.len() <= 255 => k,
        _ => {
            return Ok(Problem::field(HEADER, "1 to 255 visible ASCII characters").to_response());
        }
    };
    let Some(state) = req.data::<AppState>().cloned() else {
        return Ok(Problem::internal("application state missing").to_response());
    };
    // Anonymous POSTs (sign-up, sign-in) have no scope to keep keys apart: they run as usual.
    let Some(token) = presented_token(&req) else {
        return ep.call(req).await.map(IntoResponse::into_response);
    };
    // The operator's gateway token signs in no one, but the usage batches it reports are the
    // requests most worth retrying safely (a batch counted twice is billed twice): its keys
    // have a scope of their own. Checked first: it is a hash, the token look-up a read.
    let scope = if auth::gateway_token_accepted(&state, &token).is_ok() {
        GATEWAY_SCOPE.to_owned()
    } else {
        match auth::resolve_token(&state, &token).await {
            Ok(a) => a.scope(),
            Err(_) => return ep.call(req).await.map(IntoResponse::into_response),
        }
    };
    let body = req.take_body().into_bytes().await?;
    let mut h = Sha256::new();
    h.update(req.method().as_str().as_bytes());
    h.update(b" ");
    h.update(req.uri().path().as_bytes());
    h.update(b"\n");
    h.update(&body);
    let fingerprint: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    req.set_body(body);

    let now = state.portal().ports().clock.now();
    let hold = IdempotencyHold {
        scope,
        key,
        run: state.config().server_run.clone(),
        token: state.portal().ports().ids.ulid().to_string(),
    };
    let claim = state
        .idempotency()
        .claim(&hold, &fingerprint, now, state.config().idempotency_lease)
        .await
        .map_err(Problem::internal)?;
    match claim {
        IdempotencyClaim::Replay(stored) => Ok(replay(stored)),
        IdempotencyClaim::Mismatch => Ok(Problem::new(
            "idempotency-key-mismatch",
            "this Idempotency-Key was used with a different request",
        )
        .to_response()),
        IdempotencyClaim::InProgress => Ok(Problem::new(
            "idempotency-key-in-use",
            "a request with this Idempotency-Key is still being processed; retry later",
        )
        .header("Retry-After", "1")
        .to_response()),
        IdempotencyClaim::Committed(what) => Ok(answer_lost(&what).to_response()),
        IdempotencyClaim::Claimed => {
            let served = HOLD.scope(hold.clone(), async move {
                match ep.call(req).await {
                    Ok(r) => r.into_response(),
                    Err(e) => problem_from_poem_error(&e).to_response(),
                }
            });
            let resp = served.await;
            if !resp.status().is_success() {
                // Failures are not remembered: fixing the request and retrying with the same
                // key must be possible. (A claim whose request committed something is kept:
                // the release leaves it, and `complete` below is skipped for failures.)
                let _ = state.idempotency().release(&hold).await;
                return Ok(resp);
            }
            let (parts, body) = resp.into_parts();
            let bytes = body.into_bytes().await?;
            let stored = StoredResponse {
                status: parts.status.as_u16(),
                body: redact_for_storage(&bytes),
                location: parts
                    .headers
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            };
            if let Err(e) = state.idempotency().complete(&hold, stored).await {
                tracing::warn!(error = %e, "could not store an idempotent response");
            }
            Ok(Response::from_parts(parts, bytes.into()))
        }
    }
}

/// The request with this key committed, but the server stopped before its answer was stored:
/// it must not run again, so the retry is told what committed (docs/api.md).
fn answer_lost(what: &CommittedRequest) -> Problem {
    let detail = if what.target.is_empty() {
        "the request with this Idempotency-Key was carried out, but its answer was lost when \
         the server stopped; read the resource it changed"
            .to_owned()
    } else {
        format!(
            "the request with this Idempotency-Key was carried out ({} {}), but its answer was \
             lost when the server stopped; read that resource",
            what.action, what.target
        )
    };
    let mut p =
        Problem::new("idempotency-key-answer-lost", detail).current(Some("committed".into()));
    if !what.target.is_empty() {
        p.body.resource = Some(what.target.clone());
    }
    p
}

/// A lease that outlives any request the API serves; see docs/decisions/0016.
pub fn default_lease() -> TimeDelta {
    TimeDelta::seconds(onboarding_core::ports::IDEMPOTENCY_LEASE_SECONDS)
}

fn replay(stored: StoredResponse) -> Response {
    let mut resp = Response::builder()
        .status(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK))
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("Idempotent-Replayed", "true")
        .body(stored.body);
    if let Some(loc) = stored.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}
