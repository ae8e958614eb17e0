//! Access: sign up, sign in (accounts and provider staff), sign out, and the access page that
//! shows the access state and the exact next step.

use maud::{Markup, html};
use onboarding_core::next_step::{AccessFacts, JourneyFacts, StepAction, next_step};
use onboarding_core::ports::Principal;
use onboarding_core::workspace::{AccessState, AttachmentVia};
use onboarding_core::{Caller, ServiceError};
use poem::http::StatusCode;
use poem::{Request, Response};

use crate::WebState;
use crate::http::{Ctx, Errs, FormErrors, param, redirect};
use crate::session::{self, SESSION_COOKIE};
use crate::ui::{self, Field, csrf, form_errors};

pub async fn home(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    render_home(&ctx, None).await
}

async fn render_home(ctx: &Ctx, fe: Option<FormErrors>) -> Response {
    let status = fe.as_ref().map_or(StatusCode::OK, |f| f.status());
    let fe = fe.as_ref();
    let Some(caller) = ctx.caller() else {
        let ns = next_step(&JourneyFacts {
            access: AccessFacts::SignedOut,
            has_sandbox_project: false,
            subscription: None,
        });
        let body = html! {
            (ui::lanes(ns.lane))
            (ui::next_step(&ns, Some(("Sign in", "/sign-in".into()))))
            section.card {
                h2 { "From sandbox to production, without e-mail threads" }
                p { "Create an account, create or join your organization's workspace, build against sandbox credentials, submit for review, and create production credentials once the API provider approves." }
                p { a href="/sign-up" { "Create an account" } " · " a href="/sign-in" { "Sign in" } " · " a href="/docs" { "Read the public API docs" } }
            }
        };
        return ctx.page(status, "Account access", body);
    };
    if ui::is_staff(caller) {
        return redirect("/staff");
    }
    let me = match ctx.state.portal.accounts().me(caller).await {
        Ok(m) => m,
        Err(e) => return ctx.error(e),
    };
    let workspaces = match ctx.state.portal.workspaces().my_workspaces(caller).await {
        Ok(w) => w,
        Err(e) => return ctx.error(e),
    };
    let go = match me.next_step.action {
        StepAction::CreateOrJoinWorkspace => {
            Some(("Create a workspace", "#create-workspace".into()))
        }
        StepAction::AcceptInvitation | StepAction::AwaitJoinApproval => {
            Some(("See what is pending", "#pending".into()))
        }
        _ => workspaces
            .first()
            .map(|(w, _)| ("Open the workspace", format!("/workspaces/{}", w.id))),
    };
    let (state_label, state_text) = match &me.access {
        AccessState::SignedUp => (
            "Signed up",
            "You have an account but belong to no workspace yet.",
        ),
        AccessState::AwaitingAttachment { .. } => (
            "Awaiting attachment",
            "You are waiting to be attached to an organization's workspace.",
        ),
        AccessState::Attached { .. } => ("Attached", "You are a member of a workspace."),
    };
    let body = html! {
        (ui::lanes(me.next_step.lane))
        (ui::next_step(&me.next_step, go))
        section.card aria-labelledby="access-state" {
            h2 #access-state { "Your access state" }
            p { span.badge.badge-current { (state_label) } " " (state_text) }
            p.muted { "Signed in as " (me.account.name) " (" (me.account.email) ")." }
        }
        @if let AccessState::AwaitingAttachment { pending } = &me.access {
            section.card #pending aria-labelledby="pending-title" {
                h2 #pending-title { "Waiting for" }
                (form_errors(Errs::of(fe, "pending")))
                ul.plain {
                    @for p in pending {
                        li {
                            strong { (p.organization) }
                            @match &p.via {
                                AttachmentVia::Invitation { invitation_id, who_must_act } => {
                                    " invited you. Who must act: " (who_must_act) ". "
                                    (ui::action_button(ctx, &format!("/invitations/{invitation_id}/accept"), &format!("Accept the invitation to {}", p.organization), "button"))
                                }
                                AttachmentVia::JoinRequest { who_must_act, .. } => {
                                    ": you asked to join. Who must act: " (who_must_act) "."
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !workspaces.is_empty() {
            section.card aria-labelledby="ws-title" {
                h2 #ws-title { "Your workspaces" }
                ul.plain {
                    @for (w, roles) in &workspaces {
                        li {
                            a href=(format!("/workspaces/{}", w.id)) { (w.name) }
                            " — your roles: " (roles.iter().map(ui::role_label).collect::<Vec<_>>().join(", "))
                        }
                    }
                }
            }
        }
        div.two-col {
            (create_workspace_form(ctx, Errs::of(fe, "create-workspace")))
            (join_form(ctx, Errs::of(fe, "join")))
        }
    };
    ctx.page(status, "Account access", body)
}

fn create_workspace_form(ctx: &Ctx, e: Errs) -> Markup {
    html! {
        section.card #create-workspace aria-labelledby="create-ws-title" {
            h2 #create-ws-title { "Create a workspace" }
            p { "A workspace is your organization in the portal: members, projects, credentials and the review history live here. You become its owner." }
            form method="post" action="/workspaces" novalidate {
                (csrf(ctx))
                (form_errors(e))
                (Field::new("create-workspace", "name", "Organization name").required().input(e))
                button.button type="submit" { "Create workspace" }
            }
        }
    }
}

fn join_form(ctx: &Ctx, e: Errs) -> Markup {
    html! {
        section.card aria-labelledby="join-title" {
            h2 #join-title { "Ask to join a workspace" }
            p { "Ask a colleague for the workspace id (it starts with " code { "ws_" } "). An owner approves the request." }
            form method="post" action="/join-requests" novalidate {
                (csrf(ctx))
                (form_errors(e))
                (Field::new("join", "workspace_id", "Workspace id").required().input(e))
                (Field::new("join", "message", "Message to the owners (optional)").textarea(e, 3))
                button.button.secondary type="submit" { "Request to join" }
            }
        }
    }
}

pub async fn create_workspace(state: WebState, req: Request) -> Response {
    let (ctx, form) = match Ctx::post(&state, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let caller = match ctx.require_caller() {
        Ok(c) => c,
        Err(r) => return r,
    };
    match state
        .portal
        .workspaces()
        .create_workspace(caller, form.text("name"))
        .await
    {
        Ok(ws) => redirect(&format!("/workspaces/{}", ws.id)),
        Err(e) => match FormErrors::from_service("create-workspace", form, e) {
            Ok(fe) => render_home(&ctx, Some(fe)).await,
            Err(e) => ctx.error(e),
        },
    }
}

pub async fn request_to_join(state: WebState, req: Request) -> Response {
    let (ctx, form) = match Ctx::post(&state, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let caller = match ctx.require_caller() {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(ws) = form.text("workspace_id").trim().parse() else {
        let fe = FormErrors::new("join", form).field(
            "workspace_id",
            "a workspace id is `ws_` followed by 26 letters and digits",
        );
        return render_home(&ctx, Some(fe)).await;
    };
    let message = Some(form.text("message").to_owned());
    match state
        .portal
        .workspaces()
        .request_to_join(caller, ws, message)
        .await
    {
        Ok(_) => redirect("/#pending"),
        Err(ServiceError::NotFound { .. }) => {
            let fe = FormErrors::new("join", form)
                .field("workspace_id", "there is no workspace with this id");
            render_home(&ctx, Some(fe)).await
        }
        Err(e) => match FormErrors::from_service("join", form, e) {
            Ok(fe) => render_home(&ctx, Some(fe)).await,
            Err(e) => ctx.error(e),
        },
    }
}

pub async fn accept_invitation(state: WebState, req: Request) -> Response {
    let id = param(&req, "id");
    let (ctx, form) = match Ctx::post(&state, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let caller = match ctx.require_caller() {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(id) = id else { return ctx.not_found() };
    match state
        .portal
        .workspaces()
        .accept_invitation(caller, id)
        .await
    {
        Ok(m) => redirect(&format!("/workspaces/{}", m.workspace_id)),
        Err(e) => match FormErrors::from_service("pending", form, e) {
            Ok(fe) => render_home(&ctx, Some(fe)).await,
            Err(e) => ctx.error(e),
        },
    }
}

// ----- sign up / sign in / sign out -----

fn credentials_form(ctx: &Ctx, form: &str, action: &str, e: Errs, sign_up: bool) -> Markup {
    html! {
        form.narrow method="post" action=(action) novalidate {
            (csrf(ctx))
            (form_errors(e))
            (Field::new(form, "email", "E-mail address").kind("email").required().input(e))
            @if sign_up {
                (Field::new(form, "name", "Your name").required().input(e))
            }
            @if sign_up {
                (Field::new(form, "password", "Password").kind("password").required().help("At least 10 characters.").input(e))
            } @else {
                (Field::new(form, "password", "Password").kind("password").required().input(e))
            }
            button.button type="submit" { @if sign_up { "Create account" } @else { "Sign in" } }
        }
    }
}

pub async fn sign_up_page(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    render_sign_up(&ctx, None)
}

fn render_sign_up(ctx: &Ctx, fe: Option<FormErrors>) -> Response {
    let status = fe.as_ref().map_or(StatusCode::OK, |f| f.status());
    let e = Errs::of(fe.as_ref(), "sign-up");
    let body = html! {
        p { "Every person signs in as themselves: no shared logins. Already have an account? " a href="/sign-in" { "Sign in" } "." }
        (credentials_form(ctx, "sign-up", "/sign-up", e, true))
    };
    ctx.page(status, "Create an account", body)
}

pub async fn sign_up(state: WebState, req: Request) -> Response {
    let (ctx, form) = match Ctx::post(&state, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result = state
        .portal
        .accounts()
        .sign_up(form.text("email"), form.text("name"), form.text("password"))
        .await;
    match result {
        Ok(account) => signed_in(&ctx, Principal::Account(account.id), "/").await,
        Err(ServiceError::Conflict { message, .. }) => {
            let fe = FormErrors::new("sign-up", form).field("email", &message);
            render_sign_up(&ctx, Some(fe))
        }
        Err(e) => match FormErrors::from_service("sign-up", form, e) {
            Ok(fe) => render_sign_up(&ctx, Some(fe)),
            Err(e) => ctx.error(e),
        },
    }
}

pub async fn sign_in_page(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    render_sign_in(&ctx, None, false)
}

pub async fn staff_sign_in_page(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    render_sign_in(&ctx, None, true)
}

fn render_sign_in(ctx: &Ctx, fe: Option<FormErrors>, staff: bool) -> Response {
    let status = fe.as_ref().map_or(StatusCode::OK, |f| f.status());
    let e = Errs::of(fe.as_ref(), "sign-in");
    let body = html! {
        @if staff {
            p { "For the API provider's admins and reviewers. Partner developers " a href="/sign-in" { "sign in here" } "." }
            (super::sso::buttons(&ctx.state, sso_oidc::Audience::Staff))
            @if ctx.state.sso.as_ref().is_some_and(|s| s.staff_passwords_off) {
                details open[fe.is_some()] {
                    summary { "Break-glass sign-in with a password" }
                    (credentials_form(ctx, "sign-in", "/staff/sign-in", e, false))
                }
            } @else {
                (credentials_form(ctx, "sign-in", "/staff/sign-in", e, false))
            }
        } @else {
            p { "New here? " a href="/sign-up" { "Create an account" } "." }
            (super::sso::buttons(&ctx.state, sso_oidc::Audience::Partners))
            (credentials_form(ctx, "sign-in", "/sign-in", e, false))
        }
    };
    ctx.page(
        status,
        if staff {
            "Provider staff sign-in"
        } else {
            "Sign in"
        },
        body,
    )
}

fn client_addr(req: &Request) -> String {
    req.remote_addr()
        .as_socket_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub async fn sign_in(state: WebState, req: Request) -> Response {
    authenticate(state, req, false).await
}

pub async fn staff_sign_in(state: WebState, req: Request) -> Response {
    authenticate(state, req, true).await
}

async fn authenticate(state: WebState, req: Request, staff: bool) -> Response {
    let addr = client_addr(&req);
    let (ctx, form) = match Ctx::post(&state, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let email = form.text("email").trim().to_lowercase();
    let key = format!("{}:{email}", if staff { "staff" } else { "account" });
    let now = state.clock.now();
    let wait = state
        .throttle
        .lock()
        .expect("throttle lock")
        .retry_after(&key, &addr, now);
    if let Some(secs) = wait {
        let mut resp = ctx.message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts",
            &format!(
                "Too many failed sign-ins. Wait {} minute(s) and try again.",
                (secs + 59) / 60
            ),
        );
        if let Ok(v) = secs.to_string().parse() {
            resp.headers_mut().insert("Retry-After", v);
        }
        return resp;
    }
    let principal = if staff {
        state
            .portal
            .accounts()
            .authenticate_staff(&email, form.text("password"))
            .await
            .map(|s| Principal::Staff(s.id))
    } else {
        state
            .portal
            .accounts()
            .authenticate(&email, form.text("password"))
            .await
            .map(|a| Principal::Account(a.id))
    };
    match principal {
        Ok(p) => {
            state
                .throttle
                .lock()
                .expect("throttle lock")
                .succeeded(&key);
            // A new session id at every sign-in: the old one (if any) ends here.
            if let Some(s) = &ctx.session {
                let _ = state.tokens.delete_token(&s.token_hash).await;
            }
            signed_in(&ctx, p, if staff { "/staff" } else { "/" }).await
        }
        Err(ServiceError::Unauthenticated) => {
            state
                .throttle
                .lock()
                .expect("throttle lock")
                .failed(&key, &addr, now);
            let mut fe = FormErrors::new("sign-in", form);
            fe.general = Some("The e-mail address or the password is not right.".into());
            fe.status = 401;
            render_sign_in(&ctx, Some(fe), staff)
        }
        Err(e) => ctx.error(e),
    }
}

async fn signed_in(ctx: &Ctx, p: Principal, to: &str) -> Response {
    match session::start(&ctx.state, p).await {
        Ok(cookie) => {
            let mut resp = redirect(to);
            ctx.add_cookie(&mut resp, &cookie);
            resp
        }
        Err(m) => ctx.error(ServiceError::Internal(m)),
    }
}

pub async fn sign_out(state: WebState, req: Request) -> Response {
    let (ctx, _form) = match Ctx::post(&state, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let to = match ctx.caller() {
        Some(Caller::Staff { .. }) => "/staff/sign-in",
        _ => "/sign-in",
    };
    if let Some(s) = &ctx.session {
        let _ = state.tokens.delete_token(&s.token_hash).await;
    }
    let mut resp = redirect(to);
    ctx.add_cookie(
        &mut resp,
        &session::set_cookie(&state, SESSION_COOKIE, "", 0),
    );
    resp
}
