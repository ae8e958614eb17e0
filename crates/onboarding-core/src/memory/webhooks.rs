//! Webhook endpoints, the outbox and deliveries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::*;
use crate::ports::*;
use crate::webhook::{
    AttemptRecord, Delivery, DeliveryAttempt, DeliveryStatus, EVENT_TEST, WebhookEndpoint,
};

use super::{MemoryStore, conflict};

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn endpoint(&self, id: WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>> {
        Ok(self.state.lock().unwrap().endpoints.get(&id).cloned())
    }
    async fn endpoints(&self, project: ProjectId) -> StoreResult<Vec<WebhookEndpoint>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .endpoints
            .values()
            .filter(|e| e.project_id == project)
            .cloned()
            .collect())
    }
    async fn last_test_delivery(
        &self,
        project: ProjectId,
    ) -> StoreResult<Option<(DateTime<Utc>, bool)>> {
        let recorded = self
            .state
            .lock()
            .unwrap()
            .test_deliveries
            .get(&project)
            .copied();
        let delivered = DeliveryStore::last_test_delivery(self, project).await?;
        // The newest of a hand-recorded result and a real `test` delivery.
        Ok(recorded
            .into_iter()
            .chain(delivered)
            .max_by_key(|(at, _)| *at))
    }
}

#[async_trait]
impl DeliveryStore for MemoryStore {
    async fn undispatched(&self, limit: u64) -> StoreResult<Vec<OutboxMessage>> {
        let s = self.state.lock().unwrap();
        Ok(s.outbox
            .iter()
            .filter(|m| !s.dispatched.contains(&m.id))
            .take(limit as usize)
            .cloned()
            .collect())
    }
    async fn dispatch(&self, fan_outs: Vec<FanOut>, _at: DateTime<Utc>) -> StoreResult<Vec<bool>> {
        let mut s = self.state.lock().unwrap();
        let mut done = Vec::with_capacity(fan_outs.len());
        for f in fan_outs {
            let first = s.dispatched.insert(f.message);
            if first {
                for d in f.deliveries {
                    s.deliveries.insert(d.id, d);
                }
            }
            done.push(first);
        }
        Ok(done)
    }
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_owner: &str,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<Delivery>> {
        let mut s = self.state.lock().unwrap();
        let mut due: Vec<(DateTime<Utc>, DeliveryId)> = s
            .deliveries
            .values()
            .filter(|d| d.is_due(now))
            .map(|d| (d.next_attempt_at.unwrap_or(now), d.id))
            .collect();
        due.sort();
        let mut out = Vec::new();
        for (_, id) in due.into_iter().take(limit as usize) {
            let d = s.deliveries.get_mut(&id).expect("listed above");
            d.lease_owner = Some(lease_owner.to_owned());
            d.lease_until = Some(lease_until);
            out.push(d.clone());
        }
        Ok(out)
    }
    async fn complete_attempts(
        &self,
        records: Vec<AttemptRecord>,
        also: ChangeSet,
    ) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        for record in &records {
            match s.deliveries.get(&record.attempt.delivery_id) {
                Some(d)
                    if d.status == DeliveryStatus::Pending
                        && d.lease_owner.as_deref() == Some(record.lease_owner.as_str())
                        && d.attempts + 1 == record.attempt.attempt => {}
                _ => return Err(conflict("delivery lease")),
            }
        }
        Self::commit_locked(&mut s, also)?;
        for record in records {
            let d = s
                .deliveries
                .get_mut(&record.attempt.delivery_id)
                .expect("checked above");
            d.attempts = record.attempt.attempt;
            d.status = record.status;
            d.next_attempt_at = record.next_attempt_at;
            d.lease_owner = None;
            d.lease_until = None;
            d.last_attempt_at = Some(record.attempt.at);
            d.last_response_status = record.attempt.response_status;
            d.last_error = record.attempt.error.clone();
            s.attempts.push(record.attempt);
        }
        Ok(())
    }
    async fn delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        Ok(self.state.lock().unwrap().deliveries.get(&id).cloned())
    }
    async fn deliveries_of_endpoint(
        &self,
        endpoint: WebhookEndpointId,
        before: Option<DeliveryId>,
        limit: u64,
    ) -> StoreResult<Vec<Delivery>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .deliveries
            .values()
            .rev()
            .filter(|d| d.endpoint_id == endpoint && before.is_none_or(|b| d.id < b))
            .take(limit as usize)
            .cloned()
            .collect())
    }
    async fn attempts_of_endpoint(
        &self,
        endpoint: WebhookEndpointId,
        since: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<DeliveryAttempt>> {
        let mut v: Vec<DeliveryAttempt> = self
            .state
            .lock()
            .unwrap()
            .attempts
            .iter()
            .filter(|a| a.endpoint_id == endpoint && a.at >= since)
            .cloned()
            .collect();
        v.sort_by_key(|a| std::cmp::Reverse(a.at));
        v.truncate(limit as usize);
        Ok(v)
    }
    async fn requeue_failed(
        &self,
        id: DeliveryId,
        at: DateTime<Utc>,
        also: ChangeSet,
    ) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        if s.deliveries
            .get(&id)
            .is_none_or(|d| d.status != DeliveryStatus::Failed)
        {
            return Err(conflict("delivery is not failed"));
        }
        Self::commit_locked(&mut s, also)?;
        let d = s.deliveries.get_mut(&id).expect("checked above");
        d.status = DeliveryStatus::Pending;
        d.next_attempt_at = Some(at);
        d.lease_owner = None;
        d.lease_until = None;
        Ok(())
    }
    async fn last_test_delivery(
        &self,
        project: ProjectId,
    ) -> StoreResult<Option<(DateTime<Utc>, bool)>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .deliveries
            .values()
            .filter(|d| d.project_id == project && d.event_type == EVENT_TEST)
            .filter(|d| d.status != DeliveryStatus::Pending)
            .filter_map(|d| {
                d.last_attempt_at
                    .map(|at| (at, d.status == DeliveryStatus::Succeeded))
            })
            .max_by_key(|(at, _)| *at))
    }
}
