//! Reads of the catalog and the pipeline: plans, projects, subscriptions, payments.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::*;
use crate::pipeline::{PhaseKind, Subscription};
use crate::plan::{ApiProduct, Plan};
use crate::project::Project;

use super::StoreResult;

/// The provider's catalog: API products and their plans.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PlanStore: Send + Sync {
    /// The API product with this id, if any.
    async fn product(&self, id: ProductId) -> StoreResult<Option<ApiProduct>>;
    /// Every API product.
    async fn products(&self) -> StoreResult<Vec<ApiProduct>>;
    /// The plan with this id, if any.
    async fn plan(&self, id: PlanId) -> StoreResult<Option<Plan>>;
    /// Every plan of every product.
    async fn plans(&self) -> StoreResult<Vec<Plan>>;
    /// The plan's endpoints, for the forward-auth hot path only: it names the endpoint a call
    /// is counted on and decides nothing, so an adapter may answer from a cache that lags a
    /// change made on another replica by a moment (the bundled server: at most a second).
    async fn plan_endpoints(&self, id: PlanId) -> StoreResult<Option<Arc<[String]>>> {
        Ok(self.plan(id).await?.map(|p| p.endpoints.into()))
    }
}

/// Projects (sandbox and production workloads).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// The project with this id, if any.
    async fn project(&self, id: ProjectId) -> StoreResult<Option<Project>>;
    /// Every project of the workspace, sandbox and production.
    async fn projects(&self, workspace: WorkspaceId) -> StoreResult<Vec<Project>>;
}

/// A position in the go-live queue: (submitted at, id) of the last row seen.
pub type QueueCursor = (DateTime<Utc>, SubscriptionId);

/// Subscriptions and the go-live queue.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// The subscription with this id, if any.
    async fn subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>>;
    /// The plan and phase of the subscription, for the verification hot path only: the answer
    /// there reports them, it decides nothing by them (a credential's own state does). So an
    /// adapter may answer from a cache that lags a change made on another replica by a
    /// moment (the bundled server: at most a second); every other use case reads
    /// [`subscription`](Self::subscription).
    async fn plan_and_phase(&self, id: SubscriptionId) -> StoreResult<Option<(PlanId, PhaseKind)>> {
        Ok(self
            .subscription(id)
            .await?
            .map(|s| (s.plan_id, s.phase.kind())))
    }
    /// Every subscription of the workspace, in any phase.
    async fn subscriptions(&self, workspace: WorkspaceId) -> StoreResult<Vec<Subscription>>;
    /// `in_review` subscriptions, oldest submission first, after the cursor (keyset paging).
    async fn review_queue(
        &self,
        after: Option<QueueCursor>,
        limit: u64,
    ) -> StoreResult<Vec<Subscription>>;
    /// One staff inbox queue, oldest first by (waiting since, id), after the query's cursor:
    /// the subscriptions [`InboxQuery::admits`](crate::inbox::InboxQuery::admits).
    async fn inbox(&self, query: &crate::inbox::InboxQuery) -> StoreResult<Vec<Subscription>>;
    /// How many subscriptions the query admits (its cursor and limit ignored).
    async fn inbox_count(&self, query: &crate::inbox::InboxQuery) -> StoreResult<u64>;
}

/// Payment status. The bundled adapter reads payments an admin confirmed; a processor plugs in here.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Whether the subscription's plan is paid for: paid plans lock production credentials until it
    /// is.
    async fn is_paid(&self, subscription: SubscriptionId) -> StoreResult<bool>;
}
