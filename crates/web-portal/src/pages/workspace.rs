//! The workspace: lanes and posture, members and roles, invitations, join requests, the named
//! responsibles, projects; and the audit and billing pages of the workspace.

use std::collections::BTreeMap;

use maud::html;
use onboarding_core::ServiceError;
use onboarding_core::ids::{AccountId, WorkspaceId};
use onboarding_core::next_step::StepAction;
use onboarding_core::pipeline::Subscription;
use onboarding_core::project::{Environment, Project};
use onboarding_core::roles::{Action, Role, RoleSet, allowed};
use onboarding_core::workspace::{InvitationStatus, JoinRequestStatus, Responsibility};
use poem::http::StatusCode;
use poem::{Request, Response};

use super::macros::{caller_or_redirect, post_ctx};
use crate::WebState;
use crate::http::{Ctx, Errs, FormErrors, param, redirect};
use crate::ui::{self, Field, csrf, form_errors};

mod audit;
mod billing;
pub use audit::{audit, export_audit};
pub use billing::billing;

pub fn role_options() -> Vec<(String, String)> {
    Role::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), ui::role_label(*r).to_owned()))
        .collect()
}

pub fn responsibility_label(r: Responsibility) -> &'static str {
    match r {
        Responsibility::BillingOwner => "Billing owner",
        Responsibility::AuditContact => "Audit contact",
        Responsibility::SecurityOwner => "Security owner",
    }
}

/// Where the "Next step" panel of a workspace or project sends the user.
pub fn step_link(
    action: StepAction,
    ws: WorkspaceId,
    projects: &[Project],
    subs: &[Subscription],
) -> Option<(&'static str, String)> {
    let sub = onboarding_core::pipeline::furthest(subs);
    let sandbox_project = projects
        .iter()
        .find(|p| p.environment == Environment::Sandbox);
    use StepAction::*;
    match action {
        CreateSandboxProject => Some((
            "Create a project",
            format!("/workspaces/{ws}#create-project"),
        )),
        Subscribe => {
            sandbox_project.map(|p| ("Choose a plan", format!("/projects/{}#subscribe", p.id)))
        }
        CompleteOperatingPass | OpenDashboard => sub
            .and_then(|s| s.production_project_id)
            .map(|p| ("Open the production project", format!("/projects/{p}"))),
        ClearGate => Some((
            "Open the subscription",
            format!("/subscriptions/{}", sub?.id),
        )),
        _ => sub.map(|s| ("Open the subscription", format!("/subscriptions/{}", s.id))),
    }
}

pub async fn page(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let Some(id) = param::<WorkspaceId>(&req, "id") else {
        return ctx.not_found();
    };
    render(&ctx, id, None).await
}

async fn render(ctx: &Ctx, id: WorkspaceId, fe: Option<FormErrors>) -> Response {
    let caller = match ctx.require_caller() {
        Ok(c) => c,
        Err(r) => return r,
    };
    let p = &ctx.state.portal;
    let ov = match p.workspaces().workspace_overview(caller, id).await {
        Ok(o) => o,
        Err(e) => return ctx.error(e),
    };
    let (projects, subs, plans) = match (
        p.projects().projects(caller, id).await,
        p.pipeline().subscriptions(caller, id).await,
        p.catalog().plans().await,
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return ctx.error(e),
    };
    let status = fe.as_ref().map_or(StatusCode::OK, |f| f.status());
    let fe = fe.as_ref();
    let roles = ov.my_roles.unwrap_or_else(RoleSet::empty);
    let staff = ov.my_roles.is_none();
    let can = |a: Action| !staff && allowed(roles, a);
    let go = step_link(ov.next_step.action, id, &projects, &subs);
    let go = match ov.next_step.blocking_gate {
        Some(onboarding_core::gates::Gate::BillingOwnership)
        | Some(onboarding_core::gates::Gate::AuditReadiness)
        | Some(onboarding_core::gates::Gate::InternalAccessControls) => Some((
            "Name the responsibles",
            format!("/workspaces/{id}#responsibles"),
        )),
        _ => go,
    };
    let plan_names: BTreeMap<_, _> = plans.iter().map(|p| (p.id, p.name.to_string())).collect();
    // Endpoints and events of the plans, as checkboxes for a new project.
    let mut endpoints: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut events: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pl in &plans {
        for e in &pl.endpoints {
            endpoints
                .entry(e.clone())
                .or_default()
                .push(pl.name.to_string());
        }
        for e in &pl.events {
            events
                .entry(e.clone())
                .or_default()
                .push(pl.name.to_string());
        }
    }
    let opts = |m: &BTreeMap<String, Vec<String>>| {
        m.iter()
            .map(|(k, v)| (k.clone(), format!("{k} (plans: {})", v.join(", "))))
            .collect::<Vec<_>>()
    };
    let member_opts: Vec<(String, String)> =
        std::iter::once((String::new(), "Not named".to_owned()))
            .chain(ov.members.iter().map(|m| {
                (
                    m.account_id.to_string(),
                    format!("{} ({})", m.name, m.email),
                )
            }))
            .collect();
    let ws_name = ov.workspace.name.to_string();
    let body = html! {
        p.breadcrumb { a href="/" { "Access" } " / " (ws_name) }
        (ui::lanes(ov.next_step.lane))
        (ui::next_step(&ov.next_step, go))
        section.card aria-labelledby="posture-title" {
            h2 #posture-title { "Posture" }
            p { "Workspace id: " code { (id) } " (share it with colleagues who want to ask to join)." }
            @if projects.is_empty() {
                p { "No projects yet: the workspace is on the Docs lane." }
            } @else {
                table {
                    caption.visually-hidden { "Projects and their environment" }
                    thead { tr { th scope="col" { "Project" } th scope="col" { "Environment" } th scope="col" { "Purpose" } th scope="col" { "Subscriptions" } } }
                    tbody {
                        @for pr in &projects {
                            tr {
                                td { a href=(format!("/projects/{}", pr.id)) { (pr.name) } }
                                td { span class=(format!("badge badge-{}", pr.environment.as_str())) { (pr.environment.as_str()) } }
                                td { (pr.purpose) }
                                td {
                                    @for s in subs.iter().filter(|s| s.project_id == pr.id || s.production_project_id == Some(pr.id)) {
                                        a href=(format!("/subscriptions/{}", s.id)) {
                                            (plan_names.get(&s.plan_id).cloned().unwrap_or_default()) ": " (s.phase.kind().as_str().replace('_', " "))
                                        }
                                        " "
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p { a href=(format!("/workspaces/{id}/audit")) { "Audit log" } " · " a href=(format!("/workspaces/{id}/billing")) { "Billing and usage" } }
        }
        @if can(Action::CreateProject) {
            section.card #create-project aria-labelledby="create-project-title" {
                h2 #create-project-title { "Create a project" }
                p { "A project names one workload. Start with one sandbox project with a clear purpose; keys, webhook targets, usage and alerts belong to the project." }
                @let e = Errs::of(fe, "create-project");
                form method="post" action=(format!("/workspaces/{id}/projects")) novalidate {
                    (csrf(ctx))
                    (form_errors(e))
                    (Field::new("create-project", "name", "Project name").required().input(e))
                    (Field::new("create-project", "purpose", "Purpose").required().help("What this workload does, e.g. \"Show balances in our budgeting app\".").input(e))
                    (Field::new("create-project", "endpoints", "Endpoints the project uses").checkboxes(e, &opts(&endpoints), &[]))
                    (Field::new("create-project", "events", "Events the project receives").checkboxes(e, &opts(&events), &[]))
                    button.button type="submit" { "Create sandbox project" }
                }
            }
        }
        section.card aria-labelledby="members-title" {
            h2 #members-title { "Members and roles" }
            table {
                caption.visually-hidden { "Members" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "E-mail" } th scope="col" { "Roles" } th scope="col" { "Responsibilities" } } }
                tbody {
                    @for m in &ov.members {
                        tr {
                            td { (m.name) }
                            td { (m.email) }
                            td { (m.roles.iter().map(ui::role_label).collect::<Vec<_>>().join(", ")) }
                            td { (m.responsibilities.iter().map(|r| responsibility_label(*r)).collect::<Vec<_>>().join(", ")) }
                        }
                    }
                }
            }
        }
        @if can(Action::ManageMembers) {
            section.card #invite aria-labelledby="invite-title" {
                h2 #invite-title { "Invite a colleague" }
                p { "Docs, API access, billing and customer review are separate roles: invite each person with the roles they need." }
                @let e = Errs::of(fe, "invite");
                form method="post" action=(format!("/workspaces/{id}/invitations")) novalidate {
                    (csrf(ctx))
                    (form_errors(e))
                    (Field::new("invite", "email", "E-mail address").kind("email").required().input(e))
                    (Field::new("invite", "roles", "Roles").required().checkboxes(e, &role_options(), &["developer".to_owned()]))
                    button.button type="submit" { "Send invitation" }
                }
            }
            section.card aria-labelledby="pending-inv-title" {
                h2 #pending-inv-title { "Pending invitations" }
                (form_errors(Errs::of(fe, "invitations")))
                @let pending: Vec<_> = ov.invitations.iter().filter(|i| i.status == InvitationStatus::Pending).collect();
                @if pending.is_empty() { p { "No pending invitations." } }
                ul.plain {
                    @for i in pending {
                        li {
                            (i.email) " — " (i.roles.iter().map(ui::role_label).collect::<Vec<_>>().join(", "))
                            " — expires " (ui::when(i.expires_at)) " "
                            (ui::action_button(ctx, &format!("/workspaces/{id}/invitations/{}/revoke", i.id), &format!("Revoke invitation for {}", i.email), "button small secondary"))
                        }
                    }
                }
            }
            section.card aria-labelledby="jr-title" {
                h2 #jr-title { "Requests to join" }
                @let e = Errs::of(fe, "join-requests");
                (form_errors(e))
                @let pending: Vec<_> = ov.join_requests.iter().filter(|j| j.status == JoinRequestStatus::Pending).collect();
                @if pending.is_empty() { p { "No pending requests." } }
                @for j in pending {
                    form.join-request method="post" action=(format!("/workspaces/{id}/join-requests/{}/decide", j.id)) {
                        (csrf(ctx))
                        p { "Account " code { (j.account_id) } " asked to join on " (ui::when(j.created_at))
                            @if let Some(m) = &j.message { ": “" (m) "”" } }
                        (Field::new(&format!("jr-{}", j.id), "roles", "Roles if approved").checkboxes(Errs::none(), &role_options(), &["developer".to_owned()]))
                        button.button type="submit" name="decision" value="approve" { "Approve" }
                        " "
                        button.button.secondary type="submit" name="decision" value="decline" { "Decline" }
                    }
                }
            }
        }
        section.card #responsibles aria-labelledby="resp-title" {
            h2 #resp-title { "Responsibles" }
            p { "Asked for once the technical setup is done: production review checks that a billing owner (role billing), an audit contact (role compliance) and a security owner (role security owner) are named." }
            @for r in [Responsibility::BillingOwner, Responsibility::AuditContact, Responsibility::SecurityOwner] {
                @let named = ov.workspace.responsible(r);
                @let form_id = format!("resp-{}", r.as_str());
                @let e = Errs::of(fe, &form_id);
                @if can(Action::NameResponsibles) {
                    form.responsible method="post" action=(format!("/workspaces/{id}/responsibles")) novalidate {
                        (csrf(ctx))
                        (form_errors(e))
                        input type="hidden" name="responsibility" value=(r.as_str());
                        (Field::new(&form_id, "account_id", responsibility_label(r)).value(&named.map(|a| a.to_string()).unwrap_or_default()).select(e, &member_opts))
                        button.button.small type="submit" { "Save " (responsibility_label(r).to_lowercase()) }
                    }
                } @else {
                    p { (responsibility_label(r)) ": "
                        (named.and_then(|a| ov.members.iter().find(|m| m.account_id == a)).map(|m| m.name.clone()).unwrap_or_else(|| "not named".into())) }
                }
            }
        }
    };
    ctx.page(status, &ws_name, body)
}

async fn after(
    ctx: &Ctx,
    ws: WorkspaceId,
    form_id: &str,
    form: crate::http::FormData,
    result: Result<String, ServiceError>,
) -> Response {
    match result {
        Ok(to) => redirect(&to),
        Err(e) => match FormErrors::from_service(form_id, form, e) {
            Ok(fe) => render(ctx, ws, Some(fe)).await,
            Err(e) => ctx.error(e),
        },
    }
}

pub async fn invite(state: WebState, req: Request) -> Response {
    let id = param::<WorkspaceId>(&req, "id");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    let roles = match RoleSet::parse(&form.all("roles")) {
        Ok(r) => r,
        Err(f) => {
            return after(&ctx, id, "invite", form, Err(f.into())).await;
        }
    };
    let r = state
        .portal
        .workspaces()
        .invite(caller, id, form.text("email"), roles, None)
        .await
        .map(|_| format!("/workspaces/{id}#invite"));
    after(&ctx, id, "invite", form, r).await
}

pub async fn revoke_invitation(state: WebState, req: Request) -> Response {
    let id = param::<WorkspaceId>(&req, "id");
    let inv = param(&req, "inv");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let (Some(id), Some(inv)) = (id, inv) else {
        return ctx.not_found();
    };
    let r = state
        .portal
        .workspaces()
        .revoke_invitation(caller, inv)
        .await
        .map(|_| format!("/workspaces/{id}#invite"));
    after(&ctx, id, "invitations", form, r).await
}

pub async fn decide_join_request(state: WebState, req: Request) -> Response {
    let id = param::<WorkspaceId>(&req, "id");
    let jr = param(&req, "jr");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let (Some(id), Some(jr)) = (id, jr) else {
        return ctx.not_found();
    };
    let approve = form.get("decision") == Some("approve");
    let roles = if approve {
        match RoleSet::parse(&form.all("roles")) {
            Ok(r) => Some(r),
            Err(f) => return after(&ctx, id, "join-requests", form, Err(f.into())).await,
        }
    } else {
        None
    };
    let r = state
        .portal
        .workspaces()
        .decide_join_request(caller, jr, approve, roles)
        .await
        .map(|_| format!("/workspaces/{id}"));
    after(&ctx, id, "join-requests", form, r).await
}

pub async fn name_responsible(state: WebState, req: Request) -> Response {
    let id = param::<WorkspaceId>(&req, "id");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    let what = match form.text("responsibility") {
        "billing_owner" => Responsibility::BillingOwner,
        "audit_contact" => Responsibility::AuditContact,
        "security_owner" => Responsibility::SecurityOwner,
        _ => return ctx.not_found(),
    };
    let form_id = format!("resp-{}", what.as_str());
    let who = match form.text("account_id") {
        "" => None,
        s => match s.parse::<AccountId>() {
            Ok(a) => Some(a),
            Err(_) => {
                let fe = FormErrors::new(&form_id, form).field("account_id", "choose a member");
                return render(&ctx, id, Some(fe)).await;
            }
        },
    };
    let r = state
        .portal
        .workspaces()
        .name_responsible(caller, id, what, who)
        .await
        .map(|_| format!("/workspaces/{id}#responsibles"));
    after(&ctx, id, &form_id, form, r).await
}

pub async fn create_project(state: WebState, req: Request) -> Response {
    let id = param::<WorkspaceId>(&req, "id");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    let endpoints: Vec<String> = form
        .all("endpoints")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let events: Vec<String> = form.all("events").into_iter().map(str::to_owned).collect();
    let r = state
        .portal
        .projects()
        .create_project(
            caller,
            id,
            form.text("name"),
            form.text("purpose"),
            &endpoints,
            &events,
        )
        .await
        .map(|p| format!("/projects/{}", p.id));
    after(&ctx, id, "create-project", form, r).await
}
