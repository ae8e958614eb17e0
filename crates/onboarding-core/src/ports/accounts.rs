//! Reads of accounts, staff and workspaces.

use async_trait::async_trait;

use crate::ids::*;
use crate::values::Email;
use crate::workspace::{Account, Invitation, JoinRequest, Membership, Staff, Workspace};

use super::StoreResult;

/// Accounts and the provider's staff directory.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The account with this id, if any.
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    /// The account signed up with this (normalized) e-mail, if any.
    async fn account_by_email(&self, email: &Email) -> StoreResult<Option<Account>>;
    /// The staff member with this id, if any.
    async fn staff(&self, id: StaffId) -> StoreResult<Option<Staff>>;
    /// The staff member with this (normalized) e-mail, if any.
    async fn staff_by_email(&self, email: &Email) -> StoreResult<Option<Staff>>;
    /// How many staff members exist; zero means the portal still needs its first admin.
    async fn staff_count(&self) -> StoreResult<u64>;
}

/// Workspaces, their memberships, invitations and join requests.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WorkspaceStore: Send + Sync {
    /// The workspace with this id, if any.
    async fn workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>>;
    /// Every membership (member and role set) of the workspace.
    async fn members(&self, workspace: WorkspaceId) -> StoreResult<Vec<Membership>>;
    /// Every workspace membership of the account: what the access page and the workspace switcher
    /// list.
    async fn memberships_of(&self, account: AccountId) -> StoreResult<Vec<Membership>>;
    /// The invitation with this id, if any.
    async fn invitation(&self, id: InvitationId) -> StoreResult<Option<Invitation>>;
    /// Every invitation of the workspace, in any state (pending, accepted, revoked, expired).
    async fn invitations(&self, workspace: WorkspaceId) -> StoreResult<Vec<Invitation>>;
    /// Pending invitations sent to this address, in any workspace.
    async fn invitations_for(&self, email: &Email) -> StoreResult<Vec<Invitation>>;
    /// The join request with this id, if any.
    async fn join_request(&self, id: JoinRequestId) -> StoreResult<Option<JoinRequest>>;
    /// Every join request to the workspace, in any state.
    async fn join_requests(&self, workspace: WorkspaceId) -> StoreResult<Vec<JoinRequest>>;
    /// Every join request the account made, in any workspace (its `awaiting_attachment` state reads
    /// them).
    async fn join_requests_of(&self, account: AccountId) -> StoreResult<Vec<JoinRequest>>;
}
