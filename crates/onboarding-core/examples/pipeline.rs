//! The whole pipeline on the in-memory adapters, sign-up to a production key:
//! `cargo run -p onboarding-core --example pipeline`. docs/embedding.md walks through it.

use onboarding_core::demo::demo_catalog;
use onboarding_core::gates::Gate::{ConsentHandling, WebhookVerification};
use onboarding_core::memory::in_memory_portal;
use onboarding_core::project::Environment::{Production, Sandbox};
use onboarding_core::roles::{Role, RoleSet, StaffRole::Admin};
use onboarding_core::services::NewCredentialKind::ApiKey;
use onboarding_core::testing::fixtures::{demo_answers, t0};
use onboarding_core::workspace::Responsibility as R;
use onboarding_core::{Caller, ServiceError};
use rust_decimal_macros::dec;

const PASS: &str = "a long enough passphrase";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), ServiceError> {
    let (portal, _store, _clock) = in_memory_portal(t0());
    let (accounts, team) = (portal.accounts(), portal.workspaces());
    let (pipeline, keys) = (portal.pipeline(), portal.credentials());

    // The provider: the first admin configures the demo's paid plan, and reviews.
    let ada = accounts.create_staff(None, "ada@api.example", "Ada", Admin, PASS);
    let admin = Caller::Staff {
        id: ada.await?.id,
        role: Admin,
    };
    let (product, mut plans) = demo_catalog();
    plans[0].gates.retain(|g| *g != WebhookVerification); // no receiver here
    let catalog = portal.catalog();
    let product = catalog.create_product(admin, &product.name, "").await?;
    let plan = catalog
        .create_plan(admin, product.id, plans.remove(0))
        .await?;

    // The partner: a lead, a workspace, a sandbox project, a subscription, a key.
    let lead = accounts.sign_up("lena@fin.example", "Lena", PASS).await?;
    let lena = Caller::Account(lead.id);
    let ws = team.create_workspace(lena, "Fintech Ltd").await?.id;
    let roles = RoleSet::of(&[Role::Owner, Role::TechnicalLead]);
    team.set_roles(lena, ws, lead.id, roles).await?;
    let endpoints = ["GET /v1/accounts".to_owned()];
    let projects = portal.projects();
    let project = projects.create_project(lena, ws, "Sync", "Balances", &endpoints, &[]);
    let sub = pipeline.subscribe(lena, project.await?.id, plan.id).await?;
    let key = keys.create_credential(lena, sub.id, Sandbox, ApiKey, "laptop");
    let secret = key.await?.secret;
    println!("sandbox key, shown once: {}", secret.expose());

    // The gateway verifies calls; they count for the integration gate.
    for _ in 0..25 {
        let call = Some("GET /v1/accounts");
        keys.verify_secret(secret.expose(), Some(Sandbox), call, true)
            .await?;
    }
    let sub = pipeline
        .submit(lena, sub.id, Some(demo_answers()), None)
        .await?;
    println!("{}", sub.submit_label());

    // The remaining gates: three colleagues named responsible, the consent sign-off.
    let responsibles = [
        ("bill", Role::Billing, R::BillingOwner),
        ("cora", Role::Compliance, R::AuditContact),
        ("sam", Role::SecurityOwner, R::SecurityOwner),
    ];
    for (name, role, what) in responsibles {
        let email = format!("{name}@fin.example");
        let them = accounts.sign_up(&email, name, PASS).await?.id;
        let inv = team
            .invite(lena, ws, &email, RoleSet::of(&[role]), None)
            .await?;
        team.accept_invitation(Caller::Account(them), inv.id)
            .await?;
        team.name_responsible(lena, ws, what, Some(them)).await?;
    }
    pipeline
        .sign_off_gate(admin, sub.id, ConsentHandling)
        .await?;
    let sub = pipeline.approve(admin, sub.id, None).await?;
    println!("phase: {}", sub.phase.kind());

    // Production: clone the project, record the payment, create the production key.
    projects.clone_to_production(lena, sub.id).await?;
    let billing = portal.billing();
    billing
        .confirm_payment(admin, sub.id, dec!(49.00), "EUR", "INV-1")
        .await?;
    let live = keys.create_credential(lena, sub.id, Production, ApiKey, "live");
    println!("production key: {}…", &live.await?.secret.expose()[..12]);
    println!("next: {}", accounts.me(lena).await?.next_step.title);
    Ok(())
}
