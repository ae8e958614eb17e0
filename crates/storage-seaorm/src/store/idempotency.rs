//! Idempotency keys of the API.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use onboarding_core::ports::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set, TryInsertResult};

use super::{MAX_ATTEMPTS, TxErr, TxStep, store_err};
use crate::SeaOrmStore;
use crate::entities::*;

/// Marks an idempotency claim committed inside the change's transaction; refuses (rolling
/// the change back) when the claim is no longer this request's (its lease passed and a retry
/// took it over).
struct MarkClaim<'a> {
    hold: &'a IdempotencyHold,
    what: &'a CommittedRequest,
    at: DateTime<Utc>,
}

#[async_trait]
impl TxStep for MarkClaim<'_> {
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), TxErr> {
        use idempotency_key::Column as C;
        use sea_orm::sea_query::Func;
        // The first commit of a request names it; a later one keeps that name.
        let res = idempotency_key::Entity::update_many()
            .col_expr(C::CommittedAt, Expr::value(self.at))
            .col_expr(
                C::CommittedAction,
                Func::coalesce([
                    Expr::col(C::CommittedAction),
                    Expr::value(self.what.action.clone()),
                ])
                .into(),
            )
            .col_expr(
                C::CommittedTarget,
                Func::coalesce([
                    Expr::col(C::CommittedTarget),
                    Expr::value(self.what.target.clone()),
                ])
                .into(),
            )
            .filter(C::Scope.eq(self.hold.scope.as_str()))
            .filter(C::Key.eq(self.hold.key.as_str()))
            .filter(C::Token.eq(self.hold.token.as_str()))
            .exec(txn)
            .await?;
        if res.rows_affected == 0 {
            return Err(TxErr::Conflict(
                "idempotency key claimed by another request".into(),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for SeaOrmStore {
    async fn claim(
        &self,
        hold: &IdempotencyHold,
        request_hash: &str,
        now: DateTime<Utc>,
        lease: chrono::TimeDelta,
    ) -> StoreResult<IdempotencyClaim> {
        use idempotency_key::Column as C;
        // Insert-if-absent decides the race; a loser reads the winner's row. The row can
        // vanish (released) or change hands (taken over) in between, hence the loop.
        for _ in 0..MAX_ATTEMPTS {
            let inserted = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
                scope: Set(hold.scope.clone()),
                key: Set(hold.key.clone()),
                request_hash: Set(request_hash.to_owned()),
                status: Set(None),
                body: Set(None),
                location: Set(None),
                created_at: Set(now),
                run: Set(Some(hold.run.clone())),
                token: Set(Some(hold.token.clone())),
                claimed_at: Set(Some(now)),
                committed_at: Set(None),
                committed_action: Set(None),
                committed_target: Set(None),
            })
            .on_conflict_do_nothing_on([C::Scope, C::Key])
            .exec_without_returning(&self.db)
            .await
            .map_err(store_err("claim idempotency key"))?;
            if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
                return Ok(IdempotencyClaim::Claimed);
            }
            let row = idempotency_key::Entity::find_by_id((hold.scope.clone(), hold.key.clone()))
                .one(&self.db)
                .await
                .map_err(store_err("read idempotency key"))?;
            let Some(row) = row else { continue };
            if row.request_hash != request_hash {
                return Ok(IdempotencyClaim::Mismatch);
            }
            if let (Some(status), Some(body)) = (row.status, row.body) {
                return Ok(IdempotencyClaim::Replay(StoredResponse {
                    status: status as u16,
                    body,
                    location: row.location,
                }));
            }
            // Nobody holds it any more when its run was released, or when its lease passed.
            let abandoned =
                row.token.is_none() || row.claimed_at.unwrap_or(row.created_at) + lease <= now;
            if !abandoned {
                return Ok(IdempotencyClaim::InProgress);
            }
            if row.committed_at.is_some() {
                return Ok(IdempotencyClaim::Committed(CommittedRequest {
                    action: row.committed_action.unwrap_or_default(),
                    target: row.committed_target.unwrap_or_default(),
                }));
            }
            // Abandoned: take it over unless its holder committed or answered meanwhile, or
            // another retry took it first (the holder's token is the fence).
            let holder = match row.token {
                Some(t) => C::Token.eq(t),
                None => C::Token.is_null(),
            };
            let taken = idempotency_key::Entity::update_many()
                .col_expr(C::Run, Expr::value(hold.run.clone()))
                .col_expr(C::Token, Expr::value(hold.token.clone()))
                .col_expr(C::ClaimedAt, Expr::value(now))
                .filter(C::Scope.eq(hold.scope.as_str()))
                .filter(C::Key.eq(hold.key.as_str()))
                .filter(holder)
                .filter(C::CommittedAt.is_null())
                .filter(C::Status.is_null())
                .exec(&self.db)
                .await
                .map_err(store_err("take over idempotency key"))?;
            if taken.rows_affected == 1 {
                return Ok(IdempotencyClaim::Claimed);
            }
        }
        Err(StoreError::Unavailable(
            "idempotency key claimed and released repeatedly".into(),
        ))
    }
    async fn commit_claimed(
        &self,
        hold: &IdempotencyHold,
        changes: ChangeSet,
        what: CommittedRequest,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.transact(
            &changes,
            &MarkClaim {
                hold,
                what: &what,
                at,
            },
        )
        .await
    }
    async fn complete(&self, hold: &IdempotencyHold, response: StoredResponse) -> StoreResult<()> {
        use idempotency_key::Column as C;
        idempotency_key::Entity::update_many()
            .col_expr(C::Status, Expr::value(i32::from(response.status)))
            .col_expr(C::Body, Expr::value(response.body))
            .col_expr(C::Location, Expr::value(response.location))
            .filter(C::Scope.eq(hold.scope.as_str()))
            .filter(C::Key.eq(hold.key.as_str()))
            .filter(C::Token.eq(hold.token.as_str()))
            .exec(&self.db)
            .await
            .map_err(store_err("complete idempotency key"))?;
        Ok(())
    }
    async fn release(&self, hold: &IdempotencyHold) -> StoreResult<()> {
        use idempotency_key::Column as C;
        idempotency_key::Entity::delete_many()
            .filter(C::Scope.eq(hold.scope.as_str()))
            .filter(C::Key.eq(hold.key.as_str()))
            .filter(C::Token.eq(hold.token.as_str()))
            .filter(C::CommittedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(store_err("release idempotency key"))?;
        Ok(())
    }
    async fn release_run(&self, run: &str) -> StoreResult<u64> {
        use idempotency_key::Column as C;
        let gone = idempotency_key::Entity::delete_many()
            .filter(C::Run.eq(run))
            .filter(C::CommittedAt.is_null())
            .filter(C::Status.is_null())
            .exec(&self.db)
            .await
            .map_err(store_err("release idempotency keys"))?;
        // Committed but unanswered: kept, with nobody holding it (its answer is lost).
        let orphaned = idempotency_key::Entity::update_many()
            .col_expr(C::Token, Expr::value(Option::<String>::None))
            .filter(C::Run.eq(run))
            .filter(C::Token.is_not_null())
            .filter(C::Status.is_null())
            .exec(&self.db)
            .await
            .map_err(store_err("release idempotency keys"))?;
        Ok(gone.rows_affected + orphaned.rows_affected)
    }
}
