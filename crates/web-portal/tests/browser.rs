//! The portal in a real headless Chromium, driven over WebDriver (chromedriver + fantoccini).
//!
//! Runs only with `PORTAL_BROWSER_TESTS=1`; then it FAILS (never skips) when `/usr/bin/chromium`
//! or `/usr/bin/chromedriver` is missing. Install them with
//! `apt-get update && apt-get install -y chromium chromium-driver`.
//!
//! Until the real server is wired, the pages are served over the in-memory portal with the
//! demo catalog, an admin and a reviewer.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use fantoccini::{Client, ClientBuilder, Locator};
use onboarding_core::Caller;
use onboarding_core::Portal;
use onboarding_core::demo::demo_catalog;
use onboarding_core::memory::ManualClock;
use onboarding_core::project::Environment;
use onboarding_core::roles::StaffRole;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "correct-horse-battery";

fn enabled() -> bool {
    std::env::var("PORTAL_BROWSER_TESTS").as_deref() == Ok("1")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("browser-artifacts")
}

/// Kills chromedriver when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Served {
    base: String,
    portal: Portal,
    clock: Arc<ManualClock>,
    /// The real server (SQLite file in a temp dir); stopped when the walk ends.
    _server: portal_server::RunningServer,
    _data: tempfile::TempDir,
}

/// Starts the real server (the same wiring `cargo run -p portal-server` uses) on 127.0.0.1:0
/// over a fresh SQLite file, with a steppable clock, and seeds the demo catalog and staff.
async fn serve() -> Served {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    ));
    let data = tempfile::tempdir().unwrap();
    let config = portal_server::config::Config {
        data_dir: data.path().to_path_buf(),
        clock: Some(clock.clone()),
        ..Default::default()
    };
    let server = portal_server::spawn(config)
        .await
        .expect("the server starts");
    let portal = server.wiring.portal.clone();
    let (email, password) = server
        .admin
        .clone()
        .expect("a fresh server creates its first admin");
    let first = portal
        .accounts()
        .authenticate_staff(&email, &password)
        .await
        .unwrap();
    let first = Caller::Staff {
        id: first.id,
        role: StaffRole::Admin,
    };
    let admin = portal
        .accounts()
        .create_staff(
            Some(first),
            "admin@provider.test",
            "Ada Admin",
            StaffRole::Admin,
            PASSWORD,
        )
        .await
        .unwrap();
    let admin_caller = Caller::Staff {
        id: admin.id,
        role: StaffRole::Admin,
    };
    portal
        .accounts()
        .create_staff(
            Some(admin_caller),
            "reviewer@provider.test",
            "Rui Reviewer",
            StaffRole::Reviewer,
            PASSWORD,
        )
        .await
        .unwrap();
    let (product, plans) = demo_catalog();
    let product = portal
        .catalog()
        .create_product(admin_caller, &product.name, &product.description)
        .await
        .unwrap();
    for p in plans {
        portal
            .catalog()
            .create_plan(admin_caller, product.id, p)
            .await
            .unwrap();
    }
    Served {
        base: server.base_url.clone(),
        portal,
        clock,
        _server: server,
        _data: data,
    }
}

async fn browser() -> (Driver, Client) {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "PORTAL_BROWSER_TESTS=1 needs {CHROMIUM} and {CHROMEDRIVER}: apt-get install -y chromium chromium-driver"
    );
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    // Bounded poll until chromedriver listens.
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
        std::env::temp_dir().join(format!("portal-chromium-{}-{port}", std::process::id()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1400",
                format!("--user-data-dir={}", profile.display()),
            ],
            // Downloads (the usage export) land in the artifacts directory, without a prompt.
            "prefs": {
                "download.default_directory": artifacts_dir().display().to_string(),
                "download.prompt_for_download": false,
            }
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
    c: Client,
    base: String,
    n: u32,
}

impl Walk {
    async fn go(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.c
            .wait()
            .at_most(Duration::from_secs(5))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}`: {e}"))
    }
    async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }
    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }
    /// Clicks something that loads a new page, and waits (bounded) until the old page is gone.
    async fn nav(&self, css: &str) {
        let old = self.find("html").await;
        self.find(css).await.click().await.unwrap();
        for _ in 0..100 {
            if old.tag_name().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking `{css}` did not load a new page");
    }
    async fn select(&self, css: &str, label: &str) {
        self.find(css).await.select_by_label(label).await.unwrap();
    }
    async fn body(&self) -> String {
        // Empty when the page changed under us; the caller reads again.
        self.find("body").await.text().await.unwrap_or_default()
    }
    async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_owned()
    }
    async fn expect(&self, text: &str) {
        let mut body = String::new();
        for _ in 0..50 {
            body = self.body().await;
            if body.contains(text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected `{text}` on {}:\n{body}", self.path().await);
    }
    async fn shot(&mut self, name: &str) -> PathBuf {
        self.n += 1;
        let png = self.c.screenshot().await.unwrap();
        let path = artifacts_dir().join(format!("{:02}-{name}.png", self.n));
        std::fs::write(&path, png).unwrap();
        path
    }
    async fn sign_in(&self, email: &str, staff: bool) {
        self.go(if staff { "/staff/sign-in" } else { "/sign-in" })
            .await;
        self.fill("#sign-in-email", email).await;
        self.fill("#sign-in-password", PASSWORD).await;
        self.nav("form[action$='sign-in'] button[type=submit]")
            .await;
    }
    async fn sign_out(&self) {
        self.nav("form.sign-out button").await;
        self.find("#sign-in-email").await;
    }
    async fn sign_up(&self, email: &str, name: &str) {
        self.go("/sign-up").await;
        self.fill("#sign-up-email", email).await;
        self.fill("#sign-up-name", name).await;
        self.fill("#sign-up-password", PASSWORD).await;
        self.nav("form[action='/sign-up'] button[type=submit]")
            .await;
        self.find("#access-state").await;
    }
    /// The submission form, from its first step to the review step and the final submit.
    async fn fill_submission(&mut self, first_time: bool) {
        self.nav("a.button[href$='/submit']").await;
        self.find("nav.form-steps").await;
        if first_time {
            // Continue with nothing filled in: the errors appear beside their fields.
            self.nav("button[value=next]").await;
            self.find("#submit-answers-legal-name-error").await;
            self.expect("Legal entity name` is required").await;
            self.shot("form-errors-beside-fields").await;
            self.fill("#submit-answers-legal-name", "Northwind Finance Ltd")
                .await;
            self.fill("#submit-answers-website", "https://northwind.example")
                .await;
            self.fill("#submit-answers-contact-email", "dev@northwind.example")
                .await;
        }
        self.nav("button[value=next]").await;
        self.find("#submit-answers-data-usage").await;
        if first_time {
            self.select("#submit-answers-use-case", "personal finance management")
                .await;
            self.fill(
                "#submit-answers-data-usage",
                "We show balances in our budgeting app and keep them for 30 days.",
            )
            .await;
            self.click("input[name='answers.data_categories'][value='balances']")
                .await;
        }
        self.nav("button[value=next]").await;
        self.find("#submit-answers-consent-capture").await;
        if first_time {
            self.fill(
                "#submit-answers-consent-capture",
                "Customers consent on the provider's consent screen before we read anything.",
            )
            .await;
            self.fill(
                "#submit-answers-consent-withdrawal",
                "Customers withdraw consent in our settings page; we call POST /v1/consents.",
            )
            .await;
            self.fill(
                "#submit-answers-privacy-policy-url",
                "https://northwind.example/privacy",
            )
            .await;
            self.click("#submit-answers-accepts-terms").await;
        }
        self.nav("button[value=next]").await;
        self.find("button[value=submit]").await;
        self.expect("Review your answers").await;
        self.expect("Northwind Finance Ltd").await;
        self.shot("review-step").await;
        self.nav("button[value=submit]").await;
        self.find("#prod-title").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_partner_goes_from_sign_up_to_a_production_credential() {
    if !enabled() {
        eprintln!("browser tests are off: set PORTAL_BROWSER_TESTS=1 to run them");
        return;
    }
    std::fs::create_dir_all(artifacts_dir()).unwrap();
    let app = serve().await;
    let (_driver, c) = browser().await;
    let mut w = Walk {
        c,
        base: app.base.clone(),
        n: 0,
    };
    let mut keep = Vec::new();

    // The admin takes the webhook gate off the paid plan (webhook delivery lands later).
    w.sign_in("admin@provider.test", true).await;
    w.find("#queue-title").await;
    w.go("/staff/plans").await;
    w.nav("a[href^='/staff/plans/plan_']").await;
    w.click("input[name=gates][value=webhook_verification]")
        .await;
    w.nav("form.plan-editor button[type=submit]").await;
    w.find("form.plan-editor").await;
    assert!(
        !w.find("input[name=gates][value=webhook_verification]")
            .await
            .is_selected()
            .await
            .unwrap()
    );
    w.shot("plan-editor").await;
    w.sign_out().await;

    // A new developer signs up: the access page shows the state and the next step.
    w.sign_up("dana@northwind.example", "Dana Developer").await;
    w.expect("Signed up").await;
    w.expect("Create a workspace for your organization").await;
    let cookie = w.c.get_named_cookie("portal_session").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert!(format!("{:?}", cookie.same_site()).contains("Lax"));
    keep.push((w.shot("access-page").await, "access-page.png"));

    // A form POST without its CSRF token is refused.
    w.c.execute(
        "const f = document.querySelector('#create-workspace form'); f.querySelector('input[name=_csrf]').remove(); f.submit();",
        vec![],
    )
    .await
    .unwrap();
    w.expect("This form has expired").await;
    w.go("/").await;

    w.fill("#create-workspace-name", "Northwind Finance").await;
    w.nav("#create-workspace button[type=submit]").await;
    w.find("#members-title").await;
    let ws_path = w.path().await;
    w.expect("Create a sandbox project").await;
    w.fill("#create-project-name", "Balance sync").await;
    w.fill(
        "#create-project-purpose",
        "Show balances in our budgeting app",
    )
    .await;
    w.click("input[name=endpoints][value='GET /v1/accounts']")
        .await;
    w.click("input[name=endpoints][value='GET /v1/accounts/{id}/balance']")
        .await;
    w.click("input[name=events][value='consent.revoked']").await;
    w.nav("#create-project button[type=submit]").await;
    w.find("#posture-title").await;
    w.shot("project-page").await;
    w.select("#subscribe-plan-id", "Standard (paid)").await;
    w.nav("#subscribe button[type=submit]").await;
    w.find("#sbx-title").await;
    let sub_path = w.path().await;
    let sub_id = sub_path.trim_start_matches("/subscriptions/").to_owned();
    w.expect("Create a sandbox credential first").await;
    assert!(
        !w.find("button[aria-describedby=submit-reason]")
            .await
            .is_enabled()
            .await
            .unwrap()
    );
    w.shot("subscription-before-credential").await;

    // The sandbox credential: its secret is shown once.
    w.nav("form.create-credential button[type=submit]").await;
    let secret = w.find("#secret-value").await.text().await.unwrap();
    assert!(secret.starts_with("sk_sbx_"), "{secret}");
    w.expect("shown only once").await;
    w.shot("sandbox-secret-once").await;
    w.nav("a.button[href^='/subscriptions/']").await;
    w.find("#sbx-title").await;
    assert!(
        !w.body().await.contains(&secret),
        "the secret is never shown again"
    );

    w.nav("a[href$='/test-data']").await;
    w.expect("test_customer_id").await;
    w.expect("cus_sbx_7Qm2L").await;
    w.shot("sandbox-test-data").await;

    // Integration verification: 25 successful sandbox calls made with the key.
    for _ in 0..25 {
        let a = app
            .portal
            .credentials()
            .verify_secret(
                &secret,
                Some(Environment::Sandbox),
                Some("GET /v1/accounts"),
                true,
            )
            .await
            .unwrap();
        assert!(a.valid);
    }

    // Invite a colleague for billing, compliance and security.
    w.go(&ws_path).await;
    w.fill("#invite-email", "casey@northwind.example").await;
    w.click("input[name=roles][value=developer]").await;
    for r in ["security_owner", "billing", "compliance"] {
        w.click(&format!("#invite input[name=roles][value={r}]"))
            .await;
    }
    w.nav("#invite button[type=submit]").await;
    w.expect("casey@northwind.example").await;
    w.sign_out().await;

    w.sign_up("casey@northwind.example", "Casey Compliance")
        .await;
    w.expect("Awaiting attachment").await;
    w.expect("Northwind Finance").await;
    w.shot("access-awaiting-attachment").await;
    w.nav("#pending button[type=submit]").await;
    w.find("#members-title").await;
    w.sign_out().await;

    // Dana names the responsibles, then submits through the multi-step form.
    w.sign_in("dana@northwind.example", false).await;
    w.find("#access-state").await;
    w.go(&ws_path).await;
    for r in ["billing_owner", "audit_contact", "security_owner"] {
        w.select(
            &format!("#resp-{r}-account-id"),
            "Casey Compliance (casey@northwind.example)",
        )
        .await;
        w.nav(&format!(
            "form.responsible:has(#resp-{r}-account-id) button[type=submit]"
        ))
        .await;
        w.find("#resp-title").await;
    }
    w.go(&sub_path).await;
    w.fill_submission(true).await;
    w.expect("Submitted for Review").await;
    assert!(
        !w.find("#submit button[disabled]")
            .await
            .is_enabled()
            .await
            .unwrap()
    );
    w.sign_out().await;

    // The reviewer works the go-live queue and requests changes.
    app.clock.advance(TimeDelta::hours(3));
    w.sign_in("reviewer@provider.test", true).await;
    w.find("#queue-title").await;
    w.expect("5/6 passed").await;
    w.expect("Consent handling").await;
    keep.push((w.shot("go-live-queue").await, "go-live-queue.png"));
    w.nav("table.queue a[href^='/staff/subscriptions/']").await;
    w.find("#gates-title").await;
    keep.push((w.shot("review-page").await, "review-page.png"));
    w.nav("form[action$='/request-changes'] button[type=submit]")
        .await;
    w.find("#request-changes-notes-error").await;
    w.expect("notes are required").await;
    w.shot("request-changes-needs-notes").await;
    w.fill(
        "#request-changes-notes",
        "Please say how long you store balances and who can see them.",
    )
    .await;
    w.nav("form[action$='/request-changes'] button[type=submit]")
        .await;
    w.find("#queue-title").await;
    w.expect("The queue is empty").await;
    w.sign_out().await;

    // The developer reads the notes and resubmits.
    w.sign_in("dana@northwind.example", false).await;
    w.find("#access-state").await;
    w.go(&sub_path).await;
    w.expect("Changes Requested").await;
    w.expect("Please say how long you store balances").await;
    w.shot("changes-requested").await;
    w.fill_submission(false).await;
    w.expect("Submitted for Review").await;
    w.sign_out().await;

    // The reviewer reads the earlier round in the history, signs off consent handling and
    // approves.
    w.sign_in("reviewer@provider.test", true).await;
    w.nav("table.queue a[href^='/staff/subscriptions/']").await;
    w.find("#history-title").await;
    w.expect("Round 1").await;
    w.expect("Please say how long you store balances").await;
    w.nav("form[action$='/sign-off'] button[type=submit]").await;
    w.find("#gates-title").await;
    w.expect("6 of 6 passed").await;
    w.nav("form[action$='/approve'] button[type=submit]").await;
    w.find("#queue-title").await;
    w.sign_out().await;

    // Paid plan: the admin confirms payment.
    // The admin finds it in the inbox's payment queue, by the navigation: no id typed.
    w.sign_in("admin@provider.test", true).await;
    w.find("#queue-title").await;
    w.expect("Awaiting payment (1)").await;
    w.nav("a[href='/staff/inbox/awaiting_payment']").await;
    w.expect("Northwind").await;
    keep.push((w.shot("inbox-awaiting-payment").await, "inbox.png"));
    w.nav(&format!(
        "table.queue a[href='/staff/subscriptions/{sub_id}']"
    ))
    .await;
    w.fill("#payment-reference", "INV-2026-0042").await;
    w.nav("form[action$='/confirm-payment'] button[type=submit]")
        .await;
    w.find("#gates-title").await;
    w.expect("payment complete").await;
    w.sign_out().await;

    // Approved: the production card unlocks; clone, then create the production credential.
    w.sign_in("dana@northwind.example", false).await;
    w.find("#access-state").await;
    w.go(&sub_path).await;
    w.expect("Approved").await;
    w.expect("Unlocked").await;
    keep.push((
        w.shot("subscription-approved").await,
        "subscription-page.png",
    ));
    w.nav("form[action$='/clone'] button[type=submit]").await;
    w.find("form.create-credential input[value=production]")
        .await;
    w.nav("#production form.create-credential button[type=submit]")
        .await;
    let prod = w.find("#secret-value").await.text().await.unwrap();
    assert!(prod.starts_with("sk_prod_"), "{prod}");
    w.shot("production-secret-once").await;
    w.nav("a.button[href^='/subscriptions/']").await;
    w.nav("#production a[href^='/projects/']").await;
    w.expect("First live operating pass").await;
    w.expect("No drift").await;
    w.shot("production-project").await;

    // The live project page: register a webhook endpoint (no receiver runs, so it stays
    // pending; the signing secret is shown once), then download a usage export and find it
    // in the report history.
    let project_path = w.path().await;
    w.fill("#webhook-url", "https://hooks.northwind.example/portal")
        .await;
    w.click("#add-webhook input[name=events][value='alert.triggered']")
        .await;
    w.nav("#add-webhook button[type=submit]").await;
    let whsec = w.find("#webhook-secret").await.text().await.unwrap();
    assert!(whsec.starts_with("whsec_"), "{whsec}");
    w.expect("shown only once").await;
    w.expect("pending verification").await;
    w.shot("webhook-secret-once").await;
    w.go(&project_path).await;
    assert!(!w.body().await.contains(&whsec), "the secret is shown once");
    let period = w
        .find("#export-period")
        .await
        .attr("value")
        .await
        .unwrap()
        .unwrap_or_default();
    w.select("#export-format", "CSV").await;
    // The export is a download: the page stays; the history lists it once the file is read.
    w.click("form.export button[type=submit]").await;
    let mut listed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        w.go(&project_path).await;
        if w.c.find(Locator::Css("#report-history")).await.is_ok() {
            listed = true;
            break;
        }
    }
    assert!(listed, "the usage export is listed in the report history");
    let history = w.find("#report-history").await.text().await.unwrap();
    assert!(
        history.contains("Usage export") && history.contains(&period) && history.contains("CSV"),
        "{history}"
    );
    // The screenshot shows the new sections: webhook endpoints onwards.
    w.go(&format!("{project_path}#wh-title")).await;
    w.find("#wh-title").await;
    keep.push((w.shot("project-page-live").await, "project-page-live.png"));

    let docs = workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&docs).unwrap();
    for (from, to) in keep {
        std::fs::copy(from, docs.join(to)).unwrap();
    }
    w.c.close().await.unwrap();
}

/// The API explorer at `/docs` runs under its Content-Security-Policy (scripts from the portal's
/// origin only) and shows every operation of the document `/openapi.json` serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_explorer_shows_every_operation_of_the_served_document() {
    if !enabled() {
        eprintln!("browser tests are off: set PORTAL_BROWSER_TESTS=1 to run them");
        return;
    }
    let served = serve().await;
    let document: serde_json::Value = serde_json::from_str(&http_api::openapi_json()).unwrap();
    // Swagger UI lists an operation once under each of its tags.
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|methods| methods.as_object().unwrap().values())
        .map(|op| op["tags"].as_array().map_or(1, |t| t.len().max(1)))
        .sum();
    let (_driver, c) = browser().await;
    let mut w = Walk {
        c,
        base: served.base.clone(),
        n: 90,
    };
    w.go("/docs").await;
    w.find(".opblock").await;
    w.expect("Verify a presented secret").await;
    let shown = w.c.find_all(Locator::Css(".opblock")).await.unwrap().len();
    assert_eq!(
        shown, operations,
        "one block per documented operation and tag"
    );
    w.shot("api-explorer").await;
    w.c.close().await.unwrap();
}
