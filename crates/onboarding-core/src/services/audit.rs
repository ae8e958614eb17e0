//! Reading the audit log and verifying its hash chains.

use super::*;
use crate::audit::{AuditEvent, ChainBreak, verify_chain_with_head};

/// Events fetched per page while verifying a chain.
const VERIFY_PAGE: u64 = 1000;

impl Audit {
    /// A workspace's audit events after `after_seq`, for `security_owner`, `compliance` and owners.
    pub async fn audit_events(
        &self,
        caller: Caller,
        ws: WorkspaceId,
        after_seq: i64,
        limit: u64,
    ) -> ServiceResult<Vec<AuditEvent>> {
        match caller {
            Caller::Staff { role, .. } if staff_allowed(role, StaffAction::ReadQueue) => {
                self.cx.load_workspace(ws).await?;
            }
            _ => {
                self.cx.require(caller, ws, Action::ReadAuditLog).await?;
            }
        }
        Ok(self
            .cx
            .p
            .audit
            .events(Some(ws), after_seq.max(0), limit.clamp(1, 500))
            .await?)
    }

    /// Verifies one chain from its first event, page by page, and that it ends at its stored
    /// head (a cut tail links perfectly; only the head shows it).
    pub async fn verify_audit_chain(
        &self,
        chain: Option<WorkspaceId>,
    ) -> ServiceResult<Result<u64, ChainBreak>> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self.cx.p.audit.events(chain, after, VERIFY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            let n = page.len() as u64;
            all.extend(page);
            if n < VERIFY_PAGE {
                break;
            }
        }
        let head = self.cx.p.audit.head(chain).await?;
        Ok(verify_chain_with_head(&all, head.as_ref()).map(|()| all.len() as u64))
    }

    /// Verifies every chain; the operator's `audit verify` command prints this.
    pub async fn verify_all_audit_chains(
        &self,
    ) -> ServiceResult<Vec<(Option<WorkspaceId>, Result<u64, ChainBreak>)>> {
        let mut out = Vec::new();
        for chain in self.cx.p.audit.chains().await? {
            out.push((chain, self.verify_audit_chain(chain).await?));
        }
        Ok(out)
    }
}
