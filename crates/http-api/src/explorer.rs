//! The API explorer at `/docs`: Swagger UI reading the document `/openapi.json` serves.
//!
//! A small page and three static files, all compiled in. poem-openapi's own Swagger UI
//! endpoint inlines the script, the styles and the document into one 2 MB page, held in
//! memory for the life of the process (a fifth of an idle server's footprint, issue 7's H) and
//! copied on every visit; it also shows the document as generated, before `harden_spec`.
//! Here the browser fetches the script and styles once (they are cached for a day) and the
//! document from `/openapi.json`, so the explorer and the clients read the same document.

use poem::http::header;
use poem::{Response, Route, endpoint::make_sync, get};

const BUNDLE: &str = include_str!("../assets/swagger-ui/swagger-ui-bundle.js");
const STYLES: &str = include_str!("../assets/swagger-ui/swagger-ui.css");

/// Starts Swagger UI on the served document. A file rather than an inline script, so the
/// page's Content-Security-Policy can allow scripts from this origin only.
const START: &str = r##"window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#ui",
    deepLinking: true,
    filter: false,
  });
});
"##;

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Onboarding portal API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/start.js"></script>
</body>
</html>
"##;

/// Swagger UI sets inline styles on its elements and draws icons from `data:` images; it
/// fetches the document, and "Try it out" sends requests, to this origin only.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    Response::builder()
        .content_type(content_type)
        .header(header::CACHE_CONTROL, "public, max-age=86400")
        .header("X-Content-Type-Options", "nosniff")
        .body(body)
}

/// The routes under `/docs`.
pub fn routes() -> Route {
    Route::new()
        .at(
            "/",
            get(make_sync(|_| {
                Response::builder()
                    .content_type("text/html; charset=utf-8")
                    .header(header::CACHE_CONTROL, "no-cache")
                    .header("Content-Security-Policy", CSP)
                    .header("X-Content-Type-Options", "nosniff")
                    .header("Referrer-Policy", "same-origin")
                    .body(PAGE)
            })),
        )
        .at(
            "/swagger-ui-bundle.js",
            get(make_sync(|_| {
                asset("text/javascript; charset=utf-8", BUNDLE)
            })),
        )
        .at(
            "/swagger-ui.css",
            get(make_sync(|_| asset("text/css; charset=utf-8", STYLES))),
        )
        .at(
            "/start.js",
            get(make_sync(|_| {
                asset("text/javascript; charset=utf-8", START)
            })),
        )
}
