//! API products and plans.

use async_trait::async_trait;
use onboarding_core::ids::*;
use onboarding_core::plan::{ApiProduct, Plan};
use onboarding_core::ports::*;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};

use super::{TxErr, all, all_set, one, tx_err};
use crate::SeaOrmStore;
use crate::entities::*;
use crate::map;

/// Applies a change to the catalog inside the committing transaction.
pub(super) async fn apply(c: &DatabaseTransaction, change: &Change) -> Result<(), TxErr> {
    match change {
        Change::InsertProduct(p) => {
            insert!(c, product, map::product_model(p), "product");
        }
        Change::InsertPlan(p) => {
            insert!(c, plan, map::plan_model(p), "plan");
        }
        Change::UpdatePlan {
            value,
            expected_version,
        } => versioned!(c, plan, map::plan_model(value), *expected_version, "plan"),
        other => unreachable!("not a catalog change: {other:?}"),
    }
    Ok(())
}

#[async_trait]
impl PlanStore for SeaOrmStore {
    async fn product(&self, id: ProductId) -> StoreResult<Option<ApiProduct>> {
        let r = product::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read product", map::product)
    }
    async fn products(&self) -> StoreResult<Vec<ApiProduct>> {
        let r = product::Entity::find()
            .order_by_asc(product::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read products", map::product)
    }
    async fn plan(&self, id: PlanId) -> StoreResult<Option<Plan>> {
        let r = plan::Entity::find_by_id(id.to_string()).one(&self.db).await;
        one(r, "read plan", map::plan)
    }
    async fn plans(&self) -> StoreResult<Vec<Plan>> {
        let r = plan::Entity::find()
            .order_by_asc(plan::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read plans", map::plan)
    }
}
