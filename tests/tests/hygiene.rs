//! Secrets hygiene and sessions, against the real `portal-server` binary with JSON debug logs
//! captured (SQLite, or a fresh PostgreSQL database when `PORTAL_TEST_DATABASE_URL` is set):
//! - a full path (sign-up, workspace, project, subscription, sandbox key, OAuth client and
//!   token, rotation, PAT, webhook secret, staff sign-in) leaves not one plaintext secret in
//!   the logs or anywhere in the database; a one-character change to a key is refused as
//!   `bad_checksum`;
//! - sessions over HTTP: the 101st failed sign-in from one address in an hour is 429, every
//!   sign-in issues a new session id (a planted one is never adopted) with `HttpOnly`,
//!   `SameSite=Lax`, `Path=/`, and a page form POSTed without its CSRF token is 403.

mod common;

use common::*;
use onboarding_core::credential::SecretHash;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Signs in through the API; answers the client (its cookie store holds the session) and the
/// raw `Set-Cookie` of the session.
async fn sign_in(base: &str, path: &str, email: &str, password: &str) -> (Api, String) {
    let api = Api::new(base);
    let set = sign_in_with(&api, path, email, password, None).await;
    (api, set)
}

async fn sign_in_with(
    api: &Api,
    path: &str,
    email: &str,
    password: &str,
    planted: Option<&str>,
) -> String {
    let mut req = api
        .http
        .post(format!("{}{path}", api.base))
        .json(&json!({"email": email, "password": password}));
    if let Some(p) = planted {
        req = req.header("cookie", format!("portal_session={p}"));
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    session_set_cookie(r.headers())
}

fn session_set_cookie(h: &reqwest::header::HeaderMap) -> String {
    h.get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("portal_session="))
        .expect("a session cookie")
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap()["portal_session=".len()..].to_owned()
}

/// Every string in a JSON value that starts with `prefix`.
fn strings_with(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.starts_with(prefix) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings_with(x, prefix, out)),
        Value::Object(o) => o.values().for_each(|x| strings_with(x, prefix, out)),
        _ => {}
    }
}

async fn verify(base: &str, secret: &str) -> Value {
    let gw = Api::new(base);
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

/// The same secret with one character of its body changed (length and alphabet kept).
fn one_char_changed(secret: &str) -> String {
    let mut b = secret.as_bytes().to_vec();
    let i = b.len() - 12;
    b[i] = if b[i] == b'a' { b'b' } else { b'a' };
    String::from_utf8(b).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_secret_reaches_the_logs_or_the_database() {
    let dir = temp_dir("hygiene");
    let url = fresh_database(&dir).await;
    let mut spec = ServerSpec::new(&url, &dir);
    spec.env = vec![
        ("PORTAL_LOG_FORMAT".into(), "json".into()),
        ("RUST_LOG".into(), "debug".into()),
    ];
    let mut server = spec.start(0).await;
    let base = server.base.clone();
    let admin_password = server.admin_password();
    let mut secrets: Vec<(&str, String)> = vec![
        ("developer password", PASSWORD.to_owned()),
        ("admin password", admin_password.clone()),
        ("gateway token", GATEWAY_TOKEN.to_owned()),
    ];

    let (admin, admin_cookie) = sign_in(
        &base,
        "/api/v1/staff/sign-in",
        portal_server::FIRST_ADMIN_EMAIL,
        &admin_password,
    )
    .await;
    secrets.push(("staff session", cookie_value(&admin_cookie)));
    let plan = simple_plan(&admin).await;

    let email = "hygiene@acme.example";
    Api::new(&base)
        .ok(
            "/api/v1/auth/sign-up",
            json!({"email": email, "name": "Hy", "password": PASSWORD}),
        )
        .await;
    let (dev, dev_cookie) = sign_in(&base, "/api/v1/auth/sign-in", email, PASSWORD).await;
    secrets.push(("developer session", cookie_value(&dev_cookie)));
    let ws = dev
        .ok("/api/v1/workspaces", json!({"name": "Hygiene"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = dev.get("/api/v1/me").await.body["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    dev.put_ok(
        &format!("/api/v1/workspaces/{ws}/members/{me}/roles"),
        json!({"roles": ["owner", "technical_lead", "security_owner"]}),
    )
    .await;
    let project = dev
        .ok(
            &format!("/api/v1/workspaces/{ws}/projects"),
            json!({"name": "Ledger", "purpose": "Sync", "endpoints": ["GET /accounts"]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sub = dev
        .ok(
            &format!("/api/v1/projects/{project}/subscriptions"),
            json!({"plan_id": plan}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let creds = format!("/api/v1/subscriptions/{sub}/credentials");
    let key = dev
        .ok(&creds, json!({"environment": "sandbox", "name": "CI"}))
        .await;
    let key_id = key["credential"]["id"].as_str().unwrap().to_owned();
    secrets.push(("API key", key["secret"].as_str().unwrap().to_owned()));
    // Created with an Idempotency-Key: the stored replay must not hold the secret either.
    let idem = dev
        .send(
            Method::POST,
            &creds,
            Some(json!({"environment": "sandbox", "name": "Idem"})),
            &[("Idempotency-Key", "hygiene-key-1")],
        )
        .await;
    assert_eq!(idem.status, StatusCode::CREATED, "{}", idem.body);
    secrets.push((
        "API key (idempotent create)",
        idem.body["secret"].as_str().unwrap().to_owned(),
    ));
    let oauth = dev
        .ok(
            &creds,
            json!({"environment": "sandbox", "kind": "oauth_client", "name": "svc"}),
        )
        .await;
    let client_id = oauth["credential"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let client_secret = oauth["secret"].as_str().unwrap().to_owned();
    secrets.push(("client secret", client_secret.clone()));
    let token: Value = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = token["access_token"].as_str().unwrap().to_owned();
    secrets.push(("access token", access_token.clone()));
    assert_eq!(verify(&base, &access_token).await["valid"], true);
    let rotated = dev
        .ok(
            &format!("/api/v1/credentials/{key_id}/rotate"),
            json!({"grace_period_seconds": 3600}),
        )
        .await;
    let new_key = rotated["secret"].as_str().unwrap().to_owned();
    secrets.push(("rotated API key", new_key.clone()));
    let regenerated = dev
        .ok(
            &format!("/api/v1/credentials/{key_id}/regenerate"),
            json!({}),
        )
        .await;
    let newest = regenerated["secret"].as_str().unwrap().to_owned();
    secrets.push(("regenerated API key", newest.clone()));
    let pat = dev
        .ok(
            "/api/v1/tokens",
            json!({"name": "ci", "expires_in_days": 30}),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    secrets.push(("personal access token", pat.clone()));
    let with_pat = Api::new(&base);
    let r = with_pat
        .send(
            Method::GET,
            "/api/v1/me",
            None,
            &[("Authorization", &format!("Bearer {pat}"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "the PAT authenticates");
    let hook = dev
        .ok(
            &format!("/api/v1/projects/{project}/webhook-endpoints"),
            json!({"url": "https://hooks.example.com/portal"}),
        )
        .await;
    let mut whsec = vec![];
    strings_with(&hook, "whsec_", &mut whsec);
    let hook_id = hook["endpoint"]["id"]
        .as_str()
        .or(hook["id"].as_str())
        .unwrap()
        .to_owned();
    let rotated_hook = dev
        .ok(
            &format!("/api/v1/webhook-endpoints/{hook_id}/rotate-secret"),
            json!({}),
        )
        .await;
    strings_with(&rotated_hook, "whsec_", &mut whsec);
    assert!(!whsec.is_empty(), "a webhook secret is shown once: {hook}");
    for s in whsec {
        secrets.push(("webhook signing secret", s));
    }
    // A page sign-in too (its own session cookie).
    let page = Api::no_redirects(&base);
    let html = page.get("/sign-in").await.body;
    let html = html.as_str().unwrap();
    let i = html.find("name=\"_csrf\" value=\"").unwrap() + 20;
    let csrf = &html[i..i + html[i..].find('"').unwrap()];
    let r = page
        .http
        .post(format!("{base}/sign-in"))
        .form(&[("_csrf", csrf), ("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let page_session = cookie_value(&session_set_cookie(r.headers()));
    secrets.push(("page session", page_session));

    // The verify answers: the current key is valid, a one-character change is refused on
    // its checksum (the core refuses it before any look-up; see its unit test).
    assert_eq!(verify(&base, &newest).await["valid"], true);
    let typo = verify(&base, &one_char_changed(&newest)).await;
    assert_eq!(
        (typo["valid"].clone(), typo["reason"].clone()),
        (json!(false), json!("bad_checksum")),
        "{typo}"
    );
    assert_eq!(
        verify(&base, &one_char_changed(&client_secret)).await["reason"],
        "bad_checksum"
    );
    server.terminate();

    // Where secrets could end up: the logs, stdout beyond the one banner line that shows
    // the first admin's password by design, every text of every row, the raw database files.
    let logs = server.stderr_text();
    let stdout: String = server
        .stdout_text()
        .lines()
        .filter(|l| l.trim() != format!("password: {admin_password}"))
        .collect::<Vec<_>>()
        .join("\n");
    let db = connect(&url).await;
    let dump = dump_as_text(&db).await;
    let mut raw = String::new();
    if is_postgres(&url) {
        // pg_dump as well, when the client tools are installed and match the server.
        if let Ok(out) = std::process::Command::new("pg_dump")
            .args(["--data-only", &url])
            .output()
            && out.status.success()
        {
            raw.push_str(&String::from_utf8_lossy(&out.stdout));
        }
    } else {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("portal.db") {
                raw.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
            }
        }
    }
    // The scan sees what it should: debug logs, the credential's hash, the workspace.
    assert!(logs.contains("\"level\":\"DEBUG\""), "debug logs captured");
    assert!(dump.contains(SecretHash::of(&newest).as_str()));
    assert!(dump.contains(&ws));
    let mut leaks = vec![];
    for (what, secret) in &secrets {
        assert!(secret.len() >= 16, "{what} is too short to scan for");
        for (place, text) in [
            ("logs", &logs),
            ("stdout", &stdout),
            ("database rows", &dump),
            ("database files", &raw),
        ] {
            let n = text.matches(secret.as_str()).count();
            if n > 0 {
                leaks.push(format!("{what} found {n}x in the {place}"));
            }
        }
    }
    eprintln!(
        "hygiene: {} secrets scanned in {} bytes of logs, {} bytes of rows, {} bytes of raw \
         database: {} leaks",
        secrets.len(),
        logs.len() + stdout.len(),
        dump.len(),
        raw.len(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "{leaks:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_101st_failed_sign_in_from_one_address_is_throttled() {
    let dir = temp_dir("throttle");
    let url = fresh_database(&dir).await;
    let server = ServerSpec::new(&url, &dir).start(0).await;
    let u = Api::new(&server.base);
    // Different e-mails, so the per-account window (10 in 15 minutes) never fills first.
    for i in 0..100 {
        let r = u
            .post(
                "/api/v1/auth/sign-in",
                json!({"email": format!("spray{i}@acme.example"), "password": "wrong password!"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {}", i + 1);
    }
    let r = u
        .post(
            "/api/v1/auth/sign-in",
            json!({"email": "spray100@acme.example", "password": "wrong password!"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    let wait: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sign_in_issues_a_new_session_with_the_cookie_flags() {
    let dir = temp_dir("sessions");
    let url = fresh_database(&dir).await;
    let server = ServerSpec::new(&url, &dir).start(0).await;
    let base = server.base.clone();
    let email = "sess@acme.example";
    Api::new(&base)
        .ok(
            "/api/v1/auth/sign-up",
            json!({"email": email, "name": "S", "password": PASSWORD}),
        )
        .await;
    let flags = |c: &str| {
        assert!(c.contains("; HttpOnly"), "{c}");
        assert!(c.contains("; SameSite=Lax"), "{c}");
        assert!(c.contains("; Path=/"), "{c}");
        assert!(!c.contains("; Secure"), "plain http: {c}");
    };
    let mut seen = std::collections::HashSet::new();
    let (api, first) = sign_in(&base, "/api/v1/auth/sign-in", email, PASSWORD).await;
    flags(&first);
    seen.insert(cookie_value(&first));
    // Signing in again (same client, still signed in) rotates the id.
    let again = sign_in_with(&api, "/api/v1/auth/sign-in", email, PASSWORD, None).await;
    flags(&again);
    assert!(seen.insert(cookie_value(&again)), "a new session id");
    // A session id planted by an attacker is never adopted.
    let planted = "attacker-chosen-session-id-0123456789abcdefgh";
    let fresh = Api::new(&base);
    let set = sign_in_with(
        &fresh,
        "/api/v1/auth/sign-in",
        email,
        PASSWORD,
        Some(planted),
    )
    .await;
    assert_ne!(cookie_value(&set), planted);
    assert!(seen.insert(cookie_value(&set)));
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/me"))
        .header("cookie", format!("portal_session={planted}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Staff sign-in: the same contract.
    let staff_set = sign_in_with(
        &Api::new(&base),
        "/api/v1/staff/sign-in",
        portal_server::FIRST_ADMIN_EMAIL,
        &server.admin_password(),
        None,
    )
    .await;
    flags(&staff_set);
    assert!(seen.insert(cookie_value(&staff_set)));
    // The page sign-in twice: two new ids, same flags.
    for _ in 0..2 {
        let page = Api::no_redirects(&base);
        let html = page.get("/sign-in").await.body;
        let html = html.as_str().unwrap().to_owned();
        let i = html.find("name=\"_csrf\" value=\"").unwrap() + 20;
        let csrf = &html[i..i + html[i..].find('"').unwrap()];
        let r = page
            .http
            .post(format!("{base}/sign-in"))
            .form(&[("_csrf", csrf), ("email", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        let set = session_set_cookie(r.headers());
        flags(&set);
        assert!(seen.insert(cookie_value(&set)), "a new page session id");
    }
    assert_eq!(seen.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_forms_without_their_csrf_token_are_refused_over_http() {
    let dir = temp_dir("csrf");
    let url = fresh_database(&dir).await;
    let server = ServerSpec::new(&url, &dir).start(0).await;
    let base = server.base.clone();
    let email = "csrf@acme.example";
    Api::new(&base)
        .ok(
            "/api/v1/auth/sign-up",
            json!({"email": email, "name": "C", "password": PASSWORD}),
        )
        .await;
    let page = Api::no_redirects(&base);
    // Login CSRF: the sign-in form itself needs the pre-session token.
    page.get("/sign-in").await;
    let r = page
        .http
        .post(format!("{base}/sign-in"))
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "sign-in without _csrf");
    let html = page.get("/sign-in").await.body;
    let html = html.as_str().unwrap().to_owned();
    let i = html.find("name=\"_csrf\" value=\"").unwrap() + 20;
    let csrf = html[i..i + html[i..].find('"').unwrap()].to_owned();
    let r = page
        .http
        .post(format!("{base}/sign-in"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    // Signed in: every state-changing form needs the session's token.
    for (path, form) in [
        ("/workspaces", vec![("name", "Northwind")]),
        ("/sign-out", vec![]),
        ("/join-requests", vec![("workspace", "ws_x")]),
    ] {
        for token in [None, Some("forged")] {
            let mut f = form.clone();
            if let Some(t) = token {
                f.push(("_csrf", t));
            }
            let r = page
                .http
                .post(format!("{base}{path}"))
                .form(&f)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} with {token:?}");
        }
    }
    // Still signed in: the refused sign-out did nothing.
    let me = page.send(Method::GET, "/api/v1/me", None, &[]).await;
    assert_eq!(me.status, StatusCode::OK);
}

/// Each argon2id hash takes a 19 MiB block. Freed, those blocks must go back to the system:
/// with glibc's default (a moving mmap threshold) every blocking-pool thread kept one in its
/// heap arena, and 30 sign-ups left the server at about 500 MB.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashing_gives_its_memory_back() {
    let dir = temp_dir("argon-memory");
    let url = fresh_database(&dir).await;
    let server = ServerSpec::new(&url, &dir).start(0).await;
    let mut sign_ups = tokio::task::JoinSet::new();
    for i in 0..30 {
        let api = Api::new(&server.base);
        sign_ups.spawn(async move {
            api.ok(
                "/api/v1/auth/sign-up",
                json!({"email": format!("mem{i}@acme.example"), "name": "M", "password": PASSWORD}),
            )
            .await;
        });
    }
    while let Some(done) = sign_ups.join_next().await {
        done.unwrap();
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    // A debug build idles near 50 MB; 30 retained blocks would be 570 MiB more.
    assert!(
        rss_kib < 200 * 1024,
        "{} MiB resident after 30 sign-ups",
        rss_kib / 1024
    );
}
