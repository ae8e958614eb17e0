//! Provider staff: the review page (gate checklist, sign-off, approve,
//! reject, request changes, sandbox access, payment confirmation).

use maud::html;
use onboarding_core::gates::{Gate, GateActor, GateState};
use onboarding_core::ids::SubscriptionId;
use onboarding_core::pipeline::{PhaseKind, SandboxAccess};
use onboarding_core::plan::Pricing;
use onboarding_core::roles::StaffRole;
use onboarding_core::{Caller, ServiceError};
use poem::http::StatusCode;
use poem::{Request, Response};
use rust_decimal::Decimal;

use super::macros::{caller_or_redirect, post_ctx};
use crate::WebState;
use crate::http::{Ctx, Errs, FormErrors, param, redirect};
use crate::ui::{self, Field, csrf, form_errors};

pub(crate) fn staff_caller(ctx: &Ctx) -> Result<Caller, Response> {
    match ctx.caller() {
        Some(c @ Caller::Staff { .. }) => Ok(c),
        Some(_) => Err(ctx.message(
            StatusCode::FORBIDDEN,
            "Provider staff only",
            "This page is for the API provider's reviewers and admins.",
        )),
        None => Err(redirect("/staff/sign-in")),
    }
}

pub async fn review(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let Some(id) = param::<SubscriptionId>(&req, "id") else {
        return ctx.not_found();
    };
    render(&ctx, id, None).await
}

async fn render(ctx: &Ctx, id: SubscriptionId, fe: Option<FormErrors>) -> Response {
    let caller = match staff_caller(ctx) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let admin = matches!(
        caller,
        Caller::Staff {
            role: StaffRole::Admin,
            ..
        }
    );
    let p = &ctx.state.portal;
    let v = match p.pipeline().subscription_view(caller, id).await {
        Ok(v) => v,
        Err(e) => return ctx.error(e),
    };
    let s = &v.subscription;
    let (ws, project, plan) = match (
        p.workspaces()
            .workspace_overview(caller, s.workspace_id)
            .await,
        p.projects().project_overview(caller, s.project_id).await,
        p.catalog().plan(s.plan_id).await,
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b.project, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return ctx.error(e),
    };
    let history = match p.pipeline().decision_history(caller, id).await {
        Ok(h) => h,
        Err(e) => return ctx.error(e),
    };
    let status = fe.as_ref().map_or(StatusCode::OK, |f| f.status());
    let fe = fe.as_ref();
    let phase = s.phase.kind();
    let title = format!("Review: {} / {}", ws.workspace.name, project.name);
    let fee = match &plan.pricing {
        Pricing::Paid {
            currency,
            monthly_fee,
            ..
        } => Some((monthly_fee.to_string(), currency.as_str().to_owned())),
        Pricing::Free => None,
    };
    let body = html! {
        p.breadcrumb { a href="/staff" { "Go-live queue" } " / " (ws.workspace.name) " / " (project.name) }
        (ui::stepper(&v.stepper))
        @if let Some(n) = &v.notice { (ui::notice(n)) }
        (ui::next_step(&v.next_step, None))
        section.card aria-labelledby="sub-facts" {
            h2 #sub-facts { "Submission" }
            dl.facts {
                div { dt { "Organization" } dd { (ws.workspace.name) } }
                div { dt { "Project" } dd { (project.name) " — " (project.purpose) } }
                div { dt { "Plan" } dd { (v.plan_name) @if plan.pricing.is_paid() { " (paid; payment " @if v.paid { "complete" } @else { "not recorded" } ")" } } }
                div { dt { "Phase" } dd { (phase.as_str().replace('_', " ")) } }
                div { dt { "Sandbox access" } dd { (s.sandbox_access.as_str()) } }
                div { dt { "Sandbox credentials" } dd { (v.sandbox_credentials.iter().filter(|c| c.is_active()).count()) " active" } }
            }
            @if let (Some(answers), Some(form)) = (&s.answers, &v.form) {
                h3 { "Answers" }
                @for step in &form.steps {
                    h4 { (step.title) }
                    dl.facts {
                        @for f in &step.fields {
                            div { dt { (f.label) } dd {
                                @match answers.get(&f.key) {
                                    Some(serde_json::Value::String(t)) => (t),
                                    Some(serde_json::Value::Bool(b)) => (if *b { "Yes" } else { "No" }),
                                    Some(serde_json::Value::Array(a)) => (a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", ")),
                                    _ => "—",
                                }
                            } }
                        }
                    }
                }
            }
        }
        section.card #gates aria-labelledby="gates-title" {
            h2 #gates-title { "Gate checklist" }
            p { (v.gates.passed_count()) " of " (v.gates.gates.len()) " passed"
                @if let Some(g) = v.gates.remaining_gate() { "; the remaining gate is " strong { (g.gate.title()) } } "." }
            (form_errors(Errs::of(fe, "sign-off")))
            ol.gates {
                @for g in &v.gates.gates {
                    @let (class, label) = match &g.state { GateState::Passed => ("passed", "Passed"), GateState::Pending { .. } => ("pending", "Pending"), GateState::Failed { .. } => ("failed", "Failed") };
                    li class=(format!("gate {class}")) {
                        span.gate-title { (g.gate.title()) } " " span class=(format!("badge badge-{class}")) { (label) }
                        @match &g.state {
                            GateState::Passed => {}
                            GateState::Pending { missing, actor } | GateState::Failed { reason: missing, actor } => {
                                p.gate-missing { (missing) ". Who must act: " (ui::gate_actor_label(*actor)) "." }
                                @if *actor == GateActor::Reviewer && g.gate.needs_sign_off() && phase == PhaseKind::InReview {
                                    form.inline method="post" action=(format!("/staff/subscriptions/{id}/sign-off")) {
                                        (csrf(ctx))
                                        input type="hidden" name="gate" value=(g.gate.as_str());
                                        button.button.small type="submit" { "Sign off " (g.gate.title().to_lowercase()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if phase == PhaseKind::InReview {
            section.card aria-labelledby="decide-title" {
                h2 #decide-title { "Decision" }
                @let e = Errs::of(fe, "approve");
                form method="post" action=(format!("/staff/subscriptions/{id}/approve")) {
                    (csrf(ctx))
                    (form_errors(e))
                    input type="hidden" name="version" value=(s.version);
                    button.button type="submit" disabled[!v.gates.all_passed()] aria-describedby=[(!v.gates.all_passed()).then_some("approve-why")] { "Approve" }
                    @if !v.gates.all_passed() { p #approve-why { "Approval needs every gate to pass." } }
                }
                div.two-col {
                    @let e = Errs::of(fe, "request-changes");
                    form method="post" action=(format!("/staff/subscriptions/{id}/request-changes")) novalidate {
                        (csrf(ctx))
                        h3 { "Request changes" }
                        (form_errors(e))
                        input type="hidden" name="version" value=(s.version);
                        (Field::new("request-changes", "notes", "Notes for the developer").required().help("Required: what must change before the next submission.").textarea(e, 4))
                        button.button.secondary type="submit" { "Request changes" }
                    }
                    @let e = Errs::of(fe, "reject");
                    form method="post" action=(format!("/staff/subscriptions/{id}/reject")) novalidate {
                        (csrf(ctx))
                        h3 { "Reject" }
                        (form_errors(e))
                        input type="hidden" name="version" value=(s.version);
                        (Field::new("reject", "notes", "Notes (optional)").textarea(e, 4))
                        button.button.danger type="submit" { "Reject" }
                    }
                }
            }
        }
        @if matches!(s.sandbox_access, SandboxAccess::Requested { .. }) && phase == PhaseKind::Sandbox {
            section.card aria-labelledby="access-title" {
                h2 #access-title { "Sandbox access" }
                @let e = Errs::of(fe, "access");
                form method="post" action=(format!("/staff/subscriptions/{id}/grant-access")) {
                    (csrf(ctx))
                    (form_errors(e))
                    button.button type="submit" { "Grant sandbox access" }
                }
                form method="post" action=(format!("/staff/subscriptions/{id}/decline-access")) novalidate {
                    (csrf(ctx))
                    (Field::new("access", "notes", "Notes (optional)").textarea(e, 3))
                    button.button.danger type="submit" { "Decline sandbox access" }
                }
            }
        }
        @if admin && plan.pricing.is_paid() && !v.paid {
            section.card aria-labelledby="pay-title" {
                h2 #pay-title { "Confirm payment" }
                @let e = Errs::of(fe, "payment");
                form method="post" action=(format!("/staff/subscriptions/{id}/confirm-payment")) novalidate {
                    (csrf(ctx))
                    (form_errors(e))
                    (Field::new("payment", "amount", "Amount").required().value(fee.as_ref().map(|f| f.0.as_str()).unwrap_or("")).input(e))
                    (Field::new("payment", "currency", "Currency").required().value(fee.as_ref().map(|f| f.1.as_str()).unwrap_or("")).aliases(&["pricing.currency"]).input(e))
                    (Field::new("payment", "reference", "Payment reference").required().help("The bank transfer or invoice reference.").input(e))
                    button.button type="submit" { "Confirm payment" }
                }
            }
        }
        (super::history::card(&history))
        @if admin && phase == PhaseKind::Rejected {
            section.card {
                h2 { "Reopen" }
                (form_errors(Errs::of(fe, "reopen")))
                (ui::action_button(ctx, &format!("/staff/subscriptions/{id}/reopen"), "Reopen to sandbox", "button secondary"))
            }
        }
    };
    ctx.page(status, &title, body)
}

pub async fn review_action(state: WebState, req: Request) -> Response {
    let id = param::<SubscriptionId>(&req, "id");
    let op = req.raw_path_param("op").unwrap_or("").to_owned();
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    if !ui::is_staff(caller) {
        return ctx.error(ServiceError::Forbidden {
            action: onboarding_core::roles::Attempt::Staff(
                onboarding_core::roles::StaffAction::Review,
            ),
        });
    }
    let Some(id) = id else { return ctx.not_found() };
    let p = &state.portal;
    let version = form.text("version").parse::<i64>().ok();
    let notes = form.text("notes");
    let (form_id, result): (&str, Result<(), ServiceError>) = match op.as_str() {
        "approve" => (
            "approve",
            p.pipeline().approve(caller, id, version).await.map(drop),
        ),
        "reject" => (
            "reject",
            p.pipeline()
                .reject(caller, id, Some(notes), version)
                .await
                .map(drop),
        ),
        "request-changes" => (
            "request-changes",
            p.pipeline()
                .request_changes(caller, id, notes, version)
                .await
                .map(drop),
        ),
        "sign-off" => match Gate::parse(form.text("gate")) {
            Some(g) => (
                "sign-off",
                p.pipeline().sign_off_gate(caller, id, g).await.map(drop),
            ),
            None => return ctx.not_found(),
        },
        "grant-access" => (
            "access",
            p.pipeline()
                .decide_sandbox_access(caller, id, true, None)
                .await
                .map(drop),
        ),
        "decline-access" => (
            "access",
            p.pipeline()
                .decide_sandbox_access(caller, id, false, Some(notes))
                .await
                .map(drop),
        ),
        "reopen" => (
            "reopen",
            p.pipeline().reopen(caller, id, None).await.map(drop),
        ),
        "confirm-payment" => match form.text("amount").trim().parse::<Decimal>() {
            Ok(amount) => (
                "payment",
                p.billing()
                    .confirm_payment(
                        caller,
                        id,
                        amount,
                        form.text("currency").trim(),
                        form.text("reference"),
                    )
                    .await
                    .map(drop),
            ),
            Err(_) => {
                let fe = FormErrors::new("payment", form)
                    .field("amount", "enter an amount such as 49.00");
                return render(&ctx, id, Some(fe)).await;
            }
        },
        _ => return ctx.not_found(),
    };
    match result {
        Ok(()) => {
            if matches!(op.as_str(), "approve" | "reject" | "request-changes") {
                redirect("/staff")
            } else {
                redirect(&format!("/staff/subscriptions/{id}"))
            }
        }
        Err(e) => match FormErrors::from_service(form_id, form, e) {
            Ok(fe) => render(&ctx, id, Some(fe)).await,
            Err(e) => ctx.error(e),
        },
    }
}
