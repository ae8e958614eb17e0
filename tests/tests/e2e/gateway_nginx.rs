//! Issue 24: a real gateway in front of a real upstream, the portal deciding. Debian's nginx
//! (`nginx-light` has `auth_request`) runs as a child process with a generated configuration
//! under a temporary prefix, on a free loopback port; the upstream is a small poem server in
//! this process that echoes the identity headers it received. The configuration is the one
//! docs/gateways.md gives for nginx.
//!
//! Runs when nginx is installed; with `PORTAL_NGINX_TESTS=1` (CI) a missing nginx fails the
//! test instead of skipping it. SQLite, or PostgreSQL with `PORTAL_TEST_DATABASE_URL`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use poem::{EndpointExt, IntoResponse, handler, web::Data};

use super::*;

const NGINX: &str = "/usr/sbin/nginx";

/// nginx, if it should run: `None` skips (not asked, not installed); asked and missing fails.
fn nginx_binary() -> Option<PathBuf> {
    let asked = std::env::var("PORTAL_NGINX_TESTS").is_ok_and(|v| v == "1");
    let bin = std::env::var_os("PORTAL_NGINX").map_or_else(|| PathBuf::from(NGINX), PathBuf::from);
    if bin.exists() {
        return Some(bin);
    }
    assert!(
        !asked,
        "PORTAL_NGINX_TESTS=1 but {} is missing: install nginx-light",
        bin.display()
    );
    eprintln!(
        "skipped: {} is not installed (PORTAL_NGINX_TESTS=1 makes this a failure)",
        bin.display()
    );
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The nginx recipe of docs/gateways.md, on `port`, with one `location` per expected
/// environment: `/` serves sandbox keys, `/live/` production keys.
fn nginx_config(prefix: &Path, port: u16, portal: &str, upstream: &str) -> String {
    let p = prefix.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;

    upstream portal {{ server {portal}; keepalive 16; }}
    upstream app {{ server {upstream}; keepalive 16; }}

    server {{
        listen 127.0.0.1:{port};

        location = /_portal_auth_sandbox {{
            internal;
            proxy_pass http://portal/api/v1/forward-auth?environment=sandbox;
            include {p}/portal_auth.conf;
        }}
        location = /_portal_auth_production {{
            internal;
            proxy_pass http://portal/api/v1/forward-auth?environment=production;
            include {p}/portal_auth.conf;
        }}

        location / {{
            auth_request /_portal_auth_sandbox;
            include {p}/portal_identity.conf;
            proxy_pass http://app;
        }}
        location /live/ {{
            auth_request /_portal_auth_production;
            include {p}/portal_identity.conf;
            proxy_pass http://app;
        }}
    }}
}}
"#
    )
}

const PORTAL_AUTH_CONF: &str = r#"proxy_pass_request_body off;
proxy_set_header Content-Length "";
proxy_set_header X-Original-Method $request_method;
proxy_set_header X-Original-URI $request_uri;
proxy_set_header X-Portal-Gateway-Token "GATEWAY_TOKEN";
proxy_http_version 1.1;
proxy_set_header Connection "";
"#;

const PORTAL_IDENTITY_CONF: &str = r#"auth_request_set $portal_workspace $upstream_http_x_portal_workspace;
auth_request_set $portal_project $upstream_http_x_portal_project;
auth_request_set $portal_credential $upstream_http_x_portal_credential;
auth_request_set $portal_environment $upstream_http_x_portal_environment;
auth_request_set $portal_plan $upstream_http_x_portal_plan;
auth_request_set $portal_reason $upstream_http_x_portal_reason;
add_header X-Portal-Reason $portal_reason always;
proxy_set_header X-Portal-Workspace $portal_workspace;
proxy_set_header X-Portal-Project $portal_project;
proxy_set_header X-Portal-Credential $portal_credential;
proxy_set_header X-Portal-Environment $portal_environment;
proxy_set_header X-Portal-Plan $portal_plan;
proxy_http_version 1.1;
proxy_set_header Connection "";
"#;

struct Nginx {
    child: Child,
    base: String,
    prefix: PathBuf,
}

impl Nginx {
    async fn start(bin: &Path, dir: &Path, portal: &str, upstream: &str) -> Nginx {
        let prefix = dir.join("nginx");
        std::fs::create_dir_all(prefix.join("tmp")).unwrap();
        let port = free_port();
        std::fs::write(
            prefix.join("portal_auth.conf"),
            PORTAL_AUTH_CONF.replace("GATEWAY_TOKEN", GATEWAY_TOKEN),
        )
        .unwrap();
        std::fs::write(prefix.join("portal_identity.conf"), PORTAL_IDENTITY_CONF).unwrap();
        let conf = prefix.join("nginx.conf");
        std::fs::write(&conf, nginx_config(&prefix, port, portal, upstream)).unwrap();
        let child = Command::new(bin)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf)
            .args(["-e", "stderr"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(prefix.join("stderr.log")).unwrap())
            .spawn()
            .expect("spawn nginx");
        let mut n = Nginx {
            child,
            base: format!("http://127.0.0.1:{port}"),
            prefix,
        };
        // Bounded polling for the child to listen (not waiting for time to pass).
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = n.child.try_wait().unwrap() {
                panic!("nginx exited with {status}:\n{}", n.logs());
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "nginx not listening:\n{}",
                n.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.prefix.join(f)).unwrap_or_default();
        format!("{}{}", read("stderr.log"), read("error.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The upstream: answers every request with the `x-portal-*` headers it received, and counts.
#[handler]
fn echo(req: &poem::Request, Data(hits): Data<&Arc<AtomicUsize>>) -> impl IntoResponse {
    hits.fetch_add(1, Ordering::SeqCst);
    let mut seen = serde_json::Map::new();
    for (k, v) in req.headers() {
        if k.as_str().starts_with("x-portal-") {
            seen.insert(k.as_str().into(), json!(v.to_str().unwrap_or_default()));
        }
    }
    seen.insert("path".into(), json!(req.uri().path()));
    poem::web::Json(Value::Object(seen))
}

async fn start_upstream(hits: Arc<AtomicUsize>) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let app = poem::Route::new().at("/*path", echo).data(hits);
    let task = tokio::spawn(async move {
        let _ = poem::Server::new(poem::listener::TcpListener::bind(addr.to_string()))
            .run(app)
            .await;
    });
    // Bounded polling until it listens.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "upstream not listening");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (addr.to_string(), task)
}

/// A call through nginx with the key as `Authorization: Bearer`.
async fn call(http: &Client, base: &str, path: &str, key: Option<&str>) -> Resp {
    let mut req = http
        .get(format!("{base}{path}"))
        // A caller cannot pose as another workspace: nginx replaces the identity headers.
        .header("X-Portal-Workspace", "ws_spoofed");
    if let Some(k) = key {
        req = req.header("Authorization", format!("Bearer {k}"));
    }
    let r = req.send().await.expect("request through nginx");
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Resp {
        status,
        headers,
        body,
    }
}

/// Calls through nginx until it refuses `key` or a second has passed (bounded polling):
/// the last answer and how long it took.
async fn refused_within_a_second(http: &Client, base: &str, key: &str) -> (Resp, Duration) {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(1);
    loop {
        let r = call(http, base, "/accounts", Some(key)).await;
        if r.status != StatusCode::OK || Instant::now() >= deadline {
            return (r, start.elapsed());
        }
        tokio::task::yield_now().await;
    }
}

fn reason(r: &Resp) -> &str {
    r.headers
        .get("x-portal-reason")
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

#[tokio::test]
async fn nginx_forwards_valid_keys_with_their_identity_and_refuses_the_rest() {
    let Some(bin) = nginx_binary() else { return };
    let app = spawn_app().await;
    // nginx asks a second replica: revocation must reach it through the change feed.
    let replica = portal_server::spawn(Config {
        data_dir: app.dir.clone(),
        database_url: Some(Secret::new(app.database_url.clone())),
        gateway_token: Some(Secret::new(GATEWAY_TOKEN)),
        clock: Some(app.clock.clone()),
        ..Config::default()
    })
    .await
    .expect("replica starts");
    let hits = Arc::new(AtomicUsize::new(0));
    let (upstream, upstream_task) = start_upstream(hits.clone()).await;
    let portal = replica.addr.to_string();
    let nginx = Nginx::start(&bin, &app.dir, &portal, &upstream).await;
    let http = Client::new();

    let product = app
        .admin
        .ok(
            "/api/v1/products",
            json!({"name": "Account Data API", "description": "Balances"}),
        )
        .await;
    let plan = app
        .admin
        .ok(
            &format!("/api/v1/products/{}/plans", product["id"].as_str().unwrap()),
            json!({
                "name": "Business", "sandbox_access": "open",
                "endpoints": ["GET /accounts", "GET /accounts/{id}"], "events": [],
                "pricing": {"kind": "free"}, "gates": ["integration_verification"],
                "integration_min_calls": 3
            }),
        )
        .await;
    let plan = plan["id"].as_str().unwrap().to_owned();
    let (o, key) = onboard(&app, "nginx@acme.example", &plan).await;
    let integration_gate = |o: &Onboarded| {
        let dev = o.dev.clone();
        let sub = o.sub.clone();
        async move {
            let view = dev.get(&format!("/api/v1/subscriptions/{sub}")).await.body;
            let gates = view["gates"]["gates"].as_array().unwrap().clone();
            let g = gates
                .into_iter()
                .find(|g| g["gate"] == "integration_verification")
                .expect("the plan applies gate 4");
            g["state"].as_str().unwrap().to_owned()
        }
    };
    assert_ne!(integration_gate(&o).await, "passed", "no calls yet");

    // A valid sandbox key reaches the upstream with its identity.
    let r = call(
        &http,
        &nginx.base,
        "/accounts/42?expand=balances",
        Some(&key),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}\n{}", r.body, nginx.logs());
    assert_eq!(r.body["path"], "/accounts/42");
    assert_eq!(r.body["x-portal-workspace"], o.ws.as_str(), "{}", r.body);
    assert_eq!(r.body["x-portal-environment"], "sandbox");
    assert_eq!(r.body["x-portal-plan"], plan.as_str());
    let project = r.body["x-portal-project"].as_str().unwrap().to_owned();
    let credential = r.body["x-portal-credential"].as_str().unwrap().to_owned();
    assert!(credential.starts_with("cred_"), "{}", r.body);
    for path in ["/accounts", "/accounts/7", "/statements"] {
        let r = call(&http, &nginx.base, path, Some(&key)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
    let forwarded = hits.load(Ordering::SeqCst);
    assert_eq!(forwarded, 4);

    // Refused: no key, an unknown one, a malformed one, and a sandbox key at the production
    // location; none reaches the upstream.
    let unknown = {
        // A well-formed key of the same shape that no credential has.
        let regen = o
            .dev
            .ok(
                &format!("/api/v1/subscriptions/{}/credentials", o.sub),
                json!({"environment": "sandbox", "name": "Throwaway"}),
            )
            .await;
        let k = regen["secret"].as_str().unwrap().to_owned();
        let id = regen["credential"]["id"].as_str().unwrap().to_owned();
        o.dev
            .ok(&format!("/api/v1/credentials/{id}/regenerate"), json!({}))
            .await;
        k
    };
    for (key, status, why) in [
        (None, 401, "missing"),
        (Some("sk_sbx_not-a-key"), 401, "malformed"),
        (Some(unknown.as_str()), 401, "unknown"),
    ] {
        let r = call(&http, &nginx.base, "/accounts", key).await;
        assert_eq!(r.status.as_u16(), status, "{why}: {}", r.body);
        assert_eq!(reason(&r), why, "{:?}", r.headers);
    }
    let r = call(&http, &nginx.base, "/live/accounts", Some(&key)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(reason(&r), "wrong_environment");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        forwarded,
        "refused calls stay out"
    );

    // A rotated-out key works through its grace period, then expires.
    let rotated = o
        .dev
        .ok(
            &format!("/api/v1/credentials/{credential}/rotate"),
            json!({"grace_period_seconds": 60}),
        )
        .await;
    let new_key = rotated["secret"].as_str().unwrap().to_owned();
    let r = call(&http, &nginx.base, "/accounts", Some(&key)).await;
    assert_eq!(r.status, StatusCode::OK, "within the grace: {}", r.body);
    app.clock.advance(TimeDelta::seconds(61));
    // The replica may still hold the credential as it was before the rotation (the old
    // secret current): the change feed replaces it within a second, like a revocation.
    let (r, took) = refused_within_a_second(&http, &nginx.base, &key).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "after {took:?}: {}",
        r.body
    );
    assert_eq!(reason(&r), "expired");
    let r = call(&http, &nginx.base, "/accounts", Some(&new_key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let forwarded = hits.load(Ordering::SeqCst);

    // Revoked on the first replica: nginx (asking the second) refuses it within a second.
    o.dev
        .ok(
            &format!("/api/v1/credentials/{credential}/revoke"),
            json!({}),
        )
        .await;
    let (r, took) = refused_within_a_second(&http, &nginx.base, &new_key).await;
    eprintln!("nginx refused the revoked key after {took:?}");
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "still accepted after {took:?}"
    );
    assert_eq!(reason(&r), "revoked");
    assert!(took <= Duration::from_secs(1), "took {took:?}");
    let after_revocation = hits.load(Ordering::SeqCst);
    assert!(after_revocation >= forwarded);

    // The accepted calls are the project's usage, on the plan endpoints they matched.
    replica.flush_usage().await;
    app.server.flush_usage().await;
    let v = o
        .dev
        .get(&format!("/api/v1/projects/{project}/usage?granularity=day"))
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.body);
    assert_eq!(
        v.body["requests"], after_revocation as u64,
        "every forwarded call, and only those: {}",
        v.body
    );
    let mut per_endpoint = std::collections::BTreeMap::new();
    for b in v.body["buckets"].as_array().unwrap() {
        *per_endpoint
            .entry(b["endpoint"].as_str().unwrap().to_owned())
            .or_insert(0u64) += b["requests"].as_u64().unwrap();
    }
    assert_eq!(
        per_endpoint.get("GET /accounts/{id}"),
        Some(&2),
        "{per_endpoint:?}"
    );
    assert_eq!(per_endpoint.get("GET *"), Some(&1), "{per_endpoint:?}");
    assert_eq!(
        per_endpoint.get("GET /accounts"),
        Some(&(after_revocation as u64 - 3)),
        "{per_endpoint:?}"
    );
    // Gate 4 counts them with no gateway code.
    assert_eq!(integration_gate(&o).await, "passed");

    drop(nginx);
    upstream_task.abort();
    replica.stop().await.unwrap();
    app.stop().await;
}
