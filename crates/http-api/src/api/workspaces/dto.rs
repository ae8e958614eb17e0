//! Request and response bodies of workspaces, members, invitations and join requests.

use crate::text::{AccountRef, EmailAddress, Name, Text};
use chrono::{DateTime, Utc};
use onboarding_core::roles::RoleSet;
use onboarding_core::services::{MemberView, WorkspaceOverview};
use onboarding_core::workspace::{Invitation, JoinRequest, Membership, Workspace};
use poem_openapi::Object;

use crate::dto::{NextStepDto, RoleName, page, roles, tag};

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

page!(WorkspacePage, WorkspaceDto);
