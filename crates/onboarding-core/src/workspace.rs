//! Accounts, provider staff, workspaces, memberships, invitations and join requests (spec §1-2).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, InvitationId, JoinRequestId, StaffId, WorkspaceId};
use crate::roles::{Role, RoleSet, StaffRole};
use crate::values::{Email, Label};

/// A consumer-side person. Everyone signs in as themselves: no shared logins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub email: Email,
    pub name: Label,
    /// A PHC-format password hash from the [`PasswordHasher`](crate::ports::PasswordHasher) port.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// A member of the provider's staff directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Staff {
    pub id: StaffId,
    pub email: Email,
    pub name: Label,
    pub role: StaffRole,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// A workspace: what users call their organization. It names who answers for billing, audit and
/// security; the production gates read those names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: Label,
    pub billing_owner: Option<AccountId>,
    pub audit_contact: Option<AccountId>,
    pub security_owner: Option<AccountId>,
    pub created_at: DateTime<Utc>,
    pub created_by: AccountId,
    pub version: i64,
}

/// The three responsibilities an owner names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Responsibility {
    BillingOwner,
    AuditContact,
    SecurityOwner,
}

impl Responsibility {
    /// The role a member must hold to be named.
    pub fn required_role(self) -> Role {
        match self {
            Responsibility::BillingOwner => Role::Billing,
            Responsibility::AuditContact => Role::Compliance,
            Responsibility::SecurityOwner => Role::SecurityOwner,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Responsibility::BillingOwner => "billing_owner",
            Responsibility::AuditContact => "audit_contact",
            Responsibility::SecurityOwner => "security_owner",
        }
    }
}

impl Workspace {
    pub fn responsible(&self, r: Responsibility) -> Option<AccountId> {
        match r {
            Responsibility::BillingOwner => self.billing_owner,
            Responsibility::AuditContact => self.audit_contact,
            Responsibility::SecurityOwner => self.security_owner,
        }
    }

    pub fn set_responsible(&mut self, r: Responsibility, who: Option<AccountId>) {
        match r {
            Responsibility::BillingOwner => self.billing_owner = who,
            Responsibility::AuditContact => self.audit_contact = who,
            Responsibility::SecurityOwner => self.security_owner = who,
        }
    }
}

/// One account's membership of one workspace, with its set of roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub workspace_id: WorkspaceId,
    pub account_id: AccountId,
    pub roles: RoleSet,
    pub joined_at: DateTime<Utc>,
}

/// Invitations expire after this long unless the owner sets another lifetime.
pub const DEFAULT_INVITATION_TTL: TimeDelta = TimeDelta::days(7);
/// The longest lifetime an invitation may be given.
pub const MAX_INVITATION_TTL: TimeDelta = TimeDelta::days(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
}

/// An invitation naming an e-mail and the roles it grants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: InvitationId,
    pub workspace_id: WorkspaceId,
    pub email: Email,
    pub roles: RoleSet,
    pub invited_by: AccountId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: InvitationStatus,
    pub version: i64,
}

/// Why an invitation cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvitationError {
    #[error("the invitation has expired")]
    Expired,
    #[error("the invitation was revoked")]
    Revoked,
    #[error("the invitation was already accepted")]
    AlreadyAccepted,
    #[error("the invitation was sent to another e-mail address")]
    WrongRecipient,
}

impl Invitation {
    /// The effective status at `now` (a pending invitation past its expiry reads as expired).
    pub fn usable(&self, now: DateTime<Utc>) -> Result<(), InvitationError> {
        match self.status {
            InvitationStatus::Accepted => Err(InvitationError::AlreadyAccepted),
            InvitationStatus::Revoked => Err(InvitationError::Revoked),
            InvitationStatus::Pending if now >= self.expires_at => Err(InvitationError::Expired),
            InvitationStatus::Pending => Ok(()),
        }
    }

    /// Accepts once, by the account the invitation was sent to.
    pub fn accept(&self, email: &Email, now: DateTime<Utc>) -> Result<Invitation, InvitationError> {
        self.usable(now)?;
        if &self.email != email {
            return Err(InvitationError::WrongRecipient);
        }
        Ok(Invitation {
            status: InvitationStatus::Accepted,
            ..self.clone()
        })
    }

    pub fn revoke(&self, now: DateTime<Utc>) -> Result<Invitation, InvitationError> {
        match self.usable(now) {
            Ok(()) | Err(InvitationError::Expired) => Ok(Invitation {
                status: InvitationStatus::Revoked,
                ..self.clone()
            }),
            Err(e) => Err(e),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinRequestStatus {
    Pending,
    Approved,
    Declined,
}

/// An account asking to join a workspace; an owner approves or declines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub id: JoinRequestId,
    pub workspace_id: WorkspaceId,
    pub account_id: AccountId,
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub status: JoinRequestStatus,
    pub decided_by: Option<AccountId>,
    pub decided_at: Option<DateTime<Utc>>,
    pub version: i64,
}

impl JoinRequest {
    pub fn decide(&self, approve: bool, by: AccountId, at: DateTime<Utc>) -> Option<JoinRequest> {
        (self.status == JoinRequestStatus::Pending).then(|| JoinRequest {
            status: if approve {
                JoinRequestStatus::Approved
            } else {
                JoinRequestStatus::Declined
            },
            decided_by: Some(by),
            decided_at: Some(at),
            ..self.clone()
        })
    }
}

/// An account's access state (spec §2), shown on the access page with the exact next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AccessState {
    /// Has an account, belongs to no workspace.
    SignedUp,
    /// Asked to join, or was invited and has not accepted.
    AwaitingAttachment { pending: Vec<PendingAttachment> },
    /// Member of at least one workspace.
    Attached { workspaces: Vec<WorkspaceId> },
}

impl AccessState {
    pub fn as_str(&self) -> &'static str {
        match self {
            AccessState::SignedUp => "signed_up",
            AccessState::AwaitingAttachment { .. } => "awaiting_attachment",
            AccessState::Attached { .. } => "attached",
        }
    }
}

/// A pending invitation or join request: which organization, and who must act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingAttachment {
    pub workspace_id: WorkspaceId,
    pub organization: String,
    #[serde(flatten)]
    pub via: AttachmentVia,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum AttachmentVia {
    /// The account itself must accept.
    Invitation {
        invitation_id: InvitationId,
        who_must_act: String,
    },
    /// An owner of the workspace must decide.
    JoinRequest {
        join_request_id: JoinRequestId,
        who_must_act: String,
    },
}

/// Computes the access state from memberships and pending attachments.
pub fn access_state(memberships: &[Membership], pending: Vec<PendingAttachment>) -> AccessState {
    if !memberships.is_empty() {
        AccessState::Attached {
            workspaces: memberships.iter().map(|m| m.workspace_id).collect(),
        }
    } else if !pending.is_empty() {
        AccessState::AwaitingAttachment { pending }
    } else {
        AccessState::SignedUp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::*;

    fn invitation() -> Invitation {
        Invitation {
            id: InvitationId::from_ulid(ulid::Ulid::from_parts(1, 9)),
            workspace_id: workspace_id(),
            email: Email::new("bo@example.com").unwrap(),
            roles: RoleSet::of(&[Role::Billing]),
            invited_by: dev(),
            created_at: t0(),
            expires_at: t0() + DEFAULT_INVITATION_TTL,
            status: InvitationStatus::Pending,
            version: 0,
        }
    }

    #[test]
    fn invitations_expire_are_accepted_once_and_can_be_revoked() {
        let bo = Email::new("bo@example.com").unwrap();
        let inv = invitation();
        let accepted = inv.accept(&bo, t0()).unwrap();
        assert_eq!(
            accepted.accept(&bo, t0()),
            Err(InvitationError::AlreadyAccepted)
        );
        assert_eq!(
            inv.accept(&bo, t0() + TimeDelta::days(7)),
            Err(InvitationError::Expired)
        );
        assert_eq!(
            inv.accept(&Email::new("eve@example.com").unwrap(), t0()),
            Err(InvitationError::WrongRecipient)
        );
        let revoked = inv.revoke(t0()).unwrap();
        assert_eq!(revoked.accept(&bo, t0()), Err(InvitationError::Revoked));
        assert_eq!(accepted.revoke(t0()), Err(InvitationError::AlreadyAccepted));
    }

    #[test]
    fn access_state_in_each_case() {
        assert_eq!(access_state(&[], vec![]), AccessState::SignedUp);
        let pending = PendingAttachment {
            workspace_id: workspace_id(),
            organization: "Acme".into(),
            via: AttachmentVia::JoinRequest {
                join_request_id: JoinRequestId::from_ulid(ulid::Ulid::from_parts(1, 1)),
                who_must_act: "an owner of Acme".into(),
            },
        };
        assert_eq!(
            access_state(&[], vec![pending.clone()]).as_str(),
            "awaiting_attachment"
        );
        let m = Membership {
            workspace_id: workspace_id(),
            account_id: dev(),
            roles: RoleSet::of(&[Role::Owner]),
            joined_at: t0(),
        };
        assert_eq!(access_state(&[m], vec![pending]).as_str(), "attached");
    }

    #[test]
    fn join_requests_are_decided_once() {
        let jr = JoinRequest {
            id: JoinRequestId::from_ulid(ulid::Ulid::from_parts(1, 2)),
            workspace_id: workspace_id(),
            account_id: other_account(),
            message: None,
            created_at: t0(),
            status: JoinRequestStatus::Pending,
            decided_by: None,
            decided_at: None,
            version: 0,
        };
        let approved = jr.decide(true, dev(), t0()).unwrap();
        assert_eq!(approved.status, JoinRequestStatus::Approved);
        assert!(approved.decide(false, dev(), t0()).is_none());
    }
}
