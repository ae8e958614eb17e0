//! The one webhook use-case test that needs the crate-private mocks: an attempt and the
//! endpoint change it causes reach the delivery store as one write.

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone};

use super::*;
use crate::memory::in_memory_portal;
use crate::webhook::{EVENT_VERIFICATION, SigningSecret};

#[tokio::test]
async fn an_attempt_and_its_endpoint_change_travel_in_one_write() {
    let t = Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap();
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
    let msg = OutboxMessage {
        id: MessageId::from_ulid(ulid::Ulid::from_parts(2, 1)),
        workspace_id: ep.workspace_id,
        project_id: Some(ep.project_id),
        event_type: EVENT_VERIFICATION.into(),
        payload: json!({ "endpoint_id": ep.id, "challenge": "c0ffee" }),
        target_endpoint: Some(ep.id),
        created_at: t,
    };
    let d = crate::webhook::fan_out(
        &msg,
        std::slice::from_ref(&ep),
        || DeliveryId::from_ulid(ulid::Ulid::from_parts(3, 1)),
        t,
    )
    .pop()
    .unwrap();
    let mut mock = MockDeliveryStore::new();
    mock.expect_complete_attempt()
        .withf(|rec, also| {
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
    let result = AttemptResult {
        at: t,
        url: ep.url.clone(),
        response_status: Some(200),
        response_body: r#"{"challenge":"c0ffee"}"#.into(),
        error: None,
        latency_ms: 3,
        retry_at: Some(t + TimeDelta::seconds(5)),
    };
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
