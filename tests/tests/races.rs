//! Races against the real `portal-server` binary (SQLite, or a fresh PostgreSQL database when
//! `PORTAL_TEST_DATABASE_URL` is set):
//! - 20 concurrent decisions (approve, reject, request changes; with and without `If-Match`)
//!   on one submission: exactly one succeeds, every other is 409 or 412, one decision event;
//! - 50 concurrent POSTs with one `Idempotency-Key`: exactly one resource, and every success
//!   names it.

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
