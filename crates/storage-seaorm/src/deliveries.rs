//! The [`DeliveryStore`] port (webhook deliveries, issue 5): the outbox fanned out into one
//! `webhook_delivery` per endpoint, leased by workers, settled attempt by attempt.
//!
//! Every write that carries a [`ChangeSet`] goes through [`SeaOrmStore::transact`], the code
//! of `UnitOfWork::commit`, with its own conditional update as the first step: a lost lease or
//! a delivery that is not `failed` rolls the whole transaction back as `Conflict`.
//!
//! Claiming: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` (concurrent workers skip each
//! other's rows), then the lease columns are set; on SQLite (one writer at a time) a conditional
//! update of the lease columns. Both then read back only the rows this owner now holds.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use onboarding_core::ids::{DeliveryId, ProjectId, WebhookEndpointId};
use onboarding_core::ports::{ChangeSet, DeliveryStore, FanOut, OutboxMessage, StoreResult};
use onboarding_core::webhook::{
    AttemptRecord, Delivery, DeliveryAttempt, DeliveryStatus, EVENT_TEST,
};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};

use crate::SeaOrmStore;
use crate::entities::outbox_message;
use crate::map::{self, R};
use crate::store::{TxErr, TxStep, store_err, tx_err};

pub(crate) mod webhook_delivery {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_delivery")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub message_id: String,
        pub endpoint_id: String,
        pub workspace_id: String,
        pub project_id: String,
        pub event_type: String,
        pub body: String,
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: Option<DateTimeUtc>,
        pub lease_owner: Option<String>,
        pub lease_until: Option<DateTimeUtc>,
        pub last_attempt_at: Option<DateTimeUtc>,
        pub last_response_status: Option<i32>,
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod webhook_delivery_attempt {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_delivery_attempt")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub delivery_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub attempt: i32,
        pub endpoint_id: String,
        pub at: DateTimeUtc,
        pub response_status: Option<i32>,
        pub error: Option<String>,
        pub latency_ms: i64,
        pub succeeded: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The outbox's dispatch column (added by the webhook migration), apart from the entity the
/// unit of work writes messages with.
pub(crate) mod outbox_dispatch {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox_message")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub dispatched_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use webhook_delivery::Column as D;
use webhook_delivery_attempt::Column as A;

fn delivery_model(d: &Delivery) -> webhook_delivery::Model {
    webhook_delivery::Model {
        id: d.id.to_string(),
        message_id: d.message_id.to_string(),
        endpoint_id: d.endpoint_id.to_string(),
        workspace_id: d.workspace_id.to_string(),
        project_id: d.project_id.to_string(),
        event_type: d.event_type.clone(),
        body: d.body.clone(),
        status: d.status.as_str().to_owned(),
        attempts: d.attempts as i32,
        next_attempt_at: d.next_attempt_at,
        lease_owner: d.lease_owner.clone(),
        lease_until: d.lease_until,
        last_attempt_at: d.last_attempt_at,
        last_response_status: d.last_response_status.map(i32::from),
        last_error: d.last_error.clone(),
        created_at: d.created_at,
    }
}

fn delivery(m: webhook_delivery::Model) -> R<Delivery> {
    Ok(Delivery {
        id: map::de(&m.id)?,
        message_id: map::de(&m.message_id)?,
        endpoint_id: map::de(&m.endpoint_id)?,
        workspace_id: map::de(&m.workspace_id)?,
        project_id: map::de(&m.project_id)?,
        event_type: m.event_type,
        body: m.body,
        status: map::de(&m.status)?,
        attempts: u32::try_from(m.attempts).unwrap_or(0),
        next_attempt_at: m.next_attempt_at,
        lease_owner: m.lease_owner,
        lease_until: m.lease_until,
        last_attempt_at: m.last_attempt_at,
        last_response_status: m.last_response_status.and_then(|s| u16::try_from(s).ok()),
        last_error: m.last_error,
        created_at: m.created_at,
    })
}

fn attempt_model(a: &DeliveryAttempt) -> webhook_delivery_attempt::Model {
    webhook_delivery_attempt::Model {
        delivery_id: a.delivery_id.to_string(),
        attempt: a.attempt as i32,
        endpoint_id: a.endpoint_id.to_string(),
        at: a.at,
        response_status: a.response_status.map(i32::from),
        error: a.error.clone(),
        latency_ms: i64::try_from(a.latency_ms).unwrap_or(i64::MAX),
        succeeded: a.succeeded,
    }
}

fn attempt(m: webhook_delivery_attempt::Model) -> R<DeliveryAttempt> {
    Ok(DeliveryAttempt {
        delivery_id: map::de(&m.delivery_id)?,
        endpoint_id: map::de(&m.endpoint_id)?,
        attempt: u32::try_from(m.attempt).unwrap_or(0),
        at: m.at,
        response_status: m.response_status.and_then(|s| u16::try_from(s).ok()),
        error: m.error,
        latency_ms: u64::try_from(m.latency_ms).unwrap_or(0),
        succeeded: m.succeeded,
    })
}

fn rows<M, T>(r: Vec<M>, f: fn(M) -> R<T>) -> R<Vec<T>> {
    r.into_iter().map(f).collect()
}

// ---------------------------------------------------------------------------------------------
// Transaction steps

/// Marks each message dispatched (only if nobody did) and inserts its deliveries.
struct Dispatch {
    fan_outs: Vec<FanOut>,
    at: DateTime<Utc>,
    /// One flag per fan-out: whether this transaction dispatched it.
    done: Mutex<Vec<bool>>,
}

/// Rows per multi-row insert: well under SQLite's limit of bound variables.
const INSERT_CHUNK: usize = 500;

#[async_trait]
impl TxStep for Dispatch {
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), TxErr> {
        use outbox_dispatch::Column as O;
        let mut done = Vec::with_capacity(self.fan_outs.len());
        let mut inserts = Vec::new();
        for f in &self.fan_outs {
            let res = outbox_dispatch::Entity::update_many()
                .col_expr(O::DispatchedAt, Expr::value(self.at))
                .filter(O::Id.eq(f.message.to_string()))
                .filter(O::DispatchedAt.is_null())
                .exec(txn)
                .await?;
            // Another dispatcher marked it first: its deliveries exist already.
            let first = res.rows_affected > 0;
            if first {
                inserts.extend(f.deliveries.iter().map(delivery_model));
            }
            done.push(first);
        }
        while !inserts.is_empty() {
            let rest = inserts.split_off(inserts.len().min(INSERT_CHUNK));
            let models = inserts
                .into_iter()
                .map(|m| m.into_active_model().reset_all());
            webhook_delivery::Entity::insert_many(models)
                .exec_without_returning(txn)
                .await
                .map_err(tx_err("webhook delivery"))?;
            inserts = rest;
        }
        *self.done.lock().expect("dispatch lock") = done;
        Ok(())
    }
}

/// Leases due deliveries to one owner.
struct Claim<'a> {
    now: DateTime<Utc>,
    owner: &'a str,
    until: DateTime<Utc>,
    limit: u64,
    out: Mutex<Vec<Delivery>>,
}

impl Claim<'_> {
    fn due(&self) -> Condition {
        Condition::all()
            .add(D::Status.eq(DeliveryStatus::Pending.as_str()))
            .add(D::NextAttemptAt.lte(self.now))
            .add(
                Condition::any()
                    .add(D::LeaseUntil.is_null())
                    .add(D::LeaseUntil.lte(self.now)),
            )
    }
}

#[async_trait]
impl TxStep for Claim<'_> {
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), TxErr> {
        let mut q = webhook_delivery::Entity::find()
            .select_only()
            .column(D::Id)
            .filter(self.due())
            .order_by_asc(D::NextAttemptAt)
            .order_by_asc(D::Id)
            .limit(self.limit);
        if txn.get_database_backend() == DbBackend::Postgres {
            // Rows another worker is claiming right now are skipped, not waited for.
            q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let ids: Vec<String> = q.into_tuple().all(txn).await?;
        if ids.is_empty() {
            self.out.lock().expect("claim lock").clear();
            return Ok(());
        }
        // Conditional on the row still being due: the lease is taken only where nobody
        // holds a live one (SQLite's guard; on PostgreSQL the rows are already locked).
        webhook_delivery::Entity::update_many()
            .col_expr(D::LeaseOwner, Expr::value(self.owner))
            .col_expr(D::LeaseUntil, Expr::value(self.until))
            .filter(D::Id.is_in(ids.clone()))
            .filter(self.due())
            .exec(txn)
            .await?;
        let claimed = webhook_delivery::Entity::find()
            .filter(D::Id.is_in(ids))
            .filter(D::LeaseOwner.eq(self.owner))
            .filter(D::LeaseUntil.eq(self.until))
            .order_by_asc(D::NextAttemptAt)
            .order_by_asc(D::Id)
            .all(txn)
            .await?;
        let claimed = rows(claimed, delivery).map_err(|e| TxErr::Conflict(e.to_string()))?;
        *self.out.lock().expect("claim lock") = claimed;
        Ok(())
    }
}

/// Settles attempts, only while the owner still holds each delivery.
struct Complete<'a> {
    records: &'a [AttemptRecord],
}

#[async_trait]
impl TxStep for Complete<'_> {
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), TxErr> {
        for r in self.records {
            let a = &r.attempt;
            let res = webhook_delivery::Entity::update_many()
                .col_expr(D::Attempts, Expr::value(a.attempt as i32))
                .col_expr(D::Status, Expr::value(r.status.as_str()))
                .col_expr(D::NextAttemptAt, Expr::value(r.next_attempt_at))
                .col_expr(D::LeaseOwner, Expr::value(Option::<String>::None))
                .col_expr(D::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
                .col_expr(D::LastAttemptAt, Expr::value(Some(a.at)))
                .col_expr(
                    D::LastResponseStatus,
                    Expr::value(a.response_status.map(i32::from)),
                )
                .col_expr(D::LastError, Expr::value(a.error.clone()))
                .filter(D::Id.eq(a.delivery_id.to_string()))
                .filter(D::Status.eq(DeliveryStatus::Pending.as_str()))
                .filter(D::LeaseOwner.eq(r.lease_owner.as_str()))
                .filter(D::Attempts.eq(a.attempt as i32 - 1))
                .exec(txn)
                .await?;
            if res.rows_affected == 0 {
                return Err(TxErr::Conflict("delivery lease".into()));
            }
        }
        for chunk in self.records.chunks(INSERT_CHUNK) {
            let models = chunk
                .iter()
                .map(|r| attempt_model(&r.attempt).into_active_model().reset_all());
            webhook_delivery_attempt::Entity::insert_many(models)
                .exec_without_returning(txn)
                .await
                .map_err(tx_err("delivery attempt"))?;
        }
        Ok(())
    }
}

/// Puts a failed delivery back in the queue.
struct Requeue {
    id: DeliveryId,
    at: DateTime<Utc>,
}

#[async_trait]
impl TxStep for Requeue {
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), TxErr> {
        let res = webhook_delivery::Entity::update_many()
            .col_expr(D::Status, Expr::value(DeliveryStatus::Pending.as_str()))
            .col_expr(D::NextAttemptAt, Expr::value(Some(self.at)))
            .col_expr(D::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(D::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(D::Id.eq(self.id.to_string()))
            .filter(D::Status.eq(DeliveryStatus::Failed.as_str()))
            .exec(txn)
            .await?;
        if res.rows_affected == 0 {
            return Err(TxErr::Conflict("delivery is not failed".into()));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The port

#[async_trait]
impl DeliveryStore for SeaOrmStore {
    async fn undispatched(&self, limit: u64) -> StoreResult<Vec<OutboxMessage>> {
        let r = outbox_message::Entity::find()
            .filter(
                Expr::col((
                    outbox_dispatch::Entity,
                    outbox_dispatch::Column::DispatchedAt,
                ))
                .is_null(),
            )
            .order_by_asc(outbox_message::Column::CreatedAt)
            .order_by_asc(outbox_message::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(store_err("read undispatched outbox"))?;
        rows(r, map::outbox)
    }

    async fn dispatch(&self, fan_outs: Vec<FanOut>, at: DateTime<Utc>) -> StoreResult<Vec<bool>> {
        if fan_outs.is_empty() {
            return Ok(vec![]);
        }
        let step = Dispatch {
            fan_outs,
            at,
            done: Mutex::new(vec![]),
        };
        self.transact(&ChangeSet::default(), &step).await?;
        Ok(step.done.into_inner().expect("dispatch lock"))
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_owner: &str,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<Delivery>> {
        if limit == 0 {
            return Ok(vec![]);
        }
        let step = Claim {
            now,
            owner: lease_owner,
            until: lease_until,
            limit,
            out: Mutex::new(vec![]),
        };
        self.transact(&ChangeSet::default(), &step).await?;
        Ok(step.out.into_inner().expect("claim lock"))
    }

    async fn complete_attempts(
        &self,
        records: Vec<AttemptRecord>,
        also: ChangeSet,
    ) -> StoreResult<()> {
        if records.is_empty() && also == ChangeSet::default() {
            return Ok(());
        }
        self.transact(&also, &Complete { records: &records }).await
    }

    async fn delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        webhook_delivery::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await
            .map_err(store_err("read delivery"))?
            .map(delivery)
            .transpose()
    }

    async fn deliveries_of_endpoint(
        &self,
        endpoint: WebhookEndpointId,
        before: Option<DeliveryId>,
        limit: u64,
    ) -> StoreResult<Vec<Delivery>> {
        let mut q = webhook_delivery::Entity::find().filter(D::EndpointId.eq(endpoint.to_string()));
        if let Some(b) = before {
            q = q.filter(D::Id.lt(b.to_string()));
        }
        let r = q
            .order_by_desc(D::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(store_err("read deliveries"))?;
        rows(r, delivery)
    }

    async fn attempts_of_endpoint(
        &self,
        endpoint: WebhookEndpointId,
        since: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<DeliveryAttempt>> {
        let r = webhook_delivery_attempt::Entity::find()
            .filter(A::EndpointId.eq(endpoint.to_string()))
            .filter(A::At.gte(since))
            .order_by_desc(A::At)
            .order_by_desc(A::DeliveryId)
            .order_by_desc(A::Attempt)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(store_err("read delivery attempts"))?;
        rows(r, attempt)
    }

    async fn requeue_failed(
        &self,
        id: DeliveryId,
        at: DateTime<Utc>,
        also: ChangeSet,
    ) -> StoreResult<()> {
        self.transact(&also, &Requeue { id, at }).await
    }

    async fn last_test_delivery(
        &self,
        project: ProjectId,
    ) -> StoreResult<Option<(DateTime<Utc>, bool)>> {
        let row = webhook_delivery::Entity::find()
            .filter(D::ProjectId.eq(project.to_string()))
            .filter(D::EventType.eq(EVENT_TEST))
            .filter(D::Status.ne(DeliveryStatus::Pending.as_str()))
            .filter(D::LastAttemptAt.is_not_null())
            .order_by_desc(D::LastAttemptAt)
            .order_by_desc(D::Id)
            .one(&self.db)
            .await
            .map_err(store_err("read last test delivery"))?;
        Ok(row.and_then(|d| {
            d.last_attempt_at
                .map(|at| (at, d.status == DeliveryStatus::Succeeded.as_str()))
        }))
    }
}
