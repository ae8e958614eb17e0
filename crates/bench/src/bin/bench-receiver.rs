//! A webhook receiver answering `204` to any POST, on `BENCH_BIND` (default
//! 127.0.0.1:7200). Counts the deliveries it saw; `GET /count` answers the total.
use std::sync::atomic::{AtomicU64, Ordering};

use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::{Body, Response, Route, Server, get, handler, post};

static SEEN: AtomicU64 = AtomicU64::new(0);

#[handler]
async fn receive(body: Body) -> StatusCode {
    let _ = body.into_bytes_limit(1 << 20).await;
    SEEN.fetch_add(1, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

#[handler]
fn count() -> Response {
    Response::builder().body(SEEN.load(Ordering::Relaxed).to_string())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("BENCH_BIND").unwrap_or_else(|_| "127.0.0.1:7200".into());
    let app = Route::new()
        .at("/count", get(count))
        .at("/*", post(receive));
    Server::new(TcpListener::bind(bind)).run(app).await
}
