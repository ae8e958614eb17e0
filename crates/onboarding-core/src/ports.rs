//! Ports: everything outside the core, as small async traits. Adapters implement them
//! (`storage-seaorm` for the stores, `http-api` for password hashing); tests use the
//! `mockall` mocks (feature `mocks`) or the in-memory adapters of [`crate::memory`].
//!
//! Reads go through one store trait per aggregate. Every state change goes through
//! [`UnitOfWork::commit`]: the change, its audit events and its outbox messages are one
//! [`ChangeSet`], which the adapter applies in one transaction or not at all.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use ulid::Ulid;

use crate::audit::{AuditDraft, AuditEvent, ChainHead};
use crate::billing::Payment;
use crate::credential::{AccessToken, Credential, SecretHash, SecretMatch};
use crate::ids::*;
use crate::pipeline::{PhaseKind, Subscription};
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

/// The result of every store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// The time. Tests use a fixed or steppable clock; nothing in the core reads the system clock.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current time, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// New ULIDs for ids.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A fresh ULID, unique and increasing with time.
    fn ulid(&self) -> Ulid;
}

/// Randomness for secrets: `len` characters of base62 from a cryptographic source.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretGenerator: Send + Sync {
    /// `len` random base62 characters (`[0-9A-Za-z]`) from a cryptographic source.
    fn base62(&self, len: usize) -> String;
}

/// Password hashing (argon2id in the bundled adapter). Slow by design, so async.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a password into a PHC string (`$argon2id$...`), salted.
    async fn hash(&self, password: &str) -> String;
    /// Whether `password` matches a PHC hash made by [`hash`](Self::hash); `false` for a malformed
    /// hash.
    async fn verify(&self, password: &str, phc_hash: &str) -> bool;
}

/// Accounts and the provider's staff directory.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The account with this id, if any.
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    /// The account signed up with this (normalized) e-mail, if any.
    async fn account_by_email(&self, email: &Email) -> StoreResult<Option<Account>>;
    /// The staff member with this id, if any.
    async fn staff(&self, id: StaffId) -> StoreResult<Option<Staff>>;
    /// The staff member with this (normalized) e-mail, if any.
    async fn staff_by_email(&self, email: &Email) -> StoreResult<Option<Staff>>;
    /// How many staff members exist; zero means the portal still needs its first admin.
    async fn staff_count(&self) -> StoreResult<u64>;
}

/// Workspaces, their memberships, invitations and join requests.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WorkspaceStore: Send + Sync {
    /// The workspace with this id, if any.
    async fn workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>>;
    /// Every membership (member and role set) of the workspace.
    async fn members(&self, workspace: WorkspaceId) -> StoreResult<Vec<Membership>>;
    /// Every workspace membership of the account: what the access page and the workspace switcher
    /// list.
    async fn memberships_of(&self, account: AccountId) -> StoreResult<Vec<Membership>>;
    /// The invitation with this id, if any.
    async fn invitation(&self, id: InvitationId) -> StoreResult<Option<Invitation>>;
    /// Every invitation of the workspace, in any state (pending, accepted, revoked, expired).
    async fn invitations(&self, workspace: WorkspaceId) -> StoreResult<Vec<Invitation>>;
    /// Pending invitations sent to this address, in any workspace.
    async fn invitations_for(&self, email: &Email) -> StoreResult<Vec<Invitation>>;
    /// The join request with this id, if any.
    async fn join_request(&self, id: JoinRequestId) -> StoreResult<Option<JoinRequest>>;
    /// Every join request to the workspace, in any state.
    async fn join_requests(&self, workspace: WorkspaceId) -> StoreResult<Vec<JoinRequest>>;
    /// Every join request the account made, in any workspace (its `awaiting_attachment` state reads
    /// them).
    async fn join_requests_of(&self, account: AccountId) -> StoreResult<Vec<JoinRequest>>;
}

/// The provider's catalog: API products and their plans.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PlanStore: Send + Sync {
    /// The API product with this id, if any.
    async fn product(&self, id: ProductId) -> StoreResult<Option<ApiProduct>>;
    /// Every API product.
    async fn products(&self) -> StoreResult<Vec<ApiProduct>>;
    /// The plan with this id, if any.
    async fn plan(&self, id: PlanId) -> StoreResult<Option<Plan>>;
    /// Every plan of every product.
    async fn plans(&self) -> StoreResult<Vec<Plan>>;
    /// The plan's endpoints, for the forward-auth hot path only: it names the endpoint a call
    /// is counted on and decides nothing, so an adapter may answer from a cache that lags a
    /// change made on another replica by a moment (the bundled server: at most a second).
    async fn plan_endpoints(&self, id: PlanId) -> StoreResult<Option<Arc<[String]>>> {
        Ok(self.plan(id).await?.map(|p| p.endpoints.into()))
    }
}

/// Projects (sandbox and production workloads).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// The project with this id, if any.
    async fn project(&self, id: ProjectId) -> StoreResult<Option<Project>>;
    /// Every project of the workspace, sandbox and production.
    async fn projects(&self, workspace: WorkspaceId) -> StoreResult<Vec<Project>>;
}

/// A position in the go-live queue: (submitted at, id) of the last row seen.
pub type QueueCursor = (DateTime<Utc>, SubscriptionId);

/// Subscriptions and the go-live queue.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// The subscription with this id, if any.
    async fn subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>>;
    /// The plan and phase of the subscription, for the verification hot path only: the answer
    /// there reports them, it decides nothing by them (a credential's own state does). So an
    /// adapter may answer from a cache that lags a change made on another replica by a
    /// moment (the bundled server: at most a second); every other use case reads
    /// [`subscription`](Self::subscription).
    async fn plan_and_phase(&self, id: SubscriptionId) -> StoreResult<Option<(PlanId, PhaseKind)>> {
        Ok(self
            .subscription(id)
            .await?
            .map(|s| (s.plan_id, s.phase.kind())))
    }
    /// Every subscription of the workspace, in any phase.
    async fn subscriptions(&self, workspace: WorkspaceId) -> StoreResult<Vec<Subscription>>;
    /// `in_review` subscriptions, oldest submission first, after the cursor (keyset paging).
    async fn review_queue(
        &self,
        after: Option<QueueCursor>,
        limit: u64,
    ) -> StoreResult<Vec<Subscription>>;
    /// One staff inbox queue, oldest first by (waiting since, id), after the query's cursor:
    /// the subscriptions [`InboxQuery::admits`](crate::inbox::InboxQuery::admits).
    async fn inbox(&self, query: &crate::inbox::InboxQuery) -> StoreResult<Vec<Subscription>>;
    /// How many subscriptions the query admits (its cursor and limit ignored).
    async fn inbox_count(&self, query: &crate::inbox::InboxQuery) -> StoreResult<u64>;
}

/// API keys and OAuth clients (only secret hashes are stored).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// The credential with this id, if any.
    async fn credential(&self, id: CredentialId) -> StoreResult<Option<Credential>>;
    /// The project and environment of the credential with this id, if it exists: facts fixed
    /// when the credential is created. Usage ingestion reads only these, so an adapter may
    /// answer them from a cache (the bundled server does); every other use case reads
    /// [`credential`](Self::credential).
    async fn credential_scope(
        &self,
        id: CredentialId,
    ) -> StoreResult<Option<(ProjectId, crate::project::Environment)>> {
        Ok(self
            .credential(id)
            .await?
            .map(|c| (c.project_id, c.environment)))
    }
    /// Every credential owned by the project, in any state (active, revoked, expired).
    async fn credentials_of_project(&self, project: ProjectId) -> StoreResult<Vec<Credential>>;
    /// Every credential created under the subscription, in any state.
    async fn credentials_of_subscription(
        &self,
        subscription: SubscriptionId,
    ) -> StoreResult<Vec<Credential>>;
    /// The credential whose current secret, rotated-out secret or access token has this hash.
    async fn find_by_secret_hash(
        &self,
        hash: &SecretHash,
    ) -> StoreResult<Option<(Credential, SecretMatch)>>;
    /// The OAuth client with this public client id (`client_...`), if any.
    async fn find_by_client_id(&self, client_id: &str) -> StoreResult<Option<Credential>>;
}

/// Webhook endpoints of projects.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// The webhook endpoint with this id, if any.
    async fn endpoint(&self, id: WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>>;
    /// Every webhook endpoint registered on the project.
    async fn endpoints(&self, project: ProjectId) -> StoreResult<Vec<WebhookEndpoint>>;
    /// The latest signed test delivery to any endpoint of the project: when, and whether it succeeded.
    async fn last_test_delivery(
        &self,
        project: ProjectId,
    ) -> StoreResult<Option<(DateTime<Utc>, bool)>>;
}

/// Usage counters, per credential, endpoint and minute bucket.
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

/// Alert thresholds on a project's usage and spend.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Every alert threshold of the project.
    async fn thresholds(&self, project: ProjectId) -> StoreResult<Vec<AlertThreshold>>;
}

/// Which addresses webhook deliveries may reach: the operator's SSRF setting. Registration
/// asks it about literal IP hosts, so an endpoint that could never be delivered to is refused
/// when it is saved; names are checked by the delivery client once resolved.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait DestinationPolicy: Send + Sync {
    /// `Err(why)` ("a loopback address") when deliveries to `ip` are refused.
    fn check_ip(&self, ip: std::net::IpAddr) -> Result<(), String>;
}

/// Reads of the audit log; writes go through [`UnitOfWork::commit`], which seals drafts into their
/// chains.
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
    /// Every chain that has events or a head: `None` is the provider chain.
    async fn chains(&self) -> StoreResult<Vec<Option<WorkspaceId>>>;
    /// The chain's head as recorded with its last append, `None` for a chain never written.
    async fn head(&self, workspace: Option<WorkspaceId>) -> StoreResult<Option<ChainHead>>;
}

/// Payment status. The bundled adapter reads payments an admin confirmed; a processor plugs in here.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Whether the subscription's plan is paid for: paid plans lock production credentials until it
    /// is.
    async fn is_paid(&self, subscription: SubscriptionId) -> StoreResult<bool>;
}

/// A message for the webhook outbox, written in the same transaction as the change that raised it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// The message's ULID; also the `webhook-id` of every delivery it fans out to, so receivers can
    /// deduplicate.
    pub id: MessageId,
    /// The workspace the event belongs to.
    pub workspace_id: WorkspaceId,
    /// The project whose endpoints receive it; `None` for a workspace-level event.
    pub project_id: Option<ProjectId>,
    /// `subscription.approved`, `credential.rotated`, ...
    pub event_type: String,
    /// The event's JSON body, as delivered (and signed).
    pub payload: Value,
    /// For `endpoint.verification` and `test` events: the one endpoint to deliver to. Other
    /// events go to every enabled endpoint of the project subscribed to the event type.
    pub target_endpoint: Option<WebhookEndpointId>,
    /// When the change that raised it was committed.
    pub created_at: DateTime<Utc>,
}

/// One change to stored state. Updates carry the version they expect; the stored version
/// becomes `expected_version + 1` (the value's own `version` is set to that by the service).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new account (sign-up).
    InsertAccount(Account),
    /// A new provider staff member.
    InsertStaff(Staff),
    /// A new workspace.
    InsertWorkspace(Workspace),
    /// Replace a workspace (rename, billing owner, audit contact, security owner).
    UpdateWorkspace {
        /// The new value.
        value: Workspace,
        /// The version read before the change; the update is refused as a conflict if it moved.
        expected_version: i64,
    },
    /// Insert or replace a membership (joining, or a changed role set).
    PutMembership(Membership),
    /// Remove a member from a workspace.
    RemoveMembership {
        /// The workspace left.
        workspace_id: WorkspaceId,
        /// The member removed.
        account_id: AccountId,
    },
    /// A new invitation.
    InsertInvitation(Invitation),
    /// Replace an invitation (accepted, revoked).
    UpdateInvitation {
        /// The new value.
        value: Invitation,
        /// The version read before the change; the update is refused as a conflict if it moved.
        expected_version: i64,
    },
    /// A new join request.
    InsertJoinRequest(JoinRequest),
    /// Replace a join request (approved, declined).
    UpdateJoinRequest {
        /// The new value.
        value: JoinRequest,
        /// The version read before the change; the update is refused as a conflict if it moved.
        expected_version: i64,
    },
    /// A new API product.
    InsertProduct(ApiProduct),
    /// A new plan.
    InsertPlan(Plan),
    /// Replace a plan (test data, form, pricing, gates).
    UpdatePlan {
        /// The new value.
        value: Plan,
        /// The version read before the change; the update is refused as a conflict if it moved.
        expected_version: i64,
    },
    /// A new project (created, or cloned to production).
    InsertProject(Project),
    /// Replace a project (shape, first live operating pass).
    UpdateProject {
        /// The new value.
        value: Project,
        /// The version read before the change; the update is refused as a conflict if it moved.
        expected_version: i64,
    },
    /// A new subscription.
    InsertSubscription(Subscription),
    /// Replace a subscription: a pipeline transition, a sign-off or a sandbox access decision.
    UpdateSubscription {
        /// The new value.
        value: Subscription,
        /// The version read before the change; of two concurrent reviewers, only the first matches.
        expected_version: i64,
    },
    /// A new credential (its secret hash only).
    InsertCredential(Credential),
    /// Replace a credential (rotated, regenerated, revoked).
    UpdateCredential {
        /// The new value.
        value: Credential,
        /// The version read before the change; the update is refused as a conflict if it moved.
        expected_version: i64,
    },
    /// A new OAuth bearer token issued with the client-credentials grant (its hash only).
    InsertAccessToken(AccessToken),
    /// Every access token the credential obtained stops working: its secret was regenerated
    /// or it was revoked, so what the old secret minted must not outlive it.
    EndAccessTokens(CredentialId),
    /// A new webhook endpoint.
    InsertWebhookEndpoint(WebhookEndpoint),
    /// Replace a webhook endpoint (verified, secret rotated, disabled).
    UpdateWebhookEndpoint {
        /// The new value.
        value: WebhookEndpoint,
        /// The version read before the change; the update is refused as a conflict if it moved.
        expected_version: i64,
    },
    /// Insert or replace an alert threshold.
    PutAlertThreshold(AlertThreshold),
    /// Record that a threshold fired in `window`, only if it has not fired there yet: `Conflict`
    /// otherwise (another replica raised the alert first), so the change set's alert event and
    /// webhook event are written once per window across replicas.
    FireAlert {
        /// The threshold.
        threshold: AlertThresholdId,
        /// The window it fires in (`2026-11-22` or `2026-11`).
        window: String,
    },
    /// Delete an alert threshold.
    DeleteAlertThreshold(AlertThresholdId),
    /// Record a confirmed payment.
    RecordPayment(Payment),
}

/// A row kept under optimistic concurrency: every update names the version it read, and the
/// stored row takes the next one.
pub trait Versioned: Clone {
    /// The version this value was read at (or will be written at).
    fn version(&self) -> i64;
    /// Sets the version this value will be stored with.
    fn set_version(&mut self, version: i64);
    /// The change that stores this value over the row at `expected_version`.
    fn into_update(self, expected_version: i64) -> Change;
}

macro_rules! versioned {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl Versioned for $ty {
            fn version(&self) -> i64 {
                self.version
            }
            fn set_version(&mut self, version: i64) {
                self.version = version;
            }
            fn into_update(self, expected_version: i64) -> Change {
                Change::$variant { value: self, expected_version }
            }
        }
    )*};
}

versioned! {
    Workspace => UpdateWorkspace,
    Invitation => UpdateInvitation,
    JoinRequest => UpdateJoinRequest,
    Plan => UpdatePlan,
    Project => UpdateProject,
    Subscription => UpdateSubscription,
    Credential => UpdateCredential,
    WebhookEndpoint => UpdateWebhookEndpoint,
}

/// Everything one use case writes: applied atomically, or not at all.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangeSet {
    /// The state changes, applied in order.
    pub changes: Vec<Change>,
    /// The audit events of those changes; the adapter seals each into its workspace's chain.
    pub audit: Vec<AuditDraft>,
    /// The webhook events those changes raise, for the delivery outbox.
    pub outbox: Vec<OutboxMessage>,
}

/// Applies a change set in one transaction, sealing its audit drafts into their chains.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    /// Applies every change, audit event and outbox message, or none; `Conflict` if any expected
    /// version moved.
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()>;
}

/// Where counted calls go. Non-blocking: the bundled adapter buffers in memory and flushes
/// batched upserts to the [`UsageStore`]; the hot path never waits on the database.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait UsageSink: Send + Sync {
    /// Counts one verified call; must not block (the hot path calls it).
    fn record(&self, event: crate::usage::UsageEvent);
}

/// Who a session or personal access token signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Principal {
    /// A member of workspaces (consumer side).
    Account(AccountId),
    /// Provider staff (admin or reviewer).
    Staff(StaffId),
}

/// A browser session (cookie) or a personal access token (bearer). Only the token's hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthToken {
    /// The SHA-256 of the token: the bearer value itself is never stored.
    pub token_hash: crate::credential::SecretHash,
    /// Who the token signs in.
    pub principal: Principal,
    /// Browser session or personal access token.
    pub kind: AuthTokenKind,
    /// A label for personal access tokens ("CI deploy"); empty for sessions.
    pub name: String,
    /// The CSRF token of a browser session (compared in constant time by the web adapter).
    pub csrf_token: Option<String>,
    /// When the token was issued.
    pub created_at: DateTime<Utc>,
    /// After this instant the token is refused.
    pub expires_at: DateTime<Utc>,
}

/// What kind of sign-in an [`AuthToken`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthTokenKind {
    /// A browser session, carried in a cookie and protected by a CSRF token.
    Session,
    /// A named token for scripts and CI, sent as a bearer token.
    PersonalAccessToken,
}

/// Sessions and personal access tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuthTokenStore: Send + Sync {
    /// Stores a new token.
    async fn insert_token(&self, token: AuthToken) -> StoreResult<()>;
    /// The token with this hash, if any (expired ones included: the caller checks `expires_at`).
    async fn find_token(
        &self,
        hash: &crate::credential::SecretHash,
    ) -> StoreResult<Option<AuthToken>>;
    /// Deletes the token (sign-out, or revoking a personal access token).
    async fn delete_token(&self, hash: &crate::credential::SecretHash) -> StoreResult<()>;
    /// Every token of the principal, for listing personal access tokens.
    async fn tokens_of(&self, principal: Principal) -> StoreResult<Vec<AuthToken>>;
}

/// A stored response for an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status of the first response (replayed as is).
    pub status: u16,
    /// The response body of the first response.
    pub body: String,
    /// The `Location` header of a 201, if any.
    pub location: Option<String>,
}

/// How long an unanswered claim protects its key: past it, with nothing committed, the claim
/// is abandoned (its holder died) and the next request with the key runs (docs/decisions/0016).
pub const IDEMPOTENCY_LEASE_SECONDS: i64 = 30;

/// One request's hold on an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyHold {
    /// The caller's scope (the principal's id, or the gateway's).
    pub scope: String,
    /// The client's `Idempotency-Key`.
    pub key: String,
    /// The server run that claimed it: a restarted server releases its previous run's claims.
    pub run: String,
    /// Unique to this claim: only its holder commits under it, answers or releases it.
    pub token: String,
}

/// What a claimed request committed, named to a retry whose answer was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedRequest {
    /// The audit action of the commit (`subscription.created`).
    pub action: String,
    /// The id of what it created or changed.
    pub target: String,
}

impl CommittedRequest {
    /// The first audit event of a change set names what it did.
    pub fn of(set: &ChangeSet) -> Self {
        set.audit.first().map_or(
            Self {
                action: String::new(),
                target: String::new(),
            },
            |a| Self {
                action: a.action.clone(),
                target: a.target.clone(),
            },
        )
    }
}

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First use, or an abandoned claim taken over: go ahead, commit through
    /// [`IdempotencyStore::commit_claimed`], then `complete` (or `release` on failure).
    Claimed,
    /// Same key, same request, already answered: replay this.
    Replay(StoredResponse),
    /// Same key, same request, still being processed by a live holder (its lease holds; it
    /// may have committed, its answer on the way).
    InProgress,
    /// Same key, same request: it committed, but its holder is gone (its lease passed, or its
    /// run was released) and its answer was never stored. It must not run again.
    Committed(CommittedRequest),
    /// Same key used with a different request.
    Mismatch,
}

/// Idempotency keys, scoped per caller (`scope` is the principal's id).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Atomically claims `(hold.scope, hold.key)` for a request whose fingerprint is
    /// `request_hash`. An unanswered claim nobody holds any more (its `lease` passed by `now`,
    /// or its run was released) is taken over when nothing committed under it.
    async fn claim(
        &self,
        hold: &IdempotencyHold,
        request_hash: &str,
        now: DateTime<Utc>,
        lease: chrono::TimeDelta,
    ) -> StoreResult<IdempotencyClaim>;
    /// [`UnitOfWork::commit`], and in the same transaction marks the claim committed (naming
    /// `what`); `Conflict` and nothing applied when `hold` no longer holds the claim.
    async fn commit_claimed(
        &self,
        hold: &IdempotencyHold,
        changes: ChangeSet,
        what: CommittedRequest,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Stores the response of a claimed request, so retries with the same key replay it (a
    /// no-op when `hold` no longer holds the claim).
    async fn complete(&self, hold: &IdempotencyHold, response: StoredResponse) -> StoreResult<()>;
    /// Forgets a claim whose request failed without committing anything (a no-op when `hold`
    /// no longer holds it, or when it committed).
    async fn release(&self, hold: &IdempotencyHold) -> StoreResult<()>;
    /// Server run `run` has stopped: forgets its claims that neither committed nor were
    /// answered, and lets go of those that committed unanswered. Answers how many.
    async fn release_run(&self, run: &str) -> StoreResult<u64>;
}

/// Encrypts secrets that must be used again later (webhook signing secrets). The bundled
/// adapter uses an AEAD with the operator's key; only sealed text reaches the database.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretVault: Send + Sync {
    /// Encrypts `plaintext`; the result is safe to store and only this vault's key opens it.
    fn seal(&self, plaintext: &str) -> String;
    /// `None` when the text was not sealed with this vault's key (or was tampered with).
    fn open(&self, sealed: &str) -> Option<String>;
}

/// One outbox message fanned out: the deliveries [`DeliveryStore::dispatch`] inserts for it.
#[derive(Debug, Clone, PartialEq)]
pub struct FanOut {
    /// The outbox message.
    pub message: MessageId,
    /// One delivery per endpoint that wants it (possibly none).
    pub deliveries: Vec<crate::webhook::Delivery>,
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
    /// Marks each message dispatched and inserts its deliveries, all in one transaction (the
    /// worker fans out a page of the outbox at a time: one write, not one per message). The
    /// answer has one flag per fan-out, in order: `false` when that message was already
    /// dispatched (another dispatcher won; none of its deliveries are inserted, the others'
    /// are).
    async fn dispatch(&self, fan_outs: Vec<FanOut>, at: DateTime<Utc>) -> StoreResult<Vec<bool>>;
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
    /// Stores the attempts, moves each delivery to its next state, releases the leases and
    /// applies `also`, in one transaction (a worker's tick settles all its attempts in one
    /// write). `Conflict` when `lease_owner` no longer holds one of the deliveries (its lease
    /// expired and another worker claimed it) or an expected version in `also` moved: nothing
    /// is written.
    async fn complete_attempts(
        &self,
        records: Vec<crate::webhook::AttemptRecord>,
        also: ChangeSet,
    ) -> StoreResult<()>;
    /// The delivery with this id, if any.
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
