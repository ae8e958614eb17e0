//! Tenant isolation and function-level authorization, generated from the OpenAPI document.
//!
//! The real server (SQLite, or PostgreSQL when `PORTAL_TEST_DATABASE_URL` is set) gets two
//! workspaces, A and B, each with a full set of resources (project, subscription, credential,
//! webhook endpoint and a delivery, invitation, join request, alert threshold, export). Then
//! every operation of `/openapi.json` is walked:
//!
//! - an operation with a tenant resource in its path, called with B's owner on A's ids,
//!   answers 404 (never 403: that would tell B the id exists; never 2xx), with the very
//!   problem a well-formed id that exists nowhere gets;
//! - a staff, owner, billing or compliance operation called by a plain developer of A
//!   answers 403.
//!
//! [`TABLE`] classifies every operation; the test fails when the document has an operation
//! the table does not cover (or the table names one the document lacks), so a new endpoint
//! cannot ship unclassified.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::Utc;
use onboarding_core::memory::ManualClock;
use portal_server::{Config, RunningServer, Secret};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const GATEWAY_TOKEN: &str = "gw_authz_sweep_gateway_token_0123";

/// How an operation is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// No tenant resource in the path; any caller (or none) may call it. Not swept.
    Open,
    /// About the caller only (`/me`, tokens, their own workspace list, sign-out). Not swept.
    SelfScoped,
    /// Gateway token, not a person. Not swept.
    Gateway,
    /// A tenant resource in the path: B on A's ids → 404.
    Tenant,
    /// A tenant resource in the path and a role a plain developer lacks (owner, billing,
    /// compliance, security owner, technical lead, staff): B → 404, A's developer → 403.
    TenantRole,
    /// No tenant in the path, staff only (admins or reviewers): A's developer → 403.
    StaffOnly,
    /// Asking to join a workspace by its id is open to any signed-in account by design
    /// (the id is shared by a colleague; an owner decides). Not a tenant read.
    JoinById,
}

use Class::*;

/// Every operation of the document: `METHOD /path` → class.
const TABLE: &[(&str, Class)] = &[
    ("POST /api/v1/admin/audit/verify", StaffOnly),
    ("POST /api/v1/auth/sign-in", Open),
    ("POST /api/v1/auth/sign-out", SelfScoped),
    ("POST /api/v1/auth/sign-up", Open),
    ("GET /api/v1/credentials/{id}", Tenant),
    ("POST /api/v1/credentials/{id}/regenerate", Tenant),
    ("POST /api/v1/credentials/{id}/revoke", Tenant),
    ("POST /api/v1/credentials/{id}/rotate", Tenant),
    ("GET /api/v1/forward-auth", Gateway),
    ("POST /api/v1/invitations/{id}/accept", Tenant),
    ("POST /api/v1/invitations/{id}/revoke", TenantRole),
    ("POST /api/v1/join-requests/{id}/approve", TenantRole),
    ("POST /api/v1/join-requests/{id}/decline", TenantRole),
    ("GET /api/v1/me", SelfScoped),
    ("GET /api/v1/plans", Open),
    ("GET /api/v1/plans/{id}", Open),
    ("PUT /api/v1/plans/{id}", StaffOnly),
    ("GET /api/v1/products", Open),
    ("POST /api/v1/products", StaffOnly),
    ("POST /api/v1/products/{id}/plans", StaffOnly),
    ("GET /api/v1/projects/{id}", Tenant),
    (
        "PUT /api/v1/projects/{id}/alert-thresholds/{metric}",
        Tenant,
    ),
    (
        "DELETE /api/v1/projects/{id}/alert-thresholds/{metric}",
        Tenant,
    ),
    ("GET /api/v1/projects/{id}/alerts", Tenant),
    ("GET /api/v1/projects/{id}/credentials", Tenant),
    ("GET /api/v1/projects/{id}/exports/usage", TenantRole),
    ("POST /api/v1/projects/{id}/live-audit-reviewed", Tenant),
    ("GET /api/v1/projects/{id}/reports", Tenant),
    ("POST /api/v1/projects/{id}/subscriptions", Tenant),
    ("GET /api/v1/projects/{id}/usage", Tenant),
    ("GET /api/v1/projects/{id}/webhook-endpoints", Tenant),
    ("POST /api/v1/projects/{id}/webhook-endpoints", Tenant),
    ("GET /api/v1/review-queue", StaffOnly),
    ("POST /api/v1/staff", StaffOnly),
    ("POST /api/v1/staff/sign-in", Open),
    ("GET /api/v1/subscriptions/{id}", Tenant),
    ("POST /api/v1/subscriptions/{id}/approve", TenantRole),
    (
        "POST /api/v1/subscriptions/{id}/clone-to-production",
        Tenant,
    ),
    ("POST /api/v1/subscriptions/{id}/credentials", Tenant),
    (
        "POST /api/v1/subscriptions/{id}/gates/{gate}/sign-off",
        TenantRole,
    ),
    ("POST /api/v1/subscriptions/{id}/payments", TenantRole),
    ("POST /api/v1/subscriptions/{id}/reject", TenantRole),
    ("POST /api/v1/subscriptions/{id}/reopen", TenantRole),
    (
        "POST /api/v1/subscriptions/{id}/request-changes",
        TenantRole,
    ),
    (
        "POST /api/v1/subscriptions/{id}/sandbox-access/decline",
        TenantRole,
    ),
    (
        "POST /api/v1/subscriptions/{id}/sandbox-access/grant",
        TenantRole,
    ),
    ("POST /api/v1/subscriptions/{id}/submit", TenantRole),
    ("POST /api/v1/subscriptions/{id}/withdraw", Tenant),
    ("POST /api/v1/tokens", SelfScoped),
    ("POST /api/v1/usage/events", Gateway),
    ("POST /api/v1/verify", Gateway),
    ("GET /api/v1/webhook-deliveries/{id}", Tenant),
    ("POST /api/v1/webhook-deliveries/{id}/retry", Tenant),
    ("GET /api/v1/webhook-endpoints/{id}", Tenant),
    ("PATCH /api/v1/webhook-endpoints/{id}", Tenant),
    ("GET /api/v1/webhook-endpoints/{id}/deliveries", Tenant),
    ("POST /api/v1/webhook-endpoints/{id}/disable", Tenant),
    ("POST /api/v1/webhook-endpoints/{id}/enable", Tenant),
    ("GET /api/v1/webhook-endpoints/{id}/health", Tenant),
    ("POST /api/v1/webhook-endpoints/{id}/rotate-secret", Tenant),
    ("POST /api/v1/webhook-endpoints/{id}/test", Tenant),
    ("POST /api/v1/webhook-endpoints/{id}/verify", Tenant),
    ("GET /api/v1/workspaces", SelfScoped),
    ("POST /api/v1/workspaces", SelfScoped),
    ("GET /api/v1/workspaces/{id}", Tenant),
    ("GET /api/v1/workspaces/{id}/audit-events", TenantRole),
    ("GET /api/v1/workspaces/{id}/exports/audit", TenantRole),
    ("POST /api/v1/workspaces/{id}/invitations", TenantRole),
    ("GET /api/v1/workspaces/{id}/invoices/{period}", TenantRole),
    ("POST /api/v1/workspaces/{id}/join-requests", JoinById),
    (
        "DELETE /api/v1/workspaces/{id}/members/{account_id}",
        TenantRole,
    ),
    (
        "PUT /api/v1/workspaces/{id}/members/{account_id}/roles",
        TenantRole,
    ),
    ("GET /api/v1/workspaces/{id}/next-step", Tenant),
    ("GET /api/v1/workspaces/{id}/projects", Tenant),
    ("POST /api/v1/workspaces/{id}/projects", Tenant),
    ("GET /api/v1/workspaces/{id}/reports", Tenant),
    (
        "PUT /api/v1/workspaces/{id}/responsibles/{responsibility}",
        TenantRole,
    ),
    ("GET /api/v1/workspaces/{id}/subscriptions", Tenant),
    ("POST /oauth/token", Gateway),
];

/// A well-formed body per operation, so that a refusal is about who asks, not about the
/// body (a malformed body would answer 400 before the resource is looked up).
fn body_for(op: &str, plan: &str) -> Option<Value> {
    let (method, path) = op.split_once(' ').unwrap();
    if method == "GET" || method == "DELETE" {
        return None;
    }
    let b = match path {
        p if p.ends_with("/alert-thresholds/{metric}") => json!({"limit": "100"}),
        p if p.ends_with("/credentials") => json!({"environment": "sandbox", "name": "sweep"}),
        p if p.ends_with("/rotate") => json!({}),
        p if p.ends_with("/projects/{id}/subscriptions") => json!({"plan_id": plan}),
        p if p.ends_with("/projects/{id}/webhook-endpoints") => {
            json!({"url": "http://127.0.0.1:9/sweep", "events": []})
        }
        p if p.ends_with("/webhook-endpoints/{id}") => json!({"events": []}),
        p if p.ends_with("/payments") => {
            json!({"amount": "10.00", "currency": "EUR", "reference": "sweep"})
        }
        p if p.ends_with("/request-changes") => json!({"notes": "sweep"}),
        p if p.ends_with("/invitations") => {
            json!({"email": "x@sweep.example", "roles": ["developer"]})
        }
        p if p.ends_with("/members/{account_id}/roles") => json!({"roles": ["developer"]}),
        p if p.ends_with("/responsibles/{responsibility}") => json!({"account_id": null}),
        p if p.ends_with("/workspaces/{id}/projects") => {
            json!({"name": "Sweep", "purpose": "Sweep", "endpoints": ["GET /accounts"]})
        }
        p if p.ends_with("/join-requests") => json!({}),
        "/api/v1/products" => json!({"name": "Sweep", "description": "Sweep"}),
        "/api/v1/staff" => {
            json!({"email": "s@sweep.example", "name": "S", "role": "reviewer", "password": "correct horse battery"})
        }
        p if p.ends_with("/plans") || p == "/api/v1/plans/{id}" => json!({
            "name": "Sweep", "sandbox_access": "open", "endpoints": ["GET /accounts"],
            "events": [], "pricing": {"kind": "free"}, "gates": ["declared_use_case"]
        }),
        _ => json!({}),
    };
    Some(b)
}

// ------------------------------------------------------------------ harness

#[derive(Clone)]
struct User {
    http: Client,
    base: String,
}

struct Resp {
    status: StatusCode,
    body: Value,
}

impl User {
    fn new(base: &str) -> Self {
        Self {
            http: Client::builder().cookie_store(true).build().unwrap(),
            base: base.to_owned(),
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp { status, body }
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    /// A call that must succeed; answers the body.
    async fn ok(&self, method: Method, path: &str, body: Value) -> Value {
        let r = self.send(method.clone(), path, Some(body)).await;
        assert!(
            r.status.is_success(),
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        r.body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.ok(Method::POST, path, body).await
    }
}

async fn database_url(dir: &std::path::Path) -> String {
    match std::env::var("PORTAL_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            use sea_orm::ConnectionTrait;
            let name = format!(
                "portal_sweep_{}",
                ulid::Ulid::generate().to_string().to_lowercase()
            );
            let db = sea_orm::Database::connect(&admin_url)
                .await
                .expect("PORTAL_TEST_DATABASE_URL is set but the server is unreachable");
            db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("CREATE DATABASE");
            let (head, rest) = admin_url.split_once("://").expect("a postgres:// URL");
            let host_end = rest.find('/').unwrap_or(rest.len());
            format!("{head}://{}/{name}", &rest[..host_end])
        }
        _ => format!("sqlite://{}?mode=rwc", dir.join("portal.db").display()),
    }
}

async fn spawn() -> (RunningServer, User) {
    portal_server::install_crypto_provider();
    let dir = std::env::temp_dir().join(format!("portal-sweep-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = database_url(&dir).await;
    let config = Config {
        data_dir: dir,
        database_url: Some(Secret::new(url)),
        gateway_token: Some(Secret::new(GATEWAY_TOKEN)),
        clock: Some(Arc::new(ManualClock::new(Utc::now()))),
        webhook_allowed_cidrs: vec!["127.0.0.1/32".into()],
        ..Config::default()
    };
    let server = portal_server::spawn(config).await.expect("server starts");
    let (email, password) = server.admin.clone().expect("a first admin");
    let admin = User::new(&server.base_url);
    admin
        .post(
            "/api/v1/staff/sign-in",
            json!({"email": email, "password": password}),
        )
        .await;
    (server, admin)
}

async fn account(base: &str, email: &str) -> User {
    let u = User::new(base);
    let creds = json!({"email": email, "name": "Sweep", "password": "correct horse battery"});
    u.post("/api/v1/auth/sign-up", creds.clone()).await;
    u.post("/api/v1/auth/sign-in", creds).await;
    u
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// One workspace with every kind of resource, and the ids that fill a path.
struct Tenant {
    owner: User,
    /// A member with the `developer` role only.
    developer: User,
    ids: BTreeMap<&'static str, String>,
}

async fn tenant(server: &RunningServer, name: &str, plan: &str) -> Tenant {
    let base = server.base_url.as_str();
    let owner = account(base, &format!("owner@{name}.example")).await;
    let ws = id(&owner
        .post("/api/v1/workspaces", json!({"name": name}))
        .await);
    let me = owner.get("/api/v1/me").await.body["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    owner
        .ok(
            Method::PUT,
            &format!("/api/v1/workspaces/{ws}/members/{me}/roles"),
            json!({"roles": ["owner", "technical_lead", "billing", "security_owner"]}),
        )
        .await;
    let project = id(&owner
        .post(
            &format!("/api/v1/workspaces/{ws}/projects"),
            json!({"name": "Ledger sync", "purpose": "Nightly balance sync", "endpoints": ["GET /accounts"]}),
        )
        .await);
    let sub = id(&owner
        .post(
            &format!("/api/v1/projects/{project}/subscriptions"),
            json!({"plan_id": plan}),
        )
        .await);
    let cred = owner
        .post(
            &format!("/api/v1/subscriptions/{sub}/credentials"),
            json!({"environment": "sandbox", "name": "CI"}),
        )
        .await;
    let cred = cred["credential"]["id"].as_str().unwrap().to_owned();
    let endpoint = owner
        .post(
            &format!("/api/v1/projects/{project}/webhook-endpoints"),
            json!({"url": "http://127.0.0.1:9/hook", "events": []}),
        )
        .await;
    let endpoint = endpoint["endpoint"]["id"].as_str().unwrap().to_owned();
    // Registering queues a verification challenge; one worker pass makes it a delivery.
    server.run_webhooks_once().await.expect("webhook pass");
    let deliveries = owner
        .get(&format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"))
        .await
        .body;
    let delivery = id(&deliveries["items"][0]);
    let invitation = id(&owner
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            json!({"email": format!("invitee@{name}.example"), "roles": ["developer"]}),
        )
        .await);
    let joiner = account(base, &format!("joiner@{name}.example")).await;
    let join_request = id(&joiner
        .post(&format!("/api/v1/workspaces/{ws}/join-requests"), json!({}))
        .await);
    // The plain developer: a second join request, approved with `developer` only.
    let developer = account(base, &format!("dev@{name}.example")).await;
    let jr = id(&developer
        .post(&format!("/api/v1/workspaces/{ws}/join-requests"), json!({}))
        .await);
    owner
        .post(
            &format!("/api/v1/join-requests/{jr}/approve"),
            json!({"roles": ["developer"]}),
        )
        .await;
    // A threshold, so that `DELETE .../alert-thresholds/{metric}` has one to refuse to touch.
    owner
        .ok(
            Method::PUT,
            &format!("/api/v1/projects/{project}/alert-thresholds/requests_per_day"),
            json!({"limit": "5000"}),
        )
        .await;
    let period = Utc::now().format("%Y-%m").to_string();
    let export = owner
        .get(&format!(
            "/api/v1/projects/{project}/exports/usage?period={period}"
        ))
        .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    let reports = owner
        .get(&format!("/api/v1/projects/{project}/reports"))
        .await
        .body;
    assert_eq!(reports.as_array().map(Vec::len), Some(1), "{reports}");
    let ids = BTreeMap::from([
        ("workspaces", ws),
        ("projects", project),
        ("subscriptions", sub),
        ("credentials", cred),
        ("webhook-endpoints", endpoint),
        ("webhook-deliveries", delivery),
        ("invitations", invitation),
        ("join-requests", join_request),
        ("account_id", me),
        ("period", period),
    ]);
    Tenant {
        owner,
        developer,
        ids,
    }
}

/// The path with the tenant's ids (the collection before `{id}` names the resource).
fn fill(path: &str, t: &Tenant, plan: &str, product: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        let v = match *s {
            "{id}" => match segments[i - 1] {
                "plans" => plan.to_owned(),
                "products" => product.to_owned(),
                collection => t.ids[collection].clone(),
            },
            "{metric}" => "requests_per_day".into(),
            "{gate}" => "declared_use_case".into(),
            "{responsibility}" => "billing_owner".into(),
            "{account_id}" | "{period}" => t.ids[s.trim_matches(|c| c == '{' || c == '}')].clone(),
            other => {
                assert!(!other.starts_with('{'), "no value for {other} in {path}");
                other.to_owned()
            }
        };
        out.push(v);
    }
    let mut p = out.join("/");
    if path.contains("/exports/") {
        p.push_str(&format!("?period={}", t.ids["period"]));
    }
    p
}

/// The same path with the resource's own id replaced by a well-formed id of the same kind
/// that exists nowhere.
fn with_missing_id(path: &str, filled: &str) -> String {
    let template: Vec<&str> = path.split('/').collect();
    let mut out: Vec<String> = filled.split('/').map(str::to_owned).collect();
    let at = template
        .iter()
        .position(|s| *s == "{id}")
        .expect("a tenant path has an {id}");
    let (kind, _) = out[at]
        .split_once('_')
        .unwrap_or_else(|| panic!("`{}` has no kind prefix", out[at]));
    out[at] = format!("{kind}_{}", ulid::Ulid::generate());
    out.join("/")
}

/// A problem body without what differs between any two answers (request ids, instance).
fn comparable(body: &Value) -> Value {
    let mut b = body.clone();
    if let Some(o) = b.as_object_mut() {
        o.remove("instance");
        o.remove("request_id");
    }
    b
}

#[tokio::test]
async fn every_operation_is_classified_isolated_and_authorized() {
    let (server, admin) = spawn().await;
    let product = id(&admin
        .post(
            "/api/v1/products",
            json!({"name": "Account Data API", "description": "Balances"}),
        )
        .await);
    let plan = id(&admin
        .post(
            &format!("/api/v1/products/{product}/plans"),
            json!({
                "name": "Business", "sandbox_access": "open",
                "endpoints": ["GET /accounts"], "events": [],
                "pricing": {"kind": "free"}, "gates": ["declared_use_case"]
            }),
        )
        .await);
    let a = tenant(&server, "alpha", &plan).await;
    let b = tenant(&server, "beta", &plan).await;

    // The document and the table agree, operation for operation.
    let doc = admin.get("/openapi.json").await.body;
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().unwrap().keys() {
            documented.insert(format!("{} {path}", method.to_ascii_uppercase()));
        }
    }
    let table: BTreeMap<&str, Class> = TABLE.iter().copied().collect();
    let unclassified: Vec<_> = documented
        .iter()
        .filter(|op| !table.contains_key(op.as_str()))
        .collect();
    assert!(
        unclassified.is_empty(),
        "operations in /openapi.json missing from the authz table: {unclassified:?}"
    );
    let stale: Vec<_> = table
        .keys()
        .filter(|op| !documented.contains(**op))
        .collect();
    assert!(
        stale.is_empty(),
        "table names unknown operations: {stale:?}"
    );

    let mut failures = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    // B's owner on A's ids: 404, whatever the operation.
    for (op, class) in TABLE {
        if !matches!(class, Tenant | TenantRole) {
            continue;
        }
        let (method, path) = op.split_once(' ').unwrap();
        let url = fill(path, &a, &plan, &product);
        let r = b
            .owner
            .send(method.parse().unwrap(), &url, body_for(op, &plan))
            .await;
        *counts.entry("cross-tenant → 404").or_default() += 1;
        if r.status != StatusCode::NOT_FOUND {
            failures.push(format!("B on A: {method} {url} → {} {}", r.status, r.body));
        }
        // And B learns nothing from it: a foreign id answers exactly what a missing one does.
        let missing = with_missing_id(path, &url);
        let m = b
            .owner
            .send(method.parse().unwrap(), &missing, body_for(op, &plan))
            .await;
        *counts.entry("foreign = missing").or_default() += 1;
        if (m.status, comparable(&m.body)) != (r.status, comparable(&r.body)) {
            failures.push(format!(
                "B on A told apart: {method} {url} → {} {}; missing {missing} → {} {}",
                r.status, r.body, m.status, m.body
            ));
        }
    }
    // A's plain developer on role-gated operations: 403.
    for (op, class) in TABLE {
        if !matches!(class, TenantRole | StaffOnly) {
            continue;
        }
        let (method, path) = op.split_once(' ').unwrap();
        let url = fill(path, &a, &plan, &product);
        let r = a
            .developer
            .send(method.parse().unwrap(), &url, body_for(op, &plan))
            .await;
        *counts.entry("developer → 403").or_default() += 1;
        if r.status != StatusCode::FORBIDDEN {
            failures.push(format!(
                "developer: {method} {url} → {} {}",
                r.status, r.body
            ));
        }
    }
    // The sweep changed nothing of A's: its resources are where they were.
    for (collection, id) in &a.ids {
        if matches!(
            *collection,
            "projects" | "subscriptions" | "credentials" | "webhook-endpoints"
        ) {
            let r = a.owner.get(&format!("/api/v1/{collection}/{id}")).await;
            assert_eq!(r.status, StatusCode::OK, "{collection}/{id}: {}", r.body);
        }
    }
    drop(b);
    println!(
        "authz sweep: {} documented operations; {counts:?}",
        documented.len()
    );
    assert!(
        failures.is_empty(),
        "{} authorization failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    server.stop().await.unwrap();
}
