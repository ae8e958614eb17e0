//! Ports: everything outside the core, as small async traits. Adapters implement them
//! (`storage-seaorm` for the stores, `http-api` for password hashing); tests use the
//! `mockall` mocks (feature `mocks`) or the in-memory adapters of [`crate::memory`].
//!
//! Reads go through one store trait per aggregate. Every state change goes through
//! [`UnitOfWork::commit`]: the change, its audit events and its outbox messages are one
//! [`ChangeSet`], which the adapter applies in one transaction or not at all.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use ulid::Ulid;

use crate::audit::{AuditDraft, AuditEvent};
use crate::billing::Payment;
use crate::credential::{AccessToken, Credential, SecretHash, SecretMatch};
use crate::ids::*;
use crate::pipeline::Subscription;
use crate::plan::{ApiProduct, Plan};
use crate::project::Project;
use crate::usage::{AlertThreshold, UsageBucket};
use crate::values::Email;
use crate::webhook::WebhookEndpoint;
use crate::workspace::{Account, Invitation, JoinRequest, Membership, Staff, Workspace};

/// A storage failure the core can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A version check failed or a unique key is taken: somebody else changed it first.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store could not answer (connection lost, disk full...). The text is for logs only.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The time. Tests use a fixed or steppable clock; nothing in the core reads the system clock.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// New ULIDs for ids.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    fn ulid(&self) -> Ulid;
}

/// Randomness for secrets: `len` characters of base62 from a cryptographic source.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretGenerator: Send + Sync {
    fn base62(&self, len: usize) -> String;
}

/// Password hashing (argon2id in the bundled adapter). Slow by design, so async.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: &str) -> String;
    async fn verify(&self, password: &str, phc_hash: &str) -> bool;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    async fn account_by_email(&self, email: &Email) -> StoreResult<Option<Account>>;
    async fn staff(&self, id: StaffId) -> StoreResult<Option<Staff>>;
    async fn staff_by_email(&self, email: &Email) -> StoreResult<Option<Staff>>;
    async fn staff_count(&self) -> StoreResult<u64>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WorkspaceStore: Send + Sync {
    async fn workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>>;
    async fn members(&self, workspace: WorkspaceId) -> StoreResult<Vec<Membership>>;
    async fn memberships_of(&self, account: AccountId) -> StoreResult<Vec<Membership>>;
    async fn invitation(&self, id: InvitationId) -> StoreResult<Option<Invitation>>;
    async fn invitations(&self, workspace: WorkspaceId) -> StoreResult<Vec<Invitation>>;
    /// Pending invitations sent to this address, in any workspace.
    async fn invitations_for(&self, email: &Email) -> StoreResult<Vec<Invitation>>;
    async fn join_request(&self, id: JoinRequestId) -> StoreResult<Option<JoinRequest>>;
    async fn join_requests(&self, workspace: WorkspaceId) -> StoreResult<Vec<JoinRequest>>;
    async fn join_requests_of(&self, account: AccountId) -> StoreResult<Vec<JoinRequest>>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PlanStore: Send + Sync {
    async fn product(&self, id: ProductId) -> StoreResult<Option<ApiProduct>>;
    async fn products(&self) -> StoreResult<Vec<ApiProduct>>;
    async fn plan(&self, id: PlanId) -> StoreResult<Option<Plan>>;
    async fn plans(&self) -> StoreResult<Vec<Plan>>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectStore: Send + Sync {
    async fn project(&self, id: ProjectId) -> StoreResult<Option<Project>>;
    async fn projects(&self, workspace: WorkspaceId) -> StoreResult<Vec<Project>>;
}

/// A position in the go-live queue: (submitted at, id) of the last row seen.
pub type QueueCursor = (DateTime<Utc>, SubscriptionId);

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    async fn subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>>;
    async fn subscriptions(&self, workspace: WorkspaceId) -> StoreResult<Vec<Subscription>>;
    /// `in_review` subscriptions, oldest submission first, after the cursor (keyset paging).
    async fn review_queue(
        &self,
        after: Option<QueueCursor>,
        limit: u64,
    ) -> StoreResult<Vec<Subscription>>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CredentialStore: Send + Sync {
    async fn credential(&self, id: CredentialId) -> StoreResult<Option<Credential>>;
    async fn credentials_of_project(&self, project: ProjectId) -> StoreResult<Vec<Credential>>;
    async fn credentials_of_subscription(
        &self,
        subscription: SubscriptionId,
    ) -> StoreResult<Vec<Credential>>;
    /// The credential whose current secret, rotated-out secret or access token has this hash.
    async fn find_by_secret_hash(
        &self,
        hash: &SecretHash,
    ) -> StoreResult<Option<(Credential, SecretMatch)>>;
    async fn find_by_client_id(&self, client_id: &str) -> StoreResult<Option<Credential>>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn endpoint(&self, id: WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>>;
    async fn endpoints(&self, project: ProjectId) -> StoreResult<Vec<WebhookEndpoint>>;
    /// The latest signed test delivery to any endpoint of the project: when, and whether it succeeded.
    async fn last_test_delivery(
        &self,
        project: ProjectId,
    ) -> StoreResult<Option<(DateTime<Utc>, bool)>>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds the buckets' counts to the stored counters (an upsert per bucket).
    async fn add(&self, buckets: Vec<UsageBucket>) -> StoreResult<()>;
    /// Successful calls of the project's credentials on any of these endpoints.
    async fn successful_calls(
        &self,
        project: ProjectId,
        endpoints: Vec<String>,
    ) -> StoreResult<u64>;
    /// Minute buckets of a project in `[from, to)`.
    async fn buckets(
        &self,
        project: ProjectId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<UsageBucket>>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AlertStore: Send + Sync {
    async fn thresholds(&self, project: ProjectId) -> StoreResult<Vec<AlertThreshold>>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Events of one chain (a workspace's, or the provider's with `None`) after `after_seq`.
    async fn events(
        &self,
        workspace: Option<WorkspaceId>,
        after_seq: i64,
        limit: u64,
    ) -> StoreResult<Vec<AuditEvent>>;
    /// Every chain that has events: `None` is the provider chain.
    async fn chains(&self) -> StoreResult<Vec<Option<WorkspaceId>>>;
}

/// Payment status. The bundled adapter reads payments an admin confirmed; a processor plugs in here.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    async fn is_paid(&self, subscription: SubscriptionId) -> StoreResult<bool>;
}

/// A message for the webhook outbox, written in the same transaction as the change that raised it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub id: MessageId,
    pub workspace_id: WorkspaceId,
    pub project_id: Option<ProjectId>,
    /// `subscription.approved`, `credential.rotated`, ...
    pub event_type: String,
    pub payload: Value,
    /// For `endpoint.verification` and `test` events: the one endpoint to deliver to. Other
    /// events go to every enabled endpoint of the project subscribed to the event type.
    pub target_endpoint: Option<WebhookEndpointId>,
    pub created_at: DateTime<Utc>,
}

/// One change to stored state. Updates carry the version they expect; the stored version
/// becomes `expected_version + 1` (the value's own `version` is set to that by the service).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    InsertAccount(Account),
    InsertStaff(Staff),
    InsertWorkspace(Workspace),
    UpdateWorkspace {
        value: Workspace,
        expected_version: i64,
    },
    PutMembership(Membership),
    RemoveMembership {
        workspace_id: WorkspaceId,
        account_id: AccountId,
    },
    InsertInvitation(Invitation),
    UpdateInvitation {
        value: Invitation,
        expected_version: i64,
    },
    InsertJoinRequest(JoinRequest),
    UpdateJoinRequest {
        value: JoinRequest,
        expected_version: i64,
    },
    InsertProduct(ApiProduct),
    InsertPlan(Plan),
    UpdatePlan {
        value: Plan,
        expected_version: i64,
    },
    InsertProject(Project),
    UpdateProject {
        value: Project,
        expected_version: i64,
    },
    InsertSubscription(Subscription),
    UpdateSubscription {
        value: Subscription,
        expected_version: i64,
    },
    InsertCredential(Credential),
    UpdateCredential {
        value: Credential,
        expected_version: i64,
    },
    InsertAccessToken(AccessToken),
    InsertWebhookEndpoint(WebhookEndpoint),
    UpdateWebhookEndpoint {
        value: WebhookEndpoint,
        expected_version: i64,
    },
    PutAlertThreshold(AlertThreshold),
    DeleteAlertThreshold(AlertThresholdId),
    RecordPayment(Payment),
}

/// Everything one use case writes: applied atomically, or not at all.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangeSet {
    pub changes: Vec<Change>,
    pub audit: Vec<AuditDraft>,
    pub outbox: Vec<OutboxMessage>,
}

/// Applies a change set in one transaction, sealing its audit drafts into their chains.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()>;
}

/// Where counted calls go. Non-blocking: the bundled adapter buffers in memory and flushes
/// batched upserts to the [`UsageStore`]; the hot path never waits on the database.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait UsageSink: Send + Sync {
    fn record(&self, event: crate::usage::UsageEvent);
}

/// Who a session or personal access token signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Principal {
    Account(AccountId),
    Staff(StaffId),
}

/// A browser session (cookie) or a personal access token (bearer). Only the token's hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthToken {
    pub token_hash: crate::credential::SecretHash,
    pub principal: Principal,
    pub kind: AuthTokenKind,
    /// A label for personal access tokens ("CI deploy"); empty for sessions.
    pub name: String,
    /// The CSRF token of a browser session (compared in constant time by the web adapter).
    pub csrf_token: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthTokenKind {
    Session,
    PersonalAccessToken,
}

/// Sessions and personal access tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuthTokenStore: Send + Sync {
    async fn insert_token(&self, token: AuthToken) -> StoreResult<()>;
    async fn find_token(
        &self,
        hash: &crate::credential::SecretHash,
    ) -> StoreResult<Option<AuthToken>>;
    async fn delete_token(&self, hash: &crate::credential::SecretHash) -> StoreResult<()>;
    async fn tokens_of(&self, principal: Principal) -> StoreResult<Vec<AuthToken>>;
}

/// A stored response for an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    /// The `Location` header of a 201, if any.
    pub location: Option<String>,
}

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First use: go ahead, then call [`IdempotencyStore::complete`] (or `release` on failure).
    Claimed,
    /// Same key, same request, already answered: replay this.
    Replay(StoredResponse),
    /// Same key, same request, still being processed by another call.
    InProgress,
    /// Same key used with a different request.
    Mismatch,
}

/// Idempotency keys, scoped per caller (`scope` is the principal's id).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Atomically claims `(scope, key)` for a request whose fingerprint is `request_hash`.
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyClaim>;
    async fn complete(&self, scope: &str, key: &str, response: StoredResponse) -> StoreResult<()>;
    /// Forgets a claim whose request failed without a response worth replaying.
    async fn release(&self, scope: &str, key: &str) -> StoreResult<()>;
}

/// Encrypts secrets that must be used again later (webhook signing secrets). The bundled
/// adapter uses an AEAD with the operator's key; only sealed text reaches the database.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretVault: Send + Sync {
    fn seal(&self, plaintext: &str) -> String;
    /// `None` when the text was not sealed with this vault's key (or was tampered with).
    fn open(&self, sealed: &str) -> Option<String>;
}

/// Webhook deliveries (issue 5): the outbox fanned out into one delivery per endpoint, claimed
/// by workers under a lease, settled attempt by attempt. Writes that also change an endpoint
/// (verified, failing, disabled) or raise audit events take that [`ChangeSet`] along and apply
/// it in the same transaction, exactly as [`UnitOfWork::commit`] would.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Outbox messages not yet fanned out, oldest first.
    async fn undispatched(&self, limit: u64) -> StoreResult<Vec<OutboxMessage>>;
    /// Marks the message dispatched and inserts its deliveries, atomically. `Ok(false)` when
    /// it was already dispatched (another dispatcher won; nothing is inserted).
    async fn dispatch(
        &self,
        message: MessageId,
        deliveries: Vec<crate::webhook::Delivery>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Leases up to `limit` due deliveries (pending, `next_attempt_at <= now`, no live lease)
    /// to `lease_owner` until `lease_until`, oldest due first. On PostgreSQL:
    /// `FOR UPDATE SKIP LOCKED`; elsewhere a conditional update of the lease columns.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_owner: &str,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<crate::webhook::Delivery>>;
    /// Stores the attempt, moves the delivery to its next state, releases the lease and
    /// applies `also`, in one transaction. `Conflict` when `lease_owner` no longer holds the
    /// delivery (its lease expired and another worker claimed it): nothing is written.
    async fn complete_attempt(
        &self,
        record: crate::webhook::AttemptRecord,
        also: ChangeSet,
    ) -> StoreResult<()>;
    async fn delivery(&self, id: DeliveryId) -> StoreResult<Option<crate::webhook::Delivery>>;
    /// Deliveries of an endpoint, newest first, before the cursor (keyset paging).
    async fn deliveries_of_endpoint(
        &self,
        endpoint: WebhookEndpointId,
        before: Option<DeliveryId>,
        limit: u64,
    ) -> StoreResult<Vec<crate::webhook::Delivery>>;
    /// Attempts of an endpoint at or after `since`, newest first, at most `limit`.
    async fn attempts_of_endpoint(
        &self,
        endpoint: WebhookEndpointId,
        since: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<crate::webhook::DeliveryAttempt>>;
    /// Puts a failed delivery back in the queue, due at `at`, with `also` (its audit event).
    /// `Conflict` unless the delivery is `failed`.
    async fn requeue_failed(
        &self,
        id: DeliveryId,
        at: DateTime<Utc>,
        also: ChangeSet,
    ) -> StoreResult<()>;
    /// The latest settled `test` delivery of any endpoint of the project: when it was last
    /// attempted, and whether it succeeded. What [`WebhookStore::last_test_delivery`] answers.
    async fn last_test_delivery(
        &self,
        project: ProjectId,
    ) -> StoreResult<Option<(DateTime<Utc>, bool)>>;
}
