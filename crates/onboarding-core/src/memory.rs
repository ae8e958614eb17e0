//! In-memory adapters of every port: for the examples, for embedding the core in a test of
//! your own, and for the core's property tests. State lives in one `Mutex`, so a
//! [`ChangeSet`] is applied atomically exactly as a database transaction would: all of it,
//! or (on a version conflict) none of it.
//!
//! These are not for production: [`TestPasswordHasher`] is a fast salted SHA-256 so that
//! tests stay quick, where the server uses argon2id.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use ulid::Ulid;

use crate::audit::{AuditEvent, ChainHead};
use crate::billing::Payment;
use crate::credential::{AccessToken, Credential, SecretHash, SecretMatch};
use crate::ids::*;
use crate::pipeline::{Phase, PhaseKind, Subscription};
use crate::plan::{ApiProduct, Plan};
use crate::ports::*;
use crate::project::{Environment, Project};
use crate::services::{Infrastructure, Portal, Ports};
use crate::usage::{AlertThreshold, UsageBucket, UsageEvent, aggregate};
use crate::values::Email;
use crate::webhook::{
    AttemptRecord, Delivery, DeliveryAttempt, DeliveryStatus, EVENT_TEST, WebhookEndpoint,
};
use crate::workspace::{
    Account, Invitation, InvitationStatus, JoinRequest, JoinRequestStatus, Membership, Staff,
    Workspace,
};

/// A clock that only moves when told to.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock standing still at `at` until [`advance`](Self::advance) or [`set`](Self::set) moves
    /// it.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }
    /// Moves the clock forward by `by` (e.g. past a rotation grace deadline or an invitation's
    /// expiry).
    pub fn advance(&self, by: TimeDelta) {
        *self.0.lock().unwrap() += by;
    }
    /// Sets the clock to `at`, forward or backward.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Deterministic, increasing ULIDs.
#[derive(Default)]
pub struct SequentialIds(Mutex<u64>);

impl IdGenerator for SequentialIds {
    fn ulid(&self) -> Ulid {
        let mut n = self.0.lock().unwrap();
        *n += 1;
        Ulid::from_parts(1_700_000_000_000 + *n, u128::from(*n))
    }
}

/// Deterministic base62 text (a hash chain over a counter): distinct, repeatable, not secret.
#[derive(Default)]
pub struct DeterministicSecrets(Mutex<u64>);

impl SecretGenerator for DeterministicSecrets {
    fn base62(&self, len: usize) -> String {
        const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut n = self.0.lock().unwrap();
        *n += 1;
        let mut out = String::with_capacity(len);
        let mut block = Sha256::digest(n.to_le_bytes());
        while out.len() < len {
            for b in block.iter() {
                if out.len() < len {
                    out.push(A[(*b as usize) % 62] as char);
                }
            }
            block = Sha256::digest(block);
        }
        out
    }
}

/// A vault for tests and examples: reversible encoding with a tag so that `open` refuses text it
/// did not seal. Not encryption; the server uses an AEAD with the operator's key.
pub struct TestVault;

impl SecretVault for TestVault {
    fn seal(&self, plaintext: &str) -> String {
        format!("testvault:{}", plaintext.chars().rev().collect::<String>())
    }
    fn open(&self, sealed: &str) -> Option<String> {
        sealed
            .strip_prefix("testvault:")
            .map(|s| s.chars().rev().collect())
    }
}

/// A fast salted SHA-256 hasher for tests and examples. The server uses argon2id.
pub struct TestPasswordHasher;

#[async_trait]
impl PasswordHasher for TestPasswordHasher {
    async fn hash(&self, password: &str) -> String {
        format!(
            "test${}",
            crate::credential::hex(&Sha256::digest(format!("salt:{password}").as_bytes()))
        )
    }
    async fn verify(&self, password: &str, phc_hash: &str) -> bool {
        self.hash(password).await == phc_hash
    }
}

#[derive(Default)]
struct State {
    accounts: BTreeMap<AccountId, Account>,
    staff: BTreeMap<StaffId, Staff>,
    workspaces: BTreeMap<WorkspaceId, Workspace>,
    memberships: BTreeMap<(WorkspaceId, AccountId), Membership>,
    invitations: BTreeMap<InvitationId, Invitation>,
    join_requests: BTreeMap<JoinRequestId, JoinRequest>,
    products: BTreeMap<ProductId, ApiProduct>,
    plans: BTreeMap<PlanId, Plan>,
    projects: BTreeMap<ProjectId, Project>,
    subscriptions: BTreeMap<SubscriptionId, Subscription>,
    credentials: BTreeMap<CredentialId, Credential>,
    tokens: HashMap<SecretHash, AccessToken>,
    endpoints: BTreeMap<WebhookEndpointId, WebhookEndpoint>,
    test_deliveries: HashMap<ProjectId, (DateTime<Utc>, bool)>,
    thresholds: BTreeMap<AlertThresholdId, AlertThreshold>,
    payments: Vec<Payment>,
    usage: BTreeMap<(CredentialId, String, DateTime<Utc>), UsageBucket>,
    audit: BTreeMap<Option<WorkspaceId>, Vec<AuditEvent>>,
    heads: BTreeMap<Option<WorkspaceId>, ChainHead>,
    outbox: Vec<OutboxMessage>,
    /// Outbox messages already fanned out into deliveries.
    dispatched: HashSet<MessageId>,
    deliveries: BTreeMap<DeliveryId, Delivery>,
    attempts: Vec<DeliveryAttempt>,
    auth_tokens: HashMap<SecretHash, AuthToken>,
    idempotency: HashMap<(String, String), IdempotencyRecord>,
}

/// One idempotency key: who holds it, what it committed, its answer.
#[derive(Clone)]
struct IdempotencyRecord {
    request_hash: String,
    run: String,
    /// `None` once its run was released: nobody holds it any more.
    token: Option<String>,
    claimed_at: DateTime<Utc>,
    committed: Option<CommittedRequest>,
    response: Option<StoredResponse>,
}

/// Every store port over one in-memory state.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

/// Another live (not rejected) subscription of the same project to the same plan.
fn live_duplicate(all: &BTreeMap<SubscriptionId, Subscription>, x: &Subscription) -> bool {
    x.phase.kind() != PhaseKind::Rejected
        && all.values().any(|o| {
            o.id != x.id
                && o.project_id == x.project_id
                && o.plan_id == x.plan_id
                && o.phase.kind() != PhaseKind::Rejected
        })
}

fn conflict(what: &str) -> StoreError {
    StoreError::Conflict(what.to_owned())
}

macro_rules! versioned_update {
    ($map:expr, $value:expr, $expected:expr, $what:literal) => {{
        let v = $value;
        match $map.get(&v.id) {
            Some(cur) if cur.version == $expected => {
                let mut v = v;
                v.version = $expected + 1;
                $map.insert(v.id, v);
            }
            _ => return Err(conflict($what)),
        }
    }};
}

impl MemoryStore {
    /// An empty store: no accounts, workspaces, plans or audit events.
    pub fn new() -> Self {
        Self::default()
    }

    /// Outbox messages written so far (what the webhook worker would deliver).
    pub fn outbox(&self) -> Vec<OutboxMessage> {
        self.state.lock().unwrap().outbox.clone()
    }

    /// Every audit event of every chain.
    pub fn audit_events(&self) -> Vec<AuditEvent> {
        self.state
            .lock()
            .unwrap()
            .audit
            .values()
            .flatten()
            .cloned()
            .collect()
    }

    /// Records a signed test delivery result (the webhooks adapter's job in the server).
    pub fn record_test_delivery(&self, project: ProjectId, at: DateTime<Utc>, ok: bool) {
        self.state
            .lock()
            .unwrap()
            .test_deliveries
            .insert(project, (at, ok));
    }

    fn apply(s: &mut State, c: Change) -> StoreResult<()> {
        match c {
            Change::InsertAccount(a) => {
                if s.accounts.values().any(|x| x.email == a.email) {
                    return Err(conflict("account e-mail"));
                }
                s.accounts.insert(a.id, a);
            }
            Change::InsertStaff(a) => {
                if s.staff.values().any(|x| x.email == a.email) {
                    return Err(conflict("staff e-mail"));
                }
                s.staff.insert(a.id, a);
            }
            Change::InsertWorkspace(w) => {
                s.workspaces.insert(w.id, w);
            }
            Change::UpdateWorkspace {
                value,
                expected_version,
            } => versioned_update!(s.workspaces, value, expected_version, "workspace"),
            Change::PutMembership(m) => {
                s.memberships.insert((m.workspace_id, m.account_id), m);
            }
            Change::RemoveMembership {
                workspace_id,
                account_id,
            } => {
                s.memberships.remove(&(workspace_id, account_id));
            }
            Change::InsertInvitation(i) => {
                // At most one usable invitation per address and workspace (checked at commit,
                // as the SQL adapter does, so a race is refused too).
                if s.invitations.values().any(|x| {
                    x.workspace_id == i.workspace_id
                        && x.email == i.email
                        && x.usable(i.created_at).is_ok()
                }) {
                    return Err(conflict("pending invitation"));
                }
                s.invitations.insert(i.id, i);
            }
            Change::UpdateInvitation {
                value,
                expected_version,
            } => versioned_update!(s.invitations, value, expected_version, "invitation"),
            Change::InsertJoinRequest(j) => {
                if s.join_requests.values().any(|x| {
                    x.workspace_id == j.workspace_id
                        && x.account_id == j.account_id
                        && x.status == JoinRequestStatus::Pending
                }) {
                    return Err(conflict("pending join request"));
                }
                s.join_requests.insert(j.id, j);
            }
            Change::UpdateJoinRequest {
                value,
                expected_version,
            } => versioned_update!(s.join_requests, value, expected_version, "join request"),
            Change::InsertProduct(p) => {
                s.products.insert(p.id, p);
            }
            Change::InsertPlan(p) => {
                s.plans.insert(p.id, p);
            }
            Change::UpdatePlan {
                value,
                expected_version,
            } => versioned_update!(s.plans, value, expected_version, "plan"),
            Change::InsertProject(p) => {
                let production = |x: &Project| {
                    x.environment == Environment::Production && x.subscription_id.is_some()
                };
                if production(&p)
                    && s.projects
                        .values()
                        .any(|x| production(x) && x.subscription_id == p.subscription_id)
                {
                    return Err(conflict("production project of the subscription"));
                }
                s.projects.insert(p.id, p);
            }
            Change::UpdateProject {
                value,
                expected_version,
            } => versioned_update!(s.projects, value, expected_version, "project"),
            Change::InsertSubscription(x) => {
                if live_duplicate(&s.subscriptions, &x) {
                    return Err(conflict("live subscription of the project to the plan"));
                }
                s.subscriptions.insert(x.id, x);
            }
            Change::UpdateSubscription {
                value,
                expected_version,
            } => {
                if live_duplicate(&s.subscriptions, &value) {
                    return Err(conflict("live subscription of the project to the plan"));
                }
                versioned_update!(s.subscriptions, value, expected_version, "subscription")
            }
            Change::InsertCredential(c) => {
                s.credentials.insert(c.id, c);
            }
            Change::UpdateCredential {
                value,
                expected_version,
            } => versioned_update!(s.credentials, value, expected_version, "credential"),
            Change::InsertAccessToken(t) => {
                s.tokens.insert(t.hash.clone(), t);
            }
            Change::EndAccessTokens(id) => s.tokens.retain(|_, t| t.credential_id != id),
            Change::InsertWebhookEndpoint(e) => {
                s.endpoints.insert(e.id, e);
            }
            Change::UpdateWebhookEndpoint {
                value,
                expected_version,
            } => versioned_update!(s.endpoints, value, expected_version, "webhook endpoint"),
            Change::PutAlertThreshold(t) => {
                s.thresholds.insert(t.id, t);
            }
            Change::FireAlert { threshold, window } => match s.thresholds.get_mut(&threshold) {
                Some(t) if t.last_fired_window.as_deref() != Some(window.as_str()) => {
                    t.last_fired_window = Some(window);
                }
                _ => return Err(StoreError::Conflict("alert threshold".into())),
            },
            Change::DeleteAlertThreshold(id) => {
                s.thresholds.remove(&id);
            }
            Change::RecordPayment(p) => s.payments.push(p),
        }
        Ok(())
    }
}

#[async_trait]
impl UnitOfWork for MemoryStore {
    async fn commit(&self, set: ChangeSet) -> StoreResult<()> {
        let mut guard = self.state.lock().unwrap();
        Self::commit_locked(&mut guard, set)
    }
}

impl MemoryStore {
    /// Applies a change set to locked state: all of it, or (on a conflict) none of it.
    fn commit_locked(state: &mut State, set: ChangeSet) -> StoreResult<()> {
        // Only changes can fail; snapshot when there are some so a conflict half way leaves
        // nothing behind.
        let snapshot = (!set.changes.is_empty()).then(|| clone_state(state));
        for c in set.changes {
            if let Err(e) = Self::apply(state, c) {
                *state = snapshot.expect("snapshot taken when there are changes");
                return Err(e);
            }
        }
        for draft in set.audit {
            let ws = draft.workspace_id;
            let chain = state.audit.entry(ws).or_default();
            let prev = chain.last().map(|e| (e.seq, e.hash.as_str()));
            let sealed = AuditEvent::seal(draft, prev);
            let head = ChainHead::of(&sealed);
            chain.push(sealed);
            state.heads.insert(ws, head);
        }
        state.outbox.extend(set.outbox);
        Ok(())
    }

    /// Every delivery (for tests).
    pub fn all_deliveries(&self) -> Vec<Delivery> {
        self.state
            .lock()
            .unwrap()
            .deliveries
            .values()
            .cloned()
            .collect()
    }
}

fn clone_state(s: &State) -> State {
    State {
        accounts: s.accounts.clone(),
        staff: s.staff.clone(),
        workspaces: s.workspaces.clone(),
        memberships: s.memberships.clone(),
        invitations: s.invitations.clone(),
        join_requests: s.join_requests.clone(),
        products: s.products.clone(),
        plans: s.plans.clone(),
        projects: s.projects.clone(),
        subscriptions: s.subscriptions.clone(),
        credentials: s.credentials.clone(),
        tokens: s.tokens.clone(),
        endpoints: s.endpoints.clone(),
        test_deliveries: s.test_deliveries.clone(),
        thresholds: s.thresholds.clone(),
        payments: s.payments.clone(),
        usage: s.usage.clone(),
        audit: s.audit.clone(),
        heads: s.heads.clone(),
        outbox: s.outbox.clone(),
        dispatched: s.dispatched.clone(),
        deliveries: s.deliveries.clone(),
        attempts: s.attempts.clone(),
        auth_tokens: s.auth_tokens.clone(),
        idempotency: s.idempotency.clone(),
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        Ok(self.state.lock().unwrap().accounts.get(&id).cloned())
    }
    async fn account_by_email(&self, email: &Email) -> StoreResult<Option<Account>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .accounts
            .values()
            .find(|a| &a.email == email)
            .cloned())
    }
    async fn staff(&self, id: StaffId) -> StoreResult<Option<Staff>> {
        Ok(self.state.lock().unwrap().staff.get(&id).cloned())
    }
    async fn staff_by_email(&self, email: &Email) -> StoreResult<Option<Staff>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .staff
            .values()
            .find(|a| &a.email == email)
            .cloned())
    }
    async fn staff_count(&self) -> StoreResult<u64> {
        Ok(self.state.lock().unwrap().staff.len() as u64)
    }
}

#[async_trait]
impl WorkspaceStore for MemoryStore {
    async fn workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        Ok(self.state.lock().unwrap().workspaces.get(&id).cloned())
    }
    async fn members(&self, workspace: WorkspaceId) -> StoreResult<Vec<Membership>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .memberships
            .values()
            .filter(|m| m.workspace_id == workspace)
            .cloned()
            .collect())
    }
    async fn memberships_of(&self, account: AccountId) -> StoreResult<Vec<Membership>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .memberships
            .values()
            .filter(|m| m.account_id == account)
            .cloned()
            .collect())
    }
    async fn invitation(&self, id: InvitationId) -> StoreResult<Option<Invitation>> {
        Ok(self.state.lock().unwrap().invitations.get(&id).cloned())
    }
    async fn invitations(&self, workspace: WorkspaceId) -> StoreResult<Vec<Invitation>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .invitations
            .values()
            .filter(|i| i.workspace_id == workspace)
            .cloned()
            .collect())
    }
    async fn invitations_for(&self, email: &Email) -> StoreResult<Vec<Invitation>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .invitations
            .values()
            .filter(|i| &i.email == email && i.status == InvitationStatus::Pending)
            .cloned()
            .collect())
    }
    async fn join_request(&self, id: JoinRequestId) -> StoreResult<Option<JoinRequest>> {
        Ok(self.state.lock().unwrap().join_requests.get(&id).cloned())
    }
    async fn join_requests(&self, workspace: WorkspaceId) -> StoreResult<Vec<JoinRequest>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .join_requests
            .values()
            .filter(|j| j.workspace_id == workspace)
            .cloned()
            .collect())
    }
    async fn join_requests_of(&self, account: AccountId) -> StoreResult<Vec<JoinRequest>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .join_requests
            .values()
            .filter(|j| j.account_id == account)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl PlanStore for MemoryStore {
    async fn product(&self, id: ProductId) -> StoreResult<Option<ApiProduct>> {
        Ok(self.state.lock().unwrap().products.get(&id).cloned())
    }
    async fn products(&self) -> StoreResult<Vec<ApiProduct>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .products
            .values()
            .cloned()
            .collect())
    }
    async fn plan(&self, id: PlanId) -> StoreResult<Option<Plan>> {
        Ok(self.state.lock().unwrap().plans.get(&id).cloned())
    }
    async fn plans(&self) -> StoreResult<Vec<Plan>> {
        Ok(self.state.lock().unwrap().plans.values().cloned().collect())
    }
}

#[async_trait]
impl ProjectStore for MemoryStore {
    async fn project(&self, id: ProjectId) -> StoreResult<Option<Project>> {
        Ok(self.state.lock().unwrap().projects.get(&id).cloned())
    }
    async fn projects(&self, workspace: WorkspaceId) -> StoreResult<Vec<Project>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .projects
            .values()
            .filter(|p| p.workspace_id == workspace)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl SubscriptionStore for MemoryStore {
    async fn subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>> {
        Ok(self.state.lock().unwrap().subscriptions.get(&id).cloned())
    }
    async fn subscriptions(&self, workspace: WorkspaceId) -> StoreResult<Vec<Subscription>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .subscriptions
            .values()
            .filter(|s| s.workspace_id == workspace)
            .cloned()
            .collect())
    }
    async fn review_queue(
        &self,
        after: Option<QueueCursor>,
        limit: u64,
    ) -> StoreResult<Vec<Subscription>> {
        let s = self.state.lock().unwrap();
        let mut rows: Vec<(QueueCursor, Subscription)> = s
            .subscriptions
            .values()
            .filter_map(|x| match x.phase {
                Phase::InReview { submitted_at, .. } => Some(((submitted_at, x.id), x.clone())),
                _ => None,
            })
            .filter(|(k, _)| after.is_none_or(|a| *k > a))
            .collect();
        rows.sort_by_key(|(k, _)| *k);
        Ok(rows
            .into_iter()
            .take(limit as usize)
            .map(|(_, x)| x)
            .collect())
    }
    async fn inbox(&self, q: &crate::inbox::InboxQuery) -> StoreResult<Vec<Subscription>> {
        let mut rows = self.inbox_rows(q);
        rows.retain(|(k, _)| q.after.is_none_or(|a| *k > a));
        rows.truncate(q.limit as usize);
        Ok(rows.into_iter().map(|(_, x)| x).collect())
    }
    async fn inbox_count(&self, q: &crate::inbox::InboxQuery) -> StoreResult<u64> {
        Ok(self.inbox_rows(q).len() as u64)
    }
}

impl MemoryStore {
    /// Every row the inbox query admits, oldest first.
    fn inbox_rows(&self, q: &crate::inbox::InboxQuery) -> Vec<(QueueCursor, Subscription)> {
        let s = self.state.lock().unwrap();
        let paid = |id| s.payments.iter().any(|p| p.subscription_id == id);
        let mut rows: Vec<_> = s
            .subscriptions
            .values()
            .filter(|x| q.admits(x, paid(x.id)))
            .filter_map(|x| crate::inbox::InboxQuery::key(x).map(|k| (k, x.clone())))
            .collect();
        rows.sort_by_key(|(k, _)| *k);
        rows
    }
}

#[async_trait]
impl CredentialStore for MemoryStore {
    async fn credential(&self, id: CredentialId) -> StoreResult<Option<Credential>> {
        Ok(self.state.lock().unwrap().credentials.get(&id).cloned())
    }
    async fn credentials_of_project(&self, project: ProjectId) -> StoreResult<Vec<Credential>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .credentials
            .values()
            .filter(|c| c.project_id == project)
            .cloned()
            .collect())
    }
    async fn credentials_of_subscription(
        &self,
        subscription: SubscriptionId,
    ) -> StoreResult<Vec<Credential>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .credentials
            .values()
            .filter(|c| c.subscription_id == subscription)
            .cloned()
            .collect())
    }
    async fn find_by_secret_hash(
        &self,
        hash: &SecretHash,
    ) -> StoreResult<Option<(Credential, SecretMatch)>> {
        let s = self.state.lock().unwrap();
        for c in s.credentials.values() {
            if &c.secret.hash == hash {
                return Ok(Some((c.clone(), SecretMatch::Current)));
            }
            if let Some(p) = c.previous.as_ref().filter(|p| &p.hash == hash) {
                return Ok(Some((
                    c.clone(),
                    SecretMatch::Previous {
                        expires_at: p.expires_at,
                    },
                )));
            }
        }
        Ok(s.tokens.get(hash).and_then(|t| {
            s.credentials.get(&t.credential_id).map(|c| {
                (
                    c.clone(),
                    SecretMatch::AccessToken {
                        expires_at: t.expires_at,
                    },
                )
            })
        }))
    }
    async fn find_by_client_id(&self, client_id: &str) -> StoreResult<Option<Credential>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .credentials
            .values()
            .find(|c| matches!(&c.kind, crate::credential::CredentialKind::OauthClient { client_id: id } if id == client_id))
            .cloned())
    }
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn endpoint(&self, id: WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>> {
        Ok(self.state.lock().unwrap().endpoints.get(&id).cloned())
    }
    async fn endpoints(&self, project: ProjectId) -> StoreResult<Vec<WebhookEndpoint>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .endpoints
            .values()
            .filter(|e| e.project_id == project)
            .cloned()
            .collect())
    }
    async fn last_test_delivery(
        &self,
        project: ProjectId,
    ) -> StoreResult<Option<(DateTime<Utc>, bool)>> {
        let recorded = self
            .state
            .lock()
            .unwrap()
            .test_deliveries
            .get(&project)
            .copied();
        let delivered = DeliveryStore::last_test_delivery(self, project).await?;
        // The newest of a hand-recorded result and a real `test` delivery.
        Ok(recorded
            .into_iter()
            .chain(delivered)
            .max_by_key(|(at, _)| *at))
    }
}

#[async_trait]
impl DeliveryStore for MemoryStore {
    async fn undispatched(&self, limit: u64) -> StoreResult<Vec<OutboxMessage>> {
        let s = self.state.lock().unwrap();
        Ok(s.outbox
            .iter()
            .filter(|m| !s.dispatched.contains(&m.id))
            .take(limit as usize)
            .cloned()
            .collect())
    }
    async fn dispatch(&self, fan_outs: Vec<FanOut>, _at: DateTime<Utc>) -> StoreResult<Vec<bool>> {
        let mut s = self.state.lock().unwrap();
        let mut done = Vec::with_capacity(fan_outs.len());
        for f in fan_outs {
            let first = s.dispatched.insert(f.message);
            if first {
                for d in f.deliveries {
                    s.deliveries.insert(d.id, d);
                }
            }
            done.push(first);
        }
        Ok(done)
    }
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_owner: &str,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<Delivery>> {
        let mut s = self.state.lock().unwrap();
        let mut due: Vec<(DateTime<Utc>, DeliveryId)> = s
            .deliveries
            .values()
            .filter(|d| d.is_due(now))
            .map(|d| (d.next_attempt_at.unwrap_or(now), d.id))
            .collect();
        due.sort();
        let mut out = Vec::new();
        for (_, id) in due.into_iter().take(limit as usize) {
            let d = s.deliveries.get_mut(&id).expect("listed above");
            d.lease_owner = Some(lease_owner.to_owned());
            d.lease_until = Some(lease_until);
            out.push(d.clone());
        }
        Ok(out)
    }
    async fn complete_attempts(
        &self,
        records: Vec<AttemptRecord>,
        also: ChangeSet,
    ) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        for record in &records {
            match s.deliveries.get(&record.attempt.delivery_id) {
                Some(d)
                    if d.status == DeliveryStatus::Pending
                        && d.lease_owner.as_deref() == Some(record.lease_owner.as_str())
                        && d.attempts + 1 == record.attempt.attempt => {}
                _ => return Err(conflict("delivery lease")),
            }
        }
        Self::commit_locked(&mut s, also)?;
        for record in records {
            let d = s
                .deliveries
                .get_mut(&record.attempt.delivery_id)
                .expect("checked above");
            d.attempts = record.attempt.attempt;
            d.status = record.status;
            d.next_attempt_at = record.next_attempt_at;
            d.lease_owner = None;
            d.lease_until = None;
            d.last_attempt_at = Some(record.attempt.at);
            d.last_response_status = record.attempt.response_status;
            d.last_error = record.attempt.error.clone();
            s.attempts.push(record.attempt);
        }
        Ok(())
    }
    async fn delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        Ok(self.state.lock().unwrap().deliveries.get(&id).cloned())
    }
    async fn deliveries_of_endpoint(
        &self,
        endpoint: WebhookEndpointId,
        before: Option<DeliveryId>,
        limit: u64,
    ) -> StoreResult<Vec<Delivery>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .deliveries
            .values()
            .rev()
            .filter(|d| d.endpoint_id == endpoint && before.is_none_or(|b| d.id < b))
            .take(limit as usize)
            .cloned()
            .collect())
    }
    async fn attempts_of_endpoint(
        &self,
        endpoint: WebhookEndpointId,
        since: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<DeliveryAttempt>> {
        let mut v: Vec<DeliveryAttempt> = self
            .state
            .lock()
            .unwrap()
            .attempts
            .iter()
            .filter(|a| a.endpoint_id == endpoint && a.at >= since)
            .cloned()
            .collect();
        v.sort_by_key(|a| std::cmp::Reverse(a.at));
        v.truncate(limit as usize);
        Ok(v)
    }
    async fn requeue_failed(
        &self,
        id: DeliveryId,
        at: DateTime<Utc>,
        also: ChangeSet,
    ) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        if s.deliveries
            .get(&id)
            .is_none_or(|d| d.status != DeliveryStatus::Failed)
        {
            return Err(conflict("delivery is not failed"));
        }
        Self::commit_locked(&mut s, also)?;
        let d = s.deliveries.get_mut(&id).expect("checked above");
        d.status = DeliveryStatus::Pending;
        d.next_attempt_at = Some(at);
        d.lease_owner = None;
        d.lease_until = None;
        Ok(())
    }
    async fn last_test_delivery(
        &self,
        project: ProjectId,
    ) -> StoreResult<Option<(DateTime<Utc>, bool)>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .deliveries
            .values()
            .filter(|d| d.project_id == project && d.event_type == EVENT_TEST)
            .filter(|d| d.status != DeliveryStatus::Pending)
            .filter_map(|d| {
                d.last_attempt_at
                    .map(|at| (at, d.status == DeliveryStatus::Succeeded))
            })
            .max_by_key(|(at, _)| *at))
    }
}

#[async_trait]
impl UsageStore for MemoryStore {
    async fn add(&self, buckets: Vec<UsageBucket>) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        for b in buckets {
            let e = s
                .usage
                .entry((b.credential_id, b.endpoint.clone(), b.bucket_start))
                .or_insert_with(|| UsageBucket {
                    requests: 0,
                    errors: 0,
                    ..b.clone()
                });
            e.requests += b.requests;
            e.errors += b.errors;
        }
        Ok(())
    }
    async fn successful_calls(
        &self,
        project: ProjectId,
        endpoints: Vec<String>,
    ) -> StoreResult<u64> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .usage
            .values()
            .filter(|b| b.project_id == project && endpoints.contains(&b.endpoint))
            .map(|b| b.requests - b.errors)
            .sum())
    }
    async fn buckets(
        &self,
        project: ProjectId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<UsageBucket>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .usage
            .values()
            .filter(|b| b.project_id == project && b.bucket_start >= from && b.bucket_start < to)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl AlertStore for MemoryStore {
    async fn thresholds(&self, project: ProjectId) -> StoreResult<Vec<AlertThreshold>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .thresholds
            .values()
            .filter(|t| t.project_id == project)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn events(
        &self,
        workspace: Option<WorkspaceId>,
        after_seq: i64,
        limit: u64,
    ) -> StoreResult<Vec<AuditEvent>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .audit
            .get(&workspace)
            .map(|c| {
                c.iter()
                    .filter(|e| e.seq > after_seq)
                    .take(limit as usize)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }
    async fn chains(&self) -> StoreResult<Vec<Option<WorkspaceId>>> {
        Ok(self.state.lock().unwrap().audit.keys().copied().collect())
    }
    async fn head(&self, workspace: Option<WorkspaceId>) -> StoreResult<Option<ChainHead>> {
        Ok(self.state.lock().unwrap().heads.get(&workspace).cloned())
    }
}

#[async_trait]
impl PaymentGateway for MemoryStore {
    async fn is_paid(&self, subscription: SubscriptionId) -> StoreResult<bool> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .payments
            .iter()
            .any(|p| p.subscription_id == subscription))
    }
}

/// Counts usage straight into the store (no buffering): fine in memory.
impl UsageSink for MemoryStore {
    fn record(&self, event: UsageEvent) {
        let mut s = self.state.lock().unwrap();
        for b in aggregate(&[event]) {
            let e = s
                .usage
                .entry((b.credential_id, b.endpoint.clone(), b.bucket_start))
                .or_insert_with(|| UsageBucket {
                    requests: 0,
                    errors: 0,
                    ..b.clone()
                });
            e.requests += b.requests;
            e.errors += b.errors;
        }
    }
}

#[async_trait]
impl AuthTokenStore for MemoryStore {
    async fn insert_token(&self, token: AuthToken) -> StoreResult<()> {
        self.state
            .lock()
            .unwrap()
            .auth_tokens
            .insert(token.token_hash.clone(), token);
        Ok(())
    }
    async fn find_token(&self, hash: &SecretHash) -> StoreResult<Option<AuthToken>> {
        Ok(self.state.lock().unwrap().auth_tokens.get(hash).cloned())
    }
    async fn delete_token(&self, hash: &SecretHash) -> StoreResult<()> {
        self.state.lock().unwrap().auth_tokens.remove(hash);
        Ok(())
    }
    async fn tokens_of(&self, principal: Principal) -> StoreResult<Vec<AuthToken>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .auth_tokens
            .values()
            .filter(|t| t.principal == principal)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn claim(
        &self,
        hold: &IdempotencyHold,
        request_hash: &str,
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> StoreResult<IdempotencyClaim> {
        let mut s = self.state.lock().unwrap();
        let id = (hold.scope.clone(), hold.key.clone());
        let fresh = IdempotencyRecord {
            request_hash: request_hash.to_owned(),
            run: hold.run.clone(),
            token: Some(hold.token.clone()),
            claimed_at: now,
            committed: None,
            response: None,
        };
        let Some(r) = s.idempotency.get(&id) else {
            s.idempotency.insert(id, fresh);
            return Ok(IdempotencyClaim::Claimed);
        };
        let abandoned = r.token.is_none() || r.claimed_at + lease <= now;
        Ok(if r.request_hash != request_hash {
            IdempotencyClaim::Mismatch
        } else if let Some(resp) = &r.response {
            IdempotencyClaim::Replay(resp.clone())
        } else if !abandoned {
            IdempotencyClaim::InProgress
        } else if let Some(c) = &r.committed {
            IdempotencyClaim::Committed(c.clone())
        } else {
            s.idempotency.insert(id, fresh);
            IdempotencyClaim::Claimed
        })
    }
    async fn commit_claimed(
        &self,
        hold: &IdempotencyHold,
        changes: ChangeSet,
        what: CommittedRequest,
        _at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        let id = (hold.scope.clone(), hold.key.clone());
        let mine = |r: &IdempotencyRecord| r.token.as_ref() == Some(&hold.token);
        if !s.idempotency.get(&id).is_some_and(mine) {
            return Err(conflict("idempotency key claimed by another request"));
        }
        Self::commit_locked(&mut s, changes)?;
        let r = s.idempotency.get_mut(&id).expect("checked above");
        r.committed.get_or_insert(what);
        Ok(())
    }
    async fn complete(&self, hold: &IdempotencyHold, response: StoredResponse) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        if let Some(r) = s
            .idempotency
            .get_mut(&(hold.scope.clone(), hold.key.clone()))
            .filter(|r| r.token.as_ref() == Some(&hold.token))
        {
            r.response = Some(response);
        }
        Ok(())
    }
    async fn release(&self, hold: &IdempotencyHold) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        let id = (hold.scope.clone(), hold.key.clone());
        if s.idempotency
            .get(&id)
            .is_some_and(|r| r.token.as_ref() == Some(&hold.token) && r.committed.is_none())
        {
            s.idempotency.remove(&id);
        }
        Ok(())
    }
    async fn release_run(&self, run: &str) -> StoreResult<u64> {
        let mut s = self.state.lock().unwrap();
        let before = s.idempotency.len();
        s.idempotency
            .retain(|_, r| r.run != run || r.committed.is_some() || r.response.is_some());
        let mut released = (before - s.idempotency.len()) as u64;
        // Committed but unanswered: kept, with nobody holding it (its answer is lost).
        for r in s.idempotency.values_mut() {
            if r.run == run && r.response.is_none() && r.token.take().is_some() {
                released += 1;
            }
        }
        Ok(released)
    }
}

/// Every address may be a webhook's: nothing is delivered from memory. An embedder that
/// delivers passes its delivery guard's policy instead (the server passes its SSRF setting).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyDestination;

impl DestinationPolicy for AnyDestination {
    fn check_ip(&self, _ip: std::net::IpAddr) -> Result<(), String> {
        Ok(())
    }
}

/// A portal over in-memory adapters, with its store and clock for inspection and stepping.
pub fn in_memory_portal(start: DateTime<Utc>) -> (Portal, Arc<MemoryStore>, Arc<ManualClock>) {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start));
    let infra = Infrastructure {
        clock: clock.clone(),
        ids: Arc::new(SequentialIds::default()),
        secrets: Arc::new(DeterministicSecrets::default()),
        passwords: Arc::new(TestPasswordHasher),
        meter: store.clone(),
        vault: Arc::new(TestVault),
        destinations: Arc::new(AnyDestination),
    };
    let ports = Ports::over_store(store.clone(), infra);
    (Portal::new(ports), store, clock)
}
