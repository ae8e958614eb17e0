//! Request ids, request logging and Prometheus metrics (hand-rolled text format: counts and
//! latency histograms by method, route and status).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use poem::http::{HeaderValue, Method};
use poem::{Endpoint, IntoResponse, PathPattern, Request, Response};
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
    /// The router's patterns (`/api/v1/projects/:param0/usage`, as poem-openapi registers
    /// them) by the document's paths (`/api/v1/projects/{id}/usage`), so a series names the
    /// operation the way the OpenAPI document does.
    documented: OnceLock<HashMap<String, String>>,
}

/// One route's series, by method and status.
type RouteSeries = HashMap<(Method, u16), Series>;

impl Metrics {
    /// Names routes by the OpenAPI document's paths: poem-openapi registers a path's
    /// parameters as `:param0`, `:param1`, ... in order. Set once, when the app is built.
    pub fn name_routes<'a>(&self, documented_paths: impl IntoIterator<Item = &'a str>) {
        let names = documented_paths
            .into_iter()
            .map(|path| {
                let mut n = 0;
                let pattern = path
                    .split('/')
                    .map(|seg| {
                        if seg.starts_with('{') && seg.ends_with('}') {
                            n += 1;
                            format!(":param{}", n - 1)
                        } else {
                            seg.to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                (pattern, path.to_owned())
            })
            .collect();
        let _ = self.documented.set(names);
    }

    /// The documented name of a route pattern, or the pattern itself.
    fn documented_name<'a>(&'a self, pattern: &'a str) -> &'a str {
        self.documented
            .get()
            .and_then(|names| names.get(pattern))
            .map_or(pattern, String::as_str)
    }

    pub fn observe(&self, method: &Method, route: &str, status: u16, secs: f64) {
        let route = self.documented_name(route);
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

/// The route label: the pattern poem's router matched (`/api/v1/projects/:id/usage`), so the
/// series stay as few as the routes whatever paths clients send; a request no route matched is
/// `unmatched`. The gateways' paths are answered ahead of the router
/// ([`crate::gateway_first`]), so they are named here (forward auth's with whatever original
/// path Envoy appends to it as one).
pub fn route_label<'a>(path: &str, matched: Option<&'a PathPattern>) -> &'a str {
    match matched {
        // The API's catch-all nest (`/`) matches every path under it with an empty pattern.
        Some(p) if !p.0.is_empty() => &p.0,
        _ if path == crate::gateway_first::VERIFY_PATH => crate::gateway_first::VERIFY_PATH,
        _ if path == crate::gateway_first::USAGE_PATH => crate::gateway_first::USAGE_PATH,
        _ if crate::forward_auth::is_forward_auth(path) => crate::forward_auth::PATH,
        _ => "unmatched",
    }
}

/// The method label: the nine standard methods as themselves, any other as `OTHER` (a client
/// may send any token as a method; each would otherwise be a series of its own).
fn method_label(method: &Method) -> Method {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    if STANDARD.contains(method) {
        method.clone()
    } else {
        Method::from_bytes(b"OTHER").expect("a valid method token")
    }
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
    // The endpoint's future is awaited as it is, not inside another async block: each level
    // of nesting kept another copy of it in this future, which is moved on every request.
    let (mut resp, matched) = match ep.call(req).instrument(span.clone()).await {
        Ok(r) => {
            let r = r.into_response();
            let matched = r.data::<PathPattern>().cloned();
            (r, matched)
        }
        Err(e) => {
            let matched = e.data::<PathPattern>().cloned();
            (problem_from_poem_error(&e).to_response(), matched)
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    let route = route_label(path, matched.as_ref());
    metrics.observe(&method_label(&method), route, status, secs);
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
    fn route_labels_are_matched_patterns_and_unmatched_paths_share_one() {
        let pattern = PathPattern("/api/v1/projects/:id/usage".into());
        assert_eq!(
            route_label("/api/v1/projects/anything/usage", Some(&pattern)),
            "/api/v1/projects/:id/usage"
        );
        assert_eq!(route_label("/api/v1/verify", None), "/api/v1/verify");
        assert_eq!(route_label("/api/v1/nope", None), "unmatched");
        let nest = PathPattern("".into());
        assert_eq!(route_label("/api/v1/nope", Some(&nest)), "unmatched");
        assert_eq!(method_label(&Method::PATCH), Method::PATCH);
        assert_eq!(
            method_label(&Method::from_bytes(b"FROB").unwrap()).as_str(),
            "OTHER"
        );
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
