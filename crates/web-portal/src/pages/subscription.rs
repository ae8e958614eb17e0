//! The subscription: stepper, notices, Sandbox Credentials, View Test Data, Submit for Review
//! (the plan's multi-step form, one step per page, ending in a review step), withdraw, the
//! production credential card, and Regenerate / Rotate Secret / Revoke.

use maud::{Markup, html};
use onboarding_core::credential::{Credential, CredentialKind, GracePeriod, IssuedSecret};
use onboarding_core::ids::{CredentialId, SubscriptionId};
use onboarding_core::pipeline::{PhaseKind, SandboxAccess};
use onboarding_core::plan::TestDataType;
use onboarding_core::project::Environment;
use onboarding_core::roles::{Action, RoleSet, allowed};
use onboarding_core::services::{NewCredentialKind, SubscriptionView};
use onboarding_core::{Caller, ServiceError};
use poem::http::StatusCode;
use poem::{Request, Response};

use super::macros::{caller_or_redirect, post_ctx};
use crate::WebState;
use crate::http::{Ctx, Errs, FormErrors, param, redirect};
use crate::ui::{self, Field, csrf, form_errors};

mod submit;
pub use submit::{submit_page, submit_step};

pub async fn page(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let Some(id) = param::<SubscriptionId>(&req, "id") else {
        return ctx.not_found();
    };
    render(&ctx, id, None).await
}

fn kind_label(k: &CredentialKind) -> &'static str {
    match k {
        CredentialKind::ApiKey => "API key",
        CredentialKind::OauthClient { .. } => "OAuth client",
    }
}

async fn roles_in(ctx: &Ctx, caller: Caller, v: &SubscriptionView) -> Option<RoleSet> {
    ctx.state
        .portal
        .workspaces()
        .my_workspaces(caller)
        .await
        .ok()?
        .into_iter()
        .find(|(w, _)| w.id == v.subscription.workspace_id)
        .map(|(_, r)| r)
}

fn credential_table(
    ctx: &Ctx,
    creds: &[Credential],
    can_manage: bool,
    fe: Option<&FormErrors>,
) -> Markup {
    html! {
        @if creds.is_empty() { p { "No credentials yet." } }
        @else {
            ul.credentials {
                @for c in creds {
                    li.credential {
                        div.credential-head {
                            strong { (c.name) } " — " (kind_label(&c.kind)) " "
                            code { (c.secret.prefix) "…" (c.secret.last4) }
                            @if let CredentialKind::OauthClient { client_id } = &c.kind { " client id " code { (client_id) } }
                            " "
                            @if c.is_active() { span.badge.badge-passed { "active" } } @else { span.badge.badge-failed { "revoked" } }
                        }
                        @if let Some(prev) = &c.previous {
                            p.muted { "Previous secret …" (prev.last4) " keeps working until " (ui::when(prev.expires_at)) "." }
                        }
                        @if can_manage && c.is_active() {
                            @let form_id = format!("cred-{}", c.id);
                            @let e = Errs::of(fe, &form_id);
                            (form_errors(e))
                            div.credential-actions {
                                form.inline method="post" action=(format!("/credentials/{}/regenerate", c.id)) {
                                    (csrf(ctx))
                                    button.button.small.secondary type="submit" aria-label=(format!("Regenerate {}", c.name)) { "Regenerate" }
                                }
                                form.inline.rotate method="post" action=(format!("/credentials/{}/rotate", c.id)) novalidate {
                                    (csrf(ctx))
                                    (Field::new(&form_id, "grace_period_hours", "Grace period (hours, at most 168)").kind("number").value("24").aliases(&["grace_period_seconds"]).input(e))
                                    button.button.small.secondary type="submit" aria-label=(format!("Rotate Secret of {}", c.name)) { "Rotate Secret" }
                                }
                                form.inline method="post" action=(format!("/credentials/{}/revoke", c.id)) {
                                    (csrf(ctx))
                                    button.button.small.danger type="submit" aria-label=(format!("Revoke {}", c.name)) { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn create_credential_form(ctx: &Ctx, id: SubscriptionId, env: Environment, e: Errs) -> Markup {
    let form_id = format!("create-{}", env.as_str());
    html! {
        form.create-credential method="post" action=(format!("/subscriptions/{id}/credentials")) novalidate {
            (csrf(ctx))
            (form_errors(e))
            input type="hidden" name="environment" value=(env.as_str());
            (Field::new(&form_id, "name", "Credential name").required().value(if env == Environment::Sandbox { "Sandbox key" } else { "Production key" }).input(e))
            (Field::new(&form_id, "kind", "Kind").select(e, &[("api_key".into(), "API key".into()), ("oauth_client".into(), "OAuth client (client credentials)".into())]))
            button.button type="submit" {
                @if env == Environment::Sandbox { "Create sandbox credential" } @else { "Create production credential" }
            }
        }
    }
}

async fn render(ctx: &Ctx, id: SubscriptionId, fe: Option<FormErrors>) -> Response {
    let caller = caller_or_redirect!(ctx);
    let p = &ctx.state.portal;
    let v = match p.pipeline().subscription_view(caller, id).await {
        Ok(v) => v,
        Err(e) => return ctx.error(e),
    };
    let project = match p
        .projects()
        .project_overview(caller, v.subscription.project_id)
        .await
    {
        Ok(o) => o.project,
        Err(e) => return ctx.error(e),
    };
    let history = match p.pipeline().decision_history(caller, id).await {
        Ok(h) => h,
        Err(e) => return ctx.error(e),
    };
    let roles = roles_in(ctx, caller, &v)
        .await
        .unwrap_or_else(RoleSet::empty);
    let can = |a: Action| allowed(roles, a);
    let status = fe.as_ref().map_or(StatusCode::OK, |f| f.status());
    let fe = fe.as_ref();
    let s = &v.subscription;
    let phase = s.phase.kind();
    let go = match v.next_step.action {
        onboarding_core::next_step::StepAction::CreateSandboxCredential => Some((
            "Create a sandbox credential",
            "#sandbox-credentials".to_owned(),
        )),
        onboarding_core::next_step::StepAction::SubmitForReview => {
            Some(("Submit for Review", format!("/subscriptions/{id}/submit")))
        }
        onboarding_core::next_step::StepAction::CloneToProduction
        | onboarding_core::next_step::StepAction::CreateProductionCredential
        | onboarding_core::next_step::StepAction::CompletePayment => {
            Some(("Go to the production card", "#production".to_owned()))
        }
        onboarding_core::next_step::StepAction::VerifyWebhookEndpoint => Some((
            "Add a webhook endpoint",
            format!("/projects/{}#wh-title", s.project_id),
        )),
        onboarding_core::next_step::StepAction::CompleteOperatingPass
        | onboarding_core::next_step::StepAction::OpenDashboard => s
            .production_project_id
            .map(|p| ("Open the production project", format!("/projects/{p}"))),
        onboarding_core::next_step::StepAction::ClearGate => {
            Some(("See the gates", "#gates".to_owned()))
        }
        _ => None,
    };
    let title = format!("{} — {}", project.name, v.plan_name);
    let body = html! {
        p.breadcrumb {
            a href=(format!("/workspaces/{}", s.workspace_id)) { "Workspace" } " / "
            a href=(format!("/projects/{}", project.id)) { (project.name) } " / Subscription to " (v.plan_name)
        }
        (ui::stepper(&v.stepper))
        @if let Some(n) = &v.notice { (ui::notice(n)) }
        (ui::next_step(&v.next_step, go))
        @match s.sandbox_access {
            SandboxAccess::Requested { .. } => div.notice.notice-warn role="alert" { h2 { "Sandbox access requested" } p { "This plan grants sandbox access after approval. Who must act: the API provider's reviewers." } },
            SandboxAccess::Declined { .. } => div.notice.notice-error role="alert" { h2 { "Sandbox access declined" } },
            SandboxAccess::Granted { .. } => {},
        }
        section.card #sandbox-credentials aria-labelledby="sbx-title" {
            h2 #sbx-title { "Sandbox Credentials" }
            (credential_table(ctx, &v.sandbox_credentials, can(Action::ManageSandboxCredential), fe))
            @if s.sandbox_access.is_granted() && phase != PhaseKind::Rejected && can(Action::CreateSandboxCredential) {
                (create_credential_form(ctx, id, Environment::Sandbox, Errs::of(fe, "create-sandbox")))
            }
            @if s.sandbox_access.is_granted() {
                p { a.button.secondary href=(format!("/subscriptions/{id}/test-data")) { "View Test Data" } }
            }
        }
        section.card #submit aria-labelledby="submit-title" {
            h2 #submit-title { "Production review" }
            @let e = Errs::of(fe, "submit");
            (form_errors(e))
            @match (phase, &v.submit_blocked_by) {
                (PhaseKind::Sandbox, None) if can(Action::SubmitForReview) => {
                    p { "Sandbox credentials exist: the subscription can be submitted for review." }
                    p { a.button href=(format!("/subscriptions/{id}/submit")) { (v.submit_label) } }
                }
                (PhaseKind::Sandbox, None) => {
                    button.button type="button" disabled aria-describedby="submit-reason" { (v.submit_label) }
                    p #submit-reason { "Submitting needs the technical lead or owner role." }
                }
                (PhaseKind::Sandbox, Some(reason)) => {
                    button.button type="button" disabled aria-describedby="submit-reason" { (v.submit_label) }
                    p #submit-reason { (reason) }
                }
                (PhaseKind::InReview, _) => {
                    button.button type="button" disabled { (v.submit_label) }
                    p { "The API provider's team is reviewing the submission." }
                    @if can(Action::SubmitForReview) {
                        form.inline method="post" action=(format!("/subscriptions/{id}/withdraw")) {
                            (csrf(ctx))
                            input type="hidden" name="version" value=(s.version);
                            button.button.secondary type="submit" { "Withdraw the submission" }
                        }
                    }
                }
                (_, _) => { p { "Status: " (v.submit_label) "." } }
            }
            @if phase != PhaseKind::Production && phase != PhaseKind::Rejected {
                h3 #gates { "What stands between this subscription and production" }
                p { (v.gates.passed_count()) " of " (v.gates.gates.len()) " gates passed"
                    @if let Some(g) = v.gates.remaining_gate() { "; the remaining gate is " strong { (g.gate.title()) } } "." }
                (ui::gate_list(&v.gates.gates))
            }
        }
        section.card #production aria-labelledby="prod-title" {
            h2 #prod-title { "Production Credentials" }
            @if let Some(reason) = v.production_lock {
                div.locked {
                    p { span.badge.badge-locked { "Locked" } " " (reason.message()) }
                    @if v.paid { p.muted { "Payment: complete." } }
                }
            } @else {
                p { span.badge.badge-passed { "Unlocked" } " The integration was approved"
                    @if v.paid { " and payment is complete" } "." }
                @match s.production_project_id {
                    None => {
                        p { "Clone the sandbox project's shape (endpoints, events, webhook targets, alert thresholds, purpose) into a new production project. No credential is copied; webhook targets must verify again." }
                        @if can(Action::CloneToProduction) {
                            form method="post" action=(format!("/subscriptions/{id}/clone")) {
                                (csrf(ctx))
                                (form_errors(Errs::of(fe, "clone")))
                                button.button type="submit" { "Clone to production" }
                            }
                        }
                    }
                    Some(pp) => {
                        p { "Production project: " a href=(format!("/projects/{pp}")) { "open it" } "." }
                        (credential_table(ctx, &v.production_credentials, can(Action::ManageProductionCredential), fe))
                        @if can(Action::CreateProductionCredential) {
                            (create_credential_form(ctx, id, Environment::Production, Errs::of(fe, "create-production")))
                        }
                    }
                }
            }
        }
        (super::history::card(&history))
    };
    ctx.page(status, &title, body)
}

/// The secret of a created, regenerated or rotated credential: shown once, in this response.
fn secret_page(
    ctx: &Ctx,
    title: &str,
    c: &Credential,
    secret: &IssuedSecret,
    grace: bool,
) -> Response {
    let body = html! {
        div.notice.notice-warn role="alert" {
            h2 { "Save this secret now" }
            p { "It is shown only once: the portal keeps only a hash of it. If you lose it, regenerate or rotate the credential." }
        }
        section.card {
            dl.facts {
                div { dt { "Credential" } dd { (c.name) " (" (kind_label(&c.kind)) ", " (c.environment.as_str()) ")" } }
                @if let CredentialKind::OauthClient { client_id } = &c.kind {
                    div { dt { "Client id" } dd { code #client-id { (client_id) } } }
                }
                div { dt { "Secret" } dd { code.secret #secret-value { (secret.expose()) } } }
                @if grace {
                    @if let Some(prev) = &c.previous {
                        div { dt { "Grace deadline" } dd { "The previous secret (…" (prev.last4) ") keeps working until " (ui::when(prev.expires_at)) "." } }
                    }
                }
            }
            p { a.button href=(format!("/subscriptions/{}", c.subscription_id)) { "I have saved it — back to the subscription" } }
        }
    };
    ctx.ok(title, body)
}

pub async fn create_credential(state: WebState, req: Request) -> Response {
    let id = param::<SubscriptionId>(&req, "id");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    let env = Environment::parse(form.text("environment")).unwrap_or(Environment::Sandbox);
    let form_id = format!("create-{}", env.as_str());
    let kind = match form.text("kind") {
        "oauth_client" => NewCredentialKind::OauthClient,
        _ => NewCredentialKind::ApiKey,
    };
    match state
        .portal
        .credentials()
        .create_credential(caller, id, env, kind, form.text("name"))
        .await
    {
        Ok(created) => {
            let title = match env {
                Environment::Sandbox => "Sandbox credential created",
                Environment::Production => "Production credential created",
            };
            secret_page(&ctx, title, &created.credential, &created.secret, false)
        }
        Err(e) => match FormErrors::from_service(&form_id, form, e) {
            Ok(fe) => render(&ctx, id, Some(fe)).await,
            Err(e) => ctx.error(e),
        },
    }
}

pub async fn credential_action(state: WebState, req: Request) -> Response {
    let id = param::<CredentialId>(&req, "id");
    let op = req.raw_path_param("op").unwrap_or("").to_owned();
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    let p = &state.portal;
    let cred = match p.credentials().credential(caller, id).await {
        Ok(c) => c,
        Err(e) => return ctx.error(e),
    };
    let form_id = format!("cred-{id}");
    let back = cred.subscription_id;
    let result = match op.as_str() {
        "regenerate" => p
            .credentials()
            .regenerate_credential(caller, id, None)
            .await
            .map(|c| Some((c, false))),
        "rotate" => {
            let hours = form.text("grace_period_hours").trim();
            let grace = if hours.is_empty() {
                Ok(GracePeriod::DEFAULT)
            } else {
                match hours.parse::<f64>() {
                    Ok(h) if h.is_finite() => {
                        GracePeriod::from_seconds((h * 3600.0).round() as i64)
                            .map_err(ServiceError::from)
                    }
                    _ => Err(ServiceError::Invalid(
                        onboarding_core::values::FieldError::new(
                            "grace_period_hours",
                            "enter a number of hours, e.g. 24",
                        ),
                    )),
                }
            };
            match grace {
                Ok(g) => p
                    .credentials()
                    .rotate_credential(caller, id, g, None)
                    .await
                    .map(|c| Some((c, true))),
                Err(e) => Err(e),
            }
        }
        "revoke" => p
            .credentials()
            .revoke_credential(caller, id)
            .await
            .map(|_| None),
        _ => return ctx.not_found(),
    };
    match result {
        Ok(Some((c, grace))) => {
            let title = if grace {
                "Secret rotated"
            } else {
                "Secret regenerated"
            };
            secret_page(&ctx, title, &c.credential, &c.secret, grace)
        }
        Ok(None) => redirect(&format!("/subscriptions/{back}")),
        Err(e) => match FormErrors::from_service(&form_id, form, e) {
            Ok(fe) => render(&ctx, back, Some(fe)).await,
            Err(e) => ctx.error(e),
        },
    }
}

pub async fn withdraw(state: WebState, req: Request) -> Response {
    let id = param::<SubscriptionId>(&req, "id");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    let version = form.text("version").parse().ok();
    match state.portal.pipeline().withdraw(caller, id, version).await {
        Ok(_) => redirect(&format!("/subscriptions/{id}")),
        Err(e) => match FormErrors::from_service("submit", form, e) {
            Ok(fe) => render(&ctx, id, Some(fe)).await,
            Err(e) => ctx.error(e),
        },
    }
}

pub async fn clone_to_production(state: WebState, req: Request) -> Response {
    let id = param::<SubscriptionId>(&req, "id");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    match state
        .portal
        .projects()
        .clone_to_production(caller, id)
        .await
    {
        Ok(c) if c.webhook_endpoints.is_empty() => {
            redirect(&format!("/subscriptions/{id}#production"))
        }
        // The copied endpoints' new signing secrets are shown once, in this response, on
        // the production project's page.
        Ok(c) => {
            let shown = c
                .webhook_endpoints
                .into_iter()
                .map(|e| super::project::ShownSecret {
                    title: format!("Production webhook endpoint: {}", e.endpoint.url),
                    secret: e.secret,
                    note: Some("A new signing secret, not the sandbox endpoint's: configure the production receiver with it. The endpoint is pending until it answers its verification challenge.".into()),
                })
                .collect();
            super::project::render_shown(&ctx, c.project.id, None, shown).await
        }
        Err(e) => match FormErrors::from_service("clone", form, e) {
            Ok(fe) => render(&ctx, id, Some(fe)).await,
            Err(e) => ctx.error(e),
        },
    }
}

pub async fn test_data(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let caller = caller_or_redirect!(ctx);
    let Some(id) = param::<SubscriptionId>(&req, "id") else {
        return ctx.not_found();
    };
    let v = match state.portal.pipeline().subscription_view(caller, id).await {
        Ok(v) => v,
        Err(e) => return ctx.error(e),
    };
    let type_label = |t: TestDataType| match t {
        TestDataType::String => "string",
        TestDataType::Number => "number",
        TestDataType::Boolean => "boolean",
        TestDataType::Json => "json",
        TestDataType::Url => "url",
    };
    let body = html! {
        p.breadcrumb { a href=(format!("/subscriptions/{id}")) { "Subscription to " (v.plan_name) } " / Sandbox Test Data" }
        p { "Read-only values the API provider configured for the sandbox. Copy what you need; they cannot be edited here." }
        @if v.test_data.is_empty() {
            p { @if v.subscription.sandbox_access.is_granted() { "This plan has no sandbox test data." } @else { "Test data is shown once sandbox access is granted." } }
        } @else {
            table.test-data {
                caption.visually-hidden { "Sandbox test data" }
                thead { tr { th scope="col" { "Type" } th scope="col" { "Name" } th scope="col" { "Description" } th scope="col" { "Value" } } }
                tbody {
                    @for t in &v.test_data {
                        tr {
                            td { span.badge { (type_label(t.kind)) } }
                            td { code { (t.name) } }
                            td { (t.description) }
                            td { code.value { (t.value) } }
                        }
                    }
                }
            }
        }
        p { a href=(format!("/subscriptions/{id}")) { "Back to the subscription" } }
    };
    ctx.ok("Sandbox Test Data", body)
}
