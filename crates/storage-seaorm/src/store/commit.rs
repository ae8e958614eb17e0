//! The unit of work: one transaction per change set, retried when the database is busy.

use std::time::Duration;

use async_trait::async_trait;
use onboarding_core::ports::*;
use sea_orm::{
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, IntoActiveModel, QueryOrder,
    TransactionOptions, TransactionTrait,
};

use super::{
    ErrKind, MAX_ATTEMPTS, TxErr, accounts, all_set, audit, catalog, classify, credentials,
    metering, projects, store_err, subscriptions, tx_err, webhooks, workspaces,
};
use crate::SeaOrmStore;
use crate::entities::*;
use crate::map;

/// Each change is applied by the module of its aggregate.
async fn apply(c: &DatabaseTransaction, change: &Change) -> Result<(), TxErr> {
    use Change::*;
    match change {
        InsertAccount(_) | InsertStaff(_) => accounts::apply(c, change).await,
        InsertWorkspace(_)
        | UpdateWorkspace { .. }
        | PutMembership(_)
        | RemoveMembership { .. }
        | InsertInvitation(_)
        | UpdateInvitation { .. }
        | InsertJoinRequest(_)
        | UpdateJoinRequest { .. } => workspaces::apply(c, change).await,
        InsertProduct(_) | InsertPlan(_) | UpdatePlan { .. } => catalog::apply(c, change).await,
        InsertProject(_) | UpdateProject { .. } => projects::apply(c, change).await,
        InsertSubscription(_) | UpdateSubscription { .. } | RecordPayment(_) => {
            subscriptions::apply(c, change).await
        }
        InsertCredential(_)
        | UpdateCredential { .. }
        | InsertAccessToken(_)
        | EndAccessTokens(_) => credentials::apply(c, change).await,
        InsertWebhookEndpoint(_) | UpdateWebhookEndpoint { .. } => webhooks::apply(c, change).await,
        FireAlert { .. } | PutAlertThreshold(_) | DeleteAlertThreshold(_) => {
            metering::apply(c, change).await
        }
    }
}

impl SeaOrmStore {
    pub(crate) async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        let mut options = TransactionOptions::default();
        if self.backend() == DbBackend::Sqlite {
            // Take the write lock up front: a deferred transaction that reads the chain head
            // and then writes can be refused mid-way (SQLITE_BUSY_SNAPSHOT).
            options.sqlite_transaction_mode = Some(sea_orm::SqliteTransactionMode::Immediate);
        }
        self.db.begin_with_options(options).await
    }

    async fn try_commit(&self, set: &ChangeSet, step: &dyn TxStep) -> Result<(), TxErr> {
        let txn = self.begin().await?;
        let applied = match step.run(&txn).await {
            Ok(()) => Self::apply_set(&txn, set).await,
            Err(e) => Err(e),
        };
        match applied {
            Ok(()) => Ok(txn.commit().await?),
            Err(e) => {
                if let Err(rb) = txn.rollback().await {
                    tracing::warn!(error = %rb, "rollback failed");
                }
                Err(e)
            }
        }
    }

    async fn apply_set(txn: &DatabaseTransaction, set: &ChangeSet) -> Result<(), TxErr> {
        for change in &set.changes {
            apply(txn, change).await?;
        }
        audit::append(txn, &set.audit).await?;
        for msg in &set.outbox {
            insert!(
                txn,
                outbox_message,
                map::outbox_model(msg),
                "outbox message"
            );
        }
        Ok(())
    }

    /// Outbox messages in the order they were written (oldest first).
    pub async fn outbox_messages(&self) -> StoreResult<Vec<OutboxMessage>> {
        outbox_message::Entity::find()
            .order_by_asc(outbox_message::Column::CreatedAt)
            .order_by_asc(outbox_message::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_err("read outbox"))?
            .into_iter()
            .map(map::outbox)
            .collect()
    }
}

/// Writes of another port that must land in the same transaction as a [`ChangeSet`] (the
/// delivery store's conditional updates): run first, then the change set is applied, by the
/// same code and with the same retries as [`UnitOfWork::commit`]. A step may run more than
/// once (a transient failure retries the whole transaction).
#[async_trait]
pub(crate) trait TxStep: Send + Sync {
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), TxErr>;
}

struct NoStep;

#[async_trait]
impl TxStep for NoStep {
    async fn run(&self, _txn: &DatabaseTransaction) -> Result<(), TxErr> {
        Ok(())
    }
}

#[async_trait]
impl UnitOfWork for SeaOrmStore {
    async fn commit(&self, set: ChangeSet) -> StoreResult<()> {
        self.transact(&set, &NoStep).await
    }
}

impl SeaOrmStore {
    /// `step`, then `set`, in one transaction: what [`UnitOfWork::commit`] does, with a step
    /// of another port in front. Conflicts (a step's, a version check's, a unique key) roll
    /// everything back and answer `Conflict`; transient failures retry the whole.
    pub(crate) async fn transact(&self, set: &ChangeSet, step: &dyn TxStep) -> StoreResult<()> {
        let _writer = match &self.write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let mut attempt = 1;
        loop {
            match self.try_commit(set, step).await {
                Ok(()) => return Ok(()),
                Err(TxErr::Conflict(what)) => return Err(StoreError::Conflict(what)),
                Err(TxErr::Db(e)) => match classify(&e) {
                    ErrKind::Unique => {
                        return Err(StoreError::Conflict("a unique key is taken".into()));
                    }
                    ErrKind::Transient if attempt < MAX_ATTEMPTS => {
                        tracing::debug!(error = %e, attempt, "transient failure, retrying commit");
                        tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                        attempt += 1;
                    }
                    _ => {
                        tracing::error!(error = %e, attempt, "commit failed");
                        return Err(StoreError::Unavailable(
                            "database error during commit".into(),
                        ));
                    }
                },
            }
        }
    }
}
