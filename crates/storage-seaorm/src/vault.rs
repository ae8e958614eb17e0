//! What the secret vault keeps in the database: the key check value (one sealed constant, see
//! migration `m20261203_000001_vault_check`) and the sealed webhook signing secrets, read to
//! check the configured key at start-up and re-encrypted together when the key is rotated.

use onboarding_core::ports::{StoreError, StoreResult};
use onboarding_core::webhook::SigningSecret;
use sea_orm::{ActiveValue, ConnectionTrait, DbBackend, EntityTrait, QuerySelect, Statement};

use crate::SeaOrmStore;
use crate::entities::webhook_endpoint;
use crate::map;
use crate::store::store_err;

/// How many stored signing secrets the start-up check tries to open.
pub const VAULT_SAMPLE: u64 = 50;

/// Why a key rotation wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    /// A sealed value the current key cannot open (named by its endpoint, or the key check).
    #[error("the current vault key cannot open {0}: nothing was re-encrypted")]
    Unopenable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn stmt(backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    // Written with `$n`; SQLite takes `?` in the same order.
    let sql = if backend == DbBackend::Postgres {
        sql.to_owned()
    } else {
        let mut out = String::with_capacity(sql.len());
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                out.push('?');
            } else {
                out.push(c);
            }
        }
        out
    };
    Statement::from_sql_and_values(backend, sql, values)
}

impl SeaOrmStore {
    /// The stored key check value, if one was written.
    pub async fn vault_check(&self) -> StoreResult<Option<String>> {
        let row = self
            .connection()
            .query_one_raw(stmt(
                self.backend(),
                "SELECT sealed FROM vault_check WHERE id = 1",
                vec![],
            ))
            .await
            .map_err(store_err("read the vault check"))?;
        row.map(|r| r.try_get_by_index::<String>(0))
            .transpose()
            .map_err(store_err("read the vault check"))
    }

    /// Stores `sealed` as the key check value unless one is there already (another replica
    /// may have written it first); answers the value stored.
    pub async fn init_vault_check(&self, sealed: &str) -> StoreResult<String> {
        self.connection()
            .execute_raw(stmt(
                self.backend(),
                "INSERT INTO vault_check (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                vec![sealed.into()],
            ))
            .await
            .map_err(store_err("write the vault check"))?;
        self.vault_check()
            .await?
            .ok_or_else(|| StoreError::Unavailable("the vault check vanished".into()))
    }

    /// Up to `limit` sealed signing secrets, each with its endpoint's id.
    pub async fn sealed_signing_secrets(&self, limit: u64) -> StoreResult<Vec<(String, String)>> {
        let rows = webhook_endpoint::Entity::find()
            .select_only()
            .column(webhook_endpoint::Column::Id)
            .column(webhook_endpoint::Column::SigningSecrets)
            .limit(limit)
            .into_tuple::<(String, String)>()
            .all(self.connection())
            .await
            .map_err(store_err("read signing secrets"))?;
        let mut out = Vec::new();
        for (id, json) in rows {
            let secrets: Vec<SigningSecret> =
                map::from_js(&json).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            out.extend(secrets.into_iter().map(|s| (id.clone(), s.sealed)));
        }
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(out)
    }

    /// Re-encrypts every sealed value (each endpoint's signing secrets, the key check) with
    /// `reseal`, in one transaction: all of them or none. Answers (secrets, endpoints) done.
    /// `reseal` answers `None` for a value the current key cannot open.
    pub async fn reseal_vault(
        &self,
        reseal: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<(usize, usize), ResealError> {
        let err = store_err("re-encrypt the vault");
        let _writer = match &self.write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let txn = self.begin().await.map_err(err)?;
        let backend = self.backend();
        // Endpoints created meanwhile (on a replica still running) wait for this transaction.
        if backend == DbBackend::Postgres {
            txn.execute_unprepared("LOCK TABLE webhook_endpoint, vault_check IN EXCLUSIVE MODE")
                .await
                .map_err(store_err("lock for re-encryption"))?;
        }
        let check = txn
            .query_one_raw(stmt(
                backend,
                "SELECT sealed FROM vault_check WHERE id = 1",
                vec![],
            ))
            .await
            .map_err(store_err("read the vault check"))?
            .map(|r| r.try_get_by_index::<String>(0))
            .transpose()
            .map_err(store_err("read the vault check"))?;
        if let Some(check) = check {
            let new =
                reseal(&check).ok_or_else(|| ResealError::Unopenable("the key check".into()))?;
            txn.execute_raw(stmt(
                backend,
                "UPDATE vault_check SET sealed = $1 WHERE id = 1",
                vec![new.into()],
            ))
            .await
            .map_err(store_err("write the vault check"))?;
        }
        let endpoints = webhook_endpoint::Entity::find()
            .all(&txn)
            .await
            .map_err(store_err("read signing secrets"))?;
        let (mut secrets, mut done) = (0, 0);
        for ep in endpoints {
            let mut list: Vec<SigningSecret> = map::from_js(&ep.signing_secrets)
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            for s in &mut list {
                s.sealed = reseal(&s.sealed).ok_or_else(|| {
                    ResealError::Unopenable(format!("a signing secret of endpoint {}", ep.id))
                })?;
            }
            secrets += list.len();
            done += 1;
            // The version stays: the secrets' plaintext (what the endpoint sees) did not change.
            let id = ep.id.clone();
            let mut am: webhook_endpoint::ActiveModel = ep.into();
            am.signing_secrets = ActiveValue::Set(map::js(&list));
            webhook_endpoint::Entity::update(am)
                .exec(&txn)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, endpoint = %id, "re-encryption failed");
                    StoreError::Unavailable("database error during re-encryption".into())
                })?;
        }
        txn.commit()
            .await
            .map_err(store_err("commit the re-encryption"))?;
        Ok((secrets, done))
    }
}
