//! Ceiling A: a bare poem handler answering a small JSON body, on `BENCH_BIND`
//! (default 127.0.0.1:7100). Same runtime flavour as the server.
use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::{Body, Response, Route, Server, handler, post};

#[handler]
async fn ok(body: Body) -> Response {
    // Read the body as the verify handler does (http-api's reader, leaner than poem's
    // `into_bytes_limit`), then answer a small JSON document.
    let _ = http_api::body::read_body(body, 16 * 1024).await;
    Response::builder()
        .status(StatusCode::OK)
        .content_type("application/json; charset=utf-8")
        .body(r#"{"valid":true,"reason":null}"#)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("BENCH_BIND").unwrap_or_else(|_| "127.0.0.1:7100".into());
    let app = Route::new().at("/*", post(ok).get(ok));
    Server::new(TcpListener::bind(bind)).run(app).await
}
