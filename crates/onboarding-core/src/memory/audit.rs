//! The audit trail.

use async_trait::async_trait;

use crate::audit::{AuditEvent, ChainHead};
use crate::ids::*;
use crate::ports::*;

use super::MemoryStore;

#[async_trait]
impl AuditLog for MemoryStore {
    async fn events(
        &self,
        workspace: Option<WorkspaceId>,
        after_seq: i64,
        limit: u64,
    ) -> StoreResult<Vec<AuditEvent>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .audit
            .get(&workspace)
            .map(|c| {
                c.iter()
                    .filter(|e| e.seq > after_seq)
                    .take(limit as usize)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }
    async fn chains(&self) -> StoreResult<Vec<Option<WorkspaceId>>> {
        Ok(self.state.lock().unwrap().audit.keys().copied().collect())
    }
    async fn head(&self, workspace: Option<WorkspaceId>) -> StoreResult<Option<ChainHead>> {
        Ok(self.state.lock().unwrap().heads.get(&workspace).cloned())
    }
}
