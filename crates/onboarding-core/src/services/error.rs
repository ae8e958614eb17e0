//! Who is asking, and the typed errors every use case answers.

use crate::audit::Actor;
use crate::credential::LockReason;
use crate::gates::Gate;
use crate::ids::*;
use crate::pipeline::PipelineError;
use crate::ports::*;
use crate::roles::{Attempt, StaffRole};
use crate::values::FieldError;

/// Who is asking. Consumer accounts act inside their workspaces; staff act on the provider side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A signed-in consumer account; its roles come from its membership of the workspace concerned.
    Account(AccountId),
    /// A signed-in staff member, with their staff role.
    Staff {
        /// The staff member.
        id: StaffId,
        /// Admin or reviewer: decides what they may do.
        role: StaffRole,
    },
}

impl Caller {
    /// The audit actor for this caller.
    pub fn actor(self) -> Actor {
        match self {
            Caller::Account(id) => Actor::Account(id),
            Caller::Staff { id, .. } => Actor::Staff(id),
        }
    }
}

/// Why a use case refused. Every variant maps to one problem `type` in the HTTP adapter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServiceError {
    /// Unknown, or belongs to another workspace: the two are never told apart.
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for (`subscription`, `project`, ...).
        entity: &'static str,
    },
    /// The caller's roles do not allow the action.
    #[error("your roles do not allow you to {action}")]
    Forbidden {
        /// The refused attempt; `Display` gives it in words ("submit for review").
        action: Attempt,
    },
    /// The current state does not allow it; `current` names that state (a phase, a status).
    #[error("{message}")]
    Conflict {
        /// What was refused and why, for people.
        message: String,
        /// The current state (`in_review`, `revoked`, ...), reported so the client can refresh.
        current: Option<String>,
    },
    /// The version the caller acted on is no longer current: somebody changed the resource
    /// first (a stale expectation, or a race lost at commit). `current` names its state now.
    /// Over HTTP: 412 when the version came as `If-Match`, 409 otherwise.
    #[error("{message}")]
    Stale {
        /// What changed, for people.
        message: String,
        /// The current state (`in_review`, `version 4`, ...).
        current: Option<String>,
    },
    /// A business rule refused it (stable `code`, e.g. `no_sandbox_credential`).
    #[error("{message}")]
    Refused {
        /// The stable machine-readable code.
        code: RefusalCode,
        /// The rule, in a sentence a user can act on.
        message: String,
    },
    /// One input field was refused.
    #[error("{0}")]
    Invalid(FieldError),
    /// Several input fields were refused (e.g. submission answers), one error each.
    #[error("{} field(s) refused", .0.len())]
    InvalidFields(Vec<FieldError>),
    /// Approval while a gate has not passed.
    #[error("gate `{}` has not passed: {missing}", gate.as_str())]
    GateNotPassed {
        /// The remaining gate.
        gate: Gate,
        /// What is missing to pass it.
        missing: String,
    },
    /// The production credential card is locked: not approved yet, or payment required.
    #[error("{}", .0.message())]
    Locked(LockReason),
    /// No valid session or token: the caller is unknown (or their account no longer exists).
    #[error("authentication required")]
    Unauthenticated,
    /// A store failure; the text is for logs, never for responses.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The stable codes of [`ServiceError::Refused`], one per business rule; `as_str()` is the
/// problem's `code` member on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum RefusalCode {
    /// Submitting needs at least one active sandbox credential.
    NoSandboxCredential,
    /// The plan needs sandbox access granted before credentials exist.
    SandboxAccessNotGranted,
    /// Sandbox access was not requested (the plan grants it at once, or it was decided).
    SandboxAccessNotRequested,
    /// Only the manual gates (declared use case, consent handling) are signed off.
    NotAManualGate,
    /// The plan does not apply that gate.
    GateNotApplicable,
    /// Subscriptions belong to sandbox projects.
    NotASandboxProject,
    /// The project uses endpoints or events the plan does not grant.
    ProjectOutsidePlan,
    /// A free plan has nothing to pay.
    FreePlan,
    /// Production credentials live in the production project: clone first.
    CloneToProductionFirst,
    /// A workspace keeps at least one owner.
    LastOwner,
}

impl RefusalCode {
    /// The wire name (`no_sandbox_credential`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The result of every use case.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// Turns any not-found into `entity`'s: the workspace of a resource the caller may not see is
/// reported as the resource itself missing.
pub(crate) fn not_found_as(entity: &'static str) -> impl FnOnce(ServiceError) -> ServiceError {
    move |e| match e {
        ServiceError::NotFound { .. } => ServiceError::NotFound { entity },
        other => other,
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ServiceError::Conflict {
                message: format!("changed concurrently: {m}"),
                current: None,
            },
            StoreError::Unavailable(m) => ServiceError::Internal(m),
        }
    }
}

impl From<FieldError> for ServiceError {
    fn from(e: FieldError) -> Self {
        ServiceError::Invalid(e)
    }
}

impl From<PipelineError> for ServiceError {
    fn from(e: PipelineError) -> Self {
        let refused = |code, e: &PipelineError| ServiceError::Refused {
            code,
            message: e.to_string(),
        };
        match &e {
            PipelineError::Transition(t) => ServiceError::Conflict {
                message: t.to_string(),
                current: Some(t.from.as_str().to_owned()),
            },
            PipelineError::Answers(a) => ServiceError::InvalidFields(a.0.clone()),
            PipelineError::GateNotPassed(g) => ServiceError::GateNotPassed {
                gate: *g,
                missing: e.to_string(),
            },
            PipelineError::NoSandboxCredential => refused(RefusalCode::NoSandboxCredential, &e),
            PipelineError::SandboxAccessNotGranted => {
                refused(RefusalCode::SandboxAccessNotGranted, &e)
            }
            PipelineError::NotSubmitter => ServiceError::Forbidden {
                action: Attempt::WithdrawOthersSubmission,
            },
            PipelineError::SandboxAccessNotRequested => {
                refused(RefusalCode::SandboxAccessNotRequested, &e)
            }
            PipelineError::NotAManualGate(_) => refused(RefusalCode::NotAManualGate, &e),
            PipelineError::GateNotApplicable(_) => refused(RefusalCode::GateNotApplicable, &e),
        }
    }
}
