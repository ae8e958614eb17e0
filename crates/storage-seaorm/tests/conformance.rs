//! The storage conformance suite: every test runs on SQLite (a fresh file per test) and, when
//! `PORTAL_TEST_DATABASE_URL` names a PostgreSQL server, on a fresh database there too. The
//! in-memory reference store is the oracle where behaviour must match it exactly.

use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use onboarding_core::audit::{Actor, AuditDraft, AuditEvent, verify_chain};
use onboarding_core::billing::Payment;
use onboarding_core::credential::{
    AccessToken, Credential, CredentialKind, CredentialStatus, RetiringSecret, SecretHash,
    SecretMatch, SecretRecord,
};
use onboarding_core::gates::Gate;
use onboarding_core::ids::*;
use onboarding_core::memory::{
    AnyDestination, DeterministicSecrets, ManualClock, MemoryStore, SequentialIds,
    TestPasswordHasher, TestVault, in_memory_portal,
};
use onboarding_core::pipeline::{Phase, SandboxAccess, Subscription};
use onboarding_core::plan::Currency;
use onboarding_core::ports::*;
use onboarding_core::project::{Environment, Project};
use onboarding_core::roles::{Role, RoleSet};
use onboarding_core::services::{NewCredentialKind, PlanInput};
use onboarding_core::usage::{UsageBucket, UsageEvent, aggregate};
use onboarding_core::values::{Email, Label};
use onboarding_core::workspace::{
    Account, Invitation, InvitationStatus, JoinRequest, JoinRequestStatus, Workspace,
};
use onboarding_core::{Portal, Ports, ServiceError};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, Database};
use storage_seaorm::{SeaOrmStore, connect_and_migrate};
use test_support::*;
use ulid::Ulid;

// ---------------------------------------------------------------------------------------------
// Databases

enum Target {
    Sqlite,
    Postgres(String),
}

fn targets() -> Vec<Target> {
    let mut t = vec![Target::Sqlite];
    if let Ok(url) = std::env::var("PORTAL_TEST_DATABASE_URL")
        && !url.trim().is_empty()
    {
        t.push(Target::Postgres(url));
    }
    t
}

/// One fresh database, removed at the end (best effort).
struct TestDb {
    store: SeaOrmStore,
    file: Option<std::path::PathBuf>,
    pg: Option<(String, String)>,
}

impl TestDb {
    async fn create(target: &Target) -> TestDb {
        match target {
            Target::Sqlite => {
                let dir = std::env::temp_dir().join(format!("portal-t-{}", Ulid::generate()));
                let path = dir.join("portal.db");
                let url = format!("sqlite://{}?mode=rwc", path.display());
                let store = connect_and_migrate(&url).await.expect("sqlite store");
                TestDb {
                    store,
                    file: Some(dir),
                    pg: None,
                }
            }
            Target::Postgres(base) => {
                let name = format!("portal_t_{}", Ulid::generate().to_string().to_lowercase());
                let admin = Database::connect(base.as_str()).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL at PORTAL_TEST_DATABASE_URL is unreachable: {e}")
                });
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let mut url = url::Url::parse(base).expect("PORTAL_TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                let store = connect_and_migrate(url.as_str())
                    .await
                    .expect("postgres store");
                TestDb {
                    store,
                    file: None,
                    pg: Some((base.clone(), name)),
                }
            }
        }
    }

    async fn finish(self) {
        let TestDb { store, file, pg } = self;
        store.connection().clone().close().await.ok();
        if let Some(dir) = file {
            std::fs::remove_dir_all(dir).ok();
        }
        if let Some((base, name)) = pg
            && let Ok(admin) = Database::connect(base.as_str()).await
        {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            admin.execute_unprepared(&drop).await.ok();
            admin.close().await.ok();
        }
    }
}

/// Runs `body` once per database target, each on its own fresh database.
async fn on_each_db<F, Fut>(body: F)
where
    F: Fn(SeaOrmStore) -> Fut,
    Fut: Future<Output = ()>,
{
    for target in targets() {
        let db = TestDb::create(&target).await;
        body(db.store.clone()).await;
        db.finish().await;
    }
}

// ---------------------------------------------------------------------------------------------
// A portal over the store

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
}

/// Buffers counted calls like the server's meter and flushes them through `UsageStore::add`.
#[derive(Default)]
struct Meter(Mutex<Vec<UsageEvent>>);

impl UsageSink for Meter {
    fn record(&self, event: UsageEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Meter {
    async fn flush(&self, store: &SeaOrmStore) {
        let events = std::mem::take(&mut *self.0.lock().unwrap());
        store.add(aggregate(&events)).await.unwrap();
    }
}

struct Rig {
    portal: Portal,
    clock: Arc<ManualClock>,
    meter: Arc<Meter>,
    store: SeaOrmStore,
}

fn rig(store: &SeaOrmStore) -> Rig {
    let s = Arc::new(store.clone());
    let clock = Arc::new(ManualClock::new(t0()));
    let meter = Arc::new(Meter::default());
    let portal = Portal::new(Ports {
        clock: clock.clone(),
        ids: Arc::new(SequentialIds::default()),
        secrets: Arc::new(DeterministicSecrets::default()),
        passwords: Arc::new(TestPasswordHasher),
        accounts: s.clone(),
        workspaces: s.clone(),
        plans: s.clone(),
        projects: s.clone(),
        subscriptions: s.clone(),
        credentials: s.clone(),
        webhooks: s.clone(),
        usage: s.clone(),
        alerts: s.clone(),
        audit: s.clone(),
        payments: s.clone(),
        uow: s.clone(),
        meter: meter.clone(),
        vault: Arc::new(TestVault),
        destinations: Arc::new(AnyDestination),
    });
    Rig {
        portal,
        clock,
        meter,
        store: store.clone(),
    }
}

async fn all_events(audit: &dyn AuditLog) -> Vec<AuditEvent> {
    let mut out = Vec::new();
    for chain in audit.chains().await.unwrap() {
        out.extend(audit.events(chain, 0, 100_000).await.unwrap());
    }
    out
}

async fn audit_count(audit: &dyn AuditLog) -> usize {
    all_events(audit).await.len()
}

fn ulid(n: u64) -> Ulid {
    Ulid::from_parts(1_800_000_000_000 + n, u128::from(n))
}

// ---------------------------------------------------------------------------------------------
// The journey: the same scenario over the SeaORM store and the in-memory reference

struct JourneyOut {
    sub: SubscriptionId,
    /// Audit events each step added, by step name.
    added: Vec<(&'static str, usize)>,
}

#[allow(unused_assignments)]
async fn journey(
    portal: &Portal,
    clock: &ManualClock,
    flush: Option<(&Meter, &SeaOrmStore)>,
) -> JourneyOut {
    let audit = portal.ports().audit.clone();
    let mut added = Vec::new();
    let mut last = audit_count(audit.as_ref()).await;
    macro_rules! step {
        ($name:literal, $e:expr) => {{
            clock.advance(TimeDelta::minutes(1));
            let out = $e.await.unwrap();
            let now = audit_count(audit.as_ref()).await;
            added.push(($name, now - last));
            last = now;
            out
        }};
    }
    let prov = step!("provider", provider(portal, false));
    let p = step!(
        "partner",
        partner(
            portal,
            "lena@fintech.example",
            "Fintech Ltd",
            &prov.standard
        )
    );
    let sub = step!(
        "subscribe",
        portal
            .pipeline()
            .subscribe(p.caller, p.project.id, prov.standard.id)
    );
    let key = step!(
        "sandbox credential",
        portal.credentials().create_credential(
            p.caller,
            sub.id,
            Environment::Sandbox,
            NewCredentialKind::ApiKey,
            "dev"
        )
    );
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
    if let Some((meter, store)) = flush {
        meter.flush(store).await;
    }
    step!(
        "submit",
        portal
            .pipeline()
            .submit(p.caller, sub.id, Some(demo_answers()), None)
    );
    step!(
        "request changes",
        portal
            .pipeline()
            .request_changes(prov.reviewer, sub.id, "Explain data retention", None)
    );
    step!(
        "resubmit",
        portal
            .pipeline()
            .submit(p.caller, sub.id, Some(demo_answers()), None)
    );
    step!("responsibles", name_all_responsibles(portal, &p));
    step!(
        "sign off",
        portal
            .pipeline()
            .sign_off_gate(prov.reviewer, sub.id, Gate::ConsentHandling)
    );
    step!(
        "approve",
        portal.pipeline().approve(prov.reviewer, sub.id, None)
    );
    step!(
        "clone",
        portal.projects().clone_to_production(p.caller, sub.id)
    );
    step!(
        "payment",
        portal.billing().confirm_payment(
            prov.admin,
            sub.id,
            Decimal::from_str("49.00").unwrap(),
            "EUR",
            "INV-1"
        )
    );
    step!(
        "production credential",
        portal.credentials().create_credential(
            p.caller,
            sub.id,
            Environment::Production,
            NewCredentialKind::ApiKey,
            "live"
        )
    );
    JourneyOut { sub: sub.id, added }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_pipeline_matches_the_reference_store_event_for_event() {
    on_each_db(|store| async move {
        let r = rig(&store);
        let out = journey(&r.portal, &r.clock, Some((&r.meter, &r.store))).await;
        let (mem_portal, mem, mem_clock) = in_memory_portal(t0());
        let mem_out = journey(&mem_portal, &mem_clock, None).await;

        for (step, n) in &out.added {
            assert!(*n >= 1, "step `{step}` wrote no audit event");
        }
        for one in [
            "submit",
            "request changes",
            "resubmit",
            "approve",
            "payment",
            "production credential",
            "sandbox credential",
            "subscribe",
        ] {
            let n = out.added.iter().find(|(s, _)| *s == one).unwrap().1;
            assert_eq!(n, 1, "step `{one}` wrote {n} audit events");
        }
        assert_eq!(out.added, mem_out.added);

        let sub = store.subscription(out.sub).await.unwrap().unwrap();
        assert!(matches!(sub.phase, Phase::Production { .. }));
        assert_eq!(Some(sub), mem.subscription(mem_out.sub).await.unwrap());

        // Same ids, clock and secrets: the chains are identical, hash for hash.
        let events = all_events(&store).await;
        assert_eq!(events, mem.audit_events());
        let actions: Vec<&str> = events.iter().map(|e| e.draft.action.as_str()).collect();
        for a in [
            "subscription.submitted",
            "subscription.changes_requested",
            "subscription.approved",
        ] {
            assert!(actions.contains(&a), "{a} missing from {actions:?}");
        }
        assert_eq!(store.outbox_messages().await.unwrap(), mem.outbox());

        let verified = r.portal.audit().verify_all_audit_chains().await.unwrap();
        assert!(verified.len() >= 2, "provider chain and workspace chain");
        for (chain, result) in verified {
            let n = result.unwrap_or_else(|b| panic!("chain {chain:?} broken: {b}"));
            assert!(n > 0);
        }
        assert!(store.is_paid(out.sub).await.unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_operation_writes_nothing() {
    on_each_db(|store| async move {
        let r = rig(&store);
        let prov = provider(&r.portal, false).await.unwrap();
        let p = partner(
            &r.portal,
            "lena@fintech.example",
            "Fintech Ltd",
            &prov.standard,
        )
        .await
        .unwrap();
        let sub = r
            .portal
            .pipeline()
            .subscribe(p.caller, p.project.id, prov.standard.id)
            .await
            .unwrap();
        let before = all_events(&store).await;
        let outbox = store.outbox_messages().await.unwrap();

        let err = r
            .portal
            .pipeline()
            .submit(p.caller, sub.id, Some(demo_answers()), None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ServiceError::Refused {
                    code: onboarding_core::RefusalCode::NoSandboxCredential,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = r
            .portal
            .pipeline()
            .approve(p.caller, sub.id, None)
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Forbidden { .. }), "{err:?}");
        let err = r
            .portal
            .accounts()
            .sign_up("lena@fintech.example", "Again", PASSWORD)
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Conflict { .. }), "{err:?}");

        assert_eq!(all_events(&store).await, before);
        assert_eq!(store.outbox_messages().await.unwrap(), outbox);
        assert_eq!(store.subscription(sub.id).await.unwrap(), Some(sub));
    })
    .await;
}

/// A plan whose only gate is integration verification with no minimum: submission and
/// approval go straight through.
async fn quick_plan(portal: &Portal, prov: &Provider) -> onboarding_core::plan::Plan {
    let s = &prov.standard;
    let input = PlanInput {
        name: "Quick".into(),
        has_sandbox: true,
        sandbox_access: s.sandbox_access,
        endpoints: s.endpoints.clone(),
        events: s.events.clone(),
        test_data: vec![],
        form: None,
        pricing: onboarding_core::plan::Pricing::Free,
        gates: vec![Gate::IntegrationVerification],
        integration_min_calls: 0,
        waive_separation_of_duties: true,
    };
    portal
        .catalog()
        .create_plan(prov.admin, prov.product.id, input)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_approvals_exactly_one_wins() {
    on_each_db(|store| async move {
        let r = rig(&store);
        let prov = provider(&r.portal, false).await.unwrap();
        let plan = quick_plan(&r.portal, &prov).await;
        let p = partner(&r.portal, "lena@fintech.example", "Fintech Ltd", &plan)
            .await
            .unwrap();
        let sub = r
            .portal
            .pipeline()
            .subscribe(p.caller, p.project.id, plan.id)
            .await
            .unwrap();
        r.portal
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
        r.portal
            .pipeline()
            .submit(p.caller, sub.id, None, None)
            .await
            .unwrap();

        let spawn = |portal: Portal| {
            let reviewer = prov.reviewer;
            tokio::spawn(async move { portal.pipeline().approve(reviewer, sub.id, None).await })
        };
        let (a, b) = (spawn(r.portal.clone()), spawn(r.portal.clone()));
        let results = [a.await.unwrap(), b.await.unwrap()];
        let wins = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "{results:?}");
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            // Lost at commit (stale), or read after the winner (no longer in review).
            assert!(
                matches!(
                    e,
                    ServiceError::Stale { .. } | ServiceError::Conflict { .. }
                ),
                "{e:?}"
            );
        }
        let approvals = all_events(&store)
            .await
            .into_iter()
            .filter(|e| e.draft.action == "subscription.approved")
            .count();
        assert_eq!(approvals, 1);
        let s = store.subscription(sub.id).await.unwrap().unwrap();
        assert!(matches!(s.phase, Phase::Production { .. }));
        assert_eq!(s.version, sub.version + 2);
        for (_, res) in r.portal.audit().verify_all_audit_chains().await.unwrap() {
            res.unwrap();
        }
    })
    .await;
}

fn draft(n: u64, ws: Option<WorkspaceId>) -> AuditDraft {
    AuditDraft {
        id: AuditEventId::from_ulid(ulid(n)),
        at: t0() + TimeDelta::seconds(n as i64),
        actor: Actor::System,
        workspace_id: ws,
        project_id: None,
        action: "test.appended".into(),
        target: format!("n{n}"),
        details: serde_json::json!({"n": n, "z": [1, 2], "a": {"b": null}}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_commits_on_one_chain_all_succeed_without_gaps() {
    on_each_db(|store| async move {
        let ws = Some(WorkspaceId::from_ulid(ulid(1)));
        let tasks: Vec<_> = (0..10u64)
            .map(|i| {
                let s = store.clone();
                tokio::spawn(async move {
                    s.commit(ChangeSet {
                        audit: vec![draft(100 + i, ws)],
                        ..Default::default()
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let events = store.events(ws, 0, 100).await.unwrap();
        assert_eq!(
            events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );
        verify_chain(&events).unwrap();
        assert_eq!(store.chains().await.unwrap(), vec![ws]);
        // Paging by sequence number.
        let page = store.events(ws, 4, 3).await.unwrap();
        assert_eq!(
            page.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![5, 6, 7]
        );
    })
    .await;
}

fn account(n: u64, email: &str) -> Account {
    Account {
        id: AccountId::from_ulid(ulid(n)),
        email: Email::new(email).unwrap(),
        name: Label::new("Someone").unwrap(),
        password_hash: "test$x".into(),
        created_at: t0(),
    }
}

fn workspace(n: u64, by: AccountId) -> Workspace {
    Workspace {
        id: WorkspaceId::from_ulid(ulid(n)),
        name: Label::new("Acme").unwrap(),
        billing_owner: None,
        audit_contact: None,
        security_owner: None,
        created_at: t0(),
        created_by: by,
        version: 0,
    }
}

fn project(n: u64, ws: WorkspaceId, by: AccountId) -> Project {
    Project {
        id: ProjectId::from_ulid(ulid(n)),
        workspace_id: ws,
        name: Label::new("Sync").unwrap(),
        purpose: Label::new("Balances").unwrap(),
        environment: Environment::Sandbox,
        endpoints: vec!["GET /v1/balances".into()],
        events: vec![],
        cloned_from: None,
        subscription_id: None,
        live_audit_reviewed_at: None,
        created_at: t0(),
        created_by: by,
        version: 0,
    }
}

fn outbox(n: u64, ws: WorkspaceId) -> OutboxMessage {
    OutboxMessage {
        id: MessageId::from_ulid(ulid(n)),
        workspace_id: ws,
        project_id: None,
        event_type: "test.event".into(),
        payload: serde_json::json!({"n": n}),
        target_endpoint: None,
        created_at: t0(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_conflict_rolls_back_the_whole_change_set() {
    on_each_db(|store| async move {
        let a = account(1, "a@acme.example");
        let ws = workspace(2, a.id);
        store
            .commit(ChangeSet {
                changes: vec![
                    Change::InsertAccount(a.clone()),
                    Change::InsertWorkspace(ws.clone()),
                ],
                audit: vec![draft(3, Some(ws.id))],
                outbox: vec![outbox(4, ws.id)],
            })
            .await
            .unwrap();
        let before = all_events(&store).await;

        // The project insert comes first and succeeds inside the transaction; the stale
        // workspace update then fails: neither the project, nor the audit row, nor the
        // outbox row may survive.
        let mut renamed = ws.clone();
        renamed.name = Label::new("Renamed").unwrap();
        let p = project(5, ws.id, a.id);
        let err = store
            .commit(ChangeSet {
                changes: vec![
                    Change::InsertProject(p.clone()),
                    Change::UpdateWorkspace {
                        value: renamed.clone(),
                        expected_version: 7,
                    },
                ],
                audit: vec![draft(6, Some(ws.id))],
                outbox: vec![outbox(7, ws.id)],
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(store.project(p.id).await.unwrap(), None);
        assert_eq!(all_events(&store).await, before);
        assert_eq!(store.outbox_messages().await.unwrap().len(), 1);
        assert_eq!(store.workspace(ws.id).await.unwrap(), Some(ws.clone()));

        // The right version wins and bumps it.
        store
            .commit(ChangeSet {
                changes: vec![Change::UpdateWorkspace {
                    value: renamed.clone(),
                    expected_version: 0,
                }],
                ..Default::default()
            })
            .await
            .unwrap();
        let stored = store.workspace(ws.id).await.unwrap().unwrap();
        assert_eq!((stored.name.as_str(), stored.version), ("Renamed", 1));

        // A taken unique key is a conflict too, and also leaves nothing behind.
        let twin = account(8, "a@acme.example");
        let err = store
            .commit(ChangeSet {
                changes: vec![
                    Change::InsertProject(project(9, ws.id, a.id)),
                    Change::InsertAccount(twin.clone()),
                ],
                audit: vec![draft(10, Some(ws.id))],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(store.account(twin.id).await.unwrap(), None);
        assert_eq!(
            store.project(ProjectId::from_ulid(ulid(9))).await.unwrap(),
            None
        );
        assert_eq!(all_events(&store).await, before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_round_trips_exactly() {
    on_each_db(|store| async move {
        let amount = Decimal::from_str("12345678901234.0123456789").unwrap();
        let p = Payment {
            id: PaymentId::from_ulid(ulid(1)),
            workspace_id: WorkspaceId::from_ulid(ulid(2)),
            subscription_id: SubscriptionId::from_ulid(ulid(3)),
            amount,
            currency: Currency::new("EUR").unwrap(),
            reference: "INV-9".into(),
            confirmed_by: StaffId::from_ulid(ulid(4)),
            at: t0(),
        };
        store
            .commit(ChangeSet {
                changes: vec![Change::RecordPayment(p.clone())],
                ..Default::default()
            })
            .await
            .unwrap();
        let back = store.payments_of(p.subscription_id).await.unwrap();
        assert_eq!(back, vec![p]);
        assert_eq!(back[0].amount.to_string(), "12345678901234.0123456789");
        assert!(
            store
                .is_paid(SubscriptionId::from_ulid(ulid(3)))
                .await
                .unwrap()
        );
        assert!(
            !store
                .is_paid(SubscriptionId::from_ulid(ulid(5)))
                .await
                .unwrap()
        );
    })
    .await;
}

fn in_review(n: u64, ws: WorkspaceId, at: DateTime<Utc>) -> Subscription {
    Subscription {
        id: SubscriptionId::from_ulid(ulid(n)),
        workspace_id: ws,
        project_id: ProjectId::from_ulid(ulid(n + 1000)),
        plan_id: PlanId::from_ulid(ulid(7)),
        phase: Phase::InReview {
            submitted_at: at,
            submitted_by: AccountId::from_ulid(ulid(8)),
        },
        sandbox_access: SandboxAccess::Granted { at: t0(), by: None },
        answers: None,
        sign_offs: vec![],
        history: vec![],
        production_project_id: None,
        created_at: t0(),
        created_by: AccountId::from_ulid(ulid(8)),
        version: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_queue_pages_by_submission_time_then_id() {
    on_each_db(|store| async move {
        let ws = WorkspaceId::from_ulid(ulid(1));
        let mem = MemoryStore::new();
        let same = t0() + TimeDelta::minutes(5);
        // Inserted out of order; three share a timestamp; one is not in review.
        let mut subs = vec![
            in_review(40, ws, same),
            in_review(10, ws, t0() + TimeDelta::minutes(9)),
            in_review(30, ws, same),
            in_review(20, ws, t0() + TimeDelta::minutes(1)),
            in_review(50, ws, same),
            in_review(60, ws, t0() + TimeDelta::milliseconds(1500)),
        ];
        let mut sandbox = in_review(70, ws, t0());
        sandbox.phase = Phase::Sandbox {
            changes_requested: None,
        };
        subs.push(sandbox);
        let set = ChangeSet {
            changes: subs
                .iter()
                .cloned()
                .map(Change::InsertSubscription)
                .collect(),
            ..Default::default()
        };
        store.commit(set.clone()).await.unwrap();
        mem.commit(set).await.unwrap();

        let mut pages = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.review_queue(cursor, 2).await.unwrap();
            assert_eq!(page, mem.review_queue(cursor, 2).await.unwrap());
            let Some(last) = page.last() else { break };
            let Phase::InReview { submitted_at, .. } = last.phase else {
                panic!()
            };
            cursor = Some((submitted_at, last.id));
            pages.extend(page.iter().map(|s| s.id.ulid()));
        }
        assert_eq!(pages, [60, 20, 30, 40, 50, 10].map(ulid).to_vec());
        assert_eq!(
            store.subscriptions(ws).await.unwrap(),
            mem.subscriptions(ws).await.unwrap()
        );
    })
    .await;
}

fn secret(tag: &str) -> SecretRecord {
    SecretRecord {
        hash: SecretHash::of(tag),
        prefix: "sk_sbx_".into(),
        last4: "abcd".into(),
        created_at: t0(),
    }
}

fn credential(n: u64, kind: CredentialKind, current: &str) -> Credential {
    Credential {
        id: CredentialId::from_ulid(ulid(n)),
        workspace_id: WorkspaceId::from_ulid(ulid(1)),
        project_id: ProjectId::from_ulid(ulid(2)),
        subscription_id: SubscriptionId::from_ulid(ulid(3)),
        environment: Environment::Sandbox,
        kind,
        name: Label::new("dev").unwrap(),
        status: CredentialStatus::Active,
        secret: secret(current),
        previous: None,
        created_at: t0(),
        created_by: Actor::System,
        version: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_found_by_current_previous_and_token_hash() {
    on_each_db(|store| async move {
        let mem = MemoryStore::new();
        let both = |set: ChangeSet| {
            let (store, mem) = (store.clone(), &mem);
            async move {
                let a = store.commit(set.clone()).await;
                let b = mem.commit(set).await;
                assert_eq!(a.is_ok(), b.is_ok(), "{a:?} vs {b:?}");
                a
            }
        };
        let key = credential(10, CredentialKind::ApiKey, "one");
        let client = credential(
            11,
            CredentialKind::OauthClient {
                client_id: "cid_1".into(),
            },
            "client",
        );
        let token = AccessToken {
            hash: SecretHash::of("token"),
            credential_id: client.id,
            created_at: t0(),
            expires_at: t0() + TimeDelta::hours(1),
        };
        both(ChangeSet {
            changes: vec![
                Change::InsertCredential(key.clone()),
                Change::InsertCredential(client.clone()),
                Change::InsertAccessToken(token),
            ],
            ..Default::default()
        })
        .await
        .unwrap();

        // Rotate: the old secret keeps working until its deadline.
        let deadline = t0() + TimeDelta::hours(24);
        let mut rotated = key.clone();
        rotated.secret = secret("two");
        rotated.previous = Some(RetiringSecret {
            hash: SecretHash::of("one"),
            last4: "abcd".into(),
            expires_at: deadline,
        });
        rotated.version = 1;
        both(ChangeSet {
            changes: vec![Change::UpdateCredential {
                value: rotated.clone(),
                expected_version: 0,
            }],
            ..Default::default()
        })
        .await
        .unwrap();

        let lookups = ["one", "two", "client", "token", "nothing"];
        let check = |expect: [Option<SecretMatch>; 5]| {
            let (store, mem) = (store.clone(), &mem);
            async move {
                for (tag, want) in lookups.iter().zip(expect) {
                    let got = store
                        .find_by_secret_hash(&SecretHash::of(tag))
                        .await
                        .unwrap();
                    let reference = mem.find_by_secret_hash(&SecretHash::of(tag)).await.unwrap();
                    assert_eq!(got, reference, "lookup of `{tag}`");
                    assert_eq!(got.map(|(_, m)| m), want, "lookup of `{tag}`");
                }
            }
        };
        let token_match = Some(SecretMatch::AccessToken {
            expires_at: t0() + TimeDelta::hours(1),
        });
        check([
            Some(SecretMatch::Previous {
                expires_at: deadline,
            }),
            Some(SecretMatch::Current),
            Some(SecretMatch::Current),
            token_match,
            None,
        ])
        .await;

        // Regenerate: a new current secret, the rotated-out one gone at once.
        let mut regenerated = rotated.clone();
        regenerated.secret = secret("three");
        regenerated.previous = None;
        regenerated.version = 2;
        // A stale version changes nothing.
        let err = both(ChangeSet {
            changes: vec![Change::UpdateCredential {
                value: regenerated.clone(),
                expected_version: 0,
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)));
        both(ChangeSet {
            changes: vec![Change::UpdateCredential {
                value: regenerated.clone(),
                expected_version: 1,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
        check([None, None, Some(SecretMatch::Current), token_match, None]).await;
        let (found, m) = store
            .find_by_secret_hash(&SecretHash::of("three"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((found, m), (regenerated, SecretMatch::Current));

        assert_eq!(
            store.find_by_client_id("cid_1").await.unwrap(),
            Some(client.clone())
        );
        assert_eq!(store.find_by_client_id("cid_2").await.unwrap(), None);
        assert_eq!(
            store
                .credentials_of_project(client.project_id)
                .await
                .unwrap(),
            mem.credentials_of_project(client.project_id).await.unwrap()
        );
    })
    .await;
}

fn hold(scope: &str, key: &str, run: &str, token: &str) -> IdempotencyHold {
    IdempotencyHold {
        scope: scope.into(),
        key: key.into(),
        run: run.into(),
        token: token.into(),
    }
}

fn lease() -> TimeDelta {
    TimeDelta::seconds(IDEMPOTENCY_LEASE_SECONDS)
}

/// The claim rules, asserted on the store under test and on the in-memory reference alike.
async fn claims_answer_like_the_reference(store: &dyn IdempotencyStore) {
    let now = t0();
    let a = hold("acct_1", "k1", "run1", "tok_a");
    let claim = |h: IdempotencyHold, hash: &'static str| async move {
        store.claim(&h, hash, now, lease()).await.unwrap()
    };
    assert_eq!(claim(a.clone(), "h1").await, IdempotencyClaim::Claimed);
    let b = hold("acct_1", "k1", "run1", "tok_b");
    assert_eq!(claim(b.clone(), "h1").await, IdempotencyClaim::InProgress);
    assert_eq!(claim(b.clone(), "h2").await, IdempotencyClaim::Mismatch);
    let other = hold("acct_2", "k1", "run1", "tok_c");
    assert_eq!(claim(other, "h2").await, IdempotencyClaim::Claimed);
    let resp = StoredResponse {
        status: 201,
        body: "{\"id\":1}".into(),
        location: Some("/x/1".into()),
    };
    // Only the holder answers.
    store.complete(&b, resp.clone()).await.unwrap();
    assert_eq!(claim(b.clone(), "h1").await, IdempotencyClaim::InProgress);
    store.complete(&a, resp.clone()).await.unwrap();
    assert_eq!(claim(b.clone(), "h1").await, IdempotencyClaim::Replay(resp));
    assert_eq!(claim(b.clone(), "h9").await, IdempotencyClaim::Mismatch);
    // Only the holder releases.
    let r1 = hold("acct_1", "k2", "run1", "tok_d");
    assert_eq!(claim(r1.clone(), "h").await, IdempotencyClaim::Claimed);
    store
        .release(&hold("acct_1", "k2", "run1", "tok_x"))
        .await
        .unwrap();
    assert_eq!(claim(r1.clone(), "h").await, IdempotencyClaim::InProgress);
    store.release(&r1).await.unwrap();
    assert_eq!(claim(r1.clone(), "h9").await, IdempotencyClaim::Claimed);
    // Completing an unknown key is a no-op.
    let nobody = hold("nobody", "k", "run1", "tok_n");
    store
        .complete(
            &nobody,
            StoredResponse {
                status: 200,
                body: String::new(),
                location: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(claim(nobody, "h").await, IdempotencyClaim::Claimed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_claims_are_atomic_and_answer_like_the_reference() {
    claims_answer_like_the_reference(&MemoryStore::new()).await;
    on_each_db(|store| async move {
        claims_answer_like_the_reference(&store).await;
        let now = t0();
        let racers: Vec<_> = (0..8)
            .map(|i| {
                let s = store.clone();
                tokio::spawn(async move {
                    let h = hold("acct_3", "race", "run1", &format!("tok_{i}"));
                    s.claim(&h, "h", now, lease()).await.unwrap()
                })
            })
            .collect();
        let mut claimed = 0;
        for r in racers {
            match r.await.unwrap() {
                IdempotencyClaim::Claimed => claimed += 1,
                IdempotencyClaim::InProgress => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(claimed, 1);
    })
    .await;
}

/// An unanswered claim is abandoned when its lease passes (the `Clock` port's time moves; no
/// test sleeps) or when its run is released; a taken-over holder can no longer commit, answer
/// or release; a claim whose request committed is never run again, even unanswered.
async fn abandoned_claims_are_taken_over_once(store: &(impl IdempotencyStore + AuditLog)) {
    let clock = ManualClock::new(t0());
    let h = |key: &str, run: &str, token: &str| hold("acct_1", key, run, token);
    let (h1, h2, h3) = (
        h("k", "run1", "tok_1"),
        h("k", "run2", "tok_2"),
        h("k", "run2", "tok_3"),
    );
    let claim = |h: IdempotencyHold| {
        let now = clock.now();
        async move { store.claim(&h, "h", now, lease()).await.unwrap() }
    };
    let set = |n: u64| ChangeSet {
        audit: vec![draft(n, None)],
        ..Default::default()
    };
    let commit = |h: IdempotencyHold, n: u64| {
        let now = clock.now();
        async move {
            store
                .commit_claimed(&h, set(n), CommittedRequest::of(&set(n)), now)
                .await
        }
    };
    let answer = StoredResponse {
        status: 201,
        body: "{}".into(),
        location: None,
    };
    assert_eq!(claim(h1.clone()).await, IdempotencyClaim::Claimed);
    clock.advance(lease() - TimeDelta::seconds(1));
    assert_eq!(claim(h2.clone()).await, IdempotencyClaim::InProgress);
    clock.advance(TimeDelta::seconds(1));
    // The first holder died: its lease passed with nothing committed.
    assert_eq!(claim(h2.clone()).await, IdempotencyClaim::Claimed);
    assert_eq!(claim(h3.clone()).await, IdempotencyClaim::InProgress);
    // The first holder was only slow: its commit is refused and nothing of it is applied; its
    // release and answer change nothing.
    let late = commit(h1.clone(), 51).await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");
    assert_eq!(audit_count(store).await, 0);
    store.release(&h1).await.unwrap();
    store
        .complete(
            &h1,
            StoredResponse {
                status: 201,
                body: "late".into(),
                location: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(claim(h3.clone()).await, IdempotencyClaim::InProgress);
    // The new holder commits: while its answer is on the way the key is still in progress; a
    // failure after the commit does not release it; its answer is replayed.
    commit(h2.clone(), 52).await.unwrap();
    assert_eq!(audit_count(store).await, 1);
    assert_eq!(claim(h3.clone()).await, IdempotencyClaim::InProgress);
    store.release(&h2).await.unwrap();
    assert_eq!(claim(h3.clone()).await, IdempotencyClaim::InProgress);
    store.complete(&h2, answer.clone()).await.unwrap();
    assert_eq!(claim(h3).await, IdempotencyClaim::Replay(answer));

    // Committed, then the holder died before answering: never run again, once its lease has
    // passed...
    let committed = |n: u64| {
        IdempotencyClaim::Committed(CommittedRequest {
            action: "test.appended".into(),
            target: format!("n{n}"),
        })
    };
    assert_eq!(
        claim(h("k3", "run2", "tok_6")).await,
        IdempotencyClaim::Claimed
    );
    commit(h("k3", "run2", "tok_6"), 53).await.unwrap();
    clock.advance(lease());
    assert_eq!(claim(h("k3", "run2", "tok_7")).await, committed(53));

    // ... or at once when a restarted server releases its previous run: what that run left
    // uncommitted runs again, what it committed is told.
    let (r1, r2, r3) = (
        h("k2", "run3", "tok_4"),
        h("k2", "run4", "tok_5"),
        h("k2", "run5", "tok_8"),
    );
    assert_eq!(claim(r1).await, IdempotencyClaim::Claimed);
    assert_eq!(claim(r2.clone()).await, IdempotencyClaim::InProgress);
    assert_eq!(store.release_run("run3").await.unwrap(), 1);
    assert_eq!(claim(r2.clone()).await, IdempotencyClaim::Claimed);
    commit(r2, 54).await.unwrap();
    assert_eq!(claim(r3.clone()).await, IdempotencyClaim::InProgress);
    assert_eq!(store.release_run("run4").await.unwrap(), 1);
    assert_eq!(claim(r3).await, committed(54));
    assert_eq!(audit_count(store).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_idempotency_claims_are_taken_over_and_fenced() {
    abandoned_claims_are_taken_over_once(&MemoryStore::new()).await;
    on_each_db(|store| async move {
        abandoned_claims_are_taken_over_once(&store).await;
        // Twenty retries find one abandoned claim at once: exactly one takes it over.
        let clock = ManualClock::new(t0());
        let first = hold("acct_9", "k", "run1", "tok_first");
        store
            .claim(&first, "h", clock.now(), lease())
            .await
            .unwrap();
        clock.advance(lease());
        let now = clock.now();
        let racers: Vec<_> = (0..20)
            .map(|i| {
                let s = store.clone();
                tokio::spawn(async move {
                    let h = hold("acct_9", "k", "run2", &format!("tok_{i}"));
                    s.claim(&h, "h", now, lease()).await.unwrap()
                })
            })
            .collect();
        let mut claimed = 0;
        for r in racers {
            match r.await.unwrap() {
                IdempotencyClaim::Claimed => claimed += 1,
                IdempotencyClaim::InProgress => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(claimed, 1);
    })
    .await;
}

fn subscription_of(n: u64, project: u64, plan: u64, phase: Phase) -> Subscription {
    Subscription {
        id: SubscriptionId::from_ulid(ulid(n)),
        project_id: ProjectId::from_ulid(ulid(project)),
        plan_id: PlanId::from_ulid(ulid(plan)),
        phase,
        version: 0,
        ..in_review(n, WorkspaceId::from_ulid(ulid(1)), t0())
    }
}

fn sandbox() -> Phase {
    Phase::Sandbox {
        changes_requested: None,
    }
}

fn rejected() -> Phase {
    Phase::Rejected {
        notes: None,
        at: t0(),
        by: StaffId::from_ulid(ulid(9)),
    }
}

fn invitation(n: u64, email: &str, created_at: DateTime<Utc>) -> Invitation {
    Invitation {
        id: InvitationId::from_ulid(ulid(n)),
        workspace_id: WorkspaceId::from_ulid(ulid(1)),
        email: Email::new(email).unwrap(),
        roles: RoleSet::of(&[Role::Developer]),
        invited_by: AccountId::from_ulid(ulid(2)),
        created_at,
        expires_at: created_at + TimeDelta::days(7),
        status: InvitationStatus::Pending,
        version: 0,
    }
}

fn join_request(n: u64, account: u64, status: JoinRequestStatus) -> JoinRequest {
    JoinRequest {
        id: JoinRequestId::from_ulid(ulid(n)),
        workspace_id: WorkspaceId::from_ulid(ulid(1)),
        account_id: AccountId::from_ulid(ulid(account)),
        message: None,
        created_at: t0(),
        status,
        decided_by: None,
        decided_at: None,
        version: 0,
    }
}

fn production_clone(n: u64, subscription: u64) -> Project {
    Project {
        environment: Environment::Production,
        cloned_from: Some(ProjectId::from_ulid(ulid(300))),
        subscription_id: Some(SubscriptionId::from_ulid(ulid(subscription))),
        ..project(
            n,
            WorkspaceId::from_ulid(ulid(1)),
            AccountId::from_ulid(ulid(2)),
        )
    }
}

/// Each "at most one" rule, on the store under test and on the in-memory reference alike: the
/// second row is refused with `Conflict` and nothing of its change set is applied; rows the
/// rule does not count (rejected, decided, expired, sandbox) pass.
async fn at_most_one_rules_hold(store: &(impl UnitOfWork + AuditLog)) {
    let one = |c: Change, n: u64| ChangeSet {
        changes: vec![c],
        audit: vec![draft(n, None)],
        outbox: vec![],
    };
    let refused = |r: StoreResult<()>, what: &str| {
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{what}: {r:?}");
    };
    // One live subscription per project and plan.
    let live = subscription_of(10, 100, 200, sandbox());
    store
        .commit(one(Change::InsertSubscription(live.clone()), 1))
        .await
        .unwrap();
    let twin = subscription_of(11, 100, 200, sandbox());
    refused(
        store
            .commit(one(Change::InsertSubscription(twin.clone()), 2))
            .await,
        "a second live subscription",
    );
    for (n, sub) in [
        (3, subscription_of(12, 100, 200, rejected())),
        (4, subscription_of(13, 100, 201, sandbox())),
        (5, subscription_of(14, 101, 200, sandbox())),
    ] {
        store
            .commit(one(Change::InsertSubscription(sub), n))
            .await
            .unwrap();
    }
    // Reopening the rejected one would make it a second live one.
    let mut reopened = subscription_of(12, 100, 200, sandbox());
    reopened.version = 1;
    refused(
        store
            .commit(one(
                Change::UpdateSubscription {
                    value: reopened,
                    expected_version: 0,
                },
                6,
            ))
            .await,
        "a reopened twin",
    );
    // One production project per subscription (sandbox projects are not counted).
    store
        .commit(one(Change::InsertProject(production_clone(20, 10)), 7))
        .await
        .unwrap();
    refused(
        store
            .commit(one(Change::InsertProject(production_clone(21, 10)), 8))
            .await,
        "a second clone",
    );
    store
        .commit(one(Change::InsertProject(production_clone(22, 14)), 9))
        .await
        .unwrap();
    // One pending join request per account and workspace.
    store
        .commit(one(
            Change::InsertJoinRequest(join_request(30, 2, JoinRequestStatus::Declined)),
            10,
        ))
        .await
        .unwrap();
    store
        .commit(one(
            Change::InsertJoinRequest(join_request(31, 2, JoinRequestStatus::Pending)),
            11,
        ))
        .await
        .unwrap();
    refused(
        store
            .commit(one(
                Change::InsertJoinRequest(join_request(32, 2, JoinRequestStatus::Pending)),
                12,
            ))
            .await,
        "a second pending join request",
    );
    // One usable invitation per address and workspace; once it has expired, a new one.
    store
        .commit(one(
            Change::InsertInvitation(invitation(40, "i@acme.example", t0())),
            13,
        ))
        .await
        .unwrap();
    refused(
        store
            .commit(one(
                Change::InsertInvitation(invitation(
                    41,
                    "i@acme.example",
                    t0() + TimeDelta::days(6),
                )),
                14,
            ))
            .await,
        "a second pending invitation",
    );
    store
        .commit(one(
            Change::InsertInvitation(invitation(42, "i@acme.example", t0() + TimeDelta::days(7))),
            15,
        ))
        .await
        .unwrap();
    store
        .commit(one(
            Change::InsertInvitation(invitation(43, "j@acme.example", t0())),
            16,
        ))
        .await
        .unwrap();
    // Refused change sets left nothing behind, not even their audit events.
    assert_eq!(audit_count(store).await, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_one_rules_are_held_by_the_database() {
    at_most_one_rules_hold(&MemoryStore::new()).await;
    on_each_db(|store| async move {
        at_most_one_rules_hold(&store).await;
        // Twenty identical inserts at once: exactly one is stored.
        for (rule, make) in [
            (
                "subscription",
                (|i: u64| Change::InsertSubscription(subscription_of(500 + i, 600, 700, sandbox())))
                    as fn(u64) -> Change,
            ),
            ("clone", |i| {
                Change::InsertProject(production_clone(800 + i, 10_000))
            }),
            ("join request", |i| {
                Change::InsertJoinRequest(join_request(900 + i, 77, JoinRequestStatus::Pending))
            }),
            ("invitation", |i| {
                Change::InsertInvitation(invitation(1000 + i, "race@acme.example", t0()))
            }),
        ] {
            let tasks: Vec<_> = (0..20u64)
                .map(|i| {
                    let s = store.clone();
                    tokio::spawn(async move {
                        s.commit(ChangeSet {
                            changes: vec![make(i)],
                            ..Default::default()
                        })
                        .await
                    })
                })
                .collect();
            let mut stored = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(()) => stored += 1,
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => panic!("{rule}: {e}"),
                }
            }
            assert_eq!(stored, 1, "{rule}");
        }
    })
    .await;
}

/// A database that already holds duplicates (written before the rules) is refused by the
/// upgrade with a message that names them, and is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_refuses_duplicates_by_name() {
    use migration::{Migrator, MigratorTrait};
    on_each_db(|store| async move {
        let db = store.connection();
        // Back to the schema before the rules, then two live twins and two clones.
        Migrator::down(db, Some(1)).await.unwrap();
        let dup = subscription_of(10, 100, 200, sandbox());
        for n in [10, 11] {
            store
                .commit(ChangeSet {
                    changes: vec![
                        Change::InsertSubscription(Subscription {
                            id: SubscriptionId::from_ulid(ulid(n)),
                            ..dup.clone()
                        }),
                        Change::InsertProject(production_clone(n + 10, 10)),
                    ],
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let err = Migrator::up(db, None).await.unwrap_err().to_string();
        let (project, plan) = (
            ProjectId::from_ulid(ulid(100)),
            PlanId::from_ulid(ulid(200)),
        );
        for needle in [
            "at most one".to_owned(),
            format!("{project} / {plan}: 2"),
            format!("{}: 2", SubscriptionId::from_ulid(ulid(10))),
            "docs/operations.md".to_owned(),
        ] {
            assert!(err.contains(&needle), "`{needle}` not in: {err}");
        }
        assert_eq!(Migrator::get_pending_migrations(db).await.unwrap().len(), 1);
        // Resolved (one twin rejected, one clone removed), the upgrade goes through.
        for sql in [
            format!(
                "UPDATE subscription SET phase = 'rejected' WHERE id = '{}'",
                SubscriptionId::from_ulid(ulid(11))
            ),
            format!(
                "DELETE FROM project WHERE id = '{}'",
                ProjectId::from_ulid(ulid(21))
            ),
        ] {
            db.execute_unprepared(&sql).await.unwrap();
        }
        Migrator::up(db, None).await.unwrap();
        assert!(
            Migrator::get_pending_migrations(db)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_to_rewrite_the_audit_log() {
    on_each_db(|store| async move {
        let ws = Some(WorkspaceId::from_ulid(ulid(1)));
        store
            .commit(ChangeSet {
                audit: vec![draft(1, ws), draft(2, ws), draft(3, None)],
                ..Default::default()
            })
            .await
            .unwrap();
        let before = all_events(&store).await;
        let db = store.connection();
        for sql in [
            "UPDATE audit_event SET action = 'forged'",
            "UPDATE audit_event SET seq = seq + 10 WHERE seq = 2",
            "DELETE FROM audit_event WHERE seq = 2",
            "DELETE FROM audit_event",
        ] {
            let r = db.execute_unprepared(sql).await;
            assert!(r.is_err(), "`{sql}` was allowed");
        }
        assert_eq!(all_events(&store).await, before);
        assert_eq!(before.len(), 3);
    })
    .await;
}

/// Drops the append-only triggers, as an attacker with the owner's rights would.
async fn drop_audit_triggers(store: &SeaOrmStore) {
    let db = store.connection();
    let drops: &[&str] = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        &["DROP TRIGGER audit_event_no_rewrite ON audit_event"]
    } else {
        &[
            "DROP TRIGGER audit_event_no_update",
            "DROP TRIGGER audit_event_no_delete",
        ]
    };
    for sql in drops {
        db.execute_unprepared(sql).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_tail_breaks_the_chain_at_its_stored_head() {
    use onboarding_core::audit::{ChainHead, ChainProblem};
    on_each_db(|store| async move {
        let r = rig(&store);
        let wid = WorkspaceId::from_ulid(ulid(1));
        let ws = Some(wid);
        for n in 1..=4 {
            store
                .commit(ChangeSet {
                    audit: vec![draft(n, ws), draft(10 + n, None)],
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let events = store.events(ws, 0, 100).await.unwrap();
        let head = store
            .head(ws)
            .await
            .unwrap()
            .expect("a head per written chain");
        assert_eq!(head, ChainHead::of(&events[3]));
        for (_, res) in r.portal.audit().verify_all_audit_chains().await.unwrap() {
            assert_eq!(res, Ok(4));
        }
        // A database from before the heads (the heads and the later at-most-one migration
        // undone): the migration starts each chain from its last event.
        {
            use migration::{Migrator, MigratorTrait};
            Migrator::down(store.connection(), Some(2)).await.unwrap();
            Migrator::up(store.connection(), None).await.unwrap();
        }
        assert_eq!(store.head(ws).await.unwrap(), Some(head.clone()));
        assert_eq!(
            store.head(None).await.unwrap(),
            Some(ChainHead::of(&store.events(None, 0, 100).await.unwrap()[3]))
        );

        drop_audit_triggers(&store).await;
        let chain = wid.to_string();
        store
            .connection()
            .execute_unprepared(&format!(
                "DELETE FROM audit_event WHERE chain = '{chain}' AND seq >= 3"
            ))
            .await
            .unwrap();
        let report = r.portal.audit().verify_audit_chain(ws).await.unwrap();
        let brk = report.unwrap_err();
        assert_eq!(
            (brk.seq, brk.event_id.as_str(), brk.problem),
            (4, head.event_id.as_str(), ChainProblem::Truncated)
        );
        // The untouched provider chain still verifies.
        assert_eq!(
            r.portal.audit().verify_audit_chain(None).await.unwrap(),
            Ok(4)
        );

        // The next append continues from the head, so the cut stays visible as a gap.
        store
            .commit(ChangeSet {
                audit: vec![draft(5, ws)],
                ..Default::default()
            })
            .await
            .unwrap();
        let brk = r.portal.audit().verify_audit_chain(ws).await.unwrap();
        assert_eq!(brk.unwrap_err().problem, ChainProblem::Missing);

        // Every event of a chain deleted: the chain is still listed, and still broken.
        store
            .connection()
            .execute_unprepared(&format!("DELETE FROM audit_event WHERE chain = '{chain}'"))
            .await
            .unwrap();
        let all = r.portal.audit().verify_all_audit_chains().await.unwrap();
        let (_, res) = all.iter().find(|(c, _)| *c == ws).expect("chain listed");
        assert_eq!(res.as_ref().unwrap_err().problem, ChainProblem::Truncated);
    })
    .await;
}

fn bucket(cred: u64, endpoint: &str, minute: i64, requests: u64, errors: u64) -> UsageBucket {
    UsageBucket {
        credential_id: CredentialId::from_ulid(ulid(cred)),
        project_id: ProjectId::from_ulid(ulid(2)),
        environment: Environment::Sandbox,
        endpoint: endpoint.into(),
        bucket_start: t0() + TimeDelta::minutes(minute),
        requests,
        errors,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_upserts_add_up() {
    on_each_db(|store| async move {
        let mem = MemoryStore::new();
        let project = ProjectId::from_ulid(ulid(2));
        // More rows than one chunk, and the same key twice within one batch.
        let mut batch: Vec<UsageBucket> = (0..1200)
            .map(|i| bucket(10 + i % 3, "GET /a", i as i64, 5, 1))
            .collect();
        batch.push(bucket(10, "GET /a", 0, 2, 2));
        batch.push(bucket(11, "POST /b", 3, 7, 0));
        for _ in 0..2 {
            store.add(batch.clone()).await.unwrap();
            mem.add(batch.clone()).await.unwrap();
        }
        let (from, to) = (t0(), t0() + TimeDelta::days(2));
        let got = store.buckets(project, from, to).await.unwrap();
        assert_eq!(got, mem.buckets(project, from, to).await.unwrap());
        assert_eq!(got.len(), 1201);
        assert_eq!(got[0].requests, 14);
        assert_eq!(got[0].errors, 6);
        let ends = vec!["GET /a".to_owned(), "POST /b".to_owned()];
        let calls = store.successful_calls(project, ends.clone()).await.unwrap();
        assert_eq!(calls, mem.successful_calls(project, ends).await.unwrap());
        assert_eq!(calls, 2 * (1200 * 4 + 7));
        assert_eq!(store.successful_calls(project, vec![]).await.unwrap(), 0);
        let window = store
            .buckets(
                project,
                t0() + TimeDelta::minutes(3),
                t0() + TimeDelta::minutes(5),
            )
            .await
            .unwrap();
        assert_eq!(
            window,
            mem.buckets(
                project,
                t0() + TimeDelta::minutes(3),
                t0() + TimeDelta::minutes(5)
            )
            .await
            .unwrap()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_tokens_and_test_deliveries() {
    on_each_db(|store| async move {
        let who = Principal::Account(AccountId::from_ulid(ulid(1)));
        let tok = |tag: &str, kind| AuthToken {
            token_hash: SecretHash::of(tag),
            principal: who,
            kind,
            name: tag.into(),
            csrf_token: Some("csrf".into()),
            created_at: t0(),
            expires_at: t0() + TimeDelta::days(1),
        };
        let a = tok("a", AuthTokenKind::Session);
        let b = tok("b", AuthTokenKind::PersonalAccessToken);
        store.insert_token(a.clone()).await.unwrap();
        store.insert_token(b.clone()).await.unwrap();
        assert_eq!(
            store.find_token(&a.token_hash).await.unwrap(),
            Some(a.clone())
        );
        assert_eq!(store.tokens_of(who).await.unwrap().len(), 2);
        assert!(
            store
                .tokens_of(Principal::Staff(StaffId::from_ulid(ulid(1))))
                .await
                .unwrap()
                .is_empty()
        );
        store.delete_token(&a.token_hash).await.unwrap();
        assert_eq!(store.find_token(&a.token_hash).await.unwrap(), None);
        assert_eq!(store.tokens_of(who).await.unwrap(), vec![b]);

        let project = ProjectId::from_ulid(ulid(5));
        assert_eq!(
            WebhookStore::last_test_delivery(&store, project)
                .await
                .unwrap(),
            None
        );
        store
            .record_test_delivery(project, None, t0(), false)
            .await
            .unwrap();
        store
            .record_test_delivery(
                project,
                Some(WebhookEndpointId::from_ulid(ulid(6))),
                t0() + TimeDelta::minutes(1),
                true,
            )
            .await
            .unwrap();
        assert_eq!(
            WebhookStore::last_test_delivery(&store, project)
                .await
                .unwrap(),
            Some((t0() + TimeDelta::minutes(1), true))
        );
    })
    .await;
}

#[tokio::test]
async fn database_urls_never_show_their_password() {
    let redacted = storage_seaorm::redact_url("postgres://portal:hunter2@db.internal:5432/portal");
    assert_eq!(redacted, "postgres://portal:***@db.internal:5432/portal");
    assert_eq!(
        storage_seaorm::redact_url("sqlite://data/portal.db?mode=rwc"),
        "sqlite://data/portal.db?mode=rwc"
    );
    let err = connect_and_migrate("mysql://root:hunter2@localhost/x")
        .await
        .err()
        .unwrap();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2") && text.contains("***"), "{text}");
}

#[tokio::test]
async fn an_in_memory_sqlite_database_keeps_its_data() {
    let store = connect_and_migrate("sqlite::memory:").await.unwrap();
    let a = account(1, "a@acme.example");
    store
        .commit(ChangeSet {
            changes: vec![Change::InsertAccount(a.clone())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(store.account_by_email(&a.email).await.unwrap(), Some(a));
    assert_eq!(store.backend(), sea_orm::DbBackend::Sqlite);
}

// ---------------------------------------------------------------------------------------------
// Webhook deliveries (the `DeliveryStore` port)

mod deliveries {
    use super::*;
    use onboarding_core::webhook::{AttemptRecord, Delivery, DeliveryAttempt, DeliveryStatus};

    /// One message's fan-out and one attempt at a time, through the batched port methods.
    trait OneAtATime {
        async fn dispatch_one(
            &self,
            message: MessageId,
            deliveries: Vec<Delivery>,
            at: DateTime<Utc>,
        ) -> StoreResult<bool>;
        async fn complete_one(&self, record: AttemptRecord, also: ChangeSet) -> StoreResult<()>;
    }

    impl<T: DeliveryStore + ?Sized> OneAtATime for T {
        async fn dispatch_one(
            &self,
            message: MessageId,
            deliveries: Vec<Delivery>,
            at: DateTime<Utc>,
        ) -> StoreResult<bool> {
            let done = self
                .dispatch(
                    vec![FanOut {
                        message,
                        deliveries,
                    }],
                    at,
                )
                .await?;
            assert_eq!(done.len(), 1, "one flag per fan-out");
            Ok(done[0])
        }
        async fn complete_one(&self, record: AttemptRecord, also: ChangeSet) -> StoreResult<()> {
            self.complete_attempts(vec![record], also).await
        }
    }

    /// A workspace with one outbox message (n = 4), committed.
    async fn seeded(store: &SeaOrmStore) -> (WorkspaceId, OutboxMessage) {
        let a = account(1, "a@acme.example");
        let ws = workspace(2, a.id);
        let mut msg = outbox(4, ws.id);
        msg.project_id = Some(ProjectId::from_ulid(ulid(3)));
        store
            .commit(ChangeSet {
                changes: vec![
                    Change::InsertAccount(a),
                    Change::InsertWorkspace(ws.clone()),
                ],
                audit: vec![],
                outbox: vec![msg.clone()],
            })
            .await
            .unwrap();
        (ws.id, msg)
    }

    fn delivery(n: u64, msg: &OutboxMessage, event_type: &str, due: DateTime<Utc>) -> Delivery {
        Delivery {
            id: DeliveryId::from_ulid(ulid(n)),
            message_id: msg.id,
            endpoint_id: WebhookEndpointId::from_ulid(ulid(100 + n % 2)),
            workspace_id: msg.workspace_id,
            project_id: msg.project_id.unwrap(),
            event_type: event_type.into(),
            body: format!("{{\"type\":\"{event_type}\",\"n\":{n}}}"),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(due),
            lease_owner: None,
            lease_until: None,
            last_attempt_at: None,
            last_response_status: None,
            last_error: None,
            created_at: t0(),
        }
    }

    fn record(d: &Delivery, owner: &str, at: DateTime<Utc>, ok: bool) -> AttemptRecord {
        AttemptRecord {
            attempt: DeliveryAttempt {
                delivery_id: d.id,
                endpoint_id: d.endpoint_id,
                attempt: d.attempts + 1,
                at,
                response_status: Some(if ok { 200 } else { 500 }),
                error: (!ok).then(|| "HTTP 500".to_owned()),
                latency_ms: 12,
                succeeded: ok,
            },
            lease_owner: owner.into(),
            status: if ok {
                DeliveryStatus::Succeeded
            } else {
                DeliveryStatus::Failed
            },
            next_attempt_at: None,
        }
    }

    /// What the reference store answers for the same calls, for comparison.
    async fn reference(msg: &OutboxMessage, ds: Vec<Delivery>) -> MemoryStore {
        let m = MemoryStore::new();
        m.commit(ChangeSet {
            outbox: vec![msg.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
        assert!(m.dispatch_one(msg.id, ds, t0()).await.unwrap());
        m
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dispatch_fans_out_atomically_and_only_once() {
        on_each_db(|store| async move {
            let (_, msg) = seeded(&store).await;
            assert_eq!(store.undispatched(10).await.unwrap(), vec![msg.clone()]);

            // A fan-out that fails half-way (a delivery id already taken within the batch)
            // leaves neither deliveries nor the dispatch mark behind.
            let d1 = delivery(11, &msg, "test.event", t0());
            let err = store
                .dispatch_one(msg.id, vec![d1.clone(), d1.clone()], t0())
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
            assert_eq!(store.delivery(d1.id).await.unwrap(), None);
            assert_eq!(store.undispatched(10).await.unwrap().len(), 1);

            // The real fan-out: the message is marked and its deliveries stored, once.
            let d2 = delivery(12, &msg, "test.event", t0());
            assert!(
                store
                    .dispatch_one(msg.id, vec![d1.clone(), d2.clone()], t0())
                    .await
                    .unwrap()
            );
            assert!(store.undispatched(10).await.unwrap().is_empty());
            let late = delivery(13, &msg, "test.event", t0());
            assert!(
                !store
                    .dispatch_one(msg.id, vec![late.clone()], t0())
                    .await
                    .unwrap()
            );
            assert_eq!(store.delivery(late.id).await.unwrap(), None);
            assert_eq!(store.delivery(d1.id).await.unwrap(), Some(d1.clone()));
            assert_eq!(store.delivery(d2.id).await.unwrap(), Some(d2.clone()));

            // Two dispatchers racing for one message: exactly one wins.
            let mut m2 = outbox(20, msg.workspace_id);
            m2.project_id = msg.project_id;
            store
                .commit(ChangeSet {
                    outbox: vec![m2.clone()],
                    ..Default::default()
                })
                .await
                .unwrap();
            let (a, b) = tokio::join!(
                store.dispatch_one(m2.id, vec![delivery(21, &m2, "x.y", t0())], t0()),
                store.dispatch_one(m2.id, vec![delivery(22, &m2, "x.y", t0())], t0()),
            );
            assert!(a.unwrap() ^ b.unwrap(), "exactly one dispatcher wins");

            // Endpoint history pages newest first, like the reference store.
            let reference = reference(&msg, vec![d1.clone(), d2.clone(), late.clone()]).await;
            let ep = d1.endpoint_id;
            for before in [None, Some(d2.id), Some(d1.id)] {
                assert_eq!(
                    store
                        .deliveries_of_endpoint(ep, before, 10)
                        .await
                        .unwrap()
                        .into_iter()
                        .filter(|d| d.message_id == msg.id)
                        .collect::<Vec<_>>(),
                    reference
                        .deliveries_of_endpoint(ep, before, 10)
                        .await
                        .unwrap()
                        .into_iter()
                        .filter(|d| d.id != late.id)
                        .collect::<Vec<_>>()
                );
            }
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_workers_never_hold_the_same_delivery() {
        on_each_db(|store| async move {
            let (_, msg) = seeded(&store).await;
            let due: Vec<Delivery> = (0..24)
                .map(|n| delivery(200 + n, &msg, "x.y", t0() + TimeDelta::seconds(n as i64)))
                .collect();
            // One not yet due.
            let later = delivery(300, &msg, "x.y", t0() + TimeDelta::hours(1));
            let mut all = due.clone();
            all.push(later.clone());
            assert!(store.dispatch_one(msg.id, all, t0()).await.unwrap());

            let now = t0() + TimeDelta::minutes(1);
            let until = now + TimeDelta::seconds(60);
            let worker = |owner: &'static str| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let got = store.claim_due(now, owner, until, 5).await.unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        for d in &got {
                            assert_eq!(d.lease_owner.as_deref(), Some(owner));
                            assert_eq!(d.lease_until, Some(until));
                        }
                        mine.extend(got.into_iter().map(|d| d.id));
                    }
                })
            };
            let (a, b) = tokio::join!(worker("worker-a"), worker("worker-b"));
            let (a, b) = (a.unwrap(), b.unwrap());
            let mut every: Vec<DeliveryId> = a.iter().chain(&b).copied().collect();
            every.sort();
            let mut expected: Vec<DeliveryId> = due.iter().map(|d| d.id).collect();
            expected.sort();
            assert_eq!(every, expected, "each due delivery claimed exactly once");
            assert!(!every.contains(&later.id));

            // Oldest due first; a live lease is never taken over, an expired one is.
            assert!(
                store
                    .claim_due(now, "worker-c", until, 50)
                    .await
                    .unwrap()
                    .is_empty()
            );
            let after = until + TimeDelta::seconds(1);
            let stolen = store
                .claim_due(after, "worker-c", after + TimeDelta::seconds(60), 3)
                .await
                .unwrap();
            assert_eq!(
                stolen.iter().map(|d| d.id).collect::<Vec<_>>(),
                due[..3].iter().map(|d| d.id).collect::<Vec<_>>()
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_of_fan_outs_and_a_tick_of_attempts_are_each_one_write() {
        on_each_db(|store| async move {
            let (ws, msg) = seeded(&store).await;
            let mut fresh = outbox(30, ws);
            fresh.project_id = msg.project_id;
            store
                .commit(ChangeSet {
                    outbox: vec![fresh.clone()],
                    ..Default::default()
                })
                .await
                .unwrap();
            let (a, b) = (
                delivery(31, &msg, "x.y", t0()),
                delivery(32, &msg, "x.y", t0()),
            );
            assert!(
                store
                    .dispatch_one(msg.id, vec![a.clone(), b.clone()], t0())
                    .await
                    .unwrap()
            );
            // A page holding a message another dispatcher took: that one is skipped (none of
            // its new deliveries stored), the fresh one dispatched, in one call.
            let dup = delivery(33, &msg, "x.y", t0());
            let c = delivery(34, &fresh, "x.y", t0());
            let done = store
                .dispatch(
                    vec![
                        FanOut {
                            message: msg.id,
                            deliveries: vec![dup.clone()],
                        },
                        FanOut {
                            message: fresh.id,
                            deliveries: vec![c.clone()],
                        },
                    ],
                    t0(),
                )
                .await
                .unwrap();
            assert_eq!(done, [false, true]);
            assert_eq!(store.delivery(dup.id).await.unwrap(), None);
            assert_eq!(store.delivery(c.id).await.unwrap(), Some(c.clone()));
            assert!(store.undispatched(10).await.unwrap().is_empty());
            assert_eq!(
                store.dispatch(vec![], t0()).await.unwrap(),
                Vec::<bool>::new()
            );

            let lease = TimeDelta::seconds(60);
            let held = store.claim_due(t0(), "w", t0() + lease, 10).await.unwrap();
            assert_eq!(held.len(), 3);
            let later = t0() + TimeDelta::seconds(5);
            let events_before = audit_count(&store).await;
            let also = ChangeSet {
                audit: vec![draft(35, Some(ws))],
                ..Default::default()
            };
            // One record whose lease is not ours: the whole tick's write is refused.
            let mut stolen = record(&held[1], "w", later, true);
            stolen.lease_owner = "someone-else".into();
            let err = store
                .complete_attempts(
                    vec![record(&held[0], "w", later, true), stolen],
                    also.clone(),
                )
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
            assert_eq!(audit_count(&store).await, events_before);
            for d in &held {
                let stored = store.delivery(d.id).await.unwrap().unwrap();
                assert_eq!(
                    (stored.attempts, stored.status),
                    (0, DeliveryStatus::Pending)
                );
            }
            // All three, with the change set: settled together.
            let records: Vec<AttemptRecord> = held
                .iter()
                .enumerate()
                .map(|(i, d)| record(d, "w", later, i != 1))
                .collect();
            store
                .complete_attempts(records.clone(), also)
                .await
                .unwrap();
            assert_eq!(audit_count(&store).await, events_before + 1);
            for (d, r) in held.iter().zip(&records) {
                let stored = store.delivery(d.id).await.unwrap().unwrap();
                assert_eq!(stored.status, r.status);
                assert_eq!((stored.attempts, stored.lease_owner), (1, None));
            }
            let mut endpoints: Vec<WebhookEndpointId> =
                held.iter().map(|d| d.endpoint_id).collect();
            endpoints.sort();
            endpoints.dedup();
            let mut attempts = Vec::new();
            for ep in endpoints {
                attempts.extend(store.attempts_of_endpoint(ep, t0(), 10).await.unwrap());
            }
            attempts.sort_by_key(|x| x.delivery_id);
            let mut expected: Vec<DeliveryAttempt> =
                records.into_iter().map(|r| r.attempt).collect();
            expected.sort_by_key(|x| x.delivery_id);
            assert_eq!(attempts, expected);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_lease_is_a_conflict_and_writes_nothing() {
        on_each_db(|store| async move {
            let (ws, msg) = seeded(&store).await;
            let d = delivery(400, &msg, "x.y", t0());
            assert!(
                store
                    .dispatch_one(msg.id, vec![d.clone()], t0())
                    .await
                    .unwrap()
            );
            let lease = TimeDelta::seconds(60);
            let a = store
                .claim_due(t0(), "worker-a", t0() + lease, 10)
                .await
                .unwrap();
            assert_eq!(a.len(), 1);
            // Worker A stalls past its lease; B claims the delivery and sends it.
            let later = t0() + lease + TimeDelta::seconds(1);
            let b = store
                .claim_due(later, "worker-b", later + lease, 10)
                .await
                .unwrap();
            assert_eq!(b.len(), 1);
            let events_before = audit_count(&store).await;
            let outbox_before = store.outbox_messages().await.unwrap().len();
            let also = ChangeSet {
                audit: vec![draft(401, Some(ws))],
                outbox: vec![outbox(402, ws)],
                ..Default::default()
            };
            let err = store
                .complete_one(record(&a[0], "worker-a", later, false), also.clone())
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
            assert_eq!(audit_count(&store).await, events_before);
            assert_eq!(store.outbox_messages().await.unwrap().len(), outbox_before);
            assert!(
                store
                    .attempts_of_endpoint(d.endpoint_id, t0(), 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(
                store
                    .delivery(d.id)
                    .await
                    .unwrap()
                    .unwrap()
                    .lease_owner
                    .as_deref(),
                Some("worker-b")
            );

            // B's result lands, with its change set, and releases the lease.
            store
                .complete_one(record(&b[0], "worker-b", later, true), also)
                .await
                .unwrap();
            let stored = store.delivery(d.id).await.unwrap().unwrap();
            assert_eq!(stored.status, DeliveryStatus::Succeeded);
            assert_eq!((stored.attempts, stored.lease_owner), (1, None));
            assert_eq!(stored.last_attempt_at, Some(later));
            assert_eq!(stored.last_response_status, Some(200));
            assert_eq!(audit_count(&store).await, events_before + 1);
            assert_eq!(
                store.outbox_messages().await.unwrap().len(),
                outbox_before + 1
            );
            let attempts = store
                .attempts_of_endpoint(d.endpoint_id, t0(), 10)
                .await
                .unwrap();
            assert_eq!(
                attempts,
                vec![record(&b[0], "worker-b", later, true).attempt]
            );
            // Settled twice? The second is refused.
            let again = store
                .complete_one(record(&b[0], "worker-b", later, true), ChangeSet::default())
                .await
                .unwrap_err();
            assert!(matches!(again, StoreError::Conflict(_)));
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_delivery_is_requeued_once_and_test_deliveries_feed_the_gate() {
        on_each_db(|store| async move {
            let (ws, msg) = seeded(&store).await;
            let project = msg.project_id.unwrap();
            let d = delivery(500, &msg, "test", t0());
            assert!(
                store
                    .dispatch_one(msg.id, vec![d.clone()], t0())
                    .await
                    .unwrap()
            );
            // Pending: not requeueable, and not what the gate reads.
            let err = store
                .requeue_failed(d.id, t0(), ChangeSet::default())
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Conflict(_)));
            assert_eq!(
                DeliveryStore::last_test_delivery(&store, project)
                    .await
                    .unwrap(),
                None
            );

            let at = t0() + TimeDelta::seconds(5);
            let c = store
                .claim_due(at, "w", at + TimeDelta::seconds(60), 1)
                .await
                .unwrap();
            store
                .complete_one(record(&c[0], "w", at, false), ChangeSet::default())
                .await
                .unwrap();
            assert_eq!(
                DeliveryStore::last_test_delivery(&store, project)
                    .await
                    .unwrap(),
                Some((at, false))
            );
            // The webhook gate's read combines hand-recorded results with real deliveries.
            store
                .record_test_delivery(project, None, t0(), true)
                .await
                .unwrap();
            assert_eq!(
                WebhookStore::last_test_delivery(&store, project)
                    .await
                    .unwrap(),
                Some((at, false))
            );

            // Retry by hand: pending again, due at once, with its audit event.
            let events_before = audit_count(&store).await;
            let retry_at = at + TimeDelta::minutes(1);
            store
                .requeue_failed(
                    d.id,
                    retry_at,
                    ChangeSet {
                        audit: vec![draft(501, Some(ws))],
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(audit_count(&store).await, events_before + 1);
            let again = store.delivery(d.id).await.unwrap().unwrap();
            assert_eq!(again.status, DeliveryStatus::Pending);
            assert_eq!(again.next_attempt_at, Some(retry_at));
            assert_eq!(again.attempts, 1);
            let err = store
                .requeue_failed(d.id, retry_at, ChangeSet::default())
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Conflict(_)));

            // The second attempt succeeds: the gate now reads a success.
            let c = store
                .claim_due(retry_at, "w", retry_at + TimeDelta::seconds(60), 5)
                .await
                .unwrap();
            assert_eq!(c.len(), 1);
            store
                .complete_one(record(&c[0], "w", retry_at, true), ChangeSet::default())
                .await
                .unwrap();
            assert_eq!(
                WebhookStore::last_test_delivery(&store, project)
                    .await
                    .unwrap(),
                Some((retry_at, true))
            );
            let attempts = store
                .attempts_of_endpoint(d.endpoint_id, t0(), 10)
                .await
                .unwrap();
            assert_eq!(
                attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
                vec![2, 1]
            );
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// The staff inbox (issue 20)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staff_inbox_pages_each_queue_like_the_reference_store() {
    use onboarding_core::inbox::{InboxQuery, InboxQueue};
    use onboarding_core::pipeline::ChangesRequested;
    use onboarding_core::values::Notes;
    on_each_db(|store| async move {
        let (a, b) = (
            WorkspaceId::from_ulid(ulid(1)),
            WorkspaceId::from_ulid(ulid(2)),
        );
        let other_plan = PlanId::from_ulid(ulid(9));
        let reviewer = StaffId::from_ulid(ulid(4));
        let at = |m| t0() + TimeDelta::minutes(m);
        let mem = MemoryStore::new();
        let mut subs = Vec::new();
        // Five of each kind, spread over two workspaces and two plans, some sharing a time.
        for i in 0..5u64 {
            let ws = if i % 2 == 0 { a } else { b };
            let mut r = in_review(100 + i, ws, at(10 - i as i64 % 3));
            if i == 4 {
                r.plan_id = other_plan;
            }
            subs.push(r);
            let mut s = in_review(200 + i, ws, t0());
            s.phase = Phase::Sandbox {
                changes_requested: None,
            };
            s.sandbox_access = SandboxAccess::Requested { at: at(i as i64) };
            subs.push(s);
            let mut c = in_review(300 + i, ws, t0());
            c.phase = Phase::Sandbox {
                changes_requested: Some(ChangesRequested {
                    notes: Notes::new("Explain consent withdrawal").unwrap(),
                    at: at(7),
                    by: reviewer,
                }),
            };
            subs.push(c);
            let mut p = in_review(400 + i, ws, t0());
            p.phase = Phase::Production {
                approved_at: at(20 - i as i64),
                approved_by: reviewer,
            };
            subs.push(p);
        }
        let mut rejected = in_review(500, a, t0());
        rejected.phase = Phase::Rejected {
            notes: None,
            at: t0(),
            by: reviewer,
        };
        subs.push(rejected);
        let paid = Payment {
            id: PaymentId::from_ulid(ulid(600)),
            workspace_id: a,
            subscription_id: SubscriptionId::from_ulid(ulid(402)),
            amount: Decimal::new(4900, 2),
            currency: Currency::new("EUR").unwrap(),
            reference: "INV-1".into(),
            confirmed_by: reviewer,
            at: at(30),
        };
        let mut changes: Vec<Change> = subs.into_iter().map(Change::InsertSubscription).collect();
        changes.push(Change::RecordPayment(paid));
        let set = ChangeSet {
            changes,
            ..Default::default()
        };
        store.commit(set.clone()).await.unwrap();
        mem.commit(set).await.unwrap();
        // A resubmission moves a row between queues: the stored key follows the phase.
        let mut moved = store
            .subscription(SubscriptionId::from_ulid(ulid(304)))
            .await
            .unwrap()
            .unwrap();
        moved.phase = moved
            .phase
            .submit(AccountId::from_ulid(ulid(8)), at(1))
            .unwrap();
        let update = ChangeSet {
            changes: vec![Change::UpdateSubscription {
                expected_version: moved.version,
                value: Subscription {
                    version: moved.version + 1,
                    ..moved
                },
            }],
            ..Default::default()
        };
        store.commit(update.clone()).await.unwrap();
        mem.commit(update).await.unwrap();

        let plan = PlanId::from_ulid(ulid(7));
        let mut seen = std::collections::HashMap::new();
        for queue in InboxQueue::ALL.iter().copied() {
            for plans in [None, Some(vec![plan]), Some(vec![other_plan]), Some(vec![])] {
                for workspace in [None, Some(a), Some(b)] {
                    let mut q = InboxQuery {
                        queue,
                        plans: plans.clone(),
                        workspace,
                        after: None,
                        limit: 2,
                    };
                    let mut ids = Vec::new();
                    loop {
                        let page = store.inbox(&q).await.unwrap();
                        assert_eq!(page, mem.inbox(&q).await.unwrap(), "{q:?}");
                        let Some(last) = page.last() else { break };
                        q.after = InboxQuery::key(last);
                        ids.extend(page.iter().map(|s| s.id.ulid()));
                    }
                    assert_eq!(store.inbox_count(&q).await.unwrap(), ids.len() as u64);
                    assert_eq!(mem.inbox_count(&q).await.unwrap(), ids.len() as u64);
                    if plans.is_none() && workspace.is_none() {
                        seen.insert(queue.as_str(), ids);
                    }
                }
            }
        }
        // Oldest first, ties by id; the paid and the rejected subscription wait nowhere.
        assert_eq!(seen["in_review"], [304, 102, 101, 104, 100, 103].map(ulid));
        assert_eq!(seen["sandbox_access"], [200, 201, 202, 203, 204].map(ulid));
        assert_eq!(seen["changes_requested"], [300, 301, 302, 303].map(ulid));
        assert_eq!(seen["awaiting_payment"], [404, 403, 401, 400].map(ulid));
    })
    .await;
}
