//! Webhook endpoints and their test deliveries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use onboarding_core::ids::*;
use onboarding_core::ports::*;
use onboarding_core::webhook::WebhookEndpoint;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use super::{TxErr, all, all_set, one, store_err, tx_err};
use crate::SeaOrmStore;
use crate::entities::*;
use crate::map;

/// Applies a change to the webhooks inside the committing transaction.
pub(super) async fn apply(c: &DatabaseTransaction, change: &Change) -> Result<(), TxErr> {
    match change {
        Change::InsertWebhookEndpoint(e) => {
            insert!(
                c,
                webhook_endpoint,
                map::endpoint_model(e),
                "webhook endpoint"
            );
        }
        Change::UpdateWebhookEndpoint {
            value,
            expected_version,
        } => versioned!(
            c,
            webhook_endpoint,
            map::endpoint_model(value),
            *expected_version,
            "webhook endpoint"
        ),
        other => unreachable!("not a webhooks change: {other:?}"),
    }
    Ok(())
}

#[async_trait]
impl WebhookStore for SeaOrmStore {
    async fn endpoint(&self, id: WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>> {
        let r = webhook_endpoint::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read endpoint", map::endpoint)
    }
    async fn endpoints(&self, project: ProjectId) -> StoreResult<Vec<WebhookEndpoint>> {
        let r = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::ProjectId.eq(project.to_string()))
            .order_by_asc(webhook_endpoint::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read endpoints", map::endpoint)
    }
    async fn last_test_delivery(
        &self,
        project: ProjectId,
    ) -> StoreResult<Option<(DateTime<Utc>, bool)>> {
        // The newest by delivery time; of equal times, the one recorded last.
        let recorded = webhook_test_delivery::Entity::find()
            .filter(webhook_test_delivery::Column::ProjectId.eq(project.to_string()))
            .order_by_desc(webhook_test_delivery::Column::At)
            .order_by_desc(webhook_test_delivery::Column::Id)
            .one(&self.db)
            .await
            .map_err(store_err("read test delivery"))?
            .map(|d| (d.at, d.ok));
        // The newest of a hand-recorded result and a real `test` delivery (as the reference
        // store answers).
        let delivered = DeliveryStore::last_test_delivery(self, project).await?;
        Ok(recorded
            .into_iter()
            .chain(delivered)
            .max_by_key(|(at, _)| *at))
    }
}

impl SeaOrmStore {
    /// Records a signed test delivery result (the webhooks worker's job).
    pub async fn record_test_delivery(
        &self,
        project: ProjectId,
        endpoint: Option<WebhookEndpointId>,
        at: DateTime<Utc>,
        ok: bool,
    ) -> StoreResult<()> {
        webhook_test_delivery::Entity::insert(webhook_test_delivery::ActiveModel {
            project_id: Set(project.to_string()),
            endpoint_id: Set(endpoint.map(|e| e.to_string())),
            at: Set(at),
            ok: Set(ok),
            ..Default::default()
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(store_err("record test delivery"))?;
        Ok(())
    }
}
