//! Webhook endpoints and their deliveries (spec §8, issue 5).
//!
//! Endpoint management needs only the ports a [`Portal`] already has, so it lives on `Portal`.
//! Everything that reads or writes deliveries lives on [`Webhooks`], which pairs a `Portal`
//! with the [`DeliveryStore`] port (see `docs/decisions/0009-webhooks.md`): the worker, the
//! delivery history, endpoint health and manual retry.

use std::fmt;

use chrono::TimeDelta;
use serde::Serialize;
use serde_json::json;

use super::*;
use crate::project::Project;
use crate::webhook::{
    DEFAULT_SECRET_OVERLAP, EndpointStatus, EventType, MAX_SECRET_OVERLAP, WebhookEndpoint,
    check_destination, validate_endpoint_url, validate_event_filter,
};

mod delivery;
pub use delivery::{
    AttemptResult, DeliveryTarget, DispatchReport, Outcome, Prepared, Settled, Webhooks,
};

/// A new endpoint and its signing secret: the only time the secret is shown.
#[derive(Clone, Serialize)]
pub struct CreatedEndpoint {
    /// The stored endpoint (pending verification).
    pub endpoint: WebhookEndpoint,
    /// `whsec_...`, shown once.
    pub secret: String,
}

/// An endpoint after a secret rotation, and its new secret (shown once).
#[derive(Clone, Serialize)]
pub struct RotatedSecret {
    /// The endpoint, with its new secret added and the previous one expiring.
    pub endpoint: WebhookEndpoint,
    /// The new `whsec_...` secret, shown once.
    pub secret: String,
}

// Secrets stay out of logs: Debug never prints them.
impl fmt::Debug for CreatedEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedEndpoint")
            .field("endpoint", &self.endpoint)
            .field("secret", &"whsec_***")
            .finish()
    }
}

impl fmt::Debug for RotatedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotatedSecret")
            .field("endpoint", &self.endpoint)
            .field("secret", &"whsec_***")
            .finish()
    }
}

impl Endpoints {
    /// Registers an endpoint: pending, with its own `whsec_` secret (returned once), and sends
    /// it the verification challenge in the same unit of work.
    pub async fn create_webhook_endpoint(
        &self,
        caller: Caller,
        project: ProjectId,
        url: &str,
        events: &[String],
    ) -> ServiceResult<CreatedEndpoint> {
        let p: Project = self.cx.load_project(project).await?;
        self.cx
            .require_on("project", caller, p.workspace_id, Action::ManageWebhooks)
            .await?;
        let url = validate_endpoint_url(url, p.environment)?;
        check_destination(&url, &*self.cx.p.destinations)?;
        let events = validate_event_filter(events)?;
        let now = self.cx.now();
        let (secret, sealed) = self.cx.new_signing_secret(now);
        let ep = WebhookEndpoint {
            id: WebhookEndpointId::from_ulid(self.cx.ulid()),
            workspace_id: p.workspace_id,
            project_id: p.id,
            url: url.to_string(),
            events,
            status: EndpointStatus::Pending,
            signing_secrets: vec![sealed],
            failing_since: None,
            created_at: now,
            version: 0,
        };
        self.cx
            .change_in(caller.actor(), now, ep.workspace_id, Some(ep.project_id))
            .with(Change::InsertWebhookEndpoint(ep.clone()))
            .audit(
                "webhook_endpoint.created",
                ep.id,
                json!({ "url": ep.url, "events": ep.events }),
            )
            .event_to(
                ep.id,
                EventType::EndpointVerification,
                self.cx.verification_payload(&ep),
            )
            .commit()
            .await?;
        Ok(CreatedEndpoint {
            endpoint: ep,
            secret,
        })
    }

    /// The project's endpoints (members and reviewing staff).
    pub async fn webhook_endpoints(
        &self,
        caller: Caller,
        project: ProjectId,
    ) -> ServiceResult<Vec<WebhookEndpoint>> {
        let p = self.cx.load_project(project).await?;
        self.cx
            .require_read_on("project", caller, p.workspace_id)
            .await?;
        Ok(self.cx.p.webhooks.endpoints(project).await?)
    }

    /// One webhook endpoint (members of its workspace only).
    pub async fn webhook_endpoint(
        &self,
        caller: Caller,
        id: WebhookEndpointId,
    ) -> ServiceResult<WebhookEndpoint> {
        let ep = self.cx.load_endpoint(id).await?;
        self.cx
            .require_read_on("webhook endpoint", caller, ep.workspace_id)
            .await?;
        Ok(ep)
    }

    /// Changes an endpoint's URL and/or events. A changed endpoint must verify again: it goes
    /// back to `pending` (a disabled one stays disabled) and gets a new challenge.
    pub async fn update_webhook_endpoint(
        &self,
        caller: Caller,
        id: WebhookEndpointId,
        url: Option<&str>,
        events: Option<&[String]>,
    ) -> ServiceResult<WebhookEndpoint> {
        let ep = self.cx.managed_endpoint(caller, id).await?;
        let p = self.cx.load_project(ep.project_id).await?;
        let mut next = ep.clone();
        if let Some(u) = url {
            let u = validate_endpoint_url(u, p.environment)?;
            check_destination(&u, &*self.cx.p.destinations)?;
            next.url = u.to_string();
        }
        if let Some(e) = events {
            next.events = validate_event_filter(e)?;
        }
        if next.url == ep.url && next.events == ep.events {
            return Ok(ep);
        }
        let now = self.cx.now();
        if ep.is_enabled() {
            next.status = EndpointStatus::Pending;
        }
        let mut draft = self
            .cx
            .change_in(caller.actor(), now, ep.workspace_id, Some(ep.project_id))
            .update(&mut next)
            .audit(
                "webhook_endpoint.updated",
                ep.id,
                json!({ "url": next.url, "events": next.events, "previous_url": ep.url }),
            );
        if next.is_enabled() {
            draft = draft.event_to(
                ep.id,
                EventType::EndpointVerification,
                self.cx.verification_payload(&next),
            );
        }
        draft.commit().await?;
        Ok(next)
    }

    /// Disables an endpoint (it receives nothing), or enables it again: an enabled endpoint is
    /// `pending` and gets a fresh challenge, since it may have changed hands while disabled.
    pub async fn set_webhook_endpoint_enabled(
        &self,
        caller: Caller,
        id: WebhookEndpointId,
        enabled: bool,
    ) -> ServiceResult<WebhookEndpoint> {
        let ep = self.cx.managed_endpoint(caller, id).await?;
        if ep.is_enabled() == enabled {
            return Ok(ep);
        }
        let now = self.cx.now();
        let mut next = ep.clone();
        let mut draft =
            self.cx
                .change_in(caller.actor(), now, ep.workspace_id, Some(ep.project_id));
        // The challenge is raised before the audit event is drafted: its id sorts first.
        let action = if enabled {
            next.status = EndpointStatus::Pending;
            next.failing_since = None;
            draft = draft.event_to(
                ep.id,
                EventType::EndpointVerification,
                self.cx.verification_payload(&next),
            );
            "webhook_endpoint.enabled"
        } else {
            next.status = EndpointStatus::Disabled {
                at: now,
                reason: "disabled by a member".into(),
            };
            "webhook_endpoint.disabled"
        };
        draft
            .update(&mut next)
            .audit(action, ep.id, json!({}))
            .commit()
            .await?;
        Ok(next)
    }

    /// A new signing secret (shown once). The previous one keeps signing until the overlap
    /// ends (default 24 h, at most 7 days): deliveries carry both signatures meanwhile.
    pub async fn rotate_webhook_secret(
        &self,
        caller: Caller,
        id: WebhookEndpointId,
        overlap: Option<TimeDelta>,
    ) -> ServiceResult<RotatedSecret> {
        let ep = self.cx.managed_endpoint(caller, id).await?;
        let overlap = overlap.unwrap_or(DEFAULT_SECRET_OVERLAP);
        if overlap < TimeDelta::zero() || overlap > MAX_SECRET_OVERLAP {
            return Err(FieldError::new("overlap", "between 0 and 7 days").into());
        }
        let now = self.cx.now();
        let (secret, sealed) = self.cx.new_signing_secret(now);
        let mut next = ep.clone();
        // Keep only the current secret as "previous": an older previous one ends now.
        let mut previous = ep
            .signing_secrets
            .iter()
            .find(|s| s.expires_at.is_none())
            .or(ep.signing_secrets.first())
            .cloned();
        if let Some(p) = previous.as_mut() {
            let end = now + overlap;
            p.expires_at = Some(p.expires_at.map_or(end, |e| e.min(end)));
        }
        next.signing_secrets = std::iter::once(sealed)
            .chain(previous.filter(|p| p.expires_at.is_some_and(|e| e > now)))
            .collect();
        let details = json!({ "previous_expires_at": next.signing_secrets.get(1).and_then(|s| s.expires_at) });
        self.cx
            .change_in(caller.actor(), now, ep.workspace_id, Some(ep.project_id))
            .update(&mut next)
            .audit("webhook_endpoint.secret_rotated", ep.id, details)
            .commit()
            .await?;
        Ok(RotatedSecret {
            endpoint: next,
            secret,
        })
    }

    /// Sends the endpoint a new verification challenge; it is `verified` once it echoes it.
    pub async fn start_webhook_verification(
        &self,
        caller: Caller,
        id: WebhookEndpointId,
    ) -> ServiceResult<MessageId> {
        let ep = self.cx.managed_endpoint(caller, id).await?;
        self.cx
            .send_targeted(caller, &ep, EventType::EndpointVerification)
            .await
    }

    /// "Send test event": a signed `test` delivery to this endpoint; the webhook gate reads
    /// whether it was accepted.
    pub async fn send_webhook_test(
        &self,
        caller: Caller,
        id: WebhookEndpointId,
    ) -> ServiceResult<MessageId> {
        let ep = self.cx.managed_endpoint(caller, id).await?;
        self.cx.send_targeted(caller, &ep, EventType::Test).await
    }
}

impl Context {
    pub(super) async fn load_endpoint(
        &self,
        id: WebhookEndpointId,
    ) -> ServiceResult<WebhookEndpoint> {
        self.p
            .webhooks
            .endpoint(id)
            .await?
            .ok_or(ServiceError::NotFound {
                entity: "webhook endpoint",
            })
    }

    /// Loads an endpoint and authorizes managing it: 404 outside the caller's workspaces.
    pub(super) async fn managed_endpoint(
        &self,
        caller: Caller,
        id: WebhookEndpointId,
    ) -> ServiceResult<WebhookEndpoint> {
        let ep = self.load_endpoint(id).await?;
        self.require_on(
            "webhook endpoint",
            caller,
            ep.workspace_id,
            Action::ManageWebhooks,
        )
        .await?;
        Ok(ep)
    }

    /// The payload of an `endpoint.verification` message: a fresh random challenge.
    pub(super) fn verification_payload(&self, ep: &WebhookEndpoint) -> Value {
        let challenge = self.p.secrets.base62(32);
        json!({ "endpoint_id": ep.id, "challenge": challenge })
    }

    pub(super) async fn send_targeted(
        &self,
        caller: Caller,
        ep: &WebhookEndpoint,
        event: EventType,
    ) -> ServiceResult<MessageId> {
        if !ep.is_enabled() {
            return Err(ServiceError::Conflict {
                message: "the endpoint is disabled; enable it first".into(),
                current: Some("disabled".into()),
            });
        }
        let now = self.now();
        let (event, payload, action) = if event == EventType::EndpointVerification {
            (
                event,
                self.verification_payload(ep),
                "webhook_endpoint.verification_sent",
            )
        } else {
            (
                EventType::Test,
                json!({ "endpoint_id": ep.id, "message": "A test event from the onboarding portal." }),
                "webhook_endpoint.test_sent",
            )
        };
        let draft = self
            .change_in(caller.actor(), now, ep.workspace_id, Some(ep.project_id))
            .event_to(ep.id, event, payload);
        let id = draft.last_message_id().expect("raised in a workspace");
        draft
            .audit(action, ep.id, json!({ "message_id": id }))
            .commit()
            .await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests;
