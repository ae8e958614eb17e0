//! What the pipeline use cases share: loading a subscription with its checks, gate evaluation, storing a transition.

use serde_json::json;

use crate::gates::Responsible;
use crate::gates::{GateEvaluation, GateFacts, evaluate};
use crate::pipeline::{PhaseKind, Subscription};
use crate::plan::Plan;
use crate::services::*;
use crate::values::Notes;
use crate::webhook::EventType;
use crate::workspace::{Responsibility, Workspace};

impl Context {
    pub(in crate::services) async fn load_subscription(
        &self,
        id: SubscriptionId,
    ) -> ServiceResult<Subscription> {
        self.p
            .subscriptions
            .subscription(id)
            .await?
            .ok_or(ServiceError::NotFound {
                entity: "subscription",
            })
    }

    /// Authorizes a staff action on one subscription and loads it. Everybody but staff whose
    /// role allows the action is refused without learning whether the id exists in another
    /// tenant: an account that is not a member of the subscription's workspace gets
    /// `NotFound` (as for every foreign resource), a member gets `Forbidden`.
    pub(in crate::services) async fn require_staff_on(
        &self,
        caller: Caller,
        action: StaffAction,
        id: SubscriptionId,
    ) -> ServiceResult<(StaffId, Subscription)> {
        match self.require_staff(caller, action) {
            Ok(staff) => Ok((staff, self.load_subscription(id).await?)),
            Err(forbidden) => {
                if let Caller::Account(_) = caller {
                    let s = self.load_subscription(id).await?;
                    self.membership(caller, s.workspace_id)
                        .await
                        .map_err(not_found_as("subscription"))?;
                }
                Err(forbidden)
            }
        }
    }

    /// A workspace and its members: what the gates read of the workspace.
    pub(in crate::services) async fn workspace_with_members(
        &self,
        id: WorkspaceId,
    ) -> ServiceResult<(Workspace, Vec<Membership>)> {
        let ws = self.load_workspace(id).await?;
        let members = self.p.workspaces.members(id).await?;
        Ok((ws, members))
    }

    /// [`Self::evaluate_gates`] with the workspace already read.
    pub(in crate::services) async fn evaluate_gates_in(
        &self,
        s: &Subscription,
        plan: &Plan,
        ws: &Workspace,
        members: &[Membership],
    ) -> ServiceResult<GateEvaluation> {
        let endpoints = self.p.webhooks.endpoints(s.project_id).await?;
        let security = ws.responsible(Responsibility::SecurityOwner);
        let facts = GateFacts {
            answers: s.answers.clone(),
            signed_off: s.signed_off_gates(),
            verified_webhook_endpoint: endpoints.iter().any(|e| e.is_verified()),
            last_test_delivery: self.p.webhooks.last_test_delivery(s.project_id).await?,
            successful_sandbox_calls: self
                .p
                .usage
                .successful_calls(s.project_id, plan.endpoints.clone())
                .await?,
            billing_owner: responsible(ws, Responsibility::BillingOwner, members),
            audit_contact: responsible(ws, Responsibility::AuditContact, members),
            security_owner: responsible(ws, Responsibility::SecurityOwner, members),
            security_owner_submitted: security.is_some() && security == s.submitter(),
            security_owner_is_owner: security.is_some_and(|id| {
                members
                    .iter()
                    .any(|m| m.account_id == id && m.roles.contains(crate::roles::Role::Owner))
            }),
        };
        Ok(evaluate(plan, &facts, self.now()))
    }

    pub(in crate::services) fn check_version(
        s: &Subscription,
        expected: Option<i64>,
    ) -> ServiceResult<()> {
        match expected {
            Some(v) if v != s.version => Err(ServiceError::Stale {
                message: format!(
                    "the subscription changed since version {v}; it is now {} at version {}",
                    s.phase.kind(),
                    s.version
                ),
                current: Some(s.phase.kind().as_str().into()),
            }),
            _ => Ok(()),
        }
    }

    /// Stores a transition with the audit event (and webhook event) drafted for it. A lost
    /// race (the version moved) is reported with the current phase.
    pub(in crate::services) async fn store_transition(
        &self,
        before: &Subscription,
        mut after: Subscription,
        draft: Draft<'_>,
    ) -> ServiceResult<Subscription> {
        let set = draft.update(&mut after).into_set()?;
        match self.p.uow.commit(set).await {
            Ok(()) => Ok(after),
            Err(StoreError::Conflict(_)) => {
                let now = self.load_subscription(before.id).await?;
                Err(ServiceError::Stale {
                    message: format!(
                        "another decision was recorded first; the subscription is now {}",
                        now.phase.kind()
                    ),
                    current: Some(now.phase.kind().as_str().into()),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The audit event and webhook event of a transition, by whoever made it; `s` is the
    /// transition's result, not stored yet (the payload names the version it will have).
    pub(in crate::services) fn pipeline_event(
        &self,
        s: &Subscription,
        event: EventType,
        notes: Option<&Notes>,
        at: DateTime<Utc>,
    ) -> Draft<'_> {
        let details = json!({ "phase": s.phase.kind(), "notes": notes });
        let actor = s.history.last().map_or(Actor::System, |d| d.by);
        let payload = json!({ "subscription_id": s.id, "phase": s.phase.kind(), "notes": notes, "version": s.version + 1 });
        self.change_in(actor, at, s.workspace_id, Some(s.project_id))
            .audit(event.as_str(), s.id, details)
            .event(event, payload)
    }
}

impl Context {
    /// At most one live (not rejected) subscription per project and plan.
    pub(in crate::services) async fn not_subscribed(
        &self,
        ws: WorkspaceId,
        project: ProjectId,
        plan: PlanId,
    ) -> ServiceResult<()> {
        let existing = self.p.subscriptions.subscriptions(ws).await?;
        if existing.iter().any(|s| {
            s.project_id == project && s.plan_id == plan && s.phase.kind() != PhaseKind::Rejected
        }) {
            return Err(ServiceError::Conflict {
                message: "this project is already subscribed to this plan".into(),
                current: Some("subscribed".into()),
            });
        }
        Ok(())
    }
}

fn responsible(ws: &Workspace, r: Responsibility, members: &[Membership]) -> Responsible {
    match ws.responsible(r) {
        None => Responsible::NotNamed,
        Some(id) => match members.iter().find(|m| m.account_id == id) {
            Some(m) if m.roles.contains(r.required_role()) => Responsible::Named,
            _ => Responsible::LacksRole,
        },
    }
}
