//! The whole pipeline with in-memory adapters: sign-up to production credentials.
//! `cargo run -p onboarding-core --example pipeline`

use chrono::{TimeZone, Utc};
use onboarding_core::demo::demo_catalog;
use onboarding_core::gates::Gate;
use onboarding_core::memory::in_memory_portal;
use onboarding_core::project::Environment;
use onboarding_core::roles::{Role, RoleSet, StaffRole};
use onboarding_core::services::NewCredentialKind;
use onboarding_core::workspace::Responsibility;
use onboarding_core::{Caller, ServiceError};
use rust_decimal_macros::dec;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), ServiceError> {
    let (portal, store, _clock) =
        in_memory_portal(Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap());

    // The provider: an admin configures the demo product's paid plan; a reviewer works the queue.
    let admin = portal
        .accounts()
        .create_staff(
            None,
            "admin@provider.example",
            "Ada Admin",
            StaffRole::Admin,
            "a long admin passphrase",
        )
        .await?;
    let admin = Caller::Staff {
        id: admin.id,
        role: StaffRole::Admin,
    };
    let (product, plans) = demo_catalog();
    let product = portal
        .catalog()
        .create_product(admin, &product.name, &product.description)
        .await?;
    let mut standard = plans.into_iter().next().expect("the demo has a paid plan");
    standard.gates.retain(|g| *g != Gate::WebhookVerification); // no webhook receiver in this example
    let plan = portal
        .catalog()
        .create_plan(admin, product.id, standard)
        .await?;
    let reviewer = portal
        .accounts()
        .create_staff(
            Some(admin),
            "rita@provider.example",
            "Rita Reviewer",
            StaffRole::Reviewer,
            "a long reviewer passphrase",
        )
        .await?;
    let reviewer = Caller::Staff {
        id: reviewer.id,
        role: StaffRole::Reviewer,
    };

    // The partner: a technical lead signs up, creates the workspace and a sandbox project.
    let lead = portal
        .accounts()
        .sign_up(
            "lena@fintech.example",
            "Lena Lead",
            "a long developer passphrase",
        )
        .await?;
    let lena = Caller::Account(lead.id);
    println!(
        "next: {}",
        portal.accounts().me(lena).await?.next_step.title
    );
    let ws = portal
        .workspaces()
        .create_workspace(lena, "Fintech Ltd")
        .await?;
    portal
        .workspaces()
        .set_roles(
            lena,
            ws.id,
            lead.id,
            RoleSet::of(&[Role::Owner, Role::TechnicalLead]),
        )
        .await?;
    let project = portal
        .projects()
        .create_project(
            lena,
            ws.id,
            "Balance sync",
            "Nightly balance sync for bookkeeping",
            &["GET /v1/accounts".into()],
            &[],
        )
        .await?;
    let sub = portal
        .pipeline()
        .subscribe(lena, project.id, plan.id)
        .await?;
    let key = portal
        .credentials()
        .create_credential(
            lena,
            sub.id,
            Environment::Sandbox,
            NewCredentialKind::ApiKey,
            "laptop",
        )
        .await?;
    println!("sandbox key (shown once): {}", key.secret.expose());
    for _ in 0..25 {
        portal
            .credentials()
            .verify_secret(
                key.secret.expose(),
                Some(Environment::Sandbox),
                Some("GET /v1/accounts"),
                true,
            )
            .await?;
    }

    // Submit through the plan's form.
    let answers = serde_json::from_value(serde_json::json!({
        "legal_name": "Fintech Ltd", "website": "https://fintech.example", "contact_email": "lena@fintech.example",
        "use_case": "accounting integration", "data_usage": "Balances kept 30 days, finance team only.",
        "data_categories": ["balances"], "consent_capture": "OAuth consent screen",
        "consent_withdrawal": "Settings page and e-mail", "privacy_policy_url": "https://fintech.example/privacy",
        "accepts_terms": true
    }))
    .expect("valid JSON");
    let sub = portal
        .pipeline()
        .submit(lena, sub.id, Some(answers), Some(sub.version))
        .await?;
    println!("submitted: {}", sub.submit_label());

    // Clear the remaining gates: responsibles (separate people), consent sign-off.
    for (email, role, what) in [
        (
            "bill@fintech.example",
            Role::Billing,
            Responsibility::BillingOwner,
        ),
        (
            "cora@fintech.example",
            Role::Compliance,
            Responsibility::AuditContact,
        ),
        (
            "sam@fintech.example",
            Role::SecurityOwner,
            Responsibility::SecurityOwner,
        ),
    ] {
        let a = portal
            .accounts()
            .sign_up(email, email, "a long colleague passphrase")
            .await?;
        let inv = portal
            .workspaces()
            .invite(lena, ws.id, email, RoleSet::of(&[role]), None)
            .await?;
        portal
            .workspaces()
            .accept_invitation(Caller::Account(a.id), inv.id)
            .await?;
        portal
            .workspaces()
            .name_responsible(lena, ws.id, what, Some(a.id))
            .await?;
    }
    portal
        .pipeline()
        .sign_off_gate(reviewer, sub.id, Gate::ConsentHandling)
        .await?;
    for q in portal.pipeline().review_queue(reviewer, None, 50).await? {
        println!(
            "queue: {} — remaining gate: {:?}",
            q.workspace_name,
            q.gates.remaining_gate().map(|g| g.gate)
        );
    }
    let sub = portal.pipeline().approve(reviewer, sub.id, None).await?;
    println!("phase: {}", sub.phase.kind());

    // Production: clone, pay, create the production credential.
    portal.projects().clone_to_production(lena, sub.id).await?;
    portal
        .billing()
        .confirm_payment(admin, sub.id, dec!(49.00), "EUR", "INV-2026-11-0001")
        .await?;
    let live = portal
        .credentials()
        .create_credential(
            lena,
            sub.id,
            Environment::Production,
            NewCredentialKind::ApiKey,
            "production",
        )
        .await?;
    println!(
        "production key (shown once): {}…",
        &live.secret.expose()[..12]
    );
    println!(
        "next: {}",
        portal.accounts().me(lena).await?.next_step.title
    );
    println!(
        "audit events: {}, chains intact: {}",
        store.audit_events().len(),
        portal
            .audit()
            .verify_all_audit_chains()
            .await?
            .iter()
            .all(|(_, r)| r.is_ok())
    );
    Ok(())
}
