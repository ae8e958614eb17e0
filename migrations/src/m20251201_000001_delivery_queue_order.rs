//! The delivery worker's two queues read in their full order from an index (issue 7).
//!
//! `claim_due` orders due deliveries by `(next_attempt_at, id)` and `undispatched` orders the
//! outbox by `(created_at, id)`. The first indexes held only the first column, so rows sharing
//! it (a burst fanned out in one tick shares its `next_attempt_at`; a burst of events shares
//! `created_at` to the microsecond) were sorted in a temporary B-tree on every call: each claim
//! of 32 deliveries sorted the whole burst, quadratic in its size. With `id` in the index both
//! queries stop after `LIMIT` rows, on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let c = m.get_connection();
        for sql in [
            "DROP INDEX IF EXISTS idx_webhook_delivery_due",
            "CREATE INDEX idx_webhook_delivery_due ON webhook_delivery \
             (status, next_attempt_at, id)",
            "DROP INDEX IF EXISTS idx_outbox_message_undispatched",
            "CREATE INDEX idx_outbox_message_undispatched ON outbox_message (created_at, id) \
             WHERE dispatched_at IS NULL",
        ] {
            c.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let c = m.get_connection();
        for sql in [
            "DROP INDEX IF EXISTS idx_webhook_delivery_due",
            "CREATE INDEX idx_webhook_delivery_due ON webhook_delivery (status, next_attempt_at)",
            "DROP INDEX IF EXISTS idx_outbox_message_undispatched",
            "CREATE INDEX idx_outbox_message_undispatched ON outbox_message (created_at) \
             WHERE dispatched_at IS NULL",
        ] {
            c.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
