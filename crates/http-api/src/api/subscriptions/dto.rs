//! Request and response bodies of subscriptions, transitions, gates, payments and the subscription page.

use crate::text::{Amount, CurrencyCode, PlanRef, Text};
use chrono::{DateTime, Utc};
use onboarding_core::credential::LockReason;
use onboarding_core::gates::{GateEvaluation, GateState, GateStatus};
use onboarding_core::pipeline::Subscription;
use onboarding_core::services::SubscriptionView;
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dto::{ActorRoleDto, CredentialDto, FormDto, NextStepDto, TestDataDto, page, tag, via};

/// A subscription's phase with the data it carries (only the fields of that phase are set).
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct PhaseDto {
    /// `sandbox`, `in_review`, `production` or `rejected`.
    pub phase: String,
    #[oai(skip_serializing_if_is_none)]
    pub changes_requested: Option<ChangesRequestedDto>,
    #[oai(skip_serializing_if_is_none)]
    pub submitted_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub submitted_by: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub approved_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub approved_by: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub notes: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub by: Option<String>,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct ChangesRequestedDto {
    pub notes: String,
    pub at: DateTime<Utc>,
    pub by: String,
}

/// Sandbox access: `requested`, `granted` or `declined`, with when and by whom.
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct SandboxAccessDto {
    pub state: String,
    pub at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub by: Option<String>,
}

/// `account`, `staff`, `credential` (with `id`) or `system`.
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct ActorDto {
    pub kind: String,
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<String>,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct DecisionDto {
    /// `submit`, `withdraw`, `approve`, `reject`, `request_changes`, `reopen`, ...
    pub action: String,
    pub by: ActorDto,
    pub at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub notes: Option<String>,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct SignOffDto {
    pub gate: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct SubscriptionDto {
    pub id: String,
    pub workspace_id: String,
    pub project_id: String,
    pub plan_id: String,
    /// The phase code (`sandbox`, `in_review`, `production`, `rejected`).
    pub phase: String,
    pub phase_detail: PhaseDto,
    pub sandbox_access: SandboxAccessDto,
    /// The submitted form answers.
    pub answers: Option<Value>,
    pub sign_offs: Vec<SignOffDto>,
    /// Every decision, oldest first.
    pub history: Vec<DecisionDto>,
    pub production_project_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// Send it back as `If-Match: "<version>"` (or `version`) with a transition.
    pub version: i64,
}

impl From<&Subscription> for SubscriptionDto {
    fn from(s: &Subscription) -> Self {
        Self {
            id: s.id.to_string(),
            workspace_id: s.workspace_id.to_string(),
            project_id: s.project_id.to_string(),
            plan_id: s.plan_id.to_string(),
            phase: s.phase.kind().as_str().into(),
            phase_detail: via(&s.phase),
            sandbox_access: via(&s.sandbox_access),
            answers: s
                .answers
                .as_ref()
                .and_then(|a| serde_json::to_value(a).ok()),
            sign_offs: s.sign_offs.iter().map(via).collect(),
            history: s.history.iter().map(via).collect(),
            production_project_id: s.production_project_id.map(|p| p.to_string()),
            created_at: s.created_at,
            created_by: s.created_by.to_string(),
            version: s.version,
        }
    }
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct StepDto {
    pub label: String,
    /// `complete`, `current`, `upcoming` or `rejected`.
    pub state: String,
}

/// "Approved", "Submission Rejected" or "Changes Requested" with the reviewer's notes.
#[derive(Object, Debug, Clone)]
pub struct NoticeDto {
    /// `approved`, `submission_rejected`, `changes_requested`.
    pub kind: String,
    pub title: String,
    pub notes: Option<String>,
}

#[derive(Object, Debug, Clone)]
pub struct GateStatusDto {
    pub gate: String,
    pub title: String,
    /// `passed`, `pending` or `failed`.
    pub state: String,
    /// Pending: what is missing.
    #[oai(skip_serializing_if_is_none)]
    pub missing: Option<String>,
    /// Failed: why.
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
    /// Who must act to move it.
    #[oai(skip_serializing_if_is_none)]
    pub actor: Option<ActorRoleDto>,
}

impl From<&GateStatus> for GateStatusDto {
    fn from(g: &GateStatus) -> Self {
        let (state, missing, reason, actor) = match &g.state {
            GateState::Passed => ("passed", None, None, None),
            GateState::Pending { missing, actor } => {
                ("pending", Some(missing.clone()), None, Some(via(actor)))
            }
            GateState::Failed { reason, actor } => {
                ("failed", None, Some(reason.clone()), Some(via(actor)))
            }
        };
        Self {
            gate: g.gate.as_str().into(),
            title: g.gate.title().into(),
            state: state.into(),
            missing,
            reason,
            actor,
        }
    }
}

/// The gate summary: every applicable gate and the first one not passed.
#[derive(Object, Debug, Clone)]
pub struct GateSummaryDto {
    pub gates: Vec<GateStatusDto>,
    pub remaining_gate: Option<String>,
    pub passed: u64,
    pub all_passed: bool,
}

impl From<&GateEvaluation> for GateSummaryDto {
    fn from(e: &GateEvaluation) -> Self {
        Self {
            gates: e.gates.iter().map(Into::into).collect(),
            remaining_gate: e.remaining_gate().map(|g| g.gate.as_str().into()),
            passed: e.passed_count() as u64,
            all_passed: e.all_passed(),
        }
    }
}

#[derive(Object, Debug, Clone)]
pub struct LockDto {
    /// `not_approved` or `payment_required`.
    pub reason: String,
    pub message: String,
}

impl From<LockReason> for LockDto {
    fn from(r: LockReason) -> Self {
        Self {
            reason: tag(&r),
            message: r.message().into(),
        }
    }
}

/// The subscription page: phase, stepper, notice, form, test data, credentials, the
/// production lock, gates and the next step.
#[derive(Object, Debug, Clone)]
pub struct SubscriptionViewDto {
    pub subscription: SubscriptionDto,
    pub plan_name: String,
    pub stepper: Vec<StepDto>,
    pub notice: Option<NoticeDto>,
    /// "Submit for Review" or "Submitted for Review".
    pub submit_label: String,
    pub submit_blocked_by: Option<String>,
    pub form: Option<FormDto>,
    /// Sandbox test data (empty until sandbox access is granted).
    pub test_data: Vec<TestDataDto>,
    pub sandbox_credentials: Vec<CredentialDto>,
    pub production_credentials: Vec<CredentialDto>,
    pub production_lock: Option<LockDto>,
    pub paid: bool,
    pub gates: GateSummaryDto,
    pub next_step: NextStepDto,
}

impl From<&SubscriptionView> for SubscriptionViewDto {
    fn from(v: &SubscriptionView) -> Self {
        use onboarding_core::pipeline::Notice;
        Self {
            subscription: (&v.subscription).into(),
            plan_name: v.plan_name.clone(),
            stepper: v.stepper.iter().map(via).collect(),
            notice: v.notice.as_ref().map(|n| NoticeDto {
                kind: match n {
                    Notice::Approved => "approved",
                    Notice::SubmissionRejected { .. } => "submission_rejected",
                    Notice::ChangesRequested { .. } => "changes_requested",
                }
                .into(),
                title: n.title().into(),
                notes: match n {
                    Notice::Approved => None,
                    Notice::SubmissionRejected { notes } => notes.as_ref().map(|x| x.to_string()),
                    Notice::ChangesRequested { notes } => Some(notes.to_string()),
                },
            }),
            submit_label: v.submit_label.into(),
            submit_blocked_by: v.submit_blocked_by.clone(),
            form: v.form.as_ref().map(via),
            test_data: v.test_data.iter().map(via).collect(),
            sandbox_credentials: v.sandbox_credentials.iter().map(Into::into).collect(),
            production_credentials: v.production_credentials.iter().map(Into::into).collect(),
            production_lock: v.production_lock.map(Into::into),
            paid: v.paid,
            gates: (&v.gates).into(),
            next_step: (&v.next_step).into(),
        }
    }
}

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct SubscribeRequest {
    pub plan_id: PlanRef,
}

/// A transition's body; every field is optional (send `{}`).
#[derive(Object, Debug, Clone, Default)]
#[oai(example)]
pub struct TransitionRequest {
    /// The version you expect (or send `If-Match: "<version>"`).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    pub version: Option<i64>,
    /// Reviewer notes: required for request-changes, optional for reject and decline.
    pub notes: Option<Text>,
}

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct SubmitRequest {
    /// Answers to the plan's form, keyed by field key.
    pub answers: Option<std::collections::BTreeMap<String, Value>>,
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    pub version: Option<i64>,
}

#[derive(Object, Debug, Clone)]
pub struct ConfirmPaymentRequest {
    /// A decimal string (`"499.00"`).
    pub amount: Amount,
    /// ISO 4217 code, the plan's currency.
    pub currency: CurrencyCode,
    /// The processor's or bank's reference.
    pub reference: Text,
}

#[derive(Object, Debug, Clone)]
pub struct PaymentDto {
    pub id: String,
    pub subscription_id: String,
    pub amount: String,
    pub currency: String,
    pub reference: String,
    pub confirmed_by: String,
    pub at: DateTime<Utc>,
}

impl From<&onboarding_core::billing::Payment> for PaymentDto {
    fn from(p: &onboarding_core::billing::Payment) -> Self {
        Self {
            id: p.id.to_string(),
            subscription_id: p.subscription_id.to_string(),
            amount: p.amount.to_string(),
            currency: p.currency.as_str().into(),
            reference: p.reference.clone(),
            confirmed_by: p.confirmed_by.to_string(),
            at: p.at,
        }
    }
}

page!(SubscriptionPage, SubscriptionDto);
