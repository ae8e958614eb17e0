//! Issue 6 end to end: the verification cache and its invalidation across replicas, usage
//! counting, ingestion and flushing, alerts, invoices, exports and the report history.

use std::time::{Duration, Instant};

use super::*;

/// The project and credential a secret opens (from a verification answer).
async fn ids_of(app: &TestApp, secret: &str) -> (String, String) {
    let v = verify(app, secret, "verify").await;
    assert_eq!(v["valid"], true, "{v}");
    (
        v["project_id"].as_str().unwrap().to_owned(),
        v["credential_id"].as_str().unwrap().to_owned(),
    )
}

/// A verification against any server.
async fn verify_at(base: &str, secret: &str) -> Value {
    let gw = User::new(base);
    let r = gw
        .send(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"secret": secret, "endpoint": "GET /accounts"})),
            &[("Authorization", &format!("Bearer {GATEWAY_TOKEN}"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

fn period_of(app: &TestApp) -> String {
    use onboarding_core::ports::Clock;
    app.clock.now().format("%Y-%m").to_string()
}

/// A second server on the same database (and data directory) as `app`.
async fn replica(app: &TestApp, url: &str) -> RunningServer {
    let config = Config {
        data_dir: app.dir.clone(),
        database_url: Some(Secret::new(url.to_owned())),
        gateway_token: Some(Secret::new(GATEWAY_TOKEN)),
        clock: Some(app.clock.clone()),
        ..Config::default()
    };
    portal_server::spawn(config).await.expect("replica starts")
}

async fn get_text(user: &User, path: &str) -> (StatusCode, String, String) {
    let r = user
        .http
        .get(format!("{}{path}", user.base))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

#[tokio::test]
async fn a_revoked_secret_is_refused_at_once_by_the_same_replica() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, secret) = onboard(&app, "cache@acme.example", &plan).await;
    let (_, cred) = ids_of(&app, &secret).await;
    // The lean verify route answers like the documented operation: problems for a missing
    // gateway token and for bad JSON, a reason code for the other environment's secret.
    let gw = User::new(&app.base);
    let anon = gw
        .post("/api/v1/verify", json!({"secret": secret.clone()}))
        .await;
    problem(&anon, "unauthenticated", 401);
    problem(&gw.get("/api/v1/verify").await, "method-not-allowed", 405);
    let auth = format!("Bearer {GATEWAY_TOKEN}");
    // A body sent as it is (not re-encoded as JSON), with the gateway token.
    let raw_verify = |body: String| {
        gw.http
            .post(format!("{}/api/v1/verify", app.base))
            .header("Authorization", &auth)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let bad = raw_verify("{\"secret\": ".into()).await.unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.headers()["content-type"], "application/problem+json");
    // Its own body bound (16 KiB), whether the length is declared or the body is streamed;
    // a body just under it is read (and answered on its merits).
    let padded = |n: usize| {
        format!(
            "{{\"secret\": \"{secret}\", \"pad\": \"{}\"}}",
            "x".repeat(n)
        )
    };
    let declared = raw_verify(padded(17 * 1024)).await.unwrap();
    assert_eq!(declared.status(), 413);
    let p: serde_json::Value = declared.json().await.unwrap();
    assert!(
        p["type"].as_str().unwrap().ends_with("payload-too-large"),
        "{p}"
    );
    // Streamed in 1 KiB chunks with no length: refused once the bound is passed.
    let streamed = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = app.base.trim_start_matches("http://");
        let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
        let mut req = format!(
            "POST /api/v1/verify HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n"
        );
        for _ in 0..20 {
            req.push_str(&format!("400\r\n{}\r\n", "x".repeat(1024)));
        }
        req.push_str("0\r\n\r\n");
        // The server may answer and close before it has read everything we send.
        let _ = tcp.write_all(req.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    };
    assert!(streamed.starts_with("HTTP/1.1 413"), "{streamed}");
    assert!(streamed.contains("payload-too-large"), "{streamed}");
    let under = raw_verify(padded(15 * 1024)).await.unwrap();
    assert_eq!(under.status(), 200);
    assert_eq!(
        under.json::<serde_json::Value>().await.unwrap()["valid"],
        true
    );
    let wrong_env = gw
        .send(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"secret": secret.clone(), "environment": "production"})),
            &[("Authorization", &auth)],
        )
        .await;
    assert_eq!(
        (
            wrong_env.body["valid"].clone(),
            wrong_env.body["reason"].clone()
        ),
        (json!(false), json!("wrong_environment"))
    );
    // Cached now (a positive answer), and still answered from the cache.
    assert_eq!(verify(&app, &secret, "verify").await["valid"], true);
    assert!(!app.server.wiring.verify_cache.is_empty());
    o.dev
        .ok(&format!("/api/v1/credentials/{cred}/revoke"), json!({}))
        .await;
    let v = verify(&app, &secret, "verify").await;
    assert_eq!(
        (v["valid"].clone(), v["reason"].clone()),
        (json!(false), json!("revoked"))
    );
    // Malformed and unknown secrets are refused with their reason codes.
    assert_eq!(
        verify(&app, "sk_test_nope", "verify").await["reason"],
        "malformed"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_secret_is_refused_by_a_second_replica_within_one_second() {
    let app = spawn_app().await;
    let b = replica(&app, &app.database_url).await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, secret) = onboard(&app, "replica@acme.example", &plan).await;
    let (_, cred) = ids_of(&app, &secret).await;
    // Replica B has the secret cached as valid.
    for _ in 0..2 {
        assert_eq!(verify_at(&b.base_url, &secret).await["valid"], true);
    }
    assert!(!b.wiring.verify_cache.is_empty());

    o.dev
        .ok(&format!("/api/v1/credentials/{cred}/revoke"), json!({}))
        .await;
    let revoked_at = Instant::now();
    let deadline = revoked_at + Duration::from_secs(1);
    let answer = loop {
        let v = verify_at(&b.base_url, &secret).await;
        if v["valid"] == false || Instant::now() >= deadline {
            break v;
        }
        tokio::task::yield_now().await;
    };
    let took = revoked_at.elapsed();
    eprintln!("replica B refused the revoked secret after {took:?}");
    assert_eq!(answer["valid"], false, "still valid after {took:?}");
    assert_eq!(answer["reason"], "revoked");
    assert!(took <= Duration::from_secs(1), "took {took:?}");
    b.stop().await.unwrap();
    app.stop().await;
}

/// An access token for the OAuth client, from the client-credentials grant.
async fn access_token(base: &str, client_id: &str, secret: &str) -> String {
    let r = Client::new()
        .post(format!("{base}/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    t["access_token"].as_str().unwrap().to_owned()
}

/// Polls replica `base` until `token` is refused, for at most a second; answers how long.
async fn refused_within_a_second(base: &str, token: &str) -> Duration {
    let since = Instant::now();
    let deadline = since + Duration::from_secs(1);
    let answer = loop {
        let v = verify_at(base, token).await;
        if v["valid"] == false || Instant::now() >= deadline {
            break v;
        }
        tokio::task::yield_now().await;
    };
    let took = since.elapsed();
    assert_eq!(
        answer["valid"], false,
        "still valid after {took:?}: {answer}"
    );
    assert!(took <= Duration::from_secs(1), "took {took:?}");
    took
}

#[tokio::test]
async fn regenerate_and_revoke_end_the_oauth_access_tokens_on_every_replica() {
    let app = spawn_app().await;
    let b = replica(&app, &app.database_url).await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "tokens@acme.example", &plan).await;
    let c = o
        .dev
        .ok(
            &format!("/api/v1/subscriptions/{}/credentials", o.sub),
            json!({"environment": "sandbox", "kind": "oauth_client", "name": "svc"}),
        )
        .await;
    let cred = c["credential"]["id"].as_str().unwrap().to_owned();
    let client_id = c["credential"]["client_id"].as_str().unwrap().to_owned();
    let secret = c["secret"].as_str().unwrap().to_owned();

    // Regenerate: the token minted with the old secret ends at once here and within a
    // second on replica B, which had it cached as valid.
    let old = access_token(&app.base, &client_id, &secret).await;
    for _ in 0..2 {
        assert_eq!(verify_at(&b.base_url, &old).await["valid"], true);
    }
    let r = o
        .dev
        .ok(&format!("/api/v1/credentials/{cred}/regenerate"), json!({}))
        .await;
    let secret = r["secret"].as_str().unwrap().to_owned();
    assert_eq!(verify_at(&app.base, &old).await["valid"], false);
    let took = refused_within_a_second(&b.base_url, &old).await;
    eprintln!("replica B refused the pre-regenerate token after {took:?}");

    // The new secret mints tokens that work; revoking the client ends them the same way.
    let new = access_token(&app.base, &client_id, &secret).await;
    for _ in 0..2 {
        assert_eq!(verify_at(&b.base_url, &new).await["valid"], true);
    }
    o.dev
        .ok(&format!("/api/v1/credentials/{cred}/revoke"), json!({}))
        .await;
    assert_eq!(verify_at(&app.base, &new).await["valid"], false);
    let took = refused_within_a_second(&b.base_url, &new).await;
    eprintln!("replica B refused the revoked client's token after {took:?}");
    // The first token stays refused.
    assert_eq!(verify_at(&b.base_url, &old).await["valid"], false);
    b.stop().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn concurrent_metered_calls_and_ingested_events_are_counted_exactly() {
    const N: usize = 40;
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, secret) = onboard(&app, "meter@acme.example", &plan).await;
    let (project, cred) = ids_of(&app, &secret).await;
    app.server.flush_usage().await; // the look-up above counted one call

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..N {
        let base = app.base.clone();
        let secret = secret.clone();
        calls.spawn(async move {
            let gw = User::new(&base);
            let r = gw
                .send(
                    Method::POST,
                    "/api/v1/verify",
                    Some(json!({"secret": secret, "endpoint": "GET /accounts", "success": i % 10 != 0})),
                    &[("Authorization", &format!("Bearer {GATEWAY_TOKEN}"))],
                )
                .await;
            assert_eq!(r.body["valid"], true);
        });
    }
    while let Some(r) = calls.join_next().await {
        r.unwrap();
    }

    // Gateways report outcomes in batches: one unknown credential, one bad status.
    let gw = User::new(&app.base);
    let r = gw
        .send(
            Method::POST,
            "/api/v1/usage/events",
            Some(json!({"events": [
                {"credential_id": cred, "endpoint": "GET /accounts", "status": 200, "latency_ms": 12},
                {"credential_id": cred, "endpoint": "GET /accounts", "status": 503, "latency_ms": 40},
                {"credential_id": cred, "endpoint": "GET /balances", "status": 201},
                {"credential_id": "cred_nope", "endpoint": "GET /accounts", "status": 200},
                {"credential_id": cred, "endpoint": "GET /accounts", "status": 42},
            ]})),
            &[("Authorization", &format!("Bearer {GATEWAY_TOKEN}"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["accepted"], 3);
    assert_eq!(
        r.body["rejected"],
        json!([{"index": 3, "reason": "unknown_credential"}, {"index": 4, "reason": "invalid_status"}])
    );
    // Without the gateway token: refused.
    let anon = User::new(&app.base)
        .post("/api/v1/usage/events", json!({"events": []}))
        .await;
    problem(&anon, "unauthenticated", 401);

    app.server.flush_usage().await;
    let v = o
        .dev
        .get(&format!("/api/v1/projects/{project}/usage?granularity=day"))
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.body);
    // The earlier look-up (1) + N verifications + 3 accepted events.
    assert_eq!(v.body["requests"], (1 + N + 3) as u64, "{}", v.body);
    assert_eq!(v.body["errors"], (N / 10 + 1) as u64, "{}", v.body);
    assert_eq!(v.body["spend"], Value::Null);
    let endpoints: Vec<&str> = v.body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["endpoint"].as_str().unwrap())
        .collect();
    assert!(endpoints.contains(&"GET /balances"), "{endpoints:?}");
    app.stop().await;
}

/// A gateway that did not see the answer to a batch sends it again with the same key: the
/// batch is counted once (usage is billed), the retry gets the first answer, and the same key
/// with another batch is refused.
#[tokio::test]
async fn a_usage_batch_retried_with_its_idempotency_key_is_counted_once() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, secret) = onboard(&app, "retry@acme.example", &plan).await;
    let (project, cred) = ids_of(&app, &secret).await;
    app.server.flush_usage().await; // the look-up above counted one call

    let gw = User::new(&app.base);
    let auth = format!("Bearer {GATEWAY_TOKEN}");
    let batch = |status: u16| {
        json!({"events": [
            {"credential_id": cred, "endpoint": "GET /accounts", "status": status},
            {"credential_id": cred, "endpoint": "GET /accounts", "status": 200},
        ]})
    };
    let send = |body: Value, key: &'static str| {
        let gw = &gw;
        let auth = auth.clone();
        async move {
            gw.send(
                Method::POST,
                "/api/v1/usage/events",
                Some(body),
                &[("Authorization", &auth), ("Idempotency-Key", key)],
            )
            .await
        }
    };
    let first = send(batch(500), "batch-0001").await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    assert_eq!(first.body["accepted"], 2);
    let retry = send(batch(500), "batch-0001").await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.body);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    let other = send(batch(200), "batch-0001").await;
    problem(&other, "idempotency-key-mismatch", 422);
    // A new key is a new batch.
    let next = send(batch(200), "batch-0002").await;
    assert_eq!(next.status, StatusCode::ACCEPTED, "{}", next.body);
    assert!(next.headers.get("idempotent-replayed").is_none());

    app.server.flush_usage().await;
    let v = o
        .dev
        .get(&format!("/api/v1/projects/{project}/usage?granularity=day"))
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.body);
    // The look-up (1) + the first batch (2, one error) + the second key's batch (2).
    assert_eq!(v.body["requests"], 5, "{}", v.body);
    assert_eq!(v.body["errors"], 1, "{}", v.body);
    app.stop().await;
}

#[tokio::test]
async fn usage_survives_a_graceful_shutdown() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (_, secret) = onboard(&app, "stop@acme.example", &plan).await;
    let (project, _) = ids_of(&app, &secret).await;
    for _ in 0..6 {
        assert_eq!(verify(&app, &secret, "GET /accounts").await["valid"], true);
    }
    // No flush: stopping drains and flushes.
    let (dir, url, clock) = (app.dir.clone(), app.database_url.clone(), app.clock.clone());
    app.stop().await;

    let config = Config {
        data_dir: dir,
        database_url: Some(Secret::new(url)),
        gateway_token: Some(Secret::new(GATEWAY_TOKEN)),
        clock: Some(clock),
        ..Config::default()
    };
    let again = portal_server::spawn(config).await.expect("restarts");
    let dev = User::new(&again.base_url);
    dev.ok(
        "/api/v1/auth/sign-in",
        json!({"email": "stop@acme.example", "password": "correct horse battery"}),
    )
    .await;
    let v = dev
        .get(&format!(
            "/api/v1/projects/{project}/usage?granularity=hour"
        ))
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.body);
    assert_eq!(v.body["requests"], 7, "{}", v.body);
    again.stop().await.unwrap();
}

#[tokio::test]
async fn an_invoice_matches_the_hand_computed_figure_to_the_cent() {
    let app = spawn_app().await;
    // 49.90 a month, 10 requests included, 0.0125 per request above.
    let product = app
        .admin
        .ok(
            "/api/v1/products",
            json!({"name": "Payments API", "description": "Payments"}),
        )
        .await;
    let plan = app
        .admin
        .ok(
            &format!("/api/v1/products/{}/plans", product["id"].as_str().unwrap()),
            json!({
                "name": "Metered", "sandbox_access": "open",
                "endpoints": ["GET /accounts"], "events": [], "test_data": [],
                "pricing": {"kind": "paid", "currency": "EUR", "monthly_fee": "49.90",
                            "included_requests": 10, "price_per_request": "0.0125"},
                "gates": ["declared_use_case"], "integration_min_calls": 0
            }),
        )
        .await;
    let plan = plan["id"].as_str().unwrap().to_owned();
    let (o, _) = onboard(&app, "bill@acme.example", &plan).await;
    let s = submit(&o).await;
    assert_eq!(s["phase"], "in_review", "{s}");
    let approved = app
        .admin
        .ok(
            &format!("/api/v1/subscriptions/{}/approve", o.sub),
            json!({}),
        )
        .await;
    assert_eq!(approved["phase"], "production");
    o.dev
        .ok(
            &format!("/api/v1/subscriptions/{}/clone-to-production", o.sub),
            json!({}),
        )
        .await;
    app.admin
        .ok(
            &format!("/api/v1/subscriptions/{}/payments", o.sub),
            json!({"amount": "49.90", "currency": "EUR", "reference": "INV-7"}),
        )
        .await;
    let prod = o
        .dev
        .ok(
            &format!("/api/v1/subscriptions/{}/credentials", o.sub),
            json!({"environment": "production", "name": "Live"}),
        )
        .await;
    let live = prod["secret"].as_str().unwrap().to_owned();
    // 25 production calls: 15 above the quota, 15 × 0.0125 = 0.1875 → 0.19.
    for _ in 0..25 {
        assert_eq!(verify(&app, &live, "GET /accounts").await["valid"], true);
    }
    app.server.flush_usage().await;

    let period = period_of(&app);
    let inv = o
        .dev
        .get(&format!("/api/v1/workspaces/{}/invoices/{period}", o.ws))
        .await;
    assert_eq!(inv.status, StatusCode::OK, "{}", inv.body);
    let line = &inv.body["lines"][0];
    assert_eq!(
        inv.body["lines"].as_array().unwrap().len(),
        1,
        "{}",
        inv.body
    );
    assert_eq!(line["requests"], 25);
    assert_eq!(line["billable_requests"], 15);
    assert_eq!(line["monthly_fee"], "49.90");
    assert_eq!(line["usage_amount"], "0.19");
    assert_eq!(line["amount"], "50.09");
    assert_eq!(
        inv.body["totals"],
        json!([{"currency": "EUR", "amount": "50.09"}])
    );
    // The production usage view shows the same spend.
    let prod_project = prod["credential"]["project_id"].as_str().unwrap();
    let month_start = format!("{period}-01T00:00:00Z");
    let v = o
        .dev
        .get(&format!(
            "/api/v1/projects/{prod_project}/usage?granularity=day&from={month_start}"
        ))
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.body);
    assert_eq!(
        (v.body["requests"].clone(), v.body["spend"].clone()),
        (json!(25), json!("0.19"))
    );
    // A bad period is a validation problem; another workspace's invoice is not found.
    problem(
        &o.dev
            .get(&format!("/api/v1/workspaces/{}/invoices/2026-13", o.ws))
            .await,
        "validation",
        422,
    );
    let other = app.developer("mallory@other.example").await;
    problem(
        &other
            .get(&format!("/api/v1/workspaces/{}/invoices/{period}", o.ws))
            .await,
        "not-found",
        404,
    );
    app.stop().await;
}

#[tokio::test]
async fn a_threshold_crossing_alerts_once_per_window() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, secret) = onboard(&app, "alert@acme.example", &plan).await;
    let (project, _) = ids_of(&app, &secret).await;
    let r = o
        .dev
        .put(
            &format!("/api/v1/projects/{project}/alert-thresholds/requests_per_day"),
            json!({"limit": "5"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let alerts = |n: usize| {
        let dev = o.dev.clone();
        let project = project.clone();
        async move {
            let r = dev.get(&format!("/api/v1/projects/{project}/alerts")).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            assert_eq!(r.body.as_array().unwrap().len(), n, "{}", r.body);
            r.body
        }
    };
    for _ in 0..3 {
        verify(&app, &secret, "GET /accounts").await;
    }
    app.server.flush_usage().await;
    alerts(0).await; // 4 of 5
    for _ in 0..3 {
        verify(&app, &secret, "GET /accounts").await;
    }
    app.server.flush_usage().await;
    let first = alerts(1).await;
    assert_eq!(first[0]["metric"], "requests_per_day");
    assert_eq!(first[0]["limit"], "5");
    // The server's own periodic flusher may evaluate between the calls above, so the
    // crossing is seen at 5, 6 or 7 requests; what matters is that it fired once, at or over 5.
    let observed: u32 = first[0]["observed"].as_str().unwrap().parse().unwrap();
    assert!((5..=7).contains(&observed), "{}", first[0]);
    for _ in 0..4 {
        verify(&app, &secret, "GET /accounts").await;
    }
    app.server.flush_usage().await;
    alerts(1).await; // same day: once
    // The next day is a new window.
    app.clock.advance(TimeDelta::days(1));
    o.dev
        .ok(
            "/api/v1/auth/sign-in",
            json!({"email": "alert@acme.example", "password": "correct horse battery"}),
        )
        .await; // the session expired overnight
    for _ in 0..6 {
        verify(&app, &secret, "GET /accounts").await;
    }
    app.server.flush_usage().await;
    alerts(2).await;
    app.stop().await;
}

#[tokio::test]
async fn exports_download_as_csv_and_json_lines_and_are_listed_in_the_report_history() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, secret) = onboard(&app, "export@acme.example", &plan).await;
    let (project, _) = ids_of(&app, &secret).await;
    for ep in [
        "GET /accounts",
        "GET /accounts",
        "GET /balances, with \"quotes\"",
    ] {
        verify(&app, &secret, ep).await;
    }
    app.server.flush_usage().await;
    let period = period_of(&app);

    let (status, ct, csv) = get_text(
        &o.dev,
        &format!("/api/v1/projects/{project}/exports/usage?period={period}&format=csv"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(ct.starts_with("text/csv"), "{ct}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "bucket_start,credential_id,environment,endpoint,requests,errors"
    );
    assert_eq!(lines.len(), 4, "{csv}"); // verify, GET /accounts, GET /balances...
    assert!(csv.contains(",GET /accounts,2,0"), "{csv}");
    assert!(
        csv.contains("\"GET /balances, with \"\"quotes\"\"\""),
        "{csv}"
    );

    let (status, ct, jsonl) = get_text(
        &o.dev,
        &format!("/api/v1/projects/{project}/exports/usage?period={period}&format=jsonl"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/x-ndjson");
    let rows: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter()
            .map(|r| r["requests"].as_u64().unwrap())
            .sum::<u64>(),
        4
    );

    let (status, _, audit) = get_text(
        &o.dev,
        &format!(
            "/api/v1/workspaces/{}/exports/audit?period={period}&format=jsonl",
            o.ws
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let events: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events.iter().any(|e| e["action"] == "credential.created"),
        "{audit}"
    );
    let (status, _, audit_csv) = get_text(
        &o.dev,
        &format!("/api/v1/workspaces/{}/exports/audit?period={period}", o.ws),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(audit_csv.starts_with("seq,id,at,actor_kind,actor_id,project_id,action,"));

    // The report history: newest first, who, what, format, period, rows.
    let h = o
        .dev
        .get(&format!("/api/v1/projects/{project}/reports"))
        .await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.body);
    let h = h.body.as_array().unwrap().clone();
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(
        (
            h[0]["format"].clone(),
            h[0]["rows"].clone(),
            h[0]["kind"].clone()
        ),
        (json!("jsonl"), json!(3), json!("usage"))
    );
    assert_eq!(h[1]["format"], "csv");
    assert_eq!(h[0]["period"], period.as_str());
    assert_eq!(h[0]["actor"]["kind"], "account");
    let all = o
        .dev
        .get(&format!("/api/v1/workspaces/{}/reports", o.ws))
        .await
        .body;
    assert_eq!(all.as_array().unwrap().len(), 4, "{all}");

    // Bad input and missing roles.
    problem(
        &o.dev
            .get(&format!(
                "/api/v1/projects/{project}/exports/usage?period=2026-1"
            ))
            .await,
        "validation",
        422,
    );
    let colleague = app.developer("dev2@acme.example").await;
    let inv = o
        .dev
        .ok(
            &format!("/api/v1/workspaces/{}/invitations", o.ws),
            json!({"email": "dev2@acme.example", "roles": ["developer"]}),
        )
        .await;
    colleague
        .ok(
            &format!("/api/v1/invitations/{}/accept", inv["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    problem(
        &colleague
            .get(&format!(
                "/api/v1/projects/{project}/exports/usage?period={period}"
            ))
            .await,
        "forbidden",
        403,
    );
    app.stop().await;
}

#[tokio::test]
async fn the_cli_exports_usage_to_a_file_and_records_it() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, secret) = onboard(&app, "cli@acme.example", &plan).await;
    let (project, _) = ids_of(&app, &secret).await;
    app.server.flush_usage().await;
    let period = period_of(&app);
    let out = app.dir.join("usage.csv");
    let s = portal_server::export::export_to_file(
        &app.server.wiring.portal,
        onboarding_core::services::ExportScope::ProjectUsage(project.parse().unwrap()),
        &period,
        onboarding_core::services::ExportFormat::Csv,
        &out,
    )
    .await
    .unwrap();
    assert_eq!(s.rows, 1);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    let h = o
        .dev
        .get(&format!("/api/v1/projects/{project}/reports"))
        .await
        .body;
    assert_eq!(h[0]["actor"]["kind"], "staff", "{h}");
    app.stop().await;
}

#[tokio::test]
async fn two_replicas_evaluating_at_once_raise_an_alert_once_per_window() {
    let app = spawn_app().await;
    let b = replica(&app, &app.database_url).await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, secret) = onboard(&app, "twice@acme.example", &plan).await;
    let (project, _) = ids_of(&app, &secret).await;
    for _ in 0..6 {
        verify(&app, &secret, "GET /accounts").await;
    }
    app.server.flush_usage().await;
    // The threshold comes after the flush: no counter moves again, so no background
    // evaluation runs, only the ones below, all at once on both replicas.
    let r = o
        .dev
        .put(
            &format!("/api/v1/projects/{project}/alert-thresholds/requests_per_day"),
            json!({"limit": "5"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id: onboarding_core::ids::ProjectId = project.parse().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let portal = if i % 2 == 0 {
            app.server.wiring.portal.clone()
        } else {
            b.wiring.portal.clone()
        };
        tasks.spawn(async move { portal.metering().evaluate_alerts(id).await });
    }
    let mut raised = 0;
    while let Some(r) = tasks.join_next().await {
        raised += r
            .unwrap()
            .expect("an evaluation never fails on a lost race")
            .len();
    }
    assert_eq!(
        raised, 1,
        "one alert in the window, whichever replica raised it"
    );
    let alerts = o
        .dev
        .get(&format!("/api/v1/projects/{project}/alerts"))
        .await;
    assert_eq!(alerts.body.as_array().unwrap().len(), 1, "{}", alerts.body);
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let n = sea_orm::ConnectionTrait::query_one_raw(
        &db,
        sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(COUNT(*) AS TEXT) FROM outbox_message WHERE event_type = 'alert.triggered'",
        ),
    )
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index::<String>(0)
    .unwrap();
    assert_eq!(n, "1", "one alert.triggered webhook event");
    b.stop().await.unwrap();
    app.stop().await;
}
