//! Response and request bodies. They are separate from the domain types: responses show what a
//! client needs (never a hash), requests carry only what a client may set (never an id, a
//! version-to-be or a status). Nested shapes that mirror the core's serde form are converted
//! through `serde_json` ([`via`]); money is always a decimal string.

use crate::text::{
    AccountRef, Amount, CurrencyCode, EmailAddress, Entry, Name, Password, PlanRef, Text,
};
use chrono::{DateTime, Utc};
use onboarding_core::credential::{Credential, CredentialKind, CredentialStatus, LockReason};
use onboarding_core::gates::{GateEvaluation, GateState, GateStatus};
use onboarding_core::next_step::NextStep;
use onboarding_core::pipeline::Subscription;
use onboarding_core::plan::{ApiProduct, Plan};
use onboarding_core::project::Project;
use onboarding_core::roles::RoleSet;
use onboarding_core::services::{
    AccountOverview, MemberView, ProjectOverview, QueueEntry, SubscriptionView, VerifyAnswer,
    WorkspaceOverview,
};
use onboarding_core::usage::AlertThreshold;
use onboarding_core::workspace::{Invitation, JoinRequest, Membership, Staff, Workspace};
use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

/// Converts between shapes that share a serde form (domain ↔ DTO). A failure is a bug in this
/// file, caught by the tests, so it panics with the type names.
pub fn via<T: Serialize, U: DeserializeOwned>(v: &T) -> U {
    serde_json::to_value(v)
        .and_then(serde_json::from_value)
        .unwrap_or_else(|e| {
            panic!(
                "{} -> {}: {e}",
                std::any::type_name::<T>(),
                std::any::type_name::<U>()
            )
        })
}

/// The serde string of a unit enum variant (`in_review`, `api_key`, ...).
pub fn tag<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn roles(r: RoleSet) -> Vec<String> {
    r.iter().map(|x| tag(&x)).collect()
}

// ---------------------------------------------------------------- accounts

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct AccountDto {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<&onboarding_core::workspace::Account> for AccountDto {
    fn from(a: &onboarding_core::workspace::Account) -> Self {
        Self {
            id: a.id.to_string(),
            email: a.email.to_string(),
            name: a.name.to_string(),
            created_at: a.created_at,
        }
    }
}

#[derive(Object, Debug, Clone)]
pub struct StaffDto {
    pub id: String,
    pub email: String,
    pub name: String,
    /// `admin` or `reviewer`.
    pub role: String,
}

impl From<&Staff> for StaffDto {
    fn from(s: &Staff) -> Self {
        Self {
            id: s.id.to_string(),
            email: s.email.to_string(),
            name: s.name.to_string(),
            role: s.role.as_str().into(),
        }
    }
}

/// Who must act: `you`, `member` (with `role`), `reviewer` or `admin`.
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct ActorRoleDto {
    pub kind: String,
    #[oai(skip_serializing_if_is_none)]
    pub role: Option<String>,
}

/// The one next step: lane, action, who must act, the blocking gate.
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct NextStepDto {
    /// `docs`, `sandbox` or `production`.
    pub lane: String,
    /// Stable snake_case code (`create_sandbox_credential`, `clear_gate`, ...).
    pub action: String,
    pub actor: ActorRoleDto,
    #[oai(skip_serializing_if_is_none)]
    pub blocking_gate: Option<String>,
    pub title: String,
}

impl From<&NextStep> for NextStepDto {
    fn from(n: &NextStep) -> Self {
        via(n)
    }
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct PendingAttachmentDto {
    pub workspace_id: String,
    pub organization: String,
    /// `invitation` or `join_request`.
    pub via: String,
    #[oai(skip_serializing_if_is_none)]
    pub invitation_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub join_request_id: Option<String>,
    pub who_must_act: String,
}

/// The account's access state: `signed_up`, `awaiting_attachment` or `attached`.
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct AccessStateDto {
    pub state: String,
    #[serde(default)]
    pub pending: Vec<PendingAttachmentDto>,
    #[serde(default)]
    pub workspaces: Vec<String>,
}

/// The access page: who you are, your access state and the exact next step.
#[derive(Object, Debug, Clone)]
pub struct MeDto {
    /// `account` or `staff`.
    pub kind: String,
    #[oai(skip_serializing_if_is_none)]
    pub account: Option<AccountDto>,
    #[oai(skip_serializing_if_is_none)]
    pub access: Option<AccessStateDto>,
    #[oai(skip_serializing_if_is_none)]
    pub next_step: Option<NextStepDto>,
    #[oai(skip_serializing_if_is_none)]
    pub staff: Option<StaffDto>,
}

impl MeDto {
    pub fn account(o: &AccountOverview, created_at: DateTime<Utc>) -> Self {
        Self {
            kind: "account".into(),
            account: Some(AccountDto {
                id: o.account.id.to_string(),
                email: o.account.email.clone(),
                name: o.account.name.clone(),
                created_at,
            }),
            access: Some(via(&o.access)),
            next_step: Some((&o.next_step).into()),
            staff: None,
        }
    }
}

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct SignUpRequest {
    pub email: EmailAddress,
    pub name: Name,
    /// At least 10 characters.
    #[oai(write_only)]
    pub password: Password,
}

#[derive(Object, Debug, Clone)]
pub struct SignInRequest {
    pub email: Text,
    #[oai(write_only)]
    pub password: Text,
}

#[derive(Object, Debug, Clone)]
pub struct SessionDto {
    /// `account` or `staff`.
    pub kind: String,
    pub expires_at: DateTime<Utc>,
    /// Send it back as `X-CSRF-Token` from browser pages that post forms.
    pub csrf_token: String,
}

#[derive(Object, Debug, Clone)]
pub struct CreateTokenRequest {
    /// A label ("CI deploy").
    pub name: Name,
    /// 1 to 365 days; default 90.
    #[oai(validator(minimum(value = "1"), maximum(value = "365")))]
    pub expires_in_days: Option<i64>,
}

/// A personal access token: `token` is shown here once and never again.
#[derive(Object, Debug, Clone)]
pub struct CreatedTokenDto {
    pub name: String,
    pub token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A workspace role, as the API spells it.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum RoleName {
    Owner,
    Developer,
    TechnicalLead,
    SecurityOwner,
    Billing,
    Compliance,
}

impl AsRef<str> for RoleName {
    fn as_ref(&self) -> &str {
        match self {
            Self::Owner => "owner",
            Self::Developer => "developer",
            Self::TechnicalLead => "technical_lead",
            Self::SecurityOwner => "security_owner",
            Self::Billing => "billing",
            Self::Compliance => "compliance",
        }
    }
}

/// A provider staff role.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum StaffRoleName {
    Admin,
    Reviewer,
}

#[derive(Object, Debug, Clone)]
pub struct CreateStaffRequest {
    pub email: EmailAddress,
    pub name: Name,
    /// `admin` or `reviewer`.
    pub role: StaffRoleName,
    #[oai(write_only)]
    pub password: Password,
}

// ---------------------------------------------------------------- workspaces

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct WorkspaceDto {
    pub id: String,
    pub name: String,
    pub billing_owner: Option<String>,
    pub audit_contact: Option<String>,
    pub security_owner: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub version: i64,
    /// The caller's roles, when listing the caller's workspaces.
    #[oai(skip_serializing_if_is_none)]
    pub my_roles: Option<Vec<String>>,
}

impl WorkspaceDto {
    pub fn new(w: &Workspace, my_roles: Option<RoleSet>) -> Self {
        Self {
            id: w.id.to_string(),
            name: w.name.to_string(),
            billing_owner: w.billing_owner.map(|a| a.to_string()),
            audit_contact: w.audit_contact.map(|a| a.to_string()),
            security_owner: w.security_owner.map(|a| a.to_string()),
            created_at: w.created_at,
            created_by: w.created_by.to_string(),
            version: w.version,
            my_roles: my_roles.map(roles),
        }
    }
}

#[derive(Object, Debug, Clone)]
pub struct MemberDto {
    pub account_id: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
    /// `billing_owner`, `audit_contact`, `security_owner`.
    pub responsibilities: Vec<String>,
}

impl From<&MemberView> for MemberDto {
    fn from(m: &MemberView) -> Self {
        Self {
            account_id: m.account_id.to_string(),
            name: m.name.clone(),
            email: m.email.clone(),
            roles: roles(m.roles),
            responsibilities: m
                .responsibilities
                .iter()
                .map(|r| r.as_str().into())
                .collect(),
        }
    }
}

#[derive(Object, Debug, Clone)]
pub struct InvitationDto {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub roles: Vec<String>,
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// `pending`, `accepted`, `revoked`.
    pub status: String,
    pub version: i64,
}

impl From<&Invitation> for InvitationDto {
    fn from(i: &Invitation) -> Self {
        Self {
            id: i.id.to_string(),
            workspace_id: i.workspace_id.to_string(),
            email: i.email.to_string(),
            roles: roles(i.roles),
            invited_by: i.invited_by.to_string(),
            created_at: i.created_at,
            expires_at: i.expires_at,
            status: tag(&i.status),
            version: i.version,
        }
    }
}

#[derive(Object, Debug, Clone)]
pub struct JoinRequestDto {
    pub id: String,
    pub workspace_id: String,
    pub account_id: String,
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    /// `pending`, `approved`, `declined`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub version: i64,
}

impl From<&JoinRequest> for JoinRequestDto {
    fn from(j: &JoinRequest) -> Self {
        Self {
            id: j.id.to_string(),
            workspace_id: j.workspace_id.to_string(),
            account_id: j.account_id.to_string(),
            message: j.message.clone(),
            created_at: j.created_at,
            status: tag(&j.status),
            decided_by: j.decided_by.map(|a| a.to_string()),
            decided_at: j.decided_at,
            version: j.version,
        }
    }
}

#[derive(Object, Debug, Clone)]
pub struct MembershipDto {
    pub workspace_id: String,
    pub account_id: String,
    pub roles: Vec<String>,
    pub joined_at: DateTime<Utc>,
}

impl From<&Membership> for MembershipDto {
    fn from(m: &Membership) -> Self {
        Self {
            workspace_id: m.workspace_id.to_string(),
            account_id: m.account_id.to_string(),
            roles: roles(m.roles),
            joined_at: m.joined_at,
        }
    }
}

/// The workspace page.
#[derive(Object, Debug, Clone)]
pub struct WorkspaceOverviewDto {
    pub workspace: WorkspaceDto,
    /// The caller's roles (absent for provider staff).
    pub my_roles: Option<Vec<String>>,
    pub members: Vec<MemberDto>,
    pub invitations: Vec<InvitationDto>,
    pub join_requests: Vec<JoinRequestDto>,
    pub next_step: NextStepDto,
}

impl From<&WorkspaceOverview> for WorkspaceOverviewDto {
    fn from(o: &WorkspaceOverview) -> Self {
        Self {
            workspace: WorkspaceDto::new(&o.workspace, None),
            my_roles: o.my_roles.map(roles),
            members: o.members.iter().map(Into::into).collect(),
            invitations: o.invitations.iter().map(Into::into).collect(),
            join_requests: o.join_requests.iter().map(Into::into).collect(),
            next_step: (&o.next_step).into(),
        }
    }
}

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct CreateWorkspaceRequest {
    pub name: Name,
}

#[derive(Object, Debug, Clone)]
pub struct InviteRequest {
    pub email: EmailAddress,
    /// A set of `owner`, `developer`, `technical_lead`, `security_owner`, `billing`, `compliance`.
    #[oai(validator(min_items = 1))]
    pub roles: Vec<RoleName>,
    /// 1 to 30 days; default 7.
    #[oai(validator(minimum(value = "1"), maximum(value = "30")))]
    pub expires_in_days: Option<i64>,
}

#[derive(Object, Debug, Clone)]
pub struct JoinRequestRequest {
    pub message: Option<Text>,
}

#[derive(Object, Debug, Clone)]
pub struct DecideJoinRequest {
    /// Roles to grant on approval; default `developer`.
    #[oai(validator(min_items = 1))]
    pub roles: Option<Vec<RoleName>>,
}

#[derive(Object, Debug, Clone)]
pub struct SetRolesRequest {
    #[oai(validator(min_items = 1))]
    pub roles: Vec<RoleName>,
}

#[derive(Object, Debug, Clone)]
pub struct NameResponsibleRequest {
    /// The member to name; `null` clears it.
    pub account_id: Option<AccountRef>,
}

// ---------------------------------------------------------------- catalog

#[derive(Object, Debug, Clone)]
pub struct ProductDto {
    pub id: String,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

impl From<&ApiProduct> for ProductDto {
    fn from(p: &ApiProduct) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name.to_string(),
            description: p.description.clone(),
            created_at: p.created_at,
        }
    }
}

#[derive(Object, Debug, Clone)]
pub struct CreateProductRequest {
    pub name: Name,
    #[oai(default)]
    pub description: Text,
}

/// One read-only sandbox test data entry.
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct TestDataDto {
    /// `string`, `number`, `boolean`, `json` or `url`.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub description: String,
    pub value: String,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct FormFieldDto {
    pub key: Text,
    pub label: Text,
    /// `text`, `textarea`, `select`, `multiselect`, `checkbox`, `url` or `email`.
    pub kind: Text,
    #[oai(default)]
    #[serde(default)]
    pub required: bool,
    #[oai(default)]
    #[serde(default)]
    pub options: Vec<Text>,
    #[oai(skip_serializing_if_is_none)]
    pub help: Option<Text>,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct FormStepDto {
    pub title: Text,
    pub fields: Vec<FormFieldDto>,
}

/// A submission form: ordered steps of fields (the portal appends the review step).
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct FormDto {
    pub steps: Vec<FormStepDto>,
}

/// Free, or paid with money as decimal strings (`"499.00"`).
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct PricingDto {
    /// `free` or `paid`.
    pub kind: Text,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<Text>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_fee: Option<Text>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    pub included_requests: Option<u64>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_per_request: Option<Text>,
    /// Days a later period's invoice may stay unpaid before new production credentials lock
    /// again (paid plans; 14 when omitted, at most 90).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[oai(validator(maximum(value = "90")))]
    pub payment_grace_days: Option<u32>,
}

#[derive(Object, Debug, Clone)]
pub struct PlanDto {
    pub id: String,
    pub product_id: String,
    pub name: String,
    pub has_sandbox: bool,
    /// `open` or `approval_required`.
    pub sandbox_access: String,
    pub endpoints: Vec<String>,
    pub events: Vec<String>,
    pub submission_form: Option<FormDto>,
    pub pricing: PricingDto,
    /// The production gates that apply, in canonical order.
    pub gates: Vec<String>,
    pub integration_min_calls: u64,
    pub waive_separation_of_duties: bool,
    /// Number of sandbox test data entries; the values are shown on a subscription once its
    /// sandbox access is granted.
    pub test_data_count: u64,
    /// Only in the admin's create/update answers.
    #[oai(skip_serializing_if_is_none)]
    pub test_data: Option<Vec<TestDataDto>>,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

impl PlanDto {
    pub fn public(p: &Plan) -> Self {
        Self {
            id: p.id.to_string(),
            product_id: p.product_id.to_string(),
            name: p.name.to_string(),
            has_sandbox: p.has_sandbox,
            sandbox_access: tag(&p.sandbox_access),
            endpoints: p.endpoints.clone(),
            events: p.events.clone(),
            submission_form: p.form.as_ref().map(via),
            pricing: via(&p.pricing),
            gates: p.gates.iter().map(|g| g.as_str().into()).collect(),
            integration_min_calls: p.integration_min_calls,
            waive_separation_of_duties: p.waive_separation_of_duties,
            test_data_count: p.test_data.len() as u64,
            test_data: None,
            created_at: p.created_at,
            version: p.version,
        }
    }

    pub fn admin(p: &Plan) -> Self {
        Self {
            test_data: Some(p.test_data.iter().map(via).collect()),
            ..Self::public(p)
        }
    }
}

/// Everything an admin sets on a plan.
#[derive(Object, Debug, Clone, Serialize)]
pub struct PlanInputDto {
    pub name: Name,
    #[oai(default = "yes")]
    pub has_sandbox: bool,
    /// `open` or `approval_required`.
    pub sandbox_access: Text,
    pub endpoints: Vec<Text>,
    #[oai(default)]
    pub events: Vec<Text>,
    #[oai(default)]
    pub test_data: Vec<TestDataDto>,
    #[serde(rename = "form")]
    pub submission_form: Option<FormDto>,
    pub pricing: PricingDto,
    /// Default: all seven gates.
    pub gates: Option<Vec<Text>>,
    #[oai(
        validator(minimum(value = "0"), maximum(value = "1000000000")),
        default
    )]
    pub integration_min_calls: u64,
    #[oai(default)]
    pub waive_separation_of_duties: bool,
    /// Updates: the version the admin loaded (or `If-Match`).
    #[serde(skip)]
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    pub version: Option<i64>,
}

fn yes() -> bool {
    true
}

// ---------------------------------------------------------------- projects

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct ProjectDto {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub purpose: String,
    /// `sandbox` or `production`.
    pub environment: String,
    pub endpoints: Vec<String>,
    pub events: Vec<String>,
    pub cloned_from: Option<String>,
    /// A sandbox project: its latest subscription (null until it subscribes). A production
    /// project: the subscription whose approval it serves.
    pub subscription_id: Option<String>,
    pub live_audit_reviewed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

impl From<&Project> for ProjectDto {
    fn from(p: &Project) -> Self {
        Self {
            id: p.id.to_string(),
            workspace_id: p.workspace_id.to_string(),
            name: p.name.to_string(),
            purpose: p.purpose.to_string(),
            environment: p.environment.as_str().into(),
            endpoints: p.endpoints.clone(),
            events: p.events.clone(),
            cloned_from: p.cloned_from.map(|x| x.to_string()),
            subscription_id: p.subscription_id.map(|x| x.to_string()),
            live_audit_reviewed_at: p.live_audit_reviewed_at,
            created_at: p.created_at,
            version: p.version,
        }
    }
}

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct CreateProjectRequest {
    pub name: Name,
    /// What the workload is for ("Nightly statement sync").
    pub purpose: Name,
    #[oai(validator(max_items = 200), default)]
    pub endpoints: Vec<Entry>,
    #[oai(validator(max_items = 200), default)]
    pub events: Vec<Entry>,
}

#[derive(Object, Debug, Clone)]
pub struct AlertThresholdDto {
    pub id: String,
    pub project_id: String,
    /// `requests_per_day`, `error_rate_percent` or `spend_per_month`.
    pub metric: String,
    /// A decimal string.
    pub limit: String,
    pub created_at: DateTime<Utc>,
}

impl From<&AlertThreshold> for AlertThresholdDto {
    fn from(t: &AlertThreshold) -> Self {
        Self {
            id: t.id.to_string(),
            project_id: t.project_id.to_string(),
            metric: tag(&t.metric),
            limit: t.limit.to_string(),
            created_at: t.created_at,
        }
    }
}

#[derive(Object, Debug, Clone)]
pub struct SetThresholdRequest {
    /// A decimal string (`"10000"`, `"2.5"`); an error rate is at most 100.
    pub limit: Amount,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct OperatingCheckDto {
    pub item: String,
    #[serde(default)]
    pub title: String,
    pub done: bool,
}

/// The project page: environment posture, subscriptions, credentials, thresholds, the
/// operating pass and drift from the sandbox source.
#[derive(Object, Debug, Clone)]
pub struct ProjectOverviewDto {
    pub project: ProjectDto,
    pub subscriptions: Vec<SubscriptionDto>,
    pub credentials: Vec<CredentialDto>,
    pub alert_thresholds: Vec<AlertThresholdDto>,
    pub operating_checklist: Option<Vec<OperatingCheckDto>>,
    /// Differences from the sandbox project it was cloned from (`{kind, ...}` objects).
    pub drift: Vec<Value>,
    pub next_step: NextStepDto,
}

impl From<&ProjectOverview> for ProjectOverviewDto {
    fn from(o: &ProjectOverview) -> Self {
        Self {
            project: (&o.project).into(),
            subscriptions: o.subscriptions.iter().map(Into::into).collect(),
            credentials: o.credentials.iter().map(Into::into).collect(),
            alert_thresholds: o.alert_thresholds.iter().map(Into::into).collect(),
            operating_checklist: o.operating_checklist.as_ref().map(|c| {
                c.iter()
                    .map(|i| OperatingCheckDto {
                        item: tag(&i.item),
                        title: i.item.title().into(),
                        done: i.done,
                    })
                    .collect()
            }),
            drift: o
                .drift
                .iter()
                .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
                .collect(),
            next_step: (&o.next_step).into(),
        }
    }
}

// ---------------------------------------------------------------- subscriptions

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
pub struct QueueEntryDto {
    pub subscription_id: String,
    pub workspace_id: String,
    pub workspace_name: String,
    pub project_id: String,
    pub project_name: String,
    pub plan_id: String,
    pub plan_name: String,
    pub submitted_at: DateTime<Utc>,
    pub age_seconds: i64,
    pub version: i64,
    pub gates: GateSummaryDto,
}

impl From<&QueueEntry> for QueueEntryDto {
    fn from(q: &QueueEntry) -> Self {
        Self {
            subscription_id: q.subscription.id.to_string(),
            workspace_id: q.subscription.workspace_id.to_string(),
            workspace_name: q.workspace_name.clone(),
            project_id: q.subscription.project_id.to_string(),
            project_name: q.project_name.clone(),
            plan_id: q.subscription.plan_id.to_string(),
            plan_name: q.plan_name.clone(),
            submitted_at: q.submitted_at,
            age_seconds: q.age_seconds,
            version: q.subscription.version,
            gates: (&q.gates).into(),
        }
    }
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
    /// The invoice the payment was recorded against.
    pub invoice_id: String,
    pub amount: String,
    pub currency: String,
    pub reference: String,
    /// Who recorded it: a staff id, or `system` for a payment processor's report.
    pub confirmed_by: String,
    pub at: DateTime<Utc>,
}

impl From<&onboarding_core::billing::Payment> for PaymentDto {
    fn from(p: &onboarding_core::billing::Payment) -> Self {
        Self {
            id: p.id.to_string(),
            subscription_id: p.subscription_id.to_string(),
            invoice_id: p.invoice_id.to_string(),
            amount: p.amount.to_string(),
            currency: p.currency.as_str().into(),
            reference: p.reference.clone(),
            confirmed_by: p.recorded_by.to_string(),
            at: p.at,
        }
    }
}

// ---------------------------------------------------------------- credentials

#[derive(Object, Debug, Clone)]
pub struct RetiringSecretDto {
    pub last4: String,
    /// The rotated-out secret works until then.
    pub expires_at: DateTime<Utc>,
}

/// A credential as listings show it: prefix and last four characters, never the secret.
#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct CredentialDto {
    pub id: String,
    pub workspace_id: String,
    pub project_id: String,
    pub subscription_id: String,
    /// `sandbox` or `production`.
    pub environment: String,
    /// `api_key` or `oauth_client`.
    pub kind: String,
    /// OAuth clients: the public client id.
    #[oai(skip_serializing_if_is_none)]
    pub client_id: Option<String>,
    pub name: String,
    /// `active` or `revoked`.
    pub status: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub prefix: String,
    pub last4: String,
    pub secret_created_at: DateTime<Utc>,
    pub previous: Option<RetiringSecretDto>,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

impl From<&Credential> for CredentialDto {
    fn from(c: &Credential) -> Self {
        let (kind, client_id) = match &c.kind {
            CredentialKind::ApiKey => ("api_key", None),
            CredentialKind::OauthClient { client_id } => ("oauth_client", Some(client_id.clone())),
        };
        let (status, revoked_at) = match &c.status {
            CredentialStatus::Active => ("active", None),
            CredentialStatus::Revoked { at, .. } => ("revoked", Some(*at)),
        };
        Self {
            id: c.id.to_string(),
            workspace_id: c.workspace_id.to_string(),
            project_id: c.project_id.to_string(),
            subscription_id: c.subscription_id.to_string(),
            environment: c.environment.as_str().into(),
            kind: kind.into(),
            client_id,
            name: c.name.to_string(),
            status: status.into(),
            revoked_at,
            prefix: c.secret.prefix.clone(),
            last4: c.secret.last4.clone(),
            secret_created_at: c.secret.created_at,
            previous: c.previous.as_ref().map(|p| RetiringSecretDto {
                last4: p.last4.clone(),
                expires_at: p.expires_at,
            }),
            created_at: c.created_at,
            version: c.version,
        }
    }
}

/// A created or re-keyed credential: `secret` is shown here once and never again.
#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct CreatedCredentialDto {
    pub credential: CredentialDto,
    pub secret: String,
}

/// An environment, as the API spells it.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum EnvironmentName {
    Sandbox,
    Production,
}

impl From<EnvironmentName> for onboarding_core::project::Environment {
    fn from(e: EnvironmentName) -> Self {
        match e {
            EnvironmentName::Sandbox => Self::Sandbox,
            EnvironmentName::Production => Self::Production,
        }
    }
}

/// The kind of a new credential.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum CredentialKindName {
    ApiKey,
    OauthClient,
}

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct CreateCredentialRequest {
    pub environment: EnvironmentName,
    /// `api_key` (default) or `oauth_client`.
    pub kind: Option<CredentialKindName>,
    pub name: Name,
}

#[derive(Object, Debug, Clone, Default)]
pub struct RotateRequest {
    /// How long the old secret keeps working: 0 to 604800 seconds; default 86400 (24 h).
    #[oai(validator(minimum(value = "0"), maximum(value = "604800")))]
    pub grace_period_seconds: Option<i64>,
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    pub version: Option<i64>,
}

/// What a gateway sends to `/api/v1/verify`.
#[derive(Object, Debug, Clone)]
pub struct VerifyRequest {
    /// The presented API key or access token.
    pub secret: Text,
    /// The environment the gateway serves (`sandbox` or `production`); a secret of the other
    /// environment is refused.
    pub environment: Option<Text>,
    /// The endpoint called, for usage counting (default `verify`).
    pub endpoint: Option<Text>,
    /// Whether the upstream call succeeded (default true), for error counting.
    pub success: Option<bool>,
}

/// The verification decision: valid or not (with a reason code), and what the secret opens.
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct VerifyAnswerDto {
    pub valid: bool,
    /// `malformed`, `bad_checksum`, `wrong_environment`, `unknown`, `revoked`, `expired`, `wrong_kind`.
    pub reason: Option<String>,
    pub workspace_id: Option<String>,
    pub project_id: Option<String>,
    pub environment: Option<String>,
    pub plan_id: Option<String>,
    pub phase: Option<String>,
    pub subscription_id: Option<String>,
    pub credential_id: Option<String>,
}

impl From<&VerifyAnswer> for VerifyAnswerDto {
    fn from(v: &VerifyAnswer) -> Self {
        via(v)
    }
}

// ---------------------------------------------------------------- audit

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct AuditEventDto {
    pub id: String,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: ActorDto,
    pub workspace_id: Option<String>,
    pub project_id: Option<String>,
    /// `subscription.submitted`, `credential.rotated`, ...
    pub action: String,
    pub target: String,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Object, Debug, Clone)]
pub struct ChainReportDto {
    /// The workspace id, or `provider` for the provider's chain.
    pub chain: String,
    pub ok: bool,
    pub events: u64,
    /// The first bad event, if any.
    pub broken_at_seq: Option<i64>,
    pub broken_event_id: Option<String>,
    pub problem: Option<String>,
}

// ---------------------------------------------------------------- pages

macro_rules! page {
    ($name:ident, $item:ty) => {
        /// One page of a keyset-paged list; pass `next_cursor` as `cursor` for the next.
        #[derive(Object, Debug, Clone)]
        pub struct $name {
            pub items: Vec<$item>,
            pub next_cursor: Option<String>,
        }
    };
}

page!(WorkspacePage, WorkspaceDto);
page!(ProjectPage, ProjectDto);
page!(SubscriptionPage, SubscriptionDto);
page!(CredentialPage, CredentialDto);
page!(QueuePage, QueueEntryDto);
page!(AuditPage, AuditEventDto);
page!(PlanPage, PlanDto);
page!(ProductPage, ProductDto);
