//! Subscriptions and their payments.

use async_trait::async_trait;
use onboarding_core::billing::Payment;
use onboarding_core::ids::*;
use onboarding_core::pipeline::Subscription;
use onboarding_core::ports::*;
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::{TxErr, all, all_set, one, store_err, tx_err};
use crate::SeaOrmStore;
use crate::entities::*;
use crate::map;

/// Applies a change to the subscriptions inside the committing transaction.
pub(super) async fn apply(c: &DatabaseTransaction, change: &Change) -> Result<(), TxErr> {
    match change {
        Change::InsertSubscription(s) => {
            insert!(c, subscription, map::subscription_model(s), "subscription");
        }
        Change::UpdateSubscription {
            value,
            expected_version,
        } => versioned!(
            c,
            subscription,
            map::subscription_model(value),
            *expected_version,
            "subscription"
        ),
        Change::RecordPayment(p) => {
            insert!(c, payment, map::payment_model(p), "payment");
        }
        other => unreachable!("not a subscriptions change: {other:?}"),
    }
    Ok(())
}

#[async_trait]
impl SubscriptionStore for SeaOrmStore {
    async fn subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>> {
        let r = subscription::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read subscription", map::subscription)
    }
    async fn subscriptions(&self, ws: WorkspaceId) -> StoreResult<Vec<Subscription>> {
        let r = subscription::Entity::find()
            .filter(subscription::Column::WorkspaceId.eq(ws.to_string()))
            .order_by_asc(subscription::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read subscriptions", map::subscription)
    }
    async fn review_queue(
        &self,
        after: Option<QueueCursor>,
        limit: u64,
    ) -> StoreResult<Vec<Subscription>> {
        use subscription::Column as C;
        let mut q = subscription::Entity::find().filter(C::Phase.eq("in_review"));
        if let Some((at, id)) = after {
            // `submitted_at >= at` is implied by the OR below, and spelled out for SQLite's
            // planner: without it, SQLite seeks the index on `phase` only and scans every row
            // in review before the cursor (a last page at 1 M rows took 5× the first; issue 7).
            q = q.filter(
                Condition::all().add(C::SubmittedAt.gte(at)).add(
                    Condition::any().add(C::SubmittedAt.gt(at)).add(
                        Condition::all()
                            .add(C::SubmittedAt.eq(at))
                            .add(C::Id.gt(id.to_string())),
                    ),
                ),
            );
        }
        let r = q
            .order_by_asc(C::SubmittedAt)
            .order_by_asc(C::Id)
            .limit(limit)
            .all(&self.db)
            .await;
        all(r, "read review queue", map::subscription)
    }
    async fn inbox(
        &self,
        q: &onboarding_core::inbox::InboxQuery,
    ) -> StoreResult<Vec<Subscription>> {
        self.inbox_page(q).await
    }
    async fn inbox_count(&self, q: &onboarding_core::inbox::InboxQuery) -> StoreResult<u64> {
        self.inbox_total(q).await
    }
}

#[async_trait]
impl PaymentGateway for SeaOrmStore {
    async fn is_paid(&self, subscription: SubscriptionId) -> StoreResult<bool> {
        Ok(payment::Entity::find()
            .filter(payment::Column::SubscriptionId.eq(subscription.to_string()))
            .count(&self.db)
            .await
            .map_err(store_err("read payments"))?
            > 0)
    }
}

impl SeaOrmStore {
    /// Payments of a subscription, oldest first.
    pub async fn payments_of(&self, subscription: SubscriptionId) -> StoreResult<Vec<Payment>> {
        payment::Entity::find()
            .filter(payment::Column::SubscriptionId.eq(subscription.to_string()))
            .order_by_asc(payment::Column::At)
            .order_by_asc(payment::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_err("read payments"))?
            .into_iter()
            .map(map::payment)
            .collect()
    }
}
