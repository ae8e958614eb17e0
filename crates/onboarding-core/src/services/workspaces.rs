//! Workspaces, members, invitations, join requests and named responsibles.

use chrono::TimeDelta;
use serde::Serialize;
use serde_json::json;

use super::*;
use crate::next_step::NextStep;
use crate::notification::NotificationKind;
use crate::roles::Role;
use crate::values::{Email, Label};
use crate::workspace::{
    DEFAULT_INVITATION_TTL, Invitation, InvitationError, InvitationStatus, JoinRequest,
    JoinRequestStatus, MAX_INVITATION_TTL, Responsibility, Workspace,
};

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

fn invitation_error(e: InvitationError) -> ServiceError {
    match e {
        InvitationError::WrongRecipient => ServiceError::NotFound {
            entity: "invitation",
        },
        other => ServiceError::Conflict {
            message: other.to_string(),
            current: Some(
                match other {
                    InvitationError::Expired => "expired",
                    InvitationError::Revoked => "revoked",
                    _ => "accepted",
                }
                .into(),
            ),
        },
    }
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

    /// Invites an e-mail with a set of roles; expires after `ttl` (default 7 days, at most 30).
    pub async fn invite(
        &self,
        caller: Caller,
        ws: WorkspaceId,
        email: &str,
        roles: RoleSet,
        ttl: Option<TimeDelta>,
    ) -> ServiceResult<Invitation> {
        let (account, _) = self.cx.require(caller, ws, Action::ManageMembers).await?;
        let email = Email::new(email)?;
        if roles.is_empty() {
            return Err(FieldError::new("roles", "at least one role is required").into());
        }
        let ttl = ttl.unwrap_or(DEFAULT_INVITATION_TTL);
        if ttl <= TimeDelta::zero() || ttl > MAX_INVITATION_TTL {
            return Err(FieldError::new(
                "expires_in_days",
                "an invitation lasts between 1 and 30 days",
            )
            .into());
        }
        let now = self.cx.now();
        self.cx.invitable(ws, &email, now).await?;
        let inv = Invitation {
            id: InvitationId::from_ulid(self.cx.ulid()),
            workspace_id: ws,
            email,
            roles,
            invited_by: account,
            created_at: now,
            expires_at: now + ttl,
            status: InvitationStatus::Pending,
            version: 0,
        };
        let (to, data) = self.cx.invitation_notice(&inv).await?;
        let set = self
            .cx
            .change_in(caller.actor(), now, ws, None)
            .with(Change::InsertInvitation(inv.clone()))
            .audit(
                "invitation.created",
                inv.id,
                json!({ "email": inv.email, "roles": roles }),
            )
            .notify(NotificationKind::Invitation, vec![to], data)
            .into_set()?;
        self.cx
            .commit_checked(set, || self.cx.invitable(ws, &inv.email, now))
            .await?;
        Ok(inv)
    }

    /// Revokes a pending invitation (owners).
    pub async fn revoke_invitation(
        &self,
        caller: Caller,
        id: InvitationId,
    ) -> ServiceResult<Invitation> {
        let inv = self
            .cx
            .p
            .workspaces
            .invitation(id)
            .await?
            .ok_or(ServiceError::NotFound {
                entity: "invitation",
            })?;
        self.cx
            .require_on(
                "invitation",
                caller,
                inv.workspace_id,
                Action::ManageMembers,
            )
            .await?;
        let now = self.cx.now();
        let mut next = inv.revoke(now).map_err(invitation_error)?;
        self.cx
            .change_in(caller.actor(), now, inv.workspace_id, None)
            .update(&mut next)
            .audit("invitation.revoked", id, json!({}))
            .commit()
            .await?;
        Ok(next)
    }

    /// Accepts an invitation sent to the caller's e-mail; accepted once.
    pub async fn accept_invitation(
        &self,
        caller: Caller,
        id: InvitationId,
    ) -> ServiceResult<Membership> {
        let Caller::Account(account_id) = caller else {
            return Err(ServiceError::NotFound {
                entity: "invitation",
            });
        };
        let account = self.cx.accounts().account(account_id).await?;
        let inv = self
            .cx
            .p
            .workspaces
            .invitation(id)
            .await?
            .ok_or(ServiceError::NotFound {
                entity: "invitation",
            })?;
        let now = self.cx.now();
        let mut next = inv.accept(&account.email, now).map_err(invitation_error)?;
        let existing = self
            .cx
            .p
            .workspaces
            .members(inv.workspace_id)
            .await?
            .into_iter()
            .find(|m| m.account_id == account_id);
        let roles = existing.as_ref().map_or(inv.roles, |m| {
            RoleSet::of(&m.roles.iter().chain(inv.roles.iter()).collect::<Vec<_>>())
        });
        let m = Membership {
            workspace_id: inv.workspace_id,
            account_id,
            roles,
            joined_at: existing.map_or(now, |e| e.joined_at),
        };
        let set = self
            .cx
            .change_in(caller.actor(), now, inv.workspace_id, None)
            .update(&mut next)
            .with(Change::PutMembership(m.clone()))
            .audit("invitation.accepted", id, json!({ "roles": roles }))
            .into_set()?;
        // A concurrent twin accepted it first: answer what a later accept would.
        self.cx
            .commit_checked(set, || async {
                match self.cx.p.workspaces.invitation(id).await? {
                    Some(now_inv) => now_inv
                        .accept(&account.email, now)
                        .map(|_| ())
                        .map_err(invitation_error),
                    None => Ok(()),
                }
            })
            .await?;
        Ok(m)
    }

    /// Asks to join a workspace (its id is shared by a colleague); an owner decides.
    pub async fn request_to_join(
        &self,
        caller: Caller,
        ws: WorkspaceId,
        message: Option<String>,
    ) -> ServiceResult<JoinRequest> {
        let Caller::Account(account) = caller else {
            return Err(ServiceError::NotFound {
                entity: "workspace",
            });
        };
        self.cx.load_workspace(ws).await?;
        self.cx.may_request_to_join(ws, account).await?;
        let message = message
            .map(|m| m.trim().chars().take(1000).collect::<String>())
            .filter(|m| !m.is_empty());
        let now = self.cx.now();
        let jr = JoinRequest {
            id: JoinRequestId::from_ulid(self.cx.ulid()),
            workspace_id: ws,
            account_id: account,
            message,
            created_at: now,
            status: JoinRequestStatus::Pending,
            decided_by: None,
            decided_at: None,
            version: 0,
        };
        let owners = self
            .cx
            .members_to_notify(NotificationKind::JoinRequested, ws, caller.actor())
            .await?;
        let data = self.cx.member_notice(ws, account, None).await?;
        let set = self
            .cx
            .change_in(caller.actor(), now, ws, None)
            .with(Change::InsertJoinRequest(jr.clone()))
            .audit("join_request.created", jr.id, json!({}))
            .notify(NotificationKind::JoinRequested, owners, data)
            .into_set()?;
        self.cx
            .commit_checked(set, || self.cx.may_request_to_join(ws, account))
            .await?;
        Ok(jr)
    }

    /// An owner approves (with roles, default `developer`) or declines a join request.
    pub async fn decide_join_request(
        &self,
        caller: Caller,
        id: JoinRequestId,
        approve: bool,
        roles: Option<RoleSet>,
    ) -> ServiceResult<JoinRequest> {
        let jr = self
            .cx
            .p
            .workspaces
            .join_request(id)
            .await?
            .ok_or(ServiceError::NotFound {
                entity: "join request",
            })?;
        let (owner, _) = self
            .cx
            .require_on(
                "join request",
                caller,
                jr.workspace_id,
                Action::ManageMembers,
            )
            .await?;
        let now = self.cx.now();
        let mut next = jr
            .decide(approve, owner, now)
            .ok_or_else(|| ServiceError::Conflict {
                message: "this request was already decided".into(),
                current: Some(format!("{:?}", jr.status).to_lowercase()),
            })?;
        let mut draft = self
            .cx
            .change_in(caller.actor(), now, jr.workspace_id, None)
            .update(&mut next);
        let roles = roles.unwrap_or(RoleSet::of(&[Role::Developer]));
        if approve {
            draft = draft.with(Change::PutMembership(Membership {
                workspace_id: jr.workspace_id,
                account_id: jr.account_id,
                roles,
                joined_at: now,
            }));
        }
        let action = if approve {
            "join_request.approved"
        } else {
            "join_request.declined"
        };
        let requester = self.cx.account_addressee(jr.account_id).await?;
        let mut data = self
            .cx
            .member_notice(jr.workspace_id, jr.account_id, approve.then_some(roles))
            .await?;
        data["approved"] = json!(approve);
        let set = draft
            .audit(action, id, json!({ "roles": approve.then_some(roles) }))
            .notify(NotificationKind::JoinDecided, vec![requester], data)
            .into_set()?;
        // A concurrent decision won: answer what a later one would.
        self.cx
            .commit_checked(set, || async {
                match self.cx.p.workspaces.join_request(id).await? {
                    Some(j) if j.status != JoinRequestStatus::Pending => {
                        Err(ServiceError::Conflict {
                            message: "this request was already decided".into(),
                            current: Some(format!("{:?}", j.status).to_lowercase()),
                        })
                    }
                    _ => Ok(()),
                }
            })
            .await?;
        Ok(next)
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
        // Nobody is told of their own action.
        let member = if caller == Caller::Account(account) {
            vec![]
        } else {
            vec![self.cx.account_addressee(account).await?]
        };
        let data = self.cx.member_notice(ws, account, Some(roles)).await?;
        self.cx
            .change_in(caller.actor(), now, ws, None)
            .with(Change::PutMembership(next.clone()))
            .audit(
                "member.roles_changed",
                account,
                json!({ "from": m.roles, "to": roles }),
            )
            .notify(NotificationKind::RolesChanged, member, data)
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

impl Context {
    /// Not a member yet, and at most one usable invitation per address and workspace.
    pub(super) async fn invitable(
        &self,
        ws: WorkspaceId,
        email: &Email,
        now: DateTime<Utc>,
    ) -> ServiceResult<()> {
        if let Some(existing) = self.p.accounts.account_by_email(email).await?
            && self
                .p
                .workspaces
                .members(ws)
                .await?
                .iter()
                .any(|m| m.account_id == existing.id)
        {
            return Err(ServiceError::Conflict {
                message: "this person is already a member".into(),
                current: Some("member".into()),
            });
        }
        if self
            .p
            .workspaces
            .invitations(ws)
            .await?
            .iter()
            .any(|i| &i.email == email && i.usable(now).is_ok())
        {
            return Err(ServiceError::Conflict {
                message: "a pending invitation to this e-mail exists".into(),
                current: Some("pending".into()),
            });
        }
        Ok(())
    }

    /// Not a member yet, and at most one pending request per account and workspace.
    pub(super) async fn may_request_to_join(
        &self,
        ws: WorkspaceId,
        account: AccountId,
    ) -> ServiceResult<()> {
        if self
            .p
            .workspaces
            .members(ws)
            .await?
            .iter()
            .any(|m| m.account_id == account)
        {
            return Err(ServiceError::Conflict {
                message: "you are already a member".into(),
                current: Some("member".into()),
            });
        }
        if self
            .p
            .workspaces
            .join_requests_of(account)
            .await?
            .iter()
            .any(|j| j.workspace_id == ws && j.status == JoinRequestStatus::Pending)
        {
            return Err(ServiceError::Conflict {
                message: "a request to join is already pending".into(),
                current: Some("pending".into()),
            });
        }
        Ok(())
    }
}
