//! The subscription pipeline (spec §5): one phase at a time, and the only transitions allowed.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::form::{AnswerErrors, ValidAnswers};
use crate::gates::{Gate, GateEvaluation};
use crate::ids::{AccountId, PlanId, ProjectId, StaffId, SubscriptionId, WorkspaceId};
use crate::values::Notes;

/// A subscription's phase, with the data each phase carries.
///
/// # Examples
///
/// The pipeline's transitions, and a refused one:
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use onboarding_core::ids::{AccountId, StaffId};
/// use onboarding_core::pipeline::{Phase, PhaseKind, PipelineAction};
/// use onboarding_core::values::Notes;
/// use ulid::Ulid;
///
/// let dev = AccountId::from_ulid(Ulid::from_parts(1, 1));
/// let reviewer = StaffId::from_ulid(Ulid::from_parts(1, 2));
/// let at = Utc.with_ymd_and_hms(2026, 11, 2, 9, 30, 0).unwrap();
///
/// let sandbox = Phase::Sandbox { changes_requested: None };
/// let in_review = sandbox.submit(dev, at)?;
/// assert_eq!(in_review.kind(), PhaseKind::InReview);
///
/// // A reviewer sends it back with notes: sandbox again, flagged Changes Requested.
/// let notes = Notes::new("Explain how consent is withdrawn").unwrap();
/// let back = in_review.request_changes(notes, reviewer, at)?;
/// assert!(matches!(back, Phase::Sandbox { changes_requested: Some(_) }));
///
/// // Resubmitted and approved.
/// let production = back.submit(dev, at)?.approve(reviewer, at)?;
/// assert_eq!(production.kind(), PhaseKind::Production);
///
/// // Anything else is refused, naming the current phase.
/// let err = production.submit(dev, at).unwrap_err();
/// assert_eq!((err.from, err.action), (PhaseKind::Production, PipelineAction::Submit));
/// assert_eq!(err.to_string(), "cannot submit a subscription that is production");
/// # Ok::<(), onboarding_core::pipeline::TransitionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Building and testing with sandbox credentials; the only phase from which a subscription can
    /// be submitted.
    Sandbox {
        /// Set when a reviewer sent the submission back, with their notes; cleared by the next
        /// submit.
        changes_requested: Option<ChangesRequested>,
    },
    /// Submitted; the provider's team is reviewing it in the go-live queue.
    InReview {
        /// When it was submitted; the go-live queue orders by it, oldest first.
        submitted_at: DateTime<Utc>,
        /// The member who submitted: the only one who may withdraw it.
        submitted_by: AccountId,
    },
    /// Approved: production credentials can be created (on paid plans, once payment is complete).
    Production {
        /// When a reviewer approved it.
        approved_at: DateTime<Utc>,
        /// The reviewer who approved it.
        approved_by: StaffId,
    },
    /// Turned down, by review or by declining sandbox access; terminal unless an admin reopens it.
    Rejected {
        /// The reviewer's notes, shown to the developer; optional on a rejection.
        notes: Option<Notes>,
        /// When it was rejected.
        at: DateTime<Utc>,
        /// The reviewer who rejected it.
        by: StaffId,
    },
}

/// The Changes Requested flag with the reviewer's notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesRequested {
    /// What the reviewer asks to change; never blank.
    pub notes: Notes,
    /// When changes were requested.
    pub at: DateTime<Utc>,
    /// The reviewer who requested them.
    pub by: StaffId,
}

/// The phase without its data: for storage, queries and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    /// See [`Phase::Sandbox`]; stored as `sandbox`.
    Sandbox,
    /// See [`Phase::InReview`]; stored as `in_review`.
    InReview,
    /// See [`Phase::Production`]; stored as `production`.
    Production,
    /// See [`Phase::Rejected`]; stored as `rejected`.
    Rejected,
}

impl PhaseKind {
    /// The snake_case name used in storage, the API and error messages (`in_review`).
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseKind::Sandbox => "sandbox",
            PhaseKind::InReview => "in_review",
            PhaseKind::Production => "production",
            PhaseKind::Rejected => "rejected",
        }
    }

    /// The inverse of [`as_str`](Self::as_str); `None` for an unknown name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            PhaseKind::Sandbox,
            PhaseKind::InReview,
            PhaseKind::Production,
            PhaseKind::Rejected,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl fmt::Display for PhaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pipeline action, as audit and errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineAction {
    /// `sandbox → in_review`, by a technical lead or owner.
    Submit,
    /// `in_review → sandbox`, by the submitter before a decision.
    Withdraw,
    /// `in_review → production`, by a reviewer once every applicable gate passed.
    Approve,
    /// `in_review → rejected`, by a reviewer; notes optional.
    Reject,
    /// `in_review → sandbox` flagged Changes Requested, by a reviewer; notes required.
    RequestChanges,
    /// `rejected → sandbox`, by an admin (audited).
    Reopen,
    /// A reviewer grants requested sandbox access on an `approval_required` plan.
    GrantSandboxAccess,
    /// A reviewer declines requested sandbox access; the subscription ends as `rejected`.
    DeclineSandboxAccess,
}

impl PipelineAction {
    /// The snake_case name used in audit actions and error messages (`request_changes`).
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineAction::Submit => "submit",
            PipelineAction::Withdraw => "withdraw",
            PipelineAction::Approve => "approve",
            PipelineAction::Reject => "reject",
            PipelineAction::RequestChanges => "request_changes",
            PipelineAction::Reopen => "reopen",
            PipelineAction::GrantSandboxAccess => "grant_sandbox_access",
            PipelineAction::DeclineSandboxAccess => "decline_sandbox_access",
        }
    }
}

/// An action that the current phase does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} a subscription that is {from}", action.as_str().replace('_', " "))]
pub struct TransitionError {
    /// The phase the subscription was in: the API's conflict response reports it as the current
    /// state.
    pub from: PhaseKind,
    /// The refused action.
    pub action: PipelineAction,
}

impl Phase {
    /// The phase without its data.
    pub fn kind(&self) -> PhaseKind {
        match self {
            Phase::Sandbox { .. } => PhaseKind::Sandbox,
            Phase::InReview { .. } => PhaseKind::InReview,
            Phase::Production { .. } => PhaseKind::Production,
            Phase::Rejected { .. } => PhaseKind::Rejected,
        }
    }

    fn refuse(&self, action: PipelineAction) -> TransitionError {
        TransitionError {
            from: self.kind(),
            action,
        }
    }

    /// `sandbox → in_review`; clears the Changes Requested flag (history keeps it).
    pub fn submit(&self, by: AccountId, at: DateTime<Utc>) -> Result<Phase, TransitionError> {
        match self {
            Phase::Sandbox { .. } => Ok(Phase::InReview {
                submitted_at: at,
                submitted_by: by,
            }),
            _ => Err(self.refuse(PipelineAction::Submit)),
        }
    }

    /// `in_review → sandbox`, by the submitter only (checked by [`Subscription::withdraw`]).
    pub fn withdraw(&self) -> Result<Phase, TransitionError> {
        match self {
            Phase::InReview { .. } => Ok(Phase::Sandbox {
                changes_requested: None,
            }),
            _ => Err(self.refuse(PipelineAction::Withdraw)),
        }
    }

    /// `in_review → production`. The gate check is [`Subscription::approve`]'s job; this is only
    /// the phase rule.
    pub fn approve(&self, by: StaffId, at: DateTime<Utc>) -> Result<Phase, TransitionError> {
        match self {
            Phase::InReview { .. } => Ok(Phase::Production {
                approved_at: at,
                approved_by: by,
            }),
            _ => Err(self.refuse(PipelineAction::Approve)),
        }
    }

    /// `in_review → rejected`, with optional notes for the developer.
    pub fn reject(
        &self,
        notes: Option<Notes>,
        by: StaffId,
        at: DateTime<Utc>,
    ) -> Result<Phase, TransitionError> {
        match self {
            Phase::InReview { .. } => Ok(Phase::Rejected { notes, at, by }),
            _ => Err(self.refuse(PipelineAction::Reject)),
        }
    }

    /// `in_review → sandbox` flagged Changes Requested. Notes are required: a [`Notes`] is never blank.
    pub fn request_changes(
        &self,
        notes: Notes,
        by: StaffId,
        at: DateTime<Utc>,
    ) -> Result<Phase, TransitionError> {
        match self {
            Phase::InReview { .. } => Ok(Phase::Sandbox {
                changes_requested: Some(ChangesRequested { notes, at, by }),
            }),
            _ => Err(self.refuse(PipelineAction::RequestChanges)),
        }
    }

    /// `rejected → sandbox`, by an admin.
    pub fn reopen(&self) -> Result<Phase, TransitionError> {
        match self {
            Phase::Rejected { .. } => Ok(Phase::Sandbox {
                changes_requested: None,
            }),
            _ => Err(self.refuse(PipelineAction::Reopen)),
        }
    }
}

/// Sandbox access of a subscription (spec §5, `approval_required` plans).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SandboxAccess {
    /// Waiting for a reviewer: no credential can be created yet.
    Requested {
        /// When access was requested (the subscription's creation, or an admin's reopen after a
        /// decline).
        at: DateTime<Utc>,
    },
    /// Credentials may be created.
    Granted {
        /// When access was granted.
        at: DateTime<Utc>,
        /// The reviewer who granted it; `None` when an `open` plan granted it at once.
        by: Option<StaffId>,
    },
    /// A reviewer declined; the subscription is `rejected`.
    Declined {
        /// When access was declined.
        at: DateTime<Utc>,
        /// The reviewer who declined it.
        by: StaffId,
    },
}

impl SandboxAccess {
    /// Whether sandbox credentials may be created.
    pub fn is_granted(&self) -> bool {
        matches!(self, SandboxAccess::Granted { .. })
    }
    /// The snake_case name of the state (`requested`, `granted`, `declined`).
    pub fn as_str(&self) -> &'static str {
        match self {
            SandboxAccess::Requested { .. } => "requested",
            SandboxAccess::Granted { .. } => "granted",
            SandboxAccess::Declined { .. } => "declined",
        }
    }
}

/// One recorded pipeline decision: who, when, what, with which notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// What was decided.
    pub action: PipelineAction,
    /// Who decided: the member for submit and withdraw, the staff member otherwise.
    pub by: Actor,
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// The notes shown to the developer (required for request changes, optional for reject).
    pub notes: Option<Notes>,
}

/// A reviewer's sign-off of a manual gate, for the current submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    /// The manual gate signed off (declared use case or consent handling).
    pub gate: Gate,
    /// The reviewer who signed it off.
    pub by: StaffId,
    /// When it was signed off; a resubmission starts over without sign-offs.
    pub at: DateTime<Utc>,
}

/// A subscription: a sandbox project tied to a plan, holding exactly one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// The subscription's ULID (`sub_...`).
    pub id: SubscriptionId,
    /// The workspace that owns the subscription (and its sandbox project).
    pub workspace_id: WorkspaceId,
    /// The sandbox project this subscription powers.
    pub project_id: ProjectId,
    /// The plan subscribed to: it decides the form, the gates, pricing and sandbox access mode.
    pub plan_id: PlanId,
    /// The one current phase.
    pub phase: Phase,
    /// Whether sandbox credentials may be created yet (always granted at creation on `open` plans).
    pub sandbox_access: SandboxAccess,
    /// The latest submitted answers.
    pub answers: Option<ValidAnswers>,
    /// Manual gate sign-offs for the current submission only; cleared by every submit.
    pub sign_offs: Vec<SignOff>,
    /// Every decision, oldest first; Changes Requested notes stay here after resubmission.
    pub history: Vec<Decision>,
    /// The production project cloned from the sandbox project, once cloned.
    pub production_project_id: Option<ProjectId>,
    /// When the subscription was created.
    pub created_at: DateTime<Utc>,
    /// The member who subscribed.
    pub created_by: AccountId,
    /// Optimistic concurrency: a transition is stored only if nobody changed the row since.
    pub version: i64,
}

/// Why a pipeline step was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    /// The current phase does not allow the action; the API answers with a conflict naming the
    /// phase.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(
        "a subscription needs at least one active sandbox credential before it can be submitted for review"
    )]
    /// Submit needs at least one active sandbox credential (proof that the integration was tried).
    NoSandboxCredential,
    /// Submit on an `approval_required` plan before a reviewer granted sandbox access.
    #[error("sandbox access has not been granted yet")]
    SandboxAccessNotGranted,
    /// The submission's answers do not satisfy the plan's form; one error per field.
    #[error(transparent)]
    Answers(#[from] AnswerErrors),
    /// Approve while this applicable gate (the remaining gate) has not passed.
    #[error("gate `{}` has not passed", .0.as_str())]
    GateNotPassed(Gate),
    /// Withdraw by someone other than the member who submitted.
    #[error("only the member who submitted can withdraw the submission")]
    NotSubmitter,
    /// Grant or decline sandbox access when it is not in the `requested` state.
    #[error("sandbox access is not awaiting a decision")]
    SandboxAccessNotRequested,
    /// Sign-off of a gate that is evaluated from facts, not by a reviewer.
    #[error("gate `{}` is not signed off by hand", .0.as_str())]
    NotAManualGate(Gate),
    /// Sign-off of a gate the plan does not apply.
    #[error("gate `{}` does not apply to this plan", .0.as_str())]
    GateNotApplicable(Gate),
}

impl Subscription {
    fn record(
        mut self,
        action: PipelineAction,
        by: Actor,
        at: DateTime<Utc>,
        notes: Option<Notes>,
    ) -> Self {
        self.history.push(Decision {
            action,
            by,
            at,
            notes,
        });
        self
    }

    /// Submit for review. Guards: sandbox access granted, at least one active sandbox credential,
    /// answers already validated against the plan's effective form (the caller validates, since
    /// only it knows the plan). Starts a fresh submission: earlier sign-offs no longer count.
    pub fn submit(
        &self,
        by: AccountId,
        at: DateTime<Utc>,
        active_sandbox_credentials: usize,
        answers: Option<ValidAnswers>,
    ) -> Result<Subscription, PipelineError> {
        let phase = self.phase.submit(by, at)?;
        if !self.sandbox_access.is_granted() {
            return Err(PipelineError::SandboxAccessNotGranted);
        }
        if active_sandbox_credentials == 0 {
            return Err(PipelineError::NoSandboxCredential);
        }
        let mut next = self.clone();
        next.phase = phase;
        next.answers = answers;
        next.sign_offs.clear();
        Ok(next.record(PipelineAction::Submit, Actor::Account(by), at, None))
    }

    /// Withdraw the submission back to `sandbox`, by the member who submitted it, before a
    /// decision.
    pub fn withdraw(
        &self,
        by: AccountId,
        at: DateTime<Utc>,
    ) -> Result<Subscription, PipelineError> {
        let phase = self.phase.withdraw()?;
        if !matches!(self.phase, Phase::InReview { submitted_by, .. } if submitted_by == by) {
            return Err(PipelineError::NotSubmitter);
        }
        let mut next = self.clone();
        next.phase = phase;
        Ok(next.record(PipelineAction::Withdraw, Actor::Account(by), at, None))
    }

    /// Approve: only with an evaluation in which every applicable gate passed.
    pub fn approve(
        &self,
        by: StaffId,
        at: DateTime<Utc>,
        gates: &GateEvaluation,
    ) -> Result<Subscription, PipelineError> {
        let phase = self.phase.approve(by, at)?;
        if let Some(g) = gates.remaining_gate() {
            return Err(PipelineError::GateNotPassed(g.gate));
        }
        let mut next = self.clone();
        next.phase = phase;
        Ok(next.record(PipelineAction::Approve, Actor::Staff(by), at, None))
    }

    /// Reject the submission, with optional notes shown to the developer; the subscription becomes
    /// terminal.
    pub fn reject(
        &self,
        notes: Option<Notes>,
        by: StaffId,
        at: DateTime<Utc>,
    ) -> Result<Subscription, PipelineError> {
        let mut next = self.clone();
        next.phase = self.phase.reject(notes.clone(), by, at)?;
        Ok(next.record(PipelineAction::Reject, Actor::Staff(by), at, notes))
    }

    /// Send the submission back to `sandbox` flagged Changes Requested; the notes stay in the
    /// history after resubmission.
    pub fn request_changes(
        &self,
        notes: Notes,
        by: StaffId,
        at: DateTime<Utc>,
    ) -> Result<Subscription, PipelineError> {
        let mut next = self.clone();
        next.phase = self.phase.request_changes(notes.clone(), by, at)?;
        Ok(next.record(
            PipelineAction::RequestChanges,
            Actor::Staff(by),
            at,
            Some(notes),
        ))
    }

    /// Reopen a rejected subscription to `sandbox` (admin only, audited); if sandbox access was
    /// declined, it is requested again.
    pub fn reopen(&self, by: StaffId, at: DateTime<Utc>) -> Result<Subscription, PipelineError> {
        let mut next = self.clone();
        next.phase = self.phase.reopen()?;
        if matches!(next.sandbox_access, SandboxAccess::Declined { .. }) {
            next.sandbox_access = SandboxAccess::Requested { at };
        }
        Ok(next.record(PipelineAction::Reopen, Actor::Staff(by), at, None))
    }

    /// Grant sandbox access on an `approval_required` plan.
    pub fn grant_sandbox_access(
        &self,
        by: StaffId,
        at: DateTime<Utc>,
    ) -> Result<Subscription, PipelineError> {
        if !matches!(self.sandbox_access, SandboxAccess::Requested { .. })
            || self.phase.kind() != PhaseKind::Sandbox
        {
            return Err(PipelineError::SandboxAccessNotRequested);
        }
        let mut next = self.clone();
        next.sandbox_access = SandboxAccess::Granted { at, by: Some(by) };
        Ok(next.record(
            PipelineAction::GrantSandboxAccess,
            Actor::Staff(by),
            at,
            None,
        ))
    }

    /// Decline sandbox access: the subscription ends as `rejected`.
    pub fn decline_sandbox_access(
        &self,
        notes: Option<Notes>,
        by: StaffId,
        at: DateTime<Utc>,
    ) -> Result<Subscription, PipelineError> {
        if !matches!(self.sandbox_access, SandboxAccess::Requested { .. })
            || self.phase.kind() != PhaseKind::Sandbox
        {
            return Err(PipelineError::SandboxAccessNotRequested);
        }
        let mut next = self.clone();
        next.sandbox_access = SandboxAccess::Declined { at, by };
        next.phase = Phase::Rejected {
            notes: notes.clone(),
            at,
            by,
        };
        Ok(next.record(
            PipelineAction::DeclineSandboxAccess,
            Actor::Staff(by),
            at,
            notes,
        ))
    }

    /// A reviewer signs off a manual gate of the submission under review.
    pub fn sign_off(
        &self,
        gate: Gate,
        applies: bool,
        by: StaffId,
        at: DateTime<Utc>,
    ) -> Result<Subscription, PipelineError> {
        if self.phase.kind() != PhaseKind::InReview {
            return Err(PipelineError::Transition(TransitionError {
                from: self.phase.kind(),
                action: PipelineAction::Approve,
            }));
        }
        if !gate.needs_sign_off() {
            return Err(PipelineError::NotAManualGate(gate));
        }
        if !applies {
            return Err(PipelineError::GateNotApplicable(gate));
        }
        let mut next = self.clone();
        next.sign_offs.retain(|s| s.gate != gate);
        next.sign_offs.push(SignOff { gate, by, at });
        Ok(next)
    }

    /// The member who submitted: the current submission's while in review, else the latest
    /// submission's (`None` before the first).
    pub fn submitter(&self) -> Option<AccountId> {
        if let Phase::InReview { submitted_by, .. } = self.phase {
            return Some(submitted_by);
        }
        self.history.iter().rev().find_map(|d| match d.by {
            Actor::Account(id) if d.action == PipelineAction::Submit => Some(id),
            _ => None,
        })
    }

    /// The manual gates signed off for the current submission.
    pub fn signed_off_gates(&self) -> Vec<Gate> {
        self.sign_offs.iter().map(|s| s.gate).collect()
    }

    /// The notice the developer sees on the subscription page.
    pub fn notice(&self) -> Option<Notice> {
        match &self.phase {
            Phase::Production { .. } => Some(Notice::Approved),
            Phase::Rejected { notes, .. } => Some(Notice::SubmissionRejected {
                notes: notes.clone(),
            }),
            Phase::Sandbox {
                changes_requested: Some(c),
            } => Some(Notice::ChangesRequested {
                notes: c.notes.clone(),
            }),
            _ => None,
        }
    }

    /// The three-step stepper; the review step is marked rejected on a rejected subscription.
    pub fn stepper(&self) -> [Step; 3] {
        use StepState::*;
        let (s, r, p) = match self.phase.kind() {
            PhaseKind::Sandbox => (Current, Upcoming, Upcoming),
            PhaseKind::InReview => (Complete, Current, Upcoming),
            PhaseKind::Production => (Complete, Complete, Current),
            PhaseKind::Rejected => (Complete, Rejected, Upcoming),
        };
        [
            Step {
                label: "Sandbox",
                state: s,
            },
            Step {
                label: "In Review",
                state: r,
            },
            Step {
                label: "Production",
                state: p,
            },
        ]
    }

    /// The label of the submit button: "Submitted for Review" once submitted.
    pub fn submit_label(&self) -> &'static str {
        match self.phase.kind() {
            PhaseKind::Sandbox => "Submit for Review",
            _ => "Submitted for Review",
        }
    }
}

/// A notice shown on the subscription page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// The subscription is in Production.
    Approved,
    /// The subscription was rejected (by review or by declining sandbox access).
    SubmissionRejected {
        /// The reviewer's notes, if any.
        notes: Option<Notes>,
    },
    /// A reviewer sent the submission back; the subscription is in `sandbox` again.
    ChangesRequested {
        /// What the reviewer asks to change.
        notes: Notes,
    },
}

impl Notice {
    /// The notice's headline: "Approved", "Submission Rejected" or "Changes Requested".
    pub fn title(&self) -> &'static str {
        match self {
            Notice::Approved => "Approved",
            Notice::SubmissionRejected { .. } => "Submission Rejected",
            Notice::ChangesRequested { .. } => "Changes Requested",
        }
    }
}

/// The state of one step of the subscription stepper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Done.
    Complete,
    /// Where the subscription is now.
    Current,
    /// Not reached yet.
    Upcoming,
    /// The review step of a rejected subscription.
    Rejected,
}

/// One step of the three-step stepper (Sandbox, In Review, Production).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The step's label as shown: "Sandbox", "In Review" or "Production".
    pub label: &'static str,
    /// Where the subscription stands relative to this step.
    pub state: StepState,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::{GateActor, GateState, GateStatus};
    use crate::test_fixtures::*;

    fn passed() -> GateEvaluation {
        GateEvaluation {
            gates: vec![GateStatus {
                gate: Gate::DeclaredUseCase,
                state: GateState::Passed,
            }],
        }
    }

    fn in_review() -> Subscription {
        sandbox_subscription().submit(dev(), t0(), 1, None).unwrap()
    }

    #[test]
    fn submit_moves_to_review_and_clears_changes_requested_but_keeps_history() {
        let s = in_review();
        let s = s
            .request_changes(Notes::new("fix consent").unwrap(), reviewer(), t0())
            .unwrap();
        assert_eq!(s.notice().unwrap().title(), "Changes Requested");
        let s = s.submit(dev(), t0(), 1, None).unwrap();
        assert_eq!(s.phase.kind(), PhaseKind::InReview);
        assert_eq!(s.notice(), None);
        assert_eq!(s.submit_label(), "Submitted for Review");
        assert!(
            s.history
                .iter()
                .any(|d| d.action == PipelineAction::RequestChanges && d.notes.is_some())
        );
    }

    #[test]
    fn submit_requires_a_sandbox_credential_and_granted_access() {
        assert_eq!(
            sandbox_subscription().submit(dev(), t0(), 0, None),
            Err(PipelineError::NoSandboxCredential)
        );
        let mut s = sandbox_subscription();
        s.sandbox_access = SandboxAccess::Requested { at: t0() };
        assert_eq!(
            s.submit(dev(), t0(), 1, None),
            Err(PipelineError::SandboxAccessNotGranted)
        );
    }

    #[test]
    fn approve_requires_every_gate_passed() {
        let pending = GateEvaluation {
            gates: vec![GateStatus {
                gate: Gate::BillingOwnership,
                state: GateState::Pending {
                    missing: "x".into(),
                    actor: GateActor::Reviewer,
                },
            }],
        };
        assert_eq!(
            in_review().approve(reviewer(), t0(), &pending),
            Err(PipelineError::GateNotPassed(Gate::BillingOwnership))
        );
        let s = in_review().approve(reviewer(), t0(), &passed()).unwrap();
        assert_eq!(s.phase.kind(), PhaseKind::Production);
        assert_eq!(s.notice(), Some(Notice::Approved));
    }

    #[test]
    fn reject_marks_the_review_step_and_reopen_returns_to_sandbox() {
        let s = in_review().reject(None, reviewer(), t0()).unwrap();
        assert_eq!(s.stepper()[1].state, StepState::Rejected);
        assert_eq!(s.notice().unwrap().title(), "Submission Rejected");
        let s = s.reopen(reviewer(), t0()).unwrap();
        assert_eq!(
            s.phase,
            Phase::Sandbox {
                changes_requested: None
            }
        );
    }

    #[test]
    fn withdraw_only_by_the_submitter() {
        let s = in_review();
        assert_eq!(
            s.withdraw(other_account(), t0()),
            Err(PipelineError::NotSubmitter)
        );
        assert_eq!(
            s.withdraw(dev(), t0()).unwrap().phase.kind(),
            PhaseKind::Sandbox
        );
    }

    /// Every (phase, action) pair: allowed ones land in the right phase, the others are refused
    /// with an error naming the current phase.
    #[test]
    fn every_transition_allowed_or_refused_naming_the_current_phase() {
        let notes = || Notes::new("n").unwrap();
        let phases = [
            sandbox_subscription(),
            in_review(),
            in_review().approve(reviewer(), t0(), &passed()).unwrap(),
            in_review().reject(None, reviewer(), t0()).unwrap(),
        ];
        let expected = |from: PhaseKind, action: PipelineAction| -> Option<PhaseKind> {
            use PhaseKind::*;
            use PipelineAction::*;
            match (from, action) {
                (Sandbox, Submit) => Some(InReview),
                (InReview, Withdraw) | (InReview, RequestChanges) => Some(Sandbox),
                (InReview, Approve) => Some(Production),
                (InReview, Reject) => Some(Rejected),
                (Rejected, Reopen) => Some(Sandbox),
                _ => None,
            }
        };
        for s in phases {
            let from = s.phase.kind();
            for action in [
                PipelineAction::Submit,
                PipelineAction::Withdraw,
                PipelineAction::Approve,
                PipelineAction::Reject,
                PipelineAction::RequestChanges,
                PipelineAction::Reopen,
            ] {
                let result = match action {
                    PipelineAction::Submit => s.submit(dev(), t0(), 1, None),
                    PipelineAction::Withdraw => s.withdraw(dev(), t0()),
                    PipelineAction::Approve => s.approve(reviewer(), t0(), &passed()),
                    PipelineAction::Reject => s.reject(Some(notes()), reviewer(), t0()),
                    PipelineAction::RequestChanges => s.request_changes(notes(), reviewer(), t0()),
                    PipelineAction::Reopen => s.reopen(reviewer(), t0()),
                    _ => unreachable!(),
                };
                match (expected(from, action), result) {
                    (Some(to), Ok(next)) => {
                        assert_eq!(next.phase.kind(), to, "{from} {action:?}");
                        assert_eq!(
                            next.history.len(),
                            s.history.len() + 1,
                            "each transition is recorded once"
                        );
                    }
                    (None, Err(PipelineError::Transition(e))) => {
                        assert_eq!(e, TransitionError { from, action });
                        assert!(
                            e.to_string().contains(from.as_str()),
                            "the error names the current phase: {e}"
                        );
                    }
                    (want, got) => panic!("{from} {action:?}: expected {want:?}, got {got:?}"),
                }
            }
        }
    }

    #[test]
    fn sandbox_access_grant_and_decline() {
        let mut s = sandbox_subscription();
        s.sandbox_access = SandboxAccess::Requested { at: t0() };
        assert!(
            s.grant_sandbox_access(reviewer(), t0())
                .unwrap()
                .sandbox_access
                .is_granted()
        );
        let d = s.decline_sandbox_access(None, reviewer(), t0()).unwrap();
        assert_eq!(d.phase.kind(), PhaseKind::Rejected);
        assert_eq!(
            sandbox_subscription().grant_sandbox_access(reviewer(), t0()),
            Err(PipelineError::SandboxAccessNotRequested)
        );
    }

    #[test]
    fn only_manual_gates_are_signed_off_during_review() {
        let s = in_review();
        assert!(
            s.sign_off(Gate::ConsentHandling, true, reviewer(), t0())
                .is_ok()
        );
        assert_eq!(
            s.sign_off(Gate::BillingOwnership, true, reviewer(), t0()),
            Err(PipelineError::NotAManualGate(Gate::BillingOwnership))
        );
        assert_eq!(
            s.sign_off(Gate::ConsentHandling, false, reviewer(), t0()),
            Err(PipelineError::GateNotApplicable(Gate::ConsentHandling))
        );
        assert!(
            sandbox_subscription()
                .sign_off(Gate::ConsentHandling, true, reviewer(), t0())
                .is_err()
        );
        let resubmitted = s
            .sign_off(Gate::ConsentHandling, true, reviewer(), t0())
            .unwrap()
            .request_changes(Notes::new("x").unwrap(), reviewer(), t0())
            .unwrap()
            .submit(dev(), t0(), 1, None)
            .unwrap();
        assert!(
            resubmitted.sign_offs.is_empty(),
            "a new submission is signed off anew"
        );
    }
}
