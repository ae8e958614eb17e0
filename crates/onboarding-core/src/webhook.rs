//! Webhook endpoints (spec §8): the model and its verification state. Delivery (signing, the
//! HTTP client, retries) lives in the webhooks adapter; the gate reads only the facts here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ProjectId, WebhookEndpointId, WorkspaceId};
use crate::project::Environment;
use crate::values::FieldError;

/// Verification state of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EndpointStatus {
    /// New or changed: the portal has not yet seen the challenge echoed.
    Pending,
    Verified {
        at: DateTime<Utc>,
    },
    Disabled {
        at: DateTime<Utc>,
        reason: String,
    },
}

/// A `whsec_` signing secret, sealed by the [`SecretVault`](crate::ports::SecretVault) port:
/// deliveries must be signed with it, so it is stored encrypted, never in clear and never hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecret {
    pub sealed: String,
    pub created_at: DateTime<Utc>,
    /// Set on the previous secret when the endpoint's secret is rotated: deliveries carry both
    /// signatures until then.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub workspace_id: WorkspaceId,
    pub project_id: ProjectId,
    pub url: String,
    pub events: Vec<String>,
    pub status: EndpointStatus,
    /// Newest first; at most two (the current one and, during rotation, the previous one).
    pub signing_secrets: Vec<SigningSecret>,
    /// Since when every delivery has failed (an endpoint failing for 5 days is disabled).
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

impl WebhookEndpoint {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls() {
        assert!(
            validate_endpoint_url("https://hooks.example.com/x", Environment::Production).is_ok()
        );
        assert!(validate_endpoint_url("http://hooks.example.com/x", Environment::Sandbox).is_ok());
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
}
