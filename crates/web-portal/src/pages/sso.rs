//! Single sign-on pages (issue 26): `/sso/<provider>/start` sends the browser to the identity
//! provider with a sealed pending sign-in in a cookie; `/sso/<provider>/callback` checks it,
//! lets `sso-oidc` verify the ID token, and asks the core who may sign in.

use maud::{Markup, html};
use onboarding_core::ports::Principal;
use poem::Request;
use poem::Response;
use poem::http::StatusCode;
use sso_oidc::{Audience, PENDING_TTL_SECONDS, Pending};

use crate::WebState;
use crate::http::{Ctx, redirect};
use crate::session::{self, cookie_value};

/// The pending sign-in (sealed; only for the callback's path).
const SSO_COOKIE: &str = "portal_sso";

fn sso_cookie(state: &WebState, value: &str, max_age: i64) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    format!("{SSO_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/sso; Max-Age={max_age}{secure}")
}

/// The buttons for the providers of this audience, on the sign-in pages.
pub fn buttons(state: &WebState, audience: Audience) -> Markup {
    let list: Vec<_> = state
        .sso
        .iter()
        .flat_map(|s| s.providers.iter())
        .filter(|p| p.settings.audience == audience)
        .collect();
    html! {
        @if !list.is_empty() {
            div.sso {
                @for p in list {
                    p { a.button href={ "/sso/" (p.settings.id) "/start" } { (p.settings.label) } }
                }
            }
        }
    }
}

pub async fn start(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let Some(sso) = state.sso.clone() else {
        return ctx.not_found();
    };
    let Some(provider) = sso.find(req.raw_path_param("id").unwrap_or_default()) else {
        return ctx.not_found();
    };
    match provider.begin(state.clock.now()).await {
        Ok((url, pending)) => {
            let mut resp = redirect(url.as_str());
            let sealed = sso.vault.seal(&pending.to_json());
            ctx.add_cookie(&mut resp, &sso_cookie(&state, &sealed, PENDING_TTL_SECONDS));
            resp
        }
        Err(e) => {
            tracing::warn!(provider = %provider.settings.id, error = %e, "single sign-on could not start");
            ctx.message(
                StatusCode::BAD_GATEWAY,
                "Single sign-on is unavailable",
                "The identity provider cannot be reached right now. Try again in a moment.",
            )
        }
    }
}

pub async fn callback(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let Some(sso) = state.sso.clone() else {
        return ctx.not_found();
    };
    let Some(provider) = sso.find(req.raw_path_param("id").unwrap_or_default()) else {
        return ctx.not_found();
    };
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let now = state.clock.now();
    let staff = provider.settings.audience == Audience::Staff;
    let back = if staff { "/staff/sign-in" } else { "/sign-in" };
    let fail = |status: StatusCode, text: &str| {
        let body = html! {
            div.notice.notice-error role="alert" { p { (text) } }
            p { a href=(back) { "Back to sign-in" } }
        };
        let mut resp = ctx.page(status, "Single sign-on failed", body);
        ctx.add_cookie(&mut resp, &sso_cookie(&state, "", 0));
        resp
    };
    if let Some(err) = q("error") {
        // The provider's own refusal (the user cancelled, or the client is not allowed).
        tracing::info!(provider = %provider.settings.id, error = %err, "identity provider refused the sign-in");
        return fail(
            StatusCode::UNAUTHORIZED,
            "The identity provider did not sign you in.",
        );
    }
    let pending = cookie_value(&req, SSO_COOKIE)
        .and_then(|c| sso.vault.open(&c))
        .and_then(|text| Pending::from_json(&text, now.timestamp()));
    let (Some(pending), Some(code), Some(st)) = (pending, q("code"), q("state")) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "This sign-in expired or did not start here. Start again.",
        );
    };
    let identity = match provider.finish(&pending, st, code, now).await {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(provider = %provider.settings.id, error = %e, "single sign-on refused");
            return fail(StatusCode::UNAUTHORIZED, &e.to_string());
        }
    };
    let accounts = state.portal.accounts();
    let outcome = if staff {
        let s = &provider.settings;
        accounts
            .sign_in_staff_sso(&identity, &s.roles, s.require_verified_email)
            .await
            .map(|r| r.map(|staff| Principal::Staff(staff.id)))
    } else {
        accounts
            .sign_in_account_sso(&identity)
            .await
            .map(|r| r.map(|a| Principal::Account(a.id)))
    };
    match outcome {
        Ok(Ok(principal)) => {
            if let Some(s) = &ctx.session {
                let _ = state.tokens.delete_token(&s.token_hash).await;
            }
            match session::start(&state, principal).await {
                Ok(cookie) => {
                    let mut resp = redirect(if staff { "/staff" } else { "/" });
                    ctx.add_cookie(&mut resp, &cookie);
                    ctx.add_cookie(&mut resp, &sso_cookie(&state, "", 0));
                    resp
                }
                Err(m) => ctx.error(onboarding_core::ServiceError::Internal(m)),
            }
        }
        Ok(Err(refusal)) => fail(StatusCode::FORBIDDEN, refusal.message()),
        Err(e) => ctx.error(e),
    }
}

/// The configured identity providers and the key that seals pending sign-ins.
pub struct Sso {
    pub providers: Vec<std::sync::Arc<sso_oidc::Provider>>,
    /// Seals the `portal_sso` cookie: the portal's vault, which every replica shares.
    pub vault: std::sync::Arc<dyn onboarding_core::ports::SecretVault>,
    /// Staff passwords are turned off (only break-glass admins keep them): the staff
    /// sign-in page leads with single sign-on.
    pub staff_passwords_off: bool,
}

impl Sso {
    pub fn find(&self, id: &str) -> Option<&sso_oidc::Provider> {
        self.providers
            .iter()
            .find(|p| p.settings.id == id)
            .map(|p| p.as_ref())
    }
}
