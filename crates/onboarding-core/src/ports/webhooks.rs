//! Webhook endpoints and deliveries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::*;
use crate::webhook::WebhookEndpoint;

use super::{ChangeSet, OutboxMessage, StoreResult};

/// Webhook endpoints of projects.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// The webhook endpoint with this id, if any.
    async fn endpoint(&self, id: WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>>;
    /// Every webhook endpoint registered on the project.
    async fn endpoints(&self, project: ProjectId) -> StoreResult<Vec<WebhookEndpoint>>;
    /// The latest signed test delivery to any endpoint of the project: when, and whether it succeeded.
    async fn last_test_delivery(
        &self,
        project: ProjectId,
    ) -> StoreResult<Option<(DateTime<Utc>, bool)>>;
}

/// One outbox message fanned out: the deliveries [`DeliveryStore::dispatch`] inserts for it.
#[derive(Debug, Clone, PartialEq)]
pub struct FanOut {
    /// The outbox message.
    pub message: MessageId,
    /// One delivery per endpoint that wants it (possibly none).
    pub deliveries: Vec<crate::webhook::Delivery>,
}

/// Webhook deliveries (issue 5): the outbox fanned out into one delivery per endpoint, claimed by
/// workers under a lease, settled attempt by attempt. Writes that also change an endpoint
/// (verified, failing, disabled) or raise audit events take that [`ChangeSet`] along and apply it
/// in the same transaction, exactly as [`UnitOfWork::commit`](super::UnitOfWork::commit) would.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Outbox messages not yet fanned out, oldest first.
    async fn undispatched(&self, limit: u64) -> StoreResult<Vec<OutboxMessage>>;
    /// Marks each message dispatched and inserts its deliveries, all in one transaction (the
    /// worker fans out a page of the outbox at a time: one write, not one per message). The
    /// answer has one flag per fan-out, in order: `false` when that message was already
    /// dispatched (another dispatcher won; none of its deliveries are inserted, the others'
    /// are).
    async fn dispatch(&self, fan_outs: Vec<FanOut>, at: DateTime<Utc>) -> StoreResult<Vec<bool>>;
    /// Leases up to `limit` due deliveries (pending, `next_attempt_at <= now`, no live lease)
    /// to `lease_owner` until `lease_until`, oldest due first. On PostgreSQL:
    /// `FOR UPDATE SKIP LOCKED`; elsewhere a conditional update of the lease columns.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_owner: &str,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<crate::webhook::Delivery>>;
    /// Stores the attempts, moves each delivery to its next state, releases the leases and
    /// applies `also`, in one transaction (a worker's tick settles all its attempts in one
    /// write). `Conflict` when `lease_owner` no longer holds one of the deliveries (its lease
    /// expired and another worker claimed it) or an expected version in `also` moved: nothing
    /// is written.
    async fn complete_attempts(
        &self,
        records: Vec<crate::webhook::AttemptRecord>,
        also: ChangeSet,
    ) -> StoreResult<()>;
    /// The delivery with this id, if any.
    async fn delivery(&self, id: DeliveryId) -> StoreResult<Option<crate::webhook::Delivery>>;
    /// Deliveries of an endpoint, newest first, before the cursor (keyset paging).
    async fn deliveries_of_endpoint(
        &self,
        endpoint: WebhookEndpointId,
        before: Option<DeliveryId>,
        limit: u64,
    ) -> StoreResult<Vec<crate::webhook::Delivery>>;
    /// Attempts of an endpoint at or after `since`, newest first, at most `limit`.
    async fn attempts_of_endpoint(
        &self,
        endpoint: WebhookEndpointId,
        since: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<crate::webhook::DeliveryAttempt>>;
    /// Puts a failed delivery back in the queue, due at `at`, with `also` (its audit event).
    /// `Conflict` unless the delivery is `failed`.
    async fn requeue_failed(
        &self,
        id: DeliveryId,
        at: DateTime<Utc>,
        also: ChangeSet,
    ) -> StoreResult<()>;
    /// The latest settled `test` delivery of any endpoint of the project: when it was last
    /// attempted, and whether it succeeded. What [`WebhookStore::last_test_delivery`] answers.
    async fn last_test_delivery(
        &self,
        project: ProjectId,
    ) -> StoreResult<Option<(DateTime<Utc>, bool)>>;
}
