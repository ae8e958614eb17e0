//! # web-portal
//!
//! The server-rendered pages of the onboarding portal: [maud] templates checked at compile
//! time, plain [poem] endpoints, one stylesheet, and forms that work without JavaScript
//! (POST, then 303 redirect; a refused form is re-rendered with each error beside the field
//! the core named in its `FieldError`).
//!
//! Every page calls the use cases on [`onboarding_core::Portal`] directly: the rules (who may
//! do what, the next step, the gates, the credential lock) live in the core and nowhere else.
//!
//! Sessions are shared with the REST API (`http-api`): the cookie `portal_session` holds 32
//! random bytes (base64url); only `SecretHash::of(cookie)` is stored, through
//! [`AuthTokenStore`], with the session's CSRF token beside it. See `docs/portal.md`.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use onboarding_core::memory::in_memory_portal;
//! use web_portal::{WebState, routes};
//! # let (portal, store, _clock) = in_memory_portal(chrono::Utc::now());
//! let state = WebState::new(portal, store, false);
//! let app = poem::Route::new()
//!     // .nest("/api/v1", api) ...
//!     .nest("/", routes(state));
//! ```

// Handlers return `Result<_, Response>` to answer a page early (a redirect to sign in, a 403
// page); the response is built once per request, so boxing it buys nothing.
#![allow(clippy::result_large_err)]

mod http;
mod pages;
mod session;
mod ui;

use std::future::Future;
use std::sync::{Arc, Mutex};

use onboarding_core::ports::{AuthTokenStore, Clock, DeliveryStore};
use onboarding_core::{Portal, Webhooks};
use poem::{Endpoint, EndpointExt, Request, Response, Route, get, post};

pub use session::{CSRF_FIELD, PRESESSION_COOKIE, SESSION_COOKIE, SESSION_TTL_HOURS};

/// What the pages run on.
#[derive(Clone)]
pub struct WebState {
    pub portal: Portal,
    /// Browser sessions (the same store the REST API reads cookies from).
    pub tokens: Arc<dyn AuthTokenStore>,
    /// Adds `Secure` to the cookies: set it when the portal is served over TLS.
    pub secure_cookies: bool,
    /// The time, for session expiry and sign-in throttling (the portal's own clock port).
    pub clock: Arc<dyn Clock>,
    /// The webhook delivery use cases (history, health, retry); `None` until
    /// [`WebState::with_webhooks`] wires the delivery store, and then the project page says
    /// delivery history is unavailable.
    pub webhooks: Option<Webhooks>,
    throttle: Arc<Mutex<session::Throttle>>,
}

impl WebState {
    /// State over a portal; the clock is the portal's own.
    pub fn new(portal: Portal, tokens: Arc<dyn AuthTokenStore>, secure_cookies: bool) -> Self {
        let clock = portal.ports().clock.clone();
        Self::with_clock(portal, tokens, secure_cookies, clock)
    }

    pub fn with_clock(
        portal: Portal,
        tokens: Arc<dyn AuthTokenStore>,
        secure_cookies: bool,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            portal,
            tokens,
            secure_cookies,
            clock,
            webhooks: None,
            throttle: Arc::new(Mutex::new(session::Throttle::default())),
        }
    }
}

impl WebState {
    /// Wires the webhook delivery use cases over the delivery store (the same store the
    /// webhook worker and the REST API use).
    pub fn with_webhooks(mut self, deliveries: Arc<dyn DeliveryStore>) -> Self {
        self.webhooks = Some(Webhooks::new(self.portal.clone(), deliveries));
        self
    }
}

/// An endpoint over a handler `async fn(WebState, Request) -> Response`.
fn h<F, Fut>(state: &WebState, f: F) -> impl Endpoint<Output = Response> + use<F, Fut>
where
    F: Fn(WebState, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let state = state.clone();
    poem::endpoint::make(move |req| f(state.clone(), req)).map_to_response()
}

async fn not_found(state: WebState, req: Request) -> Response {
    // poem's catch-all also matches its parent `/`, shadowing the access page route.
    if req.uri().path() == "/" && req.method() == poem::http::Method::GET {
        return pages::access::home(state, req).await;
    }
    http::Ctx::load(&state, &req).await.not_found()
}

/// The portal's pages, to be nested at `/` beside the REST API.
pub fn routes(state: WebState) -> Route {
    use pages::{access, admin, inbox, project, staff, subscription, workspace};
    let s = &state;
    Route::new()
        .at("/static/portal.css", get(h(s, pages::stylesheet)))
        .at("/", get(h(s, access::home)))
        // Anything no other route matches: the portal's own "not found" page, not bare text.
        .at("/*rest", h(s, not_found))
        .at(
            "/sign-up",
            get(h(s, access::sign_up_page)).post(h(s, access::sign_up)),
        )
        .at(
            "/sign-in",
            get(h(s, access::sign_in_page)).post(h(s, access::sign_in)),
        )
        .at(
            "/staff/sign-in",
            get(h(s, access::staff_sign_in_page)).post(h(s, access::staff_sign_in)),
        )
        .at("/sign-out", post(h(s, access::sign_out)))
        .at("/workspaces", post(h(s, access::create_workspace)))
        .at("/join-requests", post(h(s, access::request_to_join)))
        .at(
            "/invitations/:id/accept",
            post(h(s, access::accept_invitation)),
        )
        // Workspace
        .at("/workspaces/:id", get(h(s, workspace::page)))
        .at("/workspaces/:id/invitations", post(h(s, workspace::invite)))
        .at(
            "/workspaces/:id/invitations/:inv/revoke",
            post(h(s, workspace::revoke_invitation)),
        )
        .at(
            "/workspaces/:id/join-requests/:jr/decide",
            post(h(s, workspace::decide_join_request)),
        )
        .at(
            "/workspaces/:id/responsibles",
            post(h(s, workspace::name_responsible)),
        )
        .at(
            "/workspaces/:id/projects",
            post(h(s, workspace::create_project)),
        )
        .at("/workspaces/:id/audit", get(h(s, workspace::audit)))
        .at("/workspaces/:id/billing", get(h(s, workspace::billing)))
        // Project
        .at("/projects/:id", get(h(s, project::page)))
        .at(
            "/projects/:id/subscriptions",
            post(h(s, project::subscribe)),
        )
        .at("/projects/:id/alerts", post(h(s, project::set_alert)))
        .at(
            "/projects/:id/alerts/:alert/delete",
            post(h(s, project::delete_alert)),
        )
        .at(
            "/projects/:id/live-audit-reviewed",
            post(h(s, project::live_audit_reviewed)),
        )
        .at(
            "/projects/:id/webhooks",
            post(h(s, project::create_webhook)),
        )
        .at("/projects/:id/exports", get(h(s, project::export_usage)))
        .at(
            "/workspaces/:id/exports",
            get(h(s, workspace::export_audit)),
        )
        .at("/webhooks/:id/:op", post(h(s, project::webhook_action)))
        .at("/deliveries/:id/retry", post(h(s, project::retry_delivery)))
        // Subscription
        .at("/subscriptions/:id", get(h(s, subscription::page)))
        .at(
            "/subscriptions/:id/test-data",
            get(h(s, subscription::test_data)),
        )
        .at(
            "/subscriptions/:id/credentials",
            post(h(s, subscription::create_credential)),
        )
        .at(
            "/subscriptions/:id/submit",
            get(h(s, subscription::submit_page)).post(h(s, subscription::submit_step)),
        )
        .at(
            "/subscriptions/:id/withdraw",
            post(h(s, subscription::withdraw)),
        )
        .at(
            "/subscriptions/:id/clone",
            post(h(s, subscription::clone_to_production)),
        )
        .at(
            "/credentials/:id/:op",
            post(h(s, subscription::credential_action)),
        )
        // Provider staff
        .at("/staff", get(h(s, inbox::go_live)))
        .at("/staff/inbox/:queue", get(h(s, inbox::queue)))
        .at("/staff/subscriptions/:id", get(h(s, staff::review)))
        .at(
            "/staff/subscriptions/:id/:op",
            post(h(s, staff::review_action)),
        )
        .at(
            "/staff/plans",
            get(h(s, admin::plans)).post(h(s, admin::create_plan)),
        )
        .at("/staff/products", post(h(s, admin::create_product)))
        .at(
            "/staff/plans/:id",
            get(h(s, admin::edit_plan)).post(h(s, admin::update_plan)),
        )
}
