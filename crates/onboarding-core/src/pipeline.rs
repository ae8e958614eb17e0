//! The subscription pipeline (spec §5): one phase at a time, and the only transitions allowed.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, StaffId};
use crate::values::Notes;

mod subscription;
pub use subscription::{
    Decision, Notice, PipelineError, SandboxAccess, SignOff, Step, StepState, Subscription,
    furthest,
};

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

impl PhaseKind {
    /// How far along the pipeline: Production, then In Review, then Sandbox, Rejected last.
    pub fn rank(self) -> u8 {
        match self {
            PhaseKind::Production => 3,
            PhaseKind::InReview => 2,
            PhaseKind::Sandbox => 1,
            PhaseKind::Rejected => 0,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::{Gate, GateActor, GateEvaluation, GateState, GateStatus};
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
