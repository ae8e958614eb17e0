//! Accounts, provider staff, workspaces, memberships, invitations and join requests (spec §1-2).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, InvitationId, JoinRequestId, StaffId, WorkspaceId};
use crate::roles::{Role, RoleSet, StaffRole};
use crate::values::{Email, Label};

/// A consumer-side person. Everyone signs in as themselves: no shared logins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// The account's ULID (`acct_...`).
    pub id: AccountId,
    /// The sign-in address, normalized; unique among accounts and where invitations are sent.
    pub email: Email,
    /// The person's display name.
    pub name: Label,
    /// A PHC-format password hash from the [`PasswordHasher`](crate::ports::PasswordHasher) port.
    pub password_hash: String,
    /// When the account signed up.
    pub created_at: DateTime<Utc>,
}

/// A member of the provider's staff directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Staff {
    /// The staff member's ULID (`staff_...`).
    pub id: StaffId,
    /// The sign-in address, normalized; unique in the staff directory.
    pub email: Email,
    /// The person's display name, shown on review decisions.
    pub name: Label,
    /// Admin or reviewer.
    pub role: StaffRole,
    /// A PHC-format password hash from the [`PasswordHasher`](crate::ports::PasswordHasher) port.
    pub password_hash: String,
    /// When the staff member was added.
    pub created_at: DateTime<Utc>,
}

/// A workspace: what users call their organization. It names who answers for billing, audit and
/// security; the production gates read those names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    /// The workspace's ULID (`ws_...`).
    pub id: WorkspaceId,
    /// The organization's name, as members and reviewers see it.
    pub name: Label,
    /// The member named billing owner (must hold `billing`); the billing ownership gate reads it.
    pub billing_owner: Option<AccountId>,
    /// The member named audit contact (must hold `compliance`); the audit readiness gate reads it.
    pub audit_contact: Option<AccountId>,
    /// The member named security owner (must hold `security_owner`); the internal access controls
    /// gate reads it.
    pub security_owner: Option<AccountId>,
    /// When the workspace was created.
    pub created_at: DateTime<Utc>,
    /// The account that created it (its first owner).
    pub created_by: AccountId,
    /// Optimistic concurrency: an update is stored only if nobody changed the row since.
    pub version: i64,
}

/// The three responsibilities an owner names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Responsibility {
    /// Receives invoices and owns payment; gate 5, billing ownership.
    BillingOwner,
    /// The compliance member reviewers contact about the audit log; gate 6, audit readiness.
    AuditContact,
    /// The member accountable for credentials and access; gate 7, internal access controls.
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

    /// The snake_case name used in the API and audit details (`billing_owner`).
    pub fn as_str(self) -> &'static str {
        match self {
            Responsibility::BillingOwner => "billing_owner",
            Responsibility::AuditContact => "audit_contact",
            Responsibility::SecurityOwner => "security_owner",
        }
    }
}

impl Workspace {
    /// The member currently named for `r`, if any.
    pub fn responsible(&self, r: Responsibility) -> Option<AccountId> {
        match r {
            Responsibility::BillingOwner => self.billing_owner,
            Responsibility::AuditContact => self.audit_contact,
            Responsibility::SecurityOwner => self.security_owner,
        }
    }

    /// Names `who` for `r`, or clears it with `None`. The caller checks the role
    /// ([`Responsibility::required_role`]).
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
    /// The workspace joined.
    pub workspace_id: WorkspaceId,
    /// The member's account.
    pub account_id: AccountId,
    /// The member's roles; permissions are a pure function of this set.
    pub roles: RoleSet,
    /// When the account joined (accepted an invitation, had a join request approved, or created the
    /// workspace).
    pub joined_at: DateTime<Utc>,
}

/// Invitations expire after this long unless the owner sets another lifetime.
pub const DEFAULT_INVITATION_TTL: TimeDelta = TimeDelta::days(7);
/// The longest lifetime an invitation may be given.
pub const MAX_INVITATION_TTL: TimeDelta = TimeDelta::days(30);

/// The stored state of an invitation; expiry is computed from `expires_at`, see
/// [`Invitation::usable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Sent and not yet accepted or revoked (it may still have expired).
    Pending,
    /// Accepted by its recipient: used up.
    Accepted,
    /// Revoked by an owner before it was accepted.
    Revoked,
}

/// An invitation naming an e-mail and the roles it grants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    /// The invitation's ULID.
    pub id: InvitationId,
    /// The workspace the invitee joins on acceptance.
    pub workspace_id: WorkspaceId,
    /// The invited address: only the account with this e-mail may accept.
    pub email: Email,
    /// The roles the membership gets on acceptance.
    pub roles: RoleSet,
    /// The owner who sent the invitation.
    pub invited_by: AccountId,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it stops being usable (by default 7 days after sending).
    pub expires_at: DateTime<Utc>,
    /// The stored state.
    pub status: InvitationStatus,
    /// Optimistic concurrency: an update is stored only if nobody changed the row since.
    pub version: i64,
}

/// Why an invitation cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvitationError {
    /// Past its `expires_at` without being accepted.
    #[error("the invitation has expired")]
    Expired,
    /// Revoked by an owner.
    #[error("the invitation was revoked")]
    Revoked,
    /// Invitations are accepted once.
    #[error("the invitation was already accepted")]
    AlreadyAccepted,
    /// The signed-in account's e-mail is not the invited one.
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
        // The recipient first: anyone else learns nothing of the invitation's state.
        if &self.email != email {
            return Err(InvitationError::WrongRecipient);
        }
        self.usable(now)?;
        Ok(Invitation {
            status: InvitationStatus::Accepted,
            ..self.clone()
        })
    }

    /// Revokes a still-usable invitation (pending and not expired).
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

/// The state of a join request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinRequestStatus {
    /// Waiting for an owner's decision.
    Pending,
    /// An owner approved it; the account became a member.
    Approved,
    /// An owner declined it.
    Declined,
}

/// An account asking to join a workspace; an owner approves or declines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The join request's ULID.
    pub id: JoinRequestId,
    /// The workspace the account asks to join.
    pub workspace_id: WorkspaceId,
    /// The account asking.
    pub account_id: AccountId,
    /// An optional note to the owners ("I work on the checkout team").
    pub message: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Pending, approved or declined.
    pub status: JoinRequestStatus,
    /// The owner who decided, once decided.
    pub decided_by: Option<AccountId>,
    /// When it was decided, once decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// Optimistic concurrency: an update is stored only if nobody changed the row since.
    pub version: i64,
}

impl JoinRequest {
    /// Approves or declines a pending request; `None` when it was already decided.
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
    AwaitingAttachment {
        /// The pending invitations and join requests, each with who must act.
        pending: Vec<PendingAttachment>,
    },
    /// Member of at least one workspace.
    Attached {
        /// Every workspace the account belongs to.
        workspaces: Vec<WorkspaceId>,
    },
}

impl AccessState {
    /// The state's snake_case name (`signed_up`, `awaiting_attachment`, `attached`).
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
    /// The workspace to be joined.
    pub workspace_id: WorkspaceId,
    /// The organization's name, shown on the access page.
    pub organization: String,
    /// How the attachment was started, and who must act on it.
    #[serde(flatten)]
    pub via: AttachmentVia,
}

/// How an account is on its way into a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum AttachmentVia {
    /// The account itself must accept.
    Invitation {
        /// The pending invitation.
        invitation_id: InvitationId,
        /// Who must act, in words for the access page ("you: accept the invitation").
        who_must_act: String,
    },
    /// An owner of the workspace must decide.
    JoinRequest {
        /// The pending join request.
        join_request_id: JoinRequestId,
        /// Who must act, in words for the access page ("an owner of Acme").
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
        // Anyone but the recipient learns nothing of its state.
        let eve = Email::new("eve@example.com").unwrap();
        for used in [&accepted, &revoked] {
            assert_eq!(
                used.accept(&eve, t0()),
                Err(InvitationError::WrongRecipient)
            );
        }
        assert_eq!(
            inv.accept(&eve, t0() + TimeDelta::days(7)),
            Err(InvitationError::WrongRecipient)
        );
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
