//! Issue 19: idempotency claims that survive a crash, and the "at most one" rules held by the
//! database (docs/decisions/0016 and 0017).
//!
//! - `idempotency_key` learns who holds a claim (`run`, `token`), since when (`claimed_at`),
//!   and whether its request committed (`committed_at`, and what: `committed_action`,
//!   `committed_target`), written in the same transaction as the change.
//! - Partial unique indexes: one live (not rejected) subscription per project and plan, one
//!   production project per subscription, one pending join request per account and
//!   workspace. (One pending invitation per address is checked inside the committing
//!   transaction instead: whether an invitation is still usable depends on the time.)
//!
//! A database that already holds duplicates (written before these rules were enforced) is
//! refused with a message naming them; docs/operations.md says how to resolve them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKey {
    Table,
    Run,
    Token,
    ClaimedAt,
    CommittedAt,
    CommittedAction,
    CommittedTarget,
}

/// (index, what it keeps unique, the query listing duplicates, the index itself).
const RULES: &[(&str, &str, &str, &str)] = &[
    (
        "ux_subscription_live",
        "live (not rejected) subscriptions of one project to one plan",
        "SELECT project_id || ' / ' || plan_id || ': ' || COUNT(*) FROM subscription \
         WHERE phase <> 'rejected' GROUP BY project_id, plan_id HAVING COUNT(*) > 1",
        "CREATE UNIQUE INDEX ux_subscription_live ON subscription (project_id, plan_id) \
         WHERE phase <> 'rejected'",
    ),
    (
        "ux_project_production_subscription",
        "production projects cloned for one subscription",
        "SELECT subscription_id || ': ' || COUNT(*) FROM project \
         WHERE environment = 'production' AND subscription_id IS NOT NULL \
         GROUP BY subscription_id HAVING COUNT(*) > 1",
        "CREATE UNIQUE INDEX ux_project_production_subscription ON project (subscription_id) \
         WHERE environment = 'production'",
    ),
    (
        "ux_join_request_pending",
        "pending join requests of one account to one workspace",
        "SELECT workspace_id || ' / ' || account_id || ': ' || COUNT(*) FROM join_request \
         WHERE status = 'pending' GROUP BY workspace_id, account_id HAVING COUNT(*) > 1",
        "CREATE UNIQUE INDEX ux_join_request_pending ON join_request (workspace_id, account_id) \
         WHERE status = 'pending'",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let c = m.get_connection();
        let backend = m.get_database_backend();
        // Every duplicate first, all rules at once: the operator fixes them in one pass.
        let mut found = Vec::new();
        for (_, what, duplicates, _) in RULES {
            let rows = c
                .query_all_raw(Statement::from_string(backend, (*duplicates).to_owned()))
                .await?;
            for r in rows {
                let line: String = r.try_get_by_index(0)?;
                found.push(format!("{what}: {line}"));
            }
        }
        if !found.is_empty() {
            return Err(DbErr::Migration(format!(
                "the database holds rows that break an \"at most one\" rule (written before \
                 the rule was enforced), so its unique index cannot be added: {}. Resolve them \
                 as docs/operations.md (\"Duplicates found by the upgrade\") describes, then \
                 start again; nothing was changed",
                found.join("; ")
            )));
        }
        for (_, _, _, index) in RULES {
            c.execute_unprepared(index).await?;
        }
        // SQLite adds one column per statement.
        for col in [
            string_null(IdempotencyKey::Run),
            string_null(IdempotencyKey::Token),
            timestamp_with_time_zone_null(IdempotencyKey::ClaimedAt),
            timestamp_with_time_zone_null(IdempotencyKey::CommittedAt),
            text_null(IdempotencyKey::CommittedAction),
            text_null(IdempotencyKey::CommittedTarget),
        ] {
            m.alter_table(
                Table::alter()
                    .table(IdempotencyKey::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        // Claims from before: held since they were made, by no run that is still alive.
        c.execute_unprepared("UPDATE idempotency_key SET claimed_at = created_at")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let c = m.get_connection();
        for (name, _, _, _) in RULES {
            c.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        for col in [
            IdempotencyKey::Run,
            IdempotencyKey::Token,
            IdempotencyKey::ClaimedAt,
            IdempotencyKey::CommittedAt,
            IdempotencyKey::CommittedAction,
            IdempotencyKey::CommittedTarget,
        ] {
            m.alter_table(
                Table::alter()
                    .table(IdempotencyKey::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
