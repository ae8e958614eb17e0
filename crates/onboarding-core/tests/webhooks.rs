//! Webhook use cases over the in-memory adapters and the public API.

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use serde_json::json;
use test_support::{Partner, partner, provider};

use onboarding_core::ids::WebhookEndpointId;
use onboarding_core::memory::{ManualClock, MemoryStore, in_memory_portal};
use onboarding_core::ports::{Clock, DeliveryStore, WebhookStore};
use onboarding_core::services::{AttemptResult, CreatedEndpoint, DispatchReport, Prepared};
use onboarding_core::webhook::{
    DISABLE_AFTER_FAILING, Delivery, DeliveryStatus, EVENT_ENDPOINT_DISABLED, EVENT_VERIFICATION,
    EndpointStatus, WebhookEndpoint,
};
use onboarding_core::{Caller, Portal, ServiceError, ServiceResult, Webhooks};

struct Env {
    portal: Portal,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    wh: Webhooks,
    p: Partner,
}

async fn env() -> Env {
    let (portal, store, clock) =
        in_memory_portal(Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap());
    let prov = provider(&portal, true).await.unwrap();
    let p = partner(&portal, "lena@acme.example", "Acme", &prov.standard)
        .await
        .unwrap();
    let wh = Webhooks::new(portal.clone(), store.clone());
    Env {
        portal,
        store,
        clock,
        wh,
        p,
    }
}

impl Env {
    async fn endpoint(&self, events: &[&str]) -> CreatedEndpoint {
        let events: Vec<String> = events.iter().map(|s| s.to_string()).collect();
        self.portal
            .endpoints()
            .create_webhook_endpoint(
                self.p.caller,
                self.p.project.id,
                "http://hooks.acme.example/in",
                &events,
            )
            .await
            .unwrap()
    }

    /// Dispatches and claims everything due as worker `w`.
    async fn claim(&self, w: &str) -> Vec<Delivery> {
        self.wh.dispatch(100).await.unwrap();
        let now = self.clock.now();
        self.store
            .claim_due(now, w, now + TimeDelta::seconds(60), 100)
            .await
            .unwrap()
    }

    fn result(
        &self,
        status: Option<u16>,
        body: &str,
        retry_in: Option<TimeDelta>,
    ) -> AttemptResult {
        let now = self.clock.now();
        AttemptResult {
            at: now,
            url: "http://hooks.acme.example/in".into(),
            response_status: status,
            response_body: body.into(),
            error: status.is_none().then(|| "connection refused".into()),
            latency_ms: 12,
            retry_at: retry_in.map(|d| now + d),
        }
    }

    async fn current(&self, id: WebhookEndpointId) -> WebhookEndpoint {
        self.portal
            .endpoints()
            .webhook_endpoint(self.p.caller, id)
            .await
            .unwrap()
    }

    fn audit_actions(&self) -> Vec<String> {
        self.store
            .audit_events()
            .into_iter()
            .map(|e| e.draft.action)
            .collect()
    }
}

#[tokio::test]
async fn create_shows_the_secret_once_seals_it_and_sends_a_challenge() {
    let e = env().await;
    let c = e.endpoint(&["subscription.*"]).await;
    assert!(c.secret.starts_with("whsec_"));
    assert!(
        !format!("{c:?}").contains(&c.secret),
        "Debug hides the secret"
    );
    assert_eq!(c.endpoint.status, EndpointStatus::Pending);
    assert_eq!(c.endpoint.signing_secrets.len(), 1);
    assert_ne!(c.endpoint.signing_secrets[0].sealed, c.secret);
    let msgs = e.store.outbox();
    let v = msgs
        .iter()
        .find(|m| m.event_type == EVENT_VERIFICATION)
        .unwrap();
    assert_eq!(v.target_endpoint, Some(c.endpoint.id));
    assert_eq!(v.payload["challenge"].as_str().unwrap().len(), 32);
    assert!(
        e.audit_actions()
            .contains(&"webhook_endpoint.created".to_owned())
    );
}

#[tokio::test]
async fn create_refuses_bad_urls_events_and_strangers() {
    let e = env().await;
    let pid = e.p.project.id;
    let bad = |r: ServiceResult<CreatedEndpoint>| match r {
        Err(ServiceError::Invalid(f)) => f.field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        bad(e
            .portal
            .endpoints()
            .create_webhook_endpoint(e.p.caller, pid, "ftp://x.example", &[])
            .await),
        "url"
    );
    assert_eq!(
        bad(e
            .portal
            .endpoints()
            .create_webhook_endpoint(e.p.caller, pid, "https://x.example", &["nope".into()])
            .await),
        "events"
    );
    let stranger = e
        .portal
        .accounts()
        .sign_up("eve@evil.example", "Eve", test_support::PASSWORD)
        .await
        .unwrap();
    let r = e
        .portal
        .endpoints()
        .create_webhook_endpoint(Caller::Account(stranger.id), pid, "https://x.example", &[])
        .await;
    assert!(matches!(r, Err(ServiceError::NotFound { .. })), "{r:?}");
}

#[tokio::test]
async fn verification_needs_a_2xx_with_the_challenge_echoed() {
    let e = env().await;
    let c = e.endpoint(&[]).await;
    let d = e.claim("w1").await.pop().unwrap();
    assert_eq!(d.event_type, EVENT_VERIFICATION);
    // 2xx without the echo: failed once (interactive events are not retried), still pending.
    let st =
        e.wh.record_attempt(
            &d,
            "w1",
            e.result(Some(200), "ok", Some(TimeDelta::seconds(5))),
        )
        .await
        .unwrap();
    assert_eq!(st, DeliveryStatus::Failed);
    assert_eq!(
        e.current(c.endpoint.id).await.status,
        EndpointStatus::Pending
    );
    let got = e.store.delivery(d.id).await.unwrap().unwrap();
    assert_eq!(
        got.last_error.as_deref(),
        Some("the response did not echo the challenge")
    );

    // A new challenge, echoed as JSON: verified, audited.
    e.portal
        .endpoints()
        .start_webhook_verification(e.p.caller, c.endpoint.id)
        .await
        .unwrap();
    let d = e.claim("w1").await.pop().unwrap();
    let challenge = d.data()["challenge"].as_str().unwrap().to_owned();
    let body = format!(r#"{{"challenge":"{challenge}"}}"#);
    let st =
        e.wh.record_attempt(&d, "w1", e.result(Some(200), &body, None))
            .await
            .unwrap();
    assert_eq!(st, DeliveryStatus::Succeeded);
    assert!(e.current(c.endpoint.id).await.is_verified());
    assert!(
        e.audit_actions()
            .contains(&"webhook_endpoint.verified".to_owned())
    );

    // Changing the URL makes it pending again, with a new challenge.
    let next = e
        .portal
        .endpoints()
        .update_webhook_endpoint(
            e.p.caller,
            c.endpoint.id,
            Some("https://hooks2.acme.example/in"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(next.status, EndpointStatus::Pending);
    assert_eq!(e.claim("w1").await.len(), 1);
}

#[tokio::test]
async fn a_verification_answered_by_an_old_url_does_not_verify_the_new_one() {
    let e = env().await;
    let c = e.endpoint(&[]).await;
    let d = e.claim("w1").await.pop().unwrap();
    e.portal
        .endpoints()
        .update_webhook_endpoint(
            e.p.caller,
            c.endpoint.id,
            Some("https://moved.acme.example/"),
            None,
        )
        .await
        .unwrap();
    let challenge = d.data()["challenge"].as_str().unwrap().to_owned();
    e.wh.record_attempt(&d, "w1", e.result(Some(200), &challenge, None))
        .await
        .unwrap();
    assert_eq!(
        e.current(c.endpoint.id).await.status,
        EndpointStatus::Pending
    );
}

#[tokio::test]
async fn events_fan_out_to_subscribed_enabled_endpoints_only() {
    let e = env().await;
    let subs = e.endpoint(&["subscription.*"]).await;
    let creds = e.endpoint(&["credential.created"]).await;
    let all = e.endpoint(&[]).await;
    e.portal
        .endpoints()
        .set_webhook_endpoint_enabled(e.p.caller, all.endpoint.id, false)
        .await
        .unwrap();
    e.claim("w0").await; // the three verification deliveries
    let prov_plan = e.portal.ports().plans.plans().await.unwrap()[0].id;
    e.portal
        .pipeline()
        .subscribe(e.p.caller, e.p.project.id, prov_plan)
        .await
        .unwrap();
    let got = e.claim("w1").await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].endpoint_id, subs.endpoint.id);
    assert_eq!(
        got[0].message_id.to_string(),
        e.store.outbox().last().unwrap().id.to_string()
    );
    let _ = creds;
    // Dispatching again finds nothing new: each message is fanned out once.
    assert_eq!(e.wh.dispatch(100).await.unwrap(), DispatchReport::default());
}

#[tokio::test]
async fn failures_retry_then_fail_and_five_days_of_failures_disable_with_a_notice() {
    let e = env().await;
    let c = e.endpoint(&["subscription.*"]).await;
    let watcher = e.endpoint(&["endpoint.disabled"]).await;
    e.claim("w0").await;
    let plan = e.portal.ports().plans.plans().await.unwrap()[0].id;
    e.portal
        .pipeline()
        .subscribe(e.p.caller, e.p.project.id, plan)
        .await
        .unwrap();
    let d = e.claim("w1").await.pop().unwrap();
    let st =
        e.wh.record_attempt(
            &d,
            "w1",
            e.result(Some(500), "", Some(TimeDelta::minutes(5))),
        )
        .await
        .unwrap();
    assert_eq!(st, DeliveryStatus::Pending);
    let ep = e.current(c.endpoint.id).await;
    let since = ep.failing_since.unwrap();
    // Not due yet.
    assert!(e.claim("w1").await.is_empty());
    e.clock.advance(TimeDelta::minutes(5));
    let d = e.claim("w1").await.pop().unwrap();
    assert_eq!(d.attempts, 1);
    e.clock.set(since + DISABLE_AFTER_FAILING);
    let st =
        e.wh.record_attempt(&d, "w1", e.result(None, "", Some(TimeDelta::hours(1))))
            .await
            .unwrap();
    assert_eq!(
        st,
        DeliveryStatus::Failed,
        "a disabled endpoint is not retried"
    );
    let ep = e.current(c.endpoint.id).await;
    assert!(
        matches!(ep.status, EndpointStatus::Disabled { .. }),
        "{:?}",
        ep.status
    );
    assert!(
        e.audit_actions()
            .contains(&"webhook_endpoint.disabled".to_owned())
    );
    let notice = e
        .store
        .outbox()
        .into_iter()
        .find(|m| m.event_type == EVENT_ENDPOINT_DISABLED)
        .unwrap();
    assert_eq!(notice.payload["endpoint_id"], json!(c.endpoint.id));
    // The notice goes to the other endpoint that asked for it (the verification deliveries
    // claimed above and never settled come back too: their lease ran out).
    let got = e.claim("w1").await;
    let notices: Vec<_> = got
        .iter()
        .filter(|d| d.event_type == EVENT_ENDPOINT_DISABLED)
        .map(|d| d.endpoint_id)
        .collect();
    assert_eq!(notices, vec![watcher.endpoint.id]);
    // Health shows it.
    let h =
        e.wh.endpoint_health(e.p.caller, c.endpoint.id)
            .await
            .unwrap();
    assert_eq!((h.attempts, h.successes), (2, 0));
    assert_eq!(h.last_failure_reason.as_deref(), Some("connection refused"));
}

#[tokio::test]
async fn gone_disables_at_once_and_success_clears_failing_since() {
    let e = env().await;
    let c = e.endpoint(&[]).await;
    e.claim("w0").await;
    e.portal
        .endpoints()
        .send_webhook_test(e.p.caller, c.endpoint.id)
        .await
        .unwrap();
    let d = e.claim("w1").await.pop().unwrap();
    e.wh.record_attempt(
        &d,
        "w1",
        e.result(Some(503), "", Some(TimeDelta::seconds(5))),
    )
    .await
    .unwrap();
    assert!(e.current(c.endpoint.id).await.failing_since.is_some());
    assert_eq!(
        WebhookStore::last_test_delivery(e.store.as_ref(), e.p.project.id)
            .await
            .unwrap(),
        Some((e.clock.now(), false))
    );
    e.clock.advance(TimeDelta::minutes(1));
    e.portal
        .endpoints()
        .send_webhook_test(e.p.caller, c.endpoint.id)
        .await
        .unwrap();
    let d = e.claim("w1").await.pop().unwrap();
    e.wh.record_attempt(&d, "w1", e.result(Some(204), "", None))
        .await
        .unwrap();
    assert_eq!(e.current(c.endpoint.id).await.failing_since, None);
    assert_eq!(
        WebhookStore::last_test_delivery(e.store.as_ref(), e.p.project.id)
            .await
            .unwrap(),
        Some((e.clock.now(), true))
    );
    e.portal
        .endpoints()
        .send_webhook_test(e.p.caller, c.endpoint.id)
        .await
        .unwrap();
    let d = e.claim("w1").await.pop().unwrap();
    e.wh.record_attempt(
        &d,
        "w1",
        e.result(Some(410), "", Some(TimeDelta::seconds(5))),
    )
    .await
    .unwrap();
    let ep = e.current(c.endpoint.id).await;
    assert!(
        matches!(&ep.status, EndpointStatus::Disabled { reason, .. } if reason.contains("410"))
    );
    let r = e
        .portal
        .endpoints()
        .send_webhook_test(e.p.caller, c.endpoint.id)
        .await;
    assert!(matches!(r, Err(ServiceError::Conflict { .. })));
    // Enabling again needs a new verification.
    let ep = e
        .portal
        .endpoints()
        .set_webhook_endpoint_enabled(e.p.caller, c.endpoint.id, true)
        .await
        .unwrap();
    assert_eq!(ep.status, EndpointStatus::Pending);
}

#[tokio::test]
async fn a_lost_lease_writes_nothing_and_manual_retry_requeues_a_failed_delivery() {
    let e = env().await;
    let c = e.endpoint(&[]).await;
    let d = e.claim("w1").await.pop().unwrap();
    // w1's lease runs out; w2 claims the delivery.
    e.clock.advance(TimeDelta::seconds(61));
    let d2 = e.claim("w2").await.pop().unwrap();
    assert_eq!(d2.id, d.id);
    let r =
        e.wh.record_attempt(&d, "w1", e.result(Some(500), "", None))
            .await;
    assert!(matches!(r, Err(ServiceError::Conflict { .. })), "{r:?}");
    e.wh.record_attempt(&d2, "w2", e.result(Some(500), "", None))
        .await
        .unwrap();
    let failed = e.store.delivery(d.id).await.unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.attempts),
        (DeliveryStatus::Failed, 1)
    );

    let again = e.wh.retry_delivery(e.p.caller, d.id).await.unwrap();
    assert_eq!(again.status, DeliveryStatus::Pending);
    assert!(
        e.audit_actions()
            .contains(&"webhook_delivery.retried".to_owned())
    );
    let r = e.wh.retry_delivery(e.p.caller, d.id).await;
    assert!(matches!(r, Err(ServiceError::Conflict { .. })));
    let d3 = e.claim("w3").await.pop().unwrap();
    assert_eq!((d3.id, d3.message_id), (d.id, d.message_id));
    let listed =
        e.wh.deliveries_of_endpoint(e.p.caller, c.endpoint.id, None, 10)
            .await
            .unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn rotation_keeps_the_previous_secret_for_the_overlap() {
    let e = env().await;
    let c = e.endpoint(&[]).await;
    let r = e
        .portal
        .endpoints()
        .rotate_webhook_secret(e.p.caller, c.endpoint.id, None)
        .await
        .unwrap();
    assert_ne!(r.secret, c.secret);
    let now = e.clock.now();
    assert_eq!(r.endpoint.signing_secrets.len(), 2);
    assert_eq!(
        r.endpoint.signing_secrets[1].expires_at,
        Some(now + TimeDelta::hours(24))
    );
    assert_eq!(r.endpoint.active_secrets(now).count(), 2);
    assert_eq!(
        r.endpoint
            .active_secrets(now + TimeDelta::hours(25))
            .count(),
        1
    );
    // The worker signs with both, newest first.
    e.claim("w0").await;
    e.portal
        .endpoints()
        .send_webhook_test(e.p.caller, c.endpoint.id)
        .await
        .unwrap();
    let d = e.claim("w1").await.pop().unwrap();
    match e.wh.prepare(d.endpoint_id).await.unwrap() {
        Prepared::Send(t) => assert_eq!(t.secrets, vec![r.secret.clone(), c.secret.clone()]),
        other => panic!("{other:?}"),
    }
    // A second rotation keeps at most two secrets.
    let r2 = e
        .portal
        .endpoints()
        .rotate_webhook_secret(e.p.caller, c.endpoint.id, Some(TimeDelta::hours(1)))
        .await
        .unwrap();
    assert_eq!(r2.endpoint.signing_secrets.len(), 2);
    let r = e
        .portal
        .endpoints()
        .rotate_webhook_secret(e.p.caller, c.endpoint.id, Some(TimeDelta::days(8)))
        .await;
    assert!(matches!(r, Err(ServiceError::Invalid(_))));
}

#[tokio::test]
async fn signing_secrets_are_standard_webhooks_base64() {
    use base64::Engine as _;
    let e = env().await;
    let c = e.endpoint(&[]).await;
    let key = base64::engine::general_purpose::STANDARD
        .decode(c.secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    assert_eq!(key.len(), 24);
    assert_ne!(e.endpoint(&[]).await.secret, c.secret);
}
