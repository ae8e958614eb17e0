//! Request ids, request logging and Prometheus metrics (hand-rolled text format: counts and
//! latency histograms by method, route and status).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use poem::http::{HeaderValue, Method};
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

/// Request metrics, shared by the middleware and the `/metrics` endpoint. Keyed by route first
/// so that counting a request allocates nothing once its route has been seen (the route label
/// is looked up by `&str`; method and status are small copies): this runs on every request,
/// the verification hot path included.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<HashMap<String, RouteSeries>>,
}

/// One route's series, by method and status.
type RouteSeries = HashMap<(Method, u16), Series>;

impl Metrics {
    pub fn observe(&self, method: &Method, route: &str, status: u16, secs: f64) {
        let mut m = self.series.lock().expect("metrics lock");
        if !m.contains_key(route) {
            m.insert(route.to_owned(), HashMap::new());
        }
        let s = m
            .get_mut(route)
            .expect("inserted above")
            .entry((method.clone(), status))
            .or_default();
        s.count += 1;
        s.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
    }

    /// Every series, ordered by method, route and status (a stable exposition).
    fn sorted(&self) -> Vec<((String, String, u16), Series)> {
        let m = self.series.lock().expect("metrics lock");
        let mut all: Vec<_> = m
            .iter()
            .flat_map(|(route, per)| {
                per.iter().map(move |((method, status), s)| {
                    ((method.to_string(), route.clone(), *status), s.clone())
                })
            })
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let m = self.sorted();
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

/// Whether a path segment is one of the portal's ids (`prefix_` + 26 ULID characters).
fn is_id(seg: &str) -> bool {
    match seg.split_once('_') {
        Some((p, rest)) => {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_lowercase())
                && rest.len() == 26
                && rest.chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
}

/// The route label: ids replaced by `:id` so the series stay few; unknown routes are one label.
/// Borrows the path when it holds no id (most requests, the hot paths included).
pub fn route_label(path: &str, status: u16) -> Cow<'_, str> {
    if status == 404 && !path.starts_with("/api/") {
        return Cow::Borrowed("unmatched");
    }
    if !path.split('/').any(is_id) {
        return Cow::Borrowed(path);
    }
    Cow::Owned(
        path.split('/')
            .map(|seg| if is_id(seg) { ":id" } else { seg })
            .collect::<Vec<_>>()
            .join("/"),
    )
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
    let method = req.method().clone();
    // A cheap clone (the path's bytes are shared), kept for the label after `req` is gone.
    let uri = req.uri().clone();
    let path = uri.path();
    let span = tracing::info_span!("request", request_id = %id, %method, path);
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
    metrics.observe(&method, &route_label(path, status), status, secs);
    span.in_scope(|| {
        tracing::info!(status, latency_ms = secs * 1000.0, "request");
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_hide_ids_and_borrow_paths_without_them() {
        let id = "/api/v1/projects/proj_01JD0000000000000000000000/usage";
        assert_eq!(route_label(id, 200), "/api/v1/projects/:id/usage");
        assert!(matches!(
            route_label("/api/v1/verify", 200),
            Cow::Borrowed(_)
        ));
        assert_eq!(route_label("/nope", 404), "unmatched");
        assert_eq!(route_label("/api/v1/nope", 404), "/api/v1/nope");
        // Not an id: wrong length, upper-case prefix, no prefix.
        for seg in [
            "ws_123",
            "WS_01JD0000000000000000000000",
            "_01JD0000000000000000000000",
        ] {
            assert!(!is_id(seg), "{seg}");
        }
    }

    #[test]
    fn metrics_count_per_method_route_and_status_in_a_stable_order() {
        let m = Metrics::default();
        m.observe(&Method::POST, "/api/v1/verify", 200, 0.0004);
        m.observe(&Method::POST, "/api/v1/verify", 200, 0.02);
        m.observe(&Method::GET, "/api/v1/verify", 405, 0.0001);
        m.observe(&Method::GET, "/api/v1/account", 200, 2.0);
        let text = m.render();
        let counts: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("portal_http_requests_total{"))
            .collect();
        assert_eq!(
            counts,
            [
                r#"portal_http_requests_total{method="GET",route="/api/v1/account",status="200"} 1"#,
                r#"portal_http_requests_total{method="GET",route="/api/v1/verify",status="405"} 1"#,
                r#"portal_http_requests_total{method="POST",route="/api/v1/verify",status="200"} 2"#,
            ]
        );
        assert!(text.contains(
            r#"portal_http_request_duration_seconds_bucket{method="POST",route="/api/v1/verify",status="200",le="0.001"} 1"#
        ));
        assert!(text.contains(
            r#"portal_http_request_duration_seconds_bucket{method="POST",route="/api/v1/verify",status="200",le="0.025"} 2"#
        ));
    }
}
