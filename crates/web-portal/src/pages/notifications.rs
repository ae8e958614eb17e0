//! The notification centre (list, mark read), the header's unread badge, the landing page of
//! an invitation e-mail's link, and RFC 8058 one-click unsubscribe.

use maud::{Markup, html};
use onboarding_core::ids::NotificationId;
use onboarding_core::notification::{Notification, NotificationKind};
use poem::http::StatusCode;
use poem::{Request, Response};

use crate::WebState;
use crate::http::{Ctx, FormData, param, redirect};
use crate::ui::{action_button, csrf};

/// The header's link to the centre, with the unread count.
pub fn nav_link(ctx: &Ctx) -> Markup {
    html! {
        a href="/notifications" aria-current=[(ctx.path == "/notifications").then_some("page")] {
            "Notifications"
            @if ctx.unread > 0 {
                " " span.badge aria-label=(format!("{} unread", ctx.unread)) { (ctx.unread) }
            }
        }
    }
}

/// What a notification says in the centre, in a line.
fn title(n: &Notification) -> String {
    use NotificationKind::*;
    let d = &n.data;
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let ws = s("workspace");
    match n.kind {
        Invitation => format!("You are invited to join {ws}"),
        JoinRequested => format!("{} asks to join {ws}", s("member")),
        JoinDecided if d.get("approved").and_then(|v| v.as_bool()) == Some(true) => {
            format!("You joined {ws}")
        }
        JoinDecided => format!("Your request to join {ws} was declined"),
        RolesChanged => format!("Your roles in {ws} changed"),
        Submitted => format!("New submission: {} ({ws})", s("plan")),
        ChangesRequested => format!("Changes Requested: {} ({ws})", s("plan")),
        Approved => format!("Approved for production: {} ({ws})", s("plan")),
        Rejected => format!("Rejected: {} ({ws})", s("plan")),
        SandboxAccessGranted => format!("Sandbox access granted: {} ({ws})", s("plan")),
        SandboxAccessDeclined => format!("Sandbox access declined: {} ({ws})", s("plan")),
        other => other.as_str().replace('_', " "),
    }
}

/// Where a notification leads, for this reader.
fn link(n: &Notification) -> Option<String> {
    use NotificationKind::*;
    let d = &n.data;
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    match n.kind {
        Invitation => s("invitation_id").map(|i| format!("/invitations/{i}")),
        Submitted => s("subscription_id").map(|i| format!("/staff/subscriptions/{i}")),
        ChangesRequested | Approved | Rejected | SandboxAccessGranted | SandboxAccessDeclined => {
            s("subscription_id").map(|i| format!("/subscriptions/{i}"))
        }
        JoinRequested | RolesChanged => s("workspace_id").map(|i| format!("/workspaces/{i}")),
        _ => None,
    }
}

/// `GET /notifications`: the signed-in person's notifications, newest first.
pub async fn centre(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let caller = match ctx.require_caller() {
        Ok(c) => c,
        Err(r) => return r,
    };
    let before = query(&req, "before").and_then(|b| b.parse::<NotificationId>().ok());
    let page = match state.portal.notifications().list(caller, before, 50).await {
        Ok(p) => p,
        Err(e) => return ctx.error(e),
    };
    let prefs = match state.portal.notifications().preferences(caller).await {
        Ok(p) => p,
        Err(e) => return ctx.error(e),
    };
    let body = html! {
        p { (page.unread) " unread." }
        @if page.unread > 0 {
            (action_button(&ctx, "/notifications/read", "Mark all as read", "button"))
        }
        @if page.items.is_empty() {
            p { "Nothing yet: invitations, review decisions and alerts will appear here." }
        }
        ul.notifications {
            @for n in &page.items {
                li class=(if n.read_at.is_none() { "unread" } else { "read" }) {
                    @if let Some(href) = link(n) { a href=(href) { (title(n)) } } @else { (title(n)) }
                    " · " time datetime=(n.created_at.to_rfc3339()) { (n.created_at.format("%Y-%m-%d %H:%M UTC")) }
                    @if let Some(notes) = n.data.get("notes").and_then(|v| v.as_str()) {
                        blockquote { (notes) }
                    }
                    @if n.read_at.is_none() {
                        form.inline method="post" action="/notifications/read" {
                            (csrf(&ctx))
                            input type="hidden" name="id" value=(n.id);
                            button.link-button type="submit" { "Mark as read" }
                        }
                    }
                }
            }
        }
        @if let Some(next) = page.next_before {
            p { a href=(format!("/notifications?before={next}")) { "Older notifications" } }
        }
        h2 { "E-mail settings" }
        form method="post" action="/notifications/preferences" {
            (csrf(&ctx))
            fieldset {
                legend { "E-mail me about" }
                @for (kind, on, optional) in &prefs {
                    label {
                        input type="checkbox" name="email" value=(kind.as_str()) checked[*on] disabled[!*optional];
                        " " (kind.as_str().replace('_', " "))
                        @if !*optional { " (security and account notices are always sent)" }
                    }
                    br;
                }
            }
            button.button type="submit" { "Save e-mail settings" }
        }
    };
    ctx.ok("Notifications", body)
}

/// `POST /notifications/read`: the ids given (`id`, repeated), or all.
pub async fn mark_read(state: WebState, req: Request) -> Response {
    let (ctx, form) = match Ctx::post(&state, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let caller = match ctx.require_caller() {
        Ok(c) => c,
        Err(r) => return r,
    };
    let ids: Vec<NotificationId> = form
        .all("id")
        .iter()
        .filter_map(|i| i.parse().ok())
        .collect();
    let ids = (!form.all("id").is_empty()).then_some(ids);
    match state.portal.notifications().mark_read(caller, ids).await {
        Ok(_) => redirect("/notifications"),
        Err(e) => ctx.error(e),
    }
}

/// `POST /notifications/preferences`: the optional kinds checked are e-mailed, the others
/// not (required kinds are not in the form's say).
pub async fn set_preferences(state: WebState, req: Request) -> Response {
    let (ctx, form) = match Ctx::post(&state, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let caller = match ctx.require_caller() {
        Ok(c) => c,
        Err(r) => return r,
    };
    let on = form.all("email");
    let n = state.portal.notifications();
    for kind in NotificationKind::ALL.iter().filter(|k| !k.required()) {
        if let Err(e) = n
            .set_preference(caller, *kind, on.contains(&kind.as_str()))
            .await
        {
            return ctx.error(e);
        }
    }
    redirect("/notifications")
}

/// `GET /invitations/:id`, the invitation e-mail's link: accept when signed in as the
/// invited address (the core checks it), else sign in or sign up first.
pub async fn invitation(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let Some(id) = param::<onboarding_core::ids::InvitationId>(&req, "id") else {
        return ctx.not_found();
    };
    let body = match ctx.session.as_ref().map(|s| s.caller) {
        Some(onboarding_core::Caller::Account(_)) => html! {
            p { "Accept to join the workspace with the roles the invitation names." }
            (action_button(&ctx, &format!("/invitations/{id}/accept"), "Accept the invitation", "button"))
        },
        _ => html! {
            p { "Sign in, or create an account, with the address the invitation was sent to. Your access page then lists the invitation to accept." }
            p {
                a.button href="/sign-in" { "Sign in" } " "
                a href="/sign-up" { "Create an account" }
            }
        },
    };
    ctx.ok("Your invitation", body)
}

fn query(req: &Request, key: &str) -> Option<String> {
    let q = req.uri().query()?;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// `GET /unsubscribe?token=`: confirms before turning the kind off (link scanners follow
/// GET links; only a POST changes anything).
pub async fn unsubscribe_page(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let token = query(&req, "token").unwrap_or_default();
    let body = html! {
        p { "Stop receiving e-mails of this kind? You will still see them in the portal's notification centre." }
        form method="post" action="/unsubscribe" {
            input type="hidden" name="token" value=(token);
            button.button type="submit" { "Unsubscribe" }
        }
    };
    ctx.ok("Unsubscribe", body)
}

/// `POST /unsubscribe`: RFC 8058 one-click (the token in the query, the body
/// `List-Unsubscribe=One-Click`) or the confirmation form (the token in the body). The
/// token authorizes it: mail clients send no cookie, so there is no CSRF token to check.
pub async fn unsubscribe(state: WebState, mut req: Request) -> Response {
    let from_query = query(&req, "token");
    let body = req
        .take_body()
        .into_bytes_limit(16 * 1024)
        .await
        .unwrap_or_default();
    let form = FormData::parse(&body);
    let token = from_query.or_else(|| form.get("token").map(str::to_owned));
    let ctx = Ctx::load(&state, &req).await;
    let Some(token) = token else {
        return ctx.message(
            StatusCode::BAD_REQUEST,
            "Unsubscribe",
            "The link is incomplete.",
        );
    };
    match state.portal.notifications().unsubscribe(&token).await {
        Ok(kind) => ctx.ok(
            "Unsubscribed",
            html! {
                p { "You will no longer get e-mails about “" (kind.as_str().replace('_', " ")) "”. The portal's notification centre still shows them." }
            },
        ),
        Err(onboarding_core::ServiceError::NotFound { .. }) => ctx.message(
            StatusCode::NOT_FOUND,
            "Unsubscribe",
            "This unsubscribe link is not valid.",
        ),
        Err(e) => ctx.error(e),
    }
}
