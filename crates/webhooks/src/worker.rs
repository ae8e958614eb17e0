//! The delivery worker: each tick fans new outbox messages out into deliveries, leases the
//! due ones, sends them concurrently and records every attempt through the core (which decides
//! verified / failing / disabled). Tests call [`Worker::run_once`] with a stepped clock; the
//! server runs [`Worker::run`] until shutdown. Several workers (on several replicas) may run at
//! once: the lease keeps each delivery with one of them, and a worker that dies mid-delivery
//! loses its lease at expiry, so another sends the delivery again under the same `webhook-id`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use onboarding_core::ServiceResult;
use onboarding_core::Webhooks;
use onboarding_core::ids::WebhookEndpointId;
use onboarding_core::ports::{Clock, DeliveryStore};
use onboarding_core::services::{AttemptResult, DispatchReport, Outcome, Prepared, Settled};
use onboarding_core::webhook::{Delivery, DeliveryStatus};
use onboarding_core::{Portal, ServiceError};

use crate::client::DeliveryClient;
use crate::schedule::{Jitter, RandomJitter, RetrySchedule};
use crate::signing::SignedHeaders;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names this worker's leases; unique per process (a ULID by default).
    pub owner: String,
    /// Deliveries leased per tick (and sent concurrently). 128 by default: with one write to
    /// record a whole tick, the fixed cost of a tick (claim, endpoint reads, commit) is spread
    /// over more deliveries; 32 delivered half as many a second in the benchmark (issue 7, F).
    pub batch: u64,
    /// Outbox messages fanned out per tick.
    pub dispatch_batch: u64,
    /// Longer than the HTTP timeout, so a live worker never loses a delivery it is sending.
    pub lease: TimeDelta,
    /// Pause between ticks that found nothing to do (the `run` loop only).
    pub idle_poll: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            owner: format!("worker-{}", ulid::Ulid::generate()),
            batch: 128,
            dispatch_batch: 200,
            lease: TimeDelta::seconds(60),
            idle_poll: Duration::from_secs(1),
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunReport {
    pub dispatched: DispatchReport,
    pub attempted: usize,
    pub succeeded: usize,
    /// Failed attempts that will be tried again.
    pub retrying: usize,
    /// Deliveries that ended `failed` in this tick (attempted or skipped).
    pub failed: usize,
    /// Attempts whose result was not recorded because the lease was lost meanwhile.
    pub lost_leases: usize,
}

#[derive(Clone)]
pub struct Worker {
    webhooks: Webhooks,
    client: DeliveryClient,
    clock: Arc<dyn Clock>,
    schedule: RetrySchedule,
    jitter: Arc<dyn Jitter>,
    cfg: WorkerConfig,
    /// Clones of one worker take turns: their ticks never overlap. A server's test hook that
    /// runs one tick therefore waits for the background loop's tick in progress, and finds
    /// its effects complete when it returns.
    tick: Arc<tokio::sync::Mutex<()>>,
}

impl Worker {
    pub fn new(
        portal: Portal,
        deliveries: Arc<dyn DeliveryStore>,
        clock: Arc<dyn Clock>,
        client: DeliveryClient,
    ) -> Self {
        Worker {
            webhooks: Webhooks::new(portal, deliveries),
            client,
            clock,
            schedule: RetrySchedule::default(),
            jitter: Arc::new(RandomJitter),
            cfg: WorkerConfig::default(),
            tick: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub fn with_config(mut self, cfg: WorkerConfig) -> Self {
        self.cfg = cfg;
        self
    }

    pub fn with_schedule(mut self, schedule: RetrySchedule) -> Self {
        self.schedule = schedule;
        self
    }

    pub fn with_jitter(mut self, jitter: Arc<dyn Jitter>) -> Self {
        self.jitter = jitter;
        self
    }

    pub fn webhooks(&self) -> &Webhooks {
        &self.webhooks
    }

    pub fn owner(&self) -> &str {
        &self.cfg.owner
    }

    /// One tick at `now`: dispatch, lease what is due, send it all, record the outcomes (in
    /// one write: a tick costs a handful of transactions however many deliveries it sends).
    pub async fn run_once(&self, now: DateTime<Utc>) -> ServiceResult<RunReport> {
        let _turn = self.tick.lock().await;
        let mut report = RunReport {
            dispatched: self.webhooks.dispatch(self.cfg.dispatch_batch).await?,
            ..RunReport::default()
        };
        let due = self
            .webhooks
            .deliveries()
            .claim_due(now, &self.cfg.owner, now + self.cfg.lease, self.cfg.batch)
            .await?;
        if due.is_empty() {
            return Ok(report);
        }
        // Where to send is a question about the endpoint: asked once per endpoint.
        let mut targets: HashMap<WebhookEndpointId, Arc<Prepared>> = HashMap::new();
        for d in &due {
            if let Entry::Vacant(v) = targets.entry(d.endpoint_id) {
                let prepared = self.webhooks.prepare(d.endpoint_id).await?;
                if let Prepared::Unsealable(reason) = &prepared {
                    // A misconfigured replica: every delivery it takes to this endpoint fails.
                    tracing::error!(
                        endpoint = %d.endpoint_id,
                        "webhook delivery not sent: {reason}; every replica must use the same \
                         vault key (PORTAL_VAULT_KEY_FILE or PORTAL_VAULT_KEY)"
                    );
                }
                v.insert(Arc::new(prepared));
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (i, d) in due.into_iter().enumerate() {
            let me = self.clone();
            let target = targets[&d.endpoint_id].clone();
            tasks.spawn(async move {
                let outcome = me.attempt(&d, &target, now).await;
                (i, d, outcome)
            });
        }
        let mut outcomes = Vec::with_capacity(tasks.len());
        while let Some(joined) = tasks.join_next().await {
            outcomes.push(joined.map_err(|e| ServiceError::Internal(e.to_string()))?);
        }
        // Recorded in the order claimed, so attempts to one endpoint settle in a fixed order.
        outcomes.sort_by_key(|(i, _, _)| *i);
        let sent: Vec<bool> = outcomes
            .iter()
            .map(|(_, _, o)| matches!(o, Outcome::Sent(_)))
            .collect();
        let settled = self
            .webhooks
            .record_outcomes(
                &self.cfg.owner,
                outcomes.into_iter().map(|(_, d, o)| (d, o)).collect(),
            )
            .await?;
        for (attempted, s) in sent.into_iter().zip(settled) {
            report.attempted += usize::from(attempted);
            match s {
                Settled::Left(DeliveryStatus::Succeeded) => report.succeeded += 1,
                Settled::Left(DeliveryStatus::Pending) => report.retrying += 1,
                Settled::Left(DeliveryStatus::Failed) => report.failed += 1,
                Settled::LostLease => report.lost_leases += 1,
            }
        }
        Ok(report)
    }

    /// Signs and sends one leased delivery (or says why it is not sent).
    async fn attempt(&self, d: &Delivery, target: &Prepared, now: DateTime<Utc>) -> Outcome {
        let target = match target {
            Prepared::Send(t) => t,
            Prepared::Skip(reason) | Prepared::Unsealable(reason) => {
                return Outcome::NotSent(reason.clone());
            }
        };
        let signed = match SignedHeaders::new(
            &target.secrets,
            &d.message_id.to_string(),
            now.timestamp(),
            d.body.as_bytes(),
        ) {
            Ok(s) => s,
            Err(e) => return Outcome::NotSent(e.to_string()),
        };
        let out = self.client.send(&target.url, &signed, &d.body, now).await;
        let delay = self
            .schedule
            .next_delay(d.attempts + 1, self.jitter.sample(), out.retry_after);
        tracing::debug!(delivery = %d.id, status = ?out.status, "webhook attempt");
        Outcome::Sent(AttemptResult {
            at: now,
            url: target.url.clone(),
            response_status: out.status,
            response_body: out.body,
            error: out.error,
            latency_ms: u64::try_from(out.latency.as_millis()).unwrap_or(u64::MAX),
            retry_at: delay
                .and_then(|d| TimeDelta::from_std(d).ok())
                .map(|d| now + d),
        })
    }

    /// Ticks until `shutdown` completes, reading the time from the clock. A tick that found
    /// work is followed at once by the next; an idle one waits `idle_poll`.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let busy = match self.run_once(self.clock.now()).await {
                Ok(r) => r.attempted > 0 || r.dispatched.messages > 0 || r.failed > 0,
                Err(e) => {
                    tracing::error!(error = %e, "webhook worker tick failed");
                    false
                }
            };
            let pause = if busy {
                Duration::ZERO
            } else {
                self.cfg.idle_poll
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
