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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    Sandbox {
        changes_requested: Option<ChangesRequested>,
    },
    InReview {
        submitted_at: DateTime<Utc>,
        submitted_by: AccountId,
    },
    Production {
        approved_at: DateTime<Utc>,
        approved_by: StaffId,
    },
    Rejected {
        notes: Option<Notes>,
        at: DateTime<Utc>,
        by: StaffId,
    },
}

/// The Changes Requested flag with the reviewer's notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesRequested {
    pub notes: Notes,
    pub at: DateTime<Utc>,
    pub by: StaffId,
}

/// The phase without its data: for storage, queries and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    Sandbox,
    InReview,
    Production,
    Rejected,
}

impl PhaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseKind::Sandbox => "sandbox",
            PhaseKind::InReview => "in_review",
            PhaseKind::Production => "production",
            PhaseKind::Rejected => "rejected",
        }
    }

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
    Submit,
    Withdraw,
    Approve,
    Reject,
    RequestChanges,
    Reopen,
    GrantSandboxAccess,
    DeclineSandboxAccess,
}

impl PipelineAction {
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
    pub from: PhaseKind,
    pub action: PipelineAction,
}

impl Phase {
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

    pub fn approve(&self, by: StaffId, at: DateTime<Utc>) -> Result<Phase, TransitionError> {
        match self {
            Phase::InReview { .. } => Ok(Phase::Production {
                approved_at: at,
                approved_by: by,
            }),
            _ => Err(self.refuse(PipelineAction::Approve)),
        }
    }

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
    Requested {
        at: DateTime<Utc>,
    },
    Granted {
        at: DateTime<Utc>,
        by: Option<StaffId>,
    },
    Declined {
        at: DateTime<Utc>,
        by: StaffId,
    },
}

impl SandboxAccess {
    pub fn is_granted(&self) -> bool {
        matches!(self, SandboxAccess::Granted { .. })
    }
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
    pub action: PipelineAction,
    pub by: Actor,
    pub at: DateTime<Utc>,
    pub notes: Option<Notes>,
}

/// A reviewer's sign-off of a manual gate, for the current submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    pub gate: Gate,
    pub by: StaffId,
    pub at: DateTime<Utc>,
}

/// A subscription: a sandbox project tied to a plan, holding exactly one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub workspace_id: WorkspaceId,
    /// The sandbox project this subscription powers.
    pub project_id: ProjectId,
    pub plan_id: PlanId,
    pub phase: Phase,
    pub sandbox_access: SandboxAccess,
    /// The latest submitted answers.
    pub answers: Option<ValidAnswers>,
    pub sign_offs: Vec<SignOff>,
    /// Every decision, oldest first; Changes Requested notes stay here after resubmission.
    pub history: Vec<Decision>,
    /// The production project cloned from the sandbox project, once cloned.
    pub production_project_id: Option<ProjectId>,
    pub created_at: DateTime<Utc>,
    pub created_by: AccountId,
    /// Optimistic concurrency: a transition is stored only if nobody changed the row since.
    pub version: i64,
}

/// Why a pipeline step was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(
        "a subscription needs at least one active sandbox credential before it can be submitted for review"
    )]
    NoSandboxCredential,
    #[error("sandbox access has not been granted yet")]
    SandboxAccessNotGranted,
    #[error(transparent)]
    Answers(#[from] AnswerErrors),
    #[error("gate `{}` has not passed", .0.as_str())]
    GateNotPassed(Gate),
    #[error("only the member who submitted can withdraw the submission")]
    NotSubmitter,
    #[error("sandbox access is not awaiting a decision")]
    SandboxAccessNotRequested,
    #[error("gate `{}` is not signed off by hand", .0.as_str())]
    NotAManualGate(Gate),
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
    Approved,
    SubmissionRejected { notes: Option<Notes> },
    ChangesRequested { notes: Notes },
}

impl Notice {
    pub fn title(&self) -> &'static str {
        match self {
            Notice::Approved => "Approved",
            Notice::SubmissionRejected { .. } => "Submission Rejected",
            Notice::ChangesRequested { .. } => "Changes Requested",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Complete,
    Current,
    Upcoming,
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Step {
    pub label: &'static str,
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
