//! The workspace's audit log page and its export.

use maud::html;
use onboarding_core::ServiceError;
use onboarding_core::ids::WorkspaceId;
use onboarding_core::roles::Action;
use poem::http::StatusCode;
use poem::{Request, Response};

use crate::WebState;
use crate::http::{Ctx, Errs, FormErrors, param, redirect};
use crate::pages::macros::caller_or_redirect;
use crate::ui;

pub async fn audit(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let Some(id) = param::<WorkspaceId>(&req, "id") else {
        return ctx.not_found();
    };
    audit_page(&ctx, id, None).await
}

/// `GET /workspaces/:id/exports?period&format`: the audit export form's target.
pub async fn export_audit(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let caller = caller_or_redirect!(ctx);
    let Some(id) = param::<WorkspaceId>(&req, "id") else {
        return ctx.not_found();
    };
    let form = crate::pages::exports::query_form(&req);
    match crate::pages::exports::check_export(
        &ctx,
        caller,
        onboarding_core::services::ExportScope::WorkspaceAudit(id),
        &form,
    )
    .await
    {
        Ok(to) => redirect(&to),
        Err(fe) => audit_page(&ctx, id, Some(fe)).await,
    }
}

async fn audit_page(ctx: &Ctx, id: WorkspaceId, fe: Option<FormErrors>) -> Response {
    let caller = caller_or_redirect!(ctx);
    let state = &ctx.state;
    let events = match state.portal.audit().audit_events(caller, id, 0, 500).await {
        Ok(e) => e,
        Err(ServiceError::Forbidden { .. }) => {
            return ctx.message(
                StatusCode::FORBIDDEN,
                "Audit log",
                "The audit log is for members with the security owner or compliance role, and owners.",
            );
        }
        Err(e) => return ctx.error(e),
    };
    // Who may export: the core's permission table (members), or staff who read the queue.
    let wov = state
        .portal
        .workspaces()
        .workspace_overview(caller, id)
        .await
        .ok();
    let can_export = match caller {
        onboarding_core::Caller::Staff { role, .. } => onboarding_core::roles::staff_allowed(
            role,
            onboarding_core::roles::StaffAction::ReadQueue,
        ),
        _ => wov
            .as_ref()
            .and_then(|w| w.my_roles)
            .is_some_and(|r| onboarding_core::roles::allowed(r, Action::ExportAuditLog)),
    };
    let history = state
        .portal
        .exports()
        .workspace_report_history(caller, id, 50)
        .await
        .unwrap_or_default();
    let rows: Vec<(String, &onboarding_core::services::ReportRecord)> = history
        .iter()
        .filter(|r| r.kind == onboarding_core::services::ExportKind::AuditLog)
        .map(|r| {
            let who = match (&r.actor, &wov) {
                (onboarding_core::audit::Actor::Account(a), Some(w)) => w
                    .members
                    .iter()
                    .find(|m| m.account_id == *a)
                    .map(|m| m.name.clone())
                    .unwrap_or_else(|| a.to_string()),
                (onboarding_core::audit::Actor::Staff(_), _) => "provider staff".into(),
                (a, _) => a.to_string(),
            };
            (who, r)
        })
        .collect();
    let period_now = state.clock.now().format("%Y-%m").to_string();
    let status = fe.as_ref().map_or(StatusCode::OK, |f| f.status());
    let fe = fe.as_ref();
    let body = html! {
        p.breadcrumb { a href=(format!("/workspaces/{id}")) { "Workspace" } " / Audit log" }
        p { "Every state change of the workspace, oldest first. Each event carries the hash of the previous one, so the chain is tamper-evident." }
        section.card aria-labelledby="reports-title" {
            h2 #reports-title { "Reports and exports" }
            @if can_export {
                p.muted { "The audit events of one month, in chain order. Each download is recorded in the report history below." }
                (crate::pages::exports::export_form(&format!("/workspaces/{id}/exports"), "Download audit export", &period_now, Errs::of(fe, "export")))
            } @else {
                p #export-not-allowed { "Audit log exports are for members with the security owner or compliance role, and owners." }
            }
            h3 { "Report history" }
            (crate::pages::exports::report_table(&rows))
        }
        h2 { "Events" }
        @if events.is_empty() { p { "No events yet." } }
        @else {
            table {
                caption.visually-hidden { "Audit events" }
                thead { tr { th scope="col" { "#" } th scope="col" { "Time" } th scope="col" { "Actor" } th scope="col" { "Action" } th scope="col" { "Target" } th scope="col" { "Project" } } }
                tbody {
                    @for ev in &events {
                        tr {
                            td { (ev.seq) }
                            td { (ui::when(ev.draft.at)) }
                            td { code { (ev.draft.actor) } }
                            td { code { (ev.draft.action) } }
                            td { code { (ev.draft.target) } }
                            td { @if let Some(p) = ev.draft.project_id { a href=(format!("/projects/{p}")) { code { (p) } } } }
                        }
                    }
                }
            }
        }
    };
    ctx.page(status, "Audit log", body)
}
