//! The exact next step (spec §11): one pure function that walks the onboarding path and names
//! the first thing not yet done, which lane it is in, who must act and which gate blocks it.

use serde::{Deserialize, Serialize};

use crate::credential::LockReason;
use crate::gates::{Gate, GateActor, GateEvaluation};
use crate::pipeline::PhaseKind;
use crate::roles::Role;

/// The lanes shown everywhere: Docs → Sandbox → Production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    Docs,
    Sandbox,
    Production,
}

/// Who must act on the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "role", rename_all = "snake_case")]
pub enum StepActor {
    /// The signed-in person themselves.
    You,
    /// A workspace member holding this role (owners may always act).
    Member(Role),
    /// The provider's reviewers.
    Reviewer,
    /// A provider admin.
    Admin,
}

/// The step itself. The snake_case code is stable; the portal maps it to a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepAction {
    SignIn,
    CreateOrJoinWorkspace,
    AcceptInvitation,
    AwaitJoinApproval,
    CreateSandboxProject,
    Subscribe,
    AwaitSandboxAccess,
    CreateSandboxCredential,
    MakeFirstCall,
    VerifyWebhookEndpoint,
    SubmitForReview,
    ClearGate,
    AwaitReview,
    CloneToProduction,
    CompletePayment,
    CreateProductionCredential,
    CompleteOperatingPass,
    OpenDashboard,
    ReadRejection,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextStep {
    pub lane: Lane,
    pub action: StepAction,
    pub actor: StepActor,
    /// The gate that blocks, while a submission is in review.
    pub blocking_gate: Option<Gate>,
    /// One sentence for the page.
    pub title: String,
}

/// Where the account stands before any workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessFacts {
    SignedOut,
    SignedUp,
    InvitedTo { organization: String },
    AskedToJoin { organization: String },
    Attached,
}

/// Facts about the subscription being walked, gathered by the service.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubscriptionFacts {
    pub phase: Option<PhaseKind>,
    pub changes_requested: bool,
    pub sandbox_access_granted: bool,
    pub active_sandbox_credentials: usize,
    pub sandbox_calls: u64,
    pub webhook_gate_applies: bool,
    pub webhook_verified: bool,
    /// Present while in review.
    pub gates: Option<GateEvaluation>,
    pub production_project: bool,
    pub production_lock: Option<LockReason>,
    pub production_credentials: usize,
    pub operating_pass_done: bool,
}

/// Everything the next step reads.
#[derive(Debug, Clone, PartialEq)]
pub struct JourneyFacts {
    pub access: AccessFacts,
    pub has_sandbox_project: bool,
    /// The subscription furthest along, if any.
    pub subscription: Option<SubscriptionFacts>,
}

fn step(lane: Lane, action: StepAction, actor: StepActor, title: impl Into<String>) -> NextStep {
    NextStep {
        lane,
        action,
        actor,
        blocking_gate: None,
        title: title.into(),
    }
}

/// The one next step.
pub fn next_step(f: &JourneyFacts) -> NextStep {
    use StepAction::*;
    let lead = StepActor::Member(Role::TechnicalLead);
    let devr = StepActor::Member(Role::Developer);
    match &f.access {
        AccessFacts::SignedOut => {
            return step(
                Lane::Docs,
                SignIn,
                StepActor::You,
                "Sign in or create an account",
            );
        }
        AccessFacts::SignedUp => {
            return step(
                Lane::Docs,
                CreateOrJoinWorkspace,
                StepActor::You,
                "Create a workspace for your organization, or ask to join one",
            );
        }
        AccessFacts::InvitedTo { organization } => {
            return step(
                Lane::Docs,
                AcceptInvitation,
                StepActor::You,
                format!("Accept your invitation to {organization}"),
            );
        }
        AccessFacts::AskedToJoin { organization } => {
            return step(
                Lane::Docs,
                AwaitJoinApproval,
                StepActor::Member(Role::Owner),
                format!("An owner of {organization} must approve your request to join"),
            );
        }
        AccessFacts::Attached => {}
    }
    if !f.has_sandbox_project {
        return step(
            Lane::Sandbox,
            CreateSandboxProject,
            devr,
            "Create one sandbox project and label its purpose clearly",
        );
    }
    let Some(s) = &f.subscription else {
        return step(
            Lane::Sandbox,
            Subscribe,
            devr,
            "Subscribe the sandbox project to a plan to request sandbox access",
        );
    };
    match s.phase.unwrap_or(PhaseKind::Sandbox) {
        PhaseKind::Rejected => step(
            Lane::Sandbox,
            ReadRejection,
            StepActor::Admin,
            "The submission was rejected: read the reviewer's notes; a provider admin may reopen it",
        ),
        PhaseKind::Sandbox => {
            if !s.sandbox_access_granted {
                step(
                    Lane::Sandbox,
                    AwaitSandboxAccess,
                    StepActor::Reviewer,
                    "A provider reviewer must grant sandbox access",
                )
            } else if s.active_sandbox_credentials == 0 {
                step(
                    Lane::Sandbox,
                    CreateSandboxCredential,
                    devr,
                    "Create your first sandbox credential",
                )
            } else if s.sandbox_calls == 0 {
                step(
                    Lane::Sandbox,
                    MakeFirstCall,
                    devr,
                    "Make a first protected call with the sandbox credential",
                )
            } else if s.webhook_gate_applies && !s.webhook_verified {
                step(
                    Lane::Sandbox,
                    VerifyWebhookEndpoint,
                    devr,
                    "Connect and verify one webhook endpoint",
                )
            } else if s.changes_requested {
                step(
                    Lane::Sandbox,
                    SubmitForReview,
                    lead,
                    "Address the reviewer's requested changes, then submit for review again",
                )
            } else {
                step(Lane::Sandbox, SubmitForReview, lead, "Submit for review")
            }
        }
        PhaseKind::InReview => match s.gates.as_ref().and_then(|g| g.remaining_gate()) {
            Some(g) => {
                let actor = match &g.state {
                    crate::gates::GateState::Pending { actor, .. }
                    | crate::gates::GateState::Failed { actor, .. } => *actor,
                    crate::gates::GateState::Passed => GateActor::Reviewer,
                };
                let (action, actor) = match actor {
                    GateActor::Member(r) => (ClearGate, StepActor::Member(r)),
                    GateActor::Reviewer => (AwaitReview, StepActor::Reviewer),
                };
                NextStep {
                    lane: Lane::Production,
                    action,
                    actor,
                    blocking_gate: Some(g.gate),
                    title: format!("Remaining gate: {}", g.gate.title()),
                }
            }
            None => step(
                Lane::Production,
                AwaitReview,
                StepActor::Reviewer,
                "Every gate has passed: a reviewer can approve",
            ),
        },
        PhaseKind::Production => {
            if !s.production_project {
                step(
                    Lane::Production,
                    CloneToProduction,
                    lead,
                    "Clone the sandbox project into production",
                )
            } else if s.production_lock == Some(LockReason::PaymentRequired) {
                step(
                    Lane::Production,
                    CompletePayment,
                    StepActor::Member(Role::Billing),
                    "Complete payment to unlock production credentials",
                )
            } else if s.production_credentials == 0 {
                step(
                    Lane::Production,
                    CreateProductionCredential,
                    lead,
                    "Create the production credential",
                )
            } else if !s.operating_pass_done {
                step(
                    Lane::Production,
                    CompleteOperatingPass,
                    StepActor::Member(Role::Owner),
                    "Complete the first live operating pass",
                )
            } else {
                step(
                    Lane::Production,
                    OpenDashboard,
                    StepActor::You,
                    "Open the dashboard: usage, billing and audit",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::{GateState, GateStatus};

    fn attached(s: Option<SubscriptionFacts>) -> JourneyFacts {
        JourneyFacts {
            access: AccessFacts::Attached,
            has_sandbox_project: true,
            subscription: s,
        }
    }

    fn sandbox() -> SubscriptionFacts {
        SubscriptionFacts {
            phase: Some(PhaseKind::Sandbox),
            sandbox_access_granted: true,
            active_sandbox_credentials: 1,
            sandbox_calls: 3,
            webhook_gate_applies: true,
            webhook_verified: true,
            ..Default::default()
        }
    }

    fn action(f: JourneyFacts) -> StepAction {
        next_step(&f).action
    }

    #[test]
    fn before_a_workspace() {
        let f = |access| JourneyFacts {
            access,
            has_sandbox_project: false,
            subscription: None,
        };
        assert_eq!(action(f(AccessFacts::SignedOut)), StepAction::SignIn);
        assert_eq!(
            action(f(AccessFacts::SignedUp)),
            StepAction::CreateOrJoinWorkspace
        );
        assert_eq!(
            action(f(AccessFacts::InvitedTo {
                organization: "Acme".into()
            })),
            StepAction::AcceptInvitation
        );
        let s = next_step(&f(AccessFacts::AskedToJoin {
            organization: "Acme".into(),
        }));
        assert_eq!(
            (s.action, s.actor),
            (
                StepAction::AwaitJoinApproval,
                StepActor::Member(Role::Owner)
            )
        );
        assert!(s.title.contains("Acme"));
        assert_eq!(
            action(f(AccessFacts::Attached)),
            StepAction::CreateSandboxProject
        );
    }

    #[test]
    fn through_the_sandbox_lane() {
        assert_eq!(action(attached(None)), StepAction::Subscribe);
        let mut s = sandbox();
        s.sandbox_access_granted = false;
        assert_eq!(action(attached(Some(s))), StepAction::AwaitSandboxAccess);
        let mut s = sandbox();
        s.active_sandbox_credentials = 0;
        assert_eq!(
            action(attached(Some(s))),
            StepAction::CreateSandboxCredential
        );
        let mut s = sandbox();
        s.sandbox_calls = 0;
        assert_eq!(action(attached(Some(s))), StepAction::MakeFirstCall);
        let mut s = sandbox();
        s.webhook_verified = false;
        assert_eq!(
            action(attached(Some(s.clone()))),
            StepAction::VerifyWebhookEndpoint
        );
        s.webhook_gate_applies = false;
        assert_eq!(action(attached(Some(s))), StepAction::SubmitForReview);
        let mut s = sandbox();
        s.changes_requested = true;
        let n = next_step(&attached(Some(s)));
        assert_eq!(
            (n.action, n.actor),
            (
                StepAction::SubmitForReview,
                StepActor::Member(Role::TechnicalLead)
            )
        );
        assert!(n.title.contains("changes"));
    }

    #[test]
    fn in_review_names_the_remaining_gate_and_who_must_act() {
        let mut s = sandbox();
        s.phase = Some(PhaseKind::InReview);
        s.gates = Some(GateEvaluation {
            gates: vec![
                GateStatus {
                    gate: Gate::DeclaredUseCase,
                    state: GateState::Passed,
                },
                GateStatus {
                    gate: Gate::BillingOwnership,
                    state: GateState::Pending {
                        missing: "x".into(),
                        actor: GateActor::Member(Role::Owner),
                    },
                },
            ],
        });
        let n = next_step(&attached(Some(s.clone())));
        assert_eq!(
            (n.lane, n.action, n.blocking_gate),
            (
                Lane::Production,
                StepAction::ClearGate,
                Some(Gate::BillingOwnership)
            )
        );
        assert_eq!(n.actor, StepActor::Member(Role::Owner));
        s.gates = Some(GateEvaluation {
            gates: vec![GateStatus {
                gate: Gate::ConsentHandling,
                state: GateState::Pending {
                    missing: "x".into(),
                    actor: GateActor::Reviewer,
                },
            }],
        });
        assert_eq!(
            next_step(&attached(Some(s.clone()))).actor,
            StepActor::Reviewer
        );
        s.gates = Some(GateEvaluation { gates: vec![] });
        assert_eq!(action(attached(Some(s))), StepAction::AwaitReview);
    }

    #[test]
    fn through_the_production_lane_to_the_dashboard() {
        let mut s = sandbox();
        s.phase = Some(PhaseKind::Production);
        assert_eq!(
            action(attached(Some(s.clone()))),
            StepAction::CloneToProduction
        );
        s.production_project = true;
        s.production_lock = Some(LockReason::PaymentRequired);
        assert_eq!(
            action(attached(Some(s.clone()))),
            StepAction::CompletePayment
        );
        s.production_lock = None;
        assert_eq!(
            action(attached(Some(s.clone()))),
            StepAction::CreateProductionCredential
        );
        s.production_credentials = 1;
        assert_eq!(
            action(attached(Some(s.clone()))),
            StepAction::CompleteOperatingPass
        );
        s.operating_pass_done = true;
        let n = next_step(&attached(Some(s)));
        assert_eq!(n.action, StepAction::OpenDashboard);
        assert_ne!(n.lane, Lane::Docs, "never back to docs after go-live");
    }

    #[test]
    fn rejected() {
        let mut s = sandbox();
        s.phase = Some(PhaseKind::Rejected);
        assert_eq!(action(attached(Some(s))), StepAction::ReadRejection);
    }
}
