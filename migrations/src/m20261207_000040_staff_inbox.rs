//! The staff inbox (issue 20): each subscription row carries the queue it waits in and since
//! when (`waiting_on`, `waiting_since`), written by the storage adapter from the core's rule on
//! every write, so that every queue pages oldest first by one index. Existing rows are filled
//! in here from their phase data, with the same rule spelled out locally.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement, Value};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Subscription {
    Table,
    WaitingOn,
    WaitingSince,
}

type Since = chrono::DateTime<chrono::Utc>;

/// The queue and the moment a stored subscription started waiting in it, from its JSON.
fn waiting(phase: &str, phase_data: &str, access: &str) -> Option<(&'static str, Since)> {
    let data: serde_json::Value = serde_json::from_str(phase_data).ok()?;
    let access: serde_json::Value = serde_json::from_str(access).ok()?;
    let time = |v: &serde_json::Value| v.as_str()?.parse::<Since>().ok();
    match phase {
        "in_review" => Some(("in_review", time(&data["submitted_at"])?)),
        "sandbox" if access["state"] == "requested" => {
            Some(("sandbox_access", time(&access["at"])?))
        }
        "sandbox" if data["changes_requested"].is_object() => {
            Some(("changes_requested", time(&data["changes_requested"]["at"])?))
        }
        "production" => Some(("awaiting_payment", time(&data["approved_at"])?)),
        _ => None,
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Subscription::Table)
                .add_column(ColumnDef::new(Subscription::WaitingOn).string().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Subscription::Table)
                .add_column(
                    ColumnDef::new(Subscription::WaitingSince)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        let c = m.get_connection();
        let backend = c.get_database_backend();
        let rows = c
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT id, phase, phase_data, sandbox_access FROM subscription",
            ))
            .await?;
        for row in rows {
            let id: String = row.try_get("", "id")?;
            let phase: String = row.try_get("", "phase")?;
            let data: String = row.try_get("", "phase_data")?;
            let access: String = row.try_get("", "sandbox_access")?;
            let Some((queue, since)) = waiting(&phase, &data, &access) else {
                continue;
            };
            let sql = match backend {
                sea_orm_migration::sea_orm::DatabaseBackend::Postgres => {
                    "UPDATE subscription SET waiting_on = $1, waiting_since = $2 WHERE id = $3"
                }
                _ => "UPDATE subscription SET waiting_on = ?, waiting_since = ? WHERE id = ?",
            };
            c.execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [Value::from(queue), Value::from(since), Value::from(id)],
            ))
            .await?;
        }
        c.execute_unprepared(
            "CREATE INDEX idx_subscription_inbox ON subscription (waiting_on, waiting_since, id)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let c = m.get_connection();
        c.execute_unprepared("DROP INDEX IF EXISTS idx_subscription_inbox")
            .await?;
        for col in [Subscription::WaitingOn, Subscription::WaitingSince] {
            m.alter_table(
                Table::alter()
                    .table(Subscription::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
