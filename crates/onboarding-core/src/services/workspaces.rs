//! Workspaces, members and named responsibles (invitations and join requests: `invitations.rs`).

use serde::Serialize;
use serde_json::json;

use super::*;
use crate::next_step::NextStep;
use crate::roles::Role;
use crate::values::Label;
use crate::workspace::{Invitation, JoinRequest, Responsibility, Workspace};

/// A member as the workspace page lists them.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    /// The member's account.
    pub account_id: AccountId,
    /// The member's display name.
    pub name: String,
    /// The member's e-mail.
    pub email: String,
    /// The member's roles.
    pub roles: RoleSet,
    /// Which responsibilities (billing owner, audit contact, security owner) the member is named
    /// for.
    pub responsibilities: Vec<Responsibility>,
}

/// The workspace page.
#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceOverview {
    /// The workspace.
    pub workspace: Workspace,
    /// The caller's roles (`None` for provider staff).
    pub my_roles: Option<RoleSet>,
    /// The members.
    pub members: Vec<MemberView>,
    /// Visible to those who manage members.
    pub invitations: Vec<Invitation>,
    /// Join requests; visible to those who manage members.
    pub join_requests: Vec<JoinRequest>,
    /// The one next step for the workspace.
    pub next_step: NextStep,
}

impl Workspaces {
    /// Any signed-in account may create a workspace; it becomes its owner.
    pub async fn create_workspace(&self, caller: Caller, name: &str) -> ServiceResult<Workspace> {
        let Caller::Account(account) = caller else {
            return Err(ServiceError::Forbidden {
                action: Attempt::CreateWorkspaceAsStaff,
            });
        };
        let name = Label::for_field("name", name)?;
        let now = self.cx.now();
        let ws = Workspace {
            id: WorkspaceId::from_ulid(self.cx.ulid()),
            name,
            billing_owner: None,
            audit_contact: None,
            security_owner: None,
            created_at: now,
            created_by: account,
            version: 0,
        };
        let m = Membership {
            workspace_id: ws.id,
            account_id: account,
            roles: RoleSet::of(&[Role::Owner]),
            joined_at: now,
        };
        self.cx
            .change_in(caller.actor(), now, ws.id, None)
            .with(Change::InsertWorkspace(ws.clone()))
            .with(Change::PutMembership(m))
            .audit("workspace.created", ws.id, json!({ "name": ws.name }))
            .commit()
            .await?;
        Ok(ws)
    }

    /// The workspaces the caller belongs to.
    pub async fn my_workspaces(&self, caller: Caller) -> ServiceResult<Vec<(Workspace, RoleSet)>> {
        let Caller::Account(account) = caller else {
            return Ok(vec![]);
        };
        let mut out = Vec::new();
        for m in self.cx.p.workspaces.memberships_of(account).await? {
            if let Some(ws) = self.cx.p.workspaces.workspace(m.workspace_id).await? {
                out.push((ws, m.roles));
            }
        }
        Ok(out)
    }

    /// The workspace page (members, or staff).
    pub async fn workspace_overview(
        &self,
        caller: Caller,
        id: WorkspaceId,
    ) -> ServiceResult<WorkspaceOverview> {
        let my_roles = self.cx.require_read(caller, id).await?;
        let workspace = self.cx.load_workspace(id).await?;
        let mut members = Vec::new();
        for m in self.cx.p.workspaces.members(id).await? {
            let Some(a) = self.cx.p.accounts.account(m.account_id).await? else {
                continue;
            };
            let responsibilities = [
                Responsibility::BillingOwner,
                Responsibility::AuditContact,
                Responsibility::SecurityOwner,
            ]
            .into_iter()
            .filter(|r| workspace.responsible(*r) == Some(a.id))
            .collect();
            members.push(MemberView {
                account_id: a.id,
                name: a.name.to_string(),
                email: a.email.to_string(),
                roles: m.roles,
                responsibilities,
            });
        }
        let manages = my_roles.is_none_or(|r| allowed(r, Action::ManageMembers));
        let (invitations, join_requests) = if manages {
            (
                self.cx.p.workspaces.invitations(id).await?,
                self.cx.p.workspaces.join_requests(id).await?,
            )
        } else {
            (vec![], vec![])
        };
        let next_step = self.cx.workspace_next_step(&workspace).await?;
        Ok(WorkspaceOverview {
            workspace,
            my_roles,
            members,
            invitations,
            join_requests,
            next_step,
        })
    }

    /// Replaces a member's roles. A workspace always keeps at least one owner.
    pub async fn set_roles(
        &self,
        caller: Caller,
        ws: WorkspaceId,
        account: AccountId,
        roles: RoleSet,
    ) -> ServiceResult<Membership> {
        self.cx.require(caller, ws, Action::ManageMembers).await?;
        if roles.is_empty() {
            return Err(FieldError::new("roles", "at least one role is required").into());
        }
        let members = self.cx.p.workspaces.members(ws).await?;
        let m = members
            .iter()
            .find(|m| m.account_id == account)
            .ok_or(ServiceError::NotFound { entity: "member" })?;
        let owners_left = members
            .iter()
            .filter(|o| o.account_id != account && o.roles.contains(Role::Owner))
            .count();
        if !roles.contains(Role::Owner) && owners_left == 0 {
            return Err(ServiceError::Refused {
                code: RefusalCode::LastOwner,
                message: "a workspace keeps at least one owner".into(),
            });
        }
        let now = self.cx.now();
        if m.roles == roles {
            // Setting the roles a member already holds changes nothing: no write, no audit
            // event, so a retried PUT (its first answer lost) stays idempotent.
            return Ok(m.clone());
        }
        let next = Membership { roles, ..m.clone() };
        self.cx
            .change_in(caller.actor(), now, ws, None)
            .with(Change::PutMembership(next.clone()))
            .audit(
                "member.roles_changed",
                account,
                json!({ "from": m.roles, "to": roles }),
            )
            .commit()
            .await?;
        Ok(next)
    }

    /// Removes a member (never the last owner); responsibilities they held are cleared.
    pub async fn remove_member(
        &self,
        caller: Caller,
        ws: WorkspaceId,
        account: AccountId,
    ) -> ServiceResult<()> {
        self.cx.require(caller, ws, Action::ManageMembers).await?;
        let members = self.cx.p.workspaces.members(ws).await?;
        let m = members
            .iter()
            .find(|m| m.account_id == account)
            .ok_or(ServiceError::NotFound { entity: "member" })?;
        if m.roles.contains(Role::Owner)
            && members
                .iter()
                .filter(|o| o.roles.contains(Role::Owner))
                .count()
                == 1
        {
            return Err(ServiceError::Refused {
                code: RefusalCode::LastOwner,
                message: "a workspace keeps at least one owner".into(),
            });
        }
        let workspace = self.cx.load_workspace(ws).await?;
        let mut next = workspace.clone();
        for r in [
            Responsibility::BillingOwner,
            Responsibility::AuditContact,
            Responsibility::SecurityOwner,
        ] {
            if next.responsible(r) == Some(account) {
                next.set_responsible(r, None);
            }
        }
        let now = self.cx.now();
        let mut draft =
            self.cx
                .change_in(caller.actor(), now, ws, None)
                .with(Change::RemoveMembership {
                    workspace_id: ws,
                    account_id: account,
                });
        if next != workspace {
            draft = draft.update(&mut next);
        }
        draft
            .audit("member.removed", account, json!({}))
            .commit()
            .await
    }

    /// Names (or clears) the billing owner, audit contact or security owner. The member must hold
    /// the matching role.
    pub async fn name_responsible(
        &self,
        caller: Caller,
        ws: WorkspaceId,
        what: Responsibility,
        who: Option<AccountId>,
    ) -> ServiceResult<Workspace> {
        self.cx
            .require(caller, ws, Action::NameResponsibles)
            .await?;
        if let Some(who) = who {
            let members = self.cx.p.workspaces.members(ws).await?;
            let m = members
                .iter()
                .find(|m| m.account_id == who)
                .ok_or(ServiceError::NotFound { entity: "member" })?;
            let role = what.required_role();
            if !m.roles.contains(role) {
                return Err(FieldError::new(
                    "account_id",
                    format!(
                        "the {} must hold the {} role",
                        what.as_str().replace('_', " "),
                        role
                    ),
                )
                .into());
            }
        }
        let workspace = self.cx.load_workspace(ws).await?;
        let mut next = workspace.clone();
        next.set_responsible(what, who);
        let now = self.cx.now();
        self.cx
            .change_in(caller.actor(), now, ws, None)
            .update(&mut next)
            .audit(
                &format!("workspace.{}_named", what.as_str()),
                ws,
                json!({ "account_id": who }),
            )
            .commit()
            .await?;
        Ok(next)
    }
}

impl Context {
    /// The workspace, or `NotFound`: the one read every use case makes of a workspace it
    /// was named.
    pub(super) async fn load_workspace(&self, id: WorkspaceId) -> ServiceResult<Workspace> {
        self.p
            .workspaces
            .workspace(id)
            .await?
            .ok_or(ServiceError::NotFound {
                entity: "workspace",
            })
    }
}
