//! The payment processor chosen by configuration (docs/decisions/0042): manual (the default)
//! or Stripe, and the endpoint Stripe posts its events to.
//!
//! `PORTAL_PAYMENTS=manual|stripe`; manual reads `PORTAL_PAYMENT_INSTRUCTIONS`; Stripe reads
//! `PORTAL_STRIPE_API_KEY`, `PORTAL_STRIPE_WEBHOOK_SECRETS` (comma-separated: the current
//! secret, and the previous one during a rotation) and `PORTAL_STRIPE_API_BASE`
//! (`https://api.stripe.com`; a local server in tests).

use std::sync::Arc;

use onboarding_core::Portal;
use onboarding_core::ports::{Clock, ManualPayments, PaymentGateway};
use payments_stripe::{Handled, Secret, StripeCheckout, StripeConfig, WebhookError};
use poem::http::StatusCode;
use poem::{Body, Endpoint, Request, Response, handler, web::Data};

/// Where Stripe posts its events (configure this URL in Stripe's dashboard).
pub const STRIPE_EVENTS_PATH: &str = "/api/stripe/events";

/// The payment processor's configuration.
#[derive(Debug, Clone, Default)]
pub enum PaymentsConfig {
    /// The partner follows the instructions; an admin records the payment.
    #[default]
    Manual,
    /// Stripe Checkout.
    Stripe {
        api_base: String,
        api_key: Secret,
        webhook_secrets: Vec<Secret>,
    },
}

/// The payments part of the configuration, from the environment.
#[derive(Debug, Clone, Default)]
pub struct Payments {
    pub processor: PaymentsConfig,
    /// Shown to partners with the amount and the reference (manual payments).
    pub instructions: Option<String>,
}

impl Payments {
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let non_empty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let instructions = non_empty("PORTAL_PAYMENT_INSTRUCTIONS");
        let processor = match non_empty("PORTAL_PAYMENTS").as_deref() {
            None | Some("manual") => PaymentsConfig::Manual,
            Some("stripe") => {
                let api_key = non_empty("PORTAL_STRIPE_API_KEY")
                    .ok_or("PORTAL_PAYMENTS=stripe needs PORTAL_STRIPE_API_KEY")?;
                let webhook_secrets: Vec<Secret> = non_empty("PORTAL_STRIPE_WEBHOOK_SECRETS")
                    .ok_or("PORTAL_PAYMENTS=stripe needs PORTAL_STRIPE_WEBHOOK_SECRETS")?
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(Secret::new)
                    .collect();
                PaymentsConfig::Stripe {
                    api_base: non_empty("PORTAL_STRIPE_API_BASE")
                        .unwrap_or_else(|| "https://api.stripe.com".into()),
                    api_key: Secret::new(api_key),
                    webhook_secrets,
                }
            }
            Some(other) => return Err(format!("PORTAL_PAYMENTS: `{other}` is not manual|stripe")),
        };
        Ok(Self {
            processor,
            instructions,
        })
    }
}

/// The configured processor, and the Stripe adapter again when it is Stripe (its events
/// endpoint is mounted then).
pub type Gateway = (Arc<dyn PaymentGateway>, Option<Arc<StripeCheckout>>);

/// The processor's adapter, and the Stripe one again for the events endpoint.
pub fn gateway(config: &Payments, public_url: &str) -> Result<Gateway, String> {
    match &config.processor {
        PaymentsConfig::Manual => {
            let mut manual = ManualPayments::default();
            if let Some(text) = &config.instructions {
                manual.instructions = text.clone();
            }
            Ok((Arc::new(manual), None))
        }
        PaymentsConfig::Stripe {
            api_base,
            api_key,
            webhook_secrets,
        } => {
            let stripe = Arc::new(StripeCheckout::new(StripeConfig {
                api_base: api_base.clone(),
                api_key: payments_stripe::Secret::new(api_key.expose()),
                webhook_secrets: webhook_secrets
                    .iter()
                    .map(|s| payments_stripe::Secret::new(s.expose()))
                    .collect(),
                tolerance_seconds: payments_stripe::signature::DEFAULT_TOLERANCE_SECONDS,
                return_base: public_url.to_owned(),
            })?);
            Ok((stripe.clone(), Some(stripe)))
        }
    }
}

/// Receives one Stripe event: 200 once applied (or already applied, or of no interest), 400
/// when the signature or the body is refused, 500 when it could not be applied (Stripe
/// retries).
#[handler]
async fn stripe_events(
    req: &Request,
    body: Body,
    Data(state): Data<&(Portal, Arc<StripeCheckout>, Arc<dyn Clock>)>,
) -> Response {
    let (portal, stripe, clock) = state;
    let signature = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let body = match body.into_bytes().await {
        Ok(b) => b,
        Err(_) => return Response::builder().status(StatusCode::BAD_REQUEST).finish(),
    };
    let r = payments_stripe::receive(
        portal.billing(),
        stripe.config(),
        signature,
        &body,
        clock.now(),
    )
    .await;
    let (status, text) = match r {
        Ok(Handled::Applied) => (StatusCode::OK, "applied"),
        Ok(Handled::Duplicate) => (StatusCode::OK, "already applied"),
        Ok(Handled::Ignored) => (StatusCode::OK, "ignored"),
        Err(WebhookError::Signature(e)) => {
            tracing::warn!(error = %e, "stripe event refused");
            (StatusCode::BAD_REQUEST, "signature refused")
        }
        Err(WebhookError::Malformed(e)) => {
            tracing::warn!(error = %e, "stripe event unreadable");
            (StatusCode::BAD_REQUEST, "unreadable event")
        }
        Err(WebhookError::Service(e)) => {
            tracing::error!(error = %e, "stripe event not applied");
            (StatusCode::INTERNAL_SERVER_ERROR, "not applied")
        }
    };
    Response::builder()
        .status(status)
        .content_type("text/plain")
        .body(text)
}

/// The events endpoint, over the portal it applies events to.
pub fn events_endpoint(
    portal: Portal,
    stripe: Arc<StripeCheckout>,
    clock: Arc<dyn Clock>,
) -> impl Endpoint {
    use poem::EndpointExt;
    poem::post(stripe_events).data((portal, stripe, clock))
}
