//! The decision history (issue 20): every round's decisions, named for the reader, with the
//! reviewer's notes kept after the resubmission.

use chrono::{TimeZone, Utc};
use onboarding_core::memory::in_memory_portal;
use onboarding_core::pipeline::PipelineAction;
use onboarding_core::project::Environment;
use onboarding_core::services::NewCredentialKind;
use test_support::*;

#[tokio::test]
async fn each_round_keeps_its_decisions_and_notes_named_for_the_reader() {
    let (portal, _store, _clock) =
        in_memory_portal(Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap());
    let prov = provider(&portal, false).await.unwrap();
    let p = partner(&portal, "lena@acme.example", "Acme", &prov.standard)
        .await
        .unwrap();
    let pipe = portal.pipeline();
    let sub = pipe
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
    pipe.submit(p.caller, sub, Some(demo_answers()), None)
        .await
        .unwrap();
    pipe.request_changes(prov.reviewer, sub, "Describe retention", None)
        .await
        .unwrap();
    pipe.submit(p.caller, sub, Some(demo_answers()), None)
        .await
        .unwrap();
    pipe.reject(prov.reviewer, sub, None, None).await.unwrap();

    let mine = pipe.decision_history(p.caller, sub).await.unwrap();
    let got: Vec<_> = mine
        .iter()
        .map(|h| (h.round, h.action, h.by.as_str(), h.by_you))
        .collect();
    assert_eq!(
        got,
        [
            (1, PipelineAction::Submit, "Lena Lead", true),
            (
                1,
                PipelineAction::RequestChanges,
                "Rita Reviewer (API provider)",
                false
            ),
            (2, PipelineAction::Submit, "Lena Lead", true),
            (
                2,
                PipelineAction::Reject,
                "Rita Reviewer (API provider)",
                false
            ),
        ]
    );
    assert_eq!(
        mine[1].notes.as_ref().unwrap().as_str(),
        "Describe retention"
    );
    // The reviewer reads the same history with their own decisions as "you".
    let theirs = pipe.decision_history(prov.reviewer, sub).await.unwrap();
    assert!(theirs[1].by_you && !theirs[0].by_you);
    // Another workspace's member sees nothing.
    let other = partner(&portal, "eve@else.example", "Else", &prov.standard)
        .await
        .unwrap();
    assert!(pipe.decision_history(other.caller, sub).await.is_err());
}
