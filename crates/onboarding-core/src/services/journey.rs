//! Gathers the facts the next-step function reads, for an account, a workspace, a project or a
//! subscription. The rule itself is [`crate::next_step::next_step`].

use serde::Serialize;

use super::*;
use crate::credential::production_lock;
use crate::gates::{Gate, GateEvaluation};
use crate::next_step::{AccessFacts, JourneyFacts, NextStep, SubscriptionFacts, next_step};
use crate::pipeline::{Phase, PhaseKind, Subscription};
use crate::plan::Plan;
use crate::project::{Environment, Project};
use crate::workspace::{AccessState, Account, AttachmentVia, Workspace};

/// A next step together with the lane posture, for pages that show both.
#[derive(Debug, Clone, Serialize)]
pub struct JourneyView {
    /// The one next step.
    pub next_step: NextStep,
}

impl Workspaces {
    /// The next step of a workspace, for its members.
    pub async fn next_step_for_workspace(
        &self,
        caller: Caller,
        ws: WorkspaceId,
    ) -> ServiceResult<NextStep> {
        self.cx.require_read(caller, ws).await?;
        let ws = self.cx.load_workspace(ws).await?;
        self.cx.workspace_next_step(&ws).await
    }
}

impl Context {
    pub(super) async fn subscription_facts(
        &self,
        s: &Subscription,
        plan: &Plan,
    ) -> ServiceResult<SubscriptionFacts> {
        let creds = self.p.credentials.credentials_of_subscription(s.id).await?;
        let active = |env: Environment| {
            creds
                .iter()
                .filter(|c| c.environment == env && c.is_active())
                .count()
        };
        let endpoints = self.p.webhooks.endpoints(s.project_id).await?;
        let gates: Option<GateEvaluation> = match s.phase.kind() {
            PhaseKind::InReview => Some(self.pipeline().evaluate_gates(s, plan).await?),
            _ => None,
        };
        let operating_pass_done = match s.production_project_id {
            Some(pid) => match self.p.projects.project(pid).await? {
                Some(p) => self
                    .projects()
                    .operating_pass(&p)
                    .await?
                    .is_some_and(|c| c.iter().all(|i| i.done)),
                None => false,
            },
            None => false,
        };
        let mut endpoints_for_calls = plan.endpoints.clone();
        endpoints_for_calls.push("verify".into());
        Ok(SubscriptionFacts {
            phase: Some(s.phase.kind()),
            changes_requested: matches!(
                s.phase,
                Phase::Sandbox {
                    changes_requested: Some(_)
                }
            ),
            sandbox_access_granted: s.sandbox_access.is_granted(),
            active_sandbox_credentials: active(Environment::Sandbox),
            sandbox_calls: self
                .p
                .usage
                .successful_calls(s.project_id, endpoints_for_calls)
                .await?,
            webhook_gate_applies: plan.applies(Gate::WebhookVerification),
            webhook_verified: endpoints.iter().any(|e| e.is_verified()),
            gates,
            production_project: s.production_project_id.is_some(),
            production_lock: production_lock(s, plan, self.p.payments.is_paid(s.id).await?),
            production_credentials: active(Environment::Production),
            operating_pass_done,
        })
    }

    pub(super) async fn subscription_next_step(
        &self,
        s: &Subscription,
        plan: &Plan,
    ) -> ServiceResult<NextStep> {
        let facts = JourneyFacts {
            access: AccessFacts::Attached,
            has_sandbox_project: true,
            subscription: Some(self.subscription_facts(s, plan).await?),
        };
        Ok(next_step(&facts))
    }

    pub(super) async fn workspace_next_step(&self, ws: &Workspace) -> ServiceResult<NextStep> {
        let projects = self.p.projects.projects(ws.id).await?;
        let has_sandbox_project = projects
            .iter()
            .any(|p| p.environment == Environment::Sandbox);
        let subs = self.p.subscriptions.subscriptions(ws.id).await?;
        let subscription = match crate::pipeline::furthest(&subs) {
            Some(s) => {
                let plan = self.catalog().plan(s.plan_id).await?;
                Some(self.subscription_facts(s, &plan).await?)
            }
            None => None,
        };
        Ok(next_step(&JourneyFacts {
            access: AccessFacts::Attached,
            has_sandbox_project,
            subscription,
        }))
    }

    pub(super) async fn project_next_step(
        &self,
        project: &Project,
        sub: Option<&Subscription>,
    ) -> ServiceResult<NextStep> {
        let subscription = match sub {
            Some(s) => {
                let plan = self.catalog().plan(s.plan_id).await?;
                Some(self.subscription_facts(s, &plan).await?)
            }
            None => None,
        };
        let _ = project;
        Ok(next_step(&JourneyFacts {
            access: AccessFacts::Attached,
            has_sandbox_project: true,
            subscription,
        }))
    }

    pub(super) async fn account_next_step(
        &self,
        _account: &Account,
        access: &AccessState,
    ) -> ServiceResult<NextStep> {
        match access {
            AccessState::SignedUp => Ok(next_step(&JourneyFacts {
                access: AccessFacts::SignedUp,
                has_sandbox_project: false,
                subscription: None,
            })),
            AccessState::AwaitingAttachment { pending } => {
                let first = &pending[0];
                let access = match &first.via {
                    AttachmentVia::Invitation { .. } => AccessFacts::InvitedTo {
                        organization: first.organization.clone(),
                    },
                    AttachmentVia::JoinRequest { .. } => AccessFacts::AskedToJoin {
                        organization: first.organization.clone(),
                    },
                };
                Ok(next_step(&JourneyFacts {
                    access,
                    has_sandbox_project: false,
                    subscription: None,
                }))
            }
            AccessState::Attached { workspaces } => {
                let ws = self.load_workspace(workspaces[0]).await?;
                self.workspace_next_step(&ws).await
            }
        }
    }
}
