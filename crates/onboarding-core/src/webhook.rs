//! Webhook endpoints (spec §8): the model and its verification state. Delivery (signing, the
//! HTTP client, retries) lives in the webhooks adapter; the gate reads only the facts here.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{DeliveryId, MessageId, ProjectId, WebhookEndpointId, WorkspaceId};
use crate::project::Environment;
use crate::values::FieldError;

/// Verification state of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EndpointStatus {
    /// New or changed: the portal has not yet seen the challenge echoed.
    Pending,
    /// The endpoint echoed the portal's challenge; it receives events.
    Verified {
        /// When the challenge was echoed.
        at: DateTime<Utc>,
    },
    /// No longer receives events: disabled by a member, or after failing for 5 days.
    Disabled {
        /// When it was disabled.
        at: DateTime<Utc>,
        /// Why, for the project page ("failing since 2026-11-17").
        reason: String,
    },
}

/// A `whsec_` signing secret, sealed by the [`SecretVault`](crate::ports::SecretVault) port:
/// deliveries must be signed with it, so it is stored encrypted, never in clear and never hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecret {
    /// The `whsec_` secret, encrypted by the vault; opened only to sign a delivery.
    pub sealed: String,
    /// When the secret was generated.
    pub created_at: DateTime<Utc>,
    /// Set on the previous secret when the endpoint's secret is rotated: deliveries carry both
    /// signatures until then.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A project's webhook endpoint: a URL, the events it wants, its verification state and signing
/// secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    /// The endpoint's ULID.
    pub id: WebhookEndpointId,
    /// The workspace that owns the project.
    pub workspace_id: WorkspaceId,
    /// The project the endpoint belongs to (a clone to production copies it unverified).
    pub project_id: ProjectId,
    /// Where deliveries are POSTed; HTTPS in production, private addresses only if the operator
    /// allows them.
    pub url: String,
    /// The event types it receives (`subscription.approved`, `test`, ...).
    pub events: Vec<String>,
    /// Pending verification, verified or disabled.
    pub status: EndpointStatus,
    /// Newest first; at most two (the current one and, during rotation, the previous one).
    pub signing_secrets: Vec<SigningSecret>,
    /// Since when every delivery has failed (an endpoint failing for 5 days is disabled).
    pub failing_since: Option<DateTime<Utc>>,
    /// When the endpoint was registered.
    pub created_at: DateTime<Utc>,
    /// Optimistic concurrency: an update is stored only if nobody changed the row since.
    pub version: i64,
}

impl WebhookEndpoint {
    /// Whether the endpoint is verified: it echoed its challenge and has not been disabled since.
    pub fn is_verified(&self) -> bool {
        matches!(self.status, EndpointStatus::Verified { .. })
    }

    /// A cloned endpoint keeps its target and events and must verify again.
    pub fn clone_for(
        &self,
        id: WebhookEndpointId,
        project_id: ProjectId,
        secret: SigningSecret,
        now: DateTime<Utc>,
    ) -> WebhookEndpoint {
        WebhookEndpoint {
            id,
            workspace_id: self.workspace_id,
            project_id,
            url: self.url.clone(),
            events: self.events.clone(),
            status: EndpointStatus::Pending,
            signing_secrets: vec![secret],
            failing_since: None,
            created_at: now,
            version: 0,
        }
    }
}

/// Validates an endpoint URL's form: absolute http(s), no credentials in it, HTTPS in production.
/// (Which addresses it may reach is the SSRF guard's job, at connect time.)
pub fn validate_endpoint_url(raw: &str, env: Environment) -> Result<url::Url, FieldError> {
    let bad = |r: &str| FieldError::new("url", r);
    if raw.len() > 2048 {
        return Err(bad("a URL is at most 2048 characters"));
    }
    let u = url::Url::parse(raw.trim()).map_err(|_| bad("expected an absolute URL"))?;
    match u.scheme() {
        "https" => {}
        "http" if env == Environment::Sandbox => {}
        "http" => return Err(bad("production endpoints must use HTTPS")),
        _ => return Err(bad("expected an http or https URL")),
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("the URL needs a host"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad(
            "credentials do not belong in the URL; the portal signs every delivery",
        ));
    }
    if u.fragment().is_some() {
        return Err(bad("a fragment is never sent; remove it"));
    }
    Ok(u)
}

/// Refuses an endpoint URL whose host is a literal address the operator's policy keeps
/// deliveries from, naming `url`; host names pass here and are checked once resolved, at
/// delivery.
pub fn check_destination(
    url: &url::Url,
    policy: &dyn crate::ports::DestinationPolicy,
) -> Result<(), FieldError> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => std::net::IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => std::net::IpAddr::V6(ip),
        _ => return Ok(()),
    };
    policy
        .check_ip(ip)
        .map_err(|why| FieldError::new("url", why))
}

// ---------------------------------------------------------------------------------------------
// Event catalog, fan-out and delivery state (issue 5). Everything below is pure: the delivery
// store persists it, the webhooks adapter sends it, the services decide with it.

/// Every event type the portal emits, with its wire name. Endpoints subscribe to these (or to a
/// `family.*` wildcard, or to everything with an empty list); the two targeted events are never
/// subscribed to, they go to the one endpoint they concern.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantNames,
    strum::VariantArray,
)]
#[non_exhaustive]
pub enum EventType {
    /// A project subscribed to a plan.
    #[strum(serialize = "subscription.created")]
    SubscriptionCreated,
    /// A reviewer granted sandbox access on an `approval_required` plan.
    #[strum(serialize = "subscription.sandbox_access_granted")]
    SandboxAccessGranted,
    /// A reviewer declined sandbox access.
    #[strum(serialize = "subscription.sandbox_access_declined")]
    SandboxAccessDeclined,
    /// Submitted for review.
    #[strum(serialize = "subscription.submitted")]
    SubscriptionSubmitted,
    /// The submitter withdrew the submission.
    #[strum(serialize = "subscription.withdrawn")]
    SubscriptionWithdrawn,
    /// A reviewer requested changes.
    #[strum(serialize = "subscription.changes_requested")]
    ChangesRequested,
    /// An admin reopened a rejected subscription.
    #[strum(serialize = "subscription.reopened")]
    SubscriptionReopened,
    /// Approved: production.
    #[strum(serialize = "subscription.approved")]
    SubscriptionApproved,
    /// Rejected.
    #[strum(serialize = "subscription.rejected")]
    SubscriptionRejected,
    /// A credential was created.
    #[strum(serialize = "credential.created")]
    CredentialCreated,
    /// A credential's secret was rotated with a grace period.
    #[strum(serialize = "credential.rotated")]
    CredentialRotated,
    /// A credential's secret was regenerated (the old one stopped at once).
    #[strum(serialize = "credential.regenerated")]
    CredentialRegenerated,
    /// A credential was revoked.
    #[strum(serialize = "credential.revoked")]
    CredentialRevoked,
    /// A usage alert threshold was crossed.
    #[strum(serialize = "alert.triggered")]
    AlertTriggered,
    /// A payment was recorded against an invoice (by an admin, or reported by the processor).
    #[strum(serialize = "payment.confirmed")]
    PaymentConfirmed,
    /// An invoice was issued (up front at approval, or for a later period).
    #[strum(serialize = "invoice.issued")]
    InvoiceIssued,
    /// An invoice is paid in full.
    #[strum(serialize = "invoice.paid")]
    InvoicePaid,
    /// Money was refunded on an invoice's payment.
    #[strum(serialize = "payment.refunded")]
    PaymentRefunded,
    /// An invoice was voided: nothing is owed on it.
    #[strum(serialize = "invoice.voided")]
    InvoiceVoided,
    /// An invoice was written off as uncollectible (still owed).
    #[strum(serialize = "invoice.marked_uncollectible")]
    InvoiceMarkedUncollectible,
    /// A sandbox project was cloned to production.
    #[strum(serialize = "project.cloned")]
    ProjectCloned,
    /// Raised when the portal disables an endpoint (410 Gone, or failing for too long).
    #[strum(serialize = "endpoint.disabled")]
    EndpointDisabled,
    /// Sent to one endpoint to prove it is reachable and answered by its owner: carries a
    /// challenge the endpoint must echo.
    #[strum(serialize = "endpoint.verification")]
    EndpointVerification,
    /// "Send test event": a signed delivery to one endpoint; the webhook gate reads its outcome.
    #[strum(serialize = "test")]
    Test,
}

impl EventType {
    /// The wire name (`credential.created`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether this event goes only to the endpoint it names (verification, test).
    pub fn is_targeted(self) -> bool {
        matches!(self, EventType::EndpointVerification | EventType::Test)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wire names of every event type, in declaration order.
pub const EVENT_TYPES: &[&str] = <EventType as strum::VariantNames>::VARIANTS;
/// Wire name of [`EventType::EndpointVerification`].
pub const EVENT_VERIFICATION: &str = "endpoint.verification";
/// Wire name of [`EventType::Test`].
pub const EVENT_TEST: &str = "test";
/// Wire name of [`EventType::EndpointDisabled`].
pub const EVENT_ENDPOINT_DISABLED: &str = "endpoint.disabled";

/// Events delivered only to the endpoint named by `OutboxMessage::target_endpoint`.
pub fn is_targeted_event(event_type: &str) -> bool {
    event_type
        .parse::<EventType>()
        .is_ok_and(EventType::is_targeted)
}

/// Interactive events are attempted once: the person who pressed the button wants the answer
/// now, and can press it again; five days of retries would only blur what the gate reads.
pub fn is_interactive_event(event_type: &str) -> bool {
    is_targeted_event(event_type)
}

/// Validates the event list of an endpoint: known types or `family.*` wildcards, no duplicates.
/// An empty list means "every event".
pub fn validate_event_filter(events: &[String]) -> Result<Vec<String>, FieldError> {
    let bad = |r: String| FieldError::new("events", r);
    if events.len() > EVENT_TYPES.len() {
        return Err(bad("too many entries".into()));
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let e = e.trim();
        let known = match e.strip_suffix(".*") {
            Some(family) => EVENT_TYPES
                .iter()
                .any(|t| t.split_once('.').is_some_and(|(f, _)| f == family)),
            None => EVENT_TYPES.contains(&e) && !is_targeted_event(e),
        };
        if !known {
            return Err(bad(format!("`{e}` is not an event type the portal sends")));
        }
        if !out.iter().any(|o| o == e) {
            out.push(e.to_owned());
        }
    }
    Ok(out)
}

impl WebhookEndpoint {
    /// Disabled endpoints receive nothing; pending and verified ones receive their events.
    pub fn is_enabled(&self) -> bool {
        !matches!(self.status, EndpointStatus::Disabled { .. })
    }

    /// Whether this endpoint subscribes to the event type (empty list: every event).
    pub fn wants(&self, event_type: &str) -> bool {
        if is_targeted_event(event_type) {
            return false;
        }
        self.events.is_empty()
            || self.events.iter().any(|e| match e.strip_suffix(".*") {
                Some(family) => event_type
                    .strip_prefix(family)
                    .is_some_and(|rest| rest.starts_with('.')),
                None => e == event_type,
            })
    }

    /// The sealed secrets a delivery at `now` is signed with: the current one and, during a
    /// rotation's overlap, the previous one.
    pub fn active_secrets(&self, now: DateTime<Utc>) -> impl Iterator<Item = &SigningSecret> {
        self.signing_secrets
            .iter()
            .filter(move |s| s.expires_at.is_none_or(|e| e > now))
    }
}

/// Overlap of a rotated signing secret when none is asked for.
pub const DEFAULT_SECRET_OVERLAP: TimeDelta = TimeDelta::hours(24);
/// The longest overlap a rotation may ask for.
pub const MAX_SECRET_OVERLAP: TimeDelta = TimeDelta::days(7);
/// An endpoint whose every delivery failed for this long is disabled.
pub const DISABLE_AFTER_FAILING: TimeDelta = TimeDelta::days(5);
/// The window endpoint health is computed over.
pub const HEALTH_WINDOW: TimeDelta = TimeDelta::days(7);

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or being attempted under a lease).
    Pending,
    /// The endpoint answered with a 2xx status.
    Succeeded,
    /// No attempt left (or the endpoint is gone); a member may retry it by hand.
    Failed,
}

impl DeliveryStatus {
    /// The snake_case name (`pending`, `succeeded`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// One outbox message on its way to one endpoint. The body is rendered once, at fan-out, so
/// every attempt sends the same bytes under the same `webhook-id` (the message id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The delivery's ULID.
    pub id: DeliveryId,
    /// The `webhook-id` header: the same for every attempt and every endpoint of one message.
    pub message_id: MessageId,
    /// The endpoint delivered to.
    pub endpoint_id: WebhookEndpointId,
    /// The workspace the event belongs to.
    pub workspace_id: WorkspaceId,
    /// The endpoint's project.
    pub project_id: ProjectId,
    /// The event type (`credential.rotated`, `test`, ...), sent in the envelope's `type`.
    pub event_type: String,
    /// The JSON envelope `{type, timestamp, data}`, exactly as sent.
    pub body: String,
    /// Pending, succeeded or failed.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due; `None` once the delivery is settled.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The worker holding the delivery and until when: a worker that dies loses it at expiry.
    pub lease_owner: Option<String>,
    /// The end of the current lease; another worker may claim the delivery after it.
    pub lease_until: Option<DateTime<Utc>>,
    /// When the latest attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the latest attempt, if a response came.
    pub last_response_status: Option<u16>,
    /// Why the latest attempt failed, if it did.
    pub last_error: Option<String>,
    /// When the delivery was created (the message fanned out).
    pub created_at: DateTime<Utc>,
}

impl Delivery {
    /// Due for an attempt at `now`: pending, its time has come, and no live lease on it.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.status == DeliveryStatus::Pending
            && self.next_attempt_at.is_some_and(|t| t <= now)
            && self.lease_until.is_none_or(|l| l <= now)
    }

    /// The `data` of the envelope (the event payload).
    pub fn data(&self) -> Value {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v.get("data").cloned())
            .unwrap_or(Value::Null)
    }
}

/// The Standard Webhooks envelope: `{"type", "timestamp", "data"}`, rendered once per message.
pub fn envelope(event_type: &str, created_at: DateTime<Utc>, data: &Value) -> String {
    serde_json::json!({
        "type": event_type,
        "timestamp": created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

/// One delivery for each endpoint the message goes to: its target, or every enabled endpoint
/// of the project subscribed to its type. `ids` supplies the delivery ids.
pub fn fan_out(
    message: &crate::ports::OutboxMessage,
    endpoints: &[WebhookEndpoint],
    mut ids: impl FnMut() -> DeliveryId,
    now: DateTime<Utc>,
) -> Vec<Delivery> {
    let body = envelope(&message.event_type, message.created_at, &message.payload);
    endpoints
        .iter()
        .filter(|e| e.is_enabled() && e.workspace_id == message.workspace_id)
        .filter(|e| match message.target_endpoint {
            Some(t) => e.id == t,
            None => Some(e.project_id) == message.project_id && e.wants(&message.event_type),
        })
        .map(|e| Delivery {
            id: ids(),
            message_id: message.id,
            endpoint_id: e.id,
            workspace_id: e.workspace_id,
            project_id: e.project_id,
            event_type: message.event_type.clone(),
            body: body.clone(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(now),
            lease_owner: None,
            lease_until: None,
            last_attempt_at: None,
            last_response_status: None,
            last_error: None,
            created_at: now,
        })
        .collect()
}

/// Whether a verification response echoes the challenge: a JSON body `{"challenge": "..."}`
/// or the raw challenge (surrounding whitespace ignored).
pub fn challenge_echoed(response_body: &str, challenge: &str) -> bool {
    if challenge.is_empty() {
        return false;
    }
    let body = response_body.trim();
    if body == challenge {
        return true;
    }
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("challenge")
                .and_then(Value::as_str)
                .map(|c| c == challenge)
        })
        .unwrap_or(false)
}

/// One HTTP attempt of a delivery, kept for the endpoint's history and health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// The delivery attempted.
    pub delivery_id: DeliveryId,
    /// The endpoint attempted (denormalized for endpoint health).
    pub endpoint_id: WebhookEndpointId,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When the attempt was made.
    pub at: DateTime<Utc>,
    /// `None` when no response came (refused address, timeout, connection error).
    pub response_status: Option<u16>,
    /// Why it failed, for people: a transport error, "challenge not echoed", ...
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds, until a response or failure.
    pub latency_ms: u64,
    /// Whether the endpoint answered 2xx (and, for a verification, echoed the challenge).
    pub succeeded: bool,
}

/// What a worker hands the delivery store after an attempt: the attempt, and the delivery's
/// next state. Applied only while `lease_owner` still holds the delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    /// The attempt made.
    pub attempt: DeliveryAttempt,
    /// The worker that made it; the record is refused if its lease was lost.
    pub lease_owner: String,
    /// The delivery's state after the attempt.
    pub status: DeliveryStatus,
    /// When to try again (backoff with jitter); `None` once succeeded or failed.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Health of one endpoint over [`HEALTH_WINDOW`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EndpointHealth {
    /// Attempts in the window.
    pub attempts: u64,
    /// Successful attempts in the window.
    pub successes: u64,
    /// Successes over attempts, 0..=1; `None` before any attempt.
    pub success_rate: Option<f64>,
    /// When the latest successful attempt was made.
    pub last_success_at: Option<DateTime<Utc>>,
    /// When the latest failed attempt was made.
    pub last_failure_at: Option<DateTime<Utc>>,
    /// Why the latest failed attempt failed.
    pub last_failure_reason: Option<String>,
    /// Mean latency of the attempts, in milliseconds.
    pub avg_latency_ms: Option<u64>,
    /// 95th percentile latency of the attempts, in milliseconds.
    pub p95_latency_ms: Option<u64>,
    /// Since when every attempt has failed, if it has.
    pub failing_since: Option<DateTime<Utc>>,
}

impl EndpointHealth {
    /// Health computed from an endpoint's attempts in the window ([`HEALTH_WINDOW`]).
    pub fn from_attempts(
        attempts: &[DeliveryAttempt],
        failing_since: Option<DateTime<Utc>>,
    ) -> Self {
        let n = attempts.len() as u64;
        let successes = attempts.iter().filter(|a| a.succeeded).count() as u64;
        let last_ok = attempts.iter().filter(|a| a.succeeded).max_by_key(|a| a.at);
        let last_ko = attempts
            .iter()
            .filter(|a| !a.succeeded)
            .max_by_key(|a| a.at);
        let mut lat: Vec<u64> = attempts.iter().map(|a| a.latency_ms).collect();
        lat.sort_unstable();
        let p95 =
            (!lat.is_empty()).then(|| lat[((lat.len() * 95).div_ceil(100)).saturating_sub(1)]);
        EndpointHealth {
            attempts: n,
            successes,
            success_rate: (n > 0).then(|| successes as f64 / n as f64),
            last_success_at: last_ok.map(|a| a.at),
            last_failure_at: last_ko.map(|a| a.at),
            last_failure_reason: last_ko.map(|a| {
                a.error.clone().unwrap_or_else(|| match a.response_status {
                    Some(s) => format!("HTTP {s}"),
                    None => "no response".into(),
                })
            }),
            avg_latency_ms: (n > 0).then(|| lat.iter().sum::<u64>() / n),
            p95_latency_ms: p95,
            failing_since,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_name_constants_are_the_enums_names() {
        assert_eq!(EVENT_VERIFICATION, EventType::EndpointVerification.as_str());
        assert_eq!(EVENT_TEST, EventType::Test.as_str());
        assert_eq!(
            EVENT_ENDPOINT_DISABLED,
            EventType::EndpointDisabled.as_str()
        );
        for name in EVENT_TYPES {
            assert_eq!(name.parse::<EventType>().unwrap().as_str(), *name);
        }
        assert_eq!(
            EVENT_TYPES.len(),
            <EventType as strum::VariantArray>::VARIANTS.len()
        );
    }

    #[test]
    fn endpoint_urls() {
        assert!(
            validate_endpoint_url("https://hooks.example.com/x", Environment::Production).is_ok()
        );
        assert!(validate_endpoint_url("http://hooks.example.com/x", Environment::Sandbox).is_ok());
        assert!(
            validate_endpoint_url("https://[2606:4700::1111]/x", Environment::Production).is_ok()
        );
        for bad in [
            "http://hooks.example.com/x",
            "ftp://x.example",
            "not a url",
            "https://u:p@x.example/",
            "https://x.example/#f",
        ] {
            assert_eq!(
                validate_endpoint_url(bad, Environment::Production)
                    .unwrap_err()
                    .field,
                "url",
                "{bad}"
            );
        }
    }

    #[test]
    fn literal_addresses_are_put_to_the_policy_and_names_are_not() {
        let mut policy = crate::ports::MockDestinationPolicy::new();
        policy
            .expect_check_ip()
            .returning(|ip| match ip.is_loopback() {
                true => Err(format!("{ip} is a loopback address")),
                false => Ok(()),
            });
        let url = |s| validate_endpoint_url(s, Environment::Production).unwrap();
        for ok in [
            "https://hooks.example.com/x",
            "https://localhost/x",
            "https://[2606:4700::1111]:8443/x",
            "https://93.184.216.34/x",
        ] {
            assert_eq!(check_destination(&url(ok), &policy), Ok(()), "{ok}");
        }
        for bad in ["https://127.0.0.1/x", "https://[::1]/x"] {
            let e = check_destination(&url(bad), &policy).unwrap_err();
            assert_eq!(e.field, "url", "{bad}");
            assert!(e.reason.contains("loopback"), "{bad}: {}", e.reason);
        }
    }

    fn ep(events: &[&str]) -> WebhookEndpoint {
        WebhookEndpoint {
            id: WebhookEndpointId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            workspace_id: WorkspaceId::from_ulid(ulid::Ulid::from_parts(1, 2)),
            project_id: ProjectId::from_ulid(ulid::Ulid::from_parts(1, 3)),
            url: "https://x.example/h".into(),
            events: events.iter().map(|s| s.to_string()).collect(),
            status: EndpointStatus::Pending,
            signing_secrets: vec![],
            failing_since: None,
            created_at: DateTime::UNIX_EPOCH,
            version: 0,
        }
    }

    #[test]
    fn event_filters_match_exact_wildcard_and_everything() {
        assert!(ep(&[]).wants("credential.created"));
        assert!(
            !ep(&[]).wants(EVENT_TEST),
            "targeted events are never subscribed to"
        );
        assert!(ep(&["subscription.*"]).wants("subscription.approved"));
        assert!(!ep(&["subscription.*"]).wants("subscriptionx.approved"));
        assert!(!ep(&["credential.created"]).wants("credential.revoked"));
        assert!(
            validate_event_filter(&["subscription.*".into(), "alert.triggered".into()]).is_ok()
        );
        assert!(validate_event_filter(&["nope.*".into()]).is_err());
        assert!(validate_event_filter(&["test".into()]).is_err());
    }

    #[test]
    fn fan_out_targets_or_subscribers_only() {
        use crate::ports::OutboxMessage;
        let a = ep(&["credential.*"]);
        let mut b = ep(&["alert.triggered"]);
        b.id = WebhookEndpointId::from_ulid(ulid::Ulid::from_parts(2, 1));
        let mut off = ep(&[]);
        off.id = WebhookEndpointId::from_ulid(ulid::Ulid::from_parts(3, 1));
        off.status = EndpointStatus::Disabled {
            at: DateTime::UNIX_EPOCH,
            reason: "x".into(),
        };
        let eps = [a.clone(), b.clone(), off];
        let msg = OutboxMessage {
            id: MessageId::from_ulid(ulid::Ulid::from_parts(9, 9)),
            workspace_id: a.workspace_id,
            project_id: Some(a.project_id),
            event_type: "credential.created".into(),
            payload: serde_json::json!({"credential_id": "cred_x"}),
            target_endpoint: None,
            created_at: DateTime::UNIX_EPOCH,
        };
        let mut n = 0u64;
        let mut ids = || {
            n += 1;
            DeliveryId::from_ulid(ulid::Ulid::from_parts(n, 0))
        };
        let d = fan_out(&msg, &eps, &mut ids, DateTime::UNIX_EPOCH);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].endpoint_id, a.id);
        assert_eq!(d[0].data()["credential_id"], "cred_x");
        let targeted = OutboxMessage {
            event_type: EVENT_TEST.into(),
            target_endpoint: Some(b.id),
            ..msg
        };
        let d = fan_out(&targeted, &eps, &mut ids, DateTime::UNIX_EPOCH);
        assert_eq!(
            d.iter().map(|d| d.endpoint_id).collect::<Vec<_>>(),
            vec![b.id]
        );
    }

    #[test]
    fn challenges_echo_as_json_or_raw() {
        assert!(challenge_echoed(r#"{"challenge":"abc"}"#, "abc"));
        assert!(challenge_echoed(" abc\n", "abc"));
        assert!(!challenge_echoed(r#"{"challenge":"abd"}"#, "abc"));
        assert!(!challenge_echoed("", ""));
        assert!(!challenge_echoed("ok", "abc"));
    }

    #[test]
    fn health_from_attempts() {
        let at = |s: i64, ok: bool, ms: u64| DeliveryAttempt {
            delivery_id: DeliveryId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            endpoint_id: WebhookEndpointId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            attempt: 1,
            at: DateTime::UNIX_EPOCH + TimeDelta::seconds(s),
            response_status: Some(if ok { 200 } else { 500 }),
            error: None,
            latency_ms: ms,
            succeeded: ok,
        };
        let h = EndpointHealth::from_attempts(
            &[at(1, true, 10), at(2, false, 30), at(3, true, 20)],
            None,
        );
        assert_eq!((h.attempts, h.successes), (3, 2));
        assert_eq!(h.last_success_at.unwrap().timestamp(), 3);
        assert_eq!(h.last_failure_reason.as_deref(), Some("HTTP 500"));
        assert_eq!(h.avg_latency_ms, Some(20));
        assert_eq!(h.p95_latency_ms, Some(30));
        assert_eq!(EndpointHealth::from_attempts(&[], None).success_rate, None);
    }
}
