//! openidconnect's HTTP client trait over the workspace's reqwest (rustls with ring), so the
//! crate's own reqwest 0.12 and its second TLS stack stay out of the build.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// The HTTP client discovery, the JWKS and the token exchange use.
#[derive(Clone)]
pub struct Http(reqwest::Client);

/// A failed request to the identity provider.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request to the identity provider failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("bad response from the identity provider: {0}")]
    Response(#[from] http::Error),
}

impl Http {
    /// A client that follows no redirects (the OAuth 2.0 security advice: a redirect could
    /// send the client secret elsewhere) and gives up after 10 seconds.
    pub fn new() -> Result<Self, HttpError> {
        Ok(Self(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()?,
        ))
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut out = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                out = out.header(name, value);
            }
            Ok(out.body(response.bytes().await?.to_vec())?)
        })
    }
}
