//! Shared by the adversarial suites (`crash`, `races`, `hygiene`): the real `portal-server`
//! binary as a child process on a free port over a fresh database, a small HTTP client, and
//! raw SQL reads of what the server stored.
//!
//! The binary is built (or found up to date) once per test process with the `cargo` that runs
//! the tests (`$CARGO build -p portal-server --bin portal-server`), so a test never runs a stale
//! binary. Readiness is bounded polling of `/readyz`; nothing waits for time to pass.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

pub const GATEWAY_TOKEN: &str = "gw_adversarial_gateway_token_0123456789";
pub const PASSWORD: &str = "correct horse battery";

/// Where `portal-server` is, built for the profile of this test executable.
pub fn server_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/<test>-<hash>: the profile directory is two levels up.
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>")
            .to_path_buf();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        if let Ok(cargo) = std::env::var("CARGO") {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("workspace root");
            let mut cmd = Command::new(cargo);
            // The variables cargo sets for this test (`CARGO_PKG_*`, `CARGO_MANIFEST_DIR`, ...)
            // would make the nested build's fingerprints differ and rebuild dependencies.
            for (k, _) in std::env::vars_os() {
                let k = k.to_string_lossy();
                if (k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR")
                    || k.starts_with("RUSTC")
                    || k == "OUT_DIR"
                {
                    cmd.env_remove(k.as_ref());
                }
            }
            cmd.current_dir(workspace)
                .args([
                    "build",
                    "-p",
                    "portal-server",
                    "--bin",
                    "portal-server",
                    "--message-format=json-render-diagnostics",
                ])
                .stderr(Stdio::inherit());
            if release {
                cmd.arg("--release");
            }
            // The same target directory as this test's (it may be the default one).
            if std::env::var_os("CARGO_TARGET_DIR").is_none()
                && let Some(target) = profile_dir.parent()
            {
                cmd.env("CARGO_TARGET_DIR", target);
            }
            let out = cmd.output().expect("run cargo build for portal-server");
            assert!(out.status.success(), "cargo build -p portal-server failed");
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let Ok(msg) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                if msg["reason"] == "compiler-artifact"
                    && msg["target"]["name"] == "portal-server"
                    && let Some(exe) = msg["executable"].as_str()
                {
                    return PathBuf::from(exe);
                }
            }
            panic!("cargo build did not name the portal-server executable");
        }
        let bin = profile_dir.join("portal-server");
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build -p portal-server` first",
            bin.display()
        );
        bin
    })
}

/// A fresh database: a SQLite file in `dir`, or a new PostgreSQL database when
/// `PORTAL_TEST_DATABASE_URL` is set (an unreachable server fails the test; it never skips).
pub async fn fresh_database(dir: &Path) -> String {
    match std::env::var("PORTAL_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!(
                "portal_adv_{}",
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

pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres")
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portal-{tag}-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One run of the server binary; its stdout and stderr go to files in the data directory
/// (they survive a `kill -9`).
pub struct ServerProcess {
    pub child: Child,
    pub base: String,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

pub struct ServerSpec {
    pub database_url: String,
    pub data_dir: PathBuf,
    /// Extra environment (`PORTAL_LOG_FORMAT`, `RUST_LOG`, ...).
    pub env: Vec<(String, String)>,
    /// Another `portal-server` binary (a previous release's) instead of this tree's.
    pub binary: Option<PathBuf>,
}

impl ServerSpec {
    pub fn new(database_url: &str, data_dir: &Path) -> Self {
        Self {
            database_url: database_url.to_owned(),
            data_dir: data_dir.to_owned(),
            env: vec![],
            binary: None,
        }
    }

    fn command(&self) -> Command {
        let mut cmd = match &self.binary {
            Some(b) => Command::new(b),
            None => Command::new(server_binary()),
        };
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORTAL_DATABASE_URL", &self.database_url)
            .env("PORTAL_DATA_DIR", &self.data_dir)
            .env("PORTAL_GATEWAY_TOKEN", GATEWAY_TOKEN)
            .env("PORTAL_SHUTDOWN_GRACE_SECONDS", "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts `portal-server serve` and waits (bounded polling) until `/readyz` answers.
    pub async fn start(&self, run: usize) -> ServerProcess {
        let port = free_port();
        let stdout = self.data_dir.join(format!("stdout-{run}.log"));
        let stderr = self.data_dir.join(format!("stderr-{run}.log"));
        let child = self
            .command()
            .arg("serve")
            .env("PORTAL_BIND", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn portal-server");
        let mut p = ServerProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            stdout,
            stderr,
        };
        p.wait_ready().await;
        p
    }

    /// `portal-server audit verify` on this database: (exit code, stdout, stderr).
    pub fn audit_verify(&self) -> (i32, String, String) {
        self.run(&["audit", "verify"])
    }

    /// Any command on this database and data directory: (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self
            .command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run portal-server {args:?}: {e}"));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts `portal-server serve` expecting it to refuse: answers (exit code, stderr) once it
    /// exits; fails the test if it becomes ready instead (bounded polling of `/readyz`).
    pub async fn start_refused(&self) -> (i32, String) {
        let port = free_port();
        let out = self
            .command()
            .arg("serve")
            .env("PORTAL_BIND", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn portal-server");
        let mut child = out;
        portal_server::install_crypto_provider();
        let http = Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                return (status.code().unwrap_or(-1), err);
            }
            if let Ok(r) = http
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                && r.status().is_success()
            {
                let _ = child.kill();
                let _ = child.wait();
                panic!("portal-server started and served where it had to refuse");
            }
            assert!(
                Instant::now() < deadline,
                "portal-server neither refused nor served in 120 s"
            );
            // Bounded polling for a child process to exit or become ready (not waiting for time).
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl ServerProcess {
    async fn wait_ready(&mut self) {
        portal_server::install_crypto_provider();
        let http = Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "portal-server exited with {status} before it was ready:\n{}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "portal-server not ready within 120 s:\n{}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
            // Bounded polling for a child process to become ready (not waiting for time).
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// `kill -9`: no shutdown hook, no flush, no drain.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    /// SIGTERM, then wait for the graceful exit.
    pub fn terminate(&mut self) {
        // SAFETY-free: `kill` the command-line tool, so no libc binding is needed.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap();
    }

    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The first admin's password from the start-up banner (first run only).
    pub fn admin_password(&self) -> String {
        self.stdout_text()
            .lines()
            .find_map(|l| l.trim().strip_prefix("password: ").map(str::to_owned))
            .expect("the banner shows the first admin's password")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ------------------------------------------------------------------------------------------
// HTTP

#[derive(Clone)]
pub struct Api {
    pub http: Client,
    pub base: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Api {
    pub fn new(base: &str) -> Self {
        portal_server::install_crypto_provider();
        Self {
            http: Client::builder().cookie_store(true).build().unwrap(),
            base: base.to_owned(),
        }
    }

    /// A browser-like client that does not follow redirects (to see a page's `Set-Cookie`).
    pub fn no_redirects(base: &str) -> Self {
        portal_server::install_crypto_provider();
        Self {
            http: Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
        }
    }

    /// The same cookies against another base URL (a restarted server on a new port).
    pub fn rebase(&mut self, base: &str) {
        self.base = base.to_owned();
    }

    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Result<Resp, reqwest::Error> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.try_send(method, path, body, headers)
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    /// POST that must succeed; answers the body.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let r = self.post(path, body).await;
        assert!(
            r.status.is_success(),
            "POST {path}: {} {}",
            r.status,
            r.body
        );
        r.body
    }

    pub async fn put_ok(&self, path: &str, body: Value) -> Value {
        let r = self.send(Method::PUT, path, Some(body), &[]).await;
        assert!(r.status.is_success(), "PUT {path}: {} {}", r.status, r.body);
        r.body
    }
}

pub async fn staff(base: &str, password: &str) -> Api {
    let admin = Api::new(base);
    admin
        .ok(
            "/api/v1/staff/sign-in",
            json!({"email": portal_server::FIRST_ADMIN_EMAIL, "password": password}),
        )
        .await;
    admin
}

/// A free product and plan whose only gate is the declared use case: submit then approve.
pub async fn simple_plan(admin: &Api) -> String {
    let product = admin
        .ok(
            "/api/v1/products",
            json!({"name": "Account Data API", "description": "Balances"}),
        )
        .await;
    let plan = admin
        .ok(
            &format!("/api/v1/products/{}/plans", product["id"].as_str().unwrap()),
            json!({
                "name": "Business", "sandbox_access": "open",
                "endpoints": ["GET /accounts"], "events": [],
                "test_data": [], "pricing": {"kind": "free"},
                "gates": ["declared_use_case"], "integration_min_calls": 0
            }),
        )
        .await;
    plan["id"].as_str().unwrap().to_owned()
}

/// Answers for every field of a subscription's form ("n/a" where no better text is known).
pub fn answers_for(view: &Value) -> Value {
    let known = json!({"use_case": "Accounting sync", "data_usage": "Balances kept 30 days",
           "consent_capture": "OAuth consent screen", "consent_withdrawal": "Settings page"});
    let mut out = serde_json::Map::new();
    for step in view["form"]["steps"].as_array().into_iter().flatten() {
        for f in step["fields"].as_array().into_iter().flatten() {
            let k = f["key"].as_str().unwrap();
            out.insert(k.into(), known.get(k).cloned().unwrap_or(json!("n/a")));
        }
    }
    Value::Object(out)
}

// ------------------------------------------------------------------------------------------
// SQL reads

pub async fn connect(url: &str) -> DatabaseConnection {
    sea_orm::Database::connect(url)
        .await
        .expect("connect to the test database")
}

/// Every row of a query as strings (each column read as text, `NULL` as "").
pub async fn rows(db: &DatabaseConnection, sql: &str, columns: usize) -> Vec<Vec<String>> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| {
            (0..columns)
                .map(|i| {
                    r.try_get_by_index::<Option<String>>(i)
                        .unwrap_or_else(|e| panic!("{sql} column {i}: {e}"))
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect()
}

/// The whole database as text: every column of every row of every table.
pub async fn dump_as_text(db: &DatabaseConnection) -> String {
    let mut out = String::new();
    match db.get_database_backend() {
        DbBackend::Postgres => {
            for t in rows(
                db,
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
                1,
            )
            .await
            {
                for r in rows(db, &format!("SELECT t::text FROM \"{}\" t", t[0]), 1).await {
                    out.push_str(&r[0]);
                    out.push('\n');
                }
            }
        }
        _ => {
            for t in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'", 1).await {
                let cols = rows(
                    db,
                    &format!("SELECT name FROM pragma_table_info('{}')", t[0]),
                    1,
                )
                .await;
                for c in cols {
                    for r in rows(
                        db,
                        &format!("SELECT CAST(\"{}\" AS TEXT) FROM \"{}\"", c[0], t[0]),
                        1,
                    )
                    .await
                    {
                        out.push_str(&r[0]);
                        out.push('\n');
                    }
                }
            }
        }
    }
    out
}
