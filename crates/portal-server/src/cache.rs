//! The verification cache: a caching decorator of the core's [`CredentialStore`] and
//! [`SubscriptionStore`] ports (the core does not know it is there). It holds, in bounded
//! caches, the answers of `find_by_secret_hash` (positive and negative, for a bounded time)
//! and of `plan_and_phase`, so that a verification hit reads no database.
//!
//! The caches are `quick_cache`'s (S3-FIFO eviction, sharded locks, no background work), each
//! entry stamped with its insertion time and refused once older than its cache's TTL
//! ([`TtlCache`]). A verification hit does two look-ups; moka's, with its access-order
//! bookkeeping, took about 10 % of the server's CPU on that path (issue 7's profile).
//!
//! Invalidation of secrets, so that a revocation stops a secret everywhere within a second:
//! - on this replica, before the use case returns: the same object decorates
//!   [`UnitOfWork`], and a committed `UpdateCredential` drops every cached secret of that
//!   credential (its current, rotated-out and access-token hashes);
//! - on other replicas: [`crate::workers`] feeds [`VerifyCache::invalidate_credential`]
//!   from PostgreSQL's `LISTEN credential_changed` and from a polling read of
//!   `credential_change` (the fallback, and the only feed on SQLite).
//!
//! A look-up that raced an invalidation (read the database before the change committed,
//! answered after it was invalidated) must not put its stale answer back: a generation
//! counter, bumped by every invalidation under a write lock, guards each insert.
//!
//! Credential scope (project and environment, for usage ingestion): fixed when a credential
//! is created, so a found scope is kept until evicted, with no invalidation; an unknown id
//! is not remembered (the credential may be created a moment later).
//!
//! Plan and phase: a committed `UpdateSubscription` on this replica drops its entry; on
//! other replicas the entry lives [`CacheConfig::phase_ttl`] (one second). The verify answer
//! only reports the phase (the port's contract), so a phase a second old is acceptable
//! there; nothing else reads this cache.
//!
//! A plan's endpoints (forward auth names the endpoint a call is counted on by them): the same
//! rule, a committed `UpdatePlan` here drops the entry, other replicas' entries live
//! [`CacheConfig::phase_ttl`]; nothing but forward auth reads them.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use onboarding_core::credential::{Credential, SecretHash, SecretMatch};
use onboarding_core::ids::{
    CredentialId, PlanId, ProductId, ProjectId, SubscriptionId, WorkspaceId,
};
use onboarding_core::inbox::InboxQuery;
use onboarding_core::pipeline::{PhaseKind, Subscription};
use onboarding_core::plan::{ApiProduct, Plan};
use onboarding_core::ports::{
    Change, ChangeSet, CredentialStore, PlanStore, QueueCursor, StoreResult, SubscriptionStore,
    UnitOfWork,
};
use onboarding_core::project::Environment;

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
    /// How long a subscription's plan and phase are reported without a re-read: the most a
    /// phase change made on another replica takes to show in verify answers here.
    pub phase_ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            positive_ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(10),
            phase_ttl: Duration::from_secs(1),
        }
    }
}

type Found = (Credential, SecretMatch);

/// A bounded cache whose entries expire `ttl` after they were inserted (never, without one).
/// An expired entry is answered as absent and removed by the look-up that found it.
pub struct TtlCache<K, V> {
    entries: quick_cache::sync::Cache<K, (Instant, V)>,
    ttl: Option<Duration>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: u64, ttl: Option<Duration>) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(usize::try_from(capacity).unwrap_or(usize::MAX)),
            ttl,
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Hash + quick_cache::Equivalent<K> + ?Sized,
    {
        let (at, value) = self.entries.get(key)?;
        if self.ttl.is_some_and(|ttl| at.elapsed() >= ttl) {
            // Only this entry: one inserted since (a fresh answer) stays.
            self.entries.remove_if(key, |(stamped, _)| *stamped == at);
            return None;
        }
        Some(value)
    }

    pub fn insert(&self, key: K, value: V) {
        self.entries.insert(key, (Instant::now(), value));
    }

    pub fn invalidate<Q>(&self, key: &Q)
    where
        Q: Hash + quick_cache::Equivalent<K> + ?Sized,
    {
        self.entries.remove(key);
    }

    /// Removes every entry whose value matches.
    pub fn invalidate_if(&self, matches: impl Fn(&V) -> bool) {
        self.entries.retain(|_, (_, v)| !matches(v));
    }

    pub fn invalidate_all(&self) {
        self.entries.clear();
    }

    /// Entries held, expired ones included until a look-up or eviction removes them.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The caching decorator of [`CredentialStore`], [`SubscriptionStore`], [`PlanStore`] and
/// [`UnitOfWork`].
pub struct VerifyCache {
    store: Arc<dyn CredentialStore>,
    subscriptions: Arc<dyn SubscriptionStore>,
    plans: Arc<dyn PlanStore>,
    uow: Arc<dyn UnitOfWork>,
    positive: TtlCache<String, Found>,
    negative: TtlCache<String, ()>,
    phases: TtlCache<SubscriptionId, Option<(PlanId, PhaseKind)>>,
    endpoints: TtlCache<PlanId, Option<Arc<[String]>>>,
    scopes: TtlCache<CredentialId, (ProjectId, Environment)>,
    /// Bumped by every invalidation; inserts happen under the read side.
    generation: RwLock<u64>,
}

impl VerifyCache {
    pub fn new(
        store: Arc<dyn CredentialStore>,
        subscriptions: Arc<dyn SubscriptionStore>,
        plans: Arc<dyn PlanStore>,
        uow: Arc<dyn UnitOfWork>,
        config: CacheConfig,
    ) -> Self {
        Self {
            store,
            subscriptions,
            plans,
            uow,
            positive: TtlCache::new(config.capacity, Some(config.positive_ttl)),
            negative: TtlCache::new(config.capacity, Some(config.negative_ttl)),
            phases: TtlCache::new(config.capacity, Some(config.phase_ttl)),
            endpoints: TtlCache::new(config.capacity, Some(config.phase_ttl)),
            scopes: TtlCache::new(config.capacity, None),
            generation: RwLock::new(0),
        }
    }

    fn generation(&self) -> u64 {
        *self.generation.read().expect("cache generation lock")
    }

    /// Forgets every cached secret of this credential.
    pub fn invalidate_credential(&self, id: CredentialId) {
        self.invalidate_credentials(&[id]);
    }

    /// Forgets every cached secret of these credentials, in one pass over the cache however
    /// many there are (the pass is synchronous: a bulk revocation must not walk it per id).
    pub fn invalidate_credentials(&self, ids: &[CredentialId]) {
        if ids.is_empty() {
            return;
        }
        let ids: HashSet<CredentialId> = ids.iter().copied().collect();
        let mut g = self.generation.write().expect("cache generation lock");
        *g += 1;
        self.positive
            .invalidate_if(|(credential, _)| ids.contains(&credential.id));
    }

    /// Forgets everything (after a lost notification connection).
    pub fn invalidate_all(&self) {
        let mut g = self.generation.write().expect("cache generation lock");
        *g += 1;
        self.positive.invalidate_all();
        self.negative.invalidate_all();
        self.phases.invalidate_all();
        self.endpoints.invalidate_all();
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
    pub fn len(&self) -> usize {
        self.positive.len() + self.negative.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl CredentialStore for VerifyCache {
    async fn credential(&self, id: CredentialId) -> StoreResult<Option<Credential>> {
        self.store.credential(id).await
    }
    async fn credential_scope(
        &self,
        id: CredentialId,
    ) -> StoreResult<Option<(ProjectId, Environment)>> {
        if let Some(scope) = self.scopes.get(&id) {
            return Ok(Some(scope));
        }
        let answer = self.store.credential_scope(id).await?;
        if let Some(scope) = answer {
            self.scopes.insert(id, scope);
        }
        Ok(answer)
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
        if self.negative.get(key).is_some() {
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
impl SubscriptionStore for VerifyCache {
    async fn subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>> {
        self.subscriptions.subscription(id).await
    }
    async fn plan_and_phase(&self, id: SubscriptionId) -> StoreResult<Option<(PlanId, PhaseKind)>> {
        if let Some(answer) = self.phases.get(&id) {
            return Ok(answer);
        }
        let before = self.generation();
        let answer = self.subscriptions.plan_and_phase(id).await?;
        let g = self.generation.read().expect("cache generation lock");
        if *g == before {
            self.phases.insert(id, answer);
        }
        drop(g);
        Ok(answer)
    }
    async fn subscriptions(&self, workspace: WorkspaceId) -> StoreResult<Vec<Subscription>> {
        self.subscriptions.subscriptions(workspace).await
    }
    async fn review_queue(
        &self,
        after: Option<QueueCursor>,
        limit: u64,
    ) -> StoreResult<Vec<Subscription>> {
        self.subscriptions.review_queue(after, limit).await
    }
    async fn inbox(&self, q: &InboxQuery) -> StoreResult<Vec<Subscription>> {
        self.subscriptions.inbox(q).await
    }
    async fn inbox_count(&self, q: &InboxQuery) -> StoreResult<u64> {
        self.subscriptions.inbox_count(q).await
    }
}

#[async_trait]
impl PlanStore for VerifyCache {
    async fn product(&self, id: ProductId) -> StoreResult<Option<ApiProduct>> {
        self.plans.product(id).await
    }
    async fn products(&self) -> StoreResult<Vec<ApiProduct>> {
        self.plans.products().await
    }
    async fn plan(&self, id: PlanId) -> StoreResult<Option<Plan>> {
        self.plans.plan(id).await
    }
    async fn plans(&self) -> StoreResult<Vec<Plan>> {
        self.plans.plans().await
    }
    async fn plan_endpoints(&self, id: PlanId) -> StoreResult<Option<Arc<[String]>>> {
        if let Some(answer) = self.endpoints.get(&id) {
            return Ok(answer);
        }
        let before = self.generation();
        let answer = self.plans.plan_endpoints(id).await?;
        let g = self.generation.read().expect("cache generation lock");
        if *g == before {
            self.endpoints.insert(id, answer.clone());
        }
        drop(g);
        Ok(answer)
    }
}

#[async_trait]
impl UnitOfWork for VerifyCache {
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()> {
        let mut changed = Vec::new();
        let mut new_hashes = Vec::new();
        let mut phases_changed = Vec::new();
        let mut plans_changed = Vec::new();
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
                Change::EndAccessTokens(id) => changed.push(*id),
                Change::UpdateSubscription { value, .. } => phases_changed.push(value.id),
                Change::UpdatePlan { value, .. } => plans_changed.push(value.id),
                _ => {}
            }
        }
        let result = self.uow.commit(changes).await;
        // Also after a failure: a commit whose outcome is unknown may have changed it.
        self.invalidate_credentials(&changed);
        self.forget_unknown(&new_hashes);
        if !phases_changed.is_empty() {
            let mut g = self.generation.write().expect("cache generation lock");
            *g += 1;
            for id in phases_changed {
                self.phases.invalidate(&id);
            }
        }
        if !plans_changed.is_empty() {
            let mut g = self.generation.write().expect("cache generation lock");
            *g += 1;
            for id in plans_changed {
                self.endpoints.invalidate(&id);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selective_invalidation_hides_entries_at_once() {
        let c: TtlCache<String, u32> = TtlCache::new(10, None);
        c.insert("a".into(), 1);
        c.insert("b".into(), 2);
        c.insert("c".into(), 1);
        c.invalidate_if(|v| *v == 1);
        assert_eq!(c.get("a"), None);
        assert_eq!(c.get("c"), None);
        assert_eq!(c.get("b"), Some(2));
        c.invalidate("b");
        assert_eq!(c.get("b"), None);
        assert!(c.is_empty());
    }

    fn cached_credential(id: u128) -> Found {
        use onboarding_core::audit::Actor;
        use onboarding_core::credential::{CredentialKind, CredentialStatus, IssuedSecret};
        use onboarding_core::credential::{SecretKind, SecretRecord};
        use onboarding_core::values::Label;
        let now = chrono::Utc::now();
        let secret = IssuedSecret::new(
            SecretKind::ApiKey,
            Environment::Sandbox,
            "0123456789abcdefghijABCDEFGHIJ01",
        )
        .unwrap();
        let nil = ulid::Ulid::nil();
        let credential = Credential {
            id: CredentialId::from_ulid(ulid::Ulid(id)),
            workspace_id: WorkspaceId::from_ulid(nil),
            project_id: ProjectId::from_ulid(nil),
            subscription_id: SubscriptionId::from_ulid(nil),
            environment: Environment::Sandbox,
            kind: CredentialKind::ApiKey,
            name: Label::new("bench").unwrap(),
            status: CredentialStatus::Active,
            secret: SecretRecord::of(&secret, now),
            previous: None,
            created_at: now,
            created_by: Actor::System,
            version: 1,
        };
        (credential, SecretMatch::Current)
    }

    #[tokio::test]
    async fn invalidating_several_credentials_drops_each_ones_secrets_in_one_call() {
        let store = Arc::new(Unknown(Default::default()));
        let cache = cache_over(&store);
        for (hash, id) in [("a", 1), ("a-previous", 1), ("b", 2), ("c", 3)] {
            cache
                .positive
                .insert(hash.to_owned(), cached_credential(id));
        }
        let id = |n| CredentialId::from_ulid(ulid::Ulid(n));
        cache.invalidate_credentials(&[id(1), id(3)]);
        for gone in ["a", "a-previous", "c"] {
            assert!(cache.positive.get(gone).is_none(), "{gone} is still cached");
        }
        assert!(
            cache.positive.get("b").is_some(),
            "other credentials keep theirs"
        );
        cache.invalidate_credentials(&[]);
        assert!(cache.positive.get("b").is_some());
    }

    #[test]
    fn an_entry_older_than_the_ttl_is_absent_and_removed() {
        // A TTL of zero: every entry is already as old as the TTL when it is read.
        let expired: TtlCache<String, u32> = TtlCache::new(10, Some(Duration::ZERO));
        expired.insert("a".into(), 1);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired.get("a"), None);
        assert_eq!(expired.len(), 0, "the look-up removed it");
        let kept: TtlCache<String, u32> = TtlCache::new(10, Some(Duration::from_secs(3600)));
        kept.insert("a".into(), 1);
        assert_eq!(kept.get("a"), Some(1));
        kept.insert("a".into(), 2);
        assert_eq!(kept.get("a"), Some(2), "an insert replaces the entry");
        kept.invalidate_all();
        assert_eq!(kept.get("a"), None);
    }

    #[test]
    fn the_capacity_bounds_the_entries() {
        let c: TtlCache<u32, u32> = TtlCache::new(100, None);
        for i in 0..10_000 {
            c.insert(i, i);
        }
        assert!(c.len() <= 200, "{} entries held", c.len());
    }

    struct Unknown(std::sync::atomic::AtomicU32);

    #[async_trait]
    impl CredentialStore for Unknown {
        async fn credential(&self, _: CredentialId) -> StoreResult<Option<Credential>> {
            Ok(None)
        }
        /// Counts reads; every id but [`MISSING`] is a sandbox credential.
        async fn credential_scope(
            &self,
            id: CredentialId,
        ) -> StoreResult<Option<(ProjectId, Environment)>> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok((id != CredentialId::from_ulid(MISSING)).then(|| {
                (
                    ProjectId::from_ulid(ulid::Ulid::nil()),
                    Environment::Sandbox,
                )
            }))
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

    /// Counts `plan_and_phase` reads and answers this plan, in the sandbox phase.
    #[async_trait]
    impl SubscriptionStore for Unknown {
        async fn subscription(&self, _: SubscriptionId) -> StoreResult<Option<Subscription>> {
            Ok(None)
        }
        async fn plan_and_phase(
            &self,
            _: SubscriptionId,
        ) -> StoreResult<Option<(PlanId, PhaseKind)>> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Some((
                PlanId::from_ulid(ulid::Ulid::nil()),
                PhaseKind::Sandbox,
            )))
        }
        async fn subscriptions(&self, _: WorkspaceId) -> StoreResult<Vec<Subscription>> {
            Ok(vec![])
        }
        async fn review_queue(
            &self,
            _: Option<QueueCursor>,
            _: u64,
        ) -> StoreResult<Vec<Subscription>> {
            Ok(vec![])
        }
        async fn inbox(&self, _: &InboxQuery) -> StoreResult<Vec<Subscription>> {
            Ok(vec![])
        }
        async fn inbox_count(&self, _: &InboxQuery) -> StoreResult<u64> {
            Ok(0)
        }
    }

    /// Counts `plan` reads and answers the demo catalog's first plan under any id.
    #[async_trait]
    impl PlanStore for Unknown {
        async fn product(&self, _: ProductId) -> StoreResult<Option<ApiProduct>> {
            Ok(None)
        }
        async fn products(&self) -> StoreResult<Vec<ApiProduct>> {
            Ok(vec![])
        }
        async fn plan(&self, id: PlanId) -> StoreResult<Option<Plan>> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let input = onboarding_core::demo::demo_catalog().1.remove(0);
            Ok(Some(Plan {
                id,
                product_id: ProductId::from_ulid(ulid::Ulid::nil()),
                name: onboarding_core::values::Label::new("Demo").unwrap(),
                has_sandbox: true,
                sandbox_access: input.sandbox_access,
                endpoints: input.endpoints,
                events: vec![],
                test_data: vec![],
                form: None,
                pricing: input.pricing,
                gates: vec![],
                integration_min_calls: 0,
                waive_separation_of_duties: false,
                created_at: chrono::Utc::now(),
                version: 1,
            }))
        }
        async fn plans(&self) -> StoreResult<Vec<Plan>> {
            Ok(vec![])
        }
    }

    #[async_trait]
    impl UnitOfWork for Unknown {
        async fn commit(&self, _: ChangeSet) -> StoreResult<()> {
            Ok(())
        }
    }

    const MISSING: ulid::Ulid = ulid::Ulid::from_parts(9, 9);

    #[tokio::test]
    async fn a_found_credential_scope_is_read_once_and_an_unknown_one_every_time() {
        let store = Arc::new(Unknown(Default::default()));
        let cache = cache_over(&store);
        let calls = || store.0.load(std::sync::atomic::Ordering::SeqCst);
        let known = CredentialId::from_ulid(ulid::Ulid::from_parts(1, 1));
        for _ in 0..3 {
            assert_eq!(
                cache.credential_scope(known).await.unwrap().map(|s| s.1),
                Some(Environment::Sandbox)
            );
        }
        assert_eq!(calls(), 1, "a found scope is kept");
        let missing = CredentialId::from_ulid(MISSING);
        for _ in 0..2 {
            assert_eq!(cache.credential_scope(missing).await.unwrap(), None);
        }
        assert_eq!(
            calls(),
            3,
            "an unknown id is asked again: it may be created a moment later"
        );
    }

    fn cache_over(store: &Arc<Unknown>) -> VerifyCache {
        VerifyCache::new(
            store.clone(),
            store.clone(),
            store.clone(),
            store.clone(),
            CacheConfig::default(),
        )
    }

    #[tokio::test]
    async fn plan_and_phase_are_read_once_until_this_replica_changes_the_subscription() {
        use chrono::Utc;
        use onboarding_core::ids::AccountId;
        use onboarding_core::pipeline::{Phase, SandboxAccess};
        let store = Arc::new(Unknown(Default::default()));
        let cache = cache_over(&store);
        let calls = || store.0.load(std::sync::atomic::Ordering::SeqCst);
        let id = SubscriptionId::from_ulid(ulid::Ulid::from_parts(1, 1));
        for _ in 0..3 {
            assert_eq!(
                cache.plan_and_phase(id).await.unwrap().map(|a| a.1),
                Some(PhaseKind::Sandbox)
            );
        }
        assert_eq!(calls(), 1, "hits read no store");
        let other = SubscriptionId::from_ulid(ulid::Ulid::from_parts(1, 2));
        cache.plan_and_phase(other).await.unwrap();
        assert_eq!(calls(), 2, "each subscription has its own entry");

        let now = Utc::now();
        let changed = Subscription {
            id,
            workspace_id: WorkspaceId::from_ulid(ulid::Ulid::nil()),
            project_id: ProjectId::from_ulid(ulid::Ulid::nil()),
            plan_id: PlanId::from_ulid(ulid::Ulid::nil()),
            phase: Phase::Sandbox {
                changes_requested: None,
            },
            sandbox_access: SandboxAccess::Granted { at: now, by: None },
            answers: None,
            sign_offs: vec![],
            history: vec![],
            production_project_id: None,
            created_at: now,
            created_by: AccountId::from_ulid(ulid::Ulid::nil()),
            version: 1,
        };
        cache
            .commit(ChangeSet {
                changes: vec![Change::UpdateSubscription {
                    value: changed,
                    expected_version: 0,
                }],
                audit: vec![],
                outbox: vec![],
            })
            .await
            .unwrap();
        cache.plan_and_phase(id).await.unwrap();
        assert_eq!(
            calls(),
            3,
            "a committed change drops the entry before commit returns"
        );
        cache.plan_and_phase(other).await.unwrap();
        assert_eq!(calls(), 3, "other subscriptions keep theirs");
    }

    #[tokio::test]
    async fn plan_endpoints_are_read_once_until_this_replica_changes_the_plan() {
        let store = Arc::new(Unknown(Default::default()));
        let cache = cache_over(&store);
        let calls = || store.0.load(std::sync::atomic::Ordering::SeqCst);
        let id = PlanId::from_ulid(ulid::Ulid::from_parts(2, 1));
        let first = cache.plan_endpoints(id).await.unwrap().unwrap();
        assert!(!first.is_empty());
        for _ in 0..3 {
            assert_eq!(cache.plan_endpoints(id).await.unwrap(), Some(first.clone()));
        }
        assert_eq!(calls(), 1, "hits read no store");
        let mut changed = cache.plan(id).await.unwrap().unwrap();
        changed.endpoints = vec!["GET /changed".into()];
        cache
            .commit(ChangeSet {
                changes: vec![Change::UpdatePlan {
                    value: changed,
                    expected_version: 0,
                }],
                audit: vec![],
                outbox: vec![],
            })
            .await
            .unwrap();
        cache.plan_endpoints(id).await.unwrap();
        assert_eq!(
            calls(),
            3,
            "a committed change drops the entry before commit returns"
        );
    }

    #[tokio::test]
    async fn negative_answers_are_cached_and_forgotten_when_the_secret_appears() {
        let store = Arc::new(Unknown(Default::default()));
        let cache = cache_over(&store);
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
