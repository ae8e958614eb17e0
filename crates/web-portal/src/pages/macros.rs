//! Early returns shared by the page handlers.

/// The context of a POST (session and CSRF checked), or the answer that ends the handler.
macro_rules! post_ctx {
    ($state:expr, $req:expr) => {
        match $crate::http::Ctx::post(&$state, $req).await {
            Ok(x) => x,
            Err(r) => return r,
        }
    };
}
pub(crate) use post_ctx;

/// The signed-in caller, or the redirect to sign-in that ends the handler.
macro_rules! caller_or_redirect {
    ($ctx:expr) => {
        match $ctx.require_caller() {
            Ok(c) => c,
            Err(r) => return r,
        }
    };
}
pub(crate) use caller_or_redirect;
