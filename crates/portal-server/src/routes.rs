//! One origin for everything: the REST API (with its document, explorer, health and metrics)
//! under its own prefixes, the web portal's pages everywhere else. Pages and API share the
//! session store, so signing in on either works for both.
//!
//! The split is a plain prefix test rather than nested poem `Route`s: the API application
//! already nests its own routes at `/`, and poem 3.1 mis-computes path patterns when such a
//! route is itself nested without stripping (it panics on the first API request).

use poem::{Endpoint, IntoResponse, Request, Response, Result};

/// Path prefixes the API application answers; every other path is a page.
const API_PREFIXES: &[&str] = &["/api/", "/oauth/", "/docs"];
/// Single paths the API application answers.
const API_PATHS: &[&str] = &["/api", "/openapi.json", "/healthz", "/readyz", "/metrics"];

/// True when `path` belongs to the API application.
pub fn is_api_path(path: &str) -> bool {
    API_PATHS.contains(&path) || API_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// The API application beside the web portal.
pub struct Mounted<A, W> {
    api: A,
    web: W,
}

/// Mounts the API application beside the web portal's routes.
pub fn mount<A, W>(api: A, web: W) -> Mounted<A, W>
where
    A: Endpoint<Output = Response>,
    W: Endpoint,
{
    Mounted { api, web }
}

impl<A, W> Endpoint for Mounted<A, W>
where
    A: Endpoint<Output = Response>,
    W: Endpoint,
{
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        if is_api_path(req.uri().path()) {
            self.api.call(req).await
        } else {
            // Boxed so that the pages' (large) future does not size the API's, the
            // verification hot path above all (see `http_api::gateway_first`).
            Box::pin(self.web.call(req))
                .await
                .map(IntoResponse::into_response)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_api_path;

    #[test]
    fn api_paths_and_pages_are_told_apart() {
        for api in [
            "/api/v1/me",
            "/oauth/token",
            "/docs",
            "/docs/index.html",
            "/openapi.json",
            "/healthz",
            "/metrics",
        ] {
            assert!(is_api_path(api), "{api}");
        }
        for page in [
            "/",
            "/sign-in",
            "/staff/sign-in",
            "/workspaces/ws_1",
            "/apiary",
            "/static/portal.css",
        ] {
            assert!(!is_api_path(page), "{page}");
        }
    }
}
