//! Credentials and their secrets.

use async_trait::async_trait;

use crate::credential::{Credential, SecretHash, SecretMatch};
use crate::ids::*;
use crate::ports::*;

use super::MemoryStore;

#[async_trait]
impl CredentialStore for MemoryStore {
    async fn credential(&self, id: CredentialId) -> StoreResult<Option<Credential>> {
        Ok(self.state.lock().unwrap().credentials.get(&id).cloned())
    }
    async fn credentials_of_project(&self, project: ProjectId) -> StoreResult<Vec<Credential>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .credentials
            .values()
            .filter(|c| c.project_id == project)
            .cloned()
            .collect())
    }
    async fn credentials_of_subscription(
        &self,
        subscription: SubscriptionId,
    ) -> StoreResult<Vec<Credential>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .credentials
            .values()
            .filter(|c| c.subscription_id == subscription)
            .cloned()
            .collect())
    }
    async fn find_by_secret_hash(
        &self,
        hash: &SecretHash,
    ) -> StoreResult<Option<(Credential, SecretMatch)>> {
        let s = self.state.lock().unwrap();
        for c in s.credentials.values() {
            if &c.secret.hash == hash {
                return Ok(Some((c.clone(), SecretMatch::Current)));
            }
            if let Some(p) = c.previous.as_ref().filter(|p| &p.hash == hash) {
                return Ok(Some((
                    c.clone(),
                    SecretMatch::Previous {
                        expires_at: p.expires_at,
                    },
                )));
            }
        }
        Ok(s.tokens.get(hash).and_then(|t| {
            s.credentials.get(&t.credential_id).map(|c| {
                (
                    c.clone(),
                    SecretMatch::AccessToken {
                        expires_at: t.expires_at,
                    },
                )
            })
        }))
    }
    async fn find_by_client_id(&self, client_id: &str) -> StoreResult<Option<Credential>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .credentials
            .values()
            .find(|c| matches!(&c.kind, crate::credential::CredentialKind::OauthClient { client_id: id } if id == client_id))
            .cloned())
    }
}
