//! Races against the real `portal-server` binary (SQLite, or a fresh PostgreSQL database when
//! `PORTAL_TEST_DATABASE_URL` is set):
//! - 20 concurrent decisions (approve, reject, request changes; with and without `If-Match`)
//!   on one submission: exactly one succeeds, every other is 409 or 412, one decision event;
//! - 50 concurrent POSTs with one `Idempotency-Key`: exactly one resource, and every success
//!   names it;
//! - every "at most one" rule (one account per e-mail, one live subscription per project and
//!   plan, one production project per subscription, one pending invitation per address, one
//!   membership per account and workspace, one pending join request) hit by 20 identical
//!   concurrent requests: exactly one success, and the 19 others answer the very 409 a later
//!   request gets; the database holds one row.

mod common;

use std::collections::BTreeMap;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn developer(base: &str, email: &str) -> Api {
    let dev = Api::new(base);
    dev.ok(
        "/api/v1/auth/sign-up",
        json!({"email": email, "name": "Dev", "password": PASSWORD}),
    )
    .await;
    dev.ok(
        "/api/v1/auth/sign-in",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    dev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_decisions_exactly_one_wins() {
    let dir = temp_dir("races");
    let url = fresh_database(&dir).await;
    let spec = ServerSpec::new(&url, &dir);
    let server = spec.start(0).await;
    let admin = staff(&server.base, &server.admin_password()).await;
    let plan = simple_plan(&admin).await;
    let dev = developer(&server.base, "race@acme.example").await;
    let ws = dev.ok("/api/v1/workspaces", json!({"name": "Race"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = dev.get("/api/v1/me").await.body["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    dev.put_ok(
        &format!("/api/v1/workspaces/{ws}/members/{me}/roles"),
        json!({"roles": ["owner", "technical_lead"]}),
    )
    .await;
    let p = dev
        .ok(
            &format!("/api/v1/workspaces/{ws}/projects"),
            json!({"name": "Race", "purpose": "Races", "endpoints": ["GET /accounts"]}),
        )
        .await;
    let sub = dev
        .ok(
            &format!(
                "/api/v1/projects/{}/subscriptions",
                p["id"].as_str().unwrap()
            ),
            json!({"plan_id": plan}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    dev.ok(
        &format!("/api/v1/subscriptions/{sub}/credentials"),
        json!({"environment": "sandbox", "name": "CI"}),
    )
    .await;
    let view = dev.get(&format!("/api/v1/subscriptions/{sub}")).await.body;
    let submitted = dev
        .ok(
            &format!("/api/v1/subscriptions/{sub}/submit"),
            json!({"answers": answers_for(&view)}),
        )
        .await;
    let etag = format!("\"{}\"", submitted["version"].as_i64().unwrap());

    // Each racer is its own staff session (its own connection), so the requests really
    // overlap at the server.
    let password = server.admin_password();
    let mut racers = Vec::new();
    for i in 0..20 {
        racers.push(staff(&server.base, &password).await);
        let _ = i;
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = racers
        .into_iter()
        .enumerate()
        .map(|(i, api)| {
            let (sub, etag, barrier) = (sub.clone(), etag.clone(), barrier.clone());
            tokio::spawn(async move {
                let (action, body) = match i % 3 {
                    0 => ("approve", json!({})),
                    1 => ("reject", json!({"notes": "Out of scope"})),
                    _ => ("request-changes", json!({"notes": "Describe retention"})),
                };
                let headers: Vec<(&str, &str)> = if i % 2 == 0 {
                    vec![("If-Match", etag.as_str())]
                } else {
                    vec![]
                };
                barrier.wait().await;
                let r = api
                    .send(
                        Method::POST,
                        &format!("/api/v1/subscriptions/{sub}/{action}"),
                        Some(body),
                        &headers,
                    )
                    .await;
                (action, r.status.as_u16(), r.body)
            })
        })
        .collect();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let mut winner = None;
    for t in tasks {
        let (action, status, body) = t.await.unwrap();
        *by_status.entry(status).or_default() += 1;
        match status {
            200 => winner = Some((action, body)),
            409 | 412 => {}
            other => panic!("{action}: unexpected {other} {body}"),
        }
    }
    eprintln!("20 concurrent decisions: {by_status:?}");
    assert_eq!(by_status.get(&200), Some(&1), "{by_status:?}");
    let (action, body) = winner.unwrap();
    // One decision event in the workspace's audit log, matching the winner.
    let events = dev
        .get(&format!("/api/v1/workspaces/{ws}/audit-events?limit=500"))
        .await
        .body;
    let decisions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == sub.as_str())
        .filter_map(|e| e["action"].as_str())
        .filter(|a| {
            matches!(
                *a,
                "subscription.approved"
                    | "subscription.rejected"
                    | "subscription.changes_requested"
            )
        })
        .collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    let expected = match action {
        "approve" => ("subscription.approved", "production"),
        "reject" => ("subscription.rejected", "rejected"),
        _ => ("subscription.changes_requested", "sandbox"),
    };
    assert_eq!(decisions[0], expected.0);
    assert!(body.is_object(), "{body}");
    let now = dev.get(&format!("/api/v1/subscriptions/{sub}")).await.body;
    assert_eq!(now["subscription"]["phase"], expected.1, "{now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_posts_with_one_idempotency_key_make_one_resource() {
    let dir = temp_dir("idem");
    let url = fresh_database(&dir).await;
    let spec = ServerSpec::new(&url, &dir);
    let server = spec.start(0).await;
    let dev = developer(&server.base, "idem@acme.example").await;
    // One session cookie, fifty connections: clones of one client share its pool, so build
    // separate clients carrying the same cookie.
    let cookie = {
        let r = dev
            .http
            .post(format!("{}/api/v1/auth/sign-in", server.base))
            .json(&json!({"email": "idem@acme.example", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        r.headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find(|c| c.starts_with("portal_session="))
            .expect("a session cookie")
    };
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (base, cookie, barrier) = (server.base.clone(), cookie.clone(), barrier.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                barrier.wait().await;
                let r = http
                    .post(format!("{base}/api/v1/workspaces"))
                    .header("cookie", cookie)
                    .header("Idempotency-Key", "one-key-fifty-posts")
                    .json(&json!({"name": "Once"}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or_default();
                (status, body)
            })
        })
        .collect();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        *by_status.entry(status).or_default() += 1;
        match status {
            201 => {
                ids.insert(body["id"].as_str().unwrap().to_owned());
            }
            // Another request with the key is still in progress: retry later.
            409 => assert_eq!(
                body["type"], "https://onboarding-portal.dev/problems/idempotency-key-in-use",
                "{body}"
            ),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    eprintln!("50 concurrent POSTs with one Idempotency-Key: {by_status:?}, ids {ids:?}");
    assert_eq!(ids.len(), 1, "{ids:?}");
    let list = dev.get("/api/v1/workspaces").await.body;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(
        items[0]["id"].as_str(),
        ids.iter().next().map(String::as_str)
    );
    // The database agrees: one workspace, one creation event.
    let db = connect(&url).await;
    assert_eq!(rows(&db, "SELECT id FROM workspace", 1).await.len(), 1);
    assert_eq!(
        rows(
            &db,
            "SELECT id FROM audit_event WHERE action = 'workspace.created'",
            1
        )
        .await
        .len(),
        1
    );
    // A retry after the race replays the same resource.
    let again = dev
        .send(
            Method::POST,
            "/api/v1/workspaces",
            Some(json!({"name": "Once"})),
            &[("Idempotency-Key", "one-key-fifty-posts")],
        )
        .await;
    assert_eq!(again.status.as_u16(), 201);
    assert_eq!(
        again.body["id"].as_str(),
        ids.iter().next().map(String::as_str)
    );
}

/// The session cookie of `email` (signed in afresh): separate clients carrying it are separate
/// connections, so concurrent requests really overlap at the server.
async fn session_cookie(base: &str, email: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/sign-in"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "sign-in of {email}");
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("portal_session="))
        .expect("a session cookie")
}

/// 20 identical POSTs at once (each its own connection; `cookie` signs them in, when given),
/// then a 21st after them: exactly one 2xx, and the 19 refusals are byte for byte the 21st's
/// 409. Answers the winner's body.
async fn twenty_at_once(base: &str, cookie: Option<&str>, path: &str, body: Value) -> Value {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let send = |barrier: Option<std::sync::Arc<tokio::sync::Barrier>>| {
        let (url, cookie, body) = (
            format!("{base}{path}"),
            cookie.map(str::to_owned),
            body.clone(),
        );
        async move {
            let mut req = reqwest::Client::new().post(url).json(&body);
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            if let Some(b) = barrier {
                b.wait().await;
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    let tasks: Vec<_> = (0..20)
        .map(|_| tokio::spawn(send(Some(barrier.clone()))))
        .collect();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let mut winner = None;
    let mut refusals = Vec::new();
    for t in tasks {
        let (status, text) = t.await.unwrap();
        *by_status.entry(status).or_default() += 1;
        if (200..300).contains(&status) {
            winner = Some(text);
        } else {
            refusals.push((status, text));
        }
    }
    let (later_status, later) = send(None).await;
    eprintln!("20 concurrent POST {path}: {by_status:?}; then {later_status} {later}");
    assert_eq!(later_status, 409, "a later twin: {later}");
    assert_eq!(
        by_status.values().sum::<usize>() - refusals.len(),
        1,
        "{path}: {by_status:?}"
    );
    for (status, text) in &refusals {
        assert_eq!((*status, text.as_str()), (409, later.as_str()), "{path}");
    }
    serde_json::from_str(&winner.unwrap()).unwrap()
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> usize {
    rows(db, sql, 1).await.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_at_most_one_rule_holds_under_twenty_identical_requests() {
    let dir = temp_dir("at-most-one");
    let url = fresh_database(&dir).await;
    let spec = ServerSpec::new(&url, &dir);
    let server = spec.start(0).await;
    let base = server.base.clone();
    let admin = staff(&base, &server.admin_password()).await;
    let plan = simple_plan(&admin).await;
    let db = connect(&url).await;

    // One account per e-mail.
    let signed_up = twenty_at_once(
        &base,
        None,
        "/api/v1/auth/sign-up",
        json!({"email": "owner@twins.example", "name": "Owner", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        count(
            &db,
            "SELECT id FROM account WHERE email = 'owner@twins.example'"
        )
        .await,
        1
    );
    let me = signed_up["id"].as_str().unwrap().to_owned();
    let owner = Api::new(&base);
    owner
        .ok(
            "/api/v1/auth/sign-in",
            json!({"email": "owner@twins.example", "password": PASSWORD}),
        )
        .await;
    let cookie = session_cookie(&base, "owner@twins.example").await;
    let ws = owner
        .ok("/api/v1/workspaces", json!({"name": "Twins"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    owner
        .put_ok(
            &format!("/api/v1/workspaces/{ws}/members/{me}/roles"),
            json!({"roles": ["owner", "technical_lead"]}),
        )
        .await;
    let project = owner
        .ok(
            &format!("/api/v1/workspaces/{ws}/projects"),
            json!({"name": "Twins", "purpose": "Races", "endpoints": ["GET /accounts"]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // One live subscription per project and plan.
    let sub = twenty_at_once(
        &base,
        Some(&cookie),
        &format!("/api/v1/projects/{project}/subscriptions"),
        json!({"plan_id": plan}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        count(
            &db,
            &format!("SELECT id FROM subscription WHERE project_id = '{project}'")
        )
        .await,
        1
    );

    // One production project per subscription.
    owner
        .ok(
            &format!("/api/v1/subscriptions/{sub}/credentials"),
            json!({"environment": "sandbox", "name": "CI"}),
        )
        .await;
    let view = owner
        .get(&format!("/api/v1/subscriptions/{sub}"))
        .await
        .body;
    owner
        .ok(
            &format!("/api/v1/subscriptions/{sub}/submit"),
            json!({"answers": answers_for(&view)}),
        )
        .await;
    admin
        .ok(&format!("/api/v1/subscriptions/{sub}/approve"), json!({}))
        .await;
    twenty_at_once(
        &base,
        Some(&cookie),
        &format!("/api/v1/subscriptions/{sub}/clone-to-production"),
        json!({}),
    )
    .await;
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT id FROM project WHERE environment = 'production' AND subscription_id = '{sub}'"
            )
        )
        .await,
        1
    );

    // One pending invitation per address and workspace.
    let invitation = twenty_at_once(
        &base,
        Some(&cookie),
        &format!("/api/v1/workspaces/{ws}/invitations"),
        json!({"email": "invitee@twins.example", "roles": ["developer"]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        count(
            &db,
            "SELECT id FROM invitation WHERE email = 'invitee@twins.example'"
        )
        .await,
        1
    );

    // One membership per account and workspace: the invitee accepts 20 times at once.
    developer(&base, "invitee@twins.example").await;
    let invitee = session_cookie(&base, "invitee@twins.example").await;
    twenty_at_once(
        &base,
        Some(&invitee),
        &format!("/api/v1/invitations/{invitation}/accept"),
        json!({}),
    )
    .await;
    assert_eq!(
        count(
            &db,
            &format!("SELECT account_id FROM membership WHERE workspace_id = '{ws}'")
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &db,
            &format!("SELECT id FROM audit_event WHERE action = 'invitation.accepted' AND target = '{invitation}'")
        )
        .await,
        1
    );

    // One pending join request per account and workspace.
    developer(&base, "joiner@twins.example").await;
    let joiner = session_cookie(&base, "joiner@twins.example").await;
    twenty_at_once(
        &base,
        Some(&joiner),
        &format!("/api/v1/workspaces/{ws}/join-requests"),
        json!({"message": "Let me in"}),
    )
    .await;
    assert_eq!(
        count(
            &db,
            &format!("SELECT id FROM join_request WHERE workspace_id = '{ws}'")
        )
        .await,
        1
    );
}
