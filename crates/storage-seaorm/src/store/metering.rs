//! Usage counters and alert thresholds.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use onboarding_core::ids::*;
use onboarding_core::ports::*;
use onboarding_core::usage::{AlertThreshold, UsageBucket};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::{TxErr, all, all_set, store_err, tx_err};
use crate::SeaOrmStore;
use crate::entities::*;
use crate::map;

/// Rows per multi-row usage upsert: far below both backends' bind-parameter limits.
const USAGE_CHUNK: usize = 500;

/// Applies a change to the alert thresholds inside the committing transaction.
pub(super) async fn apply(c: &DatabaseTransaction, change: &Change) -> Result<(), TxErr> {
    match change {
        Change::FireAlert { threshold, window } => {
            // Conditional, so of two replicas evaluating at once only the first records the
            // window: the other's whole change set (audit and outbox included) rolls back.
            let res = alert_threshold::Entity::update_many()
                .col_expr(
                    alert_threshold::Column::LastFiredWindow,
                    Expr::value(window.clone()),
                )
                .filter(alert_threshold::Column::Id.eq(threshold.to_string()))
                .filter(
                    Condition::any()
                        .add(alert_threshold::Column::LastFiredWindow.is_null())
                        .add(alert_threshold::Column::LastFiredWindow.ne(window.clone())),
                )
                .exec(c)
                .await
                .map_err(tx_err("alert threshold"))?;
            if res.rows_affected == 0 {
                return Err(TxErr::Conflict(
                    "alert already raised in this window".into(),
                ));
            }
        }
        Change::PutAlertThreshold(t) => {
            alert_threshold::Entity::insert(all_set(map::threshold_model(t).into_active_model()))
                .on_conflict(
                    OnConflict::column(alert_threshold::Column::Id)
                        .update_columns([
                            alert_threshold::Column::ProjectId,
                            alert_threshold::Column::Metric,
                            alert_threshold::Column::LimitValue,
                            alert_threshold::Column::LastFiredWindow,
                            alert_threshold::Column::CreatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(c)
                .await
                .map_err(tx_err("alert threshold"))?;
        }
        Change::DeleteAlertThreshold(id) => {
            alert_threshold::Entity::delete_by_id(id.to_string())
                .exec(c)
                .await?;
        }
        other => unreachable!("not a alert thresholds change: {other:?}"),
    }
    Ok(())
}

#[async_trait]
impl UsageStore for SeaOrmStore {
    async fn add(&self, buckets: Vec<UsageBucket>) -> StoreResult<()> {
        // One row per key per statement: PostgreSQL refuses to update a row twice in one
        // ON CONFLICT statement.
        let mut merged: BTreeMap<(CredentialId, String, DateTime<Utc>), UsageBucket> =
            BTreeMap::new();
        for b in buckets {
            merged
                .entry((b.credential_id, b.endpoint.clone(), b.bucket_start))
                .and_modify(|e| {
                    e.requests += b.requests;
                    e.errors += b.errors;
                })
                .or_insert(b);
        }
        let rows: Vec<usage_bucket::ActiveModel> = merged
            .values()
            .map(|b| all_set(map::usage_model(b).into_active_model()))
            .collect();
        // All chunks in one transaction: a failed flush is retried whole by the meter, so a
        // partly applied one would count twice.
        let _writer = match &self.write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let txn = self.begin().await.map_err(store_err("add usage"))?;
        for chunk in rows.chunks(USAGE_CHUNK) {
            usage_bucket::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([
                        usage_bucket::Column::CredentialId,
                        usage_bucket::Column::Endpoint,
                        usage_bucket::Column::BucketStart,
                    ])
                    .value(
                        usage_bucket::Column::Requests,
                        Expr::cust("usage_bucket.requests + excluded.requests"),
                    )
                    .value(
                        usage_bucket::Column::Errors,
                        Expr::cust("usage_bucket.errors + excluded.errors"),
                    )
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(store_err("add usage"))?;
        }
        txn.commit().await.map_err(store_err("add usage"))
    }
    async fn successful_calls(
        &self,
        project: ProjectId,
        endpoints: Vec<String>,
    ) -> StoreResult<u64> {
        if endpoints.is_empty() {
            return Ok(0);
        }
        let total: Option<i64> = usage_bucket::Entity::find()
            .select_only()
            .column_as(
                Expr::cust("COALESCE(CAST(SUM(requests - errors) AS BIGINT), 0)"),
                "total",
            )
            .filter(usage_bucket::Column::ProjectId.eq(project.to_string()))
            .filter(usage_bucket::Column::Endpoint.is_in(endpoints))
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(store_err("count calls"))?;
        Ok(total.unwrap_or(0).max(0) as u64)
    }
    async fn buckets(
        &self,
        project: ProjectId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<UsageBucket>> {
        use usage_bucket::Column as C;
        let r = usage_bucket::Entity::find()
            .filter(C::ProjectId.eq(project.to_string()))
            .filter(C::BucketStart.gte(from))
            .filter(C::BucketStart.lt(to))
            .order_by_asc(C::CredentialId)
            .order_by_asc(C::Endpoint)
            .order_by_asc(C::BucketStart)
            .all(&self.db)
            .await;
        all(r, "read usage", map::usage)
    }
}

#[async_trait]
impl AlertStore for SeaOrmStore {
    async fn thresholds(&self, project: ProjectId) -> StoreResult<Vec<AlertThreshold>> {
        let r = alert_threshold::Entity::find()
            .filter(alert_threshold::Column::ProjectId.eq(project.to_string()))
            .order_by_asc(alert_threshold::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read thresholds", map::threshold)
    }
}
