//! Usage ingestion, exports and the report history through the public API over in-memory
//! adapters.

use chrono::{TimeDelta, TimeZone, Utc};
use onboarding_core::ServiceError;
use onboarding_core::memory::in_memory_portal;
use onboarding_core::project::Environment;
use onboarding_core::services::{
    ExportFormat, ExportKind, ExportScope, NewCredentialKind, ReportedCall,
};
use onboarding_core::usage::Granularity;
use test_support::*;

#[tokio::test]
async fn ingested_calls_are_counted_exported_and_recorded() {
    let start = Utc.with_ymd_and_hms(2026, 11, 3, 9, 0, 0).unwrap();
    let (portal, _store, clock) = in_memory_portal(start);
    let prov = provider(&portal, false).await.unwrap();
    let p = partner(&portal, "ida@shop.example", "Shop", &prov.standard)
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
            "ci",
        )
        .await
        .unwrap();
    let cred = key.credential.id;
    let call = |endpoint: &str, status: u16, at| ReportedCall {
        credential_id: cred,
        endpoint: endpoint.into(),
        status,
        latency_ms: Some(10),
        at,
    };
    let report = portal
        .metering()
        .ingest_usage(vec![
            call("GET /a", 200, None),
            call("GET /a", 500, Some(start - TimeDelta::minutes(3))),
            call(" ", 200, None),
            call("GET /a", 700, None),
            call("GET /a", 200, Some(start - TimeDelta::days(2))),
            ReportedCall {
                credential_id: "cred_01J00000000000000000000000".parse().unwrap(),
                ..call("GET /a", 200, None)
            },
        ])
        .await
        .unwrap();
    assert_eq!(report.accepted, 2);
    let reasons: Vec<_> = report
        .rejected
        .iter()
        .map(|r| (r.index, r.reason))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (2, "invalid_endpoint"),
            (3, "invalid_status"),
            (4, "out_of_window"),
            (5, "unknown_credential")
        ]
    );
    let view = portal
        .metering()
        .project_usage(
            p.caller,
            p.project.id,
            start - TimeDelta::hours(1),
            start + TimeDelta::hours(1),
            Granularity::Hour,
        )
        .await
        .unwrap();
    assert_eq!((view.requests, view.errors), (2, 1));

    // Export: authorized once, read by day, recorded once.
    let grant = portal
        .exports()
        .authorize_export(p.caller, ExportScope::ProjectUsage(p.project.id), "2026-11")
        .await
        .unwrap();
    assert_eq!(grant.usage_pages(), 30);
    let (rows, next) = portal
        .exports()
        .export_usage_page(&grant, start - TimeDelta::hours(9))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(next, Some(start + TimeDelta::hours(15)));
    clock.advance(TimeDelta::minutes(5));
    portal
        .exports()
        .record_export(&grant, ExportFormat::Jsonl, 2)
        .await
        .unwrap();
    let history = portal
        .exports()
        .report_history(p.caller, p.project.id, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].kind, history[0].format.as_str(), history[0].rows),
        (ExportKind::Usage, "jsonl", 2)
    );

    // Audit log export pages carry the period's events only.
    let audit = portal
        .exports()
        .authorize_export(
            p.caller,
            ExportScope::WorkspaceAudit(p.workspace.id),
            "2026-10",
        )
        .await
        .unwrap();
    let (events, _) = portal
        .exports()
        .export_audit_page(&audit, 0, 100)
        .await
        .unwrap();
    assert!(events.is_empty());

    // Another workspace's member is told nothing exists; a bad period is a field error.
    let other = partner(&portal, "eve@else.example", "Else", &prov.standard)
        .await
        .unwrap();
    assert!(matches!(
        portal
            .exports()
            .authorize_export(
                other.caller,
                ExportScope::ProjectUsage(p.project.id),
                "2026-11"
            )
            .await,
        Err(ServiceError::NotFound { .. })
    ));
    assert!(matches!(
        portal
            .exports()
            .authorize_export(p.caller, ExportScope::ProjectUsage(p.project.id), "2026-1")
            .await,
        Err(ServiceError::Invalid(_))
    ));
}
