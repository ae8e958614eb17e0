//! The verification cache: a caching decorator of the core's [`CredentialStore`] port (the
//! core does not know it is there) in front of `find_by_secret_hash`, holding positive and
//! negative answers for a bounded time in a bounded `moka` cache.
//!
//! Invalidation, so that a revocation stops a secret everywhere within a second:
//! - on this replica, before the use case returns: the same object decorates
//!   [`UnitOfWork`], and a committed `UpdateCredential` drops every cached secret of that
//!   credential (its current, rotated-out and access-token hashes);
//! - on other replicas: [`crate::workers`] feeds [`CredentialCache::invalidate_credential`]
//!   from PostgreSQL's `LISTEN credential_changed` and from a polling read of
//!   `credential_change` (the fallback, and the only feed on SQLite).
//!
//! A look-up that raced an invalidation (read the database before the change committed,
//! answered after it was invalidated) must not put its stale answer back: a generation
//! counter, bumped by every invalidation under a write lock, guards each insert.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use onboarding_core::credential::{Credential, SecretHash, SecretMatch};
use onboarding_core::ids::{CredentialId, ProjectId, SubscriptionId};
use onboarding_core::ports::{Change, ChangeSet, CredentialStore, StoreResult, UnitOfWork};

/// Bounds of the verification cache.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// Most secrets remembered (positive and negative answers each).
    pub capacity: u64,
    /// How long a found credential is trusted without a signal (the safety net under the
    /// invalidation feeds).
    pub positive_ttl: Duration,
    /// How long an unknown secret stays unknown.
    pub negative_ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            positive_ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(10),
        }
    }
}

type Found = (Credential, SecretMatch);

/// The caching decorator of [`CredentialStore`] and [`UnitOfWork`].
pub struct CredentialCache {
    store: Arc<dyn CredentialStore>,
    uow: Arc<dyn UnitOfWork>,
    positive: moka::sync::Cache<String, Found>,
    negative: moka::sync::Cache<String, ()>,
    /// Bumped by every invalidation; inserts happen under the read side.
    generation: RwLock<u64>,
}

impl CredentialCache {
    pub fn new(
        store: Arc<dyn CredentialStore>,
        uow: Arc<dyn UnitOfWork>,
        config: CacheConfig,
    ) -> Self {
        Self {
            store,
            uow,
            positive: moka::sync::Cache::builder()
                .max_capacity(config.capacity)
                .time_to_live(config.positive_ttl)
                .support_invalidation_closures()
                .build(),
            negative: moka::sync::Cache::builder()
                .max_capacity(config.capacity)
                .time_to_live(config.negative_ttl)
                .build(),
            generation: RwLock::new(0),
        }
    }

    fn generation(&self) -> u64 {
        *self.generation.read().expect("cache generation lock")
    }

    /// Forgets every cached secret of this credential.
    pub fn invalidate_credential(&self, id: CredentialId) {
        let mut g = self.generation.write().expect("cache generation lock");
        *g += 1;
        if let Err(e) = self
            .positive
            .invalidate_entries_if(move |_, v| v.0.id == id)
        {
            tracing::warn!(error = %e, "cannot invalidate selectively; clearing the cache");
            self.positive.invalidate_all();
        }
    }

    /// Forgets everything (after a lost notification connection).
    pub fn invalidate_all(&self) {
        let mut g = self.generation.write().expect("cache generation lock");
        *g += 1;
        self.positive.invalidate_all();
        self.negative.invalidate_all();
    }

    fn forget_unknown(&self, hashes: &[String]) {
        if hashes.is_empty() {
            return;
        }
        let mut g = self.generation.write().expect("cache generation lock");
        *g += 1;
        for h in hashes {
            self.negative.invalidate(h);
        }
    }

    /// Cached secrets (positive and negative), for tests and metrics.
    pub fn len(&self) -> u64 {
        self.positive.run_pending_tasks();
        self.negative.run_pending_tasks();
        self.positive.entry_count() + self.negative.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl CredentialStore for CredentialCache {
    async fn credential(&self, id: CredentialId) -> StoreResult<Option<Credential>> {
        self.store.credential(id).await
    }
    async fn credentials_of_project(&self, project: ProjectId) -> StoreResult<Vec<Credential>> {
        self.store.credentials_of_project(project).await
    }
    async fn credentials_of_subscription(
        &self,
        subscription: SubscriptionId,
    ) -> StoreResult<Vec<Credential>> {
        self.store.credentials_of_subscription(subscription).await
    }
    async fn find_by_secret_hash(&self, hash: &SecretHash) -> StoreResult<Option<Found>> {
        let key = hash.as_str();
        if let Some(found) = self.positive.get(key) {
            return Ok(Some(found));
        }
        if self.negative.contains_key(key) {
            return Ok(None);
        }
        let before = self.generation();
        let answer = self.store.find_by_secret_hash(hash).await?;
        let g = self.generation.read().expect("cache generation lock");
        if *g == before {
            match &answer {
                Some(found) => self.positive.insert(key.to_owned(), found.clone()),
                None => self.negative.insert(key.to_owned(), ()),
            }
        }
        drop(g);
        Ok(answer)
    }
    async fn find_by_client_id(&self, client_id: &str) -> StoreResult<Option<Credential>> {
        self.store.find_by_client_id(client_id).await
    }
}

#[async_trait]
impl UnitOfWork for CredentialCache {
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()> {
        let mut changed = Vec::new();
        let mut new_hashes = Vec::new();
        for c in &changes.changes {
            match c {
                Change::UpdateCredential { value, .. } => {
                    changed.push(value.id);
                    new_hashes.push(value.secret.hash.as_str().to_owned());
                }
                Change::InsertCredential(value) => {
                    new_hashes.push(value.secret.hash.as_str().to_owned());
                }
                Change::InsertAccessToken(t) => new_hashes.push(t.hash.as_str().to_owned()),
                _ => {}
            }
        }
        let result = self.uow.commit(changes).await;
        // Also after a failure: a commit whose outcome is unknown may have changed it.
        for id in changed {
            self.invalidate_credential(id);
        }
        self.forget_unknown(&new_hashes);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selective_invalidation_hides_entries_at_once() {
        let c: moka::sync::Cache<String, u32> = moka::sync::Cache::builder()
            .max_capacity(10)
            .support_invalidation_closures()
            .build();
        c.insert("a".into(), 1);
        c.insert("b".into(), 2);
        c.invalidate_entries_if(|_, v| *v == 1).unwrap();
        assert_eq!(c.get("a"), None);
        assert_eq!(c.get("b"), Some(2));
    }

    struct Unknown(std::sync::atomic::AtomicU32);

    #[async_trait]
    impl CredentialStore for Unknown {
        async fn credential(&self, _: CredentialId) -> StoreResult<Option<Credential>> {
            Ok(None)
        }
        async fn credentials_of_project(&self, _: ProjectId) -> StoreResult<Vec<Credential>> {
            Ok(vec![])
        }
        async fn credentials_of_subscription(
            &self,
            _: SubscriptionId,
        ) -> StoreResult<Vec<Credential>> {
            Ok(vec![])
        }
        async fn find_by_secret_hash(&self, _: &SecretHash) -> StoreResult<Option<Found>> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(None)
        }
        async fn find_by_client_id(&self, _: &str) -> StoreResult<Option<Credential>> {
            Ok(None)
        }
    }

    #[async_trait]
    impl UnitOfWork for Unknown {
        async fn commit(&self, _: ChangeSet) -> StoreResult<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn negative_answers_are_cached_and_forgotten_when_the_secret_appears() {
        let store = Arc::new(Unknown(Default::default()));
        let cache = CredentialCache::new(store.clone(), store.clone(), CacheConfig::default());
        let h = SecretHash::of("x");
        let calls = || store.0.load(std::sync::atomic::Ordering::SeqCst);
        assert!(cache.find_by_secret_hash(&h).await.unwrap().is_none());
        assert!(cache.find_by_secret_hash(&h).await.unwrap().is_none());
        assert_eq!(calls(), 1);
        cache.forget_unknown(&[h.as_str().to_owned()]);
        assert!(cache.find_by_secret_hash(&h).await.unwrap().is_none());
        assert_eq!(calls(), 2);
    }
}
