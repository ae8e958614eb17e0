//! A subscription on its way through the pipeline: its phase, sandbox access, decisions, sign-offs, and what its page shows (notice, stepper).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::form::{AnswerErrors, ValidAnswers};
use crate::gates::{Gate, GateEvaluation};
use crate::ids::{AccountId, PlanId, ProjectId, StaffId, SubscriptionId, WorkspaceId};
use crate::values::Notes;

use super::{Phase, PhaseKind, PipelineAction, TransitionError};

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

/// The subscription furthest along the pipeline (the most recent on ties): the one a
/// workspace's next step is most likely about.
pub fn furthest(subs: &[Subscription]) -> Option<&Subscription> {
    subs.iter()
        .max_by_key(|s| (s.phase.kind().rank(), s.created_at))
}
