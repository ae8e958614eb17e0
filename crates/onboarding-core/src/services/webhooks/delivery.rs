//! The delivery side of webhooks: the worker's dispatch, attempts and settling, the delivery history, endpoint health and manual retry.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use serde_json::json;

use crate::services::*;
use crate::webhook::{
    AttemptRecord, DISABLE_AFTER_FAILING, Delivery, DeliveryAttempt, DeliveryStatus,
    EVENT_VERIFICATION, EndpointHealth, EndpointStatus, EventType, HEALTH_WINDOW, WebhookEndpoint,
    challenge_echoed, fan_out, is_interactive_event,
};

/// What a worker needs to send a delivery: where, and the secrets to sign with (plaintext,
/// newest first). Never stored, never logged.
#[derive(Clone)]
pub struct DeliveryTarget {
    /// The endpoint's URL.
    pub url: String,
    /// The signing secrets in clear, newest first (two during a rotation).
    pub secrets: Vec<String>,
}

impl fmt::Debug for DeliveryTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryTarget")
            .field("url", &self.url)
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

/// Whether a claimed delivery can be sent.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// Send to this target.
    Send(DeliveryTarget),
    /// The endpoint is gone or disabled: settle without sending.
    Skip(String),
    /// None of the endpoint's signing secrets opens with this server's vault key (a replica
    /// configured with another key): settle without sending; the worker logs it as an error.
    Unsealable(String),
}

/// What a worker did with one leased delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// An HTTP attempt was made; what came back.
    Sent(AttemptResult),
    /// Not sent ([`Prepared::Skip`], or the body could not be signed): why.
    NotSent(String),
}

/// How [`Webhooks::record_outcomes`] left one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Recorded; the delivery's state now.
    Left(DeliveryStatus),
    /// Not recorded: the worker's lease expired and another worker holds the delivery.
    LostLease,
}

/// The outcome of one HTTP attempt, as the delivery adapter saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    /// When the attempt started (its `webhook-timestamp`).
    pub at: DateTime<Utc>,
    /// The URL it was sent to (a verification counts only for the URL that answered it).
    pub url: String,
    /// `None` when no response came.
    pub response_status: Option<u16>,
    /// The start of the response body (the adapter bounds it).
    pub response_body: String,
    /// A transport error or a refused address, for people.
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds.
    pub latency_ms: u64,
    /// From the retry schedule: when to try again should this attempt have failed; `None`
    /// when no attempt is left.
    pub retry_at: Option<DateTime<Utc>>,
}

/// What one dispatch pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DispatchReport {
    /// Outbox messages fanned out.
    pub messages: usize,
    /// Deliveries created from them.
    pub deliveries: usize,
}

/// The delivery side of webhooks: a [`Portal`] plus the [`DeliveryStore`]. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    portal: Portal,
    deliveries: Arc<dyn DeliveryStore>,
}

/// How many times an attempt's write is tried again when the endpoint changed meanwhile.
const ENDPOINT_RACE_RETRIES: usize = 3;

impl Webhooks {
    /// The webhook use cases over `portal` and the delivery store.
    pub fn new(portal: Portal, deliveries: Arc<dyn DeliveryStore>) -> Self {
        Self { portal, deliveries }
    }

    /// The portal these use cases run on.
    pub fn portal(&self) -> &Portal {
        &self.portal
    }

    /// The delivery store.
    pub fn deliveries(&self) -> &Arc<dyn DeliveryStore> {
        &self.deliveries
    }

    /// Fans a page of undispatched outbox messages out into deliveries (system; the worker
    /// calls it), in one write. Each message is dispatched atomically, once, even with several
    /// dispatchers. Each project's (or targeted endpoint's) endpoints are read once per page.
    pub async fn dispatch(&self, limit: u64) -> ServiceResult<DispatchReport> {
        let p = &self.portal.cx.p;
        let messages = self.deliveries.undispatched(limit).await?;
        if messages.is_empty() {
            return Ok(DispatchReport::default());
        }
        let now = self.portal.cx.now();
        let mut of_project: HashMap<ProjectId, Vec<WebhookEndpoint>> = HashMap::new();
        let mut targeted: HashMap<WebhookEndpointId, Vec<WebhookEndpoint>> = HashMap::new();
        let mut fan_outs = Vec::with_capacity(messages.len());
        for m in &messages {
            let endpoints: &[WebhookEndpoint] = match (m.target_endpoint, m.project_id) {
                (Some(t), _) => match targeted.entry(t) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(v) => {
                        v.insert(p.webhooks.endpoint(t).await?.into_iter().collect())
                    }
                },
                (None, Some(project)) => match of_project.entry(project) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(v) => v.insert(p.webhooks.endpoints(project).await?),
                },
                (None, None) => &[],
            };
            let deliveries = fan_out(
                m,
                endpoints,
                || DeliveryId::from_ulid(self.portal.cx.ulid()),
                now,
            );
            fan_outs.push(FanOut {
                message: m.id,
                deliveries,
            });
        }
        let sizes: Vec<usize> = fan_outs.iter().map(|f| f.deliveries.len()).collect();
        let done = self.deliveries.dispatch(fan_outs, now).await?;
        let mut report = DispatchReport::default();
        for (n, first) in sizes.into_iter().zip(done) {
            if first {
                report.messages += 1;
                report.deliveries += n;
            }
        }
        Ok(report)
    }

    /// Where and with which secrets to send deliveries to this endpoint (system). The answer
    /// depends on the endpoint only, so a worker asks once per endpoint per tick.
    pub async fn prepare(&self, endpoint: WebhookEndpointId) -> ServiceResult<Prepared> {
        let p = &self.portal.cx.p;
        let Some(ep) = p.webhooks.endpoint(endpoint).await? else {
            return Ok(Prepared::Skip("the endpoint no longer exists".into()));
        };
        if !ep.is_enabled() {
            return Ok(Prepared::Skip("the endpoint is disabled".into()));
        }
        let now = self.portal.cx.now();
        let secrets: Vec<String> = ep
            .active_secrets(now)
            .filter_map(|s| p.vault.open(&s.sealed))
            .collect();
        if secrets.is_empty() {
            return Ok(Prepared::Unsealable(
                "no signing secret could be opened with this server's vault key".into(),
            ));
        }
        Ok(Prepared::Send(DeliveryTarget {
            url: ep.url,
            secrets,
        }))
    }

    /// The record of a claimed delivery that cannot be sent: failed, nothing attempted.
    fn not_sent(&self, d: &Delivery, lease_owner: &str, reason: &str) -> AttemptRecord {
        AttemptRecord {
            attempt: DeliveryAttempt {
                delivery_id: d.id,
                endpoint_id: d.endpoint_id,
                attempt: d.attempts + 1,
                at: self.portal.cx.now(),
                response_status: None,
                error: Some(format!("not sent: {reason}")),
                latency_ms: 0,
                succeeded: false,
            },
            lease_owner: lease_owner.to_owned(),
            status: DeliveryStatus::Failed,
            next_attempt_at: None,
        }
    }

    /// Settles a claimed delivery that cannot be sent: failed, nothing attempted, the endpoint
    /// untouched (system).
    pub async fn skip(&self, d: &Delivery, lease_owner: &str, reason: &str) -> ServiceResult<()> {
        let record = self.not_sent(d, lease_owner, reason);
        Ok(self
            .deliveries
            .complete_attempts(vec![record], ChangeSet::default())
            .await?)
    }

    /// Records an attempt (system): the delivery's next state, and what it says about the
    /// endpoint (verified by an echoed challenge, failing since when, disabled after 410 or five
    /// days of failures — the last two with an audit event and an `endpoint.disabled` message),
    /// all in one transaction. `Conflict` when the worker lost its lease.
    pub async fn record_attempt(
        &self,
        d: &Delivery,
        lease_owner: &str,
        result: AttemptResult,
    ) -> ServiceResult<DeliveryStatus> {
        let mut tries = 0;
        loop {
            tries += 1;
            let ep = self.portal.cx.p.webhooks.endpoint(d.endpoint_id).await?;
            let (record, also) = self.settle(d, lease_owner, &result, ep.as_ref())?;
            let status = record.status;
            match self.deliveries.complete_attempts(vec![record], also).await {
                Ok(()) => return Ok(status),
                // The endpoint changed under us (another delivery settled first): decide again
                // on the fresh endpoint. A lost lease conflicts every time and ends the loop.
                Err(StoreError::Conflict(_)) if tries < ENDPOINT_RACE_RETRIES && ep.is_some() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Records a worker tick's outcomes (system) in one write: what [`Self::record_attempt`]
    /// and [`Self::skip`] do for each, in order. Attempts to one endpoint are decided in turn on
    /// the endpoint as the previous one left it (a failure then a success leaves it healthy),
    /// each endpoint read once. When that write conflicts (a lease lost, or the endpoint changed
    /// meanwhile) each outcome is recorded on its own instead, so one lost lease costs only its
    /// own delivery. Answers one [`Settled`] per outcome, in order.
    pub async fn record_outcomes(
        &self,
        lease_owner: &str,
        outcomes: Vec<(Delivery, Outcome)>,
    ) -> ServiceResult<Vec<Settled>> {
        let mut endpoints: HashMap<WebhookEndpointId, Option<WebhookEndpoint>> = HashMap::new();
        for (d, o) in &outcomes {
            if let (Outcome::Sent(_), Entry::Vacant(v)) = (o, endpoints.entry(d.endpoint_id)) {
                v.insert(self.portal.cx.p.webhooks.endpoint(d.endpoint_id).await?);
            }
        }
        let mut records = Vec::with_capacity(outcomes.len());
        let mut also = ChangeSet::default();
        for (d, o) in &outcomes {
            let record = match o {
                Outcome::Sent(r) => {
                    let ep = endpoints.get_mut(&d.endpoint_id).expect("read above");
                    let (record, more) = self.settle(d, lease_owner, r, ep.as_ref())?;
                    if let Some(Change::UpdateWebhookEndpoint { value, .. }) = more.changes.last() {
                        *ep = Some(value.clone());
                    }
                    also.changes.extend(more.changes);
                    also.audit.extend(more.audit);
                    also.outbox.extend(more.outbox);
                    record
                }
                Outcome::NotSent(reason) => self.not_sent(d, lease_owner, reason),
            };
            records.push(record);
        }
        let statuses: Vec<DeliveryStatus> = records.iter().map(|r| r.status).collect();
        match self.deliveries.complete_attempts(records, also).await {
            Ok(()) => return Ok(statuses.into_iter().map(Settled::Left).collect()),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let mut settled = Vec::with_capacity(outcomes.len());
        for (d, o) in outcomes {
            let one = match o {
                Outcome::Sent(r) => self.record_attempt(&d, lease_owner, r).await,
                Outcome::NotSent(reason) => self
                    .skip(&d, lease_owner, &reason)
                    .await
                    .map(|()| DeliveryStatus::Failed),
            };
            settled.push(match one {
                Ok(s) => Settled::Left(s),
                Err(ServiceError::Conflict { .. }) => Settled::LostLease,
                // The remaining leases expire and those deliveries are sent again.
                Err(e) => return Err(e),
            });
        }
        Ok(settled)
    }

    /// The pure decision behind [`Self::record_attempt`].
    fn settle(
        &self,
        d: &Delivery,
        lease_owner: &str,
        r: &AttemptResult,
        ep: Option<&WebhookEndpoint>,
    ) -> ServiceResult<(AttemptRecord, ChangeSet)> {
        let ok_status = r.response_status.is_some_and(|s| (200..300).contains(&s));
        let mut error = r.error.clone();
        let is_verification = d.event_type == EVENT_VERIFICATION;
        let succeeded = if is_verification && ok_status {
            let challenge = d.data()["challenge"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let echoed = challenge_echoed(&r.response_body, &challenge);
            if !echoed {
                error = Some("the response did not echo the challenge".into());
            }
            echoed
        } else {
            ok_status
        };
        let gone = r.response_status == Some(410);
        let (status, next_attempt_at) = if succeeded {
            (DeliveryStatus::Succeeded, None)
        } else if gone
            || is_interactive_event(&d.event_type)
            || r.retry_at.is_none()
            || ep.is_none_or(|e| !e.is_enabled())
        {
            (DeliveryStatus::Failed, None)
        } else {
            (DeliveryStatus::Pending, r.retry_at)
        };
        let mut record = AttemptRecord {
            attempt: DeliveryAttempt {
                delivery_id: d.id,
                endpoint_id: d.endpoint_id,
                attempt: d.attempts + 1,
                at: r.at,
                response_status: r.response_status,
                error,
                latency_ms: r.latency_ms,
                succeeded,
            },
            lease_owner: lease_owner.to_owned(),
            status,
            next_attempt_at,
        };
        let Some(ep) = ep.filter(|e| e.is_enabled()) else {
            return Ok((record, ChangeSet::default()));
        };
        let mut also =
            self.portal
                .cx
                .change_in(Actor::System, r.at, ep.workspace_id, Some(ep.project_id));
        let mut next = ep.clone();
        if succeeded {
            next.failing_since = None;
            if is_verification && r.url == ep.url && !ep.is_verified() {
                next.status = EndpointStatus::Verified { at: r.at };
                also = also.audit(
                    "webhook_endpoint.verified",
                    ep.id,
                    json!({ "url": ep.url, "message_id": d.message_id }),
                );
            }
        } else {
            let since = ep.failing_since.unwrap_or(r.at);
            next.failing_since = Some(since);
            let reason = if gone {
                Some("the endpoint answered 410 Gone".to_owned())
            } else if r.at - since >= DISABLE_AFTER_FAILING {
                Some(format!(
                    "every delivery failed for {} days",
                    DISABLE_AFTER_FAILING.num_days()
                ))
            } else {
                None
            };
            if let Some(reason) = reason {
                next.status = EndpointStatus::Disabled {
                    at: r.at,
                    reason: reason.clone(),
                };
                also = also
                    .audit(
                        "webhook_endpoint.disabled",
                        ep.id,
                        json!({ "reason": reason, "failing_since": since }),
                    )
                    .event(
                        EventType::EndpointDisabled,
                        json!({ "endpoint_id": ep.id, "url": ep.url, "reason": reason, "failing_since": since }),
                    );
            }
        }
        if !next.is_enabled() {
            // This attempt disabled the endpoint: nothing more goes to it.
            record.status = DeliveryStatus::Failed;
            record.next_attempt_at = None;
        }
        if next != *ep {
            also = also.update(&mut next);
        }
        Ok((record, also.into_set()?))
    }

    async fn read_endpoint(
        &self,
        caller: Caller,
        id: WebhookEndpointId,
    ) -> ServiceResult<WebhookEndpoint> {
        self.portal.endpoints().webhook_endpoint(caller, id).await
    }

    /// An endpoint's deliveries, newest first (keyset paging with `before`).
    pub async fn deliveries_of_endpoint(
        &self,
        caller: Caller,
        endpoint: WebhookEndpointId,
        before: Option<DeliveryId>,
        limit: u64,
    ) -> ServiceResult<Vec<Delivery>> {
        self.read_endpoint(caller, endpoint).await?;
        Ok(self
            .deliveries
            .deliveries_of_endpoint(endpoint, before, limit.clamp(1, 100))
            .await?)
    }

    /// One delivery (members of its endpoint's workspace only).
    pub async fn delivery(&self, caller: Caller, id: DeliveryId) -> ServiceResult<Delivery> {
        let d = self
            .deliveries
            .delivery(id)
            .await?
            .ok_or(ServiceError::NotFound { entity: "delivery" })?;
        self.portal
            .cx
            .require_read_on("delivery", caller, d.workspace_id)
            .await?;
        Ok(d)
    }

    /// Success rate, last success and failure, latency over the last 7 days.
    pub async fn endpoint_health(
        &self,
        caller: Caller,
        endpoint: WebhookEndpointId,
    ) -> ServiceResult<EndpointHealth> {
        let ep = self.read_endpoint(caller, endpoint).await?;
        let since = self.portal.cx.now() - HEALTH_WINDOW;
        let attempts = self
            .deliveries
            .attempts_of_endpoint(endpoint, since, 10_000)
            .await?;
        Ok(EndpointHealth::from_attempts(&attempts, ep.failing_since))
    }

    /// Retries a failed delivery now (one more attempt; the same `webhook-id`).
    pub async fn retry_delivery(&self, caller: Caller, id: DeliveryId) -> ServiceResult<Delivery> {
        let d = self
            .deliveries
            .delivery(id)
            .await?
            .ok_or(ServiceError::NotFound { entity: "delivery" })?;
        self.portal
            .cx
            .require_on("delivery", caller, d.workspace_id, Action::ManageWebhooks)
            .await?;
        if d.status != DeliveryStatus::Failed {
            return Err(ServiceError::Conflict {
                message: "only a failed delivery can be retried".into(),
                current: Some(d.status.as_str().into()),
            });
        }
        let ep = self.portal.cx.load_endpoint(d.endpoint_id).await?;
        if !ep.is_enabled() {
            return Err(ServiceError::Conflict {
                message: "the endpoint is disabled; enable it first".into(),
                current: Some("disabled".into()),
            });
        }
        let now = self.portal.cx.now();
        let set = self
            .portal
            .cx
            .change_in(caller.actor(), now, ep.workspace_id, Some(ep.project_id))
            .audit(
                "webhook_delivery.retried",
                ep.id,
                json!({ "delivery_id": d.id, "message_id": d.message_id }),
            )
            .into_set()?;
        match self.deliveries.requeue_failed(id, now, set).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::Conflict {
                    message: "the delivery changed meanwhile".into(),
                    current: None,
                });
            }
            Err(e) => return Err(e.into()),
        }
        self.deliveries
            .delivery(id)
            .await?
            .ok_or(ServiceError::NotFound { entity: "delivery" })
    }
}
