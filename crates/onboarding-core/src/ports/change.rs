//! The unit of work: every state change, its audit drafts and its outbox messages in one set.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::audit::AuditDraft;
use crate::billing::Payment;
use crate::credential::{AccessToken, Credential};
use crate::ids::*;
use crate::pipeline::Subscription;
use crate::plan::{ApiProduct, Plan};
use crate::project::Project;
use crate::usage::AlertThreshold;
use crate::webhook::WebhookEndpoint;
use crate::workspace::{Account, Invitation, JoinRequest, Membership, Staff, Workspace};

use super::StoreResult;

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
