//! Usage, alerts and invoices through the public API over in-memory adapters.

use chrono::{TimeDelta, TimeZone, Utc};
use onboarding_core::ServiceError;
use onboarding_core::gates::Gate;
use onboarding_core::memory::in_memory_portal;
use onboarding_core::project::Environment;
use onboarding_core::services::NewCredentialKind;
use onboarding_core::usage::{AlertMetric, Granularity};
use rust_decimal_macros::dec;
use test_support::*;

/// Walks a partner to production on the paid demo plan and returns what the tests need.
async fn live() -> (
    onboarding_core::Portal,
    std::sync::Arc<onboarding_core::memory::ManualClock>,
    Partner,
    Provider,
    String,
    onboarding_core::ids::ProjectId,
) {
    let (portal, _store, clock) =
        in_memory_portal(Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap());
    let prov = provider(&portal, false).await.unwrap();
    let p = partner(
        &portal,
        "lena@fintech.example",
        "Fintech Ltd",
        &prov.standard,
    )
    .await
    .unwrap();
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
    name_all_responsibles(&portal, &p).await.unwrap();
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
    let prod = portal
        .projects()
        .clone_to_production(p.caller, sub.id)
        .await
        .unwrap();
    portal
        .billing()
        .confirm_payment(prov.admin, sub.id, dec!(49.00), "EUR", "INV-1")
        .await
        .unwrap();
    let live = portal
        .credentials()
        .create_credential(
            p.caller,
            sub.id,
            Environment::Production,
            NewCredentialKind::ApiKey,
            "live",
        )
        .await
        .unwrap();
    (
        portal,
        clock,
        p,
        prov,
        live.secret.expose().to_owned(),
        prod.project.id,
    )
}

#[tokio::test]
async fn an_invoice_for_a_known_usage_pattern_matches_the_hand_computed_figure() {
    let (portal, clock, p, _prov, live, _prod) = live().await;
    // 12,345 production calls in November: 10,000 included, 2,345 × 0.0025 = 5.8625 → 5.86,
    // plus the 49.00 monthly fee = 54.86.
    for i in 0..12_345 {
        let ok = i % 7 != 0;
        portal
            .credentials()
            .verify_secret(
                &live,
                Some(Environment::Production),
                Some("GET /v1/accounts"),
                ok,
            )
            .await
            .unwrap();
        if i % 1000 == 0 {
            clock.advance(TimeDelta::hours(1));
        }
    }
    let owner = p.caller; // owners may read invoices; so may billing members
    let inv = portal
        .billing()
        .invoice(owner, p.workspace.id, "2026-11")
        .await
        .unwrap();
    assert_eq!(inv.lines.len(), 1);
    assert_eq!(inv.lines[0].requests, 12_345);
    assert_eq!(inv.lines[0].amount, dec!(54.86));
    assert_eq!(inv.totals[0].1, "54.86");
    // December has no usage yet: just the monthly fee.
    assert_eq!(
        portal
            .billing()
            .invoice(owner, p.workspace.id, "2026-12")
            .await
            .unwrap()
            .lines[0]
            .amount,
        dec!(49.00)
    );
    assert!(matches!(
        portal
            .billing()
            .invoice(owner, p.workspace.id, "2026-13")
            .await,
        Err(ServiceError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_threshold_crossing_alerts_once_per_window() {
    let (portal, clock, p, _prov, live, prod) = live().await;
    portal
        .projects()
        .set_alert_threshold(p.caller, prod, AlertMetric::RequestsPerDay, dec!(100))
        .await
        .unwrap();
    for _ in 0..99 {
        portal
            .credentials()
            .verify_secret(
                &live,
                Some(Environment::Production),
                Some("GET /v1/accounts"),
                true,
            )
            .await
            .unwrap();
    }
    assert!(
        portal
            .metering()
            .evaluate_alerts(prod)
            .await
            .unwrap()
            .is_empty()
    );
    portal
        .credentials()
        .verify_secret(
            &live,
            Some(Environment::Production),
            Some("GET /v1/accounts"),
            true,
        )
        .await
        .unwrap();
    let raised = portal.metering().evaluate_alerts(prod).await.unwrap();
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].observed, dec!(100));
    for _ in 0..50 {
        portal
            .credentials()
            .verify_secret(
                &live,
                Some(Environment::Production),
                Some("GET /v1/accounts"),
                true,
            )
            .await
            .unwrap();
    }
    assert!(
        portal
            .metering()
            .evaluate_alerts(prod)
            .await
            .unwrap()
            .is_empty(),
        "same day: already alerted"
    );
    clock.advance(TimeDelta::days(1));
    for _ in 0..100 {
        portal
            .credentials()
            .verify_secret(
                &live,
                Some(Environment::Production),
                Some("GET /v1/accounts"),
                true,
            )
            .await
            .unwrap();
    }
    assert_eq!(
        portal.metering().evaluate_alerts(prod).await.unwrap().len(),
        1,
        "a new day is a new window"
    );
}

#[tokio::test]
async fn the_usage_view_splits_requests_errors_and_spend() {
    let (portal, _clock, p, _prov, live, prod) = live().await;
    for i in 0..10 {
        portal
            .credentials()
            .verify_secret(
                &live,
                Some(Environment::Production),
                Some("GET /v1/accounts"),
                i < 8,
            )
            .await
            .unwrap();
    }
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    let v = portal
        .metering()
        .project_usage(
            p.caller,
            prod,
            now - TimeDelta::hours(1),
            now + TimeDelta::hours(1),
            Granularity::Hour,
        )
        .await
        .unwrap();
    assert_eq!((v.requests, v.errors), (10, 2));
    assert_eq!(
        v.spend.as_deref(),
        Some("0.00"),
        "inside the included quota"
    );
    assert_eq!(v.currency.as_deref(), Some("EUR"));
}
