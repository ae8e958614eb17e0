//! The staff inbox queues: one index `(waiting_on, waiting_since, id)` serves every queue,
//! oldest first, keyset-paged like the go-live queue.

use onboarding_core::inbox::{InboxQuery, InboxQueue};
use onboarding_core::pipeline::Subscription;
use onboarding_core::ports::StoreResult;
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};

use crate::SeaOrmStore;
use crate::entities::{payment, subscription};
use crate::map;
use crate::store::store_err;

/// The rows [`InboxQuery::admits`], as SQL: the same rule, so the conformance suite compares
/// this adapter with the in-memory one.
fn filtered(q: &InboxQuery) -> Select<subscription::Entity> {
    use subscription::Column as C;
    let mut s = subscription::Entity::find().filter(C::WaitingOn.eq(q.queue.as_str()));
    if let Some(plans) = &q.plans {
        s = s.filter(C::PlanId.is_in(plans.iter().map(ToString::to_string)));
    }
    if let Some(w) = q.workspace {
        s = s.filter(C::WorkspaceId.eq(w.to_string()));
    }
    if q.queue == InboxQueue::AwaitingPayment {
        s = s.filter(
            C::Id.not_in_subquery(
                Query::select()
                    .column(payment::Column::SubscriptionId)
                    .from(payment::Entity)
                    .to_owned(),
            ),
        );
    }
    s
}

impl SeaOrmStore {
    pub(crate) async fn inbox_page(&self, q: &InboxQuery) -> StoreResult<Vec<Subscription>> {
        use subscription::Column as C;
        if q.plans.as_ref().is_some_and(Vec::is_empty) {
            return Ok(vec![]);
        }
        let mut s = filtered(q);
        if let Some((at, id)) = q.after {
            // `>= at` spelled out for SQLite's planner, as in the go-live queue.
            s = s.filter(
                Condition::all().add(C::WaitingSince.gte(at)).add(
                    Condition::any().add(C::WaitingSince.gt(at)).add(
                        Condition::all()
                            .add(C::WaitingSince.eq(at))
                            .add(C::Id.gt(id.to_string())),
                    ),
                ),
            );
        }
        s.order_by_asc(C::WaitingSince)
            .order_by_asc(C::Id)
            .limit(q.limit)
            .all(&self.db)
            .await
            .map_err(store_err("read inbox"))?
            .into_iter()
            .map(map::subscription)
            .collect()
    }

    pub(crate) async fn inbox_total(&self, q: &InboxQuery) -> StoreResult<u64> {
        if q.plans.as_ref().is_some_and(Vec::is_empty) {
            return Ok(0);
        }
        filtered(q)
            .count(&self.db)
            .await
            .map_err(store_err("count inbox"))
    }
}
