//! Issue 22 through the public API over the in-memory adapters: the up-front invoice issued
//! at approval, the production lock it holds, payments recorded by an admin or reported by a
//! processor once per event id, refunds, voids and a later period lapsing past its grace.

use chrono::{TimeDelta, TimeZone, Utc};
use onboarding_core::credential::LockReason;
use onboarding_core::gates::Gate;
use onboarding_core::ids::*;
use onboarding_core::invoicing::{InvoiceKind, InvoiceState};
use onboarding_core::memory::in_memory_portal;
use onboarding_core::project::Environment;
use onboarding_core::services::{NewCredentialKind, ProcessorOutcome};
use onboarding_core::{Portal, ServiceError};
use rust_decimal_macros::dec;
use test_support::*;

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap()
}

/// A partner on the paid demo plan, approved and cloned to production.
async fn approved(portal: &Portal) -> (Partner, Provider, SubscriptionId) {
    let prov = provider(portal, false).await.unwrap();
    let p = partner(
        portal,
        "lena@fintech.example",
        "Fintech Ltd",
        &prov.standard,
    )
    .await
    .unwrap();
    let sub = subscribed_and_approved(portal, &prov, &p).await;
    portal
        .projects()
        .clone_to_production(p.caller, sub)
        .await
        .unwrap();
    (p, prov, sub)
}

async fn subscribed_and_approved(portal: &Portal, prov: &Provider, p: &Partner) -> SubscriptionId {
    let sub = portal
        .pipeline()
        .subscribe(p.caller, p.project.id, prov.standard.id)
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
    for _ in 0..prov.standard.integration_min_calls {
        portal
            .credentials()
            .verify_secret(
                key.secret.expose(),
                Some(Environment::Sandbox),
                Some(&prov.standard.endpoints[0]),
                true,
            )
            .await
            .unwrap();
    }
    portal
        .pipeline()
        .submit(p.caller, sub.id, Some(demo_answers()), None)
        .await
        .unwrap();
    name_all_responsibles(portal, p).await.unwrap();
    portal
        .pipeline()
        .sign_off_gate(prov.reviewer, sub.id, Gate::ConsentHandling)
        .await
        .unwrap();
    portal
        .pipeline()
        .approve(prov.reviewer, sub.id, None)
        .await
        .unwrap();
    sub.id
}

async fn create_production(
    portal: &Portal,
    p: &Partner,
    sub: SubscriptionId,
) -> Result<(), ServiceError> {
    portal
        .credentials()
        .create_credential(
            p.caller,
            sub,
            Environment::Production,
            NewCredentialKind::ApiKey,
            "live",
        )
        .await
        .map(|_| ())
}

#[tokio::test]
async fn approval_issues_the_up_front_invoice_and_only_paying_it_in_full_unlocks() {
    let (portal, store, _clock) = in_memory_portal(start());
    let (p, prov, sub) = approved(&portal).await;

    let view = portal
        .pipeline()
        .subscription_view(p.caller, sub)
        .await
        .unwrap();
    assert_eq!(view.production_lock, Some(LockReason::PaymentRequired));
    let due = view.payment_due.expect("the card names the invoice to pay");
    assert_eq!(
        (due.kind, due.total, due.currency.as_str()),
        (InvoiceKind::UpFront, dec!(49.00), "EUR")
    );
    assert_eq!(due.period, "2026-12");
    assert!(matches!(
        create_production(&portal, &p, sub).await,
        Err(ServiceError::Locked(LockReason::PaymentRequired))
    ));

    // Another currency is refused, naming the field, and records nothing.
    let r = portal
        .billing()
        .record_payment(prov.admin, due.id, dec!(49.00), "USD", "TR-1")
        .await;
    assert!(
        matches!(&r, Err(ServiceError::Invalid(f)) if f.field == "currency"),
        "{r:?}"
    );
    // A partner cannot record a payment.
    let r = portal
        .billing()
        .record_payment(p.caller, due.id, dec!(49.00), "EUR", "TR-1")
        .await;
    assert!(matches!(r, Err(ServiceError::Forbidden { .. })), "{r:?}");

    // A partial payment is recorded and leaves it open and locked.
    let (_, inv) = portal
        .billing()
        .record_payment(prov.admin, due.id, dec!(20.00), "EUR", "TR-1")
        .await
        .unwrap();
    assert_eq!(
        (inv.state, inv.amount_due()),
        (InvoiceState::Open, dec!(29.00))
    );
    assert!(matches!(
        create_production(&portal, &p, sub).await,
        Err(ServiceError::Locked(_))
    ));
    let r = portal
        .billing()
        .record_payment(prov.admin, due.id, dec!(30.00), "EUR", "TR-2")
        .await;
    assert!(
        matches!(&r, Err(ServiceError::Invalid(f)) if f.field == "amount"),
        "{r:?}"
    );

    let (_, inv) = portal
        .billing()
        .record_payment(prov.admin, due.id, dec!(29.00), "EUR", "TR-2")
        .await
        .unwrap();
    assert_eq!(inv.state, InvoiceState::Paid);
    create_production(&portal, &p, sub).await.unwrap();

    let view = portal
        .billing()
        .invoice_view(p.caller, due.id)
        .await
        .unwrap();
    assert_eq!(view.payments.len(), 2);
    assert_eq!(view.invoice.state, InvoiceState::Paid);
    let audit = store.audit_events();
    let settled = audit
        .iter()
        .rev()
        .find(|e| e.draft.action == "payment.recorded")
        .unwrap();
    assert_eq!(settled.draft.details["invoice_state"], "paid");
    assert_eq!(settled.draft.details["amount"], "29.00");
    let actions: Vec<_> = audit.into_iter().map(|e| e.draft.action).collect();
    for a in ["invoice.issued", "payment.recorded"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    let events: Vec<_> = store.outbox().into_iter().map(|m| m.event_type).collect();
    for e in ["invoice.issued", "payment.confirmed", "invoice.paid"] {
        assert!(events.iter().any(|x| x == e), "{e} in {events:?}");
    }
    // Another workspace sees none of it.
    let other = partner(
        &portal,
        "ivo@elsewhere.example",
        "Elsewhere",
        &prov.standard,
    )
    .await
    .unwrap();
    assert_eq!(
        portal
            .billing()
            .invoice_view(other.caller, due.id)
            .await
            .unwrap_err(),
        ServiceError::NotFound { entity: "invoice" }
    );
}

#[tokio::test]
async fn a_processor_event_applies_once_and_its_refund_locks_new_credentials_again() {
    let (portal, _store, _clock) = in_memory_portal(start());
    let (p, _prov, sub) = approved(&portal).await;
    let due = portal
        .pipeline()
        .subscription_view(p.caller, sub)
        .await
        .unwrap()
        .payment_due
        .unwrap();
    let pay = |id: &'static str| {
        let portal = portal.clone();
        async move {
            portal
                .billing()
                .processor_payment(id, due.id, dec!(49.00), "EUR", "pi_123")
                .await
        }
    };
    assert!(
        matches!(pay("evt_1").await.unwrap(), ProcessorOutcome::Applied(i) if i.state == InvoiceState::Paid)
    );
    assert_eq!(
        pay("evt_1").await.unwrap(),
        ProcessorOutcome::Duplicate,
        "a replayed event id changes nothing"
    );
    create_production(&portal, &p, sub).await.unwrap();

    let r = portal
        .billing()
        .processor_refund("evt_2", "pi_123", dec!(49.00), "re_1")
        .await
        .unwrap();
    assert!(matches!(r, ProcessorOutcome::Applied(i) if i.state == InvoiceState::Open));
    assert_eq!(
        portal
            .billing()
            .processor_refund("evt_2", "pi_123", dec!(49.00), "re_1")
            .await
            .unwrap(),
        ProcessorOutcome::Duplicate
    );
    assert!(matches!(
        create_production(&portal, &p, sub).await,
        Err(ServiceError::Locked(LockReason::PaymentRequired))
    ));
}

#[tokio::test]
async fn a_later_period_unpaid_past_its_grace_locks_new_production_credentials_only() {
    let (portal, _store, clock) = in_memory_portal(start());
    let (p, prov, sub) = approved(&portal).await;
    let due = portal
        .pipeline()
        .subscription_view(p.caller, sub)
        .await
        .unwrap()
        .payment_due
        .unwrap();
    portal
        .billing()
        .record_payment(prov.admin, due.id, dec!(49.00), "EUR", "TR-1")
        .await
        .unwrap();
    let live = portal
        .credentials()
        .create_credential(
            p.caller,
            sub,
            Environment::Production,
            NewCredentialKind::ApiKey,
            "live",
        )
        .await
        .unwrap();

    clock.set(Utc.with_ymd_and_hms(2027, 1, 1, 0, 5, 0).unwrap());
    let issued = portal
        .billing()
        .issue_period_invoices("2027-01")
        .await
        .unwrap();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        (issued[0].kind, issued[0].total),
        (InvoiceKind::Period, dec!(49.00))
    );
    assert!(
        portal
            .billing()
            .issue_period_invoices("2027-01")
            .await
            .unwrap()
            .is_empty(),
        "once per period"
    );

    clock.advance(TimeDelta::days(14));
    create_production(&portal, &p, sub).await.unwrap();
    clock.advance(TimeDelta::days(1));
    assert_eq!(
        create_production(&portal, &p, sub).await.unwrap_err(),
        ServiceError::Locked(LockReason::PaymentOverdue)
    );
    let view = portal
        .pipeline()
        .subscription_view(p.caller, sub)
        .await
        .unwrap();
    assert_eq!(
        view.payment_due.map(|i| i.id),
        Some(issued[0].id),
        "the card names the overdue invoice"
    );
    // Keys that exist keep working.
    let v = portal
        .credentials()
        .verify_secret(
            live.secret.expose(),
            Some(Environment::Production),
            None,
            false,
        )
        .await
        .unwrap();
    assert!(v.valid, "{v:?}");

    // Voiding it (the provider forgives the month) unlocks; nothing can be paid on it then.
    let voided = portal
        .billing()
        .void(prov.admin, issued[0].id)
        .await
        .unwrap();
    assert_eq!(voided.state, InvoiceState::Void);
    create_production(&portal, &p, sub).await.unwrap();
    let r = portal
        .billing()
        .record_payment(prov.admin, issued[0].id, dec!(49.00), "EUR", "TR-9")
        .await;
    assert!(
        matches!(r, Err(ServiceError::Conflict { current: Some(ref c), .. }) if c == "void"),
        "{r:?}"
    );
    let staff_view = portal
        .billing()
        .invoices_in_state(prov.admin, InvoiceState::Void, None, 50)
        .await
        .unwrap();
    assert_eq!(staff_view.len(), 1);
}
