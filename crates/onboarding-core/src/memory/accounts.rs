//! Accounts, staff, workspaces and the API's sessions.

use async_trait::async_trait;

use crate::credential::SecretHash;
use crate::ids::*;
use crate::ports::*;
use crate::values::Email;
use crate::workspace::{
    Account, Invitation, InvitationStatus, JoinRequest, Membership, Staff, Workspace,
};

use super::MemoryStore;

#[async_trait]
impl AccountStore for MemoryStore {
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        Ok(self.state.lock().unwrap().accounts.get(&id).cloned())
    }
    async fn account_by_email(&self, email: &Email) -> StoreResult<Option<Account>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .accounts
            .values()
            .find(|a| &a.email == email)
            .cloned())
    }
    async fn staff(&self, id: StaffId) -> StoreResult<Option<Staff>> {
        Ok(self.state.lock().unwrap().staff.get(&id).cloned())
    }
    async fn staff_by_email(&self, email: &Email) -> StoreResult<Option<Staff>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .staff
            .values()
            .find(|a| &a.email == email)
            .cloned())
    }
    async fn staff_count(&self) -> StoreResult<u64> {
        Ok(self.state.lock().unwrap().staff.len() as u64)
    }
}

#[async_trait]
impl WorkspaceStore for MemoryStore {
    async fn workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        Ok(self.state.lock().unwrap().workspaces.get(&id).cloned())
    }
    async fn members(&self, workspace: WorkspaceId) -> StoreResult<Vec<Membership>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .memberships
            .values()
            .filter(|m| m.workspace_id == workspace)
            .cloned()
            .collect())
    }
    async fn memberships_of(&self, account: AccountId) -> StoreResult<Vec<Membership>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .memberships
            .values()
            .filter(|m| m.account_id == account)
            .cloned()
            .collect())
    }
    async fn invitation(&self, id: InvitationId) -> StoreResult<Option<Invitation>> {
        Ok(self.state.lock().unwrap().invitations.get(&id).cloned())
    }
    async fn invitations(&self, workspace: WorkspaceId) -> StoreResult<Vec<Invitation>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .invitations
            .values()
            .filter(|i| i.workspace_id == workspace)
            .cloned()
            .collect())
    }
    async fn invitations_for(&self, email: &Email) -> StoreResult<Vec<Invitation>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .invitations
            .values()
            .filter(|i| &i.email == email && i.status == InvitationStatus::Pending)
            .cloned()
            .collect())
    }
    async fn join_request(&self, id: JoinRequestId) -> StoreResult<Option<JoinRequest>> {
        Ok(self.state.lock().unwrap().join_requests.get(&id).cloned())
    }
    async fn join_requests(&self, workspace: WorkspaceId) -> StoreResult<Vec<JoinRequest>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .join_requests
            .values()
            .filter(|j| j.workspace_id == workspace)
            .cloned()
            .collect())
    }
    async fn join_requests_of(&self, account: AccountId) -> StoreResult<Vec<JoinRequest>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .join_requests
            .values()
            .filter(|j| j.account_id == account)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl AuthTokenStore for MemoryStore {
    async fn insert_token(&self, token: AuthToken) -> StoreResult<()> {
        self.state
            .lock()
            .unwrap()
            .auth_tokens
            .insert(token.token_hash.clone(), token);
        Ok(())
    }
    async fn find_token(&self, hash: &SecretHash) -> StoreResult<Option<AuthToken>> {
        Ok(self.state.lock().unwrap().auth_tokens.get(hash).cloned())
    }
    async fn delete_token(&self, hash: &SecretHash) -> StoreResult<()> {
        self.state.lock().unwrap().auth_tokens.remove(hash);
        Ok(())
    }
    async fn tokens_of(&self, principal: Principal) -> StoreResult<Vec<AuthToken>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .auth_tokens
            .values()
            .filter(|t| t.principal == principal)
            .cloned()
            .collect())
    }
}
