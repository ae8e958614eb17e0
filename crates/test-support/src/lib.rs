//! Scenario builders: a provider with staff and the demo catalog, a partner workspace with a
//! sandbox project, answers that satisfy the demo form. They drive only the public `Portal`
//! API, so the same scenario runs over the in-memory adapters, SeaORM on SQLite or PostgreSQL,
//! or (through the HTTP layer's own helpers) a real server.

use onboarding_core::demo::demo_catalog;
use onboarding_core::gates::Gate;
use onboarding_core::plan::{ApiProduct, Plan};
use onboarding_core::project::Project;
use onboarding_core::roles::{Role, RoleSet, StaffRole};
use onboarding_core::workspace::{Account, Responsibility, Workspace};
use onboarding_core::{Caller, Portal, ServiceResult};

/// A passphrase long enough for the portal's password rule.
pub const PASSWORD: &str = "correct horse battery staple";

/// The provider side: an admin, a reviewer, the demo product and its two plans.
pub struct Provider {
    pub admin: Caller,
    pub reviewer: Caller,
    pub product: ApiProduct,
    /// The demo's paid plan, with every gate except webhook verification (which needs a
    /// live receiver) unless `with_webhook_gate` was asked for.
    pub standard: Plan,
    /// The demo's free plan.
    pub explorer: Plan,
}

/// Creates the provider: the first admin (bootstrap), a reviewer, the demo catalog.
pub async fn provider(portal: &Portal, with_webhook_gate: bool) -> ServiceResult<Provider> {
    let admin = portal
        .accounts()
        .create_staff(
            None,
            "admin@provider.example",
            "Ada Admin",
            StaffRole::Admin,
            PASSWORD,
        )
        .await?;
    let admin = Caller::Staff {
        id: admin.id,
        role: StaffRole::Admin,
    };
    let reviewer = portal
        .accounts()
        .create_staff(
            Some(admin),
            "rita@provider.example",
            "Rita Reviewer",
            StaffRole::Reviewer,
            PASSWORD,
        )
        .await?;
    let reviewer = Caller::Staff {
        id: reviewer.id,
        role: StaffRole::Reviewer,
    };
    let (spec, plans) = demo_catalog();
    let product = portal
        .catalog()
        .create_product(admin, &spec.name, &spec.description)
        .await?;
    let mut plans = plans.into_iter();
    let mut standard = plans.next().expect("demo paid plan");
    if !with_webhook_gate {
        standard.gates.retain(|g| *g != Gate::WebhookVerification);
    }
    let standard = portal
        .catalog()
        .create_plan(admin, product.id, standard)
        .await?;
    let explorer = portal
        .catalog()
        .create_plan(admin, product.id, plans.next().expect("demo free plan"))
        .await?;
    Ok(Provider {
        admin,
        reviewer,
        product,
        standard,
        explorer,
    })
}

/// A partner workspace: its lead (owner + technical lead) and a sandbox project using the
/// first endpoint of the plan.
pub struct Partner {
    pub lead: Account,
    pub caller: Caller,
    pub workspace: Workspace,
    pub project: Project,
}

/// Signs up `email` as the lead of a new workspace named `org` with one sandbox project.
pub async fn partner(
    portal: &Portal,
    email: &str,
    org: &str,
    plan: &Plan,
) -> ServiceResult<Partner> {
    let lead = portal
        .accounts()
        .sign_up(email, "Lena Lead", PASSWORD)
        .await?;
    let caller = Caller::Account(lead.id);
    let workspace = portal.workspaces().create_workspace(caller, org).await?;
    portal
        .workspaces()
        .set_roles(
            caller,
            workspace.id,
            lead.id,
            RoleSet::of(&[Role::Owner, Role::TechnicalLead]),
        )
        .await?;
    let project = portal
        .projects()
        .create_project(
            caller,
            workspace.id,
            "Balance sync",
            "Nightly balance sync for bookkeeping",
            &plan.endpoints[..1],
            &[],
        )
        .await?;
    Ok(Partner {
        lead,
        caller,
        workspace,
        project,
    })
}

/// Invites a colleague with one role, has them accept, and names them for `what`.
pub async fn add_responsible(
    portal: &Portal,
    p: &Partner,
    email: &str,
    role: Role,
    what: Responsibility,
) -> ServiceResult<Account> {
    let a = portal.accounts().sign_up(email, email, PASSWORD).await?;
    let inv = portal
        .workspaces()
        .invite(p.caller, p.workspace.id, email, RoleSet::of(&[role]), None)
        .await?;
    portal
        .workspaces()
        .accept_invitation(Caller::Account(a.id), inv.id)
        .await?;
    portal
        .workspaces()
        .name_responsible(p.caller, p.workspace.id, what, Some(a.id))
        .await?;
    Ok(a)
}

/// Names a billing owner, an audit contact and a security owner (three separate people).
pub async fn name_all_responsibles(portal: &Portal, p: &Partner) -> ServiceResult<()> {
    let domain = p
        .lead
        .email
        .as_str()
        .split('@')
        .nth(1)
        .unwrap_or("example.com")
        .to_owned();
    add_responsible(
        portal,
        p,
        &format!("bill@{domain}"),
        Role::Billing,
        Responsibility::BillingOwner,
    )
    .await?;
    add_responsible(
        portal,
        p,
        &format!("cora@{domain}"),
        Role::Compliance,
        Responsibility::AuditContact,
    )
    .await?;
    add_responsible(
        portal,
        p,
        &format!("sam@{domain}"),
        Role::SecurityOwner,
        Responsibility::SecurityOwner,
    )
    .await?;
    Ok(())
}

pub use onboarding_core::testing::fixtures::demo_answers;
