//! The audit trail: chain sealing inside a commit, and reads.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use onboarding_core::audit::{AuditDraft, AuditEvent, ChainHead};
use onboarding_core::ids::*;
use onboarding_core::ports::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::{TxErr, all, all_set, store_err, tx_err};
use crate::SeaOrmStore;
use crate::entities::*;
use crate::map::{self, R};

/// Seals each draft into its workspace's chain and moves the chain heads, inside the
/// committing transaction.
pub(super) async fn append(txn: &DatabaseTransaction, drafts: &[AuditDraft]) -> Result<(), TxErr> {
    let chains: BTreeSet<String> = drafts
        .iter()
        .map(|d| map::chain_key(d.workspace_id))
        .collect();
    if txn.get_database_backend() == DbBackend::Postgres {
        // One writer per chain: the lock is held until this transaction ends, so the
        // head read below is the true head. Locks are taken in a fixed order.
        for chain in &chains {
            txn.query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(hashtext($1))::text",
                [chain.clone().into()],
            ))
            .await?;
        }
    }
    // The stored head, not the last event, is where the chain continues: an append after
    // a cut tail then leaves a gap that verification names instead of hiding the cut.
    let mut heads: HashMap<String, Option<(i64, String)>> = HashMap::new();
    for chain in chains {
        let stored = audit_chain_head::Entity::find_by_id(chain.clone())
            .one(txn)
            .await?
            .map(|h| (h.seq, h.hash));
        let head = match stored {
            Some(h) => Some(h),
            None => audit_event::Entity::find()
                .filter(audit_event::Column::Chain.eq(chain.clone()))
                .order_by_desc(audit_event::Column::Seq)
                .one(txn)
                .await?
                .map(|e| (e.seq, e.hash)),
        };
        heads.insert(chain, head);
    }
    let mut last: BTreeMap<String, audit_chain_head::Model> = BTreeMap::new();
    for draft in drafts {
        let chain = map::chain_key(draft.workspace_id);
        let head = heads.get_mut(&chain).expect("every chain's head was read");
        let sealed = AuditEvent::seal(draft.clone(), head.as_ref().map(|(s, h)| (*s, h.as_str())));
        *head = Some((sealed.seq, sealed.hash.clone()));
        insert!(txn, audit_event, map::audit_model(&sealed), "audit event");
        last.insert(
            chain.clone(),
            audit_chain_head::Model {
                chain,
                seq: sealed.seq,
                hash: sealed.hash,
                event_id: sealed.draft.id.to_string(),
            },
        );
    }
    for head in last.into_values() {
        audit_chain_head::Entity::insert(all_set(head.into_active_model()))
            .on_conflict(
                OnConflict::column(audit_chain_head::Column::Chain)
                    .update_columns([
                        audit_chain_head::Column::Seq,
                        audit_chain_head::Column::Hash,
                        audit_chain_head::Column::EventId,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await
            .map_err(tx_err("audit chain head"))?;
    }
    Ok(())
}

#[async_trait]
impl AuditLog for SeaOrmStore {
    async fn events(
        &self,
        workspace: Option<WorkspaceId>,
        after_seq: i64,
        limit: u64,
    ) -> StoreResult<Vec<AuditEvent>> {
        let r = audit_event::Entity::find()
            .filter(audit_event::Column::Chain.eq(map::chain_key(workspace)))
            .filter(audit_event::Column::Seq.gt(after_seq))
            .order_by_asc(audit_event::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await;
        all(r, "read audit events", map::audit)
    }
    async fn chains(&self) -> StoreResult<Vec<Option<WorkspaceId>>> {
        let keys: Vec<String> = audit_event::Entity::find()
            .select_only()
            .column(audit_event::Column::Chain)
            .distinct()
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_err("read audit chains"))?;
        // A chain whose every event was deleted still has its head.
        let headed: Vec<String> = audit_chain_head::Entity::find()
            .select_only()
            .column(audit_chain_head::Column::Chain)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_err("read audit chain heads"))?;
        let keys: BTreeSet<String> = keys.into_iter().chain(headed).collect();
        let mut out = keys
            .iter()
            .map(|k| match k.as_str() {
                "provider" => Ok(None),
                ws => map::de(ws).map(Some),
            })
            .collect::<R<Vec<Option<WorkspaceId>>>>()?;
        out.sort();
        Ok(out)
    }
    async fn head(&self, workspace: Option<WorkspaceId>) -> StoreResult<Option<ChainHead>> {
        let r = audit_chain_head::Entity::find_by_id(map::chain_key(workspace))
            .one(&self.db)
            .await
            .map_err(store_err("read audit chain head"))?;
        Ok(r.map(|h| ChainHead {
            seq: h.seq,
            hash: h.hash,
            event_id: h.event_id,
        }))
    }
}
