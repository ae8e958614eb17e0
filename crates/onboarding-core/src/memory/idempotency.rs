//! Idempotency keys of the API.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::ports::*;

use super::{IdempotencyRecord, MemoryStore, conflict};

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn claim(
        &self,
        hold: &IdempotencyHold,
        request_hash: &str,
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> StoreResult<IdempotencyClaim> {
        let mut s = self.state.lock().unwrap();
        let id = (hold.scope.clone(), hold.key.clone());
        let fresh = IdempotencyRecord {
            request_hash: request_hash.to_owned(),
            run: hold.run.clone(),
            token: Some(hold.token.clone()),
            claimed_at: now,
            committed: None,
            response: None,
        };
        let Some(r) = s.idempotency.get(&id) else {
            s.idempotency.insert(id, fresh);
            return Ok(IdempotencyClaim::Claimed);
        };
        let abandoned = r.token.is_none() || r.claimed_at + lease <= now;
        Ok(if r.request_hash != request_hash {
            IdempotencyClaim::Mismatch
        } else if let Some(resp) = &r.response {
            IdempotencyClaim::Replay(resp.clone())
        } else if !abandoned {
            IdempotencyClaim::InProgress
        } else if let Some(c) = &r.committed {
            IdempotencyClaim::Committed(c.clone())
        } else {
            s.idempotency.insert(id, fresh);
            IdempotencyClaim::Claimed
        })
    }
    async fn commit_claimed(
        &self,
        hold: &IdempotencyHold,
        changes: ChangeSet,
        what: CommittedRequest,
        _at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        let id = (hold.scope.clone(), hold.key.clone());
        let mine = |r: &IdempotencyRecord| r.token.as_ref() == Some(&hold.token);
        if !s.idempotency.get(&id).is_some_and(mine) {
            return Err(conflict("idempotency key claimed by another request"));
        }
        Self::commit_locked(&mut s, changes)?;
        let r = s.idempotency.get_mut(&id).expect("checked above");
        r.committed.get_or_insert(what);
        Ok(())
    }
    async fn complete(&self, hold: &IdempotencyHold, response: StoredResponse) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        if let Some(r) = s
            .idempotency
            .get_mut(&(hold.scope.clone(), hold.key.clone()))
            .filter(|r| r.token.as_ref() == Some(&hold.token))
        {
            r.response = Some(response);
        }
        Ok(())
    }
    async fn release(&self, hold: &IdempotencyHold) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        let id = (hold.scope.clone(), hold.key.clone());
        if s.idempotency
            .get(&id)
            .is_some_and(|r| r.token.as_ref() == Some(&hold.token) && r.committed.is_none())
        {
            s.idempotency.remove(&id);
        }
        Ok(())
    }
    async fn release_run(&self, run: &str) -> StoreResult<u64> {
        let mut s = self.state.lock().unwrap();
        let before = s.idempotency.len();
        s.idempotency
            .retain(|_, r| r.run != run || r.committed.is_some() || r.response.is_some());
        let mut released = (before - s.idempotency.len()) as u64;
        // Committed but unanswered: kept, with nobody holding it (its answer is lost).
        for r in s.idempotency.values_mut() {
            if r.run == run && r.response.is_none() && r.token.take().is_some() {
                released += 1;
            }
        }
        Ok(released)
    }
}
