//! The port implementations: reads, the unit of work, and the few direct writes (usage
//! counters, sessions, idempotency keys) that live outside change sets.

use onboarding_core::ports::*;
use sea_orm::{ActiveModelTrait, DbErr, RuntimeErr, SqlErr};

use crate::map::R;

/// Whole-transaction attempts before a busy database is reported as unavailable.
const MAX_ATTEMPTS: u32 = 6;

enum ErrKind {
    Unique,
    Transient,
    Other,
}

fn classify(e: &DbErr) -> ErrKind {
    if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        return ErrKind::Unique;
    }
    let code = match e {
        DbErr::Exec(RuntimeErr::SqlxError(x))
        | DbErr::Query(RuntimeErr::SqlxError(x))
        | DbErr::Conn(RuntimeErr::SqlxError(x)) => match &**x {
            sea_orm::sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
            _ => None,
        },
        _ => None,
    };
    match code.as_deref() {
        // PostgreSQL serialization failure and deadlock; SQLite BUSY, LOCKED and their
        // extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, LOCKED_SHAREDCACHE).
        Some("40001" | "40P01" | "5" | "6" | "261" | "517" | "262") => ErrKind::Transient,
        _ if e.to_string().contains("database is locked") => ErrKind::Transient,
        _ => ErrKind::Other,
    }
}

/// A failure outside a change set: unique keys are conflicts, anything else is logged and
/// reported as unavailable without the driver's text.
pub(crate) fn store_err(op: &'static str) -> impl FnOnce(DbErr) -> StoreError {
    move |e| match classify(&e) {
        ErrKind::Unique => StoreError::Conflict(format!("{op}: key already taken")),
        _ => {
            tracing::error!(error = %e, op, "database error");
            StoreError::Unavailable(format!("database error during {op}"))
        }
    }
}

pub(crate) enum TxErr {
    Conflict(String),
    Db(DbErr),
}

impl From<DbErr> for TxErr {
    fn from(e: DbErr) -> Self {
        TxErr::Db(e)
    }
}

pub(crate) fn tx_err(what: &'static str) -> impl FnOnce(DbErr) -> TxErr {
    move |e| match classify(&e) {
        ErrKind::Unique => TxErr::Conflict(what.to_owned()),
        _ => TxErr::Db(e),
    }
}

fn all_set<A: ActiveModelTrait>(a: A) -> A {
    a.reset_all()
}

macro_rules! insert {
    ($c:expr, $ent:ident, $model:expr, $what:literal) => {
        $ent::Entity::insert(all_set($model.into_active_model()))
            .exec_without_returning($c)
            .await
            .map_err(tx_err($what))?
    };
}

/// `UPDATE ... SET ..., version = expected + 1 WHERE id = ? AND version = expected`; no row
/// updated means somebody else changed it first.
macro_rules! versioned {
    ($c:expr, $ent:ident, $model:expr, $expected:expr, $what:literal) => {{
        let mut m = $model;
        m.version = $expected + 1;
        let id = m.id.clone();
        let res = $ent::Entity::update_many()
            .set(all_set(m.into_active_model()))
            .filter($ent::Column::Id.eq(id))
            .filter($ent::Column::Version.eq($expected))
            .exec($c)
            .await
            .map_err(tx_err($what))?;
        if res.rows_affected == 0 {
            return Err(TxErr::Conflict($what.to_owned()));
        }
    }};
}

fn all<M, T>(rows: Result<Vec<M>, DbErr>, op: &'static str, f: fn(M) -> R<T>) -> R<Vec<T>> {
    rows.map_err(store_err(op))?.into_iter().map(f).collect()
}

fn one<M, T>(row: Result<Option<M>, DbErr>, op: &'static str, f: fn(M) -> R<T>) -> R<Option<T>> {
    row.map_err(store_err(op))?.map(f).transpose()
}

mod accounts;
mod audit;
mod catalog;
mod commit;
mod credentials;
mod idempotency;
mod metering;
mod projects;
mod subscriptions;
mod webhooks;
mod workspaces;

pub(crate) use commit::TxStep;
