//! The staff inbox over the in-memory adapters (issue 20): each subscription appears in the
//! queue its state waits in, oldest first, leaves it when staff or the partner act, and the
//! filters narrow by product, plan and workspace.

use chrono::{TimeDelta, TimeZone, Utc};
use onboarding_core::demo::demo_catalog;
use onboarding_core::gates::Gate;
use onboarding_core::ids::*;
use onboarding_core::inbox::InboxQueue;
use onboarding_core::memory::{ManualClock, in_memory_portal};
use onboarding_core::plan::SandboxAccessMode;
use onboarding_core::project::Environment;
use onboarding_core::services::{InboxFilter, NewCredentialKind};
use onboarding_core::{Caller, Portal, ServiceError};
use rust_decimal_macros::dec;
use test_support::*;

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()
}

async fn queue(
    portal: &Portal,
    staff: Caller,
    q: InboxQueue,
    f: InboxFilter,
) -> Vec<SubscriptionId> {
    portal
        .pipeline()
        .inbox(staff, q, f, None, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.subscription.id)
        .collect()
}

/// Subscribes the partner's project to the plan and submits it with enough sandbox calls.
async fn submitted(
    portal: &Portal,
    p: &Partner,
    plan: &onboarding_core::plan::Plan,
) -> SubscriptionId {
    let sub = portal
        .pipeline()
        .subscribe(p.caller, p.project.id, plan.id)
        .await
        .unwrap();
    let key = portal
        .credentials()
        .create_credential(
            p.caller,
            sub.id,
            Environment::Sandbox,
            NewCredentialKind::ApiKey,
            "dev",
        )
        .await
        .unwrap();
    for _ in 0..plan.integration_min_calls {
        portal
            .credentials()
            .verify_secret(
                key.secret.expose(),
                Some(Environment::Sandbox),
                Some(&plan.endpoints[0]),
                true,
            )
            .await
            .unwrap();
    }
    portal
        .pipeline()
        .submit(
            p.caller,
            sub.id,
            Some(answers_for(portal, p, sub.id).await),
            None,
        )
        .await
        .unwrap();
    sub.id
}

/// The demo answers the subscription's form asks for (plans without a form ask only for
/// what their gates need).
async fn answers_for(
    portal: &Portal,
    p: &Partner,
    id: SubscriptionId,
) -> onboarding_core::form::Answers {
    let form = portal
        .pipeline()
        .subscription_view(p.caller, id)
        .await
        .unwrap()
        .form
        .unwrap();
    let keys: Vec<String> = form
        .steps
        .iter()
        .flat_map(|s| s.fields.iter().map(|f| f.key.clone()))
        .collect();
    demo_answers()
        .into_iter()
        .filter(|(k, _)| keys.contains(k))
        .collect()
}

async fn later(clock: &ManualClock) {
    clock.advance(TimeDelta::minutes(10));
}

#[tokio::test]
async fn each_queue_holds_what_waits_on_staff_and_lets_go_when_someone_acts() {
    let (portal, _store, clock) = in_memory_portal(start());
    let prov = provider(&portal, false).await.unwrap();
    let staff = prov.reviewer;
    let all = InboxFilter::default();
    // A third plan on which sandbox access waits for a reviewer.
    let (_, mut inputs) = demo_catalog();
    let mut gated = inputs.remove(1);
    gated.name = "Explorer (approval)".into();
    gated.sandbox_access = SandboxAccessMode::ApprovalRequired;
    let gated = portal
        .catalog()
        .create_plan(prov.admin, prov.product.id, gated)
        .await
        .unwrap();

    // Acme waits in review on the paid plan; Beta asks for sandbox access; Cora's free
    // submission is sent back with Changes Requested.
    let acme = partner(&portal, "lena@acme.example", "Acme", &prov.standard)
        .await
        .unwrap();
    let acme_sub = submitted(&portal, &acme, &prov.standard).await;
    later(&clock).await;
    let beta = partner(&portal, "bo@beta.example", "Beta", &gated)
        .await
        .unwrap();
    let beta_sub = portal
        .pipeline()
        .subscribe(beta.caller, beta.project.id, gated.id)
        .await
        .unwrap()
        .id;
    later(&clock).await;
    let cora = partner(&portal, "cy@cora.example", "Cora", &prov.explorer)
        .await
        .unwrap();
    let cora_sub = submitted(&portal, &cora, &prov.explorer).await;
    later(&clock).await;
    portal
        .pipeline()
        .request_changes(staff, cora_sub, "Explain how consent is withdrawn", None)
        .await
        .unwrap();

    assert_eq!(
        queue(&portal, staff, InboxQueue::InReview, all).await,
        [acme_sub]
    );
    assert_eq!(
        queue(&portal, staff, InboxQueue::SandboxAccess, all).await,
        [beta_sub]
    );
    assert_eq!(
        queue(&portal, staff, InboxQueue::ChangesRequested, all).await,
        [cora_sub]
    );
    assert!(
        queue(&portal, staff, InboxQueue::AwaitingPayment, all)
            .await
            .is_empty()
    );
    let rows = portal
        .pipeline()
        .inbox(staff, InboxQueue::ChangesRequested, all, None, 50)
        .await
        .unwrap();
    assert_eq!(
        rows[0].notes.as_ref().unwrap().as_str(),
        "Explain how consent is withdrawn"
    );
    assert_eq!(rows[0].workspace_name, "Cora");
    assert_eq!(rows[0].age_seconds, 0);
    let counts = portal.pipeline().inbox_counts(staff, all).await.unwrap();
    assert_eq!(
        InboxQueue::ALL
            .iter()
            .map(|q| counts.of(*q))
            .collect::<Vec<_>>(),
        [1, 1, 0, 1]
    );

    // Filters: by workspace, by plan, by product (the one product holds every plan).
    let only_beta = InboxFilter {
        workspace: Some(beta.workspace.id),
        ..all
    };
    assert!(
        queue(&portal, staff, InboxQueue::InReview, only_beta)
            .await
            .is_empty()
    );
    assert_eq!(
        queue(&portal, staff, InboxQueue::SandboxAccess, only_beta).await,
        [beta_sub]
    );
    let only_free = InboxFilter {
        plan: Some(prov.explorer.id),
        ..all
    };
    assert!(
        queue(&portal, staff, InboxQueue::InReview, only_free)
            .await
            .is_empty()
    );
    assert_eq!(
        queue(&portal, staff, InboxQueue::ChangesRequested, only_free).await,
        [cora_sub]
    );
    let product = InboxFilter {
        product: Some(prov.product.id),
        ..all
    };
    assert_eq!(
        queue(&portal, staff, InboxQueue::InReview, product).await,
        [acme_sub]
    );

    // Granting access, resubmitting and approving move each one along.
    portal
        .pipeline()
        .decide_sandbox_access(staff, beta_sub, true, None)
        .await
        .unwrap();
    assert!(
        queue(&portal, staff, InboxQueue::SandboxAccess, all)
            .await
            .is_empty()
    );
    portal
        .pipeline()
        .submit(
            cora.caller,
            cora_sub,
            Some(answers_for(&portal, &cora, cora_sub).await),
            None,
        )
        .await
        .unwrap();
    assert!(
        queue(&portal, staff, InboxQueue::ChangesRequested, all)
            .await
            .is_empty()
    );
    assert_eq!(
        queue(&portal, staff, InboxQueue::InReview, all).await,
        [acme_sub, cora_sub]
    );

    name_all_responsibles(&portal, &acme).await.unwrap();
    portal
        .pipeline()
        .sign_off_gate(staff, acme_sub, Gate::ConsentHandling)
        .await
        .unwrap();
    portal
        .pipeline()
        .approve(staff, acme_sub, None)
        .await
        .unwrap();
    clock.advance(TimeDelta::hours(2));
    let unpaid = portal
        .pipeline()
        .inbox(staff, InboxQueue::AwaitingPayment, all, None, 50)
        .await
        .unwrap();
    assert_eq!(unpaid.len(), 1);
    assert_eq!(unpaid[0].subscription.id, acme_sub);
    assert_eq!(unpaid[0].age_seconds, 7200);
    assert!(unpaid[0].pricing.as_ref().is_some_and(|p| p.is_paid()));
    portal
        .billing()
        .confirm_payment(prov.admin, acme_sub, dec!(49.00), "EUR", "INV-1")
        .await
        .unwrap();
    assert!(
        queue(&portal, staff, InboxQueue::AwaitingPayment, all)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn an_approved_free_plan_never_waits_for_payment() {
    let (portal, _store, _clock) = in_memory_portal(start());
    let prov = provider(&portal, false).await.unwrap();
    // The free plan without the webhook gate, which needs a live receiver.
    let (_, mut inputs) = demo_catalog();
    let mut free = inputs.remove(1);
    free.name = "Explorer (no webhooks)".into();
    free.gates.retain(|g| *g != Gate::WebhookVerification);
    let free = portal
        .catalog()
        .create_plan(prov.admin, prov.product.id, free)
        .await
        .unwrap();
    let p = partner(&portal, "lena@acme.example", "Acme", &free)
        .await
        .unwrap();
    let sub = submitted(&portal, &p, &free).await;
    portal
        .pipeline()
        .sign_off_gate(prov.reviewer, sub, Gate::ConsentHandling)
        .await
        .unwrap();
    let gates = portal
        .pipeline()
        .subscription_view(prov.reviewer, sub)
        .await
        .unwrap()
        .gates;
    assert!(gates.all_passed(), "{gates:?}");
    portal
        .pipeline()
        .approve(prov.reviewer, sub, None)
        .await
        .unwrap();
    let all = InboxFilter::default();
    assert!(
        queue(&portal, prov.reviewer, InboxQueue::AwaitingPayment, all)
            .await
            .is_empty()
    );
    let counts = portal
        .pipeline()
        .inbox_counts(prov.reviewer, all)
        .await
        .unwrap();
    assert_eq!(counts.of(InboxQueue::AwaitingPayment), 0);
}

#[tokio::test]
async fn only_staff_read_the_inbox_and_unknown_filters_name_their_field() {
    let (portal, _store, _clock) = in_memory_portal(start());
    let prov = provider(&portal, false).await.unwrap();
    let p = partner(&portal, "lena@acme.example", "Acme", &prov.standard)
        .await
        .unwrap();
    let refused = portal
        .pipeline()
        .inbox(
            p.caller,
            InboxQueue::InReview,
            InboxFilter::default(),
            None,
            50,
        )
        .await;
    assert!(
        matches!(refused, Err(ServiceError::Forbidden { .. })),
        "{refused:?}"
    );
    let nowhere = WorkspaceId::from_ulid(ulid::Ulid::from_parts(1, 1));
    for (f, field) in [
        (
            InboxFilter {
                workspace: Some(nowhere),
                ..Default::default()
            },
            "workspace",
        ),
        (
            InboxFilter {
                plan: Some(PlanId::from_ulid(ulid::Ulid::from_parts(1, 2))),
                ..Default::default()
            },
            "plan",
        ),
        (
            InboxFilter {
                product: Some(ProductId::from_ulid(ulid::Ulid::from_parts(1, 3))),
                ..Default::default()
            },
            "product",
        ),
    ] {
        match portal.pipeline().inbox_counts(prov.reviewer, f).await {
            Err(ServiceError::Invalid(e)) => assert_eq!(e.field, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}
