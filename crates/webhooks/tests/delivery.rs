//! Deliveries end to end: the in-memory core, the real HTTP client and a local receiver on
//! 127.0.0.1:0. Time only moves when a test steps the manual clock and calls `run_once(now)`;
//! nothing sleeps.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DurationRound, TimeDelta, Utc};
use poem::http::{HeaderMap, StatusCode};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, Response, Route, Server, handler, post};
use serde_json::{Value, json};
use test_support::{Partner, partner, provider};
use tokio::sync::Notify;

use onboarding_core::gates::{Gate, GateState};
use onboarding_core::ids::{MessageId, SubscriptionId, WebhookEndpointId};
use onboarding_core::memory::{ManualClock, MemoryStore, in_memory_portal};
use onboarding_core::ports::{ChangeSet, Clock, OutboxMessage, UnitOfWork};
use onboarding_core::webhook::{DeliveryStatus, EndpointStatus};
use onboarding_core::{Portal, Ports};
use webhooks::{
    AddressPolicy, ChaChaVault, ClientConfig, DeliveryClient, FixedJitter, Worker, WorkerConfig,
    install_crypto_provider,
};

// ------------------------------------------------------------------------------------------
// A local receiver that records what it gets and answers from a script.

#[derive(Clone, Debug)]
enum Reply {
    Ok,
    /// Echo the verification challenge (as JSON).
    Echo,
    Status(u16, Option<&'static str>),
    /// Never answer (a worker "killed" mid-delivery is simulated by aborting it meanwhile).
    Hang,
}

#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: String,
}

struct RecvState {
    received: Vec<Received>,
    script: VecDeque<Reply>,
    default: Reply,
    /// Answer 500 to every n-th request (flaky receiver).
    fail_every: Option<usize>,
}

#[derive(Clone)]
struct Receiver {
    state: Arc<Mutex<RecvState>>,
    arrived: Arc<Notify>,
}

impl Receiver {
    fn set_default(&self, r: Reply) {
        self.state.lock().unwrap().default = r;
    }
    fn script(&self, rs: Vec<Reply>) {
        self.state.lock().unwrap().script = rs.into();
    }
    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

#[handler]
async fn hook(req: &poem::Request, body: String, Data(rx): Data<&Receiver>) -> Response {
    let reply = {
        let mut s = rx.state.lock().unwrap();
        s.received.push(Received {
            headers: req.headers().clone(),
            body: body.clone(),
        });
        let n = s.received.len();
        match s.fail_every {
            Some(k) if n % k == 0 => Reply::Status(500, None),
            _ => s.script.pop_front().unwrap_or_else(|| s.default.clone()),
        }
    };
    rx.arrived.notify_one();
    match reply {
        Reply::Ok => Response::builder().status(StatusCode::NO_CONTENT).finish(),
        Reply::Echo => {
            let v: Value = serde_json::from_str(&body).unwrap_or_default();
            let c = v["data"]["challenge"].as_str().unwrap_or_default();
            Response::builder()
                .content_type("application/json")
                .body(json!({ "challenge": c }).to_string())
        }
        Reply::Status(code, retry_after) => {
            let mut r = Response::builder().status(StatusCode::from_u16(code).unwrap());
            if let Some(ra) = retry_after {
                r = r.header("retry-after", ra);
            }
            if (300..400).contains(&code) {
                r = r.header("location", "/elsewhere");
            }
            r.finish()
        }
        Reply::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
    }
}

async fn receiver() -> (Receiver, u16) {
    let rx = Receiver {
        state: Arc::new(Mutex::new(RecvState {
            received: vec![],
            script: VecDeque::new(),
            default: Reply::Echo,
            fail_every: None,
        })),
        arrived: Arc::new(Notify::new()),
    };
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
    let app = Route::new()
        .at("/hook", post(hook))
        .at("/elsewhere", post(hook))
        .data(rx.clone());
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    (rx, port)
}

// ------------------------------------------------------------------------------------------
// The portal, its store and clock, a worker, a partner with a sandbox project.

struct Env {
    portal: Portal,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    rx: Receiver,
    url: String,
    p: Partner,
    standard: onboarding_core::plan::Plan,
}

fn client(policy: AddressPolicy) -> DeliveryClient {
    install_crypto_provider();
    DeliveryClient::new(ClientConfig {
        policy,
        ..ClientConfig::default()
    })
    .unwrap()
}

fn loopback_allowed() -> AddressPolicy {
    AddressPolicy::allowing(&["127.0.0.1/32"]).unwrap()
}

async fn env() -> Env {
    // Real wall-clock time as the starting point, so that the independent verifier (which
    // reads the system clock for its 5-minute tolerance) accepts our timestamps.
    let start = Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap();
    let (portal, store, clock) = in_memory_portal(start);
    // The real vault instead of the test one.
    let mut ports: Ports = portal.ports().clone();
    ports.vault = Arc::new(ChaChaVault::new([42; 32]));
    let portal = Portal::new(ports);
    let prov = provider(&portal, true).await.unwrap();
    let p = partner(&portal, "lena@acme.example", "Acme", &prov.standard)
        .await
        .unwrap();
    let (rx, port) = receiver().await;
    Env {
        portal,
        store,
        clock,
        rx,
        url: format!("http://127.0.0.1:{port}/hook"),
        p,
        standard: prov.standard,
    }
}

impl Env {
    fn worker(&self, owner: &str, policy: AddressPolicy) -> Worker {
        Worker::new(
            self.portal.clone(),
            self.store.clone(),
            self.clock.clone(),
            client(policy),
        )
        .with_jitter(Arc::new(FixedJitter(0.5)))
        .with_config(WorkerConfig {
            owner: owner.into(),
            ..WorkerConfig::default()
        })
    }

    async fn tick(&self, w: &Worker) -> webhooks::RunReport {
        w.run_once(self.clock.now()).await.unwrap()
    }

    async fn endpoint(&self, url: &str) -> onboarding_core::services::CreatedEndpoint {
        self.portal
            .endpoints()
            .create_webhook_endpoint(self.p.caller, self.p.project.id, url, &[])
            .await
            .unwrap()
    }

    async fn status(&self, id: WebhookEndpointId) -> EndpointStatus {
        self.portal
            .endpoints()
            .webhook_endpoint(self.p.caller, id)
            .await
            .unwrap()
            .status
    }

    async fn webhook_gate(&self, sub: SubscriptionId) -> GateState {
        let v = self
            .portal
            .pipeline()
            .subscription_view(self.p.caller, sub)
            .await
            .unwrap();
        v.gates
            .gates
            .into_iter()
            .find(|g| g.gate == Gate::WebhookVerification)
            .unwrap()
            .state
    }

    /// Raises `n` events the way a use case would: outbox rows in a committed change set.
    async fn raise_events(&self, n: usize) -> Vec<MessageId> {
        let mut ids = vec![];
        for i in 0..n {
            let id = MessageId::from_ulid(ulid::Ulid::generate());
            ids.push(id);
            self.store
                .commit(ChangeSet {
                    outbox: vec![OutboxMessage {
                        id,
                        workspace_id: self.p.workspace.id,
                        project_id: Some(self.p.project.id),
                        event_type: "alert.triggered".into(),
                        payload: json!({ "n": i }),
                        target_endpoint: None,
                        created_at: self.clock.now(),
                    }],
                    ..ChangeSet::default()
                })
                .await
                .unwrap();
        }
        ids
    }
}

fn header(r: &Received, name: &str) -> String {
    r.headers.get(name).unwrap().to_str().unwrap().to_owned()
}

// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_webhook_gate_passes_only_after_verification_and_a_recent_successful_test() {
    let e = env().await;
    let w = e.worker("w1", loopback_allowed());
    let sub = e
        .portal
        .pipeline()
        .subscribe(e.p.caller, e.p.project.id, e.standard.id)
        .await
        .unwrap();
    assert!(matches!(
        e.webhook_gate(sub.id).await,
        GateState::Pending { .. }
    ));

    // The endpoint answers the challenge: verified, but the gate still wants a test delivery.
    let c = e.endpoint(&e.url).await;
    let r = e.tick(&w).await;
    // The challenge, and `subscription.created` (the endpoint subscribes to everything).
    assert_eq!((r.attempted, r.succeeded), (2, 2), "{r:?}");
    assert!(matches!(
        e.status(c.endpoint.id).await,
        EndpointStatus::Verified { .. }
    ));
    assert!(matches!(
        e.webhook_gate(sub.id).await,
        GateState::Pending { .. }
    ));

    // A rejected test delivery fails the gate...
    e.rx.script(vec![Reply::Status(400, None)]);
    e.portal
        .endpoints()
        .send_webhook_test(e.p.caller, c.endpoint.id)
        .await
        .unwrap();
    e.tick(&w).await;
    assert!(matches!(
        e.webhook_gate(sub.id).await,
        GateState::Failed { .. }
    ));

    // ...an accepted one passes it.
    e.rx.set_default(Reply::Ok);
    e.clock.advance(TimeDelta::minutes(1));
    e.portal
        .endpoints()
        .send_webhook_test(e.p.caller, c.endpoint.id)
        .await
        .unwrap();
    let r = e.tick(&w).await;
    assert_eq!(r.succeeded, 1);
    assert_eq!(e.webhook_gate(sub.id).await, GateState::Passed);
    let test = e.rx.received().pop().unwrap();
    let body: Value = serde_json::from_str(&test.body).unwrap();
    assert_eq!(body["type"], "test");
    assert!(body["timestamp"].is_string());
    assert_eq!(body["data"]["endpoint_id"], json!(c.endpoint.id));

    // Seven days later the test delivery no longer counts.
    e.clock.advance(TimeDelta::days(7) + TimeDelta::seconds(1));
    assert!(matches!(
        e.webhook_gate(sub.id).await,
        GateState::Pending { .. }
    ));
}

#[tokio::test]
async fn the_independent_standardwebhooks_crate_verifies_live_deliveries_across_a_rotation() {
    let e = env().await;
    let w = e.worker("w1", loopback_allowed());
    let c = e.endpoint(&e.url).await;
    e.tick(&w).await;
    let first = e.rx.received().pop().unwrap();
    let old = standardwebhooks::Webhook::new(&c.secret).unwrap();
    old.verify(first.body.as_bytes(), &first.headers).unwrap();
    assert!(header(&first, "webhook-id").starts_with("msg_"));
    assert_eq!(
        header(&first, "webhook-timestamp"),
        e.clock.now().timestamp().to_string()
    );

    // During the overlap, both secrets verify; a stranger's does not.
    let rotated = e
        .portal
        .endpoints()
        .rotate_webhook_secret(e.p.caller, c.endpoint.id, None)
        .await
        .unwrap();
    e.portal
        .endpoints()
        .send_webhook_test(e.p.caller, c.endpoint.id)
        .await
        .unwrap();
    e.tick(&w).await;
    let during = e.rx.received().pop().unwrap();
    assert_eq!(header(&during, "webhook-signature").split(' ').count(), 2);
    let new = standardwebhooks::Webhook::new(&rotated.secret).unwrap();
    new.verify(during.body.as_bytes(), &during.headers).unwrap();
    old.verify(during.body.as_bytes(), &during.headers).unwrap();
    let stranger =
        standardwebhooks::Webhook::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    assert!(
        stranger
            .verify(during.body.as_bytes(), &during.headers)
            .is_err()
    );
    assert!(new.verify(b"{\"tampered\":true}", &during.headers).is_err());
}

#[tokio::test]
async fn failures_follow_the_retry_schedule_on_a_stepped_clock_then_fail() {
    let e = env().await;
    let w = e.worker("w1", loopback_allowed());
    e.rx.set_default(Reply::Status(500, None));
    let c = e.endpoint(&e.url).await;
    e.tick(&w).await; // the verification: one attempt, failed
    let ids = e.raise_events(1).await;
    let r = e.tick(&w).await;
    assert_eq!((r.attempted, r.retrying), (1, 1), "{r:?}");
    for (i, secs) in [5i64, 300, 1800, 7200, 18000, 36000, 50400]
        .iter()
        .enumerate()
    {
        e.clock.advance(TimeDelta::seconds(secs - 1));
        assert_eq!(e.tick(&w).await.attempted, 0, "not due before {secs} s");
        e.clock.advance(TimeDelta::seconds(1));
        let r = e.tick(&w).await;
        assert_eq!(r.attempted, 1, "attempt {} after {secs} s", i + 2);
        if i == 6 {
            assert_eq!(r.failed, 1, "the eighth attempt is the last");
        }
    }
    let d = e
        .store
        .all_deliveries()
        .into_iter()
        .find(|d| d.message_id == ids[0])
        .unwrap();
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Failed, 8));
    let sent: Vec<Received> =
        e.rx.received()
            .into_iter()
            .filter(|r| header(r, "webhook-id") == ids[0].to_string())
            .collect();
    assert_eq!(sent.len(), 8, "same webhook-id on every attempt");
    assert!(
        sent.windows(2).all(|w| w[0].body == w[1].body),
        "same body too"
    );
    // About 28 hours of failures: failing, not yet disabled (that takes 5 days).
    let ep = e
        .portal
        .endpoints()
        .webhook_endpoint(e.p.caller, c.endpoint.id)
        .await
        .unwrap();
    assert!(ep.failing_since.is_some() && ep.is_enabled());

    // A member retries it by hand: one more attempt, accepted this time.
    e.rx.set_default(Reply::Ok);
    let wh = w.webhooks();
    wh.retry_delivery(e.p.caller, d.id).await.unwrap();
    let r = e.tick(&w).await;
    assert_eq!(r.succeeded, 1);
    let h = wh.endpoint_health(e.p.caller, c.endpoint.id).await.unwrap();
    assert_eq!((h.attempts, h.successes), (10, 1));
    assert!(h.last_success_at.is_some() && h.last_failure_at.is_some());
    assert_eq!(h.failing_since, None);
}

#[tokio::test]
async fn retry_after_is_honoured_and_gone_disables_the_endpoint() {
    let e = env().await;
    let w = e.worker("w1", loopback_allowed());
    let c = e.endpoint(&e.url).await;
    e.tick(&w).await;
    e.rx.script(vec![
        Reply::Status(503, Some("120")),
        Reply::Status(410, None),
    ]);
    e.raise_events(1).await;
    assert_eq!(e.tick(&w).await.retrying, 1);
    e.clock.advance(TimeDelta::seconds(119));
    assert_eq!(
        e.tick(&w).await.attempted,
        0,
        "Retry-After: 120 beats the 5 s step"
    );
    e.clock.advance(TimeDelta::seconds(1));
    let r = e.tick(&w).await;
    assert_eq!((r.attempted, r.failed), (1, 1));
    assert!(matches!(
        e.status(c.endpoint.id).await,
        EndpointStatus::Disabled { reason, .. } if reason.contains("410")
    ));
    // Nothing more goes to a disabled endpoint.
    e.raise_events(1).await;
    assert_eq!(e.tick(&w).await.dispatched.deliveries, 0);
}

#[tokio::test]
async fn a_worker_killed_mid_delivery_loses_its_lease_and_another_redelivers_the_same_id() {
    let e = env().await;
    let w1 = e.worker("w1", loopback_allowed());
    let w2 = e.worker("w2", loopback_allowed());
    e.endpoint(&e.url).await;
    e.tick(&w1).await;
    e.rx.script(vec![Reply::Hang]);
    e.rx.set_default(Reply::Ok);
    let ids = e.raise_events(1).await;

    let now = e.clock.now();
    let before = e.rx.received().len();
    let dying = tokio::spawn(async move { w1.run_once(now).await });
    // Wait (for an event, not for time) until the request reached the receiver, which will
    // never answer.
    while e.rx.received().len() == before {
        e.rx.arrived.notified().await;
    }
    dying.abort(); // the worker dies holding the lease
    assert!(dying.await.unwrap_err().is_cancelled());

    // Within the lease nobody else takes it.
    assert_eq!(e.tick(&w2).await.attempted, 0);
    e.clock.advance(TimeDelta::seconds(61));
    let r = e.tick(&w2).await;
    assert_eq!((r.attempted, r.succeeded), (1, 1), "{r:?}");
    let got: Vec<String> =
        e.rx.received()
            .iter()
            .map(|r| header(r, "webhook-id"))
            .filter(|id| *id == ids[0].to_string())
            .collect();
    assert_eq!(got.len(), 2, "delivered twice under one webhook-id");
}

#[tokio::test]
async fn no_event_is_lost_with_a_flaky_receiver_and_two_workers() {
    let e = env().await;
    let (w1, w2) = (
        e.worker("w1", loopback_allowed()),
        e.worker("w2", loopback_allowed()),
    );
    e.endpoint(&e.url).await;
    e.tick(&w1).await;
    e.rx.set_default(Reply::Ok);
    e.rx.state.lock().unwrap().fail_every = Some(3);
    let ids = e.raise_events(25).await;
    for _ in 0..20 {
        let now = e.clock.now();
        let (a, b) = tokio::join!(w1.run_once(now), w2.run_once(now));
        a.unwrap();
        b.unwrap();
        e.clock.advance(TimeDelta::minutes(10));
    }
    let all = e.store.all_deliveries();
    for id in &ids {
        let d = all.iter().find(|d| d.message_id == *id).unwrap();
        assert_eq!(d.status, DeliveryStatus::Succeeded, "{id}");
    }
    assert!(
        e.store
            .outbox()
            .iter()
            .all(|m| all.iter().any(|d| d.message_id == m.id)
                || m.target_endpoint.is_some()
                || m.project_id.is_none()
                || m.event_type.starts_with("project.")
                || m.event_type.starts_with("subscription."))
    );
}

#[tokio::test]
async fn the_ssrf_guard_refuses_loopback_in_every_spelling_unless_allowed() {
    let e = env().await;
    let strict = e.worker("w1", AddressPolicy::strict());
    let port = e
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/hook")
        .to_owned();
    for url in [
        e.url.clone(),
        format!("http://localhost:{port}/hook"),
        format!("http://2130706433:{port}/hook"),
        format!("http://0x7f.0.0.1:{port}/hook"),
        format!("http://0177.0.0.1:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
    ] {
        let c = e.endpoint(&url).await;
        let r = e.tick(&strict).await;
        assert_eq!((r.attempted, r.failed), (1, 1), "{url}: {r:?}");
        let d = e
            .store
            .all_deliveries()
            .into_iter()
            .find(|d| d.endpoint_id == c.endpoint.id)
            .unwrap();
        let err = d.last_error.unwrap();
        assert!(err.contains("loopback"), "{url}: {err}");
    }
    assert!(
        e.rx.received().is_empty(),
        "not one byte reached the receiver"
    );

    // The operator's allow-list opens exactly 127.0.0.1.
    let allowed = e.worker("w2", loopback_allowed());
    let c = e.endpoint(&e.url).await;
    e.tick(&allowed).await;
    assert!(matches!(
        e.status(c.endpoint.id).await,
        EndpointStatus::Verified { .. }
    ));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let e = env().await;
    let w = e.worker("w1", loopback_allowed());
    e.rx.script(vec![Reply::Status(307, None)]);
    let c = e.endpoint(&e.url).await;
    let r = e.tick(&w).await;
    assert_eq!(r.failed, 1);
    assert_eq!(e.rx.received().len(), 1, "the Location was not fetched");
    assert_eq!(e.status(c.endpoint.id).await, EndpointStatus::Pending);
}
