//! Separation of duties (gate 7, issue 20) through the public API: the named security owner
//! may be neither the account that submitted nor an owner, unless the plan waives it.

use chrono::{TimeZone, Utc};
use onboarding_core::gates::{Gate, GateState};
use onboarding_core::memory::in_memory_portal;
use onboarding_core::project::Environment;
use onboarding_core::roles::{Role, RoleSet};
use onboarding_core::services::NewCredentialKind;
use onboarding_core::workspace::Responsibility;
use onboarding_core::{Caller, Portal};
use test_support::*;

async fn gate7(
    portal: &Portal,
    p: &Partner,
    sub: onboarding_core::ids::SubscriptionId,
) -> GateState {
    portal
        .pipeline()
        .subscription_view(p.caller, sub)
        .await
        .unwrap()
        .gates
        .gates
        .into_iter()
        .find(|g| g.gate == Gate::InternalAccessControls)
        .unwrap()
        .state
}

#[tokio::test]
async fn the_security_owner_may_be_neither_the_submitter_nor_an_owner() {
    let (portal, _store, _clock) =
        in_memory_portal(Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap());
    let prov = provider(&portal, false).await.unwrap();
    let p = partner(&portal, "lena@acme.example", "Acme", &prov.standard)
        .await
        .unwrap();
    let ws = portal.workspaces();
    // The lead, an owner, names themself security owner and submits.
    ws.set_roles(
        p.caller,
        p.workspace.id,
        p.lead.id,
        RoleSet::of(&[Role::Owner, Role::TechnicalLead, Role::SecurityOwner]),
    )
    .await
    .unwrap();
    ws.name_responsible(
        p.caller,
        p.workspace.id,
        Responsibility::SecurityOwner,
        Some(p.lead.id),
    )
    .await
    .unwrap();
    let sub = portal
        .pipeline()
        .subscribe(p.caller, p.project.id, prov.standard.id)
        .await
        .unwrap()
        .id;
    portal
        .credentials()
        .create_credential(
            p.caller,
            sub,
            Environment::Sandbox,
            NewCredentialKind::ApiKey,
            "dev",
        )
        .await
        .unwrap();
    portal
        .pipeline()
        .submit(p.caller, sub, Some(demo_answers()), None)
        .await
        .unwrap();
    match gate7(&portal, &p, sub).await {
        GateState::Failed { reason, .. } => assert!(reason.contains("submitted"), "{reason}"),
        other => panic!("{other:?}"),
    }

    // A colleague who is not an owner and did not submit: passes.
    let sec = add_responsible(
        &portal,
        &p,
        "sam@acme.example",
        Role::SecurityOwner,
        Responsibility::SecurityOwner,
    )
    .await
    .unwrap();
    assert_eq!(gate7(&portal, &p, sub).await, GateState::Passed);

    // Made an owner as well: fails, with the reason.
    ws.set_roles(
        p.caller,
        p.workspace.id,
        sec.id,
        RoleSet::of(&[Role::Owner, Role::SecurityOwner]),
    )
    .await
    .unwrap();
    match gate7(&portal, &p, sub).await {
        GateState::Failed { reason, .. } => assert!(reason.contains("owner role"), "{reason}"),
        other => panic!("{other:?}"),
    }

    // Back to security owner only, the colleague withdraws and resubmits as technical lead:
    // now the security owner is the submitter.
    ws.set_roles(
        p.caller,
        p.workspace.id,
        sec.id,
        RoleSet::of(&[Role::TechnicalLead, Role::SecurityOwner]),
    )
    .await
    .unwrap();
    portal
        .pipeline()
        .withdraw(p.caller, sub, None)
        .await
        .unwrap();
    portal
        .pipeline()
        .submit(Caller::Account(sec.id), sub, Some(demo_answers()), None)
        .await
        .unwrap();
    match gate7(&portal, &p, sub).await {
        GateState::Failed { reason, .. } => assert!(reason.contains("submitted"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
