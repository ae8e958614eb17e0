//! Ports: everything outside the core, as small async traits. Adapters implement them
//! (`storage-seaorm` for the stores, `http-api` for password hashing); tests use the
//! `mockall` mocks (feature `mocks`) or the in-memory adapters of [`crate::memory`].
//!
//! Reads go through one store trait per aggregate. Every state change goes through
//! [`UnitOfWork::commit`]: the change, its audit events and its outbox messages are one
//! [`ChangeSet`], which the adapter applies in one transaction or not at all.

/// A storage failure the core can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A version check failed or a unique key is taken: somebody else changed it first.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store could not answer (connection lost, disk full...). The text is for logs only.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// The result of every store call.
pub type StoreResult<T> = Result<T, StoreError>;

mod accounts;
mod audit;
mod catalog;
mod change;
mod credentials;
mod http;
mod infra;
mod metering;
mod webhooks;

pub use accounts::*;
pub use audit::*;
pub use catalog::*;
pub use change::*;
pub use credentials::*;
pub use http::*;
pub use infra::*;
pub use metering::*;
pub use webhooks::*;
