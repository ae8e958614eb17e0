//! The pages, one module per area. Handlers take the state and the request and answer a
//! response; every rule they need is a call on the core's `Portal`.

pub mod access;
pub mod admin;
mod exports;
pub mod history;
pub mod inbox;
mod macros;
pub mod project;
pub mod staff;
pub mod subscription;
pub mod workspace;

use poem::http::header;
use poem::{Request, Response};

use crate::WebState;

/// The one stylesheet, embedded at compile time.
pub const STYLESHEET: &str = include_str!("../../static/portal.css");

pub async fn stylesheet(_state: WebState, _req: Request) -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .header("X-Content-Type-Options", "nosniff")
        .body(STYLESHEET)
}
