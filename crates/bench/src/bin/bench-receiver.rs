//! A webhook receiver on `BENCH_BIND` (default 127.0.0.1:7200): answers `204` to any POST,
//! except an `endpoint.verification` event, which it answers `200` with the challenge echoed
//! (so an endpoint pointing here becomes verified). Counts the deliveries it saw:
//! `GET /count` answers the total, `GET /stats` `{"count", "first_us", "last_us"}` (Unix
//! microseconds of the first and last delivery), `POST /reset` zeroes them.
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::{Body, Response, Route, Server, get, handler, post};

static SEEN: AtomicU64 = AtomicU64::new(0);
static FIRST_US: AtomicU64 = AtomicU64::new(0);
static LAST_US: AtomicU64 = AtomicU64::new(0);

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[handler]
async fn receive(body: Body) -> Response {
    let bytes = http_api::body::read_body(body, 1 << 20)
        .await
        .unwrap_or_default();
    let t = now_us();
    SEEN.fetch_add(1, Ordering::Relaxed);
    let _ = FIRST_US.compare_exchange(0, t, Ordering::Relaxed, Ordering::Relaxed);
    LAST_US.fetch_max(t, Ordering::Relaxed);
    // Cheap test first: only the verification event is parsed.
    if bytes.windows(21).any(|w| w == b"endpoint.verification")
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes)
        && let Some(c) = v["data"]["challenge"].as_str()
    {
        return Response::builder()
            .status(StatusCode::OK)
            .content_type("application/json")
            .body(serde_json::json!({ "challenge": c }).to_string());
    }
    Response::builder().status(StatusCode::NO_CONTENT).finish()
}

#[handler]
fn count() -> Response {
    Response::builder().body(SEEN.load(Ordering::Relaxed).to_string())
}

#[handler]
fn stats() -> Response {
    Response::builder().content_type("application/json").body(
        serde_json::json!({
            "count": SEEN.load(Ordering::Relaxed),
            "first_us": FIRST_US.load(Ordering::Relaxed),
            "last_us": LAST_US.load(Ordering::Relaxed),
        })
        .to_string(),
    )
}

#[handler]
fn reset() -> StatusCode {
    SEEN.store(0, Ordering::Relaxed);
    FIRST_US.store(0, Ordering::Relaxed);
    LAST_US.store(0, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("BENCH_BIND").unwrap_or_else(|_| "127.0.0.1:7200".into());
    let app = Route::new()
        .at("/count", get(count))
        .at("/stats", get(stats))
        .at("/reset", post(reset))
        .at("/*", post(receive));
    Server::new(TcpListener::bind(bind)).run(app).await
}
