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
