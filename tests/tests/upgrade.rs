//! Schema changes and upgrades, against the real `portal-server` binary:
//! - only `serve` and `migrate` change the schema: `audit verify`, `export`, `demo` and
//!   `create-admin` refuse a database that needs migration (a new one, or one at an older
//!   release's schema) with "run `portal-server migrate`", and change nothing;
//! - a database migrated by a newer release (a migration this binary does not know) is refused
//!   by every command, `serve` and `migrate` included, with words that say so;
//! - an upgrade: the data the previous release (commit 8f2de5a) wrote, frozen in
//!   `tests/fixtures/upgrade-8f2de5a/` (see its README), opened by this binary: nothing lost,
//!   the webhook signing secret still opens and its deliveries verify, the audit chains verify.
//!
//! The first two run on SQLite, or on a fresh PostgreSQL database when
//! `PORTAL_TEST_DATABASE_URL` is set (an unreachable server fails them; they never skip); the
//! fixture is a SQLite file.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use poem::http::HeaderMap;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, Response, Route, Server, handler, post};
use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::json;

const FUTURE: &str = "m20991231_000001_from_a_newer_release";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/upgrade-8f2de5a")
}

/// Every read-only operator command, with arguments that would work on a current database.
fn read_only_commands(out: &Path) -> Vec<Vec<String>> {
    let out = out.display().to_string();
    [
        vec!["audit", "verify"],
        vec!["demo"],
        vec![
            "create-admin",
            "--email",
            "ops@provider.example",
            "--name",
            "Ops",
        ],
        vec![
            "export",
            "audit",
            "--workspace",
            "ws_01JDQ000000000000000000000",
            "--period",
            "2026-11",
            "--out",
            &out,
        ],
    ]
    .into_iter()
    .map(|c| c.into_iter().map(str::to_owned).collect())
    .collect()
}

fn assert_refused_for_migration(spec: &ServerSpec, dir: &Path) {
    for cmd in read_only_commands(&dir.join("export.csv")) {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let (code, out, err) = spec.run(&args);
        assert_ne!(code, 0, "{cmd:?} refuses: {out}{err}");
        assert!(
            err.contains("the database needs migration")
                && err.contains("run `portal-server migrate`"),
            "{cmd:?} says what to do: {err}"
        );
    }
    assert!(!dir.join("export.csv").exists(), "no export was written");
}

async fn exec(db: &sea_orm::DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn table_names(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1",
    };
    rows(db, sql, 1)
        .await
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

#[tokio::test]
async fn read_only_commands_refuse_a_database_that_needs_migration_and_change_nothing() {
    let dir = temp_dir("schema-old");
    let url = fresh_database(&dir).await;
    let spec = ServerSpec::new(&url, &dir);

    // A database nothing was applied to: refused, and nothing is created in it.
    assert_refused_for_migration(&spec, &dir);
    if is_postgres(&url) {
        let db = connect(&url).await;
        assert!(table_names(&db).await.is_empty(), "no table was created");
    } else {
        assert!(
            !dir.join("portal.db").exists(),
            "no SQLite file was created"
        );
    }
    assert!(
        !dir.join("vault.key").exists(),
        "no vault key was generated"
    );

    // At the previous release's schema: its last migration undone.
    let (code, out, err) = spec.run(&["migrate"]);
    assert_eq!(code, 0, "{out}{err}");
    let db = connect(&url).await;
    exec(&db, "DROP TABLE vault_check").await;
    exec(
        &db,
        "DELETE FROM seaql_migrations WHERE version = 'm20261203_000001_vault_check'",
    )
    .await;
    let before = (table_names(&db).await, dump_as_text(&db).await);
    assert_refused_for_migration(&spec, &dir);
    assert_eq!(
        (table_names(&db).await, dump_as_text(&db).await),
        before,
        "the refused commands changed nothing"
    );

    // `migrate` brings it up to date; then the same commands work.
    let (code, out, err) = spec.run(&["migrate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("database is up to date"), "{out}");
    assert!(table_names(&db).await.contains(&"vault_check".to_owned()));
    let (code, out, err) = spec.audit_verify();
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = spec.run(&["demo"]);
    assert_eq!(code, 0, "{out}{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_database_from_a_newer_release_is_refused_by_every_command() {
    let dir = temp_dir("schema-new");
    let url = fresh_database(&dir).await;
    let spec = ServerSpec::new(&url, &dir);
    let (code, out, err) = spec.run(&["migrate"]);
    assert_eq!(code, 0, "{out}{err}");
    let db = connect(&url).await;
    exec(
        &db,
        &format!("INSERT INTO seaql_migrations (version, applied_at) VALUES ('{FUTURE}', 0)"),
    )
    .await;
    let before = dump_as_text(&db).await;
    let says_so = |err: &str| {
        assert!(
            err.contains("newer release") && err.contains(FUTURE),
            "the refusal says the database is newer: {err}"
        );
    };
    let (code, err) = spec.start_refused().await;
    assert_ne!(code, 0, "serve refuses: {err}");
    says_so(&err);
    let mut commands = read_only_commands(&dir.join("export.csv"));
    commands.push(vec!["migrate".into()]);
    for cmd in commands {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let (code, out, err) = spec.run(&args);
        assert_ne!(code, 0, "{cmd:?} refuses: {out}{err}");
        says_so(&err);
    }
    assert_eq!(dump_as_text(&db).await, before, "nothing was changed");
    std::fs::remove_dir_all(&dir).ok();
}

// ------------------------------------------------------------------------------------------
// The upgrade from the previous release.

#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<Vec<(HeaderMap, String)>>>);

#[handler]
async fn hook(req: &poem::Request, body: String, Data(inbox): Data<&Inbox>) -> Response {
    inbox.0.lock().unwrap().push((req.headers().clone(), body));
    Response::builder().body("ok")
}

async fn receiver() -> (Inbox, String) {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
    let inbox = Inbox::default();
    let app = Route::new().at("/hook", post(hook)).data(inbox.clone());
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    (inbox, format!("http://127.0.0.1:{port}/hook"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn upgrade_spec(dir: &Path) -> ServerSpec {
    let mut spec = ServerSpec::new(
        &format!("sqlite://{}?mode=rwc", dir.join("portal.db").display()),
        dir,
    );
    spec.env
        .push(("PORTAL_WEBHOOK_ALLOWED_CIDRS".into(), "127.0.0.1/32".into()));
    spec
}

#[tokio::test]
async fn the_previous_release_s_data_opens_whole_in_this_one() {
    let facts: HashMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(fixture_dir().join("facts.json")).expect("the fixture's facts"),
    )
    .unwrap();
    let dir = temp_dir("upgrade");
    copy_dir(&fixture_dir(), &dir);
    let spec = upgrade_spec(&dir);
    let db_file = dir.join("portal.db");
    let pristine = std::fs::read(&db_file).unwrap();

    // Checking before upgrading is harmless: refused, and the file is byte for byte the same.
    assert_refused_for_migration(&spec, &dir);
    assert_eq!(
        std::fs::read(&db_file).unwrap(),
        pristine,
        "audit verify changed nothing"
    );

    // The upgrade keeps every value the old release stored.
    let old_dump = {
        let db = connect(&spec.database_url).await;
        let d = dump_as_text(&db).await;
        db.close().await.unwrap();
        d
    };
    let (code, out, err) = spec.run(&["migrate"]);
    assert_eq!(code, 0, "{out}{err}");
    let db = connect(&spec.database_url).await;
    let new_dump = dump_as_text(&db).await;
    let mut have: HashMap<&str, usize> = HashMap::new();
    for l in new_dump.lines() {
        *have.entry(l).or_default() += 1;
    }
    for l in old_dump.lines() {
        let n = have
            .get_mut(l)
            .unwrap_or_else(|| panic!("lost in the upgrade: {l}"));
        assert!(*n > 0, "lost in the upgrade: {l}");
        *n -= 1;
    }
    let (code, out, err) = spec.audit_verify();
    assert_eq!(code, 0, "the chains verify after the upgrade: {out}{err}");

    // Served by this release with the old data directory's vault key.
    let server = spec.start(0).await;
    let dev = Api::new(&server.base);
    dev.ok(
        "/api/v1/auth/sign-in",
        json!({"email": facts["developer_email"], "password": PASSWORD}),
    )
    .await;
    // The first admin's password from the old release's banner still signs in.
    staff(&server.base, &facts["admin_password"]).await;
    let gw = Api::new(&server.base);
    let v = gw
        .send(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"secret": facts["api_key"], "endpoint": "GET /accounts"})),
            &[("Authorization", &format!("Bearer {GATEWAY_TOKEN}"))],
        )
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.body);
    assert_eq!(
        v.body["valid"], true,
        "the old API key still verifies: {}",
        v.body
    );

    // The signing secret sealed by the old release still signs, verifiably.
    let (inbox, url) = receiver().await;
    let ep = &facts["endpoint_id"];
    let r = dev
        .send(
            Method::PATCH,
            &format!("/api/v1/webhook-endpoints/{ep}"),
            Some(json!({"url": url})),
            &[],
        )
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    let t = dev
        .post(&format!("/api/v1/webhook-endpoints/{ep}/test"), json!({}))
        .await;
    assert_eq!(t.status, StatusCode::ACCEPTED, "{}", t.body);
    let id = t.body["message_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (headers, body) = loop {
        let got = inbox
            .0
            .lock()
            .unwrap()
            .iter()
            .find(|(h, _)| h.get("webhook-id").and_then(|v| v.to_str().ok()) == Some(id.as_str()))
            .cloned();
        if let Some(g) = got {
            break g;
        }
        assert!(Instant::now() < deadline, "the test delivery never arrived");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    standardwebhooks::Webhook::new(&facts["webhook_secret"])
        .unwrap()
        .verify(body.as_bytes(), &headers)
        .expect("the old release's signing secret verifies the new release's delivery");
    drop(server);
    let (code, out, err) = spec.audit_verify();
    assert_eq!(code, 0, "{out}{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Writes the fixture with the previous release's binary (`PORTAL_UPGRADE_FROM`, built from
/// commit 8f2de5a): `cargo test -p portal-tests --test upgrade -- --ignored make_fixture`.
#[tokio::test]
#[ignore = "regenerates tests/fixtures/upgrade-8f2de5a with the previous release's binary"]
async fn make_fixture() {
    let old = PathBuf::from(
        std::env::var("PORTAL_UPGRADE_FROM").expect("PORTAL_UPGRADE_FROM names the old binary"),
    );
    let dir = temp_dir("fixture");
    let mut spec = upgrade_spec(&dir);
    spec.binary = Some(old);
    let mut server = spec.start(0).await;
    let admin_password = server.admin_password();
    let admin = staff(&server.base, &admin_password).await;
    let plan = simple_plan(&admin).await;
    let email = "upgrade@acme.example";
    let dev = Api::new(&server.base);
    dev.ok(
        "/api/v1/auth/sign-up",
        json!({"email": email, "name": "Up", "password": PASSWORD}),
    )
    .await;
    dev.ok(
        "/api/v1/auth/sign-in",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    let ws = dev
        .ok("/api/v1/workspaces", json!({"name": "Upgrade"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
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
    let key = dev
        .ok(
            &format!("/api/v1/subscriptions/{sub}/credentials"),
            json!({"environment": "sandbox", "name": "CI"}),
        )
        .await;
    let endpoint = dev
        .ok(
            &format!("/api/v1/projects/{project}/webhook-endpoints"),
            // Nothing listens there: the verification fails, which the old release records.
            json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    server.terminate();
    // One file: the WAL checkpointed into it (the file stays in WAL mode, as served).
    let db = connect(&spec.database_url).await;
    exec(&db, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    db.close().await.unwrap();
    let facts = json!({
        "developer_email": email,
        "admin_password": admin_password,
        "api_key": key["secret"],
        "endpoint_id": endpoint["endpoint"]["id"],
        "webhook_secret": endpoint["secret"],
        "workspace_id": ws,
        "project_id": project,
    });
    let out = fixture_dir();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::copy(dir.join("portal.db"), out.join("portal.db")).unwrap();
    std::fs::copy(dir.join("vault.key"), out.join("vault.key")).unwrap();
    std::fs::write(
        out.join("facts.json"),
        serde_json::to_string_pretty(&facts).unwrap() + "\n",
    )
    .unwrap();
}
