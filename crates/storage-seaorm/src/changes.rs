//! Credential change feed for the verification caches of every replica: a PostgreSQL
//! `LISTEN credential_changed` (the trigger of the `credential_change` migration sends the
//! `NOTIFY` from the changing transaction), and a polling read of `credential_change` that
//! works on both backends, as the fallback.

use std::time::Duration;

use onboarding_core::ids::CredentialId;
use onboarding_core::ports::{StoreError, StoreResult};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::SeaOrmStore;

/// The channel the credential trigger notifies.
pub const CREDENTIAL_CHANNEL: &str = "credential_changed";

/// What the listener heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSignal {
    /// This credential changed (and the change is committed).
    Changed(CredentialId),
    /// The connection was lost and is being re-established: notifications may have been
    /// missed, so forget everything cached.
    Reconnected,
}

/// A `LISTEN credential_changed` on a dedicated PostgreSQL connection.
pub struct CredentialListener {
    inner: sea_orm::sqlx::postgres::PgListener,
}

impl CredentialListener {
    /// Waits for the next signal. Errors are the connection's; calling again reconnects.
    pub async fn next(&mut self) -> StoreResult<CredentialSignal> {
        loop {
            match self.inner.try_recv().await {
                Ok(Some(n)) => match n.payload().parse::<CredentialId>() {
                    Ok(id) => return Ok(CredentialSignal::Changed(id)),
                    Err(_) => {
                        tracing::warn!(payload = n.payload(), "unreadable credential notification");
                        continue;
                    }
                },
                Ok(None) => return Ok(CredentialSignal::Reconnected),
                Err(e) => return Err(StoreError::Unavailable(format!("listen: {e}"))),
            }
        }
    }
}

impl SeaOrmStore {
    /// A listener for credential changes: `Some` on PostgreSQL, `None` elsewhere (SQLite has
    /// one writer process; the polling read covers it).
    pub async fn credential_listener(&self) -> StoreResult<Option<CredentialListener>> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return Ok(None);
        }
        let pool = self.db.get_postgres_connection_pool();
        let mut inner = sea_orm::sqlx::postgres::PgListener::connect_with(pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("listen: {e}")))?;
        inner
            .listen(CREDENTIAL_CHANNEL)
            .await
            .map_err(|e| StoreError::Unavailable(format!("listen: {e}")))?;
        Ok(Some(CredentialListener { inner }))
    }

    /// Credentials changed within the last `window` by the database's clock, with their
    /// current version: the polling fallback reads this every few hundred milliseconds and
    /// acts on versions it has not seen.
    pub async fn recent_credential_changes(
        &self,
        window: Duration,
    ) -> StoreResult<Vec<(CredentialId, i64)>> {
        let secs = window.as_secs_f64().max(0.001);
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => format!(
                "SELECT credential_id, version FROM credential_change \
                 WHERE changed_at > clock_timestamp() - make_interval(secs => {secs})"
            ),
            _ => format!(
                "SELECT credential_id, version FROM credential_change \
                 WHERE changed_at > strftime('%Y-%m-%d %H:%M:%f', 'now', '-{secs} seconds')"
            ),
        };
        let rows = self
            .db
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .map_err(|e| StoreError::Unavailable(format!("read credential changes: {e}")))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r
                .try_get("", "credential_id")
                .map_err(|e| StoreError::Unavailable(format!("read credential changes: {e}")))?;
            let version: i64 = r
                .try_get("", "version")
                .map_err(|e| StoreError::Unavailable(format!("read credential changes: {e}")))?;
            match id.parse() {
                Ok(id) => out.push((id, version)),
                Err(_) => tracing::warn!(id, "unreadable credential id in credential_change"),
            }
        }
        Ok(out)
    }
}
