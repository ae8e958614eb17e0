//! Request ids, request logging and Prometheus metrics (hand-rolled text format: counts and
//! latency histograms by method, route and status).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use crate::problem::problem_from_poem_error;

pub const REQUEST_ID: &str = "X-Request-Id";

/// Latency buckets in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default, Clone)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Request metrics, shared by the middleware and the `/metrics` endpoint.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        let mut m = self.series.lock().expect("metrics lock");
        let s = m
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        s.count += 1;
        s.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let m = self.series.lock().expect("metrics lock").clone();
        let mut out = String::new();
        out.push_str(
            "# HELP portal_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE portal_http_requests_total counter\n");
        for ((method, route, status), s) in &m {
            out.push_str(&format!(
                "portal_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}\n",
                s.count
            ));
        }
        out.push_str("# HELP portal_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE portal_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in &m {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            for (i, b) in BUCKETS.iter().enumerate() {
                out.push_str(&format!(
                    "portal_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}\n",
                    s.buckets[i]
                ));
            }
            out.push_str(&format!(
                "portal_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n",
                s.count
            ));
            out.push_str(&format!(
                "portal_http_request_duration_seconds_sum{{{labels}}} {}\n",
                s.sum
            ));
            out.push_str(&format!(
                "portal_http_request_duration_seconds_count{{{labels}}} {}\n",
                s.count
            ));
        }
        out
    }
}

/// The route label: ids replaced by `:id` so the series stay few; unknown routes are one label.
pub fn route_label(path: &str, status: u16) -> String {
    if status == 404 && !path.starts_with("/api/") {
        return "unmatched".into();
    }
    path.split('/')
        .map(|seg| match seg.split_once('_') {
            Some((p, rest))
                if !p.is_empty()
                    && p.chars().all(|c| c.is_ascii_lowercase())
                    && rest.len() == 26
                    && rest.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                ":id"
            }
            _ => seg,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Outermost layer: a request id (kept from `X-Request-Id` when sane, else a new ULID), a
/// tracing span carrying it, one log line per request, metrics, and framework errors turned
/// into problem responses.
pub async fn observe<E: Endpoint>(
    ep: Arc<E>,
    metrics: Arc<Metrics>,
    req: Request,
) -> poem::Result<Response> {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| ulid::Ulid::generate().to_string());
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let started = Instant::now();
    let mut resp = async {
        match ep.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => problem_from_poem_error(&e).to_response(),
        }
    }
    .instrument(span.clone())
    .await;
    let secs = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    metrics.observe(&method, &route_label(&path, status), status, secs);
    span.in_scope(|| {
        tracing::info!(status, latency_ms = secs * 1000.0, "request");
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(resp)
}
