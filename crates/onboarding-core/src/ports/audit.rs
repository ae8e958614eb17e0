//! Reads of the audit log.

use async_trait::async_trait;

use crate::audit::{AuditEvent, ChainHead};
use crate::ids::*;

use super::StoreResult;

/// Reads of the audit log; writes go through [`UnitOfWork::commit`](super::UnitOfWork::commit),
/// which seals drafts into their chains.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Events of one chain (a workspace's, or the provider's with `None`) after `after_seq`.
    async fn events(
        &self,
        workspace: Option<WorkspaceId>,
        after_seq: i64,
        limit: u64,
    ) -> StoreResult<Vec<AuditEvent>>;
    /// Every chain that has events or a head: `None` is the provider chain.
    async fn chains(&self) -> StoreResult<Vec<Option<WorkspaceId>>>;
    /// The chain's head as recorded with its last append, `None` for a chain never written.
    async fn head(&self, workspace: Option<WorkspaceId>) -> StoreResult<Option<ChainHead>>;
}
