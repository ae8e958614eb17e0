//! Issue 26: staff and partner single sign-on against a real OpenID provider. `tests/oidc/provider.mjs`
//! runs node-oidc-provider (its own login pages, a test client, two users) as a child process;
//! headless Chromium (chromedriver + fantoccini) signs in through those pages.
//!
//! Runs when node, oidc-provider (`OIDC_PROVIDER_MODULES`, default the folder `.ci/run`
//! installs under ~/.cache), chromium and chromedriver are all there; with
//! `PORTAL_OIDC_TESTS=1` (CI) a missing one fails the test instead of skipping it.
//! SQLite, or PostgreSQL with `PORTAL_TEST_DATABASE_URL`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use onboarding_core::ports::Principal;
use onboarding_core::roles::StaffRole;
use onboarding_core::values::Email;
use portal_server::sso::{ProviderConfig, SsoConfig};

use super::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The version `.ci/run` installs (and this test expects there by default).
const OIDC_PROVIDER_VERSION: &str = "9.13.3";

/// Kills a child process when the test ends, however it ends.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn modules_dir() -> PathBuf {
    std::env::var_os("OIDC_PROVIDER_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home =
                std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
            home.join(format!(
                ".cache/portal-oidc/{OIDC_PROVIDER_VERSION}/node_modules"
            ))
        })
}

/// Whether the suite should run: `false` skips (not asked, a part missing); asked and a part
/// missing fails.
fn ready() -> bool {
    let asked = std::env::var("PORTAL_OIDC_TESTS").is_ok_and(|v| v == "1");
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut missing = Vec::new();
    if !node {
        missing.push("node".to_owned());
    }
    let provider = modules_dir().join("oidc-provider/package.json");
    if !provider.exists() {
        missing.push(provider.display().to_string());
    }
    for bin in [CHROMIUM, CHROMEDRIVER] {
        if !std::path::Path::new(bin).exists() {
            missing.push(bin.to_owned());
        }
    }
    if missing.is_empty() {
        return true;
    }
    assert!(
        !asked,
        "PORTAL_OIDC_TESTS=1 but these are missing: {}",
        missing.join(", ")
    );
    eprintln!(
        "skipped: missing {} (PORTAL_OIDC_TESTS=1 makes this a failure)",
        missing.join(", ")
    );
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the provider and waits (bounded) for its `READY` line.
fn start_provider(port: u16, redirect: &str) -> Kill {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc/provider.mjs");
    let mut child = Command::new("node")
        .arg(script)
        .env("OIDC_PORT", port.to_string())
        .env("OIDC_REDIRECT_URI", redirect)
        .env("OIDC_PROVIDER_MODULES", modules_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("READY") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the OpenID provider said READY");
    Kill(child)
}

async fn browser() -> (Kill, Browser) {
    let port = free_port();
    let driver = Kill(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "chromedriver did not start listening");
    let profile =
        std::env::temp_dir().join(format!("portal-oidc-chromium-{}", ulid::Ulid::generate()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1200",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session");
    (driver, client)
}

struct Walk {
    c: Browser,
    base: String,
    idp: String,
}

impl Walk {
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}`: {e}"))
    }

    async fn body(&self) -> String {
        self.find("body").await.text().await.unwrap_or_default()
    }

    async fn expect(&self, text: &str) {
        let mut body = String::new();
        for _ in 0..100 {
            body = self.body().await;
            if body.contains(text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let url = self.c.current_url().await.unwrap();
        panic!("expected `{text}` on {url}:\n{body}");
    }

    /// Forgets both the portal's and the provider's cookies (a fresh browser for the next user).
    async fn forget(&self) {
        for origin in [&self.idp, &self.base] {
            self.c.goto(origin).await.unwrap();
            self.c.delete_all_cookies().await.unwrap();
        }
    }

    /// Staff sign-in page → the provider's button → the provider's own login page.
    async fn sign_in_as(&self, login: &str) {
        self.sign_in_through("/staff/sign-in", "corp", login).await;
    }

    /// A sign-in page → provider `id`'s button → the provider's own login page.
    async fn sign_in_through(&self, page: &str, id: &str, login: &str) {
        self.c.goto(&format!("{}{page}", self.base)).await.unwrap();
        self.find(&format!("a[href='/sso/{id}/start']"))
            .await
            .click()
            .await
            .unwrap();
        let user = self.find("input[name=login]").await;
        user.send_keys(login).await.unwrap();
        self.find("input[name=password]")
            .await
            .send_keys("any password: the dev login page checks none")
            .await
            .unwrap();
        self.find("button.login-submit")
            .await
            .click()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn sso_staff_and_partners_sign_in_through_a_real_provider() {
    if !ready() {
        return;
    }
    let idp_port = free_port();
    let idp = format!("http://localhost:{idp_port}");
    let app = spawn_app_with(|c| {
        c.sso = SsoConfig {
            // Passwords off: only the first-run admin (spawn_app signs it in) keeps one.
            staff_passwords: false,
            break_glass: Vec::new(),
            providers: vec![
                ProviderConfig {
                    id: "partners".into(),
                    label: Some("Sign in with PartnerID".into()),
                    audience: ::sso_oidc::Audience::Partners,
                    issuer: idp.clone(),
                    client_id: "portal".into(),
                    client_secret: Some(Secret::new("portal-test-secret")),
                    scopes: vec!["email".into(), "profile".into()],
                    role_claim: "groups".into(),
                    admin: Vec::new(),
                    reviewer: Vec::new(),
                    require_verified_email: true,
                },
                ProviderConfig {
                    id: "corp".into(),
                    label: Some("Sign in with Corp SSO".into()),
                    audience: ::sso_oidc::Audience::Staff,
                    issuer: idp.clone(),
                    client_id: "portal".into(),
                    client_secret: Some(Secret::new("portal-test-secret")),
                    scopes: vec!["email".into(), "profile".into(), "groups".into()],
                    role_claim: "groups".into(),
                    admin: vec!["portal-admins".into()],
                    reviewer: vec!["portal-reviewers".into()],
                    require_verified_email: true,
                },
            ],
        };
    })
    .await;
    let redirects = format!("{0}/sso/corp/callback,{0}/sso/partners/callback", app.base);
    let _idp = start_provider(idp_port, &redirects);

    // A submission waiting in the review queue.
    let plan = app.plan(json!([]), false, 0).await;
    let (o, _) = onboard(&app, "sso@acme.example", &plan).await;
    assert_eq!(submit(&o).await["phase"], "in_review");

    let (_driver, c) = browser().await;
    let w = Walk {
        c,
        base: app.base.clone(),
        idp: idp.clone(),
    };

    // 1. The reviewer signs in through the provider's pages: created just in time, audited.
    w.sign_in_as("rui").await;
    w.expect("Rui Reviewer (reviewer)").await;
    let accounts = app.server.wiring.portal.ports().accounts.clone();
    let rui = accounts
        .staff_by_email(&Email::new("rui@provider.test").unwrap())
        .await
        .unwrap()
        .expect("the reviewer's staff record");
    assert_eq!(rui.role, StaffRole::Reviewer);
    assert_eq!(rui.name.to_string(), "Rui Reviewer");

    // ... and approves the submission.
    w.c.goto(&format!("{}/staff/subscriptions/{}", app.base, o.sub))
        .await
        .unwrap();
    w.find("form[action$='/approve'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    w.expect("The queue is empty").await;
    let view = o.dev.get(&format!("/api/v1/subscriptions/{}", o.sub)).await;
    let sub = &view.body["subscription"];
    assert_eq!(sub["phase"], "production", "{}", view.body);
    assert_eq!(
        sub["phase_detail"]["approved_by"],
        rui.id.to_string(),
        "approved by the signed-in reviewer"
    );
    let session =
        w.c.get_named_cookie("portal_session")
            .await
            .expect("the reviewer's session cookie")
            .value()
            .to_owned();

    // 2. A user whose claim grants no staff role is refused, and no staff record appears.
    w.forget().await;
    w.sign_in_as("nina").await;
    w.expect("grants you no role").await;
    assert!(
        accounts
            .staff_by_email(&Email::new("nina@provider.test").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // 3. The reviewer leaves the group: the next sign-in is refused and every session ends.
    let r = reqwest::Client::new()
        .put(format!("http://127.0.0.1:{idp_port}/test/users/rui"))
        .body(r#"{"groups": ["everyone"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    w.forget().await;
    w.sign_in_as("rui").await;
    w.expect("grants you no role").await;
    assert!(
        app.server
            .wiring
            .tokens
            .tokens_of(Principal::Staff(rui.id))
            .await
            .unwrap()
            .is_empty()
    );
    let old = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/api/v1/review-queue", app.base))
        .header("Cookie", format!("portal_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.status(),
        StatusCode::UNAUTHORIZED,
        "the old session ended"
    );

    // The audit log tells the story.
    let audit: Vec<(String, String)> = app
        .server
        .wiring
        .portal
        .ports()
        .audit
        .events(None, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.draft.action.starts_with("staff."))
        .map(|e| (e.draft.action, e.draft.target))
        .collect();
    let rui_id = rui.id.to_string();
    assert!(
        audit.contains(&("staff.created".into(), rui_id.clone())),
        "{audit:?}"
    );
    assert!(
        audit.contains(&("staff.sso_refused".into(), rui_id)),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|(a, t)| a == "staff.sso_refused" && t.starts_with("nina@")),
        "{audit:?}"
    );

    // Passwords are off for staff other than break-glass: a local reviewer cannot use one.
    let r = app
        .admin
        .post(
            "/api/v1/staff",
            json!({"email": "local@provider.test", "name": "Local", "role": "reviewer",
                   "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = User::new(&app.base)
        .post(
            "/api/v1/staff/sign-in",
            json!({"email": "local@provider.test", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(r.body["code"], "password_sign_in_off", "{}", r.body);

    // 4. Partners: an address the provider verified reaches the existing local account (whose
    // password keeps working); an unverified one is refused and creates nothing.
    let local = app.developer("pat@partner.test").await;
    let local_id = local.get("/api/v1/me").await.body["account"]["id"].clone();
    w.forget().await;
    w.sign_in_through("/sign-in", "partners", "pat").await;
    w.expect("Sign out").await;
    let me = w.c.get_named_cookie("portal_session").await.unwrap();
    let linked = reqwest::Client::new()
        .get(format!("{}/api/v1/me", app.base))
        .header("Cookie", format!("portal_session={}", me.value()))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(linked["account"]["id"], local_id, "{linked}");
    w.forget().await;
    w.sign_in_through("/sign-in", "partners", "eve").await;
    w.expect("has not verified your e-mail address").await;
    assert!(
        accounts
            .account_by_email(&Email::new("eve@partner.test").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    let _ = w.c.close().await;
    app.stop().await;
}
