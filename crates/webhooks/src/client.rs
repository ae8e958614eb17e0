//! The HTTP client of deliveries: POST the body with the three Standard Webhooks headers,
//! 15 s timeout, no redirects (a 3xx is a failure: the partner must register the final URL),
//! no proxies, addresses checked by the SSRF guard, at most `max_response_bytes` read back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};

use crate::signing::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedHeaders};
use crate::ssrf::{AddressPolicy, GuardedResolver};

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub policy: AddressPolicy,
    pub user_agent: String,
    /// How much of a response body is read (the verification echo needs a few bytes).
    pub max_response_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            policy: AddressPolicy::strict(),
            user_agent: concat!("onboarding-portal-webhooks/", env!("CARGO_PKG_VERSION")).into(),
            max_response_bytes: 4096,
        }
    }
}

/// What came back from one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Option<u16>,
    /// The start of the response body, lossily decoded.
    pub body: String,
    /// The `Retry-After` of a 429 or 503, as a delay from the attempt.
    pub retry_after: Option<Duration>,
    /// Why no usable response came (refused address, timeout, connection error).
    pub error: Option<String>,
    pub latency: Duration,
}

#[derive(Clone)]
pub struct DeliveryClient {
    http: reqwest::Client,
    policy: Arc<AddressPolicy>,
    max_response_bytes: usize,
}

impl DeliveryClient {
    /// Needs a rustls crypto provider: call [`crate::install_crypto_provider`] first.
    pub fn new(cfg: ClientConfig) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(cfg.policy);
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(cfg.user_agent)
            .dns_resolver(Arc::new(GuardedResolver::new(policy.clone())))
            .build()?;
        Ok(DeliveryClient {
            http,
            policy,
            max_response_bytes: cfg.max_response_bytes,
        })
    }

    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }

    /// Sends one attempt. Never fails: every problem is an [`Outcome`] with an error.
    pub async fn send(
        &self,
        url: &str,
        signed: &SignedHeaders,
        body: &str,
        at: DateTime<Utc>,
    ) -> Outcome {
        let started = Instant::now();
        let fail = |e: String| Outcome {
            status: None,
            body: String::new(),
            retry_after: None,
            error: Some(e),
            latency: started.elapsed(),
        };
        let parsed = match url::Url::parse(url) {
            Ok(u) => u,
            Err(e) => return fail(format!("invalid URL: {e}")),
        };
        if let Err(r) = self.policy.check_url(&parsed) {
            return fail(r.to_string());
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (k, v) in [
            (HEADER_ID, signed.id.clone()),
            (HEADER_TIMESTAMP, signed.timestamp.to_string()),
            (HEADER_SIGNATURE, signed.signature.clone()),
        ] {
            match HeaderValue::from_str(&v) {
                Ok(v) => {
                    headers.insert(k, v);
                }
                Err(_) => return fail(format!("invalid {k} header")),
            }
        }
        let resp = self
            .http
            .post(parsed)
            .headers(headers)
            .body(body.to_owned())
            .send()
            .await;
        let mut resp = match resp {
            Ok(r) => r,
            Err(e) => return fail(describe(&e)),
        };
        let status = resp.status().as_u16();
        let retry_after = if status == 429 || status == 503 {
            resp.headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, at))
        } else {
            None
        };
        let mut buf: Vec<u8> = Vec::new();
        let mut error = None;
        while buf.len() < self.max_response_bytes {
            match resp.chunk().await {
                Ok(Some(c)) => buf.extend_from_slice(&c),
                Ok(None) => break,
                Err(e) => {
                    error = Some(describe(&e));
                    break;
                }
            }
        }
        buf.truncate(self.max_response_bytes);
        Outcome {
            status: Some(status),
            body: String::from_utf8_lossy(&buf).into_owned(),
            retry_after,
            error,
            latency: started.elapsed(),
        }
    }
}

/// The error chain in one line: reqwest's top message alone ("error sending request") hides
/// the SSRF refusal or the timeout that people need to see.
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(v: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_in_both_forms() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 27, 0).unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
