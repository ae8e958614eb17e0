//! What every handler shares: the core's use cases and the HTTP adapter's own stores.

use std::sync::{Arc, OnceLock};

use chrono::TimeDelta;
use onboarding_core::credential::SecretHash;
use onboarding_core::ports::{AuthTokenStore, DeliveryStore, IdempotencyStore};
use onboarding_core::{Portal, Webhooks};

use crate::throttle::Throttle;

/// Settings of the HTTP adapter.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Adds `Secure` to session cookies (set when the portal is served over TLS).
    pub secure_cookies: bool,
    /// How long a browser session lasts.
    pub session_ttl: TimeDelta,
    /// The SHA-256 of the provider service token that gateways present to `/api/v1/verify`.
    pub gateway_token_hash: Option<SecretHash>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Where forward auth reads the API key from.
    pub forward_auth_key: crate::forward_auth::KeyHeader,
    /// This server run's id: it holds the idempotency claims this process makes, and the next
    /// run on the same data directory releases those it left unanswered.
    pub server_run: String,
    /// How long an unanswered idempotency claim holds its key (docs/decisions/0016).
    pub idempotency_lease: TimeDelta,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_ttl: TimeDelta::hours(12),
            gateway_token_hash: None,
            body_limit: 1024 * 1024,
            forward_auth_key: Default::default(),
            server_run: ulid::Ulid::generate().to_string(),
            idempotency_lease: crate::idempotency::default_lease(),
        }
    }
}

struct Inner {
    portal: Portal,
    tokens: Arc<dyn AuthTokenStore>,
    idempotency: Arc<dyn IdempotencyStore>,
    throttle: Throttle,
    config: ApiConfig,
    /// The delivery side of webhooks (history, health, retry), set by [`AppState::with_webhooks`].
    webhooks: OnceLock<Webhooks>,
}

/// Cheap to clone; every API struct holds one.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn new(
        portal: Portal,
        tokens: Arc<dyn AuthTokenStore>,
        idempotency: Arc<dyn IdempotencyStore>,
        config: ApiConfig,
    ) -> Self {
        let throttle = Throttle::new(portal.ports().clock.clone());
        Self(Arc::new(Inner {
            portal,
            tokens,
            idempotency,
            throttle,
            config,
            webhooks: OnceLock::new(),
        }))
    }

    /// Wires the webhook delivery use cases (`Webhooks`) over the delivery store.
    pub fn with_webhooks(self, deliveries: Arc<dyn DeliveryStore>) -> Self {
        let _ = self
            .0
            .webhooks
            .set(Webhooks::new(self.0.portal.clone(), deliveries));
        self
    }

    /// The webhook delivery use cases, when wired.
    pub fn webhooks(&self) -> Option<&Webhooks> {
        self.0.webhooks.get()
    }

    pub fn portal(&self) -> &Portal {
        &self.0.portal
    }
    pub fn tokens(&self) -> &dyn AuthTokenStore {
        self.0.tokens.as_ref()
    }
    pub fn idempotency(&self) -> &dyn IdempotencyStore {
        self.0.idempotency.as_ref()
    }
    pub fn throttle(&self) -> &Throttle {
        &self.0.throttle
    }
    pub fn config(&self) -> &ApiConfig {
        &self.0.config
    }
}
