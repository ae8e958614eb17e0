//! Request and response bodies of accounts, sessions, tokens and staff.

use crate::dto::via;
use crate::text::{EmailAddress, Name, Password, Text};
use chrono::{DateTime, Utc};
use onboarding_core::next_step::NextStep;
use onboarding_core::services::AccountOverview;
use onboarding_core::workspace::Staff;
use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

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
