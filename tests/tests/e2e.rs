//! End-to-end: the real server (`portal_server::spawn`) on 127.0.0.1:0 over a fresh SQLite
//! file, or a fresh PostgreSQL database when `PORTAL_TEST_DATABASE_URL` is set (then an
//! unreachable server fails the tests; it never skips them). Time is a steppable clock.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use onboarding_core::memory::ManualClock;
use portal_server::{Config, RunningServer, Secret};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

#[path = "e2e/gateway_nginx.rs"]
mod gateway_nginx;
#[path = "e2e/inbox.rs"]
mod inbox;
#[path = "e2e/metering.rs"]
mod metering;
#[path = "e2e/seed_walk.rs"]
mod seed_walk;
#[path = "e2e/webhooks.rs"]
mod webhooks;

const GATEWAY_TOKEN: &str = "gw_test_gateway_token_0123456789";

struct TestApp {
    base: String,
    /// The data directory and database of this server (another replica may share them).
    dir: std::path::PathBuf,
    database_url: String,
    server: RunningServer,
    clock: Arc<ManualClock>,
    admin: User,
}

#[derive(Clone)]
struct User {
    http: Client,
    base: String,
}

struct Resp {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl User {
    fn new(base: &str) -> Self {
        Self {
            http: Client::builder().cookie_store(true).build().unwrap(),
            base: base.to_owned(),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
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

    async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, &[]).await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PUT, path, Some(body), &[]).await
    }

    /// POST that must succeed; answers the body.
    async fn ok(&self, path: &str, body: Value) -> Value {
        let r = self.post(path, body).await;
        assert!(
            r.status.is_success(),
            "POST {path}: {} {}",
            r.status,
            r.body
        );
        r.body
    }
}

async fn database_url(dir: &std::path::Path) -> String {
    match std::env::var("PORTAL_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            use sea_orm::ConnectionTrait;
            let name = format!(
                "portal_e2e_{}",
                ulid::Ulid::generate().to_string().to_lowercase()
            );
            let db = sea_orm::Database::connect(&admin_url)
                .await
                .expect("PORTAL_TEST_DATABASE_URL is set but the server is unreachable");
            db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("CREATE DATABASE");
            let mut url = url_without_db(&admin_url);
            url.push_str(&name);
            url
        }
        _ => format!("sqlite://{}?mode=rwc", dir.join("portal.db").display()),
    }
}

fn url_without_db(url: &str) -> String {
    let (head, rest) = url.split_once("://").expect("a postgres:// URL");
    let host_end = rest.find('/').unwrap_or(rest.len());
    format!("{head}://{}/", &rest[..host_end])
}

async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with the configuration adjusted first (e.g. the webhook address policy).
async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    // reqwest is built without a TLS crypto provider in this workspace: every client (the
    // test's own included) needs one installed first.
    portal_server::install_crypto_provider();
    let dir = std::env::temp_dir().join(format!("portal-e2e-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let url = database_url(&dir).await;
    let mut config = Config {
        data_dir: dir.clone(),
        database_url: Some(Secret::new(url.clone())),
        gateway_token: Some(Secret::new(GATEWAY_TOKEN)),
        clock: Some(clock.clone()),
        ..Config::default()
    };
    configure(&mut config);
    let server = portal_server::spawn(config).await.expect("server starts");
    let base = server.base_url.clone();
    let (email, password) = server.admin.clone().expect("a first admin");
    let admin = User::new(&base);
    let r = admin
        .post(
            "/api/v1/staff/sign-in",
            json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    TestApp {
        base,
        dir,
        database_url: url,
        server,
        clock,
        admin,
    }
}

impl TestApp {
    async fn developer(&self, email: &str) -> User {
        let u = User::new(&self.base);
        u.ok(
            "/api/v1/auth/sign-up",
            json!({"email": email, "name": "Dev", "password": "correct horse battery"}),
        )
        .await;
        u.ok(
            "/api/v1/auth/sign-in",
            json!({"email": email, "password": "correct horse battery"}),
        )
        .await;
        u
    }

    /// A product with one plan; `gates` and `paid` vary per test.
    async fn plan(&self, gates: Value, paid: bool, min_calls: u64) -> String {
        let product = self
            .admin
            .ok(
                "/api/v1/products",
                json!({"name": "Account Data API", "description": "Balances"}),
            )
            .await;
        let pricing = if paid {
            json!({"kind": "paid", "currency": "EUR", "monthly_fee": "499.00", "included_requests": 100000, "price_per_request": "0.0010"})
        } else {
            json!({"kind": "free"})
        };
        let plan = self
            .admin
            .ok(
                &format!("/api/v1/products/{}/plans", product["id"].as_str().unwrap()),
                json!({
                    "name": "Business", "sandbox_access": "open",
                    "endpoints": ["GET /accounts"], "events": [],
                    "test_data": [{"type": "string", "name": "iban", "description": "A test IBAN", "value": "DE89370400440532013000"}],
                    "pricing": pricing, "gates": gates, "integration_min_calls": min_calls
                }),
            )
            .await;
        plan["id"].as_str().unwrap().to_owned()
    }

    async fn stop(self) {
        self.server.stop().await.unwrap();
    }
}

struct Onboarded {
    dev: User,
    ws: String,
    sub: String,
}

/// A developer (owner + technical lead) with a workspace, a sandbox project subscribed to
/// the plan, and one sandbox credential (whose secret is returned).
async fn onboard(app: &TestApp, email: &str, plan: &str) -> (Onboarded, String) {
    let dev = app.developer(email).await;
    let ws = dev.ok("/api/v1/workspaces", json!({"name": "Acme"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    let me = dev.get("/api/v1/me").await.body;
    let me_id = me["account"]["id"].as_str().unwrap().to_owned();
    let r = dev
        .put(
            &format!("/api/v1/workspaces/{ws}/members/{me_id}/roles"),
            json!({"roles": ["owner", "technical_lead", "billing"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let project = dev
        .ok(
            &format!("/api/v1/workspaces/{ws}/projects"),
            json!({"name": "Ledger sync", "purpose": "Nightly balance sync", "endpoints": ["GET /accounts"]}),
        )
        .await;
    let sub = dev
        .ok(
            &format!(
                "/api/v1/projects/{}/subscriptions",
                project["id"].as_str().unwrap()
            ),
            json!({"plan_id": plan}),
        )
        .await;
    let sub = sub["id"].as_str().unwrap().to_owned();
    let cred = dev
        .ok(
            &format!("/api/v1/subscriptions/{sub}/credentials"),
            json!({"environment": "sandbox", "name": "CI"}),
        )
        .await;
    let secret = cred["secret"].as_str().unwrap().to_owned();
    (Onboarded { dev, ws, sub }, secret)
}

fn answers() -> Value {
    json!({"use_case": "Accounting sync", "data_usage": "Balances kept 30 days",
           "consent_capture": "OAuth consent screen", "consent_withdrawal": "Settings page"})
}

async fn verify(app: &TestApp, secret: &str, endpoint: &str) -> Value {
    let gw = User::new(&app.base);
    let r = gw
        .send(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"secret": secret, "endpoint": endpoint})),
            &[("Authorization", &format!("Bearer {GATEWAY_TOKEN}"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

/// The answers the plan's form asks for (the form grows with the plan's gates).
async fn answers_for(o: &Onboarded) -> Value {
    let view = o
        .dev
        .get(&format!("/api/v1/subscriptions/{}", o.sub))
        .await
        .body;
    let all = answers();
    let mut out = serde_json::Map::new();
    for step in view["form"]["steps"].as_array().into_iter().flatten() {
        for f in step["fields"].as_array().into_iter().flatten() {
            let k = f["key"].as_str().unwrap();
            out.insert(k.into(), all.get(k).cloned().unwrap_or(json!("n/a")));
        }
    }
    Value::Object(out)
}

async fn submit(o: &Onboarded) -> Value {
    let answers = answers_for(o).await;
    o.dev
        .ok(
            &format!("/api/v1/subscriptions/{}/submit", o.sub),
            json!({"answers": answers}),
        )
        .await
}

/// The go-live paperwork: a colleague (`colleague`, invited as security owner and compliance)
/// for separation of duties, named security owner and audit contact; the developer is named
/// billing owner.
async fn name_responsibles(app: &TestApp, o: &Onboarded, colleague: &str) {
    let me = o.dev.get("/api/v1/me").await.body;
    let me_id = me["account"]["id"].as_str().unwrap().to_owned();
    let inv = o
        .dev
        .ok(
            &format!("/api/v1/workspaces/{}/invitations", o.ws),
            json!({"email": colleague, "roles": ["security_owner", "compliance"]}),
        )
        .await;
    let sec = app.developer(colleague).await;
    sec.ok(
        &format!("/api/v1/invitations/{}/accept", inv["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    let sec_id = sec.get("/api/v1/me").await.body["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (what, who) in [
        ("billing_owner", &me_id),
        ("security_owner", &sec_id),
        ("audit_contact", &sec_id),
    ] {
        let r = o
            .dev
            .put(
                &format!("/api/v1/workspaces/{}/responsibles/{what}", o.ws),
                json!({"account_id": who}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
    }
}

fn problem(r: &Resp, slug: &str, status: u16) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(
        r.headers["content-type"].to_str().unwrap(),
        "application/problem+json",
        "{}",
        r.body
    );
    assert_eq!(
        r.body["type"],
        format!("https://onboarding-portal.dev/problems/{slug}"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_sandbox_project_names_its_subscription_once_subscribed() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "named@acme.example", &plan).await;
    let view = o.dev.get(&format!("/api/v1/subscriptions/{}", o.sub)).await;
    let project = view.body["subscription"]["project_id"].as_str().unwrap();
    let got = o.dev.get(&format!("/api/v1/projects/{project}")).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(got.body["project"]["subscription_id"], o.sub.as_str());
    let listed = o
        .dev
        .get(&format!("/api/v1/workspaces/{}/projects", o.ws))
        .await
        .body;
    assert_eq!(listed["items"][0]["subscription_id"], o.sub.as_str());
    app.stop().await;
}

#[tokio::test]
async fn changes_requested_with_notes_then_resubmit() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "cr@acme.example", &plan).await;
    submit(&o).await;
    let r = app
        .admin
        .post(
            &format!("/api/v1/subscriptions/{}/request-changes", o.sub),
            json!({"notes": "   "}),
        )
        .await;
    problem(&r, "validation", 422);
    assert_eq!(r.body["field"], "notes");
    let s = app
        .admin
        .ok(
            &format!("/api/v1/subscriptions/{}/request-changes", o.sub),
            json!({"notes": "Describe retention"}),
        )
        .await;
    assert_eq!(s["phase"], "sandbox");
    let view = o
        .dev
        .get(&format!("/api/v1/subscriptions/{}", o.sub))
        .await
        .body;
    assert_eq!(view["notice"]["title"], "Changes Requested");
    assert_eq!(view["notice"]["notes"], "Describe retention");
    let again = submit(&o).await;
    assert_eq!(again["phase"], "in_review");
    app.stop().await;
}

#[tokio::test]
async fn reject_then_the_developer_sees_it() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "rj@acme.example", &plan).await;
    submit(&o).await;
    let s = app
        .admin
        .ok(
            &format!("/api/v1/subscriptions/{}/reject", o.sub),
            json!({"notes": "Out of scope"}),
        )
        .await;
    assert_eq!(s["phase"], "rejected");
    let view = o
        .dev
        .get(&format!("/api/v1/subscriptions/{}", o.sub))
        .await
        .body;
    assert_eq!(view["notice"]["title"], "Submission Rejected");
    // Terminal: another decision is a conflict naming the phase.
    let r = app
        .admin
        .post(
            &format!("/api/v1/subscriptions/{}/approve", o.sub),
            json!({}),
        )
        .await;
    problem(&r, "conflict", 409);
    assert_eq!(r.body["current"], "rejected");
    app.stop().await;
}

#[tokio::test]
async fn submit_without_sandbox_credentials_is_refused() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "nc@acme.example", &plan).await;
    let creds = o
        .dev
        .get(&format!("/api/v1/subscriptions/{}", o.sub))
        .await
        .body;
    let cred_id = creds["sandbox_credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    o.dev
        .ok(&format!("/api/v1/credentials/{cred_id}/revoke"), json!({}))
        .await;
    let answers = answers_for(&o).await;
    let r = o
        .dev
        .post(
            &format!("/api/v1/subscriptions/{}/submit", o.sub),
            json!({"answers": answers}),
        )
        .await;
    problem(&r, "refused", 409);
    assert_eq!(r.body["code"], "no_sandbox_credential");
    app.stop().await;
}

#[tokio::test]
async fn production_credential_refused_before_approval() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "pa@acme.example", &plan).await;
    let r = o
        .dev
        .post(
            &format!("/api/v1/subscriptions/{}/credentials", o.sub),
            json!({"environment": "production", "name": "Live"}),
        )
        .await;
    problem(&r, "locked", 409);
    assert_eq!(r.body["code"], "not_approved");
    app.stop().await;
}

#[tokio::test]
async fn rotate_keeps_the_old_secret_until_the_grace_deadline_and_regenerate_stops_it_at_once() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, old) = onboard(&app, "rot@acme.example", &plan).await;
    let view = o
        .dev
        .get(&format!("/api/v1/subscriptions/{}", o.sub))
        .await
        .body;
    let id = view["sandbox_credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let rotated = o
        .dev
        .ok(
            &format!("/api/v1/credentials/{id}/rotate"),
            json!({"grace_period_seconds": 3600}),
        )
        .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_eq!(verify(&app, &old, "verify").await["valid"], true);
    assert_eq!(verify(&app, &new, "verify").await["valid"], true);
    app.clock.advance(TimeDelta::seconds(3601));
    let v = verify(&app, &old, "verify").await;
    assert_eq!(
        (v["valid"].clone(), v["reason"].clone()),
        (json!(false), json!("expired"))
    );
    assert_eq!(verify(&app, &new, "verify").await["valid"], true);

    let regen = o
        .dev
        .ok(&format!("/api/v1/credentials/{id}/regenerate"), json!({}))
        .await;
    let newest = regen["secret"].as_str().unwrap();
    assert_eq!(verify(&app, &new, "verify").await["valid"], false);
    assert_eq!(verify(&app, newest, "verify").await["valid"], true);
    app.stop().await;
}

#[tokio::test]
async fn another_workspace_gets_404_and_a_developer_calling_a_reviewer_action_gets_403() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "own@acme.example", &plan).await;
    let other = app.developer("eve@other.example").await;
    other
        .ok("/api/v1/workspaces", json!({"name": "Other"}))
        .await;
    let r = other.get(&format!("/api/v1/subscriptions/{}", o.sub)).await;
    problem(&r, "not-found", 404);
    submit(&o).await;
    let r = o
        .dev
        .post(
            &format!("/api/v1/subscriptions/{}/approve", o.sub),
            json!({}),
        )
        .await;
    problem(&r, "forbidden", 403);
    app.stop().await;
}

#[tokio::test]
async fn two_concurrent_approvals_exactly_one_wins() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "race@acme.example", &plan).await;
    let s = submit(&o).await;
    let version = s["version"].as_i64().unwrap().to_string();
    let etag = format!("\"{version}\"");
    let path = format!("/api/v1/subscriptions/{}/approve", o.sub);
    let a = app.admin.clone();
    let b = app.admin.clone();
    let hdr = [("If-Match", etag.as_str())];
    let (ra, rb) = tokio::join!(
        a.send(Method::POST, &path, Some(json!({})), &hdr),
        b.send(Method::POST, &path, Some(json!({})), &hdr),
    );
    let mut statuses = [ra.status.as_u16(), rb.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses[0], 200, "{} / {}", ra.body, rb.body);
    assert!(
        matches!(statuses[1], 409 | 412),
        "{} / {}",
        ra.body,
        rb.body
    );
    let loser = if ra.status.as_u16() == 200 { rb } else { ra };
    assert_eq!(loser.body["current"], "production", "{}", loser.body);
    app.stop().await;
}

#[tokio::test]
async fn framework_errors_are_problems() {
    let app = spawn_app().await;
    let u = User::new(&app.base);
    let r = u
        .http
        .post(format!("{}/api/v1/auth/sign-up", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    problem(&u.get("/api/v1/no/such/route").await, "not-found", 404);
    // Outside the API, an unknown path is a page: the portal's HTML "not found".
    let page = u.get("/no/such/page").await;
    assert_eq!(page.status, 404);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    problem(
        &u.send(Method::DELETE, "/api/v1/plans", None, &[]).await,
        "method-not-allowed",
        405,
    );
    let big = "x".repeat(2 * 1024 * 1024);
    let r = u
        .post(
            "/api/v1/auth/sign-up",
            json!({"email": "a@b.example", "name": big, "password": "x"}),
        )
        .await;
    problem(&r, "payload-too-large", 413);
    problem(&u.get("/api/v1/me").await, "unauthenticated", 401);
    let h = u.get("/healthz").await;
    assert_eq!(h.status, 200);
    assert!(h.headers.contains_key("x-request-id"));
    assert_eq!(u.get("/readyz").await.status, 200);
    assert!(
        u.get("/metrics")
            .await
            .body
            .as_str()
            .unwrap()
            .contains("portal_http_requests_total")
    );
    assert_eq!(
        u.get("/openapi.json").await.body["info"]["title"],
        "Onboarding portal API"
    );
    // The explorer: a small page whose script reads the served document; its script and
    // styles come from this origin, and its policy allows no other scripts.
    let page = u.get("/docs").await;
    assert_eq!(page.status, 200);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.body.as_str().unwrap();
    assert!(
        html.len() < 2048,
        "the page inlines nothing: {} bytes",
        html.len()
    );
    for (asset, kind) in [
        ("/docs/swagger-ui-bundle.js", "text/javascript"),
        ("/docs/swagger-ui.css", "text/css"),
        ("/docs/start.js", "text/javascript"),
    ] {
        assert!(html.contains(asset), "{html}");
        let a = u.get(asset).await;
        assert_eq!(a.status, 200, "{asset}");
        let ct = a.headers["content-type"].to_str().unwrap();
        assert!(ct.starts_with(kind), "{asset}: {ct}");
    }
    let start = u.get("/docs/start.js").await;
    assert!(
        start
            .body
            .as_str()
            .unwrap()
            .contains(r#"url: "/openapi.json""#),
        "{}",
        start.body
    );
    app.stop().await;
}

/// Metrics are labelled by the route that matched, never by the path or method a client sent:
/// otherwise every made-up id, path or method token would be a new series, held in memory for
/// the process's life and printed by every scrape.
#[tokio::test]
async fn metrics_name_routes_not_the_paths_clients_send() {
    let app = spawn_app().await;
    let u = User::new(&app.base);
    for i in 0..40 {
        u.get(&format!("/api/v1/projects/junk{i}/usage")).await;
        u.get(&format!("/api/v1/no-such-route-{i}")).await;
        u.get(&format!("/projects/junk{i}")).await;
        u.get(&format!("/no-such-page-{i}")).await;
        let method = Method::from_bytes(format!("FROB{i}").as_bytes()).unwrap();
        u.send(method, "/api/v1/plans", None, &[]).await;
        let two_params = format!("/api/v1/projects/junk{i}/alert-thresholds/calls");
        u.send(Method::DELETE, &two_params, None, &[]).await;
    }
    let text = u.get("/metrics").await.body;
    let text = text.as_str().unwrap();
    for made_up in ["junk", "no-such", "FROB"] {
        assert!(!text.contains(made_up), "{made_up} in the metrics:\n{text}");
    }
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("portal_http_requests_total{"))
        .collect();
    assert!(
        series
            .iter()
            .any(|l| l.contains(r#"route="/api/v1/projects/{id}/usage""#)),
        "{text}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains(r#"route="/api/v1/projects/{id}/alert-thresholds/{metric}""#)),
        "{text}"
    );
    assert!(
        series.iter().any(|l| l.contains(r#"method="OTHER""#)),
        "{text}"
    );
    assert!(series.len() <= 12, "{} series:\n{text}", series.len());
    app.stop().await;
}

#[tokio::test]
async fn idempotency_key_replays_and_refuses_a_different_body() {
    let app = spawn_app().await;
    let dev = app.developer("idem@acme.example").await;
    let key = [("Idempotency-Key", "create-ws-1")];
    let first = dev
        .send(
            Method::POST,
            "/api/v1/workspaces",
            Some(json!({"name": "One"})),
            &key,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = dev
        .send(
            Method::POST,
            "/api/v1/workspaces",
            Some(json!({"name": "One"})),
            &key,
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.headers["location"], first.headers["location"]);
    let list = dev.get("/api/v1/workspaces").await.body;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let other = dev
        .send(
            Method::POST,
            "/api/v1/workspaces",
            Some(json!({"name": "Two"})),
            &key,
        )
        .await;
    problem(&other, "idempotency-key-mismatch", 422);
    app.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_the_same_for_unknown_accounts() {
    let app = spawn_app().await;
    let u = User::new(&app.base);
    for email in ["nobody@acme.example", "admin@portal.local"] {
        for _ in 0..10 {
            let r = u
                .post(
                    "/api/v1/staff/sign-in",
                    json!({"email": email, "password": "wrong password!"}),
                )
                .await;
            assert_eq!(r.status, 401);
        }
        let r = u
            .post(
                "/api/v1/staff/sign-in",
                json!({"email": email, "password": "wrong password!"}),
            )
            .await;
        problem(&r, "too-many-requests", 429);
        assert!(r.headers.contains_key("retry-after"));
    }
    app.clock.advance(TimeDelta::minutes(16));
    let r = u
        .post(
            "/api/v1/staff/sign-in",
            json!({"email": "nobody@acme.example", "password": "wrong password!"}),
        )
        .await;
    assert_eq!(r.status, 401);
    app.stop().await;
}

#[tokio::test]
async fn oauth_client_credentials_grant() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "oauth@acme.example", &plan).await;
    let c = o
        .dev
        .ok(
            &format!("/api/v1/subscriptions/{}/credentials", o.sub),
            json!({"environment": "sandbox", "kind": "oauth_client", "name": "svc"}),
        )
        .await;
    let id = c["credential"]["client_id"].as_str().unwrap();
    let secret = c["secret"].as_str().unwrap();
    let http = Client::new();
    let r = http
        .post(format!("{}/oauth/token", app.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(
        verify(&app, t["access_token"].as_str().unwrap(), "verify").await["valid"],
        true
    );
    let r = http
        .post(format!("{}/oauth/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", "cs_sbx_wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let r = http
        .post(format!("{}/oauth/token", app.base))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    app.stop().await;
}

/// Issue 19, defect 4: every answer that carries a secret or a token says `Cache-Control:
/// no-store` (no browser or proxy cache may keep it); an answer without one leaves caching to
/// the client (no `no-store` forced on it).
#[tokio::test]
async fn every_answer_that_carries_a_secret_is_no_store() {
    fn no_store(what: &str, r: &Resp) {
        assert!(r.status.is_success(), "{what}: {} {}", r.status, r.body);
        assert_eq!(
            r.headers.get("cache-control").map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what}"
        );
    }
    let app = spawn_app_with(|c| c.webhook_allowed_cidrs = vec!["127.0.0.1/32".into()]).await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "cache@acme.example", &plan).await;

    let sign_in = User::new(&app.base)
        .post(
            "/api/v1/auth/sign-in",
            json!({"email": "cache@acme.example", "password": "correct horse battery"}),
        )
        .await;
    no_store("sign in", &sign_in);
    let (email, password) = app.server.admin.clone().unwrap();
    let staff = User::new(&app.base)
        .post(
            "/api/v1/staff/sign-in",
            json!({"email": email, "password": password}),
        )
        .await;
    no_store("staff sign in", &staff);

    let pat = o
        .dev
        .post("/api/v1/tokens", json!({"name": "CI deploy"}))
        .await;
    no_store("personal access token", &pat);

    let subs = format!("/api/v1/subscriptions/{}/credentials", o.sub);
    let key = o
        .dev
        .post(&subs, json!({"environment": "sandbox", "name": "k"}))
        .await;
    no_store("create an API key", &key);
    let id = key.body["credential"]["id"].as_str().unwrap().to_owned();
    let client = o
        .dev
        .post(
            &subs,
            json!({"environment": "sandbox", "kind": "oauth_client", "name": "svc"}),
        )
        .await;
    no_store("create an OAuth client", &client);
    let rotate = o
        .dev
        .post(&format!("/api/v1/credentials/{id}/rotate"), json!({}))
        .await;
    no_store("rotate a credential", &rotate);
    let regen = o
        .dev
        .post(&format!("/api/v1/credentials/{id}/regenerate"), json!({}))
        .await;
    no_store("regenerate a credential", &regen);

    let project = key.body["credential"]["project_id"].as_str().unwrap();
    let endpoint = o
        .dev
        .post(
            &format!("/api/v1/projects/{project}/webhook-endpoints"),
            json!({"url": "http://127.0.0.1:9/hooks", "events": []}),
        )
        .await;
    no_store("create a webhook endpoint", &endpoint);
    let ep = endpoint.body["endpoint"]["id"].as_str().unwrap();
    let rotated = o
        .dev
        .post(
            &format!("/api/v1/webhook-endpoints/{ep}/rotate-secret"),
            json!({}),
        )
        .await;
    no_store("rotate a webhook signing secret", &rotated);

    // Answers without a secret are not forced to no-store.
    for path in [
        format!("/api/v1/credentials/{id}"),
        format!("/api/v1/webhook-endpoints/{ep}"),
        "/api/v1/me".to_owned(),
    ] {
        let r = o.dev.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert!(!r.body.to_string().contains("\"secret\""), "{path}");
        assert_ne!(
            r.headers.get("cache-control").map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
    }
    app.stop().await;
}
