//! In-memory adapters of every port: for the examples, for embedding the core in a test of
//! your own, and for the core's property tests. State lives in one `Mutex`, so a
//! [`ChangeSet`] is applied atomically exactly as a database transaction would: all of it,
//! or (on a version conflict) none of it.
//!
//! These are not for production: [`TestPasswordHasher`] is a fast salted SHA-256 so that
//! tests stay quick, where the server uses argon2id.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::audit::{AuditEvent, ChainHead};
use crate::billing::Payment;
use crate::credential::{AccessToken, Credential, SecretHash};
use crate::ids::*;
use crate::pipeline::Subscription;
use crate::plan::{ApiProduct, Plan};
use crate::ports::*;
use crate::project::Project;
use crate::services::{Infrastructure, Portal, Ports};
use crate::usage::{AlertThreshold, UsageBucket};
use crate::webhook::{Delivery, DeliveryAttempt, WebhookEndpoint};
use crate::workspace::{Account, Invitation, JoinRequest, Membership, Staff, Workspace};

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

mod accounts;
mod audit;
mod catalog;
mod commit;
mod credentials;
mod idempotency;
mod infra;
mod metering;
mod webhooks;

pub use infra::{
    AnyDestination, DeterministicSecrets, ManualClock, SequentialIds, TestPasswordHasher, TestVault,
};

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
