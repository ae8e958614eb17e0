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
    /// Public documentation: no account needed.
    Docs,
    /// Building and testing with sandbox credentials.
    Sandbox,
    /// Live traffic with production credentials.
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
    /// Sign in, or create an account.
    SignIn,
    /// Create a workspace, or ask to join one.
    CreateOrJoinWorkspace,
    /// Accept the pending invitation to a workspace.
    AcceptInvitation,
    /// Wait for an owner to approve the join request.
    AwaitJoinApproval,
    /// Create one sandbox project with a clear purpose.
    CreateSandboxProject,
    /// Subscribe the sandbox project to a plan (requesting sandbox access where the plan asks for
    /// approval).
    Subscribe,
    /// Wait for a reviewer to grant sandbox access (`approval_required` plans).
    AwaitSandboxAccess,
    /// Create the first sandbox credential.
    CreateSandboxCredential,
    /// Make a first protected call with the sandbox credential.
    MakeFirstCall,
    /// Connect a webhook endpoint and verify it (challenge, then a signed test delivery).
    VerifyWebhookEndpoint,
    /// Submit the subscription for review (technical lead or owner).
    SubmitForReview,
    /// Clear the remaining gate named in `blocking_gate` (e.g. name a billing owner).
    ClearGate,
    /// Wait while reviewers work the submission; nothing is missing on the team's side.
    AwaitReview,
    /// Clone the approved sandbox project into a production project.
    CloneToProduction,
    /// Pay for the paid plan: production credentials stay locked until payment is complete.
    CompletePayment,
    /// Create the production credential.
    CreateProductionCredential,
    /// Finish the first live operating pass on the production project.
    CompleteOperatingPass,
    /// Everything is set up: go to the dashboard (usage, billing, audit), not back to docs.
    OpenDashboard,
    /// Read the reviewer's rejection notes (the subscription is terminal unless an admin reopens
    /// it).
    ReadRejection,
}

/// The one next step for an account, workspace, project or subscription: shown on every page and
/// API resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextStep {
    /// The lane the step is in (Docs, Sandbox or Production).
    pub lane: Lane,
    /// What to do.
    pub action: StepAction,
    /// Who must do it.
    pub actor: StepActor,
    /// The gate that blocks, while a submission is in review.
    pub blocking_gate: Option<Gate>,
    /// One sentence for the page.
    pub title: String,
}

/// Where the account stands before any workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessFacts {
    /// Not signed in.
    SignedOut,
    /// Has an account, belongs to no workspace and has nothing pending.
    SignedUp,
    /// Invited to a workspace and has not accepted yet.
    InvitedTo {
        /// The inviting organization's name.
        organization: String,
    },
    /// Asked to join a workspace; an owner has not decided yet.
    AskedToJoin {
        /// The organization's name.
        organization: String,
    },
    /// Member of at least one workspace: the workspace's own facts decide the step.
    Attached,
}

/// Facts about the subscription being walked, gathered by the service.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubscriptionFacts {
    /// The subscription's phase; `None` before any subscription exists.
    pub phase: Option<PhaseKind>,
    /// A reviewer sent the submission back with notes.
    pub changes_requested: bool,
    /// Sandbox access is granted (always, on an `open` plan).
    pub sandbox_access_granted: bool,
    /// Active (not revoked) sandbox credentials of the subscription.
    pub active_sandbox_credentials: usize,
    /// Calls made with the subscription's sandbox credentials.
    pub sandbox_calls: u64,
    /// The plan applies the webhook verification gate, so the endpoint is asked for before
    /// submission.
    pub webhook_gate_applies: bool,
    /// The project has a verified webhook endpoint with a successful signed test delivery.
    pub webhook_verified: bool,
    /// Present while in review.
    pub gates: Option<GateEvaluation>,
    /// The sandbox project has been cloned into a production project.
    pub production_project: bool,
    /// Why production credentials are locked, if they are.
    pub production_lock: Option<LockReason>,
    /// Active production credentials of the subscription.
    pub production_credentials: usize,
    /// The production project's first live operating pass is complete.
    pub operating_pass_done: bool,
}

/// Everything the next step reads.
#[derive(Debug, Clone, PartialEq)]
pub struct JourneyFacts {
    /// Where the account stands before any workspace.
    pub access: AccessFacts,
    /// The workspace has at least one sandbox project.
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
///
/// # Examples
///
/// A member of a workspace with no project yet is asked for one sandbox project:
///
/// ```
/// use onboarding_core::next_step::{next_step, AccessFacts, JourneyFacts, Lane, StepAction};
///
/// let signed_up = JourneyFacts {
///     access: AccessFacts::SignedUp,
///     has_sandbox_project: false,
///     subscription: None,
/// };
/// assert_eq!(next_step(&signed_up).action, StepAction::CreateOrJoinWorkspace);
///
/// let attached = JourneyFacts { access: AccessFacts::Attached, ..signed_up };
/// let step = next_step(&attached);
/// assert_eq!(step.lane, Lane::Sandbox);
/// assert_eq!(step.action, StepAction::CreateSandboxProject);
/// assert_eq!(step.blocking_gate, None);
/// ```
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
            } else if s.production_lock == Some(LockReason::PaymentOverdue) {
                step(
                    Lane::Production,
                    CompletePayment,
                    StepActor::Member(Role::Billing),
                    "Pay the overdue invoice to create production credentials again",
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
