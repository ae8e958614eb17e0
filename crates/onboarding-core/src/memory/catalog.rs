//! Products, plans, projects, subscriptions and payments.

use async_trait::async_trait;

use crate::ids::*;
use crate::pipeline::{Phase, Subscription};
use crate::plan::{ApiProduct, Plan};
use crate::ports::*;
use crate::project::Project;

use super::MemoryStore;

#[async_trait]
impl PlanStore for MemoryStore {
    async fn product(&self, id: ProductId) -> StoreResult<Option<ApiProduct>> {
        Ok(self.state.lock().unwrap().products.get(&id).cloned())
    }
    async fn products(&self) -> StoreResult<Vec<ApiProduct>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .products
            .values()
            .cloned()
            .collect())
    }
    async fn plan(&self, id: PlanId) -> StoreResult<Option<Plan>> {
        Ok(self.state.lock().unwrap().plans.get(&id).cloned())
    }
    async fn plans(&self) -> StoreResult<Vec<Plan>> {
        Ok(self.state.lock().unwrap().plans.values().cloned().collect())
    }
}

#[async_trait]
impl ProjectStore for MemoryStore {
    async fn project(&self, id: ProjectId) -> StoreResult<Option<Project>> {
        Ok(self.state.lock().unwrap().projects.get(&id).cloned())
    }
    async fn projects(&self, workspace: WorkspaceId) -> StoreResult<Vec<Project>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .projects
            .values()
            .filter(|p| p.workspace_id == workspace)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl SubscriptionStore for MemoryStore {
    async fn subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>> {
        Ok(self.state.lock().unwrap().subscriptions.get(&id).cloned())
    }
    async fn subscriptions(&self, workspace: WorkspaceId) -> StoreResult<Vec<Subscription>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .subscriptions
            .values()
            .filter(|s| s.workspace_id == workspace)
            .cloned()
            .collect())
    }
    async fn review_queue(
        &self,
        after: Option<QueueCursor>,
        limit: u64,
    ) -> StoreResult<Vec<Subscription>> {
        let s = self.state.lock().unwrap();
        let mut rows: Vec<(QueueCursor, Subscription)> = s
            .subscriptions
            .values()
            .filter_map(|x| match x.phase {
                Phase::InReview { submitted_at, .. } => Some(((submitted_at, x.id), x.clone())),
                _ => None,
            })
            .filter(|(k, _)| after.is_none_or(|a| *k > a))
            .collect();
        rows.sort_by_key(|(k, _)| *k);
        Ok(rows
            .into_iter()
            .take(limit as usize)
            .map(|(_, x)| x)
            .collect())
    }
    async fn inbox(&self, q: &crate::inbox::InboxQuery) -> StoreResult<Vec<Subscription>> {
        let mut rows = self.inbox_rows(q);
        rows.retain(|(k, _)| q.after.is_none_or(|a| *k > a));
        rows.truncate(q.limit as usize);
        Ok(rows.into_iter().map(|(_, x)| x).collect())
    }
    async fn inbox_count(&self, q: &crate::inbox::InboxQuery) -> StoreResult<u64> {
        Ok(self.inbox_rows(q).len() as u64)
    }
}

impl MemoryStore {
    /// Every row the inbox query admits, oldest first.
    fn inbox_rows(&self, q: &crate::inbox::InboxQuery) -> Vec<(QueueCursor, Subscription)> {
        let s = self.state.lock().unwrap();
        let paid = |id| s.payments.iter().any(|p| p.subscription_id == id);
        let mut rows: Vec<_> = s
            .subscriptions
            .values()
            .filter(|x| q.admits(x, paid(x.id)))
            .filter_map(|x| crate::inbox::InboxQuery::key(x).map(|k| (k, x.clone())))
            .collect();
        rows.sort_by_key(|(k, _)| *k);
        rows
    }
}

#[async_trait]
impl PaymentGateway for MemoryStore {
    async fn is_paid(&self, subscription: SubscriptionId) -> StoreResult<bool> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .payments
            .iter()
            .any(|p| p.subscription_id == subscription))
    }
}
