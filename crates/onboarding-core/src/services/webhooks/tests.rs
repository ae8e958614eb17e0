//! The webhook use-case tests that need the crate-private mocks: what reaches the delivery
//! store, in how many writes.

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone};

use super::*;
use crate::memory::{MemoryStore, in_memory_portal};
use crate::webhook::{Delivery, DeliveryStatus, EVENT_VERIFICATION, SigningSecret};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
}

/// A portal over the in-memory store holding one pending endpoint, and that endpoint.
async fn with_endpoint() -> (Portal, Arc<MemoryStore>, WebhookEndpoint) {
    let t = t0();
    let (portal, store, _clock) = in_memory_portal(t);
    let ep = WebhookEndpoint {
        id: WebhookEndpointId::from_ulid(ulid::Ulid::from_parts(1, 1)),
        workspace_id: WorkspaceId::from_ulid(ulid::Ulid::from_parts(1, 2)),
        project_id: ProjectId::from_ulid(ulid::Ulid::from_parts(1, 3)),
        url: "https://hooks.example/in".into(),
        events: vec![],
        status: EndpointStatus::Pending,
        signing_secrets: vec![SigningSecret {
            sealed: "x".into(),
            created_at: t,
            expires_at: None,
        }],
        failing_since: None,
        created_at: t,
        version: 0,
    };
    store
        .commit(ChangeSet {
            changes: vec![Change::InsertWebhookEndpoint(ep.clone())],
            ..Default::default()
        })
        .await
        .unwrap();
    (portal, store, ep)
}

/// The delivery of one message of `event_type` to `ep`, numbered `n`.
fn delivery(ep: &WebhookEndpoint, n: u64, event_type: &str, payload: Value) -> Delivery {
    let msg = OutboxMessage {
        id: MessageId::from_ulid(ulid::Ulid::from_parts(2, n.into())),
        workspace_id: ep.workspace_id,
        project_id: Some(ep.project_id),
        event_type: event_type.into(),
        payload,
        target_endpoint: Some(ep.id),
        created_at: t0(),
    };
    crate::webhook::fan_out(
        &msg,
        std::slice::from_ref(ep),
        || DeliveryId::from_ulid(ulid::Ulid::from_parts(3, n.into())),
        t0(),
    )
    .pop()
    .unwrap()
}

fn answered(ep: &WebhookEndpoint, status: u16, body: &str) -> AttemptResult {
    AttemptResult {
        at: t0(),
        url: ep.url.clone(),
        response_status: Some(status),
        response_body: body.into(),
        error: None,
        latency_ms: 3,
        retry_at: Some(t0() + TimeDelta::seconds(5)),
    }
}

#[tokio::test]
async fn an_attempt_and_its_endpoint_change_travel_in_one_write() {
    let (portal, store, ep) = with_endpoint().await;
    let d = delivery(
        &ep,
        1,
        EVENT_VERIFICATION,
        json!({ "endpoint_id": ep.id, "challenge": "c0ffee" }),
    );
    let mut mock = MockDeliveryStore::new();
    mock.expect_complete_attempts()
        .withf(|recs, also| {
            let [rec] = recs.as_slice() else { return false };
            rec.status == DeliveryStatus::Succeeded
                && rec.lease_owner == "w1"
                && also.changes.len() == 1
                && matches!(&also.changes[0], Change::UpdateWebhookEndpoint { value, expected_version: 0 } if value.is_verified())
                && also.audit.len() == 1
                && also.audit[0].action == "webhook_endpoint.verified"
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let wh = Webhooks::new(portal.clone(), Arc::new(mock));
    let result = answered(&ep, 200, r#"{"challenge":"c0ffee"}"#);
    assert_eq!(
        wh.record_attempt(&d, "w1", result).await.unwrap(),
        DeliveryStatus::Succeeded
    );
    // The mock swallowed the write: the stored endpoint is untouched.
    assert_eq!(
        store.endpoint(ep.id).await.unwrap().unwrap().status,
        EndpointStatus::Pending
    );
}

#[tokio::test]
async fn a_ticks_outcomes_are_one_write_deciding_each_on_the_endpoint_the_previous_left() {
    let (portal, _store, ep) = with_endpoint().await;
    let failed = delivery(&ep, 1, "credential.rotated", json!({}));
    let ok = delivery(&ep, 2, "credential.rotated", json!({}));
    let skipped = delivery(&ep, 3, "credential.rotated", json!({}));
    let mut mock = MockDeliveryStore::new();
    mock.expect_complete_attempts()
        .withf(|recs, also| {
            let [a, b, c] = recs.as_slice() else {
                return false;
            };
            // The failure marks the endpoint failing (version 0 -> 1); the success, decided on
            // that failing endpoint, clears it again (1 -> 2): two chained updates.
            let chained = matches!(
                also.changes.as_slice(),
                [
                    Change::UpdateWebhookEndpoint { value: v1, expected_version: 0 },
                    Change::UpdateWebhookEndpoint { value: v2, expected_version: 1 },
                ] if v1.failing_since.is_some() && v2.failing_since.is_none() && v2.version == 2
            );
            a.status == DeliveryStatus::Pending
                && b.status == DeliveryStatus::Succeeded
                && c.status == DeliveryStatus::Failed
                && c.attempt.error.as_deref() == Some("not sent: because")
                && chained
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let wh = Webhooks::new(portal, Arc::new(mock));
    let settled = wh
        .record_outcomes(
            "w1",
            vec![
                (failed, Outcome::Sent(answered(&ep, 500, ""))),
                (ok, Outcome::Sent(answered(&ep, 204, ""))),
                (skipped, Outcome::NotSent("because".into())),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        settled,
        [
            Settled::Left(DeliveryStatus::Pending),
            Settled::Left(DeliveryStatus::Succeeded),
            Settled::Left(DeliveryStatus::Failed),
        ]
    );
}

#[tokio::test]
async fn a_conflicting_tick_write_is_recorded_outcome_by_outcome() {
    let (portal, _store, ep) = with_endpoint().await;
    let lost = delivery(&ep, 1, "credential.rotated", json!({}));
    let kept = delivery(&ep, 2, "credential.rotated", json!({}));
    let (lost_id, kept_id) = (lost.id, kept.id);
    let mut mock = MockDeliveryStore::new();
    let mut seq = mockall::Sequence::new();
    mock.expect_complete_attempts()
        .withf(|recs, _| recs.len() == 2)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Err(StoreError::Conflict("delivery lease".into())));
    // Then one write each: the lost lease conflicts again, the other is recorded.
    mock.expect_complete_attempts()
        .withf(move |recs, _| recs.len() == 1 && recs[0].attempt.delivery_id == lost_id)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Err(StoreError::Conflict("delivery lease".into())));
    mock.expect_complete_attempts()
        .withf(move |recs, _| recs.len() == 1 && recs[0].attempt.delivery_id == kept_id)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    let wh = Webhooks::new(portal, Arc::new(mock));
    let settled = wh
        .record_outcomes(
            "w1",
            vec![
                (lost, Outcome::NotSent("gone".into())),
                (kept, Outcome::Sent(answered(&ep, 200, ""))),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        settled,
        [Settled::LostLease, Settled::Left(DeliveryStatus::Succeeded)]
    );
}
