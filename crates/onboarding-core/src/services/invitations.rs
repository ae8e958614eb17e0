//! Invitations and join requests: the two ways into a workspace.

use chrono::TimeDelta;
use serde_json::json;

use super::*;
use crate::roles::Role;
use crate::values::Email;
use crate::workspace::{
    DEFAULT_INVITATION_TTL, Invitation, InvitationError, InvitationStatus, JoinRequest,
    JoinRequestStatus, MAX_INVITATION_TTL,
};

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
        let set = self
            .cx
            .change_in(caller.actor(), now, ws, None)
            .with(Change::InsertInvitation(inv.clone()))
            .audit(
                "invitation.created",
                inv.id,
                json!({ "email": inv.email, "roles": roles }),
            )
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
        let set = self
            .cx
            .change_in(caller.actor(), now, ws, None)
            .with(Change::InsertJoinRequest(jr.clone()))
            .audit("join_request.created", jr.id, json!({}))
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
        let set = draft
            .audit(action, id, json!({ "roles": approve.then_some(roles) }))
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
