//! Use cases. Each method authorizes the caller with the permission table, reads through the
//! store ports, applies the pure rules, and writes the change with its audit events and outbox
//! messages as one [`ChangeSet`]. HTTP handlers and pages call these and nothing else.

mod accounts;
mod audit;
mod billing;
mod catalog;
mod change;
mod credentials;
mod error;
mod exports;
mod history;
mod inbox;
mod ingest;
mod invitations;
mod journey;
mod metering;
mod projects;
mod review;
mod subscriptions;
mod webhooks;
mod wiring;
mod workspaces;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use accounts::{AccountOverview, AccountSummary};
pub use catalog::PlanInput;
pub use credentials::{CreatedCredential, IssuedToken, NewCredentialKind, VerifyAnswer};
pub use exports::{ExportFormat, ExportGrant, ExportKind, ExportScope, ReportRecord};
pub use history::{HistoryEntry, decision_label, rounds};
pub use inbox::{InboxCounts, InboxEntry, InboxFilter};
pub use ingest::{IngestReport, RejectedCall, ReportedCall};
pub use journey::JourneyView;
pub use metering::{RaisedAlert, UsageView, month_bounds, period_bounds};
pub use projects::{ClonedProject, ProjectOverview};
pub use review::QueueEntry;
pub use subscriptions::SubscriptionView;
pub use webhooks::{
    AttemptResult, CreatedEndpoint, DeliveryTarget, DispatchReport, Outcome, Prepared,
    RotatedSecret, Settled, Webhooks,
};
pub use workspaces::{MemberView, WorkspaceOverview};

use crate::audit::{Actor, AuditDraft};
use crate::gates::Gate;
use crate::ids::*;
use crate::ports::*;
use crate::roles::{Action, Attempt, RoleSet, StaffAction, StaffRole, allowed, staff_allowed};
use crate::values::FieldError;
use crate::workspace::Membership;
use change::Draft;

pub(crate) use error::not_found_as;
pub use error::{Caller, RefusalCode, ServiceError, ServiceResult};
pub use wiring::{Infrastructure, Ports, Store};

/// The portal's use cases, one service per area over one shared set of
/// ports. Cheap to clone; an adapter may keep just the area it serves (`portal.credentials().clone()`).
///
/// # Examples
///
/// The in-memory adapters of [`crate::memory`] run the whole portal without a database:
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use onboarding_core::memory::in_memory_portal;
/// use onboarding_core::next_step::StepAction;
/// use onboarding_core::workspace::AccessState;
/// use onboarding_core::Caller;
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     let start = Utc.with_ymd_and_hms(2026, 11, 2, 9, 30, 0).unwrap();
///     let (portal, _store, _clock) = in_memory_portal(start);
///
///     let account = portal
///         .accounts()
///         .sign_up("ada@example.com", "Ada Lovelace", "correct horse battery staple")
///         .await
///         .unwrap();
///     let me = Caller::Account(account.id);
///     let overview = portal.accounts().me(me).await.unwrap();
///     assert_eq!(overview.access, AccessState::SignedUp);
///     assert_eq!(overview.next_step.action, StepAction::CreateOrJoinWorkspace);
///
///     let workspace = portal.workspaces().create_workspace(me, "Acme Payments").await.unwrap();
///     let page = portal.workspaces().workspace_overview(me, workspace.id).await.unwrap();
///     assert_eq!(page.next_step.action, StepAction::CreateSandboxProject);
/// });
/// ```
#[derive(Clone)]
pub struct Portal {
    cx: Context,
    accounts: Accounts,
    workspaces: Workspaces,
    catalog: Catalog,
    projects: Projects,
    pipeline: Pipeline,
    credentials: Credentials,
    endpoints: Endpoints,
    metering: Metering,
    billing: Billing,
    exports: Exports,
    audit: Audit,
}

impl Portal {
    /// A portal over these ports.
    pub fn new(ports: Ports) -> Self {
        let cx = Context { p: Arc::new(ports) };
        Self {
            accounts: Accounts { cx: cx.clone() },
            workspaces: Workspaces { cx: cx.clone() },
            catalog: Catalog { cx: cx.clone() },
            projects: Projects { cx: cx.clone() },
            pipeline: Pipeline { cx: cx.clone() },
            credentials: Credentials { cx: cx.clone() },
            endpoints: Endpoints { cx: cx.clone() },
            metering: Metering { cx: cx.clone() },
            billing: Billing { cx: cx.clone() },
            exports: Exports { cx: cx.clone() },
            audit: Audit { cx: cx.clone() },
            cx,
        }
    }

    /// The ports the portal runs on (for adapters that read stores directly).
    pub fn ports(&self) -> &Ports {
        &self.cx.p
    }

    /// Refuses a caller who may not take this staff action, before anything is read or
    /// validated. Adapters that reshape a request before calling the use case ask this first,
    /// so that a caller without the right learns nothing from the validation of its input;
    /// the use case checks again.
    pub fn authorize_staff(&self, caller: Caller, action: StaffAction) -> ServiceResult<()> {
        self.cx.authorize_staff(caller, action)
    }

    /// Sign-up, sign-in, staff records and an account's access state.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Workspaces, members, invitations, join requests and the workspace's next step.
    pub fn workspaces(&self) -> &Workspaces {
        &self.workspaces
    }

    /// API products and their plans (provider staff).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Sandbox and production projects, clone to production, alert thresholds, the operating pass.
    pub fn projects(&self) -> &Projects {
        &self.projects
    }

    /// Subscriptions through the pipeline: subscribe, submit, review, the go-live queue.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Credentials: create, regenerate, rotate, revoke, verify, OAuth tokens.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// A project's webhook endpoints: register, update, verify, test, rotate their signing secret.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Usage: ingestion from gateways, the usage view, alert thresholds crossed.
    pub fn metering(&self) -> &Metering {
        &self.metering
    }

    /// Invoices and payment.
    pub fn billing(&self) -> &Billing {
        &self.billing
    }

    /// Usage and audit exports and the report history.
    pub fn exports(&self) -> &Exports {
        &self.exports
    }

    /// Reads of the audit log and checks of its hash chains.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }
}

/// Sign-up, sign-in, staff records and an account's access state.
#[derive(Clone)]
pub struct Accounts {
    cx: Context,
}

/// Workspaces, members, invitations, join requests and the workspace's next step.
#[derive(Clone)]
pub struct Workspaces {
    cx: Context,
}

/// API products and their plans (provider staff).
#[derive(Clone)]
pub struct Catalog {
    cx: Context,
}

/// Sandbox and production projects, clone to production, alert thresholds, the operating pass.
#[derive(Clone)]
pub struct Projects {
    cx: Context,
}

/// Subscriptions through the pipeline: subscribe, submit, review, the go-live queue.
#[derive(Clone)]
pub struct Pipeline {
    cx: Context,
}

/// Credentials: create, regenerate, rotate, revoke, verify, OAuth tokens.
#[derive(Clone)]
pub struct Credentials {
    cx: Context,
}

/// A project's webhook endpoints: register, update, verify, test, rotate their signing secret.
#[derive(Clone)]
pub struct Endpoints {
    cx: Context,
}

/// Usage: ingestion from gateways, the usage view, alert thresholds crossed.
#[derive(Clone)]
pub struct Metering {
    cx: Context,
}

/// Invoices and payment.
#[derive(Clone)]
pub struct Billing {
    cx: Context,
}

/// Usage and audit exports and the report history.
#[derive(Clone)]
pub struct Exports {
    cx: Context,
}

/// Reads of the audit log and checks of its hash chains.
#[derive(Clone)]
pub struct Audit {
    cx: Context,
}

/// What every area service shares: the ports, and the helpers that authorize a caller and
/// build the audit events and outbox messages of a change.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) p: Arc<Ports>,
}

impl Context {
    pub(super) fn accounts(&self) -> Accounts {
        Accounts { cx: self.clone() }
    }

    pub(super) fn catalog(&self) -> Catalog {
        Catalog { cx: self.clone() }
    }

    pub(super) fn projects(&self) -> Projects {
        Projects { cx: self.clone() }
    }

    pub(super) fn pipeline(&self) -> Pipeline {
        Pipeline { cx: self.clone() }
    }
}

impl Context {
    pub(super) fn now(&self) -> DateTime<Utc> {
        self.p.clock.now()
    }

    pub(super) fn ulid(&self) -> ulid::Ulid {
        self.p.ids.ulid()
    }

    /// A fresh `whsec_` signing secret: its plaintext (shown once) and its sealed form (stored).
    pub(crate) fn new_signing_secret(
        &self,
        now: DateTime<Utc>,
    ) -> (String, crate::webhook::SigningSecret) {
        // Standard Webhooks receivers base64-decode what follows `whsec_` into the HMAC key,
        // so the secret must be real base64: 24 bytes (192 bits, what the specification
        // recommends at least) drawn from 43 base62 characters (~256 bits) of the port.
        use base64::Engine as _;
        use sha2::Digest as _;
        let seed = sha2::Sha256::digest(self.p.secrets.base62(43).as_bytes());
        let key = base64::engine::general_purpose::STANDARD.encode(&seed[..24]);
        let plaintext = format!("whsec_{key}");
        let sealed = crate::webhook::SigningSecret {
            sealed: self.p.vault.seal(&plaintext),
            created_at: now,
            expires_at: None,
        };
        (plaintext, sealed)
    }

    pub(super) async fn commit(&self, set: ChangeSet) -> ServiceResult<()> {
        Ok(self.p.uow.commit(set).await?)
    }

    /// Commits `set`, the last step of a use case that checked an "at most one" rule first.
    /// When the commit loses a race to a concurrent twin (the database's constraint answers
    /// `Conflict`), `recheck` runs the rule again on what is stored now, so the loser gets the
    /// very refusal a later request would (docs/decisions/0017).
    pub(super) async fn commit_checked<F, Fut>(
        &self,
        set: ChangeSet,
        recheck: F,
    ) -> ServiceResult<()>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ServiceResult<()>>,
    {
        match self.p.uow.commit(set).await {
            Err(StoreError::Conflict(what)) => {
                recheck().await?;
                Err(StoreError::Conflict(what).into())
            }
            other => Ok(other?),
        }
    }

    /// The caller's membership of a workspace. Non-members get `NotFound`, so that another
    /// tenant's ids are never confirmed to exist.
    pub(super) async fn membership(
        &self,
        caller: Caller,
        workspace: WorkspaceId,
    ) -> ServiceResult<(AccountId, Membership)> {
        let Caller::Account(account) = caller else {
            return Err(ServiceError::Forbidden {
                action: Attempt::ActInWorkspaceAsStaff,
            });
        };
        let members = self.p.workspaces.members(workspace).await?;
        members
            .into_iter()
            .find(|m| m.account_id == account)
            .map(|m| (account, m))
            .ok_or(ServiceError::NotFound {
                entity: "workspace",
            })
    }

    /// [`require`](Self::require) for an action on one resource of the workspace (`entity`,
    /// already loaded): a non-member gets that resource's own not-found, the very answer an
    /// id that exists nowhere gets, so another tenant's ids are never told apart.
    pub(super) async fn require_on(
        &self,
        entity: &'static str,
        caller: Caller,
        workspace: WorkspaceId,
        action: Action,
    ) -> ServiceResult<(AccountId, RoleSet)> {
        self.require(caller, workspace, action)
            .await
            .map_err(not_found_as(entity))
    }

    /// [`require_read`](Self::require_read) for one resource of the workspace, answering
    /// non-members as [`require_on`](Self::require_on) does.
    pub(super) async fn require_read_on(
        &self,
        entity: &'static str,
        caller: Caller,
        workspace: WorkspaceId,
    ) -> ServiceResult<Option<RoleSet>> {
        self.require_read(caller, workspace)
            .await
            .map_err(not_found_as(entity))
    }

    /// Authorizes a member's action inside a workspace: 404 for non-members, 403 for members
    /// whose roles do not allow it.
    pub(super) async fn require(
        &self,
        caller: Caller,
        workspace: WorkspaceId,
        action: Action,
    ) -> ServiceResult<(AccountId, RoleSet)> {
        let (account, m) = self.membership(caller, workspace).await?;
        if allowed(m.roles, action) {
            Ok((account, m.roles))
        } else {
            Err(ServiceError::Forbidden {
                action: Attempt::Member(action),
            })
        }
    }

    /// Read access to a workspace: its members, or provider staff who work the queue.
    pub(super) async fn require_read(
        &self,
        caller: Caller,
        workspace: WorkspaceId,
    ) -> ServiceResult<Option<RoleSet>> {
        match caller {
            Caller::Staff { role, .. } if staff_allowed(role, StaffAction::ReadQueue) => {
                self.load_workspace(workspace).await?;
                Ok(None)
            }
            _ => Ok(Some(
                self.require(caller, workspace, Action::ViewWorkspace)
                    .await?
                    .1,
            )),
        }
    }

    /// Refuses a caller who may not take this staff action, before anything is read or
    /// validated. Adapters that reshape a request before calling the use case ask this first,
    /// so that a caller without the right learns nothing from the validation of its input;
    /// the use case checks again.
    pub(super) fn authorize_staff(&self, caller: Caller, action: StaffAction) -> ServiceResult<()> {
        self.require_staff(caller, action).map(|_| ())
    }

    pub(super) fn require_staff(
        &self,
        caller: Caller,
        action: StaffAction,
    ) -> ServiceResult<StaffId> {
        match caller {
            Caller::Staff { id, role } if staff_allowed(role, action) => Ok(id),
            _ => Err(ServiceError::Forbidden {
                action: Attempt::Staff(action),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
