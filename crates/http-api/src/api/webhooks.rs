//! Webhook endpoints (register, verify, test, rotate the signing secret, enable/disable) on
//! [`onboarding_core::Portal`], and their deliveries (history, health, manual retry) on
//! [`onboarding_core::Webhooks`]. The signing secret appears only in the create and
//! rotate-secret answers; nothing else ever shows it (it is stored sealed).

use crate::text::{EventType, WebhookUrl, strings};
use chrono::{DateTime, TimeDelta, Utc};
use onboarding_core::Webhooks;
use onboarding_core::ids::*;
use onboarding_core::services::{CreatedEndpoint, RotatedSecret};
use onboarding_core::webhook::{Delivery, EndpointHealth, EndpointStatus, WebhookEndpoint};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::*;
use crate::auth::Auth;
use crate::state::AppState;

pub struct WebhooksApi {
    pub state: AppState,
}

// ---------------------------------------------------------------- bodies

/// A webhook endpoint. The signing secret is never shown here.
#[derive(Object, Debug, Clone)]
pub struct WebhookEndpointDto {
    pub id: String,
    pub workspace_id: String,
    pub project_id: String,
    pub url: String,
    /// Event types (or `family.*`) it receives; empty: every event.
    pub events: Vec<String>,
    /// `pending` (not yet verified), `verified` or `disabled`.
    pub status: String,
    pub verified_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed (disabled after 5 days).
    pub failing_since: Option<DateTime<Utc>>,
    /// During a secret rotation: until when the previous secret still signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

impl From<&WebhookEndpoint> for WebhookEndpointDto {
    fn from(e: &WebhookEndpoint) -> Self {
        let (status, verified_at, disabled_at, disabled_reason) = match &e.status {
            EndpointStatus::Pending => ("pending", None, None, None),
            EndpointStatus::Verified { at } => ("verified", Some(*at), None, None),
            EndpointStatus::Disabled { at, reason } => {
                ("disabled", None, Some(*at), Some(reason.clone()))
            }
        };
        Self {
            id: e.id.to_string(),
            workspace_id: e.workspace_id.to_string(),
            project_id: e.project_id.to_string(),
            url: e.url.clone(),
            events: e.events.clone(),
            status: status.into(),
            verified_at,
            disabled_at,
            disabled_reason,
            failing_since: e.failing_since,
            previous_secret_expires_at: e.signing_secrets.iter().skip(1).find_map(|s| s.expires_at),
            created_at: e.created_at,
            version: e.version,
        }
    }
}

/// An endpoint and its signing secret (`whsec_...`): shown this once only.
#[derive(Object, Debug, Clone)]
pub struct EndpointWithSecretDto {
    pub endpoint: WebhookEndpointDto,
    /// Verify deliveries with it (any Standard Webhooks library); store it now.
    pub secret: String,
}

impl From<&CreatedEndpoint> for EndpointWithSecretDto {
    fn from(c: &CreatedEndpoint) -> Self {
        Self {
            endpoint: (&c.endpoint).into(),
            secret: c.secret.clone(),
        }
    }
}

impl From<&RotatedSecret> for EndpointWithSecretDto {
    fn from(c: &RotatedSecret) -> Self {
        Self {
            endpoint: (&c.endpoint).into(),
            secret: c.secret.clone(),
        }
    }
}

#[derive(Object, Debug, Clone)]
pub struct CreateEndpointRequest {
    /// Where deliveries are POSTed: HTTPS (plain HTTP only for sandbox projects).
    pub url: WebhookUrl,
    /// Event types or `family.*` wildcards; empty or absent: every event.
    #[oai(default, validator(max_items = 19))]
    pub events: Vec<EventType>,
}

/// Only what is given changes; a changed endpoint must verify again.
#[derive(Object, Debug, Clone)]
pub struct UpdateEndpointRequest {
    pub url: Option<WebhookUrl>,
    #[oai(validator(max_items = 19))]
    pub events: Option<Vec<EventType>>,
}

#[derive(Object, Debug, Clone)]
pub struct RotateEndpointSecretRequest {
    /// How long the previous secret keeps signing (default 24, at most 168).
    #[oai(validator(minimum(value = "0"), maximum(value = "168")))]
    pub overlap_hours: Option<u32>,
}

/// A verification or test event on its way: the worker sends it within seconds.
#[derive(Object, Debug, Clone)]
pub struct SentEventDto {
    /// The `webhook-id` the delivery carries.
    pub message_id: String,
    pub endpoint_id: String,
}

/// One message on its way to one endpoint, and where it stands.
#[derive(Object, Debug, Clone)]
pub struct DeliveryDto {
    pub id: String,
    /// The `webhook-id` header: the same on every attempt.
    pub message_id: String,
    pub endpoint_id: String,
    pub project_id: String,
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_response_status: Option<u16>,
    pub last_error: Option<String>,
    /// The JSON envelope `{type, timestamp, data}`, exactly as sent.
    pub body: String,
    pub created_at: DateTime<Utc>,
}

impl From<&Delivery> for DeliveryDto {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            message_id: d.message_id.to_string(),
            endpoint_id: d.endpoint_id.to_string(),
            project_id: d.project_id.to_string(),
            event_type: d.event_type.clone(),
            status: d.status.as_str().into(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_attempt_at: d.last_attempt_at,
            last_response_status: d.last_response_status,
            last_error: d.last_error.clone(),
            body: d.body.clone(),
            created_at: d.created_at,
        }
    }
}

/// Deliveries newest first; pass `next_cursor` as `before` for the next page.
#[derive(Object, Debug, Clone)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryDto>,
    pub next_cursor: Option<String>,
}

/// One page of a keyset-paged list; pass `next_cursor` as `cursor` for the next.
#[derive(Object, Debug, Clone)]
pub struct WebhookEndpointPage {
    pub items: Vec<WebhookEndpointDto>,
    pub next_cursor: Option<String>,
}

/// Endpoint health over the last 7 days.
#[derive(Object, Debug, Clone)]
pub struct EndpointHealthDto {
    pub attempts: u64,
    pub successes: u64,
    /// 0..=1; absent before any attempt.
    pub success_rate: Option<f64>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
    pub last_failure_reason: Option<String>,
    pub avg_latency_ms: Option<u64>,
    pub p95_latency_ms: Option<u64>,
    pub failing_since: Option<DateTime<Utc>>,
}

impl From<&EndpointHealth> for EndpointHealthDto {
    fn from(h: &EndpointHealth) -> Self {
        Self {
            attempts: h.attempts,
            successes: h.successes,
            success_rate: h.success_rate,
            last_success_at: h.last_success_at,
            last_failure_at: h.last_failure_at,
            last_failure_reason: h.last_failure_reason.clone(),
            avg_latency_ms: h.avg_latency_ms,
            p95_latency_ms: h.p95_latency_ms,
            failing_since: h.failing_since,
        }
    }
}

/// 202: accepted, to be delivered by the worker.
#[derive(ApiResponse)]
pub enum Accepted {
    #[oai(status = 202)]
    Accepted(Json<SentEventDto>),
}

fn sent(message: MessageId, endpoint: WebhookEndpointId) -> ApiResult<Accepted> {
    Ok(Accepted::Accepted(Json(SentEventDto {
        message_id: message.to_string(),
        endpoint_id: endpoint.to_string(),
    })))
}

impl WebhooksApi {
    fn webhooks(&self) -> ApiResult<&Webhooks> {
        self.state
            .webhooks()
            .ok_or_else(|| Problem::internal("webhook deliveries are not wired into the API state"))
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Webhooks")]
impl WebhooksApi {
    /// Register an endpoint: it starts `pending` and is sent a verification challenge at
    /// once. The answer holds its signing secret, shown this once only.
    #[oai(
        path = "/projects/:id/webhook-endpoints",
        method = "post",
        operation_id = "create_webhook_endpoint"
    )]
    async fn create(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<CreateEndpointRequest>,
    ) -> ApiResult<CreatedSecret<EndpointWithSecretDto>> {
        let project: ProjectId = path_id(&id, "project")?;
        let c = self
            .state
            .portal()
            .endpoints()
            .create_webhook_endpoint(auth.caller(), project, &body.url, &strings(&body.events))
            .await?;
        let location = format!("/api/v1/webhook-endpoints/{}", c.endpoint.id);
        created_secret((&c).into(), location)
    }

    /// The project's endpoints (members and reviewing staff).
    #[oai(
        path = "/projects/:id/webhook-endpoints",
        method = "get",
        operation_id = "list_webhook_endpoints"
    )]
    async fn list(
        &self,
        auth: Auth,
        id: Path<String>,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<WebhookEndpointPage>> {
        let project: ProjectId = path_id(&id, "project")?;
        let all = self
            .state
            .portal()
            .endpoints()
            .webhook_endpoints(auth.caller(), project)
            .await?;
        let (items, next_cursor) = page(all, |e| e.id.to_string(), cursor.0, limit.0);
        ok(WebhookEndpointPage {
            items: items.iter().map(Into::into).collect(),
            next_cursor,
        })
    }

    /// One endpoint.
    #[oai(
        path = "/webhook-endpoints/:id",
        method = "get",
        operation_id = "get_webhook_endpoint"
    )]
    async fn get(&self, auth: Auth, id: Path<String>) -> ApiResult<Tagged<WebhookEndpointDto>> {
        let id: WebhookEndpointId = path_id(&id, "webhook endpoint")?;
        let e = self
            .state
            .portal()
            .endpoints()
            .webhook_endpoint(auth.caller(), id)
            .await?;
        tagged((&e).into(), e.version)
    }

    /// Change the URL and/or the events: the endpoint goes back to `pending` and is sent a
    /// new challenge.
    #[oai(
        path = "/webhook-endpoints/:id",
        method = "patch",
        operation_id = "update_webhook_endpoint"
    )]
    async fn update(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<UpdateEndpointRequest>,
    ) -> ApiResult<Tagged<WebhookEndpointDto>> {
        let id: WebhookEndpointId = path_id(&id, "webhook endpoint")?;
        let e = self
            .state
            .portal()
            .endpoints()
            .update_webhook_endpoint(
                auth.caller(),
                id,
                body.url.as_deref(),
                body.events.as_deref().map(strings).as_deref(),
            )
            .await?;
        tagged((&e).into(), e.version)
    }

    /// Disable: the endpoint receives nothing until enabled again.
    #[oai(
        path = "/webhook-endpoints/:id/disable",
        method = "post",
        operation_id = "disable_webhook_endpoint"
    )]
    async fn disable(&self, auth: Auth, id: Path<String>) -> ApiResult<Tagged<WebhookEndpointDto>> {
        self.set_enabled(auth, id, false).await
    }

    /// Enable: the endpoint is `pending` again and is sent a new challenge.
    #[oai(
        path = "/webhook-endpoints/:id/enable",
        method = "post",
        operation_id = "enable_webhook_endpoint"
    )]
    async fn enable(&self, auth: Auth, id: Path<String>) -> ApiResult<Tagged<WebhookEndpointDto>> {
        self.set_enabled(auth, id, true).await
    }

    /// A new signing secret (shown once). The previous one keeps signing for the overlap
    /// (default 24 h, at most 168 h): deliveries carry both signatures meanwhile.
    #[oai(
        path = "/webhook-endpoints/:id/rotate-secret",
        method = "post",
        operation_id = "rotate_webhook_signing_secret"
    )]
    async fn rotate_secret(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<RotateEndpointSecretRequest>,
    ) -> ApiResult<TaggedSecret<EndpointWithSecretDto>> {
        let id: WebhookEndpointId = path_id(&id, "webhook endpoint")?;
        let overlap = match body.overlap_hours {
            Some(h) if h > 168 => {
                return Err(Problem::field("overlap_hours", "at most 168 (7 days)"));
            }
            Some(h) => Some(TimeDelta::hours(i64::from(h))),
            None => None,
        };
        let r = self
            .state
            .portal()
            .endpoints()
            .rotate_webhook_secret(auth.caller(), id, overlap)
            .await?;
        let version = r.endpoint.version;
        tagged_secret((&r).into(), version)
    }

    /// Send a new verification challenge; the endpoint is `verified` once it echoes it.
    #[oai(
        path = "/webhook-endpoints/:id/verify",
        method = "post",
        operation_id = "verify_webhook_endpoint"
    )]
    async fn verify(&self, auth: Auth, id: Path<String>) -> ApiResult<Accepted> {
        let id: WebhookEndpointId = path_id(&id, "webhook endpoint")?;
        let m = self
            .state
            .portal()
            .endpoints()
            .start_webhook_verification(auth.caller(), id)
            .await?;
        sent(m, id)
    }

    /// Send a signed `test` event. Its outcome (see the deliveries) is what the webhook
    /// verification gate reads.
    #[oai(
        path = "/webhook-endpoints/:id/test",
        method = "post",
        operation_id = "send_test_webhook"
    )]
    async fn test(&self, auth: Auth, id: Path<String>) -> ApiResult<Accepted> {
        let id: WebhookEndpointId = path_id(&id, "webhook endpoint")?;
        let m = self
            .state
            .portal()
            .endpoints()
            .send_webhook_test(auth.caller(), id)
            .await?;
        sent(m, id)
    }

    /// The endpoint's deliveries, newest first (keyset paging: `before` = a delivery id).
    #[oai(
        path = "/webhook-endpoints/:id/deliveries",
        method = "get",
        operation_id = "list_webhook_deliveries"
    )]
    async fn deliveries(
        &self,
        auth: Auth,
        id: Path<String>,
        /// The `next_cursor` of the previous page: a delivery id.
        #[oai(validator(pattern = r"^whdlv_[0-7][0-9A-HJKMNP-TV-Z]{25}$"))]
        before: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<DeliveryPage>> {
        let id: WebhookEndpointId = path_id(&id, "webhook endpoint")?;
        let before: Option<DeliveryId> = match before.0.as_deref() {
            Some(b) if !b.is_empty() => Some(body_id(b, "before")?),
            _ => None,
        };
        let limit = u64::from(limit.0.unwrap_or(50).clamp(1, 100));
        let items = self
            .webhooks()?
            .deliveries_of_endpoint(auth.caller(), id, before, limit)
            .await?;
        let next_cursor = (items.len() as u64 == limit)
            .then(|| items.last().map(|d| d.id.to_string()))
            .flatten();
        ok(DeliveryPage {
            items: items.iter().map(Into::into).collect(),
            next_cursor,
        })
    }

    /// Success rate, last success and failure, latency over the last 7 days.
    #[oai(
        path = "/webhook-endpoints/:id/health",
        method = "get",
        operation_id = "get_webhook_endpoint_health"
    )]
    async fn health(&self, auth: Auth, id: Path<String>) -> ApiResult<Ok200<EndpointHealthDto>> {
        let id: WebhookEndpointId = path_id(&id, "webhook endpoint")?;
        let h = self.webhooks()?.endpoint_health(auth.caller(), id).await?;
        ok((&h).into())
    }

    /// One delivery.
    #[oai(
        path = "/webhook-deliveries/:id",
        method = "get",
        operation_id = "get_webhook_delivery"
    )]
    async fn delivery(&self, auth: Auth, id: Path<String>) -> ApiResult<Ok200<DeliveryDto>> {
        let id: DeliveryId = path_id(&id, "delivery")?;
        let d = self.webhooks()?.delivery(auth.caller(), id).await?;
        ok((&d).into())
    }

    /// Retry a `failed` delivery now: one more attempt, the same `webhook-id`.
    #[oai(
        path = "/webhook-deliveries/:id/retry",
        method = "post",
        operation_id = "retry_webhook_delivery"
    )]
    async fn retry(&self, auth: Auth, id: Path<String>) -> ApiResult<Ok200<DeliveryDto>> {
        let id: DeliveryId = path_id(&id, "delivery")?;
        let d = self.webhooks()?.retry_delivery(auth.caller(), id).await?;
        ok((&d).into())
    }
}

impl WebhooksApi {
    async fn set_enabled(
        &self,
        auth: Auth,
        id: Path<String>,
        enabled: bool,
    ) -> ApiResult<Tagged<WebhookEndpointDto>> {
        let id: WebhookEndpointId = path_id(&id, "webhook endpoint")?;
        let e = self
            .state
            .portal()
            .endpoints()
            .set_webhook_endpoint_enabled(auth.caller(), id, enabled)
            .await?;
        tagged((&e).into(), e.version)
    }
}
