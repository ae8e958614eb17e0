//! The project: environment posture, the production hand-off, credentials, webhook endpoints,
//! alert thresholds, the first live operating pass, and drift from the sandbox source.

use chrono::{DateTime, TimeDelta, Utc};
use maud::{Markup, html};
use onboarding_core::ServiceError;
use onboarding_core::audit::{Actor, AuditEvent};
use onboarding_core::ids::{AlertThresholdId, ProjectId};
use onboarding_core::pipeline::PhaseKind;
use onboarding_core::project::{Drift, Environment};
use onboarding_core::roles::{Action, RoleSet, allowed};
use onboarding_core::services::{ExportScope, ReportRecord};
use onboarding_core::usage::{AlertMetric, Granularity};
use onboarding_core::webhook::{Delivery, EndpointHealth};
use poem::http::StatusCode;
use poem::{Request, Response};
use rust_decimal::Decimal;

use super::exports::{check_export, export_form, query_form, report_table};
use super::macros::{caller_or_redirect, post_ctx};
use crate::WebState;
use crate::http::{Ctx, Errs, FormErrors, param, redirect};
use crate::ui::{self, Field, csrf, form_errors};

mod webhooks;
use webhooks::webhooks_section;
pub use webhooks::{create_webhook, retry_delivery, webhook_action};

fn metric_label(m: AlertMetric) -> &'static str {
    match m {
        AlertMetric::RequestsPerDay => "Requests per day",
        AlertMetric::ErrorRatePercent => "Error rate (%) per day",
        AlertMetric::SpendPerMonth => "Spend per month",
    }
}

fn metric_code(m: AlertMetric) -> &'static str {
    match m {
        AlertMetric::RequestsPerDay => "requests_per_day",
        AlertMetric::ErrorRatePercent => "error_rate_percent",
        AlertMetric::SpendPerMonth => "spend_per_month",
    }
}

const METRICS: [AlertMetric; 3] = [
    AlertMetric::RequestsPerDay,
    AlertMetric::ErrorRatePercent,
    AlertMetric::SpendPerMonth,
];

pub async fn page(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let Some(id) = param::<ProjectId>(&req, "id") else {
        return ctx.not_found();
    };
    render(&ctx, id, None, None).await
}

async fn render(
    ctx: &Ctx,
    id: ProjectId,
    fe: Option<FormErrors>,
    shown: Option<ShownSecret>,
) -> Response {
    render_shown(ctx, id, fe, shown.into_iter().collect()).await
}

/// The project page with secrets shown once above it (a clone shows one per copied endpoint).
pub(crate) async fn render_shown(
    ctx: &Ctx,
    id: ProjectId,
    fe: Option<FormErrors>,
    shown: Vec<ShownSecret>,
) -> Response {
    let caller = caller_or_redirect!(ctx);
    let p = &ctx.state.portal;
    let ov = match p.projects().project_overview(caller, id).await {
        Ok(o) => o,
        Err(e) => return ctx.error(e),
    };
    let ws = ov.project.workspace_id;
    let (wov, plans) = match (
        p.workspaces().workspace_overview(caller, ws).await,
        p.catalog().plans().await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return ctx.error(e),
    };
    let roles = wov.my_roles.unwrap_or_else(RoleSet::empty);
    let member = wov.my_roles.is_some();
    let can = |a: Action| member && allowed(roles, a);
    let now = ctx.state.clock.now();
    let usage = if can(Action::ReadUsage) {
        p.metering()
            .project_usage(caller, id, now - TimeDelta::days(30), now, Granularity::Day)
            .await
            .ok()
    } else {
        None
    };
    // Deliveries and health come from the delivery store, when the state has it.
    let mut deliveries: Vec<(Option<EndpointHealth>, Vec<Delivery>)> = Vec::new();
    if let Some(wh) = &ctx.state.webhooks {
        for ep in &ov.webhook_endpoints {
            let health = wh.endpoint_health(caller, ep.id).await.ok();
            let list = wh
                .deliveries_of_endpoint(caller, ep.id, None, RECENT_DELIVERIES)
                .await
                .unwrap_or_default();
            deliveries.push((health, list));
        }
    }
    let reports = p
        .exports()
        .report_history(caller, id, 20)
        .await
        .unwrap_or_default();
    let alerts = if can(Action::ReadUsage) {
        p.metering().recent_alerts(caller, id, 10).await.ok()
    } else {
        None
    };
    let who = |a: &Actor| -> String {
        match a {
            Actor::Account(aid) => wov
                .members
                .iter()
                .find(|m| m.account_id == *aid)
                .map(|m| m.name.clone())
                .unwrap_or_else(|| aid.to_string()),
            Actor::Staff(_) => "provider staff".into(),
            other => other.to_string(),
        }
    };
    let report_rows: Vec<(String, &ReportRecord)> =
        reports.iter().map(|r| (who(&r.actor), r)).collect();
    let period_now = now.format("%Y-%m").to_string();
    let source = match ov.project.cloned_from {
        Some(src) => p
            .projects()
            .project_overview(caller, src)
            .await
            .ok()
            .map(|o| o.project),
        None => None,
    };
    let status = fe.as_ref().map_or(StatusCode::OK, |f| f.status());
    let fe = fe.as_ref();
    let pr = &ov.project;
    let plan_name = |pid| {
        plans
            .iter()
            .find(|pl| pl.id == pid)
            .map(|pl| pl.name.to_string())
            .unwrap_or_default()
    };
    let go = super::workspace::step_link(
        ov.next_step.action,
        ws,
        std::slice::from_ref(pr),
        &ov.subscriptions,
    );
    let name = pr.name.to_string();
    let body = html! {
        p.breadcrumb { a href="/" { "Access" } " / " a href=(format!("/workspaces/{ws}")) { (wov.workspace.name) } " / " (name) }
        (ui::lanes(ov.next_step.lane))
        (ui::next_step(&ov.next_step, go))
        @for (i, sh) in shown.iter().enumerate() {
            @let suffix = if i == 0 { String::new() } else { format!("-{i}") };
            div.notice.notice-warn id=(format!("webhook-secret-notice{suffix}")) role="alert" {
                h2 { (sh.title) }
                p { strong { "Copy this signing secret now: it is shown only once." } " It is not stored in a form you can read again; if it is lost, rotate it." }
                p { code.secret id=(format!("webhook-secret{suffix}")) { (sh.secret) } }
                @if let Some(n) = &sh.note { p { (n) } }
            }
        }
        (alerts_notice(alerts.as_deref(), now))
        section.card aria-labelledby="posture-title" {
            h2 #posture-title { "Environment posture" }
            dl.facts {
                div { dt { "Environment" } dd { span class=(format!("badge badge-{}", pr.environment.as_str())) { (pr.environment.as_str()) } } }
                div { dt { "Purpose" } dd { (pr.purpose) } }
                div { dt { "Endpoints" } dd { @if pr.endpoints.is_empty() { "none" } @for e in &pr.endpoints { code { (e) } " " } } }
                div { dt { "Events" } dd { @if pr.events.is_empty() { "none" } @for e in &pr.events { code { (e) } " " } } }
            }
            @if pr.environment == Environment::Sandbox {
                p.muted { "A sandbox project only ever holds sandbox credentials; production traffic goes through its production clone." }
            } @else {
                p.muted { "A production project only holds production credentials. Sandbox keeps running in parallel for test traffic and schema validation." }
            }
        }
        section.card aria-labelledby="handoff-title" {
            h2 #handoff-title { "Production hand-off" }
            @if ov.subscriptions.is_empty() {
                p { "This project is not subscribed to a plan yet." }
            } @else {
                table {
                    caption.visually-hidden { "Subscriptions" }
                    thead { tr { th scope="col" { "Plan" } th scope="col" { "Phase" } th scope="col" { "Production project" } } }
                    tbody {
                        @for s in &ov.subscriptions {
                            tr {
                                td { a href=(format!("/subscriptions/{}", s.id)) { (plan_name(s.plan_id)) } }
                                td { (s.phase.kind().as_str().replace('_', " ")) }
                                td {
                                    @if let Some(pp) = s.production_project_id {
                                        @if pp == pr.id { "this project" } @else { a href=(format!("/projects/{pp}")) { "Open the production project" } }
                                    } @else if s.phase.kind() == PhaseKind::Production {
                                        "Approved: " a href=(format!("/subscriptions/{}", s.id)) { "clone to production" }
                                    } @else { "not yet: production review comes first" }
                                }
                            }
                        }
                    }
                }
            }
            @if pr.environment == Environment::Sandbox && can(Action::Subscribe) {
                @let e = Errs::of(fe, "subscribe");
                form #subscribe method="post" action=(format!("/projects/{id}/subscriptions")) novalidate {
                    (csrf(ctx))
                    (form_errors(e))
                    (Field::new("subscribe", "plan_id", "Plan").aliases(&["project_id"]).required()
                        .help("The plan must grant every endpoint and event the project uses.")
                        .select(e, &plans.iter().map(|pl| (pl.id.to_string(), format!("{}{}", pl.name, if pl.pricing.is_paid() { " (paid)" } else { " (free)" }))).collect::<Vec<_>>()))
                    button.button type="submit" { "Subscribe" }
                }
            }
        }
        section.card aria-labelledby="creds-title" {
            h2 #creds-title { "Credentials" }
            p.muted { "Credentials belong to this project, not to the workspace in general. Create, regenerate, rotate and revoke them on the subscription page." }
            @if ov.credentials.is_empty() { p { "No credentials yet." } }
            @else {
                table {
                    caption.visually-hidden { "Credentials" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Secret" } th scope="col" { "Status" } th scope="col" { "Subscription" } } }
                    tbody {
                        @for c in &ov.credentials {
                            tr {
                                td { (c.name) }
                                td { code { (c.secret.prefix) "…" (c.secret.last4) } }
                                td { @if c.is_active() { "active" } @else { "revoked" } }
                                td { a href=(format!("/subscriptions/{}", c.subscription_id)) { "manage" } }
                            }
                        }
                    }
                }
            }
        }
        (webhooks_section(ctx, id, pr.cloned_from.is_some(), &ov.webhook_endpoints, ctx.state.webhooks.is_some().then_some(&deliveries[..]), can(Action::ManageWebhooks), fe, now))
        section.card aria-labelledby="alerts-title" {
            h2 #alerts-title { "Alert thresholds" }
            @if ov.alert_thresholds.is_empty() { p { "No alert thresholds yet." } }
            @else {
                ul.plain {
                    @for t in &ov.alert_thresholds {
                        li {
                            (metric_label(t.metric)) ": " strong { (t.limit) }
                            @if let Some(w) = &t.last_fired_window { " (last fired " (w) ")" }
                            " "
                            @if can(Action::SetOperationalAlerts) || can(Action::SetSpendAlerts) {
                                (ui::action_button(ctx, &format!("/projects/{id}/alerts/{}/delete", t.id), &format!("Delete the {} threshold", metric_label(t.metric).to_lowercase()), "button small secondary"))
                            }
                        }
                    }
                }
            }
            (recent_alerts(alerts.as_deref()))
            @if can(Action::SetOperationalAlerts) || can(Action::SetSpendAlerts) {
                @let e = Errs::of(fe, "alert");
                form method="post" action=(format!("/projects/{id}/alerts")) novalidate {
                    (csrf(ctx))
                    (form_errors(e))
                    (Field::new("alert", "metric", "Metric").select(e, &METRICS.iter().map(|m| (metric_code(*m).to_owned(), metric_label(*m).to_owned())).collect::<Vec<_>>()))
                    (Field::new("alert", "limit", "Threshold").required().help("A decimal number, e.g. 10000 requests, 5 (%) or 250.00 (currency).").input(e))
                    button.button.secondary type="submit" { "Set threshold" }
                }
            }
        }
        @if let Some(items) = &ov.operating_checklist {
            section.card aria-labelledby="pass-title" {
                h2 #pass-title { "First live operating pass" }
                p { "It proves the team can run the integration cleanly: it stays here until every item is done." }
                ul.checklist {
                    @for i in items {
                        li.done[i.done] {
                            span.visually-hidden { @if i.done { "Done: " } @else { "To do: " } }
                            span aria-hidden="true" { @if i.done { "✓ " } @else { "○ " } }
                            (i.item.title())
                        }
                    }
                }
                @if can(Action::ReviewLiveAudit) && pr.live_audit_reviewed_at.is_none() {
                    p { a href=(format!("/workspaces/{ws}/audit")) { "Read the first live audit entries" } }
                    (ui::action_button(ctx, &format!("/projects/{id}/live-audit-reviewed"), "Mark the first live audit entries reviewed", "button secondary"))
                }
                (form_errors(Errs::of(fe, "operating")))
            }
        }
        @if pr.cloned_from.is_some() {
            section.card aria-labelledby="drift-title" {
                h2 #drift-title { "Drift from the sandbox source" }
                @if let Some(src) = &source { p { "Cloned from " a href=(format!("/projects/{}", src.id)) { (src.name) } "." } }
                @if ov.drift.is_empty() { p { "No drift: endpoints, events and purpose match the sandbox source." } }
                @else {
                    ul {
                        @for d in &ov.drift {
                            li { @match d {
                                Drift::EndpointOnlyInSandbox { endpoint } => { "Endpoint only in sandbox: " code { (endpoint) } },
                                Drift::EndpointOnlyInProduction { endpoint } => { "Endpoint only in production: " code { (endpoint) } },
                                Drift::EventOnlyInSandbox { event } => { "Event only in sandbox: " code { (event) } },
                                Drift::EventOnlyInProduction { event } => { "Event only in production: " code { (event) } },
                                Drift::PurposeChanged { sandbox, production } => { "Purpose changed from “" (sandbox) "” to “" (production) "”" },
                            } }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="usage-title" {
            h2 #usage-title { "Usage (last 30 days)" }
            @match &usage {
                Some(u) => {
                    dl.facts {
                        div { dt { "Requests" } dd { (u.requests) } }
                        div { dt { "Errors" } dd { (u.errors) } }
                        div { dt { "Spend" } dd { @match (&u.spend, &u.currency) { (Some(s), Some(c)) => { (s) " " (c) }, _ => "not billed (free plan or sandbox)" } } }
                    }
                }
                None => p { "Usage is visible to developers, technical leads, billing members and owners." },
            }
        }
        (reports_section(id, &report_rows, can(Action::ExportUsage), &period_now, fe))
    };
    ctx.page(status, &name, body)
}

async fn after(
    ctx: &Ctx,
    id: ProjectId,
    form_id: &str,
    form: crate::http::FormData,
    result: Result<String, ServiceError>,
) -> Response {
    match result {
        Ok(to) => redirect(&to),
        Err(e) => match FormErrors::from_service(form_id, form, e) {
            Ok(fe) => render(ctx, id, Some(fe), None).await,
            Err(e) => ctx.error(e),
        },
    }
}

pub async fn subscribe(state: WebState, req: Request) -> Response {
    let id = param::<ProjectId>(&req, "id");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    let Ok(plan) = form.text("plan_id").parse() else {
        let fe = FormErrors::new("subscribe", form).field("plan_id", "choose a plan");
        return render(&ctx, id, Some(fe), None).await;
    };
    let r = state
        .portal
        .pipeline()
        .subscribe(caller, id, plan)
        .await
        .map(|s| format!("/subscriptions/{}", s.id));
    after(&ctx, id, "subscribe", form, r).await
}

pub async fn set_alert(state: WebState, req: Request) -> Response {
    let id = param::<ProjectId>(&req, "id");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    let Some(metric) = METRICS
        .iter()
        .copied()
        .find(|m| metric_code(*m) == form.text("metric"))
    else {
        let fe = FormErrors::new("alert", form).field("metric", "choose a metric");
        return render(&ctx, id, Some(fe), None).await;
    };
    let Ok(limit) = form.text("limit").trim().parse::<Decimal>() else {
        let fe = FormErrors::new("alert", form)
            .field("limit", "enter a decimal number such as 10000 or 2.5");
        return render(&ctx, id, Some(fe), None).await;
    };
    let r = state
        .portal
        .projects()
        .set_alert_threshold(caller, id, metric, limit)
        .await
        .map(|_| format!("/projects/{id}#alerts-title"));
    after(&ctx, id, "alert", form, r).await
}

pub async fn delete_alert(state: WebState, req: Request) -> Response {
    let id = param::<ProjectId>(&req, "id");
    let alert = param::<AlertThresholdId>(&req, "alert");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let (Some(id), Some(alert)) = (id, alert) else {
        return ctx.not_found();
    };
    let r = state
        .portal
        .projects()
        .delete_alert_threshold(caller, id, alert)
        .await
        .map(|_| format!("/projects/{id}#alerts-title"));
    after(&ctx, id, "alert", form, r).await
}

pub async fn live_audit_reviewed(state: WebState, req: Request) -> Response {
    let id = param::<ProjectId>(&req, "id");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    let r = state
        .portal
        .projects()
        .confirm_live_audit_reviewed(caller, id)
        .await
        .map(|_| format!("/projects/{id}#pass-title"));
    after(&ctx, id, "operating", form, r).await
}

/// A secret shown once, in the response to the POST that made it.
pub struct ShownSecret {
    pub title: String,
    pub secret: String,
    pub note: Option<String>,
}

/// Deliveries listed per endpoint on the project page.
const RECENT_DELIVERIES: u64 = 5;

fn metric_label_of(code: &str) -> String {
    METRICS
        .iter()
        .find(|m| metric_code(**m) == code)
        .map(|m| metric_label(*m).to_owned())
        .unwrap_or_else(|| code.replace('_', " "))
}

fn detail(e: &AuditEvent, key: &str) -> String {
    match &e.draft.details[key] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// The banner when a threshold was crossed today (UTC).
fn alerts_notice(alerts: Option<&[AuditEvent]>, now: DateTime<Utc>) -> Markup {
    let today: Vec<&AuditEvent> = alerts
        .unwrap_or_default()
        .iter()
        .filter(|e| e.draft.at.date_naive() == now.date_naive())
        .collect();
    html! {
        @if !today.is_empty() {
            div.notice.notice-warn #alert-banner role="alert" {
                h2 { @if today.len() == 1 { "An alert fired today" } @else { (today.len()) " alerts fired today" } }
                ul {
                    @for e in &today {
                        li {
                            (metric_label_of(&detail(e, "metric"))) " crossed " strong { (detail(e, "limit")) }
                            ": observed " strong { (detail(e, "observed")) } " (window " (detail(e, "window")) ", " (ui::when(e.draft.at)) ")."
                        }
                    }
                }
                p { a href="#recent-alerts-title" { "See recent alerts" } }
            }
        }
    }
}

/// The in-portal notice of threshold crossings (`alert.triggered` audit events).
fn recent_alerts(alerts: Option<&[AuditEvent]>) -> Markup {
    html! {
        h3 #recent-alerts-title { "Recent alerts" }
        @match alerts {
            None => p.muted { "Recent alerts are visible to developers, technical leads, billing members and owners." },
            Some([]) => p { "No threshold has been crossed yet." },
            Some(list) => {
                table #recent-alerts {
                    caption.visually-hidden { "Threshold crossings, newest first" }
                    thead { tr { th scope="col" { "When" } th scope="col" { "Metric" } th scope="col" { "Limit" } th scope="col" { "Observed" } th scope="col" { "Window" } } }
                    tbody {
                        @for e in list {
                            tr {
                                td { (ui::when(e.draft.at)) }
                                td { (metric_label_of(&detail(e, "metric"))) }
                                td { (detail(e, "limit")) }
                                td { (detail(e, "observed")) }
                                td { (detail(e, "window")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn reports_section(
    id: ProjectId,
    rows: &[(String, &ReportRecord)],
    can_export: bool,
    period_now: &str,
    fe: Option<&FormErrors>,
) -> Markup {
    html! {
        section.card aria-labelledby="reports-title" {
            h2 #reports-title { "Reports and exports" }
            @if can_export {
                p.muted { "The usage of one month, one row per credential, endpoint and minute. Each download is recorded in the report history below." }
                (export_form(&format!("/projects/{id}/exports"), "Download usage export", period_now, Errs::of(fe, "export")))
            } @else {
                p #export-not-allowed { "Usage exports are for members with the billing or compliance role, and owners. Ask an owner of the workspace for one of these roles." }
            }
            h3 { "Report history" }
            (report_table(rows))
        }
    }
}

/// `GET /projects/:id/exports?period&format`: the usage export form's target.
pub async fn export_usage(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let caller = caller_or_redirect!(ctx);
    let Some(id) = param::<ProjectId>(&req, "id") else {
        return ctx.not_found();
    };
    let form = query_form(&req);
    match check_export(&ctx, caller, ExportScope::ProjectUsage(id), &form).await {
        Ok(to) => redirect(&to),
        Err(fe) => render(&ctx, id, Some(fe), None).await,
    }
}
