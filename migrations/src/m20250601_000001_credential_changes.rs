//! Credential changes, for the verification caches of every replica (issue 6).
//!
//! A trigger on `credential` records each update in `credential_change` (one row per
//! credential: its latest version and when it changed, by the database's clock), which
//! replicas poll as a fallback; on PostgreSQL the same trigger also sends
//! `NOTIFY credential_changed, '<credential id>'`, delivered when the changing transaction
//! commits. Only credential updates (revoke, rotate, regenerate) fire it: usage ingestion
//! never touches the table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let statements: &[&str] = match m.get_database_backend() {
            DbBackend::Sqlite => &[
                "CREATE TABLE credential_change ( \
                   credential_id TEXT NOT NULL PRIMARY KEY, \
                   version BIGINT NOT NULL, \
                   changed_at TEXT NOT NULL)",
                "CREATE INDEX idx_credential_change_at ON credential_change (changed_at)",
                "CREATE TRIGGER credential_changed AFTER UPDATE ON credential FOR EACH ROW \
                 BEGIN \
                   INSERT INTO credential_change (credential_id, version, changed_at) \
                   VALUES (NEW.id, NEW.version, strftime('%Y-%m-%d %H:%M:%f', 'now')) \
                   ON CONFLICT (credential_id) DO UPDATE \
                   SET version = excluded.version, changed_at = excluded.changed_at; \
                 END",
            ],
            DbBackend::Postgres => &[
                "CREATE TABLE credential_change ( \
                   credential_id TEXT NOT NULL PRIMARY KEY, \
                   version BIGINT NOT NULL, \
                   changed_at TIMESTAMPTZ NOT NULL)",
                "CREATE INDEX idx_credential_change_at ON credential_change (changed_at)",
                "CREATE FUNCTION credential_changed() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN \
                   INSERT INTO credential_change (credential_id, version, changed_at) \
                   VALUES (NEW.id, NEW.version, clock_timestamp()) \
                   ON CONFLICT (credential_id) DO UPDATE \
                   SET version = EXCLUDED.version, changed_at = EXCLUDED.changed_at; \
                   PERFORM pg_notify('credential_changed', NEW.id); \
                   RETURN NULL; \
                 END $$",
                "CREATE TRIGGER credential_changed AFTER UPDATE ON credential \
                 FOR EACH ROW EXECUTE FUNCTION credential_changed()",
            ],
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        };
        for s in statements {
            db.execute_unprepared(s).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("DROP TRIGGER IF EXISTS credential_changed ON credential")
                    .await?;
                db.execute_unprepared("DROP FUNCTION IF EXISTS credential_changed()")
                    .await?;
            }
            _ => {
                db.execute_unprepared("DROP TRIGGER IF EXISTS credential_changed")
                    .await?;
            }
        }
        db.execute_unprepared("DROP TABLE IF EXISTS credential_change")
            .await?;
        Ok(())
    }
}
