//! Crash safety and audit tamper evidence, against the real `portal-server` binary.
//!
//! - `kill_9_twenty_times_loses_no_acknowledged_write`: mixed writes over HTTP from several
//!   concurrent clients; the server is killed with SIGKILL at 20 random points and restarted
//!   on the same database. Every acknowledged (2xx) write is there afterwards with exactly its
//!   audit event, no stored change lacks its audit event, and `portal-server audit verify`
//!   exits 0 after every restart. Every write carries an `Idempotency-Key`, and a write whose
//!   answer the kill swallowed is retried with the same key after the restart: it is answered
//!   (replayed, run once, or told its answer was lost and what committed), never refused as
//!   still in progress, and never stored twice (rows, audit events, outbox messages).
//!   10 000 writes (`PORTAL_CRASH_WRITES` sets another figure for a quicker loop;
//!   `PORTAL_CRASH_SEED` replays a run).
//! - `audit_tampering_is_refused_then_named_by_audit_verify`: UPDATE and DELETE on the audit
//!   table are refused by the database; an attacker who drops the triggers and edits, deletes
//!   or reorders rows is caught: `audit verify` exits non-zero naming the first bad event.
//!
//! SQLite by default; a fresh PostgreSQL database when `PORTAL_TEST_DATABASE_URL` is set.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tokio::sync::Notify;

const KILLS: usize = 20;
const WRITERS: usize = 4;
/// Subscriptions carried through the pipeline per developer before a new developer signs up
/// (password hashing is deliberately slow; most writes are pipeline writes).
const PIPELINES_PER_DEVELOPER: usize = 6;

/// xorshift64*: reproducible from the printed seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What one acknowledged write promises: a row of `table` with this id, and exactly one audit
/// event `action` targeting `target`.
#[derive(Debug, Clone)]
struct Ack {
    table: &'static str,
    id: String,
    action: &'static str,
    target: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    SignUp,
    SignIn,
    Workspace,
    Roles,
    Project,
    Subscribe,
    Credential,
    Submit,
    Approve,
}

/// One developer walking the pipeline; survives restarts (its session is in the database).
struct Dev {
    api: Api,
    email: String,
    account: String,
    ws: String,
    project: String,
    sub: String,
    step: Step,
    pipelines: usize,
    /// The `Idempotency-Key` of the current step's write, kept until it is answered (across
    /// a kill and restart).
    key: Option<String>,
}

impl Dev {
    fn new(base: &str, n: usize) -> Self {
        Dev {
            api: Api::new(base),
            email: format!("dev{n}-{}@crash.example", ulid::Ulid::generate()),
            account: String::new(),
            ws: String::new(),
            project: String::new(),
            sub: String::new(),
            step: Step::SignUp,
            pipelines: 0,
            key: None,
        }
    }
}

struct Shared {
    acks: Mutex<Vec<Ack>>,
    acked: AtomicUsize,
    server_errors: Mutex<Vec<String>>,
    refused: AtomicUsize,
    /// Refusals by step, status and problem type (reported, not failed on).
    refusals: Mutex<BTreeMap<String, usize>>,
    progress: Notify,
    plan: String,
    answers: Value,
    /// Writes retried with their key after a kill, by how they were answered.
    retries: Mutex<BTreeMap<String, usize>>,
    /// Keys found still "in progress" after a restart: stuck claims.
    stuck: Mutex<Vec<String>>,
}

enum Outcome {
    /// The server is gone (killed): stop until it is restarted.
    Down,
    Next,
}

/// Performs the developer's next step; records what a 2xx acknowledged.
async fn step(dev: &mut Dev, admin: &Api, sh: &Shared, n: &AtomicUsize) -> Outcome {
    let (api, path, method, body): (&Api, String, Method, Value) = match dev.step {
        Step::SignUp => (
            &dev.api,
            "/api/v1/auth/sign-up".into(),
            Method::POST,
            json!({"email": dev.email, "name": "Dev", "password": PASSWORD}),
        ),
        Step::SignIn => (
            &dev.api,
            "/api/v1/auth/sign-in".into(),
            Method::POST,
            json!({"email": dev.email, "password": PASSWORD}),
        ),
        Step::Workspace => (
            &dev.api,
            "/api/v1/workspaces".into(),
            Method::POST,
            json!({"name": "Crash Co"}),
        ),
        Step::Roles => (
            &dev.api,
            format!(
                "/api/v1/workspaces/{}/members/{}/roles",
                dev.ws, dev.account
            ),
            Method::PUT,
            json!({"roles": ["owner", "technical_lead"]}),
        ),
        Step::Project => (
            &dev.api,
            format!("/api/v1/workspaces/{}/projects", dev.ws),
            Method::POST,
            json!({"name": "Ledger sync", "purpose": "Nightly sync", "endpoints": ["GET /accounts"]}),
        ),
        Step::Subscribe => (
            &dev.api,
            format!("/api/v1/projects/{}/subscriptions", dev.project),
            Method::POST,
            json!({"plan_id": sh.plan}),
        ),
        Step::Credential => (
            &dev.api,
            format!("/api/v1/subscriptions/{}/credentials", dev.sub),
            Method::POST,
            json!({"environment": "sandbox", "name": "CI"}),
        ),
        Step::Submit => (
            &dev.api,
            format!("/api/v1/subscriptions/{}/submit", dev.sub),
            Method::POST,
            json!({"answers": sh.answers}),
        ),
        Step::Approve => (
            admin,
            format!("/api/v1/subscriptions/{}/approve", dev.sub),
            Method::POST,
            json!({}),
        ),
    };
    let retry = dev.key.is_some();
    let key = dev
        .key
        .get_or_insert_with(|| format!("crash-{}", ulid::Ulid::generate()))
        .clone();
    let r = match api
        .try_send(method, &path, Some(body), &[("Idempotency-Key", &key)])
        .await
    {
        Ok(r) => r,
        // The kill may have swallowed the answer: the same key goes again after the restart.
        Err(_) => return Outcome::Down,
    };
    let problem = r.body["type"]
        .as_str()
        .and_then(|t| t.rsplit('/').next())
        .unwrap_or_default()
        .to_owned();
    if retry {
        let how = if r.headers.contains_key("idempotent-replayed") {
            "replayed".to_owned()
        } else if r.status.is_success() {
            "ran".to_owned()
        } else {
            format!("{} {problem}", r.status.as_u16())
        };
        *sh.retries.lock().unwrap().entry(how).or_default() += 1;
    }
    if problem == "idempotency-key-in-use" {
        // Nothing else sends this key: a claim the killed server left is stuck. Noted (the
        // test fails on it), then the step goes on under a new key.
        sh.stuck.lock().unwrap().push(format!("{path} {key}"));
        dev.key = None;
        return Outcome::Next;
    }
    if r.status.as_u16() != 409 || problem != "idempotency-key-answer-lost" {
        dev.key = None;
    }
    if r.status.is_server_error() {
        sh.server_errors
            .lock()
            .unwrap()
            .push(format!("{path}: {} {}", r.status, r.body));
        return Outcome::Next;
    }
    // The write committed before the kill, its answer was lost: the problem names what it
    // created or changed, which is all the next step needs.
    let r = if problem == "idempotency-key-answer-lost" {
        dev.key = None;
        let resource = r.body["resource"].as_str().unwrap_or_default().to_owned();
        let body = match dev.step {
            Step::Credential => json!({"credential": {"id": resource}}),
            _ => json!({"id": resource}),
        };
        common::Resp {
            status: StatusCode::CREATED,
            headers: r.headers,
            body,
        }
    } else {
        r
    };
    if !r.status.is_success() {
        // A write whose answer the kill swallowed may have committed: find out where the
        // pipeline stands (sign-up of an existing e-mail, submit or approve of a moved
        // subscription) and go on from there.
        sh.refused.fetch_add(1, Ordering::Relaxed);
        *sh.refusals
            .lock()
            .unwrap()
            .entry(format!(
                "{:?} {} {}",
                dev.step,
                r.status.as_u16(),
                r.body["type"].as_str().unwrap_or_default()
            ))
            .or_default() += 1;
        match dev.step {
            Step::SignUp => dev.step = Step::SignIn,
            // The project already has its subscription: the kill swallowed the answer.
            Step::Subscribe if r.status == StatusCode::CONFLICT => {
                let Ok(list) = dev
                    .api
                    .try_send(
                        Method::GET,
                        &format!("/api/v1/workspaces/{}/subscriptions?limit=200", dev.ws),
                        None,
                        &[],
                    )
                    .await
                else {
                    return Outcome::Down;
                };
                let found = list.body["items"].as_array().and_then(|items| {
                    items
                        .iter()
                        .find(|s| s["project_id"] == dev.project.as_str())
                        .and_then(|s| s["id"].as_str())
                });
                if let Some(sub) = found {
                    dev.sub = sub.to_owned();
                    dev.step = Step::Credential;
                }
            }
            Step::Submit | Step::Approve => {
                let Ok(v) = dev
                    .api
                    .try_send(
                        Method::GET,
                        &format!("/api/v1/subscriptions/{}", dev.sub),
                        None,
                        &[],
                    )
                    .await
                else {
                    return Outcome::Down;
                };
                match v.body["subscription"]["phase"].as_str() {
                    Some("in_review") => dev.step = Step::Approve,
                    Some("production") => next_pipeline(dev),
                    _ => {}
                }
            }
            // An expired session cannot happen within a run; anything else is retried.
            _ => {}
        }
        return Outcome::Next;
    }
    let ack = |table: &'static str, id: &str, action: &'static str, target: &str| {
        sh.acks.lock().unwrap().push(Ack {
            table,
            id: id.to_owned(),
            action,
            target: target.to_owned(),
        });
        n.fetch_add(1, Ordering::SeqCst);
        sh.progress.notify_waiters();
    };
    let id = |v: &Value| v["id"].as_str().unwrap_or_default().to_owned();
    match dev.step {
        Step::SignUp => {
            dev.account = id(&r.body);
            ack("account", &dev.account, "account.created", &dev.account);
            dev.step = Step::SignIn;
        }
        Step::SignIn => {
            if dev.account.is_empty() {
                let me = dev.api.try_send(Method::GET, "/api/v1/me", None, &[]).await;
                let Ok(me) = me else { return Outcome::Down };
                dev.account = me.body["account"]["id"].as_str().unwrap().to_owned();
            }
            dev.step = Step::Workspace;
        }
        Step::Workspace => {
            dev.ws = id(&r.body);
            ack("workspace", &dev.ws, "workspace.created", &dev.ws);
            dev.step = Step::Roles;
        }
        Step::Roles => {
            ack("workspace", &dev.ws, "member.roles_changed", &dev.account);
            dev.step = Step::Project;
        }
        Step::Project => {
            dev.project = id(&r.body);
            ack("project", &dev.project, "project.created", &dev.project);
            dev.step = Step::Subscribe;
        }
        Step::Subscribe => {
            dev.sub = id(&r.body);
            ack("subscription", &dev.sub, "subscription.created", &dev.sub);
            dev.step = Step::Credential;
        }
        Step::Credential => {
            let cred = r.body["credential"]["id"].as_str().unwrap().to_owned();
            ack("credential", &cred, "credential.created", &cred);
            dev.step = Step::Submit;
        }
        Step::Submit => {
            ack("subscription", &dev.sub, "subscription.submitted", &dev.sub);
            dev.step = Step::Approve;
        }
        Step::Approve => {
            ack("subscription", &dev.sub, "subscription.approved", &dev.sub);
            next_pipeline(dev);
        }
    }
    Outcome::Next
}

fn next_pipeline(dev: &mut Dev) {
    dev.pipelines += 1;
    dev.step = Step::Project;
}

/// One writer: its developers one after the other, until the server goes away or the run
/// has enough writes.
async fn writer(
    devs: Arc<tokio::sync::Mutex<Dev>>,
    admin: Api,
    sh: Arc<Shared>,
    n: Arc<AtomicUsize>,
    total: usize,
    next_dev: Arc<AtomicUsize>,
) {
    let mut dev = devs.lock().await;
    loop {
        if n.load(Ordering::SeqCst) >= total {
            return;
        }
        if dev.pipelines >= PIPELINES_PER_DEVELOPER {
            let base = dev.api.base.clone();
            *dev = Dev::new(&base, next_dev.fetch_add(1, Ordering::Relaxed));
        }
        if let Outcome::Down = step(&mut dev, &admin, &sh, &n).await {
            return;
        }
    }
}

fn total_writes() -> usize {
    if let Ok(n) = std::env::var("PORTAL_CRASH_WRITES") {
        return n.parse().expect("PORTAL_CRASH_WRITES is a number");
    }
    10_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_twenty_times_loses_no_acknowledged_write() {
    let started = std::time::Instant::now();
    let total = total_writes();
    let seed = std::env::var("PORTAL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test: {total} writes, {KILLS} kills, seed {seed}");
    let mut rng = Rng(seed);

    let dir = temp_dir("crash");
    let url = fresh_database(&dir).await;
    let spec = ServerSpec::new(&url, &dir);
    let mut server = spec.start(0).await;
    let mut admin = staff(&server.base, &server.admin_password()).await;
    let plan = simple_plan(&admin).await;
    // The plan's form, for the submits.
    let probe = Dev::new(&server.base, 0);
    let answers = {
        let a = &probe.api;
        a.ok(
            "/api/v1/auth/sign-up",
            json!({"email": probe.email, "name": "P", "password": PASSWORD}),
        )
        .await;
        a.ok(
            "/api/v1/auth/sign-in",
            json!({"email": probe.email, "password": PASSWORD}),
        )
        .await;
        let ws = a.ok("/api/v1/workspaces", json!({"name": "Probe"})).await;
        let p = a
            .ok(
                &format!("/api/v1/workspaces/{}/projects", ws["id"].as_str().unwrap()),
                json!({"name": "Probe", "purpose": "Form", "endpoints": ["GET /accounts"]}),
            )
            .await;
        let s = a
            .ok(
                &format!(
                    "/api/v1/projects/{}/subscriptions",
                    p["id"].as_str().unwrap()
                ),
                json!({"plan_id": plan}),
            )
            .await;
        let view = a
            .get(&format!(
                "/api/v1/subscriptions/{}",
                s["id"].as_str().unwrap()
            ))
            .await;
        answers_for(&view.body)
    };

    let sh = Arc::new(Shared {
        acks: Mutex::new(vec![]),
        acked: AtomicUsize::new(0),
        server_errors: Mutex::new(vec![]),
        refused: AtomicUsize::new(0),
        refusals: Mutex::new(BTreeMap::new()),
        progress: Notify::new(),
        plan,
        answers,
        retries: Mutex::new(BTreeMap::new()),
        stuck: Mutex::new(vec![]),
    });
    let n = Arc::new(AtomicUsize::new(0));
    let next_dev = Arc::new(AtomicUsize::new(1));
    let devs: Vec<_> = (0..WRITERS)
        .map(|_| {
            Arc::new(tokio::sync::Mutex::new(Dev::new(
                &server.base,
                next_dev.fetch_add(1, Ordering::Relaxed),
            )))
        })
        .collect();
    let per_cycle = total / (KILLS + 1);
    let mut verify_runs = 0;
    for cycle in 0..=KILLS {
        let writers: Vec<_> = devs
            .iter()
            .map(|d| {
                tokio::spawn(writer(
                    d.clone(),
                    admin.clone(),
                    sh.clone(),
                    n.clone(),
                    total,
                    next_dev.clone(),
                ))
            })
            .collect();
        if cycle == KILLS {
            // The last stretch runs to the total without a kill.
            for w in writers {
                w.await.unwrap();
            }
            break;
        }
        // A random point in this cycle's share of the writes; requests are in flight on
        // every writer when it comes.
        let kill_at = cycle * per_cycle + per_cycle / 2 + rng.below(per_cycle as u64) as usize;
        loop {
            let notified = sh.progress.notified();
            if n.load(Ordering::SeqCst) >= kill_at {
                break;
            }
            notified.await;
        }
        server.kill9();
        for w in writers {
            w.await.unwrap();
        }
        // The chain verifies on the database the killed server left behind.
        let (code, out, err) = spec.audit_verify();
        assert_eq!(code, 0, "audit verify after kill {}: {out}{err}", cycle + 1);
        verify_runs += 1;
        server = spec.start(cycle + 1).await;
        admin.rebase(&server.base);
        for d in &devs {
            d.lock().await.api.rebase(&server.base);
        }
    }
    let acked = n.load(Ordering::SeqCst);
    sh.acked.store(acked, Ordering::SeqCst);
    server.terminate();
    let (code, out, err) = spec.audit_verify();
    assert_eq!(code, 0, "final audit verify: {out}{err}");
    verify_runs += 1;

    // Every acknowledged write is stored, with exactly its audit event.
    let db = connect(&url).await;
    let mut audit: HashMap<(String, String), usize> = HashMap::new();
    for r in rows(&db, "SELECT action, target FROM audit_event", 2).await {
        *audit.entry((r[0].clone(), r[1].clone())).or_default() += 1;
    }
    let mut stored: HashMap<&str, HashSet<String>> = HashMap::new();
    for table in [
        "account",
        "workspace",
        "project",
        "subscription",
        "credential",
    ] {
        stored.insert(
            table,
            rows(&db, &format!("SELECT id FROM {table}"), 1)
                .await
                .into_iter()
                .map(|mut r| r.remove(0))
                .collect(),
        );
    }
    let phases: HashMap<String, String> = rows(&db, "SELECT id, phase FROM subscription", 2)
        .await
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let acks = sh.acks.lock().unwrap().clone();
    let mut lost = vec![];
    let mut without_audit = vec![];
    let mut by_action: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &acks {
        *by_action.entry(a.action).or_default() += 1;
        if !stored[a.table].contains(&a.id) {
            lost.push(a.clone());
        }
        match a.action {
            "subscription.submitted" | "subscription.approved" => {
                let want = if a.action.ends_with("submitted") {
                    ["in_review", "production"].as_slice()
                } else {
                    ["production"].as_slice()
                };
                if !phases
                    .get(&a.id)
                    .is_some_and(|p| want.contains(&p.as_str()))
                {
                    lost.push(a.clone());
                }
            }
            _ => {}
        }
        let events = audit
            .get(&(a.action.to_owned(), a.target.clone()))
            .copied()
            .unwrap_or(0);
        // Role changes repeat per developer only once here; every other target is unique.
        if events != 1 {
            without_audit.push((a.clone(), events));
        }
    }
    // No stored change without its audit event, acknowledged or not (a write whose answer
    // the kill swallowed is either wholly there or wholly absent).
    let mut unaudited_rows = vec![];
    for (table, action) in [
        ("account", "account.created"),
        ("workspace", "workspace.created"),
        ("project", "project.created"),
        ("subscription", "subscription.created"),
        ("credential", "credential.created"),
    ] {
        for id in &stored[table] {
            if !audit.contains_key(&(action.to_owned(), id.clone())) {
                unaudited_rows.push(format!("{table} {id}"));
            }
        }
    }
    for (id, phase) in &phases {
        let needs: &[&str] = match phase.as_str() {
            "in_review" => &["subscription.submitted"],
            "production" => &["subscription.submitted", "subscription.approved"],
            _ => &[],
        };
        for action in needs {
            if !audit.contains_key(&(action.to_string(), id.clone())) {
                unaudited_rows.push(format!("subscription {id} in {phase} without {action}"));
            }
        }
    }
    // Nothing stored twice: one subscription per project, one credential per subscription,
    // one creation event and one outbox message per subscription.
    let mut twice = vec![];
    for (what, sql) in [
        (
            "subscriptions of one project",
            "SELECT project_id FROM subscription GROUP BY project_id HAVING COUNT(*) > 1",
        ),
        (
            "credentials of one subscription",
            "SELECT subscription_id FROM credential GROUP BY subscription_id HAVING COUNT(*) > 1",
        ),
        (
            "creation events of one target",
            "SELECT target FROM audit_event WHERE action LIKE '%.created' \
             GROUP BY action, target HAVING COUNT(*) > 1",
        ),
    ] {
        for r in rows(&db, sql, 1).await {
            twice.push(format!("{what}: {}", r[0]));
        }
    }
    let created_messages = rows(
        &db,
        "SELECT payload FROM outbox_message WHERE event_type = 'subscription.created'",
        1,
    )
    .await;
    let mut messages: HashMap<String, usize> = HashMap::new();
    for r in &created_messages {
        let payload: Value = serde_json::from_str(&r[0]).unwrap();
        *messages
            .entry(payload["subscription_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for id in phases.keys() {
        if messages.get(id) != Some(&1) {
            twice.push(format!(
                "subscription {id} has {:?} subscription.created messages",
                messages.get(id)
            ));
        }
    }
    // Nothing stuck: every key is answered, or committed with its answer lost.
    let unsettled = rows(
        &db,
        "SELECT key FROM idempotency_key WHERE status IS NULL AND committed_at IS NULL",
        1,
    )
    .await;
    let stuck = sh.stuck.lock().unwrap().clone();
    let server_errors = sh.server_errors.lock().unwrap().clone();
    eprintln!(
        "crash test: {KILLS} kills, {acked} writes acknowledged {by_action:?}, {} lost, {} \
         acknowledged without exactly one audit event, {} stored rows without audit, {} \
         refusals re-synced {:?}, {} 5xx, audit verify ok {verify_runs}x, retried with their \
         key {:?}, {} stuck, {} stored twice, {} keys unsettled, {:.1?}",
        lost.len(),
        without_audit.len(),
        unaudited_rows.len(),
        sh.refused.load(Ordering::Relaxed),
        sh.refusals.lock().unwrap(),
        server_errors.len(),
        sh.retries.lock().unwrap(),
        stuck.len(),
        twice.len(),
        unsettled.len(),
        started.elapsed()
    );
    assert!(stuck.is_empty(), "keys stuck after a restart: {stuck:#?}");
    assert!(twice.is_empty(), "stored twice: {twice:#?}");
    assert!(unsettled.is_empty(), "keys left unsettled: {unsettled:?}");
    assert!(
        acked >= total,
        "only {acked} of {total} writes acknowledged"
    );
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:#?}");
    assert!(
        without_audit.is_empty(),
        "acknowledged writes without exactly one audit event: {without_audit:#?}"
    );
    assert!(
        unaudited_rows.is_empty(),
        "stored changes without audit: {unaudited_rows:#?}"
    );
    assert!(server_errors.is_empty(), "5xx answers: {server_errors:#?}");
}

// ------------------------------------------------------------------------------------------

/// Runs `audit verify` and expects it to fail naming `event` at `seq` of `chain`.
fn expect_break(spec: &ServerSpec, chain: &str, seq: i64, event: &str, what: &str) {
    let (code, out, err) = spec.audit_verify();
    assert_ne!(code, 0, "{what}: audit verify passed: {out}");
    let expected = format!("{chain}: chain broken at seq {seq} (event {event})");
    assert!(
        err.contains(&expected),
        "{what}: expected `{expected}` in:\n{err}"
    );
    eprintln!("{what}: exit {code}: {}", err.trim());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_tampering_is_refused_then_named_by_audit_verify() {
    let dir = temp_dir("tamper");
    let url = fresh_database(&dir).await;
    let spec = ServerSpec::new(&url, &dir);
    let mut server = spec.start(0).await;
    let admin = staff(&server.base, &server.admin_password()).await;
    let plan = simple_plan(&admin).await;
    let dev = Api::new(&server.base);
    dev.ok(
        "/api/v1/auth/sign-up",
        json!({"email": "t@tamper.example", "name": "T", "password": PASSWORD}),
    )
    .await;
    dev.ok(
        "/api/v1/auth/sign-in",
        json!({"email": "t@tamper.example", "password": PASSWORD}),
    )
    .await;
    let ws = dev
        .ok("/api/v1/workspaces", json!({"name": "Tamper"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..3 {
        let p = dev
            .ok(
                &format!("/api/v1/workspaces/{ws}/projects"),
                json!({"name": format!("P{i}"), "purpose": "Tamper", "endpoints": ["GET /accounts"]}),
            )
            .await;
        dev.ok(
            &format!(
                "/api/v1/projects/{}/subscriptions",
                p["id"].as_str().unwrap()
            ),
            json!({"plan_id": plan}),
        )
        .await;
    }
    server.terminate();
    assert_eq!(spec.audit_verify().0, 0, "an untouched log verifies");

    let db = connect(&url).await;
    let chain = rows(
        &db,
        &format!(
            "SELECT chain FROM audit_event WHERE action = 'workspace.created' AND target = '{ws}'"
        ),
        1,
    )
    .await
    .remove(0)
    .remove(0);
    let ids: Vec<String> = rows(
        &db,
        &format!("SELECT id FROM audit_event WHERE chain = '{chain}' ORDER BY seq"),
        1,
    )
    .await
    .into_iter()
    .map(|mut r| r.remove(0))
    .collect();
    assert!(ids.len() >= 6, "{ids:?}");

    // With the triggers in place the database refuses every rewrite.
    let attempts = [
        format!("UPDATE audit_event SET details = '{{}}' WHERE chain = '{chain}' AND seq = 2"),
        format!("UPDATE audit_event SET seq = seq + 100 WHERE chain = '{chain}'"),
        format!("DELETE FROM audit_event WHERE chain = '{chain}' AND seq = 2"),
        "DELETE FROM audit_event".to_owned(),
    ];
    for sql in &attempts {
        let r = db.execute_unprepared(sql).await;
        let e = r.expect_err(&format!("`{sql}` was allowed"));
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    assert_eq!(spec.audit_verify().0, 0);

    // An attacker with the database owner's rights drops the triggers first.
    if is_postgres(&url) {
        db.execute_unprepared("DROP TRIGGER audit_event_no_rewrite ON audit_event")
            .await
            .unwrap();
    } else {
        for t in ["audit_event_no_update", "audit_event_no_delete"] {
            db.execute_unprepared(&format!("DROP TRIGGER {t}"))
                .await
                .unwrap();
        }
    }
    db.execute_unprepared("CREATE TABLE audit_backup AS SELECT * FROM audit_event")
        .await
        .unwrap();
    let restore = || async {
        db.execute_unprepared("DELETE FROM audit_event")
            .await
            .unwrap();
        db.execute_unprepared("INSERT INTO audit_event SELECT * FROM audit_backup")
            .await
            .unwrap();
        assert_eq!(spec.audit_verify().0, 0, "restored");
    };

    // Edit: one event's details.
    db.execute_unprepared(&format!(
        "UPDATE audit_event SET details = '{{\"name\":\"Innocent Co\"}}' WHERE chain = '{chain}' AND seq = 3"
    ))
    .await
    .unwrap();
    expect_break(&spec, &chain, 3, &ids[2], "edit");
    restore().await;

    // Edit: another event's action.
    db.execute_unprepared(&format!(
        "UPDATE audit_event SET action = 'project.archived' WHERE chain = '{chain}' AND seq = 4"
    ))
    .await
    .unwrap();
    expect_break(&spec, &chain, 4, &ids[3], "edit action");
    restore().await;

    // Delete: the event after the gap is named.
    db.execute_unprepared(&format!(
        "DELETE FROM audit_event WHERE chain = '{chain}' AND seq = 2"
    ))
    .await
    .unwrap();
    expect_break(&spec, &chain, 3, &ids[2], "delete");
    restore().await;

    // Delete and renumber the rest to hide the gap: the renumbered event's hash names its
    // old position.
    db.execute_unprepared(&format!(
        "DELETE FROM audit_event WHERE chain = '{chain}' AND seq = 2"
    ))
    .await
    .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE audit_event SET seq = seq - 1 WHERE chain = '{chain}' AND seq > 2"
    ))
    .await
    .unwrap();
    expect_break(&spec, &chain, 2, &ids[2], "delete and renumber");
    restore().await;

    // Cut the tail: the newest two events deleted. Link by link the rest still verifies; the
    // chain's head names the missing newest event.
    let last = ids.len();
    db.execute_unprepared(&format!(
        "DELETE FROM audit_event WHERE chain = '{chain}' AND seq > {}",
        last - 2
    ))
    .await
    .unwrap();
    expect_break(&spec, &chain, last as i64, &ids[last - 1], "cut tail");
    restore().await;

    // Reorder: swap events 3 and 4.
    for sql in [
        format!("UPDATE audit_event SET seq = -1 WHERE chain = '{chain}' AND seq = 3"),
        format!("UPDATE audit_event SET seq = 3 WHERE chain = '{chain}' AND seq = 4"),
        format!("UPDATE audit_event SET seq = 4 WHERE chain = '{chain}' AND seq = -1"),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }
    expect_break(&spec, &chain, 3, &ids[3], "reorder");
    restore().await;
}
