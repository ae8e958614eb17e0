//! Reads of credentials.

use async_trait::async_trait;

use crate::credential::{Credential, SecretHash, SecretMatch};
use crate::ids::*;

use super::StoreResult;

/// API keys and OAuth clients (only secret hashes are stored).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// The credential with this id, if any.
    async fn credential(&self, id: CredentialId) -> StoreResult<Option<Credential>>;
    /// The project and environment of the credential with this id, if it exists: facts fixed
    /// when the credential is created. Usage ingestion reads only these, so an adapter may
    /// answer them from a cache (the bundled server does); every other use case reads
    /// [`credential`](Self::credential).
    async fn credential_scope(
        &self,
        id: CredentialId,
    ) -> StoreResult<Option<(ProjectId, crate::project::Environment)>> {
        Ok(self
            .credential(id)
            .await?
            .map(|c| (c.project_id, c.environment)))
    }
    /// Every credential owned by the project, in any state (active, revoked, expired).
    async fn credentials_of_project(&self, project: ProjectId) -> StoreResult<Vec<Credential>>;
    /// Every credential created under the subscription, in any state.
    async fn credentials_of_subscription(
        &self,
        subscription: SubscriptionId,
    ) -> StoreResult<Vec<Credential>>;
    /// The credential whose current secret, rotated-out secret or access token has this hash.
    async fn find_by_secret_hash(
        &self,
        hash: &SecretHash,
    ) -> StoreResult<Option<(Credential, SecretMatch)>>;
    /// The OAuth client with this public client id (`client_...`), if any.
    async fn find_by_client_id(&self, client_id: &str) -> StoreResult<Option<Credential>>;
}
