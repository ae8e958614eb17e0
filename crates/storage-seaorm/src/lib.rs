//! SeaORM adapter of every store port of `onboarding-core`, on SQLite or PostgreSQL.
//!
//! The adapter is mapping and SQL only: the rules live in the core. Every state change
//! arrives as one [`ChangeSet`] and is applied in one transaction by [`UnitOfWork::commit`].

mod changes;
mod deliveries;
mod entities;
mod inbox;
mod map;
mod store;
mod vault;

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

pub use changes::{CREDENTIAL_CHANNEL, CredentialListener, CredentialSignal};
pub use sea_orm::DbBackend as Backend;
pub use vault::{ResealError, VAULT_SAMPLE};

/// Every store port over one database connection pool. Cheap to clone.
#[derive(Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
    /// SQLite has one writer at a time: commits queue here instead of spinning on SQLITE_BUSY.
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// Why the database could not be opened or prepared. URLs in it never show a password.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported database URL `{0}`: expected sqlite:... or postgres://...")]
    UnsupportedUrl(String),
    #[error("cannot create the directory of the SQLite database `{url}`: {detail}")]
    Directory { url: String, detail: String },
    #[error("cannot connect to the database `{url}`: {detail}")]
    Connect { url: String, detail: String },
    #[error("cannot migrate the database `{url}`: {detail}")]
    Migrate { url: String, detail: String },
    #[error(
        "the database needs migration ({} pending: {}); run `portal-server migrate`",
        pending.len(),
        pending.join(", ")
    )]
    NeedsMigration { pending: Vec<String> },
    #[error(
        "the database `{url}` was migrated by a newer release of portal-server (migration {} \
         unknown to this one): run that release, or restore the backup taken before the upgrade",
        unknown.join(", ")
    )]
    NewerSchema { url: String, unknown: Vec<String> },
}

/// Where a database's schema stands against this binary's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Migrations this binary has that the database lacks, in order.
    pub pending: Vec<String>,
    /// Migrations applied to the database that this binary does not know (a newer release's).
    pub unknown: Vec<String>,
}

/// Reads the applied migrations without creating anything (not even the migrations table).
async fn schema_status(db: &DatabaseConnection) -> Result<SchemaStatus, DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let applied: Vec<String> = if migration::SchemaManager::new(db)
        .has_table("seaql_migrations")
        .await?
    {
        db.query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await?
        .iter()
        .map(|r| r.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    Ok(SchemaStatus {
        pending: known
            .iter()
            .filter(|k| !applied.contains(k))
            .cloned()
            .collect(),
        unknown: applied.into_iter().filter(|a| !known.contains(a)).collect(),
    })
}

/// The URL with its password (if any) replaced by `***`, fit for logs and error messages.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => raw.to_owned(),
        // Unparseable: keep the scheme and host part only when there is no userinfo to leak.
        Err(_) => match (raw.find("://"), raw.rfind('@')) {
            (Some(s), Some(at)) if at > s => format!("{}://***@{}", &raw[..s], &raw[at + 1..]),
            _ => raw.to_owned(),
        },
    }
}

/// Drops the password from a driver message too, in case it echoes the URL.
fn scrub(raw_url: &str, detail: impl std::fmt::Display) -> String {
    let detail = detail.to_string();
    match url::Url::parse(raw_url)
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
    {
        Some(pw) if !pw.is_empty() => detail.replace(&pw, "***"),
        _ => detail,
    }
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && !path.contains(":memory:")).then_some(path)
}

/// Connects to `url` (`sqlite://path?mode=rwc`, `sqlite::memory:` or `postgres://...`) and
/// brings the schema up to date (`serve`, `migrate`). A database migrated by a newer release
/// is refused untouched.
pub async fn connect_and_migrate(url: &str) -> Result<SeaOrmStore, StorageError> {
    let redacted = redact_url(url);
    let db = open(url, true).await?;
    let migrate_err = |e: DbErr| StorageError::Migrate {
        url: redacted.clone(),
        detail: scrub(url, e),
    };
    let status = schema_status(&db).await.map_err(migrate_err)?;
    if !status.unknown.is_empty() {
        return Err(StorageError::NewerSchema {
            url: redacted,
            unknown: status.unknown,
        });
    }
    Migrator::up(&db, None).await.map_err(migrate_err)?;
    tracing::info!(url = %redacted, "database ready");
    Ok(SeaOrmStore::new(db))
}

/// Connects to a database whose schema is exactly this binary's, changing nothing: the
/// operator commands other than `serve` and `migrate` use it. A database that lacks a
/// migration (or does not exist yet) answers [`StorageError::NeedsMigration`]; one from a newer
/// release, [`StorageError::NewerSchema`].
pub async fn connect_current(url: &str) -> Result<SeaOrmStore, StorageError> {
    let redacted = redact_url(url);
    let all_pending = || StorageError::NeedsMigration {
        pending: Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect(),
    };
    // Connecting would create a missing SQLite file (`mode=rwc`): an empty database is one
    // that needs every migration.
    if let Some(path) = sqlite_path(url)
        && !url.contains("mode=memory")
        && !std::path::Path::new(path).exists()
    {
        return Err(all_pending());
    }
    let db = open(url, false).await?;
    let status = schema_status(&db)
        .await
        .map_err(|e| StorageError::Connect {
            url: redacted.clone(),
            detail: scrub(url, e),
        })?;
    if !status.unknown.is_empty() {
        return Err(StorageError::NewerSchema {
            url: redacted,
            unknown: status.unknown,
        });
    }
    if !status.pending.is_empty() {
        return Err(StorageError::NeedsMigration {
            pending: status.pending,
        });
    }
    Ok(SeaOrmStore::new(db))
}

/// Where `url`'s schema stands, without changing it (for tests and diagnostics).
pub async fn schema_of(url: &str) -> Result<SchemaStatus, StorageError> {
    let db = open(url, false).await?;
    schema_status(&db).await.map_err(|e| StorageError::Connect {
        url: redact_url(url),
        detail: scrub(url, e),
    })
}

/// Opens the pool; `create_dir` makes the SQLite file's directory first.
async fn open(url: &str, create_dir: bool) -> Result<DatabaseConnection, StorageError> {
    let redacted = redact_url(url);
    let sqlite = url.starts_with("sqlite:");
    if !sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(StorageError::UnsupportedUrl(redacted));
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false);
    if sqlite {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let dir = sqlite_path(url)
            .filter(|_| !memory && create_dir)
            .and_then(|p| std::path::Path::new(p).parent())
            .filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::Directory {
                url: redacted.clone(),
                detail: e.to_string(),
            })?;
        }
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
                .synchronous(SqliteSynchronous::Normal)
        });
        if memory {
            // An in-memory database lives exactly as long as its one connection.
            opts.max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
    }
    Database::connect(opts)
        .await
        .map_err(|e| StorageError::Connect {
            url: redacted,
            detail: scrub(url, e),
        })
}

impl SeaOrmStore {
    /// Wraps an open, migrated connection.
    pub fn new(db: DatabaseConnection) -> Self {
        let write_lock = (db.get_database_backend() == DbBackend::Sqlite)
            .then(|| Arc::new(tokio::sync::Mutex::new(())));
        Self { db, write_lock }
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// The underlying connection, for workers and tests that need SQL of their own.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}
