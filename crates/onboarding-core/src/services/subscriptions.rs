//! The pipeline use cases: subscribe, submit, withdraw, the reviewers' decisions, sign-offs,
//! gates and the subscription page. The go-live queue is in `review.rs`, payments in
//! `billing.rs`.

use serde::Serialize;
use serde_json::json;

use super::*;
use crate::credential::{Credential, production_lock};
use crate::form::{Answers, SubmissionForm};
use crate::gates::GateEvaluation;
use crate::next_step::NextStep;
use crate::pipeline::{Notice, PhaseKind, SandboxAccess, Step, Subscription};
use crate::plan::{Plan, SandboxAccessMode, TestDataEntry};
use crate::project::Environment;
use crate::values::Notes;
use crate::webhook::EventType;

mod loading;

/// The subscription page.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionView {
    /// The subscription.
    pub subscription: Subscription,
    /// The plan's display name.
    pub plan_name: String,
    /// The three-step stepper.
    pub stepper: [Step; 3],
    /// "Approved", "Submission Rejected" or "Changes Requested", with the reviewer's notes.
    pub notice: Option<Notice>,
    /// "Submit for Review" or "Submitted for Review".
    pub submit_label: &'static str,
    /// Why Submit for Review is disabled, if it is.
    pub submit_blocked_by: Option<String>,
    /// The form to fill in on submit (the plan's steps plus what its gates need); the portal
    /// appends the review step.
    pub form: Option<SubmissionForm>,
    /// Sandbox test data, once sandbox access is granted.
    pub test_data: Vec<TestDataEntry>,
    /// Credentials in the sandbox project.
    pub sandbox_credentials: Vec<Credential>,
    /// Credentials in the production project, once cloned.
    pub production_credentials: Vec<Credential>,
    /// Why the production credential card is locked, if it is.
    pub production_lock: Option<crate::credential::LockReason>,
    /// Whether payment is complete (always `true` on a free plan).
    pub paid: bool,
    /// The gates as they stand now.
    pub gates: GateEvaluation,
    /// The one next step for the subscription.
    pub next_step: NextStep,
}

/// Notes a reviewer may leave out: absent or blank means none; anything else must be valid notes.
fn optional_notes(notes: Option<&str>) -> Result<Option<Notes>, FieldError> {
    notes
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(Notes::new)
        .transpose()
}

impl Pipeline {
    /// Subscribes a sandbox project to a plan. On an `approval_required` plan sandbox access
    /// is requested and waits for a reviewer; on an `open` plan it is granted at once.
    pub async fn subscribe(
        &self,
        caller: Caller,
        project: ProjectId,
        plan: PlanId,
    ) -> ServiceResult<Subscription> {
        let p = self.cx.load_project(project).await?;
        let (account, _) = self
            .cx
            .require_on("project", caller, p.workspace_id, Action::Subscribe)
            .await?;
        let plan = self.cx.catalog().plan(plan).await?;
        // The project, not the request, is at fault here: a business rule on the state of
        // two resources (409), not a malformed input (422).
        if p.environment != Environment::Sandbox {
            return Err(ServiceError::Refused {
                code: RefusalCode::NotASandboxProject,
                message: "subscriptions start from a sandbox project".into(),
            });
        }
        if let Some(e) = p.endpoints.iter().find(|e| !plan.endpoints.contains(e)) {
            return Err(ServiceError::Refused {
                code: RefusalCode::ProjectOutsidePlan,
                message: format!("the project uses `{e}`, which the plan does not grant"),
            });
        }
        if let Some(e) = p.events.iter().find(|e| !plan.events.contains(e)) {
            return Err(ServiceError::Refused {
                code: RefusalCode::ProjectOutsidePlan,
                message: format!("the project uses event `{e}`, which the plan does not grant"),
            });
        }
        self.cx
            .not_subscribed(p.workspace_id, project, plan.id)
            .await?;
        let now = self.cx.now();
        let sandbox_access = match plan.sandbox_access {
            SandboxAccessMode::Open => SandboxAccess::Granted { at: now, by: None },
            SandboxAccessMode::ApprovalRequired => SandboxAccess::Requested { at: now },
        };
        let s = Subscription {
            id: SubscriptionId::from_ulid(self.cx.ulid()),
            workspace_id: p.workspace_id,
            project_id: project,
            plan_id: plan.id,
            phase: crate::pipeline::Phase::Sandbox {
                changes_requested: None,
            },
            sandbox_access,
            answers: None,
            sign_offs: vec![],
            history: vec![],
            production_project_id: None,
            created_at: now,
            created_by: account,
            version: 0,
        };
        // The project names its latest subscription (`ProjectDto.subscription_id`).
        let mut named = p.clone();
        named.subscription_id = Some(s.id);
        let set = self
            .cx
            .change_in(caller.actor(), now, s.workspace_id, Some(project))
            .with(Change::InsertSubscription(s.clone()))
            .update(&mut named)
            .audit(
                "subscription.created",
                s.id,
                json!({ "plan": plan.id, "sandbox_access": sandbox_access.as_str() }),
            )
            .event(
                EventType::SubscriptionCreated,
                json!({ "subscription_id": s.id, "plan_id": plan.id }),
            )
            .into_set()?;
        self.cx
            .commit_checked(set, || {
                self.cx.not_subscribed(p.workspace_id, project, plan.id)
            })
            .await?;
        Ok(s)
    }

    /// Every subscription of the workspace (members and staff).
    pub async fn subscriptions(
        &self,
        caller: Caller,
        ws: WorkspaceId,
    ) -> ServiceResult<Vec<Subscription>> {
        self.cx.require_read(caller, ws).await?;
        Ok(self.cx.p.subscriptions.subscriptions(ws).await?)
    }

    /// Gathers the facts the gates read and evaluates them.
    pub async fn evaluate_gates(
        &self,
        s: &Subscription,
        plan: &Plan,
    ) -> ServiceResult<GateEvaluation> {
        let (ws, members) = self.cx.workspace_with_members(s.workspace_id).await?;
        self.cx.evaluate_gates_in(s, plan, &ws, &members).await
    }

    /// The subscription page: phase, notice, form, credentials, production lock, gates and next
    /// step.
    pub async fn subscription_view(
        &self,
        caller: Caller,
        id: SubscriptionId,
    ) -> ServiceResult<SubscriptionView> {
        let s = self.cx.load_subscription(id).await?;
        self.cx
            .require_read_on("subscription", caller, s.workspace_id)
            .await?;
        let plan = self.cx.catalog().plan(s.plan_id).await?;
        let creds = self
            .cx
            .p
            .credentials
            .credentials_of_subscription(id)
            .await?;
        let (sandbox_credentials, production_credentials): (Vec<_>, Vec<_>) = creds
            .into_iter()
            .partition(|c| c.environment == Environment::Sandbox);
        let active_sandbox = sandbox_credentials.iter().filter(|c| c.is_active()).count();
        let paid = self.cx.p.payments.is_paid(id).await?;
        let submit_blocked_by = match s.phase.kind() {
            PhaseKind::Sandbox if !s.sandbox_access.is_granted() => Some("Sandbox access has not been granted yet.".to_owned()),
            PhaseKind::Sandbox if active_sandbox == 0 => Some("Create a sandbox credential first: a subscription with no sandbox credentials cannot be submitted for review.".to_owned()),
            PhaseKind::Sandbox => None,
            other => Some(format!("The subscription is {}.", other.as_str().replace('_', " "))),
        };
        let gates = self.evaluate_gates(&s, &plan).await?;
        let next_step = self.cx.subscription_next_step(&s, &plan).await?;
        Ok(SubscriptionView {
            plan_name: plan.name.to_string(),
            stepper: s.stepper(),
            notice: s.notice(),
            submit_label: s.submit_label(),
            submit_blocked_by,
            form: plan.effective_form(),
            test_data: if s.sandbox_access.is_granted() {
                plan.test_data.clone()
            } else {
                vec![]
            },
            sandbox_credentials,
            production_credentials,
            production_lock: production_lock(&s, &plan, paid),
            paid,
            gates,
            next_step,
            subscription: s,
        })
    }

    /// Submit for Review: by a technical lead or owner, with answers to the plan's form.
    pub async fn submit(
        &self,
        caller: Caller,
        id: SubscriptionId,
        answers: Option<Answers>,
        expected_version: Option<i64>,
    ) -> ServiceResult<Subscription> {
        let s = self.cx.load_subscription(id).await?;
        let (account, _) = self
            .cx
            .require_on(
                "subscription",
                caller,
                s.workspace_id,
                Action::SubmitForReview,
            )
            .await?;
        Context::check_version(&s, expected_version)?;
        let plan = self.cx.catalog().plan(s.plan_id).await?;
        let active = self
            .cx
            .p
            .credentials
            .credentials_of_subscription(id)
            .await?
            .iter()
            .filter(|c| c.environment == Environment::Sandbox && c.is_active())
            .count();
        let valid = match plan.effective_form() {
            Some(form) => Some(
                form.validate_answers(&answers.unwrap_or_default())
                    .map_err(|e| ServiceError::InvalidFields(e.0))?,
            ),
            None => None,
        };
        let now = self.cx.now();
        let next = s.submit(account, now, active, valid)?;
        let draft = self
            .cx
            .pipeline_event(&next, EventType::SubscriptionSubmitted, None, now);
        self.cx.store_transition(&s, next, draft).await
    }

    /// Withdraw: the submitter takes the submission back before a decision.
    pub async fn withdraw(
        &self,
        caller: Caller,
        id: SubscriptionId,
        expected_version: Option<i64>,
    ) -> ServiceResult<Subscription> {
        let s = self.cx.load_subscription(id).await?;
        let (account, _) = self
            .cx
            .require_on(
                "subscription",
                caller,
                s.workspace_id,
                Action::SubmitForReview,
            )
            .await?;
        Context::check_version(&s, expected_version)?;
        let now = self.cx.now();
        let next = s.withdraw(account, now)?;
        let draft = self
            .cx
            .pipeline_event(&next, EventType::SubscriptionWithdrawn, None, now);
        self.cx.store_transition(&s, next, draft).await
    }

    /// Approve: only when every applicable gate has passed.
    pub async fn approve(
        &self,
        caller: Caller,
        id: SubscriptionId,
        expected_version: Option<i64>,
    ) -> ServiceResult<Subscription> {
        let (staff, s) = self
            .cx
            .require_staff_on(caller, StaffAction::Review, id)
            .await?;
        Context::check_version(&s, expected_version)?;
        let plan = self.cx.catalog().plan(s.plan_id).await?;
        let gates = self.evaluate_gates(&s, &plan).await?;
        let now = self.cx.now();
        let next =
            s.approve(staff, now, &gates)
                .map_err(|e| match (&e, gates.remaining_gate()) {
                    (crate::pipeline::PipelineError::GateNotPassed(_), Some(g)) => {
                        ServiceError::GateNotPassed {
                            gate: g.gate,
                            missing: match &g.state {
                                crate::gates::GateState::Pending { missing, .. } => missing.clone(),
                                crate::gates::GateState::Failed { reason, .. } => reason.clone(),
                                crate::gates::GateState::Passed => String::new(),
                            },
                        }
                    }
                    _ => e.into(),
                })?;
        let draft = self
            .cx
            .pipeline_event(&next, EventType::SubscriptionApproved, None, now);
        self.cx.store_transition(&s, next, draft).await
    }

    /// Rejects a submission (reviewers), with optional notes; `expected_version` guards against a
    /// concurrent decision.
    pub async fn reject(
        &self,
        caller: Caller,
        id: SubscriptionId,
        notes: Option<&str>,
        expected_version: Option<i64>,
    ) -> ServiceResult<Subscription> {
        let (staff, s) = self
            .cx
            .require_staff_on(caller, StaffAction::Review, id)
            .await?;
        let notes = optional_notes(notes)?;
        Context::check_version(&s, expected_version)?;
        let now = self.cx.now();
        let next = s.reject(notes.clone(), staff, now)?;
        let draft =
            self.cx
                .pipeline_event(&next, EventType::SubscriptionRejected, notes.as_ref(), now);
        self.cx.store_transition(&s, next, draft).await
    }

    /// Request changes: notes are required (blank after trimming is refused).
    pub async fn request_changes(
        &self,
        caller: Caller,
        id: SubscriptionId,
        notes: &str,
        expected_version: Option<i64>,
    ) -> ServiceResult<Subscription> {
        let (staff, s) = self
            .cx
            .require_staff_on(caller, StaffAction::Review, id)
            .await?;
        let notes = Notes::new(notes)?;
        Context::check_version(&s, expected_version)?;
        let now = self.cx.now();
        let next = s.request_changes(notes.clone(), staff, now)?;
        let draft = self
            .cx
            .pipeline_event(&next, EventType::ChangesRequested, Some(&notes), now);
        self.cx.store_transition(&s, next, draft).await
    }

    /// Reopen a rejected subscription to sandbox (admins only).
    pub async fn reopen(
        &self,
        caller: Caller,
        id: SubscriptionId,
        expected_version: Option<i64>,
    ) -> ServiceResult<Subscription> {
        let (staff, s) = self
            .cx
            .require_staff_on(caller, StaffAction::Reopen, id)
            .await?;
        Context::check_version(&s, expected_version)?;
        let now = self.cx.now();
        let next = s.reopen(staff, now)?;
        // Reopened, it would be a second live subscription of its project to its plan.
        self.cx
            .not_subscribed(s.workspace_id, s.project_id, s.plan_id)
            .await?;
        let draft = self
            .cx
            .pipeline_event(&next, EventType::SubscriptionReopened, None, now);
        self.cx.store_transition(&s, next, draft).await
    }

    /// Grants (`grant`) or declines requested sandbox access (reviewers); declining ends the
    /// subscription as `rejected`.
    pub async fn decide_sandbox_access(
        &self,
        caller: Caller,
        id: SubscriptionId,
        grant: bool,
        notes: Option<&str>,
    ) -> ServiceResult<Subscription> {
        let (staff, s) = self
            .cx
            .require_staff_on(caller, StaffAction::Review, id)
            .await?;
        let notes = optional_notes(notes)?;
        let now = self.cx.now();
        let (next, kind) = if grant {
            (
                s.grant_sandbox_access(staff, now)?,
                EventType::SandboxAccessGranted,
            )
        } else {
            (
                s.decline_sandbox_access(notes.clone(), staff, now)?,
                EventType::SandboxAccessDeclined,
            )
        };
        let draft = self.cx.pipeline_event(&next, kind, notes.as_ref(), now);
        self.cx.store_transition(&s, next, draft).await
    }

    /// A reviewer signs off a manual gate (consent handling) of a submission under review.
    pub async fn sign_off_gate(
        &self,
        caller: Caller,
        id: SubscriptionId,
        gate: Gate,
    ) -> ServiceResult<Subscription> {
        let (staff, s) = self
            .cx
            .require_staff_on(caller, StaffAction::SignOffGate, id)
            .await?;
        let plan = self.cx.catalog().plan(s.plan_id).await?;
        let now = self.cx.now();
        let next = s.sign_off(gate, plan.applies(gate), staff, now)?;
        let draft = self
            .cx
            .change_in(Actor::Staff(staff), now, s.workspace_id, Some(s.project_id))
            .audit("gate.signed_off", s.id, json!({ "gate": gate }));
        self.cx.store_transition(&s, next, draft).await
    }
}
