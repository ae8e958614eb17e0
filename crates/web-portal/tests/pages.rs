//! The pages over the in-memory portal, without a browser: sessions, CSRF, cookie flags,
//! throttling and errors beside their fields.

use chrono::{TimeZone, Utc};
use onboarding_core::credential::SecretHash;
use onboarding_core::memory::in_memory_portal;
use onboarding_core::ports::{AuthTokenKind, AuthTokenStore, Principal};
use poem::http::{Method, StatusCode, header};
use poem::{Endpoint, Request, Response};
use std::sync::Arc;
use web_portal::{WebState, routes};

struct App {
    route: poem::Route,
    store: Arc<onboarding_core::memory::MemoryStore>,
}

fn app(secure: bool) -> App {
    let (portal, store, _clock) =
        in_memory_portal(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let state = WebState::new(portal, store.clone(), secure);
    App {
        route: routes(state),
        store,
    }
}

async fn call(
    app: &App,
    method: Method,
    path: &str,
    cookie: &str,
    body: &str,
) -> (Response, String) {
    let mut b = Request::builder().method(method).uri(path.parse().unwrap());
    if !cookie.is_empty() {
        b = b.header(header::COOKIE, cookie);
    }
    let req = b
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.to_owned());
    let mut resp = app.route.get_response(req).await;
    let text = resp.take_body().into_string().await.unwrap();
    (resp, text)
}

fn set_cookies(resp: &Response) -> Vec<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"_csrf\" value=\"").expect("a CSRF field") + 20;
    html[i..i + html[i..].find('"').unwrap()].to_owned()
}

/// Signs a new account up through the pages; answers the session cookie pair.
async fn signed_up(app: &App, email: &str) -> String {
    let (resp, html) = call(app, Method::GET, "/sign-up", "", "").await;
    let pre = cookie_pair(&set_cookies(&resp)[0]);
    let body = format!(
        "_csrf={}&email={}&name=Dana+Developer&password=correct-horse-battery",
        csrf_of(&html),
        email.replace('@', "%40")
    );
    let (resp, _) = call(app, Method::POST, "/sign-up", &pre, &body).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let session = set_cookies(&resp)
        .into_iter()
        .find(|c| c.starts_with("portal_session="))
        .expect("a session cookie");
    cookie_pair(&session)
}

#[tokio::test]
async fn a_post_without_its_csrf_token_is_refused_with_403() {
    let app = app(false);
    let session = signed_up(&app, "dana@northwind.test").await;
    let (resp, html) = call(
        &app,
        Method::POST,
        "/workspaces",
        &session,
        "name=Northwind",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(html.contains("security token"));
    let (resp, _) = call(
        &app,
        Method::POST,
        "/workspaces",
        &session,
        "name=Northwind&_csrf=wrong",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // With the session's token it goes through.
    let (_, home) = call(&app, Method::GET, "/", &session, "").await;
    let body = format!("name=Northwind&_csrf={}", csrf_of(&home));
    let (resp, _) = call(&app, Method::POST, "/workspaces", &session, &body).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        resp.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/workspaces/ws_")
    );
}

#[tokio::test]
async fn the_session_cookie_has_the_shared_contract() {
    for secure in [false, true] {
        let app = app(secure);
        let (resp, html) = call(&app, Method::GET, "/sign-up", "", "").await;
        let pre = set_cookies(&resp);
        assert!(pre[0].starts_with("portal_csrf="));
        let body = format!(
            "_csrf={}&email=a%40b.test&name=A&password=correct-horse-battery",
            csrf_of(&html)
        );
        let (resp, _) = call(&app, Method::POST, "/sign-up", &cookie_pair(&pre[0]), &body).await;
        let c = set_cookies(&resp)
            .into_iter()
            .find(|c| c.starts_with("portal_session="))
            .unwrap();
        assert!(c.contains("; HttpOnly"), "{c}");
        assert!(c.contains("; SameSite=Lax"), "{c}");
        assert!(c.contains("; Path=/"), "{c}");
        assert_eq!(c.contains("; Secure"), secure, "{c}");
        let value = cookie_pair(&c)["portal_session=".len()..].to_owned();
        assert_eq!(value.len(), 43, "32 bytes of base64url");
        // Only the hash is stored, as a session with a CSRF token and a 12 h expiry.
        let token = app
            .store
            .find_token(&SecretHash::of(&value))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(token.kind, AuthTokenKind::Session);
        assert!(matches!(token.principal, Principal::Account(_)));
        assert!(token.csrf_token.is_some());
        assert_eq!((token.expires_at - token.created_at).num_hours(), 12);
        // Sign-out deletes it.
        let (_, home) = call(&app, Method::GET, "/", &cookie_pair(&c), "").await;
        let body = format!("_csrf={}", csrf_of(&home));
        let (resp, _) = call(&app, Method::POST, "/sign-out", &cookie_pair(&c), &body).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert!(
            app.store
                .find_token(&SecretHash::of(&value))
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn errors_are_rendered_beside_the_field_the_core_names() {
    let app = app(false);
    let (resp, html) = call(&app, Method::GET, "/sign-up", "", "").await;
    let pre = cookie_pair(&set_cookies(&resp)[0]);
    let body = format!(
        "_csrf={}&email=dana%40northwind.test&name=Dana&password=short",
        csrf_of(&html)
    );
    let (resp, html) = call(&app, Method::POST, "/sign-up", &pre, &body).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let field = html
        .find("id=\"sign-up-password-error\"")
        .expect("an error beside the password");
    let input = html.find("id=\"sign-up-password\"").unwrap();
    assert!(field < input, "the error comes right before its input");
    assert!(html[field..input].contains("at least 10 characters"));
    assert!(html.contains("aria-invalid=\"true\""));
    // What was typed (except the password) is kept.
    assert!(html.contains("value=\"dana@northwind.test\""));
}

#[tokio::test]
async fn sign_in_is_throttled_per_email_with_retry_after() {
    let app = app(false);
    let (resp, html) = call(&app, Method::GET, "/sign-in", "", "").await;
    let pre = cookie_pair(&set_cookies(&resp)[0]);
    let body = format!(
        "_csrf={}&email=nobody%40x.test&password=wrong-password",
        csrf_of(&html)
    );
    for _ in 0..10 {
        let (resp, html) = call(&app, Method::POST, "/sign-in", &pre, &body).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(html.contains("not right"));
    }
    let (resp, _) = call(&app, Method::POST, "/sign-in", &pre, &body).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["Retry-After"], "900");
}

#[tokio::test]
async fn pages_need_a_session_and_hide_other_tenants() {
    let app = app(false);
    let (resp, _) = call(
        &app,
        Method::GET,
        "/workspaces/ws_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "",
        "",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let session = signed_up(&app, "eve@elsewhere.test").await;
    let (resp, _) = call(
        &app,
        Method::GET,
        "/workspaces/ws_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        &session,
        "",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let (resp, css) = call(&app, Method::GET, "/static/portal.css", "", "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(css.contains(":focus-visible"));
}

// --- Webhook endpoints, reports and exports, alerts on the project page ---

use onboarding_core::roles::{Role, RoleSet};
use onboarding_core::services::{ExportFormat, ExportScope};
use onboarding_core::usage::AlertMetric;
use onboarding_core::{Caller, Portal, Webhooks};

struct Project {
    app: App,
    portal: Portal,
    owner: String,
    owner_caller: Caller,
    ws: onboarding_core::ids::WorkspaceId,
    id: onboarding_core::ids::ProjectId,
}

/// An app with the delivery store wired, an owner (signed in through the pages) and a project.
async fn project_app() -> Project {
    let (portal, store, _clock) =
        in_memory_portal(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let state = WebState::new(portal.clone(), store.clone(), false).with_webhooks(store.clone());
    let app = App {
        route: routes(state),
        store,
    };
    let owner = signed_up(&app, "olga@northwind.test").await;
    let acc = portal
        .accounts()
        .authenticate("olga@northwind.test", "correct-horse-battery")
        .await
        .unwrap();
    let caller = Caller::Account(acc.id);
    let ws = portal
        .workspaces()
        .create_workspace(caller, "Northwind")
        .await
        .unwrap();
    let project = portal
        .projects()
        .create_project(
            caller,
            ws.id,
            "Payments",
            "Card payments for the shop",
            &["payments.create".to_owned()],
            &["payment.settled".to_owned(), "payment.failed".to_owned()],
        )
        .await
        .unwrap();
    Project {
        app,
        portal,
        owner,
        owner_caller: caller,
        ws: ws.id,
        id: project.id,
    }
}

/// A member with these roles, signed in through the pages.
async fn member(p: &Project, email: &str, roles: &[Role]) -> String {
    let mut set = RoleSet::empty();
    for r in roles {
        set = set.with(*r);
    }
    let inv = p
        .portal
        .workspaces()
        .invite(p.owner_caller, p.ws, email, set, None)
        .await
        .unwrap();
    let cookie = signed_up(&p.app, email).await;
    let acc = p
        .portal
        .accounts()
        .authenticate(email, "correct-horse-battery")
        .await
        .unwrap();
    p.portal
        .workspaces()
        .accept_invitation(Caller::Account(acc.id), inv.id)
        .await
        .unwrap();
    cookie
}

/// Every POST form of a page carries the CSRF field.
fn every_post_form_has_csrf(html: &str) {
    let mut n = 0;
    for part in html.split("<form").skip(1) {
        let form = &part[..part.find("</form>").expect("a closed form")];
        if form.contains("method=\"post\"") {
            n += 1;
            assert!(
                form.contains("name=\"_csrf\""),
                "a POST form without _csrf: {form}"
            );
        } else {
            // GET forms must not put the token in a URL.
            assert!(
                !form.contains("name=\"_csrf\""),
                "a GET form with _csrf: {form}"
            );
        }
    }
    assert!(n > 0, "no POST forms");
}

#[tokio::test]
async fn a_webhook_secret_is_shown_once_and_the_endpoint_actions_work() {
    let p = project_app().await;
    let path = format!("/projects/{}", p.id);
    let (_, html) = call(&p.app, Method::GET, &path, &p.owner, "").await;
    assert!(html.contains("No webhook endpoints yet"));
    let csrf = csrf_of(&html);

    // Without its token the form is refused.
    let (resp, _) = call(
        &p.app,
        Method::POST,
        &format!("{path}/webhooks"),
        &p.owner,
        "url=https%3A%2F%2Fhooks.northwind.test%2Fportal",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // A bad URL: the error sits beside the field, what was typed is kept.
    let body = format!("_csrf={csrf}&url=not-a-url");
    let (resp, html) = call(
        &p.app,
        Method::POST,
        &format!("{path}/webhooks"),
        &p.owner,
        &body,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"webhook-url-error\""), "{html}");
    assert!(html.contains("value=\"not-a-url\""));

    let body = format!(
        "_csrf={csrf}&url=https%3A%2F%2Fhooks.northwind.test%2Fportal&events=subscription.approved"
    );
    let (resp, html) = call(
        &p.app,
        Method::POST,
        &format!("{path}/webhooks"),
        &p.owner,
        &body,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    assert!(html.contains("shown only once"));
    let i = html.find("id=\"webhook-secret\">").expect("the secret") + 20;
    let secret = html[i..i + html[i..].find('<').unwrap()].to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(html.contains("pending verification"));

    // Shown once: the next GET has it no more.
    let (_, html) = call(&p.app, Method::GET, &path, &p.owner, "").await;
    assert!(!html.contains(&secret));
    assert!(!html.contains("id=\"webhook-secret\""));
    every_post_form_has_csrf(&html);
    for action in ["verify", "test", "disable", "rotate", "events"] {
        assert!(html.contains(&format!("/{action}\"")), "no {action} form");
    }
    let ep = p
        .portal
        .endpoints()
        .webhook_endpoints(p.owner_caller, p.id)
        .await
        .unwrap()[0]
        .id;

    // The challenge went out: once dispatched, the delivery is listed with its state.
    let wh = Webhooks::new(p.portal.clone(), p.app.store.clone());
    wh.dispatch(100).await.unwrap();
    call(
        &p.app,
        Method::POST,
        &format!("/webhooks/{ep}/test"),
        &p.owner,
        &format!("_csrf={csrf}"),
    )
    .await;
    wh.dispatch(100).await.unwrap();
    let (_, html) = call(&p.app, Method::GET, &path, &p.owner, "").await;
    assert!(html.contains("Latest deliveries"));
    assert!(html.contains("endpoint.verification"), "{html}");
    assert!(html.contains("no attempts yet"));

    // Rotation: a bad overlap is refused beside its field; a good one shows the new secret once.
    let (resp, html) = call(
        &p.app,
        Method::POST,
        &format!("/webhooks/{ep}/rotate"),
        &p.owner,
        &format!("_csrf={csrf}&overlap_hours=lots"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(&format!("id=\"rotate-{ep}-overlap-hours-error\"")),
        "{html}"
    );
    assert!(html.contains("aria-invalid=\"true\""));
    let (resp, html) = call(
        &p.app,
        Method::POST,
        &format!("/webhooks/{ep}/rotate"),
        &p.owner,
        &format!("_csrf={csrf}&overlap_hours=12"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(html.contains("New signing secret"));
    assert!(
        html.contains("keeps signing until 2026-03-02 21:00 UTC"),
        "{html}"
    );
    assert!(html.contains("whsec_") && !html.contains(&secret));

    // Disable, then enable again.
    let (resp, _) = call(
        &p.app,
        Method::POST,
        &format!("/webhooks/{ep}/disable"),
        &p.owner,
        &format!("_csrf={csrf}"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, html) = call(&p.app, Method::GET, &path, &p.owner, "").await;
    assert!(html.contains("disabled by a member"));
    assert!(html.contains(&format!("/webhooks/{ep}/enable")));
    // A test event to a disabled endpoint: the refusal is shown at the endpoint.
    let (resp, html) = call(
        &p.app,
        Method::POST,
        &format!("/webhooks/{ep}/test"),
        &p.owner,
        &format!("_csrf={csrf}"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(html.contains("enable it first"));
    let (resp, _) = call(
        &p.app,
        Method::POST,
        &format!("/webhooks/{ep}/enable"),
        &p.owner,
        &format!("_csrf={csrf}"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    // Edit events.
    let (resp, _) = call(
        &p.app,
        Method::POST,
        &format!("/webhooks/{ep}/events"),
        &p.owner,
        &format!("_csrf={csrf}&events=alert.triggered"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let eps = p
        .portal
        .endpoints()
        .webhook_endpoints(p.owner_caller, p.id)
        .await
        .unwrap();
    assert_eq!(eps[0].events, vec!["alert.triggered".to_owned()]);
}

#[tokio::test]
async fn reports_and_exports_follow_the_permission_table() {
    let p = project_app().await;
    let path = format!("/projects/{}", p.id);
    // The owner may export: the form is a GET (no token in the URL) to the portal.
    let (_, html) = call(&p.app, Method::GET, &path, &p.owner, "").await;
    assert!(html.contains("Reports and exports"));
    assert!(html.contains(&format!("action=\"/projects/{}/exports\"", p.id)));
    assert!(html.contains("id=\"export-period\""));
    assert!(html.contains("value=\"2026-03\""));
    assert!(html.contains("No exports yet"));
    every_post_form_has_csrf(&html);

    // A bad period: the error is beside the field.
    let (resp, html) = call(
        &p.app,
        Method::GET,
        &format!("{path}/exports?period=2026-13&format=csv"),
        &p.owner,
        "",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"export-period-error\""), "{html}");
    // A good one goes on to the API's streaming download.
    let (resp, _) = call(
        &p.app,
        Method::GET,
        &format!("{path}/exports?period=2026-02&format=jsonl"),
        &p.owner,
        "",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers()[header::LOCATION],
        format!(
            "/api/v1/projects/{}/exports/usage?period=2026-02&format=jsonl",
            p.id
        )
        .as_str()
    );

    // A finished export is listed in the report history: who, what, format, period, rows.
    let grant = p
        .portal
        .exports()
        .authorize_export(p.owner_caller, ExportScope::ProjectUsage(p.id), "2026-02")
        .await
        .unwrap();
    p.portal
        .exports()
        .record_export(&grant, ExportFormat::Csv, 42)
        .await
        .unwrap();
    let (_, html) = call(&p.app, Method::GET, &path, &p.owner, "").await;
    let history = &html[html.find("id=\"report-history\"").expect("the history")..];
    for text in ["Dana Developer", "Usage export", "CSV", "2026-02", "42"] {
        assert!(history.contains(text), "{text} missing in {history}");
    }

    // A developer may not export usage: no form, and why.
    let dev = member(&p, "dev@northwind.test", &[Role::Developer]).await;
    let (_, html) = call(&p.app, Method::GET, &path, &dev, "").await;
    assert!(!html.contains(&format!("action=\"/projects/{}/exports\"", p.id)));
    assert!(html.contains("Usage exports are for members with the billing or compliance role"));
    let (resp, _) = call(
        &p.app,
        Method::GET,
        &format!("{path}/exports?period=2026-02&format=csv"),
        &dev,
        "",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Billing may.
    let billing = member(&p, "bill@northwind.test", &[Role::Billing]).await;
    let (_, html) = call(&p.app, Method::GET, &path, &billing, "").await;
    assert!(html.contains(&format!("action=\"/projects/{}/exports\"", p.id)));
    assert!(!html.contains("Add webhook endpoint"));

    // The audit page: compliance may export the audit log; the form goes to the API.
    let compliance = member(&p, "comp@northwind.test", &[Role::Compliance]).await;
    let audit = format!("/workspaces/{}/audit", p.ws);
    let (resp, html) = call(&p.app, Method::GET, &audit, &compliance, "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(html.contains(&format!("action=\"/workspaces/{}/exports\"", p.ws)));
    let (resp, _) = call(
        &p.app,
        Method::GET,
        &format!("/workspaces/{}/exports?period=2026-03&format=csv", p.ws),
        &compliance,
        "",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers()[header::LOCATION],
        format!(
            "/api/v1/workspaces/{}/exports/audit?period=2026-03&format=csv",
            p.ws
        )
        .as_str()
    );
    let (resp, _) = call(
        &p.app,
        Method::GET,
        &format!("/workspaces/{}/exports?period=2026-03&format=csv", p.ws),
        &dev,
        "",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_threshold_crossed_today_is_announced_on_the_project_page() {
    let p = project_app().await;
    let path = format!("/projects/{}", p.id);
    let (_, html) = call(&p.app, Method::GET, &path, &p.owner, "").await;
    assert!(html.contains("No threshold has been crossed yet"));
    assert!(!html.contains("id=\"alert-banner\""));
    p.portal
        .projects()
        .set_alert_threshold(p.owner_caller, p.id, AlertMetric::RequestsPerDay, 10.into())
        .await
        .unwrap();
    use onboarding_core::ports::UsageStore;
    p.app
        .store
        .add(vec![onboarding_core::usage::UsageBucket {
            credential_id: "cred_01JQ0000000000000000000000".parse().unwrap(),
            project_id: p.id,
            environment: onboarding_core::project::Environment::Sandbox,
            endpoint: "payments.create".into(),
            bucket_start: Utc.with_ymd_and_hms(2026, 3, 2, 8, 30, 0).unwrap(),
            requests: 12,
            errors: 0,
        }])
        .await
        .unwrap();
    let raised = p.portal.metering().evaluate_alerts(p.id).await.unwrap();
    assert_eq!(raised.len(), 1);
    let (_, html) = call(&p.app, Method::GET, &path, &p.owner, "").await;
    assert!(html.contains("id=\"alert-banner\""), "{html}");
    assert!(html.contains("An alert fired today"));
    let table = &html[html.find("id=\"recent-alerts\"").expect("the alerts")..];
    assert!(table.contains("Requests per day"));
    // Compliance does not read usage: no alerts, and why.
    let compliance = member(&p, "comp@northwind.test", &[Role::Compliance]).await;
    let (_, html) = call(&p.app, Method::GET, &path, &compliance, "").await;
    assert!(!html.contains("id=\"alert-banner\""));
    assert!(html.contains("Recent alerts are visible to"));
}
/// The catch-all not-found route must not shadow the access page at `/`.
#[tokio::test]
async fn the_access_page_answers_at_the_root() {
    let app = app(false);
    let (resp, html) = call(&app, Method::GET, "/", "", "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(html.contains("Create an account"));
    let session = signed_up(&app, "dana@northwind.test").await;
    let (resp, html) = call(&app, Method::GET, "/", &session, "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(html.contains("access-state"));
    let (resp, _) = call(&app, Method::GET, "/no/such/page", &session, "").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_clone_shows_each_copied_endpoints_new_secret_once_and_the_page_says_so() {
    use onboarding_core::Caller;
    use onboarding_core::gates::Gate;
    use onboarding_core::project::Environment;
    use onboarding_core::roles::{Role, RoleSet};
    use onboarding_core::services::NewCredentialKind;
    use test_support::*;

    let (portal, store, _clock) =
        in_memory_portal(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let state = WebState::new(portal.clone(), store.clone(), false).with_webhooks(store.clone());
    let app = App {
        route: routes(state),
        store,
    };
    let prov = provider(&portal, false).await.unwrap();
    let cookie = signed_up(&app, "lena@northwind.test").await;
    let lead = portal
        .accounts()
        .authenticate("lena@northwind.test", "correct-horse-battery")
        .await
        .unwrap();
    let caller = Caller::Account(lead.id);
    let workspace = portal
        .workspaces()
        .create_workspace(caller, "Northwind")
        .await
        .unwrap();
    portal
        .workspaces()
        .set_roles(
            caller,
            workspace.id,
            lead.id,
            RoleSet::of(&[Role::Owner, Role::TechnicalLead]),
        )
        .await
        .unwrap();
    let plan = &prov.standard;
    let project = portal
        .projects()
        .create_project(
            caller,
            workspace.id,
            "Sync",
            "Nightly sync",
            &plan.endpoints[..1],
            &[],
        )
        .await
        .unwrap();
    let p = Partner {
        lead,
        caller,
        workspace,
        project,
    };
    let sub = portal
        .pipeline()
        .subscribe(caller, p.project.id, plan.id)
        .await
        .unwrap();
    let key = portal
        .credentials()
        .create_credential(
            caller,
            sub.id,
            Environment::Sandbox,
            NewCredentialKind::ApiKey,
            "dev",
        )
        .await
        .unwrap();
    for _ in 0..plan.integration_min_calls {
        portal
            .credentials()
            .verify_secret(key.secret.expose(), None, Some(&plan.endpoints[0]), true)
            .await
            .unwrap();
    }
    portal
        .pipeline()
        .submit(caller, sub.id, Some(demo_answers()), None)
        .await
        .unwrap();
    name_all_responsibles(&portal, &p).await.unwrap();
    portal
        .pipeline()
        .sign_off_gate(prov.reviewer, sub.id, Gate::ConsentHandling)
        .await
        .unwrap();
    portal
        .pipeline()
        .approve(prov.reviewer, sub.id, None)
        .await
        .unwrap();
    for url in [
        "https://hooks.northwind.test/a",
        "https://hooks.northwind.test/b",
    ] {
        portal
            .endpoints()
            .create_webhook_endpoint(caller, p.project.id, url, &[])
            .await
            .unwrap();
    }

    let (_, html) = call(
        &app,
        Method::GET,
        &format!("/subscriptions/{}", sub.id),
        &cookie,
        "",
    )
    .await;
    let csrf = csrf_of(&html);
    let (resp, html) = call(
        &app,
        Method::POST,
        &format!("/subscriptions/{}/clone", sub.id),
        &cookie,
        &format!("_csrf={csrf}"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK, "{html}");
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    let secret_at = |html: &str, id: &str| {
        let marker = format!("id=\"{id}\">");
        let i = html.find(&marker).unwrap_or_else(|| panic!("no {id}")) + marker.len();
        html[i..i + html[i..].find('<').unwrap()].to_owned()
    };
    let first = secret_at(&html, "webhook-secret");
    let second = secret_at(&html, "webhook-secret-1");
    assert!(first.starts_with("whsec_") && second.starts_with("whsec_"));
    assert_ne!(first, second);
    assert!(html.contains("cloned-secrets-note"), "{html}");

    // The production project's page: the secrets no more, the note still.
    let prod = portal
        .projects()
        .projects(caller, p.workspace.id)
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.environment == Environment::Production)
        .unwrap();
    let (resp, html) = call(
        &app,
        Method::GET,
        &format!("/projects/{}", prod.id),
        &cookie,
        "",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!html.contains(&first) && !html.contains(&second));
    assert!(html.contains("cloned-secrets-note"), "{html}");
}
